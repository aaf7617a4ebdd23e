/*
 * explore_defects.c - what defect a minimal failing state shows, in the
 * words a storage engineer uses.
 *
 * Each lost or torn op of a minimal state is one ITEM: a defect class,
 * the op's kind, the file's path when the op ran and the region of the
 * file it touched.  The signature of a state is its items, sorted, each
 * once: failures are one cause only when their minimal states have the
 * same signature, so a lost write and a torn write of one file, or the
 * meta slot and the appended data of one file, stay apart.
 *
 * Regions come from the trace's own offsets, not from a layout: a write
 * starting at or past the file's end is an "append"; an overwrite at an
 * offset the trace overwrites again and again (a header, a meta page, a
 * superblock: at most CZ_SLOTS_MAX such offsets in the file) is in the
 * file's "fixed area"; any other overwrite is "in place".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "explore_causes_i.h"

/* A file with more repeatedly overwritten offsets than this has pages, not slots. */
#define CZ_SLOTS_MAX 8

struct cz_off {
	uint64_t id, off;
	size_t idx;
};

static int off_cmp(const void *a, const void *b)
{
	const struct cz_off *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cz_paths(struct cz *z, const struct ops_trace *t);

int cz_regions(struct cz *z, const struct ops_trace *t)
{
	struct cz_off *v = malloc((t->n + 1) * sizeof(*v));
	size_t n = 0, i, j, k;

	z->slot = calloc(t->n + 1, 1);
	z->path = calloc(t->n + 1, sizeof(*z->path));
	if (!v || !z->slot || !z->path) {
		free(v);
		return -ENOMEM;
	}
	for (i = 0; i < t->n; i++)
		if ((t->v[i].op == TRACE_OP_WRITE || t->v[i].op == TRACE_OP_FALLOCATE) &&
		    t->v[i].kind == OPS_DATA && t->v[i].off < t->v[i].old_size)
			v[n++] = (struct cz_off){t->v[i].id, t->v[i].off, i};
	qsort(v, n, sizeof(*v), off_cmp);
	for (i = 0; i < n; i = j) { /* one file: v[i..j) */
		size_t slots = 0;

		for (j = i; j < n && v[j].id == v[i].id; j++)
			;
		for (k = i; k < j; k++) /* an offset overwritten twice or more is a slot */
			if ((k + 1 < j && v[k + 1].off == v[k].off) ||
			    (k > i && v[k - 1].off == v[k].off)) {
				z->slot[v[k].idx] = 1;
				slots += k == i || v[k - 1].off != v[k].off;
			}
		if (slots > CZ_SLOTS_MAX) /* many: the file's pages, not a fixed area */
			for (k = i; k < j; k++)
				z->slot[v[k].idx] = 0;
	}
	free(v);
	return cz_paths(z, t);
}

/* The path of op's file (its entry, for a namespace op) in names map at. */
static char *op_path(const struct ops_trace *t, const struct names *at, const struct ops_op *op)
{
	char dir[1024], buf[2400];

	if (op->kind == OPS_NS) {
		names_path(at, op->parent, dir, sizeof(dir));
		snprintf(buf, sizeof(buf), "%s%s%.*s", dir, strcmp(dir, "/") ? "/" : "",
			 (int)op->name_len, ops_name(t, op));
		if (op->op == TRACE_OP_RENAME) {
			size_t len = strlen(buf);

			names_path(at, op->parent2, dir, sizeof(dir));
			snprintf(buf + len, sizeof(buf) - len, " -> %s%s%.*s", dir,
				 strcmp(dir, "/") ? "/" : "", (int)op->name2_len, ops_name2(t, op));
		}
	} else
		names_path(at, op->id, buf, sizeof(buf));
	return strdup(buf);
}

/* Every state-changing op's path when it ran, in one pass over the trace. */
static int cz_paths(struct cz *z, const struct ops_trace *t)
{
	struct names *at = names_new();
	size_t i;
	int rc = 0;

	if (!at)
		return -ENOMEM;
	for (i = 0; i < t->nbase; i++)
		ops_names_apply(at, t, &t->base[i]);
	for (i = 0; i < t->n && !rc; i++) {
		/* a namespace op by the names before it (its old name) */
		if (ops_changes_state(&t->v[i]) && !(z->path[i] = op_path(t, at, &t->v[i])))
			rc = -ENOMEM;
		if (ops_names_apply(at, t, &t->v[i]) < 0)
			rc = -ENOMEM;
	}
	names_free(at);
	return rc;
}

static const char *cz_path(const struct cz *z, size_t idx)
{
	return z->path[idx] ? z->path[idx] : "?";
}

/*
 * True when tear rle leaves no new byte in the sectors the write touches
 * that start at or past the file's old end (tear.h, variant 6: the size
 * without the bytes), and there is such a sector.  Untouched sectors of a
 * --block range and the sector straddling the old end do not count.
 */
static bool cz_no_new_bytes_past_end(const struct ex *ex, const struct ops_op *op,
				     const char *rle)
{
	struct tear_range r;
	uint64_t at = 0, sect = ex->geom.sector;
	const char *p = rle;
	bool past = false;

	if (!rle || !op->data_len)
		return false;
	tear_range(&ex->geom, op->off, op->data_len, &r);
	while (*p) {
		unsigned long cnt = strtoul(p, (char **)&p, 10);
		char kind = *p ? *p++ : 'n';
		uint64_t k;

		for (k = at; k < at + cnt; k++) {
			if (k < r.first || k > r.last || r.start + k * sect < op->old_size)
				continue; /* not touched, or not past the old end */
			past = true;
			if (kind == 'n')
				return false; /* new bytes past the old end */
		}
		at += cnt;
	}
	return past;
}

/* The defect class of choice c (op idx) of a state. */
static enum cz_class cz_class_of(const struct ex *ex, const struct state_choice *c,
				 const struct ops_op *op)
{
	if (op->kind == OPS_NS)
		return CZ_NAME;
	if (op->oflags & OPS_F_ATTR)
		return CZ_ATTR;
	if (c->how == STATE_DROP || c->size_lost)
		return CZ_LOST;
	if (op->off + op->data_len > op->old_size && cz_no_new_bytes_past_end(ex, op, c->rle))
		return CZ_SIZE;
	return CZ_TORN;
}

static const char *const class_names[] = {
	[CZ_EARLY] = "early", [CZ_TORN] = "torn", [CZ_SIZE] = "size-without-bytes", [CZ_NAME] = "name",
	[CZ_LOST] = "lost", [CZ_ATTR] = "attr",
};

/* Item it of class cls for op idx: its words. */
static void cz_item_of(struct cz *z, const struct ops_trace *t, size_t idx, enum cz_class cls,
		       struct cz_item *it)
{
	const struct ops_op *op = &t->v[idx];
	char region[64] = "";

	it->idx = idx;
	it->cls = cls;
	if (op->op == TRACE_OP_WRITE || op->op == TRACE_OP_FALLOCATE) {
		if (op->off >= op->old_size)
			snprintf(region, sizeof(region), " append");
		else if (z->slot[idx])
			snprintf(region, sizeof(region), " fixed area");
		else
			snprintf(region, sizeof(region), " in place");
	}
	/* the path last: a path too long for the buffer loses its tail, not the region */
	snprintf(it->text, sizeof(it->text), "%s %s%s %s", class_names[it->cls],
		 trace_op_name(op->op), region, cz_path(z, idx));
	snprintf(it->alt, sizeof(it->alt), "%s %s%s %s",
		 class_names[it->cls == CZ_TORN || it->cls == CZ_SIZE ? CZ_LOST : it->cls],
		 trace_op_name(op->op), region, cz_path(z, idx));
}

int cz_item(struct ex *ex, struct cz *z, const struct state_choice *c, struct cz_item *it)
{
	long idx = ops_index(ex->t, c->seq);

	if (idx < 0)
		return -EINVAL;
	cz_item_of(z, ex->t, (size_t)idx, cz_class_of(ex, c, &ex->t->v[idx]), it);
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cz_item *)a)->text, ((const struct cz_item *)b)->text);
}

