/*
 * calls.c - the workload behind a seccomp filter, stopped only at the
 * calls that matter (see calls.h).
 *
 * The child asks to be traced, stops, installs a seccomp filter and hands
 * its listener to the tracer over a socket, then execs the workload.  The
 * filter sends the traced calls (calls_sys, native architecture; the
 * others faultline-fs joins at their requests, fusefs/fs_calls.c) but
 * the barriers to the tracer's notification thread (SECCOMP_RET_USER_NOTIF),
 * which logs it with its site and lets it continue as it was; sync and
 * syncfs to the tracer itself (SECCOMP_RET_TRACE), which resumes them with
 * PTRACE_SYSCALL to see them return, then logs them and, for a barrier
 * that succeeded, writes the control line and waits for faultline-fs to
 * take it before letting the thread go on.  Without user notification
 * every watched call takes the ptrace road, logged at its entry.
 *
 * The tracer follows forks, vforks and clones, so threads and children
 * are watched too; PTRACE_O_EXITKILL ends them all if the tracer dies.
 * Signals are passed on as they came.  The tracer is the workload's
 * stand-in for record: it ends as the workload ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
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

/* Linux 6.6: the supervisor and the notifying thread hand the CPU to each
 * other directly (no trip through the scheduler's wake-up). */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
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
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER; /* appenders: both threads */

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
	uint64_t arg[6];   /* its arguments (the log keeps four) */
	uint64_t entry_ns; /* when it stopped at the entry, on the trace's clock */
	char site[240];    /* where it was made (calls_site), "" unknown */
};

struct calls_state {
	const struct calls_opts *o;
	int ctl;                  /* the control file, open for writing */
	struct calls_sites *sites; /* unwinders, under site_lock */
	bool mapped;              /* faultline-fs was told of a mapping: captures asked for */
	pthread_mutex_t site_lock; /* the notification thread and the tracer both unwind */
	int listener;             /* the seccomp filter's notification fd, or -1 */
	bool stopping;            /* set by the tracer: the notification thread is to end */
	bool stopped;             /* set by the notification thread as it ends */
	pid_t main;               /* the workload's first process */
	int main_status;          /* its wait status, -1 until it ends */
	struct calls_thread th[CALLS_MAX_THREADS];
};

static bool is_barrier(long nr)
{
	return nr == SYS_sync || nr == SYS_syncfs;
}

/*
 * The filter: the watched calls of the native ABI go to the supervisor
 * (SECCOMP_RET_USER_NOTIF: the notification thread logs and continues
 * them), the barriers to the tracer (SECCOMP_RET_TRACE: it stops them at
 * their return too), the rest runs.  Without notify (a kernel without
 * user notification, or FAULTLINE_CALLS_PTRACE=1) every watched call
 * goes to the tracer.  Returns the listener fd, 0 without notify, or
 * -errno.
 */
static int install_filter(bool notify)
{
	struct sock_filter f[12 + 128];
	struct sock_fprog prog = {.filter = f};
	size_t i, k, n = 0, m;
	int fd;

	_Static_assert(sizeof(f) / sizeof(f[0]) < 256, "jump offsets are 8 bits");
	if (calls_nsys > 128)
		return -E2BIG;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CALLS_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	/* mmap: a shared one (flags, low word, has MAP_SHARED) goes to the tracer,
	 * which sees where it was mapped at its return; any other runs. */
	for (m = k = 0; k < calls_nsys; k++) /* the checks below: every traced call but mmap */
		m += calls_sys[k].traced && calls_sys[k].nr != SYS_mmap;
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 0, 2);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, args[3]));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_SHARED,
					      (uint8_t)(m + 2), (uint8_t)m);
	/* Check i jumps over the checks after it and the ALLOW to the NOTIF (m - i),
	 * or one further to the TRACE. */
	for (i = k = 0; k < calls_nsys; k++) {
		if (calls_sys[k].nr == SYS_mmap || !calls_sys[k].traced)
			continue;
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (uint32_t)calls_sys[k].nr,
						      (uint8_t)(m - i + (is_barrier(calls_sys[k].nr) ||
									 !notify)), 0);
		i++;
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	prog.len = (unsigned short)n;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* SPEC_ALLOW: a filter would otherwise turn on the kernel's speculation
	 * mitigations for the workload (store bypass, indirect branches), which
	 * slow it down; it is watched, not sandboxed.  A kernel that does not
	 * know the flag says EINVAL: without it, then. */
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  (notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0) | SECCOMP_FILTER_FLAG_SPEC_ALLOW,
			  &prog);
	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				  notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &prog);
	return fd < 0 ? -errno : fd;
}

