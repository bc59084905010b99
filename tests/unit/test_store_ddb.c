/*
 * test_store_ddb.c - the DynamoDB-API backend's item operations against a
 * real dynalite server (tests/ddb/with-dynalite.sh starts one and names it
 * in ITEMFS_TEST_DDB_ENDPOINT), one fresh store (table) per test, opened
 * through store_open() as any caller would. Tests that check the record
 * layout or damage a store reach past the store with the backend's record
 * API (ddb_i.h) inside a transaction of the same handle.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "ddb_i.h"
#include "store.h"

/* ---- log capture ------------------------------------------------------ */

#define LOG_LINES 32
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[LOG_LINES][1024];
static int log_count;

/* Keeps the store's log lines for logged_ending(), and shows them with a failure. */
static void capture_log(int priority, const char *msg)
{
	(void)priority;
	fprintf(stderr, "store log: %s\n", msg);
	pthread_mutex_lock(&log_mu);
	if (log_count < LOG_LINES)
		snprintf(log_lines[log_count], sizeof(log_lines[0]), "%s", msg);
	log_count++;
	pthread_mutex_unlock(&log_mu);
}

/* True when the store logged a line ending in tail during the test. */
static bool logged_ending(const char *tail)
{
	size_t n = strlen(tail);

	for (int i = 0; i < log_count && i < LOG_LINES; i++) {
		size_t len = strlen(log_lines[i]);

		if (len >= n && strcmp(log_lines[i] + len - n, tail) == 0)
			return true;
	}
	return false;
}

/* ---- request counting (linked with --wrap=ddb_call) ------------------- */

int __real_ddb_call(struct ddb_client *c, const char *op, json_t *req, json_t **resp,
		    char errtype[DDB_ERRTYPE_MAX]);
int __wrap_ddb_call(struct ddb_client *c, const char *op, json_t *req, json_t **resp,
		    char errtype[DDB_ERRTYPE_MAX]);

static pthread_t test_thread;
static unsigned n_get, n_query, n_batch; /* the test thread's GetItem, Query, BatchGetItem */
/* Fault injection: fail (-EIO) the first BatchWriteItem after the intent is
 * written (a commit that dies half applied), when set; cleared once used. */
static bool fail_after_intent, intent_written;

static bool is_intent_put(const char *op, json_t *req)
{
	const char *s = json_string_value(
	    json_object_get(json_object_get(json_object_get(req, "Item"), "s"), "B"));

	return strcmp(op, "PutItem") == 0 && s && strcmp(s, "aW50ZW50") == 0; /* "intent" */
}

/* Counts the requests the test's own thread makes: not the poller's. */
int __wrap_ddb_call(struct ddb_client *c, const char *op, json_t *req, json_t **resp,
		    char errtype[DDB_ERRTYPE_MAX])
{
	if (fail_after_intent && is_intent_put(op, req)) {
		intent_written = true;
	} else if (fail_after_intent && intent_written && strcmp(op, "BatchWriteItem") == 0) {
		fail_after_intent = intent_written = false;
		return -EIO;
	}
	if (pthread_equal(pthread_self(), test_thread)) {
		if (strcmp(op, "GetItem") == 0)
			n_get++;
		else if (strcmp(op, "Query") == 0)
			n_query++;
		else if (strcmp(op, "BatchGetItem") == 0)
			n_batch++;
	}
	return __real_ddb_call(c, op, req, resp, errtype);
}

static void count_reset(void)
{
	n_get = n_query = n_batch = 0;
}

/* ---- fixtures --------------------------------------------------------- */

struct fx {
	char url[256]; /* dynamodb+http://HOST:PORT/t<random>: a table of its own */
	struct store *st;
};

static struct store_config config(const struct fx *f, bool create)
{
	return (struct store_config){.path = f->url, .create = create, .log = capture_log};
}

static int setup_store(void **state)
{
	const char *ep = getenv("ITEMFS_TEST_DDB_ENDPOINT");
	struct store_config cfg;
	unsigned char r[8] = {0};
	struct fx *f;
	int fd, rc;

	if (!ep || strncmp(ep, "http://", 7) != 0) {
		fprintf(stderr, "ITEMFS_TEST_DDB_ENDPOINT is not an http:// URL: run this test "
				"through tests/ddb/with-dynalite.sh\n");
		return -1;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0 || read(fd, r, sizeof(r)) != (ssize_t)sizeof(r)) {
		if (fd >= 0)
			close(fd);
		free(f);
		return -1;
	}
	close(fd);
	snprintf(f->url, sizeof(f->url), "dynamodb+http://%s/t%02x%02x%02x%02x%02x%02x%02x%02x",
		 ep + 7, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	log_count = 0;
	cfg = config(f, true);
	rc = store_open(&cfg, &f->st);
	if (rc) {
		fprintf(stderr, "store_open(%s): %s\n", f->url, strerror(-rc));
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	free(f);
	return 0;
}

/* ---- helpers ---------------------------------------------------------- */

static struct store_txn *begin(struct store *st, unsigned flags)
{
	struct store_txn *t = NULL;

	assert_int_equal(store_txn_begin(st, flags, &t), 0);
	assert_non_null(t);
	return t;
}

static struct store_attr attr_of(struct store_txn *t, uint64_t ino)
{
	struct store_attr a;

	assert_int_equal(store_inode_get(t, ino, &a), 0);
	return a;
}

/* A new, unlinked inode of the given mode. */
static uint64_t make_inode(struct store_txn *t, uint32_t mode)
{
	struct store_attr a = {.mode = mode, .uid = 1000, .gid = 1000};

	assert_int_equal(store_ino_alloc(t, &a.ino), 0);
	assert_int_equal(store_inode_put(t, &a), 0);
	return a.ino;
}

static uint64_t make_node(struct store_txn *t, uint64_t parent, const char *name, uint32_t mode)
{
	uint64_t ino = make_inode(t, mode);

	assert_int_equal(store_dirent_add(t, parent, name, strlen(name), ino), 0);
	return ino;
}

static uint64_t make_file(struct store_txn *t, uint64_t parent, const char *name)
{
	return make_node(t, parent, name, S_IFREG | 0644);
}

static uint64_t make_dir(struct store_txn *t, uint64_t parent, const char *name)
{
	return make_node(t, parent, name, S_IFDIR | 0755);
}

static uint64_t lookup(struct store_txn *t, uint64_t parent, const char *name)
{
	uint64_t ino = 0;

	assert_int_equal(store_dirent_get(t, parent, name, strlen(name), &ino), 0);
	return ino;
}

static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len ? len : 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 31 + seed * 7 + (i >> 8));
	return p;
}

static void assert_data(struct store_txn *t, uint64_t ino, const void *want, size_t len)
{
	struct store_buf b;

	assert_int_equal(store_data_get(t, ino, &b), 0);
	assert_int_equal(b.len, len);
	if (len == 0)
		assert_null(b.data);
	else
		assert_memory_equal(b.data, want, len);
	free(b.data);
}

