/*
 * ops_attr.c - FUSE handlers for attributes: getattr, setattr (chmod,
 * chown, utimensat, truncate), access, statfs, and user.* xattrs.
 *
 * Only the user.* namespace is stored. Other namespaces (security.*,
 * system.*, trusted.*) are not supported: get, set and remove say
 * EOPNOTSUPP without a store lookup, as a file system without them does.
 * That answer matters for speed: `ls -l` probes security.selinux and
 * system.posix_acl_access on every file, but stops for the whole mount at
 * the first EOPNOTSUPP (ENODATA would cost two round trips per file).
 * The user.itemfs. names (an item's version token, conditions on it) are
 * cond.c's: never listed, answered there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs.h"

static bool is_user_xattr(const char *name)
{
	return strncmp(name, "user.", 5) == 0 && name[5] != '\0';
}

/* 0 for a name of the user.* namespace, else the errno of the namespace. */
static int xattr_name_check(const char *name)
{
	if (is_user_xattr(name))
		return 0;
	return strncmp(name, "user.", 5) == 0 ? -EINVAL : -EOPNOTSUPP;
}

static void reply_attr(fuse_req_t req, const struct store_attr *a)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct stat st;

	fs_attr_to_stat(a, &st);
	fs_attr_sent(ctx, a);
	fuse_reply_attr(req, &st, fs_ttl_timeout(a, ctx->opts.attr_timeout));
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	struct store_attr a;
	int rc;

	if (fs_ino_is_hidden(ino)) {
		fs_hidden_getattr(req, ino);
		return;
	}
	rc = fs_txn_read(ctx, &txn);
	if (rc == 0) {
		rc = fs_attr_get_fh(ctx, txn, ino, fs_file_of(fi), &a);
		fs_txn_read_end(ctx, txn);
	}
	if (rc == -ENOENT || rc == -ESTALE) {
		/* Unlinked (or expired) while open here: fstat still works, with nlink 0. */
		for (struct fs_file *f = ctx->files; f; f = f->next) {
			if (f->inode->ino == ino) {
				/*
				 * This may be a stat by a name the kernel cached before
				 * the expiry was known here: have it forget the name,
				 * so that the next stat by name looks it up (ttl.c).
				 */
				if (rc == -ESTALE && f->inode->name && f->inode->parent)
					fs_view_note_entry(ctx, f->inode->parent, f->inode->name,
							   strlen(f->inode->name));
				a = f->attr;
				a.nlink = 0;
				a.size = f->len;
				rc = 0;
				break;
			}
		}
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_attr(req, &a);
}

/*
 * Truncates through an open writer: the new size is part of its pending
 * version. The kernel sends O_TRUNC this way too, right after open, and a
 * shell's dup2 then flushes; so a truncation alone does not count as
 * written: release or fsync commit it, a flush does not (file.c).
 */
static int truncate_pending(struct fs_file *f, uint64_t size)
{
	int rc;

	if (!f->writable)
		return -EBADF;
	if (!store_item_fits(f->attr.keylen, size, f->attr.xattr_bytes))
		return -EFBIG;
	if (size == 0) {
		f->len = 0;
		f->loaded = true; /* nothing of the old bytes is needed */
	}
	if (!f->loaded)
		return -EIO; /* do_setattr loads it before its transaction */
	rc = fs_file_resize(f, (size_t)size);
	if (rc)
		return rc;
	f->dirty = f->mtime_pending = true;
	fs_now(&f->mtime);
	f->inode->writer = f;
	return 0;
}

