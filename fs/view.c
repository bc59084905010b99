/*
 * view.c - the mount's view of the store: the read cache (cache/), the
 * change log that keeps it and the kernel's caches true, and the counters.
 * docs/consistency.md states the contract this implements.
 *
 * Every change to the store, this mount's own or another's, is a record
 * in the store's change log (store.h). The view follows the log:
 *  - after each request of this mount that wrote, it reads the records the
 *    request added and drops what they make stale in the read cache;
 *  - before serving a request, at most every cache_ttl seconds (at once
 *    for a strong read: fsync, fsyncdir, O_DIRECT or O_SYNC opens,
 *    consistent_reads), it compares the store's generation with the last
 *    it saw and, only if it moved, reads the records other mounts added,
 *    drops what they make stale here, and tells the kernel (asynchronously,
 *    see below) to forget its attributes, pages and names for them.
 * So nothing the cache hands out is older than cache_ttl, and a strong
 * read when nothing changed costs one read of LMDB's meta page.
 *
 * The kernel keeps names and attributes long (FS_KERNEL_TIMEOUT): warm
 * stat, ls -l and open then cost no round trip. What keeps them true is
 * the watcher, on the notifier thread: every cache_ttl / 2 it compares the
 * store's generation, and if it moved, reads the new records itself and
 * queues the kernel invalidations for other mounts' changes, whether or
 * not a request comes. Before queueing them it counts a poke, so that the
 * first request the invalidations bring makes the session thread read the
 * log too (and drop what it names from the read cache), TTL or not. A
 * poke is a count, not a generation: a networked store's log can be ahead
 * of the generation its poller last saw, and the records the watcher
 * found must reach the session thread even when the generation did not
 * move. This mount's
 * own changes went through the kernel, which updated or dropped what they
 * touched; the one thing it cannot know, a writer's attributes it fetched
 * before the writer committed, is invalidated at the commit (fs.h,
 * kattr_dirty).
 *
 * Kernel notifications run on a thread of their own: the kernel takes
 * page and directory locks to carry them out, and a request holding those
 * locks may be waiting, in the queue of this single-threaded session, for
 * the reply only the session thread can send. The session thread queues
 * and goes on. fsync of a file the kernel caches needs its pages gone
 * before it returns: its reply is queued behind the invalidation, and the
 * notifier thread sends it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"

/* One queued kernel notification, or a reply to send after the ones before. */
struct fs_note {
	enum { NOTE_INODE, NOTE_ENTRY, NOTE_REPLY } kind;
	uint64_t ino;	/* INODE: the inode; ENTRY: the parent */
	bool pages;	/* INODE: its pages too, not only its attributes */
	fuse_req_t req; /* REPLY: the request to answer with 0 */
	size_t namelen;
	struct fs_note *next;
	char name[];	/* ENTRY: NUL-terminated */
};

struct fs_notifier {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;	     /* CLOCK_MONOTONIC */
	struct fs_note *head, *tail; /* (mu) */
	bool stop;		     /* (mu) */
	struct fuse_session *se;

	/* The watcher: set up before the thread starts, then its own. */
	struct store *store;
	uint64_t origin;	   /* our records: the kernel saw those changes */
	double period;		   /* seconds between looks; 0: no watcher */
	uint64_t gen, seq;	   /* generation and last record it has seen */
	_Atomic uint64_t poke;	   /* times it found others' records (the session acks) */
	_Atomic uint64_t looks;	   /* generation comparisons */
	_Atomic uint64_t found;	   /* others' records it found */
};

static struct fs_note *note_new_inode(uint64_t ino, bool pages)
{
	struct fs_note *note = calloc(1, sizeof(*note));

	if (note) {
		note->kind = NOTE_INODE;
		note->ino = ino;
		note->pages = pages;
	}
	return note;
}

static struct fs_note *note_new_entry(uint64_t parent, const char *name, size_t len)
{
	struct fs_note *note = calloc(1, sizeof(*note) + len + 1);

	if (note) {
		note->kind = NOTE_ENTRY;
		note->ino = parent;
		note->namelen = len;
		memcpy(note->name, name, len);
	}
	return note;
}

/* Queues a note for the notifier thread. */
static void queue_push(struct fs_notifier *n, struct fs_note *note)
{
	note->next = NULL;
	pthread_mutex_lock(&n->mu);
	if (n->tail)
		n->tail->next = note;
	else
		n->head = note;
	n->tail = note;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->mu);
}

