/*
 * tracegen_ops.c - the generator's ops: for each kind, what it acts on
 * (drawn from the stream), the records the recorder would append for it,
 * and what it changes in the model.
 *
 * THE OPS: N state-changing ops (--ops; default 6..16), each drawn from
 * tg_kinds[] and applied to the in-memory model:
 *   - writes that overwrite, overlap the previous write, append at EOF,
 *     straddle EOF or leave a hole past it; sector- or page-aligned or
 *     not (O_DIRECT ones always at least sector-aligned, in offset and
 *     length); 1..3000 bytes, sometimes up to 9000; buffered, O_DSYNC
 *     (WRITE then FSYNC datasync from the same pid), O_SYNC (WRITE then
 *     FSYNC), O_DIRECT|O_DSYNC (no FSYNC), O_DIRECT, O_APPEND, and mmap
 *     writeback (TRACE_WF_WRITEPAGE, pid 0, whole pages up to EOF,
 *     sometimes followed by an msync FSYNC);
 *   - truncates up and down (ftruncate, truncate by path, O_TRUNC with
 *     its OPEN); fallocate with mode 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE,
 *     ZERO_RANGE, ZERO_RANGE|KEEP_SIZE;
 *   - create (always followed by its OPEN), mkdir, symlink, link,
 *     unlink, rmdir of an empty directory, rename within and across
 *     directories (flags 0 or RENAME_NOREPLACE), over an existing file,
 *     of a directory, and RENAME_EXCHANGE of two files;
 *   - chmod, chown and utimes (SETATTR), setxattr and removexattr of
 *     user.* names;
 * and, around them, fsync, fdatasync and fsyncdir (flags 0 or 1), marks
 * "commit N", occasional OPEN/FLUSH/RELEASE records, and rare failed ops
 * (a write with -ENOSPC, an fsync with -EIO, an rmdir with -ENOTEMPTY).
 * Every written byte is recognisable: 32-byte lines naming the
 * writer ('b' base, 'w' write, 'm' mmap) with its number and the line's
 * own file offset.  Two or three pids issue the ops, in runs; the first
 * is root (it does the chowns), the others own what they create.
 *
 * Every op makes its records (tg_emit) before it changes the model, so
 * a sink sees the tree the op acts on; the records are consistent with
 * it (names exist, ids are right, TRUNCATE's len and FALLOCATE's id2 are
 * the old size, RENAME's id2 is the inode replaced at the target).
 *
 * WHAT IT DOES NOT DO: mknod; syncfs (never recorded: sync(2) does not
 * reach a FUSE file system); RENAME_WHITEOUT; file handles (an OPEN is
 * made just before some ops with the flags that op implies, but no
 * handle is tracked, and writes never go to unlinked files);
 * concurrency (records are one linear history); files over 64 KiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include "tracegen_i.h"

/* Sets i's size, keeping the bytes past it zero. */
static void tg_resize(struct tg_inode *i, uint64_t size)
{
	if (size < i->size)
		memset(i->data + size, 0, i->size - size);
	i->size = size;
}

/* ---- writes ---- */

/* Each mode's WRITE flags are distinct: tracegen_run.c finds modes by them. */
const struct tg_wmode_info tg_wmodes[TG_W_COUNT] = {
    [TG_W_BUFFERED] = {0, O_WRONLY, -1, 46},
    [TG_W_DSYNC] = {TRACE_WF_DSYNC, O_WRONLY | O_DSYNC, 1, 12},
    /* O_SYNC includes the O_DSYNC bit: the recorder sets both flags. */
    [TG_W_SYNC] = {TRACE_WF_SYNC | TRACE_WF_DSYNC, O_WRONLY | O_SYNC, 0, 8},
    [TG_W_DIRECT_DSYNC] = {TRACE_WF_DIRECT | TRACE_WF_DSYNC,
			   O_WRONLY | O_DIRECT | O_DSYNC, -1, 8},
    [TG_W_DIRECT] = {TRACE_WF_DIRECT, O_RDWR | O_DIRECT, -1, 4},
    [TG_W_APPEND] = {TRACE_WF_APPEND, O_WRONLY | O_APPEND, -1, 10},
    [TG_W_PAGE] = {TRACE_WF_WRITEPAGE, O_RDWR, -1, 7},
};

static bool tg_wmode_is_sync(unsigned m)
{
	return tg_wmodes[m].wflags & (TRACE_WF_SYNC | TRACE_WF_DSYNC);
}

static bool tg_wmode_ok(const struct tg_inode *i, unsigned m)
{
	if (m == TG_W_PAGE)
		return i->size > 0;
	if (m == TG_W_APPEND && i->size > TG_FILE_MAX - TG_WBUF)
		return false;
	return !i->neglected || !tg_wmode_is_sync(m);
}

