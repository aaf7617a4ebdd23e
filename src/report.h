/*
 * report.h - results of an exploration: summary, JSON, JUnit, merge.
 *
 * The JSON form is the contract of ../shared/DESIGN.md ("--json schema"):
 * fields are added, never renamed.  A report can be read back
 * (report_read_json) so shards can be merged into the report an
 * unsharded run would have written.
 */
#ifndef FL_REPORT_H
#define FL_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct report_failure {
	char *id;            /* state id (replayable) */
	uint64_t crash_after;/* seq of the record in progress at the crash (JSON name kept) */
	char *explanation;   /* one paragraph, plain words */
	int exit_status;     /* checker exit code, -1 if it did not exit */
	int signal;          /* signal that killed the checker, 0 if none */
	bool timed_out;      /* killed at --timeout */
	char *output;        /* checker output (bounded) */
	uint64_t content_key;/* dedup key of the state's content (merge uses it) */
	char *cause;         /* id of the minimal state that still fails, or NULL */
	char *cause_words;   /* the cause in words, or NULL */
	char *cause_kind;    /* the defect, e.g. "torn-write" (see DESIGN), or NULL */
	char *cause_sig;     /* what the cause's minimal state lost or tore, or NULL */
	int cause_severity;  /* REPORT_SEV_*, 0 when there is no cause */
};

/* What cut the cause search short (report.causes_search.cut). */
#define REPORT_CUT_NONE 0   /* every failure was minimized or matched */
#define REPORT_CUT_RUNS 1   /* its cap on checker runs */
#define REPORT_CUT_BUDGET 2 /* --budget */

/* Severities of a cause, most severe first. */
#define REPORT_SEV_ACKED 1       /* the state is consistent, acknowledged data is missing */
#define REPORT_SEV_CORRUPT 2     /* the checker rejects the state even with no marks */
#define REPORT_SEV_UNCONFIRMED 3 /* not told apart (no checker run to spare) */

/* "acknowledged data lost", "corrupt or unopenable", "unconfirmed"; NULL for 0. */
const char *report_severity_name(int severity);
/* The severity a name stands for, 0 if none. */
int report_severity_of(const char *name);

/*
 * The trace an exploration read, as ops_load found it: JSON
 * "trace_status" {"partial", "records_valid", "reason"} (null when not
 * known).  A partial trace is the valid prefix of a recording that did
 * not finish, explored because --partial asked for it.
 */
struct report_trace_status {
	bool known;   /* false: read from a report written before the field */
	bool partial; /* only the valid prefix was explored (--partial) */
	uint64_t records_valid; /* records read, BASE records included */
	char *reason; /* why the trace is partial; NULL when it is not */
};

struct report {
	char *trace;         /* trace path as given */
	struct report_trace_status tstatus; /* what was read of it */
	char *model;         /* persistence model name */
	char *mode;          /* exploration mode as given, e.g. "bounded:2" */
	char *mechanism;     /* how states were materialized, e.g. "reflink (xfs)" */
	char *note;          /* e.g. "exhaustive: window 14 > 10, fell back to bounded:2", or NULL */
	unsigned shard_k;    /* this shard, 1-based; 0 when not sharded */
	unsigned shard_n;    /* number of shards; 0 when not sharded */
	uint64_t generated;  /* states generated */
	uint64_t unique;     /* distinct by content (and marks) */
	uint64_t checked;    /* checker runs (this shard's share of unique) */
	uint64_t passed;
	uint64_t failed;
	uint64_t skipped;    /* unique states not checked (budget ran out) */
	double coverage;     /* checked / this shard's share of unique, 0..1 */
	double elapsed_s;
	struct report_cause_search {
		bool ran;        /* the cause search ran (some state failed) */
		uint64_t runs;   /* checker runs it made */
		uint64_t answered; /* candidates answered by an earlier check of the same state */
		double seconds;  /* wall time it took */
		int cut;         /* REPORT_CUT_*: what stopped it before every failure was minimized */
	} causes_search;     /* JSON "cause_search", null when it did not run */
	struct report_failure *failures; /* failed of them, ordered by crash_after then id */
	size_t nfailures;
	size_t cap;          /* allocated entries of failures */
};

