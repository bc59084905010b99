/*
 * index.c - MOUNTPOINT/.itemfs/index, the read-only views of the secondary
 * indexes (docs/dynamodb.md, "Secondary indexes"):
 *
 *   .itemfs/index/TABLE/            one per top-level directory
 *   .itemfs/index/TABLE/ATTR/       one per index declared (mkdir, rmdir)
 *   .itemfs/index/TABLE/ATTR/VALUE/ one per distinct value (index_name.h)
 *   .itemfs/index/TABLE/ATTR/VALUE/KEY -> ../../../../../TABLE/key/path
 *
 * The store keeps the entries (store.h, "Secondary indexes"); this file
 * only shows them. Every answer is read from the store when asked and
 * handed to the kernel with timeouts of 0, so no listing, name or target
 * outlives the commit that changes it, in this mount or another.
 *
 * Inode numbers: a node is numbered by a hash of (kind, parent node, name)
 * in [FS_INO_INDEX_BASE, FS_INO_INDEX_BASE + 2^47): the same path gets the
 * same number in every listing and lookup. A node is kept while the kernel
 * holds a lookup of it (ctx->ix, freed at forget).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "index_name.h"

#define IX_PATH_MAX 4096 /* bytes of a key path below its table */
#define IX_DEPTH_MAX 256 /* directories between an item and its table */

enum ix_kind { IX_TABLE = 1, IX_ATTR, IX_VALUE, IX_LINK };

/* One node of the index tree the kernel has looked up. */
struct fs_ix_node {
	uint64_t ino;
	uint64_t nlookup;
	enum ix_kind kind;
	uint64_t parent;      /* the node's parent's inode number */
	char *name;	      /* its name there */
	uint64_t table;	      /* the table's store inode */
	char *attr;	      /* IX_ATTR and below: ATTR, NUL-terminated */
	unsigned char *value; /* IX_VALUE and below: the value, vlen bytes */
	size_t vlen;
	char *target; /* IX_LINK: the symlink's target */
	struct fs_ix_node *next;
};

static uint64_t ix_ino(enum ix_kind kind, uint64_t parent, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)kind;

	for (int i = 0; i < 8; i++) {
		h ^= (parent >> (8 * i)) & 0xff;
		h *= 0x100000001b3ull;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return FS_INO_INDEX_BASE + (h & ((1ull << 47) - 1));
}

