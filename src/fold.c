/*
 * fold.c - folding a trace's settled history into its base (fold.h).
 *
 * Three steps.  The plan: which ops before upto fold (durable there and
 * touching no file or directory that an earlier carried op touches).
 * The base: the state that keeps exactly the folded ops, built with
 * mat_build_shared, so it costs the files they changed.  The records:
 * BASE records for that tree, each entry under the file id the old
 * trace's namespace gives it at the fold (so carried ops and later ones
 * name the same files), then the carried records copied as they are.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl_error.h"
#include "fold.h"
#include "mat.h"
#include "state.h"
#include "trace.h"

#define RENAME_EXCHANGE_FLAG 0x2u /* renameat2's RENAME_EXCHANGE */

/* ---- the plan ---- */

/* The file ids op touches (at most 4) into ids; their number. */
static int op_ids(const struct ops_op *op, uint64_t ids[4])
{
	int n = 0;

	if (op->id)
		ids[n++] = op->id;
	if (op->kind == OPS_NS && op->parent)
		ids[n++] = op->parent;
	if (op->op == TRACE_OP_RENAME) {
		if (op->parent2)
			ids[n++] = op->parent2;
		if (op->id2)
			ids[n++] = op->id2;
	}
	return n;
}

/* Whether any of op's ids is in the set *touched; adds them when add. */
static int touched_by(void **touched, uint64_t *pool, size_t *npool,
		      const struct ops_op *op, bool add, bool *hit)
{
	uint64_t ids[4];
	int n = op_ids(op, ids), k;

	*hit = false;
	for (k = 0; k < n; k++) {
		if (tfind(&ids[k], touched, ops_u64_cmp)) {
			*hit = true;
			continue;
		}
		if (!add)
			continue;
		pool[*npool] = ids[k];
		if (!tsearch(&pool[*npool], touched, ops_u64_cmp))
			return -ENOMEM;
		(*npool)++;
	}
	return 0;
}

static void no_free(void *p)
{
	(void)p;
}

/*
 * Whether op idx must be carried because the op before it of its thread
 * is a carried sync write: ops_load decides whether a sync write is its
 * own barrier from the op of its thread that follows it, so that op
 * follows it in the new trace too.  Updates the per-thread list pend.
 */
static bool follows_sync(const struct ops_trace *t, size_t idx, bool carried,
			 uint32_t *pend, size_t *npend)
{
	const struct ops_op *op = &t->v[idx];
	bool forced = false;
	size_t k;

	if (!op->pid)
		return false;
	for (k = 0; k < *npend && pend[k] != op->pid; k++)
		;
	if (k < *npend) {
		pend[k] = pend[--*npend];
		forced = true;
	}
	if ((carried || forced) && ops_is_sync_write(op))
		pend[(*npend)++] = op->pid;
	return forced;
}

/*
 * Whether barrier op (which changes nothing) is carried: from the first
 * carried op on, one that may cover a carried op (a syncfs, or an fsync
 * of a file or directory a carried op touches).  The other barriers
 * cover folded ops only: no carried op is in flight past a barrier before
 * upto.
 */
static bool barrier_kept(const struct ops_op *op, void *const *touched)
{
	return op->kind == OPS_BARRIER &&
	       (op->op == TRACE_OP_SYNCFS ||
		tfind(&op->id, touched, ops_u64_cmp));
}

/* Notes in needed[] the op that made carried op idx durable, if it is. */
static void need_barrier(const struct model_plan *p, size_t idx, uint64_t crash,
			 size_t upto, bool *needed)
{
	long b;

	if (model_durable(p, idx, crash) &&
	    (b = ops_index(p->t, p->durable_at[idx])) >= 0 && (size_t)b < upto)
		needed[b] = true;
}

/*
 * carry[i] for i < upto: true for an op the new trace keeps (fold.h).
 * An op is carried when it must be (in flight, touching what a carried op
 * touched, the barrier that made a carried op durable, even one that
 * changes state, such as a sync write committing ext4's journal, or the
 * op after a carried sync write in its thread), or, for an op that
 * changes nothing, when it is a mark or a barrier that may cover a
 * carried op.  Opens, closes and failed ops go.
 */
