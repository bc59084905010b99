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
 *    when the mount is idle, at the batch's deadline: see fs_session_loop);
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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

/* A batch commits early when it holds this many requests... */
#define FS_BATCH_MAX_OPS 8192u
/* ...or this much item data (bytes). */
#define FS_BATCH_MAX_BYTES (32u << 20)
/* Below this much free disk, each request commits on its own. */
#define FS_BATCH_DISK_MIN (256ull << 20)
/* A deadline's wake-up signal is repeated this often until it is seen (ns). */
#define FS_WAKE_REPEAT_NS 10000000L

#ifndef sigev_notify_thread_id /* glibc names it from 2.38 on */
#define sigev_notify_thread_id _sigev_un._tid
#endif

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
static double batch_due(const struct fs_ctx *ctx)
{
	return ctx->batch ? ctx->batch_start + ctx->opts.commit_interval : -1;
}

void fs_batch_tick(struct fs_ctx *ctx)
{
	if (ctx->batch &&
	    (ctx->batch_ops >= FS_BATCH_MAX_OPS || ctx->batch_bytes >= FS_BATCH_MAX_BYTES ||
	     fs_mono_now() >= batch_due(ctx)))
		fs_batch_commit(ctx);
}

int fs_sync(struct fs_ctx *ctx)
{
	if (ctx->batch)
		return fs_batch_commit(ctx); /* a synced commit: durable on return */
	return store_sync(ctx->store);
}

/*
 * The session thread's alarm clock. The thread blocks in read(2) of
 * /dev/fuse, as libfuse's own loop does (a poll(2) before each read was a
 * system call more per request: 12-16 % of the daemon's time under load,
 * docs/benchmarks.md). To wake it at a deadline on an idle mount, a POSIX
 * timer sends it FS_WAKE_SIGNAL, whose handler does nothing: installed
 * without SA_RESTART, the signal makes read() fail with EINTR. The timer is
 * set only when the earliest deadline changes (about once per batch), never
 * per request. A signal that lands after the loop's last look at the clock
 * but before read() blocks is repeated every FS_WAKE_REPEAT_NS until the
 * loop sees the deadline and disarms the timer.
 */
struct session_wake {
	timer_t timer;
	double at; /* the deadline the timer is set for; -1 when disarmed */
};

#define FS_WAKE_SIGNAL SIGRTMIN

static void wake_handler(int sig)
{
	(void)sig; /* interrupting read() is all it is for */
}

static int wake_init(struct session_wake *w)
{
	struct sigaction sa = {.sa_handler = wake_handler}; /* no SA_RESTART */
	struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID};

	sigemptyset(&sa.sa_mask);
	if (sigaction(FS_WAKE_SIGNAL, &sa, NULL) != 0)
		return -errno;
	ev.sigev_signo = FS_WAKE_SIGNAL;
	ev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &ev, &w->timer) != 0)
		return -errno;
	w->at = -1;
	return 0;
}

static void wake_set(struct session_wake *w, double at)
{
	struct itimerspec its = {{0, 0}, {0, 0}};

	if (at >= 0) {
		its.it_value.tv_sec = (time_t)at;
		its.it_value.tv_nsec = (long)((at - (double)its.it_value.tv_sec) * 1e9);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1; /* zero would disarm */
		its.it_interval.tv_nsec = FS_WAKE_REPEAT_NS;
	}
	if (timer_settime(w->timer, TIMER_ABSTIME, &its, NULL) == 0)
		w->at = at;
}

/*
 * Sets the clock for @due (-1: nothing due) before the loop blocks. A timer
 * set for later than @due, or for a deadline already past (it is repeating),
 * is set again; one set for earlier only wakes the loop early, which is
 * harmless, and is left alone.
 */
static void wake_before_read(struct session_wake *w, double due, double now)
{
	if (due < 0) {
		if (w->at >= 0 && w->at <= now)
			wake_set(w, -1);
		return;
	}
	if (w->at < 0 || due < w->at || w->at <= now)
		wake_set(w, due);
}

/*
 * The handler stays: a signal still on its way must not find the default
 * action (for SIGRTMIN, the end of the process) while the session ends.
 */
static void wake_destroy(struct session_wake *w)
{
	timer_delete(w->timer);
}

/*
 * fuse_session_loop(), with the batch committed when it is due: after each
 * request, and at its deadline on an idle mount (struct session_wake);
 * likewise for the writers waiting for page-cache readers (ops_file.c) and
 * the reaper of expired items (ttl.c).
 * Returns 0 or a negative errno.
 */
int fs_session_loop(struct fs_ctx *ctx)
{
	struct fuse_buf fbuf = {.mem = NULL};
	struct session_wake wake;
	int res = wake_init(&wake);

	if (res) {
		fs_log(LOG_ERR, "cannot set up the commit timer: %s", strerror(-res));
		return res;
	}
	while (!fuse_session_exited(ctx->se)) {
		double t = batch_due(ctx), w = fs_waiting_opens_due(ctx), x = fs_ttl_due(ctx);
		double due = w >= 0 && (t < 0 || w < t) ? w : t, now = fs_mono_now();

		if (x >= 0 && (due < 0 || x < due))
			due = x; /* the expiry reaper's next pass (ttl.c) */

		if (due >= 0 && due <= now) {
			res = 0; /* due already: no request to wait for */
		} else {
			wake_before_read(&wake, due, now);
			res = fuse_session_receive_buf(ctx->se, &fbuf);
			if (res < 0 && res != -EINTR && res != -EAGAIN)
				break;
			if (res == 0) /* unmounted */
				break;
		}
		if (res > 0) {
			(void)fs_view_refresh(ctx, false);
			fuse_session_process_buf(ctx->se, &fbuf);
			fs_view_after_request(ctx);
			fs_view_trim_inodes(ctx);
		}
		fs_waiting_opens_run(ctx, false);
		fs_ttl_tick(ctx);
		fs_batch_tick(ctx);
	}
	wake_destroy(&wake);
	free(fbuf.mem);
	fuse_session_reset(ctx->se);
	return res < 0 && res != -ENODEV && res != -EINTR && res != -EAGAIN ? res : 0;
}
