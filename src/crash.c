/*
 * crash.c - one crash state of a running mount (crash.h).
 *
 * The crash point is an op index; the ops in flight there are the model's
 * (model_in_flight), so the choice is always a state of the reference
 * enumerator:
 *   lose-unsynced  drops every in-flight op (a journal_in_order model
 *                  allows it: the dropped metadata ops are all of them,
 *                  a suffix);
 *   model          keeps or drops each in-flight op, even odds, in op
 *                  order; under journal_in_order, once a metadata op is
 *                  dropped every later one is dropped too;
 *   torn           as model, but a kept write that the model lets tear
 *                  is torn one time in three, by a variant of its tear
 *                  family (tear.h) that the model allows, drawn evenly.
 * The draw uses the explorer's generator (ex_rand), seeded with the seed,
 * so a seed names one state on every machine.
 */
#include <errno.h>
#include <string.h>

#include "crash.h"
#include "explore_i.h"
#include "tear.h"

static const char *const how_names[] = {
    [CRASH_LOSE_UNSYNCED] = "lose-unsynced",
    [CRASH_MODEL] = "model",
    [CRASH_TORN] = "torn",
};

int crash_how_parse(const char *s, enum crash_how *how)
{
	size_t i;

	for (i = 0; i < sizeof(how_names) / sizeof(how_names[0]); i++)
		if (!strcmp(s, how_names[i])) {
			*how = (enum crash_how)i;
			return 0;
		}
	return -EINVAL;
}

const char *crash_how_name(enum crash_how how)
{
	return how_names[how];
}

/* A variant of write idx that the model allows, drawn with rng; 0 and
 * *v set (its rle owned by set), -ENOENT if none, or -ENOMEM. */
static int draw_tear(const struct model_plan *p, size_t idx, uint64_t *rng,
		     struct tear_set *set, const struct tear_variant **v)
{
	static const struct tear_geom geom = {.sector = STATE_SECTOR_DEFAULT,
					      .kinds = "ozg"};
	size_t i, n = 0, k;

	if (tear_family(&geom, &p->t->v[idx], set) < 0)
		return -ENOMEM;
	for (i = 0; i < set->n; i++)
		n += model_tear_allows(p, idx, &set->v[i]);
	if (!n)
		return -ENOENT;
	k = (size_t)(ex_rand(rng) % n);
	for (i = 0; i < set->n; i++)
		if (model_tear_allows(p, idx, &set->v[i]) && k-- == 0)
			break;
	*v = &set->v[i];
	return 0;
}

/* The choice for in-flight op idx: 0 kept, STATE_DROP, or STATE_TEAR (added).
 */
static int choose_one(const struct model_plan *p, size_t idx, uint64_t crash,
		      enum crash_how how, uint64_t *rng, struct state *out)
{
	struct tear_set set = {0};
	const struct tear_variant *v;
	int rc;

	if (how == CRASH_LOSE_UNSYNCED || ex_rand(rng) % 2)
		return STATE_DROP;
	if (how != CRASH_TORN || !model_may_tear(p, idx, crash) ||
	    ex_rand(rng) % 3)
		return 0;
	rc = draw_tear(p, idx, rng, &set, &v);
	if (rc == 0)
		rc = state_add(out, p->t->v[idx].seq, STATE_TEAR, v->rle,
			       v->size_lost) < 0
			 ? -ENOMEM
			 : STATE_TEAR;
	tear_set_free(&set);
	return rc == -ENOENT ? 0 : rc;
}

int crash_choose(const struct ops_trace *t, const struct model *m,
		 size_t crash_idx, enum crash_how how, uint64_t seed,
		 struct state *out)
{
	struct model_plan *p;
	uint64_t crash = t->v[crash_idx].seq, rng = seed;
	bool meta_dropped = false;
	size_t i;
	int rc = model_plan_new(m, t, &p);

	if (rc)
		return rc;
	state_clear(out);
	out->crash = crash;
	out->sector = STATE_SECTOR_DEFAULT;
	out->block = 0;
	for (i = 0; i <= crash_idx && rc >= 0; i++) {
		if (!model_in_flight(p, i, crash))
			continue;
		rc = meta_dropped && model_is_journal_op(p, i)
			 ? STATE_DROP
			 : choose_one(p, i, crash, how, &rng, out);
		if (rc == STATE_DROP) {
			meta_dropped |= model_is_journal_op(p, i);
			rc = state_add(out, t->v[i].seq, STATE_DROP, NULL,
				       false);
		}
	}
	model_plan_free(p);
	return rc < 0 ? -ENOMEM : 0;
}
