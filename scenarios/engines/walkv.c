/*
 * walkv - a key-value store over a write-ahead log, with checkpoints.
 *
 * GUARANTEE CLAIMED (correct version): once "commit i" is acknowledged
 * (marked), recovery after a crash at any later point yields exactly the
 * map of commit i or of a later commit; a torn or half-written log record
 * or checkpoint is never applied.  It holds under every faultline model
 * (strict, posix, ext4-ordered), tears included, as long as writing a
 * sector leaves its neighbours alone ("powersafe overwrite": records share
 * 4 KiB blocks, so --block 4096 can damage an acknowledged record, as it
 * would SQLite's WAL without padding to the block).
 *
 * The map: NKEYS u32 keys, all 0 at first.  Commit i sets keys
 * (5i) % NKEYS and (11i + 3) % NKEYS to i, so the map of any commit can be
 * rebuilt by the checker from the commit number alone.
 *
 * Files, all little-endian, created by the first run (so their creation
 * is part of the recorded workload; init creates nothing):
 *   wal.log  a sequence of REC_SIZE-byte records:
 *              u32 length     REC_SIZE
 *              u32 crc        CRC32C of bytes 8..length (0 with --bug nocrc)
 *              u32 commit     i
 *              u32 nkeys      2
 *              PAD bytes      filler, i & 0xff (records span sectors)
 *              u32 key[2]     the keys commit i sets (last, so a torn
 *                             record shows in them)
 *            A record is valid when it is complete, its length, key
 *            count and keys are in range, its CRC holds and its commit
 *            number follows the previous one; records at or below the
 *            checkpoint's commit are skipped (a lost truncate leaves them).
 *   ckpt     u32 magic CKPT_MAGIC, u32 CRC32C of the rest, u32 commit,
 *            NKEYS u32 values: the map after that commit.
 *   ckpt.tmp a checkpoint being written; ignored by recovery.
 *
 * Correct engine.  run: create wal.log if it is missing, fsync it and the
 * directory (or the name may vanish); then for each commit: one write(2)
 * of its record, fdatasync, and only then the mark.  After every 8th
 * commit, checkpoint: the map to ckpt.tmp, fsync it, rename it over ckpt,
 * fsync the directory (now the checkpoint is durable), and only then
 * truncate the log to 0 and fsync it.  Recovery (on open, and the first
 * half of check): load ckpt if its magic and CRC hold, replay the valid
 * records of wal.log after it, and truncate the log at the first record
 * that is not valid.
 *
 * Buggy variants, one --bug flag each (on check only nocrc, the one whose
 * recovery differs, changes anything):
 *   nocrc        records carry no CRC and recovery checks none: a torn
 *                tail whose header survived is applied (posix, strict)
 *   early-ack    acknowledges before the fdatasync (posix, ext4-ordered)
 *   no-dirsync   never fsyncs the directory: the log's name and the
 *                checkpoint's rename may vanish under posix; ext4-ordered
 *                commits both with the log's next fsync, so it passes
 *   ckpt-nosync  renames ckpt.tmp over ckpt without fsyncing it first:
 *                the log is truncated while the checkpoint's bytes may
 *                still be lost (posix, ext4-ordered)
 *
 * check verifies strictly, whatever the variant: the recovered commit is
 * at least the last acknowledged one, and the recovered map equals the
 * map of the recovered commit, key by key.  It prints one line on failure:
 *   commit 8 lost: recovery ends at commit 0
 *   key 5 holds 0, commit 1 says 1: a torn or half-applied record was accepted
 *
 * Usage: walkv init | run N [--bug B] | check [--bug B]
 *        | check-server [--in-process] [--bug B]
 *
 * check-server is the same check as a warm checker (faultline explore
 * --check-server "walkv check-server"): faultline_serve() forks one child
 * per state, which runs cmd_check() in it.  With --in-process,
 * faultline_serve_in_process() runs cmd_check() in the server itself: it
 * may, because cmd_check() frees and closes all it takes and keeps nothing
 * in globals between calls.
 * Exit codes: 0 fine; 1 the guarantee is broken (check); 2 usage or an
 * I/O error (the engine itself failed).
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
#include "../../src/faultline_checker.h"

#define NKEYS 64
#define PAD 700			    /* filler bytes per record */
#define REC_SIZE (16 + PAD + 8)	    /* bytes per log record */
#define CKPT_SIZE ((3 + NKEYS) * 4) /* bytes of a checkpoint */
#define CKPT_MAGIC 0x434b5054u	    /* "TPKC" read little-endian */
#define CKPT_EVERY 8		    /* commits between checkpoints */
#define MAX_COMMIT 1000000u	    /* commits a run may write */
#define LOG "wal.log"

static const char *bug = ""; /* --bug NAME, "" for the correct engine */

static int is_bug(const char *name)
{
	return !strcmp(bug, name);
}