/*
 * Queues a note of the watcher. Out of memory, the note is lost: the kernel
 * keeps that copy until the session thread's own reading of the log queues
 * it again (at its next request past cache_ttl), or FS_KERNEL_TIMEOUT.
 */
static void watch_add(struct fs_notifier *n, struct fs_note *note)
{
	if (note)
		queue_push(n, note);
}

/* What the kernel must forget for one record (the same as apply_change()). */
static int watch_change(void *arg, const struct store_change *c)
{
	struct fs_notifier *n = arg;

	n->seq = c->seq;
	if (c->origin == n->origin)
		return 0;
	atomic_fetch_add_explicit(&n->found, 1, memory_order_relaxed);
	if (c->kind == STORE_CHANGE_INODE) {
		watch_add(n, note_new_inode(c->ino, false));
	} else if (c->namelen) {
		watch_add(n, note_new_entry(c->parent, c->name, c->namelen));
		watch_add(n, note_new_inode(c->parent, false));
	}
	return 0;
}

/*
 * One look of the watcher, on the notifier thread (without mu): if the
 * store's generation moved, reads the records since the last look, queues
 * the kernel invalidations for other mounts' changes and raises poke. The
 * notes queued here are sent by this same thread, after it returns: poke
 * is always raised before the kernel hears of them.
 */
static void watch_once(struct fs_notifier *n)
{
	struct store_txn *txn;
	uint64_t gen = store_generation(n->store), before;
	int rc;

	atomic_fetch_add_explicit(&n->looks, 1, memory_order_relaxed);
	if (gen == n->gen)
		return;
	n->gen = gen;
	before = atomic_load_explicit(&n->found, memory_order_relaxed);
	rc = store_txn_begin(n->store, STORE_TXN_READ, &txn);
	if (rc == 0) {
		rc = store_changes(txn, n->seq, watch_change, n);
		if (rc == -ESTALE) /* trimmed past us: the session thread forgets all */
			rc = store_change_last(txn, &n->seq);
		store_txn_abort(txn);
	}
	if (rc == 0 && atomic_load_explicit(&n->found, memory_order_relaxed) == before)
		return; /* only our own records */
	/* The requests the invalidations bring must refresh the read cache. */
	atomic_fetch_add_explicit(&n->poke, 1, memory_order_release);
}

/* The CLOCK_MONOTONIC instant secs from now, for pthread_cond_timedwait(). */
static struct timespec mono_after(double secs)
{
	double t = fs_mono_now() + secs;
	struct timespec ts = {.tv_sec = (time_t)t};

	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	return ts;
}

