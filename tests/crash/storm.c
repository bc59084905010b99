/*
 * storm.c - the writer storm of the crash tests: worker processes that
 * create, overwrite, append to, rename, exchange, delete and set xattrs on
 * their own items in a mounted itemfs, fsync a random subset of what they
 * do, and log every step to local disk so that stormverify (verify.c) can
 * tell, after a crash, what must be there and what may be. Names, the item
 * format and the log lines are described in storm.h.
 *
 *   storm run MNT LOGDIR [--workers N] [--slots N] [--seed S] [--fsync-pct P]
 *             [--max-rec BYTES] [--max-item BYTES] [--duration-ms MS]
 *             [--signal-pid PID --signal KILL|TERM|INT --after-ms MS]
 *   storm now     (prints CLOCK_MONOTONIC in nanoseconds)
 *
 * run creates the tables and the workers' directories and fsyncs them,
 * then starts the workers. With --signal-pid it sends the signal to that
 * process (the daemon) MS milliseconds later, logging the moment; after
 * SIGKILL it kills the workers at once, after other signals it lets them
 * run into the errors of the dead mount. Otherwise the workers stop after
 * --duration-ms. Exit: 0; 1 when a worker failed without a signal (its
 * log says how); 2 for usage or setup errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "storm.h"

struct config {
	const char *mnt, *logdir;
	int workers, slots;
	unsigned long long seed;
	int fsync_pct;		    /* -1: each worker picks its own */
	uint32_t max_rec, max_item; /* longest record; appends keep an item below max_item */
	long duration_ms, after_ms;
	pid_t signal_pid;
	int signal;
};

struct worker {
	const struct config *cfg;
	int id, logfd, mntfd, fsync_pct;
	uint64_t rng;
	uint32_t opno, next_obj;
	struct storm_model model;
	unsigned char *buf;
};

