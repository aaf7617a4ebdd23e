/*
 * faultline-fs.c - the recorder: a passthrough FUSE file system (libfuse3
 * low-level API) that appends every mutating operation to a trace.
 *
 *   faultline-fs --trace FILE [--real-fsync] [--ready-fd N] [--allow-other]
 *                [--end-mark TEXT] [--trigger-fd N] [-d] BACKING MOUNTPOINT
 *
 * The mount mirrors BACKING, a private scratch directory.  Each request
 * is served by the matching syscall on the backing file; each mutating
 * request is appended to FILE with trace_append() when it completes,
 * failed ones included (result = -errno).  Before mounting, the backing
 * tree gets BASE records and file ids (fs_base.c; the root is
 * TRACE_ROOT_ID).  The inode table is fs_map.c; our own I/O on
 * /dev/fuse, for HANDLE_KILLPRIV_V2, is fs_wire.c.
 *
 * DURABILITY OF THE TRACE.  Records reach the trace file in the
 * background (trace_writer.c), except that a barrier, a mark or a
 * synchronous write is answered only once it and every record before it
 * are in the file (fsynced too with --real-fsync): a recorder killed at
 * any instant loses nothing the program was told is durable, only a tail
 * of records after the last such answer.
 *
 * FILE IDS.  The inode table maps a backing (st_dev, st_ino) to a file
 * id, and to a node (O_PATH fd + kernel lookup count) while the kernel
 * knows the inode.  Base entries keep their id without holding an fd.
 * Every create, mknod, mkdir and symlink gives its inode a NEW id,
 * replacing whatever an earlier, deleted inode with the same number had.
 * Namespace records name the entry they act on by id: unlink, rmdir and
 * rename lstat the entry (under the namespace lock) to find it.
 *
 * ORDER.  Records are a valid linearization of what happened to the
 * backing directory: replayed in order they reproduce it byte for byte.
 * Every backing syscall and its trace_append() happen under one lock
 * that every conflicting op also takes:
 *   - data ops on one file (write, truncate, fallocate, setattr, setxattr,
 *     removexattr, fsync, opens with O_TRUNC) hold that file's node->lock;
 *   - namespace ops (create, mknod, mkdir, symlink, link, unlink, rmdir,
 *     rename) and fsyncdir hold fs->ns_lock exclusively; lookup holds it
 *     shared, so no one reaches a new inode before its create is recorded.
 * Hence the BARRIER GUARANTEE the persistence models rely on: every op
 * on file X recorded before an FSYNC of X completed before that fsync
 * began, and every op on X recorded after it began after the fsync
 * ended; likewise FSYNCDIR of D and the namespace ops (and D's own
 * attribute changes).  Writes from mmap writeback arrive late, as WRITEs
 * with fi->writepage (recorded TRACE_WF_WRITEPAGE); msync(MS_SYNC)
 * arrives as those WRITEs and then FSYNC.
 *
 * BARRIERS ARE RECORDED, NOT PERFORMED, unless --real-fsync: the backing
 * directory is scratch, so fsync, fdatasync and fsyncdir are only
 * appended, and backing files are opened without O_SYNC/O_DSYNC (the
 * WRITE records still carry TRACE_WF_SYNC/DSYNC, and the kernel follows
 * each such write with an FSYNC request, which is recorded).
 *
 * THE CONTROL FILE ".faultline-ctl" at the root is virtual (never in the
 * backing dir, hidden from readdir, cannot be unlinked or renamed):
 * each non-empty line written to it becomes one MARK record, except a
 * line "\001syncfs PID", which record --calls writes when PID's sync() or
 * syncfs() returns: a SYNCFS record, and a captured page of a shared
 * mapping (fs_ctl.c).  Ops on it are not recorded otherwise.
 *
 * WHAT IT DOES NOT DO.  Writeback caching stays off (it would coalesce
 * and reorder writes).  copy_file_range is left out (the kernel falls
 * back to read + write, which are recorded).  POSIX and flock locks are
 * left to the kernel (local to this mount).  sync()/syncfs() never reach
 * a FUSE file system, so they cannot be recorded.  O_DIRECT is not
 * passed to the backing file (tmpfs refuses it); the file gets direct_io
 * and its writes are recorded TRACE_WF_DIRECT.  O_APPEND is emulated: the
 * backing fd never has it; an append writes at the backing file's size
 * under the node lock (so mmap writeback through an O_APPEND handle
 * still lands where it belongs) and records that offset.
 *
 * COST.  A write is one pwrite plus one trace_append (a copy into the
 * trace writer's memory), with no allocation: fi->fh carries the fd and
 * its TRACE_WF_* flags.  With HANDLE_KILLPRIV_V2 (fs_wire.c) the kernel
 * asks for security.capability once per inode and attribute refresh, not
 * before every write; fs_getxattr() answers it without a syscall while no
 * file can carry capabilities.  The price: set-ID bits are ours to clear
 * on write, truncate and O_TRUNC (fs_kill_suidgid), as the VFS would.
 *
 * Exit status: 0 after an unmount or SIGTERM/SIGINT/SIGHUP with the trace
 * closed cleanly; 2 for bad usage; 3 (with a one-line "faultline-fs: " reason) if setup
 * fails before --ready-fd is signalled, or if the trace could not be
 * completed.
 */
