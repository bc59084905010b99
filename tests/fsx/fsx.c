/*
 * fsx.c - itemfs-fsx, a file system exerciser: our own implementation, from
 * scratch, of the idea of the classic fsx (xfstests ltp/fsx.c); no code of
 * it is copied. One file is opened O_RDWR and a seeded PRNG drives a long
 * series of operations on it: read (checked against an in-memory model of
 * the file), write at a random offset and length, truncate (grow and
 * shrink; grown bytes must read as zeros), mapped read and mapped write
 * through mmap (MAP_SHARED, msync), occasional fsync, and close+reopen.
 * Written bytes follow a pattern of the op number and the offset, so a bad
 * byte names the op that wrote what was found. The whole file is checked
 * every -k ops, after each reopen and at the end.
 *
 * For itemfs (docs/design.md, "The write model"): close and fsync commit
 * a new item version, so after a close, and after an fsync, a separate
 * O_RDONLY open must read exactly the model, and so must the reopened
 * O_RDWR descriptor. The item limit counts the file name, so the default
 * length limit is 409600 minus the name's length (-L sets the item limit,
 * 0 for none).
 *
 * Exit status: 0 all checks passed, 1 a check or a syscall failed (the op
 * log of the last 100 ops is printed), 2 usage, 3 mmap itself was refused
 * (the errno is printed; run with -R -W, or -p for MAP_PRIVATE reads).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum op_type { OP_READ, OP_WRITE, OP_MAPREAD, OP_MAPWRITE, OP_TRUNCATE, OP_NMAIN,
	       OP_FSYNC = OP_NMAIN, OP_REOPEN, OP_CHECK };
static const char *const op_names[] = { "read", "write", "mapread", "mapwrite", "truncate",
					"fsync", "close+reopen", "check" };

#define LOG_LEN 100

/* One line of the op log: what was done, and the file size around it. */
struct log_entry {
	uint64_t op;   /* op number (1-based); extras carry the number of the op before */
	enum op_type type;
	size_t off, len;
	size_t size_before, size_after;
};

static struct {
	const char *path;
	size_t maxlen;        /* file length limit, bytes */
	size_t maxoplen;      /* longest read/write */
	uint64_t numops;
	uint64_t seed;
	bool no_mapread, no_mapwrite, map_private, quiet, verbose;
	unsigned close_p, fsync_p; /* 1 in P ops; 0: never */
	uint64_t check_every; /* full check every N ops; 0: only at the end */
	long item_max;        /* itemfs item limit counting the name; 0: none */
} opt = {
	.maxoplen = 65536, .numops = 10000, .check_every = 500, .item_max = 409600,
};

static int fd = -1;
static uint8_t *model;   /* opt.maxlen bytes; past model_size always zeros */
static uint8_t *buf;     /* scratch, opt.maxlen bytes */
static size_t model_size;
static uint64_t opnum;   /* number of the current main op */
static uint64_t prng;
static long pagesize;
static struct log_entry oplog[LOG_LEN];
static uint64_t nlogged;
static uint64_t counts[OP_CHECK + 1];

