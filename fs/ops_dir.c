/*
 * ops_dir.c - FUSE handlers that change names: lookup, mknod, mkdir,
 * symlink, unlink, rmdir, link, rename; and readlink.
 *
 * The top level of the mount holds tables only: any non-directory there is
 * refused with EPERM. FIFOs, sockets and device nodes are refused with
 * EPERM everywhere: an item is data, not a rendezvous point. Every handler
 * does its work in one store transaction, so each change is atomic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

/* Deepest directory nesting walked when checking a rename for loops. */
#define FS_MAX_DEPTH 4096

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	struct store_attr a;
	size_t len;
	int rc;

	if (fs_hidden_lookup(req, parent, name))
		return;
	rc = fs_check_name(name, &len);
	if (rc == 0)
		rc = fs_txn_read(ctx, &txn);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = fs_view_lookup(ctx, txn, parent, name, len, &a.ino);
	if (rc == 0)
		rc = fs_attr_get(ctx, txn, a.ino, &a);
	fs_txn_read_end(ctx, txn);
	if (rc == -ENOENT || rc == -ESTALE) { /* ESTALE: expired (ttl.c) */
		/* A negative entry: the kernel drops it itself when we create the name. */
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		e.entry_timeout = ctx->opts.entry_timeout;
		fuse_reply_entry(req, &e);
	} else if (rc) {
		fuse_reply_err(req, -rc);
	} else {
		fs_reply_entry(req, &a, name, parent);
	}
}

/*
 * Creates parent/name with mode (type included) owned by the caller, with
 * a symlink's target, and returns its attributes in *out.
 * Errors: -EPERM (non-directory at the top level; FIFO, socket, device),
 * -EEXIST, -ENOTDIR, -ENAMETOOLONG, -EFBIG (target past the item limit),
 * -ENOSPC, -EIO.
 */
int fs_make_node(fuse_req_t req, uint64_t parent, const char *name, mode_t mode,
		 const char *target, struct store_attr *out)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	const struct fuse_ctx *caller = fuse_req_ctx(req);
	struct store_txn *txn;
	struct store_attr p, a;
	size_t len;
	int rc = fs_check_entry(parent, name, &len);

	if (rc)
		return rc;
	if (!S_ISREG(mode) && !S_ISDIR(mode) && !S_ISLNK(mode))
		return -EPERM;
	if (parent == STORE_ROOT_INO && !S_ISDIR(mode))
		return -EPERM;
	rc = fs_txn_write(ctx, &txn);
	if (rc)
		return rc;
	rc = store_inode_get(txn, parent, &p);
	if (rc)
		goto out;
	if (!S_ISDIR(p.mode)) {
		rc = -ENOTDIR;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	rc = store_ino_alloc(txn, &a.ino);
	if (rc)
		goto out;
	a.mode = mode;
	a.uid = caller->uid;
	a.gid = caller->gid;
	if (p.mode & S_ISGID) {
		a.gid = p.gid;
		if (S_ISDIR(mode))
			a.mode |= S_ISGID;
	}
	fs_now(&a.ctime);
	a.atime = a.mtime = a.ctime;
	rc = store_inode_put(txn, &a);
	if (rc == 0)
		rc = fs_ttl_dirent_add(ctx, txn, parent, name, len, a.ino);
	if (rc == 0 && target)
		rc = store_data_put(txn, a.ino, target, strlen(target));
	if (rc == 0)
		rc = fs_touch_dir(txn, parent, &a.ctime);
	if (rc == 0)
		rc = store_inode_get(txn, a.ino, out);
	if (rc == 0)
		rc = fs_stream_name(ctx, txn, parent, name, len, NULL, out);
	if (rc == 0) {
		rc = store_txn_commit(txn);
		return rc;
	}
out:
	store_txn_abort(txn);
	return rc;
}

static void make_and_reply(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			   const char *target)
{
	struct store_attr a;
	int rc = fs_make_node(req, parent, name, mode, target, &a);

	if (rc)
		fuse_reply_err(req, -rc);
	else
		fs_reply_entry(req, &a, name, parent);
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)rdev;
	make_and_reply(req, parent, name, mode, NULL);
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	if (fs_ino_is_index(parent)) { /* declares an index (index.c) */
		fs_index_mkdir(req, parent, name);
		return;
	}
	make_and_reply(req, parent, name, S_IFDIR | (mode & 07777), NULL);
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	make_and_reply(req, parent, name, S_IFLNK | 0777, link);
}

