/*
 * lmdb_backup.c - the LMDB side of `itemfs backup` and `itemfs restore`:
 * lmdb_backup() writes a compacted copy of the whole environment
 * (mdb_env_copyfd2() with MDB_CP_COMPACT: one read transaction, so one
 * point in time, while other threads and processes go on writing), and
 * store_lmdb_in_use() tells whether another process has a store open.
 *
 * The copy runs on a thread of its own and writes into a pipe; the calling
 * thread moves the bytes on to the caller's descriptor and reports
 * progress, so the caller's callback runs on the caller's thread. Where the
 * copy goes (a temporary file, its rename, validating it) is the caller's
 * business (fs/cmd_backup.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "lmdb_i.h"

#define BACKUP_BUF (256u * 1024)       /* bytes moved from the pipe per read */
#define BACKUP_PIPE_SIZE (1024 * 1024) /* asked of F_SETPIPE_SZ; best effort */
#define BACKUP_RESIZED_RETRIES 3       /* copies retried after MDB_MAP_RESIZED */

/* What the copy thread is given, and what it leaves. */
struct copy_job {
	struct lmdb_store *st;
	int wfd; /* the pipe's write end; the copy thread closes it when done */
	int rc;	 /* the copy's result: 0 or a negative errno */
};

/*
 * Copies the environment into the pipe, holding a store read transaction
 * across the copy: LMDB's copy begins its own read transaction, which the
 * store's live count does not see, and the held one keeps this process
 * from remapping while the copy reads the map.
 */
static void *copy_thread(void *arg)
{
	struct copy_job *job = arg;
	struct store_txn *pin = NULL;
	sigset_t set;
	int rc = 0;

	/* A caller that stops reading makes the copy fail with EPIPE instead of
	 * killing the process (LMDB's own writer thread inherits this mask). */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (int attempt = 0;; attempt++) {
		job->rc = lmdb_txn_begin(&job->st->base, STORE_TXN_READ, &pin);
		if (job->rc)
			break;
		rc = mdb_env_copyfd2(job->st->env, job->wfd, MDB_CP_COMPACT);
		lmdb_txn_abort(pin);
		/* Another process grew the map past ours between the two begins;
		 * nothing was written yet. Beginning again adopts the new size. */
		if (rc != MDB_MAP_RESIZED || attempt >= BACKUP_RESIZED_RETRIES)
			break;
	}
	if (!job->rc && rc)
		job->rc = rc > 0 ? -rc : lmdb_errno(job->st, rc, "backing up", 0);
	close(job->wfd);
	return NULL;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Moves the pipe's bytes to fd until the copy closes it; *done counts them. */
static int pump(int rfd, int fd, void (*progress)(void *arg, uint64_t done, uint64_t total),
		void *arg, uint64_t total, uint64_t *done)
{
	char *buf = malloc(BACKUP_BUF);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(rfd, buf, BACKUP_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		rc = write_all(fd, buf, (size_t)n);
		if (rc)
			break;
		*done += (uint64_t)n;
		if (progress)
			progress(arg, *done, total > *done ? total : *done);
	}
	free(buf);
	return rc;
}

int lmdb_backup(struct store *s, int fd, void (*progress)(void *arg, uint64_t done, uint64_t total),
		void *arg)
{
	struct lmdb_store *st = lmdb_store_of(s);
	struct copy_job job = {.st = st};
	struct store_statfs sf;
	uint64_t done = 0;
	pthread_t thr;
	int fds[2], rc;

	rc = lmdb_statfs(s, &sf);
	if (rc)
		return rc;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		rc = -errno;
		lmdb_log(st, LOG_ERR, "backing up: cannot make a pipe: %s", strerror(-rc));
		return rc;
	}
	fcntl(fds[1], F_SETPIPE_SZ, BACKUP_PIPE_SIZE); /* fewer wakeups; fine without */
	job.wfd = fds[1];
	rc = pthread_create(&thr, NULL, copy_thread, &job);
	if (rc) {
		close(fds[0]);
		close(fds[1]);
		lmdb_log(st, LOG_ERR, "backing up: cannot start the copy thread: %s", strerror(rc));
		return -rc;
	}
	rc = pump(fds[0], fd, progress, arg, sf.bytes_used, &done);
	close(fds[0]); /* after a failed write to fd, this makes the copy stop (EPIPE) */
	pthread_join(thr, NULL);
	if (!rc)
		rc = job.rc;
	if (!rc && progress)
		progress(arg, done, done);
	return rc;
}

int store_lmdb_in_use(const char *path)
{
	/* Every process with the environment open holds a read lock on byte 0 of
	 * lock.mdb (mdb_env_open(), "mdb_env_excl_lock"); one that is just
	 * opening it may hold a write lock there. F_GETLK reports either. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	char lock[PATH_MAX];
	int fd, n, rc = 0;

	n = snprintf(lock, sizeof(lock), "%s/lock.mdb", path);
	if (n < 0 || (size_t)n >= sizeof(lock))
		return -ENAMETOOLONG;
	fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fcntl(fd, F_GETLK, &fl) < 0)
		rc = -errno;
	else
		rc = fl.l_type != F_UNLCK;
	close(fd);
	return rc;
}
