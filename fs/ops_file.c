/*
 * ops_file.c - FUSE handlers for regular files: create, open, read, write,
 * flush, release, fsync. The write model itself is in file.c.
 *
 * The kernel's page cache and its i_size are one per inode, shared by
 * every open file of the mount, while itemfs gives each open file its own
 * version of the item. So the page cache serves a file only when that
 * cannot mix versions (docs/consistency.md, "The kernel's caches"):
 *  - a reader opened while nothing writes the item in this mount, and
 *    while every other page-cache reader of it reads the same version,
 *    reads through the page cache (kept from open to open while the
 *    version stays; dropped at open when it changed);
 *  - writers, readers of another version, and O_DIRECT/O_SYNC opens use
 *    direct I/O: each read is served from the open file's own version.
 * A writer's direct writes grow the kernel's i_size under the page-cache
 * readers (the kernel does that itself), and a reader then reads past the
 * end of its version into zero-filled pages: measured, one read in about
 * fifty under concurrent rewrites (tests/integration/test_atomic.sh). So
 * an open for writing waits, up to FS_WRITER_WAIT seconds, for the item's
 * page-cache readers to close (new readers meanwhile use direct I/O), and
 * for a while after it had to wait every reader of the item uses direct
 * I/O, so that an item rewritten while it is read makes one writer wait,
 * not each: FS_WRITE_QUIET_PER_WAIT times as long as that writer waited, at
 * most FS_WRITE_QUIET seconds. Readers that close at once (a wait of
 * microseconds) cost the next writer as little, and their item's readers
 * go back to the page cache within milliseconds; readers that keep the
 * item open (a wait of 50 ms or more) make it FS_WRITE_QUIET seconds. An
 * item rewritten when no reader has it open (the common case: a read,
 * later a write, later a read) keeps the page cache between versions. Only
 * a page-cache reader that is still open after FS_WRITER_WAIT, and reads
 * while the writer writes, is at risk (docs/consistency.md).
 *
 * Kernel opens. A --snapshot mount serves one point in time for its whole
 * life and has no writers, so no open needs the daemon: its version never
 * changes and no writer can tear it. There the daemon answers the first
 * OPEN with ENOSYS, and FUSE (no_open) then opens every file of the mount
 * itself, with no OPEN or RELEASE round trip, keeping the page cache from
 * open to open; the first FLUSH gets ENOSYS too (no_flush), so a close is
 * no round trip either. Reads come without a file handle, by inode:
 * file_by_inode() serves them from the snapshot, keeping the item read
 * last loaded for the next read (cat and tar read a file front to back).
 * .itemfs/stats, which other mounts see as a file of size 0 read to EOF,
 * has its text's size there instead (fs_hidden_stats_text()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

/* Seconds an open for writing waits for the item's page-cache readers. */
#define FS_WRITER_WAIT 2.0
/*
 * After an open for writing waited for page-cache readers, the item's
 * readers use direct I/O for this many times as long as it waited, at most
 * FS_WRITE_QUIET seconds.
 */
#define FS_WRITE_QUIET_PER_WAIT 100.0
#define FS_WRITE_QUIET 5.0

static struct fs_inode *inode_for_open(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_inode *in = fs_inode_find(&ctx->itab, ino);

	/* The kernel opens only what it has looked up; be safe regardless. */
	if (!in && fs_inode_ref(&ctx->itab, ino, false, 0, NULL, 0, &in) == 0)
		in->nlookup = 0;
	return in;
}

/*
 * Opens ino with open(2) flags into a new struct fs_file (*out, linked into
 * ctx->files). Errors: -EISDIR, -ENOENT, -EIO (corrupt data), -ENOMEM.
 */
static int file_open(struct fs_ctx *ctx, uint64_t ino, int flags, pid_t pid,
		     struct fs_file **out)
{
	struct store_txn *txn;
	struct fs_file *f;
	struct fs_inode *in;
	int rc;