/* Which references keep a non-directory whose last name goes (settle_inode()). */
enum fs_keep {
	FS_KEEP_IF_OPEN, /* unlink: an open file */
	FS_KEEP_IF_HELD, /* a rename replacing it: an open file or a kernel lookup */
};

/*
 * Sets ino's ctime to now, or, for a non-directory whose last name is
 * gone, frees it - unless this mount still holds it (keep): it is then an
 * orphan (fs/orphan.c), readable through the references that keep it.
 * A rename that replaces a name keeps the old inode while the kernel has it
 * looked up: a process that resolved the name just before `mv tmp name`
 * is about to open it, and must get the old item, never ENOENT. An unlink
 * keeps it only while it is open (an open racing rm may fail: it came
 * after), which spares rm -rf a second transaction per file.
 * Directories are freed by their remover, who checked they are empty.
 */
static int settle_inode(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino,
			const struct timespec *now, enum fs_keep keep)
{
	struct fs_inode *in;
	struct store_attr a;
	int rc = store_inode_get(txn, ino, &a);

	if (rc)
		return rc;
	if (S_ISDIR(a.mode) || a.nlink > 0) {
		a.ctime = *now;
		return store_inode_put(txn, &a);
	}
	in = fs_inode_find(&ctx->itab, ino);
	if (!in || !(in->nopen || (keep == FS_KEEP_IF_HELD && in->nlookup)))
		return store_inode_free(txn, ino);
	a.ctime = *now;
	rc = store_inode_put(txn, &a);
	if (rc == 0)
		rc = store_orphan_add(txn, ino);
	if (rc == 0)
		in->orphan = true; /* orphan_free() checks the store before freeing */
	return rc;
}

/*
 * Removes the name parent/name of the non-directory ino in txn, as unlink
 * does: ino is freed when that was its last name and this mount does not
 * have it open (else it is an orphan), and parent's times are touched.
 */
int fs_unlink_name(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent, const char *name,
		   size_t len, uint64_t ino)
{
	struct store_attr a;
	struct timespec now;
	int rc = store_inode_get(txn, ino, &a);

	if (rc == 0)
		rc = fs_stream_name(ctx, txn, parent, name, len, &a, NULL);
	if (rc == 0)
		rc = store_dirent_remove(txn, parent, name, len, NULL);
	fs_now(&now);
	if (rc == 0)
		rc = settle_inode(ctx, txn, ino, &now, FS_KEEP_IF_OPEN);
	if (rc == 0)
		rc = fs_touch_dir(txn, parent, &now);
	return rc;
}

/*
 * Removes parent/name (len bytes, checked) in txn; want_dir selects rmdir
 * (the entry must be an empty directory) or unlink (it must not be a
 * directory). On success *ino (may be NULL) is the inode it named.
 */
int fs_remove_in(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent, const char *name,
		 size_t len, bool want_dir, uint64_t *ino)
{
	struct store_attr a;
	struct timespec now;
	int rc = fs_ttl_entry_get(ctx, txn, parent, name, len, &a); /* expired: absent */

	if (rc)
		return rc;
	if (want_dir && !S_ISDIR(a.mode))
		return -ENOTDIR;
	if (!want_dir && S_ISDIR(a.mode))
		return -EISDIR;
	if (want_dir && (rc = store_dir_is_empty(txn, a.ino)) != 1)
		return rc < 0 ? rc : -ENOTEMPTY;
	if (!want_dir) {
		rc = fs_unlink_name(ctx, txn, parent, name, len, a.ino);
	} else {
		fs_now(&now);
		rc = store_dirent_remove(txn, parent, name, len, NULL);
		if (rc == 0)
			rc = store_inode_free(txn, a.ino); /* empty: checked above */
		if (rc == 0)
			rc = fs_touch_dir(txn, parent, &now);
	}
	if (rc == 0 && ino)
		*ino = a.ino;
	return rc;
}

