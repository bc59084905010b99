/*
 * lmdb_index.c - secondary indexes of the LMDB backend (store.h,
 * "Secondary indexes"; docs/dynamodb.md): the declarations, the entries,
 * and the hooks lmdb.c calls so that every change of an indexed attribute,
 * and every change of which table an item is in, changes the entries in
 * the same transaction.
 *
 * The rule the entries keep (and `itemfs check` verifies): index (TABLE,
 * ATTR) holds (value, ino) exactly for each regular file ino with at least
 * one name whose parent pointer lies in TABLE's subtree and whose xattr
 * "user.ATTR" holds value, of at most STORE_INDEX_VALUE_MAX bytes.
 * Both kinds of record are meta keys (docs/store-format.md): no new
 * database, so older stores open unchanged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "lmdb_i.h"

#define INDEX_DEPTH_MAX 4096 /* parent pointers followed before giving up */

/* ---- keys ------------------------------------------------------------------ */

size_t lmdb_index_decl_key(unsigned char buf[LMDB_INDEX_DECL_KEY_MAX], uint64_t table,
			   const char *attr, size_t alen)
{
	memcpy(buf, LMDB_META_INDEX_DECL, 3);
	lmdb_put_be64(buf + 3, table);
	memcpy(buf + 11, attr, alen);
	return 11 + alen;
}

/*
 * The entry key "ixe" + id + the value with each NUL as 00 01, then 00 00
 * + ino: keys sort by id, then by value bytes (a value before every value
 * it is a prefix of), then by inode number. with_ino false leaves out the
 * inode number (a prefix for seeks).
 */
size_t lmdb_index_entry_key(unsigned char buf[LMDB_INDEX_ENTRY_KEY_MAX], uint64_t id,
			    const void *value, size_t len, uint64_t ino, bool with_ino)
{
	const unsigned char *v = value;
	size_t n = 11;

	memcpy(buf, LMDB_META_INDEX_ENTRY, 3);
	lmdb_put_be64(buf + 3, id);
	for (size_t i = 0; i < len; i++) {
		buf[n++] = v[i];
		if (v[i] == 0)
			buf[n++] = 1;
	}
	buf[n++] = 0;
	buf[n++] = 0;
	if (with_ino) {
		lmdb_put_be64(buf + n, ino);
		n += 8;
	}
	return n;
}

bool lmdb_index_entry_parse(const MDB_val *k, uint64_t *id, unsigned char *value, size_t *len,
			    uint64_t *ino)
{
	const unsigned char *b = k->mv_data;
	size_t n = 0, i;

	if (k->mv_size < 3 + 8 + 2 + 8 || memcmp(b, LMDB_META_INDEX_ENTRY, 3) != 0)
		return false;
	*id = lmdb_get_be64(b + 3);
	for (i = 11; i + 1 < k->mv_size - 8; i++) {
		if (b[i] != 0) {
			value[n++] = b[i];
			continue;
		}
		if (b[i + 1] == 0)
			break;
		if (b[i + 1] != 1)
			return false;
		value[n++] = 0;
		i++;
	}
	if (i + 2 + 8 != k->mv_size || n > STORE_INDEX_VALUE_MAX)
		return false;
	*len = n;
	*ino = lmdb_get_be64(b + k->mv_size - 8);
	return true;
}

/* ---- small LMDB helpers (errno results, as lmdb.c's) ------------------------ */

static int ix_get(struct lmdb_txn *t, MDB_val *k, MDB_val *v)
{
	int rc;

	if (t->err)
		return t->err;
	rc = mdb_get(t->mtxn, lmdb_txn_store(t)->meta, k, v);
	return rc ? lmdb_txn_fail(t, rc, "mdb_get (index)", lmdb_txn_store(t)->meta, 0) : 0;
}