	f = calloc(1, sizeof(*f));
	in = inode_for_open(ctx, ino);
	if (!f || !in) {
		free(f);
		return -ENOMEM;
	}
	f->kind = FS_HANDLE_FILE;
	f->inode = in;
	f->flags = flags;
	f->open_pid = pid;
	f->writable = (flags & O_ACCMODE) != O_RDONLY;
	rc = fs_txn_read(ctx, &txn);
	if (rc)
		goto err;
	rc = fs_file_base_attr(ctx, txn, f, &f->attr);
	if (rc == -ENOENT)
		/*
		 * The kernel resolved a name to an item that is gone: another
		 * mount replaced or removed it between the lookup and the open.
		 * ESTALE has the kernel look the name up again (LOOKUP_REVAL) and
		 * open what is there now, or report ENOENT if nothing is.
		 */
		rc = -ESTALE;
	else if (rc == 0 && fs_ttl_hide(ctx, &f->attr))
		rc = -ESTALE; /* expired (ttl.c): files open before read on */
	else if (rc == 0 && S_ISDIR(f->attr.mode))
		rc = -EISDIR;
	else if (rc == 0 && !S_ISREG(f->attr.mode))
		rc = -EINVAL;
	if (rc == 0 && f->writable && (flags & O_TRUNC)) {
		f->loaded = f->dirty = f->mtime_pending = true;
		fs_now(&f->mtime);
	} else if (rc == 0 && !f->writable) {
		rc = fs_file_load_version(ctx, txn, f, &f->attr); /* a reader's snapshot */
	}
	fs_txn_read_end(ctx, txn);
	if (rc)
		goto err;
	if (f->dirty)
		in->writer = f;
	if (f->writable) {
		in->nwriters++;
		in->kattr_stale = true;
	}
	in->nopen++;
	f->next = ctx->files;
	if (ctx->files)
		ctx->files->prev = f;
	ctx->files = f;
	*out = f;
	return 0;
err:
	fs_view_pages_put(ctx, f);
	free(f->data);
	free(f);
	return rc;
}

/* Unlinks f from ctx->files and frees it (release, or exit). */
void fs_file_close(struct fs_ctx *ctx, struct fs_file *f)
{
	struct fs_inode *in = f->inode;

	if (f->prev)
		f->prev->next = f->next;
	else
		ctx->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	if (in->writer == f)
		in->writer = NULL;
	if (f->writable)
		in->nwriters--;
	if (f->cached)
		in->ncached--;
	in->nopen--;
	fs_inode_put(ctx, in, 0);
	fs_view_pages_put(ctx, f);
	free(f->data);
	free(f);
}

/*
 * Chooses how the kernel reads f: through its page cache, or with direct
 * I/O (see the top of this file). O_DIRECT and O_SYNC opens read strongly
 * (fs_op_open refreshed the view first) and directly.
 */
static void fill_open_info(struct fs_ctx *ctx, struct fuse_file_info *fi, struct fs_file *f)
{
	struct fs_inode *in = f->inode;
	bool same = in->kversion == f->attr.version;

	fi->fh = (uintptr_t)f;
	if (f->writable || (f->flags & (O_DIRECT | O_SYNC | O_DSYNC)) || in->nwriters ||
	    in->nwaiting || fs_mono_now() < in->direct_until ||
	    (in->ncached && !same)) {
		fi->direct_io = 1;
		fi->keep_cache = 1; /* leave the pages of page-cache readers alone */
		ctx->stats.opens_direct++;
		return;
	}
	f->cached = true;
	fi->direct_io = 0;
	fi->keep_cache = same; /* otherwise the kernel drops its pages at open */
	fi->noflush = 1;       /* close of a reader commits nothing */
	if (in->kattr_stale || in->kattr_version != f->attr.version) {
		/*
		 * The kernel's i_size must be this version's before the first
		 * read: unless the attributes it holds are this version's (and
		 * no writer has moved its i_size since), have it ask again
		 * (getattr through this file answers with this version's size).
		 * Not asking when they are: a warm ls -l after a cat would
		 * otherwise be a getattr per file.
		 */
		fs_view_inval_attr_now(ctx, in->ino);
		in->kattr_stale = false;
		in->kattr_version = f->attr.version;
	}
	in->kversion = f->attr.version;
	in->ksize = f->len;
	in->ncached++;
	ctx->stats.opens_cached++;
}

