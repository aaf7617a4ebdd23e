/*
 * mat.c - builds crash states on disk (see mat.h for the scheme).
 *
 * Model of a tree: INODES (id -> type, permissions, symlink target, and
 * for regular files the image file WORKDIR/img/<id> with its block hashes)
 * and ENTRIES (parent id, name -> child id).  Namespace ops edit entries
 * by name: a persisted unlink removes the name whatever inode it holds in
 * this state; a persisted create/link/rename points the name at the inode
 * the trace recorded.  Data ops edit inodes, so they apply to a file
 * whether or not its name survived; a file no name reaches is simply not
 * in the state.
 *
 * Invariants: the image only ever receives ops in recorded order, and for
 * every inode and every directory entry, the ops in the image are a prefix
 * of that inode's or entry's ops (model.c guarantees that for durable
 * ops), so image + remaining ops in order equals all ops in order.
 *
 * What is not materialized: owners, timestamps and xattrs (crash states
 * are about bytes and names; checkers run as the user who runs faultline).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "fl_error.h"
#include "mat.h"
#include "names.h"

#define MAT_BLOCK (64u * 1024)  /* bytes per content-hash block */
#define MAT_IO (1u << 20)       /* bytes per payload read */

struct mat_inode {
	uint64_t id;       /* key */
	uint32_t mode;     /* type and permissions */
	char *target;      /* symlink target, NUL-terminated; owned */
	bool has_img;      /* regular file with WORKDIR/img/<id> */
	uint64_t size;     /* image file size */
	uint64_t *bh;      /* image block hashes, one per MAT_BLOCK */
	size_t nbh;        /* entries in bh */
	uint8_t *dirty;    /* per block: bh[] is stale */
	bool any_dirty;    /* some dirty[] is set */
};

struct mat_entry {
	uint64_t parent;   /* directory id */
	uint64_t child;    /* inode id */
	char name[256];    /* NUL-terminated */
};

struct mat_ns {
	struct mat_entry *e; /* entries, unordered */
	size_t n, cap;       /* used / allocated */
};

struct mat {
	const struct ops_trace *t; /* the trace (not owned) */
	char *workdir;             /* owned */
	char root[4096];           /* where img/ and states live: workdir or its loop mount */
	bool loop;                 /* root is a loop-mounted XFS we made */
	int imgfd;                 /* WORKDIR/img */
	bool reflink;              /* FICLONE works in root (probed once) */
	void *inodes;              /* tsearch tree of struct mat_inode */
	struct mat_ns ns;          /* image entries */
	char *buf;                 /* MAT_IO bytes of scratch */
};

/* ---- inodes ---- */