int cz_items(struct ex *ex, struct cz *z, const struct state *s, bool acked,
	     struct cz_items *out)
{
	size_t i, k;

	out->n = 0;
	out->v = malloc((s->n + 1) * sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (i = 0; i < s->n; i++)
		if (cz_item(ex, z, &s->ch[i], &out->v[out->n]) == 0) {
			struct cz_item *it = &out->v[out->n++];

			if (acked && (it->cls == CZ_TORN || it->cls == CZ_SIZE)) {
				it->cls = CZ_LOST;
				memcpy(it->text, it->alt, sizeof(it->text));
			}
		}
	qsort(out->v, out->n, sizeof(*out->v), item_cmp);
	for (i = k = 0; i < out->n; i++) /* each item once */
		if (!k || strcmp(out->v[k - 1].text, out->v[i].text))
			out->v[k++] = out->v[i];
	out->n = k;
	return 0;
}

int cz_items_add_early(struct ex *ex, struct cz *z, size_t idx, struct cz_items *v)
{
	struct cz_item *nv = realloc(v->v, (v->n + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	v->v = nv;
	cz_item_of(z, ex->t, idx, CZ_EARLY, &v->v[v->n++]);
	qsort(v->v, v->n, sizeof(*v->v), item_cmp);
	return 0;
}

bool cz_items_has(const struct cz_items *v, const char *text)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->v[i].text, text))
			return true;
	return false;
}