static void open_now(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_file *f;
	int rc;

	rc = fi->flags & (O_DIRECT | O_SYNC | O_DSYNC) ? fs_view_refresh(ctx, true) /* strong */
						       : 0;
	if (rc == 0)
		rc = file_open(ctx, ino, fi->flags, fuse_req_ctx(req)->pid, &f);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fill_open_info(ctx, fi, f);
	if (fuse_reply_open(req, fi) != 0)
		fs_file_close(ctx, f);
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_inode *in = fs_inode_find(&ctx->itab, ino);
	struct fs_waiting_open *w, **tail;

	if (ctx->kernel_opens) {
		fuse_reply_err(req, ENOSYS); /* the kernel opens files itself from now on */
		return;
	}
	if (fs_ino_is_hidden(ino)) {
		fs_hidden_open(req, ino, fi);
		return;
	}
	if (in && in->replaced) {
		/*
		 * A transaction put a new item at the name the kernel resolved
		 * to this one: ESTALE makes it look the name up again
		 * (LOOKUP_REVAL) and open what is there now.
		 */
		fuse_reply_err(req, ESTALE);
		return;
	}
	if ((fi->flags & O_ACCMODE) == O_RDONLY || !in || !in->ncached ||
	    !(w = calloc(1, sizeof(*w)))) {
		open_now(req, ino, fi);
		return;
	}
	/* Page-cache readers have it open: wait for them (top of this file). */
	w->req = req;
	w->fi = *fi;
	w->inode = in;
	ctx->stats.writer_waits++;
	w->deadline = fs_mono_now() + FS_WRITER_WAIT;
	in->nopen++; /* keeps the inode while it waits */
	in->nwaiting++;
	for (tail = &ctx->waiting; *tail; tail = &(*tail)->next)
		;
	*tail = w;
}

void fs_waiting_opens_run(struct fs_ctx *ctx, bool all)
{
	struct fs_waiting_open **p = &ctx->waiting;
	double now = ctx->waiting ? fs_mono_now() : 0;

	while (*p) {
		struct fs_waiting_open *w = *p;
		struct fs_inode *in = w->inode;

		if (!all && in->ncached && now < w->deadline) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		in->nwaiting--;
		if (all) {
			fuse_reply_err(w->req, EIO); /* the session is ending */
		} else {
			double waited = FS_WRITER_WAIT - (w->deadline - now);
			double quiet = FS_WRITE_QUIET_PER_WAIT * waited;

			if (quiet > FS_WRITE_QUIET)
				quiet = FS_WRITE_QUIET;
			if (now + quiet > in->direct_until)
				in->direct_until = now + quiet;
			open_now(w->req, in->ino, &w->fi);
		}
		in->nopen--;
		fs_inode_put(ctx, in, 0);
		free(w);
	}
}

double fs_waiting_opens_due(const struct fs_ctx *ctx)
{
	double first = -1;

	for (const struct fs_waiting_open *w = ctx->waiting; w; w = w->next)
		if (first < 0 || w->deadline < first)
			first = w->deadline;
	return first;
}

/* create(2): a new item, or, without O_EXCL, the one that appeared meanwhile. */
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fuse_entry_param e;
	struct store_attr a;
	struct fs_file *f;
	int flags = fi->flags, rc;

	rc = fs_make_node(req, parent, name, S_IFREG | (mode & 07777), NULL, &a);
	/* A new item is empty: O_TRUNC would only commit a second, identical version. */
	if (rc == 0)
		flags &= ~O_TRUNC;
	if (rc == -EEXIST && !(fi->flags & O_EXCL)) {
		struct store_txn *txn;
		size_t len;
		rc = fs_check_name(name, &len);
		if (rc == 0)
			rc = fs_txn_read(ctx, &txn);
		if (rc == 0) {
			rc = store_dirent_get(txn, parent, name, len, &a.ino);
			if (rc == 0)
				rc = fs_attr_get(ctx, txn, a.ino, &a);
			fs_txn_read_end(ctx, txn);
		}
		if (rc == 0 && S_ISDIR(a.mode))
			rc = -EISDIR;
	}
	if (rc)
		goto err;
	rc = fs_inode_ref(&ctx->itab, a.ino, false, parent, name, strlen(name), NULL);
	if (rc)
		goto err;
	rc = file_open(ctx, a.ino, flags, fuse_req_ctx(req)->pid, &f);
	if (rc) {
		fs_inode_put(ctx, fs_inode_find(&ctx->itab, a.ino), 1);
		goto err;
	}
	memset(&e, 0, sizeof(e));
	e.ino = a.ino;
	e.generation = 1;
	e.attr_timeout = fs_ttl_timeout(&f->attr, ctx->opts.attr_timeout);
	e.entry_timeout = fs_ttl_timeout(&f->attr, ctx->opts.entry_timeout);
	fs_attr_to_stat(&f->attr, &e.attr);
	if (f->dirty)
		e.attr.st_size = 0;
	fs_attr_sent(ctx, &f->attr);
	fill_open_info(ctx, fi, f);
	if (fuse_reply_create(req, &e, fi) != 0) {
		struct fs_inode *in = f->inode;
		fs_file_close(ctx, f);
		fs_inode_put(ctx, in, 1);
	}
	return;
