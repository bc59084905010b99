/*
 * test_cache.c - unit tests of the read cache (cache/): hits and misses of
 * each kind, key isolation, the byte budget under churn, CLOCK eviction
 * order, pins, every invalidation scope, argument checks, size parsing, and
 * several threads at once.
 *
 * Payloads are derived from their key, stamp and length (fill()), so any
 * entry served for the wrong key, or freed too early, fails its check.
 * cache_check() (cache_i.h) recounts the cache from its entries, to hold
 * the counters to what is really there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "cache_i.h"
#include "test_rand.h"

#define PAGE CACHE_PAGE_SIZE
#define COST_PAGE cache_entry_cost(PAGE, 0)

/* ---- payloads derived from keys ---- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The seed of an entry's bytes: its key, stamp and length. */
static uint64_t seed_of(int kind, uint64_t ino, uint64_t version, uint32_t index, uint64_t stamp,
			size_t len)
{
	uint64_t h = mix64((uint64_t)kind);

	h = mix64(h ^ ino);
	h = mix64(h ^ version);
	h = mix64(h ^ index);
	h = mix64(h ^ stamp);
	return mix64(h ^ len);
}

static void fill(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			x = mix64(x + i);
		buf[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

static bool matches(const void *data, size_t len, uint64_t seed)
{
	unsigned char buf[16384];

	if (len > sizeof(buf))
		return false;
	fill(buf, len, seed);
	return memcmp(buf, data, len) == 0;
}

static void page_bytes(unsigned char *buf, uint64_t ino, uint64_t version, uint32_t index)
{
	fill(buf, PAGE, seed_of(CACHE_KIND_PAGE, ino, version, index, 0, PAGE));
}

/* Insert the full page (ino, version, index) with stamp 0; assert success. */
static void put_page(struct cache *c, uint64_t ino, uint64_t version, uint32_t index)
{
	unsigned char buf[PAGE];

	page_bytes(buf, ino, version, index);
	assert_int_equal(cache_insert_page(c, ino, version, index, buf, PAGE, 0, NULL), 0);
}

static bool has_page(struct cache *c, uint64_t ino, uint64_t version, uint32_t index)
{
	struct cache_ref *ref;
	unsigned char buf[PAGE];
	bool same;

	if (cache_get_page(c, ino, version, index, &ref) != 0)
		return false;
	page_bytes(buf, ino, version, index);
	same = cache_ref_len(ref) == PAGE && memcmp(cache_ref_data(ref), buf, PAGE) == 0;
	cache_put(c, ref);
	assert_true(same);
	return true;
}

/* The counters agree with a recount of the entries, and the budget holds. */
static void assert_consistent(struct cache *c)
{
	struct cache_stats st, rc;
	int k;

	cache_stats(c, &st);
	assert_int_equal(cache_check(c, &rc, NULL), 0);
	assert_true(st.bytes <= st.budget);
	assert_int_equal(st.bytes, rc.bytes);
	assert_int_equal(st.entries, rc.entries);
	assert_int_equal(st.zombies, rc.zombies);
	for (k = 0; k < CACHE_KIND_COUNT; k++) {
		assert_int_equal(st.kind[k].bytes, rc.kind[k].bytes);
		assert_int_equal(st.kind[k].entries, rc.kind[k].entries);
	}
}

/* ---- fixtures ---- */

static int setup_with(void **state, size_t budget, unsigned shards)
{
	struct cache_config cfg = {.budget = budget, .shards = shards};
	struct cache *c = NULL;

	if (cache_new(&cfg, &c) != 0)
		return -1;
	*state = c;
	return 0;
}

/* 1 MiB over 4 shards: room for everything a functional test inserts. */
static int setup_roomy(void **state)
{
	return setup_with(state, 1 << 20, 4);
}

/* One shard (exact CLOCK), room for exactly four full pages. */
static int setup_four_pages(void **state)
{
	return setup_with(state, 4 * COST_PAGE, 1);
}

/* Four shards sharing room for exactly four full pages. */
static int setup_four_pages_sharded(void **state)
{
	return setup_with(state, 4 * COST_PAGE, 4);
}

/* One shard, room for exactly two full pages. */
static int setup_two_pages(void **state)
{
	return setup_with(state, 2 * COST_PAGE, 1);
}

static int setup_churn_1(void **state)
{
	return setup_with(state, 96 << 10, 1);
}

static int setup_churn_8(void **state)
{
	return setup_with(state, 96 << 10, 8);
}

/*
 * Check the cache and free it. A test that failed half-way may have left
 * pins: then the cache is leaked rather than freed under them (which
 * cache_free() asserts against), so cmocka reports the failure it saw.
 */
static int teardown(void **state)
{
	struct cache *c = *state;
	struct cache_stats rc;
	size_t pinned;
	int err = cache_check(c, &rc, &pinned);

	if (pinned)
		return -1;
	cache_free(c);
	return err;
}

/* ---- hits and misses of each kind ---- */

static void test_page_hit_miss(void **state)
{
	struct cache *c = *state;
	struct cache_ref *ref = (struct cache_ref *)state; /* a sentinel */
	unsigned char buf[PAGE];
	struct cache_stats st;

	assert_int_equal(cache_get_page(c, 10, 1, 0, &ref), -ENOENT);
	assert_ptr_equal(ref, (struct cache_ref *)state);
	fill(buf, 100, 7);
	assert_int_equal(cache_insert_page(c, 10, 1, 0, buf, 100, 1234, NULL), 0);
	assert_int_equal(cache_get_page(c, 10, 1, 0, &ref), 0);
	assert_int_equal(cache_ref_len(ref), 100);
	assert_memory_equal(cache_ref_data(ref), buf, 100);
	assert_int_equal(cache_ref_stamp(ref), 1234);
	cache_put(c, ref);

	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].hits, 1);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].misses, 1);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].insertions, 1);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].entries, 1);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].bytes, cache_entry_cost(100, 0));
	assert_int_equal(st.bytes, cache_entry_cost(100, 0));
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].hits + st.kind[CACHE_KIND_ATTR].misses, 0);
	assert_consistent(c);
}

static void test_attr_hit_miss(void **state)
{
	struct cache *c = *state;
	struct cache_ref *ref;
	unsigned char attr[128];
	struct cache_stats st;

	fill(attr, sizeof(attr), 3);
	assert_int_equal(cache_get_attr(c, 42, &ref), -ENOENT);
	assert_int_equal(cache_insert_attr(c, 42, attr, sizeof(attr), 5, NULL), 0);
	assert_int_equal(cache_get_attr(c, 43, &ref), -ENOENT);
	assert_int_equal(cache_get_attr(c, 42, &ref), 0);
	assert_int_equal(cache_ref_len(ref), sizeof(attr));
	assert_memory_equal(cache_ref_data(ref), attr, sizeof(attr));
	assert_int_equal(cache_ref_stamp(ref), 5);
	cache_put(c, ref);

	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].hits, 1);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].misses, 2);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].insertions, 1);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].bytes, cache_entry_cost(sizeof(attr), 0));
	assert_int_equal(st.kind[CACHE_KIND_PAGE].misses, 0);
}