/* Whether the raw record (part + be64(ino), s) exists, as t sees it; its length in *len. */
static bool raw_exists(struct store_txn *t, char part, uint64_t ino, const void *s, size_t slen,
		       size_t *len)
{
	unsigned char p[9];
	const unsigned char *v;
	size_t vlen = 0;
	int rc;

	p[0] = (unsigned char)part;
	ddb_be64(p + 1, ino);
	rc = ddb_rec_get(ddb_txn_of(t), p, 9, s, slen, &v, &vlen);
	assert_true(rc == 0 || rc == -ENOENT);
	if (len)
		*len = vlen;
	return rc == 0;
}

/* Whether record "m" / name exists now, read strongly. */
static bool raw_exists_meta(struct store *st, const char *name)
{
	struct store_txn *t = begin(st, STORE_TXN_READ);
	const unsigned char *v;
	size_t vlen;
	int rc;

	ddb_txn_of(t)->strong = true;
	rc = ddb_rec_get(ddb_txn_of(t), "m", 1, name, strlen(name), &v, &vlen);
	assert_true(rc == 0 || rc == -ENOENT);
	store_txn_abort(t);
	return rc == 0;
}

/* Whether ino is listed as an orphan (record "o" / be64 ino), as t sees it. */
static bool orphan_listed(struct store_txn *t, uint64_t ino)
{
	unsigned char s[8];
	const unsigned char *v;
	size_t vlen;
	int rc;

	ddb_be64(s, ino);
	rc = ddb_rec_get(ddb_txn_of(t), "o", 1, s, 8, &v, &vlen);
	assert_true(rc == 0 || rc == -ENOENT);
	return rc == 0;
}

/* The data record k's key. */
static const char *part_s(unsigned k)
{
	static char s[3];

	s[0] = 'd';
	s[1] = (char)(k >> 8);
	s[2] = (char)k;
	return s;
}

/* ---- dirent listing ------------------------------------------------------ */

struct listing {
	size_t n;
	char names[16][STORE_NAME_MAX + 1];
	uint64_t inos[16];
	uint32_t modes[16];
	size_t stop_at; /* 0: never; else return 42 after this many */
};

static int collect_dirent(void *arg, const struct store_dirent *e)
{
	struct listing *l = arg;

	assert_true(l->n < 16);
	memcpy(l->names[l->n], e->name, e->namelen);
	l->names[l->n][e->namelen] = '\0';
	l->inos[l->n] = e->ino;
	l->modes[l->n] = e->mode;
	l->n++;
	return l->stop_at && l->n == l->stop_at ? 42 : 0;
}

/* ---- the change log --------------------------------------------------- */

struct change {
	uint64_t seq, origin, ino, parent;
	enum store_change_kind kind;
	char name[STORE_NAME_MAX + 1];
	bool has_name;
};

struct changes {
	size_t n;
	struct change c[64];
	size_t stop_at;
};

static int collect_change(void *arg, const struct store_change *c)
{
	struct changes *cs = arg;
	struct change *x;

	assert_true(cs->n < 64);
	x = &cs->c[cs->n++];
	*x = (struct change){c->seq, c->origin, c->ino, c->parent, c->kind, "", c->name != NULL};
	if (c->name)
		memcpy(x->name, c->name, c->namelen);
	return cs->stop_at && cs->n == cs->stop_at ? 7 : 0;
}

static int read_changes(struct store *st, uint64_t after, struct changes *cs)
{
	struct store_txn *t = begin(st, STORE_TXN_READ);
	int rc;

	memset(cs, 0, sizeof(*cs));
	rc = store_changes(t, after, collect_change, cs);
	assert_int_equal(store_txn_commit(t), 0);
	return rc;
}

static void assert_change(const struct changes *cs, size_t i, uint64_t seq, uint64_t origin,
			  enum store_change_kind kind, uint64_t ino, uint64_t parent,
			  const char *name)
{
	const struct change *c = &cs->c[i];

	assert_true(i < cs->n);
	assert_int_equal(c->seq, seq);
	assert_int_equal(c->origin, origin);
	assert_int_equal(c->kind, kind);
	assert_int_equal(c->ino, ino);
	assert_int_equal(c->parent, parent);
	if (name) {
		assert_true(c->has_name);
		assert_string_equal(c->name, name);
	} else {
		assert_false(c->has_name);
	}
}

static uint64_t change_last(struct store *st)
{
	struct store_txn *t = begin(st, STORE_TXN_READ);
	uint64_t seq = 99;

	assert_int_equal(store_change_last(t, &seq), 0);
	assert_int_equal(store_txn_commit(t), 0);
	return seq;
}

/* ---- a new store ------------------------------------------------------ */

static void test_new_store(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_READ);
	struct store_attr a = attr_of(t, STORE_ROOT_INO);
	struct timespec now;
	uint64_t seq = 99;

	clock_gettime(CLOCK_REALTIME, &now);
	assert_int_equal(a.ino, STORE_ROOT_INO);
	assert_int_equal(a.mode, S_IFDIR | 0755);
	assert_int_equal(a.uid, geteuid());
	assert_int_equal(a.gid, getegid());
	assert_int_equal(a.nlink, 2);
	assert_int_equal(a.parent, STORE_ROOT_INO);
	assert_int_equal(a.size, 0);
	assert_int_equal(a.keylen, 0);
	assert_int_equal(a.xattr_bytes, 0);
	assert_int_equal(a.version, 1);
	assert_int_equal(a.expires, 0);
	assert_true(a.mtime.tv_sec <= now.tv_sec && a.mtime.tv_sec > now.tv_sec - 120);
	assert_true(a.atime.tv_sec == a.mtime.tv_sec && a.atime.tv_nsec == a.mtime.tv_nsec);
	assert_true(a.ctime.tv_sec == a.mtime.tv_sec && a.ctime.tv_nsec == a.mtime.tv_nsec);
	assert_int_equal(store_dir_is_empty(t, STORE_ROOT_INO), 1);
	assert_int_equal(store_change_last(t, &seq), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_features(f->st), 0);
}

/* What this backend lacks answers -EOPNOTSUPP, through store.c's guards. */
static void test_optional_ops_unsupported(void **state)
{
	struct fx *f = *state;
	struct store_check_summary sum;
	struct store_stream_head h;
	struct store_txn *t;

	assert_int_equal(store_check(f->st, NULL, NULL, &sum), -EOPNOTSUPP);
	assert_int_equal(store_backup(f->st, 1, NULL, NULL), -EOPNOTSUPP);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_stream_head(t, STORE_ROOT_INO, &h), -EOPNOTSUPP);
	assert_int_equal(store_index_add(t, STORE_ROOT_INO, "a"), -EOPNOTSUPP);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_ino_alloc(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	uint64_t a, b;

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &a), 0);
	assert_int_equal(store_ino_alloc(t, &b), 0);
	assert_int_equal(a, 2);
	assert_int_equal(b, 3);
	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &a), 0);
	assert_int_equal(a, 4);
	store_txn_abort(t);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &a), 0);
	assert_int_equal(a, 4); /* the aborted one left nothing */
	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_ino_alloc(t, &a), -EROFS);
	assert_int_equal(store_txn_commit(t), 0);
}

/* ---- inodes ----------------------------------------------------------- */

