/*
 * store.h - the itemfs table store: inodes, directory entries, item data and
 * extended attributes, read and written inside transactions.
 *
 * This is the only interface the FUSE layer (fs/) sees of persistence. It
 * speaks in inode numbers, names and byte buffers; no backend type (LMDB's
 * MDB_val, a DynamoDB request) crosses it. A backend is one table of function
 * pointers (struct store_ops); the LMDB backend in store/lmdb.c is the first,
 * a networked DynamoDB-API backend is meant to be the second.
 *
 * The store owns the rules that must hold however the store is reached:
 *  - the item size limit (STORE_ITEM_MAX, counted as DynamoDB counts: the
 *    item's name + its data + every xattr name and value);
 *  - link counts and the parent pointer of directories (kept by
 *    store_dirent_add()/store_dirent_remove());
 *  - the XXH3-64 checksum of item data, verified on every store_data_get();
 *  - the format version of the store on disk.
 * It does not know about open files, caching, permissions or timestamps
 * beyond storing them: those are fs's business.
 *
 * Errors: every function that can fail returns 0 or a negative errno:
 *   -ENOENT   no such inode / entry / xattr (-ENODATA for xattrs)
 *   -EEXIST   the entry already exists
 *   -EFBIG    the item would exceed STORE_ITEM_MAX (data or name)
 *   -E2BIG    an xattr change would exceed STORE_ITEM_MAX
 *   -ERANGE   a caller buffer is too small (xattr get/list)
 *   -ENOSPC   the disk (or the backend's space) is full; nothing was written
 *   -EBADMSG  stored item data failed its checksum: the caller must log the
 *             item's path and answer EIO, never return the bytes
 *   -EROFS    a write on a store opened read-only
 *   -EIO      anything else, already logged with the backend's own message
 * On error, outputs are not written and, unless stated otherwise, the
 * transaction stays usable: the caller decides to commit or abort.
 *
 * Threads: a struct store may be used from any number of threads. A
 * struct store_txn belongs to one thread at a time. At most one write
 * transaction is open per store at a time (store_txn_begin() waits).
 */
#ifndef ITEMFS_STORE_H
#define ITEMFS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <time.h>
#include <sys/types.h>

/* Largest item, in bytes: name + data + xattr names and values. */
#define STORE_ITEM_MAX 409600u
/* Longest name of a directory entry or of an xattr, in bytes. */
#define STORE_NAME_MAX 255u
/* Inode number of the root directory (the mount's top level). */
#define STORE_ROOT_INO 1u
/* Format version written into new stores and the only one accepted. */
#define STORE_FORMAT_VERSION 1u

struct store;
struct store_txn;
struct store_check_ops;     /* store_check(), below */
struct store_check_summary; /* store_check(), below */
struct store_change;        /* the change log, below */
struct store_stream_head;   /* streams, below */

/* How the DynamoDB-API backend commits (store_config.ddb_commit). */
enum store_ddb_commit {
	STORE_DDB_COMMIT_AUTO = 0, /* TransactWriteItems if the server answers it */
	STORE_DDB_COMMIT_TRANSACT, /* always TransactWriteItems (when a set fits) */
	STORE_DDB_COMMIT_INTENT,   /* always intent records */
};

/* Configuration for store_open(); zeroed fields take the defaults. */
struct store_config {
	const char *path;     /* store directory; borrowed for the call */
	bool read_only;       /* open without write access */
	bool create;          /* create the store if the directory is absent or empty */
	size_t map_size_init; /* bytes; initial LMDB map size (default 1 GiB) */
	/* bytes of free map a write transaction begins with at least, beside a
	 * quarter of the map (default 256 MiB: address space, not disk, sized
	 * for a whole group commit) */
	size_t map_room_min;
	/* bytes of the map's pages left mapped in this process before they
	 * are unmapped, at most once a second (default 16 MiB; SIZE_MAX:
	 * never). They are the page cache's either way; this keeps them out
	 * of the process's RSS and OOM score. */
	size_t map_resident_max;
	/* Called with each log line the store emits (errors it cannot return
	 * with enough context). NULL logs to stderr. */
	void (*log)(int priority, const char *msg);

