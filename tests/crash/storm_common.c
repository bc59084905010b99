/*
 * storm_common.c - the parts of the writer storm that its verifier shares:
 * names, the record format, the model of a worker's items and the spelling
 * of operations in the logs (see storm.h for all of them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "storm.h"

static const char *const kind_names[STORM_NKINDS] = {
    "create", "overwrite", "append", "rename", "exchange", "delete", "setxattr", "rmxattr",
};

const char *storm_kind_name(enum storm_kind k)
{
	return (unsigned)k < STORM_NKINDS ? kind_names[k] : "?";
}

int storm_kind_parse(const char *s, enum storm_kind *out)
{
	for (int k = 0; k < STORM_NKINDS; k++) {
		if (strcmp(s, kind_names[k]) == 0) {
			*out = (enum storm_kind)k;
			return 0;
		}
	}
	return -1;
}

uint64_t storm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void storm_table_path(char *buf, size_t n, int table)
{
	snprintf(buf, n, "t%d", table);
}

void storm_dir_path(char *buf, size_t n, int worker, int dir)
{
	snprintf(buf, n, "t%d/w%d%s", dir % STORM_TABLES, worker,
		 dir >= STORM_TABLES ? "/sub" : "");
}

void storm_slot_name(char *buf, size_t n, int worker, int slot)
{
	snprintf(buf, n, "w%d-%02d", worker, slot);
}

void storm_slot_path(char *buf, size_t n, int worker, int slot)
{
	char dir[64], name[32];

	storm_dir_path(dir, sizeof(dir), worker, slot % STORM_DIRS);
	storm_slot_name(name, sizeof(name), worker, slot);
	snprintf(buf, n, "%s/%s", dir, name);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The body of record (worker, obj, seq, len): n bytes into p. */
static void body_fill(unsigned char *p, size_t n, unsigned worker, uint32_t obj, uint32_t seq,
		      uint32_t len)
{
	uint64_t s = (uint64_t)worker << 56 ^ (uint64_t)obj << 32 ^ (uint64_t)seq << 8 ^
		     (uint64_t)len * 0x100000001b3ull;

	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = splitmix(&s);
		size_t k = n - i < 8 ? n - i : 8;
		for (size_t j = 0; j < k; j++)
			p[i + j] = (unsigned char)(r >> (8 * j));
	}
}

void storm_rec_build(unsigned char *buf, unsigned worker, uint32_t obj, uint32_t seq, uint32_t len)
{
	uint64_t h;

	put32(buf, STORM_MAGIC);
	put32(buf + 4, worker & 0xffffu);
	put32(buf + 8, obj);
	put32(buf + 12, seq);
	put32(buf + 16, len);
	body_fill(buf + STORM_REC_HDR, len - STORM_REC_MIN, worker, obj, seq, len);
	h = XXH3_64bits(buf, len - 8);
	put32(buf + len - 8, (uint32_t)h);
	put32(buf + len - 4, (uint32_t)(h >> 32));
}

int storm_rec_parse(const unsigned char *buf, size_t avail, unsigned *worker, uint32_t *obj,
		    uint32_t *seq, uint32_t *len, char *why, size_t n)
{
	unsigned char *expect;
	uint32_t l;
	int rc = -1;

	if (avail < STORM_REC_MIN) {
		snprintf(why, n, "%zu bytes left, less than a record header and checksum", avail);
		return -1;
	}
	if (get32(buf) != STORM_MAGIC || get32(buf + 4) > 0xffffu) {
		snprintf(why, n, "no record header (magic %08x)", get32(buf));
		return -1;
	}
	l = get32(buf + 16);
	if (l < STORM_REC_MIN || l > avail) {
		snprintf(why, n, "record length %u, but %zu bytes left (cut short?)", l, avail);
		return -1;
	}
	expect = malloc(l);
	if (!expect) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	storm_rec_build(expect, get32(buf + 4), get32(buf + 8), get32(buf + 12), l);
	if (get64(buf + l - 8) != XXH3_64bits(buf, l - 8)) {
		snprintf(why, n, "record checksum mismatch (w%u o%u s%u len %u)", get32(buf + 4),
			 get32(buf + 8), get32(buf + 12), l);
	} else if (memcmp(expect, buf, l) != 0) {
		snprintf(why, n, "record body is not the one its header names (w%u o%u s%u)",
			 get32(buf + 4), get32(buf + 8), get32(buf + 12));
	} else {
		*worker = get32(buf + 4);
		*obj = get32(buf + 8);
		*seq = get32(buf + 12);
		*len = l;
		rc = 0;
	}
	free(expect);
	return rc;
}

int storm_op_steps(enum storm_kind k)
{
	return k == STORM_CREATE ? 2 : 1;
}

static void item_free(struct storm_item *it)
{
	if (!it)
		return;
	free(it->seq);
	free(it->len);
	for (int k = 0; k < STORM_XATTRS; k++)
		free(it->x[k]);
	free(it);
}

void storm_model_free(struct storm_model *m)
{
	for (int s = 0; s < STORM_MAX_SLOTS; s++) {
		item_free(m->items[s]);
		m->items[s] = NULL;
	}
}

