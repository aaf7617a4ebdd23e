/*
 * fold.h - folding a trace's settled history into its base, so that a
 * mount that is never crashed does not keep every op it ever recorded
 * (`faultline mount`, DESIGN.md "Crashing a running server").
 *
 * Folding at op index upto looks at ops [0, upto), all completed.  An op
 * that changes state and that the model says is durable there (no crash
 * from then on can lose or tear it) is folded into a new base, unless an
 * op before it that is carried touches one of its files or directories:
 * then moving it ahead of that op could change what it does, and it is
 * carried too.  Every other op that changes state is carried.  Of the
 * ops that change nothing, marks are always carried (a state's key counts
 * the marks before it); a barrier is carried when it may cover a carried
 * op (from the first carried op on: a syncfs, an fsync of a file or
 * directory a carried op touches, or the barrier that made a carried op
 * durable); the op that follows a carried sync write in its thread is
 * carried (whether that write is its own barrier is read from it); the
 * rest (opens, closes, failed ops, barriers of folded ops only) go.  The
 * new trace is the new base, then the carried ops and the ops from upto
 * on, in their recorded order, with their bytes, times and file ids.
 *
 * The promise, held by tests/difftest against the reference enumerator
 * under every model: at every crash point from upto on, the new trace's
 * crash states are exactly the old trace's.  A trace with a calls log
 * (record --calls) is not folded: its io_uring ordering lives there.
 */
#ifndef FL_FOLD_H
#define FL_FOLD_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "ops.h"

struct fold_stats {
	size_t folded;	    /* ops folded into the new base */
	size_t carried;	    /* ops before upto carried into the new trace */
	size_t first_kept;  /* index of the first op that changes state and is
			       carried (nothing settled before it could
			       fold past it); upto when there is none */
	uint64_t base_recs; /* BASE records of the new trace */
	uint64_t records; /* records of the new trace, BASE records included */
};

/*
 * Writes the folded trace of t at upto (1 <= upto <= last <= t->n) into
 * directory into, which must not exist: into/base (its files hard links
 * of t's base where they are unchanged; work is scratch on the same file
 * system) and into/records holding the carried ops and ops [upto, last).
 * No meta.json: the caller writes one, with t's start_ns (times are
 * kept).  seq_map, when not NULL (t->n entries), gets each copied op's
 * seq in the new trace, 0 for an op not copied.  Returns 0, -ENOTSUP for
 * a trace with a calls log, or another negative code with the reason in
 * err (into is then removed).
 */
int fold_write(const struct ops_trace *t, const struct model *m, size_t upto,
	       size_t last, const char *into, const char *work,
	       uint64_t *seq_map, struct fold_stats *st, char *err,
	       size_t errlen);

#endif