static void test_inode_roundtrip(void **state)
{
	struct fx *f = *state;
	struct store_attr in = {
	    .mode = S_IFREG | 0640,
	    .uid = 1234,
	    .gid = 5678,
	    .atime = {1700000000, 123456789},
	    .mtime = {-1, 999999999},
	    .ctime = {(time_t)INT64_C(5000000000), 1},
	};
	struct store_attr out;
	struct store_txn *t;

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &in.ino), 0);
	assert_int_equal(store_inode_put(t, &in), 0);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	out = attr_of(t, in.ino);
	assert_int_equal(store_inode_get(t, in.ino + 1, &out), -ENOENT);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(out.ino, in.ino);
	assert_int_equal(out.mode, S_IFREG | 0640);
	assert_int_equal(out.uid, 1234);
	assert_int_equal(out.gid, 5678);
	assert_int_equal(out.nlink, 0);
	assert_int_equal(out.size, 0);
	assert_int_equal(out.parent, 0);
	assert_int_equal(out.keylen, 0);
	assert_int_equal(out.xattr_bytes, 0);
	assert_int_equal(out.version, 1);
	assert_int_equal(out.expires, 0);
	assert_int_equal(out.atime.tv_sec, 1700000000);
	assert_int_equal(out.atime.tv_nsec, 123456789);
	assert_int_equal(out.mtime.tv_sec, -1);
	assert_int_equal(out.mtime.tv_nsec, 999999999);
	assert_int_equal(out.ctime.tv_sec, INT64_C(5000000000));
	assert_int_equal(out.ctime.tv_nsec, 1);
}

static void test_inode_put_keeps_store_fields(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "file");
	struct store_attr a;

	assert_int_equal(store_data_put(t, ino, "hello", 5), 0);
	a = attr_of(t, ino);
	a.mode = S_IFREG | 0600;
	a.nlink = 99;
	a.size = 1;
	a.parent = 77;
	a.keylen = 200;
	a.xattr_bytes = 300;
	a.version = 1000;
	assert_int_equal(store_inode_put(t, &a), 0);
	a.mode = S_IFDIR | 0600;
	assert_int_equal(store_inode_put(t, &a), -EINVAL); /* the type is fixed */
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	a = attr_of(t, ino);
	assert_int_equal(a.mode, S_IFREG | 0600);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.size, 5);
	assert_int_equal(a.parent, STORE_ROOT_INO);
	assert_int_equal(a.keylen, 4);
	assert_int_equal(a.xattr_bytes, 0);
	assert_int_equal(a.version, 2);
	assert_data(t, ino, "hello", 5);
	assert_int_equal(store_txn_commit(t), 0);
}

/* The inode record is DDB_INODE_REC_LEN bytes under s "a". */
static void test_inode_record_layout(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_READ);
	size_t len = 0;

	assert_true(raw_exists(t, DDB_P_INODE, STORE_ROOT_INO, "a", 1, &len));
	assert_int_equal(len, DDB_INODE_REC_LEN);
	assert_int_equal(store_txn_commit(t), 0);
}

/* ---- directory entries ------------------------------------------------ */

static void test_dirent_file_links(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "file"), got = 0;
	struct store_attr a;

	assert_int_equal(lookup(t, STORE_ROOT_INO, "file"), ino);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(lookup(t, STORE_ROOT_INO, "file"), ino);
	a = attr_of(t, ino);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.keylen, 4);
	assert_int_equal(a.parent, STORE_ROOT_INO);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 2); /* a file does not count */
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "file", 4, &got), 0);
	assert_int_equal(got, ino);
	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "file", 4, &got), -ENOENT);
	assert_int_equal(attr_of(t, ino).nlink, 0); /* not freed: the caller's business */
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_dirent_dir_links(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t d = make_dir(t, STORE_ROOT_INO, "d"), e = make_dir(t, d, "e"), got = 0;
	struct store_attr a;

	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 3);
	a = attr_of(t, d);
	assert_int_equal(a.nlink, 3);
	assert_int_equal(a.parent, STORE_ROOT_INO);
	assert_int_equal(a.keylen, 1);
	a = attr_of(t, e);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(a.parent, d);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, d, "e", 1, &got), 0);
	assert_int_equal(got, e);
	assert_int_equal(store_inode_free(t, e), 0);
	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(attr_of(t, d).nlink, 2);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 3);
	assert_int_equal(store_inode_get(t, e, &a), -ENOENT);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_hard_links(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t d = make_dir(t, STORE_ROOT_INO, "d"), ino = make_file(t, STORE_ROOT_INO, "a");
	struct store_attr a;

	assert_int_equal(store_dirent_add(t, d, "longer", 6, ino), 0);
	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_READ);
	a = attr_of(t, ino);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(a.keylen, 6);
	assert_int_equal(a.parent, d);
	assert_int_equal(attr_of(t, d).nlink, 2);
	assert_int_equal(lookup(t, d, "longer"), ino);
	assert_int_equal(lookup(t, STORE_ROOT_INO, "a"), ino);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, d, "longer", 6, NULL), 0);
	a = attr_of(t, ino);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.keylen, 6); /* the longest seen while it had names */
	assert_int_equal(store_dirent_add(t, d, "b", 1, ino), 0);
	assert_int_equal(attr_of(t, ino).keylen, 6);
	assert_int_equal(store_dirent_remove(t, d, "b", 1, NULL), 0);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "a", 1, NULL), 0);
	assert_int_equal(attr_of(t, ino).nlink, 0);
	assert_int_equal(store_dirent_add(t, d, "c", 1, ino), 0); /* its only name again */
	assert_int_equal(attr_of(t, ino).keylen, 1);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_dirent_errors(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "file"), other = make_inode(t, S_IFREG | 0644);
	char longname[STORE_NAME_MAX + 2];
	uint64_t got = 0;

	memset(longname, 'n', sizeof(longname));
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "file", 4, other), -EEXIST);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "nope", 4, &got), -ENOENT);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "nope", 4, &got), -ENOENT);
	assert_int_equal(store_dirent_add(t, 9999, "x", 1, other), -ENOENT);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "x", 1, 9999), -ENOENT);
	assert_int_equal(store_dirent_add(t, ino, "x", 1, other), -ENOTDIR);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, longname, STORE_NAME_MAX + 1, other),
			 -ENAMETOOLONG);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, longname, STORE_NAME_MAX + 1, &got),
			 -ENAMETOOLONG);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, longname, STORE_NAME_MAX + 1, &got),
			 -ENAMETOOLONG);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, longname, STORE_NAME_MAX, other), 0);
	assert_int_equal(got, 0);		  /* no output on errors */
	assert_int_equal(store_txn_commit(t), 0); /* the errors left it usable */

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, longname, STORE_NAME_MAX, &got), 0);
	assert_int_equal(got, other);
	assert_int_equal(attr_of(t, other).keylen, STORE_NAME_MAX);
	assert_int_equal(attr_of(t, ino).nlink, 1);
	assert_int_equal(store_txn_commit(t), 0);
}

/* A name that would push the item past STORE_ITEM_MAX: -EFBIG, nothing changed. */
static void test_dirent_add_efbig(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_inode(t, S_IFREG | 0644), got;
	unsigned char *data = pattern(STORE_ITEM_MAX - 5, 1);

	assert_int_equal(store_data_put(t, ino, data, STORE_ITEM_MAX - 5), 0);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "sixsix", 6, ino), -EFBIG);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "sixsix", 6, &got), -ENOENT);
	assert_int_equal(attr_of(t, ino).nlink, 0);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "fivef", 5, ino), 0);
	assert_int_equal(store_txn_commit(t), 0);
	free(data);
}

