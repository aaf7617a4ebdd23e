/*
 * audit_html.c - `faultline audit --html`: the matrix as one self-contained
 * page (no script, no outside resource).  Each failing cell links to its
 * section below: the cell's causes, most severe first, each with its
 * representative state, what that state lost or tore, what the checker
 * said, and the command that rebuilds and re-checks it.  The verdict links
 * to the cell it names.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "html.h"

#define AUDIT_HTML_CAUSES 20  /* causes shown per cell; the rest are counted */
#define AUDIT_HTML_OUTPUT 2000 /* bytes of checker output shown per cause */

static void cell_anchor(FILE *out, int r, int c)
{
	fprintf(out, "cell-%s-%s", audit_rows[r], audit_cols[c].name);
}

static void page_head(FILE *out, const struct audit *a, const struct audit_page *pg)
{
	int vr = -1, vc = -1;

	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>faultline audit: ", out);
	html_escape(out, pg->target);
	fputs("</title>\n<style>body{font:14px sans-serif;margin:2em;max-width:70em}"
	      "table.matrix{border-collapse:collapse}table.matrix td,table.matrix th{border:1px "
	      "solid #ccc;padding:6px 10px;text-align:center}td.pass{background:#cfe8cf}"
	      "td.fail{background:#f4c7c3}td.error{background:#ddd}td.claimed{outline:3px solid "
	      "#333}td small{display:block;color:#555}pre{background:#f6f6f6;padding:6px;"
	      "white-space:pre-wrap}p.verdict{font-size:16px}section{margin-top:2em}"
	      "</style></head><body>\n<h1>faultline audit</h1>\n<p class=\"meta\">", out);
	html_escape(out, pg->target);
	fprintf(out, " &middot; mode %s &middot; %d cells in %.1f s &middot; %" PRIu64
		     " checker runs, %" PRIu64 " answered from an earlier check</p>\n",
		pg->mode, AUDIT_ROWS * AUDIT_COLS, a->elapsed_s, a->checks_run, a->checks_reused);
	/* The verdict cites the first failing cell past what holds. */
	if (pg->nrow < 0)
		vr = 0, vc = 0;
	else if (pg->ncol + 1 < AUDIT_COLS)
		vr = pg->nrow, vc = pg->ncol + 1;
	else if (pg->nrow + 1 < AUDIT_ROWS)
		vr = pg->nrow + 1, vc = 0;
	fputs("<p class=\"verdict\" id=\"verdict\">", out);
	if (vr >= 0) {
		fputs("<a href=\"#", out);
		cell_anchor(out, vr, vc);
		fputs("\">", out);
	}
	html_escape(out, pg->words);
	fputs(vr >= 0 ? "</a></p>\n" : "</p>\n", out);
	fprintf(out, "<p class=\"claims\">Claims %s / %s: <b>%s</b></p>\n", audit_rows[pg->crow],
		audit_cols[pg->ccol].name, pg->holds ? "holds" : "needs more than it claims");
}

static void matrix_cell(FILE *out, const struct audit *a, const struct audit_page *pg, int r,
			int c)
{
	const struct audit_cell *cell = &a->cell[r][c];
	const char *cls = cell->rc < 0 ? "error" : audit_cell_holds(cell) ? "pass" : "fail";
	bool claimed = r == pg->crow && c == pg->ccol;

	fprintf(out, "<td class=\"%s%s\" id=\"", cls, claimed ? " claimed" : "");
	cell_anchor(out, r, c);
	fprintf(out, "-m\" data-ordering=\"%s\" data-device=\"%s\">", audit_rows[r],
		audit_cols[c].name);
	if (cell->rc < 0) {
		fputs("error", out);
	} else if (audit_cell_holds(cell)) {
		fputs("pass", out);
	} else {
		fputs("<a href=\"#", out);
		cell_anchor(out, r, c);
		fprintf(out, "\">FAIL</a>");
	}
	if (cell->rc == 0)
		fprintf(out, "<small>%" PRIu64 " failed of %" PRIu64 "</small>", cell->rep.failed,
			cell->rep.checked);
	fputs("</td>", out);
}

static void matrix(FILE *out, const struct audit *a, const struct audit_page *pg)
{
	int r, c;

	fputs("<table class=\"matrix\"><thead><tr><th>ordering \\ device</th>", out);
	for (c = 0; c < AUDIT_COLS; c++) {
		fputs("<th title=\"", out);
		html_escape(out, audit_cols[c].what);
		fprintf(out, "\">%s</th>", audit_cols[c].name);
	}
	fputs("</tr></thead><tbody>\n", out);
	for (r = 0; r < AUDIT_ROWS; r++) {
		fprintf(out, "<tr><th>%s</th>", audit_rows[r]);
		for (c = 0; c < AUDIT_COLS; c++)
			matrix_cell(out, a, pg, r, c);
		fputs("</tr>\n", out);
	}
	fputs("</tbody></table>\n<ul class=\"legend\">", out);
	for (c = 0; c < AUDIT_COLS; c++) {
		fprintf(out, "<li><b>%s</b>: ", audit_cols[c].name);
		html_escape(out, audit_cols[c].what);
		fputs("</li>", out);
	}
	fputs("</ul>\n", out);
}