/* Sends fd over the socket sock (SCM_RIGHTS; fd 0: none, the tracer traps
 * every call).  0 or -errno. */
static int send_fd(int sock, int fd)
{
	char c = fd ? 'L' : 'N', ctl[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = &c, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (!fd)
		mh.msg_controllen = 0;
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -errno;
}

/* The fd sent over sock; 0 for none; -errno (-EPIPE when the sender ended first). */
static int recv_fd(int sock)
{
	char c, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &c, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -errno;
	if (n == 1 && c == 'N')
		return 0;
	cm = CMSG_FIRSTHDR(&mh);
	if (n != 1 || !cm || cm->cmsg_type != SCM_RIGHTS)
		return -EPIPE;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * A program built with LeakSanitizer stops its threads with ptrace to
 * check for leaks at exit, which a traced process cannot: it would end in
 * a fatal error.  The leak check is turned off: appended to the user's
 * options (the last setting of a flag wins), which otherwise stay.
 */
static void no_leak_check(void)
{
	static const char *const vars[] = {"ASAN_OPTIONS", "LSAN_OPTIONS"};
	char buf[4096];
	const char *v;
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		v = getenv(vars[i]);
		snprintf(buf, sizeof(buf), "%s%sdetect_leaks=0", v ? v : "", v && *v ? ":" : "");
		setenv(vars[i], buf, 1);
	}
}

/* The workload's side: traced, filtered, the listener handed to the tracer, exec. */
static void child(const struct calls_opts *o, int sock)
{
	int fd, err = 0;
	const char *pt;
	bool notify;

	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0 || raise(SIGSTOP) != 0)
		_exit(127);
	pt = getenv("FAULTLINE_CALLS_PTRACE");
	notify = !pt || strcmp(pt, "1");
	fd = notify ? install_filter(true) : -EINVAL;
	if (fd == -EINVAL || fd == -ENOSYS) /* no user notification here */
		fd = install_filter(false);
	if (fd < 0 || (err = send_fd(sock, fd)) < 0) {
		fprintf(stderr, "faultline: record --calls: cannot install the seccomp filter: %s\n",
			strerror(fd < 0 ? -fd : -err));
		_exit(127);
	}
	if (fd)
		close(fd);
	close(sock);
	no_leak_check();
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
	char rel[PATH_MAX];

	return calls_fd_path(s->o->mnt, tid, fd, rel, sizeof(rel));
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

/* One control line to faultline-fs (it is taken when the write returns). */
static void tell(struct calls_state *s, const char *line, int n)
{
	if (n > 0 && write(s->ctl, line, (size_t)n) != n)
		fprintf(stderr, "faultline: record --calls: cannot tell faultline-fs \"%.*s\": %s\n",
			n - 1, line + 1, strerror(errno));
}

/* A call boundary of tid: faultline-fs captures the changed pages of the
 * mappings it follows (calls_maps.c), before tid goes on; for a munmap,
 * then drops the mappings it touches. */
static void capture(struct calls_state *s, pid_t tid, long nr, const uint64_t *arg)
{
	char line[128];

	if (!__atomic_load_n(&s->mapped, __ATOMIC_ACQUIRE))
		return;
	if (nr == SYS_munmap)
		tell(s, line, snprintf(line, sizeof(line), CALLS_CTL_UNMAP " %d %llu %llu\n", (int)tid,
				       (unsigned long long)arg[0], (unsigned long long)arg[1]));
	else
		tell(s, line, snprintf(line, sizeof(line), CALLS_CTL_CAPTURE " %d\n", (int)tid));
}

/* tid's mmap returned addr: a shared writable mapping of a file under the
 * mount is followed by faultline-fs from now on. */
static void mapped(struct calls_state *s, pid_t tid, uint64_t addr, const uint64_t *arg)
{
	char path[PATH_MAX], line[PATH_MAX + 96];

	if (!calls_map_followed(s->o->mnt, tid, addr, arg[1], arg[2], arg[3], (int)arg[4], path,
				sizeof(path)))
		return;
	tell(s, line, snprintf(line, sizeof(line), CALLS_CTL_MAP " %d %llu %llu %llu %s\n", (int)tid,
			       (unsigned long long)addr, (unsigned long long)arg[1],
			       (unsigned long long)arg[5], path));
	__atomic_store_n(&s->mapped, true, __ATOMIC_RELEASE);
}

/* Appends one whole line to the calls log. */
static void log_line(const char *line, size_t n)
{
	pthread_mutex_lock(&log_lock);
	if ((size_t)log_len + n > sizeof(log_buf))
		log_flush();
	if (n <= sizeof(log_buf)) {
		memcpy(log_buf + log_len, line, n);
		log_len += (sig_atomic_t)n; /* after the copy: a flush from the handler sees whole lines */
	}
	pthread_mutex_unlock(&log_lock);
}

/*
 * t is entering io_uring_enter(fd, to_submit, ...): the SQEs it is about
 * to submit, as the kernel shows them in /proc/TID/fdinfo/FD (pending
 * entries from the SQ head, in submission order), each a line "sqe TID
 * ENTRY_NS OPCODE FD FLAGS OFF RW_FLAGS" of the calls log.  A ring set up
 * with IORING_SETUP_NO_SQARRAY lists none: said once, and its ops keep
 * their recorded order only.
 */
static void log_sqes(const struct calls_thread *t)
{
	static bool told;
	char path[64], line[512], out[256], op[32];
	unsigned long long off, addr;
	unsigned idx, flags, rw, count = 0, rows = 0, want = (unsigned)t->arg[1];
	int fd, n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)t->tid, (int)t->arg[0]);
	if (!want || !(f = fopen(path, "re")))
		return;
	while (rows < want && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SQEs: %u", &count) == 1)
			continue;
		if (sscanf(line, " %u: opcode:%31[^,], fd:%d, flags:%x, off:%llu, addr:0x%llx, rw_flags:0x%x",
			   &idx, op, &fd, &flags, &off, &addr, &rw) != 7)
			continue;
		n = snprintf(out, sizeof(out), "sqe %d %llu %s %d %x %llu %x\n", (int)t->tid,
			     (unsigned long long)t->entry_ns, op, fd, flags, off, rw);
		log_line(out, (size_t)n);
		rows++;
	}
	fclose(f);
	if (count && !rows && !told) {
		told = true;
		fprintf(stderr, "faultline: record --calls: cannot read the submissions of an io_uring "
				"(set up with IORING_SETUP_NO_SQARRAY?): its ops are taken in recorded order\n");
	}
}

