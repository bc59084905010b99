/*
 * ddb_commit.c - the DynamoDB-API backend's write path: the store's write
 * lock (a lease in record m/lock, taken with a conditional PutItem and
 * renewed by the poller), a root transaction's begin, commit and abort,
 * and applying a write set: one TransactWriteItems where the server has
 * it and the set fits, else an intent record rolled forward by the next
 * writer if this one dies. Records, overlays and requests are ddb_kv.c's;
 * docs/ddb-backend.md states what each way of committing holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ddb_i.h"

#define TRANSACT_MAX_ACTIONS 100u
#define TRANSACT_MAX_BYTES (3u * 1024u * 1024u) /* DynamoDB's limit is 4 MB */
#define INTENT_PART_MAX (300u * 1024u)
#define BATCH_WRITE_MAX 25u
#define LOG_ENTRY_MAX (300u * 1024u)

static uint64_t now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the write lock ---------------------------------------------------------- */

static const unsigned char META_P[1] = {DDB_P_META};

static json_t *lock_key(void)
{
	return ddb_key_json(META_P, 1, "lock", 4);
}

/* The lock's owner and expiry, read strongly: 0, -ENOENT (no lock), or an error. */
static int lock_read(struct ddb_store *st, uint64_t *owner, uint64_t *expires)
{
	json_t *resp = NULL, *item;
	int rc = ddb_request(st, "GetItem",
			     json_pack("{s:s, s:o, s:b}", "TableName", st->table, "Key", lock_key(),
				       "ConsistentRead", 1),
			     &resp);

	if (rc)
		return rc;
	item = json_object_get(resp, "Item");
	rc = item ? ddb_get_num(item, "o", owner) : -ENOENT;
	if (rc == 0)
		rc = ddb_get_num(item, "e", expires);
	json_decref(resp);
	return rc;
}

/*
 * Takes the store's write lock: a conditional put that succeeds when there
 * is none or the one there has expired. *stolen: it had expired (its
 * holder died), so a leftover intent may need rolling forward. Waits
 * (with backoff) while another mount holds it. A put the client retried
 * after its first answer was lost fails its condition on the lock it took
 * itself: the first refusal reads the lock, and finds it ours.
 */
static int lock_take(struct ddb_store *st, bool *stolen)
{
	unsigned waited_ms = 0, pause = 2;
	bool warned = false, looked = false;

	for (;;) {
		uint64_t now = now_ms(CLOCK_REALTIME), exp = now + st->lease_ms;
		json_t *resp = NULL;
		char cond[] = "attribute_not_exists(#p) OR #e < :now";
		int rc;

		rc = ddb_request(
		    st, "PutItem",
		    json_pack("{s:s, s:{s:o, s:o, s:o, s:o}, s:s, s:{s:s, s:s}, s:{s:o}, "
			      "s:s}",
			      "TableName", st->table, "Item", "p", ddb_bin(META_P, 1), "s",
			      ddb_bin("lock", 4), "o", ddb_num(st->origin), "e", ddb_num(exp),
			      "ConditionExpression", cond, "ExpressionAttributeNames", "#p", "p",
			      "#e", "e", "ExpressionAttributeValues", ":now", ddb_num(now),
			      "ReturnValues", "ALL_OLD"),
		    &resp);
		if (rc == 0) {
			*stolen = json_object_get(resp, "Attributes") != NULL;
			json_decref(resp);
			pthread_mutex_lock(&st->lock_mu);
			st->lock_held = true;
			st->lock_expires_ms = exp;
			pthread_mutex_unlock(&st->lock_mu);
			return 0;
		}
		if (rc != -EEXIST)
			return rc;
		if (!looked) {
			uint64_t owner = 0, seen = 0;

			looked = true;
			if (lock_read(st, &owner, &seen) == 0 && owner == st->origin) {
				*stolen =
				    true; /* what it replaced is unknown: look for an intent */
				pthread_mutex_lock(&st->lock_mu);
				st->lock_held = true;
				st->lock_expires_ms = seen;
				pthread_mutex_unlock(&st->lock_mu);
				return 0;
			}
		}
		if (!warned && waited_ms > 2 * st->lease_ms) {
			ddb_log(st, LOG_WARNING,
				"waiting for the write lock held by another mount");
			warned = true;
		}
		usleep(pause * 1000u);
		waited_ms += pause;
		pause = pause < 64 ? pause * 2 : 64;
	}
}

