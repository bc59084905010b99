/*
 * stream_fmt.c - change-stream records as JSON lines (stream_fmt.h).
 *
 * Hand-written rather than through jansson: a record is one flat object of
 * six known fields, and the only part that needs care, escaping the key, is
 * a dozen lines; a JSON library would add a dependency and an allocation
 * per change on the commit path for no gain.
 */
#include <errno.h>
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
	/* Copies each run of bytes that need no escape at once; plain is where it began. */
	for (size_t i = 0, plain = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)key[i] : 0;
		char e[6];
		size_t n = 2;

		if (i < len && c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		if (!put(buf, size, used, key + plain, i - plain))
			return false;
		plain = i + 1;
		if (i == len)
			break;
		if (c == '"' || c == '\\') {
			e[0] = '\\', e[1] = (char)c;
		} else if (c == '\n') {
			e[0] = '\\', e[1] = 'n';
		} else if (c == '\t') {
			e[0] = '\\', e[1] = 't';
		} else {
			e[0] = '\\', e[1] = 'u', e[2] = '0', e[3] = '0';
			e[4] = hex[c >> 4], e[5] = hex[c & 15];
			n = 6;
		}
		if (!put(buf, size, used, e, n))
			return false;
	}
	return put(buf, size, used, "\"", 1);
}

/* Writes v in decimal at p, zero-padded to width digits; returns the end. */
static char *put_dec(char *p, uint64_t v, int width)
{
	char t[20];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		t[n++] = '0';
	while (n)
		*p++ = t[--n];
	return p;
}

static char *put_str(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* put_str() of a string literal, its length counted by the compiler. */
#define put_lit(p, lit) put_str(p, lit, sizeof(lit) - 1)

/*
 * The proleptic Gregorian date of day `days` since 1970-01-01 (negative
 * before it): Howard Hinnant's civil_from_days, in 400-year eras.
 */
static void civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
	int64_t z = days + 719468; /* days since 0000-03-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);			      /* [0, 146096] */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);		      /* [0, 365] */
	unsigned mp = (5 * doy + 2) / 153;				      /* March = 0 */

	*day = doy - (153 * mp + 2) / 5 + 1;
	*month = mp < 10 ? mp + 3 : mp - 9;
	*year = (int64_t)yoe + era * 400 + (*month <= 2);
}

/*
 * Formatted by hand, not with gmtime_r() and snprintf(): those were 12 %
 * of the daemon's instructions in a run of creates (docs/benchmarks.md),
 * two records a create.
 */
int fs_stream_format(const struct fs_stream_rec *r, char *buf, size_t size)
{
	char head[128], tail[96], *h = head, *t = tail;
	int64_t secs = r->time.tv_sec, days, year;
	unsigned month, day, sod;
	size_t used = 0;

	if (r->keylen > FS_STREAM_KEY_MAX)
		return -ENAMETOOLONG;
	if ((unsigned)r->event > FS_STREAM_REMOVE || r->time.tv_nsec < 0 ||
	    r->time.tv_nsec >= 1000000000L)
		return -EINVAL;
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = (unsigned)(secs - days * 86400);
	civil_from_days(days, &year, &month, &day);
	if (year < 0 || year > 9999) /* RFC 3339 years have four digits */
		return -EINVAL;
	h = put_lit(h, "{\"seq\":");
	h = put_dec(h, r->seq, 1);
	h = put_lit(h, ",\"time\":\"");
	h = put_dec(h, (uint64_t)year, 4);
	*h++ = '-';
	h = put_dec(h, month, 2);
	*h++ = '-';
	h = put_dec(h, day, 2);
	*h++ = 'T';
	h = put_dec(h, sod / 3600, 2);
	*h++ = ':';
	h = put_dec(h, sod / 60 % 60, 2);
	*h++ = ':';
	h = put_dec(h, sod % 60, 2);
	*h++ = '.';
	h = put_dec(h, (uint64_t)r->time.tv_nsec, 9);
	h = put_lit(h, "Z\",\"event\":\"");
	h = put_str(h, event_names[r->event], strlen(event_names[r->event]));
	h = put_lit(h, "\",");
	t = put_lit(t, ",\"version\":\"");
	t = put_dec(t, r->ino, 1);
	*t++ = ':';
	t = put_dec(t, r->version, 1);
	*t++ = '"';
	if (r->event != FS_STREAM_REMOVE) {
		t = put_lit(t, ",\"size\":");
		t = put_dec(t, r->size, 1);
	}
	t = put_lit(t, "}\n");
	if (!put(buf, size, &used, head, (size_t)(h - head)) ||
	    !put_key(buf, size, &used, r->key, r->keylen) ||
	    !put(buf, size, &used, tail, (size_t)(t - tail)))
		return -ENOBUFS;
	return (int)used;
}
