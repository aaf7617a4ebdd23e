/*
 * calls.h - watching the workload's system calls (faultline record --calls).
 *
 * FUSE sees what reaches the file system and nothing else: sync() and
 * syncfs() never arrive as a request, so a program whose barrier is one of
 * them would show no barrier at all.  calls_trace() runs the workload
 * under ptrace with a seccomp filter that stops it only at the calls that
 * matter, so every other call runs at full speed; it covers raw syscalls
 * and static binaries alike, since it needs nothing inside the process.
 *
 * Today it turns each successful sync(), and each successful syncfs() on
 * a descriptor under the mount, into a SYNCFS record: when the call
 * returns, the tracee is held until faultline-fs has appended the record
 * (a line "\001syncfs PID" written to the control file), so the record
 * lies after everything the call made durable and before anything the
 * thread does next.
 *
 * What it does not do: watch native-architecture calls of another ABI
 * (a 32-bit program on a 64-bit kernel runs unwatched); follow a process
 * that leaves the tracer's tree; see a syncfs made on the program's behalf
 * by another process.
 */
#ifndef FL_CALLS_H
#define FL_CALLS_H

#include <stdbool.h>

struct calls_opts {
	char *const *argv; /* the workload, NULL-terminated; run with execvp */
	const char *ctl;   /* the mount's control file: barriers are written there */
	const char *mnt;   /* the mount point: syncfs(fd) counts only for an fd under it */
};

/*
 * Runs o->argv under the tracer (this process) until it and every process
 * it started have ended.  Returns the workload's wait status, or -errno
 * when it could not be started or traced.  Meant to run in a child of its
 * own: it reaps every child of the calling process.
 */
int calls_trace(const struct calls_opts *o);

/* The control-file line that asks faultline-fs for a SYNCFS record. */
#define CALLS_CTL_SYNCFS "\001syncfs"

#endif
