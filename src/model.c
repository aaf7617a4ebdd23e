/*
 * model.c - the persistence models and the durability of each op.
 *
 * THE RULES, side by side (the table below is the only place they live):
 *
 *   rule                         strict      posix              ext4-ordered
 *   in-flight ops dropped        never       any subset         data: any subset;
 *                                                               metadata: a prefix
 *   namespace op durable when    completed   every directory    any later fsync or
 *                                            it touches is      fsyncdir (the journal
 *                                            fsyncdir'ed        commit), or a sync write
 *   data op durable when         completed   fsync of its file, or a later O_SYNC/
 *                                            O_DSYNC write to the file, or syncfs
 *   append: size without bytes   no          yes (zeros/garbage) no (data=ordered)
 *   append: bytes without size   no          yes                yes
 *   tearing                      the write   every in-flight    every in-flight
 *                                in progress write              overwrite (sectors
 *                                                               below the old size)
 *
 * Durability is computed once per trace (model_plan_new): for each op,
 * the seq of the first barrier that covers it.  A barrier covers only ops
 * that completed before it began: ops recorded before it (the recorder
 * guarantees that order, see fusefs/faultline-fs.c).  A sync write counts
 * as an fsync of its file (FUSE turns O_DSYNC into a whole-file FSYNC
 * anyway), which also keeps every file's durable ops a prefix of its ops:
 * the materializer relies on that to apply durable ops ahead of others.
 * A failed barrier covers nothing: ignored fsync errors stay visible.
 *
 * What is not modelled: ext4 flushing other files' ordered data at a
 * journal commit (so ext4-ordered is a little weaker than ext4), and
 * whether a directory's own entry is durable is decided like any other
 * namespace op (a new directory needs its parent fsynced, under posix).
 */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static const struct model models[] = {
	{
		.name = "strict",
		.summary = "ordered prefixes only; the write in progress may tear",
		.prefix_only = true,
		.tears = MODEL_TEAR_LAST,
	},
	{
		.name = "posix",
		.summary = "weakest legal: anything unsynced may be lost, reordered or torn",
		.ns_needs_dirsync = true,
		.size_without_bytes = true,
		.bytes_without_size = true,
		.tears = MODEL_TEAR_INFLIGHT,
	},
	{
		.name = "ext4-ordered",
		.summary = "journaled metadata in order, data=ordered appends, torn overwrites",
		.journal_in_order = true,
		.barrier_commits_journal = true,
		.bytes_without_size = true,
		.tears = MODEL_TEAR_OVERWRITES,
	},
};

const struct model *model_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (strcmp(models[i].name, name) == 0)
			return &models[i];
	return NULL;
}

const char *model_list(void)
{
	return "strict, posix, ext4-ordered";
}

/* ---- pending ops per key (file id or directory id) ---- */

struct pending {
	uint64_t key;  /* file or directory id */
	size_t *v;     /* op indices not yet covered for this key */
	size_t n, cap; /* entries used / allocated */
};

struct plan_build {
	struct model_plan *p;
	void *files;     /* tsearch: file id -> struct pending (data ops) */
	void *dirs;      /* tsearch: dir id -> struct pending (namespace ops) */
	uint8_t *dirs_left; /* per op: directories still to be fsynced (posix) */
	size_t *journal; /* pending metadata ops (ext4), in order */
	size_t njournal, jcap;
};

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* The pending list of key, or NULL. */
static struct pending *pending_find(void **tree, uint64_t key)
{
	struct pending k = {.key = key};
	void *p = tfind(&k, tree, pending_cmp);

	return p ? *(struct pending **)p : NULL;
}

/* The pending list of key, made empty if there is none; NULL without memory. */
static struct pending *pending_get(void **tree, uint64_t key)
{
	struct pending *e = pending_find(tree, key);

	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = key;
	if (!tsearch(e, tree, pending_cmp)) {
		free(e);
		return NULL;
	}
	return e;
}

static int pending_push(struct pending *e, size_t idx)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 8;
		size_t *v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = idx;
	return 0;
}

static void pending_free(void *p)
{
	struct pending *e = p;

	free(e->v);
	free(e);
}

/* Marks op idx durable at seq unless it already is. */
static void make_durable(struct plan_build *b, size_t idx, uint64_t seq)
{
	if (b->p->durable_at[idx] == MODEL_NEVER)
		b->p->durable_at[idx] = seq;
}

/* Covers every pending data op of file id (fsync, sync write). */
static void cover_file(struct plan_build *b, uint64_t id, uint64_t seq)
{
	struct pending *e = pending_find(&b->files, id);
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n; i++)
		make_durable(b, e->v[i], seq);
	e->n = 0;
}

/* fsyncdir(dir) under posix: an op is durable once all its dirs are synced. */
static void cover_dir(struct plan_build *b, uint64_t dir, uint64_t seq)
{
	struct pending *e = pending_find(&b->dirs, dir);
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n; i++)
		if (b->dirs_left[e->v[i]] && --b->dirs_left[e->v[i]] == 0)
			make_durable(b, e->v[i], seq);
	e->n = 0;
}

static void cover_journal(struct plan_build *b, uint64_t seq)
{
	size_t i;

	for (i = 0; i < b->njournal; i++)
		make_durable(b, b->journal[i], seq);
	b->njournal = 0;
}

static void cover_all(struct plan_build *b, size_t upto, uint64_t seq)
{
	size_t i;

	for (i = 0; i < upto; i++)
		if (b->p->t->v[i].kind == OPS_DATA || b->p->t->v[i].kind == OPS_NS)
			make_durable(b, i, seq);
}