static int ino_cmp(const void *a, const void *b)
{
	const struct mat_inode *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static struct mat_inode *ino_find(void *const *tree, uint64_t id)
{
	struct mat_inode k = {.id = id};
	void *p = tfind(&k, tree, ino_cmp);

	return p ? *(struct mat_inode **)p : NULL;
}

static struct mat_inode *ino_get(void **tree, uint64_t id)
{
	struct mat_inode *i = ino_find(tree, id);

	if (i)
		return i;
	i = calloc(1, sizeof(*i));
	if (!i)
		return NULL;
	i->id = id;
	if (!tsearch(i, tree, ino_cmp)) {
		free(i);
		return NULL;
	}
	return i;
}

static void ino_free(void *p)
{
	struct mat_inode *i = p;

	free(i->target);
	free(i->bh);
	free(i->dirty);
	free(i);
}

/* ---- entries ---- */

static struct mat_entry *ns_find(struct mat_ns *ns, uint64_t parent,
				 const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		if (ns->e[i].parent == parent && strlen(ns->e[i].name) == len &&
		    memcmp(ns->e[i].name, name, len) == 0)
			return &ns->e[i];
	return NULL;
}

static void ns_remove(struct mat_ns *ns, uint64_t parent, const char *name,
		      size_t len)
{
	struct mat_entry *e = ns_find(ns, parent, name, len);

	if (e)
		*e = ns->e[--ns->n];
}

/* Points parent/name at child, replacing what it named.  0 or -ENOMEM. */
static int ns_set(struct mat_ns *ns, uint64_t parent, const char *name,
		  size_t len, uint64_t child)
{
	struct mat_entry *e = ns_find(ns, parent, name, len);

	if (!e) {
		if (ns->n == ns->cap) {
			size_t cap = ns->cap ? 2 * ns->cap : 64;
			struct mat_entry *v = realloc(ns->e, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			ns->e = v;
			ns->cap = cap;
		}
		e = &ns->e[ns->n++];
		e->parent = parent;
		if (len > 255)
			len = 255;
		memcpy(e->name, name, len);
		e->name[len] = 0;
	}
	e->child = child;
	return 0;
}

static int ns_copy(struct mat_ns *dst, const struct mat_ns *src)
{
	if (dst->cap < src->n) {
		struct mat_entry *v = realloc(dst->e, src->n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		dst->e = v;
		dst->cap = src->n;
	}
	if (src->n) /* an empty image has no entry array at all */
		memcpy(dst->e, src->e, src->n * sizeof(*src->e));
	dst->n = src->n;
	return 0;
}

/* Sets an inode's type/mode/target as a create-type op says. */
static int ino_define(void **tree, const struct ops_trace *t, const struct ops_op *op)
{
	struct mat_inode *i = ino_get(tree, op->id);

	if (!i)
		return -ENOMEM;
	i->mode = op->op == TRACE_OP_SYMLINK ? S_IFLNK | 0777
		  : op->op == TRACE_OP_MKDIR ? S_IFDIR | (op->mode & 07777)
		  : op->mode;
	if (op->op == TRACE_OP_MKDIR && !(op->mode & S_IFMT))
		i->mode = S_IFDIR | (op->mode & 07777);
	if (op->op == TRACE_OP_SYMLINK) {
		free(i->target);
		i->target = strndup(ops_name2(t, op), op->name2_len);
		if (!i->target)
			return -ENOMEM;
	}
	return 0;
}

/* Applies a namespace op to entries (and defines new inodes in tree). */
static int ns_apply(struct mat_ns *ns, void **tree, const struct ops_trace *t,
		    const struct ops_op *op)
{
	const char *n1 = ops_name(t, op), *n2 = ops_name2(t, op);
	struct mat_entry *a, *b;
	int err;

	switch (op->op) {
	case TRACE_OP_CREATE: case TRACE_OP_MKNOD:
	case TRACE_OP_MKDIR: case TRACE_OP_SYMLINK:
		if ((err = ino_define(tree, t, op)) < 0)
			return err;
		/* fall through */
	case TRACE_OP_LINK:
		return ns_set(ns, op->parent, n1, op->name_len, op->id);
	case TRACE_OP_UNLINK: case TRACE_OP_RMDIR:
		ns_remove(ns, op->parent, n1, op->name_len);
		return 0;
	case TRACE_OP_RENAME:
		if (op->flags & 2 /* RENAME_EXCHANGE */) {
			a = ns_find(ns, op->parent, n1, op->name_len);
			b = ns_find(ns, op->parent2, n2, op->name2_len);
			if (a && b) {
				uint64_t c = a->child;

				a->child = b->child;
				b->child = c;
				return 0;
			}
			if ((err = ns_set(ns, op->parent, n1, op->name_len, op->id2)) < 0)
				return err;
		} else {
			ns_remove(ns, op->parent, n1, op->name_len);
		}
		return ns_set(ns, op->parent2, n2, op->name2_len, op->id);
	default:
		return 0;
	}
}

/* ---- file data ---- */

/* Marks [start, end) of inode i stale in the block hash array (grows it). */
static int blocks_dirty(struct mat_inode *i, uint64_t start, uint64_t end,
			uint64_t size)
{
	size_t need = (size_t)((size + MAT_BLOCK - 1) / MAT_BLOCK), b;

	if (need > i->nbh) {
		uint64_t *bh = realloc(i->bh, need * sizeof(*bh));
		uint8_t *d = realloc(i->dirty, need);

		if (bh)
			i->bh = bh;
		if (d)
			i->dirty = d;
		if (!bh || !d)
			return -ENOMEM;
		memset(i->dirty + i->nbh, 1, need - i->nbh);
	}
	i->nbh = need;
	i->size = size;
	for (b = (size_t)(start / MAT_BLOCK); b < need && (uint64_t)b * MAT_BLOCK < end; b++)
		i->dirty[b] = 1;
	if (need)
		i->dirty[need - 1] = 1; /* the last block's length may have changed */
	i->any_dirty = true;
	return 0;
}

/* Recomputes the stale block hashes of i from fd. */
static int blocks_rehash(struct mat *m, struct mat_inode *i, int fd)
{
	size_t b;

	for (b = 0; i->any_dirty && b < i->nbh; b++) {
		uint64_t off = (uint64_t)b * MAT_BLOCK;
		size_t len = i->size - off < MAT_BLOCK ? (size_t)(i->size - off) : MAT_BLOCK;
		ssize_t got;

		if (!i->dirty[b])
			continue;
		got = pread(fd, m->buf, len, (off_t)off);
		if (got != (ssize_t)len)
			return got < 0 ? -errno : -EIO;
		i->bh[b] = XXH3_64bits(m->buf, len);
		i->dirty[b] = 0;
	}
	i->any_dirty = false;
	return 0;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Writes bytes [from, to) of op's payload (file offsets) into fd. */
static int copy_payload(struct mat *m, int fd, const struct ops_op *op,
			uint64_t from, uint64_t to)
{
	while (from < to) {
		size_t len = to - from < MAT_IO ? (size_t)(to - from) : MAT_IO;
		int err = ops_read_data(m->t, op, from - op->off, m->buf, len);

		if (!err)
			err = write_full(fd, m->buf, len, from);
		if (err)
			return err;
		from += len;
	}
	return 0;
}

static int fill(struct mat *m, int fd, uint64_t from, uint64_t to, char kind,
		uint64_t key, uint64_t seq, uint64_t sector_no)
{
	size_t len = (size_t)(to - from);

	if (kind == 'z')
		memset(m->buf, 0, len);
	else
		state_garbage(key, seq, sector_no, m->buf, len);
	return write_full(fd, m->buf, len, from);
}

/*
 * Applies a torn write sector by sector (kinds per state.h).  A damaged
 * sector the write touches gets zeros or garbage where the write's bytes
 * go; its other bytes keep what they held (they were not being written).
 * A clean sector of the block range (--block) is damaged whole.
 */
static int write_torn(struct mat *m, int fd, const struct ops_op *op,
		      const struct state *s, const char *rle, uint64_t key,
		      uint64_t cur, uint64_t *lo, uint64_t *hi)
{
	uint64_t unit = s->block ? s->block : s->sector, end = op->off + op->data_len;
	uint64_t start = op->off / unit * unit, stop = (end + unit - 1) / unit * unit;
	uint64_t limit = cur > end ? cur : end, k, nsect = (stop - start) / s->sector;
	char *kinds = malloc(nsect ? nsect : 1);
	int err = kinds ? state_rle_expand(rle, kinds, nsect) : -ENOMEM;

	for (k = 0; !err && k < nsect; k++) {
		uint64_t s0 = start + k * s->sector, s1 = s0 + s->sector;

		bool touched = s1 > op->off && s0 < end;
		uint64_t a = touched && s0 < op->off ? op->off : s0;
		uint64_t z = touched ? (s1 < end ? s1 : end) : (s1 < limit ? s1 : limit);

		if (kinds[k] == 'n' && touched)
			err = copy_payload(m, fd, op, a, z);
		else if ((kinds[k] == 'z' || kinds[k] == 'g') && a < z)
			err = fill(m, fd, a, z, kinds[k], key, op->seq, s0 / s->sector);
	}
	free(kinds);
	*lo = start;
	*hi = stop > end ? stop : end;
	return err;
}

/*
 * Applies a write, whole or as choice c says.  [*lo, *hi) gets the bytes
 * it may have changed.
 */
static int apply_write(struct mat *m, int fd, const struct ops_op *op,
		       const struct state *s, const struct state_choice *c,
		       uint64_t key, uint64_t *lo, uint64_t *hi)
{
	uint64_t end = op->off + op->data_len, cur;
	struct stat st;
	int err;

	*lo = op->off;
	*hi = end;
	if (!c || (!c->rle && !c->size_lost))
		return copy_payload(m, fd, op, op->off, end);
	if (fstat(fd, &st) < 0)
		return -errno;
	cur = (uint64_t)st.st_size;
	err = c->rle ? write_torn(m, fd, op, s, c->rle, key, cur, lo, hi)
		     : copy_payload(m, fd, op, op->off, end);
	if (!err && !c->size_lost && end > cur && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_size < end && ftruncate(fd, (off_t)end) < 0)
		err = -errno;
	if (!err && c->size_lost && ftruncate(fd, (off_t)cur) < 0)
		err = -errno;
	return err;
}

/* fallocate, or what it means for the bytes where the file system lacks it. */
static int apply_fallocate(struct mat *m, int fd, const struct ops_op *op)
{
	uint64_t end = op->off + op->len;
	struct stat st;

	if (fallocate(fd, (int)op->mode, (off_t)op->off, (off_t)op->len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (op->mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		uint64_t lim = op->mode & FALLOC_FL_KEEP_SIZE && (uint64_t)st.st_size < end
				       ? (uint64_t)st.st_size : end;
		uint64_t p;
		int err = 0;

		memset(m->buf, 0, MAT_IO);
		for (p = op->off; !err && p < lim; p += MAT_IO)
			err = write_full(fd, m->buf, lim - p < MAT_IO ? lim - p : MAT_IO, p);
		if (err || lim == end)
			return err;
	}
	if (!(op->mode & FALLOC_FL_KEEP_SIZE) && (uint64_t)st.st_size < end &&
	    ftruncate(fd, (off_t)end) < 0)
		return -errno;
	return 0;
}

/* Applies data op (choice c, possibly NULL) to fd of inode i. */
static int apply_data(struct mat *m, int fd, struct mat_inode *i,
		      const struct ops_op *op, const struct state *s,
		      const struct state_choice *c, uint64_t key)
{
	uint64_t lo = 0, hi = 0;
	struct stat st;
	int err = 0;

	switch (op->op) {
	case TRACE_OP_WRITE:
		err = apply_write(m, fd, op, s, c, key, &lo, &hi);
		break;
	case TRACE_OP_TRUNCATE:
		err = ftruncate(fd, (off_t)op->off) < 0 ? -errno : 0;
		lo = hi = op->off;
		break;
	case TRACE_OP_FALLOCATE:
		err = apply_fallocate(m, fd, op);
		lo = op->off;
		hi = op->off + op->len;
		break;
	default:
		return 0;
	}
	if (err)
		return err;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (lo > (uint64_t)st.st_size)
		lo = (uint64_t)st.st_size;
	return blocks_dirty(i, lo, hi > lo ? hi : lo + 1, (uint64_t)st.st_size);
}

/* ---- the image ---- */

static int img_open(struct mat *m, uint64_t id, int flags)
{
	char name[32];

	snprintf(name, sizeof(name), "%" PRIu64, id);
	return openat(m->imgfd, name, flags | O_CLOEXEC, 0600);
}

/* read/write copy of [from, size), where the kernel cannot copy across file systems. */
static int copy_plain(struct mat *m, int src, int dst, uint64_t from, uint64_t size)
{
	while (from < size) {
		ssize_t n = pread(src, m->buf, size - from < MAT_IO ? size - from : MAT_IO,
				  (off_t)from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		if (write_full(dst, m->buf, (size_t)n, from) < 0)
			return -EIO;
		from += (uint64_t)n;
	}
	return 0;
}

/* Copies src into the new file dst (clone if possible).  0 or -errno. */
static int clone_or_copy(struct mat *m, int src, int dst, uint64_t size)
{
	off_t in = 0, out = 0;

	if (m->reflink && ioctl(dst, FICLONE, src) == 0)
		return 0;
	while ((uint64_t)in < size) {
		ssize_t n = copy_file_range(src, &in, dst, &out, (size_t)(size - (uint64_t)in), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			      errno == EOPNOTSUPP))
			return copy_plain(m, src, dst, (uint64_t)in, size);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
	}
	return 0;
}

int mat_image_apply(struct mat *m, size_t idx)
{
	const struct ops_op *op = &m->t->v[idx];
	struct mat_inode *i;
	int fd, err;

	if (op->kind == OPS_NS)
		return ns_apply(&m->ns, &m->inodes, m->t, op);
	if (op->kind != OPS_DATA)
		return 0;
	if (!(i = ino_get(&m->inodes, op->id)))
		return -ENOMEM;
	if (op->op == TRACE_OP_SETATTR) {
		if (op->flags & TRACE_SA_MODE)
			i->mode = (i->mode & S_IFMT) | (op->mode & 07777);
		return 0;
	}
	if (op->op != TRACE_OP_WRITE && op->op != TRACE_OP_TRUNCATE &&
	    op->op != TRACE_OP_FALLOCATE)
		return 0;
	fd = img_open(m, op->id, O_RDWR | O_CREAT);
	if (fd < 0)
		return -errno;
	i->has_img = true;
	if (!(i->mode & S_IFMT)) /* data before its create persisted: a regular file */
		i->mode = S_IFREG | 0644;
	err = apply_data(m, fd, i, op, NULL, NULL, 0);
	close(fd);
	return err;
}

/* Loads one BASE entry: its inode, its name, and a regular file's bytes. */
/*
 * Opens rel (a path from BASE records, "/a/b") beneath the base snapshot
 * without following any symlink on the way or at the end: a trace is
 * untrusted, and its base may hold links that point out of it.
 */
static int base_open(int basefd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, basefd, rel + (*rel == '/'), &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

/* A BASE symlink's target (fd: O_PATH of the link itself). */
static int base_target(struct mat_inode *i, int fd)
{
	char target[4096];
	ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);

	if (n < 0)
		return -errno;
	i->target = strndup(target, (size_t)n);
	return i->target ? 0 : -ENOMEM;
}

/* Loads one BASE entry: its inode, its name, and a regular file's bytes. */
static int image_base(struct mat *m, const struct ops_op *op, int basefd,
		      const char *rel)
{
	struct mat_inode *i;
	struct stat st;
	int src, dst = -1, err;

	src = base_open(basefd, rel, O_PATH);
	if (src < 0)
		return src;
	err = fstatat(src, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (!err)
		err = ns_set(&m->ns, op->parent, ops_name(m->t, op), op->name_len, op->id);
	if (err || ((i = ino_find(&m->inodes, op->id)) && i->mode))
		goto out; /* a second name of a hard-linked file */
	err = -ENOMEM;
	if (!(i = ino_get(&m->inodes, op->id)))
		goto out;
	i->mode = st.st_mode & (S_IFMT | 07777);
	err = S_ISLNK(st.st_mode) ? base_target(i, src) : 0;
	if (err || !S_ISREG(st.st_mode))
		goto out;
	close(src);
	src = base_open(basefd, rel, O_RDONLY);
	dst = img_open(m, op->id, O_RDWR | O_CREAT | O_EXCL);
	err = src < 0 ? src : dst < 0 ? -errno : clone_or_copy(m, src, dst, (uint64_t)st.st_size);
	i->has_img = true;
	if (!err)
		err = blocks_dirty(i, 0, (uint64_t)st.st_size, (uint64_t)st.st_size);
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	return err;
}

/* Loads the base snapshot: BASE records name the entries, TRACE/base holds them. */
static int image_load_base(struct mat *m, char *err, size_t errlen)
{
	struct names *nm = names_new();
	char rel[4096], path[4200];
	int basefd;
	size_t k;
	int rc = nm ? 0 : -ENOMEM;
	struct mat_inode *root = ino_get(&m->inodes, TRACE_ROOT_ID);

	snprintf(path, sizeof(path), "%s/%s", m->t->dir, TRACE_BASE_DIR);
	basefd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (basefd < 0 && !rc) {
		snprintf(err, errlen, "base snapshot %s: %s", path, strerror(errno));
		rc = -errno;
	}
	if (!root)
		rc = -ENOMEM;
	else
		root->mode = S_IFDIR | 0755;
	for (k = 0; !rc && k < m->t->nbase; k++) {
		const struct ops_op *op = &m->t->base[k];
		struct trace_rec r = {.op = TRACE_OP_BASE, .id = op->id,
				      .parent = op->parent, .name = ops_name(m->t, op),
				      .name_len = op->name_len};

		rc = names_apply(nm, &r);
		if (!rc && names_path(nm, op->id, rel, sizeof(rel)) < 0)
			rc = -ENAMETOOLONG;
		if (!rc && (rc = image_base(m, op, basefd, rel)) < 0) {
			bool hostile = rc == -ELOOP || rc == -EXDEV;

			snprintf(err, errlen, "base snapshot %s: %s", rel, hostile
				 ? "reached through a symlink or outside the snapshot; refused"
				 : strerror(-rc));
			if (hostile)
				rc = -FL_EBADTRACE;
		}
	}
	names_free(nm);
	if (basefd >= 0)
		close(basefd);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	if (flag == FTW_DP || flag == FTW_D)
		chmod(path, 0700); /* a checker may have made it unwritable */
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int mat_remove(const char *dir)
{
	if (nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* ---- the scratch file system ---- */

/* Can files in dir share blocks (FICLONE)? */
static bool dir_can_clone(const char *dir)
{
	char a[4200], b[4200];
	int fa, fb;
	bool ok = false;

	snprintf(a, sizeof(a), "%s/.clone-probe-a", dir);
	snprintf(b, sizeof(b), "%s/.clone-probe-b", dir);
	fa = open(a, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fb = open(b, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fa >= 0 && fb >= 0 && write(fa, "probe", 5) == 5)
		ok = ioctl(fb, FICLONE, fa) == 0;
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	unlink(a);
	unlink(b);
	return ok;
}

static int run_quiet(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/*
 * Makes WORKDIR/scratch.xfs (sparse, room for bytes several times over),
 * formats it with reflink on, and loop-mounts it on WORKDIR/x.
 */
static int scratch_xfs(struct mat *m, uint64_t bytes)
{
	char img[4200];
	uint64_t size = 4 * bytes + (UINT64_C(2) << 30);
	char *mkfs[] = {"mkfs.xfs", "-q", "-f", "-m", "reflink=1", img, NULL};
	char *mnt[] = {"mount", "-o", "loop", img, m->root, NULL};
	int fd;

	snprintf(img, sizeof(img), "%s/scratch.xfs", m->workdir);
	snprintf(m->root, sizeof(m->root), "%s/x", m->workdir);
	fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	if (run_quiet(mkfs) < 0 || mkdir(m->root, 0700) < 0 || run_quiet(mnt) < 0) {
		unlink(img);
		return -EIO;
	}
	m->loop = true;
	return 0;
}

/* Bytes the image may come to hold: the base plus every byte written. */
static uint64_t trace_bytes(const struct ops_trace *t)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < t->nbase; i++)
		n += t->base[i].len;
	for (i = 0; i < t->n; i++)
		n += t->v[i].data_len;
	return n;
}

/* Picks where the image and states live (see enum mat_scratch). */
static int mat_scratch(struct mat *m, enum mat_scratch how, char *err, size_t errlen)
{
	bool want = how == MAT_SCRATCH_XFS ||
		    (how == MAT_SCRATCH_AUTO && geteuid() == 0 &&
		     trace_bytes(m->t) >= (UINT64_C(64) << 20) && !dir_can_clone(m->workdir));
	int rc;

	snprintf(m->root, sizeof(m->root), "%s", m->workdir);
	if (!want)
		return 0;
	rc = scratch_xfs(m, trace_bytes(m->t));
	if (rc < 0 && how == MAT_SCRATCH_XFS) {
		snprintf(err, errlen, "cannot make a loop-mounted XFS scratch file system "
			 "(needs root, loop devices and mkfs.xfs)");
		return rc;
	}
	if (rc < 0) /* fall back to copies, and say so through mat_mechanism() */
		snprintf(m->root, sizeof(m->root), "%s", m->workdir);
	return 0;
}

int mat_new(const struct ops_trace *t, const char *workdir, enum mat_scratch how,
	    struct mat **out, char *err, size_t errlen)
{
	char img[4200];
	struct mat *m;
	int rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->t = t;
	m->imgfd = -1;
	m->workdir = strdup(workdir);
	m->buf = malloc(MAT_IO);
	if (!m->workdir || !m->buf) {
		rc = -ENOMEM;
		goto fail;
	}
	if (mkdir(workdir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot make work directory %s: %s", workdir, strerror(errno));
		goto fail;
	}
	if ((rc = mat_scratch(m, how, err, errlen)) < 0)
		goto fail;
	m->reflink = dir_can_clone(m->root);
	snprintf(img, sizeof(img), "%s/img", m->root);
	if (mkdir(img, 0700) < 0 ||
	    (m->imgfd = open(img, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot make work directory %s: %s", img, strerror(errno));
		goto fail;
	}
	if ((rc = image_load_base(m, err, errlen)) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	mat_free(m);
	return rc;
}

const char *mat_root(const struct mat *m)
{
	return m->root;
}

const char *mat_mechanism(const struct mat *m)
{
	if (!m->reflink)
		return "copy";
	return m->loop ? "reflink (loop xfs)" : "reflink";
}

void mat_free(struct mat *m)
{
	char img[4300];

	if (!m)
		return;
	if (m->imgfd >= 0)
		close(m->imgfd);
	if (m->root[0]) {
		snprintf(img, sizeof(img), "%s/img", m->root);
		mat_remove(img);
	}
	if (m->loop) {
		/* Lazily if a checker's leftover still holds it: never leave it mounted. */
		if (umount2(m->root, 0) < 0)
			umount2(m->root, MNT_DETACH);
		rmdir(m->root);
		snprintf(img, sizeof(img), "%s/scratch.xfs", m->workdir);
		unlink(img);
	}
	tdestroy(m->inodes, ino_free);
	free(m->ns.e);
	free(m->workdir);
	free(m->buf);
	free(m);
}

/* ---- building one state ---- */

struct bfile {
	uint64_t id;           /* inode */
	char *rel;             /* path below the state directory; owned */
	int fd;                /* open for writing, -1 for dirs and symlinks */
	uint32_t mode;         /* type and permissions */
	struct mat_inode *own; /* this state's copy of the inode's hashes, or NULL */
};

struct build {
	struct mat *m;
	const struct state *s;
	uint64_t key;          /* garbage seed: hash of the state id */
	int dirfd;             /* the state directory */
	struct mat_ns ns;      /* this state's entries */
	void *over;            /* inodes this state defines or changes */
	struct bfile *f;       /* every file, dir and symlink placed */
	size_t nf, fcap;
	size_t *data;          /* data ops to apply, indices */
	size_t ndata, dcap;
};

static struct mat_inode *b_inode(struct build *b, uint64_t id)
{
	struct mat_inode *i = ino_find(&b->over, id);

	return i ? i : ino_find(&b->m->inodes, id);
}

/* This state's own copy of inode id, made from the image's on first use. */
static struct mat_inode *b_own(struct build *b, uint64_t id)
{
	struct mat_inode *i = ino_find(&b->over, id), *img;

	if (i)
		return i;
	img = ino_find(&b->m->inodes, id);
	if (img && img->has_img && img->any_dirty) {
		/* Bring the image's hashes up to date once, not in every state. */
		int fd = img_open(b->m, id, O_RDONLY), err;

		err = fd < 0 ? -errno : blocks_rehash(b->m, img, fd);
		if (fd >= 0)
			close(fd);
		if (err)
			return NULL;
	}
	if (!(i = ino_get(&b->over, id)))
		return NULL;
	if (!img)
		return i;
	i->mode = img->mode;
	i->has_img = img->has_img;
	i->size = img->size;
	i->nbh = img->nbh;
	i->bh = malloc((img->nbh + 1) * sizeof(*i->bh));
	i->dirty = malloc(img->nbh + 1);
	if (!i->bh || !i->dirty)
		return NULL;
	if (img->nbh) { /* an empty file has no hashes */
		memcpy(i->bh, img->bh, img->nbh * sizeof(*i->bh));
		memcpy(i->dirty, img->dirty, img->nbh);
	}
	i->any_dirty = img->any_dirty;
	return i;
}

static int push_idx(size_t **v, size_t *n, size_t *cap, size_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 32;
		size_t *nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

/* Step 1: the state's names and which data ops it applies. */
static int b_sort_ops(struct build *b, const size_t *extra, size_t n)
{
	size_t k;
	int err = ns_copy(&b->ns, &b->m->ns);

	for (k = 0; !err && k < n; k++) {
		const struct ops_op *op = &b->m->t->v[extra[k]];
		const struct state_choice *c = state_find(b->s, op->seq);
		struct mat_inode *i;

		if (c && c->how == STATE_DROP)
			continue;
		if (op->kind == OPS_NS) {
			/*
			 * A create starts from this state's copy of the image's
			 * inode: its data may be durable while its name is not.
			 */
			bool create = op->op == TRACE_OP_CREATE || op->op == TRACE_OP_MKNOD ||
				      op->op == TRACE_OP_MKDIR || op->op == TRACE_OP_SYMLINK;

			err = create && !b_own(b, op->id) ? -ENOMEM
			      : ns_apply(&b->ns, &b->over, b->m->t, op);
		} else if (op->op == TRACE_OP_SETATTR && (op->flags & TRACE_SA_MODE))
			err = (i = b_own(b, op->id)) ? (i->mode = (i->mode & S_IFMT) |
							       (op->mode & 07777), 0) : -ENOMEM;
		else if (op->kind == OPS_DATA) {
			/* Bytes reached an inode whose create this state lacks: it is
			 * still a regular file (a persisted rename may name it). */
			if (!(i = b_own(b, op->id)))
				return -ENOMEM;
			if (!(i->mode & S_IFMT))
				i->mode = S_IFREG | 0644;
			err = push_idx(&b->data, &b->ndata, &b->dcap, extra[k]);
		}
	}
	return err;
}

static struct bfile *b_placed(struct build *b, uint64_t id)
{
	size_t k;

	for (k = 0; k < b->nf; k++)
		if (b->f[k].id == id)
			return &b->f[k];
	return NULL;
}

static int b_add(struct build *b, uint64_t id, const char *rel, int fd, uint32_t mode)
{
	struct bfile *f;

	if (b->nf == b->fcap) {
		size_t c = b->fcap ? 2 * b->fcap : 32;
		struct bfile *v = realloc(b->f, c * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->f = v;
		b->fcap = c;
	}
	f = &b->f[b->nf];
	*f = (struct bfile){.id = id, .rel = strdup(rel), .fd = fd, .mode = mode};
	if (!f->rel)
		return -ENOMEM;
	b->nf++;
	return 0;
}

/* Creates a regular file at rel with the image's bytes for inode i. */
static int b_place_file(struct build *b, const struct mat_inode *i, const char *rel)
{
	int fd = openat(b->dirfd, rel, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int src, err = 0;

	if (fd < 0)
		return -errno;
	if (i->has_img) {
		src = img_open(b->m, i->id, O_RDONLY);
		err = src < 0 ? -errno : clone_or_copy(b->m, src, fd, i->size);
		if (src >= 0)
			close(src);
	}
	if (!err)
		err = b_add(b, i->id, rel, fd, i->mode);
	if (err)
		close(fd);
	return err;
}

/* Places entry e (child of the directory at dirrel). */
static int b_place(struct build *b, const struct mat_entry *e, const char *dirrel)
{
	const struct mat_inode *i = b_inode(b, e->child);
	struct bfile *prev;
	char rel[8192];

	if (!i)
		return 0; /* an inode the trace never defined: nothing to place */
	if (snprintf(rel, sizeof(rel), "%s%s%s", dirrel, *dirrel ? "/" : "", e->name) >=
	    (int)sizeof(rel))
		return -ENAMETOOLONG;
	if (S_ISDIR(i->mode)) {
		if (b_placed(b, i->id))
			return 0; /* a directory reached twice: keep the first */
		if (mkdirat(b->dirfd, rel, 0700) < 0)
			return -errno;
		return b_add(b, i->id, rel, -1, i->mode);
	}
	if (S_ISLNK(i->mode)) {
		if (symlinkat(i->target ? i->target : "", b->dirfd, rel) < 0)
			return -errno;
		return b_add(b, i->id, rel, -1, i->mode);
	}
	if (S_ISREG(i->mode) && (prev = b_placed(b, i->id))) {
		if (linkat(b->dirfd, prev->rel, b->dirfd, rel, 0) < 0)
			return -errno;
		return b_add(b, i->id, rel, -1, i->mode); /* hashed as a link */
	}
	if (S_ISREG(i->mode))
		return b_place_file(b, i, rel);
	if (mknodat(b->dirfd, rel, i->mode & (S_IFMT | 0777), 0) < 0 &&
	    mknodat(b->dirfd, rel, S_IFREG | 0600, 0) < 0)
		return -errno;
	return b_add(b, i->id, rel, -1, i->mode);
}

static int entry_cmp(const void *a, const void *c)
{
	const struct mat_entry *x = a, *y = c;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Step 2: the tree, breadth first from the root (dirs are b->f entries). */
static int b_tree(struct build *b)
{
	size_t next = 0, k;
	int err = b_add(b, TRACE_ROOT_ID, "", -1, b_inode(b, TRACE_ROOT_ID)->mode);

	if (b->ns.n)
		qsort(b->ns.e, b->ns.n, sizeof(*b->ns.e), entry_cmp);
	for (; !err && next < b->nf; next++) {
		uint64_t dir = b->f[next].id;
		char dirrel[8192];

		if (!S_ISDIR(b->f[next].mode))
			continue;
		snprintf(dirrel, sizeof(dirrel), "%s", b->f[next].rel);
		for (k = 0; !err && k < b->ns.n; k++)
			if (b->ns.e[k].parent == dir)
				err = b_place(b, &b->ns.e[k], dirrel);
	}
	return err;
}

/* Step 3: the state's own data ops on the files it has. */
static int b_data(struct build *b)
{
	size_t k;
	int err = 0;

	for (k = 0; !err && k < b->ndata; k++) {
		const struct ops_op *op = &b->m->t->v[b->data[k]];
		struct bfile *f = b_placed(b, op->id);
		struct mat_inode *i;

		if (!f || f->fd < 0)
			continue; /* no name reaches this inode in this state */
		if (!(i = b_own(b, op->id)))
			return -ENOMEM;
		err = apply_data(b->m, f->fd, i, op, b->s, state_find(b->s, op->seq), b->key);
	}
	return err;
}

/* Hash of a regular file's bytes: its size and block hashes. */
static int b_file_hash(struct build *b, struct bfile *f, XXH3_state_t *h)
{
	struct mat_inode *i = ino_find(&b->over, f->id);
	int err = 0, fd = f->fd;

	if (!i) { /* unchanged in this state: the image's hashes */
		i = ino_find(&b->m->inodes, f->id);
		if (!i || !i->has_img)
			return 0;
		if (i->any_dirty) {
			fd = img_open(b->m, f->id, O_RDONLY);
			err = fd < 0 ? -errno : blocks_rehash(b->m, i, fd);
			if (fd >= 0)
				close(fd);
		}
	} else {
		err = blocks_rehash(b->m, i, fd);
	}
	XXH3_64bits_update(h, &i->size, sizeof(i->size));
	if (i->nbh)
		XXH3_64bits_update(h, i->bh, i->nbh * sizeof(*i->bh));
	return err;
}

/* Step 4: permissions (deepest first) and the content key. */
static int b_finish(struct build *b, uint64_t *key)
{
	XXH3_state_t *h = XXH3_createState();
	size_t k;
	int err = h ? 0 : -ENOMEM;

	if (h)
		XXH3_64bits_reset(h);
	for (k = 0; !err && k < b->nf; k++) {
		struct bfile *f = &b->f[k];
		const struct mat_inode *i = b_inode(b, f->id);

		XXH3_64bits_update(h, f->rel, strlen(f->rel) + 1);
		XXH3_64bits_update(h, &f->mode, sizeof(f->mode));
		if (S_ISLNK(f->mode) && i && i->target)
			XXH3_64bits_update(h, i->target, strlen(i->target) + 1);
		else if (S_ISREG(f->mode) && f->fd >= 0)
			err = b_file_hash(b, f, h);
		else if (S_ISREG(f->mode)) /* another name of a file placed before */
			XXH3_64bits_update(h, b_placed(b, f->id)->rel,
					   strlen(b_placed(b, f->id)->rel) + 1);
	}
	for (k = b->nf; !err && k-- > 0;) {
		struct bfile *f = &b->f[k];

		if (f->fd >= 0 && fchmod(f->fd, f->mode & 07777) < 0)
			err = -errno;
		else if (S_ISDIR(f->mode) && *f->rel &&
			 fchmodat(b->dirfd, f->rel, f->mode & 07777, 0) < 0)
			err = -errno;
	}
	if (!err && fchmod(b->dirfd, 0755) < 0)
		err = -errno;
	if (!err)
		*key = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	return err;
}

static void b_free(struct build *b)
{
	size_t k;

	for (k = 0; k < b->nf; k++) {
		if (b->f[k].fd >= 0)
			close(b->f[k].fd);
		free(b->f[k].rel);
	}
	free(b->f);
	free(b->data);
	free(b->ns.e);
	tdestroy(b->over, ino_free);
	if (b->dirfd >= 0)
		close(b->dirfd);
}

int mat_build(struct mat *m, const struct state *s, const size_t *extra,
	      size_t n, const char *dir, uint64_t *key, char *err, size_t errlen)
{
	struct build b = {.m = m, .s = s, .dirfd = -1};
	char id[STATE_ID_MAX];
	int rc, len = state_id(s, id, sizeof(id));

	b.key = XXH3_64bits(id, len > 0 ? (size_t)len : 0);
	if (mkdir(dir, 0700) < 0 ||
	    (b.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot make state directory %s: %s", dir, strerror(errno));
		b_free(&b);
		return rc;
	}
	rc = b_sort_ops(&b, extra, n);
	if (!rc)
		rc = b_tree(&b);
	if (!rc)
		rc = b_data(&b);
	if (!rc)
		rc = b_finish(&b, key);
	if (rc)
		snprintf(err, errlen, "building state %s: %s", id, strerror(-rc));
	b_free(&b);
	return rc;
}
