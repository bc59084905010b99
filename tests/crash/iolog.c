/*
 * iolog.c - an LD_PRELOAD shim that records what a process writes to one
 * file, and when it syncs it, for the power-loss simulation (crashimg.c).
 *
 *   IOLOG_TARGET=STORE/data.mdb IOLOG_FILE=LOG LD_PRELOAD=libiolog.so itemfs mount ... -f
 *
 * A descriptor is tracked when open/openat/creat of a path whose last
 * component is that of IOLOG_TARGET returns a descriptor for the same inode
 * as IOLOG_TARGET (LMDB opens data.mdb twice: O_RDWR for pages, and
 * O_WRONLY|O_DSYNC for meta pages). On tracked descriptors the shim logs
 * every write, pwrite, writev, pwritev(2) (offset and the bytes written),
 * ftruncate, fsync, fdatasync, sync_file_range and close; msync while a
 * shared writable mapping of the file exists, and sync/syncfs always. A
 * shared writable mapping (MDB_WRITEMAP) is logged as IOLOG_MAPWRITE:
 * writes through it are invisible here, and crashimg refuses such a log.
 * Not followed: descriptors made by dup/fcntl(F_DUPFD) (LMDB makes none;
 * crashimg --final, compared with the real file, would show the loss).
 *
 * The log (format in iolog.h) is opened when the process first opens the
 * target: other processes that inherit the environment (the commands of the
 * test script, a helper the daemon execs) never touch it. The one that
 * creates it writes the magic.
 */
/* The wrappers below must be plain functions, each under its own name (off_t is 64 bits on LP64).
 */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "iolog.h"

#define FD_MAX 4096

static struct {
	bool tracked;
	uint32_t flags; /* IOLOG_F_* */
} fds[FD_MAX];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static const char *target;
static const char *target_base;
static bool map_write; /* a shared writable mapping of the target exists */

/* The real functions, resolved at load. */
static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_sync_file_range)(int, off_t, off_t, unsigned int);
static int (*real_msync)(void *, size_t, int);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static void (*real_sync)(void);
static int (*real_syncfs)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);

