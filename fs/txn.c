/*
 * txn.c - multi-item transactions (DynamoDB's TransactWriteItems) through
 * MOUNTPOINT/.itemfs/txn; docs/dynamodb.md, "Transactions", is the
 * contract.
 *
 * Each open of .itemfs/txn is one transaction: the manifest written to it
 * (txn_parse.c has the grammar) is applied at the first fsync, or at the
 * flush of a close once it ends with a `commit` line, as one store
 * transaction: every action's checks and changes, in manifest order, nested
 * in the group commit's batch, which is then committed and synced before
 * the reply. Nothing is applied in part: any failure aborts the whole.
 *
 * The actions are the handlers' own: mv is fs_rename_in(), rm is
 * fs_remove_in() (ops_dir.c), so orphans, conditions on the staged file and
 * directory times behave as for rename(2) and unlink(2). What the kernel
 * would have checked for those calls is checked here, against the
 * credentials of the process that opened the file: it never saw the
 * paths. For the same reason it did not update its caches: the view
 * notes every record of the transaction to the kernel as it does other
 * mounts' (fs.h, view_behind_kernel), the reply waits behind those notes,
 * and an item the transaction replaced at a name the kernel may still
 * resolve answers opens with ESTALE (fs_inode.replaced).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "txn_parse.h"

/* DynamoDB's limit on a transaction's items: 4 MB, counted as the item limit is. */
#define TXN_BYTES_MAX (4ull << 20)
/* Supplementary groups of the opener kept for permission checks. */
#define TXN_GROUPS_MAX 64

struct fs_txn_file {
	enum fs_handle_kind kind; /* FS_HANDLE_TXN */
	char *text;		  /* the manifest as written */
	size_t len, cap;
	uid_t uid; /* the opener's credentials: the actions are checked against them */
	gid_t gid;
	gid_t groups[TXN_GROUPS_MAX];
	int ngroups;
	bool done;    /* applied or refused: takes no more writes */
	int result;   /* 0 or -errno, once done */
	char *report; /* the outcome, as read back */
	size_t report_len;
};

/* One run of a manifest: its transaction and what it has to say. */
struct txn_run {
	struct fs_ctx *ctx;
	struct fs_txn_file *t;
	struct store_txn *txn;
	FILE *report;		     /* memstream into t->report */
	int first_err;		     /* errno of the first failed action (0: none) */
	uint64_t bytes;		     /* items put so far, counted as the item limit */
	struct fs_rename_end *moved; /* per action: the mv's ends, for after the commit */
};

/* Access bits of mode for the opener: R 4, W 2, X 1, as the kernel checks them. */
static bool may(const struct fs_txn_file *t, const struct store_attr *a, unsigned mask)
{
	unsigned bits = a->mode;

	if (t->uid == 0)
		return true; /* CAP_DAC_OVERRIDE; no action executes a file */
	if (a->uid == t->uid) {
		bits >>= 6;
	} else {
		bool in_group = a->gid == t->gid;
		for (int i = 0; !in_group && i < t->ngroups; i++)
			in_group = t->groups[i] == a->gid;
		if (in_group)
			bits >>= 3;
	}
	return (bits & mask & 7) == mask;
}

/* The sticky bit's rule (may_delete()): who may remove or replace item in dir. */
static bool may_unlink_from(const struct fs_txn_file *t, const struct store_attr *dir,
			    const struct store_attr *item)
{
	return !(dir->mode & S_ISVTX) || t->uid == 0 || t->uid == dir->uid || t->uid == item->uid;
}

/* "ECANCELED" for -ECANCELED: the name the report gives an errno. */
static const char *errno_name(int rc)
{
	const char *name = strerrorname_np(-rc);

	return name ? name : "EIO";
}

/* Records a failed action: the first failure's errno is the transaction's. */
static int fail(struct txn_run *r, const struct txn_action *a, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct txn_run *r, const struct txn_action *a, int rc, const char *fmt, ...)
{
	static const char *const op[] = {"mv", "rm", "check"};
	va_list ap;

	if (!r->first_err)
		r->first_err = rc;
	fprintf(r->report, "%s line %u: %s %s%s%s: ", errno_name(rc), a->line, op[a->op],
		a->src ? a->src : "", a->src ? " " : "", a->path);
	va_start(ap, fmt);
	vfprintf(r->report, fmt, ap);
	va_end(ap);
	fputc('\n', r->report);
	return rc;
}

/*
 * Resolves path (checked by txn_parse()) to its directory and last name,
 * as a path walk would: search permission on every directory on the way.
 * *dir gets the directory's attributes.
 */
