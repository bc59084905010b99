/*
 * test_ddb_client.c - store/ddb_client.c: Signature Version 4 against AWS's
 * published examples, the typed attribute values, endpoint parsing, and
 * ddb_call() against a small HTTP/1.1 peer run in a thread on 127.0.0.1
 * (canned answers; it records each request and checks its signature).
 * With ITEMFS_TEST_DDB_ENDPOINT set (a dynalite, "http://127.0.0.1:PORT"),
 * one more test makes a table there and round-trips an item; without it
 * that test is skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ddb_client.h"

#define TEST_AK "AKIDTEST"
#define TEST_SK "test/secret+key"
#define TEST_REGION "eu-west-3"
#define TEST_TOKEN "FQoGZXIvYXdzEXAMPLE//token+with/slashes=="
#define PEER_CONN_MAX 32

/* ---- captured log lines ------------------------------------------------------ */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char logged[8192];

static void log_capture(int priority, const char *msg)
{
	pthread_mutex_lock(&log_mu);
	size_t n = strlen(logged);

	snprintf(logged + n, sizeof(logged) - n, "%d %s\n", priority, msg);
	pthread_mutex_unlock(&log_mu);
}

static void log_reset(void)
{
	pthread_mutex_lock(&log_mu);
	logged[0] = '\0';
	pthread_mutex_unlock(&log_mu);
}

/* ---- the HTTP peer ------------------------------------------------------------- */

struct canned {
	int status; /* 0: never answer, so that the client times out */
	const char *body;
};

/* What the peer saw of one request. */
struct seen {
	char method[16], path[64], target[128], auth[512], host[128], date[32], ctype[64];
	char token[512];
	bool expect;
	char *body; /* malloc'd */
	size_t body_len;
};

struct peer {
	int lfd, port;
	char endpoint[64];
	pthread_t acceptor;
	atomic_bool stop;
	pthread_mutex_t mu;	     /* the fields below */
	const struct canned *script; /* request i gets script[min(i, nscript - 1)] */
	size_t nscript;
	unsigned nreq, nconn;
	pthread_t conns[PEER_CONN_MAX];
	size_t nconns;
	struct seen last;
};

struct conn {
	struct peer *p;
	int fd;
	char *buf;
	size_t len, cap;
};

/*
 * Reads until k holds need bytes, kept NUL-terminated for sscanf() and
 * strtoul(); false at EOF, on an error or when stopped.
 */
static bool conn_fill(struct conn *k, size_t need)
{
	while (k->len < need) {
		struct pollfd pfd = {.fd = k->fd, .events = POLLIN};
		ssize_t n;

		if (atomic_load(&k->p->stop))
			return false;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (k->cap < need || k->cap - k->len < 4096) {
			size_t cap = (need > k->len + 65536 ? need : k->len + 65536);
			char *b = realloc(k->buf, cap + 1);

			if (!b)
				return false;
			k->buf = b;
			k->cap = cap;
		}
		n = read(k->fd, k->buf + k->len, k->cap - k->len);
		if (n <= 0)
			return false;
		k->len += (size_t)n;
		k->buf[k->len] = '\0';
	}
	return true;
}

static void field(char *dst, size_t size, const char *v, size_t vlen)
{
	snprintf(dst, size, "%.*s", (int)vlen, v);
}

/* Parses one request's head (hlen bytes) into s; its Content-Length. */
static size_t head_parse(const char *h, size_t hlen, struct seen *s)
{
	const char *end = h + hlen, *line = h, *eol;
	size_t clen = 0;

	eol = memmem(line, (size_t)(end - line), "\r\n", 2);
	sscanf(line, "%15s %63s", s->method, s->path);
	for (line = eol + 2; line < end && (eol = memmem(line, (size_t)(end - line), "\r\n", 2));
	     line = eol + 2) {
		const char *colon = memchr(line, ':', (size_t)(eol - line)), *v;
		size_t nlen, vlen;

		if (!colon)
			continue;
		nlen = (size_t)(colon - line);
		for (v = colon + 1; v < eol && *v == ' '; v++)
			;
		vlen = (size_t)(eol - v);
#define IS(name) (nlen == strlen(name) && strncasecmp(line, name, nlen) == 0)
		if (IS("x-amz-target"))
			field(s->target, sizeof(s->target), v, vlen);
		else if (IS("authorization"))
			field(s->auth, sizeof(s->auth), v, vlen);
		else if (IS("host"))
			field(s->host, sizeof(s->host), v, vlen);
		else if (IS("x-amz-date"))
			field(s->date, sizeof(s->date), v, vlen);
		else if (IS("content-type"))
			field(s->ctype, sizeof(s->ctype), v, vlen);
		else if (IS("x-amz-security-token"))
			field(s->token, sizeof(s->token), v, vlen);
		else if (IS("expect"))
			s->expect = true;
		else if (IS("content-length"))
			clen = strtoul(v, NULL, 10);
#undef IS
	}
	return clen;
}

