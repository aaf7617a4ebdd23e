/*
 * calls_maps.c - the workload's shared writable mappings of files under
 * the mount, captured at its call boundaries (record --calls).
 *
 * A store into a MAP_SHARED page dirties it; the kernel may write it back
 * at any moment until an msync or fsync forces it, and FUSE sees only the
 * moment the kernel chose in this run.  So at each watched call of the
 * workload, every tracked mapping is read (process_vm_readv) and each
 * page that differs from what the last capture saw goes to the sink:
 * faultline-fs (fusefs/fs_calls.c) records it as a WRITE flagged
 * TRACE_WF_EARLY, which the models treat as a write-back that may have
 * happened from there on.  The calling thread is blocked in its call
 * meanwhile (in the FUSE request the call made, or at the tracer's stop),
 * so the capture lies between what came before the call and what the
 * call does.
 *
 * Mappings are learnt at mmap's return (the tracer stops shared ones,
 * calls.c, and tells faultline-fs), forgotten at munmap (after a last
 * capture), at exec and when their process is gone.  Not followed:
 * mremap, and a child's view of a mapping it inherited once the parent
 * that made it is gone.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "calls.h"
#include "calls_i.h"

#define MAPS_PAGE 4096u
#define MAPS_MAX_BYTES ((uint64_t)256 << 20) /* tracked at once, over all mappings */

struct calls_map {
	pid_t pid;       /* its process (thread group) */
	uint64_t addr;   /* where it is, in that process */
	uint64_t len;    /* bytes, a multiple of MAPS_PAGE */
	uint64_t off;    /* file offset of addr */
	void *file;      /* the file, as the sink knows it (calls_maps_add) */
	uint8_t *shadow; /* what the last capture read */
};

struct calls_maps {
	pthread_mutex_t lock;
	calls_page_fn *sink;   /* where changed pages go */
	calls_file_fn *drop;   /* a mapping's file is let go */
	void *sink_arg;
	struct calls_map *v;   /* tracked mappings */
	size_t n, cap;
	uint64_t bytes;        /* sum of their lengths */
	uint8_t *buf;          /* a read of one mapping */
	size_t bufcap;
	bool told;             /* said once that a mapping was too much to track */
};

struct calls_maps *calls_maps_new(calls_page_fn *sink, calls_file_fn *drop, void *arg)
{
	struct calls_maps *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->sink = sink;
	m->drop = drop;
	m->sink_arg = arg;
	return m;
}

static void map_drop(struct calls_maps *m, size_t i)
{
	m->bytes -= m->v[i].len;
	m->drop(m->sink_arg, m->v[i].file);
	free(m->v[i].shadow);
	m->v[i] = m->v[--m->n];
}

