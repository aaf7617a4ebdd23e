/*
 * reference.c - the reference enumerator (see reference.h): every legal
 * crash state of a crash point, by brute force, in memory.
 *
 * It is written from DESIGN.md's definition and the flags of struct
 * model, and shares with the fast path only what defines the question:
 * the trace (ops.c), the tear family of a write (tear.c), state ids and
 * garbage bytes (state.c) and the content key (fskey.c).  It does not use
 * model.c's durability plan, mat.c's image or explore.c's enumeration:
 * those are what it checks.  Everything here favours being obviously
 * right over being fast.
 *
 * THE DEFINITION, for a crash at record c (a crash during op c):
 *   1. op i is durable when a barrier covering it has seq in (i, c) - or
 *      is op i itself, for a sync write that is its own barrier - where
 *      a barrier is an FSYNC/FSYNCDIR/SYNCFS record that succeeded, or an
 *      O_SYNC/O_DSYNC write with no FSYNC of its own after it, and is not
 *      an SQE of op i's io_uring submission free to run before it
 *      (ops_concurrent); under prefix_only every op before c is durable
 *      but a captured mapped page (ops_is_early), durable only as above;
 *   2. every other state-changing op with seq <= c is in flight, and is
 *      kept whole, dropped, or (a write the model lets tear) torn by one
 *      of its family's variants the model allows;
 *   3. under journal_in_order the dropped metadata ops are a suffix of
 *      the in-flight metadata ops;
 *   4. the state is base + every durable op + the chosen ops, applied in
 *      recorded order.
 * Inodes created during the recording exist from the start with the
 * attributes their create gives (type and mode, owner, the create's time
 * as mtime, a symlink's target); a create that persists adds its name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "fskey.h"
#include "names.h"
#include "reference.h"
#include "state.h"

/* ---- the in-memory tree ---- */

struct rnode {
	uint64_t id;            /* file id */
	uint32_t mode;          /* type and permissions */
	uint32_t uid, gid;      /* owner */
	int64_t mtime_ns;       /* mtime */
	char *target;           /* symlink target; owned */
	uint8_t *data;          /* regular file bytes; owned */
	uint64_t size;          /* bytes in data */
	struct fskey_xattr *xa; /* xattrs, kept sorted by name; owned */
	size_t nxa;
};

struct rentry {
	uint64_t parent;        /* directory id */
	char *name;             /* NUL-terminated; owned */
	uint64_t child;         /* inode id */
};

struct rtree {
	struct rnode *n;        /* inodes, unordered */
	size_t nn;
	struct rentry *e;       /* entries, unordered */
	size_t ne;
};

struct ref {
	const struct ops_trace *t; /* the trace (not owned) */
	struct rtree base;         /* base + the inodes creates define */
	bool *self_sync;           /* per op: a sync write that is its own barrier */
};

static struct rnode *node(struct rtree *tr, uint64_t id)
{
	size_t i;

	for (i = 0; i < tr->nn; i++)
		if (tr->n[i].id == id)
			return &tr->n[i];
	return NULL;
}

/* The inode id, made empty if it is not there yet; NULL without memory. */
static struct rnode *node_get(struct rtree *tr, uint64_t id)
{
	struct rnode *n = node(tr, id), *v;

	if (n)
		return n;
	if (!(v = realloc(tr->n, (tr->nn + 1) * sizeof(*v))))
		return NULL;
	tr->n = v;
	n = &tr->n[tr->nn++];
	memset(n, 0, sizeof(*n));
	n->id = id;
	return n;
}

static struct rentry *entry(struct rtree *tr, uint64_t parent, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < tr->ne; i++)
		if (tr->e[i].parent == parent && strlen(tr->e[i].name) == len &&
		    !memcmp(tr->e[i].name, name, len))
			return &tr->e[i];
	return NULL;
}

static int entry_set(struct rtree *tr, uint64_t parent, const char *name, size_t len,
		     uint64_t child)
{
	struct rentry *e = entry(tr, parent, name, len), *v;

	if (!e) {
		if (!(v = realloc(tr->e, (tr->ne + 1) * sizeof(*v))))
			return -ENOMEM;
		tr->e = v;
		e = &tr->e[tr->ne++];
		e->parent = parent;
		if (!(e->name = strndup(name, len)))
			return -ENOMEM;
	}
	e->child = child;
	return 0;
}

static void entry_remove(struct rtree *tr, uint64_t parent, const char *name, size_t len)
{
	struct rentry *e = entry(tr, parent, name, len);

	if (e) {
		free(e->name);
		*e = tr->e[--tr->ne];
	}
}

