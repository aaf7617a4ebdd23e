/*
 * reference.h - the reference enumerator: the set of legal crash states,
 * by brute force, from the model table and nothing else.
 *
 * This is the executable definition of "legal crash state" (DESIGN.md,
 * "Persistence models"): deliberately simple and slow.  For a crash at
 * record c it decides durability by scanning for covering barriers (not
 * with model.c's incremental plan), enumerates every combination of
 * whole / dropped / torn for the in-flight ops, keeps the combinations
 * the model allows, applies base + chosen ops in recorded order to an
 * in-memory tree, and keys the result (fskey.h).  The fast explorer
 * (explore.c, mat.c) must produce exactly this set; the differential
 * tests and `faultline states --reference` use it.
 */
#ifndef FL_REFERENCE_H
#define FL_REFERENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "ops.h"
#include "tear.h"

struct ref;

/* One legal state, as given to the callback (valid during the call). */
struct ref_state {
	const char *id;     /* state id (state.h) */
	uint64_t crash;     /* crash point (seq) */
	uint64_t content;   /* content key of the tree */
	uint64_t key;       /* fskey_state(content, nmarks): the dedup key */
	uint64_t nmarks;    /* marks acknowledged at the crash point */
	unsigned cost;      /* decisions it takes (the same under every model): each
			       dropped or torn op, except that the dropped metadata ops
			       that end the in-flight metadata ops count once */
	bool prefix;        /* every op but the one at the crash point is kept whole */
};

/* Returns 0 to go on, or a negative code that stops the enumeration. */
typedef int (*ref_cb)(void *arg, const struct ref_state *s);

/*
 * Loads trace t's base (from t->dir/base) into memory.  Returns 0 and
 * *out, or a negative code with a one-line reason in err.
 */
int ref_new(const struct ops_trace *t, struct ref **out, char *err, size_t errlen);
void ref_free(struct ref *r);

/*
 * Calls cb for every legal crash state at crash point crash (the seq of
 * a record whose kind is not OPS_NONE) under model m and tear geometry g.
 * Returns 0, cb's negative code, -E2BIG when the point has more than max
 * combinations to try (nothing is enumerated then), or -ENOMEM / -EIO.
 */
int ref_states(struct ref *r, const struct model *m, const struct tear_geom *g,
	       uint64_t crash, uint64_t max, ref_cb cb, void *arg);

/* The in-flight ops at crash (by the reference's own rules): their count. */
size_t ref_in_flight(struct ref *r, const struct model *m, uint64_t crash);

#endif
