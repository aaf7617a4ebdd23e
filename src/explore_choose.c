/*
 * explore_choose.c - which states a crash point has, per mode.
 *
 * At a crash point the in-flight ops (ex->inflight) are each kept whole
 * (W), dropped (D) or torn by one of the variants the model allows (T);
 * under a journal_in_order model the dropped metadata ops (namespace ops,
 * truncate, fallocate, attributes) must be a suffix of the in-flight
 * metadata ops.  A choice's COST, under every model alike, is the number
 * of decisions it takes: one per dropped or torn op, except that dropped
 * metadata ops forming a suffix of the in-flight metadata ops count once
 * (one decision: where the metadata stopped reaching the disk).  Since
 * the cost does not depend on the model, a state has the same cost under
 * strict, ext4-ordered and posix, and each mode's sets nest across
 * models as they do across modes.  The modes are cost bounds:
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
	bool *meta;            /* per op: a metadata op (ops_is_metadata) */
	bool ordered;          /* dropped metadata must be a suffix (journal_in_order) */
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
	p->ordered = ex->plan->m->journal_in_order;
	p->meta = calloc(p->n + 1, sizeof(*p->meta));
	p->var = calloc(p->n + 1, sizeof(*p->var));
	p->pick = calloc(p->n + 1, sizeof(*p->pick));
	if (!p->meta || !p->var || !p->pick)
		return -ENOMEM;
	for (i = 0; i < p->n; i++) {
		size_t idx = ex->inflight[i];

		p->meta[i] = ops_is_metadata(&ex->t->v[idx]);
		p->var[i] = model_may_tear(ex->plan, idx, p->crash) ? allowed(ex, idx) : &no_tears;
	}
	return 0;
}

static void pick_free(struct ex_pick *p)
{
	free(p->meta);
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
 * Every legal choice for ops 0..top-1 (top counts down: ops are decided
 * from the last to the first, so the dropped metadata suffix is known as
 * it is built) that costs exactly cost.  suffix: every metadata op after
 * top was dropped; started: at least one was.
 */
static int gen(struct ex_pick *p, size_t top, unsigned cost, bool suffix, bool started)
{
	size_t i, v;
	int rc;

	if (p->ex->out_of_time)
		return 0;
	if (top == 0)
		return cost ? 0 : emit(p);
	if (cost > top)
		return 0; /* not enough ops left to spend it on */
	i = top - 1;
	p->pick[i] = 0;
	if ((rc = gen(p, i, cost, suffix && !p->meta[i], started)) < 0)
		return rc;
	if (p->meta[i] && suffix) { /* drop it: the suffix grows (the first costs one) */
		p->pick[i] = -1;
		if (cost >= (unsigned)!started)
			rc = gen(p, i, cost - !started, true, true);
	} else if (cost && (!p->meta[i] || !p->ordered)) {
		p->pick[i] = -1;
		rc = gen(p, i, cost - 1, suffix, started);
	}
	for (v = 0; !rc && cost && v < p->var[i]->n; v++) {
		p->pick[i] = (int)v + 1;
		rc = gen(p, i, cost - 1, suffix, started);
	}
	p->pick[i] = 0;
	return rc;
}

/* Every legal choice of cost at most max, cheapest first. */
static int gen_upto(struct ex_pick *p, unsigned max)
{
	unsigned c;
	int rc = 0;

	for (c = 0; !rc && c <= max && c <= p->n; c++)
		rc = gen(p, p->n, c, true, false);
	return rc;
}

/*
 * The number of legal choices of each cost (coef[c], c = 0..n): the same
 * walk as gen(), from the last op to the first, counted with polynomials
 * for its three situations: in the suffix with nothing dropped yet, in
 * it with something dropped, and out of it.
 */
static void count_by_cost(const struct ex_pick *p, double *coef)
{
	size_t n = p->n + 2, i, c;
	double *s0 = calloc(n, sizeof(double)), *s1 = calloc(n, sizeof(double));
	double *out = calloc(n, sizeof(double)), *t0 = calloc(n, sizeof(double));
	double *t1 = calloc(n, sizeof(double)), *to = calloc(n, sizeof(double));

	memset(coef, 0, n * sizeof(*coef));
	if (!s0 || !s1 || !out || !t0 || !t1 || !to)
		goto done;
	s0[0] = 1;
	for (i = p->n; i-- > 0;) {
		double a = 1.0 + (double)p->var[i]->n; /* dropped or torn: cost one */

		memset(t0, 0, n * sizeof(double));
		memset(t1, 0, n * sizeof(double));
		memset(to, 0, n * sizeof(double));
		for (c = 0; c + 1 < n; c++) {
			if (!p->meta[i]) { /* writes: whole, or a cost-one choice; nothing moves */
				t0[c] += s0[c], t1[c] += s1[c], to[c] += out[c];
				t0[c + 1] += a * s0[c], t1[c + 1] += a * s1[c], to[c + 1] += a * out[c];
				continue;
			}
			to[c] += s0[c] + s1[c] + out[c]; /* kept: the suffix ends */
			t1[c + 1] += s0[c];               /* dropped: the suffix starts (cost one) */
			t1[c] += s1[c];                   /* dropped: the suffix goes on (free) */
			if (!p->ordered)
				to[c + 1] += out[c];      /* dropped outside the suffix */
		}
		memcpy(s0, t0, n * sizeof(double));
		memcpy(s1, t1, n * sizeof(double));
		memcpy(out, to, n * sizeof(double));
	}
	for (c = 0; c < n; c++)
		coef[c] = s0[c] + s1[c] + out[c];
done:
	free(s0), free(s1), free(out), free(t0), free(t1), free(to);
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
 * op by a variant drawn evenly), then made legal: under a journal_in_order
 * model, after a dropped metadata op the later ones are dropped too.
 */
static int draw_one(struct ex_pick *p, uint64_t seed)
{
	uint64_t rng = seed;
	bool dropped = false;
	size_t i;

	for (i = 0; i < p->n; i++) {
		unsigned r = (unsigned)(ex_rand(&rng) % 3);

		p->pick[i] = r == 1 ? -1 : 0;
		if (r == 2 && p->var[i]->n)
			p->pick[i] = (int)(ex_rand(&rng) % p->var[i]->n) + 1;
		if (p->ordered && p->meta[i] && dropped)
			p->pick[i] = -1;
		dropped |= p->meta[i] && p->pick[i] < 0;
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