err:
	fuse_reply_err(req, -rc);
}

/* Replies with size bytes at off from the pinned pages of f's version. */
static void reply_pages(fuse_req_t req, const struct fs_file *f, size_t size, size_t off)
{
	struct iovec iov[64];
	size_t first = off / CACHE_PAGE_SIZE, n = 0;

	while (size && n < sizeof(iov) / sizeof(iov[0])) {
		const char *page = cache_ref_data(f->pages[first + n]);
		size_t in = (off % CACHE_PAGE_SIZE), len = CACHE_PAGE_SIZE - in;

		if (len > size)
			len = size;
		iov[n].iov_base = (void *)(uintptr_t)(page + in);
		iov[n].iov_len = len;
		off += len;
		size -= len;
		n++;
	}
	fuse_reply_iov(req, iov, (int)n);
}

static void read_stats(fuse_req_t req, const struct fs_stats_file *s, size_t size, off_t off)
{
	if (off < 0 || (uint64_t)off >= s->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, s->text + off,
			       size < s->len - (size_t)off ? size : s->len - (size_t)off);
}

/*
 * The file a read without a handle reads (kernel opens, top of this file):
 * the item read last, or ino opened now in its place. NULL for the hidden
 * files, which read_hidden_by_inode() answers.
 */
static int file_by_inode(fuse_req_t req, fuse_ino_t ino, struct fs_file **out)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_file *f = ctx->last_read;
	int rc;

	*out = NULL;
	if (fs_ino_is_hidden(ino))
		return 0;
	if (f && f->inode->ino == ino) {
		*out = f;
		return 0;
	}
	rc = file_open(ctx, ino, O_RDONLY, fuse_req_ctx(req)->pid, &f);
	if (rc)
		return rc;
	if (ctx->last_read)
		fs_file_close(ctx, ctx->last_read);
	ctx->last_read = *out = f;
	return 0;
}

/* A read of a hidden file without a handle (kernel opens). */
static void read_hidden_by_inode(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_stats_file s = {.kind = FS_HANDLE_STATS};

	if (fs_ino_is_stream(ino)) {
		fs_stream_read(req, ino, size, off);
		return;
	}
	if (ino == FS_INO_STATS && fs_hidden_stats_text(ctx) == 0) {
		s.text = ctx->stats_text;
		s.len = ctx->stats_len;
	}
	read_stats(req, &s, size, off); /* the txn file reads as empty, as elsewhere */
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	int rc;

	if (!fi->fh) { /* kernel opens (top of this file) */
		fs_ctx_of(req)->stats.reads_by_inode++;
		rc = file_by_inode(req, ino, &f);
		if (rc == 0 && !f) {
			read_hidden_by_inode(req, ino, size, off);
			return;
		}
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
	}
	if (fs_txn_file_of(fi)) {
		fs_txn_read_op(req, fs_txn_file_of(fi), size, off);
		return;
	}
	if (fs_stream_file_of(fi)) {
		fs_stream_read(req, ino, size, off);
		return;
	}
	if (!f) {
		read_stats(req, fs_stats_file_of(fi), size, off);
		return;
	}
	rc = fs_file_ensure(fs_ctx_of(req), f);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (off < 0 || (uint64_t)off >= f->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > f->len - (size_t)off)
		size = f->len - (size_t)off;
	if (f->paged)
		reply_pages(req, f, size, (size_t)off);
	else
		fuse_reply_buf(req, f->data + off, size);
}

