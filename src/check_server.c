/*
 * check_server.c - warm checkers: one checker process serves many states.
 *
 * The protocol is specified in check.h (check_runner_new_server()) and in
 * the README ("Warm checkers").  A runner keeps one slot per job; a slot
 * holds at most one server, started on the slot's first state and again
 * after the server was killed.  A slot is busy from the request it sends
 * until the verdict line comes back, the server dies, or the deadline.
 *
 * SPAWNING.  `/bin/sh -c CMD` with posix_spawn, in a new process group
 * (its pgid is the main pid), clean signal state, faultline's cwd and
 * environment, stdin one end of a socketpair (we send with MSG_NOSIGNAL,
 * so a dead server cannot SIGPIPE us), stdout and stderr two pipes whose
 * read ends are non-blocking, no other descriptor of ours.
 *
 * KILLING.  SIGKILL to the group (the main's zombie pins its id until we
 * reap it), reap the main, then reap whatever of the group became our
 * child (the runner makes this process a child subreaper) until the group is
 * empty, for at most CSRV_REAP_LIMIT_S.  Processes that left the group (setsid)
 * are not chased: the per-state checker (check.c) does that, a server does not.
 *
 * OUTPUT.  The server's stderr is read while a state is out and drained
 * when its verdict is taken; the first max_output bytes are kept, the rest
 * counted in output_lost.  Bytes on stdout while no state is out mean the
 * server is out of step: it is killed before the next request goes.
 *
 * Not done here: making state directories, limits on memory or CPU.  One
 * thread uses a runner at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_i.h"

extern char **environ;

#define CSRV_LINE_MAX 4096    /* bytes of a reply, its newline included */
#define CSRV_REQ_MAX 16384    /* bytes of a request */
#define CSRV_DRAIN_READS 64   /* reads of stderr when a verdict is taken */
#define CSRV_REAP_LIMIT_S 5.0 /* seconds to reap a killed server's group */
#define CSRV_NOTE_MAX 512     /* bytes of the note faultline appends */
#define CSRV_EXIT_WAIT_S 0.1  /* seconds from a server's EOF to its exit */

struct check_srv_slot {
	pid_t pid;	 /* the server's main process and pgid; 0: none */
	int pidfd;	 /* readable once pid exited; -1: none (EOF tells) */
	int in_fd;	 /* our end of its stdin socket */
	int out_fd;	 /* its stdout, read end, O_NONBLOCK */
	int err_fd;	 /* its stderr, read end, O_NONBLOCK; -1 after EOF */
	bool busy;	 /* a request is out, no verdict taken yet */
	void *token;	 /* the caller's, for the state out */
	double start;	 /* CLOCK_MONOTONIC seconds the request went */
	double deadline; /* CLOCK_MONOTONIC seconds to give up; 0: never */
	char line[CSRV_LINE_MAX]; /* reply bytes read so far */
	size_t line_len;	  /* bytes in line */
	char *out;	 /* max_output + CSRV_NOTE_MAX + 1 bytes of stderr */
	size_t out_len;	 /* bytes kept in out */
	size_t out_lost; /* bytes of stderr dropped beyond max_output */
};

struct check_srv {
	char *cmd;		      /* the shell command, malloc'd */
	unsigned jobs;		      /* slots, >= 1 */
	double timeout_s;	      /* seconds per state; 0: none */
	size_t max_output;	      /* stderr bytes kept per state */
	unsigned running;	      /* busy slots */
	struct check_srv_slot *slots; /* jobs of them */
	struct pollfd *pfds;	      /* 3 per slot: stdout, stderr, pidfd */
	posix_spawnattr_t attr;	      /* new group, clean signals */
	bool attr_ok;		      /* attr is initialized */
};

/* ---- a server's life ---- */

