/*
 * lmdb_check_tree.c - the tree half of store_check() for the LMDB backend:
 * walks 2 and 3 over the dirent database, the link counts, keylen and
 * parent pointers that the names imply, reachability from the root, and
 * the paths that name the inodes with problems (see lmdb_check.c for the
 * whole, and docs/store-format.md, "itemfs check").
 *
 * Reachability: every directory has one holder (the directory its first
 * entry is in), so following holders up from a directory ends at the root
 * (reachable), at a directory with no usable entry, or back on the chain
 * (a cycle); both of the latter make the top of an unreachable subtree,
 * which is reported once, with the number of inodes below it. A file is
 * reachable when any directory holding it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lmdb_check_i.h"

/* ---- walks 2 and 3: directory entries ------------------------------------ */

struct ck_entry {
	uint64_t parent, child;
	const char *name;
	size_t len;
	uint32_t type;
};

enum entry_shape { ENTRY_OK, ENTRY_BAD_KEY, ENTRY_BAD_VALUE };

/*
 * Splits a dirent record into *e: all of it (ENTRY_OK), parent and name
 * only (ENTRY_BAD_VALUE), or nothing (ENTRY_BAD_KEY).
 */
static enum entry_shape entry_split(const struct ck *c, const MDB_val *k, const MDB_val *v,
				    struct ck_entry *e)
{
	if (k->mv_size < CK_NAME_KEY_MIN || k->mv_size > CK_NAME_KEY_MAX)
		return ENTRY_BAD_KEY;
	e->parent = lmdb_key_ino(k);
	e->name = (const char *)k->mv_data + 8;
	e->len = k->mv_size - 8;
	/* checked first: lmdb_dirent_decode() would log the bad length */
	if (v->mv_size != LMDB_DIRENT_VAL_LEN ||
	    lmdb_dirent_decode(c->st, e->parent, v, &e->child, &e->type) != 0)
		return ENTRY_BAD_VALUE;
	return ENTRY_OK;
}

/* The entries of one directory, which come in a row. */
struct ck_run {
	uint64_t ino;
	uint32_t node;	/* CK_NONE: no such inode */
	bool ok;	/* a directory, or an unreadable record: the entries count */
	uint64_t stray; /* entries in it when !ok */
};

static void run_end(struct ck *c, struct ck_run *r)
{
	if (r->stray == 0)
		return;
	if (r->node == CK_NONE)
		ck_note(c, r->ino, "%llu directory entr%s in an inode that does not exist",
			(unsigned long long)r->stray, r->stray == 1 ? "y" : "ies");
	else
		ck_note(c, r->ino, "%llu directory entr%s in an inode that is not a directory",
			(unsigned long long)r->stray, r->stray == 1 ? "y" : "ies");
	r->stray = 0;
}

static void run_begin(struct ck *c, struct ck_run *r, uint64_t ino)
{
	run_end(c, r);
	r->ino = ino;
	r->node = ck_find(c, ino);
	r->ok = r->node != CK_NONE &&
		((c->nodes[r->node].flags & CK_BAD) || ck_is(&c->nodes[r->node], S_IFDIR));
}

/* One entry (walk 2): what it is, and what it gives its child. */
static void entry_count(struct ck *c, struct ck_run *r, const struct ck_entry *e)
{
	uint32_t ci = ck_find(c, e->child);
	struct ck_node *p = r->ok ? &c->nodes[r->node] : NULL, *nd;
	bool is_dir;

	if (!r->ok)
		r->stray++;
	if (memchr(e->name, '/', e->len) || memchr(e->name, '\0', e->len))
		ck_note_at(c, e->parent, e->parent, e->name, e->len,
			   "an entry name holding '/' or a NUL byte");
	if (!ck_type_known(e->type))
		ck_note_at(c, e->child, e->parent, e->name, e->len,
			   "the entry's type 0%o is not a file type", e->type);
	if (ci == CK_NONE) {
		ck_note_at(c, e->child, e->parent, e->name, e->len,
			   "the entry names inode %llu, which does not exist",
			   (unsigned long long)e->child);
		if (p && S_ISDIR(e->type))
			p->subdirs++;
		return;
	}
	nd = &c->nodes[ci];
	if (nd->names < UINT32_MAX)
		nd->names++;
	if (e->len > nd->maxname)
		nd->maxname = (uint16_t)e->len;
	if (!(nd->flags & CK_BAD) && ck_type_known(e->type) && !ck_is(nd, e->type))
		ck_note_at(c, e->child, e->parent, e->name, e->len,
			   "the entry's type is 0%o, the inode's 0%o", e->type,
			   (unsigned)nd->type << 12);
	is_dir = (nd->flags & CK_BAD) ? S_ISDIR(e->type) : ck_is(nd, S_IFDIR);
	if (!p)
		return;
	if (is_dir && p->subdirs < UINT32_MAX)
		p->subdirs++;
	if (nd->holder == CK_NONE && ci != c->root)
		nd->holder = r->node;
}

