/*
 * ttl.c - item expiry (docs/dynamodb.md, "TTL"): the xattr
 * user.itemfs.expires holds the second from which an item is expired.
 *
 * The store keeps the time (store_attr.expires) and an index of it
 * (store_expired()); this file decides what an expired item is to this
 * mount:
 *  - hidden at once: lookups, stat by name, opens and listings treat it as
 *    absent (fs_ttl_hide(), fs_ttl_filter()); a name change treats its
 *    name as free, removing the expired name in the change's own
 *    transaction (fs_ttl_entry_get()). A file already open reads on.
 *  - the kernel never shows it past its time: the timeouts of its entries
 *    and attributes end at its expiry (fs_ttl_timeout()), and a listing
 *    the kernel keeps is dropped when an item in it expired since
 *    (ops_readdir.c).
 *  - reclaimed in the background (fs_ttl_tick(), from the session loop):
 *    each expired item loses all its names as an unlink would take them,
 *    in a transaction of its own that first checks the item is still
 *    expired, so a rename, a new expiry or a removed one made meanwhile
 *    wins, and several mounts reaping the same store do no harm.
 * Items without xattrs cost nothing: the store knows from their inode
 * record that they have no expiry.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"

/* Expired items reclaimed per pass at most: a pass is one session-loop turn. */
#define FS_TTL_PASS_MAX 64u
/* Expired items counted for ttl.pending at most per pass. */
#define FS_TTL_COUNT_MAX 65536u
/* Seconds between passes at least, and at most on an idle mount. */
#define FS_TTL_PERIOD 1.0
#define FS_TTL_IDLE 10.0
/*
 * Seconds by which a kernel cache timeout ends before the expiry it is cut
 * to. The kernel starts a timeout when it reads the reply, not when the
 * daemon computed it, and rounds it up to a whole jiffy (up to 4 ms at
 * HZ=250): without a margin, an entry handed out just before the expiry
 * outlives it by that rounding plus the reply's time in flight, and a stat
 * at the expiry second can still succeed (seen under load in test_ttl.sh).
 * A timeout ended early costs one more lookup, and only in the last 50 ms
 * of an item's life.
 */
#define FS_TTL_KERNEL_MARGIN 0.05

/* The current second as expiry times count it (CLOCK_REALTIME). */
uint64_t fs_ttl_now(void)
{
	struct timespec ts;

	fs_now(&ts);
	return ts.tv_sec > 0 ? (uint64_t)ts.tv_sec : 0;
}

/* True when item a (as store_inode_get() gave it) is expired now; counted in ttl.hidden. */
bool fs_ttl_hide(struct fs_ctx *ctx, const struct store_attr *a)
{
	if (!a->expires || a->expires > fs_ttl_now())
		return false;
	ctx->ttl.hidden++;
	return true;
}

/*
 * A kernel cache timeout (seconds) for item a: timeout, cut short to the
 * time left before a's expiry less FS_TTL_KERNEL_MARGIN (0 once that has
 * come), so that the kernel asks again before the item goes.
 */
double fs_ttl_timeout(const struct store_attr *a, double timeout)
{
	struct timespec ts;
	double left;

	if (!a->expires)
		return timeout;
	fs_now(&ts);
	left = (double)a->expires - ((double)ts.tv_sec + ts.tv_nsec / 1e9) - FS_TTL_KERNEL_MARGIN;
	return left <= 0 ? 0 : left < timeout ? left : timeout;
}

/*
 * store_dirent_get() and store_inode_get() of parent/name, in the write
 * transaction txn of a request that changes that name (create, link,
 * rename, unlink). An expired item's name is free: it is removed in txn,
 * as an unlink would remove it, and -ENOENT is returned; a caller that
 * then fails aborts txn, which puts the name back. *out is written on
 * success only. Errors: those of the store calls (-ENOENT, -EIO, ...).
 */
int fs_ttl_entry_get(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent, const char *name,
		     size_t len, struct store_attr *out)
{
	struct store_attr a;
	int rc = store_dirent_get(txn, parent, name, len, &a.ino);

	if (rc == 0)
		rc = store_inode_get(txn, a.ino, &a);
	if (rc)
		return rc;
	if (fs_ttl_hide(ctx, &a)) {
		rc = fs_unlink_name(ctx, txn, parent, name, len, a.ino);
		if (rc == 0)
			fs_view_note_entry(ctx, parent, name, len);
		return rc ? rc : -ENOENT;
	}
	*out = a;
	return 0;
}