static void test_dir_list_byte_order(void **state)
{
	struct fx *f = *state;
	static const char *const names[] = {"b", "a", "B", "\xff", "ab", "a b"};
	static const char *const sorted[] = {"B", "a", "a b", "ab", "b", "\xff"};
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t inos[6], dir = 0;
	struct listing l = {0};

	for (int i = 0; i < 6; i++)
		inos[i] = i == 3 ? (dir = make_dir(t, STORE_ROOT_INO, names[i]))
				 : make_file(t, STORE_ROOT_INO, names[i]);
	/* before the commit: the transaction's own entries */
	assert_int_equal(store_dir_list(t, STORE_ROOT_INO, collect_dirent, &l), 0);
	assert_int_equal(l.n, 6);
	for (int i = 0; i < 6; i++)
		assert_string_equal(l.names[i], sorted[i]);
	assert_int_equal(store_txn_commit(t), 0);

	memset(&l, 0, sizeof(l));
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dir_list(t, STORE_ROOT_INO, collect_dirent, &l), 0);
	assert_int_equal(l.n, 6);
	for (int i = 0; i < 6; i++) {
		int k = 0;

		while (strcmp(names[k], sorted[i]) != 0)
			k++;
		assert_string_equal(l.names[i], sorted[i]);
		assert_int_equal(l.inos[i], inos[k]);
		assert_int_equal(l.modes[i], inos[k] == dir ? S_IFDIR : S_IFREG);
	}
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	assert_int_equal(store_dir_list(t, STORE_ROOT_INO, collect_dirent, &l), 42);
	assert_int_equal(l.n, 2);
	assert_int_equal(store_dir_list(t, inos[0], collect_dirent, &l), -ENOTDIR);
	assert_int_equal(store_dir_list(t, 9999, collect_dirent, &l), -ENOENT);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_dir_is_empty(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t d = make_dir(t, STORE_ROOT_INO, "d"), file = make_file(t, d, "f");

	assert_int_equal(store_dir_is_empty(t, d), 0);
	assert_int_equal(store_dir_is_empty(t, file), -ENOTDIR);
	assert_int_equal(store_dir_is_empty(t, 9999), -ENOENT);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dir_is_empty(t, d), 0);
	assert_int_equal(store_dirent_remove(t, d, "f", 1, NULL), 0);
	assert_int_equal(store_dir_is_empty(t, d), 1); /* the removal hides the stored entry */
	assert_int_equal(store_txn_commit(t), 0);
}

/* ---- item data -------------------------------------------------------- */

static void data_roundtrip(struct fx *f, uint64_t ino, size_t len, unsigned seed, unsigned records)
{
	unsigned char *data = pattern(len, seed);
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t version = attr_of(t, ino).version;
	struct store_attr a;

	assert_int_equal(store_data_put(t, ino, data, len), 0);
	assert_data(t, ino, data, len);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_data(t, ino, data, len);
	a = attr_of(t, ino);
	assert_int_equal(a.size, len);
	assert_int_equal(a.version, version + 1);
	for (unsigned k = 0; k < 3; k++)
		assert_int_equal(raw_exists(t, DDB_P_INODE, ino, part_s(k), 3, NULL), k < records);
	assert_int_equal(store_txn_commit(t), 0);
	free(data);
}

static void test_data_sizes(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "f");

	assert_int_equal(store_txn_commit(t), 0);
	data_roundtrip(f, ino, 1, 1, 1);
	data_roundtrip(f, ino, DDB_DATA_CHUNK, 2, 1);
	data_roundtrip(f, ino, DDB_DATA_CHUNK + 1, 3, 2);
	data_roundtrip(f, ino, STORE_ITEM_MAX - 1, 4, 2); /* the limit, less the name */
	data_roundtrip(f, ino, 0, 5, 0);
}

/* Data past the limit: -EFBIG, with the item as it was and the txn usable. */
static void test_data_efbig(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "f"), d = make_dir(t, STORE_ROOT_INO, "d");
	unsigned char *big = pattern(STORE_ITEM_MAX, 1);

	assert_int_equal(store_data_put(t, ino, "0123456789", 10), 0);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(t, ino, big, STORE_ITEM_MAX), -EFBIG); /* + 1 name byte */
	assert_int_equal(store_data_put(t, d, "x", 1), -EISDIR);
	assert_int_equal(store_data_put(t, 9999, "x", 1), -ENOENT);
	assert_data(t, ino, "0123456789", 10);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_data(t, ino, "0123456789", 10);
	assert_int_equal(attr_of(t, ino).size, 10);
	assert_int_equal(attr_of(t, ino).version, 2);
	assert_int_equal(store_txn_commit(t), 0);
	free(big);
}

/* Shrinking data deletes the records it no longer needs. */
static void test_data_shrink(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "f");

	assert_int_equal(store_txn_commit(t), 0);
	data_roundtrip(f, ino, STORE_ITEM_MAX - 1, 1, 2);
	data_roundtrip(f, ino, 10, 2, 1);
	data_roundtrip(f, ino, DDB_DATA_CHUNK + 10, 3, 2);
	data_roundtrip(f, ino, 0, 4, 0);
}

static void test_data_checksum_mismatch(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "f");
	unsigned char p[9], *copy, *data = pattern(100, 1);
	const unsigned char *v;
	struct store_buf b = {(void *)data, 7};
	char line[64];
	size_t vlen;

	assert_int_equal(store_data_put(t, ino, data, 100), 0);
	assert_int_equal(store_txn_commit(t), 0);

	/* one bit of the data flipped behind the store's back */
	t = begin(f->st, STORE_TXN_WRITE);
	p[0] = DDB_P_INODE;
	ddb_be64(p + 1, ino);
	assert_int_equal(ddb_rec_get(ddb_txn_of(t), p, 9, part_s(0), 3, &v, &vlen), 0);
	assert_int_equal(vlen, DDB_DATA_HDR_LEN + 100);
	copy = malloc(vlen);
	assert_non_null(copy);
	memcpy(copy, v, vlen);
	copy[vlen - 1] ^= 1;
	assert_int_equal(ddb_rec_put(ddb_txn_of(t), p, 9, part_s(0), 3, copy, vlen), 0);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_data_get(t, ino, &b), -EBADMSG);
	assert_ptr_equal(b.data, data); /* nothing returned */
	assert_int_equal(b.len, 7);
	assert_int_equal(store_txn_commit(t), 0);
	snprintf(line, sizeof(line), "item data checksum mismatch (inode %llu)",
		 (unsigned long long)ino);
	assert_true(logged_ending(line));
	free(copy);
	free(data);
}

/* ---- xattrs ----------------------------------------------------------- */