static void *resolve(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static void __attribute__((constructor)) iolog_init(void)
{
	real_open = resolve("open");
	real_openat = resolve("openat");
	real_close = resolve("close");
	real_write = resolve("write");
	real_writev = resolve("writev");
	real_pwrite = resolve("pwrite");
	real_pwritev = resolve("pwritev");
	real_pwritev2 = resolve("pwritev2");
	real_ftruncate = resolve("ftruncate");
	real_fsync = resolve("fsync");
	real_fdatasync = resolve("fdatasync");
	real_sync_file_range = resolve("sync_file_range");
	real_msync = resolve("msync");
	real_mmap = resolve("mmap");
	real_sync = resolve("sync");
	real_syncfs = resolve("syncfs");
	real_dup2 = resolve("dup2");
	real_dup3 = resolve("dup3");
	target = getenv("IOLOG_TARGET");
	if (target)
		target_base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
}

/*
 * Opens the log when this process first opens the target (so the commands
 * a test runs with the same environment never touch it). The process that
 * creates the file writes the magic. Returns false if there is no log.
 */
static bool log_open(void)
{
	const char *file = getenv("IOLOG_FILE");
	int fd;

	if (log_fd >= 0)
		return true;
	if (!file)
		return false;
	pthread_mutex_lock(&lock);
	if (log_fd < 0) {
		fd = real_open(file, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0 && real_write(fd, IOLOG_MAGIC, IOLOG_MAGIC_LEN) != IOLOG_MAGIC_LEN) {
			real_close(fd);
			fd = -1;
		} else if (fd < 0 && errno == EEXIST) {
			fd = real_open(file, O_WRONLY | O_APPEND | O_CLOEXEC);
		}
		log_fd = fd;
	}
	pthread_mutex_unlock(&lock);
	return log_fd >= 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool tracked(int fd)
{
	return log_fd >= 0 && fd >= 0 && fd < FD_MAX && fds[fd].tracked;
}

/* Writes all of iov to the log; the caller holds the lock. */
static void log_put(struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = real_writev(log_fd, iov, n > IOV_MAX ? IOV_MAX : n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			abort(); /* a log with a hole would make every image wrong */
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

/*
 * Appends a record whose payload is the first paylen bytes of the n
 * buffers iov (may be NULL when paylen is 0). Keeps errno.
 */
static void log_rec(struct iolog_rec *r, const struct iovec *iov, int n, size_t paylen)
{
	struct iovec stack[64], *v = stack;
	int e = errno, k = 1;

	if (n + 1 > (int)(sizeof(stack) / sizeof(stack[0]))) {
		v = malloc(sizeof(*v) * (size_t)(n + 1));
		if (!v)
			abort();
	}
	r->paylen = paylen;
	v[0].iov_base = r;
	v[0].iov_len = sizeof(*r);
	for (int i = 0; i < n && paylen > 0; i++) {
		size_t l = iov[i].iov_len < paylen ? iov[i].iov_len : paylen;
		v[k].iov_base = iov[i].iov_base;
		v[k++].iov_len = l;
		paylen -= l;
	}
	pthread_mutex_lock(&lock);
	log_put(v, k);
	pthread_mutex_unlock(&lock);
	if (v != stack)
		free(v);
	errno = e;
}

static void log_simple(uint32_t type, int fd, int64_t off, uint64_t len, uint32_t flags,
		       int64_t res, uint64_t t0, uint64_t t1)
{
	struct iolog_rec r = {.type = type,
			      .flags = flags,
			      .fd = fd,
			      .off = off,
			      .len = len,
			      .res = res,
			      .t_start = t0,
			      .t_end = t1};

	log_rec(&r, NULL, 0, 0);
}

static int64_t result(long long rc, int e)
{
	return rc < 0 ? -(int64_t)e : (int64_t)rc;
}

/* After a successful open of path: track fd if it is the target. */
static void maybe_track(int fd, const char *path, int flags, uint64_t t0)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct stat a, b;
	struct iovec iov;
	struct iolog_rec r;
	int e = errno;

	if (!target_base || fd < 0 || fd >= FD_MAX || strcmp(base, target_base) != 0)
		return;
	if (fstat(fd, &a) != 0 || stat(target, &b) != 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino || !log_open()) {
		errno = e;
		return;
	}
	fds[fd].tracked = true;
	fds[fd].flags = ((flags & (O_DSYNC | O_SYNC)) ? IOLOG_F_DSYNC : 0) |
			((flags & O_APPEND) ? IOLOG_F_APPEND : 0);
	memset(&r, 0, sizeof(r));
	r.type = IOLOG_OPEN;
	r.flags = fds[fd].flags;
	r.fd = fd;
	r.off = flags;
	r.res = fd;
	r.t_start = t0;
	r.t_end = now_ns();
	iov.iov_base = (void *)path;
	iov.iov_len = strlen(path);
	log_rec(&r, &iov, 1, iov.iov_len);
}

static void untrack(int fd, uint64_t t0)
{
	if (!tracked(fd))
		return;
	fds[fd].tracked = false;
	log_simple(IOLOG_CLOSE, fd, 0, 0, 0, 0, t0, now_ns());
}

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	uint64_t t0 = now_ns();
	va_list ap;
	mode_t mode;
	int fd;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (!real_open)
		real_open = resolve("open");
	fd = real_open(path, flags, mode);
	if (fd >= 0)
		maybe_track(fd, path, flags, t0);
	return fd;
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return open(path, flags, mode);
}

int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
	return open(path, flags);
}

int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags)
{
	return open(path, flags);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	uint64_t t0 = now_ns();
	va_list ap;
	mode_t mode;
	int fd;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (!real_openat)
		real_openat = resolve("openat");
	fd = real_openat(dirfd, path, flags, mode);
	if (fd >= 0)
		maybe_track(fd, path, flags, t0);
	return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return openat(dirfd, path, flags, mode);
}