/* The failure that stands for cause cs: the one with the cause's own id
 * (the minimal state), else its first member. */
static const struct report_failure *representative(const struct report *r,
						   const struct report_cause *cs)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (!strcmp(r->failures[cs->members[i]].id, cs->id))
			return &r->failures[cs->members[i]];
	return &r->failures[cs->members[0]];
}

static void replay_cmd(FILE *out, const struct audit_page *pg, const char *id)
{
	if (!pg->trace) {
		fputs("<p class=\"replay\">The recording was not kept (audit a scenario with "
		      "--keep-trace DIR to replay its states).</p>\n", out);
		return;
	}
	fputs("<pre class=\"replay\">faultline replay ", out);
	html_sh_word(out, pg->trace);
	fputc(' ', out);
	html_sh_word(out, id);
	fputs(pg->partial ? " --partial" : "", out);
	fputs(" --into ./replayed ", out);
	fputs(pg->check_server ? "--check-server " : "--check ", out);
	html_sh_word(out, pg->check);
	fputs("</pre>\n", out);
}

static void cause_item(FILE *out, const struct report *r, const struct report_cause *cs,
		       const struct audit_page *pg)
{
	const struct report_failure *f = representative(r, cs);
	const char *o = f->output ? f->output : "";
	char verdict[96], *shown;
	size_t ol = strlen(o) > AUDIT_HTML_OUTPUT ? AUDIT_HTML_OUTPUT : strlen(o);

	fputs("<li class=\"cause\"><p>", out);
	if (cs->kind) {
		fputs("<b class=\"kind\">", out);
		html_escape(out, cs->kind);
		fputs("</b>", out);
		if (cs->severity)
			fprintf(out, " (%s)", report_severity_name(cs->severity));
		fputs(": ", out);
	}
	html_escape(out, cs->words ? cs->words : "a failing state");
	fprintf(out, " &middot; %zu state%s</p>\n<p>State <code class=\"id\">", cs->n,
		cs->n == 1 ? "" : "s");
	html_escape(out, f->id);
	fputs("</code>: <span class=\"explanation\">", out);
	html_escape(out, f->explanation ? f->explanation : "");
	report_checker_verdict(f, verdict, sizeof(verdict));
	fprintf(out, "</span></p>\n<p>%s%s</p>\n", verdict, ol ? ":" : ", no output");
	if (ol && (shown = strndup(o, ol))) {
		fputs("<pre class=\"output\">", out);
		html_escape(out, shown);
		fputs(ol < strlen(o) ? "\n...</pre>\n" : "</pre>\n", out);
		free(shown);
	}
	replay_cmd(out, pg, f->id);
	fputs("</li>\n", out);
}

static void cell_section(FILE *out, const struct audit_cell *cell, int r, int c,
			 const struct audit_page *pg)
{
	struct report_cause *cs = NULL;
	size_t n = 0, i;

	fputs("<section class=\"cell\" id=\"", out);
	cell_anchor(out, r, c);
	fprintf(out, "\"><h2>%s ordering, %s</h2>\n<p>", audit_rows[r], audit_cols[c].name);
	html_escape(out, audit_cols[c].what);
	fprintf(out, ". %" PRIu64 " of %" PRIu64 " states checked fail.</p>\n", cell->rep.failed,
		cell->rep.checked);
	if (report_causes(&cell->rep, &cs, &n) < 0) {
		fputs("<p>(out of memory listing the causes)</p></section>\n", out);
		return;
	}
	fprintf(out, "<ol class=\"causes\">\n");
	for (i = 0; i < n && i < AUDIT_HTML_CAUSES; i++)
		cause_item(out, &cell->rep, &cs[i], pg);
	fputs("</ol>\n", out);
	if (n > AUDIT_HTML_CAUSES)
		fprintf(out, "<p>... and %zu more causes (see --json).</p>\n", n - AUDIT_HTML_CAUSES);
	fputs("</section>\n", out);
	report_causes_free(cs, n);
}

int audit_write_html(const struct audit *a, const struct audit_page *pg, const char *path)
{
	FILE *out = fopen(path, "we");
	int r, c, err = 0;

	if (!out)
		return -errno;
	page_head(out, a, pg);
	matrix(out, a, pg);
	for (r = 0; r < AUDIT_ROWS; r++)
		for (c = 0; c < AUDIT_COLS; c++)
			if (a->cell[r][c].rc == 0 && !audit_cell_holds(&a->cell[r][c]))
				cell_section(out, &a->cell[r][c], r, c, pg);
	fputs("</body></html>\n", out);
	if (ferror(out))
		err = -EIO;
	if (fclose(out) != 0 && !err)
		err = -errno;
	return err;
}
