/*
 * ddb_open.c - opening and closing a store on the DynamoDB-API backend,
 * and what a store handle does beside its transactions: the generation
 * poller (how this mount learns of other mounts' commits), the read
 * barrier behind fsync, statfs.
 *
 * A store is one DynamoDB table, named by the URL's path (escaped to
 * DynamoDB's [A-Za-z0-9_.-]{3,255}), with a binary hash key p and a binary
 * range key s. Records, transactions and the write lock are ddb_kv.c's;
 * the item operations are ddb.c's; docs/ddb-backend.md is the design.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ddb_i.h"

#define TABLE_NAME_MIN 3u
#define TABLE_NAME_MAX 255u
#define ACTIVE_WAIT_MS 120000u /* how long a new table may take to be ACTIVE */
/* What statfs reports as free: DynamoDB tables have no fixed size. */
#define DDB_BYTES_AVAIL (UINT64_C(1) << 50)

static const unsigned char META_P[1] = {DDB_P_META};

/* ddb_call() with a request it frees (req is transferred; NULL: -ENOMEM). */
static int call_owned(struct ddb_store *st, const char *op, json_t *req, json_t **resp,
		      char errtype[DDB_ERRTYPE_MAX])
{
	int rc;

	if (!req)
		return -ENOMEM;
	rc = ddb_call(st->client, op, req, resp, errtype);
	json_decref(req);
	return rc;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t new_origin(void)
{
	uint64_t v = 0;

	while (v == 0)
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
			v = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid() ^ (uint64_t)random();
	return v;
}

/* ---- the URL --------------------------------------------------------------- */

int ddb_table_name(const char *prefix, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)prefix[i];
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '_' || c == '.';

		if (n + (plain ? 1 : 3) >= size || n + (plain ? 1 : 3) > TABLE_NAME_MAX)
			return -ENAMETOOLONG;
		if (plain) {
			out[n++] = (char)c;
		} else {
			out[n++] = '-';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n < TABLE_NAME_MIN)
		return -EINVAL;
	out[n] = '\0';
	return 0;
}

/*
 * Splits "dynamodb://HOST[:PORT]/PREFIX" (HTTPS) or
 * "dynamodb+http://HOST[:PORT]/PREFIX" into the endpoint and the table's
 * name. Errors: -EINVAL (no host or no prefix, a prefix of fewer than 3
 * characters escaped), -ENAMETOOLONG.
 */
static int url_parse(const char *url, char *endpoint, size_t esize, char *table, size_t tsize)
{
	const char *rest, *slash, *scheme;
	size_t hostlen, plen;

	if (strncmp(url, "dynamodb://", 11) == 0) {
		rest = url + 11;
		scheme = "https://";
	} else if (strncmp(url, "dynamodb+http://", 16) == 0) {
		rest = url + 16;
		scheme = "http://";
	} else {
		return -EINVAL;
	}
	slash = strchr(rest, '/');
	if (!slash || slash == rest)
		return -EINVAL;
	hostlen = (size_t)(slash - rest);
	plen = strlen(slash + 1);
	while (plen && slash[plen] == '/') /* a trailing slash is no part of it */
		plen--;
	if (plen == 0)
		return -EINVAL;
	if ((size_t)snprintf(endpoint, esize, "%s%.*s", scheme, (int)hostlen, rest) >= esize)
		return -ENAMETOOLONG;
	return ddb_table_name(slash + 1, plen, table, tsize);
}

/* ---- the table ---------------------------------------------------------------- */

/*
 * DescribeTable: 0 with *status ("ACTIVE", ...) copied, or -ENOENT.
 * -EPROTO when its key schema is not itemfs's (binary p HASH, s RANGE).
 */
