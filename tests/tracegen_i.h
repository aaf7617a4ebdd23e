/*
 * tracegen_i.h - private to tests/tracegen*.c: the in-memory model the
 * generator simulates, and what its four files give one another.
 *
 *   tracegen.c        the command line; where records go (a synthetic
 *                     trace's records file); trees on disk (base/,
 *                     --setup, --expect-final); meta.json
 *   tracegen_model.c  randomness, inodes and entries, in-flight ops and
 *                     the barrier schedule, record stamping, the base plan
 *   tracegen_ops.c    the ops: what each one picks, records and changes
 *   tracegen_run.c    --run: each record performed as real syscalls
 *
 * Every record the model makes goes through tg_emit(), which stamps it
 * (seq, time_ns: both from the one random stream) and hands it to g->sink
 * BEFORE the model applies the op: when a sink sees a record, the model
 * still describes the tree the op acts on.  So one generator serves every
 * mode, and the same seed makes the same choices in each.
 */
#ifndef TRACEGEN_I_H
#define TRACEGEN_I_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "trace.h"

#define TG_MAX_INODES 128	/* inodes the model holds, root included */
#define TG_MAX_ENTRIES 256	/* directory entries */
#define TG_MAX_NSOPS 256	/* namespace ops tracked for fsyncdir */
#define TG_NAME 32		/* longest name, xattr name or value + NUL */
#define TG_XATTRS 4		/* xattrs per inode */
#define TG_PATH 1024		/* longest path below OUTDIR/base, DIR or . */
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

/*
 * tracegen's own error, far above errno values and FL_E* codes: --run saw
 * a syscall disagree with the model (already reported on stderr).
 */
#define TG_EDIVERGED 20000

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

struct tg;

/*
 * Where records go: called by tg_emit() with each stamped record, the
 * model not yet changed by it.  soon: a follow-up the kernel or the
 * recorder makes by itself (a sync write's FSYNC, a RELEASE after its
 * FLUSH, BASE records).  Returns 0, or -errno / -TG_EDIVERGED, which
 * sticks in g->err and stops the generator.
 */
typedef int tg_sink_fn(struct tg *g, const struct trace_rec *r, bool soon);

struct tg {
	uint64_t rng;			    /* splitmix64 state */
	struct tg_inode ino[TG_MAX_INODES]; /* [TG_ROOT] is the root */
	size_t nino;
	struct tg_entry ent[TG_MAX_ENTRIES]; /* unordered */
	size_t nent;
	struct tg_nsop ns[TG_MAX_NSOPS]; /* namespace ops, oldest first */
	size_t nns;
	uint64_t next_id; /* id the next new inode gets */
	tg_sink_fn *sink; /* where records go; NULL: nowhere */
	void *sink_arg;	  /* the sink's state (records FILE, run state) */
	uint64_t seq;	  /* seq of the last record made */
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
	bool xattr_warned;     /* said once that a tree cannot hold xattrs */
	bool uring;            /* --uring: some writes and their fdatasync come from
				  io_uring workers, submitted together (calls log) */
	FILE *calls;           /* --uring: TRACE/calls being written, else NULL */
	bool early;            /* --early: a mapped page's write-back may come after
				  a capture of it (TRACE_WF_EARLY); no real run makes those */
	int err;	       /* first error, sticky: stops the generator */
	uint8_t wbuf[TG_WBUF]; /* payload of the write being generated */
};

/* ---- writes: shared by the generator and --run ---- */

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
struct tg_wmode_info {
	uint32_t wflags; /* TRACE_WF_* of its WRITE record */
	uint32_t oflags; /* open flags of its fd */
	int fsync;	 /* flags of the kernel's FSYNC after it, -1: none */
	unsigned weight; /* how often it is drawn */
};

extern const struct tg_wmode_info tg_wmodes[TG_W_COUNT];

/* ---- tracegen_model.c ---- */

/* Seeds g: the stream, the clock, the processes.  No allocation. */
void tg_init(struct tg *g, uint64_t seed);
/* Frees g and the file bytes it owns. */
void tg_free(struct tg *g);
/* Plans the base (root, d1, d2, files...) in the model.  0 or -errno. */
int tg_base_plan(struct tg *g);

uint64_t tg_rnd(struct tg *g, uint64_t n);
uint64_t tg_range(struct tg *g, uint64_t lo, uint64_t hi);
bool tg_pct(struct tg *g, unsigned pct);
long tg_pick(struct tg *g, const long *cand, size_t n);

long tg_inode_new(struct tg *g, uint32_t mode);
long tg_inode_by_id(const struct tg *g, uint64_t id);
long tg_entry_find(const struct tg *g, size_t dir, const char *name);
void tg_entry_add(struct tg *g, size_t dir, size_t ino, const char *name);
void tg_entry_del(struct tg *g, size_t k);
bool tg_dir_empty(const struct tg *g, size_t dir);
bool tg_is_within(const struct tg *g, size_t dir, size_t top);
void tg_fresh_name(struct tg *g, size_t dir, const char *prefix,
		   char name[TG_NAME]);
bool tg_room(const struct tg *g);
void tg_touch(struct tg *g, size_t k);
int tg_path(const struct tg *g, size_t k, char path[TG_PATH]);

bool tg_forever_ok(const struct tg *g);
long tg_pick_file(struct tg *g, bool data);
long tg_pick_dir(struct tg *g, bool with_root);

/* What tg_pick_entry() looks for. */
enum tg_want { TG_E_NONDIR, TG_E_DIR, TG_E_EMPTYDIR, TG_E_FULLDIR };

long tg_pick_entry(struct tg *g, enum tg_want want, long not_ino);
long tg_pick_meta_target(struct tg *g);

void tg_note_data(struct tg *g, struct tg_inode *i);
void tg_note_ns(struct tg *g, uint64_t d1, uint64_t d2);
unsigned tg_dir_pending(const struct tg *g, uint64_t dir);

void tg_rec(struct tg *g, struct trace_rec *r, unsigned op);
void tg_name(struct trace_rec *r, const char *name);
void tg_emit(struct tg *g, struct trace_rec *r, bool soon);

void tg_fsync(struct tg *g, size_t k, bool datasync, int result);
void tg_fsyncdir(struct tg *g, uint64_t dir, bool datasync);
void tg_mark(struct tg *g);
void tg_open(struct tg *g, size_t k, uint32_t flags);
void tg_maybe_open(struct tg *g, size_t k, uint32_t flags);
void tg_maybe_close(struct tg *g, size_t k);
void tg_sync_some(struct tg *g);

void tg_pattern(uint8_t *buf, uint64_t off, uint64_t len, char kind,
		unsigned tag);

/* ---- tracegen_ops.c ---- */

/*
 * Generates nops state-changing ops and what surrounds them.  Returns 0
 * or -errno (g->err); -ENOSPC if the model got stuck.
 */
int tg_run_ops(struct tg *g, unsigned nops);

/* ---- tracegen_run.c ---- */

struct tg_run;

/*
 * The --run sink's state for seed, acting in the current directory.
 * Returns 0 and *out (freed by tg_run_end()), or -ENOMEM.
 */
int tg_run_begin(uint64_t seed, struct tg_run **out);
/* The --run sink: performs r as real syscalls (see tracegen_run.c). */
tg_sink_fn tg_run_sink;
/*
 * Completes what is left (a pending mmap store), closes every descriptor
 * and frees x.  Returns 0, or -TG_EDIVERGED (reported) if a call failed.
 */
int tg_run_end(struct tg_run *x);

#endif
