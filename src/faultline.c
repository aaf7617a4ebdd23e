/*
 * faultline.c - the faultline command: dispatch to a subcommand.
 *
 * Subcommands live in their own files (record.c, show.c, ...) and share
 * the exit codes of cli.h.  This file only picks one; what each says for
 * --help, faultline(1) and the bash completion come from help_faultline.c.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmdword.h"
#include "help_faultline.h"

static const struct {
	const char *name;                  /* subcommand word */
	int (*run)(int argc, char **argv); /* its entry point */
} commands[] = {
	{"record", cmd_record}, {"show", cmd_show},   {"explore", cmd_explore},
	{"replay", cmd_replay}, {"merge", cmd_merge}, {"run", cmd_run},
	{"states", cmd_states}, {"explain", cmd_explain}, {"audit", cmd_audit},
	{"mount", cmd_mount}, {"crash", cmd_crash},
};

void cli_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "faultline: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The usage lines of every subcommand (help_faultline.c says them all). */
static void usage(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		help_print_usage(f, &help_faultline, commands[i].name);
	fprintf(f, "faultline --help: every command, option, exit code and variable; "
		   "faultline CMD --help: one command\n");
}

static volatile sig_atomic_t cli_signal; /* the stopping signal caught, 0 for none */

static void cli_on_signal(int sig)
{
	cli_signal = sig;
}

const volatile sig_atomic_t *cli_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = cli_on_signal}; /* no SA_RESTART: waits end */

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	return &cli_signal;
}

void cli_exit_if_signalled(const char *cmd)
{
	int sig = cli_signal;

	if (!sig)
		return;
	cli_err(cmd, "stopped by signal %d; checkers ended, work directory removed", sig);
	signal(sig, SIG_DFL);
	raise(sig);
	exit(128 + sig);
}

bool cli_num_arg(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

const char *cli_resolve_check(const char *cmd, char *buf, size_t cap)
{
	char cwd[PATH_MAX];

	if (getcwd(cwd, sizeof(cwd)) && cmdword_resolve_first(cmd, cwd, buf, cap) > 0)
		return buf;
	return cmd;
}

void cli_help(const char *cmd, FILE *f)
{
	help_print_cmd(f, &help_faultline, cmd);
}

void cli_usage(const char *cmd, FILE *f)
{
	help_print_usage(f, &help_faultline, cmd);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return FL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help_print_page(stdout, &help_faultline);
		return FL_EXIT_OK;
	}
	if (!strcmp(argv[1], "--man")) { /* faultline(1), built by make */
		help_print_man(stdout, &help_faultline, PACKAGE_VERSION);
		return FL_EXIT_OK;
	}
	if (!strcmp(argv[1], "--bash-completion")) { /* doc/bash-completion/, built by make */
		if (help_print_bash(stdout, &help_faultline) < 0) {
			fprintf(stderr, "faultline: --bash-completion: out of memory\n");
			return FL_EXIT_ENV;
		}
		return FL_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("faultline %s\n", PACKAGE_VERSION);
		return FL_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "faultline: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return FL_EXIT_USAGE;
}
