/*
 * test_stream_fmt.c - a change-stream record's exact bytes (fs/stream_fmt.c;
 * docs/dynamodb.md, "Change streams"): the fields of each event, the time,
 * the key's JSON escapes, keys that are not UTF-8, and the limits.
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

#include "stream_fmt.h"

static char line[FS_STREAM_LINE_MAX + 1];

/* Formats event on key (keylen bytes) at a fixed time and token; returns the line. */
static const char *fmt(enum fs_stream_event event, const char *key, size_t keylen)
{
	struct fs_stream_rec r = {
	    .seq = 1042,
	    .time = {1764690013, 5},
	    .event = event,
	    .key = key,
	    .keylen = keylen,
	    .ino = 42,
	    .version = 3,
	    .size = 17,
	};
	int n;

	memset(line, 'x', sizeof(line));
	n = fs_stream_format(&r, line, sizeof(line) - 1);
	assert_true(n > 0);
	assert_int_equal(line[n], 'x'); /* not NUL-terminated: the bytes stored */
	line[n] = '\0';
	return line;
}

static void test_events(void **state)
{
	(void)state;
	assert_string_equal(fmt(FS_STREAM_INSERT, "sub/alice", 9),
			    "{\"seq\":1042,\"time\":\"2025-12-02T15:40:13.000000005Z\","
			    "\"event\":\"INSERT\",\"key\":\"sub/alice\",\"version\":\"42:3\","
			    "\"size\":17}\n");
	assert_string_equal(fmt(FS_STREAM_MODIFY, "a", 1),
			    "{\"seq\":1042,\"time\":\"2025-12-02T15:40:13.000000005Z\","
			    "\"event\":\"MODIFY\",\"key\":\"a\",\"version\":\"42:3\",\"size\":17}\n");
	/* a removal carries the removed item's token, and no size */
	assert_string_equal(fmt(FS_STREAM_REMOVE, "a", 1),
			    "{\"seq\":1042,\"time\":\"2025-12-02T15:40:13.000000005Z\","
			    "\"event\":\"REMOVE\",\"key\":\"a\",\"version\":\"42:3\"}\n");
}

static void test_key_escapes(void **state)
{
	(void)state;
	assert_non_null(strstr(fmt(FS_STREAM_INSERT, "q\"b\\s", 5), "\"key\":\"q\\\"b\\\\s\","));
	assert_non_null(strstr(fmt(FS_STREAM_INSERT, "n\nt\tc\001d\177", 8),
			       "\"key\":\"n\\nt\\tc\\u0001d\\u007f\","));
	/* UTF-8 passes as it is */
	assert_non_null(strstr(fmt(FS_STREAM_INSERT, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14),
			       "\"key\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","));
}

static void test_key_not_utf8(void **state)
{
	static const char *const bad[] = {
	    "\xff",		/* never in UTF-8 */
	    "\xc3",		/* truncated */
	    "\xc0\xaf",		/* overlong '/' */
	    "\xe0\x80\xaf",	/* overlong */
	    "\xed\xa0\x80",	/* a surrogate */
	    "\xf4\x90\x80\x80", /* past U+10FFFF */
	    "a\x80",		/* a lone continuation byte */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(fs_utf8_valid(bad[i], strlen(bad[i])));
	assert_true(fs_utf8_valid("", 0));
	assert_true(fs_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
	/* written as its bytes in hex, under another name, so no consumer mistakes it */
	assert_string_equal(fmt(FS_STREAM_REMOVE, "a\xff/b", 4),
			    "{\"seq\":1042,\"time\":\"2025-12-02T15:40:13.000000005Z\","
			    "\"event\":\"REMOVE\",\"key_hex\":\"61ff2f62\",\"version\":\"42:3\"}\n");
}

static void test_limits(void **state)
{
	static char key[FS_STREAM_KEY_MAX + 1];
	struct fs_stream_rec r = {.event = FS_STREAM_INSERT, .key = key};
	char small[64];

	(void)state;
	/* the longest key of the worst bytes fits the documented buffer */
	memset(key, '\001', sizeof(key));
	r.keylen = FS_STREAM_KEY_MAX;
	assert_true(fs_stream_format(&r, line, FS_STREAM_LINE_MAX) > (int)(6 * FS_STREAM_KEY_MAX));
	r.keylen = FS_STREAM_KEY_MAX + 1;
	assert_int_equal(fs_stream_format(&r, line, sizeof(line)), -ENAMETOOLONG);
	r.keylen = 3;
	assert_int_equal(fs_stream_format(&r, small, sizeof(small)), -ENOBUFS);
	r.event = (enum fs_stream_event)7;
	assert_int_equal(fs_stream_format(&r, line, sizeof(line)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_key_escapes),
	    cmocka_unit_test(test_key_not_utf8),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