static void test_listing_hit_miss(void **state)
{
	struct cache *c = *state;
	struct cache_ref *ref;
	static unsigned char listing[10000];
	struct cache_stats st;

	fill(listing, sizeof(listing), 11);
	assert_int_equal(cache_get_listing(c, 1, &ref), -ENOENT);
	assert_int_equal(cache_insert_listing(c, 1, listing, sizeof(listing), 9, NULL), 0);
	assert_int_equal(cache_insert_listing(c, 2, NULL, 0, 9, NULL), 0); /* empty dir */
	assert_int_equal(cache_get_listing(c, 1, &ref), 0);
	assert_int_equal(cache_ref_len(ref), sizeof(listing));
	assert_memory_equal(cache_ref_data(ref), listing, sizeof(listing));
	cache_put(c, ref);
	assert_int_equal(cache_get_listing(c, 2, &ref), 0);
	assert_int_equal(cache_ref_len(ref), 0);
	assert_non_null(cache_ref_data(ref));
	cache_put(c, ref);

	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_LISTING].hits, 2);
	assert_int_equal(st.kind[CACHE_KIND_LISTING].misses, 1);
	assert_int_equal(st.kind[CACHE_KIND_LISTING].entries, 2);
	assert_int_equal(st.kind[CACHE_KIND_LISTING].bytes,
			 cache_entry_cost(sizeof(listing), 0) + cache_entry_cost(0, 0));
}

static void test_negative_hit_miss(void **state)
{
	struct cache *c = *state;
	struct cache_ref *ref;
	struct cache_stats st;

	assert_int_equal(cache_get_negative(c, 1, "abc", 3, &ref), -ENOENT);
	assert_int_equal(cache_insert_negative(c, 1, "abc", 3, 77, NULL), 0);
	assert_int_equal(cache_get_negative(c, 1, "abc", 3, &ref), 0);
	assert_int_equal(cache_ref_len(ref), 0);
	assert_int_equal(cache_ref_stamp(ref), 77);
	cache_put(c, ref);
	/* the name is compared in full, as bytes, and under its parent only */
	assert_int_equal(cache_get_negative(c, 1, "abd", 3, &ref), -ENOENT);
	assert_int_equal(cache_get_negative(c, 1, "ab", 2, &ref), -ENOENT);
	assert_int_equal(cache_get_negative(c, 1, "abcd", 4, &ref), -ENOENT);
	assert_int_equal(cache_get_negative(c, 2, "abc", 3, &ref), -ENOENT);
	/* the length given counts, not a terminating NUL */
	assert_int_equal(cache_get_negative(c, 1, "abcdef", 3, &ref), 0);
	cache_put(c, ref);

	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].hits, 2);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].misses, 5);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].bytes, cache_entry_cost(0, 3));
	assert_consistent(c);
}

/* ---- key isolation ---- */

static void test_version_isolation(void **state)
{
	struct cache *c = *state;
	unsigned char v1[PAGE], v2[PAGE];
	struct cache_ref *ref;

	fill(v1, PAGE, 1);
	fill(v2, PAGE, 2);
	assert_int_equal(cache_insert_page(c, 5, 1, 0, v1, PAGE, 0, NULL), 0);
	assert_int_equal(cache_get_page(c, 5, 2, 0, &ref), -ENOENT);
	assert_int_equal(cache_insert_page(c, 5, 2, 0, v2, PAGE, 0, NULL), 0);

	assert_int_equal(cache_get_page(c, 5, 1, 0, &ref), 0);
	assert_memory_equal(cache_ref_data(ref), v1, PAGE);
	cache_put(c, ref);
	assert_int_equal(cache_get_page(c, 5, 2, 0, &ref), 0);
	assert_memory_equal(cache_ref_data(ref), v2, PAGE);
	cache_put(c, ref);
	/* neighbouring indexes and inodes are other keys */
	assert_int_equal(cache_get_page(c, 5, 1, 1, &ref), -ENOENT);
	assert_int_equal(cache_get_page(c, 6, 1, 0, &ref), -ENOENT);
}

static void test_kinds_isolated(void **state)
{
	struct cache *c = *state;
	struct cache_ref *ref;
	unsigned char a = 'a', l = 'l';

	/* the same inode number under each kind names four different entries */
	assert_int_equal(cache_insert_attr(c, 9, &a, 1, 0, NULL), 0);
	assert_int_equal(cache_get_listing(c, 9, &ref), -ENOENT);
	assert_int_equal(cache_get_page(c, 9, 0, 0, &ref), -ENOENT);
	assert_int_equal(cache_insert_listing(c, 9, &l, 1, 0, NULL), 0);
	assert_int_equal(cache_get_attr(c, 9, &ref), 0);
	assert_memory_equal(cache_ref_data(ref), "a", 1);
	cache_put(c, ref);
	assert_int_equal(cache_get_listing(c, 9, &ref), 0);
	assert_memory_equal(cache_ref_data(ref), "l", 1);
	cache_put(c, ref);
}

/* ---- argument checks ---- */

static void test_invalid_arguments(void **state)
{
	struct cache *c = *state;
	struct cache_ref *sentinel = (struct cache_ref *)state, *ref = sentinel;
	static unsigned char big[PAGE + 1];
	char name[CACHE_NAME_MAX + 1];
	struct cache_stats st;

	memset(name, 'n', sizeof(name));
	assert_int_equal(cache_get_page(c, 1, 1, 0, NULL), -EINVAL);
	assert_int_equal(cache_get_page(NULL, 1, 1, 0, &ref), -EINVAL);
	assert_int_equal(cache_insert_page(c, 1, 1, 0, big, PAGE + 1, 0, &ref), -EINVAL);
	assert_int_equal(cache_insert_page(c, 1, 1, 0, NULL, 1, 0, &ref), -EINVAL);
	assert_int_equal(cache_insert_attr(c, 1, big, CACHE_ATTR_MAX + 1, 0, &ref), -EINVAL);
	assert_int_equal(cache_insert_listing(c, 1, NULL, 5, 0, &ref), -EINVAL);
	assert_int_equal(cache_insert_negative(c, 1, name, 0, 0, &ref), -EINVAL);
	assert_int_equal(cache_insert_negative(c, 1, NULL, 3, 0, &ref), -EINVAL);
	assert_int_equal(cache_insert_negative(c, 1, name, CACHE_NAME_MAX + 1, 0, &ref), -EINVAL);
	assert_int_equal(cache_get_negative(c, 1, name, CACHE_NAME_MAX + 1, &ref), -EINVAL);
	assert_ptr_equal(ref, sentinel);
	/* the limits themselves are accepted */
	assert_int_equal(cache_insert_page(c, 1, 1, 0, big, PAGE, 0, NULL), 0);
	assert_int_equal(cache_insert_attr(c, 1, big, CACHE_ATTR_MAX, 0, NULL), 0);
	assert_int_equal(cache_insert_negative(c, 1, name, CACHE_NAME_MAX, 0, NULL), 0);
	assert_int_equal(cache_get_negative(c, 1, name, CACHE_NAME_MAX, &ref), 0);
	cache_put(c, ref);
	cache_put(c, NULL);

	cache_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].insert_failures, 0);
	assert_int_equal(cache_invalidate_negative(c, 1, name, CACHE_NAME_MAX + 1), 0);
	assert_int_equal(cache_invalidate_all(NULL), 0);
	cache_stats(NULL, &st);
	assert_int_equal(st.budget, 0);
}

