/*
 * explain.c - `faultline explain TRACE [--model M] [--page N] [--block N]
 *             [--json FILE] [--html FILE] [--partial]`: which pages a crash
 *             may damage.
 *
 * For each file and each page, at each moment that matters (just before
 * every barrier completes, at every mark, and at the end of the trace),
 * the page is classified over every crash state the model allows there:
 *
 * A moment is a crash point: "during op N" (a crash while barrier N runs:
 * what it covers is still in flight), or "after op N" (everything up to
 * N completed, nothing after it began), as model.h defines them.
 *
 *   durable     the same bytes in every state
 *   old-or-new  an in-flight write covers it, whole: either version
 *   may-tear    an in-flight write may persist partly (sectors old, new,
 *               zeros or garbage)
 *   may-vanish  the page may not exist after the crash: the file's name
 *               is not durable, or the page lies between the durable size
 *               and the size the program saw
 *   collateral  no in-flight write covers it, but one in the same
 *               --block may rewrite (and so damage) it
 *
 * This is computed from the model alone (model.c's durability and tear
 * rules), without building states, so it is cheap on any trace.  The
 * HTML report is one self-contained file: a heat map per file (pages
 * down, moments across), no scripts, no network.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "names.h"
#include "ops.h"

enum page_class { PC_DURABLE, PC_OLD_NEW, PC_TEAR, PC_VANISH, PC_COLLATERAL, PC_COUNT };

static const struct {
	const char *name;   /* as printed and in JSON */
	const char *colour; /* HTML */
} classes[PC_COUNT] = {
	[PC_DURABLE] = {"durable", "#2e7d32"},
	[PC_OLD_NEW] = {"old-or-new", "#f9a825"},
	[PC_TEAR] = {"may-tear", "#c62828"},
	[PC_VANISH] = {"may-vanish", "#6a1b9a"},
	[PC_COLLATERAL] = {"collateral", "#ef6c00"},
};

struct xfile {
	uint64_t id;        /* file id */
	char path[512];     /* last known path */
	uint64_t npages;    /* most pages it ever had */
	uint8_t **cls;      /* per moment: npages classes (grown as needed) */
};

struct explain {
	const struct ops_trace *t;
	struct model_plan *plan;
	uint32_t page;      /* --page */
	uint32_t block;     /* --block, 0 none */
	struct names *names;
	struct xfile *f;    /* files seen */
	size_t nf;
	uint64_t *moment;   /* per moment: the last op begun (seq) */
	bool *after;        /* per moment: that op completed (else the crash is during it) */
	char **label;       /* what the moment is ("before fsync /x", "mark ...") */
	size_t nm;
};

static struct xfile *x_file(struct explain *x, uint64_t id)
{
	size_t i;

	for (i = 0; i < x->nf; i++)
		if (x->f[i].id == id)
			return &x->f[i];
	x->f = realloc(x->f, (x->nf + 1) * sizeof(*x->f));
	memset(&x->f[x->nf], 0, sizeof(*x->f));
	x->f[x->nf].id = id;
	return &x->f[x->nf++];
}

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

/* Is file id's name durable at moment m (in the base, or its create durable)? */
static bool name_durable(const struct explain *x, uint64_t id, size_t m)
{
	size_t i;

	for (i = 0; i < x->t->n && x->t->v[i].seq <= x->moment[m]; i++) {
		const struct ops_op *op = &x->t->v[i];

		if (op->kind == OPS_NS && (op->id == id || op->id2 == id) && x_in_flight(x, i, m))
			return false;
	}
	return true;
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
			    ? PC_TEAR : PC_OLD_NEW;
		if (cls[p] < c || cls[p] == PC_COLLATERAL)
			cls[p] = c;
	}
	if (!x->block || x->block <= x->page)
		return;
	unit = x->block / x->page;
	for (p = first / unit * unit; p < (last / unit + 1) * unit && p < npages; p++)
		if (cls[p] == PC_DURABLE)
			cls[p] = PC_COLLATERAL;
}

/* Classifies every page of file f at moment m. */
static void classify(struct explain *x, struct xfile *f, size_t m)
{
	uint64_t crash = x->moment[m] + (x->after[m] ? 1 : 0), b = base_size(x, f->id);
	uint64_t full = size_at(x, f->id, m, false, b);
	uint64_t dur = size_at(x, f->id, m, true, b);
	uint64_t lo = dur < full ? dur : full, hi = dur < full ? full : dur;
	uint64_t np = (hi + x->page - 1) / x->page, p;
	uint8_t *cls;
	size_t i;

	if (np > f->npages)
		f->npages = np;
	cls = calloc(np ? np : 1, 1);
	f->cls[m] = cls;
	for (i = 0; i < x->t->n && x->t->v[i].seq <= x->moment[m]; i++)
		if (x->t->v[i].id == f->id && x_in_flight(x, i, m))
			mark_op(x, i, crash, cls, np);
	/* Pages between the durable size and the size the program saw. */
	for (p = lo / x->page; lo < hi && p <= (hi - 1) / x->page && p < np; p++)
		cls[p] = PC_VANISH;
	if (!name_durable(x, f->id, m))
		memset(cls, PC_VANISH, np);
}

