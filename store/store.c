/*
 * store.c - the public store functions: each checks the backend-independent
 * rules of its arguments (name syntax, xattr name length and flags) and
 * dispatches through st->ops. The rules that need stored state (link
 * counts, the item size limit, checksums) are the backend's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sys/xattr.h>

#include "store_i.h"

void store_log(void (*log)(int priority, const char *msg), int priority, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log)
		log(priority, msg);
	else
		fprintf(stderr, "itemfs: %s\n", msg);
}

/* A directory entry name: 1..STORE_NAME_MAX bytes, none of them '/' or NUL. */
static int name_check(const char *name, size_t len)
{
	if (len > STORE_NAME_MAX)
		return -ENAMETOOLONG;
	if (len == 0 || !name || memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	return 0;
}

/* An xattr name: 1..STORE_NAME_MAX bytes, as getxattr(2) checks it. */
static int xattr_name_check(const char *name)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, STORE_NAME_MAX + 1);
	if (len == 0 || len > STORE_NAME_MAX)
		return -ERANGE;
	return 0;
}

int store_attr_merge(struct store_attr *cur, bool exists, const struct store_attr *attr)
{
	if (!exists)
		*cur = (struct store_attr){
		    .ino = attr->ino,
		    .nlink = S_ISDIR(attr->mode) ? 2 : 0,
		    .version = 1,
		};
	else if ((cur->mode ^ attr->mode) & S_IFMT)
		return -EINVAL;
	cur->mode = attr->mode;
	cur->uid = attr->uid;
	cur->gid = attr->gid;
	cur->atime = attr->atime;
	cur->mtime = attr->mtime;
	cur->ctime = attr->ctime;
	return 0;
}

void store_root_attr(struct store_attr *out)
{
	*out = (struct store_attr){
	    .ino = STORE_ROOT_INO,
	    .mode = S_IFDIR | 0755,
	    .uid = (uint32_t)geteuid(),
	    .gid = (uint32_t)getegid(),
	    .nlink = 2,
	    .parent = STORE_ROOT_INO,
	    .version = 1,
	};
	clock_gettime(CLOCK_REALTIME, &out->mtime);
	out->atime = out->ctime = out->mtime;
}

bool store_path_is_url(const char *path)
{
	return path && (strncmp(path, "dynamodb://", 11) == 0 ||
			strncmp(path, "dynamodb+http://", 16) == 0);
}

