/*
 * lmdb_tail.c - whether a data.mdb that ends before its last page is whole:
 * lmdb_tail_free(), for the open's length check (lmdb_env.c).
 *
 * LMDB does not write a page that a transaction allocated and freed again
 * before it committed (a "loose" page, or an overflow run dropped in the
 * same transaction): the page goes to the free list unwritten, yet the meta
 * page's last page counts it. When such pages are the highest ones, a
 * healthy data.mdb ends before (last page + 1) x page size, until a later
 * commit reuses them (LMDB's own mdb_env_copy() stops at the file's end for
 * this reason). A kill -9 right after such a commit leaves the store so. A
 * copy cut short ends before pages in use instead. Only the free list tells
 * the two apart, and it must be read without touching the missing pages
 * through LMDB's map (SIGBUS): so this reads the newest meta page and the
 * free list's B-tree with pread(), in LMDB's on-disk format. lmdb.h does not
 * export that format; it is data version 1, LMDB 0.9's, and a meta page of
 * another version is not read (the file is then taken as cut short, as it
 * was before this check could tell).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "lmdb_i.h"

/* A page: pgno u64, pad u16, flags u16, then lower u16 and upper u16 (or,
 * for the first page of an overflow run, the run's length u32); then the
 * node offsets, u16 each. */
#define TAIL_PAGE_HDR 16u
#define TAIL_PAGE_FLAGS 10u
#define TAIL_PAGE_LOWER 12u
#define TAIL_PAGE_RUN 12u
#define TAIL_P_BRANCH 0x01u
#define TAIL_P_LEAF 0x02u
#define TAIL_P_OVERFLOW 0x04u
/* A node: lo u16, hi u16, flags u16, key size u16, the key, then the data.
 * In a branch, lo | hi << 16 | flags << 32 is the child's page; in a leaf,
 * lo | hi << 16 is the data's size, and with F_BIGDATA the data is the page
 * of its overflow run. */
#define TAIL_NODE_HDR 8u
#define TAIL_F_BIGDATA 0x01u
/* The meta page, after the page header: magic u32, version u32, address
 * u64, map size u64, then the free list's MDB_db (pad u32, flags u16, depth
 * u16, branch, leaf and overflow page counts, entries, root: u64 each),
 * the main MDB_db likewise, the last page u64 and the txnid u64. */
#define TAIL_META_MAGIC 0xBEEFC0DEu
#define TAIL_META_VERSION 1u
#define TAIL_META_FREE_ROOT (TAIL_PAGE_HDR + 24u + 40u)
#define TAIL_META_LAST (TAIL_PAGE_HDR + 24u + 96u)
#define TAIL_META_TXNID (TAIL_META_LAST + 8u)
#define TAIL_NO_PAGE UINT64_MAX /* an empty tree's root */
/* Deeper than any B-tree of 2^64 pages: a cycle in a damaged file (which
 * the count of pages read, at most the file's, also stops when it is wide). */
#define TAIL_DEPTH_MAX 64

struct tail {
	int fd;
	size_t psize;
	uint64_t have;	     /* whole pages in the file */
	uint64_t last;	     /* the newest meta page's last page (> have - 1) */
	unsigned char *seen; /* bit p - have: page p found in the free list */
	uint64_t nseen;	     /* bits set in seen */
	uint64_t read;	     /* pages of the tree read so far: a tree has fewer than have */
};

static uint64_t le(const unsigned char *p, unsigned n)
{
	uint64_t x = 0;

	while (n--)
		x = x << 8 | p[n];
	return x;
}

/* Page pgno into buf (psize bytes): 0, 1 when it lies past the file's end
 * or is not the page it says (not whole), or -errno. */
static int read_page(const struct tail *t, uint64_t pgno, unsigned char *buf)
{
	ssize_t n;

	if (pgno >= t->have)
		return 1;
	n = pread(t->fd, buf, t->psize, (off_t)(pgno * t->psize));
	if (n < 0)
		return -errno;
	if ((size_t)n != t->psize || le(buf, 8) != pgno)
		return 1;
	return 0;
}

/* Marks the pages of one free-list record (an IDL: a count, then that many
 * page numbers, u64 each) that lie past the file's end. */
static int mark(struct tail *t, const unsigned char *ids, uint64_t size)
{
	uint64_t count = size >= 8 ? le(ids, 8) : UINT64_MAX;

	if (count > size / 8 - 1)
		return 1;
	for (uint64_t i = 1; i <= count; i++) {
		uint64_t p = le(ids + 8 * i, 8), b = p - t->have;
		unsigned char bit = (unsigned char)(1u << b % 8);

		if (p >= t->have && p <= t->last && !(t->seen[b / 8] & bit)) {
			t->seen[b / 8] |= bit;
			t->nseen++;
		}
	}
	return 0;
}

