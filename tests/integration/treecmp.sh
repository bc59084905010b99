# shellcheck shell=bash
# treecmp.sh - compares two directory trees in every respect a backup must
# keep; sourced after lib.sh by the backup tests (test_tar_roundtrip.sh,
# test_backup_docs.sh).
#
# same_tree A B WHAT fails the test (naming WHAT) unless A and B hold:
# - the same bytes in every file and the same symlink targets (diff -r);
# - the same type, mode, owner, group, size (non-directories), link count
#   and mtime to the nanosecond (find -printf %T@) for every entry, the top
#   directory included;
# - the same hard-link groups: the names that share an inode, by path;
# - the same user.* xattrs, names and values (getfattr, hex).
# Names may hold spaces, tabs and newlines: lists are NUL-separated until
# sorted, then a newline in a name is shown as '?'.

# tree_meta DIR: one line per entry, by path.
tree_meta() {
	find "$1" \( -type d -printf '%P\t%y %m %U:%G %n %T@\0' \) -o \
		\( ! -type d -printf '%P\t%y %m %U:%G %s %n %T@ %l\0' \) |
		sort -z | tr '\n\0' '?\n'
}

# tree_links DIR: one line per hard-link group: its paths, sorted, joined by
# " | "; the lines sorted (inode numbers differ between trees; groups must not).
tree_links() {
	find "$1" ! -type d -links +1 -printf '%i\t%P\0' | sort -z -t "$(printf '\t')" -k2 |
		tr '\n\0' '?\n' |
		awk -F '\t' '{ i = $1; sub(/^[^\t]*\t/, ""); g[i] = (i in g) ? g[i] " | " $0 : $0 }
			END { for (i in g) print g[i] }' | sort
}

# tree_xattrs DIR: the user.* xattrs of every entry, by path (getfattr
# escapes odd bytes in names).
tree_xattrs() {
	(cd "$1" && find . -print0 | sort -z |
		xargs -0 getfattr -h -d -m '^user\.' -e hex --absolute-names)
}

# same_tree A B WHAT
same_tree() {
	local out
	out=$(diff -r --no-dereference "$1" "$2" 2>&1) ||
		fail "$3: diff -r $1 $2: $(printf '%s\n' "$out" | head -n 20)"
	out=$(diff <(tree_meta "$1") <(tree_meta "$2")) ||
		fail "$3: metadata differs (< $1, > $2):
$(printf '%s\n' "$out" | head -n 40)"
	out=$(diff <(tree_links "$1") <(tree_links "$2")) ||
		fail "$3: hard-link groups differ (< $1, > $2):
$(printf '%s\n' "$out" | head -n 40)"
	out=$(diff <(tree_xattrs "$1") <(tree_xattrs "$2")) ||
		fail "$3: user.* xattrs differ (< $1, > $2):
$(printf '%s\n' "$out" | head -n 40)"
}
