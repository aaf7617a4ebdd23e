/*
 * explain_ref.c - the reference classifier: the first algorithm of
 * `faultline explain`, kept as written so the sweep (explain_sweep.c)
 * can be tested against it (`faultline explain --reference`).
 *
 * For each file and each moment it rescans every op begun by then: the
 * size the program saw, the durable size, whether the name is durable,
 * and the in-flight writes, each marking its pages in a fresh array
 * (worst class wins).  O(files x moments x ops) time and a pages-long
 * array per file and moment: too slow for large traces, simple enough
 * to trust.  Its results go into the same snapshots as the sweep's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "explain_i.h"

/* Is op i (begun by moment m) in flight at moment m? */
static bool x_in_flight(const struct explain *x, size_t i, size_t m)
{
	return ops_changes_state(&x->t->v[i]) &&
	       !model_durable(x->plan, i, x->moment[m] + (x->after[m] ? 1 : 0));
}

/* Size of file id at moment m: after every op begun by then, or only the durable ones. */
static uint64_t size_at(const struct explain *x, uint64_t id, size_t m, bool durable_only,
			uint64_t base)
{
	uint64_t size = base;
	size_t i;

	for (i = 0; i < x->t->n && x->t->v[i].seq <= x->moment[m]; i++) {
		const struct ops_op *op = &x->t->v[i];

		if (!ops_is_bytes(op) || op->id != id || (durable_only && x_in_flight(x, i, m)))
			continue;
		if (op->op == TRACE_OP_WRITE && op->off + op->data_len > size)
			size = op->off + op->data_len;
		else if (op->op == TRACE_OP_TRUNCATE)
			size = op->off;
		else if (op->op == TRACE_OP_FALLOCATE && !(op->mode & 1) && op->off + op->len > size)
			size = op->off + op->len;
	}
	return size;
}

/* File id's name class at moment m: its names counted from the base on,
 * and the namespace ops naming it still in flight. */
static uint8_t name_at(const struct explain *x, uint64_t id, size_t m)
{
	uint64_t links = 0, flight = 0;
	size_t i;

	for (i = 0; i < x->t->nbase; i++)
		links += x->t->base[i].id == id;
	for (i = 0; i < x->t->n && x->t->v[i].seq <= x->moment[m]; i++) {
		const struct ops_op *op = &x->t->v[i];

		links += (uint64_t)(int64_t)explain_link_delta(op, id);
		if (op->kind == OPS_NS && (op->id == id || op->id2 == id) && x_in_flight(x, i, m))
			flight++;
	}
	return explain_name_of(links, flight);
}

static uint64_t base_size(const struct explain *x, uint64_t id)
{
	size_t i;

	for (i = 0; i < x->t->nbase; i++)
		if (x->t->base[i].id == id)
			return x->t->base[i].len;
	return 0;
}

/*
 * Marks the pages of in-flight op idx in cls (worst class wins).  A write
 * the model lets tear marks its pages may-tear, except pages at or past
 * the old end of file under a model that keeps size and bytes together
 * there (they are old-or-new: absent or whole).
 */
static void mark_op(const struct explain *x, size_t idx, uint64_t crash, uint8_t *cls,
		    uint64_t npages)
{
	const struct ops_op *op = &x->t->v[idx];
	uint64_t end = op->off + (op->op == TRACE_OP_WRITE ? op->data_len : op->len);
	uint64_t p, first, last, unit;
	bool tears = op->op == TRACE_OP_WRITE && model_may_tear(x->plan, idx, crash);
	uint8_t c;

	if (op->op != TRACE_OP_WRITE && op->op != TRACE_OP_FALLOCATE)
		return;
	if (end <= op->off)
		return;
	first = op->off / x->page;
	last = (end - 1) / x->page;
	for (p = first; p <= last && p < npages; p++) {
		c = tears && ((p + 1) * x->page <= op->old_size || x->plan->m->size_without_bytes)
			    ? EXPLAIN_TEAR : EXPLAIN_OLD_NEW;
		if (cls[p] < c || cls[p] == EXPLAIN_COLLATERAL)
			cls[p] = c;
	}
	if (!x->block || x->block <= x->page)
		return;
	unit = x->block / x->page;
	for (p = first / unit * unit; p < (last / unit + 1) * unit && p < npages; p++)
		if (cls[p] == EXPLAIN_DURABLE)
			cls[p] = EXPLAIN_COLLATERAL;
}

/* Classifies every page of file f at moment m into cls (np pages, zeroed). */
static void classify(const struct explain *x, const struct explain_file *f, size_t m,
		     uint8_t *cls, uint64_t np, uint64_t lo, uint64_t hi)
{
	uint64_t crash = x->moment[m] + (x->after[m] ? 1 : 0), p;
	size_t i;

	for (i = 0; i < x->t->n && x->t->v[i].seq <= x->moment[m]; i++)
		if (x->t->v[i].id == f->id && x_in_flight(x, i, m))
			mark_op(x, i, crash, cls, np);
	/* Pages between the durable size and the size the program saw. */
	for (p = lo / x->page; lo < hi && p <= (hi - 1) / x->page && p < np; p++)
		cls[p] = EXPLAIN_VANISH;
}

/* File f at moment m, classified and kept as a snapshot.  0 or -ENOMEM. */
static int ref_moment(struct explain *x, struct explain_file *f, size_t m)
{
	uint64_t b = base_size(x, f->id);
	uint64_t full = size_at(x, f->id, m, false, b);
	uint64_t dur = size_at(x, f->id, m, true, b);
	uint64_t lo = dur < full ? dur : full, hi = dur < full ? full : dur;
	uint64_t np = (hi + x->page - 1) / x->page, p;
	uint8_t *cls = calloc(np ? np : 1, 1);
	struct explain_run *run = malloc((np ? np : 1) * sizeof(*run));
	size_t nrun = 0;
	int err = -ENOMEM;

	if (cls && run) {
		classify(x, f, m, cls, np, lo, hi);
		for (p = 0; p < np; p++)
			explain_run_add(run, &nrun, p, cls[p]);
		err = explain_snap_push(x, f, m, name_at(x, f->id, m), np, run, nrun);
	}
	free(run);
	free(cls);
	return err;
}

int explain_reference(struct explain *x)
{
	size_t i, m;
	int err;

	for (i = 0; i < x->nf; i++)
		for (m = 0; m < x->nm; m++)
			if ((err = ref_moment(x, &x->f[i], m)) < 0)
				return err;
	return 0;
}
