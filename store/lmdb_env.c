/*
 * lmdb_env.c - the LMDB environment behind a store: opening it (after a
 * read-only validation pass that never modifies what it finds), creating a
 * new store, transactions (read txns recycled through mdb_txn_reset/renew;
 * LMDB itself serialises writers), growing the map before it fills,
 * statfs, sync, and the one mapping of LMDB codes to errno values.
 * The item operations are in lmdb.c; the byte layout in lmdb_format.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lmdb_i.h"

#define MIB ((size_t)1 << 20)
#define LMDB_MAP_DEFAULT (1024 * MIB) /* address space; the file grows only as pages are used */
/* A write txn begins with at least max(this, map size / 4) bytes of map free. */
#define LMDB_ROOM_MIN (256 * MIB) /* default of store_config.map_room_min */
#define LMDB_IDLE_MAX 8 /* reset read txns kept for reuse */
/*
 * Longest a txn begin waits for a pending remap. Bounded because the
 * transaction the remap waits for may belong to the waiting thread itself.
 */
#define LMDB_REMAP_WAIT_S 1
#define LMDB_RESIZED_RETRIES 3 /* begins retried after MDB_MAP_RESIZED */
#define LMDB_STAGE_CHILDREN 128	     /* children per stage of a top-level write txn */
/*
 * A stage's redo log holds at most this much, and no value larger than
 * LMDB_REDO_VAL_MAX: past either, the stage ends at the next child.
 */
#define LMDB_REDO_MAX (4 * MIB)
#define LMDB_REDO_VAL_MAX (64u << 10)
#define LMDB_RESIDENT_MAX (16 * MIB) /* default of store_config.map_resident_max */
/* Seconds between two looks at how much of the map is resident (resident_trim_locked()). */
#define LMDB_RESIDENT_CHECK 0.25

int lmdb_errno(const struct lmdb_store *st, int rc, const char *what, uint64_t ino)
{
	switch (rc) {
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_MAP_FULL:
		lmdb_log(st, LOG_WARNING,
			 "%s: the map is full; the transaction fails with ENOSPC and the "
			 "map grows before the next one",
			 what);
		return -ENOSPC;
	case ENOSPC:
		return -ENOSPC;
	case EACCES:
	case EROFS:
	case EBUSY:
	case ENOMEM:
		return -rc;
	}
	if (ino)
		lmdb_log(st, LOG_ERR, "%s (inode %llu): %s", what, (unsigned long long)ino,
			 mdb_strerror(rc));
	else
		lmdb_log(st, LOG_ERR, "%s: %s", what, mdb_strerror(rc));
	return -EIO;
}

/* ---- opening ---------------------------------------------------------- */

static int path_join(char out[PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Sets *empty when dir holds nothing but "." and "..". */
static int dir_is_empty_path(const char *dir, bool *empty)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return -errno;
	*empty = true;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			*empty = false;
			break;
		}
	closedir(d);
	return 0;
}

/* Creates directory path with mode 0700 exactly, whatever the umask. */
static int make_dir(const char *path)
{
	int rc;

	if (mkdir(path, 0700) < 0)
		return -errno;
	if (chmod(path, 0700) < 0) {
		rc = -errno;
		rmdir(path);
		return rc;
	}
	return 0;
}

/*
 * Decides what cfg->path is: an existing store to validate (*fresh false),
 * or a place for a new one (*fresh true; *made_dir when the directory was
 * created here, with mode 0700 whatever the umask). Touches nothing else.
 */
static int locate(const struct store_config *cfg, bool *fresh, bool *made_dir)
{
	const char *path = cfg->path;
	bool create = cfg->create && !cfg->read_only;
	char data_path[PATH_MAX];
	struct stat sb;
	bool empty = false;
	int rc;

	if (stat(path, &sb) < 0) {
		rc = -errno;
		if (rc != -ENOENT || !create) {
			store_log(cfg->log, LOG_ERR, "%s: cannot open the store directory: %s",
				  path, strerror(-rc));
			return rc;
		}
		rc = make_dir(path);
		if (rc) {
			store_log(cfg->log, LOG_ERR, "%s: cannot create the store directory: %s",
				  path, strerror(-rc));
			return rc;
		}
		*fresh = *made_dir = true;
		return 0;
	}
	if (!S_ISDIR(sb.st_mode)) {
		store_log(cfg->log, LOG_ERR, "%s: not a directory; a store is a directory", path);
		return -ENOTDIR;
	}
	rc = path_join(data_path, path, "data.mdb");
	if (rc)
		return rc;
	if (stat(data_path, &sb) == 0) {
		if (!S_ISREG(sb.st_mode) || sb.st_size == 0) {
			store_log(cfg->log, LOG_ERR,
				  "%s: data.mdb is %s, not an LMDB file: not an itemfs store; "
				  "nothing was changed",
				  path, S_ISREG(sb.st_mode) ? "empty" : "not a regular file");
			return -EINVAL;
		}
		return 0;
	}
	if (errno != ENOENT) {
		rc = -errno;
		store_log(cfg->log, LOG_ERR, "%s: cannot read data.mdb: %s", path, strerror(-rc));
		return rc;
	}
	rc = dir_is_empty_path(path, &empty);
	if (rc) {
		store_log(cfg->log, LOG_ERR, "%s: cannot list the directory: %s", path,
			  strerror(-rc));
		return rc;
	}
	if (!empty) {
		store_log(cfg->log, LOG_ERR,
			  "%s: not an itemfs store (the directory holds other files and no "
			  "data.mdb); nothing was changed",
			  path);
		return -EINVAL;
	}
	if (!create) {
		store_log(
		    cfg->log, LOG_ERR,
		    "%s: empty directory, not an itemfs store; open it with create to make one",
		    path);
		return -EINVAL;
	}
	*fresh = true;
	return 0;
}