static void lock_release(struct ddb_store *st)
{
	int rc;

	pthread_mutex_lock(&st->lock_mu);
	st->lock_held = false;
	pthread_mutex_unlock(&st->lock_mu);
	rc = ddb_request_noresp(st, "DeleteItem",
				json_pack("{s:s, s:o, s:s, s:{s:s}, s:{s:o}}", "TableName",
					  st->table, "Key", lock_key(), "ConditionExpression",
					  "#o = :o", "ExpressionAttributeNames", "#o", "o",
					  "ExpressionAttributeValues", ":o", ddb_num(st->origin)));
	if (rc)
		ddb_log(st, LOG_WARNING,
			"could not release the write lock (%s): it expires "
			"by itself",
			strerror(-rc));
}

/* Extends the lease when less than half of it is left (the poller calls it). */
void ddb_lock_renew(struct ddb_store *st)
{
	uint64_t now = now_ms(CLOCK_REALTIME), exp;
	int rc;

	pthread_mutex_lock(&st->lock_mu);
	if (!st->lock_held || st->lock_expires_ms > now + st->lease_ms / 2) {
		pthread_mutex_unlock(&st->lock_mu);
		return;
	}
	exp = now + st->lease_ms;
	rc = ddb_request_noresp(
	    st, "UpdateItem",
	    json_pack("{s:s, s:o, s:s, s:s, s:{s:s, s:s}, s:{s:o, s:o}}", "TableName", st->table,
		      "Key", lock_key(), "UpdateExpression", "SET #e = :e", "ConditionExpression",
		      "#o = :o", "ExpressionAttributeNames", "#o", "o", "#e", "e",
		      "ExpressionAttributeValues", ":o", ddb_num(st->origin), ":e", ddb_num(exp)));
	if (rc == 0)
		st->lock_expires_ms = exp;
	else
		ddb_log(st, LOG_ERR, "could not renew the write lock: %s", strerror(-rc));
	pthread_mutex_unlock(&st->lock_mu);
}

/* ---- applying a write set ------------------------------------------------------ */

/* Puts and deletes recs with BatchWriteItem, 25 at a time, until all are done. */
/*
 * Whether this mount may still write as the lock's holder: a quarter of
 * the lease short of its end, by this machine's clock. Past it another
 * mount may take the lock and roll our intent forward; writing on beside
 * it could put an older record over its newer one.
 */
static bool lease_left(struct ddb_store *st)
{
	uint64_t exp;

	pthread_mutex_lock(&st->lock_mu);
	exp = st->lock_held ? st->lock_expires_ms : 0;
	pthread_mutex_unlock(&st->lock_mu);
	return now_ms(CLOCK_REALTIME) + st->lease_ms / 4 < exp;
}

