/*
 * fstest.c - the syscall driver of the conformance suite (in the manner of
 * pjdfstest's fstest, written for itemfs): it runs the system calls given on
 * its command line, in order, in one process, and prints one result: the
 * errno name (ENOENT, EACCES, ...) of the first call that fails, or else the
 * result of the last call: "0", or for stat/lstat/fstat the chosen fields,
 * comma-separated, or for readlink the target.
 *
 *   fstest [-u UID] [-g GID[,GID...]] [-U UMASK] CALL ARGS [: CALL ARGS]...
 *
 * -g sets the supplementary groups to the whole list and the effective gid
 * to its first entry; -u then sets the effective uid (which, from root,
 * drops every capability: the caller is an ordinary user). -U sets the
 * umask (octal; the default is 0, so modes are exactly as given).
 *
 * Modes are octal, sizes and ids decimal (-1 for chown's "unchanged"). A
 * descriptor argument is the index of an earlier open in the same run (0
 * for the first). Exit status: 0 if every call succeeded, 1 if one failed,
 * 2 for a usage error. The test scripts compare the output, not the status.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#define FSTEST_MAX_FDS 16
#define FSTEST_MAX_GROUPS 32

static int fds[FSTEST_MAX_FDS];
static int nfds;

static void usage(const char *msg)
{
	fprintf(stderr, "fstest: %s\n"
		"usage: fstest [-u UID] [-g GID[,GID...]] [-U UMASK] CALL ARGS [: CALL ARGS]...\n"
		"calls: open PATH FLAGS [MODE] | create PATH MODE | mkdir PATH MODE | rmdir PATH\n"
		"  unlink PATH | link FROM TO | symlink TARGET PATH | rename FROM TO | readlink PATH\n"
		"  chmod PATH MODE | chown PATH UID GID | lchown PATH UID GID\n"
		"  truncate PATH LEN | ftruncate FD LEN | write FD TEXT | close FD\n"
		"  utimensat PATH ASEC ANSEC MSEC MNSEC [0|AT_SYMLINK_NOFOLLOW]\n"
		"    (NSEC may be UTIME_NOW or UTIME_OMIT)\n"
		"  mkfifo PATH MODE | mknod PATH f|c|b MODE MAJOR MINOR | bind PATH\n"
		"  stat PATH FIELDS | lstat PATH FIELDS | fstat FD FIELDS\n"
		"fields: mode type uid gid nlink size ino atime mtime ctime (seconds),\n"
		"  atime_nsec mtime_nsec ctime_nsec (tv_nsec), atime_ns mtime_ns ctime_ns (total ns)\n",
		msg);
	exit(2);
}

static long num(const char *s, int base)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, base);
	if (errno != 0 || *s == '\0' || *end != '\0') {
		fprintf(stderr, "fstest: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static int fd_arg(const char *s)
{
	long i = num(s, 10);

	if (i < 0 || i >= nfds)
		usage("no such descriptor index");
	return fds[i];
}

static int open_flags(const char *spec)
{
	static const struct {
		const char *name;
		int flag;
	} names[] = {
		{ "O_RDONLY", O_RDONLY }, { "O_WRONLY", O_WRONLY }, { "O_RDWR", O_RDWR },
		{ "O_CREAT", O_CREAT }, { "O_EXCL", O_EXCL }, { "O_TRUNC", O_TRUNC },
		{ "O_APPEND", O_APPEND }, { "O_NOFOLLOW", O_NOFOLLOW },
		{ "O_DIRECTORY", O_DIRECTORY }, { "O_NONBLOCK", O_NONBLOCK },
		{ "O_SYNC", O_SYNC }, { "O_NOCTTY", O_NOCTTY }, { "O_CLOEXEC", O_CLOEXEC },
	};
	char buf[256], *tok, *save;
	int flags = 0;
	size_t i;

	if (strlen(spec) >= sizeof(buf))
		usage("open flags too long");
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(tok, names[i].name) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			usage("unknown open flag");
		flags |= names[i].flag;
	}
	return flags;
}

static long nsec_arg(const char *s)
{
	if (strcmp(s, "UTIME_NOW") == 0)
		return UTIME_NOW;
	if (strcmp(s, "UTIME_OMIT") == 0)
		return UTIME_OMIT;
	return num(s, 10);
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "regular";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFSOCK: return "socket";
	default: return "unknown";
	}
}

static long long total_ns(struct timespec ts)
{
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Prints the comma-separated FIELDS of *st into out (of size outlen). */
static void stat_fields(const struct stat *st, const char *fields, char *out, size_t outlen)
{
	char buf[256], *tok, *save;
	size_t used = 0;

	if (strlen(fields) >= sizeof(buf))
		usage("field list too long");
	strcpy(buf, fields);
	out[0] = '\0';
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char v[64];

		if (strcmp(tok, "mode") == 0)
			snprintf(v, sizeof(v), "0%03o", (unsigned)(st->st_mode & 07777));
		else if (strcmp(tok, "type") == 0)
			snprintf(v, sizeof(v), "%s", type_name(st->st_mode));
		else if (strcmp(tok, "uid") == 0)
			snprintf(v, sizeof(v), "%u", (unsigned)st->st_uid);
		else if (strcmp(tok, "gid") == 0)
			snprintf(v, sizeof(v), "%u", (unsigned)st->st_gid);
		else if (strcmp(tok, "nlink") == 0)
			snprintf(v, sizeof(v), "%lu", (unsigned long)st->st_nlink);
		else if (strcmp(tok, "size") == 0)
			snprintf(v, sizeof(v), "%lld", (long long)st->st_size);
		else if (strcmp(tok, "ino") == 0)
			snprintf(v, sizeof(v), "%llu", (unsigned long long)st->st_ino);
		else if (strcmp(tok, "atime") == 0)
			snprintf(v, sizeof(v), "%lld", (long long)st->st_atim.tv_sec);
		else if (strcmp(tok, "mtime") == 0)
			snprintf(v, sizeof(v), "%lld", (long long)st->st_mtim.tv_sec);
		else if (strcmp(tok, "ctime") == 0)
			snprintf(v, sizeof(v), "%lld", (long long)st->st_ctim.tv_sec);
		else if (strcmp(tok, "atime_nsec") == 0)
			snprintf(v, sizeof(v), "%ld", st->st_atim.tv_nsec);
		else if (strcmp(tok, "mtime_nsec") == 0)
			snprintf(v, sizeof(v), "%ld", st->st_mtim.tv_nsec);
		else if (strcmp(tok, "ctime_nsec") == 0)
			snprintf(v, sizeof(v), "%ld", st->st_ctim.tv_nsec);
		else if (strcmp(tok, "atime_ns") == 0)
			snprintf(v, sizeof(v), "%lld", total_ns(st->st_atim));
		else if (strcmp(tok, "mtime_ns") == 0)
			snprintf(v, sizeof(v), "%lld", total_ns(st->st_mtim));
		else if (strcmp(tok, "ctime_ns") == 0)
			snprintf(v, sizeof(v), "%lld", total_ns(st->st_ctim));
		else
			usage("unknown stat field");
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? "," : "", v);
		if (used >= outlen)
			usage("stat result too long");
	}
}

