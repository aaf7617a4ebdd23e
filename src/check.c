/*
 * check.c - runs the user's recovery checker on crash states, N at a time.
 *
 * SPAWNING.  Each checker is `/bin/sh -c CMD`, started with posix_spawn
 * (glibc: clone(CLONE_VM|CLONE_VFORK), no copy of our address space) in
 * a new process group whose id is the main process's pid, with cwd at the
 * state, stdin from /dev/null, stdout and stderr into one pipe, an empty
 * signal mask and every signal at its default disposition, no other file
 * descriptor of ours, and FAULTLINE_STATE_DIR,
 * FAULTLINE_STATE_ID and FAULTLINE_MARKS (/dev/null when the caller gives
 * no marks file) put in front of the inherited environment, replacing any
 * inherited copies.  The runner keeps the pipe's read end (non-blocking)
 * and a pidfd per checker.
 *
 * CLOSING DESCRIPTORS.  posix_spawn runs no code of ours in the child, so
 * the closing is a file action: closefrom 3 where posix_spawn has it
 * (glibc >= 2.34), else one close per descriptor >= 3 without FD_CLOEXEC
 * (those close at exec anyway), listed from /proc/self/fd just before the
 * spawn.  Either way a descriptor another thread opens without O_CLOEXEC
 * while a checker is being spawned may leak, as with fork and exec; a
 * caller that leaked one earlier has it closed.  Without /proc (fallback
 * only) no checker starts.
 *
 * EVENT LOOP.  check_wait() ppoll()s every running checker's pipe and
 * pidfd, with the earliest deadline as the poll timeout.  A pidfd turns
 * readable the moment its process exits, so a finished checker is noticed
 * without sleeping (if the kernel has no pidfd_open, exits are polled
 * every millisecond instead).  Each round reads at most
 * CHECK_READS_PER_ROUND chunks from one pipe, so a checker writing without
 * end cannot starve the others or its own deadline.
 *
 * BOUNDED OUTPUT.  Of each checker's output the runner keeps the first
 * half of max_output bytes and the last half (a ring); output_lost counts
 * the bytes in between.  The buffer is handed to the result as is, in
 * order, so finishing a checker allocates nothing.
 *
 * TIMEOUTS.  At its deadline the checker's whole process group gets
 * SIGKILL; the checker then finishes like any other, with timed_out set
 * (the SIGKILL itself is not reported as its signal).
 *
 * FINISHING AND ESCAPES.  When the main process has exited: SIGKILL its
 * group (its zombie still pins the group id, so this cannot hit a reused
 * one), reap it, then repeat {SIGKILL the group; sweep} until the group
 * is empty and a sweep finds nothing.  check_runner_new() made this
 * process a child subreaper, so whatever a checker left behind, even
 * after setsid() or a double fork, becomes our child when its parent
 * dies.  A sweep kills and reaps every child of ours that belongs to no
 * live checker.  A child belongs to a live checker (and is spared) when
 * it is that checker's main process, is in its process group, or carries
 * its FAULTLINE_STATE_DIR in its environment (a daemon a running checker
 * started on purpose).  Children in our own process group are the
 * caller's and are spared too: anything else that becomes our child
 * during a check, even a daemon the caller started, is treated as an
 * escape.  Finally what is already in the pipe is read and the pipe is
 * closed without waiting for EOF (an escapee we could not reach may hold
 * it open forever).
 *
 * Sweeping must be cheap, as a check may take a millisecond, and Linux
 * lists a process's children only with CONFIG_PROC_CHILDREN (often off),
 * so children are found by their ppid in /proc/PID/stat.  A sweep
 * looks only at pids allocated since the checker started (the window
 * from its main's pid to /proc/sys/kernel/ns_last_pid), probing them one
 * by one when there are few and reading /proc when there are many; a
 * check that ran longer than CHECK_WINDOW_MAX_S (pids may have wrapped)
 * or a kernel without ns_last_pid gets a scan of all of /proc, and so
 * does check_runner_free(), once, for stragglers a chase gave up on.
 *
 * What this module does not do: it does not make or remove state
 * directories, and it does not limit a checker's memory or CPU.  A runner
 * is used by one thread at a time; runners in different threads are
 * safe (check_lock).  The caller must not reap children with
 * waitpid(-1) or set SIGCHLD to SIG_IGN while checkers run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "check_i.h"

extern char **environ;

#define CHECK_CHUNK 65536	   /* bytes per read() of a checker's pipe */
#define CHECK_READS_PER_ROUND 16   /* reads of one pipe per loop round */
#define CHECK_DRAIN_READS 64	   /* reads of a finished checker's pipe */
#define CHECK_REAP_LIMIT_S 5.0	   /* seconds to chase a dead checker's rest */
#define CHECK_NAP_MAX_NS 10000000L /* longest nap while chasing it, ns */
#define CHECK_WINDOW_MAX_S 0.5	   /* longer checks sweep all of /proc */
#define CHECK_PROBE_MAX 128	   /* pid windows probed pid by pid */
#define CHECK_FALLBACK_NS 1000000L /* exit polling period without pidfd */
#define CHECK_ENV_MAX (1 << 20)	   /* bytes of /proc/PID/environ read */