static void *notifier_main(void *arg)
{
	struct fs_notifier *n = arg;
	struct timespec next = mono_after(0);

	pthread_mutex_lock(&n->mu);
	for (;;) {
		struct fs_note *note;

		while (!n->head && !n->stop) {
			if (n->period <= 0) {
				pthread_cond_wait(&n->cond, &n->mu);
				continue;
			}
			if (pthread_cond_timedwait(&n->cond, &n->mu, &next) != ETIMEDOUT)
				continue;
			pthread_mutex_unlock(&n->mu);
			watch_once(n);
			next = mono_after(n->period);
			pthread_mutex_lock(&n->mu);
		}
		note = n->head;
		if (!note)
			break; /* stopped, queue drained */
		n->head = note->next;
		if (!n->head)
			n->tail = NULL;
		pthread_mutex_unlock(&n->mu);
		/* -ENOENT (the kernel does not hold it) is the common, fine answer. */
		if (note->kind == NOTE_INODE)
			fuse_lowlevel_notify_inval_inode(n->se, note->ino, note->pages ? 0 : -1, 0);
		else if (note->kind == NOTE_ENTRY)
			fuse_lowlevel_notify_inval_entry(n->se, note->ino, note->name,
							 note->namelen);
		else
			fuse_reply_err(note->req, 0);
		free(note);
		pthread_mutex_lock(&n->mu);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

/*
 * Queue kernel invalidations. Out of memory, a note is lost and the kernel
 * keeps what it holds until FS_KERNEL_TIMEOUT or memory pressure drops it.
 */
static void note_inode(struct fs_ctx *ctx, uint64_t ino, bool pages)
{
	struct fs_note *note = ctx->notifier ? note_new_inode(ino, pages) : NULL;

	if (!note)
		return;
	ctx->stats.kernel_notes++;
	queue_push(ctx->notifier, note);
}

static void note_entry(struct fs_ctx *ctx, uint64_t parent, const char *name, size_t len)
{
	struct fs_note *note = ctx->notifier ? note_new_entry(parent, name, len) : NULL;

	if (!note)
		return;
	ctx->stats.kernel_notes++;
	queue_push(ctx->notifier, note);
}

/*
 * Has the kernel drop ino's attributes now, before the current request's
 * reply. Attributes only: that takes no page or directory lock, so unlike
 * the other invalidations the session thread may send it itself.
 */
void fs_view_inval_attr_now(struct fs_ctx *ctx, uint64_t ino)
{
	fuse_lowlevel_notify_inval_inode(ctx->se, ino, -1, 0);
}

void fs_view_reply_after_notes(struct fs_ctx *ctx, fuse_req_t req)
{
	struct fs_note *note = ctx->notifier ? calloc(1, sizeof(*note)) : NULL;

	if (!note) {
		fuse_reply_err(req, 0);
		return;
	}
	note->kind = NOTE_REPLY;
	note->req = req;
	queue_push(ctx->notifier, note);
}

int fs_view_init(struct fs_ctx *ctx)
{
	struct cache_config cfg = {.budget = ctx->opts.cache_size};
	int rc = cache_new(&cfg, &ctx->cache);

	if (rc)
		return rc;
	ctx->view_gen = store_generation(ctx->store);
	ctx->view_checked = fs_mono_now();
	if (!ctx->snapshot) {
		struct store_txn *txn;
		rc = fs_txn_read(ctx, &txn);
		if (rc == 0) {
			rc = store_change_last(txn, &ctx->view_seq);
			fs_txn_read_end(ctx, txn);
		}
	}
	return rc;
}

/* Starts the notifier; called once the session exists. */
int fs_view_start(struct fs_ctx *ctx)
{
	struct fs_notifier *n = calloc(1, sizeof(*n));
	pthread_condattr_t ca;

	if (!n)
		return -ENOMEM;
	pthread_mutex_init(&n->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->cond, &ca);
	pthread_condattr_destroy(&ca);
	n->se = ctx->se;
	n->store = ctx->store;
	n->origin = ctx->origin;
	n->gen = ctx->view_gen;
	n->seq = ctx->view_seq;
	atomic_init(&n->poke, 0);
	atomic_init(&n->looks, 0);
	atomic_init(&n->found, 0);
	if (fs_watching(&ctx->opts))
		n->period = ctx->opts.cache_ttl / 2;
	if (pthread_create(&n->thread, NULL, notifier_main, n) != 0) {
		pthread_mutex_destroy(&n->mu);
		pthread_cond_destroy(&n->cond);
		free(n);
		return -EAGAIN;
	}
	ctx->notifier = n;
	return 0;
}

/* Sends what is queued and stops the notifier (before the session ends). */
void fs_view_stop(struct fs_ctx *ctx)
{
	struct fs_notifier *n = ctx->notifier;

	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->stop = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->thread, NULL);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cond);
	free(n);
	ctx->notifier = NULL;
}

void fs_view_destroy(struct fs_ctx *ctx)
{
	fs_view_stop(ctx);
	cache_free(ctx->cache);
	ctx->cache = NULL;
}

/* Everything may have changed: the log was trimmed past us, or a batch was lost. */
static void forget_everything(struct fs_ctx *ctx)
{
	cache_invalidate_all(ctx->cache);
	ctx->stats.full_invalidations++;
	for (size_t i = 0; i < ctx->itab.nbuckets; i++)
		for (struct fs_inode *in = ctx->itab.buckets[i]; in; in = in->next) {
			in->kversion = 0;
			in->list_gen++;
			note_inode(ctx, in->ino, in->ncached == 0);
		}
}