/* Truncates the committed item in txn. */
static int truncate_stored(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino,
			   uint64_t size)
{
	struct store_buf buf = {NULL, 0};
	char *p;
	int rc = store_data_get(txn, ino, &buf);

	if (rc == -EBADMSG) {
		char path[1024];
		fs_inode_path(&ctx->itab, ino, path, sizeof(path));
		fs_log(LOG_ERR, "checksum mismatch in item %s (inode %llu): cannot truncate it",
		       path, (unsigned long long)ino);
		return -EIO;
	}
	if (rc)
		return rc;
	if (size > STORE_ITEM_MAX) {
		free(buf.data);
		return -EFBIG;
	}
	p = buf.data;
	if (size > buf.len) {
		p = realloc(buf.data, size);
		if (!p) {
			free(buf.data);
			return -ENOMEM;
		}
		memset(p + buf.len, 0, size - buf.len);
	}
	rc = store_data_put(txn, ino, p, (size_t)size);
	free(p);
	return rc;
}

/*
 * The file an open(O_TRUNC) is truncating. The kernel sends that truncation
 * right after the open, from the opening process, but without the file
 * (only ftruncate passes it): match it to the writer that process has just
 * opened and not yet used, so the truncation joins that writer's pending
 * version instead of replacing the item at once.
 */
static struct fs_file *file_of_open_trunc(struct fs_ctx *ctx, fuse_ino_t ino, pid_t pid)
{
	for (struct fs_file *f = ctx->files; f; f = f->next)
		if (f->inode->ino == ino && f->writable && f->open_pid == pid && !f->dirty &&
		    !f->written)
			return f;
	return NULL;
}

static int do_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *in, int to_set,
		      struct fuse_file_info *fi, struct store_attr *out)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	struct store_attr a;
	struct timespec now;
	struct fs_file *f = fs_file_of(fi);
	int rc;

	if (f && f->inode->ino != ino)
		f = NULL;
	if (!f && (to_set & FUSE_SET_ATTR_SIZE) && in->st_size == 0)
		f = file_of_open_trunc(ctx, ino, fuse_req_ctx(req)->pid);
	/* A writer's old bytes are read before the write transaction: reads go
	 * through the batch, which cannot be used while a nested txn is open. */
	if (f && (to_set & FUSE_SET_ATTR_SIZE) && in->st_size > 0) {
		rc = fs_file_ensure(ctx, f);
		if (rc)
			return rc;
	}
	rc = fs_txn_write(ctx, &txn);
	if (rc)
		return rc;
	fs_now(&now);
	rc = store_inode_get(txn, ino, &a);
	if (rc == 0 && !f && fs_ttl_hide(ctx, &a))
		rc = -ESTALE; /* expired: only an open file still reaches it (ttl.c) */
	if (rc)
		goto out;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(a.mode))
			rc = -EISDIR;
		else if (!S_ISREG(a.mode))
			rc = -EINVAL;
		else if (in->st_size < 0)
			rc = -EINVAL;
		else if (f)
			rc = truncate_pending(f, (uint64_t)in->st_size);
		else
			rc = truncate_stored(ctx, txn, ino, (uint64_t)in->st_size);
		if (rc == 0 && !f) /* through f, the new size stays pending */
			rc = store_inode_get(txn, ino, &a); /* the new size */
		if (rc)
			goto out;
		if (!f && !(to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)))
			a.mtime = now;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		a.mode = (a.mode & S_IFMT) | (in->st_mode & 07777);
	else if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		a.mode &= ~fs_privs_dropped(req, &a, FS_PRIV_CHOWN); /* before the new group */
	else if (to_set & FUSE_SET_ATTR_SIZE)
		a.mode &= ~fs_privs_dropped(req, &a, FS_PRIV_WRITE);
	if (to_set & FUSE_SET_ATTR_UID)
		a.uid = in->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		a.gid = in->st_gid;
	if (to_set & FUSE_SET_ATTR_ATIME)
		a.atime = in->st_atim;
	else if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		a.atime = now;
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		a.mtime = (to_set & FUSE_SET_ATTR_MTIME) ? in->st_mtim : now;
		/* An explicit mtime wins over the pending writes' own. */
		for (struct fs_file *o = ctx->files; o; o = o->next)
			if (o->inode->ino == ino)
				o->mtime_pending = false;
	}
	a.ctime = (to_set & FUSE_SET_ATTR_CTIME) ? in->st_ctim : now;
	rc = store_inode_put(txn, &a);
	if (rc == 0 && (to_set & ~(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_CTIME)))
		rc = fs_stream_inode(ctx, txn, &a); /* an access time alone is no change of the item */
	if (rc == 0)
		rc = fs_attr_get_fh(ctx, txn, ino, f, out);
	if (rc == 0)
		return store_txn_commit(txn);