static unsigned tg_pick_wmode(struct tg *g, const struct tg_inode *i)
{
	unsigned total = 0, m;
	uint64_t r;

	for (m = 0; m < TG_W_COUNT; m++)
		total += tg_wmode_ok(i, m) ? tg_wmodes[m].weight : 0;
	r = tg_rnd(g, total);
	for (m = 0; m < TG_W_COUNT - 1; m++) {
		if (!tg_wmode_ok(i, m))
			continue;
		if (r < tg_wmodes[m].weight)
			break;
		r -= tg_wmodes[m].weight;
	}
	return m;
}

/* Where a write of len bytes to i starts: one of five shapes. */
static uint64_t tg_write_shape(struct tg *g, const struct tg_inode *i,
			       uint64_t len)
{
	uint64_t size = i->size, end = i->last_off + i->last_len, span;

	switch (tg_rnd(g, 5)) {
	case 0: /* overwrite inside the file */
		return size ? tg_rnd(g, size) : 0;
	case 1: /* overlap the previous write */
		if (!i->last_len)
			return size ? tg_rnd(g, size) : 0;
		span = tg_rnd(g, i->last_len + len - 1);
		return end - 1 >= span ? end - 1 - span : 0;
	case 2: /* append at EOF */
		return size;
	case 3: /* straddle EOF */
		span = size < len - 1 ? size : len - 1;
		return span ? size - 1 - tg_rnd(g, span) : size;
	default: /* leave a hole past EOF */
		return size + tg_range(g, 1, 8192);
	}
}

/* Rounds off down and len up to whole sectors or pages. */
static void tg_align(struct tg *g, uint64_t *off, uint64_t *len)
{
	uint64_t unit = tg_pct(g, 30) ? TG_PAGE : TG_SECTOR;

	*off = *off / unit * unit;
	*len = (*len + unit - 1) / unit * unit;
}

/* mmap writeback: one or two pages of i, cut at EOF. */
static void tg_page_range(struct tg *g, const struct tg_inode *i, uint64_t *off,
			  uint64_t *len)
{
	uint64_t pages = (i->size + TG_PAGE - 1) / TG_PAGE;
	uint64_t l = tg_range(g, 1, 2) * TG_PAGE;

	*off = tg_rnd(g, pages) * TG_PAGE;
	*len = *off + l > i->size ? i->size - *off : l;
}

/* Picks *off and *len of a write of mode m to i. */
static void tg_write_range(struct tg *g, const struct tg_inode *i, unsigned m,
			   uint64_t *off, uint64_t *len)
{
	uint64_t l, o;

	if (m == TG_W_PAGE) {
		tg_page_range(g, i, off, len);
		return;
	}
	l = tg_pct(g, 8) ? tg_range(g, 3001, 9000) : tg_range(g, 1, 3000);
	o = tg_write_shape(g, i, l);
	if (m == TG_W_DIRECT || m == TG_W_DIRECT_DSYNC || tg_pct(g, 35))
		tg_align(g, &o, &l);
	if (m == TG_W_APPEND)
		o = i->size; /* the recorder logs where an append landed */
	else if (o + l > TG_FILE_MAX)
		o = 0;
	*off = o;
	*len = l;
}

/* WRITE (result 0: it succeeded, else -errno), then the kernel's FSYNC. */
static void tg_emit_write(struct tg *g, size_t k, unsigned m, uint64_t off,
			  uint64_t len, int result)
{
	struct trace_rec r;

	tg_rec(g, &r, TRACE_OP_WRITE);
	if (m == TG_W_PAGE)
		r.pid = 0; /* writeback has no process */
	r.id = g->ino[k].id;
	r.off = off;
	r.len = len;
	r.flags = tg_wmodes[m].wflags;
	r.result = result ? result : (int32_t)len;
	if (!result) {
		r.data = g->wbuf;
		r.data_len = (uint32_t)len;
	}
	tg_emit(g, &r, false);
	if (result || tg_wmodes[m].fsync < 0)
		return;
	tg_rec(g, &r, TRACE_OP_FSYNC);
	r.id = g->ino[k].id;
	r.flags = (uint32_t)tg_wmodes[m].fsync;
	tg_emit(g, &r, true);
}

/*
 * --early: the page the write-back below will write, captured from the
 * mapping first (record --calls), so it may persist before its write-back
 * does; sometimes an fsync of the file comes between the two.  The
 * simulated file does not change: the write-back writes it.
 */
