/*
 * itest_helper.c - the few system calls the integration tests need that no
 * shell tool on a stock Debian 12 makes: renameat2() with its flags, mknod()
 * of a regular file, open() with chosen flags, setxattr() with
 * XATTR_CREATE/XATTR_REPLACE, one write() of N bytes, a writer that holds
 * its file open and writes, fsyncs and closes when told, a conditional
 * write through a descriptor (condwrite), and flipping one stored byte of an
 * item in a store's LMDB "data" database (to test checksums).
 *
 * Each system-call command prints "OK" (exit 0) or the errno name, such as
 * "EEXIST" (exit 1), on stdout, so a test can assert the exact error. Usage
 * errors and unexpected failures of the helper itself exit 2.
 *
 * flip is the one piece of test code that knows the store's on-disk layout
 * (the layout docs/ describes): key = inode number, 8 bytes big-endian;
 * value = XXH3-64 of the data, 8 bytes little-endian, then the data. It
 * must only be run on a store no daemon has open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <lmdb.h>

static int report(int rc)
{
	if (rc == 0) {
		puts("OK");
		return 0;
	}
	puts(strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
	return 1;
}

static int usage(void)
{
	fputs("usage: itest_helper COMMAND ARGS\n"
	      "  rename OLD NEW [none|noreplace|exchange]\n"
	      "  mknod PATH reg|fifo|sock|chr|blk\n"
	      "  open PATH FLAG[,FLAG...]   (rdonly wronly rdwr creat excl trunc append)\n"
	      "  setxattr PATH NAME VALUE none|create|replace\n"
	      "  write PATH NBYTES          (O_WRONLY|O_CREAT|O_TRUNC, one write(), close)\n"
	      "  hold PATH trunc|append|rdwr  (then stdin: write TEXT | fsync | close\n"
	      "                             | cond TOKEN: setxattr user.itemfs.if_version)\n"
	      "  condwrite PATH TOKEN TEXT [fsync]  (open O_WRONLY|O_TRUNC, setxattr\n"
	      "                             user.itemfs.if_version TOKEN on PATH, write TEXT,\n"
	      "                             [fsync], close: the first failure is printed)\n"
	      "  readhold PATH [direct]     (O_RDONLY, O_DIRECT with direct; then stdin:\n"
	      "                             read: the whole item from offset 0 as one line\n"
	      "                             | fsync | close)\n"
	      "  fsync PATH                 (open O_RDONLY, fsync(2): a file or a directory)\n"
	      "  seek PATH data|hole OFFSET (open O_RDONLY, lseek(2) SEEK_DATA or SEEK_HOLE:\n"
	      "                             prints the offset, or the errno name)\n"
	      "  renamerace DIR CYCLES READERS  (READERS processes read DIR/item while it is\n"
	      "                             replaced CYCLES times by rename of DIR/item.tmp)\n"
	      "  flip STORE_DIR INO OFFSET  (flip byte OFFSET of item INO's stored value:\n"
	      "                             0-7 the hash, 8 on the data)\n",
	      stderr);
	return 2;
}

static int cmd_rename(int argc, char **argv)
{
	unsigned int flags = 0;

	if (argc < 2 || argc > 3)
		return usage();
	if (argc == 3) {
		if (strcmp(argv[2], "noreplace") == 0)
			flags = RENAME_NOREPLACE;
		else if (strcmp(argv[2], "exchange") == 0)
			flags = RENAME_EXCHANGE;
		else if (strcmp(argv[2], "none") != 0)
			return usage();
	}
	return report(renameat2(AT_FDCWD, argv[0], AT_FDCWD, argv[1], flags));
}

static int cmd_mknod(int argc, char **argv)
{
	mode_t type;
	dev_t dev = 0;

	if (argc != 2)
		return usage();
	if (strcmp(argv[1], "reg") == 0)
		type = S_IFREG;
	else if (strcmp(argv[1], "fifo") == 0)
		type = S_IFIFO;
	else if (strcmp(argv[1], "sock") == 0)
		type = S_IFSOCK;
	else if (strcmp(argv[1], "chr") == 0) {
		type = S_IFCHR;
		dev = makedev(1, 3);
	} else if (strcmp(argv[1], "blk") == 0) {
		type = S_IFBLK;
		dev = makedev(7, 0);
	} else
		return usage();
	return report(mknod(argv[0], type | 0644, dev));
}

static int parse_open_flags(char *spec, int *out)
{
	int flags = 0;

	for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
		if (strcmp(tok, "rdonly") == 0)
			flags |= O_RDONLY;
		else if (strcmp(tok, "wronly") == 0)
			flags |= O_WRONLY;
		else if (strcmp(tok, "rdwr") == 0)
			flags |= O_RDWR;
		else if (strcmp(tok, "creat") == 0)
			flags |= O_CREAT;
		else if (strcmp(tok, "excl") == 0)
			flags |= O_EXCL;
		else if (strcmp(tok, "trunc") == 0)
			flags |= O_TRUNC;
		else if (strcmp(tok, "append") == 0)
			flags |= O_APPEND;
		else
			return -1;
	}
	*out = flags;
	return 0;
}

static int cmd_open(int argc, char **argv)
{
	int flags, fd;

	if (argc != 2 || parse_open_flags(argv[1], &flags) != 0)
		return usage();
	fd = open(argv[0], flags, 0644);
	if (fd < 0)
		return report(-1);
	if (close(fd) != 0)
		return report(-1);
	return report(0);
}

static int cmd_setxattr(int argc, char **argv)
{
	int flags;

	if (argc != 4)
		return usage();
	if (strcmp(argv[3], "create") == 0)
		flags = XATTR_CREATE;
	else if (strcmp(argv[3], "replace") == 0)
		flags = XATTR_REPLACE;
	else if (strcmp(argv[3], "none") == 0)
		flags = 0;
	else
		return usage();
	return report(setxattr(argv[0], argv[1], argv[2], strlen(argv[2]), flags));
}

/* One write() of the whole buffer: the error comes back from write or close. */
static int cmd_write(int argc, char **argv)
{
	size_t n;
	char *buf;
	ssize_t w;
	int fd;

	if (argc != 2)
		return usage();
	n = strtoul(argv[1], NULL, 10);
	buf = malloc(n ? n : 1);
	if (!buf)
		return 2;
	memset(buf, 'w', n);
	fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		free(buf);
		return report(-1);
	}
	w = write(fd, buf, n);
	free(buf);
	if (w < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return report(-1);
	}
	if ((size_t)w != n) {
		fprintf(stderr, "short write: %zd of %zu\n", w, n);
		close(fd);
		return 2;
	}
	return report(close(fd));
}