/* 1: posix_spawn can close every fd >= 3 itself.  Build with
 * -DCHECK_CLOSEFROM=0 to use (and test) the /proc/self/fd fallback. */
#ifndef CHECK_CLOSEFROM
#ifdef __GLIBC_PREREQ
#if __GLIBC_PREREQ(2, 34)
#define CHECK_CLOSEFROM 1
#endif
#endif
#endif
#ifndef CHECK_CLOSEFROM
#define CHECK_CLOSEFROM 0
#endif

struct check_slot {
	pid_t pid;	 /* main process, also its pgid; 0: slot free.
			    Set under check_lock */
	bool live;	 /* main not reaped yet; under check_lock */
	int pidfd;	 /* readable once pid has exited; -1: none, polled */
	int out_fd;	 /* pipe read end, O_NONBLOCK; -1 after EOF */
	void *token;	 /* the caller's, handed back by check_wait() */
	char *dir;	 /* state dir, malloc'd; under check_lock */
	double start;	 /* CLOCK_MONOTONIC seconds at spawn */
	double deadline; /* CLOCK_MONOTONIC seconds to kill at; 0: never */
	bool timed_out;	 /* the group was killed at the deadline */
	char *buf;	 /* max_output + 1 bytes: head, then tail ring */
	size_t total;	 /* bytes of output read, kept or not */
	size_t ring;	 /* tail ring: offset of its oldest byte */
};

struct check_runner {
	char *cmd;		   /* the shell command, malloc'd */
	unsigned jobs;		   /* checkers at once, >= 1 */
	double timeout_s;	   /* seconds before SIGKILL; 0: never */
	size_t max_output;	   /* bytes of output kept per checker */
	unsigned running;	   /* slots in use */
	struct check_slot *slots;  /* jobs of them */
	struct pollfd *pfds;	   /* 2 * jobs: slot i's pipe, then pidfd */
	char *chunk;		   /* CHECK_CHUNK bytes of read scratch */
	int devnull;		   /* /dev/null, read-only: checkers' stdin */
	posix_spawnattr_t attr;	   /* new group, clean signal state */
	bool attr_ok;		   /* attr is initialized */
	pid_t pid_max;		   /* /proc/sys/kernel/pid_max */
	struct check_srv *srv;	   /* set: a server runner (check_server.c)
				      does all the work; the rest is unused */
	struct check_runner *next; /* in check_runners, under check_lock */
};

/* A range of pids, (lo, hi] modulo pid_max, or every pid. */
struct check_window {
	pid_t lo; /* exclusive: the checker's main pid */
	pid_t hi; /* inclusive: the last pid allocated */
	bool all; /* no range known: every pid */
};

/* Guards check_runners and every slot's pid, live and dir. */
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static struct check_runner *check_runners; /* every runner alive */

static const char *const check_vars[3] = {
    "FAULTLINE_STATE_DIR=",
    "FAULTLINE_STATE_ID=",
    "FAULTLINE_MARKS=",
};

