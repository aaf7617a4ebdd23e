/*
 * mmapstore - a tiny key-value table kept in a MAP_SHARED mapping, the
 * case storage engineers keep asking about: a file enlarged with ftruncate
 * (or fallocate), mapped shared, pages written through the mapping,
 * msync(MS_SYNC).
 *
 * GUARANTEE CLAIMED (correct version): once "commit i" is acknowledged
 * (marked), a crash at any later point recovers the table of commit i or
 * of a later commit, exactly; no torn or half-written page is accepted.
 *
 * File store.db, 4096-byte pages:
 *   page 0, 1   meta pages: magic, generation, commit number, pages in use,
 *               table page, the table page's CRC32C, CRC32C of the meta
 *               (all in the first 40 bytes: one sector)
 *   page 2..    table pages: NKEYS (commit, tag) slots, tag = mix(key,
 *               commit) (0 for an empty slot), so a torn slot shows
 * init writes generation 1 (commit 0, table page 2) into both meta pages.
 * Commit i writes keys (7i) % NKEYS, (13i + 1) % NKEYS, (29i + 2) % NKEYS
 * with value i, so a checker can rebuild the expected table of any commit.
 *
 * Correct (shadow paging): grow the file by one page (ftruncate, or
 * posix_fallocate-style fallocate with --grow fallocate) and fsync, so the
 * new size is durable; remap; copy the table into the new page, apply the
 * commit, msync(MS_SYNC) that page; then write the other meta page
 * (generation + 1, naming the new page, checksummed) and msync it;
 * acknowledge after that msync.  Live pages are never written.  Recovery
 * (on open, and in check): the meta page with the highest generation whose
 * own CRC, table page and table CRC all check out.
 *
 * --bug naive: one meta page (page 0) and one table page (page 2), both
 * overwritten in place through the mapping; each commit also appends a
 * history page (slot 0 = (i, mix(NKEYS, i))), growing the file with
 * ftruncate and no fsync of the new size; one msync of the whole mapping,
 * then acknowledge.  Recovery trusts page 0 (its magic) and the pages it
 * names.  A crash can tear the table or the meta page, leave the meta page
 * ahead of the data it names, or keep a meta page that counts pages the
 * file lost.
 *
 * The checker runs that recovery, then verifies strictly: the recovered
 * commit is at least the last acknowledged one, the meta page checks out,
 * the file has every page the meta page counts, the table equals the
 * expected table of the recovered commit, and (naive) every history page
 * is there.  It prints one line naming the first problem, e.g.
 *   commit 4 lost: file shorter than its meta page says (size not durable)
 *   commit 7: key 5 holds a torn value (garbage: page 2 torn)
 *   commit 3 half-applied: its meta page reached the disk, its data did not
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
	uint32_t pad;	 /* zero */
	uint64_t gen;	 /* generation: the higher valid one is current */
	uint64_t commit; /* commits applied to the table */
	uint32_t npages; /* pages the file must have */
	uint32_t table;	 /* page number of the table */
	uint32_t tcrc;	 /* CRC32C of the table page */
	uint32_t crc;	 /* CRC32C of the fields above */
};

struct slot {
	uint32_t commit; /* last commit that wrote the key, 0 never */
	uint32_t tag;	 /* mix(key, commit): garbage shows */
};

static int naive;	/* --bug naive */
static int falloc_grow; /* --grow fallocate */

/* The tag of (key, commit): never 0 for a written slot, 0 for an empty one. */
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

/* Applies commit i to table t. */
static void apply(struct slot *t, uint32_t i)
{
	uint32_t k[3], j;

	keys_of(i, k);
	for (j = 0; j < 3; j++)
		t[k[j]] = (struct slot){i, mix(k[j], i)};
}

/* The table as it must be after commit v, into t (NKEYS slots). */
static void expected(uint32_t v, struct slot *t)
{
	uint32_t i;

	memset(t, 0, NKEYS * sizeof(*t));
	for (i = 1; i <= v; i++)
		apply(t, i);
}

static uint32_t meta_crc(const struct meta *m)
{
	return crc32c(m, offsetof(struct meta, crc));
}

