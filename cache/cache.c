/*
 * cache.c - the core of the read cache: creation, keys and hashing,
 * lookup and pins, insertion, and the byte budget with its CLOCK eviction.
 *
 * Invalidation is in cache_inval.c; statistics, the consistency check and
 * size parsing in cache_util.c; the shared structures and the locking rules
 * in cache_i.h. Where the bytes come from is the caller's business: it reads
 * the store on a miss and hands the cache a copy.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "cache.h"
#include "cache_i.h"

/*
 * Buckets per shard. At creation: enough for the shard's share of the
 * budget in full pages, at least CACHE_BUCKETS_MIN, at most 4096. A shard
 * doubles them when its entries outnumber them, up to one bucket per
 * CACHE_BUDGET_PER_BUCKET bytes of its share of the budget: so the bucket
 * arrays (two pointers a bucket) never take more than 1/16 of the budget,
 * and a chain holds ~2 entries on average even when the cache is full of
 * the smallest entries.
 */
#define CACHE_BUCKETS_MIN 16u
#define CACHE_BUCKETS_INIT_MAX 4096u
#define CACHE_BUDGET_PER_BUCKET 256u
/*
 * How many times an insertion frees room and tries to take it before it
 * gives up with -ENOMEM. More than one because other threads may take the
 * room first; bounded so an insertion never spins.
 */
#define CACHE_RESERVE_ROUNDS 16u

/* Kind, ino, version, index, or kind, ino, name: the most bytes hashed. */
#define CACHE_KEY_PACKED_MAX (1 + 8 + 8 + 4 + CACHE_NAME_MAX)

static void link_init(struct cache_link *head)
{
	head->next = head;
	head->prev = head;
}