static bool send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void *conn_run(void *arg)
{
	struct conn *k = arg;
	struct peer *p = k->p;

	for (;;) {
		struct seen s = {0};
		struct canned a;
		char *hend = NULL;
		size_t hlen, clen;

		while (!(hend = k->len ? memmem(k->buf, k->len, "\r\n\r\n", 4) : NULL))
			if (!conn_fill(k, k->len + 1))
				goto out;
		hlen = (size_t)(hend - k->buf) + 4;
		clen = head_parse(k->buf, hlen, &s);
		if (!conn_fill(k, hlen + clen))
			goto out;
		s.body = malloc(clen + 1);
		if (!s.body)
			goto out;
		memcpy(s.body, k->buf + hlen, clen);
		s.body[clen] = '\0';
		s.body_len = clen;
		memmove(k->buf, k->buf + hlen + clen, k->len - hlen - clen);
		k->len -= hlen + clen;
		k->buf[k->len] = '\0';

		pthread_mutex_lock(&p->mu);
		free(p->last.body);
		p->last = s;
		a = p->script[p->nreq < p->nscript ? p->nreq : p->nscript - 1];
		p->nreq++;
		pthread_mutex_unlock(&p->mu);

		if (a.status) {
			char head[256];
			int n =
			    snprintf(head, sizeof(head),
				     "HTTP/1.1 %d X\r\nContent-Type: application/x-amz-json-1.0\r\n"
				     "Content-Length: %zu\r\n\r\n",
				     a.status, strlen(a.body));

			if (!send_all(k->fd, head, (size_t)n) ||
			    !send_all(k->fd, a.body, strlen(a.body)))
				goto out;
		}
	}
out:
	close(k->fd);
	free(k->buf);
	free(k);
	return NULL;
}

