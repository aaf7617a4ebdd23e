/*
 * fs_wire.c - faultline-fs below libfuse: the bytes on /dev/fuse.
 *
 * WHY.  On every write through a file system that can answer getxattr,
 * the kernel first asks for "security.capability" (to learn whether the
 * write must drop privileges), unless the inode is marked S_NOSEC, which
 * it only does on a mount that negotiated FUSE_HANDLE_KILLPRIV_V2.  That
 * question is a whole extra round trip per write, as costly as the write
 * itself for small ones.  libfuse 3.14 cannot negotiate the flag, so this
 * module reads and writes /dev/fuse for it (fuse_session_custom_io) and:
 *
 *   - sets FUSE_HANDLE_KILLPRIV_V2 in the INIT reply when the kernel
 *     offers it, and
 *   - notes, for the request the calling thread is about to serve, the
 *     kill-set-ID flags libfuse does not pass on: FUSE_WRITE_KILL_SUIDGID
 *     on WRITE, FATTR_KILL_SUIDGID on SETATTR, FUSE_OPEN_KILL_SUIDGID on
 *     OPEN and CREATE (wire_kill_suidgid()).
 *
 * With the flag the kernel no longer clears set-ID bits itself (it used
 * to send a SETATTR for it); the file system must, and faultline-fs does
 * and records it as that SETATTR (see fs_kill_suidgid there).  The kernel
 * still probes security.capability once per inode and attribute refresh,
 * and still removes it with a REMOVEXATTR of its own.
 *
 * THREADS.  libfuse's worker threads each read a request and then serve
 * it, in that thread; the flags live in a thread-local variable between
 * the two.  Nothing here allocates or locks.
 *
 * It does not change any request or any other reply; only the INIT
 * reply's flags word is touched, and only to add that one flag.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs_wire.h"

static __thread bool wire_kill;     /* the request this thread serves asks to kill set-ID bits */
static uint64_t wire_init_unique;   /* the INIT request's unique, 0 before it; atomic */
static bool wire_v2_offered;        /* the kernel offered HANDLE_KILLPRIV_V2; atomic */

/* Where each request that can ask to kill set-ID bits says so. */
static const struct {
	uint32_t opcode; /* FUSE_* */
	size_t arg_len;  /* its argument struct's size */
	size_t at;       /* offset of the 32-bit flags word in it */
	uint32_t bit;    /* the kill bit there */
} wire_kills[] = {
	{FUSE_WRITE, sizeof(struct fuse_write_in), offsetof(struct fuse_write_in, write_flags),
	 FUSE_WRITE_KILL_SUIDGID},
	{FUSE_SETATTR, sizeof(struct fuse_setattr_in), offsetof(struct fuse_setattr_in, valid),
	 FATTR_KILL_SUIDGID},
	{FUSE_OPEN, sizeof(struct fuse_open_in), offsetof(struct fuse_open_in, open_flags),
	 FUSE_OPEN_KILL_SUIDGID},
	{FUSE_CREATE, sizeof(struct fuse_create_in), offsetof(struct fuse_create_in, open_flags),
	 FUSE_OPEN_KILL_SUIDGID},
};

/* The kill flag of a request (hdr + its argument, len bytes in all). */
static bool wire_req_kill(const struct fuse_in_header *h, const uint8_t *arg, size_t len)
{
	uint32_t flags;
	size_t i;

	for (i = 0; i < sizeof(wire_kills) / sizeof(wire_kills[0]); i++)
		if (h->opcode == wire_kills[i].opcode) {
			if (len < wire_kills[i].arg_len)
				return false;
			memcpy(&flags, arg + wire_kills[i].at, sizeof(flags));
			return (flags & wire_kills[i].bit) != 0;
		}
	return false;
}

ssize_t wire_read(int fd, void *buf, size_t len, void *userdata)
{
	const struct fuse_in_header *h = buf;
	ssize_t n;

	(void)userdata;
	n = read(fd, buf, len);
	wire_kill = false;
	if (n < (ssize_t)sizeof(*h))
		return n;
	if (h->opcode == FUSE_INIT && (size_t)n >= sizeof(*h) + 16) {
		struct fuse_init_in in = {0};

		memcpy(&in, (const uint8_t *)buf + sizeof(*h),
		       (size_t)n - sizeof(*h) < sizeof(in) ? (size_t)n - sizeof(*h) : sizeof(in));
		__atomic_store_n(&wire_v2_offered, (in.flags & FUSE_HANDLE_KILLPRIV_V2) != 0,
				 __ATOMIC_RELEASE);
		__atomic_store_n(&wire_init_unique, h->unique, __ATOMIC_RELEASE);
		return n;
	}
	wire_kill = wire_req_kill(h, (const uint8_t *)buf + sizeof(*h), (size_t)n - sizeof(*h));
	return n;
}

ssize_t wire_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	uint64_t init = __atomic_load_n(&wire_init_unique, __ATOMIC_ACQUIRE);

	(void)userdata;
	if (init && count >= 2 && iov[0].iov_len == sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) {
		struct fuse_out_header oh;

		memcpy(&oh, iov[0].iov_base, sizeof(oh));
		if (oh.unique == init && oh.error == 0 &&
		    __atomic_load_n(&wire_v2_offered, __ATOMIC_ACQUIRE)) {
			uint8_t *p = (uint8_t *)iov[1].iov_base + offsetof(struct fuse_init_out, flags);
			uint32_t flags;

			memcpy(&flags, p, sizeof(flags));
			flags |= FUSE_HANDLE_KILLPRIV_V2;
			memcpy(p, &flags, sizeof(flags));
		}
		if (oh.unique == init)
			__atomic_store_n(&wire_init_unique, 0, __ATOMIC_RELEASE);
	}
	return writev(fd, iov, count);
}

bool wire_kill_suidgid(void)
{
	return wire_kill;
}
