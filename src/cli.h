/*
 * cli.h - the faultline subcommands and the exit codes they share.
 *
 * Each cmd_* takes the arguments after the subcommand name (argv[0] is
 * the subcommand) and returns the process exit code.
 */
#ifndef FL_CLI_H
#define FL_CLI_H

enum fl_exit {
	FL_EXIT_OK = 0,    /* all states pass / command succeeded */
	FL_EXIT_FAIL = 1,  /* a state failed / the workload failed */
	FL_EXIT_USAGE = 2, /* usage or bad input (malformed trace or scenario) */
	FL_EXIT_ENV = 3,   /* environment or internal error (no /dev/fuse, ...) */
};

int cmd_record(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_explore(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_states(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_crash(int argc, char **argv);

struct scenario;
/* Records scenario s's setup and workload as TRACE (faultline record in a
 * child).  0, or the exit code to return (a failing workload is a bad
 * scenario: FL_EXIT_USAGE, said as command who). */
int run_record_scenario(const struct scenario *s, const char *trace, const char *who);

/* Prints "faultline: <cmd>: <message>\n" to stderr. */
void cli_err(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#include <signal.h>
#include <stdio.h>

/*
 * For commands that run checkers and mount scratch (explore, states,
 * audit): SIGINT, SIGTERM and SIGHUP set the flag returned (give it to
 * explore_opts.stop), so the command can end its checkers and remove its
 * work directory and mounts.  Afterwards cli_exit_if_signalled() says so
 * and dies of the same signal.
 */
const volatile sig_atomic_t *cli_catch_signals(void);
void cli_exit_if_signalled(const char *cmd);

#include <stdbool.h>
#include <stddef.h>

/* Parses a number in [lo, hi] into *out; false on junk or out of range. */
bool cli_num_arg(const char *s, double lo, double hi, double *out);
/* A checker runs in each state's directory: a ./prog given by the user
 * means the one in the directory faultline was started in (cmdword.h).
 * Returns cmd, or buf (cap bytes) holding it resolved. */
const char *cli_resolve_check(const char *cmd, char *buf, size_t cap);

/* Prints command cmd's full --help (help_faultline.c). */
void cli_help(const char *cmd, FILE *f);
/* Prints command cmd's usage lines. */
void cli_usage(const char *cmd, FILE *f);

#endif
