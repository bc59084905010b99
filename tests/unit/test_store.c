/*
 * test_store.c - the store on a real LMDB, one fresh temporary directory per
 * test. Tests that check the on-disk format or damage a store reach past the
 * store with raw LMDB calls on the same files, after closing the store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "store.h"

#define MIB (1024u * 1024u)

/* ---- log capture ------------------------------------------------------ */

#define LOG_LINES 32
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[LOG_LINES][1024];
static int log_count;

static void capture_log(int priority, const char *msg)
{
	(void)priority;
	pthread_mutex_lock(&log_mu);
	if (log_count < LOG_LINES)
		snprintf(log_lines[log_count], sizeof(log_lines[0]), "%s", msg);
	log_count++;
	pthread_mutex_unlock(&log_mu);
}

/* True when the store logged exactly this line during the test. */
static bool logged(const char *line)
{
	for (int i = 0; i < log_count && i < LOG_LINES; i++)
		if (strcmp(log_lines[i], line) == 0)
			return true;
	return false;
}

/* ---- fixtures --------------------------------------------------------- */

struct fx {
	char tmp[64];	/* from mkdtemp(); removed with everything in it */
	char path[128]; /* tmp/store: the store directory */
	struct store *st;
};

static struct store_config config(const struct fx *f)
{
	return (struct store_config){.path = f->path, .create = true, .log = capture_log};
}

static int setup_dir(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->tmp, "/tmp/itemfs-test-store-XXXXXX");
	if (!mkdtemp(f->tmp)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/store", f->tmp);
	log_count = 0;
	*state = f;
	return 0;
}

static int setup_store(void **state)
{
	struct fx *f;
	struct store_config cfg;

	if (setup_dir(state))
		return -1;
	f = *state;
	cfg = config(f);
	return store_open(&cfg, &f->st) == 0 ? 0 : -1;
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

static void reopen(struct fx *f, const struct store_config *cfg)
{
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(cfg, &f->st), 0);
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

/* A new inode of the given mode, linked as parent/name[0..len). */
static uint64_t make_node(struct store_txn *t, uint64_t parent, const char *name, size_t len,
			  uint32_t mode)
{
	struct store_attr a = {.mode = mode, .uid = 1000, .gid = 1000};

	assert_int_equal(store_ino_alloc(t, &a.ino), 0);
	assert_int_equal(store_inode_put(t, &a), 0);
	assert_int_equal(store_dirent_add(t, parent, name, len, a.ino), 0);
	return a.ino;
}

static uint64_t make_file(struct store_txn *t, uint64_t parent, const char *name)
{
	return make_node(t, parent, name, strlen(name), S_IFREG | 0644);
}

static uint64_t make_dir(struct store_txn *t, uint64_t parent, const char *name)
{
	return make_node(t, parent, name, strlen(name), S_IFDIR | 0755);
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

static void set_xattr(struct store_txn *t, uint64_t ino, const char *name, size_t size)
{
	unsigned char *v = pattern(size, 3);

	assert_int_equal(store_xattr_set(t, ino, name, v, size, 0), 0);
	free(v);
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

/* Raw LMDB access to a closed store, as another tool would have it. */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static void raw_open(struct raw *r, const char *path, bool write)
{
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 8), 0);
	assert_int_equal(mdb_env_open(r->env, path, write ? 0 : MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, write ? 0 : MDB_RDONLY, &r->txn), 0);
}

static MDB_dbi raw_dbi(struct raw *r, const char *name, unsigned flags)
{
	MDB_dbi dbi;

	assert_int_equal(mdb_dbi_open(r->txn, name, flags, &dbi), 0);
	return dbi;
}

static void raw_close(struct raw *r)
{
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

/* Reads key from database name of a closed store; the value is copied. */
static size_t raw_get(const char *path, const char *db, const void *key, size_t klen,
		      unsigned char *out, size_t size)
{
	struct raw r;
	MDB_val k = {klen, (void *)key}, v;
	int rc;

	raw_open(&r, path, false);
	rc = mdb_get(r.txn, raw_dbi(&r, db, 0), &k, &v);
	assert_true(rc == 0 || rc == MDB_NOTFOUND);
	if (rc == 0) {
		assert_true(v.mv_size <= size);
		memcpy(out, v.mv_data, v.mv_size);
	}
	raw_close(&r);
	return rc == 0 ? v.mv_size : (size_t)-1;
}

/*
 * A description of everything in dir: each entry's name, type, mode, size,
 * mtime and a hash of its bytes, in name order. Equal snapshots mean
 * nothing was added, removed or written.
 */
static char *snapshot(const char *dir)
{
	char cmd[512], *out = calloc(1, 1 << 16);
	FILE *p;
	size_t n;

	assert_non_null(out);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && find . -printf '%%p %%y %%m %%s %%T@\\n' | sort && "
		 "find . -type f -exec md5sum {} + | sort",
		 dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, (1 << 16) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	return out;
}

/*
 * Opens the store cfg names, which must fail with err and leave its
 * directory as it was, byte for byte; with want, the store must have
 * logged "PATH: want".
 */
static void assert_refused(struct fx *f, const struct store_config *cfg, int err, const char *want)
{
	char *before = snapshot(cfg->path), *after, line[512];

	assert_int_equal(store_open(cfg, &f->st), err);
	after = snapshot(cfg->path);
	assert_string_equal(before, after);
	if (want) {
		snprintf(line, sizeof(line), "%s: %s", cfg->path, want);
		assert_true(logged(line));
	}
	free(before);
	free(after);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	return a.tv_nsec < b.tv_nsec ? -1 : a.tv_nsec > b.tv_nsec;
}

static uint64_t map_size(struct store *st)
{
	struct store_statfs s;

	assert_int_equal(store_statfs(st, &s), 0);
	return s.map_size;
}

/* ---- opening and creating --------------------------------------------- */

static void test_create_and_reopen(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct timespec before, after;
	struct store_attr root, again;
	struct store_txn *t;
	unsigned char buf[128], key[8];
	char file[256];
	struct stat sb;
	mode_t old;

	clock_gettime(CLOCK_REALTIME, &before);
	old = umask(0277); /* the modes must not depend on it */
	assert_int_equal(store_open(&cfg, &f->st), 0);
	umask(old);
	clock_gettime(CLOCK_REALTIME, &after);

	t = begin(f->st, STORE_TXN_READ);
	root = attr_of(t, STORE_ROOT_INO);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(root.ino, 1);
	assert_int_equal(root.mode, S_IFDIR | 0755);
	assert_int_equal(root.uid, geteuid());
	assert_int_equal(root.gid, getegid());
	assert_int_equal(root.nlink, 2);
	assert_int_equal(root.size, 0);
	assert_int_equal(root.parent, 1);
	assert_int_equal(root.keylen, 0);
	assert_int_equal(root.xattr_bytes, 0);
	assert_int_equal(root.version, 1);
	assert_true(ts_cmp(root.mtime, before) >= 0 && ts_cmp(root.mtime, after) <= 0);
	assert_int_equal(ts_cmp(root.atime, root.mtime), 0);
	assert_int_equal(ts_cmp(root.ctime, root.mtime), 0);

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(file, sizeof(file), "%s/data.mdb", f->path);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	snprintf(file, sizeof(file), "%s/lock.mdb", f->path);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	cfg.create = false;
	reopen(f, &cfg);
	t = begin(f->st, STORE_TXN_READ);
	again = attr_of(t, STORE_ROOT_INO);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(again.mode, root.mode);
	assert_int_equal(again.nlink, 2);
	assert_int_equal(ts_cmp(again.mtime, root.mtime), 0);

	store_close(f->st);
	f->st = NULL;
	assert_int_equal(raw_get(f->path, "meta", "format", 6, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "\x01\x00\x00\x00", 4);
	assert_int_equal(raw_get(f->path, "meta", "next_ino", 8, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "\x02\x00\x00\x00\x00\x00\x00\x00", 8);
	put_be64(key, 1);
	assert_int_equal(raw_get(f->path, "inode", key, 8, buf, sizeof(buf)), 85);
	assert_memory_equal(buf, "\x01\xed\x41\x00\x00", 5); /* version 1, mode 040755 */
}

static void test_create_in_empty_dir(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_txn *t;
	struct stat sb;

	assert_int_equal(mkdir(f->path, 0750), 0);
	assert_int_equal(store_open(&cfg, &f->st), 0);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).mode, S_IFDIR | 0755);
	store_txn_abort(t);
	/* An existing directory keeps the mode its owner gave it. */
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0750);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	char deep[256];

	cfg.create = false;
	assert_int_equal(store_open(&cfg, &f->st), -ENOENT);
	assert_int_equal(access(f->path, F_OK), -1);

	snprintf(deep, sizeof(deep), "%s/missing/store", f->tmp);
	cfg.path = deep;
	cfg.create = true;
	assert_int_equal(store_open(&cfg, &f->st), -ENOENT);

	write_file(f->path, "x", 1);
	cfg.path = f->path;
	assert_int_equal(store_open(&cfg, &f->st), -ENOTDIR);
	assert_int_equal(unlink(f->path), 0);

	/* An empty directory is a store only when asked to create one. */
	assert_int_equal(mkdir(f->path, 0700), 0);
	cfg.create = false;
	assert_refused(f, &cfg, -EINVAL, NULL);

	/* create is ignored on a read-only open. */
	assert_int_equal(rmdir(f->path), 0);
	cfg.create = true;
	cfg.read_only = true;
	assert_int_equal(store_open(&cfg, &f->st), -ENOENT);
	assert_null(f->st);
}

static void test_refuse_unrelated_dir(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	char file[256];

	assert_int_equal(mkdir(f->path, 0755), 0);
	snprintf(file, sizeof(file), "%s/notes.txt", f->path);
	write_file(file, "hello\n", 6);
	assert_refused(f, &cfg, -EINVAL,
		       "not an itemfs store (the directory holds other files and no data.mdb); "
		       "nothing was changed");
}

static void test_refuse_non_lmdb_data(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	char file[256];
	unsigned char *junk = pattern(20000, 9);

	assert_int_equal(mkdir(f->path, 0700), 0);
	snprintf(file, sizeof(file), "%s/data.mdb", f->path);
	write_file(file, junk, 20000);
	assert_refused(f, &cfg, -EINVAL, /* no lock.mdb either */
		       "data.mdb is not an LMDB file: not an itemfs store; nothing was changed");
	free(junk);
}

static void test_refuse_empty_data_mdb(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	char file[256];

	assert_int_equal(mkdir(f->path, 0700), 0);
	snprintf(file, sizeof(file), "%s/data.mdb", f->path);
	write_file(file, "", 0);
	assert_refused(f, &cfg, -EINVAL, NULL);
}

static void test_refuse_lmdb_without_meta(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct raw r;
	MDB_val k = {3, (void *)"key"}, v = {5, (void *)"value"};

	assert_int_equal(mkdir(f->path, 0700), 0);
	raw_open(&r, f->path, true);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "other", MDB_CREATE), &k, &v, 0), 0);
	raw_close(&r);
	assert_refused(f, &cfg, -EINVAL, NULL);
}

static void test_refuse_format_version(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	unsigned char two[4] = {2, 0, 0, 0};
	MDB_val k = {6, (void *)"format"}, v = {4, two};
	struct raw r;

	store_close(f->st);
	f->st = NULL;
	raw_open(&r, f->path, true);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "meta", 0), &k, &v, 0), 0);
	raw_close(&r);
	assert_refused(f, &cfg, -EPROTO, "store format version 2; this itemfs reads only version 1");
}

/*
 * A meta database that holds records but not the format record: a damaged
 * page makes LMDB report a record absent (tests/integration/test_check.sh
 * flips a page's flags), so the store is called damaged (-EIO), not
 * foreign, and left unchanged.
 */
static void test_refuse_meta_without_format(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	MDB_val k = {6, (void *)"format"};
	struct raw r;

	store_close(f->st);
	f->st = NULL;
	raw_open(&r, f->path, true);
	assert_int_equal(mdb_del(r.txn, raw_dbi(&r, "meta", 0), &k, NULL), 0);
	raw_close(&r);
	assert_refused(f, &cfg, -EIO,
		       "the meta database holds 1 record but LMDB finds no format record in it: the "
		       "store is damaged (or not an itemfs store); nothing was changed");
}

/* ---- the byte layout (docs/store-format.md) --------------------------- */

static void test_format_bytes(void **state)
{
	struct fx *f = *state;
	struct store_attr a = {
	    .mode = S_IFREG | 0644,
	    .uid = 1000,
	    .gid = 1001,
	    .atime = {0x0102030405, 6},
	    .mtime = {-2, 999999999},
	    .ctime = {7, 0x0a0b0c0d},
	};
	unsigned char want[128], got[128], key[64];
	struct store_txn *t;
	uint64_t hash;

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &a.ino), 0);
	assert_int_equal(a.ino, 2);
	assert_int_equal(store_inode_put(t, &a), 0);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "f.txt", 5, a.ino), 0);
	assert_int_equal(store_data_put(t, a.ino, "abc", 3), 0);
	assert_int_equal(store_xattr_set(t, a.ino, "user.k", "v", 1, 0), 0);
	assert_int_equal(store_txn_commit(t), 0);
	store_close(f->st);
	f->st = NULL;

	/* inode: 00..02 -> version, mode, uid, gid, nlink, size, parent, keylen,
	 * xattr_bytes, version, then atime, mtime, ctime as i64 s + u32 ns. */
	memset(want, 0, sizeof(want));
	want[0] = 1;
	put_le(want + 1, S_IFREG | 0644, 4);
	put_le(want + 5, 1000, 4);
	put_le(want + 9, 1001, 4);
	put_le(want + 13, 1, 4);     /* nlink */
	put_le(want + 17, 3, 8);     /* size */
	put_le(want + 25, 1, 8);     /* parent */
	put_le(want + 33, 5, 4);     /* keylen */
	put_le(want + 37, 6 + 1, 4); /* xattr_bytes */
	put_le(want + 41, 2, 8);     /* version: 1, bumped by data_put */
	put_le(want + 49, 0x0102030405, 8);
	put_le(want + 57, 6, 4);
	put_le(want + 61, (uint64_t)-2, 8);
	put_le(want + 69, 999999999, 4);
	put_le(want + 73, 7, 8);
	put_le(want + 81, 0x0a0b0c0d, 4);
	put_be64(key, 2);
	assert_memory_equal(key, "\0\0\0\0\0\0\0\x02", 8);
	assert_int_equal(raw_get(f->path, "inode", key, 8, got, sizeof(got)), 85);
	assert_memory_equal(got, want, 85);

	/* dirent: be64 parent + name -> le64 ino + le32 type bits */
	put_be64(key, 1);
	memcpy(key + 8, "f.txt", 5);
	assert_int_equal(raw_get(f->path, "dirent", key, 13, got, sizeof(got)), 12);
	assert_memory_equal(got, "\x02\0\0\0\0\0\0\0\x00\x80\0\0", 12);

	/* data: be64 ino -> le64 XXH3-64 + bytes */
	hash = XXH3_64bits("abc", 3);
	put_le(want, hash, 8);
	memcpy(want + 8, "abc", 3);
	put_be64(key, 2);
	assert_int_equal(raw_get(f->path, "data", key, 8, got, sizeof(got)), 11);
	assert_memory_equal(got, want, 11);

	/* xattr: be64 ino + full name -> raw value */
	memcpy(key + 8, "user.k", 6);
	assert_int_equal(raw_get(f->path, "xattr", key, 14, got, sizeof(got)), 1);
	assert_int_equal(got[0], 'v');

	assert_int_equal(raw_get(f->path, "meta", "next_ino", 8, got, sizeof(got)), 8);
	assert_memory_equal(got, "\x03\0\0\0\0\0\0\0", 8);
}

static void test_inode_record_corrupt(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	unsigned char key[8], rec[85] = {2};
	MDB_val k = {8, key}, v = {sizeof(rec), rec};
	struct store_attr a;
	struct store_txn *t;
	char want[256];
	struct raw r;

	store_close(f->st);
	f->st = NULL;
	raw_open(&r, f->path, true);
	put_be64(key, 7);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "inode", 0), &k, &v, 0), 0); /* version 2 */
	put_be64(key, 8);
	v.mv_size = 84;
	rec[0] = 1;
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "inode", 0), &k, &v, 0), 0); /* short */
	raw_close(&r);

	assert_int_equal(store_open(&cfg, &f->st), 0);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_inode_get(t, 7, &a), -EIO);
	snprintf(want, sizeof(want),
		 "%s: inode 7: unreadable record (85 bytes, version 2; expected 85 bytes, "
		 "version 1)",
		 f->path);
	assert_true(logged(want));
	assert_int_equal(store_inode_get(t, 8, &a), -EIO);
	snprintf(want, sizeof(want),
		 "%s: inode 8: unreadable record (84 bytes, version 1; expected 85 bytes, "
		 "version 1)",
		 f->path);
	assert_true(logged(want));
	store_txn_abort(t);
}

/* ---- inodes ----------------------------------------------------------- */

static void test_ino_alloc_monotonic(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_txn *t;
	uint64_t ino;

	t = begin(f->st, STORE_TXN_WRITE);
	for (uint64_t want = 2; want <= 4; want++) {
		assert_int_equal(store_ino_alloc(t, &ino), 0);
		assert_int_equal(ino, want);
	}
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &ino), 0);
	assert_int_equal(ino, 5);
	store_txn_abort(t); /* 5 was never used: it may come again */

	cfg.create = false;
	reopen(f, &cfg);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &ino), 0);
	assert_int_equal(ino, 5);
	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &ino), 0);
	assert_int_equal(ino, 6);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_inode_roundtrip(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_attr in = {
	    .ino = 42,
	    .mode = S_IFREG | 04751,
	    .uid = 0xfffffffe,
	    .gid = 123456,
	    .atime = {1700000000, 123456789},
	    .mtime = {-1, 999999999},
	    .ctime = {4102444800, 1},
	};
	struct store_attr out;
	struct store_txn *t;

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_inode_get(t, 42, &out), -ENOENT);
	assert_int_equal(store_inode_put(t, &in), 0);
	assert_int_equal(store_txn_commit(t), 0);
	cfg.create = false;
	reopen(f, &cfg);

	t = begin(f->st, STORE_TXN_READ);
	out = attr_of(t, 42);
	store_txn_abort(t);
	assert_int_equal(out.ino, 42);
	assert_int_equal(out.mode, S_IFREG | 04751);
	assert_int_equal(out.uid, 0xfffffffe);
	assert_int_equal(out.gid, 123456);
	assert_int_equal(out.atime.tv_sec, 1700000000);
	assert_int_equal(out.atime.tv_nsec, 123456789);
	assert_int_equal(out.mtime.tv_sec, -1);
	assert_int_equal(out.mtime.tv_nsec, 999999999);
	assert_int_equal(out.ctime.tv_sec, 4102444800);
	assert_int_equal(out.ctime.tv_nsec, 1);
	/* the store's own fields, initialised for a new inode */
	assert_int_equal(out.nlink, 0);
	assert_int_equal(out.size, 0);
	assert_int_equal(out.parent, 0);
	assert_int_equal(out.keylen, 0);
	assert_int_equal(out.xattr_bytes, 0);
	assert_int_equal(out.version, 1);
}

static void test_inode_put_keeps_store_fields(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_attr a, bad;
	uint64_t file, dir;

	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "file");
	assert_int_equal(store_data_put(t, file, "0123456789", 10), 0);
	set_xattr(t, file, "user.x", 4);
	a = attr_of(t, file);
	a.mode = S_IFREG | 0600;
	a.nlink = 99;
	a.size = 7;
	a.parent = 42;
	a.keylen = 1;
	a.xattr_bytes = 5;
	a.version = 77;
	assert_int_equal(store_inode_put(t, &a), 0);
	a = attr_of(t, file);
	assert_int_equal(a.mode, S_IFREG | 0600);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.size, 10);
	assert_int_equal(a.parent, STORE_ROOT_INO);
	assert_int_equal(a.keylen, 4);
	assert_int_equal(a.xattr_bytes, 10);
	assert_int_equal(a.version, 2);

	/* the type is fixed */
	bad = a;
	bad.mode = S_IFDIR | 0600;
	assert_int_equal(store_inode_put(t, &bad), -EINVAL);
	assert_int_equal(attr_of(t, file).mode, S_IFREG | 0600);
	bad.ino = 0;
	assert_int_equal(store_inode_put(t, &bad), -EINVAL);

	/* a new directory starts with two links */
	assert_int_equal(store_ino_alloc(t, &dir), 0);
	bad = (struct store_attr){.ino = dir, .mode = S_IFDIR | 0700};
	assert_int_equal(store_inode_put(t, &bad), 0);
	assert_int_equal(attr_of(t, dir).nlink, 2);
	assert_int_equal(store_txn_commit(t), 0);
}

/* ---- directory entries ------------------------------------------------ */

