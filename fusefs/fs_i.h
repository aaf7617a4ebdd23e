/*
 * fs_i.h - faultline-fs private types: the file system's state, its inode
 * table and the handles it gives the kernel.  Only fusefs/ includes this.
 *
 * Locks, always taken in this order (a thread may skip any of them):
 *   fs->ns_lock     rwlock: namespace ops hold it exclusively across their
 *                   syscall and record; lookup holds it shared
 *   node->lock      mutex: data ops on one file, across syscall and record
 *   fs->tab_lock    mutex: the inode table (fs->map), lookup counts
 *   fs->trace_lock  rwlock: rec_append holds it shared, a fold (fs_fold.c)
 *                   exclusively while it moves the trace to a new file
 *   (trace writer)  trace_append()'s own lock, innermost
 */
#ifndef FL_FS_I_H
#define FL_FS_I_H

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "trace.h"

/* The control file: a virtual regular file at the root of the mount. */
#define FS_CTL_NAME ".faultline-ctl"
/* st_ino shown for it: far above any inode number a real file system hands out. */
#define FS_CTL_INO ((uint64_t)INT64_MAX - 1)
/* fi->fh of an open control file: decodes to fd -1, never a real fd. */
#define FS_CTL_FH ((uint64_t)UINT32_MAX)

/* Entry and attribute cache lifetime, in seconds (passthrough_ll's default). */
#define FS_TIMEOUT 1.0

/*
 * A backing inode the kernel holds lookups on; its address is the FUSE
 * node id.  Lives from the lookup that creates it to the forget that
 * brings nlookup to 0.  The kernel sends no request for a node after
 * forgetting it, so no request can be using a node being freed.
 */
struct fs_node {
	pthread_mutex_t lock; /* held across a data op's syscall and its record */
	int fd;               /* O_PATH fd of the backing inode, pins it; -1 for the control file */
	uint64_t id;          /* faultline file id; set at creation, then constant */
	uint64_t nlookup;     /* kernel lookup count; under fs->tab_lock */
	uint64_t dev;         /* backing st_dev: with ino, the key in fs->map */
	uint64_t ino;         /* backing st_ino */
};

/*
 * One slot of fs->map: (dev, ino) -> faultline id, plus the live node
 * when the kernel knows the inode.  Slots are never removed: an entry of
 * the base keeps its id while no node exists for it, and a create-type
 * op overwrites the id of an inode number the backing fs has reused.
 */
struct fs_slot {
	uint64_t dev;         /* key: backing st_dev */
	uint64_t ino;         /* key: backing st_ino */
	uint64_t id;          /* faultline id; 0 marks an empty slot */
	struct fs_node *node; /* live node, or NULL while the kernel holds no lookup */
};

/* Open-addressing hash table with linear probing; under fs->tab_lock. */
struct fs_map {
	struct fs_slot *slots; /* cap slots */
	size_t cap;            /* a power of two */
	size_t used;           /* slots with id != 0; kept below 3/4 of cap */
};

/* An open directory: the fi->fh that opendir hands out. */
struct fs_dir {
	DIR *dp;              /* backing directory stream */
	struct dirent *next;  /* entry read from dp but not yet given to the kernel, or NULL */
	off_t off;            /* offset the kernel will ask for next (d_off of the last entry given) */
};

/* A crash trigger of faultline mount (fs_trigger.c). */
enum fs_trig_kind { FS_TRIG_NONE, FS_TRIG_FSYNC, FS_TRIG_WRITES };

struct fs_trigger {
	pthread_mutex_t lock;    /* guards the fields below but fd */
	int fd;                  /* --trigger-fd, or -1: never fires */
	enum fs_trig_kind kind;  /* armed, or FS_TRIG_NONE; atomic (read unlocked as a hint) */
	bool fired;              /* fired since last armed: a request is held */
	uint64_t left;           /* FS_TRIG_WRITES: matching writes until it fires */
	char glob[PATH_MAX];     /* which files */
};