	/* The DynamoDB-API backend (path "dynamodb://HOST[:PORT]/PREFIX" or
	 * "dynamodb+http://..."; docs/ddb-backend.md). NULL/0: the defaults. */
	const char *ddb_region; /* signing region (default: AWS_REGION, us-east-1) */
	/* An AWS shared-credentials file and the profile in it to sign with.
	 * NULL: the environment's keys (AWS_ACCESS_KEY_ID, ...), else the file
	 * AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials if it exists, with
	 * profile AWS_PROFILE or "default". */
	const char *ddb_credentials;
	const char *ddb_profile;
	unsigned ddb_poll_ms;	/* how often other mounts' commits are looked for (1000) */
	unsigned ddb_strong_ms; /* reads after a commit or barrier stay strong (2000) */
	unsigned ddb_lease_ms;	/* the write lock's lease (10000) */
	enum store_ddb_commit ddb_commit; /* TransactWriteItems or intents (default: probe) */
};

/* The backend a path names: true for a DynamoDB-API URL. */
bool store_path_is_url(const char *path);

/*
 * The metadata of one inode. Fields marked (store) are maintained by the
 * store and ignored by store_inode_put() for an existing inode.
 */
struct store_attr {
	uint64_t ino;
	uint32_t mode;        /* type and permission bits, as st_mode */
	uint32_t uid, gid;
	uint32_t nlink;       /* (store) files: names; dirs: 2 + subdirectories */
	uint64_t size;        /* (store) bytes of data (symlink: target length) */
	uint64_t parent;      /* (store) directory that last linked this inode */
	uint32_t keylen;      /* (store) name bytes counted towards the limit */
	uint32_t xattr_bytes; /* (store) sum of xattr name and value lengths */
	uint64_t version;     /* (store) bumped on every data change */
	/* (store) a regular file's expiry: the value of its STORE_XATTR_EXPIRES,
	 * seconds since the epoch; 0: none. Filled by store_inode_get() only
	 * (one more lookup for an inode with xattrs, none without). */
	uint64_t expires;
	struct timespec atime, mtime, ctime;
};

/* One directory entry, as delivered to a store_dir_list() callback. */
struct store_dirent {
	const char *name; /* not NUL-terminated; valid only during the callback */
	size_t namelen;
	uint64_t ino;
	uint32_t mode; /* type bits of the child (S_IFMT part of its mode) */
};

/* Returns 0 to continue, anything else stops the listing and is returned. */
typedef int (*store_dirent_fn)(void *arg, const struct store_dirent *ent);

/* One entry of the expiry index, for store_expired(); the same return rule. */
typedef int (*store_expiry_fn)(void *arg, uint64_t ino, uint64_t expires);

struct store_statfs {
	uint64_t bytes_used;  /* bytes the store occupies (live pages) */
	uint64_t bytes_avail; /* bytes the store could still grow by */
	uint64_t inodes;      /* live inodes */
	uint64_t map_size;    /* current LMDB map size, bytes */
};

/* A heap buffer handed to the caller, who frees it with free(data). */
struct store_buf {
	void *data;
	size_t len;
};

enum store_txn_flags {
	STORE_TXN_READ = 0,
	STORE_TXN_WRITE = 1,
};

