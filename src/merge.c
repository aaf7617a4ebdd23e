/*
 * merge.c - `faultline merge RESULT.json... [--json FILE] [--junit FILE]`:
 * the reports of the N shards of one exploration, made into the report the
 * unsharded run would have written.
 *
 * The shards must describe the same exploration: the same trace, model,
 * mode, shard count N, trace status (whether the trace was partial, and
 * how many of its records were read) and the same generated and unique
 * counts (every shard enumerates all states, then checks its own 1/N of
 * the unique ones).  Together they must hold each shard K = 1..N
 * exactly once, and no state may be reported failing by two shards.
 * Anything else is bad input (exit 2) with a one-line reason that names
 * the file.
 *
 * The merged report: generated and unique as the shards say; checked,
 * passed, failed and skipped summed; coverage = checked / unique (1 when
 * there is nothing to check); elapsed_s the longest shard's (shards run
 * side by side); failures the union, sorted by (crash_after, id); shard
 * null; trace_status as the shards give it (a partial trace stays
 * partial in every output).  mechanism and note are kept when the shards
 * agree, else the distinct values are joined with "; ".
 *
 * A single unsharded report is accepted too and comes out unchanged
 * (re-printed, re-written): merging one run is that run.
 *
 * The summary goes to stdout, or to stderr when --json - or --junit -
 * puts the report itself on stdout.
 *
 * Exit: 0 no failing state; 1 at least one; 2 usage or bad input; 3 an
 * output file could not be written.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

struct merge_opts {
	const char *json;  /* --json FILE, or NULL */
	const char *junit; /* --junit FILE, or NULL */
	char **files;	   /* the shard reports, argv's */
	int nfiles;
};

