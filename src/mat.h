/*
 * mat.h - materializing crash states as real directories.
 *
 * The materializer keeps an IMAGE: the base plus the ops every state
 * being generated shares (the explorer feeds them in with
 * mat_image_apply, in recorded order).  Regular files of the image live
 * as one file per inode in WORKDIR/img; directories, names, symlinks and
 * modes live in memory.  A state is built by cloning the image's files
 * into a fresh directory (FICLONE where the file system can share blocks,
 * else an in-kernel copy) and applying the state's own ops on top, so its
 * cost grows with the bytes the state changes, plus a copy of each file
 * where cloning is impossible.  mat_mechanism() says which was used.
 *
 * Each state gets a content key: a hash of its tree (names, types, modes,
 * symlink targets, sizes and bytes), computed from per-64-KiB block hashes
 * so a state that changes one page of a large file rehashes one block.
 */
#ifndef FL_MAT_H
#define FL_MAT_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "state.h"

struct mat;

/* Where image and states live. */
enum mat_scratch {
	MAT_SCRATCH_AUTO, /* as root: a private tmpfs when 4 x the trace's bytes fit
			     the memory budget; else a loop-mounted XFS when workdir
			     cannot clone and the trace is large (>= 64 MiB); else
			     workdir */
	MAT_SCRATCH_DIR,  /* workdir, whatever it can do */
	MAT_SCRATCH_XFS,  /* a loop-mounted XFS with reflink (root only) */
	MAT_SCRATCH_MEM,  /* a private tmpfs of the memory budget's size (root only) */
};

/* The memory budget mat_new() gives a tmpfs scratch (bytes). */
#define MAT_MEM_BUDGET_DEFAULT (UINT64_C(1) << 30)

/*
 * Makes a materializer for trace t in workdir (created if missing; must
 * be empty or ours).  Copies the base snapshot into the image.  Returns 0
 * and *out, or a negative code with a one-line reason in err.
 */
int mat_new(const struct ops_trace *t, const char *workdir, enum mat_scratch how,
	    struct mat **out, char *err, size_t errlen);

/* mat_new() with a memory budget for a tmpfs scratch other than the default. */
int mat_new_budget(const struct ops_trace *t, const char *workdir, enum mat_scratch how,
		   uint64_t mem_budget, struct mat **out, char *err, size_t errlen);

/*
 * As mat_new in workdir itself (MAT_SCRATCH_DIR), but the image's files
 * are hard links of the base's, and a state's files the state leaves as
 * in the base are hard links of them too: building a state costs the
 * files it changes, not the base.  Nothing is ever written through a
 * link: an image file is copied before its first write, a state's file
 * before a write, a second name or attributes other than the base's.
 * The base's files must stay as they are while any of these links live
 * (a trace's base never changes).  workdir must be on the base's file
 * system, or the files are copied as by mat_new.
 */
int mat_new_shared(const struct ops_trace *t, const char *workdir, struct mat **out, char *err,
		   size_t errlen);

/* Directory to build states in (on the same file system as the image). */
const char *mat_root(const struct mat *m);

/* How state files are made, and where: "reflink", "reflink (loop xfs)",
 * "copy (tmpfs)" or "copy", with the reason a memory scratch was not
 * taken when it was asked for or could have been. */
const char *mat_mechanism(const struct mat *m);

/* Takes the image back to the base, as mat_new made it (for a sweep that
 * starts over).  No state may be in use.  0, or negative with err set. */
int mat_image_reset(struct mat *m, char *err, size_t errlen);

/* Applies op idx of the trace to the image, whole.  0 or negative. */
int mat_image_apply(struct mat *m, size_t idx);

/*
 * Builds state s in dir (which must not exist): the image, plus the ops
 * extra[0..n) (indices into the trace, ascending) that s does not drop,
 * torn as s says.  Stores the state's content key in *key (key NULL:
 * none is computed, and no file is read for it).  Returns 0 or a
 * negative code (err says why).
 */
int mat_build(struct mat *m, const struct state *s, const size_t *extra,
	      size_t n, const char *dir, uint64_t *key, char *err, size_t errlen);

/*
 * The content key mat_build would store for the same arguments, computed
 * in memory with no directory built.  Returns 0, -EFBIG when the state
 * changes a file too large to copy per state (MAT_KEY_FILE_MAX: build it
 * instead), or another negative code (err says why).
 */
int mat_key(struct mat *m, const struct state *s, const size_t *extra, size_t n,
	    uint64_t *key, char *err, size_t errlen);

/*
 * Builds state s in dir from the image plus every state-changing op up to
 * s's crash point: with an image that is the bare base, exactly what
 * `faultline replay` of s's id builds.  Returns as mat_build does.
 */
int mat_build_all(struct mat *m, const struct state *s, const char *dir, uint64_t *key,
		  char *err, size_t errlen);

/*
 * Builds state s of t in into, once, with work as scratch: the files the
 * state leaves as t's base had them are hard links of the base's
 * (mat_new_shared), so it costs the files the state changed; should that
 * fail, the plain way.  0, or negative with err set (into then removed).
 */
int mat_build_shared(const struct ops_trace *t, const struct state *s, const char *work,
		     const char *into, char *err, size_t errlen);

/* Removes a state directory built by mat_build (or anything below dir). */
int mat_remove(const char *dir);

/* Copies the tree src to dst (cp -a), e.g. out of a tmpfs scratch.  0 or -EIO. */
int mat_copy_tree(const char *src, const char *dst);

/* Frees m and removes its work directory's image. */
void mat_free(struct mat *m);

#endif
