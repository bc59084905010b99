/*
 * options.c - the command line of `itemfs mount`: positional STORE_DIR and
 * MOUNTPOINT, -f, -d, and -o options. Every option is checked here; an
 * unknown one or a bad value is an error that names it (with -s, the
 * "sloppy" flag mount(8) may pass, an unknown one is only warned about).
 * The options that mount(8) and fstab pass along for any filesystem
 * (defaults, nofail, ...) are accepted and, where they mean nothing to
 * itemfs, ignored; mount-helpers/ passes them on unchanged, so this list
 * is the only one.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "fs.h"

/* Options mount(8), fstab and systemd pass that do not concern itemfs. */
static const char *const ignored_opts[] = {
	"defaults", "auto",  "noauto",  "user",  "nouser",   "users", "_netdev", "nofail",
	"dev",      "nodev", "suid",    "nosuid", "exec",    "noexec", "async",  "relatime",
	"rw",       "owner", "group",   "nodiratime", "lazytime", "nolazytime", "silent",
	"loud",     "x-systemd.automount", NULL,
};

void fs_usage(FILE *out)
{
	fputs("usage: itemfs mount STORE_DIR MOUNTPOINT [-o OPTION[,OPTION...]] [-f] [-d] [-s]\n"
	      "       itemfs mount --snapshot STORE_DIR MOUNTPOINT [...]\n"
	      "       itemfs check STORE_DIR [--json] [--quiet]\n"
	      "       itemfs backup STORE_DIR FILE [--force] [--json]\n"
	      "       itemfs restore FILE STORE_DIR [--force] [--json]\n"
	      "       itemfs stats MOUNTPOINT [--json]\n"
	      "       itemfs txn MOUNTPOINT MANIFEST\n"
	      "       itemfs version\n"
	      "       itemfs help\n"
	      "\n"
	      "Mounts the itemfs store in STORE_DIR (created if absent) on MOUNTPOINT, an\n"
	      "existing empty directory. Top-level directories of the mount are tables;\n"
	      "files in them are items of at most 409600 bytes (name + data + xattrs).\n"
	      "`itemfs mount` returns once the mount is ready, the daemon logging to syslog;\n"
	      "exit 0 mounted, 1 failed, 2 usage error (bad option or value).\n"
	      "Unmount with `fusermount3 -u MOUNTPOINT` or `umount MOUNTPOINT`.\n"
	      "mount(8) and /etc/fstab mount it as type fuse.itemfs (mount.itemfs(8)).\n"
	      "`itemfs check` verifies a store (also while mounted) and names each bad\n"
	      "item; exit 0 clean, 1 problems found, 2 cannot check. --json prints one\n"
	      "JSON object; --quiet prints only the problems.\n"
	      "`itemfs backup` writes a compacted copy of a store (also while it is\n"
	      "mounted: one point in time) to FILE; --force overwrites FILE.\n"
	      "`itemfs restore` checks the backup in FILE and makes it the store in\n"
	      "STORE_DIR, which must be absent or empty (--force replaces a store that\n"
	      "is not mounted). Both: exit 0 done, 1 failed, 2 usage error; --json\n"
	      "prints one JSON object.\n"
	      "`itemfs stats` prints the read cache's counters of a mounted itemfs (hits,\n"
	      "misses, evictions, invalidations, bytes; for pages, attributes, listings\n"
	      "and negative entries); exit 0 done, 1 not an itemfs mount, 2 usage error.\n"
	      "`itemfs txn` applies the manifest in MANIFEST (- reads standard input) as\n"
	      "one transaction: lines `mv SRC DST [COND]`, `rm PATH [COND]`, `check PATH\n"
	      "COND`, paths TABLE/KEY from the mount's root, COND INO:VERSION or absent;\n"
	      "all or nothing; exit 0 applied, 1 not applied (each failure named), 2 usage.\n"
	      "\n"
	      "  -f                     stay in the foreground, log to stderr\n"
	      "  -d                     foreground with a trace of every FUSE request\n"
	      "                         (implies log_level=debug)\n"
	      "  -s                     sloppy: warn about unknown -o options, do not fail\n"
	      "  --snapshot, -o snapshot  read-only, serving the store as it was when mounted,\n"
	      "                         for the mount's whole life, while other mounts write:\n"
	      "                         tar of it is a consistent backup\n"
	      "  -o ro                  mount read-only\n"
	      "  -o allow_other         let users other than the mounting one in\n"
	      "                         (needs user_allow_other in /etc/fuse.conf for non-root)\n"
	      "  -o default_permissions check permissions in the kernel (always on)\n"
	      "  -o noatime             reads never update atime (always on)\n"
	      "  -o commit_interval=S   changes not fsynced are durable within S seconds\n"
	      "                         (default 1; 0 commits every change on its own)\n"
	      "  -o cache_size=SIZE     memory for the read cache, e.g. 64M (default), 1G\n"
	      "  -o cache_ttl=S         stat, lookup and readdir may lag other mounts of the\n"
	      "                         store by S seconds at most (default 1; 0: never);\n"
	      "                         an open always reads the item's latest version\n"
	      "                         (a dynamodb:// store: within ddb_poll + cache_ttl)\n"
	      "  -o consistent_reads    every request reads the latest commit\n"
	      "  -o busy_poll=US        after a request, wait US microseconds for the next\n"
	      "                         one awake before sleeping (default 100; 0: sleep at\n"
	      "                         once): fewer costly wake-ups, some CPU time spent\n"
	      "  -o idle_poll=MS        while requests come and MS milliseconds after, keep\n"
	      "                         idle CPUs polling, not halted (PM QoS; default 20;\n"
	      "                         0: off): faster replies, more power while busy\n"
	      "  -o max_inodes=N        inodes the kernel may hold at once (default 131072,\n"
	      "                         about 200 bytes of daemon memory each; 0: no bound):\n"
	      "                         past it the least recently looked up are forgotten\n"
	      "  -o stream_keep=S       keep each table's change stream for S seconds at\n"
	      "                         least (default 86400)...\n"
	      "  -o stream_max=SIZE     ...unless it grows past SIZE, e.g. 64M (default);\n"
	      "                         0: no size bound\n"
	      "  -o ddb_region=REGION   (dynamodb:// stores) the region requests are signed\n"
	      "                         for (default: AWS_REGION, else us-east-1)\n"
	      "  -o ddb_credentials=FILE (dynamodb://) sign with the keys of an AWS\n"
	      "                         shared-credentials file (default: AWS_ACCESS_KEY_ID\n"
	      "                         and AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials)\n"
	      "  -o ddb_profile=NAME    (dynamodb://) the profile of that file to use\n"
	      "                         (default: AWS_PROFILE, else default)\n"
	      "  -o ddb_poll=S          (dynamodb://) look for other mounts' commits every\n"
	      "                         S seconds (default 1)\n"
	      "  -o ddb_strong=S        (dynamodb://) reads stay strongly consistent for S\n"
	      "                         seconds after this mount's commit or fsync (default 2)\n"
	      "  -o ddb_transactions=auto|on|off  (dynamodb://) commit with\n"
	      "                         TransactWriteItems (on), intent records (off), or\n"
	      "                         whichever the server has (auto, the default)\n"
	      "  -o log_level=LEVEL     log messages at LEVEL or more severe: error, warning,\n"
	      "                         notice (default), info or debug\n"
	      "  -o debug               same as -d\n"
	      "Options mount(8) and fstab add (rw, defaults, auto, noauto, user, nofail,\n"
	      "_netdev, dev, suid, exec and their no- forms, x-*, comment=, ...) are\n"
	      "accepted and ignored.\n",
	      out);
}

