/*
 * cowtree - an append-only copy-on-write B-tree in one file, in the manner
 * of LMDB and bolt, kept small: fixed-size keys and values, a root that
 * starts as a leaf and splits into branch pages as the tree grows.
 *
 * GUARANTEE CLAIMED (correct version): once "commit i" is acknowledged
 * (marked), recovery after a crash at any later point opens the tree of
 * commit i or of commit i + 1 (whose meta page may have reached the disk
 * before its mark), whole: every key it wrote holds exactly its value,
 * and no torn page and no half-applied commit is ever accepted.
 *
 * File tree.db, pages of 4096 bytes, integers in host byte order:
 *
 *   page 0, 1  meta pages; the first 24 bytes of the page, rest zeros:
 *                u32 magic "COWT", u32 root page, u64 generation
 *                (= the commit it ends; init writes 0), u32 pages (the
 *                file's page count when it was written), u32 CRC32C of
 *                the 20 bytes before it.  Generation g goes to page g % 2.
 *   page 2..   tree pages: u32 CRC32C of bytes 4..4095, u32 the page's
 *              own number, u32 generation that wrote it, u16 type
 *              (1 leaf, 2 branch), u16 count, then count entries:
 *                leaf    u32 key, u32 version (the commit that wrote the
 *                        value), 24 value bytes = value_of(key, version);
 *                        at most LEAF_MAX, sorted by key
 *                branch  u32 key, u32 child page; child i holds the keys
 *                        >= key i and < key i + 1; key 0 is unused (0);
 *                        2..BRANCH_MAX entries
 *
 * Live pages are never overwritten.  A commit copies the path from the
 * root to every leaf it changes (a page copied once per commit, then
 * changed in place), splits leaves and branches that overflow, grows a
 * new root when the old one splits, and gives every new page a number
 * past the end of the file.  Commit c inserts keys key_of(2c - 1) and
 * key_of(2c) and rewrites key_of(c), each with version c.  With 12
 * entries a leaf and 4 children a branch, `run 20` grows the root leaf
 * into a branch over leaves at commit 7 and splits that root into a
 * three-level tree at commit 17 (`cowtree stat` prints the shape).
 *
 * Commit, correct: write the new pages at the end (one pwrite each),
 * fdatasync (the pages are durable BEFORE a meta page names them), write
 * meta page gen % 2 (generation + 1, new root, page count, CRC),
 * fdatasync, and only then acknowledge (the mark).
 *
 * Meta write, --meta-dsync (on init and run, with or without --bug; the
 * bytes on disk are the same, so check and stat accept it and ignore it):
 * the meta page is written as ONE pwrite of its 24 meta bytes (the rest
 * of the page stays zeros) through a second descriptor of tree.db opened
 * O_DSYNC, and that write is its own barrier: no fdatasync after it.  The
 * pages are still written and fdatasync'ed first, and the mark still
 * follows the meta write's return.  It is the pattern of engines that
 * trust a small write inside one 512-byte sector never to tear: safe
 * with the CRC and two meta pages (a torn meta page fails its CRC and
 * recovery takes the other, the last acknowledged commit), unsafe with
 * meta-nocrc (a torn page 0 is the only meta page there is).
 *
 * Recovery (open): of the two meta pages, take the one with the magic, a
 * matching CRC and its root inside the file that has the highest
 * generation; walk its whole tree, checking each page's CRC, number,
 * type, count, key order and bounds, and that every leaf is at the same
 * depth; a tree that fails is a store that cannot be opened (as in LMDB,
 * recovery never falls back to the older meta page: that would hide a
 * meta page that reached the disk before its pages).  Then the file is
 * truncated to the meta's page count: pages past it belong to a commit
 * that never finished.
 *
 * Buggy variants (--bug NAME on init and run, and on check where
 * recovery differs):
 *   meta-nocrc        one meta page, always page 0, with no CRC: recovery
 *                     (check --bug meta-nocrc) takes page 0 if its magic
 *                     holds; a torn meta page loses the whole store
 *   meta-before-sync  no fdatasync between the pages and the meta page
 *                     (one at the end only): the meta page can reach the
 *                     disk before the pages it names
 *   nosync            no fdatasync in a commit at all (an engine run
 *                     without its sync option): commits are acknowledged
 *                     with nothing durable, and the meta page can reach
 *                     the disk before its pages
 * --bug may be given more than once (e.g. nosync and meta-nocrc).
 *
 * The check's verification is the truth, whatever the variant: the keys
 * are those commit ack or ack + 1 wrote, each with the version and value
 * bytes that commit gave it.  It prints one line: "commit 7 lost: ...",
 * "commit 8 half-applied: ...", "key 12 holds a value no commit wrote".
 *
 * Usage: cowtree init [OPT] | run N [OPT] | check [OPT] | stat [OPT]
 *        OPT: --bug B and --meta-dsync, in any order, after the command
 * Exit codes: 0 fine, 1 the guarantee is broken (check), 2 usage or I/O.
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

#define DB "tree.db"
#define PAGE 4096
#define MAGIC 0x54574f43u /* "COWT" */
#define PAGE_LEAF 1
#define PAGE_BRANCH 2
#define FIRST_PAGE 2   /* pages 0 and 1 are the meta pages */
#define VAL_SIZE 24    /* bytes of a value */
#define LEAF_MAX 12    /* entries of a leaf before it splits */
#define BRANCH_MAX 4   /* children of a branch before it splits */
#define MAX_DEPTH 8    /* levels a valid tree may have */
#define MAX_DIRTY 64   /* pages one commit may write */
#define KEY_MOD 1009   /* keys are j * 37 % KEY_MOD, distinct for j < KEY_MOD */
#define MAX_COMMIT 500 /* commits the keys allow: 2 * 500 < KEY_MOD */

