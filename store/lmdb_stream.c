/*
 * lmdb_stream.c - streams (store.h, "Streams") in the LMDB backend.
 *
 * A stream lives in the streams database: one head record (dir) and one
 * record per entry (dir + offset), so appending, trimming and reading are
 * point operations and a range walk over keys that sort together. (Not in
 * the meta database: 64 MiB of records per table there would make every
 * lookup of the store's small records deeper, and a damaged record page
 * look like a missing format record.)
 *
 * An append writes one key. The head holds only what trimming changes
 * (the first offset kept, its record's time, and the seq reached, for an
 * emptied stream); the end, the last seq and the last time come from the
 * last record, one cursor step away. So a request that appends touches the
 * stream's tail page and no other (a head written on every append sat on
 * a page of its own, and LMDB copies each page a nested transaction
 * touches: measured, that made an append cost about twice as much). The
 * head is written only when a stream goes from empty to one record, and
 * when it is trimmed (docs/store-format.md, "streams").
 *
 * A write txn reads a stream's head once: it keeps the heads of the streams
 * it touched lately (struct lmdb_stream_memo) true through its appends and
 * trims, so the trim and the append of each request of a batch look nothing
 * up (before, each record read its stream's head twice).
 */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "lmdb_i.h"

void lmdb_stream_head_encode(const struct store_stream_head *h,
			     unsigned char v[LMDB_STREAM_HEAD_VAL_LEN])
{
	const uint64_t f[3] = {h->first, h->first_ns, h->seq};

	v[0] = LMDB_STREAM_HEAD_VERSION;
	for (int i = 0; i < 3; i++)
		lmdb_put_le64(v + 1 + 8 * i, f[i]);
}

/* The head record's fields (first, first_ns, seq) into *out; the rest zeroed. */
int lmdb_stream_head_decode(const MDB_val *v, struct store_stream_head *out)
{
	const unsigned char *p = v->mv_data;
	uint64_t f[3] = {0};

	if (v->mv_size != LMDB_STREAM_HEAD_VAL_LEN || p[0] != LMDB_STREAM_HEAD_VERSION)
		return -EINVAL;
	for (int i = 0; i < 3; i++)
		f[i] = lmdb_get_le64(p + 1 + 8 * i);
	*out = (struct store_stream_head){.first = f[0], .end = f[0], .first_ns = f[1], .seq = f[2]};
	return 0;
}

int lmdb_stream_rec_decode(const MDB_val *v, uint64_t *time_ns, uint64_t *seq, size_t *len)
{
	if (v->mv_size <= LMDB_STREAM_REC_HDR_LEN ||
	    v->mv_size - LMDB_STREAM_REC_HDR_LEN > STORE_STREAM_REC_MAX)
		return -EINVAL;
	*time_ns = lmdb_get_le64(v->mv_data);
	*seq = lmdb_get_le64((const unsigned char *)v->mv_data + 8);
	*len = v->mv_size - LMDB_STREAM_REC_HDR_LEN;
	return 0;
}

static int damaged(const struct lmdb_store *st, uint64_t dir, const char *what, uint64_t off)
{
	lmdb_log(st, LOG_ERR, "stream of directory %llu: %s at offset %llu", (unsigned long long)dir,
		 what, (unsigned long long)off);
	return -EIO;
}

/*
 * dir's stream into *h (all zeros when it has none): the head record's
 * fields, then end, seq and last_ns from the last record, which sorts last
 * of dir's keys: one get and one cursor seek, no write.
 */