static void tg_emit_early(struct tg *g, size_t k, uint64_t off, uint64_t len)
{
	struct trace_rec r;

	tg_rec(g, &r, TRACE_OP_WRITE);
	/* its pid: the thread whose call boundary saw it */
	r.id = g->ino[k].id;
	r.off = off;
	r.len = len;
	r.flags = TRACE_WF_WRITEPAGE | TRACE_WF_EARLY;
	r.result = (int32_t)len;
	r.data = g->wbuf;
	r.data_len = (uint32_t)len;
	tg_emit(g, &r, false);
	if (tg_pct(g, 25))
		tg_fsync(g, k, true, 0);
}

/*
 * --uring: the write and an fdatasync of its file submitted in one
 * io_uring_enter by the current process, made by two io_uring workers
 * (pids no call explains), recorded in either order; the write linked
 * before the sync, or the sync drained, or neither (then the sync may
 * run first, whatever the order recorded).  The calls log gets the
 * io_uring_enter, just before the records, and its two SQEs.
 */
static void tg_uring_write(struct tg *g, size_t k, uint64_t off, uint64_t len)
{
	unsigned how = (unsigned)tg_rnd(g, 3), wflags = how == 1 ? 0x4u : 0, sflags = how == 2 ? 0x2u : 0;
	bool sync_first = how == 0 && tg_pct(g, 50); /* ordered: the write comes first */
	uint32_t worker = 60000 + 2 * g->nwrites;
	uint64_t entry = g->now + 1;
	struct trace_rec w, s;
	int i;

	fprintf(g->calls, "%u 426 0 %llu 0 4 2 0 0\n", g->pid[g->cur], (unsigned long long)entry);
	fprintf(g->calls, "sqe %u %llu WRITE 3 %x %llu 0\n", g->pid[g->cur],
		(unsigned long long)entry, wflags, (unsigned long long)off);
	fprintf(g->calls, "sqe %u %llu FSYNC 3 %x 0 1\n", g->pid[g->cur], (unsigned long long)entry,
		sflags);
	tg_rec(g, &w, TRACE_OP_WRITE);
	w.pid = worker;
	w.id = g->ino[k].id;
	w.off = off;
	w.len = len;
	w.result = (int32_t)len;
	w.data = g->wbuf;
	w.data_len = (uint32_t)len;
	tg_rec(g, &s, TRACE_OP_FSYNC);
	s.pid = worker + 1;
	s.id = g->ino[k].id;
	s.flags = 1;
	for (i = 0; i < 2; i++)
		tg_emit(g, (i == 0) == sync_first ? &s : &w, false);
}

static void tg_apply_write(struct tg *g, size_t k, unsigned m, uint64_t off,
			   uint64_t len)
{
	struct tg_inode *i = &g->ino[k];

	memcpy(i->data + off, g->wbuf, len);
	if (off + len > i->size)
		i->size = off + len;
	i->last_off = off;
	i->last_len = len;
	if (tg_wmode_is_sync(m))
		i->pending = 0; /* a sync write is its file's barrier */
	else
		tg_note_data(g, i);
	tg_touch(g, k);
}

static int gen_write(struct tg *g)
{
	long k = tg_pick_file(g, true);
	uint64_t off, len, a;
	struct tg_inode *i;
	unsigned m, tag;

	if (k < 0)
		return 1;
	i = &g->ino[k];
	m = tg_pick_wmode(g, i);
	tg_write_range(g, i, m, &off, &len);
	tag = ++g->nwrites;
	if (m == TG_W_PAGE) { /* the page as it is, with some bytes changed */
		memcpy(g->wbuf, i->data + off, len);
		a = tg_rnd(g, len);
		tg_pattern(g->wbuf + a, off + a, tg_range(g, 1, len - a), 'm',
			   tag);
	} else {
		tg_pattern(g->wbuf, off, len, 'w', tag);
		tg_maybe_open(g, (size_t)k, tg_wmodes[m].oflags);
	}
	if (m == TG_W_PAGE && g->early && tg_pct(g, 60))
		tg_emit_early(g, (size_t)k, off, len);
	if (m == TG_W_BUFFERED && g->calls && tg_pct(g, 40)) {
		tg_uring_write(g, (size_t)k, off, len);
		tg_apply_write(g, (size_t)k, m, off, len);
		g->ino[k].pending = 0; /* the generator's view: synced (perhaps not) */
		tg_maybe_close(g, (size_t)k);
		return 0;
	}
	tg_emit_write(g, (size_t)k, m, off, len, 0);
	tg_apply_write(g, (size_t)k, m, off, len);
	if (m == TG_W_PAGE && !i->neglected && tg_pct(g, 30))
		tg_fsync(g, (size_t)k, true, 0); /* msync(MS_SYNC) */
	tg_maybe_close(g, (size_t)k);
	return 0;
}