static int do_bind(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s, rc, saved;

	if (strlen(path) >= sizeof(sun.sun_path))
		usage("socket path too long");
	strcpy(sun.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	rc = bind(s, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(s);
	errno = saved;
	return rc;
}

/*
 * Runs the call argv[0] with its arguments (argc of them, argv[0] included).
 * Returns 0 or -1 (errno set); on success, *out holds what to print.
 */
static int run_call(int argc, char **argv, char *out, size_t outlen)
{
	const char *c = argv[0];
	struct stat st;
	int rc;

#define NARGS(n) do { if (argc != (n) + 1) usage("wrong number of arguments"); } while (0)
	snprintf(out, outlen, "0");
	if (strcmp(c, "open") == 0) {
		int fd;

		if (argc != 3 && argc != 4)
			usage("open PATH FLAGS [MODE]");
		fd = open(argv[1], open_flags(argv[2]), argc == 4 ? (mode_t)num(argv[3], 8) : 0);
		if (fd < 0)
			return -1;
		if (nfds == FSTEST_MAX_FDS)
			usage("too many opens");
		fds[nfds++] = fd;
		return 0;
	}
	if (strcmp(c, "create") == 0) {
		NARGS(2);
		rc = open(argv[1], O_CREAT | O_EXCL | O_WRONLY, (mode_t)num(argv[2], 8));
		if (rc < 0)
			return -1;
		return close(rc);
	}
	if (strcmp(c, "mkdir") == 0) {
		NARGS(2);
		return mkdir(argv[1], (mode_t)num(argv[2], 8));
	}
	if (strcmp(c, "rmdir") == 0) {
		NARGS(1);
		return rmdir(argv[1]);
	}
	if (strcmp(c, "unlink") == 0) {
		NARGS(1);
		return unlink(argv[1]);
	}
	if (strcmp(c, "link") == 0) {
		NARGS(2);
		return link(argv[1], argv[2]);
	}
	if (strcmp(c, "symlink") == 0) {
		NARGS(2);
		return symlink(argv[1], argv[2]);
	}
	if (strcmp(c, "rename") == 0) {
		NARGS(2);
		return rename(argv[1], argv[2]);
	}
	if (strcmp(c, "readlink") == 0) {
		ssize_t n;

		NARGS(1);
		n = readlink(argv[1], out, outlen - 1);
		if (n < 0)
			return -1;
		out[n] = '\0';
		return 0;
	}
	if (strcmp(c, "chmod") == 0) {
		NARGS(2);
		return chmod(argv[1], (mode_t)num(argv[2], 8));
	}
	if (strcmp(c, "chown") == 0 || strcmp(c, "lchown") == 0) {
		uid_t u;
		gid_t g;

		NARGS(3);
		u = (uid_t)num(argv[2], 10);
		g = (gid_t)num(argv[3], 10);
		return c[0] == 'l' ? lchown(argv[1], u, g) : chown(argv[1], u, g);
	}
	if (strcmp(c, "truncate") == 0) {
		NARGS(2);
		return truncate(argv[1], (off_t)num(argv[2], 10));
	}
	if (strcmp(c, "ftruncate") == 0) {
		NARGS(2);
		return ftruncate(fd_arg(argv[1]), (off_t)num(argv[2], 10));
	}
	if (strcmp(c, "write") == 0) {
		size_t len;
		ssize_t n;

		NARGS(2);
		len = strlen(argv[2]);
		n = write(fd_arg(argv[1]), argv[2], len);
		if (n < 0)
			return -1;
		if ((size_t)n != len) {
			errno = EIO;
			return -1;
		}
		return 0;
	}
	if (strcmp(c, "close") == 0) {
		NARGS(1);
		return close(fd_arg(argv[1]));
	}
	if (strcmp(c, "utimensat") == 0) {
		struct timespec ts[2];
		int flags = 0;

		if (argc != 6 && argc != 7)
			usage("utimensat PATH ASEC ANSEC MSEC MNSEC [FLAGS]");
		ts[0].tv_sec = num(argv[2], 10);
		ts[0].tv_nsec = nsec_arg(argv[3]);
		ts[1].tv_sec = num(argv[4], 10);
		ts[1].tv_nsec = nsec_arg(argv[5]);
		if (argc == 7 && strcmp(argv[6], "AT_SYMLINK_NOFOLLOW") == 0)
			flags = AT_SYMLINK_NOFOLLOW;
		else if (argc == 7 && strcmp(argv[6], "0") != 0)
			usage("utimensat flags: 0 or AT_SYMLINK_NOFOLLOW");
		return utimensat(AT_FDCWD, argv[1], ts, flags);
	}
	if (strcmp(c, "mkfifo") == 0) {
		NARGS(2);
		return mkfifo(argv[1], (mode_t)num(argv[2], 8));
	}
	if (strcmp(c, "mknod") == 0) {
		mode_t type;

		NARGS(5);
		if (strcmp(argv[2], "f") == 0)
			type = S_IFREG;
		else if (strcmp(argv[2], "c") == 0)
			type = S_IFCHR;
		else if (strcmp(argv[2], "b") == 0)
			type = S_IFBLK;
		else
			usage("mknod type: f, c or b");
		return mknod(argv[1], type | (mode_t)num(argv[3], 8),
			     makedev((unsigned)num(argv[4], 10), (unsigned)num(argv[5], 10)));
	}
	if (strcmp(c, "bind") == 0) {
		NARGS(1);
		return do_bind(argv[1]);
	}
	if (strcmp(c, "stat") == 0 || strcmp(c, "lstat") == 0 || strcmp(c, "fstat") == 0) {
		NARGS(2);
		if (c[0] == 's')
			rc = stat(argv[1], &st);
		else if (c[0] == 'l')
			rc = lstat(argv[1], &st);
		else
			rc = fstat(fd_arg(argv[1]), &st);
		if (rc < 0)
			return -1;
		stat_fields(&st, argv[2], out, outlen);
		return 0;
	}
#undef NARGS
	usage("unknown call");
	return -1;
}

static void set_groups(const char *spec)
{
	gid_t groups[FSTEST_MAX_GROUPS];
	char buf[512], *tok, *save;
	int n = 0;

	if (strlen(spec) >= sizeof(buf))
		usage("group list too long");
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == FSTEST_MAX_GROUPS)
			usage("too many groups");
		groups[n++] = (gid_t)num(tok, 10);
	}
	if (n == 0)
		usage("empty group list");
	if (setgroups((size_t)n, groups) != 0 || setegid(groups[0]) != 0) {
		perror("fstest: setgroups/setegid");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	char out[4200];
	const char *uid = NULL, *gids = NULL;
	int opt, i, start;

	umask(0);
	while ((opt = getopt(argc, argv, "+u:g:U:")) != -1) {
		switch (opt) {
		case 'u': uid = optarg; break;
		case 'g': gids = optarg; break;
		case 'U': umask((mode_t)num(optarg, 8)); break;
		default: usage("bad option");
		}
	}
	if (optind >= argc)
		usage("no call given");
	if (gids)
		set_groups(gids);
	if (uid && seteuid((uid_t)num(uid, 10)) != 0) {
		perror("fstest: seteuid");
		exit(2);
	}
	for (start = optind; start < argc; start = i + 1) {
		for (i = start; i < argc && strcmp(argv[i], ":") != 0; i++)
			;
		if (i == start)
			usage("empty call");
		if (run_call(i - start, argv + start, out, sizeof(out)) != 0) {
			const char *name = strerrorname_np(errno);

			printf("%s\n", name ? name : "E?");
			return 1;
		}
	}
	printf("%s\n", out);
	return 0;
}
