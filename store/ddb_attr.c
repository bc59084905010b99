/*
 * ddb_attr.c - DynamoDB's typed attribute values in JSON for the
 * DynamoDB-API backend: {"B": base64}, {"N": "decimal"}, {"S": string},
 * made and read back strictly (ddb_client.h). Pure: no I/O.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ddb_client.h"

/* ---- attribute values --------------------------------------------------------- */

json_t *ddb_bin(const void *data, size_t len)
{
	unsigned char *enc;
	json_t *v = NULL;

	if (len > (size_t)INT_MAX / 4 * 3 || (len && !data))
		return NULL;
	enc = malloc(4 * ((len + 2) / 3) + 1);
	if (!enc)
		return NULL;
	EVP_EncodeBlock(enc, len ? data : (const void *)"", (int)len);
	v = json_pack("{s:s}", "B", (const char *)enc);
	free(enc);
	return v;
}

json_t *ddb_num(uint64_t v)
{
	char s[21];

	snprintf(s, sizeof(s), "%" PRIu64, v);
	return json_pack("{s:s}", "N", s);
}

json_t *ddb_str(const char *s)
{
	return s ? json_pack("{s:s}", "S", s) : NULL;
}

/* The type's string in attribute name of item: *s, *len. */
static int attr_get(const json_t *item, const char *name, const char *type, const char **s,
		    size_t *len)
{
	json_t *a, *v;

	if (!item)
		return -ENOENT;
	if (!json_is_object(item) || !name)
		return -EINVAL;
	a = json_object_get(item, name);
	if (!a)
		return -ENOENT;
	v = json_object_get(a, type);
	if (!json_is_string(v))
		return -EINVAL;
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

int ddb_get_bin(const json_t *item, const char *name, void **data, size_t *len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *s;
	size_t slen, pad = 0;
	unsigned char *p;
	int n, rc;

	rc = attr_get(item, name, "B", &s, &slen);
	if (rc)
		return rc;
	if (slen % 4 || slen > INT_MAX)
		return -EINVAL;
	while (pad < 2 && pad < slen && s[slen - 1 - pad] == '=')
		pad++;
	if (strspn(s, alphabet) != slen - pad)
		return -EINVAL; /* EVP_DecodeBlock() would skip blanks and stray '=' */
	p = malloc(slen / 4 * 3 + 1);
	if (!p)
		return -ENOMEM;
	n = EVP_DecodeBlock(p, (const unsigned char *)s, (int)slen);
	if (n < 0 || (size_t)n != slen / 4 * 3) {
		free(p);
		return -EINVAL;
	}
	*data = p;
	*len = (size_t)n - pad; /* EVP_DecodeBlock() counts padding as zero bytes */
	return 0;
}

int ddb_get_num(const json_t *item, const char *name, uint64_t *out)
{
	const char *s;
	size_t slen;
	uint64_t v = 0;
	int rc;

	rc = attr_get(item, name, "N", &s, &slen);
	if (rc)
		return rc;
	if (slen == 0 || strspn(s, "0123456789") != slen)
		return -EINVAL;
	for (size_t i = 0; i < slen; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL; /* does not fit */
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int ddb_get_str(const json_t *item, const char *name, const char **out)
{
	size_t len;

	return attr_get(item, name, "S", out, &len);
}
