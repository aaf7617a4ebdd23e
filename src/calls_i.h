/*
 * calls_i.h - what the tracer (calls.c) and the log reader (calls_log.c)
 * share: the table of watched syscalls.
 */
#ifndef FL_CALLS_I_H
#define FL_CALLS_I_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