static int apply_change(void *arg, const struct store_change *c)
{
	struct fs_ctx *ctx = arg;
	bool foreign = c->origin != ctx->origin;
	struct fs_inode *in;

	ctx->view_seq = c->seq;
	ctx->stats.changes++;
	if (foreign)
		ctx->stats.foreign_changes++;
	/* Our own changes the kernel did not make itself: tell it as for others'. */
	foreign = foreign || ctx->view_behind_kernel;
	if (c->kind == STORE_CHANGE_INODE) {
		cache_invalidate_ino(ctx->cache, c->ino);
		in = fs_inode_find(&ctx->itab, c->ino);
		if (in && foreign) {
			/*
			 * Pages the kernel holds of the old version stay while files
			 * read them (they are that version's); the next open that is
			 * not of that version drops them (ops_file.c). Attributes go now.
			 */
			note_inode(ctx, c->ino, false);
		}
		return 0;
	}
	/* An entry of c->parent appeared or went. */
	cache_invalidate_listing(ctx->cache, c->parent);
	cache_invalidate_attr(ctx->cache, c->parent);
	if (c->namelen && c->namelen <= CACHE_NAME_MAX)
		cache_invalidate_negative(ctx->cache, c->parent, c->name, c->namelen);
	else
		cache_invalidate_negatives(ctx->cache, c->parent);
	in = fs_inode_find(&ctx->itab, c->parent);
	if (in)
		in->list_gen++;
	if (foreign && c->namelen) {
		note_entry(ctx, c->parent, c->name, c->namelen);
		note_inode(ctx, c->parent, false);
	}
	return 0;
}

/* Reads and applies the log records past ctx->view_seq. */
static void follow_log(struct fs_ctx *ctx)
{
	struct store_txn *txn;
	int rc = fs_txn_read(ctx, &txn);

	if (rc == 0) {
		rc = store_changes(txn, ctx->view_seq, apply_change, ctx);
		if (rc == -ESTALE)
			rc = store_change_last(txn, &ctx->view_seq);
		else
			rc = rc ? rc : 1;
		fs_txn_read_end(ctx, txn);
	}
	if (rc <= 0) {
		/* Trimmed past us, or unreadable: drop it all, start again from here. */
		if (rc < 0)
			fs_log(LOG_WARNING,
			       "store %s: cannot read its change log (%s): dropping every cached "
			       "entry; if this repeats, run `itemfs check` on the store",
			       ctx->opts.store_path, strerror(-rc));
		forget_everything(ctx);
	}
}

/* The watcher's pokes so far (0 without a watcher). */
static uint64_t watcher_pokes(const struct fs_ctx *ctx)
{
	return ctx->notifier ? atomic_load_explicit(&ctx->notifier->poke, memory_order_acquire) : 0;
}

int fs_view_refresh(struct fs_ctx *ctx, bool strong)
{
	uint64_t gen, pokes = watcher_pokes(ctx);
	bool poked = pokes != ctx->view_pokes;
	double now;
	int rc;

	if (ctx->snapshot)
		return 0;
	now = fs_mono_now();
	if (strong || ctx->opts.consistent_reads) {
		ctx->stats.strong_reads++;
		/*
		 * A backend whose reads may lag (DynamoDB's eventual reads) reads
		 * its commit counter strongly here, and strongly after: the
		 * generation below then covers every commit made anywhere before.
		 */
		rc = store_read_barrier(ctx->store);
		if (rc)
			return rc;
	} else if (now < ctx->view_checked + ctx->opts.cache_ttl && !poked)
		return 0;
	ctx->view_checked = now;
	ctx->view_pokes = pokes;
	gen = store_generation(ctx->store);
	if (gen == ctx->view_gen && !poked)
		return 0; /* nothing committed anywhere since we looked */
	ctx->view_gen = gen;
	ctx->stats.log_reads++;
	follow_log(ctx);
	return 0;
}

void fs_view_after_request(struct fs_ctx *ctx)
{
	if (!ctx->view_wrote)
		return;
	ctx->view_wrote = false;
	follow_log(ctx);
	/*
	 * The commits we made moved the generation; whatever else moved it is
	 * in the records just read too, unless it committed since: the next
	 * refresh compares again.
	 */
	ctx->view_gen = store_generation(ctx->store);
}