/* The backend seam: every public function below dispatches through this. */
struct store_ops {
	void (*close)(struct store *st);
	int (*txn_begin)(struct store *st, unsigned flags, struct store_txn **out);
	int (*txn_begin_nested)(struct store_txn *parent, struct store_txn **out);
	int (*txn_commit)(struct store_txn *txn);
	void (*txn_abort)(struct store_txn *txn);
	int (*ino_alloc)(struct store_txn *txn, uint64_t *out);
	int (*inode_get)(struct store_txn *txn, uint64_t ino, struct store_attr *out);
	int (*inode_put)(struct store_txn *txn, const struct store_attr *attr);
	int (*inode_free)(struct store_txn *txn, uint64_t ino);
	int (*orphan_add)(struct store_txn *txn, uint64_t ino);
	int (*orphans_reap)(struct store_txn *txn, uint64_t *count);
	int (*expired)(struct store_txn *txn, uint64_t now, store_expiry_fn fn, void *arg);
	int (*stream_head)(struct store_txn *txn, uint64_t dir, struct store_stream_head *out);
	int (*stream_append)(struct store_txn *txn, uint64_t dir, uint64_t seq, uint64_t time_ns,
			     const void *rec, size_t len, struct store_stream_head *out);
	int (*stream_trim)(struct store_txn *txn, uint64_t dir, uint64_t before_ns,
			   uint64_t max_bytes, unsigned max_records, unsigned *dropped,
			   struct store_stream_head *out);
	int (*stream_read)(struct store_txn *txn, uint64_t dir, uint64_t off, void *buf,
			   size_t size, size_t *len);
	int (*dirent_get)(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			  uint64_t *ino);
	int (*dirent_add)(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			  uint64_t ino);
	int (*dirent_remove)(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			     uint64_t *ino);
	int (*dir_list)(struct store_txn *txn, uint64_t dir, store_dirent_fn fn, void *arg);
	int (*dir_is_empty)(struct store_txn *txn, uint64_t dir);
	int (*data_get)(struct store_txn *txn, uint64_t ino, struct store_buf *out);
	int (*data_put)(struct store_txn *txn, uint64_t ino, const void *data, size_t len);
	int (*xattr_get)(struct store_txn *txn, uint64_t ino, const char *name, void *buf,
			 size_t size, size_t *len);
	int (*xattr_set)(struct store_txn *txn, uint64_t ino, const char *name, const void *value,
			 size_t size, int flags);
	int (*xattr_list)(struct store_txn *txn, uint64_t ino, char *buf, size_t size,
			  size_t *len);
	int (*xattr_remove)(struct store_txn *txn, uint64_t ino, const char *name);
	int (*statfs)(struct store *st, struct store_statfs *out);
	int (*sync)(struct store *st);
	int (*check)(struct store *st, const struct store_check_ops *cb, void *arg,
		     struct store_check_summary *out);
	int (*backup)(struct store *st, int fd,
		      void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg);
	uint64_t (*generation)(struct store *st);
	uint64_t (*origin)(struct store *st);
	int (*change_last)(struct store_txn *txn, uint64_t *seq);
	/* fn is a store_change_fn (declared with the change log, below) */
	int (*changes)(struct store_txn *txn, uint64_t after,
		       int (*fn)(void *arg, const struct store_change *c), void *arg);
	/* the function-pointer types are declared with the indexes, below */
	int (*index_add)(struct store_txn *txn, uint64_t table, const char *attr);
	int (*index_drop)(struct store_txn *txn, uint64_t table, const char *attr);
	int (*index_list)(struct store_txn *txn, uint64_t table,
			  int (*fn)(void *arg, const char *attr, size_t len), void *arg);
	int (*index_values)(struct store_txn *txn, uint64_t table, const char *attr,
			    const void *from, size_t fromlen,
			    int (*fn)(void *arg, const void *value, size_t len), void *arg);
	int (*index_items)(struct store_txn *txn, uint64_t table, const char *attr,
			   const void *value, size_t len, int (*fn)(void *arg, uint64_t ino),
			   void *arg);
	int (*barrier)(struct store *st); /* NULL: every read is strong */
	/* NULL: reads are cheap one by one (store_inode_prefetch()) */
	int (*inode_prefetch)(struct store_txn *txn, const uint64_t *inos, size_t n);
	unsigned features;		  /* STORE_HAS_* */
};

/*
 * What a backend has beyond items, entries and xattrs (store_features()),
 * where fs must know before it asks: its hooks skip what is missing. An
 * optional op (indexes, check, ...) it lacks answers -EOPNOTSUPP anyway.
 */
enum store_feature {
	STORE_HAS_STREAMS = 1u << 0,
	STORE_HAS_EXPIRY = 1u << 1,
	STORE_HAS_BACKUP = 1u << 2, /* store_backup(), snapshots */
	/* Reads are local and cheap (a memory map): fs reads the store at
	 * every open. Without it (a networked backend) an open may be served
	 * from fs's read cache, which follows the change log (the DAX role). */
	STORE_HAS_LOCAL_READS = 1u << 3,
};

/* Every backend's struct store begins with this. */
struct store {
	const struct store_ops *ops;
};

/*
 * Opens (and with cfg->create, creates) the store in cfg->path.
 * A new store gets the root directory (STORE_ROOT_INO, mode 0755, owned by
 * the caller's uid/gid) and the format version.
 * Errors: -ENOENT (absent and !create), -ENOTDIR, -EACCES,
 *   -EINVAL (the directory holds something that is not an itemfs store;
 *   nothing in it was modified), -EPROTO (an itemfs store of an unknown
 *   format version, or a lock file of an incompatible LMDB version),
 *   -EBUSY (locked), -ENOSPC, -EIO.
 * On success *out is the store; close it with store_close().
 * Must be called after any fork() (never open a store and then fork).
 */
