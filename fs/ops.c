/*
 * ops.c - the fuse_lowlevel_ops table, session start and end, and the
 * kernel's forgetting of inodes.
 */
#include "fs.h"

void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs_ctx *ctx = userdata;

	/*
	 * A snapshot never changes and has no writers: the kernel may open its
	 * files without asking (ops_file.c, "Kernel opens").
	 */
	if (ctx->opts.snapshot && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		ctx->kernel_opens = true;
	}
	/*
	 * No atomic O_TRUNC: with it the kernel zeroes the inode's i_size itself
	 * at open, under the readers of the committed version. Without it,
	 * O_TRUNC is a setattr through the new file, which joins the pending
	 * version and whose reply we control (ops_file.c).
	 */
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/*
	 * Every listing with attributes, not only its first batch (libfuse
	 * asks for "auto" by default): what lists a directory mostly stats
	 * its entries next (ls -l, tar, rsync, du), and an entry whose
	 * attributes the kernel lacks (a write drops them) costs a GETATTR
	 * round trip each. Measured on 20,000 items (docs/benchmarks.md): a
	 * statx of every entry right after the creates 0.46 -> 0.14 s, after a
	 * remount 0.6 -> 0.05 s; a names-only find after a remount 0.047 ->
	 * 0.15 s, the price.
	 */
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	/* The store is the truth: data changes come back through attributes. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
}

/* The session ends: every acknowledged change becomes durable before we exit. */
void fs_op_destroy(void *userdata)
{
	fs_files_drop_pending(userdata);
	fs_batch_commit(userdata);
}

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_inode *in = fs_inode_find(&ctx->itab, ino);

	if (in)
		fs_inode_put(ctx, in, nlookup);
	else if (fs_ino_is_index(ino))
		fs_index_forget(ctx, ino, nlookup);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs_ctx *ctx = fs_ctx_of(req);

	for (size_t i = 0; i < count; i++) {
		struct fs_inode *in = fs_inode_find(&ctx->itab, forgets[i].ino);
		if (in)
			fs_inode_put(ctx, in, forgets[i].nlookup);
		else if (fs_ino_is_index(forgets[i].ino))
			fs_index_forget(ctx, forgets[i].ino, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.destroy = fs_op_destroy,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.setattr = fs_op_setattr,
	.readlink = fs_op_readlink,
	.mknod = fs_op_mknod,
	.mkdir = fs_op_mkdir,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.symlink = fs_op_symlink,
	.rename = fs_op_rename,
	.link = fs_op_link,
	.open = fs_op_open,
	.read = fs_op_read,
	.lseek = fs_op_lseek,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.release = fs_op_release,
	.fsync = fs_op_fsync,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.fsyncdir = fs_op_fsyncdir,
	.statfs = fs_op_statfs,
	.setxattr = fs_op_setxattr,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
	.removexattr = fs_op_removexattr,
	.access = fs_op_access,
	.create = fs_op_create,
};
