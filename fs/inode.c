/*
 * inode.c - the table of inodes the kernel currently references.
 *
 * FUSE hands us inode numbers that are the store's own (stable, never
 * reused), so this table holds no mapping, only what a mount must remember
 * about an inode between requests: the kernel's lookup count, the open
 * files, the writer whose uncommitted size and mtime stat must report, and
 * the name it was reached by, so that log lines can name the table and item.
 * A chained hash keyed by inode number; it doubles when the load passes 2.
 *
 * The table mirrors the kernel's inode cache, which keeps every inode it
 * has looked up for as long as memory allows: a million items listed once
 * would cost the daemon a million entries. -o max_inodes bounds it. Past
 * the bound, fs_itab_trim() picks entries with a clock (second chance: an
 * entry looked up since the clock last passed is skipped once), and the
 * caller asks the kernel to drop their names; the kernel then evicts the
 * inodes, FUSE does not keep unreferenced ones, and its FORGET frees the
 * entries here. Directories, open files and files with waiting writers are
 * never picked. A trimmed entry that the kernel keeps (a name it does not
 * hold, or another hard link) is picked again when the clock comes round.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

#define ITAB_INITIAL 1024

static size_t itab_slot(const struct fs_inode_table *t, uint64_t ino)
{
	/* Fibonacci hashing spreads sequential inode numbers. */
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 20) & (t->nbuckets - 1);
}

int fs_itab_init(struct fs_inode_table *t)
{
	t->buckets = calloc(ITAB_INITIAL, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = ITAB_INITIAL;
	t->count = 0;
	return 0;
}

void fs_itab_destroy(struct fs_inode_table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct fs_inode *in = t->buckets[i];
		while (in) {
			struct fs_inode *next = in->next;
			free(in->name);
			free(in);
			in = next;
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
}

struct fs_inode *fs_inode_find(struct fs_inode_table *t, uint64_t ino)
{
	for (struct fs_inode *in = t->buckets[itab_slot(t, ino)]; in; in = in->next)
		if (in->ino == ino)
			return in;
	return NULL;
}

/* Doubles the bucket array; on allocation failure the table stays as is. */
static void itab_grow(struct fs_inode_table *t)
{
	struct fs_inode_table n = {.nbuckets = t->nbuckets * 2, .count = t->count};

	n.buckets = calloc(n.nbuckets, sizeof(*n.buckets));
	if (!n.buckets)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct fs_inode *in = t->buckets[i];
		while (in) {
			struct fs_inode *next = in->next;
			size_t s = itab_slot(&n, in->ino);
			in->next = n.buckets[s];
			n.buckets[s] = in;
			in = next;
		}
	}
	free(t->buckets);
	*t = n;
}

void fs_inode_rename(struct fs_inode *in, uint64_t parent, const char *name, size_t namelen)
{
	char *copy;

	if (!name)
		return;
	copy = strndup(name, namelen);
	if (!copy)
		return; /* keep the old name: it only feeds log lines */
	free(in->name);
	in->name = copy;
	in->parent = parent;
}

/*
 * Takes one kernel reference on ino (creating the entry), remembering that
 * it was reached as parent/name (name may be NULL to keep the old one).
 * The entry is returned in *out (may be NULL). Errors: -ENOMEM.
 */
int fs_inode_ref(struct fs_inode_table *t, uint64_t ino, bool dir, uint64_t parent,
		 const char *name, size_t namelen, struct fs_inode **out)
{
	struct fs_inode *in = fs_inode_find(t, ino);

	if (!in) {
		in = calloc(1, sizeof(*in));
		if (!in)
			return -ENOMEM;
		in->ino = ino;
		if (t->count >= t->nbuckets * 2)
			itab_grow(t);
		size_t s = itab_slot(t, ino);
		in->next = t->buckets[s];
		t->buckets[s] = in;
		t->count++;
	}
	in->nlookup++;
	in->dir = dir;
	in->recent = true;
	if (in->trimmed) { /* looked up again: the kernel kept it, or wants it back */
		in->trimmed = false;
		t->trimming--;
	}
	fs_inode_rename(in, parent, name, namelen);
	if (out)
		*out = in;
	return 0;
}

/*
 * Drops nlookup kernel references; frees the entry once nothing holds it,
 * and then returns true (in is gone). Outside this file, fs_inode_put()
 * does this and also frees an orphan's store record.
 */
bool fs_inode_unref(struct fs_inode_table *t, struct fs_inode *in, uint64_t nlookup)
{
	struct fs_inode **pp;

	in->nlookup = nlookup > in->nlookup ? 0 : in->nlookup - nlookup;
	if (in->nlookup || in->nopen || in->ino == STORE_ROOT_INO)
		return false;
	for (pp = &t->buckets[itab_slot(t, in->ino)]; *pp; pp = &(*pp)->next) {
		if (*pp == in) {
			*pp = in->next;
			t->count--;
			if (in->trimmed)
				t->trimming--;
			free(in->name);
			free(in);
			return true;
		}
	}
	return false;
}

/* True when the kernel may be asked to forget in's name. */
static bool trimmable(const struct fs_inode *in)
{
	return in->ino != STORE_ROOT_INO && !in->dir && in->nlookup && !in->nopen && !in->writer &&
	       !in->nwaiting && in->name && in->parent;
}

/*
 * Advances the trimming clock over at most want * 8 + 64 buckets, calling
 * fn for each entry it picks, up to want; marks them trimmed. Returns how
 * many it picked.
 */
size_t fs_itab_trim(struct fs_inode_table *t, size_t want,
		    void (*fn)(void *arg, struct fs_inode *in), void *arg)
{
	size_t picked = 0;

	for (size_t steps = want * 8 + 64; picked < want && steps; steps--) {
		t->hand = (t->hand + 1) & (t->nbuckets - 1);
		for (struct fs_inode *in = t->buckets[t->hand]; in && picked < want;
		     in = in->next) {
			if (!trimmable(in))
				continue;
			if (in->trimmed) { /* a round ago, and still here: ask again */
				in->trimmed = false;
				t->trimming--;
			} else if (in->recent) {
				in->recent = false;
				continue;
			}
			in->trimmed = true;
			t->trimming++;
			fn(arg, in);
			picked++;
		}
	}
	return picked;
}

/*
 * Writes "table/dir/item" for ino into buf, from the names the kernel
 * reached it by; "inode N" parts where a name is not known. Always
 * NUL-terminates (truncating). Returns the length written.
 */
int fs_inode_path(struct fs_inode_table *t, uint64_t ino, char *buf, size_t size)
{
	const char *parts[64];
	size_t n = 0, used = 0;
	struct fs_inode *in = fs_inode_find(t, ino);

	if (size == 0)
		return 0;
	buf[0] = '\0';
	while (in && in->ino != STORE_ROOT_INO && in->name && n < 64) {
		parts[n++] = in->name;
		in = fs_inode_find(t, in->parent);
	}
	if (n == 0 || (in && in->ino != STORE_ROOT_INO)) {
		int w = snprintf(buf, size, "inode %llu", (unsigned long long)ino);
		return w < 0 ? 0 : (int)((size_t)w < size ? (size_t)w : size - 1);
	}
	while (n-- > 0 && used + 1 < size) {
		int w = snprintf(buf + used, size - used, "%s%s", used ? "/" : "", parts[n]);
		if (w < 0)
			break;
		used += (size_t)w < size - used ? (size_t)w : size - used - 1;
	}
	return (int)used;
}
