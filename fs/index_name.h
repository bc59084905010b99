/*
 * index_name.h - the names of the index views (docs/dynamodb.md,
 * "Secondary indexes"): an attribute value, or an item's key path below
 * its table, turned into one directory entry name and back. Pure code
 * (no FUSE, no store), unit-tested on its own (tests/unit/test_index_name.c).
 *
 * The escape: '%' is "%25", '/' is "%2F", NUL is "%00"; a value that is
 * empty is "%", "." is "%2E" and ".." is "%2E%2E"; every other byte is
 * itself. A name whose escape would be longer than FS_INDEX_NAME_MAX
 * bytes is cut (never inside an escape) to at most FS_INDEX_PREFIX_MAX
 * bytes and followed by "%#" and 16 lower-case hex digits of a 64-bit
 * FNV-1a hash of the whole value: the long form, which is found again by
 * its prefix (the caller compares candidates' encodings).
 */
#ifndef ITEMFS_INDEX_NAME_H
#define ITEMFS_INDEX_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_INDEX_NAME_MAX 255u
#define FS_INDEX_PREFIX_MAX 236u

/*
 * Writes the name of raw[0..len) into out, NUL-terminated, and returns its
 * length (1..FS_INDEX_NAME_MAX). raw is borrowed; len may be 0.
 */
size_t fs_index_name_encode(const void *raw, size_t len, char out[FS_INDEX_NAME_MAX + 1]);

/*
 * Decodes name (NUL-terminated) into out (size bytes), its length into
 * *len, and whether it is the long form into *cut (out then holds the
 * decoded prefix only). Errors: -EINVAL (not a name fs_index_name_encode()
 * writes: a bad or needless escape, a '/'), -ENAMETOOLONG (size too small).
 * out and *len are written only on success.
 */
int fs_index_name_decode(const char *name, void *out, size_t size, size_t *len, bool *cut);

#endif /* ITEMFS_INDEX_NAME_H */