bool model_is_journal_op(const struct model_plan *p, size_t idx)
{
	const struct ops_op *op = &p->t->v[idx];

	return op->kind == OPS_NS || (op->kind == OPS_DATA && op->op != TRACE_OP_WRITE);
}

/* Notes a state-changing op as pending on the keys that can cover it. */
static int note_pending(struct plan_build *b, size_t idx)
{
	const struct ops_op *op = &b->p->t->v[idx];
	struct pending *e;
	int err = 0;

	if (op->kind == OPS_DATA) {
		e = pending_get(&b->files, op->id);
		err = e ? pending_push(e, idx) : -ENOMEM;
	} else if (b->p->m->ns_needs_dirsync) {
		e = pending_get(&b->dirs, op->parent);
		err = e ? pending_push(e, idx) : -ENOMEM;
		b->dirs_left[idx] = 1;
		if (!err && op->op == TRACE_OP_RENAME && op->parent2 != op->parent) {
			e = pending_get(&b->dirs, op->parent2);
			err = e ? pending_push(e, idx) : -ENOMEM;
			b->dirs_left[idx] = 2;
		}
	}
	if (!err && b->p->m->barrier_commits_journal && model_is_journal_op(b->p, idx)) {
		if (b->njournal == b->jcap) {
			size_t cap = b->jcap ? 2 * b->jcap : 64;
			size_t *v = realloc(b->journal, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			b->journal = v;
			b->jcap = cap;
		}
		b->journal[b->njournal++] = idx;
	}
	return err;
}

static void apply_barrier(struct plan_build *b, size_t idx)
{
	const struct ops_op *op = &b->p->t->v[idx];
	const struct model *m = b->p->m;

	if (op->op == TRACE_OP_SYNCFS) {
		cover_all(b, idx, op->seq);
		return;
	}
	if (op->op == TRACE_OP_FSYNC)
		cover_file(b, op->id, op->seq);
	else if (m->ns_needs_dirsync)
		cover_dir(b, op->id, op->seq);
	if (m->barrier_commits_journal)
		cover_journal(b, op->seq);
}

static int plan_walk(struct plan_build *b)
{
	const struct ops_trace *t = b->p->t;
	size_t i;
	int err;

	for (i = 0; i < t->n; i++) {
		const struct ops_op *op = &t->v[i];

		if (b->p->m->prefix_only) {
			b->p->durable_at[i] = op->seq;
			continue;
		}
		if (op->kind == OPS_DATA || op->kind == OPS_NS) {
			if ((err = note_pending(b, i)) < 0)
				return err;
			if (ops_is_sync_write(op)) {
				cover_file(b, op->id, op->seq);
				if (b->p->m->barrier_commits_journal)
					cover_journal(b, op->seq);
			}
		} else if (op->kind == OPS_BARRIER) {
			apply_barrier(b, i);
		}
	}
	return 0;
}

int model_plan_new(const struct model *m, const struct ops_trace *t,
		   struct model_plan **out)
{
	struct plan_build b = {0};
	size_t i;
	int err = -ENOMEM;

	*out = NULL;
	b.p = calloc(1, sizeof(*b.p));
	if (!b.p)
		return -ENOMEM;
	b.p->m = m;
	b.p->t = t;
	b.p->durable_at = malloc((t->n + 1) * sizeof(uint64_t));
	b.dirs_left = calloc(t->n + 1, 1);
	if (!b.p->durable_at || !b.dirs_left)
		goto out;
	for (i = 0; i < t->n; i++)
		b.p->durable_at[i] = MODEL_NEVER;
	err = plan_walk(&b);
out:
	tdestroy(b.files, pending_free);
	tdestroy(b.dirs, pending_free);
	free(b.dirs_left);
	free(b.journal);
	if (err) {
		model_plan_free(b.p);
		return err;
	}
	*out = b.p;
	return 0;
}

void model_plan_free(struct model_plan *p)
{
	if (!p)
		return;
	free(p->durable_at);
	free(p);
}

bool model_in_flight(const struct model_plan *p, size_t idx, uint64_t crash)
{
	const struct ops_op *op = &p->t->v[idx];

	if (op->seq > crash || (op->kind != OPS_DATA && op->kind != OPS_NS))
		return false;
	return p->durable_at[idx] > crash;
}

void model_tear_rules(const struct model_plan *p, size_t idx, uint64_t crash,
		      struct model_tear_rules *out)
{
	const struct ops_op *op = &p->t->v[idx];
	const struct model *m = p->m;
	bool appends = op->off + op->data_len > op->old_size;

	memset(out, 0, sizeof(*out));
	if (op->op != TRACE_OP_WRITE || op->kind != OPS_DATA || op->data_len == 0)
		return;
	if (m->tears == MODEL_TEAR_LAST && op->seq != crash)
		return;
	out->may_tear = true;
	out->tear_below = UINT64_MAX;
	if (m->tears == MODEL_TEAR_OVERWRITES)
		out->tear_below = op->old_size;
	out->size_lost_ok = appends && m->bytes_without_size;
	out->size_only_ok = appends && m->size_without_bytes;
	if (m->tears == MODEL_TEAR_LAST) {
		/* A write in progress: its sectors and its size, in any state. */
		out->size_lost_ok = appends;
		out->size_only_ok = appends;
	}
}

void model_fixup(const struct model_plan *p, const size_t *inflight, size_t n,
		 bool *drop)
{
	bool dropped_any = false, dropped_journal = false;
	size_t i;

	for (i = 0; i < n; i++) {
		bool journal = model_is_journal_op(p, inflight[i]);

		if (p->m->prefix_only && dropped_any)
			drop[i] = true;
		if (p->m->journal_in_order && journal && dropped_journal)
			drop[i] = true;
		dropped_any |= drop[i];
		dropped_journal |= drop[i] && journal;
	}
}
