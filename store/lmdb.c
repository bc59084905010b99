/*
 * lmdb.c - the item operations of the LMDB backend: inodes, directory
 * entries, item data and xattrs, with the rules kept alongside them (link
 * counts and parent pointers, the item size limit, data checksums).
 *
 * Each operation reads and checks everything it needs before its first
 * write, so an error it finds itself (-EEXIST, -EFBIG, ...) leaves the
 * transaction unchanged and usable. An LMDB failure (a full map, a damaged
 * page) breaks the transaction: it is kept in t->err, every later
 * operation returns it, and so does the commit, which then aborts.
 * Names arrive already checked by store.c.
 *
 * Each operation that changes something ends by appending its record to
 * the change log (after its own writes, so an error it finds itself leaves
 * no record); an append that fails breaks the transaction, so that no
 * change is ever committed without its record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <syslog.h>

#include "lmdb_i.h"

static const char *db_name(const struct lmdb_store *st, MDB_dbi dbi)
{
	if (dbi == st->inode)
		return "inode";
	if (dbi == st->dirent)
		return "dirent";
	if (dbi == st->data)
		return "data";
	if (dbi == st->xattr)
		return "xattr";
	if (st->have_changes && dbi == st->changes)
		return "changes";
	if (st->have_streams && dbi == st->streams)
		return "streams";
	return "meta";
}

/* The errno for LMDB result rc in t; a failure that breaks t is kept for commit. */
static int txn_fail(struct lmdb_txn *t, int rc, const char *op, MDB_dbi dbi, uint64_t ino)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	char what[64];
	int err;

	/* A lookup's answer, not a failure: no log line, so no name to format. */
	if (rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
		return lmdb_errno(st, rc, NULL, ino);
	snprintf(what, sizeof(what), "%s in the %s database", op, db_name(st, dbi));
	err = lmdb_errno(st, rc, what, ino);
	if (!t->err)
		t->err = err;
	return err;
}

/* ---- LMDB access, with errno results; ino only names the item in logs ---- */

static int db_get(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, MDB_val *val, uint64_t ino)
{
	int rc;

	if (t->err)
		return t->err;
	rc = mdb_get(t->mtxn, dbi, key, val);
	return rc ? txn_fail(t, rc, "mdb_get", dbi, ino) : 0;
}

static int db_put(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, MDB_val *val, unsigned flags,
		  uint64_t ino)
{
	int rc;

	if (t->err)
		return t->err;
	rc = mdb_put(t->mtxn, dbi, key, val, flags);
	if (rc)
		return txn_fail(t, rc, "mdb_put", dbi, ino);
	if (!(flags & MDB_RESERVE)) /* else the caller, once it has filled the value */
		lmdb_redo_note(t, LMDB_REDO_PUT, dbi, key, val);
	return 0;
}

/*
 * db_put() with MDB_APPEND tried first, for a key that is likely past every
 * key of dbi. LMDB splits a full leaf in the middle and moves at least one
 * node to the new page, so records put in key order with plain puts fill
 * leaves to half or two thirds (1-KiB items: two a page where three fit;
 * 1.5-KiB items: one where two fit). An append starts the new leaf with the
 * new record alone and leaves the old one full. A key that is not past the
 * last one is MDB_KEYEXIST, answered before LMDB touches a page: the plain
 * put follows.
 */
static int db_put_append(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, MDB_val *val,
			 unsigned flags, uint64_t ino)
{
	int rc;

	if (t->err)
		return t->err;
	rc = mdb_put(t->mtxn, dbi, key, val, flags | MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		return db_put(t, dbi, key, val, flags, ino);
	if (rc)
		return txn_fail(t, rc, "mdb_put", dbi, ino);
	if (!(flags & MDB_RESERVE))
		lmdb_redo_note(t, LMDB_REDO_APPEND, dbi, key, val);
	return 0;
}

static int db_del(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, uint64_t ino)
{
	int rc;

	if (t->err)
		return t->err;
	rc = mdb_del(t->mtxn, dbi, key, NULL);
	if (rc)
		return txn_fail(t, rc, "mdb_del", dbi, ino);
	lmdb_redo_note(t, LMDB_REDO_DEL, dbi, key, NULL);
	return 0;
}

static int cursor_open(struct lmdb_txn *t, MDB_dbi dbi, MDB_cursor **c)
{
	int rc;

	if (t->err)
		return t->err;
	rc = mdb_cursor_open(t->mtxn, dbi, c);
	return rc ? txn_fail(t, rc, "mdb_cursor_open", dbi, 0) : 0;
}

/*
 * Moves c to the first (op MDB_SET_RANGE) or next (MDB_NEXT) key of ino's
 * run: the keys that begin with ino, in byte order. Returns 0 on such a
 * key, 1 past the run, or a negative errno.
 */
static int cursor_step(struct lmdb_txn *t, MDB_cursor *c, MDB_dbi dbi, uint64_t ino,
		       MDB_cursor_op op, MDB_val *k, MDB_val *v)
{
	struct lmdb_key start;
	int rc;

	if (op == MDB_SET_RANGE) {
		lmdb_key_set(&start, ino, NULL, 0);
		*k = start.val;
	}
	rc = mdb_cursor_get(c, k, v, op);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc)
		return txn_fail(t, rc, "mdb_cursor_get", dbi, ino);
	return k->mv_size >= 8 && lmdb_key_ino(k) == ino ? 0 : 1;
}