out:
	store_txn_abort(txn);
	return rc;
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi)
{
	struct store_attr a;
	int rc;

	if (ino == FS_INO_TXN && to_set == FUSE_SET_ATTR_SIZE && attr->st_size == 0) {
		/* open(O_TRUNC) of .itemfs/txn (a shell's >): its size is always 0 */
		fs_hidden_attr(ino, &a);
		rc = 0;
	} else {
		rc = fs_ino_is_hidden(ino) ? -EPERM : do_setattr(req, ino, attr, to_set, fi, &a);
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_attr(req, &a);
}

/* access(2) by the caller's credentials (the kernel asks only without default_permissions). */
void fs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct store_txn *txn;
	struct store_attr a;
	unsigned bits;
	int rc = 0;

	if (fs_ino_is_hidden(ino))
		rc = fs_hidden_attr_get(ctx, ino, &a);
	else if ((rc = fs_txn_read(ctx, &txn)) == 0) {
		rc = store_inode_get(txn, ino, &a);
		fs_txn_read_end(ctx, txn);
	}
	if (rc || mask == F_OK) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (c->uid == 0) {
		bool x_ok = !(mask & X_OK) || S_ISDIR(a.mode) || (a.mode & 0111);
		fuse_reply_err(req, x_ok ? 0 : EACCES);
		return;
	}
	if (c->uid == a.uid)
		bits = (a.mode >> 6) & 7;
	else if (c->gid == a.gid)
		bits = (a.mode >> 3) & 7;
	else
		bits = a.mode & 7;
	fuse_reply_err(req, ((unsigned)mask & ~bits) ? EACCES : 0);
}

/* statfs counts committed pages: the pending batch is committed first, so
 * that df shows what was just written (a rare call: one commit). */
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_statfs s;
	struct statvfs v;
	int rc = fs_batch_commit(ctx);

	(void)ino;
	if (rc == 0)
		rc = store_statfs(ctx->store, &s);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	memset(&v, 0, sizeof(v));
	v.f_bsize = v.f_frsize = 4096;
	v.f_blocks = (s.bytes_used + s.bytes_avail) / 4096;
	v.f_bfree = v.f_bavail = s.bytes_avail / 4096;
	/* Every item needs at least a page's worth of room in the worst case. */
	v.f_ffree = v.f_favail = s.bytes_avail / 4096;
	v.f_files = s.inodes + v.f_ffree;
	v.f_namemax = STORE_NAME_MAX;
	fuse_reply_statfs(req, &v);
}

/* Sets ino's ctime after an xattr change, inside txn. */
static int xattr_touch(struct store_txn *txn, fuse_ino_t ino)
{
	struct store_attr a;
	int rc = store_inode_get(txn, ino, &a);

	if (rc)
		return rc;
	fs_now(&a.ctime);
	return store_inode_put(txn, &a);
}

/*
 * One xattr change in one transaction, with the inode's ctime: set value
 * (flags as setxattr(2)), or remove the attribute when value is NULL.
 */
