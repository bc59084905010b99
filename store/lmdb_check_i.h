/*
 * lmdb_check_i.h - what the files of the LMDB store checker share:
 *   lmdb_check.c       the driver, problems, and walk 1 over the records
 *                      (meta, inodes, data, xattrs);
 *   lmdb_check_tree.c  the directory entries and the tree: walks 2 and 3,
 *                      link counts, reachability from the root, paths;
 *   lmdb_check_index.c the secondary indexes against the items.
 * Names here begin with ck_ / CK_ and never leave these files.
 */
#ifndef ITEMFS_LMDB_CHECK_I_H
#define ITEMFS_LMDB_CHECK_I_H

#include <sys/stat.h>

#include "lmdb_i.h"

#define CK_NONE UINT32_MAX		      /* no node */
#define CK_PATH_DEPTH 4096		      /* path components before a path is cut short */
#define CK_PROGRESS_EVERY 64u		      /* inode records between progress calls */
#define CK_NAME_KEY_MIN 9u		      /* u64 inode number + a name of 1 byte */
#define CK_NAME_KEY_MAX (8u + STORE_NAME_MAX) /* u64 inode number + the longest name */

/* Reachability of a node from the root (the CK_STATE bits of ck_node.flags). */
enum {
	CK_UNSEEN = 0,
	CK_VISITING = 1, /* on the holder chain being resolved; a file: waits for walk 3 */
	CK_REACH = 2,
	CK_UNREACH = 3,
	CK_UNKNOWN = 4, /* hangs below an unreadable inode record: not judged */
};
#define CK_STATE 0x07u
#define CK_BAD 0x08u   /* unreadable record: only the names of the inode are counted */
#define CK_CYCLE 0x10u /* where a cycle of directories was found */
#define CK_WANT 0x20u  /* its name is needed for a problem's path */

/* What the check keeps of one inode: 40 bytes. */
struct ck_node {
	uint64_t ino;
	uint64_t parent;  /* the record's parent pointer */
	uint32_t holder;  /* node of the first directory (or unreadable inode) naming it */
	uint32_t nlink;	  /* the record's */
	uint32_t names;	  /* directory entries naming it (walk 2) */
	uint32_t subdirs; /* entries in it that name directories (walk 2) */
	uint32_t keylen;  /* the record's */
	uint16_t maxname; /* bytes of its longest name (walk 2) */
	uint8_t type;	  /* (mode & S_IFMT) >> 12 */
	uint8_t flags;	  /* CK_STATE bits, CK_BAD, CK_CYCLE, CK_WANT */
};

/* A problem, kept until the paths can be built. */
struct ck_problem {
	uint64_t ino; /* 0: the store as a whole */
	size_t seq;   /* order of finding, among one inode's problems */
	uint64_t dir; /* with name: the path is dir's path, then name */
	char *name;   /* NUL-terminated copy of an entry name, or NULL */
	char *msg;
	uint64_t again; /* times it was found again, right after (a run of bad keys) */
};

/* One check of one store: everything lives until lmdb_check() returns. */
struct ck {
	struct lmdb_store *st;
	MDB_txn *txn; /* the one read transaction */
	const struct store_check_ops *cb;
	void *arg;
	struct store_check_summary sum;
	struct ck_node *nodes; /* sorted by ino (the inode database's order) */
	size_t n, cap;
	uint32_t root;	  /* node of STORE_ROOT_INO, or CK_NONE */
	uint64_t max_ino; /* highest inode number with a record */
	struct ck_problem *probs;
	size_t nprobs, probcap;
	uint32_t *top;	  /* per node, once some are unreachable: the top of its subtree */
	uint32_t *below;  /* per top: unreachable inodes below it */
	uint32_t *want;	  /* sorted nodes whose names the paths need ... */
	char **want_name; /* ... and those names */
	size_t nwant;
	int err; /* -EIO or -ENOMEM: the check stopped */
};

static inline unsigned ck_state(const struct ck_node *nd)
{
	return nd->flags & CK_STATE;
}

static inline void ck_set_state(struct ck_node *nd, unsigned state)
{
	nd->flags = (uint8_t)((nd->flags & ~CK_STATE) | state);
}

/* True when nd's record is readable and of file type type (S_IFDIR, ...). */
static inline bool ck_is(const struct ck_node *nd, uint32_t type)
{
	return !(nd->flags & CK_BAD) && ((uint32_t)nd->type << 12) == type;
}

static inline bool ck_type_known(uint32_t type)
{
	switch (type) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		return true;
	}
	return false;
}

/* lmdb_check.c */

/* Notes a problem of inode ino (0: of the store); its path is the inode's. */
void ck_note(struct ck *c, uint64_t ino, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Notes a problem of inode ino found at entry dir/name[0..len): its path. */
void ck_note_at(struct ck *c, uint64_t ino, uint64_t dir, const void *name, size_t len,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* An LMDB failure rc reading database db: noted, logged; returns c->err. */
int ck_fail(struct ck *c, int rc, const char *db);
/* The node of inode ino, or CK_NONE. */
uint32_t ck_find(const struct ck *c, uint64_t ino);

/* lmdb_check_index.c: the secondary indexes against the items. Returns c->err. */
int ck_check_index(struct ck *c);

/* lmdb_check_tree.c */

/* Walk 2: the directory entries, counted into the nodes. Returns c->err. */
int ck_walk_entries(struct ck *c);
/* Compares the counts of walk 2 with the inode records. */
void ck_check_counts(struct ck *c);
/* Resolves reachability from the root and notes the unreachable. */
int ck_check_reach(struct ck *c);
/* Builds the paths (unless c->err) and hands every problem to c->cb. */
void ck_report(struct ck *c);

#endif /* ITEMFS_LMDB_CHECK_I_H */