/* t's call, which returned rval at exit_ns (0: not waited for): its line
 * in the calls log (calls.h), and an io_uring_enter's SQEs after it. */
static void log_call(const struct calls_thread *t, long long rval, uint64_t exit_ns)
{
	struct calls_call c = {.tid = (uint32_t)t->tid, .nr = t->nr, .result = rval,
			       .entry_ns = t->entry_ns, .exit_ns = exit_ns,
			       .arg = {t->arg[0], t->arg[1], t->arg[2], t->arg[3]},
			       .site = (char *)t->site};
	char line[512];
	int n = calls_format(line, sizeof(line), &c);

	if (n > 0 && (size_t)n < sizeof(line))
		log_line(line, (size_t)n);
	if (t->nr == SYS_io_uring_enter)
		log_sqes(t);
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

/* Where t's call, now waiting at its entry, was made, into t->site. */
static void capture_site(struct calls_state *s, struct calls_thread *t)
{
	t->site[0] = 0;
	/* Not for mmap and munmap: no op joins a mapping's call, and few a
	 * munmap's (the write-back of its pages); unwinding a program's first
	 * stop loads its modules, milliseconds the workload would wait. */
	if (!s->sites || t->nr == SYS_mmap || t->nr == SYS_munmap)
		return;
	pthread_mutex_lock(&s->site_lock);
	calls_site(s->sites, t->tid, t->site, sizeof(t->site));
	pthread_mutex_unlock(&s->site_lock);
}

static void forget_site(struct calls_state *s, pid_t tid)
{
	pthread_mutex_lock(&s->site_lock);
	calls_sites_forget(s->sites, tid);
	pthread_mutex_unlock(&s->site_lock);
}

/*
 * tid is at a seccomp stop: a call's entry.  A barrier is stopped again
 * at its return, to be logged, and recorded if it succeeded.  Any other
 * call comes here only without user notification: it is logged now and
 * let go, its window running to the thread's next watched call.
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
		for (k = 0; k < 6; k++)
			t->arg[k] = info.seccomp.args[k];
		t->entry_ns = now_ns(s);
		capture_site(s, t);
		capture(s, tid, t->nr, t->arg);
		if (!is_barrier(t->nr) && t->nr != SYS_mmap) {
			/* no user notification: logged here, one stop */
			log_call(t, 0, 0);
			t->in_call = false;
			ptrace(PTRACE_CONT, tid, 0, 0);
			return;
		}
	}
	ptrace(PTRACE_SYSCALL, tid, 0, 0);
}


