/*
 * explain_report.c - `faultline explain`'s result as text, JSON and HTML.
 *
 * Reads the snapshots explain_build() made (explain.h) and writes them
 * out: the text table gives each file at each moment as ranges of pages
 * ("0-3 durable, 4 may-tear"); the JSON lists every page's class; the
 * HTML is one self-contained file, a heat map per file (pages down,
 * moments across), no scripts, no network.  Nothing here classifies.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>

#include "explain.h"
#include "html.h"

static const char *const colours[EXPLAIN_NCLASS] = {
	[EXPLAIN_DURABLE] = "#2e7d32",    [EXPLAIN_OLD_NEW] = "#f9a825",
	[EXPLAIN_TEAR] = "#c62828",       [EXPLAIN_VANISH] = "#6a1b9a",
	[EXPLAIN_COLLATERAL] = "#ef6c00",
};

/*
 * record --calls: the call that made moment m's op (a barrier or a mark),
 * and where, into buf.  False (buf "") without one.
 */
static bool moment_call(const struct explain *x, size_t m, char *buf, size_t len)
{
	long i = x->t->calls ? ops_index(x->t, x->moment[m]) : -1;

	buf[0] = 0;
	return i >= 0 && ops_call_words(x->t, (size_t)i, buf, len);
}

/*
 * The next page captured from a shared mapping of file f (record --calls,
 * ops_is_early) after op index *i: its op index in *i, its first and last
 * page, and the seq of the barrier that covers it (MODEL_NEVER: none).
 * False when there is none.
 */
static bool next_capture(const struct explain *x, const struct explain_file *f, size_t *i,
			 uint64_t *p0, uint64_t *p1, uint64_t *until)
{
	for (; *i < x->t->n; (*i)++) {
		const struct ops_op *op = &x->t->v[*i];

		if (!ops_is_early(op) || op->id != f->id || !op->data_len)
			continue;
		*p0 = op->off / x->page;
		*p1 = (op->off + op->data_len - 1) / x->page;
		*until = x->plan->durable_at[*i];
		return true;
	}
	return false;
}

/* "page 0 captured at op 5 (page stored before ...): may persist from then
 * until op 9 completes" into buf. */
static void capture_words(const struct explain *x, size_t i, uint64_t p0, uint64_t p1,
			  uint64_t until, char *buf, size_t len)
{
	char call[400], pages[64], end[64];
	bool has;

	if (p0 == p1)
		snprintf(pages, sizeof(pages), "page %" PRIu64, p0);
	else
		snprintf(pages, sizeof(pages), "pages %" PRIu64 "-%" PRIu64, p0, p1);
	if (until == MODEL_NEVER)
		snprintf(end, sizeof(end), "to the end");
	else
		snprintf(end, sizeof(end), "until op %" PRIu64 " completes", until);
	has = ops_call_words(x->t, i, call, sizeof(call));
	snprintf(buf, len, "%s captured at op %" PRIu64 "%s%s%s: may persist from then %s", pages,
		 x->t->v[i].seq, has ? " (" : "", call, has ? ")" : "", end);
}

/* File f's snapshot at moment m, given *k, its snapshot at an earlier moment (0 at first). */
static const struct explain_snap *snap_at(const struct explain_file *f, size_t m, size_t *k)
{
	while (*k + 1 < f->nsnap && f->snap[*k + 1].from <= m)
		(*k)++;
	return &f->snap[*k];
}

/* Prints "0-3 durable, 4 may-tear" for one file at one moment. */
static void print_ranges(FILE *out, const struct explain_snap *s)
{
	size_t r;

	if (!s->np)
		fputs("(empty)", out);
	for (r = 0; r < s->nrun; r++) {
		uint64_t p = s->run[r].start, q = r + 1 < s->nrun ? s->run[r + 1].start - 1 : s->np - 1;

		if (q == p)
			fprintf(out, "%s%" PRIu64 " %s", p ? ", " : "", p,
				explain_class_name(s->run[r].cls));
		else
			fprintf(out, "%s%" PRIu64 "-%" PRIu64 " %s", p ? ", " : "", p, q,
				explain_class_name(s->run[r].cls));
	}
}