/*
 * store_dirent_add() of parent/name for ino in txn, where the name of an
 * expired item is free: only a taken name is looked at, and freed if its
 * item has expired (fs_ttl_entry_get()). -EEXIST for a live item's name.
 */
int fs_ttl_dirent_add(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent, const char *name,
		      size_t len, uint64_t ino)
{
	struct store_attr a;
	int rc = store_dirent_add(txn, parent, name, len, ino);

	if (rc != -EEXIST)
		return rc;
	rc = fs_ttl_entry_get(ctx, txn, parent, name, len, &a);
	if (rc == 0)
		return -EEXIST;
	return rc == -ENOENT ? store_dirent_add(txn, parent, name, len, ino) : rc;
}

/* An entry of the expiry index. */
struct expiry {
	uint64_t ino, when;
};

/* The expired inodes of a listing, sorted by inode number, with their times. */
struct expired_set {
	struct expiry *v;
	size_t n, cap;
};

static int expired_add(void *arg, uint64_t ino, uint64_t when)
{
	struct expired_set *s = arg;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		void *p = realloc(s->v, cap * sizeof(*s->v));
		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n].ino = ino;
	s->v[s->n].when = when;
	s->n++;
	return 0;
}

static int by_ino(const void *a, const void *b)
{
	uint64_t x = ((const struct expiry *)a)->ino, y = ((const struct expiry *)b)->ino;

	return x < y ? -1 : x > y;
}

/*
 * Leaves the items expired by second now out of listing d (read in txn),
 * with one walk of the store's expiry index up to now (usually empty: the
 * reaper keeps it short) and no lookup per entry. *latest gets the latest
 * expiry among the items left out (0: none), for the kernel's copy of the
 * listing (ops_readdir.c). Errors: -ENOMEM, -EIO; d is then unchanged.
 */
int fs_ttl_filter(struct fs_ctx *ctx, struct store_txn *txn, struct fs_dir *d, uint64_t now,
		  uint64_t *latest)
{
	struct expired_set s = {NULL, 0, 0};
	size_t out = 0;
	int rc;

	*latest = 0;
	if (!fs_has(ctx, STORE_HAS_EXPIRY))
		return 0;
	rc = store_expired(txn, now, expired_add, &s);
	if (rc || s.n == 0)
		goto out;
	qsort(s.v, s.n, sizeof(*s.v), by_ino);
	for (size_t i = 0; i < d->count; i++) {
		struct fs_dir_entry *e = &d->ents[i];
		struct expiry key = {.ino = e->ino};
		const struct expiry *hit =
		    S_ISREG(e->mode) ? bsearch(&key, s.v, s.n, sizeof(*s.v), by_ino) : NULL;

		if (!hit) {
			d->ents[out++] = *e;
			continue;
		}
		if (hit->when > *latest)
			*latest = hit->when;
		ctx->ttl.hidden++;
		free(e->name);
	}
	d->count = out;
out:
	free(s.v);
	return rc;
}

/*
 * Called once a request of this mount set or removed ino's
 * user.itemfs.expires: the kernel forgets the name it holds for ino, and
 * the reaper looks at the index again at its next turn.
 */
void fs_ttl_changed(struct fs_ctx *ctx, uint64_t ino)
{
	struct fs_inode *in = fs_inode_find(&ctx->itab, ino);

	/*
	 * The kernel got this name with a day's timeout; once forgotten, the
	 * next lookup gets one that ends at the new expiry.
	 */
	if (in && in->name && in->parent)
		fs_view_note_entry(ctx, in->parent, in->name, strlen(in->name));
	ctx->ttl.due = fs_mono_now(); /* look for the new time at the next turn */
}

/* ---- the reaper ------------------------------------------------------- */

static bool is_stuck(const struct fs_ctx *ctx, uint64_t ino)
{
	for (size_t i = 0; i < ctx->ttl.nstuck; i++)
		if (ctx->ttl.stuck[i] == ino)
			return true;
	return false;
}

/* One expired item of a pass, and the names of it the pass found. */
struct reap_item {
	uint64_t ino, when, parent;
	uint32_t nlink;
	char **names;
	size_t nnames;
};

struct reap_pass {
	struct fs_ctx *ctx;
	struct store_txn *txn; /* the read transaction of the collection */
	int err;	       /* a failure of the collection */
	uint64_t now;
	struct reap_item *items;
	size_t n;
	uint64_t pending; /* expired entries seen, up to FS_TTL_COUNT_MAX */
	uint64_t next;	  /* the first time after now in the index; 0: none */
};

