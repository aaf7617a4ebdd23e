/*
 * explore.h - enumerating crash states and checking each one.
 *
 * The explorer sweeps the trace's crash points in order.  At each, the
 * model says which ops are in flight; the mode says which combinations of
 * dropped and torn in-flight ops to build (see ../shared/DESIGN.md,
 * "Exploration modes", and explore_choose.c); the materializer builds
 * each state; states with the same content and the same acknowledged
 * marks are checked once; the checker runs on the rest, -j at a time.
 * Without a checker, states are only built, keyed and listed.
 */
#ifndef FL_EXPLORE_H
#define FL_EXPLORE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mat.h"
#include "model.h"
#include "report.h"

enum explore_mode {
	EXPLORE_PREFIX,
	EXPLORE_OMIT_ONE,
	EXPLORE_BOUNDED,    /* k: ops per state dropped or torn, at most */
	EXPLORE_RANDOM,     /* k: number of states */
	EXPLORE_EXHAUSTIVE, /* window: in-flight ops at most, else bounded:2 */
};

/* One generated state, as the on_state hook sees it (valid during the call). */
struct explore_state {
	const char *id;      /* state id */
	uint64_t crash;      /* crash point (seq) */
	uint64_t content;    /* content key (fskey.h) */
	uint64_t key;        /* dedup key: content and marks */
	uint64_t nmarks;     /* marks acknowledged at the crash point */
	const char *dir;     /* the built state (removed after the call unless checked);
				NULL for a duplicate known by its in-memory key */
	const char *status;  /* "checked", "unique" (no checker), "duplicate" or "shard" */
};

/* The order crash points are visited in. */
enum explore_order {
	EXPLORE_ORDER_AUTO,   /* spread with --max-causes (not random:N), else sweep */
	EXPLORE_ORDER_SWEEP,  /* first to last */
	EXPLORE_ORDER_SPREAD, /* 16, then 256 points spread over the trace, then the rest */
};

struct verdicts;

struct explore_opts {
	const char *trace;          /* trace directory */
	bool partial;               /* --partial: an unfinished recording's prefix */
	const char *check;          /* checker command (sh -c), NULL to only build and list */
	bool check_server;          /* check is a --check-server CMD (check.h) */
	const struct model *model;  /* persistence model */
	enum explore_mode mode;
	unsigned k;                 /* BOUNDED: K; RANDOM: N */
	unsigned window;            /* EXHAUSTIVE: largest in-flight set enumerated */
	char mode_text[32];         /* as given, for reports */
	uint32_t sector;            /* --sector, bytes */
	uint32_t block;             /* --block, bytes, 0 for none */
	uint32_t atomic;            /* --atomic, bytes, 0 for none */
	char kinds[5];              /* damaged sector kinds allowed, subset of "ozg" */
	uint64_t seed;              /* --seed */
	unsigned jobs;              /* -j */
	unsigned shard_k, shard_n;  /* --shard K/N, 0/0 when not sharded */
	double timeout;             /* --timeout, seconds */
	double budget;              /* --budget, seconds, 0 for none */
	unsigned max_causes;        /* --max-causes N: stop once N causes are found, 0 for none */
	enum explore_order order;   /* --order */
	unsigned spread[2];         /* --order spread: points of its first pass and of its first
				       two (0: 16 and 256; tests set fewer) */
	const char *keep_failures;  /* --keep-failures DIR or NULL */
	const char *workdir;        /* --workdir or NULL for a temporary one */
	enum mat_scratch scratch;   /* --scratch auto|dir|xfs|mem */
	uint64_t mem_budget;        /* --scratch-budget, bytes: size of a tmpfs scratch */
	bool progress;              /* progress line on a TTY */
	const char *list_states;    /* --list-states FILE ("-" for stdout) or NULL */
	void (*on_state)(void *arg, const struct explore_state *st); /* hook, or NULL */
	void *on_state_arg;
	struct verdicts *verdicts;  /* verdicts.h: checked states shared with other runs, or NULL */
	const volatile sig_atomic_t *stop; /* non-zero (a signal handler set it): stop now, end the
				       checkers and clean up; explore_run returns -EINTR */
	bool build_every;           /* build even the states whose in-memory key is a duplicate,
				       and fail if the built state's key differs (tests) */
};

/* Parses "prefix", "omit-one", "bounded:K", "random:N", "exhaustive" into o.  0 or -EINVAL. */
int explore_parse_mode(const char *text, struct explore_opts *o);

/* Parses "old,new,zero,garbage" (any subset) into o->kinds.  0 or -EINVAL. */
int explore_parse_tear(const char *text, struct explore_opts *o);

/*
 * The words explore_parse_mode and explore_parse_tear know, one per i from
 * 0 (shell completion lists them): the ith, or NULL past the last.  A mode
 * word ending in ':' ("bounded:") takes a number; *mode (if not NULL) gets
 * the ith word's mode.
 */
const char *explore_mode_word(size_t i, enum explore_mode *mode);
const char *explore_tear_word(size_t i);

/*
 * Runs the exploration and fills rep.  Returns 0 when it ran (rep says
 * what failed), -FL_EUSAGE / -FL_EBADTRACE for bad input, or another
 * negative code for environment errors; err gets a one-line reason.
 */
int explore_run(const struct explore_opts *o, struct report *rep, char *err,
		size_t errlen);

/*
 * The kinds of cause the explorer names (report "causes"[].kind):
 * acknowledged-commit-lost, unsynced-write-breaks-recovery, torn-write,
 * size-without-bytes, name-not-durable, attribute-not-durable,
 * fails-with-nothing-lost, mapped-page-written-early.  explore_cause_kinds()
 * lists them, comma-separated.
 */
bool explore_cause_kind_known(const char *kind);
const char *explore_cause_kinds(void);

#endif