/* The errno for a failed mdb_env_open(), logged; file names the suspect. */
static int env_open_errno(const struct store_config *cfg, int rc, const char *file)
{
	switch (rc) {
	case MDB_INVALID:
		store_log(cfg->log, LOG_ERR,
			  "%s: %s is not an LMDB file: not an itemfs store; nothing was changed",
			  cfg->path, file);
		return -EINVAL;
	case MDB_VERSION_MISMATCH:
		store_log(cfg->log, LOG_ERR,
			  "%s: %s was written by an incompatible LMDB version (this is %s)",
			  cfg->path, file, MDB_VERSION_STRING);
		return -EPROTO;
	case EAGAIN:
	case EBUSY:
		store_log(cfg->log, LOG_ERR, "%s: the store is locked by another process",
			  cfg->path);
		return -EBUSY;
	}
	store_log(cfg->log, LOG_ERR, "%s: cannot open %s: %s", cfg->path, file, mdb_strerror(rc));
	return rc > 0 ? -rc : -EIO;
}

/*
 * Refuses a data.mdb shorter than the pages its newest meta page counts (a
 * copy cut short, e.g. on a full disk): reading past its end would fault
 * (SIGBUS) instead of failing. LMDB writes a commit's pages before its meta
 * page, except pages the commit freed again before it ended: a whole file
 * is shorter only by free pages (lmdb_tail_free()).
 */
static int check_length(const struct store_config *cfg, MDB_env *env, const MDB_envinfo *info)
{
	mdb_filehandle_t fd;
	struct stat sb;
	MDB_stat ms;
	uint64_t need;
	int rc;

	if (mdb_env_get_fd(env, &fd) || fstat(fd, &sb) < 0 || mdb_env_stat(env, &ms))
		return 0; /* nothing to compare with; the open goes on as before */
	need = ((uint64_t)info->me_last_pgno + 1) * ms.ms_psize;
	if ((uint64_t)sb.st_size >= need)
		return 0;
	rc = lmdb_tail_free(fd, ms.ms_psize, (uint64_t)sb.st_size / ms.ms_psize);
	if (rc == 0)
		return 0;
	if (rc < 0) {
		store_log(cfg->log, LOG_ERR, "%s: cannot read data.mdb: %s", cfg->path,
			  strerror(-rc));
		return rc;
	}
	store_log(cfg->log, LOG_ERR,
		  "%s: data.mdb is %llu bytes, but its pages reach %llu bytes: the file is "
		  "truncated (damaged; an incomplete copy?)",
		  cfg->path, (unsigned long long)sb.st_size, (unsigned long long)need);
	return -EIO;
}

/*
 * Checks, without modifying anything (MDB_RDONLY|MDB_NOLOCK: not even a lock
 * file), that cfg->path holds an itemfs store of our format, and reports the
 * map size recorded in it.
 */
static int validate(const struct store_config *cfg, size_t *map_size)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_envinfo info;
	MDB_val key = lmdb_meta_key(LMDB_META_FORMAT), val;
	MDB_stat ms;
	MDB_dbi dbi;
	uint32_t format;
	int rc;

	rc = mdb_env_create(&env);
	if (rc) {
		env = NULL;
		rc = env_open_errno(cfg, rc, "data.mdb");
		goto out;
	}
	rc = mdb_env_set_maxdbs(env, LMDB_MAXDBS);
	if (!rc)
		rc = mdb_env_open(env, cfg->path, MDB_RDONLY | MDB_NOLOCK, 0600);
	if (!rc) {
		mdb_env_info(env, &info);
		rc = check_length(cfg, env, &info); /* before any page past the metas is read */
		if (rc)
			goto out;
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	}
	if (rc) {
		rc = env_open_errno(cfg, rc, "data.mdb");
		goto out;
	}
	rc = mdb_dbi_open(txn, LMDB_DB_META, 0, &dbi);
	if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
		store_log(cfg->log, LOG_ERR,
			  "%s: an LMDB environment without a meta database: not an itemfs store; "
			  "nothing was changed",
			  cfg->path);
		rc = -EINVAL;
		goto out;
	}
	if (!rc)
		rc = mdb_get(txn, dbi, &key, &val);
	if (rc == MDB_NOTFOUND && mdb_stat(txn, dbi, &ms) == 0 && ms.ms_entries > 0) {
		/* A damaged page can hide a record: LMDB then reports it absent. */
		store_log(cfg->log, LOG_ERR,
			  "%s: the meta database holds %zu record%s but LMDB finds no format record "
			  "in it: the store is damaged (or not an itemfs store); nothing was changed",
			  cfg->path, ms.ms_entries, ms.ms_entries == 1 ? "" : "s");
		rc = -EIO;
		goto out;
	}
	if (rc == MDB_NOTFOUND || (!rc && lmdb_u32_get(&val, &format))) {
		store_log(cfg->log, LOG_ERR,
			  "%s: the meta database has no valid format record: not an itemfs store; "
			  "nothing was changed",
			  cfg->path);
		rc = -EINVAL;
		goto out;
	}
	if (rc) {
		rc = env_open_errno(cfg, rc, "data.mdb");
		goto out;
	}
	if (format != STORE_FORMAT_VERSION) {
		store_log(cfg->log, LOG_ERR,
			  "%s: store format version %u; this itemfs reads only version %u",
			  cfg->path, format, STORE_FORMAT_VERSION);
		rc = -EPROTO;
		goto out;
	}
	mdb_env_info(env, &info);
	*map_size = info.me_mapsize;
