/*
 * lmdb_check.c - store_check() for the LMDB backend: verifies a whole store
 * in one read transaction against the layout and the invariants of
 * docs/store-format.md (its section "itemfs check" lists every check).
 *
 * The work is a few cursor walks in key order, never a lookup per record:
 *  1. (here) the inode database, merged with the data and xattr databases
 *     (all three are keyed by inode number first): meta, record shapes,
 *     checksums, sizes, xattr byte counts, the item limit. Each inode
 *     leaves one compact struct ck_node in an array sorted by inode number;
 *  2. (lmdb_check_tree.c) the dirent database: entry shapes, dangling
 *     entries, type bits, and what the names give each node;
 *  3. (lmdb_check_tree.c, only if needed) the dirent database again, for
 *     files whose first directory is unreachable but that have other
 *     names, and for the names on the paths of the inodes with problems.
 * Then the counts are compared with the records, and reachability from the
 * root is resolved along the chains of holding directories. Problems are
 * kept until the end, when their paths can be built, and are then reported
 * in inode order: paths cost memory only for the inodes that have problems.
 *
 * Nothing is written, and nothing is logged but an LMDB failure, which
 * stops the check (-EIO).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lmdb_check_i.h"

/* docs/store-format.md ("itemfs check") states the memory per inode. */
_Static_assert(sizeof(struct ck_node) == 40, "struct ck_node changed size: update the docs");

/* A cursor on the data or xattr database, walked alongside the inodes. */
struct ck_side {
	MDB_cursor *cur;
	MDB_val k, v;
	bool end;
	bool xattr;	     /* keys are u64 ‖ name (else: u64 alone) */
	const char *db;	     /* database name, for messages */
	uint64_t miss_ino;   /* records of a missing inode, being counted */
	uint64_t miss_count; /* 0: none */
};

/* ---- problems --------------------------------------------------------- */

static void note_v(struct ck *c, uint64_t ino, uint64_t dir, const void *name, size_t len,
		   const char *fmt, va_list ap)
{
	struct ck_problem *p;
	char *msg;

	if (c->err)
		return;
	if (c->nprobs == c->probcap) {
		size_t cap = c->probcap ? 2 * c->probcap : 16;

		p = realloc(c->probs, cap * sizeof(*p));
		if (!p) {
			c->err = -ENOMEM;
			return;
		}
		c->probs = p;
		c->probcap = cap;
	}
	if (vasprintf(&msg, fmt, ap) < 0) {
		c->err = -ENOMEM;
		return;
	}
	p = c->nprobs ? &c->probs[c->nprobs - 1] : NULL;
	if (p && !name && !p->name && p->ino == ino && strcmp(p->msg, msg) == 0) {
		p->again++; /* a damaged page can hold thousands of the same bad key */
		free(msg);
		return;
	}
	p = &c->probs[c->nprobs];
	*p = (struct ck_problem){.ino = ino, .seq = c->nprobs, .dir = dir, .msg = msg};
	if (name && !(p->name = strndup(name, len))) {
		free(msg);
		c->err = -ENOMEM;
		return;
	}
	c->nprobs++;
}

void ck_note(struct ck *c, uint64_t ino, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_v(c, ino, 0, NULL, 0, fmt, ap);
	va_end(ap);
}

void ck_note_at(struct ck *c, uint64_t ino, uint64_t dir, const void *name, size_t len,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_v(c, ino, dir, name, len, fmt, ap);
	va_end(ap);
}

/* The check stops with -EIO (or -ENOMEM, ...: lmdb_errno()'s answer). */
int ck_fail(struct ck *c, int rc, const char *db)
{
	if (c->err)
		return c->err;
	ck_note(c, 0, "the %s database cannot be read (%s); the check stopped there", db,
		mdb_strerror(rc));
	c->err = lmdb_errno(c->st, rc, "checking the store", 0);
	if (c->err == -ENOENT || c->err == -EEXIST)
		c->err = -EIO;
	return c->err;
}

/* ---- nodes ------------------------------------------------------------ */

uint32_t ck_find(const struct ck *c, uint64_t ino)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->nodes[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->n && c->nodes[lo].ino == ino ? (uint32_t)lo : CK_NONE;
}

static struct ck_node *node_add(struct ck *c, uint64_t ino)
{
	struct ck_node *nd;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;

