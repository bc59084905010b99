/*
 * txn_parse.h - the manifest of a multi-item transaction (docs/dynamodb.md,
 * "Transactions"): text in, actions out. Pure: no FUSE, no store, so that
 * the grammar is unit-tested on its own (tests/unit/test_txn_parse.c);
 * fs/txn.c resolves and applies what it returns.
 */
#ifndef ITEMFS_TXN_PARSE_H
#define ITEMFS_TXN_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* DynamoDB's TransactWriteItems limit: 100 actions. */
#define TXN_ACTIONS_MAX 100u
/* Longest manifest, bytes: room for 100 actions of two 4 KiB paths. */
#define TXN_MANIFEST_MAX (1u << 20)
/* Longest path of an action, bytes, decoded. */
#define TXN_PATH_MAX 4096u

enum txn_op {
	TXN_MV,	   /* mv SRC DST [COND]: rename SRC over DST */
	TXN_RM,	   /* rm PATH [COND]: unlink PATH */
	TXN_CHECK, /* check PATH COND: a condition alone */
};

struct txn_action {
	enum txn_op op;
	unsigned line; /* its line in the manifest, from 1 */
	char *src;     /* TXN_MV: the staged file's path; else NULL */
	char *path;    /* TXN_MV: the destination; else the item */
	char *cond;    /* the condition as written ("INO:VERSION", "absent"), or NULL */
};

struct txn_manifest {
	struct txn_action *actions;
	size_t count;
	bool committed; /* it ended with a `commit` line */
};

/*
 * Parses the manifest text[0..len) into *out (freed with
 * txn_manifest_free(), also after an error). Paths come out decoded
 * (backslash escapes), relative to the mount's root, with their
 * components separated by single slashes, and each checked: not empty,
 * no "." or "..", no NUL, at most 255 bytes a component, TXN_PATH_MAX in
 * all. A path named twice in the manifest is an error. Conditions are
 * returned as written; fs/txn.c parses them.
 * Errors: -EINVAL (syntax: what is wrong and where is written to err as
 * "line N: ..."), -E2BIG (more than TXN_ACTIONS_MAX actions), -ENOMEM.
 */
int txn_parse(const char *text, size_t len, struct txn_manifest *out, char *err, size_t errlen);

void txn_manifest_free(struct txn_manifest *m);

/* True when the last line of text[0..len) that is not blank is `commit`. */
bool txn_ends_with_commit(const char *text, size_t len);

#endif /* ITEMFS_TXN_PARSE_H */