static int apply_batch(struct ddb_store *st, struct ddb_rec **recs, size_t n)
{
	for (size_t at = 0; at < n;) {
		size_t k = n - at < BATCH_WRITE_MAX ? n - at : BATCH_WRITE_MAX;
		json_t *reqs, *resp = NULL, *left;
		unsigned pause = 5;
		int rc;

		if (!lease_left(st)) {
			ddb_log(st, LOG_ERR,
				"the write lock's lease ran out during a commit (no "
				"renewal reached the server): leaving the rest to the next writer");
			return -ETIMEDOUT;
		}
		reqs = json_array();
		rc = reqs ? 0 : -ENOMEM;

		for (size_t i = 0; rc == 0 && i < k; i++) {
			struct ddb_rec *r = recs[at + i];
			json_t *item;

			if (r->gone)
				json_array_append_new(
				    reqs, json_pack("{s:{s:o}}", "DeleteRequest", "Key",
						    ddb_key_json(r->key, r->plen, r->key + r->plen,
								 r->slen)));
			else if ((rc = ddb_put_json(&item, r)) == 0)
				json_array_append_new(
				    reqs, json_pack("{s:{s:o}}", "PutRequest", "Item", item));
		}
		if (rc) {
			json_decref(reqs);
			return rc;
		}
		rc = ddb_request(st, "BatchWriteItem",
				 json_pack("{s:{s:o}}", "RequestItems", st->table, reqs), &resp);
		/* What the server did not get to comes back; send it again. */
		while (rc == 0 &&
		       (left = json_object_get(json_object_get(resp, "UnprocessedItems"),
					       st->table)) &&
		       json_array_size(left) > 0) {
			json_t *again = json_pack("{s:{s:O}}", "RequestItems", st->table, left);

			json_decref(resp);
			resp = NULL;
			usleep(pause * 1000u);
			pause = pause < 500 ? pause * 2 : 500;
			rc = ddb_request(st, "BatchWriteItem", again, &resp);
		}
		json_decref(resp);
		if (rc)
			return rc;
		at += k;
	}
	return 0;
}

/* The ops of a write set, serialised: u8 gone, u16 plen, u16 slen, u32 vlen, bytes. */
static size_t op_len(const struct ddb_rec *r)
{
	return 9u + r->plen + r->slen + r->vlen;
}

static unsigned char *op_put(unsigned char *b, const struct ddb_rec *r)
{
	*b++ = r->gone;
	*b++ = (unsigned char)(r->plen >> 8);
	*b++ = (unsigned char)r->plen;
	*b++ = (unsigned char)(r->slen >> 8);
	*b++ = (unsigned char)r->slen;
	for (int i = 3; i >= 0; i--)
		*b++ = (unsigned char)(r->vlen >> (8 * i));
	memcpy(b, r->key, r->plen + r->slen);
	b += r->plen + r->slen;
	if (r->vlen)
		memcpy(b, r->v, r->vlen);
	return b + r->vlen;
}

/* Parses ops in buf into map m (later ops win, as they were written). */
static int ops_parse(struct ddb_map *m, const unsigned char *b, size_t len)
{
	while (len > 0) {
		size_t plen, slen, vlen;
		int rc;

		if (len < 9)
			return -EIO;
		plen = (size_t)b[1] << 8 | b[2];
		slen = (size_t)b[3] << 8 | b[4];
		vlen = (size_t)b[5] << 24 | (size_t)b[6] << 16 | (size_t)b[7] << 8 | b[8];
		if (len < 9 + plen + slen + vlen)
			return -EIO;
		rc = ddb_map_set(m, b + 9, plen, b + 9 + plen, slen, b + 9 + plen + slen, vlen,
				 b[0] != 0);
		if (rc)
			return rc;
		b += 9 + plen + slen + vlen;
		len -= 9 + plen + slen + vlen;
	}
	return 0;
}

/* When a record is applied: items (0), then the change log (1), then m/seq (2). */
static int phase_of(const struct ddb_rec *r)
{
	return r->key[0] == DDB_P_LOG ? 1 : r->key[0] == DDB_P_META ? 2 : 0;
}

/* The records of map m as an array, in phase order. */
static struct ddb_rec **map_array(const struct ddb_map *m, size_t *n)
{
	struct ddb_rec **a = malloc((m->count ? m->count : 1) * sizeof(*a));
	size_t k = 0;

	if (!a)
		return NULL;
	for (int pass = 0; pass < 3; pass++)
		for (size_t i = 0; i < m->nslots; i++)
			for (struct ddb_rec *r = m->slots[i]; r; r = r->next)
				if (phase_of(r) == pass)
					a[k++] = r;
	*n = k;
	return a;
}

/*
 * Applies recs (in phase order) one phase after the other: a
 * BatchWriteItem has no order of its own, and another mount that sees the
 * commit counter move must find the log records, and they the items.
 */