/* Adds a failure (copies the strings).  Returns 0 or -ENOMEM. */
int report_add_failure(struct report *r, const struct report_failure *f);

/*
 * Causes: failures grouped by their cause id (failures without one are
 * their own cause).  Every output lists causes first: by severity, then
 * earliest crash point, then most states.
 */
struct report_cause {
	const char *id;      /* the minimal state's id */
	const char *words;   /* what went wrong, in words */
	const char *kind;    /* the defect, or NULL */
	const char *sig;     /* its signature, or NULL */
	int severity;        /* REPORT_SEV_*, 0 unknown */
	uint64_t crash;      /* earliest crash point of its states */
	size_t *members;     /* indices into failures; owned */
	size_t n;            /* entries in members */
};

/* How the checker failed: "checker exit 1", "checker killed by SIGKILL"... */
void report_checker_verdict(const struct report_failure *fl, char *buf, size_t len);

/* Groups r's failures; *out is an array of *n causes (free with report_causes_free). */
int report_causes(const struct report *r, struct report_cause **out, size_t *n);
void report_causes_free(struct report_cause *c, size_t n);

/* Sorts failures by (crash_after, id), the order every output uses. */
void report_sort(struct report *r);
/* Sorts failures[from..] alone (those before stay where they are). */
void report_sort_from(struct report *r, size_t from);

/* Frees everything r points to (not r itself). */
void report_free(struct report *r);

/*
 * The syscalls report_write_json/junit go through, so unit tests can make
 * them fail (ENOSPC, EIO) without mocks (STYLE.md rule 10).  Defaults are
 * the libc functions; a test that swaps one restores it before returning.
 */
struct report_syscalls {
	ssize_t (*write)(int fd, const void *buf, size_t n);
	int (*fsync)(int fd);
	int (*rename)(const char *from, const char *to);
};
extern struct report_syscalls report_sys;

/*
 * Writes the JSON report to path ("-" for stdout).  A file is replaced
 * durably (temp in the same directory, fsync, rename, fsync directory):
 * after a crash path holds the old report or the new one, never a torn
 * one.  A symlink's target is replaced, not the link; an existing
 * non-regular path (a FIFO, /dev/stdout) is written in place.  0 or -errno.
 */
int report_write_json(const struct report *r, const char *path);

/*
 * Writes JUnit XML (one testcase per failing state, one for the passing
 * rest; a partial trace adds a skipped testcase for the records it never
 * read).  0 or -errno.
 */
int report_write_junit(const struct report *r, const char *path);

/* Prints the human summary: counts, coverage, each failure's id and explanation. */
void report_print_summary(const struct report *r, FILE *f);

/*
 * Reads a JSON report written by report_write_json into *r (which it
 * initializes; free it with report_free).  Fields added after the design's
 * schema (mechanism, note, shard, content_key, trace_status) may be absent;
 * unknown fields are ignored.  Returns 0, or -errno (cannot read) / -EBADMSG
 * (not a valid report) with a one-line reason in err that does not repeat path;
 * *r is then empty.
 */
int report_read_json(const char *path, struct report *r, char *err, size_t errlen);

/*
 * Progress line on a TTY stderr: done/total, failures, rate, ETA, redrawn
 * at most 10 times a second.  report_progress_new returns NULL when tty is
 * not a terminal; every report_progress_* accepts NULL and does nothing.
 * One thread calls them.  The _at forms take the CLOCK_MONOTONIC time in ns
 * (a positive value) from the caller instead of reading the clock, so the rate,
 * the ETA and the redraw throttle follow the caller's clock.
 */
struct report_progress;
struct report_progress *report_progress_new(FILE *tty);
struct report_progress *report_progress_new_at(FILE *tty, int64_t start_ns);
void report_progress_update(struct report_progress *p, uint64_t done, uint64_t total, uint64_t failed);
void report_progress_update_at(struct report_progress *p, uint64_t done, uint64_t total, uint64_t failed,
			       int64_t now_ns);
void report_progress_end(struct report_progress *p);

#endif
