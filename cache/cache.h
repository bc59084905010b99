/*
 * cache.h - the itemfs read cache: item pages, attributes, directory
 * listings and negative entries, held in memory under one byte budget.
 *
 * The cache is a library of copies. The caller (fs/) asks it first; on a
 * miss it reads the store and inserts a copy; on a change it invalidates.
 * The cache knows nothing of FUSE, LMDB or the store: it owns the budget,
 * the hashing, the pins, the eviction, the invalidation and the counters.
 * docs/cache.md explains the design; this header is the contract.
 *
 * Entries. Four kinds, each with its own key:
 *   CACHE_KIND_PAGE      (ino, version, index): up to CACHE_PAGE_SIZE bytes
 *                        of an item's data at byte offset index * 4096, of
 *                        data version `version`. A new version is a new key,
 *                        so a page of an old version is never returned for
 *                        a new one; old pages age out or are invalidated.
 *   CACHE_KIND_ATTR      (ino): an opaque attribute blob, <= CACHE_ATTR_MAX.
 *   CACHE_KIND_LISTING   (dir ino): an opaque listing blob of any length
 *                        that fits the budget.
 *   CACHE_KIND_NEGATIVE  (parent ino, name): "name is absent"; no payload.
 * Every entry carries a caller stamp (u64: a time or a generation) that the
 * cache stores and never interprets, so the caller can implement a TTL or
 * detect an entry filled before a change it knows of.
 *
 * Pins. A successful cache_get_*() (and a cache_insert_*() given a non-NULL
 * out) returns a pinned reference. Exactly one cache_put() releases it. A
 * pinned entry is never evicted and its bytes never change or move. An
 * entry invalidated (or replaced) while pinned becomes unreachable for new
 * lookups at once; its bytes stay valid and counted until its last put.
 *
 * Budget. Each entry counts cache_entry_cost(len, namelen) bytes: its
 * payload, its name and a fixed overhead (the entry header). The sum of the
 * costs of all entries that hold memory - reachable, or unreachable but
 * pinned, or being filled - never exceeds the budget, at any instant and
 * from any number of threads. When an insertion does not fit, the cache
 * evicts unpinned entries (CLOCK, second chance); if that cannot make room
 * the insertion fails with -ENOMEM and nothing is overshot.
 *
 * Eviction. CLOCK: a hit sets the entry's reference bit; the hand passes
 * over pinned entries, gives a referenced entry a second chance (clearing
 * its bit) and evicts the first unreferenced one. New entries start
 * unreferenced, so data read once (a cp, a tar) goes before data read
 * twice; and a hit costs a bit store, not a list move. The table is split
 * in shards (by inode), each with its own hand; the eviction hand moves
 * from shard to shard, so the policy is exact CLOCK inside a shard and an
 * approximation of one global CLOCK across shards.
 *
 * Errors: functions that can fail return 0 or a negative errno:
 *   -ENOENT  cache_get_*(): not cached (a miss)
 *   -EINVAL  a NULL cache or out pointer, a payload longer than its kind
 *            allows, a NULL payload with a non-zero length, an empty name
 *            or one longer than CACHE_NAME_MAX
 *   -EFBIG   cache_insert_*(): the entry's cost exceeds the whole budget;
 *            it can never be cached
 *   -ENOMEM  cache_insert_*(): no room could be made (every entry that
 *            would have to go is pinned, or other threads kept taking the
 *            room being freed), or malloc() failed
 * On error, out-parameters are not written and no entry is added or
 * replaced; an insertion that fails with -ENOMEM may have evicted unpinned
 * entries while trying to make room.
 *
 * Threads: every function may be called from any number of threads at
 * once, except cache_new() and cache_free(), which the creator calls alone.
 * There is no global lock: each shard has its own mutex, and the budget is
 * one atomic counter (only cache_stats() holds all the shard locks, for a
 * moment). A reference may be put by any thread.
 */
