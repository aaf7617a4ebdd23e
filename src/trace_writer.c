/*
 * trace_writer.c - appends records to a trace's records file (format:
 * trace.c) at the speed of a memcpy, with an exact durability promise.
 *
 * PATH OF A RECORD.  trace_append() encodes the record, payload and all,
 * into the chunk being filled (TW_CHUNK bytes, in memory) and returns:
 * no system call.  A full chunk is queued; a writer thread writes queued
 * chunks to the file in order, each with one write, so the file always
 * holds whole records in seq order followed by at most one torn record
 * (a reader stops there).  At most TW_CHUNKS chunks exist: when all are
 * queued, trace_append() waits for the thread (back-pressure), so memory
 * stays bounded however fast the recorded program writes.  A record
 * larger than a chunk gets a chunk of its own, grown for it and shrunk
 * back once written.  When nothing else happens, the thread writes the
 * chunk being filled after TW_IDLE_MS, so a quiet recorder's records do
 * not wait in memory; with nothing at all to write it sleeps untimed.
 *
 * THE PROMISE.  trace_writer_sync(w, seq) returns only once every record
 * up to seq is written to the file, and also fsynced if
 * trace_writer_set_fsync() asked for it.  The recorder calls it before it
 * answers a barrier (fsync, fdatasync, fsyncdir, a synchronous write) or
 * a mark, so a recorder killed at any instant (SIGKILL included) has
 * lost no barrier, no mark and no record before one; what it may lose is
 * a tail of records appended after the last barrier it answered.  The
 * waiter does the write itself when no one else is writing (no thread
 * hand-off on the common path), and one write or fsync serves every
 * waiter whose record it covers.
 *
 * FAILURE.  After a failed write the file is cut back to its last whole
 * record, every queued record is dropped and every later call returns
 * the same error, so the trace stays a prefix with no gap in it.  A
 * failure is reported by the next call that can report it: an append, a
 * sync or the close.
 *
 * LOCKING.  One mutex guards the writer's state; the bytes of a queued
 * chunk belong to whoever is writing it (busy) and are read outside the
 * lock, never written.  Appenders only touch the chunk being filled,
 * which is never queued.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mremap */
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "trace.h"
#include "trace_i.h"
#include "fl_error.h"

#define TW_CHUNK (2u << 20) /* bytes of records a chunk holds before it is queued: a 1 MiB FUSE write fits */
#define TW_CHUNKS 8         /* chunks in all: 16 MiB, the memory queued records may take */
#define TW_IDLE_MS 20       /* a partly filled chunk waits at most this long for more */

struct tw_chunk {
	uint8_t *buf;  /* cap bytes, allocated at open */
	size_t cap;    /* TW_CHUNK, or more while it holds one larger record */
	size_t len;    /* bytes of whole records in buf */
	uint64_t last; /* seq of the last record in buf */
};

struct trace_writer {
	pthread_mutex_t lock;   /* guards every field below */
	pthread_cond_t queued;  /* a chunk was queued, or closing: wakes the thread */
	pthread_cond_t moved;   /* a write or fsync ended, or failed: wakes waiters */
	int fd;                 /* the records file */
	bool fsync;             /* trace_writer_sync also fsyncs */
	uint64_t seq;           /* seq of the last record appended */
	uint64_t size;          /* bytes in the file that are whole records */
	uint64_t written;       /* seq of the last record in the file */
	uint64_t synced;        /* seq of the last record fsynced */
	uint64_t want_sync;     /* highest seq a waiter needs fsynced */
	struct tw_chunk c[TW_CHUNKS];
	unsigned head;          /* oldest queued chunk */
	unsigned nq;            /* queued: c[head .. head+nq-1]; c[head+nq] fills */
	bool busy;              /* someone writes c[head] or fsyncs, outside the lock */
	bool closing;           /* the thread is to drain the queue and end */
	int failed;             /* first error; every later call returns it */
	pthread_t thread;       /* writes queued chunks */
	struct timespec t0;     /* CLOCK_MONOTONIC when the writer was opened */
};