static int do_remove(struct fs_ctx *ctx, uint64_t parent, const char *name, bool want_dir)
{
	struct store_txn *txn;
	size_t len;
	int rc = fs_check_entry(parent, name, &len);

	if (rc)
		return rc;
	rc = fs_txn_write(ctx, &txn);
	if (rc)
		return rc;
	rc = fs_remove_in(ctx, txn, parent, name, len, want_dir, NULL);
	if (rc == 0)
		return store_txn_commit(txn);
	store_txn_abort(txn);
	return rc;
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -do_remove(fs_ctx_of(req), parent, name, false));
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (fs_ino_is_index(parent)) { /* drops an index (index.c) */
		fuse_reply_err(req, -fs_index_declare(req, parent, name, false));
		return;
	}
	fuse_reply_err(req, -do_remove(fs_ctx_of(req), parent, name, true));
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	struct store_attr a;
	struct timespec now;
	size_t len;
	int rc = fs_check_entry(newparent, newname, &len);

	if (rc == 0 && fs_ino_is_hidden(ino))
		rc = -EPERM;
	if (rc == 0 && newparent == STORE_ROOT_INO)
		rc = -EPERM;
	if (rc == 0)
		rc = fs_txn_write(ctx, &txn);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = store_inode_get(txn, ino, &a);
	if (rc == 0 && fs_ttl_hide(ctx, &a))
		rc = -ESTALE; /* expired: the kernel looks the name up again (ttl.c) */
	if (rc == 0 && S_ISDIR(a.mode))
		rc = -EPERM;
	if (rc == 0)
		rc = fs_ttl_dirent_add(ctx, txn, newparent, newname, len, ino);
	fs_now(&now);
	if (rc == 0)
		rc = settle_inode(ctx, txn, ino, &now, FS_KEEP_IF_HELD);
	if (rc == 0)
		rc = fs_touch_dir(txn, newparent, &now);
	if (rc == 0)
		rc = fs_attr_get(ctx, txn, ino, &a);
	if (rc == 0)
		rc = fs_stream_name(ctx, txn, newparent, newname, len, NULL, &a);
	if (rc == 0)
		rc = store_txn_commit(txn);
	else
		store_txn_abort(txn);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fs_reply_entry(req, &a, newname, newparent);
}

/* -EINVAL if dir is ino or lies below it: moving ino there would make a loop. */
static int check_not_below(struct store_txn *txn, uint64_t dir, uint64_t ino)
{
	for (int depth = 0; depth < FS_MAX_DEPTH; depth++) {
		struct store_attr a;
		int rc;

		if (dir == ino)
			return -EINVAL;
		if (dir == STORE_ROOT_INO)
			return 0;
		rc = store_inode_get(txn, dir, &a);
		if (rc)
			return rc;
		dir = a.parent;
	}
	return -ELOOP;
}

static int rename_exchange(struct store_txn *txn, struct fs_rename_end *s, struct fs_rename_end *d)
{
	int rc;

	if (!d->a.ino)
		return -ENOENT;
	if ((d->dir == STORE_ROOT_INO && !S_ISDIR(s->a.mode)) ||
	    (s->dir == STORE_ROOT_INO && !S_ISDIR(d->a.mode)))
		return -EPERM;
	if (S_ISDIR(s->a.mode) && (rc = check_not_below(txn, d->dir, s->a.ino)))
		return rc;
	if (S_ISDIR(d->a.mode) && (rc = check_not_below(txn, s->dir, d->a.ino)))
		return rc;
	rc = store_dirent_remove(txn, s->dir, s->name, s->len, NULL);
	if (rc == 0)
		rc = store_dirent_remove(txn, d->dir, d->name, d->len, NULL);
	if (rc == 0)
		rc = store_dirent_add(txn, s->dir, s->name, s->len, d->a.ino);
	if (rc == 0)
		rc = store_dirent_add(txn, d->dir, d->name, d->len, s->a.ino);
	return rc;
}

static int rename_move(struct fs_ctx *ctx, struct store_txn *txn, struct fs_rename_end *s,
		       struct fs_rename_end *d, unsigned flags, const struct timespec *now)
{
	int rc;

	if (d->dir == STORE_ROOT_INO && !S_ISDIR(s->a.mode))
		return -EPERM;
	if (S_ISDIR(s->a.mode) && (rc = check_not_below(txn, d->dir, s->a.ino)))
		return rc;
	if (d->a.ino) {
		if (flags & RENAME_NOREPLACE)
			return -EEXIST;
		if (S_ISDIR(s->a.mode) && !S_ISDIR(d->a.mode))
			return -ENOTDIR;
		if (!S_ISDIR(s->a.mode) && S_ISDIR(d->a.mode))
			return -EISDIR;
		if (S_ISDIR(d->a.mode)) {
			rc = store_dir_is_empty(txn, d->a.ino);
			if (rc != 1)
				return rc < 0 ? rc : -ENOTEMPTY;
		}
		rc = store_dirent_remove(txn, d->dir, d->name, d->len, NULL);
		if (rc == 0)
			rc = S_ISDIR(d->a.mode) ? store_inode_free(txn, d->a.ino)
						: settle_inode(ctx, txn, d->a.ino, now,
							       FS_KEEP_IF_HELD);
		if (rc)
			return rc;
	}
	rc = store_dirent_remove(txn, s->dir, s->name, s->len, NULL);
	if (rc == 0)
		rc = store_dirent_add(txn, d->dir, d->name, d->len, s->a.ino);
	return rc;
}