int ck_walk_entries(struct ck *c)
{
	struct ck_run run = {.node = CK_NONE};
	struct ck_entry e;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(c->txn, c->st->dirent, &cur);
	if (rc)
		return ck_fail(c, rc, LMDB_DB_DIRENT);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !c->err;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		enum entry_shape shape = entry_split(c, &k, &v, &e);

		if (shape == ENTRY_BAD_KEY) {
			ck_note(c, k.mv_size >= 8 ? lmdb_key_ino(&k) : 0,
				"dirent database: a key of %zu bytes", k.mv_size);
			continue;
		}
		if (e.parent != run.ino || run.ino == 0)
			run_begin(c, &run, e.parent);
		if (shape == ENTRY_BAD_VALUE) {
			ck_note_at(c, e.parent, e.parent, e.name, e.len,
				   "an entry value of %zu bytes, expected %u", v.mv_size,
				   LMDB_DIRENT_VAL_LEN);
			continue;
		}
		entry_count(c, &run, &e);
	}
	if (rc && rc != MDB_NOTFOUND)
		ck_fail(c, rc, LMDB_DB_DIRENT);
	run_end(c, &run);
	mdb_cursor_close(cur);
	return c->err;
}

/*
 * Walk 3: calls fn for each well-formed entry whose parent and child both
 * have nodes (CK_NONE never reaches fn).
 */
static int walk_entries_again(struct ck *c, void (*fn)(struct ck *c, const struct ck_entry *e,
						       uint32_t pi, uint32_t ci))
{
	struct ck_entry e;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t last = 0;
	uint32_t pi = CK_NONE, ci;
	int rc;

	rc = mdb_cursor_open(c->txn, c->st->dirent, &cur);
	if (rc)
		return ck_fail(c, rc, LMDB_DB_DIRENT);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !c->err;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (entry_split(c, &k, &v, &e) != ENTRY_OK)
			continue;
		if (e.parent != last || last == 0) {
			last = e.parent;
			pi = ck_find(c, e.parent);
		}
		ci = ck_find(c, e.child);
		if (pi != CK_NONE && ci != CK_NONE)
			fn(c, &e, pi, ci);
	}
	if (rc && rc != MDB_NOTFOUND)
		ck_fail(c, rc, LMDB_DB_DIRENT);
	mdb_cursor_close(cur);
	return c->err;
}

/* ---- counts against records ---------------------------------------------- */

