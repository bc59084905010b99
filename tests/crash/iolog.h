/*
 * iolog.h - the binary log that the iolog shim (iolog.c, LD_PRELOADed into
 * the daemon) writes and the crash-image builder (crashimg.c) reads.
 *
 * The file starts with the 16 bytes IOLOG_MAGIC, then records: a struct
 * iolog_rec in host byte order (both programs are built together for one
 * machine), followed by paylen bytes. Records are appended in the order the
 * calls returned, under one lock; each carries the CLOCK_MONOTONIC times
 * taken just before and just after the call, in nanoseconds.
 */
#ifndef IOLOG_H
#define IOLOG_H

#include <stdint.h>

#define IOLOG_MAGIC "itemfs-iolog-v1\n"
#define IOLOG_MAGIC_LEN 16

enum iolog_type {
	IOLOG_OPEN = 1,	 /* off: open flags; payload: the path as given */
	IOLOG_CLOSE,	 /* */
	IOLOG_WRITE,	 /* off, len; res bytes written; payload: those bytes */
	IOLOG_TRUNC,	 /* off: the new size */
	IOLOG_FSYNC,	 /* */
	IOLOG_FDATASYNC, /* */
	IOLOG_SFR,	 /* sync_file_range: off, len; flags: its flags */
	IOLOG_MSYNC,	 /* len; flags: its flags (a writable mapping exists) */
	IOLOG_SYNCALL,	 /* sync() or syncfs() */
	IOLOG_MAPWRITE,	 /* a shared writable mapping of the file: writes the log cannot see */
};

/* flags of IOLOG_OPEN and IOLOG_WRITE records */
#define IOLOG_F_DSYNC 1u  /* the descriptor has O_DSYNC or O_SYNC: writes are synced on return */
#define IOLOG_F_APPEND 2u /* the descriptor has O_APPEND: off is not known */

struct iolog_rec {
	uint32_t type;
	uint32_t flags;
	int32_t fd;
	uint32_t reserved;
	int64_t off;
	uint64_t len;
	int64_t res; /* the call's result, or -errno */
	uint64_t t_start, t_end;
	uint64_t paylen;
};

#endif