static int ix_put(struct lmdb_txn *t, MDB_val *k, MDB_val *v, unsigned flags)
{
	int rc;

	if (t->err)
		return t->err;
	rc = mdb_put(t->mtxn, lmdb_txn_store(t)->meta, k, v, flags);
	if (rc)
		return lmdb_txn_fail(t, rc, "mdb_put (index)", lmdb_txn_store(t)->meta, 0);
	lmdb_redo_note(t, LMDB_REDO_PUT, lmdb_txn_store(t)->meta, k, v);
	return 0;
}

static int ix_del(struct lmdb_txn *t, MDB_val *k)
{
	int rc;

	if (t->err)
		return t->err;
	rc = mdb_del(t->mtxn, lmdb_txn_store(t)->meta, k, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return lmdb_txn_fail(t, rc, "mdb_del (index)", lmdb_txn_store(t)->meta, 0);
	lmdb_redo_note(t, LMDB_REDO_DEL, lmdb_txn_store(t)->meta, k, NULL);
	return 0;
}

/*
 * Positions a new cursor at the first meta key >= prefix[0..plen) and
 * returns 0 when that key begins with prefix, 1 when none does, or a
 * negative errno. The caller closes *c (also on 1).
 */
static int ix_seek(struct lmdb_txn *t, MDB_cursor **c, const void *prefix, size_t plen,
		   const void *from, size_t flen, MDB_val *k, MDB_val *v)
{
	int rc;

	*c = NULL;
	if (t->err)
		return t->err;
	rc = mdb_cursor_open(t->mtxn, lmdb_txn_store(t)->meta, c);
	if (rc) {
		*c = NULL;
		return lmdb_txn_fail(t, rc, "mdb_cursor_open (index)", lmdb_txn_store(t)->meta, 0);
	}
	*k = (MDB_val){flen, (void *)from};
	rc = mdb_cursor_get(*c, k, v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc)
		return lmdb_txn_fail(t, rc, "mdb_cursor_get (index)", lmdb_txn_store(t)->meta, 0);
	return k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0 ? 0 : 1;
}

static int ix_next(struct lmdb_txn *t, MDB_cursor *c, const void *prefix, size_t plen, MDB_val *k,
		   MDB_val *v)
{
	int rc = mdb_cursor_get(c, k, v, MDB_NEXT);

	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc)
		return lmdb_txn_fail(t, rc, "mdb_cursor_get (index)", lmdb_txn_store(t)->meta, 0);
	return k->mv_size >= plen && memcmp(k->mv_data, prefix, plen) == 0 ? 0 : 1;
}

/* ---- declarations ------------------------------------------------------------ */

/* One declaration of a table, as collected by decls_of(). */
struct ix_decl {
	uint64_t id;
	size_t alen;
	char attr[STORE_INDEX_ATTR_MAX + 1]; /* NUL-terminated */
};

/* 1 when the store holds any declaration at all (the cheap test every hook makes first). */
int lmdb_index_any(struct lmdb_txn *t)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = ix_seek(t, &c, LMDB_META_INDEX_DECL, 3, LMDB_META_INDEX_DECL, 3, &k, &v);

	if (c)
		mdb_cursor_close(c);
	return rc < 0 ? rc : rc == 0;
}

/* The declarations of table, in *out (malloc'd, *n of them; NULL when none). */
static int decls_of(struct lmdb_txn *t, uint64_t table, struct ix_decl **out, size_t *n)
{
	unsigned char pre[LMDB_INDEX_DECL_KEY_MAX];
	struct ix_decl *d = NULL, *nd;
	size_t cnt = 0, cap = 0;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	lmdb_index_decl_key(pre, table, "", 0);
	for (rc = ix_seek(t, &c, pre, 11, pre, 11, &k, &v); rc == 0;
	     rc = ix_next(t, c, pre, 11, &k, &v)) {
		if (cnt == cap) {
			cap = cap ? 2 * cap : 4;
			nd = realloc(d, cap * sizeof(*d));
			if (!nd) {
				rc = -ENOMEM;
				break;
			}
			d = nd;
		}
		if (k.mv_size <= 11 || k.mv_size > 11 + STORE_INDEX_ATTR_MAX ||
		    lmdb_u64_get(&v, &d[cnt].id))
			continue; /* damaged: `itemfs check` says so */
		d[cnt].alen = k.mv_size - 11;
		memcpy(d[cnt].attr, (const char *)k.mv_data + 11, d[cnt].alen);
		d[cnt].attr[d[cnt].alen] = '\0';
		cnt++;
	}
	if (c)
		mdb_cursor_close(c);
	if (rc < 0) {
		free(d);
		return rc;
	}
	*out = d;
	*n = cnt;
	return 0;
}

