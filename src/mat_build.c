/*
 * mat_build.c - building one crash state on disk (see mat.h).
 *
 * mat_key() takes the same steps with nothing on disk: entries in memory,
 * and each file the state changes copied into memory first (from the
 * image's bytes, read once), so a duplicate state costs no system call.
 *
 * Four steps: (1) the state's entries (the image's, plus its own
 * namespace ops) and its own attribute ops, on this state's copies of the
 * inodes they touch; (2) the tree, breadth first from the root, each
 * regular file cloned (or copied) from the image; (3) the state's own
 * bytes ops, in recorded order, whole or torn as the state says; (4) the
 * content key (fskey.h's walk, over the same breadth-first order), then
 * xattrs, owners, modes and mtimes, deepest first so a directory's own
 * attributes are set after everything in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include "mat_i.h"

struct bfile {
	uint64_t id;           /* inode */
	char *rel;             /* path below the state directory; owned */
	bool first;            /* the inode's first name here (a regular file's later
				  names are hard links to it) */
	uint32_t mode;         /* type and permissions */
	struct mat_mem *mem;   /* key-only build: the file's bytes in memory, NULL if unchanged */
	bool shared;           /* a hard link of the base's file (mat_new_shared): copied before
				  a write, a second name or other attributes */
};

struct bplaced {
	uint64_t id;           /* inode */
	size_t idx;            /* its first entry in build.f */
};

struct build {
	struct mat *m;
	const struct state *s;
	uint64_t key;          /* garbage seed: hash of the state id */
	int dirfd;             /* the state directory */
	struct mat_ns ns;      /* this state's entries */
	void *over;            /* inodes this state changes (copies of the image's) */
	struct bfile *f;       /* every file, dir and symlink placed, breadth first */
	size_t nf, fcap;
	void *placed;          /* tsearch of struct bplaced: inode -> its first entry */
	size_t *data;          /* bytes ops to apply, indices */
	size_t ndata, dcap;
	uid_t made_uid;        /* owner of what this build creates */
	gid_t made_gid;        /* its group (the state directory's when that is set-group-ID) */
	bool dry;              /* key only: no directory, changed files in memory (mat_key) */
};

static struct mat_inode *b_inode(struct build *b, uint64_t id)
{
	struct mat_inode *i = mat_ino_find(&b->over, id);

	return i ? i : mat_ino_find(&b->m->inodes, id);
}

/* Brings the image's block hashes of inode img up to date (once, not per state). */
static int img_rehash(struct build *b, struct mat_inode *img)
{
	int fd, err;

	if (!img->has_img || !img->any_dirty)
		return 0;
	fd = mat_img_open(b->m, img->id, O_RDONLY);
	err = fd < 0 ? -errno : mat_blocks_rehash(b->m, img, fd);
	if (fd >= 0)
		close(fd);
	return err;
}

/* This state's own copy of inode id, made from the image's on first use. */
static struct mat_inode *b_own(struct build *b, uint64_t id)
{
	struct mat_inode *i = mat_ino_find(&b->over, id), *img;

