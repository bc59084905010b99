/*
 * session.c - the session thread's request loop: one thread receives and
 * answers every FUSE request (docs/design.md, "Threading"), and keeps the
 * deadlines of group commit (commit.c), of writers waiting for page-cache
 * readers (ops_file.c) and of the expiry reaper (ttl.c).
 *
 * Busy polling (-o busy_poll=US). A FUSE request is a round trip between
 * two threads, and each side that sleeps must be woken. On a virtual
 * machine whose idle CPUs halt, a wake-up of a halted CPU costs tens of
 * microseconds (80 us for a pipe ping-pong between two CPUs here, 8 us on
 * one CPU; docs/benchmarks.md), several times what itemfs does for a
 * request. So after each request the loop keeps reading the device without
 * blocking for up to busy_poll microseconds: the next request of a client
 * that is busy finds it awake, and the client's CPU has not halted yet when
 * the reply comes. Between reads it yields the CPU (sched_yield(2)), so a
 * client thread waiting for this CPU is not kept from it. After busy_poll
 * idle microseconds it blocks in poll(2): an idle mount uses no CPU. The
 * same trade as the kernel's own halt polling and net.core.busy_poll.
 * busy_poll=0 blocks in read(2) at once, as libfuse's loop does.
 *
 * Idle polling (-o idle_poll=MS). Busy polling keeps this thread's CPU
 * awake; the client's CPU still halts while it waits for a reply, and the
 * reply must wake it (the daemon's writev() of the reply then spends its
 * time in the wake-up: 15 % of the daemon under rm -rf). So from the first
 * request until MS milliseconds after the last, the loop holds a CPU
 * wake-up latency request of 0 us (PM QoS; busy_poll.h): idle CPUs poll
 * instead of halting, and a wake-up is a store to a polled flag. Without
 * the permission (not root) it logs once and goes on without.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "busy_poll.h"
#include "fs.h"

/* A deadline's wake-up signal is repeated this often until it is seen (ns). */
#define FS_WAKE_REPEAT_NS 10000000L

#ifndef sigev_notify_thread_id /* glibc names it from 2.38 on */
#define sigev_notify_thread_id _sigev_un._tid
#endif

/*
 * The session thread's alarm clock. An idle thread blocks in read(2) of
 * /dev/fuse, as libfuse's own loop does (a poll(2) before each read was a
 * system call more per request: 12-16 % of the daemon's time under load,
 * docs/benchmarks.md), or, busy polling, in poll(2) once it has polled long
 * enough. To wake it at a deadline on an idle mount, a POSIX timer sends it
 * FS_WAKE_SIGNAL, whose handler does nothing: installed without SA_RESTART,
 * the signal makes read() or poll() fail with EINTR. The timer is
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
 * Receives the next request into @fbuf as fuse_session_receive_buf() does
 * (> 0 a request; 0 unmounted; -EINTR woken by the timer for @due; other
 * negative errnos), busy polling until @poll_until (fs_mono_now() seconds)
 * or @due, whichever comes first, before it blocks.
 */
static int receive(struct fs_ctx *ctx, struct fuse_buf *fbuf, struct session_wake *wake,
		   double poll_until, double due, double now)
{
	int res;

	if (ctx->opts.busy_poll == 0) {
		wake_before_read(wake, due, now);
		return fuse_session_receive_buf(ctx->se, fbuf); /* a blocking read */
	}
	if (due >= 0 && due < poll_until)
		poll_until = due;
	res = busy_poll_receive(ctx->se, fbuf, poll_until); /* fs_mono_now()'s clock */
	if (res != -EAGAIN)
		return res;
	now = fs_mono_now();
	if (due >= 0 && due <= now)
		return -EAGAIN; /* the deadline came while polling: no request */
	wake_before_read(wake, due, now);
	return busy_poll_wait(ctx->se, fbuf, -1); /* the timer ends it at @due */
}

/* The earlier of two deadlines, each -1 for none. */
static double earliest(double a, double b)
{
	return a < 0 || (b >= 0 && b < a) ? b : a;
}

/*
 * Takes the idle_poll hold after a request answered at @now, or extends it
 * to @now + idle_poll. A hold that cannot be taken turns idle_poll off,
 * with a log line.
 */
static void idle_poll_after_request(struct fs_ctx *ctx, struct busy_poll_qos *qos, double now)
{
	int rc;

	if (ctx->opts.idle_poll == 0)
		return;
	rc = busy_poll_qos_extend(qos, now, ctx->opts.idle_poll / 1e3);
	if (rc == 1)
		ctx->stats.idle_poll_holds++;
	if (rc >= 0)
		return;
	fs_log(LOG_NOTICE,
	       "cannot hold a CPU wake-up latency through /dev/cpu_dma_latency (%s): idle_poll is "
	       "off (it needs root; -o idle_poll=0 turns it off without this line)",
	       strerror(-rc));
	ctx->opts.idle_poll = 0;
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
	struct busy_poll_qos qos = BUSY_POLL_QOS_INIT;
	double last = 0; /* fs_mono_now() when the last request was answered */
	int res = wake_init(&wake);

	if (res) {
		fs_log(LOG_ERR, "cannot set up the commit timer: %s", strerror(-res));
		return res;
	}
	if (ctx->opts.busy_poll > 0 && (res = busy_poll_start(ctx->se)) != 0) {
		fs_log(LOG_WARNING, "cannot poll /dev/fuse without blocking (%s): busy_poll is off",
		       strerror(-res));
		ctx->opts.busy_poll = 0;
		res = 0;
	}
	while (!fuse_session_exited(ctx->se)) {
		double now = fs_mono_now();
		double due = earliest(fs_batch_due(ctx), fs_waiting_opens_due(ctx));

		due = earliest(due, fs_ttl_due(ctx)); /* the expiry reaper's next pass (ttl.c) */
		/* the idle_poll hold's end: to let it go on an idle mount */
		due = earliest(due, busy_poll_qos_due(&qos, now));

		if (due >= 0 && due <= now) {
			res = 0; /* due already: no request to wait for */
		} else {
			double poll_until = last + ctx->opts.busy_poll / 1e6;

			res = receive(ctx, &fbuf, &wake, poll_until, due, now);
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
		if (res > 0) {
			last = fs_mono_now();
			idle_poll_after_request(ctx, &qos, last);
		}
	}
	busy_poll_qos_release(&qos);
	wake_destroy(&wake);
	free(fbuf.mem);
	fuse_session_reset(ctx->se);
	return res < 0 && res != -ENODEV && res != -EINTR && res != -EAGAIN ? res : 0;
}
