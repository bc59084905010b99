/*
 * ddb_kv.c - the DynamoDB-API backend's records, as a transaction sees
 * them.
 *
 * A store is one DynamoDB table with a binary hash key p and a binary
 * range key s; every record is (p, s) -> v (binary). A transaction reads
 * through its overlay (its own writes, its parents', what its root read
 * before) and writes only to the overlay; nothing reaches the server
 * before the root's commit, which sends the whole write set at once
 * (ddb_commit.c, with the write lock). Here: the overlay's maps, the
 * requests that read records, ranges in key order, and the change log
 * records a transaction collects.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "ddb_i.h"

#define MAP_INIT 64u

/* ---- maps --------------------------------------------------------------- */

static uint64_t key_hash(const void *p, size_t plen, const void *s, size_t slen)
{
	XXH3_state_t st;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, p, plen);
	XXH3_64bits_update(&st, "\0", 1); /* p and s apart: ("ab","c") is not ("a","bc") */
	XXH3_64bits_update(&st, s, slen);
	return XXH3_64bits_digest(&st);
}

static struct ddb_rec *map_find(const struct ddb_map *m, const void *p, size_t plen, const void *s,
				size_t slen, uint64_t h)
{
	if (!m->nslots)
		return NULL;
	for (struct ddb_rec *r = m->slots[h & (m->nslots - 1)]; r; r = r->next)
		if (r->hash == h && r->plen == plen && r->slen == slen &&
		    memcmp(r->key, p, plen) == 0 && memcmp(r->key + plen, s, slen) == 0)
			return r;
	return NULL;
}

static int map_grow(struct ddb_map *m)
{
	size_t n = m->nslots ? m->nslots * 2 : MAP_INIT;
	struct ddb_rec **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->nslots; i++)
		for (struct ddb_rec *r = m->slots[i], *next; r; r = next) {
			next = r->next;
			r->next = slots[r->hash & (n - 1)];
			slots[r->hash & (n - 1)] = r;
		}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
	return 0;
}

/* Sets (p, s) to v (copied), or to gone when v is NULL and gone is true. */
int ddb_map_set(struct ddb_map *m, const void *p, size_t plen, const void *s, size_t slen,
		const void *v, size_t vlen, bool gone)
{
	uint64_t h = key_hash(p, plen, s, slen);
	struct ddb_rec *r = map_find(m, p, plen, s, slen, h);
	unsigned char *copy = NULL;

	if (!gone && vlen) {
		copy = malloc(vlen);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, v, vlen);
	}
	if (!r) {
		if (m->count >= m->nslots && map_grow(m)) {
			free(copy);
			return -ENOMEM;
		}
		r = calloc(1, sizeof(*r) + plen + slen);
		if (!r) {
			free(copy);
			return -ENOMEM;
		}
		r->hash = h;
		r->plen = (uint16_t)plen;
		r->slen = (uint16_t)slen;
		memcpy(r->key, p, plen);
		memcpy(r->key + plen, s, slen);
		r->next = m->slots[h & (m->nslots - 1)];
		m->slots[h & (m->nslots - 1)] = r;
		m->count++;
	}
	free(r->v);
	r->v = copy;
	r->vlen = gone ? 0 : vlen;
	r->gone = gone;
	return 0;
}

/* Drops (p, s) from m, if there. */
static void map_del(struct ddb_map *m, const void *p, size_t plen, const void *s, size_t slen)
{
	uint64_t h = key_hash(p, plen, s, slen);
	struct ddb_rec **at;

	if (!m->nslots)
		return;
	for (at = &m->slots[h & (m->nslots - 1)]; *at; at = &(*at)->next) {
		struct ddb_rec *r = *at;

		if (r->hash == h && r->plen == plen && r->slen == slen &&
		    memcmp(r->key, p, plen) == 0 && memcmp(r->key + plen, s, slen) == 0) {
			*at = r->next;
			free(r->v);
			free(r);
			m->count--;
			return;
		}
	}
}