/* The id of declaration (table, attr) in *id: -ENOENT when there is none. */
static int decl_get(struct lmdb_txn *t, uint64_t table, const char *attr, size_t alen, uint64_t *id)
{
	unsigned char kb[LMDB_INDEX_DECL_KEY_MAX];
	MDB_val k = {lmdb_index_decl_key(kb, table, attr, alen), kb}, v;
	int rc = ix_get(t, &k, &v);

	if (rc == 0 && lmdb_u64_get(&v, id))
		rc = -EIO;
	return rc;
}

/*
 * The table the directory dir lies in, in *table: dir itself when it is a
 * top-level directory, 0 for the root, a directory that is gone, or a
 * chain of parent pointers that does not end at the root.
 */
int lmdb_index_table_of(struct lmdb_txn *t, uint64_t dir, uint64_t *table)
{
	struct store_attr a;
	int rc;

	*table = 0;
	for (int depth = 0; depth < INDEX_DEPTH_MAX; depth++) {
		if (dir == 0 || dir == STORE_ROOT_INO)
			return 0;
		rc = lmdb_inode_read(t, dir, &a);
		if (rc == -ENOENT)
			return 0;
		if (rc)
			return rc;
		if (!S_ISDIR(a.mode))
			return 0;
		if (a.parent == STORE_ROOT_INO) {
			*table = dir;
			return 0;
		}
		dir = a.parent;
	}
	return 0;
}

/* ---- entries ------------------------------------------------------------------- */

static int entry_set(struct lmdb_txn *t, uint64_t id, const void *value, size_t len, uint64_t ino,
		     bool add)
{
	unsigned char kb[LMDB_INDEX_ENTRY_KEY_MAX];
	MDB_val k = {lmdb_index_entry_key(kb, id, value, len, ino, true), kb}, empty = {0, NULL};

	return add ? ix_put(t, &k, &empty, 0) : ix_del(t, &k);
}

/*
 * Adds (add) or removes ino's entry in each index of table whose attribute
 * ino has. strict: an attribute value too long to index is -E2BIG (nothing
 * written); otherwise it is left out.
 */
static int item_entries(struct lmdb_txn *t, uint64_t table, uint64_t ino, bool add, bool strict)
{
	struct ix_decl *d = NULL;
	struct lmdb_key xk;
	char name[5 + STORE_INDEX_ATTR_MAX + 1];
	size_t n = 0;
	MDB_val v;
	int rc;

	if (!table)
		return 0;
	rc = decls_of(t, table, &d, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		memcpy(name, "user.", 5);
		memcpy(name + 5, d[i].attr, d[i].alen + 1);
		lmdb_key_set(&xk, ino, name, 5 + d[i].alen);
		rc = mdb_get(t->mtxn, lmdb_txn_store(t)->xattr, &xk.val, &v);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc) {
			rc = lmdb_txn_fail(t, rc, "mdb_get (index)", lmdb_txn_store(t)->xattr, ino);
			break;
		}
		if (v.mv_size > STORE_INDEX_VALUE_MAX) {
			if (strict && add)
				rc = -E2BIG;
			continue;
		}
		rc = entry_set(t, d[i].id, v.mv_data, v.mv_size, ino, add);
	}
	free(d);
	return rc;
}

/*
 * Before an xattr change of inode a (name, and the new value's size, or
 * removing): the index id it touches in *id (0: none). -E2BIG when the
 * new value is too long for it: the caller writes nothing.
 */
