/*
 * model.c - the persistence models and the durability of each op.
 *
 * THE RULES, side by side (the table below is the only place they live;
 * reference.c reads the same flags):
 *
 *   rule                       strict       posix               ext4-ordered
 *   op durable once            it completes a barrier covering it completed (see below)
 *   in-flight ops lost         - (only op c any subset          writes: any subset;
 *                              is in doubt)                     metadata: a suffix
 *   namespace op covered by    -            fsyncdir of every   any barrier (the
 *                                           directory it        journal commit)
 *                                           touches
 *   write/truncate/fallocate   -            fsync or fdatasync of the file, an O_SYNC/
 *   covered by                              O_DSYNC write that is its own barrier, syncfs
 *   mode/owner/times/xattrs    -            fsync (not fdatasync) any barrier
 *   covered by                              of the inode, fsyncdir
 *                                           of a directory, an
 *                                           O_SYNC write, syncfs
 *   append: size w/o bytes     no           yes (zeros/garbage) no (data=ordered)
 *   append: bytes w/o size     no           yes                 yes
 *   tears                      the write in every in-flight     every in-flight write,
 *                              progress,    write, any sector   sectors below the old
 *                              below the                        end of file only
 *                              old end of file
 *
 * A crash at record c is a crash during op c; op i is durable at c when
 * the barrier covering it has seq < c (model_durable): a crash during a
 * barrier finds everything it covers still in flight.  A barrier covers
 * only ops recorded before it (the recorder guarantees they completed
 * before it began, see fusefs/faultline-fs.c).  A buffered O_SYNC/O_DSYNC
 * write completes with the FSYNC the kernel sends after it, which is an
 * ordinary fsync/fdatasync record; only a sync write with no FSYNC of its
 * own (OPS_F_SYNC_SELF, O_DIRECT) is itself the barrier: it covers itself
 * and the file's earlier ops, and is durable at crash points after it.  A
 * failed barrier covers nothing: ignored fsync errors stay visible.
 *
 * Tears (model_tear_allows): every write has one model-independent family
 * of tear variants (tear.c); a model only filters it.  Damage to a sector
 * that reaches the old end of file or past it is "size without bytes",
 * allowed only with size_without_bytes; losing an append's new size needs
 * bytes_without_size.
 *
 * What is not modelled: ext4 flushing other files' ordered data at a
 * journal commit, and ext4 skipping a commit for an fdatasync that needs
 * none (so ext4-ordered is a little weaker, resp. stronger, than ext4);
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
		.name = "ext4-ordered",
		.summary = "journaled metadata in order, data=ordered appends, torn overwrites",
		.journal_in_order = true,
		.barrier_commits_journal = true,
		.bytes_without_size = true,
		.tears = MODEL_TEAR_INFLIGHT,
	},
	{
		.name = "posix",
		.summary = "weakest legal: anything unsynced may be lost, reordered or torn",
		.ns_needs_dirsync = true,
		.size_without_bytes = true,
		.bytes_without_size = true,
		.tears = MODEL_TEAR_INFLIGHT,
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

const struct model *model_all(size_t *n)
{
	*n = sizeof(models) / sizeof(models[0]);
	return models;
}

/* ---- pending ops per key ---- */

struct pending {
	uint64_t key;  /* file or directory id */
	size_t *v;     /* op indices not yet covered for this key */
	size_t n, cap; /* entries used / allocated */
};