static int head_read(struct lmdb_txn *t, uint64_t dir, struct store_stream_head *h)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char kb[LMDB_STREAM_REC_KEY_LEN];
	MDB_val k = lmdb_stream_key(kb, dir, false, 0), v;
	uint64_t kdir, off, tns, seq;
	MDB_cursor *c;
	size_t len;
	int rc;

	memset(h, 0, sizeof(*h));
	if (!st->have_streams) /* a read-only open of a store made before streams */
		return 0;
	rc = lmdb_get(t, st->streams, &k, &v, dir);
	if (rc == -ENOENT)
		return 0; /* no head: no records either (the first append writes it) */
	if (rc)
		return rc;
	if (lmdb_stream_head_decode(&v, h))
		return damaged(st, dir, "a damaged head record", 0);
	rc = lmdb_cursor_open(t, st->streams, &c);
	if (rc)
		return rc;
	/* The key after all of dir's: the head of dir + 1. */
	k = lmdb_stream_key(kb, dir + 1, false, 0);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	rc = mdb_cursor_get(c, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : rc ? rc : MDB_PREV);
	if (rc == 0 && lmdb_stream_key_parse(&k, &kdir, &off) == 2 && kdir == dir) {
		if (lmdb_stream_rec_decode(&v, &tns, &seq, &len) || off < h->first)
			rc = damaged(st, dir, "a damaged last record", off);
		else
			h->end = off + len, h->seq = seq, h->last_ns = tns;
	} else if (rc > 0) {
		rc = lmdb_txn_fail(t, rc, "reading a stream's tail", st->streams, dir);
	} else {
		rc = 0; /* the head is dir's last key: the stream is empty */
	}
	mdb_cursor_close(c);
	return rc;
}

/* Forgets dir's stream in t's memo: it goes, or a change of it failed
 * part way and what it left is not known. Returns rc. */
static int memo_forget(struct lmdb_txn *t, uint64_t dir, int rc)
{
	lmdb_memo_drop(t->smemo.dir, LMDB_STREAM_MEMO, dir);
	return rc;
}

/* Remembers *h as dir's stream in write txn t. */
static void memo_keep(struct lmdb_txn *t, uint64_t dir, const struct store_stream_head *h)
{
	t->smemo.h[lmdb_memo_take(t->smemo.dir, LMDB_STREAM_MEMO, &t->smemo.next, dir)] = *h;
}

/*
 * dir's stream into *h as head_read() has it: from t's memo when t is a
 * write txn that touched dir's stream lately (struct lmdb_stream_memo), else
 * read, and remembered by a write txn.
 */
static int head_get(struct lmdb_txn *t, uint64_t dir, struct store_stream_head *h)
{
	int i = t->write && dir != 0 ? lmdb_memo_find(t->smemo.dir, LMDB_STREAM_MEMO, dir) : -1;
	int rc;

	if (i >= 0) {
		*h = t->smemo.h[i];
		return 0;
	}
	rc = head_read(t, dir, h);
	if (t->write && dir != 0 && rc == 0)
		memo_keep(t, dir, h);
	return rc;
}

static int head_write(struct lmdb_txn *t, uint64_t dir, const struct store_stream_head *h)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char kb[LMDB_STREAM_REC_KEY_LEN], vb[LMDB_STREAM_HEAD_VAL_LEN];
	MDB_val k = lmdb_stream_key(kb, dir, false, 0), v = {sizeof(vb), vb};

	lmdb_stream_head_encode(h, vb);
	return lmdb_put(t, st->streams, &k, &v, 0, dir);
}

int lmdb_stream_head(struct store_txn *txn, uint64_t dir, struct store_stream_head *out)
{
	return head_get(lmdb_txn_of(txn), dir, out);
}