int store_open(const struct store_config *cfg, struct store **out)
{
	if (!cfg || !cfg->path || !out)
		return -EINVAL;
	if (store_path_is_url(cfg->path))
		return store_ddb_open(cfg, out);
	return store_lmdb_open(cfg, out);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

int store_txn_begin(struct store *st, unsigned flags, struct store_txn **out)
{
	if (flags != STORE_TXN_READ && flags != STORE_TXN_WRITE)
		return -EINVAL;
	return st->ops->txn_begin(st, flags, out);
}

int store_txn_begin_nested(struct store_txn *parent, struct store_txn **out)
{
	return parent->st->ops->txn_begin_nested(parent, out);
}

int store_txn_commit(struct store_txn *txn)
{
	return txn->st->ops->txn_commit(txn);
}

void store_txn_abort(struct store_txn *txn)
{
	if (txn)
		txn->st->ops->txn_abort(txn);
}

int store_ino_alloc(struct store_txn *txn, uint64_t *out)
{
	return txn->st->ops->ino_alloc(txn, out);
}

int store_inode_prefetch(struct store_txn *txn, const uint64_t *inos, size_t n)
{
	if (!txn->st->ops->inode_prefetch || n == 0)
		return 0;
	return inos ? txn->st->ops->inode_prefetch(txn, inos, n) : -EINVAL;
}

int store_inode_get(struct store_txn *txn, uint64_t ino, struct store_attr *out)
{
	return txn->st->ops->inode_get(txn, ino, out);
}

int store_inode_put(struct store_txn *txn, const struct store_attr *attr)
{
	if (attr->ino == 0)
		return -EINVAL;
	return txn->st->ops->inode_put(txn, attr);
}

int store_inode_free(struct store_txn *txn, uint64_t ino)
{
	return txn->st->ops->inode_free(txn, ino);
}

int store_orphan_add(struct store_txn *txn, uint64_t ino)
{
	return txn->st->ops->orphan_add(txn, ino);
}

int store_orphans_reap(struct store_txn *txn, uint64_t *count)
{
	return txn->st->ops->orphans_reap(txn, count);
}

int store_expired(struct store_txn *txn, uint64_t now, store_expiry_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	if (!txn->st->ops->expired)
		return -EOPNOTSUPP;
	return txn->st->ops->expired(txn, now, fn, arg);
}

int store_stream_head(struct store_txn *txn, uint64_t dir, struct store_stream_head *out)
{
	if (!out || dir == 0)
		return -EINVAL;
	if (!txn->st->ops->stream_head)
		return -EOPNOTSUPP;
	return txn->st->ops->stream_head(txn, dir, out);
}

int store_stream_append(struct store_txn *txn, uint64_t dir, uint64_t seq, uint64_t time_ns,
			const void *rec, size_t len, struct store_stream_head *out)
{
	if (!rec || len == 0 || len > STORE_STREAM_REC_MAX || dir == 0)
		return -EINVAL;
	if (!txn->st->ops->stream_append)
		return -EOPNOTSUPP;
	return txn->st->ops->stream_append(txn, dir, seq, time_ns, rec, len, out);
}

int store_stream_trim(struct store_txn *txn, uint64_t dir, uint64_t before_ns, uint64_t max_bytes,
		      unsigned max_records, unsigned *dropped, struct store_stream_head *out)
{
	if (dir == 0)
		return -EINVAL;
	if (!txn->st->ops->stream_trim)
		return -EOPNOTSUPP;
	return txn->st->ops->stream_trim(txn, dir, before_ns, max_bytes, max_records, dropped, out);
}

int store_stream_read(struct store_txn *txn, uint64_t dir, uint64_t off, void *buf, size_t size,
		      size_t *len)
{
	if ((!buf && size) || !len || dir == 0)
		return -EINVAL;
	if (!txn->st->ops->stream_read)
		return -EOPNOTSUPP;
	return txn->st->ops->stream_read(txn, dir, off, buf, size, len);
}

/*
 * One spelling per time, as DynamoDB's TTL attribute is a plain number:
 * so the index and the attribute can be compared byte for byte, and a
 * value a tool rewrote ("+5", " 5", "5\n") is refused rather than guessed.
 */
int store_expires_parse(const void *value, size_t len, uint64_t *out)
{
	const char *p = value;
	uint64_t v = 0;

	if (!p || len == 0 || len > 19 || p[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(p[i] - '0');

		if (d > 9 || v > (STORE_EXPIRES_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int store_dirent_get(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
		     uint64_t *ino)
{
	int rc = name_check(name, len);

	return rc ? rc : txn->st->ops->dirent_get(txn, parent, name, len, ino);
}

int store_dirent_add(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
		     uint64_t ino)
{
	int rc = name_check(name, len);

	return rc ? rc : txn->st->ops->dirent_add(txn, parent, name, len, ino);
}

int store_dirent_remove(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			uint64_t *ino)
{
	int rc = name_check(name, len);

	return rc ? rc : txn->st->ops->dirent_remove(txn, parent, name, len, ino);
}

int store_dir_list(struct store_txn *txn, uint64_t dir, store_dirent_fn fn, void *arg)
{
	return txn->st->ops->dir_list(txn, dir, fn, arg);
}

int store_dir_is_empty(struct store_txn *txn, uint64_t dir)
{
	return txn->st->ops->dir_is_empty(txn, dir);
}

int store_data_get(struct store_txn *txn, uint64_t ino, struct store_buf *out)
{
	return txn->st->ops->data_get(txn, ino, out);
}

int store_data_put(struct store_txn *txn, uint64_t ino, const void *data, size_t len)
{
	if (len > 0 && !data)
		return -EINVAL;
	return txn->st->ops->data_put(txn, ino, data, len);
}

int store_xattr_get(struct store_txn *txn, uint64_t ino, const char *name, void *buf, size_t size,
		    size_t *len)
{
	int rc = xattr_name_check(name);

	return rc ? rc : txn->st->ops->xattr_get(txn, ino, name, buf, size, len);
}

int store_xattr_set(struct store_txn *txn, uint64_t ino, const char *name, const void *value,
		    size_t size, int flags)
{
	int rc = xattr_name_check(name);

	if (rc)
		return rc;
	if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) || flags == (XATTR_CREATE | XATTR_REPLACE) ||
	    (size > 0 && !value))
		return -EINVAL;
	if (strcmp(name, STORE_XATTR_EXPIRES) == 0) {
		uint64_t when;

		rc = store_expires_parse(value, size, &when);
		if (rc)
			return rc;
	}
	return txn->st->ops->xattr_set(txn, ino, name, value, size, flags);
}

int store_xattr_list(struct store_txn *txn, uint64_t ino, char *buf, size_t size, size_t *len)
{
	return txn->st->ops->xattr_list(txn, ino, buf, size, len);
}

int store_xattr_remove(struct store_txn *txn, uint64_t ino, const char *name)
{
	int rc = xattr_name_check(name);

	return rc ? rc : txn->st->ops->xattr_remove(txn, ino, name);
}

int store_statfs(struct store *st, struct store_statfs *out)
{
	return st->ops->statfs(st, out);
}

int store_sync(struct store *st)
{
	return st->ops->sync(st);
}

int store_check(struct store *st, const struct store_check_ops *cb, void *arg,
		struct store_check_summary *out)
{
	if (!out)
		return -EINVAL;
	if (!st->ops->check)
		return -EOPNOTSUPP;
	return st->ops->check(st, cb, arg, out);
}

int store_backup(struct store *st, int fd,
		 void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg)
{
	if (fd < 0)
		return -EBADF;
	if (!st->ops->backup)
		return -EOPNOTSUPP;
	return st->ops->backup(st, fd, progress, arg);
}

uint64_t store_generation(struct store *st)
{
	return st->ops->generation(st);
}

int store_read_barrier(struct store *st)
{
	return st->ops->barrier ? st->ops->barrier(st) : 0;
}

unsigned store_features(const struct store *st)
{
	return st->ops->features;
}

uint64_t store_origin(struct store *st)
{
	return st->ops->origin(st);
}

int store_change_last(struct store_txn *txn, uint64_t *seq)
{
	if (!seq)
		return -EINVAL;
	return txn->st->ops->change_last(txn, seq);
}

int store_changes(struct store_txn *txn, uint64_t after, store_change_fn fn, void *arg)
{
	if (!fn)
		return -EINVAL;
	return txn->st->ops->changes(txn, after, fn, arg);
}

int store_in_use(const char *path)
{
	if (!path)
		return -EINVAL;
	if (store_path_is_url(path))
		return 1; /* other machines may have it mounted: nobody can tell */
	return store_lmdb_in_use(path);
}

int store_index_add(struct store_txn *txn, uint64_t table, const char *attr)
{
	if (!txn->st->ops->index_add)
		return -EOPNOTSUPP;
	return txn->st->ops->index_add(txn, table, attr);
}

int store_index_drop(struct store_txn *txn, uint64_t table, const char *attr)
{
	if (!txn->st->ops->index_drop)
		return -EOPNOTSUPP;
	return txn->st->ops->index_drop(txn, table, attr);
}

int store_index_list(struct store_txn *txn, uint64_t table, store_index_fn fn, void *arg)
{
	if (!txn->st->ops->index_list)
		return -EOPNOTSUPP;
	return fn ? txn->st->ops->index_list(txn, table, fn, arg) : -EINVAL;
}

int store_index_values(struct store_txn *txn, uint64_t table, const char *attr, const void *from,
		       size_t fromlen, store_index_value_fn fn, void *arg)
{
	if (!fn || (fromlen && !from))
		return -EINVAL;
	if (!txn->st->ops->index_values)
		return -EOPNOTSUPP;
	return txn->st->ops->index_values(txn, table, attr, from, fromlen, fn, arg);
}

int store_index_items(struct store_txn *txn, uint64_t table, const char *attr, const void *value,
		      size_t len, store_index_item_fn fn, void *arg)
{
	if (!fn || (len && !value))
		return -EINVAL;
	if (!txn->st->ops->index_items)
		return -EOPNOTSUPP;
	return txn->st->ops->index_items(txn, table, attr, value, len, fn, arg);
}