/* ---- truncate and fallocate ---- */

/* A new size for a file of size: down, up, to zero; sometimes aligned. */
static uint64_t tg_new_size(struct tg *g, uint64_t size)
{
	uint64_t to;

	if (tg_pct(g, 10))
		return 0;
	if (size && tg_pct(g, 50))
		to = tg_rnd(g, size);
	else
		to = size + tg_range(g, 1, 6000);
	if (tg_pct(g, 30))
		to = to / TG_SECTOR * TG_SECTOR;
	return to > TG_FILE_MAX ? TG_FILE_MAX : to;
}

static int gen_truncate(struct tg *g)
{
	long k = tg_pick_file(g, true);
	unsigned how = (unsigned)tg_rnd(g, 100);
	struct trace_rec r;
	struct tg_inode *i;

	if (k < 0)
		return 1;
	i = &g->ino[k];
	tg_rec(g, &r, TRACE_OP_TRUNCATE);
	r.id = i->id;
	r.len = i->size;
	r.flags = how < 75   ? TRACE_TF_FTRUNCATE
		  : how < 88 ? TRACE_TF_SETATTR
			     : TRACE_TF_OTRUNC;
	r.off = r.flags == TRACE_TF_OTRUNC ? 0 : tg_new_size(g, i->size);
	if (r.flags == TRACE_TF_FTRUNCATE)
		tg_maybe_open(g, (size_t)k, O_RDWR);
	tg_emit(g, &r, false);
	if (r.flags == TRACE_TF_OTRUNC) /* the open that truncated */
		tg_open(g, (size_t)k, O_WRONLY | O_TRUNC);
	tg_resize(i, r.off);
	tg_note_data(g, i);
	tg_touch(g, (size_t)k);
	tg_maybe_close(g, (size_t)k);
	return 0;
}

static const struct {
	uint32_t mode;	 /* fallocate mode */
	unsigned weight; /* how often it is drawn */
} tg_fmodes[] = {
    {0, 30},
    {FALLOC_FL_KEEP_SIZE, 20},
    {FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 30},
    {FALLOC_FL_ZERO_RANGE, 15},
    {FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 5},
};

static uint32_t tg_pick_fmode(struct tg *g)
{
	uint64_t r = tg_rnd(g, 100);
	size_t k;

	for (k = 0; r >= tg_fmodes[k].weight; k++)
		r -= tg_fmodes[k].weight;
	return tg_fmodes[k].mode;
}

/* What fallocate does to the bytes and size of i. */
static void tg_apply_falloc(struct tg_inode *i, uint32_t mode, uint64_t off,
			    uint64_t len)
{
	uint64_t end = off + len, zend = end;

	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		if ((mode & FALLOC_FL_KEEP_SIZE) && zend > i->size)
			zend = i->size;
		if (zend > off)
			memset(i->data + off, 0, zend - off);
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > i->size)
		i->size = end;
}

static int gen_fallocate(struct tg *g)
{
	long k = tg_pick_file(g, true);
	struct trace_rec r;
	struct tg_inode *i;

	if (k < 0)
		return 1;
	i = &g->ino[k];
	tg_rec(g, &r, TRACE_OP_FALLOCATE);
	r.id = i->id;
	r.id2 = i->size;
	r.mode = tg_pick_fmode(g);
	if (tg_pct(g, 60)) {
		r.off = tg_rnd(g, (i->size + 2 * TG_PAGE) / TG_PAGE) * TG_PAGE;
		r.len = tg_range(g, 1, 3) * TG_PAGE;
	} else {
		r.off = tg_rnd(g, i->size + TG_PAGE);
		r.len = tg_range(g, 1, 6000);
	}
	if (r.off + r.len > TG_FILE_MAX)
		r.off = 0;
	tg_maybe_open(g, (size_t)k, O_RDWR);
	tg_emit(g, &r, false);
	tg_apply_falloc(i, r.mode, r.off, r.len);
	tg_note_data(g, i);
	tg_touch(g, (size_t)k);
	return 0;
}

/* ---- create, mkdir, symlink ---- */

/*
 * Makes a new inode of mode as a fresh name in a random directory and
 * records it (op CREATE, MKDIR or SYMLINK; flags: open flags of a
 * CREATE).  Returns its index, or -1 when there is no room.
 */
