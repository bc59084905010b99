/*
 * fs.h - state shared by the FUSE front-end of itemfs (private to fs/).
 *
 * fs/ turns FUSE low-level requests into store transactions. It owns the
 * per-mount state: the inode table (what the kernel has looked up), open
 * files with their write buffers, open directory listings, and options.
 * It never sees how the store keeps things (no LMDB here).
 *
 * Threading: the session runs single-threaded (fs_session_loop(), session.c), chosen
 * by measurement (docs/design.md, "Threading"), so none of the state below
 * is locked. Every field is touched only from the session thread, which
 * also begins and commits every store write transaction (commit.c).
 *
 * Write model (PutItem semantics): a file opened for writing gets a private
 * copy of the item's data (struct fs_file.data). Writes and ftruncate change
 * the copy; flush (close), fsync and release commit it to the store as one
 * new version in one transaction. Until then every other opener reads the
 * committed version, so no reader ever sees a mix of two versions.
 */
#ifndef ITEMFS_FS_H
#define ITEMFS_FS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <syslog.h>

#include "cache.h"
#include "store.h"

struct fs_file;
struct fs_rename_end;

/* Mount options (fs/options.c). */
struct fs_options {
	char *store_path; /* absolute path of the store directory */
	char *mountpoint; /* absolute path of the mountpoint */
	bool foreground;  /* -f: do not daemonize */
	bool debug;       /* -d / -o debug: FUSE request trace on stderr */
	bool read_only;   /* -o ro */
	bool snapshot;    /* --snapshot: read-only, one point in time for the mount's life */
	bool allow_other; /* -o allow_other */
	bool noatime;     /* reads never update atime (always, stated for mount(8)) */
	double commit_interval; /* seconds a change may wait to be durable (0: none) */
	size_t cache_size;      /* -o cache_size: bytes of the daemon's read cache */
	double cache_ttl;       /* -o cache_ttl: seconds a read may lag other mounts */
	bool consistent_reads;  /* -o consistent_reads: every open reads the latest commit */
	size_t max_inodes;      /* -o max_inodes: inodes the kernel is let hold (0: no bound) */
	double stream_keep;	/* -o stream_keep: seconds a stream record is kept at least... */
	size_t stream_max;	/* -o stream_max: ...unless a table's stream is past this (0: no bound) */
	/* the DynamoDB-API backend (STORE_DIR a dynamodb:// URL; docs/ddb-backend.md) */
	char *ddb_region;      /* -o ddb_region: signing region (NULL: AWS_REGION, us-east-1) */
	char *ddb_credentials; /* -o ddb_credentials: an AWS shared-credentials file */
	char *ddb_profile;     /* -o ddb_profile: the profile in it */
	double ddb_poll;       /* -o ddb_poll: seconds between looks for other mounts' commits */
	double ddb_strong;    /* -o ddb_strong: seconds reads stay strong after a commit or fsync */
	enum store_ddb_commit ddb_commit; /* -o ddb_transactions=auto|on|off */
	unsigned busy_poll;   /* -o busy_poll: microseconds the idle loop polls before it blocks */
	unsigned idle_poll;   /* -o idle_poll: ms after a request that idle CPUs poll (0: off) */
	double attr_timeout;  /* seconds the kernel may cache attributes */
	double entry_timeout; /* seconds the kernel may cache names */
};

/* Defaults of -o stream_keep (a day, as DynamoDB Streams) and -o stream_max. */
#define FS_STREAM_KEEP_DEFAULT 86400.0
#define FS_STREAM_MAX_DEFAULT ((size_t)64 << 20)

/* Default of -o busy_poll (microseconds; docs/benchmarks.md, "Busy polling"). */
#define FS_BUSY_POLL_DEFAULT 100u

/* Default of -o idle_poll (milliseconds; docs/benchmarks.md, "2026-12-07: idle polling"). */
#define FS_IDLE_POLL_DEFAULT 20u

/* Default of -o max_inodes: about 26 MiB of the daemon's inode table. */
#define FS_MAX_INODES_DEFAULT 131072u

/*
 * Seconds the kernel keeps names and attributes while the watcher (view.c)
 * invalidates them as other mounts change them: a day, as a backstop only.
 */
#define FS_KERNEL_TIMEOUT 86400.0

/* True when the watcher runs: other mounts' writes can reach us and are not all strong. */
static inline bool fs_watching(const struct fs_options *o)
{
	return !o->snapshot && !o->consistent_reads && o->cache_ttl > 0;
}

