/*
 * scenario.h - scenario files: what to record, how to check, what to expect.
 *
 *   [scenario]
 *   description = toy WAL: append + fsync per commit, CRC per record
 *   setup    = ./engines/walkv init
 *   workload = ./engines/walkv run 20
 *   check    = ./engines/walkv check
 *   model    = posix
 *   mode     = omit-one
 *   expect   = pass        ; or fail
 *   causes   = acknowledged-commit-lost, torn-write   ; with fail: the cause kinds
 *
 * Optional: calls = yes (record with --calls: the workload's calls are
 * watched, so sync() and syncfs() are barriers and ops name their calls).
 * Optional explore keys: sector, tear, block, atomic, window, seed, jobs,
 * timeout, budget.  Parsed with inih; every problem is reported as
 * "FILE:LINE: reason".  Words of a command that start with ./ or ../ are
 * made absolute against the scenario file's directory.
 */
#ifndef FL_SCENARIO_H
#define FL_SCENARIO_H

#include <stddef.h>

/* Explore options a scenario may set, in the order they are passed on. */
#define SCENARIO_OPTS "sector", "tear", "block", "atomic", "window", "seed", "jobs", \
		      "timeout", "budget"
#define SCENARIO_NOPTS 9

struct scenario {
	char *path;          /* the file, as given */
	char *name;          /* its base name without .ini */
	char *dir;           /* its directory, absolute */
	char *description;   /* or NULL */
	char *setup;         /* resolved command, or NULL */
	char *workload;      /* resolved command */
	char *check;         /* resolved command */
	int check_server;    /* check came as check-server: a warm checker */
	char *model;         /* default "posix" */
	char *mode;          /* default "omit-one" */
	int expect_fail;     /* expect = fail */
	int calls;           /* calls = yes: record with --calls */
	char *causes;        /* expected cause kinds, sorted, comma-separated; NULL if unset */
	char *opt[SCENARIO_NOPTS]; /* explore option values, NULL when unset */
};

/* Names of the optional explore keys, indexed like scenario.opt. */
extern const char *const scenario_opt_names[SCENARIO_NOPTS];

/*
 * Loads and validates path.  Returns 0, or -EINVAL / -errno with
 * "FILE:LINE: reason" (or "FILE: reason") in err.
 */
int scenario_load(const char *path, struct scenario *s, char *err, size_t errlen);

void scenario_free(struct scenario *s);

/*
 * The cause kinds v[0..n) sorted (v is sorted in place), each once, joined
 * by ", ": the form of scenario.causes.  Returns a malloc'ed string, NULL
 * without memory.
 */
char *scenario_kinds_join(const char **v, size_t n);

#endif
