/*
 * audit_cmd.c - `faultline audit TRACE|SCENARIO`: which guarantees an
 * engine relies on (audit.c runs the matrix; this file parses, prints the
 * table and the verdict, and writes --json).
 *
 * Exit: 0 the engine holds under what --claims declares (default: the
 * weakest cell, posix ordering with 64 KiB block damage); 1 it needs
 * more; 2 usage, bad trace or scenario, or its workload failed; 3
 * environment.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "fl_error.h"
#include "mat.h"
#include "model.h"
#include "scenario.h"
#include "state.h"

struct audit_cli {
	struct explore_opts o;
	const char *target; /* TRACE or SCENARIO */
	const char *claims; /* --claims, or NULL */
	const char *json;   /* --json FILE */
	const char *html;   /* --html FILE */
	const char *keep;   /* --keep-trace DIR: where a scenario's recording stays */
	bool quiet;         /* --no-progress: no line per cell */
	char check_buf[16384];
};

static int audit_parse(int argc, char **argv, struct audit_cli *c)
{
	static const struct option lopts[] = {
		{"check", 1, NULL, 'c'},  {"check-server", 1, NULL, 'V'}, {"mode", 1, NULL, 'M'},
		{"sector", 1, NULL, 'x'}, {"window", 1, NULL, 'w'},       {"seed", 1, NULL, 's'},
		{"jobs", 1, NULL, 'j'},   {"timeout", 1, NULL, 'T'},      {"budget", 1, NULL, 'B'},
		{"claims", 1, NULL, 'C'}, {"json", 1, NULL, 'J'},         {"partial", 0, NULL, 'p'},
		{"html", 1, NULL, 'H'},   {"keep-trace", 1, NULL, 'K'},
		{"no-progress", 0, NULL, 'P'}, {"help", 0, NULL, 'h'},    {NULL, 0, NULL, 0},
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int opt, row, col;
	double v;

	c->o = (struct explore_opts){.sector = STATE_SECTOR_DEFAULT, .kinds = "ozg",
				     .jobs = ncpu > 0 ? (unsigned)ncpu : 1, .timeout = 60,
				     .window = 8, .mem_budget = MAT_MEM_BUDGET_DEFAULT};
	explore_parse_mode("omit-one", &c->o);
	while ((opt = getopt_long(argc, argv, "j:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
		case 'V':
			if (c->o.check) {
				cli_err("audit", "--check and --check-server: give one checker");
				return -FL_EUSAGE;
			}
			c->o.check = cli_resolve_check(optarg, c->check_buf, sizeof(c->check_buf));
			c->o.check_server = opt == 'V';
			break;
		case 'M':
			if (explore_parse_mode(optarg, &c->o) < 0 || c->o.mode == EXPLORE_RANDOM) {
				cli_err("audit", "bad --mode '%s' (prefix, omit-one, bounded:K, "
					"exhaustive)", optarg);
				return -FL_EUSAGE;
			}
			break;
		case 'x':
			if (!cli_num_arg(optarg, 1, 1 << 20, &v))
				goto bad;
			c->o.sector = (uint32_t)v;
			break;
		case 'w':
			if (!cli_num_arg(optarg, 0, 24, &v))
				goto bad;
			c->o.window = (unsigned)v;
			break;
		case 's':
			if (!cli_num_arg(optarg, 0, 1.8e19, &v))
				goto bad;
			c->o.seed = strtoull(optarg, NULL, 10);
			break;
		case 'j':
			if (!cli_num_arg(optarg, 1, 1024, &v))
				goto bad;
			c->o.jobs = (unsigned)v;
			break;
		case 'T':
			if (!cli_num_arg(optarg, 0, 1e6, &v))
				goto bad;
			c->o.timeout = v;
			break;
		case 'B':
			if (!cli_num_arg(optarg, 0, 1e7, &v))
				goto bad;
			c->o.budget = v;
			break;
		case 'C':
			if (audit_parse_claims(optarg, &row, &col) < 0) {
				cli_err("audit", "bad --claims '%s' (an ordering: strict, "
					"ext4-ordered, posix; and a device: whole, page-atomic, "
					"sector-atomic, torn, block16k, block64k)", optarg);
				return -FL_EUSAGE;
			}
			c->claims = optarg;
			break;
		case 'J': c->json = optarg; break;
		case 'H': c->html = optarg; break;
		case 'K': c->keep = optarg; break;
		case 'p': c->o.partial = true; break;
		case 'P': c->quiet = true; break;
		case 'h': cli_help("audit", stdout); exit(0);
		default: return -FL_EUSAGE;
		}
	}
	if (optind != argc - 1) {
		cli_err("audit", "need one TRACE or SCENARIO (see faultline audit --help)");
		return -FL_EUSAGE;
	}
	c->target = argv[optind];
	return 0;
bad:
	cli_err("audit", "bad value '%s' (see faultline audit --help)", optarg);
	return -FL_EUSAGE;
}

/* One line per cell as it finishes (stderr). */
static void audit_progress(void *arg, int r, int c, const struct audit_cell *cell)
{
	(void)arg;
	fprintf(stderr, "faultline: audit: %s / %s: %s (%llu states checked, %llu failed)\n",
		audit_rows[r], audit_cols[c].name,
		cell->rc < 0 ? "could not run" : audit_cell_holds(cell) ? "holds" : "fails",
		(unsigned long long)cell->rep.checked, (unsigned long long)cell->rep.failed);
}

static void print_table(FILE *f, const struct audit_cli *cl, const struct audit *a,
			const char *words, bool holds, int crow, int ccol)
{
	int r, c;

	fprintf(f, "faultline audit: %s (%s), %d cells in %.1f s: %llu checker runs, "
		   "%llu answered from an earlier check\n",
		cl->target, cl->o.mode_text, AUDIT_ROWS * AUDIT_COLS, a->elapsed_s,
		(unsigned long long)a->checks_run, (unsigned long long)a->checks_reused);
	fprintf(f, "%-14s", "");
	for (c = 0; c < AUDIT_COLS; c++)
		fprintf(f, " %-14s", audit_cols[c].name);
	fputc('\n', f);
	for (r = 0; r < AUDIT_ROWS; r++) {
		fprintf(f, "%-14s", audit_rows[r]);
		for (c = 0; c < AUDIT_COLS; c++) {
			const struct audit_cell *cell = &a->cell[r][c];
			char t[32];

			if (cell->rc < 0)
				snprintf(t, sizeof(t), "ERROR");
			else if (audit_cell_holds(cell))
				snprintf(t, sizeof(t), "pass");
			else
				snprintf(t, sizeof(t), "FAIL %llu", (unsigned long long)cell->rep.failed);
			fprintf(f, " %-14s", t);
		}
		fputc('\n', f);
	}
	fprintf(f, "verdict: %s\n", words);
	fprintf(f, "claims: %s / %s: %s\n", audit_rows[crow], audit_cols[ccol].name,
		holds ? "holds" : "needs more than it claims");
	for (r = 0; r < AUDIT_ROWS; r++)
		for (c = 0; c < AUDIT_COLS; c++) {
			const struct report *rep = &a->cell[r][c].rep;

			if (rep->nfailures && (c == 0 || audit_cell_holds(&a->cell[r][c - 1])))
				fprintf(f, "  first failing cell of %s: %s, e.g. %s\n", audit_rows[r],
					audit_cols[c].name, rep->failures[0].id);
		}
}

static json_object *cell_json(const struct audit_cell *cell, int r, int c)
{
	json_object *o = json_object_new_object(), *causes = json_object_new_array();
	struct report_cause *cs = NULL;
	size_t n = 0, i;

	json_object_object_add(o, "ordering", json_object_new_string(audit_rows[r]));
	json_object_object_add(o, "device", json_object_new_string(audit_cols[c].name));
	json_object_object_add(o, "holds", json_object_new_boolean(audit_cell_holds(cell)));
	json_object_object_add(o, "error", json_object_new_boolean(cell->rc < 0));
	json_object_object_add(o, "checked", json_object_new_uint64(cell->rep.checked));
	json_object_object_add(o, "failed", json_object_new_uint64(cell->rep.failed));
	if (cell->rc == 0 && report_causes(&cell->rep, &cs, &n) == 0)
		for (i = 0; i < n; i++) {
			json_object *x = json_object_new_object();

			json_object_object_add(x, "id", json_object_new_string(cs[i].id));
			json_object_object_add(x, "kind", cs[i].kind ? json_object_new_string(cs[i].kind) : NULL);
			json_object_object_add(x, "words", cs[i].words ? json_object_new_string(cs[i].words) : NULL);
			json_object_object_add(x, "states", json_object_new_uint64(cs[i].n));
			json_object_array_add(causes, x);
		}
	report_causes_free(cs, n);
	json_object_object_add(o, "causes", causes);
	json_object_object_add(o, "example",
			       cell->rep.nfailures ? json_object_new_string(cell->rep.failures[0].id)
						   : NULL);
	return o;
}

static int write_json(const char *path, const struct audit_cli *cl, const struct audit *a,
		      const char *kept, const char *words, bool holds, int crow, int ccol, int nrow, int ncol)
{
	json_object *o = json_object_new_object(), *cells = json_object_new_array(), *needs;
	FILE *f;
	int r, c, rc = 0;

	json_object_object_add(o, "faultline", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "trace", json_object_new_string(cl->target));
	json_object_object_add(o, "mode", json_object_new_string(cl->o.mode_text));
	json_object_object_add(o, "recording", kept ? json_object_new_string(kept) : NULL);
	for (r = 0; r < AUDIT_ROWS; r++)
		for (c = 0; c < AUDIT_COLS; c++)
			json_object_array_add(cells, cell_json(&a->cell[r][c], r, c));
	json_object_object_add(o, "cells", cells);
	needs = json_object_new_object();
	json_object_object_add(needs, "ordering", nrow >= 0 ? json_object_new_string(audit_rows[nrow]) : NULL);
	json_object_object_add(needs, "device", ncol >= 0 ? json_object_new_string(audit_cols[ncol].name) : NULL);
	json_object_object_add(o, "survives", needs);
	json_object_object_add(o, "verdict", json_object_new_string(words));
	needs = json_object_new_object();
	json_object_object_add(needs, "ordering", json_object_new_string(audit_rows[crow]));
	json_object_object_add(needs, "device", json_object_new_string(audit_cols[ccol].name));
	json_object_object_add(needs, "holds", json_object_new_boolean(holds));
	json_object_object_add(o, "claims", needs);
	json_object_object_add(o, "checker_runs", json_object_new_uint64(a->checks_run));
	json_object_object_add(o, "verdicts_reused", json_object_new_uint64(a->checks_reused));
	f = strcmp(path, "-") ? fopen(path, "we") : stdout;
	if (!f || fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		rc = -EIO;
	if (f && f != stdout && fclose(f) != 0)
		rc = -EIO;
	json_object_put(o);
	return rc;
}

/*
 * Where a scenario's recording goes: --keep-trace, or with --html beside
 * the page (FILE.html -> FILE.trace: the page's replay commands need it),
 * or into the work directory, removed at the end.  Sets *kept.
 */
static void scenario_trace(const struct audit_cli *c, const char *work, char *trace,
			   size_t len, bool *kept)
{
	size_t n;

	*kept = true;
	if (c->keep) {
		snprintf(trace, len, "%s", c->keep);
	} else if (c->html) {
		n = strlen(c->html);
		if (n > 5 && !strcmp(c->html + n - 5, ".html"))
			n -= 5;
		snprintf(trace, len, "%.*s.trace", (int)n, c->html);
	} else {
		snprintf(trace, len, "%s/trace", work);
		*kept = false;
	}
}

/* A scenario: records its workload into trace; its checker becomes ours. */
static int audit_scenario(struct audit_cli *c, struct scenario *s, const char *trace)
{
	char err[PATH_MAX + 256];
	int rc;

	if (scenario_load(c->target, s, err, sizeof(err)) < 0) {
		cli_err("audit", "%s", err);
		return FL_EXIT_USAGE;
	}
	if (c->o.check) {
		cli_err("audit", "a scenario brings its own checker: no --check");
		return FL_EXIT_USAGE;
	}
	if ((rc = run_record_scenario(s, trace, "audit")) != 0)
		return rc;
	c->o.check = s->check;
	c->o.check_server = s->check_server;
	return 0;
}

/* --html: the page, naming kept (absolute when it can be) in its replay commands. */
static int write_html(const struct audit_cli *cl, const struct audit *a, const char *kept,
		      const char *words, bool holds, int crow, int ccol, int nrow, int ncol)
{
	char abs[PATH_MAX];
	struct audit_page pg = {
		.target = cl->target, .trace = kept, .check = cl->o.check,
		.check_server = cl->o.check_server, .partial = cl->o.partial,
		.mode = cl->o.mode_text, .words = words, .nrow = nrow, .ncol = ncol,
		.crow = crow, .ccol = ccol, .holds = holds,
	};

	if (kept && realpath(kept, abs))
		pg.trace = abs;
	if (audit_write_html(a, &pg, cl->html) < 0) {
		cli_err("audit", "cannot write %s", cl->html);
		return FL_EXIT_ENV;
	}
	return 0;
}

int cmd_audit(int argc, char **argv)
{
	struct audit_cli c = {0};
	struct scenario s = {0};
	struct audit a;
	char err[1024] = "", work[PATH_MAX], trace[PATH_MAX + 16], *words = NULL;
	const char *tmp = getenv("TMPDIR"), *dot, *kept;
	int rc, crow = AUDIT_ROWS - 1, ccol = AUDIT_COLS - 1, nrow, ncol;
	bool holds, scen, keep = true;

	if (audit_parse(argc, argv, &c) < 0)
		return FL_EXIT_USAGE;
	if (c.claims)
		audit_parse_claims(c.claims, &crow, &ccol);
	dot = strrchr(c.target, '.');
	scen = dot && !strcmp(dot, ".ini");
	if (!scen && !c.o.check) {
		cli_err("audit", "need --check CMD or --check-server CMD (or a SCENARIO.ini)");
		return FL_EXIT_USAGE;
	}
	if (!scen && c.keep) {
		cli_err("audit", "--keep-trace keeps a scenario's recording; a TRACE is kept already");
		return FL_EXIT_USAGE;
	}
	snprintf(work, sizeof(work), "%s/faultline-audit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(work)) {
		cli_err("audit", "cannot make a work directory: %s", strerror(errno));
		return FL_EXIT_ENV;
	}
	c.o.trace = c.target;
	if (scen) {
		scenario_trace(&c, work, trace, sizeof(trace), &keep);
		if ((rc = audit_scenario(&c, &s, trace)) != 0)
			goto out;
		c.o.trace = trace;
	}
	kept = keep ? c.o.trace : NULL;
	c.o.stop = cli_catch_signals();
	rc = audit_run(&c.o, &a, c.quiet ? NULL : audit_progress, NULL, err, sizeof(err));
	if (rc < 0 && *c.o.stop) {
		audit_free(&a);
		mat_remove(work);
		cli_exit_if_signalled("audit");
	}
	if (rc < 0) {
		cli_err("audit", "%s", err[0] ? err : strerror(-rc));
		audit_free(&a);
		rc = rc == -FL_EBADTRACE || rc == -FL_EUSAGE ? FL_EXIT_USAGE : FL_EXIT_ENV;
		goto out;
	}
	words = audit_words(&a, &nrow, &ncol);
	holds = audit_cell_holds(&a.cell[crow][ccol]);
	print_table(c.json && !strcmp(c.json, "-") ? stderr : stdout, &c, &a,
		    words ? words : "?", holds, crow, ccol);
	rc = holds ? FL_EXIT_OK : FL_EXIT_FAIL;
	if (c.json && write_json(c.json, &c, &a, kept, words ? words : "?", holds, crow, ccol,
				 nrow, ncol) < 0) {
		cli_err("audit", "cannot write %s", c.json);
		rc = FL_EXIT_ENV;
	}
	if (c.html && write_html(&c, &a, kept, words ? words : "?", holds, crow, ccol, nrow, ncol))
		rc = FL_EXIT_ENV;
	audit_free(&a);
out:
	free(words);
	if (scen)
		scenario_free(&s);
	mat_remove(work);
	return rc;
}
