/*
 * ops_readdir.c - directory listings: opendir takes the whole listing in
 * one store transaction (one consistent snapshot, in key order), readdir
 * and readdirplus hand it out by position, releasedir frees it.
 * Offsets: 0 is ".", 1 is "..", n + 2 is the n-th entry.
 *
 * Listings come from the read cache when it has them, and the kernel may
 * keep a listing between opendirs (cache_readdir): it keeps it only while
 * the directory's entries have not changed since (fs_inode.list_gen, bumped
 * by every change-log record of an entry of it, this mount's or another's)
 * and no item listed in it has expired since (ttl.c): expired items are
 * left out of a listing, but expiring changes no entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

int fs_dir_list_add(void *arg, const struct store_dirent *ent)
{
	struct fs_dir *d = arg;
	struct fs_dir_entry *e;

	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct fs_dir_entry *n = realloc(d->ents, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d->ents = n;
		d->cap = cap;
	}
	e = &d->ents[d->count];
	e->name = strndup(ent->name, ent->namelen);
	if (!e->name)
		return -ENOMEM;
	e->ino = ent->ino;
	e->mode = ent->mode;
	d->count++;
	return 0;
}

void fs_dir_free(struct fs_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->ents[i].name);
	free(d->ents);
	free(d);
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	uint64_t now = fs_ttl_now(), expired = 0;
	struct fs_dir *d;
	struct fs_inode *in;
	int rc;

	if (fs_ino_is_hidden(ino)) {
		fs_hidden_opendir(req, ino, fi);
		return;
	}
	d = calloc(1, sizeof(*d));
	rc = d ? 0 : -ENOMEM;
	if (rc == 0)
		rc = fs_txn_read(ctx, &txn);
	if (rc == 0) {
		d->kind = FS_HANDLE_DIR;
		d->ino = ino;
		rc = fs_view_list(ctx, txn, ino, fs_dir_list_add, d);
		if (rc == 0)
			rc = fs_ttl_filter(ctx, txn, d, now, &expired);
		fs_txn_read_end(ctx, txn);
	}
	if (rc) {
		fs_dir_free(d);
		fuse_reply_err(req, -rc);
		return;
	}
	in = fs_inode_find(&ctx->itab, ino);
	if (in) {
		fi->cache_readdir = 1;
		/* ...and while no item in it expired since it was taken (ttl.c) */
		fi->keep_cache = in->klisted && in->klist_gen == in->list_gen &&
				 expired <= in->klist_time;
		in->klisted = true;
		in->klist_gen = in->list_gen;
		in->klist_time = now;
	}
	fs_dir_open_reply(req, fi, d);
}

/* Links d into ctx->dirs as fi's handle and replies to opendir with it. */
void fs_dir_open_reply(fuse_req_t req, struct fuse_file_info *fi, struct fs_dir *d)
{
	struct fs_ctx *ctx = fs_ctx_of(req);

	fi->fh = (uintptr_t)d;
	d->next = ctx->dirs;
	if (ctx->dirs)
		ctx->dirs->prev = d;
	ctx->dirs = d;
	if (fuse_reply_open(req, fi) != 0)
		fs_dir_close(ctx, d);
}

/* Unlinks d from ctx->dirs and frees it (releasedir, or exit). */
void fs_dir_close(struct fs_ctx *ctx, struct fs_dir *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		ctx->dirs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	fs_dir_free(d);
}

/*
 * Frees every handle the kernel still holds: a session ended by a signal
 * exits with files and directories open (their pending versions were
 * dropped by fs_files_drop_pending()).
 */
void fs_handles_close_all(struct fs_ctx *ctx)
{
	while (ctx->files)
		fs_file_close(ctx, ctx->files);
	while (ctx->dirs)
		fs_dir_close(ctx, ctx->dirs);
}

/*
 * The attributes of the entries one readdirplus reply may carry, from pos
 * on, fetched together where the store's reads are round trips (a
 * networked backend): one BatchGetItem for a hundred entries instead of a
 * hundred GetItems. Those in the read cache are not asked for. A failure
 * only means the entries are read one by one.
 */
