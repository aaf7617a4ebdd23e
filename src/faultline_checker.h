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
 * prints becomes the state's output, not a protocol line; stdout is
 * line-buffered, so a line printed before a crash is kept), calls check()
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
 *
 * faultline_serve_in_process() is the same server without the fork: check()
 * runs in the server itself, so a state costs the check alone (a fork
 * copies the server's page tables, which on some machines costs more than
 * the check).  Before serving it moves the protocol to a private copy of
 * stdout and points fd 1 at stderr, as the child's is; per request it
 * chdirs into STATE_DIR and sets the three variables, and after check()
 * it flushes stdio and chdirs to "/".  Use it only for a check that
 * leaves the process as it found it: what it allocates, opens or changes
 * in globals it must release or reset before returning, because the next
 * state's check runs in the same process.  A check that exits, aborts or
 * crashes ends the server: faultline fails that state with the same exit
 * status or signal that the fork server would report, and starts a fresh
 * server for the next one.  An "ok" is replied for a return value whose
 * low 8 bits are 0, "fail exit N" (N = those bits) otherwise, as exit()
 * would have made of it.
 */
#ifndef FAULTLINE_CHECKER_H
#define FAULTLINE_CHECKER_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef int (*faultline_check_fn)(const char *dir, const char *id,
				  const char *marks);

/* Writes all of s to fd.  0 or -1. */
static inline int faultline_reply_fd_(int fd, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len) {
		n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static inline int faultline_reply_(const char *s)
{
	return faultline_reply_fd_(1, s);
}

/* Enters the state: cwd and the three variables, as `--check` sets them.
 * 0, or -1 with errno set. */
static inline int faultline_enter_(const char *dir, const char *id,
				   const char *marks)
{
	if (chdir(dir) < 0 || setenv("FAULTLINE_STATE_DIR", dir, 1) < 0 ||
	    setenv("FAULTLINE_STATE_ID", id, 1) < 0 ||
	    setenv("FAULTLINE_MARKS", marks, 1) < 0)
		return -1;
	return 0;
}

/* Splits a request line into its three fields (tabs), in place.
 * 0, or -1 when it is malformed. */
static inline int faultline_split_(char *line, char **id, char **marks)
{
	*id = strchr(line, '\t');
	*marks = *id ? strchr(*id + 1, '\t') : NULL;
	if (!*marks || strchr(*marks + 1, '\t'))
		return -1;
	*(*id)++ = '\0';
	*(*marks)++ = '\0';
	return 0;
}

/* The child: into the state, then the check.  Never returns. */
static inline void faultline_child_(faultline_check_fn check, char *dir,
				    char *id, char *marks)
{
	if (dup2(2, 1) < 0 || faultline_enter_(dir, id, marks) < 0) {
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

	if (faultline_split_(line, &id, &marks) < 0)
		return faultline_reply_("fail bad request\n");
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

/* One request checked in this process, replied on reply_fd; 0 or -1. */
static inline int faultline_one_in_(faultline_check_fn check, char *line,
				    int reply_fd)
{
	char *id, *marks, reply[64];
	int rc;

	if (faultline_split_(line, &id, &marks) < 0)
		return faultline_reply_fd_(reply_fd, "fail bad request\n");
	if (faultline_enter_(line, id, marks) < 0) {
		perror("faultline_serve: entering the state");
		rc = 2; /* what the fork server's child exits with */
	} else {
		rc = check(line, id, marks) & 0xff;
	}
	fflush(NULL); /* the check's output belongs to this state */
	if (chdir("/") < 0)
		return -1;
	if (rc)
		snprintf(reply, sizeof(reply), "fail exit %d\n", rc);
	else
		snprintf(reply, sizeof(reply), "ok\n");
	return faultline_reply_fd_(reply_fd, reply);
}

/* Serves stdin's requests with one_(check, line, reply_fd) until its end;
 * 0, or 2 on a failure. */
static inline int faultline_loop_(faultline_check_fn check,
				  int (*one)(faultline_check_fn, char *, int),
				  int reply_fd)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (one(check, line, reply_fd) < 0) {
			perror("faultline_serve");
			rc = 2;
			break;
		}
	}
	free(line);
	return rc;
}

static inline int faultline_one_fork_(faultline_check_fn check, char *line,
				      int reply_fd)
{
	(void)reply_fd; /* the fork server replies on its own stdout */
	return faultline_one_(check, line);
}

/* Serves requests from stdin until its end, one child per state.  Returns
 * 0, or 2 on a failure to fork, wait or reply. */
static inline int faultline_serve(faultline_check_fn check)
{
	/* Line-buffered: what a check prints before it crashes is kept. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return faultline_loop_(check, faultline_one_fork_, 1);
}

/* Serves requests from stdin until its end, each checked in this process
 * (see the top of this file).  Returns 0, or 2 on a failure to set up,
 * to return to "/" or to reply. */
static inline int faultline_serve_in_process(faultline_check_fn check)
{
	int reply_fd = fcntl(1, F_DUPFD_CLOEXEC, 3), rc;

	fflush(NULL);
	setvbuf(stdout, NULL, _IOLBF, 0); /* as faultline_serve() */
	if (reply_fd < 0 || dup2(2, 1) < 0) {
		perror("faultline_serve_in_process");
		return 2;
	}
	rc = faultline_loop_(check, faultline_one_in_, reply_fd);
	close(reply_fd);
	return rc;
}

#endif