static void *accept_run(void *arg)
{
	struct peer *p = arg;

	while (!atomic_load(&p->stop)) {
		struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
		struct conn *k;
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(p->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		k = calloc(1, sizeof(*k));
		pthread_mutex_lock(&p->mu);
		p->nconn++;
		if (k && p->nconns < PEER_CONN_MAX) {
			k->p = p;
			k->fd = fd;
			if (pthread_create(&p->conns[p->nconns], NULL, conn_run, k) == 0) {
				p->nconns++;
				k = NULL;
				fd = -1;
			}
		}
		pthread_mutex_unlock(&p->mu);
		free(k);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static const struct canned ok_empty[] = {{200, "{}"}};

static int peer_start(struct peer *p)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t salen = sizeof(sa);

	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(p->lfd, 64) ||
	    getsockname(p->lfd, (struct sockaddr *)&sa, &salen))
		return -1;
	p->port = ntohs(sa.sin_port);
	snprintf(p->endpoint, sizeof(p->endpoint), "http://127.0.0.1:%d", p->port);
	p->script = ok_empty;
	p->nscript = 1;
	pthread_mutex_init(&p->mu, NULL);
	atomic_store(&p->stop, false);
	return pthread_create(&p->acceptor, NULL, accept_run, p) ? -1 : 0;
}

static void peer_stop(struct peer *p)
{
	atomic_store(&p->stop, true);
	pthread_join(p->acceptor, NULL);
	for (size_t i = 0; i < p->nconns; i++)
		pthread_join(p->conns[i], NULL);
	close(p->lfd);
	free(p->last.body);
	pthread_mutex_destroy(&p->mu);
}

static void peer_script(struct peer *p, const struct canned *script, size_t n)
{
	pthread_mutex_lock(&p->mu);
	p->script = script;
	p->nscript = n;
	pthread_mutex_unlock(&p->mu);
}

static unsigned peer_nreq(struct peer *p)
{
	pthread_mutex_lock(&p->mu);
	unsigned n = p->nreq;
	pthread_mutex_unlock(&p->mu);
	return n;
}

static unsigned peer_nconn(struct peer *p)
{
	pthread_mutex_lock(&p->mu);
	unsigned n = p->nconn;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* The last request (its body valid until the next one). */
static struct seen peer_last(struct peer *p)
{
	pthread_mutex_lock(&p->mu);
	struct seen s = p->last;
	pthread_mutex_unlock(&p->mu);
	return s;
}

/* Asserts that s's Authorization is the signature of what the peer received. */
static void assert_signed(const struct seen *s, const char *token)
{
	static const char *const names[] = {"content-type", "x-amz-target"};
	const char *values[] = {s->ctype, s->target};
	struct ddb_sigv4_request r = {
	    .method = s->method,
	    .host = s->host,
	    .path = s->path,
	    .query = "",
	    .amz_date = s->date,
	    .region = TEST_REGION,
	    .service = "dynamodb",
	    .access_key = TEST_AK,
	    .secret_key = TEST_SK,
	    .session_token = token,
	    .header_names = names,
	    .header_values = values,
	    .nheaders = 2,
	    .payload = s->body,
	    .payload_len = s->body_len,
	};
	char auth[512];

	assert_int_equal(ddb_sigv4_authorization(&r, auth, sizeof(auth)), 0);
	assert_string_equal(s->auth, auth);
}

/* ---- fixtures -------------------------------------------------------------------- */

struct fx {
	struct peer peer;
	struct ddb_client *c;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || peer_start(&f->peer)) {
		free(f);
		return -1;
	}
	log_reset();
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	ddb_client_free(f->c);
	peer_stop(&f->peer);
	free(f);
	return 0;
}

/* f's client for its peer, with attempts and timeout_ms (0: defaults). */
static struct ddb_client *fx_client(struct fx *f, unsigned attempts, long timeout_ms,
				    const char *token)
{
	struct ddb_client_config cfg = {
	    .endpoint = f->peer.endpoint,
	    .region = TEST_REGION,
	    .access_key = TEST_AK,
	    .secret_key = TEST_SK,
	    .session_token = token,
	    .timeout_ms = timeout_ms,
	    .max_attempts = attempts,
	    .log = log_capture,
	};

	assert_int_equal(ddb_client_new(&cfg, &f->c), 0);
	return f->c;
}

/* Calls op with {"TableName": "t1"} on f's client; the response in *resp. */
static int fx_call(struct fx *f, const char *op, json_t **resp, char errtype[DDB_ERRTYPE_MAX])
{
	json_t *req = json_pack("{s:s}", "TableName", "t1");
	int rc;

	assert_non_null(req);
	rc = ddb_call(f->c, op, req, resp, errtype);
	json_decref(req);
	return rc;
}

/* Calls GetItem once against the canned answer a: the result; errtype filled. */
static int call_canned(struct fx *f, const struct canned *a, size_t n, unsigned attempts,
		       char errtype[DDB_ERRTYPE_MAX])
{
	json_t *resp = (json_t *)0x1; /* must stay untouched on failure */
	int rc;

	peer_script(&f->peer, a, n);
	fx_client(f, attempts, 0, NULL);
	memset(errtype, 'x', DDB_ERRTYPE_MAX);
	rc = fx_call(f, "GetItem", &resp, errtype);
	if (rc)
		assert_ptr_equal(resp, (json_t *)0x1);
	else
		json_decref(resp);
	return rc;
}

/* ---- Signature Version 4 ------------------------------------------------------------- */

static const char *const iam_names[] = {"content-type"};
static const char *const iam_values[] = {"application/x-www-form-urlencoded; charset=utf-8"};

static struct ddb_sigv4_request iam_example(void)
{
	return (struct ddb_sigv4_request){
	    .method = "GET",
	    .host = "iam.amazonaws.com",
	    .path = "/",
	    .query = "Action=ListUsers&Version=2010-05-08",
	    .amz_date = "20150830T123600Z",
	    .region = "us-east-1",
	    .service = "iam",
	    .access_key = "AKIDEXAMPLE",
	    .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	    .header_names = iam_names,
	    .header_values = iam_values,
	    .nheaders = 1,
	    .payload = "",
	    .payload_len = 0,
	};
}

static const char iam_auth[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, "
    "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

/* AWS's example from the Signature Version 4 documentation. */
static void test_sigv4_aws_example(void **state)
{
	struct ddb_sigv4_request r = iam_example();
	char out[512];

	(void)state;
	assert_int_equal(ddb_sigv4_authorization(&r, out, sizeof(out)), 0);
	assert_string_equal(out, iam_auth);
}

/* The AWS SigV4 test suite's post-sts-header-before: the token is signed. */
static void test_sigv4_session_token(void **state)
{
	struct ddb_sigv4_request r = {
	    .method = "POST",
	    .host = "example.amazonaws.com",
	    .path = "/",
	    .query = "",
	    .amz_date = "20150830T123600Z",
	    .region = "us-east-1",
	    .service = "service",
	    .access_key = "AKIDEXAMPLE",
	    .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	    .session_token =
		"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGB"
		"uFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmU"
		"pp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q"
		"6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4"
		"rvx3iSIlTJabIQwj2ICCR/oLxBA==",
	};
	char out[512];

	(void)state;
	assert_int_equal(ddb_sigv4_authorization(&r, out, sizeof(out)), 0);
	assert_string_equal(
	    out, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		 "SignedHeaders=host;x-amz-date;x-amz-security-token, "
		 "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
}

/* -ENOBUFS below strlen + 1, with out untouched; exactly strlen + 1 fits. */
static void test_sigv4_small_buffer(void **state)
{
	struct ddb_sigv4_request r = iam_example();
	char out[sizeof(iam_auth)];

	(void)state;
	memset(out, '#', sizeof(out));
	assert_int_equal(ddb_sigv4_authorization(&r, out, sizeof(out) - 1), -ENOBUFS);
	assert_int_equal(ddb_sigv4_authorization(&r, out, 10), -ENOBUFS);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], '#');
	assert_int_equal(ddb_sigv4_authorization(&r, out, sizeof(out)), 0);
	assert_string_equal(out, iam_auth);
}

static void test_sigv4_bad_date(void **state)
{
	struct ddb_sigv4_request r = iam_example();
	char out[512];

	(void)state;
	r.amz_date = "2015-08-30T12:36:00Z";
	assert_int_equal(ddb_sigv4_authorization(&r, out, sizeof(out)), -EINVAL);
	r.amz_date = NULL;
	assert_int_equal(ddb_sigv4_authorization(&r, out, sizeof(out)), -EINVAL);
}

/* ---- attribute values ---------------------------------------------------------- */

static void bin_roundtrip(const void *data, size_t len, const char *b64)
{
	json_t *item = json_object(), *v = ddb_bin(data, len);
	void *out = NULL;
	size_t olen = 12345;

	assert_non_null(item);
	assert_non_null(v);
	if (b64)
		assert_string_equal(json_string_value(json_object_get(v, "B")), b64);
	json_object_set_new(item, "v", v);
	assert_int_equal(ddb_get_bin(item, "v", &out, &olen), 0);
	assert_non_null(out);
	assert_int_equal(olen, len);
	if (len)
		assert_memory_equal(out, data, len);
	free(out);
	json_decref(item);
}

static void test_bin_small(void **state)
{
	static const unsigned char d[] = {0x00, 0xff, 0x10, 0x80};

	(void)state;
	bin_roundtrip(d, 0, "");
	bin_roundtrip(d, 1, "AA==");
	bin_roundtrip(d, 2, "AP8=");
	bin_roundtrip(d, 3, "AP8Q");
	bin_roundtrip(d, 4, "AP8QgA==");
}

static void test_bin_large(void **state)
{
	size_t len = 300000;
	unsigned char *d = malloc(len);

	(void)state;
	assert_non_null(d);
	for (size_t i = 0; i < len;) {
		ssize_t n = getrandom(d + i, len - i, 0);

		assert_true(n > 0);
		i += (size_t)n;
	}
	bin_roundtrip(d, len, NULL);
	bin_roundtrip(d, len - 1, NULL);
	bin_roundtrip(d, len - 2, NULL);
	free(d);
}

static void test_bin_rejects(void **state)
{
	static const char *const bad[] = {
	    "A", "AAA", "AB=C", "A===", "====", "AA AA==", "AA\nA", "AA*A"};
	json_t *item;
	void *out = (void *)0x1;
	size_t len = 7;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		item = json_pack("{s:{s:s}}", "v", "B", bad[i]);
		assert_non_null(item);
		assert_int_equal(ddb_get_bin(item, "v", &out, &len), -EINVAL);
		json_decref(item);
	}
	item = json_pack("{s:{s:s}, s:s}", "v", "S", "AAAA", "w", "AAAA");
	assert_int_equal(ddb_get_bin(item, "v", &out, &len), -EINVAL);
	assert_int_equal(ddb_get_bin(item, "w", &out, &len), -EINVAL);
	assert_int_equal(ddb_get_bin(item, "missing", &out, &len), -ENOENT);
	assert_int_equal(ddb_get_bin(NULL, "v", &out, &len), -ENOENT);
	assert_ptr_equal(out, (void *)0x1);
	assert_int_equal(len, 7);
	json_decref(item);
}