/* ---- inode records, through the txn's memo (struct lmdb_inode_memo) ---- */

/* Remembers a, an inode record as inode_read() reads it, in t's memo. */
static void inode_memo_keep(struct lmdb_txn *t, const struct store_attr *a)
{
	t->imemo.a[lmdb_memo_take(t->imemo.ino, LMDB_INODE_MEMO, &t->imemo.next, a->ino)] = *a;
}

static int inode_read(struct lmdb_txn *t, uint64_t ino, struct store_attr *out)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	struct lmdb_key k;
	MDB_val v;
	int i = ino ? lmdb_memo_find(t->imemo.ino, LMDB_INODE_MEMO, ino) : -1;
	int rc;

	if (t->err)
		return t->err;
	if (i >= 0) {
		*out = t->imemo.a[i];
		return 0;
	}
	lmdb_key_set(&k, ino, NULL, 0);
	rc = db_get(t, st->inode, &k.val, &v, ino);
	if (!rc)
		rc = lmdb_inode_decode(st, ino, &v, out);
	if (!rc)
		inode_memo_keep(t, out);
	return rc;
}

int lmdb_txn_fail(struct lmdb_txn *t, int rc, const char *op, MDB_dbi dbi, uint64_t ino)
{
	return txn_fail(t, rc, op, dbi, ino);
}

int lmdb_inode_read(struct lmdb_txn *t, uint64_t ino, struct store_attr *out)
{
	return inode_read(t, ino, out);
}

static int inode_write(struct lmdb_txn *t, const struct store_attr *a)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char rec[LMDB_INODE_REC_LEN];
	MDB_val v = {sizeof(rec), rec};
	struct store_attr now;
	struct lmdb_key k;
	int rc;

	lmdb_inode_encode(a, rec);
	lmdb_key_set(&k, a->ino, NULL, 0);
	rc = db_put(t, st->inode, &k.val, &v, 0, a->ino);
	/* The memo holds what inode_read() would read now: the record, decoded. */
	if (rc || lmdb_inode_decode(st, a->ino, &v, &now))
		lmdb_memo_drop(t->imemo.ino, LMDB_INODE_MEMO, a->ino);
	else
		inode_memo_keep(t, &now);
	return rc;
}

/*
 * The expiry stored on ino (its STORE_XATTR_EXPIRES) in *when: 0 without
 * one, or with a value that does not parse (only `itemfs check` could tell:
 * xattr_set refuses such values, and the index never holds them).
 */
static int expiry_read(struct lmdb_txn *t, uint64_t ino, uint64_t *when)
{
	struct lmdb_key k;
	MDB_val v;
	int rc;

	*when = 0;
	lmdb_key_set(&k, ino, STORE_XATTR_EXPIRES, sizeof(STORE_XATTR_EXPIRES) - 1);
	rc = db_get(t, lmdb_txn_store(t)->xattr, &k.val, &v, ino);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	if (store_expires_parse(v.mv_data, v.mv_size, when))
		*when = 0;
	return 0;
}

/* Adds (add) or removes the expiry index entry (when, ino); nothing for when 0. */
static int expiry_index(struct lmdb_txn *t, uint64_t when, uint64_t ino, bool add)
{
	unsigned char b[LMDB_META_EXPIRES_KEY_LEN];
	MDB_val k = lmdb_expiry_key(b, when, ino), empty = {0, NULL};
	int rc;

	if (!when)
		return 0;
	if (add)
		return db_put(t, lmdb_txn_store(t)->meta, &k, &empty, 0, ino);
	rc = db_del(t, lmdb_txn_store(t)->meta, &k, ino);
	return rc == -ENOENT ? 0 : rc;
}

static bool is_expires(const char *name)
{
	return strcmp(name, STORE_XATTR_EXPIRES) == 0;
}

/* 1 if directory dir has no entries, 0 if it has, or a negative errno. */
static int dir_empty(struct lmdb_txn *t, uint64_t dir)
{
	MDB_dbi dbi = lmdb_txn_store(t)->dirent;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	rc = cursor_open(t, dbi, &c);
	if (rc)
		return rc;
	rc = cursor_step(t, c, dbi, dir, MDB_SET_RANGE, &k, &v);
	mdb_cursor_close(c);
	return rc;
}

/* ---- the change log ---------------------------------------------------- */

/*
 * The last seq in the log as t sees it (0: empty, or no log on a read-only
 * store made before it): what a write txn knows of its tail, else one
 * descent to the last key.
 */