/*
 * One index entry: an item the pass can delete is collected, with where it
 * was last linked. Items the pass cannot delete are passed over, so that
 * they never keep the ones behind them waiting: those a pass gave up on
 * (reap_stuck()), and orphans (no name left: whoever holds them frees them).
 */
static int reap_collect(void *arg, uint64_t ino, uint64_t when)
{
	struct reap_pass *p = arg;
	struct store_attr a;
	int rc;

	if (when > p->now) {
		p->next = when;
		return 1;
	}
	p->pending++;
	if (p->n < FS_TTL_PASS_MAX && !is_stuck(p->ctx, ino)) {
		rc = store_inode_get(p->txn, ino, &a);
		if (rc && rc != -ENOENT) {
			p->err = rc;
			return 1;
		}
		if (rc == 0 && a.nlink > 0)
			p->items[p->n++] = (struct reap_item){
			    .ino = ino, .when = when, .parent = a.parent, .nlink = a.nlink};
	}
	return p->pending >= FS_TTL_COUNT_MAX ? 1 : 0;
}

struct reap_scan {
	struct reap_pass *p;
	uint64_t dir;
};

/* Collects the names in one directory of the pass's items that were last linked there. */
static int reap_name(void *arg, const struct store_dirent *ent)
{
	struct reap_scan *sc = arg;

	for (size_t i = 0; i < sc->p->n; i++) {
		struct reap_item *it = &sc->p->items[i];
		char **names, *name;

		if (it->ino != ent->ino || it->parent != sc->dir)
			continue;
		names = realloc(it->names, (it->nnames + 1) * sizeof(*names));
		if (!names)
			return -ENOMEM;
		it->names = names;
		name = strndup(ent->name, ent->namelen);
		if (!name)
			return -ENOMEM;
		it->names[it->nnames++] = name;
	}
	return 0;
}

/* Reads what the pass needs: the expired items and their names. */
static int reap_read(struct fs_ctx *ctx, struct reap_pass *p)
{
	struct store_txn *txn;
	int rc = fs_txn_read(ctx, &txn);

	if (rc)
		return rc;
	p->txn = txn;
	rc = store_expired(txn, STORE_EXPIRES_MAX, reap_collect, p);
	if (rc == 1)
		rc = p->err;
	/* One walk per directory, however many of its items expired. */
	for (size_t i = 0; rc == 0 && i < p->n; i++) {
		struct reap_scan sc = {p, p->items[i].parent};
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = p->items[j].parent == sc.dir;
		if (sc.dir && !seen)
			rc = store_dir_list(txn, sc.dir, reap_name, &sc);
		rc = rc == -ENOENT ? 0 : rc;
	}
	fs_txn_read_end(ctx, txn);
	return rc;
}

/*
 * Deletes one expired item: all its names, in one transaction, after
 * checking there that it is still expired and that these are all its
 * names. Returns 1 when deleted, 0 when it is no longer expired or its
 * names moved (a later pass sees it again), or a negative errno.
 */
static int reap_item(struct fs_ctx *ctx, const struct reap_item *it, uint64_t now)
{
	struct store_txn *txn;
	struct store_attr a;
	size_t removed = 0;
	int rc = fs_txn_write(ctx, &txn);

	if (rc)
		return rc;
	rc = store_inode_get(txn, it->ino, &a);
	if (rc == -ENOENT || (rc == 0 && (!a.expires || a.expires > now))) {
		rc = 0; /* gone, or given a new time or none: it wins */
		goto out;
	}
	if (rc == 0 && a.nlink == 0)
		goto out; /* an orphan: whoever holds it open frees it */
	if (rc)
		goto out;
	for (size_t i = 0; rc == 0 && i < it->nnames; i++) {
		const char *name = it->names[i];
		uint64_t ino;

		rc = store_dirent_get(txn, it->parent, name, strlen(name), &ino);
		if (rc == -ENOENT || (rc == 0 && ino != it->ino)) {
			rc = 0; /* renamed meanwhile */
			continue;
		}
		if (rc == 0) /* the last name's removal frees the item, as unlink's does */
			rc = fs_unlink_name(ctx, txn, it->parent, name, strlen(name), it->ino);
		if (rc == 0)
			removed++;
	}
	if (rc == 0 && removed != a.nlink) {
		rc = 0; /* a name elsewhere, or a new one: all or nothing (abort) */
		goto out;
	}
	if (rc == 0) {
		rc = store_txn_commit(txn);
		return rc ? rc : 1;
	}
out:
	store_txn_abort(txn);
	return rc;
}

