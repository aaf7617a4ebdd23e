/*
 * explore_cmd.c - `faultline explore` and `faultline replay`: options to runs.
 *
 *   faultline explore TRACE --check CMD [--model M] [--mode MODE] [--sector N]
 *       [--tear KINDS] [--atomic N] [--block N] [--window N] [--seed S] [-j N]
 *       [--shard K/N] [--timeout SEC] [--budget SEC] [--json FILE]
 *       [--junit FILE] [--keep-failures DIR] [--workdir DIR] [--partial]
 *   faultline replay TRACE STATE_ID [--into DIR] [--check CMD] [--timeout SEC]
 *       [--partial]
 *   faultline states TRACE [--reference] [--crash SEQ] [explore's model, mode
 *       and tear options] [-o FILE] [--partial]
 *
 * This file parses and validates; explore.c, reference.c, mat.c and
 * check.c do the work.  Every command here loads its trace with ops_load,
 * which refuses a damaged trace or base and, unless --partial is given,
 * a trace whose recording did not finish.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <search.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "explore.h"
#include "fskey.h"
#include "fl_error.h"
#include "mat.h"
#include "ops.h"
#include "reference.h"
#include "state.h"

/* For a trace loaded with --partial: a line saying only its prefix was used. */
static void partial_note(FILE *f, bool partial, uint64_t nvalid, const char *reason)
{
	if (partial)
		fprintf(f, "PARTIAL TRACE: only its %" PRIu64 " valid records were explored "
			   "(--partial): %s\n", nvalid, reason ? reason : "");
}

struct explore_cli {
	struct explore_opts o;
	const char *json;  /* --json FILE */
	const char *junit; /* --junit FILE */
	bool states;       /* `faultline states`: no checker */
	bool reference;    /* states --reference */
	uint64_t crash;    /* states --crash SEQ, 0 for every crash point */
	char check_buf[16384]; /* the checker, its command word made absolute */
};

/* Applies one option; returns false with a reason printed for a bad value. */
static bool explore_opt(struct explore_cli *c, int opt, const char *arg)
{
	struct explore_opts *o = &c->o;
	double v;
	unsigned k, n;

	switch (opt) {
	case 'c':
	case 'V':
		if (o->check) {
			cli_err("explore", "--check and --check-server: give one checker");
			return false;
		}
		o->check = cli_resolve_check(arg, c->check_buf, sizeof(c->check_buf));
		o->check_server = opt == 'V';
		return true;
	case 'm':
		if ((o->model = model_find(arg)))
			return true;
		cli_err("explore", "unknown model '%s' (models: %s)", arg, model_list());
		return false;
	case 'M':
		if (explore_parse_mode(arg, o) == 0)
			return true;
		cli_err("explore", "bad mode '%s' (prefix, omit-one, bounded:K with K 1-8, "
			"random:N, exhaustive)", arg);
		return false;
	case 't':
		if (explore_parse_tear(arg, o) == 0)
			return true;
		cli_err("explore", "bad --tear '%s' (a list of old,new,zero,garbage)", arg);
		return false;
	case 'x': if (!cli_num_arg(arg, 1, 1 << 20, &v)) break; o->sector = (uint32_t)v; return true;
	case 'a': if (!cli_num_arg(arg, 0, 1 << 24, &v)) break; o->atomic = (uint32_t)v; return true;
	case 'b': if (!cli_num_arg(arg, 0, 1 << 24, &v)) break; o->block = (uint32_t)v; return true;
	case 'w': if (!cli_num_arg(arg, 0, 24, &v)) break; o->window = (unsigned)v; return true;
	case 's': if (!cli_num_arg(arg, 0, 1.8e19, &v)) break; o->seed = strtoull(arg, NULL, 10); return true;
	case 'j': if (!cli_num_arg(arg, 1, 1024, &v)) break; o->jobs = (unsigned)v; return true;
	case 'T': if (!cli_num_arg(arg, 0, 1e6, &v)) break; o->timeout = v; return true;
	case 'B': if (!cli_num_arg(arg, 0, 1e7, &v)) break; o->budget = v; return true;
	case 'N': if (!cli_num_arg(arg, 1, 1e6, &v)) break; o->max_causes = (unsigned)v; return true;
	case 'O':
		if (!strcmp(arg, "sweep") || !strcmp(arg, "spread")) {
			o->order = arg[1] == 'w' ? EXPLORE_ORDER_SWEEP : EXPLORE_ORDER_SPREAD;
			return true;
		}
		cli_err("explore", "bad --order '%s' (sweep or spread)", arg);
		return false;
	case 'J': c->json = arg; return true;
	case 'L': o->list_states = arg; return true;
	case 'C': if (!cli_num_arg(arg, 1, 1.8e19, &v)) break; c->crash = strtoull(arg, NULL, 10); return true;
	case 'U': c->junit = arg; return true;
	case 'K': o->keep_failures = arg; return true;
	case 'W': o->workdir = arg; return true;
	case 'X':
		if (!strcmp(arg, "auto") || !strcmp(arg, "dir") || !strcmp(arg, "xfs") ||
		    !strcmp(arg, "mem")) {
			o->scratch = arg[0] == 'a' ? MAT_SCRATCH_AUTO
				     : arg[0] == 'd' ? MAT_SCRATCH_DIR
				     : arg[0] == 'm' ? MAT_SCRATCH_MEM : MAT_SCRATCH_XFS;
			return true;
		}
		cli_err("explore", "bad --scratch '%s' (auto, dir, xfs or mem)", arg);
		return false;
	case 'Y':
		if (!cli_num_arg(arg, 1, 1 << 24, &v))
			break;
		o->mem_budget = (uint64_t)v << 20;
		return true;
	case 'S':
		if (sscanf(arg, "%u/%u", &k, &n) == 2 && n >= 1 && k >= 1 && k <= n &&
		    strspn(arg, "0123456789/") == strlen(arg)) {
			o->shard_k = k;
			o->shard_n = n;
			return true;
		}
		cli_err("explore", "bad --shard '%s' (K/N with 1 <= K <= N)", arg);
		return false;
	}
	cli_err("explore", "bad value '%s' for an option", arg);
	return false;
}