static int change_last_seq(struct lmdb_txn *t, uint64_t *seq)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (t->tail.seq_known) {
		*seq = t->tail.seq;
		return 0;
	}
	if (!st->have_changes) {
		*seq = 0;
		return 0;
	}
	rc = cursor_open(t, st->changes, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == MDB_NOTFOUND) {
		*seq = 0;
		rc = 0;
	} else if (rc) {
		rc = txn_fail(t, rc, "mdb_cursor_get", st->changes, 0);
	} else if (lmdb_seq_get(&k, seq)) {
		lmdb_log(st, LOG_ERR, "change log: a key of %zu bytes, expected 8", k.mv_size);
		rc = -EIO;
	}
	mdb_cursor_close(c);
	return rc;
}

/*
 * Deletes every record with seq <= upto: from the first key, re-seeking
 * after each delete rather than trusting the cursor's position. Anything
 * that sorts before upto + 1 goes, damaged keys included, so a bad key can
 * never stop the trimming.
 */
static int change_trim(struct lmdb_txn *t, uint64_t upto)
{
	MDB_dbi dbi = lmdb_txn_store(t)->changes;
	unsigned char buf[8];
	MDB_cursor *c;
	MDB_val limit, k, v;
	int rc;

	lmdb_seq_key(buf, upto + 1, &limit);
	rc = cursor_open(t, dbi, &c);
	if (rc)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 &&
	       mdb_cmp(t->mtxn, dbi, &k, &limit) < 0) {
		rc = lmdb_cursor_del(t, c, dbi, "trimming", 0);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	if (rc < 0)
		return rc;
	return rc && rc != MDB_NOTFOUND ? txn_fail(t, rc, "trimming", dbi, 0) : 0;
}

/*
 * Appends the record (kind, ino, parent, name) with t's store's origin, as
 * seq last + 1, unless it repeats the record t wrote just before. Every
 * LMDB_CHANGES_TRIM_EVERY seqs, trims the log to its last
 * STORE_CHANGES_KEEP records. Any failure breaks t (see the top of file).
 */
static int change_append(struct lmdb_txn *t, enum store_change_kind kind, uint64_t ino,
			 uint64_t parent, const char *name, size_t len)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	struct lmdb_change_tail *tail = &t->tail;
	struct store_change ch = {
	    .origin = st->origin,
	    .kind = kind,
	    .ino = ino,
	    .parent = parent,
	    .name = name,
	    .namelen = len,
	};
	unsigned char rec[LMDB_CHANGE_HDR_LEN + STORE_NAME_MAX], key[8];
	MDB_val k, v;
	int rc;

	if (t->err)
		return t->err;
	if (tail->mine && tail->kind == kind && tail->ino == ino && tail->parent == parent &&
	    tail->namelen == len && (len == 0 || memcmp(tail->name, name, len) == 0))
		return 0;
	rc = change_last_seq(t, &tail->seq);
	if (rc)
		goto broken;
	tail->seq_known = true;
	ch.seq = tail->seq + 1;
	lmdb_seq_key(key, ch.seq, &k);
	v = (MDB_val){lmdb_change_encode(rec, &ch), rec};
	rc = db_put(t, st->changes, &k, &v, MDB_APPEND, 0);
	if (rc == -EEXIST) { /* MDB_APPEND: the log's tail is not where t thought */
		lmdb_log(st, LOG_ERR, "change log: cannot append record %llu after the last one",
			 (unsigned long long)ch.seq);
		rc = -EIO;
	}
	if (!rc && ch.seq % LMDB_CHANGES_TRIM_EVERY == 0 && ch.seq > STORE_CHANGES_KEEP)
		rc = change_trim(t, ch.seq - STORE_CHANGES_KEEP);
	if (rc)
		goto broken;
	tail->seq = ch.seq;
	tail->mine = true;
	tail->kind = (uint8_t)kind;
	tail->ino = ino;
	tail->parent = parent;
	tail->namelen = (uint32_t)len;
	if (len > 0)
		memcpy(tail->name, name, len);
	return 0;
broken:
	tail->seq_known = tail->mine = false;
	if (!t->err)
		t->err = rc == -ENOENT ? -EIO : rc;
	return t->err;
}

static int change_inode(struct lmdb_txn *t, uint64_t ino)
{
	return change_append(t, STORE_CHANGE_INODE, ino, 0, NULL, 0);
}

static int change_entry(struct lmdb_txn *t, uint64_t parent, const char *name, size_t len,
			uint64_t ino)
{
	return change_append(t, STORE_CHANGE_ENTRY, ino, parent, name, len);
}

static int op_change_last(struct store_txn *txn, uint64_t *seq)
{
	return change_last_seq(lmdb_txn_of(txn), seq);
}

/*
 * The records after `after`, checked to be all there: the log's last seq,
 * then one cursor walk from after + 1. Seqs have no gaps, so a walk that
 * begins past after + 1 means that after + 1 was trimmed.
 */
