/*
 * busy_poll.c - receiving a FUSE session's requests without sleeping
 * (busy_poll.h).
 */
#include "busy_poll.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

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

int busy_poll_wait(struct fuse_session *se, struct fuse_buf *buf, double secs)
{
	struct pollfd pfd = {.fd = fuse_session_fd(se), .events = POLLIN};
	int ms = secs < 0 ? -1 : secs > 3600 ? 3600000 : (int)(secs * 1e3) + 1; /* rounded up */
	int n = poll(&pfd, 1, ms);

	if (n < 0)
		return -errno;
	if (n == 0)
		return -EAGAIN;
	return fuse_session_receive_buf(se, buf); /* -EAGAIN: nothing after all */
}

int busy_poll_qos_extend(struct busy_poll_qos *q, double now, double secs)
{
	int32_t zero = 0; /* microseconds; the interface takes a binary s32 */
	ssize_t n;

	q->until = now + secs;
	if (q->fd >= 0)
		return 0;
	q->fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
	if (q->fd < 0)
		return -errno;
	n = write(q->fd, &zero, sizeof(zero));
	if (n != (ssize_t)sizeof(zero)) {
		int err = n < 0 ? -errno : -EIO;

		close(q->fd);
		q->fd = -1;
		return err;
	}
	return 1;
}

double busy_poll_qos_due(struct busy_poll_qos *q, double now)
{
	if (q->fd >= 0 && q->until <= now)
		busy_poll_qos_release(q);
	return q->fd >= 0 ? q->until : -1;
}

void busy_poll_qos_release(struct busy_poll_qos *q)
{
	if (q->fd >= 0) {
		close(q->fd);
		q->fd = -1;
	}
}
