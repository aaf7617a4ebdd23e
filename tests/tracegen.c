/*
 * tracegen.c - seeded random synthetic traces, for differential testing
 * of the crash-state explorer.
 *
 *   tracegen SEED OUTDIR [--ops N] [--expect-final DIR]
 *
 * Writes OUTDIR (which must not exist) as `faultline record` would have
 * left it: base/ (the tree when "recording" began), records and
 * meta.json.  Nothing runs on a real mount: the generator simulates a
 * small file system in memory and writes the records the recorder
 * (fusefs/faultline-fs.c) would have appended for the same syscalls, so
 * every record is consistent with the tree it acts on (names exist, ids
 * are right, TRUNCATE's len and FALLOCATE's id2 are the old size,
 * RENAME's id2 is the inode replaced at the target).  The same SEED gives
 * byte-identical output: all randomness comes from one splitmix64
 * stream, time_ns is simulated, and start_ns in meta.json is derived from
 * the seed.  Records are encoded with trace_encode() and written here,
 * not with trace_append(), which stamps time_ns from the clock.
 *
 * THE BASE: the root, directories d1 and d2 (0755 or 0700), and one to
 * three regular files of 0..3000 bytes (modes such as 0644 or 0600) in
 * any of the three; sometimes a symlink, a user.* xattr on a file, a
 * second hard link to a file.  Every entry gets an mtime derived from the
 * seed.  BASE records follow the recorder's walk: depth first, each
 * directory's names in bytewise order, ids 2, 3, ... in walk order (hard
 * links share one), mode = the full st_mode, pid 0.
 *
 * THE OPS: N state-changing ops (--ops; default 6..16), each drawn from
 * tg_kinds[] and applied to the in-memory model:
 *   - writes that overwrite, overlap the previous write, append at EOF,
 *     straddle EOF or leave a hole past it; sector- or page-aligned or
 *     not; 1..3000 bytes, sometimes up to 9000; buffered, O_DSYNC (WRITE
 *     then FSYNC datasync from the same pid), O_SYNC (WRITE then FSYNC),
 *     O_DIRECT|O_DSYNC (no FSYNC), O_DIRECT, O_APPEND, and mmap writeback
 *     (TRACE_WF_WRITEPAGE, pid 0, whole pages up to EOF, sometimes
 *     followed by an msync FSYNC);
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
 * BARRIERS keep the trace explorable exhaustively.  The generator tracks
 * which ops are in flight under the weakest model (posix in src/model.c:
 * a data op until its file is fsynced or sync-written, a namespace op
 * until every directory it names is fsyncdir'ed) and, before each op,
 * while that count is at least a threshold drawn from 1..TG_INFLIGHT,
 * syncs whichever file or directory covers the most (possibly a file
 * or directory no longer linked, as through a descriptor still open,
 * which the recorder records like any other).  Beyond those, at
 * most TG_FOREVER ops stay in flight to the end: data ops on the
 * "neglected" file that nothing ever fsyncs (about a third of traces have
 * one) and attribute changes of directories (src/model.c covers a
 * directory's own data ops only with an FSYNC of it, which the recorder
 * never writes: fsync(2) of a directory arrives as FSYNCDIR, and posix
 * lets FSYNCDIR cover namespace ops only).
 *
 * --expect-final DIR writes the tree the simulation ended with (names,
 * file bytes, symlink targets, hard links, permissions; the root 0755 as
 * the materializer makes it), to compare with what
 * `faultline replay OUTDIR c<last seq> --into DIR2` builds:
 * `diff -r --no-dereference` for names and bytes, `find -printf` for modes.
 *
 * WHAT IT DOES NOT DO: mknod; syncfs (never recorded: sync(2) does not
 * reach a FUSE file system); RENAME_WHITEOUT; file handles (an OPEN is
 * emitted just before some ops with the flags that op implies, but no
 * handle is tracked, and writes never go to unlinked files);
 * concurrency (records are one linear history); files over 64 KiB.
 * Owners, times and xattrs are modelled to keep records consistent but
 * --expect-final leaves them out, as the materializer does.  Output is
 * not fsynced: a lost trace is regenerated from its seed.
 *
 * Exit: 0 written; 2 bad usage, OUTDIR or DIR exists; 3 environment error
 * (OUTDIR may then hold a partial trace).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "fl_error.h"
#include "trace.h"

#define TG_MAX_INODES 128	/* inodes the model holds, root included */
#define TG_MAX_ENTRIES 256	/* directory entries */
#define TG_MAX_NSOPS 256	/* namespace ops tracked for fsyncdir */
#define TG_NAME 32		/* longest name, xattr name or value + NUL */
#define TG_XATTRS 4		/* xattrs per inode */
#define TG_PATH 1024		/* longest path below OUTDIR/base or DIR */
#define TG_FILE_MAX (64u << 10) /* no file grows past this */
#define TG_WBUF (16u << 10) /* largest write payload (9000 page-aligned up) */
#define TG_SECTOR 512u
#define TG_PAGE 4096u
#define TG_INFLIGHT 5 /* largest barrier threshold */
#define TG_FOREVER 3  /* ops that may stay in flight to the end */
#define TG_ROOT 0     /* inode index of the root */
/*
 * The kernel's O_LARGEFILE (x86-64 and asm-generic), which FUSE passes in
 * open flags; glibc defines O_LARGEFILE as 0 on 64-bit targets.
 */