/*
 * hold PATH trunc|append|rdwr: opens PATH and prints "ready"; then runs one
 * command per line of stdin, printing "OK" or the errno name after each:
 *   write TEXT   one write(2) of TEXT (the rest of the line)
 *   fsync        fsync(2)
 *   close        close(2), then exit
 * End of input closes the file too. This lets a test keep a file open for
 * writing in a process that never forks: a forked child that closes an
 * inherited descriptor (as every shell command substitution does) sends a
 * FUSE flush, which commits the file.
 */
static int cmd_hold(int argc, char **argv)
{
	int flags, fd;
	char line[4096];

	if (argc != 2)
		return usage();
	if (strcmp(argv[1], "trunc") == 0)
		flags = O_WRONLY | O_CREAT | O_TRUNC;
	else if (strcmp(argv[1], "append") == 0)
		flags = O_WRONLY | O_CREAT | O_APPEND;
	else if (strcmp(argv[1], "rdwr") == 0)
		flags = O_RDWR | O_CREAT;
	else
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open(argv[0], flags, 0644);
	if (fd < 0)
		return report(-1);
	puts("ready");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "write ", 6) == 0) {
			size_t len = strlen(line + 6);
			ssize_t w = write(fd, line + 6, len);

			if (w >= 0 && (size_t)w != len) {
				fprintf(stderr, "hold: short write: %zd of %zu\n", w, len);
				return 2;
			}
			report(w < 0 ? -1 : 0);
		} else if (strcmp(line, "fsync") == 0) {
			report(fsync(fd));
		} else if (strncmp(line, "cond ", 5) == 0) {
			report(setxattr(argv[0], "user.itemfs.if_version", line + 5,
					strlen(line + 5), 0));
		} else if (strcmp(line, "close") == 0) {
			break;
		} else {
			fprintf(stderr, "hold: unknown command '%s'\n", line);
			return 2;
		}
	}
	return report(close(fd));
}

/*
 * condwrite PATH TOKEN TEXT [fsync]: a conditional write through a
 * descriptor (docs/dynamodb.md): the condition is set on the path by the
 * process that has it open for writing, so the descriptor holds it, and
 * close(2) (or fsync(2)) reports ECANCELED when it no longer holds.
 */