#define FUSE_USE_VERSION 312
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <linux/xattr.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "fs_help.h"
#include "fs_i.h"
#include "fs_req.h"
#include "fs_wire.h"
#include "trace.h"

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t),
	       "node addresses are used as FUSE node ids");

#define FS_EXIT_ENV 3 /* setup failed, or the trace is incomplete */

/* ---- recording ---- */

/* Starts a record of op for req (req NULL: no process, as for BASE). */
void rec_start(struct trace_rec *r, unsigned op, fuse_req_t req)
{
	memset(r, 0, sizeof(*r));
	r->op = (uint16_t)op;
	if (req)
		r->pid = (uint32_t)fuse_req_ctx(req)->pid;
	if (req && (op == TRACE_OP_CREATE || op == TRACE_OP_MKNOD ||
		    op == TRACE_OP_MKDIR || op == TRACE_OP_SYMLINK)) {
		r->uid = (uint32_t)fuse_req_ctx(req)->uid; /* the owner it is given */
		r->gid = (uint32_t)fuse_req_ctx(req)->gid;
	}
}

void rec_name(struct trace_rec *r, const char *name)
{
	r->name = name;
	r->name_len = (uint32_t)strlen(name);
}

/*
 * Appends r with result res.  A promise (trace_rec_is_promise) returns only
 * once r and every record before it are in the trace file (fsynced too
 * with --real-fsync), so no end of the recorder loses what the program
 * was told is durable; other records reach the file in the background.
 * After a failed append nothing more is appended, so the trace stays a
 * valid prefix of what happened; the failure is reported once now and
 * again by the exit status.
 */