#define TG_O_LARGEFILE 0100000

struct tg_xattr {
	char name[TG_NAME];  /* "user.*", "" for a free slot */
	char value[TG_NAME]; /* value bytes (not NUL-terminated on disk) */
	uint32_t len;	     /* bytes of value */
};

struct tg_inode {
	uint64_t id;	   /* trace file id, 0 until the base walk assigns it */
	uint32_t mode;	   /* full st_mode */
	uint32_t uid, gid; /* owner */
	uint8_t *data;	   /* file bytes, TG_FILE_MAX, zero past size; owned */
	uint64_t size;	   /* file size in bytes */
	char target[TG_NAME]; /* symlink target */
	struct tg_xattr xa[TG_XATTRS];
	unsigned nlink;	   /* entries naming it (the root: 1) */
	unsigned pending;  /* regular file: data ops no barrier covers yet */
	uint64_t last_off; /* range of the last write, for overlapping ones */
	uint64_t last_len;
	uint32_t pid;	/* process that touched it last, 0 for none */
	bool neglected; /* its data ops are never fsynced */
};

struct tg_entry {
	uint32_t dir;	    /* inode index of the directory */
	uint32_t ino;	    /* inode index it names */
	char name[TG_NAME]; /* NUL-terminated */
};

/* A namespace op in flight (posix): directory ids still to be fsyncdir'ed. */
struct tg_nsop {
	uint64_t dirs[2]; /* 0: done */
};

struct tg {
	uint64_t rng;			    /* splitmix64 state */
	struct tg_inode ino[TG_MAX_INODES]; /* [TG_ROOT] is the root */
	size_t nino;
	struct tg_entry ent[TG_MAX_ENTRIES]; /* unordered */
	size_t nent;
	struct tg_nsop ns[TG_MAX_NSOPS]; /* namespace ops, oldest first */
	size_t nns;
	uint64_t next_id; /* id the next new inode gets */
	FILE *out;	  /* the records file */
	uint64_t seq;	  /* seq of the last record written */
	uint64_t now;	  /* its time_ns */
	uint32_t pid[3];  /* the processes; pid[0] is root */
	uint32_t uid[3];  /* their credentials */
	uint32_t gid[3];
	unsigned npids;	       /* 2 or 3 */
	unsigned cur;	       /* index of the process issuing the next op */
	long recent;	       /* inode index of the file touched last, -1 */
	bool want_neglect;     /* leave one file unsynced for good */
	unsigned threshold;    /* in-flight ops that trigger barriers */
	unsigned forever;      /* ops that stay in flight to the end */
	unsigned nwrites;      /* write tags so far */
	unsigned nmarks;       /* "commit N" so far */
	unsigned nnames;       /* fresh names so far */
	int64_t start_ns;      /* meta.json start_ns, epoch ns */
	int64_t base_ns;       /* mtime of base entries, epoch ns */
	bool xattr_warned;     /* said once that base/ cannot hold xattrs */
	int err;	       /* first error writing records, sticky */
	uint8_t wbuf[TG_WBUF]; /* payload of the write being generated */
};