int store_open(const struct store_config *cfg, struct store **out);

/* Closes the store; st may be NULL. No transaction may be open. */
void store_close(struct store *st);

/*
 * Begins a transaction. STORE_TXN_READ sees one consistent snapshot of the
 * committed store. STORE_TXN_WRITE sees its own changes; it waits for any
 * other writer of the same store (in this or another process) to finish.
 * Before a write transaction starts the store makes sure its map has room
 * for at least one maximal operation (it grows the map by itself).
 * Errors: -EROFS (write on a read-only store), -ENOMEM, -EIO.
 */
int store_txn_begin(struct store *st, unsigned flags, struct store_txn **out);

/*
 * Begins a write transaction nested in the write transaction parent: it
 * sees parent's changes; committing it merges its changes into parent (no
 * I/O: they become durable with parent's commit), aborting it undoes them
 * and leaves parent as it was. This is how one request's changes stay
 * all-or-nothing inside a group commit. parent must not be used until the
 * nested transaction ends. Errors: -EINVAL (parent is not a write
 * transaction), -ENOSPC, -ENOMEM, -EIO.
 */
int store_txn_begin_nested(struct store_txn *parent, struct store_txn **out);

/*
 * Commits and frees txn (also for a read transaction, where it only ends
 * it). On error the transaction is aborted and freed all the same, and
 * nothing it wrote is visible: -ENOSPC (disk full), -EIO.
 * A write commit is durable (synced to stable storage) when it returns.
 */
int store_txn_commit(struct store_txn *txn);

/* Discards txn's changes and frees it; txn may be NULL. */
void store_txn_abort(struct store_txn *txn);

/* Allocates a fresh inode number, never used before in this store. */
int store_ino_alloc(struct store_txn *txn, uint64_t *out);

/*
 * Says that store_inode_get() of inos[0..n) is coming in txn (a listing's
 * entries, for readdirplus): a backend whose every read is a round trip
 * fetches them in a few batched requests (DynamoDB's BatchGetItem, 100
 * keys each), so that each get then costs nothing. Changes nothing else;
 * on LMDB it does nothing. Returns 0, or the error of a batched read
 * (-EIO, -ETIMEDOUT, ...), which the caller may ignore: the gets then read
 * one by one. inos is borrowed for the call.
 */
int store_inode_prefetch(struct store_txn *txn, const uint64_t *inos, size_t n);
/* Reads the metadata of ino into *out. Errors: -ENOENT. */
int store_inode_get(struct store_txn *txn, uint64_t ino, struct store_attr *out);

/*
 * Writes the metadata of attr->ino. For a new inode the (store) fields are
 * initialised (nlink 0, or 2 for a directory; size 0; keylen 0;
 * xattr_bytes 0; version 1; parent 0); for an existing one they are kept.
 */
int store_inode_put(struct store_txn *txn, const struct store_attr *attr);

/*
 * Deletes an inode with its data and xattrs (and, for an orphan, its
 * listing; with an expiry, its entry in the expiry index; for a
 * directory, its stream). Its names must be gone.
 */
int store_inode_free(struct store_txn *txn, uint64_t ino);

/*
 * Orphans: POSIX keeps a file whose last name is gone while it is still
 * referenced (open, or looked up by a process about to open it). The
 * caller that holds such a file lists it with store_orphan_add() instead
 * of freeing it, and frees it with store_inode_free() when its last
 * reference goes. The list is in the store, so what a crash leaves listed
 * is reaped by store_orphans_reap().
 *
 * store_orphan_add: lists ino, which must have nlink 0 and not be a
 * directory. Errors: -ENOENT, -EINVAL (a directory, or nlink not 0).
 * store_orphans_reap: frees every listed orphan that still has no name,
 * and unlists the others; *count (may be NULL) gets how many it freed.
 * Call it only when no other process has the store open: their orphans
 * may still be held.
 */
int store_orphan_add(struct store_txn *txn, uint64_t ino);
int store_orphans_reap(struct store_txn *txn, uint64_t *count);

