/*
 * cache_i.h - the structures of the read cache, shared by cache.c (core:
 * lookup, pins, insertion, budget, eviction), cache_inval.c (invalidation)
 * and cache_util.c (statistics, consistency check, size parsing).
 * Nothing outside cache/ includes this, except the unit test, which uses
 * cache_check() to recount what the counters claim.
 *
 * Locking, in one place:
 *  - struct cache: immutable after cache_new(), except `used` and `hand`,
 *    which are atomics.
 *  - struct cache_shard: every field under `lock`.
 *  - struct cache_entry: the key, payload and length are immutable from
 *    insertion to free; links, flags and the shard's counters are under the
 *    shard lock; `refs` and `stamp` are atomics.
 *  - No code holds two shard locks at once, except cache_stats() and
 *    cache_check(), which take all of them in index order; no lock is
 *    held across malloc() of an entry or free().
 *
 * Reference counting: refs = pins + 1 while the entry is linked in its
 * shard (the table's own reference). Pins are only added under the shard
 * lock, so under the lock refs == 1 means "linked and unpinned" and stays
 * so. Unlinking drops the table's reference; whoever brings refs to 0 (the
 * unlinker, or the last cache_put()) frees the entry. An entry unlinked
 * while pinned is a zombie: on its shard's zombie list, still counted.
 */
#ifndef ITEMFS_CACHE_I_H
#define ITEMFS_CACHE_I_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

/* A doubly linked ring; a shard's head is a sentinel. */
struct cache_link {
	struct cache_link *next, *prev;
};

/* Flags of an entry, under the shard lock. */
#define CACHE_F_REFERENCED 0x1u /* CLOCK bit: hit since the hand last passed */
#define CACHE_F_ZOMBIE 0x2u	/* unlinked while pinned; on the zombie list */

/*
 * One cached entry, in a single allocation of cache_entry_cost() bytes:
 * this header, then the payload (len bytes), then the name (namelen bytes).
 */
struct cache_entry {
	/* by_key chain of the shard (entries whose key hashes to one bucket) */
	struct cache_entry *key_next, **key_pprev;
	/* by_ino chain of the shard (entries whose ino hashes to one bucket);
	 * lets one inode's entries be found without a walk of the shard */
	struct cache_entry *ino_next, **ino_pprev;
	/* linked: the shard's CLOCK ring; zombie: the shard's zombie list */
	struct cache_link clock;
	uint64_t hash;			   /* XXH3-64 of the packed key */
	uint64_t ino_hash;		   /* XXH3-64 of ino: the shard and by_ino bucket */
	uint64_t ino;			   /* page/attr: inode; listing: dir; negative: parent */
	uint64_t version;		   /* page: data version; else 0 */
	_Atomic uint64_t stamp;		   /* the caller's; never interpreted */
	size_t len;			   /* payload bytes */
	atomic_uint refs;		   /* pins + 1 while linked; see the top of this file */
	uint32_t index;			   /* page: page number; else 0 */
	uint16_t namelen;		   /* negative: name bytes; else 0 */
	uint8_t kind;			   /* enum cache_kind */
	uint8_t flags;			   /* CACHE_F_*, under the shard lock */
	alignas(16) unsigned char bytes[]; /* payload, then name */
};

/* A key as looked up: the fields of struct cache_entry that name it. */
struct cache_key {
	uint64_t ino, version;
	const unsigned char *name; /* borrowed; negative only */
	uint32_t index;
	uint16_t namelen;
	uint8_t kind;
	uint64_t hash, ino_hash; /* computed by cache_key_init() */
};

/*
 * A shard: a part of the table chosen by the top bits of ino_hash, so all
 * entries of one inode (its pages of every version, its attributes, its
 * listing, the negatives under it) live in one shard.
 */