/*
 * A chunk's memory: mapped, not malloc'ed, so that a writer's 16 MiB go
 * back to the system when it closes (faultline mount moves to a new
 * writer at each fold; freed from whichever thread, malloc would keep
 * them in that thread's arena).  Grows, shrinks (size 0: unmaps; old
 * NULL: maps).  The buffer, or NULL (old is then as it was).
 */
static uint8_t *tw_buf_resize(uint8_t *old, size_t old_size, size_t size)
{
	void *p;

	if (!old) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	if (!size) {
		munmap(old, old_size);
		return NULL;
	}
	p = mremap(old, old_size, size, MREMAP_MAYMOVE);
	return p == MAP_FAILED ? NULL : p;
}

static uint64_t elapsed_ns(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t0->tv_sec) * 1000000000u +
	       (uint64_t)(now.tv_nsec - t0->tv_nsec);
}

/* Writes all of buf to fd.  0 or -errno. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static struct tw_chunk *tw_filling(struct trace_writer *w)
{
	return &w->c[(w->head + w->nq) % TW_CHUNKS];
}

/* Under the lock: records err, cuts the file back, drops every queued record. */
static void tw_fail(struct trace_writer *w, int err)
{
	unsigned i;

	if (!w->failed)
		w->failed = err;
	if (ftruncate(w->fd, (off_t)w->size) == 0)
		lseek(w->fd, (off_t)w->size, SEEK_SET);
	for (i = 0; i < TW_CHUNKS; i++)
		w->c[i].len = 0;
	w->nq = 0;
	pthread_cond_broadcast(&w->moved);
}

/*
 * Under the lock, with !busy: one unit of work, done outside the lock.
 * Writes the oldest queued chunk (then fsyncs if a waiter needs a record
 * it holds fsynced), or, with nothing queued, fsyncs for a waiter whose
 * record is already written.  Returns false if there was nothing to do.
 */
static bool tw_step(struct trace_writer *w)
{
	struct tw_chunk *c = w->nq ? &w->c[w->head] : NULL;
	uint64_t upto = c ? c->last : w->written;
	bool sync = w->fsync && w->want_sync > w->synced && w->want_sync <= upto;
	int err = 0;

	if (w->failed || (!c && !sync))
		return false;
	w->busy = true;
	pthread_mutex_unlock(&w->lock);
	if (c)
		err = write_all(w->fd, c->buf, c->len);
	if (!err && sync && fdatasync(w->fd) < 0)
		err = -errno;
	pthread_mutex_lock(&w->lock);
	w->busy = false;
	if (c && !err && !w->failed) {
		w->size += c->len;
		w->written = c->last;
		c->len = 0;
		if (c->cap > TW_CHUNK) { /* a large record's chunk: back to size */
			uint8_t *p = tw_buf_resize(c->buf, c->cap, TW_CHUNK);

			if (p) {
				c->buf = p;
				c->cap = TW_CHUNK;
			}
		}
		w->head = (w->head + 1) % TW_CHUNKS;
		w->nq--;
	}
	if (err)
		tw_fail(w, err);
	else if (sync && upto > w->synced)
		w->synced = upto;
	pthread_cond_broadcast(&w->moved);
	if (w->nq > 0)
		pthread_cond_signal(&w->queued);
	return true;
}

/*
 * Under the lock: queues the chunk being filled (if it holds anything),
 * first waiting, or writing, until a free chunk can take its place.
 * 0 or the writer's error.
 */
static int tw_queue(struct trace_writer *w)
{
	while (!w->failed && w->nq >= TW_CHUNKS - 1)
		if (w->busy || !tw_step(w))
			pthread_cond_wait(&w->moved, &w->lock);
	if (w->failed)
		return w->failed;
	if (tw_filling(w)->len == 0)
		return 0;
	w->nq++;
	pthread_cond_signal(&w->queued);
	return 0;
}

