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
 * Sleeps in poll(2) until the device has a request, then reads it. Returns
 * as fuse_session_receive_buf() does, or -errno of poll() (-EINTR: a
 * signal came first).
 */
int busy_poll_wait(struct fuse_session *se, struct fuse_buf *buf);

#endif
