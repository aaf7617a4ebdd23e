/*
 * calls.h - watching the workload's system calls (faultline record --calls),
 * and joining the trace's ops to the calls that made them.
 *
 * FUSE sees what reaches the file system and nothing else: sync() and
 * syncfs() never arrive as a request, and no request says which call of
 * the program caused it.  Two processes watch the calls between them:
 *
 * - faultline-fs (--calls-log, fusefs/fs_calls.c) joins every call that
 *   makes a request of its own (the write family, fsync, fdatasync,
 *   truncates, the namespace calls, open): while the request is served,
 *   the calling thread is blocked in its call, so /proc/TID/syscall says
 *   which call it is and with what arguments, and its stack can be
 *   unwound.  No stop at all: a call on a descriptor outside the mount
 *   costs nothing, and one under it only what the request costs plus the
 *   reading of its site.
 * - calls_trace() runs the workload under ptrace with a seccomp filter
 *   that stops it only at the calls that make no request faultline-fs
 *   could join (calls_sys's traced ones: sync, syncfs, msync,
 *   sync_file_range, munmap, a shared mmap, io_uring_setup and
 *   io_uring_enter), so every other call runs at full speed; it covers
 *   raw syscalls and static binaries alike, since it needs nothing inside
 *   the process.
 *
 * Barriers: each successful sync(), and each successful syncfs() on a
 * descriptor under the mount, becomes a SYNCFS record: when the call
 * returns, the tracee is held until faultline-fs has appended the record
 * (a line "\001syncfs PID" written to the control file), so the record
 * lies after everything the call made durable and before anything the
 * thread does next.
 *
 * The calls log, TRACE/calls: one line per watched call, written as the
 * call returns, by either process (each appends whole lines),
 *
 *     TID NR RESULT ENTRY_NS EXIT_NS A0 A1 A2 A3[\tSITE]
 *
 * decimal but for the arguments (hex); NR the syscall number of the
 * recording machine's architecture (calls_name() names it); the times on
 * the trace's clock (ns since faultline-fs opened the trace, as records'
 * time_ns).  Only a barrier (sync, syncfs) is stopped again as it
 * returns, for its result and exit time; any other call is logged at its
 * entry (faultline-fs: at its first request) with RESULT and EXIT_NS 0,
 * and its window runs until the thread's next watched call.  A call that
 * makes several requests (a write longer than one request) is logged
 * once.  An fsync or fdatasync that faultline-fs joins opens its window
 * at the first kernel write-back of its file since that file's last
 * request, when there is one: the pages the fsync forced out come before
 * its FSYNC request.  A line that is not whole (the tracer was killed) is
 * ignored.  SITE is where the call was made, the calling thread's stack
 * unwound while it waited (calls_site.c): its first frames that have a
 * source line, "fn() file.c:212 <- caller() file.c:330", or the first
 * named frames when none has one.
 *
 * Mapped pages: a shared mmap stops at its return too, and a writable
 * one of a file under the mount is followed (calls_maps.c: the tracer
 * tells faultline-fs, "\001map TID ADDR LEN OFF PATH"): at every watched
 * call its changed pages are recorded, before the call goes on, as
 * WRITEs flagged TRACE_WF_EARLY with the calling thread's pid, so they
 * join that call like any of its records.
 *
 * A record made on behalf of a call lies in its window: the FUSE request
 * starts after the entry and is answered before the return.  So the join
 * (calls_join) is: the last call of the record's pid entered before the
 * record's time, unless that call is known to have returned before it;
 * for a record of no process (pid 0: the kernel writing back mapped
 * pages), the flushing call (msync, fsync, fdatasync, sync, syncfs,
 * munmap, sync_file_range) whose window holds it (the narrowest), or
 * none: background writeback.  Records no watched call makes (a close's
 * FLUSH and RELEASE) are not joined by their readers.
 *
 * What it does not do: watch calls of another ABI (a 32-bit program on a
 * 64-bit kernel runs unwatched); join the calls of a process faultline-fs
 * may not read (/proc/TID/syscall: another user's, or one that made
 * itself undumpable); follow a process that leaves the
 * tracer's tree; see a call made on the program's behalf by another
 * process, but for io_uring: the requests its workers make carry a
 * worker's pid, so they are joined to the SQEs the tracer read at the
 * io_uring_enter that submitted them (struct calls_sqe, calls_join_sqe).
 * A ring polled by the kernel (SQPOLL) submits without a call, and one
 * set up with IORING_SETUP_NO_SQARRAY shows no SQEs in its fdinfo: their
 * ops are not joined, and keep their recorded order.
 */
