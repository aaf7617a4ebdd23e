/*
 * explain_sweep.c - the classifier explain uses: one pass over the trace.
 *
 * The moments come in trace order, so the ops begun by each moment are
 * those of the moment before plus the ops since; the ops durable at it
 * are those of the moment before plus the ops whose barrier (durable_at,
 * model.h) now lies before the crash point.  The sweep keeps, per file:
 *
 *   full    the size the program saw: each bytes op folded in as it begins
 *   dur     the durable size: a segment tree over the file's bytes ops in
 *           trace order, whose leaf is the op's size change once it is
 *           durable and nothing before (a truncate sets, a write extends:
 *           the durable ops need not be a prefix, so a plain running
 *           value cannot follow them); the root applied to the base size
 *   pages   per-page counters of the in-flight writes and fallocates
 *           marking each page may-tear, old-or-new and (--block)
 *           collateral; pages are grouped into intervals whose bounds are
 *           every bound any op of the file can mark, so a file's memory
 *           follows its ops, not its size; a bitmap says which intervals
 *           start a run of a new class
 *   ns      how many namespace ops naming the file are in flight
 *   links   how many names it has, after every namespace op begun
 *
 * Each op thus begins once and settles (becomes durable) at most once,
 * changing only its own file; a moment snapshots only the files that
 * changed, reading their runs off the bitmap.  Time: the ops, plus the
 * pages (intervals) each op marks, plus, per changed file and moment, its
 * runs and a scan of its bitmap; no rescan of the trace.
 *
 * Invariant: the counters hold exactly the in-flight ops (state
 * SW_FLIGHT), each with the tear flag it was counted with; a page's class
 * is then the old algorithm's (explain_ref.c): may-tear over old-or-new,
 * both over collateral, collateral over durable; then may-vanish for the
 * pages between the durable and the seen size; the name may vanish while
 * ns is not 0.  Under MODEL_TEAR_LAST whether a write may tear
 * depends on the crash point, so such writes are rechecked each moment.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explain_i.h"

enum { SW_TEAR, SW_OLD_NEW, SW_BLOCK, SW_NCNT };         /* page counters */
enum { SW_LATER, SW_FLIGHT, SW_DURABLE };                 /* an op's state */

/* A size change: s -> max(s, v), or s -> v when set.  Composes into the same form. */
struct sw_size {
	uint64_t v; /* bytes */
	bool set;   /* a truncate: the size becomes v */
};

struct sw_file {
	uint64_t base;            /* size in the base */
	uint64_t full;            /* size after every bytes op begun */
	struct sw_size *tree;     /* 2 * leaves nodes, root 1: durable size changes, composed */
	size_t leaves;            /* power of two >= the file's bytes ops */
	size_t nbytes;            /* bytes ops ranked so far (prepass) */
	uint64_t pages;           /* most pages the file can have at any moment */
	const uint64_t *bnd;      /* nint + 1 interval bounds (pages), 0 ... pages */
	size_t nint;              /* intervals */
	uint32_t (*cnt)[SW_NCNT]; /* per interval: in-flight ops marking it, per kind */
	uint8_t *cls;             /* per interval: its class from cnt */
	uint64_t *brk;            /* bitmap: interval starts a run (first, or class differs) */
	uint64_t ns;              /* in-flight namespace ops naming the file */
	uint64_t links;           /* names it has after the namespace ops begun */
	bool dirty;               /* changed since its last snapshot */
};

/* The pages an op marks, clipped to its file's: [first, tear) may tear if the write does. */
struct sw_geom {
	uint64_t first, tear, end; /* direct pages [first, end) */
	uint64_t bs, be;           /* --block pages [bs, be) */
};

struct sw_bnd {
	size_t f;   /* file index */
	uint64_t p; /* a page bound */
};

struct sw_dur {
	uint64_t at; /* durable_at */
	size_t i;    /* op index */
};

struct sweep {
	struct explain *x;
	struct sw_file *f;      /* per file of x */
	long *fidx;             /* per op: index of the file op->id, -1 none */
	size_t *rank;           /* per op: its place among its file's bytes ops */
	uint8_t *state;         /* per op: SW_* */
	bool *tears;            /* per op in flight: counted as may-tear */
	struct sw_dur *dur;     /* ops that settle, by durable_at */
	size_t ndur;
	size_t *dirty, ndirty;  /* files changed since the last moment */
	size_t *recheck, nre;   /* MODEL_TEAR_LAST: in-flight writes counted as tearing */
	uint64_t *bnd;          /* every file's interval bounds, one after another */
	struct explain_run *run[2]; /* scratch: a file's runs, and them painted */
};

