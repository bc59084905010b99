/*
 * treegen.c - builds, on a local disk, the deterministic source tree the
 * backup tests copy through itemfs (test_tar_roundtrip.sh): N regular files
 * spread over four tables, and one table of the awkward cases. Running it
 * twice with the same N gives the same tree, byte for byte and stamp for
 * stamp, so a failure reproduces.
 *
 *   treegen DIR N
 *
 * DIR must be an existing empty directory; its top level gets only
 * directories (an itemfs mount's top level holds tables only). The tree has:
 * - t0..t3/dNN/fNNNNN: the N files, 200 per directory; sizes from a fixed
 *   pseudo-random sequence, most under 1 KiB, some up to 8 KiB, a few up to
 *   about 400 KB, some empty; modes cycling through 0644 0600 0755 0444 0640;
 *   owners cycling through five uid:gid pairs; user.* xattrs on every 37th;
 *   hard-link groups of 2 and 3 names (in one directory, across directories,
 *   across tables);
 * - "odd table ü": names with spaces, a newline, a tab, UTF-8, shell
 *   metacharacters, a leading '-', 255 bytes (ASCII and UTF-8); items at
 *   exactly the 409,600-byte item limit (name + data), one of them with
 *   xattrs (name + data + xattr names + values); empty files; empty
 *   directories, nested ones too; symlinks (relative, absolute, dangling, to
 *   a directory, a 4000-byte target, a target with a newline), one owned by
 *   another user; setgid, sticky and 0700 directories; a setuid file; mtimes
 *   at 1960, 1970 + 1 ns and 2100.
 * Every file, directory and symlink gets an mtime with its own nanoseconds
 * (utimensat), directories last, so nothing later moves them.
 *
 * Prints the number of files, directories, symlinks and extra hard-link
 * names it made. Exits 1 with a message naming the path on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define ITEM_MAX 409600
#define PER_DIR 200
#define TABLES 4
#define MAX_DIRS 4096

static int dirfd_root = -1;
static unsigned long n_files, n_dirs, n_links, n_hard;

/* Directories made, in creation order, with their mtime index (set last). */
static char *dirs[MAX_DIRS];
static int n_dirs_made;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "treegen: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

/* splitmix64: the one source of every size and every data byte. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* stamp IDX: a distinct time with its own nanoseconds, 2001 to 2020. */
static struct timespec stamp(uint64_t idx)
{
	struct timespec ts;

	ts.tv_sec = 1000000000 + (time_t)(mix(idx * 2 + 1) % 600000000);
	ts.tv_nsec = (long)(mix(idx * 2 + 2) % 1000000000);
	return ts;
}