int lmdb_stream_append(struct store_txn *txn, uint64_t dir, uint64_t seq, uint64_t time_ns,
		       const void *rec, size_t len, struct store_stream_head *out)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char kb[LMDB_STREAM_REC_KEY_LEN], vb[LMDB_STREAM_REC_HDR_LEN + STORE_STREAM_REC_MAX];
	struct store_stream_head h;
	MDB_val k, v;
	int rc = head_get(t, dir, &h);

	if (rc)
		return rc;
	if (!st->have_streams)
		return -EROFS;
	if (seq < h.seq)
		return -EINVAL;
	if (h.first == h.end) {
		/* Empty: the head learns the first record's time (trimming reads only it). */
		h.first_ns = time_ns;
		rc = head_write(t, dir, &h);
		if (rc)
			return memo_forget(t, dir, rc);
	}
	lmdb_put_le64(vb, time_ns);
	lmdb_put_le64(vb + 8, seq);
	memcpy(vb + LMDB_STREAM_REC_HDR_LEN, rec, len);
	k = lmdb_stream_key(kb, dir, true, h.end);
	v = (MDB_val){LMDB_STREAM_REC_HDR_LEN + len, vb};
	rc = lmdb_put(t, st->streams, &k, &v, MDB_NOOVERWRITE, dir);
	if (rc == -EEXIST) /* a record past the last: the store is damaged */
		rc = damaged(st, dir, "a record already", h.end);
	if (rc)
		return memo_forget(t, dir, rc);
	h.end += len;
	h.seq = seq;
	h.last_ns = time_ns;
	if (out)
		*out = h;
	memo_keep(t, dir, &h);
	return 0;
}

int lmdb_stream_trim(struct store_txn *txn, uint64_t dir, uint64_t before_ns, uint64_t max_bytes,
		     unsigned max_records, unsigned *dropped, struct store_stream_head *out)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char kb[LMDB_STREAM_REC_KEY_LEN];
	struct store_stream_head h, stored;
	uint64_t tns, seq, trimmed_seq = 0;
	unsigned n = 0;
	size_t len;
	MDB_val k, v;
	int rc = head_get(t, dir, &h);

	while (rc == 0 && h.first < h.end && n < max_records &&
	       (h.first_ns < before_ns || (max_bytes && h.end - h.first > max_bytes))) {
		k = lmdb_stream_key(kb, dir, true, h.first);
		rc = lmdb_get(t, st->streams, &k, &v, dir);
		if (rc == -ENOENT || (rc == 0 && (lmdb_stream_rec_decode(&v, &tns, &seq, &len) ||
						   len > h.end - h.first)))
			rc = damaged(st, dir, "no record", h.first);
		if (rc == 0) {
			h.first += len;
			trimmed_seq = seq;
			rc = lmdb_del(t, st->streams, &k, dir);
		}
		if (rc == 0 && h.first < h.end) {
			k = lmdb_stream_key(kb, dir, true, h.first);
			rc = lmdb_get(t, st->streams, &k, &v, dir);
			if (rc == -ENOENT || (rc == 0 && lmdb_stream_rec_decode(&v, &tns, &seq, &len)))
				rc = damaged(st, dir, "no record", h.first);
			if (rc == 0)
				h.first_ns = tns;
		}
		n++;
	}
	if (rc == 0 && n > 0) {
		/* The head's seq: the last trimmed record's, a floor for those kept, and
		 * the seq reached once the stream is empty. */
		stored = h;
		stored.seq = trimmed_seq;
		rc = head_write(t, dir, &stored);
		if (h.first == h.end)
			h.last_ns = 0; /* no record kept */
	}
	if (dropped)
		*dropped = rc == 0 ? n : 0;
	if (rc)
		return memo_forget(t, dir, rc);
	if (out)
		*out = h;
	memo_keep(t, dir, &h);
	return 0;
}

/*
 * Positions c on the record that holds offset p of dir's stream (p in
 * [first, end)): the last record key at or below p. Returns its offset in
 * *at, or -EIO when there is none.
 */
static int seek_record(struct lmdb_txn *t, MDB_cursor *c, uint64_t dir, uint64_t p, MDB_val *k,
		       MDB_val *v, uint64_t *at)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char kb[LMDB_STREAM_REC_KEY_LEN];
	uint64_t kdir;
	int rc;

	*k = lmdb_stream_key(kb, dir, true, p);
	rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (rc == 0 && lmdb_stream_key_parse(k, &kdir, at) == 2 && kdir == dir && *at == p)
		return 0;
	if (rc && rc != MDB_NOTFOUND)
		return lmdb_txn_fail(t, rc, "seeking a stream", st->streams, dir);
	rc = mdb_cursor_get(c, k, v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
	if (rc == 0 && lmdb_stream_key_parse(k, &kdir, at) == 2 && kdir == dir && *at <= p)
		return 0;
	if (rc && rc != MDB_NOTFOUND)
		return lmdb_txn_fail(t, rc, "seeking a stream", st->streams, dir);
	lmdb_log(st, LOG_ERR, "stream of directory %llu: no record holds offset %llu",
		 (unsigned long long)dir, (unsigned long long)p);
	return -EIO;
}

