/*
 * crashimg.c - builds the data file a power loss could have left, from a
 * log of the writes and syncs the daemon made to it (iolog.c, iolog.h).
 *
 *   crashimg LOG OUTDIR [--seed S] [--after-ns T] [--pos K|end] [--drop-synced N]
 *   crashimg LOG OUTDIR --final
 *   crashimg LOG --stats
 *
 * The crash instant is a log position K: records 0..K-1 completed, record
 * K (if any) was in flight, later ones never happened. K is --pos, or
 * drawn (with --seed) from the positions whose call began at or after
 * --after-ns (the moment the mount was ready: a store whose creation was
 * cut short is not a store), "end" meaning after the last record.
 * Then, in log order:
 *  - a write that completed before a sync of the file (fsync, fdatasync,
 *    sync, syncfs; one that succeeded, at a position before K) began, or a
 *    write through an O_DSYNC/O_SYNC descriptor that completed before K, is
 *    durable: applied whole;
 *  - any other write before K, and the one in flight, is applied whole,
 *    dropped, or torn (each 512-byte sector applied or not), at random;
 *  - ftruncate likewise.
 * sync_file_range is no sync: it neither flushes the disk cache nor the
 * file's metadata.
 * With --drop-synced N (a deliberately wrong image, the negative control of
 * the test) N durable writes are dropped, drawn from the pages of the last
 * commit that completed before K: the plain writes between the two syncs
 * that precede the last O_DSYNC write (LMDB's meta page) before K. A real
 * disk never loses them; a correct checker must notice.
 * --final applies every record in order: the file the run left, to compare
 * with the real one (a log that misses writes shows there).
 *
 * OUTDIR/data.mdb is written (OUTDIR is created; no lock.mdb). One line on
 * stdout describes the image, ending with t_lo and t_hi: every fsync
 * acknowledged before t_lo (CLOCK_MONOTONIC ns) must be in the image, and
 * nothing whose first call came after t_hi can be ("inf": no bound).
 * Exit: 0; 2 usage, I/O or a log the simulation cannot model (writes
 * through a shared writable mapping, O_APPEND descriptors).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iolog.h"

#define SECTOR 512u
#define NEVER UINT64_MAX

struct rec {
	struct iolog_rec h; /* a copy: records in the log are not aligned */
	const unsigned char *payload;
};

struct image {
	unsigned char *data;
	uint64_t size, cap;
};

static uint64_t rng_state = 1;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void __attribute__((noreturn)) die(const char *msg)
{
	fprintf(stderr, "crashimg: %s\n", msg);
	exit(2);
}

static void img_reserve(struct image *im, uint64_t size)
{
	if (size <= im->cap)
		return;
	uint64_t cap = im->cap ? im->cap : 1 << 20;
	while (cap < size)
		cap *= 2;
	im->data = realloc(im->data, cap);
	if (!im->data)
		die("out of memory");
	memset(im->data + im->cap, 0, cap - im->cap);
	im->cap = cap;
}

/* Applies bytes [from, to) of a write at off (payload p) to the image. */
static void img_write(struct image *im, uint64_t off, const unsigned char *p, uint64_t from,
		      uint64_t to)
{
	if (from >= to)
		return;
	img_reserve(im, off + to);
	memcpy(im->data + off + from, p + from, to - from);
	if (off + to > im->size)
		im->size = off + to;
}

static void img_truncate(struct image *im, uint64_t size)
{
	img_reserve(im, size);
	if (size < im->size)
		memset(im->data + size, 0, im->size - size);
	im->size = size;
}

/* Indexes the log; refuses what the simulation cannot model. Returns the count. */
static size_t load(const char *path, struct rec **out)
{
	struct stat st;
	const unsigned char *base, *p, *end;
	struct rec *recs = NULL;
	size_t n = 0, cap = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		perror(path);
		exit(2);
	}
	if ((size_t)st.st_size < IOLOG_MAGIC_LEN)
		die("the log is empty: was the shim loaded (LD_PRELOAD) and IOLOG_TARGET right?");
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		die("cannot map the log");
	if (memcmp(base, IOLOG_MAGIC, IOLOG_MAGIC_LEN) != 0)
		die("not an iolog file");
	p = base + IOLOG_MAGIC_LEN;
	end = base + st.st_size;
	while (p < end) {
		struct iolog_rec hdr, *r = &hdr;
		if ((size_t)(end - p) < sizeof(*r))
			die("the log ends inside a record");
		memcpy(r, p, sizeof(*r));
		if (r->paylen > (uint64_t)(end - p) - sizeof(*r))
			die("the log ends inside a record");
		if (r->type < IOLOG_OPEN || r->type > IOLOG_MAPWRITE)
			die("unknown record type in the log");
		if (r->type == IOLOG_MAPWRITE)
			die("the daemon mapped the store writable (MDB_WRITEMAP?): its writes are "
			    "not in the log, so this simulation cannot model them");
		if (r->type == IOLOG_WRITE && r->res > 0 &&
		    ((r->flags & IOLOG_F_APPEND) || r->off < 0 || (uint64_t)r->res != r->paylen))
			die("a write the simulation cannot place (O_APPEND or unknown offset)");
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			recs = realloc(recs, cap * sizeof(*recs));
			if (!recs)
				die("out of memory");
		}
		recs[n].h = *r;
		recs[n].payload = p + sizeof(*r);
		n++;
		p += sizeof(*r) + r->paylen;
	}
	*out = recs;
	return n;
}

