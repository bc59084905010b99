/*
 * ddb.c - the item operations of the DynamoDB-API backend: inodes,
 * directory entries, item data, xattrs and orphans (the change log and the
 * usage counters are ddb_meta.c's), over
 * the records of ddb_kv.c, with the rules lmdb.c keeps (link counts and
 * parent pointers, keylen, the item limit, data checksums). Transactions,
 * the write lock, the commit and opening a store are ddb_kv.c's and
 * ddb_open.c's; HTTP is ddb_client.c's.
 *
 * Each operation reads and checks everything it needs before its first
 * write, so an error it finds itself (-EEXIST, -EFBIG, ...) leaves the
 * transaction unchanged and usable; a failed request breaks it (ddb_kv.c).
 * Each operation that changes something ends with its change log record
 * (ddb_change_add(), the kinds lmdb.c writes). Every ddb_rec_get() that
 * misses the transaction's maps is one GetItem, so operations read what
 * they can from the inode record before asking for anything else.
 *
 * Records (p, s) -> v; every integer big-endian:
 *   "m" "format"   u32 STORE_FORMAT_VERSION (00 00 00 01)
 *   "m" "next_ino" u64 the next inode number (2 in a new store)
 *   "m" "seq"      u64 last change seq, u64 trimmed (16 zero bytes when new)
 *   "m" "usage"    u64 bytes (every item's data and xattr names and values),
 *                  u64 inodes: what statfs reports, kept by inode_write()
 *                  and op_inode_free() in the same transaction (absent:
 *                  zeros; a new store starts at 0 bytes, 1 inode)
 *   "i"+u64 ino "a"  the inode record, DDB_INODE_REC_LEN (89) bytes:
 *        0 u8 version (1)      1 u32 mode        5 u32 uid      9 u32 gid
 *       13 u32 nlink          17 u64 size       25 u64 parent  33 u32 keylen
 *       37 u32 xattr_bytes    41 u64 version    49 u32 parts (data records)
 *       53 atime, 65 mtime, 77 ctime: each s64 seconds, u32 nanoseconds
 *   "i"+u64 ino "d"+u16 k  data record k of `parts` (none for empty data).
 *        Record 0 begins with the DDB_DATA_HDR_LEN (21) byte header: u8
 *        format (1), u64 XXH3_64bits of the whole data, u64 length, u32
 *        parts; then the data, DDB_DATA_CHUNK bytes to a record (record 0:
 *        header + the first chunk).
 *   "i"+u64 ino "x"+name   an xattr's value (empty: no v attribute), at most
 *        DDB_DATA_CHUNK bytes (-E2BIG beyond: one record holds it)
 *   "d"+u64 dir  name      u64 child ino, u32 child type (mode & S_IFMT)
 *   "o" u64 ino            empty: an orphan
 *   "l" u64 last           one log entry: the records of one commit (split
 *        past 300 KB), last being the seq of its last record: u8 version
 *        (1), u64 origin, u32 count, then count times: u64 seq, u8 kind,
 *        u64 ino, u64 parent, u8 namelen, the name.
 * The inode keeps `parts` so that replacing or freeing data deletes
 * exactly its records without reading the header.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "ddb_i.h"

#define INODE_REC_VERSION 1u
#define DATA_FORMAT 1u
#define FIRST_INO 2u
#define PARTS_MAX 65536u /* record numbers are u16 */
/* One xattr value is one record, which must fit in a DynamoDB item with its
 * key, and in an intent record with the commit's framing (ddb_kv.c): the
 * kernel's own limit (XATTR_SIZE_MAX, 64 KiB) is far below it. */
#define XATTR_VALUE_MAX DDB_DATA_CHUNK

static const unsigned char META_P[1] = {DDB_P_META};
static const unsigned char ORPHAN_P[1] = {DDB_P_ORPHAN};

/* An inode as the record holds it: the attributes and the data record count. */
struct ddb_inode {
	struct store_attr a;
	uint32_t parts;
};

/* ---- encoding ---------------------------------------------------------- */

/* p of partition part for ino: 9 bytes. */
static void pkey(unsigned char p[9], char part, uint64_t ino)
{
	p[0] = (unsigned char)part;
	ddb_be64(p + 1, ino);
}

static void part_key(unsigned char s[3], uint32_t k)
{
	s[0] = 'd';
	s[1] = (unsigned char)(k >> 8);
	s[2] = (unsigned char)k;
}

/* s of an xattr: "x" + name; returns its length. */
static size_t xattr_key(unsigned char s[1 + STORE_NAME_MAX], const char *name, size_t nlen)
{
	s[0] = 'x';
	memcpy(s + 1, name, nlen);
	return 1 + nlen;
}

static unsigned char *put_time(unsigned char *p, const struct timespec *ts)
{
	return ddb_put32(ddb_put64(p, (uint64_t)(int64_t)ts->tv_sec), (uint32_t)ts->tv_nsec);
}