static struct fs_ix_node *ix_find(struct fs_ctx *ctx, uint64_t ino)
{
	for (struct fs_ix_node *n = ctx->ix[ino % FS_IX_BUCKETS]; n; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

static void ix_free(struct fs_ix_node *n)
{
	if (!n)
		return;
	free(n->name);
	free(n->attr);
	free(n->value);
	free(n->target);
	free(n);
}

void fs_index_forget(struct fs_ctx *ctx, uint64_t ino, uint64_t nlookup)
{
	struct fs_ix_node **pp = &ctx->ix[ino % FS_IX_BUCKETS];

	for (; *pp; pp = &(*pp)->next) {
		struct fs_ix_node *n = *pp;
		if (n->ino != ino)
			continue;
		n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
		if (n->nlookup == 0) {
			*pp = n->next;
			ix_free(n);
		}
		return;
	}
}

void fs_index_destroy(struct fs_ctx *ctx)
{
	for (size_t b = 0; b < FS_IX_BUCKETS; b++) {
		while (ctx->ix[b]) {
			struct fs_ix_node *n = ctx->ix[b];
			ctx->ix[b] = n->next;
			ix_free(n);
		}
	}
}

static void ix_attr(const struct fs_ix_node *n, uint64_t ino, struct store_attr *a)
{
	fs_hidden_attr(FS_INO_HIDDEN_DIR, a);
	a->ino = ino;
	if (n && n->kind == IX_LINK) {
		a->mode = S_IFLNK | 0777;
		a->nlink = 1;
		a->size = strlen(n->target);
	} else {
		/* a table's view takes mkdir (declare) from its owner */
		a->mode = S_IFDIR | (n && n->kind == IX_TABLE ? 0755 : 0555);
		a->nlink = 2;
	}
}

/* Replies to a lookup with node n (taking one more kernel reference). */
static void ix_reply_entry(fuse_req_t req, struct fs_ix_node *n)
{
	struct store_attr a;

	ix_attr(n, n->ino, &a);
	if (fs_hidden_reply_entry(req, &a, 0) == 0) /* timeouts 0: read again at every use */
		n->nlookup++;
}

void fs_index_reply_dir(fuse_req_t req)
{
	struct store_attr a;

	fs_hidden_attr(FS_INO_INDEX_DIR, &a);
	fs_hidden_reply_entry(req, &a, 0);
}

/*
 * The node for (kind, parent, name), made from the template t (whose
 * pointers are taken over on success, freed on failure).
 */
static int ix_node(struct fs_ctx *ctx, struct fs_ix_node *t, struct fs_ix_node **out)
{
	uint64_t ino = ix_ino(t->kind, t->parent, t->name);
	struct fs_ix_node *n = ix_find(ctx, ino);

	if (n && (n->kind != t->kind || n->parent != t->parent || strcmp(n->name, t->name) != 0)) {
		fs_log(LOG_ERR, "index view: inode number %llu of \"%s\" is taken by \"%s\"",
		       (unsigned long long)ino, t->name, n->name);
		free(t->name);
		free(t->attr);
		free(t->value);
		free(t->target);
		return -EIO;
	}
	if (n) { /* the same path: refresh what may have changed (a link's target) */
		free(n->target);
		n->target = t->target;
		free(t->name);
		free(t->attr);
		free(t->value);
		*out = n;
		return 0;
	}
	n = malloc(sizeof(*n));
	if (!n) {
		free(t->name);
		free(t->attr);
		free(t->value);
		free(t->target);
		return -ENOMEM;
	}
	*n = *t;
	n->ino = ino;
	n->nlookup = 0;
	n->next = ctx->ix[ino % FS_IX_BUCKETS];
	ctx->ix[ino % FS_IX_BUCKETS] = n;
	*out = n;
	return 0;
}

static void *memdup(const void *p, size_t len)
{
	void *q = malloc(len ? len : 1);

	if (q && len)
		memcpy(q, p, len);
	return q;
}

/* ---- finding names -------------------------------------------------------- */

struct name_of {
	uint64_t ino;
	char *name; /* the first name of ino found, malloc'd */
};

static int name_of_fn(void *arg, const struct store_dirent *ent)
{
	struct name_of *s = arg;

	if (ent->ino != s->ino)
		return 0;
	s->name = strndup(ent->name, ent->namelen);
	return s->name ? 1 : -ENOMEM;
}

/* A name of ino in directory dir, malloc'd, in *out: -ENOENT when none. */
static int name_in(struct store_txn *txn, uint64_t dir, uint64_t ino, char **out)
{
	struct name_of s = {ino, NULL};
	int rc = store_dir_list(txn, dir, name_of_fn, &s);

	if (rc < 0)
		return rc;
	if (!s.name)
		return -ENOENT;
	*out = s.name;
	return 0;
}

/*
 * The path of directory dir below table, with a '/' after it unless it is
 * the table itself ("" for the table), into buf.
 */
static int dir_path(struct store_txn *txn, uint64_t table, uint64_t dir, char *buf, size_t size)
{
	uint64_t chain[IX_DEPTH_MAX];
	size_t depth = 0, at = 0;
	int rc = 0;

	while (dir != table) {
		struct store_attr a;

		if (depth == IX_DEPTH_MAX || dir == STORE_ROOT_INO || dir == 0)
			return -ENOENT;
		rc = store_inode_get(txn, dir, &a);
		if (rc)
			return rc;
		chain[depth++] = dir;
		dir = a.parent;
	}
	buf[0] = '\0';
	while (depth > 0) {
		uint64_t d = chain[--depth];
		struct store_attr a;
		char *name;
		size_t n;

		rc = store_inode_get(txn, d, &a);
		if (rc == 0)
			rc = name_in(txn, a.parent, d, &name);
		if (rc)
			return rc;
		n = strlen(name);
		if (at + n + 2 > size) {
			free(name);
			return -ENAMETOOLONG;
		}
		memcpy(buf + at, name, n);
		at += n;
		buf[at++] = '/';
		buf[at] = '\0';
		free(name);
	}
	return 0;
}

/* ---- listings ----------------------------------------------------------------- */

static int dir_add(struct fs_dir *d, uint64_t ino, uint32_t mode, const char *name)
{
	if (d->count == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;
		struct fs_dir_entry *e = realloc(d->ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		d->ents = e;
		d->cap = cap;
	}
	d->ents[d->count].name = strdup(name);
	if (!d->ents[d->count].name)
		return -ENOMEM;
	d->ents[d->count].ino = ino;
	d->ents[d->count].mode = mode;
	d->count++;
	return 0;
}

struct lister {
	struct fs_ctx *ctx;
	struct store_txn *txn;
	struct fs_dir *d;
	const struct fs_ix_node *n; /* the listed node (NULL: the index directory) */
	/* IX_VALUE: the links, as (name, item) pairs */
	const char *want;		/* a lookup: stop at the link of this name */
	uint64_t found;			/* ... its item */
	char *target;			/* ... its target */
	char tname[STORE_NAME_MAX + 1]; /* the table's name */
};

static int list_tables(void *arg, const struct store_dirent *ent)
{
	struct lister *l = arg;
	char name[STORE_NAME_MAX + 1];

	if (!S_ISDIR(ent->mode))
		return 0;
	memcpy(name, ent->name, ent->namelen);
	name[ent->namelen] = '\0';
	return dir_add(l->d, ix_ino(IX_TABLE, FS_INO_INDEX_DIR, name), S_IFDIR, name);
}

static int list_attrs(void *arg, const char *attr, size_t len)
{
	struct lister *l = arg;
	char name[STORE_NAME_MAX + 1];

	memcpy(name, attr, len);
	name[len] = '\0';
	return dir_add(l->d, ix_ino(IX_ATTR, l->n->ino, name), S_IFDIR, name);
}

static int list_values(void *arg, const void *value, size_t len)
{
	struct lister *l = arg;
	char name[FS_INDEX_NAME_MAX + 1];

	fs_index_name_encode(value, len, name);
	return dir_add(l->d, ix_ino(IX_VALUE, l->n->ino, name), S_IFDIR, name);
}

/* One item of a value: a link per name it has in the directory that last linked it. */
struct item_names {
	struct lister *l;
	uint64_t ino;
	const char *dirpath;
};

static int item_name_fn(void *arg, const struct store_dirent *ent)
{
	struct item_names *s = arg;
	struct lister *l = s->l;
	char path[IX_PATH_MAX], name[FS_INDEX_NAME_MAX + 1];
	int n;

	if (ent->ino != s->ino)
		return 0;
	n = snprintf(path, sizeof(path), "%s%.*s", s->dirpath, (int)ent->namelen, ent->name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return 0; /* too deep to name: not listed (docs/dynamodb.md) */
	fs_index_name_encode(path, (size_t)n, name);
	if (l->want) {
		if (strcmp(name, l->want) != 0)
			return 0;
		l->found = s->ino;
		if (asprintf(&l->target, "../../../../../%s/%s", l->tname, path) < 0) {
			l->target = NULL;
			return -ENOMEM;
		}
		return 1;
	}
	return dir_add(l->d, ix_ino(IX_LINK, l->n->ino, name), S_IFLNK, name);
}

static int list_item(void *arg, uint64_t ino)
{
	struct lister *l = arg;
	struct store_attr a;
	char dirpath[IX_PATH_MAX];
	struct item_names s = {l, ino, dirpath};
	int rc = store_inode_get(l->txn, ino, &a);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (fs_ttl_hide(l->ctx, &a))
		return 0; /* expired: absent (ttl.c) */
	rc = dir_path(l->txn, l->n->table, a.parent, dirpath, sizeof(dirpath));
	if (rc == -ENOENT || rc == -ENAMETOOLONG)
		return 0;
	if (rc)
		return rc;
	return store_dir_list(l->txn, a.parent, item_name_fn, &s);
}

/* The name of table in the root, into l->tname. */
static int table_name(struct lister *l, uint64_t table)
{
	char *name;
	int rc = name_in(l->txn, STORE_ROOT_INO, table, &name);

	if (rc)
		return rc;
	snprintf(l->tname, sizeof(l->tname), "%s", name);
	free(name);
	return 0;
}

/* The listing of index node ino (FS_INO_INDEX_DIR or a node) into l->d. */
static int ix_list(struct lister *l, uint64_t ino)
{
	const struct fs_ix_node *n = l->n;

	if (ino == FS_INO_INDEX_DIR)
		return store_dir_list(l->txn, STORE_ROOT_INO, list_tables, l);
	switch (n->kind) {
	case IX_TABLE:
		return store_index_list(l->txn, n->table, list_attrs, l);
	case IX_ATTR:
		return store_index_values(l->txn, n->table, n->attr, NULL, 0, list_values, l);
	case IX_VALUE: {
		int rc = table_name(l, n->table);
		return rc ? rc
			  : store_index_items(l->txn, n->table, n->attr, n->value, n->vlen,
					      list_item, l);
	}
	case IX_LINK:
		break;
	}
	return -ENOTDIR;
}

void fs_index_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct lister l = {ctx, NULL, NULL, NULL, NULL, 0, NULL, ""};
	int rc = 0;

	if (ino != FS_INO_INDEX_DIR && !(l.n = ix_find(ctx, ino)))
		rc = -ESTALE;
	if (rc == 0 && !(l.d = calloc(1, sizeof(*l.d))))
		rc = -ENOMEM;
	if (rc == 0)
		rc = fs_txn_read(ctx, &l.txn);
	if (rc == 0) {
		rc = ix_list(&l, ino);
		fs_txn_read_end(ctx, l.txn);
	}
	if (rc == -ENOENT && ino != FS_INO_INDEX_DIR)
		rc = -ESTALE; /* dropped (or the table removed) since its lookup */
	if (rc) {
		fs_dir_free(l.d);
		fuse_reply_err(req, -rc);
		return;
	}
	ctx->index.listings++;
	ctx->index.entries += l.d->count;
	l.d->kind = FS_HANDLE_DIR;
	l.d->ino = ino;
	fs_dir_open_reply(req, fi, l.d);
}

/* ---- lookups ------------------------------------------------------------------ */

struct attr_find {
	const char *name;
	bool found;
};

static int attr_find_fn(void *arg, const char *attr, size_t len)
{
	struct attr_find *f = arg;

	if (strlen(f->name) == len && memcmp(f->name, attr, len) == 0) {
		f->found = true;
		return 1;
	}
	return 0;
}

struct value_find {
	const char *name; /* the name looked up */
	const unsigned char *prefix;
	size_t plen;
	bool cut;
	unsigned char value[STORE_INDEX_VALUE_MAX];
	size_t vlen;
	bool found;
};

static int value_find_fn(void *arg, const void *value, size_t len)
{
	struct value_find *f = arg;
	char name[FS_INDEX_NAME_MAX + 1];

	if (!f->cut) {
		if (len == f->plen && memcmp(value, f->prefix, len) == 0) {
			f->found = true;
			memcpy(f->value, value, len);
			f->vlen = len;
		}
		return 1; /* the first value >= the one asked: it is, or it is absent */
	}
	if (len < f->plen || memcmp(value, f->prefix, f->plen) != 0)
		return 1; /* past the values with that prefix */
	fs_index_name_encode(value, len, name);
	if (strcmp(name, f->name) != 0)
		return 0;
	f->found = true;
	memcpy(f->value, value, len);
	f->vlen = len;
	return 1;
}

/* Fills *t with the child name of node p (or of the index directory, p NULL). */
static int ix_lookup_in(struct lister *l, const struct fs_ix_node *p, uint64_t parent,
			const char *name, struct fs_ix_node *t)
{
	struct store_txn *txn = l->txn;
	struct store_attr a;
	int rc;

	memset(t, 0, sizeof(*t));
	t->parent = parent;
	if (!p) {
		size_t len;
		rc = fs_check_name(name, &len);
		if (rc == 0)
			rc = store_dirent_get(txn, STORE_ROOT_INO, name, len, &t->table);
		if (rc == 0)
			rc = store_inode_get(txn, t->table, &a);
		if (rc == 0 && !S_ISDIR(a.mode))
			rc = -ENOENT;
		t->kind = IX_TABLE;
	} else if (p->kind == IX_TABLE) {
		struct attr_find f = {name, false};
		rc = store_index_list(txn, p->table, attr_find_fn, &f);
		if (rc >= 0)
			rc = f.found ? 0 : -ENOENT;
		t->kind = IX_ATTR;
		t->table = p->table;
		if (rc == 0 && !(t->attr = strdup(name)))
			rc = -ENOMEM;
	} else if (p->kind == IX_ATTR) {
		unsigned char raw[STORE_INDEX_VALUE_MAX];
		struct value_find f = {.name = name, .prefix = raw};
		rc = fs_index_name_decode(name, raw, sizeof(raw), &f.plen, &f.cut);
		if (rc == -EINVAL || rc == -ENAMETOOLONG)
			rc = -ENOENT; /* no value has that name */
		if (rc == 0)
			rc = store_index_values(txn, p->table, p->attr, raw, f.plen, value_find_fn,
						&f);
		if (rc >= 0)
			rc = f.found ? 0 : -ENOENT;
		t->kind = IX_VALUE;
		t->table = p->table;
		if (rc == 0 && !(t->attr = strdup(p->attr)))
			rc = -ENOMEM;
		if (rc == 0 && !(t->value = memdup(f.value, f.vlen)))
			rc = -ENOMEM;
		t->vlen = f.vlen;
	} else if (p->kind == IX_VALUE) {
		l->n = p;
		l->want = name;
		rc = table_name(l, p->table);
		if (rc == 0)
			rc = store_index_items(txn, p->table, p->attr, p->value, p->vlen, list_item,
					       l);
		if (rc >= 0)
			rc = l->target ? 0 : -ENOENT;
		t->kind = IX_LINK;
		t->table = p->table;
		t->target = l->target;
		l->target = NULL;
	} else {
		rc = -ENOTDIR;
	}
	if (rc > 0)
		rc = 0;
	if (rc == 0 && !(t->name = strdup(name)))
		rc = -ENOMEM;
	if (rc) {
		free(t->name);
		free(t->attr);
		free(t->value);
		free(t->target);
	}
	return rc;
}

void fs_index_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct lister l = {ctx, NULL, NULL, NULL, NULL, 0, NULL, ""};
	const struct fs_ix_node *p = NULL;
	struct fs_ix_node t, *n;
	int rc = 0;

	ctx->index.lookups++;
	if (parent != FS_INO_INDEX_DIR && !(p = ix_find(ctx, parent)))
		rc = -ESTALE;
	if (rc == 0)
		rc = fs_txn_read(ctx, &l.txn);
	if (rc == 0) {
		rc = ix_lookup_in(&l, p, parent, name, &t);
		fs_txn_read_end(ctx, l.txn);
	}
	if (rc == 0)
		rc = ix_node(ctx, &t, &n);
	if (rc == -ENOENT) {
		struct fuse_entry_param e; /* a negative entry, never cached (timeout 0) */
		memset(&e, 0, sizeof(e));
		fuse_reply_entry(req, &e);
	} else if (rc) {
		fuse_reply_err(req, -rc);
	} else {
		ix_reply_entry(req, n);
	}
}

/* ---- attributes, links, declarations ------------------------------------------ */

void fs_index_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	const struct fs_ix_node *n = ix_find(ctx, ino);
	struct store_attr a;
	struct stat st;

	if (ino == FS_INO_INDEX_DIR) {
		fs_hidden_attr(ino, &a);
	} else if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	} else {
		ix_attr(n, ino, &a);
	}
	fs_attr_to_stat(&a, &st);
	fuse_reply_attr(req, &st, 0);
}