static int table_describe(struct ddb_store *st, char *status, size_t size)
{
	json_t *resp = NULL, *t, *ks, *ad;
	const char *s;
	int rc, keys = 0;
	size_t i;
	json_t *e;

	rc = call_owned(st, "DescribeTable", json_pack("{s:s}", "TableName", st->table), &resp,
			NULL);
	if (rc)
		return rc;
	t = json_object_get(resp, "Table");
	ks = json_object_get(t, "KeySchema");
	ad = json_object_get(t, "AttributeDefinitions");
	json_array_foreach(ks, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "AttributeName"));
		const char *type = json_string_value(json_object_get(e, "KeyType"));
		size_t j;
		json_t *d;

		if (!name || !type)
			continue;
		if (!((strcmp(name, "p") == 0 && strcmp(type, "HASH") == 0) ||
		      (strcmp(name, "s") == 0 && strcmp(type, "RANGE") == 0)))
			continue;
		json_array_foreach(ad, j, d)
		{
			const char *an = json_string_value(json_object_get(d, "AttributeName"));
			const char *at = json_string_value(json_object_get(d, "AttributeType"));

			if (an && at && strcmp(an, name) == 0 && strcmp(at, "B") == 0)
				keys++;
		}
	}
	if (keys != 2 || json_array_size(ks) != 2) {
		ddb_log(st, LOG_ERR, "table %s has another key schema than itemfs's (binary p, s)",
			st->table);
		json_decref(resp);
		return -EPROTO;
	}
	s = json_string_value(json_object_get(t, "TableStatus"));
	snprintf(status, size, "%s", s ? s : "");
	json_decref(resp);
	return 0;
}

static int table_create(struct ddb_store *st)
{
	char errtype[DDB_ERRTYPE_MAX];
	json_t *resp = NULL;
	int rc;

	errtype[0] = '\0';
	rc = call_owned(st, "CreateTable",
			json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}], "
				  "s:s}",
				  "TableName", st->table, "AttributeDefinitions", "AttributeName",
				  "p", "AttributeType", "B", "AttributeName", "s", "AttributeType",
				  "B", "KeySchema", "AttributeName", "p", "KeyType", "HASH",
				  "AttributeName", "s", "KeyType", "RANGE", "BillingMode",
				  "PAY_PER_REQUEST"),
			&resp, errtype);
	json_decref(resp);
	if (rc && strcmp(errtype, "ResourceInUseException") == 0)
		rc = 0; /* another mount created it meanwhile */
	if (rc == 0)
		ddb_log(st, LOG_NOTICE, "created DynamoDB table %s", st->table);
	return rc;
}

/* Finds the table (creating it when asked) and waits until it is ACTIVE. */
static int table_ready(struct ddb_store *st, bool create)
{
	uint64_t until = mono_ms() + ACTIVE_WAIT_MS;
	char status[32];
	bool created = false;
	int rc = table_describe(st, status, sizeof(status));

	for (;;) {
		if (rc == 0 && strcmp(status, "ACTIVE") == 0)
			return 0;
		if (rc == -ENOENT && !create)
			return -ENOENT;
		if (rc == -ENOENT && !created) { /* created once, then waited for */
			rc = table_create(st);
			created = true;
			if (rc)
				return rc;
		} else if (rc && rc != -ENOENT) {
			return rc;
		}
		if (mono_ms() > until) {
			ddb_log(st, LOG_ERR, "table %s is still %s after %u s", st->table,
				rc ? "missing" : status, ACTIVE_WAIT_MS / 1000u);
			return -ETIMEDOUT;
		}
		usleep(100000);
		rc = table_describe(st, status, sizeof(status));
	}
}

/*
 * The store's format: 0 when the table holds an itemfs store of this
 * version; -ENOENT when it holds nothing of itemfs's (no format record);
 * -EPROTO for another version or a damaged record.
 */
static int format_check(struct ddb_store *st)
{
	void *v = NULL;
	size_t vlen = 0;
	int rc = ddb_remote_get(st, META_P, 1, "format", 6, true, &v, &vlen);

	if (rc == 0 && (vlen != 4 || ddb_get_be32(v) != STORE_FORMAT_VERSION)) {
		ddb_log(st, LOG_ERR,
			"table %s holds an itemfs store of format %u; this itemfs "
			"reads format %u",
			st->table, vlen == 4 ? ddb_get_be32(v) : 0, STORE_FORMAT_VERSION);
		rc = -EPROTO;
	}
	free(v);
	return rc;
}

/* ---- the poller ------------------------------------------------------------------ */

/*
 * Reads m/seq (strongly or not) and raises gen to it. When it moves, the
 * reads of the next strong_ms are strong: whoever follows the new
 * generation (fs reads the change log and the items it names) must not
 * fill its cache from a replica that has not seen the commit yet, or the
 * stale copy would stay until the item changes again.
 */
