/*
 * busy_poll.c - receiving a FUSE session's requests without sleeping
 * (busy_poll.h).
 */
#include "busy_poll.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <time.h>

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int busy_poll_start(struct fuse_session *se)
{
	int fd = fuse_session_fd(se), fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return -errno;
	return 0;
}

int busy_poll_receive(struct fuse_session *se, struct fuse_buf *buf, double until)
{
	int res;

	while ((res = fuse_session_receive_buf(se, buf)) == -EAGAIN && mono_now() < until)
		sched_yield();
	return res;
}

int busy_poll_wait(struct fuse_session *se, struct fuse_buf *buf)
{
	struct pollfd pfd = {.fd = fuse_session_fd(se), .events = POLLIN};

	if (poll(&pfd, 1, -1) < 0)
		return -errno;
	return fuse_session_receive_buf(se, buf); /* -EAGAIN: nothing after all */
}