		if (cap >= CK_NONE) {
			c->err = -ENOMEM;
			return NULL;
		}
		nd = realloc(c->nodes, cap * sizeof(*nd));
		if (!nd) {
			c->err = -ENOMEM;
			return NULL;
		}
		c->nodes = nd;
		c->cap = cap;
	}
	nd = &c->nodes[c->n++];
	*nd = (struct ck_node){.ino = ino, .holder = CK_NONE};
	return nd;
}

/* ---- walk 1: meta, inodes, data, xattrs --------------------------------- */

static void check_meta(struct ck *c, uint64_t *next_ino)
{
	MDB_val k = lmdb_meta_key(LMDB_META_FORMAT), v;
	uint32_t format;
	int rc;

	*next_ino = 0;
	rc = mdb_get(c->txn, c->st->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		ck_note(c, 0, "meta: no format record");
	else if (rc)
		ck_fail(c, rc, "meta");
	else if (lmdb_u32_get(&v, &format))
		ck_note(c, 0, "meta: format record of %zu bytes, expected 4", v.mv_size);
	else if (format != STORE_FORMAT_VERSION)
		ck_note(c, 0, "meta: format version %u, expected %u", format, STORE_FORMAT_VERSION);

	k = lmdb_meta_key(LMDB_META_NEXT_INO);
	rc = mdb_get(c->txn, c->st->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		ck_note(c, 0, "meta: no next_ino record");
	else if (rc)
		ck_fail(c, rc, "meta");
	else if (lmdb_u64_get(&v, next_ino))
		ck_note(c, 0, "meta: next_ino record of %zu bytes, expected 8", v.mv_size);
}

static int side_next(struct ck *c, struct ck_side *s, MDB_cursor_op op)
{
	int rc = mdb_cursor_get(s->cur, &s->k, &s->v, op);

	if (rc == MDB_NOTFOUND) {
		s->end = true;
		return 0;
	}
	return rc ? ck_fail(c, rc, s->db) : 0;
}

static bool side_key_ok(const struct ck_side *s)
{
	if (!s->xattr)
		return s->k.mv_size == 8;
	return s->k.mv_size >= CK_NAME_KEY_MIN && s->k.mv_size <= CK_NAME_KEY_MAX;
}

static void side_bad_key(struct ck *c, const struct ck_side *s)
{
	ck_note(c, s->k.mv_size >= 8 ? lmdb_key_ino(&s->k) : 0, "%s database: a key of %zu bytes",
		s->db, s->k.mv_size);
}

static void side_flush_missing(struct ck *c, struct ck_side *s)
{
	if (s->miss_count == 1)
		ck_note(c, s->miss_ino, "a%s %s record for an inode that does not exist",
			s->xattr ? "n" : "", s->db);
	else if (s->miss_count > 1)
		ck_note(c, s->miss_ino, "%llu %s records for an inode that does not exist",
			(unsigned long long)s->miss_count, s->db);
	s->miss_count = 0;
}

/*
 * Reports and passes the records of s below inode number ino (all that
 * are left, with all): records of inodes that do not exist, bad keys.
 */
static int side_skip(struct ck *c, struct ck_side *s, uint64_t ino, bool all)
{
	int rc = 0;

	while (!s->end && !rc) {
		uint64_t kino = s->k.mv_size >= 8 ? lmdb_key_ino(&s->k) : 0;

		if (!all && s->k.mv_size >= 8 && kino >= ino)
			break;
		if (!side_key_ok(s)) {
			side_bad_key(c, s);
		} else {
			if (s->miss_count && s->miss_ino != kino)
				side_flush_missing(c, s);
			s->miss_ino = kino;
			s->miss_count++;
		}
		rc = side_next(c, s, MDB_NEXT);
	}
	side_flush_missing(c, s);
	return rc ? rc : c->err;
}

/* The data record of inode a->ino (s is at the first key >= it). */
static int check_data(struct ck *c, struct ck_side *s, const struct store_attr *a, bool bad)
{
	bool found = false;
	const void *bytes;
	size_t len;
	int rc = 0;

	while (!rc && !s->end && s->k.mv_size >= 8 && lmdb_key_ino(&s->k) == a->ino) {
		if (!side_key_ok(s)) {
			side_bad_key(c, s);
		} else if (!bad) {
			found = true;
			if (S_ISDIR(a->mode))
				ck_note(c, a->ino, "a directory with a data record");
			else if ((rc = lmdb_data_parse(&s->v, &bytes, &len)) == -EIO)
				ck_note(c, a->ino,
					"data record of %zu bytes holds no data (an empty item has "
					"no record)",
					s->v.mv_size);
			else if (rc == -EBADMSG)
				ck_note(c, a->ino, "data checksum mismatch");
			if (!S_ISDIR(a->mode) && s->v.mv_size > LMDB_DATA_HDR_LEN) {
				len = s->v.mv_size - LMDB_DATA_HDR_LEN;
				if (len != a->size)
					ck_note(c, a->ino, "size %llu, but %s of %zu bytes",
						(unsigned long long)a->size,
						S_ISLNK(a->mode) ? "a symlink target" : "data",
						len);
			}
		}
		rc = side_next(c, s, MDB_NEXT);
	}
	if (rc)
		return rc;
	if (!bad && !found && a->size > 0 && !S_ISDIR(a->mode))
		ck_note(c, a->ino, "size %llu, but no data record", (unsigned long long)a->size);
	return c->err;
}

/*
 * An expiry attribute (value v) of inode a: a time, on a regular file,
 * with its entry in the expiry index (store.h, "Expiry").
 */
static void check_expiry(struct ck *c, const struct store_attr *a, const MDB_val *v, bool bad)
{
	unsigned char b[LMDB_META_EXPIRES_KEY_LEN];
	uint64_t when;
	MDB_val k, ev;
	int rc;

	if (store_expires_parse(v->mv_data, v->mv_size, &when)) {
		ck_note(c, a->ino, "%s holds \"%.*s\", not a time (1..%llu in decimal)",
			STORE_XATTR_EXPIRES, v->mv_size > 32 ? 32 : (int)v->mv_size,
			(const char *)v->mv_data, (unsigned long long)STORE_EXPIRES_MAX);
		return;
	}
	if (!bad && !S_ISREG(a->mode))
		ck_note(c, a->ino, "%s on an inode that is not a regular file (mode 0%o)",
			STORE_XATTR_EXPIRES, a->mode);
	k = lmdb_expiry_key(b, when, a->ino);
	rc = mdb_get(c->txn, c->st->meta, &k, &ev);
	if (rc == MDB_NOTFOUND)
		ck_note(c, a->ino, "%s is %llu, but the expiry index has no entry for it",
			STORE_XATTR_EXPIRES, (unsigned long long)when);
	else if (rc)
		ck_fail(c, rc, LMDB_DB_META);
}

/* The xattr records of inode a->ino (s is at the first key >= it). */
static int check_xattrs(struct ck *c, struct ck_side *s, const struct store_attr *a, bool bad)
{
	const size_t elen = sizeof(STORE_XATTR_EXPIRES) - 1;
	uint64_t bytes = 0;
	int rc = 0;

	while (!rc && !s->end && s->k.mv_size >= 8 && lmdb_key_ino(&s->k) == a->ino) {
		if (!side_key_ok(s)) {
			side_bad_key(c, s);
		} else {
			if (memchr((const char *)s->k.mv_data + 8, '\0', s->k.mv_size - 8))
				ck_note(c, a->ino, "an xattr name holds a NUL byte");
			if (s->k.mv_size - 8 == elen &&
			    memcmp((const char *)s->k.mv_data + 8, STORE_XATTR_EXPIRES, elen) == 0)
				check_expiry(c, a, &s->v, bad);
			bytes += s->k.mv_size - 8 + s->v.mv_size;
		}
		rc = side_next(c, s, MDB_NEXT);
	}
	if (rc)
		return rc;
	if (!bad && bytes != a->xattr_bytes)
		ck_note(c, a->ino, "xattr_bytes %u, but its xattrs take %llu bytes", a->xattr_bytes,
			(unsigned long long)bytes);
	return c->err;
}

/* What one inode record must be, on its own. */
static void check_attr(struct ck *c, const struct store_attr *a)
{
	uint32_t type = a->mode & S_IFMT;
	uint64_t total = (uint64_t)a->keylen + a->size + a->xattr_bytes;

	if (!ck_type_known(type))
		ck_note(c, a->ino, "mode 0%o has no known file type", a->mode);
	if (a->atime.tv_nsec >= 1000000000L || a->mtime.tv_nsec >= 1000000000L ||
	    a->ctime.tv_nsec >= 1000000000L)
		ck_note(c, a->ino,
			"a time with nanoseconds out of range (atime %ld, mtime %ld, "
			"ctime %ld)",
			a->atime.tv_nsec, a->mtime.tv_nsec, a->ctime.tv_nsec);
	if (a->version == 0)
		ck_note(c, a->ino, "version 0 (versions begin at 1)");
	if (S_ISDIR(a->mode) && a->size != 0)
		ck_note(c, a->ino, "a directory with size %llu", (unsigned long long)a->size);
	if (a->keylen > STORE_NAME_MAX)
		ck_note(c, a->ino, "keylen %u is longer than any name (%u)", a->keylen,
			STORE_NAME_MAX);
	if (!store_item_fits(a->keylen, a->size, a->xattr_bytes))
		ck_note(c, a->ino,
			"%llu bytes (keylen %u + size %llu + xattr_bytes %u) exceed the item limit "
			"of %u",
			(unsigned long long)total, a->keylen, (unsigned long long)a->size,
			a->xattr_bytes, STORE_ITEM_MAX);
	if (a->ino == STORE_ROOT_INO) {
		if (!S_ISDIR(a->mode))
			ck_note(c, a->ino, "the root is not a directory (mode 0%o)", a->mode);
		if (a->parent != STORE_ROOT_INO)
			ck_note(c, a->ino, "the root's parent pointer is %llu, expected %u",
				(unsigned long long)a->parent, STORE_ROOT_INO);
		if (a->keylen != 0)
			ck_note(c, a->ino, "the root's keylen is %u, expected 0", a->keylen);
	}
}

/* Counts inode a (just checked) into the summary and keeps its node. */
static void count_attr(struct ck *c, struct ck_node *nd, const struct store_attr *a)
{
	nd->parent = a->parent;
	nd->nlink = a->nlink;
	nd->keylen = a->keylen;
	nd->type = (uint8_t)((a->mode & S_IFMT) >> 12);
	if (S_ISDIR(a->mode)) {
		c->sum.directories++;
	} else if (S_ISLNK(a->mode)) {
		c->sum.symlinks++;
	} else {
		c->sum.items++;
		c->sum.bytes += a->size;
	}
}

static int walk_inodes(struct ck *c)
{
	struct ck_side data = {.db = LMDB_DB_DATA}, xattr = {.db = LMDB_DB_XATTR, .xattr = true};
	MDB_cursor *cur = NULL;
	uint64_t next_ino, total;
	MDB_stat ms;
	MDB_val k, v;
	int rc;

	check_meta(c, &next_ino);
	rc = mdb_stat(c->txn, c->st->inode, &ms);
	if (rc)
		return ck_fail(c, rc, LMDB_DB_INODE);
	total = ms.ms_entries;
	if ((rc = mdb_cursor_open(c->txn, c->st->inode, &cur)) ||
	    (rc = mdb_cursor_open(c->txn, c->st->data, &data.cur)) ||
	    (rc = mdb_cursor_open(c->txn, c->st->xattr, &xattr.cur))) {
		ck_fail(c, rc, "inode, data or xattr");
		goto out;
	}
	if (side_next(c, &data, MDB_FIRST) || side_next(c, &xattr, MDB_FIRST))
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !c->err;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_attr a = {0};
		struct ck_node *nd;
		unsigned version;
		bool bad;

		if (++c->sum.inodes % CK_PROGRESS_EVERY == 0 && c->cb && c->cb->progress)
			c->cb->progress(c->arg, c->sum.inodes, total);
		if (k.mv_size != 8 || lmdb_key_ino(&k) == 0) {
			ck_note(c, k.mv_size >= 8 ? lmdb_key_ino(&k) : 0,
				"inode database: a key of %zu bytes%s", k.mv_size,
				k.mv_size == 8 ? " for inode number 0" : "");
			continue;
		}
		a.ino = lmdb_key_ino(&k);
		if (side_skip(c, &data, a.ino, false) || side_skip(c, &xattr, a.ino, false))
			break;
		nd = node_add(c, a.ino);
		if (!nd)
			break;
		c->max_ino = a.ino;
		if (a.ino == STORE_ROOT_INO)
			c->root = (uint32_t)(c->n - 1);
		bad = lmdb_inode_parse(a.ino, &v, &a, &version) != 0;
		if (bad) {
			nd->flags |= CK_BAD;
			ck_note(
			    c, a.ino,
			    "unreadable inode record (%zu bytes, version %u; expected %u bytes, "
			    "version %u)",
			    v.mv_size, version, LMDB_INODE_REC_LEN, LMDB_INODE_REC_VERSION);
		} else {
			check_attr(c, &a);
			count_attr(c, nd, &a);
		}
		if (check_data(c, &data, &a, bad) || check_xattrs(c, &xattr, &a, bad))
			break;
	}
	if (rc && rc != MDB_NOTFOUND)
		ck_fail(c, rc, LMDB_DB_INODE);
	if (!c->err && !side_skip(c, &data, 0, true) && !side_skip(c, &xattr, 0, true)) {
		if (c->cb && c->cb->progress)
			c->cb->progress(c->arg, c->sum.inodes, total);
		if (next_ino && c->max_ino >= next_ino)
			ck_note(c, 0, "meta: next_ino is %llu, but inode %llu exists",
				(unsigned long long)next_ino, (unsigned long long)c->max_ino);
		if (c->root == CK_NONE)
			ck_note(c, STORE_ROOT_INO, "the root directory has no inode record");
	}
out:
	if (xattr.cur)
		mdb_cursor_close(xattr.cur);
	if (data.cur)
		mdb_cursor_close(data.cur);
	if (cur)
		mdb_cursor_close(cur);
	return c->err;
}

/*
 * The expiry index (meta "expires" keys): every entry names an inode whose
 * expiry attribute holds exactly its time. With check_expiry() (the other
 * direction) the index and the attributes are then one-to-one.
 */
static int check_expiry_index(struct ck *c)
{
	unsigned char b[LMDB_META_EXPIRES_KEY_LEN];
	MDB_val k = lmdb_expiry_key(b, 0, 0), v;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(c->txn, c->st->meta, &cur);

	if (rc)
		return ck_fail(c, rc, LMDB_DB_META);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size >= LMDB_META_EXPIRES_LEN &&
	     memcmp(k.mv_data, LMDB_META_EXPIRES, LMDB_META_EXPIRES_LEN) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t when, ino, have = 0;
		struct lmdb_key xk;
		MDB_val xv;
		int grc;

		if (!lmdb_expiry_key_parse(&k, &when, &ino)) {
			ck_note(c, 0, "meta: an expiry index key of %zu bytes, expected %u", k.mv_size,
				LMDB_META_EXPIRES_KEY_LEN);
			continue;
		}
		if (ck_find(c, ino) == CK_NONE) {
			ck_note(c, 0, "meta: expiry index entry (%llu, inode %llu) for an inode that "
				"does not exist", (unsigned long long)when, (unsigned long long)ino);
			continue;
		}
		lmdb_key_set(&xk, ino, STORE_XATTR_EXPIRES, sizeof(STORE_XATTR_EXPIRES) - 1);
		grc = mdb_get(c->txn, c->st->xattr, &xk.val, &xv);
		if (grc && grc != MDB_NOTFOUND) {
			rc = grc;
			break;
		}
		if (grc == MDB_NOTFOUND)
			ck_note(c, ino, "the expiry index lists it at %llu, but it has no %s",
				(unsigned long long)when, STORE_XATTR_EXPIRES);
		else if (store_expires_parse(xv.mv_data, xv.mv_size, &have) == 0 && have != when)
			ck_note(c, ino, "the expiry index lists it at %llu, but its %s is %llu",
				(unsigned long long)when, STORE_XATTR_EXPIRES,
				(unsigned long long)have);
	}
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? ck_fail(c, rc, LMDB_DB_META) : c->err;
}