void calls_maps_free(struct calls_maps *m)
{
	if (!m)
		return;
	while (m->n)
		map_drop(m, 0);
	free(m->v);
	free(m->buf);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* The thread group of tid, or tid itself when /proc cannot say. */
static pid_t tgid_of(pid_t tid)
{
	char path[64], line[256];
	pid_t tgid = tid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (!(f = fopen(path, "re")))
		return tid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

const char *calls_path_under(const char *path, const char *dir)
{
	size_t k = strlen(dir);

	if (strncmp(path, dir, k) || (path[k] && path[k] != '/'))
		return NULL;
	return path[k] ? path + k + 1 : "";
}

bool calls_link_under(const char *link, const char *dir, char *rel, size_t len)
{
	char target[PATH_MAX];
	const char *under;
	ssize_t n;

	if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
		return false;
	target[n] = 0;
	if (!(under = calls_path_under(target, dir)))
		return false;
	if (rel)
		snprintf(rel, len, "%s", under);
	return true;
}

bool calls_fd_path(const char *mnt, pid_t tid, long fd, char *rel, size_t len)
{
	char link[64];

	snprintf(link, sizeof(link), "/proc/%d/fd/%ld", (int)tid, fd);
	return calls_link_under(link, mnt, rel, len);
}

/* Reads mapping x into m->buf: the bytes read (a mapping past its file's end
 * reads short), or -1 when its process is gone. */
static ssize_t map_read(struct calls_maps *m, const struct calls_map *x)
{
	struct iovec local = {m->buf, x->len}, remote = {(void *)(uintptr_t)x->addr, x->len};
	ssize_t got = process_vm_readv(x->pid, &local, 1, &remote, 1, 0);

	if (got < 0 && errno == EFAULT) { /* not all of it mapped any more: page by page */
		for (got = 0; (uint64_t)got < x->len; got += MAPS_PAGE) {
			local = (struct iovec){m->buf + got, MAPS_PAGE};
			remote = (struct iovec){(void *)(uintptr_t)(x->addr + (uint64_t)got), MAPS_PAGE};
			if (process_vm_readv(x->pid, &local, 1, &remote, 1, 0) != MAPS_PAGE)
				break;
		}
		return got;
	}
	return got < 0 ? -1 : got;
}

bool calls_map_followed(const char *mnt, pid_t tid, uint64_t addr, uint64_t len, uint64_t prot,
			uint64_t flags, int fd, char *path, size_t pathlen)
{
	return (prot & PROT_WRITE) && (flags & MAP_SHARED) && !(addr & (MAPS_PAGE - 1)) && len &&
	       calls_fd_path(mnt, tid, fd, path, pathlen) && path[0] && !strchr(path, '\n') &&
	       !strstr(path, " (deleted)");
}

void calls_maps_add(struct calls_maps *m, pid_t tid, uint64_t addr, uint64_t len, uint64_t off,
		    void *file)
{
	struct calls_map x = {0};
	ssize_t got;
	void *v;

	if (!m || (addr & (MAPS_PAGE - 1)) || !len) {
		if (m)
			m->drop(m->sink_arg, file);
		return;
	}
	x = (struct calls_map){.pid = tgid_of(tid), .addr = addr, .off = off, .file = file,
			       .len = (len + MAPS_PAGE - 1) & ~(uint64_t)(MAPS_PAGE - 1)};
	pthread_mutex_lock(&m->lock);
	if (m->bytes + x.len > MAPS_MAX_BYTES) {
		if (!m->told)
			fprintf(stderr, "faultline: record --calls: shared mappings past %llu MiB are "
				"not captured: their pages are written back when the trace says\n",
				(unsigned long long)(MAPS_MAX_BYTES >> 20));
		m->told = true;
		goto out;
	}
	if (x.len > m->bufcap) {
		if (!(v = realloc(m->buf, x.len)))
			goto out;
		m->buf = v;
		m->bufcap = x.len;
	}
	if (m->n == m->cap) {
		if (!(v = realloc(m->v, (m->cap ? 2 * m->cap : 8) * sizeof(*m->v))))
			goto out;
		m->v = v;
		m->cap = m->cap ? 2 * m->cap : 8;
	}
	if (!(x.shadow = calloc(1, x.len)))
		goto out;
	/* What the file holds now is no change: the first capture starts from it. */
	if ((got = map_read(m, &x)) > 0)
		memcpy(x.shadow, m->buf, (size_t)got);
	m->v[m->n++] = x;
	m->bytes += x.len;
	x.file = NULL;
	x.shadow = NULL;
out:
	pthread_mutex_unlock(&m->lock);
	if (x.file)
		m->drop(m->sink_arg, x.file);
	free(x.shadow);
}

void calls_maps_capture(struct calls_maps *m, pid_t tid)
{
	size_t i, k;
	ssize_t got;

	if (!m || !__atomic_load_n(&m->n, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n;) {
		struct calls_map *x = &m->v[i];

		if ((got = map_read(m, x)) < 0) {
			map_drop(m, i); /* its process is gone */
			continue;
		}
		for (k = 0; k + MAPS_PAGE <= (size_t)got; k += MAPS_PAGE)
			if (memcmp(m->buf + k, x->shadow + k, MAPS_PAGE)) {
				m->sink(m->sink_arg, x->file, tid, x->off + k, m->buf + k, MAPS_PAGE);
				memcpy(x->shadow + k, m->buf + k, MAPS_PAGE);
			}
		i++;
	}
	pthread_mutex_unlock(&m->lock);
}

/* Drops process pid's mappings that touch [addr, end): a part unmapped, the
 * rest is no longer followed. */
static void drop_range(struct calls_maps *m, pid_t pid, uint64_t addr, uint64_t end)
{
	size_t i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n;)
		if (m->v[i].pid == pid && m->v[i].addr < end && addr < m->v[i].addr + m->v[i].len)
			map_drop(m, i);
		else
			i++;
	pthread_mutex_unlock(&m->lock);
}

void calls_maps_unmap(struct calls_maps *m, pid_t tid, uint64_t addr, uint64_t len)
{
	if (m && __atomic_load_n(&m->n, __ATOMIC_RELAXED)) /* munmap is frequent: /proc only if need be */
		drop_range(m, tgid_of(tid), addr, addr + len);
}

void calls_maps_forget(struct calls_maps *m, pid_t pid)
{
	if (m && __atomic_load_n(&m->n, __ATOMIC_RELAXED))
		drop_range(m, pid, 0, UINT64_MAX);
}