static void test_dirent_file_links(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_attr a;
	uint64_t file, ino = 0;

	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "file");
	a = attr_of(t, file);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.parent, STORE_ROOT_INO);
	assert_int_equal(a.keylen, 4);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 2);

	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "file", 4, &ino), 0);
	assert_int_equal(ino, file);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "fil", 3, &ino), -ENOENT);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "file", 4, file), -EEXIST);
	assert_int_equal(store_dirent_add(t, 999, "x", 1, file), -ENOENT);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "x", 1, 999), -ENOENT);
	assert_int_equal(store_dirent_add(t, file, "x", 1, file), -ENOTDIR);
	assert_int_equal(attr_of(t, file).nlink, 1);

	ino = 0;
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "file", 4, &ino), 0);
	assert_int_equal(ino, file);
	assert_int_equal(attr_of(t, file).nlink, 0); /* not freed: the caller does that */
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "file", 4, &ino), -ENOENT);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "file", 4, NULL), -ENOENT);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 2);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_dirent_dir_links(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	uint64_t sub, subsub, file;

	t = begin(f->st, STORE_TXN_WRITE);
	sub = make_dir(t, STORE_ROOT_INO, "sub");
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 3);
	assert_int_equal(attr_of(t, sub).nlink, 2);
	assert_int_equal(attr_of(t, sub).parent, STORE_ROOT_INO);
	assert_int_equal(attr_of(t, sub).keylen, 3);

	subsub = make_dir(t, sub, "subsub");
	assert_int_equal(attr_of(t, sub).nlink, 3);
	assert_int_equal(attr_of(t, subsub).parent, sub);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 3);
	file = make_file(t, sub, "file");
	assert_int_equal(attr_of(t, sub).nlink, 3);
	assert_int_equal(attr_of(t, file).nlink, 1);

	assert_int_equal(store_dirent_remove(t, sub, "subsub", 6, NULL), 0);
	assert_int_equal(attr_of(t, sub).nlink, 2);
	assert_int_equal(attr_of(t, subsub).nlink, 2);
	assert_int_equal(store_dirent_remove(t, sub, "file", 4, NULL), 0);
	assert_int_equal(attr_of(t, sub).nlink, 2);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "sub", 3, NULL), 0);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 2);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_hard_links(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_attr a;
	uint64_t file, dir, ino;

	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "a");
	dir = make_dir(t, STORE_ROOT_INO, "d");
	assert_int_equal(store_dirent_add(t, dir, "longer-name", 11, file), 0);
	a = attr_of(t, file);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(a.keylen, 11);
	assert_int_equal(a.parent, dir);
	assert_int_equal(attr_of(t, dir).nlink, 2); /* files do not count in a dir's nlink */

	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "bb", 2, file), 0);
	a = attr_of(t, file);
	assert_int_equal(a.nlink, 3);
	assert_int_equal(a.keylen, 11);
	assert_int_equal(store_dirent_get(t, dir, "longer-name", 11, &ino), 0);
	assert_int_equal(ino, file);

	assert_int_equal(store_dirent_remove(t, dir, "longer-name", 11, NULL), 0);
	a = attr_of(t, file);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(a.keylen, 11); /* the longest seen so far */
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "a", 1, NULL), 0);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "bb", 2, NULL), 0);
	assert_int_equal(attr_of(t, file).nlink, 0);

	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "c", 1, file), 0);
	a = attr_of(t, file);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.keylen, 1); /* its only name */
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_dirent_remove_dangling(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	unsigned char key[13], val[12] = {99, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0};
	MDB_val k = {sizeof(key), key}, v = {sizeof(val), val};
	struct store_txn *t;
	char want[256];
	uint64_t dir, ino = 0;
	struct raw r;

	t = begin(f->st, STORE_TXN_WRITE);
	dir = make_dir(t, STORE_ROOT_INO, "d");
	make_dir(t, dir, "real");
	assert_int_equal(attr_of(t, dir).nlink, 3);
	assert_int_equal(store_txn_commit(t), 0);
	store_close(f->st);
	f->st = NULL;

	/* an entry for a directory whose inode 99 was lost, counted in dir's nlink */
	put_be64(key, dir);
	memcpy(key + 8, "ghost", 5);
	raw_open(&r, f->path, true);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "dirent", 0), &k, &v, 0), 0);
	raw_close(&r);

	assert_int_equal(store_open(&cfg, &f->st), 0);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, dir, "ghost", 5, &ino), 0);
	assert_int_equal(ino, 99);
	assert_int_equal(store_dirent_get(t, dir, "ghost", 5, &ino), -ENOENT);
	assert_int_equal(attr_of(t, dir).nlink, 2);
	assert_int_equal(store_txn_commit(t), 0);
	snprintf(want, sizeof(want),
		 "%s: directory inode %llu: entry \"ghost\" names missing inode 99; removing "
		 "the entry",
		 f->path, (unsigned long long)dir);
	assert_true(logged(want));
}

struct listing {
	int n, stop_at;
	char names[16][256];
	size_t lens[16];
	uint64_t inos[16];
	uint32_t modes[16];
};

static int collect(void *arg, const struct store_dirent *ent)
{
	struct listing *l = arg;

	assert_true(l->n < 16);
	memcpy(l->names[l->n], ent->name, ent->namelen);
	l->lens[l->n] = ent->namelen;
	l->inos[l->n] = ent->ino;
	l->modes[l->n] = ent->mode;
	l->n++;
	return l->n == l->stop_at ? 7 : 0;
}

static void test_dir_list_byte_order(void **state)
{
	struct fx *f = *state;
	char longest[255];
	/* in the order they are created */
	const struct {
		const char *name;
		size_t len;
		uint32_t mode;
	} in[] = {
	    {"b", 1, S_IFREG | 0644},
	    {"a b", 3, S_IFREG | 0644},
	    {"\xc3\xa9t\xc3\xa9", 5, S_IFREG | 0644}, /* "été" in UTF-8 */
	    {"\n", 1, S_IFREG | 0644},
	    {"Z", 1, S_IFREG | 0644},
	    {"a", 1, S_IFREG | 0644},
	    {longest, 255, S_IFREG | 0644},
	    {"ab", 2, S_IFDIR | 0755},
	    {"\x01", 1, S_IFLNK | 0777},
	    {"\xff", 1, S_IFREG | 0644},
	};
	/* byte-wise order: indexes into in[] */
	const int order[] = {8, 3, 4, 5, 1, 7, 0, 6, 2, 9};
	struct listing l = {0};
	struct store_txn *t;
	uint64_t dir, other, inos[10];

	memset(longest, 'x', sizeof(longest));
	t = begin(f->st, STORE_TXN_WRITE);
	dir = make_dir(t, STORE_ROOT_INO, "dir");
	other = make_dir(t, STORE_ROOT_INO, "other"); /* dir + 1: its keys follow dir's */
	assert_int_equal(other, dir + 1);
	make_file(t, other, "\x01");
	for (int i = 0; i < 10; i++)
		inos[i] = make_node(t, dir, in[i].name, in[i].len, in[i].mode);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dir_list(t, dir, collect, &l), 0);
	store_txn_abort(t);
	assert_int_equal(l.n, 10);
	for (int i = 0; i < 10; i++) {
		int j = order[i];

		assert_int_equal(l.lens[i], in[j].len);
		assert_memory_equal(l.names[i], in[j].name, in[j].len);
		assert_int_equal(l.inos[i], inos[j]);
		assert_int_equal(l.modes[i], in[j].mode & S_IFMT);
	}
}

static void test_name_rules(void **state)
{
	struct fx *f = *state;
	char name[256];
	struct store_txn *t;
	uint64_t file, ino;

	memset(name, 'n', sizeof(name));
	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "f");
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, name, 256, file), -ENAMETOOLONG);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, name, 256, &ino), -ENAMETOOLONG);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, name, 256, &ino), -ENAMETOOLONG);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "", 0, file), -EINVAL);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "a/b", 3, file), -EINVAL);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "/", 1, file), -EINVAL);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "a\0b", 3, file), -EINVAL);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "a/b", 3, &ino), -EINVAL);
	assert_int_equal(attr_of(t, file).nlink, 1);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, name, 255, file), 0);
	assert_int_equal(attr_of(t, file).keylen, 255);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_dir_list_stops(void **state)
{
	struct fx *f = *state;
	struct listing l = {.stop_at = 2};
	struct store_txn *t;
	uint64_t file;

	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "a");
	make_file(t, STORE_ROOT_INO, "b");
	make_file(t, STORE_ROOT_INO, "c");
	assert_int_equal(store_dir_list(t, STORE_ROOT_INO, collect, &l), 7);
	assert_int_equal(l.n, 2);
	assert_int_equal(store_dir_list(t, file, collect, &l), -ENOTDIR);
	assert_int_equal(store_dir_list(t, 999, collect, &l), -ENOENT);
	assert_int_equal(l.n, 2);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_dir_is_empty(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	uint64_t dir, file;

	t = begin(f->st, STORE_TXN_WRITE);
	dir = make_dir(t, STORE_ROOT_INO, "d");
	assert_int_equal(store_dir_is_empty(t, dir), 1);
	file = make_file(t, dir, "f");
	assert_int_equal(store_dir_is_empty(t, dir), 0);
	assert_int_equal(store_dir_is_empty(t, STORE_ROOT_INO), 0);
	assert_int_equal(store_dir_is_empty(t, file), -ENOTDIR);
	assert_int_equal(store_dir_is_empty(t, 999), -ENOENT);
	assert_int_equal(store_dirent_remove(t, dir, "f", 1, NULL), 0);
	assert_int_equal(store_dir_is_empty(t, dir), 1);
	assert_int_equal(store_txn_commit(t), 0);
}

/* ---- item data and the size limit -------------------------------------- */

static void test_data_roundtrip(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	size_t max = STORE_ITEM_MAX - 4;
	unsigned char *big = pattern(max, 1);
	struct store_txn *t;
	uint64_t file, dir;

	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "item");
	dir = make_dir(t, STORE_ROOT_INO, "dir");
	assert_data(t, file, NULL, 0);
	assert_int_equal(store_data_put(t, file, NULL, 0), 0);
	assert_data(t, file, NULL, 0);
	assert_int_equal(attr_of(t, file).version, 2);
	assert_int_equal(store_data_put(t, file, "x", 1), 0);
	assert_data(t, file, "x", 1);
	assert_int_equal(attr_of(t, file).size, 1);
	assert_int_equal(store_data_put(t, file, big, max), 0);
	assert_int_equal(attr_of(t, file).size, max);
	assert_int_equal(attr_of(t, file).version, 4);
	assert_int_equal(store_data_put(t, 999, "x", 1), -ENOENT);
	assert_int_equal(store_data_put(t, dir, "x", 1), -EISDIR);
	assert_int_equal(store_txn_commit(t), 0);

	cfg.create = false;
	reopen(f, &cfg);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_data(t, file, big, max);
	assert_int_equal(store_data_put(t, file, "", 0), 0);
	assert_data(t, file, NULL, 0);
	assert_int_equal(attr_of(t, file).size, 0);
	assert_int_equal(store_txn_commit(t), 0);
	free(big);
}

/* The data database's leaf pages and records in the closed store at path. */
static void data_pages(const char *path, size_t *leaves, size_t *records)
{
	struct raw r;
	MDB_stat ms;

	raw_open(&r, path, false);
	assert_int_equal(mdb_stat(r.txn, raw_dbi(&r, "data", 0), &ms), 0);
	*leaves = ms.ms_leaf_pages;
	*records = ms.ms_entries;
	raw_close(&r);
}

/*
 * Items written in the order they were made fill the data database's leaves:
 * three 1-KiB records to a 4-KiB page, not the two that plain puts (a split
 * in the middle) leave. An item whose number is not past the last key (older,
 * or emptied and written again) takes a plain put, and nothing breaks.
 */
static void test_data_packed_in_key_order(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	unsigned char *kib = pattern(1024, 5);
	uint64_t ino[300], old, late;
	size_t leaves, records;
	struct store_txn *t;
	char name[16];
	int i;

	if (sysconf(_SC_PAGESIZE) != 4096)
		skip(); /* LMDB's page is the machine's: the counts below are for 4 KiB */
	for (int batch = 0; batch < 3; batch++) {
		t = begin(f->st, STORE_TXN_WRITE);
		for (i = batch * 100; i < batch * 100 + 100; i++) {
			snprintf(name, sizeof(name), "i%03d", i);
			ino[i] = make_file(t, STORE_ROOT_INO, name);
			assert_int_equal(store_data_put(t, ino[i], kib, 1024), 0);
		}
		assert_int_equal(store_txn_commit(t), 0);
	}
	store_close(f->st);
	f->st = NULL;
	data_pages(f->path, &leaves, &records);
	assert_int_equal(records, 300);
	assert_int_equal(leaves, 100);

	/* Out of key order: a late item's data first, then an older item's. */
	cfg.create = false;
	reopen(f, &cfg);
	t = begin(f->st, STORE_TXN_WRITE);
	old = make_file(t, STORE_ROOT_INO, "old");
	late = make_file(t, STORE_ROOT_INO, "late");
	assert_int_equal(store_data_put(t, late, "late", 4), 0);
	assert_int_equal(store_data_put(t, old, "old", 3), 0);
	assert_int_equal(store_data_put(t, ino[7], NULL, 0), 0); /* emptied, */
	assert_int_equal(store_data_put(t, ino[7], "again", 5), 0); /* then written */
	assert_int_equal(store_data_put(t, ino[8], "over", 4), 0);  /* overwritten */
	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, 0);
	assert_data(t, late, "late", 4);
	assert_data(t, old, "old", 3);
	assert_data(t, ino[7], "again", 5);
	assert_data(t, ino[8], "over", 4);
	assert_data(t, ino[9], kib, 1024);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(log_count, 0);
	free(kib);
}

/* An item at the limit: name "item" (4) + xattr "user.a" (6 + 100) + data. */
static uint64_t item_at_limit(struct store_txn *t, unsigned char **data)
{
	size_t len = STORE_ITEM_MAX - 4 - 106;
	uint64_t file = make_file(t, STORE_ROOT_INO, "item");

	set_xattr(t, file, "user.a", 100);
	*data = pattern(len + 1, 5);
	assert_int_equal(store_data_put(t, file, *data, len), 0);
	assert_int_equal(attr_of(t, file).xattr_bytes, 106);
	return file;
}

static void test_item_limit_data(void **state)
{
	struct fx *f = *state;
	size_t len = STORE_ITEM_MAX - 4 - 106;
	unsigned char *data;
	struct store_txn *t;
	uint64_t file;

	t = begin(f->st, STORE_TXN_WRITE);
	file = item_at_limit(t, &data);
	assert_int_equal(store_data_put(t, file, data, len + 1), -EFBIG);
	assert_data(t, file, data, len);
	assert_int_equal(attr_of(t, file).size, len);
	assert_int_equal(attr_of(t, file).version, 2);
	assert_int_equal(store_txn_commit(t), 0);
	free(data);
}

static void test_item_limit_xattr(void **state)
{
	struct fx *f = *state;
	unsigned char *data, value[101] = {0}, got[101];
	struct store_txn *t;
	size_t len;
	uint64_t file;

	t = begin(f->st, STORE_TXN_WRITE);
	file = item_at_limit(t, &data);
	assert_int_equal(store_xattr_set(t, file, "user.a", value, 101, 0), -E2BIG);
	assert_int_equal(store_xattr_set(t, file, "user.b", "", 0, 0), -E2BIG);
	assert_int_equal(store_xattr_get(t, file, "user.a", got, sizeof(got), &len), 0);
	assert_int_equal(len, 100);
	assert_memory_not_equal(got, value, 100);
	assert_int_equal(attr_of(t, file).xattr_bytes, 106);
	/* a replacement of the same size still fits */
	assert_int_equal(store_xattr_set(t, file, "user.a", value, 100, XATTR_REPLACE), 0);
	assert_int_equal(attr_of(t, file).xattr_bytes, 106);
	assert_int_equal(store_xattr_remove(t, file, "user.a"), 0);
	assert_int_equal(store_xattr_set(t, file, "user.b", value, 100, 0), 0);
	assert_int_equal(attr_of(t, file).xattr_bytes, 106);
	assert_int_equal(store_txn_commit(t), 0);
	free(data);
}

static void test_item_limit_link(void **state)
{
	struct fx *f = *state;
	unsigned char *data;
	struct store_txn *t;
	struct store_attr a;
	uint64_t file, ino;

	t = begin(f->st, STORE_TXN_WRITE);
	file = item_at_limit(t, &data);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "item2", 5, file), -EFBIG);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "item2", 5, &ino), -ENOENT);
	a = attr_of(t, file);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.keylen, 4);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "itex", 4, file), 0);
	assert_int_equal(attr_of(t, file).nlink, 2);
	/* a taken name is EEXIST, whether or not the item would fit under it */
	make_file(t, STORE_ROOT_INO, "other");
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "other", 5, file), -EEXIST);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "itex", 4, file), -EEXIST);
	assert_int_equal(attr_of(t, file).nlink, 2);

	/* a rename (unlink both, link the new name) to a longer name */
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "item", 4, NULL), 0);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "itex", 4, NULL), 0);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "item2", 5, file), -EFBIG);
	a = attr_of(t, file);
	assert_int_equal(a.nlink, 0);
	assert_int_equal(a.keylen, 4);
	assert_int_equal(store_txn_commit(t), 0);
	free(data);
}

static void test_data_checksum_mismatch(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_buf b = {(void *)&b, 77};
	unsigned char key[8], val[64];
	struct store_txn *t;
	MDB_val k = {8, key}, v;
	char want[256];
	struct raw r;
	uint64_t file;

	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "file");
	assert_int_equal(store_data_put(t, file, "hello world", 11), 0);
	assert_int_equal(store_txn_commit(t), 0);
	store_close(f->st);
	f->st = NULL;

	raw_open(&r, f->path, true);
	put_be64(key, file);
	assert_int_equal(mdb_get(r.txn, raw_dbi(&r, "data", 0), &k, &v), 0);
	assert_int_equal(v.mv_size, 8 + 11);
	memcpy(val, v.mv_data, v.mv_size);
	val[8 + 4] ^= 0x01; /* "helln world" */
	v.mv_data = val;
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "data", 0), &k, &v, 0), 0);
	raw_close(&r);

	assert_int_equal(store_open(&cfg, &f->st), 0);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_data_get(t, file, &b), -EBADMSG);
	assert_ptr_equal(b.data, &b); /* nothing returned */
	assert_int_equal(b.len, 77);
	store_txn_abort(t);
	snprintf(want, sizeof(want), "%s: item data checksum mismatch (inode %llu)", f->path,
		 (unsigned long long)file);
	assert_true(logged(want));
}

/* ---- xattrs ----------------------------------------------------------- */

