/*
 * calls_log.c - the watched syscalls, and the calls log read back and
 * joined to the trace's records (calls.h says the format and the rule).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "calls.h"
#include "calls_i.h"

/* Every call that can change what a crash leaves, or force pages out. */
const struct calls_sys calls_sys[] = {
	{SYS_write, "write", "fpn", false},
	{SYS_pwrite64, "pwrite64", "fpnn", false},
	{SYS_writev, "writev", "fpn", false},
	{SYS_pwritev, "pwritev", "fpnn", false},
	{SYS_pwritev2, "pwritev2", "fpnn", false},
	{SYS_fsync, "fsync", "f", true},
	{SYS_fdatasync, "fdatasync", "f", true},
	{SYS_msync, "msync", "pnx", true},
	{SYS_sync, "sync", "", true},
	{SYS_syncfs, "syncfs", "f", true},
	{SYS_sync_file_range, "sync_file_range", "fnnx", true},
	{SYS_munmap, "munmap", "pn", true},
	{SYS_ftruncate, "ftruncate", "fn", false},
	{SYS_truncate, "truncate", "pn", false},
	{SYS_fallocate, "fallocate", "fxnn", false},
	{SYS_copy_file_range, "copy_file_range", "fpfp", false},
	{SYS_openat, "openat", "fpxx", false},
	{SYS_renameat, "renameat", "fpfp", false},
	{SYS_renameat2, "renameat2", "fpfp", false},
	{SYS_linkat, "linkat", "fpfp", false},
	{SYS_unlinkat, "unlinkat", "fpx", false},
	{SYS_mkdirat, "mkdirat", "fpx", false},
	{SYS_symlinkat, "symlinkat", "pfp", false},
	{SYS_mknodat, "mknodat", "fpxn", false},
	{SYS_fchmod, "fchmod", "fx", false},
	{SYS_fchmodat, "fchmodat", "fpx", false},
	{SYS_fchown, "fchown", "fnn", false},
	{SYS_fchownat, "fchownat", "fpnn", false},
	{SYS_utimensat, "utimensat", "fppx", false},
	{SYS_fsetxattr, "fsetxattr", "fppn", false},
	{SYS_setxattr, "setxattr", "pppn", false},
	{SYS_lsetxattr, "lsetxattr", "pppn", false},
	{SYS_fremovexattr, "fremovexattr", "fp", false},
	{SYS_removexattr, "removexattr", "pp", false},
	{SYS_lremovexattr, "lremovexattr", "pp", false},
#ifdef SYS_open /* the old path calls, where the architecture has them */
	{SYS_open, "open", "pxx", false},
	{SYS_creat, "creat", "px", false},
	{SYS_rename, "rename", "pp", false},
	{SYS_link, "link", "pp", false},
	{SYS_unlink, "unlink", "p", false},
	{SYS_mkdir, "mkdir", "px", false},
	{SYS_rmdir, "rmdir", "p", false},
	{SYS_symlink, "symlink", "pp", false},
	{SYS_mknod, "mknod", "pxn", false},
	{SYS_chmod, "chmod", "px", false},
	{SYS_chown, "chown", "pnn", false},
	{SYS_lchown, "lchown", "pnn", false},
	{SYS_utimes, "utimes", "pp", false},
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

/* One whole line into *c; false for anything else. */
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

int calls_load(const char *trace_dir, struct calls_log *log)
{
	char path[4096], line[1024];
	struct calls_call *v;
	size_t cap = 0;
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
		if (parse_line(line, &log->v[log->n]))
			log->n++;
	}
	fclose(f);
	qsort(log->v, log->n, sizeof(*log->v), call_cmp);
	if (index_flushes(log) < 0) {
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
