/*
 * ddb_meta.c - the DynamoDB-API backend's store-wide records: the change
 * log (how other mounts learn what a commit changed: ddb_kv.c collects a
 * transaction's records, ddb_commit.c writes them as one entry under the
 * seq of its last record, and store_changes() reads them back here) and
 * the usage counters behind statfs. The record layout is in ddb.c's
 * opening comment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "ddb_i.h"

#define LOG_VERSION 1u
#define LOG_HDR_LEN 13u /* u8 version, u64 origin, u32 count */
#define LOG_REC_LEN 26u /* u64 seq, u8 kind, u64 ino, u64 parent, u8 namelen */

static const unsigned char META_P[1] = {DDB_P_META};
static const unsigned char LOG_P[1] = {DDB_P_LOG};

int ddb_usage_get(struct ddb_txn *t, uint64_t *bytes, uint64_t *inodes)
{
	const unsigned char *v;
	size_t vlen;
	int rc = ddb_rec_get(t, META_P, 1, "usage", 5, &v, &vlen);

	*bytes = *inodes = 0;
	if (rc == -ENOENT)
		return 0;
	if (rc == 0 && vlen != 16) {
		ddb_log(ddb_txn_store(t), LOG_ERR, "the usage record has %zu bytes, expected 16",
			vlen);
		return -EIO;
	}
	if (rc == 0) {
		*bytes = ddb_get_be64(v);
		*inodes = ddb_get_be64(v + 8);
	}
	return rc;
}

/* Moves the usage counters by dbytes and dinodes (never below zero). */
int ddb_usage_add(struct ddb_txn *t, int64_t dbytes, int64_t dinodes)
{
	unsigned char v[16];
	uint64_t bytes, inodes;
	int rc;

	if (dbytes == 0 && dinodes == 0)
		return 0;
	rc = ddb_usage_get(t, &bytes, &inodes);
	if (rc)
		return rc;
	bytes = dbytes < 0 && (uint64_t)-dbytes > bytes ? 0 : bytes + (uint64_t)dbytes;
	inodes = dinodes < 0 && (uint64_t)-dinodes > inodes ? 0 : inodes + (uint64_t)dinodes;
	ddb_be64(v, bytes);
	ddb_be64(v + 8, inodes);
	return ddb_rec_put(t, META_P, 1, "usage", 5, v, sizeof(v));
}

/* ---- the change log ---------------------------------------------------- */

size_t ddb_changes_encoded_len(const struct ddb_change *c, size_t n)
{
	size_t len = LOG_HDR_LEN;

	for (size_t i = 0; i < n; i++)
		len += LOG_REC_LEN + c[i].namelen;
	return len;
}

size_t ddb_changes_encode(const struct ddb_change *c, size_t n, uint64_t origin, unsigned char *out)
{
	unsigned char *p = out;

	*p++ = LOG_VERSION;
	p = ddb_put64(p, origin);
	p = ddb_put32(p, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		p = ddb_put64(p, c[i].seq);
		*p++ = c[i].kind;
		p = ddb_put64(p, c[i].ino);
		p = ddb_put64(p, c[i].parent);
		*p++ = c[i].namelen;
		memcpy(p, c[i].name, c[i].namelen);
		p += c[i].namelen;
	}
	return (size_t)(p - out);
}

/* m/seq: the last seq committed and the last trimmed. */
static int seq_get(struct ddb_txn *t, uint64_t *last, uint64_t *trimmed)
{
	const unsigned char *v;
	size_t vlen;
	int rc = ddb_rec_get(t, META_P, 1, "seq", 3, &v, &vlen);

	if (rc == -ENOENT || (rc == 0 && vlen != 16)) {
		ddb_log(ddb_txn_store(t), LOG_ERR, "the store has no valid seq record");
		return -EIO;
	}
	if (rc == 0) {
		*last = ddb_get_be64(v);
		*trimmed = ddb_get_be64(v + 8);
	}
	return rc;
}

int ddb_op_change_last(struct store_txn *txn, uint64_t *seq)
{
	struct ddb_txn *t = ddb_txn_of(txn), *root = t->root;
	uint64_t trimmed;

	if (root->write) { /* m/seq as it began, and its own records */
		*seq = root->seq_base + root->nchanges;
		return 0;
	}
	return seq_get(t, seq, &trimmed);
}

/* The log records read for op_changes(), names pointing into vals. */
struct log_read {
	struct ddb_store *st;
	unsigned char **vals;
	size_t nvals;
	struct store_change *recs;
	size_t nrecs, cap;
};