/*
 * Applies a write to f's pending version. Past the item limit the handle
 * rolls back to the committed version and -EFBIG is returned.
 */
/*
 * A write by a caller without CAP_FSETID clears the item's set-user-ID and
 * set-group-ID bits (fs_privs_dropped()), at once and in a change of its
 * own, as on a local file system: stat shows it before the new version is
 * committed. Root's writes (the common case) cost nothing here.
 */
static int drop_privs_on_write(fuse_req_t req, struct fs_file *f)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	struct store_attr a;
	mode_t drop;
	int rc;

	if (fuse_req_ctx(req)->uid == 0)
		return 0;
	rc = fs_txn_read(ctx, &txn);
	if (rc)
		return rc;
	rc = fs_view_attr(ctx, txn, f->inode->ino, &a);
	fs_txn_read_end(ctx, txn);
	if (rc == -ENOENT)
		return 0; /* unlinked: its mode no longer matters */
	if (rc || !(drop = fs_privs_dropped(req, &a, FS_PRIV_WRITE)))
		return rc;
	rc = fs_txn_write(ctx, &txn);
	if (rc)
		return rc;
	rc = store_inode_get(txn, a.ino, &a);
	if (rc == 0) {
		a.mode &= ~drop;
		fs_now(&a.ctime);
		rc = store_inode_put(txn, &a);
	}
	if (rc) {
		store_txn_abort(txn);
		return rc;
	}
	rc = store_txn_commit(txn);
	if (rc)
		return rc;
	f->attr.mode = a.mode;
	fs_view_inval_attr_now(ctx, a.ino); /* the kernel holds the old mode */
	return 0;
}

static int do_write(fuse_req_t req, struct fs_file *f, const char *buf, size_t size, off_t off)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	uint64_t end;
	int rc;

	if (!f->writable)
		return -EBADF;
	rc = fs_file_ensure(ctx, f);
	if (rc)
		return rc;
	if (f->flags & O_APPEND)
		off = (off_t)f->len;
	if (off < 0)
		return -EINVAL;
	end = (uint64_t)off + size;
	if (!store_item_fits(f->attr.keylen, end > f->len ? end : f->len, f->attr.xattr_bytes)) {
		struct store_txn *txn;

		if (fs_txn_read(ctx, &txn) == 0) {
			rc = fs_file_load(ctx, txn, f);
			fs_txn_read_end(ctx, txn);
			if (rc) { /* deleted or unreadable: drop the version, load later */
				f->len = 0;
				f->loaded = f->dirty = f->written = false;
			}
		}
		if (f->inode->writer == f)
			f->inode->writer = NULL;
		return -EFBIG;
	}
	rc = drop_privs_on_write(req, f);
	if (rc)
		return rc;
	if (end > f->len) {
		rc = fs_file_resize(f, end);
		if (rc)
			return rc;
	}
	memcpy(f->data + off, buf, size);
	f->dirty = f->written = f->mtime_pending = true;
	fs_now(&f->mtime);
	f->inode->writer = f;
	return 0;
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	int rc;

	(void)ino;
	if (fs_txn_file_of(fi)) {
		fs_txn_write_op(req, fs_txn_file_of(fi), buf, size, off);
		return;
	}
	rc = do_write(req, fs_file_of(fi), buf, size, off);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);

	(void)ino;
	if (!fi->fh) /* kernel opens: ENOSYS makes the kernel stop sending FLUSH */
		fuse_reply_err(req, ENOSYS);
	else if (fs_txn_file_of(fi))
		fs_txn_flush(req, fs_txn_file_of(fi));
	else
		fuse_reply_err(req, f ? -fs_file_flush(fs_ctx_of(req), f) : 0);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_file *f = fs_file_of(fi);
	struct fs_stats_file *s = fs_stats_file_of(fi);
	int rc;

	(void)ino;
	if (fs_txn_file_of(fi)) {
		fs_txn_release(req, fs_txn_file_of(fi));
		return;
	}
	if (fs_stream_file_of(fi)) {
		fs_stream_release(req, fs_stream_file_of(fi));
		return;
	}
	if (s) {
		free(s->text);
		free(s);
		fuse_reply_err(req, 0);
		return;
	}
	rc = fs_file_commit(ctx, f);
	if (rc) {
		char path[1024];
		fs_inode_path(&ctx->itab, f->inode->ino, path, sizeof(path));
		fs_log(LOG_ERR,
		       "could not save the new version of %s (%s): it is dropped and the item "
		       "keeps its previous version; %swrite it again",
		       path, strerror(-rc), rc == -ENOSPC ? "free disk space, then " : "");
	}
	fs_file_close(ctx, f);
	fuse_reply_err(req, 0);
}