static void test_new_config(void **state)
{
	struct cache *sentinel = (struct cache *)state, *c = sentinel;
	struct cache_config cfg = {0};
	struct cache_stats st;

	(void)state;
	cfg.shards = 3;
	assert_int_equal(cache_new(&cfg, &c), -EINVAL);
	cfg.shards = CACHE_SHARDS_MAX * 2;
	assert_int_equal(cache_new(&cfg, &c), -EINVAL);
	cfg.shards = 0;
	cfg.budget = SIZE_MAX;
	assert_int_equal(cache_new(&cfg, &c), -EINVAL);
	assert_int_equal(cache_new(NULL, NULL), -EINVAL);
	assert_ptr_equal(c, sentinel);

	assert_int_equal(cache_new(NULL, &c), 0);
	cache_stats(c, &st);
	assert_int_equal(st.budget, 64u << 20);
	assert_int_equal(st.bytes, 0);
	cache_free(c);
	cfg.budget = 12345;
	cfg.shards = CACHE_SHARDS_MAX;
	assert_int_equal(cache_new(&cfg, &c), 0);
	cache_stats(c, &st);
	assert_int_equal(st.budget, 12345);
	cache_free(c);
	cache_free(NULL);
}

/* ---- budget ---- */

static void test_entry_larger_than_budget(void **state)
{
	struct cache *c = *state; /* four pages */
	size_t budget = 4 * COST_PAGE;
	size_t fits = budget - cache_entry_cost(0, 0);
	unsigned char *big = calloc(1, fits + 1);
	struct cache_ref *ref;
	struct cache_stats st;

	assert_non_null(big);
	put_page(c, 1, 1, 0);
	assert_int_equal(cache_insert_listing(c, 1, big, fits + 1, 0, NULL), -EFBIG);
	assert_true(has_page(c, 1, 1, 0)); /* a refused insertion evicts nothing */
	/* exactly the budget fits, and takes the whole cache */
	assert_int_equal(cache_insert_listing(c, 1, big, fits, 0, NULL), 0);
	cache_stats(c, &st);
	assert_int_equal(st.bytes, budget);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.kind[CACHE_KIND_LISTING].insert_failures, 1);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].evictions, 1);
	assert_int_equal(cache_get_listing(c, 1, &ref), 0);
	cache_put(c, ref);
	free(big);
	assert_consistent(c);
}

static void test_exact_fit_no_eviction(void **state)
{
	struct cache *c = *state; /* four pages */
	struct cache_stats st;
	uint32_t i;

	for (i = 0; i < 4; i++)
		put_page(c, 1, 1, i);
	cache_stats(c, &st);
	assert_int_equal(st.bytes, 4 * COST_PAGE);
	assert_int_equal(st.bytes, st.budget);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].evictions, 0);
	put_page(c, 1, 1, 4);
	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].evictions, 1);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.bytes, 4 * COST_PAGE);
}

/* Pick a random key of a random kind; names are "n<number>". */
struct rkey {
	int kind;
	uint64_t ino, version;
	uint32_t index;
	char name[16];
	size_t namelen;
};

static void random_key(uint64_t *rs, struct rkey *k)
{
	k->kind = (int)(test_rand(rs) % CACHE_KIND_COUNT);
	k->ino = 1 + test_rand(rs) % 24;
	k->version = k->kind == CACHE_KIND_PAGE ? 1 + test_rand(rs) % 3 : 0;
	k->index = k->kind == CACHE_KIND_PAGE ? (uint32_t)(test_rand(rs) % 8) : 0;
	k->namelen = 0;
	if (k->kind == CACHE_KIND_NEGATIVE)
		k->namelen = (size_t)snprintf(k->name, sizeof(k->name), "n%u",
					      (unsigned)(test_rand(rs) % 16));
}

static uint64_t rkey_seed(const struct rkey *k, uint64_t stamp, size_t len)
{
	/* negatives have no bytes; fold the name in for the others' sake */
	return seed_of(k->kind, k->ino, k->version, k->index + (uint32_t)k->namelen, stamp, len);
}

static int rkey_get(struct cache *c, const struct rkey *k, struct cache_ref **ref)
{
	switch (k->kind) {
	case CACHE_KIND_PAGE:
		return cache_get_page(c, k->ino, k->version, k->index, ref);
	case CACHE_KIND_ATTR:
		return cache_get_attr(c, k->ino, ref);
	case CACHE_KIND_LISTING:
		return cache_get_listing(c, k->ino, ref);
	default:
		return cache_get_negative(c, k->ino, k->name, k->namelen, ref);
	}
}

/* Insert a random-length payload for @k, derived from @stamp; returns the insert's result. */
static int rkey_insert(struct cache *c, const struct rkey *k, uint64_t stamp, size_t maxlisting,
		       struct cache_ref **ref, size_t *cost)
{
	static _Thread_local unsigned char buf[16384];
	size_t len = 0;

	switch (k->kind) {
	case CACHE_KIND_PAGE:
		len = stamp % 2 ? PAGE : stamp % (PAGE + 1);
		fill(buf, len, rkey_seed(k, stamp, len));
		*cost = cache_entry_cost(len, 0);
		return cache_insert_page(c, k->ino, k->version, k->index, buf, len, stamp, ref);
	case CACHE_KIND_ATTR:
		len = stamp % (CACHE_ATTR_MAX + 1);
		fill(buf, len, rkey_seed(k, stamp, len));
		*cost = cache_entry_cost(len, 0);
		return cache_insert_attr(c, k->ino, buf, len, stamp, ref);
	case CACHE_KIND_LISTING:
		len = stamp % (maxlisting + 1);
		fill(buf, len, rkey_seed(k, stamp, len));
		*cost = cache_entry_cost(len, 0);
		return cache_insert_listing(c, k->ino, buf, len, stamp, ref);
	default:
		*cost = cache_entry_cost(0, k->namelen);
		return cache_insert_negative(c, k->ino, k->name, k->namelen, stamp, ref);
	}
}

