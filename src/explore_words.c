/*
 * explore_words.c - a crash state in words, for reports: "crash during op
 * 812 (fsync /wal); lost op 790 (write /db @8192+4096); torn op 801
 * (write /db @0+4096): sectors 0-3 new, 4-7 old; 3 marks acknowledged,
 * last \"commit 3\"".  Paths are the ones the files had at the sweep's
 * position (the crash point being explored).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore_i.h"

/* Appends "op 790 (write /db @8192+4096)" for op idx to buf. */
static void describe_op_only(const struct ex *ex, size_t idx, char *buf, size_t cap)
{
	const struct ops_op *op = &ex->t->v[idx];
	char path[1024];
	size_t len = strlen(buf);

	if (op->kind == OPS_MARK) {
		snprintf(buf + len, cap - len, "op %" PRIu64 " (mark \"%.*s\")", op->seq,
			 (int)op->name_len, ops_name(ex->t, op));
		return;
	}
	names_path(ex->names, op->kind == OPS_NS ? op->parent : op->id, path, sizeof(path));
	if (op->op == TRACE_OP_RENAME) {
		char to[1024];

		names_path(ex->names, op->parent2, to, sizeof(to));
		snprintf(buf + len, cap - len, "op %" PRIu64 " (rename %s%s%.*s -> %s%s%.*s)",
			 op->seq, path, strcmp(path, "/") ? "/" : "", (int)op->name_len,
			 ops_name(ex->t, op), to, strcmp(to, "/") ? "/" : "",
			 (int)op->name2_len, ops_name2(ex->t, op));
	} else if (op->kind == OPS_NS)
		snprintf(buf + len, cap - len, "op %" PRIu64 " (%s %s%s%.*s)", op->seq,
			 trace_op_name(op->op), path, strcmp(path, "/") ? "/" : "",
			 (int)op->name_len, ops_name(ex->t, op));
	else if (op->op == TRACE_OP_WRITE || op->op == TRACE_OP_FALLOCATE)
		snprintf(buf + len, cap - len, "op %" PRIu64 " (%s %s @%" PRIu64 "+%" PRIu64 ")",
			 op->seq, trace_op_name(op->op), path, op->off,
			 op->op == TRACE_OP_WRITE ? (uint64_t)op->data_len : op->len);
	else if (op->op == TRACE_OP_TRUNCATE)
		snprintf(buf + len, cap - len, "op %" PRIu64 " (truncate %s to %" PRIu64 ")",
			 op->seq, path, op->off);
	else
		snprintf(buf + len, cap - len, "op %" PRIu64 " (%s %s)", op->seq,
			 trace_op_name(op->op), path);
}

/* Appends "op 790 (write /db @8192+4096)" for op idx to buf, and with a
 * calls log the call that made it: " from pwrite64(3, ..., 4096, 8192) = 4096". */
static void describe_op(const struct ex *ex, size_t idx, char *buf, size_t cap)
{
	char call[400];
	size_t len;

	describe_op_only(ex, idx, buf, cap);
	len = strlen(buf);
	if (ops_call_words(ex->t, idx, call, sizeof(call)))
		snprintf(buf + len, cap - len, " from %s", call);
}

/* "sectors 0-3 new, 4-7 old" from a run-length pattern. */
static void describe_rle(const char *rle, char *buf, size_t cap)
{
	static const struct { char k; const char *w; } words[] = {
		{'n', "new"}, {'o', "old"}, {'z', "zeros"}, {'g', "garbage"},
	};
	size_t at = 0, len = strlen(buf);
	const char *p = rle;

	while (*p && len < cap) {
		unsigned long count = strtoul(p, (char **)&p, 10);
		const char *w = "?";
		size_t i;

		for (i = 0; i < 4; i++)
			if (words[i].k == *p)
				w = words[i].w;
		p++;
		len += (size_t)snprintf(buf + len, cap - len, "%s%zu-%zu %s",
					at ? ", " : "sectors ", at, at + count - 1, w);
		at += count;
	}
}

/* The explanation of state s (crash point op index x), for reports. */
char *ex_explain_at(const struct ex *ex, const struct state *s, size_t x,
			   uint64_t nmarks, size_t lastmark)
{
	char buf[4096] = "crash during ";
	size_t i;

	describe_op(ex, x, buf, sizeof(buf));
	for (i = 0; i < s->n; i++) {
		const struct state_choice *c = &s->ch[i];
		long idx = ops_index(ex->t, c->seq);
		size_t len = strlen(buf);

		snprintf(buf + len, sizeof(buf) - len, "; %s ",
			 c->how == STATE_DROP ? "lost" : "torn");
		if (idx >= 0)
			describe_op(ex, (size_t)idx, buf, sizeof(buf));
		len = strlen(buf);
		if (c->how == STATE_TEAR && c->rle) {
			snprintf(buf + len, sizeof(buf) - len, ": ");
			describe_rle(c->rle, buf, sizeof(buf));
		}
		len = strlen(buf);
		if (c->how == STATE_TEAR && c->size_lost)
			snprintf(buf + len, sizeof(buf) - len, "%s", ", its new size lost");
	}
	i = strlen(buf);
	if (nmarks)
		snprintf(buf + i, sizeof(buf) - i, "; %" PRIu64 " marks acknowledged, last \"%.*s\"",
			 nmarks, (int)ex->t->v[lastmark].name_len,
			 ops_name(ex->t, &ex->t->v[lastmark]));
	else
		snprintf(buf + i, sizeof(buf) - i, "; no marks acknowledged");
	return strdup(buf);
}

