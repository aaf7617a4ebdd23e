/*
 * tracegen_run.c - `tracegen SEED --run`: the generator's records
 * performed as real syscalls in the current directory, so that running
 * it under `faultline record` (after `tracegen SEED --setup` made the
 * base) records a real trace of the ops the synthetic trace simulates.
 *
 * tg_run_sink() is the generator's sink: it sees each record before the
 * model applies it, so the model names the paths involved (tg_path():
 * any name of the inode, relative to ".").  Each record becomes:
 *   WRITE        open(path, the mode's flags: O_WRONLY, |O_DSYNC, |O_SYNC,
 *                O_WRONLY|O_DIRECT|O_DSYNC, O_RDWR|O_DIRECT, |O_APPEND),
 *                pwrite (write for O_APPEND, whose landing offset is
 *                checked against the model's), close.  O_DIRECT payloads
 *                are copied to a page-aligned buffer; the generator
 *                aligns both O_DIRECT modes' offset and length to 512 or
 *                4096, and an unaligned one is reported as a divergence;
 *   WRITEPAGE    mmap writeback: open O_RDWR, mmap MAP_SHARED the pages
 *                [off, off+len), store the record's bytes, keep the map
 *                until the next record.  If that is the fdatasync of the
 *                same file (the model's msync), msync(MS_SYNC) performs
 *                it; otherwise, or at the end, munmap and close: the
 *                close's FLUSH writes the dirty pages back (fuse_flush()
 *                calls write_inode_now()).  The real WRITEs are whole
 *                pages cut at EOF, as the model's, maybe split in two;
 *   TRUNCATE     truncate(path) / open O_RDWR + ftruncate / open O_TRUNC;
 *   FALLOCATE    open O_RDWR + fallocate(mode, off, len);
 *   CREATE       open(path, its flags, its mode) + close; MKDIR, SYMLINK,
 *   LINK ...     mkdir, symlink, link, unlink, rmdir (a -ENOTEMPTY rmdir
 *                is performed and must fail so), renameat2 with its flags;
 *   SETATTR      chmod, chown (the model's uids and gids: we are root),
 *                utimensat (explicit times or UTIME_NOW);
 *   SETXATTR ... setxattr with XATTR_CREATE/REPLACE, removexattr;
 *   FSYNC, FSYNCDIR  fsync or fdatasync of the file or directory;
 *   MARK         "commit N\n" written to $FAULTLINE_MNT/.faultline-ctl,
 *                skipped when FAULTLINE_MNT is unset.
 * Skipped: BASE (--setup made the base); OPEN, FLUSH and RELEASE (the
 * kernel makes its own around the calls above); records the model marks
 * "soon" (the kernel's FSYNC after an O_SYNC/O_DSYNC write, a RELEASE);
 * failures that cannot be provoked for real (a write with -ENOSPC, an
 * fsync with -EIO).
 *
 * BARRIERS ON UNLINKED INODES.  The model may fsync a file, or fsyncdir
 * a directory, after its last name is gone (still in flight, as through
 * a descriptor kept open).  So before an unlink, rmdir or rename takes
 * the last name of an inode with ops in flight, a descriptor to it is
 * opened and kept (its OPEN is recorded); barriers use it, and it is
 * closed at the end.
 *
 * CHECKED.  Every call's result is compared with the record's (0, a full
 * write, or the -errno of a failure the model makes); a mismatch prints
 * the record's seq in the synthetic trace of the same seed and --ops
 * (`tracegen SEED OUT --ops N`), the call, its path and the errno, and
 * stops the run (exit 1): a run that silently diverged from the model
 * would make comparing its recording with the model meaningless.
 *
 * WHAT IT DOES NOT DO: several processes (one process does every op, so
 * records carry one pid; CREATE records carry our uid, root, not the
 * model's); concurrency; provoke ENOSPC or EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tracegen_i.h"

#define TG_RUN_CTL "/.faultline-ctl" /* below $FAULTLINE_MNT */

/* A descriptor kept for barriers on an inode that may lose every name. */
struct tg_run_keep {
	uint64_t id; /* the inode's trace id, 0 for a free slot */
	int fd;	     /* O_RDONLY, owned */
};