static void test_xattr_flags(void **state)
{
	struct fx *f = *state;
	char name[257], buf[16];
	struct store_txn *t;
	uint64_t file;
	size_t len = 99;

	memset(name, 'u', sizeof(name) - 1);
	name[256] = '\0';
	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "f");
	assert_int_equal(store_xattr_set(t, file, "user.color", "red", 3, 0), 0);
	assert_int_equal(attr_of(t, file).xattr_bytes, 13);
	assert_int_equal(store_xattr_set(t, file, "user.color", "x", 1, XATTR_CREATE), -EEXIST);
	assert_int_equal(store_xattr_set(t, file, "user.size", "x", 1, XATTR_REPLACE), -ENODATA);
	assert_int_equal(store_xattr_set(t, file, "user.color", "blue", 4, XATTR_REPLACE), 0);
	assert_int_equal(attr_of(t, file).xattr_bytes, 14);
	assert_int_equal(store_xattr_set(t, file, "user.new", NULL, 0, XATTR_CREATE), 0);
	assert_int_equal(attr_of(t, file).xattr_bytes, 22);
	assert_int_equal(store_xattr_set(t, file, "user.x", "x", 1, XATTR_CREATE | XATTR_REPLACE),
			 -EINVAL);

	assert_int_equal(store_xattr_get(t, file, "user.color", NULL, 0, &len), 0);
	assert_int_equal(len, 4);
	assert_int_equal(store_xattr_get(t, file, "user.color", buf, 3, &len), -ERANGE);
	assert_int_equal(store_xattr_get(t, file, "user.color", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "blue", 4);
	assert_int_equal(store_xattr_get(t, file, "user.new", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(store_xattr_get(t, file, "user.size", buf, sizeof(buf), &len), -ENODATA);
	assert_int_equal(store_xattr_get(t, 999, "user.size", buf, sizeof(buf), &len), -ENOENT);
	assert_int_equal(store_xattr_set(t, 999, "user.size", "x", 1, 0), -ENOENT);

	assert_int_equal(store_xattr_set(t, file, name, "x", 1, 0), -ERANGE);
	assert_int_equal(store_xattr_get(t, file, name, buf, sizeof(buf), &len), -ERANGE);
	assert_int_equal(store_xattr_remove(t, file, name), -ERANGE);
	assert_int_equal(store_xattr_set(t, file, "", "x", 1, 0), -ERANGE);
	name[255] = '\0';
	assert_int_equal(store_xattr_set(t, file, name, "x", 1, 0), 0);
	assert_int_equal(attr_of(t, file).xattr_bytes, 22 + 256);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_xattr_list_and_remove(void **state)
{
	static const char want[] = "security.x\0trusted.zz\0user.a\0user.b";
	struct fx *f = *state;
	char buf[64];
	struct store_txn *t;
	uint64_t file, other;
	size_t len;

	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "f");
	other = make_file(t, STORE_ROOT_INO, "g");
	assert_int_equal(other, file + 1);
	assert_int_equal(store_xattr_list(t, file, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 0);
	set_xattr(t, file, "user.b", 2);
	set_xattr(t, file, "user.a", 1);
	set_xattr(t, file, "trusted.zz", 3);
	set_xattr(t, file, "security.x", 4);
	set_xattr(t, other, "user.other", 1);

	assert_int_equal(store_xattr_list(t, file, NULL, 0, &len), 0);
	assert_int_equal(len, sizeof(want));
	memset(buf, '#', sizeof(buf));
	assert_int_equal(store_xattr_list(t, file, buf, sizeof(want) - 1, &len), -ERANGE);
	assert_int_equal(buf[0], '#');
	assert_int_equal(store_xattr_list(t, file, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(store_xattr_list(t, 999, buf, sizeof(buf), &len), -ENOENT);

	assert_int_equal(attr_of(t, file).xattr_bytes, 7 + 8 + 13 + 14);
	assert_int_equal(store_xattr_remove(t, file, "user.a"), 0);
	assert_int_equal(store_xattr_remove(t, file, "user.a"), -ENODATA);
	assert_int_equal(store_xattr_remove(t, 999, "user.a"), -ENOENT);
	assert_int_equal(attr_of(t, file).xattr_bytes, 8 + 13 + 14);
	assert_int_equal(store_xattr_remove(t, file, "user.b"), 0);
	assert_int_equal(store_xattr_remove(t, file, "trusted.zz"), 0);
	assert_int_equal(store_xattr_remove(t, file, "security.x"), 0);
	assert_int_equal(attr_of(t, file).xattr_bytes, 0);
	assert_int_equal(store_xattr_list(t, file, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(store_xattr_list(t, other, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 11);
	assert_int_equal(store_txn_commit(t), 0);
}

/* ---- freeing ---------------------------------------------------------- */

static void test_inode_free(void **state)
{
	struct fx *f = *state;
	unsigned char *data = pattern(5000, 2), key[8 + 16], got[16];
	struct store_txn *t;
	struct store_attr a;
	struct store_buf b;
	uint64_t file, other, dir;
	size_t len;

	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "f");
	other = make_file(t, STORE_ROOT_INO, "g");
	assert_int_equal(store_data_put(t, file, data, 5000), 0);
	set_xattr(t, file, "user.a", 3);
	set_xattr(t, file, "user.b", 3);
	assert_int_equal(store_data_put(t, other, "keep", 4), 0);
	set_xattr(t, other, "user.a", 3);
	dir = make_dir(t, STORE_ROOT_INO, "d");
	make_file(t, dir, "inside");
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "f", 1, NULL), 0);
	assert_int_equal(store_inode_free(t, file), 0);
	assert_int_equal(store_inode_get(t, file, &a), -ENOENT);
	assert_int_equal(store_data_get(t, file, &b), -ENOENT);
	assert_int_equal(store_xattr_get(t, file, "user.a", NULL, 0, &len), -ENOENT);
	assert_int_equal(store_inode_free(t, file), -ENOENT);
	assert_int_equal(store_inode_free(t, dir), -ENOTEMPTY);
	assert_data(t, other, "keep", 4);
	assert_int_equal(store_txn_commit(t), 0);
	store_close(f->st);
	f->st = NULL;

	/* nothing of it is left on disk; its neighbour's records are */
	put_be64(key, file);
	assert_int_equal(raw_get(f->path, "data", key, 8, got, sizeof(got)), (size_t)-1);
	memcpy(key + 8, "user.a", 6);
	assert_int_equal(raw_get(f->path, "xattr", key, 14, got, sizeof(got)), (size_t)-1);
	memcpy(key + 8, "user.b", 6);
	assert_int_equal(raw_get(f->path, "xattr", key, 14, got, sizeof(got)), (size_t)-1);
	put_be64(key, other);
	memcpy(key + 8, "user.a", 6);
	assert_int_equal(raw_get(f->path, "xattr", key, 14, got, sizeof(got)), 3);
	assert_int_equal(raw_get(f->path, "data", key, 8, got, sizeof(got)), 12);
	free(data);
}

/* ---- transactions ----------------------------------------------------- */

static void test_abort_discards(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_attr a;
	uint64_t file, ino;

	t = begin(f->st, STORE_TXN_WRITE);
	file = make_file(t, STORE_ROOT_INO, "gone");
	assert_int_equal(store_data_put(t, file, "data", 4), 0);
	assert_int_equal(store_inode_put(t, &(struct store_attr){.ino = 1, .mode = S_IFDIR | 0700}),
			 0);
	store_txn_abort(t);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "gone", 4, &ino), -ENOENT);
	assert_int_equal(store_inode_get(t, file, &a), -ENOENT);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).mode, S_IFDIR | 0755);
	assert_int_equal(store_dir_is_empty(t, STORE_ROOT_INO), 1);
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_read_snapshot(void **state)
{
	struct fx *f = *state;
	struct store_txn *r, *w;
	uint64_t b, ino;

	w = begin(f->st, STORE_TXN_WRITE);
	make_file(w, STORE_ROOT_INO, "a");
	assert_int_equal(store_txn_commit(w), 0);

	r = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(r, STORE_ROOT_INO, "b", 1, &ino), -ENOENT);
	w = begin(f->st, STORE_TXN_WRITE);
	b = make_file(w, STORE_ROOT_INO, "b");
	assert_int_equal(store_txn_commit(w), 0);
	assert_int_equal(store_dirent_get(r, STORE_ROOT_INO, "b", 1, &ino), -ENOENT);
	assert_int_equal(store_txn_commit(r), 0);

	/* the next read txn reuses the same LMDB txn, renewed */
	r = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(r, STORE_ROOT_INO, "b", 1, &ino), 0);
	assert_int_equal(ino, b);
	store_txn_abort(r);
}

static void test_read_only(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_txn *t = NULL;

	cfg.create = false;
	cfg.read_only = true;
	reopen(f, &cfg);
	assert_int_equal(store_txn_begin(f->st, STORE_TXN_WRITE, &t), -EROFS);
	assert_null(t);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(attr_of(t, STORE_ROOT_INO).nlink, 2);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_sync(f->st), 0);
}

static void test_null_is_noop(void **state)
{
	(void)state;
	store_close(NULL);
	store_txn_abort(NULL);
}

/* ---- space ------------------------------------------------------------ */

static void test_statfs(void **state)
{
	struct fx *f = *state;
	unsigned char *big = pattern(2 * MIB, 4);
	struct store_statfs s0, s1, s2;
	struct store_txn *t;
	uint64_t file;

	assert_int_equal(store_statfs(f->st, &s0), 0);
	assert_int_equal(s0.inodes, 1);
	assert_int_equal(s0.map_size, 1024 * MIB); /* the default map */
	assert_true(s0.bytes_used > 0 && s0.bytes_used % 4096 == 0);
	assert_true(s0.bytes_avail > 0);

	/* five items of 400,000 bytes */
	t = begin(f->st, STORE_TXN_WRITE);
	for (int i = 0; i < 5; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%d", i);
		file = make_file(t, STORE_ROOT_INO, name);
		assert_int_equal(store_data_put(t, file, big + i * 400000, 400000), 0);
	}
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_statfs(f->st, &s1), 0);
	assert_int_equal(s1.inodes, 6);
	assert_true(s1.bytes_used >= s0.bytes_used + 2000000);

	/* freed pages count as free, though the file does not shrink */
	t = begin(f->st, STORE_TXN_WRITE);
	for (uint64_t ino = file - 4; ino <= file; ino++)
		assert_int_equal(store_data_put(t, ino, NULL, 0), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_statfs(f->st, &s2), 0);
	assert_true(s2.bytes_used + 1900000 < s1.bytes_used);
	assert_int_equal(store_sync(f->st), 0);
	free(big);
}

/* Writes n items of 400,000 bytes, per txns of 5; returns the first inode. */
static uint64_t write_items(struct store *st, int n)
{
	unsigned char *buf = pattern(400000 + n, 0);
	uint64_t first = 0, ino;
	struct store_txn *t;

	for (int i = 0; i < n; i += 5) {
		t = begin(st, STORE_TXN_WRITE);
		for (int j = i; j < i + 5 && j < n; j++) {
			char name[16];

			snprintf(name, sizeof(name), "item%d", j);
			ino = make_file(t, STORE_ROOT_INO, name);
			if (!first)
				first = ino;
			assert_int_equal(ino, first + (uint64_t)j);
			assert_int_equal(store_data_put(t, ino, buf + j, 400000), 0);
		}
		assert_int_equal(store_txn_commit(t), 0);
	}
	free(buf);
	return first;
}

static void check_items(struct store *st, uint64_t first, int n)
{
	unsigned char *buf = pattern(400000 + n, 0);
	struct store_txn *t = begin(st, STORE_TXN_READ);

	for (int j = 0; j < n; j++)
		assert_data(t, first + (uint64_t)j, buf + j, 400000);
	store_txn_abort(t);
	free(buf);
}

static void test_map_growth(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	char want[256];
	uint64_t first;

	cfg.map_size_init = 1 * MIB;
	cfg.map_room_min = 16 * MIB; /* the growth steps below assume it */
	assert_int_equal(store_open(&cfg, &f->st), 0);
	assert_int_equal(map_size(f->st), 1 * MIB);
	first = write_items(f->st, 50); /* 20 MB in 10 txns */
	/* 1 MiB doubles to 32 MiB before the first write (16 MiB free), and
	 * to 64 MiB once less than 16 MiB is free. */
	assert_int_equal(map_size(f->st), 64 * MIB);
	snprintf(want, sizeof(want), "%s: map grown from %u to %u bytes", f->path, 1 * MIB,
		 32 * MIB);
	assert_true(logged(want));
	check_items(f->st, first, 50);

	cfg.create = false;
	reopen(f, &cfg);
	assert_int_equal(map_size(f->st), 64 * MIB); /* the grown size outranks map_size_init */
	check_items(f->st, first, 50);
}

static void test_map_full_in_txn(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	unsigned char *buf = pattern(400000, 8);
	struct store_txn *t;
	struct store_attr a;
	uint64_t ino, first = 0;
	int rc = 0, i;

	cfg.map_size_init = 1 * MIB;
	cfg.map_room_min = 16 * MIB; /* the growth steps below assume it */
	assert_int_equal(store_open(&cfg, &f->st), 0);
	t = begin(f->st, STORE_TXN_WRITE); /* the map grows to 32 MiB here */
	for (i = 0; i < 200 && rc == 0; i++) {
		assert_int_equal(store_ino_alloc(t, &ino), 0);
		if (!first)
			first = ino;
		assert_int_equal(
		    store_inode_put(t, &(struct store_attr){.ino = ino, .mode = S_IFREG | 0644}),
		    0);
		rc = store_data_put(t, ino, buf, 400000);
	}
	assert_int_equal(rc, -ENOSPC);
	/* 32 MiB hold 84 items of 98 pages; a grown map would hold twice that */
	assert_true(i >= 80 && i <= 84);
	assert_int_equal(store_ino_alloc(t, &ino), -ENOSPC); /* the txn is broken */
	assert_int_equal(store_txn_commit(t), -ENOSPC);

	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_inode_get(t, first, &a), -ENOENT);
	store_txn_abort(t);
	check_items(f->st, write_items(f->st, 5), 5); /* the store is still usable */
	free(buf);
}

/* This process's RssFile (resident pages of mapped files), in bytes. */
static size_t rss_file(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kib = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssFile: %zu kB", &kib) == 1)
			break;
	fclose(f);
	return kib * 1024;
}

/*
 * Pages of the map that reads touched are unmapped from the process once
 * more than map_resident_max of them are resident, at the end of a txn at
 * most once a second; the data stay readable.
 */
static void test_map_pages_unmapped(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	unsigned char *buf = pattern(400000 + 40, 0);
	struct store_txn *t;
	size_t before, read;
	uint64_t first;

	cfg.map_resident_max = 1 * MIB;
	assert_int_equal(store_open(&cfg, &f->st), 0);
	first = write_items(f->st, 40); /* 16 MB */
	before = rss_file();
	t = begin(f->st, STORE_TXN_READ);
	for (int j = 0; j < 40; j++)
		assert_data(t, first + (uint64_t)j, buf + j, 400000);
	read = rss_file(); /* no txn has ended since the reads: nothing unmapped yet */
	store_txn_abort(t);
	assert_true(read >= before + 12 * MIB);
	usleep(300 * 1000); /* past the next look, 0.25 s after the last */
	store_txn_abort(begin(f->st, STORE_TXN_READ));
	assert_true(rss_file() <= before + 2 * MIB);
	check_items(f->st, first, 40); /* mapped again, whole */
	free(buf);
}

static void test_growth_waits_for_readers(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_txn *r, *w;
	char want[256];

	cfg.map_size_init = 1 * MIB;
	cfg.map_room_min = 16 * MIB; /* the growth steps below assume it */
	assert_int_equal(store_open(&cfg, &f->st), 0);
	/* This thread holds a read txn while it begins a write txn: growth
	 * cannot happen now, and must not deadlock. */
	r = begin(f->st, STORE_TXN_READ);
	w = begin(f->st, STORE_TXN_WRITE);
	make_file(w, STORE_ROOT_INO, "f");
	assert_int_equal(store_txn_commit(w), 0);
	assert_int_equal(attr_of(r, STORE_ROOT_INO).nlink, 2);
	store_txn_abort(r); /* the last txn out grows the map */
	snprintf(want, sizeof(want), "%s: map grown from %u to %u bytes", f->path, 1 * MIB,
		 32 * MIB);
	assert_true(logged(want));
	assert_int_equal(map_size(f->st), 32 * MIB);
}

/*
 * In a child process, with no cmocka: opens the store on its own and writes
 * the items write_items() would, one txn each. Returns an exit status.
 */
static int child_write_items(const char *path, int n)
{
	struct store_config cfg = {.path = path, .log = capture_log, .map_size_init = 1 * MIB, .map_room_min = 16 * MIB};
	unsigned char *buf = pattern(400000 + n, 0);
	struct store_txn *t;
	struct store *st;
	int rc = 0;

	if (store_open(&cfg, &st) != 0)
		return 1;
	for (int i = 0; i < n && rc == 0; i++) {
		struct store_attr a = {.mode = S_IFREG | 0644};
		char name[16];

		snprintf(name, sizeof(name), "item%d", i);
		rc = store_txn_begin(st, STORE_TXN_WRITE, &t);
		if (rc)
			break;
		rc = store_ino_alloc(t, &a.ino);
		if (!rc)
			rc = store_inode_put(t, &a);
		if (!rc)
			rc = store_dirent_add(t, STORE_ROOT_INO, name, strlen(name), a.ino);
		if (!rc)
			rc = store_data_put(t, a.ino, buf + i, 400000);
		if (rc)
			store_txn_abort(t);
		else
			rc = store_txn_commit(t);
	}
	store_close(st);
	free(buf);
	return rc ? 2 : 0;
}

static void test_map_resized_by_other_process(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_txn *t;
	int status;
	pid_t pid;

	cfg.map_size_init = 1 * MIB;
	cfg.map_room_min = 16 * MIB; /* the growth steps below assume it */
	assert_int_equal(store_open(&cfg, &f->st), 0);
	t = begin(f->st, STORE_TXN_READ);
	store_txn_abort(t); /* leaves a reset read txn to be renewed */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_write_items(f->path, 50));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* The data now lies past this process's 1 MiB map: LMDB answers
	 * MDB_MAP_RESIZED and the store adopts the other process's size. */
	check_items(f->st, 2, 50);
	assert_int_equal(map_size(f->st), 64 * MIB);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(t, make_file(t, STORE_ROOT_INO, "after"), "x", 1), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

struct reader {
	struct store *st;
	atomic_bool stop;
	int rounds;
};

static void *read_loop(void *arg)
{
	struct reader *rd = arg;
	struct store_attr a;
	struct store_txn *t;

	while (!atomic_load(&rd->stop)) {
		if (store_txn_begin(rd->st, STORE_TXN_READ, &t) != 0)
			return (void *)1;
		if (store_inode_get(t, STORE_ROOT_INO, &a) != 0 || a.nlink != 2) {
			store_txn_abort(t);
			return (void *)2;
		}
		store_txn_abort(t);
		rd->rounds++;
	}
	return NULL;
}

static void test_growth_with_concurrent_readers(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct reader rd[4];
	pthread_t th[4];
	void *res;
	uint64_t first;

	cfg.map_size_init = 1 * MIB;
	cfg.map_room_min = 16 * MIB; /* the growth steps below assume it */
	assert_int_equal(store_open(&cfg, &f->st), 0);
	for (int i = 0; i < 4; i++) {
		rd[i] = (struct reader){.st = f->st, .rounds = 0};
		atomic_init(&rd[i].stop, false);
		assert_int_equal(pthread_create(&th[i], NULL, read_loop, &rd[i]), 0);
	}
	first = write_items(f->st, 50);
	for (int i = 0; i < 4; i++) {
		atomic_store(&rd[i].stop, true);
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_null(res);
		assert_true(rd[i].rounds > 0);
	}
	assert_true(map_size(f->st) >= 64 * MIB);
	check_items(f->st, first, 50);
}

/* ---- nested transactions ---------------------------------------------- */

static struct store_txn *begin_nested(struct store_txn *parent)
{
	struct store_txn *t = NULL;

	assert_int_equal(store_txn_begin_nested(parent, &t), 0);
	assert_non_null(t);
	return t;
}

/* Every field of two attribute records is equal. */
static void assert_attr_equal(const struct store_attr *a, const struct store_attr *b)
{
	assert_int_equal(a->ino, b->ino);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->nlink, b->nlink);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->parent, b->parent);
	assert_int_equal(a->keylen, b->keylen);
	assert_int_equal(a->xattr_bytes, b->xattr_bytes);
	assert_int_equal(a->version, b->version);
	assert_int_equal(ts_cmp(a->atime, b->atime), 0);
	assert_int_equal(ts_cmp(a->mtime, b->mtime), 0);
	assert_int_equal(ts_cmp(a->ctime, b->ctime), 0);
}

static void test_nested_commit_merges(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_txn *p, *c;
	uint64_t mine, child, ino;

	p = begin(f->st, STORE_TXN_WRITE);
	mine = make_file(p, STORE_ROOT_INO, "parent");
	assert_int_equal(store_data_put(p, mine, "from parent", 11), 0);

	c = begin_nested(p);
	/* the child sees what the parent wrote before it began */
	assert_int_equal(store_dirent_get(c, STORE_ROOT_INO, "parent", 6, &ino), 0);
	assert_int_equal(ino, mine);
	assert_data(c, mine, "from parent", 11);
	child = make_file(c, STORE_ROOT_INO, "child");
	assert_int_equal(store_data_put(c, child, "from child", 10), 0);
	assert_int_equal(store_xattr_set(c, mine, "user.k", "v", 1, 0), 0);
	assert_int_equal(store_txn_commit(c), 0);

	/* merged into the parent, which goes on */
	assert_int_equal(store_dirent_get(p, STORE_ROOT_INO, "child", 5, &ino), 0);
	assert_int_equal(ino, child);
	assert_data(p, child, "from child", 10);
	assert_int_equal(attr_of(p, mine).xattr_bytes, 7);
	assert_int_equal(attr_of(p, STORE_ROOT_INO).nlink, 2);
	assert_int_equal(store_txn_commit(p), 0);

	cfg.create = false;
	reopen(f, &cfg);
	p = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(p, STORE_ROOT_INO, "child", 5, &ino), 0);
	assert_int_equal(ino, child);
	assert_data(p, child, "from child", 10);
	assert_data(p, mine, "from parent", 11);
	assert_int_equal(attr_of(p, mine).xattr_bytes, 7);
	assert_int_equal(attr_of(p, child).nlink, 1);
	assert_int_equal(store_txn_commit(p), 0);
}

static void test_nested_abort_restores(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_attr root, mine_a, a;
	struct store_txn *p, *c;
	uint64_t mine, child, again, ino;

	p = begin(f->st, STORE_TXN_WRITE);
	mine = make_file(p, STORE_ROOT_INO, "parent");
	assert_int_equal(store_data_put(p, mine, "kept", 4), 0);
	root = attr_of(p, STORE_ROOT_INO);
	mine_a = attr_of(p, mine);

	c = begin_nested(p);
	child = make_file(c, STORE_ROOT_INO, "child"); /* ino_alloc + inode_put + dirent_add */
	assert_int_equal(store_data_put(c, child, "gone", 4), 0);
	assert_int_equal(store_data_put(c, mine, "overwritten", 11), 0);
	assert_int_equal(store_dirent_add(c, STORE_ROOT_INO, "second", 6, mine), 0);
	assert_int_equal(store_xattr_set(c, mine, "user.k", "v", 1, 0), 0);
	assert_int_equal(
	    store_inode_put(c, &(struct store_attr){.ino = STORE_ROOT_INO, .mode = S_IFDIR | 0700}),
	    0);
	store_txn_abort(c);

	/* the parent is exactly as it was before the child began */
	assert_int_equal(store_dirent_get(p, STORE_ROOT_INO, "child", 5, &ino), -ENOENT);
	assert_int_equal(store_dirent_get(p, STORE_ROOT_INO, "second", 6, &ino), -ENOENT);
	assert_int_equal(store_inode_get(p, child, &a), -ENOENT);
	assert_data(p, mine, "kept", 4);
	a = attr_of(p, STORE_ROOT_INO);
	assert_attr_equal(&a, &root);
	a = attr_of(p, mine);
	assert_attr_equal(&a, &mine_a);
	assert_int_equal(store_xattr_get(p, mine, "user.k", NULL, 0, &(size_t){0}), -ENODATA);
	/* the inode number the child took was never used: it comes back */
	assert_int_equal(store_ino_alloc(p, &again), 0);
	assert_int_equal(again, child);
	assert_int_equal(store_txn_commit(p), 0);

	cfg.create = false;
	reopen(f, &cfg);
	p = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(p, STORE_ROOT_INO, "parent", 6, &ino), 0);
	assert_int_equal(ino, mine);
	assert_data(p, mine, "kept", 4);
	assert_int_equal(attr_of(p, mine).nlink, 1);
	assert_int_equal(store_dirent_get(p, STORE_ROOT_INO, "child", 5, &ino), -ENOENT);
	assert_int_equal(store_inode_get(p, child, &a), -ENOENT);
	assert_int_equal(attr_of(p, STORE_ROOT_INO).mode, S_IFDIR | 0755);
	assert_int_equal(store_txn_commit(p), 0);
}

/*
 * A write txn reads each inode as it last wrote it, through nested txns that
 * commit and abort, over more inodes than it keeps decoded at once, and
 * what it read before committing is what a new txn reads after.
 */