static bool ref_valid(const struct rkey *k, const struct cache_ref *ref)
{
	return matches(cache_ref_data(ref), cache_ref_len(ref),
		       rkey_seed(k, cache_ref_stamp(ref), cache_ref_len(ref)));
}

/*
 * Far more than the budget, in random kinds, keys and sizes, with pins
 * held across operations and every kind of invalidation: after each
 * operation the budget holds and the counters match a recount.
 */
static void test_budget_under_churn(void **state)
{
	struct cache *c = *state;
	struct cache_ref *held[6];
	struct rkey keys[6];
	unsigned nheld = 0, i;
	uint64_t rs = 0x1234567u, inserted = 0;
	struct cache_stats st;

	for (i = 0; i < 20000; i++) {
		unsigned op = (unsigned)(test_rand(&rs) % 100);
		struct cache_ref *ref = NULL;
		struct rkey k;

		random_key(&rs, &k);
		if (op < 40) {
			uint64_t stamp = test_rand(&rs) % 100000;

			/* at most 6 pins of <= 8 KiB: an insert always finds room */
			size_t cost;

			assert_int_equal(
			    rkey_insert(c, &k, stamp, 8192, nheld < 6 ? &ref : NULL, &cost), 0);
			inserted += cost;
			if (ref) {
				assert_true(ref_valid(&k, ref));
				keys[nheld] = k;
				held[nheld++] = ref;
			}
		} else if (op < 70) {
			if (rkey_get(c, &k, &ref) == 0) {
				assert_true(ref_valid(&k, ref));
				if (nheld < 6 && op < 50) {
					keys[nheld] = k;
					held[nheld++] = ref;
				} else {
					cache_put(c, ref);
				}
			}
		} else if (op < 85) {
			if (nheld > 0) {
				unsigned h = (unsigned)(test_rand(&rs) % nheld);

				/* pinned bytes stay valid, invalidated or not */
				assert_true(ref_valid(&keys[h], held[h]));
				cache_put(c, held[h]);
				held[h] = held[--nheld];
				keys[h] = keys[nheld];
			}
		} else if (op < 92) {
			switch (k.kind) {
			case CACHE_KIND_PAGE:
				cache_invalidate_page(c, k.ino, k.version, k.index);
				break;
			case CACHE_KIND_ATTR:
				cache_invalidate_attr(c, k.ino);
				break;
			case CACHE_KIND_LISTING:
				cache_invalidate_listing(c, k.ino);
				break;
			default:
				cache_invalidate_negative(c, k.ino, k.name, k.namelen);
			}
		} else if (op < 97) {
			cache_invalidate_ino(c, k.ino);
		} else if (op < 99) {
			cache_invalidate_negatives(c, k.ino);
		} else if (test_rand(&rs) % 4 == 0) {
			cache_invalidate_all(c);
		} else {
			cache_invalidate_all_negatives(c);
		}
		assert_consistent(c);
	}
	for (i = 0; i < nheld; i++) {
		assert_true(ref_valid(&keys[i], held[i]));
		cache_put(c, held[i]);
	}
	cache_stats(c, &st);
	assert_true(inserted > 10 * st.budget); /* the churn went far past the budget */
	assert_true(st.kind[CACHE_KIND_PAGE].evictions > 100);
	assert_true(st.kind[CACHE_KIND_LISTING].evictions > 10);
	assert_int_equal(st.zombies, 0);
	cache_invalidate_all(c);
	cache_stats(c, &st);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.entries, 0);
	assert_consistent(c);
}

/* ---- eviction order (CLOCK, one shard) ---- */

static void test_clock_order(void **state)
{
	struct cache *c = *state; /* four pages, one shard */
	struct cache_ref *ref;
	struct cache_stats st;
	uint32_t i;

	for (i = 0; i < 4; i++)
		put_page(c, 1, 1, i);
	/* hits on 1 and 3 set their bits; ring: 0 1* 2 3* */
	assert_int_equal(cache_get_page(c, 1, 1, 1, &ref), 0);
	cache_put(c, ref);
	assert_int_equal(cache_get_page(c, 1, 1, 3, &ref), 0);
	cache_put(c, ref);

	put_page(c, 1, 1, 4); /* 0 unreferenced: out.     ring 1* 2 3* 4 */
	assert_false(has_page(c, 1, 1, 0));
	put_page(c, 1, 1, 5); /* 1 spared, 2 out.         ring 3* 4 1 5 */
	assert_false(has_page(c, 1, 1, 2));
	put_page(c, 1, 1, 6); /* 3 spared, 4 out.         ring 1 5 3 6 */
	assert_false(has_page(c, 1, 1, 4));
	put_page(c, 1, 1, 7); /* 1's chance is spent: out. ring 5 3 6 7 */
	assert_false(has_page(c, 1, 1, 1));

	/* survivors exactly 3, 5, 6, 7 (these hits set all four bits) */
	assert_true(has_page(c, 1, 1, 3));
	assert_true(has_page(c, 1, 1, 5));
	assert_true(has_page(c, 1, 1, 6));
	assert_true(has_page(c, 1, 1, 7));
	/* all referenced: the hand clears all and takes the oldest, 5 */
	put_page(c, 1, 1, 8);
	assert_false(has_page(c, 1, 1, 5));
	assert_true(has_page(c, 1, 1, 3));
	assert_true(has_page(c, 1, 1, 6));
	assert_true(has_page(c, 1, 1, 7));
	assert_true(has_page(c, 1, 1, 8));

	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].evictions, 5);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].insertions, 9);
	assert_int_equal(st.entries, 4);
	assert_consistent(c);
}

static void test_clock_skips_pinned(void **state)
{
	struct cache *c = *state; /* four pages, one shard */
	struct cache_ref *pin;
	unsigned char buf[PAGE];
	struct cache_stats st;
	uint32_t i;

	for (i = 0; i < 4; i++)
		put_page(c, 1, 1, i);
	assert_int_equal(cache_get_page(c, 1, 1, 0, &pin), 0); /* pinned, and referenced */
	put_page(c, 1, 1, 4); /* 0 passed over, 1 out.  ring 2 3 0* 4 */
	assert_false(has_page(c, 1, 1, 1));
	/* under pressure a pinned page survives any number of insertions:
	 * these evict 2, 3, 4 and 5..36, and leave 0* 37 38 39 */
	for (i = 5; i < 40; i++)
		put_page(c, 2, 1, i);
	assert_false(has_page(c, 2, 1, 36));
	page_bytes(buf, 1, 1, 0);
	assert_memory_equal(cache_ref_data(pin), buf, PAGE);
	cache_put(c, pin);
	/* unpinned, it kept its bit through the passes: a second chance */
	put_page(c, 3, 1, 0); /* 0 spared, 37 out.  ring 38 39 0 c0 */
	assert_false(has_page(c, 2, 1, 37));
	put_page(c, 3, 1, 1); /* 38 out */
	assert_false(has_page(c, 2, 1, 38));
	put_page(c, 3, 1, 2); /* 39 out.             ring 0 c0 c1 c2 */
	assert_false(has_page(c, 2, 1, 39));
	put_page(c, 3, 1, 3); /* the chance is spent: 0 out */
	assert_false(has_page(c, 1, 1, 0));
	for (i = 0; i < 4; i++)
		assert_true(has_page(c, 3, 1, i));
	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].evictions, 1 + 35 + 4);
	assert_consistent(c);
}

