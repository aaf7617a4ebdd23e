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
};

extern const struct calls_sys calls_sys[];
extern const size_t calls_nsys;

/* The table's entry for syscall nr, or NULL. */
const struct calls_sys *calls_sys_of(long nr);

/* Call sites (calls_site.c): unwinders per traced thread.  Not thread safe. */
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

/* Is fd of thread tid a file under the mount mnt?  Then its path relative
 * to the mount ("" for the mount itself) into rel (calls_maps.c). */
bool calls_fd_path(const char *mnt, pid_t tid, long fd, char *rel, size_t len);

/* Shared writable mappings of files under the mount (calls_maps.c).
 * Thread safe. */
struct calls_maps;
/* ctl: the control file, open for writing; mnt: the mount point. NULL without memory. */
struct calls_maps *calls_maps_new(int ctl, const char *mnt);
void calls_maps_free(struct calls_maps *m);
/* tid's mmap(..., len, prot, flags, fd, off) returned addr: followed from
 * now on if it is a shared writable mapping of a file under the mount. */
void calls_maps_add(struct calls_maps *m, pid_t tid, uint64_t addr, uint64_t len,
		    uint64_t prot, uint64_t flags, int fd, uint64_t off);
/* A call boundary of tid: every followed mapping's changed pages recorded. */
void calls_maps_capture(struct calls_maps *m, pid_t tid);
/* tid's munmap(addr, len), after its capture: the mappings it touches are dropped. */
void calls_maps_unmap(struct calls_maps *m, pid_t tid, uint64_t addr, uint64_t len);
/* Process pid exec'ed: its mappings are gone. */
void calls_maps_forget(struct calls_maps *m, pid_t pid);

#endif
