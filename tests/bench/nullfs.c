/*
 * nullfs.c - the FUSE ceiling of tests/bench/ceiling.sh: the least a FUSE
 * daemon can do for the read workloads of the benchmark, and for creates.
 * It serves N items of SIZE bytes in 10 tables, laid out as itemfs-bench
 * lays them out (t<i % 10>/item<i>, 8 digits), all computed, nothing
 * stored, and answers every request at once, with what itemfs answers the
 * same requests: names and attributes kept a day (FS_KERNEL_TIMEOUT),
 * readers through the page cache kept from open to open (keep_cache) and
 * not flushed at close, listings by readdirplus, kept by the kernel, and
 * new items opened as itemfs opens writers (direct I/O, flushed at close).
 * Its loop is itemfs's (fs/session.c), receiving with the same code
 * (fs/busy_poll.c): busy polling for BUSY_POLL microseconds after each
 * request (0: none), then poll(2); and, with IDLE_POLL_MS
 * (default 0), itemfs's -o idle_poll: idle CPUs kept polling from a
 * request until IDLE_POLL_MS milliseconds after the last.
 *
 * usage: nullfs MOUNTPOINT N SIZE BUSY_POLL_US [IDLE_POLL_MS]
 * Runs in the foreground until the mount is unmounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "busy_poll.h"

#define TABLES 10
#define TABLE_INO 2	/* t0 is inode 2, t9 inode 11 */
#define ITEM_INO 100	/* item i is inode 100 + i */
#define TIMEOUT 86400.0 /* itemfs's FS_KERNEL_TIMEOUT */

static unsigned long nitems;
static size_t item_size;
static unsigned long ncreated; /* items created since the mount: inodes past the N */

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fills *st for ino; 0 or ENOENT. */
static int attr_of(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID || (ino >= TABLE_INO && ino < TABLE_INO + TABLES)) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (ino >= ITEM_INO && ino - ITEM_INO < nitems + ncreated) {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = ino - ITEM_INO < nitems ? (off_t)item_size : 0;
		return 0;
	}
	return ENOENT;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {.attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT};
	unsigned long i;
	char *end;

	if (parent == FUSE_ROOT_ID && name[0] == 't' && name[1] >= '0' && name[1] <= '9' &&
	    !name[2])
		e.ino = TABLE_INO + (fuse_ino_t)(name[1] - '0');
	else if (parent >= TABLE_INO && parent < TABLE_INO + TABLES &&
		 strncmp(name, "item", 4) == 0 && strlen(name) == 12) {
		i = strtoul(name + 4, &end, 10);
		if (!*end && i < nitems && i % TABLES == parent - TABLE_INO)
			e.ino = ITEM_INO + i;
	}
	if (!e.ino || attr_of(e.ino, &e.attr) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int rc = attr_of(ino, &st);

	(void)fi;
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

/* readdir and readdirplus (@plus): entries from @off on, as many as fit. */
static void list_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	char *buf = malloc(size), name[16];
	size_t len = 0;
	unsigned long n =
	    ino == FUSE_ROOT_ID ? TABLES : (nitems + TABLES - 1 - (ino - TABLE_INO)) / TABLES;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (unsigned long k = (unsigned long)off; k < n; k++) {
		struct fuse_entry_param e = {.attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT};
		size_t need;

		if (ino == FUSE_ROOT_ID) {
			snprintf(name, sizeof(name), "t%lu", k);
			e.ino = TABLE_INO + k;
		} else {
			snprintf(name, sizeof(name), "item%08lu", k * TABLES + (ino - TABLE_INO));
			e.ino = ITEM_INO + k * TABLES + (ino - TABLE_INO);
		}
		attr_of(e.ino, &e.attr);
		need = plus ? fuse_add_direntry_plus(req, buf + len, size - len, name, &e,
						     (off_t)k + 1)
			    : fuse_add_direntry(req, buf + len, size - len, name, &e.attr,
						(off_t)k + 1);
		if (need > size - len)
			break;
		len += need;
	}
	fuse_reply_buf(req, buf, len);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	list_dir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	list_dir(req, ino, size, off, true);
}

