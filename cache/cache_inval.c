/*
 * cache_inval.c - invalidation: one key, one inode's entries of some kinds,
 * or every entry of some kinds.
 *
 * An invalidated entry is unlinked at once, so no new lookup finds it; it
 * is freed now if unpinned, else by its last cache_put() (cache_detach()
 * decides). Deciding *when* to invalidate is the caller's: fs/ calls these
 * after it changed the store or learned that another mount did.
 */
#include <pthread.h>

#include "cache.h"
#include "cache_i.h"

#define KIND_BIT(kind) (1u << (kind))

/* Remove the entry with key @k. Returns 1 if there was one, else 0. */
static size_t invalidate_key(struct cache *c, const struct cache_key *k)
{
	struct cache_shard *s = cache_shard_of(c, k->ino_hash);
	struct cache_reap reap = {NULL};
	struct cache_entry *e;

	pthread_mutex_lock(&s->lock);
	e = cache_shard_find(s, k);
	if (e) {
		s->stats[e->kind].invalidations++;
		cache_detach(s, e, &reap);
	}
	pthread_mutex_unlock(&s->lock);
	cache_reap(c, &reap);
	return e ? 1 : 0;
}

/*
 * Remove the entries of @ino whose kind is in @kinds. They all live in one
 * shard, on one by_ino chain (with the entries of other inodes whose hash
 * falls in the same bucket), so this costs the length of that chain.
 */
static size_t invalidate_ino(struct cache *c, uint64_t ino, unsigned kinds)
{
	struct cache_key k;
	struct cache_shard *s;
	struct cache_reap reap = {NULL};
	struct cache_entry *e, *next;
	size_t n = 0;

	cache_key_init(&k, CACHE_KIND_ATTR, ino, 0, 0, NULL, 0);
	s = cache_shard_of(c, k.ino_hash);
	pthread_mutex_lock(&s->lock);
	for (e = s->by_ino[k.ino_hash & s->mask]; e; e = next) {
		next = e->ino_next;
		if (e->ino != ino || !(kinds & KIND_BIT(e->kind)))
			continue;
		s->stats[e->kind].invalidations++;
		cache_detach(s, e, &reap);
		n++;
	}
	pthread_mutex_unlock(&s->lock);
	cache_reap(c, &reap);
	return n;
}

/* Remove every entry whose kind is in @kinds: a walk of every shard. */
static size_t invalidate_kinds(struct cache *c, unsigned kinds)
{
	size_t n = 0;
	unsigned i;

	for (i = 0; i < c->nshards; i++) {
		struct cache_shard *s = &c->shards[i];
		struct cache_reap reap = {NULL};
		struct cache_link *l, *next;

		pthread_mutex_lock(&s->lock);
		for (l = s->clock.next; l != &s->clock; l = next) {
			struct cache_entry *e = cache_entry_of_link(l);

			next = l->next;
			if (!(kinds & KIND_BIT(e->kind)))
				continue;
			s->stats[e->kind].invalidations++;
			cache_detach(s, e, &reap);
			n++;
		}
		pthread_mutex_unlock(&s->lock);
		cache_reap(c, &reap);
	}
	return n;
}

size_t cache_invalidate_page(struct cache *c, uint64_t ino, uint64_t version, uint32_t index)
{
	struct cache_key k;

	if (!c)
		return 0;
	cache_key_init(&k, CACHE_KIND_PAGE, ino, version, index, NULL, 0);
	return invalidate_key(c, &k);
}

size_t cache_invalidate_attr(struct cache *c, uint64_t ino)
{
	struct cache_key k;

	if (!c)
		return 0;
	cache_key_init(&k, CACHE_KIND_ATTR, ino, 0, 0, NULL, 0);
	return invalidate_key(c, &k);
}

size_t cache_invalidate_listing(struct cache *c, uint64_t dir)
{
	struct cache_key k;

	if (!c)
		return 0;
	cache_key_init(&k, CACHE_KIND_LISTING, dir, 0, 0, NULL, 0);
	return invalidate_key(c, &k);
}

size_t cache_invalidate_negative(struct cache *c, uint64_t parent, const char *name, size_t namelen)
{
	struct cache_key k;

	if (!c || cache_key_init(&k, CACHE_KIND_NEGATIVE, parent, 0, 0, name, namelen))
		return 0;
	return invalidate_key(c, &k);
}

size_t cache_invalidate_ino(struct cache *c, uint64_t ino)
{
	if (!c)
		return 0;
	return invalidate_ino(c, ino, KIND_BIT(CACHE_KIND_PAGE) | KIND_BIT(CACHE_KIND_ATTR));
}

size_t cache_invalidate_negatives(struct cache *c, uint64_t parent)
{
	if (!c)
		return 0;
	return invalidate_ino(c, parent, KIND_BIT(CACHE_KIND_NEGATIVE));
}

size_t cache_invalidate_all_negatives(struct cache *c)
{
	if (!c)
		return 0;
	return invalidate_kinds(c, KIND_BIT(CACHE_KIND_NEGATIVE));
}

size_t cache_invalidate_all(struct cache *c)
{
	if (!c)
		return 0;
	return invalidate_kinds(c, KIND_BIT(CACHE_KIND_COUNT) - 1);
}