static void get_time(const unsigned char *p, struct timespec *ts)
{
	ts->tv_sec = (time_t)(int64_t)ddb_get_be64(p);
	ts->tv_nsec = (long)ddb_get_be32(p + 8);
}

static void inode_encode(const struct ddb_inode *in, unsigned char rec[DDB_INODE_REC_LEN])
{
	const struct store_attr *a = &in->a;
	unsigned char *p = rec;

	*p++ = INODE_REC_VERSION;
	p = ddb_put32(p, a->mode);
	p = ddb_put32(p, a->uid);
	p = ddb_put32(p, a->gid);
	p = ddb_put32(p, a->nlink);
	p = ddb_put64(p, a->size);
	p = ddb_put64(p, a->parent);
	p = ddb_put32(p, a->keylen);
	p = ddb_put32(p, a->xattr_bytes);
	p = ddb_put64(p, a->version);
	p = ddb_put32(p, in->parts);
	p = put_time(p, &a->atime);
	p = put_time(p, &a->mtime);
	put_time(p, &a->ctime);
}

/* -EIO, logged, for a record of another length or version, or bad parts. */
static int inode_decode(struct ddb_store *st, uint64_t ino, const unsigned char *v, size_t vlen,
			struct ddb_inode *out)
{
	struct ddb_inode in = {.a.ino = ino};

	if (vlen != DDB_INODE_REC_LEN || v[0] != INODE_REC_VERSION)
		goto bad;
	in.a.mode = ddb_get_be32(v + 1);
	in.a.uid = ddb_get_be32(v + 5);
	in.a.gid = ddb_get_be32(v + 9);
	in.a.nlink = ddb_get_be32(v + 13);
	in.a.size = ddb_get_be64(v + 17);
	in.a.parent = ddb_get_be64(v + 25);
	in.a.keylen = ddb_get_be32(v + 33);
	in.a.xattr_bytes = ddb_get_be32(v + 37);
	in.a.version = ddb_get_be64(v + 41);
	in.parts = ddb_get_be32(v + 49);
	get_time(v + 53, &in.a.atime);
	get_time(v + 65, &in.a.mtime);
	get_time(v + 77, &in.a.ctime);
	if (in.parts > PARTS_MAX || (in.parts == 0) != (in.a.size == 0))
		goto bad;
	*out = in;
	return 0;
bad:
	ddb_log(st, LOG_ERR,
		"inode %llu: unreadable record (%zu bytes, version %u; expected %u bytes of "
		"version %u, with data records exactly when it has data)",
		(unsigned long long)ino, vlen, vlen ? v[0] : 0u, DDB_INODE_REC_LEN,
		INODE_REC_VERSION);
	return -EIO;
}

static int dirent_decode(struct ddb_store *st, uint64_t dir, const unsigned char *v, size_t vlen,
			 uint64_t *ino, uint32_t *type)
{
	if (vlen != 12) {
		ddb_log(st, LOG_ERR, "directory inode %llu: entry value of %zu bytes, expected 12",
			(unsigned long long)dir, vlen);
		return -EIO;
	}
	*ino = ddb_get_be64(v);
	*type = ddb_get_be32(v + 8);
	return 0;
}

/* ---- records ----------------------------------------------------------- */

static int inode_read(struct ddb_txn *t, uint64_t ino, struct ddb_inode *out)
{
	unsigned char p[9];
	const unsigned char *v;
	size_t vlen;
	int rc;

	pkey(p, DDB_P_INODE, ino);
	rc = ddb_rec_get(t, p, 9, "a", 1, &v, &vlen);
	return rc ? rc : inode_decode(ddb_txn_store(t), ino, v, vlen, out);
}

/* The bytes an inode counts towards the usage. */
static int64_t usage_of(const struct store_attr *a)
{
	return (int64_t)(S_ISDIR(a->mode) ? 0 : a->size) + (int64_t)a->xattr_bytes;
}

/*
 * Writes the inode record and moves the usage by the difference from what
 * was there (which the operation has read: no request).
 */
static int inode_write(struct ddb_txn *t, const struct ddb_inode *in)
{
	unsigned char p[9], rec[DDB_INODE_REC_LEN];
	struct ddb_inode old;
	int rc;

	pkey(p, DDB_P_INODE, in->a.ino);
	rc = inode_read(t, in->a.ino, &old);
	if (rc == 0)
		rc = ddb_usage_add(t, usage_of(&in->a) - usage_of(&old.a), 0);
	else if (rc == -ENOENT)
		rc = ddb_usage_add(t, usage_of(&in->a), 1);
	if (rc)
		return rc;
	inode_encode(in, rec);
	return ddb_rec_put(t, p, 9, "a", 1, rec, sizeof(rec));
}