#ifndef FL_CALLS_H
#define FL_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct calls_opts {
	char *const *argv; /* the workload, NULL-terminated; run with execvp */
	const char *ctl;   /* the mount's control file: barriers are written there */
	const char *mnt;   /* the mount point: syncfs(fd) counts only for an fd under it */
	const char *log;   /* the calls log to write */
	uint64_t t0_ns;    /* CLOCK_MONOTONIC ns the trace's time_ns counts from */
};

/*
 * Runs o->argv under the tracer (this process) until it and every process
 * it started have ended.  Returns the workload's wait status, or -errno
 * when it could not be started or traced.  Meant to run in a child of its
 * own: it reaps every child of the calling process.
 */
int calls_trace(const struct calls_opts *o);

/* The part of path below directory dir ("" for dir itself), or NULL when
 * path is neither dir nor below it. */
const char *calls_path_under(const char *path, const char *dir);

/* Reads the symbolic link at link (such as /proc/PID/fd/N or
 * /proc/PID/cwd): true when it names dir or a path below it, that part
 * ("" for dir itself) then in rel (len bytes) unless rel is NULL. */
bool calls_link_under(const char *link, const char *dir, char *rel, size_t len);

/* The control-file line that asks faultline-fs for a SYNCFS record. */
#define CALLS_CTL_SYNCFS "\001syncfs"
/* The control lines that tell faultline-fs of the workload's shared
 * mappings (fusefs/fs_calls.c): "\001map TID ADDR LEN OFF PATH" (followed
 * from now on), "\001capture TID" (a call boundary of TID: the changed
 * pages recorded), "\001unmap TID ADDR LEN" (a capture, then the mappings
 * it touches dropped), "\001forget PID" (PID exec'ed). */
#define CALLS_CTL_MAP "\001map"
#define CALLS_CTL_CAPTURE "\001capture"
#define CALLS_CTL_UNMAP "\001unmap"
#define CALLS_CTL_FORGET "\001forget"
/* "\001perf PID": PID, stopped before it runs the workload, is to be
 * sampled by the kernel at its calls' entries, with every thread and
 * child it makes (calls_perf.c). */
#define CALLS_CTL_PERF "\001perf"
/* The calls log's name inside the trace directory. */
#define CALLS_LOG "calls"

/* The syscall's name ("pwrite64"), or NULL for one the tracer does not watch. */
const char *calls_name(long nr);

/* One watched call, from the log. */
struct calls_call {
	uint32_t tid;       /* the calling thread */
	long nr;            /* syscall number */
	long long result;   /* its return value (-errno on failure); 0 when exit_ns is */
	uint64_t entry_ns;  /* on the trace's clock */
	uint64_t exit_ns;   /* 0: not stopped at its return (runs to the thread's next call) */
	uint64_t arg[4];    /* its first arguments */
	char *site;         /* where it was made ("wal_append() walkv.c:212 <- main() ..."),
			       or NULL; owned by the log */
};

/*
 * One SQE an io_uring_enter submitted, as the tracer read it from the
 * ring's /proc/TID/fdinfo at the call's entry (line "sqe TID ENTRY_NS
 * OPCODE FD FLAGS OFF RW_FLAGS" after the call's).  The kernel starts the
 * SQEs of one submission in any order, but for a link chain (an SQE with
 * IOSQE_IO_LINK or IOSQE_IO_HARDLINK runs before the next one, which
 * starts when it completes) and a drain (IOSQE_IO_DRAIN: it starts after
 * every SQE submitted before it completed, and every later one after it).
 */
struct calls_sqe {
	size_t call;        /* index in calls_log.v of its io_uring_enter */
	uint32_t k;         /* its place in that submission, from 0 */
	uint32_t chain;     /* its link chain in that submission, from 0 */
	char op[24];        /* the kernel's name of its opcode: WRITE, FSYNC, RENAMEAT... */
	int fd;             /* as submitted (an index with IOSQE_FIXED_FILE) */
	uint32_t flags;     /* IOSQE_* */
	uint64_t off;       /* offset */
	uint32_t rw_flags;  /* the opcode's flags: an FSYNC's IORING_FSYNC_DATASYNC is bit 0 */
};

