/*
 * main.c - the `itemfs` command: `itemfs mount` (checks, daemonizes, opens
 * the store, mounts, serves), `itemfs version`, `itemfs help`.
 *
 * `itemfs mount` returns only once the mount is ready, or fails with a
 * message naming the problem. Daemonizing happens before the store is
 * opened (LMDB environments must not cross a fork); the daemon reports
 * "ready" or its error text back to the waiting parent through a pipe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fs.h"

/* Where startup errors go: the terminal, or the pipe to the waiting parent. */
static int report_fd = -1;

static void startup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void startup_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (report_fd >= 0) {
		ssize_t w = write(report_fd, msg, strnlen(msg, sizeof(msg)));
		(void)w;
	} else {
		fprintf(stderr, "itemfs: %s\n", msg);
	}
}

/* The mountpoint must be an existing, empty directory we can mount on. */
static int check_mountpoint(const char *mnt)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (stat(mnt, &st) != 0) {
		startup_error("mountpoint %s: %s", mnt, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		startup_error("mountpoint %s is not a directory", mnt);
		return -ENOTDIR;
	}
	d = opendir(mnt);
	if (!d) {
		startup_error("mountpoint %s: %s", mnt, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			startup_error("mountpoint %s is not empty (it holds '%s'); itemfs "
				      "mounts only on an empty directory",
				      mnt, de->d_name);
			rc = -ENOTEMPTY;
			break;
		}
	}
	closedir(d);
	return rc;
}

