/*
 * fskey.h - the content key of a crash state: one hash of a whole tree.
 *
 * Two states with the same key hold the same names, types, modes, owners,
 * mtimes, xattrs, symlink targets, hard links and bytes.  The key is
 * defined once, here, over a canonical walk of the tree, and computed by
 * three producers that must agree: the materializer (from its image and
 * the state's own ops, mat.c), the reference enumerator (from an
 * in-memory tree, reference.c), and fskey_dir() (from a real directory,
 * for tests and `faultline replay`).
 *
 * THE WALK: breadth first from the root ("" is the root's path); each
 * directory's entries in bytewise name order; a directory reached a
 * second time is skipped; a regular file reached a second time is a hard
 * link to the first path.  For each node, in that order, the hash takes:
 * its path and a NUL; mode (type and permission bits), uid, gid and mtime
 * (ns); its xattrs sorted by name (name, NUL, length, value); then a
 * symlink's target and a NUL, or a hard link's first path and a NUL, or a
 * regular file's size and the XXH3 of each FSKEY_BLOCK bytes.  Not in the
 * key: atime, ctime, inode numbers, and the xattr security.selinux (a
 * label the host may add by itself).
 */
#ifndef FL_FSKEY_H
#define FL_FSKEY_H

#include <stddef.h>
#include <stdint.h>

#define FSKEY_BLOCK (64u * 1024) /* bytes per content-hash block */

struct fskey_xattr {
	char *name;    /* NUL-terminated; owned by whoever built the array */
	void *value;   /* value bytes */
	size_t len;    /* value length */
};

struct fskey_node {
	const char *rel;                /* path below the state root, "" for the root */
	uint32_t mode;                  /* S_IFMT and permission bits */
	uint32_t uid, gid;              /* owner */
	int64_t mtime_ns;               /* ns since the epoch */
	const struct fskey_xattr *xa;   /* sorted by name (fskey_xattr_cmp) */
	size_t nxa;                     /* entries in xa */
	const char *target;             /* symlink: its target */
	const char *link_to;            /* regular file reached before: the first path */
	uint64_t size;                  /* regular file: bytes */
	const uint64_t *bh;             /* regular file: fskey_block() of each block */
	size_t nbh;                     /* entries in bh: ceil(size / FSKEY_BLOCK) */
};

struct fskey {
	void *st; /* XXH3 state (allocated by fskey_init) */
};

/* Starts a key.  0 or -ENOMEM. */
int fskey_init(struct fskey *k);

/* Adds the next node of the walk. */
void fskey_add(struct fskey *k, const struct fskey_node *n);

/* The key of everything added; frees k's state. */
uint64_t fskey_final(struct fskey *k);

/* Frees k's state without a result (error paths). */
void fskey_abort(struct fskey *k);

/* Hash of one block of file bytes. */
uint64_t fskey_block(const void *buf, size_t len);

/*
 * Sets xattr name (nlen bytes) to value v (len bytes) in the sorted array
 * *xa of *n entries, replacing or inserting.  0 or -ENOMEM.
 */
int fskey_xattr_put(struct fskey_xattr **xa, size_t *n, const char *name, size_t nlen,
		    const void *v, size_t len);

/* Removes xattr name (nlen bytes) from the array, if it is there. */
void fskey_xattr_del(struct fskey_xattr *xa, size_t *n, const char *name, size_t nlen);

/* qsort comparator for struct fskey_xattr by name. */
int fskey_xattr_cmp(const void *a, const void *b);

/* True for an xattr the key leaves out. */
int fskey_xattr_ignored(const char *name);

/*
 * The dedup key of a state: its content key and the number of marks the
 * workload had acknowledged at its crash point (same bytes, different
 * promises: two questions for a checker).
 */
uint64_t fskey_state(uint64_t content, uint64_t nmarks);

/*
 * Reads the xattrs of fd (any fd, O_PATH ones too, symlinks included)
 * into a new array sorted by name, leaving out ignored ones.  Returns 0
 * or -errno; free with fskey_free_xattrs.
 */
int fskey_read_xattrs(int fd, struct fskey_xattr **out, size_t *n);
void fskey_free_xattrs(struct fskey_xattr *x, size_t n);

/*
 * The content key of the tree at dir, read from disk.  Returns 0, or a
 * negative errno with a one-line reason in err.
 */
int fskey_dir(const char *dir, uint64_t *key, char *err, size_t errlen);

#endif