static bool explore_check_sizes(const struct explore_opts *o)
{
	if (o->block && (o->block < o->sector || o->block % o->sector)) {
		cli_err("explore", "--block must be a multiple of --sector (%u)", o->sector);
		return false;
	}
	if (o->atomic && o->atomic % o->sector) {
		cli_err("explore", "--atomic must be a multiple of --sector (%u)", o->sector);
		return false;
	}
	return true;
}

static int explore_parse(int argc, char **argv, struct explore_cli *c)
{
	static const struct option lopts[] = {
		{"check", 1, NULL, 'c'}, {"model", 1, NULL, 'm'}, {"mode", 1, NULL, 'M'},
		{"sector", 1, NULL, 'x'}, {"tear", 1, NULL, 't'}, {"atomic", 1, NULL, 'a'},
		{"block", 1, NULL, 'b'}, {"window", 1, NULL, 'w'}, {"seed", 1, NULL, 's'},
		{"check-server", 1, NULL, 'V'}, {"jobs", 1, NULL, 'j'}, {"shard", 1, NULL, 'S'}, {"timeout", 1, NULL, 'T'},
		{"budget", 1, NULL, 'B'}, {"json", 1, NULL, 'J'}, {"junit", 1, NULL, 'U'},
		{"max-causes", 1, NULL, 'N'}, {"order", 1, NULL, 'O'},
		{"keep-failures", 1, NULL, 'K'}, {"workdir", 1, NULL, 'W'},
		{"scratch", 1, NULL, 'X'}, {"scratch-budget", 1, NULL, 'Y'},
		{"list-states", 1, NULL, 'L'},
		{"reference", 0, NULL, 'R'}, {"crash", 1, NULL, 'C'}, {"output", 1, NULL, 'L'},
		{"no-progress", 0, NULL, 'P'}, {"help", 0, NULL, 'h'}, {"partial", 0, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int opt;

	c->o = (struct explore_opts){
		.model = model_find("posix"), .sector = STATE_SECTOR_DEFAULT, .kinds = "ozg",
		.jobs = ncpu > 0 ? (unsigned)ncpu : 1, .timeout = 60, .window = 8,
		.progress = true, .mem_budget = MAT_MEM_BUDGET_DEFAULT,
	};
	explore_parse_mode("omit-one", &c->o);
	while ((opt = getopt_long(argc, argv, c->states ? "o:h" : "j:h", lopts, NULL)) != -1) {
		if (opt == 'h') {
			cli_help(c->states ? "states" : "explore", stdout);
			exit(0);
		}
		if (opt == 'P' || opt == 'p' || (opt == 'R' && c->states)) {
			c->o.progress &= opt != 'P';
			c->o.partial |= opt == 'p';
			c->reference |= opt == 'R';
			continue;
		}
		if (opt == 'o' && c->states)
			opt = 'L';
		if (opt != '?' && ((c->states && strchr("cVjSTBJUKRN", opt)) ||
				   (!c->states && strchr("RC", opt)))) {
			cli_err(argv[0], "option not for this command (see --help)");
			return -FL_EUSAGE;
		}
		if (opt == '?' || !explore_opt(c, opt, optarg)) /* each says why */
			return -FL_EUSAGE;
	}
	if (optind != argc - 1 || (!c->states && !c->o.check)) {
		cli_err(argv[0], c->states ? "need one TRACE (see faultline states --help)"
			: "need one TRACE and --check CMD or --check-server CMD (see faultline explore --help)");
		return -FL_EUSAGE;
	}
	if (c->reference && c->o.mode == EXPLORE_RANDOM) {
		cli_err(argv[0], "--reference lists a mode's whole set; random:N has none");
		return -FL_EUSAGE;
	}
	c->o.trace = argv[optind];
	return explore_check_sizes(&c->o) ? 0 : -FL_EUSAGE;
}

int cmd_explore(int argc, char **argv)
{
	struct explore_cli c = {0};
	struct report rep = {0};
	char err[512];
	int rc;

	if (explore_parse(argc, argv, &c) < 0)
		return FL_EXIT_USAGE;
	c.o.stop = cli_catch_signals();
	rc = explore_run(&c.o, &rep, err, sizeof(err));
	if (rc < 0 && *c.o.stop) {
		report_free(&rep);
		cli_exit_if_signalled("explore");
	}
	if (rc < 0) {
		cli_err("explore", "%s: %s", c.o.trace, err);
		report_free(&rep);
		return rc == -FL_EBADTRACE || rc == -FL_EUSAGE ? FL_EXIT_USAGE : FL_EXIT_ENV;
	}
	/* Reports first: a reader of the summary that goes away loses nothing. */
	if ((c.json && (rc = report_write_json(&rep, c.json)) < 0) ||
	    (c.junit && (rc = report_write_junit(&rep, c.junit)) < 0)) {
		cli_err("explore", "cannot write the report: %s", strerror(-rc));
		report_free(&rep);
		return FL_EXIT_ENV;
	}
	/* With --json - stdout is the report: the summary goes to stderr. */
	report_print_summary(&rep, (c.json && !strcmp(c.json, "-")) ||
					   (c.junit && !strcmp(c.junit, "-")) ? stderr : stdout);
	rc = rep.failed ? FL_EXIT_FAIL : FL_EXIT_OK;
	report_free(&rep);
	return rc;
}

/* ---- replay ---- */

/* Checks a tear's sector pattern against the write's sector count. */
static int replay_check_rle(const struct state *s, const struct state_choice *c,
			    const struct ops_op *op, char *err, size_t errlen)
{
	uint64_t unit = s->block ? s->block : s->sector;
	uint64_t start = op->off / unit * unit;
	uint64_t stop = (op->off + op->data_len + unit - 1) / unit * unit;
	size_t nsect = (size_t)((stop - start) / s->sector);
	char *k = nsect <= (1u << 22) ? malloc(nsect ? nsect : 1) : NULL;
	int bad = !k || state_rle_expand(c->rle, k, nsect) < 0;

	free(k);
	if (bad)
		snprintf(err, errlen, "sector pattern of op %" PRIu64 " does not fit its %zu sectors",
			 c->seq, nsect);
	return bad ? -EINVAL : 0;
}

/* Checks that every choice of s names a state-changing op it can apply to. */
static int replay_validate(const struct ops_trace *t, const struct state *s,
			   char *err, size_t errlen)
{
	uint64_t last = t->n ? t->v[t->n - 1].seq : 0;
	size_t i;

	if (s->crash > last) {
		snprintf(err, errlen, "crash point %" PRIu64 " is past the trace's last record (%" PRIu64 ")",
			 s->crash, last);
		return -EINVAL;
	}
	for (i = 0; i < s->n; i++) {
		const struct state_choice *c = &s->ch[i];
		long idx = ops_index(t, c->seq);
		const struct ops_op *op = idx >= 0 ? &t->v[idx] : NULL;

		if (!op || c->seq > s->crash || (op->kind != OPS_DATA && op->kind != OPS_NS)) {
			snprintf(err, errlen, "op %" PRIu64 " is not a state-changing op before the crash", c->seq);
			return -EINVAL;
		}
		if (c->how == STATE_TEAR && op->op != TRACE_OP_WRITE) {
			snprintf(err, errlen, "op %" PRIu64 " is a %s; only writes tear", c->seq,
				 trace_op_name(op->op));
			return -EINVAL;
		}
		if (c->how == STATE_TEAR && c->rle && replay_check_rle(s, c, op, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

struct replay_opts {
	const char *trace; /* trace directory */
	bool partial;      /* --partial */
	const char *id;    /* state id */
	const char *into;  /* --into DIR */
	const char *check; /* --check CMD or --check-server CMD, or NULL */
	bool server;       /* check is a checker server (--check-server) */
	double timeout;    /* --timeout */
	char check_buf[16384]; /* check, its command word made absolute */
};

static int replay_parse(int argc, char **argv, struct replay_opts *o)
{
	static const struct option lopts[] = {
		{"into", 1, NULL, 'i'}, {"check", 1, NULL, 'c'}, {"check-server", 1, NULL, 'V'},
		{"timeout", 1, NULL, 'T'},
		{"partial", 0, NULL, 'p'}, {"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int opt;

	*o = (struct replay_opts){.into = "faultline-state", .timeout = 60};
	while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		if (opt == 'i')
			o->into = optarg;
		else if (opt == 'c' || opt == 'V') {
			if (o->check) {
				cli_err("replay", "--check and --check-server: give one checker");
				return -FL_EUSAGE;
			}
			o->check = cli_resolve_check(optarg, o->check_buf, sizeof(o->check_buf));
			o->server = opt == 'V';
		} else if (opt == 'p')
			o->partial = true;
		else if (opt == 'T' && cli_num_arg(optarg, 0, 1e6, &o->timeout))
			continue;
		else if (opt == 'h') {
			cli_help("replay", stdout);
			exit(0);
		} else
			return -FL_EUSAGE;
	}
	if (optind != argc - 2) {
		cli_err("replay", "need TRACE and STATE_ID (see faultline replay --help)");
		return -FL_EUSAGE;
	}
	o->trace = argv[optind];
	o->id = argv[optind + 1];
	return 0;
}

/*
 * Runs the checker once on dir (a checker server serves it one request,
 * as explore's would); prints its output; returns the exit code.
 */
static int replay_run_check(const struct replay_opts *o, const struct ops_trace *t,
			    const struct state *s, const char *work)
{
	struct check_runner *r;
	struct check_result res;
	char marks[4200], dir[4096];
	void *token;
	int rc;

	snprintf(marks, sizeof(marks), "%s/marks", work);
	if (ops_write_marks(t, s->crash, marks) < 0 || !realpath(o->into, dir))
		return FL_EXIT_ENV;
	if ((o->server ? check_runner_new_server : check_runner_new)(o->check, 1, o->timeout,
								    1 << 20, &r) < 0)
		return FL_EXIT_ENV;
	rc = check_start(r, dir, o->id, marks, NULL);
	if (rc == 0 && check_wait(r, &token, &res) == 1) {
		fwrite(res.output, 1, res.output_len, stdout);
		printf("faultline: replay: checker %s\n", res.passed ? "passed"
		       : res.timed_out ? "timed out" : res.signal ? "killed by a signal" : "failed");
		rc = res.passed ? FL_EXIT_OK : FL_EXIT_FAIL;
		check_result_free(&res);
	} else {
		rc = FL_EXIT_ENV;
	}
	check_runner_free(r);
	return rc;
}

/* Builds the state: base + every state-changing op up to the crash. */
static int replay_build(const struct replay_opts *o, const struct ops_trace *t,
			const struct state *s, const char *work, char *err, size_t errlen)
{
	struct mat *m;
	uint64_t key;
	size_t last;
	uint64_t nmarks = ops_marks_before(t, s->crash, &last);
	int rc = mat_new(t, work, MAT_SCRATCH_DIR, &m, err, errlen);

	if (rc)
		return rc;
	rc = mat_build_all(m, s, o->into, &key, err, errlen);
	/* The key explore reports: content and acknowledged marks together. */
	if (!rc)
		printf("faultline: replay: state %s built in %s (content %016" PRIx64 ", %s)\n",
		       o->id, o->into, fskey_state(key, nmarks), mat_mechanism(m));
	mat_free(m);
	return rc;
}

int cmd_replay(int argc, char **argv)
{
	struct replay_opts o;
	struct ops_trace *t = NULL;
	struct state s = {0};
	char err[512], work[4096];
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (replay_parse(argc, argv, &o) < 0)
		return FL_EXIT_USAGE;
	if (state_parse(o.id, &s, err, sizeof(err)) < 0 ||
	    ops_load(o.trace, o.partial ? OPS_LOAD_PARTIAL : 0, &t, err, sizeof(err)) < 0 ||
	    replay_validate(t, &s, err, sizeof(err)) < 0) {
		cli_err("replay", "%s", err);
		rc = FL_EXIT_USAGE;
		goto out;
	}
	partial_note(stderr, t->partial, t->records_valid, t->partial_reason);
	if (access(o.into, F_OK) == 0) {
		cli_err("replay", "%s exists; give --into a new directory", o.into);
		rc = FL_EXIT_USAGE;
		goto out;
	}
	snprintf(work, sizeof(work), "%s/faultline-replay.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(work)) {
		cli_err("replay", "cannot make a work directory: %s", strerror(errno));
		rc = FL_EXIT_ENV;
		goto out;
	}
	rc = replay_build(&o, t, &s, work, err, sizeof(err));
	if (rc < 0)
		cli_err("replay", "%s", err);
	rc = rc == -FL_EBADTRACE ? FL_EXIT_USAGE : rc < 0 ? FL_EXIT_ENV
	     : o.check ? replay_run_check(&o, t, &s, work) : FL_EXIT_OK;
	mat_remove(work);
out:
	state_free(&s);
	ops_free(t);
	return rc;
}

/* ---- states ---- */

struct states_out {
	FILE *f;        /* where lines go */
	uint64_t crash; /* --crash filter, 0 for none */
	const struct explore_opts *o;
	void *seen;     /* keys listed (tsearch of uint64_t) */
	uint64_t n, unique;
};

/* Prints one state's line; its status is whether its key came before. */
static int states_line(struct states_out *so, const char *id, uint64_t crash, uint64_t key,
		       uint64_t nmarks)
{
	uint64_t *k;
	void **p;

	if (so->crash && crash != so->crash)
		return 0;
	if (!(k = malloc(sizeof(*k))))
		return -ENOMEM;
	*k = key;
	if (!(p = tsearch(k, &so->seen, ops_u64_cmp)))
		return -ENOMEM;
	if (*p != k)
		free(k);
	so->n++;
	so->unique += *p == k;
	fprintf(so->f, "%s\t%016" PRIx64 "\t%" PRIu64 "\t%s\n", id, key, nmarks,
		*p == k ? "unique" : "duplicate");
	return 0;
}

static void states_from_explore(void *arg, const struct explore_state *st)
{
	states_line(arg, st->id, st->crash, st->key, st->nmarks);
}

/* Is reference state s in the mode's set? */
static bool states_in_mode(const struct explore_opts *o, const struct ref_state *s)
{
	switch (o->mode) {
	case EXPLORE_PREFIX:
		return s->prefix;
	case EXPLORE_OMIT_ONE:
		return s->cost <= 1;
	case EXPLORE_BOUNDED:
		return s->cost <= o->k;
	default:
		return true;
	}
}

static int states_from_reference(void *arg, const struct ref_state *s)
{
	struct states_out *so = arg;

	return states_in_mode(so->o, s) ? states_line(so, s->id, s->crash, s->key, s->nmarks) : 0;
}

/* The reference enumerator over every crash point (or --crash's). */
static int states_reference(const struct explore_cli *c, struct states_out *so)
{
	struct tear_geom g = {.sector = c->o.sector, .block = c->o.block, .atomic = c->o.atomic};
	struct ops_trace *t;
	struct ref *r = NULL;
	char err[512];
	size_t i;
	int rc;

	memcpy(g.kinds, c->o.kinds, sizeof(g.kinds) - 1);
	if ((rc = ops_load(c->o.trace, c->o.partial ? OPS_LOAD_PARTIAL : 0, &t, err,
			   sizeof(err))) < 0 ||
	    (rc = ref_new(t, &r, err, sizeof(err))) < 0) {
		cli_err("states", "%s: %s", c->o.trace, err);
		ops_free(t);
		return rc == -ENOMEM ? FL_EXIT_ENV : FL_EXIT_USAGE;
	}
	partial_note(stderr, t->partial, t->records_valid, t->partial_reason);
	for (i = 0; !rc && i < t->n; i++)
		if (t->v[i].kind != OPS_NONE && (!c->crash || t->v[i].seq == c->crash))
			rc = ref_states(r, c->o.model, &g, t->v[i].seq, 1000000,
					states_from_reference, so);
	if (rc == -E2BIG)
		cli_err("states", "crash point %" PRIu64 " has more than a million combinations: "
			"the reference enumerator is for small traces", t->v[i - 1].seq);
	else if (rc < 0)
		cli_err("states", "%s", strerror(-rc));
	ref_free(r);
	ops_free(t);
	return rc == -E2BIG ? FL_EXIT_USAGE : rc < 0 ? FL_EXIT_ENV : FL_EXIT_OK;
}

int cmd_states(int argc, char **argv)
{
	struct explore_cli c = {.states = true};
	struct states_out so = {.f = stdout};
	struct report rep = {0};
	char err[512];
	int rc;

	if (explore_parse(argc, argv, &c) < 0)
		return FL_EXIT_USAGE;
	if (c.o.list_states && strcmp(c.o.list_states, "-") &&
	    !(so.f = fopen(c.o.list_states, "we"))) {
		cli_err("states", "cannot write %s: %s", c.o.list_states, strerror(errno));
		return FL_EXIT_ENV;
	}
	so.crash = c.crash;
	so.o = &c.o;
	fprintf(so.f, "# faultline states: id, key (content and marks), marks, status\n");
	if (c.reference) {
		rc = states_reference(&c, &so);
	} else {
		c.o.list_states = NULL;
		c.o.progress = false;
		c.o.on_state = states_from_explore;
		c.o.on_state_arg = &so;
		c.o.stop = cli_catch_signals();
		rc = explore_run(&c.o, &rep, err, sizeof(err));
		if (rc < 0 && *c.o.stop) {
			report_free(&rep);
			cli_exit_if_signalled("states");
		}
		if (rc < 0)
			cli_err("states", "%s: %s", c.o.trace, err);
		else if (rep.note)
			fprintf(stderr, "note: %s\n", rep.note);
		if (rc == 0)
			partial_note(stderr, rep.tstatus.partial, rep.tstatus.records_valid,
				     rep.tstatus.reason);
		rc = rc == -FL_EBADTRACE || rc == -FL_EUSAGE ? FL_EXIT_USAGE
		     : rc < 0 ? FL_EXIT_ENV : FL_EXIT_OK;
		report_free(&rep);
	}
	if (rc == FL_EXIT_OK) /* a refused trace has its one line of reason only */
		fprintf(stderr, "faultline: states: %" PRIu64 " states, %" PRIu64 " unique\n", so.n,
			so.unique);
	if (so.f != stdout && fclose(so.f) != 0 && rc == FL_EXIT_OK)
		rc = FL_EXIT_ENV;
	tdestroy(so.seen, free);
	return rc;
}