/*
 * What the kernel holds of one inode: created on the first lookup that
 * reaches the kernel, freed when the kernel forgets it and no file is open.
 */
struct fs_inode {
	uint64_t ino;
	uint64_t nlookup;       /* kernel references (lookup counts) */
	unsigned nopen;         /* open struct fs_file on this inode */
	uint64_t parent;        /* directory it was last reached through */
	char *name;             /* its name there (for log lines), NUL-terminated */
	struct fs_file *writer; /* the handle written last with uncommitted data, or NULL */
	unsigned nwriters;      /* open files on it opened for writing */
	unsigned ncached;       /* open files on it read through the kernel's page cache */
	uint64_t kversion;      /* data version the kernel's pages hold (0: none known) */
	uint64_t ksize;         /* its size: the kernel's i_size while ncached > 0 */
	bool kattr_stale;       /* a writer ran: the kernel's i_size may not be kversion's */
	bool kattr_dirty;       /* attributes were sent while a writer held uncommitted
				 * data: its commit must invalidate them */
	uint64_t kattr_version; /* version of the attributes last sent to the kernel */
	uint64_t list_gen;      /* directory: bumped whenever its entries change */
	uint64_t klist_gen;     /* directory: list_gen of the listing the kernel caches */
	bool klisted;           /* directory: the kernel caches a listing of it */
	uint64_t klist_time;    /* directory: CLOCK_REALTIME second that listing was
				 * taken at (items expired by then are not in it) */
	double direct_until;    /* CLOCK_MONOTONIC seconds: until then its readers use
				 * direct I/O (an open for writing waited for page-cache
				 * readers; 0: never) */
	unsigned nwaiting;      /* opens for writing waiting for page-cache readers */
	bool dir;               /* a directory: never trimmed (its dentry holds its subtree's) */
	bool recent;            /* looked up since the trimming clock last passed */
	bool trimmed;           /* the kernel was asked to forget its name (fs_itab_trim()) */
	bool orphan;            /* its last name is gone; the store keeps it while we hold it */
	bool replaced;		/* a transaction (txn.c) put another item at its name behind
				 * the kernel's back: opens of it get ESTALE, and the kernel
				 * looks the name up again */
	struct fs_inode *next;  /* hash chain */
};

struct fs_inode_table {
	struct fs_inode **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	size_t trimming; /* entries trimmed and not yet forgotten or looked up again */
	size_t hand;	 /* the trimming clock's bucket */
};

/* What fuse_file_info.fh points at: both handle types begin with this. */
enum fs_handle_kind {
	FS_HANDLE_FILE = 0x66696c65,  /* struct fs_file */
	FS_HANDLE_DIR = 0x64697220,   /* struct fs_dir */
	FS_HANDLE_STATS = 0x73746174, /* struct fs_stats_file */
	FS_HANDLE_TXN = 0x74786e20,   /* struct fs_txn_file (txn.c) */
	FS_HANDLE_STREAM = 0x7374726d, /* struct fs_stream_file (stream.c) */
};

/*
 * A condition on an item's version (cond.c, docs/dynamodb.md): "the item
 * is still token INO:VERSION", or "the name is absent".
 */
struct fs_cond {
	bool set;	  /* a condition is held */
	bool absent;	  /* "absent" (ino and version unused) */
	uint64_t ino;	  /* the token's inode number */
	uint64_t version; /* the token's data version */
};

/* One open regular file (fuse_file_info.fh). */
struct fs_file {
	enum fs_handle_kind kind; /* FS_HANDLE_FILE */
	struct fs_inode *inode;
	int flags;             /* open(2) flags */
	pid_t open_pid;        /* process that opened it (to match its O_TRUNC) */
	bool writable;         /* opened O_WRONLY or O_RDWR */
	bool loaded;           /* data/len hold the item (or the new version) */
	bool dirty;            /* data differs from the committed version */
	bool written;          /* write(2) since the last commit (not just a truncation) */
	bool mtime_pending;    /* commit sets mtime to .mtime */
	struct timespec mtime; /* time of the last write, when mtime_pending */
	struct store_attr attr; /* attributes at open or last commit (fstat after unlink) */
	bool cached;            /* read through the kernel's page cache (not direct I/O) */
	struct fs_cond cond;    /* writers: the condition its commits check (cond.c) */
	/*
	 * The item's bytes, len of them: in pinned pages of the read cache
	 * (paged: a reader's version), or in a private malloc'd copy of cap
	 * bytes (data: a writer's, or a reader's when the cache had no room).
	 */
	bool paged;
	struct cache_ref **pages;
	size_t npages;
	char *data;
	size_t len, cap;
	struct fs_file *prev, *next; /* fs_ctx.files */
};