/*
 * Expiry (docs/dynamodb.md, "TTL"): an xattr STORE_XATTR_EXPIRES on a
 * regular file holds the second (since the epoch) from which the item is
 * expired: 1..STORE_EXPIRES_MAX in decimal, no sign, no leading zero, no
 * space, no newline. It is an ordinary xattr (listed, counted towards the
 * item size), and the store keeps an index of it: xattr_set and
 * xattr_remove of that name and inode_free keep the index in the same
 * transaction, and store_inode_get() reports it (store_attr.expires). The
 * store only keeps the time; what an expired item means is the caller's.
 *
 * store_xattr_set() of STORE_XATTR_EXPIRES: -EINVAL for a value that does
 * not parse (store_expires_parse()) or an inode that is not a regular
 * file, and nothing changes; otherwise as for any xattr.
 * store_expired: calls fn for every indexed inode whose expiry is at most
 * now, earliest first (then by inode number), until fn returns non-zero,
 * which is returned. fn must not change the store (collect, then act).
 * Errors: -EIO.
 * store_expires_parse: parses a value (len bytes, not NUL-terminated) into
 * *out. Errors: -EINVAL.
 */
#define STORE_XATTR_EXPIRES "user.itemfs.expires"
#define STORE_EXPIRES_MAX ((uint64_t)INT64_MAX)
int store_expired(struct store_txn *txn, uint64_t now, store_expiry_fn fn, void *arg);
int store_expires_parse(const void *value, size_t len, uint64_t *out);

/*
 * Streams (docs/dynamodb.md, "Change streams"): per directory (a table),
 * an append-only run of records at byte offsets, kept in the store so that
 * every process sees the same offsets and a crash keeps exactly the
 * records of the transactions it keeps. The store knows nothing of what a
 * record says: the caller writes the bytes, and the commit time used for
 * trimming. Offsets never move: trimming raises `first`, and what lies
 * below it reads as NUL bytes, like a punched hole. A directory's stream
 * goes with the directory (store_inode_free()).
 *
 * store_stream_head: *out gets dir's stream (all zeros: none yet).
 * store_stream_append: appends rec (1..STORE_STREAM_REC_MAX bytes) at
 *   out->end, with time (ns since the epoch, for trimming) and seq (the
 *   caller's numbering; at least head.seq, which it becomes). *out (may
 *   be NULL) gets the head after. Errors: -EINVAL (empty or too long
 *   record, seq below head.seq), -ENOSPC, -EIO.
 * store_stream_trim: drops records from the front while the oldest is
 *   older than before (ns) or the stream holds more than max_bytes
 *   (0: no size bound) after it, at most max_records of them (bounding
 *   one call's work); *dropped (may be NULL) gets how many, and *out
 *   (may be NULL) the head after.
 * store_stream_read: copies bytes [off, off + size) of the stream into
 *   buf: NUL bytes below first, records' bytes up to end; *len gets how
 *   many (0 at or past end). Errors: -EIO (records missing inside
 *   [first, end): the store is damaged, and it is logged).
 */
#define STORE_STREAM_REC_MAX 32768u
struct store_stream_head {
	uint64_t first;	    /* offset of the first record kept */
	uint64_t end;	    /* offset after the last record: the stream's size */
	uint64_t seq;	    /* the seq of the last record appended (0: none) */
	uint64_t first_ns;  /* time of the first record kept */
	uint64_t last_ns;   /* time of the last record kept (0: none) */
};
int store_stream_head(struct store_txn *txn, uint64_t dir, struct store_stream_head *out);
int store_stream_append(struct store_txn *txn, uint64_t dir, uint64_t seq, uint64_t time_ns,
			const void *rec, size_t len, struct store_stream_head *out);
int store_stream_trim(struct store_txn *txn, uint64_t dir, uint64_t before_ns, uint64_t max_bytes,
		      unsigned max_records, unsigned *dropped, struct store_stream_head *out);
int store_stream_read(struct store_txn *txn, uint64_t dir, uint64_t off, void *buf, size_t size,
		      size_t *len);