static void test_insert_fails_when_all_pinned(void **state)
{
	struct cache *c = *state; /* two pages, one shard */
	struct cache_ref *a, *b, *ref = (struct cache_ref *)state;
	unsigned char buf[PAGE];
	struct cache_stats st;

	page_bytes(buf, 1, 1, 0);
	assert_int_equal(cache_insert_page(c, 1, 1, 0, buf, PAGE, 0, &a), 0);
	page_bytes(buf, 1, 1, 1);
	assert_int_equal(cache_insert_page(c, 1, 1, 1, buf, PAGE, 0, &b), 0);
	page_bytes(buf, 1, 1, 2);
	assert_int_equal(cache_insert_page(c, 1, 1, 2, buf, PAGE, 0, &ref), -ENOMEM);
	assert_ptr_equal(ref, (struct cache_ref *)state);
	/* even a small entry does not fit */
	assert_int_equal(cache_insert_negative(c, 1, "x", 1, 0, NULL), -ENOMEM);
	cache_stats(c, &st);
	assert_int_equal(st.bytes, 2 * COST_PAGE);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].insert_failures, 1);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].insert_failures, 1);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].evictions, 0);

	cache_put(c, a);
	assert_int_equal(cache_insert_page(c, 1, 1, 2, buf, PAGE, 0, NULL), 0);
	assert_false(has_page(c, 1, 1, 0));
	page_bytes(buf, 1, 1, 1);
	assert_memory_equal(cache_ref_data(b), buf, PAGE);
	cache_put(c, b);
	assert_true(has_page(c, 1, 1, 1));
	assert_true(has_page(c, 1, 1, 2));
	assert_consistent(c);
}

/* Room is made in whatever shard has it: eviction crosses shards. */
static void test_eviction_crosses_shards(void **state)
{
	struct cache *c = *state; /* four pages, four shards */
	struct cache_ref *pins[4];
	unsigned char buf[PAGE];
	struct cache_stats st;
	uint64_t ino;

	/* four inodes pinned, wherever their shards are */
	for (ino = 1; ino <= 4; ino++) {
		page_bytes(buf, ino, 1, 0);
		assert_int_equal(cache_insert_page(c, ino, 1, 0, buf, PAGE, 0, &pins[ino - 1]), 0);
	}
	page_bytes(buf, 100, 1, 0);
	assert_int_equal(cache_insert_page(c, 100, 1, 0, buf, PAGE, 0, NULL), -ENOMEM);
	/* one unpinned: inode 100 takes its place, from any shard */
	cache_put(c, pins[2]);
	assert_int_equal(cache_insert_page(c, 100, 1, 0, buf, PAGE, 0, NULL), 0);
	assert_false(has_page(c, 3, 1, 0));
	assert_true(has_page(c, 100, 1, 0));
	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].evictions, 1);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].insert_failures, 1);
	assert_int_equal(st.bytes, 4 * COST_PAGE);
	cache_put(c, pins[0]);
	cache_put(c, pins[1]);
	cache_put(c, pins[3]);
	assert_consistent(c);
}

/* ---- replacement ---- */

static void test_duplicate_replaces(void **state)
{
	struct cache *c = *state;
	struct cache_ref *ref;
	struct cache_stats st;

	assert_int_equal(cache_insert_attr(c, 3, "old-attr", 8, 1, NULL), 0);
	assert_int_equal(cache_insert_attr(c, 3, "new", 3, 2, NULL), 0);
	assert_int_equal(cache_get_attr(c, 3, &ref), 0);
	assert_int_equal(cache_ref_len(ref), 3);
	assert_memory_equal(cache_ref_data(ref), "new", 3);
	assert_int_equal(cache_ref_stamp(ref), 2);
	cache_put(c, ref);
	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].insertions, 2);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].replacements, 1);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].invalidations, 0);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].entries, 1);
	assert_int_equal(st.bytes, cache_entry_cost(3, 0));
	assert_consistent(c);
}

static void test_duplicate_replaces_pinned(void **state)
{
	struct cache *c = *state;
	struct cache_ref *old, *ref;
	struct cache_stats st;

	assert_int_equal(cache_insert_listing(c, 3, "a b c", 5, 1, &old), 0);
	assert_int_equal(cache_insert_listing(c, 3, "a b", 3, 2, NULL), 0);
	assert_int_equal(cache_get_listing(c, 3, &ref), 0);
	assert_memory_equal(cache_ref_data(ref), "a b", 3);
	cache_put(c, ref);
	assert_memory_equal(cache_ref_data(old), "a b c", 5);
	assert_int_equal(cache_ref_stamp(old), 1);
	cache_stats(c, &st);
	assert_int_equal(st.zombies, 1);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.bytes, cache_entry_cost(5, 0) + cache_entry_cost(3, 0));
	assert_consistent(c);
	cache_put(c, old);
	cache_stats(c, &st);
	assert_int_equal(st.zombies, 0);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.bytes, cache_entry_cost(3, 0));
	assert_consistent(c);
}

static void test_stamp_update(void **state)
{
	struct cache *c = *state;
	struct cache_ref *a, *b;

	assert_int_equal(cache_insert_attr(c, 4, "x", 1, 100, &a), 0);
	assert_int_equal(cache_get_attr(c, 4, &b), 0);
	assert_ptr_equal(a, b); /* the same entry, pinned twice */
	cache_ref_set_stamp(a, 200);
	assert_int_equal(cache_ref_stamp(b), 200);
	cache_put(c, a);
	cache_put(c, b);
	assert_int_equal(cache_get_attr(c, 4, &a), 0);
	assert_int_equal(cache_ref_stamp(a), 200);
	cache_put(c, a);
}

/* ---- invalidation ---- */

/* Fill: inode 7 (pages of versions 1 and 2, attr, listing, 3 negatives under
 * it) and inode 8 (a page, attr, listing, 2 negatives). */
