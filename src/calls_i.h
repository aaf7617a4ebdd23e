/*
 * calls_i.h - what the tracer (calls.c) and the log reader (calls_log.c)
 * share: the table of watched syscalls.
 */
#ifndef FL_CALLS_I_H
#define FL_CALLS_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct calls_sys {
	long nr;          /* syscall number, this architecture */
	const char *name; /* "pwrite64" */
	const char *fmt;  /* its first arguments, as calls_describe shows them: f fd,
			     n number, x flags (hex), p pointer (shown as ...) */
	bool flush;       /* it may make the kernel write mapped pages back */
	bool traced;      /* stopped by the tracer; else faultline-fs joins it at its request */
};

extern const struct calls_sys calls_sys[];
extern const size_t calls_nsys;

/* The table's entry for syscall nr, or NULL. */
const struct calls_sys *calls_sys_of(long nr);

/* Call sites (calls_site.c): unwinders per traced thread.  Not thread safe:
 * the tracer and faultline-fs each serialize their calls. */
struct calls_sites;
struct calls_sites *calls_sites_new(void);
void calls_sites_free(struct calls_sites *cs);
/* Drops what is kept for tid (it ended, or exec'ed). */
void calls_sites_forget(struct calls_sites *cs, pid_t tid);
/*
 * Where tid, blocked in a call, made it: "wal_append() walkv.c:212 <-
 * main() walkv.c:330" (the first frames with a source line, else the first
 * named ones), into buf; "" when its stack cannot be walked.
 */
void calls_site(struct calls_sites *cs, pid_t tid, char *buf, size_t len);
/*
 * calls_site in two steps, for a caller that first looks at what the call
 * is: what tid, blocked in a call, is calling (its number, its first six
 * arguments), from /proc/TID/syscall: 0, or -1 (running, not in a call,
 * gone, or not ours to read); then the site of that call.
 */
int calls_site_regs(struct calls_sites *cs, pid_t tid, long *nr, uint64_t arg[6]);
/* Or, in place of calls_site_regs, what a sample says of the call: its
 * registers and the start of its stack (len bytes from sp).  0 or -1. */
int calls_site_set(struct calls_sites *cs, pid_t tid, uint64_t sp, uint64_t pc,
		   const uint8_t *stack, size_t len);
void calls_site_walk(struct calls_sites *cs, pid_t tid, char *buf, size_t len);

/*
 * The entries of the workload's calls, sampled by the kernel
 * (calls_perf.c): for each call that may make a request, its number and
 * arguments, its thread's stack pointer and program counter, and the
 * first CALLS_PERF_STACK bytes of its stack.  Not thread safe.
 */
#define CALLS_PERF_STACK 2048
struct calls_perf;
struct calls_perf_sample {
	uint64_t time_ns;     /* CLOCK_MONOTONIC, at the call's entry */
	long nr;
	uint64_t arg[6];
	uint64_t sp, pc;
	const uint8_t *stack; /* from sp; valid until the next calls_perf_take */
	size_t stack_len;
};
/* Samples process pid, and every thread and child it makes from now on.
 * NULL (errno set) when the kernel will not: no tracefs, no right. */
struct calls_perf *calls_perf_open(pid_t pid);
void calls_perf_close(struct calls_perf *p);
/* The latest sample of tid, after reading every sample the kernel wrote
 * since the last call: false when there is none (or it may be lost). */
bool calls_perf_take(struct calls_perf *p, pid_t tid, struct calls_perf_sample *s);

/* Is fd of thread tid a file under the mount mnt?  Then its path relative
 * to the mount ("" for the mount itself) into rel (calls_maps.c). */
bool calls_fd_path(const char *mnt, pid_t tid, long fd, char *rel, size_t len);

/*
 * Shared writable mappings of files under the mount (calls_maps.c).
 *
 * calls_map_followed is the tracer's half: is tid's mmap(..., len, prot,
 * flags, fd, off) that returned addr one to follow (shared, writable, a
 * regular file under the mount mnt, whose name fits a control line)?
 * Then its path relative to the mount into path.  The rest is
 * faultline-fs's half (fusefs/fs_calls.c), which keeps the mappings and
 * captures their changed pages at each call boundary it sees; thread
 * safe.
 */
bool calls_map_followed(const char *mnt, pid_t tid, uint64_t addr, uint64_t len, uint64_t prot,
			uint64_t flags, int fd, char *path, size_t pathlen);
struct calls_maps;
/* Where captured pages go: a page of file (as given to calls_maps_add) at
 * file offset off, changed since the last capture, at a call of tid. */
typedef void calls_page_fn(void *arg, void *file, pid_t tid, uint64_t off, const void *page,
			   size_t len);
/* A mapping's file is no longer needed. */
typedef void calls_file_fn(void *arg, void *file);
/* NULL without memory. */
struct calls_maps *calls_maps_new(calls_page_fn *sink, calls_file_fn *drop, void *arg);
void calls_maps_free(struct calls_maps *m);
/* tid's mapping of len bytes at addr, of file from file offset off, is
 * followed from now on (file is dropped now when it cannot be). */
void calls_maps_add(struct calls_maps *m, pid_t tid, uint64_t addr, uint64_t len, uint64_t off,
		    void *file);
/* A call boundary of tid: every followed mapping's changed pages go to the sink. */
void calls_maps_capture(struct calls_maps *m, pid_t tid);
/* tid's munmap(addr, len), after its capture: the mappings it touches are dropped. */
void calls_maps_unmap(struct calls_maps *m, pid_t tid, uint64_t addr, uint64_t len);
/* Process pid exec'ed: its mappings are gone. */
void calls_maps_forget(struct calls_maps *m, pid_t pid);

#endif
