/*
 * cowtree - an append-only copy-on-write B-tree (two levels: a root of
 * leaves), in the manner of LMDB and bolt.
 *
 * GUARANTEE CLAIMED (correct version): once "commit i" is acknowledged
 * (marked), recovery after a crash at any later point finds the tree of
 * commit i or a later one, every page of it intact.
 *
 * File tree.db, 4096-byte pages:
 *   page 0, 1  meta: magic, generation, commit, root page, pages, CRC32C
 *   page 2..   tree pages, each: u32 type (1 leaf, 2 root), u32 count,
 *              count pairs of u32 (key, value) for a leaf or (lowest key,
 *              child page) for the root, CRC32C in the page's last 4 bytes
 * Live pages are never overwritten: a commit appends new copies of the
 * leaves it changes (splitting a full leaf in two) and a new root.
 * Commit i sets keys (37i) % 97 and (53i + 11) % 97 to i.
 *
 * Correct: append the pages, fdatasync (the data is durable BEFORE the
 * meta page names it), write the other meta page (generation + 1,
 * checksummed), fdatasync, acknowledge.  Recovery trusts the valid meta
 * page (CRC) with the highest generation, as LMDB does: it does not
 * re-read the tree to decide.
 *
 * --bug meta-nocrc        one meta page (page 0), no checksum on it
 * --bug meta-before-sync  no fdatasync between the pages and the meta
 *
 * Usage: cowtree init | run N [--bug B] | check [--bug B]
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
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"

#define PAGE 4096
#define LEAF_CAP 8         /* pairs per leaf before it splits */
#define MAX_LEAVES 64
#define NKEYS 97
#define MAGIC 0x434f5754u  /* "COWT" */
#define DB "tree.db"

struct meta {
	uint32_t magic;
	uint32_t root;    /* root page */
	uint64_t gen;     /* generation */
	uint64_t commit;  /* commits in the tree */
	uint32_t pages;   /* pages in use */
	uint32_t crc;     /* CRC32C of the fields above */
};

struct leaf {
	uint32_t n;                   /* pairs */
	uint32_t kv[LEAF_CAP + 1][2]; /* (key, value), sorted by key */
	uint32_t page;                /* where it is on disk, 0 if dirty */
};

static const char *bug = "";
static struct leaf leaves[MAX_LEAVES]; /* the tree in memory, by lowest key */
static uint32_t nleaves;

static void die(const char *what)
{
	engine_die("cowtree", what);
}

static void meta_seal(struct meta *m)
{
	m->magic = MAGIC;
	m->crc = !strcmp(bug, "meta-nocrc") ? 0 : crc32c(m, offsetof(struct meta, crc));
}

/* Fills a page: type, count, pairs, CRC32C at the end. */
static void page_pack(uint8_t *pg, uint32_t type, uint32_t n, const uint32_t (*pairs)[2])
{
	uint32_t crc;

	memset(pg, 0, PAGE);
	memcpy(pg, &type, 4);
	memcpy(pg + 4, &n, 4);
	if (n)
		memcpy(pg + 8, pairs, (size_t)n * 8);
	crc = crc32c(pg, PAGE - 4);
	memcpy(pg + PAGE - 4, &crc, 4);
}

static int cmd_init(void)
{
	static uint8_t pg[PAGE * 3];
	struct meta m = {.gen = 1, .root = 2, .pages = 3};
	int fd = open(DB, O_RDWR | O_CREAT | O_TRUNC, 0644), dfd;

	page_pack(pg + 2 * PAGE, 2, 0, NULL);
	meta_seal(&m);
	memcpy(pg, &m, sizeof(m));
	if (fd < 0 || write(fd, pg, sizeof(pg)) != (ssize_t)sizeof(pg) || fsync(fd) < 0)
		die("create " DB);
	close(fd);
	dfd = open(".", O_RDONLY | O_DIRECTORY);
	if (dfd < 0 || fsync(dfd) < 0)
		die("fsync .");
	close(dfd);
	return 0;
}

/* ---- reading the tree (recovery and the checker share it) ---- */

struct image {
	uint8_t *db;   /* the whole file */
	size_t pages;  /* whole pages in it */
};