struct meta {
	uint32_t magic; /* MAGIC */
	uint32_t root;	/* root page number */
	uint64_t gen;	/* generation: the commit this meta page ends */
	uint32_t pages; /* pages in the file after this commit */
	uint32_t crc;	/* CRC32C of the fields above; 0 with meta-nocrc */
};

struct page_hdr {
	uint32_t crc;	/* CRC32C of the page's bytes 4..PAGE-1 */
	uint32_t pgno;	/* the page's own number */
	uint32_t gen;	/* generation of the commit that wrote it */
	uint16_t type;	/* PAGE_LEAF or PAGE_BRANCH */
	uint16_t count; /* entries */
};

struct leaf_ent {
	uint32_t key;	       /* key_of(j) for some j */
	uint32_t ver;	       /* the commit that wrote the value */
	uint8_t val[VAL_SIZE]; /* value_of(key, ver) */
};

struct branch_ent {
	uint32_t key;	/* lowest key of the child; unused (0) in entry 0 */
	uint32_t child; /* child page number */
};

struct page {
	struct page_hdr h;
	union {
		struct leaf_ent leaf[(PAGE - sizeof(struct page_hdr)) /
				     sizeof(struct leaf_ent)];
		struct branch_ent br[(PAGE - sizeof(struct page_hdr)) /
				     sizeof(struct branch_ent)];
	} u;
};

_Static_assert(sizeof(struct page) == PAGE, "a struct page is one page");
_Static_assert(sizeof(struct meta) == 24,
	       "--meta-dsync writes the 24 meta bytes, inside one sector");
_Static_assert(LEAF_MAX <
		   sizeof(((struct page *)0)->u.leaf) / sizeof(struct leaf_ent),
	       "a leaf holds LEAF_MAX + 1 entries before it splits");

#define BUGS_MAX 4
static const char *bugs[BUGS_MAX]; /* --bug names given */
static int nbugs;
static int meta_dsync; /* --meta-dsync: one O_DSYNC write per meta page */

static int is_bug(const char *name)
{
	int i;

	for (i = 0; i < nbugs; i++)
		if (!strcmp(bugs[i], name))
			return 1;
	return 0;
}

static void die(const char *what)
{
	engine_die("cowtree", what);
}

/* ---- the deterministic data: keys and values ---- */