static bool opt_ignored(const char *opt)
{
	for (const char *const *p = ignored_opts; *p; p++)
		if (strcmp(opt, *p) == 0)
			return true;
	return strncmp(opt, "x-", 2) == 0 || strncmp(opt, "comment=", 8) == 0;
}

/* Parses a number of seconds in [0, max]; prints the error naming opt. */
static int parse_seconds(const char *opt, const char *val, double max, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(val, &end);
	if (errno || end == val || *end != '\0' || !(d >= 0 && d <= max)) {
		fprintf(stderr,
			"itemfs: bad value '%s' for mount option %s: give seconds from 0 to %g, "
			"e.g. %s=1\n",
			val, opt, max, opt);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

/*
 * A decimal count from 0 to @max into *@out; a bad value gets a message
 * naming @opt and asking for @want.
 */
static int parse_count(const char *opt, const char *val, unsigned long long max, const char *want,
		       unsigned long long *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(val, &end, 10);
	if (errno || end == val || *end != '\0' || val[0] == '-' || n > max) {
		fprintf(stderr, "itemfs: bad value '%s' for mount option %s: give %s\n", val, opt,
			want);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

static int parse_one(const char *opt, bool sloppy, struct fs_options *o)
{
	if (strncmp(opt, "log_level=", 10) == 0) {
		if (fs_log_set_level(opt + 10) != 0) {
			fprintf(stderr,
				"itemfs: bad value '%s' for mount option log_level: give one of "
				"error, warning, notice, info, debug, e.g. log_level=info\n",
				opt + 10);
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(opt, "commit_interval=", 16) == 0)
		return parse_seconds("commit_interval", opt + 16, 3600, &o->commit_interval);
	if (strncmp(opt, "busy_poll=", 10) == 0) {
		unsigned long long us;
		int rc =
		    parse_count("busy_poll", opt + 10, 1000000,
				"microseconds from 0 (off) to 1000000, e.g. busy_poll=100", &us);
		if (rc == 0)
			o->busy_poll = (unsigned)us;
		return rc;
	}
	if (strncmp(opt, "idle_poll=", 10) == 0) {
		unsigned long long ms;
		int rc = parse_count("idle_poll", opt + 10, 60000,
				     "milliseconds from 0 (off) to 60000, e.g. idle_poll=20", &ms);
		if (rc == 0)
			o->idle_poll = (unsigned)ms;
		return rc;
	}
	if (strncmp(opt, "cache_ttl=", 10) == 0)
		return parse_seconds("cache_ttl", opt + 10, 3600, &o->cache_ttl);
	if (strncmp(opt, "cache_size=", 11) == 0) {
		if (cache_parse_size(opt + 11, &o->cache_size) != 0 || o->cache_size < (1u << 20)) {
			fprintf(stderr,
				"itemfs: bad value '%s' for mount option cache_size: give bytes "
				"of at least 1M, with an optional K, M or G suffix, e.g. "
				"cache_size=64M\n",
				opt + 11);
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(opt, "stream_keep=", 12) == 0) {
		int rc = parse_seconds("stream_keep", opt + 12, 10 * 366 * 86400.0, &o->stream_keep);
		if (rc == 0 && o->stream_keep < 1) {
			fprintf(stderr, "itemfs: bad value '%s' for mount option stream_keep: give "
				"seconds of at least 1, e.g. stream_keep=86400\n", opt + 12);
			rc = -EINVAL;
		}
		return rc;
	}
	if (strncmp(opt, "stream_max=", 11) == 0) {
		if (cache_parse_size(opt + 11, &o->stream_max) != 0) {
			fprintf(stderr,
				"itemfs: bad value '%s' for mount option stream_max: give bytes, "
				"with an optional K, M or G suffix, or 0 for no bound, e.g. "
				"stream_max=64M\n",
				opt + 11);
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(opt, "max_inodes=", 11) == 0) {
		unsigned long long n;
		int rc =
		    parse_count("max_inodes", opt + 11, SIZE_MAX / 2,
				"a count of inodes, or 0 for no bound, e.g. max_inodes=131072", &n);
		if (rc == 0)
			o->max_inodes = (size_t)n;
		return rc;
	}
	if (strncmp(opt, "ddb_region=", 11) == 0 || strncmp(opt, "ddb_profile=", 12) == 0) {
		bool region = opt[4] == 'r';
		const char *v = strchr(opt, '=') + 1;
		char **slot = region ? &o->ddb_region : &o->ddb_profile;

		if (!*v || strlen(v) > 128) {
			fprintf(stderr, "itemfs: bad value '%s' for mount option %s: give %s\n", v,
				region ? "ddb_region" : "ddb_profile",
				region ? "a region name, e.g. ddb_region=eu-west-1"
				       : "a profile name, e.g. ddb_profile=default");
			return -EINVAL;
		}
		free(*slot);
		*slot = strdup(v);
		return *slot ? 0 : -ENOMEM;
	}
	if (strncmp(opt, "ddb_credentials=", 16) == 0) {
		if (!opt[16]) {
			fprintf(stderr, "itemfs: mount option ddb_credentials needs a file, e.g. "
					"ddb_credentials=/etc/itemfs/aws-credentials\n");
			return -EINVAL;
		}
		free(o->ddb_credentials);
		/* absolute: the daemon changes its directory to / */
		o->ddb_credentials = realpath(opt + 16, NULL);
		if (!o->ddb_credentials) {
			fprintf(stderr, "itemfs: mount option ddb_credentials=%s: %s\n", opt + 16,
				strerror(errno));
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(opt, "ddb_poll=", 9) == 0 || strncmp(opt, "ddb_strong=", 11) == 0) {
		bool poll = opt[4] == 'p';
		const char *val = strchr(opt, '=') + 1;
		double *out = poll ? &o->ddb_poll : &o->ddb_strong;
		int rc = parse_seconds(poll ? "ddb_poll" : "ddb_strong", val, 3600, out);

		if (rc == 0 && *out < 0.001) {
			fprintf(stderr,
				"itemfs: bad value '%s' for mount option %s: give seconds "
				"of at least 0.001, e.g. %s=1\n",
				val, poll ? "ddb_poll" : "ddb_strong",
				poll ? "ddb_poll" : "ddb_strong");
			rc = -EINVAL;
		}
		return rc;
	}
	if (strncmp(opt, "ddb_transactions=", 17) == 0) {
		const char *v = opt + 17;

		if (strcmp(v, "auto") == 0)
			o->ddb_commit = STORE_DDB_COMMIT_AUTO;
		else if (strcmp(v, "on") == 0)
			o->ddb_commit = STORE_DDB_COMMIT_TRANSACT;
		else if (strcmp(v, "off") == 0)
			o->ddb_commit = STORE_DDB_COMMIT_INTENT;
		else {
			fprintf(stderr,
				"itemfs: bad value '%s' for mount option ddb_transactions: "
				"give auto, on or off\n",
				v);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(opt, "consistent_reads") == 0) {
		o->consistent_reads = true;
		return 0;
	}
	if (strcmp(opt, "ro") == 0)
		o->read_only = true;
	else if (strcmp(opt, "snapshot") == 0)
		o->snapshot = o->read_only = true;
	else if (strcmp(opt, "allow_other") == 0)
		o->allow_other = true;
	else if (strcmp(opt, "default_permissions") == 0 || strcmp(opt, "noatime") == 0)
		; /* always on */
	else if (strcmp(opt, "debug") == 0)
		o->debug = o->foreground = true;
	else if (opt_ignored(opt))
		;
	else if (sloppy)
		fprintf(stderr, "itemfs: ignoring unknown mount option '%s' (-s)\n", opt);
	else {
		fprintf(stderr,
			"itemfs: unknown mount option '%s'; `itemfs help` lists the options\n",
			opt);
		return -EINVAL;
	}
	return 0;
}

static int parse_list(const char *list, bool sloppy, struct fs_options *o)
{
	char *copy = strdup(list), *save = NULL;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0;
	     tok = strtok_r(NULL, ",", &save))
		rc = parse_one(tok, sloppy, o);
	free(copy);
	return rc;
}

/* Absolute form of a path that need not exist yet (its parent must). */
static char *absolute_path(const char *path)
{
	char *res = realpath(path, NULL), *copy, *dir, *full = NULL;

	if (res || errno != ENOENT)
		return res;
	copy = strdup(path);
	if (!copy)
		return NULL;
	dir = realpath(dirname(copy), NULL);
	if (dir) {
		char *base = strdup(path);
		if (base && asprintf(&full, "%s/%s", strcmp(dir, "/") ? dir : "",
				     basename(base)) < 0)
			full = NULL;
		free(base);
	}
	free(dir);
	free(copy);
	if (!full)
		errno = ENOENT;
	return full;
}

/*
 * Parses the arguments after `mount` into *out (zeroed first). Prints a
 * message naming the problem and returns -EINVAL on bad usage (an unknown
 * flag or option, a bad value, missing or extra arguments: exit status 2),
 * -ENOENT when the mountpoint or the store's parent directory cannot be
 * resolved, -ENOMEM (both exit status 1). The mountpoint must exist
 * (checked again, with the other conditions, later). A -o log_level takes
 * effect at once (fs_log_set_level()).
 */
int fs_options_parse(int argc, char **argv, struct fs_options *out)
{
	const char *pos[2] = {NULL, NULL};
	int npos = 0, rc = 0;
	bool sloppy = false;

	memset(out, 0, sizeof(*out));
	out->noatime = true;
	out->commit_interval = 1.0;
	out->cache_size = CACHE_BUDGET_DEFAULT;
	out->cache_ttl = 1.0;
	out->max_inodes = FS_MAX_INODES_DEFAULT;
	out->busy_poll = FS_BUSY_POLL_DEFAULT;
	out->idle_poll = FS_IDLE_POLL_DEFAULT;
	out->stream_keep = FS_STREAM_KEEP_DEFAULT;
	out->stream_max = FS_STREAM_MAX_DEFAULT;
	for (int i = 0; i < argc; i++) /* -s applies to every -o, before or after it */
		if (strcmp(argv[i], "-s") == 0)
			sloppy = true;
	for (int i = 0; i < argc && rc == 0; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-f") == 0) {
			out->foreground = true;
		} else if (strcmp(a, "--snapshot") == 0) {
			out->snapshot = out->read_only = true;
		} else if (strcmp(a, "-d") == 0) {
			out->debug = out->foreground = true;
		} else if (strcmp(a, "-s") == 0) {
			; /* seen above */
		} else if (strcmp(a, "-o") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "itemfs: -o needs a list of options\n");
				rc = -EINVAL;
			} else {
				rc = parse_list(argv[++i], sloppy, out);
			}
		} else if (strncmp(a, "-o", 2) == 0) {
			rc = parse_list(a + 2, sloppy, out);
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "itemfs: unknown flag '%s'; `itemfs help` lists them\n", a);
			rc = -EINVAL;
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			fprintf(stderr, "itemfs: unexpected argument '%s'\n", a);
			rc = -EINVAL;
		}
	}
	/*
	 * The kernel keeps names and attributes long where nothing changes (a
	 * snapshot) or the watcher (view.c) drops what other mounts change
	 * within cache_ttl; with strong reads everywhere it caches nothing.
	 */
	out->attr_timeout = out->entry_timeout =
	    out->snapshot || fs_watching(out) ? FS_KERNEL_TIMEOUT : 0;
	if (rc == 0 && npos < 2) {
		fprintf(stderr, "itemfs: mount needs STORE_DIR and MOUNTPOINT\n");
		fs_usage(stderr);
		rc = -EINVAL;
	}
	if (rc == 0) {
		/* A DynamoDB-API URL is taken as it is; a directory, made absolute. */
		out->store_path =
		    store_path_is_url(pos[0]) ? strdup(pos[0]) : absolute_path(pos[0]);
		if (!out->store_path) {
			fprintf(stderr, "itemfs: store directory %s: %s (its parent must exist)\n",
				pos[0], strerror(errno));
			rc = -ENOENT;
		}
	}
	if (rc == 0) {
		out->mountpoint = realpath(pos[1], NULL);
		if (!out->mountpoint) {
			int e = errno;
			fprintf(stderr, "itemfs: mountpoint %s: %s", pos[1], strerror(e));
			if (e == ENOENT)
				fprintf(stderr, "; create it with `mkdir -p %s`", pos[1]);
			fputc('\n', stderr);
			rc = -ENOENT;
		}
	}
	if (rc)
		fs_options_free(out);
	return rc;
}

void fs_options_free(struct fs_options *opts)
{
	free(opts->store_path);
	free(opts->mountpoint);
	free(opts->ddb_region);
	free(opts->ddb_credentials);
	free(opts->ddb_profile);
	opts->store_path = opts->mountpoint = opts->ddb_region = NULL;
	opts->ddb_credentials = opts->ddb_profile = NULL;
}