/* splitmix64: small, fast, and every seed gives a full-period sequence. */
static uint64_t rnd(void)
{
	uint64_t z = (prng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A uniform value in [0, n); n > 0. */
static size_t rnd_below(size_t n)
{
	return (size_t)(rnd() % n);
}

/*
 * The byte op writes at off. Given a bad byte b at off, the op that wrote
 * it is (b - off % 251) mod 256, which report_mismatch() looks up.
 */
static uint8_t pattern(uint64_t op, size_t off)
{
	return (uint8_t)(op + off % 251);
}

static void log_op(enum op_type type, size_t off, size_t len, size_t before)
{
	struct log_entry *e = &oplog[nlogged++ % LOG_LEN];

	*e = (struct log_entry){ opnum, type, off, len, before, model_size };
	counts[type]++;
	if (opt.verbose)
		printf("%" PRIu64 " %s 0x%zx len 0x%zx size 0x%zx -> 0x%zx\n", opnum,
		       op_names[type], off, len, before, model_size);
}

static void dump_log(void)
{
	uint64_t i = nlogged > LOG_LEN ? nlogged - LOG_LEN : 0;

	fprintf(stderr, "op log (last %" PRIu64 " entries, oldest first; offsets, lengths in hex):\n",
		nlogged - i);
	for (; i < nlogged; i++) {
		const struct log_entry *e = &oplog[i % LOG_LEN];

		fprintf(stderr, "  %7" PRIu64 " %-12s off 0x%06zx len 0x%05zx end 0x%06zx"
			" size 0x%06zx -> 0x%06zx\n", e->op, op_names[e->type], e->off, e->len,
			e->off + e->len, e->size_before, e->size_after);
	}
}

static void print_cmdline(void)
{
	fprintf(stderr, "seed %" PRIu64 ", op %" PRIu64 ", file %s, maxlen %zu, maxoplen %zu\n",
		opt.seed, opnum, opt.path, opt.maxlen, opt.maxoplen);
}

/* A syscall failed where it must not: reports it with the op log; exits 1. */
static void die_sys(const char *what, size_t off, size_t len)
{
	int e = errno;

	fprintf(stderr, "itemfs-fsx: %s at op %" PRIu64 " (offset 0x%zx, length 0x%zx): %s (%s)\n",
		what, opnum, off, len, strerror(e), strerrorname_np(e) ? strerrorname_np(e) : "?");
	dump_log();
	print_cmdline();
	exit(1);
}

/* mmap refused: says exactly what the kernel answered; exits 3. */
static void die_mmap(const char *how, size_t off, size_t len)
{
	int e = errno;

	fprintf(stderr, "itemfs-fsx: mmap(%s) of %s at op %" PRIu64 " (offset 0x%zx, length 0x%zx)"
		" refused: %s (%s); run with -R -W (no mmap) or -p -W (MAP_PRIVATE reads)\n", how,
		opt.path, opnum, off, len, strerror(e), strerrorname_np(e) ? strerrorname_np(e) : "?");
	exit(3);
}

/*
 * got[0..len) should equal model[off..off+len): on a mismatch, prints the
 * first bad byte, a window of expected and actual bytes, which op's pattern
 * the bad byte matches, and the op log; exits 1.
 */
static void check_bytes(const char *what, const uint8_t *got, size_t off, size_t len)
{
	size_t i, bad, nbad = 0, last = 0, w;
	uint8_t want_op;

	if (memcmp(got, model + off, len) == 0)
		return;
	for (bad = 0; got[bad] == model[off + bad]; bad++)
		;
	for (i = bad; i < len; i++)
		if (got[i] != model[off + i]) {
			nbad++;
			last = i;
		}
	fprintf(stderr, "itemfs-fsx: %s at op %" PRIu64 ": bad data at offset 0x%zx (%zu) of the"
		" file: %zu bad bytes in 0x%zx..0x%zx (read of 0x%zx..0x%zx)\n", what, opnum,
		off + bad, off + bad, nbad, off + bad, off + last, off, off + len);
	fprintf(stderr, "  offset    expected  actual\n");
	w = bad + 16 < len ? bad + 16 : len;
	for (i = bad; i < w; i++)
		fprintf(stderr, "  0x%06zx  0x%02x      0x%02x%s\n", off + i, model[off + i], got[i],
			got[i] != model[off + i] ? "  <-" : "");
	want_op = (uint8_t)(got[bad] - (off + bad) % 251);
	fprintf(stderr, "  the actual byte 0x%02x is%s what an op numbered %u mod 256 writes there\n",
		got[bad], got[bad] ? "" : " zero, or", want_op);
	for (i = nlogged; i > 0 && i + LOG_LEN > nlogged; i--) {
		const struct log_entry *e = &oplog[(i - 1) % LOG_LEN];

		if ((uint8_t)e->op == want_op && (e->type == OP_WRITE || e->type == OP_MAPWRITE) &&
		    e->off <= off + bad && off + bad < e->off + e->len) {
			fprintf(stderr, "  most recent such write: op %" PRIu64 " (%s)\n", e->op,
				op_names[e->type]);
			break;
		}
	}
	dump_log();
	print_cmdline();
	exit(1);
}

static void check_size(const char *what, int f)
{
	struct stat st;

	if (fstat(f, &st) < 0)
		die_sys("fstat", 0, 0);
	if ((size_t)st.st_size != model_size) {
		fprintf(stderr, "itemfs-fsx: %s at op %" PRIu64 ": size is %jd, expected %zu\n", what,
			opnum, (intmax_t)st.st_size, model_size);
		dump_log();
		print_cmdline();
		exit(1);
	}
}

/* Reads len bytes at off of f with pread, whole; a short read is an error. */
static void pread_all(int f, uint8_t *dst, size_t off, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(f, dst + done, len - done, (off_t)(off + done));

		if (n < 0)
			die_sys("pread", off + done, len - done);
		if (n == 0) {
			fprintf(stderr, "itemfs-fsx: pread at op %" PRIu64 ": end of file at 0x%zx,"
				" expected 0x%zx bytes\n", opnum, off + done, model_size);
			dump_log();
			print_cmdline();
			exit(1);
		}
		done += (size_t)n;
	}
}

/*
 * Maps len bytes at off of f (page-aligned underneath; MAP_SHARED if write
 * or shared, else MAP_PRIVATE) and returns the address of byte off; *base
 * and *maplen take what to munmap.
 */
static uint8_t *map_range(int f, size_t off, size_t len, bool write, bool shared, void **base,
			  size_t *maplen)
{
	size_t pg = off & ~(size_t)(pagesize - 1);
	int flags = write || shared ? MAP_SHARED : MAP_PRIVATE;
	int prot = write ? PROT_READ | PROT_WRITE : PROT_READ;
	void *p;

	*maplen = off - pg + len;
	p = mmap(NULL, *maplen, prot, flags, f, (off_t)pg);
	if (p == MAP_FAILED)
		die_mmap(write ? "PROT_READ|PROT_WRITE, MAP_SHARED" :
			 flags == MAP_SHARED ? "PROT_READ, MAP_SHARED" : "PROT_READ, MAP_PRIVATE",
			 off, len);
	*base = p;
	return (uint8_t *)p + (off - pg);
}

/*
 * The whole file through f: its size, every byte (by pread, or mmap when
 * mapped, MAP_SHARED if shared), and end of file after it.
 */
static void check_file(const char *what, int f, bool mapped, bool shared)
{
	uint8_t extra;
	ssize_t n;

	check_size(what, f);
	if (mapped && model_size) {
		void *base;
		size_t maplen;
		uint8_t *p = map_range(f, 0, model_size, false, shared, &base, &maplen);

		check_bytes(what, p, 0, model_size);
		munmap(base, maplen);
	} else {
		pread_all(f, buf, 0, model_size);
		check_bytes(what, buf, 0, model_size);
	}
	n = pread(f, &extra, 1, (off_t)model_size);
	if (n != 0) {
		if (n < 0)
			die_sys("pread at end of file", model_size, 1);
		fprintf(stderr, "itemfs-fsx: %s at op %" PRIu64 ": a byte past the end (0x%zx)\n",
			what, opnum, model_size);
		dump_log();
		print_cmdline();
		exit(1);
	}
}

/* Opens the file O_RDONLY and checks it: what a new reader sees. */
static void check_new_reader(const char *what)
{
	struct stat st;
	int r = open(opt.path, O_RDONLY);

	if (r < 0)
		die_sys("open O_RDONLY", 0, 0);
	if (stat(opt.path, &st) < 0)
		die_sys("stat", 0, 0);
	if ((size_t)st.st_size != model_size) {
		fprintf(stderr, "itemfs-fsx: %s at op %" PRIu64 ": stat by name: size %jd,"
			" expected %zu\n", what, opnum, (intmax_t)st.st_size, model_size);
		dump_log();
		print_cmdline();
		exit(1);
	}
	/*
	 * With no writer open, the reader may use the page cache, and MAP_SHARED
	 * works even on itemfs; while the writer is open, see -p.
	 */
	if (fd < 0)
		check_file(what, r, !opt.no_mapread, true);
	else
		check_file(what, r, !opt.no_mapread, !opt.map_private);
	if (close(r) < 0)
		die_sys("close O_RDONLY", 0, 0);
}

/* Model of growing or shrinking the file to size. */
static void model_resize(size_t size)
{
	if (size < model_size)
		memset(model + size, 0, model_size - size);
	model_size = size;
}

static void do_read(bool mapped)
{
	size_t off, len;

	if (model_size == 0) {
		log_op(mapped ? OP_MAPREAD : OP_READ, 0, 0, 0); /* nothing to read */
		return;
	}
	off = rnd_below(model_size);
	len = 1 + rnd_below(opt.maxoplen);
	if (len > model_size - off)
		len = model_size - off;
	log_op(mapped ? OP_MAPREAD : OP_READ, off, len, model_size);
	if (mapped) {
		void *base;
		size_t maplen;
		const uint8_t *p = map_range(fd, off, len, false, !opt.map_private, &base, &maplen);

		check_bytes("mapread", p, off, len);
		munmap(base, maplen);
	} else {
		pread_all(fd, buf, off, len);
		check_bytes("read", buf, off, len);
	}
}

static void do_write(bool mapped)
{
	size_t off = rnd_below(opt.maxlen), len = 1 + rnd_below(opt.maxoplen), i, before = model_size;

	if (len > opt.maxlen - off)
		len = opt.maxlen - off;
	for (i = 0; i < len; i++)
		buf[i] = pattern(opnum, off + i);
	memcpy(model + off, buf, len); /* bytes between the old end and off stay 0 */
	if (off + len > model_size)
		model_size = off + len;
	log_op(mapped ? OP_MAPWRITE : OP_WRITE, off, len, before);
	if (mapped) {
		void *base;
		size_t maplen;
		uint8_t *p;

		/* A mapping cannot grow the file: extend it first, as fsx does. */
		if (off + len > before && ftruncate(fd, (off_t)(off + len)) < 0)
			die_sys("ftruncate before mapwrite", off, len);
		p = map_range(fd, off, len, true, true, &base, &maplen);
		memcpy(p, buf, len);
		if (msync(base, maplen, MS_SYNC) < 0)
			die_sys("msync", off, len);
		if (munmap(base, maplen) < 0)
			die_sys("munmap", off, len);
	} else {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0)
			die_sys("pwrite", off, len);
		if ((size_t)n != len) {
			errno = EIO;
			die_sys("short pwrite", off, len);
		}
	}
	check_size(op_names[mapped ? OP_MAPWRITE : OP_WRITE], fd);
}