/* The j-th key ever inserted (1 <= j < KEY_MOD); distinct for distinct j. */
static uint32_t key_of(uint32_t j)
{
	return j * 37 % KEY_MOD;
}

/* j with key_of(j) == key, or 0 when no commit ever inserts key. */
static uint32_t index_of(uint32_t key)
{
	static uint32_t index[KEY_MOD];
	uint32_t j;

	if (!index[key_of(1)])
		for (j = 1; j < KEY_MOD; j++)
			index[key_of(j)] = j;
	return key < KEY_MOD ? index[key] : 0;
}

/* The version key_of(j) holds after commit c, 0 if it is not in the tree. */
static uint32_t version_at(uint32_t j, uint32_t c)
{
	if (j == 0 || j > 2 * c)
		return 0;
	/* rewritten by commit j, else as inserted by commit (j + 1) / 2 */
	return j <= c ? j : (j + 1) / 2;
}

/* The value bytes of key at version ver. */
static void value_of(uint32_t key, uint32_t ver, uint8_t out[VAL_SIZE])
{
	uint32_t x = (key * 2654435761u) ^ (ver * 40503u) ^ 0x5bd1e995u;
	int i;

	for (i = 0; i < VAL_SIZE; i++) {
		x = x ? x : 1;
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out[i] = (uint8_t)x;
	}
}

/* ---- pages ---- */

static void page_seal(struct page *p)
{
	p->h.crc = crc32c((const uint8_t *)p + 4, PAGE - 4);
}

/* Why page p, read as page pgno, is no valid tree page; NULL if it is. */
static const char *page_invalid(const struct page *p, uint32_t pgno)
{
	if (p->h.crc != crc32c((const uint8_t *)p + 4, PAGE - 4))
		return "fails its checksum";
	if (p->h.pgno != pgno)
		return "holds another page's number";
	if (p->h.type == PAGE_LEAF)
		return p->h.count > LEAF_MAX ? "is an overfull leaf" : NULL;
	if (p->h.type != PAGE_BRANCH)
		return "has no page type";
	if (p->h.count < 2 || p->h.count > BRANCH_MAX)
		return "is a branch of bad size";
	return NULL;
}

static void meta_seal(struct meta *m)
{
	m->magic = MAGIC;
	m->crc =
	    is_bug("meta-nocrc") ? 0 : crc32c(m, offsetof(struct meta, crc));
}

/* The page a meta page of generation gen goes to. */
static uint32_t meta_slot(uint64_t gen)
{
	return is_bug("meta-nocrc") ? 0 : (uint32_t)(gen % 2);
}

static void write_page(int fd, const void *pg, uint32_t pgno)
{
	if (pwrite(fd, pg, PAGE, (off_t)pgno * PAGE) != PAGE)
		die("write page");
}

/*
 * Writes meta page meta_slot(m->gen) through fd: the whole page, or with
 * --meta-dsync only its 24 meta bytes in one pwrite (the rest of a meta
 * page is always zeros), fd being the O_DSYNC descriptor of meta_fd_open.
 */
static void write_meta(int fd, const struct meta *m)
{
	static uint8_t pg[PAGE];
	off_t off = (off_t)meta_slot(m->gen) * PAGE;

	if (meta_dsync) {
		/* O_DSYNC: durable when it returns, if it never tears. */
		if (pwrite(fd, m, sizeof(*m), off) != (ssize_t)sizeof(*m))
			die("write meta");
		return;
	}
	memset(pg, 0, PAGE);
	memcpy(pg, m, sizeof(*m));
	write_page(fd, pg, meta_slot(m->gen));
}

/*
 * The descriptor meta pages go through: fd itself, or with --meta-dsync
 * a second descriptor of tree.db opened O_DSYNC.  Close it with
 * meta_fd_close(fd, mfd) before closing fd.
 */
static int meta_fd_open(int fd)
{
	int mfd;

	if (!meta_dsync)
		return fd;
	if ((mfd = open(DB, O_WRONLY | O_DSYNC)) < 0)
		die("open " DB " O_DSYNC");
	return mfd;
}

