/*
 * cmd_backup.c - `itemfs backup STORE_DIR FILE [--force] [--json]` and
 * `itemfs restore FILE STORE_DIR [--force] [--json]`.
 *
 * backup opens the store read-only (it may be mounted and in use) and has
 * store_backup() write one compacted point-in-time copy into FILE.tmp-XXXXXX
 * next to FILE; the copy is synced, opened as a store to prove it is one,
 * then renamed to FILE and the directory synced. FILE is never partial.
 *
 * restore copies FILE into a new directory next to STORE_DIR, opens it as a
 * store (the store's own validation) and checks it with store_check() before
 * STORE_DIR is touched; only then does the new directory take STORE_DIR's
 * place (an existing store is renamed aside first and removed last), so a
 * crash never leaves a half store. A store in use by another process is
 * never replaced.
 *
 * Both show progress on a terminal, remove their temporary files if a
 * signal ends them (cli.c), and print a summary or one JSON object. Exit
 * status: 0 done; 1 failed (the message names the path and what to do);
 * 2 usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "fs.h"

struct bk_run {
	const char *cmd; /* "backup" or "restore", for messages */
	bool json, force, help;
	struct timespec start; /* CLOCK_MONOTONIC time the command began */
	struct cli_progress progress;
	const char *file;  /* restore: FILE, named in problem lines */
	uint64_t problems; /* restore: problems store_check() reported */
};

static void bk_usage(const char *cmd, FILE *out)
{
	if (strcmp(cmd, "backup") == 0)
		fputs("usage: itemfs backup STORE_DIR FILE [--force] [--json]\n"
		      "Writes a compacted copy of the store in STORE_DIR (also while it is\n"
		      "mounted and in use: one point in time) to FILE, mode 0600.\n"
		      "  --force  overwrite FILE if it exists\n"
		      "  --json   print one JSON object\n"
		      "Exit status: 0 done, 1 failed, 2 usage error.\n",
		      out);
	else
		fputs("usage: itemfs restore FILE STORE_DIR [--force] [--json]\n"
		      "Checks the backup in FILE and makes it the store in STORE_DIR, which\n"
		      "must be absent or empty, and not mounted.\n"
		      "  --force  replace the store in STORE_DIR\n"
		      "  --json   print one JSON object\n"
		      "Exit status: 0 done, 1 failed, 2 usage error.\n",
		      out);
}

/* ---- the store's log, stores opened to validate ----------------------- */

/* The store's log lines: printed, or (while log_capture) the last one kept
 * in log_last, for a message that names the user's path, not a temporary one. */
static const char *log_cmd = "itemfs";
static bool log_capture;
static char log_last[1024];

static void bk_log(int priority, const char *msg)
{
	(void)priority;
	if (log_capture)
		snprintf(log_last, sizeof(log_last), "%s", msg);
	else
		fprintf(stderr, "%s: %s\n", log_cmd, msg);
}

/* Why the store in the temporary dir was refused: its log line without the
 * "DIR: " prefix, or strerror(-rc) when it logged nothing. */
static const char *log_reason(const char *dir, int rc)
{
	size_t n = strlen(dir);

	if (!log_last[0])
		return strerror(-rc);
	if (strncmp(log_last, dir, n) == 0 && strncmp(log_last + n, ": ", 2) == 0)
		return log_last + n + 2;
	return log_last;
}

/*
 * Opens the store in dir read-only (which runs the store's own validation),
 * with its log captured, and counts its inodes. With keep, the open store
 * is handed over in *keep; else it is closed. 0 or the store_open() errno.
 */
static int open_copy(const char *dir, uint64_t *inodes, struct store **keep)
{
	struct store_config cfg = {.path = dir, .read_only = true, .log = bk_log};
	struct store_statfs sf;
	struct store *st = NULL;
	int rc;

	log_capture = true;
	log_last[0] = '\0';
	rc = store_open(&cfg, &st);
	if (!rc)
		rc = store_statfs(st, &sf);
	log_capture = false;
	if (!rc)
		*inodes = sf.inodes;
	if (rc || !keep)
		store_close(st);
	else
		*keep = st;
	return rc;
}