/* The open .itemfs/stats (fuse_file_info.fh): the text as it was at open. */
struct fs_stats_file {
	enum fs_handle_kind kind; /* FS_HANDLE_STATS */
	char *text;
	size_t len;
};

static inline struct fs_stats_file *fs_stats_file_of(const struct fuse_file_info *fi)
{
	const enum fs_handle_kind *kind = fi ? (const enum fs_handle_kind *)(uintptr_t)fi->fh : NULL;

	return kind && *kind == FS_HANDLE_STATS ? (struct fs_stats_file *)(uintptr_t)fi->fh : NULL;
}

/* One open directory (fuse_file_info.fh): a listing taken at opendir. */
struct fs_dir_entry {
	uint64_t ino;
	uint32_t mode;
	char *name;
};

struct fs_dir {
	enum fs_handle_kind kind; /* FS_HANDLE_DIR */
	uint64_t ino;
	struct fs_dir_entry *ents;
	size_t count, cap;
	struct fs_dir *prev, *next; /* fs_ctx.dirs */
};

/* Counters of the view (view.c), shown in .itemfs/stats. */
struct fs_view_stats {
	uint64_t strong_reads;	     /* refreshes that had to compare the store's generation */
	uint64_t log_reads;	     /* refreshes that found the generation moved */
	uint64_t changes;	     /* change-log records applied */
	uint64_t foreign_changes;    /* ... of them made by other mounts or processes */
	uint64_t full_invalidations; /* times the whole cache was dropped */
	uint64_t kernel_notes;	     /* invalidations queued for the kernel */
	uint64_t inode_trims;	     /* ... of them names dropped to keep to max_inodes */
	uint64_t opens_cached;	     /* opens served through the kernel's page cache */
	uint64_t reads_by_inode;     /* reads without a file handle (kernel opens) */
	uint64_t opens_direct;	     /* opens served with direct I/O */
	uint64_t writer_waits;	     /* opens for writing that waited for page-cache readers */
	uint64_t txn_applied;	     /* transactions (txn.c) applied */
	uint64_t txn_actions;	     /* ... their actions */
	uint64_t txn_canceled;	     /* transactions refused by a condition (ECANCELED) */
	uint64_t txn_failed;	     /* ... refused for another reason */
	uint64_t idle_poll_holds;    /* times the session took its idle_poll hold (session.c) */
};

struct fs_notifier;

/* Item expiry (ttl.c): its counters, shown in .itemfs/stats, and the reaper's clock. */
struct fs_ttl {
	uint64_t hidden;    /* lookups, stats by name, opens, listings that hid an expired item */
	uint64_t reclaimed; /* expired items the reaper deleted */
	uint64_t pending;   /* expired items in the store at the last pass (up to 65536) */
	double due;	    /* fs_mono_now() seconds: the next pass */
	double last;	    /* fs_mono_now() seconds: the last pass */
	uint64_t *stuck;    /* expired items with names a pass could not all find */
	size_t nstuck;
};

/* Change streams (stream.c): what one request has appended, and counters. */
#define FS_STREAM_TABLES_MAX 256u /* tables one request appends to with one seq each */
struct fs_stream {
	uint64_t req;	   /* bumped by fs_txn_write(): a new request's transaction */
	uint64_t memo_req; /* the request table[] and seq[] are of */
	unsigned n;
	uint64_t table[FS_STREAM_TABLES_MAX], seq[FS_STREAM_TABLES_MAX];
	uint64_t records; /* records appended by this mount */
	uint64_t trimmed; /* records it trimmed */
	uint64_t reads;	  /* reads of stream files */
};
/* Secondary index views (index.c): counters shown in .itemfs/stats. */
struct fs_index_stats {
	uint64_t lookups;  /* lookups of names in .itemfs/index */
	uint64_t listings; /* directories of .itemfs/index listed */
	uint64_t entries;  /* ... the entries they listed */
	uint64_t declared; /* indexes declared (mkdir) by this mount */
	uint64_t dropped;  /* indexes dropped (rmdir) by this mount */
};
#define FS_IX_BUCKETS 256u
struct fs_ix_node;

