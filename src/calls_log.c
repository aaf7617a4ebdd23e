/*
 * calls_log.c - the watched syscalls, and the calls log read back and
 * joined to the trace's records (calls.h says the format and the rule).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "calls.h"
#include "calls_i.h"
#include "trace.h"

/*
 * Every call that can change what a crash leaves, or force pages out.  The
 * ones marked traced are stopped by the tracer (calls.c): they make no
 * request of their own that faultline-fs could join (sync, msync(MS_ASYNC),
 * io_uring's submissions, mmap), or their window must open before the
 * kernel's write-back they force (msync).  faultline-fs joins every other
 * one at the request it makes (fusefs/fs_calls.c), without a stop.
 */
const struct calls_sys calls_sys[] = {
	{SYS_write, "write", "fpn", false, false},
	{SYS_pwrite64, "pwrite64", "fpnn", false, false},
	{SYS_writev, "writev", "fpn", false, false},
	{SYS_pwritev, "pwritev", "fpnn", false, false},
	{SYS_pwritev2, "pwritev2", "fpnn", false, false},
	{SYS_fsync, "fsync", "f", true, false},
	{SYS_fdatasync, "fdatasync", "f", true, false},
	{SYS_msync, "msync", "pnx", true, true},
	{SYS_sync, "sync", "", true, true},
	{SYS_syncfs, "syncfs", "f", true, true},
	{SYS_sync_file_range, "sync_file_range", "fnnx", true, true},
	{SYS_munmap, "munmap", "pn", true, true},
	{SYS_mmap, "mmap", "pnxx", false, true}, /* only MAP_SHARED ones are stopped (calls.c) */
	{SYS_ftruncate, "ftruncate", "fn", false, false},
	{SYS_truncate, "truncate", "pn", false, false},
	{SYS_fallocate, "fallocate", "fxnn", false, false},
	{SYS_copy_file_range, "copy_file_range", "fpfp", false, false},
	{SYS_openat, "openat", "fpxx", false, false},
	{SYS_renameat, "renameat", "fpfp", false, false},
	{SYS_renameat2, "renameat2", "fpfp", false, false},
	{SYS_linkat, "linkat", "fpfp", false, false},
	{SYS_unlinkat, "unlinkat", "fpx", false, false},
	{SYS_mkdirat, "mkdirat", "fpx", false, false},
	{SYS_symlinkat, "symlinkat", "pfp", false, false},
	{SYS_mknodat, "mknodat", "fpxn", false, false},
	{SYS_fchmod, "fchmod", "fx", false, false},
	{SYS_fchmodat, "fchmodat", "fpx", false, false},
	{SYS_fchown, "fchown", "fnn", false, false},
	{SYS_fchownat, "fchownat", "fpnn", false, false},
	{SYS_utimensat, "utimensat", "fppx", false, false},
	{SYS_fsetxattr, "fsetxattr", "fppn", false, false},
	{SYS_setxattr, "setxattr", "pppn", false, false},
	{SYS_lsetxattr, "lsetxattr", "pppn", false, false},
	{SYS_fremovexattr, "fremovexattr", "fp", false, false},
	{SYS_removexattr, "removexattr", "pp", false, false},
	{SYS_lremovexattr, "lremovexattr", "pp", false, false},
	{SYS_io_uring_setup, "io_uring_setup", "np", false, true},
	{SYS_io_uring_enter, "io_uring_enter", "fnnx", false, true},
#ifdef SYS_open /* the old path calls, where the architecture has them */
	{SYS_open, "open", "pxx", false, false},
	{SYS_creat, "creat", "px", false, false},
	{SYS_rename, "rename", "pp", false, false},
	{SYS_link, "link", "pp", false, false},
	{SYS_unlink, "unlink", "p", false, false},
	{SYS_mkdir, "mkdir", "px", false, false},
	{SYS_rmdir, "rmdir", "p", false, false},
	{SYS_symlink, "symlink", "pp", false, false},
	{SYS_mknod, "mknod", "pxn", false, false},
	{SYS_chmod, "chmod", "px", false, false},
	{SYS_chown, "chown", "pnn", false, false},
	{SYS_lchown, "lchown", "pnn", false, false},
	{SYS_utimes, "utimes", "pp", false, false},
#endif
};
const size_t calls_nsys = sizeof(calls_sys) / sizeof(calls_sys[0]);