static void test_inode_reads_in_one_txn(void **state)
{
	struct fx *f = *state;
	enum { N = 20 };
	struct store_attr want[N], seen[N], a;
	struct store_txn *p, *c;
	uint64_t ino[N];
	char name[8];

	p = begin(f->st, STORE_TXN_WRITE);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		ino[i] = make_file(p, STORE_ROOT_INO, name);
		want[i] = attr_of(p, ino[i]);
	}
	for (int round = 1; round <= 3; round++) {
		for (int i = 0; i < N; i++) {
			c = begin_nested(p);
			a = attr_of(c, ino[i]);
			assert_attr_equal(&a, &want[i]);
			a.mode = S_IFREG | (0600 + (unsigned)(round * 8 + i % 8));
			a.mtime = (struct timespec){1700000000 + round, 1000 * i + 7};
			assert_int_equal(store_inode_put(c, &a), 0);
			seen[i] = attr_of(c, ino[i]);
			assert_int_equal(seen[i].mode, a.mode);
			assert_int_equal(ts_cmp(seen[i].mtime, a.mtime), 0);
			if ((i + round) % 3 == 0) {
				store_txn_abort(c);
			} else {
				assert_int_equal(store_txn_commit(c), 0);
				want[i] = seen[i];
			}
			a = attr_of(p, ino[i]);
			assert_attr_equal(&a, &want[i]);
		}
		for (int i = N - 1; i >= 0; i--) { /* the latest first */
			a = attr_of(p, ino[i]);
			assert_attr_equal(&a, &want[i]);
		}
	}
	assert_int_equal(store_dirent_remove(p, STORE_ROOT_INO, "f19", 3, NULL), 0);
	assert_int_equal(store_inode_free(p, ino[N - 1]), 0);
	assert_int_equal(store_inode_get(p, ino[N - 1], &a), -ENOENT);
	assert_int_equal(store_txn_commit(p), 0);

	p = begin(f->st, STORE_TXN_READ);
	for (int i = 0; i < N - 1; i++) {
		a = attr_of(p, ino[i]);
		assert_attr_equal(&a, &want[i]);
	}
	assert_int_equal(store_inode_get(p, ino[N - 1], &a), -ENOENT);
	assert_int_equal(store_txn_commit(p), 0);
}

static void test_nested_failure_then_abort(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	unsigned char *big = pattern(STORE_ITEM_MAX + 1, 9);
	struct store_txn *p, *c;
	uint64_t mine;

	p = begin(f->st, STORE_TXN_WRITE);
	mine = make_file(p, STORE_ROOT_INO, "item");
	c = begin_nested(p);
	assert_int_equal(store_data_put(c, mine, "small", 5), 0);
	assert_int_equal(store_data_put(c, mine, big, STORE_ITEM_MAX), -EFBIG);
	store_txn_abort(c);
	assert_data(p, mine, NULL, 0);
	assert_int_equal(store_data_put(p, mine, "after", 5), 0);
	assert_int_equal(store_txn_commit(p), 0);

	cfg.create = false;
	reopen(f, &cfg);
	p = begin(f->st, STORE_TXN_READ);
	assert_data(p, mine, "after", 5);
	assert_int_equal(attr_of(p, mine).version, 2);
	assert_int_equal(store_txn_commit(p), 0);
	free(big);
}

/*
 * Many children of one write txn, as a group commit makes them: the LMDB
 * backend nests them in stages that it commits into the txn as it goes
 * (lmdb_env.c). Across several stages, the txn and each new child see
 * every committed child and no aborted one, an aborted child leaves the
 * txn as it was, and the commit keeps exactly the committed children; an
 * aborted txn keeps none of its children, committed or not.
 */
#define MANY_CHILDREN 600

/* Child i's item data, into buf; returns its length. */
static size_t child_data(char *buf, size_t size, int i)
{
	return (size_t)snprintf(buf, size, "data %d", i);
}

static void many_children(struct store_txn *p, const char *prefix, uint64_t *inos)
{
	char name[32], data[32];
	uint64_t ino;

	for (int i = 0; i < MANY_CHILDREN; i++) {
		struct store_txn *c = begin_nested(p);
		int len = snprintf(name, sizeof(name), "%s%d", prefix, i);

		inos[i] = make_file(c, STORE_ROOT_INO, name);
		assert_int_equal(
		    store_data_put(c, inos[i], data, child_data(data, sizeof(data), i)), 0);
		if (i % 7 == 3) {
			store_txn_abort(c);
			assert_int_equal(store_dirent_get(p, STORE_ROOT_INO, name, len, &ino),
					 -ENOENT);
		} else {
			assert_int_equal(store_txn_commit(c), 0);
			assert_int_equal(store_dirent_get(p, STORE_ROOT_INO, name, len, &ino), 0);
			assert_int_equal(ino, inos[i]);
		}
		if (i > 0 && (i - 1) % 7 != 3) { /* the one before, committed */
			size_t n = child_data(data, sizeof(data), i - 1);

			assert_data(p, inos[i - 1], data, n);
		}
	}
}

static void assert_children(struct store_txn *t, const char *prefix, const uint64_t *inos,
			    bool kept)
{
	char name[32], data[32];
	uint64_t ino;

	for (int i = 0; i < MANY_CHILDREN; i++) {
		int len = snprintf(name, sizeof(name), "%s%d", prefix, i);
		int want = kept && i % 7 != 3 ? 0 : -ENOENT;

		assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, name, len, &ino), want);
		if (want == 0) {
			size_t n = child_data(data, sizeof(data), i);

			assert_int_equal(ino, inos[i]);
			assert_data(t, ino, data, n);
		}
	}
}

static void test_nested_many_children(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	uint64_t kept[MANY_CHILDREN], dropped[MANY_CHILDREN];
	struct store_txn *p;
	size_t n = 0;

	p = begin(f->st, STORE_TXN_WRITE);
	many_children(p, "k", kept);
	assert_children(p, "k", kept, true);
	assert_int_equal(store_txn_commit(p), 0);

	p = begin(f->st, STORE_TXN_WRITE);
	many_children(p, "d", dropped);
	assert_children(p, "d", dropped, true);
	store_txn_abort(p);

	cfg.create = false;
	reopen(f, &cfg);
	p = begin(f->st, STORE_TXN_READ);
	assert_children(p, "k", kept, true);
	assert_children(p, "d", dropped, false);
	for (int i = 0; i < MANY_CHILDREN; i++)
		n += i % 7 != 3;
	assert_int_equal(store_dir_is_empty(p, STORE_ROOT_INO), 0);
	store_txn_abort(p);
	assert_true(n > 2 * 128); /* more children than two stages hold */
}

/*
 * A parent read while its child was live (store.h forbids it; LMDB's own
 * nested txns refused it) saw the child's writes: the child's undo makes
 * the parent read again, so it sees the record as it is.
 */
static void test_nested_abort_forgets_parent_reads(void **state)
{
	struct fx *f = *state;
	struct store_txn *p, *c;
	struct store_attr a;
	uint64_t ino;

	p = begin(f->st, STORE_TXN_WRITE);
	ino = make_file(p, STORE_ROOT_INO, "item");
	assert_int_equal(store_txn_commit(p), 0);
	p = begin(f->st, STORE_TXN_WRITE);
	c = begin_nested(p);
	a = attr_of(c, ino);
	a.mode = S_IFREG | 0600;
	assert_int_equal(store_inode_put(c, &a), 0);
	assert_int_equal(attr_of(p, ino).mode, S_IFREG | 0600);
	store_txn_abort(c);
	assert_int_equal(attr_of(p, ino).mode, S_IFREG | 0644);
	assert_int_equal(store_txn_commit(p), 0);
}

static void test_nested_on_read_txn(void **state)
{
	struct fx *f = *state;
	struct store_txn *r, *c = NULL;

	r = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_txn_begin_nested(r, &c), -EINVAL);
	assert_null(c);
	assert_int_equal(attr_of(r, STORE_ROOT_INO).nlink, 2); /* r is still usable */
	assert_int_equal(store_txn_commit(r), 0);
}

/* ---- the change log ---------------------------------------------------- */

#define CHG_MAX 32

/* What store_changes() delivered: the first CHG_MAX records, names copied. */
struct changes {
	int n;	     /* records delivered (may exceed CHG_MAX) */
	int stop_at; /* when n reaches it, the callback returns 7 (0: never) */
	uint64_t first_seq, last_seq;
	bool in_order; /* every seq was the one before + 1 */
	struct store_change c[CHG_MAX];
	char name[CHG_MAX][STORE_NAME_MAX + 1];
};

static int collect_change(void *arg, const struct store_change *c)
{
	struct changes *cs = arg;

	if (cs->n == 0) {
		cs->first_seq = c->seq;
		cs->in_order = true;
	} else if (c->seq != cs->last_seq + 1) {
		cs->in_order = false;
	}
	cs->last_seq = c->seq;
	if (cs->n < CHG_MAX) {
		cs->c[cs->n] = *c;
		memcpy(cs->name[cs->n], c->name ? c->name : "", c->namelen);
		cs->name[cs->n][c->namelen] = '\0';
		cs->c[cs->n].name = NULL; /* valid only during the call */
	}
	cs->n++;
	return cs->stop_at && cs->n == cs->stop_at ? 7 : 0;
}

/* store_changes(after) in a read txn of its own; *cs is what it delivered. */
static int read_changes(struct store *st, uint64_t after, struct changes *cs)
{
	struct store_txn *t = begin(st, STORE_TXN_READ);
	int rc;

	memset(cs, 0, sizeof(*cs));
	rc = store_changes(t, after, collect_change, cs);
	assert_int_equal(store_txn_commit(t), 0);
	return rc;
}

static uint64_t change_last(struct store *st)
{
	struct store_txn *t = begin(st, STORE_TXN_READ);
	uint64_t seq = UINT64_MAX;

	assert_int_equal(store_change_last(t, &seq), 0);
	assert_int_equal(store_txn_commit(t), 0);
	return seq;
}

static void assert_change(const struct changes *cs, int i, uint64_t seq, uint64_t origin,
			  enum store_change_kind kind, uint64_t ino, uint64_t parent,
			  const char *name)
{
	assert_true(i < cs->n && i < CHG_MAX);
	assert_int_equal(cs->c[i].seq, seq);
	assert_int_equal(cs->c[i].origin, origin);
	assert_int_equal(cs->c[i].kind, kind);
	assert_int_equal(cs->c[i].ino, ino);
	assert_int_equal(cs->c[i].parent, parent);
	assert_int_equal(cs->c[i].namelen, name ? strlen(name) : 0);
	assert_string_equal(cs->name[i], name ? name : "");
}

/* The log's last record, which must be seq with these fields. */
static void assert_last_change(struct store *st, uint64_t seq, enum store_change_kind kind,
			       uint64_t ino, uint64_t parent, const char *name)
{
	struct changes cs;

	assert_int_equal(change_last(st), seq);
	assert_int_equal(read_changes(st, seq - 1, &cs), 0);
	assert_int_equal(cs.n, 1);
	assert_change(&cs, 0, seq, store_origin(st), kind, ino, parent, name);
}

/* Each mutating operation, in a txn of its own, appends its one record. */
static void test_changes_each_op(void **state)
{
	struct fx *f = *state;
	struct store_attr a = {.mode = S_IFREG | 0644, .uid = 1000, .gid = 1000};
	struct store_buf b;
	struct store_txn *t;
	struct changes cs;
	uint64_t ino, seq = UINT64_MAX;
	size_t len;
	char buf[64];

	assert_int_not_equal(store_origin(f->st), 0);
	t = begin(f->st, STORE_TXN_READ); /* a new store's log is empty */
	assert_int_equal(store_change_last(t, &seq), 0);
	assert_int_equal(seq, 0);
	memset(&cs, 0, sizeof(cs));
	assert_int_equal(store_changes(t, 0, collect_change, &cs), 0);
	assert_int_equal(cs.n, 0);
	assert_int_equal(store_change_last(t, NULL), -EINVAL);
	assert_int_equal(store_changes(t, 0, NULL, NULL), -EINVAL);
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &a.ino), 0); /* no record */
	assert_int_equal(store_inode_put(t, &a), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_last_change(f->st, 1, STORE_CHANGE_INODE, a.ino, 0, NULL);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "file", 4, a.ino), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_last_change(f->st, 2, STORE_CHANGE_ENTRY, a.ino, STORE_ROOT_INO, "file");

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(t, a.ino, "abc", 3), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_last_change(f->st, 3, STORE_CHANGE_INODE, a.ino, 0, NULL);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_xattr_set(t, a.ino, "user.k", "v", 1, 0), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_last_change(f->st, 4, STORE_CHANGE_INODE, a.ino, 0, NULL);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_xattr_remove(t, a.ino, "user.k"), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_last_change(f->st, 5, STORE_CHANGE_INODE, a.ino, 0, NULL);

	t = begin(f->st, STORE_TXN_WRITE);
	a.mode = S_IFREG | 0600;
	assert_int_equal(store_inode_put(t, &a), 0); /* an existing inode */
	assert_int_equal(store_txn_commit(t), 0);
	assert_last_change(f->st, 6, STORE_CHANGE_INODE, a.ino, 0, NULL);

	/* reads, and operations that refuse, write nothing */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "file", 4, &ino), 0);
	assert_int_equal(store_data_get(t, a.ino, &b), 0);
	free(b.data);
	assert_int_equal(store_xattr_list(t, a.ino, buf, sizeof(buf), &len), 0);
	assert_int_equal(store_xattr_get(t, a.ino, "user.k", buf, sizeof(buf), &len), -ENODATA);
	assert_int_equal(store_dir_list(t, STORE_ROOT_INO, collect, &(struct listing){0}), 0);
	assert_int_equal(store_dirent_add(t, STORE_ROOT_INO, "file", 4, a.ino), -EEXIST);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "none", 4, &ino), -ENOENT);
	assert_int_equal(store_xattr_remove(t, a.ino, "user.none"), -ENODATA);
	assert_int_equal(store_xattr_set(t, a.ino, "user.k", "v", 1, XATTR_REPLACE), -ENODATA);
	assert_int_equal(store_inode_free(t, STORE_ROOT_INO), -ENOTEMPTY);
	assert_int_equal(store_data_put(t, 999, "x", 1), -ENOENT);
	assert_int_equal(store_change_last(t, &seq), 0);
	assert_int_equal(seq, 6);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(change_last(f->st), 6);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "file", 4, &ino), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_last_change(f->st, 7, STORE_CHANGE_ENTRY, a.ino, STORE_ROOT_INO, "file");

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_inode_free(t, a.ino), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_last_change(f->st, 8, STORE_CHANGE_INODE, a.ino, 0, NULL);

	/* the whole log, in order; a callback that stops it */
	assert_int_equal(read_changes(f->st, 0, &cs), 0);
	assert_int_equal(cs.n, 8);
	assert_true(cs.in_order);
	assert_change(&cs, 1, 2, store_origin(f->st), STORE_CHANGE_ENTRY, a.ino, 1, "file");
	memset(&cs, 0, sizeof(cs));
	cs.stop_at = 2;
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_changes(t, 3, collect_change, &cs), 7);
	assert_int_equal(cs.n, 2);
	assert_int_equal(cs.first_seq, 4);
	assert_int_equal(store_txn_commit(t), 0);
}

/* Records are numbered on across commits, txns and reopens; a write txn sees its own. */
static void test_changes_seq_across_commits(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_txn *t;
	struct changes cs;
	uint64_t seq, origin = store_origin(f->st);

	for (int i = 0; i < 5; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%d", i);
		t = begin(f->st, STORE_TXN_WRITE);
		make_file(t, STORE_ROOT_INO, name); /* INODE, ENTRY */
		assert_int_equal(store_change_last(t, &seq), 0);
		assert_int_equal(seq, 2 * (uint64_t)i + 2);
		assert_int_equal(store_txn_commit(t), 0);
		assert_int_equal(change_last(f->st), 2 * (uint64_t)i + 2);
	}
	cfg.create = false;
	reopen(f, &cfg);
	assert_int_not_equal(store_origin(f->st), origin); /* another open */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(t, 2, "x", 1), 0);
	assert_int_equal(store_txn_commit(t), 0);

	assert_int_equal(read_changes(f->st, 0, &cs), 0);
	assert_int_equal(cs.n, 11);
	assert_true(cs.in_order);
	assert_int_equal(cs.first_seq, 1);
	assert_change(&cs, 0, 1, origin, STORE_CHANGE_INODE, 2, 0, NULL);
	assert_change(&cs, 9, 10, origin, STORE_CHANGE_ENTRY, 6, 1, "f4");
	assert_change(&cs, 10, 11, store_origin(f->st), STORE_CHANGE_INODE, 2, 0, NULL);
	assert_int_equal(read_changes(f->st, 11, &cs), 0); /* up to date */
	assert_int_equal(cs.n, 0);
	assert_int_equal(read_changes(f->st, 12, &cs), -ESTALE); /* a log older than the caller */
	assert_int_equal(cs.n, 0);
}

/*
 * A txn coalesces only a repeat of its own last record. A nested txn's first
 * record is never merged into its parent's (the mount reads the log between
 * the requests of one batch); a parent's repeat of its committed child's is.
 */
static void test_changes_coalesce(void **state)
{
	struct fx *f = *state;
	uint64_t o = store_origin(f->st), a, b;
	struct store_txn *p, *c;
	struct changes cs;

	p = begin(f->st, STORE_TXN_WRITE);
	a = make_file(p, STORE_ROOT_INO, "a"); /* 1 INODE a, 2 ENTRY a */
	b = make_file(p, STORE_ROOT_INO, "b"); /* 3 INODE b, 4 ENTRY b */
	assert_int_equal(store_txn_commit(p), 0);

	/* a write, then its times: one record */
	p = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(p, a, "x", 1), 0); /* 5 */
	assert_int_equal(store_inode_put(p, &(struct store_attr){.ino = a, .mode = S_IFREG | 0600}),
			 0);
	assert_int_equal(store_txn_commit(p), 0);
	/* another txn's repeat of the last record is a record of its own */
	p = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(p, a, "y", 1), 0); /* 6 */

	c = begin_nested(p);
	assert_int_equal(store_data_put(c, a, "z", 1), 0); /* 7: not merged into 6 */
	assert_int_equal(store_data_put(c, a, "z", 1), 0); /* a repeat within the child */
	assert_int_equal(store_data_put(c, b, "z", 1), 0); /* 8 */
	assert_int_equal(store_txn_commit(c), 0);
	assert_int_equal(store_data_put(p, b, "w", 1), 0); /* a repeat of its child's 8 */

	/* an aborted child's records are gone: the parent's last is 8 again */
	c = begin_nested(p);
	assert_int_equal(store_dirent_remove(c, STORE_ROOT_INO, "a", 1, NULL), 0);
	assert_int_equal(store_data_put(c, a, "v", 1), 0);
	store_txn_abort(c);
	assert_int_equal(store_data_put(p, a, "u", 1), 0); /* 9: the child's INODE a is gone */
	assert_int_equal(store_data_put(p, b, "t", 1), 0); /* 10 */
	assert_int_equal(store_dirent_add(p, b, "x", 1, a), -ENOTDIR); /* refused: no record */
	assert_int_equal(store_data_put(p, b, "s", 1), 0);	       /* still a repeat of 10 */
	assert_int_equal(store_txn_commit(p), 0);

	assert_int_equal(read_changes(f->st, 4, &cs), 0);
	assert_int_equal(cs.n, 6);
	assert_true(cs.in_order);
	assert_change(&cs, 0, 5, o, STORE_CHANGE_INODE, a, 0, NULL);
	assert_change(&cs, 1, 6, o, STORE_CHANGE_INODE, a, 0, NULL);
	assert_change(&cs, 2, 7, o, STORE_CHANGE_INODE, a, 0, NULL);
	assert_change(&cs, 3, 8, o, STORE_CHANGE_INODE, b, 0, NULL);
	assert_change(&cs, 4, 9, o, STORE_CHANGE_INODE, a, 0, NULL);
	assert_change(&cs, 5, 10, o, STORE_CHANGE_INODE, b, 0, NULL);
}

/* Aborted txns and aborted nested txns leave no record, and no gap. */
static void test_changes_abort_leaves_none(void **state)
{
	struct fx *f = *state;
	uint64_t o = store_origin(f->st), kept, seq;
	struct store_txn *p, *c;
	struct changes cs;

	p = begin(f->st, STORE_TXN_WRITE);
	kept = make_file(p, STORE_ROOT_INO, "kept"); /* 1, 2 */
	assert_int_equal(store_txn_commit(p), 0);

	p = begin(f->st, STORE_TXN_WRITE);
	make_file(p, STORE_ROOT_INO, "gone");
	assert_int_equal(store_data_put(p, kept, "x", 1), 0);
	store_txn_abort(p);
	assert_int_equal(change_last(f->st), 2);

	/* a child's records go with it; the parent's stay */
	p = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(p, kept, "p", 1), 0); /* 3 */
	c = begin_nested(p);
	make_file(c, STORE_ROOT_INO, "child");
	assert_int_equal(store_xattr_set(c, kept, "user.k", "v", 1, 0), 0);
	assert_int_equal(store_change_last(c, &seq), 0);
	assert_int_equal(seq, 6);
	store_txn_abort(c);
	assert_int_equal(store_change_last(p, &seq), 0);
	assert_int_equal(seq, 3);
	assert_int_equal(store_dirent_add(p, STORE_ROOT_INO, "link", 4, kept), 0); /* 4 */
	assert_int_equal(store_txn_commit(p), 0);

	/* a committed child inside a parent that aborts */
	p = begin(f->st, STORE_TXN_WRITE);
	c = begin_nested(p);
	assert_int_equal(store_data_put(c, kept, "c", 1), 0);
	assert_int_equal(store_txn_commit(c), 0);
	store_txn_abort(p);

	assert_int_equal(read_changes(f->st, 0, &cs), 0);
	assert_int_equal(cs.n, 4);
	assert_true(cs.in_order);
	assert_change(&cs, 2, 3, o, STORE_CHANGE_INODE, kept, 0, NULL);
	assert_change(&cs, 3, 4, o, STORE_CHANGE_ENTRY, kept, STORE_ROOT_INO, "link");
}

/*
 * In a child process, with no cmocka: opens the store, writes data to ino
 * in one txn, and sends its origin through fd. Returns an exit status.
 */