/* The cache holds struct store_attr as it is: a copy within one process. */
int fs_view_attr(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino, struct store_attr *out)
{
	struct cache_ref *ref;
	int rc;

	if (!ctx->view_wrote && cache_get_attr(ctx->cache, ino, &ref) == 0) {
		memcpy(out, cache_ref_data(ref), sizeof(*out));
		cache_put(ctx->cache, ref);
		return 0;
	}
	rc = store_inode_get(txn, ino, out);
	if (rc == 0 && !ctx->view_wrote)
		cache_insert_attr(ctx->cache, ino, out, sizeof(*out), 0, NULL);
	return rc;
}

bool fs_view_attr_cached(struct fs_ctx *ctx, uint64_t ino)
{
	struct cache_ref *ref;

	if (ctx->view_wrote || cache_get_attr(ctx->cache, ino, &ref) != 0)
		return false;
	cache_put(ctx->cache, ref);
	return true;
}

int fs_view_open_attr(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino,
		      struct store_attr *out)
{
	if (fs_has(ctx, STORE_HAS_LOCAL_READS) || ctx->opts.consistent_reads)
		return store_inode_get(txn, ino, out);
	return fs_view_attr(ctx, txn, ino, out);
}

int fs_view_lookup(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent, const char *name,
		   size_t len, uint64_t *ino)
{
	struct cache_ref *ref;
	int rc;

	if (!ctx->view_wrote && cache_get_negative(ctx->cache, parent, name, len, &ref) == 0) {
		cache_put(ctx->cache, ref);
		return -ENOENT;
	}
	rc = store_dirent_get(txn, parent, name, len, ino);
	if (rc == -ENOENT && !ctx->view_wrote)
		cache_insert_negative(ctx->cache, parent, name, len, 0, NULL);
	return rc;
}

/*
 * A listing blob: entries one after another, each u64 ino, u32 mode,
 * u16 name length, then the name; in key order as the store gave them.
 */
struct listing_buf {
	char *p;
	size_t len, cap;
};

static int listing_add(void *arg, const struct store_dirent *ent)
{
	struct listing_buf *b = arg;
	size_t need = 14 + ent->namelen;
	uint16_t nl = (uint16_t)ent->namelen;

	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *p;
		while (cap < b->len + need)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, &ent->ino, 8);
	memcpy(b->p + b->len + 8, &ent->mode, 4);
	memcpy(b->p + b->len + 12, &nl, 2);
	memcpy(b->p + b->len + 14, ent->name, ent->namelen);
	b->len += need;
	return 0;
}

static int listing_replay(const char *p, size_t len, store_dirent_fn fn, void *arg)
{
	for (size_t off = 0; off + 14 <= len;) {
		struct store_dirent ent;
		uint16_t nl;
		int rc;

		memcpy(&ent.ino, p + off, 8);
		memcpy(&ent.mode, p + off + 8, 4);
		memcpy(&nl, p + off + 12, 2);
		ent.name = p + off + 14;
		ent.namelen = nl;
		rc = fn(arg, &ent);
		if (rc)
			return rc;
		off += 14 + (size_t)nl;
	}
	return 0;
}

int fs_view_list(struct fs_ctx *ctx, struct store_txn *txn, uint64_t dir, store_dirent_fn fn,
		 void *arg)
{
	struct listing_buf b = {NULL, 0, 0};
	struct cache_ref *ref;
	int rc;

	if (!ctx->view_wrote && cache_get_listing(ctx->cache, dir, &ref) == 0) {
		rc = listing_replay(cache_ref_data(ref), cache_ref_len(ref), fn, arg);
		cache_put(ctx->cache, ref);
		return rc;
	}
	rc = store_dir_list(txn, dir, listing_add, &b);
	if (rc == 0) {
		if (!ctx->view_wrote)
			cache_insert_listing(ctx->cache, dir, b.p, b.len, 0, NULL);
		rc = listing_replay(b.p, b.len, fn, arg);
	}
	free(b.p);
	return rc;
}

void fs_view_pages_put(struct fs_ctx *ctx, struct fs_file *f)
{
	for (size_t i = 0; i < f->npages; i++)
		cache_put(ctx->cache, f->pages[i]);
	free(f->pages);
	f->pages = NULL;
	f->npages = 0;
	f->paged = false;
}

/* Pins every page of version a->version of the item; false if one is missing. */
static bool pages_pin(struct fs_ctx *ctx, const struct store_attr *a, struct cache_ref **refs,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (cache_get_page(ctx->cache, a->ino, a->version, (uint32_t)i, &refs[i]) != 0) {
			while (i--)
				cache_put(ctx->cache, refs[i]);
			return false;
		}
	}
	return true;
}