int rec_append(struct fs *fs, struct trace_rec *r, int res)
{
	int err, none = 0;

	if ((err = __atomic_load_n(&fs->rec_err, __ATOMIC_ACQUIRE)))
		return err;
	if (fs->calls)
		fs_calls_at(fs, r);
	r->result = res;
	pthread_rwlock_rdlock(&fs->trace_lock); /* r's seq names it in this file */
	err = trace_append(fs->trace, r);
	if (!err && trace_rec_is_promise(r))
		err = trace_writer_sync(fs->trace, r->seq);
	pthread_rwlock_unlock(&fs->trace_lock);
	if (err && __atomic_compare_exchange_n(&fs->rec_err, &none, err, false,
					       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		fprintf(stderr, "faultline-fs: cannot append to the trace: %s; "
			"recording stops here\n", strerror(-err));
	return err;
}

/* ---- lookup, forget, links (attributes: fs_attr.c) ---- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Writeback caching would coalesce and reorder writes before we see them. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * Not HANDLE_KILLPRIV (v1): it would keep the kernel's per-write
	 * security.capability probe.  v2 is negotiated below libfuse (fs_wire.c).
	 */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* O_TRUNC arrives with OPEN, so we record it as TRACE_TF_OTRUNC. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fs_node *dir = fs_node(req, parent);
	struct fuse_entry_param e;
	int err;

	if (fs_is_ctl_name(fs, dir, name)) {
		fs_ctl_entry(fs, &e);
		fuse_reply_entry(req, &e);
		return;
	}
	pthread_rwlock_rdlock(&fs->ns_lock);
	err = fs_do_lookup(fs, dir, name, &e);
	pthread_rwlock_unlock(&fs->ns_lock);
	if (err == -ENOENT) {
		/* Cache the miss: every create goes through this mount. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = FS_TIMEOUT;
		fuse_reply_entry(req, &e);
	} else if (err) {
		fuse_reply_err(req, -err);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_node_unref(fs_of(req), fs_node(req, ino), nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		fs_node_unref(fs_of(req), fs_node(req, forgets[i].ino),
			      forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_node *n = fs_node(req, ino);
	char buf[PATH_MAX + 1];
	ssize_t len;

	if (n == &fs_of(req)->ctl) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	len = readlinkat(n->fd, "", buf, sizeof(buf));
	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if ((size_t)len == sizeof(buf)) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	if (fstatvfs(fs_of(req)->root.fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/* ---- open files ---- */

/* Flags to open the backing file with (see the header: O_APPEND, O_DIRECT, O_*SYNC). */
static int fs_backing_flags(const struct fs *fs, int flags)
{
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_APPEND | O_DIRECT);
	if (!fs->real_fsync)
		flags &= ~O_SYNC; /* O_SYNC includes the O_DSYNC bit */
	return flags | O_CLOEXEC;
}

/* TRACE_WF_* flags that an fd opened with flags gives its writes. */
static uint32_t fs_write_flags(int flags)
{
	uint32_t wf = 0;

	if (flags & O_DIRECT)
		wf |= TRACE_WF_DIRECT;
	if ((flags & O_SYNC) == O_SYNC)
		wf |= TRACE_WF_SYNC;
	if (flags & O_DSYNC)
		wf |= TRACE_WF_DSYNC;
	if (flags & O_APPEND)
		wf |= TRACE_WF_APPEND;
	return wf;
}

/* Finishes an open: fi->fh and direct I/O for O_DIRECT. */
static void fs_set_fh(struct fuse_file_info *fi, int fd)
{
	fi->fh = fh_make(fd, fs_write_flags(fi->flags));
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
}

/*
 * Opens n's backing file for fi->flags and sets fi->fh.  Records an
 * O_TRUNC truncation (under n->lock, with the old size) and the OPEN.
 * Returns 0 or -errno.
 */
static int fs_open_file(struct fs *fs, fuse_req_t req, struct fs_node *n,
			struct fuse_file_info *fi)
{
	bool trunc = fi->flags & O_TRUNC;
	struct stat st = {0};
	struct trace_rec r;
	char path[32];
	int fd, res;

	if (trunc) {
		pthread_mutex_lock(&n->lock);
		fs_kill_suidgid(fs, req, n);
		fstat(n->fd, &st);
	}
	fd = open(fs_proc_path(path, n->fd), fs_backing_flags(fs, fi->flags));
	res = fd < 0 ? -errno : 0;
	if (trunc) {
		if (!res && S_ISREG(st.st_mode)) {
			rec_start(&r, TRACE_OP_TRUNCATE, req);
			r.id = n->id;
			r.len = (uint64_t)st.st_size;
			r.flags = TRACE_TF_OTRUNC;
			rec_append(fs, &r, 0);
		}
		pthread_mutex_unlock(&n->lock);
	}
	rec_start(&r, TRACE_OP_OPEN, req);
	r.id = n->id;
	r.flags = (uint32_t)fi->flags;
	rec_append(fs, &r, res);
	if (!res)
		fs_set_fh(fi, fd);
	return res;
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	int res;

	if (n == &fs->ctl) {
		fs_ctl_open(fi);
		fuse_reply_open(req, fi);
		return;
	}
	res = fs_open_file(fs, req, n, fi);
	if (res)
		fuse_reply_err(req, -res);
	else
		fuse_reply_open(req, fi);
}

/*
 * create() of a name that exists (the kernel's cache said it did not):
 * no CREATE happened, so this is a lookup plus an open.  Caller holds
 * ns_lock exclusively.  Returns 0 or -errno.
 */
static int fs_create_existing(struct fs *fs, fuse_req_t req,
			      struct fs_node *dir, const char *name,
			      struct fuse_file_info *fi,
			      struct fuse_entry_param *e)
{
	struct fs_node *n;
	int err;

	err = fs_do_lookup(fs, dir, name, e);
	if (err)
		return err;
	n = (struct fs_node *)(uintptr_t)e->ino;
	if (S_ISDIR(e->attr.st_mode))
		err = -EISDIR;
	else
		err = fs_open_file(fs, req, n, fi);
	if (err)
		fs_node_unref(fs, n, 1);
	return err;
}

/*
 * Creates name as a new regular file: records CREATE (and OPEN), stores
 * the open fd in *fd.  Returns 0 or -errno; -EEXIST without a record
 * when the name exists and the caller did not ask for O_EXCL (the
 * caller then opens it: fs_create_existing()).
 */
static int fs_create_new(struct fs *fs, fuse_req_t req, struct fs_node *dir,
			 const char *name, mode_t mode,
			 struct fuse_file_info *fi, struct fuse_entry_param *e,
			 int *fd)
{
	struct trace_rec r;
	int res, err;

	rec_start(&r, TRACE_OP_CREATE, req);
	r.parent = dir->id;
	r.mode = S_IFREG | (mode & 07777);
	r.flags = (uint32_t)fi->flags;
	rec_name(&r, name);
	*fd = openat(dir->fd, name, fs_backing_flags(fs, fi->flags) | O_CREAT | O_EXCL,
		     fs_create_mode(fs, req, mode) & 07777);
	err = res = *fd < 0 ? -errno : 0;
	if (res == -EEXIST && !(fi->flags & O_EXCL))
		return res;
	if (!res)
		err = fs_new_entry(fs, req, dir, name, S_IFREG | mode, e, &r.id);
	if (!err)
		r.mode = e->attr.st_mode;
	rec_append(fs, &r, res);
	if (!res) {
		uint64_t id = r.id;

		rec_start(&r, TRACE_OP_OPEN, req);
		r.id = id;
		r.flags = (uint32_t)fi->flags;
		rec_append(fs, &r, 0);
	}
	return err;
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *dir = fs_node(req, parent);
	struct fuse_entry_param e;
	int fd = -1, err;

	if (fs_is_ctl_name(fs, dir, name)) {
		fs_ctl_entry(fs, &e);
		fs_ctl_open(fi);
		fuse_reply_create(req, &e, fi);
		return;
	}
	pthread_rwlock_wrlock(&fs->ns_lock);
	err = fs_create_new(fs, req, dir, name, mode, fi, &e, &fd);
	if (err == -EEXIST && fd < 0 && !(fi->flags & O_EXCL))
		err = fs_create_existing(fs, req, dir, name, fi, &e);
	else if (!err)
		fs_set_fh(fi, fd);
	pthread_rwlock_unlock(&fs->ns_lock);
	if (err) {
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, -err);
	} else {
		fuse_reply_create(req, &e, fi);
	}
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	if (fs_node(req, ino) == &fs_of(req)->ctl) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fh_fd(fi->fh);
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/*
 * The write path, kept to one pwrite and one trace_append: the node lock
 * makes the two atomic with respect to every other data op on the file.
 */
static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	uint32_t wf = fh_wflags(fi->fh);
	struct trace_rec r;
	struct stat st;
	ssize_t res;

	if (n == &fs->ctl) {
		fs_ctl_write(fs, req, buf, size);
		return;
	}
	if (fi->writepage) /* page cache writeback: not a write through this fd */
		wf = TRACE_WF_WRITEPAGE;
	rec_start(&r, TRACE_OP_WRITE, req);
	pthread_mutex_lock(&n->lock);
	if (!(wf & TRACE_WF_WRITEPAGE))
		fs_kill_suidgid(fs, req, n);
	if ((wf & TRACE_WF_APPEND) && fstat(fh_fd(fi->fh), &st) == 0)
		off = st.st_size; /* O_APPEND: the end, as it is now */
	res = pwrite(fh_fd(fi->fh), buf, size, off);
	if (res < 0)
		res = -errno;
	r.id = n->id;
	r.off = (uint64_t)off;
	r.len = res < 0 ? size : (size_t)res;
	r.flags = wf;
	r.data = buf;
	r.data_len = res > 0 ? (uint32_t)res : 0;
	rec_append(fs, &r, (int)res);
	pthread_mutex_unlock(&n->lock);
	if (res >= 0 && fs_trig_write(fs, req, fh_fd(fi->fh)))
		return;
	if (res < 0)
		fuse_reply_err(req, (int)-res);
	else
		fuse_reply_write(req, (size_t)res);
}

/* Records a FLUSH or RELEASE of an open file (nothing for the control file). */
static void fs_rec_close(fuse_req_t req, fuse_ino_t ino, unsigned op)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	struct trace_rec r;

	if (n == &fs->ctl)
		return;
	rec_start(&r, op, req);
	r.id = n->id;
	rec_append(fs, &r, 0);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	fs_rec_close(req, ino, TRACE_OP_FLUSH);
	fuse_reply_err(req, 0);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fi->fh != FS_CTL_FH)
		close(fh_fd(fi->fh));
	fs_rec_close(req, ino, TRACE_OP_RELEASE);
	fuse_reply_err(req, 0);
}

