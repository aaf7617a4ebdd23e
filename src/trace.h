/*
 * trace.h - the faultline trace: record types, the writer and the reader.
 *
 * A trace is a directory:
 *   TRACE/meta.json   what was recorded and how it ended (owned by record.c)
 *   TRACE/base/       the tree as it stood when recording began
 *   TRACE/records     the operations, in the byte format specified in trace.c
 *
 * This header is the whole contract between the recorder (fusefs/) and
 * everything that reads traces (show, explore, replay).  The byte layout
 * of each record type is in trace.c's header comment.
 *
 * Files and directories are named by a file id, never by path: id 1 is
 * the mount's root; every other id is assigned once, by a BASE record (an
 * entry that existed when recording began) or by the op that created it
 * (CREATE, MKNOD, MKDIR, SYMLINK).  Namespace records tie ids to
 * (parent id, name) pairs; a reader that wants paths replays them.
 */
#ifndef FL_TRACE_H
#define FL_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_FORMAT_VERSION 3
/* Oldest format the reader decodes (for `show`); exploring needs version 3. */
#define TRACE_FORMAT_OLDEST 2
#define TRACE_ROOT_ID 1
#define TRACE_RECORDS_FILE "records"
#define TRACE_BASE_DIR "base"
#define TRACE_META_FILE "meta.json"
/* Largest record a reader accepts; a bigger length field means corruption. */
#define TRACE_MAX_RECORD (64u << 20)

/*
 * A BASE record (format 3) carries the entry's size in len (a symlink: its
 * target's length) and trace_content_hash() of its bytes (the target) in
 * id2; both are 0 for other types.
 */
enum trace_op {
	TRACE_OP_BASE = 1,    /* id, parent, mode, name, len, id2: entry present at start */
	TRACE_OP_WRITE,       /* id, off, len, flags(TRACE_WF_*), data */
	TRACE_OP_TRUNCATE,    /* id, off = new size, len = old size, flags(TRACE_TF_*) */
	TRACE_OP_FALLOCATE,   /* id, off, len, mode = fallocate mode, id2 = old size */
	TRACE_OP_CREATE,      /* parent, id, mode, flags = open flags, uid, gid, name */
	TRACE_OP_MKNOD,       /* parent, id, mode, rdev in flags, uid, gid, name */
	TRACE_OP_MKDIR,       /* parent, id, mode, uid, gid, name */
	TRACE_OP_SYMLINK,     /* parent, id, uid, gid, name, name2 = target */
	TRACE_OP_LINK,        /* id, parent = new parent, name = new name */
	TRACE_OP_UNLINK,      /* parent, id, name */
	TRACE_OP_RMDIR,       /* parent, id, name */
	TRACE_OP_RENAME,      /* parent, name -> parent2, name2; id moved, id2 replaced or 0; flags = RENAME_* */
	TRACE_OP_SETATTR,     /* id, flags = TRACE_SA_* mask, mode, uid, gid, atime, mtime */
	TRACE_OP_SETXATTR,    /* id, flags = XATTR_* flags, name, data = value */
	TRACE_OP_REMOVEXATTR, /* id, name */
	TRACE_OP_FSYNC,       /* id, flags = 1 for fdatasync */
	TRACE_OP_FSYNCDIR,    /* id, flags = 1 for datasync */
	TRACE_OP_SYNCFS,      /* (no fields): everything before it is durable */
	TRACE_OP_OPEN,        /* id, flags = open flags */
	TRACE_OP_FLUSH,       /* id */
	TRACE_OP_RELEASE,     /* id */
	TRACE_OP_MARK,        /* name = the mark's text (no newline) */
	TRACE_OP_COUNT
};

/* WRITE flags: how the bytes reached the file system. */
#define TRACE_WF_WRITEPAGE 0x1u /* mmap writeback (fi->writepage) */
#define TRACE_WF_DIRECT 0x2u    /* fd opened O_DIRECT */
#define TRACE_WF_SYNC 0x4u      /* fd opened O_SYNC: the write is a barrier */
#define TRACE_WF_DSYNC 0x8u     /* fd opened O_DSYNC */
#define TRACE_WF_APPEND 0x10u   /* fd opened O_APPEND */
/*
 * Not a write the file system received: a page of a shared writable
 * mapping, as record --calls captured it at a call boundary (it differed
 * from the last capture), which the kernel may write back from here on.
 * Recorded with WRITEPAGE; its pid is the thread at whose call it was
 * captured.  The backing file is not written.
 */
#define TRACE_WF_EARLY 0x20u

/* TRUNCATE flags: what caused it. */
#define TRACE_TF_SETATTR 0x1u   /* truncate(2) by path, no open file */
#define TRACE_TF_FTRUNCATE 0x2u /* ftruncate(2) on an open file */
#define TRACE_TF_OTRUNC 0x4u    /* open(2) or creat(2) with O_TRUNC */