int lmdb_index_xattr_check(struct lmdb_txn *t, const struct store_attr *a, const char *name,
			   size_t size, bool removing, uint64_t *id)
{
	size_t nlen = strlen(name);
	uint64_t table;
	int rc;

	*id = 0;
	if (!S_ISREG(a->mode) || a->nlink == 0 || nlen <= 5 || memcmp(name, "user.", 5) != 0 ||
	    nlen - 5 > STORE_INDEX_ATTR_MAX)
		return 0;
	rc = lmdb_index_any(t);
	if (rc <= 0)
		return rc;
	rc = 0;
	rc = lmdb_index_table_of(t, a->parent, &table);
	if (rc || !table)
		return rc;
	rc = decl_get(t, table, name + 5, nlen - 5, id);
	if (rc == -ENOENT) {
		*id = 0;
		return 0;
	}
	if (rc == 0 && !removing && size > STORE_INDEX_VALUE_MAX)
		rc = -E2BIG;
	return rc;
}

/* After an xattr change that lmdb_index_xattr_check() gave id for: old and new values. */
int lmdb_index_xattr_changed(struct lmdb_txn *t, uint64_t id, uint64_t ino, const void *old,
			     size_t oldlen, bool had_old, const void *value, size_t len,
			     bool has_new)
{
	int rc = 0;

	if (!id)
		return 0;
	if (had_old && oldlen <= STORE_INDEX_VALUE_MAX)
		rc = entry_set(t, id, old, oldlen, ino, false);
	if (!rc && has_new)
		rc = entry_set(t, id, value, len, ino, true);
	return rc;
}

/*
 * A regular file c is moving between tables: before (its state before the
 * change: parent pointer and link count) and after. Moves its entries.
 */
int lmdb_index_item_moved(struct lmdb_txn *t, const struct store_attr *before,
			  const struct store_attr *after)
{
	uint64_t from = 0, to = 0;
	int rc;

	if (!S_ISREG(after->mode) || !after->xattr_bytes)
		return 0;
	rc = lmdb_index_any(t);
	if (rc <= 0)
		return rc;
	rc = 0;
	if (before->nlink > 0)
		rc = lmdb_index_table_of(t, before->parent, &from);
	if (!rc && after->nlink > 0)
		rc = lmdb_index_table_of(t, after->parent, &to);
	if (rc || from == to)
		return rc;
	rc = item_entries(t, from, after->ino, false, false);
	return rc ? rc : item_entries(t, to, after->ino, true, false);
}

/* Deletes the declaration (table, attr) with id, and all its entries. */
static int decl_drop(struct lmdb_txn *t, uint64_t table, const char *attr, size_t alen, uint64_t id)
{
	unsigned char pre[11], kb[LMDB_INDEX_DECL_KEY_MAX];
	MDB_val k, v;
	MDB_cursor *c;
	int rc;

	memcpy(pre, LMDB_META_INDEX_ENTRY, 3);
	lmdb_put_be64(pre + 3, id);
	/* Re-seek after each delete rather than trust the cursor's position. */
	for (;;) {
		rc = ix_seek(t, &c, pre, 11, pre, 11, &k, &v);
		if (rc == 0) {
			rc = lmdb_cursor_del(t, c, lmdb_txn_store(t)->meta, "mdb_cursor_del (index)",
					     0);
		} else if (rc == 1) {
			rc = -ENOENT;
		}
		if (c)
			mdb_cursor_close(c);
		if (rc)
			break;
	}
	if (rc != -ENOENT)
		return rc;
	k = (MDB_val){lmdb_index_decl_key(kb, table, attr, alen), kb};
	return ix_del(t, &k);
}

