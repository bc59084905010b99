/*
 * mount_itemfs.c - mount.itemfs and mount.fuse.itemfs, the programs mount(8)
 * runs for `mount -t itemfs` and `mount -t fuse.itemfs` (and for fstab
 * lines and systemd .mount units of those types). They turn mount(8)'s
 * calling convention for helpers,
 *
 *   mount.itemfs STORE_DIR MOUNTPOINT [-sfnvh] [-o OPTIONS] [-t TYPE]
 *
 * into `itemfs mount STORE_DIR MOUNTPOINT [-s] -o OPTIONS`, run it, and
 * return its outcome in mount(8)'s terms. The options pass through as they
 * are, except setuid=USER, handled here (itemfs then runs as USER): itemfs
 * checks every option, names a bad one, and ignores those that only mean
 * something to mount(8) (rw, defaults, nofail, _netdev, x-*, ...), so the
 * one list of options is in fs/options.c. Nothing here knows the store.
 *
 * Which itemfs: the one next to this program's own executable if there is
 * one (the build tree, or an installation that keeps both in one
 * directory), else the one at the path this program was built for
 * (ITEMFS_BIN), else the first in PATH. mount(8) may run helpers with no
 * PATH at all, which is why the configured path comes before PATH.
 *
 * Exit status, as mount(8) documents for helpers (and passes on): 0
 * mounted (or -f: nothing to do), 1 bad usage (a bad argument or mount
 * option), 2 system error (itemfs cannot be run), 32 mount failure (itemfs
 * named the problem on stderr).
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_config.h"

/* mount(8)'s exit statuses (mount(8), "EXIT STATUS"). */
#define HELPER_EXIT_USAGE 1
#define HELPER_EXIT_SYSTEM 2
#define HELPER_EXIT_MOUNT 32

/* itemfs mount's exit statuses (fs/main.c). */
#define ITEMFS_EXIT_FAILED 1
#define ITEMFS_EXIT_USAGE 2

/* What the command line asks for. Strings are borrowed from argv, but opts and run_as. */
struct helper_args {
	const char *store; /* STORE_DIR, mount(8)'s "spec" */
	const char *mnt;   /* MOUNTPOINT, mount(8)'s "dir" */
	const char *type;  /* -t TYPE, or NULL */
	char *run_as;	   /* setuid=USER from the options, or NULL; malloc'd */
	char *opts;	   /* the options for itemfs, comma-separated; malloc'd */
	bool sloppy;	   /* -s */
	bool fake;	   /* -f: do everything but mount */
	bool verbose;	   /* -v */
};

static const char *prog = "mount.itemfs";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s STORE_DIR MOUNTPOINT [-sfnvh] [-o OPTION[,OPTION...]]\n"
		"\n"
		"Mounts the itemfs store in STORE_DIR on MOUNTPOINT for mount(8):\n"
		"`mount -t fuse.itemfs STORE_DIR MOUNTPOINT -o OPTIONS`, or an /etc/fstab\n"
		"line of type fuse.itemfs, runs it. It runs `itemfs mount` with the same\n"
		"options; `itemfs help` lists them. setuid=USER runs itemfs as USER.\n"
		"\n"
		"  -s  sloppy: warn about unknown options instead of failing\n"
		"  -f  fake: check the arguments, mount nothing\n"
		"  -n  accepted and ignored (itemfs writes no mtab)\n"
		"  -v  say which command runs\n"
		"  -h  this help\n"
		"Exit status: 0 mounted, 1 bad usage, 2 itemfs cannot be run, 32 mount failure.\n",
		prog);
}

/* Appends the comma-separated list to *opts, dropping setuid= (kept in a). */
static int add_options(struct helper_args *a, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		size_t have = a->opts ? strlen(a->opts) : 0;
		char *grown;

		if (len > 7 && strncmp(p, "setuid=", 7) == 0) {
			char *user = strndup(p + 7, len - 7);

			if (!user)
				return -ENOMEM;
			free(a->run_as);
			a->run_as = user;
		} else if (len > 0) {
			grown = realloc(a->opts, have + len + 2);
			if (!grown)
				return -ENOMEM;
			a->opts = grown;
			if (have)
				a->opts[have++] = ',';
			memcpy(a->opts + have, p, len);
			a->opts[have + len] = '\0';
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/*
 * Parses argv into *a (zeroed first). Returns 0, 1 when -h asked for help
 * (printed), or -EINVAL after printing what is wrong, -ENOMEM.
 */
static int parse_args(int argc, char **argv, struct helper_args *a)
{
	int rc;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "-o") == 0 || strcmp(arg, "-t") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: %s needs a value\n", prog, arg);
				return -EINVAL;
			}
			if (arg[1] == 't') {
				a->type = argv[++i];
				continue;
			}
			rc = add_options(a, argv[++i]);
			if (rc)
				return rc;
		} else if (strncmp(arg, "-o", 2) == 0 && arg[2]) {
			rc = add_options(a, arg + 2);
			if (rc)
				return rc;
		} else if (arg[0] == '-' && arg[1] && strspn(arg + 1, "sfnvh") == strlen(arg + 1)) {
			for (const char *f = arg + 1; *f; f++) {
				if (*f == 's')
					a->sloppy = true;
				else if (*f == 'f')
					a->fake = true;
				else if (*f == 'v')
					a->verbose = true;
				else if (*f == 'h') {
					usage(stdout);
					return 1;
				}
				/* -n: no mtab to leave alone; itemfs writes none. */
			}
		} else if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "%s: unknown flag '%s'\n", prog, arg);
			usage(stderr);
			return -EINVAL;
		} else if (!a->store) {
			a->store = arg;
		} else if (!a->mnt) {
			a->mnt = arg;
		} else {
			fprintf(stderr, "%s: unexpected argument '%s'\n", prog, arg);
			return -EINVAL;
		}
	}
	if (!a->mnt) {
		fprintf(stderr, "%s: needs STORE_DIR and MOUNTPOINT\n", prog);
		usage(stderr);
		return -EINVAL;
	}
	if (a->type && strcmp(a->type, "itemfs") != 0 && strcmp(a->type, "fuse.itemfs") != 0) {
		fprintf(stderr,
			"%s: cannot mount type '%s': this helper mounts itemfs and "
			"fuse.itemfs only\n",
			prog, a->type);
		return -EINVAL;
	}
	return 0;
}