/* SETATTR mask: which of mode/uid/gid/atime/mtime were set. */
#define TRACE_SA_MODE 0x1u
#define TRACE_SA_UID 0x2u
#define TRACE_SA_GID 0x4u
#define TRACE_SA_ATIME 0x8u
#define TRACE_SA_MTIME 0x10u
#define TRACE_SA_ATIME_NOW 0x20u
#define TRACE_SA_MTIME_NOW 0x40u

/*
 * One record, decoded.  Which fields an op uses is listed beside its
 * enum value above and in trace.c's field table; unused fields are 0 or
 * NULL.  Pointers (name, name2, data) point into memory owned by whoever
 * filled the struct: for the reader, valid until the next trace_next().
 */
struct trace_rec {
	uint64_t seq;      /* 1-based completion order, assigned by the writer */
	uint16_t op;       /* enum trace_op */
	uint16_t rflags;   /* reserved, 0 */
	uint32_t pid;      /* process that issued the op (0 when unknown) */
	int32_t result;    /* 0, bytes written for WRITE, or -errno if it failed */
	uint64_t time_ns;  /* completion time, ns since recording began */
	uint64_t id;       /* file id the op acts on */
	uint64_t parent;   /* directory id (source directory for RENAME) */
	uint64_t id2;      /* RENAME: id replaced at the target; FALLOCATE: old size */
	uint64_t parent2;  /* RENAME: target directory */
	uint64_t off;      /* byte offset; TRUNCATE: new size */
	uint64_t len;      /* byte length; TRUNCATE: old size */
	int64_t atime_ns;  /* SETATTR: new atime, ns since the epoch */
	int64_t mtime_ns;  /* SETATTR: new mtime */
	uint32_t mode;     /* file type and permissions; FALLOCATE: mode flags */
	uint32_t flags;    /* per-op flags, see the enum */
	uint32_t uid;      /* SETATTR: new owner; create-type ops: the requesting user */
	uint32_t gid;      /* likewise, group */
	const char *name;  /* entry name, xattr name or mark text; not NUL-terminated */
	uint32_t name_len;
	const char *name2; /* RENAME: new name; SYMLINK: link target */
	uint32_t name2_len;
	const void *data;  /* WRITE payload or xattr value */
	uint32_t data_len;
	uint64_t data_off; /* reader only: file offset of data in the records file */
};

/*
 * Whether answering the request rec records told the program something
 * is durable: a barrier (fsync, fdatasync, fsyncdir, syncfs), a mark, or
 * a write through an O_SYNC/O_DSYNC handle.  The recorder answers these
 * only once the trace file holds them (trace_writer_sync).
 */
bool trace_rec_is_promise(const struct trace_rec *rec);

/* Name of an op ("write", "fsync", ...), or NULL for an unknown op. */
const char *trace_op_name(unsigned op);

/* ---- writer: used by the recorder; every function is thread-safe ---- */

struct trace_writer;

/*
 * Creates (truncating) the records file at path and writes its header.
 * On success stores a new writer in *out and returns 0; else -errno.
 * time_ns in records counts from this call.
 */
int trace_writer_open(const char *path, struct trace_writer **out);

/*
 * Goes on writing the records file at path, which must hold exactly count
 * whole records (seq 1..count, as another writer left it); time_ns counts
 * from the same instant as clock's, so one recording can move to a new
 * file (faultline mount folding its history).  0 and *out, -FL_EBADTRACE
 * when the file is not count whole records, or -errno.
 */
int trace_writer_adopt(const char *path, uint64_t count, const struct trace_writer *clock,
		       struct trace_writer **out);

/*
 * Appends rec: assigns rec->seq and rec->time_ns (both written back into
 * *rec) and encodes it, payload included, into the writer's memory; it
 * reaches the file soon after, in seq order, whole (trace_writer.c).
 * Returns 0 or -errno, also for an earlier write that failed: after a
 * failure the file is cut back to its last whole record and every later
 * append fails with the same error, so the trace is a prefix with no gap
 * in it.  Waits (back-pressure) while the writer's memory is full.
 *
 * The caller holds whatever lock makes "the syscall happened" and "the
 * record was appended" atomic with respect to conflicting ops: the
 * writer only orders appends among themselves.
 */
int trace_append(struct trace_writer *w, struct trace_rec *rec);

/* trace_append for a record copied from another file: rec->time_ns is kept. */
int trace_append_copy(struct trace_writer *w, struct trace_rec *rec);

/*
 * Returns once every record up to seq (at most the last appended) is in
 * the file, and fsynced if trace_writer_set_fsync(w, true) was called:
 * what a barrier or a mark waits for before it is answered, so that no
 * end of the recorder loses it.  0, or the writer's error.
 */
int trace_writer_sync(struct trace_writer *w, uint64_t seq);

/* on: trace_writer_sync() also fsyncs the file (the recorder's --real-fsync). */
void trace_writer_set_fsync(struct trace_writer *w, bool on);

/* Records appended so far. */
uint64_t trace_writer_count(struct trace_writer *w);

/* The CLOCK_MONOTONIC instant records' time_ns counts from, in ns. */
uint64_t trace_writer_t0_ns(const struct trace_writer *w);

/* fsyncs and closes the file, frees w.  Returns 0 or -errno (w is freed anyway). */
int trace_writer_close(struct trace_writer *w);