out:
	if (txn)
		mdb_txn_abort(txn);
	if (env)
		mdb_env_close(env);
	return rc;
}

static int env_open(struct lmdb_store *st, const struct store_config *cfg, size_t map_size)
{
	unsigned flags = MDB_NOTLS | (st->read_only ? MDB_RDONLY : 0);
	char data[PATH_MAX];
	struct stat sb;
	MDB_stat ms;
	int rc;

	rc = mdb_env_create(&st->env);
	if (rc) {
		st->env = NULL;
		return env_open_errno(cfg, rc, "data.mdb");
	}
	rc = mdb_env_set_maxdbs(st->env, LMDB_MAXDBS);
	if (!rc)
		rc = mdb_env_set_mapsize(st->env, map_size);
	if (!rc)
		rc = mdb_env_open(st->env, cfg->path, flags, 0600);
	if (rc)
		/* data.mdb passed validate(); what is left to refuse is lock.mdb. */
		return env_open_errno(cfg, rc, "lock.mdb");
	mdb_env_stat(st->env, &ms);
	st->psize = ms.ms_psize;
	snprintf(data, sizeof(data), "%s/data.mdb", cfg->path);
	if (stat(data, &sb) == 0) {
		st->data_dev = sb.st_dev;
		st->data_ino = sb.st_ino;
	} else {
		st->shared_base = -1; /* cannot find the map: leave it */
	}
	return 0;
}

/* Writes what a new store holds: the format, next_ino and the root. */
static int write_initial(struct lmdb_store *st, MDB_txn *txn)
{
	struct store_attr root;
	unsigned char num[8], rec[LMDB_INODE_REC_LEN];
	struct lmdb_key k;
	MDB_val key, val;
	int rc;

	store_root_attr(&root);

	key = lmdb_meta_key(LMDB_META_FORMAT);
	lmdb_u32_val(num, STORE_FORMAT_VERSION, &val);
	rc = mdb_put(txn, st->meta, &key, &val, 0);
	if (rc)
		return rc;
	key = lmdb_meta_key(LMDB_META_NEXT_INO);
	lmdb_u64_val(num, LMDB_FIRST_INO, &val);
	rc = mdb_put(txn, st->meta, &key, &val, 0);
	if (rc)
		return rc;
	lmdb_key_set(&k, STORE_ROOT_INO, NULL, 0);
	lmdb_inode_encode(&root, rec);
	val = (MDB_val){sizeof(rec), rec};
	return mdb_put(txn, st->inode, &k.val, &val, 0);
}

/*
 * Gives a store made before an additive database (the change log, the
 * streams) that database, empty, in a write txn of its own: only this
 * once, so that opening an up-to-date store never waits for another
 * process's writer. A read-only open cannot add it, and reads it as empty
 * instead (*have false).
 */