const struct calls_sys *calls_sys_of(long nr)
{
	size_t i;

	for (i = 0; i < calls_nsys; i++)
		if (calls_sys[i].nr == nr)
			return &calls_sys[i];
	return NULL;
}

const char *calls_name(long nr)
{
	const struct calls_sys *s = calls_sys_of(nr);

	return s ? s->name : NULL;
}

static int call_cmp(const void *a, const void *b)
{
	const struct calls_call *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->entry_ns < y->entry_ns ? -1 : x->entry_ns > y->entry_ns;
}

int calls_format(char *buf, size_t len, const struct calls_call *c)
{
	const char *site = c->site ? c->site : "";

	return snprintf(buf, len, "%u %ld %lld %llu %llu %llx %llx %llx %llx%s%s\n", c->tid, c->nr,
			c->result, (unsigned long long)c->entry_ns, (unsigned long long)c->exit_ns,
			(unsigned long long)c->arg[0], (unsigned long long)c->arg[1],
			(unsigned long long)c->arg[2], (unsigned long long)c->arg[3],
			site[0] ? "\t" : "", site);
}

/* One whole line into *c (calls_format's); false for anything else. */
static bool parse_line(const char *line, struct calls_call *c)
{
	unsigned long long e, x, a[4];
	unsigned tid;
	long long res;
	long nr;
	int used = 0;

	const char *site, *end;

	if (sscanf(line, "%u %ld %lld %llu %llu %llx %llx %llx %llx%n", &tid, &nr, &res, &e, &x,
		   &a[0], &a[1], &a[2], &a[3], &used) != 9 || (x && x < e) ||
	    (line[used] != '\n' && line[used] != '\t') || !(end = strchr(line + used, '\n')))
		return false;
	*c = (struct calls_call){.tid = tid, .nr = nr, .result = res, .entry_ns = e,
				 .exit_ns = x, .arg = {a[0], a[1], a[2], a[3]}};
	site = line + used + (line[used] == '\t');
	if (end > site && !(c->site = strndup(site, (size_t)(end - site))))
		return false;
	return true;
}

/* The end of call i's window: its return, or its thread's next call, or never. */
static uint64_t window_end(const struct calls_log *log, size_t i)
{
	if (log->v[i].exit_ns)
		return log->v[i].exit_ns;
	if (i + 1 < log->n && log->v[i + 1].tid == log->v[i].tid)
		return log->v[i + 1].entry_ns;
	return UINT64_MAX;
}

static int flush_cmp(const void *a, const void *b, void *arg)
{
	const struct calls_log *log = arg;
	uint64_t x = log->v[*(const size_t *)a].entry_ns;
	uint64_t y = log->v[*(const size_t *)b].entry_ns;

	return x < y ? -1 : x > y;
}

/* log->flush and flush_end, for flusher().  0 or -ENOMEM. */
static int index_flushes(struct calls_log *log)
{
	const struct calls_sys *s;
	uint64_t most = 0, end;
	size_t i, k = 0;

	log->flush = malloc((log->n + 1) * sizeof(*log->flush));
	log->flush_end = malloc((log->n + 1) * sizeof(*log->flush_end));
	if (!log->flush || !log->flush_end)
		return -ENOMEM;
	for (i = 0; i < log->n; i++)
		if ((s = calls_sys_of(log->v[i].nr)) && s->flush)
			log->flush[k++] = i;
	log->nflush = k;
	qsort_r(log->flush, k, sizeof(*log->flush), flush_cmp, log);
	for (i = 0; i < k; i++) {
		end = window_end(log, log->flush[i]);
		most = end > most ? end : most;
		log->flush_end[i] = most;
	}
	return 0;
}

/* An SQE line, kept until its call is found: tid and entry_ns in call, k. */
struct sqe_line {
	struct calls_sqe q;
	uint32_t tid;
	uint64_t entry_ns;
};