static void test_xattr_ops(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "f");
	char buf[64], longname[STORE_NAME_MAX + 2];
	size_t len = 0;

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(store_xattr_get(t, ino, "user.a", buf, sizeof(buf), &len), -ENODATA);
	assert_int_equal(store_xattr_list(t, ino, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(store_xattr_set(t, ino, "user.b", "2", 1, 0), 0);
	assert_int_equal(store_xattr_set(t, ino, "user.a", "one", 3, XATTR_CREATE), 0);
	assert_int_equal(store_xattr_set(t, ino, "user.a", "uno", 3, XATTR_CREATE), -EEXIST);
	assert_int_equal(store_xattr_set(t, ino, "user.c", "3", 1, XATTR_REPLACE), -ENODATA);
	assert_int_equal(store_xattr_set(t, ino, "user.e", NULL, 0, 0), 0); /* empty value */
	assert_int_equal(store_xattr_set(t, ino, longname, "v", 1, 0), -ERANGE);
	assert_int_equal(store_xattr_set(t, 9999, "user.a", "v", 1, 0), -ENOENT);
	assert_int_equal(attr_of(t, ino).xattr_bytes, 6 + 1 + 6 + 3 + 6);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_xattr_get(t, ino, "user.a", NULL, 0, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(store_xattr_get(t, ino, "user.a", buf, 2, &len), -ERANGE);
	assert_int_equal(store_xattr_get(t, ino, "user.a", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(store_xattr_get(t, ino, "user.e", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(store_xattr_get(t, ino, "user.c", buf, sizeof(buf), &len), -ENODATA);
	assert_int_equal(store_xattr_get(t, 9999, "user.a", buf, sizeof(buf), &len), -ENOENT);
	assert_int_equal(store_xattr_list(t, ino, NULL, 0, &len), 0);
	assert_int_equal(len, 21);
	memset(buf, '#', sizeof(buf));
	assert_int_equal(store_xattr_list(t, ino, buf, 20, &len), -ERANGE);
	assert_int_equal(buf[0], '#'); /* untouched */
	assert_int_equal(store_xattr_list(t, ino, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 21);
	assert_memory_equal(buf, "user.a\0user.b\0user.e\0", 21);
	assert_int_equal(store_xattr_list(t, 9999, buf, sizeof(buf), &len), -ENOENT);
	assert_int_equal(store_xattr_set(t, ino, "user.a", "eins", 4, XATTR_REPLACE), 0);
	assert_int_equal(store_xattr_remove(t, ino, "user.b"), 0);
	assert_int_equal(store_xattr_remove(t, ino, "user.b"), -ENODATA);
	assert_int_equal(store_xattr_remove(t, 9999, "user.b"), -ENOENT);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_xattr_list(t, ino, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 14);
	assert_memory_equal(buf, "user.a\0user.e\0", 14);
	assert_int_equal(store_xattr_get(t, ino, "user.a", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "eins", 4);
	assert_int_equal(attr_of(t, ino).xattr_bytes, 6 + 4 + 6);
	assert_int_equal(store_txn_commit(t), 0);
}

static int no_expiry(void *arg, uint64_t ino, uint64_t expires)
{
	(void)arg;
	(void)ino;
	(void)expires;
	fail_msg("no expiry index on this backend");
	return 0;
}

/* The expiry xattr is an ordinary one here: no index, store_attr.expires stays 0. */
static void test_xattr_expires_ordinary(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "f");

	assert_int_equal(store_xattr_set(t, ino, STORE_XATTR_EXPIRES, "1700000000", 10, 0), 0);
	assert_int_equal(store_xattr_set(t, ino, STORE_XATTR_EXPIRES, "abc", 3, 0), -EINVAL);
	assert_int_equal(attr_of(t, ino).expires, 0);
	assert_int_equal(store_expired(t, UINT64_MAX, no_expiry, NULL), -EOPNOTSUPP);
	assert_int_equal(store_txn_commit(t), 0);
}

/* xattrs up to the item limit, exactly; one byte more is -E2BIG and changes nothing. */
static void test_xattr_e2big(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "f");
	uint64_t bare = make_inode(t, S_IFREG | 0644);
	size_t dlen = STORE_ITEM_MAX - 1 - (6 + 100), len, big = DDB_DATA_CHUNK;
	unsigned char *data = pattern(dlen, 1), *value = pattern(big + 1, 2), buf[128];

	assert_int_equal(store_data_put(t, ino, data, dlen), 0);
	assert_int_equal(store_xattr_set(t, ino, "user.a", value, 100, 0), 0); /* exactly full */
	assert_int_equal(store_xattr_set(t, ino, "user.a", value, 101, 0), -E2BIG);
	assert_int_equal(store_xattr_set(t, ino, "user.b", "", 0, 0), -E2BIG);
	assert_int_equal(store_data_put(t, ino, data, dlen + 1), -EFBIG);
	assert_int_equal(store_xattr_get(t, ino, "user.a", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 100);
	assert_memory_equal(buf, value, 100);
	assert_int_equal(attr_of(t, ino).xattr_bytes, 106);
	/* one value is one record: at most DDB_DATA_CHUNK bytes */
	assert_int_equal(store_xattr_set(t, bare, "user.a", value, big + 1, 0), -E2BIG);
	assert_int_equal(store_xattr_set(t, bare, "user.a", value, big, 0), 0);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(attr_of(t, ino).xattr_bytes, 106);
	assert_int_equal(attr_of(t, bare).xattr_bytes, 6 + big);
	assert_int_equal(store_xattr_get(t, bare, "user.a", NULL, 0, &len), 0);
	assert_int_equal(len, big);
	assert_data(t, ino, data, dlen);
	assert_int_equal(store_txn_commit(t), 0);
	free(data);
	free(value);
}

/* ---- freeing, orphans -------------------------------------------------- */

static void test_inode_free(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "f"), d = make_dir(t, STORE_ROOT_INO, "d");
	unsigned char *data = pattern(DDB_DATA_CHUNK + 5, 1);
	struct store_attr a;

	make_file(t, d, "child");
	assert_int_equal(store_data_put(t, ino, data, DDB_DATA_CHUNK + 5), 0);
	assert_int_equal(store_xattr_set(t, ino, "user.a", "1", 1, 0), 0);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "f", 1, NULL), 0);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_inode_free(t, d), -ENOTEMPTY);
	assert_int_equal(store_inode_free(t, ino), 0);
	assert_int_equal(store_inode_free(t, 9999), -ENOENT);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_inode_get(t, ino, &a), -ENOENT);
	assert_false(raw_exists(t, DDB_P_INODE, ino, "a", 1, NULL));
	assert_false(raw_exists(t, DDB_P_INODE, ino, part_s(0), 3, NULL));
	assert_false(raw_exists(t, DDB_P_INODE, ino, part_s(1), 3, NULL));
	assert_false(raw_exists(t, DDB_P_INODE, ino, "xuser.a", 7, NULL));
	assert_int_equal(attr_of(t, d).nlink, 2);
	assert_int_equal(store_txn_commit(t), 0);
	free(data);
}

static void test_orphans(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t gone = make_file(t, STORE_ROOT_INO, "gone");
	uint64_t back = make_file(t, STORE_ROOT_INO, "back");
	uint64_t linked = make_file(t, STORE_ROOT_INO, "linked");
	uint64_t d = make_dir(t, STORE_ROOT_INO, "d"), count = 99;
	struct store_attr a;

	assert_int_equal(store_data_put(t, gone, "data", 4), 0);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "gone", 4, NULL), 0);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "back", 4, NULL), 0);
	assert_int_equal(store_orphan_add(t, gone), 0);
	assert_int_equal(store_orphan_add(t, back), 0);
	assert_int_equal(store_orphan_add(t, linked), -EINVAL);
	assert_int_equal(store_orphan_add(t, d), -EINVAL);
	assert_int_equal(store_orphan_add(t, 9999), -ENOENT);
	assert_int_equal(store_dirent_add(t, d, "back", 4, back), 0); /* linked again */
	assert_true(orphan_listed(t, gone));
	assert_true(orphan_listed(t, back));
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_orphans_reap(t, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_inode_get(t, gone, &a), -ENOENT);
	assert_false(raw_exists(t, DDB_P_INODE, gone, part_s(0), 3, NULL));
	assert_int_equal(attr_of(t, back).nlink, 1);
	assert_false(orphan_listed(t, gone));
	assert_false(orphan_listed(t, back));
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_orphans_reap(t, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(store_txn_commit(t), 0);
}