static int op_changes(struct store_txn *txn, uint64_t after, store_change_fn fn, void *arg)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char buf[8];
	struct store_change ch;
	uint64_t last, seq;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, step;

	rc = change_last_seq(t, &last);
	if (rc)
		return rc;
	if (!st->have_changes || after == last)
		return 0;
	if (after > last) /* a log older than the caller's: e.g. a restored store */
		return -ESTALE;
	rc = cursor_open(t, st->changes, &c);
	if (rc)
		return rc;
	lmdb_seq_key(buf, after + 1, &k);
	step = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (step == 0 && lmdb_seq_get(&k, &seq) == 0 && seq != after + 1) {
		rc = -ESTALE; /* after + 1 was trimmed */
		goto out;
	}
	for (; step == 0; step = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		rc = lmdb_change_decode(st, &k, &v, &ch);
		if (!rc)
			rc = fn(arg, &ch);
		if (rc)
			break;
	}
	if (!rc && step != MDB_NOTFOUND)
		rc = txn_fail(t, step, "mdb_cursor_get", st->changes, 0);
out:
	mdb_cursor_close(c);
	return rc;
}

/* ---- inodes ----------------------------------------------------------- */

static int op_ino_alloc(struct store_txn *txn, uint64_t *out)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	MDB_val key = lmdb_meta_key(LMDB_META_NEXT_INO), v;
	unsigned char buf[8];
	uint64_t next;
	int rc;

	rc = db_get(t, st->meta, &key, &v, 0);
	if (rc == -ENOENT || (!rc && lmdb_u64_get(&v, &next))) {
		lmdb_log(st, LOG_ERR, "the meta database has no valid next_ino record");
		return -EIO;
	}
	if (rc)
		return rc;
	lmdb_u64_val(buf, next + 1, &v);
	rc = db_put(t, st->meta, &key, &v, 0, 0);
	if (!rc)
		*out = next;
	return rc;
}

static int op_inode_get(struct store_txn *txn, uint64_t ino, struct store_attr *out)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	struct store_attr a;
	int rc = inode_read(t, ino, &a);

	/* xattr_bytes 0: no xattrs, so no expiry, and no lookup to find that out */
	if (rc == 0 && S_ISREG(a.mode) && a.xattr_bytes)
		rc = expiry_read(t, ino, &a.expires);
	if (rc == 0)
		*out = a;
	return rc;
}

static int op_inode_put(struct store_txn *txn, const struct store_attr *attr)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	struct store_attr a;
	int rc;

	rc = inode_read(t, attr->ino, &a);
	if (rc == 0 || rc == -ENOENT)
		rc = store_attr_merge(&a, rc == 0, attr);
	if (rc)
		return rc;
	rc = inode_write(t, &a);
	return rc ? rc : change_inode(t, a.ino);
}

static int op_inode_free(struct store_txn *txn, uint64_t ino)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	struct store_attr a;
	struct lmdb_key k;
	MDB_cursor *c;
	MDB_val xk, xv;
	int rc;

	rc = inode_read(t, ino, &a);
	if (rc)
		return rc;
	if (S_ISDIR(a.mode)) {
		rc = dir_empty(t, ino);
		if (rc <= 0)
			return rc < 0 ? rc : -ENOTEMPTY; /* freeing it would orphan its entries */
	}
	lmdb_key_set(&k, ino, NULL, 0);
	rc = db_del(t, st->inode, &k.val, ino);
	lmdb_memo_drop(t->imemo.ino, LMDB_INODE_MEMO, ino);
	if (!rc)
		rc = db_del(t, st->data, &k.val, ino);
	if ((!rc || rc == -ENOENT) && !S_ISDIR(a.mode) && a.nlink == 0) {
		unsigned char ob[LMDB_META_ORPHAN_KEY_LEN];
		MDB_val ok = lmdb_orphan_key(ob, ino);

		rc = db_del(t, st->meta, &ok, ino); /* listed or not */
	}
	if (rc && rc != -ENOENT)
		return rc;
	if (S_ISDIR(a.mode)) {
		rc = lmdb_index_drop_table(t, ino); /* none unless it is a table */
		if (rc)
			return rc;
	} else {
		/* its entries went with its last name; this only mends what that missed */
		struct store_attr named = a, gone = a;

		named.nlink = 1;
		gone.nlink = 0;
		rc = lmdb_index_item_moved(t, &named, &gone);
		if (rc)
			return rc;
	}
	if (S_ISREG(a.mode) && a.xattr_bytes) {
		uint64_t when;

		rc = expiry_read(t, ino, &when);
		if (!rc)
			rc = expiry_index(t, when, ino, false);
		if (rc)
			return rc;
	}
	rc = cursor_open(t, st->xattr, &c);
	if (rc)
		return rc;
	/* Re-seek after each delete rather than trust the cursor's position. */
	while ((rc = cursor_step(t, c, st->xattr, ino, MDB_SET_RANGE, &xk, &xv)) == 0) {
		rc = lmdb_cursor_del(t, c, st->xattr, "mdb_cursor_del", ino);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	if (rc >= 0 && S_ISDIR(a.mode))
		rc = lmdb_stream_drop(t, ino);
	return rc < 0 ? rc : change_inode(t, ino);
}

static int op_orphan_add(struct store_txn *txn, uint64_t ino)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char ob[LMDB_META_ORPHAN_KEY_LEN];
	MDB_val ok = lmdb_orphan_key(ob, ino), empty = {0, NULL};
	struct store_attr a;
	int rc = inode_read(t, ino, &a);

	if (rc)
		return rc;
	if (S_ISDIR(a.mode) || a.nlink != 0)
		return -EINVAL;
	return db_put(t, st->meta, &ok, &empty, 0, ino);
}

