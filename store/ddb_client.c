/*
 * ddb_client.c - the DynamoDB JSON protocol over libcurl: a request is
 * serialised once, signed afresh (AWS Signature Version 4) for each
 * attempt, POSTed to the endpoint's "/" and its answer parsed and mapped
 * to an errno value; throttling, HTTP 5xx and transport failures are
 * retried with capped exponential backoff and jitter. Idle curl easy
 * handles wait in a small per-client pool, so a connection is kept alive
 * between calls and no handle is ever used by two threads at once.
 * Signing is ddb_sigv4.c's, the typed attribute values ddb_attr.c's.
 * What the calls mean (records, transactions, the write lock) is left to
 * ddb_kv.c and ddb.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>

#include <curl/curl.h>

#include "ddb_client.h"

#define DDB_TIMEOUT_MS_DEFAULT 10000L
#define DDB_ATTEMPTS_DEFAULT 8u
#define DDB_BACKOFF_BASE_MS 25u
#define DDB_BACKOFF_CAP_MS 2000u
#define DDB_POOL_MAX 16u	 /* idle easy handles kept per client */
#define DDB_RESP_MAX (64u << 20) /* longest response body accepted, bytes */
#define DDB_OP_MAX 64u		 /* longest operation name */
#define DDB_AUTH_MAX 1024u	 /* longest Authorization value we send */
#define DDB_MSG_MAX 512u	 /* longest log line */
#define DDB_SERVICE "dynamodb"
#define DDB_TARGET_PREFIX "DynamoDB_20120810."
#define DDB_CONTENT_TYPE "application/x-amz-json-1.0"

struct ddb_client {
	char *url;    /* endpoint + "/", what curl is given */
	char *host;   /* the Host header: host, and ":port" unless the default */
	char *region; /* all strings below: immutable after ddb_client_new() */
	char *access_key, *secret_key;
	char *session_token; /* NULL: none */
	long timeout_ms;
	unsigned max_attempts;
	void (*log)(int priority, const char *msg);

