/*
 * uringwal.c - a write-ahead log written through io_uring (liburing): the
 * workload and checker of scenarios/uringwal*.ini and tests/record_uring.sh.
 *
 * Each commit is one 512-byte record at offset (i-1)*512 of wal.log,
 * written by an SQE and made durable by an fdatasync SQE submitted in the
 * same io_uring_enter; the engine waits for both completions, then marks
 * the commit acknowledged.  Whether that is enough depends on the SQEs'
 * flags: io_uring starts the SQEs of one submission in any order unless
 * they are linked or drained, so an unlinked fdatasync may run before the
 * write it was meant to cover.
 *
 *     uringwal run MODE N
 *         MODE: linked    the write carries IOSQE_IO_LINK: write, then sync
 *               drain     the fdatasync carries IOSQE_IO_DRAIN
 *               unlinked  neither (the bug: the sync may overtake the write)
 *               async     unlinked, the write with IOSQE_ASYNC (straight to
 *                         a worker, so it often runs first: the same bug,
 *                         which a recording in that order does not show)
 *     uringwal check
 *         every "commit i" of $FAULTLINE_MARKS must have record i, whole.
 *
 * Exit codes: 0 fine, 1 an acknowledged commit is lost, 2 usage, 3 I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

#define REC_SIZE 512
#define REC_MAGIC 0x4c415755u /* "UWAL" */

struct rec {
	uint32_t magic;
	uint32_t seq;
	uint32_t sum; /* over seq and body */
	uint8_t body[REC_SIZE - 12];
};

static uint32_t sum_of(const struct rec *r)
{
	uint32_t h = 2166136261u ^ r->seq;
	size_t i;

	for (i = 0; i < sizeof(r->body); i++)
		h = (h ^ r->body[i]) * 16777619u;
	return h;
}

static void make_rec(struct rec *r, uint32_t seq)
{
	memset(r, 0, sizeof(*r));
	r->magic = REC_MAGIC;
	r->seq = seq;
	memset(r->body, (int)(seq & 0xff), sizeof(r->body));
	r->sum = sum_of(r);
}

/* wal.log made, empty, its name durable: only the records are in question. */
static int make_log(void)
{
	int fd = open("wal.log", O_RDWR | O_CREAT | O_TRUNC, 0644), dfd;

	if (fd < 0 || fsync(fd) < 0)
		return -1;
	if ((dfd = open(".", O_RDONLY | O_DIRECTORY)) < 0 || fsync(dfd) < 0)
		return -1;
	close(dfd);
	return fd;
}

/* Submits record i's write and its fdatasync together; waits for both. */
static int commit(struct io_uring *ring, int fd, const char *mode, uint32_t i)
{
	static struct rec r;
	struct io_uring_sqe *w, *s;
	struct io_uring_cqe *cqe;
	int k, rc;

	make_rec(&r, i);
	w = io_uring_get_sqe(ring);
	s = io_uring_get_sqe(ring);
	if (!w || !s)
		return -EBUSY;
	io_uring_prep_write(w, fd, &r, sizeof(r), (uint64_t)(i - 1) * REC_SIZE);
	io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC);
	if (!strcmp(mode, "linked"))
		w->flags |= IOSQE_IO_LINK;
	else if (!strcmp(mode, "drain"))
		s->flags |= IOSQE_IO_DRAIN;
	else if (!strcmp(mode, "async"))
		w->flags |= IOSQE_ASYNC; /* to a worker at once: usually run before the sync */
	else if (strcmp(mode, "unlinked"))
		return -EINVAL;
	if ((rc = io_uring_submit(ring)) != 2)
		return rc < 0 ? rc : -EIO;
	for (k = 0; k < 2; k++) {
		if ((rc = io_uring_wait_cqe(ring, &cqe)) < 0)
			return rc;
		rc = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int run(const char *mode, int n)
{
	struct io_uring ring;
	int fd, rc;
	uint32_t i;

	if ((fd = make_log()) < 0) {
		perror("uringwal: wal.log");
		return 3;
	}
	if ((rc = io_uring_queue_init(8, &ring, 0)) < 0) {
		fprintf(stderr, "uringwal: io_uring_queue_init: %s\n", strerror(-rc));
		return 3;
	}
	for (i = 1; i <= (uint32_t)n; i++) {
		if ((rc = commit(&ring, fd, mode, i)) < 0) {
			fprintf(stderr, "uringwal: commit %u: %s\n", i, strerror(-rc));
			return rc == -EINVAL ? 2 : 3;
		}
		engine_mark(i);
	}
	io_uring_queue_exit(&ring);
	return close(fd) < 0 ? 3 : 0;
}

/* 0 whole record seq, 1 all zeros or past the end (or no log: fd -1), -1 anything else. */
static int rec_at(int fd, uint32_t seq)
{
	static const uint8_t zero[REC_SIZE];
	struct rec r;
	ssize_t got = fd < 0 ? 0 : pread(fd, &r, sizeof(r), (off_t)(seq - 1) * REC_SIZE);

	if (got == 0 || (got > 0 && !memcmp(&r, zero, (size_t)got)))
		return 1;
	if (got != (ssize_t)sizeof(r) || r.magic != REC_MAGIC || r.seq != seq || r.sum != sum_of(&r))
		return -1;
	return 0;
}

static int check(void)
{
	uint32_t i, acked = engine_acknowledged(); /* commits 1..acked were marked */
	int fd, bad = 0;

	if ((fd = open("wal.log", O_RDONLY)) < 0 && errno != ENOENT) {
		printf("wal.log cannot be opened: %s\n", strerror(errno));
		return 3;
	}
	for (i = 1; i <= acked; i++)
		if (rec_at(fd, i) != 0) {
			printf("commit %u lost: record %u of wal.log is not whole\n", i, i);
			bad = 1;
		}
	if (fd >= 0)
		close(fd);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "run"))
		return run(argv[2], atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "check"))
		return check();
	fprintf(stderr, "usage: uringwal run linked|drain|unlinked|async N | uringwal check\n");
	return 2;
}