static int plan(const struct ops_trace *t, const struct model *m, size_t upto,
		bool *carry, struct fold_stats *st)
{
	uint64_t crash = t->v[upto - 1].seq + 1,
		 *pool = malloc(4 * upto * sizeof(*pool) + 1);
	uint32_t *pend = malloc(upto * sizeof(*pend));
	bool *needed = calloc(upto, sizeof(*needed));
	struct model_plan *p = NULL;
	void *touched = NULL;
	size_t npool = 0, npend = 0, i;
	bool hit = false, state;
	int rc = pool && pend && needed ? model_plan_new(m, t, &p) : -ENOMEM;

	st->first_kept = upto;
	for (i = 0; rc == 0 && i < upto; i++) {
		const struct ops_op *op = &t->v[i];

		state = ops_changes_state(op);
		if (state)
			rc =
			    touched_by(&touched, pool, &npool, op, false, &hit);
		carry[i] = needed[i] ||
			   (state && (hit || model_in_flight(p, i, crash)));
		carry[i] |= follows_sync(t, i, carry[i], pend, &npend);
		if (!state) {
			carry[i] |=
			    op->op == TRACE_OP_MARK ||
			    (st->first_kept < i && barrier_kept(op, &touched));
			continue;
		}
		if (rc == 0 && carry[i])
			rc = touched_by(&touched, pool, &npool, op, true, &hit);
		if (carry[i])
			need_barrier(p, i, crash, upto, needed);
		if (carry[i] && st->first_kept == upto)
			st->first_kept = i;
	}
	for (i = 0; rc == 0 && i < upto; i++) {
		st->folded += !carry[i] && ops_changes_state(&t->v[i]);
		st->carried += carry[i];
	}
	tdestroy(touched, no_free);
	free(pool);
	free(pend);
	free(needed);
	model_plan_free(p);
	return rc;
}

/* The state that keeps exactly the folded ops: every carried one dropped. */
static int fold_state(const struct ops_trace *t, size_t upto, const bool *carry,
		      struct state *s)
{
	size_t i;

	s->crash = t->v[upto - 1].seq;
	s->sector = STATE_SECTOR_DEFAULT;
	s->block = 0;
	for (i = 0; i < upto; i++)
		if (carry[i] && ops_changes_state(&t->v[i]) &&
		    state_add(s, t->v[i].seq, STATE_DROP, NULL, false) < 0)
			return -ENOMEM;
	return 0;
}

/* ---- the namespace at the fold: (directory id, name) -> file id ---- */

struct ent {
	uint64_t parent, id;
	uint32_t len;
	char name[];
};

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->name, y->name, x->len);
	return c;
}

static struct ent *ent_new(uint64_t parent, const char *name, uint32_t len,
			   uint64_t id)
{
	struct ent *e = malloc(sizeof(*e) + len + 1);

	if (e) {
		e->parent = parent;
		e->id = id;
		e->len = len;
		memcpy(e->name, name, len);
		e->name[len] = 0;
	}
	return e;
}

/* The id named (parent, name), or 0. */
static uint64_t ns_find(void *const *root, uint64_t parent, const char *name,
			uint32_t len)
{
	struct ent *key = ent_new(parent, name, len, 0);
	struct ent **e = key ? tfind(key, root, ent_cmp) : NULL;

	free(key);
	return e ? (*e)->id : 0;
}

static void ns_del(void **root, uint64_t parent, const char *name, uint32_t len)
{
	struct ent *key = ent_new(parent, name, len, 0), **e;

	if (key && (e = tfind(key, root, ent_cmp))) {
		struct ent *old = *e;

		tdelete(key, root, ent_cmp);
		free(old);
	}
	free(key);
}

static int ns_set(void **root, uint64_t parent, const char *name, uint32_t len,
		  uint64_t id)
{
	struct ent *e, **at;

	ns_del(root, parent, name, len);
	if (!(e = ent_new(parent, name, len, id)) ||
	    !(at = tsearch(e, root, ent_cmp))) {
		free(e);
		return -ENOMEM;
	}
	return 0;
}