double check_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads a small decimal number from a /proc file; returns it or -errno. */
static long check_read_long(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * Parses /proc/PID/stat.  Returns 0 with *ppid and *pgrp, or -errno
 * (-ENOENT: no such process).
 */
static int check_stat(pid_t pid, pid_t *ppid, pid_t *pgrp)
{
	char path[32], buf[512], *p;
	int fd, a, b;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold ')' and spaces */
	if (!p || sscanf(p + 1, " %*c %d %d", &a, &b) != 2)
		return -EIO;
	*ppid = a;
	*pgrp = b;
	return 0;
}

/* ---- who belongs to a live checker (all under check_lock) ---- */

/* True if pid is a live checker's main or pgrp a live checker's group. */
static bool check_live_pid(pid_t pid, pid_t pgrp)
{
	const struct check_runner *r;
	unsigned i;

	for (r = check_runners; r; r = r->next)
		for (i = 0; i < r->jobs; i++)
			if (r->slots[i].live &&
			    (r->slots[i].pid == pid || r->slots[i].pid == pgrp))
				return true;
	return false;
}

/* True if some live checker's state dir is dir (len bytes). */
static bool check_live_dir(const char *dir, size_t len)
{
	const struct check_runner *r;
	const struct check_slot *s;
	unsigned i;

	for (r = check_runners; r; r = r->next)
		for (i = 0; i < r->jobs; i++) {
			s = &r->slots[i];
			if (s->live && strlen(s->dir) == len &&
			    !memcmp(s->dir, dir, len))
				return true;
		}
	return false;
}

/* Reads up to CHECK_ENV_MAX bytes of pid's environment; malloc'd or NULL. */
static char *check_read_env(pid_t pid, size_t *len)
{
	char path[32], *buf = NULL, *p;
	size_t cap = 0, n = 0;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 16384;
			p = realloc(buf, cap);
			if (!p)
				break;
			buf = p;
		}
		got = read(fd, buf + n, cap - n);
		n += got > 0 ? (size_t)got : 0;
	} while (got > 0 && n < CHECK_ENV_MAX);
	close(fd);
	*len = n;
	return buf;
}

/* True if pid's environment names a live checker's state dir. */
static bool check_env_live(pid_t pid)
{
	const char *var = check_vars[0];
	size_t len = 0, off, vlen = strlen(var);
	char *env = check_read_env(pid, &len), *e, *end;
	bool live = false;

	for (off = 0; env && off < len && !live; off = end - env + 1) {
		e = env + off;
		end = memchr(e, '\0', len - off);
		if (!end)
			break;
		if ((size_t)(end - e) >= vlen && !memcmp(e, var, vlen))
			live = check_live_dir(e + vlen, end - e - vlen);
	}
	free(env);
	return live;
}

/* ---- sweeping escapees (under check_lock) ---- */

/*
 * Kills and reaps pid if it is our child and belongs to no live checker
 * nor to the caller.  Returns 1 if it did (the child may still be dying:
 * it is reaped by a later sweep), else 0.
 */
static int check_sweep_one(pid_t pid, pid_t self, pid_t self_pgrp)
{
	pid_t ppid, pgrp;

	if (check_stat(pid, &ppid, &pgrp) < 0 || ppid != self)
		return 0;
	if (pgrp == self_pgrp || check_live_pid(pid, pgrp) ||
	    check_env_live(pid))
		return 0;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
	return 1;
}

static bool check_in_window(const struct check_window *w, pid_t pid)
{
	if (w->all)
		return true;
	if (w->lo <= w->hi)
		return pid > w->lo && pid <= w->hi;
	return pid > w->lo || pid <= w->hi; /* pids wrapped */
}

/* The pids allocated since s started; all if unknown or s is NULL. */
static void check_window_of(const struct check_runner *r,
			    const struct check_slot *s, struct check_window *w)
{
	long last = s ? check_read_long("/proc/sys/kernel/ns_last_pid") : 0;

	w->lo = s ? s->pid : 0;
	w->hi = last > 0 ? (pid_t)last : 0;
	w->all = !s || last <= 0 || last >= r->pid_max ||
		 check_now() - s->start > CHECK_WINDOW_MAX_S;
}