/* The whole file system; fuse_req_userdata() of every request. */
struct fs {
	struct trace_writer *trace; /* the records file; thread-safe; under trace_lock */
	pthread_rwlock_t trace_lock;/* which writer fs->trace is (fs_fold.c) */
	char trace_path[PATH_MAX];  /* its file; under trace_lock */
	pthread_rwlock_t ns_lock;   /* see the lock order above */
	pthread_mutex_t tab_lock;   /* guards map and every node's nlookup */
	struct fs_map map;          /* the inode table; under tab_lock */
	uint64_t next_id;           /* next fresh file id; atomic */
	struct fs_node root;        /* FUSE_ROOT_ID, file id 1; never freed, not in map's nodes */
	struct fs_node ctl;         /* the control file; never freed, not in map */
	struct stat ctl_attr;       /* what stat shows for the control file */
	int rec_err;                /* first failed append (-errno), then no more; atomic */
	bool caps_seen;             /* a file may carry security.capability; atomic, never reset */
	bool real_fsync;            /* perform fsync/fdatasync/fsyncdir and O_SYNC/O_DSYNC */
	bool give;                  /* running as root: chown new entries to their creator */
	char backing[PATH_MAX];     /* the backing directory's real path */
	struct fuse_session *se;    /* the session, once mounted */
	struct fs_trigger trig;     /* faultline mount's crash trigger */
	struct fs_calls *calls;     /* --calls-log (fs_calls.c), or NULL */
};

/*
 * fi->fh of an open regular file: the backing fd in the low 32 bits,
 * the TRACE_WF_* flags its open flags imply in the high 32 bits, so the
 * write path needs neither an allocation nor a lookup.
 */
static inline uint64_t fh_make(int fd, uint32_t wflags)
{
	return (uint64_t)wflags << 32 | (uint32_t)fd;
}

static inline int fh_fd(uint64_t fh)
{
	return (int)(uint32_t)fh;
}

static inline uint32_t fh_wflags(uint64_t fh)
{
	return (uint32_t)(fh >> 32);
}

/* A fresh file id. */
static inline uint64_t fs_new_id(struct fs *fs)
{
	return __atomic_fetch_add(&fs->next_id, 1, __ATOMIC_RELAXED);
}

struct fuse_entry_param;
struct fuse_req;

/* ---- recording (faultline-fs.c) ---- */

/* Starts a record of op for req (req NULL: no process, as for BASE). */
void rec_start(struct trace_rec *r, unsigned op, struct fuse_req *req);
/* Sets r's name to the NUL-terminated name. */
void rec_name(struct trace_rec *r, const char *name);
/* Appends r with result res; see faultline-fs.c for what it promises. */
int rec_append(struct fs *fs, struct trace_rec *r, int res);

/* ---- the control file (fs_ctl.c) ---- */

struct fuse_entry_param;
struct fuse_file_info;
/* The control file's entry, for lookup and create. */
void fs_ctl_entry(struct fs *fs, struct fuse_entry_param *e);
/* Opens the control file: direct I/O, so every write reaches fs_ctl_write. */
void fs_ctl_open(struct fuse_file_info *fi);
/* Records what was written to it, and answers the write. */
void fs_ctl_write(struct fs *fs, struct fuse_req *req, const char *buf, size_t size);

/* ---- fs_calls.c: record --calls, the calls joined at their requests ---- */

/* Starts joining the workload's calls, logged to log (created, emptied).
 * 0 or -errno. */
int fs_calls_open(struct fs *fs, const char *log);
/* Writes out what is logged, and stops. */
void fs_calls_close(struct fs *fs);
/* Record r is about to be appended: the call its process is in, logged,
 * and the mapped pages captured before it (nothing for a record no call
 * joins, or one the tracer asked for: a captured page, a SYNCFS). */
