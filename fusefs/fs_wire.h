/*
 * fs_wire.h - faultline-fs's own reading and writing of /dev/fuse (fs_wire.c):
 * FUSE_HANDLE_KILLPRIV_V2, which libfuse 3.14 cannot negotiate.
 */
#ifndef FL_FS_WIRE_H
#define FL_FS_WIRE_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

/* fuse_custom_io's read: read(2), noting what wire_kill_suidgid() reports. */
ssize_t wire_read(int fd, void *buf, size_t len, void *userdata);

/* fuse_custom_io's writev: writev(2), adding HANDLE_KILLPRIV_V2 to the INIT reply. */
ssize_t wire_writev(int fd, struct iovec *iov, int count, void *userdata);

/* Whether the request this thread serves asks the file system to clear set-ID bits. */
bool wire_kill_suidgid(void);

#endif
