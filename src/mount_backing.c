/*
 * mount_backing.c - `faultline mount`'s backing directory made to hold a
 * crash state (mount_cmd.c), at the cost of the files the epoch changed.
 *
 * The state is built as the next epoch's base; the backing directory must
 * then hold exactly that tree.  A file the epoch left alone - one name in
 * the base, no state-changing op naming it or a directory above it - is
 * byte for byte the same in the base, the state and the backing, at the
 * same path; the state's is still a hard link of the base's (mat.h,
 * mat_new_shared).  Such a file is not copied: the new tree takes the
 * backing's own file, by a second hard link.  Everything else is copied
 * from the state, with its mode, owner, times and xattrs.
 *
 * The new tree is made in BACKING/.faultline-new, then the old entries
 * are removed and the new ones renamed into place: a failure while making
 * it leaves the backing as it was (the links it took are only links).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mount_i.h"
#include "names.h"
#include "record_i.h"
#include "trace.h"

struct walk {
	int from;      /* the state directory */
	int to;	       /* BACKING/.faultline-new */
	int backing;   /* BACKING */
	int base;      /* the ended epoch's base */
	char **stable; /* paths of the files left alone, sorted */
	size_t nstable;
	void *copied;	/* tsearch of struct seen: (dev, ino) -> first path, for
			   hard links */
	uint64_t bytes; /* copied */
};

struct seen {
	dev_t dev;
	ino_t ino;
	char *rel;
};

