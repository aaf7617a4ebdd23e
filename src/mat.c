/*
 * mat.c - the materializer's image (see mat.h for the scheme).
 *
 * Model of a tree: INODES (id -> type, permissions, owner, mtime, xattrs,
 * symlink target, and for regular files the image file WORKDIR/img/<id>
 * with its block hashes) and ENTRIES (parent id, name -> child id).
 * Namespace ops edit entries by name: a persisted unlink removes the name
 * whatever inode it holds in this state; a persisted create/link/rename
 * points the name at the inode the trace recorded.  Data ops edit inodes,
 * so they apply to a file whether or not its name survived; a file no
 * name reaches is simply not in the state.  An inode created during the
 * recording exists from the start with the attributes its create gives
 * (type and mode, owner, the create's time as mtime, a symlink's target):
 * whether the create persists decides only whether its name does.
 *
 * Invariant: the ops in the image, applied in the order they came, and
 * then any state's own ops in recorded order, give the same tree as every
 * op of the state in recorded order.  The explorer keeps it by feeding
 * the image only ops whose earlier conflicting ops (same inode's bytes,
 * same inode's attributes, same directory entry) are all in the image
 * already (explore.c).
 *
 * Attributes: mode, owner, mtime and xattrs are given to every state's
 * files (atime is not: reading a file changes it).  Owners need root, and
 * some xattr namespaces need the scratch file system's support; what
 * could not be given is said by mat_mechanism().  The content key always
 * covers what the model says, whatever the disk accepted.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_error.h"
#include "mat_i.h"
#include "names.h"

/* ---- inodes ---- */

