/*
 * ops.h - a trace loaded for exploration: its ops in memory, payloads on disk.
 *
 * ops_load() reads every valid record once and keeps, per record, the
 * fields the model and the materializer need.  Write payloads stay in the
 * records file (read back with ops_read_data()), so memory grows with the
 * number of records, not with the bytes written: a trace of 1 GiB of
 * 4 KiB writes takes about 30 MB.
 */
#ifndef FL_OPS_H
#define FL_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

/* What an op does to a crash state. */
enum ops_kind {
	OPS_NONE = 0,   /* open, flush, release, failed ops: nothing */
	OPS_DATA,       /* write, truncate, fallocate (bytes and size) and setattr,
			   setxattr, removexattr (attributes, OPS_F_ATTR): one inode */
	OPS_NS,         /* create, mknod, mkdir, symlink, link, unlink, rmdir, rename */
	OPS_BARRIER,    /* fsync, fsyncdir, syncfs */
	OPS_MARK,       /* application mark */
};

/* ops_op.oflags */
#define OPS_F_ATTR 0x1u      /* setattr/setxattr/removexattr: the inode's attributes, not its bytes */
#define OPS_F_SYNC_SELF 0x2u /* an O_SYNC/O_DSYNC write with no FSYNC record of its own
				after it (O_DIRECT): the write is its own barrier */

struct ops_op {
	uint64_t seq;       /* trace seq */
	uint64_t time_ns;   /* completion time, ns since recording began */
	uint64_t id;        /* see struct trace_rec */
	uint64_t parent;
	uint64_t id2;
	uint64_t parent2;
	uint64_t off;
	uint64_t len;
	uint64_t old_size;  /* WRITE/TRUNCATE/FALLOCATE: file size before the op, in recorded order */
	uint64_t data_off;  /* offset of the payload in the records file */
	uint32_t data_len;  /* payload bytes */
	uint32_t mode;
	uint32_t flags;
	uint32_t name;      /* offset of name in the names arena */
	uint32_t name_len;
	uint32_t name2;     /* offset of name2 in the names arena */
	uint32_t name2_len;
	int64_t atime_ns;   /* SETATTR: new atime (ns since the epoch) */
	int64_t mtime_ns;   /* SETATTR: new mtime; for *_NOW without a value, the record's time */
	uint32_t uid;       /* SETATTR / create-type: owner */
	uint32_t gid;
	uint32_t pid;       /* issuing thread, 0 for the kernel (writeback, release) */
	int32_t result;     /* as recorded */
	uint16_t op;        /* enum trace_op */
	uint8_t kind;       /* enum ops_kind */
	uint8_t oflags;     /* OPS_F_* */
};

struct ops_trace {
	struct ops_op *v;      /* non-BASE records in seq order */
	size_t n;              /* entries in v */
	struct ops_op *base;   /* BASE records */
	size_t nbase;          /* entries in base */
	char *names;           /* arena of every name (not NUL-terminated) */
	size_t names_len;      /* bytes used in names */
	int data_fd;           /* records file, for payloads */
	char *dir;             /* trace directory */
	int64_t start_ns;      /* wall clock when recording began (meta.json start_ns), 0 if unknown */
	uint64_t records_valid; /* records read, BASE records included */
	bool partial;          /* the recording did not finish: its valid prefix */
	struct calls_log *calls; /* TRACE/calls (record --calls), or NULL */
	uint32_t *call_of;     /* per op in v: 1 + its call's index in calls->v, 0 none,
				  OPS_CALL_WRITEBACK; NULL without a calls log */
	uint32_t *sqe_of;      /* per op in v: 1 + the index in calls->sqe of the io_uring
				  SQE that made it, 0 none; NULL without a calls log */
	char partial_reason[400]; /* why, when partial */
};

#define OPS_CALL_WRITEBACK UINT32_MAX /* call_of: a kernel write-back no call forced */

/* The call that made op idx (record --calls), or NULL: none, no calls log,
 * or a write-back no call forced. */
struct calls_call;
const struct calls_call *ops_call(const struct ops_trace *t, size_t idx);

/*
 * The call that made op idx, in words ("write(3, ..., 724) in cmd_run()
 * walkv.c:161", "background writeback"), into buf.  False (buf "") when
 * the trace has no calls log or no call made it.
 */
bool ops_call_words(const struct ops_trace *t, size_t idx, char *buf, size_t len);