void ck_check_counts(struct ck *c)
{
	for (size_t i = 0; i < c->n && !c->err; i++) {
		const struct ck_node *nd = &c->nodes[i];

		if (nd->flags & CK_BAD)
			continue;
		if (i == c->root && nd->names > 0)
			ck_note(c, nd->ino, "the root is named by %u directory entries", nd->names);
		if (ck_is(nd, S_IFDIR)) {
			if (i != c->root && nd->names > 1)
				ck_note(c, nd->ino,
					"%u directory entries name this directory (a directory "
					"has one)",
					nd->names);
			if (i != c->root && nd->names == 1 && nd->holder != CK_NONE &&
			    c->nodes[nd->holder].ino != nd->parent)
				ck_note(c, nd->ino,
					"parent pointer %llu, but directory %llu holds it",
					(unsigned long long)nd->parent,
					(unsigned long long)c->nodes[nd->holder].ino);
			if (i != c->root && nd->names == 1 && nd->keylen != nd->maxname)
				ck_note(c, nd->ino, "keylen %u, but its name is %u bytes",
					nd->keylen, nd->maxname);
			if ((uint64_t)nd->nlink != 2 + (uint64_t)nd->subdirs)
				ck_note(
				    c, nd->ino, "nlink %u, expected %llu (2 + %u subdirectories)",
				    nd->nlink, 2 + (unsigned long long)nd->subdirs, nd->subdirs);
		} else if (nd->names > 0) {
			if (nd->nlink != nd->names)
				ck_note(c, nd->ino, "nlink %u, but %u directory entr%s name it",
					nd->nlink, nd->names, nd->names == 1 ? "y" : "ies");
			if (nd->keylen < nd->maxname)
				ck_note(c, nd->ino, "keylen %u, but it has a name of %u bytes",
					nd->keylen, nd->maxname);
		}
	}
}

/* ---- reachability from the root ------------------------------------------ */

static bool is_top(const struct ck *c, uint32_t i)
{
	return c->top && ck_state(&c->nodes[i]) == CK_UNREACH && c->top[i] == i;
}

static int tops_alloc(struct ck *c)
{
	if (c->top)
		return 0;
	c->top = malloc(c->n * sizeof(*c->top));
	c->below = calloc(c->n, sizeof(*c->below));
	if (!c->top || !c->below)
		c->err = -ENOMEM;
	return c->err;
}

/*
 * Resolves directory i: follows the holders up until the root, a resolved
 * node, a node with no holder, or a node already on this chain (a cycle),
 * then gives every node of the chain the result.
 */
static int resolve_dir(struct ck *c, uint32_t i)
{
	uint32_t j = i, top = CK_NONE;
	unsigned result;

	for (;;) {
		struct ck_node *nd = &c->nodes[j];
		unsigned s = ck_state(nd);

		if (s == CK_REACH || s == CK_UNKNOWN) {
			result = s;
			break;
		}
		if (s == CK_UNREACH) {
			result = s;
			top = c->top[j];
			break;
		}
		if (s == CK_VISITING) {
			result = CK_UNREACH;
			top = j;
			nd->flags |= CK_CYCLE;
			break;
		}
		ck_set_state(nd, CK_VISITING);
		if (nd->holder == CK_NONE) {
			result = CK_UNREACH;
			top = j;
			break;
		}
		j = nd->holder;
	}
	if (result == CK_UNREACH && tops_alloc(c))
		return c->err;
	for (j = i; j != CK_NONE && ck_state(&c->nodes[j]) == CK_VISITING; j = c->nodes[j].holder) {
		ck_set_state(&c->nodes[j], result);
		if (result == CK_UNREACH)
			c->top[j] = top;
	}
	return 0;
}

/* Walk 3 for files: any name in a reachable directory makes a file reachable. */
static void reach_file(struct ck *c, const struct ck_entry *e, uint32_t pi, uint32_t ci)
{
	(void)e;
	if (ck_state(&c->nodes[ci]) == CK_VISITING && ck_is(&c->nodes[pi], S_IFDIR) &&
	    ck_state(&c->nodes[pi]) == CK_REACH)
		ck_set_state(&c->nodes[ci], CK_REACH);
}

/* A file: reachable when a directory holding it is; may need walk 3. */
static bool resolve_file(struct ck *c, uint32_t i)
{
	struct ck_node *nd = &c->nodes[i];
	unsigned s;

	if (nd->names == 0 || nd->holder == CK_NONE) {
		if (tops_alloc(c))
			return false;
		ck_set_state(nd, CK_UNREACH);
		c->top[i] = i;
		return false;
	}
	s = ck_state(&c->nodes[nd->holder]);
	if (s == CK_UNREACH && nd->names > 1) {
		ck_set_state(nd, CK_VISITING);
		return true;
	}
	ck_set_state(nd, s);
	if (s == CK_UNREACH)
		c->top[i] = c->top[nd->holder];
	return false;
}