static uint64_t rnd(struct worker *w)
{
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(struct worker *w, uint32_t n)
{
	return n ? (uint32_t)(rnd(w) % n) : 0;
}

/* Appends one line to fd (one write, so lines never interleave). */
static void log_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_line(int fd, const char *fmt, ...)
{
	char line[STORM_DESC_MAX * 2 + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(fd, line, (size_t)n) != n) {
		perror("storm: log write");
		_exit(2);
	}
}

static void __attribute__((noreturn)) worker_fail(struct worker *w, const char *what)
{
	int e = errno;

	log_line(w->logfd, "E %u %llu %s %s", w->opno, (unsigned long long)storm_now_ns(), what,
		 strerrorname_np(e) ? strerrorname_np(e) : "E?");
	fsync(w->logfd);
	_exit(3);
}

static uint32_t rec_len(struct worker *w)
{
	uint32_t r = rnd_below(w, 100), max = w->cfg->max_rec, len;

	if (r < 60)
		len = STORM_REC_MIN + rnd_below(w, 2000);
	else if (r < 90)
		len = 2000 + rnd_below(w, max / 8 + 1);
	else
		len = rnd_below(w, max + 1);
	if (len < STORM_REC_MIN)
		len = STORM_REC_MIN;
	return len > max ? max : len;
}

/* A random slot that is present (want 1) or absent (want 0); -1 if none. */
static int pick_slot(struct worker *w, int want)
{
	int n = w->cfg->slots, start = (int)rnd_below(w, (uint32_t)n);

	for (int i = 0; i < n; i++) {
		int s = (start + i) % n;
		if ((w->model.items[s] != NULL) == want)
			return s;
	}
	return -1;
}

/* Chooses the next operation, one that the model allows. */
static void choose_op(struct worker *w, struct storm_op *op)
{
	static const int base[STORM_NKINDS] = {20, 20, 15, 10, 3, 8, 12, 3};
	int weight[STORM_NKINDS], total = 0, present = 0;

	for (int s = 0; s < w->cfg->slots; s++)
		present += w->model.items[s] != NULL;
	memcpy(weight, base, sizeof(weight));
	if (present * 10 > w->cfg->slots * 7)
		weight[STORM_DELETE] *= 4;
	if (present * 10 < w->cfg->slots * 3)
		weight[STORM_CREATE] *= 4;
	for (int k = 0; k < STORM_NKINDS; k++)
		total += weight[k];
	memset(op, 0, sizeof(*op));
	op->opno = ++w->opno;
	op->b = -1;
	for (int tries = 0;; tries++) {
		int r = (int)rnd_below(w, (uint32_t)total), k = 0;
		struct storm_item *it;

		while (r >= weight[k])
			r -= weight[k++];
		op->kind = (enum storm_kind)k;
		if (tries > 20 || op->kind == STORM_CREATE) {
			op->a = pick_slot(w, 0);
			if (op->a >= 0) {
				op->kind = STORM_CREATE;
				op->obj = ++w->next_obj;
				op->len = rec_len(w);
				return;
			}
			if (tries > 20) {
				op->kind = STORM_OVERWRITE;
				op->a = pick_slot(w, 1);
				op->len = rec_len(w);
				return;
			}
			continue;
		}
		op->a = pick_slot(w, 1);
		if (op->a < 0)
			continue;
		it = w->model.items[op->a];
		switch (op->kind) {
		case STORM_OVERWRITE:
			op->len = rec_len(w);
			return;
		case STORM_APPEND:
			op->len = rec_len(w);
			if (it->size + op->len <= w->cfg->max_item && it->nrec < 40)
				return;
			break;
		case STORM_RENAME:
			op->b = (int)rnd_below(w, (uint32_t)w->cfg->slots);
			if (op->b != op->a)
				return;
			break;
		case STORM_EXCHANGE:
			op->b = pick_slot(w, 1);
			if (op->b >= 0 && op->b != op->a)
				return;
			break;
		case STORM_DELETE:
			return;
		case STORM_SETXATTR: {
			int len = snprintf(op->val, sizeof(op->val), "w%do%us%u", w->id, it->obj,
					   op->opno);
			int pad = (int)rnd_below(w, 90);
			op->k = (int)rnd_below(w, STORM_XATTRS);
			for (int i = 0; i < pad && len < STORM_XATTR_MAX; i++)
				op->val[len++] = "abcdefghij."[rnd_below(w, 11)];
			op->val[len] = '\0';
			return;
		}
		case STORM_RMXATTR:
			op->k = (int)rnd_below(w, STORM_XATTRS);
			if (it->x[op->k])
				return;
			break;
		default:
			break;
		}
	}
}

static void slot_path(const struct worker *w, int slot, char *buf, size_t n)
{
	storm_slot_path(buf, n, w->id, slot);
}

/* Logs the ack of op: the fsync ran from t0 to t1. */
static void log_ack(struct worker *w, const struct storm_op *op, uint64_t t0, uint64_t t1,
		    const char *how)
{
	char d1[STORM_DESC_MAX], d2[STORM_DESC_MAX + 160] = "", p1[128], p2[128];

	storm_model_desc(&w->model, op->a, d1, sizeof(d1));
	slot_path(w, op->a, p1, sizeof(p1));
	if (op->b >= 0) {
		char tmp[STORM_DESC_MAX];
		storm_model_desc(&w->model, op->b, tmp, sizeof(tmp));
		slot_path(w, op->b, p2, sizeof(p2));
		snprintf(d2, sizeof(d2), " %d@%s=%s", op->b, p2, tmp);
	}
	log_line(w->logfd, "A %u %llu %llu %s %d@%s=%s%s", op->opno, (unsigned long long)t0,
		 (unsigned long long)t1, how, op->a, p1, d1, d2);
	if (fsync(w->logfd) != 0) {
		perror("storm: fsync of the log");
		_exit(2);
	}
}

/* fsync of fd: fdatasync when data is set. Logs the ack on success. */
static void sync_fd(struct worker *w, const struct storm_op *op, int fd, bool data, const char *how)
{
	uint64_t t0 = storm_now_ns(), t1;

	if ((data ? fdatasync(fd) : fsync(fd)) != 0)
		worker_fail(w, how);
	t1 = storm_now_ns();
	log_ack(w, op, t0, t1, how);
}

/* After op: opens a path (an item, or a directory) and fsyncs it. */
static void sync_path(struct worker *w, const struct storm_op *op, const char *path, bool dir)
{
	int fd = openat(w->mntfd, path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));

	if (fd < 0)
		worker_fail(w, dir ? "open-dir-for-fsync" : "open-for-fsync");
	sync_fd(w, op, fd, false, dir ? "dir" : "file");
	if (close(fd) != 0)
		worker_fail(w, "close-after-fsync");
}

