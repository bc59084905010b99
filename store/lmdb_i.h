/*
 * lmdb_i.h - the LMDB backend's private types, shared by its files:
 *   lmdb_env.c     opening and validating a store, transactions, map growth,
 *                  statfs, sync, and the one LMDB-code-to-errno mapping;
 *   lmdb_format.c  the byte layout of every key and value (the code form of
 *                  docs/store-format.md);
 *   lmdb.c         the item operations (inodes, entries, data, xattrs) and
 *                  the change log they append to;
 *   lmdb_check.c, lmdb_check_tree.c
 *                  store_check(): the offline verification of a whole store
 *                  (their shared types are in lmdb_check_i.h);
 *   lmdb_stream.c  the streams (store.h, "Streams");
 *   lmdb_backup.c  store_backup() (a compacted copy in one read transaction)
 *                  and store_in_use() (read from LMDB's lock file);
 *   lmdb_tail.c    lmdb_tail_free(): whether a data.mdb shorter than its
 *                  last page is whole (read with pread, not through LMDB).
 * Only these files include lmdb.h; no MDB_* type leaves store/.
 */
#ifndef ITEMFS_LMDB_I_H
#define ITEMFS_LMDB_I_H

#include <endian.h>
#include <lmdb.h>
#include <pthread.h>
#include <string.h>

#include "store_i.h"

/* Named databases; see docs/store-format.md. */
#define LMDB_DB_META "meta"
#define LMDB_DB_INODE "inode"
#define LMDB_DB_DIRENT "dirent"
#define LMDB_DB_DATA "data"
#define LMDB_DB_XATTR "xattr"
#define LMDB_DB_CHANGES "changes" /* additive: stores made before it lack it */
#define LMDB_DB_STREAMS "streams" /* additive, as changes */
#define LMDB_MAXDBS 8		  /* 7 used */
#define LMDB_KEY_MAX 511u	  /* LMDB's longest key (MDB_MAXKEYSIZE, its default) */

/* Keys of the meta database. */
#define LMDB_META_FORMAT "format"
#define LMDB_META_NEXT_INO "next_ino"
#define LMDB_FIRST_INO 2u /* next_ino of a new store; 1 is the root */
/* "orphan" + u64 BE ino: an inode with no names that a mount still holds. */
#define LMDB_META_ORPHAN "orphan"
#define LMDB_META_ORPHAN_LEN 6u
#define LMDB_META_ORPHAN_KEY_LEN 14u

/* "expires" + u64 BE seconds + u64 BE ino: the expiry index (store.h, "Expiry"). */
#define LMDB_META_EXPIRES "expires"
#define LMDB_META_EXPIRES_LEN 7u
#define LMDB_META_EXPIRES_KEY_LEN 23u

/*
 * Secondary indexes (store.h, "Secondary indexes"; lmdb_index.c):
 *   "ixd" + u64 BE table + attr     -> u64 LE id     a declaration
 *   "ixe" + u64 BE id + value (each NUL as 00 01) + 00 00 + u64 BE ino -> empty
 *                                                    an entry
 *   "ix_next"                       -> u64 LE        the next id (from 1)
 */
#define LMDB_META_INDEX_DECL "ixd"
#define LMDB_META_INDEX_ENTRY "ixe"
#define LMDB_META_INDEX_NEXT "ix_next"
#define LMDB_INDEX_DECL_KEY_MAX (3u + 8u + STORE_INDEX_ATTR_MAX)
#define LMDB_INDEX_ENTRY_KEY_MAX (3u + 8u + 2u * STORE_INDEX_VALUE_MAX + 2u + 8u)

/* A meta database key. LMDB never writes through a key it is given. */
static inline MDB_val lmdb_meta_key(const char *name)
{
	return (MDB_val){strlen(name), (void *)name};
}

/* The meta key listing ino as an orphan, in buf. */
static inline MDB_val lmdb_orphan_key(unsigned char buf[LMDB_META_ORPHAN_KEY_LEN], uint64_t ino)
{
	memcpy(buf, LMDB_META_ORPHAN, LMDB_META_ORPHAN_LEN);
	for (int i = 0; i < 8; i++)
		buf[LMDB_META_ORPHAN_LEN + i] = (unsigned char)(ino >> (56 - 8 * i));
	return (MDB_val){LMDB_META_ORPHAN_KEY_LEN, buf};
}

