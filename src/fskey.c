/*
 * fskey.c - content keys of trees (the walk is specified in fskey.h), and
 * fskey_dir(), which keys a real directory.
 *
 * fskey_dir reads everything it hashes through file descriptors opened
 * beneath the directory (openat with O_NOFOLLOW), so a tree under test
 * cannot point it elsewhere with symlinks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include "fskey.h"

int fskey_init(struct fskey *k)
{
	k->st = XXH3_createState();
	if (!k->st)
		return -ENOMEM;
	XXH3_64bits_reset(k->st);
	return 0;
}

static void put(struct fskey *k, const void *p, size_t len)
{
	XXH3_64bits_update(k->st, p, len);
}

static void put_str(struct fskey *k, const char *s)
{
	put(k, s, strlen(s) + 1);
}

void fskey_add(struct fskey *k, const struct fskey_node *n)
{
	size_t i;

	put_str(k, n->rel);
	put(k, &n->mode, sizeof(n->mode));
	put(k, &n->uid, sizeof(n->uid));
	put(k, &n->gid, sizeof(n->gid));
	put(k, &n->mtime_ns, sizeof(n->mtime_ns));
	for (i = 0; i < n->nxa; i++) {
		uint64_t len = n->xa[i].len;

		if (fskey_xattr_ignored(n->xa[i].name))
			continue;
		put_str(k, n->xa[i].name);
		put(k, &len, sizeof(len));
		if (len)
			put(k, n->xa[i].value, n->xa[i].len);
	}
	if (S_ISLNK(n->mode)) {
		put_str(k, n->target ? n->target : "");
	} else if (S_ISREG(n->mode) && n->link_to) {
		put(k, "L", 1);
		put_str(k, n->link_to);
	} else if (S_ISREG(n->mode)) {
		put(k, "F", 1);
		put(k, &n->size, sizeof(n->size));
		if (n->nbh)
			put(k, n->bh, n->nbh * sizeof(*n->bh));
	}
}

uint64_t fskey_final(struct fskey *k)
{
	uint64_t h = XXH3_64bits_digest(k->st);

	XXH3_freeState(k->st);
	k->st = NULL;
	return h;
}

void fskey_abort(struct fskey *k)
{
	XXH3_freeState(k->st);
	k->st = NULL;
}

uint64_t fskey_block(const void *buf, size_t len)
{
	return XXH3_64bits(buf, len);
}

static void *dup_mem(const void *p, size_t len)
{
	void *q = malloc(len ? len : 1);

	if (q && len)
		memcpy(q, p, len);
	return q;
}

/* Index of name in xa, or n. */
static size_t xattr_find(const struct fskey_xattr *xa, size_t n, const char *name, size_t nlen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(xa[i].name) == nlen && !memcmp(xa[i].name, name, nlen))
			return i;
	return n;
}

int fskey_xattr_put(struct fskey_xattr **xa, size_t *n, const char *name, size_t nlen,
		    const void *v, size_t len)
{
	size_t i = xattr_find(*xa, *n, name, nlen);
	struct fskey_xattr *x;
	void *val = dup_mem(v, len);

	if (!val)
		return -ENOMEM;
	if (i < *n) {
		free((*xa)[i].value);
		(*xa)[i].value = val;
		(*xa)[i].len = len;
		return 0;
	}
	if (!(x = realloc(*xa, (*n + 1) * sizeof(*x))) || !(x[*n].name = strndup(name, nlen))) {
		if (x)
			*xa = x;
		free(val);
		return -ENOMEM;
	}
	*xa = x;
	x[*n].value = val;
	x[*n].len = len;
	(*n)++;
	qsort(x, *n, sizeof(*x), fskey_xattr_cmp);
	return 0;
}

void fskey_xattr_del(struct fskey_xattr *xa, size_t *n, const char *name, size_t nlen)
{
	size_t i = xattr_find(xa, *n, name, nlen);

	if (i == *n)
		return;
	free(xa[i].name);
	free(xa[i].value);
	memmove(&xa[i], &xa[i + 1], (*n - i - 1) * sizeof(*xa));
	(*n)--;
}

int fskey_xattr_cmp(const void *a, const void *b)
{
	const struct fskey_xattr *x = a, *y = b;

	return strcmp(x->name, y->name);
}

int fskey_xattr_ignored(const char *name)
{
	return !strcmp(name, "security.selinux");
}