static void csrv_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Spawns the server of slot p.  0 or -errno (then p holds none). */
static int csrv_spawn(struct check_srv *s, struct check_srv_slot *p)
{
	char *argv[] = {"sh", "-c", s->cmd, NULL};
	posix_spawn_file_actions_t fa;
	int sv[2], o[2] = {-1, -1}, e[2] = {-1, -1}, rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out_fds;
	}
	rc = -posix_spawn_file_actions_init(&fa);
	if (rc)
		goto out_fds;
	if ((rc = -posix_spawn_file_actions_adddup2(&fa, sv[1], 0)) ||
	    (rc = -posix_spawn_file_actions_adddup2(&fa, o[1], 1)) ||
	    (rc = -posix_spawn_file_actions_adddup2(&fa, e[1], 2)) ||
	    (rc = check_fa_close_rest(&fa)) ||
	    (rc = -posix_spawn(&p->pid, "/bin/sh", &fa, &s->attr, argv,
			       environ)))
		p->pid = 0;
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		goto out_fds;
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	fcntl(e[0], F_SETFL, O_NONBLOCK);
	close(sv[1]); /* the server holds the only other ends now */
	close(o[1]);
	close(e[1]);
	p->in_fd = sv[0];
	p->out_fd = o[0];
	p->err_fd = e[0];
	p->pidfd = check_pidfd_open(p->pid);
	p->line_len = 0;
	return 0;
out_fds:
	close(sv[0]);
	close(sv[1]);
	csrv_close(&o[0]);
	csrv_close(&o[1]);
	csrv_close(&e[0]);
	csrv_close(&e[1]);
	return rc;
}

/*
 * Kills slot p's server and its process group, reaps them, closes the
 * descriptors (stderr stays open for the caller's drain only if keep_err).
 * Returns the main's wait status, or -1 if unknown.
 */
static int csrv_kill(struct check_srv_slot *p, bool keep_err)
{
	double give_up = check_now() + CSRV_REAP_LIMIT_S;
	struct timespec nap = {0, 100000};
	int st = -1;

	if (!p->pid)
		return -1;
	kill(-p->pid, SIGKILL);
	while (waitpid(p->pid, &st, 0) < 0)
		if (errno != EINTR) { /* reaped behind our back */
			st = -1;
			break;
		}
	/* Group members whose parent died are ours: we are a subreaper. */
	while (kill(-p->pid, SIGKILL) == 0 && check_now() < give_up) {
		while (waitpid(-p->pid, NULL, WNOHANG) > 0)
			;
		nanosleep(&nap, NULL);
	}
	p->pid = 0;
	csrv_close(&p->pidfd);
	csrv_close(&p->in_fd);
	csrv_close(&p->out_fd);
	if (!keep_err)
		csrv_close(&p->err_fd);
	p->line_len = 0;
	return st;
}

/* Kills slot p's server (csrv_kill()), then keeps what it had written to
 * stderr.  Returns the main's wait status or -1. */
static int csrv_kill_drain(const struct check_srv *s, struct check_srv_slot *p);

