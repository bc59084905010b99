/*
 * stream.c - change streams (docs/dynamodb.md, "Change streams"): the
 * records, and the .itemfs/streams files that serve them.
 *
 * Every handler that changes an item's name or content calls a hook here
 * in its own transaction, which appends one JSON line (stream_fmt.c) to
 * the stream of the item's table (store_stream_append()). So a record is
 * committed exactly when its change is, by whichever mount or process made
 * it, and a crash keeps exactly the records of the commits it keeps.
 *
 * A record names the item by its key, the path below its table. The store
 * keeps parent pointers for directories but no reverse name index, so a
 * directory's name comes from this mount's inode table when it has one,
 * checked against the store by a point lookup (another mount may have
 * renamed it), else from a scan of its parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "stream_fmt.h"

/* Records trimmed at most per request and table: a request's work stays bounded, and a
 * stream that is appended to keeps within its bounds. */
#define FS_STREAM_TRIM_BATCH 64u
/* Deepest directory nesting walked above an item. */
#define FS_STREAM_DEPTH_MAX 4096

struct find_name {
	uint64_t ino;
	char *buf;
	size_t len;
};

static int find_name_cb(void *arg, const struct store_dirent *ent)
{
	struct find_name *f = arg;

	if (ent->ino != f->ino)
		return 0;
	memcpy(f->buf, ent->name, ent->namelen);
	f->len = ent->namelen;
	return 1;
}

/*
 * A name of ino in directory dir, into buf (STORE_NAME_MAX bytes): the one
 * this mount knows when the store agrees, else the first in dir's listing.
 * Returns 0, 1 when dir has none, or an errno.
 */
static int name_in(struct fs_ctx *ctx, struct store_txn *txn, uint64_t dir, uint64_t ino, char *buf,
		   size_t *len)
{
	struct fs_inode *in = fs_inode_find(&ctx->itab, ino);
	struct find_name f = {ino, buf, 0};
	uint64_t got;
	int rc;

	if (in && in->name && in->parent == dir) {
		size_t n = strlen(in->name);
		if (store_dirent_get(txn, dir, in->name, n, &got) == 0 && got == ino) {
			memcpy(buf, in->name, n);
			*len = n;
			return 0;
		}
	}
	rc = store_dir_list(txn, dir, find_name_cb, &f);
	if (rc == 1) {
		*len = f.len;
		return 0;
	}
	return rc ? rc : 1;
}

/*
 * The table dir lies in and dir's path below it with a trailing '/' (empty
 * for the table itself), into key (FS_STREAM_KEY_MAX bytes), *len bytes.
 * *table is 0 when dir is the root (whose children are tables, not items).
 */
static int dir_key(struct fs_ctx *ctx, struct store_txn *txn, uint64_t dir, char *key, size_t *len,
		   uint64_t *table)
{
	char name[STORE_NAME_MAX];
	size_t pos = FS_STREAM_KEY_MAX, n;
	uint64_t cur = dir;
	int rc;

	for (int depth = 0; depth < FS_STREAM_DEPTH_MAX; depth++) {
		struct store_attr a;

		if (cur == STORE_ROOT_INO) {
			*table = 0;
			*len = 0;
			return 0;
		}
		rc = store_inode_get(txn, cur, &a);
		if (rc)
			return rc;
		if (a.parent == STORE_ROOT_INO) {
			*table = cur;
			*len = FS_STREAM_KEY_MAX - pos;
			memmove(key, key + pos, *len);
			return 0;
		}
		rc = name_in(ctx, txn, a.parent, cur, name, &n);
		if (rc == 1) {
			fs_log(LOG_ERR, "change stream: directory %llu is not named in its parent "
			       "%llu: run itemfs check", (unsigned long long)cur,
			       (unsigned long long)a.parent);
			return -EIO;
		}
		if (rc)
			return rc;
		if (pos < n + 1)
			return -ENAMETOOLONG;
		key[--pos] = '/';
		pos -= n;
		memcpy(key + pos, name, n);
		cur = a.parent;
	}
	return -ELOOP;
}

