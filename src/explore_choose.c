/*
 * explore_choose.c - which states a crash point has, per mode.
 *
 * At a crash point the in-flight ops (ex->inflight) are each kept whole
 * (W), dropped (D) or torn by one of the variants the model allows (T);
 * under a journal_in_order model the dropped metadata ops must be a
 * suffix of the in-flight metadata ops.  A choice's COST is the number
 * of decisions it takes: one per dropped or torn op, except that a
 * journal's dropped suffix counts once (it is one decision: where the
 * journal stopped).  The modes are cost bounds on that one space:
 *
 *   prefix       only the op at the crash point is choosable (cost <= 1)
 *   omit-one     cost <= 1
 *   bounded:K    cost <= K
 *   exhaustive   every choice, while at most --window ops are in flight
 *                and the point has at most EX_EXHAUSTIVE_MAX states; else
 *                bounded:2 (counted and reported)
 *   random:N     N draws over all crash points, each op W, D or T with
 *                equal odds (T by a variant drawn evenly), made legal
 *
 * so prefix ⊆ omit-one ⊆ bounded:K ⊆ bounded:K+1 ⊆ exhaustive by
 * construction, and each equals the reference enumerator's states of the
 * same cost bound (reference.h).  States are generated in order of cost,
 * so the first of a set of equal states, the one checked, is the simplest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explore_i.h"

/* The choices being built at one crash point. */
struct ex_pick {
	struct ex *ex;
	size_t x;              /* crash point (op index) */
	uint64_t crash;        /* its seq */
	size_t n;              /* choosable ops (ex->inflight) */
	bool *journal;         /* per op: a journal op */
	const struct tear_set **var; /* per op: its allowed tear variants here (maybe empty) */
	int *pick;             /* per op: 0 whole, -1 dropped, v + 1 torn by variant v */
};

/* The variants the model allows for op idx (cached: they depend on the op only). */
static const struct tear_set *allowed(struct ex *ex, size_t idx)
{
	struct tear_set all = {0};
	size_t k;

	if (ex->fam_done[idx])
		return &ex->fam[idx];
	ex->fam_done[idx] = 1;
	if (tear_family(&ex->geom, &ex->t->v[idx], &all) < 0)
		return &ex->fam[idx]; /* no memory: no tears (empty set) */
	for (k = 0; k < all.n; k++) {
		struct tear_variant *v = &all.v[k], *nv;

		if (!model_tear_allows(ex->plan, idx, v))
			continue;
		nv = realloc(ex->fam[idx].v, (ex->fam[idx].n + 1) * sizeof(*nv));
		if (!nv)
			break;
		ex->fam[idx].v = nv;
		nv[ex->fam[idx].n++] = *v;
		v->rle = NULL; /* moved */
	}
	tear_set_free(&all);
	return &ex->fam[idx];
}

static const struct tear_set no_tears;

static int pick_init(struct ex_pick *p, struct ex *ex, size_t x)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->ex = ex;
	p->x = x;
	p->crash = ex->t->v[x].seq;
	p->n = ex->ninf;
	p->journal = calloc(p->n + 1, sizeof(*p->journal));
	p->var = calloc(p->n + 1, sizeof(*p->var));
	p->pick = calloc(p->n + 1, sizeof(*p->pick));
	if (!p->journal || !p->var || !p->pick)
		return -ENOMEM;
	for (i = 0; i < p->n; i++) {
		size_t idx = ex->inflight[i];

		p->journal[i] = model_is_journal_op(ex->plan, idx);
		p->var[i] = model_may_tear(ex->plan, idx, p->crash) ? allowed(ex, idx) : &no_tears;
	}
	return 0;
}

static void pick_free(struct ex_pick *p)
{
	free(p->journal);
	free(p->var);
	free(p->pick);
}

/* Builds the state p->pick describes and tries it. */
static int emit(struct ex_pick *p)
{
	struct ex *ex = p->ex;
	struct state s = {.crash = p->crash, .sector = ex->o->sector, .block = ex->o->block};
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < p->n; i++) {
		uint64_t seq = ex->t->v[ex->inflight[i]].seq;
		const struct tear_variant *v;

		if (p->pick[i] < 0) {
			rc = state_add(&s, seq, STATE_DROP, NULL, false);
		} else if (p->pick[i] > 0) {
			v = &p->var[i]->v[p->pick[i] - 1];
			rc = state_add(&s, seq, STATE_TEAR, v->rle, v->size_lost);
		}
	}
	if (!rc)
		rc = ex_try(ex, &s, p->x);
	state_free(&s);
	return rc;
}

/*
 * Every legal choice for ops pos.. that costs exactly cost, given whether
 * a journal op before pos was dropped.
 */