/* Sets out to path if it names an executable file; returns whether it did. */
static bool try_exe(const char *path, char out[PATH_MAX])
{
	if (strlen(path) >= PATH_MAX || access(path, X_OK) != 0)
		return false;
	strcpy(out, path);
	return true;
}

/* The itemfs to run (see the top of the file): a path, or "itemfs" for PATH. */
static void find_itemfs(char out[PATH_MAX])
{
	char self[PATH_MAX], beside[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			slash[1] = '\0';
			if (snprintf(beside, sizeof(beside), "%sitemfs", self) <
				(int)sizeof(beside) &&
			    try_exe(beside, out))
				return;
		}
	}
	if (try_exe(ITEMFS_BIN, out))
		return;
	strcpy(out, "itemfs");
}

/* In the child: becomes user (a name or a number). Prints why not; -errno. */
static int become_user(const char *user)
{
	struct passwd *pw;
	char *end;
	unsigned long uid;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		uid = strtoul(user, &end, 10);
		if (*user && !*end)
			pw = getpwuid((uid_t)uid);
	}
	if (!pw) {
		fprintf(stderr, "%s: setuid=%s: no such user\n", prog, user);
		return -ENOENT;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		int e = errno;
		fprintf(stderr, "%s: setuid=%s: cannot become that user: %s\n", prog, user,
			strerror(e));
		return -e;
	}
	return 0;
}

/* Runs itemfs with argv; returns this program's exit status. */
static int run_itemfs(const struct helper_args *a, char **argv)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: cannot fork: %s\n", prog, strerror(errno));
		return HELPER_EXIT_SYSTEM;
	}
	if (pid == 0) {
		if (a->run_as && become_user(a->run_as) != 0)
			_exit(126);
		execvp(argv[0], argv);
		fprintf(stderr,
			"%s: cannot run %s: %s; is itemfs installed (looked for it next "
			"to %s, at %s and in PATH)?\n",
			prog, argv[0], strerror(errno), prog, ITEMFS_BIN);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "%s: waiting for itemfs: %s\n", prog, strerror(errno));
			return HELPER_EXIT_SYSTEM;
		}
	if (WIFEXITED(status)) {
		switch (WEXITSTATUS(status)) {
		case 0:
			return 0;
		case ITEMFS_EXIT_USAGE:
			return HELPER_EXIT_USAGE;
		case ITEMFS_EXIT_FAILED:
			return HELPER_EXIT_MOUNT;
		case 126: /* setuid= failed */
			return HELPER_EXIT_USAGE;
		case 127: /* exec failed */
			return HELPER_EXIT_SYSTEM;
		default:
			return HELPER_EXIT_MOUNT;
		}
	}
	fprintf(stderr, "%s: itemfs was killed by signal %d\n", prog,
		WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return HELPER_EXIT_MOUNT;
}

int main(int argc, char **argv)
{
	struct helper_args a;
	char itemfs[PATH_MAX];
	char *args[9];
	int n = 0, rc;

	if (argc > 0 && argv[0][0]) {
		const char *slash = strrchr(argv[0], '/');
		prog = slash ? slash + 1 : argv[0];
	}
	rc = parse_args(argc, argv, &a);
	if (rc == 1) {
		rc = 0;
		goto out;
	}
	if (rc) {
		if (rc == -ENOMEM)
			fprintf(stderr, "%s: out of memory\n", prog);
		rc = rc == -ENOMEM ? HELPER_EXIT_SYSTEM : HELPER_EXIT_USAGE;
		goto out;
	}
	if (a.run_as && geteuid() != 0) {
		fprintf(stderr, "%s: setuid=%s needs root\n", prog, a.run_as);
		rc = HELPER_EXIT_USAGE;
		goto out;
	}
	find_itemfs(itemfs);
	args[n++] = itemfs;
	args[n++] = (char *)"mount";
	args[n++] = (char *)a.store;
	args[n++] = (char *)a.mnt;
	if (a.sloppy)
		args[n++] = (char *)"-s";
	if (a.opts) {
		args[n++] = (char *)"-o";
		args[n++] = a.opts;
	}
	args[n] = NULL;
	if (a.verbose || a.fake) {
		if (a.verbose) {
			fprintf(stderr, "%s: %s", prog, a.fake ? "would run" : "running");
			if (a.run_as)
				fprintf(stderr, " as %s", a.run_as);
			for (int i = 0; i < n; i++)
				fprintf(stderr, " %s", args[i]);
			fputc('\n', stderr);
		}
		if (a.fake) {
			rc = 0;
			goto out;
		}
	}
	rc = run_itemfs(&a, args);
out:
	free(a.opts);
	free(a.run_as);
	return rc;
}