static int add_db(struct lmdb_store *st, const char *name, MDB_dbi *slot, bool *have)
{
	char what[64];
	MDB_txn *txn;
	int rc;

	snprintf(what, sizeof(what), "creating the %s database", name);
	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return lmdb_errno(st, rc, what, 0);
	rc = mdb_dbi_open(txn, name, MDB_CREATE, slot);
	if (rc) {
		mdb_txn_abort(txn);
		return lmdb_errno(st, rc, what, 0);
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return lmdb_errno(st, rc, what, 0);
	*have = true;
	lmdb_log(st, LOG_INFO, "added the %s database to a store made before it", name);
	return 0;
}

/* Opens (with create: creates and fills) the named databases. */
static int setup_dbs(struct lmdb_store *st, bool create)
{
	const char *names[] = {LMDB_DB_META, LMDB_DB_INODE, LMDB_DB_DIRENT, LMDB_DB_DATA,
			       LMDB_DB_XATTR};
	MDB_dbi *slots[] = {&st->meta, &st->inode, &st->dirent, &st->data, &st->xattr};
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(st->env, NULL, create ? 0 : MDB_RDONLY, &txn);
	if (rc)
		return lmdb_errno(st, rc, "opening the databases", 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		rc = mdb_dbi_open(txn, names[i], create ? MDB_CREATE : 0, slots[i]);
		if (rc == MDB_NOTFOUND) {
			lmdb_log(st, LOG_ERR, "the store has no %s database: it is damaged",
				 names[i]);
			mdb_txn_abort(txn);
			return -EIO;
		}
		if (rc)
			goto fail;
	}
	/* Stores made before the change log or the streams lack them; that is not damage. */
	rc = mdb_dbi_open(txn, LMDB_DB_CHANGES, create ? MDB_CREATE : 0, &st->changes);
	if (rc && rc != MDB_NOTFOUND)
		goto fail;
	st->have_changes = rc == 0;
	rc = mdb_dbi_open(txn, LMDB_DB_STREAMS, create ? MDB_CREATE : 0, &st->streams);
	if (rc && rc != MDB_NOTFOUND)
		goto fail;
	st->have_streams = rc == 0;
	if (create) {
		rc = write_initial(st, txn);
		if (rc)
			goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return lmdb_errno(st, rc, "opening the databases", 0);
	if (!st->have_changes && !st->read_only)
		rc = add_db(st, LMDB_DB_CHANGES, &st->changes, &st->have_changes);
	if (rc == 0 && !st->have_streams && !st->read_only)
		rc = add_db(st, LMDB_DB_STREAMS, &st->streams, &st->have_streams);
	return rc;
fail:
	mdb_txn_abort(txn);
	return lmdb_errno(st, rc, "opening the databases", 0);
}

/* Undoes what creating a store in path made: its files, and its directory. */
static void remove_created(const char *path, bool made_dir)
{
	char file[PATH_MAX];

	if (path_join(file, path, "data.mdb") == 0)
		unlink(file);
	if (path_join(file, path, "lock.mdb") == 0)
		unlink(file);
	if (made_dir)
		rmdir(path);
}

/* Gives files a new store created mode 0600, whatever the umask. */
static int chmod_created(const struct store_config *cfg)
{
	char file[PATH_MAX];
	const char *names[] = {"data.mdb", "lock.mdb"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = path_join(file, cfg->path, names[i]);

		if (!rc && chmod(file, 0600) < 0)
			rc = -errno;
		if (rc) {
			store_log(cfg->log, LOG_ERR, "%s: cannot set mode 0600 on %s: %s",
				  cfg->path, names[i], strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/*
 * A random non-zero number naming one open of a store in the change log.
 * GRND_NONBLOCK: a mount at early boot must not wait for the entropy pool;
 * time and pid then tell opens apart well enough, which is all it is for.
 */
static uint64_t new_origin(void)
{
	struct timespec ts;
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		v = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
		    ((uint64_t)getpid() << 40);
	}
	return v ? v : 1;
}

/*
 * Resident pages of this process that map files (the third field of
 * /proc/self/statm), or -1 if it cannot tell.
 */
static long shared_pages(void)
{
	char buf[128];
	long size, resident, shared = -1;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %ld %ld", &size, &resident, &shared) != 3)
		return -1;
	return shared;
}

int store_lmdb_open(const struct store_config *cfg, struct store **out)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t map_size = cfg->map_size_init ? cfg->map_size_init : LMDB_MAP_DEFAULT;
	size_t found = 0;
	bool fresh = false, made_dir = false;
	struct lmdb_store *st = NULL;
	pthread_condattr_t ca;
	int rc;

	if (page > 0)
		map_size = (map_size + (size_t)page - 1) / (size_t)page * (size_t)page;
	rc = locate(cfg, &fresh, &made_dir);
	if (rc)
		return rc;
	if (!fresh) {
		rc = validate(cfg, &found);
		if (rc)
			return rc;
		if (found > map_size)
			map_size = found;
	}

	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(cfg->path))) {
		free(st);
		st = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	st->base.ops = &lmdb_ops;
	st->log = cfg->log;
	st->read_only = cfg->read_only;
	st->room_min = cfg->map_room_min ? cfg->map_room_min : LMDB_ROOM_MIN;
	st->resident_max = cfg->map_resident_max ? cfg->map_resident_max : LMDB_RESIDENT_MAX;
	st->shared_base = shared_pages();
	st->origin = new_origin();
	pthread_mutex_init(&st->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cond, &ca);
	pthread_condattr_destroy(&ca);

	rc = env_open(st, cfg, map_size);
	if (!rc && fresh)
		rc = chmod_created(cfg);
	if (!rc)
		rc = setup_dbs(st, fresh);
	if (rc)
		goto fail;
	*out = &st->base;
	return 0;
fail:
	if (st)
		lmdb_close(&st->base);
	if (fresh)
		remove_created(cfg->path, made_dir);
	return rc;
}

void lmdb_close(struct store *s)
{
	struct lmdb_store *st = lmdb_store_of(s);
	struct lmdb_txn *t;

	while ((t = st->idle)) {
		st->idle = t->next;
		mdb_txn_abort(t->mtxn);
		free(t);
	}
	if (st->env)
		mdb_env_close(st->env);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->mu);
	free(st->path);
	free(st);
}

/* ---- map growth ------------------------------------------------------- */

/*
 * The map size the store should have before a write txn: the current size
 * (*cur), doubled until the free room (map size minus the pages in use) is
 * at least max(room_min, a quarter of the map).
 */
static size_t map_target(const struct lmdb_store *st, size_t *cur)
{
	MDB_envinfo info;
	size_t used, size;

	mdb_env_info(st->env, &info);
	used = (info.me_last_pgno + 1) * st->psize;
	size = *cur = info.me_mapsize;
	while (size < used || size - used < (size / 4 > st->room_min ? size / 4 : st->room_min))
		size *= 2;
	return size;
}

/* With mu held and no txn live: adopts and/or grows the map, as pending. */
static void remap_locked(struct lmdb_store *st)
{
	size_t cur, target;
	int rc;

	if (st->remap_adopt) {
		rc = mdb_env_set_mapsize(st->env, 0);
		if (rc)
			lmdb_log(st, LOG_ERR, "cannot adopt the map size another process set: %s",
				 mdb_strerror(rc));
	}
	if (!st->read_only) {
		target = map_target(st, &cur);
		if (target != cur) {
			rc = mdb_env_set_mapsize(st->env, target);
			if (rc)
				lmdb_log(st, LOG_ERR,
					 "cannot grow the map from %zu to %zu bytes: %s", cur,
					 target, mdb_strerror(rc));
			else
				lmdb_log(st, LOG_INFO, "map grown from %zu to %zu bytes", cur,
					 target);
		}
	}
	st->remap_pending = st->remap_adopt = false;
	pthread_cond_broadcast(&st->cond);
}

/*
 * With mu held: lets a pending remap happen before a txn begins - at once
 * if no txn is live, else when the last one ends. Gives up after
 * LMDB_REMAP_WAIT_S, since a live txn may be the caller's own.
 */
static void remap_settle_locked(struct lmdb_store *st)
{
	struct timespec deadline;

	if (!st->remap_pending)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += LMDB_REMAP_WAIT_S;
	while (st->remap_pending) {
		if (st->live == 0) {
			remap_locked(st);
			return;
		}
		if (pthread_cond_timedwait(&st->cond, &st->mu, &deadline) == ETIMEDOUT)
			return;
	}
}

/* With mu held: one txn fewer; the last one out does a pending remap. */
static void live_drop_locked(struct lmdb_store *st)
{
	if (--st->live == 0 && st->remap_pending)
		remap_locked(st);
}

/* ---- transactions ----------------------------------------------------- */

/* Makes t forget the records it keeps (struct lmdb_txn): its next reads read them. */
static void memos_forget(struct lmdb_txn *t)
{
	t->tail.seq_known = t->tail.mine = false;
	memset(t->smemo.dir, 0, sizeof(t->smemo.dir));
	memset(t->imemo.ino, 0, sizeof(t->imemo.ino));
}

/* Allocates *tp and begins its LMDB txn; on failure *tp may need freeing. */
static int txn_new(struct lmdb_store *st, bool write, struct lmdb_txn **tp)
{
	struct lmdb_txn *t = calloc(1, sizeof(*t));

	*tp = t;
	if (!t)
		return ENOMEM;
	return mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->mtxn);
}

/* Frees t and its LMDB txn (active or reset), if any. */
static void txn_discard(struct lmdb_txn *t)
{
	if (t && t->mtxn)
		mdb_txn_abort(t->mtxn);
	free(t);
}

int lmdb_txn_begin(struct store *s, unsigned flags, struct store_txn **out)
{
	struct lmdb_store *st = lmdb_store_of(s);
	bool write = flags == STORE_TXN_WRITE;
	struct lmdb_txn *t;
	size_t cur;
	int rc;

	if (write && st->read_only)
		return -EROFS;
	for (int attempt = 0;; attempt++) {
		pthread_mutex_lock(&st->mu);
		if (write && !st->remap_pending && map_target(st, &cur) != cur)
			st->remap_pending = true;
		remap_settle_locked(st);
		st->live++;
		t = NULL;
		if (!write && st->idle) {
			t = st->idle;
			st->idle = t->next;
			st->nidle--;
		}
		pthread_mutex_unlock(&st->mu);

		rc = t ? mdb_txn_renew(t->mtxn) : txn_new(st, write, &t);
		if (rc == 0) {
			t->base.st = s;
			t->write = write;
			t->err = 0;
			t->parent = t->next = NULL;
			t->root = NULL;
			t->staged = 0;
			memos_forget(t);
			*out = &t->base;
			return 0;
		}
		txn_discard(t);
		pthread_mutex_lock(&st->mu);
		if (rc == MDB_MAP_RESIZED && attempt < LMDB_RESIZED_RETRIES)
			st->remap_pending = st->remap_adopt = true;
		live_drop_locked(st);
		pthread_mutex_unlock(&st->mu);
		if (rc != MDB_MAP_RESIZED || attempt >= LMDB_RESIZED_RETRIES)
			return lmdb_errno(st, rc, "beginning a transaction", 0);
	}
}

/*
 * Children and stages. A child (store_txn_begin_nested()) must be undone
 * alone when it fails, its parent kept. LMDB's nested txns would do it,
 * but a nested txn copies every page it touches that its parent holds
 * dirty, and the requests of a batch all touch the same few (the last
 * leaf and the branches above it of each database): 27 page copies a
 * create, each a malloc and 4 KiB memcpy, and a merge of dirty-page lists
 * at each child's commit (docs/benchmarks.md). So a child is not an LMDB
 * txn: it works in its top-level txn's stage, an LMDB txn nested in the
 * top-level one, which holds the writes of the children begun since the
 * stage began; and every write made in the stage is also appended to the
 * stage's redo log (lmdb_redo_note()). A child that made no write ends
 * with nothing to undo. One that did and fails (or is aborted) has its
 * stage aborted, begun anew and the log replayed up to where it stood
 * when the child began: the stage is then as it was, the child's writes
 * gone. Replaying the same puts and deletes on the same contents gives the
 * same contents (not the same pages), and every write of a stage goes
 * through lmdb_redo_note(), so the log is the stage. A failed replay
 * (memory) breaks the top-level txn (t->err), which its commit reports.
 *
 * The stage ends (is committed into the top-level txn, its log emptied)
 * at the begin of a child when it holds LMDB_STAGE_CHILDREN children or
 * its log is no longer whole (a value over LMDB_REDO_VAL_MAX, a log over
 * LMDB_REDO_MAX, or no memory for it), and at the top-level commit. That
 * bounds the log and the cost of a replay, and keeps each commit of a
 * stage cheap: LMDB's commit of a nested txn walks its parent's list of
 * loose pages (pages freed in the txn, kept for reuse), so a stage that
 * grew to a whole batch would cost time quadratic in the batch. The
 * children of a child work in the same stage; a child that fails after a
 * child of its parent lost the log cannot be undone and breaks the
 * top-level txn (the file system never nests that deep).
 *
 * A stage is invisible to the store's users: the txn's own operations go
 * to it (t->mtxn), so they see every child it holds. Its commit fails only
 * for want of memory (LMDB's list appends); that breaks the txn (t->err),
 * which then reports the failure at its own commit, as it would any other.
 */
struct lmdb_redo_op {
	uint8_t kind; /* enum lmdb_redo_kind */
	MDB_dbi dbi;
	uint32_t klen, vlen; /* then the key's bytes, then the value's */
};

static struct lmdb_txn *txn_top(struct lmdb_txn *t)
{
	return t->nested ? t->top : t;
}

void lmdb_redo_note(struct lmdb_txn *t, enum lmdb_redo_kind kind, MDB_dbi dbi, const MDB_val *key,
		    const MDB_val *val)
{
	struct lmdb_txn *top = txn_top(t);
	struct lmdb_redo *r = &top->redo;
	size_t vlen = val ? val->mv_size : 0, need = sizeof(struct lmdb_redo_op) + key->mv_size + vlen;
	struct lmdb_redo_op op = {kind, dbi, (uint32_t)key->mv_size, (uint32_t)vlen};

	if (!top->root)
		return; /* no stage, so no child to undo */
	r->writes++;
	if (r->lost)
		return;
	if (vlen > LMDB_REDO_VAL_MAX || r->len + need > LMDB_REDO_MAX) {
		r->lost = true;
		return;
	}
	if (r->len + need > r->cap) {
		size_t cap = r->cap ? r->cap : 64u << 10;
		unsigned char *buf;

		while (cap < r->len + need)
			cap *= 2;
		buf = realloc(r->buf, cap);
		if (!buf) {
			r->lost = true;
			return;
		}
		r->buf = buf;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, &op, sizeof(op));
	memcpy(r->buf + r->len + sizeof(op), key->mv_data, op.klen);
	if (op.vlen)
		memcpy(r->buf + r->len + sizeof(op) + op.klen, val->mv_data, op.vlen);
	r->len += need;
}

static int stage_end(struct lmdb_txn *t)
{
	int rc;

	if (!t->root)
		return 0;
	rc = mdb_txn_commit(t->mtxn);
	t->mtxn = t->root;
	t->root = NULL;
	t->redo.len = 0;
	t->redo.lost = false;
	if (rc && !t->err)
		t->err =
		    lmdb_errno(lmdb_txn_store(t), rc, "committing a stage of a transaction", 0);
	return t->err;
}

/* Begins a stage in top-level txn t, which has none. Returns LMDB's result. */
static int stage_begin(struct lmdb_txn *t)
{
	MDB_txn *stage;
	int rc = mdb_txn_begin(lmdb_txn_store(t)->env, t->mtxn, 0, &stage);

	if (rc == 0) {
		t->root = t->mtxn;
		t->mtxn = stage;
	}
	return rc;
}

static int stage_get(struct lmdb_txn *t)
{
	int rc;

	if (t->root && (t->staged >= LMDB_STAGE_CHILDREN || t->redo.lost) && (rc = stage_end(t)))
		return rc;
	if (t->root)
		return 0;
	rc = stage_begin(t);
	if (rc)
		return lmdb_errno(lmdb_txn_store(t), rc, "beginning a stage of a transaction", 0);
	t->staged = 0;
	return 0;
}

/*
 * Makes top's stage what it was when its log was mark bytes long: aborts
 * it, begins it anew and replays the log that far. A failure breaks top.
 */
static void stage_rebuild(struct lmdb_txn *top, size_t mark)
{
	struct lmdb_store *st = lmdb_txn_store(top);
	struct lmdb_redo *r = &top->redo;
	struct lmdb_redo_op op;
	MDB_val k, v;
	size_t at = 0;
	int rc;

	mdb_txn_abort(top->mtxn);
	top->mtxn = top->root;
	top->root = NULL;
	rc = stage_begin(top);
	for (; rc == 0 && at < mark; at += sizeof(op) + op.klen + op.vlen) {
		memcpy(&op, r->buf + at, sizeof(op));
		k = (MDB_val){op.klen, r->buf + at + sizeof(op)};
		v = (MDB_val){op.vlen, r->buf + at + sizeof(op) + op.klen};
		if (op.kind == LMDB_REDO_DEL)
			rc = mdb_del(top->mtxn, op.dbi, &k, NULL);
		else
			rc = mdb_put(top->mtxn, op.dbi, &k, &v,
				     op.kind == LMDB_REDO_APPEND ? MDB_APPEND : 0);
	}
	r->len = mark;
	r->lost = false; /* the log was whole up to mark: what it lost came after */
	if (rc && !top->err)
		top->err = lmdb_errno(st, rc, "rebuilding a stage of a transaction", 0);
}

/* True when child t wrote to its stage, or an LMDB failure in it (t->err) may have broken it. */
static bool child_wrote(const struct lmdb_txn *t)
{
	return t->redo_writes != t->top->redo.writes || t->err;
}

/* Undoes the writes of child t, if it made any. */
static void child_undo(struct lmdb_txn *t)
{
	struct lmdb_txn *top = t->top;

	if (!child_wrote(t))
		return;
	if (!t->redo_whole) {
		if (!top->err)
			top->err = lmdb_errno(lmdb_txn_store(top), MDB_BAD_TXN,
					      "undoing a nested transaction after a value too "
					      "large to log",
					      0);
		return;
	}
	stage_rebuild(top, t->redo_mark);
	/*
	 * Its ancestors work in the new stage. What they keep of the store is
	 * forgotten, to be read again: it is true unless one of them read
	 * while t was live (which store.h forbids), and then saw t's writes.
	 */
	for (struct lmdb_txn *p = t->parent;; p = p->parent) {
		p->mtxn = top->mtxn;
		memos_forget(p);
		if (p == top)
			break;
	}
}

/*
 * With the stage of t's top-level txn: 0 if LMDB has not broken it, which
 * an LMDB failure does that t's operations reported but its caller went on
 * from. LMDB tells only by refusing a new cursor.
 */
static int stage_check(struct lmdb_txn *t)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(t->mtxn, lmdb_txn_store(t)->inode, &c);

	if (rc)
		return lmdb_errno(lmdb_txn_store(t), rc, "committing a nested transaction", 0);
	mdb_cursor_close(c);
	return 0;
}

