/*
 * run_cmd.c - `faultline run SCENARIO [explore options]`: record + explore
 * in a private work directory, and a verdict against the scenario's expect.
 *
 * The recording and the exploration run as `faultline record` and
 * `faultline explore` child processes of this very binary, so each keeps
 * its own signal handling and cleanup, and the contract is the one users
 * see.  Explore options given after SCENARIO override the file's.
 *
 * Exit: 0 the verdict matches expect (and, when the scenario names them,
 * its cause kinds are exactly the scenario's causes); 1 it does not; 2 bad scenario or
 * options, or the setup or workload failed; 3 environment.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "mat.h"
#include "report.h"
#include "scenario.h"

/* Runs this binary with argv (argv[0] is the subcommand); returns its exit code. */
static int run_self(char **argv)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *full[64] = {"faultline"};
		int i;

		for (i = 0; argv[i] && i < 62; i++)
			full[i + 1] = argv[i];
		execv("/proc/self/exe", full);
		_exit(FL_EXIT_ENV);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : FL_EXIT_ENV;
}

int run_record_scenario(const struct scenario *s, const char *trace, const char *who)
{
	char *argv[12];
	int n = 0, rc;

	argv[n++] = "record";
	argv[n++] = "-o";
	argv[n++] = (char *)trace;
	if (s->setup) {
		argv[n++] = "--setup";
		argv[n++] = s->setup;
	}
	if (s->calls)
		argv[n++] = "--calls";
	argv[n++] = "--";
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = s->workload;
	argv[n] = NULL;
	rc = run_self(argv);
	if (rc == FL_EXIT_FAIL)
		cli_err(who, "%s: the workload failed; a scenario's workload must succeed", s->path);
	return rc == FL_EXIT_FAIL ? FL_EXIT_USAGE : rc;
}