static void tree_free(struct rtree *tr)
{
	size_t i;

	for (i = 0; i < tr->nn; i++) {
		free(tr->n[i].target);
		free(tr->n[i].data);
		fskey_free_xattrs(tr->n[i].xa, tr->n[i].nxa);
	}
	for (i = 0; i < tr->ne; i++)
		free(tr->e[i].name);
	free(tr->n);
	free(tr->e);
	memset(tr, 0, sizeof(*tr));
}

static void *dup_mem(const void *p, size_t len)
{
	void *q = malloc(len ? len : 1);

	if (q && len)
		memcpy(q, p, len);
	return q;
}

static int xattrs_copy(const struct fskey_xattr *src, size_t n, struct fskey_xattr **out)
{
	size_t i;

	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		(*out)[i].name = strdup(src[i].name);
		(*out)[i].value = dup_mem(src[i].value, src[i].len);
		(*out)[i].len = src[i].len;
		if (!(*out)[i].name || !(*out)[i].value)
			return -ENOMEM;
	}
	return 0;
}

/* Deep copy of src into dst (empty).  0 or -ENOMEM (dst then half built: free it). */
static int tree_copy(struct rtree *dst, const struct rtree *src)
{
	size_t i;

	dst->n = calloc(src->nn + 1, sizeof(*dst->n));
	dst->e = calloc(src->ne + 1, sizeof(*dst->e));
	if (!dst->n || !dst->e)
		return -ENOMEM;
	for (i = 0; i < src->nn; i++) {
		const struct rnode *s = &src->n[i];
		struct rnode *d = &dst->n[dst->nn++];

		*d = *s;
		d->target = s->target ? strdup(s->target) : NULL;
		d->data = dup_mem(s->data, (size_t)s->size);
		d->xa = NULL;
		if (!d->data || (s->target && !d->target) || xattrs_copy(s->xa, s->nxa, &d->xa))
			return -ENOMEM;
	}
	for (i = 0; i < src->ne; i++) {
		dst->e[dst->ne] = src->e[i];
		if (!(dst->e[dst->ne++].name = strdup(src->e[i].name)))
			return -ENOMEM;
	}
	return 0;
}

/* ---- file bytes ---- */

/* Makes n exactly size bytes long (new bytes zero). */
static int node_resize(struct rnode *n, uint64_t size)
{
	uint8_t *d;

	if (size > (UINT64_C(1) << 32))
		return -EFBIG; /* the reference is for small traces */
	if (!(d = realloc(n->data, (size_t)size + 1)))
		return -ENOMEM;
	if (size > n->size)
		memset(d + n->size, 0, (size_t)(size - n->size));
	n->data = d;
	n->size = size;
	return 0;
}

/* Puts len bytes at off, growing the file as pwrite does. */
static int node_put(struct rnode *n, uint64_t off, const void *buf, size_t len)
{
	int err = off + len > n->size ? node_resize(n, off + len) : 0;

	if (!err && len)
		memcpy(n->data + off, buf, len);
	return err;
}

/* Bytes [from, to) of write op's payload, at their file offsets. */
static int put_payload(const struct ref *r, struct rnode *n, const struct ops_op *op,
		       uint64_t from, uint64_t to)
{
	uint8_t *buf = malloc((size_t)(to - from) + 1);
	int err = buf ? ops_read_data(r->t, op, from - op->off, buf, (size_t)(to - from)) : -ENOMEM;

	if (!err)
		err = node_put(n, from, buf, (size_t)(to - from));
	free(buf);
	return err;
}

/* Zeros or garbage over [a, z), garbage as state.c defines it for this sector. */
static int put_damage(struct rnode *n, uint64_t a, uint64_t z, char kind, uint64_t gkey,
		      uint64_t seq, uint64_t sector_no)
{
	uint8_t *buf = calloc((size_t)(z - a) + 1, 1);
	int err;

	if (!buf)
		return -ENOMEM;
	if (kind == 'g')
		state_garbage(gkey, seq, sector_no, buf, (size_t)(z - a));
	err = node_put(n, a, buf, (size_t)(z - a));
	free(buf);
	return err;
}

/*
 * A torn write, sector by sector, as state.h's id grammar says: in a
 * sector the write touches, 'n' puts the write's bytes, 'z'/'g' zeros or
 * garbage over them, 'o' leaves the file as it is; a clean sector of the
 * range is damaged whole by 'z'/'g' up to the larger of the old size and
 * the write's end.  Then the size: kept (at least the write's end), or
 * with size_lost, back to what it was.
 */