static int child_write_change(const char *path, uint64_t ino, int fd)
{
	struct store_config cfg = {.path = path, .log = capture_log};
	struct store_txn *t;
	struct store *st;
	uint64_t origin;
	int rc;

	if (store_open(&cfg, &st) != 0)
		return 1;
	origin = store_origin(st);
	rc = store_txn_begin(st, STORE_TXN_WRITE, &t);
	if (!rc) {
		rc = store_data_put(t, ino, "child", 5);
		if (rc)
			store_txn_abort(t);
		else
			rc = store_txn_commit(t);
	}
	store_close(st);
	if (rc)
		return 2;
	return write(fd, &origin, sizeof(origin)) == sizeof(origin) ? 0 : 3;
}

/* Each record carries its writer's origin; the generation follows commits anywhere. */
static void test_changes_origin_and_generation(void **state)
{
	struct fx *f = *state;
	uint64_t mine = store_origin(f->st), theirs = 0, gen, ino;
	struct store_txn *t;
	struct changes cs;
	int fds[2], status;
	pid_t pid;

	gen = store_generation(f->st);
	t = begin(f->st, STORE_TXN_WRITE);
	ino = make_file(t, STORE_ROOT_INO, "f"); /* 1, 2 */
	assert_int_equal(store_txn_commit(t), 0);
	assert_true(store_generation(f->st) > gen);
	gen = store_generation(f->st);

	/* reading, and a write txn that ends without writing, change nothing */
	assert_int_equal(read_changes(f->st, 0, &cs), 0);
	t = begin(f->st, STORE_TXN_WRITE);
	store_txn_abort(t);
	assert_int_equal(store_generation(f->st), gen);
	assert_int_equal(store_generation(f->st), gen);

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_write_change(f->path, ino, fds[1]));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read(fds[0], &theirs, sizeof(theirs)), sizeof(theirs));
	close(fds[0]);
	close(fds[1]);

	/* no txn of this process ran since: the generation saw the other's commit */
	assert_true(store_generation(f->st) > gen);
	assert_int_not_equal(theirs, 0);
	assert_int_not_equal(theirs, mine);
	assert_int_equal(read_changes(f->st, 0, &cs), 0);
	assert_int_equal(cs.n, 3);
	assert_change(&cs, 0, 1, mine, STORE_CHANGE_INODE, ino, 0, NULL);
	assert_change(&cs, 1, 2, mine, STORE_CHANGE_ENTRY, ino, STORE_ROOT_INO, "f");
	assert_change(&cs, 2, 3, theirs, STORE_CHANGE_INODE, ino, 0, NULL);
}

/* Appends n records in txns of 20,000, alternating two inodes so none coalesce. */
static void append_records(struct store *st, uint64_t a, uint64_t b, uint64_t n)
{
	struct store_attr at = {.mode = S_IFREG | 0644};
	struct store_txn *t = NULL;

	for (uint64_t i = 0; i < n; i++) {
		if (i % 20000 == 0) {
			if (t)
				assert_int_equal(store_txn_commit(t), 0);
			t = begin(st, STORE_TXN_WRITE);
		}
		at.ino = i % 2 ? b : a;
		assert_int_equal(store_inode_put(t, &at), 0);
	}
	assert_int_equal(store_txn_commit(t), 0);
}

/* The log keeps its last STORE_CHANGES_KEEP records; a caller that fell behind is told. */
static void test_changes_trim(void **state)
{
	struct fx *f = *state;
	/* trims at 66560 (seq <= 1024 go) and 67584 (seq <= 2048 go) */
	const uint64_t n = STORE_CHANGES_KEEP + 2048 + 100, first = 2049;
	uint64_t a, b, key_first = 0;
	unsigned char key[8];
	struct store_txn *t;
	struct changes cs;
	struct raw r;
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_stat ms;

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_ino_alloc(t, &a), 0);
	assert_int_equal(store_ino_alloc(t, &b), 0);
	assert_int_equal(store_txn_commit(t), 0);
	append_records(f->st, a, b, n);
	assert_int_equal(change_last(f->st), n);

	assert_int_equal(read_changes(f->st, 0, &cs), -ESTALE);
	assert_int_equal(cs.n, 0);
	assert_int_equal(read_changes(f->st, first - 2, &cs), -ESTALE);
	assert_int_equal(cs.n, 0);
	assert_int_equal(read_changes(f->st, first - 1, &cs), 0); /* nothing missed */
	assert_int_equal(cs.n, n - first + 1);
	assert_true(cs.in_order);
	assert_int_equal(cs.first_seq, first);
	assert_int_equal(cs.last_seq, n);
	assert_int_equal(read_changes(f->st, n - 10, &cs), 0);
	assert_int_equal(cs.n, 10);
	assert_true(cs.in_order);
	for (int i = 0; i < 10; i++) /* seq s was written for inode a when s is odd */
		assert_change(&cs, i, n - 9 + i, store_origin(f->st), STORE_CHANGE_INODE,
			      (n - 9 + i) % 2 ? a : b, 0, NULL);
	assert_true(n - first + 1 >= STORE_CHANGES_KEEP);

	/*
	 * The same answers from a write txn: before it appends (the log's tail
	 * read by a descent) and after (the tail it knows).
	 */
	t = begin(f->st, STORE_TXN_WRITE);
	for (int i = 0; i < 2; i++) {
		struct store_attr at = {.ino = a, .mode = S_IFREG | 0600};
		uint64_t seq = 0, last = n + (uint64_t)i;

		memset(&cs, 0, sizeof(cs));
		assert_int_equal(store_changes(t, first - 2, collect_change, &cs), -ESTALE);
		assert_int_equal(cs.n, 0);
		assert_int_equal(store_changes(t, n - 1, collect_change, &cs), 0);
		assert_int_equal(cs.n, 1 + i);
		assert_true(cs.in_order);
		assert_int_equal(cs.last_seq, last);
		memset(&cs, 0, sizeof(cs));
		assert_int_equal(store_changes(t, last, collect_change, &cs), 0);
		assert_int_equal(cs.n, 0);
		assert_int_equal(store_changes(t, last + 1, collect_change, &cs), -ESTALE);
		assert_int_equal(store_change_last(t, &seq), 0);
		assert_int_equal(seq, last);
		if (i == 0) /* record n + 1 */
			assert_int_equal(store_inode_put(t, &at), 0);
	}
	store_txn_abort(t);

	/* what is on disk: exactly the records first..n */
	store_close(f->st);
	f->st = NULL;
	raw_open(&r, f->path, false);
	assert_int_equal(mdb_stat(r.txn, raw_dbi(&r, "changes", 0), &ms), 0);
	assert_int_equal(ms.ms_entries, n - first + 1);
	assert_int_equal(mdb_cursor_open(r.txn, raw_dbi(&r, "changes", 0), &cur), 0);
	assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
	assert_int_equal(k.mv_size, 8);
	for (int i = 0; i < 8; i++)
		key_first = key_first << 8 | ((unsigned char *)k.mv_data)[i];
	assert_int_equal(key_first, first);
	mdb_cursor_close(cur);
	raw_close(&r);
	put_be64(key, first - 1);
	assert_int_equal(raw_get(f->path, "changes", key, 8, (unsigned char[64]){0}, 64),
			 (size_t)-1);
}

/* The record layout of docs/store-format.md, byte by byte. */
static void test_change_format_bytes(void **state)
{
	struct fx *f = *state;
	uint64_t origin = store_origin(f->st), ino;
	unsigned char want[64], got[64], key[8];
	struct store_txn *t;

	t = begin(f->st, STORE_TXN_WRITE);
	ino = make_file(t, STORE_ROOT_INO, "f.txt"); /* 1 INODE, 2 ENTRY */
	assert_int_equal(store_txn_commit(t), 0);
	store_close(f->st);
	f->st = NULL;

	/* be64 seq -> version 1, kind, le64 origin, ino, parent, then the name */
	memset(want, 0, sizeof(want));
	want[0] = 1;
	want[1] = STORE_CHANGE_INODE;
	put_le(want + 2, origin, 8);
	put_le(want + 10, ino, 8);
	put_be64(key, 1);
	assert_int_equal(raw_get(f->path, "changes", key, 8, got, sizeof(got)), 26);
	assert_memory_equal(got, want, 26);

	want[1] = STORE_CHANGE_ENTRY;
	put_le(want + 18, STORE_ROOT_INO, 8);
	memcpy(want + 26, "f.txt", 5);
	put_be64(key, 2);
	assert_int_equal(raw_get(f->path, "changes", key, 8, got, sizeof(got)), 31);
	assert_memory_equal(got, want, 31);
}

/*
 * A store made before the change log: read-only, it reads as an empty log;
 * opened read-write, it gets one, numbered from 1.
 */
static void test_changes_store_without_log(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_txn *t;
	struct changes cs;
	struct raw r;
	char want[256];
	MDB_dbi dbi;
	uint64_t ino;

	t = begin(f->st, STORE_TXN_WRITE);
	ino = make_file(t, STORE_ROOT_INO, "f");
	assert_int_equal(store_txn_commit(t), 0);
	cfg.create = false;
	cfg.read_only = true;
	reopen(f, &cfg); /* read-only, with a log: it reads it */
	assert_int_equal(change_last(f->st), 2);
	assert_int_equal(read_changes(f->st, 0, &cs), 0);
	assert_int_equal(cs.n, 2);
	store_close(f->st);
	f->st = NULL;

	raw_open(&r, f->path, true);
	assert_int_equal(mdb_dbi_open(r.txn, "changes", 0, &dbi), 0);
	assert_int_equal(mdb_drop(r.txn, dbi, 1), 0);
	raw_close(&r);

	assert_int_equal(store_open(&cfg, &f->st), 0);
	assert_int_equal(change_last(f->st), 0);
	for (uint64_t after = 0; after < 4; after++) { /* never an error */
		assert_int_equal(read_changes(f->st, after, &cs), 0);
		assert_int_equal(cs.n, 0);
	}
	assert_int_equal(store_check(f->st, NULL, NULL, &(struct store_check_summary){0}), 0);
	store_close(f->st);
	f->st = NULL;
	raw_open(&r, f->path, false); /* the read-only open added nothing */
	assert_int_equal(mdb_dbi_open(r.txn, "changes", 0, &dbi), MDB_NOTFOUND);
	raw_close(&r);

	cfg.read_only = false;
	assert_int_equal(store_open(&cfg, &f->st), 0);
	snprintf(want, sizeof(want), "%s: added the changes database to a store made before it",
		 f->path);
	assert_true(logged(want));
	assert_int_equal(change_last(f->st), 0);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_data_put(t, ino, "x", 1), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_last_change(f->st, 1, STORE_CHANGE_INODE, ino, 0, NULL);
}

/* ---- store_check ------------------------------------------------------- */

#define CHECK_MAX 16

/* What store_check() reported. */
struct found {
	int n; /* problems reported (may exceed CHECK_MAX) */
	uint64_t ino[CHECK_MAX];
	char path[CHECK_MAX][256]; /* "" for a NULL path */
	char msg[CHECK_MAX][256];
	uint64_t done, total; /* the last progress call */
	int progress_calls;
};

static void found_problem(void *arg, uint64_t ino, const char *path, const char *msg)
{
	struct found *fd = arg;

	if (fd->n < CHECK_MAX) {
		fd->ino[fd->n] = ino;
		snprintf(fd->path[fd->n], sizeof(fd->path[0]), "%s", path ? path : "");
		snprintf(fd->msg[fd->n], sizeof(fd->msg[0]), "%s", msg);
	}
	fd->n++;
}

static void found_progress(void *arg, uint64_t done, uint64_t total)
{
	struct found *fd = arg;

	assert_true(done <= total);
	assert_true(done >= fd->done);
	fd->done = done;
	fd->total = total;
	fd->progress_calls++;
}

static struct store_check_summary run_check(struct store *st, struct found *fd)
{
	static const struct store_check_ops ops = {found_problem, found_progress};
	struct store_check_summary s;

	memset(fd, 0, sizeof(*fd));
	assert_int_equal(store_check(st, &ops, fd, &s), 0);
	assert_int_equal(s.problems, fd->n);
	return s;
}

/* The index of the problem of ino whose message holds text, or -1. */
static int problem_of(const struct found *fd, uint64_t ino, const char *text)
{
	for (int i = 0; i < fd->n && i < CHECK_MAX; i++)
		if (fd->ino[i] == ino && strstr(fd->msg[i], text))
			return i;
	return -1;
}

/* Prints what was found, for a failing assertion to be understood. */
static void print_found(const struct found *fd)
{
	for (int i = 0; i < fd->n && i < CHECK_MAX; i++)
		print_message("  problem: inode %llu, path '%s': %s\n",
			      (unsigned long long)fd->ino[i], fd->path[i], fd->msg[i]);
}

/* Asserts that exactly one problem was found: ino's, holding text, at path. */
static void assert_one_problem(const struct found *fd, uint64_t ino, const char *path,
			       const char *text)
{
	if (fd->n != 1 || problem_of(fd, ino, text) != 0 || strcmp(fd->path[0], path) != 0) {
		print_message("expected one problem of inode %llu at '%s' with '%s'; got %d:\n",
			      (unsigned long long)ino, path, text, fd->n);
		print_found(fd);
		fail();
	}
}

/*
 * A store with every kind of inode:
 *   t1/            d/a   "hello world", user.a = "1", also named t2/b
 *   t1/d/          d/e   empty
 *   t1/s -> d/a    t2/   user.t = "xyz"
 *   t2/big         1000 bytes
 */
struct tree {
	uint64_t t1, d, a, e, s, t2, big;
};

static struct tree make_tree(struct fx *f)
{
	unsigned char *big = pattern(1000, 1);
	struct store_txn *t;
	struct tree tr;

	t = begin(f->st, STORE_TXN_WRITE);
	tr.t1 = make_dir(t, STORE_ROOT_INO, "t1");
	tr.d = make_dir(t, tr.t1, "d");
	tr.a = make_file(t, tr.d, "a");
	assert_int_equal(store_data_put(t, tr.a, "hello world", 11), 0);
	assert_int_equal(store_xattr_set(t, tr.a, "user.a", "1", 1, 0), 0);
	tr.e = make_file(t, tr.d, "e");
	tr.s = make_node(t, tr.t1, "s", 1, S_IFLNK | 0777);
	assert_int_equal(store_data_put(t, tr.s, "d/a", 3), 0);
	tr.t2 = make_dir(t, STORE_ROOT_INO, "t2");
	assert_int_equal(store_xattr_set(t, tr.t2, "user.t", "xyz", 3, 0), 0);
	assert_int_equal(store_dirent_add(t, tr.t2, "b", 1, tr.a), 0);
	tr.big = make_file(t, tr.t2, "big");
	assert_int_equal(store_data_put(t, tr.big, big, 1000), 0);
	assert_int_equal(store_txn_commit(t), 0);
	free(big);
	return tr;
}

/* The counts of make_tree(): root, t1, d, a, e, s, t2, big. */
static void assert_tree_counts(const struct store_check_summary *s)
{
	assert_int_equal(s->inodes, 8);
	assert_int_equal(s->items, 3);
	assert_int_equal(s->directories, 4);
	assert_int_equal(s->symlinks, 1);
	assert_int_equal(s->bytes, 11 + 0 + 1000);
}

/* Closes the store and opens its files with raw LMDB, for damage. */
static void damage_begin(struct fx *f, struct raw *r)
{
	store_close(f->st);
	f->st = NULL;
	raw_open(r, f->path, true);
}

/* Commits the damage and opens the store again, read-only. */
static void damage_end(struct fx *f, struct raw *r)
{
	struct store_config cfg = config(f);

	raw_close(r);
	cfg.create = false;
	cfg.read_only = true;
	assert_int_equal(store_open(&cfg, &f->st), 0);
}

/* Writes a width-byte little-endian field at off of ino's inode record. */
static void damage_inode(struct raw *r, uint64_t ino, size_t off, int width, uint64_t value)
{
	MDB_dbi dbi = raw_dbi(r, "inode", 0);
	unsigned char key[8], rec[85];
	MDB_val k = {8, key}, v;

	put_be64(key, ino);
	assert_int_equal(mdb_get(r->txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, sizeof(rec));
	memcpy(rec, v.mv_data, sizeof(rec));
	put_le(rec + off, value, width);
	v = (MDB_val){sizeof(rec), rec};
	assert_int_equal(mdb_put(r->txn, dbi, &k, &v, 0), 0);
}

/* Deletes key ino ‖ name (name may be NULL) from database db. */
static void damage_del(struct raw *r, const char *db, uint64_t ino, const char *name)
{
	unsigned char key[8 + 256];
	size_t len = name ? strlen(name) : 0;
	MDB_val k = {8 + len, key};

	put_be64(key, ino);
	if (len)
		memcpy(key + 8, name, len);
	assert_int_equal(mdb_del(r->txn, raw_dbi(r, db, 0), &k, NULL), 0);
}

/* Adds the dirent dir/name -> child of the given type. */
static void damage_add_dirent(struct raw *r, uint64_t dir, const char *name, uint64_t child,
			      uint32_t type)
{
	unsigned char key[8 + 256], val[12];
	size_t len = strlen(name);
	MDB_val k = {8 + len, key}, v = {sizeof(val), val};

	put_be64(key, dir);
	memcpy(key + 8, name, len);
	put_le(val, child, 8);
	put_le(val + 8, type, 4);
	assert_int_equal(mdb_put(r->txn, raw_dbi(r, "dirent", 0), &k, &v, 0), 0);
}

static void test_check_clean(void **state)
{
	struct fx *f = *state;
	struct store_check_summary s;
	struct found fd;

	s = run_check(f->st, &fd); /* a new store: the root alone */
	assert_int_equal(s.inodes, 1);
	assert_int_equal(s.directories, 1);
	assert_int_equal(s.items + s.symlinks + s.bytes + s.problems, 0);

	make_tree(f);
	log_count = 0; /* the map grew: logged */
	s = run_check(f->st, &fd);
	if (fd.n)
		print_found(&fd);
	assert_int_equal(fd.n, 0);
	assert_int_equal(s.problems, 0);
	assert_tree_counts(&s);
	assert_true(fd.progress_calls >= 1);
	assert_int_equal(fd.done, 8);
	assert_int_equal(fd.total, 8);

	/* read-only, as `itemfs check` opens it; without callbacks */
	{
		struct store_config cfg = config(f);
		struct store_check_summary s2;

		cfg.create = false;
		cfg.read_only = true;
		reopen(f, &cfg);
		assert_int_equal(store_check(f->st, NULL, NULL, &s2), 0);
		assert_int_equal(s2.problems, 0);
		assert_tree_counts(&s2);
	}
	assert_int_equal(log_count, 0);
}

static void test_check_data_checksum(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	struct store_check_summary s;
	MDB_val k, v;
	unsigned char key[8], *copy;
	struct found fd;
	struct raw r;

	damage_begin(f, &r);
	put_be64(key, tr.big);
	k = (MDB_val){8, key};
	assert_int_equal(mdb_get(r.txn, raw_dbi(&r, "data", 0), &k, &v), 0);
	copy = malloc(v.mv_size);
	assert_non_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[8 + 500] ^= 0x01;
	v.mv_data = copy;
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "data", 0), &k, &v, 0), 0);
	damage_end(f, &r);
	free(copy);

	log_count = 0;
	s = run_check(f->st, &fd);
	assert_tree_counts(&s);
	assert_one_problem(&fd, tr.big, "t2/big", "data checksum mismatch");
	assert_int_equal(log_count, 0); /* the checker reports; it does not log */
}

static void test_check_wrong_size(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	struct found fd;
	struct raw r;

	damage_begin(f, &r);
	damage_inode(&r, tr.big, 17, 8, 999); /* size */
	damage_end(f, &r);
	run_check(f->st, &fd);
	assert_one_problem(&fd, tr.big, "t2/big", "size 999, but data of 1000 bytes");
}

static void test_check_dangling_dirent(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	struct store_check_summary s;
	struct found fd;
	struct raw r;

	damage_begin(f, &r);
	damage_del(&r, "inode", tr.e, NULL); /* e: no data, no xattrs */
	damage_end(f, &r);
	s = run_check(f->st, &fd);
	assert_one_problem(&fd, tr.e, "t1/d/e", "which does not exist");
	assert_int_equal(s.inodes, 7);
}

static void test_check_orphan_inode(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	struct found fd;
	struct raw r;

	damage_begin(f, &r);
	damage_del(&r, "dirent", tr.d, "e");
	damage_end(f, &r);
	run_check(f->st, &fd);
	assert_one_problem(&fd, tr.e, "", "orphan: no directory entry names it (nlink 1)");
}

