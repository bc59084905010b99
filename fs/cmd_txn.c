/*
 * cmd_txn.c - `itemfs txn MOUNTPOINT MANIFEST`: applies a multi-item
 * transaction (docs/dynamodb.md, "Transactions") through the mount's
 * hidden MOUNTPOINT/.itemfs/txn, and says what happened. MANIFEST "-" is
 * standard input. The manifest is written as it is, then fsync applies
 * it (a `commit` line is not needed) and the outcome is read back: the
 * daemon checks and applies; this only carries text and errors.
 * Exit: 0 applied; 1 not applied (each failed action is named); 2 usage,
 * or MOUNTPOINT is not an itemfs mount, or MANIFEST cannot be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fs.h"
#include "txn_parse.h"

#define USAGE "usage: itemfs txn MOUNTPOINT MANIFEST   (MANIFEST - reads standard input)\n"

/* Reads all of fd (at most TXN_MANIFEST_MAX bytes) into *out. */
static int read_all(int fd, char **out, size_t *len)
{
	size_t n = 0, cap = 65536;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *p = cap > TXN_MANIFEST_MAX ? NULL : realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				return cap > TXN_MANIFEST_MAX ? -EFBIG : -ENOMEM;
			}
			buf = p;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			free(buf);
			return -e;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > TXN_MANIFEST_MAX) {
		free(buf);
		return -EFBIG;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* Prints the daemon's outcome lines, each prefixed, to out. */
static void print_report(int fd, FILE *out)
{
	char buf[8192];
	ssize_t got;
	bool bol = true;

	while ((got = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < got; i++) {
			if (bol)
				fputs("itemfs txn: ", out);
			fputc(buf[i], out);
			bol = buf[i] == '\n';
		}
	if (!bol)
		fputc('\n', out);
}

int cmd_txn(int argc, char **argv)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int fd, in, rc;

	if (argc != 2 || (argv[0][0] == '-' && argv[0][1])) {
		fputs(USAGE, stderr);
		return 2;
	}
	if (snprintf(path, sizeof(path), "%s/%s/txn", argv[0], FS_HIDDEN_NAME) >=
	    (int)sizeof(path)) {
		fprintf(stderr, "itemfs txn: %s: path too long\n", argv[0]);
		return 2;
	}
	in = strcmp(argv[1], "-") == 0 ? STDIN_FILENO : open(argv[1], O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		fprintf(stderr, "itemfs txn: cannot read the manifest %s: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	rc = read_all(in, &text, &len);
	if (in != STDIN_FILENO)
		close(in);
	if (rc) {
		fprintf(stderr, "itemfs txn: cannot read the manifest %s: %s%s\n", argv[1],
			strerror(-rc), rc == -EFBIG ? " (a manifest is at most 1 MiB)" : "");
		return 2;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr,
			"itemfs txn: cannot open %s: %s; is %s an itemfs mount? "
			"(`findmnt %s` shows what is mounted there)\n",
			path, strerror(errno), argv[0], argv[0]);
		free(text);
		return 2;
	}
	rc = cli_write_all(fd, text, len);
	free(text);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (rc == 0) {
		close(fd);
		return 0;
	}
	fprintf(stderr, "itemfs txn: nothing was applied: %s\n", strerror(-rc));
	if (lseek(fd, 0, SEEK_SET) == 0)
		print_report(fd, stderr);
	close(fd);
	return 1;
}