static int check_dev_fuse(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		startup_error("cannot open /dev/fuse: %s; load the fuse module (`modprobe fuse`) "
			      "or, in a container, pass the device in",
			      strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}

static int open_store(const struct fs_options *o, struct store **out)
{
	struct store_config cfg = {
	    .path = o->store_path,
	    .read_only = o->read_only,
	    .create = !o->read_only,
	    .log = fs_log_store,
	    .ddb_region = o->ddb_region,
	    .ddb_credentials = o->ddb_credentials,
	    .ddb_profile = o->ddb_profile,
	    .ddb_poll_ms = (unsigned)(o->ddb_poll * 1000.0),
	    .ddb_strong_ms = (unsigned)(o->ddb_strong * 1000.0),
	    .ddb_commit = o->ddb_commit,
	};
	int rc = store_open(&cfg, out);

	if (rc && store_path_is_url(o->store_path)) {
		/* The backend logged what it knows; say what to do. */
		switch (rc) {
		case -ENOENT:
			startup_error("%s: no such DynamoDB table (it is created when the mount "
				      "is read-write)",
				      o->store_path);
			break;
		case -EPROTO:
			startup_error("%s is not an itemfs store of this version (%s): give a new "
				      "table name",
				      o->store_path, ITEMFS_VERSION);
			break;
		case -ENOKEY: {
			/* the store's choice (ddb_open.c, creds_find()), to name it */
			const char *profile = o->ddb_profile	      ? o->ddb_profile
					      : getenv("AWS_PROFILE") ? getenv("AWS_PROFILE")
								      : "default";
			const char *file = o->ddb_credentials ? o->ddb_credentials
					   : getenv("AWS_SHARED_CREDENTIALS_FILE")
					       ? getenv("AWS_SHARED_CREDENTIALS_FILE")
					       : "~/.aws/credentials";

			startup_error("%s: no AWS credentials of profile %s in %s: give a file "
				      "with a [%s] section holding aws_access_key_id and "
				      "aws_secret_access_key",
				      o->store_path, profile, file, profile);
			break;
		}
		case -EINVAL:
		case -ENAMETOOLONG:
			startup_error("%s: give dynamodb://HOST[:PORT]/NAME (HTTPS) or "
				      "dynamodb+http://HOST[:PORT]/NAME, NAME 3 to 255 characters",
				      o->store_path);
			break;
		default:
			startup_error("cannot open store %s: %s (is the endpoint reachable, and "
				      "are AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY right?)",
				      o->store_path, strerror(-rc));
			break;
		}
		return rc;
	}

	switch (rc) {
	case 0:
		break;
	case -EINVAL:
		startup_error("%s is not an itemfs store (it is left untouched); give an empty "
			      "or new directory to create a store there",
			      o->store_path);
		break;
	case -EPROTO:
		startup_error("%s is an itemfs store of a format this version (%s) cannot "
			      "read, or is locked by an incompatible LMDB; use the itemfs that "
			      "created it",
			      o->store_path, ITEMFS_VERSION);
		break;
	case -ENOENT:
		startup_error("store %s does not exist", o->store_path);
		break;
	default:
		startup_error("cannot open store %s: %s", o->store_path, strerror(-rc));
		break;
	}
	return rc;
}

static int build_fuse_args(const struct fs_options *o, struct fuse_args *args)
{
	char *mopts = NULL;
	int rc = -ENOMEM;

	if (asprintf(&mopts, "fsname=%s,subtype=itemfs,default_permissions,noatime%s%s",
		     o->store_path, o->allow_other ? ",allow_other" : "",
		     o->read_only ? ",ro" : "") < 0)
		return -ENOMEM;
	/* fsname must not contain a comma: libfuse would split it. */
	for (char *p = mopts + strlen("fsname="); *p && strncmp(p, ",subtype=", 9); p++)
		if (*p == ',')
			*p = '_';
	if (fuse_opt_add_arg(args, "itemfs") || fuse_opt_add_arg(args, "-o") ||
	    fuse_opt_add_arg(args, mopts))
		goto out;
	if (o->debug && fuse_opt_add_arg(args, "-d"))
		goto out;
	rc = 0;
out:
	free(mopts);
	return rc;
}

/*
 * Forks; the parent waits for the child's "ready" (exit 0) or error text
 * (printed, exit 1). Returns in the child, with report_fd set.
 */
static void daemonize_and_wait(void)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		perror("itemfs: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("itemfs: fork");
		exit(1);
	}
	if (pid > 0) {
		char msg[1024];
		size_t len = 0;
		ssize_t n;

		close(fds[1]);
		while (len < sizeof(msg) - 1 &&
		       (n = read(fds[0], msg + len, sizeof(msg) - 1 - len)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			len += (size_t)n;
		}
		msg[len] = '\0';
		if (strcmp(msg, "ready") == 0)
			exit(0);
		if (len == 0)
			fprintf(stderr, "itemfs: the daemon exited during startup; run with -f "
					"to see why\n");
		else
			fprintf(stderr, "itemfs: %s\n", msg);
		exit(1);
	}
	close(fds[0]);
	report_fd = fds[1];
	if (setsid() < 0)
		_exit(1);
}

/* libfuse's messages, once daemonized: through fs_log(), without their '\n'. */
static void log_libfuse(enum fuse_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void log_libfuse(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		return;
	n = (int)strnlen(msg, sizeof(msg));
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fs_log((int)level, "libfuse: %s", msg);
}

/* Detaches stdio once mounted (errors from now on go to syslog). */
static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

static int cmd_mount(int argc, char **argv)
{
	struct fs_ctx ctx;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	bool alone;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	rc = fs_options_parse(argc, argv, &ctx.opts);
	if (rc)
		return rc == -EINVAL ? 2 : 1; /* 2: usage error, as for the other commands */
	if (check_mountpoint(ctx.opts.mountpoint) || check_dev_fuse())
		goto err_out1;
	if (!ctx.opts.foreground)
		daemonize_and_wait();
	fs_log_init(!ctx.opts.foreground, ctx.opts.debug);

	if (fs_itab_init(&ctx.itab)) {
		startup_error("out of memory");
		goto err_out1;
	}
	/*
	 * Asked before we hold the store ourselves: closing a descriptor of
	 * lock.mdb drops every POSIX lock this process has on it, LMDB's too.
	 */
	alone = !ctx.opts.read_only && store_in_use(ctx.opts.store_path) == 0;
	if (open_store(&ctx.opts, &ctx.store))
		goto err_out2;
	if (alone)
		fs_orphans_reap(&ctx);
	if (ctx.opts.snapshot && !(store_features(ctx.store) & STORE_HAS_BACKUP)) {
		startup_error("%s: --snapshot needs a store that keeps snapshots (an LMDB store "
			      "directory); a DynamoDB table has none",
			      ctx.opts.store_path);
		goto err_out3;
	}
	if (ctx.opts.snapshot && store_txn_begin(ctx.store, STORE_TXN_READ, &ctx.snapshot)) {
		startup_error("cannot take a snapshot of store %s", ctx.opts.store_path);
		goto err_out3;
	}
	ctx.origin = store_origin(ctx.store);
	if (fs_view_init(&ctx)) {
		startup_error("cannot set up a read cache of %zu bytes for store %s",
			      ctx.opts.cache_size, ctx.opts.store_path);
		goto err_out3;
	}
	if (build_fuse_args(&ctx.opts, &args)) {
		startup_error("out of memory");
		goto err_out3;
	}
	ctx.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &ctx);
	if (!ctx.se) {
		startup_error("cannot create the FUSE session (see the messages above)");
		goto err_out4;
	}
	if (fs_view_start(&ctx)) {
		startup_error("cannot start a thread");
		goto err_out5;
	}
	/*
	 * Whoever started us may have left SIGINT ignored (a shell does for a
	 * background job) and libfuse installs its handlers only over the
	 * default action: take the defaults back, so that SIGINT, SIGTERM and
	 * SIGHUP always end the session cleanly, with everything committed.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (fuse_set_signal_handlers(ctx.se)) {
		startup_error("cannot install signal handlers");
		goto err_out5;
	}
	if (fuse_session_mount(ctx.se, ctx.opts.mountpoint)) {
		startup_error("cannot mount on %s (see the messages above; is it already a "
			      "mountpoint?)",
			      ctx.opts.mountpoint);
		goto err_out6;
	}
	if (report_fd >= 0) {
		if (chdir("/") != 0) { /* cannot fail for "/"; checked for the compiler */
		}
		detach_stdio();
		/* libfuse's own messages would go to /dev/null now: to syslog instead. */
		fuse_set_log_func(log_libfuse);
		startup_error("ready");
		close(report_fd);
		report_fd = -1;
	}
	fs_log(LOG_NOTICE, "serving %s on %s%s", ctx.opts.store_path, ctx.opts.mountpoint,
	       ctx.opts.snapshot ? " (snapshot: read-only, as of now)" : "");
	fs_log(LOG_DEBUG,
	       "options: %s%scommit_interval=%g cache_size=%zu cache_ttl=%g%s "
	       "attr_timeout=%g entry_timeout=%g max_inodes=%zu",
	       ctx.opts.read_only ? "ro " : "", ctx.opts.allow_other ? "allow_other " : "",
	       ctx.opts.commit_interval, ctx.opts.cache_size, ctx.opts.cache_ttl,
	       ctx.opts.consistent_reads ? " consistent_reads" : "", ctx.opts.attr_timeout,
	       ctx.opts.entry_timeout, ctx.opts.max_inodes);

	rc = fs_session_loop(&ctx);
	if (rc)
		fs_log(LOG_ERR,
		       "the FUSE session on %s ended with an error (%s): committing and "
		       "unmounting; mount it again with `itemfs mount %s %s`",
		       ctx.opts.mountpoint, strerror(-rc), ctx.opts.store_path, ctx.opts.mountpoint);
	fs_waiting_opens_run(&ctx, true);
	fs_files_drop_pending(&ctx);
	fs_orphans_free_all(&ctx);
	fs_batch_commit(&ctx);
	fs_view_stop(&ctx);
	fs_handles_close_all(&ctx);
	free(ctx.stats_text);
	fs_view_destroy(&ctx);
	fuse_session_unmount(ctx.se);
	fuse_remove_signal_handlers(ctx.se);
	fuse_session_destroy(ctx.se);
	fuse_opt_free_args(&args);
	store_txn_abort(ctx.snapshot);
	store_close(ctx.store);
	fs_itab_destroy(&ctx.itab);
	fs_ttl_destroy(&ctx);
	fs_index_destroy(&ctx);
	fs_log(LOG_NOTICE, "unmounted %s", ctx.opts.mountpoint);
	fs_options_free(&ctx.opts);
	return rc ? 1 : 0;

