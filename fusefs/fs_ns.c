/*
 * fs_ns.c - faultline-fs's namespace: creating entries (mknod, mkdir,
 * symlink, link; create is an open and lives in faultline-fs.c),
 * removing and renaming them, and directories (reading them, fsyncdir).
 * Every namespace op holds fs->ns_lock exclusively across its syscall
 * and its record (see ORDER in faultline-fs.c), so records are a valid
 * linearization of the namespace; fsyncdir too, which makes it a barrier.
 */
#define FUSE_USE_VERSION 312
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fs_req.h"
#include "trace.h"

/* ---- creating entries ---- */

/* Whether new entries must be handed to their creator (we run as root, they may not). */
static bool fs_must_give(const struct fs *fs, fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	return fs->give && (ctx->uid != 0 || ctx->gid != 0);
}

/*
 * Mode to create an entry with: set-ID bits of a non-directory are left
 * out when it will be chowned (chown clears them, and a root-owned
 * set-ID file must never exist); fs_give() puts them back.
 */
mode_t fs_create_mode(const struct fs *fs, fuse_req_t req, mode_t mode)
{
	if (!S_ISDIR(mode) && fs_must_give(fs, req))
		mode &= ~(mode_t)(S_ISUID | S_ISGID);
	return mode;
}

/*
 * Gives a new entry (O_PATH fd) to the user who asked for it, as the
 * kernel would have made it: owned by the requesting uid, and by the
 * requesting gid unless the directory is set-group-ID (the backing fs
 * already gave it the directory's group).  Returns 0 or -errno.
 */
static int fs_give(struct fs *fs, fuse_req_t req, const struct fs_node *dir,
		   int fd, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t gid = ctx->gid;
	struct stat dst;
	char path[32];

	if (!fs_must_give(fs, req))
		return 0;
	if (fstat(dir->fd, &dst) < 0)
		return -errno;
	if (dst.st_mode & S_ISGID)
		gid = (gid_t)-1;
	if (fchownat(fd, "", ctx->uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(mode) || S_ISLNK(mode) || !(mode & (S_ISUID | S_ISGID)))
		return 0;
	return chmod(fs_proc_path(path, fd), mode & 07777) < 0 ? -errno : 0;
}

/*
 * After name was created in dir: gives the new inode a new file id
 * (stored in *id), hands it to its creator and takes a kernel lookup,
 * filling *e.  Caller holds ns_lock exclusively.  Returns 0 or -errno;
 * *id is set either way, since the entry exists.
 */
int fs_new_entry(struct fs *fs, fuse_req_t req, struct fs_node *dir,
			const char *name, mode_t mode,
			struct fuse_entry_param *e, uint64_t *id)
{
	int fd, err, res;

	*id = fs_new_id(fs);
	fd = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = fs_give(fs, req, dir, fd, mode);
	/* Map the id even if the chown failed: the record names the inode. */
	res = fs_entry_of_fd(fs, fd, *id, e);
	if (!res && err)
		fs_node_unref(fs, (struct fs_node *)(uintptr_t)e->ino, 1);
	return err ? err : res;
}

/* What mknod, mkdir or symlink asks for. */
struct fs_mk {
	unsigned op;        /* TRACE_OP_MKNOD, TRACE_OP_MKDIR or TRACE_OP_SYMLINK */
	mode_t mode;        /* file type and permissions */
	dev_t rdev;         /* MKNOD: device number */
	const char *target; /* SYMLINK: the link's contents */
};

static int fs_mk_syscall(struct fs *fs, fuse_req_t req, int dirfd,
			 const char *name, const struct fs_mk *mk)
{
	mode_t mode = fs_create_mode(fs, req, mk->mode);
	int res;

	if (mk->op == TRACE_OP_MKDIR)
		res = mkdirat(dirfd, name, mode & 07777);
	else if (mk->op == TRACE_OP_SYMLINK)
		res = symlinkat(mk->target, dirfd, name);
	else
		res = mknodat(dirfd, name, mode, mk->rdev);
	return res < 0 ? -errno : 0;
}

/* mknod, mkdir and symlink: create, record, reply. */
static void fs_make(fuse_req_t req, fuse_ino_t parent, const char *name,
		    const struct fs_mk *mk)
{
	struct fs *fs = fs_of(req);
	struct fs_node *dir = fs_node(req, parent);
	struct fuse_entry_param e;
	struct trace_rec r;
	int res, err;

	if (fs_is_ctl_name(fs, dir, name)) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	rec_start(&r, mk->op, req);
	r.parent = dir->id;
	r.mode = mk->mode;
	r.flags = (uint32_t)mk->rdev;
	rec_name(&r, name);
	if (mk->target) {
		r.name2 = mk->target;
		r.name2_len = (uint32_t)strlen(mk->target);
	}
	pthread_rwlock_wrlock(&fs->ns_lock);
	err = res = fs_mk_syscall(fs, req, dir->fd, name, mk);
	if (!res)
		err = fs_new_entry(fs, req, dir, name, mk->mode, &e, &r.id);
	if (!err)
		r.mode = e.attr.st_mode;
	rec_append(fs, &r, res);
	pthread_rwlock_unlock(&fs->ns_lock);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_entry(req, &e);
}

void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fs_mk mk = {.op = TRACE_OP_MKNOD, .mode = mode, .rdev = rdev};

	fs_make(req, parent, name, &mk);
}

