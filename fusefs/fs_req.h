/*
 * fs_req.h - what faultline-fs's request handlers share across its files:
 * the node behind a request, small path helpers, and the handlers that
 * live outside faultline-fs.c (the namespace and directories in fs_ns.c,
 * attributes in fs_attr.c, extended attributes in fs_xattr.c).  Only fusefs/ includes this, after
 * defining FUSE_USE_VERSION.
 */
#ifndef FL_FS_REQ_H
#define FL_FS_REQ_H

#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs_i.h"

/* The file system a request belongs to. */
static inline struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The node behind a FUSE node id. */
static inline struct fs_node *fs_node(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &fs_of(req)->root;
	return (struct fs_node *)(uintptr_t)ino;
}

/* "/proc/self/fd/N": reaches an O_PATH fd's inode for calls with no *at form. */
static inline const char *fs_proc_path(char buf[32], int fd)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

/* Whether name in dir is the control file. */
static inline bool fs_is_ctl_name(struct fs *fs, const struct fs_node *dir, const char *name)
{
	return dir == &fs->root && strcmp(name, FS_CTL_NAME) == 0;
}

/* fsync or fdatasync of fd: 0 or -errno. */
static inline int fs_sync_fd(int fd, int datasync)
{
	int res = datasync ? fdatasync(fd) : fsync(fd);

	return res < 0 ? -errno : 0;
}

/* ---- fs_ns.c: creating, removing and renaming entries; directories ---- */

/* Mode to create an entry with (set-ID bits held back until fs_give). */
mode_t fs_create_mode(const struct fs *fs, fuse_req_t req, mode_t mode);
/* After name was created in dir: a new id in *id, owner, lookup, *e.  0 or -errno. */
int fs_new_entry(struct fs *fs, fuse_req_t req, struct fs_node *dir,
			const char *name, mode_t mode,
			struct fuse_entry_param *e, uint64_t *id);
void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev);
void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode);
void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name);
void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname);
void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi);
void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi);

/* ---- fs_attr.c: attribute changes ---- */

/* Clears the set-ID bits a write or truncate by req must clear (the
 * kernel leaves it to us), recorded as a SETATTR.  Caller holds n->lock.
 * 0 or -errno. */
int fs_kill_suidgid(struct fs *fs, fuse_req_t req, struct fs_node *n);
void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);

/* ---- fs_xattr.c ---- */

void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags);
void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size);
void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);

#endif