static int cmd_condwrite(int argc, char **argv)
{
	size_t len;
	int fd, e;

	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "fsync") != 0))
		return usage();
	len = strlen(argv[2]);
	fd = open(argv[0], O_WRONLY | O_TRUNC);
	if (fd < 0)
		return report(-1);
	if (setxattr(argv[0], "user.itemfs.if_version", argv[1], strlen(argv[1]), 0) != 0 ||
	    write(fd, argv[2], len) != (ssize_t)len || (argc == 4 && fsync(fd) != 0)) {
		e = errno;
		close(fd);
		errno = e;
		return report(-1);
	}
	return report(close(fd));
}

/*
 * readhold PATH [direct]: a reader that keeps one descriptor open and, on
 * "read", prints what pread() from offset 0 to EOF returns through it, as
 * one line ("ERR <errno name>" on failure), so a test can watch what one
 * open file sees while other mounts change the item.
 */
static int cmd_readhold(int argc, char **argv)
{
	static char buf[512 * 1024]; /* O_DIRECT wants an aligned buffer: static is */
	char line[256];
	int fd, flags = O_RDONLY;

	if (argc < 1 || argc > 2 || (argc == 2 && strcmp(argv[1], "direct") != 0))
		return usage();
	if (argc == 2)
		flags |= O_DIRECT;
	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open(argv[0], flags);
	if (fd < 0)
		return report(-1);
	puts("ready");
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "read") == 0) {
			size_t len = 0;
			ssize_t n;
			while ((n = pread(fd, buf + len, 65536, (off_t)len)) > 0 &&
			       len + (size_t)n + 65536 <= sizeof(buf))
				len += (size_t)n;
			if (n < 0) {
				printf("ERR %s\n", strerrorname_np(errno));
				continue;
			}
			if (n > 0)
				len += (size_t)n;
			fwrite(buf, 1, len, stdout);
			putchar('\n');
		} else if (strcmp(line, "fsync") == 0) {
			report(fsync(fd));
		} else if (strcmp(line, "close") == 0) {
			break;
		} else {
			fprintf(stderr, "readhold: unknown command '%s'\n", line);
			return 2;
		}
	}
	return report(close(fd));
}

static int cmd_fsync(int argc, char **argv)
{
	int fd, rc;

	if (argc != 1)
		return usage();
	fd = open(argv[0], O_RDONLY);
	if (fd < 0)
		return report(-1);
	rc = fsync(fd);
	close(fd);
	return report(rc);
}

static int cmd_seek(int argc, char **argv)
{
	off_t at;
	int fd;

	if (argc != 3 || (strcmp(argv[1], "data") != 0 && strcmp(argv[1], "hole") != 0))
		return usage();
	fd = open(argv[0], O_RDONLY);
	if (fd < 0)
		return report(-1);
	at = lseek(fd, (off_t)strtoll(argv[2], NULL, 10),
		   strcmp(argv[1], "data") == 0 ? SEEK_DATA : SEEK_HOLE);
	if (at < 0) {
		report(-1);
		close(fd);
		return 1;
	}
	printf("%lld\n", (long long)at);
	close(fd);
	return 0;
}

static int cmd_flip(int argc, char **argv)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val key, val, nval;
	unsigned char kbuf[8];
	unsigned long long ino;
	size_t off;
	unsigned char *copy = NULL;
	int rc;

	if (argc != 3)
		return usage();
	ino = strtoull(argv[1], NULL, 10);
	off = strtoul(argv[2], NULL, 10);
	for (int i = 0; i < 8; i++)
		kbuf[i] = (unsigned char)(ino >> (56 - 8 * i));
	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, 64);
	if (rc == 0)
		rc = mdb_env_open(env, argv[0], 0, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "data", 0, &dbi);
	if (rc != 0) {
		fprintf(stderr, "flip: %s: cannot open the data DB: %s\n", argv[0],
			mdb_strerror(rc));
		goto out;
	}
	key.mv_size = sizeof(kbuf);
	key.mv_data = kbuf;
	rc = mdb_get(txn, dbi, &key, &val);
	if (rc != 0) {
		fprintf(stderr, "flip: inode %llu in the data DB: %s\n", ino, mdb_strerror(rc));
		goto out;
	}
	if (val.mv_size <= off) {
		fprintf(stderr, "flip: value of inode %llu is %zu bytes, offset %zu is past it\n",
			ino, val.mv_size, off);
		rc = -1;
		goto out;
	}
	copy = malloc(val.mv_size);
	if (!copy) {
		rc = -1;
		goto out;
	}
	memcpy(copy, val.mv_data, val.mv_size);
	copy[off] ^= 0x01;
	nval.mv_size = val.mv_size;
	nval.mv_data = copy;
	rc = mdb_put(txn, dbi, &key, &nval, 0);
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (rc != 0)
		fprintf(stderr, "flip: writing inode %llu: %s\n", ino, mdb_strerror(rc));