static int gen_read(struct ddb_store *st, bool strong)
{
	void *v = NULL;
	size_t vlen = 0;
	int rc = ddb_remote_get(st, META_P, 1, "seq", 3, strong, &v, &vlen);

	if (rc == 0 && vlen == 16) {
		uint64_t seq = ddb_get_be64(v);

		/* the window opens before gen moves: whoever sees the new
		 * generation begins its reads inside it */
		if (atomic_load(&st->gen) < seq)
			atomic_store(&st->strong_until_ms, mono_ms() + st->strong_ms);
		ddb_gen_raise(st, seq);
	} else if (rc == 0) {
		rc = -EIO;
	}
	free(v);
	return rc;
}

static void *poller_main(void *arg)
{
	struct ddb_store *st = arg;
	bool failing = false;

	pthread_mutex_lock(&st->poll_mu);
	while (!st->stop) {
		struct timespec ts;
		uint64_t ns;
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ns = (uint64_t)ts.tv_nsec + (uint64_t)st->poll_ms * 1000000u;
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		pthread_cond_timedwait(&st->poll_cond, &st->poll_mu, &ts);
		if (st->stop)
			break;
		pthread_mutex_unlock(&st->poll_mu);
		ddb_lock_renew(st);
		rc = gen_read(st, false);
		if (rc && !failing)
			ddb_log(st, LOG_WARNING,
				"cannot read the commit counter (%s): other "
				"mounts' changes reach this one late",
				strerror(-rc));
		else if (!rc && failing)
			ddb_log(st, LOG_NOTICE, "the commit counter is readable again");
		failing = rc != 0;
		pthread_mutex_lock(&st->poll_mu);
	}
	pthread_mutex_unlock(&st->poll_mu);
	return NULL;
}

/* ---- open, close ------------------------------------------------------------------- */

static void store_free(struct ddb_store *st)
{
	if (!st)
		return;
	ddb_client_free(st->client);
	pthread_mutex_destroy(&st->write_mu);
	pthread_mutex_destroy(&st->lock_mu);
	pthread_mutex_destroy(&st->poll_mu);
	pthread_cond_destroy(&st->poll_cond);
	free(st->table);
	free(st->url);
	free(st);
}

static struct ddb_store *store_new(const struct store_config *cfg)
{
	struct ddb_store *st = calloc(1, sizeof(*st));
	pthread_condattr_t ca;

	if (!st)
		return NULL;
	st->base.ops = &ddb_ops;
	st->url = strdup(cfg->path);
	st->read_only = cfg->read_only;
	st->origin = new_origin();
	st->lease_ms = cfg->ddb_lease_ms ? cfg->ddb_lease_ms : 10000u;
	st->poll_ms = cfg->ddb_poll_ms ? cfg->ddb_poll_ms : 1000u;
	st->strong_ms = cfg->ddb_strong_ms ? cfg->ddb_strong_ms : 2000u;
	st->log = cfg->log;
	pthread_mutex_init(&st->write_mu, NULL);
	pthread_mutex_init(&st->lock_mu, NULL);
	pthread_mutex_init(&st->poll_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->poll_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!st->url) {
		store_free(st);
		return NULL;
	}
	return st;
}

/* ---- credentials ------------------------------------------------------------------ */

struct creds {
	char *access_key, *secret_key, *session_token;
};

static void creds_free(struct creds *c)
{
	if (c->secret_key) /* no copy of a secret left in freed memory */
		explicit_bzero(c->secret_key, strlen(c->secret_key));
	if (c->session_token)
		explicit_bzero(c->session_token, strlen(c->session_token));
	free(c->access_key);
	free(c->secret_key);
	free(c->session_token);
	*c = (struct creds){0};
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * Reads profile's keys from an AWS shared-credentials file (INI: "[NAME]"
 * sections of "aws_access_key_id = ...", "aws_secret_access_key = ...",
 * "aws_session_token = ..."). Errors: -errno of fopen(), -ENOKEY (no such
 * profile, or it lacks a key), -ENOMEM.
 */
