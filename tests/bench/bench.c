/*
 * bench.c - the workload driver of the itemfs benchmark (tests/bench/run.sh).
 * Each subcommand is one timed phase on a directory tree: it makes the
 * system calls itself, so that starting processes does not dominate what is
 * measured, times the phase from its first call to its last, and prints
 *
 *   RESULT <name> ops=<count> secs=<wall seconds> [<key>=<value> ...]
 *
 * It knows nothing of itemfs: run.sh points it at an itemfs mount, a
 * directory on the root disk, a tmpfs or a passthrough_ll mount, and does
 * the mounting, remounting, cache dropping, repeating and medians.
 *
 * The tree: item i (counting from 0) is DIR/<prefix><i % tables>/item<i>,
 * with <i> as 8 digits; the table directories are made as needed. No phase
 * calls fsync: every column is measured as a program sees it, with each
 * file system's own write-back (itemfs: group commit).
 *
 * Exit status: 0, 1 on the first failed system call (named, with its path,
 * on stderr), 2 on a usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Buffer of one read() call, as cat(1) uses. */
#define BENCH_READ_BUF (128 * 1024)
/* A prime: for any n that is not a multiple of it, k * BENCH_STRIDE mod n
 * (k = 0 .. n-1) visits every item of [0, n) once, in a scattered order. */
#define BENCH_STRIDE UINT64_C(1000003)

/* What the options of a subcommand say; unset ones keep their defaults. */
struct bench_opts {
	long size;	    /* bytes per item written */
	long tables;	    /* items are spread over this many tables */
	const char *prefix; /* table name prefix */
	long every;	    /* overwrite: every Nth item */
	long samples;	    /* stat, lat: operations measured */
	long threads;	    /* ycsb: client threads */
	double secs;	    /* ycsb: duration in seconds */
	double theta;	    /* ycsb: Zipfian skew */
};

static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* fail_errno(WHAT, PATH): logs a failed call with errno's text; returns -errno. */
static int fail_errno(const char *what, const char *path)
{
	int e = errno;

	fprintf(stderr, "bench: %s %s: %s\n", what, path, strerror(e));
	return -e;
}

/* item_path: writes the path of item I into BUF (of LEN bytes). */
static void item_path(char *buf, size_t len, const char *dir, const struct bench_opts *o, long i)
{
	snprintf(buf, len, "%s/%s%ld/item%08ld", dir, o->prefix, i % o->tables, i);
}

/* fill_buf: item content; the first bytes name the item so no two are alike. */
static void fill_buf(char *buf, long size, long i, int version)
{
	char label[48];
	int len;
	long k;

	for (k = 0; k < size; k++)
		buf[k] = (char)('a' + (k + i + version) % 26);
	len = snprintf(label, sizeof(label), "item %08ld v%d\n", i, version);
	if (len > 0 && len <= size)
		memcpy(buf, label, (size_t)len);
}

/*
 * write_item: open(FLAGS) + write(SIZE bytes of BUF) + close of PATH.
 * Returns 0 or -errno (logged). A short write is -EIO.
 */