static void link_add_tail(struct cache_link *head, struct cache_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static void link_del(struct cache_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->next = l;
	l->prev = l;
}

static void chain_add(struct cache_entry **head, struct cache_entry *e, bool by_ino)
{
	if (by_ino) {
		e->ino_next = *head;
		e->ino_pprev = head;
		if (*head)
			(*head)->ino_pprev = &e->ino_next;
	} else {
		e->key_next = *head;
		e->key_pprev = head;
		if (*head)
			(*head)->key_pprev = &e->key_next;
	}
	*head = e;
}

static void chain_del(struct cache_entry *e)
{
	*e->key_pprev = e->key_next;
	if (e->key_next)
		e->key_next->key_pprev = e->key_pprev;
	*e->ino_pprev = e->ino_next;
	if (e->ino_next)
		e->ino_next->ino_pprev = e->ino_pprev;
	e->key_next = NULL;
	e->key_pprev = NULL;
	e->ino_next = NULL;
	e->ino_pprev = NULL;
}

size_t cache_entry_cost(size_t len, size_t namelen)
{
	size_t fixed = sizeof(struct cache_entry);

	if (len > SIZE_MAX - fixed || namelen > SIZE_MAX - fixed - len)
		return SIZE_MAX;
	return fixed + len + namelen;
}

int cache_key_init(struct cache_key *k, enum cache_kind kind, uint64_t ino, uint64_t version,
		   uint32_t index, const char *name, size_t namelen)
{
	unsigned char packed[CACHE_KEY_PACKED_MAX];
	size_t n = 0;

	memset(k, 0, sizeof(*k));
	k->kind = (uint8_t)kind;
	k->ino = ino;
	packed[n++] = (unsigned char)kind;
	memcpy(packed + n, &ino, sizeof(ino));
	n += sizeof(ino);
	switch (kind) {
	case CACHE_KIND_PAGE:
		k->version = version;
		k->index = index;
		memcpy(packed + n, &version, sizeof(version));
		n += sizeof(version);
		memcpy(packed + n, &index, sizeof(index));
		n += sizeof(index);
		break;
	case CACHE_KIND_NEGATIVE:
		if (!name || namelen == 0 || namelen > CACHE_NAME_MAX)
			return -EINVAL;
		k->name = (const unsigned char *)name;
		k->namelen = (uint16_t)namelen;
		memcpy(packed + n, name, namelen);
		n += namelen;
		break;
	default:
		break;
	}
	k->hash = XXH3_64bits(packed, n);
	k->ino_hash = XXH3_64bits(&ino, sizeof(ino));
	return 0;
}

struct cache_shard *cache_shard_of(const struct cache *c, uint64_t ino_hash)
{
	/* The top bits pick the shard; the low bits pick buckets inside it. */
	if (c->nshards == 1)
		return &c->shards[0];
	return &c->shards[ino_hash >> c->shard_shift];
}

static bool key_matches(const struct cache_entry *e, const struct cache_key *k)
{
	return e->hash == k->hash && e->kind == k->kind && e->ino == k->ino &&
	       e->version == k->version && e->index == k->index && e->namelen == k->namelen &&
	       (k->namelen == 0 || memcmp(e->bytes + e->len, k->name, k->namelen) == 0);
}

struct cache_entry *cache_shard_find(const struct cache_shard *s, const struct cache_key *k)
{
	struct cache_entry *e;

	for (e = s->by_key[k->hash & s->mask]; e; e = e->key_next)
		if (key_matches(e, k))
			return e;
	return NULL;
}

static void shard_link(struct cache_shard *s, struct cache_entry *e)
{
	chain_add(&s->by_key[e->hash & s->mask], e, false);
	chain_add(&s->by_ino[e->ino_hash & s->mask], e, true);
	link_add_tail(&s->clock, &e->clock);
	s->count++;
}

/*
 * Double the buckets of @s. On allocation failure keep the old ones: the
 * chains grow longer, nothing breaks. Called under s->lock.
 */
static void shard_grow(struct cache_shard *s)
{
	size_t n = (s->mask + 1) * 2;
	struct cache_entry **by_key = calloc(n, sizeof(*by_key));
	struct cache_entry **by_ino = calloc(n, sizeof(*by_ino));
	struct cache_link *l;

	if (!by_key || !by_ino) {
		free(by_key);
		free(by_ino);
		return;
	}
	/* Every linked entry is on the ring: rebuild the chains from it. */
	for (l = s->clock.next; l != &s->clock; l = l->next) {
		struct cache_entry *e = cache_entry_of_link(l);

		chain_add(&by_key[e->hash & (n - 1)], e, false);
		chain_add(&by_ino[e->ino_hash & (n - 1)], e, true);
	}
	free(s->by_key);
	free(s->by_ino);
	s->by_key = by_key;
	s->by_ino = by_ino;
	s->mask = n - 1;
}

void cache_detach(struct cache_shard *s, struct cache_entry *e, struct cache_reap *reap)
{
	assert(!(e->flags & CACHE_F_ZOMBIE));
	chain_del(e);
	link_del(&e->clock);
	s->count--;
	/* acq_rel: the pinners' reads of the payload happen before the free. */
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
		s->stats[e->kind].bytes -= cache_entry_size(e);
		s->stats[e->kind].entries--;
		e->key_next = reap->head;
		reap->head = e;
		return;
	}
	e->flags |= CACHE_F_ZOMBIE;
	link_add_tail(&s->zombies_list, &e->clock);
	s->zombies++;
}

static void unreserve(struct cache *c, size_t cost)
{
	size_t was = atomic_fetch_sub(&c->used, cost);

	assert(was >= cost);
	(void)was;
}

void cache_reap(struct cache *c, struct cache_reap *reap)
{
	while (reap->head) {
		struct cache_entry *e = reap->head;
		size_t cost = cache_entry_size(e);

		reap->head = e->key_next;
		free(e);
		unreserve(c, cost);
	}
}

/*
 * Under s->lock: move the CLOCK hand of @s until @need bytes are evicted
 * or no entry of the shard can go. Each entry is looked at no more than
 * twice (once to clear its bit, once to evict it), so the walk is bounded
 * even when everything is pinned. Returns the bytes put on @reap.
 */
