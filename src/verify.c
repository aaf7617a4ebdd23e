/*
 * verify.c - holds TRACE/base to the trace's BASE records (see verify.h).
 *
 * Two passes.  First every BASE record: its path (parent's path + name)
 * is opened beneath the snapshot without following any symlink
 * (ops_base_open), its type must be the recorded one, a regular file's
 * size and trace_content_hash() the recorded len and id2, a symlink's
 * target likewise.  Then the snapshot is walked, each directory's names
 * in bytewise order, and every entry must be a recorded path: the first
 * one that is not was added.  So an entry removed, added, retyped or
 * rewritten is named, and only the first difference is reported.
 *
 * Not compared: permissions, owners, times and xattrs (the materializer
 * takes those from the snapshot as it is), and a device's numbers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <search.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_error.h"
#include "names.h"
#include "verify.h"

#define VERIFY_PATH 4096

struct verify {
	const struct ops_trace *t;
	int basefd;   /* TRACE/base, O_RDONLY */
	char **paths; /* every recorded path ("/a/b"), sorted (bytewise) */
	size_t npaths;
	void
	    *hashed; /* ids whose bytes were compared (tsearch of uint64_t *) */
	char *why;   /* OUT: the first difference */
	size_t whylen;
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void no_free(void *p)
{
	(void)p;
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return "regular file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	}
	return "file of unknown type";
}

/* Puts "base<rel> " and fmt's text in v->why; returns -FL_EBADTRACE. */
static int differs(struct verify *v, const char *rel, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int differs(struct verify *v, const char *rel, const char *fmt, ...)
{
	int n = snprintf(v->why, v->whylen, "base%s ", rel);
	va_list ap;

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < v->whylen)
		vsnprintf(v->why + n, v->whylen - (size_t)n, fmt, ap);
	va_end(ap);
	return -FL_EBADTRACE;
}

/* The path of BASE record op: its parent's path and its name. */
static int entry_path(const struct ops_trace *t, struct names *nm,
		      const struct ops_op *op, char *rel, size_t len)
{
	char dir[VERIFY_PATH];
	int n;

	if (names_path(nm, op->parent, dir, sizeof(dir)) < 0)
		return -FL_EBADTRACE;
	n = snprintf(rel, len, "%s/%.*s", strcmp(dir, "/") ? dir : "",
		     (int)op->name_len, ops_name(t, op));
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Compares a regular file's or symlink's bytes (fd: O_PATH of it) with op. */
static int compare_bytes(struct verify *v, const struct ops_op *op,
			 const char *rel, int fd, const struct stat *st)
{
	char target[PATH_MAX];
	uint64_t hash, size;
	ssize_t n;
	int rfd, err;

	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(fd, "", target, sizeof(target));
		if (n < 0)
			return -errno;
		if ((uint64_t)n != op->len ||
		    trace_content_hash(target, (uint64_t)n) != op->id2)
			return differs(
			    v, rel,
			    "was rewritten after recording: the symlink points "
			    "elsewhere than recorded");
		return 0;
	}
	if ((uint64_t)st->st_size != op->len)
		return differs(
		    v, rel,
		    "was rewritten after recording: it holds %" PRIu64
		    " bytes, the trace recorded %" PRIu64,
		    (uint64_t)st->st_size, op->len);
	rfd = ops_base_open(v->basefd, rel, O_RDONLY);
	if (rfd < 0)
		return rfd;
	err = trace_content_hash_fd(rfd, &hash, &size);
	close(rfd);
	if (!err && (size != op->len || hash != op->id2))
		return differs(
		    v, rel,
		    "was rewritten after recording: its bytes differ from the "
		    "recorded ones");
	return err;
}