/* The meta key of the expiry index entry (when, ino), in buf. */
static inline MDB_val lmdb_expiry_key(unsigned char buf[LMDB_META_EXPIRES_KEY_LEN], uint64_t when,
				      uint64_t ino)
{
	memcpy(buf, LMDB_META_EXPIRES, LMDB_META_EXPIRES_LEN);
	for (int i = 0; i < 8; i++) {
		buf[LMDB_META_EXPIRES_LEN + i] = (unsigned char)(when >> (56 - 8 * i));
		buf[LMDB_META_EXPIRES_LEN + 8 + i] = (unsigned char)(ino >> (56 - 8 * i));
	}
	return (MDB_val){LMDB_META_EXPIRES_KEY_LEN, buf};
}

/* Parses an expiry index key k into *when and *ino; false if k is not one. */
static inline bool lmdb_expiry_key_parse(const MDB_val *k, uint64_t *when, uint64_t *ino)
{
	const unsigned char *b = k->mv_data;

	if (k->mv_size != LMDB_META_EXPIRES_KEY_LEN ||
	    memcmp(b, LMDB_META_EXPIRES, LMDB_META_EXPIRES_LEN) != 0)
		return false;
	*when = *ino = 0;
	for (int i = 0; i < 8; i++) {
		*when = *when << 8 | b[LMDB_META_EXPIRES_LEN + i];
		*ino = *ino << 8 | b[LMDB_META_EXPIRES_LEN + 8 + i];
	}
	return true;
}

/*
 * Keys of the streams database (store.h, "Streams"): u64 BE dir, a
 * stream's head; + u64 BE offset, one record. A head sorts just before its
 * records.
 */
#define LMDB_STREAM_HEAD_KEY_LEN 8u
#define LMDB_STREAM_REC_KEY_LEN 16u
#define LMDB_STREAM_HEAD_VERSION 1u
#define LMDB_STREAM_HEAD_VAL_LEN 25u /* 1 version + u64 first, first_ns, seq */
#define LMDB_STREAM_REC_HDR_LEN 16u  /* u64 time (ns), u64 seq; then the record's bytes */

/* The key of dir's stream head (is_rec false) or of its record at off, in buf. */
static inline MDB_val lmdb_stream_key(unsigned char buf[LMDB_STREAM_REC_KEY_LEN], uint64_t dir,
				      bool is_rec, uint64_t off)
{
	for (int i = 0; i < 8; i++) {
		buf[i] = (unsigned char)(dir >> (56 - 8 * i));
		buf[8 + i] = (unsigned char)(off >> (56 - 8 * i));
	}
	return (MDB_val){is_rec ? LMDB_STREAM_REC_KEY_LEN : LMDB_STREAM_HEAD_KEY_LEN, buf};
}

/*
 * Parses a stream key k: 1 for a head (*dir set), 2 for a record (*dir and
 * *off set), 0 for a key that is not a stream's.
 */
static inline int lmdb_stream_key_parse(const MDB_val *k, uint64_t *dir, uint64_t *off)
{
	const unsigned char *b = k->mv_data;

	if (k->mv_size != LMDB_STREAM_HEAD_KEY_LEN && k->mv_size != LMDB_STREAM_REC_KEY_LEN)
		return 0;
	*dir = *off = 0;
	for (int i = 0; i < 8; i++)
		*dir = *dir << 8 | b[i];
	if (k->mv_size == LMDB_STREAM_HEAD_KEY_LEN)
		return 1;
	for (int i = 0; i < 8; i++)
		*off = *off << 8 | b[8 + i];
	return 2;
}

/* Value layouts (little-endian fields; see lmdb_format.c). */
#define LMDB_INODE_REC_VERSION 1u
#define LMDB_INODE_REC_LEN 85u	/* 1 version + 4 * u32 + 3 * u64 + 2 * u32 + 3 * 12 */
#define LMDB_DIRENT_VAL_LEN 12u /* u64 child ino + u32 type bits */
#define LMDB_DATA_HDR_LEN 8u	/* u64 XXH3-64 of the data */
#define LMDB_CHANGE_REC_VERSION 1u
#define LMDB_CHANGE_HDR_LEN 26u /* 1 version + 1 kind + u64 origin, ino, parent; then the name */
#define LMDB_CHANGES_TRIM_EVERY 1024u /* appends between trims of the change log */

/* A key: an inode number, big-endian so keys sort by number, then a name. */
struct lmdb_key {
	unsigned char buf[8 + STORE_NAME_MAX];
	MDB_val val; /* points into buf */
};