static size_t shard_evict(struct cache_shard *s, size_t need, struct cache_reap *reap)
{
	size_t freed = 0;
	size_t steps = 2 * s->count;

	while (freed < need && s->count > 0 && steps-- > 0) {
		struct cache_entry *e = cache_entry_of_link(s->clock.next);
		bool pinned = atomic_load_explicit(&e->refs, memory_order_relaxed) != 1;

		if (!pinned && !(e->flags & CACHE_F_REFERENCED)) {
			s->stats[e->kind].evictions++;
			freed += cache_entry_size(e);
			cache_detach(s, e, reap);
			assert(reap->head == e); /* unpinned under the lock: freed */
			continue;
		}
		/*
		 * A pinned entry is passed over and keeps its bit (it is in
		 * use right now); a referenced one gets its second chance.
		 */
		if (!pinned)
			e->flags &= (uint8_t)~CACHE_F_REFERENCED;
		link_del(&e->clock);
		link_add_tail(&s->clock, &e->clock);
	}
	return freed;
}

/*
 * Evict at least @need bytes if possible, beginning at the shard the
 * global hand points to and moving it on, so successive evictions visit the
 * shards in turn. Takes one shard lock at a time. Returns the bytes freed
 * (already given back to the budget).
 */
static size_t evict(struct cache *c, size_t need)
{
	unsigned start = atomic_fetch_add_explicit(&c->hand, 1, memory_order_relaxed);
	size_t freed = 0;
	unsigned i;

	for (i = 0; i < c->nshards && freed < need; i++) {
		struct cache_shard *s = &c->shards[(start + i) & (c->nshards - 1)];
		struct cache_reap reap = {NULL};

		pthread_mutex_lock(&s->lock);
		freed += shard_evict(s, need - freed, &reap);
		pthread_mutex_unlock(&s->lock);
		cache_reap(c, &reap);
	}
	return freed;
}

/*
 * Reserve @cost bytes (<= budget) of the budget, evicting as needed.
 * The compare-and-swap is the only way `used` goes up, and it checks the
 * sum first: this is what keeps the cache within its budget.
 * Returns 0, or -ENOMEM when room could not be made.
 */
static int reserve(struct cache *c, size_t cost)
{
	unsigned idle = 0;
	unsigned round;

	for (round = 0; round < CACHE_RESERVE_ROUNDS; round++) {
		size_t cur = atomic_load(&c->used);

		while (cur <= c->budget - cost)
			if (atomic_compare_exchange_weak(&c->used, &cur, cur + cost))
				return 0;
		/*
		 * Nothing evictable anywhere: try once more (another thread
		 * may have freed room meanwhile), then give up.
		 */
		if (evict(c, cur + cost - c->budget) == 0 && ++idle == 2)
			break;
	}
	return -ENOMEM;
}

int cache_new(const struct cache_config *cfg, struct cache **out)
{
	size_t budget = cfg && cfg->budget ? cfg->budget : CACHE_BUDGET_DEFAULT;
	unsigned nshards = cfg && cfg->shards ? cfg->shards : CACHE_SHARDS_DEFAULT;
	size_t buckets = CACHE_BUCKETS_MIN, buckets_max = CACHE_BUCKETS_MIN;
	struct cache *c = NULL;
	unsigned bits = 0;
	unsigned i;
	int rc = -EINVAL;

	if (!out || budget > SIZE_MAX / 2 || nshards > CACHE_SHARDS_MAX ||
	    (nshards & (nshards - 1)) != 0)
		goto err;
	while ((1u << bits) < nshards)
		bits++;
	while (buckets_max * 2 <= budget / nshards / CACHE_BUDGET_PER_BUCKET)
		buckets_max *= 2;
	while (buckets < CACHE_BUCKETS_INIT_MAX && buckets < buckets_max &&
	       buckets < budget / nshards / cache_entry_cost(CACHE_PAGE_SIZE, 0))
		buckets *= 2;

	rc = -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto err;
	c->budget = budget;
	c->buckets_max = buckets_max;
	atomic_init(&c->used, 0);
	atomic_init(&c->hand, 0);
	c->nshards = nshards;
	c->shard_shift = 64 - bits;
	c->shards = aligned_alloc(alignof(struct cache_shard), nshards * sizeof(*c->shards));
	if (!c->shards)
		goto err;
	memset(c->shards, 0, nshards * sizeof(*c->shards));
	for (i = 0; i < nshards; i++) {
		struct cache_shard *s = &c->shards[i];

		link_init(&s->clock);
		link_init(&s->zombies_list);
		s->mask = buckets - 1;
		s->by_key = calloc(buckets, sizeof(*s->by_key));
		s->by_ino = calloc(buckets, sizeof(*s->by_ino));
		if (!s->by_key || !s->by_ino || pthread_mutex_init(&s->lock, NULL) != 0) {
			free(s->by_key);
			free(s->by_ino);
			break;
		}
	}
	if (i < nshards) {
		c->nshards = i; /* free only the shards that were set up */
		goto err;
	}
	*out = c;
	return 0;
err:
	cache_free(c);
	return rc;
}

