/*
 * store_i.h - what store.c shares with the backends, and nothing else.
 *
 * A backend's transaction begins with struct store_txn, so store.c can reach
 * the backend's ops from any transaction; a backend's store begins with
 * struct store (store.h). store.c checks the rules that do not depend on
 * the backend (name syntax, xattr flags) before dispatching, so a backend
 * op is only ever called with a valid name.
 */
#ifndef ITEMFS_STORE_I_H
#define ITEMFS_STORE_I_H

#include "store.h"

/* Every backend's transaction begins with this. */
struct store_txn {
	struct store *st; /* the store the transaction was begun on */
};

/*
 * Opens the LMDB backend: the store_open() contract, with cfg already
 * checked to be non-NULL with a non-NULL path.
 */
int store_lmdb_open(const struct store_config *cfg, struct store **out);

/*
 * Opens the DynamoDB-API backend (store/ddb_open.c): the store_open()
 * contract for a cfg->path that store_path_is_url().
 */
int store_ddb_open(const struct store_config *cfg, struct store **out);

/*
 * store_inode_put()'s rule, for every backend: *cur is the inode as the
 * store holds it (exists) or garbage (a new inode); on return it is the
 * record to write: a new inode's (store) fields initialised (nlink 0, or 2
 * for a directory; version 1; the rest 0), an existing one's kept, and the
 * caller's fields (mode, owner, times) taken from attr. Errors: -EINVAL
 * (an existing inode's type would change: entries record it), *cur then
 * unchanged.
 */
int store_attr_merge(struct store_attr *cur, bool exists, const struct store_attr *attr);

/*
 * The root directory of a new store, for every backend: 0755, owned by the
 * caller's euid/egid, two links, its own parent, version 1, times now.
 */
void store_root_attr(struct store_attr *out);

/* The LMDB backend's store_in_use(): the contract of store_in_use(). */
int store_lmdb_in_use(const char *path);

/*
 * Formats one log line and hands it to log, or writes it to stderr when log
 * is NULL. priority is a syslog(3) priority (LOG_ERR, ...).
 */
void store_log(void (*log)(int priority, const char *msg), int priority, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* ITEMFS_STORE_I_H */