struct lmdb_txn;

struct lmdb_store {
	struct store base; /* first: store.c reaches ops through it */
	MDB_env *env;
	/* Opened once by store_lmdb_open(); valid until lmdb_close(). */
	MDB_dbi meta, inode, dirent, data, xattr, changes, streams;
	/* false only on a read-only open of a store made before the change
	 * log (the streams): changes (streams) is then not a handle, and the
	 * log (every stream) reads as empty */
	bool have_changes, have_streams;
	uint64_t origin; /* store_origin(): random, non-zero, fixed at open */
	char *path; /* the store directory, for log lines and statvfs() */
	bool read_only;
	size_t psize; /* LMDB page size, bytes */
	size_t room_min; /* bytes; see struct store_config.map_room_min */
	size_t resident_max; /* bytes; see struct store_config.map_resident_max */
	long shared_base;    /* (mu) pages of mapped files resident at open: the libraries */
	dev_t data_dev;	     /* data.mdb's device and inode: its mapping in /proc/self/maps */
	ino_t data_ino;
	double resident_checked; /* (mu) CLOCK_MONOTONIC seconds of the last look */
	void (*log)(int priority, const char *msg);

	/*
	 * mdb_env_set_mapsize() may run only while no transaction of this
	 * process is active. live counts them; a remap is done by whoever
	 * finds live == 0 while remap_pending is set (a txn begin, or the
	 * last txn to end). Begins wait (bounded) while a remap is pending,
	 * so readers cannot starve it.
	 */
	pthread_mutex_t mu;
	pthread_cond_t cond;   /* broadcast when a pending remap is done */
	unsigned live;	       /* (mu) txns begun and not yet ended */
	bool remap_pending;    /* (mu) the map must be remapped */
	bool remap_adopt;      /* (mu) ... first adopting another process's size */
	struct lmdb_txn *idle; /* (mu) reset read txns, for mdb_txn_renew() */
	unsigned nidle;	       /* (mu) length of the idle list */
};

/*
 * What a write txn knows of the change log's tail, so that an append needs
 * no lookup and can coalesce. Only this txn (and its children) writes the
 * log while it is open, so this stays true until the txn ends. A nested txn
 * begins with a copy of its parent's (less mine: its first record is never
 * merged into the parent's) and hands it back when it commits; an abort
 * drops the copy, leaving the parent's as it was, like the records.
 */
struct lmdb_change_tail {
	bool seq_known; /* seq has been read (or written) in this txn */
	bool mine;	/* the record at seq is the one below, written by this txn */
	uint64_t seq;	/* the last seq in the log as this txn sees it (0: none) */
	uint8_t kind;	/* enum store_change_kind */
	uint64_t ino, parent;
	uint32_t namelen;
	unsigned char name[STORE_NAME_MAX];
};

/*
 * The keys of a memo (struct lmdb_stream_memo, struct lmdb_inode_memo): n
 * slots, each holding one key's value in the memo's own array, reused in
 * turn from *next. Key 0 marks a free slot (no directory or inode has it).
 */
/* The slot that holds key, or -1. */
static inline int lmdb_memo_find(const uint64_t *keys, unsigned n, uint64_t key)
{
	for (unsigned i = 0; i < n; i++)
		if (keys[i] == key)
			return (int)i;
	return -1;
}

/* The slot for key: the one that holds it, else the next in turn, now key's. */
static inline int lmdb_memo_take(uint64_t *keys, unsigned n, unsigned *next, uint64_t key)
{
	int i = lmdb_memo_find(keys, n, key);

	if (i < 0) {
		i = (int)*next;
		*next = (*next + 1) % n;
		keys[i] = key;
	}
	return i;
}

/* Frees key's slot, if it has one. */
static inline void lmdb_memo_drop(uint64_t *keys, unsigned n, uint64_t key)
{
	int i = lmdb_memo_find(keys, n, key);

	if (i >= 0)
		keys[i] = 0;
}

/*
 * What a write txn knows of the streams it last touched (lmdb_stream.c), so
 * that the trim and the append of each request of a batch need no lookup of
 * the head: each head as head_read() would read it, kept true by every
 * append and trim in the txn. As the change log's tail, only this txn (and
 * its children) writes streams while it is open; a nested txn begins with
 * its parent's copy and hands it back when it commits, and an abort drops
 * it. Its slots are keyed by directory (lmdb_memo_take()). Sixteen cover
 * writers that take tables in turn, a few of them at a time, and cost two
 * copies of 0.8 KB a request.
 */
