/*
 * names.c - id -> (parent id, name) map replayed from namespace records.
 *
 * A binary tree (tsearch) keyed by file id; each node keeps every
 * (directory, name) the id is linked under, oldest first; a path uses the
 * oldest.  Paths are built by walking parents up to the root,
 * at most NAMES_MAX_DEPTH steps, so a hostile trace whose parents form a
 * cycle yields a truncated path rather than a hang.
 */
#include <errno.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define NAMES_MAX_DEPTH 4096

struct names_link {
	uint64_t parent; /* directory id */
	char name[256];  /* entry name, NUL-terminated */
};

struct names_node {
	uint64_t id;              /* key */
	struct names_link *links; /* every name the id has now, oldest first */
	size_t nlinks;            /* entries in links */
};

struct names {
	void *root; /* tsearch tree of struct names_node */
};

static int node_cmp(const void *a, const void *b)
{
	const struct names_node *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static struct names_node *node_find(const struct names *n, uint64_t id)
{
	struct names_node key = {.id = id};
	void *p = tfind(&key, &n->root, node_cmp);

	return p ? *(struct names_node **)p : NULL;
}

/* Returns the node for id, creating it; NULL when out of memory. */
static struct names_node *node_get(struct names *n, uint64_t id)
{
	struct names_node *node = node_find(n, id);
	void *p;

	if (node)
		return node;
	node = calloc(1, sizeof(*node));
	if (!node)
		return NULL;
	node->id = id;
	p = tsearch(node, &n->root, node_cmp);
	if (!p) {
		free(node);
		return NULL;
	}
	return node;
}

static void node_free(void *p)
{
	struct names_node *node = p;

	free(node->links);
	free(node);
}

struct names *names_new(void)
{
	struct names *n = calloc(1, sizeof(*n));

	if (n && !node_get(n, TRACE_ROOT_ID)) {
		free(n);
		return NULL;
	}
	return n;
}

void names_free(struct names *n)
{
	if (n)
		tdestroy(n->root, node_free);
	free(n);
}

static int link_name(struct names *n, uint64_t id, uint64_t parent,
		     const char *name, uint32_t len)
{
	struct names_node *node = node_get(n, id);
	struct names_link *l;

	if (!node)
		return -ENOMEM;
	l = realloc(node->links, (node->nlinks + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	node->links = l;
	l += node->nlinks++;
	l->parent = parent;
	if (len >= sizeof(l->name))
		len = sizeof(l->name) - 1;
	memcpy(l->name, name, len);
	l->name[len] = 0;
	return 0;
}

/* parent/name no longer names id. */
static void unlink_name(struct names *n, uint64_t id, uint64_t parent,
			const char *name, uint32_t len)
{
	struct names_node *node = node_find(n, id);
	size_t i;

	for (i = 0; node && i < node->nlinks; i++) {
		struct names_link *l = &node->links[i];

		if (l->parent == parent && strlen(l->name) == len &&
		    memcmp(l->name, name, len) == 0) {
			memmove(l, l + 1, (node->nlinks - i - 1) * sizeof(*l));
			node->nlinks--;
			return;
		}
	}
}

static int apply_rename(struct names *n, const struct trace_rec *r)
{
	unlink_name(n, r->id, r->parent, r->name, r->name_len);
	if (r->id2)
		unlink_name(n, r->id2, r->parent2, r->name2, r->name2_len);
	if (r->flags & 2 /* RENAME_EXCHANGE */) {
		int err = link_name(n, r->id2, r->parent, r->name, r->name_len);

		if (err)
			return err;
	}
	return link_name(n, r->id, r->parent2, r->name2, r->name2_len);
}

int names_apply(struct names *n, const struct trace_rec *rec)
{
	if (rec->result < 0)
		return 0;
	switch (rec->op) {
	case TRACE_OP_BASE:
	case TRACE_OP_CREATE:
	case TRACE_OP_MKNOD:
	case TRACE_OP_MKDIR:
	case TRACE_OP_SYMLINK:
	case TRACE_OP_LINK:
		return link_name(n, rec->id, rec->parent, rec->name, rec->name_len);
	case TRACE_OP_UNLINK:
	case TRACE_OP_RMDIR:
		unlink_name(n, rec->id, rec->parent, rec->name, rec->name_len);
		return 0;
	case TRACE_OP_RENAME:
		return apply_rename(n, rec);
	default:
		return 0;
	}
}

int names_path(const struct names *n, uint64_t id, char *buf, size_t len)
{
	const struct names_node *node = node_find(n, id);
	size_t pos = len - 1, depth = 0;

	buf[pos] = 0;
	if (id == TRACE_ROOT_ID) {
		snprintf(buf, len, "/");
		return 0;
	}
	if (!node || !node->nlinks) {
		snprintf(buf, len, node ? "<deleted id %llu>" : "<id %llu>",
			 (unsigned long long)id);
		return -ENOENT;
	}
	for (; node && node->id != TRACE_ROOT_ID && node->nlinks; depth++) {
		const struct names_link *l = &node->links[0];
		size_t nl = strlen(l->name);

		if (nl + 1 > pos || depth >= NAMES_MAX_DEPTH) {
			memmove(buf, buf + pos, len - pos);
			return -ENAMETOOLONG;
		}
		pos -= nl;
		memcpy(buf + pos, l->name, nl);
		buf[--pos] = '/';
		node = node_find(n, l->parent);
	}
	memmove(buf, buf + pos, len - pos);
	return 0;
}