void ddb_map_clear(struct ddb_map *m)
{
	for (size_t i = 0; i < m->nslots; i++)
		for (struct ddb_rec *r = m->slots[i], *next; r; r = next) {
			next = r->next;
			free(r->v);
			free(r);
		}
	free(m->slots);
	*m = (struct ddb_map){0};
}

/* ---- requests ------------------------------------------------------------ */

json_t *ddb_key_json(const void *p, size_t plen, const void *s, size_t slen)
{
	return json_pack("{s:o, s:o}", "p", ddb_bin(p, plen), "s", ddb_bin(s, slen));
}

int ddb_request(struct ddb_store *st, const char *op, json_t *req, json_t **resp)
{
	json_t *r = NULL;
	int rc;

	if (!req)
		return -ENOMEM;
	rc = ddb_call(st->client, op, req, resp ? resp : &r, NULL);
	json_decref(req);
	json_decref(r);
	return rc;
}

/* A call whose answer is only its status. */
int ddb_request_noresp(struct ddb_store *st, const char *op, json_t *req)
{
	return ddb_request(st, op, req, NULL);
}

/* GetItem of (p, s): 0 with *v malloc'd, or -ENOENT. */
int ddb_remote_get(struct ddb_store *st, const void *p, size_t plen, const void *s, size_t slen,
		   bool strong, void **v, size_t *vlen)
{
	json_t *resp = NULL, *item;
	int rc;

	rc = ddb_request(st, "GetItem",
			 json_pack("{s:s, s:o, s:b}", "TableName", st->table, "Key",
				   ddb_key_json(p, plen, s, slen), "ConsistentRead", strong),
			 &resp);
	if (rc)
		return rc;
	item = json_object_get(resp, "Item");
	if (!item) {
		rc = -ENOENT;
	} else {
		rc = ddb_get_bin(item, "v", v, vlen);
		if (rc == -ENOENT) { /* a record with no value: empty */
			*v = NULL;
			*vlen = 0;
			rc = 0;
		}
	}
	json_decref(resp);
	return rc;
}

int ddb_put_json(json_t **out, const struct ddb_rec *r)
{
	json_t *item = ddb_key_json(r->key, r->plen, r->key + r->plen, r->slen);

	if (item && r->vlen)
		json_object_set_new(item, "v", ddb_bin(r->v, r->vlen));
	*out = item;
	return item ? 0 : -ENOMEM;
}

/* ---- transactions ---------------------------------------------------------- */

int ddb_txn_break(struct ddb_txn *t, int rc)
{
	if (rc && rc != -ENOENT && !t->root->err)
		t->root->err = rc;
	return rc;
}

static bool reads_strong(struct ddb_txn *t)
{
	return t->root->write || t->root->strong;
}

int ddb_rec_get(struct ddb_txn *t, const void *p, size_t plen, const void *s, size_t slen,
		const unsigned char **v, size_t *vlen)
{
	struct ddb_store *st = ddb_txn_store(t);
	uint64_t h = key_hash(p, plen, s, slen);
	struct ddb_rec *r;
	void *got = NULL;
	size_t gotlen = 0;
	int rc;

	if (t->root->err)
		return t->root->err;
	for (struct ddb_txn *x = t; x; x = x->parent) {
		r = map_find(&x->writes, p, plen, s, slen, h);
		if (r)
			goto found;
	}
	r = map_find(&t->root->reads, p, plen, s, slen, h);
	if (r)
		goto found;
	rc = ddb_remote_get(st, p, plen, s, slen, reads_strong(t), &got, &gotlen);
	if (rc && rc != -ENOENT)
		return ddb_txn_break(t, rc);
	rc = ddb_map_set(&t->root->reads, p, plen, s, slen, got, gotlen, rc == -ENOENT);
	free(got);
	if (rc)
		return ddb_txn_break(t, rc);
	r = map_find(&t->root->reads, p, plen, s, slen, h);
found:
	if (r->gone)
		return -ENOENT;
	*v = r->v ? r->v : (const unsigned char *)"";
	*vlen = r->vlen;
	return 0;
}