/* ---- randomness: splitmix64, nothing else ---- */

static uint64_t tg_mix(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static uint64_t tg_rnd(struct tg *g, uint64_t n)
{
	return tg_mix(&g->rng) % n;
}

/* Uniform in [lo, hi]. */
static uint64_t tg_range(struct tg *g, uint64_t lo, uint64_t hi)
{
	return lo + tg_rnd(g, hi - lo + 1);
}

/* True pct times in 100. */
static bool tg_pct(struct tg *g, unsigned pct)
{
	return tg_rnd(g, 100) < pct;
}

/* A random element of cand[0..n), or -1 when n is 0. */
static long tg_pick(struct tg *g, const long *cand, size_t n)
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
static long tg_inode_new(struct tg *g, uint32_t mode)
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
static long tg_entry_find(const struct tg *g, size_t dir, const char *name)
{
	size_t k;

	for (k = 0; k < g->nent; k++)
		if (g->ent[k].dir == dir && !strcmp(g->ent[k].name, name))
			return (long)k;
	return -1;
}

/* Names inode ino name in dir.  The caller checked there is room. */
static void tg_entry_add(struct tg *g, size_t dir, size_t ino, const char *name)
{
	struct tg_entry *e = &g->ent[g->nent++];

	e->dir = (uint32_t)dir;
	e->ino = (uint32_t)ino;
	snprintf(e->name, sizeof(e->name), "%s", name);
	g->ino[ino].nlink++;
}

/* Removes entry k (the last entry takes its index). */
static void tg_entry_del(struct tg *g, size_t k)
{
	g->ino[g->ent[k].ino].nlink--;
	g->ent[k] = g->ent[--g->nent];
}

static bool tg_dir_empty(const struct tg *g, size_t dir)
{
	size_t k;

	for (k = 0; k < g->nent; k++)
		if (g->ent[k].dir == dir)
			return false;
	return true;
}

/* True when directory dir is top or lies below it. */
static bool tg_is_within(const struct tg *g, size_t dir, size_t top)
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
static void tg_fresh_name(struct tg *g, size_t dir, const char *prefix,
			  char name[TG_NAME])
{
	do
		snprintf(name, TG_NAME, "%s%u", prefix, ++g->nnames);
	while (tg_entry_find(g, dir, name) >= 0);
}

/* Room for one more entry (tg_inode_new() says whether there is an inode). */
static bool tg_room(const struct tg *g)
{
	return g->nent < TG_MAX_ENTRIES;
}

/* Notes that the current process touched inode k (barriers use its pid). */
static void tg_touch(struct tg *g, size_t k)
{
	g->ino[k].pid = g->pid[g->cur];
	if (S_ISREG(g->ino[k].mode))
		g->recent = (long)k;
}

/* ---- picking what an op acts on ---- */

static bool tg_forever_ok(const struct tg *g)
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
static long tg_pick_file(struct tg *g, bool data)
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
static long tg_pick_dir(struct tg *g, bool with_root)
{
	long cand[TG_MAX_INODES];
	size_t n = 0, k;

	for (k = with_root ? 0 : 1; k < g->nino; k++)
		if (S_ISDIR(g->ino[k].mode) &&
		    (k == TG_ROOT || g->ino[k].nlink))
			cand[n++] = (long)k;
	return tg_pick(g, cand, n);
}

/* What tg_pick_entry() looks for. */
enum tg_want { TG_E_NONDIR, TG_E_DIR, TG_E_EMPTYDIR, TG_E_FULLDIR };

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
static long tg_pick_entry(struct tg *g, enum tg_want want, long not_ino)
{
	long cand[TG_MAX_ENTRIES];
	size_t n = 0, k;

	for (k = 0; k < g->nent; k++)
		if (tg_entry_is(g, k, want) && (long)g->ent[k].ino != not_ino)
			cand[n++] = (long)k;
	return tg_pick(g, cand, n);
}

/* Target of a SETATTR or xattr op: mostly a file, rarely a directory. */
static long tg_pick_meta_target(struct tg *g)
{
	if (tg_forever_ok(g) && tg_pct(g, 8))
		return tg_pick_dir(g, false);
	return tg_pick_file(g, true);
}

/* ---- in-flight ops, as src/model.c's posix rules see them ---- */

/* A data op on inode i: in flight until i is fsynced, or for good. */
static void tg_note_data(struct tg *g, struct tg_inode *i)
{
	if (S_ISREG(i->mode) && !i->neglected)
		i->pending++;
	else
		g->forever++;
}

/* A namespace op: in flight until directories d1 and d2 are fsyncdir'ed. */
static void tg_note_ns(struct tg *g, uint64_t d1, uint64_t d2)
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
static unsigned tg_dir_pending(const struct tg *g, uint64_t dir)
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

/* ---- the records file ---- */

/* Creates OUTDIR/records and writes its header.  0 or -errno. */
static int tg_out_open(struct tg *g, const char *outdir)
{
	uint8_t hdr[16] = "FLTRACE";
	uint32_t v = htole32(TRACE_FORMAT_VERSION), hl = htole32(sizeof(hdr));
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", outdir, TRACE_RECORDS_FILE);
	g->out = fopen(path, "wbxe");
	if (!g->out)
		return -errno;
	memcpy(hdr + 8, &v, 4);
	memcpy(hdr + 12, &hl, 4);
	return fwrite(hdr, 1, sizeof(hdr), g->out) == sizeof(hdr) ? 0 : -EIO;
}

/* Starts a record of op by the current process, every field 0. */
static void tg_rec(struct tg *g, struct trace_rec *r, unsigned op)
{
	memset(r, 0, sizeof(*r));
	r->op = (uint16_t)op;
	r->pid = g->pid[g->cur];
}

static void tg_name(struct trace_rec *r, const char *name)
{
	r->name = name;
	r->name_len = (uint32_t)strlen(name);
}

/*
 * Appends r with the next seq and a later time_ns (soon: the kernel's
 * follow-up of the record before, such as a sync write's FSYNC).  A
 * failure sticks in g->err and later appends do nothing.
 */
static void tg_emit(struct tg *g, struct trace_rec *r, bool soon)
{
	uint8_t buf[1024];
	int n;

	if (g->err)
		return;
	r->seq = ++g->seq;
	g->now += soon ? tg_range(g, 1000, 20000) : tg_range(g, 2000, 250000);
	r->time_ns = g->now;
	n = trace_encode(r, buf, sizeof(buf));
	if (n < 0) {
		g->err = n;
		return;
	}
	if (fwrite(buf, 1, (size_t)n, g->out) != (size_t)n ||
	    (r->data_len &&
	     fwrite(r->data, 1, r->data_len, g->out) != r->data_len))
		g->err = -EIO;
}

/* ---- small records: barriers, marks, open/flush/release ---- */

/* FSYNC of inode k by the process that touched it last. */
static void tg_fsync(struct tg *g, size_t k, bool datasync, int result)
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

static void tg_fsyncdir(struct tg *g, uint64_t dir, bool datasync)
{
	struct trace_rec r;

	tg_rec(g, &r, TRACE_OP_FSYNCDIR);
	r.id = dir;
	r.flags = datasync;
	tg_emit(g, &r, false);
	tg_cover_dir(g, dir);
}

static void tg_mark(struct tg *g)
{
	char text[TG_NAME];
	struct trace_rec r;

	snprintf(text, sizeof(text), "commit %u", ++g->nmarks);
	tg_rec(g, &r, TRACE_OP_MARK);
	tg_name(&r, text);
	tg_emit(g, &r, false);
}

static void tg_open(struct tg *g, size_t k, uint32_t flags)
{
	struct trace_rec r;

	tg_rec(g, &r, TRACE_OP_OPEN);
	r.id = g->ino[k].id;
	r.flags = flags | TG_O_LARGEFILE;
	tg_emit(g, &r, false);
}

/* Sometimes an OPEN of k with flags before an op. */
static void tg_maybe_open(struct tg *g, size_t k, uint32_t flags)
{
	if (tg_pct(g, 20))
		tg_open(g, k, flags);
}

/* Sometimes a close of k: FLUSH by its process, RELEASE with pid 0. */
static void tg_maybe_close(struct tg *g, size_t k)
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
static void tg_sync_some(struct tg *g)
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
static void tg_pattern(uint8_t *buf, uint64_t off, uint64_t len, char kind,
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
static void tg_resize(struct tg_inode *i, uint64_t size)
{
	if (size < i->size)
		memset(i->data + size, 0, i->size - size);
	i->size = size;
}

/* ---- writes ---- */

enum tg_wmode {
	TG_W_BUFFERED,
	TG_W_DSYNC,
	TG_W_SYNC,
	TG_W_DIRECT_DSYNC,
	TG_W_DIRECT,
	TG_W_APPEND,
	TG_W_PAGE,
	TG_W_COUNT
};

/* How each kind of write reaches the recorder (see fusefs/faultline-fs.c). */
static const struct {
	uint32_t wflags; /* TRACE_WF_* of its WRITE record */
	uint32_t oflags; /* open flags of its fd */
	int fsync;	 /* flags of the kernel's FSYNC after it, -1: none */
	unsigned weight; /* how often it is drawn */
} tg_wmodes[TG_W_COUNT] = {
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
 * or -errno; -ENOSPC if the model got stuck (TG_MAX_ENTRIES names and
 * no op possible: a draw of 10000 kinds without one state change).
 */
static int tg_run_ops(struct tg *g, unsigned nops)
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
static int tg_base_plan(struct tg *g)
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

/* ---- writing a tree: base/ (with BASE records) or --expect-final ---- */

struct tg_tree {
	int fd;	   /* the directory the tree goes in */
	bool base; /* base/: BASE records, xattrs and mtimes too */
	/* Per inode: where its first name was made, "" before; owned. */
	char (*first)[TG_PATH];
};

/* The base entries' mtime, for utimensat(). */
static void tg_base_times(const struct tg *g, struct timespec ts[2])
{
	ts[0].tv_sec = ts[1].tv_sec = g->base_ns / 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = g->base_ns % 1000000000;
}

/* dir's entries in bytewise name order: indices into idx; returns how many. */
static size_t tg_dir_list(const struct tg *g, size_t dir, size_t *idx)
{
	size_t n = 0, k, j;

	for (k = 0; k < g->nent; k++) {
		if (g->ent[k].dir != dir)
			continue;
		for (j = n++; j > 0 && strcmp(g->ent[idx[j - 1]].name,
					      g->ent[k].name) > 0;
		     j--)
			idx[j] = idx[j - 1];
		idx[j] = k;
	}
	return n;
}

/* Gives open file fd inode i's xattrs (if the file system cannot: a warning).
 */
static int tg_tree_xattrs(struct tg *g, int fd, const struct tg_inode *i)
{
	size_t k;

	for (k = 0; k < TG_XATTRS; k++) {
		if (!i->xa[k].name[0] ||
		    fsetxattr(fd, i->xa[k].name, i->xa[k].value, i->xa[k].len,
			      0) == 0)
			continue;
		if (errno != ENOTSUP)
			return -errno;
		if (!g->xattr_warned)
			fprintf(stderr,
				"tracegen: warning: no xattrs in base/\n");
		g->xattr_warned = true;
	}
	return 0;
}

/* Creates regular file rel holding inode k's bytes and permissions. */
static int tg_tree_file(struct tg *g, struct tg_tree *t, size_t k,
			const char *rel)
{
	const struct tg_inode *i = &g->ino[k];
	int fd, err = 0;
	ssize_t n;

	fd = openat(t->fd, rel,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	n = write(fd, i->data, i->size);
	if (n < 0 || (uint64_t)n != i->size)
		err = n < 0 ? -errno : -EIO;
	if (!err && fchmod(fd, i->mode & 07777) < 0)
		err = -errno;
	if (!err && t->base)
		err = tg_tree_xattrs(g, fd, i);
	if (close(fd) < 0 && !err)
		err = -errno;
	snprintf(t->first[k], TG_PATH, "%s", rel);
	return err;
}

/* Makes entry rel for inode k: a directory, symlink, hard link or file. */
static int tg_tree_make(struct tg *g, struct tg_tree *t, size_t k,
			const char *rel)
{
	const struct tg_inode *i = &g->ino[k];

	if (S_ISDIR(i->mode)) /* every directory mode keeps the owner's rwx */
		return mkdirat(t->fd, rel, i->mode & 07777) < 0 ? -errno : 0;
	if (S_ISLNK(i->mode))
		return symlinkat(i->target, t->fd, rel) < 0 ? -errno : 0;
	if (t->first[k][0])
		return linkat(t->fd, t->first[k], t->fd, rel, 0) < 0 ? -errno
								     : 0;
	return tg_tree_file(g, t, k, rel);
}

/* The BASE record of entry e, giving its inode an id at its first name. */
static void tg_tree_record(struct tg *g, const struct tg_entry *e)
{
	struct tg_inode *i = &g->ino[e->ino];
	struct trace_rec r;

	if (!i->id)
		i->id = g->next_id++;
	tg_rec(g, &r, TRACE_OP_BASE);
	r.pid = 0;
	r.id = i->id;
	r.parent = g->ino[e->dir].id;
	r.mode = i->mode;
	tg_name(&r, e->name);
	tg_emit(g, &r, true);
}

static int tg_tree_walk(struct tg *g, struct tg_tree *t, size_t dir,
			const char *rel);

/* Writes entry e (below dirrel) and all below it; for base/ also its record. */
static int tg_tree_entry(struct tg *g, struct tg_tree *t,
			 const struct tg_entry *e, const char *dirrel)
{
	struct timespec ts[2];
	char rel[TG_PATH];
	int err;

	if (snprintf(rel, sizeof(rel), "%s%s%s", dirrel, *dirrel ? "/" : "",
		     e->name) >= (int)sizeof(rel))
		return -ENAMETOOLONG;
	if (t->base)
		tg_tree_record(g, e);
	err = tg_tree_make(g, t, e->ino, rel);
	if (!err && S_ISDIR(g->ino[e->ino].mode))
		err = tg_tree_walk(g, t, e->ino, rel);
	if (err || !t->base)
		return err;
	/* After the children: making them changed the directory's mtime. */
	tg_base_times(g, ts);
	return utimensat(t->fd, rel, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* Writes directory dir's entries in the recorder's walk order. */
static int tg_tree_walk(struct tg *g, struct tg_tree *t, size_t dir,
			const char *rel)
{
	size_t idx[TG_MAX_ENTRIES], n = tg_dir_list(g, dir, idx), k;
	int err = 0;

	for (k = 0; k < n && !err; k++)
		err = tg_tree_entry(g, t, &g->ent[idx[k]], rel);
	return err;
}

/*
 * Writes the model's tree into the new directory path: base/ (base set:
 * with BASE records, xattrs and mtimes) or the expected final tree.
 * Returns 0 or -errno.
 */
static int tg_tree_write(struct tg *g, const char *path, bool base)
{
	struct tg_tree t = {.base = base, .fd = -1};
	struct timespec ts[2];
	int err;

	t.first = calloc(TG_MAX_INODES, sizeof(*t.first));
	if (!t.first)
		return -ENOMEM;
	if (mkdir(path, 0755) < 0 ||
	    (t.fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err = -errno;
		goto out_free;
	}
	err = tg_tree_walk(g, &t, TG_ROOT, "");
	tg_base_times(g, ts);
	if (!err && base && futimens(t.fd, ts) < 0)
		err = -errno;
	close(t.fd);
out_free:
	free(t.first);
	return err;
}

/* ---- meta.json ---- */

/* Writes OUTDIR/meta.json as `faultline record` would for a complete trace. */
static int tg_write_meta(const struct tg *g, const char *outdir, uint64_t seed)
{
	json_object *m = json_object_new_object();
	char path[4096];
	int err = 0;
	FILE *f;

	if (!m)
		return -ENOMEM;
	json_object_object_add(m, "faultline",
			       json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(m, "format",
			       json_object_new_int(TRACE_FORMAT_VERSION));
	json_object_object_add(m, "status", json_object_new_string("complete"));
	json_object_object_add(m, "records", json_object_new_uint64(g->seq));
	json_object_object_add(m, "start_ns",
			       json_object_new_int64(g->start_ns));
	json_object_object_add(m, "generator",
			       json_object_new_string("tracegen"));
	json_object_object_add(m, "seed", json_object_new_uint64(seed));
	snprintf(path, sizeof(path), "%s/%s", outdir, TRACE_META_FILE);
	f = fopen(path, "wxe");
	if (!f)
		err = -errno;
	else if (fputs(json_object_to_json_string_ext(
			   m, JSON_C_TO_STRING_PRETTY |
				  JSON_C_TO_STRING_NOSLASHESCAPE),
		       f) < 0)
		err = -EIO;
	if (f && fclose(f) != 0 && !err)
		err = -errno;
	json_object_put(m);
	return err;
}

/* ---- the whole trace ---- */

struct tg_opts {
	uint64_t seed;	    /* SEED */
	const char *outdir; /* OUTDIR */
	unsigned ops;	    /* --ops, 0: drawn from 6..16 */
	const char *final;  /* --expect-final DIR, or NULL */
};

/* Seeds g: the stream, the clock, the processes.  No allocation. */
static void tg_init(struct tg *g, uint64_t seed)
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

/* Generates the trace into o->outdir (already made).  0 or -errno. */
static int tg_generate(struct tg *g, const struct tg_opts *o)
{
	char path[4096];
	unsigned nops;
	int err;

	tg_init(g, o->seed);
	nops = o->ops ? o->ops : (unsigned)tg_range(g, 6, 16);
	err = tg_base_plan(g);
	if (!err)
		err = tg_out_open(g, o->outdir);
	snprintf(path, sizeof(path), "%s/%s", o->outdir, TRACE_BASE_DIR);
	if (!err)
		err = tg_tree_write(g, path, true);
	if (!err)
		err = g->err ? g->err : tg_run_ops(g, nops);
	if (g->out && fclose(g->out) != 0 && !err)
		err = -errno;
	g->out = NULL;
	if (!err)
		err = tg_write_meta(g, o->outdir, o->seed);
	if (!err && o->final)
		err = tg_tree_write(g, o->final, false);
	return err;
}

static void tg_free(struct tg *g)
{
	size_t k;

	for (k = 0; k < g->nino; k++)
		free(g->ino[k].data);
	free(g);
}

static void tg_usage(FILE *f)
{
	fprintf(f,
		"usage: tracegen SEED OUTDIR [--ops N] [--expect-final DIR]\n");
}

/* Parses the command line into o.  Returns 0 or -FL_EUSAGE. */
static int tg_parse(int argc, char **argv, struct tg_opts *o)
{
	static const struct option lopts[] = {
	    {"ops", 1, NULL, 'n'},
	    {"expect-final", 1, NULL, 'f'},
	    {"help", 0, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long long v;
	char *end;
	int c;

	*o = (struct tg_opts){0};
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		if (c == 'n' && (v = strtoull(optarg, &end, 10)) >= 1 &&
		    v <= 10000 && !*end)
			o->ops = (unsigned)v;
		else if (c == 'f')
			o->final = optarg;
		else if (c == 'h') {
			tg_usage(stdout);
			exit(FL_EXIT_OK);
		} else
			return -FL_EUSAGE;
	}
	if (argc - optind != 2)
		return -FL_EUSAGE;
	errno = 0;
	o->seed = strtoull(argv[optind], &end, 0);
	if (errno || *end || !*argv[optind])
		return -FL_EUSAGE;
	o->outdir = argv[optind + 1];
	return 0;
}

int main(int argc, char **argv)
{
	struct tg_opts o;
	struct tg *g;
	int err;

	if (tg_parse(argc, argv, &o) < 0) {
		tg_usage(stderr);
		return FL_EXIT_USAGE;
	}
	if (o.final && access(o.final, F_OK) == 0) {
		fprintf(stderr, "tracegen: %s exists\n", o.final);
		return FL_EXIT_USAGE;
	}
	umask(0); /* every mode below is meant exactly */
	if (mkdir(o.outdir, 0755) < 0) {
		err = -errno;
		fprintf(stderr, "tracegen: %s: %s\n", o.outdir, strerror(-err));
		return err == -EEXIST ? FL_EXIT_USAGE : FL_EXIT_ENV;
	}
	g = calloc(1, sizeof(*g));
	err = g ? tg_generate(g, &o) : -ENOMEM;
	if (g)
		tg_free(g);
	if (err) {
		fprintf(stderr, "tracegen: seed %" PRIu64 ": %s\n", o.seed,
			faultline_strerror(err));
		return FL_EXIT_ENV;
	}
	return FL_EXIT_OK;
}