static int change_inode(struct ddb_txn *t, uint64_t ino)
{
	return ddb_change_add(t, STORE_CHANGE_INODE, ino, 0, "", 0);
}

static int change_entry(struct ddb_txn *t, uint64_t parent, const char *name, size_t len,
			uint64_t ino)
{
	return ddb_change_add(t, STORE_CHANGE_ENTRY, ino, parent, name, len);
}

static int count_one(void *arg, const unsigned char *s, size_t slen, const unsigned char *v,
		     size_t vlen)
{
	(void)s;
	(void)slen;
	(void)v;
	(void)vlen;
	*(bool *)arg = true;
	return 0;
}

/* 1 if directory dir has no entries, 0 if it has, or a negative errno. */
static int dir_empty(struct ddb_txn *t, uint64_t dir)
{
	unsigned char p[9];
	bool found = false;
	int rc;

	pkey(p, DDB_P_DIRENT, dir);
	rc = ddb_rec_range(t, p, 9, "", 0, NULL, 0, 1, count_one, &found);
	return rc ? rc : !found;
}

/* A growing buffer of NUL-terminated names. */
struct names {
	char *buf;
	size_t len, cap;
};

static int names_add(void *arg, const unsigned char *s, size_t slen, const unsigned char *v,
		     size_t vlen)
{
	struct names *n = arg;

	(void)v;
	(void)vlen;
	if (n->len + slen > n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 256;
		char *b;

		while (cap < n->len + slen)
			cap *= 2;
		b = realloc(n->buf, cap);
		if (!b)
			return -ENOMEM;
		n->buf = b;
		n->cap = cap;
	}
	memcpy(n->buf + n->len, s + 1, slen - 1); /* without the "x" */
	n->len += slen - 1;
	n->buf[n->len++] = '\0';
	return 0;
}

/* ino's xattr names, NUL-terminated, in key order, into *out (free out->buf). */
static int xattr_names(struct ddb_txn *t, uint64_t ino, struct names *out)
{
	unsigned char p[9];

	*out = (struct names){0};
	pkey(p, DDB_P_INODE, ino);
	/* after "x": the query skips the inode and data records on the server */
	return ddb_rec_range(t, p, 9, "x", 1, "x", 1, 0, names_add, out);
}

/* ---- inodes ------------------------------------------------------------ */

static int op_ino_alloc(struct store_txn *txn, uint64_t *out)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	const unsigned char *v;
	unsigned char b[8];
	size_t vlen;
	uint64_t next;
	int rc;

	rc = ddb_rec_get(t, META_P, 1, "next_ino", 8, &v, &vlen);
	if (rc == -ENOENT || (rc == 0 && vlen != 8)) {
		ddb_log(ddb_txn_store(t), LOG_ERR, "the store has no valid next_ino record");
		return -EIO;
	}
	if (rc)
		return rc;
	next = ddb_get_be64(v);
	ddb_be64(b, next + 1);
	rc = ddb_rec_put(t, META_P, 1, "next_ino", 8, b, 8);
	if (!rc)
		*out = next;
	return rc;
}

static int op_inode_get(struct store_txn *txn, uint64_t ino, struct store_attr *out)
{
	struct ddb_inode in;
	int rc = inode_read(ddb_txn_of(txn), ino, &in);

	if (rc == 0)
		*out = in.a; /* expires stays 0: no expiry index on this backend */
	return rc;
}

static int op_inode_prefetch(struct store_txn *txn, const uint64_t *inos, size_t n)
{
	unsigned char *ps = malloc(n * 9u); /* p: "i" + u64; s: "a" */
	struct ddb_key *keys = malloc(n * sizeof(*keys));
	int rc = -ENOMEM;

	if (ps && keys) {
		for (size_t i = 0; i < n; i++) {
			pkey(ps + i * 9u, DDB_P_INODE, inos[i]);
			keys[i] =
			    (struct ddb_key){.p = ps + i * 9u, .plen = 9, .s = "a", .slen = 1};
		}
		rc = ddb_rec_prefetch(ddb_txn_of(txn), keys, n);
	}
	free(keys);
	free(ps);
	return rc;
}

static int op_inode_put(struct store_txn *txn, const struct store_attr *attr)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	struct ddb_inode in;
	int rc;

	rc = inode_read(t, attr->ino, &in);
	if (rc == -ENOENT)
		in.parts = 0;
	if (rc == 0 || rc == -ENOENT)
		rc = store_attr_merge(&in.a, rc == 0, attr);
	if (rc)
		return rc;
	rc = inode_write(t, &in);
	return rc ? rc : change_inode(t, in.a.ino);
}