static void *tw_thread(void *arg)
{
	struct trace_writer *w = arg;
	struct timespec until;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		if (!w->busy && w->nq > 0 && !w->failed) {
			tw_step(w);
			continue;
		}
		if (w->closing && (w->nq == 0 || w->failed) && !w->busy)
			break;
		if (tw_filling(w)->len == 0 || w->failed) { /* nothing waits: sleep until told */
			pthread_cond_wait(&w->queued, &w->lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TW_IDLE_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&w->queued, &w->lock, &until) == ETIMEDOUT &&
		    !w->busy && w->nq == 0 && tw_filling(w)->len > 0)
			tw_queue(w); /* idle: the records waiting go to the file */
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/*
 * A writer on fd, whose file holds size bytes of whole records, the last
 * numbered seq; time counts from t0.  Takes fd (closed on failure).
 */
static int tw_new(int fd, uint64_t size, uint64_t seq, const struct timespec *t0,
		  struct trace_writer **out)
{
	sigset_t all, old;
	struct trace_writer *w;
	unsigned i;
	size_t j;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(fd);
		return -ENOMEM;
	}
	for (i = 0; i < TW_CHUNKS; i++) {
		w->c[i].cap = TW_CHUNK;
		if (!(w->c[i].buf = tw_buf_resize(NULL, 0, TW_CHUNK))) {
			err = -ENOMEM;
			goto out_free;
		}
		/* Touched now, not on the recorded program's time: a first-touch
		 * fault per page would cost more than the copy into it. */
		for (j = 0; j < TW_CHUNK; j += 4096)
			((volatile uint8_t *)w->c[i].buf)[j] = 0;
	}
	w->fd = fd;
	w->size = size;
	w->seq = w->written = w->synced = seq;
	w->t0 = *t0;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->queued, NULL);
	pthread_cond_init(&w->moved, NULL);
	/* The thread takes no signals: they belong to the program's own threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&w->thread, NULL, tw_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out_sync;
	*out = w;
	return 0;

out_sync:
	pthread_cond_destroy(&w->moved);
	pthread_cond_destroy(&w->queued);
	pthread_mutex_destroy(&w->lock);
out_free:
	close(fd);
	for (i = 0; i < TW_CHUNKS; i++)
		if (w->c[i].buf)
			tw_buf_resize(w->c[i].buf, w->c[i].cap, 0);
	free(w);
	return err;
}

int trace_writer_open(const char *path, struct trace_writer **out)
{
	uint8_t hdr[TRACE_FILE_HDR];
	struct timespec t0;
	int fd, err;

	*out = NULL;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	trace_file_header(hdr);
	if ((err = write_all(fd, hdr, sizeof(hdr)))) {
		close(fd);
		return err;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	return tw_new(fd, TRACE_FILE_HDR, 0, &t0, out);
}

int trace_writer_adopt(const char *path, uint64_t count, const struct trace_writer *clock,
		       struct trace_writer **out)
{
	struct trace_reader *r;
	struct trace_rec rec;
	struct trace_digest d;
	int fd, rc;

	*out = NULL;
	if ((rc = trace_reader_open(path, &r, NULL, 0)) < 0)
		return rc;
	while ((rc = trace_next(r, &rec)) == 1)
		;
	trace_reader_digest(r, &d);
	trace_reader_close(r);
	if (rc < 0 || d.records != count)
		return -FL_EBADTRACE; /* not whole records, or not the ones promised */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (lseek(fd, (off_t)d.bytes, SEEK_SET) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return tw_new(fd, d.bytes, count, &clock->t0, out);
}

void trace_writer_set_fsync(struct trace_writer *w, bool on)
{
	pthread_mutex_lock(&w->lock);
	w->fsync = on;
	pthread_mutex_unlock(&w->lock);
}