/* create, overwrite, append: open, write the record in pieces, close. */
static void do_write_op(struct worker *w, const struct storm_op *op, int sync_how)
{
	static const int oflags[] = {
	    [STORM_CREATE] = O_CREAT | O_EXCL,
	    [STORM_OVERWRITE] = O_TRUNC,
	    [STORM_APPEND] = O_APPEND,
	};
	char path[128];
	uint32_t obj = op->kind == STORM_CREATE ? op->obj : w->model.items[op->a]->obj;
	size_t done = 0;
	int fd;

	slot_path(w, op->a, path, sizeof(path));
	storm_rec_build(w->buf, (unsigned)w->id, obj, op->opno, op->len);
	fd = openat(w->mntfd, path, O_WRONLY | O_CLOEXEC | oflags[op->kind], 0644);
	if (fd < 0)
		worker_fail(w, "open");
	while (done < op->len) {
		size_t n = 1 + rnd_below(w, rnd_below(w, 4) ? 4096 : 65536);
		ssize_t r;
		if (n > op->len - done)
			n = op->len - done;
		r = write(fd, w->buf + done, n);
		if (r <= 0)
			worker_fail(w, "write");
		done += (size_t)r;
	}
	if (sync_how == 1 || sync_how == 2)
		sync_fd(w, op, fd, sync_how == 2, sync_how == 2 ? "fdatasync" : "fsync");
	if (close(fd) != 0)
		worker_fail(w, "close");
}

static void do_op(struct worker *w, const struct storm_op *op, bool sync)
{
	char pa[128], pb[128], dir[64];
	int how = 0; /* 1 fsync, 2 fdatasync (before close), 3 file, 4 dir (after) */

	if (sync) {
		bool data = op->kind <= STORM_APPEND;
		how = data ? 1 + (int)rnd_below(w, 4) : 3 + (int)rnd_below(w, 2);
		if (how == 3 && op->kind == STORM_DELETE)
			how = 4;
	}
	slot_path(w, op->a, pa, sizeof(pa));
	if (op->b >= 0)
		slot_path(w, op->b, pb, sizeof(pb));
	switch (op->kind) {
	case STORM_CREATE:
	case STORM_OVERWRITE:
	case STORM_APPEND:
		do_write_op(w, op, how);
		break;
	case STORM_RENAME:
		if (renameat(w->mntfd, pa, w->mntfd, pb) != 0)
			worker_fail(w, "rename");
		break;
	case STORM_EXCHANGE:
		if (renameat2(w->mntfd, pa, w->mntfd, pb, RENAME_EXCHANGE) != 0)
			worker_fail(w, "renameat2-exchange");
		break;
	case STORM_DELETE:
		if (unlinkat(w->mntfd, pa, 0) != 0)
			worker_fail(w, "unlink");
		break;
	case STORM_SETXATTR:
	case STORM_RMXATTR: {
		char name[16], full[256];
		snprintf(name, sizeof(name), "user.k%d", op->k);
		/* Through the descriptor: never the directory under a mount that went away. */
		snprintf(full, sizeof(full), "/proc/self/fd/%d/%s", w->mntfd, pa);
		if (op->kind == STORM_SETXATTR
			? setxattr(full, name, op->val, strlen(op->val), 0) != 0
			: removexattr(full, name) != 0)
			worker_fail(w, storm_kind_name(op->kind));
		break;
	}
	default:
		break;
	}
	log_line(w->logfd, "D %u %llu", op->opno, (unsigned long long)storm_now_ns());
	if (how == 3) {
		int s = op->kind == STORM_RENAME ? op->b : op->a;
		slot_path(w, s, pa, sizeof(pa));
		sync_path(w, op, pa, false);
	} else if (how == 4) {
		storm_dir_path(dir, sizeof(dir), w->id, (op->b >= 0 ? op->b : op->a) % STORM_DIRS);
		sync_path(w, op, dir, true);
	}
}

