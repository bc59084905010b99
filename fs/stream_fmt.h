/*
 * stream_fmt.h - one change-stream record as a JSON line (docs/dynamodb.md,
 * "Change streams"): pure code, with no FUSE or store state, so that the
 * exact bytes can be unit-tested (tests/unit/test_stream_fmt.c).
 */
#ifndef ITEMFS_STREAM_FMT_H
#define ITEMFS_STREAM_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest key (the item's path below its table) a record carries, bytes. */
#define FS_STREAM_KEY_MAX 4095u
/* Room for the longest record: a key of control bytes is 6 bytes each escaped. */
#define FS_STREAM_LINE_MAX (6u * FS_STREAM_KEY_MAX + 256u)

enum fs_stream_event { FS_STREAM_INSERT, FS_STREAM_MODIFY, FS_STREAM_REMOVE };

struct fs_stream_rec {
	uint64_t seq;		   /* one per transaction and table */
	struct timespec time;	   /* CLOCK_REALTIME of the change */
	enum fs_stream_event event;
	const char *key;	   /* the path below the table, keylen bytes */
	size_t keylen;
	uint64_t ino, version;	   /* the token: after the change; REMOVE: the removed item's */
	uint64_t size;		   /* bytes of data after the change (not for REMOVE) */
};

/* True when s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or > U+10FFFF). */
bool fs_utf8_valid(const char *s, size_t len);

/*
 * Writes r as one JSON object and a newline (no NUL) into buf (size bytes, at
 * least FS_STREAM_LINE_MAX for any key up to FS_STREAM_KEY_MAX) and
 * returns its length; -ENAMETOOLONG when the key is longer than
 * FS_STREAM_KEY_MAX, -ENOBUFS when buf is too small, -EINVAL for an event
 * out of range or a time that RFC 3339 cannot write (outside the years
 * 0000-9999, or tv_nsec outside [0, 1e9)). A key that is not
 * UTF-8 is written as "key_hex" (its bytes in lowercase hex) instead of
 * "key", since JSON strings cannot hold arbitrary bytes.
 */
int fs_stream_format(const struct fs_stream_rec *r, char *buf, size_t size);

#endif /* ITEMFS_STREAM_FMT_H */