/* Sweeps the pids of w one by one.  Returns how many it killed. */
static int check_sweep_probe(const struct check_runner *r,
			     const struct check_window *w, pid_t self,
			     pid_t self_pgrp)
{
	pid_t pid = w->lo;
	int found = 0;

	while (pid != w->hi) {
		pid = pid + 1 >= r->pid_max ? 1 : pid + 1;
		found += check_sweep_one(pid, self, self_pgrp);
	}
	return found;
}

/* Sweeps the processes in /proc that are in w.  Returns how many it killed. */
static int check_sweep_proc(const struct check_window *w, pid_t self,
			    pid_t self_pgrp)
{
	struct dirent *de;
	int found = 0;
	char *end;
	DIR *d;
	long pid;

	d = opendir("/proc");
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || !check_in_window(w, pid))
			continue;
		found += check_sweep_one(pid, self, self_pgrp);
	}
	closedir(d);
	return found;
}

/* Kills our children left behind by s (NULL: by anyone).  Returns how many. */
static int check_sweep(const struct check_runner *r, const struct check_slot *s)
{
	pid_t self = getpid(), self_pgrp = getpgrp();
	struct check_window w;
	long size;

	check_window_of(r, s, &w);
	size = w.hi - w.lo;
	if (size < 0)
		size += r->pid_max;
	if (!w.all && size <= CHECK_PROBE_MAX)
		return check_sweep_probe(r, &w, self, self_pgrp);
	return check_sweep_proc(&w, self, self_pgrp);
}

/*
 * After s's main was reaped: SIGKILLs its group and sweeps until the
 * group is empty and a sweep finds nothing, napping between rounds only
 * when something was still dying; gives up after CHECK_REAP_LIMIT_S.
 * With s NULL, sweeps all of /proc (no group) the same way.
 */
static void check_reap_rest(const struct check_runner *r,
			    const struct check_slot *s)
{
	double give_up = check_now() + CHECK_REAP_LIMIT_S;
	struct timespec nap = {0, 20000};
	bool busy;
	int found;

	for (;;) {
		busy = s && kill(-s->pid, SIGKILL) == 0;
		pthread_mutex_lock(&check_lock);
		found = check_sweep(r, s);
		pthread_mutex_unlock(&check_lock);
		if ((!busy && !found) || check_now() > give_up)
			return;
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < CHECK_NAP_MAX_NS / 2)
			nap.tv_nsec *= 2;
	}
}

/* ---- output ---- */

/* Appends n bytes of s's output: head first, then the tail ring. */
static void check_out_put(const struct check_runner *r, struct check_slot *s,
			  const char *p, size_t n)
{
	size_t max = r->max_output, tail = max / 2, head = max - tail, k;

	if (s->total < max) {
		k = n < max - s->total ? n : max - s->total;
		memcpy(s->buf + s->total, p, k);
		s->total += k;
		p += k;
		n -= k;
	}
	s->total += n;
	if (!tail || !n)
		return;
	if (n > tail) { /* only the last tail bytes can survive */
		p += n - tail;
		n = tail;
	}
	while (n) {
		k = n < tail - s->ring ? n : tail - s->ring;
		memcpy(s->buf + head + s->ring, p, k);
		s->ring = (s->ring + k) % tail;
		p += k;
		n -= k;
	}
}