static int resolve(struct txn_run *r, const struct txn_action *a, const char *path,
		   struct store_attr *dir, const char **name, size_t *len)
{
	uint64_t ino = STORE_ROOT_INO;
	const char *p = path;
	int rc;

	for (;;) {
		const char *slash = strchr(p, '/');

		rc = store_inode_get(r->txn, ino, dir);
		if (rc)
			return fail(r, a, rc, "%s: cannot read a directory on the way", path);
		if (!S_ISDIR(dir->mode))
			return fail(r, a, -ENOTDIR, "%.*s is not a directory", (int)(p - path - 1),
				    path);
		if (!may(r->t, dir, 1))
			return fail(r, a, -EACCES, "no search permission on %s",
				    p == path ? "the mount's root" : "a directory on the way");
		if (!slash)
			break;
		rc = store_dirent_get(r->txn, ino, p, (size_t)(slash - p), &ino);
		if (rc)
			return fail(r, a, rc, "%.*s: %s", (int)(slash - path), path,
				    rc == -ENOENT ? "no such directory" : strerror(-rc));
		p = slash + 1;
	}
	*name = p;
	*len = strlen(p);
	return 0;
}

/*
 * Looks name up in dir: *found false when it is free (an expired item's
 * name is, as for rename(2): ttl.c), else *item gets its attributes.
 */
static int lookup(struct txn_run *r, const struct store_attr *dir, const char *name, size_t len,
		  struct store_attr *item, bool *found)
{
	int rc = fs_ttl_entry_get(r->ctx, r->txn, dir->ino, name, len, item); /* expired: free */

	*found = rc == 0;
	return rc == -ENOENT ? 0 : rc;
}

/*
 * The action's condition (if it has one) against what path names now
 * (item, or NULL when the name is free). -ECANCELED when it does not hold.
 */
static int check_cond(struct txn_run *r, const struct txn_action *a, const char *path,
		      const struct store_attr *item)
{
	struct fs_cond c;

	if (!a->cond)
		return 0;
	if (fs_cond_parse(a->cond, strlen(a->cond), &c))
		return fail(r, a, -EINVAL, "\"%s\" is not a condition (INO:VERSION or absent)",
			    a->cond);
	if (c.absent && a->op == TXN_RM)
		return fail(r, a, -EINVAL,
			    "the condition absent never holds for an item to remove");
	if (item && !c.absent && !may(r->t, item, 4))
		return fail(r, a, -EACCES, "no read permission on %s for its version", path);
	if (fs_cond_holds(&c, item))
		return 0;
	if (!item)
		return fail(r, a, -ECANCELED, "%s does not exist (condition %s)", path, a->cond);
	if (c.absent)
		return fail(r, a, -ECANCELED, "%s exists (condition absent)", path);
	return fail(r, a, -ECANCELED, "%s is %" PRIu64 ":%" PRIu64 ", not %s", path, item->ino,
		    item->version, a->cond);
}

/* The item an rm or check names: a->path resolved and looked up. */
struct txn_target {
	struct store_attr dir, item;
	const char *name;
	size_t len;
	bool found;
};

static int find_target(struct txn_run *r, const struct txn_action *a, struct txn_target *t)
{
	int rc = resolve(r, a, a->path, &t->dir, &t->name, &t->len);

	if (rc)
		return rc;
	rc = lookup(r, &t->dir, t->name, t->len, &t->item, &t->found);
	return rc ? fail(r, a, rc, "cannot look it up") : 0;
}

static int do_check(struct txn_run *r, const struct txn_action *a)
{
	struct txn_target t;
	int rc = find_target(r, a, &t);

	return rc ? rc : check_cond(r, a, a->path, t.found ? &t.item : NULL);
}

static int do_rm(struct txn_run *r, const struct txn_action *a)
{
	struct txn_target t;
	int rc = find_target(r, a, &t);

	if (rc)
		return rc;
	if (!t.found)
		return fail(r, a, -ENOENT, "no such item");
	if (S_ISDIR(t.item.mode))
		return fail(r, a, -EISDIR, "a directory, not an item");
	if (!may(r->t, &t.dir, 3))
		return fail(r, a, -EACCES, "no write permission on its directory");
	if (!may_unlink_from(r->t, &t.dir, &t.item))
		return fail(r, a, -EPERM,
			    "its directory is sticky and neither it nor the item "
			    "is the caller's");
	rc = check_cond(r, a, a->path, &t.item);
	if (rc)
		return rc;
	rc = fs_remove_in(r->ctx, r->txn, t.dir.ino, t.name, t.len, false, NULL);
	return rc ? fail(r, a, rc, "%s", strerror(-rc)) : 0;
}

