/*
 * mmapstore - a tiny key-value store kept in a MAP_SHARED mapping.
 *
 * GUARANTEE CLAIMED (correct version): once "commit i" is acknowledged
 * (marked), a crash at any later point recovers a consistent table at
 * commit i or later; no torn or half-written page is ever accepted.
 *
 * On disk, 4096-byte pages:
 *   page 0, 1   meta pages: magic, generation, commit number, pages in use,
 *               table page, the table page's CRC32C, the meta's CRC32C
 *   page 2..    table pages: NKEYS (commit, tag) pairs, tag = mix(key, commit)
 * Commit i writes keys (7i) % NKEYS, (13i + 1) % NKEYS and (29i + 2) % NKEYS
 * with value i, so a checker can rebuild the expected table of any commit.
 *
 * Correct (shadow paging): grow the file by one page (ftruncate, or
 * fallocate with --grow fallocate) and fsync so the new size is durable,
 * map it, write the new table into the new page, msync(MS_SYNC) it, then
 * write the other meta page (generation + 1, pointing at the new page,
 * checksummed) and msync it; acknowledge after that.  Recovery takes the
 * valid meta page with the highest generation whose table page exists and
 * matches its checksum.
 *
 * --bug naive: one meta page (page 0), one table page (page 2), both
 * overwritten in place through the mapping; the file grows by a history
 * page per commit with ftruncate and no fsync of the new size; msync, then
 * acknowledge.  Recovery trusts page 0.  A crash can tear the table or the
 * meta page, and can keep a meta page that counts pages the file lost.
 *
 * Usage: mmapstore init | run N [--bug naive] [--grow fallocate] |
 *        check [--bug naive]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"

#define PAGE 4096
#define NKEYS 256
#define MAGIC 0x4d4d5354u /* "MMST" */
#define DB "store.db"

struct meta {
	uint32_t magic;
	uint32_t pad;
	uint64_t gen;     /* generation: which meta page is newer */
	uint64_t commit;  /* commits in the table */
	uint32_t npages;  /* pages the file has in use */
	uint32_t table;   /* page number of the table */
	uint32_t tcrc;    /* CRC32C of the table page */
	uint32_t crc;     /* CRC32C of the fields above */
};

struct slot {
	uint32_t commit; /* last commit that wrote the key, 0 never */
	uint32_t tag;    /* mix(key, commit): garbage shows */
};

static int naive, falloc_grow;

static uint32_t mix(uint32_t key, uint32_t commit)
{
	uint32_t v[2] = {key, commit};

	return commit ? crc32c(v, sizeof(v)) | 1 : 0;
}

static void die(const char *what)
{
	engine_die("mmapstore", what);
}

static void keys_of(uint32_t i, uint32_t k[3])
{
	k[0] = (7 * i) % NKEYS;
	k[1] = (13 * i + 1) % NKEYS;
	k[2] = (29 * i + 2) % NKEYS;
}

/* The table as it must be after commit v. */
static void expected(uint32_t v, struct slot *t)
{
	uint32_t i, j, k[3];

	memset(t, 0, NKEYS * sizeof(*t));
	for (i = 1; i <= v; i++) {
		keys_of(i, k);
		for (j = 0; j < 3; j++)
			t[k[j]] = (struct slot){i, mix(k[j], i)};
	}
}

static void meta_seal(struct meta *m, const void *table)
{
	m->magic = MAGIC;
	m->tcrc = crc32c(table, PAGE);
	m->crc = crc32c(m, offsetof(struct meta, crc));
}

static void fsync_dir(void)
{
	int fd = open(".", O_RDONLY | O_DIRECTORY);

	if (fd < 0 || fsync(fd) < 0)
		die("fsync .");
	close(fd);
}

static int cmd_init(void)
{
	static uint8_t page[PAGE * 3];
	struct meta *m = (struct meta *)page;
	int fd = open(DB, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("create " DB);
	*m = (struct meta){.gen = 1, .npages = 3, .table = 2};
	meta_seal(m, page + 2 * PAGE);
	if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page) || fsync(fd) < 0)
		die("write " DB);
	close(fd);
	fsync_dir();
	return 0;
}

/* ---- the workload ---- */