err_out6:
	fuse_remove_signal_handlers(ctx.se);
err_out5:
	fuse_session_destroy(ctx.se);
err_out4:
	fuse_opt_free_args(&args);
err_out3:
	fs_view_destroy(&ctx);
	store_txn_abort(ctx.snapshot);
	store_close(ctx.store);
err_out2:
	fs_itab_destroy(&ctx.itab);
err_out1:
	fs_options_free(&ctx.opts);
	return 1;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "help";

	if (strcmp(cmd, "mount") == 0)
		return cmd_mount(argc - 2, argv + 2);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 2, argv + 2);
	if (strcmp(cmd, "backup") == 0)
		return cmd_backup(argc - 2, argv + 2);
	if (strcmp(cmd, "restore") == 0)
		return cmd_restore(argc - 2, argv + 2);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(argc - 2, argv + 2);
	if (strcmp(cmd, "txn") == 0)
		return cmd_txn(argc - 2, argv + 2);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("itemfs %s (libfuse %d.%d, store format %u)\n", ITEMFS_VERSION,
		       fuse_version() / 100, fuse_version() % 100, STORE_FORMAT_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fs_usage(stdout);
		return argc > 1 ? 0 : 2;
	}
	fprintf(stderr, "itemfs: unknown command '%s'\n", cmd);
	fs_usage(stderr);
	return 2;
}