/* Removes a store directory made here: its two files, then itself. */
static void remove_store_dir(const char *dir)
{
	char p[PATH_MAX];

	if (!cli_path(p, dir, "/data.mdb"))
		unlink(p);
	if (!cli_path(p, dir, "/lock.mdb"))
		unlink(p);
	rmdir(dir);
}

/* Parses the arguments after the command word into r, *a and *b. 0, or 2. */
static int parse_args(int argc, char **argv, struct bk_run *r, const char **a, const char **b)
{
	const char *pos[2] = {NULL, NULL};
	int npos = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			r->json = true;
		} else if (strcmp(argv[i], "--force") == 0) {
			r->force = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			r->help = true;
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "itemfs %s: unknown option '%s'\n", r->cmd, argv[i]);
			return 2;
		} else if (npos == 2) {
			fprintf(stderr, "itemfs %s: unexpected argument '%s'\n", r->cmd, argv[i]);
			return 2;
		} else {
			pos[npos++] = argv[i];
		}
	}
	if (npos < 2) {
		fprintf(stderr, "itemfs %s: needs %s\n", r->cmd,
			strcmp(r->cmd, "backup") == 0 ? "STORE_DIR and FILE"
						      : "FILE and STORE_DIR");
		return 2;
	}
	*a = pos[0];
	*b = pos[1];
	return 0;
}

/* Prints {"K1": V1, "K2": V2, "bytes": N, "inodes": N, "seconds": S}. */
static void print_json(const struct bk_run *r, const char *k1, const char *v1, const char *k2,
		       const char *v2, uint64_t bytes, uint64_t inodes)
{
	printf("{\"%s\": ", k1);
	cli_put_json(stdout, v1);
	printf(", \"%s\": ", k2);
	cli_put_json(stdout, v2);
	printf(", \"bytes\": %llu, \"inodes\": %llu, \"seconds\": %.3f}\n",
	       (unsigned long long)bytes, (unsigned long long)inodes, cli_seconds_since(&r->start));
}

/* Flushes the report; a failed write of it fails the command. */
static int finish(const struct bk_run *r, int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "itemfs %s: cannot write the report: %s\n", r->cmd,
			strerror(errno));
		return 1;
	}
	return status;
}

/* ---- backup ----------------------------------------------------------- */

/* Says why the store to back up cannot be opened, and what to do. */
static void backup_open_error(const char *path, int rc)
{
	if (rc == -ENOENT)
		fprintf(stderr,
			"itemfs backup: %s does not exist; give the STORE_DIR the store was "
			"mounted from\n",
			path);
	else if (rc == -ENOTDIR || rc == -EINVAL)
		fprintf(stderr,
			"itemfs backup: %s is not an itemfs store; give the STORE_DIR the store "
			"was mounted from\n",
			path);
	else if (rc == -EPROTO)
		fprintf(stderr,
			"itemfs backup: %s is an itemfs store of a format this itemfs (%s) cannot "
			"read; back it up with the itemfs that created it\n",
			path, ITEMFS_VERSION);
	else if (rc == -EACCES)
		fprintf(stderr,
			"itemfs backup: %s: permission denied; run the backup as the store's "
			"owner (it needs read access, and write access to lock.mdb)\n",
			path);
	else
		fprintf(stderr, "itemfs backup: cannot open the store %s: %s\n", path,
			strerror(-rc));
}

/*
 * Opens the copy in tmp (open as tmp_fd) as a store, through a directory
 * tmp.d whose data.mdb is a hard link to it (or, on a filesystem without
 * hard links, a copy). Counts its inodes. 0, or 1 after saying why not.
 */
