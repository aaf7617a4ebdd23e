/*
 * calls_perf.c - the entries of the workload's calls, sampled by the
 * kernel (record --calls, read by faultline-fs: fusefs/fs_calls.c).
 *
 * faultline-fs must know, while it serves a request, which call of the
 * blocked thread made it, with its arguments, and the thread's stack
 * pointer, program counter and stack for its site.  /proc/TID/syscall
 * says all but the stack, but reading it makes the kernel wait until the
 * thread is off its CPU, and the thread's wake-up at the answer is slower
 * after it: measured on sqlite3, one read per request cost the workload
 * about 8 us per call where the read itself takes 3 (a second read cost
 * only its own 1.5 us, a read of /proc/TID/stat nothing;
 * docs/PERFORMANCE.md).
 * So the kernel is asked instead to write a
 * sample at the entry of each call that can make a request: a perf event
 * on the raw_syscalls:sys_enter tracepoint, filtered to those calls,
 * with the call's number and arguments (the tracepoint's record), the
 * thread's user stack pointer and program counter, and the first
 * CALLS_PERF_STACK bytes of its stack, on CLOCK_MONOTONIC.  One event per
 * CPU (the kernel maps no buffer of an event that follows a process's
 * children on every CPU), opened on the workload's first process before
 * it runs, inherited by every thread and child it makes.  The thread
 * pays a fraction of a microsecond at each such call, and nothing else.
 *
 * The buffers are drained at each request: the latest sample of each
 * thread is kept.  The filter takes every call but frequent ones that
 * never make a request faultline-fs records (quiet_calls), so a thread's
 * latest sample is the call it is blocked in; a sample the buffer lost
 * (it filled) is noticed, and every thread's is then forgotten.  Whoever
 * finds no sample, or one older than the thread's last request that is
 * not the call that request was made in, asks /proc.
 *
 * Needs tracefs (the tracepoint's id and format) and the right to trace
 * the workload (root, or perf_event_paranoid -1): without them,
 * calls_perf_open fails and every call is read from /proc.
 */
#include <asm/perf_regs.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "calls_i.h"

#if defined(__x86_64__)
#define PERF_SP PERF_REG_X86_SP
#define PERF_PC PERF_REG_X86_IP
#elif defined(__aarch64__)
#define PERF_SP PERF_REG_ARM64_SP
#define PERF_PC PERF_REG_ARM64_PC
#endif

#define PERF_PAGES 256      /* data pages per CPU's buffer (a power of two): 1 MiB */
#define PERF_SLOTS 1024     /* threads whose latest sample is kept (a power of two) */
#define PERF_MAX_CPUS 1024

/*
 * The calls that are never sampled: frequent ones that make no request
 * faultline-fs records (reads, stats, locks, waits, memory, signals,
 * sockets).  Every other call is, a call no one thought of included, so
 * a thread's latest sample is the call it is blocked in whenever that
 * call made a record.
 */
static const long quiet_calls[] = {
	SYS_read, SYS_pread64, SYS_readv, SYS_preadv, SYS_preadv2, SYS_lseek, SYS_fstat,
	SYS_newfstatat, SYS_statx, SYS_faccessat, SYS_readlinkat, SYS_getdents64, SYS_fcntl,
	SYS_flock, SYS_ioctl, SYS_ppoll, SYS_pselect6, SYS_epoll_pwait, SYS_epoll_ctl, SYS_futex,
	SYS_nanosleep, SYS_clock_nanosleep, SYS_clock_gettime, SYS_gettimeofday, SYS_getpid,
	SYS_gettid, SYS_getppid, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid, SYS_brk,
	SYS_mmap, SYS_munmap, SYS_mprotect, SYS_madvise, SYS_rt_sigaction, SYS_rt_sigprocmask,
	SYS_rt_sigreturn, SYS_sched_yield, SYS_recvfrom, SYS_recvmsg, SYS_sendto, SYS_sendmsg,
	SYS_getrandom, SYS_prlimit64, SYS_uname, SYS_wait4, SYS_getcwd, SYS_umask,
	SYS_getrusage, SYS_statfs, SYS_fstatfs, SYS_rseq, SYS_set_robust_list, SYS_sigaltstack,
	SYS_membarrier, SYS_io_uring_setup,
#ifdef SYS_poll /* the old calls, where the architecture has them */
	SYS_poll, SYS_select, SYS_epoll_wait, SYS_stat, SYS_lstat, SYS_access, SYS_readlink,
#endif
};