#ifndef ITEMFS_CACHE_H
#define ITEMFS_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes in a page: item data is cached in pages of this size. */
#define CACHE_PAGE_SIZE 4096u
/* Largest attribute blob, in bytes. */
#define CACHE_ATTR_MAX 256u
/* Longest name of a negative entry, in bytes (a Linux NAME_MAX). */
#define CACHE_NAME_MAX 255u
/* Budget used when struct cache_config.budget is 0: 64 MiB. */
#define CACHE_BUDGET_DEFAULT ((size_t)64 << 20)
/* Shards used when struct cache_config.shards is 0. */
#define CACHE_SHARDS_DEFAULT 32u
/* Most shards a cache may have. */
#define CACHE_SHARDS_MAX 64u

struct cache;
/* A pinned entry; opaque. Valid from a successful get/insert until its put. */
struct cache_ref;

/* The kinds of entries; also the index of struct cache_stats.kind[]. */
enum cache_kind {
	CACHE_KIND_PAGE = 0,
	CACHE_KIND_ATTR,
	CACHE_KIND_LISTING,
	CACHE_KIND_NEGATIVE,
	CACHE_KIND_COUNT
};

/* Configuration for cache_new(); zeroed fields take the defaults. */
struct cache_config {
	/* bytes the entries may count in all (see cache_entry_cost());
	 * 0 = CACHE_BUDGET_DEFAULT; at most SIZE_MAX / 2 */
	size_t budget;
	/* number of shards, a power of two <= CACHE_SHARDS_MAX;
	 * 0 = CACHE_SHARDS_DEFAULT. 1 makes eviction exact global CLOCK. */
	unsigned shards;
};

/*
 * Counters of one kind. The event counters only grow; bytes and entries
 * are the current account. Kept per shard under the shard's lock and
 * summed by cache_stats() with every shard lock held, so a snapshot is of
 * one instant: the sum of kind[].bytes <= bytes <= budget, always.
 */
struct cache_kind_stats {
	uint64_t hits;		  /* cache_get_*() that found the entry */
	uint64_t misses;	  /* cache_get_*() that returned -ENOENT */
	uint64_t insertions;	  /* entries inserted (replacements included) */
	uint64_t replacements;	  /* insertions that displaced an entry with the same key */
	uint64_t evictions;	  /* entries evicted to make room */
	uint64_t invalidations;	  /* entries removed by cache_invalidate_*() */
	uint64_t insert_failures; /* insertions refused with -EFBIG or -ENOMEM */
	uint64_t bytes;		  /* cost of the entries of this kind holding memory */
	uint64_t entries;	  /* entries of this kind holding memory (reachable or
				   * unreachable but pinned) */
};

/* A snapshot of the whole cache; see cache_stats(). */
struct cache_stats {
	struct cache_kind_stats kind[CACHE_KIND_COUNT]; /* indexed by enum cache_kind */
	uint64_t budget;				/* bytes; as configured */
	uint64_t bytes;	  /* bytes reserved against the budget: always <= budget. Equals the
			   * sum of kind[].bytes when no insertion or release is in flight */
	uint64_t entries; /* sum of kind[].entries */
	uint64_t zombies; /* entries invalidated, replaced or evicted while pinned, waiting
			   * for their last cache_put(); included in kind[].entries */
};

/*
 * cache_new - create an empty cache.
 * @cfg: configuration, borrowed for the call; NULL takes every default.
 * @out: on success, the new cache; the caller frees it with cache_free().
 * Errors: -EINVAL for a budget over SIZE_MAX / 2 or a shard count that is
 * not a power of two or exceeds CACHE_SHARDS_MAX; -ENOMEM.
 * Threads: not to be called concurrently with other calls on the result.
 */
int cache_new(const struct cache_config *cfg, struct cache **out);

/*
 * cache_free - free a cache and every entry in it. Accepts NULL.
 * Every reference must have been put before: freeing a cache with pinned
 * entries is a bug (asserted; the pinned entries are leaked, not freed).
 * Threads: no other thread may be using @c.
 */
void cache_free(struct cache *c);

