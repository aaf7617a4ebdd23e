/*
 * explain.c - `faultline explain`'s model: the moments, the files, and
 * each file's pages classified at each moment.
 *
 * A moment is a crash point: "during op N" (a crash while barrier N runs:
 * what it covers is still in flight), or "after op N" (everything up to
 * N completed, nothing after it began), as model.h defines them.  The
 * moments are: during and after every barrier (and every sync write that
 * is its own barrier), every mark, and the end of the trace; the files
 * are those with a write, truncate or fallocate, in order of the first.
 * At each moment each page of each file is, over every crash state the
 * model allows there:
 *
 *   durable     the same bytes in every state
 *   old-or-new  an in-flight write covers it, whole: either version
 *   may-tear    an in-flight write may persist partly (sectors old, new,
 *               zeros or garbage)
 *   may-vanish  the page may not exist after the crash: it lies between
 *               the durable size and the size the program saw
 *   collateral  no in-flight write covers it, but one in the same
 *               --block may rewrite (and so damage) it
 *
 * Pages are classed over the states in which the file exists; the name
 * is answered apart, at each moment: may-vanish while a create, link,
 * rename or unlink naming the file is in flight (the file may be missing,
 * or not at its last path); otherwise durable while it has a name, absent
 * when it has none (not created yet, or removed and the removal durable).  So a file fsynced but never
 * linked durably shows a name that may vanish and pages that are durable
 * if it survives, which is what a recovery that finds it will read.
 *
 * A file has as many pages as the larger of its durable size and the
 * size the program saw.  This is computed from the model alone (model.c's
 * durability and tear rules), without building states.  Two classifiers
 * compute it: explain_sweep.c, one pass over the trace (the default), and
 * explain_ref.c, the first algorithm (a rescan of the trace per file and
 * moment), kept so tests can hold the sweep to it byte for byte.
 *
 * Invariants: moments are in trace order (crash points non-decreasing);
 * every file has a snapshot at moment 0 and at most one per moment, and
 * consecutive snapshots differ.
 */
#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "explain_i.h"
#include "names.h"

struct explain_fid {
	uint64_t id; /* file id */
	size_t i;    /* its index in explain.f */
};

static const char *const class_names[EXPLAIN_NCLASS] = {
	[EXPLAIN_DURABLE] = "durable",       [EXPLAIN_OLD_NEW] = "old-or-new",
	[EXPLAIN_TEAR] = "may-tear",         [EXPLAIN_VANISH] = "may-vanish",
	[EXPLAIN_COLLATERAL] = "collateral",
};

const char *explain_class_name(int cls)
{
	return class_names[cls];
}

const char *explain_name_name(int name)
{
	static const char *const n[EXPLAIN_NNAME] = {
		[EXPLAIN_NAME_DURABLE] = "durable", [EXPLAIN_NAME_VANISH] = "may-vanish",
		[EXPLAIN_NAME_ABSENT] = "absent",
	};

	return n[name];
}

int explain_link_delta(const struct ops_op *op, uint64_t id)
{
	if (op->kind != OPS_NS)
		return 0;
	switch (op->op) {
	case TRACE_OP_CREATE:
	case TRACE_OP_MKNOD:
	case TRACE_OP_MKDIR:
	case TRACE_OP_SYMLINK:
	case TRACE_OP_LINK:
		return op->id == id ? 1 : 0;
	case TRACE_OP_UNLINK:
	case TRACE_OP_RMDIR:
		return op->id == id ? -1 : 0;
	case TRACE_OP_RENAME: /* an exchange keeps both; otherwise the target's file loses it */
		return !(op->flags & 2) && op->id2 == id && op->id != id ? -1 : 0;
	default:
		return 0;
	}
}

uint8_t explain_name_of(uint64_t links, uint64_t nsflight)
{
	return nsflight ? EXPLAIN_NAME_VANISH : links ? EXPLAIN_NAME_DURABLE : EXPLAIN_NAME_ABSENT;
}

