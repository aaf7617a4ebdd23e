/*
 * mat_i.h - the materializer's private parts, shared by mat.c (the image),
 * mat_data.c (bytes), mat_build.c (one state) and mat_scratch.c (where
 * the files live).
 */
#ifndef FL_MAT_I_H
#define FL_MAT_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fskey.h"
#include "mat.h"

#define MAT_BLOCK FSKEY_BLOCK   /* bytes per content-hash block */
#define MAT_IO (1u << 20)       /* bytes per payload read */
#define MAT_KEY_FILE_MAX (16u << 20) /* mat_key copies changed files up to this size */

/* Attributes that could not be given to some state's files. */
#define MAT_LOST_OWNER 0x1u  /* chown refused (not root) */
#define MAT_LOST_XATTR 0x2u  /* the scratch file system refused an xattr */

/* A file's bytes in memory (mat_key). */
struct mat_mem {
	uint8_t *p;    /* cap bytes, size of them the file's */
	uint64_t size; /* file size */
	uint64_t cap;  /* allocated */
};

struct mat_inode {
	uint64_t id;       /* key */
	uint32_t mode;     /* type and permissions; 0 = never defined */
	uint32_t uid, gid; /* owner */
	int64_t mtime_ns;  /* mtime, ns since the epoch */
	char *target;      /* symlink target, NUL-terminated; owned */
	uint64_t rdev;     /* device number of a device node */
	struct fskey_xattr *xa; /* xattrs sorted by name; owned */
	size_t nxa;        /* entries in xa */
	bool has_img;      /* regular file with WORKDIR/img/<id> */
	bool shared;       /* img/<id> is a hard link of the base file (mat_new_shared):
			      copied before anything writes it */
	uint64_t size;     /* image file size */
	uint64_t *bh;      /* image block hashes, one per MAT_BLOCK */
	size_t nbh;        /* entries in bh */
	uint8_t *dirty;    /* per block: bh[] is stale */
	bool any_dirty;    /* some dirty[] is set */
	struct mat_mem *img_mem; /* image inode: its bytes in memory for mat_key, NULL until
				    needed and after the image file changes; owned */
};

struct mat_entry {
	uint64_t parent;   /* directory id */
	uint64_t child;    /* inode id */
	uint16_t len;      /* strlen(name) */
	char name[256];    /* NUL-terminated */
};

struct mat_ns {
	struct mat_entry *e; /* entries, unordered */
	size_t n, cap;       /* used / allocated */
};

struct mat {
	const struct ops_trace *t; /* the trace (not owned) */
	char *workdir;             /* owned */
	char root[4096];           /* where img/ and states live: workdir or its loop mount */
	bool loop;                 /* root is a file system we mounted (XFS image or tmpfs) */
	bool tmpfs;                /* ... a private tmpfs */
	const char *why_not_mem;   /* "" or "; ..." why a tmpfs scratch was not used */
	int imgfd;                 /* WORKDIR/img */
	bool reflink;              /* FICLONE works in root (probed once) */
	bool share;                /* mat_new_shared: base files linked, not copied */
	unsigned lost;             /* MAT_LOST_* seen while building states */
	void *inodes;              /* tsearch tree of struct mat_inode */
	struct mat_ns ns;          /* image entries */
	char *buf;                 /* MAT_IO bytes of scratch */
	char mech[192];            /* mat_mechanism()'s answer */
};

/* ---- mat.c: inodes, entries, attributes ---- */
struct mat_inode *mat_ino_find(void *const *tree, uint64_t id);
struct mat_inode *mat_ino_get(void **tree, uint64_t id);
void mat_ino_free(void *p);
/* Copies src's attributes and hashes into dst (same id).  0 or -ENOMEM. */
int mat_ino_copy(struct mat_inode *dst, const struct mat_inode *src);
int mat_ns_copy(struct mat_ns *dst, const struct mat_ns *src);
/* Applies a namespace op to entries. */
int mat_ns_apply(struct mat_ns *ns, const struct ops_trace *t, const struct ops_op *op);
/* Applies an attribute op (OPS_F_ATTR) to inode i. */
int mat_attr_apply(struct mat *m, struct mat_inode *i, const struct ops_op *op);
/* Opens img/<id>; opened for writing, a shared one is copied first. */
int mat_img_open(struct mat *m, uint64_t id, int flags);
/* Replaces the file at name (below dirfd) by a copy of itself, so that
 * writing it leaves the inode it shared alone.  0 or -errno. */
int mat_unshare(struct mat *m, int dirfd, const char *name);

/* ---- mat_data.c: bytes ---- */
/* Applies bytes op (write, truncate, fallocate), whole or as choice c says, to fd of inode i. */
int mat_data_apply(struct mat *m, int fd, struct mat_inode *i, const struct ops_op *op,
		   const struct state *s, const struct state_choice *c, uint64_t key);
/* Marks [start, end) of i stale in its block hashes; size is the file's new size. */
int mat_blocks_dirty(struct mat_inode *i, uint64_t start, uint64_t end, uint64_t size);
/* Recomputes the stale block hashes of i from fd. */
int mat_blocks_rehash(struct mat *m, struct mat_inode *i, int fd);
/* The same for a file in memory. */
int mat_blocks_rehash_mem(struct mat *m, struct mat_inode *i, struct mat_mem *mem);
void mat_mem_free(struct mat_mem *mem);
int mat_data_apply_mem(struct mat *m, struct mat_mem *mem, struct mat_inode *i,
		       const struct ops_op *op, const struct state *s,
		       const struct state_choice *c, uint64_t key);
/* Copies src (size bytes) into the new file dst, sharing blocks if possible. */
int mat_clone_or_copy(struct mat *m, int src, int dst, uint64_t size);

/* ---- mat_scratch.c: where image and states live ---- */
/* Picks m->root (workdir or a loop-mounted XFS) and probes reflink. */
int mat_scratch(struct mat *m, enum mat_scratch how, uint64_t mem_budget, char *err,
		size_t errlen);
/* Unmounts and removes what mat_scratch made. */
void mat_scratch_free(struct mat *m);

#endif