/* Decodes one log entry (key s) into r->recs; -EIO, logged, if it is damaged. */
static int log_entry(void *arg, const unsigned char *s, size_t slen, const unsigned char *v,
		     size_t vlen)
{
	struct log_read *r = arg;
	unsigned char *copy, **vals;
	const unsigned char *p, *end;
	uint64_t origin, key = slen == 8 ? ddb_get_be64(s) : 0, prev = 0;
	uint32_t count;

	if (slen != 8 || vlen < LOG_HDR_LEN || v[0] != LOG_VERSION)
		goto bad;
	origin = ddb_get_be64(v + 1);
	count = ddb_get_be32(v + 9);
	copy = malloc(vlen);
	vals = realloc(r->vals, (r->nvals + 1) * sizeof(*vals));
	if (!copy || !vals) {
		free(copy);
		if (vals)
			r->vals = vals;
		return -ENOMEM;
	}
	memcpy(copy, v, vlen);
	r->vals = vals;
	r->vals[r->nvals++] = copy;
	p = copy + LOG_HDR_LEN;
	end = copy + vlen;
	for (uint32_t i = 0; i < count; i++) {
		struct store_change c = {.origin = origin};

		if ((size_t)(end - p) < LOG_REC_LEN || (size_t)(end - p) < LOG_REC_LEN + p[25])
			goto bad;
		c.seq = ddb_get_be64(p);
		c.kind = (enum store_change_kind)p[8];
		c.ino = ddb_get_be64(p + 9);
		c.parent = ddb_get_be64(p + 17);
		c.namelen = p[25];
		c.name = c.namelen ? (const char *)p + LOG_REC_LEN : NULL;
		p += LOG_REC_LEN + c.namelen;
		if (c.seq <= prev || (c.kind == STORE_CHANGE_INODE && c.namelen) ||
		    (c.kind == STORE_CHANGE_ENTRY && !c.namelen) ||
		    (c.kind != STORE_CHANGE_INODE && c.kind != STORE_CHANGE_ENTRY))
			goto bad;
		prev = c.seq;
		if (r->nrecs == r->cap) {
			size_t cap = r->cap ? r->cap * 2 : 64;
			struct store_change *recs = realloc(r->recs, cap * sizeof(*recs));

			if (!recs)
				return -ENOMEM;
			r->recs = recs;
			r->cap = cap;
		}
		r->recs[r->nrecs++] = c;
	}
	if (p != end || prev != key)
		goto bad;
	return 0;
bad:
	ddb_log(r->st, LOG_ERR, "change log: unreadable entry %llu (%zu bytes)",
		(unsigned long long)key, vlen);
	return -EIO;
}

static void log_read_free(struct log_read *r)
{
	for (size_t i = 0; i < r->nvals; i++)
		free(r->vals[i]);
	free(r->vals);
	free(r->recs);
	*r = (struct log_read){.st = r->st};
}

/*
 * Reads the committed records after `after` up to m/seq into r, from its
 * *first, all checked to be there. -EAGAIN: what was read does not add up
 * (after beyond m/seq, a record missing) in a read that may lag: the
 * caller reads again, strongly. -ESTALE: trimmed past after. -EIO: a
 * record missing from a strong read (logged).
 */
static int log_collect(struct ddb_txn *t, uint64_t after, struct log_read *r, uint64_t *last,
		       size_t *first)
{
	struct ddb_txn *root = t->root;
	bool lagging = !root->write && !root->strong;
	uint64_t trimmed, next = after + 1;
	unsigned char from[8];
	int rc = 0;

	if (root->write) {
		*last = root->seq_base;
		trimmed = root->trimmed;
	} else {
		rc = seq_get(t, last, &trimmed);
		if (rc)
			return rc;
	}
	if (after > *last + (root->write ? root->nchanges : 0))
		return lagging ? -EAGAIN : -ESTALE;
	if (after < trimmed)
		return -ESTALE;
	*first = 0;
	if (after >= *last)
		return 0;
	ddb_be64(from, after);
	rc = ddb_rec_range(t, LOG_P, 1, "", 0, from, 8, 0, log_entry, r);
	while (rc == 0 && *first < r->nrecs && r->recs[*first].seq <= after)
		(*first)++;
	for (size_t i = *first; i < r->nrecs && r->recs[i].seq == next && next <= *last; i++)
		next++;
	if (rc == 0 && next != *last + 1 && lagging)
		return -EAGAIN; /* the counter moved before this replica had the log */
	if (rc == 0 && next != *last + 1) {
		ddb_log(r->st, LOG_ERR, "change log: record %llu is missing",
			(unsigned long long)next);
		rc = -EIO;
	}
	return rc;
}

/*
 * The committed records after `after` up to m/seq, all checked to be there
 * before the first is delivered, then (in a write transaction) its own. A
 * read that may lag and finds the counter ahead of the log (or behind the
 * caller) reads both again strongly, once: the log is never skipped.
 */
int ddb_op_changes(struct store_txn *txn, uint64_t after, store_change_fn fn, void *arg)
{
	struct ddb_txn *t = ddb_txn_of(txn), *root = t->root;
	struct ddb_store *st = ddb_txn_store(t);
	struct log_read r = {.st = st};
	uint64_t last = 0;
	size_t first = 0;
	int rc;

	rc = log_collect(t, after, &r, &last, &first);
	if (rc == -EAGAIN) {
		log_read_free(&r);
		ddb_rec_forget(t, META_P, 1, "seq", 3);
		root->strong = true;
		rc = log_collect(t, after, &r, &last, &first);
	}
	for (size_t i = first; rc == 0 && i < r.nrecs && r.recs[i].seq <= last; i++)
		rc = fn(arg, &r.recs[i]);
	for (size_t i = 0; rc == 0 && root->write && i < root->nchanges; i++) {
		const struct ddb_change *c = &root->changes[i];
		struct store_change sc = {
		    .seq = c->seq,
		    .origin = st->origin,
		    .kind = (enum store_change_kind)c->kind,
		    .ino = c->ino,
		    .parent = c->parent,
		    .name = c->namelen ? c->name : NULL,
		    .namelen = c->namelen,
		};

		if (c->seq > after)
			rc = fn(arg, &sc);
	}
	log_read_free(&r);
	return rc;
}