/* One whole "sqe" line into *l; false for anything else. */
static bool parse_sqe(const char *line, struct sqe_line *l)
{
	unsigned long long e, off;
	unsigned tid, flags, rw;
	int fd, used = 0;

	memset(l, 0, sizeof(*l));
	if (sscanf(line, "sqe %u %llu %23s %d %x %llu %x%n", &tid, &e, l->q.op, &fd, &flags, &off,
		   &rw, &used) != 7 || line[used] != '\n')
		return false;
	l->tid = tid;
	l->entry_ns = e;
	l->q.fd = fd;
	l->q.flags = flags;
	l->q.off = off;
	l->q.rw_flags = rw;
	return true;
}

/* The index in v of the call of tid entered at entry_ns, or log->n. */
static size_t call_at(const struct calls_log *log, uint32_t tid, uint64_t entry_ns)
{
	struct calls_call key = {.tid = tid, .entry_ns = entry_ns};
	const struct calls_call *c =
		log->n ? bsearch(&key, log->v, log->n, sizeof(*log->v), call_cmp) : NULL;

	return c ? (size_t)(c - log->v) : log->n;
}

static int sqe_time_cmp(const void *a, const void *b, void *arg)
{
	const struct calls_log *log = arg;
	const struct calls_sqe *x = &log->sqe[*(const size_t *)a], *y = &log->sqe[*(const size_t *)b];
	uint64_t tx = log->v[x->call].entry_ns, ty = log->v[y->call].entry_ns;

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return x->k < y->k ? -1 : x->k > y->k;
}

/*
 * The SQE lines, given to their io_uring_enter calls (in file order, which
 * is submission order), numbered and chained; lines of no call dropped.
 * Takes lines.  0 or -ENOMEM.
 */
static int attach_sqes(struct calls_log *log, struct sqe_line *lines, size_t n)
{
	size_t i, c, prev = log->n;
	uint32_t k = 0, chain = 0;

	log->sqe = malloc((n + 1) * sizeof(*log->sqe));
	if (!log->sqe) {
		free(lines);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		c = call_at(log, lines[i].tid, lines[i].entry_ns);
		if (c == log->n || log->v[c].nr != SYS_io_uring_enter)
			continue;
		if (c != prev) {
			k = 0;
			chain = 0;
			prev = c;
		}
		lines[i].q.call = c;
		lines[i].q.k = k++;
		lines[i].q.chain = chain;
		if (!(lines[i].q.flags & CALLS_SQE_LINKS))
			chain++;
		log->sqe[log->nsqe++] = lines[i].q;
	}
	free(lines);
	if (!(log->sqe_by_time = malloc((log->nsqe + 1) * sizeof(size_t))))
		return -ENOMEM;
	for (i = 0; i < log->nsqe; i++)
		log->sqe_by_time[i] = i;
	qsort_r(log->sqe_by_time, log->nsqe, sizeof(size_t), sqe_time_cmp, log);
	return 0;
}

int calls_load(const char *trace_dir, struct calls_log *log)
{
	char path[4096], line[1024];
	struct calls_call *v;
	struct sqe_line *sl = NULL, *nl;
	size_t cap = 0, nsl = 0, slcap = 0;
	FILE *f;

	memset(log, 0, sizeof(*log));
	snprintf(path, sizeof(path), "%s/" CALLS_LOG, trace_dir);
	if (!(f = fopen(path, "re")))
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (log->n == cap) {
			cap = cap ? 2 * cap : 1024;
			if (!(v = realloc(log->v, cap * sizeof(*v)))) {
				fclose(f);
				calls_log_free(log);
				return -ENOMEM;
			}
			log->v = v;
		}
		if (nsl == slcap) {
			slcap = slcap ? 2 * slcap : 64;
			if (!(nl = realloc(sl, slcap * sizeof(*sl)))) {
				fclose(f);
				free(sl);
				calls_log_free(log);
				return -ENOMEM;
			}
			sl = nl;
		}
		if (parse_line(line, &log->v[log->n]))
			log->n++;
		else if (parse_sqe(line, &sl[nsl]))
			nsl++;
	}
	fclose(f);
	if (log->n) /* an empty log (no watched call made) has no array at all */
		qsort(log->v, log->n, sizeof(*log->v), call_cmp);
	if (attach_sqes(log, sl, nsl) < 0 || index_flushes(log) < 0) {
		calls_log_free(log);
		return -ENOMEM;
	}
	return 0;
}

