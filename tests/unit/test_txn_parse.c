/*
 * test_txn_parse.c - the transaction manifest's grammar (fs/txn_parse.c;
 * docs/dynamodb.md, "Transactions"): actions, escapes, paths, limits,
 * the commit line, and the exact error messages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "txn_parse.h"

static int parse(const char *text, struct txn_manifest *m, char *err)
{
	return txn_parse(text, strlen(text), m, err, 256);
}

/* Parses text, which must fail with rc and the message want. */
static void expect_error(const char *text, int rc, const char *want)
{
	struct txn_manifest m;
	char err[256];

	assert_int_equal(parse(text, &m, err), rc);
	assert_string_equal(err, want);
	txn_manifest_free(&m);
}

static void test_actions(void **state)
{
	struct txn_manifest m;
	char err[256];

	(void)state;
	assert_int_equal(parse("# a comment\n\n  mv  t/.a\tt/a 12:3 \n"
			       "rm t/b\n"
			       "rm t/c 4:5\n"
			       "check o/x absent\n",
			       &m, err),
			 0);
	assert_int_equal(m.count, 4);
	assert_false(m.committed);
	assert_int_equal(m.actions[0].op, TXN_MV);
	assert_int_equal(m.actions[0].line, 3);
	assert_string_equal(m.actions[0].src, "t/.a");
	assert_string_equal(m.actions[0].path, "t/a");
	assert_string_equal(m.actions[0].cond, "12:3");
	assert_int_equal(m.actions[1].op, TXN_RM);
	assert_null(m.actions[1].src);
	assert_string_equal(m.actions[1].path, "t/b");
	assert_null(m.actions[1].cond);
	assert_string_equal(m.actions[2].cond, "4:5");
	assert_int_equal(m.actions[3].op, TXN_CHECK);
	assert_int_equal(m.actions[3].line, 6);
	assert_string_equal(m.actions[3].cond, "absent");
	txn_manifest_free(&m);

	/* The last line needs no newline; commit ends it; blanks after are fine. */
	assert_int_equal(parse("rm t/x\ncommit\n\n  \n# done\n", &m, err), 0);
	assert_int_equal(m.count, 1);
	assert_true(m.committed);
	txn_manifest_free(&m);
	assert_int_equal(parse("", &m, err), 0);
	assert_int_equal(m.count, 0);
	txn_manifest_free(&m);
}

static void test_escapes(void **state)
{
	struct txn_manifest m;
	char err[256];

	(void)state;
	assert_int_equal(parse("mv t/a\\sb t/c\\ d\\te\\nf\\\\g\\xC3\\xA9", &m, err), 0);
	assert_string_equal(m.actions[0].src, "t/a b");
	assert_string_equal(m.actions[0].path, "t/c d\te\nf\\g\xc3\xa9");
	txn_manifest_free(&m);
	/* \x2f is a slash, which separates components as a plain one does. */
	assert_int_equal(parse("rm t\\x2fa", &m, err), 0);
	assert_string_equal(m.actions[0].path, "t/a");
	txn_manifest_free(&m);
	expect_error("rm t/a\\q", -EINVAL,
		     "line 1: bad escape in \"t/a\\q\" (use \\\\, \\s, \\t, \\n or \\xHH)");
	expect_error("rm t/a\\x4", -EINVAL,
		     "line 1: bad escape in \"t/a\\x4\" (use \\\\, \\s, \\t, \\n or \\xHH)");
	expect_error("rm t/a\\", -EINVAL,
		     "line 1: bad escape in \"t/a\\\" (use \\\\, \\s, \\t, \\n or \\xHH)");
	expect_error("rm t/a\\x00b", -EINVAL, "line 1: path \"t/a\" a name cannot hold a NUL byte");
}

