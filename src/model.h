/*
 * model.h - persistence models: what a crash may leave of a trace.
 *
 * A crash at record c is a crash DURING op c: every op before c completed;
 * op c itself may be absent, whole or (a write) torn.  An op is DURABLE at
 * crash point c when a barrier that covers it completed before c (a
 * barrier covers only ops recorded before it, which completed before it
 * began, and none that an SQE of its own io_uring submission made unless
 * a link or drain ordered that SQE first: the kernel may have run the
 * barrier before it, whatever order the recording caught them in); every
 * other state-changing op recorded up to c is IN FLIGHT.
 * A crash state is the base, every durable op, and a legal choice among
 * the in-flight ops (each kept whole, dropped, or torn), applied in
 * recorded order.  A model says:
 *   - which ops are durable at each crash point (model_plan: durable_at[]),
 *   - which choices among in-flight ops are legal (model_is_journal_op:
 *     under journal_in_order the dropped metadata ops are a suffix; under
 *     prefix_only nothing before c is in flight at all but the pages
 *     captured from mappings, ops_is_early),
 *   - which tear variants of a write it allows (model_tear_allows).
 * Every rule of every model is in the table at the top of model.c, so
 * strict, posix and ext4-ordered can be compared side by side; the
 * reference enumerator (reference.c) reads the same table.
 */
#ifndef FL_MODEL_H
#define FL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "ops.h"
#include "tear.h"

#define MODEL_NEVER UINT64_MAX

/* Which in-flight writes may tear. */
enum model_tear {
	MODEL_TEAR_LAST,     /* only the write in progress at the crash point */
	MODEL_TEAR_INFLIGHT, /* every in-flight write */
};

struct model {
	const char *name;             /* as given to --model */
	const char *summary;          /* one line for --help and reports */
	bool prefix_only;             /* an op is durable as soon as it completes */
	bool ns_needs_dirsync;        /* namespace ops are durable only once every directory they touch is fsynced */
	bool journal_in_order;        /* in-flight metadata ops persist as a prefix (the journal) */
	bool barrier_commits_journal; /* any barrier makes every earlier metadata op durable */
	bool size_without_bytes;      /* a write may persist its new size without its bytes:
					 damage at or past the old end of file is allowed */
	bool bytes_without_size;      /* an append may persist its bytes but not its new size */
	enum model_tear tears;        /* which writes may tear */
};

/* The model called name, or NULL. */
const struct model *model_find(const char *name);

/* "strict, posix, ext4-ordered": for usage and error messages. */
const char *model_list(void);

/* The models, strongest first; *n gets their number. */
const struct model *model_all(size_t *n);

/* A model applied to one trace. */
struct model_plan {
	const struct model *m;    /* the rules */
	const struct ops_trace *t;/* the ops (not owned) */
	uint64_t *durable_at;     /* per op index: seq of the barrier that makes it durable
				     (durable at crash points after it), MODEL_NEVER if none */
};

/* Computes durability for every op.  Returns 0 and *out, or -ENOMEM. */
int model_plan_new(const struct model *m, const struct ops_trace *t,
		   struct model_plan **out);
void model_plan_free(struct model_plan *p);

/* True when op idx is durable at crash point crash (its barrier completed before it). */
bool model_durable(const struct model_plan *p, size_t idx, uint64_t crash);

/* True when op idx changes state and is in flight at crash point crash. */
bool model_in_flight(const struct model_plan *p, size_t idx, uint64_t crash);

/*
 * True when op idx is a metadata (journal) op of a journal_in_order model
 * (ops_is_metadata); false for every op of other models.
 */
bool model_is_journal_op(const struct model_plan *p, size_t idx);

/* True when in-flight write idx may tear at all at crash point crash. */
bool model_may_tear(const struct model_plan *p, size_t idx, uint64_t crash);

/* True when the model allows tear variant v of write idx (given it may tear). */
bool model_tear_allows(const struct model_plan *p, size_t idx, const struct tear_variant *v);

#endif