#define BATCH_GET_MAX 100u /* keys in one BatchGetItem (DynamoDB's limit) */

/* Whether some level of t's chain, or its root's reads, has (p, s). */
static bool rec_known(struct ddb_txn *t, const void *p, size_t plen, const void *s, size_t slen)
{
	uint64_t h = key_hash(p, plen, s, slen);

	for (struct ddb_txn *x = t; x; x = x->parent)
		if (map_find(&x->writes, p, plen, s, slen, h))
			return true;
	return map_find(&t->root->reads, p, plen, s, slen, h) != NULL;
}

/* One BatchGetItem of up to BATCH_GET_MAX keys in want, into the root's reads. */
static int prefetch_batch(struct ddb_txn *t, json_t *want)
{
	struct ddb_store *st = ddb_txn_store(t);
	json_t *keys = json_incref(want);
	unsigned pause = 5;
	int rc = 0;

	while (rc == 0 && json_array_size(keys) > 0) {
		json_t *resp = NULL, *items, *left;
		size_t i;
		json_t *it;

		rc = ddb_request(st, "BatchGetItem",
				 json_pack("{s:{s:{s:O, s:b}}}", "RequestItems", st->table, "Keys",
					   keys, "ConsistentRead", reads_strong(t)),
				 &resp);
		if (rc)
			break;
		items = json_object_get(json_object_get(resp, "Responses"), st->table);
		json_array_foreach(items, i, it)
		{
			void *p = NULL, *s = NULL, *v = NULL;
			size_t plen = 0, slen = 0, vlen = 0;

			rc = ddb_get_bin(it, "p", &p, &plen);
			if (rc == 0)
				rc = ddb_get_bin(it, "s", &s, &slen);
			if (rc == 0) {
				rc = ddb_get_bin(it, "v", &v, &vlen);
				if (rc == -ENOENT)
					rc = 0;
			}
			if (rc == 0 && !rec_known(t, p, plen, s, slen))
				rc = ddb_map_set(&t->root->reads, p, plen, s, slen, v, vlen, false);
			free(p);
			free(s);
			free(v);
			if (rc)
				break;
		}
		/* What the server did not get to comes back: ask again. */
		left = json_object_get(
		    json_object_get(json_object_get(resp, "UnprocessedKeys"), st->table), "Keys");
		json_decref(keys);
		keys = json_incref(left);
		json_decref(resp);
		if (json_array_size(keys) > 0) {
			usleep(pause * 1000u);
			pause = pause < 500 ? pause * 2 : 500;
		}
	}
	json_decref(keys);
	return rc;
}

int ddb_rec_prefetch(struct ddb_txn *t, const struct ddb_key *keys, size_t n)
{
	size_t at = 0;
	int rc = t->root->err;

	while (rc == 0 && at < n) {
		json_t *want = json_array();
		size_t first = at;

		if (!want)
			return -ENOMEM;
		for (; at < n && json_array_size(want) < BATCH_GET_MAX; at++) {
			const struct ddb_key *k = &keys[at];

			if (!rec_known(t, k->p, k->plen, k->s, k->slen))
				json_array_append_new(want,
						      ddb_key_json(k->p, k->plen, k->s, k->slen));
		}
		if (json_array_size(want) > 0)
			rc = prefetch_batch(t, want);
		json_decref(want);
		/* Asked and not answered: absent (a get would say -ENOENT). */
		for (size_t i = first; rc == 0 && i < at; i++) {
			const struct ddb_key *k = &keys[i];

			if (!rec_known(t, k->p, k->plen, k->s, k->slen))
				rc = ddb_map_set(&t->root->reads, k->p, k->plen, k->s, k->slen,
						 NULL, 0, true);
		}
	}
	return rc;
}

void ddb_rec_forget(struct ddb_txn *t, const void *p, size_t plen, const void *s, size_t slen)
{
	map_del(&t->root->reads, p, plen, s, slen);
}