void calls_log_free(struct calls_log *log)
{
	size_t i;

	for (i = 0; i < log->n; i++)
		free(log->v[i].site);
	free(log->v);
	free(log->sqe);
	free(log->sqe_by_time);
	free(log->flush);
	free(log->flush_end);
	memset(log, 0, sizeof(*log));
}


/*
 * The flushing call with the narrowest window holding t, of any thread:
 * back from the last one entered by t, while an earlier window may still
 * reach t (flush_end, the running maximum of the ends, says).
 */
static const struct calls_call *flusher(const struct calls_log *log, uint64_t t)
{
	uint64_t best_w = UINT64_MAX, end;
	size_t lo = 0, hi = log->nflush, mid, j, best = log->n;

	while (lo < hi) { /* the first entered after t */
		mid = lo + (hi - lo) / 2;
		if (log->v[log->flush[mid]].entry_ns <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (j = lo; j-- > 0 && log->flush_end[j] >= t;) {
		size_t i = log->flush[j];

		if (t <= (end = window_end(log, i)) && end - log->v[i].entry_ns < best_w) {
			best = i;
			best_w = end - log->v[i].entry_ns;
		}
	}
	return best < log->n ? &log->v[best] : NULL;
}

const struct calls_call *calls_join(const struct calls_log *log, uint32_t pid, uint64_t time_ns)
{
	size_t lo = 0, hi = log->n, mid;

	if (pid == 0)
		return flusher(log, time_ns);
	/* The last call of pid entered at or before time_ns. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (log->v[mid].tid < pid || (log->v[mid].tid == pid && log->v[mid].entry_ns <= time_ns))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || log->v[lo - 1].tid != pid ||
	    (log->v[lo - 1].exit_ns && log->v[lo - 1].exit_ns < time_ns))
		return NULL;
	return &log->v[lo - 1];
}

/* How many SQEs back from a record's time its SQE is looked for. */
#define CALLS_SQE_REACH 4096

/* Could SQE q have made a record op (off, flags)? By the opcode and what the record says. */
static bool sqe_makes(const struct calls_sqe *q, uint16_t op, uint64_t off, uint32_t flags)
{
	static const struct {
		uint16_t op;
		const char *sqe;
	} kinds[] = {
		{TRACE_OP_WRITE, "WRITE"}, {TRACE_OP_WRITE, "WRITEV"}, {TRACE_OP_WRITE, "WRITE_FIXED"},
		{TRACE_OP_FSYNC, "FSYNC"}, {TRACE_OP_FSYNCDIR, "FSYNC"},
		{TRACE_OP_FALLOCATE, "FALLOCATE"}, {TRACE_OP_TRUNCATE, "FTRUNCATE"},
		{TRACE_OP_RENAME, "RENAMEAT"}, {TRACE_OP_UNLINK, "UNLINKAT"},
		{TRACE_OP_RMDIR, "UNLINKAT"}, {TRACE_OP_MKDIR, "MKDIRAT"},
		{TRACE_OP_LINK, "LINKAT"}, {TRACE_OP_SYMLINK, "SYMLINKAT"},
		{TRACE_OP_CREATE, "OPENAT"}, {TRACE_OP_CREATE, "OPENAT2"},
		{TRACE_OP_SETXATTR, "FSETXATTR"}, {TRACE_OP_SETXATTR, "SETXATTR"},
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].op == op && !strcmp(kinds[i].sqe, q->op))
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return false;
	if (op == TRACE_OP_WRITE)
		return q->off == off || q->off == UINT64_MAX; /* -1: at the file position */
	if (op == TRACE_OP_FSYNC || op == TRACE_OP_FSYNCDIR)
		return (q->rw_flags & 1) == (flags & 1);
	return true;
}

const struct calls_sqe *calls_join_sqe(const struct calls_log *log, bool *taken,
				       const struct calls_call *joined, uint32_t pid, uint64_t time_ns,
				       uint16_t op, uint64_t off, uint32_t flags)
{
	size_t lo = 0, hi = log->nsqe, mid, j, seen, best = log->nsqe;
	uint64_t call_at_best = 0;

	if (pid == 0 || (joined && joined->nr != SYS_io_uring_enter))
		return NULL;
	while (lo < hi) { /* the first SQE entered after time_ns */
		mid = lo + (hi - lo) / 2;
		if (log->v[log->sqe[log->sqe_by_time[mid]].call].entry_ns <= time_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Back from there, through the latest submission with a fitting SQE
	 * (its first), looking no further than CALLS_SQE_REACH SQEs back. */
	for (j = lo, seen = 0; j-- > 0 && seen < CALLS_SQE_REACH; seen++) {
		size_t x = log->sqe_by_time[j];
		const struct calls_sqe *q = &log->sqe[x];

		if (best < log->nsqe && q->call != call_at_best)
			break;
		if (!taken[x] && sqe_makes(q, op, off, flags)) {
			best = x;
			call_at_best = q->call;
		}
	}
	if (best == log->nsqe)
		return NULL;
	taken[best] = true;
	return &log->sqe[best];
}

const struct calls_call *calls_non_barrier(const struct calls_log *log, uint64_t from_ns,
					   uint64_t to_ns)
{
	const struct calls_call *best = NULL;
	size_t i;

	for (i = 0; i < log->nflush; i++) {
		const struct calls_call *c = &log->v[log->flush[i]];

		if (c->entry_ns <= from_ns || c->entry_ns > to_ns)
			continue;
		if ((c->nr == SYS_msync && !(c->arg[2] & MS_SYNC)) || c->nr == SYS_sync_file_range)
			if (!best || c->entry_ns < best->entry_ns)
				best = c;
	}
	return best;
}

void calls_describe(const struct calls_call *c, char *buf, size_t len)
{
	const struct calls_sys *s = calls_sys_of(c->nr);
	size_t k, n;
	const char *fmt = s ? s->fmt : "";

	n = (size_t)snprintf(buf, len, "%s(", s ? s->name : "?");
	for (k = 0; fmt[k] && k < 4 && n < len; k++) {
		const char *sep = k ? ", " : "";

		if (fmt[k] == 'p')
			n += (size_t)snprintf(buf + n, len - n, "%s...", sep);
		else if (fmt[k] == 'x')
			n += (size_t)snprintf(buf + n, len - n, "%s0x%" PRIx64, sep, c->arg[k]);
		else /* f, n: as the C int or long they are */
			n += (size_t)snprintf(buf + n, len - n, "%s%" PRId64, sep,
					      fmt[k] == 'f' ? (int64_t)(int32_t)c->arg[k]
							    : (int64_t)c->arg[k]);
	}
	if (n < len && c->exit_ns) /* a call not stopped at its return has no result */
		n += (size_t)snprintf(buf + n, len - n, ") = %lld", c->result);
	else if (n < len)
		n += (size_t)snprintf(buf + n, len - n, ")");
	if (n < len && c->site)
		snprintf(buf + n, len - n, " in %s", c->site);
}

bool calls_words(const struct calls_call *c, const struct calls_sqe *q, bool early,
		 bool writeback, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	if (q && c) {
		calls_sqe_describe(q, buf, len);
		n = strlen(buf);
		n += (size_t)snprintf(buf + n, len - n, " submitted by ");
	} else if (early && c) {
		n = (size_t)snprintf(buf, len, "%s", CALLS_EARLY_WORDS);
	}
	if (n >= len)
		return true;
	if (c)
		calls_describe(c, buf + n, len - n);
	else if (writeback)
		snprintf(buf, len, CALLS_WRITEBACK);
	return buf[0] != 0;
}

void calls_sqe_describe(const struct calls_sqe *q, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "%s(fd %d", q->op, q->fd);

	if (n < len && q->off != UINT64_MAX && strcmp(q->op, "FSYNC"))
		n += (size_t)snprintf(buf + n, len - n, ", @%" PRIu64, q->off);
	if (n < len && !strcmp(q->op, "FSYNC") && (q->rw_flags & 1))
		n += (size_t)snprintf(buf + n, len - n, ", datasync");
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, ")%s%s", q->flags & CALLS_SQE_LINKS ? " linked" : "",
				      q->flags & CALLS_SQE_DRAIN ? " drained" : "");
}
