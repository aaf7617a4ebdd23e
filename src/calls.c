/*
 * calls.c - the workload under ptrace, stopped only at the calls that
 * matter (see calls.h).
 *
 * The child asks to be traced, stops, installs a seccomp filter that
 * returns SECCOMP_RET_TRACE for the watched calls (calls_sys, of the
 * native architecture) and lets every other call through, then execs the
 * workload.  The tracer follows forks, vforks and clones, so threads and
 * children are watched too; PTRACE_O_EXITKILL ends them all if the tracer
 * dies.  At a seccomp stop the tracer resumes with PTRACE_SYSCALL, which
 * stops the tracee once more as the call returns; there it reads the
 * result, appends the call's line to the calls log and, for a barrier
 * that succeeded, writes the control line and waits for faultline-fs to
 * take it before letting the thread go on.
 * Signals are passed on as they came.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "calls_i.h"

#if defined(__x86_64__)
#define CALLS_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define CALLS_ARCH AUDIT_ARCH_AARCH64
#else
#error "calls.c: no seccomp architecture for this machine"
#endif

#define CALLS_MAX_THREADS 4096 /* tracees at once; a power of two (the slots hash) */
#define CALLS_GONE ((pid_t)-1) /* a slot whose tracee ended: probing goes on past it */

/*
 * The calls log's buffer.  File scope, because the handler of the signal
 * that ends the tracer (record stops the workload's process group) writes
 * it out first; len moves only past whole lines, so what it writes is.
 */
static char log_buf[1 << 16];
static volatile sig_atomic_t log_len;
static int log_fd = -1;

static void log_flush(void)
{
	size_t off = 0, n = (size_t)log_len;
	ssize_t w;

	while (log_fd >= 0 && off < n) {
		if ((w = write(log_fd, log_buf + off, n - off)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "faultline: record --calls: cannot write the calls log: %s\n",
				strerror(errno));
			close(log_fd);
			log_fd = -1;
		} else {
			off += (size_t)w;
		}
	}
	log_len = 0;
}

static void log_on_signal(int sig)
{
	log_flush();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A tracee, from its first stop to its end. */
struct calls_thread {
	pid_t tid;    /* 0: never used; CALLS_GONE: free again */
	bool in_call; /* stopped at a call's entry, to be judged when it returns */
	long nr;      /* that call's number */
	uint64_t arg[4];   /* its first arguments */
	uint64_t entry_ns; /* when it stopped at the entry, on the trace's clock */
};

struct calls_state {
	const struct calls_opts *o;
	int ctl;                  /* the control file, open for writing */
	pid_t main;               /* the workload's first process */
	int main_status;          /* its wait status, -1 until it ends */
	struct calls_thread th[CALLS_MAX_THREADS];
};

/* The filter: trap the watched calls of the native ABI, allow the rest. */
static int install_filter(void)
{
	struct sock_filter f[8 + 128];
	struct sock_fprog prog = {.filter = f};
	size_t i, n = 0;

	_Static_assert(sizeof(f) / sizeof(f[0]) < 256, "jump offsets are 8 bits");
	if (calls_nsys > 128)
		return -E2BIG;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CALLS_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (i = 0; i < calls_nsys; i++) /* a match jumps over the rest and the ALLOW */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (uint32_t)calls_sys[i].nr,
						      (uint8_t)(calls_nsys - i), 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	prog.len = (unsigned short)n;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}

static void child(const struct calls_opts *o)
{
	int err;

	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0 || raise(SIGSTOP) != 0)
		_exit(127);
	if ((err = install_filter()) < 0) {
		fprintf(stderr, "faultline: record --calls: cannot install the seccomp filter: %s\n",
			strerror(-err));
		_exit(127);
	}
	execvp(o->argv[0], o->argv);
	fprintf(stderr, "faultline: record: cannot run %s: %s\n", o->argv[0], strerror(errno));
	_exit(127);
}

/*
 * tid's slot (open addressing from tid's hash, every stop looks one up);
 * with add, a new one for a tid not seen before (*added set).  NULL when
 * it is not there, or there is no room.
 */
static struct calls_thread *thread_of(struct calls_state *s, pid_t tid, bool add, bool *added)
{
	struct calls_thread *free_slot = NULL;
	size_t i, k;

	for (k = 0; k < CALLS_MAX_THREADS; k++) {
		i = ((size_t)tid * 2654435761u + k) & (CALLS_MAX_THREADS - 1);
		if (s->th[i].tid == tid)
			return &s->th[i];
		if (s->th[i].tid == CALLS_GONE && !free_slot)
			free_slot = &s->th[i];
		if (!s->th[i].tid) {
			free_slot = free_slot ? free_slot : &s->th[i];
			break;
		}
	}
	if (!add || !free_slot)
		return NULL;
	*free_slot = (struct calls_thread){.tid = tid};
	*added = true;
	return free_slot;
}

/* Is fd of process tid under the mount? */
static bool fd_on_mount(const struct calls_state *s, pid_t tid, long fd)
{
	char link[64], target[PATH_MAX];
	size_t n = strlen(s->o->mnt);
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/%d/fd/%ld", (int)tid, fd);
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0)
		return false;
	target[len] = 0;
	return !strncmp(target, s->o->mnt, n) && (target[n] == 0 || target[n] == '/');
}

/* A barrier call of tid returned successfully: the SYNCFS record, appended
 * before tid runs on (the write returns once faultline-fs holds it). */
static void barrier(struct calls_state *s, pid_t tid)
{
	char line[64];
	int n = snprintf(line, sizeof(line), CALLS_CTL_SYNCFS " %d\n", (int)tid);

	if (write(s->ctl, line, (size_t)n) != n)
		fprintf(stderr, "faultline: record --calls: cannot record a sync barrier: %s\n",
			strerror(errno));
}