uint64_t fskey_state(uint64_t content, uint64_t nmarks)
{
	return XXH3_64bits_withSeed(&content, sizeof(content), nmarks);
}

/* ---- keying a directory on disk ---- */

struct walk_node {
	char *rel;      /* path below the root */
	int dirfd;      /* open directory (directories only), else -1 */
};

struct walk_link {
	dev_t dev;
	ino_t ino;
	char *rel;      /* first path of a regular file with links */
};

struct walk {
	struct walk_node *q; /* directories to visit, BFS order */
	size_t nq, qcap, qhead;
	struct walk_link *links;
	size_t nlinks;
	char *buf;           /* FSKEY_BLOCK bytes */
	char *err;
	size_t errlen;
};

/*
 * Reads the xattrs of fd (an O_PATH fd, of a symlink too) through its
 * /proc/self/fd link, which resolves to the inode the fd holds.
 */
int fskey_read_xattrs(int fd, struct fskey_xattr **out, size_t *n)
{
	char path[64], *names = NULL, *p;
	ssize_t len;
	int err = 0;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = listxattr(path, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? -errno : 0;
	if (!(names = malloc((size_t)len + 1)))
		return -ENOMEM;
	len = listxattr(path, names, (size_t)len);
	for (p = names; !err && len > 0 && p < names + len; p += strlen(p) + 1) {
		ssize_t vl = getxattr(path, p, NULL, 0);
		struct fskey_xattr *v;

		if (vl < 0 || fskey_xattr_ignored(p))
			continue;
		if (!(v = realloc(*out, (*n + 1) * sizeof(*v)))) {
			err = -ENOMEM;
			break;
		}
		*out = v;
		v[*n].name = strdup(p);
		v[*n].value = malloc((size_t)vl + 1);
		v[*n].len = (size_t)vl;
		if (!v[*n].name || !v[*n].value)
			err = -ENOMEM;
		else if (getxattr(path, p, v[*n].value, (size_t)vl) != vl)
			err = -EIO;
		(*n)++;
	}
	free(names);
	if (*n)
		qsort(*out, *n, sizeof(**out), fskey_xattr_cmp);
	return err;
}

void fskey_free_xattrs(struct fskey_xattr *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

/* Block hashes of a regular file's bytes. */
static int hash_file(struct walk *w, int fd, uint64_t size, uint64_t **bh, size_t *nbh)
{
	size_t n = (size_t)((size + FSKEY_BLOCK - 1) / FSKEY_BLOCK), b;

	*nbh = n;
	*bh = malloc((n ? n : 1) * sizeof(**bh));
	if (!*bh)
		return -ENOMEM;
	for (b = 0; b < n; b++) {
		uint64_t off = (uint64_t)b * FSKEY_BLOCK;
		size_t len = size - off < FSKEY_BLOCK ? (size_t)(size - off) : FSKEY_BLOCK;

		if (pread(fd, w->buf, len, (off_t)off) != (ssize_t)len)
			return -EIO;
		(*bh)[b] = fskey_block(w->buf, len);
	}
	return 0;
}

/* The first path of the regular file st if it was seen before, else remembers rel. */
static const char *link_first(struct walk *w, const struct stat *st, const char *rel)
{
	struct walk_link *nl;
	size_t i;

	if (st->st_nlink < 2)
		return NULL;
	for (i = 0; i < w->nlinks; i++)
		if (w->links[i].dev == st->st_dev && w->links[i].ino == st->st_ino)
			return w->links[i].rel;
	nl = realloc(w->links, (w->nlinks + 1) * sizeof(*w->links));
	if (nl) { /* without memory the link is keyed as a file: the keys then differ */
		w->links = nl;
		w->links[w->nlinks].dev = st->st_dev;
		w->links[w->nlinks].ino = st->st_ino;
		w->links[w->nlinks++].rel = strdup(rel);
	}
	return NULL;
}

static int queue_dir(struct walk *w, const char *rel, int dirfd)
{
	if (w->nq == w->qcap) {
		size_t cap = w->qcap ? 2 * w->qcap : 16;
		struct walk_node *q = realloc(w->q, cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		w->q = q;
		w->qcap = cap;
	}
	w->q[w->nq].rel = strdup(rel);
	w->q[w->nq++].dirfd = dirfd;
	return w->q[w->nq - 1].rel ? 0 : -ENOMEM;
}

/* Keys one entry name of directory dfd (path rel). */
static int key_entry(struct walk *w, struct fskey *k, int dfd, const char *name,
		     const char *rel)
{
	struct fskey_node n = {.rel = rel};
	struct fskey_xattr *xa = NULL;
	uint64_t *bh = NULL;
	char target[4097];
	struct stat st;
	int fd, err;

	fd = *name ? openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)
		   : openat(dfd, ".", O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	n.mode = st.st_mode & (S_IFMT | 07777);
	n.uid = st.st_uid;
	n.gid = st.st_gid;
	n.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	err = fskey_read_xattrs(fd, &xa, &n.nxa);
	n.xa = xa;
	if (!err && S_ISLNK(st.st_mode)) {
		ssize_t len = readlinkat(fd, "", target, sizeof(target) - 1);

		err = len < 0 ? -errno : 0;
		target[len < 0 ? 0 : len] = 0;
		n.target = target;
	} else if (!err && S_ISREG(st.st_mode) && !(n.link_to = link_first(w, &st, rel))) {
		int rfd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

		n.size = (uint64_t)st.st_size;
		err = rfd < 0 ? -errno : hash_file(w, rfd, n.size, &bh, &n.nbh);
		n.bh = bh;
		if (rfd >= 0)
			close(rfd);
	} else if (!err && S_ISDIR(st.st_mode)) {
		err = queue_dir(w, rel, -1); /* opened when its turn comes */
	}
	if (!err)
		fskey_add(k, &n);
	fskey_free_xattrs(xa, n.nxa);
	free(bh);
	close(fd);
	return err;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory fd, sorted; NULL-terminated array in *out. */
static int list_dir(int fd, char ***out, size_t *n)
{
	int d = dup(fd);
	DIR *dir = d >= 0 ? fdopendir(d) : NULL;
	struct dirent *e;
	char **v = NULL;

	*n = 0;
	if (!dir) {
		if (d >= 0)
			close(d);
		return -errno;
	}
	rewinddir(dir);
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		v = realloc(v, (*n + 2) * sizeof(*v));
		if (!v || !(v[*n] = strdup(e->d_name))) {
			closedir(dir);
			return -ENOMEM;
		}
		(*n)++;
	}
	closedir(dir);
	if (*n)
		qsort(v, *n, sizeof(*v), name_cmp);
	*out = v;
	return 0;
}

/* Keys the entries of directory d, which it opens below root (a tree has no links in its dirs). */
static int walk_dir(struct walk *w, struct fskey *k, int root, struct walk_node *d)
{
	char **names = NULL, rel[8192];
	size_t n = 0, i;
	int err;

	d->dirfd = *d->rel ? openat(root, d->rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
			   : dup(root);
	err = d->dirfd < 0 ? -errno : list_dir(d->dirfd, &names, &n);

	for (i = 0; !err && i < n; i++) {
		snprintf(rel, sizeof(rel), "%s%s%s", d->rel, *d->rel ? "/" : "", names[i]);
		err = key_entry(w, k, d->dirfd, names[i], rel);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

int fskey_dir(const char *dir, uint64_t *key, char *err, size_t errlen)
{
	struct walk w = {.err = err, .errlen = errlen};
	struct fskey k = {0};
	size_t i;
	int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (root < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return rc;
	}
	w.buf = malloc(FSKEY_BLOCK);
	rc = !w.buf ? -ENOMEM : fskey_init(&k);
	if (!rc)
		rc = key_entry(&w, &k, root, "", "");
	for (; !rc && w.qhead < w.nq; w.qhead++) {
		rc = walk_dir(&w, &k, root, &w.q[w.qhead]);
		if (w.q[w.qhead].dirfd >= 0) /* one directory open at a time, not the tree */
			close(w.q[w.qhead].dirfd);
		w.q[w.qhead].dirfd = -1;
	}
	if (!rc)
		*key = fskey_final(&k);
	else if (k.st)
		fskey_abort(&k);
	if (rc)
		snprintf(err, errlen, "keying %s: %s", dir, strerror(-rc));
	for (i = 0; i < w.nq; i++) {
		free(w.q[i].rel);
		if (w.q[i].dirfd >= 0)
			close(w.q[i].dirfd);
	}
	for (i = 0; i < w.nlinks; i++)
		free(w.links[i].rel);
	free(w.links);
	free(w.q);
	free(w.buf);
	close(root);
	return rc;
}