static int write_torn(const struct ref *r, struct rnode *n, const struct ops_op *op,
		      const struct state_choice *c, uint32_t sector, uint32_t block,
		      uint64_t gkey)
{
	uint64_t end = op->off + op->data_len, cur = n->size, k;
	uint64_t unit = block ? block : sector, start = op->off / unit * unit;
	uint64_t stop = (end + unit - 1) / unit * unit, nsect = (stop - start) / sector;
	uint64_t limit = cur > end ? cur : end;
	char *kinds = malloc((size_t)nsect + 1);
	int err = !kinds ? -ENOMEM : c->rle ? state_rle_expand(c->rle, kinds, (size_t)nsect) : 0;

	for (k = 0; !err && k < nsect; k++) {
		uint64_t s0 = start + k * sector, s1 = s0 + sector;
		bool touched = s1 > op->off && s0 < end;
		uint64_t a = touched && s0 < op->off ? op->off : s0;
		uint64_t z = touched ? (s1 < end ? s1 : end) : (s1 < limit ? s1 : limit);
		char kind = c->rle ? kinds[k] : 'n';

		if (kind == 'n' && touched)
			err = put_payload(r, n, op, a, z);
		else if ((kind == 'z' || kind == 'g') && a < z)
			err = put_damage(n, a, z, kind, gkey, op->seq, s0 / sector);
	}
	free(kinds);
	if (!err && !c->size_lost && n->size < end)
		err = node_resize(n, end);
	if (!err && c->size_lost)
		err = node_resize(n, cur);
	return err;
}

static int do_fallocate(struct rnode *n, const struct ops_op *op)
{
	uint64_t end = op->off + op->len, lim = end < n->size ? end : n->size;
	bool keep = op->mode & 0x01;
	int err = 0;

	if (op->mode & 0x02) { /* PUNCH_HOLE */
		if (lim > op->off)
			memset(n->data + op->off, 0, (size_t)(lim - op->off));
		return 0;
	}
	if (op->mode & 0x08) { /* COLLAPSE_RANGE */
		if (end > n->size)
			return 0;
		memmove(n->data + op->off, n->data + end, (size_t)(n->size - end));
		return node_resize(n, n->size - op->len);
	}
	if (op->mode & 0x20) { /* INSERT_RANGE */
		uint64_t old = n->size;

		if (op->off > old || (err = node_resize(n, old + op->len)) < 0)
			return err;
		memmove(n->data + end, n->data + op->off, (size_t)(old - op->off));
		memset(n->data + op->off, 0, (size_t)op->len);
		return 0;
	}
	if ((op->mode & 0x10) && lim > op->off) /* ZERO_RANGE */
		memset(n->data + op->off, 0, (size_t)(lim - op->off));
	if (!keep && end > n->size)
		err = node_resize(n, end);
	return err;
}

/* ---- attributes ---- */

static int do_attr(const struct ref *r, struct rnode *n, const struct ops_op *op)
{
	uint8_t *v;
	int err;

	if (op->op == TRACE_OP_REMOVEXATTR) {
		fskey_xattr_del(n->xa, &n->nxa, ops_name(r->t, op), op->name_len);
		return 0;
	}
	if (op->op == TRACE_OP_SETXATTR) {
		if (!(v = malloc(op->data_len + 1)))
			return -ENOMEM;
		err = ops_read_data(r->t, op, 0, v, op->data_len);
		if (!err)
			err = fskey_xattr_put(&n->xa, &n->nxa, ops_name(r->t, op), op->name_len,
					      v, op->data_len);
		free(v);
		return err;
	}
	if (op->flags & TRACE_SA_MODE)
		n->mode = (n->mode & S_IFMT) | (op->mode & 07777);
	if (op->flags & TRACE_SA_UID)
		n->uid = op->uid;
	if (op->flags & TRACE_SA_GID)
		n->gid = op->gid;
	if (op->flags & TRACE_SA_MTIME)
		n->mtime_ns = op->mtime_ns;
	return 0;
}

/* ---- applying one op ---- */