static int xattr_change(struct fs_ctx *ctx, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct store_txn *txn;
	struct store_attr a;
	int rc;

	if (strcmp(name, STORE_XATTR_EXPIRES) == 0 && !fs_has(ctx, STORE_HAS_EXPIRY))
		return -EOPNOTSUPP; /* no TTL on this backend: not an attribute that lies */
	rc = fs_txn_write(ctx, &txn);
	if (rc)
		return rc;
	rc = store_inode_get(txn, ino, &a);
	if (rc == 0 && fs_ttl_hide(ctx, &a))
		rc = -ESTALE; /* expired: a new time or none comes too late (ttl.c) */
	if (rc == 0)
		rc = value ? store_xattr_set(txn, ino, name, value, size, flags)
			   : store_xattr_remove(txn, ino, name);
	if (rc == 0)
		rc = xattr_touch(txn, ino);
	if (rc == 0)
		rc = store_inode_get(txn, ino, &a);
	if (rc == 0)
		rc = fs_stream_inode(ctx, txn, &a);
	if (rc == 0)
		rc = store_txn_commit(txn);
	else
		store_txn_abort(txn);
	if (rc == 0 && strcmp(name, STORE_XATTR_EXPIRES) == 0)
		fs_ttl_changed(ctx, ino);
	return rc;
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags)
{
	static const char empty[1] = "";
	bool held = false; /* a condition held by the caller's open writer (cond.c) */
	int rc = xattr_name_check(name);

	if (value == NULL) /* an empty value still sets: never pass NULL for it */
		value = empty;
	if (rc == 0 && fs_ino_is_hidden(ino))
		rc = -EPERM;
	if (rc == 0 && fs_cond_reserved(name))
		rc = fs_cond_setxattr(req, ino, name, value, size, flags, &held);
	if (rc == 0 && !held)
		rc = xattr_change(fs_ctx_of(req), ino, name, value, size, flags);
	fuse_reply_err(req, -rc);
}

void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	bool held = false;
	int rc = xattr_name_check(name);

	if (rc == 0 && fs_ino_is_hidden(ino))
		rc = -EPERM;
	if (rc == 0 && fs_cond_reserved(name))
		rc = fs_cond_setxattr(req, ino, name, NULL, 0, 0, &held);
	if (rc == 0 && !held)
		rc = xattr_change(fs_ctx_of(req), ino, name, NULL, 0, 0);
	fuse_reply_err(req, -rc);
}

/* -ESTALE for an expired item (ttl.c); its attributes come from the read cache. */
static int xattr_live(struct fs_ctx *ctx, struct store_txn *txn, fuse_ino_t ino)
{
	struct store_attr a;
	int rc = fs_view_attr(ctx, txn, ino, &a);

	return rc == 0 && fs_ttl_hide(ctx, &a) ? -ESTALE : rc;
}

/*
 * getxattr and listxattr share one reply shape: size 0 asks for the
 * length, otherwise the bytes (ERANGE when they do not fit).
 */
static void reply_sized(fuse_req_t req, int rc, const void *buf, size_t len, size_t size)
{
	if (rc)
		fuse_reply_err(req, -rc);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	char *buf = NULL;
	size_t len = 0;
	int rc = xattr_name_check(name);

	if (rc == 0 && fs_ino_is_hidden(ino))
		rc = -ENODATA;

	if (rc == 0 && size && !(buf = malloc(size)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = fs_txn_read(ctx, &txn);
	if (rc == 0) {
		rc = xattr_live(ctx, txn, ino);
		if (rc == 0)
			rc = fs_cond_reserved(name)
				     ? fs_cond_getxattr(req, txn, ino, name, buf, size, &len)
				     : store_xattr_get(txn, ino, name, buf, size, &len);
		fs_txn_read_end(ctx, txn);
	}
	reply_sized(req, rc, buf, len, size);
	free(buf);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	char *buf = NULL;
	size_t len = 0;
	int rc = 0;

	if (size && !(buf = malloc(size)))
		rc = -ENOMEM;
	if (rc == 0 && fs_ino_is_hidden(ino)) {
		reply_sized(req, 0, buf, 0, size);
		free(buf);
		return;
	}
	if (rc == 0)
		rc = fs_txn_read(ctx, &txn);
	if (rc == 0) {
		rc = xattr_live(ctx, txn, ino);
		if (rc == 0)
			rc = fs_cond_listxattr(txn, ino, buf, size, &len);
		fs_txn_read_end(ctx, txn);
	}
	reply_sized(req, rc, buf, len, size);
	free(buf);
}