/*
 * Secondary indexes (docs/dynamodb.md, "Secondary indexes"). A table (a
 * directory whose parent is the root) may declare indexes, each on one
 * attribute name ATTR (the xattr "user.ATTR"). Index (TABLE, ATTR) holds
 * one entry (value, ino) for each regular file ino that has a name, whose
 * parent pointer (store_attr.parent) lies in TABLE's subtree, and whose
 * "user.ATTR" holds value, of at most STORE_INDEX_VALUE_MAX bytes. The
 * store keeps that true in the same transaction as every change:
 * xattr_set, xattr_remove, dirent_add, dirent_remove (an item that loses
 * its last name, or moves to another table, alone or with its directory),
 * inode_free; a table that is freed or stops being a table drops its
 * indexes. Item names are not kept: the caller finds them.
 *
 * store_xattr_set() of an indexed attribute with a value longer than
 * STORE_INDEX_VALUE_MAX: -E2BIG, nothing changes. An item that arrives
 * in a table (by rename) with such a value is left out of that index.
 *
 * store_index_add: declares (table, attr) and indexes the table's items,
 * in txn. Errors: -ENOENT (no such table), -ENOTDIR, -EINVAL (table is not
 * a top-level directory; attr empty, longer than STORE_INDEX_ATTR_MAX, or
 * beginning with "itemfs."), -EEXIST, -E2BIG (an item's value is longer
 * than STORE_INDEX_VALUE_MAX), -EFBIG (more than STORE_INDEX_BUILD_MAX items
 * with attributes in the table); on these nothing changes.
 * store_index_drop: drops (table, attr) and its entries. -ENOENT, -EINVAL.
 * store_index_list: fn for each attr declared on table (attr not
 * NUL-terminated, valid only during the call), in byte order.
 * store_index_values: fn for each distinct value >= from (byte order; a
 * value before the values it is a prefix of) of (table, attr), once each;
 * -ENOENT when (table, attr) is not declared.
 * store_index_items: fn for each inode with value, by inode number;
 * -ENOENT when not declared.
 * Each fn returns 0 to continue; anything else stops the walk and is
 * returned. fn must not change the store.
 */
#define STORE_INDEX_VALUE_MAX 240u
#define STORE_INDEX_ATTR_MAX (STORE_NAME_MAX - 5u) /* "user." + ATTR */
#define STORE_INDEX_BUILD_MAX 100000u
typedef int (*store_index_fn)(void *arg, const char *attr, size_t len);
typedef int (*store_index_value_fn)(void *arg, const void *value, size_t len);
typedef int (*store_index_item_fn)(void *arg, uint64_t ino);
int store_index_add(struct store_txn *txn, uint64_t table, const char *attr);
int store_index_drop(struct store_txn *txn, uint64_t table, const char *attr);
int store_index_list(struct store_txn *txn, uint64_t table, store_index_fn fn, void *arg);
int store_index_values(struct store_txn *txn, uint64_t table, const char *attr, const void *from,
		       size_t fromlen, store_index_value_fn fn, void *arg);
int store_index_items(struct store_txn *txn, uint64_t table, const char *attr, const void *value,
		      size_t len, store_index_item_fn fn, void *arg);

/* Looks up name in directory parent. Errors: -ENOENT, -ENAMETOOLONG. */
int store_dirent_get(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
		     uint64_t *ino);

/*
 * Adds the entry parent/name -> ino and keeps the link counts: a directory
 * child raises parent's nlink and gets parent as its parent pointer; any
 * other child raises its own nlink. The child's keylen becomes len when
 * this is its only name, else the longest of its names seen so far.
 * Errors: -EEXIST, -ENOENT (parent or ino missing), -ENAMETOOLONG,
 *   -EFBIG (the new name would push the item past STORE_ITEM_MAX).
 */
int store_dirent_add(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
		     uint64_t ino);

/*
 * Removes the entry parent/name, undoing store_dirent_add()'s counts, and
 * returns the child's inode number in *ino (may be NULL). It never frees
 * the child: the caller does so with store_inode_free() when the child's
 * last name is gone (nlink 0 for a file; rmdir for a directory).
 */
int store_dirent_remove(struct store_txn *txn, uint64_t parent, const char *name, size_t len,
			uint64_t *ino);

/* Calls fn for each entry of dir in key (byte-wise name) order. */
int store_dir_list(struct store_txn *txn, uint64_t dir, store_dirent_fn fn, void *arg);

/* Returns 1 if dir has no entries, 0 if it has, or a negative errno. */
int store_dir_is_empty(struct store_txn *txn, uint64_t dir);

/*
 * Reads ino's whole data into a new heap buffer (out->data is NULL when
 * the item is empty), after verifying its checksum.
 * Errors: -ENOENT, -EBADMSG (checksum mismatch: logged with the inode
 * number; nothing returned), -ENOMEM.
 */
int store_data_get(struct store_txn *txn, uint64_t ino, struct store_buf *out);

/*
 * Replaces ino's data with data[0..len) and its checksum, sets the inode's
 * size to len and bumps its version. The caller sets times with
 * store_inode_put(). Errors: -EFBIG (keylen + len + xattr_bytes would
 * exceed STORE_ITEM_MAX; nothing changed), -ENOENT.
 */