struct tg_run {
	uint64_t seed;		   /* for messages */
	const struct trace_rec *r; /* record being performed, for messages */
	const char *mnt;	   /* $FAULTLINE_MNT, NULL: marks skipped */
	uint8_t *buf;		   /* TG_WBUF bytes, page-aligned; owned */
	struct tg_run_keep keep[TG_MAX_INODES];
	/* The pending mmap store (map NULL: none). */
	void *map;		/* the mapping */
	size_t map_len;		/* its length in bytes */
	int map_fd;		/* the O_RDWR descriptor it maps; owned */
	uint64_t map_id;	/* the file's trace id */
	char map_path[TG_PATH]; /* for messages */
};

typedef int tg_run_fn(struct tg_run *x, struct tg *g,
		      const struct trace_rec *r);

/* ---- reporting ---- */

/*
 * Reports what went wrong with the current record (err: -errno, or 0 for
 * a call that succeeded when the model has it fail), on one line.
 * Returns -TG_EDIVERGED.
 */
static int tg_run_bad(struct tg_run *x, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int tg_run_bad(struct tg_run *x, int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr,
		"tracegen: seed %" PRIu64 " op %" PRIu64 " (%s): ", x->seed,
		x->r ? x->r->seq : 0, x->r ? trace_op_name(x->r->op) : "end");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n",
		err ? strerror(-err) : "succeeded, the model has it fail");
	return -TG_EDIVERGED;
}

/* Reports a call that failed with errno.  Returns -TG_EDIVERGED. */
static int tg_run_errno(struct tg_run *x, const char *call, const char *path)
{
	return tg_run_bad(x, -errno, "%s(%s)", call, path);
}

/*
 * Compares the result of call (0 or -1 with errno) with the record's.
 * Returns 0 when they agree, else -TG_EDIVERGED (reported).
 */
static int tg_run_expect(struct tg_run *x, int res, const char *call,
			 const char *path)
{
	int err = res < 0 ? -errno : 0;

	if (err == x->r->result)
		return 0;
	if (x->r->result)
		return tg_run_bad(x, err, "%s(%s) (the model has it fail: %s)",
				  call, path, strerror(-x->r->result));
	return tg_run_bad(x, err, "%s(%s)", call, path);
}

/* ---- paths and descriptors ---- */

/* A path of the inode with trace id id.  0 or -TG_EDIVERGED. */
static int tg_run_path(struct tg_run *x, const struct tg *g, uint64_t id,
		       char path[TG_PATH])
{
	long k = tg_inode_by_id(g, id);

	if (k >= 0 && tg_path(g, (size_t)k, path) == 0)
		return 0;
	return tg_run_bad(x, -ENOENT, "no path in the model for id %" PRIu64,
			  id);
}

/* Path of name (name_len bytes) in directory id dir.  0 or -TG_EDIVERGED. */
static int tg_run_child(struct tg_run *x, const struct tg *g, uint64_t dir,
			const char *name, uint32_t name_len, char path[TG_PATH])
{
	size_t at;
	int err = tg_run_path(x, g, dir, path);

	if (err)
		return err;
	at = strlen(path);
	if (at + 1 + name_len >= TG_PATH)
		return tg_run_bad(x, -ENAMETOOLONG, "%s: path too long", path);
	path[at] = '/';
	memcpy(path + at + 1, name, name_len);
	path[at + 1 + name_len] = '\0';
	return 0;
}

/* The kept descriptor of id, or -1. */
static int tg_run_kept(const struct tg_run *x, uint64_t id)
{
	size_t k;

	for (k = 0; k < TG_MAX_INODES; k++)
		if (x->keep[k].id == id)
			return x->keep[k].fd;
	return -1;
}

/*
 * Before an op that takes a name of inode id: if that is its last name
 * and a barrier may still come for it (ops in flight), opens it by path
 * and keeps the descriptor.  0 or -TG_EDIVERGED.
 */
