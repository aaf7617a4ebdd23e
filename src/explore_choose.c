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
#include <math.h>
#include <stdint.h>
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

/* The options of a single pick of op i: 1 (dropped) + its tear variants. */
static unsigned options(const struct ex_pick *p, size_t i)
{
	return 1 + (unsigned)p->var[i]->n;
}

/* Sets op i to its option o (0: dropped, v + 1: torn by variant v). */
static void set_option(struct ex_pick *p, size_t i, unsigned o)
{
	p->pick[i] = o == 0 ? -1 : (int)o;
}

/*
 * Every choice of k ops out of pool[0..np) (combinations in order, comb
 * the current one) with each chosen op's options in turn, on top of the
 * picks already set.
 */
static int gen_combos(struct ex_pick *p, const size_t *pool, size_t np, unsigned k, size_t *comb)
{
	unsigned *opt = calloc(k + 1, sizeof(*opt)), j;
	int rc = opt ? 0 : -ENOMEM;

	for (j = 0; j < k; j++)
		comb[j] = j;
	while (!rc && !p->ex->out_of_time) {
		for (j = 0; j < k; j++) {
			opt[j] = 0;
			set_option(p, pool[comb[j]], 0);
		}
		for (;;) { /* the options of this combination, an odometer */
			if ((rc = emit(p)) < 0)
				break;
			for (j = k; j-- > 0;) {
				if (++opt[j] < options(p, pool[comb[j]])) {
					set_option(p, pool[comb[j]], opt[j]);
					break;
				}
				opt[j] = 0;
				set_option(p, pool[comb[j]], 0);
			}
			if (j == (unsigned)-1)
				break;
		}
		for (j = 0; j < k; j++) /* undo this combination's picks */
			p->pick[pool[comb[j]]] = 0;
		for (j = k; j-- > 0;) /* next combination */
			if (comb[j] < np - k + j) {
				size_t q;

				comb[j]++;
				for (q = j + 1; q < k; q++)
					comb[q] = comb[q - 1] + 1;
				break;
			}
		if (j == (unsigned)-1)
			break;
	}
	free(opt);
	return rc;
}

/*
 * Every legal choice of cost exactly cost, without recursion over the ops
 * (thousands may be in flight).  A choice is its dropped metadata suffix
 * (the newest s metadata ops; one decision if s > 0; the metadata op just
 * before it, if any, kept whole) plus cost - [s > 0] single picks among
 * the other ops (a write dropped or torn; under posix, an older metadata
 * op dropped).  For each s, the picked ops are a combination walked in
 * order and their options an odometer.
 */
static int gen_exact(struct ex_pick *p, unsigned cost)
{
	size_t *meta = malloc((p->n + 1) * sizeof(size_t)), *pool = malloc((p->n + 1) * sizeof(size_t));
	size_t *comb = calloc(cost + 1, sizeof(size_t)), m = 0, s, i;
	int rc = meta && pool && comb ? 0 : -ENOMEM;

	for (i = 0; !rc && i < p->n; i++)
		if (p->meta[i])
			meta[m++] = i;
	for (s = 0; !rc && s <= m && !p->ex->out_of_time; s++) {
		unsigned k = cost - (s > 0);
		size_t np = 0, keep = s < m ? meta[m - s - 1] : SIZE_MAX;

		if (s > 0 && cost == 0)
			break;
		for (i = 0; i < p->n; i++) /* the ops a single pick may choose */
			if (!p->meta[i] || (!p->ordered && s < m && i < keep))
				pool[np++] = i;
		if (k > np)
			continue;
		for (i = 0; i < p->n; i++)
			p->pick[i] = 0;
		for (i = m - s; i < m; i++)
			p->pick[meta[i]] = -1;
		rc = gen_combos(p, pool, np, k, comb);
	}
	free(meta);
	free(pool);
	free(comb);
	return rc;
}

/* Every legal choice of cost at most max, cheapest first. */
static int gen_upto(struct ex_pick *p, unsigned max)
{
	unsigned c;
	int rc = 0;

	for (c = 0; !rc && c <= max && c <= p->n; c++)
		rc = gen_exact(p, c);
	return rc;
}

/*
 * The number of legal choices of each cost up to deg (coef[0..deg]): the
 * same choices as gen_exact, counted from the last op to the first with
 * polynomials for three situations - in the dropped metadata suffix with
 * nothing dropped yet, in it with something dropped, and out of it.
 */
static void count_by_cost(const struct ex_pick *p, double *coef, size_t deg)
{
	size_t n = deg + 2, i, c;
	double *s0 = calloc(n, sizeof(double)), *s1 = calloc(n, sizeof(double));
	double *out = calloc(n, sizeof(double)), *t0 = calloc(n, sizeof(double));
	double *t1 = calloc(n, sizeof(double)), *to = calloc(n, sizeof(double));

	memset(coef, 0, n * sizeof(*coef));
	if (!s0 || !s1 || !out || !t0 || !t1 || !to)
		goto done;
	s0[0] = 1;
	for (i = p->n; i-- > 0;) {
		double a = options(p, i); /* dropped or torn: cost one */

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
	for (c = 0; c <= deg; c++)
		coef[c] = s0[c] + s1[c] + out[c];
done:
	free(s0), free(s1), free(out), free(t0), free(t1), free(to);
}

/*
 * Every legal choice, whatever its cost, in one pass: each write whole
 * or one of its cost-one options; the metadata ops any subset dropped, or
 * under journal_in_order a suffix (m + 1 ways).
 */
static double count_all(const struct ex_pick *p)
{
	double n = 1, m = 0;
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (!p->meta[i])
			n *= 1.0 + options(p, i);
		else if (p->ordered)
			m++;
		else
			n *= 2;
	}
	return p->ordered ? n * (m + 1) : n;
}

/* Legal choices of cost at most max (HUGE_VAL past what doubles count). */
static double count_upto(const struct ex_pick *p, unsigned max)
{
	size_t deg = max < p->n ? max : p->n, c;
	double *coef, sum = 0;

	if (deg == p->n)
		return count_all(p);
	if (!(coef = calloc(deg + 2, sizeof(*coef))))
		return 0;
	count_by_cost(p, coef, deg);
	for (c = 0; c <= deg; c++)
		sum += coef[c];
	free(coef);
	return sum;
}

/* Does exhaustive enumerate this point whole (else bounded:2)?  *all: its states, if counted. */
static bool exhaustive_fits(const struct ex_pick *p, double *all)
{
	if (p->n > p->ex->o->window) {
		*all = HUGE_VAL;
		return false;
	}
	*all = count_upto(p, UINT32_MAX);
	return *all <= EX_EXHAUSTIVE_MAX;
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
			if (p->n > p->ex->fallback_max)
				p->ex->fallback_max = p->n;
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