static int gen(struct ex_pick *p, size_t pos, unsigned cost, bool jdropped)
{
	size_t v;
	int rc;

	if (p->ex->out_of_time)
		return 0;
	if (pos == p->n)
		return cost ? 0 : emit(p);
	if (cost > p->n - pos)
		return 0; /* not enough ops left to spend it on */
	if (p->journal[pos] && jdropped) { /* the journal stopped earlier */
		p->pick[pos] = -1;
		rc = gen(p, pos + 1, cost, true);
		p->pick[pos] = 0;
		return rc;
	}
	p->pick[pos] = 0;
	if ((rc = gen(p, pos + 1, cost, jdropped)) < 0 || !cost)
		return rc;
	p->pick[pos] = -1;
	rc = gen(p, pos + 1, cost - 1, jdropped || p->journal[pos]);
	for (v = 0; !rc && v < p->var[pos]->n; v++) {
		p->pick[pos] = (int)v + 1;
		rc = gen(p, pos + 1, cost - 1, jdropped);
	}
	p->pick[pos] = 0;
	return rc;
}

/* Every legal choice of cost at most max, cheapest first. */
static int gen_upto(struct ex_pick *p, unsigned max)
{
	unsigned c;
	int rc = 0;

	for (c = 0; !rc && c <= max && c <= p->n; c++)
		rc = gen(p, 0, c, false);
	return rc;
}

/*
 * The number of legal choices of each cost: coef[c] for c = 0..n, the
 * coefficients of the product over ops of (1 + (1 + tears) x), with all
 * of a journal's ops together contributing one factor (1 + m x).
 */
static void count_by_cost(const struct ex_pick *p, double *coef)
{
	size_t i, c, m = 0;

	memset(coef, 0, (p->n + 2) * sizeof(*coef));
	coef[0] = 1;
	for (i = 0; i <= p->n; i++) {
		double a = i < p->n ? 1.0 + (double)p->var[i]->n : (double)m;

		if (i < p->n && p->journal[i]) {
			m++;
			continue;
		}
		if (a == 0)
			continue;
		for (c = p->n + 1; c-- > 1;)
			coef[c] += a * coef[c - 1];
	}
}

static double count_upto(const struct ex_pick *p, unsigned max)
{
	double *coef = calloc(p->n + 2, sizeof(*coef)), sum = 0;
	size_t c;

	if (!coef)
		return 0;
	count_by_cost(p, coef);
	for (c = 0; c <= p->n && c <= max; c++)
		sum += coef[c];
	free(coef);
	return sum;
}

/* Does exhaustive enumerate this point whole (else bounded:2)? */
static bool exhaustive_fits(const struct ex_pick *p, double *all)
{
	*all = count_upto(p, UINT32_MAX);
	return p->n <= p->ex->o->window && *all <= EX_EXHAUSTIVE_MAX;
}

/* The cost bound of the mode at this point (after exhaustive's fallback). */
static unsigned mode_bound(const struct ex_pick *p, bool note)
{
	const struct explore_opts *o = p->ex->o;
	double all;

	switch (o->mode) {
	case EXPLORE_PREFIX:
	case EXPLORE_OMIT_ONE:
		return 1;
	case EXPLORE_BOUNDED:
		return o->k;
	case EXPLORE_EXHAUSTIVE:
		if (exhaustive_fits(p, &all))
			return UINT32_MAX;
		if (note) {
			p->ex->fallbacks++;
			if (all > (double)p->ex->fallback_max)
				p->ex->fallback_max = all > 1e18 ? UINT64_MAX : (uint64_t)all;
		}
		return 2;
	case EXPLORE_RANDOM:
		return UINT32_MAX;
	}
	return 0;
}

/*
 * One random state: each op kept, dropped or torn (a third each; a torn
 * op by a variant drawn evenly), then made legal: after a dropped journal
 * op, the later ones are dropped too.
 */
static int draw_one(struct ex_pick *p, uint64_t seed)
{
	uint64_t rng = seed;
	bool jdropped = false;
	size_t i;

	for (i = 0; i < p->n; i++) {
		unsigned r = (unsigned)(ex_rand(&rng) % 3);

		p->pick[i] = r == 1 ? -1 : 0;
		if (r == 2 && p->var[i]->n)
			p->pick[i] = (int)(ex_rand(&rng) % p->var[i]->n) + 1;
		if (p->journal[i] && jdropped)
			p->pick[i] = -1;
		jdropped |= p->journal[i] && p->pick[i] < 0;
	}
	return emit(p);
}

int ex_crash_point(struct ex *ex, size_t x, const uint64_t *draws, size_t ndraws)
{
	struct ex_pick p;
	size_t i;
	int rc = pick_init(&p, ex, x);

	if (!rc && ex->o->mode == EXPLORE_RANDOM)
		for (i = 0; !rc && i < ndraws; i++)
			rc = draw_one(&p, draws[i]);
	else if (!rc)
		rc = gen_upto(&p, mode_bound(&p, true));
	pick_free(&p);
	return rc;
}

double ex_count(struct ex *ex, size_t x)
{
	struct ex_pick p;
	double n = 0;

	if (pick_init(&p, ex, x) == 0)
		n = count_upto(&p, mode_bound(&p, false));
	pick_free(&p);
	return n;
}

void ex_choose_free(struct ex *ex)
{
	size_t i;

	for (i = 0; ex->fam && ex->t && i < ex->t->n; i++)
		tear_set_free(&ex->fam[i]);
	free(ex->fam);
	free(ex->fam_done);
}
