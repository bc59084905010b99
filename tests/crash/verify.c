/*
 * verify.c - stormverify: after a crash, checks a mounted itemfs against
 * the logs of the writer storm (storm.c; formats in storm.h).
 *
 *   stormverify MNT LOGDIR [--acks-before NS] [--window NS --window-end NS]
 *               [--intents-before NS] [--all-done] [-v]
 *
 * What must hold (docs/durability.md states the contract):
 *  1. Every entry is one the storm made: tables t0..t2, the workers'
 *     directories, and items named as their slots in their slot's directory.
 *  2. Every item is one complete version: its bytes parse as whole records
 *     of its owner (header, body and checksum), all of one object, and
 *     fstat's size is the number of bytes read. Its xattrs are user.k0..k2.
 *  3. For each worker, the items and xattrs of all its slots together are
 *     exactly the state after some prefix of its operations, counted in
 *     steps (a create is two: the empty item open(O_CREAT) makes, then its
 *     data; every other operation one), that
 *      - includes every operation an fsync acknowledged: the worker's own
 *        acks, and every operation (of any worker) that returned before an
 *        acknowledged fsync (of any worker) was called, because an fsync
 *        covers every change acknowledged before it;
 *      - includes every operation that returned more than NS (--window)
 *        before --window-end (the bounded loss window: commit_interval plus
 *        a margin);
 *      - includes every operation that returned, with --all-done (a clean
 *        unmount or SIGTERM/SIGINT);
 *      - includes no operation whose intent was logged at or after
 *        --intents-before (it cannot have reached the store).
 *     Only acks that returned before --acks-before count (a simulated power
 *     loss at that instant; default: all of them).
 *  4. No operation failed before the crash (the run log's K line), and the
 *     storm's own acks agree with the model (else the tools are broken: 2).
 * Exit: 0 all hold; 1 a violation (each printed); 2 usage or internal error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "storm.h"

#define NEVER UINT64_MAX

struct vack {
	uint32_t opno;
	uint64_t t0, t1;
	char *slots; /* "SLOT=DESC SLOT=DESC" as logged */
};

struct vop {
	struct storm_op op;
	uint64_t t_done; /* 0: never returned */
	int first_step;
};

struct change {
	int slot;
	char *desc;
};

struct vworker {
	struct vop *ops;
	int nops, capops;
	struct vack *acks;
	int nacks, capacks;
	char *actual[STORM_MAX_SLOTS]; /* desc of what the mount holds */
	struct change *changes;	       /* changes[i]: step (i / 2), entry (i % 2) */
	int *nchanges;		       /* per step */
	int nsteps;
};

struct opts {
	const char *mnt, *logdir;
	uint64_t acks_before, window, window_end, intents_before;
	bool all_done, verbose;
};