/* ---- reader ---- */

struct trace_reader;

/*
 * Opens a trace for reading.  path is a trace directory (its records
 * file is read) or a records file itself.  Validates the file header.
 * Returns 0 and a reader in *out, or -errno, -FL_EBADTRACE (bad magic),
 * -FL_EVERSION (a version outside TRACE_FORMAT_OLDEST..TRACE_FORMAT_VERSION).
 * On failure *out is NULL and errbuf (when not NULL, errlen bytes) holds a
 * one-line reason.
 */
int trace_reader_open(const char *path, struct trace_reader **out,
		      char *errbuf, size_t errlen);

/*
 * Reads the next record into *rec.  Returns 1 when a record was read, 0
 * at a clean end of the trace, or a negative code when the next record is
 * invalid (-FL_ETRUNCATED, -FL_ECHECKSUM, -FL_EBADTRACE or -errno); the
 * reader then stays at the invalid record and trace_reader_error() says
 * why.  The records before it remain a valid prefix.
 */
int trace_next(struct trace_reader *r, struct trace_rec *rec);

/*
 * For a records file still being appended: forgets why reading stopped
 * (a record not yet whole) so that the next trace_next() reads it from
 * the file again, as it stands then.
 */
void trace_reader_resume(struct trace_reader *r);

/* Number of valid records returned so far. */
uint64_t trace_reader_valid(const struct trace_reader *r);

/* One-line description of why reading stopped, or NULL if it did not. */
const char *trace_reader_error(const struct trace_reader *r);

/* Format version found in the file header. */
uint32_t trace_reader_version(const struct trace_reader *r);

/*
 * What a reader has read so far, as meta.json keeps it for the whole
 * file at the end of a recording (trace_meta.h): a reader that reached a
 * clean end has the whole file's digest.
 */
struct trace_digest {
	uint64_t records; /* valid records read */
	uint64_t bytes;	  /* bytes of the file they and the header fill */
	uint64_t xxh3;	  /* XXH3-64 (seed 0) of those bytes */
};

/* Fills *d with what r has read so far. */
void trace_reader_digest(const struct trace_reader *r, struct trace_digest *d);

void trace_reader_close(struct trace_reader *r);

/* ---- encoding, shared by writer, reader and tests ---- */

/*
 * Encodes rec (with its seq, time_ns) into buf.  The data payload is NOT
 * copied: it follows the returned header+body bytes on disk.  Returns the
 * number of bytes written to buf (header + body, without the data), or
 * -ENOSPC if cap is too small, or -EINVAL if rec->op is unknown or a field
 * is out of range.  trace_encoded_size() gives the size needed.
 */
int trace_encode(const struct trace_rec *rec, uint8_t *buf, size_t cap);

/* Bytes of header+body (without data) that rec needs. */
size_t trace_encoded_size(const struct trace_rec *rec);

/*
 * Decodes the record occupying exactly buf[0..len) (len from its length
 * field), checking its checksum and that its fields fit.  Pointers in
 * *rec point into buf.  Returns 0, -FL_ECHECKSUM or -FL_EBADTRACE.
 */
int trace_decode(const uint8_t *buf, size_t len, struct trace_rec *rec);

/*
 * Checksum of a record: low 32 bits of XXH3-64 over its bytes from offset
 * 8 to its end.  hdr is the header+body (hdr_len bytes), data the payload
 * that follows it on disk.
 */
uint32_t trace_checksum(const uint8_t *hdr, size_t hdr_len, const void *data,
			size_t data_len);

/* ---- content hash of BASE entries (recorder, trace writers, base check) */

/*
 * XXH3-64 (seed 0) over, for each 4096-byte block at offset o (o = 0,
 * 4096, ...) of the bytes that is not all zeros, o as 8 bytes
 * little-endian and then the block's bytes (the last block may be
 * short); then the length as 8 bytes little-endian.  It depends on the
 * bytes alone: holes and written zeros hash alike, so a sparse file and
 * its dense copy agree, and hashing a file skips its holes.
 */
uint64_t trace_content_hash(const void *buf, uint64_t len);

/*
 * The same hash of the regular file open as fd (read with pread from its
 * start, holes skipped with SEEK_DATA).  Stores it in *hash and the
 * file's size in *size; returns 0 or -errno.
 */
int trace_content_hash_fd(int fd, uint64_t *hash, uint64_t *size);

struct stat;

/*
 * What a BASE record carries for entry name of directory dfd (st: its
 * lstat): a regular file's size and content hash, a symlink's target's
 * length and hash, 0 and 0 for any other type.  0 or -errno.
 */
int trace_base_hash(int dfd, const char *name, const struct stat *st, uint64_t *len,
		    uint64_t *hash);

/*
 * The names in directory dfd, "." and ".." left out, sorted bytewise: the
 * order BASE records list a directory's entries in.  *out: malloc'd
 * array of malloc'd names (trace_dir_names_free).  0 or -errno.
 */
int trace_dir_names(int dfd, char ***out, size_t *count);
void trace_dir_names_free(char **names, size_t count);

#endif