static int op_inode_free(struct store_txn *txn, uint64_t ino)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	unsigned char p[9], s[1 + STORE_NAME_MAX], ob[8];
	struct names x = {0};
	struct ddb_inode in;
	int rc;

	rc = inode_read(t, ino, &in);
	if (rc)
		return rc;
	if (S_ISDIR(in.a.mode)) {
		rc = dir_empty(t, ino);
		if (rc <= 0)
			return rc < 0 ? rc : -ENOTEMPTY; /* freeing it would orphan its entries */
	}
	rc = in.a.xattr_bytes ? xattr_names(t, ino, &x) : 0; /* none: no query */
	if (rc)
		goto out;
	pkey(p, DDB_P_INODE, ino);
	rc = ddb_usage_add(t, -usage_of(&in.a), -1);
	if (rc == 0)
		rc = ddb_rec_del(t, p, 9, "a", 1);
	for (uint32_t k = 0; rc == 0 && k < in.parts; k++) {
		part_key(s, k);
		rc = ddb_rec_del(t, p, 9, s, 3);
	}
	for (size_t at = 0; rc == 0 && at < x.len; at += strlen(x.buf + at) + 1)
		rc = ddb_rec_del(t, p, 9, s, xattr_key(s, x.buf + at, strlen(x.buf + at)));
	if (rc == 0 && !S_ISDIR(in.a.mode) && in.a.nlink == 0) { /* listed or not */
		ddb_be64(ob, ino);
		rc = ddb_rec_del(t, ORPHAN_P, 1, ob, 8);
	}
	if (rc == 0)
		rc = change_inode(t, ino);
out:
	free(x.buf);
	return rc;
}

static int op_orphan_add(struct store_txn *txn, uint64_t ino)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	struct ddb_inode in;
	unsigned char ob[8];
	int rc = inode_read(t, ino, &in);

	if (rc)
		return rc;
	if (S_ISDIR(in.a.mode) || in.a.nlink != 0)
		return -EINVAL;
	ddb_be64(ob, ino);
	return ddb_rec_put(t, ORPHAN_P, 1, ob, 8, "", 0);
}

struct inos {
	uint64_t *v;
	size_t n, cap;
};

static int inos_add(void *arg, const unsigned char *s, size_t slen, const unsigned char *v,
		    size_t vlen)
{
	struct inos *l = arg;

	(void)v;
	(void)vlen;
	if (slen != 8)
		return 0; /* not an orphan's key: nothing to reap */
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *n = realloc(l->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->v = n;
		l->cap = cap;
	}
	l->v[l->n++] = ddb_get_be64(s);
	return 0;
}

static int op_orphans_reap(struct store_txn *txn, uint64_t *count)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	struct inos l = {0};
	uint64_t total = 0;
	int rc;

	rc = ddb_rec_range(t, ORPHAN_P, 1, "", 0, NULL, 0, 0, inos_add, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		struct ddb_inode in;
		unsigned char ob[8];

		rc = inode_read(t, l.v[i], &in);
		if (rc == 0 && !S_ISDIR(in.a.mode) && in.a.nlink == 0) {
			rc = op_inode_free(txn, l.v[i]);
			total++;
		} else if (rc == 0 || rc == -ENOENT) { /* linked again, or gone: unlist */
			ddb_be64(ob, l.v[i]);
			rc = ddb_rec_del(t, ORPHAN_P, 1, ob, 8);
		}
	}
	free(l.v);
	if (rc == 0 && count)
		*count = total;
	return rc;
}

/* ---- directory entries ------------------------------------------------- */

static int op_dirent_get(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			 uint64_t *ino)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	const unsigned char *v;
	unsigned char p[9];
	uint64_t child;
	uint32_t type;
	size_t vlen;
	int rc;

	pkey(p, DDB_P_DIRENT, parent);
	rc = ddb_rec_get(t, p, 9, name, len, &v, &vlen);
	if (!rc)
		rc = dirent_decode(ddb_txn_store(t), parent, v, vlen, &child, &type);
	if (!rc)
		*ino = child;
	return rc;
}

static int op_dirent_add(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			 uint64_t ino)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	unsigned char p[9], val[12];
	const unsigned char *v;
	struct ddb_inode pi, c;
	uint32_t keylen;
	size_t vlen;
	int rc;

	rc = inode_read(t, parent, &pi);
	if (rc)
		return rc;
	if (!S_ISDIR(pi.a.mode))
		return -ENOTDIR;
	rc = inode_read(t, ino, &c);
	if (rc)
		return rc;
	pkey(p, DDB_P_DIRENT, parent);
	rc = ddb_rec_get(t, p, 9, name, len, &v, &vlen);
	if (rc != -ENOENT)
		return rc ? rc : -EEXIST;
	/* A directory has one name; a file counts the longest of its names. */
	keylen =
	    S_ISDIR(c.a.mode) || c.a.nlink == 0 || len > c.a.keylen ? (uint32_t)len : c.a.keylen;
	if (!store_item_fits(keylen, c.a.size, c.a.xattr_bytes))
		return -EFBIG;

	ddb_put32(ddb_put64(val, ino), c.a.mode & S_IFMT);
	rc = ddb_rec_put(t, p, 9, name, len, val, sizeof(val));
	if (rc)
		return rc;
	c.a.keylen = keylen;
	c.a.parent = parent;
	if (S_ISDIR(c.a.mode)) {
		pi.a.nlink++;
		rc = inode_write(t, &pi);
		if (rc)
			return rc;
	} else {
		c.a.nlink++;
	}
	rc = inode_write(t, &c);
	return rc ? rc : change_entry(t, parent, name, len, ino);
}