static void num_roundtrip(uint64_t v, const char *s)
{
	json_t *item = json_object(), *n = ddb_num(v);
	uint64_t out = 0;

	assert_non_null(n);
	assert_string_equal(json_string_value(json_object_get(n, "N")), s);
	json_object_set_new(item, "n", n);
	assert_int_equal(ddb_get_num(item, "n", &out), 0);
	assert_true(out == v);
	json_decref(item);
}

static void test_num_roundtrip(void **state)
{
	(void)state;
	num_roundtrip(0, "0");
	num_roundtrip(1, "1");
	num_roundtrip(1234567890123ull, "1234567890123");
	num_roundtrip(UINT64_MAX, "18446744073709551615");
}

static void test_num_rejects(void **state)
{
	static const char *const bad[] = {
	    "-1", "1.5", "",	"18446744073709551616", "99999999999999999999", "1e3",
	    " 1", "+1",	 "0x10"};
	uint64_t out = 42;
	json_t *item;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		item = json_pack("{s:{s:s}}", "n", "N", bad[i]);
		assert_non_null(item);
		assert_int_equal(ddb_get_num(item, "n", &out), -EINVAL);
		json_decref(item);
	}
	item = json_pack("{s:{s:s}, s:{s:i}}", "s", "S", "1", "i", "N", 1);
	assert_int_equal(ddb_get_num(item, "s", &out), -EINVAL);
	assert_int_equal(ddb_get_num(item, "i", &out), -EINVAL); /* a JSON number, not a string */
	assert_int_equal(ddb_get_num(item, "missing", &out), -ENOENT);
	assert_true(out == 42);
	json_decref(item);
}

static void test_str(void **state)
{
	json_t *item = json_object();
	const char *s = NULL;

	(void)state;
	json_object_set_new(item, "s", ddb_str("h\xc3\xa9llo"));
	json_object_set_new(item, "b", ddb_bin("x", 1));
	assert_int_equal(ddb_get_str(item, "s", &s), 0);
	assert_string_equal(s, "h\xc3\xa9llo");
	assert_int_equal(ddb_get_str(item, "b", &s), -EINVAL);
	assert_int_equal(ddb_get_str(item, "missing", &s), -ENOENT);
	json_decref(item);
}

/* ---- the client ---------------------------------------------------------------------- */

static int client_new(const char *endpoint, struct ddb_client **c)
{
	struct ddb_client_config cfg = {.endpoint = endpoint, .log = log_capture};

	return ddb_client_new(&cfg, c);
}

static void test_client_endpoint_rejects(void **state)
{
	static const char *const bad[] = {NULL,
					  "",
					  "ftp://x",
					  "http://h/path",
					  "http://",
					  "http:///x",
					  "http://h:0",
					  "http://h:65536",
					  "http://h:",
					  "http://h:80x",
					  "http://user@h",
					  "http://h?x=1",
					  "http://h#f",
					  "http://h x",
					  "h:8000",
					  "http://::1:8000"};
	struct ddb_client *c = (struct ddb_client *)0x1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("endpoint %s\n", bad[i] ? bad[i] : "(null)");
		assert_int_equal(client_new(bad[i], &c), -EINVAL);
	}
	assert_ptr_equal(c, (struct ddb_client *)0x1);
}

static void test_client_endpoint_accepts(void **state)
{
	static const char *const good[] = {"http://127.0.0.1:8000",
					   "http://h:8000/",
					   "https://dynamodb.eu-west-3.amazonaws.com",
					   "HTTPS://h:4443",
					   "http://[::1]:8000",
					   "http://localhost"};
	struct ddb_client *c = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		print_message("endpoint %s\n", good[i]);
		assert_int_equal(client_new(good[i], &c), 0);
		ddb_client_free(c);
		c = NULL;
	}
	ddb_client_free(NULL);
}

static const char *region_with(const char *cfg_region, const char *aws_region,
			       const char *aws_default_region, char *buf, size_t size)
{
	struct ddb_client_config cfg = {.endpoint = "http://h:1", .region = cfg_region};
	struct ddb_client *c = NULL;

	if (aws_region)
		setenv("AWS_REGION", aws_region, 1);
	else
		unsetenv("AWS_REGION");
	if (aws_default_region)
		setenv("AWS_DEFAULT_REGION", aws_default_region, 1);
	else
		unsetenv("AWS_DEFAULT_REGION");
	assert_int_equal(ddb_client_new(&cfg, &c), 0);
	snprintf(buf, size, "%s", ddb_client_region(c));
	ddb_client_free(c);
	return buf;
}