/* ---- transactions ------------------------------------------------------ */

static void test_read_your_writes(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t old = make_file(t, STORE_ROOT_INO, "old"), ino, seq;
	struct listing l = {0};
	struct changes cs = {0};
	char buf[8];
	size_t len;

	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	ino = make_file(t, STORE_ROOT_INO, "new");
	assert_int_equal(attr_of(t, ino).nlink, 1);
	assert_int_equal(lookup(t, STORE_ROOT_INO, "new"), ino);
	assert_int_equal(store_data_put(t, ino, "abc", 3), 0);
	assert_data(t, ino, "abc", 3);
	assert_int_equal(store_xattr_set(t, ino, "user.k", "v", 1, 0), 0);
	assert_int_equal(store_xattr_get(t, ino, "user.k", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(store_xattr_list(t, ino, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 7);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "old", 3, NULL), 0);
	assert_int_equal(store_dir_list(t, STORE_ROOT_INO, collect_dirent, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "new");
	/* its own records: INODE, ENTRY, INODE (data), INODE (xattr, coalesced), ENTRY */
	assert_int_equal(store_change_last(t, &seq), 0);
	assert_int_equal(seq, 2 + 4);
	assert_int_equal(store_changes(t, 2, collect_change, &cs), 0);
	assert_int_equal(cs.n, 4);
	assert_change(&cs, 0, 3, store_origin(f->st), STORE_CHANGE_INODE, ino, 0, NULL);
	assert_change(&cs, 1, 4, store_origin(f->st), STORE_CHANGE_ENTRY, ino, 1, "new");
	assert_change(&cs, 2, 5, store_origin(f->st), STORE_CHANGE_INODE, ino, 0, NULL);
	assert_change(&cs, 3, 6, store_origin(f->st), STORE_CHANGE_ENTRY, old, 1, "old");
	store_txn_abort(t);
}

static void test_root_abort_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t ino = make_file(t, STORE_ROOT_INO, "f"), got, next;
	struct store_attr a;

	assert_int_equal(store_data_put(t, ino, "abc", 3), 0);
	assert_int_equal(store_xattr_set(t, ino, "user.k", "v", 1, 0), 0);
	store_txn_abort(t);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "f", 1, &got), -ENOENT);
	assert_int_equal(store_inode_get(t, ino, &a), -ENOENT);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 2);
	assert_int_equal(store_dir_is_empty(t, STORE_ROOT_INO), 1);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(change_last(f->st), 0);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &next), 0);
	assert_int_equal(next, ino);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_nested_abort(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE), *n;
	uint64_t keep = make_file(t, STORE_ROOT_INO, "keep"), gone, also, got;
	uint64_t origin = store_origin(f->st);
	struct changes cs;
	size_t len;

	assert_int_equal(store_txn_begin_nested(t, &n), 0);
	gone = make_file(n, STORE_ROOT_INO, "gone");
	assert_int_equal(store_xattr_set(n, keep, "user.k", "v", 1, 0), 0);
	assert_int_equal(store_data_put(n, keep, "zz", 2), 0);
	store_txn_abort(n);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "gone", 4, &got), -ENOENT);
	assert_int_equal(store_xattr_get(t, keep, "user.k", NULL, 0, &len), -ENODATA);
	assert_int_equal(attr_of(t, keep).size, 0);
	assert_int_equal(attr_of(t, keep).xattr_bytes, 0);

	assert_int_equal(store_txn_begin_nested(t, &n), 0);
	also = make_file(n, STORE_ROOT_INO, "also");
	assert_int_equal(store_txn_commit(n), 0);
	assert_int_equal(also, gone); /* next_ino went back with the abort */
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(lookup(t, STORE_ROOT_INO, "keep"), keep);
	assert_int_equal(lookup(t, STORE_ROOT_INO, "also"), also);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "gone", 4, &got), -ENOENT);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 2);
	assert_int_equal(store_txn_commit(t), 0);

	assert_int_equal(read_changes(f->st, 0, &cs), 0);
	assert_int_equal(cs.n, 4);
	assert_change(&cs, 0, 1, origin, STORE_CHANGE_INODE, keep, 0, NULL);
	assert_change(&cs, 1, 2, origin, STORE_CHANGE_ENTRY, keep, 1, "keep");
	assert_change(&cs, 2, 3, origin, STORE_CHANGE_INODE, also, 0, NULL);
	assert_change(&cs, 3, 4, origin, STORE_CHANGE_ENTRY, also, 1, "also");
}

/* ---- the change log ---------------------------------------------------- */

static void test_change_log(void **state)
{
	struct fx *f = *state;
	uint64_t origin = store_origin(f->st), a, d, last = 0;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	struct store_attr attr;
	struct changes cs;

	a = make_file(t, STORE_ROOT_INO, "a"); /* 1 INODE, 2 ENTRY */
	d = make_dir(t, STORE_ROOT_INO, "d");  /* 3 INODE, 4 ENTRY */
	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(t, a, "x", 1), 0); /* 5 INODE */
	attr = attr_of(t, a);
	assert_int_equal(store_inode_put(t, &attr), 0);		/* coalesced with 5 */
	assert_int_equal(store_dirent_add(t, d, "b", 1, a), 0); /* 6 ENTRY */
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "a", 1, NULL), 0); /* 7 */
	assert_int_equal(store_xattr_set(t, d, "user.x", "1", 1, 0), 0);	   /* 8 */
	assert_int_equal(store_xattr_remove(t, d, "user.x"), 0); /* coalesced with 8 */
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_change_last(t, &last), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(last, 8);
	assert_int_equal(read_changes(f->st, 0, &cs), 0);
	assert_int_equal(cs.n, 8);
	assert_change(&cs, 0, 1, origin, STORE_CHANGE_INODE, a, 0, NULL);
	assert_change(&cs, 1, 2, origin, STORE_CHANGE_ENTRY, a, STORE_ROOT_INO, "a");
	assert_change(&cs, 2, 3, origin, STORE_CHANGE_INODE, d, 0, NULL);
	assert_change(&cs, 3, 4, origin, STORE_CHANGE_ENTRY, d, STORE_ROOT_INO, "d");
	assert_change(&cs, 4, 5, origin, STORE_CHANGE_INODE, a, 0, NULL);
	assert_change(&cs, 5, 6, origin, STORE_CHANGE_ENTRY, a, d, "b");
	assert_change(&cs, 6, 7, origin, STORE_CHANGE_ENTRY, a, STORE_ROOT_INO, "a");
	assert_change(&cs, 7, 8, origin, STORE_CHANGE_INODE, d, 0, NULL);

	/* from the middle of a commit's entry */
	assert_int_equal(read_changes(f->st, 3, &cs), 0);
	assert_int_equal(cs.n, 5);
	assert_int_equal(cs.c[0].seq, 4);
	assert_int_equal(read_changes(f->st, 8, &cs), 0); /* up to date */
	assert_int_equal(cs.n, 0);
	assert_int_equal(read_changes(f->st, 9, &cs), -ESTALE); /* a log older than the caller */
	assert_int_equal(cs.n, 0);

	/* a callback that stops it */
	memset(&cs, 0, sizeof(cs));
	cs.stop_at = 2;
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_changes(t, 1, collect_change, &cs), 7);
	assert_int_equal(cs.n, 2);
	assert_int_equal(cs.c[1].seq, 3);
	assert_int_equal(store_txn_commit(t), 0);
}

