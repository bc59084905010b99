/*
 * commit.c - group commit: many requests share one store write transaction.
 *
 * A synced LMDB commit costs a disk flush (about 70 us here, milliseconds on
 * real disks); one per request caps creates at a few thousand a second. So
 * requests that change the store run in a transaction nested in one batch
 * transaction (store_txn_begin_nested(): a request that fails halfway
 * leaves the batch as it was), and the batch is committed - atomically and
 * durably, by LMDB's own synced commit - when the first of these happens:
 *  - it is commit_interval seconds old (checked after each request, and,
 *    when the mount is idle, at the batch's deadline: see session.c);
 *  - it holds FS_BATCH_MAX_OPS requests or FS_BATCH_MAX_BYTES of item data;
 *  - fsync or fsyncdir asks (everything acknowledged before is then on disk);
 *  - the mount ends (unmount, SIGTERM, SIGINT).
 * Reads in this mount go through the batch, so they see every write it
 * holds (read-your-writes); other mounts and processes see the batch when
 * it commits, within commit_interval.
 *
 * A crash loses at most the batch that was not committed: never part of a
 * request, never part of an item (LMDB commits are all-or-nothing, and
 * every commit is synced: no MDB_NOSYNC, see docs/durability.md).
 *
 * When the disk is nearly full, a failed batch commit would lose requests
 * that were already acknowledged, so below FS_BATCH_DISK_MIN of free space
 * every request commits on its own and reports ENOSPC itself. With
 * commit_interval=0 every request always commits on its own.
 *
 * Threads: one. LMDB's write lock belongs to the thread that began the
 * write transaction, so the thread that begins a batch must commit it: the
 * session loop wakes itself at the batch's deadline instead of leaving idle
 * batches to a second thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs.h"

/* A batch commits early when it holds this many requests... */
#define FS_BATCH_MAX_OPS 8192u
/* ...or this much item data (bytes). */
#define FS_BATCH_MAX_BYTES (32u << 20)
/* Below this much free disk, each request commits on its own. */
#define FS_BATCH_DISK_MIN (256ull << 20)

static bool disk_is_low(const struct fs_ctx *ctx)
{
	struct statvfs v;

	if (store_path_is_url(ctx->opts.store_path))
		return false; /* no local disk: the server answers ENOSPC itself */
	if (statvfs(ctx->opts.store_path, &v) != 0)
		return true; /* cannot tell: be safe */
	return (unsigned long long)v.f_bavail * v.f_frsize < FS_BATCH_DISK_MIN;
}

int fs_txn_read(struct fs_ctx *ctx, struct store_txn **out)
{
	if (ctx->snapshot) {
		*out = ctx->snapshot;
		return 0;
	}
	if (ctx->batch) {
		*out = ctx->batch;
		return 0;
	}
	return store_txn_begin(ctx->store, STORE_TXN_READ, out);
}

void fs_txn_read_end(struct fs_ctx *ctx, struct store_txn *txn)
{
	if (txn && txn != ctx->batch && txn != ctx->snapshot)
		store_txn_abort(txn);
}

int fs_txn_write(struct fs_ctx *ctx, struct store_txn **out)
{
	int rc;

	ctx->stream.req++; /* a new request: its stream records get a seq of their own */

	if (!ctx->batch) {
		if (ctx->opts.commit_interval <= 0 || disk_is_low(ctx)) {
			rc = store_txn_begin(ctx->store, STORE_TXN_WRITE, out);
			if (rc == 0)
				ctx->view_wrote = true;
			return rc;
		}
		rc = store_txn_begin(ctx->store, STORE_TXN_WRITE, &ctx->batch);
		if (rc)
			return rc;
		ctx->batch_start = fs_mono_now();
		ctx->batch_ops = 0;
		ctx->batch_bytes = 0;
	}
	ctx->batch_ops++;
	rc = store_txn_begin_nested(ctx->batch, out);
	if (rc == 0)
		ctx->view_wrote = true;
	return rc;
}

void fs_batch_account(struct fs_ctx *ctx, size_t bytes)
{
	if (ctx->batch)
		ctx->batch_bytes += bytes;
}

int fs_batch_commit(struct fs_ctx *ctx)
{
	struct store_txn *batch = ctx->batch;
	int rc;

	if (!batch)
		return 0;
	ctx->batch = NULL;
	rc = store_txn_commit(batch);
	if (rc)
		fs_log(LOG_ERR,
		       "store %s: could not commit %u changes (%s): they are lost, the store is "
		       "as it was before them; %s",
		       ctx->opts.store_path, ctx->batch_ops, strerror(-rc),
		       rc == -ENOSPC ? "free disk space"
				     : "check the disk, then run `itemfs check` on the store");
	return rc;
}

/* When the open batch is due (fs_mono_now() seconds); -1 without one. */
double fs_batch_due(const struct fs_ctx *ctx)
{
	return ctx->batch ? ctx->batch_start + ctx->opts.commit_interval : -1;
}

void fs_batch_tick(struct fs_ctx *ctx)
{
	if (ctx->batch &&
	    (ctx->batch_ops >= FS_BATCH_MAX_OPS || ctx->batch_bytes >= FS_BATCH_MAX_BYTES ||
	     fs_mono_now() >= fs_batch_due(ctx)))
		fs_batch_commit(ctx);
}

int fs_sync(struct fs_ctx *ctx)
{
	if (ctx->batch)
		return fs_batch_commit(ctx); /* a synced commit: durable on return */
	return store_sync(ctx->store);
}