/*
 * Frees child t, or keeps its memory for its top-level txn's next child:
 * a struct lmdb_txn is past malloc's per-thread cache, and a malloc and a
 * free of it took 2,700 instructions, two of each a create.
 */
static void child_free(struct lmdb_txn *t)
{
	if (!t->top->spare)
		t->top->spare = t;
	else
		free(t);
}

/* Commits child t into its parent, or undoes it and returns why not. */
static int child_commit(struct lmdb_txn *t)
{
	struct lmdb_txn *parent = t->parent;
	int rc = t->err;

	if (!rc && child_wrote(t))
		rc = stage_check(t);
	if (rc) {
		child_undo(t);
	} else { /* the child's records are the parent's now */
		parent->tail = t->tail;
		parent->smemo = t->smemo;
		parent->imemo = t->imemo;
	}
	child_free(t);
	return rc;
}

int lmdb_txn_begin_nested(struct store_txn *ptxn, struct store_txn **out)
{
	struct lmdb_txn *parent = lmdb_txn_of(ptxn);
	struct lmdb_txn *top, *t;
	int rc;

	if (!parent->write)
		return -EINVAL;
	if (parent->err)
		return parent->err;
	if (!parent->nested && (rc = stage_get(parent)))
		return rc;
	top = txn_top(parent);
	t = top->spare ? top->spare : malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	top->spare = NULL;
	/* All but the memos (tail up to root), which are the parent's, below. */
	memset(t, 0, offsetof(struct lmdb_txn, tail));
	memset(&t->root, 0, sizeof(*t) - offsetof(struct lmdb_txn, root));
	top->staged++;
	t->base.st = ptxn->st;
	t->mtxn = parent->mtxn;
	t->write = t->nested = true;
	t->parent = parent;
	t->top = top;
	t->redo_mark = top->redo.len;
	t->redo_writes = top->redo.writes;
	t->redo_whole = !top->redo.lost;
	t->tail = parent->tail;
	t->smemo = parent->smemo;
	t->imemo = parent->imemo;
	/*
	 * Coalesce only within the child: a reader of the log between two
	 * children of one batch (the mount that owns the batch, after each
	 * request) must see a record for each of them.
	 */
	t->tail.mine = false;
	*out = &t->base;
	return 0;
}