/* Applies namespace op op (folded, so it succeeded) to the map. */
static int ns_apply(void **root, const struct ops_trace *t,
		    const struct ops_op *op)
{
	const char *a = ops_name(t, op), *b = ops_name2(t, op);

	switch (op->op) {
	case TRACE_OP_CREATE:
	case TRACE_OP_MKNOD:
	case TRACE_OP_MKDIR:
	case TRACE_OP_SYMLINK:
	case TRACE_OP_LINK:
		return ns_set(root, op->parent, a, op->name_len, op->id);
	case TRACE_OP_UNLINK:
	case TRACE_OP_RMDIR:
		ns_del(root, op->parent, a, op->name_len);
		return 0;
	case TRACE_OP_RENAME:
		if (op->flags & RENAME_EXCHANGE_FLAG) {
			int rc =
			    ns_set(root, op->parent, a, op->name_len, op->id2);

			return rc ? rc
				  : ns_set(root, op->parent2, b, op->name2_len,
					   op->id);
		}
		ns_del(root, op->parent, a, op->name_len);
		return ns_set(root, op->parent2, b, op->name2_len, op->id);
	default:
		return 0;
	}
}

static int ns_build(const struct ops_trace *t, size_t upto, const bool *carry,
		    void **root)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < t->nbase; i++)
		rc = ns_set(root, t->base[i].parent, ops_name(t, &t->base[i]),
			    t->base[i].name_len, t->base[i].id);
	for (i = 0; rc == 0 && i < upto; i++)
		if (!carry[i] && t->v[i].kind == OPS_NS)
			rc = ns_apply(root, t, &t->v[i]);
	return rc;
}

/* ---- the records ---- */

/* A base file folding left as it was: its BASE record's size and hash. */
struct same {
	uint64_t id; /* first: ops_u64_cmp orders by it */
	uint64_t len, hash;
};

struct emit {
	struct trace_writer *w;
	void *ns;
	struct same *same; /* base files no folded op changed, by id */
	size_t nsame;
	uint64_t nbase;
	char *err;
	size_t errlen;
};

/*
 * The size and hash of a BASE record: those of the old BASE record for a
 * regular file whose bytes no folded op changed (the new base's file is
 * a link of the old one's: read once per fold, not once per file and
 * fold), else read.
 */
static int entry_hash(const struct emit *e, int fd, const char *name,
		      const struct stat *sb, struct trace_rec *r)
{
	const struct same *hit = S_ISREG(sb->st_mode)
				     ? bsearch(&r->id, e->same, e->nsame,
					       sizeof(*e->same), ops_u64_cmp)
				     : NULL;

	if (hit && hit->len == (uint64_t)sb->st_size) {
		r->len = hit->len;
		r->id2 = hit->hash;
		return 0;
	}
	return trace_base_hash(fd, name, sb, &r->len, &r->id2);
}

/* e->same: t's base files (id, size, hash) that no folded op wrote,
 * truncated or allocated.  0 or -ENOMEM. */
static int same_build(const struct ops_trace *t, size_t upto, const bool *carry,
		      struct emit *e)
{
	uint64_t *changed = malloc((upto + 1) * sizeof(*changed));
	size_t nch = 0, i;

	e->same = malloc((t->nbase + 1) * sizeof(*e->same));
	if (!changed || !e->same) {
		free(changed);
		return -ENOMEM;
	}
	for (i = 0; i < upto; i++)
		if (!carry[i] && ops_is_bytes(&t->v[i]))
			changed[nch++] = t->v[i].id;
	qsort(changed, nch, sizeof(*changed), ops_u64_cmp);
	for (i = 0; i < t->nbase; i++)
		if (S_ISREG(t->base[i].mode) &&
		    !bsearch(&t->base[i].id, changed, nch, sizeof(*changed),
			     ops_u64_cmp))
			e->same[e->nsame++] = (struct same){
			    t->base[i].id, t->base[i].len, t->base[i].id2};
	qsort(e->same, e->nsame, sizeof(*e->same), ops_u64_cmp);
	free(changed);
	return 0;
}

/* BASE records for directory fd (file id dir) and everything below it,
 * depth first, names in bytewise order: parents before children. */