static uint64_t ns_of(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

/* The seq of this request's records in table's stream; trims the stream once per request. */
static int request_seq(struct fs_ctx *ctx, struct store_txn *txn, uint64_t table,
		       const struct timespec *now, uint64_t *seq)
{
	struct fs_stream *s = &ctx->stream;
	struct store_stream_head h;
	double keep_ns = ctx->opts.stream_keep * 1e9;
	uint64_t now_ns = ns_of(now), before;
	unsigned dropped = 0;
	int rc;

	if (s->memo_req != s->req) {
		s->memo_req = s->req;
		s->n = 0;
	}
	for (unsigned i = 0; i < s->n; i++)
		if (s->table[i] == table) {
			*seq = s->seq[i];
			return 0;
		}
	before = keep_ns < (double)now_ns ? now_ns - (uint64_t)keep_ns : 0;
	rc = store_stream_trim(txn, table, before, ctx->opts.stream_max, FS_STREAM_TRIM_BATCH,
			       &dropped, &h);
	if (rc)
		return rc;
	s->trimmed += dropped;
	*seq = h.seq + 1;
	if (s->n < FS_STREAM_TABLES_MAX) {
		s->table[s->n] = table;
		s->seq[s->n++] = *seq;
	}
	return 0;
}

/* Appends the record of event on key (keylen bytes) of table, for item a. */
static int append(struct fs_ctx *ctx, struct store_txn *txn, uint64_t table, const char *key,
		  size_t keylen, enum fs_stream_event event, const struct store_attr *a)
{
	static char line[FS_STREAM_LINE_MAX];
	struct fs_stream_rec r = {.event = event, .key = key, .keylen = keylen, .ino = a->ino,
				  .version = a->version, .size = a->size};
	int n, rc;

	clock_gettime(CLOCK_REALTIME, &r.time);
	rc = request_seq(ctx, txn, table, &r.time, &r.seq);
	if (rc)
		return rc;
	n = fs_stream_format(&r, line, sizeof(line));
	if (n < 0)
		return n;
	rc = store_stream_append(txn, table, r.seq, ns_of(&r.time), line, (size_t)n, NULL);
	if (rc == 0)
		ctx->stream.records++;
	return rc;
}

static bool is_item(const struct store_attr *a)
{
	return a && a->ino && !S_ISDIR(a->mode);
}

int fs_stream_name(struct fs_ctx *ctx, struct store_txn *txn, uint64_t dir, const char *name,
		   size_t len, const struct store_attr *before, const struct store_attr *after)
{
	static char key[FS_STREAM_KEY_MAX];
	bool b = is_item(before), a = is_item(after);
	uint64_t table;
	size_t klen;
	int rc;

	if ((!b && !a) || !fs_has(ctx, STORE_HAS_STREAMS))
		return 0;
	rc = dir_key(ctx, txn, dir, key, &klen, &table);
	if (rc || table == 0)
		return rc;
	if (klen + len > FS_STREAM_KEY_MAX)
		return -ENAMETOOLONG;
	memcpy(key + klen, name, len);
	return append(ctx, txn, table, key, klen + len,
		      b && a ? FS_STREAM_MODIFY : b ? FS_STREAM_REMOVE : FS_STREAM_INSERT,
		      a ? after : before);
}

int fs_stream_inode(struct fs_ctx *ctx, struct store_txn *txn, const struct store_attr *a)
{
	struct fs_inode *in = fs_inode_find(&ctx->itab, a->ino);
	char name[STORE_NAME_MAX];
	uint64_t dir = in && in->name ? in->parent : a->parent;
	size_t len;
	int rc;

	if (!is_item(a) || a->nlink == 0 || /* no name: its REMOVE is already written */
	    !fs_has(ctx, STORE_HAS_STREAMS))
		return 0;
	rc = name_in(ctx, txn, dir, a->ino, name, &len);
	if (rc == 1 && dir != a->parent)
		rc = name_in(ctx, txn, dir = a->parent, a->ino, name, &len);
	if (rc == 1)
		return 0;
	return rc ? rc : fs_stream_name(ctx, txn, dir, name, len, a, a);
}

/* One side of a directory's move: where its subtree's keys were or are. */
struct side {
	uint64_t table; /* 0: no records on this side (a table itself, which keeps its keys) */
	char *key;	/* FS_STREAM_KEY_MAX bytes: the directory's key and '/', then below */
	size_t len;
};

static int side_of(struct fs_ctx *ctx, struct store_txn *txn, const struct fs_rename_end *e,
		   struct side *s)
{
	int rc;

	s->table = 0;
	s->len = 0;
	if (e->dir == STORE_ROOT_INO)
		return 0;
	rc = dir_key(ctx, txn, e->dir, s->key, &s->len, &s->table);
	if (rc == 0 && s->len + e->len + 1 > FS_STREAM_KEY_MAX)
		rc = -ENAMETOOLONG;
	if (rc)
		return rc;
	memcpy(s->key + s->len, e->name, e->len);
	s->len += e->len;
	s->key[s->len++] = '/';
	return 0;
}

struct walk_ent {
	uint64_t ino;
	uint32_t mode;
	size_t len;
	char name[STORE_NAME_MAX];
};

struct walk_list {
	struct walk_ent *ents;
	size_t n, cap;
};

static int walk_collect(void *arg, const struct store_dirent *ent)
{
	struct walk_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct walk_ent *e = realloc(l->ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->ents = e;
		l->cap = cap;
	}
	l->ents[l->n] = (struct walk_ent){ent->ino, ent->mode, ent->namelen, {0}};
	memcpy(l->ents[l->n++].name, ent->name, ent->namelen);
	return 0;
}

static int key_push(struct side *s, const char *name, size_t len, bool dir)
{
	if (!s->table)
		return 0;
	if (s->len + len + dir > FS_STREAM_KEY_MAX)
		return -ENAMETOOLONG;
	memcpy(s->key + s->len, name, len);
	s->len += len;
	if (dir)
		s->key[s->len++] = '/';
	return 0;
}

/*
 * Every item below directory dir, which moved from one side to the other:
 * a REMOVE of its old key and an INSERT of its new one (DynamoDB has no
 * rename; a consumer replaying the stream ends with the same items).
 */
static int walk_moved(struct fs_ctx *ctx, struct store_txn *txn, uint64_t dir, struct side *from,
		      struct side *to, int depth)
{
	struct walk_list l = {NULL, 0, 0};
	int rc = depth < FS_STREAM_DEPTH_MAX ? store_dir_list(txn, dir, walk_collect, &l) : -ELOOP;

	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		const struct walk_ent *e = &l.ents[i];
		size_t flen = from->len, tlen = to->len;
		struct store_attr a;

		rc = key_push(from, e->name, e->len, S_ISDIR(e->mode));
		if (rc == 0)
			rc = key_push(to, e->name, e->len, S_ISDIR(e->mode));
		if (rc == 0 && S_ISDIR(e->mode))
			rc = walk_moved(ctx, txn, e->ino, from, to, depth + 1);
		else if (rc == 0)
			rc = store_inode_get(txn, e->ino, &a);
		if (rc == 0 && !S_ISDIR(e->mode) && from->table)
			rc = append(ctx, txn, from->table, from->key, from->len, FS_STREAM_REMOVE, &a);
		if (rc == 0 && !S_ISDIR(e->mode) && to->table)
			rc = append(ctx, txn, to->table, to->key, to->len, FS_STREAM_INSERT, &a);
		from->len = flen;
		to->len = tlen;
	}
	free(l.ents);
	return rc;
}