/* Reads at most max_reads chunks of s's output; closes the pipe at EOF. */
static void check_out_read(const struct check_runner *r, struct check_slot *s,
			   int max_reads)
{
	ssize_t n;

	while (s->out_fd >= 0 && max_reads-- > 0) {
		n = read(s->out_fd, r->chunk, CHECK_CHUNK);
		if (n > 0) {
			check_out_put(r, s, r->chunk, n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close(s->out_fd); /* EOF, or an error: nothing more to get */
		s->out_fd = -1;
	}
}

static void check_reverse(char *p, size_t n)
{
	char c;
	size_t i;

	for (i = 0; i < n / 2; i++) {
		c = p[i];
		p[i] = p[n - 1 - i];
		p[n - 1 - i] = c;
	}
}

/* Moves s's output, in order and NUL-terminated, into res. */
static void check_out_take(const struct check_runner *r, struct check_slot *s,
			   struct check_result *res)
{
	size_t max = r->max_output, tail = max / 2;
	char *t = s->buf + (max - tail), *p;

	res->output_len = s->total <= max ? s->total : max;
	res->output_lost = s->total - res->output_len;
	if (s->total > max) { /* rotate the ring left by its oldest offset */
		check_reverse(t, s->ring);
		check_reverse(t + s->ring, tail - s->ring);
		check_reverse(t, tail);
	}
	s->buf[res->output_len] = '\0';
	p = realloc(s->buf, res->output_len + 1);
	res->output = p ? p : s->buf;
	s->buf = NULL;
}

/* ---- starting ---- */

/* Returns true for an inherited FAULTLINE_* variable that we set anew. */
static bool check_is_ours(const char *var)
{
	unsigned k;

	for (k = 0; k < 3; k++)
		if (!strncmp(var, check_vars[k], strlen(check_vars[k])))
			return true;
	return false;
}

/* Our three variables, then the inherited environment; one malloc. */
static char **check_envp(const char *dir, const char *id, const char *marks)
{
	const char *val[3] = {dir, id, marks};
	size_t n = 0, bytes = 0, i, k;
	char **envp, *p;

	while (environ && environ[n])
		n++;
	for (k = 0; k < 3; k++)
		bytes += strlen(check_vars[k]) + strlen(val[k]) + 1;
	envp = malloc((n + 4) * sizeof(*envp) + bytes);
	if (!envp)
		return NULL;
	p = (char *)(envp + n + 4);
	for (k = 0; k < 3; k++) {
		envp[k] = p;
		p = stpcpy(stpcpy(p, check_vars[k]), val[k]) + 1;
	}
	for (i = 0; i < n; i++)
		if (!check_is_ours(environ[i]))
			envp[k++] = environ[i];
	envp[k] = NULL;
	return envp;
}

/* The spawn attributes every checker shares: new group, clean signals. */
int check_attr_init(posix_spawnattr_t *attr)
{
	sigset_t all, none;
	int rc;

	sigfillset(&all);
	sigemptyset(&none);
	rc = posix_spawnattr_init(attr);
	if (rc)
		return -rc;
	if ((rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP |
						     POSIX_SPAWN_SETSIGMASK |
						     POSIX_SPAWN_SETSIGDEF)) ||
	    (rc = posix_spawnattr_setpgroup(attr, 0)) ||
	    (rc = posix_spawnattr_setsigmask(attr, &none)) ||
	    (rc = posix_spawnattr_setsigdefault(attr, &all))) {
		posix_spawnattr_destroy(attr);
		return -rc;
	}
	return 0;
}

#if !CHECK_CLOSEFROM
/*
 * Adds to fa a close of each descriptor >= 3 of ours that lacks
 * FD_CLOEXEC, per /proc/self/fd.  (glibc's spawn ignores a close that
 * finds the fd already closed, as when another thread closed it since.)
 * Returns 0, or -errno if /proc/self/fd cannot be listed or an action
 * cannot be added.
 */
static int check_close_inherited(posix_spawn_file_actions_t *fa)
{
	struct dirent *de;
	int fd, flags, rc = 0;
	char *end;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while (!rc && (de = readdir(d))) {
		fd = (int)strtol(de->d_name, &end, 10);
		if (*end || fd < 3 || fd == dirfd(d)) /* ".", "..", stdio, d */
			continue;
		flags = fcntl(fd, F_GETFD);
		if (flags >= 0 && !(flags & FD_CLOEXEC))
			rc = -posix_spawn_file_actions_addclose(fa, fd);
	}
	closedir(d);
	return rc;
}
#endif

int check_fa_close_rest(posix_spawn_file_actions_t *fa)
{
#if CHECK_CLOSEFROM /* no fd of ours, CLOEXEC or not, reaches it */
	return -posix_spawn_file_actions_addclosefrom_np(fa, 3);
#else /* none without CLOEXEC does */
	return check_close_inherited(fa);
#endif
}

/* Spawns /bin/sh -c cmd in dir with output into wfd.  Returns 0 or -errno. */
static int check_spawn(struct check_runner *r, const char *dir, char **envp,
		       int wfd, pid_t *pid)
{
	char *argv[] = {"sh", "-c", r->cmd, NULL};
	posix_spawn_file_actions_t fa;
	int rc;

	rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return -rc;
	if ((rc = posix_spawn_file_actions_adddup2(&fa, r->devnull, 0)) ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, wfd, 1)) ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, wfd, 2)) ||
	    (rc = posix_spawn_file_actions_addchdir_np(&fa, dir)))
		goto out_fa;
	rc = -check_fa_close_rest(&fa);
	if (rc)
		goto out_fa;
	rc = posix_spawn(pid, "/bin/sh", &fa, &r->attr, argv, envp);