static void test_client_region_env(void **state)
{
	char b[64];

	(void)state;
	assert_string_equal(region_with(NULL, NULL, NULL, b, sizeof(b)), "us-east-1");
	assert_string_equal(region_with(NULL, "", "", b, sizeof(b)), "us-east-1");
	assert_string_equal(region_with(NULL, NULL, "ap-south-1", b, sizeof(b)), "ap-south-1");
	assert_string_equal(region_with(NULL, "eu-north-1", "ap-south-1", b, sizeof(b)),
			    "eu-north-1");
	assert_string_equal(region_with("sa-east-1", "eu-north-1", "ap-south-1", b, sizeof(b)),
			    "sa-east-1");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
}

/* Credentials from the environment, the session token among them, go on the wire. */
static void test_client_credentials_env(void **state)
{
	struct fx *f = *state;
	struct ddb_client_config cfg = {.endpoint = f->peer.endpoint, .region = TEST_REGION};
	json_t *resp = NULL;
	struct seen s;

	setenv("AWS_ACCESS_KEY_ID", TEST_AK, 1);
	setenv("AWS_SECRET_ACCESS_KEY", TEST_SK, 1);
	setenv("AWS_SESSION_TOKEN", TEST_TOKEN, 1);
	assert_int_equal(ddb_client_new(&cfg, &f->c), 0);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(fx_call(f, "DescribeTable", &resp, NULL), 0);
	json_decref(resp);
	s = peer_last(&f->peer);
	assert_string_equal(s.token, TEST_TOKEN);
	assert_int_equal(strncmp(s.auth, "AWS4-HMAC-SHA256 Credential=" TEST_AK "/",
				 strlen("AWS4-HMAC-SHA256 Credential=" TEST_AK "/")),
			 0);
	assert_non_null(strstr(s.auth,
			       "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;"
			       "x-amz-target, "));
	assert_signed(&s, TEST_TOKEN);
}

/* ---- ddb_call() against the peer --------------------------------------------------------- */

/* A 200: the parsed body; the request as DynamoDB wants it, signed. */
static void test_call_ok(void **state)
{
	static const struct canned a[] = {{200, "{\"Item\":{\"v\":{\"S\":\"x\"}}}"}};
	struct fx *f = *state;
	json_t *req, *resp = NULL;
	char port[16], errtype[DDB_ERRTYPE_MAX] = "untouched";
	struct seen s;

	peer_script(&f->peer, a, 1);
	fx_client(f, 0, 0, NULL);
	req = json_pack("{s:s, s:{s:{s:s}}, s:b}", "TableName", "t1", "Key", "p", "B",
			"AAE=", "ConsistentRead", 1);
	assert_int_equal(ddb_call(f->c, "GetItem", req, &resp, errtype), 0);
	assert_string_equal(errtype, "untouched");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(resp, "Item"), "v"), "S")),
			    "x");
	json_decref(resp);

	s = peer_last(&f->peer);
	assert_string_equal(s.method, "POST");
	assert_string_equal(s.path, "/");
	assert_string_equal(s.target, "DynamoDB_20120810.GetItem");
	assert_string_equal(s.ctype, "application/x-amz-json-1.0");
	snprintf(port, sizeof(port), ":%d", f->peer.port);
	assert_int_equal(strncmp(s.host, "127.0.0.1", 9), 0);
	assert_string_equal(s.host + 9, port);
	assert_int_equal(strlen(s.date), 16);
	assert_int_equal(s.date[8], 'T');
	assert_int_equal(s.token[0], '\0');
	assert_false(s.expect);
	assert_int_equal(strncmp(s.auth, "AWS4-HMAC-SHA256 Credential=", 28), 0);
	assert_int_equal(strncmp(s.auth + 28, TEST_AK "/", 9), 0);
	assert_non_null(strstr(s.auth, "/" TEST_REGION "/dynamodb/aws4_request, "
				       "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
				       "Signature="));
	assert_string_equal(s.body, "{\"TableName\":\"t1\",\"Key\":{\"p\":{\"B\":\"AAE=\"}},"
				    "\"ConsistentRead\":true}");
	assert_signed(&s, NULL);
	assert_int_equal(peer_nreq(&f->peer), 1);
	json_decref(req);
}