out:
	mdb_txn_abort(txn);
	mdb_env_close(env);
	free(copy);
	if (rc != 0)
		return 2;
	puts("OK");
	return 0;
}

/* renamerace: the item's content for version n: one line, repeated to 1000 bytes. */
#define RACE_LEN 1000
static void race_version(char *buf, unsigned long n)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "version %08lu\n", n);

	for (size_t i = 0; i < RACE_LEN; i++)
		buf[i] = line[i % (size_t)len];
}

/* One reader of renamerace: counts opens that failed, and reads of no whole version. */
static void race_reader(const char *path, volatile int *stop, unsigned long *out)
{
	char buf[RACE_LEN + 1], want[RACE_LEN];
	unsigned long reads = 0, enoent = 0, torn = 0, other = 0;

	while (!*stop) {
		int fd = open(path, O_RDONLY);
		ssize_t n, got = 0;
		unsigned long v;

		if (fd < 0) {
			if (errno == ENOENT)
				enoent++;
			else
				other++;
			continue;
		}
		while ((n = read(fd, buf + got, sizeof(buf) - (size_t)got)) > 0)
			got += n;
		close(fd);
		reads++;
		if (n < 0 || got != RACE_LEN || sscanf(buf, "version %lu", &v) != 1) {
			torn++;
			continue;
		}
		race_version(want, v);
		if (memcmp(buf, want, RACE_LEN) != 0)
			torn++;
	}
	out[0] = reads, out[1] = enoent, out[2] = torn, out[3] = other;
}

/*
 * renamerace DIR CYCLES READERS: READERS processes open and read DIR/item
 * in a loop while this one replaces it CYCLES times the way tools replace
 * files atomically (write DIR/item.tmp, rename it over DIR/item). Prints
 * the counts; exits 0 when every open found the item and every read was
 * one whole version, 1 otherwise.
 */
static int cmd_renamerace(int argc, char **argv)
{
	char item[4096], tmp[4096], buf[RACE_LEN];
	unsigned long cycles, readers, sum[4] = {0, 0, 0, 0};
	volatile int *stop;
	unsigned long *counts;
	pid_t *pids;
	int bad = 0;

	if (argc != 3)
		return usage();
	cycles = strtoul(argv[1], NULL, 10);
	readers = strtoul(argv[2], NULL, 10);
	if (readers == 0 || readers > 64)
		return usage();
	snprintf(item, sizeof(item), "%s/item", argv[0]);
	snprintf(tmp, sizeof(tmp), "%s/item.tmp", argv[0]);
	stop = mmap(NULL, 4096 + 64 * 4 * sizeof(unsigned long), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pids = calloc(readers, sizeof(*pids));
	if (stop == MAP_FAILED || !pids)
		return 2;
	counts = (unsigned long *)((char *)stop + 4096);
	for (unsigned long v = 0; v <= cycles; v++) {
		int fd = open(v ? tmp : item, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		race_version(buf, v);
		if (fd < 0 || write(fd, buf, RACE_LEN) != RACE_LEN || close(fd) != 0) {
			perror(v ? tmp : item);
			bad = 2;
			break;
		}
		if (v && rename(tmp, item) != 0) {
			perror("rename");
			bad = 2;
			break;
		}
		if (v == 0) {
			for (unsigned long r = 0; r < readers; r++) {
				pids[r] = fork();
				if (pids[r] == 0) {
					race_reader(item, stop, counts + 4 * r);
					_exit(0);
				}
			}
		}
	}
	*stop = 1;
	for (unsigned long r = 0; r < readers; r++) {
		if (pids[r] > 0)
			waitpid(pids[r], NULL, 0);
		for (int i = 0; i < 4; i++)
			sum[i] += counts[4 * r + i];
	}
	printf("cycles=%lu readers=%lu reads=%lu enoent=%lu torn=%lu other=%lu\n", cycles,
	       readers, sum[0], sum[1], sum[2], sum[3]);
	free(pids);
	if (bad)
		return bad;
	return sum[1] || sum[2] || sum[3] || sum[0] == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"rename", cmd_rename},	    {"mknod", cmd_mknod}, {"open", cmd_open},
		{"setxattr", cmd_setxattr}, {"write", cmd_write}, {"hold", cmd_hold},
		{"flip", cmd_flip},	    {"readhold", cmd_readhold}, {"fsync", cmd_fsync},
		{"renamerace", cmd_renamerace}, {"condwrite", cmd_condwrite},
		{"seek", cmd_seek},
	};

	if (argc < 2)
		return usage();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 2, argv + 2);
	return usage();
}