static int tg_run_keep(struct tg_run *x, const struct tg *g, uint64_t id,
		       const char *path)
{
	long k = tg_inode_by_id(g, id);
	const struct tg_inode *i;
	size_t s;
	int fd;

	if (k < 0 || tg_run_kept(x, id) >= 0)
		return 0;
	i = &g->ino[k];
	if (S_ISDIR(i->mode) ? !tg_dir_pending(g, id)
			     : !S_ISREG(i->mode) || i->nlink > 1 || !i->pending)
		return 0;
	for (s = 0; s < TG_MAX_INODES && x->keep[s].id; s++)
		;
	if (s == TG_MAX_INODES)
		return tg_run_bad(x, -EMFILE, "%s: no room to keep it open",
				  path);
	fd = open(path, O_RDONLY | O_CLOEXEC |
			    (S_ISDIR(i->mode) ? O_DIRECTORY : O_NOFOLLOW));
	if (fd < 0)
		return tg_run_errno(x, "open", path);
	x->keep[s].id = id;
	x->keep[s].fd = fd;
	return 0;
}

/* ---- writes ---- */

/* The write mode whose WRITE records carry wflags, or TG_W_COUNT. */
static unsigned tg_run_wmode(uint32_t wflags)
{
	unsigned m;

	for (m = 0; m < TG_W_COUNT && tg_wmodes[m].wflags != wflags; m++)
		;
	return m;
}

/* The write itself, on fd opened for mode m.  0 or -TG_EDIVERGED. */
static int tg_run_pwrite(struct tg_run *x, int fd, unsigned m, const char *path,
			 const struct trace_rec *r)
{
	const void *src = r->data;
	off_t end;
	ssize_t n;

	if (tg_wmodes[m].oflags & O_DIRECT) {
		if (r->off % TG_SECTOR || r->len % TG_SECTOR)
			return tg_run_bad(
			    x, -EINVAL, "%s: O_DIRECT write not aligned", path);
		memcpy(x->buf, r->data, r->len);
		src = x->buf;
	}
	if (m == TG_W_APPEND)
		n = write(fd, src, r->len);
	else
		n = pwrite(fd, src, r->len, (off_t)r->off);
	if (n < 0)
		return tg_run_errno(x, m == TG_W_APPEND ? "write" : "pwrite",
				    path);
	if ((uint64_t)n != r->len)
		return tg_run_bad(x, -EIO, "%s: short write", path);
	if (m != TG_W_APPEND)
		return 0;
	end = lseek(fd, 0, SEEK_CUR);
	if (end < 0)
		return tg_run_errno(x, "lseek", path);
	if ((uint64_t)end != r->off + r->len)
		return tg_run_bad(x, -ESPIPE,
				  "%s: the append ended at %jd, the model "
				  "says %" PRIu64,
				  path, (intmax_t)end, r->off + r->len);
	return 0;
}

/* mmap writeback: maps the pages, stores, keeps the map (see the header). */
static int tg_run_store(struct tg_run *x, const char *path,
			const struct trace_rec *r)
{
	void *map;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return tg_run_errno(x, "open", path);
	map = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)r->off);
	if (map == MAP_FAILED) {
		tg_run_errno(x, "mmap", path);
		close(fd);
		return -TG_EDIVERGED;
	}
	memcpy(map, r->data, r->len);
	x->map = map;
	x->map_len = r->len;
	x->map_fd = fd;
	x->map_id = r->id;
	snprintf(x->map_path, sizeof(x->map_path), "%s", path);
	return 0;
}

/*
 * Ends the pending mmap store before record r (NULL: at the end).  If r
 * is the fdatasync of the mapped file, msync(MS_SYNC) performs it and
 * *done is set; else munmap and close write the pages back.
 */
static int tg_run_unmap(struct tg_run *x, const struct trace_rec *r, bool *done)
{
	int err = 0;

	*done = r && r->op == TRACE_OP_FSYNC && r->id == x->map_id &&
		r->flags == 1 && r->result == 0;
	if (*done && msync(x->map, x->map_len, MS_SYNC) < 0)
		err = tg_run_errno(x, "msync", x->map_path);
	if (munmap(x->map, x->map_len) < 0 && !err)
		err = tg_run_errno(x, "munmap", x->map_path);
	/* The close's FLUSH writes back what msync did not. */
	if (close(x->map_fd) < 0 && !err)
		err = tg_run_errno(x, "close", x->map_path);
	x->map = NULL;
	x->map_id = 0;
	return err;
}