/* An open for writing that waits for the page-cache readers of its item (ops_file.c). */
struct fs_waiting_open {
	fuse_req_t req;
	struct fuse_file_info fi;
	struct fs_inode *inode; /* referenced (nopen) while it waits */
	double deadline;        /* CLOCK_MONOTONIC seconds: opens anyway after it */
	struct fs_waiting_open *next;
};

/* Everything one mount owns; reached through fs_ctx_of(). */
struct fs_ctx {
	struct fs_options opts;
	struct store *store;
	struct fuse_session *se;
	struct fs_inode_table itab;
	struct fs_file *files; /* every open file */
	struct fs_dir *dirs;   /* every open directory */

	/* --snapshot: the read transaction every read uses, held for the mount's life. */
	struct store_txn *snapshot;
	/*
	 * --snapshot: the kernel opens files without asking (FUSE's no_open,
	 * ops_file.c "Kernel opens"), and asks for bytes by inode.
	 */
	bool kernel_opens;
	struct fs_file *last_read; /* the item such a read loaded last, kept open */
	char *stats_text;	   /* .itemfs/stats as such reads see it... */
	size_t stats_len;
	double stats_time;	     /* ...made at this fs_mono_now() (0: not yet), */
	struct timespec stats_mtime; /* and this CLOCK_REALTIME, its mtime */

	/* Group commit (commit.c). */
	struct store_txn *batch;      /* the open batch transaction, or NULL */
	double batch_start;           /* fs_mono_now() when the batch began */
	unsigned batch_ops;           /* requests in the batch */
	size_t batch_bytes;           /* item data bytes written in the batch */

	/* The view of the store (view.c). */
	struct cache *cache;          /* the read cache */
	struct fs_notifier *notifier; /* the thread that sends kernel invalidations */
	uint64_t origin;              /* store_origin(): our records in the change log */
	uint64_t view_gen;            /* store_generation() when last compared */
	uint64_t view_pokes;	      /* the watcher's pokes when last refreshed */
	uint64_t view_seq;            /* last change-log record applied */
	double view_checked;          /* CLOCK_MONOTONIC seconds of the last comparison */
	struct fs_waiting_open *waiting; /* opens for writing held back (ops_file.c) */
	bool view_wrote;              /* this request wrote: the cache is bypassed until
				       * its records are applied */
	bool view_behind_kernel;      /* this request changed names the kernel did not see
				       * change (txn.c): its records are noted to the kernel
				       * as other mounts' are */
	struct fs_view_stats stats;
	struct fs_ttl ttl;
	struct fs_stream stream;
	struct fs_index_stats index;
	struct fs_ix_node *ix[FS_IX_BUCKETS]; /* index view nodes the kernel holds (index.c) */
};

/* Inode numbers of the hidden .itemfs directory, its stats and its txn file. */
#define FS_INO_HIDDEN_DIR (UINT64_MAX - 1)
#define FS_INO_STATS (UINT64_MAX - 2)
#define FS_INO_TXN (UINT64_MAX - 3)
/* ... of .itemfs/streams, and of the stream of table T: FS_INO_STREAM_BASE | T. */
#define FS_INO_STREAMS_DIR (UINT64_MAX - 5)
#define FS_INO_STREAM_BASE (UINT64_C(1) << 62)
#define FS_HIDDEN_NAME ".itemfs"
/* .itemfs/index, and the nodes below it: numbers in [BASE, BASE + 2^47) (index.c) */
#define FS_INO_INDEX_DIR (UINT64_MAX - 4)
#define FS_INO_INDEX_BASE (UINT64_MAX - (1ull << 48))

static inline bool fs_ino_is_index(uint64_t ino)
{
	return ino == FS_INO_INDEX_DIR ||
	       (ino >= FS_INO_INDEX_BASE && ino < FS_INO_INDEX_BASE + (1ull << 47));
}

static inline bool fs_ino_is_stream(uint64_t ino)
{
	return ino >= FS_INO_STREAM_BASE && ino < FS_INO_STREAM_BASE + (UINT64_C(1) << 61);
}

static inline bool fs_ino_is_hidden(uint64_t ino)
{
	return ino == FS_INO_HIDDEN_DIR || ino == FS_INO_STATS || ino == FS_INO_TXN ||
	       ino == FS_INO_STREAMS_DIR || fs_ino_is_stream(ino) || fs_ino_is_index(ino);
}