	pthread_mutex_t pool_mu;  /* protects pool and npool */
	CURL *pool[DDB_POOL_MAX]; /* idle handles, most recently used last */
	size_t npool;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

__attribute__((format(printf, 3, 4))) static void client_log(const struct ddb_client *c,
							     int priority, const char *fmt, ...)
{
	char msg[DDB_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->log)
		c->log(priority, msg);
	else
		fprintf(stderr, "itemfs: %s\n", msg);
}

/* ---- the client ------------------------------------------------------------ */

/* An environment variable, or NULL when unset or empty. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/*
 * Splits endpoint ("http[s]://HOST[:PORT]", an optional "/" after it) into
 * the URL curl is given and the Host header's value. -EINVAL if it is not
 * of that form, -ENOMEM.
 */
static int endpoint_parse(const char *endpoint, char **url, char **host)
{
	const char *auth, *colon = NULL;
	size_t alen, hlen;
	unsigned long port = 0;
	bool https;
	int n;

	if (!endpoint)
		return -EINVAL;
	if (strncasecmp(endpoint, "http://", 7) == 0) {
		https = false;
		auth = endpoint + 7;
	} else if (strncasecmp(endpoint, "https://", 8) == 0) {
		https = true;
		auth = endpoint + 8;
	} else {
		return -EINVAL;
	}
	alen = strcspn(auth, "/?#");
	if (alen == 0 || (auth[alen] && strcmp(auth + alen, "/") != 0))
		return -EINVAL; /* no host, or a path, query or fragment */
	for (size_t i = 0; i < alen; i++) {
		unsigned char ch = (unsigned char)auth[i];

		if (ch <= ' ' || ch >= 0x7f || ch == '@' || ch == '\\')
			return -EINVAL; /* user info or what no host name holds */
		if (ch == ':')
			colon = auth + i; /* the last one: IPv6 literals are bracketed */
		if (ch == ']')
			colon = NULL;
	}
	if (auth[0] == '[' ? !memchr(auth, ']', alen) : colon && memchr(auth, ':', alen) != colon)
		return -EINVAL;
	hlen = colon ? (size_t)(colon - auth) : alen;
	if (hlen == 0 || hlen > INT_MAX)
		return -EINVAL;
	if (colon) {
		char *end;
		size_t plen = alen - hlen - 1;

		if (plen == 0 || plen > 5 || strspn(colon + 1, "0123456789") < plen)
			return -EINVAL;
		port = strtoul(colon + 1, &end, 10);
		if (port == 0 || port > 65535)
			return -EINVAL;
		if (port == (https ? 443u : 80u))
			port = 0;
	}
	if (asprintf(url, "%s://%.*s/", https ? "https" : "http", (int)alen, auth) < 0)
		return -ENOMEM;
	n = port ? asprintf(host, "%.*s:%lu", (int)hlen, auth, port)
		 : asprintf(host, "%.*s", (int)hlen, auth);
	if (n < 0) {
		free(*url);
		return -ENOMEM;
	}
	return 0;
}

static int dup_or_null(const char *s, char **out)
{
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

int ddb_client_new(const struct ddb_client_config *cfg, struct ddb_client **out)
{
	const char *region, *ak, *sk, *token;
	struct ddb_client *c;
	int rc;

	if (!cfg || !out)
		return -EINVAL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = -pthread_mutex_init(&c->pool_mu, NULL);
	if (rc) {
		free(c);
		return rc;
	}
	region = cfg->region ? cfg->region : env("AWS_REGION");
	if (!region)
		region = env("AWS_DEFAULT_REGION");
	if (cfg->access_key) {
		ak = cfg->access_key;
		sk = cfg->secret_key;
		token = cfg->session_token;
	} else {
		ak = env("AWS_ACCESS_KEY_ID");
		sk = env("AWS_SECRET_ACCESS_KEY");
		token = env("AWS_SESSION_TOKEN");
	}
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DDB_TIMEOUT_MS_DEFAULT;
	c->max_attempts = cfg->max_attempts ? cfg->max_attempts : DDB_ATTEMPTS_DEFAULT;
	c->log = cfg->log;
	rc = endpoint_parse(cfg->endpoint, &c->url, &c->host);
	if (rc == 0)
		rc = dup_or_null(region ? region : "us-east-1", &c->region);
	if (rc == 0)
		rc = dup_or_null(ak ? ak : "", &c->access_key);
	if (rc == 0)
		rc = dup_or_null(sk ? sk : "", &c->secret_key);
	if (rc == 0)
		rc = dup_or_null(token && *token ? token : NULL, &c->session_token);
	if (rc) {
		ddb_client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void ddb_client_free(struct ddb_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->pool_mu);
	free(c->session_token);
	free(c->secret_key);
	free(c->access_key);
	free(c->region);
	free(c->host);
	free(c->url);
	free(c);
}

const char *ddb_client_region(const struct ddb_client *c)
{
	return c->region;
}

/* An idle handle (its connection still open), or a new one; NULL: -ENOMEM. */
static CURL *handle_get(struct ddb_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->pool_mu);
	if (c->npool)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->pool_mu);
	return h ? h : curl_easy_init();
}

/* Gives h back; reset drops the call's options but keeps its connections. */
static void handle_put(struct ddb_client *c, CURL *h)
{
	if (!h)
		return;
	curl_easy_reset(h);
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool < DDB_POOL_MAX) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	curl_easy_cleanup(h);
}

/* ---- one call ------------------------------------------------------------------- */

/* A response body as it arrives. */
struct resp_buf {
	char *p;
	size_t len, cap;
	bool too_big; /* over DDB_RESP_MAX: the transfer was stopped */
};

