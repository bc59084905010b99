/*
 * file.c - open files and the write model (PutItem semantics).
 *
 * An open file holds the item's bytes: a snapshot of the committed version
 * taken at open (so a reader keeps reading one whole version however the
 * item changes meanwhile), or, for a writer, its private new version.
 * fs_file_commit() makes a writer's version the item's, in one store
 * transaction: data, size, mtime and ctime together.
 *
 * A write that would take the item past STORE_ITEM_MAX fails with EFBIG
 * and rolls the handle back to the committed version: the pending version
 * (O_TRUNC included) is dropped, so the item is left exactly as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

/* Grows or shrinks f's buffer to len bytes, zero-filling what is new. */
int fs_file_resize(struct fs_file *f, size_t len)
{
	if (len > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		char *p;

		while (cap < len)
			cap *= 2;
		p = realloc(f->data, cap);
		if (!p)
			return -ENOMEM;
		f->data = p;
		f->cap = cap;
	}
	if (len > f->len)
		memset(f->data + f->len, 0, len - f->len);
	f->len = len;
	return 0;
}

static void log_bad_checksum(struct fs_ctx *ctx, uint64_t ino)
{
	char path[1024];

	fs_inode_path(&ctx->itab, ino, path, sizeof(path));
	fs_log(LOG_ERR,
	       "checksum mismatch in item %s (inode %llu): its stored data is corrupt; "
	       "reads return EIO. Restore the item from a backup, or delete it",
	       path, (unsigned long long)ino);
}

int fs_file_base_attr(struct fs_ctx *ctx, struct store_txn *txn, const struct fs_file *f,
		      struct store_attr *out)
{
	/* a writer starts from the latest commit, whatever the backend */
	return f->writable ? store_inode_get(txn, f->inode->ino, out)
			   : fs_view_open_attr(ctx, txn, f->inode->ino, out);
}

/* Drops the bytes f holds. */
static void file_drop(struct fs_ctx *ctx, struct fs_file *f)
{
	fs_view_pages_put(ctx, f);
	free(f->data);
	f->data = NULL;
	f->len = f->cap = 0;
	f->loaded = false;
}

int fs_file_load_version(struct fs_ctx *ctx, struct store_txn *txn, struct fs_file *f,
			 const struct store_attr *base)
{
	struct store_attr a = *base; /* fs_view_read_item() may move it to a newer version */
	int rc;

	file_drop(ctx, f);
	rc = fs_view_read_item(ctx, txn, &a, f);
	if (rc == -EBADMSG) {
		log_bad_checksum(ctx, f->inode->ino);
		return -EIO;
	}
	if (rc)
		return rc;
	f->attr = a;
	f->loaded = true;
	f->dirty = f->written = false;
	f->mtime_pending = false;
	return 0;
}

int fs_file_load(struct fs_ctx *ctx, struct store_txn *txn, struct fs_file *f)
{
	struct store_attr a;
	int rc = fs_file_base_attr(ctx, txn, f, &a);

	if (rc) {
		file_drop(ctx, f);
		return rc;
	}
	return fs_file_load_version(ctx, txn, f, &a);
}

/*
 * Makes sure f holds the item's bytes. Readers load at open; writers only
 * when they need the old bytes (a write, a read, a truncation to a
 * non-zero size), so that a corrupt item can still be overwritten.
 */
int fs_file_ensure(struct fs_ctx *ctx, struct fs_file *f)
{
	struct store_txn *txn;
	int rc;

	if (f->loaded)
		return 0;
	rc = fs_txn_read(ctx, &txn);
	if (rc)
		return rc;
	rc = fs_file_load(ctx, txn, f);
	fs_txn_read_end(ctx, txn);
	return rc;
}

/*
 * What close(2) of one descriptor commits. Shells open a file and then
 * dup2() it, closing the first descriptor: that flush comes before any
 * write, so a pending truncation (O_TRUNC) alone is left for the last close
 * (release) or fsync; otherwise a failed write could not leave the item as
 * it was.
 * Once data has been written, every flush commits it, so close(2) reports
 * ENOSPC and its like to the writer.
 */