static int do_ns(const struct ref *r, struct rtree *tr, const struct ops_op *op)
{
	const char *n1 = ops_name(r->t, op), *n2 = ops_name2(r->t, op);
	struct rentry *a, *b;
	int err;

	switch (op->op) {
	case TRACE_OP_CREATE: case TRACE_OP_MKNOD: case TRACE_OP_MKDIR:
	case TRACE_OP_SYMLINK: case TRACE_OP_LINK:
		return entry_set(tr, op->parent, n1, op->name_len, op->id);
	case TRACE_OP_UNLINK: case TRACE_OP_RMDIR:
		entry_remove(tr, op->parent, n1, op->name_len);
		return 0;
	case TRACE_OP_RENAME:
		if (op->flags & 2) { /* RENAME_EXCHANGE */
			a = entry(tr, op->parent, n1, op->name_len);
			b = entry(tr, op->parent2, n2, op->name2_len);
			if (a && b) {
				uint64_t c = a->child;

				a->child = b->child;
				b->child = c;
				return 0;
			}
			if ((err = entry_set(tr, op->parent, n1, op->name_len, op->id2)) < 0)
				return err;
		} else {
			entry_remove(tr, op->parent, n1, op->name_len);
		}
		return entry_set(tr, op->parent2, n2, op->name2_len, op->id);
	}
	return 0;
}

/* Applies op whole, or as choice c (a tear) says. */
static int apply(const struct ref *r, struct rtree *tr, const struct ops_op *op,
		 const struct state_choice *c, const struct state *s, uint64_t gkey)
{
	struct state_choice whole = {0};
	struct rnode *n;

	if (op->kind == OPS_NS)
		return do_ns(r, tr, op);
	if (!(n = node_get(tr, op->id)))
		return -ENOMEM;
	if (!n->mode) /* bytes for an inode the trace never defined */
		n->mode = S_IFREG | 0644;
	if (op->oflags & OPS_F_ATTR)
		return do_attr(r, n, op);
	switch (op->op) {
	case TRACE_OP_WRITE:
		return write_torn(r, n, op, c ? c : &whole, s->sector, s->block, gkey);
	case TRACE_OP_TRUNCATE:
		return node_resize(n, op->off);
	case TRACE_OP_FALLOCATE:
		return do_fallocate(n, op);
	}
	return 0;
}

/* ---- the key of a tree ---- */

struct placed {
	uint64_t id;  /* inode */
	char *rel;    /* its first path */
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rentry *)a)->name, ((const struct rentry *)b)->name);
}

static const struct placed *find_placed(const struct placed *p, size_t n, uint64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i].id == id)
			return &p[i];
	return NULL;
}

/* Adds node n at rel to k, the way fskey.h's walk says. */
static void key_node(struct fskey *k, const struct rnode *n, const char *rel,
		     const char *link_to)
{
	struct fskey_node f = {
		.rel = rel, .mode = n->mode, .uid = n->uid, .gid = n->gid,
		.mtime_ns = n->mtime_ns, .xa = n->xa, .nxa = n->nxa, .target = n->target,
		.link_to = link_to, .size = n->size,
	};
	uint64_t *bh = NULL;
	size_t b;

	if (S_ISREG(n->mode) && !link_to) {
		f.nbh = (size_t)((n->size + FSKEY_BLOCK - 1) / FSKEY_BLOCK);
		bh = malloc((f.nbh + 1) * sizeof(*bh));
		for (b = 0; bh && b < f.nbh; b++) {
			uint64_t off = (uint64_t)b * FSKEY_BLOCK;

			bh[b] = fskey_block(n->data + off, n->size - off < FSKEY_BLOCK
						     ? (size_t)(n->size - off) : FSKEY_BLOCK);
		}
		f.bh = bh;
		if (!bh)
			f.nbh = 0;
	}
	fskey_add(k, &f);
	free(bh);
}

/* The content key of tr: breadth first from the root, names in order. */
static int tree_key(struct rtree *tr, uint64_t *out)
{
	struct placed *pl = calloc(tr->nn + 2, sizeof(*pl));
	size_t npl = 0, next = 0, i;
	struct fskey k;
	int err = pl ? fskey_init(&k) : -ENOMEM;

	if (err) {
		free(pl);
		return err;
	}
	if (tr->ne)
		qsort(tr->e, tr->ne, sizeof(*tr->e), entry_cmp);
	pl[npl].id = TRACE_ROOT_ID;
	pl[npl++].rel = strdup("");
	key_node(&k, node(tr, TRACE_ROOT_ID), "", NULL);
	for (next = 0; next < npl; next++) {
		const struct rnode *d = node(tr, pl[next].id);

		if (!d || !S_ISDIR(d->mode))
			continue;
		for (i = 0; i < tr->ne; i++) {
			const struct rentry *e = &tr->e[i];
			const struct rnode *c = node(tr, e->child);
			const struct placed *prev;
			char *rel;

			if (e->parent != pl[next].id || !c || !c->mode)
				continue;
			prev = find_placed(pl, npl, c->id);
			if (prev && S_ISDIR(c->mode))
				continue; /* a directory reached twice: the first counts */
			if (asprintf(&rel, "%s%s%s", pl[next].rel, *pl[next].rel ? "/" : "",
				     e->name) < 0)
				continue;
			key_node(&k, c, rel, prev && S_ISREG(c->mode) ? prev->rel : NULL);
			if (!prev && (S_ISDIR(c->mode) || S_ISREG(c->mode))) {
				pl[npl].id = c->id;
				pl[npl++].rel = rel;
			} else {
				free(rel);
			}
		}
	}
	*out = fskey_final(&k);
	for (i = 0; i < npl; i++)
		free(pl[i].rel);
	free(pl);
	return 0;
}

