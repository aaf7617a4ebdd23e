/*
 * fs_calls.c - record --calls inside faultline-fs: the workload's calls
 * joined at the requests they make, with no stop (calls.h).
 *
 * While faultline-fs serves a request, the thread that made it is blocked
 * in its system call.  So, for each record of a process (rec_append), the
 * call it is in, with its arguments, registers and the start of its
 * stack, is known: from the kernel's sample of the call's entry
 * (calls_perf.c, asked for by the tracer with "\001perf PID" before the
 * workload runs), or else from /proc/TID/syscall.  A call of calls_sys
 * that the tracer does not stop is logged then, as the tracer logs its
 * own (one line of the calls log, exit time 0), with its site unwound
 * from the waiting thread's stack (calls_site.c).  Then the changed pages
 * of every shared mapping the tracer told us of are captured
 * (calls_maps.c), before the call's own record: the call boundary the
 * early write-back model counts from.
 *
 * A call that makes several records is logged once (same_call).  A
 * sampled call's window opens at its entry; one read from /proc opens at
 * its first request, but for an fsync or fdatasync, which opens at the
 * first kernel write-back (pid 0) of its file since that file's last
 * request of a process: those are the pages it forced out, and they come
 * before its FSYNC request.
 *
 * One lock serializes the unwinding and the log; the records themselves
 * are appended as usual.  The log is buffered and written in whole lines
 * (O_APPEND: the tracer appends to the same file) when the buffer fills
 * and when faultline-fs ends; a faultline-fs killed by SIGKILL loses the
 * lines of its last 32 KiB, and their records are then not joined.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "calls_i.h"
#include "fs_req.h"
#include "trace.h"

#define FS_CALLS_THREADS 4096 /* threads remembered at once (a power of two) */
#define FS_CALLS_WB 64        /* files with a kernel write-back not yet followed by a request */
#define FS_CALLS_FLUSH 32768  /* the log buffer is written out past this */

/* A thread's last logged call. */
struct fs_calls_thread {
	pid_t tid;         /* 0: empty */
	long nr;           /* the call; -1 none yet */
	uint64_t arg[6];   /* its arguments */
	uint64_t entry_ns; /* when it was logged */
	uint64_t seen_ns;  /* its last request, on the trace's clock */
	uint16_t op;       /* its last record's op */
	uint64_t id;       /* and file */
	uint64_t more;     /* bytes it asked to write that no record has carried yet */
};

struct fs_calls {
	pthread_mutex_t lock;
	int log_fd;
	bool sites_on;             /* not FAULTLINE_CALLS_NOSITES */
	struct calls_sites *sites; /* unwinders (and /proc/TID/syscall readers), under lock */
	struct calls_maps *maps;   /* the shared mappings followed; its own lock */
	struct calls_perf *perf;   /* the kernel's samples of the calls' entries, or NULL */
	uint64_t sampled, read;    /* calls found from a sample, from /proc */
	struct {
		uint64_t id, ns;   /* a file's first write-back since its last request */
	} wb[FS_CALLS_WB];
	size_t nwb;
	size_t len;                /* bytes in buf */
	char buf[2 * FS_CALLS_FLUSH];
	struct fs_calls_thread th[FS_CALLS_THREADS];
};

/* Now on the trace's clock. */
static uint64_t calls_now(struct fs *fs)
{
	struct timespec ts;
	uint64_t t, t0 = trace_writer_t0_ns(fs->trace);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return t > t0 ? t - t0 : 0;
}

static void log_flush(struct fs_calls *c)
{
	size_t off = 0;
	ssize_t w;

	while (c->log_fd >= 0 && off < c->len) {
		if ((w = write(c->log_fd, c->buf + off, c->len - off)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "faultline-fs: cannot write the calls log: %s\n", strerror(errno));
			close(c->log_fd);
			c->log_fd = -1;
		} else {
			off += (size_t)w;
		}
	}
	c->len = 0;
}

/* A mapped file, as the captures need it: its backing file (read-only,
 * for its size) and its file id. */
struct fs_calls_file {
	int fd;
	uint64_t id;
};

/*
 * A captured page of a shared mapping (calls_maps.c), at a call of tid: a
 * WRITE record flagged TRACE_WF_EARLY of those bytes, kept to the file's
 * size; the backing file is not written.  Nothing for an offset past its
 * end.
 */