/* Fills in the magic and both checksums of m, whose table page is table. */
static void meta_seal(struct meta *m, const void *table)
{
	m->magic = MAGIC;
	m->tcrc = crc32c(table, PAGE);
	m->crc = meta_crc(m);
}

static void fsync_dir(void)
{
	int fd = open(".", O_RDONLY | O_DIRECTORY);

	if (fd < 0 || fsync(fd) < 0)
		die("fsync .");
	close(fd);
}

/* Creates store.db: both meta pages at generation 1, an empty table. */
static int cmd_init(void)
{
	static uint8_t page[PAGE * 3];
	struct meta m = {.gen = 1, .npages = 3, .table = 2};
	int fd = open(DB, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("create " DB);
	meta_seal(&m, page + 2 * PAGE);
	memcpy(page, &m, sizeof(m));
	memcpy(page + PAGE, &m, sizeof(m));
	if (write(fd, page, sizeof(page)) != (ssize_t)sizeof(page) ||
	    fsync(fd) < 0)
		die("write " DB);
	close(fd);
	fsync_dir(); /* the new name survives a crash */
	return 0;
}

/* ---- recovery: what the engine does on open, and the checker first ---- */

/* Correct engine: the newest meta page whose checksums all hold, or NULL. */
static const struct meta *recover_shadow(const uint8_t *db, size_t pages)
{
	const struct meta *best = NULL;
	size_t p;

	for (p = 0; p < 2 && p < pages; p++) {
		const struct meta *m = (const struct meta *)(db + p * PAGE);

		if (m->magic != MAGIC || m->crc != meta_crc(m) ||
		    m->table >= pages || m->npages > pages ||
		    crc32c(db + (size_t)m->table * PAGE, PAGE) != m->tcrc)
			continue;
		if (!best || m->gen > best->gen)
			best = m;
	}
	return best;
}

/* The naive engine: page 0 if it carries the magic, or NULL. */
static const struct meta *recover_naive(const uint8_t *db, size_t pages)
{
	const struct meta *m = (const struct meta *)db;

	return pages && m->magic == MAGIC ? m : NULL;
}

static const struct meta *recover(const uint8_t *db, size_t pages)
{
	return naive ? recover_naive(db, pages) : recover_shadow(db, pages);
}

/* ---- the workload: commits c+1 .. c+N on a store at commit c ---- */

struct store {
	int fd;
	uint8_t *map;	 /* the whole file, MAP_SHARED */
	size_t pages;	 /* pages mapped */
	struct meta cur; /* the current meta, a copy */
};

/* Maps the file's first pages pages, dropping the old mapping. */
static void remap(struct store *s, size_t pages)
{
	if (s->map && munmap(s->map, s->pages * PAGE) < 0)
		die("munmap");
	s->map = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      s->fd, 0);
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
	/* Or a crash may keep a meta page naming a page the file lost. */
	if (!naive && fsync(s->fd) < 0)
		die("fsync after growing");
	remap(s, pages);
}

/* msync(MS_SYNC) of n pages from page: their writeback, then an fsync. */
static void msync_pages(struct store *s, size_t page, size_t n)
{
	if (msync(s->map + page * PAGE, n * PAGE, MS_SYNC) < 0)
		die("msync");
}

/* Shadow commit: new table page, msync, other meta page, msync. */
static void commit_shadow(struct store *s, uint32_t i)
{
	size_t np = s->cur.npages;
	uint8_t *table;
	struct meta m;

	grow(s);
	table = s->map + np * PAGE;
	memcpy(table, s->map + (size_t)s->cur.table * PAGE, PAGE);
	apply((struct slot *)table, i);
	/* The data is durable before a meta page names it. */
	msync_pages(s, np, 1);
	m = (struct meta){.gen = s->cur.gen + 1,
			  .commit = i,
			  .npages = (uint32_t)np + 1,
			  .table = (uint32_t)np};
	meta_seal(&m, table);
	/* The other meta page: the current one stays whole meanwhile. */
	memcpy(s->map + (m.gen % 2) * PAGE, &m, sizeof(m));
	msync_pages(s, m.gen % 2, 1);
	s->cur = m;
}