/*
 * The notification thread: each watched call but the barriers stops the
 * calling thread here (SECCOMP_RET_USER_NOTIF) until it is logged and let
 * go on as it was (SECCOMP_USER_NOTIF_FLAG_CONTINUE): two context
 * switches and two ioctls, cheaper than a ptrace stop.  Runs until
 * notify_stop.
 */
static void *notify_loop(void *arg)
{
	struct calls_state *s = arg;
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	struct calls_thread t;
	int k;

	/* Best effort: an older kernel says EINVAL, and wakes the usual way. */
	ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	while (!__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) {
		memset(&req, 0, sizeof(req));
		if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			continue; /* EINTR (told to stop?), or the caller died (ENOENT) */
		t = (struct calls_thread){.tid = (pid_t)req.pid, .nr = req.data.nr,
					  .entry_ns = now_ns(s)};
		for (k = 0; k < 6; k++)
			t.arg[k] = req.data.args[k];
		capture_site(s, &t);
		log_call(&t, 0, 0);
		capture(s, t.tid, t.nr, t.arg);
		resp = (struct seccomp_notif_resp){.id = req.id,
						   .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
		ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, &resp); /* ENOENT: it died meanwhile */
	}
	__atomic_store_n(&s->stopped, true, __ATOMIC_RELEASE);
	return NULL;
}

static void on_wake(int sig)
{
	(void)sig; /* only interrupts the notification thread's wait */
}

/* Ends the notification thread: the flag, then a signal until it sees it
 * (one sent just before it blocks would be lost). */
static void notify_stop(struct calls_state *s, pthread_t nt)
{
	__atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&s->stopped, __ATOMIC_ACQUIRE)) {
		pthread_kill(nt, SIGUSR1);
		usleep(1000);
	}
	pthread_join(nt, NULL);
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
		if (!info.exit.is_error && t->nr == SYS_mmap)
			mapped(s, tid, (uint64_t)info.exit.rval, t->arg);
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
	else if (sig == SIGTRAP && event) { /* fork, vfork, clone, exec */
		if (event == PTRACE_EVENT_EXEC) {
			char line[64];

			forget_site(s, tid); /* a new program: new modules, no mappings */
			if (__atomic_load_n(&s->mapped, __ATOMIC_ACQUIRE))
				tell(s, line, snprintf(line, sizeof(line), CALLS_CTL_FORGET " %d\n",
						       (int)tid));
		}
		ptrace(PTRACE_CONT, tid, 0, 0);
	}
	else if (sig == SIGSTOP && added)
		ptrace(PTRACE_CONT, tid, 0, 0); /* a new tracee's first stop: not a signal */
	else
		ptrace(PTRACE_CONT, tid, 0, sig); /* a signal: deliver it */
}