static long tg_make(struct tg *g, unsigned op, uint32_t mode,
		    const char *prefix, uint32_t flags, const char *target)
{
	long d = tg_pick_dir(g, true), k;
	char name[TG_NAME];
	struct trace_rec r;
	struct tg_inode *i;

	if (d < 0 || !tg_room(g) || (k = tg_inode_new(g, mode)) < 0)
		return -1;
	i = &g->ino[k];
	i->id = g->next_id++;
	i->uid = g->uid[g->cur];
	i->gid = g->gid[g->cur];
	snprintf(i->target, sizeof(i->target), "%s", target ? target : "");
	tg_fresh_name(g, (size_t)d, prefix, name);
	tg_rec(g, &r, op);
	r.parent = g->ino[d].id;
	r.id = i->id;
	r.mode = mode;
	r.flags = flags;
	r.uid = i->uid;
	r.gid = i->gid;
	tg_name(&r, name);
	r.name2 = target;
	r.name2_len = target ? (uint32_t)strlen(target) : 0;
	tg_emit(g, &r, false);
	tg_entry_add(g, (size_t)d, (size_t)k, name);
	tg_note_ns(g, g->ino[d].id, 0);
	tg_touch(g, (size_t)k);
	return k;
}

static const uint32_t tg_create_flags[] = {
    O_WRONLY | O_CREAT | O_TRUNC,  O_WRONLY | O_CREAT | O_TRUNC,
    O_RDWR | O_CREAT | O_EXCL,	   O_WRONLY | O_CREAT | O_EXCL,
    O_WRONLY | O_CREAT | O_APPEND, O_RDWR | O_CREAT,
};

static int gen_create(struct tg *g)
{
	uint32_t flags = tg_create_flags[tg_rnd(g, 6)] | TG_O_LARGEFILE;
	uint32_t mode = S_IFREG | (tg_pct(g, 80) ? 0644 : 0600);
	long k = tg_make(g, TRACE_OP_CREATE, mode, "f", flags, NULL);
	size_t j;

	if (k < 0)
		return 1;
	/* The recorder follows every CREATE with its OPEN. */
	tg_open(g, (size_t)k, flags);
	for (j = 0; j < g->nino && !g->ino[j].neglected; j++)
		;
	if (g->want_neglect && j == g->nino)
		g->ino[k].neglected = true;
	tg_maybe_close(g, (size_t)k);
	return 0;
}

static int gen_mkdir(struct tg *g)
{
	static const uint32_t perms[] = {0755, 0755, 0700, 0750};
	uint32_t mode = S_IFDIR | perms[tg_rnd(g, 4)];

	return tg_make(g, TRACE_OP_MKDIR, mode, "sub", 0, NULL) < 0;
}

static int gen_symlink(struct tg *g)
{
	long e = tg_pick_entry(g, TG_E_NONDIR, -1);
	char target[TG_NAME];
	long k;

	if (e >= 0 && tg_pct(g, 70))
		snprintf(target, sizeof(target), "%s", g->ent[e].name);
	else
		snprintf(target, sizeof(target), "../nowhere%u", ++g->nnames);
	k = tg_make(g, TRACE_OP_SYMLINK, S_IFLNK | 0777, "ln", 0, target);
	return k < 0;
}

/* ---- link, unlink, rmdir ---- */

static int gen_link(struct tg *g)
{
	long k = tg_pick_file(g, false), d = tg_pick_dir(g, true);
	char name[TG_NAME];
	struct trace_rec r;

	if (k < 0 || d < 0 || g->nent == TG_MAX_ENTRIES)
		return 1;
	tg_fresh_name(g, (size_t)d, "hl", name);
	tg_rec(g, &r, TRACE_OP_LINK);
	r.id = g->ino[k].id;
	r.parent = g->ino[d].id;
	tg_name(&r, name);
	tg_emit(g, &r, false);
	tg_entry_add(g, (size_t)d, (size_t)k, name);
	tg_note_ns(g, r.parent, 0);
	tg_touch(g, (size_t)k);
	return 0;
}

/* UNLINK or RMDIR of entry k, with result (0 removes it from the model). */
static void tg_remove(struct tg *g, unsigned op, size_t k, int result)
{
	struct tg_entry *e = &g->ent[k];
	struct trace_rec r;

	tg_rec(g, &r, op);
	r.parent = g->ino[e->dir].id;
	r.id = g->ino[e->ino].id;
	r.result = result;
	tg_name(&r, e->name);
	tg_emit(g, &r, false);
	if (result)
		return;
	tg_note_ns(g, r.parent, 0);
	tg_entry_del(g, k);
}

static int gen_unlink(struct tg *g)
{
	long k = tg_pick_entry(g, TG_E_NONDIR, -1);

	if (k < 0)
		return 1;
	tg_remove(g, TRACE_OP_UNLINK, (size_t)k, 0);
	return 0;
}

static int gen_rmdir(struct tg *g)
{
	long k = tg_pick_entry(g, TG_E_EMPTYDIR, -1);

	if (k < 0)
		return 1;
	tg_remove(g, TRACE_OP_RMDIR, (size_t)k, 0);
	return 0;
}

