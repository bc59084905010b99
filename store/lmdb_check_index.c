/*
 * lmdb_check_index.c - `itemfs check` of the secondary indexes (store.h,
 * "Secondary indexes"): every declaration names a table; every entry
 * names a live, named regular file of that table whose attribute holds
 * exactly the entry's value; and every such file has its entry. Run after
 * walk 1, from the nodes it collected (their parent pointers give each
 * file's table without another walk).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lmdb_check_i.h"

struct ck_decl {
	uint64_t table, id;
	size_t alen;
	char attr[STORE_INDEX_ATTR_MAX + 1];
};

/* The table of directory dir by the nodes' parent pointers; 0: none. */
static uint64_t ck_table_of(const struct ck *c, uint64_t dir)
{
	for (int depth = 0; depth < CK_PATH_DEPTH; depth++) {
		uint32_t i;

		if (dir == 0 || dir == STORE_ROOT_INO)
			return 0;
		i = ck_find(c, dir);
		if (i == CK_NONE || !ck_is(&c->nodes[i], S_IFDIR))
			return 0;
		if (c->nodes[i].parent == STORE_ROOT_INO)
			return dir;
		dir = c->nodes[i].parent;
	}
	return 0;
}

/* The value of ino's "user." + attr in *v: 1 found, 0 not, -1 LMDB failed (noted in c->err). */
static int ck_attr(struct ck *c, uint64_t ino, const struct ck_decl *d, MDB_val *v)
{
	char name[5 + STORE_INDEX_ATTR_MAX + 1];
	struct lmdb_key xk;
	int rc;

	memcpy(name, "user.", 5);
	memcpy(name + 5, d->attr, d->alen);
	lmdb_key_set(&xk, ino, name, 5 + d->alen);
	rc = mdb_get(c->txn, c->st->xattr, &xk.val, v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc) {
		ck_fail(c, rc, LMDB_DB_XATTR);
		return -1;
	}
	return 1;
}

static int ck_decls(struct ck *c, struct ck_decl **out, size_t *n)
{
	MDB_val k = {3, (void *)LMDB_META_INDEX_DECL}, v;
	struct ck_decl *d = NULL, *nd;
	size_t cnt = 0, cap = 0;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(c->txn, c->st->meta, &cur);

	if (rc)
		return ck_fail(c, rc, LMDB_DB_META);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size >= 3 && memcmp(k.mv_data, LMDB_META_INDEX_DECL, 3) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *b = k.mv_data;
		uint64_t table, id;
		uint32_t ti;

		if (k.mv_size <= 11 || k.mv_size > LMDB_INDEX_DECL_KEY_MAX ||
		    lmdb_u64_get(&v, &id)) {
			ck_note(c, 0, "meta: an index declaration key of %zu bytes or value of %zu",
				k.mv_size, v.mv_size);
			continue;
		}
		table = lmdb_get_be64(b + 3);
		ti = ck_find(c, table);
		if (ti == CK_NONE || !ck_is(&c->nodes[ti], S_IFDIR) ||
		    c->nodes[ti].parent != STORE_ROOT_INO)
			ck_note(c, table,
				"an index on user.%.*s is declared for it, but it is not "
				"a top-level directory",
				(int)(k.mv_size - 11), b + 11);
		if (cnt == cap) {
			cap = cap ? 2 * cap : 8;
			nd = realloc(d, cap * sizeof(*d));
			if (!nd) {
				free(d);
				mdb_cursor_close(cur);
				c->err = -ENOMEM;
				return c->err;
			}
			d = nd;
		}
		d[cnt].table = table;
		d[cnt].id = id;
		d[cnt].alen = k.mv_size - 11;
		memcpy(d[cnt].attr, b + 11, d[cnt].alen);
		d[cnt].attr[d[cnt].alen] = '\0';
		cnt++;
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND) {
		free(d);
		return ck_fail(c, rc, LMDB_DB_META);
	}
	*out = d;
	*n = cnt;
	return 0;
}