void cz_signature(const struct cz_items *v, const char *line, char *buf, size_t cap)
{
	size_t i, len;

	buf[0] = 0;
	for (i = 0; i < v->n; i++) {
		len = strlen(buf);
		snprintf(buf + len, cap - len, "%s%s", i ? "; " : "", v->v[i].text);
	}
	if (!v->n) { /* nothing lost: the checker's complaint, numbers and asides left out */
		int depth = 0;

		snprintf(buf, cap, "nothing lost: ");
		len = strlen(buf);
		for (; *line && len + 1 < cap; line++) {
			depth += *line == '(';
			if (depth == 0 && (*line < '0' || *line > '9'))
				buf[len++] = *line;
			depth -= *line == ')' && depth > 0;
		}
		while (len > 0 && buf[len - 1] == ' ')
			len--;
		buf[len] = 0;
	}
}

/* The item that names the cause: the first of the highest class. */
static const struct cz_item *cz_primary(const struct cz_items *v)
{
	const struct cz_item *p = NULL;
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!p || v->v[i].cls < p->cls)
			p = &v->v[i];
	return p;
}

static const char *const cause_kinds[] = {
	"acknowledged-commit-lost", "unsynced-write-breaks-recovery", "torn-write",
	"size-without-bytes", "name-not-durable", "attribute-not-durable",
	"fails-with-nothing-lost", "mapped-page-written-early",
};
#define NKINDS (sizeof(cause_kinds) / sizeof(cause_kinds[0]))

bool explore_cause_kind_known(const char *kind)
{
	size_t i;

	for (i = 0; i < NKINDS; i++)
		if (!strcmp(kind, cause_kinds[i]))
			return true;
	return false;
}

const char *explore_cause_kinds(void)
{
	static char list[256];
	size_t i, len = 0;

	if (!list[0])
		for (i = 0; i < NKINDS; i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						i ? ", " : "", cause_kinds[i]);
	return list;
}

const char *cz_kind(const struct cz_items *v, int severity)
{
	const struct cz_item *p = cz_primary(v);

	if (!p)
		return cause_kinds[6];
	switch (p->cls) {
	case CZ_EARLY:
		return cause_kinds[7];
	case CZ_TORN:
		return cause_kinds[2];
	case CZ_SIZE:
		return cause_kinds[3];
	case CZ_NAME:
		return cause_kinds[4];
	case CZ_ATTR:
		return cause_kinds[5];
	default:
		return cause_kinds[severity == CZ_SEV_ACKED ? 0 : 1];
	}
}

/* "write of /db @8192+4096", "create of /wal.log", "truncate of /f to 0";
 * with a calls log, " by pwrite64(3, ..., 4096, 8192) = 4096" after it. */
static void op_words(struct ex *ex, struct cz *z, size_t idx, char *buf, size_t cap)
{
	const struct ops_op *op = &ex->t->v[idx];
	const char *path = cz_path(z, idx);
	char call[400];

	if (op->op == TRACE_OP_WRITE)
		snprintf(buf, cap, "write of %s @%" PRIu64 "+%" PRIu32, path, op->off,
			 op->data_len);
	else if (op->op == TRACE_OP_FALLOCATE)
		snprintf(buf, cap, "fallocate of %s @%" PRIu64 "+%" PRIu64, path, op->off,
			 op->len);
	else if (op->op == TRACE_OP_TRUNCATE)
		snprintf(buf, cap, "truncate of %s to %" PRIu64, path, op->off);
	else
		snprintf(buf, cap, "%s of %s", trace_op_name(op->op), path);
	if (ops_call_words(ex->t, idx, call, sizeof(call))) /* record --calls: the call that made it */
		snprintf(buf + strlen(buf), cap - strlen(buf), " by %s", call);
}

/* The directory (or directories) whose fsync makes namespace op idx durable. */
static void parent_words(struct ex *ex, struct cz *z, size_t idx, char *buf, size_t cap)
{
	const struct ops_op *op = &ex->t->v[idx];
	const char *p = cz_path(z, idx);
	const char *arrow = strstr(p, " -> ");
	size_t len = arrow ? (size_t)(arrow - p) : strlen(p);
	const char *slash = memrchr(p, '/', len);

	snprintf(buf, cap, "%.*s", slash && slash > p ? (int)(slash - p) : 1, p);
	if (arrow && op->parent2 != op->parent) {
		const char *to = arrow + 4, *s2 = strrchr(to, '/');
		size_t l = strlen(buf);

		snprintf(buf + l, cap - l, " and %.*s", s2 && s2 > to ? (int)(s2 - to) : 1, to);
	}
}