#define LMDB_STREAM_MEMO 16
struct lmdb_stream_memo {
	uint64_t dir[LMDB_STREAM_MEMO];
	struct store_stream_head h[LMDB_STREAM_MEMO];
	unsigned next; /* the slot a new stream takes */
};

/*
 * The inode records a txn read or wrote last, decoded: a create reads the
 * same few (the item, its directory) ten times over its requests, each read
 * a B-tree descent through the dirty pages of the request, its stage and
 * its batch, and a decode. What a txn sees of a record changes only by its
 * own writes (LMDB isolates it from every other), so each slot holds the
 * record as inode_read() would read it now: kept by every read and write
 * of the txn, forgotten when it frees the inode. A nested txn begins with
 * its parent's copy and hands it back when it commits; an abort drops it,
 * as it drops the child's writes. Its slots are keyed by inode
 * (lmdb_memo_take()).
 */
#define LMDB_INODE_MEMO 8
struct lmdb_inode_memo {
	uint64_t ino[LMDB_INODE_MEMO];
	struct store_attr a[LMDB_INODE_MEMO];
	unsigned next; /* the slot a new inode takes */
};

/*
 * The redo log of a top-level write txn's stage (lmdb_env.c, "Children and stages"):
 * every write made in the stage, in order, so that the stage can be
 * rebuilt without the writes of a child that fails. Entries are a struct
 * lmdb_redo_op, then the key's bytes, then the value's.
 */
struct lmdb_redo {
	unsigned char *buf;
	size_t len, cap;
	uint64_t writes; /* writes made in the stage, logged or not */
	bool lost;	 /* a write too large to log: the log cannot rebuild the stage */
};

enum lmdb_redo_kind { LMDB_REDO_PUT, LMDB_REDO_APPEND, LMDB_REDO_DEL };

struct lmdb_txn {
	struct store_txn base; /* first: store.c reaches the store through it */
	MDB_txn *mtxn;	       /* active, or reset while on the idle list */
	bool write;
	bool nested; /* a child of another write txn: no map or live-count bookkeeping */
	int err;     /* first LMDB failure that broke the txn; commit returns it */
	struct lmdb_txn *parent;      /* nested: the txn it was begun in */
	/*
	 * Nested: the top-level txn whose stage it works in (mtxn is that
	 * stage), and where the stage's log stood when it began.
	 */
	struct lmdb_txn *top;
	size_t redo_mark;
	uint64_t redo_writes;
	bool redo_whole; /* the log held every write of the stage when it began */
	struct lmdb_txn *next; /* idle list link */
	/*
	 * The memos, tail up to root: a child begins with copies of its
	 * parent's, and lmdb_txn_begin_nested() zeroes the rest of it around
	 * them. A field added here must be copied there.
	 */
	struct lmdb_change_tail tail; /* write txns only */
	struct lmdb_stream_memo smemo; /* write txns only */
	struct lmdb_inode_memo imemo;
	/*
	 * A top-level write txn with children: while it has a stage, mtxn is
	 * the stage (an LMDB txn nested in root, which children work in and
	 * every operation on this txn goes to) and root the real top-level
	 * txn; staged counts the children begun in the stage.
	 */
	MDB_txn *root;
	unsigned staged;
	struct lmdb_redo redo; /* the stage's */
	struct lmdb_txn *spare; /* a child's memory, ended, for the next child */
};

static inline struct lmdb_store *lmdb_store_of(struct store *st)
{
	return (struct lmdb_store *)st;
}

static inline struct lmdb_txn *lmdb_txn_of(struct store_txn *txn)
{
	return (struct lmdb_txn *)txn;
}

static inline struct lmdb_store *lmdb_txn_store(const struct lmdb_txn *t)
{
	return lmdb_store_of(t->base.st);
}

/* lmdb.c */
extern const struct store_ops lmdb_ops;