/* ---- moments ---- */

static void add_moment(struct explain *x, uint64_t seq, bool after, const char *label)
{
	if (x->nm && x->moment[x->nm - 1] == seq && x->after[x->nm - 1] == after)
		return;
	x->moment = realloc(x->moment, (x->nm + 1) * sizeof(*x->moment));
	x->after = realloc(x->after, (x->nm + 1) * sizeof(*x->after));
	x->label = realloc(x->label, (x->nm + 1) * sizeof(*x->label));
	x->moment[x->nm] = seq;
	x->after[x->nm] = after;
	x->label[x->nm] = strdup(label);
	x->nm++;
}

/*
 * Moments: during each barrier (just before it completes) and just after
 * it, at each mark, at the end; files: every file written.
 */
static void find_moments(struct explain *x)
{
	char label[700], path[512];
	size_t i;

	for (i = 0; i < x->t->nbase; i++)
		ops_names_apply(x->names, x->t, &x->t->base[i]);
	for (i = 0; i < x->t->n; i++) {
		const struct ops_op *op = &x->t->v[i];

		ops_names_apply(x->names, x->t, op);
		if (ops_is_bytes(op)) {
			struct xfile *f = x_file(x, op->id);

			if (names_path(x->names, op->id, path, sizeof(path)) == 0)
				snprintf(f->path, sizeof(f->path), "%s", path);
		}
		if (op->kind == OPS_BARRIER || (op->oflags & OPS_F_SYNC_SELF)) {
			names_path(x->names, op->id, path, sizeof(path));
			snprintf(label, sizeof(label), "before op %" PRIu64 " %s %s completes",
				 op->seq, trace_op_name(op->op), path);
			add_moment(x, op->seq, false, label);
			snprintf(label, sizeof(label), "after op %" PRIu64 " %s %s", op->seq,
				 trace_op_name(op->op), path);
			add_moment(x, op->seq, true, label);
		} else if (op->kind == OPS_MARK) {
			snprintf(label, sizeof(label), "mark \"%.*s\" (op %" PRIu64 ")",
				 (int)op->name_len, ops_name(x->t, op), op->seq);
			add_moment(x, op->seq, true, label);
		}
	}
	if (x->t->n)
		add_moment(x, x->t->v[x->t->n - 1].seq, true, "end of trace");
}

/* ---- output ---- */

/* Prints "pages 0-3 durable, 4 may-tear" for one file at one moment. */
static void print_ranges(FILE *out, const uint8_t *cls, uint64_t np)
{
	uint64_t p = 0;

	if (!np)
		fputs("(empty)", out);
	while (p < np) {
		uint64_t q = p;

		while (q + 1 < np && cls[q + 1] == cls[p])
			q++;
		if (q == p)
			fprintf(out, "%s%" PRIu64 " %s", p ? ", " : "", p, classes[cls[p]].name);
		else
			fprintf(out, "%s%" PRIu64 "-%" PRIu64 " %s", p ? ", " : "", p, q,
				classes[cls[p]].name);
		p = q + 1;
	}
}

static uint64_t pages_at(const struct xfile *f, const struct explain *x, size_t m)
{
	uint64_t b = base_size(x, f->id);
	uint64_t full = size_at(x, f->id, m, false, b);
	uint64_t dur = size_at(x, f->id, m, true, b);
	uint64_t hi = dur > full ? dur : full;

	return (hi + x->page - 1) / x->page;
}

static void print_text(const struct explain *x, FILE *out)
{
	size_t i, m;

	fprintf(out, "faultline explain: model %s, page %u bytes%s\n", x->plan->m->name, x->page,
		x->block ? ", with --block" : "");
	if (x->t->partial)
		fprintf(out, "PARTIAL TRACE: only its %" PRIu64 " valid records are explained "
			"(--partial): %s\n", x->t->records_valid, x->t->partial_reason);
	for (i = 0; i < x->nf; i++) {
		const struct xfile *f = &x->f[i];

		fprintf(out, "\n%s (id %" PRIu64 ")\n", f->path[0] ? f->path : "?", f->id);
		for (m = 0; m < x->nm; m++) {
			fprintf(out, "  %-44.44s pages ", x->label[m]);
			print_ranges(out, f->cls[m], pages_at(f, x, m));
			fputc('\n', out);
		}
	}
}