static int do_mv(struct txn_run *r, const struct txn_action *a, struct fs_rename_end *ends)
{
	struct store_attr sdir, ddir, src, dst;
	struct fs_rename_end *s = &ends[0], *d = &ends[1];
	bool found, dfound;
	int rc = resolve(r, a, a->src, &sdir, &s->name, &s->len);

	if (rc == 0)
		rc = resolve(r, a, a->path, &ddir, &d->name, &d->len);
	if (rc)
		return rc;
	s->dir = sdir.ino;
	d->dir = ddir.ino;
	rc = lookup(r, &sdir, s->name, s->len, &src, &found);
	if (rc == 0)
		rc = lookup(r, &ddir, d->name, d->len, &dst, &dfound);
	if (rc)
		return fail(r, a, rc, "cannot look it up");
	if (!found)
		return fail(r, a, -ENOENT, "%s: no such file", a->src);
	if (S_ISDIR(src.mode))
		return fail(r, a, -EISDIR, "%s is a directory: a transaction moves items", a->src);
	if (dfound && S_ISDIR(dst.mode))
		return fail(r, a, -EISDIR, "%s is a directory", a->path);
	if (d->dir == STORE_ROOT_INO)
		return fail(r, a, -EPERM, "the top level holds tables only");
	if (!may(r->t, &sdir, 3) || !may(r->t, &ddir, 3))
		return fail(r, a, -EACCES, "no write permission on the directory of %s",
			    may(r->t, &sdir, 3) ? a->path : a->src);
	if (!may_unlink_from(r->t, &sdir, &src) || (dfound && !may_unlink_from(r->t, &ddir, &dst)))
		return fail(r, a, -EPERM, "a sticky directory, and the item is not the caller's");
	rc = check_cond(r, a, a->path, dfound ? &dst : NULL);
	if (rc)
		return rc;
	r->bytes += d->len + src.size + src.xattr_bytes;
	if (r->bytes > TXN_BYTES_MAX)
		return fail(r, a, -E2BIG, "the items put exceed 4 MiB (4,194,304 bytes) in all");
	rc = fs_rename_in(r->ctx, r->txn, s, d, 0);
	if (rc == -ECANCELED)
		return fail(r, a, rc, "%s does not satisfy the user.itemfs.if_version of %s",
			    a->path, a->src);
	if (rc < 0)
		return fail(r, a, rc, "%s", strerror(-rc));
	if (rc == 1) /* two names of one item: nothing to do, nothing replaced */
		d->a.ino = 0;
	return 0;
}

/*
 * What the kernel must be told of the committed transaction beyond its
 * records (view.c notes those): the moved items' names for log lines, and
 * the replaced items it may still resolve.
 */
static void after_commit(struct txn_run *r, const struct txn_manifest *m)
{
	for (size_t i = 0; i < m->count; i++) {
		struct fs_rename_end *e = &r->moved[2 * i];
		struct fs_inode *in;

		if (m->actions[i].op != TXN_MV)
			continue;
		in = fs_inode_find(&r->ctx->itab, e[0].a.ino);
		if (in)
			fs_inode_rename(in, e[1].dir, e[1].name, e[1].len);
		in = e[1].a.ino ? fs_inode_find(&r->ctx->itab, e[1].a.ino) : NULL;
		if (in && in->orphan)
			in->replaced = true;
	}
}

/* Runs the manifest: t->result and t->report get the outcome. */
static void run(struct fs_ctx *ctx, struct fs_txn_file *t)
{
	struct txn_manifest m = {.actions = NULL};
	struct txn_run r = {.ctx = ctx, .t = t};
	char err[512];
	int rc;

	t->done = true;
	r.report = open_memstream(&t->report, &t->report_len);
	if (!r.report) {
		t->result = -ENOMEM;
		return;
	}
	rc = txn_parse(t->text ? t->text : "", t->len, &m, err, sizeof(err));
	if (rc) {
		fprintf(r.report, "%s %s\n", errno_name(rc), err[0] ? err : strerror(-rc));
		r.first_err = rc;
		goto out;
	}
	r.moved = calloc(2 * m.count + 1, sizeof(*r.moved));
	rc = r.moved ? fs_txn_write(ctx, &r.txn) : -ENOMEM;
	if (rc) {
		fprintf(r.report, "%s cannot begin the transaction: %s\n", errno_name(rc),
			strerror(-rc));
		r.first_err = rc;
		goto out;
	}
	for (size_t i = 0; i < m.count; i++) {
		const struct txn_action *a = &m.actions[i];

		rc = a->op == TXN_MV   ? do_mv(&r, a, &r.moved[2 * i])
		     : a->op == TXN_RM ? do_rm(&r, a)
				       : do_check(&r, a);
		/* After a failed condition the others are still checked, to report them all. */
		if (rc && rc != -ECANCELED)
			break;
	}
	if (r.first_err) {
		store_txn_abort(r.txn);
		goto out;
	}
	rc = store_txn_commit(r.txn);
	if (rc == 0 && ctx->batch)
		rc = fs_sync(ctx); /* durable before the reply, as after fsync */
	if (rc) {
		fprintf(r.report, "%s the commit failed: %s; nothing was applied\n", errno_name(rc),
			strerror(-rc));
		r.first_err = rc;
		goto out;
	}
	after_commit(&r, &m);
	ctx->stats.txn_applied++;
	ctx->stats.txn_actions += m.count;
	fprintf(r.report, "ok %zu\n", m.count);
out:
	if (r.first_err == -ECANCELED)
		ctx->stats.txn_canceled++;
	else if (r.first_err)
		ctx->stats.txn_failed++;
	t->result = r.first_err;
	if (fclose(r.report) != 0 && !t->result)
		t->result = -ENOMEM;
	free(r.moved);
	txn_manifest_free(&m);
}