static int op_dirent_remove(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			    uint64_t *ino)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	struct ddb_store *st = ddb_txn_store(t);
	const unsigned char *v;
	unsigned char p[9];
	struct ddb_inode pi, c;
	bool dangling = false, is_dir;
	uint64_t child;
	uint32_t type;
	size_t vlen;
	int rc;

	pkey(p, DDB_P_DIRENT, parent);
	rc = ddb_rec_get(t, p, 9, name, len, &v, &vlen);
	if (!rc)
		rc = dirent_decode(st, parent, v, vlen, &child, &type);
	if (rc)
		return rc;
	rc = inode_read(t, child, &c);
	if (rc == -ENOENT) {
		/* Let the name of a lost inode go, or it could never be removed. */
		ddb_log(st, LOG_WARNING,
			"directory inode %llu: entry \"%.*s\" names missing inode %llu; "
			"removing the entry",
			(unsigned long long)parent, (int)len, name, (unsigned long long)child);
		dangling = true;
	} else if (rc) {
		return rc;
	}
	is_dir = S_ISDIR(dangling ? type : c.a.mode);
	if (is_dir) {
		rc = inode_read(t, parent, &pi);
		if (rc)
			return rc;
	}

	rc = ddb_rec_del(t, p, 9, name, len);
	if (!rc && is_dir) {
		if (pi.a.nlink > 2)
			pi.a.nlink--;
		rc = inode_write(t, &pi);
	} else if (!rc && !dangling) {
		if (c.a.nlink > 0)
			c.a.nlink--;
		rc = inode_write(t, &c);
	}
	if (!rc)
		rc = change_entry(t, parent, name, len, child);
	if (!rc && ino)
		*ino = child;
	return rc;
}

struct list_arg {
	struct ddb_store *st;
	uint64_t dir;
	store_dirent_fn fn;
	void *arg;
};

static int list_one(void *arg, const unsigned char *s, size_t slen, const unsigned char *v,
		    size_t vlen)
{
	struct list_arg *la = arg;
	struct store_dirent ent = {.name = (const char *)s, .namelen = slen};
	int rc = dirent_decode(la->st, la->dir, v, vlen, &ent.ino, &ent.mode);

	return rc ? rc : la->fn(la->arg, &ent);
}

static int op_dir_list(struct store_txn *txn, uint64_t dir, store_dirent_fn fn, void *arg)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	struct list_arg la = {ddb_txn_store(t), dir, fn, arg};
	unsigned char p[9];
	struct ddb_inode in;
	int rc;

	rc = inode_read(t, dir, &in);
	if (rc)
		return rc;
	if (!S_ISDIR(in.a.mode))
		return -ENOTDIR;
	pkey(p, DDB_P_DIRENT, dir);
	return ddb_rec_range(t, p, 9, "", 0, NULL, 0, 0, list_one, &la);
}

static int op_dir_is_empty(struct store_txn *txn, uint64_t dir)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	struct ddb_inode in;
	int rc;

	rc = inode_read(t, dir, &in);
	if (rc)
		return rc;
	return S_ISDIR(in.a.mode) ? dir_empty(t, dir) : -ENOTDIR;
}

/* ---- item data --------------------------------------------------------- */

/* A data read's complaint, unless it is to be retried (op_data_get()). */
#define data_log(t, ...)                                                                           \
	do {                                                                                       \
		if (!(t)->quiet)                                                                   \
			ddb_log(ddb_txn_store(t), LOG_ERR, __VA_ARGS__);                           \
	} while (0)

/* Appends data record k of ino (part 0: its header skipped) to buf[*at..len). */
static int part_read(struct ddb_txn *t, uint64_t ino, uint32_t k, unsigned char *buf, size_t *at,
		     size_t len)
{
	unsigned char p[9], s[3];
	const unsigned char *v;
	size_t vlen, skip = k == 0 ? DDB_DATA_HDR_LEN : 0;
	int rc;

	pkey(p, DDB_P_INODE, ino);
	part_key(s, k);
	rc = ddb_rec_get(t, p, 9, s, 3, &v, &vlen);
	if (rc == -ENOENT) {
		data_log(t, "inode %llu: data record %u is missing", (unsigned long long)ino, k);
		return -EIO;
	}
	if (rc)
		return rc;
	if (vlen < skip || vlen - skip > len - *at) {
		data_log(t, "inode %llu: data record %u holds more than the header says",
			 (unsigned long long)ino, k);
		return -EIO;
	}
	memcpy(buf + *at, v + skip, vlen - skip);
	*at += vlen - skip;
	return 0;
}