static void test_paths(void **state)
{
	char name[300], text[400];

	(void)state;
	expect_error("rm /t/a", -EINVAL,
		     "line 1: path \"/t/a\" must be relative to the mount's root (TABLE/KEY)");
	expect_error("rm t//a", -EINVAL,
		     "line 1: path \"t//a\" has an empty component (// or a trailing /)");
	expect_error("rm t/a/", -EINVAL,
		     "line 1: path \"t/a/\" has an empty component (// or a trailing /)");
	expect_error("rm t/./a", -EINVAL, "line 1: path \"t/./a\" has a . or .. component");
	expect_error("rm ../a", -EINVAL, "line 1: path \"../a\" has a . or .. component");
	memset(name, 'n', 256);
	name[256] = '\0';
	snprintf(text, sizeof(text), "rm t/%s", name);
	{
		struct txn_manifest m;
		char err[256];
		assert_int_equal(parse(text, &m, err), -EINVAL);
		assert_non_null(strstr(err, "has a component longer than 255 bytes"));
		txn_manifest_free(&m);
		name[255] = '\0';
		snprintf(text, sizeof(text), "rm t/%s", name);
		assert_int_equal(parse(text, &m, err), 0);
		txn_manifest_free(&m);
	}
}

static void test_syntax(void **state)
{
	(void)state;
	expect_error("cp t/a t/b", -EINVAL,
		     "line 1: unknown action \"cp\" (mv, rm, check or commit)");
	expect_error("\nmv t/a", -EINVAL, "line 2: expected \"mv SRC DST [COND]\"");
	expect_error("mv t/a t/b 1:2 x", -EINVAL, "line 1: expected \"mv SRC DST [COND]\"");
	expect_error("rm", -EINVAL, "line 1: expected \"rm PATH [COND]\"");
	expect_error("rm t/a 1:2 3:4", -EINVAL, "line 1: expected \"rm PATH [COND]\"");
	expect_error("check t/a", -EINVAL, "line 1: expected \"check PATH COND\"");
	expect_error("mv a b c d e f", -EINVAL, "line 1: too many fields");
	expect_error("commit now", -EINVAL, "line 1: commit takes no arguments");
	expect_error("rm t/a\ncommit\nrm t/b\n", -EINVAL,
		     "line 3: nothing may follow the commit line");
	expect_error("commit\ncommit\n", -EINVAL, "line 2: nothing may follow the commit line");
}

static void test_named_twice(void **state)
{
	(void)state;
	expect_error(
	    "rm t/a\nmv t/.n t/a", -EINVAL,
	    "line 2: t/a is named twice (at line 1): a transaction changes each item once");
	expect_error(
	    "mv t/a t/a", -EINVAL,
	    "line 1: t/a is named twice (at line 1): a transaction changes each item once");
	expect_error(
	    "mv t/.n t/a\ncheck t/.n absent", -EINVAL,
	    "line 2: t/.n is named twice (at line 1): a transaction changes each item once");
	/* The same key in two tables is two items. */
	{
		struct txn_manifest m;
		char err[256];
		assert_int_equal(parse("rm t/a\nrm u/a\nrm t/a/b", &m, err), 0);
		assert_int_equal(m.count, 3);
		txn_manifest_free(&m);
	}
}

static void test_limits(void **state)
{
	struct txn_manifest m;
	char err[256];
	size_t cap = 200 * 32, len = 0;
	char *text = malloc(cap);

	(void)state;
	assert_non_null(text);
	for (unsigned i = 1; i <= TXN_ACTIONS_MAX; i++)
		len += (size_t)snprintf(text + len, cap - len, "check t/n%u absent\n", i);
	assert_int_equal(txn_parse(text, len, &m, err, sizeof(err)), 0);
	assert_int_equal(m.count, TXN_ACTIONS_MAX);
	txn_manifest_free(&m);
	len += (size_t)snprintf(text + len, cap - len, "check t/n101 absent\n");
	assert_int_equal(txn_parse(text, len, &m, err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "line 101: more than 100 actions");
	txn_manifest_free(&m);
	free(text);
}

static bool ends(const char *text)
{
	return txn_ends_with_commit(text, strlen(text));
}

static void test_ends_with_commit(void **state)
{
	(void)state;
	assert_true(ends("rm t/a\ncommit\n"));
	assert_true(ends("rm t/a\n  commit \n\n"));
	assert_true(ends("commit"));
	assert_false(ends("rm t/a\n"));
	assert_false(ends("rm t/commit\n"));
	assert_false(ends("commit\nrm t/a\n"));
	assert_false(ends(""));
	assert_false(ends("commi"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_actions),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_named_twice),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_ends_with_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
