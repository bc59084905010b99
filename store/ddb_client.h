/*
 * ddb_client.h - one DynamoDB API call at a time, over HTTP(S), signed with
 * AWS Signature Version 4: the wire half of the DynamoDB-API backend
 * (store/ddb*.c). It knows DynamoDB's JSON protocol (X-Amz-Target,
 * application/x-amz-json-1.0), its error types and its retry rules, and
 * nothing of itemfs's keys, items or transactions.
 *
 * Built on libcurl (HTTP, TLS), jansson (JSON) and OpenSSL (SHA-256,
 * HMAC, base64): well-kept Debian libraries doing what would otherwise be
 * hand-written here.
 *
 * Threads: a struct ddb_client may be used by any number of threads at once;
 * each call uses a connection of its own (kept alive and reused).
 */
#ifndef ITEMFS_DDB_CLIENT_H
#define ITEMFS_DDB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct ddb_client;

struct ddb_client_config {
	/* "http://HOST[:PORT]" or "https://HOST[:PORT]" (HOST may be a
	 * bracketed IPv6 literal), no path but an optional "/"; borrowed for
	 * ddb_client_new() */
	const char *endpoint;
	/* The signing region ("us-east-1"); NULL: AWS_REGION, then
	 * AWS_DEFAULT_REGION, then "us-east-1" (empty variables count as
	 * unset). */
	const char *region;
	/* Credentials. access_key non-NULL: these three as given (secret_key
	 * NULL: "", session_token NULL or "": none). access_key NULL: all
	 * three from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
	 * AWS_SESSION_TOKEN. No key at all signs with the empty key ""
	 * (local servers such as dynalite accept anything). */
	const char *access_key, *secret_key, *session_token;
	/* Milliseconds one HTTP exchange may take before it is retried
	 * (<= 0: the default, 10,000). */
	long timeout_ms;
	/* Attempts for a retryable failure (throttling, 5xx, a connection or
	 * timeout error) before the call fails (0: the default, 8), with
	 * exponential backoff from 25 ms, capped at 2 s, half of each wait
	 * random. */
	unsigned max_attempts;
	/* Called with each log line (a retry that finally failed, a server
	 * error's message); NULL logs to stderr. priority is syslog's. Called
	 * from whichever thread made the call. */
	void (*log)(int priority, const char *msg);
};

/*
 * Makes a client. Reads the environment for what cfg leaves NULL.
 * Errors: -EINVAL (endpoint missing, not http:// or https://, with a
 * path, query, user name or bad port), -ENOMEM (also when libcurl cannot
 * be initialised). On success *out is the client; free it with
 * ddb_client_free(), after every call on it has returned. It copies what
 * it keeps of cfg. ddb_client_free(NULL) does nothing.
 */
int ddb_client_new(const struct ddb_client_config *cfg, struct ddb_client **out);
void ddb_client_free(struct ddb_client *c);

/* The region requests are signed for (valid until ddb_client_free()). */
const char *ddb_client_region(const struct ddb_client *c);

/* Longest DynamoDB error type kept by ddb_call(), with its NUL. */
#define DDB_ERRTYPE_MAX 96

/*
 * Calls the DynamoDB operation op ("GetItem", "TransactWriteItems", ...;
 * letters and digits only) with the request body req (a JSON object,
 * borrowed, not modified; NULL gives -ENOMEM, so that a json_pack() that
 * failed may be passed straight in, but the caller still owns and frees a
 * req that it built). Retries throttling
 * (ProvisionedThroughputExceededException, ThrottlingException,
 * RequestLimitExceeded), HTTP 5xx and transport errors itself, signing
 * each attempt afresh. A retried write is sent again even if its first
 * answer was merely lost: a conditional write may then fail with -EEXIST
 * on what its own first attempt wrote.
 *
 * On success (HTTP 200) returns 0 and *resp is the parsed response body
 * (transferred: json_decref() it).
 *
 * On failure *resp is untouched, errtype (if non-NULL, DDB_ERRTYPE_MAX
 * bytes; untouched on success) receives the error type without its
 * namespace ("ConditionalCheckFailedException"; "" for transport errors
 * and bad arguments), and the result is:
 *   -EEXIST       ConditionalCheckFailedException
 *   -ECANCELED    TransactionCanceledException (for its reasons, see
 *                 ddb_call_reasons())
 *   -ENOENT       ResourceNotFoundException (no such table)
 *   -EOPNOTSUPP   the server does not know op (UnknownOperationException,
 *                 or an HTTP 400 whose message names op and says
 *                 "unsupported", "not supported" or "not implemented")
 *   -EINVAL       ValidationException (message logged); or c, op, resp
 *                 or req unusable (nothing sent)
 *   -EACCES       an authentication or authorization error (message logged)
 *   -EAGAIN       still throttled after max_attempts
 *   -ETIMEDOUT    no answer after max_attempts (timeouts, refused or
 *                 broken connections)
 *   -EIO          HTTP 5xx still after max_attempts; a TLS or protocol
 *                 failure that retrying cannot mend; anything else
 *                 (message logged)
 *   -ENOMEM
 */