static int moved_dir(struct fs_ctx *ctx, struct store_txn *txn, uint64_t dir,
		     const struct fs_rename_end *from, const struct fs_rename_end *to)
{
	struct side f = {0, malloc(FS_STREAM_KEY_MAX), 0}, t = {0, malloc(FS_STREAM_KEY_MAX), 0};
	int rc = f.key && t.key ? 0 : -ENOMEM;

	if (rc == 0)
		rc = side_of(ctx, txn, from, &f);
	if (rc == 0)
		rc = side_of(ctx, txn, to, &t);
	if (rc == 0 && (f.table || t.table))
		rc = walk_moved(ctx, txn, dir, &f, &t, 0);
	free(f.key);
	free(t.key);
	return rc;
}

int fs_stream_rename(struct fs_ctx *ctx, struct store_txn *txn, const struct fs_rename_end *s,
		     const struct fs_rename_end *d, bool exchange)
{
	const struct store_attr *dst_before = d->a.ino ? &d->a : NULL;
	int rc;

	if (!fs_has(ctx, STORE_HAS_STREAMS))
		return 0; /* and no walk of a moved directory */
	rc = fs_stream_name(ctx, txn, s->dir, s->name, s->len, &s->a, exchange ? dst_before : NULL);
	if (rc == 0)
		rc = fs_stream_name(ctx, txn, d->dir, d->name, d->len, dst_before, &s->a);
	if (rc == 0 && S_ISDIR(s->a.mode))
		rc = moved_dir(ctx, txn, s->a.ino, s, d);
	if (rc == 0 && exchange && S_ISDIR(d->a.mode))
		rc = moved_dir(ctx, txn, d->a.ino, d, s);
	return rc;
}

