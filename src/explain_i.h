/*
 * explain_i.h - what explain.c shares with the two classifiers
 * (explain_sweep.c, the one used; explain_ref.c, the old rescan kept as
 * the reference the sweep is tested against).
 */
#ifndef FL_EXPLAIN_I_H
#define FL_EXPLAIN_I_H

#include "explain.h"

/* Index in x->f of file id, or -1 when id has no bytes op in the trace. */
long explain_file_index(const struct explain *x, uint64_t id);

/*
 * Records file f at moment m (np pages, runs run[0..nrun), which must be
 * maximal: neighbours differ; name an enum explain_name)
 * unless it equals its latest snapshot; moments must come in order.
 * Copies run.  0 or -ENOMEM.
 */
int explain_snap_push(struct explain *x, struct explain_file *f, size_t m, uint8_t name,
		      uint64_t np, const struct explain_run *run, size_t nrun);

/*
 * How namespace op op changes the number of names file id has: +1 for a
 * create, mknod, mkdir, symlink or link of it, -1 for its unlink or rmdir
 * or for the file a rename replaces, else 0.  Both classifiers count
 * names with it, from the BASE records' count on.
 */
int explain_link_delta(const struct ops_op *op, uint64_t id);

/* The name class of a file with links names (as the program saw them)
 * and nsflight namespace ops naming it in flight. */
uint8_t explain_name_of(uint64_t links, uint64_t nsflight);

/* Appends a run of cls at page p to v[*n], merging with an equal last run; v has room. */
void explain_run_add(struct explain_run *v, size_t *n, uint64_t p, uint8_t cls);

/* Classify every file at every moment into snapshots.  0 or -ENOMEM. */
int explain_sweep(struct explain *x);
int explain_reference(struct explain *x);

#endif