static int ino_cmp(const void *a, const void *b)
{
	const struct mat_inode *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

struct mat_inode *mat_ino_find(void *const *tree, uint64_t id)
{
	struct mat_inode k = {.id = id};
	void *p = tfind(&k, tree, ino_cmp);

	return p ? *(struct mat_inode **)p : NULL;
}

struct mat_inode *mat_ino_get(void **tree, uint64_t id)
{
	struct mat_inode *i = mat_ino_find(tree, id);

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

void mat_ino_free(void *p)
{
	struct mat_inode *i = p;

	free(i->target);
	fskey_free_xattrs(i->xa, i->nxa);
	free(i->bh);
	free(i->dirty);
	mat_mem_free(i->img_mem);
	free(i);
}

static void *dup_mem(const void *p, size_t len)
{
	void *q = malloc(len ? len : 1);

	if (q && len)
		memcpy(q, p, len);
	return q;
}

int mat_ino_copy(struct mat_inode *dst, const struct mat_inode *src)
{
	size_t k;

	dst->mode = src->mode;
	dst->uid = src->uid;
	dst->gid = src->gid;
	dst->mtime_ns = src->mtime_ns;
	dst->rdev = src->rdev;
	dst->has_img = src->has_img;
	dst->shared = src->shared;
	dst->size = src->size;
	dst->nbh = src->nbh;
	dst->any_dirty = src->any_dirty;
	dst->target = src->target ? strdup(src->target) : NULL;
	dst->bh = dup_mem(src->bh, src->nbh * sizeof(*src->bh));
	dst->dirty = dup_mem(src->dirty, src->nbh);
	dst->xa = calloc(src->nxa + 1, sizeof(*dst->xa));
	if (!dst->bh || !dst->dirty || !dst->xa || (src->target && !dst->target))
		return -ENOMEM;
	for (k = 0; k < src->nxa; k++, dst->nxa++) {
		dst->xa[k].name = strdup(src->xa[k].name);
		dst->xa[k].value = dup_mem(src->xa[k].value, src->xa[k].len);
		dst->xa[k].len = src->xa[k].len;
		if (!dst->xa[k].name || !dst->xa[k].value)
			return -ENOMEM;
	}
	return 0;
}

/* ---- entries ---- */

static struct mat_entry *ns_find(struct mat_ns *ns, uint64_t parent,
				 const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		if (ns->e[i].parent == parent && ns->e[i].len == len &&
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
		e->len = (uint16_t)len;
	}
	e->child = child;
	return 0;
}

int mat_ns_copy(struct mat_ns *dst, const struct mat_ns *src)
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

int mat_ns_apply(struct mat_ns *ns, const struct ops_trace *t, const struct ops_op *op)
{
	const char *n1 = ops_name(t, op), *n2 = ops_name2(t, op);
	struct mat_entry *a, *b;
	int err;

	switch (op->op) {
	case TRACE_OP_CREATE: case TRACE_OP_MKNOD: case TRACE_OP_MKDIR:
	case TRACE_OP_SYMLINK: case TRACE_OP_LINK:
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

/* ---- attributes ---- */

int mat_attr_apply(struct mat *m, struct mat_inode *i, const struct ops_op *op)
{
	int err;

	if (op->op == TRACE_OP_REMOVEXATTR) {
		fskey_xattr_del(i->xa, &i->nxa, ops_name(m->t, op), op->name_len);
		return 0;
	}
	if (op->op == TRACE_OP_SETXATTR) {
		if (op->data_len > MAT_IO)
			return -E2BIG;
		err = ops_read_data(m->t, op, 0, m->buf, op->data_len);
		return err ? err : fskey_xattr_put(&i->xa, &i->nxa, ops_name(m->t, op),
						   op->name_len, m->buf, op->data_len);
	}
	if (op->flags & TRACE_SA_MODE)
		i->mode = (i->mode & S_IFMT) | (op->mode & 07777);
	if (op->flags & TRACE_SA_UID)
		i->uid = op->uid;
	if (op->flags & TRACE_SA_GID)
		i->gid = op->gid;
	if (op->flags & TRACE_SA_MTIME)
		i->mtime_ns = op->mtime_ns;
	return 0;
}

/* ---- the image ---- */

int mat_unshare(struct mat *m, int dirfd, const char *name)
{
	char tmp[8300];
	struct stat st;
	int src, dst = -1, err;

	if (snprintf(tmp, sizeof(tmp), "%s.faultline-cow", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((src = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(src, &st) < 0)
		err = -errno;
	else if ((dst = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       0600)) < 0)
		err = -errno;
	else
		err = mat_clone_or_copy(m, src, dst, (uint64_t)st.st_size);
	close(src);
	if (dst >= 0)
		close(dst);
	if (!err && renameat(dirfd, tmp, dirfd, name) < 0)
		err = -errno;
	if (err && dst >= 0)
		unlinkat(dirfd, tmp, 0);
	return err;
}

int mat_img_open(struct mat *m, uint64_t id, int flags)
{
	struct mat_inode *i;
	char name[32];
	int err;

	snprintf(name, sizeof(name), "%" PRIu64, id);
	if ((flags & O_ACCMODE) != O_RDONLY && (i = mat_ino_find(&m->inodes, id)) && i->shared) {
		if ((err = mat_unshare(m, m->imgfd, name)) < 0) {
			errno = -err;
			return -1;
		}
		i->shared = false; /* the base file is the base's alone again */
	}
	return openat(m->imgfd, name, flags | O_CLOEXEC, 0600);
}

int mat_image_apply(struct mat *m, size_t idx)
{
	const struct ops_op *op = &m->t->v[idx];
	struct mat_inode *i;
	int fd, err;

	if (op->kind == OPS_NS)
		return mat_ns_apply(&m->ns, m->t, op);
	if (op->kind != OPS_DATA)
		return 0;
	if (!(i = mat_ino_get(&m->inodes, op->id)))
		return -ENOMEM;
	if (!i->mode) /* bytes for an inode the trace never defined: a regular file */
		i->mode = S_IFREG | 0644;
	if (op->oflags & OPS_F_ATTR)
		return mat_attr_apply(m, i, op);
	fd = mat_img_open(m, op->id, O_RDWR | O_CREAT);
	if (fd < 0)
		return -errno;
	i->has_img = true;
	mat_mem_free(i->img_mem); /* the bytes change: mat_key reads them again */
	i->img_mem = NULL;
	err = mat_data_apply(m, fd, i, op, NULL, NULL, 0);
	close(fd);
	return err;
}

/* ---- the base ---- */

/* An inode's attributes (and a symlink's target) from fd, an O_PATH of it. */
static int inode_attrs(struct mat_inode *i, int fd, struct stat *st)
{
	char target[4097];
	ssize_t n;

	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	i->mode = st->st_mode & (S_IFMT | 07777);
	i->uid = st->st_uid;
	i->gid = st->st_gid;
	i->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	i->rdev = st->st_rdev;
	if (!S_ISLNK(st->st_mode))
		return fskey_read_xattrs(fd, &i->xa, &i->nxa);
	n = readlinkat(fd, "", target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	i->target = strndup(target, (size_t)n);
	return i->target ? fskey_read_xattrs(fd, &i->xa, &i->nxa) : -ENOMEM;
}

/* mat_new_shared: img/<id> becomes a hard link of the base file at rel
 * (the base is never written: a write to the image copies it first).
 * 0, or -errno (another file system: the caller copies). */
static int image_link(struct mat *m, const struct ops_op *op, int basefd, const char *rel)
{
	char name[32];

	snprintf(name, sizeof(name), "%" PRIu64, op->id);
	while (*rel == '/') /* names.h paths start at the root */
		rel++;
	return linkat(basefd, rel, m->imgfd, name, 0) < 0 ? -errno : 0;
}

/* Loads one BASE entry: its inode, its name, and a regular file's bytes. */
static int image_base(struct mat *m, const struct ops_op *op, int basefd,
		      const char *rel)
{
	struct mat_inode *i;
	struct stat st;
	int src, dst = -1, err;

	src = ops_base_open(basefd, rel, O_PATH);
	if (src < 0)
		return src;
	err = ns_set(&m->ns, op->parent, ops_name(m->t, op), op->name_len, op->id);
	if (err || ((i = mat_ino_find(&m->inodes, op->id)) && i->mode))
		goto out; /* a second name of a hard-linked file */
	err = -ENOMEM;
	if (!(i = mat_ino_get(&m->inodes, op->id)))
		goto out;
	err = inode_attrs(i, src, &st);
	if (err || !S_ISREG(st.st_mode))
		goto out;
	close(src);
	src = -1;
	i->has_img = true;
	if (m->share && image_link(m, op, basefd, rel) == 0) {
		i->shared = true; /* copied at its first write, if it has one */
		err = mat_blocks_dirty(i, 0, (uint64_t)st.st_size, (uint64_t)st.st_size);
		goto out;
	}
	src = ops_base_open(basefd, rel, O_RDONLY);
	dst = mat_img_open(m, op->id, O_RDWR | O_CREAT | O_EXCL);
	err = src < 0 ? src : dst < 0 ? -errno : mat_clone_or_copy(m, src, dst, (uint64_t)st.st_size);
	if (!err)
		err = mat_blocks_dirty(i, 0, (uint64_t)st.st_size, (uint64_t)st.st_size);
out:
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	return err;
}

/* The root's attributes, from the snapshot directory itself. */
static int image_root(struct mat *m, int basefd)
{
	struct mat_inode *root = mat_ino_get(&m->inodes, TRACE_ROOT_ID);
	struct stat st;

	return root ? inode_attrs(root, basefd, &st) : -ENOMEM;
}

/* Loads the base snapshot: BASE records name the entries, TRACE/base holds them. */
static int image_load_base(struct mat *m, char *err, size_t errlen)
{
	struct names *nm = names_new();
	char rel[4096], path[4200];
	int basefd;
	size_t k;
	int rc = nm ? 0 : -ENOMEM;

	snprintf(path, sizeof(path), "%s/%s", m->t->dir, TRACE_BASE_DIR);
	basefd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (basefd < 0 && !rc) {
		snprintf(err, errlen, "base snapshot %s: %s", path, strerror(errno));
		rc = -errno;
	}
	if (!rc && (rc = image_root(m, basefd)) < 0)
		snprintf(err, errlen, "base snapshot %s: %s", path, strerror(-rc));
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

/* Defines every inode a create makes, with the attributes its record gives. */
static int image_define_created(struct mat *m)
{
	size_t k;

	for (k = 0; k < m->t->n; k++) {
		const struct ops_op *op = &m->t->v[k];
		struct mat_inode *i;

		if (op->kind != OPS_NS || (op->op != TRACE_OP_CREATE && op->op != TRACE_OP_MKNOD &&
					   op->op != TRACE_OP_MKDIR && op->op != TRACE_OP_SYMLINK))
			continue;
		if (!(i = mat_ino_get(&m->inodes, op->id)))
			return -ENOMEM;
		i->mode = op->op == TRACE_OP_SYMLINK ? S_IFLNK | 0777
			  : op->op == TRACE_OP_MKDIR ? S_IFDIR | (op->mode & 07777)
			  : op->mode & (S_IFMT | 07777);
		i->uid = op->uid;
		i->gid = op->gid;
		i->mtime_ns = ops_wall_ns(m->t, op);
		i->rdev = op->op == TRACE_OP_MKNOD ? op->flags : 0;
		free(i->target);
		i->target = NULL;
		if (op->op == TRACE_OP_SYMLINK &&
		    !(i->target = strndup(ops_name2(m->t, op), op->name2_len)))
			return -ENOMEM;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	bool dir = flag == FTW_DP || flag == FTW_D;

	if (dir && (st->st_mode & 0700) != 0700)
		chmod(path, 0700); /* a checker may have made it unwritable */
	return (dir ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int mat_remove(const char *dir)
{
	if (nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Makes WORKDIR/img and loads the base and the created inodes into it. */
static int image_open(struct mat *m, char *err, size_t errlen)
{
	char img[4200];
	int rc;

	snprintf(img, sizeof(img), "%s/img", m->root);
	if (mkdir(img, 0700) < 0 ||
	    (m->imgfd = open(img, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot make work directory %s: %s", img, strerror(errno));
		return rc;
	}
	if ((rc = image_load_base(m, err, errlen)) < 0)
		return rc;
	if ((rc = image_define_created(m)) < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* Empties the image: its files, inodes and entries. */
static void image_close(struct mat *m)
{
	char img[4300];

	if (m->imgfd >= 0)
		close(m->imgfd);
	m->imgfd = -1;
	if (m->root[0]) {
		snprintf(img, sizeof(img), "%s/img", m->root);
		mat_remove(img);
	}
	tdestroy(m->inodes, mat_ino_free);
	m->inodes = NULL;
	free(m->ns.e);
	memset(&m->ns, 0, sizeof(m->ns));
}

int mat_image_reset(struct mat *m, char *err, size_t errlen)
{
	image_close(m);
	return image_open(m, err, errlen);
}

int mat_new(const struct ops_trace *t, const char *workdir, enum mat_scratch how,
	    struct mat **out, char *err, size_t errlen)
{
	return mat_new_budget(t, workdir, how, MAT_MEM_BUDGET_DEFAULT, out, err, errlen);
}

static int mat_make(const struct ops_trace *t, const char *workdir, enum mat_scratch how,
		    uint64_t mem_budget, bool share, struct mat **out, char *err, size_t errlen)
{
	struct mat *m;
	int rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->t = t;
	m->share = share;
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
	if ((rc = mat_scratch(m, how, mem_budget, err, errlen)) < 0 ||
	    (rc = image_open(m, err, errlen)) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	mat_free(m);
	return rc;
}

int mat_new_budget(const struct ops_trace *t, const char *workdir, enum mat_scratch how,
		   uint64_t mem_budget, struct mat **out, char *err, size_t errlen)
{
	return mat_make(t, workdir, how, mem_budget, false, out, err, errlen);
}

int mat_new_shared(const struct ops_trace *t, const char *workdir, struct mat **out, char *err,
		   size_t errlen)
{
	return mat_make(t, workdir, MAT_SCRATCH_DIR, MAT_MEM_BUDGET_DEFAULT, true, out, err, errlen);
}

const char *mat_root(const struct mat *m)
{
	return m->root;
}

const char *mat_mechanism(const struct mat *m)
{
	struct mat *w = (struct mat *)m; /* mech is a cache of this answer */

	snprintf(w->mech, sizeof(w->mech), "%s%s%s%s",
		 m->tmpfs ? "copy (tmpfs)" : !m->reflink ? "copy" : m->loop ? "reflink (loop xfs)"
									      : "reflink",
		 m->why_not_mem,
		 m->lost & MAT_LOST_OWNER ? "; owners not given (not root)" : "",
		 m->lost & MAT_LOST_XATTR ? "; some xattrs refused by the scratch file system" : "");
	return w->mech;
}

void mat_free(struct mat *m)
{
	if (!m)
		return;
	image_close(m);
	mat_scratch_free(m);
	free(m->workdir);
	free(m->buf);
	free(m);
}