/*
 * A reader's fsync is a strongly consistent read: its file moves to the
 * latest committed version of the item (unless that is the one it has).
 * For a page-cache reader the kernel's pages and size must be of the new
 * version before fsync returns: the pages are dropped by the notifier
 * thread (the session thread must not wait on page locks), which then
 * sends the reply.
 */
static int refresh_reader(struct fs_ctx *ctx, struct fs_file *f, bool *drop_pages)
{
	struct fs_inode *in = f->inode;
	struct store_txn *txn;
	struct store_attr a;
	int rc = fs_txn_read(ctx, &txn);

	if (rc)
		return rc;
	rc = store_inode_get(txn, in->ino, &a);
	if (rc == 0 && a.version != f->attr.version)
		rc = fs_file_load(ctx, txn, f);
	else if (rc == -ENOENT)
		rc = 0; /* deleted: it keeps reading what it had */
	if (rc == 0 && f->cached && in->kversion != f->attr.version) {
		/*
		 * The kernel's pages are shared by every page-cache reader of the
		 * item: they all move to this version with them (a reader that
		 * cannot is left with what it had, served by its own file).
		 */
		for (struct fs_file *o = ctx->files; o; o = o->next)
			if (o != f && o->inode == in && o->cached &&
			    o->attr.version != f->attr.version)
				(void)fs_file_load(ctx, txn, o);
		in->kversion = f->attr.version;
		in->ksize = f->len;
		*drop_pages = true;
	}
	fs_txn_read_end(ctx, txn);
	return rc;
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_file *f = fs_file_of(fi);
	bool drop_pages = false;
	int rc;

	(void)ino;
	(void)datasync;
	if (fs_txn_file_of(fi)) {
		fs_txn_fsync(req, fs_txn_file_of(fi));
		return;
	}
	if (!f) {
		fuse_reply_err(req, 0); /* .itemfs/stats */
		return;
	}
	rc = fs_file_commit(ctx, f);
	if (rc == 0)
		rc = fs_sync(ctx);
	if (rc == 0 && !f->writable && !ctx->snapshot) {
		rc = fs_view_refresh(ctx, true);
		if (rc == 0)
			rc = refresh_reader(ctx, f, &drop_pages);
	}
	if (rc == 0 && drop_pages) {
		fs_view_note_pages(ctx, f->inode->ino);
		fs_view_reply_after_notes(ctx, req);
		return;
	}
	fuse_reply_err(req, -rc);
}

/*
 * SEEK_DATA and SEEK_HOLE (the kernel answers the other whences itself):
 * an item is all data, up to its size as this opener sees it; a stream
 * file's trimmed range is a hole (stream.c).
 */
void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	struct store_attr a;
	off_t at = off;
	int rc = whence == SEEK_DATA || whence == SEEK_HOLE ? 0 : -EINVAL;

	if (rc == 0 && fs_ino_is_stream(ino)) {
		rc = fs_stream_lseek(ctx, ino, off, whence, &at);
	} else if (rc == 0 && fs_ino_is_hidden(ino)) {
		rc = -ENXIO; /* generated text, of size 0 */
	} else if (rc == 0 && (rc = fs_txn_read(ctx, &txn)) == 0) {
		rc = fs_attr_get_fh(ctx, txn, ino, fs_file_of(fi), &a);
		fs_txn_read_end(ctx, txn);
		if (rc == 0 && (off < 0 || (uint64_t)off >= a.size))
			rc = -ENXIO;
		else if (rc == 0 && whence == SEEK_HOLE)
			at = (off_t)a.size;
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_lseek(req, at);
}
