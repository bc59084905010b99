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
#include <time.h>

#include <cmocka.h>

#include "stream_fmt.h"
#include "test_rand.h"

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

/*
 * The line the formatter wrote before it was hand-written (gmtime_r() and
 * snprintf()), for r's head and tail around its key "k": the oracle below.
 */
static int reference(const struct fs_stream_rec *r, char *buf, size_t size)
{
	static const char *const names[] = {"INSERT", "MODIFY", "REMOVE"};
	time_t secs = r->time.tv_sec;
	struct tm tm;
	int n;

	assert_non_null(gmtime_r(&secs, &tm));
	n = snprintf(buf, size,
		     "{\"seq\":%llu,\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\",\"event\":\"%s\","
		     "\"key\":\"k\",\"version\":\"%llu:%llu\"",
		     (unsigned long long)r->seq, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		     tm.tm_hour, tm.tm_min, tm.tm_sec, r->time.tv_nsec, names[r->event],
		     (unsigned long long)r->ino, (unsigned long long)r->version);
	if (r->event != FS_STREAM_REMOVE)
		n += snprintf(buf + n, size - (size_t)n, ",\"size\":%llu",
			      (unsigned long long)r->size);
	n += snprintf(buf + n, size - (size_t)n, "}\n");
	return n;
}

/* Times and numbers across their whole range give the bytes gmtime_r() and snprintf() gave. */
static void test_against_libc(void **state)
{
	/* 0000-01-01, 9999-12-31T23:59:59, leap days and century years around them */
	static const int64_t edges[] = {-62167219200, 253402300799, -1, 0, 86399, 86400,
					951782400,    951868800,    4107456000, 4107542400,
					-2203891200,  1709164800,   1764690013};
	static char want[256];
	struct fs_stream_rec r = {.key = "k", .keylen = 1};
	uint64_t s = 0x9e3779b97f4a7c15u;
	int n;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		int k = i % 20;

		r.time.tv_sec = k < (int)(sizeof(edges) / sizeof(edges[0]))
				    ? edges[k] + (i / 20) % 3 - 1
				    : -62167219200 + (int64_t)(test_rand(&s) % 315569520000u);
		if (r.time.tv_sec < -62167219200 || r.time.tv_sec > 253402300799)
			r.time.tv_sec = 0;
		r.time.tv_nsec = (long)(test_rand(&s) % 1000000000u);
		r.event = (enum fs_stream_event)(test_rand(&s) % 3);
		r.seq = i % 7 == 0 ? UINT64_MAX : test_rand(&s) >> (test_rand(&s) % 64);
		r.ino = i % 5 == 0 ? 0 : test_rand(&s) >> (test_rand(&s) % 64);
		r.version = i % 11 == 0 ? UINT64_MAX : test_rand(&s) % 1000;
		r.size = i % 13 == 0 ? 409600 : test_rand(&s) >> (test_rand(&s) % 64);
		n = fs_stream_format(&r, line, sizeof(line));
		assert_int_equal(n, reference(&r, want, sizeof(want)));
		line[n] = '\0';
		assert_string_equal(line, want);
	}
}

/* What RFC 3339 cannot write: a year past 9999 or before 0000, nanoseconds out of range. */
static void test_time_limits(void **state)
{
	struct fs_stream_rec r = {.key = "k", .keylen = 1};

	(void)state;
	r.time.tv_sec = 253402300800; /* 10000-01-01 */
	assert_int_equal(fs_stream_format(&r, line, sizeof(line)), -EINVAL);
	r.time.tv_sec = -62167219201; /* -0001-12-31T23:59:59 */
	assert_int_equal(fs_stream_format(&r, line, sizeof(line)), -EINVAL);
	r.time.tv_sec = 0;
	r.time.tv_nsec = 1000000000;
	assert_int_equal(fs_stream_format(&r, line, sizeof(line)), -EINVAL);
	r.time.tv_nsec = -1;
	assert_int_equal(fs_stream_format(&r, line, sizeof(line)), -EINVAL);
	r.time.tv_nsec = 999999999;
	assert_true(fs_stream_format(&r, line, sizeof(line)) > 0);
	assert_memory_equal(line, "{\"seq\":0,\"time\":\"1970-01-01T00:00:00.999999999Z\"", 48);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_key_escapes),
	    cmocka_unit_test(test_key_not_utf8),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_against_libc),
	    cmocka_unit_test(test_time_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