/* Every entry is right (one direction). */
static int ck_entries(struct ck *c, const struct ck_decl *d, size_t n)
{
	MDB_val k = {3, (void *)LMDB_META_INDEX_ENTRY}, v, xv;
	unsigned char val[STORE_INDEX_VALUE_MAX];
	MDB_cursor *cur;
	int rc = mdb_cursor_open(c->txn, c->st->meta, &cur);

	if (rc)
		return ck_fail(c, rc, LMDB_DB_META);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size >= 3 && memcmp(k.mv_data, LMDB_META_INDEX_ENTRY, 3) == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const struct ck_decl *dd = NULL;
		uint64_t id, ino;
		size_t len;
		uint32_t i;
		int a;

		if (!lmdb_index_entry_parse(&k, &id, val, &len, &ino)) {
			ck_note(c, 0, "meta: an index entry key of %zu bytes that does not parse",
				k.mv_size);
			continue;
		}
		for (size_t j = 0; j < n; j++)
			if (d[j].id == id)
				dd = &d[j];
		if (!dd) {
			ck_note(c, 0,
				"meta: index entry of inode %llu in index %llu, which is not "
				"declared",
				(unsigned long long)ino, (unsigned long long)id);
			continue;
		}
		i = ck_find(c, ino);
		if (i == CK_NONE) {
			ck_note(c, 0,
				"meta: index entry (user.%s) for inode %llu, which does not exist",
				dd->attr, (unsigned long long)ino);
			continue;
		}
		if (!ck_is(&c->nodes[i], S_IFREG) || c->nodes[i].nlink == 0 ||
		    ck_table_of(c, c->nodes[i].parent) != dd->table) {
			ck_note(c, ino,
				"the index on user.%s of table inode %llu lists it, but it "
				"is not a named item of that table",
				dd->attr, (unsigned long long)dd->table);
			continue;
		}
		a = ck_attr(c, ino, dd, &xv);
		if (a < 0)
			break;
		if (a == 0 || xv.mv_size != len || memcmp(xv.mv_data, val, len) != 0)
			ck_note(c, ino,
				"the index on user.%s lists it under a value (%zu bytes) "
				"its attribute does not hold",
				dd->attr, len);
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return ck_fail(c, rc, LMDB_DB_META);
	return c->err;
}

/* Every item that should have an entry has it (the other direction). */
static int ck_items(struct ck *c, const struct ck_decl *d, size_t n)
{
	for (size_t i = 0; i < c->n && !c->err; i++) {
		const struct ck_node *nd = &c->nodes[i];
		uint64_t table;

		if (!ck_is(nd, S_IFREG) || nd->nlink == 0)
			continue;
		table = ck_table_of(c, nd->parent);
		for (size_t j = 0; table && j < n; j++) {
			unsigned char kb[LMDB_INDEX_ENTRY_KEY_MAX];
			MDB_val k, v, xv;
			int a, rc;

			if (d[j].table != table)
				continue;
			a = ck_attr(c, nd->ino, &d[j], &xv);
			if (a < 0)
				return c->err;
			if (a == 0 || xv.mv_size > STORE_INDEX_VALUE_MAX)
				continue;
			k = (MDB_val){lmdb_index_entry_key(kb, d[j].id, xv.mv_data, xv.mv_size,
							   nd->ino, true),
				      kb};
			rc = mdb_get(c->txn, c->st->meta, &k, &v);
			if (rc == MDB_NOTFOUND)
				ck_note(c, nd->ino,
					"its user.%s (%zu bytes) is missing from the "
					"table's index on it",
					d[j].attr, xv.mv_size);
			else if (rc)
				return ck_fail(c, rc, LMDB_DB_META);
		}
	}
	return c->err;
}

int ck_check_index(struct ck *c)
{
	struct ck_decl *d = NULL;
	size_t n = 0;
	int rc = ck_decls(c, &d, &n);

	if (rc == 0)
		rc = ck_entries(c, d, n);
	if (rc == 0 && n)
		rc = ck_items(c, d, n);
	free(d);
	return rc;
}