/*
 * Applies t and replies: after a commit, once the kernel has been told of
 * every name and attribute it changed (view.c sends the reply behind
 * those notes); after a failure at once, nothing having changed.
 */
static void apply_and_reply(fuse_req_t req, struct fs_txn_file *t)
{
	struct fs_ctx *ctx = fs_ctx_of(req);

	if (t->done) {
		fuse_reply_err(req, -t->result);
		return;
	}
	run(ctx, t);
	if (t->result) {
		fuse_reply_err(req, -t->result);
		return;
	}
	ctx->view_behind_kernel = true;
	fs_view_after_request(ctx); /* the cache, and the kernel's notes, now */
	ctx->view_behind_kernel = false;
	fs_view_reply_after_notes(ctx, req);
}

void fs_txn_open(fuse_req_t req, struct fuse_file_info *fi)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct fs_txn_file *t;
	int n;

	if ((fi->flags & O_ACCMODE) != O_RDONLY && (ctx->snapshot || ctx->opts.read_only)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	t->kind = FS_HANDLE_TXN;
	t->uid = c->uid;
	t->gid = c->gid;
	n = fuse_req_getgroups(req, TXN_GROUPS_MAX, t->groups);
	t->ngroups = n < 0 ? 0 : n > TXN_GROUPS_MAX ? TXN_GROUPS_MAX : n;
	t->done = (fi->flags & O_ACCMODE) == O_RDONLY; /* nothing to apply */
	fi->fh = (uintptr_t)t;
	fi->direct_io = 1; /* its size is 0; reads and writes go to the daemon */
	if (fuse_reply_open(req, fi) != 0)
		free(t);
}

void fs_txn_write_op(fuse_req_t req, struct fs_txn_file *t, const char *buf, size_t size, off_t off)
{
	char *grown;

	if (t->done || off < 0 || (uint64_t)off != t->len) {
		/*
		 * Applied already, or not written in order: a manifest is a
		 * stream. (The kernel itself refuses writes to a read-only open.)
		 */
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (size > TXN_MANIFEST_MAX - t->len) {
		fuse_reply_err(req, EFBIG);
		return;
	}
	if (t->len + size > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + size)
			cap *= 2;
		grown = realloc(t->text, cap);
		if (!grown) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		t->text = grown;
		t->cap = cap;
	}
	memcpy(t->text + t->len, buf, size);
	t->len += size;
	fuse_reply_write(req, size);
}

void fs_txn_read_op(fuse_req_t req, struct fs_txn_file *t, size_t size, off_t off)
{
	if (!t->report || off < 0 || (uint64_t)off >= t->report_len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, t->report + off,
			       size < t->report_len - (size_t)off ? size
								  : t->report_len - (size_t)off);
}

void fs_txn_flush(fuse_req_t req, struct fs_txn_file *t)
{
	if (!t->done && !txn_ends_with_commit(t->text ? t->text : "", t->len)) {
		fuse_reply_err(req, 0); /* not complete yet: a later close or fsync applies it */
		return;
	}
	apply_and_reply(req, t);
}

void fs_txn_fsync(fuse_req_t req, struct fs_txn_file *t)
{
	apply_and_reply(req, t);
}

void fs_txn_release(fuse_req_t req, struct fs_txn_file *t)
{
	if (!t->done && t->len)
		fs_log(LOG_WARNING,
		       "%s/.itemfs/txn closed without a commit line or fsync: its manifest "
		       "(%zu bytes) was not applied; end it with a line `commit`",
		       fs_ctx_of(req)->opts.mountpoint, t->len);
	free(t->text);
	free(t->report);
	free(t);
	fuse_reply_err(req, 0);
}