out_fa:
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

int check_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return syscall(SYS_pidfd_open, pid, 0);
#else
	return -1;
#endif
}

/* Empties slot s (its pid already reaped or never spawned). */
static void check_slot_clear(struct check_slot *s)
{
	pthread_mutex_lock(&check_lock);
	free(s->dir);
	s->dir = NULL;
	s->pid = 0;
	s->live = false;
	pthread_mutex_unlock(&check_lock);
	free(s->buf);
	if (s->pidfd >= 0)
		close(s->pidfd);
	if (s->out_fd >= 0)
		close(s->out_fd);
	memset(s, 0, sizeof(*s));
	s->pidfd = s->out_fd = -1;
}

/* Spawns into the free slot s, with its dir and buf set.  0 or -errno. */
static int check_launch(struct check_runner *r, struct check_slot *s,
			char **envp)
{
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		rc = -errno;
		goto out_pipe;
	}
	s->start = check_now();
	pthread_mutex_lock(&check_lock); /* no sweep sees it unregistered */
	rc = check_spawn(r, s->dir, envp, p[1], &s->pid);
	if (rc)
		s->pid = 0;
	s->live = !rc;
	pthread_mutex_unlock(&check_lock);
	if (rc)
		goto out_pipe;
	close(p[1]); /* the checker holds the only write ends now */
	s->out_fd = p[0];
	s->pidfd = check_pidfd_open(s->pid);
	if (r->timeout_s > 0)
		s->deadline = s->start + r->timeout_s;
	return 0;
out_pipe:
	close(p[0]);
	close(p[1]);
	return rc;
}

int check_start(struct check_runner *r, const char *dir, const char *id,
		const char *marks_file, void *token)
{
	struct check_slot *s = r->slots;
	char **envp;
	int rc;

	if (!dir || !id)
		return -EINVAL;
	if (r->srv)
		return check_srv_start(r->srv, dir, id, marks_file, token);
	if (r->running >= r->jobs)
		return -EBUSY;
	while (s->pid)
		s++;
	envp = check_envp(dir, id, marks_file ? marks_file : "/dev/null");
	s->buf = malloc(r->max_output + 1);
	s->dir = strdup(dir);
	if (!envp || !s->buf || !s->dir) {
		rc = -ENOMEM;
		goto out_slot;
	}
	rc = check_launch(r, s, envp);
	if (rc)
		goto out_slot;
	free(envp);
	s->token = token;
	r->running++;
	return 0;
out_slot:
	check_slot_clear(s);
	free(envp);
	return rc;
}

unsigned check_running(const struct check_runner *r)
{
	if (r->srv)
		return check_srv_running(r->srv);
	return r->running;
}

/* ---- waiting ---- */

/* Fills r->pfds; returns the ppoll timeout in *ts, or NULL for none. */
static struct timespec *check_poll_setup(struct check_runner *r,
					 struct timespec *ts)
{
	double now = check_now(), wait = -1;
	struct check_slot *s;
	unsigned i;