#define CALLS_SQE_DRAIN 0x2u /* IOSQE_IO_DRAIN */
#define CALLS_SQE_LINKS 0xcu /* IOSQE_IO_LINK | IOSQE_IO_HARDLINK */

/* a and b (SQEs of one submission, a.k < b.k): must a complete before b starts? */
static inline bool calls_sqe_ordered(const struct calls_sqe *a, const struct calls_sqe *b)
{
	return a->chain == b->chain || ((a->flags | b->flags) & CALLS_SQE_DRAIN);
}

struct calls_log {
	struct calls_call *v; /* by (tid, entry_ns) */
	size_t n;
	struct calls_sqe *sqe; /* by (call, k) */
	size_t nsqe;
	size_t *sqe_by_time;   /* indices in sqe, by their call's entry_ns, then k */
	size_t *flush;        /* indices in v of the flushing calls, by entry_ns */
	uint64_t *flush_end;  /* per entry of flush: the latest window end up to it */
	size_t nflush;
};

/* c as one line of the calls log, into buf (snprintf's result).  The
 * tracer and faultline-fs both write lines this way. */
int calls_format(char *buf, size_t len, const struct calls_call *c);

/* Reads TRACE/calls into *log.  0; -ENOENT when the trace has none
 * (recorded without --calls); -errno.  Free with calls_log_free. */
int calls_load(const char *trace_dir, struct calls_log *log);
void calls_log_free(struct calls_log *log);

/* The call that made a record of pid at time_ns (see above), or NULL. */
const struct calls_call *calls_join(const struct calls_log *log, uint32_t pid, uint64_t time_ns);

/*
 * The io_uring SQE that made a record (its op, off and flags), or NULL:
 * for a record no call of its thread explains (joined NULL: an io_uring
 * worker made it) or one made inside an io_uring_enter, the first SQE
 * not yet taken, of the latest submission entered before the record's
 * time, whose opcode could make it (a write's offset, an fsync's datasync
 * must agree).  taken (one per log->sqe, zeroed by the caller) says which
 * are taken: call it for the records in seq order.
 */
const struct calls_sqe *calls_join_sqe(const struct calls_log *log, bool *taken,
				       const struct calls_call *joined, uint32_t pid, uint64_t time_ns,
				       uint16_t op, uint64_t off, uint32_t flags);

/*
 * The first call, of any thread, entered in (from_ns,
 * to_ns], that flushes without making anything durable: msync without
 * MS_SYNC (MS_ASYNC, or only MS_INVALIDATE), sync_file_range (whatever its
 * flags: it writes data back, never the metadata that finds it).  NULL
 * when none.  Explanations name it: the program may have taken it for a
 * barrier.
 */
const struct calls_call *calls_non_barrier(const struct calls_log *log, uint64_t from_ns,
					   uint64_t to_ns);

/*
 * What made a record, in words, into buf: c its call (or NULL), q the
 * io_uring SQE (or NULL), early for a page captured from a mapping,
 * writeback for a kernel write-back no call forced: "WRITE(fd 3, @0)
 * submitted by io_uring_enter(...) in f() x.c:9", "page stored before
 * pwrite64(...) in ...", "pwrite64(...) in ...", "background writeback".
 * False (buf "") when there is nothing to say.  show and ops_call_words
 * both say it this way.
 */
bool calls_words(const struct calls_call *c, const struct calls_sqe *q, bool early,
		 bool writeback, char *buf, size_t len);

/* "WRITE(fd 3, @512)": an SQE in words. */
void calls_sqe_describe(const struct calls_sqe *q, char *buf, size_t len);

/* How a page captured from a shared mapping (TRACE_WF_EARLY, joined to the
 * call it was captured at, as any record of its pid) is introduced: "page stored before
 * pwrite64(3, ...) in run() maplog.c:122". */
#define CALLS_EARLY_WORDS "page stored before "

/* What a kernel write-back no flushing call forced is called. */
#define CALLS_WRITEBACK "background writeback"

/* True when a record of pid (a write or not) that joined c is such a
 * write-back: the kernel's (pid 0), a write, and no call around it. */
static inline bool calls_unforced_writeback(uint32_t pid, bool write, const struct calls_call *c)
{
	return !c && pid == 0 && write;
}

/* "pwrite64(3, ..., 724, 0) in put() kv.c:9": the call in words (the
 * arguments that matter; " = result" when it was seen returning; its site). */
void calls_describe(const struct calls_call *c, char *buf, size_t len);

#endif