struct perf_slot {
	pid_t tid;       /* 0: empty */
	struct calls_perf_sample s;
	uint8_t stack[CALLS_PERF_STACK];
};

struct perf_cpu {
	int fd;
	struct perf_event_mmap_page *meta; /* then PERF_PAGES data pages */
	uint8_t *data;
};

struct calls_perf {
	struct perf_cpu *cpu;
	int ncpu;
	size_t page;
	unsigned id_off, args_off; /* in the tracepoint's record */
	struct perf_slot *slot;    /* PERF_SLOTS */
	uint8_t rec[65536];        /* a record that wraps around the buffer's end */
};

/* The tracepoint's file under tracefs, read into buf. */
static int tracefs_read(const char *name, char *buf, size_t len)
{
	static const char *const root[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
	char path[128];
	size_t i;
	ssize_t n;
	int fd;

	for (i = 0; i < sizeof(root) / sizeof(root[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/raw_syscalls/sys_enter/%s", root[i], name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, len - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			return 0;
		}
	}
	return -ENOENT;
}

/* The offset of field (as "long id;") in the tracepoint's format, or -1. */
static int field_offset(const char *format, const char *field)
{
	const char *p = strstr(format, field);
	unsigned off;

	return p && sscanf(p + strlen(field), " offset:%u;", &off) == 1 ? (int)off : -1;
}

/* "id != 0 && id != 17 && ...": every call but the quiet ones. */
static void filter_text(char *buf, size_t len)
{
	size_t at = 0, i;

	buf[0] = 0;
	for (i = 0; i < sizeof(quiet_calls) / sizeof(quiet_calls[0]) && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%sid != %ld", at ? " && " : "",
				       quiet_calls[i]);
}

void calls_perf_close(struct calls_perf *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; p->cpu && i < p->ncpu; i++) {
		if (p->cpu[i].meta)
			munmap(p->cpu[i].meta, (PERF_PAGES + 1) * p->page);
		if (p->cpu[i].fd >= 0)
			close(p->cpu[i].fd);
	}
	free(p->cpu);
	free(p->slot);
	free(p);
}

struct calls_perf *calls_perf_open(pid_t pid)
{
	char format[4096], idtext[32], filter[4096];
	struct perf_event_attr a = {0};
	struct calls_perf *p;
	int i, id, err = 0, opened = 0;

	if (tracefs_read("id", idtext, sizeof(idtext)) < 0 ||
	    tracefs_read("format", format, sizeof(format)) < 0) {
		errno = ENOENT;
		return NULL;
	}
	id = atoi(idtext);
	if (!(p = calloc(1, sizeof(*p))) || !(p->slot = calloc(PERF_SLOTS, sizeof(*p->slot)))) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	i = field_offset(format, "long id;");
	p->id_off = (unsigned)i;
	p->args_off = (unsigned)field_offset(format, "unsigned long args[6];");
	p->ncpu = (int)sysconf(_SC_NPROCESSORS_CONF);
	if (i < 0 || (int)p->args_off < 0 || p->ncpu <= 0 || p->ncpu > PERF_MAX_CPUS ||
	    !(p->cpu = calloc((size_t)p->ncpu, sizeof(*p->cpu)))) {
		calls_perf_close(p);
		errno = EINVAL;
		return NULL;
	}
	filter_text(filter, sizeof(filter));
	a.size = sizeof(a);
	a.type = PERF_TYPE_TRACEPOINT;
	a.config = (uint64_t)id;
	a.sample_period = 1;
	a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW |
			PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
	a.sample_regs_user = (1ULL << PERF_SP) | (1ULL << PERF_PC);
	a.sample_stack_user = CALLS_PERF_STACK;
	a.inherit = 1;
	a.use_clockid = 1;
	a.clockid = CLOCK_MONOTONIC;
	for (i = 0; i < p->ncpu; i++) {
		struct perf_cpu *c = &p->cpu[i];
		void *m;

		c->fd = (int)syscall(SYS_perf_event_open, &a, pid, i, -1, PERF_FLAG_FD_CLOEXEC);
		if (c->fd < 0) {
			err = errno;
			if (err == ENODEV || err == EINVAL) /* a CPU not online */
				continue;
			break;
		}
		m = mmap(NULL, (PERF_PAGES + 1) * p->page, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		if (m == MAP_FAILED || ioctl(c->fd, PERF_EVENT_IOC_SET_FILTER, filter) < 0) {
			err = errno;
			if (m != MAP_FAILED)
				munmap(m, (PERF_PAGES + 1) * p->page);
			break;
		}
		c->meta = m;
		c->data = (uint8_t *)m + p->page;
		opened++;
		err = 0;
	}
	if (err || !opened) {
		calls_perf_close(p);
		errno = err ? err : ENODEV;
		return NULL;
	}
	return p;
}

static struct perf_slot *slot_of(struct calls_perf *p, pid_t tid)
{
	return &p->slot[((size_t)tid * 2654435761u) & (PERF_SLOTS - 1)];
}

/* One sample record (its body, after the header): kept as its thread's
 * latest, unless the one kept is later. */
static void take_sample(struct calls_perf *p, const uint8_t *q, size_t len)
{
	const uint8_t *end = q + len;
	struct perf_slot *s;
	uint32_t tid, raw;
	uint64_t abi, size, regs[2], time_ns;

	if (len < 24)
		return;
	memcpy(&tid, q + 4, 4);
	memcpy(&time_ns, q + 8, 8);
	s = slot_of(p, (pid_t)tid);
	/* A thread that moved between CPUs has samples in two buffers: the
	 * one drained second may hold the older. */
	if (s->tid == (pid_t)tid && s->s.time_ns > time_ns)
		return;
	s->tid = 0; /* until it is whole */
	s->s.time_ns = time_ns;
	memcpy(&raw, q + 16, 4);
	q += 20;
	if ((size_t)(end - q) < raw || raw < p->args_off + 48 || raw < p->id_off + 8)
		return;
	memcpy(&s->s.nr, q + p->id_off, 8);
	memcpy(s->s.arg, q + p->args_off, 48);
	q += raw;
	if (end - q < 8)
		return;
	memcpy(&abi, q, 8);
	q += 8;
	if (abi == PERF_SAMPLE_REGS_ABI_NONE || end - q < 24)
		return; /* no user registers: not a call of user code */
	memcpy(regs, q, 16); /* in the order of their bits: the stack pointer first */
	q += 16;
	s->s.sp = PERF_SP < PERF_PC ? regs[0] : regs[1];
	s->s.pc = PERF_SP < PERF_PC ? regs[1] : regs[0];
	memcpy(&size, q, 8);
	q += 8;
	s->s.stack_len = 0;
	if (size && size <= CALLS_PERF_STACK && (uint64_t)(end - q) >= size + 8) {
		uint64_t dyn;

		memcpy(&dyn, q + size, 8);
		s->s.stack_len = dyn < size ? (size_t)dyn : (size_t)size;
		memcpy(s->stack, q, s->s.stack_len);
	}
	s->s.stack = s->stack;
	s->tid = (pid_t)tid;
}

/* Reads what cpu c's buffer holds since the last drain. */
static void drain(struct calls_perf *p, struct perf_cpu *c)
{
	uint64_t head = __atomic_load_n(&c->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = c->meta->data_tail, size = PERF_PAGES * p->page;
	struct perf_event_header h;
	const uint8_t *r;
	size_t at, k;

	while (tail + sizeof(h) <= head) {
		at = (size_t)(tail & (size - 1));
		for (k = 0; k < sizeof(h); k++)
			((uint8_t *)&h)[k] = c->data[(at + k) & (size - 1)];
		if (h.size < sizeof(h) || tail + h.size > head)
			break;
		if (at + h.size <= size) {
			r = c->data + at;
		} else { /* it wraps around the end */
			memcpy(p->rec, c->data + at, size - at);
			memcpy(p->rec + (size - at), c->data, h.size - (size - at));
			r = p->rec;
		}
		if (h.type == PERF_RECORD_SAMPLE)
			take_sample(p, r + sizeof(h), h.size - sizeof(h));
		else if (h.type == PERF_RECORD_LOST)
			for (k = 0; k < PERF_SLOTS; k++) /* whose, it does not say */
				p->slot[k].tid = 0;
		tail += h.size;
	}
	__atomic_store_n(&c->meta->data_tail, tail, __ATOMIC_RELEASE);
}

bool calls_perf_take(struct calls_perf *p, pid_t tid, struct calls_perf_sample *out)
{
	struct perf_slot *s;
	int i;

	for (i = 0; i < p->ncpu; i++)
		if (p->cpu[i].meta)
			drain(p, &p->cpu[i]);
	s = slot_of(p, tid);
	if (s->tid != tid)
		return false;
	*out = s->s;
	return true;
}