/*
 * With mu held (so that no remap moves the map). Every page of the map
 * this process reads stays mapped in it, and counts in its RSS, and so in
 * its OOM score, though it is the page cache's, shared with every process
 * and reclaimable: a daemon that read a 2 GB store once would show 2 GB.
 * So at most every LMDB_RESIDENT_CHECK seconds (a look is a read of
 * /proc/self/statm), when more than resident_max bytes of mapped files
 * beyond what was resident at open (the libraries) are resident, the
 * whole map is unmapped from this process with MADV_DONTNEED. The page
 * cache keeps the pages; the next read of one maps it again (a minor
 * fault). Readers in other threads lose nothing: the mapping stays, and
 * a page is the same file page before and after.
 */
static void resident_trim_locked(struct lmdb_store *st)
{
	struct timespec now;
	char line[512];
	FILE *maps;
	double t;
	long shared;

	if (st->resident_max == SIZE_MAX || st->shared_base < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	t = (double)now.tv_sec + now.tv_nsec / 1e9;
	if (t - st->resident_checked < LMDB_RESIDENT_CHECK)
		return;
	st->resident_checked = t;
	shared = shared_pages() - st->shared_base;
	if (shared <= 0 || (size_t)shared * (size_t)sysconf(_SC_PAGESIZE) <= st->resident_max)
		return;
	/* LMDB does not tell where its map is (me_mapaddr is for MDB_FIXEDMAP). */
	maps = fopen("/proc/self/maps", "re");
	if (!maps)
		return;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long start, end, off, ino;
		unsigned maj, min;

		if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &off, &maj, &min,
			   &ino) == 6 &&
		    ino == st->data_ino && makedev(maj, min) == st->data_dev &&
		    madvise((void *)start, end - start, MADV_DONTNEED) != 0)
			lmdb_log(st, LOG_DEBUG, "madvise of the map: %s", strerror(errno));
		if (!strchr(line, '\n')) /* a longer line: skip its rest */
			while (fgets(line, sizeof(line), maps) && !strchr(line, '\n'))
				;
	}
	fclose(maps);
}

