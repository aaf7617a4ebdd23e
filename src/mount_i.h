/*
 * mount_i.h - the parts of `faultline mount` (mount_cmd.c) in files of
 * their own.
 */
#ifndef FL_MOUNT_I_H
#define FL_MOUNT_I_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ops.h"

/*
 * Makes the backing directory hold exactly the tree at state, the crash
 * state of the epoch whose trace is t (mount_backing.c): files the epoch
 * left alone are kept, the rest copied.  *copied gets the bytes copied.
 * 0, or -errno with the backing directory as it was.
 */
int mount_backing_replace(const char *backing, const struct ops_trace *t,
			  const char *state, uint64_t *copied);

/* The abstract socket address of the mount served at real path mnt
 * (mount_cmd.c): "faultline-mount-" and a hash of the path.  Its length. */
socklen_t mount_addr(const char *mnt, struct sockaddr_un *a);

#endif