static void do_truncate(void)
{
	size_t size = rnd_below(opt.maxlen + 1), before = model_size;

	model_resize(size);
	log_op(OP_TRUNCATE, size, 0, before);
	if (ftruncate(fd, (off_t)size) < 0)
		die_sys("ftruncate", size, 0);
	check_size("truncate", fd);
}

static void do_reopen(void)
{
	log_op(OP_REOPEN, 0, 0, model_size);
	if (close(fd) < 0)
		die_sys("close", 0, 0);
	fd = -1;
	check_new_reader("new reader after close");
	fd = open(opt.path, O_RDWR);
	if (fd < 0)
		die_sys("reopen O_RDWR", 0, 0);
	check_file("reopened file", fd, false, false);
}

static void do_fsync(void)
{
	log_op(OP_FSYNC, 0, 0, model_size);
	if (fsync(fd) < 0)
		die_sys("fsync", 0, 0);
	check_new_reader("new reader after fsync");
}

static void usage(void)
{
	fprintf(stderr,
		"usage: itemfs-fsx [options] FILE\n"
		"  -l LEN   file length limit (default: item limit minus the name's length)\n"
		"  -L LEN   item limit the name counts against (default 409600; 0: none)\n"
		"  -N N     number of operations (default 10000)\n"
		"  -S SEED  PRNG seed (default 1; 0: from the clock)\n"
		"  -o LEN   longest read or write (default 65536)\n"
		"  -R / -W  no mapped reads / no mapped writes\n"
		"  -p       mapped reads of the open file use MAP_PRIVATE (itemfs refuses\n"
		"           MAP_SHARED while a writer is open: direct I/O)\n"
		"  -c P     close and reopen in 1 of P ops (default never)\n"
		"  -f P     fsync in 1 of P ops (default never)\n"
		"  -k N     check the whole file every N ops (default 500; 0: only at the end)\n"
		"  -q / -v  quiet / print every op\n");
	exit(2);
}

