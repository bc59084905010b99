/*
 * cmd_stats.c - `itemfs stats MOUNTPOINT [--json]`: the counters of a
 * mounted store's read cache, consistency machinery and item expiry, read from the
 * hidden MOUNTPOINT/.itemfs/stats ("group.name value" lines, see
 * fs/view.c) and shown as a table or as one JSON object of objects.
 * Exit: 0 shown, 1 cannot read them (not an itemfs mount), 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fs.h"

struct stat_line {
	char group[32];
	char name[64];
	uint64_t value;
};

static int read_lines(FILE *in, struct stat_line **out, size_t *count)
{
	struct stat_line *v = NULL;
	size_t n = 0, cap = 0;
	char buf[256];

	while (fgets(buf, sizeof(buf), in)) {
		char key[128], *dot;
		uint64_t value;

		if (sscanf(buf, "%127s %" SCNu64, key, &value) != 2 || !(dot = strchr(key, '.')))
			continue;
		if (n == cap) {
			struct stat_line *p;
			cap = cap ? cap * 2 : 64;
			p = realloc(v, cap * sizeof(*p));
			if (!p) {
				free(v);
				return -ENOMEM;
			}
			v = p;
		}
		*dot = '\0';
		snprintf(v[n].group, sizeof(v[n].group), "%.31s", key);
		snprintf(v[n].name, sizeof(v[n].name), "%.63s", dot + 1);
		v[n].value = value;
		n++;
	}
	*out = v;
	*count = n;
	return 0;
}

static void print_json(const struct stat_line *v, size_t n)
{
	const char *group = NULL;

	putchar('{');
	for (size_t i = 0; i < n; i++) {
		if (!group || strcmp(group, v[i].group) != 0) {
			printf("%s\"%s\":{", group ? "}," : "", v[i].group);
			group = v[i].group;
		} else {
			putchar(',');
		}
		printf("\"%s\":%" PRIu64, v[i].name, v[i].value);
	}
	printf("%s}\n", group ? "}" : "");
}

/* The value of group.name, or 0. */
static uint64_t get(const struct stat_line *v, size_t n, const char *group, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].group, group) == 0 && strcmp(v[i].name, name) == 0)
			return v[i].value;
	return 0;
}