int fs_file_flush(struct fs_ctx *ctx, struct fs_file *f)
{
	/* A held condition (cond.c) is reported by close(2), truncation or not. */
	return f->written || fs_cond_held(f) ? fs_file_commit(ctx, f) : 0;
}

/*
 * Commits f's pending version, if any. An item deleted meanwhile stays
 * deleted (the version is dropped). On error f stays dirty, so that a
 * later fsync can try again; release drops it.
 */
int fs_file_commit(struct fs_ctx *ctx, struct fs_file *f)
{
	struct store_txn *txn;
	struct store_attr a;
	struct timespec now;
	int rc;

	if (!f->dirty)
		return 0;
	rc = fs_txn_write(ctx, &txn);
	if (rc)
		return rc;
	rc = store_inode_get(txn, f->inode->ino, &a);
	rc = fs_cond_check_commit(ctx, txn, f, rc, &a); /* -ECANCELED: rolled back */
	if (rc == -ENOENT) {
		store_txn_abort(txn);
		f->dirty = false;
		goto done;
	}
	if (rc)
		goto err;
	rc = store_data_put(txn, a.ino, f->data, f->len);
	if (rc)
		goto err;
	fs_batch_account(ctx, f->len);
	rc = store_inode_get(txn, a.ino, &a); /* size and version as the store set them */
	if (rc)
		goto err;
	fs_now(&now);
	if (f->mtime_pending)
		a.mtime = f->mtime;
	a.ctime = now;
	rc = store_inode_put(txn, &a);
	if (rc == 0)
		rc = fs_stream_inode(ctx, txn, &a);
	if (rc)
		goto err;
	rc = store_txn_commit(txn);
	if (rc)
		return rc;
	f->attr = a;
	f->dirty = f->written = false;
	f->mtime_pending = false;
	fs_cond_committed(f);
	if (f->inode->kattr_dirty) {
		/*
		 * The kernel keeps attributes it got from the pending version
		 * (fs_file_overlay()) for FS_KERNEL_TIMEOUT: have it ask again.
		 */
		f->inode->kattr_dirty = false;
		fs_view_inval_attr_now(ctx, a.ino);
	}
done:
	if (f->inode->writer == f)
		f->inode->writer = NULL;
	return 0;
err:
	store_txn_abort(txn);
	return rc;
}

/*
 * Reports a pending write's size and mtime to stat, as the writer sees
 * them. While files read the item through the kernel's page cache, the
 * kernel's size of it must stay the size of the version they read (a
 * larger one would have them read past their version, a smaller one cut
 * it short), so every stat then reports that size.
 */
void fs_file_overlay(const struct fs_inode *in, struct store_attr *a)
{
	const struct fs_file *w = in->writer;

	if (in->ncached) {
		a->size = in->ksize;
		return;
	}
	if (!w || !w->dirty)
		return;
	a->size = w->len;
	if (w->mtime_pending)
		a->mtime = a->ctime = w->mtime;
}

/*
 * At exit (unmount, signals): a pending version whose writer never closed
 * or fsynced it is not a version yet - committing it could store half of
 * what the writer meant (the shutdown crash test caught exactly that) - so
 * it is dropped, with a line in the log naming each item.
 */
void fs_files_drop_pending(struct fs_ctx *ctx)
{
	for (struct fs_file *f = ctx->files; f; f = f->next) {
		char path[1024];

		if (!f->dirty)
			continue;
		fs_inode_path(&ctx->itab, f->inode->ino, path, sizeof(path));
		fs_log(LOG_WARNING,
		       "%s was still open for writing at exit: its unfinished new version "
		       "(%zu bytes) is dropped, the item keeps its last complete version",
		       path, f->len);
		f->dirty = false;
	}
}
