/*
 * maplog.c - a log with its header in a shared mapping: the workload and
 * checker of scenarios/maplog*.ini and tests/record_maps.sh.
 *
 * log.db holds 512-byte records, record i at (i-1)*512, appended with
 * pwrite and made durable with fdatasync.  hdr.db is one 4096-byte page,
 * mapped MAP_SHARED; its first 16 bytes (one sector) say how many records
 * the log holds: magic, count, checksum.  Recovery trusts the header, so
 * the header must never reach the disk ahead of the records it counts.
 *
 *     maplog init
 *         makes log.db empty and hdr.db with count 0 (a setup, not recorded)
 *     maplog run MODE N
 *         for i in 1..N, then marks "commit i":
 *         log-first     pwrite record i, fdatasync log.db, store count i
 *                       in the mapping, msync(MS_SYNC): correct
 *         header-first  store count i first, then the same: the kernel may
 *                       write the header page back before the log's
 *                       fdatasync, so a crash can leave a header that
 *                       counts a record the log lost.  msync comes last,
 *                       so the write-back FUSE sees in a run is after the
 *                       log's sync: only the page captured at the pwrite
 *                       (record --calls) shows the bug
 *         msync-async   log-first, but msync(MS_ASYNC): it starts no
 *                       write-back and waits for none, so the mark can
 *                       come before the header is durable
 *     maplog check
 *         the header's count n: records 1..n must all be whole, and every
 *         "commit i" of $FAULTLINE_MARKS must have i <= n.
 *
 * Exit codes: 0 fine, 1 recovery would be wrong, 2 usage, 3 I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"

#define PAGE 4096
#define REC_SIZE 512
#define HDR_MAGIC 0x48474c4du /* "MLGH" */
#define REC_MAGIC 0x43524c4du /* "MLRC" */

struct hdr {
	uint32_t magic;
	uint32_t count;
	uint32_t sum; /* of magic and count */
	uint32_t pad;
};

static uint32_t mix(uint32_t a, uint32_t b)
{
	uint32_t h = 2166136261u;

	h = (h ^ a) * 16777619u;
	h = (h ^ b) * 16777619u;
	return h ^ (h >> 15);
}

static void make_rec(uint8_t *r, uint32_t i)
{
	memset(r, (int)(i & 0xff), REC_SIZE);
	memcpy(r, &(uint32_t){REC_MAGIC}, 4);
	memcpy(r + 4, &i, 4);
	memcpy(r + 8, &(uint32_t){mix(REC_MAGIC, i)}, 4);
}

static int init(void)
{
	uint8_t page[PAGE] = {0};
	struct hdr h = {HDR_MAGIC, 0, mix(HDR_MAGIC, 0), 0};
	int fd;

	memcpy(page, &h, sizeof(h));
	if ((fd = open("log.db", O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 || close(fd) < 0)
		return 3;
	if ((fd = open("hdr.db", O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
	    write(fd, page, PAGE) != PAGE || close(fd) < 0)
		return 3;
	return 0;
}

static int run(const char *mode, int n)
{
	uint8_t rec[REC_SIZE];
	struct hdr *h;
	int lfd, hfd, first;
	uint32_t i;

	if (strcmp(mode, "log-first") && strcmp(mode, "header-first") && strcmp(mode, "msync-async"))
		return 2;
	first = !strcmp(mode, "header-first");
	if ((lfd = open("log.db", O_WRONLY)) < 0 || (hfd = open("hdr.db", O_RDWR)) < 0) {
		perror("maplog: open");
		return 3;
	}
	h = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, hfd, 0);
	if (h == MAP_FAILED) {
		perror("maplog: mmap");
		return 3;
	}
	for (i = 1; i <= (uint32_t)n; i++) {
		make_rec(rec, i);
		if (first) {
			h->count = i;
			h->sum = mix(HDR_MAGIC, i);
		}
		if (pwrite(lfd, rec, REC_SIZE, (off_t)(i - 1) * REC_SIZE) != REC_SIZE ||
		    fdatasync(lfd) < 0) {
			perror("maplog: log.db");
			return 3;
		}
		h->count = i;
		h->sum = mix(HDR_MAGIC, i);
		if (msync(h, PAGE, strcmp(mode, "msync-async") ? MS_SYNC : MS_ASYNC) < 0) {
			perror("maplog: msync");
			return 3;
		}
		engine_mark(i);
	}
	munmap(h, PAGE);
	return close(hfd) < 0 || close(lfd) < 0 ? 3 : 0;
}

/* 0 when record i of log.db (fd) is whole. */
static int rec_ok(int fd, uint32_t i)
{
	uint8_t want[REC_SIZE], got[REC_SIZE];

	make_rec(want, i);
	return pread(fd, got, REC_SIZE, (off_t)(i - 1) * REC_SIZE) == REC_SIZE &&
			       !memcmp(got, want, REC_SIZE)
		       ? 0
		       : -1;
}

static int check(void)
{
	uint32_t i, acked = engine_acknowledged(); /* commits 1..acked were marked */
	struct hdr h;
	int hfd, lfd;

	if ((hfd = open("hdr.db", O_RDONLY)) < 0 || pread(hfd, &h, sizeof(h), 0) != sizeof(h)) {
		printf("hdr.db is missing or short\n");
		return 1;
	}
	close(hfd);
	if (h.magic != HDR_MAGIC || h.sum != mix(HDR_MAGIC, h.count)) {
		printf("hdr.db: the header does not check out (torn?)\n");
		return 1;
	}
	if ((lfd = open("log.db", O_RDONLY)) < 0) {
		printf("log.db is missing\n");
		return 1;
	}
	for (i = 1; i <= h.count; i++)
		if (rec_ok(lfd, i) < 0) {
			printf("the header counts %u records, record %u of log.db is not whole: "
			       "the header reached the disk before the log\n", h.count, i);
			close(lfd);
			return 1;
		}
	close(lfd);
	if (acked > h.count) {
		printf("commit %u lost: the header counts %u records\n", h.count + 1, h.count);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "init"))
		return init();
	if (argc == 4 && !strcmp(argv[1], "run"))
		return run(argv[2], atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "check"))
		return check();
	fprintf(stderr, "usage: maplog init | maplog run log-first|header-first|msync-async N | maplog check\n");
	return 2;
}