static size_t body_write(char *data, size_t size, size_t n, void *arg)
{
	struct resp_buf *b = arg;
	size_t add = size * n;

	if (add > DDB_RESP_MAX - b->len - 1) {
		b->too_big = true;
		return 0;
	}
	if (b->len + add + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + add + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* Appends one formatted header to *l; -ENOMEM leaves *l as it was. */
__attribute__((format(printf, 2, 3))) static int header_add(struct curl_slist **l, const char *fmt,
							    ...)
{
	struct curl_slist *n;
	char *s;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -ENOMEM;
	n = curl_slist_append(*l, s);
	free(s);
	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

/* The request's headers, signed now. */
static int headers_make(const struct ddb_client *c, const char *op, const char *body, size_t blen,
			struct curl_slist **out)
{
	static const char *const names[] = {"content-type", "x-amz-target"};
	char target[sizeof(DDB_TARGET_PREFIX) + DDB_OP_MAX], amz_date[17], auth[DDB_AUTH_MAX];
	const char *values[] = {DDB_CONTENT_TYPE, target};
	struct ddb_sigv4_request r = {
	    .method = "POST",
	    .host = c->host,
	    .path = "/",
	    .query = "",
	    .amz_date = amz_date,
	    .region = c->region,
	    .service = DDB_SERVICE,
	    .access_key = c->access_key,
	    .secret_key = c->secret_key,
	    .session_token = c->session_token,
	    .header_names = names,
	    .header_values = values,
	    .nheaders = 2,
	    .payload = body,
	    .payload_len = blen,
	};
	struct curl_slist *l = NULL;
	struct tm tm;
	time_t now = time(NULL);
	int rc;

	snprintf(target, sizeof(target), DDB_TARGET_PREFIX "%s", op);
	if (!gmtime_r(&now, &tm) ||
	    strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return -EIO;
	rc = ddb_sigv4_authorization(&r, auth, sizeof(auth));
	if (rc == -ENOBUFS) {
		client_log(c, LOG_ERR, "DynamoDB %s: the access key is too long to sign with", op);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = header_add(&l, "Content-Type: %s", DDB_CONTENT_TYPE);
	if (rc == 0)
		rc = header_add(&l, "X-Amz-Target: %s", target);
	if (rc == 0)
		rc = header_add(&l, "X-Amz-Date: %s", amz_date);
	if (rc == 0)
		rc = header_add(&l, "Host: %s", c->host);
	if (rc == 0 && c->session_token)
		rc = header_add(&l, "x-amz-security-token: %s", c->session_token);
	if (rc == 0)
		rc = header_add(&l, "Authorization: %s", auth);
	if (rc == 0)
		rc = header_add(&l, "Expect:"); /* no 100-continue round trip */
	if (rc) {
		curl_slist_free_all(l);
		return rc;
	}
	*out = l;
	return 0;
}

static bool type_in(const char *type, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(type, *list) == 0)
			return true;
	return false;
}

static const char *const throttle_types[] = {"ProvisionedThroughputExceededException",
					     "ThrottlingException", "RequestLimitExceeded",
					     "Throttling", NULL};

static const char *const auth_types[] = {"AccessDeniedException",
					 "UnrecognizedClientException",
					 "IncompleteSignatureException",
					 "InvalidSignatureException",
					 "MissingAuthenticationTokenException",
					 "MissingAuthenticationToken",
					 "ExpiredTokenException",
					 "InvalidClientTokenId",
					 "SignatureDoesNotMatch",
					 NULL};

/* Whether an HTTP 400's message says the server does not implement op. */
static bool says_unsupported(const char *op, const char *msg)
{
	return strstr(msg, op) &&
	       (strcasestr(msg, "unsupported") || strcasestr(msg, "not supported") ||
		strcasestr(msg, "not implemented") || strcasestr(msg, "unknown operation"));
}

/* What one attempt came to. */
struct attempt {
	json_t *doc; /* the parsed response body, or NULL */
	bool retry;  /* worth another attempt */
	char type[DDB_ERRTYPE_MAX];
	char why[DDB_MSG_MAX / 2]; /* for the log line if the call fails */
};

/* Maps an HTTP answer other than 200: the result, a->type and a->retry. */
static int answer_map(const struct ddb_client *c, const char *op, const char *what, long status,
		      const struct resp_buf *b, struct attempt *a)
{
	const char *type = json_string_value(json_object_get(a->doc, "__type"));
	const char *msg = json_string_value(json_object_get(a->doc, "message"));
	const char *hash;
	int prio = LOG_ERR, rc;

	if (!msg)
		msg = json_string_value(json_object_get(a->doc, "Message"));
	if (!msg)
		msg = "";
	if (!type && status >= 400 && status < 500 && b->p &&
	    strstr(b->p, "UnknownOperationException"))
		type = "UnknownOperationException"; /* dynalite's 404 for what it cannot route */
	if (!type)
		type = "";
	hash = strrchr(type, '#');
	snprintf(a->type, sizeof(a->type), "%s", hash ? hash + 1 : type);

	if (type_in(a->type, throttle_types)) {
		a->retry = true;
		rc = -EAGAIN;
	} else if (status >= 500) {
		a->retry = true;
		rc = -EIO;
	} else if (strcmp(a->type, "ConditionalCheckFailedException") == 0) {
		rc = -EEXIST;
	} else if (strcmp(a->type, "TransactionCanceledException") == 0) {
		rc = -ECANCELED;
	} else if (strcmp(a->type, "ResourceNotFoundException") == 0) {
		rc = -ENOENT;
	} else if (strcmp(a->type, "UnknownOperationException") == 0 ||
		   (status == 400 && says_unsupported(op, msg))) {
		rc = -EOPNOTSUPP;
	} else if (strcmp(a->type, "ValidationException") == 0) {
		rc = -EINVAL;
		prio = LOG_WARNING;
	} else if (type_in(a->type, auth_types)) {
		rc = -EACCES;
	} else {
		rc = -EIO;
	}
	snprintf(a->why, sizeof(a->why), "HTTP %ld %s: %s", status,
		 *a->type ? a->type : "(no type)", msg);
	if (rc == -EINVAL || rc == -EACCES || (rc == -EIO && !a->retry))
		client_log(c, prio, "%s: %s", what, a->why);
	return rc;
}

/* Whether a transport failure may go away if tried again. */
static bool curl_transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_WRITE_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return false;
	default:
		return true;
	}
}

/* One signed POST on h: its result, with a filled in as the caller's loop needs. */
static int attempt_once(struct ddb_client *c, CURL *h, const char *op, const char *what,
			const char *body, size_t blen, struct attempt *a)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hl = NULL;
	struct resp_buf b = {0};
	long status = 0;
	CURLcode cc;
	int rc;

	rc = headers_make(c, op, body, blen, &hl);
	if (rc)
		goto out;
	/* Each call sets every option: handle_put() reset the handle. */
	if (curl_easy_setopt(h, CURLOPT_URL, c->url) ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) || /* threads: no SIGALRM */
	    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms) ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl) ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen) ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write) ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b) ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf))
		cc = CURLE_OUT_OF_MEMORY;
	else
		cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		cc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL); /* errbuf dies here */

	if (b.too_big) {
		snprintf(a->why, sizeof(a->why), "a response of over %u bytes", DDB_RESP_MAX);
		client_log(c, LOG_ERR, "%s: %s", what, a->why);
		rc = -EIO;
	} else if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR) {
		rc = -ENOMEM; /* body_write()'s realloc failed */
	} else if (cc != CURLE_OK) {
		snprintf(a->why, sizeof(a->why), "%s", *errbuf ? errbuf : curl_easy_strerror(cc));
		a->retry = curl_transient(cc);
		rc = a->retry ? -ETIMEDOUT : -EIO;
		if (!a->retry)
			client_log(c, LOG_ERR, "%s at %s: %s", what, c->url, a->why);
	} else {
		a->doc = b.len ? json_loadb(b.p, b.len, 0, NULL) : NULL;
		if (status != 200) {
			rc = answer_map(c, op, what, status, &b, a);
		} else if (!json_is_object(a->doc)) {
			snprintf(a->why, sizeof(a->why),
				 "HTTP 200 with a body that is no JSON object");
			client_log(c, LOG_ERR, "%s: %s", what, a->why);
			rc = -EIO;
		}
	}
