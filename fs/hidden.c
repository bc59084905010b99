/*
 * hidden.c - MOUNTPOINT/.itemfs, a read-only directory that readdir of the
 * top level never lists (so tar, rsync and find never pick it up), holding
 * `stats`: the read cache's and the consistency machinery's counters as
 * "name value" lines (docs/consistency.md; `itemfs stats` formats them);
 * `txn`, where a manifest of a multi-item transaction is written
 * (txn.c; docs/dynamodb.md); `streams/`, one change stream per table
 * (stream.c); and `index`, the secondary index views (index.c).
 * Its inode numbers are above any the store hands out. The name is
 * reserved: no table can be called .itemfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

void fs_hidden_attr(uint64_t ino, struct store_attr *a)
{
	static struct timespec born;

	if (!born.tv_sec)
		fs_now(&born);
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->uid = (uint32_t)getuid();
	a->gid = (uint32_t)getgid();
	a->atime = a->mtime = a->ctime = born;
	if (ino == FS_INO_HIDDEN_DIR || ino == FS_INO_STREAMS_DIR || ino == FS_INO_INDEX_DIR) {
		a->mode = S_IFDIR | 0555;
		a->nlink = 2;
	} else if (fs_ino_is_index(ino)) {
		a->mode = S_IFDIR | 0755; /* access(2) of a view below index (index.c) */
		a->nlink = 2;
	} else {
		a->mode = S_IFREG | (ino == FS_INO_TXN ? 0666 : 0444);
		a->nlink = 1;
	}
}

/*
 * Kernel opens (ops_file.c): .itemfs/stats is read by inode, through the
 * page cache, so its size must be its text's. The text is made again once
 * it is a second old, so that one cat reads one text; a stat or read after
 * that sees new counters, with a new mtime, at which the kernel drops the
 * old text's pages (FUSE_CAP_AUTO_INVAL_DATA).
 */
int fs_hidden_stats_text(struct fs_ctx *ctx)
{
	double now = fs_mono_now();
	char *text;
	size_t len;
	int rc;

	if (ctx->stats_time && now - ctx->stats_time < 1.0)
		return 0;
	rc = fs_view_stats_text(ctx, &text, &len);
	if (rc)
		return rc;
	free(ctx->stats_text);
	ctx->stats_text = text;
	ctx->stats_len = len;
	ctx->stats_time = now;
	fs_now(&ctx->stats_mtime);
	return 0;
}

/* Seconds the kernel may keep a hidden inode's attributes. */
static double hidden_timeout(const struct fs_ctx *ctx, uint64_t ino)
{
	/* streams grow; kernel opens read the stats text by its size */
	return fs_ino_is_stream(ino) || (ctx->kernel_opens && ino == FS_INO_STATS) ? 0 : 3600;
}

/*
 * Any hidden inode's attributes: a stream file's come from the store, the
 * stats file's size under kernel opens from its text.
 */
int fs_hidden_attr_get(struct fs_ctx *ctx, uint64_t ino, struct store_attr *a)
{
	int rc;

	if (fs_ino_is_stream(ino))
		return fs_stream_attr(ctx, ino, a);
	fs_hidden_attr(ino, a);
	if (ino == FS_INO_STATS && ctx->kernel_opens) {
		rc = fs_hidden_stats_text(ctx);
		if (rc)
			return rc;
		a->size = ctx->stats_len;
		a->mtime = a->ctime = ctx->stats_mtime;
	}
	return 0;
}

/*
 * Replies to a lookup of a hidden name with a's entry, cached by the
 * kernel for timeout seconds (0 for what other mounts change: the streams,
 * the index views). Returns what fuse_reply_entry() did: 0 when the
 * kernel took the reference.
 */
int fs_hidden_reply_entry(fuse_req_t req, const struct store_attr *a, double timeout)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = a->ino;
	e.generation = 1;
	e.attr_timeout = timeout;
	e.entry_timeout = timeout;
	fs_attr_to_stat(a, &e.attr);
	return fuse_reply_entry(req, &e);
}

