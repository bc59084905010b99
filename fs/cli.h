/*
 * cli.h - helpers the `itemfs` subcommands share (fs/cli.c): a progress line
 * on a terminal, JSON strings, byte counts for people, file copies and
 * directory syncs, and temporary paths that a signal must not leave behind.
 * Nothing here is used by the FUSE daemon; nothing here knows the store.
 * Single-threaded use, except where a function says otherwise.
 */
#ifndef ITEMFS_CLI_H
#define ITEMFS_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* A progress line on stderr, redrawn with '\r' at most ten times a second. */
struct cli_progress {
	bool on;	      /* stderr is a terminal: show anything at all */
	const char *label;    /* what is going on: "backing up", ... */
	struct timespec last; /* CLOCK_MONOTONIC time it was last drawn */
	int shown;	      /* width of the line on stderr; 0: none shown */
};

/* Sets p up: on when stderr is a terminal; label is borrowed (a literal). */
void cli_progress_init(struct cli_progress *p, const char *label);

/*
 * Progress callbacks (arg is a struct cli_progress): "LABEL: 12.3/45.6 MB
 * (27%)" for bytes, "LABEL: 12/345 inodes" for inodes. Calls closer
 * together than 100 ms draw nothing, so they may be called for every chunk.
 */
void cli_progress_bytes(void *arg, uint64_t done, uint64_t total);
void cli_progress_inodes(void *arg, uint64_t done, uint64_t total);

/* Erases the progress line, if one is shown (before printing anything else). */
void cli_progress_clear(struct cli_progress *p);

/* Writes s as a JSON string; bytes >= 0x80 pass through as they are. */
void cli_put_json(FILE *out, const char *s);

/* "12.3 MB": decimal units, one decimal; "512 bytes" below a kB. */
void cli_format_bytes(char *buf, size_t size, uint64_t bytes);

/* Seconds since t0 (a CLOCK_MONOTONIC time). */
double cli_seconds_since(const struct timespec *t0);

/*
 * For the commands that work on an LMDB store directory only (check,
 * backup, restore): when path is a DynamoDB-API URL, prints why not and
 * what to use instead, and returns 1 (the exit status); else 0.
 */
int cli_refuse_url(const char *cmd, const char *path);

/* out = a followed by b. 0, or -ENAMETOOLONG (out is then unusable). */
int cli_path(char out[PATH_MAX], const char *a, const char *b);

/* The directory holding path ("." for a bare name), into out. */
void cli_parent(const char *path, char out[PATH_MAX]);

/* fsync()s directory dir, making the names in it durable. 0 or -errno. */
int cli_fsync_dir(const char *dir);

/* Writes buf[0..len) to fd whole, retrying short writes and EINTR. 0 or -errno. */
int cli_write_all(int fd, const char *buf, size_t len);

/*
 * Copies src from its offset to its end into dst, then fsync()s dst,
 * showing progress against size (the bytes expected; may be NULL-progress).
 * 0, or the -errno of the read, write or sync that failed.
 */
int cli_copy_fd(int src, int dst, uint64_t size, struct cli_progress *progress);

/*
 * Temporary paths removed if SIGINT, SIGTERM or SIGHUP ends the command:
 * up to CLI_DOOMED_FILES files (unlinked), then one directory (removed),
 * and the signal then takes its default action. Slots are set with
 * cli_doom_file()/cli_doom_dir() (NULL clears one) and all cleared with
 * cli_doom_none(); set a slot only while no other thread runs. A path is
 * removed only if the signal comes, so clear it once it names a result.
 */
#define CLI_DOOMED_FILES 3
void cli_signals_install(void);
void cli_doom_file(int slot, const char *path);
void cli_doom_dir(const char *path);
void cli_doom_none(void);

/* Blocks (true) or unblocks (false) those signals, around steps that must
 * not be cut (a rename and what it replaces). */
void cli_signals_block(bool block);

#endif /* ITEMFS_CLI_H */
