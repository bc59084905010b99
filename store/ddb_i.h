/*
 * ddb_i.h - the DynamoDB-API backend's private types, shared by its files:
 *   ddb_client.c  one DynamoDB call over HTTP(S) (ddb_client.h), with
 *                 ddb_sigv4.c (signing) and ddb_attr.c (typed values);
 *   ddb_kv.c      records (p, s) -> bytes in one table, read through a
 *                 transaction's overlay; ranges; the change records;
 *   ddb_commit.c  the write lock, begin/commit/abort, applying a write set
 *                 (one TransactWriteItems, or an intent rolled forward);
 *   ddb_open.c    the URL, the table, credentials, the generation poller,
 *                 the read barrier, statfs;
 *   ddb.c         the item operations (inodes, entries, data, xattrs,
 *                 orphans) over records, with the rules lmdb.c keeps: link
 *                 counts, the item limit, data checksums;
 *   ddb_meta.c    the change log and the usage counters.
 * docs/ddb-backend.md is the design: the record layout, the commit and the
 * consistency each part gives. Only these files include ddb_client.h's
 * JSON types; nothing of DynamoDB leaves store/.
 */
#ifndef ITEMFS_DDB_I_H
#define ITEMFS_DDB_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddb_client.h"
#include "store_i.h"

/* Record partitions (the first byte of p); docs/ddb-backend.md. */
#define DDB_P_META 'm'	 /* "m": format, next_ino, seq, lock, intent */
#define DDB_P_INODE 'i'	 /* "i" + u64 BE ino: s "a" attrs, "d"+u16 data, "x"+name */
#define DDB_P_DIRENT 'd' /* "d" + u64 BE dir: s name -> u64 ino, u32 mode */
#define DDB_P_ORPHAN 'o' /* "o": s u64 BE ino -> empty */
#define DDB_P_LOG 'l'	 /* "l": s u64 BE last seq -> that many records */
#define DDB_P_INTENT 'w' /* "w": s u64 BE id + u32 BE part -> ops */

#define DDB_KEY_MAX (9u + 1u + STORE_NAME_MAX) /* longest p + s */
/* Bytes of item data per record: a DynamoDB item is at most 400 KB with
 * its key and attribute names, so data near the itemfs limit is split. */
#define DDB_DATA_CHUNK (256u * 1024u)
#define DDB_INODE_REC_LEN 89u /* see ddb.c, inode_encode() */
#define DDB_DATA_HDR_LEN 21u  /* u8 format, u64 xxh3, u64 len, u32 parts */

/* One record in a map: a key (p then s), and its value or its absence. */
struct ddb_rec {
	struct ddb_rec *next; /* hash chain */
	uint64_t hash;
	bool gone; /* a delete (overlay), or known absent (read cache) */
	uint16_t plen, slen;
	size_t vlen;
	unsigned char *v;    /* malloc'd; NULL when gone or empty */
	unsigned char key[]; /* plen bytes of p, then slen of s */
};

/* A hash map of records, keyed by (p, s). */
struct ddb_map {
	struct ddb_rec **slots;
	size_t nslots, count;
};

/* One change log record as a write transaction buffers it. */
struct ddb_change {
	uint64_t seq, ino, parent;
	uint8_t kind;
	uint8_t namelen;
	char name[STORE_NAME_MAX];
};

struct ddb_store {
	struct store base;
	struct ddb_client *client;
	char *table; /* the DynamoDB table's name (escaped prefix) */
	char *url;   /* for log lines */
	bool read_only;
	bool transact;	    /* TransactWriteItems is available */
	uint64_t origin;    /* also the write lock's owner id */
	unsigned lease_ms;  /* the write lock's lease */
	unsigned poll_ms;   /* generation poller period */
	unsigned strong_ms; /* reads stay strong this long after a commit or a barrier */
	void (*log)(int priority, const char *msg);

	pthread_mutex_t write_mu; /* one write transaction per handle */
	pthread_mutex_t lock_mu;  /* the fields below */
	bool lock_held;
	uint64_t lock_expires_ms;	  /* (lock_mu) wall clock, as written in the lock */
	_Atomic uint64_t gen;		  /* the last change seq seen committed */
	_Atomic uint64_t commits;	  /* TransactWriteItems sent: their ClientRequestToken */
	_Atomic uint64_t strong_until_ms; /* monotonic; reads begun before are strong */

