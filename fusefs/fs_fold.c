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
 * This copies the current file's records after LAST (they came in while
 * the supervisor folded) to the end of PATH, first while appends go on,
 * then, holding trace_lock exclusively (no record is being appended),
 * the few that came in meanwhile; makes PATH the file later records go
 * to, and closes the old one.  Times count from the same instant; file
 * ids are the live table's, which the folded base kept.  On any failure PATH is
 * left as it is and recording goes on in the old file.  Appends wait only for
 * the second copy.
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
#include <time.h>

#include "fl_error.h"
#include "fs_i.h"
#include "trace.h"

#define FOLD_CTL "\001fold "

/* Copies the records r reads after seq *last to w, as far as they are
 * whole; *last gets the last one copied. */
static int copy_after(struct trace_reader *r, uint64_t *last,
		      struct trace_writer *w)
{
	struct trace_rec rec;
	int rc;

	trace_reader_resume(r); /* where the last pass stopped, now longer */
	while ((rc = trace_next(r, &rec)) == 1) {
		uint64_t seq = rec.seq; /* the append renumbers rec */

		if (seq <= *last)
			continue;
		if ((rc = trace_append_copy(w, &rec)) < 0)
			break;
		*last = seq;
	}
	/* a torn record at the end is one still being written: the next
	 * pass, the one under the lock, copies it */
	return rc < 0 && rc != -FL_ETRUNCATED && rc != -FL_ECHECKSUM ? rc : 0;
}

/*
 * Two passes: the first copies what came in during the fold while
 * appends go on (only this handler ever moves fs->trace); the second,
 * holding trace_lock, copies what came in during the first, and moves.
 */
static int fold_move(struct fs *fs, uint64_t count, uint64_t last,
		     const char *path)
{
	struct trace_writer *w = NULL, *old;
	struct trace_reader *r = NULL;
	struct timespec t0, t1;
	int rc = __atomic_load_n(&fs->rec_err, __ATOMIC_ACQUIRE);

	/* the supervisor cannot have read records this file never held */
	if (rc == 0 && last > trace_writer_count(fs->trace))
		rc = -EINVAL;
	if (rc == 0)
		rc = trace_writer_adopt(path, count, fs->trace, &w);
	if (rc == 0)
		rc = trace_reader_open(fs->trace_path, &r, NULL, 0);
	if (rc == 0)
		rc = copy_after(r, &last, w);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_rwlock_wrlock(&fs->trace_lock);
	if (rc == 0)
		rc = __atomic_load_n(&fs->rec_err, __ATOMIC_ACQUIRE);
	if (rc == 0)
		rc = trace_writer_sync(fs->trace, UINT64_MAX);
	/* from where the first pass stopped; every record must read back */
	if (rc == 0)
		rc = copy_after(r, &last, w);
	if (rc == 0 && last != trace_writer_count(fs->trace))
		rc = -EIO;
	if (rc == 0)
		rc = trace_writer_sync(w, UINT64_MAX);
	if (rc == 0) {
		old = fs->trace; /* every record is in PATH too */
		fs->trace = w;
		snprintf(fs->trace_path, sizeof(fs->trace_path), "%s", path);
	} else {
		old = w;
	}
	pthread_rwlock_unlock(&fs->trace_lock);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (old) /* its fsync, outside the lock: no one appends to it now */
		trace_writer_close(old);
	if (r)
		trace_reader_close(r);
	if (rc == 0)
		fprintf(stderr,
			"faultline-fs: recording moved to %s; appends held "
			"%.1f ms\n",
			path,
			(double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
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