int ddb_call(struct ddb_client *c, const char *op, json_t *req, json_t **resp,
	     char errtype[DDB_ERRTYPE_MAX]);

/*
 * As ddb_call(), and on -ECANCELED *reasons receives the response's
 * CancellationReasons array (transferred; NULL if it had none), one
 * object per action of the transaction: {"Code": "None" |
 * "ConditionalCheckFailed" | "TransactionConflict" | ...}. reasons may be
 * NULL; *reasons is written only on -ECANCELED.
 */
int ddb_call_reasons(struct ddb_client *c, const char *op, json_t *req, json_t **resp,
		     char errtype[DDB_ERRTYPE_MAX], json_t **reasons);

/* ---- attribute values (DynamoDB's typed JSON) --------------------------- */

/* {"B": base64(data)}; NULL on allocation failure (or data NULL with len
 * non-zero, or len over 1.5 GiB). */
json_t *ddb_bin(const void *data, size_t len);
/* {"N": "decimal"} */
json_t *ddb_num(uint64_t v);
/* {"S": s}; NULL if s is NULL or not UTF-8. */
json_t *ddb_str(const char *s);

/*
 * Decodes attribute name of item (an object of attribute values, as in
 * GetItem's "Item"). ddb_get_bin() returns a malloc'd copy in *data (free()
 * it; a zero-length value is a non-NULL 1-byte allocation) and its length.
 * ddb_get_num() takes plain decimal digits only, up to UINT64_MAX.
 * Outputs are written only on success.
 * Errors: -ENOENT (no such attribute, or item NULL), -EINVAL (another
 * type, or not decodable: bad base64, a sign, a fraction, an overflow),
 * -ENOMEM (ddb_get_bin()).
 */
int ddb_get_bin(const json_t *item, const char *name, void **data, size_t *len);
int ddb_get_num(const json_t *item, const char *name, uint64_t *out);
/* The "S" value, valid while item lives. */
int ddb_get_str(const json_t *item, const char *name, const char **out);

/* ---- AWS Signature Version 4 (pure; for the unit tests) ------------------ */

struct ddb_sigv4_request {
	const char *method;   /* "POST" */
	const char *host;     /* the Host header's value */
	const char *path;     /* "/", already URI-encoded */
	const char *query;    /* canonical query string, "" for none */
	const char *amz_date; /* "20150830T123600Z" */
	const char *region, *service;
	const char *access_key, *secret_key;
	const char *session_token; /* NULL: none */
	/* Extra headers to sign beside host and x-amz-date (and
	 * x-amz-security-token when a session token is given): lower-case
	 * names, values trimmed, sorted by name. */
	const char *const *header_names;
	const char *const *header_values;
	size_t nheaders;
	const void *payload;
	size_t payload_len;
};

/*
 * Writes the Authorization header's value for r into out (size bytes):
 * "AWS4-HMAC-SHA256 Credential=.../aws4_request, SignedHeaders=...,
 * Signature=<64 hex>", NUL-terminated; out is written only on success.
 * Errors: -ENOBUFS (size too small), -EINVAL (a field missing, or
 * amz_date not "YYYYMMDDTHHMMSSZ"), -ENOMEM, -EIO (OpenSSL failed).
 * Pure and thread-safe.
 */
int ddb_sigv4_authorization(const struct ddb_sigv4_request *r, char *out, size_t size);

#endif /* ITEMFS_DDB_CLIENT_H */