/* Drops every index of table (a table going away, or no longer at the top level). */
int lmdb_index_drop_table(struct lmdb_txn *t, uint64_t table)
{
	struct ix_decl *d = NULL;
	size_t n = 0;
	int rc = lmdb_index_any(t);

	if (rc <= 0)
		return rc;
	rc = 0;
	rc = decls_of(t, table, &d, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = decl_drop(t, table, d[i].attr, d[i].alen, d[i].id);
	free(d);
	return rc;
}

/*
 * Calls fn(t, arg, file) for every regular file with a name below
 * directory top whose parent pointer is the directory it was found in
 * (the files whose table is top's), depth first. At most max files
 * (0: no bound), else -EFBIG. fn may write meta keys only.
 */
static int walk_items(struct lmdb_txn *t, uint64_t top, size_t max,
		      int (*fn)(struct lmdb_txn *t, void *arg, const struct store_attr *f),
		      void *arg)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	uint64_t *stack = NULL, *ns;
	size_t depth = 0, cap = 0, files = 0;
	int rc = 0;

	stack = malloc(16 * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	cap = 16;
	stack[depth++] = top;
	while (rc == 0 && depth > 0) {
		uint64_t dir = stack[--depth];
		struct lmdb_key start;
		MDB_cursor *c;
		MDB_val k, v;
		int m;

		rc = mdb_cursor_open(t->mtxn, st->dirent, &c);
		if (rc) {
			rc = lmdb_txn_fail(t, rc, "mdb_cursor_open (index)", st->dirent, dir);
			break;
		}
		lmdb_key_set(&start, dir, NULL, 0);
		k = start.val;
		for (m = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); m == 0 && rc == 0;
		     m = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			struct store_attr f;
			uint64_t child;
			uint32_t type;

			if (k.mv_size < 8 || lmdb_key_ino(&k) != dir)
				break;
			rc = lmdb_dirent_decode(st, dir, &v, &child, &type);
			if (rc)
				break;
			if (S_ISDIR(type)) {
				if (depth == cap) {
					ns = realloc(stack, 2 * cap * sizeof(*stack));
					if (!ns) {
						rc = -ENOMEM;
						break;
					}
					stack = ns;
					cap *= 2;
				}
				stack[depth++] = child;
				continue;
			}
			if (!S_ISREG(type))
				continue;
			rc = lmdb_inode_read(t, child, &f);
			if (rc == -ENOENT) {
				rc = 0;
				continue;
			}
			if (rc || f.parent != dir || f.nlink == 0 || !f.xattr_bytes)
				continue;
			if (max && ++files > max) {
				rc = -EFBIG;
				break;
			}
			rc = fn(t, arg, &f);
		}
		if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
			rc = lmdb_txn_fail(t, m, "mdb_cursor_get (index)", st->dirent, dir);
		mdb_cursor_close(c);
	}
	free(stack);
	return rc;
}

struct move_arg {
	uint64_t from, to;
};

static int move_one(struct lmdb_txn *t, void *arg, const struct store_attr *f)
{
	const struct move_arg *m = arg;
	int rc = item_entries(t, m->from, f->ino, false, false);

	return rc ? rc : item_entries(t, m->to, f->ino, true, false);
}

/*
 * Directory dir has moved (its old parent pointer old_parent; 0: it is
 * new) to the new parent new_parent: when that changes its table, moves
 * the entries of the files below it, and drops dir's own indexes if it was
 * a table and is no longer one.
 */
int lmdb_index_dir_moved(struct lmdb_txn *t, uint64_t dir, uint64_t old_parent, uint64_t new_parent)
{
	struct move_arg m = {0, 0};
	int rc;

	if (old_parent == 0)
		return 0; /* a new directory: empty */
	rc = lmdb_index_any(t);
	if (rc <= 0)
		return rc;
	rc = 0;
	if (old_parent == STORE_ROOT_INO)
		m.from = dir;
	else
		rc = lmdb_index_table_of(t, old_parent, &m.from);
	if (rc == 0 && new_parent == STORE_ROOT_INO)
		m.to = dir;
	else if (rc == 0)
		rc = lmdb_index_table_of(t, new_parent, &m.to);
	if (rc || m.from == m.to)
		return rc;
	if (m.from == dir) {
		rc = lmdb_index_drop_table(t, dir); /* its entries go with it */
		m.from = 0;
	}
	if (rc == 0 && (m.from || m.to))
		rc = walk_items(t, dir, 0, move_one, &m);
	return rc;
}