static inline struct fs_ctx *fs_ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * Whether the store's backend has feature (STORE_HAS_*): change streams,
 * secondary indexes and TTL are the LMDB backend's only (docs/ddb-backend.md);
 * on another, their hooks do nothing and their files answer EOPNOTSUPP.
 */
static inline bool fs_has(const struct fs_ctx *ctx, unsigned feature)
{
	return (store_features(ctx->store) & feature) != 0;
}

/* The open regular file behind fi, or NULL (no fi, or a directory's). */
static inline struct fs_file *fs_file_of(const struct fuse_file_info *fi)
{
	const enum fs_handle_kind *kind = fi ? (const enum fs_handle_kind *)(uintptr_t)fi->fh : NULL;

	return kind && *kind == FS_HANDLE_FILE ? (struct fs_file *)(uintptr_t)fi->fh : NULL;
}

/* fs/commit.c: group commit */
int fs_txn_read(struct fs_ctx *ctx, struct store_txn **out);
void fs_txn_read_end(struct fs_ctx *ctx, struct store_txn *txn);
int fs_txn_write(struct fs_ctx *ctx, struct store_txn **out);
void fs_batch_account(struct fs_ctx *ctx, size_t bytes);
int fs_batch_commit(struct fs_ctx *ctx);
void fs_batch_tick(struct fs_ctx *ctx);
double fs_batch_due(const struct fs_ctx *ctx); /* fs_mono_now() s; -1: no batch */
int fs_sync(struct fs_ctx *ctx);

/* fs/session.c: the request loop */
int fs_session_loop(struct fs_ctx *ctx);

/* fs/view.c: the read cache and the consistency contract (docs/consistency.md) */
int fs_view_init(struct fs_ctx *ctx);
int fs_view_start(struct fs_ctx *ctx);
void fs_view_stop(struct fs_ctx *ctx);
void fs_view_destroy(struct fs_ctx *ctx);
/*
 * Brings the read cache up to other mounts' commits: when strong, to every
 * commit made anywhere before the call (returns the backend's error if its
 * read barrier failed: the caller must not claim a strong read); else at
 * most once per cache_ttl, unless the watcher saw a change (returns 0).
 */
int fs_view_refresh(struct fs_ctx *ctx, bool strong);
void fs_view_after_request(struct fs_ctx *ctx);
void fs_view_reply_after_notes(struct fs_ctx *ctx, fuse_req_t req);
void fs_view_inval_attr_now(struct fs_ctx *ctx, uint64_t ino);
void fs_view_note_pages(struct fs_ctx *ctx, uint64_t ino);
void fs_view_note_entry(struct fs_ctx *ctx, uint64_t parent, const char *name, size_t len);
void fs_view_trim_inodes(struct fs_ctx *ctx);
int fs_view_attr(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino,
		 struct store_attr *out);
/* Whether fs_view_attr() of ino would be served by the read cache. */
bool fs_view_attr_cached(struct fs_ctx *ctx, uint64_t ino);
/*
 * The attributes a reader's open starts from: the store's (its latest
 * commit) on a backend with local reads, else fs_view_attr()'s (the read cache, which
 * the change log keeps within the eventual bound; a strong refresh before
 * it makes it strong). Errors: those of store_inode_get().
 */
int fs_view_open_attr(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino,
		      struct store_attr *out);
int fs_view_lookup(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent, const char *name,
		   size_t len, uint64_t *ino);
int fs_view_list(struct fs_ctx *ctx, struct store_txn *txn, uint64_t dir, store_dirent_fn fn,
		 void *arg);
/*
 * Loads the bytes of item *a into f: the read cache's pages of that
 * version, else the store's bytes; on a backend without local reads these
 * may be of a newer version than *a (which may have come from the read
 * cache), and *a becomes that version's attributes.
 */
int fs_view_read_item(struct fs_ctx *ctx, struct store_txn *txn, struct store_attr *a,
		      struct fs_file *f);
void fs_view_pages_put(struct fs_ctx *ctx, struct fs_file *f);
int fs_view_stats_text(struct fs_ctx *ctx, char **out, size_t *len);
int fs_hidden_stats_text(struct fs_ctx *ctx);

