/*
 * fs_fold.c - faultline-fs moving its recording to a folded trace, for
 * `faultline mount` (src/fold.h): a mount that is never crashed must not
 * keep every op it ever recorded.
 *
 * The supervisor loads the epoch's records as they stand, up to record
 * LAST, folds their settled history into a new trace (new base, BASE
 * records, the carried records: COUNT records in all, in PATH), and then
 * writes one control line:
 *   "\001fold COUNT LAST PATH"
 * Holding trace_lock exclusively (no record is being appended), this
 * writes out every record of the current file, copies those after LAST
 * (they came in while the supervisor folded) to the end of PATH, makes
 * PATH the file later records go to, and closes the old one.  Times
 * count from the same instant; file ids are the live table's, which the
 * folded base kept.  On any failure PATH is left as it is and recording
 * goes on in the old file.  Recording stops only for the copy of what
 * came in during the fold.
 */
#define FUSE_USE_VERSION 312
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_i.h"
#include "trace.h"

#define FOLD_CTL "\001fold "

/* Copies the records of the file at from after seq last to w. */
static int copy_after(const char *from, uint64_t last, struct trace_writer *w)
{
	struct trace_reader *r;
	struct trace_rec rec;
	int rc = trace_reader_open(from, &r, NULL, 0);

	if (rc < 0)
		return rc;
	while ((rc = trace_next(r, &rec)) == 1)
		if (rec.seq > last && (rc = trace_append_copy(w, &rec)) < 0)
			break;
	trace_reader_close(r);
	return rc < 0 ? rc : trace_writer_sync(w, UINT64_MAX);
}

static int fold_move(struct fs *fs, uint64_t count, uint64_t last,
		     const char *path)
{
	struct trace_writer *w = NULL;
	int rc;

	pthread_rwlock_wrlock(&fs->trace_lock);
	rc = __atomic_load_n(&fs->rec_err, __ATOMIC_ACQUIRE);
	if (rc == 0 && last > trace_writer_count(fs->trace))
		rc = -EINVAL; /* the supervisor read records this file never
				 held */
	if (rc == 0)
		rc = trace_writer_sync(fs->trace, UINT64_MAX);
	if (rc == 0)
		rc = trace_writer_adopt(path, count, fs->trace, &w);
	if (rc == 0 && (rc = copy_after(fs->trace_path, last, w)) < 0) {
		trace_writer_close(w);
		w = NULL;
	}
	if (rc == 0) {
		trace_writer_close(fs->trace); /* every record is in PATH too */
		fs->trace = w;
		snprintf(fs->trace_path, sizeof(fs->trace_path), "%s", path);
	}
	pthread_rwlock_unlock(&fs->trace_lock);
	if (rc < 0)
		fprintf(stderr,
			"faultline-fs: cannot move the trace to %s: %s; "
			"recording goes on where it was\n",
			path, strerror(-rc));
	return rc;
}

int fs_fold_ctl(struct fs *fs, const char *p, size_t n)
{
	size_t k = sizeof(FOLD_CTL) - 1;
	char line[PATH_MAX + 64], path[PATH_MAX];
	unsigned long long count, last;
	int used = 0;

	if (n <= k || memcmp(p, FOLD_CTL, k))
		return 0;
	if (n - k >= sizeof(line))
		return -EINVAL;
	memcpy(line, p + k, n - k);
	line[n - k] = 0;
	if (sscanf(line, "%llu %llu %4095s%n", &count, &last, path, &used) !=
		3 ||
	    line[used] || path[0] != '/')
		return -EINVAL;
	return fold_move(fs, count, last, path) < 0 ? -EIO : 1;
}