static bool is_sync(const struct iolog_rec *r)
{
	return r->res == 0 &&
	       (r->type == IOLOG_FSYNC || r->type == IOLOG_FDATASYNC || r->type == IOLOG_SYNCALL);
}

/*
 * The negative control: marks n writes of the last commit completed before
 * k (see the top of the file) to be dropped. Returns a flag per record.
 */
static bool *pick_drops(const struct rec *recs, size_t k, unsigned n)
{
	bool *drop = calloc(k + 1, sizeof(*drop));
	size_t meta = k, s1 = k, s0 = 0, *cand, ncand = 0;

	if (!drop)
		die("out of memory");
	while (meta-- > 0)
		if (recs[meta].h.type == IOLOG_WRITE && (recs[meta].h.flags & IOLOG_F_DSYNC) &&
		    recs[meta].h.res > 0)
			break;
	if (meta == (size_t)-1)
		return drop;
	for (s1 = meta; s1-- > 0;)
		if (is_sync(&recs[s1].h))
			break;
	if (s1 == (size_t)-1)
		return drop;
	for (s0 = s1; s0-- > 0;)
		if (is_sync(&recs[s0].h))
			break;
	cand = calloc(s1 + 1, sizeof(*cand));
	if (!cand)
		die("out of memory");
	for (size_t i = s0 + 1; i < s1; i++) /* s0 == -1 wraps to 0 */
		if (recs[i].h.type == IOLOG_WRITE && recs[i].h.res > 0 &&
		    !(recs[i].h.flags & IOLOG_F_DSYNC) && recs[i].h.t_end < recs[s1].h.t_start)
			cand[ncand++] = i;
	for (unsigned d = 0; d < n && ncand > 0; d++) {
		size_t j = rnd() % ncand;
		drop[cand[j]] = true;
		cand[j] = cand[--ncand];
	}
	free(cand);
	return drop;
}

static void stats(const struct rec *recs, size_t n)
{
	size_t counts[IOLOG_MAPWRITE + 1] = {0}, dsync = 0;
	uint64_t bytes = 0;

	for (size_t i = 0; i < n; i++) {
		counts[recs[i].h.type]++;
		if (recs[i].h.type == IOLOG_WRITE) {
			bytes += recs[i].h.paylen;
			dsync += (recs[i].h.flags & IOLOG_F_DSYNC) != 0;
		}
	}
	printf("records=%zu opens=%zu writes=%zu (dsync %zu, %llu bytes) truncates=%zu fsync=%zu "
	       "fdatasync=%zu sync_file_range=%zu syncall=%zu\n",
	       n, counts[IOLOG_OPEN], counts[IOLOG_WRITE], dsync, (unsigned long long)bytes,
	       counts[IOLOG_TRUNC], counts[IOLOG_FSYNC], counts[IOLOG_FDATASYNC], counts[IOLOG_SFR],
	       counts[IOLOG_SYNCALL]);
}

static void write_image(const char *dir, const struct image *im)
{
	char path[4096];
	size_t done = 0;
	int fd;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		perror(dir);
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		exit(2);
	}
	while (done < im->size) {
		ssize_t w = write(fd, im->data + done, im->size - done);
		if (w <= 0) {
			perror(path);
			exit(2);
		}
		done += (size_t)w;
	}
	if (close(fd) != 0) {
		perror(path);
		exit(2);
	}
}

static void print_time(const char *name, uint64_t t)
{
	if (t == NEVER)
		printf(" %s=inf", name);
	else
		printf(" %s=%llu", name, (unsigned long long)t);
}