/* Ends t, whose LMDB txn is still active for a read txn, gone for a write txn. */
static void txn_end(struct lmdb_store *st, struct lmdb_txn *t)
{
	if (!t->write) {
		mdb_txn_reset(t->mtxn);
	} else {
		t->mtxn = NULL;
		free(t->redo.buf);
		t->redo = (struct lmdb_redo){0};
		free(t->spare);
		t->spare = NULL;
	}
	pthread_mutex_lock(&st->mu);
	if (!t->write && st->nidle < LMDB_IDLE_MAX) {
		t->next = st->idle;
		st->idle = t;
		st->nidle++;
		t = NULL;
	}
	resident_trim_locked(st);
	live_drop_locked(st);
	pthread_mutex_unlock(&st->mu);
	txn_discard(t);
}

/*
 * True when the store's filesystem has (next to) no room left. LMDB reports
 * a short write, which is how a filling disk fails a multi-page write, as
 * EIO ("short write, filesystem full?"); this tells that case from a real
 * I/O error.
 */
static bool disk_full(const struct lmdb_store *st)
{
	struct statvfs vfs;
	size_t psize = 4096;
	MDB_stat ms;

	if (mdb_env_stat(st->env, &ms) == 0)
		psize = ms.ms_psize;
	if (statvfs(st->path, &vfs) < 0)
		return false;
	return (uint64_t)vfs.f_bavail * vfs.f_frsize < (uint64_t)psize * 256;
}

