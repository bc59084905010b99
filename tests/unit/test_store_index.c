/*
 * test_store_index.c - the store's secondary indexes (store.h, "Secondary
 * indexes") on a real LMDB in a fresh temporary directory per test: the
 * build on declaration, every change that must move an entry, the errors,
 * and `itemfs check` finding an index out of step (made with raw LMDB).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

struct fx {
	char tmp[64];
	char path[128];
	struct store *st;
	uint64_t table, sub, other;
};

static void quiet(int priority, const char *msg)
{
	(void)priority;
	(void)msg;
}

static struct store_txn *begin(struct store *st)
{
	struct store_txn *t = NULL;

	assert_int_equal(store_txn_begin(st, STORE_TXN_WRITE, &t), 0);
	return t;
}

static uint64_t make(struct store_txn *t, uint64_t parent, const char *name, uint32_t mode)
{
	struct store_attr a = {.mode = mode};

	assert_int_equal(store_ino_alloc(t, &a.ino), 0);
	assert_int_equal(store_inode_put(t, &a), 0);
	assert_int_equal(store_dirent_add(t, parent, name, strlen(name), a.ino), 0);
	return a.ino;
}

static void setx(struct store_txn *t, uint64_t ino, const char *v)
{
	assert_int_equal(store_xattr_set(t, ino, "user.color", v, strlen(v), 0), 0);
}

/* A store with tables t (holding sub/) and o. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct store_config cfg = {.create = true, .log = quiet};
	struct store_txn *t;

	strcpy(f->tmp, "/tmp/itemfs-test-index-XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/store", f->tmp);
	cfg.path = f->path;
	if (store_open(&cfg, &f->st))
		return -1;
	t = begin(f->st);
	f->table = make(t, STORE_ROOT_INO, "t", S_IFDIR | 0755);
	f->sub = make(t, f->table, "sub", S_IFDIR | 0755);
	f->other = make(t, STORE_ROOT_INO, "o", S_IFDIR | 0755);
	assert_int_equal(store_txn_commit(t), 0);
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* The index as text: "value:ino,ino;value:ino;" */
struct dump {
	struct store_txn *t;
	uint64_t table;
	char buf[1024];
};

static int dump_item(void *arg, uint64_t ino)
{
	struct dump *d = arg;
	size_t n = strlen(d->buf);

	snprintf(d->buf + n, sizeof(d->buf) - n, "%llu,", (unsigned long long)ino);
	return 0;
}

static int dump_value(void *arg, const void *value, size_t len)
{
	struct dump *d = arg;
	size_t n = strlen(d->buf);
	int rc;

	snprintf(d->buf + n, sizeof(d->buf) - n, "%.*s:", (int)len, (const char *)value);
	rc = store_index_items(d->t, d->table, "color", value, len, dump_item, d);
	n = strlen(d->buf);
	snprintf(d->buf + n, sizeof(d->buf) - n, ";");
	return rc;
}

static const char *dump(struct store_txn *t, uint64_t table, struct dump *d)
{
	d->t = t;
	d->table = table;
	d->buf[0] = '\0';
	assert_int_equal(store_index_values(t, table, "color", NULL, 0, dump_value, d), 0);
	return d->buf;
}

static char *fmt(char *buf, const char *f, ...) __attribute__((format(printf, 2, 3)));
static char *fmt(char *buf, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, 256, f, ap);
	va_end(ap);
	return buf;
}

