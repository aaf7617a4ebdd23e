/*
 * calls_site.c - where a watched call was made: the calling thread's stack,
 * unwound and symbolized while the thread waits in the call (calls.h).
 *
 * A thread blocked in a system call shows its stack pointer and program
 * counter in /proc/TID/syscall; with those two registers, the stack read
 * with process_vm_readv and the modules of /proc/TID/maps, libdw unwinds
 * by the call frame information (.eh_frame, .debug_frame) every module
 * carries, which needs no frame pointer.  A frame whose rule needs a
 * register we do not have ends the walk: the site is then what was found.
 * Each frame is named by its function and, where the module has debug
 * information, file:line.  The site is the first frames that have a
 * source line outside the C runtime (libc, the loader, a sanitizer's
 * interceptors): the engine's own code, past the wrappers; without any,
 * the first frames outside it (a static binary's libc has no line
 * information).
 *
 * One Dwfl per thread, made at the thread's first call and remade when a
 * program counter falls outside every module it knows (a library loaded
 * since, or an exec); names are cached per program counter.  Not thread
 * safe: the caller serializes (calls.c holds its notification thread's
 * calls and the tracer's under one lock).
 */
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "calls_i.h"

#define SITE_SLOTS 256      /* threads with a Dwfl at once (a power of two) */
#define SITE_STACK 16384    /* stack bytes read at once from the stack pointer */
#define SITE_FRAMES 8       /* frames walked at most */
#define SITE_SHOWN 3        /* frames named in a site */
#define SITE_NAMES 4096     /* cached frame names per thread (a power of two) */
#define SITE_CACHE 256      /* cached sites per thread (a power of two) */
#define SITE_WAYS 4         /* sites cached for one (pc, sp): one per path to it */
#define SITE_READS 48       /* stack words a cached site may depend on */
#define SITE_RAW 256        /* stack words a walk may read */

#if defined(__x86_64__)
#define SITE_SP_REG 7 /* DWARF register number of the stack pointer */
#elif defined(__aarch64__)
#define SITE_SP_REG 31
#endif

/* One cached frame name. */
struct site_name {
	uint64_t pc;    /* 0: empty */
	bool source;    /* has file:line */
	bool libc;      /* in the C runtime (runtime_module), not the engine's code */
	char text[120]; /* "wal_append() walkv.c:212" */
};

/*
 * A site found by a walk, and the stack words its path depends on.  The
 * walk is a function of the program counter, the stack pointer and the
 * words it read; of those, the path follows only the return addresses and
 * the words that point into the stack (saved frame pointers, from which a
 * frame's CFA may be computed).  The other words it read are callee-saved
 * registers holding the caller's data (a length, a heap pointer), which
 * differ from call to call and never steer the walk: keying on them made
 * a real engine's calls miss the cache every time.  So a later call with
 * the same registers whose stack holds the same values at the kept
 * addresses has the same site, without a walk.
 */
struct site_entry {
	uint64_t pc, sp;                 /* 0, 0: empty */
	uint64_t addr[SITE_READS];       /* words the path depends on, in read order */
	uint64_t val[SITE_READS];
	int nread;                       /* > SITE_READS: too many, never holds */
	char text[240];
};

/* A thread's unwinding state; also the callbacks' argument. */
struct site_thread {
	pid_t tid;                 /* 0: free */
	Dwfl *dwfl;
	int regs_fd;               /* /proc/TID/syscall, kept open, or -1 */
	struct site_entry *cache;  /* SITE_CACHE entries: sets of SITE_WAYS, by (pc, sp) hash */
	unsigned victim;           /* the way a miss replaces next, round robin */
	bool walking;              /* a walk is in progress: reads go to raw */
	uint64_t raw_addr[SITE_RAW]; /* the words the walk in progress read */
	uint64_t raw_val[SITE_RAW];
	int nraw;                  /* > SITE_RAW: too many to keep */
	uint64_t pc, sp;           /* the registers the walk starts from */
	long nr;                   /* the call they were read in */
	uint64_t arg[6];           /* its arguments */
	uint64_t lo;               /* address of stack[0] */
	size_t n;                  /* bytes of stack read */
	uint8_t stack[SITE_STACK];
	struct site_name *names;   /* SITE_NAMES entries, by pc hash */
};