/* True if slot p's server has exited (its zombie is not reaped yet). */
static bool csrv_exited(const struct check_srv_slot *p)
{
	siginfo_t si;

	si.si_pid = 0;
	return waitid(P_PID, p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	       si.si_pid;
}

/* csrv_exited(), waiting up to CSRV_EXIT_WAIT_S for it: a process closes
 * its descriptors (our EOF) a moment before it turns waitable. */
static bool csrv_exited_soon(const struct check_srv_slot *p)
{
	double give_up = check_now() + CSRV_EXIT_WAIT_S;
	struct timespec nap = {0, 200000};

	while (!csrv_exited(p)) {
		if (check_now() > give_up)
			return false;
		nanosleep(&nap, NULL);
	}
	return true;
}

/* ---- reading ---- */

/* Reads what stderr holds now, at most max_reads chunks; closes at EOF. */
static void csrv_read_err(const struct check_srv *s, struct check_srv_slot *p,
			  int max_reads)
{
	char chunk[4096];
	size_t k;
	ssize_t n;

	while (p->err_fd >= 0 && max_reads-- > 0) {
		n = read(p->err_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			csrv_close(&p->err_fd);
			return;
		}
		k = s->max_output - p->out_len;
		k = (size_t)n < k ? (size_t)n : k;
		memcpy(p->out + p->out_len, chunk, k);
		p->out_len += k;
		p->out_lost += n - k;
	}
}

/*
 * Reads stdout into p->line.  Returns 1 once it holds a newline, 0 if
 * more may come, -EPIPE at EOF (or a read error), -E2BIG if the line
 * outgrew CSRV_LINE_MAX.
 */
static int csrv_read_out(struct check_srv_slot *p)
{
	ssize_t n;

	for (;;) {
		if (memchr(p->line, '\n', p->line_len))
			return 1;
		if (p->line_len == sizeof(p->line))
			return -E2BIG;
		n = read(p->out_fd, p->line + p->line_len,
			 sizeof(p->line) - p->line_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -EPIPE;
		p->line_len += n;
	}
}

static int csrv_kill_drain(const struct check_srv *s, struct check_srv_slot *p)
{
	int st = csrv_kill(p, true);

	csrv_read_err(s, p, CSRV_DRAIN_READS);
	csrv_close(&p->err_fd);
	return st;
}

/* ---- verdicts ---- */

/* Appends a printf'd note (faultline's words) to the state's output. */
__attribute__((format(printf, 2, 3))) static void
csrv_note(struct check_srv_slot *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p->out + p->out_len, CSRV_NOTE_MAX, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->out_len += n < CSRV_NOTE_MAX ? (size_t)n : CSRV_NOTE_MAX - 1;
}

/* Fills res from a reply line (NUL-terminated, no newline).  Returns
 * false if it is no verdict. */
static bool csrv_parse(struct check_srv_slot *p, const char *line,
		       struct check_result *res)
{
	int v, end = 0;

	if (!strcmp(line, "ok")) {
		res->passed = true;
		return true;
	}
	if (strcmp(line, "fail") && strncmp(line, "fail ", 5))
		return false;
	res->exit_status = 1;
	line += line[4] ? 5 : 4;
	if (sscanf(line, "exit %d%n", &v, &end) == 1 && !line[end] && v >= 0)
		res->exit_status = v;
	else if (sscanf(line, "signal %d%n", &v, &end) == 1 && !line[end] &&
		 v > 0) {
		res->exit_status = -1;
		res->signal = v;
	} else if (*line)
		csrv_note(p, "%s\n", line);
	return true;
}

/* Takes the reply in p->line (complete).  Kills the server if the reply
 * is no verdict or more than one line. */
static void csrv_reply(const struct check_srv *s, struct check_srv_slot *p,
		       struct check_result *res)
{
	char *nl = memchr(p->line, '\n', p->line_len);
	size_t len = nl - p->line;

	*nl = '\0';
	if (len && p->line[len - 1] == '\r')
		p->line[len - 1] = '\0';
	if (len + 1 == p->line_len && csrv_parse(p, p->line, res)) {
		p->line_len = 0;
		return;
	}
	res->passed = false;
	res->exit_status = -1;
	res->signal = 0;
	csrv_kill_drain(s, p);
	csrv_note(p,
		  "faultline: the checker server replied \"%.200s\"%s, "
		  "not \"ok\" or \"fail [REASON]\" alone on a line; "
		  "a fresh server starts\n",
		  p->line, len + 1 < p->line_len ? " and more" : "");
}

/* The server died or closed stdout before replying. */
static void csrv_died(const struct check_srv *s, struct check_srv_slot *p,
		      struct check_result *res)
{
	bool exited = csrv_exited_soon(p); /* else it only closed stdout */
	int st = csrv_kill_drain(s, p);

	if (!exited)
		st = -1; /* our SIGKILL is not its death */

	res->exit_status = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	res->signal = st != -1 && WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	if (st != -1 && WIFSIGNALED(st))
		csrv_note(p,
			  "faultline: the checker server died (signal %d) "
			  "while checking this state; a fresh one starts\n",
			  res->signal);
	else if (st != -1 && WIFEXITED(st))
		csrv_note(p,
			  "faultline: the checker server died (exit %d) "
			  "while checking this state; a fresh one starts\n",
			  res->exit_status);
	else
		csrv_note(p, "faultline: the checker server closed its stdout "
			     "before replying; a fresh one starts\n");
}

/* Finishes slot p: how is 1 reply, -EPIPE died, -E2BIG overlong reply,
 * -ETIMEDOUT deadline.  Fills *token and *res; the slot is free after. */
static void csrv_finish(struct check_srv *s, struct check_srv_slot *p, int how,
			void **token, struct check_result *res)
{
	memset(res, 0, sizeof(*res));
	if (how == 1) {
		csrv_read_err(s, p, CSRV_DRAIN_READS); /* before the reply */
		csrv_reply(s, p, res);
	} else if (how == -EPIPE) {
		csrv_died(s, p, res);
	} else {
		res->exit_status = -1;
		res->timed_out = how == -ETIMEDOUT;
		csrv_kill_drain(s, p);
		if (how == -E2BIG)
			csrv_note(p,
				  "faultline: the checker server wrote a "
				  "line of %d bytes or more, not a verdict; "
				  "a fresh server starts\n",
				  CSRV_LINE_MAX);
		else
			csrv_note(p, "faultline: the checker server timed out "
				     "on this state; its process group was "
				     "killed and a fresh one starts\n");
	}
	res->output = p->out;
	res->output_len = p->out_len;
	res->output_lost = p->out_lost;
	res->output[res->output_len] = '\0';
	res->elapsed_s = check_now() - p->start;
	*token = p->token;
	p->out = NULL;
	p->busy = false;
	s->running--;
}

/* ---- the runner ---- */

/* True if a field can travel in a request unescaped. */
static bool csrv_field_ok(const char *f)
{
	return !strpbrk(f, "\t\n\r");
}

/*
 * Makes sure slot p has a server in step: one that has not exited and has
 * said nothing out of turn (else it is killed); starts one if none.
 * 0 or -errno.
 */
static int csrv_ready(struct check_srv *s, struct check_srv_slot *p)
{
	if (p->pid && (csrv_exited(p) || csrv_read_out(p) != 0 || p->line_len))
		csrv_kill(p, false);
	if (p->pid)
		return 0;
	csrv_close(&p->err_fd); /* a killed server's leftover stderr */
	return csrv_spawn(s, p);
}

/* Sends req (len bytes) to slot p's server, whole.  0 or -errno. */
static int csrv_send(struct check_srv_slot *p, const char *req, size_t len)
{
	ssize_t n = send(p->in_fd, req, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EAGAIN; /* a server not reading its input */
}

int check_srv_start(struct check_srv *s, const char *dir, const char *id,
		    const char *marks_file, void *token)
{
	const char *marks = marks_file ? marks_file : "/dev/null";
	struct check_srv_slot *p = s->slots;
	char req[CSRV_REQ_MAX];
	int len, rc, tries;

	if (!csrv_field_ok(dir) || !csrv_field_ok(id) || !csrv_field_ok(marks))
		return -EINVAL;
	len = snprintf(req, sizeof(req), "%s\t%s\t%s\n", dir, id, marks);
	if (len < 0 || (size_t)len >= sizeof(req))
		return -ENAMETOOLONG;
	if (s->running >= s->jobs)
		return -EBUSY;
	while (p->busy)
		p++;
	p->out = malloc(s->max_output + CSRV_NOTE_MAX + 1);
	if (!p->out)
		return -ENOMEM;
	p->out_len = p->out_lost = 0;
	/* A server that died idle gets one fresh try before we give up. */
	for (tries = 0; tries < 2; tries++) {
		if ((rc = csrv_ready(s, p)) < 0)
			break;
		if ((rc = csrv_send(p, req, len)) == 0)
			break;
		csrv_kill(p, false);
	}
	if (rc < 0) {
		free(p->out);
		p->out = NULL;
		return rc;
	}
	p->token = token;
	p->start = check_now();
	p->deadline = s->timeout_s > 0 ? p->start + s->timeout_s : 0;
	p->busy = true;
	s->running++;
	return 0;
}

unsigned check_srv_running(const struct check_srv *s)
{
	return s->running;
}

/* Fills s->pfds for the busy slots; returns the ppoll timeout or NULL. */
static struct timespec *csrv_poll_setup(struct check_srv *s,
					struct timespec *ts)
{
	double now = check_now(), wait = -1;
	struct check_srv_slot *p;
	unsigned i;

	for (i = 0; i < s->jobs; i++) {
		p = &s->slots[i];
		s->pfds[3 * i].fd = p->busy ? p->out_fd : -1;
		s->pfds[3 * i + 1].fd = p->busy ? p->err_fd : -1;
		s->pfds[3 * i + 2].fd = p->busy ? p->pidfd : -1;
		s->pfds[3 * i].events = s->pfds[3 * i + 1].events =
		    s->pfds[3 * i + 2].events = POLLIN;
		if (p->busy && p->deadline > 0 &&
		    (wait < 0 || p->deadline - now < wait))
			wait = p->deadline > now ? p->deadline - now : 0;
	}
	if (wait < 0)
		return NULL;
	ts->tv_sec = (time_t)wait;
	ts->tv_nsec = (long)((wait - ts->tv_sec) * 1e9);
	return ts;
}

/* How busy slot i stands after a poll: 1, -EPIPE, -E2BIG, -ETIMEDOUT
 * (see csrv_finish()), or 0 for still out. */
static int csrv_state(struct check_srv *s, unsigned i, double now)
{
	struct check_srv_slot *p = &s->slots[i];
	int rc;

	if (s->pfds[3 * i + 1].revents)
		csrv_read_err(s, p, 16);
	rc = csrv_read_out(p);
	if (rc)
		return rc;
	if (p->pidfd >= 0 && s->pfds[3 * i + 2].revents) {
		rc = csrv_read_out(p); /* a reply written just before exiting */
		return rc ? rc : -EPIPE;
	}
	if (p->deadline > 0 && now >= p->deadline)
		return -ETIMEDOUT;
	return 0;
}

int check_srv_wait(struct check_srv *s, void **token, struct check_result *res)
{
	struct timespec ts, *tp;
	unsigned i;
	int how;

	if (!s->running)
		return 0;
	for (;;) {
		for (i = 0; i < s->jobs; i++) /* a reply may be read already */
			if (s->slots[i].busy && memchr(s->slots[i].line, '\n',
						       s->slots[i].line_len)) {
				csrv_finish(s, &s->slots[i], 1, token, res);
				return 1;
			}
		tp = csrv_poll_setup(s, &ts);
		if (ppoll(s->pfds, 3 * s->jobs, tp, NULL) < 0)
			return -errno;
		for (i = 0; i < s->jobs; i++) {
			if (!s->slots[i].busy)
				continue;
			how = csrv_state(s, i, check_now());
			if (how) {
				csrv_finish(s, &s->slots[i], how, token, res);
				return 1;
			}
		}
	}
}

void check_srv_free(struct check_srv *s)
{
	unsigned i;

	if (!s)
		return;
	for (i = 0; s->slots && i < s->jobs; i++) {
		csrv_kill(&s->slots[i], false);
		csrv_close(&s->slots[i].err_fd);
		free(s->slots[i].out);
	}
	if (s->attr_ok)
		posix_spawnattr_destroy(&s->attr);
	free(s->pfds);
	free(s->slots);
	free(s->cmd);
	free(s);
}

int check_srv_new(const char *cmd, unsigned jobs, double timeout_s,
		  size_t max_output, struct check_srv **out)
{
	struct check_srv *s;
	unsigned i;
	int rc;

	if (!cmd || !jobs || !(timeout_s >= 0) || max_output >= SIZE_MAX / 2)
		return -EINVAL;
	/* Orphans of a killed server's group become ours, to reap. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cmd = strdup(cmd);
	s->slots = calloc(jobs, sizeof(*s->slots));
	s->pfds = calloc(jobs, 3 * sizeof(*s->pfds));
	if (!s->cmd || !s->slots || !s->pfds) {
		rc = -ENOMEM;
		goto out_free;
	}
	s->jobs = jobs;
	for (i = 0; i < jobs; i++)
		s->slots[i].pidfd = s->slots[i].in_fd = s->slots[i].out_fd =
		    s->slots[i].err_fd = -1;
	rc = check_attr_init(&s->attr);
	if (rc)
		goto out_free;
	s->attr_ok = true;
	s->timeout_s = timeout_s;
	s->max_output = max_output;
	*out = s;
	return 0;
out_free:
	check_srv_free(s);
	return rc;
}
