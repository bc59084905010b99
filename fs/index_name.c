/*
 * index_name.c - the escape of index view names (index_name.h has the
 * rule). A decoded name is re-encoded and compared, so every value has
 * exactly one name and a lookup of any other spelling fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index_name.h"

static uint64_t fnv1a(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static bool escaped(unsigned char c)
{
	return c == '%' || c == '/' || c == '\0';
}

size_t fs_index_name_encode(const void *raw, size_t len, char out[FS_INDEX_NAME_MAX + 1])
{
	const unsigned char *p = raw;
	size_t n = 0, i;

	if (len == 0) {
		strcpy(out, "%");
		return 1;
	}
	if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
		strcpy(out, len == 1 ? "%2E" : "%2E%2E");
		return len * 3;
	}
	for (i = 0; i < len; i++) {
		size_t w = escaped(p[i]) ? 3 : 1;

		if (n + w > FS_INDEX_NAME_MAX)
			break;
		if (w == 3)
			n += (size_t)snprintf(out + n, 4, "%%%02X", p[i]);
		else
			out[n++] = (char)p[i];
	}
	if (i < len) { /* too long: the long form */
		for (n = 0, i = 0; i < len; i++) {
			size_t w = escaped(p[i]) ? 3 : 1;

			if (n + w > FS_INDEX_PREFIX_MAX)
				break;
			if (w == 3)
				n += (size_t)snprintf(out + n, 4, "%%%02X", p[i]);
			else
				out[n++] = (char)p[i];
		}
		n += (size_t)snprintf(out + n, 19, "%%#%016llx", (unsigned long long)fnv1a(p, len));
	}
	out[n] = '\0';
	return n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fs_index_name_decode(const char *name, void *out, size_t size, size_t *len, bool *cut)
{
	size_t nlen = strlen(name), n = 0, i;
	unsigned char *o = out, *buf;
	char again[FS_INDEX_NAME_MAX + 1];
	bool is_cut = false;
	int rc = 0;

	if (nlen == 0 || nlen > FS_INDEX_NAME_MAX)
		return -EINVAL;
	if (strcmp(name, "%") == 0) {
		*len = 0;
		*cut = false;
		return 0;
	}
	buf = malloc(nlen);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < nlen && rc == 0; i++) {
		if (name[i] == '/') {
			rc = -EINVAL;
		} else if (name[i] != '%') {
			buf[n++] = (unsigned char)name[i];
		} else if (name[i + 1] == '#') {
			/* the long form: 16 hex digits end the name */
			if (nlen - i != 18 || i > FS_INDEX_PREFIX_MAX)
				rc = -EINVAL;
			for (size_t j = i + 2; rc == 0 && j < nlen; j++)
				if (!((name[j] >= '0' && name[j] <= '9') ||
				      (name[j] >= 'a' && name[j] <= 'f')))
					rc = -EINVAL;
			is_cut = true;
			break;
		} else if (hexval(name[i + 1]) < 0 || hexval(name[i + 2]) < 0) {
			rc = -EINVAL;
		} else {
			buf[n++] = (unsigned char)(hexval(name[i + 1]) << 4 | hexval(name[i + 2]));
			i += 2;
		}
	}
	if (rc == 0 && n > size)
		rc = -ENAMETOOLONG;
	if (rc == 0 && !is_cut) {
		/* one spelling per value: the decoded value must encode back to name */
		fs_index_name_encode(buf, n, again);
		if (strcmp(again, name) != 0)
			rc = -EINVAL;
	} else if (rc == 0) {
		/* the prefix of a long form: its own escape, and no shorter than it must be */
		fs_index_name_encode(buf, n, again);
		if (strncmp(again, name, i) != 0 || strlen(again) != i || n == 0)
			rc = -EINVAL;
	}
	if (rc == 0) {
		memcpy(o, buf, n);
		*len = n;
		*cut = is_cut;
	}
	free(buf);
	return rc;
}