void cache_free(struct cache *c)
{
	unsigned i;

	if (!c)
		return;
	for (i = 0; c->shards && i < c->nshards; i++) {
		struct cache_shard *s = &c->shards[i];

		while (s->clock.next != &s->clock) {
			struct cache_entry *e = cache_entry_of_link(s->clock.next);
			struct cache_reap reap = {NULL};

			/* a pinned entry here is a missing cache_put(): leak it */
			assert(atomic_load(&e->refs) == 1);
			cache_detach(s, e, &reap);
			cache_reap(c, &reap);
		}
		assert(s->zombies == 0);
		pthread_mutex_destroy(&s->lock);
		free(s->by_key);
		free(s->by_ino);
	}
	free(c->shards);
	free(c);
}

static int get_key(struct cache *c, const struct cache_key *k, struct cache_ref **out)
{
	struct cache_shard *s = cache_shard_of(c, k->ino_hash);
	struct cache_entry *e;

	pthread_mutex_lock(&s->lock);
	e = cache_shard_find(s, k);
	if (e) {
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
		e->flags |= CACHE_F_REFERENCED;
		s->stats[k->kind].hits++;
	} else {
		s->stats[k->kind].misses++;
	}
	pthread_mutex_unlock(&s->lock);
	if (!e)
		return -ENOENT;
	*out = cache_ref_of(e);
	return 0;
}