/*
 * Remembers an item whose names a pass could not all find (hard links in
 * other directories than the one that last linked it): it stays hidden,
 * and later passes skip it instead of walking its directory every second.
 */
static void reap_stuck(struct fs_ctx *ctx, const struct reap_item *it)
{
	char path[1024];
	uint64_t *v;

	for (size_t i = 0; i < ctx->ttl.nstuck; i++)
		if (ctx->ttl.stuck[i] == it->ino)
			return;
	v = realloc(ctx->ttl.stuck, (ctx->ttl.nstuck + 1) * sizeof(*v));
	if (!v)
		return;
	ctx->ttl.stuck = v;
	v[ctx->ttl.nstuck++] = it->ino;
	fs_inode_path(&ctx->itab, it->ino, path, sizeof(path));
	fs_log(LOG_NOTICE,
	       "item %s (inode %" PRIu64 ") expired, but has names outside directory inode %" PRIu64
	       ": they stay hidden and the item is not reclaimed; a create or rename over each "
	       "such name frees it",
	       path, it->ino, it->parent);
}

/* Tells this mount's kernel that the names the reaper removed are gone. */
static void reap_notes(struct fs_ctx *ctx, const struct reap_item *it)
{
	for (size_t i = 0; i < it->nnames; i++)
		fs_view_note_entry(ctx, it->parent, it->names[i], strlen(it->names[i]));
	fs_view_inval_attr_now(ctx, it->parent);
}

static void reap_pass(struct fs_ctx *ctx)
{
	struct reap_item items[FS_TTL_PASS_MAX];
	struct reap_pass p = {.ctx = ctx, .now = fs_ttl_now(), .items = items};
	double mono = fs_mono_now();
	int rc = reap_read(ctx, &p);

	for (size_t i = 0; rc >= 0 && i < p.n; i++) {
		const struct reap_item *it = &p.items[i];

		rc = reap_item(ctx, it, p.now);
		if (rc == 1) {
			ctx->ttl.reclaimed++;
			p.pending--;
			reap_notes(ctx, it);
		} else if (rc == 0 && it->nnames < it->nlink) {
			reap_stuck(ctx, it);
		}
	}
	for (size_t i = 0; i < p.n; i++) {
		for (size_t j = 0; j < p.items[i].nnames; j++)
			free(p.items[i].names[j]);
		free(p.items[i].names);
	}
	if (rc < 0)
		fs_log(LOG_WARNING, "could not reclaim expired items (%s); trying again later",
		       strerror(-rc));
	ctx->ttl.pending = p.pending;
	/* The next pass: soon while work is left, at the next expiry, or idly. */
	ctx->ttl.due = mono + FS_TTL_IDLE;
	if (p.pending > ctx->ttl.nstuck)
		ctx->ttl.due = mono + FS_TTL_PERIOD;
	else if (p.next && (double)(p.next - p.now) < FS_TTL_IDLE)
		ctx->ttl.due = mono + (double)(p.next - p.now);
	ctx->ttl.last = mono;
	fs_view_after_request(ctx); /* the cache learns what the pass changed */
}

/* Whether this mount reaps: writable, not a snapshot, on a store with TTL. */
static bool reaper_runs(const struct fs_ctx *ctx)
{
	return !ctx->opts.read_only && !ctx->opts.snapshot && fs_has(ctx, STORE_HAS_EXPIRY);
}

/*
 * Called by the session loop after each turn: runs a reaper pass when one
 * is due (fs_ttl_due()). Failures are logged; the next pass tries again.
 */
void fs_ttl_tick(struct fs_ctx *ctx)
{
	double now;

	if (!reaper_runs(ctx))
		return;
	now = fs_mono_now();
	if (now < ctx->ttl.due || now < ctx->ttl.last + FS_TTL_PERIOD)
		return;
	reap_pass(ctx);
}

/* When the next pass is due, in fs_mono_now() seconds; -1: never (read-only, --snapshot). */
double fs_ttl_due(const struct fs_ctx *ctx)
{
	double due = ctx->ttl.due, min = ctx->ttl.last + FS_TTL_PERIOD;

	if (!reaper_runs(ctx))
		return -1;
	return due > min ? due : min;
}

/* Frees what the reaper keeps (at exit). */
void fs_ttl_destroy(struct fs_ctx *ctx)
{
	free(ctx->ttl.stuck);
	ctx->ttl.stuck = NULL;
	ctx->ttl.nstuck = 0;
}