	if (i)
		return i;
	img = mat_ino_find(&b->m->inodes, id);
	if ((img && img_rehash(b, img) < 0) || !(i = mat_ino_get(&b->over, id)))
		return NULL;
	if (img && mat_ino_copy(i, img) < 0)
		return NULL;
	if (!i->mode) /* bytes for an inode the trace never defined: a regular file */
		i->mode = S_IFREG | 0644;
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

/* Step 1: the state's names, its attribute ops, and which bytes ops it applies. */
static int b_sort_ops(struct build *b, const size_t *extra, size_t n)
{
	size_t k;
	int err = mat_ns_copy(&b->ns, &b->m->ns);

	for (k = 0; !err && k < n; k++) {
		const struct ops_op *op = &b->m->t->v[extra[k]];
		const struct state_choice *c = state_find(b->s, op->seq);
		struct mat_inode *i;

		if (c && c->how == STATE_DROP)
			continue;
		if (op->kind == OPS_NS)
			err = mat_ns_apply(&b->ns, b->m->t, op);
		else if (op->kind != OPS_DATA)
			continue;
		else if (!(i = b_own(b, op->id)))
			err = -ENOMEM;
		else if (op->oflags & OPS_F_ATTR)
			err = mat_attr_apply(b->m, i, op);
		else
			err = push_idx(&b->data, &b->ndata, &b->dcap, extra[k]);
	}
	return err;
}

static int bplaced_cmp(const void *a, const void *c)
{
	const struct bplaced *x = a, *y = c;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The first entry placed for inode id, or NULL. */
static struct bfile *b_placed(struct build *b, uint64_t id)
{
	struct bplaced k = {.id = id};
	void *p = tfind(&k, &b->placed, bplaced_cmp);

	return p ? &b->f[(*(struct bplaced **)p)->idx] : NULL;
}

/* Records an entry placed at rel for inode id (indexed when it is the inode's first). */
static int b_add(struct build *b, uint64_t id, const char *rel, uint32_t mode)
{
	struct bplaced *pl = NULL;
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
	*f = (struct bfile){.id = id, .rel = strdup(rel), .first = !b_placed(b, id), .mode = mode};
	if (!f->rel)
		return -ENOMEM;
	if (f->first) {
		if (!(pl = malloc(sizeof(*pl))))
			goto nomem;
		*pl = (struct bplaced){.id = id, .idx = b->nf};
		if (!tsearch(pl, &b->placed, bplaced_cmp))
			goto nomem;
	}
	b->nf++;
	return 0;
nomem:
	free(pl);
	free(f->rel);
	return -ENOMEM;
}

/* A state file that is a link of the base's: copied, so it may change. */
static int b_unshare(struct build *b, struct bfile *f)
{
	int err;

	if (!f->shared)
		return 0;
	if ((err = mat_unshare(b->m, b->dirfd, f->rel)) == 0)
		f->shared = false;
	return err;
}

/* Creates a regular file at rel with the image's bytes for inode i. */
static int b_place_file(struct build *b, const struct mat_inode *i, const char *rel)
{
	char name[32];
	int fd, src, err = 0;

	snprintf(name, sizeof(name), "%" PRIu64, i->id);
	if (i->shared && linkat(b->m->imgfd, name, b->dirfd, rel, 0) == 0) {
		if ((err = b_add(b, i->id, rel, i->mode)) == 0)
			b->f[b->nf - 1].shared = true;
		return err;
	}
	fd = openat(b->dirfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (i->has_img) {
		src = mat_img_open(b->m, i->id, O_RDONLY);
		err = src < 0 ? -errno : mat_clone_or_copy(b->m, src, fd, i->size);
		if (src >= 0)
			close(src);
	}
	close(fd); /* reopened by name if the state changes it: a state may hold many files */
	return err ? err : b_add(b, i->id, rel, i->mode);
}

/* Places entry e (child of the directory at dirrel). */
static int b_place(struct build *b, const struct mat_entry *e, const char *dirrel)
{
	const struct mat_inode *i = b_inode(b, e->child);
	struct bfile *prev;
	char rel[8192];

	if (!i || !i->mode)
		return 0; /* an inode the trace never defined: nothing to place */
	if (snprintf(rel, sizeof(rel), "%s%s%s", dirrel, *dirrel ? "/" : "", e->name) >=
	    (int)sizeof(rel))
		return -ENAMETOOLONG;
	if (b->dry) /* the same entries, nothing on disk */
		return S_ISDIR(i->mode) && b_placed(b, i->id) ? 0 : b_add(b, i->id, rel, i->mode);
	if (S_ISDIR(i->mode)) {
		if (b_placed(b, i->id))
			return 0; /* a directory reached twice: keep the first */
		if (mkdirat(b->dirfd, rel, 0700) < 0)
			return -errno;
		return b_add(b, i->id, rel, i->mode);
	}
	if (S_ISLNK(i->mode)) {
		if (symlinkat(i->target ? i->target : "", b->dirfd, rel) < 0)
			return -errno;
		return b_add(b, i->id, rel, i->mode);
	}
	if (S_ISREG(i->mode) && (prev = b_placed(b, i->id))) {
		int err = b_unshare(b, prev); /* a second name is this state's alone */

		if (err)
			return err;
		if (linkat(b->dirfd, prev->rel, b->dirfd, rel, 0) < 0)
			return -errno;
		return b_add(b, i->id, rel, i->mode); /* hashed as a link */
	}
	if (S_ISREG(i->mode))
		return b_place_file(b, i, rel);
	if (mknodat(b->dirfd, rel, i->mode & (S_IFMT | 0777), i->rdev) < 0 &&
	    mknodat(b->dirfd, rel, S_IFREG | 0600, 0) < 0)
		return -errno;
	return b_add(b, i->id, rel, i->mode);
}

static int entry_cmp(const void *a, const void *c)
{
	const struct mat_entry *x = a, *y = c;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The first of the (sorted) entries whose parent is dir. */
static size_t first_child(const struct mat_ns *ns, uint64_t dir)
{
	size_t lo = 0, hi = ns->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ns->e[mid].parent < dir)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Step 2: the tree, breadth first from the root (dirs are b->f entries). */
static int b_tree(struct build *b)
{
	size_t next = 0, k;
	const struct mat_inode *root = b_inode(b, TRACE_ROOT_ID);
	int err = b_add(b, TRACE_ROOT_ID, "", root ? root->mode : S_IFDIR | 0755);

	if (b->ns.n)
		qsort(b->ns.e, b->ns.n, sizeof(*b->ns.e), entry_cmp);
	for (; !err && next < b->nf; next++) {
		uint64_t dir = b->f[next].id;
		char dirrel[8192];

		if (!S_ISDIR(b->f[next].mode) || !b->f[next].first)
			continue;
		snprintf(dirrel, sizeof(dirrel), "%s", b->f[next].rel);
		for (k = first_child(&b->ns, dir); !err && k < b->ns.n && b->ns.e[k].parent == dir; k++)
			err = b_place(b, &b->ns.e[k], dirrel);
	}
	return err;
}

/* The image's bytes of inode img, read once into memory (until the image changes). */
static int img_bytes(struct build *b, struct mat_inode *img)
{
	struct mat_mem *mem;
	ssize_t got;
	int fd;

	if (img->img_mem)
		return 0;
	if (!(mem = calloc(1, sizeof(*mem))) || !(mem->p = malloc(img->size ? img->size : 1))) {
		mat_mem_free(mem);
		return -ENOMEM;
	}
	mem->size = mem->cap = img->size;
	fd = mat_img_open(b->m, img->id, O_RDONLY);
	got = fd < 0 ? -1 : pread(fd, mem->p, img->size, 0);
	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)img->size) {
		mat_mem_free(mem);
		return got < 0 ? -errno : -EIO;
	}
	img->img_mem = mem;
	return 0;
}

/*
 * Key-only build: inode i's bytes (the image's) in memory for placed file
 * f.  -EFBIG when the file is larger than MAT_KEY_FILE_MAX: copying it
 * per state would cost more than building the state.
 */
static int b_memfile(struct build *b, struct bfile *f, const struct mat_inode *i)
{
	struct mat_inode *img = mat_ino_find(&b->m->inodes, i->id);
	int err;

	if (img && img->has_img && img->size > MAT_KEY_FILE_MAX)
		return -EFBIG;
	if (!(f->mem = calloc(1, sizeof(*f->mem))))
		return -ENOMEM;
	if (!img || !img->has_img || !img->size)
		return 0;
	if ((err = img_bytes(b, img)) < 0)
		return err;
	if (!(f->mem->p = malloc(img->size)))
		return -ENOMEM;
	memcpy(f->mem->p, img->img_mem->p, img->size);
	f->mem->size = f->mem->cap = img->size;
	return 0;
}

/* Step 3: the state's own data ops on the files it has (opened by name, one at a time). */
static int b_data(struct build *b)
{
	uint64_t open_id = 0;
	size_t k;
	int err = 0, fd = -1;

	for (k = 0; !err && k < b->ndata; k++) {
		const struct ops_op *op = &b->m->t->v[b->data[k]];
		struct bfile *f = b_placed(b, op->id);
		struct mat_inode *i;

		if (!f || !S_ISREG(f->mode))
			continue; /* no name reaches this inode in this state */
		if (!(i = b_own(b, op->id)))
			return -ENOMEM;
		if (b->dry) {
			if (!f->mem && (err = b_memfile(b, f, i)) < 0)
				return err;
			err = mat_data_apply_mem(b->m, f->mem, i, op, b->s,
						 state_find(b->s, op->seq), b->key);
			continue;
		}
		if (fd < 0 || open_id != op->id) {
			if (fd >= 0)
				close(fd);
			fd = -1;
			open_id = op->id;
			if ((err = b_unshare(b, f)) < 0)
				return err;
			if ((fd = openat(b->dirfd, f->rel, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0)
				return -errno;
		}
		err = mat_data_apply(b->m, fd, i, op, b->s, state_find(b->s, op->seq), b->key);
	}
	if (fd >= 0)
		close(fd);
	return err;
}

/* Adds placed file f to the content key k. */
static int b_key_file(struct build *b, const struct bfile *f, struct fskey *k)
{
	struct mat_inode *i = b_inode(b, f->id);
	struct fskey_node n = {.rel = f->rel, .mode = i->mode, .uid = i->uid, .gid = i->gid,
			       .mtime_ns = i->mtime_ns, .xa = i->xa, .nxa = i->nxa,
			       .target = i->target};
	int err = 0, fd;

	if (S_ISREG(i->mode) && !f->first) { /* another name of a file placed before */
		n.link_to = b_placed(b, f->id)->rel;
	} else if (S_ISREG(i->mode) && mat_ino_find(&b->over, f->id) && b->dry) {
		err = i->any_dirty ? (!f->mem ? -EIO : mat_blocks_rehash_mem(b->m, i, f->mem)) : 0;
	} else if (S_ISREG(i->mode) && mat_ino_find(&b->over, f->id)) { /* changed here */
		fd = openat(b->dirfd, f->rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		err = fd < 0 ? -errno : mat_blocks_rehash(b->m, i, fd);
		if (fd >= 0)
			close(fd);
	} else if (S_ISREG(i->mode)) {
		err = img_rehash(b, i);
	}
	if (S_ISREG(i->mode) && !n.link_to) {
		n.size = i->size;
		n.bh = i->bh;
		n.nbh = i->nbh;
	}
	fskey_add(k, &n);
	return err;
}

/* Gives the file at f (opened through dfd/rel) the attributes of inode i. */
static int b_attrs(struct build *b, const struct bfile *f, const struct mat_inode *i)
{
	struct timespec tv[2] = {{0, UTIME_OMIT}, {i->mtime_ns / 1000000000, i->mtime_ns % 1000000000}};
	const char *rel = *f->rel ? f->rel : ".";
	char path[64];
	size_t k;
	int pfd = openat(b->dirfd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC), err = 0;

	if (pfd < 0)
		return -errno;
	if (tv[1].tv_nsec < 0) { /* before the epoch */
		tv[1].tv_sec--;
		tv[1].tv_nsec += 1000000000;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
	for (k = 0; k < i->nxa; k++)
		if (setxattr(path, i->xa[k].name, i->xa[k].value, i->xa[k].len, 0) < 0)
			b->m->lost |= MAT_LOST_XATTR;
	if ((i->uid != b->made_uid || i->gid != b->made_gid) && /* else it is already */
	    fchownat(pfd, "", i->uid, i->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != EPERM)
			err = -errno;
		b->m->lost |= MAT_LOST_OWNER;
	}
	/* chmod after chown: chown clears set-ID bits */
	if (!err && !S_ISLNK(i->mode) && chmod(path, i->mode & 07777) < 0)
		err = -errno;
	if (!err && utimensat(pfd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	close(pfd);
	return err;
}

/* Step 4: the content key, then attributes (deepest first). */
/* A shared file (a link of the base's) that already has inode i's
 * attributes, and no xattrs on either side, needs none given. */
static bool b_attrs_hold(struct build *b, const struct bfile *f, const struct mat_inode *i)
{
	struct stat st;
	char path[64];
	ssize_t nx;
	int fd = openat(b->dirfd, f->rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	bool same;

	if (fd < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	same = fstat(fd, &st) == 0 && (st.st_mode & 07777) == (i->mode & 07777) &&
	       st.st_uid == i->uid && st.st_gid == i->gid &&
	       (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec == i->mtime_ns &&
	       i->nxa == 0 && (nx = listxattr(path, NULL, 0)) == 0;
	close(fd);
	return same;
}

static int b_finish(struct build *b, uint64_t *key)
{
	struct fskey k;
	size_t n;
	int err = key ? fskey_init(&k) : 0;

	for (n = 0; key && !err && n < b->nf; n++)
		err = b_key_file(b, &b->f[n], &k);
	if (err) {
		fskey_abort(&k);
		return err;
	}
	if (key)
		*key = fskey_final(&k);
	for (n = b->nf; !err && !b->dry && n-- > 0;) {
		struct bfile *f = &b->f[n];
		const struct mat_inode *i = b_inode(b, f->id);

		if (!f->first && S_ISREG(f->mode))
			continue; /* each inode once */
		if (f->shared && b_attrs_hold(b, f, i))
			continue; /* the base's own file, as it is */
		if (!(err = b_unshare(b, f)))
			err = b_attrs(b, f, i);
	}
	return err;
}

static void b_free(struct build *b)
{
	size_t k;

	for (k = 0; k < b->nf; k++) {
		free(b->f[k].rel);
		mat_mem_free(b->f[k].mem);
	}
	tdestroy(b->placed, free);
	free(b->f);
	free(b->data);
	free(b->ns.e);
	tdestroy(b->over, mat_ino_free);
	if (b->dirfd >= 0)
		close(b->dirfd);
}

/* The four steps (see the top of this file), on disk or, dry, in memory. */
static int b_steps(struct build *b, const size_t *extra, size_t n, uint64_t *key)
{
	int rc = b_sort_ops(b, extra, n);

	if (!rc)
		rc = b_tree(b);
	if (!rc)
		rc = b_data(b);
	if (!rc)
		rc = b_finish(b, key);
	return rc;
}

int mat_build(struct mat *m, const struct state *s, const size_t *extra,
	      size_t n, const char *dir, uint64_t *key, char *err, size_t errlen)
{
	struct build b = {.m = m, .s = s, .dirfd = -1};
	char *id = state_id_new(s);
	struct stat st;
	int rc;

	if (!id) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b.key = XXH3_64bits(id, strlen(id));
	if (mkdir(dir, 0700) < 0 ||
	    (b.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot make state directory %s: %s", dir, strerror(errno));
		b_free(&b);
		free(id);
		return rc;
	}
	b.made_uid = geteuid();
	b.made_gid = getegid();
	if (fstat(b.dirfd, &st) == 0 && (st.st_mode & S_ISGID))
		b.made_gid = st.st_gid;
	rc = b_steps(&b, extra, n, key);
	if (rc)
		snprintf(err, errlen, "building state %.200s: %s", id, strerror(-rc));
	b_free(&b);
	free(id);
	return rc;
}

int mat_key(struct mat *m, const struct state *s, const size_t *extra, size_t n,
	    uint64_t *key, char *err, size_t errlen)
{
	struct build b = {.m = m, .s = s, .dirfd = -1, .dry = true};
	char *id = state_id_new(s);
	int rc;

	if (!id) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b.key = XXH3_64bits(id, strlen(id));
	rc = b_steps(&b, extra, n, key);
	if (rc && rc != -EFBIG)
		snprintf(err, errlen, "keying state %.200s: %s", id, strerror(-rc));
	b_free(&b);
	free(id);
	return rc;
}

int mat_build_all(struct mat *m, const struct state *s, const char *dir, uint64_t *key,
		  char *err, size_t errlen)
{
	size_t *extra = malloc((m->t->n + 1) * sizeof(*extra)), n = 0, i;
	int rc;

	if (!extra) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < m->t->n && m->t->v[i].seq <= s->crash; i++)
		if (ops_changes_state(&m->t->v[i]))
			extra[n++] = i;
	rc = mat_build(m, s, extra, n, dir, key, err, errlen);
	free(extra);
	return rc;
}

int mat_build_shared(const struct ops_trace *t, const struct state *s, const char *work,
		     const char *into, char *err, size_t errlen)
{
	struct mat *m = NULL;
	int rc, pass;

	for (pass = 0; pass < 2; pass++) {
		rc = pass ? mat_new(t, work, MAT_SCRATCH_DIR, &m, err, errlen)
			  : mat_new_shared(t, work, &m, err, errlen);
		if (rc == 0)
			rc = mat_build_all(m, s, into, NULL, err, errlen);
		mat_free(m);
		m = NULL;
		mat_remove(work);
		if (rc == 0)
			return 0;
		mat_remove(into);
		if (pass == 0)
			err[0] = 0;
	}
	return rc;
}