/*
 * cache_entry_cost - the bytes an entry counts against the budget.
 * @len: payload bytes; @namelen: name bytes (negative entries; else 0).
 * Returns the cost: a fixed per-entry overhead (the entry header, which
 * holds the key, links and counters) + @len + @namelen. This is what the
 * entry's single allocation measures. The bucket arrays, the shards and
 * malloc's own bookkeeping are not counted (docs/cache.md says how much
 * they are). Saturates at SIZE_MAX. Thread-safe, pure.
 */
size_t cache_entry_cost(size_t len, size_t namelen);

/*
 * cache_get_page, cache_get_attr, cache_get_listing, cache_get_negative -
 * look an entry up and pin it.
 * @c:       the cache.
 * @ino:     page, attr: the inode; listing: the directory; negative: the parent.
 * @version: page: the item's data version; only a page inserted with this
 *           exact version is found.
 * @index:   page: the page number (byte offset / CACHE_PAGE_SIZE).
 * @name, @namelen: negative: the name, borrowed for the call; need not be
 *           NUL-terminated; 1..CACHE_NAME_MAX bytes.
 * @out:     on success, a pinned reference: read it with cache_ref_data(),
 *           cache_ref_len(), cache_ref_stamp(); release it with exactly one
 *           cache_put(). Not written on error.
 * A hit sets the entry's CLOCK reference bit and counts a hit; a miss counts
 * a miss. The cache does not look at stamps: a stale entry is the caller's
 * call (put it, and invalidate or re-insert).
 * Errors: -ENOENT (miss), -EINVAL.
 * Threads: safe; takes one shard lock briefly.
 */
int cache_get_page(struct cache *c, uint64_t ino, uint64_t version, uint32_t index,
		   struct cache_ref **out);
int cache_get_attr(struct cache *c, uint64_t ino, struct cache_ref **out);
int cache_get_listing(struct cache *c, uint64_t dir, struct cache_ref **out);
int cache_get_negative(struct cache *c, uint64_t parent, const char *name, size_t namelen,
		       struct cache_ref **out);

/*
 * cache_insert_page, cache_insert_attr, cache_insert_listing,
 * cache_insert_negative - insert a copy of the caller's bytes.
 * @c, @ino, @version, @index, @name, @namelen: the key, as for cache_get_*().
 * @data, @len: the payload, borrowed for the call and copied; @data may be
 *           NULL only when @len is 0. Page: @len <= CACHE_PAGE_SIZE (the last
 *           page of an item is short). Attr: @len <= CACHE_ATTR_MAX. Listing:
 *           any @len whose cost fits the budget. Negative: no payload.
 * @stamp:   the caller's time or generation for this entry; see cache_ref_stamp().
 * @out:     NULL, or where to return a pinned reference to the new entry
 *           (released with one cache_put()); not written on error.
 * An entry with the same key is replaced: it becomes unreachable at once
 * and is freed now, or on its last put if it is pinned. The new entry
 * starts with its reference bit clear. To make room, unpinned entries of
 * any kind and shard are evicted.
 * Errors: -EINVAL, -EFBIG, -ENOMEM (see the top of this file); an entry
 * with the same key stays as it was (-ENOMEM may have evicted others).
 * Threads: safe; takes shard locks one at a time, never two at once.
 */
int cache_insert_page(struct cache *c, uint64_t ino, uint64_t version, uint32_t index,
		      const void *data, size_t len, uint64_t stamp, struct cache_ref **out);
int cache_insert_attr(struct cache *c, uint64_t ino, const void *data, size_t len, uint64_t stamp,
		      struct cache_ref **out);
int cache_insert_listing(struct cache *c, uint64_t dir, const void *data, size_t len,
			 uint64_t stamp, struct cache_ref **out);
int cache_insert_negative(struct cache *c, uint64_t parent, const char *name, size_t namelen,
			  uint64_t stamp, struct cache_ref **out);

/*
 * cache_put - release one pin taken by a cache_get_*() or cache_insert_*().
 * @c:   the cache the reference came from.
 * @ref: the reference, or NULL (ignored). After the call @ref and the
 *       pointer cache_ref_data() gave for it must not be used.
 * If the entry was invalidated, replaced or evicted while pinned and this
 * was its last pin, the entry is freed and its bytes leave the budget.
 * Putting a reference twice is a bug.
 * Threads: safe; lock-free unless it frees the entry.
 */