int main(int argc, char **argv)
{
	const char *log, *outdir = NULL, *pos_arg = NULL;
	uint64_t after = 0, sync_start = 0, t_lo = NEVER, t_hi = 0;
	unsigned drop_n = 0, durable = 0, unsynced = 0, applied = 0, dropped = 0, torn = 0,
		 dropped_synced = 0;
	bool final = false, want_stats = false;
	struct image im = {NULL, 0, 0};
	struct rec *recs;
	size_t n, first = 0, k;
	bool *drop = NULL;

	if (argc < 3)
		goto usage;
	log = argv[1];
	if (strcmp(argv[2], "--stats") == 0)
		want_stats = true;
	else
		outdir = argv[2];
	for (int i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--final") == 0) {
			final = true;
			continue;
		}
		if (!v)
			goto usage;
		if (strcmp(argv[i], "--seed") == 0)
			rng_state = strtoull(v, NULL, 0) * 0x2545f4914f6cdd1dull + 1;
		else if (strcmp(argv[i], "--after-ns") == 0)
			after = strtoull(v, NULL, 0);
		else if (strcmp(argv[i], "--pos") == 0)
			pos_arg = v;
		else if (strcmp(argv[i], "--drop-synced") == 0)
			drop_n = (unsigned)atoi(v);
		else
			goto usage;
		i++;
	}
	n = load(log, &recs);
	if (want_stats) {
		stats(recs, n);
		free(recs);
		return 0;
	}
	while (first < n && recs[first].h.t_start < after)
		first++;
	if (final || (pos_arg && strcmp(pos_arg, "end") == 0))
		k = n;
	else if (pos_arg)
		k = strtoull(pos_arg, NULL, 0);
	else
		k = first + rnd() % (n - first + 1);
	if (k > n)
		die("--pos past the end of the log");
	if (drop_n)
		drop = pick_drops(recs, k, drop_n);
	for (size_t i = 0; i < k; i++)
		if (is_sync(&recs[i].h) && recs[i].h.t_start > sync_start)
			sync_start = recs[i].h.t_start;
	for (size_t i = 0; i <= k && i < n; i++) {
		const struct iolog_rec *r = &recs[i].h;
		bool in_flight = i == k, is_durable;
		unsigned pick;

		if (r->t_start > t_hi)
			t_hi = r->t_start;
		if (r->type != IOLOG_WRITE && r->type != IOLOG_TRUNC)
			continue;
		if (r->res < 0 || (r->type == IOLOG_WRITE && r->res == 0))
			continue;
		is_durable = final || (!in_flight &&
				       (r->t_end < sync_start ||
					(r->type == IOLOG_WRITE && (r->flags & IOLOG_F_DSYNC))));
		if (is_durable) {
			durable++;
			if (drop && drop[i]) {
				dropped_synced++;
				continue;
			}
			pick = 0;
		} else {
			unsynced++;
			pick = (unsigned)(rnd() % 20); /* 0-8 apply, 9-17 drop, 18-19 tear */
			pick = pick < 9 ? 0 : pick < 18 ? 1 : 2;
		}
		if (r->type == IOLOG_TRUNC) {
			if (pick == 0)
				img_truncate(&im, (uint64_t)r->off);
			applied += pick == 0;
			dropped += pick != 0;
			continue;
		}
		if (pick == 0) {
			img_write(&im, (uint64_t)r->off, recs[i].payload, 0, r->paylen);
			applied++;
		} else if (pick == 1) {
			dropped++;
		} else {
			/* each sector (by absolute file offset) independently */
			uint64_t off = (uint64_t)r->off, from = 0;
			torn++;
			while (from < r->paylen) {
				uint64_t to = ((off + from) / SECTOR + 1) * SECTOR - off;
				if (to > r->paylen)
					to = r->paylen;
				if (rnd() & 1)
					img_write(&im, off, recs[i].payload, from, to);
				from = to;
			}
		}
	}
	if (k < n) {
		t_lo = recs[k].h.t_end;
		for (size_t j = k + 1; j < n; j++)
			if (recs[j].h.t_start < t_lo)
				t_lo = recs[j].h.t_start;
	} else {
		t_hi = NEVER;
	}
	write_image(outdir, &im);
	printf("pos=%zu of %zu (from %zu) durable=%u unsynced=%u applied=%u dropped=%u torn=%u "
	       "dropped_synced=%u size=%llu",
	       k, n, first, durable, unsynced, applied, dropped, torn, dropped_synced,
	       (unsigned long long)im.size);
	print_time("t_lo", t_lo);
	print_time("t_hi", t_hi);
	putchar('\n');
	free(drop);
	free(im.data);
	free(recs);
	return 0;
usage:
	fputs("usage: crashimg LOG OUTDIR [--seed S] [--after-ns T] [--pos K|end] [--drop-synced "
	      "N]\n"
	      "       crashimg LOG OUTDIR --final\n"
	      "       crashimg LOG --stats\n",
	      stderr);
	return 2;
}