void fs_calls_at(struct fs *fs, const struct trace_rec *r);
/* A control line of the tracer (calls.h: CALLS_CTL_PERF, CALLS_CTL_MAP and
 * after), from req: 1 applied, 0 the line is not one, -EINVAL malformed,
 * -EPERM from a user other than root and the mount's. */
int fs_calls_ctl(struct fs *fs, struct fuse_req *req, const char *line, size_t n);

/* ---- fs_fold.c: faultline mount moving the trace to a folded one ---- */

/*
 * A control line "\001fold COUNT LAST PATH" moves recording to PATH (see
 * fs_fold.c).  0 for another line, 1 when done, or -errno (recording
 * then goes on where it was).
 */
int fs_fold_ctl(struct fs *fs, const char *line, size_t n);

/* ---- fs_trigger.c: faultline mount's crash triggers ---- */
/* A control line "\001arm ..." or "\001disarm" (n bytes, no newline):
 * 1 applied; 0 the line is not one; -EALREADY a disarm came after the
 * trigger fired (its request is held: the crash must go on); -EINVAL a
 * malformed arm (nothing armed). */
int fs_trig_ctl(struct fs *fs, const char *line, size_t n);
/*
 * A control line "\001crash [HOW [SEED]]": tells faultline mount to crash
 * now ("C HOW SEED" on --trigger-fd), then holds req until the session
 * ends and fails it (EIO).  0 for another line, 1 once req is answered so,
 * or -errno (EINVAL, EPERM, EOPNOTSUPP without faultline mount).
 */
int fs_trig_crash(struct fs *fs, struct fuse_req *req, const char *line, size_t n);
/* At an FSYNC's start on backing fd: true when it fired the trigger (req
 * is then held, and answered, when the session ends). */
bool fs_trig_fsync(struct fs *fs, struct fuse_req *req, int fd);
/* After a WRITE on backing fd was recorded, before it is answered: as above. */
bool fs_trig_write(struct fs *fs, struct fuse_req *req, int fd);

/* ---- the inode table (fs_map.c) ---- */

/* Doubles the table (or makes its first 1024 slots).  Returns 0 or -ENOMEM. */
int map_grow(struct fs_map *m);
/* The slot of (dev, ino), made if new; its id set to want when want != 0.  Caller holds fs->tab_lock.  NULL without memory. */
struct fs_slot *fs_slot(struct fs *fs, uint64_t dev, uint64_t ino, uint64_t want);
/* File id of the inode st describes, or 0 if the table does not know it. */
uint64_t fs_id_of(struct fs *fs, const struct stat *st);
/* File id of entry name in directory dirfd, 0 if there is none. */
uint64_t fs_entry_id(struct fs *fs, int dirfd, const char *name);
/* Takes one kernel lookup on st's node (fd: its O_PATH fd, owned from now on); *out the node.  0 or -ENOMEM. */
int fs_node_ref(struct fs *fs, int fd, const struct stat *st, uint64_t want,
		struct fs_node **out);
/* Drops count kernel lookups; the last one frees the node (its id stays in the map). */
void fs_node_unref(struct fs *fs, struct fs_node *n, uint64_t count);
/* The entry O_PATH fd refers to (fd owned from now on), *e filled for the reply.  0 or -errno. */
int fs_entry_of_fd(struct fs *fs, int fd, uint64_t want, struct fuse_entry_param *e);
/* Looks name up in directory dir: fs_entry_of_fd() of a plain lookup. */
int fs_do_lookup(struct fs *fs, struct fs_node *dir, const char *name,
		 struct fuse_entry_param *e);

/* ---- startup (fs_base.c) ---- */

/* Prints "faultline-fs: " and the one-line reason setup failed (with err's text if err); returns err. */
int fs_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Walks the backing tree under dfd (a directory with id parent, at path), giving ids and BASE records.  0 or -errno (reason printed). */
int base_walk(struct fs *fs, int dfd, uint64_t parent, const char *path);

#endif