struct store {
	int fd;
	uint8_t *map;     /* the whole file, MAP_SHARED */
	size_t pages;     /* mapped pages */
	struct meta cur;  /* the newest meta */
};

static void remap(struct store *s, size_t pages)
{
	if (s->map && munmap(s->map, s->pages * PAGE) < 0)
		die("munmap");
	s->map = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->map == MAP_FAILED)
		die("mmap");
	s->pages = pages;
}

/* Adds one page to the file; the correct engine makes the new size durable. */
static void grow(struct store *s)
{
	size_t pages = s->cur.npages + 1;

	if (falloc_grow) {
		if (fallocate(s->fd, 0, (off_t)(pages - 1) * PAGE, PAGE) < 0)
			die("fallocate");
	} else if (ftruncate(s->fd, (off_t)pages * PAGE) < 0) {
		die("ftruncate");
	}
	if (!naive && fsync(s->fd) < 0)
		die("fsync after growing");
	remap(s, pages);
}

static void apply(struct slot *t, uint32_t i)
{
	uint32_t k[3], j;

	keys_of(i, k);
	for (j = 0; j < 3; j++)
		t[k[j]] = (struct slot){i, mix(k[j], i)};
}

static void msync_page(struct store *s, size_t page)
{
	if (msync(s->map + page * PAGE, PAGE, MS_SYNC) < 0)
		die("msync");
}

static void commit_shadow(struct store *s, uint32_t i)
{
	size_t np = s->cur.npages;
	struct meta m;

	grow(s);
	memcpy(s->map + np * PAGE, s->map + (size_t)s->cur.table * PAGE, PAGE);
	apply((struct slot *)(s->map + np * PAGE), i);
	msync_page(s, np);
	m = (struct meta){.gen = s->cur.gen + 1, .commit = i, .npages = (uint32_t)np + 1,
			  .table = (uint32_t)np};
	meta_seal(&m, s->map + np * PAGE);
	memcpy(s->map + (m.gen % 2) * PAGE, &m, sizeof(m));
	msync_page(s, m.gen % 2);
	s->cur = m;
}

static void commit_naive(struct store *s, uint32_t i)
{
	size_t np = s->cur.npages;
	struct slot *hist;
	struct meta m;

	grow(s);
	hist = (struct slot *)(s->map + np * PAGE); /* this commit's history page */
	hist->commit = i;
	hist->tag = mix(NKEYS, i);
	apply((struct slot *)(s->map + 2 * PAGE), i);
	m = (struct meta){.gen = i + 1, .commit = i, .npages = (uint32_t)np + 1, .table = 2};
	meta_seal(&m, s->map + 2 * PAGE);
	memcpy(s->map, &m, sizeof(m));
	if (msync(s->map, s->pages * PAGE, MS_SYNC) < 0)
		die("msync");
	s->cur = m;
}

static int cmd_run(uint32_t n)
{
	struct store s = {.fd = open(DB, O_RDWR)};
	uint32_t i;

	if (s.fd < 0)
		die("open " DB " (run init first)");
	if (pread(s.fd, &s.cur, sizeof(s.cur), 0) != (ssize_t)sizeof(s.cur))
		die("read meta");
	remap(&s, s.cur.npages);
	for (i = 1; i <= n; i++) {
		if (naive)
			commit_naive(&s, i);
		else
			commit_shadow(&s, i);
		engine_mark(i);
	}
	munmap(s.map, s.pages * PAGE);
	close(s.fd);
	return 0;
}

/* ---- recovery and verification ---- */

/* Recovery as the correct engine does it: the newest meta that checks out. */
static const struct meta *recover_shadow(const uint8_t *db, size_t pages)
{
	const struct meta *best = NULL;
	int p;

	for (p = 0; p < 2 && (size_t)p < pages; p++) {
		const struct meta *m = (const struct meta *)(db + (size_t)p * PAGE);

		if (m->magic != MAGIC || m->crc != crc32c(m, offsetof(struct meta, crc)) ||
		    m->table >= pages || m->npages > pages ||
		    crc32c(db + (size_t)m->table * PAGE, PAGE) != m->tcrc)
			continue;
		if (!best || m->gen > best->gen)
			best = m;
	}
	return best;
}