/*
 * One read of ino's data (op_data_get()'s contract). *parts_seen gets the
 * most data records the inode or the header named, for data_forget().
 */
static int data_read(struct ddb_txn *t, uint64_t ino, struct store_buf *out, uint32_t *parts_seen)
{
	unsigned char p[9], s[3], *buf = NULL;
	const unsigned char *v;
	struct ddb_inode in;
	uint64_t sum, len;
	size_t vlen, at = 0;
	uint32_t parts;
	int rc;

	rc = inode_read(t, ino, &in);
	if (rc)
		return rc;
	*parts_seen = in.parts;
	if (in.parts == 0) { /* an empty item has no record: no request */
		*out = (struct store_buf){NULL, 0};
		return 0;
	}
	pkey(p, DDB_P_INODE, ino);
	part_key(s, 0);
	rc = ddb_rec_get(t, p, 9, s, 3, &v, &vlen);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc || vlen < DDB_DATA_HDR_LEN || v[0] != DATA_FORMAT) {
		data_log(t, "inode %llu: size %llu but no readable data header",
			 (unsigned long long)ino, (unsigned long long)in.a.size);
		return -EIO;
	}
	sum = ddb_get_be64(v + 1);
	len = ddb_get_be64(v + 9);
	parts = ddb_get_be32(v + 17);
	if (parts > *parts_seen)
		*parts_seen = parts;
	if (len != in.a.size || parts != in.parts) {
		data_log(t,
			 "inode %llu: size %llu in %u records but %llu bytes in %u records of data",
			 (unsigned long long)ino, (unsigned long long)in.a.size, in.parts,
			 (unsigned long long)len, parts);
		return -EIO;
	}
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	for (uint32_t k = 0; rc == 0 && k < parts; k++)
		rc = part_read(t, ino, k, buf, &at, len);
	if (rc == 0 && at != len) {
		data_log(t, "inode %llu: %zu bytes of data, the header says %llu",
			 (unsigned long long)ino, at, (unsigned long long)len);
		rc = -EIO;
	}
	if (rc == 0 && XXH3_64bits(buf, len) != sum) {
		data_log(t, "item data checksum mismatch (inode %llu)", (unsigned long long)ino);
		rc = -EBADMSG;
	}
	if (rc) {
		free(buf);
		return rc;
	}
	*out = (struct store_buf){buf, len};
	return 0;
}

/* Forgets what t read of ino's inode and data records (ddb_rec_forget()). */
static void data_forget(struct ddb_txn *t, uint64_t ino, uint32_t parts)
{
	unsigned char p[9], s[3];

	pkey(p, DDB_P_INODE, ino);
	ddb_rec_forget(t, p, 9, "a", 1);
	for (uint32_t k = 0; k < parts && k < PARTS_MAX; k++) {
		part_key(s, k);
		ddb_rec_forget(t, p, 9, s, 3);
	}
}

/*
 * Reads ino's data. A read transaction that is not strong may meet an
 * item between two of an intent commit's batches, or a replica that has
 * some of its records and not others: the records then disagree (sizes,
 * a part missing, the checksum). That is no damage yet: the item is read
 * again, strongly, a few times, a little later each time, and only a
 * disagreement that stays is reported (-EIO, -EBADMSG, logged once).
 */
static int op_data_get(struct store_txn *txn, uint64_t ino, struct store_buf *out)
{
	static const unsigned pause_ms[] = {0, 20, 100, 500};
	struct ddb_txn *t = ddb_txn_of(txn);
	uint32_t parts = 0;
	int rc = -EIO;

	for (size_t i = 0; i < sizeof(pause_ms) / sizeof(pause_ms[0]); i++) {
		bool last = i + 1 == sizeof(pause_ms) / sizeof(pause_ms[0]);

		if (i > 0) {
			data_forget(t, ino, parts);
			t->root->strong = true;
			usleep(pause_ms[i] * 1000u);
		}
		t->quiet = !last && !t->root->write;
		rc = data_read(t, ino, out, &parts);
		t->quiet = false;
		if ((rc != -EIO && rc != -EBADMSG) || t->root->write || t->root->err)
			break;
	}
	return rc;
}

