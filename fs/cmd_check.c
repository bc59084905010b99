/*
 * cmd_check.c - `itemfs check STORE_DIR [--json] [--quiet]`: opens a store
 * read-only and verifies it with store_check(), which does all the checking
 * in one read transaction (so it also works while the store is mounted).
 * This file parses the arguments, shows progress on a terminal (fs/cli.c),
 * and prints each problem and a summary, or one JSON object.
 *
 * Exit status: 0 clean; 1 problems found, or the check stopped on a
 * damaged store; 2 a usage error, or a store that cannot be opened or
 * checked (the message names the path and what to do).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "fs.h"

struct check_run {
	const char *store; /* the store directory, as printed */
	bool json;
	bool quiet;
	bool help;
	struct cli_progress progress; /* off with --quiet */
	FILE *problems;		      /* --json: the problems array being built */
	char *problems_buf;	      /* ... its memory (open_memstream) */
	size_t problems_len;
	uint64_t count; /* problems printed */
};

static void check_usage(FILE *out)
{
	fputs("usage: itemfs check STORE_DIR [--json] [--quiet]\n"
	      "Verifies the itemfs store in STORE_DIR (also while it is mounted).\n"
	      "  --json      print one JSON object\n"
	      "  --quiet, -q print only the problems (no summary, no progress)\n"
	      "Exit status: 0 clean, 1 problems found, 2 usage error or the store cannot\n"
	      "be opened or checked.\n",
	      out);
}

/* The store's own log lines (why it cannot be opened, LMDB failures). */
static void check_log(int priority, const char *msg)
{
	(void)priority;
	fprintf(stderr, "itemfs check: %s\n", msg);
}

/* Writes s for a terminal line: control bytes and '\' as \xNN. */
static void put_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			fprintf(out, "\\x%02x", ch);
		else
			fputc(ch, out);
	}
}

/* A JSON string, or null for NULL. */
static void put_json(FILE *out, const char *s)
{
	if (s)
		cli_put_json(out, s);
	else
		fputs("null", out);
}

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct check_run *r = arg;

	cli_progress_inodes(&r->progress, done, total);
}

static void on_problem(void *arg, uint64_t ino, const char *path, const char *msg)
{
	struct check_run *r = arg;

	cli_progress_clear(&r->progress);
	if (r->json) {
		fprintf(r->problems, "%s{\"ino\": %llu, \"path\": ", r->count ? ", " : "",
			(unsigned long long)ino);
		put_json(r->problems, path);
		fputs(", \"problem\": ", r->problems);
		put_json(r->problems, msg);
		fputc('}', r->problems);
	} else if (path) {
		put_escaped(stdout, path);
		printf(" (inode %llu): %s\n", (unsigned long long)ino, msg);
	} else if (ino) {
		printf("inode %llu: %s\n", (unsigned long long)ino, msg);
	} else {
		printf("%s\n", msg);
	}
	r->count++;
}

static void print_json(struct check_run *r, const struct store_check_summary *s, int rc)
{
	fputs("{\"store\": ", stdout);
	put_json(stdout, r->store);
	if (rc == 0)
		printf(", \"inodes\": %llu, \"items\": %llu, \"directories\": %llu, "
		       "\"symlinks\": %llu, \"bytes\": %llu",
		       (unsigned long long)s->inodes, (unsigned long long)s->items,
		       (unsigned long long)s->directories, (unsigned long long)s->symlinks,
		       (unsigned long long)s->bytes);
	else
		printf(", \"error\": \"the check stopped: %s\"", strerror(-rc));
	printf(", \"problems\": [%s], \"clean\": %s}\n", r->problems_buf ? r->problems_buf : "",
	       rc == 0 && r->count == 0 ? "true" : "false");
}

/* "1 item", "2 items"; "1 directory", "2 directories" (plural given whole). */
static void put_count(uint64_t n, const char *one, const char *many)
{
	printf("%llu %s", (unsigned long long)n, n == 1 ? one : many);
}

static void print_summary(const struct check_run *r, const struct store_check_summary *s)
{
	char bytes[32];

	cli_format_bytes(bytes, sizeof(bytes), s->bytes);
	printf("itemfs check: %s: ", r->store);
	put_count(s->inodes, "inode", "inodes");
	fputs(" (", stdout);
	put_count(s->items, "item", "items");
	fputs(", ", stdout);
	put_count(s->directories, "directory", "directories");
	fputs(", ", stdout);
	put_count(s->symlinks, "symlink", "symlinks");
	printf("), %s of item data: ", bytes);
	if (r->count == 0)
		puts("clean");
	else
		put_count(r->count, "problem\n", "problems\n");
}