/* fs/hidden.c: the .itemfs directory (answers for FS_INO_HIDDEN_DIR and FS_INO_STATS) */
bool fs_hidden_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_hidden_getattr(fuse_req_t req, fuse_ino_t ino);
void fs_hidden_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_hidden_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_hidden_attr(uint64_t ino, struct store_attr *a);
int fs_hidden_attr_get(struct fs_ctx *ctx, uint64_t ino, struct store_attr *a);
int fs_hidden_reply_entry(fuse_req_t req, const struct store_attr *a, double timeout);

/* fs/index.c: .itemfs/index, the secondary index views (docs/dynamodb.md) */
void fs_index_reply_dir(fuse_req_t req);
void fs_index_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_index_getattr(fuse_req_t req, fuse_ino_t ino);
void fs_index_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_index_readlink(fuse_req_t req, fuse_ino_t ino);
int fs_index_declare(fuse_req_t req, fuse_ino_t parent, const char *name, bool add);
void fs_index_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_index_forget(struct fs_ctx *ctx, uint64_t ino, uint64_t nlookup);
void fs_index_destroy(struct fs_ctx *ctx);

/* fs/log.c */
int fs_log_set_level(const char *name);
void fs_log_init(bool to_syslog, bool debug);
void fs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fs_log_store(int priority, const char *msg);

/* fs/options.c */
int fs_options_parse(int argc, char **argv, struct fs_options *out);
void fs_options_free(struct fs_options *opts);
void fs_usage(FILE *out);

/* fs/cmd_check.c: `itemfs check`; argv holds the arguments after `check` */
int cmd_check(int argc, char **argv);
/* fs/cmd_backup.c: `itemfs backup` and `itemfs restore`; argv as for cmd_check() */
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
/* fs/cmd_stats.c: `itemfs stats MOUNTPOINT [--json]` */
int cmd_stats(int argc, char **argv);
/* fs/cmd_txn.c: `itemfs txn MOUNTPOINT MANIFEST` */
int cmd_txn(int argc, char **argv);

/* fs/inode.c */
int fs_itab_init(struct fs_inode_table *t);
void fs_itab_destroy(struct fs_inode_table *t);
struct fs_inode *fs_inode_find(struct fs_inode_table *t, uint64_t ino);
int fs_inode_ref(struct fs_inode_table *t, uint64_t ino, bool dir, uint64_t parent,
		 const char *name, size_t namelen, struct fs_inode **out);
bool fs_inode_unref(struct fs_inode_table *t, struct fs_inode *in, uint64_t nlookup);
size_t fs_itab_trim(struct fs_inode_table *t, size_t want,
		    void (*fn)(void *arg, struct fs_inode *in), void *arg);
void fs_inode_rename(struct fs_inode *in, uint64_t parent, const char *name, size_t namelen);
int fs_inode_path(struct fs_inode_table *t, uint64_t ino, char *buf, size_t size);

/* fs/attr.c: attributes and shared reply helpers */
void fs_now(struct timespec *ts);
double fs_mono_now(void); /* CLOCK_MONOTONIC, in seconds */
void fs_attr_to_stat(const struct store_attr *a, struct stat *st);
int fs_attr_get(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino, struct store_attr *out);
int fs_attr_get_fh(struct fs_ctx *ctx, struct store_txn *txn, uint64_t ino,
		   const struct fs_file *f, struct store_attr *out);
int fs_touch_dir(struct store_txn *txn, uint64_t dir, const struct timespec *now);
void fs_reply_entry(fuse_req_t req, const struct store_attr *a, const char *name,
		    uint64_t parent);
int fs_check_name(const char *name, size_t *len);
void fs_attr_sent(struct fs_ctx *ctx, const struct store_attr *a);
int fs_check_entry(uint64_t parent, const char *name, size_t *len);
enum fs_priv_change { FS_PRIV_WRITE, FS_PRIV_CHOWN };
mode_t fs_privs_dropped(fuse_req_t req, const struct store_attr *a, enum fs_priv_change why);

/* fs/file.c: the write model */
/*
 * The attributes f's bytes start from, read in txn: a writer's are the
 * latest commit's, whatever the backend; a reader's fs_view_open_attr()'s.
 */
int fs_file_base_attr(struct fs_ctx *ctx, struct store_txn *txn, const struct fs_file *f,
		      struct store_attr *out);
/*
 * Replaces f's bytes with those of the version fs_file_base_attr() names,
 * read in txn; fs_file_load_version() with those of version *base, whose
 * attributes the caller has read in txn already. Errors: -EIO (checksum
 * mismatch, logged with the item's path), -ENOENT, -ENOMEM; f then holds
 * no bytes.
 */