static int op_data_put(struct store_txn *txn, uint64_t ino, const void *data, size_t len)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	const unsigned char *d = data;
	unsigned char p[9], s[3], *rec;
	size_t first = len < DDB_DATA_CHUNK ? len : DDB_DATA_CHUNK;
	uint32_t parts = (uint32_t)((len + DDB_DATA_CHUNK - 1) / DDB_DATA_CHUNK);
	struct ddb_inode in;
	int rc;

	rc = inode_read(t, ino, &in);
	if (rc)
		return rc;
	if (S_ISDIR(in.a.mode))
		return -EISDIR;
	if (!store_item_fits(in.a.keylen, len, in.a.xattr_bytes))
		return -EFBIG;
	pkey(p, DDB_P_INODE, ino);
	if (parts) {
		rec = malloc(DDB_DATA_HDR_LEN + first);
		if (!rec)
			return -ENOMEM;
		rec[0] = DATA_FORMAT;
		ddb_put32(ddb_put64(ddb_put64(rec + 1, XXH3_64bits(d, len)), len), parts);
		memcpy(rec + DDB_DATA_HDR_LEN, d, first);
		part_key(s, 0);
		rc = ddb_rec_put(t, p, 9, s, 3, rec, DDB_DATA_HDR_LEN + first);
		free(rec);
	}
	for (uint32_t k = 1; rc == 0 && k < parts; k++) {
		size_t off = (size_t)k * DDB_DATA_CHUNK;

		part_key(s, k);
		rc = ddb_rec_put(t, p, 9, s, 3, d + off,
				 len - off < DDB_DATA_CHUNK ? len - off : DDB_DATA_CHUNK);
	}
	for (uint32_t k = parts; rc == 0 && k < in.parts; k++) { /* what shrinking left */
		part_key(s, k);
		rc = ddb_rec_del(t, p, 9, s, 3);
	}
	if (rc)
		return rc;
	in.a.size = len;
	in.a.version++;
	in.parts = parts;
	rc = inode_write(t, &in);
	return rc ? rc : change_inode(t, ino);
}

/* ---- xattrs ------------------------------------------------------------ */

/*
 * The inode first: most lookups ask for a name the item lacks (the kernel
 * probes security.capability and ACLs), and an item without xattrs says so
 * in its record, so a miss costs one request, not two.
 */
static int op_xattr_get(struct store_txn *txn, uint64_t ino, const char *name, void *buf,
			size_t size, size_t *len)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	unsigned char p[9], s[1 + STORE_NAME_MAX];
	const unsigned char *v;
	struct ddb_inode in;
	size_t vlen;
	int rc;

	rc = inode_read(t, ino, &in);
	if (rc)
		return rc;
	if (in.a.xattr_bytes == 0)
		return -ENODATA;
	pkey(p, DDB_P_INODE, ino);
	rc = ddb_rec_get(t, p, 9, s, xattr_key(s, name, strlen(name)), &v, &vlen);
	if (rc)
		return rc == -ENOENT ? -ENODATA : rc;
	if (size > 0) {
		if (size < vlen)
			return -ERANGE;
		memcpy(buf, v, vlen);
	}
	*len = vlen;
	return 0;
}

static int op_xattr_set(struct store_txn *txn, uint64_t ino, const char *name, const void *value,
			size_t size, int flags)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	unsigned char p[9], s[1 + STORE_NAME_MAX];
	size_t nlen = strlen(name), slen, oldlen = 0;
	const unsigned char *v;
	struct ddb_inode in;
	uint64_t bytes;
	int rc;

	rc = inode_read(t, ino, &in);
	if (rc)
		return rc;
	pkey(p, DDB_P_INODE, ino);
	slen = xattr_key(s, name, nlen);
	rc = in.a.xattr_bytes ? ddb_rec_get(t, p, 9, s, slen, &v, &oldlen) : -ENOENT;
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0 && (flags & XATTR_CREATE))
		return -EEXIST;
	if (rc == -ENOENT && (flags & XATTR_REPLACE))
		return -ENODATA;
	bytes = (uint64_t)in.a.xattr_bytes - (rc == 0 ? nlen + oldlen : 0) + nlen + size;
	if (!store_item_fits(in.a.keylen, in.a.size, bytes) || size > XATTR_VALUE_MAX)
		return -E2BIG;
	rc = ddb_rec_put(t, p, 9, s, slen, size ? value : "", size);
	if (rc)
		return rc;
	in.a.xattr_bytes = (uint32_t)bytes;
	rc = inode_write(t, &in);
	return rc ? rc : change_inode(t, ino);
}

static int op_xattr_list(struct store_txn *txn, uint64_t ino, char *buf, size_t size, size_t *len)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	struct names x = {0};
	struct ddb_inode in;
	int rc;

	rc = inode_read(t, ino, &in);
	if (rc == 0 && in.a.xattr_bytes) /* none: no query */
		rc = xattr_names(t, ino, &x);
	if (rc == 0 && size > 0 && size < x.len)
		rc = -ERANGE;
	if (rc == 0 && size > 0 && x.len)
		memcpy(buf, x.buf, x.len);
	if (rc == 0)
		*len = x.len;
	free(x.buf);
	return rc;
}