static void test_call_conditional_failed(void **state)
{
	static const struct canned a[] = {
	    {400,
	     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
	     "\"message\":\"The conditional request failed\"}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 0, errtype), -EEXIST);
	assert_string_equal(errtype, "ConditionalCheckFailedException");
	assert_int_equal(peer_nreq(&f->peer), 1);
	assert_string_equal(logged, ""); /* expected by the caller: no log line */
}

static void test_call_unknown_operation(void **state)
{
	static const struct canned a[] = {
	    {400, "{\"__type\":\"com.amazon.coral.service#UnknownOperationException\"}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 0, errtype), -EOPNOTSUPP);
	assert_string_equal(errtype, "UnknownOperationException");
	assert_int_equal(peer_nreq(&f->peer), 1);
}

/* A ValidationException that names the operation as unsupported (ScyllaDB's way). */
static void test_call_unsupported_message(void **state)
{
	static const struct canned a[] = {
	    {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ValidationException\","
		  "\"message\":\"Unsupported operation GetItem\"}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 0, errtype), -EOPNOTSUPP);
	assert_string_equal(errtype, "ValidationException");
}

static void test_call_validation(void **state)
{
	static const struct canned a[] = {
	    {400, "{\"__type\":\"com.amazon.coral.validate#ValidationException\","
		  "\"message\":\"One or more parameter values were invalid\"}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 0, errtype), -EINVAL);
	assert_string_equal(errtype, "ValidationException");
	assert_non_null(strstr(logged, "GetItem on table t1: HTTP 400 ValidationException: One or "
				       "more parameter values were invalid\n"));
}

static void test_call_access_denied(void **state)
{
	static const struct canned a[] = {
	    {400, "{\"__type\":\"com.amazon.coral.service#UnrecognizedClientException\","
		  "\"message\":\"The security token included in the request is invalid.\"}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 0, errtype), -EACCES);
	assert_string_equal(errtype, "UnrecognizedClientException");
	assert_non_null(strstr(logged, "The security token included in the request is invalid."));
}

static void test_call_no_table(void **state)
{
	static const struct canned a[] = {
	    {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
		  "\"message\":\"Requested resource not found\"}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 0, errtype), -ENOENT);
	assert_string_equal(errtype, "ResourceNotFoundException");
}

static void test_call_unknown_type(void **state)
{
	static const struct canned a[] = {{400, "{\"__type\":\"x#ItemCollectionSizeLimitExceeded"
						"Exception\",\"Message\":\"too big\"}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 0, errtype), -EIO);
	assert_string_equal(errtype, "ItemCollectionSizeLimitExceededException");
	assert_non_null(strstr(logged, "too big"));
}

static void test_call_bad_json(void **state)
{
	static const struct canned a[] = {{200, "{\"Item\":"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 0, errtype), -EIO);
	assert_string_equal(errtype, "");
	assert_int_equal(peer_nreq(&f->peer), 1);
}

static void test_call_canceled_reasons(void **state)
{
	static const struct canned a[] = {
	    {400,
	     "{\"__type\":\"com.amazonaws.dynamodb.v20120810#TransactionCanceledException\","
	     "\"Message\":\"Transaction cancelled\",\"CancellationReasons\":"
	     "[{\"Code\":\"None\"},{\"Code\":\"ConditionalCheckFailed\",\"Message\":\"x\"}]}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];
	json_t *req = json_pack("{s:[]}", "TransactItems"), *resp = NULL, *reasons = NULL;

	peer_script(&f->peer, a, 1);
	fx_client(f, 0, 0, NULL);
	assert_int_equal(
	    ddb_call_reasons(f->c, "TransactWriteItems", req, &resp, errtype, &reasons),
	    -ECANCELED);
	assert_null(resp);
	assert_string_equal(errtype, "TransactionCanceledException");
	assert_true(json_is_array(reasons));
	assert_int_equal(json_array_size(reasons), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(reasons, 0), "Code")),
			    "None");
	assert_string_equal(json_string_value(json_object_get(json_array_get(reasons, 1), "Code")),
			    "ConditionalCheckFailed");
	json_decref(reasons);
	/* without reasons asked for, the same answer is just -ECANCELED */
	assert_int_equal(ddb_call(f->c, "TransactWriteItems", req, &resp, errtype), -ECANCELED);
	json_decref(req);
}

static void test_call_retries_5xx(void **state)
{
	static const struct canned a[] = {
	    {500, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\"}"},
	    {503, "not json"},
	    {200, "{\"Count\":3}"}};
	struct fx *f = *state;
	json_t *resp = NULL;

	peer_script(&f->peer, a, 3);
	fx_client(f, 0, 0, NULL);
	assert_int_equal(fx_call(f, "Query", &resp, NULL), 0);
	assert_int_equal(json_integer_value(json_object_get(resp, "Count")), 3);
	json_decref(resp);
	assert_int_equal(peer_nreq(&f->peer), 3);
	assert_string_equal(logged, "");
}

static void test_call_5xx_exhausted(void **state)
{
	static const struct canned a[] = {
	    {500, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#InternalServerError\"}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 2, errtype), -EIO);
	assert_string_equal(errtype, "InternalServerError");
	assert_int_equal(peer_nreq(&f->peer), 2);
	assert_non_null(strstr(logged, "gave up after 2 attempts: HTTP 500 InternalServerError"));
}

static void test_call_throttled(void **state)
{
	static const struct canned a[] = {
	    {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ThrottlingException\","
		  "\"message\":\"Rate of requests exceeds the allowed throughput.\"}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 1, 3, errtype), -EAGAIN);
	assert_string_equal(errtype, "ThrottlingException");
	assert_int_equal(peer_nreq(&f->peer), 3);
	assert_non_null(strstr(logged, "gave up after 3 attempts"));
}

static void test_call_throttled_then_ok(void **state)
{
	static const struct canned a[] = {
	    {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
		  "ProvisionedThroughputExceededException\"}"},
	    {400, "{\"__type\":\"com.amazonaws.dynamodb.v20120810#RequestLimitExceeded\"}"},
	    {200, "{}"}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX];

	assert_int_equal(call_canned(f, a, 3, 3, errtype), 0);
	assert_int_equal(peer_nreq(&f->peer), 3);
}

/* A peer that never answers: each attempt times out, then -ETIMEDOUT. */
static void test_call_timeout(void **state)
{
	static const struct canned a[] = {{0, NULL}};
	struct fx *f = *state;
	char errtype[DDB_ERRTYPE_MAX] = "untouched";
	json_t *resp = NULL;

	peer_script(&f->peer, a, 1);
	fx_client(f, 2, 200, NULL);
	assert_int_equal(fx_call(f, "GetItem", &resp, errtype), -ETIMEDOUT);
	assert_null(resp);
	assert_string_equal(errtype, "");
	assert_int_equal(peer_nreq(&f->peer), 2);
	assert_non_null(strstr(logged, "gave up after 2 attempts"));
}

/* Nothing listens: connection refused, retried, then -ETIMEDOUT. */
static void test_call_refused(void **state)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t salen = sizeof(sa);
	struct ddb_client_config cfg = {
	    .region = TEST_REGION, .max_attempts = 3, .log = log_capture};
	char endpoint[64], errtype[DDB_ERRTYPE_MAX];
	struct fx *f = *state;
	json_t *resp = NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	close(fd); /* bound, never listened: the port is free and refuses */
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	cfg.endpoint = endpoint;
	assert_int_equal(ddb_client_new(&cfg, &f->c), 0);
	assert_int_equal(fx_call(f, "GetItem", &resp, errtype), -ETIMEDOUT);
	assert_string_equal(errtype, "");
	assert_non_null(strstr(logged, "gave up after 3 attempts"));
}

static void test_call_session_token(void **state)
{
	struct fx *f = *state;
	json_t *resp = NULL;
	struct seen s;

	fx_client(f, 0, 0, TEST_TOKEN);
	assert_int_equal(fx_call(f, "PutItem", &resp, NULL), 0);
	json_decref(resp);
	s = peer_last(&f->peer);
	assert_string_equal(s.target, "DynamoDB_20120810.PutItem");
	assert_string_equal(s.token, TEST_TOKEN);
	assert_non_null(strstr(s.auth, "SignedHeaders=content-type;host;x-amz-date;"
				       "x-amz-security-token;x-amz-target, "));
	assert_signed(&s, TEST_TOKEN);
}

/* A 2 MB body goes without "Expect: 100-continue" and arrives whole. */
static void test_call_large_body(void **state)
{
	struct fx *f = *state;
	size_t n = 2u << 20;
	char *big = malloc(n + 1), *dumped;
	json_t *req, *resp = NULL;
	struct seen s;

	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	req = json_pack("{s:s, s:s}", "TableName", "t1", "Big", big);
	dumped = json_dumps(req, JSON_COMPACT);
	fx_client(f, 0, 0, NULL);
	assert_int_equal(ddb_call(f->c, "PutItem", req, &resp, NULL), 0);
	json_decref(resp);
	s = peer_last(&f->peer);
	assert_false(s.expect);
	assert_int_equal(s.body_len, strlen(dumped));
	assert_memory_equal(s.body, dumped, s.body_len);
	assert_signed(&s, NULL);
	free(dumped);
	json_decref(req);
	free(big);
}

/* Calls one after another share one kept-alive connection. */
static void test_call_keeps_connection(void **state)
{
	struct fx *f = *state;

	fx_client(f, 0, 0, NULL);
	for (int i = 0; i < 5; i++) {
		json_t *resp = NULL;

		assert_int_equal(fx_call(f, "GetItem", &resp, NULL), 0);
		json_decref(resp);
	}
	assert_int_equal(peer_nreq(&f->peer), 5);
	assert_int_equal(peer_nconn(&f->peer), 1);
}

#define THREADS 8
#define CALLS_PER_THREAD 25

static atomic_int thread_failures;

static void *caller_run(void *arg)
{
	struct ddb_client *c = arg;

	for (int i = 0; i < CALLS_PER_THREAD; i++) {
		json_t *req = json_pack("{s:s, s:i}", "TableName", "t1", "i", i), *resp = NULL;

		if (!req || ddb_call(c, "PutItem", req, &resp, NULL) != 0 || !json_is_object(resp))
			atomic_fetch_add(&thread_failures, 1);
		json_decref(resp);
		json_decref(req);
	}
	return NULL;
}

/* Threads calling at once all succeed, on no more connections than threads. */
static void test_call_concurrent(void **state)
{
	struct fx *f = *state;
	pthread_t t[THREADS];

	fx_client(f, 0, 0, NULL);
	atomic_store(&thread_failures, 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, caller_run, f->c), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&thread_failures), 0);
	assert_int_equal(peer_nreq(&f->peer), THREADS * CALLS_PER_THREAD);
	assert_true(peer_nconn(&f->peer) >= 1);
	assert_true(peer_nconn(&f->peer) <= THREADS);
}

static void test_call_bad_args(void **state)
{
	struct fx *f = *state;
	json_t *req = json_object(), *resp = NULL;
	char errtype[DDB_ERRTYPE_MAX];

	fx_client(f, 0, 0, NULL);
	assert_int_equal(ddb_call(f->c, "Get Item", req, &resp, errtype), -EINVAL);
	assert_string_equal(errtype, "");
	assert_int_equal(ddb_call(f->c, "GetItem\r\nX: y", req, &resp, NULL), -EINVAL);
	assert_int_equal(ddb_call(f->c, "", req, &resp, NULL), -EINVAL);
	assert_int_equal(ddb_call(f->c, NULL, req, &resp, NULL), -EINVAL);
	assert_int_equal(ddb_call(f->c, "GetItem", req, NULL, NULL), -EINVAL);
	assert_int_equal(ddb_call(f->c, "GetItem", NULL, &resp, NULL), -ENOMEM);
	assert_null(resp);
	assert_int_equal(peer_nreq(&f->peer), 0);
	json_decref(req);
}

/* ---- a live dynalite ------------------------------------------------------------------ */

static int live_call(struct ddb_client *c, const char *op, json_t *req, json_t **resp,
		     char errtype[DDB_ERRTYPE_MAX])
{
	json_t *r = NULL;
	int rc;

	assert_non_null(req);
	rc = ddb_call(c, op, req, resp ? resp : &r, errtype);
	json_decref(r);
	json_decref(req);
	return rc;
}

static void test_live_dynalite(void **state)
{
	const char *endpoint = getenv("ITEMFS_TEST_DDB_ENDPOINT");
	struct ddb_client_config cfg = {.endpoint = endpoint, .log = log_capture};
	struct ddb_client *c = NULL;
	unsigned char val[1000];
	char table[64], errtype[DDB_ERRTYPE_MAX];
	json_t *resp = NULL;
	const char *status = NULL;
	void *got = NULL;
	size_t got_len = 0;
	int rc = 0;

	(void)state;
	if (!endpoint || !*endpoint) {
		skip();
		return;
	}
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (unsigned char)(i * 7 + i / 256);
	val[0] = 0;
	snprintf(table, sizeof(table), "itemfs-client-test-%ld-%d", (long)time(NULL), getpid());
	assert_int_equal(ddb_client_new(&cfg, &c), 0);
	assert_int_equal(
	    live_call(
		c, "CreateTable",
		json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}], s:s}",
			  "TableName", table, "AttributeDefinitions", "AttributeName", "p",
			  "AttributeType", "B", "AttributeName", "s", "AttributeType", "B",
			  "KeySchema", "AttributeName", "p", "KeyType", "HASH", "AttributeName",
			  "s", "KeyType", "RANGE", "BillingMode", "PAY_PER_REQUEST"),
		NULL, errtype),
	    0);
	for (int i = 0; i < 300; i++) { /* up to 30 s */
		assert_int_equal(live_call(c, "DescribeTable",
					   json_pack("{s:s}", "TableName", table), &resp, errtype),
				 0);
		status = json_string_value(
		    json_object_get(json_object_get(resp, "Table"), "TableStatus"));
		rc = status && strcmp(status, "ACTIVE") == 0;
		json_decref(resp);
		resp = NULL;
		if (rc)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(rc, 1);

	assert_int_equal(live_call(c, "PutItem",
				   json_pack("{s:s, s:{s:o, s:o, s:o}}", "TableName", table, "Item",
					     "p", ddb_bin("\0p", 2), "s", ddb_bin("s1", 2), "v",
					     ddb_bin(val, sizeof(val))),
				   NULL, errtype),
			 0);
	assert_int_equal(
	    live_call(c, "GetItem",
		      json_pack("{s:s, s:{s:o, s:o}, s:b}", "TableName", table, "Key", "p",
				ddb_bin("\0p", 2), "s", ddb_bin("s1", 2), "ConsistentRead", 1),
		      &resp, errtype),
	    0);
	assert_int_equal(ddb_get_bin(json_object_get(resp, "Item"), "v", &got, &got_len), 0);
	assert_int_equal(got_len, sizeof(val));
	assert_memory_equal(got, val, sizeof(val));
	free(got);
	json_decref(resp);
	resp = NULL;

	assert_int_equal(live_call(c, "PutItem",
				   json_pack("{s:s, s:{s:o, s:o}, s:s}", "TableName", table, "Item",
					     "p", ddb_bin("\0p", 2), "s", ddb_bin("s1", 2),
					     "ConditionExpression", "attribute_not_exists(p)"),
				   NULL, errtype),
			 -EEXIST);
	assert_string_equal(errtype, "ConditionalCheckFailedException");
	assert_int_equal(live_call(c, "GetItem",
				   json_pack("{s:s, s:{s:o, s:o}}", "TableName", "no-such-table-x",
					     "Key", "p", ddb_bin("p", 1), "s", ddb_bin("s", 1)),
				   NULL, errtype),
			 -ENOENT);
	/* dynalite has no transactions; a server that has them rejects an empty one */
	rc =
	    live_call(c, "TransactWriteItems", json_pack("{s:[]}", "TransactItems"), NULL, errtype);
	if (rc == -EOPNOTSUPP)
		assert_string_equal(errtype, "UnknownOperationException");
	else
		assert_int_equal(rc, -EINVAL);

	assert_int_equal(
	    live_call(c, "DeleteTable", json_pack("{s:s}", "TableName", table), NULL, errtype), 0);
	ddb_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sigv4_aws_example),
	    cmocka_unit_test(test_sigv4_session_token),
	    cmocka_unit_test(test_sigv4_small_buffer),
	    cmocka_unit_test(test_sigv4_bad_date),
	    cmocka_unit_test(test_bin_small),
	    cmocka_unit_test(test_bin_large),
	    cmocka_unit_test(test_bin_rejects),
	    cmocka_unit_test(test_num_roundtrip),
	    cmocka_unit_test(test_num_rejects),
	    cmocka_unit_test(test_str),
	    cmocka_unit_test(test_client_endpoint_rejects),
	    cmocka_unit_test(test_client_endpoint_accepts),
	    cmocka_unit_test(test_client_region_env),
	    cmocka_unit_test_setup_teardown(test_client_credentials_env, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_ok, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_conditional_failed, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_unknown_operation, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_unsupported_message, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_validation, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_access_denied, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_no_table, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_unknown_type, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_bad_json, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_canceled_reasons, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_retries_5xx, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_5xx_exhausted, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_throttled, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_throttled_then_ok, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_timeout, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_refused, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_session_token, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_large_body, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_keeps_connection, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_concurrent, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_call_bad_args, fx_setup, fx_teardown),
	    cmocka_unit_test(test_live_dynalite),
	};

	/* The peer is on 127.0.0.1: no proxy of the environment may stand between. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	return cmocka_run_group_tests_name("ddb_client", tests, NULL, NULL);
}
