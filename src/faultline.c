/*
 * faultline.c - the faultline command: dispatch to a subcommand.
 *
 * Subcommands live in their own files (record.c, show.c, ...) and share
 * the exit codes of cli.h.  This file only picks one and prints usage.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;                /* subcommand word */
	int (*run)(int argc, char **argv); /* its entry point */
	const char *synopsis;            /* one line for `faultline --help` */
} commands[] = {
	{"record", cmd_record,
	 "record  [-o TRACE] [--setup CMD] [--from DIR] [--real-fsync] -- CMD [ARG...]"},
	{"show", cmd_show, "show    TRACE [--json] [--data]"},
	{"explore", cmd_explore,
	 "explore TRACE --check CMD [--model M] [--mode MODE] [--sector N] [--tear KINDS]\n"
	 "                  [--atomic N] [--block N] [--seed S] [-j N] [--shard K/N] [--timeout SEC]\n"
	 "                  [--budget SEC] [--json FILE] [--junit FILE] [--keep-failures DIR]\n"
	 "                  [--partial]"},
	{"replay", cmd_replay, "replay  TRACE STATE_ID [--into DIR] [--check CMD] [--partial]"},
	{"merge", cmd_merge, "merge   RESULT.json... [--json FILE] [--junit FILE]"},
	{"run", cmd_run, "run     SCENARIO [explore options override the scenario's]"},
	{"states", cmd_states,
	 "states  TRACE [--reference] [--crash SEQ] [--model M] [--mode MODE] [tear options] [-o FILE]\n"
	 "                  [--partial]"},
	{"explain", cmd_explain,
	 "explain TRACE [--model M] [--page N] [--block N] [--json FILE] [--html FILE] [--partial]"},
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

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  faultline %s\n", commands[i].synopsis);
	fprintf(f, "--partial: use the valid prefix of a trace whose recording did not finish\n"
		   "  (without it, exit 2; a damaged complete trace is refused either way)\n");
	fprintf(f, "exit codes: 0 ok, 1 failure found, 2 usage or bad input, "
		   "3 environment error\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return FL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
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
