/*
 * tracegen_model.c - the generator's in-memory file system: randomness,
 * inodes and entries, in-flight ops and the barrier schedule, the records
 * the kernel and the recorder add around ops, and the base.
 *
 * DETERMINISM.  All randomness comes from one splitmix64 stream seeded
 * with SEED; time_ns is simulated and drawn from the same stream (so
 * every record made, whichever sink takes it, advances the stream the
 * same way); the wall clock of meta.json comes from a side stream.  The
 * same SEED and --ops therefore make the same choices in every mode.
 *
 * THE BASE: the root, directories d1 and d2 (0755 or 0700), and one to
 * three regular files of 0..3000 bytes (modes such as 0644 or 0600) in
 * any of the three; sometimes a symlink, a user.* xattr on a file, a
 * second hard link to a file.  Every entry gets an mtime derived from the
 * seed.  Ids are given later, by the walk that writes (or, for --run,
 * only retraces) the tree: see tracegen.c.
 *
 * BARRIERS keep the trace explorable exhaustively.  The model tracks
 * which ops are in flight under the weakest model (posix in src/model.c:
 * a data op until its file is fsynced or sync-written, a namespace op
 * until every directory it names is fsyncdir'ed) and, before each op,
 * while that count is at least a threshold drawn from 1..TG_INFLIGHT,
 * syncs whichever file or directory covers the most (possibly a file
 * or directory no longer linked, as through a descriptor still open,
 * which the recorder records like any other).  Beyond those, at
 * most TG_FOREVER ops stay in flight to the end: data ops on the
 * "neglected" file that nothing ever fsyncs (about a third of traces have
 * one) and attribute changes of directories, which this estimate counts
 * as never covered (src/model.c does cover them, with a FSYNCDIR of the
 * directory without datasync: the estimate only errs towards syncing).
 *
 * Records are made here (tg_emit) but go wherever g->sink says; this
 * file does no I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tracegen_i.h"

/* ---- randomness: splitmix64, nothing else ---- */