static int apply_in_order(struct ddb_store *st, struct ddb_rec **recs, size_t n)
{
	int rc = 0;

	for (size_t at = 0, end; rc == 0 && at < n; at = end) {
		for (end = at + 1; end < n && phase_of(recs[end]) == phase_of(recs[at]); end++)
			;
		rc = apply_batch(st, recs + at, end - at);
	}
	return rc;
}

static const unsigned char INTENT_P[1] = {DDB_P_INTENT};

/*
 * Applies the write set m by intent: its ops are stored in parts under a
 * fresh id, the intent record naming them is written, the ops are applied
 * (items first, then the log and the commit counter, so another mount
 * learns of the commit only once it is all there), and the intent goes.
 */
static int apply_intent(struct ddb_store *st, const struct ddb_map *m)
{
	size_t n, parts = 0;
	struct ddb_rec **recs = map_array(m, &n);
	struct ddb_map ps = {0};
	uint64_t id = st->origin ^ now_ms(CLOCK_REALTIME) << 20 ^ (uint64_t)random();
	unsigned char *buf = NULL, ikey[12], ival[12];
	size_t used = 0;
	int rc = 0;

	if (!recs)
		return -ENOMEM;
	buf = malloc(INTENT_PART_MAX + 64u * 1024u + DDB_DATA_CHUNK);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	ddb_be64(ikey, id);
	for (size_t i = 0; rc == 0 && i <= n; i++) {
		if (i < n && (used == 0 || used + op_len(recs[i]) <= INTENT_PART_MAX)) {
			used = (size_t)(op_put(buf + used, recs[i]) - buf);
			continue;
		}
		if (used) { /* this part is full, or the last */
			ikey[8] = (unsigned char)(parts >> 24);
			ikey[9] = (unsigned char)(parts >> 16);
			ikey[10] = (unsigned char)(parts >> 8);
			ikey[11] = (unsigned char)parts;
			rc = ddb_map_set(&ps, INTENT_P, 1, ikey, 12, buf, used, false);
			parts++;
			used = 0;
		}
		if (i < n)
			i--; /* this op starts the next part */
	}
	if (rc)
		goto out;
	{
		size_t np;
		struct ddb_rec **pa = map_array(&ps, &np);

		rc = pa ? apply_batch(st, pa, np) : -ENOMEM;
		free(pa);
	}
	if (rc)
		goto out;
	ddb_be64(ival, id);
	ival[8] = (unsigned char)(parts >> 24);
	ival[9] = (unsigned char)(parts >> 16);
	ival[10] = (unsigned char)(parts >> 8);
	ival[11] = (unsigned char)parts;
	rc = ddb_request_noresp(st, "PutItem",
				json_pack("{s:s, s:{s:o, s:o, s:o}}", "TableName", st->table,
					  "Item", "p", ddb_bin(META_P, 1), "s",
					  ddb_bin("intent", 6), "v", ddb_bin(ival, 12)));
	/* From here the commit happens: a crash leaves it to the next writer. */
	if (rc == 0)
		rc = apply_in_order(st, recs, n);
	if (rc == 0)
		rc = ddb_request_noresp(st, "DeleteItem",
					json_pack("{s:s, s:o}", "TableName", st->table, "Key",
						  ddb_key_json(META_P, 1, "intent", 6)));
	if (rc == 0) {
		size_t np;
		struct ddb_rec **pa;

		for (size_t i = 0; i < ps.nslots; i++)
			for (struct ddb_rec *r = ps.slots[i]; r; r = r->next)
				r->gone = true;
		pa = map_array(&ps, &np);
		rc = pa ? apply_batch(st, pa, np) : -ENOMEM;
		free(pa);
	}
out:
	ddb_map_clear(&ps);
	free(buf);
	free(recs);
	return rc;
}