static void meta_fd_close(int fd, int mfd)
{
	if (mfd != fd)
		close(mfd);
}

static void sync_dir(void)
{
	int fd = open(".", O_RDONLY | O_DIRECTORY);

	if (fd < 0 || fsync(fd) < 0)
		die("fsync .");
	close(fd);
}

/* Creates the empty store: meta page 0, page 1 zeros, an empty root leaf. */
static int cmd_init(void)
{
	static struct page root;
	struct meta m = {.root = FIRST_PAGE, .gen = 0, .pages = FIRST_PAGE + 1};
	int fd = open(DB, O_RDWR | O_CREAT | O_TRUNC, 0644), mfd;

	if (fd < 0)
		die("create " DB);
	mfd = meta_fd_open(fd);
	root.h = (struct page_hdr){.pgno = FIRST_PAGE, .type = PAGE_LEAF};
	page_seal(&root);
	meta_seal(&m);
	write_meta(mfd, &m);
	write_page(fd, (uint8_t[PAGE]){0}, 1);
	write_page(fd, &root, FIRST_PAGE);
	if (fsync(fd) < 0)
		die("fsync " DB);
	meta_fd_close(fd, mfd);
	close(fd);
	sync_dir(); /* the name tree.db */
	return 0;
}

/* ---- recovery: choosing a meta page, walking its tree ---- */

struct image {
	struct page *pg; /* the whole file, page by page (owned) */
	uint32_t pages;	 /* whole pages in the file */
};

struct walk {
	const struct image *im; /* the file */
	uint64_t gen;		/* the chosen meta's generation */
	int leaf_depth;		/* depth of the leaves, -1 until one is seen */
	struct leaf_ent *kv;	/* OUT: the leaf entries in key order (owned) */
	uint32_t nkv, cap;	/* entries in kv, room in kv */
	uint32_t bad;		/* OUT: the first bad page, on failure */
	const char *why;	/* OUT: what is wrong with it */
};

/* Reads tree.db; a missing file is an empty image.  Free im->pg. */
static void read_image(struct image *im)
{
	int fd = open(DB, O_RDONLY);
	struct stat st;

	im->pg = NULL;
	im->pages = 0;
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 ||
	    !(im->pg = malloc((size_t)st.st_size + PAGE)) ||
	    read(fd, im->pg, (size_t)st.st_size) != st.st_size)
		die("read " DB);
	im->pages = (uint32_t)(st.st_size / PAGE);
	close(fd);
}

/* The meta page recovery trusts, or NULL when none is valid. */
static const struct meta *choose_meta(const struct image *im)
{
	const struct meta *best = NULL;
	uint32_t slot;

	for (slot = 0; slot < 2 && slot < im->pages; slot++) {
		const struct meta *m = (const struct meta *)&im->pg[slot];

		if (is_bug("meta-nocrc") && slot > 0)
			break;
		if (m->magic != MAGIC || m->root < FIRST_PAGE ||
		    m->root >= im->pages)
			continue;
		if (!is_bug("meta-nocrc") &&
		    m->crc != crc32c(m, offsetof(struct meta, crc)))
			continue;
		if (!best || m->gen > best->gen)
			best = m;
	}
	return best;
}

static int walk_fail(struct walk *w, uint32_t pgno, const char *why)
{
	w->bad = pgno;
	w->why = why;
	return -1;
}

/* Appends a leaf's entries to w->kv, checking key order and bounds [lo, hi). */
static int walk_leaf(struct walk *w, const struct page *p, uint64_t lo,
		     uint64_t hi)
{
	uint32_t i;

	for (i = 0; i < p->h.count; i++) {
		uint64_t k = p->u.leaf[i].key;

		if (k < lo || k >= hi || (i > 0 && k <= p->u.leaf[i - 1].key))
			return walk_fail(w, p->h.pgno, "has keys out of order");
		if (w->nkv == w->cap) {
			struct leaf_ent *kv =
			    realloc(w->kv, (w->cap * 2 + 64) * sizeof(*kv));

			if (!kv)
				die("realloc");
			w->kv = kv;
			w->cap = w->cap * 2 + 64;
		}
		w->kv[w->nkv++] = p->u.leaf[i];
	}
	return 0;
}