static void set_time(const char *path, struct timespec mtime)
{
	struct timespec ts[2] = { mtime, mtime };

	if (utimensat(dirfd_root, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
		die("utimensat", path);
}

static void own(const char *path, unsigned int k)
{
	static const unsigned int ids[][2] = {
		{ 0, 0 }, { 1000, 1000 }, { 1234, 5678 }, { 65534, 65534 }, { 4000000, 4000001 },
	};
	const unsigned int *id = ids[k % 5];

	if (fchownat(dirfd_root, path, id[0], id[1], AT_SYMLINK_NOFOLLOW) != 0)
		die("chown", path);
}

/* mkdir_t PATH MODE OWNER: a directory, its mtime set at the end. Mode after
 * chown: chown of a directory keeps setgid, but set it last anyway. */
static void mkdir_t(const char *path, mode_t mode, unsigned int owner)
{
	if (n_dirs_made == MAX_DIRS) {
		fprintf(stderr, "treegen: more than %d directories\n", MAX_DIRS);
		exit(1);
	}
	if (mkdirat(dirfd_root, path, 0700) != 0)
		die("mkdir", path);
	own(path, owner);
	if (fchmodat(dirfd_root, path, mode, 0) != 0)
		die("chmod", path);
	dirs[n_dirs_made] = strdup(path);
	if (!dirs[n_dirs_made])
		die("strdup", path);
	n_dirs_made++;
	n_dirs++;
}

/* make_file PATH SIZE SEED MODE OWNER: SIZE pseudo-random bytes from SEED.
 * Owner before mode: chown clears setuid and setgid of a file. */
static void make_file(const char *path, size_t size, uint64_t seed, mode_t mode,
		      unsigned int owner)
{
	static unsigned char buf[ITEM_MAX];
	size_t i;
	int fd;

	for (i = 0; i < size; i += 8) {
		uint64_t r = mix(seed * 1000003 + i);
		size_t n = size - i < 8 ? size - i : 8;

		memcpy(buf + i, &r, n);
	}
	fd = openat(dirfd_root, path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die("create", path);
	if (size && write(fd, buf, size) != (ssize_t)size)
		die("write", path);
	if (close(fd) != 0)
		die("close", path);
	own(path, owner);
	if (fchmodat(dirfd_root, path, mode, 0) != 0)
		die("chmod", path);
	n_files++;
	set_time(path, stamp(seed));
}

/* xattrs on a path relative to the root (no *at variant: build the path). */
static void set_xattr(const char *root, const char *path, const char *name,
		      const void *value, size_t len)
{
	char full[8192];

	snprintf(full, sizeof(full), "%s/%s", root, path);
	if (lsetxattr(full, name, value, len, XATTR_CREATE) != 0)
		die("setxattr", full);
}

static void hard_link(const char *from, const char *to)
{
	if (linkat(dirfd_root, from, dirfd_root, to, 0) != 0)
		die("link", to);
	n_hard++;
}

static void sym_link(const char *target, const char *path, unsigned int owner)
{
	if (symlinkat(target, dirfd_root, path) != 0)
		die("symlink", path);
	own(path, owner);
	n_links++;
	set_time(path, stamp(7000000 + n_links));
}

/* size_of I: the size distribution: 85% under 1 KiB (some empty), 14.7%
 * 1 to 8 KiB, 0.3% up to 400,000 bytes. */
static size_t size_of(uint64_t i)
{
	uint64_t r = mix(i);
	unsigned int pick = (unsigned int)(r % 1000);

	r >>= 10;
	if (pick < 850)
		return pick % 97 == 0 ? 0 : (size_t)(r % 1024);
	if (pick < 997)
		return 1024 + (size_t)(r % (7 * 1024));
	return 8192 + (size_t)(r % (400000 - 8192));
}

static void bulk(const char *root, unsigned long n)
{
	static const mode_t modes[] = { 0644, 0600, 0755, 0444, 0640 };
	char path[256], prev[256] = "", dir[64];
	unsigned long i;

	for (i = 0; i < TABLES; i++) {
		snprintf(dir, sizeof(dir), "t%lu", i);
		mkdir_t(dir, i == 1 ? 02775 : 0755, (unsigned int)i);
	}
	for (i = 0; i < n; i++) {
		unsigned long d = i / PER_DIR;

		if (i % PER_DIR == 0) {
			snprintf(dir, sizeof(dir), "t%lu/d%03lu", d % TABLES, d);
			mkdir_t(dir, d % 7 == 3 ? 02755 : (d % 11 == 5 ? 0700 : 0755),
				(unsigned int)d);
		}
		snprintf(path, sizeof(path), "%s/f%06lu", dir, i);
		make_file(path, size_of(i), i, modes[i % 5], (unsigned int)(i / 3));
		if (i % 37 == 0) {
			uint64_t v = mix(i);

			set_xattr(root, path, "user.mime", "application/octet-stream", 24);
			if (i % 74 == 0)
				set_xattr(root, path, "user.bin", &v, sizeof(v));
		}
		/* Hard links: small files only (an item counts its longest name). */
		if (i % 101 == 50 && size_of(i) < 4096) {
			char other[300];

			snprintf(other, sizeof(other), "%s/hl%06lu", dir, i);
			hard_link(path, other);
			if (i % 202 == 50 && prev[0]) {
				/* and a name in the previous directory (another table) */
				snprintf(other, sizeof(other), "%s/hlx%06lu", prev, i);
				hard_link(path, other);
			}
		}
		if (i % PER_DIR == PER_DIR - 1)
			snprintf(prev, sizeof(prev), "%s", dir);
	}
}

static void odd(const char *root)
{
	static const char *const names[] = {
		"with space",      " leading space",  "trailing space ",
		"new\nline",       "tab\there",       "grüße ✓ 日本語",
		"-dash",           "*?[glob]",        "back\\slash",
		"'quote\"",        ".hidden",         "$(not a command)",
		"é",
	};
	char path[4096], name[256];
	size_t i, n;
	char value[100];

	mkdir_t("odd table ü", 0755, 0);
	mkdir_t("odd table ü/names", 0755, 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "odd table ü/names/%s", names[i]);
		make_file(path, 10 + i * 13, 900000 + i, 0644, 0);
	}
	/* 255 bytes of ASCII; 255 bytes of UTF-8 (85 three-byte characters). */
	memset(name, 'n', 255);
	name[255] = '\0';
	snprintf(path, sizeof(path), "odd table ü/names/%s", name);
	make_file(path, 1000, 900100, 0644, 1);
	for (n = 0; n < 85; n++)
		memcpy(name + n * 3, "日", 3);
	snprintf(path, sizeof(path), "odd table ü/names/%s", name);
	make_file(path, 0, 900101, 0600, 2);

	/* Items at exactly the limit: name + data = 409,600 bytes. */
	mkdir_t("odd table ü/limit", 0755, 0);
	make_file("odd table ü/limit/a", ITEM_MAX - 1, 900200, 0644, 0);
	make_file("odd table ü/limit/max-size", ITEM_MAX - 8, 900201, 0600, 3);
	memset(name, 'L', 255);
	name[255] = '\0';
	snprintf(path, sizeof(path), "odd table ü/limit/%s", name);
	make_file(path, ITEM_MAX - 255, 900202, 0755, 0);
	/* ... and with xattrs: 4 + data + 6 + 100 + 7 + 3 = 409,600. */
	memset(value, 'v', sizeof(value));
	make_file("odd table ü/limit/xlim", ITEM_MAX - 4 - 6 - 100 - 7 - 3, 900203, 0644, 4);
	set_xattr(root, "odd table ü/limit/xlim", "user.k", value, 100);
	set_xattr(root, "odd table ü/limit/xlim", "user.kk", "abc", 3);

	/* Empty files and directories. */
	mkdir_t("odd table ü/empty", 0755, 0);
	make_file("odd table ü/empty/zero", 0, 0, 0644, 0);
	make_file("odd table ü/empty/zero-600", 0, 0, 0600, 2);
	mkdir_t("odd table ü/empty/dir", 0755, 0);
	mkdir_t("odd table ü/deep", 0755, 0);
	mkdir_t("odd table ü/deep/a", 0750, 1);
	mkdir_t("odd table ü/deep/a/b", 0755, 2);
	mkdir_t("odd table ü/deep/a/b/c", 0755, 3);
	mkdir_t("odd table ü/deep/a/b/c/d", 0755, 0);
	mkdir_t("empty table", 0755, 0);

	/* Modes. */
	mkdir_t("odd table ü/sgid", 02775, 2);
	make_file("odd table ü/sgid/inherits", 5, 900300, 0664, 2);
	mkdir_t("odd table ü/sgid/sub", 02770, 2);
	mkdir_t("odd table ü/sticky", 01777, 0);
	mkdir_t("odd table ü/private", 0700, 4);
	make_file("odd table ü/private/secret", 7, 900301, 0600, 4);
	make_file("odd table ü/setuid", 9, 900302, 04755, 0);
	make_file("odd table ü/script", 11, 900303, 0755, 1);

	/* Symlinks. */
	mkdir_t("odd table ü/links", 0755, 0);
	sym_link("../limit/a", "odd table ü/links/rel", 0);
	sym_link("/etc/hostname", "odd table ü/links/abs", 0);
	sym_link("no/such/target", "odd table ü/links/dangling", 0);
	sym_link("../deep", "odd table ü/links/to-dir", 0);
	sym_link("with\nnewline and space", "odd table ü/links/odd target", 0);
	sym_link("owned", "odd table ü/links/owned", 2);
	memset(path, 'x', 4000);
	path[4000] = '\0';
	sym_link(path, "odd table ü/links/long", 0);

	/* A hard-link group of three names in three directories. */
	make_file("odd table ü/links/h1", 333, 900400, 0640, 3);
	hard_link("odd table ü/links/h1", "odd table ü/names/h2");
	hard_link("odd table ü/links/h1", "odd table ü/empty/h3");

	/* Directory xattrs. */
	set_xattr(root, "odd table ü/names", "user.dir", "yes", 3);
	set_xattr(root, "odd table ü", "user.empty", "", 0);

	/* Edge times: before 1970, 1 ns after the epoch, 2100. */
	set_time("odd table ü/names/with space", (struct timespec){ -315619200, 500000000 });
	set_time("odd table ü/names/tab\there", (struct timespec){ 0, 1 });
	set_time("odd table ü/names/é", (struct timespec){ 4102444800, 999999999 });
}

int main(int argc, char **argv)
{
	unsigned long n;
	char *end;
	int i;

	if (argc != 3 || (n = strtoul(argv[2], &end, 10), *end != '\0')) {
		fputs("usage: treegen DIR N\n", stderr);
		return 2;
	}
	dirfd_root = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (dirfd_root < 0)
		die("open", argv[1]);
	umask(0);
	bulk(argv[1], n);
	odd(argv[1]);

	for (i = n_dirs_made - 1; i >= 0; i--) {
		set_time(dirs[i], stamp(5000000 + (uint64_t)i));
		free(dirs[i]);
	}
	if (utimensat(dirfd_root, ".", (struct timespec[2]){ stamp(1), stamp(1) }, 0) != 0)
		die("utimensat", argv[1]);
	printf("treegen: %lu files, %lu directories, %lu symlinks, %lu extra hard-link names\n",
	       n_files, n_dirs, n_links, n_hard);
	return 0;
}