/* The first mark after seq, at or before crash: the one that acknowledged it. */
static const struct ops_op *ack_after(const struct ops_trace *t, uint64_t seq, uint64_t crash)
{
	size_t i;

	for (i = 0; i < t->n && t->v[i].seq <= crash; i++)
		if (t->v[i].kind == OPS_MARK && t->v[i].seq > seq)
			return &t->v[i];
	return NULL;
}

/*
 * record --calls: a flushing call that is no barrier (calls_non_barrier),
 * made after lost op op and before the crash, appended to buf as ": msync(...)
 * in f() x.c:9 came between, and is no barrier".
 */
static void no_barrier_words(struct ex *ex, const struct ops_op *op, uint64_t crash, char *buf,
			     size_t cap)
{
	long c = ops_index(ex->t, crash), i = ops_index(ex->t, op->seq);
	const struct calls_call *nb, *at;
	uint64_t from = op->time_ns;
	char call[400];
	size_t len = strlen(buf);

	if (!ex->t->calls || c < 0 || i < 0)
		return;
	/* a captured page: from the call it was captured at, which may be the culprit */
	if (ops_is_early(op) && (at = ops_call(ex->t, (size_t)i)))
		from = at->entry_ns - 1;
	if (!(nb = calls_non_barrier(ex->t->calls, from, ex->t->v[c].time_ns)))
		return;
	calls_describe(nb, call, sizeof(call));
	snprintf(buf + len, cap - len, "; %s came between, and is no barrier", call);
}

void cz_headline(struct ex *ex, struct cz *z, const struct cz_items *v, uint64_t crash,
		 int severity, char *buf, size_t cap)
{
	const struct cz_item *p = cz_primary(v);
	const char *rec = severity == CZ_SEV_ACKED ? "recovery loses acknowledged data"
						   : "recovery rejects the state";
	const struct ops_op *op, *mark;
	const struct calls_call *at;
	char what[2200], dir[1100], call[400];
	size_t last;

	if (!p) {
		snprintf(buf, cap, "recovery fails with nothing lost: every op before the "
			 "crash point persisted whole");
		return;
	}
	op = &ex->t->v[p->idx];
	op_words(ex, z, p->idx, what, sizeof(what));
	switch (p->cls) {
	case CZ_EARLY:
		if ((at = ops_call(ex->t, p->idx)))
			calls_describe(at, call, sizeof(call));
		snprintf(buf, cap, "mapped page written back early: the page of %s @%" PRIu64
			 ", stored through a shared mapping%s%s, may reach the disk before what "
			 "the program makes durable after it, and %s", cz_path(z, p->idx), op->off,
			 at ? " before " : "", at ? call : "", rec);
		return;
	case CZ_TORN:
		snprintf(buf, cap, "torn write trusted: a %" PRIu32 "-byte %s at @%" PRIu64
			 " of %s may tear and %s", op->data_len,
			 op->off >= op->old_size ? "append" : "overwrite", op->off,
			 cz_path(z, p->idx), rec);
		return;
	case CZ_SIZE:
		snprintf(buf, cap, "size without its bytes: the %" PRIu32 "-byte append at @%"
			 PRIu64 " to %s may persist its new size before its bytes (zeros "
			 "there) and %s", op->data_len, op->off, cz_path(z, p->idx), rec);
		return;
	case CZ_NAME:
		parent_words(ex, z, p->idx, dir, sizeof(dir));
		snprintf(buf, cap, "name not durable: %s not followed by an fsync of %s%s", what,
			 dir, severity == CZ_SEV_ACKED ? ", and acknowledged data goes with it" : "");
		return;
	case CZ_ATTR:
		snprintf(buf, cap, "attribute not durable: %s not followed by an fsync of %s", what,
			 cz_path(z, p->idx));
		return;
	default:
		break;
	}
	if (severity != CZ_SEV_ACKED) {
		snprintf(buf, cap, "unsynced write breaks recovery: losing the %s, never made "
			 "durable, leaves a state recovery rejects", what);
		no_barrier_words(ex, op, crash, buf, cap);
		return;
	}
	mark = ack_after(ex->t, op->seq, crash);
	if (mark)
		snprintf(buf, cap, "acknowledged commit lost: %s not synced before mark \"%.*s\"",
			 what, (int)mark->name_len, ops_name(ex->t, mark));
	else if (ops_marks_before(ex->t, crash, &last))
		snprintf(buf, cap, "acknowledged commit lost: %s, after mark \"%.*s\", not "
			 "durable, and recovery loses what that mark acknowledged", what,
			 (int)ex->t->v[last].name_len, ops_name(ex->t, &ex->t->v[last]));
	else
		snprintf(buf, cap, "acknowledged commit lost: %s not synced", what);
	no_barrier_words(ex, op, crash, buf, cap);
}