static void populate(struct cache *c)
{
	uint32_t i;

	for (i = 0; i < 3; i++) {
		put_page(c, 7, 1, i);
		put_page(c, 7, 2, i);
	}
	put_page(c, 8, 1, 0);
	assert_int_equal(cache_insert_attr(c, 7, "a7", 2, 0, NULL), 0);
	assert_int_equal(cache_insert_attr(c, 8, "a8", 2, 0, NULL), 0);
	assert_int_equal(cache_insert_listing(c, 7, "l7", 2, 0, NULL), 0);
	assert_int_equal(cache_insert_listing(c, 8, "l8", 2, 0, NULL), 0);
	assert_int_equal(cache_insert_negative(c, 7, "x", 1, 0, NULL), 0);
	assert_int_equal(cache_insert_negative(c, 7, "y", 1, 0, NULL), 0);
	assert_int_equal(cache_insert_negative(c, 7, "z", 1, 0, NULL), 0);
	assert_int_equal(cache_insert_negative(c, 8, "x", 1, 0, NULL), 0);
	assert_int_equal(cache_insert_negative(c, 8, "y", 1, 0, NULL), 0);
}

static bool has(struct cache *c, int kind, uint64_t ino, const char *name)
{
	struct cache_ref *ref;
	int rc;

	switch (kind) {
	case CACHE_KIND_ATTR:
		rc = cache_get_attr(c, ino, &ref);
		break;
	case CACHE_KIND_LISTING:
		rc = cache_get_listing(c, ino, &ref);
		break;
	default:
		rc = cache_get_negative(c, ino, name, strlen(name), &ref);
	}
	if (rc == 0)
		cache_put(c, ref);
	return rc == 0;
}

static void test_invalidate_one_entry(void **state)
{
	struct cache *c = *state;
	struct cache_stats st;

	populate(c);
	assert_int_equal(cache_invalidate_page(c, 7, 1, 1), 1);
	assert_int_equal(cache_invalidate_page(c, 7, 1, 1), 0);
	assert_int_equal(cache_invalidate_page(c, 7, 3, 0), 0);
	assert_false(has_page(c, 7, 1, 1));
	assert_true(has_page(c, 7, 1, 0));
	assert_true(has_page(c, 7, 2, 1));

	assert_int_equal(cache_invalidate_attr(c, 7), 1);
	assert_false(has(c, CACHE_KIND_ATTR, 7, NULL));
	assert_true(has(c, CACHE_KIND_ATTR, 8, NULL));
	assert_true(has(c, CACHE_KIND_LISTING, 7, NULL));

	assert_int_equal(cache_invalidate_listing(c, 7), 1);
	assert_false(has(c, CACHE_KIND_LISTING, 7, NULL));
	assert_true(has(c, CACHE_KIND_LISTING, 8, NULL));

	assert_int_equal(cache_invalidate_negative(c, 7, "y", 1), 1);
	assert_int_equal(cache_invalidate_negative(c, 7, "y", 1), 0);
	assert_false(has(c, CACHE_KIND_NEGATIVE, 7, "y"));
	assert_true(has(c, CACHE_KIND_NEGATIVE, 7, "x"));
	assert_true(has(c, CACHE_KIND_NEGATIVE, 8, "y"));

	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].invalidations, 1);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].invalidations, 1);
	assert_int_equal(st.kind[CACHE_KIND_LISTING].invalidations, 1);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].invalidations, 1);
	assert_int_equal(st.entries, 7 + 2 + 2 + 5 - 4);
	assert_consistent(c);
}

static void test_invalidate_ino(void **state)
{
	struct cache *c = *state;
	struct cache_stats st;
	uint32_t i;

	populate(c);
	/* six pages of two versions and the attr; not the listing or negatives */
	assert_int_equal(cache_invalidate_ino(c, 7), 7);
	for (i = 0; i < 3; i++) {
		assert_false(has_page(c, 7, 1, i));
		assert_false(has_page(c, 7, 2, i));
	}
	assert_false(has(c, CACHE_KIND_ATTR, 7, NULL));
	assert_true(has(c, CACHE_KIND_LISTING, 7, NULL));
	assert_true(has(c, CACHE_KIND_NEGATIVE, 7, "x"));
	assert_true(has_page(c, 8, 1, 0));
	assert_true(has(c, CACHE_KIND_ATTR, 8, NULL));
	assert_int_equal(cache_invalidate_ino(c, 7), 0);

	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].invalidations, 6);
	assert_int_equal(st.kind[CACHE_KIND_ATTR].invalidations, 1);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].entries, 1);
	assert_consistent(c);
}

static void test_invalidate_negatives_of_parent(void **state)
{
	struct cache *c = *state;
	struct cache_stats st;

	populate(c);
	assert_int_equal(cache_invalidate_negatives(c, 7), 3);
	assert_false(has(c, CACHE_KIND_NEGATIVE, 7, "x"));
	assert_false(has(c, CACHE_KIND_NEGATIVE, 7, "z"));
	assert_true(has(c, CACHE_KIND_NEGATIVE, 8, "x"));
	assert_true(has(c, CACHE_KIND_NEGATIVE, 8, "y"));
	assert_true(has(c, CACHE_KIND_LISTING, 7, NULL));
	assert_true(has(c, CACHE_KIND_ATTR, 7, NULL));
	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].invalidations, 3);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].entries, 2);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].bytes, 2 * cache_entry_cost(0, 1));
	assert_consistent(c);
}

static void test_invalidate_all_negatives(void **state)
{
	struct cache *c = *state;
	struct cache_stats st;

	populate(c);
	assert_int_equal(cache_invalidate_all_negatives(c), 5);
	assert_false(has(c, CACHE_KIND_NEGATIVE, 8, "x"));
	assert_true(has(c, CACHE_KIND_LISTING, 8, NULL));
	assert_true(has_page(c, 7, 2, 2));
	cache_stats(c, &st);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].entries, 0);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].bytes, 0);
	assert_int_equal(st.entries, 7 + 2 + 2);
	assert_consistent(c);
}

static void test_invalidate_all(void **state)
{
	struct cache *c = *state;
	struct cache_stats st;
	int k;

	populate(c);
	assert_int_equal(cache_invalidate_all(c), 7 + 2 + 2 + 5);
	assert_false(has_page(c, 8, 1, 0));
	assert_false(has(c, CACHE_KIND_ATTR, 8, NULL));
	cache_stats(c, &st);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.entries, 0);
	for (k = 0; k < CACHE_KIND_COUNT; k++)
		assert_int_equal(st.kind[k].bytes, 0);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].invalidations, 7);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].invalidations, 5);
	assert_int_equal(cache_invalidate_all(c), 0);
	assert_consistent(c);
}

