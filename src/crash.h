/*
 * crash.h - one crash state, chosen at one instant: what `faultline crash`
 * leaves of a running mount (mount_cmd.c).
 *
 * The states are those of the persistence model (model.h) at the crash
 * point, so every state chosen here is one `faultline explore` could
 * build, and its id replays with `faultline replay`.
 */
#ifndef FL_CRASH_H
#define FL_CRASH_H

#include <stdint.h>

#include "model.h"
#include "ops.h"
#include "state.h"

enum crash_how {
	CRASH_LOSE_UNSYNCED, /* every in-flight op lost: what a power cut
				usually leaves */
	CRASH_MODEL, /* each in-flight op kept or lost, drawn with the seed */
	CRASH_TORN,  /* as CRASH_MODEL, and an in-flight write may tear */
};

/* "lose-unsynced", "model" or "torn" into *how.  0 or -EINVAL. */
int crash_how_parse(const char *s, enum crash_how *how);
const char *crash_how_name(enum crash_how how);

/*
 * Chooses a state of trace t at crash point crash_idx (an op index) that
 * model m allows, the way how says, drawn with seed (the same seed gives
 * the same state).  Tears use the default device (512-byte sectors, any
 * damaged kind).  Fills *out (emptied first).  Returns 0, or -ENOMEM.
 */
int crash_choose(const struct ops_trace *t, const struct model *m,
		 size_t crash_idx, enum crash_how how, uint64_t seed,
		 struct state *out);

#endif
