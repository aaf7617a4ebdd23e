/*
 * walkv - a key-value store over a write-ahead log, with checkpoints.
 *
 * GUARANTEE CLAIMED (correct version): once "commit i" is acknowledged
 * (marked), recovery after a crash at any later point yields the table of
 * commit i or a later one; a torn log record is never applied.
 *
 * Files (created by the first run, so their creation is recorded):
 *   wal.log  records: u32 length, u32 CRC32C of the rest, u32 commit,
 *            u32 key count, padding, then the keys (keys last, so a torn
 *            record shows in them); commit i sets its keys to i
 *   ckpt     u32 magic, u32 CRC32C, u32 commit, then NKEYS u32 values
 * Commit i writes keys (5i) % NKEYS and (11i + 3) % NKEYS.
 *
 * Correct: the log is created, fsynced and its directory fsynced; each
 * commit is one write(2) then fdatasync, then acknowledged.  Every 8
 * commits a checkpoint goes to ckpt.tmp, is fsynced, renamed over ckpt,
 * the directory fsynced, and only then is the log truncated.  Recovery
 * loads ckpt (if its CRC holds), then applies log records in commit order
 * after it, stopping at the first incomplete or bad-CRC record, and
 * truncates the log there.
 *
 * Buggy variants, one flag each (--bug NAME on run, and on check where
 * recovery differs):
 *   nocrc        records carry no CRC; recovery applies what it reads
 *   early-ack    acknowledge before fdatasync
 *   no-dirsync   never fsync the directory (the log's name, the rename)
 *   ckpt-nosync  rename ckpt.tmp over ckpt without fsyncing it first
 *
 * Usage: walkv init | run N [--bug B] | check [--bug B]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"

#define NKEYS 64
#define PAD 700           /* bytes of padding per record: records span sectors */
#define CKPT_MAGIC 0x434b5054u
#define MAX_COMMIT 1000000u

static const char *bug = "";

static int is_bug(const char *name)
{
	return !strcmp(bug, name);
}

static void die(const char *what)
{
	engine_die("walkv", what);
}

static void keys_of(uint32_t i, uint32_t k[2])
{
	k[0] = (5 * i) % NKEYS;
	k[1] = (11 * i + 3) % NKEYS;
}

static void fsync_dir(void)
{
	int fd;

	if (is_bug("no-dirsync"))
		return;
	fd = open(".", O_RDONLY | O_DIRECTORY);
	if (fd < 0 || fsync(fd) < 0)
		die("fsync .");
	close(fd);
}

/* ---- the workload ---- */

static void log_append(int fd, uint32_t i)
{
	uint8_t rec[16 + PAD + 8];
	uint32_t hdr[4] = {sizeof(rec), 0, i, 2}, k[2];

	keys_of(i, k);
	memcpy(rec, hdr, 16);
	memset(rec + 16, (int)(i & 0xff), PAD);
	memcpy(rec + 16 + PAD, k, 8);
	hdr[1] = is_bug("nocrc") ? 0 : crc32c(rec + 8, sizeof(rec) - 8);
	memcpy(rec + 4, &hdr[1], 4);
	if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
		die("append");
}

static void checkpoint(const uint32_t *table, uint32_t commit, int logfd)
{
	uint32_t buf[3 + NKEYS] = {CKPT_MAGIC, 0, commit};
	int fd = open("ckpt.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	memcpy(buf + 3, table, NKEYS * 4);
	buf[1] = crc32c(buf + 2, sizeof(buf) - 8);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		die("ckpt.tmp");
	if (!is_bug("ckpt-nosync") && fsync(fd) < 0)
		die("fsync ckpt.tmp");
	close(fd);
	if (rename("ckpt.tmp", "ckpt") < 0)
		die("rename");
	fsync_dir();
	/* The checkpoint is durable: the log before it may go. */
	if (ftruncate(logfd, 0) < 0 || fsync(logfd) < 0)
		die("truncate log");
}

static int cmd_run(uint32_t n)
{
	uint32_t table[NKEYS] = {0}, i, k[2];
	int created = access("wal.log", F_OK) < 0;
	int fd = open("wal.log", O_WRONLY | O_APPEND | O_CREAT, 0644);

	if (fd < 0)
		die("open wal.log");
	if (created) {
		if (fsync(fd) < 0)
			die("fsync wal.log");
		fsync_dir();
	}
	for (i = 1; i <= n; i++) {
		log_append(fd, i);
		if (is_bug("early-ack"))
			engine_mark(i);
		if (fdatasync(fd) < 0)
			die("fdatasync");
		if (!is_bug("early-ack"))
			engine_mark(i);
		keys_of(i, k);
		table[k[0]] = table[k[1]] = i;
		if (i % 8 == 0)
			checkpoint(table, i, fd);
	}
	close(fd);
	return 0;
}

/* ---- recovery and verification ---- */

struct recovered {
	uint32_t table[NKEYS]; /* values after recovery */
	uint32_t commit;       /* last commit applied */
};

static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *buf;

	*len = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1)) ||
	    read(fd, buf, (size_t)st.st_size) != st.st_size)
		die(path);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void load_ckpt(struct recovered *r)
{
	size_t len;
	uint32_t *c = (uint32_t *)slurp("ckpt", &len);

	if (c && len == (3 + NKEYS) * 4 && c[0] == CKPT_MAGIC &&
	    c[1] == crc32c(c + 2, len - 8)) {
		r->commit = c[2];
		memcpy(r->table, c + 3, NKEYS * 4);
	}
	free(c);
}