/* Inserts buf as the pages of version a->version, pinned into refs; false on failure. */
static bool pages_insert(struct fs_ctx *ctx, const struct store_attr *a, const char *buf,
			 size_t len, struct cache_ref **refs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t off = i * CACHE_PAGE_SIZE;
		size_t plen = len - off < CACHE_PAGE_SIZE ? len - off : CACHE_PAGE_SIZE;
		if (cache_insert_page(ctx->cache, a->ino, a->version, (uint32_t)i, buf + off, plen,
				      0, &refs[i]) != 0) {
			while (i--)
				cache_put(ctx->cache, refs[i]);
			return false;
		}
	}
	return true;
}

int fs_view_read_item(struct fs_ctx *ctx, struct store_txn *txn, struct store_attr *a,
		      struct fs_file *f)
{
	size_t n = (size_t)((a->size + CACHE_PAGE_SIZE - 1) / CACHE_PAGE_SIZE);
	struct cache_ref **refs = calloc(n ? n : 1, sizeof(*refs));
	struct store_buf buf = {NULL, 0};
	int rc;

	if (!refs)
		return -ENOMEM;
	if (!ctx->view_wrote && !f->writable && pages_pin(ctx, a, refs, n)) {
		f->pages = refs;
		f->npages = n;
		f->paged = true;
		f->len = (size_t)a->size;
		return 0;
	}
	rc = store_data_get(txn, a->ino, &buf);
	if (rc == 0 && !fs_has(ctx, STORE_HAS_LOCAL_READS)) {
		/*
		 * a may be the read cache's (fs_view_open_attr()), and the bytes
		 * just read are the store's latest version: take the attributes
		 * the store checked them against (the same transaction's), or the
		 * pages of an older version (the kernel's, or ours under its key)
		 * would pass for these.
		 */
		struct store_attr cur;

		rc = store_inode_get(txn, a->ino, &cur);
		if (rc == 0 && (cur.version != a->version || cur.size != a->size)) {
			*a = cur;
			n = (size_t)((a->size + CACHE_PAGE_SIZE - 1) / CACHE_PAGE_SIZE);
			free(refs);
			refs = calloc(n ? n : 1, sizeof(*refs));
			rc = refs ? 0 : -ENOMEM;
		}
		if (rc)
			free(buf.data);
	}
	if (rc) {
		free(refs);
		return rc;
	}
	if (!ctx->view_wrote && !f->writable && buf.len == a->size &&
	    pages_insert(ctx, a, buf.data, buf.len, refs, n)) {
		free(buf.data);
		f->pages = refs;
		f->npages = n;
		f->paged = true;
		f->len = buf.len;
		return 0;
	}
	free(refs);
	f->data = buf.data; /* a private copy: a writer's, or the cache is full */
	f->len = f->cap = buf.len;
	return 0;
}

/* Appends "name value\n" to the stats text. */
static void stat_line(FILE *out, const char *prefix, const char *name, uint64_t v)
{
	fprintf(out, "%s%s %" PRIu64 "\n", prefix, name, v);
}

