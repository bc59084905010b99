/*
 * txn_parse.c - the manifest grammar of docs/dynamodb.md, "Transactions":
 *
 *   manifest = { line "\n" } [ line ]
 *   line     = blank* ( action | "commit" | "#" anything | "" ) blank*
 *   action   = "mv" path path [cond] | "rm" path [cond] | "check" path cond
 *
 * Fields are separated by runs of spaces and tabs; inside a field a
 * backslash escapes: \\ \s (space) \t \n \xHH, and "\ " is a space too.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn_parse.h"

/* Fields of one line, at most: "mv SRC DST COND" and one too many. */
#define TXN_FIELDS_MAX 5

static void set_err(char *err, size_t errlen, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!errlen)
		return;
	n = snprintf(err, errlen, "line %u: ", line);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes the field p[0..n) into a new NUL-terminated string (*out) of
 * *outlen bytes. Errors: -EINVAL (a bad escape; message in err), -ENOMEM.
 */
static int decode_field(const char *p, size_t n, unsigned line, char **out, size_t *outlen,
			char *err, size_t errlen)
{
	char *s = malloc(n + 1);
	size_t j = 0;

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (p[i] != '\\') {
			s[j++] = p[i];
			continue;
		}
		if (++i == n)
			goto bad;
		switch (p[i]) {
		case '\\':
			s[j++] = '\\';
			break;
		case 's':
		case ' ':
			s[j++] = ' ';
			break;
		case 't':
			s[j++] = '\t';
			break;
		case 'n':
			s[j++] = '\n';
			break;
		case 'x':
			if (i + 2 >= n)
				goto bad;
			hi = hex_digit(p[i + 1]);
			lo = hex_digit(p[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			s[j++] = (char)(hi << 4 | lo);
			i += 2;
			break;
		default:
			goto bad;
		}
	}
	s[j] = '\0';
	*out = s;
	*outlen = j;
	return 0;
bad:
	free(s);
	set_err(err, errlen, line, "bad escape in \"%.*s\" (use \\\\, \\s, \\t, \\n or \\xHH)",
		(int)(n > 200 ? 200 : n), p);
	return -EINVAL;
}

/* Checks a decoded path: relative, components neither empty nor . or .., no NUL. */
static int check_path(const char *s, size_t len, unsigned line, char *err, size_t errlen)
{
	const char *why = NULL;
	size_t start = 0;

	if (memchr(s, '\0', len))
		why = "a name cannot hold a NUL byte";
	else if (len > TXN_PATH_MAX)
		why = "longer than 4096 bytes";
	else if (len == 0 || s[0] == '/')
		why = "must be relative to the mount's root (TABLE/KEY)";
	for (size_t i = 0; !why && i <= len; i++) {
		size_t n;

		if (i < len && s[i] != '/')
			continue;
		n = i - start;
		if (n == 0)
			why = "has an empty component (// or a trailing /)";
		else if ((n == 1 && s[start] == '.') ||
			 (n == 2 && s[start] == '.' && s[start + 1] == '.'))
			why = "has a . or .. component";
		else if (n > 255)
			why = "has a component longer than 255 bytes";
		start = i + 1;
	}
	if (!why)
		return 0;
	set_err(err, errlen, line, "path \"%.*s\" %s", (int)(len > 200 ? 200 : len), s, why);
	return -EINVAL;
}

/* Splits line p[0..n) into at most TXN_FIELDS_MAX fields; returns how many (max + 1: too many). */
static size_t split_fields(const char *p, size_t n, const char **f, size_t *flen)
{
	size_t count = 0, i = 0;

	while (i < n) {
		size_t start;

		while (i < n && is_blank(p[i]))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && !is_blank(p[i]))
			i += (p[i] == '\\' && i + 1 < n) ? 2 : 1;
		if (count == TXN_FIELDS_MAX)
			return TXN_FIELDS_MAX + 1;
		f[count] = p + start;
		flen[count++] = i - start;
	}
	return count;
}

static bool field_is(const char *f, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(f, word, n) == 0;
}

/* -EINVAL if path was named by an earlier action (or by this one's other end). */
static int check_unique(const struct txn_manifest *m, const struct txn_action *a, const char *path,
			char *err, size_t errlen)
{
	/* The earlier actions, and a itself (m->actions[m->count]): mv's other end. */
	for (size_t i = 0; i <= m->count; i++) {
		const struct txn_action *o = &m->actions[i];
		const char *seen[2] = {o->src, o->path};

		for (int k = 0; k < 2; k++) {
			if (!seen[k] || seen[k] == path || strcmp(seen[k], path) != 0)
				continue;
			set_err(
			    err, errlen, a->line,
			    "%s is named twice (at line %u): a transaction changes each item once",
			    path, o->line);
			return -EINVAL;
		}
	}
	return 0;
}