/* Checks the subtree at pgno, keys in [lo, hi), collecting them; 0 or -1. */
static int walk_page(struct walk *w, uint32_t pgno, uint64_t lo, uint64_t hi,
		     int depth)
{
	const struct page *p;
	const char *why;
	uint32_t i;

	if (depth >= MAX_DEPTH)
		return walk_fail(w, pgno, "is deeper than any tree grows");
	if (pgno < FIRST_PAGE || pgno >= w->im->pages)
		return walk_fail(w, pgno, "lies past the end of the file");
	p = &w->im->pg[pgno];
	if ((why = page_invalid(p, pgno)))
		return walk_fail(w, pgno, why);
	if (p->h.gen > w->gen)
		return walk_fail(w, pgno, "was written by a later generation");
	if (p->h.type == PAGE_LEAF) {
		if (w->leaf_depth >= 0 && depth != w->leaf_depth)
			return walk_fail(w, pgno,
					 "is a leaf at the wrong depth");
		if (p->h.count == 0 && depth > 0)
			return walk_fail(w, pgno,
					 "is an empty leaf below the root");
		w->leaf_depth = depth;
		return walk_leaf(w, p, lo, hi);
	}
	for (i = 0; i < p->h.count; i++) {
		uint64_t clo = i ? p->u.br[i].key : lo;
		uint64_t chi = i + 1 < p->h.count ? p->u.br[i + 1].key : hi;

		if ((i == 0 && p->u.br[0].key != 0) || (i > 0 && clo <= lo) ||
		    clo >= chi)
			return walk_fail(w, pgno,
					 "has separator keys out of order");
		if (walk_page(w, p->u.br[i].child, clo, chi, depth + 1) < 0)
			return -1;
	}
	return 0;
}

struct store {
	struct image im;  /* the file as recovery read it (owned) */
	struct meta meta; /* the meta page recovery chose */
	struct walk w;	  /* the walk of its tree: entries, or what is wrong */
};

/*
 * The engine's open: choose the meta page, walk its tree, truncate the
 * file past the meta's page count.  Returns 0, or -1 with s->w.why set
 * (no meta: s->w.bad is 0).  Free with store_free() either way.
 */
static int store_open(struct store *s)
{
	const struct meta *m;

	memset(s, 0, sizeof(*s));
	read_image(&s->im);
	if (!(m = choose_meta(&s->im))) {
		s->w.why = "no valid meta page";
		return -1;
	}
	s->meta = *m;
	s->w = (struct walk){.im = &s->im, .gen = m->gen, .leaf_depth = -1};
	if (walk_page(&s->w, m->root, 0, UINT64_MAX, 0) < 0)
		return -1;
	/* Pages past the meta's count belong to a commit that never ended. */
	if (m->pages >= FIRST_PAGE + 1 && m->pages < s->im.pages &&
	    truncate(DB, (off_t)m->pages * PAGE) < 0)
		die("truncate " DB);
	return 0;
}

static void store_free(struct store *s)
{
	free(s->im.pg);
	free(s->w.kv);
}

/* ---- the workload: a commit is a transaction of puts ---- */

struct txn {
	int fd;		 /* tree.db, open for writing */
	int meta_fd;	 /* fd for meta pages: fd, or an O_DSYNC one */
	uint32_t gen;	 /* generation being written: the commit */
	uint32_t root;	 /* root page number, in this commit */
	uint32_t next;	 /* next free page number: the file end */
	uint32_t ndirty; /* pages in dirty[] */
	struct page *dirty[MAX_DIRTY]; /* new pages, by number, owned */
};

struct split {
	uint32_t key;  /* lowest key of the new right sibling */
	uint32_t pgno; /* the new right sibling, 0 if no split */
};

/* A fresh page numbered at the end of the file, listed as dirty. */
static struct page *page_new(struct txn *t, uint16_t type)
{
	struct page *p;

