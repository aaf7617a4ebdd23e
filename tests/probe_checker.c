/*
 * probe_checker.c - a checker server built on faultline_checker.h whose
 * check misbehaves on purpose, so tests/check_server.sh can show that the
 * fork server and the in-process server give the same verdicts for the
 * same states, whatever the check does.
 *
 * Usage: probe_checker fork|in-process
 *
 * The check reads the file x in the state (cwd) and, before deciding,
 * prints "probe STATE_ID cwd-ok|cwd-wrong" on stdout (which must become
 * the state's output, never a protocol line).  Then, by x's content:
 *   absent     returns 0 (pass)
 *   empty      returns 3
 *   "a"        aborts (SIGABRT)
 *   "ab"       calls exit(4)
 *   other      returns 256 + 5 (exit's low 8 bits: 5)
 * It also checks what the server must have set: FAULTLINE_STATE_ID equals
 * the id argument, FAULTLINE_MARKS the marks argument, and the cwd is the
 * state dir; any mismatch returns 9.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline_checker.h"

static int probe(const char *dir, const char *id, const char *marks)
{
	const char *eid = getenv("FAULTLINE_STATE_ID");
	const char *emarks = getenv("FAULTLINE_MARKS");
	char cwd[PATH_MAX], rdir[PATH_MAX], buf[8];
	FILE *f;
	size_t n;
	bool here = getcwd(cwd, sizeof(cwd)) && realpath(dir, rdir) &&
		    !strcmp(cwd, rdir);

	printf("probe %s %s\n", id, here ? "cwd-ok" : "cwd-wrong");
	if (!here || !eid || strcmp(eid, id) || !emarks || strcmp(emarks, marks))
		return 9;
	f = fopen("x", "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == 0)
		return 3;
	if (n == 1 && buf[0] == 'a')
		abort();
	if (n == 2 && !memcmp(buf, "ab", 2))
		exit(4);
	return 256 + 5;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "fork"))
		return faultline_serve(probe);
	if (argc == 2 && !strcmp(argv[1], "in-process"))
		return faultline_serve_in_process(probe);
	fputs("usage: probe_checker fork|in-process\n", stderr);
	return 2;
}