/* A page if it exists, has the type and its CRC holds; else NULL. */
static const uint8_t *page_ok(const struct image *im, uint32_t p, uint32_t type)
{
	const uint8_t *pg;
	uint32_t t, n, crc;

	if (p < 2 || p >= im->pages)
		return NULL;
	pg = im->db + (size_t)p * PAGE;
	memcpy(&t, pg, 4);
	memcpy(&n, pg + 4, 4);
	memcpy(&crc, pg + PAGE - 4, 4);
	if (t != type || n > (PAGE - 12) / 8 || crc != crc32c(pg, PAGE - 4))
		return NULL;
	return pg;
}

/* Loads the tree under root into leaves[]; returns the bad page, or 0. */
static uint32_t load_tree(const struct image *im, uint32_t root)
{
	const uint8_t *r = page_ok(im, root, 2), *l;
	uint32_t n, i, pair[2];

	if (!r)
		return root;
	memcpy(&n, r + 4, 4);
	nleaves = 0;
	for (i = 0; i < n && i < MAX_LEAVES; i++) {
		memcpy(pair, r + 8 + 8 * i, 8);
		if (!(l = page_ok(im, pair[1], 1)))
			return pair[1];
		memcpy(&leaves[nleaves].n, l + 4, 4);
		if (leaves[nleaves].n > LEAF_CAP)
			return pair[1];
		memcpy(leaves[nleaves].kv, l + 8, leaves[nleaves].n * 8);
		leaves[nleaves++].page = pair[1];
	}
	return 0;
}

static void read_image(struct image *im)
{
	int fd = open(DB, O_RDONLY);
	struct stat st;

	im->db = NULL;
	im->pages = 0;
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !(im->db = calloc(1, (size_t)st.st_size + PAGE)) ||
	    read(fd, im->db, (size_t)st.st_size) != st.st_size)
		die("read " DB);
	im->pages = (size_t)st.st_size / PAGE;
	close(fd);
}

/* Recovery's choice of meta page: the newest valid one (any, for meta-nocrc: page 0). */
static const struct meta *recover_meta(const struct image *im)
{
	const struct meta *best = NULL;
	int p;

	for (p = 0; p < 2 && (size_t)p < im->pages; p++) {
		const struct meta *m = (const struct meta *)(im->db + (size_t)p * PAGE);

		if (!strcmp(bug, "meta-nocrc"))
			return p == 0 && m->magic == MAGIC ? m : NULL;
		if (m->magic == MAGIC && m->crc == crc32c(m, offsetof(struct meta, crc)) &&
		    (!best || m->gen > best->gen))
			best = m;
	}
	return best;
}

/* ---- the workload ---- */

static void put(uint32_t key, uint32_t value)
{
	uint32_t l = 0, i;
	struct leaf *f;

	if (!nleaves)
		nleaves = 1;
	while (l + 1 < nleaves && leaves[l + 1].kv[0][0] <= key)
		l++;
	f = &leaves[l];
	f->page = 0;
	for (i = 0; i < f->n && f->kv[i][0] < key; i++)
		;
	if (i < f->n && f->kv[i][0] == key) {
		f->kv[i][1] = value;
		return;
	}
	memmove(&f->kv[i + 1], &f->kv[i], (f->n - i) * 8);
	f->kv[i][0] = key;
	f->kv[i][1] = value;
	if (++f->n <= LEAF_CAP || nleaves == MAX_LEAVES)
		return;
	/* split: the upper half becomes a new leaf after this one */
	memmove(&leaves[l + 2], &leaves[l + 1], (nleaves - l - 1) * sizeof(*leaves));
	nleaves++;
	leaves[l + 1].n = f->n / 2;
	memcpy(leaves[l + 1].kv, &f->kv[f->n - f->n / 2], (f->n / 2) * 8);
	leaves[l + 1].page = 0;
	f->n -= f->n / 2;
}

static void put_page(int fd, const uint8_t *pg, uint32_t p)
{
	if (pwrite(fd, pg, PAGE, (off_t)p * PAGE) != PAGE)
		die("write page");
}