/* Rolls forward the intent a dead writer left, if any; under the lock. */
static int recover_intent(struct ddb_store *st)
{
	void *v = NULL;
	size_t vlen = 0, np;
	struct ddb_map m = {0};
	struct ddb_rec **recs;
	uint64_t id, parts;
	unsigned char ikey[12];
	int rc;

	rc = ddb_remote_get(st, META_P, 1, "intent", 6, true, &v, &vlen);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (vlen != 12) {
		free(v);
		ddb_log(st, LOG_ERR, "the intent record has %zu bytes, expected 12", vlen);
		return -EIO;
	}
	id = ddb_get_be64(v);
	parts = (uint64_t)((unsigned char *)v)[8] << 24 | (uint64_t)((unsigned char *)v)[9] << 16 |
		(uint64_t)((unsigned char *)v)[10] << 8 | ((unsigned char *)v)[11];
	free(v);
	ddb_log(st, LOG_NOTICE, "rolling forward the commit a dead mount left (%" PRIu64 " parts)",
		parts);
	ddb_be64(ikey, id);
	for (uint64_t i = 0; rc == 0 && i < parts; i++) {
		ikey[8] = (unsigned char)(i >> 24);
		ikey[9] = (unsigned char)(i >> 16);
		ikey[10] = (unsigned char)(i >> 8);
		ikey[11] = (unsigned char)i;
		rc = ddb_remote_get(st, INTENT_P, 1, ikey, 12, true, &v, &vlen);
		if (rc == 0)
			rc = ops_parse(&m, v, vlen);
		free(v);
		v = NULL;
	}
	recs = rc ? NULL : map_array(&m, &np);
	if (!rc && !recs)
		rc = -ENOMEM;
	if (!rc)
		rc = apply_in_order(st, recs, np);
	free(recs);
	ddb_map_clear(&m);
	if (!rc)
		rc = ddb_request_noresp(st, "DeleteItem",
					json_pack("{s:s, s:o}", "TableName", st->table, "Key",
						  ddb_key_json(META_P, 1, "intent", 6)));
	if (rc)
		ddb_log(st, LOG_ERR, "could not roll forward the leftover commit: %s",
			strerror(-rc));
	return rc;
}

/* The whole write set m in one TransactWriteItems, releasing the lock in it. */
static int apply_transact(struct ddb_store *st, const struct ddb_map *m)
{
	size_t n;
	struct ddb_rec **recs = map_array(m, &n);
	json_t *items = json_array(), *reasons = NULL, *resp = NULL, *req;
	char errtype[DDB_ERRTYPE_MAX], token[40];
	int rc = recs && items ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct ddb_rec *r = recs[i];
		json_t *item;

		if (r->gone)
			json_array_append_new(
			    items,
			    json_pack("{s:{s:s, s:o}}", "Delete", "TableName", st->table, "Key",
				      ddb_key_json(r->key, r->plen, r->key + r->plen, r->slen)));
		else if ((rc = ddb_put_json(&item, r)) == 0)
			json_array_append_new(items, json_pack("{s:{s:s, s:o}}", "Put", "TableName",
							       st->table, "Item", item));
	}
	if (rc == 0)
		json_array_append_new(
		    items, json_pack("{s:{s:s, s:o, s:s, s:{s:s}, s:{s:o}}}", "Delete", "TableName",
				     st->table, "Key", lock_key(), "ConditionExpression", "#o = :o",
				     "ExpressionAttributeNames", "#o", "o",
				     "ExpressionAttributeValues", ":o", ddb_num(st->origin)));
	free(recs);
	if (rc) {
		json_decref(items);
		return rc;
	}
	/* The same token on the client's retries: a transaction whose first
	 * answer was lost is not applied twice, nor refused (its lock is gone). */
	snprintf(token, sizeof(token), "%016" PRIx64 "-%016" PRIx64, st->origin,
		 atomic_fetch_add(&st->commits, 1));
	req = json_pack("{s:o, s:s}", "TransactItems", items, "ClientRequestToken", token);
	rc = req ? ddb_call_reasons(st->client, "TransactWriteItems", req, &resp, errtype, &reasons)
		 : -ENOMEM;
	if (rc == -ECANCELED) {
		ddb_log(st, LOG_ERR, "the commit was cancelled (%s): the write lock was lost",
			errtype);
		rc = -EIO;
	}
	json_decref(req);
	json_decref(resp);
	json_decref(reasons);
	return rc;
}

/* ---- begin, commit, abort ----------------------------------------------------------- */