/* The freeing of an inode is an INODE record, after the removal of its name. */
static void test_change_log_free(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t a = make_file(t, STORE_ROOT_INO, "a");
	struct changes cs;

	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "a", 1, NULL), 0);
	assert_int_equal(store_inode_free(t, a), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(read_changes(f->st, 2, &cs), 0);
	assert_int_equal(cs.n, 2);
	assert_change(&cs, 0, 3, store_origin(f->st), STORE_CHANGE_ENTRY, a, 1, "a");
	assert_change(&cs, 1, 4, store_origin(f->st), STORE_CHANGE_INODE, a, 0, NULL);
}

/* ---- two handles -------------------------------------------------------- */

static void test_second_handle(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f, false);
	struct store *h2 = NULL;
	struct store_txn *t;
	struct changes cs;
	uint64_t ino, got = 0;

	assert_int_equal(store_open(&cfg, &h2), 0);
	assert_int_not_equal(store_origin(h2), store_origin(f->st));

	t = begin(f->st, STORE_TXN_WRITE);
	ino = make_file(t, STORE_ROOT_INO, "f");
	assert_int_equal(store_data_put(t, ino, "shared", 6), 0);
	assert_int_equal(store_txn_commit(t), 0);

	assert_int_equal(store_read_barrier(h2), 0);
	assert_int_equal(store_generation(h2), 3);
	t = begin(h2, STORE_TXN_READ);
	assert_int_equal(lookup(t, STORE_ROOT_INO, "f"), ino);
	assert_data(t, ino, "shared", 6);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(read_changes(h2, 0, &cs), 0);
	assert_int_equal(cs.n, 3);
	assert_change(&cs, 2, 3, store_origin(f->st), STORE_CHANGE_INODE, ino, 0, NULL);

	/* and back: the second handle writes, the first sees it */
	t = begin(h2, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "f", 1, NULL), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_read_barrier(f->st), 0);
	assert_int_equal(store_generation(f->st), 4);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "f", 1, &got), -ENOENT);
	assert_int_equal(attr_of(t, ino).nlink, 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(read_changes(f->st, 3, &cs), 0);
	assert_int_equal(cs.n, 1);
	assert_change(&cs, 0, 4, store_origin(h2), STORE_CHANGE_ENTRY, ino, 1, "f");
	store_close(h2);
}

/* ---- round trips --------------------------------------------------------- */

/* Each operation asks DynamoDB only for what it cannot know from what it read. */
/*
 * A commit that fails once its intent is written (here: its first batch of
 * items) is applied whole by the next write transaction, before it reads
 * anything; a second handle sees all of it, never part.
 */
static void test_intent_rolled_forward(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f, false);
	struct store *h2 = NULL;
	struct store_txn *t;
	uint64_t a, b, ino;

	if (getenv("ITEMFS_TEST_DDB_TRANSACT"))
		skip(); /* TransactWriteItems: no intent to fail after */
	t = begin(f->st, STORE_TXN_WRITE);
	a = make_file(t, STORE_ROOT_INO, "a");
	b = make_file(t, STORE_ROOT_INO, "b");
	assert_int_equal(store_data_put(t, a, "first a", 7), 0);
	assert_int_equal(store_data_put(t, b, "first b", 7), 0);
	assert_int_equal(store_txn_commit(t), 0);

	fail_after_intent = true;
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(t, a, "second a", 8), 0);
	assert_int_equal(store_data_put(t, b, "second b", 8), 0);
	assert_int_equal(store_txn_commit(t), -EIO);
	assert_false(fail_after_intent); /* the fault did fire */
	assert_true(raw_exists_meta(f->st, "intent"));

	/* the next writer finishes it first */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_false(raw_exists_meta(f->st, "intent"));
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "a", 1, &ino), 0);
	assert_data(t, a, "second a", 8);
	assert_data(t, b, "second b", 8);
	assert_int_equal(store_txn_commit(t), 0);

	assert_int_equal(store_open(&cfg, &h2), 0);
	assert_int_equal(store_read_barrier(h2), 0);
	t = begin(h2, STORE_TXN_READ);
	assert_data(t, a, "second a", 8);
	assert_data(t, b, "second b", 8);
	assert_int_equal(store_txn_commit(t), 0);
	store_close(h2);
}

/* A listing's inodes in batches: then each get sends nothing. */
static void test_inode_prefetch(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_attr a;
	uint64_t inos[250], missing[2];

	t = begin(f->st, STORE_TXN_WRITE);
	for (size_t i = 0; i < 250; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%zu", i);
		inos[i] = make_file(t, STORE_ROOT_INO, name);
	}
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	count_reset();
	assert_int_equal(store_inode_prefetch(t, inos, 250), 0);
	assert_int_equal(n_batch, 3); /* 100 keys to a request */
	assert_int_equal(n_get, 0);
	for (size_t i = 0; i < 250; i++) {
		assert_int_equal(store_inode_get(t, inos[i], &a), 0);
		assert_int_equal(a.ino, inos[i]);
		assert_true(S_ISREG(a.mode));
	}
	assert_int_equal(n_get, 0);
	/* already known: not asked again; absent: known absent after */
	count_reset();
	missing[0] = inos[0];
	missing[1] = inos[249] + 1000;
	assert_int_equal(store_inode_prefetch(t, missing, 2), 0);
	assert_int_equal(n_batch, 1);
	assert_int_equal(store_inode_get(t, inos[249] + 1000, &a), -ENOENT);
	assert_int_equal(n_get, 0);
	assert_int_equal(store_txn_commit(t), 0);

	/* in a write transaction, its own writes win over what is fetched */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_inode_get(t, inos[1], &a), 0);
	a.mode = S_IFREG | 0600;
	assert_int_equal(store_inode_put(t, &a), 0);
	assert_int_equal(store_inode_prefetch(t, inos, 3), 0);
	assert_int_equal(store_inode_get(t, inos[1], &a), 0);
	assert_int_equal(a.mode, S_IFREG | 0600);
	store_txn_abort(t);
}