static int backup_validate(struct bk_run *r, const char *store, const char *tmp, int tmp_fd,
			   uint64_t size, uint64_t *inodes)
{
	char dir[PATH_MAX], data[PATH_MAX], lock[PATH_MAX];
	int rc, fd = -1;

	if (cli_path(dir, tmp, ".d") || cli_path(data, dir, "/data.mdb") ||
	    cli_path(lock, dir, "/lock.mdb")) {
		fprintf(stderr, "itemfs backup: %s: file name too long\n", tmp);
		return 1;
	}
	cli_doom_file(1, data);
	cli_doom_file(2, lock);
	cli_doom_dir(dir);
	if (mkdir(dir, 0700) < 0) {
		fprintf(stderr, "itemfs backup: cannot make %s: %s\n", dir, strerror(errno));
		cli_doom_dir(NULL);
		return 1;
	}
	rc = link(tmp, data) < 0 ? -errno : 0;
	if (rc) {
		fd = open(data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		rc = fd < 0 || lseek(tmp_fd, 0, SEEK_SET) < 0 ? -errno : 0;
		r->progress.label = "verifying";
		if (!rc)
			rc = cli_copy_fd(tmp_fd, fd, size, &r->progress);
		cli_progress_clear(&r->progress);
		if (fd >= 0)
			close(fd);
		if (rc) {
			fprintf(stderr, "itemfs backup: cannot copy the backup to %s: %s\n", data,
				strerror(-rc));
			remove_store_dir(dir);
			return 1;
		}
	}
	rc = open_copy(dir, inodes, NULL);
	remove_store_dir(dir);
	if (rc) {
		fprintf(stderr,
			"itemfs backup: the copy of %s does not open as a store (%s); nothing was "
			"written\n",
			store, log_reason(dir, rc));
		return 1;
	}
	return 0;
}

/* Renames tmp to file; without force, never over an existing file. */
static int backup_place(const char *tmp, const char *file, bool force)
{
	if (force)
		return rename(tmp, file) < 0 ? -errno : 0;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, file, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(tmp, file) < 0) /* a filesystem without RENAME_NOREPLACE */
		return -errno;
	unlink(tmp);
	return 0;
}

/* Writes the copy of st into tmp, then into FILE; 0, or 1 after saying why. */
static int backup_write(struct bk_run *r, struct store **st, const char *store, const char *file,
			char tmp[PATH_MAX], uint64_t *bytes, uint64_t *inodes)
{
	char dir[PATH_MAX];
	struct stat sb;
	int fd, rc;

	cli_signals_block(true);
	fd = mkostemp(tmp, O_CLOEXEC);
	rc = fd < 0 || fchmod(fd, 0600) < 0 ? -errno : 0; /* 0600 whatever the umask */
	if (fd >= 0)
		cli_doom_file(0, tmp);
	cli_signals_block(false);
	if (rc) {
		fprintf(stderr, "itemfs backup: cannot create %s: %s\n", tmp, strerror(-rc));
		if (fd >= 0)
			close(fd); /* the caller unlinks it */
		else
			tmp[0] = '\0'; /* names nothing of ours */
		return 1;
	}
	rc = store_backup(*st, fd, cli_progress_bytes, &r->progress);
	cli_progress_clear(&r->progress);
	store_close(*st);
	*st = NULL;
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (!rc && fstat(fd, &sb) < 0)
		rc = -errno;
	if (rc) {
		fprintf(stderr, "itemfs backup: cannot back up %s to %s: %s; nothing was written\n",
			store, file, strerror(-rc));
		close(fd);
		return 1;
	}
	*bytes = (uint64_t)sb.st_size;
	rc = backup_validate(r, store, tmp, fd, *bytes, inodes);
	close(fd);
	if (rc)
		return 1;
	rc = backup_place(tmp, file, r->force);
	if (rc) {
		if (rc == -EEXIST)
			fprintf(stderr,
				"itemfs backup: %s already exists; give --force to overwrite it\n",
				file);
		else
			fprintf(stderr, "itemfs backup: cannot rename %s to %s: %s\n", tmp, file,
				strerror(-rc));
		return 1;
	}
	cli_doom_file(0, NULL); /* tmp is FILE now */
	tmp[0] = '\0';
	cli_parent(file, dir);
	rc = cli_fsync_dir(dir);
	if (rc) {
		fprintf(stderr, "itemfs backup: %s is written, but syncing %s failed: %s\n", file,
			dir, strerror(-rc));
		return 1;
	}
	return 0;
}