/* {"partial", "records_valid", "reason"}, as explore's report has it. */
static json_object *status_json(const struct ops_trace *t)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "partial", json_object_new_boolean(t->partial));
	json_object_object_add(o, "records_valid", json_object_new_uint64(t->records_valid));
	json_object_object_add(o, "reason",
			       t->partial ? json_object_new_string(t->partial_reason) : NULL);
	return o;
}

static json_object *json_of(const struct explain *x)
{
	json_object *o = json_object_new_object(), *files = json_object_new_array();
	size_t i, m;

	json_object_object_add(o, "model", json_object_new_string(x->plan->m->name));
	json_object_object_add(o, "page", json_object_new_int(x->page));
	json_object_object_add(o, "trace_status", status_json(x->t));
	for (i = 0; i < x->nf; i++) {
		json_object *f = json_object_new_object(), *ms = json_object_new_array();

		json_object_object_add(f, "id", json_object_new_uint64(x->f[i].id));
		json_object_object_add(f, "path", json_object_new_string(x->f[i].path));
		for (m = 0; m < x->nm; m++) {
			json_object *e = json_object_new_object(), *pages = json_object_new_array();
			uint64_t p, np = pages_at(&x->f[i], x, m);

			for (p = 0; p < np; p++)
				json_object_array_add(pages, json_object_new_string(
							      classes[x->f[i].cls[m][p]].name));
			json_object_object_add(e, "seq", json_object_new_uint64(x->moment[m]));
			json_object_object_add(e, "at", json_object_new_string(x->label[m]));
			json_object_object_add(e, "pages", pages);
			json_object_array_add(ms, e);
		}
		json_object_object_add(f, "moments", ms);
		json_object_array_add(files, f);
	}
	json_object_object_add(o, "files", files);
	return o;
}

static void html_escape(FILE *out, const char *s)
{
	for (; *s; s++)
		if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else if (*s == '&')
			fputs("&amp;", out);
		else if (*s == '"')
			fputs("&quot;", out);
		else
			fputc(*s, out);
}

/* One heat map: pages down, moments across; a cell's title says all. */
static void html_file(const struct explain *x, const struct xfile *f, FILE *out)
{
	uint64_t p;
	size_t m;

	fputs("<h2>", out);
	html_escape(out, f->path[0] ? f->path : "?");
	fputs("</h2>\n<table class=\"map\"><tr><th>page</th>", out);
	for (m = 0; m < x->nm; m++) {
		fprintf(out, "<th class=\"m\" title=\"");
		html_escape(out, x->label[m]);
		fprintf(out, "\">%" PRIu64 "</th>", x->moment[m]);
	}
	fputs("</tr>\n", out);
	for (p = 0; p < f->npages; p++) {
		fprintf(out, "<tr><th>%" PRIu64 "</th>", p);
		for (m = 0; m < x->nm; m++) {
			bool has = p < pages_at(f, x, m);
			int c = has ? f->cls[m][p] : -1;

			fprintf(out, "<td class=\"%s\" title=\"page %" PRIu64 ", ", has ? classes[c].name
				: "none", p);
			html_escape(out, x->label[m]);
			fprintf(out, ": %s\"></td>", has ? classes[c].name : "no such page");
		}
		fputs("</tr>\n", out);
	}
	fputs("</table>\n", out);
}

static int write_html(const struct explain *x, const char *path)
{
	FILE *out = fopen(path, "we");
	size_t i;

	if (!out)
		return -errno;
	fprintf(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>faultline explain"
		     "</title>\n<style>body{font:14px sans-serif;margin:2em}"
		     "table.map{border-collapse:collapse}table.map td{width:18px;height:14px;"
		     "border:1px solid #fff}th{font-weight:normal;font-size:11px;padding:0 4px}"
		     ".legend span{display:inline-block;padding:2px 8px;margin-right:6px;color:#fff}"
		     ".none{background:#eee}");
	for (i = 0; i < PC_COUNT; i++)
		fprintf(out, ".%s{background:%s}", classes[i].name, classes[i].colour);
	fprintf(out, "</style></head><body>\n<h1>What a crash may do to each page</h1>\n"
		     "<p>Model <b>%s</b>, %u-byte pages. Columns are moments of the trace (hover for "
		     "the op), rows are pages.</p>\n<p class=\"legend\">",
		x->plan->m->name, x->page);
	for (i = 0; i < PC_COUNT; i++)
		fprintf(out, "<span class=\"%s\">%s</span>", classes[i].name, classes[i].name);
	fputs("</p>\n<details><summary>The moments (columns)</summary><table>", out);
	for (i = 0; i < x->nm; i++) {
		fprintf(out, "<tr><th>%" PRIu64 "</th><td>", x->moment[i]);
		html_escape(out, x->label[i]);
		fputs("</td></tr>", out);
	}
	fputs("</table></details>\n", out);
	for (i = 0; i < x->nf; i++)
		html_file(x, &x->f[i], out);
	fputs("</body></html>\n", out);
	return fclose(out) == 0 ? 0 : -errno;
}

