/*
 * storm.h - what the writer storm (storm.c) and its verifier (verify.c)
 * share: the names a worker owns, the self-describing item format, the
 * model of one worker's items, and the lines of the per-worker logs.
 *
 * Names. Tables t0..t2 (STORM_TABLES); in each, worker W owns the
 * directories tK/wW and tK/wW/sub (STORM_DIRS of them). Worker W's slot S
 * is the item named "wW-SS" in its directory number S % STORM_DIRS. A
 * worker touches only its own slots; renames move items between them,
 * across directories and tables.
 *
 * Items. An item's data is a sequence of records. A record is
 *     u32 magic STORM_MAGIC | u16 worker | u16 0 | u32 object | u32 seq |
 *     u32 len | body (len - 28 bytes) | u64 XXH3-64 of everything before
 * (little-endian), where the body is a pseudo-random stream determined by
 * (worker, object, seq, len). "object" names the item (a create makes a new
 * one; overwrite, append and rename keep it) and "seq" is the number of the
 * operation that wrote the record. An overwrite leaves one record, an append
 * adds one: so every complete version of an item is recognisable from its
 * bytes alone, and a torn or mixed one fails the parse.
 *
 * Description of an item state ("desc"), as logs and the verifier spell
 * it: "absent"; or RECORDS XATTRS where RECORDS is "-" for an item that has
 * no data yet (open(O_CREAT) made it) or "oOBJ:SEQ/LEN+SEQ/LEN..." and
 * XATTRS is ";kN=VALUE" for each of user.k0..k2 that is set, in order.
 * Since a record's bytes follow from its header, a desc names the item's
 * bytes exactly (it stands for a content hash, and is stronger).
 *
 * Logs (LOGDIR/wN.log, one line per event, appended by worker N; times are
 * CLOCK_MONOTONIC nanoseconds):
 *     I OPNO T KIND ARGS...      intent: written before the operation starts
 *     D OPNO T                   the operation returned success
 *     A OPNO T0 T1 HOW SLOT@PATH=DESC...  an fsync (HOW: fsync, fdatasync,
 *                                file, dir) called at T0 returned 0 at T1;
 *                                DESC is the state of each name the operation
 *                                changed ("absent": deleted); the log is
 *                                fsynced after this line
 *     E OPNO T WHAT ERRNO        a call failed; the worker stops
 * KIND ARGS: create SLOT OBJ LEN | overwrite SLOT LEN | append SLOT LEN |
 * rename A B | exchange A B | delete A | setxattr A K VALUE | rmxattr A K.
 * LOGDIR/run.log, by the storm's parent: "B T WORKERS SLOTS" (setup
 * begins; every worker's log exists from then on), "R T0 T1"
 * (every directory created and fsynced), "K T SIG" (SIG sent to the daemon
 * at T).
 */
#ifndef STORM_H
#define STORM_H

#include <stddef.h>
#include <stdint.h>

#define STORM_MAGIC 0x4d525453u /* "STRM" */
#define STORM_REC_HDR 20u
#define STORM_REC_MIN 28u /* header + empty body + checksum */
#define STORM_TABLES 3
#define STORM_DIRS (2 * STORM_TABLES) /* per worker */
#define STORM_MAX_WORKERS 16
#define STORM_MAX_SLOTS 100
#define STORM_XATTRS 3
#define STORM_XATTR_MAX 120    /* longest value */
#define STORM_DATA_MAX 300000u /* an item's data stays below this */
#define STORM_DESC_MAX 4096

enum storm_kind {
	STORM_CREATE,
	STORM_OVERWRITE,
	STORM_APPEND,
	STORM_RENAME,
	STORM_EXCHANGE,
	STORM_DELETE,
	STORM_SETXATTR,
	STORM_RMXATTR,
	STORM_NKINDS
};

/* One operation as an intent line spells it. */
struct storm_op {
	uint32_t opno;
	uint64_t t;
	enum storm_kind kind;
	int a, b;     /* slots (b: rename/exchange target) */
	uint32_t obj; /* create */
	uint32_t len; /* create, overwrite, append: record length */
	int k;	      /* xattr number */
	char val[STORM_XATTR_MAX + 1];
};

/* An item in the model: its object, records and xattrs. */
struct storm_item {
	uint32_t obj;
	uint32_t nrec, cap;
	uint32_t *seq, *len;
	uint64_t size;
	char *x[STORM_XATTRS]; /* NULL when unset */
};

/* The model of one worker's slots: items[slot] or NULL when absent. */
struct storm_model {
	int nslots;
	struct storm_item *items[STORM_MAX_SLOTS];
};

const char *storm_kind_name(enum storm_kind k);
int storm_kind_parse(const char *s, enum storm_kind *out);

uint64_t storm_now_ns(void);

/* Paths relative to the mount; buf of n bytes. */
void storm_table_path(char *buf, size_t n, int table);
void storm_dir_path(char *buf, size_t n, int worker, int dir);
void storm_slot_name(char *buf, size_t n, int worker, int slot);
void storm_slot_path(char *buf, size_t n, int worker, int slot);

/* Writes the record (worker, obj, seq, len) into buf (len bytes, len >= STORM_REC_MIN). */
void storm_rec_build(unsigned char *buf, unsigned worker, uint32_t obj, uint32_t seq, uint32_t len);

/*
 * Parses one record at buf (avail bytes). On success returns 0 and sets
 * *worker, *obj, *seq, *len. On failure returns -1 and writes what is
 * wrong into why (n bytes).
 */
int storm_rec_parse(const unsigned char *buf, size_t avail, unsigned *worker, uint32_t *obj,
		    uint32_t *seq, uint32_t *len, char *why, size_t n);

/*
 * Applies op to the model. Step 0 of a create makes the empty item, step 1
 * writes its record; every other kind has one step (step 0). Slots whose
 * description changes are written to changed[] (at most 2); returns their
 * number. Returns -1 when op does not fit the model (a log that disagrees
 * with itself), -2 when out of memory.
 */
int storm_model_apply(struct storm_model *m, const struct storm_op *op, int step, int changed[2]);
int storm_op_steps(enum storm_kind k);
void storm_model_free(struct storm_model *m);

/* The description of slot's state (see the top of this file). */
void storm_model_desc(const struct storm_model *m, int slot, char *buf, size_t n);

/* Formats op as the ARGS of an intent line ("create 3 17 1200"). */
void storm_op_format(const struct storm_op *op, char *buf, size_t n);
/* Parses "KIND ARGS..." (after "I OPNO T "); 0 or -1. */
int storm_op_parse(const char *s, struct storm_op *op);

#endif