/* How a verdict starts: what was promised, or that nothing was. */
static void lost(uint32_t ack)
{
	if (ack)
		printf("commit %u lost: ", ack);
	else
		printf("nothing acknowledged, yet recovery accepts a broken store: ");
}

/* Checks the recovered table against the truth; prints the first problem. */
static int verify_table(const uint8_t *db, const struct meta *m, uint32_t ack)
{
	static struct slot want[NKEYS];
	const struct slot *t = (const struct slot *)(db + (size_t)m->table * PAGE);
	uint32_t k;

	if (m->commit < ack) {
		printf("commit %u lost: recovery finds commit %u\n", ack, (unsigned)m->commit);
		return 1;
	}
	expected((uint32_t)m->commit, want);
	for (k = 0; k < NKEYS; k++) {
		if (t[k].commit == want[k].commit && t[k].tag == want[k].tag)
			continue;
		if (t[k].tag != mix(k, t[k].commit))
			printf("page %u torn: key %u holds garbage (commit %u acknowledged)\n",
			       m->table, k, ack);
		else
			printf("key %u holds commit %u, commit %u says %u: a half-applied commit\n",
			       k, t[k].commit, (unsigned)m->commit, want[k].commit);
		return 1;
	}
	return 0;
}

/* The naive engine's history pages: one per commit, each must be there. */
static int verify_history(const uint8_t *db, size_t pages, const struct meta *m, uint32_t ack)
{
	uint32_t j;

	if (m->npages > pages) {
		lost(ack);
		printf("file shorter than its meta page says (size not durable): "
		       "meta says %u pages, file has %zu\n", m->npages, pages);
		return 1;
	}
	for (j = 1; j <= m->commit; j++) {
		const struct slot *h = (const struct slot *)(db + (size_t)(2 + j) * PAGE);

		if (h->commit != j || h->tag != mix(NKEYS, j)) {
			lost(ack);
			printf("history page %u reads %s (the file grew, its data did not "
			       "persist)\n", 2 + j, h->commit ? "garbage" : "zeros");
			return 1;
		}
	}
	return 0;
}

/* Recovery, then the truth, on the file's bytes in db. */
static int check_image(const uint8_t *db, size_t pages, uint32_t ack)
{
	const struct meta *m;

	m = naive ? (pages ? (const struct meta *)db : NULL) : recover_shadow(db, pages);
	if (!m || (naive && m->magic != MAGIC)) {
		if (ack || naive)
			lost(ack), printf("meta page torn or missing\n");
		return ack || (naive && pages) ? 1 : 0;
	}
	if (naive && (m->table >= pages || verify_history(db, pages, m, ack)))
		return 1;
	return verify_table(db, m, ack);
}

static int cmd_check(void)
{
	uint32_t ack = engine_acknowledged();
	int fd = open(DB, O_RDONLY), rc;
	struct stat st;
	uint8_t *db;

	if (fd < 0) {
		printf(ack ? "commit %u lost: " DB " is gone\n" : "", ack);
		return ack ? 1 : 0;
	}
	if (fstat(fd, &st) < 0 || !(db = calloc(1, (size_t)st.st_size + PAGE)) ||
	    read(fd, db, (size_t)st.st_size) != st.st_size)
		die("read " DB);
	close(fd);
	rc = check_image(db, (size_t)st.st_size / PAGE, ack);
	free(db);
	return rc;
}

int main(int argc, char **argv)
{
	int i;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--bug") && i + 1 < argc && !strcmp(argv[i + 1], "naive"))
			naive = 1, i++;
		else if (!strcmp(argv[i], "--grow") && i + 1 < argc &&
			 !strcmp(argv[i + 1], "fallocate"))
			falloc_grow = 1, i++;
		else if (i != 2 || strcmp(argv[1], "run"))
			break;
	}
	if (argc >= 2 && !strcmp(argv[1], "init") && argc == 2)
		return cmd_init();
	if (argc >= 3 && !strcmp(argv[1], "run") && i == argc)
		return cmd_run((uint32_t)atoi(argv[2]));
	if (argc >= 2 && !strcmp(argv[1], "check") && i >= argc)
		return cmd_check();
	fprintf(stderr, "usage: mmapstore init | run N [--bug naive] [--grow fallocate] | "
			"check [--bug naive]\n");
	return 2;
}
