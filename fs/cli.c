/*
 * cli.c - helpers the `itemfs` subcommands share (see cli.h): the progress
 * line, JSON strings, byte counts, file copies and syncs, and the removal
 * of temporary paths when a signal ends a command. The commands themselves
 * (what to copy where, what to say) are in cmd_*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "store.h"

#define CLI_PROGRESS_NS 100000000L /* at most ten progress updates a second */
#define CLI_COPY_BUF (1024 * 1024) /* bytes per read when copying a file */

/* ---- progress --------------------------------------------------------- */

void cli_progress_init(struct cli_progress *p, const char *label)
{
	p->on = isatty(STDERR_FILENO);
	p->label = label;
	p->shown = 0;
	clock_gettime(CLOCK_MONOTONIC, &p->last);
}

/* True when a redraw is due (and then counts it as done). */
static bool progress_due(struct cli_progress *p)
{
	struct timespec now;
	long ns;

	if (!p->on)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (now.tv_sec - p->last.tv_sec) * 1000000000L + (now.tv_nsec - p->last.tv_nsec);
	if (ns < CLI_PROGRESS_NS)
		return false;
	p->last = now;
	return true;
}

/* Draws line, padded with blanks over a longer previous one. */
static void progress_draw(struct cli_progress *p, const char *line)
{
	int n = (int)strlen(line);

	fprintf(stderr, "\r%s%*s", line, p->shown > n ? p->shown - n : 0, "");
	if (n > p->shown)
		p->shown = n;
	fflush(stderr);
}

void cli_progress_bytes(void *arg, uint64_t done, uint64_t total)
{
	struct cli_progress *p = arg;
	uint64_t pct = total ? done * 100 / total : 100;
	char line[160];

	if (!progress_due(p))
		return;
	snprintf(line, sizeof(line), "%s: %.1f/%.1f MB (%llu%%)", p->label, (double)done / 1e6,
		 (double)total / 1e6, (unsigned long long)(pct > 100 ? 100 : pct));
	progress_draw(p, line);
}

void cli_progress_inodes(void *arg, uint64_t done, uint64_t total)
{
	struct cli_progress *p = arg;
	char line[160];

	if (!progress_due(p))
		return;
	snprintf(line, sizeof(line), "%s: %llu/%llu inodes", p->label, (unsigned long long)done,
		 (unsigned long long)total);
	progress_draw(p, line);
}

void cli_progress_clear(struct cli_progress *p)
{
	if (p->shown) {
		fprintf(stderr, "\r%*s\r", p->shown, "");
		fflush(stderr);
		p->shown = 0;
	}
}

/* ---- text ------------------------------------------------------------- */

void cli_put_json(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

void cli_format_bytes(char *buf, size_t size, uint64_t bytes)
{
	static const char *const units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1000) {
		snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
		return;
	}
	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}

double cli_seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- files ------------------------------------------------------------ */

int cli_path(char out[PATH_MAX], const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(out, a, la);
	memcpy(out + la, b, lb + 1);
	return 0;
}

void cli_parent(const char *path, char out[PATH_MAX])
{
	char copy[PATH_MAX];
	const char *dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	memmove(out, dir, strlen(dir) + 1); /* dirname() may return copy itself */
}

int cli_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int cli_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int cli_copy_fd(int src, int dst, uint64_t size, struct cli_progress *progress)
{
	char *buf = malloc(CLI_COPY_BUF);
	uint64_t done = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(src, buf, CLI_COPY_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		rc = cli_write_all(dst, buf, (size_t)n);
		if (rc)
			break;
		done += (uint64_t)n;
		if (progress)
			cli_progress_bytes(progress, done, size > done ? size : done);
	}
	free(buf);
	if (!rc && fsync(dst) < 0)
		rc = -errno;
	return rc;
}

/* ---- temporary paths and signals -------------------------------------- */

/* "" is an empty slot. Read by the handler; written with the signals blocked. */
static char doomed_file[CLI_DOOMED_FILES][PATH_MAX];
static char doomed_dir[PATH_MAX];
static const int cli_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig)
{
	for (int i = 0; i < CLI_DOOMED_FILES; i++)
		if (doomed_file[i][0])
			unlink(doomed_file[i]);
	if (doomed_dir[0])
		rmdir(doomed_dir);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void signal_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(cli_signals) / sizeof(cli_signals[0]); i++)
		sigaddset(set, cli_signals[i]);
}

void cli_signals_block(bool block)
{
	sigset_t set;

	signal_set(&set);
	sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

void cli_signals_install(void)
{
	struct sigaction sa = {.sa_handler = on_signal}, old;

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(cli_signals) / sizeof(cli_signals[0]); i++)
		/* keep a signal whoever started us ignores (nohup, a background job) */
		if (sigaction(cli_signals[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(cli_signals[i], &sa, NULL);
}

/* Writes a slot with the signals blocked, keeping the caller's mask. */
static void doom_set(char *slot, const char *path)
{
	sigset_t set, old;
	size_t n = path ? strlen(path) : 0;

	signal_set(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	if (n >= PATH_MAX)
		n = 0; /* a path that long was never made */
	memcpy(slot, path ? path : "", n);
	slot[n] = '\0';
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void cli_doom_file(int slot, const char *path)
{
	if (slot >= 0 && slot < CLI_DOOMED_FILES)
		doom_set(doomed_file[slot], path);
}

void cli_doom_dir(const char *path)
{
	doom_set(doomed_dir, path);
}

void cli_doom_none(void)
{
	for (int i = 0; i < CLI_DOOMED_FILES; i++)
		doom_set(doomed_file[i], NULL);
	doom_set(doomed_dir, NULL);
}

int cli_refuse_url(const char *cmd, const char *path)
{
	if (!store_path_is_url(path))
		return 0;
	fprintf(stderr,
		"itemfs %s: %s is a DynamoDB table: `itemfs %s` works on LMDB store "
		"directories only; mount the table and use tar or rsync of the mount "
		"(docs/backup.md), or DynamoDB's own backups\n",
		cmd, path, cmd);
	return 1;
}
