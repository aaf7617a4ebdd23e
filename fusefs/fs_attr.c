/*
 * fs_attr.c - faultline-fs's attributes: getattr, setattr (mode, owner,
 * size, times, each recorded as the SETATTR or TRUNCATE it is) and the
 * clearing of set-ID bits the kernel leaves to the file system under
 * HANDLE_KILLPRIV_V2 (fs_kill_suidgid, also called on write and O_TRUNC).
 */
#define FUSE_USE_VERSION 312
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs_i.h"
#include "fs_req.h"
#include "fs_wire.h"
#include "trace.h"

void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	struct stat st;

	(void)fi;
	if (n == &fs->ctl) {
		fuse_reply_attr(req, &fs->ctl_attr, 0);
		return;
	}
	if (fstatat(n->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, FS_TIMEOUT);
}

/* Whether req's process is in group gid (primary or supplementary). */
static bool fs_req_in_group(fuse_req_t req, gid_t gid)
{
	gid_t list[64];
	int n, i;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 64, list);
	for (i = 0; i < n && i < 64; i++)
		if (list[i] == gid)
			return true;
	return false;
}

/*
 * With HANDLE_KILLPRIV_V2 (fs_wire.c) the kernel leaves clearing set-ID
 * bits on write, truncate and O_TRUNC to the file system.  When the
 * request asks (wire_kill_suidgid: the caller lacks CAP_FSETID), a
 * regular file loses S_ISUID, and S_ISGID if it is group-executable or
 * the caller is not in its group, as the VFS clears them, and the change
 * is recorded as the SETATTR the kernel itself used to send.  Caller
 * holds n->lock.  Returns 0 or -errno.
 */
int fs_kill_suidgid(struct fs *fs, fuse_req_t req, struct fs_node *n)
{
	struct trace_rec r;
	struct stat st;
	char path[32];
	mode_t mode;
	int res;

	if (!wire_kill_suidgid() || fstat(n->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	mode = st.st_mode & ~(mode_t)S_ISUID;
	if ((mode & S_ISGID) && ((mode & S_IXGRP) || !fs_req_in_group(req, st.st_gid)))
		mode &= ~(mode_t)S_ISGID;
	if (mode == st.st_mode)
		return 0;
	rec_start(&r, TRACE_OP_SETATTR, req);
	r.id = n->id;
	r.flags = TRACE_SA_MODE;
	r.mode = mode;
	res = chmod(fs_proc_path(path, n->fd), mode & 07777) < 0 ? -errno : 0;
	rec_append(fs, &r, res);
	return res;
}

/* Truncates n (through fi's fd when given) and records it.  Caller holds n->lock. */
static int fs_set_size(struct fs *fs, fuse_req_t req, struct fs_node *n,
		       off_t size, struct fuse_file_info *fi)
{
	int fd = fi ? fh_fd(fi->fh) : n->fd, res;
	struct trace_rec r;
	struct stat st;
	char path[32];

	rec_start(&r, TRACE_OP_TRUNCATE, req);
	r.id = n->id;
	r.off = (uint64_t)size;
	r.flags = fi ? TRACE_TF_FTRUNCATE : TRACE_TF_SETATTR;
	if (fstat(fd, &st) == 0)
		r.len = (uint64_t)st.st_size;
	if (fi)
		res = ftruncate(fd, size);
	else
		res = truncate(fs_proc_path(path, n->fd), size);
	res = res < 0 ? -errno : 0;
	rec_append(fs, &r, res);
	return res;
}

/*
 * One timestamp of a setattr: sets *ts and the record's mask bits.  "Now"
 * is read here and given to the backing file explicitly, so the record
 * carries the exact time a crash state must show (the kernel's own
 * UTIME_NOW would leave the recorded value unknown).
 */
static void fs_set_time(struct timespec *ts, int64_t *rec_ns, uint32_t *mask,
			int valid, int set_bit, int now_bit,
			const struct timespec *given, uint32_t sa_bit,
			uint32_t sa_now_bit)
{
	if (valid & now_bit) {
		clock_gettime(CLOCK_REALTIME, ts);
		*rec_ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
		*mask |= sa_bit | sa_now_bit;
	} else if (valid & set_bit) {
		*ts = *given;
		*rec_ns = (int64_t)given->tv_sec * 1000000000 + given->tv_nsec;
		*mask |= sa_bit;
	}
}

/* Applies mode, owner and times from a, filling r as it goes.  Returns 0 or -errno. */
static int fs_apply_meta(const struct fs_node *n, const struct stat *a,
			 int valid, struct trace_rec *r)
{
	struct timespec tv[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	char path[32];

	if (valid & FUSE_SET_ATTR_MODE) {
		r->flags |= TRACE_SA_MODE;
		r->mode = a->st_mode;
		if (chmod(fs_proc_path(path, n->fd), a->st_mode & 07777) < 0)
			return -errno;
	}
	if (valid & FUSE_SET_ATTR_UID) {
		r->flags |= TRACE_SA_UID;
		r->uid = uid = a->st_uid;
	}
	if (valid & FUSE_SET_ATTR_GID) {
		r->flags |= TRACE_SA_GID;
		r->gid = gid = a->st_gid;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		struct stat before, after;
		bool seen = !(valid & FUSE_SET_ATTR_MODE) &&
			    fstatat(n->fd, "", &before, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0;

		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		/* chown clears set-ID bits (the kernel no longer asks for it, fs_wire.c) */
		if (seen && fstatat(n->fd, "", &after, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 &&
		    after.st_mode != before.st_mode) {
			r->flags |= TRACE_SA_MODE;
			r->mode = after.st_mode;
		}
	}
	fs_set_time(&tv[0], &r->atime_ns, &r->flags, valid, FUSE_SET_ATTR_ATIME,
		    FUSE_SET_ATTR_ATIME_NOW, &a->st_atim, TRACE_SA_ATIME,
		    TRACE_SA_ATIME_NOW);
	fs_set_time(&tv[1], &r->mtime_ns, &r->flags, valid, FUSE_SET_ATTR_MTIME,
		    FUSE_SET_ATTR_MTIME_NOW, &a->st_mtim, TRACE_SA_MTIME,
		    TRACE_SA_MTIME_NOW);
	if ((r->flags & (TRACE_SA_ATIME | TRACE_SA_MTIME)) &&
	    utimensat(n->fd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

#define FS_META_BITS                                                         \
	(FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |        \
	 FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW | \
	 FUSE_SET_ATTR_MTIME_NOW)

void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int valid, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	struct trace_rec r;
	int res = 0;

	if (n == &fs->ctl) { /* e.g. truncation by a shell's "> .faultline-ctl" */
		fuse_reply_attr(req, &fs->ctl_attr, 0);
		return;
	}
	pthread_mutex_lock(&n->lock);
	if (valid & FUSE_SET_ATTR_SIZE)
		res = fs_kill_suidgid(fs, req, n);
	if (!res && (valid & FUSE_SET_ATTR_SIZE))
		res = fs_set_size(fs, req, n, attr->st_size, fi);
	if (!res && (valid & FS_META_BITS)) {
		rec_start(&r, TRACE_OP_SETATTR, req);
		r.id = n->id;
		res = fs_apply_meta(n, attr, valid, &r);
		rec_append(fs, &r, res);
	}
	pthread_mutex_unlock(&n->lock);
	if (res)
		fuse_reply_err(req, -res);
	else
		fs_getattr(req, ino, fi);
}