struct calls_sites {
	struct site_thread *slot[SITE_SLOTS];
};

static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct site_thread *t = arg;
	struct iovec local = {.iov_base = result, .iov_len = sizeof(*result)};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = sizeof(*result)};

	bool ok;

	(void)dwfl;
	if (addr >= t->lo && addr + sizeof(*result) <= t->lo + t->n) {
		memcpy(result, t->stack + (addr - t->lo), sizeof(*result));
		ok = true;
	} else {
		ok = process_vm_readv(t->tid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof(*result);
	}
	if (ok && t->walking) { /* what the cached site may depend on */
		if (t->nraw < SITE_RAW) {
			t->raw_addr[t->nraw] = addr;
			t->raw_val[t->nraw] = *result;
		}
		t->nraw++;
	}
	return ok;
}

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct site_thread *t = arg;

	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = arg;
	return t->tid;
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct site_thread *t = arg;

	(void)dwfl;
	*thread_argp = arg;
	return tid == t->tid;
}

static bool cb_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct site_thread *t = arg;
	Dwarf_Word sp = t->sp;

	dwfl_thread_state_register_pc(thread, t->pc);
	return dwfl_thread_state_registers(thread, SITE_SP_REG, 1, &sp);
}

static const Dwfl_Thread_Callbacks site_callbacks = {
	.next_thread = cb_next_thread,
	.get_thread = cb_get_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_initial_registers,
};

/*
 * A module's separate debug information, looked for on this machine only:
 * by its build id (/usr/lib/debug/.build-id/, where Debian's debug
 * packages put it), else by its debug link beside the file, in its .debug
 * directory or under /usr/lib/debug.  Never through a debuginfod server,
 * as the standard callback would: loading its client and asking it costs
 * milliseconds per module, on the workload's path.
 */
static int find_debuginfo_here(Dwfl_Module *mod, void **userdata, const char *modname,
			       Dwarf_Addr base, const char *file_name, const char *debuglink,
			       GElf_Word crc, char **debuginfo_file_name)
{
	static const char *const fmt[] = {"%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s"};
	char path[PATH_MAX];
	const char *slash;
	size_t i;
	int fd, dir;

	fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink, crc,
					  debuginfo_file_name);
	if (fd >= 0 || !debuglink || !file_name || !(slash = strrchr(file_name, '/')))
		return fd;
	dir = (int)(slash - file_name);
	for (i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		snprintf(path, sizeof(path), fmt[i], dir, file_name, debuglink);
		if (strcmp(path, file_name) && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			*debuginfo_file_name = strdup(path);
			return fd;
		}
	}
	return -1;
}

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = find_debuginfo_here,
};

/* t's modules, from /proc/TID/maps, and the unwinder attached.  0 or -1. */
static int site_attach(struct site_thread *t)
{
	if (t->dwfl)
		dwfl_end(t->dwfl);
	t->dwfl = dwfl_begin(&proc_callbacks);
	if (!t->dwfl)
		return -1;
	if (dwfl_linux_proc_report(t->dwfl, t->tid) != 0 || dwfl_report_end(t->dwfl, NULL, NULL) ||
	    !dwfl_attach_state(t->dwfl, NULL, t->tid, &site_callbacks, t)) {
		dwfl_end(t->dwfl);
		t->dwfl = NULL;
		return -1;
	}
	memset(t->names, 0, SITE_NAMES * sizeof(*t->names));
	memset(t->cache, 0, SITE_CACHE * sizeof(*t->cache));
	return 0;
}

static struct site_thread *site_thread_of(struct calls_sites *cs, pid_t tid)
{
	size_t i = ((size_t)tid * 2654435761u) & (SITE_SLOTS - 1);
	struct site_thread *t = cs->slot[i];

	if (t && t->tid == tid)
		return t;
	if (t) /* another thread had the slot: it is reused */
		dwfl_end(t->dwfl);
	else if (!(t = cs->slot[i] = calloc(1, sizeof(*t))) ||
		 !(t->names = calloc(SITE_NAMES, sizeof(*t->names))) ||
		 !(t->cache = calloc(SITE_CACHE, sizeof(*t->cache)))) {
		if (t) {
			free(t->names);
			free(t);
		}
		cs->slot[i] = NULL;
		return NULL;
	} else {
		t->regs_fd = -1;
	}
	if (t->regs_fd >= 0)
		close(t->regs_fd);
	t->tid = tid;
	t->dwfl = NULL; /* attached at its first walk */
	t->regs_fd = -1;
	t->n = 0;
	return t;
}