/*
 * The streams (the streams database): each belongs to a directory, has a
 * head, and its records run without a gap from the head's first offset,
 * the first of them at the head's time, with seqs that never go down.
 */
struct ck_stream {
	uint64_t dir;		    /* the stream being walked (0: none) */
	bool have_head, bad;	    /* bad: one problem reported; skip the rest */
	struct store_stream_head h; /* the head's fields */
	uint64_t next;		    /* the offset the next record must be at */
	uint64_t seq;		    /* the last seq seen */
};

static void stream_record(struct ck *c, struct ck_stream *s, uint64_t dir, uint64_t off,
			  const MDB_val *v)
{
	uint64_t tns, seq;
	size_t len;

	if (s->bad)
		return;
	if (!s->have_head) {
		ck_note(c, dir, "its stream has a record at offset %llu but no head",
			(unsigned long long)off);
		s->bad = true;
	} else if (off != s->next || lmdb_stream_rec_decode(v, &tns, &seq, &len)) {
		ck_note(c, dir, "its stream has a record at offset %llu of %zu bytes, expected "
			"one at offset %llu", (unsigned long long)off, v->mv_size,
			(unsigned long long)s->next);
		s->bad = true;
	} else if (seq < s->seq || (off == s->h.first && tns != s->h.first_ns)) {
		ck_note(c, dir, "its stream's record at offset %llu has seq %llu and time %llu; "
			"expected seq at least %llu%s", (unsigned long long)off,
			(unsigned long long)seq, (unsigned long long)tns, (unsigned long long)s->seq,
			off == s->h.first ? " and the head's time" : "");
		s->bad = true;
	} else {
		s->next += len;
		s->seq = seq;
	}
}