int creat(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int creat64(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int close(int fd)
{
	uint64_t t0 = now_ns();

	if (!real_close)
		real_close = resolve("close");
	if (fd == log_fd && log_fd >= 0) {
		errno = EBADF; /* someone closing every descriptor: keep ours */
		return -1;
	}
	untrack(fd, t0);
	return real_close(fd);
}

static void log_write(int fd, int64_t off, const struct iovec *iov, int n, size_t len, ssize_t res,
		      int e, uint64_t t0)
{
	struct iolog_rec r;

	memset(&r, 0, sizeof(r));
	r.type = IOLOG_WRITE;
	r.flags = fds[fd].flags;
	r.fd = fd;
	r.off = off;
	r.len = len;
	r.res = result(res, e);
	r.t_start = t0;
	r.t_end = now_ns();
	log_rec(&r, iov, n, res > 0 ? (size_t)res : 0);
}

static size_t iov_len(const struct iovec *iov, int n)
{
	size_t len = 0;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct iovec iov = {(void *)buf, n};
	uint64_t t0 = now_ns();
	ssize_t res;

	if (!tracked(fd))
		return real_pwrite(fd, buf, n, off);
	res = real_pwrite(fd, buf, n, off);
	log_write(fd, off, &iov, 1, n, res, errno, t0);
	return res;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	uint64_t t0 = now_ns();
	ssize_t res;

	if (!tracked(fd))
		return real_pwritev(fd, iov, n, off);
	res = real_pwritev(fd, iov, n, off);
	log_write(fd, off, iov, n, iov_len(iov, n), res, errno, t0);
	return res;
}

ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t off)
{
	return pwritev(fd, iov, n, off);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
	uint64_t t0 = now_ns();
	int64_t at = off;
	ssize_t res;

	if (!tracked(fd))
		return real_pwritev2(fd, iov, n, off, flags);
	if (off == -1)
		at = lseek(fd, 0, SEEK_CUR);
	res = real_pwritev2(fd, iov, n, off, flags);
	/* RWF_DSYNC/RWF_SYNC make this one write synchronous. */
	if (flags & (RWF_DSYNC | RWF_SYNC)) {
		uint32_t saved = fds[fd].flags;
		fds[fd].flags |= IOLOG_F_DSYNC;
		log_write(fd, at, iov, n, iov_len(iov, n), res, errno, t0);
		fds[fd].flags = saved;
	} else {
		log_write(fd, at, iov, n, iov_len(iov, n), res, errno, t0);
	}
	return res;
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int n, off_t off, int flags)
{
	return pwritev2(fd, iov, n, off, flags);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	struct iovec iov = {(void *)buf, n};
	uint64_t t0 = now_ns();
	int64_t off;
	ssize_t res;

	if (!real_write)
		real_write = resolve("write");
	if (!tracked(fd))
		return real_write(fd, buf, n);
	off = lseek(fd, 0, SEEK_CUR);
	res = real_write(fd, buf, n);
	log_write(fd, off, &iov, 1, n, res, errno, t0);
	return res;
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	uint64_t t0 = now_ns();
	int64_t off;
	ssize_t res;

	if (!real_writev)
		real_writev = resolve("writev");
	if (!tracked(fd))
		return real_writev(fd, iov, n);
	off = lseek(fd, 0, SEEK_CUR);
	res = real_writev(fd, iov, n);
	log_write(fd, off, iov, n, iov_len(iov, n), res, errno, t0);
	return res;
}

int ftruncate(int fd, off_t len)
{
	uint64_t t0 = now_ns();
	int rc;

	if (!tracked(fd))
		return real_ftruncate(fd, len);
	rc = real_ftruncate(fd, len);
	log_simple(IOLOG_TRUNC, fd, len, 0, 0, result(rc, errno), t0, now_ns());
	return rc;
}

int ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

int fsync(int fd)
{
	uint64_t t0 = now_ns();
	int rc;

	if (!tracked(fd))
		return real_fsync(fd);
	rc = real_fsync(fd);
	log_simple(IOLOG_FSYNC, fd, 0, 0, 0, result(rc, errno), t0, now_ns());
	return rc;
}

int fdatasync(int fd)
{
	uint64_t t0 = now_ns();
	int rc;

	if (!tracked(fd))
		return real_fdatasync(fd);
	rc = real_fdatasync(fd);
	log_simple(IOLOG_FDATASYNC, fd, 0, 0, 0, result(rc, errno), t0, now_ns());
	return rc;
}

int sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	uint64_t t0 = now_ns();
	int rc;

	if (!tracked(fd))
		return real_sync_file_range(fd, off, n, flags);
	rc = real_sync_file_range(fd, off, n, flags);
	log_simple(IOLOG_SFR, fd, off, (uint64_t)n, flags, result(rc, errno), t0, now_ns());
	return rc;
}

int msync(void *addr, size_t len, int flags)
{
	uint64_t t0 = now_ns();
	int rc = real_msync(addr, len, flags);

	if (map_write && log_fd >= 0)
		log_simple(IOLOG_MSYNC, -1, (int64_t)(uintptr_t)addr, len, (uint32_t)flags,
			   result(rc, errno), t0, now_ns());
	return rc;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	uint64_t t0 = now_ns();
	void *p;

	if (!real_mmap)
		real_mmap = resolve("mmap");
	p = real_mmap(addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED && tracked(fd) && (prot & PROT_WRITE) && (flags & MAP_SHARED)) {
		map_write = true;
		log_simple(IOLOG_MAPWRITE, fd, off, len, 0, 0, t0, now_ns());
	}
	return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

void sync(void)
{
	uint64_t t0 = now_ns();

	real_sync();
	if (log_fd >= 0)
		log_simple(IOLOG_SYNCALL, -1, 0, 0, 0, 0, t0, now_ns());
}

int syncfs(int fd)
{
	uint64_t t0 = now_ns();
	int rc = real_syncfs(fd);

	if (log_fd >= 0)
		log_simple(IOLOG_SYNCALL, fd, 0, 0, 0, result(rc, errno), t0, now_ns());
	return rc;
}

int dup2(int oldfd, int newfd)
{
	uint64_t t0 = now_ns();

	if (oldfd != newfd)
		untrack(newfd, t0);
	return real_dup2(oldfd, newfd);
}

int dup3(int oldfd, int newfd, int flags)
{
	untrack(newfd, now_ns());
	return real_dup3(oldfd, newfd, flags);
}