/*
 * `itemfs backup`: argv holds the argc arguments after the word `backup`.
 * Returns the exit status (see the top of this file).
 */
int cmd_backup(int argc, char **argv)
{
	struct bk_run r = {.cmd = "backup"};
	struct store_config cfg = {.read_only = true, .log = bk_log};
	struct store *st = NULL;
	const char *store = NULL, *file = NULL;
	char tmp[PATH_MAX] = "", data[PATH_MAX], b1[32], b2[32];
	uint64_t bytes = 0, src_bytes = 0, inodes = 0;
	struct stat sb;
	int rc, status = 1;

	log_cmd = "itemfs backup";
	if (parse_args(argc, argv, &r, &store, &file)) {
		bk_usage(r.cmd, stderr);
		return 2;
	}
	if (r.help) {
		bk_usage(r.cmd, stdout);
		return 0;
	}
	if (cli_refuse_url("backup", store))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	cli_progress_init(&r.progress, "backing up");
	if (lstat(file, &sb) == 0 && (!r.force || S_ISDIR(sb.st_mode))) {
		fprintf(stderr, "itemfs backup: %s already exists; %s\n", file,
			S_ISDIR(sb.st_mode) ? "it is a directory: give a file name"
					    : "give --force to overwrite it");
		return 1;
	}
	if (cli_path(tmp, file, ".tmp-XXXXXX.d/lock.mdb") || cli_path(data, store, "/data.mdb")) {
		fprintf(stderr, "itemfs backup: %s: file name too long\n", file);
		return 1;
	}
	cli_path(tmp, file, ".tmp-XXXXXX"); /* fits: checked longer above */
	cfg.path = store;
	rc = store_open(&cfg, &st);
	if (rc) {
		backup_open_error(store, rc);
		return 1;
	}
	if (stat(data, &sb) == 0)
		src_bytes = (uint64_t)sb.st_size;
	cli_signals_install();
	if (backup_write(&r, &st, store, file, tmp, &bytes, &inodes))
		goto out;
	if (r.json) {
		print_json(&r, "store", store, "file", file, bytes, inodes);
	} else {
		cli_format_bytes(b1, sizeof(b1), bytes);
		cli_format_bytes(b2, sizeof(b2), src_bytes);
		printf("itemfs backup: %s -> %s: %llu %s, %s (compacted from %s) in %.1f s\n",
		       store, file, (unsigned long long)inodes, inodes == 1 ? "inode" : "inodes",
		       b1, b2, cli_seconds_since(&r.start));
	}
	status = 0;
out:
	if (tmp[0] && status)
		unlink(tmp);
	cli_doom_none();
	store_close(st);
	return finish(&r, status);
}

/* ---- restore ---------------------------------------------------------- */

enum bk_target {
	TARGET_ABSENT, /* STORE_DIR does not exist */
	TARGET_EMPTY,  /* an empty directory */
	TARGET_STORE,  /* a directory holding only data.mdb and/or lock.mdb */
	TARGET_OTHER,  /* a directory holding anything else (named in other) */
};

/* Finds what path is, into *out and *sb. 0, or 1 after saying what is wrong. */
static int restore_examine(const char *path, enum bk_target *out, char other[NAME_MAX + 1],
			   struct stat *sb)
{
	struct dirent *de;
	DIR *d;