int fs_file_load(struct fs_ctx *ctx, struct store_txn *txn, struct fs_file *f);
int fs_file_load_version(struct fs_ctx *ctx, struct store_txn *txn, struct fs_file *f,
			 const struct store_attr *base);
int fs_file_ensure(struct fs_ctx *ctx, struct fs_file *f);
int fs_file_commit(struct fs_ctx *ctx, struct fs_file *f);
int fs_file_flush(struct fs_ctx *ctx, struct fs_file *f);
int fs_file_resize(struct fs_file *f, size_t len);
void fs_file_overlay(const struct fs_inode *in, struct store_attr *a);
void fs_files_drop_pending(struct fs_ctx *ctx);
void fs_file_close(struct fs_ctx *ctx, struct fs_file *f);
void fs_dir_close(struct fs_ctx *ctx, struct fs_dir *d);
void fs_dir_open_reply(fuse_req_t req, struct fuse_file_info *fi, struct fs_dir *d);
int fs_dir_list_add(void *arg, const struct store_dirent *ent); /* a store_dirent_fn onto a fs_dir */
void fs_dir_free(struct fs_dir *d); /* one never handed to the kernel */
void fs_handles_close_all(struct fs_ctx *ctx);

/*
 * fs/cond.c: conditional writes (docs/dynamodb.md). The user.itemfs. xattr
 * names are answered here; the hooks below are called by ops_attr.c (xattr
 * handlers), ops_dir.c (rename) and file.c (commit), each in the caller's
 * transaction where one is passed.
 */
#define FS_COND_PREFIX "user.itemfs."
#define FS_COND_VERSION "user.itemfs.version"
#define FS_COND_IF "user.itemfs.if_version"
bool fs_cond_reserved(const char *name);
int fs_cond_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		     size_t size, int flags, bool *held);
int fs_cond_getxattr(fuse_req_t req, struct store_txn *txn, fuse_ino_t ino, const char *name,
		     char *buf, size_t size, size_t *len);
int fs_cond_listxattr(struct store_txn *txn, fuse_ino_t ino, char *buf, size_t size,
		      size_t *len);
int fs_cond_parse(const char *v, size_t size, struct fs_cond *out);
bool fs_cond_holds(const struct fs_cond *c, const struct store_attr *a);
int fs_cond_rename(struct store_txn *txn, const struct store_attr *src,
		   const struct store_attr *dst, unsigned flags);
int fs_cond_check_commit(struct fs_ctx *ctx, struct store_txn *txn, struct fs_file *f, int rc,
			 const struct store_attr *a);
void fs_cond_committed(struct fs_file *f);
static inline bool fs_cond_held(const struct fs_file *f)
{
	return f->cond.set;
}

/*
 * fs/ttl.c: item expiry (docs/dynamodb.md, "TTL"). An item whose
 * user.itemfs.expires (STORE_XATTR_EXPIRES) has come is absent for every
 * operation by name; the hooks below are called by the handlers.
 */
uint64_t fs_ttl_now(void); /* CLOCK_REALTIME, in whole seconds */
bool fs_ttl_hide(struct fs_ctx *ctx, const struct store_attr *a);
double fs_ttl_timeout(const struct store_attr *a, double timeout);
int fs_ttl_entry_get(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent,
		     const char *name, size_t len, struct store_attr *out);
int fs_ttl_dirent_add(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent,
		      const char *name, size_t len, uint64_t ino);
int fs_ttl_filter(struct fs_ctx *ctx, struct store_txn *txn, struct fs_dir *d, uint64_t now,
		  uint64_t *latest);
void fs_ttl_changed(struct fs_ctx *ctx, uint64_t ino);
void fs_ttl_tick(struct fs_ctx *ctx);
double fs_ttl_due(const struct fs_ctx *ctx); /* fs_mono_now() s; -1: never */
void fs_ttl_destroy(struct fs_ctx *ctx);

/*
 * fs/stream.c: change streams (docs/dynamodb.md, "Change streams"). The
 * hooks append, in the request's own transaction, one record per item
 * (non-directory) whose name or content changed; a directory's before or
 * after state (NULL, or a directory's attributes) counts as absent.
 */
int fs_stream_name(struct fs_ctx *ctx, struct store_txn *txn, uint64_t dir, const char *name,
		   size_t len, const struct store_attr *before, const struct store_attr *after);
