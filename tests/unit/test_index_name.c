/*
 * test_index_name.c - the escape of the index views' names (fs/index_name.h):
 * exact names for each rule, the long form, decoding back, and every
 * other spelling refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "index_name.h"

static const char *enc(const void *raw, size_t len)
{
	static char out[FS_INDEX_NAME_MAX + 1];

	fs_index_name_encode(raw, len, out);
	return out;
}

/* Decodes name and asserts it gives raw[0..len) whole. */
static void round_trip(const char *name, const void *raw, size_t len)
{
	unsigned char out[512];
	size_t n = 9999;
	bool cut = true;

	assert_int_equal(fs_index_name_decode(name, out, sizeof(out), &n, &cut), 0);
	assert_false(cut);
	assert_int_equal(n, len);
	assert_memory_equal(out, raw, len);
}

static void test_plain_and_escapes(void **state)
{
	(void)state;
	assert_string_equal(enc("red", 3), "red");
	assert_string_equal(enc("", 0), "%");
	assert_string_equal(enc(".", 1), "%2E");
	assert_string_equal(enc("..", 2), "%2E%2E");
	assert_string_equal(enc("...", 3), "...");
	assert_string_equal(enc(".x", 2), ".x");
	assert_string_equal(enc("a/b", 3), "a%2Fb");
	assert_string_equal(enc("50%", 3), "50%25");
	assert_string_equal(enc("a\0b", 3), "a%00b");
	assert_string_equal(enc("sub/alice", 9), "sub%2Falice");
	assert_string_equal(enc("caf\xc3\xa9 \n", 7), "caf\xc3\xa9 \n");
	round_trip("red", "red", 3);
	round_trip("%", "", 0);
	round_trip("%2E", ".", 1);
	round_trip("%2E%2E", "..", 2);
	round_trip("a%2Fb", "a/b", 3);
	round_trip("50%25", "50%", 3);
	round_trip("a%00b", "a\0b", 3);
}

static void test_other_spellings_refused(void **state)
{
	static const char *bad[] = {"",
				    "a/b",
				    "%2f",
				    "%2",
				    "%",
				    "%zz",
				    "%41",
				    "a%",
				    "%25%",
				    ".",
				    "..",
				    "%2E.",
				    "%#0123456789abcdef"};
	unsigned char out[64];
	size_t n = 7;
	bool cut = false;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strcmp(bad[i], "%") == 0)
			continue; /* the empty value */
		assert_int_equal(fs_index_name_decode(bad[i], out, sizeof(out), &n, &cut), -EINVAL);
	}
	assert_int_equal(n, 7); /* untouched */
	assert_int_equal(fs_index_name_decode("abcd", out, 3, &n, &cut), -ENAMETOOLONG);
}

static void test_long_form(void **state)
{
	unsigned char raw[240], out[512];
	char name[FS_INDEX_NAME_MAX + 1];
	size_t len, n;
	bool cut;

	(void)state;
	/* 255 plain bytes fit whole; 100 slashes (300 bytes escaped) do not */
	memset(raw, 'v', sizeof(raw));
	assert_int_equal(fs_index_name_encode(raw, 240, name), 240);
	memset(raw, '/', 100);
	len = fs_index_name_encode(raw, 100, name);
	/* 78 escapes (234 bytes, the most within 236), "%#", 16 hex digits */
	assert_int_equal(len, 234 + 2 + 16);
	assert_memory_equal(name + 231, "%2F%#", 5);
	assert_int_equal(fs_index_name_decode(name, out, sizeof(out), &n, &cut), 0);
	assert_true(cut);
	assert_int_equal(n, 78);
	assert_memory_equal(out, raw, 78);
	/* a value differing only after the prefix gets another hash */
	raw[99] = 'x';
	{
		char other[FS_INDEX_NAME_MAX + 1];
		fs_index_name_encode(raw, 100, other);
		assert_memory_equal(other, name, 236);
		assert_string_not_equal(other, name);
	}
	/* a shorter prefix decodes too: the lookup compares whole names, so it finds nothing */
	assert_int_equal(fs_index_name_decode("%2F%#0123456789abcdef", out, sizeof(out), &n, &cut),
			 0);
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_and_escapes),
	    cmocka_unit_test(test_other_spellings_refused),
	    cmocka_unit_test(test_long_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