/* Orphans: listed, accepted by the check, freed by store_inode_free() or reaped. */
static void test_orphans(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_check_summary s;
	struct store_txn *t;
	struct store_attr a;
	struct found fd;
	unsigned char key[14], got[8];
	uint64_t held, linked, dir, unlisted, freed, n = 99;

	t = begin(f->st, STORE_TXN_WRITE);
	held = make_file(t, STORE_ROOT_INO, "held");
	assert_int_equal(store_data_put(t, held, "bytes", 5), 0);
	freed = make_file(t, STORE_ROOT_INO, "freed");
	linked = make_file(t, STORE_ROOT_INO, "linked");
	dir = make_dir(t, STORE_ROOT_INO, "d");
	unlisted = make_file(t, STORE_ROOT_INO, "unlisted");
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "held", 4, NULL), 0);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "freed", 5, NULL), 0);
	assert_int_equal(store_orphan_add(t, held), 0);
	assert_int_equal(store_orphan_add(t, freed), 0);
	assert_int_equal(store_orphan_add(t, linked), -EINVAL); /* still named */
	assert_int_equal(store_orphan_add(t, dir), -EINVAL);
	assert_int_equal(store_orphan_add(t, 9999), -ENOENT);
	assert_int_equal(store_txn_commit(t), 0);

	/* the listing is meta "orphan" + u64 BE ino, with an empty value (raw
	 * reads only with the store closed: one environment per process) */
	store_close(f->st);
	f->st = NULL;
	memcpy(key, "orphan", 6);
	put_be64(key + 6, held);
	assert_int_equal(raw_get(f->path, "meta", key, 14, got, sizeof(got)), 0);
	put_be64(key + 6, freed);
	assert_int_equal(raw_get(f->path, "meta", key, 14, got, sizeof(got)), 0);
	reopen(f, &cfg);

	/* listed orphans are not problems; an unlisted nameless file is */
	s = run_check(f->st, &fd);
	assert_int_equal(s.problems, 0);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "unlisted", 8, NULL), 0);
	assert_int_equal(store_txn_commit(t), 0);
	s = run_check(f->st, &fd);
	assert_one_problem(&fd, unlisted, "", "orphan: no directory entry names it (nlink 0)");

	/* freeing an orphan unlists it */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_inode_free(t, freed), 0);
	assert_int_equal(store_inode_free(t, unlisted), 0);
	assert_int_equal(store_txn_commit(t), 0);

	/* reaping frees what is left listed, once */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_orphans_reap(t, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_inode_get(t, held, &a), -ENOENT);
	assert_int_equal(store_inode_get(t, linked, &a), 0);
	assert_int_equal(store_orphans_reap(t, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_txn_commit(t), 0);
	s = run_check(f->st, &fd);
	assert_int_equal(s.problems, 0);
	assert_int_equal(s.inodes, 3); /* root, linked, d */
	store_close(f->st);
	f->st = NULL;
	put_be64(key + 6, held);
	assert_int_equal(raw_get(f->path, "meta", key, 14, got, sizeof(got)), (size_t)-1);
	put_be64(key + 6, freed);
	assert_int_equal(raw_get(f->path, "meta", key, 14, got, sizeof(got)), (size_t)-1);
}

/* Collects store_expired() entries. */
struct expiries {
	uint64_t ino[16], when[16];
	int n;
};

static int expiry_collect(void *arg, uint64_t ino, uint64_t when)
{
	struct expiries *e = arg;

	assert_true(e->n < 16);
	e->ino[e->n] = ino;
	e->when[e->n] = when;
	e->n++;
	return 0;
}

static int stop_at_first(void *arg, uint64_t ino, uint64_t when)
{
	(void)arg;
	(void)ino;
	(void)when;
	return 7;
}

static struct expiries expired_by(struct store_txn *t, uint64_t now)
{
	struct expiries e = {.n = 0};

	assert_int_equal(store_expired(t, now, expiry_collect, &e), 0);
	return e;
}

static void set_expires(struct store_txn *t, uint64_t ino, const char *v)
{
	assert_int_equal(store_xattr_set(t, ino, STORE_XATTR_EXPIRES, v, strlen(v), 0), 0);
}

/* The expiry index follows the attribute: set, replace, remove, free. */
static void test_expiry_index(void **state)
{
	struct fx *f = *state;
	struct store_txn *t;
	struct store_attr a;
	struct expiries e;
	uint64_t x, y, z, dir, plain;
	unsigned char key[23], got[8];

	t = begin(f->st, STORE_TXN_WRITE);
	x = make_file(t, STORE_ROOT_INO, "x");
	y = make_file(t, STORE_ROOT_INO, "y");
	z = make_file(t, STORE_ROOT_INO, "z");
	plain = make_file(t, STORE_ROOT_INO, "plain");
	dir = make_dir(t, STORE_ROOT_INO, "d");
	set_expires(t, x, "300");
	set_expires(t, y, "100");
	set_expires(t, z, "100");
	assert_int_equal(store_xattr_set(t, plain, "user.a", "1", 1, 0), 0);

	/* earliest first, ties by inode number; only up to now */
	e = expired_by(t, 1000);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.ino[0], y < z ? y : z);
	assert_int_equal(e.ino[1], y < z ? z : y);
	assert_int_equal(e.when[1], 100);
	assert_int_equal(e.ino[2], x);
	assert_int_equal(e.when[2], 300);
	assert_int_equal(expired_by(t, 299).n, 2);
	assert_int_equal(expired_by(t, 99).n, 0);

	/* store_inode_get reports it; none for an item without (or with other) xattrs */
	assert_int_equal(store_inode_get(t, x, &a), 0);
	assert_int_equal(a.expires, 300);
	assert_int_equal(store_inode_get(t, plain, &a), 0);
	assert_int_equal(a.expires, 0);
	assert_int_equal(store_inode_get(t, dir, &a), 0);
	assert_int_equal(a.expires, 0);

	/* a new time moves the entry; a removal drops it */
	set_expires(t, x, "50");
	e = expired_by(t, 1000);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.ino[0], x);
	assert_int_equal(e.when[0], 50);
	assert_int_equal(store_xattr_remove(t, y, STORE_XATTR_EXPIRES), 0);
	assert_int_equal(store_inode_get(t, y, &a), 0);
	assert_int_equal(a.expires, 0);
	e = expired_by(t, 1000);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.ino[1], z);

	/* freeing the inode drops its entry */
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "z", 1, NULL), 0);
	assert_int_equal(store_inode_free(t, z), 0);
	e = expired_by(t, 1000);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.ino[0], x);

	/* the item size counts it like any xattr */
	assert_int_equal(store_inode_get(t, x, &a), 0);
	assert_int_equal(a.xattr_bytes, strlen(STORE_XATTR_EXPIRES) + 2);

	/* a callback's non-zero return stops the walk and is returned */
	assert_int_equal(store_expired(t, 1000, stop_at_first, NULL), 7);
	assert_int_equal(store_txn_commit(t), 0);

	/* on disk: meta "expires" + BE seconds + BE ino, empty value */
	store_close(f->st);
	f->st = NULL;
	memcpy(key, "expires", 7);
	put_be64(key + 7, 50);
	put_be64(key + 15, x);
	assert_int_equal(raw_get(f->path, "meta", key, 23, got, sizeof(got)), 0);
	put_be64(key + 7, 300);
	assert_int_equal(raw_get(f->path, "meta", key, 23, got, sizeof(got)), (size_t)-1);
}

/* Values are checked: only a canonical decimal time on a regular file. */
static void test_expiry_values(void **state)
{
	static const char *const bad[] = {"", "0", "01", "-1", "+1", " 1", "1 ", "1\n", "1x",
					  "9223372036854775808", "18446744073709551616",
					  "99999999999999999999"};
	struct fx *f = *state;
	struct store_txn *t;
	struct store_attr a;
	uint64_t x, dir, v;

	t = begin(f->st, STORE_TXN_WRITE);
	x = make_file(t, STORE_ROOT_INO, "x");
	dir = make_dir(t, STORE_ROOT_INO, "d");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_expires_parse(bad[i], strlen(bad[i]), &v), -EINVAL);
		assert_int_equal(store_xattr_set(t, x, STORE_XATTR_EXPIRES, bad[i], strlen(bad[i]),
						 0),
				 -EINVAL);
	}
	assert_int_equal(store_expires_parse("9223372036854775807", 19, &v), 0);
	assert_int_equal(v, STORE_EXPIRES_MAX);
	assert_int_equal(store_expires_parse("1", 1, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(store_xattr_set(t, dir, STORE_XATTR_EXPIRES, "5", 1, 0), -EINVAL);
	/* nothing changed */
	assert_int_equal(store_inode_get(t, x, &a), 0);
	assert_int_equal(a.xattr_bytes, 0);
	assert_int_equal(expired_by(t, STORE_EXPIRES_MAX).n, 0);
	set_expires(t, x, "9223372036854775807");
	assert_int_equal(expired_by(t, STORE_EXPIRES_MAX).n, 1);
	assert_int_equal(store_txn_commit(t), 0);
}

/* itemfs check accepts a true index and reports either side missing. */
static void test_check_expiry_index(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_check_summary s;
	struct store_txn *t;
	struct found fd;
	struct raw r;
	uint64_t x, y;
	unsigned char key[23];
	MDB_val k = {23, key}, v = {0, NULL};

	t = begin(f->st, STORE_TXN_WRITE);
	x = make_file(t, STORE_ROOT_INO, "x");
	y = make_file(t, STORE_ROOT_INO, "y");
	set_expires(t, x, "1000");
	set_expires(t, y, "2000");
	assert_int_equal(store_txn_commit(t), 0);
	s = run_check(f->st, &fd);
	assert_int_equal(s.problems, 0);

	/* an attribute without its entry: delete y's entry behind the store's back */
	store_close(f->st);
	f->st = NULL;
	memcpy(key, "expires", 7);
	put_be64(key + 7, 2000);
	put_be64(key + 15, y);
	raw_open(&r, f->path, true);
	assert_int_equal(mdb_del(r.txn, raw_dbi(&r, "meta", 0), &k, NULL), 0);
	raw_close(&r);
	reopen(f, &cfg);
	s = run_check(f->st, &fd);
	assert_one_problem(&fd, y, "y",
			   "user.itemfs.expires is 2000, but the expiry index has no entry for it");

	/* an entry with the wrong time, and one for an inode that does not exist */
	store_close(f->st);
	f->st = NULL;
	raw_open(&r, f->path, true);
	put_be64(key + 7, 3000);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "meta", 0), &k, &v, 0), 0);
	put_be64(key + 7, 5);
	put_be64(key + 15, 4242);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "meta", 0), &k, &v, 0), 0);
	raw_close(&r);
	reopen(f, &cfg);
	s = run_check(f->st, &fd);
	assert_int_equal(s.problems, 3);
	assert_true(problem_of(&fd, y, "the expiry index lists it at 3000, but its "
				       "user.itemfs.expires is 2000") >= 0);
	assert_true(problem_of(&fd, y, "but the expiry index has no entry for it") >= 0);
	assert_true(problem_of(&fd, 0, "expiry index entry (5, inode 4242) for an inode that "
				       "does not exist") >= 0);
	(void)x;
}

/* Reads bytes [off, off + size) of dir's stream as a string (NULs as '.'). */
static const char *stream_bytes(struct store_txn *t, uint64_t dir, uint64_t off, size_t size)
{
	static char buf[256];
	size_t len = 99;

	assert_true(size < sizeof(buf));
	assert_int_equal(store_stream_read(t, dir, off, buf, size, &len), 0);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = '.';
	buf[len] = '\0';
	return buf;
}

static void test_stream_append_read_trim(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_stream_head h;
	struct store_txn *t;
	struct found fd;
	uint64_t d, e;
	unsigned n = 99;

	t = begin(f->st, STORE_TXN_WRITE);
	d = make_dir(t, STORE_ROOT_INO, "d");
	e = make_dir(t, STORE_ROOT_INO, "e");
	assert_int_equal(store_stream_head(t, d, &h), 0);
	assert_int_equal(h.end + h.first + h.seq + h.first_ns + h.last_ns, 0);
	assert_int_equal(store_stream_append(t, d, 1, 100, "aaa\n", 4, &h), 0);
	assert_int_equal(store_stream_append(t, d, 1, 200, "bb\n", 3, NULL), 0);
	assert_int_equal(store_stream_append(t, d, 2, 300, "ccccc\n", 6, &h), 0);
	assert_int_equal(store_stream_append(t, e, 7, 300, "E\n", 2, NULL), 0);
	assert_int_equal(h.first, 0);
	assert_int_equal(h.end, 13);
	assert_int_equal(h.seq, 2);
	assert_int_equal(h.first_ns, 100);
	assert_int_equal(h.last_ns, 300);
	/* bad appends change nothing */
	assert_int_equal(store_stream_append(t, d, 1, 400, "x\n", 2, NULL), -EINVAL);
	assert_int_equal(store_stream_append(t, d, 3, 400, "", 0, NULL), -EINVAL);
	assert_int_equal(store_stream_append(t, d, 3, 400, "x", STORE_STREAM_REC_MAX + 1, NULL),
			 -EINVAL);
	assert_int_equal(store_txn_commit(t), 0);

	/* reads cross records, stop at the end, and survive a reopen */
	reopen(f, &cfg);
	t = begin(f->st, STORE_TXN_READ);
	assert_string_equal(stream_bytes(t, d, 0, 100), "aaa\nbb\nccccc\n");
	assert_string_equal(stream_bytes(t, d, 2, 4), "a\nbb");
	assert_string_equal(stream_bytes(t, d, 7, 3), "ccc");
	assert_string_equal(stream_bytes(t, d, 13, 10), "");
	assert_string_equal(stream_bytes(t, d, 99, 10), "");
	assert_string_equal(stream_bytes(t, e, 0, 10), "E\n");
	store_txn_abort(t);

	/* by age: records older than 250 go; the trimmed bytes read as NULs */
	t = begin(f->st, STORE_TXN_WRITE);
	memset(&h, 0xff, sizeof(h));
	assert_int_equal(store_stream_trim(t, d, 250, 0, 100, &n, &h), 0);
	assert_int_equal(n, 2);
	assert_int_equal(h.first, 7);
	assert_int_equal(h.end, 13);
	assert_int_equal(h.first_ns, 300);
	assert_int_equal(h.last_ns, 300);
	assert_string_equal(stream_bytes(t, d, 0, 100), ".......ccccc\n");
	assert_string_equal(stream_bytes(t, d, 5, 4), "..cc");
	/* offsets go on from the end */
	assert_int_equal(store_stream_append(t, d, 3, 500, "dd\n", 3, &h), 0);
	assert_int_equal(h.end, 16);
	/* by size: at most 3 bytes after the trim; at most max_records per call */
	assert_int_equal(store_stream_trim(t, d, 0, 3, 0, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_stream_trim(t, d, 0, 3, 100, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(stream_bytes(t, d, 10, 100), "...dd\n");
	/* everything: the stream is empty, its offsets kept */
	assert_int_equal(store_stream_trim(t, d, 1000, 0, 100, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_stream_head(t, d, &h), 0);
	assert_int_equal(h.first, 16);
	assert_int_equal(h.end, 16);
	assert_int_equal(h.last_ns, 0);
	assert_int_equal(h.seq, 3); /* kept by the head of an emptied stream */
	assert_string_equal(stream_bytes(t, d, 14, 100), "..");
	assert_int_equal(store_stream_append(t, d, 3, 600, "f\n", 2, &h), 0);
	assert_int_equal(h.first, 16);
	assert_int_equal(h.first_ns, 600);
	assert_int_equal(store_txn_commit(t), 0);

	/* a directory's stream goes with it; another's stays */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, "d", 1, NULL), 0);
	assert_int_equal(store_inode_free(t, d), 0);
	assert_int_equal(store_stream_head(t, d, &h), 0);
	assert_int_equal(h.end, 0);
	assert_string_equal(stream_bytes(t, d, 0, 10), "");
	assert_string_equal(stream_bytes(t, e, 0, 10), "E\n");
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(run_check(f->st, &fd).problems, 0);
}

/* A store made before streams: read-only, every stream is empty; read-write adds them. */
static void test_stream_store_without_streams(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_stream_head h;
	struct store_txn *t;
	struct raw r;
	char want[256], buf[4];
	size_t len = 9;
	MDB_dbi dbi;
	uint64_t d;

	t = begin(f->st, STORE_TXN_WRITE);
	d = make_dir(t, STORE_ROOT_INO, "d");
	assert_int_equal(store_stream_append(t, d, 1, 1, "a\n", 2, NULL), 0);
	assert_int_equal(store_txn_commit(t), 0);
	store_close(f->st);
	f->st = NULL;
	raw_open(&r, f->path, true);
	assert_int_equal(mdb_dbi_open(r.txn, "streams", 0, &dbi), 0);
	assert_int_equal(mdb_drop(r.txn, dbi, 1), 0);
	raw_close(&r);

	cfg.create = false;
	cfg.read_only = true;
	assert_int_equal(store_open(&cfg, &f->st), 0);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_stream_head(t, d, &h), 0);
	assert_int_equal(h.end, 0);
	assert_int_equal(store_stream_read(t, d, 0, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 0);
	store_txn_abort(t);
	assert_int_equal(store_check(f->st, NULL, NULL, &(struct store_check_summary){0}), 0);
	store_close(f->st);
	f->st = NULL;

	cfg.read_only = false;
	assert_int_equal(store_open(&cfg, &f->st), 0);
	snprintf(want, sizeof(want), "%s: added the streams database to a store made before it",
		 f->path);
	assert_true(logged(want));
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_stream_append(t, d, 1, 1, "b\n", 2, &h), 0);
	assert_int_equal(h.end, 2);
	assert_int_equal(store_txn_commit(t), 0);
}

/* A nested transaction's records go with its abort, as its other changes do. */
static void test_stream_nested_abort(void **state)
{
	struct fx *f = *state;
	struct store_stream_head h;
	struct store_txn *t, *c;
	uint64_t d;

	t = begin(f->st, STORE_TXN_WRITE);
	d = make_dir(t, STORE_ROOT_INO, "d");
	assert_int_equal(store_stream_append(t, d, 1, 1, "a\n", 2, NULL), 0);
	assert_int_equal(store_txn_begin_nested(t, &c), 0);
	assert_int_equal(store_stream_append(c, d, 2, 2, "b\n", 2, NULL), 0);
	store_txn_abort(c);
	assert_int_equal(store_txn_begin_nested(t, &c), 0);
	assert_int_equal(store_stream_append(c, d, 2, 3, "c\n", 2, NULL), 0);
	assert_int_equal(store_txn_commit(c), 0);
	assert_int_equal(store_stream_head(t, d, &h), 0);
	assert_int_equal(h.end, 4);
	assert_int_equal(h.seq, 2);
	assert_string_equal(stream_bytes(t, d, 0, 10), "a\nc\n");
	assert_int_equal(store_txn_commit(t), 0);
}

/* The head a write txn knows without reading (lmdb_stream.c's memo), against
 * the head a read txn reads once it is committed. */
static void assert_head_as_read(struct fx *f, uint64_t d, const struct store_stream_head *w)
{
	struct store_stream_head r;
	struct store_txn *t = begin(f->st, STORE_TXN_READ);

	assert_int_equal(store_stream_head(t, d, &r), 0);
	store_txn_abort(t);
	assert_int_equal(r.first, w->first);
	assert_int_equal(r.end, w->end);
	assert_int_equal(r.seq, w->seq);
	assert_int_equal(r.first_ns, w->first_ns);
	assert_int_equal(r.last_ns, w->last_ns);
}

/* A write txn's appends and trims to two streams in turn, and a trim that
 * empties one: each head it then reports is the one the store holds. */
static void test_stream_heads_in_one_txn(void **state)
{
	struct fx *f = *state;
	struct store_stream_head h1, h2;
	struct store_txn *t;
	unsigned dropped;
	uint64_t d1, d2;

	t = begin(f->st, STORE_TXN_WRITE);
	d1 = make_dir(t, STORE_ROOT_INO, "d1");
	d2 = make_dir(t, STORE_ROOT_INO, "d2");
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_stream_append(t, d1, 1, 10, "a\n", 2, NULL), 0);
	assert_int_equal(store_stream_append(t, d2, 1, 20, "xx\n", 3, NULL), 0);
	assert_int_equal(store_stream_append(t, d1, 2, 30, "bb\n", 3, NULL), 0);
	assert_int_equal(store_stream_trim(t, d2, 0, 0, 10, &dropped, NULL), 0);
	assert_int_equal(dropped, 0);
	assert_int_equal(store_stream_append(t, d2, 2, 40, "y\n", 2, NULL), 0);
	/* the oldest of d1 (time 10) goes, then the next (30) stays */
	assert_int_equal(store_stream_trim(t, d1, 25, 0, 10, &dropped, NULL), 0);
	assert_int_equal(dropped, 1);
	assert_int_equal(store_stream_head(t, d1, &h1), 0);
	assert_int_equal(store_stream_head(t, d2, &h2), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(h1.first, 2);
	assert_int_equal(h1.end, 5);
	assert_int_equal(h1.first_ns, 30);
	assert_head_as_read(f, d1, &h1);
	assert_int_equal(h2.end, 5);
	assert_int_equal(h2.seq, 2);
	assert_head_as_read(f, d2, &h2);

	/* emptied: no last record, and the next append starts the head again */
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_stream_trim(t, d2, 100, 0, 10, &dropped, NULL), 0);
	assert_int_equal(dropped, 2);
	assert_int_equal(store_stream_head(t, d2, &h2), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(h2.first, 5);
	assert_int_equal(h2.end, 5);
	assert_int_equal(h2.last_ns, 0);
	assert_head_as_read(f, d2, &h2);
	t = begin(f->st, STORE_TXN_WRITE);
	assert_int_equal(store_stream_trim(t, d2, 100, 0, 10, &dropped, NULL), 0);
	assert_int_equal(dropped, 0);
	assert_int_equal(store_stream_append(t, d2, 3, 200, "z\n", 2, &h2), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(h2.first, 5);
	assert_int_equal(h2.end, 7);
	assert_int_equal(h2.first_ns, 200);
	assert_head_as_read(f, d2, &h2);
	t = begin(f->st, STORE_TXN_READ);
	assert_string_equal(stream_bytes(t, d2, 5, 10), "z\n");
	store_txn_abort(t);
}

/* More streams in one write txn than it keeps heads of, taken in turn, in
 * nested txns (one aborted each round): every record lands after the last. */
static void test_stream_heads_many_tables(void **state)
{
	struct fx *f = *state;
	enum { NDIR = 20, ROUNDS = 3 };
	struct store_stream_head h[NDIR];
	struct store_txn *t, *c;
	uint64_t d[NDIR];
	char name[16], want[ROUNDS * 3 + 1];

	t = begin(f->st, STORE_TXN_WRITE);
	for (int i = 0; i < NDIR; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		d[i] = make_dir(t, STORE_ROOT_INO, name);
	}
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < NDIR; i++) {
			char rec[4] = {(char)('a' + r), (char)('a' + i), '\n', 0};

			assert_int_equal(store_txn_begin_nested(t, &c), 0);
			assert_int_equal(store_stream_append(c, d[i], 9, 1, "lost", 4, NULL), 0);
			store_txn_abort(c);
			assert_int_equal(store_txn_begin_nested(t, &c), 0);
			assert_int_equal(store_stream_trim(c, d[i], 0, 0, 10, NULL, NULL), 0);
			assert_int_equal(store_stream_append(c, d[i], (uint64_t)r + 1, 1, rec, 3, &h[i]),
					 0);
			assert_int_equal(store_txn_commit(c), 0);
		}
	assert_int_equal(store_txn_commit(t), 0);
	t = begin(f->st, STORE_TXN_READ);
	for (int i = 0; i < NDIR; i++) {
		for (int r = 0; r < ROUNDS; r++)
			snprintf(want + 3 * r, 4, "%c%c\n", 'a' + r, 'a' + i);
		assert_string_equal(stream_bytes(t, d[i], 0, sizeof(want)), want);
	}
	store_txn_abort(t);
	for (int i = 0; i < NDIR; i++) {
		assert_int_equal(h[i].end, 3 * ROUNDS);
		assert_head_as_read(f, d[i], &h[i]);
	}
}

static void test_check_streams(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store_txn *t;
	struct found fd;
	struct raw r;
	uint64_t d;
	unsigned char key[16];
	MDB_val k = {16, key};

	t = begin(f->st, STORE_TXN_WRITE);
	d = make_dir(t, STORE_ROOT_INO, "d");
	assert_int_equal(store_stream_append(t, d, 1, 1, "aa\n", 3, NULL), 0);
	assert_int_equal(store_stream_append(t, d, 2, 2, "bbb\n", 4, NULL), 0);
	assert_int_equal(store_stream_append(t, d, 3, 3, "c\n", 2, NULL), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(run_check(f->st, &fd).problems, 0);

	/* on disk: streams BE dir (+ BE offset); lose the middle record */
	store_close(f->st);
	f->st = NULL;
	put_be64(key, d);
	put_be64(key + 8, 3);
	raw_open(&r, f->path, true);
	assert_int_equal(mdb_del(r.txn, raw_dbi(&r, "streams", 0), &k, NULL), 0);
	raw_close(&r);
	reopen(f, &cfg);
	run_check(f->st, &fd);
	assert_one_problem(&fd, d, "d",
			   "its stream has a record at offset 7 of 18 bytes, expected one at "
			   "offset 3");
	/* and a read across the gap is an EIO, logged */
	t = begin(f->st, STORE_TXN_READ);
	{
		char buf[16];
		size_t len;
		assert_int_equal(store_stream_read(t, d, 0, buf, sizeof(buf), &len), -EIO);
	}
	store_txn_abort(t);
	assert_true(log_count > 0);
}

static void test_check_orphan_directory(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	unsigned char key[8], *copy;
	struct found fd;
	struct raw r;
	MDB_val k = {8, key}, v;
	int i;

	damage_begin(f, &r);
	damage_del(&r, "dirent", STORE_ROOT_INO, "t2");
	put_be64(key, tr.big); /* and damage an item in it */
	assert_int_equal(mdb_get(r.txn, raw_dbi(&r, "data", 0), &k, &v), 0);
	copy = malloc(v.mv_size);
	assert_non_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[0] ^= 0x80;
	v.mv_data = copy;
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "data", 0), &k, &v, 0), 0);
	damage_end(f, &r);
	free(copy);

	run_check(f->st, &fd);
	print_found(&fd);
	assert_int_equal(fd.n, 3);
	/* root: nlink 4 counted t2; t2: orphan, big below it (a has another name) */
	assert_int_equal(problem_of(&fd, STORE_ROOT_INO, "nlink 4, expected 3"), 0);
	assert_string_equal(fd.path[0], "/");
	i = problem_of(&fd, tr.t2, "orphan: no directory entry names it; 1 inode below it");
	assert_int_equal(i, 1);
	assert_string_equal(fd.path[i], "");
	i = problem_of(&fd, tr.big, "data checksum mismatch");
	assert_int_equal(i, 2);
	snprintf(fd.path[CHECK_MAX - 1], sizeof(fd.path[0]), "(inode %llu)/big",
		 (unsigned long long)tr.t2);
	assert_string_equal(fd.path[i], fd.path[CHECK_MAX - 1]);
}