static int run_write(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	unsigned m = tg_run_wmode(r->flags);
	char path[TG_PATH];
	int fd, err;

	if (r->result < 0) /* ENOSPC: cannot be made to happen here */
		return 0;
	if (m == TG_W_COUNT)
		return tg_run_bad(x, -EINVAL, "no write mode has flags %#x",
				  r->flags);
	err = tg_run_path(x, g, r->id, path);
	if (err)
		return err;
	if (m == TG_W_PAGE)
		return tg_run_store(x, path, r);
	fd = open(path, (int)tg_wmodes[m].oflags | O_CLOEXEC);
	if (fd < 0)
		return tg_run_errno(x, "open", path);
	err = tg_run_pwrite(x, fd, m, path, r);
	if (close(fd) < 0 && !err)
		err = tg_run_errno(x, "close", path);
	return err;
}

/* ---- truncate and fallocate: through a descriptor or a path ---- */

/* Opens path with flags, applies r through it (if it is one), closes. */
static int tg_run_via_fd(struct tg_run *x, const char *path, int flags,
			 const struct trace_rec *r)
{
	int fd, res = 0;

	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return tg_run_errno(x, "open", path);
	if (r->op == TRACE_OP_FALLOCATE)
		res = fallocate(fd, (int)r->mode, (off_t)r->off, (off_t)r->len);
	else if (r->flags == TRACE_TF_FTRUNCATE)
		res = ftruncate(fd, (off_t)r->off);
	if (res < 0) {
		res = tg_run_errno(
		    x, r->op == TRACE_OP_FALLOCATE ? "fallocate" : "ftruncate",
		    path);
		close(fd);
		return res;
	}
	return close(fd) < 0 ? tg_run_errno(x, "close", path) : 0;
}

static int run_truncate(struct tg_run *x, struct tg *g,
			const struct trace_rec *r)
{
	char path[TG_PATH];
	int err = tg_run_path(x, g, r->id, path);

	if (err)
		return err;
	if (r->flags == TRACE_TF_SETATTR)
		return tg_run_expect(x, truncate(path, (off_t)r->off),
				     "truncate", path);
	if (r->flags == TRACE_TF_OTRUNC)
		return tg_run_via_fd(x, path, O_WRONLY | O_TRUNC, r);
	return tg_run_via_fd(x, path, O_RDWR, r);
}

static int run_fallocate(struct tg_run *x, struct tg *g,
			 const struct trace_rec *r)
{
	char path[TG_PATH];
	int err = tg_run_path(x, g, r->id, path);

	return err ? err : tg_run_via_fd(x, path, O_RDWR, r);
}

/* ---- the namespace ---- */

static int run_create(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	char path[TG_PATH];
	int fd, err;

	err = tg_run_child(x, g, r->parent, r->name, r->name_len, path);
	if (err)
		return err;
	fd = open(path, (int)(r->flags & ~(uint32_t)TG_O_LARGEFILE) | O_CLOEXEC,
		  (mode_t)(r->mode & 07777));
	if (fd < 0)
		return tg_run_errno(x, "open(O_CREAT)", path);
	return close(fd) < 0 ? tg_run_errno(x, "close", path) : 0;
}

static int run_mkdir(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	char path[TG_PATH];
	int err = tg_run_child(x, g, r->parent, r->name, r->name_len, path);

	if (err)
		return err;
	return tg_run_expect(x, mkdir(path, (mode_t)(r->mode & 07777)), "mkdir",
			     path);
}

static int run_symlink(struct tg_run *x, struct tg *g,
		       const struct trace_rec *r)
{
	char path[TG_PATH], target[TG_PATH];
	int err = tg_run_child(x, g, r->parent, r->name, r->name_len, path);

	if (err)
		return err;
	snprintf(target, sizeof(target), "%.*s", (int)r->name2_len, r->name2);
	return tg_run_expect(x, symlink(target, path), "symlink", path);
}

static int run_link(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	char from[TG_PATH], to[TG_PATH];
	int err = tg_run_path(x, g, r->id, from);

	if (!err)
		err = tg_run_child(x, g, r->parent, r->name, r->name_len, to);
	return err ? err : tg_run_expect(x, link(from, to), "link", to);
}

