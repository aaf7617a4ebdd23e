/*
 * mount_fold.c - `faultline mount` folding an epoch's settled history
 * (mount_i.h, fold.h), so that a mount that is never crashed keeps a
 * bounded trace.
 *
 * When epoch N's records pass --fold-size, the supervisor loads them as
 * they stand (faultline-fs goes on recording meanwhile), writes epoch N+1
 * with fold_write: a new base holding every op that is durable and need
 * not stay in order, then the carried ops.  One control line then makes
 * faultline-fs copy what came in meanwhile to the new records file and go
 * on there (fusefs/fs_fold.c).  Epoch N is removed: no crash drew a state
 * from it, and every crash state of epoch N+1 is one epoch N would have
 * had (tests/difftest holds that to the reference).
 *
 * An op that never becomes durable (a directory never fsynced under
 * posix) keeps every later op that touches the same files in the trace;
 * when nothing at all folds the supervisor says which op holds it, and
 * tries again only once the records have doubled.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fold.h"
#include "mount_i.h"
#include "names.h"
#include "record_i.h"
#include "trace.h"

static uint64_t records_size(const char *epoch_dir)
{
	char path[PATH_MAX + 64];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", epoch_dir, TRACE_RECORDS_FILE);
	return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* "write /dir/file" for op idx of t (the op that holds a fold back). */
static void op_words(const struct ops_trace *t, size_t idx, char *buf,
		     size_t len)
{
	struct names *n = names_new();
	char path[PATH_MAX] = "?";
	const struct ops_op *op;
	size_t i;

	for (i = 0; n && i < t->nbase; i++)
		ops_names_apply(n, t, &t->base[i]);
	for (i = 0; n && i < idx; i++)
		ops_names_apply(n, t, &t->v[i]);
	op = &t->v[idx];
	if (n)
		names_path(n, op->kind == OPS_NS ? op->parent : op->id, path,
			   sizeof(path));
	if (op->kind == OPS_NS) /* the entry it made, removed or renamed */
		snprintf(buf, len, "%s %s%s%.*s (seq %" PRIu64 ")",
			 trace_op_name(op->op), path,
			 strcmp(path, "/") ? "/" : "", (int)op->name_len,
			 ops_name(t, op), op->seq);
	else
		snprintf(buf, len, "%s %s (seq %" PRIu64 ")",
			 trace_op_name(op->op), path, op->seq);
	names_free(n);
}

/* Builds epoch N+1 from t into into; 1 when nothing folds (into gone). */
static int fold_build(struct mount_run *run, const struct ops_trace *t,
		      const char *into, struct fold_stats *st)
{
	char work[PATH_MAX + 32], err[PATH_MAX + 256], what[PATH_MAX + 64];
	int rc;

	snprintf(work, sizeof(work), "%s/.fold-work", run->trace);
	rc = fold_write(t, run->m, t->n, t->n, into, work, NULL, st, err,
			sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "faultline: mount: cannot fold epoch %u: %s\n",
			run->epoch, err);
		return rc;
	}
	if (st->folded)
		return 0;
	rm_tree(into);
	if (st->first_kept >= t->n)
		return 1; /* no op changed anything: nothing to fold, none to
			     name */
	op_words(t, st->first_kept, what, sizeof(what));
	fprintf(stderr,
		"faultline: mount: epoch %u: nothing folds yet: %s is not "
		"durable under %s, "
		"and every op since touches what it touched\n",
		run->epoch, what, run->m->name);
	return 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Makes epoch N+1 (built in into, count records, t's last seq last) the
 * one recorded; *pause_ms gets how long faultline-fs took to move (it
 * holds appends for the last part only, and says how long).
 * 0, or negative with run as it was. */
static int fold_switch(struct mount_run *run, const char *into, uint64_t count,
		       uint64_t last, uint64_t *pause_ms)
{
	char line[PATH_MAX + 96], old_dir[sizeof(run->epoch_dir)];
	unsigned old = run->epoch;
	int rc;

	memcpy(old_dir, run->epoch_dir, sizeof(old_dir));
	run->epoch = old + 1;
	snprintf(run->epoch_dir, sizeof(run->epoch_dir), "%s", into);
	snprintf(line, sizeof(line), "\001fold %" PRIu64 " %" PRIu64 " %s/%s\n",
		 count, last, into, TRACE_RECORDS_FILE);
	rc = mount_epoch_meta(run, "recording", false);
	*pause_ms = now_ms();
	if (rc == 0)
		rc = mount_ctl_line(run, line);
	*pause_ms = now_ms() - *pause_ms;
	if (rc < 0) {
		fprintf(stderr, "faultline: mount: epoch %u not folded: %s\n",
			old, strerror(-rc));
		run->epoch = old;
		memcpy(run->epoch_dir, old_dir, sizeof(old_dir));
		rm_tree(into);
		return rc;
	}
	if (rm_tree(old_dir) < 0)
		fprintf(stderr, "faultline: mount: cannot remove %s: %s\n",
			old_dir, strerror(errno));
	return 0;
}

void mount_fold(struct mount_run *run)
{
	char err[PATH_MAX + 256], into[PATH_MAX + 32];
	uint64_t size = records_size(run->epoch_dir), after, t0 = now_ms(),
		 pause;
	struct ops_trace *t = NULL;
	struct fold_stats st;
	int rc;

	if (!run->fold_size || !run->fs_pid || size < run->fold_at)
		return;
	run->fold_at = 2 * size; /* unless the fold below brings it down */
	if (ops_load(run->epoch_dir, OPS_LOAD_PARTIAL, &t, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "faultline: mount: cannot fold epoch %u: %s\n",
			run->epoch, err);
		return;
	}
	snprintf(into, sizeof(into), "%s/epoch-%u", run->trace, run->epoch + 1);
	rc = t->n < 2 ? 1 : fold_build(run, t, into, &st);
	if (rc == 0)
		rc = fold_switch(run, into, st.records, t->v[t->n - 1].seq,
				 &pause);
	if (rc == 0) {
		after = records_size(run->epoch_dir);
		run->fold_at =
		    after * 2 > run->fold_size ? after * 2 : run->fold_size;
		fprintf(stderr,
			"faultline: mount: epoch %u folded into epoch %u: %zu "
			"ops into its base, %zu carried; records %" PRIu64
			" -> %" PRIu64 " bytes; %" PRIu64
			" ms, the move %" PRIu64 " ms\n",
			run->epoch - 1, run->epoch, st.folded, st.carried, size,
			after, now_ms() - t0, pause);
	}
	ops_free(t);
}