/* A file the store lists as an orphan (nlink 0, held by a mount): not a problem. */
static bool listed_orphan(const struct ck *c, const struct ck_node *nd)
{
	unsigned char ob[LMDB_META_ORPHAN_KEY_LEN];
	MDB_val k = lmdb_orphan_key(ob, nd->ino), v;

	return nd->nlink == 0 && !ck_is(nd, S_IFDIR) &&
	       mdb_get(c->txn, c->st->meta, &k, &v) == 0;
}

static void report_tops(struct ck *c)
{
	char below[64];

	for (size_t i = 0; i < c->n; i++)
		if (ck_state(&c->nodes[i]) == CK_UNREACH && c->top[i] != i)
			c->below[c->top[i]]++;
	for (size_t i = 0; i < c->n && !c->err; i++) {
		const struct ck_node *nd = &c->nodes[i];

		if (!is_top(c, (uint32_t)i))
			continue;
		if (nd->names == 0 && listed_orphan(c, nd))
			continue; /* unlinked while a mount held it: that mount frees it */
		below[0] = '\0';
		if (c->below[i])
			snprintf(below, sizeof(below), "; %u inode%s below it %s unreachable",
				 c->below[i], c->below[i] == 1 ? "" : "s",
				 c->below[i] == 1 ? "is" : "are");
		if (nd->flags & CK_CYCLE)
			ck_note(c, nd->ino,
				"a cycle of directories: this directory lies below itself, not "
				"reachable from the root%s",
				below);
		else if (nd->names == 0 && ck_is(nd, S_IFDIR))
			ck_note(c, nd->ino, "orphan: no directory entry names it%s", below);
		else if (nd->names == 0)
			ck_note(c, nd->ino, "orphan: no directory entry names it (nlink %u)",
				nd->nlink);
		else
			ck_note(
			    c, nd->ino,
			    "not reachable from the root: its entries are in inodes that do not "
			    "exist or are not directories%s",
			    below);
	}
}

int ck_check_reach(struct ck *c)
{
	bool walk3 = false;

	if (c->root == CK_NONE || !ck_is(&c->nodes[c->root], S_IFDIR)) {
		/* No tree to walk: report what has no name at all. */
		for (size_t i = 0; i < c->n; i++) {
			const struct ck_node *nd = &c->nodes[i];

			if (i != c->root && !(nd->flags & CK_BAD) && nd->names == 0)
				ck_note(c, nd->ino, "orphan: no directory entry names it");
		}
		return c->err;
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->nodes[i].flags & CK_BAD)
			ck_set_state(&c->nodes[i], CK_UNKNOWN);
	ck_set_state(&c->nodes[c->root], CK_REACH);
	for (size_t i = 0; i < c->n && !c->err; i++)
		if (ck_is(&c->nodes[i], S_IFDIR) && resolve_dir(c, (uint32_t)i))
			return c->err;
	for (size_t i = 0; i < c->n && !c->err; i++)
		if (!(c->nodes[i].flags & CK_BAD) && !ck_is(&c->nodes[i], S_IFDIR))
			walk3 |= resolve_file(c, (uint32_t)i);
	if (walk3 && walk_entries_again(c, reach_file))
		return c->err;
	for (size_t i = 0; i < c->n && walk3; i++) {
		struct ck_node *nd = &c->nodes[i];

		if (ck_state(nd) == CK_VISITING && !(nd->flags & CK_BAD) && !ck_is(nd, S_IFDIR)) {
			ck_set_state(nd, CK_UNREACH);
			c->top[i] = c->top[nd->holder];
		}
	}
	if (c->top && !c->err)
		report_tops(c);
	return c->err;
}

/* ---- paths --------------------------------------------------------------- */

/* Where a path stops going up: the root, an inode with no holder, a top. */
static bool path_stop(const struct ck *c, uint32_t i)
{
	return i == c->root || c->nodes[i].holder == CK_NONE || is_top(c, i);
}

static void want_chain(struct ck *c, uint32_t i)
{
	for (int depth = 0; i != CK_NONE && depth < CK_PATH_DEPTH; depth++) {
		struct ck_node *nd = &c->nodes[i];

		if (path_stop(c, i) || (nd->flags & CK_WANT))
			return;
		nd->flags |= CK_WANT;
		c->nwant++;
		i = nd->holder;
	}
}