/* Naive commit: everything in place, one msync at the end. */
static void commit_naive(struct store *s, uint32_t i)
{
	size_t np = s->cur.npages;
	struct slot *hist;
	struct meta m;

	grow(s);
	hist = (struct slot *)(s->map + np * PAGE);
	*hist = (struct slot){i, mix(NKEYS, i)};
	apply((struct slot *)(s->map + 2 * PAGE), i);
	m = (struct meta){
	    .gen = i + 1, .commit = i, .npages = (uint32_t)np + 1, .table = 2};
	meta_seal(&m, s->map + 2 * PAGE);
	memcpy(s->map, &m, sizeof(m));
	msync_pages(s, 0, s->pages);
	s->cur = m;
}

/* Opens store.db as the engine does: map it, recover the current meta. */
static void store_open(struct store *s)
{
	const struct meta *m;
	struct stat st;

	if ((s->fd = open(DB, O_RDWR)) < 0)
		die("open " DB " (run init first)");
	if (fstat(s->fd, &st) < 0)
		die("stat " DB);
	remap(s, (size_t)st.st_size / PAGE);
	if (!(m = recover(s->map, s->pages))) {
		errno = EUCLEAN;
		die("no valid meta page");
	}
	s->cur = *m;
}

static int cmd_run(uint32_t n)
{
	struct store s = {.fd = -1};
	uint32_t i, first;

	store_open(&s);
	first = (uint32_t)s.cur.commit + 1; /* 1 on a fresh store */
	for (i = first; i < first + n; i++) {
		if (naive)
			commit_naive(&s, i);
		else
			commit_shadow(&s, i);
		engine_mark(i); /* after the msync of the meta page */
	}
	munmap(s.map, s.pages * PAGE);
	close(s.fd);
	return 0;
}

/* ---- verification: the truth, the same for every variant ---- */

/* "commit A lost: " when A was acknowledged, else "commit M: " (recovered). */
static void subject(uint32_t ack, uint32_t got)
{
	if (ack)
		printf("commit %u lost: ", ack);
	else
		printf("commit %u: ", got);
}

/* Recovery found no meta page, or a torn one: the store cannot be opened. */
static int verify_meta(const uint8_t *db, size_t pages, const struct meta *m,
		       uint32_t ack)
{
	if (!m && naive && pages)
		m = (const struct meta *)db; /* say how page 0 looks */
	if (m && m->magic == MAGIC && m->crc == meta_crc(m))
		return 0;
	if (ack)
		printf("commit %u lost: ", ack);
	if (!pages)
		printf("%s is empty: the store cannot be opened\n", DB);
	else if (naive)
		printf("page 0 torn: meta page checksum mismatch, the store "
		       "cannot be opened\n");
	else
		printf("no valid meta page (both torn or naming torn data): "
		       "the store cannot be opened\n");
	return 1;
}

/* The file must hold every page its meta page counts. */
static int verify_size(size_t pages, const struct meta *m, uint32_t ack)
{
	if (m->npages <= pages && m->table < pages)
		return 0;
	subject(ack, (uint32_t)m->commit);
	printf("file shorter than its meta page says (size not durable): "
	       "meta page counts %u pages for commit %u, the file has %zu\n",
	       m->npages, (unsigned)m->commit, pages);
	return 1;
}

/* Whether t holds any of commit c's writes: a page with some is torn. */
static int holds_some(const struct slot *t, uint32_t c)
{
	uint32_t k[3], j;

	keys_of(c, k);
	for (j = 0; j < 3; j++)
		if (t[k[j]].commit == c && t[k[j]].tag == mix(k[j], c))
			return 1;
	return 0;
}

/* "commit X's value" or "no value", for a checker line; static buffer. */
static const char *value_of(uint32_t commit)
{
	static char buf[2][32];
	static int n;

	n = !n;
	if (!commit)
		return "no value";
	snprintf(buf[n], sizeof(buf[n]), "commit %u's value", commit);
	return buf[n];
}