out:
	free(b.p);
	curl_slist_free_all(hl);
	return rc;
}

/* Sleeps before attempt n + 1: exponential from 25 ms, capped, half of it random. */
static void backoff(unsigned n)
{
	static _Thread_local uint64_t rng;
	unsigned ms = DDB_BACKOFF_CAP_MS;
	struct timespec ts;

	if (n < 8 && DDB_BACKOFF_BASE_MS << (n - 1) < ms)
		ms = DDB_BACKOFF_BASE_MS << (n - 1);
	while (rng == 0)
		if (getrandom(&rng, sizeof(rng), GRND_NONBLOCK) != (ssize_t)sizeof(rng))
			rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&ts;
	rng ^= rng << 13; /* xorshift64 */
	rng ^= rng >> 7;
	rng ^= rng << 17;
	ms = ms / 2 + (unsigned)(rng % (ms / 2 + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The operation name goes into a header: letters and digits only. */
static bool op_valid(const char *op)
{
	size_t n = op ? strlen(op) : 0;

	return n > 0 && n <= DDB_OP_MAX &&
	       strspn(op, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == n;
}

int ddb_call_reasons(struct ddb_client *c, const char *op, json_t *req, json_t **resp,
		     char errtype[DDB_ERRTYPE_MAX], json_t **reasons)
{
	const char *table = json_string_value(json_object_get(req, "TableName"));
	char what[DDB_MSG_MAX / 2], *body = NULL;
	struct attempt a = {0};
	CURL *h = NULL;
	size_t blen;
	int rc = 0;

	if (!c || !op_valid(op) || !resp || (req && !json_is_object(req)))
		rc = -EINVAL;
	else if (!req)
		rc = -ENOMEM; /* so that a failed json_pack() may be passed straight in */
	if (rc)
		goto out;
	snprintf(what, sizeof(what), "DynamoDB %s%s%s", op, table ? " on table " : "",
		 table ? table : ""); /* for log lines */
	body = json_dumps(req, JSON_COMPACT);
	h = body ? handle_get(c) : NULL;
	if (!h) {
		rc = -ENOMEM;
		goto out;
	}
	blen = strlen(body);
	for (unsigned n = 1;; n++) {
		json_decref(a.doc);
		a.doc = NULL;
		a.retry = false;
		a.type[0] = '\0';
		rc = attempt_once(c, h, op, what, body, blen, &a);
		if (!a.retry)
			break;
		if (n >= c->max_attempts) {
			client_log(c, LOG_ERR, "%s: gave up after %u attempts: %s", what, n, a.why);
			break;
		}
		backoff(n);
	}
	if (rc == 0) {
		*resp = a.doc;
		a.doc = NULL;
	} else if (rc == -ECANCELED && reasons) {
		json_t *r = json_object_get(a.doc, "CancellationReasons");

		*reasons = json_is_array(r) ? json_incref(r) : NULL;
	}
out:
	if (rc && errtype)
		snprintf(errtype, DDB_ERRTYPE_MAX, "%s", a.type);
	handle_put(c, h);
	json_decref(a.doc);
	free(body);
	return rc;
}

int ddb_call(struct ddb_client *c, const char *op, json_t *req, json_t **resp,
	     char errtype[DDB_ERRTYPE_MAX])
{
	return ddb_call_reasons(c, op, req, resp, errtype, NULL);
}