/* The barrier: see "BARRIER GUARANTEE" in the header. */
static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	struct trace_rec r;
	int res = 0;

	if (n == &fs->ctl) {
		fuse_reply_err(req, 0);
		return;
	}
	if (fs_trig_fsync(fs, req, fh_fd(fi->fh)))
		return; /* the crash comes before it */
	rec_start(&r, TRACE_OP_FSYNC, req);
	r.id = n->id;
	r.flags = datasync ? 1 : 0;
	pthread_mutex_lock(&n->lock);
	if (fs->real_fsync)
		res = fs_sync_fd(fh_fd(fi->fh), datasync);
	/* A barrier the trace does not hold is no barrier: never say it succeeded. */
	if (rec_append(fs, &r, res) < 0 && res == 0)
		res = -EIO;
	pthread_mutex_unlock(&n->lock);
	fuse_reply_err(req, -res);
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			 off_t len, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *n = fs_node(req, ino);
	int fd = fh_fd(fi->fh), res;
	struct trace_rec r;
	struct stat st;

	if (n == &fs->ctl) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	rec_start(&r, TRACE_OP_FALLOCATE, req);
	r.id = n->id;
	r.off = (uint64_t)off;
	r.len = (uint64_t)len;
	r.mode = (uint32_t)mode;
	pthread_mutex_lock(&n->lock);
	if (fstat(fd, &st) == 0)
		r.id2 = (uint64_t)st.st_size;
	res = fallocate(fd, mode, off, len) < 0 ? -errno : 0;
	rec_append(fs, &r, res);
	pthread_mutex_unlock(&n->lock);
	fuse_reply_err(req, -res);
}