/* ---- the operations ------------------------------------------------------------- */

/* A declared attribute name: 1..STORE_INDEX_ATTR_MAX bytes, not under "itemfs.". */
static int attr_check(const char *attr, size_t *alen)
{
	size_t n = attr ? strnlen(attr, STORE_INDEX_ATTR_MAX + 1) : 0;

	if (n == 0 || n > STORE_INDEX_ATTR_MAX || strncmp(attr, "itemfs.", 7) == 0)
		return -EINVAL;
	*alen = n;
	return 0;
}

/* A table: a directory whose parent is the root. */
static int table_check(struct lmdb_txn *t, uint64_t table)
{
	struct store_attr a;
	int rc = lmdb_inode_read(t, table, &a);

	if (rc)
		return rc;
	if (!S_ISDIR(a.mode))
		return -ENOTDIR;
	return a.parent == STORE_ROOT_INO && table != STORE_ROOT_INO ? 0 : -EINVAL;
}

struct build_arg {
	uint64_t id;
	char name[5 + STORE_INDEX_ATTR_MAX + 1];
	size_t nlen;
};

/*
 * Item f's value of the indexed attribute into *v: 0, 1 when it has none,
 * -E2BIG when it is too long to index, or an errno.
 */
static int build_value(struct lmdb_txn *t, const struct build_arg *b, const struct store_attr *f,
		       MDB_val *v)
{
	struct lmdb_key xk;
	int rc;

	lmdb_key_set(&xk, f->ino, b->name, b->nlen);
	rc = mdb_get(t->mtxn, lmdb_txn_store(t)->xattr, &xk.val, v);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc)
		return lmdb_txn_fail(t, rc, "mdb_get (index)", lmdb_txn_store(t)->xattr, f->ino);
	return v->mv_size > STORE_INDEX_VALUE_MAX ? -E2BIG : 0;
}

static int build_one(struct lmdb_txn *t, void *arg, const struct store_attr *f)
{
	const struct build_arg *b = arg;
	MDB_val v;
	int rc = build_value(t, b, f, &v);

	return rc ? (rc == 1 ? 0 : rc) : entry_set(t, b->id, v.mv_data, v.mv_size, f->ino, true);
}

static int build_check(struct lmdb_txn *t, void *arg, const struct store_attr *f)
{
	MDB_val v;
	int rc = build_value(t, arg, f, &v);

	return rc == 1 ? 0 : rc;
}

int lmdb_index_add(struct store_txn *txn, uint64_t table, const char *attr)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	unsigned char kb[LMDB_INDEX_DECL_KEY_MAX], nb[8];
	MDB_val nk = lmdb_meta_key(LMDB_META_INDEX_NEXT), k, v;
	struct build_arg b;
	uint64_t next = 1, id;
	size_t alen;
	int rc;

	rc = attr_check(attr, &alen);
	if (rc == 0)
		rc = table_check(t, table);
	if (rc == 0) {
		rc = decl_get(t, table, attr, alen, &id);
		if (rc == 0)
			rc = -EEXIST;
		else if (rc == -ENOENT)
			rc = 0;
	}
	if (rc)
		return rc;
	memcpy(b.name, "user.", 5);
	memcpy(b.name + 5, attr, alen);
	b.name[5 + alen] = '\0';
	b.nlen = 5 + alen;
	/* A first walk writes nothing: a refused build leaves txn as it was. */
	rc = walk_items(t, table, STORE_INDEX_BUILD_MAX, build_check, &b);
	if (rc)
		return rc;
	rc = ix_get(t, &nk, &v);
	if (rc == -ENOENT)
		rc = 0; /* the first index of this store */
	else if (rc == 0 && lmdb_u64_get(&v, &next))
		rc = -EIO;
	if (rc)
		return rc;
	b.id = id = next;
	lmdb_u64_val(nb, next + 1, &v);
	rc = ix_put(t, &nk, &v, 0);
	if (rc == 0) {
		k = (MDB_val){lmdb_index_decl_key(kb, table, attr, alen), kb};
		lmdb_u64_val(nb, id, &v);
		rc = ix_put(t, &k, &v, MDB_NOOVERWRITE);
	}
	return rc ? rc : walk_items(t, table, 0, build_one, &b);
}