static int fid_cmp(const void *a, const void *b)
{
	const struct explain_fid *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

long explain_file_index(const struct explain *x, uint64_t id)
{
	struct explain_fid k = {.id = id};
	void *p = tfind(&k, &x->byid, fid_cmp);

	return p ? (long)(*(struct explain_fid **)p)->i : -1;
}

/* The file id, added at the end if new.  NULL on -ENOMEM. */
static struct explain_file *x_file(struct explain *x, uint64_t id)
{
	struct explain_fid *k;
	struct explain_file *v;
	long i = explain_file_index(x, id);

	if (i >= 0)
		return &x->f[i];
	if (!(k = malloc(sizeof(*k))))
		return NULL;
	*k = (struct explain_fid){.id = id, .i = x->nf};
	v = realloc(x->f, (x->nf + 1) * sizeof(*x->f));
	if (!v || !tsearch(k, &x->byid, fid_cmp)) {
		x->f = v ? v : x->f;
		free(k);
		return NULL;
	}
	x->f = v;
	memset(&x->f[x->nf], 0, sizeof(*x->f));
	x->f[x->nf].id = id;
	return &x->f[x->nf++];
}

void explain_run_add(struct explain_run *v, size_t *n, uint64_t p, uint8_t cls)
{
	if (*n && v[*n - 1].cls == cls)
		return;
	v[(*n)++] = (struct explain_run){.start = p, .cls = cls};
}

/* Same pages and runs?  (Field by field: a run's padding is not set.) */
static bool snap_same(const struct explain_snap *s, uint8_t name, uint64_t np,
		      const struct explain_run *run, size_t nrun)
{
	size_t r;

	if (s->name != name || s->np != np || s->nrun != nrun)
		return false;
	for (r = 0; r < nrun; r++)
		if (s->run[r].start != run[r].start || s->run[r].cls != run[r].cls)
			return false;
	return true;
}

int explain_snap_push(struct explain *x, struct explain_file *f, size_t m, uint8_t name,
		      uint64_t np, const struct explain_run *run, size_t nrun)
{
	struct explain_snap *s;

	(void)x;
	if (f->nsnap && snap_same(&f->snap[f->nsnap - 1], name, np, run, nrun))
		return 0;
	if (f->nsnap == f->capsnap) {
		size_t cap = f->capsnap ? 2 * f->capsnap : 4;

		if (!(s = realloc(f->snap, cap * sizeof(*s))))
			return -ENOMEM;
		f->snap = s;
		f->capsnap = cap;
	}
	s = &f->snap[f->nsnap];
	*s = (struct explain_snap){.from = m, .name = name, .np = np, .nrun = nrun};
	if (nrun && !(s->run = malloc(nrun * sizeof(*run))))
		return -ENOMEM;
	if (nrun)
		memcpy(s->run, run, nrun * sizeof(*run));
	f->nsnap++;
	if (np > f->npages)
		f->npages = np;
	return 0;
}

/* ---- moments ---- */

static int add_moment(struct explain *x, uint64_t seq, bool after, const char *label)
{
	uint64_t *mo;
	bool *af;
	char **la;

	if (x->nm && x->moment[x->nm - 1] == seq && x->after[x->nm - 1] == after)
		return 0;
	if ((mo = realloc(x->moment, (x->nm + 1) * sizeof(*mo))))
		x->moment = mo;
	if ((af = realloc(x->after, (x->nm + 1) * sizeof(*af))))
		x->after = af;
	if ((la = realloc(x->label, (x->nm + 1) * sizeof(*la))))
		x->label = la;
	if (!mo || !af || !la || !(x->label[x->nm] = strdup(label)))
		return -ENOMEM;
	x->moment[x->nm] = seq;
	x->after[x->nm] = after;
	x->nm++;
	return 0;
}

/* The moments op i makes: during and after a barrier, or at a mark. */
static int op_moments(struct explain *x, const struct names *names, const struct ops_op *op)
{
	char label[700], path[512];
	int err;

	if (op->kind == OPS_BARRIER || (op->oflags & OPS_F_SYNC_SELF)) {
		names_path(names, op->id, path, sizeof(path));
		snprintf(label, sizeof(label), "before op %" PRIu64 " %s %s completes", op->seq,
			 trace_op_name(op->op), path);
		if ((err = add_moment(x, op->seq, false, label)) < 0)
			return err;
		snprintf(label, sizeof(label), "after op %" PRIu64 " %s %s", op->seq,
			 trace_op_name(op->op), path);
		return add_moment(x, op->seq, true, label);
	}
	if (op->kind == OPS_MARK) {
		snprintf(label, sizeof(label), "mark \"%.*s\" (op %" PRIu64 ")",
			 (int)op->name_len, ops_name(x->t, op), op->seq);
		return add_moment(x, op->seq, true, label);
	}
	return 0;
}

/* Every moment and every file written, with its last known path.  0 or -ENOMEM. */
static int find_moments(struct explain *x, struct names *names)
{
	char path[512];
	size_t i;
	int err;

	for (i = 0; i < x->t->nbase; i++)
		ops_names_apply(names, x->t, &x->t->base[i]);
	for (i = 0; i < x->t->n; i++) {
		const struct ops_op *op = &x->t->v[i];

		ops_names_apply(names, x->t, op);
		if (ops_is_bytes(op)) {
			struct explain_file *f = x_file(x, op->id);

			if (!f)
				return -ENOMEM;
			if (names_path(names, op->id, path, sizeof(path)) == 0)
				snprintf(f->path, sizeof(f->path), "%s", path);
		}
		if ((err = op_moments(x, names, op)) < 0)
			return err;
	}
	if (x->t->n)
		return add_moment(x, x->t->v[x->t->n - 1].seq, true, "end of trace");
	return 0;
}

int explain_build(struct explain *x, const struct ops_trace *t, const struct model *m,
		  uint32_t page, uint32_t block, unsigned flags)
{
	struct names *names = names_new();
	int err = -ENOMEM;

	*x = (struct explain){.t = t, .page = page, .block = block};
	if (!names || (err = model_plan_new(m, t, &x->plan)) < 0)
		goto out;
	if ((err = find_moments(x, names)) < 0)
		goto out;
	err = flags & EXPLAIN_REFERENCE ? explain_reference(x) : explain_sweep(x);
out:
	names_free(names);
	if (err)
		explain_free(x);
	return err;
}

void explain_free(struct explain *x)
{
	size_t i, s;

	for (i = 0; i < x->nf; i++) {
		for (s = 0; s < x->f[i].nsnap; s++)
			free(x->f[i].snap[s].run);
		free(x->f[i].snap);
	}
	for (i = 0; i < x->nm; i++)
		free(x->label[i]);
	tdestroy(x->byid, free);
	free(x->f);
	free(x->moment);
	free(x->after);
	free(x->label);
	model_plan_free(x->plan);
	*x = (struct explain){0};
}