/* t's call, which returned rval at exit_ns (0: not waited for): its line
 * in the calls log (calls.h). */
static void log_call(const struct calls_thread *t, long long rval, uint64_t exit_ns)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%d %ld %lld %llu %llu %llx %llx %llx %llx\n",
			 (int)t->tid, t->nr, rval, (unsigned long long)t->entry_ns,
			 (unsigned long long)exit_ns, (unsigned long long)t->arg[0],
			 (unsigned long long)t->arg[1], (unsigned long long)t->arg[2],
			 (unsigned long long)t->arg[3]);

	if ((size_t)log_len + (size_t)n > sizeof(log_buf))
		log_flush();
	memcpy(log_buf + log_len, line, (size_t)n);
	log_len += n; /* after the copy: a flush from the handler sees whole lines */
}

/* Now on the trace's clock. */
static uint64_t now_ns(const struct calls_state *s)
{
	struct timespec ts;
	uint64_t t;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return t > s->o->t0_ns ? t - s->o->t0_ns : 0;
}

/*
 * tid is at a seccomp stop (a call's entry): note the call.  A barrier
 * (sync, syncfs) is stopped again at its return, to be recorded if it
 * succeeded; any other call is logged now and let go, its window running
 * to the thread's next watched call (calls.h): one stop, not two.
 */
static void at_entry(struct calls_state *s, pid_t tid)
{
	struct __ptrace_syscall_info info;
	struct calls_thread *t;
	bool added = false;
	int k;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info) > 0 &&
	    info.op == PTRACE_SYSCALL_INFO_SECCOMP && (t = thread_of(s, tid, true, &added))) {
		t->in_call = true;
		t->nr = (long)info.seccomp.nr;
		for (k = 0; k < 4; k++)
			t->arg[k] = info.seccomp.args[k];
		t->entry_ns = now_ns(s);
		if (t->nr != SYS_sync && t->nr != SYS_syncfs) {
			log_call(t, 0, 0);
			t->in_call = false;
			ptrace(PTRACE_CONT, tid, 0, 0);
			return;
		}
	}
	ptrace(PTRACE_SYSCALL, tid, 0, 0);
}


/* tid is at a call's return: logged, and a barrier that succeeded is recorded. */
static void at_exit(struct calls_state *s, pid_t tid)
{
	struct __ptrace_syscall_info info;
	struct calls_thread *t = thread_of(s, tid, false, NULL);

	if (t && t->in_call && ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info) > 0 &&
	    info.op == PTRACE_SYSCALL_INFO_EXIT) {
		if (!info.exit.is_error &&
		    (t->nr == SYS_sync ||
		     (t->nr == SYS_syncfs && fd_on_mount(s, tid, (long)t->arg[0]))))
			barrier(s, tid);
		log_call(t, info.exit.rval, now_ns(s));
	}
	if (t)
		t->in_call = false;
	ptrace(PTRACE_CONT, tid, 0, 0);
}

/* One stop of tid, with wait status st. */
static void on_stop(struct calls_state *s, pid_t tid, int st)
{
	int sig = WSTOPSIG(st), event = st >> 16;
	bool added = false;

	thread_of(s, tid, true, &added);

	if (sig == SIGTRAP && event == PTRACE_EVENT_SECCOMP)
		at_entry(s, tid);
	else if (sig == (SIGTRAP | 0x80))
		at_exit(s, tid);
	else if (sig == SIGTRAP && event)
		ptrace(PTRACE_CONT, tid, 0, 0); /* fork, vfork, clone, exec */
	else if (sig == SIGSTOP && added)
		ptrace(PTRACE_CONT, tid, 0, 0); /* a new tracee's first stop: not a signal */
	else
		ptrace(PTRACE_CONT, tid, 0, sig); /* a signal: deliver it */
}

static int trace_loop(struct calls_state *s)
{
	struct calls_thread *t;
	int st;
	pid_t tid;

	for (;;) {
		tid = waitpid(-1, &st, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? 0 : -errno;
		}
		if (WIFSTOPPED(st)) {
			on_stop(s, tid, st);
			continue;
		}
		if (tid == s->main)
			s->main_status = st;
		if ((t = thread_of(s, tid, false, NULL)))
			t->tid = CALLS_GONE;
	}
}

int calls_trace(const struct calls_opts *o)
{
	struct calls_state *s = calloc(1, sizeof(*s));
	bool added = false;
	int st, err;

	if (!s)
		return -ENOMEM;
	s->o = o;
	s->main_status = -1;
	if ((s->ctl = open(o->ctl, O_WRONLY | O_CLOEXEC)) < 0 ||
	    (log_fd = open(o->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644)) < 0 ||
	    (s->main = fork()) < 0) {
		err = -errno;
		goto out;
	}
	if (s->main == 0)
		child(o);
	signal(SIGTERM, log_on_signal);
	signal(SIGINT, log_on_signal);
	signal(SIGHUP, log_on_signal);
	err = -EIO;
	thread_of(s, s->main, true, &added); /* its first stop is waited for here */
	if (waitpid(s->main, &st, __WALL) != s->main || !WIFSTOPPED(st) ||
	    ptrace(PTRACE_SETOPTIONS, s->main, 0,
		   PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK |
			   PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
			   PTRACE_O_EXITKILL) < 0 ||
	    ptrace(PTRACE_CONT, s->main, 0, 0) < 0) {
		kill(s->main, SIGKILL);
		goto out;
	}
	err = trace_loop(s);
	if (!err)
		err = s->main_status;
out:
	log_flush();
	if (s->ctl >= 0)
		close(s->ctl);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	free(s);
	return err;
}