/* What t's thread, blocked in a call, is calling, and its stack pointer and
 * program counter (/proc/TID/syscall, kept open and read again from 0):
 * "NR A0 ... A5 SP PC", all but NR in hex.  0, or -1 (running, not in a
 * call, gone, or not ours to read). */
static int read_regs(struct site_thread *t)
{
	char path[64], buf[512], *p, *end;
	ssize_t n;
	int i;

	if (t->regs_fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/syscall", (int)t->tid);
		if ((t->regs_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return -1;
	}
	t->n = 0; /* the stack is read when needed */
	n = pread(t->regs_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	t->nr = strtol(buf, &end, 10);
	if (end == buf || t->nr < 0)
		return -1;
	for (p = end, i = 0; i < 6; i++) {
		t->arg[i] = strtoull(p, &end, 16);
		if (end == p)
			return -1;
		p = end;
	}
	t->sp = strtoull(p, &end, 16);
	if (end == p)
		return -1;
	p = end;
	t->pc = strtoull(p, &end, 16);
	if (end == p)
		return -1;
	return 0;
}

/* True for a module of the C runtime: libc, the loader, a sanitizer's
 * interceptors.  Their frames are never the engine's site. */
static bool runtime_module(const char *base)
{
	static const char *const prefix[] = {"libc.so", "libc-", "ld-linux", "libpthread",
					     "libasan", "libubsan", "liblsan", "libtsan",
					     "libhwasan"};
	size_t i;

	for (i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (!strncmp(base, prefix[i], strlen(prefix[i])))
			return true;
	return false;
}

/*
 * The name of the frame at pc (already the call's address, not the
 * return's).  A frame of the C runtime is named only when text is asked
 * for: it is the site only when no frame outside it was found, and its
 * symbols (the separate debug information, when installed, is large and
 * compressed) cost milliseconds to load on the workload's path.
 */
static const struct site_name *frame_name(struct site_thread *t, uint64_t pc, bool text)
{
	struct site_name *e = &t->names[(pc * 2654435761u) & (SITE_NAMES - 1)];
	Dwfl_Module *m;
	Dwfl_Line *line;
	const char *fn, *file, *base, *mod = NULL;
	GElf_Off off;
	GElf_Sym sym;
	int lineno = 0;

	if (e->pc == pc && (e->text[0] || !text))
		return e;
	m = dwfl_addrmodule(t->dwfl, pc);
	if (e->pc != pc) {
		*e = (struct site_name){.pc = pc};
		if (m)
			dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, &mod, NULL);
		base = mod ? strrchr(mod, '/') : NULL;
		base = base ? base + 1 : mod;
		e->libc = base && runtime_module(base);
		if (e->libc && !text)
			return e;
	}
	fn = m ? dwfl_module_addrinfo(m, pc, &off, &sym, NULL, NULL, NULL) : NULL;
	/* No line lookup in the C library: it is never the site. */
	line = m && !e->libc ? dwfl_module_getsrc(m, pc) : NULL;
	file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
	base = file ? strrchr(file, '/') : NULL;
	e->source = file && lineno > 0;
	if (e->source)
		snprintf(e->text, sizeof(e->text), "%s() %s:%d", fn ? fn : "??",
			 base ? base + 1 : file, lineno);
	else
		snprintf(e->text, sizeof(e->text), "%s()", fn ? fn : "??");
	return e;
}

/* The frames' pcs (each a call's own address) walked from t's registers. */
struct site_walk {
	uint64_t pc[SITE_FRAMES];
	int n;
};

static int walk_frame(Dwfl_Frame *frame, void *arg)
{
	struct site_walk *w = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(frame, &pc, &activation) || !pc)
		return DWARF_CB_ABORT;
	w->pc[w->n++] = activation ? pc : pc - 1;
	return w->n < SITE_FRAMES ? DWARF_CB_OK : DWARF_CB_ABORT;
}

/* Reads t's stack and walks it; the number of frames. */
static int walk(struct site_thread *t, struct site_walk *w)
{
	struct iovec local = {.iov_base = t->stack, .iov_len = SITE_STACK};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)t->sp, .iov_len = SITE_STACK};
	ssize_t got = process_vm_readv(t->tid, &local, 1, &remote, 1, 0);

	t->lo = t->sp;
	t->n = got > 0 ? (size_t)got : 0;
	w->n = 0;
	dwfl_getthread_frames(t->dwfl, t->tid, walk_frame, w);
	return w->n;
}