struct plan_build {
	struct model_plan *p;
	void *bytes;     /* tsearch: file id -> struct pending (write, truncate, fallocate) */
	void *attrs;     /* tsearch: inode id -> struct pending (setattr, xattrs) */
	void *dirs;      /* tsearch: dir id -> struct pending (namespace ops, posix) */
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

/* Appends idx to the pending list of key (made if missing).  0 or -ENOMEM. */
static int pending_push(void **tree, uint64_t key, size_t idx)
{
	struct pending *e = pending_find(tree, key);

	if (!e) {
		if (!(e = calloc(1, sizeof(*e))))
			return -ENOMEM;
		e->key = key;
		if (!tsearch(e, tree, pending_cmp)) {
			free(e);
			return -ENOMEM;
		}
	}
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

/*
 * Does the barrier at op at leave op idx pending?  When both came from
 * one io_uring submission, unordered (ops_concurrent): the barrier may
 * have run before it, so it stays pending for a later barrier.
 */
static bool left_pending(const struct plan_build *b, size_t idx, size_t at)
{
	return ops_concurrent(b->p->t, idx, at);
}

/* Covers every pending op of key in tree (fsync, fdatasync, sync write) but
 * the ones left pending. */
static void cover_key(struct plan_build *b, void **tree, uint64_t key, size_t at)
{
	struct pending *e = pending_find(tree, key);
	size_t i, keep = 0;

	if (!e)
		return;
	for (i = 0; i < e->n; i++)
		if (left_pending(b, e->v[i], at))
			e->v[keep++] = e->v[i];
		else
			make_durable(b, e->v[i], b->p->t->v[at].seq);
	e->n = keep;
}

/* fsyncdir(dir) under posix: an op is durable once all its dirs are synced. */
static void cover_dir(struct plan_build *b, uint64_t dir, size_t at)
{
	struct pending *e = pending_find(&b->dirs, dir);
	size_t i, keep = 0;

	if (!e)
		return;
	for (i = 0; i < e->n; i++)
		if (left_pending(b, e->v[i], at))
			e->v[keep++] = e->v[i];
		else if (b->dirs_left[e->v[i]] && --b->dirs_left[e->v[i]] == 0)
			make_durable(b, e->v[i], b->p->t->v[at].seq);
	e->n = keep;
}

static void cover_journal(struct plan_build *b, size_t at)
{
	size_t i, keep = 0;

	for (i = 0; i < b->njournal; i++)
		if (left_pending(b, b->journal[i], at))
			b->journal[keep++] = b->journal[i];
		else
			make_durable(b, b->journal[i], b->p->t->v[at].seq);
	b->njournal = keep;
}

static void cover_all(struct plan_build *b, size_t at)
{
	size_t i;

	for (i = 0; i < at; i++)
		if (ops_changes_state(&b->p->t->v[i]) && !left_pending(b, i, at))
			make_durable(b, i, b->p->t->v[at].seq);
}

bool model_is_journal_op(const struct model_plan *p, size_t idx)
{
	return p->m->journal_in_order && ops_is_metadata(&p->t->v[idx]);
}

static int journal_push(struct plan_build *b, size_t idx)
{
	if (b->njournal == b->jcap) {
		size_t cap = b->jcap ? 2 * b->jcap : 64;
		size_t *v = realloc(b->journal, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->journal = v;
		b->jcap = cap;
	}
	b->journal[b->njournal++] = idx;
	return 0;
}

/* Notes a state-changing op as pending on the keys that can cover it. */
static int note_pending(struct plan_build *b, size_t idx)
{
	const struct ops_op *op = &b->p->t->v[idx];
	const struct model *m = b->p->m;
	int err = 0;

	if (op->kind == OPS_DATA) {
		err = pending_push(op->oflags & OPS_F_ATTR ? &b->attrs : &b->bytes, op->id, idx);
	} else if (m->ns_needs_dirsync) {
		err = pending_push(&b->dirs, op->parent, idx);
		b->dirs_left[idx] = 1;
		if (!err && op->op == TRACE_OP_RENAME && op->parent2 != op->parent) {
			err = pending_push(&b->dirs, op->parent2, idx);
			b->dirs_left[idx] = 2;
		}
	}
	if (!err && m->barrier_commits_journal && model_is_journal_op(b->p, idx))
		err = journal_push(b, idx);
	return err;
}

/*
 * A barrier at op idx: fsync covers the file's bytes and attributes,
 * fdatasync its bytes only; fsyncdir covers the directory's entries
 * (posix) and, without datasync, its own attributes; a sync write that
 * is its own barrier is an fdatasync (O_DSYNC) or fsync (O_SYNC) of its
 * file; syncfs covers everything; under barrier_commits_journal every one
 * of them also commits the journal.
 */
static void apply_barrier(struct plan_build *b, size_t idx)
{
	const struct ops_op *op = &b->p->t->v[idx];
	const struct model *m = b->p->m;
	bool datasync = op->op == TRACE_OP_WRITE ? !(op->flags & TRACE_WF_SYNC) : op->flags & 1;

	if (op->op == TRACE_OP_SYNCFS) {
		cover_all(b, idx);
		return;
	}
	if (op->op == TRACE_OP_FSYNC || op->op == TRACE_OP_WRITE)
		cover_key(b, &b->bytes, op->id, idx);
	else if (m->ns_needs_dirsync)
		cover_dir(b, op->id, idx);
	if (!datasync)
		cover_key(b, &b->attrs, op->id, idx);
	if (m->barrier_commits_journal)
		cover_journal(b, idx);
}

static int plan_walk(struct plan_build *b)
{
	const struct ops_trace *t = b->p->t;
	size_t i;
	int err;

	for (i = 0; i < t->n; i++) {
		const struct ops_op *op = &t->v[i];

		if (ops_changes_state(op) && b->p->m->prefix_only && !ops_is_early(op))
			b->p->durable_at[i] = op->seq; /* only captured pages wait for a barrier */
		else if (ops_changes_state(op) && (err = note_pending(b, i)) < 0)
			return err;
		if (op->kind == OPS_BARRIER || (op->oflags & OPS_F_SYNC_SELF))
			apply_barrier(b, i);
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
	tdestroy(b.bytes, pending_free);
	tdestroy(b.attrs, pending_free);
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

bool model_durable(const struct model_plan *p, size_t idx, uint64_t crash)
{
	return p->durable_at[idx] < crash;
}

bool model_in_flight(const struct model_plan *p, size_t idx, uint64_t crash)
{
	const struct ops_op *op = &p->t->v[idx];

	return op->seq <= crash && ops_changes_state(op) && !model_durable(p, idx, crash);
}

bool model_may_tear(const struct model_plan *p, size_t idx, uint64_t crash)
{
	const struct ops_op *op = &p->t->v[idx];

	if (op->op != TRACE_OP_WRITE || op->kind != OPS_DATA || op->data_len == 0 ||
	    !model_in_flight(p, idx, crash))
		return false;
	return p->m->tears == MODEL_TEAR_INFLIGHT || op->seq == crash;
}

bool model_tear_allows(const struct model_plan *p, size_t idx, const struct tear_variant *v)
{
	const struct ops_op *op = &p->t->v[idx];

	if (v->size_lost && !p->m->bytes_without_size)
		return false;
	return v->dmg_end <= op->old_size || p->m->size_without_bytes;
}