static uint64_t u64_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static struct sw_size size_of(const struct ops_op *op)
{
	if (op->op == TRACE_OP_WRITE)
		return (struct sw_size){.v = op->off + op->data_len};
	if (op->op == TRACE_OP_TRUNCATE)
		return (struct sw_size){.v = op->off, .set = true};
	if (op->op == TRACE_OP_FALLOCATE && !(op->mode & 1))
		return (struct sw_size){.v = op->off + op->len};
	return (struct sw_size){0};
}

/* a, then b. */
static struct sw_size size_then(struct sw_size a, struct sw_size b)
{
	return b.set ? b : (struct sw_size){.v = a.v > b.v ? a.v : b.v, .set = a.set};
}

static uint64_t size_apply(struct sw_size c, uint64_t s)
{
	return c.set || c.v > s ? c.v : s;
}

static void sw_dirty(struct sweep *s, size_t fi)
{
	if (!s->f[fi].dirty) {
		s->f[fi].dirty = true;
		s->dirty[s->ndirty++] = fi;
	}
}

static bool sw_geom(const struct sweep *s, const struct ops_op *op, uint64_t pages,
		    struct sw_geom *g)
{
	uint32_t page = s->x->page, block = s->x->block;
	uint64_t end = op->off + (op->op == TRACE_OP_WRITE ? op->data_len : op->len), last, q, unit;

	if ((op->op != TRACE_OP_WRITE && op->op != TRACE_OP_FALLOCATE) || end <= op->off)
		return false;
	last = (end - 1) / page;
	g->first = u64_min(op->off / page, pages);
	g->end = u64_min(last + 1, pages);
	q = s->x->plan->m->size_without_bytes ? g->end : op->old_size / page;
	g->tear = q < g->first ? g->first : u64_min(q, g->end);
	g->bs = g->be = g->first;
	if (block && block > page) {
		unit = block / page;
		g->bs = u64_min(op->off / page / unit * unit, pages);
		g->be = u64_min((last / unit + 1) * unit, pages);
	}
	return true;
}