static int creds_load(const char *path, const char *profile, struct creds *out)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	bool in = false;
	int rc = 0;

	if (!f)
		return -errno;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *l = trim(line), *eq;
		char **slot = NULL;

		if (*l == '[') {
			char *end = strchr(l, ']');

			if (end)
				*end = '\0';
			in = strcmp(trim(l + 1), profile) == 0;
			continue;
		}
		eq = strchr(l, '=');
		if (!in || *l == '#' || *l == ';' || !eq)
			continue;
		*eq = '\0';
		l = trim(l);
		if (strcmp(l, "aws_access_key_id") == 0)
			slot = &out->access_key;
		else if (strcmp(l, "aws_secret_access_key") == 0)
			slot = &out->secret_key;
		else if (strcmp(l, "aws_session_token") == 0)
			slot = &out->session_token;
		if (slot) {
			free(*slot);
			*slot = strdup(trim(eq + 1));
			if (!*slot)
				rc = -ENOMEM;
		}
	}
	fclose(f);
	if (rc == 0 && (!out->access_key || !out->secret_key))
		rc = -ENOKEY;
	if (rc)
		creds_free(out);
	return rc;
}

/*
 * The keys to sign with, in the AWS SDKs' order: the file the config
 * names; else the environment's keys (left to ddb_client_new(): *out
 * stays empty); else the default shared-credentials file, if there is one.
 * Errors (logged, naming the file and the fix): those of creds_load();
 * -ENOKEY also for a profile asked for by name that no file has.
 */
static int creds_find(const struct store_config *cfg, struct creds *out)
{
	const char *path = cfg->ddb_credentials, *profile = cfg->ddb_profile;
	char def[4096];
	bool explicit = path != NULL;
	int rc;

	if (!profile)
		profile = getenv("AWS_PROFILE") ? getenv("AWS_PROFILE") : "default";
	if (!path && getenv("AWS_ACCESS_KEY_ID") && !cfg->ddb_profile)
		return 0;
	if (!path && getenv("AWS_SHARED_CREDENTIALS_FILE")) {
		path = getenv("AWS_SHARED_CREDENTIALS_FILE");
		explicit = true;
	}
	if (!path && getenv("HOME")) {
		snprintf(def, sizeof(def), "%s/.aws/credentials", getenv("HOME"));
		path = def;
	}
	if (!path)
		return 0;
	rc = creds_load(path, profile, out);
	if (rc == -ENOENT && !explicit && !cfg->ddb_profile)
		return 0; /* no default file: sign with the environment's (or no) keys */
	if (rc)
		store_log(cfg->log, LOG_ERR,
			  "%s: cannot read AWS credentials of profile %s from %s: %s (the file "
			  "needs a [%s] section with aws_access_key_id and aws_secret_access_key)",
			  cfg->path, profile, path,
			  rc == -ENOKEY ? "no such profile, or a key missing" : strerror(-rc),
			  profile);
	return rc;
}

/*
 * Whether the server has TransactWriteItems: one that only checks that a
 * record that never exists does not (nothing is written, and a server that
 * has the call answers 200). A server without it answers
 * UnknownOperationException (dynalite) or says it is unsupported
 * (Alternator without LWT): -EOPNOTSUPP. Anything else: assume not, and
 * say so.
 */
static bool transact_probe(struct ddb_store *st)
{
	json_t *resp = NULL;
	int rc = call_owned(st, "TransactWriteItems",
			    json_pack("{s:[{s:{s:s, s:{s:o, s:o}, s:s, s:{s:s}}}]}",
				      "TransactItems", "ConditionCheck", "TableName", st->table,
				      "Key", "p", ddb_bin(META_P, 1), "s", ddb_bin("probe", 5),
				      "ConditionExpression", "attribute_not_exists(#p)",
				      "ExpressionAttributeNames", "#p", "p"),
			    &resp, NULL);

	json_decref(resp);
	if (rc && rc != -EOPNOTSUPP)
		ddb_log(st, LOG_NOTICE,
			"TransactWriteItems did not answer as expected (%s): "
			"committing with intent records",
			strerror(-rc));
	return rc == 0;
}