/* Orphans freed per pass: a pass lists, then frees (no cursor across deletes). */
#define REAP_BATCH 256

/* Lists up to REAP_BATCH orphans into inos; *n gets how many. */
static int orphans_list(struct lmdb_txn *t, uint64_t *inos, size_t *n)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char ob[LMDB_META_ORPHAN_KEY_LEN];
	MDB_val k = lmdb_orphan_key(ob, 0), v;
	MDB_cursor *c;
	int rc = mdb_cursor_open(t->mtxn, st->meta, &c);

	if (rc)
		return txn_fail(t, rc, "mdb_cursor_open", st->meta, 0);
	*n = 0;
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && *n < REAP_BATCH && k.mv_size == LMDB_META_ORPHAN_KEY_LEN &&
	       memcmp(k.mv_data, LMDB_META_ORPHAN, LMDB_META_ORPHAN_LEN) == 0) {
		const unsigned char *b = (const unsigned char *)k.mv_data + LMDB_META_ORPHAN_LEN;

		inos[(*n)++] = lmdb_get_be64(b);
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	return rc && rc != MDB_NOTFOUND ? txn_fail(t, rc, "listing orphans", st->meta, 0) : 0;
}

static int op_orphans_reap(struct store_txn *txn, uint64_t *count)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	uint64_t inos[REAP_BATCH], total = 0;
	size_t n;
	int rc;

	do {
		rc = orphans_list(t, inos, &n);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			struct store_attr a;

			rc = inode_read(t, inos[i], &a);
			if (rc == 0 && !S_ISDIR(a.mode) && a.nlink == 0) {
				rc = op_inode_free(txn, inos[i]);
				total++;
			} else if (rc == 0 || rc == -ENOENT) { /* linked again, or gone: unlist */
				unsigned char ob[LMDB_META_ORPHAN_KEY_LEN];
				MDB_val ok = lmdb_orphan_key(ob, inos[i]);

				rc = db_del(t, st->meta, &ok, inos[i]);
			}
		}
		if (rc)
			return rc;
	} while (n == REAP_BATCH);
	if (count)
		*count = total;
	return 0;
}

/* ---- the expiry index ------------------------------------------------- */

static int op_expired(struct store_txn *txn, uint64_t now, store_expiry_fn fn, void *arg)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char b[LMDB_META_EXPIRES_KEY_LEN];
	MDB_val k = lmdb_expiry_key(b, 0, 0), v;
	uint64_t when, ino;
	MDB_cursor *c;
	int rc = cursor_open(t, st->meta, &c), frc = 0;

	if (rc)
		return rc;
	/* The index is one run of keys in (when, ino) order: walk it up to now. */
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && lmdb_expiry_key_parse(&k, &when, &ino) && when <= now) {
		frc = fn(arg, ino, when);
		if (frc)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (frc)
		return frc;
	return rc && rc != MDB_NOTFOUND ? txn_fail(t, rc, "listing expiries", st->meta, 0) : 0;
}

/* ---- directory entries ------------------------------------------------ */

static int op_dirent_get(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			 uint64_t *ino)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	struct lmdb_key k;
	uint64_t child;
	uint32_t type;
	MDB_val v;
	int rc;

	lmdb_key_set(&k, parent, name, len);
	rc = db_get(t, st->dirent, &k.val, &v, parent);
	if (!rc)
		rc = lmdb_dirent_decode(st, parent, &v, &child, &type);
	if (!rc)
		*ino = child;
	return rc;
}

static int op_dirent_add(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			 uint64_t ino)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char val[LMDB_DIRENT_VAL_LEN];
	struct store_attr p, c, before;
	struct lmdb_key k;
	uint32_t keylen;
	MDB_val v;
	int rc;

	rc = inode_read(t, parent, &p);
	if (rc)
		return rc;
	if (!S_ISDIR(p.mode))
		return -ENOTDIR;
	rc = inode_read(t, ino, &c);
	if (rc)
		return rc;
	lmdb_key_set(&k, parent, name, len);
	/* A directory has one name; a file counts the longest of its names. */
	keylen = S_ISDIR(c.mode) || c.nlink == 0 || len > c.keylen ? (uint32_t)len : c.keylen;
	if (!store_item_fits(keylen, c.size, c.xattr_bytes)) {
		rc = db_get(t, st->dirent, &k.val, &v, parent); /* a taken name says so first */
		return rc == -ENOENT ? -EFBIG : rc ? rc : -EEXIST;
	}
	lmdb_dirent_encode(val, ino, c.mode);
	v = (MDB_val){sizeof(val), val};
	/* a taken name: MDB_KEYEXIST (-EEXIST), found before LMDB touches a page */
	rc = db_put(t, st->dirent, &k.val, &v, MDB_NOOVERWRITE, parent);
	if (rc)
		return rc;
	before = c;
	c.keylen = keylen;
	c.parent = parent;
	if (S_ISDIR(c.mode)) {
		p.nlink++;
		rc = inode_write(t, &p);
		if (rc)
			return rc;
	} else {
		c.nlink++;
	}
	rc = inode_write(t, &c);
	/* the table it is in may have changed: the indexes follow */
	if (!rc && S_ISDIR(c.mode))
		rc = lmdb_index_dir_moved(t, ino, before.parent, parent);
	else if (!rc)
		rc = lmdb_index_item_moved(t, &before, &c);
	return rc ? rc : change_entry(t, parent, name, len, ino);
}

