/*
 * explore_keys.c - THE IMAGE RULE: which op may enter a materializer's
 * image, and when.
 *
 * An op may enter the image once it is ELIGIBLE (the caller says when:
 * durable at the crash point, before it in prefix mode, or settled for
 * the cause search) and every earlier op it conflicts with is in the
 * image already.  Two ops conflict when they touch the same key: an
 * inode's bytes (write, truncate, fallocate), an inode's attributes
 * (setattr, xattrs), or a directory entry (parent, name) - a rename
 * touches two.  Ops on different keys commute in the materializer, so the
 * image followed by the ops not in it, in recorded order, equals every op
 * in recorded order: a state built that way is exactly what `faultline
 * replay` of its id builds.  Each key keeps a queue of its ops; an op
 * enters when it is eligible and at the head of each of its queues.
 *
 * Invariant: admitted[] only grows, and an op is admitted only after
 * every earlier op sharing a key with it.  This module never decides
 * eligibility and never takes an op back out of an image.
 */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "explore_i.h"

struct ex_kname {
	uint8_t type;      /* 1 bytes of an inode, 2 its attributes, 3 a directory entry */
	uint64_t a;        /* inode or directory id */
	const char *name;  /* entry name (type 3), not NUL-terminated */
	uint32_t len;
	uint32_t idx;      /* the key's number */
};

static int kname_cmp(const void *x, const void *y)
{
	const struct ex_kname *p = x, *q = y;

	if (p->type != q->type)
		return p->type < q->type ? -1 : 1;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->len != q->len)
		return p->len < q->len ? -1 : 1;
	return p->len ? memcmp(p->name, q->name, p->len) : 0;
}

/* The number of key (type, a, name), made if new; UINT32_MAX without memory. */
static uint32_t ex_key_of(struct ex_keys *k, void **tree, uint8_t type, uint64_t a,
			  const char *name, uint32_t len)
{
	struct ex_kname *kn = malloc(sizeof(*kn)), **p;

	if (!kn)
		return UINT32_MAX;
	*kn = (struct ex_kname){.type = type, .a = a, .name = name, .len = len,
				.idx = (uint32_t)k->nkeys};
	p = tsearch(kn, tree, kname_cmp);
	if (!p) {
		free(kn);
		return UINT32_MAX;
	}
	if (*p != kn)
		free(kn);
	else
		k->nkeys++;
	return (*p)->idx;
}

/* The keys op touches (see the image rule above). */
static void ex_op_keys(struct ex_keys *k, const struct ops_trace *t, void **tree,
		       const struct ops_op *op, uint32_t of[2])
{
	of[0] = of[1] = UINT32_MAX;
	if (op->kind == OPS_DATA) {
		of[0] = ex_key_of(k, tree, op->oflags & OPS_F_ATTR ? 2 : 1, op->id, NULL, 0);
	} else if (op->kind == OPS_NS) {
		of[0] = ex_key_of(k, tree, 3, op->parent, ops_name(t, op), op->name_len);
		if (op->op == TRACE_OP_RENAME)
			of[1] = ex_key_of(k, tree, 3, op->parent2, ops_name2(t, op),
					  op->name2_len);
		if (of[1] == of[0])
			of[1] = UINT32_MAX;
	}
}

int ex_keys_new(struct ex_keys *k, const struct ops_trace *t)
{
	size_t n = t->n, i, j, *fill;
	void *tree = NULL;

	k->of = calloc(n + 1, sizeof(*k->of));
	k->eligible = calloc(n + 1, 1);
	k->admitted = calloc(n + 1, 1);
	k->stack = malloc((n + 1) * sizeof(*k->stack));
	k->q = malloc((2 * n + 1) * sizeof(*k->q));
	if (!k->of || !k->eligible || !k->admitted || !k->stack || !k->q)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		ex_op_keys(k, t, &tree, &t->v[i], k->of[i]);
	tdestroy(tree, free);
	k->qstart = calloc(k->nkeys + 1, sizeof(*k->qstart));
	k->head = calloc(k->nkeys + 1, sizeof(*k->head));
	fill = calloc(k->nkeys + 1, sizeof(*fill));
	if (!k->qstart || !k->head || !fill) {
		free(fill);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) /* counts, then starts, then the queues, ascending */
		for (j = 0; j < 2; j++)
			if (k->of[i][j] != UINT32_MAX)
				k->qstart[k->of[i][j] + 1]++;
	for (i = 0; i < k->nkeys; i++)
		k->qstart[i + 1] += k->qstart[i];
	for (i = 0; i < n; i++)
		for (j = 0; j < 2; j++)
			if (k->of[i][j] != UINT32_MAX) {
				uint32_t key = k->of[i][j];

				k->q[k->qstart[key] + fill[key]++] = i;
			}
	for (i = 0; i < k->nkeys; i++)
		k->head[i] = k->qstart[i];
	free(fill);
	return 0;
}

void ex_keys_free(struct ex_keys *k)
{
	free(k->of);
	free(k->q);
	free(k->qstart);
	free(k->head);
	free(k->eligible);
	free(k->admitted);
	free(k->stack);
}

/* True when op i is at the head of each of its keys' queues. */
static bool ex_ready(const struct ex_keys *k, size_t i)
{
	size_t j;

	for (j = 0; j < 2; j++)
		if (k->of[i][j] != UINT32_MAX && k->q[k->head[k->of[i][j]]] != i)
			return false;
	return true;
}

int ex_keys_admit(struct ex_keys *k, struct mat *m, size_t i)
{
	size_t sp = 0, j;
	int rc = 0;

	k->eligible[i] = 1;
	k->stack[sp++] = i;
	while (!rc && sp) {
		i = k->stack[--sp];
		if (k->admitted[i] || !k->eligible[i] || !ex_ready(k, i))
			continue;
		if (m)
			rc = mat_image_apply(m, i);
		k->admitted[i] = 1;
		for (j = 0; j < 2; j++) {
			uint32_t key = k->of[i][j];

			if (key == UINT32_MAX || ++k->head[key] == k->qstart[key + 1])
				continue;
			if (k->eligible[k->q[k->head[key]]])
				k->stack[sp++] = k->q[k->head[key]];
		}
	}
	return rc;
}
