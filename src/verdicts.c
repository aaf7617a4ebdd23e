/*
 * verdicts.c - checker verdicts remembered by state key (see verdicts.h).
 */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "verdicts.h"

struct verdict {
	uint64_t key;
	struct check_result res; /* output owned */
};

struct verdicts {
	void *tree;     /* tsearch of struct verdict, by key */
	uint64_t reused, added;
};

static int verdict_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct verdict *)a)->key, y = ((const struct verdict *)b)->key;

	return x < y ? -1 : x > y;
}

static void verdict_free(void *p)
{
	struct verdict *v = p;

	free(v->res.output);
	free(v);
}

struct verdicts *verdicts_new(void)
{
	return calloc(1, sizeof(struct verdicts));
}

void verdicts_free(struct verdicts *v)
{
	if (!v)
		return;
	tdestroy(v->tree, verdict_free);
	free(v);
}

const struct check_result *verdicts_find(const struct verdicts *v, uint64_t key)
{
	struct verdict k = {.key = key};
	void *const *p;

	if (!v)
		return NULL;
	p = tfind(&k, &v->tree, verdict_cmp);
	return p ? &(*(struct verdict *const *)p)->res : NULL;
}

int verdicts_add(struct verdicts *v, uint64_t key, const struct check_result *res)
{
	struct verdict *n = calloc(1, sizeof(*n));
	void **p;

	if (!n)
		return -ENOMEM;
	v->added++;
	n->key = key;
	n->res = *res;
	/* A pass's output is never reported: not kept, so memory follows the failures. */
	n->res.output = res->output && !res->passed ? strdup(res->output) : NULL;
	n->res.output_len = n->res.output ? res->output_len : 0;
	if (res->output && !res->passed && !n->res.output) {
		free(n);
		return -ENOMEM;
	}
	p = tsearch(n, &v->tree, verdict_cmp);
	if (!p) {
		verdict_free(n);
		return -ENOMEM;
	}
	if (*p != n)
		verdict_free(n); /* known: the first verdict stays */
	return 0;
}

void verdicts_reused(struct verdicts *v)
{
	v->reused++;
}

uint64_t verdicts_reuse_count(const struct verdicts *v)
{
	return v ? v->reused : 0;
}

uint64_t verdicts_run_count(const struct verdicts *v)
{
	return v ? v->added : 0;
}