static void reply_hidden_entry(fuse_req_t req, uint64_t ino)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_attr a;
	int rc = fs_hidden_attr_get(ctx, ino, &a);

	if (rc)
		fuse_reply_err(req, -rc);
	else
		fs_hidden_reply_entry(req, &a, hidden_timeout(ctx, ino));
}

/* Answers a lookup of the hidden names; false when name is not one. */
bool fs_hidden_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent == STORE_ROOT_INO && strcmp(name, FS_HIDDEN_NAME) == 0) {
		reply_hidden_entry(req, FS_INO_HIDDEN_DIR);
		return true;
	}
	if (fs_ino_is_index(parent)) {
		fs_index_lookup(req, parent, name);
		return true;
	}
	if (parent == FS_INO_HIDDEN_DIR) {
		if (strcmp(name, "stats") == 0)
			reply_hidden_entry(req, FS_INO_STATS);
		else if (strcmp(name, "txn") == 0)
			reply_hidden_entry(req, FS_INO_TXN);
		else if (strcmp(name, "streams") == 0)
			reply_hidden_entry(req, FS_INO_STREAMS_DIR);
		else if (strcmp(name, "index") == 0)
			fs_index_reply_dir(req); /* timeouts 0: tables come and go */
		else
			fuse_reply_err(req, ENOENT);
		return true;
	}
	if (parent == FS_INO_STREAMS_DIR) {
		fs_stream_lookup(req, name);
		return true;
	}
	return false;
}

void fs_hidden_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct store_attr a;
	struct stat st;
	int rc = fs_hidden_attr_get(fs_ctx_of(req), ino, &a);

	if (fs_ino_is_index(ino)) {
		fs_index_getattr(req, ino);
		return;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fs_attr_to_stat(&a, &st);
	fuse_reply_attr(req, &st, hidden_timeout(fs_ctx_of(req), ino));
}

void fs_hidden_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_stats_file *s;
	int rc;

	if (ino == FS_INO_HIDDEN_DIR || ino == FS_INO_STREAMS_DIR || fs_ino_is_index(ino)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (fs_ino_is_stream(ino)) {
		fs_stream_open(req, ino, fi);
		return;
	}
	if (ino == FS_INO_TXN) {
		fs_txn_open(req, fi);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	s->kind = FS_HANDLE_STATS;
	rc = fs_view_stats_text(fs_ctx_of(req), &s->text, &s->len);
	if (rc) {
		free(s);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)s;
	fi->direct_io = 1; /* its size is 0, as for /proc files: reads go to EOF */
	if (fuse_reply_open(req, fi) != 0) {
		free(s->text);
		free(s);
	}
}

void fs_hidden_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_dir *d;

	if (ino == FS_INO_STREAMS_DIR) {
		fs_stream_opendir(req, fi);
		return;
	}
	if (fs_ino_is_index(ino)) {
		fs_index_opendir(req, ino, fi);
		return;
	}
	if (ino != FS_INO_HIDDEN_DIR) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	static const struct {
		const char *name;
		uint64_t ino;
		uint32_t mode;
	} names[] = {{"index", FS_INO_INDEX_DIR, S_IFDIR},
		     {"stats", FS_INO_STATS, S_IFREG},
		     {"streams", FS_INO_STREAMS_DIR, S_IFDIR},
		     {"txn", FS_INO_TXN, S_IFREG}};
	const size_t n = sizeof(names) / sizeof(names[0]);

	d = calloc(1, sizeof(*d));
	if (d)
		d->ents = calloc(n, sizeof(*d->ents));
	for (size_t i = 0; d && d->ents && i < n; i++) {
		d->ents[i].name = strdup(names[i].name);
		if (!d->ents[i].name)
			break;
		d->ents[i].ino = names[i].ino;
		d->ents[i].mode = names[i].mode;
		d->count = i + 1;
	}
	if (!d || !d->ents || d->count < n) {
		if (d) {
			for (size_t i = 0; i < d->count; i++)
				free(d->ents[i].name);
			free(d->ents);
		}
		free(d);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->kind = FS_HANDLE_DIR;
	d->ino = ino;
	d->cap = n;
	fs_dir_open_reply(req, fi, d);
}