/* One BASE record against the snapshot. */
static int check_entry(struct verify *v, const struct ops_op *op,
		       const char *rel)
{
	struct stat st;
	void **seen;
	int fd = ops_base_open(v->basefd, rel, O_PATH), err = 0;

	if (fd == -ENOENT || fd == -ENOTDIR)
		return differs(
		    v, rel,
		    "was removed after recording (the trace has a BASE "
		    "record for it)");
	if (fd == -ELOOP || fd == -EXDEV)
		return differs(
		    v, rel,
		    "is reached through a symlink or outside the snapshot; "
		    "refused");
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if ((st.st_mode & S_IFMT) != (op->mode & S_IFMT))
		err = differs(
		    v, rel,
		    "is a %s, the trace recorded a %s: base/ was changed after "
		    "recording",
		    type_name(st.st_mode), type_name(op->mode));
	else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		seen = tsearch(&op->id, &v->hashed, ops_u64_cmp);
		if (!seen)
			err = -ENOMEM;
		else if (*seen == &op->id) /* a second name of a hard link:
					      compared once */
			err = compare_bytes(v, op, rel, fd, &st);
	}
	close(fd);
	return err;
}

/* Pass 1: every BASE record; fills v->paths. */
static int check_records(struct verify *v)
{
	const struct ops_trace *t = v->t;
	struct names *nm = names_new();
	char rel[VERIFY_PATH] = ""; /* in messages before a path is made */
	size_t i;
	int err = nm && (v->paths = calloc(t->nbase + 1, sizeof(char *)))
		      ? 0
		      : -ENOMEM;

	for (i = 0; !err && i < t->nbase; i++) {
		err = ops_names_apply(nm, t, &t->base[i]);
		if (!err && (err = entry_path(t, nm, &t->base[i], rel,
					      sizeof(rel))) < 0)
			snprintf(v->why, v->whylen,
				 "BASE record %" PRIu64 " has no path in the "
				 "snapshot",
				 t->base[i].seq);
		if (!err && !(v->paths[v->npaths++] = strdup(rel)))
			err = -ENOMEM;
		if (!err)
			err = check_entry(v, &t->base[i], rel);
		if (err < 0 && err != -FL_EBADTRACE && !v->why[0])
			snprintf(v->why, v->whylen, "base%s: %s", rel,
				 faultline_strerror(err));
	}
	names_free(nm);
	if (!err)
		qsort(v->paths, v->npaths, sizeof(char *), str_cmp);
	return err;
}

static int dirent_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
}

/* Pass 2: every entry below directory dfd (rel; "" the root) is recorded. */
static int walk(struct verify *v, int dfd, const char *rel)
{
	struct dirent **ents;
	char path[VERIFY_PATH], *key = path;
	struct stat st;
	int n = scandirat(dfd, ".", &ents, not_dots, dirent_cmp), i, err = 0,
	    cfd;

	if (n < 0) {
		err = -errno;
		snprintf(v->why, v->whylen, "base%s: %s", rel[0] ? rel : "/",
			 strerror(-err));
		return err;
	}
	for (i = 0; i < n && !err; i++) {
		snprintf(path, sizeof(path), "%s/%s", rel, ents[i]->d_name);
		if (!bsearch(&key, v->paths, v->npaths, sizeof(char *),
			     str_cmp)) {
			err = differs(
			    v, path,
			    "was added after recording (the trace has no BASE "
			    "record for it)");
			break;
		}
		if (fstatat(dfd, ents[i]->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		cfd = openat(dfd, ents[i]->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0) {
			err = -errno;
			snprintf(v->why, v->whylen, "base%s: %s", path,
				 strerror(-err));
			break;
		}
		err = walk(v, cfd, path);
		close(cfd);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return err;
}

int verify_base(const struct ops_trace *t, char *why, size_t whylen)
{
	struct verify v = {.t = t, .why = why, .whylen = whylen};
	char path[VERIFY_PATH + 64];
	size_t i;
	int err;

	why[0] = 0;
	snprintf(path, sizeof(path), "%s/%s", t->dir, TRACE_BASE_DIR);
	v.basefd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v.basefd < 0) {
		err = -errno;
		snprintf(why, whylen, "base snapshot %s: %s", path,
			 strerror(-err));
		return err == -ENOENT || err == -ENOTDIR ? -FL_EBADTRACE : err;
	}
	err = check_records(&v);
	if (!err)
		err = walk(&v, v.basefd, "");
	close(v.basefd);
	tdestroy(v.hashed, no_free);
	for (i = 0; i < v.npaths; i++)
		free(v.paths[i]);
	free(v.paths);
	return err;
}
