/*
 * audit.c - one recording against a matrix of assumptions (see audit.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "model.h"
#include "verdicts.h"

const char *const audit_rows[AUDIT_ROWS] = {"strict", "ext4-ordered", "posix"};

static const char *const row_needs[AUDIT_ROWS] = {
	"needs strict ordering (every operation durable as soon as it completes)",
	"needs ext4's ordered metadata (one journal commit makes every earlier name "
	"change durable)",
	"survives posix ordering",
};

const struct audit_col audit_cols[AUDIT_COLS] = {
	{"whole", "whole writes (no write tears)", "needs whole writes (no write may tear)",
	 "new", 0, 0},
	{"page-atomic", "4 KiB-aligned writes whole, others sector-atomic",
	 "needs 4 KiB-aligned writes to be atomic", "old,new", 4096, 0},
	{"sector-atomic", "sector-atomic writes (each sector old or new)",
	 "needs sector-atomic writes", "old,new", 0, 0},
	{"torn", "torn sectors may read back as zeros or garbage",
	 "needs a torn write's damage kept to its own sectors", "old,new,zero,garbage", 0, 0},
	{"block16k", "a torn write may damage its whole 16 KiB blocks",
	 "needs a torn write's damage kept to its own 16 KiB blocks", "old,new,zero,garbage", 0,
	 16384},
	{"block64k", "a torn write may damage its whole 64 KiB blocks",
	 "survives torn writes that damage whole 64 KiB blocks", "old,new,zero,garbage", 0,
	 65536},
};

bool audit_cell_holds(const struct audit_cell *c)
{
	return c->rc == 0 && c->rep.failed == 0;
}

int audit_run(const struct explore_opts *base, struct audit *a,
	      void (*progress)(void *arg, int row, int col, const struct audit_cell *c),
	      void *arg, char *err, size_t errlen)
{
	struct verdicts *v = verdicts_new();
	struct timespec t0, t1;
	int r, c, rc = 0;

	memset(a, 0, sizeof(*a));
	if (!v)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* The weakest cell first: its states include every other cell's, so the
	 * rest are answered from its verdicts. */
	for (r = AUDIT_ROWS - 1; !rc && r >= 0; r--)
		for (c = AUDIT_COLS - 1; !rc && c >= 0; c--) {
			struct explore_opts o = *base;
			struct audit_cell *cell = &a->cell[r][c];

			o.model = model_find(audit_rows[r]);
			explore_parse_tear(audit_cols[c].tear, &o);
			o.atomic = audit_cols[c].atomic;
			o.block = audit_cols[c].block;
			o.verdicts = v;
			o.progress = false;
			cell->rc = explore_run(&o, &cell->rep, err, errlen);
			if (cell->rc < 0)
				rc = cell->rc;
			if (progress)
				progress(arg, r, c, cell);
		}
	a->checks_reused = verdicts_reuse_count(v);
	a->checks_run = verdicts_run_count(v);
	verdicts_free(v);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	a->elapsed_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return rc;
}

void audit_free(struct audit *a)
{
	int r, c;

	for (r = 0; r < AUDIT_ROWS; r++)
		for (c = 0; c < AUDIT_COLS; c++)
			report_free(&a->cell[r][c].rep);
}

int audit_parse_claims(const char *text, int *row, int *col)
{
	char buf[128], *tok, *save = NULL;
	int i;

	*row = 0;
	*col = 0;
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < AUDIT_ROWS && strcmp(tok, audit_rows[i]); i++)
			;
		if (i < AUDIT_ROWS) {
			*row = i;
			continue;
		}
		for (i = 0; i < AUDIT_COLS && strcmp(tok, audit_cols[i].name); i++)
			;
		if (i == AUDIT_COLS)
			return -EINVAL;
		*col = i;
	}
	return 0;
}

/* "kind: words (state ID; checker: FIRST LINE)" of the cell's first cause. */
static void first_cause(const struct audit_cell *cell, char *buf, size_t len)
{
	const struct report *r = &cell->rep;
	struct report_cause *cs = NULL;
	const struct report_failure *f;
	size_t n = 0, ol;
	const char *out;

	if (cell->rc < 0) {
		snprintf(buf, len, "the exploration could not run");
		return;
	}
	if (!r->nfailures) {
		snprintf(buf, len, "no failure");
		return;
	}
	f = &r->failures[0];
	if (report_causes(r, &cs, &n) == 0 && n > 0 && cs[0].n > 0)
		f = &r->failures[cs[0].members[0]];
	out = f->output ? f->output : "";
	ol = strcspn(out, "\n");
	if (n > 0 && cs[0].words)
		snprintf(buf, len, "%s: %s (state %s)", cs[0].kind ? cs[0].kind : "cause",
			 cs[0].words, cs[0].id);
	else
		snprintf(buf, len, "state %s fails%s%.*s", f->id, ol ? ": " : "",
			 (int)(ol > 200 ? 200 : ol), out);
	report_causes_free(cs, n);
}

char *audit_words(const struct audit *a, int *row, int *col)
{
	char cause[2048], out[6144];
	int r, c;

	for (r = AUDIT_ROWS - 1; r >= 0 && !audit_cell_holds(&a->cell[r][0]); r--)
		;
	*row = r;
	*col = -1;
	if (r < 0) {
		first_cause(&a->cell[0][0], cause, sizeof(cause));
		snprintf(out, sizeof(out),
			 "fails even with strict ordering and whole writes: %s", cause);
		return strdup(out);
	}
	for (c = 0; c + 1 < AUDIT_COLS && audit_cell_holds(&a->cell[r][c + 1]); c++)
		;
	*col = c;
	out[0] = 0;
	if (c + 1 < AUDIT_COLS) {
		first_cause(&a->cell[r][c + 1], cause, sizeof(cause));
		snprintf(out, sizeof(out), "%s (past it, %s: %s)", audit_cols[c].needs,
			 audit_cols[c + 1].name, cause);
	} else {
		snprintf(out, sizeof(out), "%s", audit_cols[c].needs);
	}
	if (r + 1 < AUDIT_ROWS) {
		first_cause(&a->cell[r + 1][0], cause, sizeof(cause));
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "; %s (under %s: %s)",
			 row_needs[r], audit_rows[r + 1], cause);
	} else {
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "; %s", row_needs[r]);
	}
	return strdup(out);
}
