/*
 * ddb_sigv4.c - AWS Signature Version 4 for the DynamoDB-API client: the
 * canonical request, the string to sign, the derived key and the
 * Authorization header (ddb_sigv4_authorization() in ddb_client.h). Pure:
 * no I/O, no clock; ddb_client.c supplies the date and the body, and the
 * unit tests AWS's published vectors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ddb_client.h"

/* ---- Signature Version 4 ------------------------------------------------------ */

static void hex(const unsigned char *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

/* out (65 bytes): the hex SHA-256 of data. */
static int sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return -EIO;
	hex(md, 32, out);
	return 0;
}

/* out (32 bytes) = HMAC-SHA256(key, msg). */
static int hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
	unsigned mdlen = 0;

	if (keylen > INT_MAX ||
	    !HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out,
		  &mdlen) ||
	    mdlen != 32)
		return -EIO;
	return 0;
}

struct sig_header {
	const char *name, *value;
};

static int sig_header_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sig_header *)a)->name, ((const struct sig_header *)b)->name);
}

/* The hex signature of string_to_sign with the key derived for date/region/service. */
static int sigv4_sign(const struct ddb_sigv4_request *r, const char *date,
		      const char *string_to_sign, char sig[65])
{
	unsigned char k[32];
	char *secret = NULL;
	int rc;

	if (asprintf(&secret, "AWS4%s", r->secret_key) < 0)
		return -ENOMEM;
	rc = hmac(secret, strlen(secret), date, k);
	if (rc == 0)
		rc = hmac(k, sizeof(k), r->region, k);
	if (rc == 0)
		rc = hmac(k, sizeof(k), r->service, k);
	if (rc == 0)
		rc = hmac(k, sizeof(k), "aws4_request", k);
	if (rc == 0)
		rc = hmac(k, sizeof(k), string_to_sign, k);
	if (rc == 0)
		hex(k, sizeof(k), sig);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	return rc;
}

int ddb_sigv4_authorization(const struct ddb_sigv4_request *r, char *out, size_t size)
{
	struct sig_header *h = NULL;
	char date[9], payload_hash[65], creq_hash[65], sig[65];
	char *creq = NULL, *sts = NULL, *names = NULL, *auth = NULL;
	size_t nh = 0, len = 0;
	FILE *f;
	int rc = 0;

	if (!r || !r->method || !r->host || !r->path || !r->query || !r->amz_date || !r->region ||
	    !r->service || !r->access_key || !r->secret_key || !out ||
	    (r->nheaders && (!r->header_names || !r->header_values)) ||
	    (r->payload_len && !r->payload) || strlen(r->amz_date) != 16 ||
	    strspn(r->amz_date, "0123456789") != 8)
		return -EINVAL;
	memcpy(date, r->amz_date, 8);
	date[8] = '\0';

	h = calloc(r->nheaders + 3, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h[nh++] = (struct sig_header){"host", r->host};
	h[nh++] = (struct sig_header){"x-amz-date", r->amz_date};
	if (r->session_token)
		h[nh++] = (struct sig_header){"x-amz-security-token", r->session_token};
	for (size_t i = 0; i < r->nheaders; i++)
		h[nh++] = (struct sig_header){r->header_names[i], r->header_values[i]};
	qsort(h, nh, sizeof(*h), sig_header_cmp);

	f = open_memstream(&names, &len);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nh; i++)
		fprintf(f, "%s%s", i ? ";" : "", h[i].name);
	if (fclose(f) != 0 || !names) {
		rc = -ENOMEM;
		goto out;
	}

	rc = sha256_hex(r->payload, r->payload_len, payload_hash);
	if (rc)
		goto out;
	f = open_memstream(&creq, &len);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	fprintf(f, "%s\n%s\n%s\n", r->method, r->path, r->query);
	for (size_t i = 0; i < nh; i++)
		fprintf(f, "%s:%s\n", h[i].name, h[i].value);
	fprintf(f, "\n%s\n%s", names, payload_hash);
	if (fclose(f) != 0 || !creq) {
		rc = -ENOMEM;
		goto out;
	}

	rc = sha256_hex(creq, len, creq_hash);
	if (rc)
		goto out;
	if (asprintf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, date,
		     r->region, r->service, creq_hash) < 0) {
		sts = NULL;
		rc = -ENOMEM;
		goto out;
	}
	rc = sigv4_sign(r, date, sts, sig);
	if (rc)
		goto out;
	if (asprintf(&auth,
		     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
		     "Signature=%s",
		     r->access_key, date, r->region, r->service, names, sig) < 0) {
		auth = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if (strlen(auth) >= size) {
		rc = -ENOBUFS;
		goto out;
	}
	memcpy(out, auth, strlen(auth) + 1);
out:
	free(auth);
	free(sts);
	free(creq);
	free(names);
	free(h);
	return rc;
}