	pthread_t poller;
	bool poller_running;
	pthread_mutex_t poll_mu;
	pthread_cond_t poll_cond; /* CLOCK_MONOTONIC */
	bool stop;		  /* (poll_mu) */
};

struct ddb_txn {
	struct store_txn base;
	struct ddb_txn *parent; /* NULL: the root */
	struct ddb_txn *root;
	bool write, strong;
	bool quiet;	       /* ddb.c: a data read about to be retried logs nothing */
	int err;	       /* a failure that broke the root: commit returns it */
	struct ddb_map writes; /* this level's puts and deletes */
	struct ddb_map reads;  /* root only: what was read from DynamoDB */
	/* root only: the log records of the transaction, seqs from seq_base + 1 */
	struct ddb_change *changes;
	size_t nchanges, cap_changes;
	size_t changes_mark;	    /* nested: root's nchanges when it began */
	uint64_t seq_base, trimmed; /* root write: m/seq as the transaction began */
	bool lock_taken;
};

static inline struct ddb_store *ddb_store_of(struct store *st)
{
	return (struct ddb_store *)st;
}

static inline struct ddb_txn *ddb_txn_of(struct store_txn *txn)
{
	return (struct ddb_txn *)txn;
}

static inline struct ddb_store *ddb_txn_store(const struct ddb_txn *t)
{
	return (struct ddb_store *)t->base.st;
}

#define ddb_log(st, priority, fmt, ...)                                                            \
	store_log((st)->log, priority, "%s: " fmt, (st)->url, ##__VA_ARGS__)

static inline void ddb_be64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (56 - 8 * i));
}

static inline unsigned char *ddb_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

static inline unsigned char *ddb_put64(unsigned char *p, uint64_t v)
{
	ddb_be64(p, v);
	return p + 8;
}

