/*
 * check.h (include as "check.h"; <check.h> is the Check framework) - runs the user's recovery checker on crash states, N at a time.
 *
 * The checker is a shell command (run with /bin/sh -c) started with its
 * working directory at the state and with FAULTLINE_STATE_DIR,
 * FAULTLINE_STATE_ID and FAULTLINE_MARKS set (see ../shared/DESIGN.md,
 * "Checker contract").  Each checker runs in its own process group; when
 * its main process exits, times out or dies, the whole group is killed and
 * anything that escaped the group (daemons) is found through the child
 * subreaper and killed too, so no checker outlives its check and none can
 * keep faultline waiting.  Output (stdout and stderr together) is
 * captured up to a bound; the rest is counted, not kept.
 */
#ifndef FL_CHECK_H
#define FL_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct check_result {
	bool passed;        /* exited 0 without timing out */
	int exit_status;    /* exit code, or -1 if it did not exit normally */
	int signal;         /* signal that killed it, 0 if none (timeout kills are not reported here) */
	bool timed_out;     /* killed at the timeout */
	double elapsed_s;   /* wall time from start to reap */
	char *output;       /* captured output, NUL-terminated, malloc'd; owned by the result */
	size_t output_len;  /* bytes in output */
	size_t output_lost; /* bytes produced beyond the bound and dropped */
};

struct check_runner;

/*
 * Makes a runner for cmd that runs at most jobs checkers at once, kills
 * each after timeout_s seconds (0: never), and keeps at most max_output
 * bytes of each one's output.  Makes this process a child subreaper.
 * Returns 0 and *out, or -errno.
 */
int check_runner_new(const char *cmd, unsigned jobs, double timeout_s,
		     size_t max_output, struct check_runner **out);

/*
 * Like check_runner_new(), but cmd is a checker server (--check-server):
 * up to jobs copies of `/bin/sh -c CMD` (each in its own process group,
 * cwd and environment those of faultline) each serve many states, one at
 * a time, over this line protocol:
 *
 *   request, faultline -> server stdin:  STATE_DIR \t STATE_ID \t MARKS \n
 *   reply,   server stdout -> faultline: "ok\n" | "fail\n" | "fail REASON\n"
 *
 * Fields are raw bytes; a path or id holding a tab, newline or carriage
 * return is refused (check_start() returns -EINVAL), nothing is escaped.
 * MARKS is /dev/null when the caller gives no marks file.  The server must
 * answer each request with exactly one line (at most 4095 bytes) before
 * the next one comes; cwd and FAULTLINE_* are the server's to set (the
 * fork-server helper in faultline_checker.h does).  A state's result maps
 * as: "ok" passed (exit_status 0); "fail exit N" exit_status N; "fail
 * signal N" signal N, exit_status -1; "fail" or any other REASON exit_status
 * 1, REASON appended to the output.  The output is what the server wrote
 * to stderr while the state was out (and since the previous reply).
 * The server is killed (SIGKILL to its process group) and a fresh one
 * started for the next state when: the state passes its timeout
 * (timed_out), the server exits or closes stdout before replying
 * (exit_status/signal are the server's own), or it replies anything else
 * (exit_status -1, the reply quoted in the output); each fails that state.
 * A server's processes that leave its process group are not chased.
 */
int check_runner_new_server(const char *cmd, unsigned jobs, double timeout_s,
			    size_t max_output, struct check_runner **out);

/*
 * Starts the checker on the state in dir (id names it; marks_file is the
 * path given as FAULTLINE_MARKS).  token is the caller's, handed back by
 * check_wait().  If jobs checkers are already running, does not block:
 * returns -EBUSY (call check_wait() first).  Returns 0 or -errno.
 */
int check_start(struct check_runner *r, const char *dir, const char *id,
		const char *marks_file, void *token);

/* Number of checkers running now. */
unsigned check_running(const struct check_runner *r);

/*
 * Waits until a running checker finishes (its main process is reaped, its
 * group killed, its output drained without waiting for escaped holders of
 * the pipe), then fills *token and *res.  Returns 1, 0 if none is running,
 * or -errno.  The caller frees res with check_result_free().
 */
int check_wait(struct check_runner *r, void **token, struct check_result *res);

void check_result_free(struct check_result *res);

/* Kills and reaps every running checker, frees r. */
void check_runner_free(struct check_runner *r);

#endif