/* ---- rename ---- */

/* RENAME of entry k to name2 in dir2; id2: the inode replaced there, or 0. */
static void tg_emit_rename(struct tg *g, size_t k, size_t dir2,
			   const char *name2, uint64_t id2, uint32_t flags)
{
	const struct tg_entry *e = &g->ent[k];
	struct trace_rec r;

	tg_rec(g, &r, TRACE_OP_RENAME);
	r.id = g->ino[e->ino].id;
	r.parent = g->ino[e->dir].id;
	r.parent2 = g->ino[dir2].id;
	r.id2 = id2;
	r.flags = flags;
	tg_name(&r, e->name);
	r.name2 = name2;
	r.name2_len = (uint32_t)strlen(name2);
	tg_emit(g, &r, false);
	tg_note_ns(g, r.parent, r.parent2);
}

/* Moves entry k to a fresh name in dir (flags 0 or RENAME_NOREPLACE). */
static void tg_move(struct tg *g, size_t k, size_t dir)
{
	char name[TG_NAME];

	tg_fresh_name(g, dir, "r", name);
	tg_emit_rename(g, k, dir, name, 0,
		       tg_pct(g, 50) ? RENAME_NOREPLACE : 0);
	g->ent[k].dir = (uint32_t)dir;
	snprintf(g->ent[k].name, sizeof(g->ent[k].name), "%s", name);
	tg_touch(g, g->ent[k].ino);
}

/* A file to a fresh name, in its directory (across: or any). */
static int tg_rename_fresh(struct tg *g, bool across)
{
	long k = tg_pick_entry(g, TG_E_NONDIR, -1), d;

	if (k < 0)
		return 1;
	d = across ? tg_pick_dir(g, true) : (long)g->ent[k].dir;
	tg_move(g, (size_t)k, (size_t)d);
	return 0;
}

/* A directory to a fresh name in a directory not below it. */
static int tg_rename_dir(struct tg *g)
{
	long k = tg_pick_entry(g, TG_E_DIR, -1), cand[TG_MAX_INODES];
	size_t n = 0, j;

	if (k < 0)
		return 1;
	for (j = 0; j < g->nino; j++)
		if (S_ISDIR(g->ino[j].mode) &&
		    (j == TG_ROOT || g->ino[j].nlink) &&
		    !tg_is_within(g, j, g->ent[k].ino))
			cand[n++] = (long)j;
	if (!n)
		return 1;
	tg_move(g, (size_t)k, (size_t)tg_pick(g, cand, n));
	return 0;
}

/* A file over another file (another inode): the target's inode loses a name. */
static int tg_rename_over(struct tg *g)
{
	long k = tg_pick_entry(g, TG_E_NONDIR, -1), t;
	struct tg_entry *e;

	if (k < 0 || (t = tg_pick_entry(g, TG_E_NONDIR, g->ent[k].ino)) < 0)
		return 1;
	e = &g->ent[t];
	tg_emit_rename(g, (size_t)k, e->dir, e->name, g->ino[e->ino].id, 0);
	g->ent[k].dir = e->dir;
	memcpy(g->ent[k].name, e->name, sizeof(e->name));
	tg_touch(g, g->ent[k].ino);
	tg_entry_del(g, (size_t)t);
	return 0;
}

/* RENAME_EXCHANGE of two files: each name now holds the other inode. */
static int tg_rename_exchange(struct tg *g)
{
	long k = tg_pick_entry(g, TG_E_NONDIR, -1), t;
	uint32_t ino;

	if (k < 0 || (t = tg_pick_entry(g, TG_E_NONDIR, g->ent[k].ino)) < 0)
		return 1;
	tg_emit_rename(g, (size_t)k, g->ent[t].dir, g->ent[t].name,
		       g->ino[g->ent[t].ino].id, RENAME_EXCHANGE);
	ino = g->ent[k].ino;
	g->ent[k].ino = g->ent[t].ino;
	g->ent[t].ino = ino;
	tg_touch(g, ino);
	return 0;
}

static int gen_rename(struct tg *g)
{
	unsigned v = (unsigned)tg_rnd(g, 100);

	if (v < 8)
		return tg_rename_exchange(g);
	if (v < 32)
		return tg_rename_over(g);
	if (v < 44)
		return tg_rename_dir(g);
	return tg_rename_fresh(g, v < 72);
}

/* ---- attributes and xattrs ---- */