static int write_item(const char *path, int flags, const char *buf, long size)
{
	int fd;
	ssize_t n;

	fd = open(path, flags | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail_errno("open", path);
	n = write(fd, buf, (size_t)size);
	if (n != size) {
		int rc = n < 0 ? fail_errno("write", path) : -EIO;

		if (n >= 0)
			fprintf(stderr, "bench: write %s: short (%zd of %ld)\n", path, n, size);
		close(fd);
		return rc;
	}
	if (close(fd) != 0)
		return fail_errno("close", path);
	return 0;
}

/*
 * read_at: open + read to EOF (in BENCH_READ_BUF pieces, into BUF) + close of
 * NAME, relative to DIRFD (or AT_FDCWD). SHOWN is the path named in an error.
 * Adds the bytes read to *BYTES. Returns 0 or -errno (logged).
 */
static int read_at(int dirfd, const char *name, const char *shown, char *buf, long long *bytes)
{
	int fd;
	ssize_t n;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno("open", shown);
	while ((n = read(fd, buf, BENCH_READ_BUF)) > 0)
		*bytes += n;
	if (n < 0) {
		int rc = fail_errno("read", shown);

		close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

/* make_tables: mkdir DIR/<prefix>0 .. <prefix>(tables-1); existing ones are fine. */
static int make_tables(const char *dir, const struct bench_opts *o)
{
	char path[4096];
	long k;

	for (k = 0; k < o->tables; k++) {
		snprintf(path, sizeof(path), "%s/%s%ld", dir, o->prefix, k);
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return fail_errno("mkdir", path);
	}
	return 0;
}

/* ---- create, overwrite ------------------------------------------------ */

/* cmd_create: creates items [FROM, TO) of O->size bytes (O_CREAT|O_EXCL). */
static int cmd_create(const char *dir, long from, long to, const struct bench_opts *o)
{
	char path[4096];
	char *buf;
	double t0;
	long i;
	int rc;

	buf = malloc((size_t)o->size + 1);
	if (buf == NULL)
		return -ENOMEM;
	t0 = now_secs();
	rc = make_tables(dir, o);
	for (i = from; rc == 0 && i < to; i++) {
		item_path(path, sizeof(path), dir, o, i);
		fill_buf(buf, o->size, i, 0);
		rc = write_item(path, O_CREAT | O_EXCL, buf, o->size);
	}
	if (rc == 0)
		printf("RESULT create ops=%ld secs=%.6f bytes=%lld\n", to - from, now_secs() - t0,
		       (long long)(to - from) * o->size);
	free(buf);
	return rc;
}

/* cmd_overwrite: rewrites every O->every-th item of [0, N) (O_TRUNC). */
static int cmd_overwrite(const char *dir, long n, const struct bench_opts *o)
{
	char path[4096];
	char *buf;
	long i, ops = 0;
	double t0;
	int rc = 0;

	buf = malloc((size_t)o->size + 1);
	if (buf == NULL)
		return -ENOMEM;
	t0 = now_secs();
	for (i = 0; rc == 0 && i < n; i += o->every) {
		item_path(path, sizeof(path), dir, o, i);
		fill_buf(buf, o->size, i, 1);
		rc = write_item(path, O_TRUNC, buf, o->size);
		ops++;
	}
	if (rc == 0)
		printf("RESULT overwrite ops=%ld secs=%.6f\n", ops, now_secs() - t0);
	free(buf);
	return rc;
}

/* ---- ls -l and cat of a whole tree ------------------------------------ */

struct walk {
	int cat;	 /* 1: open/read/close regular files; 0: stat everything, as ls -l */
	long ops;	 /* files read (cat) or entries stat'ed (ls) */
	long dirs;	 /* directories entered */
	long long bytes; /* bytes read (cat) */
	char *buf;	 /* BENCH_READ_BUF bytes */
};

struct name_list {
	char **names;
	unsigned char *types; /* d_type of each name */
	size_t count, cap;
};

static void name_list_free(struct name_list *l)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		free(l->names[i]);
	free(l->names);
	free(l->types);
}

/* read_names: every name of the directory DFD but . and .., as ls reads
 * them before it stats any. Takes DFD (closed here). */
static int read_names(int dfd, const char *path, struct name_list *l)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	memset(l, 0, sizeof(*l));
	d = fdopendir(dfd);
	if (d == NULL) {
		rc = fail_errno("fdopendir", path);
		close(dfd);
		return rc;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (l->count == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 256;
			char **nn = realloc(l->names, cap * sizeof(*nn));
			unsigned char *nt;

			if (nn == NULL) {
				rc = -ENOMEM;
				break;
			}
			l->names = nn;
			nt = realloc(l->types, cap);
			if (nt == NULL) {
				rc = -ENOMEM;
				break;
			}
			l->types = nt;
			l->cap = cap;
		}
		l->names[l->count] = strdup(de->d_name);
		if (l->names[l->count] == NULL) {
			rc = -ENOMEM;
			break;
		}
		l->types[l->count++] = de->d_type;
		errno = 0;
	}
	if (rc == 0 && errno != 0)
		rc = fail_errno("readdir", path);
	closedir(d);
	return rc;
}

/*
 * What GNU ls -l (coreutils 9) asks statx for about each entry: its mode,
 * link count, size, owner, group and mtime, without following a symlink.
 * Not the atime: the kernel's FUSE client marks a file's atime stale after
 * reading it through the page cache, and a plain lstat, which asks for
 * everything, would fetch the attributes again where ls -l does not.
 */
#define BENCH_LS_MASK (STATX_MODE | STATX_NLINK | STATX_SIZE | STATX_UID | STATX_GID | STATX_MTIME)

/* walk_dir: ls -l (a statx of every entry, as ls -l asks) or cat (read
 * every regular file) of the tree at PATH, recursively. */
static int walk_dir(struct walk *w, const char *path)
{
	struct name_list l;
	char sub[4096];
	struct statx st;
	size_t i;
	int dfd, rc;

	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail_errno("open", path);
	w->dirs++;
	rc = read_names(dup(dfd), path, &l);
	for (i = 0; rc == 0 && i < l.count; i++) {
		unsigned char type = l.types[i];

		snprintf(sub, sizeof(sub), "%s/%s", path, l.names[i]);
		if (!w->cat || type == DT_UNKNOWN) {
			if (statx(dfd, l.names[i], AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
				  BENCH_LS_MASK, &st) != 0) {
				rc = fail_errno("statx", sub);
				break;
			}
			if (!w->cat)
				w->ops++;
			type = S_ISDIR(st.stx_mode)   ? DT_DIR
			       : S_ISREG(st.stx_mode) ? DT_REG
						      : DT_UNKNOWN;
		}
		if (type == DT_DIR) {
			rc = walk_dir(w, sub);
		} else if (w->cat && type == DT_REG) {
			rc = read_at(dfd, l.names[i], sub, w->buf, &w->bytes);
			w->ops++;
		}
	}
	name_list_free(&l);
	close(dfd);
	return rc;
}

/* cmd_walk: the ls (CAT 0) or cat (CAT 1) phase over the tree DIR. */
static int cmd_walk(const char *dir, int cat)
{
	struct walk w = {.cat = cat};
	double t0;
	int rc;

	w.buf = malloc(BENCH_READ_BUF);
	if (w.buf == NULL)
		return -ENOMEM;
	t0 = now_secs();
	rc = walk_dir(&w, dir);
	if (rc == 0)
		printf("RESULT %s ops=%ld secs=%.6f bytes=%lld dirs=%ld\n", cat ? "cat" : "ls",
		       w.ops, now_secs() - t0, w.bytes, w.dirs);
	free(w.buf);
	return rc;
}

/* ---- latencies --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* print_latency: sorts the N latencies (seconds) in V and prints NAME's
 * mean, p50 and p99 (nearest rank) in microseconds. */
static void print_latency(const char *name, double *v, long n, double wall)
{
	double sum = 0;
	long i, r50, r99;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	r50 = (long)ceil(0.50 * (double)n) - 1;
	r99 = (long)ceil(0.99 * (double)n) - 1;
	printf("RESULT %s ops=%ld secs=%.6f mean_us=%.3f p50_us=%.3f p99_us=%.3f\n", name, n, wall,
	       sum / (double)n * 1e6, v[r50] * 1e6, v[r99] * 1e6);
}

/* scattered: the K-th of N items in a fixed scattered order (each once). */
static long scattered(long k, long n)
{
	return (long)(((uint64_t)k * BENCH_STRIDE + 7) % (uint64_t)n);
}

/* cmd_stat: lstat of O->samples distinct items of [0, N), scattered. */
static int cmd_stat(const char *dir, long n, const struct bench_opts *o, const char *name)
{
	char path[4096];
	struct stat st;
	double *lat, t0, t1, start;
	long k, count = o->samples < n ? o->samples : n;
	int rc = 0;

	lat = malloc((size_t)count * sizeof(*lat));
	if (lat == NULL)
		return -ENOMEM;
	start = now_secs();
	for (k = 0; k < count; k++) {
		item_path(path, sizeof(path), dir, o, scattered(k, n));
		t0 = now_secs();
		if (lstat(path, &st) != 0) {
			rc = fail_errno("lstat", path);
			break;
		}
		t1 = now_secs();
		lat[k] = t1 - t0;
	}
	if (rc == 0)
		print_latency(name, lat, count, now_secs() - start);
	free(lat);
	return rc;
}

/*
 * cmd_lat: per-operation latencies. Creates O->samples new items of 4 KiB
 * in the table lat0 (create+write+close each), then lstat of O->samples
 * distinct items of the existing [0, N) (with O's tables), then
 * open+read+close of each new 4 KiB item, in a scattered order.
 */
static int cmd_lat(const char *dir, long n, const struct bench_opts *o)
{
	struct bench_opts lo = *o;
	char path[4096];
	char *buf;
	double *lat, t0, start;
	long k, s = o->samples;
	long long bytes = 0;
	int rc;

	lo.prefix = "lat";
	lo.tables = 1;
	lo.size = 4096;
	buf = malloc(BENCH_READ_BUF);
	lat = malloc((size_t)s * sizeof(*lat));
	if (buf == NULL || lat == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = make_tables(dir, &lo);
	start = now_secs();
	for (k = 0; rc == 0 && k < s; k++) {
		item_path(path, sizeof(path), dir, &lo, k);
		fill_buf(buf, lo.size, k, 0);
		t0 = now_secs();
		rc = write_item(path, O_CREAT | O_EXCL, buf, lo.size);
		lat[k] = now_secs() - t0;
	}
	if (rc != 0)
		goto out;
	print_latency("lat-create4k", lat, s, now_secs() - start);

	rc = cmd_stat(dir, n, o, "lat-stat");
	if (rc != 0)
		goto out;

	start = now_secs();
	for (k = 0; rc == 0 && k < s; k++) {
		item_path(path, sizeof(path), dir, &lo, scattered(k, s));
		t0 = now_secs();
		rc = read_at(AT_FDCWD, path, path, buf, &bytes);
		lat[k] = now_secs() - t0;
	}
	if (rc == 0 && bytes != (long long)s * lo.size) {
		fprintf(stderr, "bench: lat read %lld bytes, expected %lld\n", bytes,
			(long long)s * lo.size);
		rc = -EIO;
	}
	if (rc == 0)
		print_latency("lat-read4k", lat, s, now_secs() - start);
out:
	free(lat);
	free(buf);
	return rc;
}

/* ---- YCSB-B-like mix --------------------------------------------------- */

/*
 * The Zipfian generator of YCSB (Gray et al., "Quickly generating
 * billion-record synthetic databases"), with YCSB's scrambling: the rank
 * drawn is hashed (FNV-1a 64) onto the items, so the hot items are spread
 * over the tables rather than being items 0, 1, 2, ...
 */
struct zipf {
	long n;
	double theta, alpha, zetan, eta, half_pow_theta;
};

static void zipf_init(struct zipf *z, long n, double theta)
{
	double zeta2 = 1.0 + pow(0.5, theta);
	long i;

	z->n = n;
	z->theta = theta;
	z->zetan = 0;
	for (i = 1; i <= n; i++)
		z->zetan += 1.0 / pow((double)i, theta);
	z->alpha = 1.0 / (1.0 - theta);
	z->eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / z->zetan);
	z->half_pow_theta = pow(0.5, theta);
}

/* xorshift64*: a per-thread generator; returns a double in [0, 1). */
static double rand_unit(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

static uint64_t fnv1a64(uint64_t v)
{
	uint64_t h = UINT64_C(14695981039346656037);
	int i;

	for (i = 0; i < 8; i++) {
		h ^= (v >> (i * 8)) & 0xff;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static long zipf_next(const struct zipf *z, uint64_t *s)
{
	double u = rand_unit(s), uz = u * z->zetan;
	long rank;

	if (uz < 1.0)
		rank = 0;
	else if (uz < 1.0 + z->half_pow_theta)
		rank = 1;
	else
		rank = (long)((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
	if (rank >= z->n)
		rank = z->n - 1;
	return (long)(fnv1a64((uint64_t)rank) % (uint64_t)z->n);
}

struct ycsb_shared {
	const char *dir;
	const struct bench_opts *o;
	struct zipf z;
	pthread_barrier_t start; /* opens when every client and main are ready */
};

struct ycsb_thread {
	struct ycsb_shared *sh;
	pthread_t tid;
	int id;
	long reads, updates;
	double end;
	int rc;
};

static void *ycsb_run(void *arg)
{
	struct ycsb_thread *t = arg;
	const struct bench_opts *o = t->sh->o;
	uint64_t seed = fnv1a64((uint64_t)t->id + 1) | 1;
	char path[4096];
	char *buf = malloc(BENCH_READ_BUF);
	long long bytes = 0;
	double deadline;

	pthread_barrier_wait(&t->sh->start);
	deadline = now_secs() + o->secs;
	if (buf == NULL) {
		t->rc = -ENOMEM;
		return NULL;
	}
	while (t->rc == 0) {
		long i = zipf_next(&t->sh->z, &seed);

		item_path(path, sizeof(path), t->sh->dir, o, i);
		if (rand_unit(&seed) < 0.05) {
			fill_buf(buf, o->size, i, (int)(t->updates % 7) + 2);
			t->rc = write_item(path, O_TRUNC, buf, o->size);
			t->updates++;
		} else {
			t->rc = read_at(AT_FDCWD, path, path, buf, &bytes);
			t->reads++;
		}
		if (((t->reads + t->updates) & 15) == 0 && now_secs() >= deadline)
			break;
	}
	t->end = now_secs();
	free(buf);
	return NULL;
}

/* cmd_ycsb: O->threads clients, each for O->secs seconds: 95 % reads
 * (open+read+close) and 5 % updates (open O_TRUNC+write+close) of items of
 * [0, N), chosen Zipfian with skew O->theta. */
static int cmd_ycsb(const char *dir, long n, const struct bench_opts *o)
{
	struct ycsb_shared sh = {.dir = dir, .o = o};
	struct ycsb_thread *t;
	long reads = 0, updates = 0, i;
	double start, end = 0;
	int rc = 0;

	zipf_init(&sh.z, n, o->theta);
	t = calloc((size_t)o->threads, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	pthread_barrier_init(&sh.start, NULL, (unsigned)o->threads + 1);
	for (i = 0; i < o->threads; i++) {
		t[i].sh = &sh;
		t[i].id = (int)i;
		if (pthread_create(&t[i].tid, NULL, ycsb_run, &t[i]) != 0) {
			fprintf(stderr, "bench: pthread_create failed\n");
			exit(1); /* the barrier would never open */
		}
	}
	start = now_secs();
	pthread_barrier_wait(&sh.start);
	for (i = 0; i < o->threads; i++) {
		pthread_join(t[i].tid, NULL);
		reads += t[i].reads;
		updates += t[i].updates;
		if (t[i].end > end)
			end = t[i].end;
		if (rc == 0)
			rc = t[i].rc;
	}
	pthread_barrier_destroy(&sh.start);
	if (rc == 0)
		printf("RESULT ycsb ops=%ld secs=%.6f reads=%ld updates=%ld threads=%ld\n",
		       reads + updates, end - start, reads, updates, o->threads);
	free(t);
	return rc;
}

/*
 * cmd_pairs: O->samples durable updates of two items at once (a transfer):
 * items a (scattered in [0, N - TABLES)) and a + TABLES, of one table, get
 * new versions staged under .new-<name>, which then replace them, durably
 * before the next pair: with TXN NULL by rename, rename and fsync of the
 * table directory (what a program does on any file system); with TXN (an
 * itemfs mount's .itemfs/txn) by one transaction: a manifest of two mv
 * lines written to TXN and fsynced.
 */
static int cmd_pairs(const char *dir, long n, const struct bench_opts *o, const char *txn)
{
	char *buf = malloc((size_t)o->size + 1);
	double start = now_secs();
	long k;
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (k = 0; k < o->samples && rc == 0; k++) {
		long i[2] = {scattered(k, n - o->tables), 0};
		char path[2][4096], table[4096], staged[2][4096 + 32], manifest[512];
		int fd, len = 0;

		i[1] = i[0] + o->tables;
		snprintf(table, sizeof(table), "%s/%s%ld", dir, o->prefix, i[0] % o->tables);
		for (int e = 0; e < 2 && rc == 0; e++) {
			item_path(path[e], sizeof(path[e]), dir, o, i[e]);
			snprintf(staged[e], sizeof(staged[e]), "%s/.new-item%08ld", table, i[e]);
			fill_buf(buf, o->size, i[e], (int)k + 1);
			rc = write_item(staged[e], O_CREAT | O_TRUNC, buf, o->size);
			len += snprintf(manifest + len, sizeof(manifest) - (size_t)len,
					"mv %s%ld/.new-item%08ld %s%ld/item%08ld\n", o->prefix,
					i[e] % o->tables, i[e], o->prefix, i[e] % o->tables, i[e]);
		}
		if (rc)
			break;
		if (txn) {
			fd = open(txn, O_WRONLY | O_CLOEXEC);
			if (fd < 0)
				rc = fail_errno("open", txn);
			else if (write(fd, manifest, (size_t)len) != len || fsync(fd) != 0)
				rc = fail_errno("write and fsync", txn);
			if (fd >= 0 && close(fd) != 0 && rc == 0)
				rc = fail_errno("close", txn);
			continue;
		}
		for (int e = 0; e < 2 && rc == 0; e++)
			if (rename(staged[e], path[e]) != 0)
				rc = fail_errno("rename", staged[e]);
		fd = rc ? -1 : open(table, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rc == 0 && (fd < 0 || fsync(fd) != 0))
			rc = fail_errno("fsync", table);
		if (fd >= 0)
			close(fd);
	}
	if (rc == 0)
		printf("RESULT %s ops=%ld secs=%.6f\n", txn ? "pairs-txn" : "pairs-rename",
		       o->samples, now_secs() - start);
	free(buf);
	return rc;
}

/* ---- main -------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench create DIR FROM TO [-s SIZE] [-t TABLES] [-p PREFIX]\n"
		"       bench overwrite DIR N [-e EVERY] [-s SIZE] [-t TABLES]\n"
		"       bench ls DIR | bench cat DIR\n"
		"       bench stat DIR N [-n SAMPLES] [-t TABLES]\n"
		"       bench ycsb DIR N [-j THREADS] [-d SECS] [-z THETA] [-s SIZE] [-t TABLES]\n"
		"       bench lat DIR N [-n SAMPLES] [-t TABLES]\n"
		"       bench pairs DIR N [-n SAMPLES] [-t TABLES] [-x TXNFILE]\n"
		"Items are DIR/<PREFIX><i %% TABLES>/item<i> (defaults: PREFIX t, TABLES 10,\n"
		"SIZE 1024). Each phase prints: RESULT <name> ops=N secs=S [key=value...]\n");
	exit(2);
}

/* parse_long: S as a long of at least MIN, or a usage error. */
static long parse_long(const char *s, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min) {
		fprintf(stderr, "bench: bad number '%s'\n", s);
		usage();
	}
	return v;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
	    .size = 1024,
	    .tables = 10,
	    .prefix = "t",
	    .every = 10,
	    .samples = 1000,
	    .threads = 1,
	    .secs = 5.0,
	    .theta = 0.99,
	};
	const char *cmd, *dir, *txn = NULL;
	long a = 0, b = 0;
	int c, rc, npos;

	if (argc < 3)
		usage();
	cmd = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "s:t:p:e:n:j:d:z:x:")) != -1) {
		switch (c) {
		case 'x':
			txn = optarg;
			break;
		case 's':
			o.size = parse_long(optarg, 0);
			break;
		case 't':
			o.tables = parse_long(optarg, 1);
			break;
		case 'p':
			o.prefix = optarg;
			break;
		case 'e':
			o.every = parse_long(optarg, 1);
			break;
		case 'n':
			o.samples = parse_long(optarg, 1);
			break;
		case 'j':
			o.threads = parse_long(optarg, 1);
			break;
		case 'd':
			o.secs = strtod(optarg, NULL);
			break;
		case 'z':
			o.theta = strtod(optarg, NULL);
			break;
		default:
			usage();
		}
	}
	npos = argc - optind;
	if (npos < 1)
		usage();
	dir = argv[optind];
	if (npos > 1)
		a = parse_long(argv[optind + 1], 0);
	if (npos > 2)
		b = parse_long(argv[optind + 2], 0);

	if (strcmp(cmd, "create") == 0 && npos == 3 && b >= a)
		rc = cmd_create(dir, a, b, &o);
	else if (strcmp(cmd, "overwrite") == 0 && npos == 2)
		rc = cmd_overwrite(dir, a, &o);
	else if ((strcmp(cmd, "ls") == 0 || strcmp(cmd, "cat") == 0) && npos == 1)
		rc = cmd_walk(dir, cmd[0] == 'c');
	else if (strcmp(cmd, "stat") == 0 && npos == 2 && a > 0)
		rc = cmd_stat(dir, a, &o, "stat");
	else if (strcmp(cmd, "ycsb") == 0 && npos == 2 && a > 1 && o.theta > 0 && o.theta < 1)
		rc = cmd_ycsb(dir, a, &o);
	else if (strcmp(cmd, "lat") == 0 && npos == 2 && a > 0)
		rc = cmd_lat(dir, a, &o);
	else if (strcmp(cmd, "pairs") == 0 && npos == 2 && a > o.tables)
		rc = cmd_pairs(dir, a, &o, txn);
	else
		usage();
	fflush(stdout);
	return rc == 0 ? 0 : 1;
}