/* Table names: DynamoDB's [A-Za-z0-9_.-]{3,255}, reversibly. */
static void test_table_name(void **state)
{
	char out[300], long_name[300];

	(void)state;
	assert_int_equal(ddb_table_name("records", 7, out, sizeof(out)), 0);
	assert_string_equal(out, "records");
	assert_int_equal(ddb_table_name("my-store", 8, out, sizeof(out)), 0);
	assert_string_equal(out, "my-2dstore");
	assert_int_equal(ddb_table_name("a/b", 3, out, sizeof(out)), 0);
	assert_string_equal(out, "a-2fb");
	assert_int_equal(ddb_table_name("A_z.9", 5, out, sizeof(out)), 0);
	assert_string_equal(out, "A_z.9");
	assert_int_equal(ddb_table_name("\xc3\xa9t\xc3\xa9", 5, out, sizeof(out)), 0);
	assert_string_equal(out, "-c3-a9t-c3-a9");
	assert_int_equal(ddb_table_name("ab", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(ddb_table_name("", 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(ddb_table_name("/", 1, out, sizeof(out)), 0); /* 3 once escaped */
	assert_string_equal(out, "-2f");
	memset(long_name, 'a', sizeof(long_name));
	assert_int_equal(ddb_table_name(long_name, 255, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 255);
	assert_int_equal(ddb_table_name(long_name, 256, out, sizeof(out)), -ENAMETOOLONG);
	long_name[254] = '-'; /* 254 + 3 escaped: too long */
	assert_int_equal(ddb_table_name(long_name, 255, out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(ddb_table_name("records", 7, out, 7), -ENAMETOOLONG); /* no room for NUL */
}

/* statfs: the store's own count of bytes (data, xattrs) and inodes. */
static void test_statfs_usage(void **state)
{
	struct fx *f = *state;
	struct store_statfs sf;
	struct store_txn *t;
	uint64_t a, b;

	assert_int_equal(store_statfs(f->st, &sf), 0);
	assert_int_equal(sf.bytes_used, 0);
	assert_int_equal(sf.inodes, 1); /* the root */
	assert_true(sf.bytes_avail >= (UINT64_C(1) << 40));

	t = begin(f->st, STORE_TXN_WRITE);
	a = make_file(t, STORE_ROOT_INO, "a");
	b = make_file(t, STORE_ROOT_INO, "b");
	assert_int_equal(store_data_put(t, a, "0123456789", 10), 0);
	assert_int_equal(store_data_put(t, b, "xy", 2), 0);
	assert_int_equal(store_xattr_set(t, b, "user.k", "vvv", 3, 0), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_statfs(f->st, &sf), 0);
	assert_int_equal(sf.bytes_used, 10 + 2 + strlen("user.k") + 3);
	assert_int_equal(sf.inodes, 3);

	/* shrink one, free the other: the counts follow */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(t, a, "01", 2), 0);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "b", 1, NULL), 0);
	assert_int_equal(store_inode_free(t, b), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_statfs(f->st, &sf), 0);
	assert_int_equal(sf.bytes_used, 2);
	assert_int_equal(sf.inodes, 2);

	/* an aborted transaction counts nothing */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(t, a, "0123456789abcdef", 16), 0);
	store_txn_abort(t);
	assert_int_equal(store_statfs(f->st, &sf), 0);
	assert_int_equal(sf.bytes_used, 2);
}

static void test_round_trips(void **state)
{
	struct fx *f = *state;
	struct store_txn *t = begin(f->st, STORE_TXN_WRITE);
	uint64_t big = make_file(t, STORE_ROOT_INO, "big"),
		 small = make_file(t, STORE_ROOT_INO, "s");
	uint64_t bare = make_inode(t, S_IFREG | 0644), empty = make_file(t, STORE_ROOT_INO, "e");
	unsigned char *data = pattern(DDB_DATA_CHUNK + 1, 1);
	struct store_attr a;
	char buf[16];
	size_t len;

	assert_int_equal(store_data_put(t, big, data, DDB_DATA_CHUNK + 1), 0);
	assert_int_equal(store_data_put(t, small, data, 100), 0);
	assert_int_equal(store_data_put(t, bare, data, DDB_DATA_CHUNK + 1), 0);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	count_reset();
	assert_data(t, small, data, 100); /* the inode, record 0 */
	assert_int_equal(n_get, 2);
	count_reset();
	assert_data(t, big, data, DDB_DATA_CHUNK + 1); /* the inode, records 0 and 1 */
	assert_int_equal(n_get, 3);
	count_reset();
	assert_data(t, empty, NULL, 0); /* the inode says there is none */
	a = attr_of(t, empty);		/* already read */
	assert_int_equal(n_get, 1);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	count_reset();
	assert_int_equal(store_xattr_get(t, small, "security.capability", buf, sizeof(buf), &len),
			 -ENODATA);
	assert_int_equal(store_xattr_list(t, small, buf, sizeof(buf), &len), 0);
	assert_int_equal(n_get, 1); /* the inode record: no xattrs */
	assert_int_equal(n_query, 0);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	count_reset();
	/* the inode (which says 2 records); the usage came with the
	 * transaction's first BatchGetItem (m/seq, m/usage, m/intent) */
	assert_int_equal(store_data_put(t, big, "x", 1), 0);
	assert_int_equal(n_get, 1);
	count_reset();
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "s", 1, NULL), 0);
	assert_int_equal(n_get, 2); /* the entry, the child */
	count_reset();
	assert_int_equal(store_inode_free(t, bare), 0); /* no xattrs, 2 records: no query */
	assert_int_equal(n_get, 1);
	assert_int_equal(n_query, 0);
	count_reset();
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "s2", 2, small), 0);
	assert_int_equal(n_get, 2); /* the parent, the entry: the child was read */
	count_reset();
	assert_int_equal(store_xattr_set(t, empty, "user.a", "1", 1, 0), 0);
	assert_int_equal(n_get, 1); /* the inode, which has no xattr to look up */
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_inode_get(t, bare, &a), -ENOENT);
	assert_false(raw_exists(t, DDB_P_INODE, bare, part_s(0), 3, NULL));
	assert_false(raw_exists(t, DDB_P_INODE, bare, part_s(1), 3, NULL));
	assert_false(raw_exists(t, DDB_P_INODE, big, part_s(1), 3, NULL));
	assert_data(t, big, "x", 1);
	assert_int_equal(store_txn_commit(t), 0);
	free(data);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_store, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_new_store),
	    T(test_optional_ops_unsupported),
	    T(test_ino_alloc),
	    T(test_inode_roundtrip),
	    T(test_inode_put_keeps_store_fields),
	    T(test_inode_record_layout),
	    T(test_dirent_file_links),
	    T(test_dirent_dir_links),
	    T(test_hard_links),
	    T(test_dirent_errors),
	    T(test_dirent_add_efbig),
	    T(test_dir_list_byte_order),
	    T(test_dir_is_empty),
	    T(test_data_sizes),
	    T(test_data_efbig),
	    T(test_data_shrink),
	    T(test_data_checksum_mismatch),
	    T(test_xattr_ops),
	    T(test_xattr_expires_ordinary),
	    T(test_xattr_e2big),
	    T(test_inode_free),
	    T(test_orphans),
	    T(test_read_your_writes),
	    T(test_root_abort_leaves_nothing),
	    T(test_nested_abort),
	    T(test_change_log),
	    T(test_change_log_free),
	    T(test_second_handle),
	    T(test_statfs_usage),
	    cmocka_unit_test(test_table_name),
	    T(test_inode_prefetch),
	    T(test_intent_rolled_forward),
	    T(test_round_trips),
	};

	test_thread = pthread_self();

	return cmocka_run_group_tests_name("store_ddb", tests, NULL, NULL);
}