/* The interval starting at page bound p of file f (p is one of its bounds). */
static size_t sw_interval(const struct sw_file *f, uint64_t p)
{
	size_t lo = 0, hi = f->nint;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->bnd[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void sw_brk(struct sw_file *f, size_t j)
{
	if (j == 0 || f->cls[j] != f->cls[j - 1])
		f->brk[j / 64] |= 1ull << (j % 64);
	else
		f->brk[j / 64] &= ~(1ull << (j % 64));
}

/* Adds delta to counter k of pages [a, b) of file f. */
static void sw_count(struct sw_file *f, uint64_t a, uint64_t b, int k, int delta)
{
	size_t j, ja, jb;

	if (a >= b)
		return;
	ja = sw_interval(f, a);
	jb = sw_interval(f, b);
	for (j = ja; j < jb; j++) {
		uint32_t *c = f->cnt[j];

		c[k] += delta;
		f->cls[j] = c[SW_TEAR] ? EXPLAIN_TEAR : c[SW_OLD_NEW] ? EXPLAIN_OLD_NEW
			  : c[SW_BLOCK] ? EXPLAIN_COLLATERAL : EXPLAIN_DURABLE;
	}
	for (j = ja; j <= jb && j < f->nint; j++)
		sw_brk(f, j);
}

/* Counts in-flight op i in (delta 1) or out (-1) of its file's pages and name. */
static void sw_flight(struct sweep *s, size_t i, int delta)
{
	const struct ops_op *op = &s->x->t->v[i];
	long fi = s->fidx[i], f2;
	struct sw_geom g;

	if (op->kind == OPS_NS) {
		if (fi >= 0) {
			s->f[fi].ns += delta;
			sw_dirty(s, fi);
		}
		if (op->id2 != op->id && (f2 = explain_file_index(s->x, op->id2)) >= 0) {
			s->f[f2].ns += delta;
			sw_dirty(s, f2);
		}
		return;
	}
	if (fi < 0 || !sw_geom(s, op, s->f[fi].pages, &g))
		return;
	sw_count(&s->f[fi], g.first, s->tears[i] ? g.tear : g.first, SW_TEAR, delta);
	sw_count(&s->f[fi], s->tears[i] ? g.tear : g.first, g.end, SW_OLD_NEW, delta);
	sw_count(&s->f[fi], g.bs, g.be, SW_BLOCK, delta);
	sw_dirty(s, fi);
}

/* Bytes op i is durable: its size change joins its file's durable size. */
static void sw_durable(struct sweep *s, size_t i)
{
	struct sw_file *f;
	size_t n;

	if (s->fidx[i] < 0 || !ops_is_bytes(&s->x->t->v[i]))
		return;
	f = &s->f[s->fidx[i]];
	n = f->leaves + s->rank[i];
	f->tree[n] = size_of(&s->x->t->v[i]);
	for (n /= 2; n; n /= 2)
		f->tree[n] = size_then(f->tree[2 * n], f->tree[2 * n + 1]);
	sw_dirty(s, s->fidx[i]);
}

/* Namespace op op changes the names of the files it names. */
static void sw_links(struct sweep *s, const struct ops_op *op)
{
	uint64_t ids[2] = {op->id, op->id2};
	long fi;
	int k, d;

	for (k = 0; k < 2 && op->kind == OPS_NS; k++)
		if ((k == 0 || ids[1] != ids[0]) && (d = explain_link_delta(op, ids[k])) &&
		    (fi = explain_file_index(s->x, ids[k])) >= 0) {
			s->f[fi].links += (uint64_t)(int64_t)d;
			sw_dirty(s, fi);
		}
}

/* Op i begins (it is begun by the moment whose crash point is crash). */
static void sw_begin(struct sweep *s, size_t i, uint64_t crash)
{
	const struct ops_op *op = &s->x->t->v[i];
	const struct model_plan *plan = s->x->plan;

	if (!ops_changes_state(op))
		return;
	sw_links(s, op);
	if (ops_is_bytes(op) && s->fidx[i] >= 0) {
		s->f[s->fidx[i]].full = size_apply(size_of(op), s->f[s->fidx[i]].full);
		sw_dirty(s, s->fidx[i]);
	}
	if (model_durable(plan, i, crash)) {
		s->state[i] = SW_DURABLE;
		sw_durable(s, i);
		return;
	}
	s->state[i] = SW_FLIGHT;
	s->tears[i] = op->op == TRACE_OP_WRITE && model_may_tear(plan, i, crash);
	if (s->tears[i] && plan->m->tears == MODEL_TEAR_LAST)
		s->recheck[s->nre++] = i;
	sw_flight(s, i, 1);
}

/* Op i's barrier completed before the crash point. */
static void sw_settle(struct sweep *s, size_t i)
{
	assert(s->state[i] != SW_LATER);
	if (s->state[i] != SW_FLIGHT)
		return;
	sw_flight(s, i, -1);
	s->state[i] = SW_DURABLE;
	sw_durable(s, i);
}

/* MODEL_TEAR_LAST: a write tears only while it is the op in progress. */
static void sw_recheck(struct sweep *s, uint64_t crash)
{
	size_t r, keep = 0;

	for (r = 0; r < s->nre; r++) {
		size_t i = s->recheck[r];
		bool t;

		if (s->state[i] != SW_FLIGHT)
			continue;
		t = model_may_tear(s->x->plan, i, crash);
		if (t != s->tears[i]) {
			sw_flight(s, i, -1);
			s->tears[i] = t;
			sw_flight(s, i, 1);
		}
		if (t)
			s->recheck[keep++] = i;
	}
	s->nre = keep;
}

/* File f's runs over its first np pages, from the bitmap, into run.  Their number. */
static size_t sw_runs(const struct sw_file *f, uint64_t np, struct explain_run *run)
{
	size_t n = 0, w;

	for (w = 0; w * 64 < f->nint; w++) {
		uint64_t b = f->brk[w];

		for (; b; b &= b - 1) {
			size_t j = w * 64 + (size_t)__builtin_ctzll(b);

			if (f->bnd[j] >= np)
				return n;
			explain_run_add(run, &n, f->bnd[j], f->cls[j]);
		}
	}
	return n;
}

/* in's runs over np pages with [vs, ve) made may-vanish (vs < ve <= np), into out. */
static size_t sw_paint(const struct explain_run *in, size_t n, uint64_t np, uint64_t vs,
		       uint64_t ve, struct explain_run *out)
{
	size_t r, k = 0;
	uint8_t at_ve = EXPLAIN_DURABLE;

	for (r = 0; r < n && in[r].start < vs; r++)
		explain_run_add(out, &k, in[r].start, in[r].cls);
	explain_run_add(out, &k, vs, EXPLAIN_VANISH);
	if (ve >= np)
		return k;
	for (r = 0; r < n && in[r].start <= ve; r++)
		at_ve = in[r].cls;
	explain_run_add(out, &k, ve, at_ve);
	for (; r < n; r++)
		explain_run_add(out, &k, in[r].start, in[r].cls);
	return k;
}

/* File fi as it is now, kept as its snapshot at moment m.  0 or -ENOMEM. */
static int sw_snap(struct sweep *s, size_t fi, size_t m)
{
	struct sw_file *f = &s->f[fi];
	uint64_t page = s->x->page, dur = size_apply(f->tree[1], f->base), full = f->full;
	uint64_t lo = u64_min(dur, full), hi = dur < full ? full : dur;
	uint64_t np = (hi + page - 1) / page, vs = lo / page, ve;
	struct explain_run *run = s->run[0];
	size_t n = sw_runs(f, np, run);

	f->dirty = false;
	if (lo < hi && vs < (ve = u64_min((hi - 1) / page + 1, np))) {
		n = sw_paint(run, n, np, vs, ve, s->run[1]);
		run = s->run[1];
	}
	return explain_snap_push(s->x, &s->x->f[fi], m, explain_name_of(f->links, f->ns), np, run,
				 n);
}

/* ---- setting up: ranks, sizes and interval bounds per file ---- */

static int bnd_cmp(const void *a, const void *b)
{
	const struct sw_bnd *x = a, *y = b;

	if (x->f != y->f)
		return x->f < y->f ? -1 : 1;
	return x->p < y->p ? -1 : x->p > y->p;
}

static int dur_cmp(const void *a, const void *b)
{
	const struct sw_dur *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Most pages a file of size v has; as explain_ref.c computes them. */
static uint64_t sw_pages(const struct sweep *s, uint64_t v)
{
	return (v + s->x->page - 1) / s->x->page;
}

/* Per op its file and rank; per file its base size, most pages and size tree. */
static int sw_files(struct sweep *s)
{
	const struct ops_trace *t = s->x->t;
	bool *based = calloc(s->x->nf + 1, sizeof(*based));
	size_t i;
	long fi;

	if (!based)
		return -ENOMEM;
	for (i = 0; i < t->nbase; i++)
		if ((fi = explain_file_index(s->x, t->base[i].id)) >= 0)
			s->f[fi].links++;
	for (i = 0; i < t->nbase; i++)
		if ((fi = explain_file_index(s->x, t->base[i].id)) >= 0 && !based[fi]) {
			based[fi] = true;
			s->f[fi].base = s->f[fi].full = t->base[i].len;
			s->f[fi].pages = sw_pages(s, t->base[i].len);
		}
	free(based);
	for (i = 0; i < t->n; i++) {
		s->fidx[i] = explain_file_index(s->x, t->v[i].id);
		if (s->fidx[i] >= 0 && ops_is_bytes(&t->v[i])) {
			struct sw_file *f = &s->f[s->fidx[i]];
			uint64_t p = sw_pages(s, size_of(&t->v[i]).v);

			s->rank[i] = f->nbytes++;
			f->pages = p > f->pages ? p : f->pages;
		}
	}
	for (fi = 0; (size_t)fi < s->x->nf; fi++) {
		struct sw_file *f = &s->f[fi];

		for (f->leaves = 1; f->leaves < f->nbytes; f->leaves *= 2)
			;
		if (!(f->tree = calloc(2 * f->leaves, sizeof(*f->tree))))
			return -ENOMEM;
	}
	return 0;
}

/* Gives file fi its intervals: bounds bnd[0..nb), counters, classes and bitmap. */
static int sw_intervals(struct sw_file *f, const uint64_t *bnd, size_t nb)
{
	f->bnd = bnd;
	f->nint = nb - 1;
	f->cnt = calloc(f->nint + 1, sizeof(*f->cnt));
	f->cls = calloc(f->nint + 1, 1);
	f->brk = calloc(f->nint / 64 + 1, sizeof(*f->brk));
	if (!f->cnt || !f->cls || !f->brk)
		return -ENOMEM;
	f->brk[0] = f->nint ? 1 : 0;
	return 0;
}

/* Every page bound an op of each file can mark, sorted, once; then the intervals. */
static int sw_bounds(struct sweep *s)
{
	const struct ops_trace *t = s->x->t;
	struct sw_bnd *b = malloc((2 * s->x->nf + 5 * t->n + 1) * sizeof(*b));
	size_t i, k = 0, u = 0, start, most = 0;
	struct sw_geom g;
	int err = -ENOMEM;

	if (!b || !(s->bnd = malloc((2 * s->x->nf + 5 * t->n + 1) * sizeof(*s->bnd))))
		goto out;
	for (i = 0; i < s->x->nf; i++) {
		b[k++] = (struct sw_bnd){i, 0};
		b[k++] = (struct sw_bnd){i, s->f[i].pages};
	}
	for (i = 0; i < t->n; i++) {
		long fi = s->fidx[i];

		if (fi < 0 || t->v[i].kind != OPS_DATA || !sw_geom(s, &t->v[i], s->f[fi].pages, &g))
			continue;
		b[k++] = (struct sw_bnd){fi, g.first};
		b[k++] = (struct sw_bnd){fi, g.tear};
		b[k++] = (struct sw_bnd){fi, g.end};
		b[k++] = (struct sw_bnd){fi, g.bs};
		b[k++] = (struct sw_bnd){fi, g.be};
	}
	qsort(b, k, sizeof(*b), bnd_cmp);
	for (i = 0; i < k; i = start) {
		size_t fi = b[i].f, first = u;

		for (start = i; start < k && b[start].f == fi; start++)
			if (u == first || s->bnd[u - 1] != b[start].p)
				s->bnd[u++] = b[start].p;
		if (sw_intervals(&s->f[fi], &s->bnd[first], u - first) < 0)
			goto out;
		most = u - first > most ? u - first : most;
	}
	s->run[0] = malloc((most + 2) * sizeof(*s->run[0]));
	s->run[1] = malloc((most + 2) * sizeof(*s->run[1]));
	err = s->run[0] && s->run[1] ? 0 : -ENOMEM;
out:
	free(b);
	return err;
}

/* The ops that settle (durable from some barrier on), by when. */
static int sw_settling(struct sweep *s)
{
	const struct ops_trace *t = s->x->t;
	size_t i;

	if (!(s->dur = malloc((t->n + 1) * sizeof(*s->dur))))
		return -ENOMEM;
	for (i = 0; i < t->n; i++)
		if (ops_changes_state(&t->v[i]) && s->x->plan->durable_at[i] != MODEL_NEVER)
			s->dur[s->ndur++] = (struct sw_dur){s->x->plan->durable_at[i], i};
	qsort(s->dur, s->ndur, sizeof(*s->dur), dur_cmp);
	return 0;
}

static void sw_free(struct sweep *s)
{
	size_t i;

	for (i = 0; s->f && i < s->x->nf; i++) {
		free(s->f[i].tree);
		free(s->f[i].cnt);
		free(s->f[i].cls);
		free(s->f[i].brk);
	}
	free(s->f);
	free(s->fidx);
	free(s->rank);
	free(s->state);
	free(s->tears);
	free(s->dur);
	free(s->dirty);
	free(s->recheck);
	free(s->bnd);
	free(s->run[0]);
	free(s->run[1]);
}

static int sw_init(struct sweep *s)
{
	size_t n = s->x->t->n + 1, nf = s->x->nf + 1;
	int err;

	s->f = calloc(nf, sizeof(*s->f));
	s->fidx = calloc(n, sizeof(*s->fidx));
	s->rank = calloc(n, sizeof(*s->rank));
	s->state = calloc(n, sizeof(*s->state));
	s->tears = calloc(n, sizeof(*s->tears));
	s->dirty = calloc(nf, sizeof(*s->dirty));
	s->recheck = calloc(n, sizeof(*s->recheck));
	if (!s->f || !s->fidx || !s->rank || !s->state || !s->tears || !s->dirty || !s->recheck)
		return -ENOMEM;
	if ((err = sw_files(s)) < 0 || (err = sw_bounds(s)) < 0)
		return err;
	return sw_settling(s);
}

/* ---- the sweep ---- */

/* Brings the state to moment m and snapshots the files it changed.  0 or -ENOMEM. */
static int sw_moment(struct sweep *s, size_t m, size_t *next, size_t *settled)
{
	const struct ops_trace *t = s->x->t;
	uint64_t crash = s->x->moment[m] + (s->x->after[m] ? 1 : 0);
	size_t d;
	int err;

	sw_recheck(s, crash);
	for (; *next < t->n && t->v[*next].seq <= s->x->moment[m]; (*next)++)
		sw_begin(s, *next, crash);
	for (; *settled < s->ndur && s->dur[*settled].at < crash; (*settled)++)
		sw_settle(s, s->dur[*settled].i);
	for (d = 0; d < s->ndirty; d++)
		if ((err = sw_snap(s, s->dirty[d], m)) < 0)
			return err;
	s->ndirty = 0;
	return 0;
}

int explain_sweep(struct explain *x)
{
	struct sweep s = {.x = x};
	size_t m, i, next = 0, settled = 0;
	int err = sw_init(&s);

	for (i = 0; !err && i < x->nf; i++)
		sw_dirty(&s, i);
	for (m = 0; !err && m < x->nm; m++)
		err = sw_moment(&s, m, &next, &settled);
	sw_free(&s);
	return err;
}