/*
 * True when ops a and b were made by SQEs of one io_uring submission that
 * the kernel may run in either order (neither linked before the other nor
 * drained: calls_sqe_ordered).  Then a barrier among them covers none of
 * the others, whatever order the recording caught them in.  False for
 * anything else: ops of one thread, or of separate submissions, keep
 * their recorded order (an engine that submits the next batch before the
 * last one completed is taken to have waited).
 */
bool ops_concurrent(const struct ops_trace *t, size_t a, size_t b);

/* Orders two uint64_t (file ids, seqs) for qsort, bsearch and tsearch;
 * also a struct whose first member is one. */
int ops_u64_cmp(const void *a, const void *b);

/* ops_load flags */
#define OPS_LOAD_PARTIAL                                                       \
	0x1u /* accept a trace whose recording did not finish (--partial) */

/*
 * Loads the trace in directory dir, after holding it to what it promises
 * (trace_meta.h, verify.h): a trace meta.json calls complete must read
 * completely and match the digest kept there; a trace whose recording
 * did not finish loads its valid prefix only with OPS_LOAD_PARTIAL
 * (partial is then true); TRACE/base must hold what the BASE records
 * say; traces of format version 2 are refused.  All this happens before
 * any state can be built.  Returns 0 and *out, or a negative code
 * (-FL_EBADTRACE for a trace that fails a check) with a one-line reason
 * in err.
 */
int ops_load(const char *dir, unsigned flags, struct ops_trace **out, char *err,
	     size_t errlen);

void ops_free(struct ops_trace *t);

/* Pointer to op's name / name2 bytes (not NUL-terminated). */
const char *ops_name(const struct ops_trace *t, const struct ops_op *op);
const char *ops_name2(const struct ops_trace *t, const struct ops_op *op);

/* Reads len payload bytes of op starting at byte skip into buf.  0 or -errno. */
int ops_read_data(const struct ops_trace *t, const struct ops_op *op,
		  uint64_t skip, void *buf, size_t len);

/* Index in t->v of the op with this seq, or -1. */
long ops_index(const struct ops_trace *t, uint64_t seq);

/* Marks recorded at or before seq crash: their number; *last gets the index of the last (0 if none). */
uint64_t ops_marks_before(const struct ops_trace *t, uint64_t crash, size_t *last);

/*
 * Writes the marks recorded at or before seq crash to path, one per line:
 * the FAULTLINE_MARKS file a checker reads.  0 or -errno.
 */
int ops_write_marks(const struct ops_trace *t, uint64_t crash, const char *path);

struct names;
/* Feeds op to a names map (see names.h), as the record it came from. */
int ops_names_apply(struct names *n, const struct ops_trace *t, const struct ops_op *op);

/*
 * True for a write whose fd had O_SYNC or O_DSYNC (not mmap writeback,
 * which is never synchronous).  Such a write completes with the FSYNC
 * record the kernel sends right after it, from the same thread; when no
 * such record follows (O_DIRECT), the write is its own barrier and
 * ops_load sets OPS_F_SYNC_SELF on it.
 */
bool ops_is_sync_write(const struct ops_op *op);

/* True for an op that changes a crash state (OPS_DATA or OPS_NS). */
bool ops_changes_state(const struct ops_op *op);

/*
 * True for a page captured from a shared mapping (TRACE_WF_EARLY): a
 * write-back that may have happened here, or not, until a barrier of its
 * file covers it; under every model, in flight until then.
 */
bool ops_is_early(const struct ops_op *op);

/*
 * True for a metadata op: a namespace op, or a data op other than a write
 * (truncate, fallocate, attributes): what a journaling file system logs.
 */
bool ops_is_metadata(const struct ops_op *op);

/* True for a data op on an inode's bytes or size (write, truncate, fallocate). */
bool ops_is_bytes(const struct ops_op *op);

/*
 * Opens rel (a path from BASE records, "/a/b") beneath the base snapshot
 * directory basefd without following any symlink on the way or at the
 * end: a trace is untrusted, and its base may hold links pointing out of
 * it.  Returns the fd or -errno (-ELOOP / -EXDEV for such a link).
 */
int ops_base_open(int basefd, const char *rel, int flags);

/* Wall-clock time (ns since the epoch) at which op completed. */
int64_t ops_wall_ns(const struct ops_trace *t, const struct ops_op *op);

#endif