int fs_view_stats_text(struct fs_ctx *ctx, char **out, size_t *len)
{
	struct cache_stats cs;
	FILE *f = open_memstream(out, len);

	if (!f)
		return -ENOMEM;
	cache_stats(ctx->cache, &cs);
	for (int k = 0; k < CACHE_KIND_COUNT; k++) {
		const struct cache_kind_stats *s = &cs.kind[k];
		char prefix[32];

		snprintf(prefix, sizeof(prefix), "%s.", cache_kind_name((enum cache_kind)k));
		stat_line(f, prefix, "hits", s->hits);
		stat_line(f, prefix, "misses", s->misses);
		stat_line(f, prefix, "insertions", s->insertions);
		stat_line(f, prefix, "evictions", s->evictions);
		stat_line(f, prefix, "invalidations", s->invalidations);
		stat_line(f, prefix, "bytes", s->bytes);
		stat_line(f, prefix, "entries", s->entries);
	}
	stat_line(f, "cache.", "budget", cs.budget);
	stat_line(f, "cache.", "bytes", cs.bytes);
	stat_line(f, "cache.", "entries", cs.entries);
	stat_line(f, "consistency.", "strong_reads", ctx->stats.strong_reads);
	stat_line(f, "consistency.", "log_reads", ctx->stats.log_reads);
	stat_line(f, "consistency.", "changes", ctx->stats.changes);
	stat_line(f, "consistency.", "foreign_changes", ctx->stats.foreign_changes);
	stat_line(f, "consistency.", "full_invalidations", ctx->stats.full_invalidations);
	stat_line(f, "consistency.", "kernel_notifications", ctx->stats.kernel_notes);
	if (ctx->notifier) {
		stat_line(f, "consistency.", "watcher_looks",
			  atomic_load_explicit(&ctx->notifier->looks, memory_order_relaxed));
		stat_line(f, "consistency.", "watcher_foreign_changes",
			  atomic_load_explicit(&ctx->notifier->found, memory_order_relaxed));
	}
	stat_line(f, "consistency.", "change_seq", ctx->view_seq);
	fprintf(f, "consistency.cache_ttl_ms %" PRIu64 "\n",
		(uint64_t)(ctx->opts.cache_ttl * 1000 + 0.5));
	stat_line(f, "consistency.", "consistent_reads", ctx->opts.consistent_reads);
	stat_line(f, "inodes.", "known", ctx->itab.count);
	stat_line(f, "inodes.", "max", ctx->opts.max_inodes);
	stat_line(f, "inodes.", "trimmed", ctx->stats.inode_trims);
	stat_line(f, "files.", "open_cached", ctx->stats.opens_cached);
	stat_line(f, "files.", "open_direct", ctx->stats.opens_direct);
	stat_line(f, "files.", "writer_waits", ctx->stats.writer_waits);
	stat_line(f, "files.", "reads_by_inode", ctx->stats.reads_by_inode);
	stat_line(f, "session.", "idle_poll_holds", ctx->stats.idle_poll_holds);
	stat_line(f, "txn.", "applied", ctx->stats.txn_applied);
	stat_line(f, "txn.", "actions", ctx->stats.txn_actions);
	stat_line(f, "txn.", "canceled", ctx->stats.txn_canceled);
	stat_line(f, "txn.", "failed", ctx->stats.txn_failed);
	stat_line(f, "ttl.", "hidden", ctx->ttl.hidden);
	stat_line(f, "ttl.", "reclaimed", ctx->ttl.reclaimed);
	stat_line(f, "ttl.", "pending", ctx->ttl.pending);
	stat_line(f, "stream.", "records", ctx->stream.records);
	stat_line(f, "stream.", "trimmed", ctx->stream.trimmed);
	stat_line(f, "stream.", "reads", ctx->stream.reads);
	stat_line(f, "index.", "lookups", ctx->index.lookups);
	stat_line(f, "index.", "listings", ctx->index.listings);
	stat_line(f, "index.", "entries", ctx->index.entries);
	stat_line(f, "index.", "declared", ctx->index.declared);
	stat_line(f, "index.", "dropped", ctx->index.dropped);
	if (fclose(f) != 0)
		return -ENOMEM;
	return 0;
}

void fs_view_note_pages(struct fs_ctx *ctx, uint64_t ino)
{
	note_inode(ctx, ino, true);
}

/* Has the kernel forget the name parent/name (queued: it takes directory locks). */
void fs_view_note_entry(struct fs_ctx *ctx, uint64_t parent, const char *name, size_t len)
{
	note_entry(ctx, parent, name, len);
}

/* Inodes trimmed per request at most: the notes are sent one at a time. */
#define FS_TRIM_MAX 256

static void trim_note(void *arg, struct fs_inode *in)
{
	struct fs_ctx *ctx = arg;

	ctx->stats.inode_trims++;
	note_entry(ctx, in->parent, in->name, strlen(in->name));
}

void fs_view_trim_inodes(struct fs_ctx *ctx)
{
	size_t max = ctx->opts.max_inodes, held = ctx->itab.count - ctx->itab.trimming, want;

	if (!max || held <= max || !ctx->notifier)
		return;
	/* A little below the bound, so that the notes go out in runs. */
	want = held - max + max / 64;
	fs_itab_trim(&ctx->itab, want < FS_TRIM_MAX ? want : FS_TRIM_MAX, trim_note, ctx);
}
