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

#define NEW_DIR ".faultline-new"

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

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
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
		qsort(v, *n, sizeof(*v), u64_cmp);
	return v;
}

static bool touched(const uint64_t *v, size_t n, uint64_t id)
{
	return bsearch(&id, v, n, sizeof(*v), u64_cmp) != NULL;
}

/* The base's regular files with one name that no state-changing op names,
 * nor any directory above them: their paths, sorted (w->stable). */
static int stable_files(const struct ops_trace *t, struct walk *w)
{
	struct names *nm = names_new();
	size_t ntouched, k, depth;
	uint64_t *tv = touched_ids(t, &ntouched), up;
	char rel[PATH_MAX], *p;
	struct stat st;
	int rc = nm && tv && (w->stable = calloc(t->nbase + 1, sizeof(char *)))
		     ? 0
		     : -ENOMEM;

	for (k = 0; !rc && k < t->nbase; k++) {
		const struct ops_op *op = &t->base[k];
		struct trace_rec r = {.op = TRACE_OP_BASE,
				      .id = op->id,
				      .parent = op->parent,
				      .name = ops_name(t, op),
				      .name_len = op->name_len};

		if ((rc = names_apply(nm, &r)) < 0 || !S_ISREG(op->mode) ||
		    touched(tv, ntouched, op->id))
			continue;
		for (up = op->parent, depth = 0;
		     up && up != TRACE_ROOT_ID && depth < t->nbase; depth++) {
			size_t j;

			if (touched(tv, ntouched, up))
				break;
			for (j = 0; j < t->nbase && t->base[j].id != up; j++)
				;
			up = j < t->nbase ? t->base[j].parent : 0;
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
	return rc;
}

static bool is_stable(const struct walk *w, const char *rel)
{
	return bsearch(&rel, w->stable, w->nstable, sizeof(char *), str_cmp) !=
	       NULL;
}

/* mode, owner, times and xattrs of st (the state's) onto fd (O_PATH, or open).
 */
static int give_attrs(int fd, const struct stat *st, const char *from_proc)
{
	char path[64], names[8192], val[65536], *p;
	struct timespec tv[2] = {st->st_atim, st->st_mtim};
	ssize_t n, len;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = from_proc ? llistxattr(from_proc, names, sizeof(names)) : 0;
	for (p = names; n > 0 && p < names + n; p += strlen(p) + 1)
		if ((len = lgetxattr(from_proc, p, val, sizeof(val))) >= 0)
			lsetxattr(path, p, val, (size_t)len, 0);
	if (fchownat(fd, "", st->st_uid, st->st_gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno != EPERM)
		return -errno;
	if (!S_ISLNK(st->st_mode) && chmod(path, st->st_mode & 07777) < 0)
		return -errno;
	return utimensat(fd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0
		   ? -errno
		   : 0;
}

/* One regular file of the state at rel into the new tree. */
static int put_file(struct walk *w, const char *rel, const struct stat *st)
{
	struct seen k = {.dev = st->st_dev, .ino = st->st_ino}, *s;
	char proc[64];
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
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", src);
	if (!rc)
		rc = give_attrs(dst, st, proc);
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
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	{
		char from[64];
		int ffd = openat(w->from, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);

		snprintf(from, sizeof(from), "/proc/self/fd/%d", ffd);
		rc = give_attrs(fd, &st,
				ffd >= 0 && !S_ISLNK(st.st_mode) ? from : NULL);
		if (ffd >= 0)
			close(ffd);
	}
	close(fd);
	return rc;
}

/* BACKING's old entries removed, the new tree's moved in.  0 or -errno. */
static int swap_in(const char *backing)
{
	char path[PATH_MAX * 2], to[PATH_MAX * 2], tmp[PATH_MAX + 32];
	struct dirent *e;
	DIR *d = opendir(backing);
	int rc = d ? 0 : -errno;

	snprintf(tmp, sizeof(tmp), "%s/" NEW_DIR, backing);
	while (!rc && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, NEW_DIR)) {
			snprintf(path, sizeof(path), "%s/%s", backing,
				 e->d_name);
			rc = rm_tree(path);
		}
	if (d)
		closedir(d);
	if (!rc && !(d = opendir(tmp)))
		rc = -errno;
	while (!rc && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
			snprintf(to, sizeof(to), "%s/%s", backing, e->d_name);
			if (rename(path, to) < 0)
				rc = -errno;
		}
	if (!rc)
		closedir(d);
	return rc ? rc : rmdir(tmp) < 0 ? -errno : 0;
}

int mount_backing_replace(const char *backing, const struct ops_trace *t,
			  const char *state, uint64_t *copied)
{
	struct walk w = {.from = -1, .to = -1, .backing = -1, .base = -1};
	char tmp[PATH_MAX + 32], base[PATH_MAX + 16];
	struct stat st;
	size_t k;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s/" NEW_DIR, backing);
	snprintf(base, sizeof(base), "%s/%s", t->dir, TRACE_BASE_DIR);
	rm_tree(tmp);
	rc = mkdir(tmp, 0700) < 0 ? -errno : 0;
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
	else if (!(rc = swap_in(backing)) && fstat(w.from, &st) == 0)
		rc = give_attrs(w.backing, &st, NULL); /* and the root's own */
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