struct calls_sites *calls_sites_new(void)
{
	return calloc(1, sizeof(struct calls_sites));
}

void calls_sites_forget(struct calls_sites *cs, pid_t tid)
{
	size_t i = ((size_t)tid * 2654435761u) & (SITE_SLOTS - 1);
	struct site_thread *t = cs ? cs->slot[i] : NULL;

	if (t && t->tid == tid) {
		dwfl_end(t->dwfl);
		t->dwfl = NULL;
		t->tid = 0;
		if (t->regs_fd >= 0)
			close(t->regs_fd);
		t->regs_fd = -1;
	}
}

void calls_sites_free(struct calls_sites *cs)
{
	size_t i;

	for (i = 0; cs && i < SITE_SLOTS; i++)
		if (cs->slot[i]) {
			if (cs->slot[i]->dwfl)
				dwfl_end(cs->slot[i]->dwfl);
			if (cs->slot[i]->regs_fd >= 0)
				close(cs->slot[i]->regs_fd);
			free(cs->slot[i]->names);
			free(cs->slot[i]->cache);
			free(cs->slot[i]);
		}
	free(cs);
}

/* Joins the names of frames [from, w->n) into buf, " <- " between, at most
 * SITE_SHOWN, ending before a frame back in the C library. */
static void site_text(struct site_thread *t, const struct site_walk *w, int from, char *buf,
		      size_t len)
{
	size_t at = 0;
	int k, shown = 0;

	buf[0] = 0;
	for (k = from; k < w->n && shown < SITE_SHOWN && at < len; k++, shown++) {
		const struct site_name *e = frame_name(t, w->pc[k], false);

		if (shown && e->libc) /* back in the C library: its start-up code */
			break;
		e = frame_name(t, w->pc[k], true);
		at += (size_t)snprintf(buf + at, len - at, "%s%s", shown ? " <- " : "", e->text);
	}
}

/* Keeps in e the words of t's last walk that steer a walk: those holding
 * one of its frames' return addresses, or an address in the stack. */
static void cache_keep(const struct site_thread *t, const struct site_walk *w,
		       struct site_entry *e)
{
	uint64_t v;
	bool keep;
	int k, f;

	e->nread = t->nraw > SITE_RAW ? SITE_READS + 1 : 0;
	for (k = 0; k < t->nraw && k < SITE_RAW && e->nread <= SITE_READS; k++) {
		v = t->raw_val[k];
		keep = v >= t->sp && v < t->sp + ((uint64_t)1 << 23); /* 8 MiB of stack */
		for (f = 1; f < w->n && !keep; f++)
			keep = v == w->pc[f] + 1; /* walk_frame's pc of a caller is its return address - 1 */
		if (!keep)
			continue;
		if (e->nread < SITE_READS) {
			e->addr[e->nread] = t->raw_addr[k];
			e->val[e->nread] = v;
		}
		e->nread++;
	}
}

/* Was way e cached for t's registers, and can it be checked? */
static bool way_fits(const struct site_thread *t, const struct site_entry *e)
{
	return e->pc == t->pc && e->sp == t->sp && e->nread <= SITE_READS;
}

/*
 * The way of set (SITE_WAYS entries) cached for t's registers that still
 * holds: every word its walk read has the same value now.  One read of
 * the span the words of every candidate way lie in.  NULL when none does.
 */