static void print_human(const char *mnt, const struct stat_line *v, size_t n)
{
	static const char *const kinds[] = {"page", "attr", "listing", "negative"};
	static const char *const titles[] = {"pages", "attributes", "listings", "negative entries"};
	char used[32], budget[32];

	cli_format_bytes(used, sizeof(used), get(v, n, "cache", "bytes"));
	cli_format_bytes(budget, sizeof(budget), get(v, n, "cache", "budget"));
	printf("itemfs read cache of %s: %s of %s in %" PRIu64 " entries\n\n", mnt, used, budget,
	       get(v, n, "cache", "entries"));
	printf("%-17s %12s %12s %8s %10s %13s %12s %10s\n", "", "hits", "misses", "hit %",
	       "evictions", "invalidations", "bytes", "entries");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		uint64_t h = get(v, n, kinds[k], "hits"), m = get(v, n, kinds[k], "misses");
		char pct[16] = "-";

		if (h + m)
			snprintf(pct, sizeof(pct), "%.1f", 100.0 * (double)h / (double)(h + m));
		printf("%-17s %12" PRIu64 " %12" PRIu64 " %8s %10" PRIu64 " %13" PRIu64 " %12" PRIu64
		       " %10" PRIu64 "\n",
		       titles[k], h, m, pct, get(v, n, kinds[k], "evictions"),
		       get(v, n, kinds[k], "invalidations"), get(v, n, kinds[k], "bytes"),
		       get(v, n, kinds[k], "entries"));
	}
	printf("\nconsistency: cache_ttl %.3f s%s; %" PRIu64 " strong reads, %" PRIu64
	       " changes applied (%" PRIu64 " from other mounts), %" PRIu64
	       " kernel invalidations\n",
	       (double)get(v, n, "consistency", "cache_ttl_ms") / 1000,
	       get(v, n, "consistency", "consistent_reads") ? ", consistent_reads" : "",
	       get(v, n, "consistency", "strong_reads"), get(v, n, "consistency", "changes"),
	       get(v, n, "consistency", "foreign_changes"),
	       get(v, n, "consistency", "kernel_notifications"));
	printf("inodes: %" PRIu64 " held for the kernel (max_inodes %" PRIu64 "), %" PRIu64
	       " forgotten to stay within it\n",
	       get(v, n, "inodes", "known"), get(v, n, "inodes", "max"),
	       get(v, n, "inodes", "trimmed"));
	printf("files: %" PRIu64 " opens through the kernel's page cache, %" PRIu64
	       " direct (%" PRIu64 " writers waited for page-cache readers); %" PRIu64
	       " reads of files the kernel opened itself (--snapshot)\n",
	       get(v, n, "files", "open_cached"), get(v, n, "files", "open_direct"),
	       get(v, n, "files", "writer_waits"), get(v, n, "files", "reads_by_inode"));
	printf("session: %" PRIu64 " holds of idle CPUs polling (idle_poll)\n",
	       get(v, n, "session", "idle_poll_holds"));
	printf("ttl: %" PRIu64 " expired items hidden, %" PRIu64 " reclaimed, %" PRIu64
	       " pending\n",
	       get(v, n, "ttl", "hidden"), get(v, n, "ttl", "reclaimed"),
	       get(v, n, "ttl", "pending"));
	printf("transactions: %" PRIu64 " applied (%" PRIu64 " actions), %" PRIu64
	       " canceled by a condition, %" PRIu64 " failed otherwise\n",
	       get(v, n, "txn", "applied"), get(v, n, "txn", "actions"),
	       get(v, n, "txn", "canceled"), get(v, n, "txn", "failed"));
	printf("streams: %" PRIu64 " records written, %" PRIu64 " trimmed, %" PRIu64
	       " reads\n",
	       get(v, n, "stream", "records"), get(v, n, "stream", "trimmed"),
	       get(v, n, "stream", "reads"));
	printf("index: %" PRIu64 " lookups, %" PRIu64 " listings (%" PRIu64 " entries), %" PRIu64
	       " declared, %" PRIu64 " dropped\n",
	       get(v, n, "index", "lookups"), get(v, n, "index", "listings"),
	       get(v, n, "index", "entries"), get(v, n, "index", "declared"),
	       get(v, n, "index", "dropped"));
}

int cmd_stats(int argc, char **argv)
{
	const char *mnt = NULL;
	bool json = false;
	char path[PATH_MAX];
	struct stat_line *v;
	size_t n;
	FILE *in;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (argv[i][0] == '-' || mnt) {
			fprintf(stderr, "itemfs: stats: unexpected argument '%s'\n"
					"usage: itemfs stats MOUNTPOINT [--json]\n",
				argv[i]);
			return 2;
		} else {
			mnt = argv[i];
		}
	}
	if (!mnt) {
		fputs("usage: itemfs stats MOUNTPOINT [--json]\n", stderr);
		return 2;
	}
	if (snprintf(path, sizeof(path), "%s/%s/stats", mnt, FS_HIDDEN_NAME) >= (int)sizeof(path)) {
		fprintf(stderr, "itemfs: stats: %s: path too long\n", mnt);
		return 2;
	}
	in = fopen(path, "re");
	if (!in) {
		int e = errno;
		fprintf(stderr, "itemfs: stats: cannot read %s: %s; is %s an itemfs mount? "
				"(`findmnt %s` shows what is mounted there)\n",
			path, strerror(e), mnt, mnt);
		return 1;
	}
	if (read_lines(in, &v, &n) != 0 || ferror(in)) {
		fprintf(stderr, "itemfs: stats: cannot read %s\n", path);
		fclose(in);
		return 1;
	}
	fclose(in);
	if (n == 0) {
		fprintf(stderr, "itemfs: stats: %s holds no counters; is %s an itemfs mount?\n",
			path, mnt);
		free(v);
		return 1;
	}
	if (json)
		print_json(v, n);
	else
		print_human(mnt, v, n);
	free(v);
	return fflush(stdout) == 0 ? 0 : 1;
}