static void tg_chmod(struct tg *g, struct tg_inode *i, struct trace_rec *r)
{
	static const uint32_t fperm[] = {0644, 0600, 0640, 0444, 0755, 0664};
	static const uint32_t dperm[] = {0755, 0700, 0750, 0711};

	r->flags = TRACE_SA_MODE;
	if (S_ISDIR(i->mode))
		r->mode = S_IFDIR | dperm[tg_rnd(g, 4)];
	else
		r->mode = (i->mode & S_IFMT) | fperm[tg_rnd(g, 6)];
	i->mode = r->mode;
}

/* chown, by root: owner, group or both. */
static void tg_chown(struct tg *g, struct tg_inode *i, struct trace_rec *r)
{
	static const uint32_t ids[] = {0, 1000, 1001, 65534};
	unsigned v = (unsigned)tg_rnd(g, 10);

	r->pid = g->pid[0];
	r->flags = v < 8   ? TRACE_SA_UID | TRACE_SA_GID
		   : v < 9 ? TRACE_SA_UID
			   : TRACE_SA_GID;
	if (r->flags & TRACE_SA_UID)
		i->uid = r->uid = ids[tg_rnd(g, 4)];
	if (r->flags & TRACE_SA_GID)
		i->gid = r->gid = ids[tg_rnd(g, 4)];
}

/* utimes with explicit times, or touch's "now". */
static void tg_utimes(struct tg *g, struct trace_rec *r)
{
	if (tg_pct(g, 20)) {
		r->flags = TRACE_SA_ATIME | TRACE_SA_ATIME_NOW |
			   TRACE_SA_MTIME | TRACE_SA_MTIME_NOW;
		return;
	}
	r->flags = TRACE_SA_ATIME | TRACE_SA_MTIME;
	r->atime_ns = g->base_ns + (int64_t)tg_rnd(g, UINT64_C(1) << 50);
	r->mtime_ns = g->base_ns + (int64_t)tg_rnd(g, UINT64_C(1) << 50);
}

static int gen_setattr(struct tg *g)
{
	long k = tg_pick_meta_target(g);
	struct trace_rec r;
	struct tg_inode *i;
	unsigned v;

	if (k < 0)
		return 1;
	i = &g->ino[k];
	tg_rec(g, &r, TRACE_OP_SETATTR);
	r.id = i->id;
	v = (unsigned)tg_rnd(g, 3);
	if (v == 0)
		tg_chmod(g, i, &r);
	else if (v == 1)
		tg_chown(g, i, &r);
	else
		tg_utimes(g, &r);
	tg_emit(g, &r, false);
	tg_note_data(g, i);
	tg_touch(g, (size_t)k);
	return 0;
}

/* A used xattr slot of i, or -1 if it has none. */
static long tg_pick_xattr(struct tg *g, const struct tg_inode *i)
{
	long cand[TG_XATTRS];
	size_t n = 0, k;

	for (k = 0; k < TG_XATTRS; k++)
		if (i->xa[k].name[0])
			cand[n++] = (long)k;
	return tg_pick(g, cand, n);
}

/* The slot a SETXATTR sets: a new name, or used slot x (-1: none) again. */
static struct tg_xattr *tg_xattr_slot(struct tg *g, struct tg_inode *i, long x,
				      uint32_t *flags)
{
	bool fresh = x < 0 || tg_pct(g, 40);
	size_t k;

	for (k = 0; fresh && k < TG_XATTRS; k++)
		if (!i->xa[k].name[0]) {
			snprintf(i->xa[k].name, TG_NAME, "user.k%u",
				 ++g->nnames);
			*flags = tg_pct(g, 50) ? XATTR_CREATE : 0;
			return &i->xa[k];
		}
	*flags = tg_pct(g, 50) ? XATTR_REPLACE : 0;
	return &i->xa[x];
}

static int gen_xattr(struct tg *g)
{
	long k = tg_pick_meta_target(g), x;
	char gone[TG_NAME];
	struct tg_xattr *a;
	struct trace_rec r;
	struct tg_inode *i;

	if (k < 0)
		return 1;
	i = &g->ino[k];
	x = tg_pick_xattr(g, i);
	if (x >= 0 && tg_pct(g, 40)) {
		memcpy(gone, i->xa[x].name, TG_NAME);
		memset(&i->xa[x], 0, sizeof(i->xa[x]));
		tg_rec(g, &r, TRACE_OP_REMOVEXATTR);
		tg_name(&r, gone);
	} else {
		tg_rec(g, &r, TRACE_OP_SETXATTR);
		a = tg_xattr_slot(g, i, x, &r.flags);
		a->len = (uint32_t)snprintf(a->value, TG_NAME, "val%u-%.*s",
					    ++g->nnames, (int)tg_rnd(g, 12),
					    "abcdefghijkl");
		tg_name(&r, a->name);
		r.data = a->value;
		r.data_len = a->len;
	}
	r.id = i->id;
	tg_emit(g, &r, false);
	tg_note_data(g, i);
	tg_touch(g, (size_t)k);
	return 0;
}

