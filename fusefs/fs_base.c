/*
 * fs_base.c - faultline-fs at startup: the base walk.  Before mounting,
 * the backing tree is walked depth first, each directory's entries in
 * bytewise name order, and every entry gets a file id (2, 3, ... in walk
 * order; hard links share one) and a BASE record with its size and the
 * content hash of its bytes or symlink target.  Single-threaded: it runs
 * before the first request.  Also the one-line setup failure (fs_fail).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <linux/xattr.h>
#include <unistd.h>

#include "fs_i.h"
#include "trace.h"

/* ---- startup: the base walk ---- */

/* Prints the one-line reason setup failed; returns err. */
int fs_fail(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("faultline-fs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(-err));
	fputc('\n', stderr);
	return err;
}

/* Whether file name in directory dfd may carry file capabilities (see fs_getxattr). */
static bool base_has_caps(int dfd, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dfd, name);
	return lgetxattr(path, XATTR_NAME_CAPS, NULL, 0) >= 0 ||
	       (errno != ENODATA && errno != ENOTSUP);
}

/* Records one entry of the base and, for a directory, everything below it. */
static int base_entry(struct fs *fs, int dfd, uint64_t parent,
		      const char *dpath, const char *name)
{
	struct trace_rec r;
	struct fs_slot *s;
	struct stat st;
	int cfd, err;

	if (parent == TRACE_ROOT_ID && !strcmp(name, FS_CTL_NAME))
		return fs_fail(-EEXIST, "backing directory %s has its own %s",
			       dpath, FS_CTL_NAME);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fs_fail(-errno, "%s/%s", dpath, name);
	s = fs_slot(fs, st.st_dev, st.st_ino, 0); /* single-threaded still */
	if (!s)
		return fs_fail(-ENOMEM, "inode table");
	rec_start(&r, TRACE_OP_BASE, NULL);
	r.id = s->id;
	r.parent = parent;
	r.mode = st.st_mode;
	rec_name(&r, name);
	/* Readers hold TRACE/base to these (a snapshot edited after
	 * recording is refused). */
	err = trace_base_hash(dfd, name, &st, &r.len, &r.id2);
	if (err)
		return fs_fail(err, "%s/%s", dpath, name);
	err = trace_append(fs->trace, &r);
	if (err)
		return fs_fail(err, "writing the trace");
	if (S_ISREG(st.st_mode) && !fs->caps_seen)
		fs->caps_seen = base_has_caps(dfd, name);
	if (!S_ISDIR(st.st_mode))
		return 0;
	cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0)
		return fs_fail(-errno, "%s/%s", dpath, name);
	err = base_walk(fs, cfd, r.id, name);
	close(cfd);
	return err;
}

/* Depth first, names sorted, parents before children: BASE records and ids. */
int base_walk(struct fs *fs, int dfd, uint64_t parent, const char *path)
{
	char **names = NULL;
	size_t n = 0, i;
	int err;

	err = trace_dir_names(dfd, &names, &n);
	if (err)
		return fs_fail(err, "reading %s", path);
	for (i = 0; i < n && !err; i++)
		err = base_entry(fs, dfd, parent, path, names[i]);
	trace_dir_names_free(names, n);
	return err;
}