static void die(const char *what)
{
	engine_die("walkv", what);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint32_t get_u32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The two keys commit i sets, into k. */
static void keys_of(uint32_t i, uint32_t k[2])
{
	k[0] = (5 * i) % NKEYS;
	k[1] = (11 * i + 3) % NKEYS;
}

/* fsync of the current directory: makes creates and renames in it durable. */
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

/* Appends the record of commit i to the log with one write(2). */
static void log_append(int fd, uint32_t i)
{
	uint8_t rec[REC_SIZE];
	uint32_t k[2];

	keys_of(i, k);
	put_u32(rec, REC_SIZE);
	put_u32(rec + 8, i);
	put_u32(rec + 12, 2);
	memset(rec + 16, (int)(i & 0xff), PAD);
	put_u32(rec + 16 + PAD, k[0]);
	put_u32(rec + 20 + PAD, k[1]);
	put_u32(rec + 4, is_bug("nocrc") ? 0 : crc32c(rec + 8, REC_SIZE - 8));
	if (write(fd, rec, REC_SIZE) != REC_SIZE)
		die("append to " LOG);
}

/*
 * Writes map (the state after commit) as the new checkpoint, then empties
 * the log.  Each step's order is the point: the log may only go once the
 * checkpoint that replaces it is durable, bytes and name.
 */
static void checkpoint(const uint32_t *map, uint32_t commit, int logfd)
{
	uint8_t buf[CKPT_SIZE];
	int fd = open("ckpt.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint32_t k;

	put_u32(buf, CKPT_MAGIC);
	put_u32(buf + 8, commit);
	for (k = 0; k < NKEYS; k++)
		put_u32(buf + 12 + 4 * k, map[k]);
	put_u32(buf + 4, crc32c(buf + 8, CKPT_SIZE - 8));
	if (fd < 0 || write(fd, buf, CKPT_SIZE) != CKPT_SIZE)
		die("write ckpt.tmp");
	/* Else the rename may reach the disk before the bytes it names. */
	if (!is_bug("ckpt-nosync") && fsync(fd) < 0)
		die("fsync ckpt.tmp");
	close(fd);
	if (rename("ckpt.tmp", "ckpt") < 0)
		die("rename ckpt.tmp ckpt");
	/* Else the rename may be lost while the truncated log is not. */
	fsync_dir();
	if (ftruncate(logfd, 0) < 0 || fsync(logfd) < 0)
		die("truncate " LOG);
}

/* Opens the log for appending, creating it durably if it is missing. */
static int log_open(void)
{
	int created = access(LOG, F_OK) < 0;
	int fd = open(LOG, O_WRONLY | O_APPEND | O_CREAT, 0644);

	if (fd < 0)
		die("open " LOG);
	if (created) {
		if (fsync(fd) < 0)
			die("fsync " LOG);
		fsync_dir(); /* else the log's name may vanish (posix) */
	}
	return fd;
}

/* Commits 1..n on a fresh store, acknowledging each once it is durable. */
static int cmd_run(uint32_t n)
{
	uint32_t map[NKEYS] = {0}, i, k[2];
	int fd = log_open();

	for (i = 1; i <= n; i++) {
		log_append(fd, i);
		if (is_bug("early-ack"))
			engine_mark(i); /* acknowledged, not yet durable */
		if (fdatasync(fd) < 0)
			die("fdatasync " LOG);
		if (!is_bug("early-ack"))
			engine_mark(i);
		keys_of(i, k);
		map[k[0]] = map[k[1]] = i;
		if (i % CKPT_EVERY == 0)
			checkpoint(map, i, fd);
	}
	close(fd);
	return 0;
}

/* ---- recovery: what the engine does on open ---- */

struct recovered {
	uint32_t map[NKEYS]; /* values after recovery */
	uint32_t commit;     /* last commit applied, 0 for none */
};

/*
 * Reads the whole file at path; returns a malloc'd buffer the caller
 * frees and its length in *len, or NULL (and 0) when there is no file.
 * Any other failure ends the program.
 */
static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *buf;
	ssize_t n;

	*len = 0;
	if (fd < 0 && errno == ENOENT)
		return NULL;
	if (fd < 0 || fstat(fd, &st) < 0 ||
	    !(buf = malloc((size_t)st.st_size + 1)))
		die(path);
	while (*len < (size_t)st.st_size &&
	       (n = read(fd, buf + *len, (size_t)st.st_size - *len)) > 0)
		*len += (size_t)n;
	if (*len < (size_t)st.st_size)
		die(path);
	close(fd);
	return buf;
}

/* Loads ckpt into r if it is whole (size, magic, CRC); else leaves r empty. */
static void load_ckpt(struct recovered *r)
{
	size_t len;
	uint8_t *c = slurp("ckpt", &len);
	uint32_t k;

	if (c && len == CKPT_SIZE && get_u32(c) == CKPT_MAGIC &&
	    get_u32(c + 4) == crc32c(c + 8, CKPT_SIZE - 8)) {
		r->commit = get_u32(c + 8);
		for (k = 0; k < NKEYS; k++)
			r->map[k] = get_u32(c + 12 + 4 * k);
	}
	free(c);
}

/*
 * Applies the record at log[off] (len bytes in all) to r; returns its
 * length, or 0 when it is not valid and recovery stops there.
 */
static size_t apply_record(struct recovered *r, const uint8_t *log, size_t len,
			   size_t off)
{
	const uint8_t *rec = log + off;
	uint32_t commit, k0, k1;

	if (len - off < REC_SIZE || get_u32(rec) != REC_SIZE ||
	    get_u32(rec + 12) != 2)
		return 0; /* incomplete or torn header */
	k0 = get_u32(rec + 16 + PAD);
	k1 = get_u32(rec + 20 + PAD);
	if (k0 >= NKEYS || k1 >= NKEYS)
		return 0; /* no such key: torn */
	if (!is_bug("nocrc") &&
	    get_u32(rec + 4) != crc32c(rec + 8, REC_SIZE - 8))
		return 0; /* torn body */
	commit = get_u32(rec + 8);
	if (commit <= r->commit)
		return REC_SIZE; /* already in the checkpoint */
	if (commit != r->commit + 1)
		return 0; /* a gap: not the record that follows */
	r->map[k0] = r->map[k1] = commit;
	r->commit = commit;
	return REC_SIZE;
}

/* Recovery: checkpoint, then the log, truncated where replay stops. */
static void recover(struct recovered *r)
{
	size_t len, off = 0, n;
	uint8_t *log;

	memset(r, 0, sizeof(*r));
	load_ckpt(r);
	log = slurp(LOG, &len);
	while (log && (n = apply_record(r, log, len, off)) > 0)
		off += n;
	/* The torn tail goes, so later appends follow the last good record. */
	if (log && off < len && truncate(LOG, (off_t)off) < 0)
		die("truncate " LOG);
	free(log);
}

/* ---- the checker: recovery, then the truth ---- */

/* Runs recovery, then verifies it against $FAULTLINE_MARKS: 0 or 1. */
static int cmd_check(void)
{
	struct recovered r;
	uint32_t want[NKEYS] = {0}, ack = engine_acknowledged(), i, k[2];

	recover(&r);
	if (r.commit < ack) {
		printf("commit %u lost: recovery ends at commit %u\n", ack,
		       r.commit);
		return 1;
	}
	if (r.commit > MAX_COMMIT) {
		printf("a torn record was applied: commit number %u\n",
		       r.commit);
		return 1;
	}
	for (i = 1; i <= r.commit; i++) {
		keys_of(i, k);
		want[k[0]] = want[k[1]] = i;
	}
	for (i = 0; i < NKEYS; i++)
		if (r.map[i] != want[i]) {
			printf("key %u holds %u, commit %u says %u: a torn or "
			       "half-applied record was accepted\n",
			       i, r.map[i], r.commit, want[i]);
			return 1;
		}
	return 0;
}

/* cmd_check() for the server: in its child, or in the server itself with
 * --in-process (cwd and FAULTLINE_* are set either way). */
static int serve_check(const char *dir, const char *id, const char *marks)
{
	(void)dir;
	(void)id;
	(void)marks;
	return cmd_check();
}

static int usage(void)
{
	fputs("usage: walkv init | run N [--bug nocrc|early-ack|no-dirsync|"
	      "ckpt-nosync] | check [--bug B] | check-server [--in-process] "
	      "[--bug B]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long n;
	char *end;
	int args = argc;

	if (argc >= 4 && !strcmp(argv[argc - 2], "--bug")) {
		bug = argv[argc - 1];
		args = argc - 2;
	}
	if (*bug && !is_bug("nocrc") && !is_bug("early-ack") &&
	    !is_bug("no-dirsync") && !is_bug("ckpt-nosync"))
		return usage();
	if (args == 2 && !strcmp(argv[1], "init"))
		return 0; /* the first run creates the files, recorded */
	if (args == 2 && !strcmp(argv[1], "check"))
		return cmd_check(); /* only nocrc changes recovery */
	if (args == 2 && !strcmp(argv[1], "check-server"))
		return faultline_serve(serve_check);
	if (args == 3 && !strcmp(argv[1], "check-server") &&
	    !strcmp(argv[2], "--in-process"))
		return faultline_serve_in_process(serve_check);
	if (args != 3 || strcmp(argv[1], "run"))
		return usage();
	errno = 0;
	n = strtoul(argv[2], &end, 10);
	if (errno || *end || end == argv[2] || n > MAX_COMMIT)
		return usage();
	return cmd_run((uint32_t)n);
}