static void test_check_file_nlink(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	struct found fd;
	struct raw r;

	damage_begin(f, &r);
	damage_inode(&r, tr.a, 13, 4, 3); /* nlink: it has 2 names */
	damage_end(f, &r);
	run_check(f->st, &fd);
	assert_one_problem(&fd, tr.a, "t1/d/a", "nlink 3, but 2 directory entries name it");
}

static void test_check_dir_nlink(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	struct found fd;
	struct raw r;

	damage_begin(f, &r);
	damage_inode(&r, tr.t1, 13, 4, 2); /* nlink: it has a subdirectory */
	damage_end(f, &r);
	run_check(f->st, &fd);
	assert_one_problem(&fd, tr.t1, "t1", "nlink 2, expected 3 (2 + 1 subdirectories)");
}

static void test_check_parent_pointer(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	char want[128];
	struct found fd;
	struct raw r;

	damage_begin(f, &r);
	damage_inode(&r, tr.d, 25, 8, tr.t2); /* parent */
	damage_end(f, &r);
	run_check(f->st, &fd);
	snprintf(want, sizeof(want), "parent pointer %llu, but directory %llu holds it",
		 (unsigned long long)tr.t2, (unsigned long long)tr.t1);
	assert_one_problem(&fd, tr.d, "t1/d", want);
}

static void test_check_records_of_missing_inodes(void **state)
{
	struct fx *f = *state;
	unsigned char key[8 + 6], val[8 + 3];
	MDB_val k = {8, key}, v = {sizeof(val), val};
	struct found fd;
	struct raw r;

	make_tree(f);
	damage_begin(f, &r);
	put_be64(key, 999);
	put_le(val, XXH3_64bits("abc", 3), 8);
	memcpy(val + 8, "abc", 3);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "data", 0), &k, &v, 0), 0);
	put_be64(key, 998);
	memcpy(key + 8, "user.x", 6);
	k.mv_size = sizeof(key);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "xattr", 0), &k, &v, 0), 0);
	damage_end(f, &r);

	run_check(f->st, &fd);
	assert_int_equal(fd.n, 2);
	assert_int_equal(problem_of(&fd, 998, "an xattr record for an inode that does not exist"),
			 0);
	assert_int_equal(problem_of(&fd, 999, "a data record for an inode that does not exist"), 1);
	assert_string_equal(fd.path[0], "");
	assert_string_equal(fd.path[1], "");
}

static void test_check_xattr_bytes(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	struct found fd;
	struct raw r;

	damage_begin(f, &r);
	damage_inode(&r, tr.t2, 37, 4, 10); /* xattr_bytes: "user.t" + "xyz" is 9 */
	damage_end(f, &r);
	run_check(f->st, &fd);
	assert_one_problem(&fd, tr.t2, "t2", "xattr_bytes 10, but its xattrs take 9 bytes");
}

static void test_check_directory_cycle(void **state)
{
	struct fx *f = *state;
	struct tree tr = make_tree(f);
	struct found fd;
	struct raw r;

	/* move d into itself behind the store's back */
	damage_begin(f, &r);
	damage_del(&r, "dirent", tr.t1, "d");
	damage_add_dirent(&r, tr.d, "loop", tr.d, S_IFDIR);
	damage_end(f, &r);
	run_check(f->st, &fd);
	print_found(&fd);
	assert_int_equal(fd.n, 5);
	assert_true(problem_of(&fd, tr.t1, "nlink 3, expected 2") >= 0);
	assert_true(problem_of(&fd, tr.d, "nlink 2, expected 3") >= 0);
	assert_true(problem_of(&fd, tr.d, "parent pointer") >= 0);
	assert_true(problem_of(&fd, tr.d, "keylen 1, but its name is 4 bytes") >= 0);
	/* a is still reachable as t2/b; e is lost with d */
	assert_true(problem_of(&fd, tr.d, "a cycle of directories") >= 0);
	assert_true(problem_of(&fd, tr.d, "; 1 inode below it is unreachable") >= 0);
	assert_int_equal(problem_of(&fd, tr.a, ""), -1);
}

/* In a child process (no cmocka): sets the store's format record. */
static int child_set_format(const char *path, uint32_t format)
{
	unsigned char num[4];
	MDB_val k = {6, (void *)"format"}, v = {4, num};
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	put_le(num, format, 4);
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) || mdb_env_open(env, path, 0, 0600))
		return 1;
	rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_dbi_open(txn, "meta", 0, &dbi);
	if (!rc)
		rc = mdb_put(txn, dbi, &k, &v, 0);
	if (!rc)
		rc = mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc ? 2 : 0;
}

static void test_check_format_version(void **state)
{
	struct fx *f = *state;
	struct found fd;
	int status;
	pid_t pid;

	make_tree(f);
	/* store_open() refuses another format; a store can change under an open one */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_set_format(f->path, 2));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	run_check(f->st, &fd);
	assert_one_problem(&fd, 0, "", "meta: format version 2, expected 1");
}

/* ---- backup ------------------------------------------------------------ */

/* What store_backup() reported through its progress callback. Failures are
 * counted, not asserted: the callback runs inside store_backup(). */
struct bk_progress {
	uint64_t done, total; /* the last call */
	int calls;
	int bad;		 /* calls that broke the contract */
	int (*first)(void *arg); /* run once, inside the first call; nonzero: failed */
	void *first_arg;
	int first_rc;
};

static void bk_progress(void *arg, uint64_t done, uint64_t total)
{
	struct bk_progress *p = arg;

	if (done > total || done < p->done || done == 0)
		p->bad++;
	p->done = done;
	p->total = total;
	if (p->calls++ == 0 && p->first)
		p->first_rc = p->first(p->first_arg);
}

/*
 * Backs the store up into dir/data.mdb (dir is made), the way a backup is
 * restored; asserts success and the progress contract. Returns the size.
 */
static uint64_t backup_to(struct store *st, const char *dir, struct bk_progress *p)
{
	char file[256];
	struct stat sb;
	int fd;

	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(store_backup(st, fd, bk_progress, p), 0);
	assert_int_equal(fstat(fd, &sb), 0);
	close(fd);
	assert_int_equal(p->bad, 0);
	assert_int_equal(p->first_rc, 0);
	assert_true(p->calls >= 1);
	assert_int_equal(p->done, (uint64_t)sb.st_size); /* the last call: all of it */
	assert_int_equal(p->total, (uint64_t)sb.st_size);
	return (uint64_t)sb.st_size;
}

/*
 * A digest of every record of every database of the closed store in dir
 * (database name, key and value, in key order), and how many records
 * there are: two stores with equal digests hold the same inodes, entries,
 * data, xattrs and meta records.
 */
static uint64_t raw_digest_of(const char *dir, const char *const *dbs, size_t ndbs,
			      uint64_t *records)
{
	XXH3_state_t *h = XXH3_createState();
	uint64_t n = 0, digest;
	MDB_cursor *c;
	MDB_val k, v;
	struct raw r;
	int rc;

	assert_non_null(h);
	XXH3_64bits_reset(h);
	raw_open(&r, dir, false);
	for (size_t i = 0; i < ndbs; i++) {
		assert_int_equal(mdb_cursor_open(r.txn, raw_dbi(&r, dbs[i], 0), &c), 0);
		XXH3_64bits_update(h, dbs[i], strlen(dbs[i]) + 1);
		while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
			XXH3_64bits_update(h, &k.mv_size, sizeof(k.mv_size));
			XXH3_64bits_update(h, k.mv_data, k.mv_size);
			XXH3_64bits_update(h, &v.mv_size, sizeof(v.mv_size));
			XXH3_64bits_update(h, v.mv_data, v.mv_size);
			n++;
		}
		assert_int_equal(rc, MDB_NOTFOUND);
		mdb_cursor_close(c);
	}
	raw_close(&r);
	digest = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	*records = n;
	return digest;
}

static uint64_t raw_digest(const char *dir, uint64_t *records)
{
	static const char *const dbs[] = {"meta", "inode", "dirent", "data", "xattr"};

	return raw_digest_of(dir, dbs, sizeof(dbs) / sizeof(dbs[0]), records);
}

/* Asserts that the closed stores in a and b hold the same records. */
static void assert_same_records(const char *a, const char *b)
{
	uint64_t na, nb, da = raw_digest(a, &na), db = raw_digest(b, &nb);

	assert_int_equal(nb, na);
	assert_int_equal(db, da);
}

/* Opens the store in dir read-only as f->st (closing any other). */
static void open_copy(struct fx *f, const char *dir)
{
	struct store_config cfg = {.path = dir, .read_only = true, .log = capture_log};

	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(&cfg, &f->st), 0);
}

/* Asserts that f->st checks clean; returns what the check counted. */
static struct store_check_summary assert_clean(struct fx *f)
{
	struct store_check_summary s;
	struct found fd;

	s = run_check(f->st, &fd);
	if (fd.n)
		print_found(&fd);
	assert_int_equal(fd.n, 0);
	return s;
}

/*
 * Undoing a child (lmdb_env.c, "Children and stages"), against never
 * having begun it. Store A runs a stream of children in big write txns,
 * about a third of them aborted after their writes (some after a failed
 * one, some with a child of their own); store B runs only the children
 * that A committed. Children put small and large values (past what the
 * redo log keeps), overwrite, set and remove indexed xattrs, remove items
 * (their xattrs deleted by cursor), drop and build the index again, append
 * to and trim streams, so every kind of
 * write is undone somewhere, over several stages. The two stores must end
 * with the same records in every database but the change log (whose
 * records carry each store's own origin).
 */
enum { UNDO_STEPS = 700, UNDO_FILES = 64, UNDO_BIG = 70000 };

struct undo_model {
	uint64_t ino[UNDO_FILES]; /* 0: no such file */
	uint64_t dir, seq;
	unsigned rng;
};

static unsigned undo_rand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 16) & 0x7fff;
}

/*
 * Child step's writes to m's files, in t, large values among them unless
 * small. With fail, ends with a write that fails (EFBIG) after the others.
 * Deterministic in (m, step).
 */
static void undo_writes(struct store_txn *t, struct undo_model *m, int step, bool small, bool fail)
{
	unsigned s = (unsigned)step * 2654435761u, nops = 1 + undo_rand(&s) % 4;
	char name[16], xname[16];

	for (unsigned i = 0; i < nops; i++) {
		unsigned f = undo_rand(&s) % UNDO_FILES, op = undo_rand(&s) % 8;
		size_t len = undo_rand(&s) % 3000 + (undo_rand(&s) % 10 == 0 && !small ? UNDO_BIG : 0);
		unsigned char *v = pattern(len, (unsigned)step);
		char rec[32];
		int n;

		snprintf(name, sizeof(name), "f%u", f);
		snprintf(xname, sizeof(xname), "user.x%u", undo_rand(&s) % 3);
		if (!m->ino[f]) {
			m->ino[f] = make_file(t, m->dir, name);
			assert_int_equal(store_data_put(t, m->ino[f], v, len), 0);
		} else if (op <= 2) {
			assert_int_equal(store_data_put(t, m->ino[f], v, len), 0);
		} else if (op == 3) {
			assert_int_equal(store_xattr_set(t, m->ino[f], xname, v, len % 200, 0), 0);
		} else if (op == 4) {
			int rc = store_xattr_remove(t, m->ino[f], xname);

			assert_true(rc == 0 || rc == -ENODATA);
		} else if (op == 5) {
			assert_int_equal(store_dirent_remove(t, m->dir, name, strlen(name), NULL), 0);
			assert_int_equal(store_inode_free(t, m->ino[f]), 0);
			m->ino[f] = 0;
		} else if (op == 6) { /* the index again, built anew */
			assert_int_equal(store_index_drop(t, m->dir, "x1"), 0);
			assert_int_equal(store_index_add(t, m->dir, "x1"), 0);
		} else {
			n = snprintf(rec, sizeof(rec), "step %d\n", step);
			m->seq++;
			assert_int_equal(store_stream_append(t, m->dir, m->seq, (uint64_t)step * 10,
							     rec, (size_t)n, NULL),
					 0);
			assert_int_equal(store_stream_trim(t, m->dir, (uint64_t)step * 10 - 500, 0,
							   0, NULL, NULL),
					 0);
		}
		free(v);
	}
	if (fail) {
		unsigned char *big = pattern(STORE_ITEM_MAX + 1, 1);
		uint64_t any = m->ino[0];

		for (unsigned f = 0; !any && f < UNDO_FILES; f++)
			any = m->ino[f];
		if (any)
			assert_int_equal(store_data_put(t, any, big, STORE_ITEM_MAX + 1), -EFBIG);
		free(big);
	}
}

/* Runs the steps on st; with undo, aborts some children (and children of children). */
static void undo_run(struct store *st, bool undo)
{
	struct undo_model m = {0}, saved;
	struct store_txn *t, *c, *g;
	struct store_attr root;

	t = begin(st, STORE_TXN_WRITE);
	root = attr_of(t, STORE_ROOT_INO); /* made with the store's own times */
	root.atime = root.mtime = root.ctime = (struct timespec){1700000000, 1};
	assert_int_equal(store_inode_put(t, &root), 0);
	m.dir = make_dir(t, STORE_ROOT_INO, "d");
	assert_int_equal(store_index_add(t, m.dir, "x1"), 0); /* kept in meta as xattrs change */
	for (int step = 0; step < UNDO_STEPS; step++) {
		bool abort = step % 3 == 1, nest = step % 5 == 2, nest_abort = step % 10 == 2;

		if (step % 250 == 249) { /* a new batch now and then */
			assert_int_equal(store_txn_commit(t), 0);
			t = begin(st, STORE_TXN_WRITE);
		}
		if (abort && !undo)
			continue;
		saved = m;
		c = begin_nested(t);
		/* (a child of a child is undone only while the redo log is whole) */
		undo_writes(c, &m, step, nest_abort, abort && step % 2 == 0);
		if (nest && !(nest_abort && !undo)) {
			struct undo_model before = m;

			g = begin_nested(c);
			undo_writes(g, &m, step + UNDO_STEPS, false, false);
			if (nest_abort) {
				store_txn_abort(g);
				m = before;
			} else {
				assert_int_equal(store_txn_commit(g), 0);
			}
		}
		if (abort) {
			store_txn_abort(c);
			m = saved;
		} else {
			assert_int_equal(store_txn_commit(c), 0);
		}
	}
	assert_int_equal(store_txn_commit(t), 0);
}

static void test_nested_undo_exact(void **state)
{
	static const char *const dbs[] = {"meta", "inode", "dirent", "data", "xattr", "streams"};
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct store *b;
	uint64_t na, nb, da, db;
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/b", f->tmp);
	undo_run(f->st, true);
	cfg.path = dir;
	assert_int_equal(store_open(&cfg, &b), 0);
	undo_run(b, false);
	store_close(b);
	assert_clean(f);
	store_close(f->st);
	f->st = NULL;
	da = raw_digest_of(f->path, dbs, 6, &na);
	db = raw_digest_of(dir, dbs, 6, &nb);
	assert_int_equal(na, nb);
	assert_int_equal(da, db);
	assert_true(na > 100);
}

/*
 * A child of a child that must be undone after its parent wrote a value
 * too large for the redo log cannot be: it breaks the whole txn, whose
 * commit fails and leaves the store as it was.
 */
static void test_nested_undo_past_lost_log(void **state)
{
	struct fx *f = *state;
	unsigned char *big = pattern(UNDO_BIG, 5);
	struct store_txn *t, *c, *g;
	uint64_t kept, ino;
	char want[512];

	t = begin(f->st, STORE_TXN_WRITE);
	kept = make_file(t, STORE_ROOT_INO, "kept");
	assert_int_equal(store_txn_commit(t), 0);

	t = begin(f->st, STORE_TXN_WRITE);
	c = begin_nested(t);
	assert_int_equal(store_data_put(c, kept, big, UNDO_BIG), 0);
	g = begin_nested(c);
	make_file(g, STORE_ROOT_INO, "lost");
	store_txn_abort(g);
	assert_int_equal(store_txn_commit(c), 0);
	assert_int_equal(store_txn_commit(t), -EIO);
	snprintf(want, sizeof(want),
		 "%s: undoing a nested transaction after a value too large to log: %s", f->path,
		 mdb_strerror(MDB_BAD_TXN));
	assert_true(logged(want));

	t = begin(f->st, STORE_TXN_READ);
	assert_data(t, kept, NULL, 0);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "lost", 4, &ino), -ENOENT);
	store_txn_abort(t);
	free(big);
}

static void test_backup_same_records(void **state)
{
	struct fx *f = *state;
	struct bk_progress p = {0};
	struct store_check_summary want, got;
	unsigned char *big = pattern(400000, 9);
	struct store_statfs sf;
	struct store_txn *t;
	char dir[256];
	uint64_t n, ino;

	make_tree(f);
	t = begin(f->st, STORE_TXN_WRITE);
	ino = make_file(t, STORE_ROOT_INO, "large");
	assert_int_equal(store_data_put(t, ino, big, 400000), 0);
	set_xattr(t, ino, "user.v", 0);
	set_xattr(t, ino, "trusted.x", 700);
	assert_int_equal(store_txn_commit(t), 0);
	want = assert_clean(f);

	snprintf(dir, sizeof(dir), "%s/copy", f->tmp);
	backup_to(f->st, dir, &p);
	store_close(f->st);
	f->st = NULL;
	assert_same_records(f->path, dir);
	raw_digest(dir, &n);
	assert_int_equal(n, 2 + 9 + 9 + 4 + 4); /* meta, inodes, entries, data, xattrs */

	open_copy(f, dir);
	got = assert_clean(f);
	assert_memory_equal(&got, &want, sizeof(got));
	assert_int_equal(store_statfs(f->st, &sf), 0);
	assert_int_equal(sf.inodes, 9);
	t = begin(f->st, STORE_TXN_READ);
	assert_data(t, ino, big, 400000);
	store_txn_abort(t);
	free(big);
}