int lmdb_index_drop(struct store_txn *txn, uint64_t table, const char *attr)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	uint64_t id;
	size_t alen;
	int rc = attr_check(attr, &alen);

	if (rc == 0)
		rc = decl_get(t, table, attr, alen, &id);
	return rc ? rc : decl_drop(t, table, attr, alen, id);
}

int lmdb_index_list(struct store_txn *txn, uint64_t table, store_index_fn fn, void *arg)
{
	struct ix_decl *d = NULL;
	size_t n = 0;
	int rc = decls_of(lmdb_txn_of(txn), table, &d, &n);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = fn(arg, d[i].attr, d[i].alen);
	free(d);
	return rc;
}

int lmdb_index_values(struct store_txn *txn, uint64_t table, const char *attr, const void *from,
		      size_t fromlen, store_index_value_fn fn, void *arg)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	unsigned char pre[11], kb[LMDB_INDEX_ENTRY_KEY_MAX], val[STORE_INDEX_VALUE_MAX];
	uint64_t id, eid, ino;
	size_t alen, len, klen;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int stop = 0, rc = attr_check(attr, &alen);

	if (rc == 0)
		rc = decl_get(t, table, attr, alen, &id);
	if (rc)
		return rc;
	memcpy(pre, LMDB_META_INDEX_ENTRY, 3);
	lmdb_put_be64(pre + 3, id);
	if (fromlen > STORE_INDEX_VALUE_MAX)
		fromlen = STORE_INDEX_VALUE_MAX;
	/* from's key without its terminator: the first value >= from */
	klen = lmdb_index_entry_key(kb, id, from, fromlen, 0, false) - 2;
	for (rc = ix_seek(t, &c, pre, 11, kb, klen, &k, &v); rc == 0;) {
		if (!lmdb_index_entry_parse(&k, &eid, val, &len, &ino)) {
			rc = ix_next(t, c, pre, 11, &k, &v);
			continue;
		}
		stop = fn(arg, val, len);
		if (stop)
			break;
		/* past every entry of this value: its key with the largest inode number */
		klen = lmdb_index_entry_key(kb, id, val, len, UINT64_MAX, true);
		mdb_cursor_close(c);
		rc = ix_seek(t, &c, pre, 11, kb, klen, &k, &v);
		if (rc == 0 && k.mv_size == klen && memcmp(k.mv_data, kb, klen) == 0)
			rc = ix_next(t, c, pre, 11, &k, &v);
	}
	if (c)
		mdb_cursor_close(c);
	return stop ? stop : rc < 0 ? rc : 0;
}

int lmdb_index_items(struct store_txn *txn, uint64_t table, const char *attr, const void *value,
		     size_t len, store_index_item_fn fn, void *arg)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	unsigned char kb[LMDB_INDEX_ENTRY_KEY_MAX];
	MDB_cursor *c = NULL;
	uint64_t id;
	size_t alen, plen;
	MDB_val k, v;
	int stop = 0, rc = attr_check(attr, &alen);

	if (rc == 0)
		rc = decl_get(t, table, attr, alen, &id);
	if (rc)
		return rc;
	if (len > STORE_INDEX_VALUE_MAX)
		return -ENOENT;
	plen = lmdb_index_entry_key(kb, id, value, len, 0, false);
	for (rc = ix_seek(t, &c, kb, plen, kb, plen, &k, &v); rc == 0;
	     rc = ix_next(t, c, kb, plen, &k, &v)) {
		if (k.mv_size != plen + 8)
			continue;
		stop = fn(arg, lmdb_get_be64((const unsigned char *)k.mv_data + plen));
		if (stop)
			break;
	}
	if (c)
		mdb_cursor_close(c);
	return stop ? stop : rc < 0 ? rc : 0;
}
