/*
 * faultline_checker.h - a fork server for recovery checkers written in C,
 * for `faultline explore TRACE --check-server CMD`.  Header only: include
 * it in one .c file of the checker; it needs nothing but libc (POSIX).
 *
 *   static int check(const char *dir, const char *id, const char *marks)
 *   {
 *           ... open the state (cwd is dir), recover, verify ...
 *           return 0;      // invariants hold; non-zero: violated
 *   }
 *   int main(void) { return faultline_serve(check); }
 *
 * faultline_serve() reads the protocol's requests from stdin, one line
 * each: STATE_DIR, STATE_ID and MARKS (the marks file) separated by tabs.
 * For each it forks; the child chdirs into STATE_DIR, sets
 * FAULTLINE_STATE_DIR, FAULTLINE_STATE_ID and FAULTLINE_MARKS as
 * `--check` would, points its stdout at stderr (so whatever the check
 * prints becomes the state's output, not a protocol line), calls check()
 * and exits with its return value.  So everything the check does to its
 * process (memory, descriptors, globals, the cwd) ends with the child, and
 * what was set up before faultline_serve() (libraries loaded, tables
 * built) is paid once.  The server then replies on stdout:
 *
 *   ok            the child exited 0
 *   fail exit N   the child exited N != 0
 *   fail signal N the child died of signal N
 *
 * which faultline reports exactly as it would the same exit of a
 * `--check` checker.  A malformed request is answered "fail bad request".
 * Returns 0 at the end of stdin, 2 if it cannot fork or wait (faultline
 * then sees the server die and restarts it).
 */
#ifndef FAULTLINE_CHECKER_H
#define FAULTLINE_CHECKER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef int (*faultline_check_fn)(const char *dir, const char *id,
				  const char *marks);

/* Writes all of s to fd 1.  0 or -1. */
static inline int faultline_reply_(const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len) {
		n = write(1, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The child: into the state, then the check.  Never returns. */
static inline void faultline_child_(faultline_check_fn check, char *dir,
				    char *id, char *marks)
{
	if (dup2(2, 1) < 0 || chdir(dir) < 0 ||
	    setenv("FAULTLINE_STATE_DIR", dir, 1) < 0 ||
	    setenv("FAULTLINE_STATE_ID", id, 1) < 0 ||
	    setenv("FAULTLINE_MARKS", marks, 1) < 0) {
		perror("faultline_serve: entering the state");
		_exit(2);
	}
	exit(check(dir, id, marks)); /* exit(): the check's stdio is flushed */
}

/* Checks one request line (tabs split, newline stripped); 0 or -1. */
static inline int faultline_one_(faultline_check_fn check, char *line)
{
	char *dir = line, *id, *marks, reply[64];
	pid_t pid;
	int st;

	id = strchr(dir, '\t');
	marks = id ? strchr(id + 1, '\t') : NULL;
	if (!marks || strchr(marks + 1, '\t'))
		return faultline_reply_("fail bad request\n");
	*id++ = '\0';
	*marks++ = '\0';
	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		faultline_child_(check, dir, id, marks);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		snprintf(reply, sizeof(reply), "ok\n");
	else if (WIFEXITED(st))
		snprintf(reply, sizeof(reply), "fail exit %d\n",
			 WEXITSTATUS(st));
	else
		snprintf(reply, sizeof(reply), "fail signal %d\n",
			 WTERMSIG(st));
	return faultline_reply_(reply);
}

/* Serves requests from stdin until its end.  Returns 0, or 2 on a
 * failure to fork, wait or reply. */
static inline int faultline_serve(faultline_check_fn check)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (faultline_one_(check, line) < 0) {
			perror("faultline_serve");
			rc = 2;
			break;
		}
	}
	free(line);
	return rc;
}

#endif