/* Explore with the file's options, then the command line's; returns its exit code. */
static int run_explore(const struct scenario *s, const char *trace, const char *json,
		       int extra_argc, char **extra)
{
	char *argv[64], optbuf[SCENARIO_NOPTS][32];
	int n = 0, i;

	argv[n++] = "explore";
	argv[n++] = (char *)trace;
	argv[n++] = s->check_server ? "--check-server" : "--check";
	argv[n++] = s->check;
	argv[n++] = "--model";
	argv[n++] = s->model;
	argv[n++] = "--mode";
	argv[n++] = s->mode;
	for (i = 0; i < SCENARIO_NOPTS; i++)
		if (s->opt[i]) {
			snprintf(optbuf[i], sizeof(optbuf[i]), "--%s", scenario_opt_names[i]);
			argv[n++] = optbuf[i];
			argv[n++] = s->opt[i];
		}
	argv[n++] = "--json";
	argv[n++] = (char *)json;
	for (i = 0; i < extra_argc && n < 62; i++) {
		if (!strcmp(extra[i], "--json") && i + 1 < extra_argc) {
			i++; /* the user's copy is made from ours (run_copy_json) */
			continue;
		}
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	return run_self(argv);
}

/*
 * The kinds of the report's causes, sorted, each once, ", "-joined (as
 * scenario.causes is); "" when none.  Returns a malloc'ed string or NULL.
 */
static char *run_cause_kinds(json_object *r)
{
	json_object *cs = NULL, *k;
	const char **v;
	size_t n = 0, i;
	char *out;

	if (r && (!json_object_object_get_ex(r, "causes", &cs) ||
		  !json_object_is_type(cs, json_type_array)))
		cs = NULL;
	if (!(v = malloc((cs ? json_object_array_length(cs) : 0) * sizeof(*v) + 1)))
		return NULL;
	if (cs)
		for (i = 0; i < json_object_array_length(cs); i++)
			if (json_object_object_get_ex(json_object_array_get_idx(cs, i), "kind",
						      &k) &&
			    json_object_get_string(k))
				v[n++] = json_object_get_string(k);
	out = scenario_kinds_join(v, n);
	free(v);
	return out;
}

/*
 * Prints the verdict line and the first failure's explanation.  Returns
 * whether the verdict matches the scenario: expect, and its causes when
 * it names them.
 */
static bool run_verdict(const struct scenario *s, const char *json, int failed)
{
	json_object *r = json_object_from_file(json), *f, *e, *o;
	const char *expl = "", *out = "";
	char *kinds = run_cause_kinds(r);
	bool same = failed == s->expect_fail;
	bool causes_ok = !s->causes || !failed || (kinds && !strcmp(kinds, s->causes));

	if (r && json_object_object_get_ex(r, "failures", &f) &&
	    json_object_array_length(f) > 0) {
		json_object *first = json_object_array_get_idx(f, 0);

		if (json_object_object_get_ex(first, "explanation", &e))
			expl = json_object_get_string(e);
		if (json_object_object_get_ex(first, "output", &o))
			out = json_object_get_string(o);
	}
	printf("scenario %s: %s (expected %s)%s\n", s->name, failed ? "FAIL" : "PASS",
	       s->expect_fail ? "fail" : "pass", same ? "" : " -- VERDICT DIFFERS");
	if (failed)
		printf("  causes: %s\n", kinds && kinds[0] ? kinds : "(none)");
	if (same && !causes_ok)
		printf("  CAUSES DIFFER: expected %s\n", s->causes);
	if (failed)
		printf("  first failure: %s\n  checker said: %.*s\n", expl,
		       (int)strcspn(out, "\n"), out);
	free(kinds);
	json_object_put(r);
	return same && causes_ok;
}

/* --json FILE among the extra options: a copy of the report goes there. */
static int run_copy_json(const char *json, int argc, char **argv)
{
	struct report r;
	char err[256];
	int i, rc = 0;

	for (i = 0; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--json"))
			continue;
		if ((rc = report_read_json(json, &r, err, sizeof(err))) == 0) {
			rc = report_write_json(&r, argv[i + 1]);
			report_free(&r);
		}
		if (rc < 0)
			cli_err("run", "cannot write %s: %s", argv[i + 1], strerror(-rc));
	}
	return rc;
}

int cmd_run(int argc, char **argv)
{
	struct scenario s;
	char err[PATH_MAX + 256], work[PATH_MAX], trace[PATH_MAX + 16], json[PATH_MAX + 16];
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cli_help("run", stdout);
		return FL_EXIT_OK;
	}
	if (argc < 2 || argv[1][0] == '-') {
		cli_err("run", "need a SCENARIO file first (see faultline run --help)");
		return FL_EXIT_USAGE;
	}
	if (scenario_load(argv[1], &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "faultline: run: %s\n", err);
		scenario_free(&s);
		return FL_EXIT_USAGE;
	}
	snprintf(work, sizeof(work), "%s/faultline-run.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(work)) {
		cli_err("run", "cannot make a work directory: %s", strerror(errno));
		scenario_free(&s);
		return FL_EXIT_ENV;
	}
	snprintf(trace, sizeof(trace), "%s/trace", work);
	snprintf(json, sizeof(json), "%s/result.json", work);
	if (s.description)
		printf("scenario %s: %s\n", s.name, s.description);
	fflush(stdout);
	rc = run_record_scenario(&s, trace, "run");
	if (rc == FL_EXIT_OK) {
		rc = run_explore(&s, trace, json, argc - 2, argv + 2);
		if (rc == FL_EXIT_OK || rc == FL_EXIT_FAIL) {
			bool ok = run_verdict(&s, json, rc == FL_EXIT_FAIL);

			rc = ok ? FL_EXIT_OK : FL_EXIT_FAIL;
			if (run_copy_json(json, argc - 2, argv + 2) < 0)
				rc = FL_EXIT_ENV;
		}
	}
	mat_remove(work);
	scenario_free(&s);
	return rc < 0 ? FL_EXIT_ENV : rc;
}