static int op_dirent_remove(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			    uint64_t *ino)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	struct store_attr p, c;
	struct lmdb_key k;
	uint64_t child;
	uint32_t type;
	bool dangling = false, is_dir;
	MDB_val v;
	int rc;

	lmdb_key_set(&k, parent, name, len);
	rc = db_get(t, st->dirent, &k.val, &v, parent);
	if (!rc)
		rc = lmdb_dirent_decode(st, parent, &v, &child, &type);
	if (rc)
		return rc;
	rc = inode_read(t, child, &c);
	if (rc == -ENOENT) {
		/* Let the name of a lost inode go, or it could never be removed. */
		lmdb_log(st, LOG_WARNING,
			 "directory inode %llu: entry \"%.*s\" names missing inode %llu; "
			 "removing the entry",
			 (unsigned long long)parent, (int)len, name, (unsigned long long)child);
		dangling = true;
	} else if (rc) {
		return rc;
	}
	is_dir = S_ISDIR(dangling ? type : c.mode);
	if (is_dir) {
		rc = inode_read(t, parent, &p);
		if (rc)
			return rc;
	}

	rc = db_del(t, st->dirent, &k.val, parent);
	if (!rc && is_dir) {
		if (p.nlink > 2)
			p.nlink--;
		rc = inode_write(t, &p);
	} else if (!rc && !dangling) {
		struct store_attr before = c;

		if (c.nlink > 0)
			c.nlink--;
		rc = inode_write(t, &c);
		if (!rc) /* its last name: out of the indexes */
			rc = lmdb_index_item_moved(t, &before, &c);
	}
	if (!rc)
		rc = change_entry(t, parent, name, len, child);
	if (!rc && ino)
		*ino = child;
	return rc;
}

static int op_dir_list(struct store_txn *txn, uint64_t dir, store_dirent_fn fn, void *arg)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	struct store_dirent ent;
	struct store_attr a;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, step;

	rc = inode_read(t, dir, &a);
	if (rc)
		return rc;
	if (!S_ISDIR(a.mode))
		return -ENOTDIR;
	rc = cursor_open(t, st->dirent, &c);
	if (rc)
		return rc;
	for (step = cursor_step(t, c, st->dirent, dir, MDB_SET_RANGE, &k, &v); step == 0;
	     step = cursor_step(t, c, st->dirent, dir, MDB_NEXT, &k, &v)) {
		ent.name = (const char *)k.mv_data + 8;
		ent.namelen = k.mv_size - 8;
		rc = lmdb_dirent_decode(st, dir, &v, &ent.ino, &ent.mode);
		if (!rc)
			rc = fn(arg, &ent);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	if (rc)
		return rc;
	return step < 0 ? step : 0;
}

static int op_dir_is_empty(struct store_txn *txn, uint64_t dir)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	struct store_attr a;
	int rc;

	rc = inode_read(t, dir, &a);
	if (rc)
		return rc;
	return S_ISDIR(a.mode) ? dir_empty(t, dir) : -ENOTDIR;
}

/* ---- item data -------------------------------------------------------- */

static int op_data_get(struct store_txn *txn, uint64_t ino, struct store_buf *out)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	struct store_attr a;
	struct lmdb_key k;
	const void *bytes;
	size_t len;
	void *copy;
	MDB_val v;
	int rc;

	rc = inode_read(t, ino, &a);
	if (rc)
		return rc;
	lmdb_key_set(&k, ino, NULL, 0);
	rc = db_get(t, st->data, &k.val, &v, ino);
	if (rc == -ENOENT && a.size == 0) {
		*out = (struct store_buf){NULL, 0};
		return 0;
	}
	if (rc == -ENOENT) {
		lmdb_log(st, LOG_ERR, "inode %llu: size %llu but no data record",
			 (unsigned long long)ino, (unsigned long long)a.size);
		return -EIO;
	}
	if (!rc)
		rc = lmdb_data_decode(st, ino, &v, &bytes, &len);
	if (rc)
		return rc;
	if (len != a.size) {
		lmdb_log(st, LOG_ERR, "inode %llu: size %llu but %zu bytes of data",
			 (unsigned long long)ino, (unsigned long long)a.size, len);
		return -EIO;
	}
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, bytes, len);
	*out = (struct store_buf){copy, len};
	return 0;
}

