/*
 * cond.c - conditional writes: optimistic locking on an item's version
 * (docs/dynamodb.md, "Conditional writes").
 *
 * Every regular file answers a virtual, read-only, never-listed xattr
 * user.itemfs.version with the token "INO:VERSION" of its committed data.
 * Inode numbers are never reused and versions only grow, so a token names
 * one version of one item forever; the inode number is what makes an item
 * put in place by a rename differ from the one it replaced (no ABA).
 *
 * user.itemfs.if_version = TOKEN or "absent" is a condition:
 *  - stored on a staged file, it conditions a rename of that file on its
 *    destination (fs_cond_rename(), in the rename's transaction), and is
 *    removed from the item when the rename succeeds;
 *  - set by the process that has the item open for writing, it is held in
 *    that open file instead (FUSE's setxattr has no file handle: the
 *    caller is matched by pid, as ops_attr.c matches an O_TRUNC) and
 *    checked by every commit of the file (fs_cond_check_commit(), in the
 *    commit's transaction).
 * A condition that fails is -ECANCELED, and nothing changes.
 *
 * The user.itemfs. prefix is reserved and never listed, so that cp -a,
 * tar --xattrs and rsync -X copy neither the token nor a condition. The
 * one exception is user.itemfs.expires (ttl.c): an ordinary attribute, so
 * that a copy keeps the expiry.
 * The xattr handlers, the rename and the commit stay where they are
 * (ops_attr.c, ops_dir.c, file.c) and call in here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs.h"

/* Longest value of a condition: two 20-digit numbers and a colon. */
#define COND_VALUE_MAX 41

/* user.itemfs.expires is an ordinary, listed xattr that the store indexes (ttl.c). */
bool fs_cond_reserved(const char *name)
{
	return strncmp(name, FS_COND_PREFIX, sizeof(FS_COND_PREFIX) - 1) == 0 &&
	       strcmp(name, STORE_XATTR_EXPIRES) != 0;
}