int lmdb_stream_read(struct store_txn *txn, uint64_t dir, uint64_t off, void *buf, size_t size,
		     size_t *len)
{
	struct lmdb_txn *t = lmdb_txn_of(txn);
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char *out = buf;
	struct store_stream_head h;
	uint64_t n, p, at = 0, kdir;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = head_get(t, dir, &h);

	*len = 0;
	if (rc || off >= h.end || size == 0)
		return rc;
	n = h.end - off < size ? h.end - off : size;
	p = off;
	if (p < h.first) { /* trimmed: a hole */
		uint64_t z = h.first - p < n ? h.first - p : n;
		memset(out, 0, z);
		p += z;
	}
	if (p == off + n) {
		*len = n;
		return 0;
	}
	rc = lmdb_cursor_open(t, st->streams, &c);
	if (rc)
		return rc;
	rc = seek_record(t, c, dir, p, &k, &v, &at);
	while (rc == 0 && p < off + n) {
		uint64_t rlen = v.mv_size > LMDB_STREAM_REC_HDR_LEN ? v.mv_size - LMDB_STREAM_REC_HDR_LEN : 0;
		/* (a head key, 8 bytes, never lands here: seek_record matched dir + offset) */
		uint64_t skip = p - at, take;

		if (skip >= rlen) {
			lmdb_log(st, LOG_ERR, "stream of directory %llu: a gap at offset %llu",
				 (unsigned long long)dir, (unsigned long long)p);
			rc = -EIO;
			break;
		}
		take = rlen - skip < off + n - p ? rlen - skip : off + n - p;
		memcpy(out + (p - off), (const unsigned char *)v.mv_data + LMDB_STREAM_REC_HDR_LEN + skip,
		       take);
		p += take;
		if (p == off + n)
			break;
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		if (rc == 0 && (lmdb_stream_key_parse(&k, &kdir, &at) != 2 || kdir != dir || at != p))
			rc = MDB_NOTFOUND;
		if (rc == MDB_NOTFOUND) {
			lmdb_log(st, LOG_ERR, "stream of directory %llu: no record at offset %llu",
				 (unsigned long long)dir, (unsigned long long)p);
			rc = -EIO;
		} else if (rc > 0) {
			rc = lmdb_txn_fail(t, rc, "reading a stream", st->streams, dir);
		}
	}
	mdb_cursor_close(c);
	if (rc == 0)
		*len = n;
	return rc;
}

/* Deletes dir's head and records (dir is being freed). */
int lmdb_stream_drop(struct lmdb_txn *t, uint64_t dir)
{
	const struct lmdb_store *st = lmdb_txn_store(t);
	unsigned char kb[LMDB_STREAM_REC_KEY_LEN];
	uint64_t kdir, off;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = st->have_streams ? lmdb_cursor_open(t, st->streams, &c) : 1;

	memo_forget(t, dir, 0);
	if (rc)
		return rc < 0 ? rc : 0;
	/* Re-seek after each delete rather than trust the cursor's position. */
	for (;;) {
		k = lmdb_stream_key(kb, dir, false, 0);
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc || !lmdb_stream_key_parse(&k, &kdir, &off) || kdir != dir)
			break;
		rc = lmdb_cursor_del(t, c, st->streams, "dropping a stream", dir);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	if (rc == 0 || rc == MDB_NOTFOUND)
		return 0;
	return rc < 0 ? rc : lmdb_txn_fail(t, rc, "dropping a stream", st->streams, dir);
}