	if (t->ndirty == MAX_DIRTY || !(p = calloc(1, sizeof(*p))))
		die("too many pages in one commit");
	p->h =
	    (struct page_hdr){.pgno = t->next++, .gen = t->gen, .type = type};
	t->dirty[t->ndirty++] = p;
	return p;
}

/* Page pgno, writable: itself if this commit made it, else a copy at the end */
static struct page *page_touch(struct txn *t, uint32_t pgno)
{
	struct page *p;
	uint32_t i, copy;

	for (i = 0; i < t->ndirty; i++)
		if (t->dirty[i]->h.pgno == pgno)
			return t->dirty[i];
	p = page_new(t, 0);
	copy = p->h.pgno;
	if (pread(t->fd, p, PAGE, (off_t)pgno * PAGE) != PAGE ||
	    page_invalid(p, pgno))
		die("read a tree page");
	p->h.pgno = copy;
	p->h.gen = t->gen;
	return p;
}

/* Moves the upper half of p's entries to a new right sibling. */
static void page_split(struct txn *t, struct page *p, struct split *sp)
{
	struct page *r = page_new(t, p->h.type);
	uint16_t keep = p->h.count / 2;
	size_t esz = p->h.type == PAGE_LEAF ? sizeof(struct leaf_ent)
					    : sizeof(struct branch_ent);

	r->h.count = p->h.count - keep;
	memcpy(&r->u, (uint8_t *)&p->u + keep * esz, r->h.count * esz);
	memset((uint8_t *)&p->u + keep * esz, 0, r->h.count * esz);
	p->h.count = keep;
	if (p->h.type == PAGE_LEAF) {
		sp->key = r->u.leaf[0].key;
	} else {
		sp->key = r->u.br[0].key;
		r->u.br[0].key = 0;
	}
	sp->pgno = r->h.pgno;
}

static void leaf_put(struct txn *t, struct page *p, uint32_t key,
		     struct split *sp)
{
	struct leaf_ent *e = p->u.leaf;
	uint16_t i;

	for (i = 0; i < p->h.count && e[i].key < key; i++)
		;
	if (i == p->h.count || e[i].key != key) {
		memmove(&e[i + 1], &e[i], (p->h.count - i) * sizeof(*e));
		p->h.count++;
	}
	e[i].key = key;
	e[i].ver = t->gen;
	value_of(key, t->gen, e[i].val);
	if (p->h.count > LEAF_MAX)
		page_split(t, p, sp);
}

static struct page *bt_put(struct txn *t, uint32_t pgno, uint32_t key,
			   struct split *sp);

static void branch_put(struct txn *t, struct page *p, uint32_t key,
		       struct split *sp)
{
	struct branch_ent *e = p->u.br;
	struct split csp = {0, 0};
	uint16_t i = 0;

	while (i + 1 < p->h.count && e[i + 1].key <= key)
		i++;
	e[i].child = bt_put(t, e[i].child, key, &csp)->h.pgno;
	if (!csp.pgno)
		return;
	memmove(&e[i + 2], &e[i + 1], (p->h.count - i - 1) * sizeof(*e));
	e[i + 1] = (struct branch_ent){csp.key, csp.pgno};
	if (++p->h.count > BRANCH_MAX)
		page_split(t, p, sp);
}

/* Puts key into the subtree at pgno; returns its new (copied) page. */
static struct page *bt_put(struct txn *t, uint32_t pgno, uint32_t key,
			   struct split *sp)
{
	struct page *p = page_touch(t, pgno);

	if (p->h.type == PAGE_LEAF)
		leaf_put(t, p, key, sp);
	else
		branch_put(t, p, key, sp);
	return p;
}

/* Puts key (value: version t->gen); a split root grows a new root above it. */
static void tree_put(struct txn *t, uint32_t key)
{
	struct split sp = {0, 0};
	struct page *old = bt_put(t, t->root, key, &sp), *root;

	t->root = old->h.pgno;
	if (!sp.pgno)
		return;
	root = page_new(t, PAGE_BRANCH);
	root->h.count = 2;
	root->u.br[0] = (struct branch_ent){0, old->h.pgno};
	root->u.br[1] = (struct branch_ent){sp.key, sp.pgno};
	t->root = root->h.pgno;
}