/* Says why the store cannot be opened, and what to do. */
static void open_error(const char *path, int rc)
{
	switch (rc) {
	case -ENOENT:
		fprintf(stderr,
			"itemfs check: %s does not exist; give the STORE_DIR the store was "
			"mounted from\n",
			path);
		break;
	case -ENOTDIR:
	case -EINVAL:
		fprintf(stderr,
			"itemfs check: %s is not an itemfs store; give the STORE_DIR the store "
			"was mounted from (`itemfs mount STORE_DIR MOUNTPOINT`)\n",
			path);
		break;
	case -EPROTO:
		fprintf(stderr,
			"itemfs check: %s is an itemfs store of a format this itemfs (%s) cannot "
			"read, or its lock file is of an incompatible LMDB; check it with the "
			"itemfs that created it\n",
			path, ITEMFS_VERSION);
		break;
	case -EACCES:
		fprintf(stderr,
			"itemfs check: %s: permission denied; run the check as the store's owner "
			"(it needs read access, and write access to lock.mdb)\n",
			path);
		break;
	default:
		fprintf(stderr, "itemfs check: cannot open the store %s: %s\n", path,
			strerror(-rc));
		break;
	}
}

/*
 * Parses the arguments after `check` into *r. Returns the store directory,
 * "" for --help, or NULL after printing what is wrong.
 */
static const char *parse_args(int argc, char **argv, struct check_run *r)
{
	const char *store = NULL;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			r->json = true;
		} else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
			r->quiet = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			r->help = true;
			return store ? store : "";
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "itemfs check: unknown option '%s'\n", argv[i]);
			return NULL;
		} else if (store) {
			fprintf(stderr, "itemfs check: one STORE_DIR only (got '%s' and '%s')\n",
				store, argv[i]);
			return NULL;
		} else {
			store = argv[i];
		}
	}
	if (!store)
		fprintf(stderr, "itemfs check: no STORE_DIR given\n");
	return store;
}

/*
 * `itemfs check`: argv holds the argc arguments after the word `check`.
 * Returns the exit status (see the top of this file).
 */
/*
 * LMDB asserts on some damaged B-tree pages and abort()s the process, a
 * callback notwithstanding. A checker must report that, not die of it: the
 * walk runs in a child process, and a child killed by a signal means the
 * store is damaged past what LMDB can read (exit 1, like any problem).
 * Returns the child's exit status, or -1 in the child, which then goes on.
 */
static int run_guarded(const char *store, bool json)
{
	int wst;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1; /* cannot guard: check unguarded */
	if (pid == 0)
		return -1;
	while (waitpid(pid, &wst, 0) < 0)
		if (errno != EINTR)
			return 2;
	if (WIFEXITED(wst))
		return WEXITSTATUS(wst);
	fprintf(stderr,
		"itemfs check: %s: the store is damaged: LMDB stopped on a corrupt page "
		"(signal %d) before the check could finish; restore it from a backup "
		"(itemfs restore)\n",
		store, WIFSIGNALED(wst) ? WTERMSIG(wst) : 0);
	if (json) {
		printf("{\"store\": ");
		cli_put_json(stdout, store);
		printf(", \"clean\": false, \"error\": \"LMDB stopped on a corrupt page\"}\n");
	}
	return 1;
}

int cmd_check(int argc, char **argv)
{
	static const struct store_check_ops ops = {.problem = on_problem, .progress = on_progress};
	struct check_run r = {0};
	struct store_check_summary sum = {0};
	struct store_config cfg = {.read_only = true, .create = false, .log = check_log};
	struct store *st = NULL;
	char *real = NULL;
	const char *arg;
	int rc, status = 2;

	arg = parse_args(argc, argv, &r);
	if (!arg) {
		check_usage(stderr);
		return 2;
	}
	if (r.help) {
		check_usage(stdout);
		return 0;
	}
	if (cli_refuse_url("check", arg))
		return 2;
	real = realpath(arg, NULL);
	r.store = real ? real : arg;
	status = run_guarded(r.store, r.json);
	if (status >= 0) {
		free(real);
		return status;
	}
	status = 2;
	cfg.path = r.store;
	rc = store_open(&cfg, &st);
	if (rc) {
		open_error(r.store, rc);
		goto out;
	}
	if (r.json && !(r.problems = open_memstream(&r.problems_buf, &r.problems_len))) {
		fprintf(stderr, "itemfs check: out of memory\n");
		goto out;
	}
	cli_progress_init(&r.progress, "checking");
	r.progress.on = r.progress.on && !r.quiet;

	rc = store_check(st, &ops, &r, &sum);
	cli_progress_clear(&r.progress);
	if (r.problems && fclose(r.problems) != 0)
		rc = rc ? rc : -ENOMEM;
	r.problems = NULL;
	if (r.json && (rc == 0 || rc == -EIO))
		print_json(&r, &sum, rc);
	if (rc == 0) {
		if (!r.json && !r.quiet)
			print_summary(&r, &sum);
		status = r.count ? 1 : 0;
	} else if (rc == -EIO) {
		fprintf(stderr,
			"itemfs check: %s: the store is damaged past reading; the check stopped "
			"(the problems above are what it found until then)\n",
			r.store);
		status = 1;
	} else {
		fprintf(stderr, "itemfs check: cannot check %s: %s\n", r.store, strerror(-rc));
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "itemfs check: cannot write the report: %s\n", strerror(errno));
		status = 2;
	}
out:
	store_close(st);
	free(r.problems_buf);
	free(real);
	return status;
}