static void commit(int fd, struct meta *cur, uint32_t i)
{
	static uint8_t pg[PAGE];
	uint32_t root[MAX_LEAVES][2], l;
	struct meta m;

	put((37 * i) % NKEYS, i);
	put((53 * i + 11) % NKEYS, i);
	m = *cur;
	for (l = 0; l < nleaves; l++) {
		if (!leaves[l].page) { /* changed: a new copy at the end */
			page_pack(pg, 1, leaves[l].n, (const uint32_t(*)[2])leaves[l].kv);
			leaves[l].page = m.pages++;
			put_page(fd, pg, leaves[l].page);
		}
		root[l][0] = leaves[l].kv[0][0];
		root[l][1] = leaves[l].page;
	}
	page_pack(pg, 2, nleaves, (const uint32_t(*)[2])root);
	m.root = m.pages++;
	put_page(fd, pg, m.root);
	if (strcmp(bug, "meta-before-sync") && fdatasync(fd) < 0)
		die("fdatasync pages");
	m.gen++;
	m.commit = i;
	meta_seal(&m);
	memset(pg, 0, PAGE);
	memcpy(pg, &m, sizeof(m));
	put_page(fd, pg, !strcmp(bug, "meta-nocrc") ? 0 : (uint32_t)(m.gen % 2));
	if (fdatasync(fd) < 0)
		die("fdatasync meta");
	*cur = m;
}

static int cmd_run(uint32_t n)
{
	struct image im;
	const struct meta *m;
	struct meta cur;
	uint32_t i;
	int fd;

	read_image(&im);
	if (!(m = recover_meta(&im)) || load_tree(&im, m->root))
		die("open " DB " (run init first)");
	cur = *m;
	free(im.db);
	if ((fd = open(DB, O_WRONLY)) < 0)
		die("open " DB);
	for (i = 1; i <= n; i++) {
		commit(fd, &cur, (uint32_t)cur.commit + 1);
		engine_mark((uint32_t)cur.commit);
	}
	close(fd);
	return 0;
}

/* ---- verification ---- */

static int verify(uint32_t v, uint32_t ack)
{
	uint32_t want[NKEYS] = {0}, got[NKEYS] = {0}, i, l;

	for (i = 1; i <= v && i < 1000000; i++) {
		want[(37 * i) % NKEYS] = i;
		want[(53 * i + 11) % NKEYS] = i;
	}
	for (l = 0; l < nleaves; l++)
		for (i = 0; i < leaves[l].n; i++)
			if (leaves[l].kv[i][0] < NKEYS)
				got[leaves[l].kv[i][0]] = leaves[l].kv[i][1];
	for (i = 0; i < NKEYS; i++)
		if (got[i] != want[i]) {
			printf("key %u holds %u, commit %u says %u (commit %u acknowledged)\n", i,
			       got[i], v, want[i], ack);
			return 1;
		}
	return 0;
}

/* Recovery, then the truth. */
static int check_image(const struct image *im, uint32_t ack)
{
	const struct meta *m = recover_meta(im);
	uint32_t bad;

	if (!m) {
		if (ack)
			printf("commit %u lost: no valid meta page\n", ack);
		return ack ? 1 : 0;
	}
	if (m->commit < ack) {
		printf("commit %u lost: recovery finds commit %u\n", ack, (unsigned)m->commit);
		return 1;
	}
	if ((bad = load_tree(im, m->root))) {
		printf("commit %u lost: the meta page names page %u, which never reached the "
		       "disk whole\n", ack, bad);
		return 1;
	}
	return verify((uint32_t)m->commit, ack);
}

static int cmd_check(void)
{
	struct image im;
	int rc;

	read_image(&im);
	rc = check_image(&im, engine_acknowledged());
	free(im.db);
	return rc;
}

int main(int argc, char **argv)
{
	int i, args = argc;

	for (i = 2; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--bug")) {
			bug = argv[i + 1];
			args = i;
		}
	if (*bug && strcmp(bug, "meta-nocrc") && strcmp(bug, "meta-before-sync")) {
		fprintf(stderr, "cowtree: unknown --bug %s\n", bug);
		return 2;
	}
	if (args == 2 && !strcmp(argv[1], "init"))
		return cmd_init();
	if (args == 3 && !strcmp(argv[1], "run"))
		return cmd_run((uint32_t)atoi(argv[2]));
	if (args == 2 && !strcmp(argv[1], "check"))
		return cmd_check();
	fprintf(stderr, "usage: cowtree init | run N [--bug B] | check [--bug B]\n");
	return 2;
}