static void early_page(void *arg, void *file, pid_t tid, uint64_t off, const void *page,
		       size_t len)
{
	struct fs_calls_file *f = file;
	struct fs *fs = arg;
	struct trace_rec r;
	struct stat st;

	if (fstat(f->fd, &st) < 0 || off >= (uint64_t)st.st_size)
		return;
	if (off + len > (uint64_t)st.st_size)
		len = (size_t)((uint64_t)st.st_size - off);
	rec_start(&r, TRACE_OP_WRITE, NULL);
	r.id = f->id;
	r.pid = (uint32_t)tid;
	r.off = off;
	r.len = (uint32_t)len;
	r.flags = TRACE_WF_WRITEPAGE | TRACE_WF_EARLY;
	r.data = page;
	r.data_len = (uint32_t)len;
	rec_append(fs, &r, (int)len);
}

static void file_drop(void *arg, void *file)
{
	struct fs_calls_file *f = file;

	(void)arg;
	if (f) {
		close(f->fd);
		free(f);
	}
}

/* The file at path (relative to the mount) as a mapping's, or NULL: not
 * a regular file the inode table knows, or no memory. */
static struct fs_calls_file *file_of(struct fs *fs, const char *path)
{
	struct fs_calls_file *f = malloc(sizeof(*f));
	struct stat st;

	if (!f || (f->fd = openat(fs->root.fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		free(f);
		return NULL;
	}
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode) || !(f->id = fs_id_of(fs, &st))) {
		file_drop(NULL, f);
		return NULL;
	}
	return f;
}

int fs_calls_open(struct fs *fs, const char *log)
{
	struct fs_calls *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->sites_on = !getenv("FAULTLINE_CALLS_NOSITES");
	if ((c->log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644)) < 0 ||
	    !(c->sites = calls_sites_new()) || !(c->maps = calls_maps_new(early_page, file_drop, fs))) {
		int err = c->log_fd < 0 ? -errno : -ENOMEM;

		fs->calls = c;
		fs_calls_close(fs);
		return err;
	}
	fs->calls = c;
	return 0;
}

void fs_calls_close(struct fs *fs)
{
	struct fs_calls *c = fs->calls;

	if (!c)
		return;
	fs->calls = NULL;
	if (getenv("FAULTLINE_CALLS_STATS"))
		fprintf(stderr, "faultline-fs: calls: %llu found from the kernel's samples, %llu read "
			"from /proc\n", (unsigned long long)c->sampled, (unsigned long long)c->read);
	calls_perf_close(c->perf);
	log_flush(c);
	if (c->log_fd >= 0)
		close(c->log_fd);
	calls_sites_free(c->sites);
	calls_maps_free(c->maps);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The index of file id's write-back entry, or c->nwb when it has none. */
static size_t wb_find(struct fs_calls *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->nwb && c->wb[i].id != id; i++)
		;
	return i;
}

static void wb_drop(struct fs_calls *c, size_t i)
{
	if (i < c->nwb)
		c->wb[i] = c->wb[--c->nwb];
}