void fs_index_readlink(fuse_req_t req, fuse_ino_t ino)
{
	const struct fs_ix_node *n = ix_find(fs_ctx_of(req), ino);

	if (!n || n->kind != IX_LINK)
		fuse_reply_err(req, n ? EINVAL : ESTALE);
	else
		fuse_reply_readlink(req, n->target);
}

/*
 * mkdir (declare, add) and rmdir (drop) of .itemfs/index/TABLE/ATTR.
 * Anywhere else in the index tree: EPERM.
 */
int fs_index_declare(fuse_req_t req, fuse_ino_t parent, const char *name, bool add)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	const struct fs_ix_node *p = ix_find(ctx, parent);
	struct store_txn *txn;
	struct store_attr a;
	int rc;

	if (parent == FS_INO_INDEX_DIR || !p)
		return parent == FS_INO_INDEX_DIR ? -EPERM : -ESTALE;
	if (p->kind != IX_TABLE)
		return -EPERM;
	rc = fs_txn_write(ctx, &txn);
	if (rc)
		return rc;
	rc = store_inode_get(txn, p->table, &a); /* the table may be gone since the lookup */
	if (rc == 0)
		rc = add ? store_index_add(txn, p->table, name)
			 : store_index_drop(txn, p->table, name);
	if (rc == 0)
		rc = store_txn_commit(txn);
	else
		store_txn_abort(txn);
	if (rc == 0 && add)
		ctx->index.declared++;
	else if (rc == 0)
		ctx->index.dropped++;
	return rc;
}

void fs_index_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	int rc = fs_index_declare(req, parent, name, true);
	const struct fs_ix_node *p = ix_find(ctx, parent);
	struct fs_ix_node t = {.kind = IX_ATTR, .parent = parent}, *n;

	if (rc == 0) {
		t.table = p->table;
		t.name = strdup(name);
		t.attr = strdup(name);
		if (!t.name || !t.attr) {
			free(t.name);
			free(t.attr);
			rc = -ENOMEM;
		}
	}
	if (rc == 0)
		rc = ix_node(ctx, &t, &n);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		ix_reply_entry(req, n);
}