/* trace_append, keeping rec->time_ns when keep_time. */
static int tw_append(struct trace_writer *w, struct trace_rec *rec, bool keep_time)
{
	size_t hdr = trace_encoded_size(rec), need = hdr + rec->data_len;
	struct tw_chunk *c;
	int n, err = 0;

	if (hdr == 0)
		return -EINVAL;
	if (need > TRACE_MAX_RECORD)
		return -E2BIG;
	pthread_mutex_lock(&w->lock);
	if ((err = w->failed))
		goto out_unlock; /* once a record is missing, nothing may follow it */
	c = tw_filling(w);
	if (c->len + need > c->cap) {
		if ((err = tw_queue(w)))
			goto out_unlock;
		c = tw_filling(w);
		if (need > c->cap) {
			uint8_t *p = tw_buf_resize(c->buf, c->cap, need);

			if (!p) {
				err = -ENOMEM;
				goto out_unlock;
			}
			c->buf = p;
			c->cap = need;
		}
	}
	rec->seq = w->seq + 1;
	if (!keep_time)
		rec->time_ns = elapsed_ns(&w->t0);
	n = trace_encode(rec, c->buf + c->len, c->cap - c->len);
	if (n < 0) {
		err = n;
		goto out_unlock;
	}
	if (rec->data_len)
		memcpy(c->buf + c->len + (size_t)n, rec->data, rec->data_len);
	if (c->len == 0 && w->nq == 0)
		pthread_cond_signal(&w->queued); /* the first record after a quiet spell: start the clock */
	c->len += (size_t)n + rec->data_len;
	c->last = rec->seq;
	w->seq = rec->seq;
out_unlock:
	pthread_mutex_unlock(&w->lock);
	return err;
}

int trace_append(struct trace_writer *w, struct trace_rec *rec)
{
	return tw_append(w, rec, false);
}

int trace_append_copy(struct trace_writer *w, struct trace_rec *rec)
{
	return tw_append(w, rec, true);
}

int trace_writer_sync(struct trace_writer *w, uint64_t seq)
{
	int err;

	pthread_mutex_lock(&w->lock);
	if (seq > w->seq)
		seq = w->seq;
	if (w->fsync && seq > w->want_sync)
		w->want_sync = seq;
	while (!w->failed && (w->fsync ? w->synced : w->written) < seq) {
		/* The record is still in the chunk being filled: queue that. */
		if (w->written < seq &&
		    (w->nq == 0 || w->c[(w->head + w->nq - 1) % TW_CHUNKS].last < seq))
			if (tw_queue(w))
				break;
		if (w->busy || !tw_step(w))
			pthread_cond_wait(&w->moved, &w->lock);
	}
	err = w->failed;
	pthread_mutex_unlock(&w->lock);
	return err;
}

uint64_t trace_writer_t0_ns(const struct trace_writer *w)
{
	return (uint64_t)w->t0.tv_sec * 1000000000u + (uint64_t)w->t0.tv_nsec;
}

uint64_t trace_writer_count(struct trace_writer *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->lock);
	n = w->seq;
	pthread_mutex_unlock(&w->lock);
	return n;
}

int trace_writer_close(struct trace_writer *w)
{
	unsigned i;
	int err;

	pthread_mutex_lock(&w->lock);
	tw_queue(w);
	w->closing = true;
	pthread_cond_signal(&w->queued);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	err = w->failed;
	/* fsync: the trace must survive a crash of the machine it was made on. */
	if (fsync(w->fd) < 0 && !err)
		err = -errno;
	if (close(w->fd) < 0 && !err)
		err = -errno;
	pthread_cond_destroy(&w->moved);
	pthread_cond_destroy(&w->queued);
	pthread_mutex_destroy(&w->lock);
	for (i = 0; i < TW_CHUNKS; i++)
		if (w->c[i].buf)
			tw_buf_resize(w->c[i].buf, w->c[i].cap, 0);
	free(w);
	return err;
}