/* ---- .itemfs/streams ------------------------------------------------------ */

/*
 * An open stream file (fuse_file_info.fh): only its kind. Reads find the
 * table from the inode (fs_stream_read()), as reads without a handle on a
 * --snapshot mount must (ops_file.c, "Kernel opens").
 */
struct fs_stream_file {
	enum fs_handle_kind kind; /* FS_HANDLE_STREAM */
};

/* Table ino's attributes into *a, in txn: -ENOENT unless it is a table. */
static int table_get(struct store_txn *txn, uint64_t table, struct store_attr *a)
{
	int rc = table ? store_inode_get(txn, table, a) : -ENOENT;

	if (rc == 0 && (!S_ISDIR(a->mode) || a->parent != STORE_ROOT_INO || table == STORE_ROOT_INO))
		rc = -ENOENT;
	return rc;
}

/*
 * A stream file's attributes: read-only for whoever may read the table
 * (its read bits and owner), st_size the stream's end, mtime the last
 * record's time (the table's ctime before the first).
 */
int fs_stream_attr(struct fs_ctx *ctx, uint64_t ino, struct store_attr *out)
{
	uint64_t table = ino & ~FS_INO_STREAM_BASE;
	struct store_stream_head h;
	struct store_txn *txn;
	struct store_attr t;
	int rc = fs_txn_read(ctx, &txn);

	if (rc)
		return rc;
	rc = table_get(txn, table, &t);
	if (rc == 0)
		rc = store_stream_head(txn, table, &h);
	fs_txn_read_end(ctx, txn);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	out->ino = ino;
	out->mode = S_IFREG | (t.mode & 0444);
	out->nlink = 1;
	out->uid = t.uid;
	out->gid = t.gid;
	out->size = h.end;
	out->version = h.seq;
	if (h.last_ns) {
		out->mtime.tv_sec = (time_t)(h.last_ns / 1000000000u);
		out->mtime.tv_nsec = (long)(h.last_ns % 1000000000u);
	} else {
		out->mtime = t.ctime;
	}
	out->atime = out->ctime = out->mtime;
	return 0;
}