/* ---- loading the base ---- */

/* Reads one base entry's inode (attributes, bytes, target) from fd (O_PATH). */
static int load_inode(struct rnode *n, int basefd, const char *rel, int fd)
{
	struct stat st;
	char target[4097];
	ssize_t len;
	int rfd, err;

	if (fstat(fd, &st) < 0)
		return -errno;
	n->mode = st.st_mode & (S_IFMT | 07777);
	n->uid = st.st_uid;
	n->gid = st.st_gid;
	n->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if ((err = fskey_read_xattrs(fd, &n->xa, &n->nxa)) < 0)
		return err;
	if (S_ISLNK(st.st_mode)) {
		len = readlinkat(fd, "", target, sizeof(target) - 1);
		if (len < 0)
			return -errno;
		n->target = strndup(target, (size_t)len);
		return n->target ? 0 : -ENOMEM;
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	rfd = ops_base_open(basefd, rel, O_RDONLY);
	if (rfd < 0)
		return rfd;
	err = node_resize(n, (uint64_t)st.st_size);
	if (!err && st.st_size && pread(rfd, n->data, (size_t)st.st_size, 0) != st.st_size)
		err = -EIO;
	close(rfd);
	return err;
}

static int load_base(struct ref *r, char *err, size_t errlen)
{
	struct names *nm = names_new();
	char path[4200], rel[4096];
	int basefd, rc = nm ? 0 : -ENOMEM, fd;
	struct rnode *root;
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", r->t->dir, TRACE_BASE_DIR);
	basefd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (basefd < 0 && !rc) {
		rc = -errno;
		snprintf(err, errlen, "base snapshot %s: %s", path, strerror(errno));
	}
	if (!rc && !(root = node_get(&r->base, TRACE_ROOT_ID)))
		rc = -ENOMEM;
	if (!rc)
		rc = load_inode(root, basefd, "/", basefd);
	for (i = 0; !rc && i < r->t->nbase; i++) {
		const struct ops_op *op = &r->t->base[i];
		struct trace_rec tr = {.op = TRACE_OP_BASE, .id = op->id, .parent = op->parent,
				       .name = ops_name(r->t, op), .name_len = op->name_len};
		struct rnode *n;

		if ((rc = names_apply(nm, &tr)) < 0 || names_path(nm, op->id, rel, sizeof(rel)) < 0 ||
		    (rc = entry_set(&r->base, op->parent, tr.name, tr.name_len, op->id)) < 0)
			break;
		if ((n = node(&r->base, op->id)) && n->mode)
			continue; /* a second name of a hard-linked file */
		if (!(n = node_get(&r->base, op->id))) {
			rc = -ENOMEM;
			break;
		}
		fd = ops_base_open(basefd, rel, O_PATH);
		rc = fd < 0 ? fd : load_inode(n, basefd, rel, fd);
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			snprintf(err, errlen, "base snapshot %s: %s", rel, strerror(-rc));
	}
	names_free(nm);
	if (basefd >= 0)
		close(basefd);
	return rc;
}

/* Defines every inode a create makes, with the attributes its record gives. */
static int define_created(struct ref *r)
{
	size_t i;

	for (i = 0; i < r->t->n; i++) {
		const struct ops_op *op = &r->t->v[i];
		struct rnode *n;

		if (op->kind != OPS_NS || (op->op != TRACE_OP_CREATE && op->op != TRACE_OP_MKNOD &&
					   op->op != TRACE_OP_MKDIR && op->op != TRACE_OP_SYMLINK))
			continue;
		if (!(n = node_get(&r->base, op->id)))
			return -ENOMEM;
		n->mode = op->op == TRACE_OP_SYMLINK ? S_IFLNK | 0777
			  : op->op == TRACE_OP_MKDIR ? S_IFDIR | (op->mode & 07777)
			  : op->mode & (S_IFMT | 07777);
		n->uid = op->uid;
		n->gid = op->gid;
		n->mtime_ns = ops_wall_ns(r->t, op);
		if (op->op == TRACE_OP_SYMLINK && !(n->target = strndup(ops_name2(r->t, op),
									   op->name2_len)))
			return -ENOMEM;
	}
	return 0;
}

static bool is_sync_write(const struct ops_op *w)
{
	return w->op == TRACE_OP_WRITE && w->kind == OPS_DATA &&
	       (w->flags & (TRACE_WF_SYNC | TRACE_WF_DSYNC)) && !(w->flags & TRACE_WF_WRITEPAGE);
}

/*
 * A sync write is its own barrier unless its thread's next record is an
 * FSYNC of its file, or the same call going on: a sync write of the
 * same file and kind starting where it ended (the kernel splits calls).
 */
static void find_self_sync(struct ref *r)
{
	const struct ops_trace *t = r->t;
	const unsigned kind = TRACE_WF_SYNC | TRACE_WF_DSYNC | TRACE_WF_DIRECT;
	size_t i, j;

	for (i = 0; i < t->n; i++) {
		const struct ops_op *w = &t->v[i], *nx;

		if (!is_sync_write(w))
			continue;
		r->self_sync[i] = true;
		for (j = i + 1; w->pid && j < t->n; j++)
			if (t->v[j].pid == w->pid)
				break;
		if (!w->pid || j == t->n)
			continue;
		nx = &t->v[j];
		if ((nx->op == TRACE_OP_FSYNC && nx->id == w->id) ||
		    (is_sync_write(nx) && nx->id == w->id && nx->off == w->off + w->data_len &&
		     (nx->flags & kind) == (w->flags & kind)))
			r->self_sync[i] = false;
	}
}

int ref_new(const struct ops_trace *t, struct ref **out, char *err, size_t errlen)
{
	struct ref *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (!r || !(r->self_sync = calloc(t->n + 1, sizeof(bool)))) {
		free(r);
		return -ENOMEM;
	}
	r->t = t;
	rc = load_base(r, err, errlen);
	if (!rc && (rc = define_created(r)) < 0)
		snprintf(err, errlen, "out of memory");
	if (rc < 0) {
		ref_free(r);
		return rc;
	}
	find_self_sync(r);
	*out = r;
	return 0;
}

void ref_free(struct ref *r)
{
	if (!r)
		return;
	tree_free(&r->base);
	free(r->self_sync);
	free(r);
}

/* ---- durability, by scanning for covering barriers ---- */

static bool changes_state(const struct ops_op *op)
{
	return op->kind == OPS_DATA || op->kind == OPS_NS;
}

static bool is_attr_op(const struct ops_op *op)
{
	return op->op == TRACE_OP_SETATTR || op->op == TRACE_OP_SETXATTR ||
	       op->op == TRACE_OP_REMOVEXATTR;
}

/* Namespace ops and every data op but a write: what a journal logs. */
static bool is_metadata(const struct ops_op *op)
{
	return op->kind == OPS_NS || (op->kind == OPS_DATA && op->op != TRACE_OP_WRITE);
}

static bool is_journal_op(const struct model *m, const struct ops_op *op)
{
	return m->journal_in_order && is_metadata(op);
}

/* Does barrier b (a barrier record, or a self-syncing write) cover op? */
static bool covers(const struct model *m, const struct ops_op *b, const struct ops_op *op)
{
	bool datasync = b->op == TRACE_OP_WRITE ? !(b->flags & TRACE_WF_SYNC) : (b->flags & 1);

	if (b->op == TRACE_OP_SYNCFS)
		return true;
	if (m->barrier_commits_journal && is_journal_op(m, op))
		return true;
	if (op->kind == OPS_DATA && !is_attr_op(op))
		return (b->op == TRACE_OP_FSYNC || b->op == TRACE_OP_WRITE) && b->id == op->id;
	if (op->kind == OPS_DATA)
		return !datasync && b->id == op->id;
	return false; /* namespace ops: by directory, below */
}

/* Was directory dir fsynced (or everything synced) after op i, by a
 * barrier sure to run after it, and before crash? */
static bool dir_synced(const struct ref *r, uint64_t dir, size_t i, uint64_t crash)
{
	size_t j;

	for (j = i + 1; j < r->t->n && r->t->v[j].seq < crash; j++) {
		const struct ops_op *b = &r->t->v[j];

		if (b->kind == OPS_BARRIER && !ops_concurrent(r->t, i, j) &&
		    (b->op == TRACE_OP_SYNCFS || (b->op == TRACE_OP_FSYNCDIR && b->id == dir)))
			return true;
	}
	return false;
}

static bool durable(const struct ref *r, const struct model *m, size_t i, uint64_t crash)
{
	const struct ops_op *op = &r->t->v[i];
	size_t j;

	if (m->prefix_only && !ops_is_early(op))
		return op->seq < crash;
	if (op->kind == OPS_NS && m->ns_needs_dirsync)
		return dir_synced(r, op->parent, i, crash) &&
		       (op->op != TRACE_OP_RENAME || dir_synced(r, op->parent2, i, crash));
	for (j = i; j < r->t->n && r->t->v[j].seq < crash; j++) {
		const struct ops_op *b = &r->t->v[j];
		bool barrier = b->kind == OPS_BARRIER || r->self_sync[j];

		if (barrier && (j > i || r->self_sync[i]) && covers(m, b, op) &&
		    !ops_concurrent(r->t, i, j))
			return true;
	}
	return false;
}

static void in_flight(const struct ref *r, const struct model *m, uint64_t crash,
		      size_t *inf, size_t *n)
{
	size_t i;

	*n = 0;
	for (i = 0; i < r->t->n && r->t->v[i].seq <= crash; i++)
		if (changes_state(&r->t->v[i]) && !durable(r, m, i, crash))
			inf[(*n)++] = i;
}

size_t ref_in_flight(struct ref *r, const struct model *m, uint64_t crash)
{
	size_t *inf = malloc((r->t->n + 1) * sizeof(*inf)), n = 0;

	if (inf)
		in_flight(r, m, crash, inf, &n);
	free(inf);
	return n;
}

/* ---- enumeration ---- */

/* The choices of one crash point. */
struct enumr {
	struct ref *r;
	const struct model *m;
	const struct tear_geom *g;
	uint64_t crash;
	size_t *inf;            /* in-flight op indices, ascending */
	size_t ninf;
	struct tear_set *tears; /* per in-flight op: the variants the model allows */
	unsigned *pick;         /* per in-flight op: 0 whole, 1 dropped, 2 + v torn by variant v */
	uint64_t nmarks;        /* marks at or before the crash */
};

/* The variants of in-flight op i the model lets it tear by (empty if none). */
static int allowed_tears(const struct enumr *e, size_t i, struct tear_set *out)
{
	const struct ops_op *op = &e->r->t->v[i];
	struct tear_set all = {0};
	size_t k;
	int err;

	memset(out, 0, sizeof(*out));
	if (op->op != TRACE_OP_WRITE || op->data_len == 0 ||
	    (e->m->tears == MODEL_TEAR_LAST && op->seq != e->crash))
		return 0;
	if ((err = tear_family(e->g, op, &all)) < 0)
		return err;
	for (k = 0; k < all.n; k++) {
		struct tear_variant *v = &all.v[k];

		if ((v->size_lost && !e->m->bytes_without_size) ||
		    (v->dmg_end > op->old_size && !e->m->size_without_bytes))
			continue;
		struct tear_variant *nv = realloc(out->v, (out->n + 1) * sizeof(*out->v));

		if (!nv) {
			tear_set_free(&all);
			return -ENOMEM;
		}
		out->v = nv;
		out->v[out->n++] = *v;
		v->rle = NULL; /* moved */
	}
	tear_set_free(&all);
	return 0;
}

/*
 * Is pick[] legal, and what does it cost?  Returns the cost, or -1 if
 * illegal.  Legal: under journal_in_order the dropped metadata ops are a
 * suffix of the in-flight metadata ops.  Cost (the same under every
 * model): one per dropped or torn op, except that the dropped metadata
 * ops forming a suffix of the in-flight metadata ops count once.
 */
static int legal_cost(const struct enumr *e, bool *prefix)
{
	size_t k, suffix = 0, dropped_meta = 0;
	bool in_suffix = true;
	int cost = 0;

	*prefix = true;
	for (k = 0; k < e->ninf; k++) {
		const struct ops_op *op = &e->r->t->v[e->inf[k]];

		if (e->pick[k] && op->seq != e->crash)
			*prefix = false;
		if (!is_metadata(op)) {
			cost += e->pick[k] != 0;
			continue;
		}
		dropped_meta += e->pick[k] == 1;
	}
	for (k = e->ninf; k-- > 0;) { /* the dropped metadata suffix, from the end */
		const struct ops_op *op = &e->r->t->v[e->inf[k]];

		if (!is_metadata(op))
			continue;
		if (e->pick[k] != 1)
			in_suffix = false;
		else if (in_suffix)
			suffix++;
	}
	if (e->m->journal_in_order && dropped_meta != suffix)
		return -1; /* a metadata op kept after a dropped one */
	return cost + (int)(dropped_meta - suffix) + (suffix > 0);
}

/* Builds the state pick[] describes, keys it, and calls cb. */
static int emit(struct enumr *e, unsigned cost, bool prefix, ref_cb cb, void *arg)
{
	struct state s = {.crash = e->crash, .sector = e->g->sector, .block = e->g->block};
	struct rtree tr = {0};
	char *id = NULL;
	uint64_t gkey = 0;
	size_t k, i;
	int rc = 0;

	for (k = 0; !rc && k < e->ninf; k++) {
		uint64_t seq = e->r->t->v[e->inf[k]].seq;

		if (e->pick[k] == 1)
			rc = state_add(&s, seq, STATE_DROP, NULL, false);
		else if (e->pick[k] >= 2)
			rc = state_add(&s, seq, STATE_TEAR, e->tears[k].v[e->pick[k] - 2].rle,
				       e->tears[k].v[e->pick[k] - 2].size_lost);
	}
	if (!rc && !(id = state_id_new(&s)))
		rc = -ENOMEM;
	if (!rc)
		rc = tree_copy(&tr, &e->r->base);
	if (id)
		gkey = XXH3_64bits(id, strlen(id));
	for (i = 0; !rc && i < e->r->t->n && e->r->t->v[i].seq <= e->crash; i++) {
		const struct ops_op *op = &e->r->t->v[i];
		const struct state_choice *c = state_find(&s, op->seq);

		if (changes_state(op) && !(c && c->how == STATE_DROP))
			rc = apply(e->r, &tr, op, c, &s, gkey);
	}
	if (!rc) {
		struct ref_state rs = {.id = id, .crash = e->crash, .nmarks = e->nmarks,
				       .cost = cost, .prefix = prefix};

		rc = tree_key(&tr, &rs.content);
		rs.key = fskey_state(rs.content, e->nmarks);
		if (!rc)
			rc = cb(arg, &rs);
	}
	tree_free(&tr);
	state_free(&s);
	free(id);
	return rc;
}

/* Steps pick[] to the next combination; false after the last. */
static bool next_pick(struct enumr *e)
{
	size_t k;

	for (k = e->ninf; k-- > 0;) {
		if (++e->pick[k] < 2 + e->tears[k].n)
			return true;
		e->pick[k] = 0;
	}
	return false;
}

int ref_states(struct ref *r, const struct model *m, const struct tear_geom *g,
	       uint64_t crash, uint64_t max, ref_cb cb, void *arg)
{
	struct enumr e = {.r = r, .m = m, .g = g, .crash = crash};
	double total = 1;
	size_t k, i;
	int rc = 0;

	e.inf = malloc((r->t->n + 1) * sizeof(*e.inf));
	e.tears = calloc(r->t->n + 1, sizeof(*e.tears));
	e.pick = calloc(r->t->n + 1, sizeof(*e.pick));
	if (!e.inf || !e.tears || !e.pick)
		rc = -ENOMEM;
	if (!rc)
		in_flight(r, m, crash, e.inf, &e.ninf);
	for (k = 0; !rc && k < e.ninf; k++) {
		rc = allowed_tears(&e, e.inf[k], &e.tears[k]);
		total *= 2.0 + (double)e.tears[k].n;
	}
	for (i = 0; i < r->t->n && r->t->v[i].seq <= crash; i++)
		e.nmarks += r->t->v[i].kind == OPS_MARK;
	if (!rc && total > (double)max)
		rc = -E2BIG;
	do {
		bool prefix;
		int cost = rc ? -1 : legal_cost(&e, &prefix);

		if (cost >= 0)
			rc = emit(&e, (unsigned)cost, prefix, cb, arg);
	} while (!rc && next_pick(&e));
	for (k = 0; e.tears && k < e.ninf; k++)
		tear_set_free(&e.tears[k]);
	free(e.inf);
	free(e.tears);
	free(e.pick);
	return rc;
}