	*out = TARGET_EMPTY;
	if (lstat(path, sb) < 0) {
		if (errno == ENOENT) {
			*out = TARGET_ABSENT;
			return 0;
		}
		fprintf(stderr, "itemfs restore: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(sb->st_mode)) {
		fprintf(stderr,
			"itemfs restore: %s is not a directory; give a directory for the store "
			"(absent or empty)\n",
			path);
		return 1;
	}
	d = opendir(path);
	if (!d) {
		fprintf(stderr, "itemfs restore: cannot list %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strcmp(de->d_name, "data.mdb") != 0 && strcmp(de->d_name, "lock.mdb") != 0) {
			snprintf(other, NAME_MAX + 1, "%s", de->d_name);
			*out = TARGET_OTHER;
			break;
		}
		*out = TARGET_STORE;
	}
	closedir(d);
	return 0;
}

/* Refuses what restore must not replace. 0 when it may go on, else 1. */
static int restore_allowed(const struct bk_run *r, const char *store, enum bk_target t,
			   const char *other)
{
	int rc;

	if (t == TARGET_ABSENT || t == TARGET_EMPTY)
		return 0;
	/* fusermount3 -u returns before the daemon has committed and closed the
	 * store: give a daemon that is exiting up to 5 s to let go of it. */
	for (int i = 0; (rc = store_in_use(store)) == 1 && i < 50; i++)
		usleep(100 * 1000);
	if (rc == 1) {
		fprintf(stderr, "itemfs restore: %s is in use (mounted?); unmount it first\n",
			store);
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "itemfs restore: cannot tell whether %s is in use: %s\n", store,
			strerror(-rc));
		return 1;
	}
	if (!r->force) {
		fprintf(stderr,
			"itemfs restore: %s is not empty; --force replaces it (the store in it is "
			"lost)\n",
			store);
		return 1;
	}
	if (t == TARGET_OTHER) {
		fprintf(stderr,
			"itemfs restore: %s holds '%s', which is not part of an itemfs store; "
			"--force replaces only a store directory (data.mdb, lock.mdb): move '%s' "
			"away first\n",
			store, other, other);
		return 1;
	}
	return 0;
}

static void on_check_progress(void *arg, uint64_t done, uint64_t total)
{
	struct bk_run *r = arg;

	cli_progress_inodes(&r->progress, done, total);
}

static void on_check_problem(void *arg, uint64_t ino, const char *path, const char *msg)
{
	struct bk_run *r = arg;

	cli_progress_clear(&r->progress);
	if (path)
		fprintf(stderr, "itemfs restore: %s: %s (inode %llu): %s\n", r->file, path,
			(unsigned long long)ino, msg);
	else
		fprintf(stderr, "itemfs restore: %s: %s\n", r->file, msg);
	r->problems++;
}

/* Says why the copy of FILE in tmp is not a backup; store is untouched. */
static void restore_open_error(const char *file, const char *store, const char *tmp, int rc)
{
	if (rc == -EINVAL)
		fprintf(stderr,
			"itemfs restore: %s is not an itemfs backup (not an LMDB file holding an "
			"itemfs store); give a file written by `itemfs backup`; %s was not "
			"changed\n",
			file, store);
	else if (rc == -EPROTO)
		fprintf(stderr,
			"itemfs restore: %s is a backup of an itemfs store of a format this itemfs "
			"(%s) cannot read; restore it with the itemfs that wrote it; %s was not "
			"changed\n",
			file, ITEMFS_VERSION, store);
	else
		fprintf(stderr,
			"itemfs restore: %s is not a usable backup (%s); %s was not changed\n",
			file, log_reason(tmp, rc), store);
}