/* UNLINK and RMDIR: keeps a descriptor first if a barrier may follow. */
static int run_remove(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	bool dir = r->op == TRACE_OP_RMDIR;
	char path[TG_PATH];
	int err;

	err = tg_run_child(x, g, r->parent, r->name, r->name_len, path);
	if (!err && !r->result)
		err = tg_run_keep(x, g, r->id, path);
	if (err)
		return err;
	return dir ? tg_run_expect(x, rmdir(path), "rmdir", path)
		   : tg_run_expect(x, unlink(path), "unlink", path);
}

static int run_rename(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	char from[TG_PATH], to[TG_PATH];
	int err;

	err = tg_run_child(x, g, r->parent, r->name, r->name_len, from);
	if (!err)
		err =
		    tg_run_child(x, g, r->parent2, r->name2, r->name2_len, to);
	if (!err && r->id2 && !(r->flags & RENAME_EXCHANGE))
		err = tg_run_keep(x, g, r->id2, to); /* it is replaced */
	if (err)
		return err;
	return tg_run_expect(
	    x, renameat2(AT_FDCWD, from, AT_FDCWD, to, (unsigned)r->flags),
	    "renameat2", from);
}

/* ---- attributes ---- */

/* One utimensat time: UTIME_OMIT, UTIME_NOW or ns since the epoch. */
static struct timespec tg_run_time(uint32_t flags, uint32_t set, uint32_t now,
				   int64_t ns)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = UTIME_OMIT};

	if (flags & now)
		ts.tv_nsec = UTIME_NOW;
	else if (flags & set) {
		ts.tv_sec = ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
	}
	return ts;
}

static int run_setattr(struct tg_run *x, struct tg *g,
		       const struct trace_rec *r)
{
	char path[TG_PATH];
	struct timespec ts[2];
	int err = tg_run_path(x, g, r->id, path);

	if (!err && (r->flags & TRACE_SA_MODE))
		err = tg_run_expect(x, chmod(path, (mode_t)(r->mode & 07777)),
				    "chmod", path);
	if (!err && (r->flags & (TRACE_SA_UID | TRACE_SA_GID)))
		err = tg_run_expect(
		    x,
		    chown(path,
			  r->flags & TRACE_SA_UID ? (uid_t)r->uid : (uid_t)-1,
			  r->flags & TRACE_SA_GID ? (gid_t)r->gid : (gid_t)-1),
		    "chown", path);
	if (err || !(r->flags & (TRACE_SA_ATIME | TRACE_SA_MTIME)))
		return err;
	ts[0] = tg_run_time(r->flags, TRACE_SA_ATIME, TRACE_SA_ATIME_NOW,
			    r->atime_ns);
	ts[1] = tg_run_time(r->flags, TRACE_SA_MTIME, TRACE_SA_MTIME_NOW,
			    r->mtime_ns);
	return tg_run_expect(x, utimensat(AT_FDCWD, path, ts, 0), "utimensat",
			     path);
}

static int run_xattr(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	char path[TG_PATH], name[TG_NAME + 1];
	int err = tg_run_path(x, g, r->id, path);

	if (err)
		return err;
	snprintf(name, sizeof(name), "%.*s", (int)r->name_len, r->name);
	if (r->op == TRACE_OP_REMOVEXATTR)
		return tg_run_expect(x, removexattr(path, name), "removexattr",
				     path);
	return tg_run_expect(
	    x, setxattr(path, name, r->data, r->data_len, (int)r->flags),
	    "setxattr", path);
}

/* ---- barriers and marks ---- */

/* FSYNC and FSYNCDIR: through a kept descriptor, or one opened by path. */
static int run_sync(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	bool dir = r->op == TRACE_OP_FSYNCDIR;
	int fd = tg_run_kept(x, r->id), err = 0, res;
	char path[TG_PATH] = "(kept)";

	if (r->result < 0) /* EIO: cannot be made to happen here */
		return 0;
	if (fd < 0) {
		err = tg_run_path(x, g, r->id, path);
		if (err)
			return err;
		fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
		if (fd < 0)
			return tg_run_errno(x, "open", path);
	}
	res = r->flags == 1 ? fdatasync(fd) : fsync(fd);
	err =
	    tg_run_expect(x, res, r->flags == 1 ? "fdatasync" : "fsync", path);
	if (fd != tg_run_kept(x, r->id) && close(fd) < 0 && !err)
		err = tg_run_errno(x, "close", path);
	return err;
}