static inline uint32_t ddb_get_be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint64_t ddb_get_be64(const unsigned char *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/* Raises st->gen to seq (never lowers it: another thread may be ahead). */
static inline void ddb_gen_raise(struct ddb_store *st, uint64_t seq)
{
	uint64_t g = atomic_load(&st->gen);

	while (g < seq && !atomic_compare_exchange_weak(&st->gen, &g, seq))
		;
}

/* ddb_kv.c: maps and requests, for ddb_commit.c */

/* Sets (p, s) in m to a copy of v, or to gone (v unused) when gone. -ENOMEM. */
int ddb_map_set(struct ddb_map *m, const void *p, size_t plen, const void *s, size_t slen,
		const void *v, size_t vlen, bool gone);
/* Frees every record of m and empties it. */
void ddb_map_clear(struct ddb_map *m);
/* {"p": {"B": p}, "s": {"B": s}}: a key for a request (NULL: no memory). */
json_t *ddb_key_json(const void *p, size_t plen, const void *s, size_t slen);
/* The record r as a PutItem's Item: 0 with *out (transferred), or -ENOMEM. */
int ddb_put_json(json_t **out, const struct ddb_rec *r);
/*
 * ddb_call() with req transferred (NULL: -ENOMEM); *resp as ddb_call()'s,
 * or resp NULL when only the status matters (ddb_request_noresp()).
 */
int ddb_request(struct ddb_store *st, const char *op, json_t *req, json_t **resp);
int ddb_request_noresp(struct ddb_store *st, const char *op, json_t *req);
/* GetItem of (p, s): 0 with *v malloc'd (NULL when empty), or -ENOENT. */
int ddb_remote_get(struct ddb_store *st, const void *p, size_t plen, const void *s, size_t slen,
		   bool strong, void **v, size_t *vlen);

/* ddb_kv.c: records through a transaction */

/*
 * The value of record (p, s) as t sees it: its own writes, then its
 * parents', then what the root read before, then DynamoDB (strongly
 * consistent for a write transaction or a strong one). *v points into the
 * map that holds it, valid until t's next write or its end.
 * Errors: -ENOENT, and what ddb_call() returns (which breaks t).
 */
int ddb_rec_get(struct ddb_txn *t, const void *p, size_t plen, const void *s, size_t slen,
		const unsigned char **v, size_t *vlen);
/*
 * Forgets what t's root read of (p, s), so that the next ddb_rec_get()
 * asks the server again (a read that may have met a commit half applied).
 */
void ddb_rec_forget(struct ddb_txn *t, const void *p, size_t plen, const void *s, size_t slen);
/* One record's key, for ddb_rec_prefetch(). */
struct ddb_key {
	const void *p, *s;
	size_t plen, slen;
};

/*
 * Fetches the records keys[0..n) that t has not seen yet, with BatchGetItem (100 to a request; strongly
 * consistent as t's reads are), into the root's read map: a ddb_rec_get()
 * of one of them then sends nothing, and finds it, or finds it absent.
 * Errors: those of ddb_call(); t is not broken by them (a prefetch is a
 * hint), and what was fetched before the error stays.
 */
int ddb_rec_prefetch(struct ddb_txn *t, const struct ddb_key *keys, size_t n);
/* Sets (p, s) to a copy of v in t's overlay. -EROFS in a read transaction. */
int ddb_rec_put(struct ddb_txn *t, const void *p, size_t plen, const void *s, size_t slen,
		const void *v, size_t vlen);
/* Deletes (p, s) in t's overlay (whether or not it exists). */
int ddb_rec_del(struct ddb_txn *t, const void *p, size_t plen, const void *s, size_t slen);

/* One record of a range, for ddb_rec_range(); 0 to go on, else stop with it. */
typedef int (*ddb_range_fn)(void *arg, const unsigned char *s, size_t slen, const unsigned char *v,
			    size_t vlen);
/*
 * Calls fn for each record of partition p whose s begins with prefix
 * (plen 0: all) and sorts after `after` (NULL: from the first), in s order,
 * as t sees them. limit 0: all; else at most limit records.
 */
int ddb_rec_range(struct ddb_txn *t, const void *p, size_t plen, const void *prefix,
		  size_t prefixlen, const void *after, size_t afterlen, size_t limit,
		  ddb_range_fn fn, void *arg);

/* Breaks t's root with rc (first failure wins); returns rc. */
int ddb_txn_break(struct ddb_txn *t, int rc);

/* A change log record, appended to the root with the next seq. */
int ddb_change_add(struct ddb_txn *t, uint8_t kind, uint64_t ino, uint64_t parent, const char *name,
		   size_t len);
/* Encodes the records of one log entry (ddb_meta.c). */
size_t ddb_changes_encode(const struct ddb_change *c, size_t n, uint64_t origin,
			  unsigned char *out);
size_t ddb_changes_encoded_len(const struct ddb_change *c, size_t n);

/* The ops the key-value half implements for store.h. */
void ddb_close(struct store *st);
int ddb_txn_begin(struct store *st, unsigned flags, struct store_txn **out);
int ddb_txn_begin_nested(struct store_txn *parent, struct store_txn **out);
int ddb_txn_commit(struct store_txn *txn);
void ddb_txn_abort(struct store_txn *txn);
int ddb_statfs(struct store *st, struct store_statfs *out);
int ddb_sync(struct store *st);
int ddb_barrier(struct store *st);
uint64_t ddb_generation(struct store *st);
uint64_t ddb_origin(struct store *st);

/* Extends the write lock's lease when less than half of it is left. */
void ddb_lock_renew(struct ddb_store *st);

extern const struct store_ops ddb_ops;

/* ddb_open.c */

/*
 * Escapes prefix (len bytes) into a DynamoDB table name in out (size
 * bytes, NUL-terminated): [A-Za-z0-9_.] stay, any other byte (also '-')
 * becomes '-' and two lower-case hex digits, so that two prefixes never
 * share a name. Errors: -EINVAL (fewer than 3 characters), -ENAMETOOLONG
 * (more than 255, or more than size - 1).
 */
int ddb_table_name(const char *prefix, size_t len, char *out, size_t size);

/* ddb_meta.c: the usage counters (statfs), as t sees them; zeros when absent. */
int ddb_usage_get(struct ddb_txn *t, uint64_t *bytes, uint64_t *inodes);
/* ddb_meta.c: moves them by dbytes and dinodes in t (never below zero). */
int ddb_usage_add(struct ddb_txn *t, int64_t dbytes, int64_t dinodes);
/* ddb_meta.c: store_change_last() and store_changes() of this backend. */
int ddb_op_change_last(struct store_txn *txn, uint64_t *seq);
int ddb_op_changes(struct store_txn *txn, uint64_t after, store_change_fn fn, void *arg);

/* ddb.c: the first records of a new store (root, next_ino, seq, format) */
int ddb_store_init_records(struct ddb_store *st);

#endif /* ITEMFS_DDB_I_H */
