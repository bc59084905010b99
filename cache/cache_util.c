/*
 * cache_util.c - what the read cache reports about itself: the statistics
 * snapshot, the consistency check the unit test recounts with, kind names,
 * and the parser for budget sizes ("64M") the mount option is given in.
 * It changes nothing in the cache; lookups and updates are in cache.c and
 * cache_inval.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "cache_i.h"

static void add_kind_stats(struct cache_kind_stats *sum, const struct cache_kind_stats *s)
{
	sum->hits += s->hits;
	sum->misses += s->misses;
	sum->insertions += s->insertions;
	sum->replacements += s->replacements;
	sum->evictions += s->evictions;
	sum->invalidations += s->invalidations;
	sum->insert_failures += s->insert_failures;
	sum->bytes += s->bytes;
	sum->entries += s->entries;
}

/*
 * Take every shard lock, in index order. Nothing else ever holds two shard
 * locks, so the order alone rules out deadlock. While they are all held no
 * entry is linked, unlinked or freed: the counters describe one instant.
 */
static void lock_all(struct cache *c)
{
	unsigned i;

	for (i = 0; i < c->nshards; i++)
		pthread_mutex_lock(&c->shards[i].lock);
}

static void unlock_all(struct cache *c)
{
	unsigned i;

	for (i = c->nshards; i-- > 0;)
		pthread_mutex_unlock(&c->shards[i].lock);
}

void cache_stats(struct cache *c, struct cache_stats *out)
{
	unsigned i, k;

	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	lock_all(c);
	for (i = 0; i < c->nshards; i++) {
		struct cache_shard *s = &c->shards[i];

		for (k = 0; k < CACHE_KIND_COUNT; k++)
			add_kind_stats(&out->kind[k], &s->stats[k]);
		out->zombies += s->zombies;
	}
	/* read under the locks: no entry can be counted in a shard and not here */
	out->bytes = atomic_load(&c->used);
	unlock_all(c);
	for (k = 0; k < CACHE_KIND_COUNT; k++)
		out->entries += out->kind[k].entries;
	out->budget = c->budget;
}

const char *cache_kind_name(enum cache_kind kind)
{
	switch (kind) {
	case CACHE_KIND_PAGE:
		return "page";
	case CACHE_KIND_ATTR:
		return "attr";
	case CACHE_KIND_LISTING:
		return "listing";
	case CACHE_KIND_NEGATIVE:
		return "negative";
	default:
		return "?";
	}
}

int cache_parse_size(const char *s, size_t *out)
{
	unsigned long long n;
	unsigned shift = 0;
	char *end;

	/* strtoull() would accept spaces and signs: insist on a digit first. */
	if (!s || !out || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (shift && *++end != '\0')
		return -EINVAL;
	if (n == 0 || n > (unsigned long long)(SIZE_MAX >> shift))
		return -EINVAL;
	*out = (size_t)n << shift;
	return 0;
}

/* Is @e on the by_ino chain it hashes to? */
static bool on_ino_chain(const struct cache_shard *s, const struct cache_entry *e)
{
	const struct cache_entry *p;

	for (p = s->by_ino[e->ino_hash & s->mask]; p; p = p->ino_next)
		if (p == e)
			return true;
	return false;
}

/* Is linked entry @e where a lookup of its own key finds it? */
static bool findable(const struct cache *c, const struct cache_shard *s,
		     const struct cache_entry *e)
{
	struct cache_key k;

	if (cache_key_init(&k, (enum cache_kind)e->kind, e->ino, e->version, e->index,
			   (const char *)e->bytes + e->len, e->namelen))
		return false;
	return k.hash == e->hash && k.ino_hash == e->ino_hash &&
	       cache_shard_of(c, k.ino_hash) == s && cache_shard_find(s, &k) == e &&
	       on_ino_chain(s, e);
}

/*
 * Under s->lock: check @s, add its recount to @out and its pinned entries
 * to @pinned. Returns 0 or -EUCLEAN.
 */
static int check_shard(const struct cache *c, const struct cache_shard *s, struct cache_stats *out,
		       size_t *pinned)
{
	struct cache_kind_stats counted[CACHE_KIND_COUNT];
	const struct cache_link *l;
	size_t linked = 0, zombies = 0, chained = 0, b;
	const struct cache_entry *e;
	unsigned k;
	int rc = 0;

	memset(counted, 0, sizeof(counted));
	for (l = s->clock.next; l != &s->clock; l = l->next) {
		e = cache_entry_of_link((struct cache_link *)(uintptr_t)l);
		if (l->next->prev != l || (e->flags & CACHE_F_ZOMBIE) ||
		    atomic_load(&e->refs) < 1 || e->kind >= CACHE_KIND_COUNT || !findable(c, s, e))
			rc = -EUCLEAN;
		else
			counted[e->kind].bytes += cache_entry_size(e);
		counted[e->kind % CACHE_KIND_COUNT].entries++;
		*pinned += atomic_load(&e->refs) > 1;
		linked++;
	}
	for (l = s->zombies_list.next; l != &s->zombies_list; l = l->next) {
		e = cache_entry_of_link((struct cache_link *)(uintptr_t)l);
		/*
		 * A zombie is pinned, or its last cache_put() has brought refs
		 * to 0 and waits for this lock to take it off the list.
		 */
		if (l->next->prev != l || !(e->flags & CACHE_F_ZOMBIE) ||
		    e->kind >= CACHE_KIND_COUNT)
			rc = -EUCLEAN;
		else
			counted[e->kind].bytes += cache_entry_size(e);
		counted[e->kind % CACHE_KIND_COUNT].entries++;
		*pinned += atomic_load(&e->refs) > 0;
		zombies++;
	}
	for (b = 0; b <= s->mask; b++)
		for (e = s->by_key[b]; e; e = e->key_next)
			chained++;
	if (linked != s->count || zombies != s->zombies || chained != linked)
		rc = -EUCLEAN;
	for (k = 0; k < CACHE_KIND_COUNT; k++) {
		struct cache_kind_stats st = s->stats[k];

		if (counted[k].bytes != st.bytes || counted[k].entries != st.entries)
			rc = -EUCLEAN;
		st.bytes = counted[k].bytes;
		st.entries = counted[k].entries;
		add_kind_stats(&out->kind[k], &st);
	}
	out->zombies += zombies;
	return rc;
}

int cache_check(struct cache *c, struct cache_stats *out, size_t *pinned)
{
	size_t used, npinned = 0;
	unsigned i, k;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	lock_all(c);
	for (i = 0; i < c->nshards; i++) {
		int src = check_shard(c, &c->shards[i], out, &npinned);

		if (src)
			rc = src;
	}
	used = atomic_load(&c->used);
	unlock_all(c);
	if (pinned)
		*pinned = npinned;
	for (k = 0; k < CACHE_KIND_COUNT; k++) {
		out->bytes += out->kind[k].bytes;
		out->entries += out->kind[k].entries;
	}
	out->budget = c->budget;
	/* `used` also counts reservations and frees in flight, never less */
	if (used < out->bytes || used > c->budget)
		rc = -EUCLEAN;
	return rc;
}