static void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t res;

	if (fs_node(req, ino) == &fs_of(req)->ctl) {
		fuse_reply_err(req, ENXIO); /* no data, and SEEK_HOLE past the end */
		return;
	}
	res = lseek(fh_fd(fi->fh), off, whence);
	if (res < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, res);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.symlink = fs_symlink,
	.link = fs_link,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.create = fs_create,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.fallocate = fs_fallocate,
	.lseek = fs_lseek,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.fsyncdir = fs_fsyncdir,
	.statfs = fs_statfs,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
};

/* ---- startup and shutdown ---- */

struct fs_opts {
	const char *trace;     /* --trace FILE */
	const char *backing;   /* BACKING */
	char *mountpoint;      /* MOUNTPOINT, made absolute (malloc'd) */
	int ready_fd;          /* --ready-fd N, or -1 */
	bool real_fsync;       /* --real-fsync */
	bool allow_other;      /* --allow-other */
	bool debug;            /* -d */
	const char *end_mark;  /* --end-mark TEXT: a last MARK once serving ended, or NULL */
	int trigger_fd;        /* --trigger-fd N (fs_trigger.c), or -1 */
	const char *calls_log; /* --calls-log FILE (fs_calls.c), or NULL */
};

static int fs_parse_args(int argc, char *argv[], struct fs_opts *o)
{
	static const struct option longopts[] = {
		{"trace", required_argument, NULL, 't'},
		{"real-fsync", no_argument, NULL, 'f'},
		{"ready-fd", required_argument, NULL, 'r'},
		{"allow-other", no_argument, NULL, 'a'},
		{"end-mark", required_argument, NULL, 'e'},
		{"trigger-fd", required_argument, NULL, 'T'},
		{"calls-log", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	*o = (struct fs_opts){.ready_fd = -1, .trigger_fd = -1};
	while ((c = getopt_long(argc, argv, "d", longopts, NULL)) != -1) {
		if (c == 't')
			o->trace = optarg;
		else if (c == 'f')
			o->real_fsync = true;
		else if (c == 'a')
			o->allow_other = true;
		else if (c == 'e' && *optarg && !strchr(optarg, '\n'))
			o->end_mark = optarg;
		else if (c == 'd')
			o->debug = true;
		else if (c == 'c' && *optarg)
			o->calls_log = optarg;
		else if (c == 'r' && (o->ready_fd = (int)strtol(optarg, &end, 10)) >= 0 &&
			 !*end && *optarg)
			continue;
		else if (c == 'T' && (o->trigger_fd = (int)strtol(optarg, &end, 10)) >= 0 &&
			 !*end && *optarg)
			continue;
		else
			return -EINVAL;
	}
	if (!o->trace || argc - optind != 2)
		return -EINVAL;
	o->backing = argv[optind];
	o->mountpoint = realpath(argv[optind + 1], NULL);
	if (!o->mountpoint)
		return fs_fail(-errno, "mount point %s", argv[optind + 1]);
	return 0;
}

/* Lets us keep an O_PATH fd per known inode and every open file. */
static void fs_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Opens the backing root, the trace, and records the base.  Returns 0 or -errno. */
static int fs_setup(struct fs *fs, const struct fs_opts *o)
{
	pthread_rwlockattr_t ra;
	struct stat st;
	int dfd, err;

	pthread_rwlockattr_init(&ra);
	/* Namespace ops must not starve behind a stream of lookups. */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->ns_lock, &ra);
	pthread_rwlock_init(&fs->trace_lock, &ra); /* a fold waits for appends, not behind them */
	pthread_rwlockattr_destroy(&ra);
	pthread_mutex_init(&fs->tab_lock, NULL);
	pthread_mutex_init(&fs->root.lock, NULL);
	pthread_mutex_init(&fs->ctl.lock, NULL);
	fs->real_fsync = o->real_fsync;
	fs->give = geteuid() == 0;
	fs->next_id = TRACE_ROOT_ID + 1;
	fs->ctl.fd = -1;
	fs->root.id = TRACE_ROOT_ID;
	pthread_mutex_init(&fs->trig.lock, NULL);
	fs->trig.fd = o->trigger_fd;
	fs->root.fd = open(o->backing, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root.fd < 0 || fstat(fs->root.fd, &st) < 0 ||
	    !realpath(o->backing, fs->backing))
		return fs_fail(-errno, "backing directory %s", o->backing);
	fs->ctl_attr = (struct stat){
		.st_ino = FS_CTL_INO, .st_mode = S_IFREG | 0666, .st_nlink = 1,
		.st_uid = st.st_uid, .st_gid = st.st_gid, .st_blksize = 4096,
		.st_atim = st.st_mtim, .st_mtim = st.st_mtim, .st_ctim = st.st_mtim,
	};
	if (map_grow(&fs->map) || !fs_slot(fs, st.st_dev, st.st_ino, TRACE_ROOT_ID))
		return fs_fail(-ENOMEM, "inode table");
	err = trace_writer_open(o->trace, &fs->trace);
	if (err)
		return fs_fail(err, "trace %s", o->trace);
	if (!realpath(o->trace, fs->trace_path))
		return fs_fail(-errno, "trace %s", o->trace);
	trace_writer_set_fsync(fs->trace, o->real_fsync);
	dfd = open(o->backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fs_fail(-errno, "backing directory %s", o->backing);
	err = base_walk(fs, dfd, TRACE_ROOT_ID, o->backing);
	close(dfd);
	if (!err && o->calls_log && (err = fs_calls_open(fs, o->calls_log)) < 0)
		return fs_fail(err, "calls log %s", o->calls_log);
	return err;
}

/* Frees the inode table and the nodes the kernel still held. */
static void fs_free(struct fs *fs)
{
	size_t i;

	for (i = 0; i < fs->map.cap; i++) {
		struct fs_node *n = fs->map.slots[i].node;

		if (n) {
			close(n->fd);
			pthread_mutex_destroy(&n->lock);
			free(n);
		}
	}
	free(fs->map.slots);
	if (fs->root.fd >= 0)
		close(fs->root.fd);
}

static const struct fuse_custom_io wire_io = {.writev = wire_writev, .read = wire_read};

/* Creates the session and mounts it.  Returns the session or NULL (reason printed). */
static struct fuse_session *fs_mount(struct fs *fs, const struct fs_opts *o)
{
	char opts[128];
	char *argv[] = {"faultline-fs", "-o", opts, "-d", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);
	struct fuse_session *se;

	snprintf(opts, sizeof(opts),
		 "default_permissions,fsname=faultline,subtype=faultline%s",
		 o->allow_other ? ",allow_other" : "");
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	fuse_opt_free_args(&args); /* the session keeps no pointer into them */
	if (!se) {
		fs_fail(0, "cannot create the FUSE session");
		return NULL;
	}
	/*
	 * libfuse only takes over signals left at SIG_DFL, and a shell
	 * starts background jobs with SIGINT ignored: reset them first.
	 */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (fuse_set_signal_handlers(se) != 0) {
		fs_fail(0, "cannot install signal handlers");
		goto out_destroy;
	}
	if (fuse_session_mount(se, o->mountpoint) != 0) {
		fs_fail(0, "cannot mount on %s", o->mountpoint);
		goto out_signals;
	}
	/* Our own /dev/fuse I/O: HANDLE_KILLPRIV_V2 (fs_wire.c). */
	if (fuse_session_custom_io(se, &wire_io, fuse_session_fd(se)) != 0) {
		fs_fail(0, "cannot take over the FUSE device's I/O");
		fuse_session_unmount(se);
		goto out_signals;
	}
	return se;

out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return NULL;
}

/* Serves requests until a signal or an unmount.  Returns 0 or -errno. */
static int fs_serve(struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int res;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	res = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return res < 0 ? res : 0; /* > 0: the signal that ended it */
}

/*
 * Tells --ready-fd the mount is up: "R", then the CLOCK_MONOTONIC instant
 * (8 bytes, native order) records' time_ns counts from, so that record
 * --calls can time the workload's calls on the trace's clock.
 */
static void fs_signal_ready(int fd, uint64_t t0)
{
	char msg[9] = "R";

	if (fd < 0)
		return;
	memcpy(msg + 1, &t0, sizeof(t0));
	if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		fprintf(stderr, "faultline-fs: --ready-fd %d: %s\n", fd, strerror(errno));
	close(fd);
}

/*
 * --end-mark: every request has been answered or failed (the session loop
 * joined its workers), so this MARK follows every op in the trace: the
 * point where `faultline mount` cut the power (mount_cmd.c), after
 * everything that happened, whatever was in flight.
 */
static void fs_end_mark(struct fs *fs, const char *text)
{
	struct trace_rec r;

	if (!text || !fs->trace)
		return;
	rec_start(&r, TRACE_OP_MARK, NULL);
	r.name = text;
	r.name_len = (uint32_t)strlen(text);
	rec_append(fs, &r, 0);
}

int main(int argc, char *argv[])
{
	static struct fs fs;
	struct fuse_session *se;
	struct fs_opts o;
	int err, status = FS_EXIT_ENV;

	umask(0); /* the kernel applied the caller's umask already */
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "--man"))) {
		if (argv[1][2] == 'h')
			help_print_cmd(stdout, &help_fs, NULL);
		else /* faultline-fs(8), built by make */
			help_print_man(stdout, &help_fs, PACKAGE_VERSION);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--bash-completion")) /* doc/bash-completion/ */
		return help_print_bash(stdout, &help_fs) < 0 ? FS_EXIT_ENV : 0;
	err = fs_parse_args(argc, argv, &o);
	if (err == -EINVAL) {
		help_print_usage(stderr, &help_fs, NULL);
		return 2;
	}
	if (err)
		goto out;
	fs_raise_nofile();
	if (fs_setup(&fs, &o))
		goto out_close;
	se = fs_mount(&fs, &o);
	fs.se = se;
	if (!se)
		goto out_close;
	fs_signal_ready(o.ready_fd, trace_writer_t0_ns(fs.trace));
	err = fs_serve(se);
	if (err)
		fs_fail(err, "session loop");
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	fs_end_mark(&fs, o.end_mark);
	fs_calls_close(&fs);
	status = err || fs.rec_err ? FS_EXIT_ENV : 0;
out_close:
	fs_calls_close(&fs); /* (again: once is enough, and a failed start needs it too) */
	if (fs.trace) {
		/* trace_writer_close fsyncs: the trace outlives a machine crash. */
		err = trace_writer_close(fs.trace);
		if (err && status == 0) {
			fs_fail(err, "closing the trace");
			status = FS_EXIT_ENV;
		}
	}
	if (fs.rec_err && status == FS_EXIT_ENV)
		fs_fail(fs.rec_err, "the trace is incomplete");
	fs_free(&fs);
out:
	free(o.mountpoint);
	return status;
}