static void test_invalidate_pinned(void **state)
{
	struct cache *c = *state;
	struct cache_ref *pin, *ref;
	unsigned char buf[PAGE];
	struct cache_stats st;

	put_page(c, 5, 1, 0);
	assert_int_equal(cache_get_page(c, 5, 1, 0, &pin), 0);
	assert_int_equal(cache_invalidate_ino(c, 5), 1);
	/* unreachable at once */
	assert_int_equal(cache_get_page(c, 5, 1, 0, &ref), -ENOENT);
	assert_int_equal(cache_invalidate_page(c, 5, 1, 0), 0);
	/* still counted, and its bytes intact */
	cache_stats(c, &st);
	assert_int_equal(st.zombies, 1);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.bytes, COST_PAGE);
	assert_consistent(c);
	page_bytes(buf, 5, 1, 0);
	assert_memory_equal(cache_ref_data(pin), buf, PAGE);

	/* a new entry under the same key lives beside the zombie */
	fill(buf, PAGE, 99);
	assert_int_equal(cache_insert_page(c, 5, 1, 0, buf, PAGE, 1, NULL), 0);
	assert_int_equal(cache_get_page(c, 5, 1, 0, &ref), 0);
	assert_ptr_not_equal(ref, pin);
	assert_memory_equal(cache_ref_data(ref), buf, PAGE);
	cache_put(c, ref);
	cache_stats(c, &st);
	assert_int_equal(st.bytes, 2 * COST_PAGE);

	/* the last put frees it */
	cache_put(c, pin);
	cache_stats(c, &st);
	assert_int_equal(st.zombies, 0);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.bytes, COST_PAGE);
	assert_consistent(c);
}

/* A zombie holds its share of the budget until its last put. */
static void test_zombie_holds_budget(void **state)
{
	struct cache *c = *state; /* two pages, one shard */
	struct cache_ref *pin;
	struct cache_stats st;

	put_page(c, 1, 1, 0);
	assert_int_equal(cache_get_page(c, 1, 1, 0, &pin), 0);
	assert_int_equal(cache_invalidate_all(c), 1);
	put_page(c, 1, 1, 1);
	put_page(c, 1, 1, 2); /* evicts 1: the zombie cannot go */
	assert_false(has_page(c, 1, 1, 1));
	cache_stats(c, &st);
	assert_int_equal(st.bytes, 2 * COST_PAGE);
	assert_int_equal(st.kind[CACHE_KIND_PAGE].evictions, 1);
	cache_put(c, pin);
	cache_stats(c, &st);
	assert_int_equal(st.bytes, COST_PAGE);
	assert_consistent(c);
}

/* ---- tables grow ---- */

static void test_many_entries(void **state)
{
	struct cache *c = *state; /* 1 MiB, 4 shards */
	struct cache_ref *ref;
	struct cache_stats st;
	char name[16];
	unsigned i;
	int n;

	/* thousands of small entries: the bucket arrays double many times */
	for (i = 0; i < 5000; i++) {
		n = snprintf(name, sizeof(name), "f%u", i);
		assert_int_equal(cache_insert_negative(c, i % 3, name, (size_t)n, i, NULL), 0);
	}
	cache_stats(c, &st);
	assert_int_equal(st.entries, 5000);
	assert_int_equal(st.kind[CACHE_KIND_NEGATIVE].evictions, 0);
	for (i = 0; i < 5000; i++) {
		n = snprintf(name, sizeof(name), "f%u", i);
		assert_int_equal(cache_get_negative(c, i % 3, name, (size_t)n, &ref), 0);
		assert_int_equal(cache_ref_stamp(ref), i);
		cache_put(c, ref);
	}
	assert_consistent(c);
	assert_int_equal(cache_invalidate_negatives(c, 1), 1667); /* i = 1, 4, ..., 4999 */
	assert_consistent(c);
}

/* ---- size parsing ---- */

static void test_parse_size(void **state)
{
	static const struct {
		const char *text;
		size_t size;
	} good[] = {
	    {"4096", 4096},
	    {"1", 1},
	    {"512K", 512u << 10},
	    {"512k", 512u << 10},
	    {"64M", 64u << 20},
	    {"1G", (size_t)1 << 30},
	    {"2g", (size_t)2 << 30},
	    {"3T", (size_t)3 << 40},
	    {"007", 7},
	    {"18446744073709551615", SIZE_MAX},
	    {"17179869183G", (size_t)17179869183u << 30},
	};
	static const char *const bad[] = {
	    "",
	    "0",
	    "0K",
	    "K",
	    "-1",
	    "+1",
	    " 1",
	    "1 ",
	    "1.5G",
	    "1KB",
	    "1KiB",
	    "1P",
	    "1E",
	    "0x10",
	    "12a",
	    "1GG",
	    "M64",
	    "abc",
	    "18446744073709551616",
	    "16777216T",
	    "17179869184G",
	};
	size_t out;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		out = 0;
		assert_int_equal(cache_parse_size(good[i].text, &out), 0);
		assert_int_equal(out, good[i].size);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = 42;
		if (cache_parse_size(bad[i], &out) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_int_equal(out, 42);
	}
	assert_int_equal(cache_parse_size(NULL, &out), -EINVAL);
	assert_int_equal(cache_parse_size("1", NULL), -EINVAL);
	assert_string_equal(cache_kind_name(CACHE_KIND_LISTING), "listing");
	assert_string_equal(cache_kind_name(CACHE_KIND_COUNT), "?");
}

/* ---- threads ---- */

#define THREADS 6
#define THREAD_PINS 4

struct hammer {
	struct cache *c;
	atomic_bool stop;
	atomic_uint failures;
	atomic_ulong ops, nomem;
	char first_failure[128];
	pthread_mutex_t failure_lock;
};

struct worker {
	struct hammer *h;
	uint64_t seed;
};

static void hammer_fail(struct hammer *h, const char *what)
{
	/* cmocka's asserts longjmp and belong to the main thread: record instead */
	if (atomic_fetch_add(&h->failures, 1) == 0) {
		pthread_mutex_lock(&h->failure_lock);
		snprintf(h->first_failure, sizeof(h->first_failure), "%s", what);
		pthread_mutex_unlock(&h->failure_lock);
	}
}