/* Commit t->gen: append its pages, sync, then the meta page, sync. */
static void commit(struct txn *t)
{
	struct meta m;
	uint32_t c = t->gen, i;

	tree_put(t, key_of(2 * c - 1));
	tree_put(t, key_of(2 * c));
	tree_put(t, key_of(c));
	for (i = 0; i < t->ndirty; i++) {
		page_seal(t->dirty[i]);
		write_page(t->fd, t->dirty[i], t->dirty[i]->h.pgno);
	}
	/* The pages must be durable before a meta page names them. */
	if (!is_bug("meta-before-sync") && !is_bug("nosync") && fdatasync(t->fd) < 0)
		die("fdatasync pages");
	m = (struct meta){.root = t->root, .gen = c, .pages = t->next};
	meta_seal(&m);
	write_meta(t->meta_fd, &m);
	/*
	 * The meta page must be durable before the commit is acknowledged;
	 * with --meta-dsync its O_DSYNC write already is (if it did not tear).
	 */
	if (!meta_dsync && !is_bug("nosync") && fdatasync(t->fd) < 0)
		die("fdatasync meta");
	for (i = 0; i < t->ndirty; i++)
		free(t->dirty[i]);
	t->ndirty = 0;
}

static int cmd_run(uint32_t n)
{
	struct store s;
	struct txn t = {.fd = -1, .meta_fd = -1};
	uint32_t i;

	if (store_open(&s) < 0)
		die("open " DB " (run init first)");
	t.root = s.meta.root;
	t.next = s.meta.pages;
	t.gen = (uint32_t)s.meta.gen;
	store_free(&s);
	if (t.gen + n > MAX_COMMIT) {
		fprintf(stderr, "cowtree: at most %u commits\n", MAX_COMMIT);
		return 2;
	}
	if ((t.fd = open(DB, O_RDWR)) < 0)
		die("open " DB);
	t.meta_fd = meta_fd_open(t.fd);
	for (i = 0; i < n; i++) {
		t.gen++;
		commit(&t);
		engine_mark(t.gen);
	}
	meta_fd_close(t.fd, t.meta_fd);
	close(t.fd);
	return 0;
}

/* ---- verification: the truth, whatever the engine's recovery says ---- */

/* Prints why key_of(j) at version got is wrong: commit c leaves it at want */
static int report(uint32_t j, uint32_t got, uint32_t want, uint32_t c,
		  uint32_t ack)
{
	uint32_t key = key_of(j);
	int in_c = c > ack && version_at(j, ack) != want; /* c wrote key */

	if (in_c && got)
		printf("commit %u half-applied: key %u at version %u, not %u\n",
		       c, key, got, want);
	else if (in_c)
		printf("commit %u half-applied: key %u missing\n", c, key);
	else if (!got)
		printf("commit %u lost: key %u missing\n", want, key);
	else if (got < want)
		printf("commit %u lost: key %u holds commit %u's value\n", want,
		       key, got);
	else
		printf("key %u holds commit %u's value, but that commit never "
		       "wrote it (%u acknowledged)\n",
		       key, got, ack);
	return 1;
}

/* Whether entry e holds a value some commit up to ack + 1 wrote. */
static int entry_whole(const struct leaf_ent *e, uint32_t ack)
{
	uint8_t want[VAL_SIZE];

	if (!index_of(e->key) || !e->ver || e->ver > ack + 1)
		return 0;
	value_of(e->key, e->ver, want);
	return !memcmp(want, e->val, VAL_SIZE);
}

/*
 * The recovered entries must be exactly the tree of commit ack, or of
 * commit ack + 1 when any entry carries its version; every value whole.
 * Returns 0, or 1 after printing the first difference.
 */
