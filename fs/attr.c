/*
 * attr.c - attributes as the kernel sees them, and the small steps that
 * many handlers share: converting a store_attr to struct stat (with the
 * uncommitted size and mtime of a file being written), replying with an
 * entry, checking names, touching a directory's times.
 */
#include <errno.h>
#include <string.h>

#include "fs.h"

void fs_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

double fs_mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void fs_attr_to_stat(const struct store_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = S_ISDIR(a->mode) ? 0 : (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

/*
 * Reads ino's attributes as this mount reports them to a stat by name: the
 * store's, with the size and mtime of an uncommitted write in this mount.
 * An expired item is -ESTALE (ttl.c): the kernel's name for it is stale.
 */
int fs_attr_get(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino, struct store_attr *out)
{
	int rc = fs_view_attr(ctx, txn, ino, out);
	struct fs_inode *in;

	if (rc == 0 && fs_ttl_hide(ctx, out))
		rc = -ESTALE; /* expired: absent by name (ttl.c, "ESTALE") */
	if (rc)
		return rc;
	in = fs_inode_find(&ctx->itab, ino);
	if (in)
		fs_file_overlay(in, out);
	return 0;
}

/*
 * The attributes as seen through open file f (may be NULL): a writer sees
 * its pending size and mtime, a reader the size of the version it reads.
 */
int fs_attr_get_fh(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino,
		   const struct fs_file *f, struct store_attr *out)
{
	int rc;

	if (!f || f->inode->ino != ino)
		return fs_attr_get(ctx, txn, ino, out);
	rc = fs_view_attr(ctx, txn, ino, out);
	if (rc)
		return rc;
	if (f->inode->ncached)
		fs_file_overlay(f->inode, out); /* the page-cache readers' size */
	else if (f->writable) {
		fs_file_overlay(f->inode, out);
		if (f->dirty)
			out->size = f->len;
	} else {
		out->size = f->len;
	}
	return 0;
}

/*
 * Records that the kernel was just given a's attributes: its i_size is then
 * that version's (or, while page-cache readers are open, theirs; see
 * fs_file_overlay()). A page-cache open of another version has the kernel
 * ask again (ops_file.c).
 */
void fs_attr_sent(struct fs_ctx *ctx, const struct store_attr *a)
{
	struct fs_inode *in = fs_inode_find(&ctx->itab, a->ino);

	if (!in)
		return;
	in->kattr_version = in->ncached ? in->kversion : a->version;
	if (in->writer && in->writer->dirty)
		in->kattr_dirty = true; /* the writer's commit sets other times */
}

/* Sets a directory's mtime and ctime: its entries changed. */
int fs_touch_dir(struct store_txn *txn, uint64_t dir, const struct timespec *now)
{
	struct store_attr a;
	int rc = store_inode_get(txn, dir, &a);

	if (rc)
		return rc;
	a.mtime = a.ctime = *now;
	return store_inode_put(txn, &a);
}

/*
 * Replies to a request that creates or finds a name with its entry, taking
 * the kernel reference the reply hands over.
 */
void fs_reply_entry(fuse_req_t req, const struct store_attr *a, const char *name,
		    uint64_t parent)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = a->ino;
	e.generation = 1;
	e.attr_timeout = fs_ttl_timeout(a, ctx->opts.attr_timeout);
	e.entry_timeout = fs_ttl_timeout(a, ctx->opts.entry_timeout);
	fs_attr_to_stat(a, &e.attr);
	if (fs_inode_ref(&ctx->itab, a->ino, S_ISDIR(a->mode), parent, name,
			 name ? strlen(name) : 0, NULL)) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_attr_sent(ctx, a);
	if (fuse_reply_entry(req, &e) != 0) {
		/* The kernel never got it: undo the reference. */
		struct fs_inode *in = fs_inode_find(&ctx->itab, a->ino);
		if (in)
			fs_inode_put(ctx, in, 1);
	}
}

/*
 * Validates a name an operation would create, remove or rename in parent:
 * as fs_check_name(), and -EPERM inside .itemfs or for .itemfs itself.
 */
int fs_check_entry(uint64_t parent, const char *name, size_t *len)
{
	if (fs_ino_is_hidden(parent) ||
	    (parent == STORE_ROOT_INO && strcmp(name, FS_HIDDEN_NAME) == 0))
		return -EPERM;
	return fs_check_name(name, len);
}

/* Validates a name from the kernel; its length goes to *len. */
int fs_check_name(const char *name, size_t *len)
{
	size_t n = strlen(name);

	if (n > STORE_NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0)
		return -EINVAL;
	*len = n;
	return 0;
}

/* True when the caller of req is in group gid (its primary or a supplementary group). */
static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[64];
	int n;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, (int)(sizeof(groups) / sizeof(groups[0])), groups);
	for (int i = 0; i < n && i < (int)(sizeof(groups) / sizeof(groups[0])); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/*
 * The set-user-ID and set-group-ID bits that a change of a regular file
 * clears, as Linux clears them on a local file system
 * (setattr_should_drop_suidgid(), chown_common()). itemfs keeps libfuse's
 * default FUSE_CAP_HANDLE_KILLPRIV, with which the kernel leaves this to
 * the daemon (and writes with direct I/O never get there in the kernel).
 *
 * FS_PRIV_WRITE (write, truncate): S_ISUID; S_ISGID with group execute,
 * or without it when the caller is not in the file's group; nothing for a
 * caller with CAP_FSETID, which the daemon cannot see and takes to be uid 0.
 * FS_PRIV_CHOWN (a change of owner or group, by anyone, root included):
 * S_ISUID; S_ISGID with group execute, or without it when the caller is
 * neither root nor in the file's group.
 * Returns the bits to clear (0 for anything but a regular file).
 */
mode_t fs_privs_dropped(fuse_req_t req, const struct store_attr *a, enum fs_priv_change why)
{
	bool root = fuse_req_ctx(req)->uid == 0;
	mode_t drop = 0;

	if (!S_ISREG(a->mode) || !(a->mode & (S_ISUID | S_ISGID)))
		return 0;
	if (why == FS_PRIV_WRITE && root)
		return 0;
	if (a->mode & S_ISUID)
		drop |= S_ISUID;
	if ((a->mode & S_ISGID) &&
	    ((a->mode & S_IXGRP) || (!root && !caller_in_group(req, (gid_t)a->gid))))
		drop |= S_ISGID;
	return drop;
}