/* Listings never change: the kernel keeps them, as itemfs's unchanged ones. */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static char *buf;
	static size_t cap;
	size_t n = (size_t)off >= item_size ? 0 : item_size - (size_t)off;

	(void)fi;
	if (n > size)
		n = size;
	if (n > cap) {
		free(buf);
		cap = n;
		buf = malloc(cap);
		if (!buf) {
			cap = 0;
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	memset(buf, 'a' + (int)(ino % 26), n);
	fuse_reply_buf(req, buf, n);
}

/* RELEASE and FLUSH: nothing is kept, so nothing to do. */
static void op_done(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

/*
 * The create ceiling: a new item in a table gets the next inode and is
 * opened as itemfs opens a writer (direct I/O, the pages of readers left
 * alone, flushed at close); its data go nowhere. It is not found again:
 * a LOOKUP of its name is ENOENT, as for a name not yet created.
 */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e = {.attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT};

	(void)name;
	(void)mode;
	if (parent < TABLE_INO || parent >= TABLE_INO + TABLES) {
		fuse_reply_err(req, EACCES);
		return;
	}
	e.ino = ITEM_INO + nitems + ncreated++;
	e.generation = 1;
	attr_of(e.ino, &e.attr);
	fi->direct_io = 1;
	fi->keep_cache = 1;
	fuse_reply_create(req, &e, fi);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)buf;
	(void)off;
	(void)fi;
	fuse_reply_write(req, size);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .opendir = op_opendir,
    .readdirplus = op_readdirplus,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .release = op_done,
    .create = op_create,
    .write = op_write,
    .flush = op_done,
};

/* itemfs's loop (fs/session.c), without its deadlines but the idle_poll hold's end. */
static int loop(struct fuse_session *se, unsigned busy_poll, unsigned idle_poll)
{
	struct fuse_buf fbuf = {.mem = NULL};
	struct busy_poll_qos qos = BUSY_POLL_QOS_INIT;
	double last = 0; /* mono_now() when the last request was answered */
	int res = 0;

	if ((busy_poll || idle_poll) && (res = busy_poll_start(se)) != 0)
		return res;
	while (!fuse_session_exited(se)) {
		res = busy_poll_receive(se, &fbuf, last + busy_poll / 1e6);
		if (res == -EAGAIN) {
			double now = mono_now(), release = busy_poll_qos_due(&qos, now);

			res = busy_poll_wait(se, &fbuf, release < 0 ? -1 : release - now);
		}
		if (res == 0 || (res < 0 && res != -EINTR && res != -EAGAIN))
			break; /* unmounted, or an error */
		if (res > 0) {
			fuse_session_process_buf(se, &fbuf);
			last = mono_now();
			if (idle_poll && busy_poll_qos_extend(&qos, last, idle_poll / 1e3) < 0)
				idle_poll = 0;
		}
	}
	busy_poll_qos_release(&qos);
	free(fbuf.mem);
	return res < 0 && res != -ENODEV && res != -EINTR && res != -EAGAIN ? res : 0;
}

int main(int argc, char **argv)
{
	char o[] = "-o", opts[] = "fsname=nullfs,default_permissions";
	char *fargv[] = {argv[0], o, opts, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se;
	unsigned busy_poll, idle_poll;
	int rc = 1;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: %s MOUNTPOINT N SIZE BUSY_POLL_US [IDLE_POLL_MS]\n",
			argv[0]);
		return 2;
	}
	nitems = strtoul(argv[2], NULL, 10);
	item_size = strtoul(argv[3], NULL, 10);
	busy_poll = (unsigned)strtoul(argv[4], NULL, 10);
	idle_poll = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 0;
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se)
		return 1;
	if (fuse_session_mount(se, argv[1]) == 0) {
		rc = loop(se, busy_poll, idle_poll) ? 1 : 0;
		fuse_session_unmount(se);
	}
	fuse_session_destroy(se);
	return rc;
}