static int insert_key(struct cache *c, const struct cache_key *k, const void *data, size_t len,
		      uint64_t stamp, struct cache_ref **out)
{
	struct cache_shard *s = cache_shard_of(c, k->ino_hash);
	size_t cost = cache_entry_cost(len, k->namelen);
	struct cache_reap reap = {NULL};
	struct cache_entry *e, *old;
	int rc;

	rc = -EFBIG;
	if (cost > c->budget)
		goto fail;
	rc = reserve(c, cost);
	if (rc)
		goto fail;
	/* From here on, `cost` bytes of the budget are this entry's. */
	e = malloc(cost);
	if (!e) {
		unreserve(c, cost);
		rc = -ENOMEM;
		goto fail;
	}
	memset(e, 0, sizeof(*e));
	e->hash = k->hash;
	e->ino_hash = k->ino_hash;
	e->ino = k->ino;
	e->version = k->version;
	e->index = k->index;
	e->kind = k->kind;
	e->len = len;
	e->namelen = k->namelen;
	atomic_init(&e->stamp, stamp);
	atomic_init(&e->refs, out ? 2u : 1u);
	if (len)
		memcpy(e->bytes, data, len);
	if (k->namelen)
		memcpy(e->bytes + len, k->name, k->namelen);

	pthread_mutex_lock(&s->lock);
	old = cache_shard_find(s, k);
	if (old) {
		s->stats[k->kind].replacements++;
		cache_detach(s, old, &reap);
	}
	shard_link(s, e);
	s->stats[k->kind].insertions++;
	s->stats[k->kind].bytes += cost;
	s->stats[k->kind].entries++;
	if (s->count > s->mask + 1 && s->mask + 1 < c->buckets_max)
		shard_grow(s);
	pthread_mutex_unlock(&s->lock);
	cache_reap(c, &reap);
	if (out)
		*out = cache_ref_of(e);
	return 0;
fail:
	pthread_mutex_lock(&s->lock);
	s->stats[k->kind].insert_failures++;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int cache_get_page(struct cache *c, uint64_t ino, uint64_t version, uint32_t index,
		   struct cache_ref **out)
{
	struct cache_key k;

	if (!c || !out)
		return -EINVAL;
	cache_key_init(&k, CACHE_KIND_PAGE, ino, version, index, NULL, 0);
	return get_key(c, &k, out);
}

int cache_get_attr(struct cache *c, uint64_t ino, struct cache_ref **out)
{
	struct cache_key k;

	if (!c || !out)
		return -EINVAL;
	cache_key_init(&k, CACHE_KIND_ATTR, ino, 0, 0, NULL, 0);
	return get_key(c, &k, out);
}

int cache_get_listing(struct cache *c, uint64_t dir, struct cache_ref **out)
{
	struct cache_key k;

	if (!c || !out)
		return -EINVAL;
	cache_key_init(&k, CACHE_KIND_LISTING, dir, 0, 0, NULL, 0);
	return get_key(c, &k, out);
}

int cache_get_negative(struct cache *c, uint64_t parent, const char *name, size_t namelen,
		       struct cache_ref **out)
{
	struct cache_key k;

	if (!c || !out || cache_key_init(&k, CACHE_KIND_NEGATIVE, parent, 0, 0, name, namelen))
		return -EINVAL;
	return get_key(c, &k, out);
}

int cache_insert_page(struct cache *c, uint64_t ino, uint64_t version, uint32_t index,
		      const void *data, size_t len, uint64_t stamp, struct cache_ref **out)
{
	struct cache_key k;

	if (!c || len > CACHE_PAGE_SIZE || (!data && len))
		return -EINVAL;
	cache_key_init(&k, CACHE_KIND_PAGE, ino, version, index, NULL, 0);
	return insert_key(c, &k, data, len, stamp, out);
}

int cache_insert_attr(struct cache *c, uint64_t ino, const void *data, size_t len, uint64_t stamp,
		      struct cache_ref **out)
{
	struct cache_key k;

	if (!c || len > CACHE_ATTR_MAX || (!data && len))
		return -EINVAL;
	cache_key_init(&k, CACHE_KIND_ATTR, ino, 0, 0, NULL, 0);
	return insert_key(c, &k, data, len, stamp, out);
}

int cache_insert_listing(struct cache *c, uint64_t dir, const void *data, size_t len,
			 uint64_t stamp, struct cache_ref **out)
{
	struct cache_key k;

	if (!c || (!data && len))
		return -EINVAL;
	cache_key_init(&k, CACHE_KIND_LISTING, dir, 0, 0, NULL, 0);
	return insert_key(c, &k, data, len, stamp, out);
}

int cache_insert_negative(struct cache *c, uint64_t parent, const char *name, size_t namelen,
			  uint64_t stamp, struct cache_ref **out)
{
	struct cache_key k;

	if (!c || cache_key_init(&k, CACHE_KIND_NEGATIVE, parent, 0, 0, name, namelen))
		return -EINVAL;
	return insert_key(c, &k, NULL, 0, stamp, out);
}

void cache_put(struct cache *c, struct cache_ref *ref)
{
	struct cache_entry *e = cache_entry_of(ref);
	struct cache_reap reap = {NULL};
	struct cache_shard *s;

	if (!ref)
		return;
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
		return;
	/*
	 * The last reference of an unlinked entry: the table dropped its own
	 * when it made the entry a zombie (under the shard lock, which we
	 * take here to take it off the zombie list).
	 */
	s = cache_shard_of(c, e->ino_hash);
	pthread_mutex_lock(&s->lock);
	assert(e->flags & CACHE_F_ZOMBIE);
	link_del(&e->clock);
	s->zombies--;
	s->stats[e->kind].bytes -= cache_entry_size(e);
	s->stats[e->kind].entries--;
	pthread_mutex_unlock(&s->lock);
	e->key_next = NULL;
	reap.head = e;
	cache_reap(c, &reap);
}

const void *cache_ref_data(const struct cache_ref *ref)
{
	return cache_entry_of(ref)->bytes;
}

size_t cache_ref_len(const struct cache_ref *ref)
{
	return cache_entry_of(ref)->len;
}

uint64_t cache_ref_stamp(const struct cache_ref *ref)
{
	return atomic_load_explicit(&cache_entry_of(ref)->stamp, memory_order_relaxed);
}

void cache_ref_set_stamp(struct cache_ref *ref, uint64_t stamp)
{
	atomic_store_explicit(&cache_entry_of(ref)->stamp, stamp, memory_order_relaxed);
}