static void test_backup_compacts(void **state)
{
	struct fx *f = *state;
	struct bk_progress p = {0};
	struct store_statfs sf;
	struct store_txn *t;
	struct stat sb;
	char dir[256], data[256];
	unsigned char *buf;
	uint64_t first, size;

	first = write_items(f->st, 50); /* 20 MB */
	t = begin(f->st, STORE_TXN_WRITE);
	for (int i = 0; i < 45; i++) {
		char name[16];

		snprintf(name, sizeof(name), "item%d", i);
		assert_int_equal(store_dirent_remove(t, STORE_ROOT_INO, name, strlen(name), NULL),
				 0);
		assert_int_equal(store_inode_free(t, first + (uint64_t)i), 0);
	}
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_statfs(f->st, &sf), 0);

	snprintf(dir, sizeof(dir), "%s/copy", f->tmp);
	size = backup_to(f->st, dir, &p);
	snprintf(data, sizeof(data), "%s/data.mdb", f->path);
	assert_int_equal(stat(data, &sb), 0);
	/* the freed pages stay in the store's file, and are not in the copy */
	assert_true(sb.st_size > 20000000);
	assert_true(size < (uint64_t)sb.st_size / 4);
	assert_true(size >= 5 * 400000);
	assert_true(size <= sf.bytes_used);
	store_close(f->st);
	f->st = NULL;
	assert_same_records(f->path, dir);

	open_copy(f, dir);
	buf = pattern(400000 + 50, 0); /* what write_items() wrote */
	t = begin(f->st, STORE_TXN_READ);
	for (int j = 45; j < 50; j++)
		assert_data(t, first + (uint64_t)j, buf + j, 400000);
	store_txn_abort(t);
	free(buf);
	assert_int_equal(assert_clean(f).inodes, 6);
}

/*
 * The writer of test_backup_point_in_time: BK_COMMITS commits, each
 * rewriting every item left, deleting one and adding one; on its own thread,
 * so it returns a status instead of asserting.
 */
#define BK_COMMITS 8

struct bk_writer {
	struct store *st;
	uint64_t first; /* items first .. first + 19, named item0 .. item19 */
	int commits;
};

static int bk_commit(struct bk_writer *w, int k, const unsigned char *buf)
{
	struct store_attr a = {.mode = S_IFREG | 0644};
	struct store_txn *t;
	char name[16];
	int rc;

	rc = store_txn_begin(w->st, STORE_TXN_WRITE, &t);
	if (rc)
		return rc;
	for (int j = k + 1; j < 20 && !rc; j++)
		rc = store_data_put(t, w->first + (uint64_t)j, buf + k + j, 400000);
	snprintf(name, sizeof(name), "item%d", k);
	if (!rc)
		rc = store_dirent_remove(t, STORE_ROOT_INO, name, strlen(name), NULL);
	if (!rc)
		rc = store_inode_free(t, w->first + (uint64_t)k);
	snprintf(name, sizeof(name), "new%d", k);
	if (!rc)
		rc = store_ino_alloc(t, &a.ino);
	if (!rc)
		rc = store_inode_put(t, &a);
	if (!rc)
		rc = store_dirent_add(t, STORE_ROOT_INO, name, strlen(name), a.ino);
	if (!rc)
		rc = store_data_put(t, a.ino, buf, 1000);
	if (rc) {
		store_txn_abort(t);
		return rc;
	}
	return store_txn_commit(t);
}

static void *bk_writer_thread(void *arg)
{
	struct bk_writer *w = arg;
	unsigned char *buf = pattern(400000 + 64, 5);
	intptr_t rc = 0;

	for (int k = 0; k < BK_COMMITS && !rc; k++) {
		rc = bk_commit(w, k, buf);
		if (!rc)
			w->commits++;
	}
	free(buf);
	return (void *)rc;
}

/* Inside the backup's first progress call (its read transaction has begun;
 * most of the store is still to be copied): commits on another thread and
 * waits for them. */
static int bk_write_during(void *arg)
{
	pthread_t th;
	void *res;

	if (pthread_create(&th, NULL, bk_writer_thread, arg) != 0)
		return -1;
	pthread_join(th, &res);
	return (int)(intptr_t)res;
}

static void test_backup_point_in_time(void **state)
{
	struct fx *f = *state;
	struct bk_writer w = {.st = f->st};
	struct bk_progress p0 = {0}, p1 = {.first = bk_write_during, .first_arg = &w};
	struct store_check_summary s;
	struct store_txn *t;
	char before[256], during[256];
	uint64_t ino;

	w.first = write_items(f->st, 20); /* 8 MB: far more than the copy buffers */
	snprintf(before, sizeof(before), "%s/before", f->tmp);
	snprintf(during, sizeof(during), "%s/during", f->tmp);
	assert_true(backup_to(f->st, before, &p0) > 8000000);
	backup_to(f->st, during, &p1);
	assert_int_equal(w.commits, BK_COMMITS);
	assert_true(p1.calls > 1); /* the copy went on after the commits */

	/* the store has the commits; the copy taken during them has none */
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "new0", 4, &ino), 0);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "item0", 5, &ino), -ENOENT);
	store_txn_abort(t);
	store_close(f->st);
	f->st = NULL;
	assert_same_records(before, during);

	open_copy(f, during);
	s = assert_clean(f);
	assert_int_equal(s.inodes, 21);
	assert_int_equal(s.bytes, 20 * 400000);
	check_items(f->st, w.first, 20);
	t = begin(f->st, STORE_TXN_READ);
	assert_int_equal(store_dirent_get(t, STORE_ROOT_INO, "new0", 4, &ino), -ENOENT);
	store_txn_abort(t);
}

static void test_backup_after_growth_elsewhere(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	struct bk_progress p = {0};
	struct store_txn *t;
	char dir[256];
	int status;
	pid_t pid;

	cfg.map_size_init = 1 * MIB;
	cfg.map_room_min = 16 * MIB;
	assert_int_equal(store_open(&cfg, &f->st), 0);
	t = begin(f->st, STORE_TXN_READ);
	store_txn_abort(t); /* leaves a reset read txn to be renewed */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_write_items(f->path, 50));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* the data lies past this process's 1 MiB map: the backup adopts the
	 * other process's map size before it copies */
	snprintf(dir, sizeof(dir), "%s/copy", f->tmp);
	assert_true(backup_to(f->st, dir, &p) > 50 * 400000);
	store_close(f->st);
	f->st = NULL;
	assert_same_records(f->path, dir);
	open_copy(f, dir);
	check_items(f->st, 2, 50);
}

static void test_backup_write_error(void **state)
{
	struct fx *f = *state;
	struct bk_progress p = {0};
	struct store_check_summary s;
	struct store_txn *t;
	char dir[256];
	int fd;

	make_tree(f);
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(store_backup(f->st, fd, bk_progress, &p), -EBADF);
	close(fd);
	assert_int_equal(p.calls, 0);
	assert_int_equal(store_backup(f->st, -1, NULL, NULL), -EBADF);

	/* the store is as usable as before, and backs up */
	snprintf(dir, sizeof(dir), "%s/copy", f->tmp);
	backup_to(f->st, dir, &p);
	t = begin(f->st, STORE_TXN_WRITE);
	make_file(t, STORE_ROOT_INO, "after");
	assert_int_equal(store_txn_commit(t), 0);
	open_copy(f, dir);
	s = assert_clean(f);
	assert_tree_counts(&s);
}

/* In a child process, with no cmocka: opens the store and holds it open
 * until the parent writes a byte to go; says "open" through ready first. */
static int child_hold_open(const char *path, bool read_only, int ready, int go)
{
	struct store_config cfg = {.path = path, .read_only = read_only, .log = capture_log};
	struct store *st;
	char c = 'o';

	if (store_open(&cfg, &st) != 0)
		return 1;
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		return 2;
	store_close(st);
	return 0;
}

static void test_store_in_use(void **state)
{
	struct fx *f = *state;
	char other[256];
	int ready[2], go[2], status;
	char c;
	pid_t pid;

	store_close(f->st); /* this process must not have it open */
	f->st = NULL;
	assert_int_equal(store_in_use(f->path), 0); /* a lock file nobody holds */
	for (int ro = 0; ro < 2; ro++) {
		assert_int_equal(pipe(ready), 0);
		assert_int_equal(pipe(go), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(child_hold_open(f->path, ro, ready[1], go[0]));
		assert_int_equal(read(ready[0], &c, 1), 1);
		assert_int_equal(store_in_use(f->path), 1); /* a mount, or a check */
		assert_int_equal(write(go[1], &c, 1), 1);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_int_equal(store_in_use(f->path), 0); /* its locks went with it */
		close(ready[0]);
		close(ready[1]);
		close(go[0]);
		close(go[1]);
	}
	snprintf(other, sizeof(other), "%s/absent", f->tmp);
	assert_int_equal(store_in_use(other), 0);
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(store_in_use(other), 0);
}

/* A data.mdb cut short (a copy that ran out of disk) is refused when opened,
 * instead of faulting (SIGBUS) on the first page past its end. */
static void test_refuse_truncated_data(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	char data[256], want[256];
	struct stat sb;
	bool found = false;

	write_items(f->st, 5);
	store_close(f->st);
	f->st = NULL;
	snprintf(data, sizeof(data), "%s/data.mdb", f->path);
	assert_int_equal(stat(data, &sb), 0);
	assert_int_equal(truncate(data, sb.st_size / 2), 0);
	snprintf(want, sizeof(want), "%s: data.mdb is %lld bytes, but its pages reach %lld bytes",
		 f->path, (long long)(sb.st_size / 2), (long long)sb.st_size);
	assert_int_equal(store_open(&cfg, &f->st), -EIO);
	assert_null(f->st);
	cfg.read_only = true;
	assert_int_equal(store_open(&cfg, &f->st), -EIO);
	for (int i = 0; i < log_count && i < LOG_LINES; i++)
		found = found || strncmp(log_lines[i], want, strlen(want)) == 0;
	if (!found)
		print_message("expected a log line beginning '%s'\n", want);
	assert_true(found);
	assert_int_equal(stat(data, &sb), 0); /* and left as it was */
}

/*
 * Pages in the free list of data.mdb's newest snapshot, as LMDB itself reads
 * it (the oracle for lmdb_tail.c, which reads it without LMDB): *is_free
 * gets a calloc()ed flag per page up to *last, the newest meta's last page.
 */
static void raw_free_pages(const char *path, bool **is_free, size_t *last)
{
	MDB_envinfo info;
	MDB_cursor *c;
	MDB_val k, v;
	struct raw r;
	int rc;

	raw_open(&r, path, false);
	assert_int_equal(mdb_env_info(r.env, &info), 0);
	*last = info.me_last_pgno;
	*is_free = calloc(*last + 1, sizeof(bool));
	assert_non_null(*is_free);
	assert_int_equal(mdb_cursor_open(r.txn, 0 /* FREE_DBI */, &c), 0);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const size_t *ids = v.mv_data; /* an IDL: a count, then that many pages */

		for (size_t i = 1; i <= ids[0]; i++) {
			assert_true(ids[i] <= *last);
			(*is_free)[ids[i]] = true;
		}
	}
	assert_int_equal(rc, MDB_NOTFOUND);
	mdb_cursor_close(c);
	raw_close(&r);
}

/*
 * Makes f's store (closed after) end before its newest meta page's last
 * page by free pages only, as a kill -9 after a commit that freed pages it
 * had allocated leaves it: a value on a run of new pages at the end, then
 * freed, and the trailing free pages cut off. *keep gets the pages kept,
 * *last the meta's last page; data (256 bytes) the path of data.mdb.
 */
static void make_short_store(struct fx *f, size_t *keep, size_t *last, char *data)
{
	unsigned char *big = pattern(300000, 7);
	char key[] = "scratch";
	MDB_val k = {sizeof(key) - 1, key}, v = {300000, big};
	struct raw r;
	bool *is_free;

	write_items(f->st, 5);
	store_close(f->st);
	f->st = NULL;
	raw_open(&r, f->path, true);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "meta", 0), &k, &v, 0), 0);
	raw_close(&r);
	raw_open(&r, f->path, true);
	assert_int_equal(mdb_del(r.txn, raw_dbi(&r, "meta", 0), &k, NULL), 0);
	raw_close(&r);
	raw_free_pages(f->path, &is_free, last);
	for (*keep = *last + 1; *keep > 2 && is_free[*keep - 1]; (*keep)--)
		;
	free(is_free);
	assert_true(*keep < *last + 1); /* else the test cuts nothing */
	snprintf(data, 256, "%s/data.mdb", f->path);
	assert_int_equal(truncate(data, (off_t)(*keep * 4096)), 0);
	free(big);
}

/* Asserts that opening f's store fails with -EIO, logging first that data.mdb
 * of size bytes is truncated, its pages reaching need bytes. */
static void assert_open_truncated(struct fx *f, struct store_config *cfg, size_t size, size_t need)
{
	char want[256];

	snprintf(want, sizeof(want), "%s: data.mdb is %zu bytes, but its pages reach %zu bytes",
		 f->path, size, need);
	log_count = 0;
	assert_int_equal(store_open(cfg, &f->st), -EIO);
	assert_null(f->st);
	assert_true(log_count > 0);
	if (strncmp(log_lines[0], want, strlen(want)) != 0)
		print_message("expected a log line beginning '%s', got '%s'\n", want, log_lines[0]);
	assert_true(strncmp(log_lines[0], want, strlen(want)) == 0);
}

/*
 * A commit that frees pages it allocated itself leaves them unwritten, and
 * when they are the last pages data.mdb ends before them (seen after a
 * kill -9 in the crash tests): such a store opens, reads and checks clean.
 * One page shorter still, so that a page in use is missing, it is refused.
 */
static void test_open_short_by_free_pages(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	char data[256];
	size_t last, keep;

	make_short_store(f, &keep, &last, data);
	assert_int_equal(store_open(&cfg, &f->st), 0);
	assert_int_equal(assert_clean(f).items, 5);
	store_close(f->st);
	f->st = NULL;
	cfg.read_only = true;
	assert_int_equal(store_open(&cfg, &f->st), 0);
	store_close(f->st);
	f->st = NULL;

	assert_int_equal(truncate(data, (off_t)((keep - 1) * 4096)), 0);
	assert_open_truncated(f, &cfg, (keep - 1) * 4096, (last + 1) * 4096);
}

/* A branch page pgno of 200 nodes, all one node whose child is page child
 * (LMDB 0.9: header 16 bytes, flags 1 at byte 10, lower at 12; a branch
 * node's child page is lo | hi << 16 | flags << 32). */
static void write_branch(int fd, uint64_t pgno, uint64_t child)
{
	unsigned char page[4096] = {0};

	memcpy(page, &pgno, 8);
	page[10] = 1;
	page[12] = (unsigned char)((16 + 2 * 200) & 0xff);
	page[13] = (unsigned char)((16 + 2 * 200) >> 8);
	for (int i = 0; i < 200; i++) {
		page[16 + 2 * i] = (unsigned char)(4000 & 0xff);
		page[16 + 2 * i + 1] = (unsigned char)(4000 >> 8);
	}
	for (int b = 0; b < 6; b++) /* lo, hi, flags; then a key of 0 bytes */
		page[4000 + b] = (unsigned char)(child >> (8 * b));
	assert_int_equal(pwrite(fd, page, sizeof(page), (off_t)(pgno * 4096)), 4096);
}

/*
 * A short store whose free list is damaged into a wide tree over a few
 * pages -- its root a branch whose 200 children are one branch page, whose
 * 200 are one more, and so on down to an empty leaf: 200^4 paths -- is
 * refused, and at once: the reading of the free list (lmdb_tail.c) gives up
 * after as many pages as the file has.
 */
static void test_open_short_with_free_list_dag(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = config(f);
	unsigned char meta[4096], leaf[4096] = {0};
	uint64_t root = 0, txnid = 0, pg[5];
	char data[256];
	size_t last, keep;
	int fd, n = 0;

	make_short_store(f, &keep, &last, data);
	fd = open(data, O_RDWR);
	assert_true(fd >= 0);
	/* The newest meta page's free-list root: page header 16 bytes, then
	 * magic, version, address, map size (24), the free list's MDB_db (its
	 * root at 40), the main one (48), the last page (8), the txnid. */
	for (int m = 0; m < 2; m++) {
		uint64_t id, r;

		assert_int_equal(pread(fd, meta, 4096, (off_t)m * 4096), 4096);
		memcpy(&id, meta + 16 + 24 + 96 + 8, 8);
		memcpy(&r, meta + 16 + 24 + 40, 8);
		if (m == 0 || id > txnid)
			txnid = id, root = r;
	}
	assert_true(root > 1 && root < keep);
	pg[n++] = root;
	for (uint64_t p = 2; n < 5 && p < keep; p++)
		if (p != root)
			pg[n++] = p;
	assert_int_equal(n, 5);
	for (int i = 0; i < 4; i++)
		write_branch(fd, pg[i], pg[i + 1]);
	memcpy(leaf, &pg[4], 8); /* an empty leaf: flags 2, lower 16 */
	leaf[10] = 2;
	leaf[12] = 16;
	assert_int_equal(pwrite(fd, leaf, sizeof(leaf), (off_t)(pg[4] * 4096)), 4096);
	close(fd);
	cfg.read_only = true;
	assert_open_truncated(f, &cfg, keep * 4096, (last + 1) * 4096);
}

int main(void)
{
#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_create_and_reopen, setup_dir),
	    T(test_create_in_empty_dir, setup_dir),
	    T(test_open_errors, setup_dir),
	    T(test_refuse_unrelated_dir, setup_dir),
	    T(test_refuse_non_lmdb_data, setup_dir),
	    T(test_refuse_empty_data_mdb, setup_dir),
	    T(test_refuse_lmdb_without_meta, setup_dir),
	    T(test_refuse_format_version, setup_store),
	    T(test_refuse_meta_without_format, setup_store),
	    T(test_format_bytes, setup_store),
	    T(test_inode_record_corrupt, setup_store),
	    T(test_ino_alloc_monotonic, setup_store),
	    T(test_inode_roundtrip, setup_store),
	    T(test_inode_put_keeps_store_fields, setup_store),
	    T(test_dirent_file_links, setup_store),
	    T(test_dirent_dir_links, setup_store),
	    T(test_hard_links, setup_store),
	    T(test_dirent_remove_dangling, setup_store),
	    T(test_dir_list_byte_order, setup_store),
	    T(test_name_rules, setup_store),
	    T(test_dir_list_stops, setup_store),
	    T(test_dir_is_empty, setup_store),
	    T(test_data_roundtrip, setup_store),
	    T(test_data_packed_in_key_order, setup_store),
	    T(test_item_limit_data, setup_store),
	    T(test_item_limit_xattr, setup_store),
	    T(test_item_limit_link, setup_store),
	    T(test_data_checksum_mismatch, setup_store),
	    T(test_xattr_flags, setup_store),
	    T(test_xattr_list_and_remove, setup_store),
	    T(test_inode_free, setup_store),
	    T(test_abort_discards, setup_store),
	    T(test_read_snapshot, setup_store),
	    T(test_read_only, setup_store),
	    T(test_null_is_noop, setup_dir),
	    T(test_statfs, setup_store),
	    T(test_map_growth, setup_dir),
	    T(test_map_full_in_txn, setup_dir),
	    T(test_map_pages_unmapped, setup_dir),
	    T(test_growth_waits_for_readers, setup_dir),
	    T(test_growth_with_concurrent_readers, setup_dir),
	    T(test_map_resized_by_other_process, setup_dir),
	    T(test_nested_commit_merges, setup_store),
	    T(test_nested_abort_restores, setup_store),
	    T(test_inode_reads_in_one_txn, setup_store),
	    T(test_nested_failure_then_abort, setup_store),
	    T(test_nested_many_children, setup_store),
	    T(test_nested_on_read_txn, setup_store),
	    T(test_nested_abort_forgets_parent_reads, setup_store),
	    T(test_nested_undo_exact, setup_store),
	    T(test_nested_undo_past_lost_log, setup_store),
	    T(test_changes_each_op, setup_store),
	    T(test_changes_seq_across_commits, setup_store),
	    T(test_changes_coalesce, setup_store),
	    T(test_changes_abort_leaves_none, setup_store),
	    T(test_changes_origin_and_generation, setup_store),
	    T(test_changes_trim, setup_store),
	    T(test_change_format_bytes, setup_store),
	    T(test_changes_store_without_log, setup_store),
	    T(test_check_clean, setup_store),
	    T(test_check_data_checksum, setup_store),
	    T(test_check_wrong_size, setup_store),
	    T(test_check_dangling_dirent, setup_store),
	    T(test_check_orphan_inode, setup_store),
	    T(test_check_orphan_directory, setup_store),
	    T(test_orphans, setup_store),
	    T(test_expiry_index, setup_store),
	    T(test_expiry_values, setup_store),
	    T(test_check_expiry_index, setup_store),
	    T(test_stream_append_read_trim, setup_store),
	    T(test_stream_nested_abort, setup_store),
	    T(test_stream_heads_in_one_txn, setup_store),
	    T(test_stream_heads_many_tables, setup_store),
	    T(test_stream_store_without_streams, setup_store),
	    T(test_check_streams, setup_store),
	    T(test_check_file_nlink, setup_store),
	    T(test_check_dir_nlink, setup_store),
	    T(test_check_parent_pointer, setup_store),
	    T(test_check_records_of_missing_inodes, setup_store),
	    T(test_check_xattr_bytes, setup_store),
	    T(test_check_directory_cycle, setup_store),
	    T(test_check_format_version, setup_store),
	    T(test_backup_same_records, setup_store),
	    T(test_backup_compacts, setup_store),
	    T(test_backup_point_in_time, setup_store),
	    T(test_backup_after_growth_elsewhere, setup_dir),
	    T(test_backup_write_error, setup_store),
	    T(test_store_in_use, setup_store),
	    T(test_refuse_truncated_data, setup_store),
	    T(test_open_short_by_free_pages, setup_store),
	    T(test_open_short_with_free_list_dag, setup_store),
	};
#undef T
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