static uint64_t tg_mix(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
uint64_t tg_rnd(struct tg *g, uint64_t n)
{
	return tg_mix(&g->rng) % n;
}

/* Uniform in [lo, hi]. */
uint64_t tg_range(struct tg *g, uint64_t lo, uint64_t hi)
{
	return lo + tg_rnd(g, hi - lo + 1);
}

/* True pct times in 100. */
bool tg_pct(struct tg *g, unsigned pct)
{
	return tg_rnd(g, 100) < pct;
}

/* A random element of cand[0..n), or -1 when n is 0. */
long tg_pick(struct tg *g, const long *cand, size_t n)
{
	return n ? cand[tg_rnd(g, n)] : -1;
}

/* ---- the model: inodes and entries ---- */

/*
 * A slot for a new inode: a fresh one, or that of a dead inode (no name
 * left, nothing in flight) so long traces do not fill the table.  Base
 * inodes have no id until the walk, so none is taken for dead then.
 */
static long tg_inode_slot(struct tg *g)
{
	size_t k;

	if (g->nino < TG_MAX_INODES)
		return (long)g->nino++;
	for (k = TG_ROOT + 1; k < g->nino; k++)
		if (g->ino[k].id && !g->ino[k].nlink && !g->ino[k].pending) {
			free(g->ino[k].data);
			return (long)k;
		}
	return -1;
}

/*
 * Adds an inode of mode with no id and no name.  Returns its index, or
 * -1 when the table is full (or, with g->err set, out of memory).
 */
long tg_inode_new(struct tg *g, uint32_t mode)
{
	long k = tg_inode_slot(g);
	struct tg_inode *i;

	if (k < 0)
		return -1;
	i = &g->ino[k];
	memset(i, 0, sizeof(*i));
	i->mode = mode;
	if (S_ISREG(mode) && !(i->data = calloc(1, TG_FILE_MAX))) {
		g->err = -ENOMEM;
		return -1;
	}
	return k;
}

/* Index of the entry name in directory dir, or -1. */
long tg_entry_find(const struct tg *g, size_t dir, const char *name)
{
	size_t k;

	for (k = 0; k < g->nent; k++)
		if (g->ent[k].dir == dir && !strcmp(g->ent[k].name, name))
			return (long)k;
	return -1;
}

/* Names inode ino name in dir.  The caller checked there is room. */
void tg_entry_add(struct tg *g, size_t dir, size_t ino, const char *name)
{
	struct tg_entry *e = &g->ent[g->nent++];

	e->dir = (uint32_t)dir;
	e->ino = (uint32_t)ino;
	snprintf(e->name, sizeof(e->name), "%s", name);
	g->ino[ino].nlink++;
}

/* Removes entry k (the last entry takes its index). */
void tg_entry_del(struct tg *g, size_t k)
{
	g->ino[g->ent[k].ino].nlink--;
	g->ent[k] = g->ent[--g->nent];
}

bool tg_dir_empty(const struct tg *g, size_t dir)
{
	size_t k;

	for (k = 0; k < g->nent; k++)
		if (g->ent[k].dir == dir)
			return false;
	return true;
}

/* True when directory dir is top or lies below it. */
bool tg_is_within(const struct tg *g, size_t dir, size_t top)
{
	size_t k, depth;

	for (depth = 0; depth < TG_MAX_ENTRIES; depth++) {
		if (dir == top)
			return true;
		if (dir == TG_ROOT)
			return false;
		for (k = 0; k < g->nent && g->ent[k].ino != dir; k++)
			;
		if (k == g->nent)
			return false;
		dir = g->ent[k].dir;
	}
	return false;
}

/* A fresh name "<prefix><n>" not used in dir. */
void tg_fresh_name(struct tg *g, size_t dir, const char *prefix,
		   char name[TG_NAME])
{
	do
		snprintf(name, TG_NAME, "%s%u", prefix, ++g->nnames);
	while (tg_entry_find(g, dir, name) >= 0);
}

/* Room for one more entry (tg_inode_new() says whether there is an inode). */
bool tg_room(const struct tg *g)
{
	return g->nent < TG_MAX_ENTRIES;
}

/* Notes that the current process touched inode k (barriers use its pid). */
void tg_touch(struct tg *g, size_t k)
{
	g->ino[k].pid = g->pid[g->cur];
	if (S_ISREG(g->ino[k].mode))
		g->recent = (long)k;
}

/* Index of the inode with trace id id (ids are never reused), or -1. */
long tg_inode_by_id(const struct tg *g, uint64_t id)
{
	size_t k;

	for (k = 0; k < g->nino; k++)
		if (g->ino[k].id == id)
			return (long)k;
	return -1;
}

/*
 * A path of inode k relative to the tree's root: "." for the root, else
 * "./d1/a" through any of its names.  Returns 0, -ENOENT when k has no
 * name (or a directory above it has none), -ENAMETOOLONG.
 */
int tg_path(const struct tg *g, size_t k, char path[TG_PATH])
{
	const struct tg_entry *up[TG_MAX_ENTRIES];
	size_t n = 0, j, at;
	int w;

	for (; k != TG_ROOT; k = up[n++]->dir) {
		for (j = 0; j < g->nent && g->ent[j].ino != k; j++)
			;
		if (j == g->nent || n == TG_MAX_ENTRIES)
			return -ENOENT;
		up[n] = &g->ent[j];
	}
	at = (size_t)snprintf(path, TG_PATH, ".");
	while (n--) {
		w = snprintf(path + at, TG_PATH - at, "/%s", up[n]->name);
		if (w < 0 || (size_t)w >= TG_PATH - at)
			return -ENAMETOOLONG;
		at += (size_t)w;
	}
	return 0;
}

/* ---- picking what an op acts on ---- */

bool tg_forever_ok(const struct tg *g)
{
	return g->forever < TG_FOREVER;
}

/* A named regular file a data op (data) or any op may act on. */
static bool tg_file_ok(const struct tg *g, size_t k, bool data)
{
	const struct tg_inode *i = &g->ino[k];

	if (!S_ISREG(i->mode) || !i->nlink)
		return false;
	return !data || !i->neglected || tg_forever_ok(g);
}

/* A random named regular file, often the one touched last; -1 if none. */
long tg_pick_file(struct tg *g, bool data)
{
	long cand[TG_MAX_INODES];
	size_t n = 0, k;

	for (k = 0; k < g->nino; k++)
		if (tg_file_ok(g, k, data))
			cand[n++] = (long)k;
	if (g->recent >= 0 && tg_file_ok(g, (size_t)g->recent, data) &&
	    tg_pct(g, 50))
		return g->recent;
	return tg_pick(g, cand, n);
}

/* A random directory in the tree (with_root: maybe the root); -1 if none. */
long tg_pick_dir(struct tg *g, bool with_root)
{
	long cand[TG_MAX_INODES];
	size_t n = 0, k;

	for (k = with_root ? 0 : 1; k < g->nino; k++)
		if (S_ISDIR(g->ino[k].mode) &&
		    (k == TG_ROOT || g->ino[k].nlink))
			cand[n++] = (long)k;
	return tg_pick(g, cand, n);
}

static bool tg_entry_is(const struct tg *g, size_t k, enum tg_want want)
{
	size_t ino = g->ent[k].ino;
	bool dir = S_ISDIR(g->ino[ino].mode);

	switch (want) {
	case TG_E_NONDIR:
		return !dir;
	case TG_E_DIR:
		return dir;
	case TG_E_EMPTYDIR:
		return dir && tg_dir_empty(g, ino);
	default:
		return dir && !tg_dir_empty(g, ino);
	}
}

/* A random entry of the kind wanted, not naming inode not_ino; -1 if none. */
long tg_pick_entry(struct tg *g, enum tg_want want, long not_ino)
{
	long cand[TG_MAX_ENTRIES];
	size_t n = 0, k;

	for (k = 0; k < g->nent; k++)
		if (tg_entry_is(g, k, want) && (long)g->ent[k].ino != not_ino)
			cand[n++] = (long)k;
	return tg_pick(g, cand, n);
}

/* Target of a SETATTR or xattr op: mostly a file, rarely a directory. */
long tg_pick_meta_target(struct tg *g)
{
	if (tg_forever_ok(g) && tg_pct(g, 8))
		return tg_pick_dir(g, false);
	return tg_pick_file(g, true);
}

/* ---- in-flight ops, as src/model.c's posix rules see them ---- */

/* A data op on inode i: in flight until i is fsynced, or for good. */
void tg_note_data(struct tg *g, struct tg_inode *i)
{
	if (S_ISREG(i->mode) && !i->neglected)
		i->pending++;
	else
		g->forever++;
}

/* A namespace op: in flight until directories d1 and d2 are fsyncdir'ed. */
void tg_note_ns(struct tg *g, uint64_t d1, uint64_t d2)
{
	size_t k, n = 0;

	if (g->nns == TG_MAX_NSOPS) { /* forget the covered ones */
		for (k = 0; k < g->nns; k++)
			if (g->ns[k].dirs[0] || g->ns[k].dirs[1])
				g->ns[n++] = g->ns[k];
		g->nns = n;
	}
	/* Cannot happen: barriers keep few ops pending. */
	if (g->nns == TG_MAX_NSOPS) {
		g->err = -ENOSPC;
		return;
	}
	g->ns[g->nns].dirs[0] = d1;
	g->ns[g->nns].dirs[1] = d2 == d1 ? 0 : d2;
	g->nns++;
}

/* Namespace ops still waiting for directory dir. */
unsigned tg_dir_pending(const struct tg *g, uint64_t dir)
{
	unsigned n = 0;
	size_t k;

	for (k = 0; k < g->nns; k++)
		n += g->ns[k].dirs[0] == dir || g->ns[k].dirs[1] == dir;
	return n;
}

static void tg_cover_dir(struct tg *g, uint64_t dir)
{
	size_t k, j;

	for (k = 0; k < g->nns; k++)
		for (j = 0; j < 2; j++)
			if (g->ns[k].dirs[j] == dir)
				g->ns[k].dirs[j] = 0;
}

/* In-flight ops that a barrier can still cover. */
static unsigned tg_inflight(const struct tg *g)
{
	unsigned n = 0;
	size_t k;

	for (k = 0; k < g->nino; k++)
		n += g->ino[k].pending;
	for (k = 0; k < g->nns; k++)
		n += g->ns[k].dirs[0] || g->ns[k].dirs[1];
	return n;
}

/* Starts a record of op by the current process, every field 0. */
void tg_rec(struct tg *g, struct trace_rec *r, unsigned op)
{
	memset(r, 0, sizeof(*r));
	r->op = (uint16_t)op;
	r->pid = g->pid[g->cur];
}

void tg_name(struct trace_rec *r, const char *name)
{
	r->name = name;
	r->name_len = (uint32_t)strlen(name);
}

/*
 * Gives r the next seq and a later time_ns (soon: the kernel's follow-up
 * of the record before, such as a sync write's FSYNC) and hands it to
 * g->sink.  A failure sticks in g->err and later records go nowhere.
 */
void tg_emit(struct tg *g, struct trace_rec *r, bool soon)
{
	if (g->err)
		return;
	r->seq = ++g->seq;
	g->now += soon ? tg_range(g, 1000, 20000) : tg_range(g, 2000, 250000);
	r->time_ns = g->now;
	if (g->sink)
		g->err = g->sink(g, r, soon);
}

/* ---- small records: barriers, marks, open/flush/release ---- */

/* FSYNC of inode k by the process that touched it last. */
void tg_fsync(struct tg *g, size_t k, bool datasync, int result)
{
	struct trace_rec r;

	tg_rec(g, &r, TRACE_OP_FSYNC);
	if (g->ino[k].pid)
		r.pid = g->ino[k].pid;
	r.id = g->ino[k].id;
	r.flags = datasync;
	r.result = result;
	tg_emit(g, &r, false);
	if (!result)
		g->ino[k].pending = 0;
}

void tg_fsyncdir(struct tg *g, uint64_t dir, bool datasync)
{
	struct trace_rec r;

	tg_rec(g, &r, TRACE_OP_FSYNCDIR);
	r.id = dir;
	r.flags = datasync;
	tg_emit(g, &r, false);
	tg_cover_dir(g, dir);
}

void tg_mark(struct tg *g)
{
	char text[TG_NAME];
	struct trace_rec r;

	snprintf(text, sizeof(text), "commit %u", ++g->nmarks);
	tg_rec(g, &r, TRACE_OP_MARK);
	tg_name(&r, text);
	tg_emit(g, &r, false);
}

void tg_open(struct tg *g, size_t k, uint32_t flags)
{
	struct trace_rec r;

	tg_rec(g, &r, TRACE_OP_OPEN);
	r.id = g->ino[k].id;
	r.flags = flags | TG_O_LARGEFILE;
	tg_emit(g, &r, false);
}

/* Sometimes an OPEN of k with flags before an op. */
void tg_maybe_open(struct tg *g, size_t k, uint32_t flags)
{
	if (tg_pct(g, 20))
		tg_open(g, k, flags);
}

/* Sometimes a close of k: FLUSH by its process, RELEASE with pid 0. */
void tg_maybe_close(struct tg *g, size_t k)
{
	struct trace_rec r;

	if (!tg_pct(g, 15))
		return;
	tg_rec(g, &r, TRACE_OP_FLUSH);
	r.id = g->ino[k].id;
	tg_emit(g, &r, false);
	tg_rec(g, &r, TRACE_OP_RELEASE);
	r.pid = 0;
	r.id = g->ino[k].id;
	tg_emit(g, &r, true);
}

/* ---- the barrier schedule ---- */

/*
 * The barrier covering the most in-flight ops: a file (*file, an inode
 * index) or a directory (*dir, an id).  Returns how many it covers.
 */
static unsigned tg_best_barrier(const struct tg *g, long *file, uint64_t *dir)
{
	unsigned best = 0, n;
	size_t k, j;

	*file = -1;
	*dir = 0;
	for (k = 0; k < g->nino; k++)
		if (g->ino[k].pending > best) {
			best = g->ino[k].pending;
			*file = (long)k;
		}
	for (k = 0; k < g->nns; k++)
		for (j = 0; j < 2; j++)
			if (g->ns[k].dirs[j] &&
			    (n = tg_dir_pending(g, g->ns[k].dirs[j])) > best) {
				best = n;
				*file = -1;
				*dir = g->ns[k].dirs[j];
			}
	return best;
}

/* Syncs while the in-flight ops reach the threshold; then draws a new one. */
void tg_sync_some(struct tg *g)
{
	bool synced = false;
	uint64_t dir;
	long file;

	while (!g->err && tg_inflight(g) >= g->threshold &&
	       tg_best_barrier(g, &file, &dir)) {
		if (file >= 0 && tg_pct(g, 3))
			tg_fsync(g, (size_t)file, false, -EIO);
		if (file >= 0)
			tg_fsync(g, (size_t)file, tg_pct(g, 40), 0);
		else
			tg_fsyncdir(g, dir, tg_pct(g, 25));
		synced = true;
	}
	if (synced && tg_pct(g, 40))
		tg_mark(g);
	if (synced || !g->threshold)
		g->threshold =
		    tg_pct(g, 15) ? 1 : (unsigned)tg_range(g, 2, TG_INFLIGHT);
}

/* ---- file bytes ---- */

/*
 * Fills buf with what writer `kind` number tag puts at file offsets
 * [off, off + len): 32-byte lines "w00012@0001a0 " + letters + '\n' that
 * name their writer and their own offset, so any byte of a crash state
 * says where it came from.
 */
void tg_pattern(uint8_t *buf, uint64_t off, uint64_t len, char kind,
		unsigned tag)
{
	char line[40];
	uint64_t p;
	int n;

	for (p = off; p < off + len; p++) {
		if (p == off || p % 32 == 0) {
			n = snprintf(line, sizeof(line),
				     "%c%05u@%06" PRIx64 " ", kind,
				     tag % 100000, (p / 32 * 32) & 0xffffff);
			memset(line + n, 'a' + tag % 26, (size_t)(31 - n));
			line[31] = '\n';
		}
		buf[p - off] = (uint8_t)line[p % 32];
	}
}

/* Sets i's size, keeping the bytes past it zero. */
/* ---- the base ---- */

static const char *const tg_base_names[] = {
    "a", "B", "a.log", "a-1", "data", "_x", "Z9", "db",
};

/* A name from tg_base_names[] not used in dir yet. */
static const char *tg_base_name(struct tg *g, size_t dir)
{
	const char *name;

	do
		name = tg_base_names[tg_rnd(g, 8)];
	while (tg_entry_find(g, dir, name) >= 0);
	return name;
}

/* A regular file of 0..3000 bytes in dir; its index, or -1. */
static long tg_base_file(struct tg *g, size_t dir, unsigned tag)
{
	static const uint32_t perms[] = {0644, 0644, 0600, 0640, 0755};
	long k = tg_inode_new(g, S_IFREG | perms[tg_rnd(g, 5)]);

	if (k < 0)
		return -1;
	g->ino[k].size = tg_pct(g, 15) ? 0 : tg_range(g, 1, 3000);
	tg_pattern(g->ino[k].data, 0, g->ino[k].size, 'b', tag);
	tg_entry_add(g, dir, (size_t)k, tg_base_name(g, dir));
	return k;
}

/* The root, d1, d2 and up to six entries: the tree at "recording" start. */
int tg_base_plan(struct tg *g)
{
	long dirs[3], files[3], k;
	unsigned n, nfiles = (unsigned)tg_range(g, 1, 3);

	dirs[0] = tg_inode_new(g, S_IFDIR | 0755);
	dirs[1] = tg_inode_new(g, S_IFDIR | (tg_pct(g, 25) ? 0700 : 0755));
	dirs[2] = tg_inode_new(g, S_IFDIR | (tg_pct(g, 25) ? 0700 : 0755));
	if (dirs[0] != TG_ROOT || dirs[2] < 0)
		return g->err ? g->err : -ENOMEM;
	g->ino[TG_ROOT].id = TRACE_ROOT_ID;
	g->ino[TG_ROOT].nlink = 1;
	tg_entry_add(g, TG_ROOT, (size_t)dirs[1], "d1");
	tg_entry_add(g, TG_ROOT, (size_t)dirs[2], "d2");
	for (n = 0; n < nfiles; n++) {
		files[n] = tg_base_file(g, (size_t)dirs[tg_rnd(g, 3)], n);
		if (files[n] < 0)
			return g->err ? g->err : -ENOMEM;
	}
	if (tg_pct(g, 35) && (k = tg_inode_new(g, S_IFLNK | 0777)) >= 0) {
		n = (unsigned)tg_rnd(g, nfiles);
		snprintf(g->ino[k].target, TG_NAME, "%s",
			 tg_pct(g, 80) ? g->ent[2 + n].name : "../dangling");
		tg_entry_add(g, (size_t)dirs[tg_rnd(g, 3)], (size_t)k, "ln");
	}
	if (tg_pct(g, 35)) {
		struct tg_xattr *a = &g->ino[files[tg_rnd(g, nfiles)]].xa[0];

		snprintf(a->name, sizeof(a->name), "user.base");
		a->len =
		    (uint32_t)snprintf(a->value, sizeof(a->value), "base%u",
				       (unsigned)tg_rnd(g, 1000));
	}
	if (tg_pct(g, 12)) {
		k = files[tg_rnd(g, nfiles)];
		n = (unsigned)tg_rnd(g, 3);
		tg_entry_add(g, (size_t)dirs[n], (size_t)k,
			     tg_base_name(g, (size_t)dirs[n]));
	}
	if (g->want_neglect && tg_pct(g, 60))
		g->ino[files[tg_rnd(g, nfiles)]].neglected = true;
	return 0;
}

/* Seeds g (zeroed): the stream, the clock, the processes.  No allocation. */
void tg_init(struct tg *g, uint64_t seed)
{
	uint64_t side = seed ^ UINT64_C(0x5eed5eed5eed5eed);
	unsigned k;

	g->rng = seed;
	/* Wall clock from a side stream, so it does not shift the ops. */
	g->start_ns =
	    (int64_t)(UINT64_C(1600000000) + tg_mix(&side) % (3650 * 86400)) *
		1000000000 +
	    (int64_t)(tg_mix(&side) % 1000000000);
	g->base_ns = g->start_ns -
		     (int64_t)(1 + tg_mix(&side) % (30 * 86400)) * 1000000000;
	g->next_id = TRACE_ROOT_ID + 1;
	g->recent = -1;
	g->npids = (unsigned)tg_range(g, 2, 3);
	g->pid[0] = (uint32_t)tg_range(g, 1000, 30000);
	for (k = 1; k < g->npids; k++) {
		g->pid[k] = g->pid[k - 1] + (uint32_t)tg_range(g, 1, 50);
		g->uid[k] = g->gid[k] = 999 + k;
	}
	g->now = tg_range(g, 10000, 30000);
	g->want_neglect = tg_pct(g, 35);
}

/* Frees g and the file bytes of its inodes. */
void tg_free(struct tg *g)
{
	size_t k;

	for (k = 0; k < g->nino; k++)
		free(g->ino[k].data);
	free(g);
}