void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fs_mk mk = {.op = TRACE_OP_MKDIR, .mode = S_IFDIR | mode};

	fs_make(req, parent, name, &mk);
}

void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fs_mk mk = {.op = TRACE_OP_SYMLINK, .mode = S_IFLNK | 0777,
			   .target = link};

	fs_make(req, parent, name, &mk);
}

static int fs_linkat(int fd, int dirfd, const char *name)
{
	char path[32];

	if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOENT) /* ENOENT: no CAP_DAC_READ_SEARCH; try /proc */
		return -errno;
	if (linkat(AT_FDCWD, fs_proc_path(path, fd), dirfd, name,
		   AT_SYMLINK_FOLLOW) == 0)
		return 0;
	return -errno;
}

void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino), *dir = fs_node(req, newparent);
	struct fuse_entry_param e;
	struct trace_rec r;
	int res;

	if (n == &fs->ctl || fs_is_ctl_name(fs, dir, newname)) {
		fuse_reply_err(req, n == &fs->ctl ? EPERM : EEXIST);
		return;
	}
	rec_start(&r, TRACE_OP_LINK, req);
	r.id = n->id;
	r.parent = dir->id;
	rec_name(&r, newname);
	pthread_rwlock_wrlock(&fs->ns_lock);
	res = fs_linkat(n->fd, dir->fd, newname);
	rec_append(fs, &r, res);
	if (!res)
		res = fs_do_lookup(fs, dir, newname, &e);
	pthread_rwlock_unlock(&fs->ns_lock);
	if (res)
		fuse_reply_err(req, -res);
	else
		fuse_reply_entry(req, &e);
}

/* ---- removing and renaming entries ---- */

/* unlink (op TRACE_OP_UNLINK) and rmdir (TRACE_OP_RMDIR). */
static void fs_remove(fuse_req_t req, fuse_ino_t parent, const char *name,
		      unsigned op)
{
	struct fs *fs = fs_of(req);
	struct fs_node *dir = fs_node(req, parent);
	struct trace_rec r;
	int res;

	if (fs_is_ctl_name(fs, dir, name)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	rec_start(&r, op, req);
	r.parent = dir->id;
	rec_name(&r, name);
	pthread_rwlock_wrlock(&fs->ns_lock);
	r.id = fs_entry_id(fs, dir->fd, name);
	res = unlinkat(dir->fd, name, op == TRACE_OP_RMDIR ? AT_REMOVEDIR : 0);
	res = res < 0 ? -errno : 0;
	rec_append(fs, &r, res);
	pthread_rwlock_unlock(&fs->ns_lock);
	fuse_reply_err(req, -res);
}

void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_remove(req, parent, name, TRACE_OP_UNLINK);
}