static int emit_dir(struct emit *e, int fd, uint64_t dir)
{
	char **names = NULL;
	size_t n = 0, k;
	int rc = trace_dir_names(fd, &names, &n);

	for (k = 0; rc == 0 && k < n; k++) {
		struct trace_rec r = {.op = TRACE_OP_BASE,
				      .parent = dir,
				      .name = names[k],
				      .name_len = (uint32_t)strlen(names[k])};
		struct stat sb;
		int sub;

		if (fstatat(fd, names[k], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -errno;
			break;
		}
		r.mode = sb.st_mode;
		r.id = ns_find(&e->ns, dir, r.name, r.name_len);
		if (!r.id) {
			snprintf(e->err, e->errlen,
				 "folded base: %s has no file id", names[k]);
			rc = -FL_EBADTRACE;
			break;
		}
		if ((rc = entry_hash(e, fd, names[k], &sb, &r)) == 0)
			rc = trace_append_copy(e->w, &r);
		e->nbase++;
		if (rc == 0 && S_ISDIR(sb.st_mode)) {
			sub = openat(fd, names[k],
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
			rc = sub < 0 ? -errno : emit_dir(e, sub, r.id);
			if (sub >= 0)
				close(sub);
		}
	}
	trace_dir_names_free(names, n);
	return rc;
}

/* Copies the records of ops [0, last) that carry[] (ops before upto) keeps. */
static int copy_ops(const struct ops_trace *t, size_t upto, size_t last,
		    const bool *carry, struct trace_writer *w,
		    uint64_t *seq_map, char *err, size_t errlen)
{
	struct trace_reader *r;
	struct trace_rec rec;
	long idx;
	int rc = trace_reader_open(t->dir, &r, err, errlen);

	if (rc < 0)
		return rc;
	while ((rc = trace_next(r, &rec)) == 1) {
		if (rec.op == TRACE_OP_BASE ||
		    (idx = ops_index(t, rec.seq)) < 0)
			continue;
		if ((size_t)idx >= last)
			break;
		if ((size_t)idx < upto && !carry[idx])
			continue;
		if ((rc = trace_append_copy(w, &rec)) < 0)
			break;
		if (seq_map)
			seq_map[idx] = rec.seq;
	}
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "copying the records: %s",
			 faultline_strerror(rc));
	trace_reader_close(r);
	return rc < 0 ? rc : 0;
}

static int write_records(const struct ops_trace *t, size_t upto, size_t last,
			 const bool *carry, const char *into, uint64_t *seq_map,
			 struct fold_stats *st, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct emit e = {.err = err, .errlen = errlen};
	int rc, fd, rc2;

	snprintf(path, sizeof(path), "%s/%s", into, TRACE_RECORDS_FILE);
	if ((rc = trace_writer_open(path, &e.w)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = ns_build(t, upto, carry, &e.ns);
	if (rc == 0)
		rc = same_build(t, upto, carry, &e);
	snprintf(path, sizeof(path), "%s/%s", into, TRACE_BASE_DIR);
	fd = rc ? -1 : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rc == 0)
		rc = fd < 0 ? -errno : emit_dir(&e, fd, TRACE_ROOT_ID);
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = copy_ops(t, upto, last, carry, e.w, seq_map, err, errlen);
	st->base_recs = e.nbase;
	st->records = trace_writer_count(e.w);
	rc2 = trace_writer_close(e.w);
	rc = rc ? rc : rc2;
	tdestroy(e.ns, free);
	free(e.same);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "writing the folded records: %s",
			 faultline_strerror(rc));
	return rc;
}

int fold_write(const struct ops_trace *t, const struct model *m, size_t upto,
	       size_t last, const char *into, const char *work,
	       uint64_t *seq_map, struct fold_stats *st, char *err,
	       size_t errlen)
{
	char base[PATH_MAX];
	struct state s = {0};
	bool *carry;
	int rc;

	memset(st, 0, sizeof(*st));
	err[0] = 0;
	if (t->calls) {
		snprintf(err, errlen, "a trace with a calls log is not folded");
		return -ENOTSUP;
	}
	if (upto < 1 || upto > last || last > t->n) {
		snprintf(err, errlen, "no ops to fold");
		return -EINVAL;
	}
	if (seq_map)
		memset(seq_map, 0, t->n * sizeof(*seq_map));
	if (!(carry = calloc(upto, sizeof(*carry))))
		return -ENOMEM;
	rc = plan(t, m, upto, carry, st);
	if (rc == 0)
		rc = fold_state(t, upto, carry, &s);
	if (rc == 0 && mkdir(into, 0755) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", into, strerror(errno));
	}
	snprintf(base, sizeof(base), "%s/%s", into, TRACE_BASE_DIR);
	if (rc == 0)
		rc = mat_build_shared(t, &s, work, base, err, errlen);
	if (rc == 0)
		rc = write_records(t, upto, last, carry, into, seq_map, st, err,
				   errlen);
	if (rc < 0 && rc != -EEXIST && access(into, F_OK) == 0)
		mat_remove(into);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "folding: %s", faultline_strerror(rc));
	state_free(&s);
	free(carry);
	return rc;
}