static int violations;
static long lost_steps; /* attempted steps the store does not hold (allowed) */
static int nworkers, nslots;
static struct vworker workers[STORM_MAX_WORKERS];
static uint64_t kill_time = NEVER, setup_t1 = NEVER;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void violation(const char *fmt, ...)
{
	va_list ap;

	violations++;
	if (violations > 40)
		return;
	fputs("VIOLATION: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void __attribute__((noreturn)) internal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void internal(const char *fmt, ...)
{
	va_list ap;

	fputs("stormverify: internal error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		internal("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		internal("out of memory");
	return d;
}

static uint64_t parse_time(const char *s)
{
	return strcmp(s, "inf") == 0 ? NEVER : strtoull(s, NULL, 10);
}

/* ---- logs -------------------------------------------------------------- */

static void read_runlog(const char *logdir)
{
	char path[512], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/run.log", logdir);
	f = fopen(path, "r");
	if (!f)
		internal("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		int nw;
		if (sscanf(line, "B %llu %d", &a, &nw) == 2 && nw > 0 && nw <= STORM_MAX_WORKERS)
			nworkers = nw;
		else if (sscanf(line, "R %llu %llu", &a, &b) == 2)
			setup_t1 = b;
		else if (sscanf(line, "K %llu", &a) == 1)
			kill_time = a;
	}
	fclose(f);
}

static void read_worker_log(const char *logdir, int id, struct vworker *w)
{
	char path[512], *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/w%d.log", logdir, id);
	f = fopen(path, "r");
	if (!f)
		internal("%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		unsigned opno;
		unsigned long long t, t1;
		int used = 0;
		char how[32], what[64], err[64];

		if (!strchr(line, '\n'))
			break; /* the last line, cut short by a SIGKILL: never acted on */
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "I %u %llu %n", &opno, &t, &used) == 2 && used > 0) {
			struct vop *v;
			if (opno != (unsigned)w->nops + 1)
				internal("%s: intent of op %u after op %d", path, opno, w->nops);
			if (w->nops == w->capops) {
				w->capops = w->capops ? w->capops * 2 : 256;
				w->ops = xrealloc(w->ops, (size_t)w->capops * sizeof(*w->ops));
			}
			v = &w->ops[w->nops++];
			memset(v, 0, sizeof(*v));
			if (storm_op_parse(line + used, &v->op))
				internal("%s: bad intent line '%s'", path, line);
			v->op.opno = opno;
			v->op.t = t;
		} else if (sscanf(line, "D %u %llu", &opno, &t) == 2) {
			if (opno < 1 || (int)opno > w->nops)
				internal("%s: done line for unknown op %u", path, opno);
			w->ops[opno - 1].t_done = t;
		} else if (sscanf(line, "A %u %llu %llu %31s %n", &opno, &t, &t1, how, &used) ==
			       4 &&
			   used > 0) {
			struct vack *a;
			if (w->nacks == w->capacks) {
				w->capacks = w->capacks ? w->capacks * 2 : 64;
				w->acks = xrealloc(w->acks, (size_t)w->capacks * sizeof(*w->acks));
			}
			a = &w->acks[w->nacks++];
			a->opno = opno;
			a->t0 = t;
			a->t1 = t1;
			a->slots = xstrdup(line + used);
		} else if (sscanf(line, "E %u %llu %63s %63s", &opno, &t, what, err) == 4) {
			if (t < kill_time)
				violation("worker %d: op %u: %s failed with %s%s", id, opno, what,
					  err, kill_time == NEVER ? "" : ", before the crash");
		} else if (line[0] != '\0') {
			internal("%s: unreadable line '%s'", path, line);
		}
	}
	free(line);
	fclose(f);
}

/* ---- the model's states ------------------------------------------------ */

/* Runs the worker's operations through the model, recording each step's changes. */
static void simulate(int id, struct vworker *w)
{
	struct storm_model m;
	int steps = 0, a = 0;

	memset(&m, 0, sizeof(m));
	m.nslots = nslots;
	for (int i = 0; i < w->nops; i++)
		steps += storm_op_steps(w->ops[i].op.kind);
	w->changes = xrealloc(NULL, (size_t)(steps ? steps : 1) * 2 * sizeof(*w->changes));
	w->nchanges = xrealloc(NULL, (size_t)(steps ? steps : 1) * sizeof(*w->nchanges));
	for (int i = 0; i < w->nops; i++) {
		struct vop *v = &w->ops[i];
		v->first_step = w->nsteps;
		for (int st = 0; st < storm_op_steps(v->op.kind); st++) {
			int changed[2], n = storm_model_apply(&m, &v->op, st, changed);
			char d[STORM_DESC_MAX];
			if (n < 0)
				internal("worker %d: op %u does not fit the model", id, v->op.opno);
			for (int c = 0; c < n; c++) {
				storm_model_desc(&m, changed[c], d, sizeof(d));
				w->changes[w->nsteps * 2 + c].slot = changed[c];
				w->changes[w->nsteps * 2 + c].desc = xstrdup(d);
			}
			w->nchanges[w->nsteps++] = n;
		}
		/* The storm's acks name the state after their operation: they must agree. */
		for (; a < w->nacks && w->acks[a].opno == v->op.opno; a++) {
			char *save = NULL, *copy = xstrdup(w->acks[a].slots);
			for (char *tok = strtok_r(copy, " ", &save); tok;
			     tok = strtok_r(NULL, " ", &save)) {
				char d[STORM_DESC_MAX], *eq = strchr(tok, '=');
				int s = atoi(tok);
				if (!eq || s < 0 || s >= nslots)
					internal("worker %d: bad ack '%s'", id, w->acks[a].slots);
				storm_model_desc(&m, s, d, sizeof(d));
				if (strcmp(d, eq + 1) != 0)
					internal("worker %d: op %u: ack says slot %d is %s, model "
						 "says %s",
						 id, v->op.opno, s, eq + 1, d);
			}
			free(copy);
		}
	}
	if (a != w->nacks)
		internal("worker %d: ack of op %u out of order or of an unknown op", id,
			 w->acks[a].opno);
	storm_model_free(&m);
}

/* ---- what the mount holds ---------------------------------------------- */

static bool is_slot_name(const char *name, int id, int dir, int *slot)
{
	char expect[32];
	int s;

	if (sscanf(name, "w%*d-%d", &s) != 1 || s < 0 || s >= nslots || s % STORM_DIRS != dir)
		return false;
	storm_slot_name(expect, sizeof(expect), id, s);
	if (strcmp(expect, name) != 0)
		return false;
	*slot = s;
	return true;
}

/* Reads the item at path (worker id's slot) into a desc; violations for torn ones. */
static char *read_item(const char *mnt, const char *rel, int id)
{
	char path[1024], why[256], desc[STORM_DESC_MAX], names[1024];
	unsigned char *data = NULL;
	size_t len = 0, cap = 0, off = 0, o = 0;
	uint32_t obj0 = 0;
	struct stat st;
	ssize_t r, nl;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", mnt, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		violation("%s: cannot open: %s", rel, strerror(errno));
		if (fd >= 0)
			close(fd);
		return xstrdup("unreadable");
	}
	for (;;) {
		if (len == cap)
			data = xrealloc(data, cap = cap ? cap * 2 : 65536);
		r = read(fd, data + len, cap - len);
		if (r < 0) {
			violation("%s: read at %zu: %s", rel, len, strerror(errno));
			goto bad;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if ((uint64_t)st.st_size != len) {
		violation("%s: fstat says %lld bytes, read gave %zu", rel, (long long)st.st_size,
			  len);
		goto bad;
	}
	if (len == 0)
		o += (size_t)snprintf(desc, sizeof(desc), "-");
	while (off < len) {
		unsigned wk;
		uint32_t obj, seq, rl;
		if (storm_rec_parse(data + off, len - off, &wk, &obj, &seq, &rl, why,
				    sizeof(why))) {
			violation("%s: torn or corrupt item: at byte %zu of %zu: %s", rel, off, len,
				  why);
			goto bad;
		}
		if ((int)wk != id || (off > 0 && obj != obj0)) {
			violation(
			    "%s: mixed item: record at byte %zu is w%u o%u, the item is w%d o%u",
			    rel, off, wk, obj, id, off ? obj0 : obj);
			goto bad;
		}
		if (off == 0) {
			obj0 = obj;
			o += (size_t)snprintf(desc, sizeof(desc), "o%u:", obj);
		}
		if (o < sizeof(desc))
			o += (size_t)snprintf(desc + o, sizeof(desc) - o, "%s%u/%u", off ? "+" : "",
					      seq, rl);
		off += rl;
	}
	nl = flistxattr(fd, names, sizeof(names));
	if (nl < 0) {
		violation("%s: listxattr: %s", rel, strerror(errno));
		goto bad;
	}
	for (int k = 0; k < STORM_XATTRS; k++) {
		char name[16], val[STORM_XATTR_MAX + 2];
		bool found = false;
		snprintf(name, sizeof(name), "user.k%d", k);
		for (ssize_t p = 0; p < nl; p += (ssize_t)strlen(names + p) + 1)
			found |= strcmp(names + p, name) == 0;
		if (!found)
			continue;
		r = fgetxattr(fd, name, val, sizeof(val) - 1);
		if (r < 0) {
			violation("%s: getxattr %s: %s", rel, name, strerror(errno));
			goto bad;
		}
		val[r] = '\0';
		if (o < sizeof(desc))
			o += (size_t)snprintf(desc + o, sizeof(desc) - o, ";k%d=%s", k, val);
	}
	for (ssize_t p = 0; p < nl; p += (ssize_t)strlen(names + p) + 1)
		if (strncmp(names + p, "user.k", 6) != 0 || names[p + 6] < '0' ||
		    names[p + 6] >= '0' + STORM_XATTRS || names[p + 7] != '\0')
			violation("%s: unexpected xattr '%s'", rel, names + p);
	free(data);
	close(fd);
	return xstrdup(desc);
bad:
	free(data);
	close(fd);
	return xstrdup("torn");
}

/* Lists dir (relative to mnt); calls back for each entry; false if absent. */
static bool list_dir(const struct opts *o, const char *rel, bool required,
		     void (*fn)(const struct opts *, const char *, const char *, unsigned char,
				void *),
		     void *arg)
{
	char path[1024];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s%s%s", o->mnt, *rel ? "/" : "", rel);
	d = opendir(path);
	if (!d) {
		if (errno != ENOENT || required)
			violation("%s: cannot list: %s", *rel ? rel : "/", strerror(errno));
		return false;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			fn(o, rel, de->d_name, de->d_type, arg);
		errno = 0;
	}
	if (errno)
		violation("%s: readdir: %s", *rel ? rel : "/", strerror(errno));
	closedir(d);
	return true;
}

struct dirarg {
	int worker, dir;
};

static void on_worker_dir_entry(const struct opts *o, const char *rel, const char *name,
				unsigned char type, void *arg)
{
	const struct dirarg *da = arg;
	char p[512];
	int slot;

	snprintf(p, sizeof(p), "%s/%s", rel, name);
	if (da->dir < STORM_TABLES && strcmp(name, "sub") == 0 && type == DT_DIR)
		return; /* listed on its own */
	if (type != DT_REG || !is_slot_name(name, da->worker, da->dir, &slot)) {
		violation("%s: unexpected entry (type %u)", p, type);
		return;
	}
	workers[da->worker].actual[slot] = read_item(o->mnt, p, da->worker);
}

static void on_table_entry(const struct opts *o, const char *rel, const char *name,
			   unsigned char type, void *arg)
{
	int id = -1, n = 0;

	(void)o;
	(void)arg;
	if (type != DT_DIR || sscanf(name, "w%d%n", &id, &n) != 1 || name[n] != '\0' || id < 0 ||
	    id >= nworkers)
		violation("%s/%s: unexpected entry (type %u)", rel, name, type);
}

static void on_root_entry(const struct opts *o, const char *rel, const char *name,
			  unsigned char type, void *arg)
{
	(void)o;
	(void)rel;
	(void)arg;
	if (type != DT_DIR || strlen(name) != 2 || name[0] != 't' || name[1] < '0' ||
	    name[1] >= '0' + STORM_TABLES)
		violation("/%s: unexpected entry (type %u)", name, type);
}

static void walk(const struct opts *o)
{
	bool required = setup_t1 < o->acks_before;
	char p[128];

	list_dir(o, "", true, on_root_entry, NULL);
	for (int t = 0; t < STORM_TABLES; t++) {
		storm_table_path(p, sizeof(p), t);
		list_dir(o, p, required, on_table_entry, NULL);
	}
	for (int w = 0; w < nworkers; w++)
		for (int d = 0; d < STORM_DIRS; d++) {
			struct dirarg da = {w, d};
			storm_dir_path(p, sizeof(p), w, d);
			list_dir(o, p, required, on_worker_dir_entry, &da);
		}
}

/* ---- the check --------------------------------------------------------- */

static const char *actual_of(const struct vworker *w, int s)
{
	return w->actual[s] ? w->actual[s] : "absent";
}

/* The steps through op index i (0-based), or 0 for i < 0. */
static int steps_through(const struct vworker *w, int i)
{
	return i < 0 ? 0 : w->ops[i].first_step + storm_op_steps(w->ops[i].op.kind);
}

static void explain(int id, const struct vworker *w, int need, int upto)
{
	const char **state = calloc((size_t)nslots, sizeof(*state));
	int per_slot_bad = 0;

	if (!state)
		internal("out of memory");
	for (int s = 0; s < nslots; s++)
		state[s] = "absent";
	for (int j = 0; j < need; j++)
		for (int c = 0; c < w->nchanges[j]; c++)
			state[w->changes[j * 2 + c].slot] = w->changes[j * 2 + c].desc;
	for (int s = 0; s < nslots; s++) {
		const char *act = actual_of(w, s);
		bool ok = strcmp(act, state[s]) == 0;
		char path[128];
		for (int j = need; j < upto && !ok; j++)
			for (int c = 0; c < w->nchanges[j]; c++)
				if (w->changes[j * 2 + c].slot == s &&
				    strcmp(w->changes[j * 2 + c].desc, act) == 0)
					ok = true;
		if (ok)
			continue;
		per_slot_bad++;
		storm_slot_path(path, sizeof(path), id, s);
		violation("worker %d slot %d (%s): holds %s; the acknowledged state is %s", id, s,
			  path, act, state[s]);
		printf("    later states it may hold instead (steps %d..%d):", need + 1, upto);
		for (int j = need; j < upto; j++)
			for (int c = 0; c < w->nchanges[j]; c++)
				if (w->changes[j * 2 + c].slot == s)
					printf(" [%d] %s", j + 1, w->changes[j * 2 + c].desc);
		printf("\n");
	}
	if (per_slot_bad == 0)
		violation("worker %d: each item is a state it may hold, but no single point in the "
			  "worker's operations (steps %d..%d) explains all of them together: the "
			  "crash kept a later change and lost an earlier one",
			  id, need, upto);
	free(state);
}

static void check_worker(int id, struct vworker *w, const struct opts *o, uint64_t barrier)
{
	int need_op = -1, upto_op = -1, need, upto, mism = 0, best = -1;
	const char **cur = calloc((size_t)nslots, sizeof(*cur));

	if (!cur)
		internal("out of memory");
	for (int i = 0; i < w->nops; i++) {
		const struct vop *v = &w->ops[i];
		bool done = v->t_done != 0;
		if (v->op.t < o->intents_before)
			upto_op = i;
		if (done && (v->t_done < barrier || o->all_done ||
			     (o->window_end != NEVER && v->t_done + o->window < o->window_end)))
			need_op = i;
	}
	for (int a = 0; a < w->nacks; a++)
		if (w->acks[a].t1 < o->acks_before && (int)w->acks[a].opno - 1 > need_op)
			need_op = (int)w->acks[a].opno - 1;
	need = steps_through(w, need_op);
	upto = steps_through(w, upto_op);
	if (need > upto)
		internal("worker %d: op %d required but its intent is after the crash", id,
			 need_op + 1);
	for (int s = 0; s < nslots; s++) {
		cur[s] = "absent";
		mism += strcmp(actual_of(w, s), "absent") != 0;
	}
	for (int j = 0; j <= upto; j++) {
		if (j > 0) {
			for (int c = 0; c < w->nchanges[j - 1]; c++) {
				const struct change *ch = &w->changes[(j - 1) * 2 + c];
				mism += strcmp(cur[ch->slot], actual_of(w, ch->slot)) == 0;
				cur[ch->slot] = ch->desc;
				mism -= strcmp(cur[ch->slot], actual_of(w, ch->slot)) == 0;
			}
		}
		if (mism == 0 && j >= need)
			best = j;
	}
	free(cur);
	if (best < 0) {
		explain(id, w, need, upto);
		return;
	}
	lost_steps += upto - best;
	if (o->verbose)
		printf("worker %d: %d ops (%d steps) attempted, %d steps required, the store holds "
		       "the state after step %d (%d unsynced steps lost)\n",
		       id, upto_op + 1, upto, need, best, upto - best);
}

static int usage(void)
{
	fputs("usage: stormverify MNT LOGDIR [--acks-before NS] [--window NS --window-end NS]\n"
	      "                   [--intents-before NS] [--all-done] [-v]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = {.acks_before = NEVER, .window_end = NEVER, .intents_before = NEVER};
	uint64_t barrier = 0;
	int items = 0, acks = 0, ops = 0;

	if (argc < 3)
		return usage();
	o.mnt = argv[1];
	o.logdir = argv[2];
	for (int i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--all-done") == 0)
			o.all_done = true;
		else if (strcmp(argv[i], "-v") == 0)
			o.verbose = true;
		else if (!v)
			return usage();
		else if (strcmp(argv[i], "--acks-before") == 0)
			o.acks_before = parse_time(argv[++i]);
		else if (strcmp(argv[i], "--window") == 0)
			o.window = parse_time(argv[++i]);
		else if (strcmp(argv[i], "--window-end") == 0)
			o.window_end = parse_time(argv[++i]);
		else if (strcmp(argv[i], "--intents-before") == 0)
			o.intents_before = parse_time(argv[++i]);
		else
			return usage();
	}
	read_runlog(o.logdir);
	if (nworkers == 0)
		internal("%s/run.log names no workers (no B line)", o.logdir);
	nslots = STORM_MAX_SLOTS; /* names past the storm's slots still parse, as unexpected */
	for (int w = 0; w < nworkers; w++) {
		read_worker_log(o.logdir, w, &workers[w]);
		for (int i = 0; i < workers[w].nops; i++) {
			const struct storm_op *op = &workers[w].ops[i].op;
			if (op->a >= nslots || op->b >= nslots)
				internal("worker %d: slot out of range", w);
		}
		simulate(w, &workers[w]);
		for (int a = 0; a < workers[w].nacks; a++)
			if (workers[w].acks[a].t1 < o.acks_before &&
			    workers[w].acks[a].t0 > barrier)
				barrier = workers[w].acks[a].t0;
	}
	walk(&o);
	for (int w = 0; w < nworkers; w++) {
		check_worker(w, &workers[w], &o, barrier);
		for (int s = 0; s < nslots; s++)
			items += workers[w].actual[s] != NULL;
		acks += workers[w].nacks;
		ops += workers[w].nops;
	}
	printf("stormverify: %d workers, %d ops, %d acks, %d items, %ld unsynced steps lost: %s\n",
	       nworkers, ops, acks, items, lost_steps, violations ? "VIOLATIONS" : "ok");
	for (int w = 0; w < nworkers; w++) {
		struct vworker *vw = &workers[w];
		for (int i = 0; i < vw->nsteps; i++)
			for (int c = 0; c < vw->nchanges[i]; c++)
				free(vw->changes[i * 2 + c].desc);
		for (int a = 0; a < vw->nacks; a++)
			free(vw->acks[a].slots);
		for (int s = 0; s < STORM_MAX_SLOTS; s++)
			free(vw->actual[s]);
		free(vw->changes);
		free(vw->nchanges);
		free(vw->ops);
		free(vw->acks);
	}
	return violations ? 1 : 0;
}