/* Parses 1-20 decimal digits without a leading zero, > 0 and < 2^64. */
static int parse_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20 || p[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(p[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/*
 * Parses a condition's value (size bytes, not NUL-terminated): a token
 * "INO:VERSION" exactly as user.itemfs.version gives it, or "absent".
 * Errors: -EINVAL for anything else.
 */
int fs_cond_parse(const char *v, size_t size, struct fs_cond *out)
{
	const char *colon = memchr(v, ':', size);
	struct fs_cond c = {.set = true};

	if (size == 6 && memcmp(v, "absent", 6) == 0) {
		c.absent = true;
	} else if (!colon || parse_u64(v, (size_t)(colon - v), &c.ino) ||
		   parse_u64(colon + 1, size - (size_t)(colon - v) - 1, &c.version)) {
		return -EINVAL;
	}
	*out = c;
	return 0;
}

/* Writes c as its xattr value into buf (COND_VALUE_MAX + 1 bytes); returns its length. */
static size_t cond_format(const struct fs_cond *c, char *buf)
{
	if (c->absent)
		return (size_t)snprintf(buf, COND_VALUE_MAX + 1, "absent");
	return (size_t)snprintf(buf, COND_VALUE_MAX + 1, "%" PRIu64 ":%" PRIu64, c->ino,
				c->version);
}

/* Whether the item a (NULL: the name is free) satisfies c. */
bool fs_cond_holds(const struct fs_cond *c, const struct store_attr *a)
{
	if (c->absent)
		return a == NULL;
	return a && S_ISREG(a->mode) && a->ino == c->ino && a->version == c->version;
}

/* getxattr's reply shape: size 0 asks for the length; -ERANGE if it does not fit. */
static int copy_value(const char *v, size_t n, char *buf, size_t size, size_t *len)
{
	if (size && n > size)
		return -ERANGE;
	if (size)
		memcpy(buf, v, n);
	*len = n;
	return 0;
}

/* The first file the process pid has open for writing on ino, or NULL. */
static struct fs_file *writer_of(struct fs_ctx *ctx, uint64_t ino, pid_t pid)
{
	for (struct fs_file *f = ctx->files; f; f = f->next)
		if (f->inode->ino == ino && f->writable && f->open_pid == pid)
			return f;
	return NULL;
}

/*
 * setxattr (value non-NULL) or removexattr (value NULL) of a reserved name
 * (fs_cond_reserved()). user.itemfs.version: -EPERM. Other unknown names:
 * -EINVAL on set, -ENODATA on remove. user.itemfs.if_version: the value
 * must parse (-EINVAL); if the caller has ino open for writing, the
 * condition is held by every such file of it (a removal drops the one they
 * hold) and *held is set (flags as setxattr(2): -EEXIST, -ENODATA);
 * otherwise *held stays false and the caller stores (or removes) the
 * attribute, which is set on a regular file only (-EINVAL otherwise).
 */
int fs_cond_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		     size_t size, int flags, bool *held)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	pid_t pid = fuse_req_ctx(req)->pid;
	struct fs_cond c = {.set = false};
	struct store_txn *txn;
	struct store_attr a;
	struct fs_file *w;
	int rc;

	*held = false;
	if (strcmp(name, FS_COND_VERSION) == 0)
		return -EPERM;
	if (strcmp(name, FS_COND_IF) != 0)
		return value ? -EINVAL : -ENODATA;
	if (value && (rc = fs_cond_parse(value, size, &c)))
		return rc;
	w = writer_of(ctx, ino, pid);
	if (w && (value || w->cond.set)) {
		if ((flags & XATTR_CREATE) && w->cond.set)
			return -EEXIST;
		if ((flags & XATTR_REPLACE) && !w->cond.set)
			return -ENODATA;
		for (struct fs_file *f = ctx->files; f; f = f->next)
			if (f->inode->ino == ino && f->writable && f->open_pid == pid)
				f->cond = c;
		*held = true;
		return 0;
	}
	if (!value)
		return 0;
	rc = fs_txn_read(ctx, &txn);
	if (rc)
		return rc;
	rc = fs_view_attr(ctx, txn, ino, &a);
	fs_txn_read_end(ctx, txn);
	if (rc == 0 && !S_ISREG(a.mode))
		rc = -EINVAL;
	return rc;
}

/*
 * getxattr of a reserved name, in txn. user.itemfs.version: the token of
 * the committed version, as stat by name sees it (fs_view_attr());
 * -ENODATA for anything but a regular file. user.itemfs.if_version: the
 * condition the caller's open writer holds, else the stored attribute.
 * Anything else: -ENODATA. size, buf, *len as store_xattr_get().
 */
int fs_cond_getxattr(fuse_req_t req, struct store_txn *txn, fuse_ino_t ino, const char *name,
		     char *buf, size_t size, size_t *len)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	char v[COND_VALUE_MAX + 1];
	struct store_attr a;
	struct fs_cond c = {.set = true};
	struct fs_file *w;
	int rc;

	if (strcmp(name, FS_COND_VERSION) == 0) {
		rc = fs_view_attr(ctx, txn, ino, &a);
		if (rc)
			return rc;
		if (!S_ISREG(a.mode))
			return -ENODATA;
		c.ino = a.ino;
		c.version = a.version;
		return copy_value(v, cond_format(&c, v), buf, size, len);
	}
	if (strcmp(name, FS_COND_IF) != 0)
		return -ENODATA;
	w = writer_of(ctx, ino, fuse_req_ctx(req)->pid);
	if (w && w->cond.set)
		return copy_value(v, cond_format(&w->cond, v), buf, size, len);
	return store_xattr_get(txn, ino, name, buf, size, len);
}

/*
 * listxattr in txn without the reserved names (fs_cond_reserved()); size, buf, *len as
 * store_xattr_list(). The whole list is read (twice: length, then names)
 * so that the answer's length is that of the filtered list.
 */
int fs_cond_listxattr(struct store_txn *txn, fuse_ino_t ino, char *buf, size_t size,
		      size_t *len)
{
	size_t full = 0, out = 0;
	char *all;
	int rc = store_xattr_list(txn, ino, NULL, 0, &full);

	if (rc || full == 0) {
		if (rc == 0)
			*len = 0;
		return rc;
	}
	all = malloc(full);
	if (!all)
		return -ENOMEM;
	rc = store_xattr_list(txn, ino, all, full, &full);
	for (size_t i = 0; rc == 0 && i < full;) {
		size_t n = strnlen(all + i, full - i) + 1;

		if (!fs_cond_reserved(all + i)) {
			memmove(all + out, all + i, n);
			out += n;
		}
		i += n;
	}
	if (rc == 0)
		rc = copy_value(all, out, buf, size, len);
	free(all);
	return rc;
}