static int op_data_put(struct store_txn *txn, uint64_t ino, const void *data, size_t len)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	struct store_attr a;
	struct lmdb_key k;
	MDB_val v;
	int rc;

	rc = inode_read(t, ino, &a);
	if (rc)
		return rc;
	if (S_ISDIR(a.mode))
		return -EISDIR;
	if (!store_item_fits(a.keylen, len, a.xattr_bytes))
		return -EFBIG;
	lmdb_key_set(&k, ino, NULL, 0);
	if (len == 0) {
		rc = db_del(t, st->data, &k.val, ino); /* an empty item has no record */
		if (rc == -ENOENT)
			rc = 0;
	} else {
		v.mv_size = LMDB_DATA_HDR_LEN + len;
		/* No record yet (a.size 0): most often the newest item, the last key. */
		if (a.size == 0)
			rc = db_put_append(t, st->data, &k.val, &v, MDB_RESERVE, ino);
		else
			rc = db_put(t, st->data, &k.val, &v, MDB_RESERVE, ino);
		if (!rc) {
			lmdb_data_encode(v.mv_data, data, len);
			lmdb_redo_note(t, LMDB_REDO_PUT, st->data, &k.val, &v);
		}
	}
	if (rc)
		return rc;
	a.size = len;
	a.version++;
	rc = inode_write(t, &a);
	return rc ? rc : change_inode(t, ino);
}

/* ---- xattrs ----------------------------------------------------------- */

static int op_xattr_get(struct store_txn *txn, uint64_t ino, const char *name, void *buf,
			size_t size, size_t *len)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	struct store_attr a;
	struct lmdb_key k;
	MDB_val v;
	int rc;

	lmdb_key_set(&k, ino, name, strlen(name));
	rc = db_get(t, lmdb_txn_store(t)->xattr, &k.val, &v, ino);
	if (rc == -ENOENT) {
		rc = inode_read(t, ino, &a);
		return rc ? rc : -ENODATA;
	}
	if (rc)
		return rc;
	if (size > 0) {
		if (size < v.mv_size)
			return -ERANGE;
		memcpy(buf, v.mv_data, v.mv_size);
	}
	*len = v.mv_size;
	return 0;
}

static int op_xattr_set(struct store_txn *txn, uint64_t ino, const char *name, const void *value,
			size_t size, int flags)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	size_t nlen = strlen(name);
	uint64_t old_when = 0, new_when = 0, ixid;
	unsigned char old[STORE_INDEX_VALUE_MAX];
	size_t oldlen = 0;
	bool had_old;
	struct store_attr a;
	struct lmdb_key k;
	uint64_t bytes;
	MDB_val v;
	int rc;

	rc = inode_read(t, ino, &a);
	if (rc)
		return rc;
	if (is_expires(name) &&
	    (!S_ISREG(a.mode) || store_expires_parse(value, size, &new_when)))
		return -EINVAL;
	lmdb_key_set(&k, ino, name, nlen);
	rc = db_get(t, st->xattr, &k.val, &v, ino);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0 && (flags & XATTR_CREATE))
		return -EEXIST;
	if (rc == -ENOENT && (flags & XATTR_REPLACE))
		return -ENODATA;
	if (rc == 0 && new_when && store_expires_parse(v.mv_data, v.mv_size, &old_when))
		old_when = 0;
	bytes = (uint64_t)a.xattr_bytes - (rc == 0 ? nlen + v.mv_size : 0) + nlen + size;
	if (!store_item_fits(a.keylen, a.size, bytes))
		return -E2BIG;
	had_old = rc == 0;
	rc = lmdb_index_xattr_check(t, &a, name, size, false, &ixid);
	if (rc)
		return rc;
	if (ixid && had_old && v.mv_size <= sizeof(old)) {
		oldlen = v.mv_size; /* v is not valid past the put */
		memcpy(old, v.mv_data, oldlen);
	} else {
		had_old = false;
	}

	v = (MDB_val){size, size > 0 ? (void *)value : (void *)""};
	rc = db_put(t, st->xattr, &k.val, &v, 0, ino);
	if (!rc)
		rc = lmdb_index_xattr_changed(t, ixid, ino, old, oldlen, had_old, value, size, true);
	if (!rc && old_when != new_when)
		rc = expiry_index(t, old_when, ino, false);
	if (!rc && old_when != new_when)
		rc = expiry_index(t, new_when, ino, true);
	if (rc)
		return rc;
	a.xattr_bytes = (uint32_t)bytes;
	rc = inode_write(t, &a);
	return rc ? rc : change_inode(t, ino);
}

static int op_xattr_list(struct store_txn *txn, uint64_t ino, char *buf, size_t size, size_t *len)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	MDB_dbi dbi = lmdb_txn_store(t)->xattr;
	size_t total = 0, at = 0;
	struct store_attr a;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	rc = inode_read(t, ino, &a);
	if (!rc)
		rc = cursor_open(t, dbi, &c);
	if (rc)
		return rc;
	/* Two passes, so that a buffer too small is left untouched. */
	for (rc = cursor_step(t, c, dbi, ino, MDB_SET_RANGE, &k, &v); rc == 0;
	     rc = cursor_step(t, c, dbi, ino, MDB_NEXT, &k, &v))
		total += k.mv_size - 8 + 1;
	if (rc == 1 && size > 0 && size < total)
		rc = -ERANGE;
	if (rc == 1 && size > 0) {
		for (rc = cursor_step(t, c, dbi, ino, MDB_SET_RANGE, &k, &v); rc == 0;
		     rc = cursor_step(t, c, dbi, ino, MDB_NEXT, &k, &v)) {
			memcpy(buf + at, (const char *)k.mv_data + 8, k.mv_size - 8);
			at += k.mv_size - 8;
			buf[at++] = '\0';
		}
	}
	mdb_cursor_close(c);
	if (rc < 0)
		return rc;
	*len = total;
	return 0;
}