	for (i = 0; i < r->jobs; i++) {
		s = &r->slots[i];
		r->pfds[2 * i].fd = s->pid ? s->out_fd : -1;
		r->pfds[2 * i + 1].fd = s->pid ? s->pidfd : -1;
		r->pfds[2 * i].events = r->pfds[2 * i + 1].events = POLLIN;
		if (s->pid && s->deadline > 0 && !s->timed_out &&
		    (wait < 0 || s->deadline - now < wait))
			wait = s->deadline > now ? s->deadline - now : 0;
		if (s->pid && s->pidfd < 0 &&
		    (wait < 0 || wait > CHECK_FALLBACK_NS / 1e9))
			wait = CHECK_FALLBACK_NS / 1e9;
	}
	if (wait < 0)
		return NULL;
	ts->tv_sec = (time_t)wait;
	ts->tv_nsec = (long)((wait - ts->tv_sec) * 1e9);
	return ts;
}

/* SIGKILLs the group of every checker past its deadline. */
static void check_deadlines(struct check_runner *r)
{
	double now = check_now();
	struct check_slot *s;
	unsigned i;

	for (i = 0; i < r->jobs; i++) {
		s = &r->slots[i];
		if (s->pid && s->deadline > 0 && !s->timed_out &&
		    now >= s->deadline) {
			kill(-s->pid, SIGKILL);
			s->timed_out = true;
		}
	}
}