static int op_xattr_remove(struct store_txn *txn, uint64_t ino, const char *name)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	unsigned char p[9], s[1 + STORE_NAME_MAX];
	size_t nlen = strlen(name), slen, vlen;
	const unsigned char *v;
	struct ddb_inode in;
	int rc;

	rc = inode_read(t, ino, &in);
	if (rc)
		return rc;
	pkey(p, DDB_P_INODE, ino);
	slen = xattr_key(s, name, nlen);
	rc = in.a.xattr_bytes ? ddb_rec_get(t, p, 9, s, slen, &v, &vlen) : -ENOENT;
	if (rc)
		return rc == -ENOENT ? -ENODATA : rc;
	in.a.xattr_bytes =
	    in.a.xattr_bytes > nlen + vlen ? in.a.xattr_bytes - (uint32_t)(nlen + vlen) : 0;
	rc = ddb_rec_del(t, p, 9, s, slen);
	if (!rc)
		rc = inode_write(t, &in);
	return rc ? rc : change_inode(t, ino);
}

/* ---- a new store --------------------------------------------------------- */

/* PutItem of (p, s) -> v unless the record exists: 0 either way. */
static int put_new(struct ddb_store *st, const void *p, size_t plen, const char *s, const void *v,
		   size_t vlen)
{
	json_t *req, *resp = NULL;
	int rc;

	req = json_pack("{s:s, s:{s:o, s:o, s:o}, s:s, s:{s:s}}", "TableName", st->table, "Item",
			"p", ddb_bin(p, plen), "s", ddb_bin(s, strlen(s)), "v", ddb_bin(v, vlen),
			"ConditionExpression", "attribute_not_exists(#p)",
			"ExpressionAttributeNames", "#p", "p");
	if (!req)
		return -ENOMEM;
	rc = ddb_call(st->client, "PutItem", req, &resp, NULL);
	json_decref(req);
	json_decref(resp);
	return rc == -EEXIST ? 0 : rc;
}

/*
 * The root (i+be64(1)/"a": version 1, mode 040755, the caller's euid and
 * egid, nlink 2, size 0, parent 1, keylen 0, xattr_bytes 0, version 1,
 * parts 0, the three times now), then m/"next_ino" = 00..00 02, m/"seq" =
 * 16 zero bytes, and last m/"format" = 00 00 00 01: a store whose format
 * record exists is whole. Each is written only where absent, so a second
 * creator racing this one, or a retry after a failure, changes nothing.
 */
int ddb_store_init_records(struct ddb_store *st)
{
	struct ddb_inode root = {.parts = 0};
	unsigned char p[9], rec[DDB_INODE_REC_LEN], next[8], seq[16] = {0}, format[4],
							     usage[16] = {0};
	int rc;

	store_root_attr(&root.a);
	pkey(p, DDB_P_INODE, STORE_ROOT_INO);
	inode_encode(&root, rec);
	ddb_be64(next, FIRST_INO);
	ddb_put32(format, STORE_FORMAT_VERSION);
	rc = put_new(st, p, 9, "a", rec, sizeof(rec));
	if (!rc)
		rc = put_new(st, META_P, 1, "next_ino", next, sizeof(next));
	if (!rc)
		rc = put_new(st, META_P, 1, "seq", seq, sizeof(seq));
	ddb_be64(usage + 8, 1); /* the root */
	if (!rc)
		rc = put_new(st, META_P, 1, "usage", usage, sizeof(usage));
	if (!rc)
		rc = put_new(st, META_P, 1, "format", format, sizeof(format));
	if (rc)
		ddb_log(st, LOG_ERR, "could not write the records of a new store: %s",
			strerror(-rc));
	return rc;
}

const struct store_ops ddb_ops = {
    .close = ddb_close,
    .txn_begin = ddb_txn_begin,
    .txn_begin_nested = ddb_txn_begin_nested,
    .txn_commit = ddb_txn_commit,
    .txn_abort = ddb_txn_abort,
    .ino_alloc = op_ino_alloc,
    .inode_get = op_inode_get,
    .inode_put = op_inode_put,
    .inode_free = op_inode_free,
    .orphan_add = op_orphan_add,
    .orphans_reap = op_orphans_reap,
    .dirent_get = op_dirent_get,
    .dirent_add = op_dirent_add,
    .dirent_remove = op_dirent_remove,
    .dir_list = op_dir_list,
    .dir_is_empty = op_dir_is_empty,
    .data_get = op_data_get,
    .data_put = op_data_put,
    .xattr_get = op_xattr_get,
    .xattr_set = op_xattr_set,
    .xattr_list = op_xattr_list,
    .xattr_remove = op_xattr_remove,
    .statfs = ddb_statfs,
    .sync = ddb_sync,
    .generation = ddb_generation,
    .origin = ddb_origin,
    .change_last = ddb_op_change_last,
    .changes = ddb_op_changes,
    .barrier = ddb_barrier,
    .inode_prefetch = op_inode_prefetch,
    .features = 0, /* no streams, indexes, expiry index, check or backup */
};