static int seq_read(struct ddb_txn *t, uint64_t *seq, uint64_t *trimmed)
{
	const unsigned char *v;
	size_t vlen;
	int rc = ddb_rec_get(t, META_P, 1, "seq", 3, &v, &vlen);

	if (rc == 0 && vlen != 16) {
		ddb_log(ddb_txn_store(t), LOG_ERR, "the seq record has %zu bytes, expected 16",
			vlen);
		rc = -EIO;
	}
	if (rc == -ENOENT) {
		ddb_log(ddb_txn_store(t), LOG_ERR, "the store has no seq record");
		rc = -EIO;
	}
	if (rc == 0) {
		*seq = ddb_get_be64(v);
		*trimmed = ddb_get_be64(v + 8);
	}
	return rc;
}

/*
 * What every write transaction reads first, in one BatchGetItem under the
 * lock: the commit counter, the usage counters, and whether a commit was
 * left half applied (m/intent). A writer that died, or failed after
 * writing its intent (a lost answer, a network error), left one: it is
 * rolled forward now, before anything reads the store, and the counters
 * are read again after it.
 */
static int begin_reads(struct ddb_txn *t)
{
	static const struct ddb_key keys[] = {
	    {.p = META_P, .plen = 1, .s = "seq", .slen = 3},
	    {.p = META_P, .plen = 1, .s = "usage", .slen = 5},
	    {.p = META_P, .plen = 1, .s = "intent", .slen = 6},
	};
	const unsigned char *v;
	size_t vlen;
	int rc = ddb_rec_prefetch(t, keys, 3);

	if (rc == 0 && ddb_rec_get(t, META_P, 1, "intent", 6, &v, &vlen) == 0) {
		rc = recover_intent(ddb_txn_store(t));
		for (size_t i = 0; i < 3; i++)
			ddb_rec_forget(t, keys[i].p, keys[i].plen, keys[i].s, keys[i].slen);
	}
	return rc;
}

int ddb_txn_begin(struct store *s, unsigned flags, struct store_txn **out)
{
	struct ddb_store *st = ddb_store_of(s);
	struct ddb_txn *t;
	bool stolen = false;
	int rc;

	if ((flags & STORE_TXN_WRITE) && st->read_only)
		return -EROFS;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.st = s;
	t->root = t;
	t->write = flags & STORE_TXN_WRITE;
	t->strong = now_ms(CLOCK_MONOTONIC) < atomic_load(&st->strong_until_ms);
	if (t->write) {
		pthread_mutex_lock(&st->write_mu);
		rc = lock_take(st, &stolen);
		if (rc == 0 && stolen)
			ddb_log(st, LOG_NOTICE,
				"took over the write lock of a mount that stopped "
				"renewing it");
		if (rc == 0)
			rc = begin_reads(t);
		if (rc == 0) {
			t->lock_taken = true;
			rc = seq_read(t, &t->seq_base, &t->trimmed);
		}
		if (rc) {
			if (t->lock_taken)
				lock_release(st);
			pthread_mutex_unlock(&st->write_mu);
			ddb_map_clear(&t->reads);
			free(t);
			return rc;
		}
	}
	*out = &t->base;
	return 0;
}

int ddb_txn_begin_nested(struct store_txn *parent, struct store_txn **out)
{
	struct ddb_txn *p = ddb_txn_of(parent), *t;

	if (!p->root->write)
		return -EINVAL;
	if (p->root->err)
		return p->root->err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.st = parent->st;
	t->parent = p;
	t->root = p->root;
	t->write = true;
	t->changes_mark = p->root->nchanges;
	*out = &t->base;
	return 0;
}

static void txn_free(struct ddb_txn *t)
{
	ddb_map_clear(&t->writes);
	ddb_map_clear(&t->reads);
	free(t->changes);
	free(t);
}