/*
 * The condition stored on item a, in *out (out->set false if none). Items
 * without xattrs cost no lookup. Errors: -EINVAL (a stored value that does
 * not parse), those of store_xattr_get().
 */
static int stored_cond(struct store_txn *txn, const struct store_attr *a, struct fs_cond *out)
{
	char v[COND_VALUE_MAX];
	size_t len;
	int rc;

	out->set = false;
	if (!a->ino || a->xattr_bytes == 0 || !S_ISREG(a->mode))
		return 0;
	rc = store_xattr_get(txn, a->ino, FS_COND_IF, v, sizeof(v), &len);
	if (rc == -ENODATA)
		return 0;
	if (rc == -ERANGE)
		return -EINVAL;
	return rc ? rc : fs_cond_parse(v, len, out);
}

/*
 * The condition of a rename, in its transaction txn, before anything is
 * moved: src is the inode being renamed, dst the one its new name holds
 * (dst->ino 0: none). If src carries a condition it must hold for dst
 * (-ECANCELED otherwise), and it is removed from src, in txn. A condition
 * on either side of a RENAME_EXCHANGE is -EINVAL.
 */
int fs_cond_rename(struct store_txn *txn, const struct store_attr *src,
		   const struct store_attr *dst, unsigned flags)
{
	struct fs_cond c;
	int rc = stored_cond(txn, src, &c);

	if (rc)
		return rc;
	if (flags & RENAME_EXCHANGE) {
		if (!c.set)
			rc = stored_cond(txn, dst, &c);
		return rc ? rc : c.set ? -EINVAL : 0;
	}
	if (!c.set)
		return 0;
	if (!fs_cond_holds(&c, dst->ino ? dst : NULL))
		return -ECANCELED;
	return store_xattr_remove(txn, src->ino, FS_COND_IF);
}

/*
 * Rolls f back to the committed version of its item (read in txn), as a
 * write past the item limit does (ops_file.c): the pending version is
 * dropped, and the kernel forgets the pending size it was told.
 */
static void rollback(struct fs_ctx *ctx, struct store_txn *txn, struct fs_file *f, bool exists)
{
	if (!exists || fs_file_load(ctx, txn, f) != 0) {
		/* deleted or unreadable: drop the version, load later */
		fs_view_pages_put(ctx, f);
		free(f->data);
		f->data = NULL;
		f->len = f->cap = 0;
		f->loaded = f->dirty = f->written = f->mtime_pending = false;
	}
	if (f->inode->writer == f)
		f->inode->writer = NULL;
	f->inode->kattr_dirty = false;
	fs_view_inval_attr_now(ctx, f->inode->ino);
}

/*
 * Called by fs_file_commit() in its transaction txn, with rc and *a the
 * result of reading f's inode there. Without a held condition it returns
 * rc. With one, the inode must exist, still have a name and have the
 * condition's token; if not, f is rolled back and -ECANCELED returned.
 */
int fs_cond_check_commit(struct fs_ctx *ctx, struct store_txn *txn, struct fs_file *f, int rc,
			 const struct store_attr *a)
{
	char held[COND_VALUE_MAX + 1], path[1024];

	if (!f->cond.set || (rc && rc != -ENOENT))
		return rc;
	if (rc == 0 && a->nlink > 0 && fs_cond_holds(&f->cond, a))
		return 0;
	cond_format(&f->cond, held);
	fs_inode_path(&ctx->itab, f->inode->ino, path, sizeof(path));
	fs_log(LOG_INFO, "conditional write of %s canceled: it is no longer %s; the item is unchanged",
	       path, held);
	rollback(ctx, txn, f, rc == 0);
	return -ECANCELED;
}

/*
 * Called by fs_file_commit() once f's version is committed (f->attr is
 * it): the held condition follows to that version, so that the file's next
 * commit fails if someone else wrote in between.
 */
void fs_cond_committed(struct fs_file *f)
{
	if (f->cond.set && !f->cond.absent) {
		f->cond.ino = f->attr.ino;
		f->cond.version = f->attr.version;
	}
}
