/*
 * lmdb_format.c - the byte layout of the LMDB backend's keys and values.
 *
 * This file is the code form of docs/store-format.md: every field is
 * written and read one at a time at a fixed offset and byte order, never by
 * copying a C struct, so the format does not depend on the compiler or the
 * host. A change here is a format change: it needs a new
 * STORE_FORMAT_VERSION (or a new inode record version) and a doc update.
 * Decoders check lengths and versions and log what they found; they do not
 * know about transactions.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <xxhash.h>

#include "lmdb_i.h"

/* One field at a time, advancing p: the format's fields follow each other. */
static unsigned char *put_le32(unsigned char *p, uint32_t v)
{
	lmdb_put_le32(p, v);
	return p + 4;
}

static unsigned char *put_le64(unsigned char *p, uint64_t v)
{
	lmdb_put_le64(p, v);
	return p + 8;
}

static uint32_t get_le32(const unsigned char **pp)
{
	uint32_t v = lmdb_get_le32(*pp);

	*pp += 4;
	return v;
}

static uint64_t get_le64(const unsigned char **pp)
{
	uint64_t v = lmdb_get_le64(*pp);

	*pp += 8;
	return v;
}

void lmdb_key_set(struct lmdb_key *k, uint64_t ino, const void *name, size_t len)
{
	lmdb_put_be64(k->buf, ino);
	if (len > 0)
		memcpy(k->buf + 8, name, len);
	k->val.mv_data = k->buf;
	k->val.mv_size = 8 + len;
}

/* The inode number a key begins with; the caller checks mv_size >= 8. */
uint64_t lmdb_key_ino(const MDB_val *key)
{
	return lmdb_get_be64(key->mv_data);
}

void lmdb_u32_val(unsigned char buf[4], uint32_t v, MDB_val *out)
{
	put_le32(buf, v);
	out->mv_data = buf;
	out->mv_size = 4;
}

void lmdb_u64_val(unsigned char buf[8], uint64_t v, MDB_val *out)
{
	put_le64(buf, v);
	out->mv_data = buf;
	out->mv_size = 8;
}

/* Reads a 4-byte little-endian value; -EINVAL when v is not 4 bytes. */
int lmdb_u32_get(const MDB_val *v, uint32_t *out)
{
	const unsigned char *p = v->mv_data;

	if (v->mv_size != 4)
		return -EINVAL;
	*out = get_le32(&p);
	return 0;
}

/* Reads an 8-byte little-endian value; -EINVAL when v is not 8 bytes. */
int lmdb_u64_get(const MDB_val *v, uint64_t *out)
{
	const unsigned char *p = v->mv_data;

	if (v->mv_size != 8)
		return -EINVAL;
	*out = get_le64(&p);
	return 0;
}

static unsigned char *put_time(unsigned char *p, const struct timespec *ts)
{
	p = put_le64(p, (uint64_t)ts->tv_sec);
	return put_le32(p, (uint32_t)ts->tv_nsec);
}

static void get_time(const unsigned char **pp, struct timespec *ts)
{
	ts->tv_sec = (time_t)(int64_t)get_le64(pp);
	ts->tv_nsec = (long)get_le32(pp);
}

/* The inode number is the key, not part of the record. */
void lmdb_inode_encode(const struct store_attr *a, unsigned char rec[LMDB_INODE_REC_LEN])
{
	unsigned char *p = rec;

	*p++ = LMDB_INODE_REC_VERSION;
	p = put_le32(p, a->mode);
	p = put_le32(p, a->uid);
	p = put_le32(p, a->gid);
	p = put_le32(p, a->nlink);
	p = put_le64(p, a->size);
	p = put_le64(p, a->parent);
	p = put_le32(p, a->keylen);
	p = put_le32(p, a->xattr_bytes);
	p = put_le64(p, a->version);
	p = put_time(p, &a->atime);
	p = put_time(p, &a->mtime);
	put_time(p, &a->ctime);
}

/*
 * lmdb_inode_decode() without the log line, for the checker: *version is
 * always set to the record version byte found (0 for an empty value); -EIO
 * when the record is not LMDB_INODE_REC_LEN bytes of LMDB_INODE_REC_VERSION.
 */
int lmdb_inode_parse(uint64_t ino, const MDB_val *v, struct store_attr *out, unsigned *version)
{
	const unsigned char *p = v->mv_data;
	struct store_attr a = {.ino = ino};

	*version = v->mv_size ? p[0] : 0;
	if (v->mv_size != LMDB_INODE_REC_LEN || p[0] != LMDB_INODE_REC_VERSION)
		return -EIO;
	p++;
	a.mode = get_le32(&p);
	a.uid = get_le32(&p);
	a.gid = get_le32(&p);
	a.nlink = get_le32(&p);
	a.size = get_le64(&p);
	a.parent = get_le64(&p);
	a.keylen = get_le32(&p);
	a.xattr_bytes = get_le32(&p);
	a.version = get_le64(&p);
	get_time(&p, &a.atime);
	get_time(&p, &a.mtime);
	get_time(&p, &a.ctime);
	*out = a;
	return 0;
}

int lmdb_inode_decode(const struct lmdb_store *st, uint64_t ino, const MDB_val *v,
		      struct store_attr *out)
{
	unsigned version;
	int rc = lmdb_inode_parse(ino, v, out, &version);

	if (rc)
		lmdb_log(st, LOG_ERR,
			 "inode %llu: unreadable record (%zu bytes, version %u; expected %u bytes, "
			 "version %u)",
			 (unsigned long long)ino, v->mv_size, version, LMDB_INODE_REC_LEN,
			 LMDB_INODE_REC_VERSION);
	return rc;
}