/* ---- the command ---- */

struct explain_opts {
	const char *trace, *model, *json, *html;
	double page, block;
	bool partial; /* --partial: an unfinished recording's valid prefix */
};

static int explain_parse(int argc, char **argv, struct explain_opts *o)
{
	static const struct option lopts[] = {
		{"model", 1, NULL, 'm'}, {"page", 1, NULL, 'p'}, {"block", 1, NULL, 'b'},
		{"json", 1, NULL, 'J'}, {"html", 1, NULL, 'H'}, {"help", 0, NULL, 'h'},
		{"partial", 0, NULL, 'P'}, {NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	*o = (struct explain_opts){.model = "posix", .page = 4096};
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'J': o->json = optarg; break;
		case 'H': o->html = optarg; break;
		case 'P': o->partial = true; break;
		case 'p': o->page = strtod(optarg, &end); if (*end || o->page < 512 || o->page > (1 << 24)) return -1; break;
		case 'b': o->block = strtod(optarg, &end); if (*end || o->block < 0 || o->block > (1 << 24)) return -1; break;
		case 'h':
			printf("usage: faultline explain TRACE [--model M] [--page N] [--block N] "
			       "[--json FILE] [--html FILE] [--partial]\n");
			exit(0);
		default: return -1;
		}
	}
	if (optind != argc - 1)
		return -1;
	o->trace = argv[optind];
	return model_find(o->model) ? 0 : -2;
}

static void explain_free(struct explain *x)
{
	size_t i, m;

	for (i = 0; i < x->nf; i++) {
		for (m = 0; m < x->nm; m++)
			free(x->f[i].cls[m]);
		free(x->f[i].cls);
	}
	for (m = 0; m < x->nm; m++)
		free(x->label[m]);
	free(x->f);
	free(x->moment);
	free(x->after);
	free(x->label);
	names_free(x->names);
	model_plan_free(x->plan);
}

static int explain_outputs(const struct explain *x, const struct explain_opts *o)
{
	int rc = 0;

	print_text(x, stdout);
	if (o->json) {
		json_object *j = json_of(x);

		if (json_object_to_file_ext(o->json, j, JSON_C_TO_STRING_PLAIN) < 0) {
			cli_err("explain", "cannot write %s", o->json);
			rc = FL_EXIT_ENV;
		}
		json_object_put(j);
	}
	if (o->html && write_html(x, o->html) < 0) {
		cli_err("explain", "cannot write %s", o->html);
		rc = FL_EXIT_ENV;
	}
	return rc;
}

int cmd_explain(int argc, char **argv)
{
	struct explain_opts o;
	struct explain x = {0};
	struct ops_trace *t;
	char err[512];
	size_t i, m;
	int rc = explain_parse(argc, argv, &o);

	if (rc < 0) {
		cli_err("explain", rc == -2 ? "unknown model (%s)" : "usage: faultline explain TRACE "
			"[--model M] [--page N] [--block N] [--json FILE] [--html FILE] [--partial]%s",
			rc == -2 ? model_list() : "");
		return FL_EXIT_USAGE;
	}
	if (ops_load(o.trace, o.partial ? OPS_LOAD_PARTIAL : 0, &t, err, sizeof(err)) < 0) {
		cli_err("explain", "%s: %s", o.trace, err);
		return FL_EXIT_USAGE;
	}
	x.t = t;
	x.page = (uint32_t)o.page;
	x.block = (uint32_t)o.block;
	x.names = names_new();
	if (model_plan_new(model_find(o.model), t, &x.plan) < 0 || !x.names) {
		ops_free(t);
		return FL_EXIT_ENV;
	}
	find_moments(&x);
	for (i = 0; i < x.nf; i++) {
		x.f[i].cls = calloc(x.nm ? x.nm : 1, sizeof(*x.f[i].cls));
		for (m = 0; m < x.nm; m++)
			classify(&x, &x.f[i], m);
	}
	rc = explain_outputs(&x, &o);
	explain_free(&x);
	ops_free(t);
	return rc;
}