static int seen_cmp(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void seen_free(void *p)
{
	free(((struct seen *)p)->rel);
	free(p);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Ids that a state-changing op of t names (its file, a rename's victim),
 * sorted. */
static uint64_t *touched_ids(const struct ops_trace *t, size_t *n)
{
	uint64_t *v = malloc((2 * t->n + 1) * sizeof(*v));
	size_t i;

	*n = 0;
	for (i = 0; v && i < t->n; i++) {
		if (!ops_changes_state(&t->v[i]))
			continue;
		v[(*n)++] = t->v[i].id;
		if (t->v[i].op == TRACE_OP_RENAME)
			v[(*n)++] = t->v[i].id2;
	}
	if (v)
		qsort(v, *n, sizeof(*v), ops_u64_cmp);
	return v;
}

static bool touched(const uint64_t *v, size_t n, uint64_t id)
{
	return bsearch(&id, v, n, sizeof(*v), ops_u64_cmp) != NULL;
}

/* A base entry's inode and directory (hard links: one entry per name). */
struct idp {
	uint64_t id, parent;
};

static int idp_cmp(const void *a, const void *b)
{
	return ops_u64_cmp(&((const struct idp *)a)->id,
		       &((const struct idp *)b)->id);
}

/* The base entry of id in v (sorted), or NULL; *names gets how many it has. */
static const struct idp *idp_find(const struct idp *v, size_t n, uint64_t id,
				  size_t *names)
{
	struct idp k = {.id = id};
	const struct idp *e = bsearch(&k, v, n, sizeof(*v), idp_cmp), *q;

	*names = 0;
	if (!e)
		return NULL;
	for (q = e; q > v && q[-1].id == id; q--)
		;
	for (e = q; q < v + n && q->id == id; q++)
		(*names)++;
	return e;
}

/*
 * The base's regular files that the epoch left alone: one name in the
 * base, and no state-changing op naming the file or a directory above
 * it.  Their paths, sorted (w->stable).
 */
static int stable_files(const struct ops_trace *t, struct walk *w)
{
	struct names *nm = names_new();
	struct idp *byid = malloc((t->nbase + 1) * sizeof(*byid));
	size_t ntouched, k, depth, names;
	uint64_t *tv = touched_ids(t, &ntouched), up;
	const struct idp *e;
	char rel[PATH_MAX], *p;
	struct stat st;
	int rc = nm && tv && byid &&
			 (w->stable = calloc(t->nbase + 1, sizeof(char *)))
		     ? 0
		     : -ENOMEM;

	for (k = 0; !rc && k < t->nbase; k++)
		byid[k] = (struct idp){.id = t->base[k].id,
				       .parent = t->base[k].parent};
	if (!rc)
		qsort(byid, t->nbase, sizeof(*byid), idp_cmp);
	for (k = 0; !rc && k < t->nbase; k++) /* every name first: paths are whole */
		rc = ops_names_apply(nm, t, &t->base[k]);
	for (k = 0; !rc && k < t->nbase; k++) {
		const struct ops_op *op = &t->base[k];

		if (!S_ISREG(op->mode) || touched(tv, ntouched, op->id) ||
		    !idp_find(byid, t->nbase, op->id, &names) || names != 1)
			continue; /* written, moved, or a hard link: copied */
		for (up = op->parent, depth = 0;
		     up && up != TRACE_ROOT_ID && depth < t->nbase; depth++) {
			if (touched(tv, ntouched, up))
				break;
			e = idp_find(byid, t->nbase, up, &names);
			up = e ? e->parent : 0;
		}
		if ((up && up != TRACE_ROOT_ID) ||
		    names_path(nm, op->id, rel, sizeof(rel)) < 0)
			continue;
		for (p = rel; *p == '/';
		     p++) /* names.h paths start at the root */
			;
		if (fstatat(w->base, p, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (!(w->stable[w->nstable] = strdup(p)))
			rc = -ENOMEM;
		else
			w->nstable++;
	}
	if (!rc)
		qsort(w->stable, w->nstable, sizeof(char *), str_cmp);
	names_free(nm);
	free(tv);
	free(byid);
	return rc;
}

static bool is_stable(const struct walk *w, const char *rel)
{
	return bsearch(&rel, w->stable, w->nstable, sizeof(char *), str_cmp) !=
	       NULL;
}

/* to's xattrs made from's (both opened, not O_PATH): each of from's set,
 * the others removed.  Names a file system refuses (EPERM, ENOTSUP) are
 * skipped, as the materializer does.  0 or -errno. */
static int copy_xattrs(int from, int to)
{
	static char names[65536], have[65536], val[65536];
	ssize_t n = flistxattr(from, names, sizeof(names)), m, len;
	char *p, *q;

	if (n < 0)
		return errno == ENOTSUP ? 0 : -errno;
	if ((m = flistxattr(to, have, sizeof(have))) < 0)
		return errno == ENOTSUP ? 0 : -errno;
	for (q = have; q < have + m; q += strlen(q) + 1) {
		for (p = names; p < names + n && strcmp(p, q);
		     p += strlen(p) + 1)
			;
		if (p >= names + n && fremovexattr(to, q) < 0 &&
		    errno != EPERM && errno != ENOTSUP)
			return -errno;
	}
	for (p = names; p < names + n; p += strlen(p) + 1) {
		if ((len = fgetxattr(from, p, val, sizeof(val))) < 0)
			return -errno;
		if (fsetxattr(to, p, val, (size_t)len, 0) < 0 &&
		    errno != EPERM && errno != ENOTSUP)
			return -errno;
	}
	return 0;
}

/* The state's attributes st onto pfd (O_PATH or open): owner, then xattrs
 * (from and to: opened descriptors, or -1 for none), then mode (after
 * chown, which clears set-ID bits, and the xattrs, which chown may drop),
 * then times. */
static int give_attrs(int pfd, const struct stat *st, int from, int to)
{
	struct timespec tv[2] = {st->st_atim, st->st_mtim};
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", pfd);
	if (fchownat(pfd, "", st->st_uid, st->st_gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno != EPERM)
		return -errno;
	if (from >= 0 && to >= 0 && (rc = copy_xattrs(from, to)) < 0)
		return rc;
	if (!S_ISLNK(st->st_mode) && chmod(path, st->st_mode & 07777) < 0)
		return -errno;
	return utimensat(pfd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0
		   ? -errno
		   : 0;
}

/* A directory's attributes, xattrs included (opened on both sides). */
static int put_dir_attrs(struct walk *w, const char *rel, int pfd,
			 const struct stat *st)
{
	int from = openat(w->from, *rel ? rel : ".",
			  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int to = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = from < 0 || to < 0 ? -errno : give_attrs(pfd, st, from, to);

	if (from >= 0)
		close(from);
	if (to >= 0)
		close(to);
	return rc;
}

/* One regular file of the state at rel into the new tree. */
static int put_file(struct walk *w, const char *rel, const struct stat *st)
{
	struct seen k = {.dev = st->st_dev, .ino = st->st_ino}, *s;
	void **p;
	int src, dst, rc = 0;
	ssize_t n;

	if (is_stable(w, rel) && linkat(w->backing, rel, w->to, rel, 0) == 0)
		return 0; /* left alone by the epoch: the backing's own file */
	if ((p = tfind(&k, &w->copied, seen_cmp)))
		return linkat(w->to, (*(struct seen **)p)->rel, w->to, rel, 0) <
			       0
			   ? -errno
			   : 0;
	if ((src = openat(w->from, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	if ((dst = openat(w->to, rel,
			  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600)) < 0) {
		close(src);
		return -errno;
	}
	while ((n = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0)) > 0)
		w->bytes += (uint64_t)n;
	if (n < 0)
		rc = -errno;
	if (!rc)
		rc = give_attrs(dst, st, src, dst);
	close(src);
	close(dst);
	if (!rc && st->st_nlink > 1 && (s = malloc(sizeof(*s)))) {
		*s = k;
		if (!(s->rel = strdup(rel)) ||
		    !tsearch(s, &w->copied, seen_cmp))
			seen_free(s);
	}
	return rc;
}

/* The entry at rel (below the state directory) into the new tree, and a
 * directory's entries after it; a directory's attributes come last. */
static int put(struct walk *w, const char *rel)
{
	char target[PATH_MAX], sub[PATH_MAX];
	struct stat st;
	struct dirent *e;
	DIR *d;
	int fd, rc = 0, dfd;

	if (fstatat(w->from, *rel ? rel : ".", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		return put_file(w, rel, &st);
	if (S_ISLNK(st.st_mode)) {
		ssize_t n =
		    readlinkat(w->from, rel, target, sizeof(target) - 1);

		if (n < 0)
			return -errno;
		target[n] = 0;
		if (symlinkat(target, w->to, rel) < 0)
			return -errno;
	} else if (S_ISDIR(st.st_mode)) {
		if (*rel && mkdirat(w->to, rel, 0700) < 0)
			return -errno;
		if ((dfd = openat(w->from, *rel ? rel : ".",
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		    !(d = fdopendir(dfd))) {
			if (dfd >= 0)
				close(dfd);
			return -errno;
		}
		while (!rc && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				if (snprintf(sub, sizeof(sub), "%s%s%s", rel,
					     *rel ? "/" : "",
					     e->d_name) >= (int)sizeof(sub))
					rc = -ENAMETOOLONG;
				else
					rc = put(w, sub);
			}
		closedir(d);
		if (rc || !*rel)
			return rc; /* the root's own attributes are BACKING's:
				      left */
	} else if (mknodat(w->to, rel, st.st_mode, st.st_rdev) < 0) {
		return -errno;
	}
	if ((fd = openat(w->to, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	rc = S_ISDIR(st.st_mode) ? put_dir_attrs(w, rel, fd, &st)
				 : give_attrs(fd, &st, -1, -1);
	close(fd);
	return rc;
}

/* Moves the entries of directory from (all but the names in skip[0..2))
 * into directory to; their names are added to *moved (n entries).  0 or
 * -errno (what was moved stays listed, for the way back). */
static int move_all(const char *from, const char *to, const char *skip[2],
		    char ***moved, size_t *n)
{
	char src[PATH_MAX * 2], dst[PATH_MAX * 2], **v;
	struct dirent *e;
	DIR *d = opendir(from);
	int rc = d ? 0 : -errno;

	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, skip[0]) || !strcmp(e->d_name, skip[1]))
			continue;
		if (!(v = realloc(*moved, (*n + 1) * sizeof(*v))) ||
		    !(v[*n] = strdup(e->d_name))) {
			if (v)
				*moved = v;
			rc = -ENOMEM;
			break;
		}
		*moved = v;
		snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name);
		if (rename(src, dst) < 0)
			rc = -errno;
		else
			(*n)++;
	}
	if (d)
		closedir(d);
	return rc;
}

/* Moves the names[0..n) back from directory from to directory to. */
static void move_back(const char *from, const char *to, char **names, size_t n)
{
	char src[PATH_MAX * 2], dst[PATH_MAX * 2];

	while (n--) {
		snprintf(src, sizeof(src), "%s/%s", from, names[n]);
		snprintf(dst, sizeof(dst), "%s/%s", to, names[n]);
		rename(src, dst);
	}
}

static void names_drop(char **v, size_t n)
{
	while (n--)
		free(v[n]);
	free(v);
}

/*
 * BACKING's entries swapped for those of the new tree at tmp (inside it):
 * the old ones are moved aside into a directory of their own, the new ones
 * moved in, and only then the old ones removed.  A rename that fails puts
 * everything back: the backing is then as it was.  0 or -errno.
 */
static int swap_in(const char *backing, const char *tmp)
{
	char old[PATH_MAX + 32];
	const char *skip[2];
	char **gone = NULL, **came = NULL;
	size_t ngone = 0, ncame = 0;
	int rc;

	snprintf(old, sizeof(old), "%s/.faultline-old.XXXXXX", backing);
	if (!mkdtemp(old))
		return -errno;
	skip[0] = strrchr(tmp, '/') + 1;
	skip[1] = strrchr(old, '/') + 1;
	rc = move_all(backing, old, skip, &gone, &ngone);
	if (!rc && (rc = move_all(tmp, backing, skip, &came, &ncame)) < 0)
		move_back(backing, tmp, came, ncame);
	if (rc)
		move_back(old, backing, gone, ngone);
	names_drop(gone, ngone);
	names_drop(came, ncame);
	if (rc) {
		rmdir(old);
		return rc;
	}
	rmdir(tmp);
	return rm_tree(old);
}

int mount_backing_replace(const char *backing, const struct ops_trace *t,
			  const char *state, uint64_t *copied)
{
	struct walk w = {.from = -1, .to = -1, .backing = -1, .base = -1};
	char tmp[PATH_MAX + 32], base[PATH_MAX + 16];
	struct stat st;
	size_t k;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s/.faultline-new.XXXXXX", backing);
	snprintf(base, sizeof(base), "%s/%s", t->dir, TRACE_BASE_DIR);
	rc = mkdtemp(tmp)
		 ? 0
		 : -errno; /* a name of its own: never one the server made */
	if (!rc &&
	    ((w.from = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	     (w.to = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	     (w.backing = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
		 0 ||
	     (w.base = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0))
		rc = -errno;
	if (!rc)
		rc = stable_files(t, &w);
	if (!rc)
		rc = put(&w, "");
	if (rc)
		rm_tree(tmp); /* links only, for what came from the backing */
	else if (!(rc = swap_in(backing, tmp)) && fstat(w.from, &st) == 0)
		rc = give_attrs(w.backing, &st, w.from,
				w.backing); /* and the root's own */
	*copied = w.bytes;
	for (k = 0; k < w.nstable; k++)
		free(w.stable[k]);
	free(w.stable);
	tdestroy(w.copied, seen_free);
	if (w.from >= 0)
		close(w.from);
	if (w.to >= 0)
		close(w.to);
	if (w.backing >= 0)
		close(w.backing);
	if (w.base >= 0)
		close(w.base);
	return rc;
}
