/*
 * explain_cmd.c - `faultline explain TRACE [--model M] [--page N] [--block N]
 *                 [--json FILE] [--html FILE] [--partial]`: which pages a
 *                 crash may damage.
 *
 * This file parses options and loads the trace; explain.c classifies
 * and explain_report.c writes the result.  --reference (left out of the
 * usage line: it is for tests) classifies with the old rescan instead of
 * the sweep; the output must be the same byte for byte.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "explain.h"

struct explain_opts {
	const char *trace, *model, *json, *html;
	double page, block;
	bool partial;   /* --partial: an unfinished recording's valid prefix */
	bool reference; /* --reference: the old per-moment rescan */
};

/* 0, -1 on bad usage, -2 for an unknown model. */
static int explain_parse(int argc, char **argv, struct explain_opts *o)
{
	static const struct option lopts[] = {
		{"model", 1, NULL, 'm'}, {"page", 1, NULL, 'p'}, {"block", 1, NULL, 'b'},
		{"json", 1, NULL, 'J'}, {"html", 1, NULL, 'H'}, {"help", 0, NULL, 'h'},
		{"partial", 0, NULL, 'P'}, {"reference", 0, NULL, 'R'}, {NULL, 0, NULL, 0},
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
		case 'R': o->reference = true; break;
		case 'p': o->page = strtod(optarg, &end); if (*end || o->page < 512 || o->page > (1 << 24)) return -1; break;
		case 'b': o->block = strtod(optarg, &end); if (*end || o->block < 0 || o->block > (1 << 24)) return -1; break;
		case 'h':
			cli_help("explain", stdout);
			exit(0);
		default: return -1;
		}
	}
	if (optind != argc - 1)
		return -1;
	o->trace = argv[optind];
	return model_find(o->model) ? 0 : -2;
}

static int explain_outputs(const struct explain *x, const struct explain_opts *o)
{
	int rc = 0;

	explain_write_text(x, stdout);
	if (o->json && explain_write_json(x, o->json) < 0) {
		cli_err("explain", "cannot write %s", o->json);
		rc = FL_EXIT_ENV;
	}
	if (o->html && explain_write_html(x, o->html) < 0) {
		cli_err("explain", "cannot write %s", o->html);
		rc = FL_EXIT_ENV;
	}
	return rc;
}

int cmd_explain(int argc, char **argv)
{
	struct explain_opts o;
	struct explain x;
	struct ops_trace *t;
	char err[512];
	int rc = explain_parse(argc, argv, &o);

	if (rc < 0) {
		if (rc == -2)
			cli_err("explain", "unknown model (%s)", model_list());
		else
			cli_err("explain", "need one TRACE and valid options (see faultline "
				"explain --help)");
		return FL_EXIT_USAGE;
	}
	if (ops_load(o.trace, o.partial ? OPS_LOAD_PARTIAL : 0, &t, err, sizeof(err)) < 0) {
		cli_err("explain", "%s: %s", o.trace, err);
		return FL_EXIT_USAGE;
	}
	if (explain_build(&x, t, model_find(o.model), (uint32_t)o.page, (uint32_t)o.block,
			  o.reference ? EXPLAIN_REFERENCE : 0) < 0) {
		cli_err("explain", "out of memory");
		ops_free(t);
		return FL_EXIT_ENV;
	}
	rc = explain_outputs(&x, &o);
	explain_free(&x);
	ops_free(t);
	return rc;
}