void lmdb_dirent_encode(unsigned char val[LMDB_DIRENT_VAL_LEN], uint64_t ino, uint32_t mode)
{
	put_le32(put_le64(val, ino), mode & S_IFMT);
}

int lmdb_dirent_decode(const struct lmdb_store *st, uint64_t parent, const MDB_val *v,
		       uint64_t *ino, uint32_t *type)
{
	const unsigned char *p = v->mv_data;

	if (v->mv_size != LMDB_DIRENT_VAL_LEN) {
		lmdb_log(st, LOG_ERR, "directory inode %llu: entry value of %zu bytes, expected %u",
			 (unsigned long long)parent, v->mv_size, LMDB_DIRENT_VAL_LEN);
		return -EIO;
	}
	*ino = get_le64(&p);
	*type = get_le32(&p);
	return 0;
}

/* dst has room for LMDB_DATA_HDR_LEN + len bytes. */
void lmdb_data_encode(void *dst, const void *data, size_t len)
{
	put_le64(dst, XXH3_64bits(data, len));
	memcpy((unsigned char *)dst + LMDB_DATA_HDR_LEN, data, len);
}

/*
 * lmdb_data_decode() without the log line, for the checker: -EIO when v is
 * too short to hold a checksum and data, -EBADMSG on a checksum mismatch.
 * *data and *len are written on success only.
 */
int lmdb_data_parse(const MDB_val *v, const void **data, size_t *len)
{
	const unsigned char *p = v->mv_data;
	const unsigned char *bytes = p + LMDB_DATA_HDR_LEN;
	size_t n;

	if (v->mv_size <= LMDB_DATA_HDR_LEN)
		return -EIO;
	n = v->mv_size - LMDB_DATA_HDR_LEN;
	if (get_le64(&p) != XXH3_64bits(bytes, n))
		return -EBADMSG;
	*data = bytes;
	*len = n;
	return 0;
}

/*
 * Checks a data value's checksum and points *data at its bytes (valid as
 * long as v is). -EBADMSG on a mismatch, -EIO on a value too short to hold
 * a checksum; both logged.
 */
int lmdb_data_decode(const struct lmdb_store *st, uint64_t ino, const MDB_val *v, const void **data,
		     size_t *len)
{
	int rc = lmdb_data_parse(v, data, len);

	if (rc == -EIO)
		lmdb_log(st, LOG_ERR, "inode %llu: data value of %zu bytes has no data",
			 (unsigned long long)ino, v->mv_size);
	else if (rc == -EBADMSG)
		lmdb_log(st, LOG_ERR, "item data checksum mismatch (inode %llu)",
			 (unsigned long long)ino);
	return rc;
}

/* A change log key: the seq, big-endian so that keys sort by seq. */
void lmdb_seq_key(unsigned char buf[8], uint64_t seq, MDB_val *out)
{
	lmdb_put_be64(buf, seq);
	out->mv_data = buf;
	out->mv_size = 8;
}

/* Reads a change log key; -EINVAL when it is not 8 bytes. */
int lmdb_seq_get(const MDB_val *key, uint64_t *seq)
{
	if (key->mv_size != 8)
		return -EINVAL;
	*seq = lmdb_key_ino(key);
	return 0;
}

/*
 * A change record: version, kind, origin, ino, parent, then the name's
 * bytes (none for STORE_CHANGE_INODE); the value's length gives the name's.
 * c->seq is the key, not part of the record. Returns the record's length.
 */
size_t lmdb_change_encode(unsigned char rec[LMDB_CHANGE_HDR_LEN + STORE_NAME_MAX],
			  const struct store_change *c)
{
	unsigned char *p = rec;

	*p++ = LMDB_CHANGE_REC_VERSION;
	*p++ = (unsigned char)c->kind;
	p = put_le64(p, c->origin);
	p = put_le64(p, c->ino);
	p = put_le64(p, c->parent);
	if (c->namelen > 0)
		memcpy(p, c->name, c->namelen);
	return LMDB_CHANGE_HDR_LEN + c->namelen;
}

/*
 * Reads the change record at key; out->name points into v (valid as long
 * as v is). -EIO, logged, for a key or record of the wrong shape: another
 * version, an unknown kind, an inode record with a name or an entry record
 * without one.
 */
int lmdb_change_decode(const struct lmdb_store *st, const MDB_val *key, const MDB_val *v,
		       struct store_change *out)
{
	const unsigned char *rec = v->mv_data, *p = rec;
	struct store_change c = {0};
	size_t namelen;

	if (lmdb_seq_get(key, &c.seq)) {
		lmdb_log(st, LOG_ERR, "change log: a key of %zu bytes, expected 8", key->mv_size);
		return -EIO;
	}
	if (v->mv_size < LMDB_CHANGE_HDR_LEN || p[0] != LMDB_CHANGE_REC_VERSION)
		goto bad;
	namelen = v->mv_size - LMDB_CHANGE_HDR_LEN;
	c.kind = (enum store_change_kind)p[1];
	p += 2;
	c.origin = get_le64(&p);
	c.ino = get_le64(&p);
	c.parent = get_le64(&p);
	if (c.kind == STORE_CHANGE_INODE && namelen == 0)
		c.name = NULL;
	else if (c.kind == STORE_CHANGE_ENTRY && namelen > 0 && namelen <= STORE_NAME_MAX)
		c.name = (const char *)p;
	else
		goto bad;
	c.namelen = namelen;
	*out = c;
	return 0;
bad:
	lmdb_log(st, LOG_ERR,
		 "change log: unreadable record %llu (%zu bytes, version %u, kind %u; expected "
		 "version %u)",
		 (unsigned long long)c.seq, v->mv_size, v->mv_size ? rec[0] : 0u,
		 v->mv_size > 1 ? rec[1] : 0u, LMDB_CHANGE_REC_VERSION);
	return -EIO;
}
