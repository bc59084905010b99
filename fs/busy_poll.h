/*
 * busy_poll.h - receiving a FUSE session's requests without sleeping
 * (-o busy_poll; fs/session.c has why). Its own library, so that
 * tests/bench/nullfs.c, the ceiling itemfs is measured against, receives
 * requests with the very code itemfs does.
 */
#ifndef ITEMFS_BUSY_POLL_H
#define ITEMFS_BUSY_POLL_H

#include <fuse_lowlevel.h>

/* Makes the session's device non-blocking, for busy_poll_receive(): 0 or -errno. */
int busy_poll_start(struct fuse_session *se);

/*
 * Reads the next request into buf without blocking, again and again,
 * yielding the CPU between reads (sched_yield(2): a client waiting for
 * this CPU gets it), until one comes or CLOCK_MONOTONIC passes until
 * (seconds). Returns as fuse_session_receive_buf() does: -EAGAIN when none
 * came in time.
 */
int busy_poll_receive(struct fuse_session *se, struct fuse_buf *buf, double until);

/*
 * Sleeps in poll(2) until the device has a request, then reads it, or
 * until @secs have passed (< 0: no limit). Returns as
 * fuse_session_receive_buf() does (-EAGAIN: none in time), or -errno of
 * poll() (-EINTR: a signal came first).
 */
int busy_poll_wait(struct fuse_session *se, struct fuse_buf *buf, double secs);

/*
 * Idle polling (-o idle_poll). A reply wakes the client that waits for it;
 * on a CPU that halted meanwhile, that wake-up costs tens of microseconds on
 * a virtual machine. A hold asks the kernel for a CPU wake-up latency of
 * 0 us (PM QoS, the /dev/cpu_dma_latency interface: the request stands while
 * the file is open), so that idle CPUs poll instead of halting, until a
 * time of its own; releasing it closes the file. Every CPU of the machine
 * is affected while it is held. Times are CLOCK_MONOTONIC seconds, as
 * busy_poll_receive()'s.
 */
struct busy_poll_qos {
	int fd;	      /* /dev/cpu_dma_latency while held, else -1 */
	double until; /* when the hold ends, while held */
};

#define BUSY_POLL_QOS_INIT {.fd = -1, .until = 0}

/*
 * Takes the hold, or extends the one held, to end @secs after @now:
 * 1 taken, 0 extended, or -errno (-EACCES: not root).
 */
int busy_poll_qos_extend(struct busy_poll_qos *q, double now, double secs);

/* Lets go a hold whose time is up at @now; returns when the one still held ends, or -1. */
double busy_poll_qos_due(struct busy_poll_qos *q, double now);

/* Lets it go, if held. */
void busy_poll_qos_release(struct busy_poll_qos *q);

#endif