/* Parses one action line with nf fields into m->actions[m->count]. */
static int parse_action(struct txn_manifest *m, unsigned line, const char **f, size_t *flen,
			size_t nf, char *err, size_t errlen)
{
	struct txn_action *a = &m->actions[m->count];
	char **paths[2] = {NULL, NULL}, **cond = &a->cond;
	size_t npaths, need_cond, len;
	int rc;

	memset(a, 0, sizeof(*a));
	a->line = line;
	if (field_is(f[0], flen[0], "mv")) {
		a->op = TXN_MV, npaths = 2, need_cond = 0;
		paths[0] = &a->src, paths[1] = &a->path;
	} else if (field_is(f[0], flen[0], "rm")) {
		a->op = TXN_RM, npaths = 1, need_cond = 0;
		paths[0] = &a->path;
	} else if (field_is(f[0], flen[0], "check")) {
		a->op = TXN_CHECK, npaths = 1, need_cond = 1;
		paths[0] = &a->path;
	} else {
		set_err(err, errlen, line, "unknown action \"%.*s\" (mv, rm, check or commit)",
			(int)(flen[0] > 40 ? 40 : flen[0]), f[0]);
		return -EINVAL;
	}
	if (nf < 1 + npaths + need_cond || nf > 1 + npaths + 1) {
		static const char *const usage[] = {"mv SRC DST [COND]", "rm PATH [COND]",
						    "check PATH COND"};
		set_err(err, errlen, line, "expected \"%s\"", usage[a->op]);
		return -EINVAL;
	}
	for (size_t k = 0; k < npaths; k++) {
		rc = decode_field(f[1 + k], flen[1 + k], line, paths[k], &len, err, errlen);
		if (rc == 0)
			rc = check_path(*paths[k], len, line, err, errlen);
		if (rc == 0)
			rc = check_unique(m, a, *paths[k], err, errlen);
		if (rc)
			return rc;
	}
	if (nf == 2 + npaths)
		rc = decode_field(f[1 + npaths], flen[1 + npaths], line, cond, &len, err, errlen);
	return rc;
}

int txn_parse(const char *text, size_t len, struct txn_manifest *out, char *err, size_t errlen)
{
	struct txn_manifest m = {.actions = NULL};
	unsigned line = 0;
	size_t pos = 0;
	int rc = 0;

	if (errlen)
		err[0] = '\0';
	m.actions = calloc(TXN_ACTIONS_MAX, sizeof(*m.actions));
	if (!m.actions)
		return -ENOMEM;
	while (pos < len && rc == 0) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos, nf, flen[TXN_FIELDS_MAX];
		const char *f[TXN_FIELDS_MAX];

		pos += n + (nl != NULL);
		line++;
		nf = split_fields(p, n, f, flen);
		if (nf == 0 || f[0][0] == '#')
			continue;
		if (m.committed) {
			set_err(err, errlen, line, "nothing may follow the commit line");
			rc = -EINVAL;
		} else if (field_is(f[0], flen[0], "commit")) {
			if (nf == 1)
				m.committed = true;
			else
				set_err(err, errlen, line, "commit takes no arguments"),
				    rc = -EINVAL;
		} else if (nf > TXN_FIELDS_MAX) {
			set_err(err, errlen, line, "too many fields");
			rc = -EINVAL;
		} else if (m.count == TXN_ACTIONS_MAX) {
			set_err(err, errlen, line, "more than %u actions", TXN_ACTIONS_MAX);
			rc = -E2BIG;
		} else {
			rc = parse_action(&m, line, f, flen, nf, err, errlen);
			m.count++; /* even when it failed: its strings are freed with the rest */
		}
	}
	*out = m;
	return rc;
}

void txn_manifest_free(struct txn_manifest *m)
{
	if (m->actions)
		for (size_t i = 0; i < m->count; i++) {
			free(m->actions[i].src);
			free(m->actions[i].path);
			free(m->actions[i].cond);
		}
	free(m->actions);
	m->actions = NULL;
	m->count = 0;
}

bool txn_ends_with_commit(const char *text, size_t len)
{
	size_t end = len, start;

	while (end > 0 && (is_blank(text[end - 1]) || text[end - 1] == '\n'))
		end--;
	start = end;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	while (start < end && is_blank(text[start]))
		start++;
	return end - start == 6 && memcmp(text + start, "commit", 6) == 0;
}