int store_data_put(struct store_txn *txn, uint64_t ino, const void *data, size_t len);

/*
 * xattrs, with the semantics of getxattr(2) etc. (the caller filters
 * namespaces). get: size 0 asks for the length only; -ENODATA, -ERANGE.
 * set: flags XATTR_CREATE/XATTR_REPLACE (-EEXIST/-ENODATA), -E2BIG past
 * the item limit, -ERANGE for a name over STORE_NAME_MAX. list: the
 * NUL-separated names in key order; size 0 asks for the length.
 */
int store_xattr_get(struct store_txn *txn, uint64_t ino, const char *name, void *buf,
		    size_t size, size_t *len);
int store_xattr_set(struct store_txn *txn, uint64_t ino, const char *name, const void *value,
		    size_t size, int flags);
int store_xattr_list(struct store_txn *txn, uint64_t ino, char *buf, size_t size, size_t *len);
int store_xattr_remove(struct store_txn *txn, uint64_t ino, const char *name);

/* Space used and available, for statfs(2). */
int store_statfs(struct store *st, struct store_statfs *out);

/* Flushes everything committed to stable storage. */
int store_sync(struct store *st);

/* What store_check() counted (docs/store-format.md, "itemfs check"). */
struct store_check_summary {
	uint64_t inodes;      /* inode records */
	uint64_t items;       /* inodes that are neither directories nor symlinks */
	uint64_t directories; /* the root included */
	uint64_t symlinks;
	uint64_t bytes;       /* sum of the items' sizes, bytes */
	uint64_t problems;    /* problems reported through cb->problem */
};

/* The callbacks of store_check(); each may be NULL. */
struct store_check_ops {
	/*
	 * One problem. ino: the inode it is about, or 0 for the store as a
	 * whole (e.g. the meta database). path: the inode's path from the root
	 * ("table/dir/item"; "/" for the root; "(inode N)/dir/item" below an
	 * inode N that is not reachable from the root), or NULL when it has
	 * none. msg: what is wrong, one line. path and msg are valid only
	 * during the call. Problems come in inode order, after the walk.
	 */
	void (*problem)(void *arg, uint64_t ino, const char *path, const char *msg);
	/* done of total inode records checked so far; called every few inodes. */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
};

/*
 * Verifies the whole store in one read transaction (one consistent
 * snapshot, so it may run while the store is mounted by another process):
 * the format, every record's shape, every data checksum, and the tree
 * invariants the store keeps; docs/store-format.md ("itemfs check") lists
 * each check. Nothing is written. Memory: a few dozen bytes per inode.
 * Returns 0 when the whole store was checked (clean or not: see
 * out->problems), with *out written. Errors: -EIO (LMDB failed while reading
 * a damaged store: the check stopped; what it found is still reported,
 * without paths, a problem of inode 0 says where it stopped, and *out is
 * not written), -ENOMEM, -EINVAL (out is NULL), -EOPNOTSUPP (a backend
 * without a checker). st and cb are borrowed for the call. Callbacks run
 * on the calling thread, which must have no transaction of st open.
 */
int store_check(struct store *st, const struct store_check_ops *cb, void *arg,
		struct store_check_summary *out);

/*
 * Writes a compacted copy of the whole store to fd: the LMDB data file of
 * one read transaction, without its free pages. It is one point in time:
 * what other threads and processes commit while it runs is not in it. A
 * store directory whose data.mdb is the copy opens as the store as it was
 * (docs/store-format.md, "Backup and restore").
 * fd: borrowed, open for writing; written sequentially from its current
 * offset (a pipe will do), neither synced nor closed.
 * progress (may be NULL): called on the calling thread after each chunk
 * written, with done the bytes written so far and total an estimate (the
 * store's used bytes, see store_statfs(); never below done); a copy that
 * succeeds ends with one call where done == total == its length. It comes
 * often: throttle any display in it.
 * The copy runs on a thread of its own; other threads and processes may
 * read and write meanwhile. While it runs, this process does not grow the
 * map (a write transaction of this process that would grow it waits a
 * second, then begins without). Memory: about 3 MB.
 * Errors: those of write(2) to fd, as they are (-ENOSPC, -EFBIG, -EBADF,
 * ...; a closed pipe raises SIGPIPE on the calling thread, as write(2)
 * does); -ENOMEM; -EIO (LMDB failed while reading the store, logged);
 * -EOPNOTSUPP (a backend without backups). On error fd holds part of a
 * copy: discard it. st is borrowed for the call.
 */