static void test_build_and_changes(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st);
	struct dump d;
	char want[256];
	uint64_t a, b, c;

	a = make(t, f->table, "a", S_IFREG | 0644);
	b = make(t, f->table, "b", S_IFREG | 0644);
	c = make(t, f->sub, "c", S_IFREG | 0644);
	setx(t, a, "red");
	setx(t, b, "blue");
	setx(t, c, "red");
	assert_int_equal(store_index_add(t, f->table, "color"), 0);
	assert_string_equal(dump(t, f->table, &d),
			    fmt(want, "blue:%llu,;red:%llu,%llu,;", (unsigned long long)b,
				(unsigned long long)a, (unsigned long long)c));
	/* a new value moves the item; a value that is a prefix sorts first */
	setx(t, a, "re");
	assert_string_equal(dump(t, f->table, &d),
			    fmt(want, "blue:%llu,;re:%llu,;red:%llu,;", (unsigned long long)b,
				(unsigned long long)a, (unsigned long long)c));
	/* removexattr drops it; the last name going drops it */
	assert_int_equal(store_xattr_remove(t, b, "user.color"), 0);
	assert_int_equal(store_dirent_remove(t, f->sub, "c", 1, NULL), 0);
	assert_string_equal(dump(t, f->table, &d), fmt(want, "re:%llu,;", (unsigned long long)a));
	assert_int_equal(store_inode_free(t, c), 0);
	/* a move to another table leaves this one's index, and enters the other's */
	assert_int_equal(store_index_add(t, f->other, "color"), 0);
	assert_int_equal(store_dirent_remove(t, f->table, "a", 1, NULL), 0);
	assert_int_equal(store_dirent_add(t, f->other, "a", 1, a), 0);
	assert_string_equal(dump(t, f->table, &d), "");
	assert_string_equal(dump(t, f->other, &d), fmt(want, "re:%llu,;", (unsigned long long)a));
	/* and a directory moving tables takes its items along */
	c = make(t, f->sub, "c2", S_IFREG | 0644);
	setx(t, c, "green");
	assert_string_equal(dump(t, f->table, &d),
			    fmt(want, "green:%llu,;", (unsigned long long)c));
	assert_int_equal(store_dirent_remove(t, f->table, "sub", 3, NULL), 0);
	assert_int_equal(store_dirent_add(t, f->other, "sub", 3, f->sub), 0);
	assert_string_equal(dump(t, f->table, &d), "");
	assert_string_equal(
	    dump(t, f->other, &d),
	    fmt(want, "green:%llu,;re:%llu,;", (unsigned long long)c, (unsigned long long)a));
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st);
	char longv[STORE_INDEX_VALUE_MAX + 2];
	struct dump d;
	uint64_t a;

	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	a = make(t, f->table, "a", S_IFREG | 0644);
	assert_int_equal(store_index_add(t, f->sub, "color"), -EINVAL); /* not a table */
	assert_int_equal(store_index_add(t, a, "color"), -ENOTDIR);
	assert_int_equal(store_index_add(t, 999, "color"), -ENOENT);
	assert_int_equal(store_index_add(t, f->table, ""), -EINVAL);
	assert_int_equal(store_index_add(t, f->table, "itemfs.x"), -EINVAL);
	assert_int_equal(store_index_drop(t, f->table, "color"), -ENOENT);
	/* a value too long refuses the declaration, and writes nothing */
	setx(t, a, longv);
	assert_int_equal(store_index_add(t, f->table, "color"), -E2BIG);
	assert_int_equal(store_index_values(t, f->table, "color", NULL, 0, dump_value, &d),
			 -ENOENT);
	setx(t, a, "red");
	assert_int_equal(store_index_add(t, f->table, "color"), 0);
	assert_int_equal(store_index_add(t, f->table, "color"), -EEXIST);
	/* ... and the attribute change, once indexed; 240 bytes are fine */
	assert_int_equal(store_xattr_set(t, a, "user.color", longv, strlen(longv), 0), -E2BIG);
	assert_int_equal(store_xattr_set(t, a, "user.color", longv, STORE_INDEX_VALUE_MAX, 0), 0);
	assert_int_equal(store_xattr_set(t, a, "user.other", longv, strlen(longv), 0), 0);
	/* a table removed drops its indexes */
	assert_int_equal(store_index_drop(t, f->table, "color"), 0);
	assert_int_equal(store_index_drop(t, f->table, "color"), -ENOENT);
	assert_int_equal(store_index_add(t, f->other, "color"), 0);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "o", 1, NULL), 0);
	assert_int_equal(store_inode_free(t, f->other), 0);
	assert_int_equal(store_index_values(t, f->other, "color", NULL, 0, dump_value, &d),
			 -ENOENT);
	assert_int_equal(store_txn_commit(t), 0);
}

struct found {
	int n;
	char msg[8][256];
};

static void found_problem(void *arg, uint64_t ino, const char *path, const char *msg)
{
	struct found *fd = arg;

	(void)ino;
	(void)path;
	if (fd->n < 8)
		snprintf(fd->msg[fd->n], sizeof(fd->msg[0]), "%s", msg);
	fd->n++;
}

static int check(struct fx *f, struct found *fd)
{
	static const struct store_check_ops ops = {found_problem, NULL};
	struct store_check_summary s;

	memset(fd, 0, sizeof(*fd));
	assert_int_equal(store_check(f->st, &ops, fd, &s), 0);
	return fd->n;
}

/* Deletes (or, with put, writes) every meta key beginning with prefix; a raw tool's damage. */
static void raw_meta(struct fx *f, const char *prefix, const void *key, size_t klen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *c;
	MDB_val k, v = {0, NULL};

	store_close(f->st);
	f->st = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, f->path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	if (key) {
		k = (MDB_val){klen, (void *)key};
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	} else {
		assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
		k = (MDB_val){strlen(prefix), (void *)prefix};
		while (mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) == 0 &&
		       k.mv_size >= strlen(prefix) &&
		       memcmp(k.mv_data, prefix, strlen(prefix)) == 0) {
			assert_int_equal(mdb_cursor_del(c, 0), 0);
			k = (MDB_val){strlen(prefix), (void *)prefix};
		}
		mdb_cursor_close(c);
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	struct store_config cfg = {.path = f->path, .log = quiet};
	assert_int_equal(store_open(&cfg, &f->st), 0);
}

static void test_check(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st);
	unsigned char bogus[3 + 8 + 3 + 2 + 8] = "ixe";
	struct found fd;
	uint64_t a;

	a = make(t, f->sub, "a", S_IFREG | 0644);
	setx(t, a, "red");
	assert_int_equal(store_index_add(t, f->table, "color"), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(check(f, &fd), 0);

	/* an entry missing */
	raw_meta(f, "ixe", NULL, 0);
	assert_int_equal(check(f, &fd), 1);
	assert_non_null(strstr(fd.msg[0], "its user.color (3 bytes) is missing from the table's "
					  "index on it"));

	/* an entry of the right index but a value the item does not hold: both directions */
	bogus[3 + 7] = 1; /* id 1 */
	memcpy(bogus + 11, "blu", 3);
	bogus[23] = (unsigned char)a; /* 00 00, then the ino (small) */
	raw_meta(f, NULL, bogus, sizeof(bogus));
	assert_int_equal(check(f, &fd), 2);
	assert_non_null(strstr(fd.msg[0], "lists it under a value (3 bytes) its attribute does "
					  "not hold"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_build_and_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