int ddb_rec_put(struct ddb_txn *t, const void *p, size_t plen, const void *s, size_t slen,
		const void *v, size_t vlen)
{
	if (!t->root->write)
		return -EROFS;
	if (t->root->err)
		return t->root->err;
	return ddb_txn_break(t, ddb_map_set(&t->writes, p, plen, s, slen, v, vlen, false));
}

int ddb_rec_del(struct ddb_txn *t, const void *p, size_t plen, const void *s, size_t slen)
{
	if (!t->root->write)
		return -EROFS;
	if (t->root->err)
		return t->root->err;
	return ddb_txn_break(t, ddb_map_set(&t->writes, p, plen, s, slen, NULL, 0, true));
}

/* A record of a range, collected before the overlay is laid over it. */
struct range_ent {
	unsigned char *s;
	size_t slen;
	const unsigned char *v;
	size_t vlen;
	bool gone;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct range_ent *x = a, *y = b;
	size_t n = x->slen < y->slen ? x->slen : y->slen;
	int c = memcmp(x->s, y->s, n);

	return c ? c : (x->slen > y->slen) - (x->slen < y->slen);
}

static bool in_range(const unsigned char *s, size_t slen, const void *prefix, size_t prefixlen,
		     const void *after, size_t afterlen)
{
	if (slen < prefixlen || (prefixlen && memcmp(s, prefix, prefixlen) != 0))
		return false;
	if (after) {
		size_t n = slen < afterlen ? slen : afterlen;
		int c = memcmp(s, after, n);

		if (c < 0 || (c == 0 && slen <= afterlen))
			return false;
	}
	return true;
}