/* lmdb_env.c */
void lmdb_close(struct store *st);
int lmdb_txn_begin(struct store *st, unsigned flags, struct store_txn **out);
int lmdb_txn_begin_nested(struct store_txn *parent, struct store_txn **out);
int lmdb_txn_commit(struct store_txn *txn);
void lmdb_txn_abort(struct store_txn *txn);
int lmdb_statfs(struct store *st, struct store_statfs *out);
int lmdb_sync(struct store *st);
uint64_t lmdb_generation(struct store *st);
uint64_t lmdb_origin(struct store *st);
/*
 * Records a write that LMDB made in t (a put of key with val, which a
 * reserved put has filled by now, or a delete of key: val NULL), so that
 * the stage it went to can be rebuilt. Every write to a write txn goes
 * through it once it succeeded.
 */
void lmdb_redo_note(struct lmdb_txn *t, enum lmdb_redo_kind kind, MDB_dbi dbi, const MDB_val *key,
		    const MDB_val *val);

/*
 * Turns an LMDB (or errno) result into a negative errno: MDB_NOTFOUND
 * -ENOENT, MDB_KEYEXIST -EEXIST, MDB_MAP_FULL and ENOSPC -ENOSPC; EACCES,
 * EROFS, EBUSY and ENOMEM pass through; anything else is logged with
 * mdb_strerror(), what and ino (0: none) and becomes -EIO.
 */
int lmdb_errno(const struct lmdb_store *st, int rc, const char *what, uint64_t ino);

