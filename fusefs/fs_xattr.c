/*
 * fs_xattr.c - faultline-fs's extended attributes: setxattr and
 * removexattr are recorded under the file's node lock; getxattr and
 * listxattr pass through.  The kernel's security.capability probe is
 * answered without a syscall while no file can carry capabilities
 * (fs->caps_seen), since it comes once per inode and attribute refresh.
 */
#define FUSE_USE_VERSION 312
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <sys/xattr.h>
#include <linux/xattr.h>

#include "fs_req.h"
#include "trace.h"

/* ---- extended attributes ---- */

void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	struct trace_rec r;
	char path[32];
	int res;

	if (n == &fs->ctl) {
		fuse_reply_err(req, ENOTSUP);
		return;
	}
	if (strcmp(name, XATTR_NAME_CAPS) == 0)
		__atomic_store_n(&fs->caps_seen, true, __ATOMIC_RELEASE);
	rec_start(&r, TRACE_OP_SETXATTR, req);
	r.id = n->id;
	r.flags = (uint32_t)flags;
	rec_name(&r, name);
	r.data = value;
	r.data_len = (uint32_t)size;
	pthread_mutex_lock(&n->lock);
	res = setxattr(fs_proc_path(path, n->fd), name, value, size, flags);
	res = res < 0 ? -errno : 0;
	rec_append(fs, &r, res);
	pthread_mutex_unlock(&n->lock);
	fuse_reply_err(req, -res);
}

void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	struct trace_rec r;
	char path[32];
	int res;

	if (n == &fs->ctl) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	rec_start(&r, TRACE_OP_REMOVEXATTR, req);
	r.id = n->id;
	rec_name(&r, name);
	pthread_mutex_lock(&n->lock);
	res = removexattr(fs_proc_path(path, n->fd), name) < 0 ? -errno : 0;
	rec_append(fs, &r, res);
	pthread_mutex_unlock(&n->lock);
	fuse_reply_err(req, -res);
}

/*
 * getxattr (name != NULL) or listxattr (name == NULL): replies with at
 * most size bytes, or with the size needed when size is 0.
 */
static void fs_xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	struct fs_node *n = fs_node(req, ino);
	char path[32], *buf = NULL;
	ssize_t len = 0;
	int err = 0;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (n == &fs_of(req)->ctl)
		err = name ? ENODATA : 0;
	else if (name)
		len = getxattr(fs_proc_path(path, n->fd), name, buf, size);
	else
		len = listxattr(fs_proc_path(path, n->fd), buf, size);
	if (len < 0)
		err = errno;
	if (err)
		fuse_reply_err(req, err);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)len);
	else
		fuse_reply_xattr(req, (size_t)len);
	free(buf);
}

void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	/*
	 * The kernel asks for security.capability before every write(2)
	 * (libfuse 3.14 cannot ask for HANDLE_KILLPRIV_V2, which would let
	 * it cache the answer).  While no file can carry one, answer
	 * without touching the backing file.
	 */
	if (!__atomic_load_n(&fs_of(req)->caps_seen, __ATOMIC_ACQUIRE) &&
	    strcmp(name, XATTR_NAME_CAPS) == 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	fs_xattr_get(req, ino, name, size);
}

void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	fs_xattr_get(req, ino, NULL, size);
}