int ddb_rec_range(struct ddb_txn *t, const void *p, size_t plen, const void *prefix,
		  size_t prefixlen, const void *after, size_t afterlen, size_t limit,
		  ddb_range_fn fn, void *arg)
{
	struct ddb_store *st = ddb_txn_store(t);
	struct ddb_map merged = {0};
	struct range_ent *ents = NULL;
	json_t *start = NULL;
	size_t n = 0, want = 0, got = 0;
	int rc = t->root->err;

	if (rc)
		return rc;
	/*
	 * With a limit, the server need send no more than the limit plus what
	 * the overlay deletes in the range (each could hide one of its records).
	 */
	if (limit) {
		want = limit;
		for (struct ddb_txn *x = t; x; x = x->parent)
			for (size_t i = 0; i < x->writes.nslots; i++)
				for (struct ddb_rec *r = x->writes.slots[i]; r; r = r->next)
					if (r->gone && r->plen == plen &&
					    memcmp(r->key, p, plen) == 0 &&
					    in_range(r->key + plen, r->slen, prefix, prefixlen,
						     after, afterlen))
						want++;
	}
	/* What DynamoDB holds, page by page. */
	do {
		json_t *req, *resp = NULL, *items;
		/* One condition on s at most: after, else the prefix (never
		 * read a data part to list xattrs). */
		bool pre = !after && prefixlen;
		const char *cond = after ? "#p = :p AND #s > :a"
				   : pre ? "#p = :p AND begins_with(#s, :b)"
					 : "#p = :p";

		req = json_pack("{s:s, s:s, s:{s:s}, s:{s:o}, s:b}", "TableName", st->table,
				"KeyConditionExpression", cond, "ExpressionAttributeNames", "#p",
				"p", "ExpressionAttributeValues", ":p", ddb_bin(p, plen),
				"ConsistentRead", reads_strong(t));
		/* DynamoDB refuses a name or value the expression does not use. */
		if (req && (after || pre)) {
			json_object_set_new(json_object_get(req, "ExpressionAttributeNames"), "#s",
					    json_string("s"));
			json_object_set_new(
			    json_object_get(req, "ExpressionAttributeValues"), after ? ":a" : ":b",
			    after ? ddb_bin(after, afterlen) : ddb_bin(prefix, prefixlen));
		}
		if (req && want)
			json_object_set_new(req, "Limit", json_integer((json_int_t)(want - got)));
		if (req && start)
			json_object_set_new(req, "ExclusiveStartKey", start);
		start = NULL;
		rc = ddb_request(st, "Query", req, &resp);
		if (rc)
			break;
		items = json_object_get(resp, "Items");
		for (size_t i = 0; rc == 0 && i < json_array_size(items); i++) {
			json_t *it = json_array_get(items, i);
			void *s = NULL, *v = NULL;
			size_t slen = 0, vlen = 0;

			rc = ddb_get_bin(it, "s", &s, &slen);
			if (rc == 0) {
				rc = ddb_get_bin(it, "v", &v, &vlen);
				if (rc == -ENOENT)
					rc = 0;
			}
			if (rc == 0 && in_range(s, slen, prefix, prefixlen, after, afterlen)) {
				rc = ddb_map_set(&merged, p, plen, s, slen, v, vlen, false);
				got++;
			}
			free(s);
			free(v);
		}
		start = json_incref(json_object_get(resp, "LastEvaluatedKey"));
		json_decref(resp);
	} while (rc == 0 && start && (!want || got < want));
	json_decref(start);
	if (rc) {
		ddb_txn_break(t, rc);
		goto out;
	}
	/* The overlay over it, the root's first so that the innermost wins. */
	{
		struct ddb_txn *chain[64];
		size_t depth = 0;

		for (struct ddb_txn *x = t; x && depth < 64; x = x->parent)
			chain[depth++] = x;
		while (rc == 0 && depth--) {
			struct ddb_map *w = &chain[depth]->writes;

			for (size_t i = 0; rc == 0 && i < w->nslots; i++)
				for (struct ddb_rec *r = w->slots[i]; rc == 0 && r; r = r->next)
					if (r->plen == plen && memcmp(r->key, p, plen) == 0 &&
					    in_range(r->key + plen, r->slen, prefix, prefixlen,
						     after, afterlen))
						rc = ddb_map_set(&merged, p, plen, r->key + plen,
								 r->slen, r->v, r->vlen, r->gone);
		}
	}
	if (rc)
		goto out;
	ents = calloc(merged.count ? merged.count : 1, sizeof(*ents));
	if (!ents) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < merged.nslots; i++)
		for (struct ddb_rec *r = merged.slots[i]; r; r = r->next)
			if (!r->gone)
				ents[n++] = (struct range_ent){
				    r->key + plen, r->slen, r->v ? r->v : (const unsigned char *)"",
				    r->vlen, false};
	qsort(ents, n, sizeof(*ents), ent_cmp);
	for (size_t i = 0; rc == 0 && i < n && (!limit || i < limit); i++)
		rc = fn(arg, ents[i].s, ents[i].slen, ents[i].v, ents[i].vlen);
out:
	free(ents);
	ddb_map_clear(&merged);
	return rc;
}

int ddb_change_add(struct ddb_txn *t, uint8_t kind, uint64_t ino, uint64_t parent, const char *name,
		   size_t len)
{
	struct ddb_txn *root = t->root;
	struct ddb_change *c;

	if (root->err)
		return root->err;
	if (root->nchanges > 0) { /* the one just before, again: coalesced */
		c = &root->changes[root->nchanges - 1];
		if (root->nchanges > t->changes_mark && c->kind == kind && c->ino == ino &&
		    c->parent == parent && c->namelen == len && memcmp(c->name, name, len) == 0)
			return 0;
	}
	if (root->nchanges == root->cap_changes) {
		size_t cap = root->cap_changes ? root->cap_changes * 2 : 16;
		struct ddb_change *n = realloc(root->changes, cap * sizeof(*n));

		if (!n)
			return ddb_txn_break(t, -ENOMEM);
		root->changes = n;
		root->cap_changes = cap;
	}
	c = &root->changes[root->nchanges];
	*c = (struct ddb_change){
	    .seq = root->seq_base + root->nchanges + 1,
	    .ino = ino,
	    .parent = parent,
	    .kind = kind,
	    .namelen = (uint8_t)len,
	};
	if (len)
		memcpy(c->name, name, len);
	root->nchanges++;
	return 0;
}