/* Logs one line, prefixed with the store's path. */
#define lmdb_log(st, priority, fmt, ...)                                                           \
	store_log((st)->log, priority, "%s: " fmt, (st)->path, ##__VA_ARGS__)

/*
 * The format's byte orders (docs/store-format.md): numbers in values are
 * little-endian, inode numbers and seqs in keys big-endian. Each is one
 * load or store: GCC 12 at -O2 kept the byte loops these replace as loops
 * (a 521-instruction inode record decode, docs/benchmarks.md).
 */
static inline void lmdb_put_le32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline void lmdb_put_le64(unsigned char *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static inline void lmdb_put_be64(unsigned char *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static inline uint32_t lmdb_get_le32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t lmdb_get_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline uint64_t lmdb_get_be64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

/* lmdb_format.c */
void lmdb_key_set(struct lmdb_key *k, uint64_t ino, const void *name, size_t len);
uint64_t lmdb_key_ino(const MDB_val *key);
void lmdb_u32_val(unsigned char buf[4], uint32_t v, MDB_val *out);
void lmdb_u64_val(unsigned char buf[8], uint64_t v, MDB_val *out);
int lmdb_u32_get(const MDB_val *v, uint32_t *out);
int lmdb_u64_get(const MDB_val *v, uint64_t *out);
void lmdb_inode_encode(const struct store_attr *a, unsigned char rec[LMDB_INODE_REC_LEN]);
int lmdb_inode_decode(const struct lmdb_store *st, uint64_t ino, const MDB_val *v,
		      struct store_attr *out);
int lmdb_inode_parse(uint64_t ino, const MDB_val *v, struct store_attr *out, unsigned *version);
void lmdb_dirent_encode(unsigned char val[LMDB_DIRENT_VAL_LEN], uint64_t ino, uint32_t mode);
int lmdb_dirent_decode(const struct lmdb_store *st, uint64_t parent, const MDB_val *v,
		       uint64_t *ino, uint32_t *type);
void lmdb_data_encode(void *dst, const void *data, size_t len);
int lmdb_data_decode(const struct lmdb_store *st, uint64_t ino, const MDB_val *v, const void **data,
		     size_t *len);
int lmdb_data_parse(const MDB_val *v, const void **data, size_t *len);
void lmdb_seq_key(unsigned char buf[8], uint64_t seq, MDB_val *out);
int lmdb_seq_get(const MDB_val *key, uint64_t *seq);
size_t lmdb_change_encode(unsigned char rec[LMDB_CHANGE_HDR_LEN + STORE_NAME_MAX],
			  const struct store_change *c);
int lmdb_change_decode(const struct lmdb_store *st, const MDB_val *key, const MDB_val *v,
		       struct store_change *out);

/* lmdb.c: LMDB access with errno results, for the backend's other files */
int lmdb_get(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, MDB_val *val, uint64_t ino);
int lmdb_put(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, MDB_val *val, unsigned flags,
	     uint64_t ino);
int lmdb_del(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, uint64_t ino);
int lmdb_cursor_open(struct lmdb_txn *t, MDB_dbi dbi, MDB_cursor **c);
int lmdb_txn_fail(struct lmdb_txn *t, int rc, const char *op, MDB_dbi dbi, uint64_t ino);
int lmdb_cursor_del(struct lmdb_txn *t, MDB_cursor *c, MDB_dbi dbi, const char *op, uint64_t ino);

/* lmdb_stream.c: the stream operations (store.h, "Streams") */
int lmdb_stream_head(struct store_txn *txn, uint64_t dir, struct store_stream_head *out);
int lmdb_stream_append(struct store_txn *txn, uint64_t dir, uint64_t seq, uint64_t time_ns,
		       const void *rec, size_t len, struct store_stream_head *out);
int lmdb_stream_trim(struct store_txn *txn, uint64_t dir, uint64_t before_ns, uint64_t max_bytes,
		     unsigned max_records, unsigned *dropped, struct store_stream_head *out);
int lmdb_stream_read(struct store_txn *txn, uint64_t dir, uint64_t off, void *buf, size_t size,
		     size_t *len);
int lmdb_stream_drop(struct lmdb_txn *t, uint64_t dir);
void lmdb_stream_head_encode(const struct store_stream_head *h,
			     unsigned char v[LMDB_STREAM_HEAD_VAL_LEN]);
int lmdb_stream_head_decode(const MDB_val *v, struct store_stream_head *out);
int lmdb_stream_rec_decode(const MDB_val *v, uint64_t *time_ns, uint64_t *seq, size_t *len);
/* lmdb.c, for lmdb_index.c */
int lmdb_inode_read(struct lmdb_txn *t, uint64_t ino, struct store_attr *out);

/* lmdb_index.c: the hooks lmdb.c calls, and the operations */
size_t lmdb_index_decl_key(unsigned char buf[LMDB_INDEX_DECL_KEY_MAX], uint64_t table,
			   const char *attr, size_t alen);
size_t lmdb_index_entry_key(unsigned char buf[LMDB_INDEX_ENTRY_KEY_MAX], uint64_t id,
			    const void *value, size_t len, uint64_t ino, bool with_ino);
bool lmdb_index_entry_parse(const MDB_val *k, uint64_t *id, unsigned char *value, size_t *len,
			    uint64_t *ino);
int lmdb_index_any(struct lmdb_txn *t);
int lmdb_index_table_of(struct lmdb_txn *t, uint64_t dir, uint64_t *table);
int lmdb_index_xattr_check(struct lmdb_txn *t, const struct store_attr *a, const char *name,
			   size_t size, bool removing, uint64_t *id);
int lmdb_index_xattr_changed(struct lmdb_txn *t, uint64_t id, uint64_t ino, const void *old,
			     size_t oldlen, bool had_old, const void *value, size_t len,
			     bool has_new);
int lmdb_index_item_moved(struct lmdb_txn *t, const struct store_attr *before,
			  const struct store_attr *after);
int lmdb_index_dir_moved(struct lmdb_txn *t, uint64_t dir, uint64_t old_parent,
			 uint64_t new_parent);
int lmdb_index_drop_table(struct lmdb_txn *t, uint64_t table);
int lmdb_index_add(struct store_txn *txn, uint64_t table, const char *attr);
int lmdb_index_drop(struct store_txn *txn, uint64_t table, const char *attr);
int lmdb_index_list(struct store_txn *txn, uint64_t table, store_index_fn fn, void *arg);
int lmdb_index_values(struct store_txn *txn, uint64_t table, const char *attr, const void *from,
		      size_t fromlen, store_index_value_fn fn, void *arg);
int lmdb_index_items(struct store_txn *txn, uint64_t table, const char *attr, const void *value,
		     size_t len, store_index_item_fn fn, void *arg);

/* lmdb_check.c */
int lmdb_check(struct store *st, const struct store_check_ops *cb, void *arg,
	       struct store_check_summary *out);

/* lmdb_backup.c */
int lmdb_backup(struct store *st, int fd, void (*progress)(void *arg, uint64_t done, uint64_t total),
		void *arg);

/*
 * lmdb_tail.c: whether every page of data.mdb (open on fd, pages of psize
 * bytes) that its newest meta page counts but the file lacks, from page
 * have on, is on the free list: a store whose last commit left freed pages
 * unwritten at the end is whole; one cut short is not. Reads with pread()
 * only, so a missing page cannot fault. Returns 0 (whole), 1 (pages in
 * use, or pages it cannot account for, lie past the end), or -errno.
 */
int lmdb_tail_free(int fd, size_t psize, uint64_t have);

#endif /* ITEMFS_LMDB_I_H */