/*
 * The rename of s over d (names checked, lengths set) with flags, in txn:
 * looks both ends up (filling s->a and d->a; d->a.ino 0 when d is free),
 * checks d's condition (user.itemfs.if_version on s), and moves or
 * exchanges the names, settling what they named. Returns 1 when there was
 * nothing to do (two names of one inode), 0 when renamed, or an errno.
 */
int fs_rename_in(struct fs_ctx *ctx, struct store_txn *txn, struct fs_rename_end *s,
		 struct fs_rename_end *d, unsigned flags)
{
	struct timespec now;
	/* An expired source is absent; an expired destination's name is free. */
	int rc = fs_ttl_entry_get(ctx, txn, s->dir, s->name, s->len, &s->a);

	if (rc)
		return rc;
	rc = fs_ttl_entry_get(ctx, txn, d->dir, d->name, d->len, &d->a);
	if (rc == -ENOENT)
		d->a.ino = 0, rc = 0;
	if (rc)
		return rc;
	if (d->a.ino == s->a.ino) {
		/* Two names of one inode (or the same name): POSIX says do nothing. */
		return (flags & RENAME_NOREPLACE) ? -EEXIST : 1;
	}
	rc = fs_cond_rename(txn, &s->a, &d->a, flags); /* user.itemfs.if_version */
	if (rc)
		return rc;
	fs_now(&now);
	rc = (flags & RENAME_EXCHANGE) ? rename_exchange(txn, s, d)
				       : rename_move(ctx, txn, s, d, flags, &now);
	if (rc == 0)
		rc = settle_inode(ctx, txn, s->a.ino, &now, FS_KEEP_IF_HELD);
	if (rc == 0 && (flags & RENAME_EXCHANGE))
		rc = settle_inode(ctx, txn, d->a.ino, &now, FS_KEEP_IF_HELD);
	if (rc == 0)
		rc = fs_stream_rename(ctx, txn, s, d, flags & RENAME_EXCHANGE);
	if (rc == 0)
		rc = fs_touch_dir(txn, s->dir, &now);
	if (rc == 0 && d->dir != s->dir)
		rc = fs_touch_dir(txn, d->dir, &now);
	return rc;
}

static int do_rename(struct fs_ctx *ctx, struct fs_rename_end *s, struct fs_rename_end *d,
		     unsigned flags)
{
	struct store_txn *txn;
	int rc;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	if ((rc = fs_check_entry(s->dir, s->name, &s->len)) ||
	    (rc = fs_check_entry(d->dir, d->name, &d->len)))
		return rc;
	rc = fs_txn_write(ctx, &txn);
	if (rc)
		return rc;
	rc = fs_rename_in(ctx, txn, s, d, flags);
	if (rc == 0)
		return store_txn_commit(txn);
	store_txn_abort(txn);
	return rc == 1 ? 0 : rc;
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_rename_end s = {.dir = parent, .name = name};
	struct fs_rename_end d = {.dir = newparent, .name = newname};
	int rc = do_rename(ctx, &s, &d, flags);

	if (rc == 0) {
		struct fs_inode *in = fs_inode_find(&ctx->itab, s.a.ino);
		if (in)
			fs_inode_rename(in, d.dir, d.name, d.len);
		in = (flags & RENAME_EXCHANGE) ? fs_inode_find(&ctx->itab, d.a.ino) : NULL;
		if (in)
			fs_inode_rename(in, s.dir, s.name, s.len);
	}
	fuse_reply_err(req, -rc);
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct store_txn *txn;
	struct store_buf buf = {NULL, 0};
	char *target;
	int rc;

	if (fs_ino_is_index(ino)) {
		fs_index_readlink(req, ino);
		return;
	}
	rc = fs_txn_read(ctx, &txn);
	if (rc == 0) {
		rc = store_data_get(txn, ino, &buf);
		fs_txn_read_end(ctx, txn);
	}
	if (rc == -EBADMSG) {
		char path[1024];
		fs_inode_path(&ctx->itab, ino, path, sizeof(path));
		fs_log(LOG_ERR, "checksum mismatch in symlink %s (inode %llu): reads return EIO",
		       path, (unsigned long long)ino);
		rc = -EIO;
	}
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	target = realloc(buf.data, buf.len + 1);
	if (!target) {
		free(buf.data);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	target[buf.len] = '\0';
	fuse_reply_readlink(req, target);
	free(target);
}