void fs_stream_lookup(fuse_req_t req, const char *name)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	struct store_attr a;
	uint64_t table = 0;
	size_t len;
	int rc = fs_check_name(name, &len);

	if (rc == 0 && (rc = fs_txn_read(ctx, &txn)) == 0) {
		rc = store_dirent_get(txn, STORE_ROOT_INO, name, len, &table);
		fs_txn_read_end(ctx, txn);
	}
	if (rc == 0)
		rc = fs_stream_attr(ctx, FS_INO_STREAM_BASE | table, &a);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fs_hidden_reply_entry(req, &a, 0); /* tail -f polls the size; others append */
}

void fs_stream_opendir(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_dir *d = calloc(1, sizeof(*d));
	struct store_txn *txn;
	int rc = d ? fs_txn_read(ctx, &txn) : -ENOMEM;

	if (rc == 0) {
		rc = store_dir_list(txn, STORE_ROOT_INO, fs_dir_list_add, d);
		fs_txn_read_end(ctx, txn);
	}
	if (rc) {
		fs_dir_free(d);
		fuse_reply_err(req, -rc);
		return;
	}
	for (size_t i = 0; i < d->count; i++) { /* the top level holds tables only */
		d->ents[i].ino |= FS_INO_STREAM_BASE;
		d->ents[i].mode = S_IFREG;
	}
	d->kind = FS_HANDLE_DIR;
	d->ino = FS_INO_STREAMS_DIR;
	fs_dir_open_reply(req, fi, d);
}

void fs_stream_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_stream_file *s;
	struct store_attr a;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EACCES); /* root passes the kernel's mode check */
		return;
	}
	rc = fs_stream_attr(fs_ctx_of(req), ino, &a);
	s = rc ? NULL : malloc(sizeof(*s));
	if (!s) {
		fuse_reply_err(req, rc ? -rc : ENOMEM);
		return;
	}
	s->kind = FS_HANDLE_STREAM;
	fi->fh = (uintptr_t)s;
	fi->direct_io = 1; /* every read sees what other mounts appended */
	if (fuse_reply_open(req, fi) != 0)
		free(s);
}

void fs_stream_read(fuse_req_t req, uint64_t ino, size_t size, off_t off)
{
	uint64_t table = ino & ~FS_INO_STREAM_BASE;
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	char *buf = off >= 0 ? malloc(size ? size : 1) : NULL;
	size_t len = 0;
	int rc = buf ? fs_txn_read(ctx, &txn) : off < 0 ? -EINVAL : -ENOMEM;

	if (rc == 0) {
		rc = store_stream_read(txn, table, (uint64_t)off, buf, size, &len);
		fs_txn_read_end(ctx, txn);
	}
	if (rc == -EIO)
		fs_log(LOG_ERR,
		       "change stream of table inode %llu cannot be read at offset %lld: "
		       "reads return EIO; run itemfs check",
		       (unsigned long long)table, (long long)off);
	ctx->stream.reads++;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, len);
	free(buf);
}

void fs_stream_release(fuse_req_t req, struct fs_stream_file *s)
{
	free(s);
	fuse_reply_err(req, 0);
}

/*
 * SEEK_DATA and SEEK_HOLE on a stream file: what trimming removed is a
 * hole, the records kept are data.
 */
int fs_stream_lseek(struct fs_ctx *ctx, fuse_ino_t ino, off_t off, int whence, off_t *out)
{
	uint64_t table = ino & ~FS_INO_STREAM_BASE;
	struct store_stream_head h;
	struct store_txn *txn;
	uint64_t p = (uint64_t)off;
	int rc = off < 0 ? -ENXIO : fs_txn_read(ctx, &txn);

	if (rc)
		return rc;
	rc = store_stream_head(txn, table, &h);
	fs_txn_read_end(ctx, txn);
	if (rc)
		return rc;
	if (p >= h.end)
		return -ENXIO;
	if (whence == SEEK_DATA) {
		if (p < h.first)
			p = h.first;
		if (p >= h.end)
			return -ENXIO;
	} else {
		p = p < h.first ? p : h.end;
	}
	*out = (off_t)p;
	return 0;
}