/* Applies one record at log[off]; returns its length, or 0 where recovery stops. */
static size_t apply_record(struct recovered *r, const uint8_t *log, size_t len, size_t off)
{
	uint32_t hdr[4], k[2];

	if (len - off < 16)
		return 0;
	memcpy(hdr, log + off, 16);
	if (hdr[0] < 24 || hdr[0] > len - off)
		return 0;
	if (!is_bug("nocrc") && hdr[1] != crc32c(log + off + 8, hdr[0] - 8))
		return 0;
	memcpy(k, log + off + hdr[0] - 8, 8);
	if (hdr[2] <= r->commit && !is_bug("nocrc"))
		return hdr[0]; /* before the checkpoint: already in it */
	if (!is_bug("nocrc") && hdr[2] != r->commit + 1)
		return 0;
	r->table[k[0] % NKEYS] = r->table[k[1] % NKEYS] = hdr[2];
	r->commit = hdr[2];
	return hdr[0];
}

/* The engine's recovery: checkpoint, then the log, truncated where it stops. */
static void recover(struct recovered *r)
{
	size_t len, off = 0, n;
	uint8_t *log;

	memset(r, 0, sizeof(*r));
	load_ckpt(r);
	log = slurp("wal.log", &len);
	while (log && (n = apply_record(r, log, len, off)) > 0)
		off += n;
	if (log && off < len && truncate("wal.log", (off_t)off) < 0)
		die("truncate wal.log");
	free(log);
}

static int cmd_check(void)
{
	struct recovered r;
	uint32_t want[NKEYS] = {0}, ack = engine_acknowledged(), i, k[2];

	recover(&r);
	if (r.commit < ack) {
		printf("commit %u lost: recovery ends at commit %u\n", ack, r.commit);
		return 1;
	}
	if (r.commit > MAX_COMMIT) {
		printf("a torn record was applied: commit number %u\n", r.commit);
		return 1;
	}
	for (i = 1; i <= r.commit; i++) {
		keys_of(i, k);
		want[k[0]] = want[k[1]] = i;
	}
	for (i = 0; i < NKEYS; i++)
		if (r.table[i] != want[i]) {
			printf("key %u holds %u, commit %u says %u: a torn or half-applied record "
			       "was accepted\n", i, r.table[i], r.commit, want[i]);
			return 1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	int i, args = argc;

	for (i = 2; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--bug")) {
			bug = argv[i + 1];
			args = i;
		}
	if (*bug && !is_bug("nocrc") && !is_bug("early-ack") && !is_bug("no-dirsync") &&
	    !is_bug("ckpt-nosync")) {
		fprintf(stderr, "walkv: unknown --bug %s\n", bug);
		return 2;
	}
	if (args == 2 && !strcmp(argv[1], "init"))
		return 0; /* the first run creates the files: their creation is recorded */
	if (args == 3 && !strcmp(argv[1], "run"))
		return cmd_run((uint32_t)atoi(argv[2]));
	if (args == 2 && !strcmp(argv[1], "check"))
		return cmd_check();
	fprintf(stderr, "usage: walkv init | run N [--bug B] | check [--bug B]\n");
	return 2;
}