static int merge_parse(int argc, char **argv, struct merge_opts *o)
{
	static const struct option lopts[] = {
	    {"json", required_argument, NULL, 'j'},
	    {"junit", required_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = optarg;
			break;
		case 'J':
			o->junit = optarg;
			break;
		case 'h':
			cli_help("merge", stdout);
			exit(FL_EXIT_OK);
		default:
			return -1;
		}
	}
	if (optind >= argc) {
		cli_err("merge", "need one or more RESULT.json (see faultline merge --help)");
		return -1;
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	return 0;
}

/*
 * The checks below return 0 when the reports may be merged, else the exit
 * code, after printing a one-line reason.
 */

/* Reads every file into in[]. */
static int merge_read(const struct merge_opts *o, struct report *in)
{
	char why[512];
	int i, err;

	for (i = 0; i < o->nfiles; i++) {
		err = report_read_json(o->files[i], &in[i], why, sizeof(why));
		if (err < 0) {
			cli_err("merge", "%s: %s", o->files[i], why);
			return err == -ENOMEM ? FL_EXIT_ENV : FL_EXIT_USAGE;
		}
	}
	return 0;
}

/* Compares file i's string field with file 0's; prints why on a difference. */
static int same_text(const struct merge_opts *o, int i, const char *what,
		     const char *a, const char *b)
{
	if (!strcmp(a, b))
		return 0;
	cli_err("merge", "%s: %s \"%s\" differs from \"%s\" in %s", o->files[i],
		what, b, a, o->files[0]);
	return FL_EXIT_USAGE;
}

static int same_count(const struct merge_opts *o, int i, const char *what,
		      uint64_t a, uint64_t b)
{
	if (a == b)
		return 0;
	cli_err("merge", "%s: %s %" PRIu64 " differs from %" PRIu64 " in %s",
		o->files[i], what, b, a, o->files[0]);
	return FL_EXIT_USAGE;
}

/* "partial, 41 records read", "whole, 27 records read", or "not recorded". */
static void status_text(const struct report *r, char *buf, size_t len)
{
	if (!r->tstatus.known)
		snprintf(buf, len, "not recorded");
	else
		snprintf(buf, len, "%s, %" PRIu64 " records read",
			 r->tstatus.partial ? "partial" : "whole",
			 r->tstatus.records_valid);
}

/* File i read the trace as file 0 did. */
static int same_status(const struct merge_opts *o, int i,
		       const struct report *a, const struct report *b)
{
	char sa[64], sb[64];

	status_text(a, sa, sizeof(sa));
	status_text(b, sb, sizeof(sb));
	return same_text(o, i, "trace status", sa, sb);
}

/* Every report describes the exploration in[0] describes. */
static int merge_agree(const struct merge_opts *o, const struct report *in)
{
	const struct report *a = &in[0];
	int i;

	for (i = 0; i < o->nfiles; i++) {
		const struct report *b = &in[i];

		if (!b->shard_n && o->nfiles > 1) {
			cli_err("merge",
				"%s: not a shard report (\"shard\" is null); "
				"an unsharded report can only be given alone",
				o->files[i]);
			return FL_EXIT_USAGE;
		}
		if (same_text(o, i, "trace", a->trace, b->trace) ||
		    same_text(o, i, "model", a->model, b->model) ||
		    same_text(o, i, "mode", a->mode, b->mode) ||
		    same_status(o, i, a, b) ||
		    same_count(o, i, "shard count", a->shard_n, b->shard_n) ||
		    same_count(o, i, "states generated", a->generated,
			       b->generated) ||
		    same_count(o, i, "unique states", a->unique, b->unique))
			return FL_EXIT_USAGE;
	}
	return 0;
}

/* Which file holds which shard, or which state. */
struct merge_src {
	unsigned k;	/* shard number (merge_cover) */
	const char *id; /* failing state's id (merge_disjoint) */
	int file;	/* index of the file */
};

static int src_by_k(const void *a, const void *b)
{
	const struct merge_src *x = a, *y = b;

	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	return x->file - y->file;
}

static int src_by_id(const void *a, const void *b)
{
	const struct merge_src *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : x->file - y->file;
}

/*
 * Each shard 1..N is given exactly once.  Sorts the files by shard
 * number, so memory follows the number of files, not the N a file claims.
 */
static int merge_cover(const struct merge_opts *o, const struct report *in,
		       struct merge_src *s)
{
	unsigned n = in[0].shard_n, want = 1;
	int i;

	for (i = 0; i < o->nfiles; i++)
		s[i] = (struct merge_src){.k = in[i].shard_k, .file = i};
	qsort(s, (size_t)o->nfiles, sizeof(*s), src_by_k);
	for (i = 0; i < o->nfiles; i++, want++) {
		if (i > 0 && s[i].k == s[i - 1].k) {
			cli_err("merge", "%s: shard %u/%u is also given by %s",
				o->files[s[i].file], s[i].k, n,
				o->files[s[i - 1].file]);
			return FL_EXIT_USAGE;
		}
		if (s[i].k != want)
			break;
	}
	if (want <= n) {
		cli_err("merge",
			"shard %u/%u is missing: none of the %d files given "
			"holds it",
			want, n, o->nfiles);
		return FL_EXIT_USAGE;
	}
	return 0;
}

/* No state is reported failing by two files (the shards overlap). */
static int merge_disjoint(const struct merge_opts *o, const struct report *in)
{
	struct merge_src *s;
	size_t n = 0, j;
	int i, rc = 0;

	for (i = 0; i < o->nfiles; i++)
		n += in[i].nfailures;
	s = malloc((n ? n : 1) * sizeof(*s));
	if (!s) {
		cli_err("merge", "out of memory");
		return FL_EXIT_ENV;
	}
	for (n = 0, i = 0; i < o->nfiles; i++)
		for (j = 0; j < in[i].nfailures; j++)
			s[n++] = (struct merge_src){.id = in[i].failures[j].id,
						    .file = i};
	qsort(s, n, sizeof(*s), src_by_id);
	for (j = 1; j < n && !rc; j++) {
		if (!strcmp(s[j - 1].id, s[j].id) &&
		    s[j - 1].file != s[j].file) {
			cli_err("merge",
				"%s: state %s is also reported by %s: "
				"the shards overlap",
				o->files[s[j].file], s[j].id,
				o->files[s[j - 1].file]);
			rc = FL_EXIT_USAGE;
		}
	}
	free(s);
	return rc;
}

/* Runs every check in order; 0 or the exit code of the first that fails. */
static int merge_check(const struct merge_opts *o, struct report *in)
{
	struct merge_src *s;
	int rc = merge_read(o, in);

	if (!rc)
		rc = merge_agree(o, in);
	if (!rc && in[0].shard_n) {
		s = calloc((size_t)o->nfiles, sizeof(*s));
		rc = s ? merge_cover(o, in, s) : FL_EXIT_ENV;
		if (!s)
			cli_err("merge", "out of memory");
		free(s);
	}
	if (!rc)
		rc = merge_disjoint(o, in);
	return rc;
}

/*
 * Joins the distinct non-NULL values of one string field of in[0..n) with
 * "; ".  Returns a malloc'd string, NULL when no report has one; *oom set
 * when out of memory.
 */
static char *join_distinct(const struct report *in, int n, size_t off,
			   bool *oom)
{
	char *out = NULL, *next;
	int i, j;

	for (i = 0; i < n; i++) {
		const char *v = *(char *const *)((const char *)&in[i] + off);

		for (j = 0; v && j < i; j++) {
			const char *w =
			    *(char *const *)((const char *)&in[j] + off);

			if (w && !strcmp(v, w))
				v = NULL; /* seen already */
		}
		if (!v)
			continue;
		if (asprintf(&next, "%s%s%s", out ? out : "", out ? "; " : "",
			     v) < 0) {
			*oom = true;
			break;
		}
		free(out);
		out = next;
	}
	return out;
}

/* out = the report the unsharded run would have written. */
static int merge_sum(const struct report *in, int n, struct report *out)
{
	bool oom = false;
	size_t j;
	int i;

	out->trace = strdup(in[0].trace);
	out->tstatus = in[0].tstatus;
	out->tstatus.reason = NULL;
	if (in[0].tstatus.reason &&
	    !(out->tstatus.reason = strdup(in[0].tstatus.reason)))
		oom = true;
	out->model = strdup(in[0].model);
	out->mode = strdup(in[0].mode);
	out->mechanism =
	    join_distinct(in, n, offsetof(struct report, mechanism), &oom);
	out->note = join_distinct(in, n, offsetof(struct report, note), &oom);
	out->generated = in[0].generated;
	out->unique = in[0].unique;
	for (i = 0; i < n; i++) {
		out->checked += in[i].checked;
		out->passed += in[i].passed;
		out->failed += in[i].failed;
		out->skipped += in[i].skipped;
		if (in[i].elapsed_s > out->elapsed_s)
			out->elapsed_s = in[i].elapsed_s;
		for (j = 0; j < in[i].nfailures && !oom; j++)
			oom = report_add_failure(out, &in[i].failures[j]) < 0;
	}
	out->coverage =
	    out->unique ? (double)out->checked / (double)out->unique : 1.0;
	if (n == 1 && !in[0].shard_n)
		out->coverage =
		    in[0].coverage; /* one unsharded run: as it was */
	report_sort(out);
	if (oom || !out->trace || !out->model || !out->mode) {
		cli_err("merge", "out of memory");
		return -1;
	}
	return 0;
}

/* Writes --json and --junit; returns the exit code for a failed write or 0. */
static int merge_write(const struct merge_opts *o, const struct report *r)
{
	int err;

	if (o->json && (err = report_write_json(r, o->json)) < 0) {
		cli_err("merge", "cannot write %s: %s", o->json,
			strerror(-err));
		return FL_EXIT_ENV;
	}
	if (o->junit && (err = report_write_junit(r, o->junit)) < 0) {
		cli_err("merge", "cannot write %s: %s", o->junit,
			strerror(-err));
		return FL_EXIT_ENV;
	}
	return 0;
}

/* The summary goes to stdout, or to stderr when stdout carries --json -. */
static FILE *summary_stream(const struct merge_opts *o)
{
	bool to_stdout = (o->json && !strcmp(o->json, "-")) ||
			 (o->junit && !strcmp(o->junit, "-"));

	return to_stdout ? stderr : stdout;
}

int cmd_merge(int argc, char **argv)
{
	struct merge_opts o = {0};
	struct report *in, out = {0};
	int i, rc;

	if (merge_parse(argc, argv, &o) < 0)
		return FL_EXIT_USAGE;
	in = calloc((size_t)o.nfiles, sizeof(*in));
	if (!in) {
		cli_err("merge", "out of memory");
		return FL_EXIT_ENV;
	}
	rc = merge_check(&o, in);
	if (rc)
		goto out;
	rc = FL_EXIT_ENV;
	if (merge_sum(in, o.nfiles, &out) < 0)
		goto out;
	report_print_summary(&out, summary_stream(&o));
	fflush(stdout);
	rc = merge_write(&o, &out);
	if (!rc)
		rc = out.failed || out.nfailures ? FL_EXIT_FAIL : FL_EXIT_OK;
out:
	report_free(&out);
	for (i = 0; i < o.nfiles; i++)
		report_free(&in[i]);
	free(in);
	return rc;
}