static void prefetch_attrs(struct fs_ctx *ctx, struct store_txn *txn, const struct fs_dir *d,
			   size_t pos, size_t size)
{
	/* an entry takes at least 160 bytes: the kernel's fuse_entry_out (128)
	 * and fuse_dirent (24), and a name of up to 8 bytes */
	size_t most = size / 160u + 1, n = 0;
	uint64_t *inos;

	if (fs_has(ctx, STORE_HAS_LOCAL_READS) || pos >= d->count)
		return;
	if (most > d->count - pos)
		most = d->count - pos;
	inos = malloc(most * sizeof(*inos));
	if (!inos)
		return;
	for (size_t i = pos; i < pos + most; i++) {
		uint64_t ino = d->ents[i].ino;

		if (!fs_ino_is_index(ino) && !fs_ino_is_hidden(ino) &&
		    !fs_view_attr_cached(ctx, ino))
			inos[n++] = ino;
	}
	if (n > 1)
		(void)store_inode_prefetch(txn, inos, n);
	free(inos);
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
		       bool plus)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	struct store_txn *txn = NULL;
	char *buf = malloc(size);
	size_t used = 0;
	int rc = buf ? 0 : -ENOMEM;

	if (rc == 0 && plus)
		rc = fs_txn_read(ctx, &txn);
	if (rc == 0 && plus)
		prefetch_attrs(ctx, txn, d, off < 2 ? 0 : (size_t)off - 2, size);
	for (size_t pos = off < 0 ? 0 : (size_t)off; rc == 0 && pos < d->count + 2; pos++) {
		struct fuse_entry_param e;
		const char *name;
		size_t n;

		memset(&e, 0, sizeof(e));
		if (pos < 2) {
			name = pos == 0 ? "." : "..";
			e.attr.st_ino = d->ino;
			e.attr.st_mode = S_IFDIR;
		} else {
			const struct fs_dir_entry *de = &d->ents[pos - 2];
			name = de->name;
			e.attr.st_ino = de->ino;
			e.attr.st_mode = de->mode;
		}
		if (!plus) {
			n = fuse_add_direntry(req, buf + used, size - used, name, &e.attr,
					      (off_t)pos + 1);
		} else {
			struct store_attr a;
			if (pos >= 2 && fs_ino_is_index(e.attr.st_ino)) {
				/* no entry (e.ino 0): the kernel looks each up (index.c) */
			} else if (pos >= 2 && fs_ino_is_hidden(e.attr.st_ino)) {
				if (fs_hidden_attr_get(ctx, e.attr.st_ino, &a) != 0)
					continue; /* a table removed since opendir */
				e.ino = a.ino;
				e.generation = 1;
				fs_attr_to_stat(&a, &e.attr);
			} else if (pos >= 2) {
				int grc = fs_attr_get(ctx, txn, e.attr.st_ino, &a);
				if (grc == -ENOENT || grc == -ESTALE)
					continue; /* removed (or expired) since opendir */
				if (grc) {
					rc = grc;
					break;
				}
				e.ino = a.ino;
				e.generation = 1;
				e.attr_timeout = fs_ttl_timeout(&a, ctx->opts.attr_timeout);
				e.entry_timeout = fs_ttl_timeout(&a, ctx->opts.entry_timeout);
				fs_attr_to_stat(&a, &e.attr);
			}
			n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
						   (off_t)pos + 1);
			if (n <= size - used && pos >= 2 && e.ino != 0 &&
			    !fs_ino_is_hidden(e.ino)) {
				if (fs_inode_ref(&ctx->itab, e.ino, S_ISDIR(a.mode), d->ino, name,
						 strlen(name), NULL)) {
					rc = -ENOMEM;
					break;
				}
				fs_attr_sent(ctx, &a);
			}
		}
		if (n > size - used)
			break;
		used += n;
	}
	fs_txn_read_end(ctx, txn);
	if (rc && used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, true);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fs_dir_close(fs_ctx_of(req), (struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/*
 * Durable, and a strongly consistent read of the listing: after it, the
 * next opendir lists every entry committed anywhere before.
 */
void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	int rc = fs_sync(ctx);

	(void)ino;
	(void)datasync;
	(void)fi;
	if (rc == 0)
		rc = fs_view_refresh(ctx, true);
	fuse_reply_err(req, -rc);
}