static int verify(const struct leaf_ent *kv, uint32_t n, uint32_t ack)
{
	static uint32_t got[KEY_MOD]; /* version of key_of(j), by j */
	uint32_t i, j, c = ack;

	memset(got, 0, sizeof(got));
	for (i = 0; i < n; i++) {
		if (!entry_whole(&kv[i], ack)) {
			printf("key %u holds a value no commit wrote (torn or "
			       "garbage; %u acknowledged)\n",
			       kv[i].key, ack);
			return 1;
		}
		got[index_of(kv[i].key)] = kv[i].ver;
		if (kv[i].ver == ack + 1)
			c = ack + 1;
	}
	for (j = 1; j < KEY_MOD; j++)
		if (got[j] != version_at(j, c))
			return report(j, got[j], version_at(j, c), c, ack);
	return 0;
}

/* Prints why the store could not be opened, naming the commit that is lost. */
static int report_open(const struct store *s, uint32_t ack)
{
	char what[64];

	if (ack)
		snprintf(what, sizeof(what), "commit %u lost", ack);
	else
		snprintf(what, sizeof(what), "the empty store is lost");
	if (!s->w.bad)
		printf("%s: %s\n", what, s->w.why);
	else
		printf("%s: the tree of generation %llu (meta page %u) is "
		       "corrupt: page %u %s\n",
		       what, (unsigned long long)s->meta.gen,
		       meta_slot(s->meta.gen), s->w.bad, s->w.why);
	return 1;
}

/* Recovery as open does it, then the truth against $FAULTLINE_MARKS. */
static int cmd_check(void)
{
	uint32_t ack = engine_acknowledged();
	struct store s;
	int rc;

	if (store_open(&s) < 0)
		rc = report_open(&s, ack);
	else
		rc = verify(s.w.kv, s.w.nkv, ack);
	store_free(&s);
	return rc;
}

/* Prints the recovered tree's shape: generation, root, depth, pages, keys. */
static int cmd_stat(void)
{
	struct store s;
	int rc = 0;

	if (store_open(&s) < 0)
		rc = report_open(&s, 0);
	else
		printf(
		    "generation %llu, root %u, depth %d, %u pages, %u keys\n",
		    (unsigned long long)s.meta.gen, s.meta.root,
		    s.w.leaf_depth + 1, s.meta.pages, s.w.nkv);
	store_free(&s);
	return rc;
}

static int usage(void)
{
	fputs("usage: cowtree init [OPT] | run N [OPT] | check [OPT] | stat "
	      "[OPT]\n       OPT: --bug B, --meta-dsync\n"
	      "       B: meta-nocrc | meta-before-sync\n",
	      stderr);
	return 2;
}

/*
 * Takes the options (--bug B, --meta-dsync) out of argv[2..], keeping
 * the other words in order.  Returns how many words are left, or -1 for
 * an unknown option or a --bug without its name.
 */
static int parse_opts(int argc, char **argv)
{
	int i, n = argc < 2 ? argc : 2;

	for (i = n; i < argc; i++) {
		if (!strcmp(argv[i], "--bug") && i + 1 < argc && nbugs < BUGS_MAX)
			bugs[nbugs++] = argv[++i];
		else if (!strcmp(argv[i], "--meta-dsync"))
			meta_dsync = 1;
		else if (!strncmp(argv[i], "--", 2))
			return -1;
		else
			argv[n++] = argv[i];
	}
	return n;
}

int main(int argc, char **argv)
{
	int args = parse_opts(argc, argv), i;
	char *end;
	long n;

	if (args < 0)
		return usage();
	for (i = 0; i < nbugs; i++)
		if (strcmp(bugs[i], "meta-nocrc") && strcmp(bugs[i], "meta-before-sync") &&
		    strcmp(bugs[i], "nosync"))
			return usage();
	if (args == 2 && !strcmp(argv[1], "init"))
		return cmd_init();
	if (args == 2 && !strcmp(argv[1], "check"))
		return cmd_check();
	if (args == 2 && !strcmp(argv[1], "stat"))
		return cmd_stat();
	if (args != 3 || strcmp(argv[1], "run"))
		return usage();
	n = strtol(argv[2], &end, 10);
	if (*end || end == argv[2] || n < 0 || n > MAX_COMMIT)
		return usage();
	return cmd_run((uint32_t)n);
}