void explain_write_text(const struct explain *x, FILE *out)
{
	uint64_t p0, p1, until;
	char words[800];
	size_t i, m, k;

	fprintf(out, "faultline explain: model %s, page %u bytes%s\n", x->plan->m->name, x->page,
		x->block ? ", with --block" : "");
	if (x->t->partial)
		fprintf(out, "PARTIAL TRACE: only its %" PRIu64 " valid records are explained "
			"(--partial): %s\n", x->t->records_valid, x->t->partial_reason);
	for (i = 0; i < x->nf; i++) {
		const struct explain_file *f = &x->f[i];

		fprintf(out, "\n%s (id %" PRIu64 ")\n", f->path[0] ? f->path : "?", f->id);
		for (m = 0, k = 0; m < x->nm; m++) {
			const struct explain_snap *s = snap_at(f, m, &k);

			fprintf(out, "  %-44.44s name %-10s pages ", x->label[m],
				explain_name_name(s->name));
			print_ranges(out, s);
			fputc('\n', out);
		}
		for (k = 0; next_capture(x, f, &k, &p0, &p1, &until); k++) {
			capture_words(x, k, p0, p1, until, words, sizeof(words));
			fprintf(out, "  %s\n", words);
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

/* ["durable", "may-tear", ...]: every page of one snapshot. */
static json_object *pages_json(const struct explain_snap *s)
{
	json_object *pages = json_object_new_array();
	uint64_t p;
	size_t r;

	for (r = 0; r < s->nrun; r++)
		for (p = s->run[r].start; p < (r + 1 < s->nrun ? s->run[r + 1].start : s->np); p++)
			json_object_array_add(pages, json_object_new_string(
						      explain_class_name(s->run[r].cls)));
	return pages;
}

static json_object *file_json(const struct explain *x, const struct explain_file *f)
{
	json_object *o = json_object_new_object(), *ms = json_object_new_array();
	const struct explain_snap *s;
	uint64_t p0, p1, until;
	char call[400];
	size_t m, k;

	json_object_object_add(o, "id", json_object_new_uint64(f->id));
	json_object_object_add(o, "path", json_object_new_string(f->path));
	for (m = 0, k = 0; m < x->nm; m++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "seq", json_object_new_uint64(x->moment[m]));
		json_object_object_add(e, "at", json_object_new_string(x->label[m]));
		if (x->t->calls)
			json_object_object_add(e, "call", moment_call(x, m, call, sizeof(call))
								  ? json_object_new_string(call) : NULL);
		s = snap_at(f, m, &k);
		json_object_object_add(e, "name", json_object_new_string(explain_name_name(s->name)));
		json_object_object_add(e, "pages", pages_json(s));
		json_object_array_add(ms, e);
	}
	json_object_object_add(o, "moments", ms);
	ms = json_object_new_array();
	for (k = 0; next_capture(x, f, &k, &p0, &p1, &until); k++) {
		json_object *e = json_object_new_object();

		json_object_object_add(e, "seq", json_object_new_uint64(x->t->v[k].seq));
		json_object_object_add(e, "first_page", json_object_new_uint64(p0));
		json_object_object_add(e, "last_page", json_object_new_uint64(p1));
		json_object_object_add(e, "until", until == MODEL_NEVER ? NULL
						    : json_object_new_uint64(until));
		json_object_object_add(e, "call", ops_call_words(x->t, k, call, sizeof(call))
							  ? json_object_new_string(call) : NULL);
		json_object_array_add(ms, e);
	}
	json_object_object_add(o, "captured", ms);
	return o;
}

int explain_write_json(const struct explain *x, const char *path)
{
	json_object *o = json_object_new_object(), *files = json_object_new_array();
	size_t i;
	int rc;

	json_object_object_add(o, "model", json_object_new_string(x->plan->m->name));
	json_object_object_add(o, "page", json_object_new_int(x->page));
	json_object_object_add(o, "trace_status", status_json(x->t));
	for (i = 0; i < x->nf; i++)
		json_object_array_add(files, file_json(x, &x->f[i]));
	json_object_object_add(o, "files", files);
	rc = json_object_to_file_ext(path, o, JSON_C_TO_STRING_PLAIN) < 0 ? -1 : 0;
	json_object_put(o);
	return rc;
}

/* One heat map row: page p at every moment; cur[m] is moment m's run cursor. */
static void html_row(const struct explain *x, const struct explain_file *f, uint64_t p,
		     const size_t *snap, size_t *cur, FILE *out)
{
	size_t m;

	fprintf(out, "<tr><th>%" PRIu64 "</th>", p);
	for (m = 0; m < x->nm; m++) {
		const struct explain_snap *s = &f->snap[snap[m]];
		bool has = p < s->np;
		const char *c;

		while (has && cur[m] + 1 < s->nrun && s->run[cur[m] + 1].start <= p)
			cur[m]++;
		c = has ? explain_class_name(s->run[cur[m]].cls) : NULL;
		fprintf(out, "<td class=\"%s\" title=\"page %" PRIu64 ", ", has ? c : "none", p);
		html_escape(out, x->label[m]);
		fprintf(out, ": %s\"></td>", has ? c : "no such page");
	}
	fputs("</tr>\n", out);
}

/* One heat map: pages down, moments across; a cell's title says all.  0 or -ENOMEM. */
static int html_file(const struct explain *x, const struct explain_file *f, FILE *out)
{
	size_t *snap = calloc(x->nm + 1, sizeof(*snap)), *cur = calloc(x->nm + 1, sizeof(*cur));
	char call[400], words[800];
	size_t m, k;
	uint64_t p, p0, p1, until;

	if (!snap || !cur) {
		free(snap);
		free(cur);
		return -ENOMEM;
	}
	fputs("<h2>", out);
	html_escape(out, f->path[0] ? f->path : "?");
	fputs("</h2>\n<table class=\"map\"><tr><th>page</th>", out);
	for (m = 0, k = 0; m < x->nm; m++) {
		snap_at(f, m, &k);
		snap[m] = k;
		fprintf(out, "<th class=\"m\" title=\"");
		html_escape(out, x->label[m]);
		if (moment_call(x, m, call, sizeof(call))) {
			fputs(" by ", out);
			html_escape(out, call);
		}
		fprintf(out, "\">%" PRIu64 "</th>", x->moment[m]);
	}
	fputs("</tr>\n<tr class=\"name\"><th>name</th>", out);
	for (m = 0; m < x->nm; m++) {
		const char *c = explain_name_name(f->snap[snap[m]].name);

		fprintf(out, "<td class=\"%s\" title=\"the name ", c);
		html_escape(out, f->path[0] ? f->path : "?");
		fputs(", ", out);
		html_escape(out, x->label[m]);
		fprintf(out, ": %s\"></td>", c);
	}
	fputs("</tr>\n", out);
	for (p = 0; p < f->npages; p++)
		html_row(x, f, p, snap, cur, out);
	fputs("</table>\n", out);
	for (k = 0, m = 0; next_capture(x, f, &k, &p0, &p1, &until); k++, m++) {
		capture_words(x, k, p0, p1, until, words, sizeof(words));
		fputs(m ? "<li>" : "<ul class=\"captured\"><li>", out);
		html_escape(out, words);
		fputs("</li>\n", out);
	}
	if (m)
		fputs("</ul>\n", out);
	free(snap);
	free(cur);
	return 0;
}

static void html_head(const struct explain *x, FILE *out)
{
	size_t i;

	fprintf(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>faultline explain"
		     "</title>\n<style>body{font:14px sans-serif;margin:2em}"
		     "table.map{border-collapse:collapse}table.map td{width:18px;height:14px;"
		     "border:1px solid #fff}th{font-weight:normal;font-size:11px;padding:0 4px}"
		     ".legend span{display:inline-block;padding:2px 8px;margin-right:6px;color:#fff}"
		     ".none,.absent{background:#eee}");
	for (i = 0; i < EXPLAIN_NCLASS; i++)
		fprintf(out, ".%s{background:%s}", explain_class_name(i), colours[i]);
	fprintf(out, "</style></head><body>\n<h1>What a crash may do to each page</h1>\n"
		     "<p>Model <b>%s</b>, %u-byte pages. Columns are moments of the trace (hover for "
		     "the op); the first row is the file's name (may it vanish?), the rows under it "
		     "its pages, each as it is if the file survives.</p>\n<p class=\"legend\">",
		x->plan->m->name, x->page);
	for (i = 0; i < EXPLAIN_NCLASS; i++)
		fprintf(out, "<span class=\"%s\">%s</span>", explain_class_name(i),
			explain_class_name(i));
	fputs("</p>\n<details><summary>The moments (columns)</summary><table>", out);
	for (i = 0; i < x->nm; i++) {
		char call[400];

		fprintf(out, "<tr><th>%" PRIu64 "</th><td>", x->moment[i]);
		html_escape(out, x->label[i]);
		if (moment_call(x, i, call, sizeof(call))) {
			fputs("</td><td class=\"call\">", out);
			html_escape(out, call);
		}
		fputs("</td></tr>", out);
	}
	fputs("</table></details>\n", out);
}

int explain_write_html(const struct explain *x, const char *path)
{
	FILE *out = fopen(path, "we");
	size_t i;
	int err = 0;

	if (!out)
		return -errno;
	html_head(x, out);
	for (i = 0; i < x->nf && !err; i++)
		err = html_file(x, &x->f[i], out);
	fputs("</body></html>\n", out);
	if (fclose(out) != 0 && !err)
		err = -errno;
	return err;
}