static int op_xattr_remove(struct store_txn *txn, uint64_t ino, const char *name)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	size_t nlen = strlen(name), vlen;
	uint64_t old_when = 0, ixid;
	unsigned char old[STORE_INDEX_VALUE_MAX];
	struct store_attr a;
	struct lmdb_key k;
	MDB_val v;
	int rc;

	rc = inode_read(t, ino, &a);
	if (rc)
		return rc;
	lmdb_key_set(&k, ino, name, nlen);
	rc = db_get(t, st->xattr, &k.val, &v, ino);
	if (rc)
		return rc == -ENOENT ? -ENODATA : rc;
	if (is_expires(name) && store_expires_parse(v.mv_data, v.mv_size, &old_when))
		old_when = 0;
	a.xattr_bytes -= (uint32_t)(nlen + v.mv_size);
	vlen = v.mv_size;
	if (vlen <= sizeof(old))
		memcpy(old, v.mv_data, vlen); /* v is not valid past the delete */
	rc = lmdb_index_xattr_check(t, &a, name, 0, true, &ixid);
	if (!rc)
		rc = db_del(t, st->xattr, &k.val, ino);
	if (!rc)
		rc = lmdb_index_xattr_changed(t, ixid, ino, old, vlen, true, NULL, 0, false);
	if (!rc)
		rc = expiry_index(t, old_when, ino, false);
	if (!rc)
		rc = inode_write(t, &a);
	return rc ? rc : change_inode(t, ino);
}

int lmdb_get(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, MDB_val *val, uint64_t ino)
{
	return db_get(t, dbi, key, val, ino);
}

int lmdb_put(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, MDB_val *val, unsigned flags,
	     uint64_t ino)
{
	return db_put(t, dbi, key, val, flags, ino);
}

int lmdb_del(struct lmdb_txn *t, MDB_dbi dbi, MDB_val *key, uint64_t ino)
{
	return db_del(t, dbi, key, ino);
}

/*
 * Deletes the record at c (in t, on dbi), noted for the redo log as a
 * delete of its key. Errors: as txn_fail(), logged with op and ino.
 */
int lmdb_cursor_del(struct lmdb_txn *t, MDB_cursor *c, MDB_dbi dbi, const char *op, uint64_t ino)
{
	unsigned char kb[LMDB_KEY_MAX];
	MDB_val k;
	int rc = mdb_cursor_get(c, &k, NULL, MDB_GET_CURRENT);

	if (rc == 0 && k.mv_size > sizeof(kb))
		rc = MDB_BAD_VALSIZE;
	if (rc == 0) {
		memcpy(kb, k.mv_data, k.mv_size);
		k.mv_data = kb;
		rc = mdb_cursor_del(c, 0);
	}
	if (rc)
		return txn_fail(t, rc, op, dbi, ino);
	lmdb_redo_note(t, LMDB_REDO_DEL, dbi, &k, NULL);
	return 0;
}

int lmdb_cursor_open(struct lmdb_txn *t, MDB_dbi dbi, MDB_cursor **c)
{
	return cursor_open(t, dbi, c);
}

const struct store_ops lmdb_ops = {
    .close = lmdb_close,
    .txn_begin = lmdb_txn_begin,
    .txn_begin_nested = lmdb_txn_begin_nested,
    .txn_commit = lmdb_txn_commit,
    .txn_abort = lmdb_txn_abort,
    .ino_alloc = op_ino_alloc,
    .inode_get = op_inode_get,
    .inode_put = op_inode_put,
    .inode_free = op_inode_free,
    .orphan_add = op_orphan_add,
    .orphans_reap = op_orphans_reap,
    .expired = op_expired,
    .stream_head = lmdb_stream_head,
    .stream_append = lmdb_stream_append,
    .stream_trim = lmdb_stream_trim,
    .stream_read = lmdb_stream_read,
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
    .statfs = lmdb_statfs,
    .sync = lmdb_sync,
    .check = lmdb_check,
    .backup = lmdb_backup,
    .generation = lmdb_generation,
    .origin = lmdb_origin,
    .change_last = op_change_last,
    .changes = op_changes,
    .index_add = lmdb_index_add,
    .index_drop = lmdb_index_drop,
    .index_list = lmdb_index_list,
    .index_values = lmdb_index_values,
    .index_items = lmdb_index_items,
    .features = STORE_HAS_STREAMS | STORE_HAS_EXPIRY | STORE_HAS_BACKUP | STORE_HAS_LOCAL_READS,
};