/* A record kept in an overflow run from page pgno, size bytes. */
static int mark_overflow(struct tail *t, uint64_t pgno, uint64_t size, unsigned char *buf)
{
	unsigned char *data;
	uint64_t run;
	ssize_t n;
	int rc = read_page(t, pgno, buf);

	if (rc)
		return rc;
	run = le(buf + TAIL_PAGE_RUN, 4);
	if (!(le(buf + TAIL_PAGE_FLAGS, 2) & TAIL_P_OVERFLOW) || run > t->have - pgno ||
	    size > run * t->psize - TAIL_PAGE_HDR)
		return 1;
	data = malloc(size ? size : 1);
	if (!data)
		return -ENOMEM;
	n = pread(t->fd, data, size, (off_t)(pgno * t->psize + TAIL_PAGE_HDR));
	rc = n < 0 ? -errno : (uint64_t)n != size ? 1 : mark(t, data, size);
	free(data);
	return rc;
}

/* The free list's subtree at page pgno. */
static int walk(struct tail *t, uint64_t pgno, int depth)
{
	unsigned char *buf = malloc(2 * t->psize); /* the page, and an overflow run's first */
	uint64_t flags, lower;
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = depth > TAIL_DEPTH_MAX || ++t->read > t->have ? 1 : read_page(t, pgno, buf);
	if (rc) {
		free(buf);
		return rc;
	}
	flags = le(buf + TAIL_PAGE_FLAGS, 2);
	lower = le(buf + TAIL_PAGE_LOWER, 2);
	if (lower < TAIL_PAGE_HDR || lower > t->psize || !(flags & (TAIL_P_BRANCH | TAIL_P_LEAF)))
		rc = 1;
	for (uint64_t i = 0; rc == 0 && i < (lower - TAIL_PAGE_HDR) / 2; i++) {
		uint64_t off = le(buf + TAIL_PAGE_HDR + 2 * i, 2), lo, ksize, data;
		const unsigned char *node = buf + off;

		if (off < lower || off + TAIL_NODE_HDR > t->psize) {
			rc = 1;
			break;
		}
		lo = le(node, 4); /* lo | hi << 16 */
		ksize = le(node + 6, 2);
		data = off + TAIL_NODE_HDR + ksize;
		if (flags & TAIL_P_BRANCH)
			rc = walk(t, lo | le(node + 4, 2) << 32, depth + 1);
		else if ((le(node + 4, 2) & TAIL_F_BIGDATA) && data + 8 > t->psize)
			rc = 1;
		else if (le(node + 4, 2) & TAIL_F_BIGDATA)
			rc = mark_overflow(t, le(buf + data, 8), lo, buf + t->psize);
		else
			rc = data + lo > t->psize ? 1 : mark(t, buf + data, lo);
	}
	free(buf);
	return rc;
}

int lmdb_tail_free(int fd, size_t psize, uint64_t have)
{
	struct tail t = {.fd = fd, .psize = psize, .have = have};
	unsigned char *meta[2] = {NULL, NULL};
	uint64_t txnid[2] = {0, 0}, root;
	int rc = 0, m;

	if (psize < 512 || have < 2)
		return 1;
	for (m = 0; m < 2 && rc == 0; m++) {
		meta[m] = malloc(psize);
		rc = meta[m] ? read_page(&t, (uint64_t)m, meta[m]) : -ENOMEM;
		if (rc == 0 && (le(meta[m] + TAIL_PAGE_HDR, 4) != TAIL_META_MAGIC ||
				le(meta[m] + TAIL_PAGE_HDR + 4, 4) != TAIL_META_VERSION))
			rc = 1;
		if (rc == 0)
			txnid[m] = le(meta[m] + TAIL_META_TXNID, 8);
	}
	if (rc)
		goto out;
	m = txnid[1] > txnid[0]; /* the newest, as LMDB picks it */
	t.last = le(meta[m] + TAIL_META_LAST, 8);
	root = le(meta[m] + TAIL_META_FREE_ROOT, 8);
	if (t.last < have)
		goto out; /* whole by this meta page: one newer than the caller's */
	if (root == TAIL_NO_PAGE) {
		rc = 1;
		goto out;
	}
	t.seen = calloc((t.last - have) / 8 + 1, 1);
	rc = t.seen ? walk(&t, root, 0) : -ENOMEM;
	if (rc == 0 && t.nseen != t.last + 1 - have)
		rc = 1;
out:
	free(t.seen);
	free(meta[0]);
	free(meta[1]);
	return rc;
}