int fs_stream_inode(struct fs_ctx *ctx, struct store_txn *txn, const struct store_attr *a);
int fs_stream_rename(struct fs_ctx *ctx, struct store_txn *txn, const struct fs_rename_end *s,
		     const struct fs_rename_end *d, bool exchange);
/* ... and the files: .itemfs/streams/TABLE, read-only, one per table */
struct fs_stream_file;
static inline struct fs_stream_file *fs_stream_file_of(const struct fuse_file_info *fi)
{
	const enum fs_handle_kind *kind =
	    fi ? (const enum fs_handle_kind *)(uintptr_t)fi->fh : NULL;

	return kind && *kind == FS_HANDLE_STREAM ? (struct fs_stream_file *)(uintptr_t)fi->fh : NULL;
}
int fs_stream_attr(struct fs_ctx *ctx, uint64_t ino, struct store_attr *out);
void fs_stream_lookup(fuse_req_t req, const char *name);
void fs_stream_opendir(fuse_req_t req, struct fuse_file_info *fi);
void fs_stream_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_stream_read(fuse_req_t req, uint64_t ino, size_t size, off_t off);
void fs_stream_release(fuse_req_t req, struct fs_stream_file *s);
int fs_stream_lseek(struct fs_ctx *ctx, fuse_ino_t ino, off_t off, int whence, off_t *out);

/* fs/ops_file.c: opens for writing held back while page-cache readers read */
void fs_waiting_opens_run(struct fs_ctx *ctx, bool all);
double fs_waiting_opens_due(const struct fs_ctx *ctx); /* fs_mono_now() s; -1: none */

/* fs/orphan.c: inodes whose last name went while this mount held them */
void fs_inode_put(struct fs_ctx *ctx, struct fs_inode *in, uint64_t nlookup);
void fs_orphans_free_all(struct fs_ctx *ctx);
void fs_orphans_reap(struct fs_ctx *ctx);

/* fs/ops_dir.c: the one path that creates inodes (mknod, mkdir, symlink, create) */
int fs_make_node(fuse_req_t req, uint64_t parent, const char *name, mode_t mode,
		 const char *target, struct store_attr *out);

/* fs/ops_dir.c: unlink and rename inside a caller's transaction (txn.c, ttl.c) */
int fs_unlink_name(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent, const char *name,
		   size_t len, uint64_t ino);
struct fs_rename_end {
	uint64_t dir;
	const char *name;
	size_t len;
	struct store_attr a; /* the inode it names; a.ino 0 if none */
};
int fs_remove_in(struct fs_ctx *ctx, struct store_txn *txn, uint64_t parent, const char *name,
		 size_t len, bool want_dir, uint64_t *ino);
int fs_rename_in(struct fs_ctx *ctx, struct store_txn *txn, struct fs_rename_end *s,
		 struct fs_rename_end *d, unsigned flags);

/* fs/txn.c: multi-item transactions through .itemfs/txn (docs/dynamodb.md) */
struct fs_txn_file;
static inline struct fs_txn_file *fs_txn_file_of(const struct fuse_file_info *fi)
{
	const enum fs_handle_kind *kind =
	    fi ? (const enum fs_handle_kind *)(uintptr_t)fi->fh : NULL;

	return kind && *kind == FS_HANDLE_TXN ? (struct fs_txn_file *)(uintptr_t)fi->fh : NULL;
}
void fs_txn_open(fuse_req_t req, struct fuse_file_info *fi);
void fs_txn_write_op(fuse_req_t req, struct fs_txn_file *t, const char *buf, size_t size,
		     off_t off);
void fs_txn_read_op(fuse_req_t req, struct fs_txn_file *t, size_t size, off_t off);
void fs_txn_flush(fuse_req_t req, struct fs_txn_file *t);
void fs_txn_fsync(fuse_req_t req, struct fs_txn_file *t);
void fs_txn_release(fuse_req_t req, struct fs_txn_file *t);

/* The fuse_lowlevel_ops handlers, by source file. */
extern const struct fuse_lowlevel_ops fs_ops;
void fs_op_init(void *userdata, struct fuse_conn_info *conn);
void fs_op_destroy(void *userdata);
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);
void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void fs_op_access(fuse_req_t req, fuse_ino_t ino, int mask);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);

#endif /* ITEMFS_FS_H */