int lmdb_txn_commit(struct store_txn *txn)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	struct lmdb_store *st = lmdb_txn_store(t);
	int rc = 0;

	if (t->nested)
		return child_commit(t);
	if (t->write)
		stage_end(t);
	if (t->write && t->err) {
		rc = t->err;
		mdb_txn_abort(t->mtxn);
	} else if (t->write) {
		rc = mdb_txn_commit(t->mtxn);
		if (rc == EIO && disk_full(st))
			rc = ENOSPC;
		if (rc)
			rc = lmdb_errno(st, rc, "committing a transaction", 0);
	}
	txn_end(st, t);
	return rc;
}

void lmdb_txn_abort(struct store_txn *txn)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);

	if (t->nested) { /* the parent's live count and map room cover it */
		child_undo(t);
		child_free(t);
		return;
	}
	if (t->write && t->root) { /* the stage first: it is the root's child */
		mdb_txn_abort(t->mtxn);
		t->mtxn = t->root;
		t->root = NULL;
	}
	if (t->write)
		mdb_txn_abort(t->mtxn);
	txn_end(lmdb_txn_store(t), t);
}

/* ---- generation, origin ----------------------------------------------- */

/*
 * Reads the newest meta page through the map, which a writer in another
 * process updates in place. mu keeps a remap (which unmaps it) away.
 */
uint64_t lmdb_generation(struct store *s)
{
	struct lmdb_store *st = lmdb_store_of(s);
	MDB_envinfo info;

	pthread_mutex_lock(&st->mu);
	mdb_env_info(st->env, &info);
	pthread_mutex_unlock(&st->mu);
	return info.me_last_txnid;
}

uint64_t lmdb_origin(struct store *s)
{
	return lmdb_store_of(s)->origin;
}

/* ---- statfs, sync ----------------------------------------------------- */

/* Pages on LMDB's freelist (FREE_DBI, dbi 0): each value is a page-number
 * list whose first word is its length. */
static int free_pages(struct lmdb_txn *t, size_t *out)
{
	struct lmdb_store *st = lmdb_txn_store(t);
	MDB_cursor *c;
	MDB_val k, v;
	size_t n, sum = 0;
	int rc;

	rc = mdb_cursor_open(t->mtxn, 0, &c);
	if (rc)
		return lmdb_errno(st, rc, "reading the freelist", 0);
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		if (v.mv_size < sizeof(n))
			continue;
		memcpy(&n, v.mv_data, sizeof(n)); /* LMDB values are only 2-byte aligned */
		sum += n;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return lmdb_errno(st, rc, "reading the freelist", 0);
	*out = sum;
	return 0;
}

int lmdb_statfs(struct store *s, struct store_statfs *out)
{
	struct lmdb_store *st = lmdb_store_of(s);
	struct store_txn *txn;
	struct statvfs vfs;
	MDB_envinfo info;
	MDB_stat ms;
	size_t nfree = 0, pages;
	int rc;

	rc = lmdb_txn_begin(s, STORE_TXN_READ, &txn);
	if (rc)
		return rc;
	mdb_env_info(st->env, &info);
	rc = mdb_stat(lmdb_txn_of(txn)->mtxn, st->inode, &ms);
	if (rc)
		rc = lmdb_errno(st, rc, "counting inodes", 0);
	if (!rc)
		rc = free_pages(lmdb_txn_of(txn), &nfree);
	lmdb_txn_abort(txn);
	if (rc)
		return rc;
	if (statvfs(st->path, &vfs) < 0) {
		rc = -errno;
		lmdb_log(st, LOG_ERR, "statvfs: %s", strerror(-rc));
		return rc;
	}
	pages = info.me_last_pgno + 1;
	out->bytes_used = (uint64_t)(pages > nfree ? pages - nfree : 0) * st->psize;
	out->bytes_avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	out->inodes = ms.ms_entries;
	out->map_size = info.me_mapsize;
	return 0;
}

int lmdb_sync(struct store *s)
{
	struct lmdb_store *st = lmdb_store_of(s);
	int rc;

	if (st->read_only)
		return 0;
	rc = mdb_env_sync(st->env, 1);
	return rc ? lmdb_errno(st, rc, "syncing", 0) : 0;
}