static int run_mark(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	char path[4096], line[TG_NAME + 2];
	ssize_t n;
	int fd, len;

	if (!x->mnt)
		return 0;
	snprintf(path, sizeof(path), "%s%s", x->mnt, TG_RUN_CTL);
	len = snprintf(line, sizeof(line), "%.*s\n", (int)r->name_len, r->name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return tg_run_errno(x, "open", path);
	n = write(fd, line, (size_t)len);
	if (n != len) {
		n < 0 ? tg_run_errno(x, "write", path)
		      : tg_run_bad(x, -EIO, "%s: short write", path);
		close(fd);
		return -TG_EDIVERGED;
	}
	return close(fd) < 0 ? tg_run_errno(x, "close", path) : 0;
}

/* Records the kernel makes by itself around our calls, or --setup did. */
static int run_skip(struct tg_run *x, struct tg *g, const struct trace_rec *r)
{
	return 0;
}

static tg_run_fn *const tg_run_table[TRACE_OP_COUNT] = {
    [TRACE_OP_BASE] = run_skip,		[TRACE_OP_WRITE] = run_write,
    [TRACE_OP_TRUNCATE] = run_truncate, [TRACE_OP_FALLOCATE] = run_fallocate,
    [TRACE_OP_CREATE] = run_create,	[TRACE_OP_MKDIR] = run_mkdir,
    [TRACE_OP_SYMLINK] = run_symlink,	[TRACE_OP_LINK] = run_link,
    [TRACE_OP_UNLINK] = run_remove,	[TRACE_OP_RMDIR] = run_remove,
    [TRACE_OP_RENAME] = run_rename,	[TRACE_OP_SETATTR] = run_setattr,
    [TRACE_OP_SETXATTR] = run_xattr,	[TRACE_OP_REMOVEXATTR] = run_xattr,
    [TRACE_OP_FSYNC] = run_sync,	[TRACE_OP_FSYNCDIR] = run_sync,
    [TRACE_OP_OPEN] = run_skip,		[TRACE_OP_FLUSH] = run_skip,
    [TRACE_OP_RELEASE] = run_skip,	[TRACE_OP_MARK] = run_mark,
};

/* ---- the sink ---- */

int tg_run_sink(struct tg *g, const struct trace_rec *r, bool soon)
{
	struct tg_run *x = g->sink_arg;
	bool done = false;
	int err;

	x->r = r;
	if (soon) /* the kernel's follow-up of our last call */
		return 0;
	if (x->map && (err = tg_run_unmap(x, r, &done)) != 0)
		return err;
	if (done)
		return 0;
	if (r->op >= TRACE_OP_COUNT || !tg_run_table[r->op])
		return tg_run_bad(x, -ENOSYS, "no syscall performs op %u",
				  r->op);
	return tg_run_table[r->op](x, g, r);
}

int tg_run_begin(uint64_t seed, struct tg_run **out)
{
	struct tg_run *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	if (posix_memalign((void **)&x->buf, TG_PAGE, TG_WBUF)) {
		free(x);
		return -ENOMEM;
	}
	x->seed = seed;
	x->mnt = getenv("FAULTLINE_MNT");
	if (x->mnt && !*x->mnt)
		x->mnt = NULL;
	*out = x;
	return 0;
}

int tg_run_end(struct tg_run *x)
{
	bool done;
	size_t k;
	int err = 0;

	x->r = NULL;
	if (x->map)
		err = tg_run_unmap(x, NULL, &done);
	for (k = 0; k < TG_MAX_INODES; k++)
		if (x->keep[k].id && close(x->keep[k].fd) < 0 && !err)
			err = tg_run_errno(x, "close", "(kept)");
	free(x->buf);
	free(x);
	return err;
}