/* Copies FILE (src) into tmp/data.mdb and checks it as a store. 0, or 1. */
static int restore_build(struct bk_run *r, const char *store, const char *tmp, int src,
			 uint64_t size, uint64_t *inodes)
{
	static const struct store_check_ops ops = {.problem = on_check_problem,
						   .progress = on_check_progress};
	struct store_check_summary sum;
	struct store *st = NULL;
	char data[PATH_MAX];
	int fd = -1, rc;

	rc = cli_path(data, tmp, "/data.mdb");
	if (!rc) {
		fd = open(data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		rc = fd < 0 || fchmod(fd, 0600) < 0 ? -errno : 0; /* whatever the umask */
	}
	r->progress.label = "restoring";
	if (!rc)
		rc = cli_copy_fd(src, fd, size, &r->progress);
	cli_progress_clear(&r->progress);
	if (fd >= 0)
		close(fd);
	if (rc) {
		fprintf(stderr, "itemfs restore: cannot copy %s to %s: %s; %s was not changed\n",
			r->file, data, strerror(-rc), store);
		return 1;
	}
	rc = open_copy(tmp, inodes, &st);
	if (rc) {
		restore_open_error(r->file, store, tmp, rc);
		return 1;
	}
	r->progress.label = "checking";
	rc = store_check(st, &ops, r, &sum);
	cli_progress_clear(&r->progress);
	store_close(st);
	if (rc == 0 && r->problems == 0)
		return 0;
	if (rc == 0)
		fprintf(stderr,
			"itemfs restore: %s holds a damaged store (%llu problem%s, above); %s was "
			"not changed\n",
			r->file, (unsigned long long)r->problems, r->problems == 1 ? "" : "s",
			store);
	else
		fprintf(stderr,
			"itemfs restore: %s holds a store that cannot be checked (%s); %s was not "
			"changed\n",
			r->file, strerror(-rc), store);
	return 1;
}

/*
 * Puts the store built in tmp in store's place; for TARGET_STORE the old
 * one is renamed aside first and removed last. The caller blocks signals:
 * after each step there is a whole store in store, or in tmp and the
 * renamed old one. 0, or 1 after saying what failed.
 */
static int restore_place(const char *store, const char *tmp, enum bk_target t)
{
	char old[PATH_MAX];
	int e;

	if (t == TARGET_STORE) {
		if (cli_path(old, store, ".old-XXXXXX") || !mkdtemp(old)) {
			fprintf(stderr, "itemfs restore: cannot make a directory next to %s: %s\n",
				store, strerror(errno));
			return 1;
		}
		if (rename(store, old) < 0) { /* over the empty directory old */
			e = errno;
			rmdir(old);
			fprintf(stderr, "itemfs restore: cannot rename %s to %s: %s\n", store, old,
				strerror(e));
			return 1;
		}
	}
	if (rename(tmp, store) < 0) {
		e = errno;
		fprintf(stderr, "itemfs restore: cannot rename %s to %s: %s%s\n", tmp, store,
			strerror(e),
			e == EXDEV || e == EBUSY
			    ? " (is it a mount point? restore into a directory inside it)"
			    : "");
		if (t == TARGET_STORE && rename(old, store) < 0)
			fprintf(stderr, "itemfs restore: the old store is now in %s\n", old);
		return 1;
	}
	if (t == TARGET_STORE)
		remove_store_dir(old);
	return 0;
}

/* Makes the temporary directory next to store, into tmp. 0, or 1. */
static int restore_tmpdir(const char *store, char tmp[PATH_MAX])
{
	char p[PATH_MAX];
	int e = 0;

	if (cli_path(p, store, ".restore-XXXXXX/data.mdb") ||
	    cli_path(tmp, store, ".restore-XXXXXX")) {
		fprintf(stderr, "itemfs restore: %s: file name too long\n", store);
		return 1;
	}
	cli_signals_block(true);
	if (!mkdtemp(tmp) || chmod(tmp, 0700) < 0) /* 0700 whatever the umask */
		e = errno;
	if (e)
		rmdir(tmp);
	if (!e && !cli_path(p, tmp, "/data.mdb"))
		cli_doom_file(0, p);
	if (!e && !cli_path(p, tmp, "/lock.mdb"))
		cli_doom_file(1, p);
	if (!e)
		cli_doom_dir(tmp);
	cli_signals_block(false);
	if (e)
		fprintf(stderr, "itemfs restore: cannot make a directory next to %s: %s\n", store,
			strerror(e));
	return e ? 1 : 0;
}

/*
 * Readies the store built in tmp for its place: drops the lock file the
 * check's open made (a mount makes its own), keeps the owner of the
 * directory it replaces when root restores, and syncs. 0, or 1.
 */
static int restore_seal(const char *store, const char *tmp, enum bk_target t,
			const struct stat *old)
{
	char p[PATH_MAX];
	int rc;

	if (!cli_path(p, tmp, "/lock.mdb"))
		unlink(p);
	if (t != TARGET_ABSENT && geteuid() == 0 && !cli_path(p, tmp, "/data.mdb") &&
	    (old->st_uid != 0 || old->st_gid != getegid())) {
		if (chown(tmp, old->st_uid, old->st_gid) < 0 ||
		    chown(p, old->st_uid, old->st_gid) < 0)
			fprintf(stderr, "itemfs restore: warning: cannot give %s to %u:%u: %s\n",
				store, (unsigned)old->st_uid, (unsigned)old->st_gid,
				strerror(errno));
	}
	rc = cli_fsync_dir(tmp);
	if (rc)
		fprintf(stderr, "itemfs restore: cannot sync %s: %s; %s was not changed\n", tmp,
			strerror(-rc), store);
	return rc ? 1 : 0;
}

/*
 * `itemfs restore`: argv holds the argc arguments after the word `restore`.
 * Returns the exit status (see the top of this file).
 */
int cmd_restore(int argc, char **argv)
{
	struct bk_run r = {.cmd = "restore"};
	const char *arg = NULL, *base;
	char store[PATH_MAX], tmp[PATH_MAX] = "", parent[PATH_MAX], other[NAME_MAX + 1] = "", b[32];
	enum bk_target target;
	struct stat fsb, tsb = {0};
	uint64_t inodes = 0;
	int src = -1, status = 1, rc;
	size_t n;

	log_cmd = "itemfs restore";
	if (parse_args(argc, argv, &r, &r.file, &arg)) {
		bk_usage(r.cmd, stderr);
		return 2;
	}
	if (r.help) {
		bk_usage(r.cmd, stdout);
		return 0;
	}
	if (cli_refuse_url("restore", arg))
		return 1;
	snprintf(store, sizeof(store), "%s", arg);
	for (n = strlen(store); n > 1 && store[n - 1] == '/'; n--)
		store[n - 1] = '\0';
	base = strrchr(store, '/') ? strrchr(store, '/') + 1 : store;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		fprintf(stderr, "itemfs restore: give STORE_DIR by its name, not '%s'\n", arg);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	cli_progress_init(&r.progress, "restoring");
	src = open(r.file, O_RDONLY | O_CLOEXEC);
	if (src < 0 || fstat(src, &fsb) < 0) {
		fprintf(stderr, "itemfs restore: cannot read %s: %s\n", r.file, strerror(errno));
		goto out;
	}
	if (!S_ISREG(fsb.st_mode)) {
		fprintf(stderr,
			"itemfs restore: %s is not a regular file; give a file written by `itemfs "
			"backup`\n",
			r.file);
		goto out;
	}
	if (restore_examine(store, &target, other, &tsb) ||
	    restore_allowed(&r, store, target, other))
		goto out;
	cli_signals_install();
	if (restore_tmpdir(store, tmp))
		goto out;
	if (restore_build(&r, store, tmp, src, (uint64_t)fsb.st_size, &inodes) ||
	    restore_seal(store, tmp, target, &tsb)) {
		remove_store_dir(tmp);
		goto out;
	}
	cli_signals_block(true);
	rc = restore_place(store, tmp, target);
	if (rc)
		remove_store_dir(tmp);
	cli_doom_none();
	cli_signals_block(false);
	if (rc)
		goto out;
	cli_parent(store, parent);
	rc = cli_fsync_dir(parent);
	if (rc) {
		fprintf(stderr, "itemfs restore: %s is restored, but syncing %s failed: %s\n",
			store, parent, strerror(-rc));
		goto out;
	}
	if (r.json) {
		print_json(&r, "file", r.file, "store", store, (uint64_t)fsb.st_size, inodes);
	} else {
		cli_format_bytes(b, sizeof(b), (uint64_t)fsb.st_size);
		printf("itemfs restore: %s -> %s: %llu %s, %s in %.1f s; check: clean\n", r.file,
		       store, (unsigned long long)inodes, inodes == 1 ? "inode" : "inodes", b,
		       cli_seconds_since(&r.start));
	}
	status = 0;
out:
	if (src >= 0)
		close(src);
	cli_doom_none();
	return finish(&r, status);
}