static void *hammer_worker(void *arg)
{
	struct worker *w = arg;
	struct hammer *h = w->h;
	struct cache *c = h->c;
	struct cache_ref *pins[THREAD_PINS];
	struct rkey keys[THREAD_PINS];
	unsigned npins = 0, i;
	uint64_t rs = w->seed;
	unsigned long ops = 0;

	while (!atomic_load_explicit(&h->stop, memory_order_relaxed)) {
		unsigned op = (unsigned)(test_rand(&rs) % 1000);
		struct cache_ref *ref = NULL;
		struct rkey k;
		int rc;

		/* pages more often than the other kinds */
		do
			random_key(&rs, &k);
		while (test_rand(&rs) % 2 && k.kind != CACHE_KIND_PAGE);
		ops++;
		if (op < 850) {
			/* the read path: get, or fill on a miss */
			rc = rkey_get(c, &k, &ref);
			if (rc == -ENOENT) {
				size_t cost;

				rc = rkey_insert(c, &k, test_rand(&rs) % 1000000, 12000,
						 op % 2 ? &ref : NULL, &cost);
				if (rc == -ENOMEM)
					atomic_fetch_add(&h->nomem, 1);
				else if (rc != 0)
					hammer_fail(h, "insert failed");
			} else if (rc != 0) {
				hammer_fail(h, "get failed");
			}
			if (!ref)
				continue;
			if (!ref_valid(&k, ref))
				hammer_fail(h, "wrong bytes after get/insert");
			if (npins < THREAD_PINS && op % 7 == 0) {
				keys[npins] = k;
				pins[npins++] = ref;
			} else {
				cache_put(c, ref);
			}
		} else if (op < 930) {
			if (npins == 0)
				continue;
			i = (unsigned)(test_rand(&rs) % npins);
			if (!ref_valid(&keys[i], pins[i]))
				hammer_fail(h, "pinned bytes changed");
			cache_put(c, pins[i]);
			pins[i] = pins[--npins];
			keys[i] = keys[npins];
		} else if (op < 960) {
			if (k.kind == CACHE_KIND_PAGE)
				cache_invalidate_page(c, k.ino, k.version, k.index);
			else if (k.kind == CACHE_KIND_NEGATIVE)
				cache_invalidate_negative(c, k.ino, k.name, k.namelen);
			else
				cache_invalidate_listing(c, k.ino);
		} else if (op < 985) {
			cache_invalidate_ino(c, k.ino);
		} else if (op < 995) {
			cache_invalidate_negatives(c, k.ino);
		} else if (op < 998) {
			cache_invalidate_all_negatives(c);
		} else if (test_rand(&rs) % 8 == 0) {
			cache_invalidate_all(c);
		}
	}
	for (i = 0; i < npins; i++) {
		if (!ref_valid(&keys[i], pins[i]))
			hammer_fail(h, "pinned bytes changed");
		cache_put(c, pins[i]);
	}
	atomic_fetch_add(&h->ops, ops);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_threads(void **state)
{
	struct cache *c = *state; /* 256 KiB, 8 shards */
	const char *env = getenv("CACHE_TEST_SECONDS");
	double seconds = env ? atof(env) : 3.0, end;
	struct worker workers[THREADS];
	pthread_t tids[THREADS];
	struct hammer h = {.c = c};
	struct timespec pause = {0, 500 * 1000};
	struct cache_stats st, rc;
	unsigned long polls = 0;
	uint64_t sum;
	unsigned i;
	int k;

	pthread_mutex_init(&h.failure_lock, NULL);
	for (i = 0; i < THREADS; i++) {
		workers[i].h = &h;
		workers[i].seed = 0x9e3779b97f4a7c15ull * (i + 1);
		assert_int_equal(pthread_create(&tids[i], NULL, hammer_worker, &workers[i]), 0);
	}
	/* meanwhile, the budget holds at every snapshot */
	end = now_s() + seconds;
	while (now_s() < end) {
		cache_stats(c, &st);
		if (st.bytes > st.budget)
			hammer_fail(&h, "over budget");
		sum = 0;
		for (k = 0; k < CACHE_KIND_COUNT; k++)
			sum += st.kind[k].bytes;
		if (sum > st.bytes)
			hammer_fail(&h, "kinds account more than the total");
		if (polls % 16 == 0 && cache_check(c, &rc, NULL) != 0)
			hammer_fail(&h, "check failed");
		polls++;
		nanosleep(&pause, NULL);
	}
	atomic_store(&h.stop, true);
	for (i = 0; i < THREADS; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&h.failure_lock);

	if (atomic_load(&h.failures) != 0)
		fail_msg("%u failures, first: %s", atomic_load(&h.failures), h.first_failure);
	cache_stats(c, &st);
	print_message("threads: %lu ops, %lu polls, %lu -ENOMEM; pages: %" PRIu64 " hits, %" PRIu64
		      " evictions, %" PRIu64 " invalidations, %" PRIu64 " replacements\n",
		      atomic_load(&h.ops), polls, atomic_load(&h.nomem),
		      st.kind[CACHE_KIND_PAGE].hits, st.kind[CACHE_KIND_PAGE].evictions,
		      st.kind[CACHE_KIND_PAGE].invalidations,
		      st.kind[CACHE_KIND_PAGE].replacements);
	assert_true(atomic_load(&h.ops) > 1000);
	assert_true(st.kind[CACHE_KIND_PAGE].hits > 0);
	assert_true(st.kind[CACHE_KIND_PAGE].evictions > 0);
	assert_int_equal(st.zombies, 0);
	assert_int_equal(cache_check(c, &rc, NULL), 0);
	assert_int_equal(st.bytes, rc.bytes);
	assert_int_equal(st.entries, rc.entries);
	cache_invalidate_all(c);
	cache_stats(c, &st);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.entries, 0);
}

static int setup_threads(void **state)
{
	return setup_with(state, 256 << 10, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_page_hit_miss, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_attr_hit_miss, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_listing_hit_miss, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_negative_hit_miss, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_version_isolation, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_kinds_isolated, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_arguments, setup_roomy, teardown),
	    cmocka_unit_test(test_new_config),
	    cmocka_unit_test_setup_teardown(test_entry_larger_than_budget, setup_four_pages,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_exact_fit_no_eviction, setup_four_pages, teardown),
	    cmocka_unit_test_setup_teardown(test_budget_under_churn, setup_churn_1, teardown),
	    cmocka_unit_test_setup_teardown(test_budget_under_churn, setup_churn_8, teardown),
	    cmocka_unit_test_setup_teardown(test_clock_order, setup_four_pages, teardown),
	    cmocka_unit_test_setup_teardown(test_clock_skips_pinned, setup_four_pages, teardown),
	    cmocka_unit_test_setup_teardown(test_insert_fails_when_all_pinned, setup_two_pages,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_eviction_crosses_shards, setup_four_pages_sharded,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_replaces, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate_replaces_pinned, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_stamp_update, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate_one_entry, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate_ino, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate_negatives_of_parent, setup_roomy,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate_all_negatives, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate_all, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate_pinned, setup_roomy, teardown),
	    cmocka_unit_test_setup_teardown(test_zombie_holds_budget, setup_two_pages, teardown),
	    cmocka_unit_test_setup_teardown(test_many_entries, setup_roomy, teardown),
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test_setup_teardown(test_threads, setup_threads, teardown),
	};

	return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
