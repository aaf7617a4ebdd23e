/*
 * model.h - persistence models: what a crash may leave of a trace.
 *
 * A model answers, for a crash right after the record with seq c:
 *   - which ops are durable (a completed barrier covers them) and which
 *     are in flight (model_plan: durable_at[]),
 *   - which in-flight ops may be dropped, and in what combinations
 *     (model_fixup closes a choice under the model's ordering rules),
 *   - how an op may tear (model_tear_rules).
 * Every rule of every model is in the table at the top of model.c, so
 * strict, posix and ext4-ordered can be compared side by side.
 */
#ifndef FL_MODEL_H
#define FL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "ops.h"

#define MODEL_NEVER UINT64_MAX

/* Which writes may tear at a crash. */
enum model_tear {
	MODEL_TEAR_LAST,       /* only the write in progress at the crash point */
	MODEL_TEAR_INFLIGHT,   /* every in-flight write, every sector */
	MODEL_TEAR_OVERWRITES, /* every in-flight write, sectors below the old size only */
};

struct model {
	const char *name;             /* as given to --model */
	const char *summary;          /* one line for --help and reports */
	bool prefix_only;             /* states are ordered prefixes: nothing in flight is dropped */
	bool ns_needs_dirsync;        /* namespace ops are durable only once every directory they touch is fsynced */
	bool journal_in_order;        /* metadata ops (namespace, truncate, setattr...) persist as a prefix */
	bool barrier_commits_journal; /* any fsync/fsyncdir also makes every earlier metadata op durable */
	bool size_without_bytes;      /* an append may persist its size but not its bytes */
	bool bytes_without_size;      /* an append may persist its bytes but not its size */
	enum model_tear tears;        /* which writes may tear */
};

/* The model called name, or NULL. */
const struct model *model_find(const char *name);

/* "strict, posix, ext4-ordered": for usage and error messages. */
const char *model_list(void);

/* A model applied to one trace. */
struct model_plan {
	const struct model *m;    /* the rules */
	const struct ops_trace *t;/* the ops (not owned) */
	uint64_t *durable_at;     /* per op index: seq of the barrier that made it durable, MODEL_NEVER if none */
};

/* Computes durability for every op.  Returns 0 and *out, or -ENOMEM. */
int model_plan_new(const struct model *m, const struct ops_trace *t,
		   struct model_plan **out);
void model_plan_free(struct model_plan *p);

/* True when op idx changes state and is in flight at crash point crash. */
bool model_in_flight(const struct model_plan *p, size_t idx, uint64_t crash);

/* True when op idx is a metadata (journal) op under this model's rules. */
bool model_is_journal_op(const struct model_plan *p, size_t idx);

/* How op idx may tear at crash point crash, if at all. */
struct model_tear_rules {
	bool may_tear;        /* some sector may differ from "new" */
	uint64_t tear_below;  /* only sectors entirely below this offset may tear */
	bool size_lost_ok;    /* may persist bytes without the new size */
	bool size_only_ok;    /* may persist the new size without (all) its bytes */
};
void model_tear_rules(const struct model_plan *p, size_t idx, uint64_t crash,
		      struct model_tear_rules *out);

/*
 * Makes a choice legal: drop[i] (indexed like inflight[], n entries, in
 * seq order) says which in-flight ops are dropped.  Under journal_in_order
 * a dropped metadata op drops every later in-flight metadata op; under
 * prefix_only every op after a dropped one is dropped.
 */
void model_fixup(const struct model_plan *p, const size_t *inflight, size_t n,
		 bool *drop);

#endif