int store_backup(struct store *st, int fd,
		 void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg);

/*
 * Tells whether another process has the store in directory path open (a
 * mount, `itemfs check`, a backup): 1 if so, 0 if not (also when path holds
 * no lock file), or a negative errno (-EACCES, -ENAMETOOLONG, ...) when it
 * cannot tell. It opens the lock file read-only and changes nothing. A
 * process that opens the store after the answer is not seen: a caller that
 * replaces a store accepts that race. Must not be called for a store this
 * process has open (closing the lock file would drop this process's locks).
 * A DynamoDB-API URL always answers 1: mounts on other machines cannot be
 * seen from here.
 */
int store_in_use(const char *path);

/*
 * The change log. Every write transaction appends, in the same commit, one
 * record per thing it changed, numbered in commit order (seq 1, 2, ...), so
 * that another mount of the store learns what to invalidate without
 * rereading the store; change streams and incremental backups will read
 * it too. Records:
 *   STORE_CHANGE_INODE  ino's attributes, data or xattrs changed, or ino
 *                       was freed: written by inode_put, inode_free,
 *                       data_put, xattr_set, xattr_remove.
 *   STORE_CHANGE_ENTRY  the name (parent, name) was added or removed (ino:
 *                       the child): written by dirent_add, dirent_remove.
 * A transaction may coalesce a record identical to the one it wrote just
 * before (same kind, ino, parent and name). Changes of a transaction that
 * aborts (nested ones included) leave no record.
 * The log keeps at least the last STORE_CHANGES_KEEP records; older ones
 * are trimmed as new ones come.
 */
#define STORE_CHANGES_KEEP 65536u

enum store_change_kind {
	STORE_CHANGE_INODE = 1,
	STORE_CHANGE_ENTRY = 2,
};

struct store_change {
	uint64_t seq;	 /* position in the log: from 1, strictly increasing */
	uint64_t origin; /* store_origin() of the handle whose transaction wrote it */
	enum store_change_kind kind;
	uint64_t ino;	 /* INODE: the inode; ENTRY: the child */
	uint64_t parent; /* ENTRY: the directory; INODE: 0 */
	const char *name; /* ENTRY: the name, not NUL-terminated, valid only during
			   * the callback; INODE: NULL */
	size_t namelen;
};

/* Returns 0 to continue; anything else stops store_changes() and is returned. */
typedef int (*store_change_fn)(void *arg, const struct store_change *c);

/*
 * A number that changes whenever any process commits a write transaction
 * to the store (LMDB: the last committed transaction id). Costs no
 * transaction and no I/O: compare it before reading the change log.
 */
uint64_t store_generation(struct store *st);

/*
 * A strongly consistent read: after it returns, store_generation() and the
 * read transactions begun after it reflect every write transaction
 * committed anywhere before the call. LMDB reads are always so (0 at no
 * cost); the DynamoDB-API backend reads its commit counter with
 * ConsistentRead and makes the reads that follow strong. Errors: those of
 * the backend's read (-EIO, -ETIMEDOUT, ...).
 */
int store_read_barrier(struct store *st);

/* The backend's STORE_HAS_* bits; an op it lacks returns -EOPNOTSUPP. */
unsigned store_features(const struct store *st);

/* This handle's origin: non-zero, chosen at store_open(), unique per open. */
uint64_t store_origin(struct store *st);

/* The seq of the last record in the log as txn sees it (0: none yet). */
int store_change_last(struct store_txn *txn, uint64_t *seq);

/*
 * Calls fn for each record with seq > after, in seq order, as txn sees
 * the log. Errors: -ESTALE when records after `after` were already
 * trimmed (the caller must assume anything changed; nothing is delivered),
 * whatever fn returned, -EIO.
 */
int store_changes(struct store_txn *txn, uint64_t after, store_change_fn fn, void *arg);

/*
 * True when an item whose name is keylen bytes and whose xattrs take
 * xattr_bytes can hold size bytes of data. The one statement of the rule,
 * for callers that want to refuse a write before buffering it.
 */
static inline bool store_item_fits(uint64_t keylen, uint64_t size, uint64_t xattr_bytes)
{
	return keylen + size + xattr_bytes <= STORE_ITEM_MAX;
}

#endif /* ITEMFS_STORE_H */
