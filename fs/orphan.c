/*
 * orphan.c - the lifetime of inodes whose last name went while this mount
 * still held them.
 *
 * POSIX keeps such a file until its last reference goes, and so does
 * itemfs: ops_dir.c's settle_inode() lists it in the store as an orphan
 * (nlink 0) instead of freeing it when it is open here, or, for a name a
 * rename replaced, looked up by the kernel. This file frees it when the
 * kernel forgets it and no file is open on it (fs_inode_put()), at exit
 * (fs_orphans_free_all()), and, after a crash, at the next mount that has
 * the store to itself (fs_orphans_reap()). The store keeps the list, so
 * nothing a crash leaves behind is lost track of; `itemfs check` accepts
 * listed orphans.
 *
 * Only this mount's references count: another mount of the same store that
 * replaces a name this mount has looked up frees the inode at once
 * (docs/consistency.md).
 */
#include <errno.h>
#include <string.h>

#include "fs.h"

/*
 * Frees orphan ino, if the store still has it with no name (the request
 * that made it an orphan may have failed and left it linked). Failures are
 * logged: the next mount that has the store to itself reaps what is left.
 */
static void orphan_free(struct fs_ctx *ctx, uint64_t ino)
{
	struct store_txn *txn;
	struct store_attr a;
	int rc = fs_txn_write(ctx, &txn);

	if (rc)
		goto out;
	rc = store_inode_get(txn, ino, &a);
	if (rc == 0 && !S_ISDIR(a.mode) && a.nlink == 0)
		rc = store_inode_free(txn, ino);
	else if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		rc = store_txn_commit(txn);
	else
		store_txn_abort(txn);
out:
	if (rc)
		fs_log(LOG_WARNING,
		       "could not free unlinked inode %llu (%s); the next mount of the store "
		       "frees it",
		       (unsigned long long)ino, strerror(-rc));
}

/* Drops nlookup kernel references on in; frees it (and its orphan) when nothing holds it. */
void fs_inode_put(struct fs_ctx *ctx, struct fs_inode *in, uint64_t nlookup)
{
	uint64_t ino = in->ino;
	bool orphan = in->orphan;

	if (fs_inode_unref(&ctx->itab, in, nlookup) && orphan)
		orphan_free(ctx, ino);
}

/* At exit: frees every orphan this mount still holds (nothing reads them any more). */
void fs_orphans_free_all(struct fs_ctx *ctx)
{
	for (size_t i = 0; i < ctx->itab.nbuckets; i++)
		for (struct fs_inode *in = ctx->itab.buckets[i]; in; in = in->next)
			if (in->orphan) {
				orphan_free(ctx, in->ino);
				in->orphan = false;
			}
}

/*
 * At mount, before the session starts: frees the orphans a crash left.
 * Call only when no other process had the store open when this one opened
 * it (their orphans may still be held).
 */
void fs_orphans_reap(struct fs_ctx *ctx)
{
	struct store_txn *txn;
	uint64_t n = 0;
	int rc;

	if (ctx->opts.read_only || ctx->opts.snapshot)
		return;
	rc = store_txn_begin(ctx->store, STORE_TXN_WRITE, &txn);
	if (rc)
		goto out;
	rc = store_orphans_reap(txn, &n);
	if (rc == 0)
		rc = store_txn_commit(txn);
	else
		store_txn_abort(txn);
out:
	if (rc)
		fs_log(LOG_WARNING,
		       "could not free the items a crash left unlinked (%s); the next mount "
		       "tries again",
		       strerror(-rc));
	else if (n)
		fs_log(LOG_NOTICE, "freed %llu item%s a crash left unlinked", (unsigned long long)n,
		       n == 1 ? "" : "s");
}