/* Closes what calls_trace opened, and frees s. */
static void calls_close(struct calls_state *s)
{
	int fds[] = {s->ctl, s->listener, log_fd};
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	log_fd = -1;
	calls_sites_free(s->sites);
	pthread_mutex_destroy(&s->site_lock);
	free(s);
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
		forget_site(s, tid);
	}
}

/* Asks faultline-fs to have the kernel sample the calls of s->main, and
 * of every thread and child it makes, before it runs anything (fs_calls.c). */
static void sample(struct calls_state *s)
{
	char line[64];

	tell(s, line, snprintf(line, sizeof(line), CALLS_CTL_PERF " %d\n", (int)s->main));
}

/*
 * Starts the workload: forked, stopped at its first instruction of ours,
 * given the ptrace options, and its filter's listener received.  0 or
 * -errno (the child is killed).
 */
static int start(struct calls_state *s)
{
	int sv[2], st;
	bool added = false, stopped;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if ((s->main = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (s->main == 0) {
		close(sv[0]);
		child(s->o, sv[1]);
	}
	close(sv[1]);
	thread_of(s, s->main, true, &added); /* its first stop is waited for here */
	stopped = waitpid(s->main, &st, __WALL) == s->main && WIFSTOPPED(st);
	if (stopped)
		sample(s);
	if (!stopped ||
	    ptrace(PTRACE_SETOPTIONS, s->main, 0,
		   PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK |
			   PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
			   PTRACE_O_EXITKILL) < 0 ||
	    ptrace(PTRACE_CONT, s->main, 0, 0) < 0 || (s->listener = recv_fd(sv[0])) < 0) {
		close(sv[0]);
		kill(s->main, SIGKILL);
		while (waitpid(s->main, &st, __WALL) < 0 && errno == EINTR)
			;
		return s->listener < 0 ? s->listener : -EIO;
	}
	close(sv[0]);
	return 0;
}


int calls_trace(const struct calls_opts *o)
{
	struct calls_state *s = calloc(1, sizeof(*s));
	pthread_t nt;
	bool thread = false;
	int err;

	if (!s)
		return -ENOMEM;
	s->o = o; /* the rest zeroed by calloc */
	s->main_status = -1;
	s->listener = -1;
	pthread_mutex_init(&s->site_lock, NULL);
	if (!getenv("FAULTLINE_CALLS_NOSITES"))
		s->sites = calls_sites_new(); /* without memory: no sites, the rest works */
	if ((s->ctl = open(o->ctl, O_WRONLY | O_CLOEXEC)) < 0 ||
	    (log_fd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0) {
		err = -errno;
		goto out;
	}
	signal(SIGTERM, log_on_signal);
	signal(SIGINT, log_on_signal);
	signal(SIGHUP, log_on_signal);
	sigaction(SIGUSR1, &(struct sigaction){.sa_handler = on_wake}, NULL); /* no SA_RESTART */
	if ((err = start(s)) < 0)
		goto out;
	if (s->listener > 0 && (err = -pthread_create(&nt, NULL, notify_loop, s)) < 0) {
		kill(s->main, SIGKILL);
		s->main_status = -1;
	}
	thread = s->listener > 0 && err == 0;
	err = trace_loop(s); /* reaps the killed child too */
	if (!err)
		err = s->main_status;
out:
	if (thread)
		notify_stop(s, nt);
	log_flush();
	calls_close(s);
	return err;
}