static void __attribute__((noreturn))
worker_main(const struct config *cfg, int id, int logfd, uint64_t deadline)
{
	struct worker w;

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.id = id;
	w.rng = cfg->seed * 1000003u + (uint64_t)id * 7919u + 1;
	w.model.nslots = cfg->slots;
	w.fsync_pct = cfg->fsync_pct >= 0 ? cfg->fsync_pct : (int)rnd_below(&w, 60);
	w.logfd = logfd;
	w.mntfd = open(cfg->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	w.buf = malloc(cfg->max_rec);
	if (w.logfd < 0 || w.mntfd < 0 || !w.buf) {
		perror("storm: worker setup");
		_exit(2);
	}
	while (storm_now_ns() < deadline) {
		struct storm_op op;
		char args[STORM_DESC_MAX];
		int changed[2];

		choose_op(&w, &op);
		op.t = storm_now_ns();
		storm_op_format(&op, args, sizeof(args));
		log_line(w.logfd, "I %u %llu %s", op.opno, (unsigned long long)op.t, args);
		bool sync = (int)rnd_below(&w, 100) < w.fsync_pct;
		/* The model goes first: an ack made inside the operation names the state after it.
		 */
		for (int st = 0; st < storm_op_steps(op.kind); st++) {
			if (storm_model_apply(&w.model, &op, st, changed) < 0) {
				fprintf(stderr, "storm: worker %d: model refused op %u\n", id,
					op.opno);
				_exit(2);
			}
		}
		do_op(&w, &op, sync);
	}
	storm_model_free(&w.model);
	free(w.buf);
	close(w.mntfd);
	close(w.logfd);
	_exit(0);
}

static int mkdir_sync(int rootfd, const char *path)
{
	if (mkdirat(rootfd, path, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "storm: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int fsync_dir(int rootfd, const char *path)
{
	int fd = openat(rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Creates and fsyncs the tables and every worker's directories. */
static int setup(const struct config *cfg, int runlog)
{
	char p[128];
	int rootfd = open(cfg->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = -1;
	uint64_t t0;

	if (rootfd < 0) {
		fprintf(stderr, "storm: %s: %s\n", cfg->mnt, strerror(errno));
		return -1;
	}
	log_line(runlog, "B %llu %d %d", (unsigned long long)storm_now_ns(), cfg->workers,
		 cfg->slots);
	for (int t = 0; t < STORM_TABLES; t++) {
		storm_table_path(p, sizeof(p), t);
		if (mkdir_sync(rootfd, p))
			goto out;
	}
	for (int w = 0; w < cfg->workers; w++)
		for (int d = 0; d < STORM_DIRS; d++) {
			storm_dir_path(p, sizeof(p), w, d);
			if (mkdir_sync(rootfd, p))
				goto out;
		}
	for (int w = 0; w < cfg->workers; w++)
		for (int d = STORM_DIRS - 1; d >= 0; d--) {
			storm_dir_path(p, sizeof(p), w, d);
			if (fsync_dir(rootfd, p))
				goto out_sync;
		}
	for (int t = 0; t < STORM_TABLES; t++) {
		storm_table_path(p, sizeof(p), t);
		if (fsync_dir(rootfd, p))
			goto out_sync;
	}
	t0 = storm_now_ns();
	if (fsync(rootfd) != 0)
		goto out_sync;
	log_line(runlog, "R %llu %llu", (unsigned long long)t0, (unsigned long long)storm_now_ns());
	rc = 0;
	goto out;
out_sync:
	fprintf(stderr, "storm: fsync of %s: %s\n", p, strerror(errno));
out:
	close(rootfd);
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int usage(void)
{
	fputs("usage: storm run MNT LOGDIR [--workers N] [--slots N] [--seed S]\n"
	      "                 [--fsync-pct P] [--max-rec BYTES] [--max-item BYTES]\n"
	      "                 [--duration-ms MS]\n"
	      "                 [--signal-pid PID --signal KILL|TERM|INT --after-ms MS]\n"
	      "       storm now\n",
	      stderr);
	return 2;
}

static int parse_signal(const char *s)
{
	if (strcmp(s, "KILL") == 0)
		return SIGKILL;
	if (strcmp(s, "TERM") == 0)
		return SIGTERM;
	if (strcmp(s, "INT") == 0)
		return SIGINT;
	return -1;
}

static int parse_args(int argc, char **argv, struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->workers = 4;
	c->slots = 50;
	c->seed = 1;
	c->fsync_pct = 20;
	c->max_rec = 120000;
	c->max_item = STORM_DATA_MAX;
	c->duration_ms = 2000;
	c->signal = SIGKILL;
	if (argc < 2)
		return -1;
	c->mnt = argv[0];
	c->logdir = argv[1];
	for (int i = 2; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return -1;
		if (strcmp(o, "--workers") == 0)
			c->workers = atoi(v);
		else if (strcmp(o, "--slots") == 0)
			c->slots = atoi(v);
		else if (strcmp(o, "--seed") == 0)
			c->seed = strtoull(v, NULL, 0);
		else if (strcmp(o, "--fsync-pct") == 0)
			c->fsync_pct = atoi(v);
		else if (strcmp(o, "--max-rec") == 0)
			c->max_rec = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(o, "--max-item") == 0)
			c->max_item = (uint32_t)strtoul(v, NULL, 0);
		else if (strcmp(o, "--duration-ms") == 0)
			c->duration_ms = atol(v);
		else if (strcmp(o, "--after-ms") == 0)
			c->after_ms = atol(v);
		else if (strcmp(o, "--signal-pid") == 0)
			c->signal_pid = (pid_t)atol(v);
		else if (strcmp(o, "--signal") == 0)
			c->signal = parse_signal(v);
		else
			return -1;
	}
	if (c->workers < 1 || c->workers > STORM_MAX_WORKERS || c->slots < 2 ||
	    c->slots > STORM_MAX_SLOTS || c->fsync_pct > 100 || c->signal < 0 ||
	    c->max_rec < STORM_REC_MIN || c->max_item > STORM_DATA_MAX || c->max_rec > c->max_item)
		return -1;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct config cfg;
	pid_t pids[STORM_MAX_WORKERS];
	int logs[STORM_MAX_WORKERS];
	char path[512];
	int runlog, status, rc = 0;
	uint64_t deadline;

	if (parse_args(argc, argv, &cfg))
		return usage();
	snprintf(path, sizeof(path), "%s/run.log", cfg.logdir);
	runlog = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (runlog < 0) {
		fprintf(stderr, "storm: %s: %s\n", path, strerror(errno));
		return 2;
	}
	/* Every worker's log exists before any runs: one killed before its first step has one. */
	for (int i = 0; i < cfg.workers; i++) {
		snprintf(path, sizeof(path), "%s/w%d.log", cfg.logdir, i);
		logs[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (logs[i] < 0) {
			fprintf(stderr, "storm: %s: %s\n", path, strerror(errno));
			return 2;
		}
	}
	if (setup(&cfg, runlog)) {
		close(runlog);
		return 2;
	}
	/* Workers in signal mode run until stopped; a cap keeps a lost one from running on. */
	deadline =
	    storm_now_ns() + (uint64_t)(cfg.signal_pid ? 120000 : cfg.duration_ms) * 1000000u;
	for (int i = 0; i < cfg.workers; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("storm: fork");
			for (int j = 0; j < i; j++)
				kill(pids[j], SIGKILL);
			rc = 2;
			cfg.workers = i;
			break;
		}
		if (pids[i] == 0)
			worker_main(&cfg, i, logs[i], deadline);
	}
	for (int i = 0; i < cfg.workers; i++)
		close(logs[i]);
	if (rc == 0 && cfg.signal_pid) {
		uint64_t t;
		sleep_ms(cfg.after_ms);
		t = storm_now_ns();
		if (kill(cfg.signal_pid, cfg.signal) != 0) {
			fprintf(stderr, "storm: kill %d: %s\n", (int)cfg.signal_pid,
				strerror(errno));
			rc = 2;
		}
		if (cfg.signal == SIGKILL)
			for (int i = 0; i < cfg.workers; i++)
				kill(pids[i], SIGKILL);
		log_line(runlog, "K %llu %s", (unsigned long long)t, strsignal(cfg.signal));
	}
	for (int i = 0; i < cfg.workers; i++) {
		if (waitpid(pids[i], &status, 0) < 0)
			continue;
		if (cfg.signal_pid == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			fprintf(stderr, "storm: worker %d failed (status 0x%x); see w%d.log\n", i,
				status, i);
			rc = rc ? rc : 1;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
			rc = 2;
	}
	close(runlog);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "now") == 0) {
		printf("%llu\n", (unsigned long long)storm_now_ns());
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	return usage();
}