/* A kernel write-back (pid 0) of file id: the first since its last request is kept. */
static void wb_note(struct fs *fs, struct fs_calls *c, uint64_t id)
{
	pthread_mutex_lock(&c->lock);
	if (wb_find(c, id) == c->nwb) {
		if (c->nwb == FS_CALLS_WB)
			wb_drop(c, 0); /* the oldest is let go: its fsync's window is narrower */
		c->wb[c->nwb].id = id;
		c->wb[c->nwb++].ns = calls_now(fs);
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * The bytes call nr (arguments arg) of tid asks to write: its length, or
 * the sum of its vector's (read from tid); 0 for a call that writes no
 * buffer, or whose vector cannot be read.
 */
static uint64_t call_bytes(pid_t tid, long nr, const uint64_t *arg)
{
	struct iovec v[64], local = {.iov_base = v}, remote;
	uint64_t sum = 0;
	size_t n, k;

	if (nr == SYS_write || nr == SYS_pwrite64)
		return arg[2];
	if (nr == SYS_copy_file_range)
		return arg[4];
	if (nr != SYS_writev && nr != SYS_pwritev && nr != SYS_pwritev2)
		return 0;
	n = arg[2] < 64 ? (size_t)arg[2] : 64;
	local.iov_len = remote.iov_len = n * sizeof(v[0]);
	remote.iov_base = (void *)(uintptr_t)arg[1];
	if (process_vm_readv(tid, &local, 1, &remote, 1, 0) != (ssize_t)local.iov_len)
		return 0;
	for (k = 0; k < n; k++)
		sum += v[k].iov_len;
	return sum;
}

/* The bytes of its call's buffer a record carried: a write's, or a mark's
 * line and its newline. */
static uint64_t rec_bytes(const struct trace_rec *r)
{
	return r->op == TRACE_OP_WRITE ? r->len : r->op == TRACE_OP_MARK ? r->name_len + 1u : 0;
}

/* Record r carried more of the bytes t's call asked to write. */
static void carried(struct fs_calls_thread *t, const struct trace_rec *r)
{
	t->more -= t->more < rec_bytes(r) ? t->more : rec_bytes(r);
}

/*
 * Is this request of t one more of the call it logged last?  A call makes
 * one request, but for a write longer than one request (its WRITEs, each
 * from where the last stopped, until the bytes it asked for are seen), a
 * write to the control file of several lines (one MARK each), and an
 * open that creates (its CREATE, then its OPEN).  Two calls with the same
 * arguments one after the other are told apart by that count.
 */
static bool same_call(const struct fs_calls_thread *t, long nr, const uint64_t *arg,
		      const struct trace_rec *r)
{
	if (t->nr != nr || memcmp(t->arg, arg, sizeof(t->arg)))
		return false;
	if (r->op == TRACE_OP_OPEN && t->op == TRACE_OP_CREATE)
		return r->id == t->id;
	return t->more && r->op == t->op &&
	       ((r->op == TRACE_OP_WRITE && r->id == t->id) || r->op == TRACE_OP_MARK);
}

/*
 * What call t's thread is blocked in, into *nr and arg, and its entry on
 * the trace's clock into *entry (0: unknown, now will do); its registers
 * and stack handed to the unwinder.  From the kernel's sample of its
 * entry (calls_perf.c) when the thread's latest is newer than its last
 * request, or is the call that request was made in (a call of several
 * requests: the thread made no call since); else from /proc/TID/syscall.
 * False when it is in none we can read.
 */
static bool call_of(struct fs *fs, struct fs_calls *c, struct fs_calls_thread *t, long *nr,
		    uint64_t *arg, uint64_t *entry)
{
	struct calls_perf_sample smp;
	uint64_t now = calls_now(fs), t0 = trace_writer_t0_ns(fs->trace);
	bool took = c->perf && calls_perf_take(c->perf, t->tid, &smp) &&
		    (smp.time_ns > t->seen_ns + t0 ||
		     (smp.nr == t->nr && !memcmp(smp.arg, t->arg, sizeof(smp.arg))));

	t->seen_ns = now;
	*entry = 0;
	if (took) {
		c->sampled++;
		*nr = smp.nr;
		memcpy(arg, smp.arg, sizeof(smp.arg));
		*entry = smp.time_ns > t0 ? smp.time_ns - t0 : 0;
		if (c->sites_on)
			calls_site_set(c->sites, t->tid, smp.sp, smp.pc, smp.stack, smp.stack_len);
		return true;
	}
	c->read++;
	return calls_site_regs(c->sites, t->tid, nr, arg) == 0;
}

void fs_calls_at(struct fs *fs, const struct trace_rec *r)
{
	struct fs_calls *c = fs->calls;
	struct fs_calls_thread *t;
	const struct calls_sys *sys;
	char line[512], site[240] = "";
	uint64_t arg[6], entry, wb_ns = 0;
	size_t w;
	long nr;
	int n;

	if (r->op == TRACE_OP_FLUSH || r->op == TRACE_OP_RELEASE || r->op == TRACE_OP_SYNCFS ||
	    (r->op == TRACE_OP_WRITE && (r->flags & TRACE_WF_EARLY)))
		return; /* a close's (no call joins them), or the tracer's (it logs those calls) */
	if (!r->pid) {
		if (r->op == TRACE_OP_WRITE)
			wb_note(fs, c, r->id);
		return;
	}
	pthread_mutex_lock(&c->lock);
	/* A request of its file: a write-back before it was not forced by a later fsync. */
	if ((w = wb_find(c, r->id)) < c->nwb) {
		wb_ns = c->wb[w].ns;
		wb_drop(c, w);
	}
	t = &c->th[((size_t)r->pid * 2654435761u) & (FS_CALLS_THREADS - 1)];
	if (t->tid != (pid_t)r->pid)
		*t = (struct fs_calls_thread){.tid = (pid_t)r->pid, .nr = -1};
	if (!call_of(fs, c, t, &nr, arg, &entry) || !(sys = calls_sys_of(nr)) || sys->traced)
		goto out; /* not in a call, not ours to read, or the tracer logs it */
	if (same_call(t, nr, arg, r)) {
		carried(t, r);
		t->op = r->op;
		goto out;
	}
	if (!entry) /* not sampled: its first request is the best we know */
		entry = r->op == TRACE_OP_FSYNC && wb_ns ? wb_ns /* the write-back it forced */
							: t->seen_ns;
	if (t->nr >= 0 && entry <= t->entry_ns)
		entry = t->entry_ns + 1; /* after the thread's previous call, which it ends */
	t->nr = nr;
	t->entry_ns = entry;
	t->op = r->op;
	t->id = r->id;
	memcpy(t->arg, arg, sizeof(arg));
	t->more = rec_bytes(r) ? call_bytes(t->tid, nr, arg) : 0;
	carried(t, r);
	if (c->sites_on)
		calls_site_walk(c->sites, (pid_t)r->pid, site, sizeof(site));
	n = calls_format(line, sizeof(line),
			 &(struct calls_call){.tid = r->pid, .nr = nr, .entry_ns = entry,
					      .arg = {arg[0], arg[1], arg[2], arg[3]}, .site = site});
	if (n > 0 && (size_t)n < sizeof(line)) {
		memcpy(c->buf + c->len, line, (size_t)n);
		c->len += (size_t)n;
	}
	if (c->len > FS_CALLS_FLUSH)
		log_flush(c);
	pthread_mutex_unlock(&c->lock);
	/* The call's boundary: its changed mapped pages before its own record. */
	calls_maps_capture(c->maps, (pid_t)r->pid);
	return;
out:
	pthread_mutex_unlock(&c->lock);
}

/* "\001KEYWORD " at the start of line (n bytes): the rest, else NULL. */
static const char *ctl_word(const char *line, size_t n, const char *kw, char *rest, size_t len)
{
	size_t k = strlen(kw);

	if (n <= k + 1 || memcmp(line, kw, k) || line[k] != ' ' || n - k - 1 >= len)
		return NULL;
	memcpy(rest, line + k + 1, n - k - 1);
	rest[n - k - 1] = 0;
	return rest;
}

int fs_calls_ctl(struct fs *fs, struct fuse_req *req, const char *line, size_t n)
{
	struct calls_maps *m = fs->calls ? fs->calls->maps : NULL;
	unsigned long long addr, len, off;
	char rest[PATH_MAX + 96];
	static const char *const words[] = {CALLS_CTL_PERF, CALLS_CTL_MAP, CALLS_CTL_CAPTURE,
					     CALLS_CTL_UNMAP, CALLS_CTL_FORGET};
	struct fs_calls_file *f;
	int tid, used = 0;
	size_t k;

	for (k = 0; k < sizeof(words) / sizeof(words[0]) &&
		    !ctl_word(line, n, words[k], rest, sizeof(rest));
	     k++)
		;
	if (k == sizeof(words) / sizeof(words[0]))
		return 0;
	/* Sampling a process, reading its memory: only root and the mount's
	 * user may ask, as for faultline crash. */
	if (fuse_req_ctx(req)->uid != 0 && fuse_req_ctx(req)->uid != getuid())
		return -EPERM;
	if (ctl_word(line, n, CALLS_CTL_PERF, rest, sizeof(rest))) {
		if (sscanf(rest, "%d%n", &tid, &used) != 1 || rest[used] || tid <= 0)
			return -EINVAL;
		if (fs->calls && !getenv("FAULTLINE_CALLS_NOPERF")) {
			struct calls_perf *p = calls_perf_open(tid);

			if (!p)
				fprintf(stderr, "faultline-fs: calls are read from /proc, not sampled "
					"by the kernel: %s\n", strerror(errno));
			pthread_mutex_lock(&fs->calls->lock); /* fs_calls_at reads it under it */
			if (!fs->calls->perf) {
				fs->calls->perf = p;
				p = NULL;
			}
			pthread_mutex_unlock(&fs->calls->lock);
			calls_perf_close(p); /* a second workload: the first one's is kept */
		}
	} else if (ctl_word(line, n, CALLS_CTL_CAPTURE, rest, sizeof(rest))) {
		if (sscanf(rest, "%d%n", &tid, &used) != 1 || rest[used] || tid <= 0)
			return -EINVAL;
		calls_maps_capture(m, tid);
	} else if (ctl_word(line, n, CALLS_CTL_MAP, rest, sizeof(rest))) {
		if (sscanf(rest, "%d %llu %llu %llu %n", &tid, &addr, &len, &off, &used) != 4 ||
		    !used || !rest[used] || tid <= 0)
			return -EINVAL;
		if (m && (f = file_of(fs, rest + used)))
			calls_maps_add(m, tid, addr, len, off, f);
	} else if (ctl_word(line, n, CALLS_CTL_UNMAP, rest, sizeof(rest))) {
		if (sscanf(rest, "%d %llu %llu%n", &tid, &addr, &len, &used) != 3 || rest[used] ||
		    tid <= 0)
			return -EINVAL;
		calls_maps_capture(m, tid);
		calls_maps_unmap(m, tid, addr, len);
	} else if (ctl_word(line, n, CALLS_CTL_FORGET, rest, sizeof(rest))) {
		if (sscanf(rest, "%d%n", &tid, &used) != 1 || rest[used] || tid <= 0)
			return -EINVAL;
		calls_maps_forget(m, tid);
	} else {
		return 0;
	}
	return 1;
}