static int check_streams(struct ck *c)
{
	struct ck_stream s = {0};
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (!c->st->have_streams)
		return 0;
	rc = mdb_cursor_open(c->txn, c->st->streams, &cur);
	if (rc)
		return ck_fail(c, rc, LMDB_DB_STREAMS);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t dir, off;
		int kind = lmdb_stream_key_parse(&k, &dir, &off);
		uint32_t nd;

		if (kind == 0) {
			ck_note(c, 0, "streams: a key of %zu bytes, expected %u or %u", k.mv_size,
				LMDB_STREAM_HEAD_KEY_LEN, LMDB_STREAM_REC_KEY_LEN);
			continue;
		}
		if (dir != s.dir) {
			s = (struct ck_stream){.dir = dir};
			nd = ck_find(c, dir);
			if (nd == CK_NONE)
				ck_note(c, 0, "streams: a stream of inode %llu, which does not exist",
					(unsigned long long)dir);
			else if (!ck_is(&c->nodes[nd], S_IFDIR))
				ck_note(c, dir, "it has a stream, but is not a directory");
		}
		if (kind == 2) {
			stream_record(c, &s, dir, off, &v);
		} else if (lmdb_stream_head_decode(&v, &s.h) != 0) {
			ck_note(c, dir, "its stream's head record is damaged");
			s.bad = true;
		} else {
			s.have_head = true;
			s.next = s.h.first;
			s.seq = s.h.seq;
		}
	}
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? ck_fail(c, rc, LMDB_DB_STREAMS) : c->err;
}