struct cache_shard {
	alignas(64) pthread_mutex_t lock;
	struct cache_entry **by_key; /* mask + 1 bucket heads, by hash */
	struct cache_entry **by_ino; /* mask + 1 bucket heads, by ino_hash */
	size_t mask;		     /* buckets - 1; buckets a power of two, doubled
				      * when count exceeds them, up to buckets_max */
	size_t count;		     /* linked entries (all on `clock`) */
	size_t zombies;		     /* entries on `zombies_list` */
	/* linked entries in CLOCK order: the hand is at the head, new
	 * entries go to the tail (just behind the hand) */
	struct cache_link clock;
	struct cache_link zombies_list; /* unlinked but pinned entries */
	/* this shard's share of the counters, bytes and entries included */
	struct cache_kind_stats stats[CACHE_KIND_COUNT];
};

struct cache {
	size_t budget; /* bytes; immutable */
	/*
	 * Bytes reserved against the budget: the cost of every entry that
	 * holds memory, reserved before its malloc() and released after its
	 * free(). Only ever raised by a compare-and-swap that checks the sum
	 * against budget, hence never above it.
	 */
	_Atomic size_t used;
	size_t buckets_max;	    /* most buckets a shard grows to; immutable */
	atomic_uint hand;	    /* the shard where the next eviction begins */
	unsigned nshards;	    /* a power of two; immutable */
	unsigned shard_shift;	    /* 64 - log2(nshards); immutable */
	struct cache_shard *shards; /* nshards of them; immutable pointer */
};

/* A list of unlinked, unreferenced entries to free once no lock is held. */
struct cache_reap {
	struct cache_entry *head; /* chained through key_next */
};

static inline struct cache_entry *cache_entry_of(const struct cache_ref *ref)
{
	return (struct cache_entry *)(uintptr_t)ref;
}

static inline struct cache_ref *cache_ref_of(struct cache_entry *e)
{
	return (struct cache_ref *)(void *)e;
}

static inline struct cache_entry *cache_entry_of_link(struct cache_link *l)
{
	return (struct cache_entry *)(void *)((char *)l - offsetof(struct cache_entry, clock));
}

static inline size_t cache_entry_size(const struct cache_entry *e)
{
	return cache_entry_cost(e->len, e->namelen);
}

/* Build @k and its hashes. -EINVAL for a negative key with a bad name. */
int cache_key_init(struct cache_key *k, enum cache_kind kind, uint64_t ino, uint64_t version,
		   uint32_t index, const char *name, size_t namelen);

/* The shard @k (or an entry with that ino_hash) lives in. */
struct cache_shard *cache_shard_of(const struct cache *c, uint64_t ino_hash);

/* Under s->lock: the linked entry with key @k, or NULL. */
struct cache_entry *cache_shard_find(const struct cache_shard *s, const struct cache_key *k);

/*
 * Under s->lock: unlink @e from its shard and drop the table's reference.
 * If that was the last one, the entry leaves the shard's counters and goes
 * on @reap, to be freed by cache_reap() after the unlock; otherwise it
 * becomes a zombie, freed by its last cache_put().
 */
void cache_detach(struct cache_shard *s, struct cache_entry *e, struct cache_reap *reap);

/* Free the entries on @reap and give their bytes back to the budget. No lock held. */
void cache_reap(struct cache *c, struct cache_reap *reap);

/*
 * cache_check - for the unit test: walk every shard under its lock, check
 * its structure (chains, ring, zombie list, reference counts, counters
 * against the entries) and fill @out with a recount: kind[].bytes and
 * kind[].entries counted from the entries, the totals, and zombies; event
 * counters and budget are copied from the counters; @pinned, if not NULL,
 * receives the number of entries pinned right now. Returns 0, or -EUCLEAN
 * when the structure is inconsistent, or when `used` is not between the
 * recount and the budget. Runs with every shard lock held, so it may be
 * called while other threads use the cache.
 */
int cache_check(struct cache *c, struct cache_stats *out, size_t *pinned);

#endif /* ITEMFS_CACHE_I_H */
