/*
 * xattr_commit.c - the driver of index_cost.sh: N durable attribute
 * changes, each a setxattr(2) of user.color on one of the items DIR/i0 ..
 * DIR/i<ITEMS-1> (round robin, values v0..v9 in turn) followed by fsync(2)
 * of DIR, which on itemfs commits the store (one synced LMDB commit per
 * change). Prints the seconds the N changes took.
 *
 * usage: xattr-commit DIR ITEMS N
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec a, b;
	char path[4096], val[16];
	long items, n;
	int dfd;

	if (argc != 4 || (items = atol(argv[2])) <= 0 || (n = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: xattr-commit DIR ITEMS N\n");
		return 2;
	}
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		perror(argv[1]);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/i%ld", argv[1], i % items);
		snprintf(val, sizeof(val), "v%ld", (i / items) % 10);
		if (setxattr(path, "user.color", val, strlen(val), 0) != 0 || fsync(dfd) != 0) {
			perror(path);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	close(dfd);
	return 0;
}
