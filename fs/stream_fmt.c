/*
 * stream_fmt.c - change-stream records as JSON lines (stream_fmt.h).
 *
 * Hand-written rather than through jansson: a record is one flat object of
 * six known fields, and the only part that needs care, escaping the key, is
 * a dozen lines; a JSON library would add a dependency and an allocation
 * per change on the commit path for no gain.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stream_fmt.h"

static const char *const event_names[] = {"INSERT", "MODIFY", "REMOVE"};

bool fs_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], n, cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		if (len - i <= n)
			return false;
		for (unsigned k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += n + 1;
	}
	return true;
}

/* Appends to buf at *used; false when it does not fit. */
static bool put(char *buf, size_t size, size_t *used, const char *s, size_t n)
{
	if (size - *used < n)
		return false;
	memcpy(buf + *used, s, n);
	*used += n;
	return true;
}

static bool put_key(char *buf, size_t size, size_t *used, const char *key, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	if (!fs_utf8_valid(key, len)) {
		if (!put(buf, size, used, "\"key_hex\":\"", 11))
			return false;
		for (size_t i = 0; i < len; i++) {
			char h[2] = {hex[(unsigned char)key[i] >> 4], hex[(unsigned char)key[i] & 15]};
			if (!put(buf, size, used, h, 2))
				return false;
		}
		return put(buf, size, used, "\"", 1);
	}
	if (!put(buf, size, used, "\"key\":\"", 7))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)key[i];
		char e[6];
		size_t n = 2;

		if (c == '"' || c == '\\') {
			e[0] = '\\', e[1] = (char)c;
		} else if (c == '\n') {
			e[0] = '\\', e[1] = 'n';
		} else if (c == '\t') {
			e[0] = '\\', e[1] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			e[0] = '\\', e[1] = 'u', e[2] = '0', e[3] = '0';
			e[4] = hex[c >> 4], e[5] = hex[c & 15];
			n = 6;
		} else {
			e[0] = (char)c;
			n = 1;
		}
		if (!put(buf, size, used, e, n))
			return false;
	}
	return put(buf, size, used, "\"", 1);
}

int fs_stream_format(const struct fs_stream_rec *r, char *buf, size_t size)
{
	struct tm tm;
	char head[128], tail[96];
	time_t secs = r->time.tv_sec;
	size_t used = 0;
	int n, m;

	if (r->keylen > FS_STREAM_KEY_MAX)
		return -ENAMETOOLONG;
	if (!gmtime_r(&secs, &tm) || (unsigned)r->event > FS_STREAM_REMOVE)
		return -EINVAL;
	n = snprintf(head, sizeof(head),
		     "{\"seq\":%llu,\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ\",\"event\":\"%s\",",
		     (unsigned long long)r->seq, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		     tm.tm_hour, tm.tm_min, tm.tm_sec, r->time.tv_nsec, event_names[r->event]);
	if (r->event == FS_STREAM_REMOVE)
		m = snprintf(tail, sizeof(tail), ",\"version\":\"%llu:%llu\"}\n",
			     (unsigned long long)r->ino, (unsigned long long)r->version);
	else
		m = snprintf(tail, sizeof(tail), ",\"version\":\"%llu:%llu\",\"size\":%llu}\n",
			     (unsigned long long)r->ino, (unsigned long long)r->version,
			     (unsigned long long)r->size);
	if (n < 0 || m < 0 || (size_t)n >= sizeof(head) || (size_t)m >= sizeof(tail))
		return -EINVAL;
	if (!put(buf, size, &used, head, (size_t)n) || !put_key(buf, size, &used, r->key, r->keylen) ||
	    !put(buf, size, &used, tail, (size_t)m))
		return -ENOBUFS;
	return (int)used;
}