int store_ddb_open(const struct store_config *cfg, struct store **out)
{
	char endpoint[512], table[TABLE_NAME_MAX + 1];
	struct ddb_client_config cc = {0};
	struct creds creds = {0};
	struct ddb_store *st;
	int rc;

	rc = url_parse(cfg->path, endpoint, sizeof(endpoint), table, sizeof(table));
	if (rc) {
		store_log(cfg->log, LOG_ERR,
			  "%s: not a DynamoDB store URL (dynamodb://HOST[:PORT]/NAME or "
			  "dynamodb+http://HOST[:PORT]/NAME, NAME of 3 to 255 characters once "
			  "escaped)",
			  cfg->path);
		return rc;
	}
	st = store_new(cfg);
	if (!st)
		return -ENOMEM;
	st->table = strdup(table);
	cc.endpoint = endpoint;
	cc.region = cfg->ddb_region;
	cc.log = cfg->log;
	rc = st->table ? creds_find(cfg, &creds) : -ENOMEM;
	if (rc)
		goto err;
	cc.access_key = creds.access_key;
	cc.secret_key = creds.secret_key;
	cc.session_token = creds.session_token;
	rc = ddb_client_new(&cc, &st->client);
	creds_free(&creds);
	if (rc)
		goto err;
	rc = table_ready(st, cfg->create && !cfg->read_only);
	if (rc == -ENOENT) {
		store_log(cfg->log, LOG_ERR, "%s: no DynamoDB table %s", cfg->path, st->table);
		goto err;
	}
	if (rc)
		goto err;
	if (cfg->ddb_commit == STORE_DDB_COMMIT_AUTO)
		st->transact = transact_probe(st);
	else
		st->transact = cfg->ddb_commit == STORE_DDB_COMMIT_TRANSACT;
	rc = format_check(st);
	if (rc == -ENOENT && cfg->create && !cfg->read_only)
		rc = ddb_store_init_records(st);
	else if (rc == -ENOENT)
		store_log(cfg->log, LOG_ERR, "%s: table %s holds no itemfs store", cfg->path,
			  st->table);
	if (rc == -ENOENT)
		rc = -EPROTO;
	if (rc == 0)
		rc = gen_read(st, true);
	if (rc)
		goto err;
	rc = pthread_create(&st->poller, NULL, poller_main, st);
	if (rc) {
		rc = -rc;
		goto err;
	}
	st->poller_running = true;
	*out = &st->base;
	return 0;
err:
	store_free(st);
	return rc;
}

void ddb_close(struct store *s)
{
	struct ddb_store *st = ddb_store_of(s);

	if (!st)
		return;
	if (st->poller_running) {
		pthread_mutex_lock(&st->poll_mu);
		st->stop = true;
		pthread_cond_signal(&st->poll_cond);
		pthread_mutex_unlock(&st->poll_mu);
		pthread_join(st->poller, NULL);
	}
	store_free(st);
}

/* ---- the rest of a handle ------------------------------------------------------------- */

int ddb_barrier(struct store *s)
{
	struct ddb_store *st = ddb_store_of(s);
	int rc;

	/* Reads begun from now on are strong: set before the read, so that
	 * nothing committed before the barrier can be missed after it. */
	atomic_store(&st->strong_until_ms, mono_ms() + st->strong_ms);
	rc = gen_read(st, true);
	atomic_store(&st->strong_until_ms, mono_ms() + st->strong_ms);
	return rc;
}

uint64_t ddb_generation(struct store *s)
{
	return atomic_load(&ddb_store_of(s)->gen);
}

uint64_t ddb_origin(struct store *s)
{
	return ddb_store_of(s)->origin;
}

int ddb_sync(struct store *s)
{
	/* A write DynamoDB has acknowledged is durable: nothing to flush. */
	(void)s;
	return 0;
}

int ddb_statfs(struct store *s, struct store_statfs *out)
{
	struct store_txn *txn;
	uint64_t bytes, inodes;
	int rc;

	/* The table's own size (DescribeTable) lags by hours on DynamoDB: the
	 * store counts what it holds itself (ddb.c, "m" "usage"). */
	rc = ddb_txn_begin(s, STORE_TXN_READ, &txn);
	if (rc)
		return rc;
	rc = ddb_usage_get(ddb_txn_of(txn), &bytes, &inodes);
	ddb_txn_abort(txn);
	if (rc)
		return rc;
	out->bytes_used = bytes;
	out->bytes_avail = DDB_BYTES_AVAIL;
	out->inodes = inodes;
	out->map_size = 0;
	return 0;
}