/* Adds the root's change records, as log entries, and the new seq to its writes. */
static int log_records(struct ddb_txn *t)
{
	const unsigned char LOG_P[1] = {DDB_P_LOG};
	unsigned char key[8], seqv[16], *buf;
	size_t at = 0;
	int rc = 0;

	if (!t->nchanges)
		return 0;
	buf = malloc(LOG_ENTRY_MAX + 512);
	if (!buf)
		return -ENOMEM;
	while (rc == 0 && at < t->nchanges) {
		size_t k = 0, len = 0;

		for (; at + k < t->nchanges; k++) {
			size_t one = ddb_changes_encoded_len(&t->changes[at + k], 1);

			if (k > 0 && len + one > LOG_ENTRY_MAX)
				break;
			len += one;
		}
		len = ddb_changes_encode(&t->changes[at], k, ddb_txn_store(t)->origin, buf);
		ddb_be64(key, t->changes[at + k - 1].seq);
		rc = ddb_map_set(&t->writes, LOG_P, 1, key, 8, buf, len, false);
		at += k;
	}
	free(buf);
	if (rc)
		return rc;
	/*
	 * The log is not trimmed yet on this backend (docs/ddb-backend.md,
	 * "What this backend does not have"): trimmed stays what it was.
	 */
	ddb_be64(seqv, t->seq_base + t->nchanges);
	ddb_be64(seqv + 8, t->trimmed);
	return ddb_map_set(&t->writes, META_P, 1, "seq", 3, seqv, 16, false);
}

int ddb_txn_commit(struct store_txn *txn)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	struct ddb_store *st = ddb_txn_store(t);
	size_t bytes = 0;
	int rc;

	if (t->parent) { /* into the parent's overlay */
		struct ddb_txn *p = t->parent;

		rc = t->root->err;
		for (size_t i = 0; rc == 0 && i < t->writes.nslots; i++)
			for (struct ddb_rec *r = t->writes.slots[i]; rc == 0 && r; r = r->next)
				rc = ddb_map_set(&p->writes, r->key, r->plen, r->key + r->plen,
						 r->slen, r->v, r->vlen, r->gone);
		if (rc) {
			ddb_txn_break(t, rc);
			t->root->nchanges = t->changes_mark;
		}
		txn_free(t);
		return rc;
	}
	if (!t->write) {
		rc = t->err;
		txn_free(t);
		return rc;
	}
	rc = t->err;
	if (rc == 0)
		rc = log_records(t);
	for (size_t i = 0; rc == 0 && i < t->writes.nslots; i++)
		for (struct ddb_rec *r = t->writes.slots[i]; r; r = r->next)
			bytes += op_len(r) + 32;
	if (rc == 0 && t->writes.count == 0) {
		lock_release(st);
	} else if (rc == 0 && st->transact && t->writes.count + 1 <= TRANSACT_MAX_ACTIONS &&
		   bytes <= TRANSACT_MAX_BYTES) {
		rc = apply_transact(st, &t->writes);
		if (rc) { /* not applied, or not known: the lock goes either way */
			lock_release(st);
		} else {
			pthread_mutex_lock(&st->lock_mu);
			st->lock_held = false; /* the transaction deleted it */
			pthread_mutex_unlock(&st->lock_mu);
		}
	} else if (rc == 0) {
		/* If it fails once its intent is written, the next write
		 * transaction (begin_reads()) applies the rest. */
		rc = apply_intent(st, &t->writes);
		lock_release(st);
	} else {
		lock_release(st);
	}
	if (rc == 0 && t->writes.count) {
		ddb_gen_raise(st, t->seq_base + t->nchanges);
		atomic_store(&st->strong_until_ms, now_ms(CLOCK_MONOTONIC) + st->strong_ms);
	}
	pthread_mutex_unlock(&st->write_mu);
	txn_free(t);
	return rc;
}

void ddb_txn_abort(struct store_txn *txn)
{
	struct ddb_txn *t = ddb_txn_of(txn);
	struct ddb_store *st;

	if (!t)
		return;
	st = ddb_txn_store(t);
	if (t->parent) {
		t->root->nchanges = t->changes_mark;
		txn_free(t);
		return;
	}
	if (t->write) {
		lock_release(st);
		pthread_mutex_unlock(&st->write_mu);
	}
	txn_free(t);
}