/* True if slot i's main has exited (not reaped: we have not waited yet). */
static bool check_exited(struct check_runner *r, unsigned i)
{
	struct check_slot *s = &r->slots[i];
	siginfo_t si;

	if (!s->pid)
		return false;
	if (s->pidfd >= 0)
		return r->pfds[2 * i + 1].revents & (POLLIN | POLLHUP);
	si.si_pid = 0;
	return waitid(P_PID, s->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	       si.si_pid;
}

/* One round: poll, read pipes, kill the late.  Exited slot, -1, or -errno. */
static int check_round(struct check_runner *r)
{
	struct timespec ts, *tp = check_poll_setup(r, &ts);
	unsigned i;

	if (ppoll(r->pfds, 2 * r->jobs, tp, NULL) < 0)
		return -errno;
	int best = -1;

	for (i = 0; i < r->jobs; i++)
		if (r->slots[i].pid && r->pfds[2 * i].fd >= 0 &&
		    r->pfds[2 * i].revents)
			check_out_read(r, &r->slots[i], CHECK_READS_PER_ROUND);
	/*
	 * An exit wins over a deadline passed while nobody was waiting, and
	 * the oldest exited checker is returned first, so none starves.
	 */
	for (i = 0; i < r->jobs; i++)
		if (check_exited(r, i) &&
		    (best < 0 || r->slots[i].start < r->slots[best].start))
			best = (int)i;
	if (best >= 0)
		return best;
	check_deadlines(r);
	return -1;
}

/* Fills the status fields of res from a wait status (-1: unknown). */
static void check_status(const struct check_slot *s, int st,
			 struct check_result *res)
{
	bool exited = st != -1 && WIFEXITED(st);

	res->timed_out = s->timed_out;
	res->exit_status = exited ? WEXITSTATUS(st) : -1;
	res->signal =
	    st != -1 && WIFSIGNALED(st) && !s->timed_out ? WTERMSIG(st) : 0;
	res->passed = exited && !WEXITSTATUS(st) && !s->timed_out;
}

/*
 * Finishes slot i, whose main has exited or been killed: reaps it and all
 * it left behind, drains and closes its pipe, fills *token and *res and
 * frees the slot.
 */
static void check_finish(struct check_runner *r, unsigned i, void **token,
			 struct check_result *res)
{
	struct check_slot *s = &r->slots[i];
	int st;

	kill(-s->pid, SIGKILL); /* the main's zombie pins the group id */
	while (waitpid(s->pid, &st, 0) < 0)
		if (errno != EINTR) { /* reaped behind our back */
			st = -1;
			break;
		}
	pthread_mutex_lock(&check_lock);
	s->live = false; /* its group and escapees are fair game now */
	pthread_mutex_unlock(&check_lock);
	check_reap_rest(r, s);
	check_out_read(r, s, CHECK_DRAIN_READS);
	memset(res, 0, sizeof(*res));
	check_status(s, st, res);
	check_out_take(r, s, res);
	res->elapsed_s = check_now() - s->start;
	*token = s->token;
	check_slot_clear(s);
	r->running--;
}

/*
 * Returns 1 with *token and *res, 0 if nothing runs, -EINTR if a signal
 * handler ran (call again, or stop and free the runner), or -errno.
 */
int check_wait(struct check_runner *r, void **token, struct check_result *res)
{
	int i;

	if (r->srv)
		return check_srv_wait(r->srv, token, res);
	if (!r->running)
		return 0;
	do
		i = check_round(r);
	while (i == -1);
	if (i < 0)
		return i;
	check_finish(r, i, token, res);
	return 1;
}

void check_result_free(struct check_result *res)
{
	if (!res)
		return;
	free(res->output);
	res->output = NULL;
	res->output_len = 0;
}

/* ---- the runner ---- */

/* Frees what r holds; r is not in check_runners and runs nothing. */
static void check_runner_destroy(struct check_runner *r)
{
	if (r->attr_ok)
		posix_spawnattr_destroy(&r->attr);
	if (r->devnull >= 0)
		close(r->devnull);
	free(r->chunk);
	free(r->pfds);
	free(r->slots);
	free(r->cmd);
	free(r);
}

int check_runner_new(const char *cmd, unsigned jobs, double timeout_s,
		     size_t max_output, struct check_runner **out)
{
	struct check_runner *r;
	long pid_max;
	unsigned i;
	int rc;

	if (!cmd || !jobs || !(timeout_s >= 0) || max_output >= SIZE_MAX / 2)
		return -EINVAL;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->devnull = -1;
	r->cmd = strdup(cmd);
	r->slots = calloc(jobs, sizeof(*r->slots));
	r->pfds = calloc(jobs, 2 * sizeof(*r->pfds));
	r->chunk = malloc(CHECK_CHUNK);
	if (!r->cmd || !r->slots || !r->pfds || !r->chunk) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (i = 0; i < jobs; i++)
		r->slots[i].pidfd = r->slots[i].out_fd = -1;
	r->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (r->devnull < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = check_attr_init(&r->attr);
	if (rc)
		goto out_free;
	r->attr_ok = true;
	pid_max = check_read_long("/proc/sys/kernel/pid_max");
	r->pid_max = pid_max > 0 ? pid_max : 4194304;
	r->jobs = jobs;
	r->timeout_s = timeout_s;
	r->max_output = max_output;
	pthread_mutex_lock(&check_lock);
	r->next = check_runners;
	check_runners = r;
	pthread_mutex_unlock(&check_lock);
	*out = r;
	return 0;
out_free:
	check_runner_destroy(r);
	return rc;
}

int check_runner_new_server(const char *cmd, unsigned jobs, double timeout_s,
			    size_t max_output, struct check_runner **out)
{
	struct check_runner *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	rc = check_srv_new(cmd, jobs, timeout_s, max_output, &r->srv);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->jobs = jobs;
	*out = r;
	return 0;
}

void check_runner_free(struct check_runner *r)
{
	struct check_runner **pp;
	struct check_result res;
	void *token;
	unsigned i;

	if (!r)
		return;
	if (r->srv) { /* never in check_runners */
		check_srv_free(r->srv);
		free(r);
		return;
	}
	for (i = 0; i < r->jobs; i++)
		if (r->slots[i].pid) {
			kill(-r->slots[i].pid, SIGKILL);
			check_finish(r, i, &token, &res);
			check_result_free(&res);
		}
	pthread_mutex_lock(&check_lock);
	for (pp = &check_runners; *pp != r; pp = &(*pp)->next)
		;
	*pp = r->next;
	pthread_mutex_unlock(&check_lock);
	check_reap_rest(r, NULL); /* stragglers a chase gave up on */
	check_runner_destroy(r);
}