static const struct site_entry *cache_find(struct site_thread *t, const struct site_entry *set)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	struct iovec local = {.iov_base = t->stack}, remote;
	const struct site_entry *e;
	bool any = false;
	int k, j;

	for (k = 0; k < SITE_WAYS; k++) {
		e = &set[k];
		if (!way_fits(t, e))
			continue;
		if (e->nread == 0)
			return e;
		any = true;
		for (j = 0; j < e->nread; j++) {
			lo = e->addr[j] < lo ? e->addr[j] : lo;
			hi = e->addr[j] + 8 > hi ? e->addr[j] + 8 : hi;
		}
	}
	if (!any || hi - lo > SITE_STACK)
		return NULL;
	if (lo < t->lo || hi > t->lo + t->n) { /* not in what is at hand: read */
		local.iov_len = remote.iov_len = hi - lo;
		remote.iov_base = (void *)(uintptr_t)lo;
		if (process_vm_readv(t->tid, &local, 1, &remote, 1, 0) != (ssize_t)(hi - lo))
			return NULL;
		t->lo = lo;
		t->n = hi - lo;
	}
	for (k = 0; k < SITE_WAYS; k++) {
		e = &set[k];
		if (!way_fits(t, e))
			continue;
		for (j = 0; j < e->nread && !memcmp(t->stack + (e->addr[j] - t->lo), &e->val[j], 8);
		     j++)
			;
		if (j == e->nread)
			return e;
	}
	return NULL;
}

int calls_site_regs(struct calls_sites *cs, pid_t tid, long *nr, uint64_t arg[6])
{
	struct site_thread *t = site_thread_of(cs, tid);

	if (!t || read_regs(t) < 0) {
		if (t)
			t->pc = t->sp = 0;
		return -1;
	}
	*nr = t->nr;
	memcpy(arg, t->arg, sizeof(t->arg));
	return 0;
}

int calls_site_set(struct calls_sites *cs, pid_t tid, uint64_t sp, uint64_t pc,
		   const uint8_t *stack, size_t len)
{
	struct site_thread *t = site_thread_of(cs, tid);

	if (!t)
		return -1;
	t->sp = sp;
	t->pc = pc;
	t->lo = sp;
	t->n = len < SITE_STACK ? len : SITE_STACK;
	memcpy(t->stack, stack, t->n);
	return 0;
}

void calls_site(struct calls_sites *cs, pid_t tid, char *buf, size_t len)
{
	long nr;
	uint64_t arg[6];

	buf[0] = 0;
	if (calls_site_regs(cs, tid, &nr, arg) == 0)
		calls_site_walk(cs, tid, buf, len);
}

#include <time.h>
void calls_site_walk(struct calls_sites *cs, pid_t tid, char *buf, size_t len)
{
	struct site_thread *t = site_thread_of(cs, tid);
	struct site_entry *set, *e;
	const struct site_entry *hit;
	struct site_walk w;
	int k;

	buf[0] = 0;
	if (!t || !t->pc || (!t->dwfl && site_attach(t) < 0))
		return;
	/* One call in the code is reached by several paths with the same
	 * registers (two callers of one wrapper): each keeps its own way. */
	set = &t->cache[(((t->pc ^ (t->sp * 0x9e3779b97f4a7c15u)) >> 4) * SITE_WAYS) &
			(SITE_CACHE - 1)];
	if ((hit = cache_find(t, set))) {
		snprintf(buf, len, "%s", hit->text);
		return;
	}
	for (k = 0; k < SITE_WAYS && set[k].pc; k++)
		;
	e = &set[k < SITE_WAYS ? (unsigned)k : t->victim++ % SITE_WAYS];
	if (!dwfl_addrmodule(t->dwfl, t->pc) && site_attach(t) < 0) /* loaded since: again */
		return;
	*e = (struct site_entry){.pc = t->pc, .sp = t->sp};
	t->walking = true;
	t->nraw = 0;
	k = walk(t, &w);
	t->walking = false;
	if (k == 0) {
		e->pc = e->sp = 0;
		return;
	}
	cache_keep(t, &w, e);
	/* The engine's first frame with a source line; else its first frame. */
	for (k = 0; k < w.n && (frame_name(t, w.pc[k], false)->libc ||
				!frame_name(t, w.pc[k], false)->source); k++)
		;
	if (k == w.n)
		for (k = 0; k < w.n && frame_name(t, w.pc[k], false)->libc; k++)
			;
	site_text(t, &w, k < w.n ? k : 0, buf, len);
	snprintf(e->text, sizeof(e->text), "%s", buf);
}