/* Sets it's records to [(seq, len)] (append: adds it). -2 when out of memory. */
static int item_add_rec(struct storm_item *it, uint32_t seq, uint32_t len, int append)
{
	if (!append) {
		it->nrec = 0;
		it->size = 0;
	}
	if (it->nrec == it->cap) {
		uint32_t cap = it->cap ? it->cap * 2 : 4;
		uint32_t *s = realloc(it->seq, cap * sizeof(*s));
		if (!s)
			return -2;
		it->seq = s;
		s = realloc(it->len, cap * sizeof(*s));
		if (!s)
			return -2;
		it->len = s;
		it->cap = cap;
	}
	it->seq[it->nrec] = seq;
	it->len[it->nrec] = len;
	it->nrec++;
	it->size += len;
	return 0;
}

static int slot_ok(const struct storm_model *m, int s)
{
	return s >= 0 && s < m->nslots;
}

int storm_model_apply(struct storm_model *m, const struct storm_op *op, int step, int changed[2])
{
	struct storm_item *a = slot_ok(m, op->a) ? m->items[op->a] : NULL, *t;
	int b = op->b;

	if (!slot_ok(m, op->a))
		return -1;
	changed[0] = op->a;
	switch (op->kind) {
	case STORM_CREATE:
		if (step == 0) {
			if (a)
				return -1;
			a = calloc(1, sizeof(*a));
			if (!a)
				return -2;
			a->obj = op->obj;
			m->items[op->a] = a;
			return 1;
		}
		if (!a || a->obj != op->obj)
			return -1;
		return item_add_rec(a, op->opno, op->len, 0) ? -2 : 1;
	case STORM_OVERWRITE:
	case STORM_APPEND:
		if (!a)
			return -1;
		return item_add_rec(a, op->opno, op->len, op->kind == STORM_APPEND) ? -2 : 1;
	case STORM_RENAME:
		if (!a || !slot_ok(m, b) || b == op->a)
			return -1;
		item_free(m->items[b]);
		m->items[b] = a;
		m->items[op->a] = NULL;
		changed[1] = b;
		return 2;
	case STORM_EXCHANGE:
		if (!a || !slot_ok(m, b) || b == op->a || !m->items[b])
			return -1;
		t = m->items[b];
		m->items[b] = a;
		m->items[op->a] = t;
		changed[1] = b;
		return 2;
	case STORM_DELETE:
		if (!a)
			return -1;
		item_free(a);
		m->items[op->a] = NULL;
		return 1;
	case STORM_SETXATTR:
	case STORM_RMXATTR:
		if (!a || op->k < 0 || op->k >= STORM_XATTRS)
			return -1;
		free(a->x[op->k]);
		a->x[op->k] = NULL;
		if (op->kind == STORM_SETXATTR && !(a->x[op->k] = strdup(op->val)))
			return -2;
		return 1;
	default:
		return -1;
	}
}

void storm_model_desc(const struct storm_model *m, int slot, char *buf, size_t n)
{
	const struct storm_item *it = m->items[slot];
	size_t o = 0;

	if (!it) {
		snprintf(buf, n, "absent");
		return;
	}
	if (it->nrec == 0)
		o += (size_t)snprintf(buf, n, "-");
	else
		o += (size_t)snprintf(buf, n, "o%u:", it->obj);
	for (uint32_t r = 0; r < it->nrec && o < n; r++)
		o += (size_t)snprintf(buf + o, n - o, "%s%u/%u", r ? "+" : "", it->seq[r],
				      it->len[r]);
	for (int k = 0; k < STORM_XATTRS && o < n; k++)
		if (it->x[k])
			o += (size_t)snprintf(buf + o, n - o, ";k%d=%s", k, it->x[k]);
}

void storm_op_format(const struct storm_op *op, char *buf, size_t n)
{
	const char *kn = storm_kind_name(op->kind);

	switch (op->kind) {
	case STORM_CREATE:
		snprintf(buf, n, "%s %d %u %u", kn, op->a, op->obj, op->len);
		break;
	case STORM_OVERWRITE:
	case STORM_APPEND:
		snprintf(buf, n, "%s %d %u", kn, op->a, op->len);
		break;
	case STORM_RENAME:
	case STORM_EXCHANGE:
		snprintf(buf, n, "%s %d %d", kn, op->a, op->b);
		break;
	case STORM_SETXATTR:
		snprintf(buf, n, "%s %d %d %s", kn, op->a, op->k, op->val);
		break;
	case STORM_RMXATTR:
		snprintf(buf, n, "%s %d %d", kn, op->a, op->k);
		break;
	default:
		snprintf(buf, n, "%s %d", kn, op->a);
		break;
	}
}

int storm_op_parse(const char *s, struct storm_op *op)
{
	char kind[16];
	int used = 0;

	if (sscanf(s, "%15s %d%n", kind, &op->a, &used) != 2 || storm_kind_parse(kind, &op->kind))
		return -1;
	s += used;
	op->b = -1;
	switch (op->kind) {
	case STORM_CREATE:
		return sscanf(s, "%u %u", &op->obj, &op->len) == 2 ? 0 : -1;
	case STORM_OVERWRITE:
	case STORM_APPEND:
		return sscanf(s, "%u", &op->len) == 1 ? 0 : -1;
	case STORM_RENAME:
	case STORM_EXCHANGE:
		return sscanf(s, "%d", &op->b) == 1 ? 0 : -1;
	case STORM_SETXATTR:
		return sscanf(s, "%d %120s", &op->k, op->val) == 2 ? 0 : -1;
	case STORM_RMXATTR:
		return sscanf(s, "%d", &op->k) == 1 ? 0 : -1;
	default:
		return 0;
	}
}