void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_remove(req, parent, name, TRACE_OP_RMDIR);
}

void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct fs_node *dir = fs_node(req, parent), *dir2 = fs_node(req, newparent);
	struct trace_rec r;
	int res;

	if (fs_is_ctl_name(fs, dir, name) || fs_is_ctl_name(fs, dir2, newname)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	rec_start(&r, TRACE_OP_RENAME, req);
	r.parent = dir->id;
	r.parent2 = dir2->id;
	r.flags = flags;
	rec_name(&r, name);
	r.name2 = newname;
	r.name2_len = (uint32_t)strlen(newname);
	pthread_rwlock_wrlock(&fs->ns_lock);
	r.id = fs_entry_id(fs, dir->fd, name);
	r.id2 = fs_entry_id(fs, dir2->fd, newname);
	/* RENAME_WHITEOUT would make an inode no record creates. */
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		res = -EINVAL;
	else if (renameat2(dir->fd, name, dir2->fd, newname, flags) < 0)
		res = -errno;
	else
		res = 0;
	rec_append(fs, &r, res);
	pthread_rwlock_unlock(&fs->ns_lock);
	fuse_reply_err(req, -res);
}


/* ---- directories ---- */

static struct fs_dir *fs_dir(struct fuse_file_info *fi)
{
	return (struct fs_dir *)(uintptr_t)fi->fh;
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_node *n = fs_node(req, ino);
	struct fs_dir *d;
	int fd, err;

	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto out_errno;
	d->dp = fdopendir(fd);
	if (!d->dp)
		goto out_close;
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
	return;

out_close:
	err = errno;
	close(fd);
	errno = err;
out_errno:
	err = errno;
	free(d);
	fuse_reply_err(req, err);
}

/* Adds d's entries to buf (size bytes) from offset off on; returns bytes used or -errno. */
static ssize_t fs_fill_dir(fuse_req_t req, struct fs_dir *d, bool is_root,
			   char *buf, size_t size, off_t off)
{
	size_t used = 0, len;
	struct stat st;

	if (off != d->off) {
		seekdir(d->dp, off);
		d->next = NULL;
		d->off = off;
	}
	for (;;) {
		if (!d->next) {
			errno = 0;
			d->next = readdir(d->dp);
			if (!d->next)
				return errno && !used ? -errno : (ssize_t)used;
		}
		if (!is_root || strcmp(d->next->d_name, FS_CTL_NAME) != 0) {
			memset(&st, 0, sizeof(st));
			st.st_ino = d->next->d_ino;
			st.st_mode = DTTOIF(d->next->d_type);
			len = fuse_add_direntry(req, buf + used, size - used,
						d->next->d_name, &st, d->next->d_off);
			if (len > size - used)
				return (ssize_t)used;
			used += len;
		}
		d->off = d->next->d_off;
		d->next = NULL;
	}
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	char *buf = malloc(size);
	ssize_t used;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	used = fs_fill_dir(req, fs_dir(fi), ino == FUSE_ROOT_ID, buf, size, off);
	if (used < 0)
		fuse_reply_err(req, (int)-used);
	else
		fuse_reply_buf(req, buf, (size_t)used);
	free(buf);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct fs_dir *d = fs_dir(fi);

	(void)ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

/* The directory barrier: exclusive ns_lock orders it with every namespace op. */
void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	struct trace_rec r;
	int res = 0;

	rec_start(&r, TRACE_OP_FSYNCDIR, req);
	r.id = n->id;
	r.flags = datasync ? 1 : 0;
	pthread_rwlock_wrlock(&fs->ns_lock);
	pthread_mutex_lock(&n->lock);
	if (fs->real_fsync)
		res = fs_sync_fd(dirfd(fs_dir(fi)->dp), datasync);
	if (rec_append(fs, &r, res) < 0 && res == 0)
		res = -EIO; /* a barrier the trace does not hold is no barrier */
	pthread_mutex_unlock(&n->lock);
	pthread_rwlock_unlock(&fs->ns_lock);
	fuse_reply_err(req, -res);
}