/* ---- barriers, marks and failures on their own ---- */

static int gen_fsync(struct tg *g)
{
	long k = tg_pick_file(g, false);

	if (k < 0 || g->ino[k].neglected)
		return 1;
	tg_fsync(g, (size_t)k, tg_pct(g, 40), 0);
	return 0;
}

static int gen_fsyncdir(struct tg *g)
{
	long d = tg_pick_dir(g, true);

	if (d < 0)
		return 1;
	tg_fsyncdir(g, g->ino[d].id, tg_pct(g, 25));
	return 0;
}

static int gen_mark(struct tg *g)
{
	tg_mark(g);
	return 0;
}

/* A failed op: write with ENOSPC, fsync with EIO or rmdir with ENOTEMPTY. */
static int gen_failure(struct tg *g)
{
	long k = tg_pick_file(g, false);
	unsigned v = (unsigned)tg_rnd(g, 3);

	if (v == 2 && (k = tg_pick_entry(g, TG_E_FULLDIR, -1)) >= 0) {
		tg_remove(g, TRACE_OP_RMDIR, (size_t)k, -ENOTEMPTY);
		return 0;
	}
	if (k < 0)
		return 1;
	if (v == 1)
		tg_fsync(g, (size_t)k, tg_pct(g, 40), -EIO);
	else
		tg_emit_write(g, (size_t)k, TG_W_BUFFERED, g->ino[k].size,
			      tg_range(g, 1, 3000), -ENOSPC);
	return 0;
}

/* ---- the op mix ---- */

static const struct tg_kind {
	const char *name;	  /* for debugging */
	unsigned weight;	  /* how often it is drawn */
	bool changes;		  /* a state-changing op: counts toward --ops */
	int (*gen)(struct tg *g); /* 0 when done, 1 when not possible now */
} tg_kinds[] = {
    {.name = "write", .weight = 30, .changes = true, .gen = gen_write},
    {.name = "truncate", .weight = 6, .changes = true, .gen = gen_truncate},
    {.name = "fallocate", .weight = 6, .changes = true, .gen = gen_fallocate},
    {.name = "create", .weight = 8, .changes = true, .gen = gen_create},
    {.name = "mkdir", .weight = 3, .changes = true, .gen = gen_mkdir},
    {.name = "symlink", .weight = 2, .changes = true, .gen = gen_symlink},
    {.name = "link", .weight = 3, .changes = true, .gen = gen_link},
    {.name = "unlink", .weight = 4, .changes = true, .gen = gen_unlink},
    {.name = "rmdir", .weight = 2, .changes = true, .gen = gen_rmdir},
    {.name = "rename", .weight = 8, .changes = true, .gen = gen_rename},
    {.name = "setattr", .weight = 5, .changes = true, .gen = gen_setattr},
    {.name = "xattr", .weight = 4, .changes = true, .gen = gen_xattr},
    {.name = "fsync", .weight = 4, .changes = false, .gen = gen_fsync},
    {.name = "fsyncdir", .weight = 3, .changes = false, .gen = gen_fsyncdir},
    {.name = "mark", .weight = 2, .changes = false, .gen = gen_mark},
    {.name = "failure", .weight = 2, .changes = false, .gen = gen_failure},
};

#define TG_NKINDS (sizeof(tg_kinds) / sizeof(tg_kinds[0]))

static const struct tg_kind *tg_pick_kind(struct tg *g)
{
	unsigned total = 0;
	uint64_t r;
	size_t k;

	for (k = 0; k < TG_NKINDS; k++)
		total += tg_kinds[k].weight;
	r = tg_rnd(g, total);
	for (k = 0; r >= tg_kinds[k].weight; k++)
		r -= tg_kinds[k].weight;
	return &tg_kinds[k];
}

/*
 * Generates nops state-changing ops and what surrounds them.  Returns 0
 * or g->err (-errno, or -TG_EDIVERGED from --run's sink); -ENOSPC if the
 * model got stuck (TG_MAX_ENTRIES names and no op possible: a draw of
 * 10000 kinds without one state change).
 */
int tg_run_ops(struct tg *g, unsigned nops)
{
	unsigned done = 0, idle = 0;
	const struct tg_kind *k;

	while (done < nops && !g->err) {
		if (++idle > 10000)
			return -ENOSPC;
		tg_sync_some(g);
		if (tg_pct(g, 20))
			g->cur = (unsigned)tg_rnd(g, g->npids);
		k = tg_pick_kind(g);
		if (k->gen(g) || !k->changes)
			continue;
		idle = 0;
		done++;
	}
	return g->err;
}