/* Explains slot k of table page p: commit c says it holds commit w's value. */
static int bad_slot(const struct slot *t, uint32_t k, uint32_t w, uint32_t c,
		    uint32_t p)
{
	const struct slot *s = &t[k];

	if (s->tag != mix(k, s->commit))
		printf("commit %u: key %u holds a torn value "
		       "(garbage: page %u torn)\n",
		       c, k, p);
	else if (s->commit > c)
		printf("commit %u half-applied: key %u holds its value, "
		       "the meta page says commit %u "
		       "(page %u reached the disk, its meta page did not)\n",
		       s->commit, k, c, p);
	else if (holds_some(t, c))
		printf("commit %u: key %u holds a torn value "
		       "(%s, not %s: page %u torn)\n",
		       c, k, value_of(s->commit), value_of(w), p);
	else
		printf("commit %u half-applied: its meta page reached the "
		       "disk, its data did not (key %u holds %s, not %s)\n",
		       c, k, value_of(s->commit), value_of(w));
	return 1;
}

/* The recovered table must be exactly the table of the recovered commit. */
static int verify_table(const uint8_t *db, const struct meta *m)
{
	static struct slot want[NKEYS];
	const struct slot *t =
	    (const struct slot *)(db + (size_t)m->table * PAGE);
	uint32_t k;

	expected((uint32_t)m->commit, want);
	for (k = 0; k < NKEYS; k++)
		if (t[k].commit != want[k].commit || t[k].tag != want[k].tag)
			return bad_slot(t, k, want[k].commit,
					(uint32_t)m->commit, m->table);
	return 0;
}

/* The naive engine's history pages 3.. : commit j's must be there. */
static int verify_history(const uint8_t *db, const struct meta *m)
{
	uint32_t j;

	for (j = 1; naive && j <= m->commit; j++) {
		const struct slot *h =
		    (const struct slot *)(db + (size_t)(2 + j) * PAGE);

		if (h->commit == j && h->tag == mix(NKEYS, j))
			continue;
		if (h->commit || h->tag)
			printf("commit %u: history page %u torn "
			       "(commit %u's entry holds garbage)\n",
			       (unsigned)m->commit, 2 + j, j);
		else
			printf("commit %u half-applied: history page %u "
			       "(commit %u's) reads zeros: the file grew, "
			       "the page's data did not persist\n",
			       (unsigned)m->commit, 2 + j, j);
		return 1;
	}
	return 0;
}

/* Recovery, then the truth, on the file's bytes db (pages whole pages). */
static int check_image(const uint8_t *db, size_t pages, uint32_t ack)
{
	const struct meta *m = recover(db, pages);

	if (verify_meta(db, pages, m, ack))
		return 1;
	if (m->commit < ack) {
		printf("commit %u lost: recovery finds commit %u\n", ack,
		       (unsigned)m->commit);
		return 1;
	}
	return verify_size(pages, m, ack) || verify_table(db, m) ||
	       verify_history(db, m);
}

static int cmd_check(void)
{
	uint32_t ack = engine_acknowledged();
	int fd = open(DB, O_RDONLY), rc;
	struct stat st;
	uint8_t *db;

	if (fd < 0) {
		if (ack)
			printf("commit %u lost: ", ack);
		printf("%s is gone: the store cannot be opened\n", DB);
		return 1;
	}
	if (fstat(fd, &st) < 0 ||
	    !(db = calloc(1, (size_t)st.st_size + PAGE)) ||
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
		if (!strcmp(argv[i], "--bug") && i + 1 < argc &&
		    !strcmp(argv[i + 1], "naive"))
			naive = 1, i++;
		else if (!strcmp(argv[i], "--grow") && i + 1 < argc &&
			 !strcmp(argv[i + 1], "fallocate"))
			falloc_grow = 1, i++;
		else if (i != 2 || strcmp(argv[1], "run"))
			break;
	}
	if (argc == 2 && !strcmp(argv[1], "init"))
		return cmd_init();
	if (argc >= 3 && !strcmp(argv[1], "run") && i == argc &&
	    atoi(argv[2]) > 0)
		return cmd_run((uint32_t)atoi(argv[2]));
	if (argc >= 2 && !strcmp(argv[1], "check") && i >= argc)
		return cmd_check();
	fprintf(
	    stderr,
	    "usage: mmapstore init | run N [--bug naive] [--grow fallocate] | "
	    "check [--bug naive]\n");
	return 2;
}