void cache_put(struct cache *c, struct cache_ref *ref);

/*
 * cache_ref_data, cache_ref_len - the entry's payload: a read-only copy of
 * the bytes inserted, valid until the reference is put, even if the entry
 * is invalidated meanwhile. A negative entry has length 0 (the pointer is
 * not NULL). Threads: safe; the payload never changes once inserted.
 */
const void *cache_ref_data(const struct cache_ref *ref);
size_t cache_ref_len(const struct cache_ref *ref);

/*
 * cache_ref_stamp - the stamp of the entry: the one given at insertion, or
 * the latest given to cache_ref_set_stamp().
 * Threads: safe (an atomic load).
 */
uint64_t cache_ref_stamp(const struct cache_ref *ref);

/*
 * cache_ref_set_stamp - record that the caller revalidated the entry at
 * @stamp, without copying its payload again. The entry is shared: every
 * holder of a reference, and later lookups, see the new stamp.
 * Threads: safe (an atomic store).
 */
void cache_ref_set_stamp(struct cache_ref *ref, uint64_t stamp);

/*
 * Invalidation. Each call removes the entries of its scope: an entry not
 * pinned is freed at once; a pinned one becomes unreachable at once and is
 * freed on its last cache_put(). Each returns the number of entries it
 * removed (0 when there were none: invalidating is never an error; a NULL
 * cache or an invalid name removes nothing). Counted in `invalidations`.
 * Threads: safe. The one-key and one-inode calls take one shard lock; the
 * kind-wide calls take each shard lock in turn, so an entry inserted into
 * an already-swept shard during the call survives it.
 *
 * cache_invalidate_page      one page of one version.
 * cache_invalidate_attr      the attributes of @ino.
 * cache_invalidate_listing   the listing of directory @dir.
 * cache_invalidate_negative  the negative entry (@parent, @name).
 * cache_invalidate_ino       every page of @ino, of every version, and its
 *                            attributes (after a write, truncate, setattr).
 *                            Not its listing or its negatives.
 * cache_invalidate_negatives every negative entry under directory @parent.
 * cache_invalidate_all_negatives every negative entry.
 * cache_invalidate_all       everything.
 */
size_t cache_invalidate_page(struct cache *c, uint64_t ino, uint64_t version, uint32_t index);
size_t cache_invalidate_attr(struct cache *c, uint64_t ino);
size_t cache_invalidate_listing(struct cache *c, uint64_t dir);
size_t cache_invalidate_negative(struct cache *c, uint64_t parent, const char *name,
				 size_t namelen);
size_t cache_invalidate_ino(struct cache *c, uint64_t ino);
size_t cache_invalidate_negatives(struct cache *c, uint64_t parent);
size_t cache_invalidate_all_negatives(struct cache *c);
size_t cache_invalidate_all(struct cache *c);

/*
 * cache_stats - fill @out with a snapshot of the counters.
 * @out: written in full. With @c NULL it is zeroed.
 * Threads: safe. Takes every shard lock (in index order) for the time it
 * takes to add the counters up: cheap, but it stalls every other call for
 * that moment, so call it for reporting (a stats file, a log line every
 * few seconds), not per request.
 */
void cache_stats(struct cache *c, struct cache_stats *out);

/*
 * cache_kind_name - "page", "attr", "listing" or "negative"; "?" for
 * anything else. The string is static.
 */
const char *cache_kind_name(enum cache_kind kind);

/*
 * cache_parse_size - parse a byte count such as "4096", "512K", "64M",
 * "1G", "2T" (binary multiples, suffix in either case).
 * @s:   the text, NUL-terminated, borrowed: decimal digits and at most one
 *       suffix K, M, G or T; nothing else (no sign, space, fraction or "B").
 * @out: on success, the count in bytes; not written on error.
 * Errors: -EINVAL for NULL, empty or malformed text, a zero size, or a
 * size that does not fit in size_t.
 * Threads: safe, pure.
 */
int cache_parse_size(const char *s, size_t *out);

#endif /* ITEMFS_CACHE_H */