/* ---- the whole ----------------------------------------------------------- */

static void ck_free(struct ck *c)
{
	for (size_t i = 0; i < c->nprobs; i++) {
		free(c->probs[i].name);
		free(c->probs[i].msg);
	}
	for (size_t i = 0; i < c->nwant && c->want_name; i++)
		free(c->want_name[i]);
	free(c->want_name);
	free(c->want);
	free(c->below);
	free(c->top);
	free(c->probs);
	free(c->nodes);
}

int lmdb_check(struct store *s, const struct store_check_ops *cb, void *arg,
	       struct store_check_summary *out)
{
	struct ck c = {.st = lmdb_store_of(s), .cb = cb, .arg = arg, .root = CK_NONE};
	struct store_txn *txn;
	int rc;

	rc = lmdb_txn_begin(s, STORE_TXN_READ, &txn);
	if (rc)
		return rc;
	c.txn = lmdb_txn_of(txn)->mtxn;
	if (!walk_inodes(&c) && !check_expiry_index(&c) && !check_streams(&c) &&
	    !ck_check_index(&c) &&
	    !ck_walk_entries(&c)) {
		ck_check_counts(&c);
		ck_check_reach(&c);
	}
	ck_report(&c);
	lmdb_txn_abort(txn);
	rc = c.err;
	if (!rc) {
		c.sum.problems = c.nprobs;
		*out = c.sum;
	}
	ck_free(&c);
	return rc;
}