static long want_find(const struct ck *c, uint32_t i)
{
	size_t lo = 0, hi = c->nwant;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->want[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->nwant && c->want[lo] == i ? (long)lo : -1;
}

/* Walk 3 for paths: the name of each wanted node in its holder. */
static void want_name(struct ck *c, const struct ck_entry *e, uint32_t pi, uint32_t ci)
{
	long w;

	if (!(c->nodes[ci].flags & CK_WANT) || c->nodes[ci].holder != pi)
		return;
	w = want_find(c, ci);
	if (w >= 0 && !c->want_name[w] && !(c->want_name[w] = strndup(e->name, e->len)))
		c->err = -ENOMEM;
}

/* Collects the names every problem's path needs (walk 3). */
static int collect_names(struct ck *c)
{
	size_t k = 0;

	for (size_t p = 0; p < c->nprobs; p++)
		want_chain(c, ck_find(c, c->probs[p].name ? c->probs[p].dir : c->probs[p].ino));
	if (c->nwant == 0)
		return 0;
	c->want = malloc(c->nwant * sizeof(*c->want));
	c->want_name = calloc(c->nwant, sizeof(*c->want_name));
	if (!c->want || !c->want_name)
		return c->err = -ENOMEM;
	for (size_t i = 0; i < c->n; i++)
		if (c->nodes[i].flags & CK_WANT)
			c->want[k++] = (uint32_t)i;
	return walk_entries_again(c, want_name);
}

/*
 * The path of problem p, or NULL: names up the holders from the inode
 * (or, for an entry, from its directory, then the entry's name).
 */
static char *path_of(const struct ck *c, const struct ck_problem *p)
{
	const char *comp[CK_PATH_DEPTH + 1];
	char prefix[48] = "";
	size_t n = 0, len = 0, at;
	uint32_t i;
	char *out;
	long w;

	if (p->name) {
		i = ck_find(c, p->dir);
		comp[n++] = p->name;
		if (i == CK_NONE)
			snprintf(prefix, sizeof(prefix), "(inode %llu)",
				 (unsigned long long)p->dir);
	} else {
		i = ck_find(c, p->ino);
		if (i == c->root && i != CK_NONE)
			return strdup("/");
		if (i == CK_NONE || path_stop(c, i))
			return NULL;
	}
	while (i != CK_NONE && i != c->root) {
		if (path_stop(c, i) || n == CK_PATH_DEPTH || (w = want_find(c, i)) < 0 ||
		    !c->want_name[w]) {
			snprintf(prefix, sizeof(prefix), "(inode %llu)",
				 (unsigned long long)c->nodes[i].ino);
			break;
		}
		comp[n++] = c->want_name[w];
		i = c->nodes[i].holder;
	}
	len = strlen(prefix);
	for (size_t j = 0; j < n; j++)
		len += strlen(comp[j]) + 1;
	out = malloc(len + 1);
	if (!out)
		return NULL;
	at = (size_t)sprintf(out, "%s", prefix);
	for (size_t j = n; j-- > 0;)
		at += (size_t)sprintf(out + at, "%s%s", at ? "/" : "", comp[j]);
	return out;
}

static int problem_cmp(const void *a, const void *b)
{
	const struct ck_problem *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void ck_report(struct ck *c)
{
	bool paths = !c->err && collect_names(c) == 0;

	if (c->nprobs > 1) /* qsort() wants a non-NULL array even for none */
		qsort(c->probs, c->nprobs, sizeof(*c->probs), problem_cmp);
	for (size_t i = 0; i < c->nprobs; i++) {
		const struct ck_problem *p = &c->probs[i];
		char *path = paths ? path_of(c, p) : NULL, *msg = NULL;

		if (p->again &&
		    asprintf(&msg, "%s (%llu times)", p->msg, (unsigned long long)p->again + 1) < 0)
			msg = NULL;
		if (c->cb && c->cb->problem)
			c->cb->problem(c->arg, p->ino, path, msg ? msg : p->msg);
		free(msg);
		free(path);
	}
}