static uint64_t num_arg(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		usage();
	return v;
}

int main(int argc, char **argv)
{
	long maxlen = -1;
	const char *name;
	struct timespec t0, t1;
	int c;

	opt.seed = 1;
	while ((c = getopt(argc, argv, "l:L:N:S:o:RWpc:f:k:qv")) != -1) {
		switch (c) {
		case 'l': maxlen = (long)num_arg(optarg); break;
		case 'L': opt.item_max = (long)num_arg(optarg); break;
		case 'N': opt.numops = num_arg(optarg); break;
		case 'S': opt.seed = num_arg(optarg); break;
		case 'o': opt.maxoplen = num_arg(optarg); break;
		case 'R': opt.no_mapread = true; break;
		case 'W': opt.no_mapwrite = true; break;
		case 'p': opt.map_private = true; break;
		case 'c': opt.close_p = (unsigned)num_arg(optarg); break;
		case 'f': opt.fsync_p = (unsigned)num_arg(optarg); break;
		case 'k': opt.check_every = num_arg(optarg); break;
		case 'q': opt.quiet = true; break;
		case 'v': opt.verbose = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || opt.maxoplen == 0)
		usage();
	opt.path = argv[optind];
	name = strrchr(opt.path, '/') ? strrchr(opt.path, '/') + 1 : opt.path;
	if (opt.item_max) {
		long lim = opt.item_max - (long)strlen(name);

		if (maxlen > lim && !opt.quiet)
			printf("itemfs-fsx: -l %ld lowered to %ld: the item limit %ld counts the"
			       " name '%s'\n", maxlen, lim, opt.item_max, name);
		if (maxlen < 0 || maxlen > lim)
			maxlen = lim;
	}
	if (maxlen <= 0) {
		fprintf(stderr, "itemfs-fsx: give a positive -l\n");
		usage();
	}
	opt.maxlen = (size_t)maxlen;
	if (opt.maxoplen > opt.maxlen)
		opt.maxoplen = opt.maxlen;
	if (opt.seed == 0) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		opt.seed = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
	}
	prng = opt.seed;
	pagesize = sysconf(_SC_PAGESIZE);
	model = calloc(1, opt.maxlen);
	buf = malloc(opt.maxlen);
	if (!model || !buf) {
		fprintf(stderr, "itemfs-fsx: out of memory\n");
		return 1;
	}
	fd = open(opt.path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die_sys("open O_RDWR|O_CREAT|O_TRUNC", 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (opnum = 1; opnum <= opt.numops; opnum++) {
		enum op_type t = (enum op_type)rnd_below(OP_NMAIN);

		if (t == OP_MAPREAD && opt.no_mapread)
			t = OP_READ;
		if (t == OP_MAPWRITE && opt.no_mapwrite)
			t = OP_WRITE;
		switch (t) {
		case OP_READ: do_read(false); break;
		case OP_MAPREAD: do_read(true); break;
		case OP_WRITE: do_write(false); break;
		case OP_MAPWRITE: do_write(true); break;
		default: do_truncate(); break;
		}
		if (opt.fsync_p && rnd_below(opt.fsync_p) == 0)
			do_fsync();
		if (opt.close_p && rnd_below(opt.close_p) == 0)
			do_reopen();
		if (opt.check_every && opnum % opt.check_every == 0) {
			log_op(OP_CHECK, 0, model_size, model_size);
			check_file("full check", fd, false, false);
		}
	}
	opnum--;
	log_op(OP_CHECK, 0, model_size, model_size);
	check_file("final check", fd, false, false);
	if (close(fd) < 0)
		die_sys("close", 0, 0);
	fd = -1;
	check_new_reader("final new reader");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!opt.quiet)
		printf("itemfs-fsx: %s: %" PRIu64 " ops passed, seed %" PRIu64 ", maxlen %zu, %.1f s"
		       " (read %" PRIu64 ", write %" PRIu64 ", mapread %" PRIu64 ", mapwrite %" PRIu64
		       ", truncate %" PRIu64 ", fsync %" PRIu64 ", reopen %" PRIu64 ")\n",
		       opt.path, opt.numops, opt.seed, opt.maxlen,
		       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		       counts[OP_READ], counts[OP_WRITE], counts[OP_MAPREAD], counts[OP_MAPWRITE],
		       counts[OP_TRUNCATE], counts[OP_FSYNC], counts[OP_REOPEN]);
	free(model);
	free(buf);
	return 0;
}
