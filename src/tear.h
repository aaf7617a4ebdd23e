/*
 * tear.h - the tear variants of one write: how a write may reach the disk
 * in part.
 *
 * Every write has ONE family of tear variants, fixed by the write (offset,
 * length, the file's size before it in recorded order) and the device
 * options (--sector, --block, --atomic, --tear), never by the model: a
 * model only filters the family (model_tear_allows), so the variants one
 * model allows are always a subset of a weaker model's.  The explorer and
 * the reference enumerator both take their variants from here.
 *
 * THE FAMILY of a write touching sectors first..last (nop of them) of its
 * range (the write's byte range widened to whole sectors, or to whole
 * --block blocks; see state.h for how a pattern is applied), in order,
 * duplicates removed:
 *   1. an append (it ends past the old size): all bytes, the new size lost
 *   then, unless the write is --atomic (aligned, within one atomic unit):
 *   2. with "old" allowed and nop >= 2: the first k touched sectors new,
 *      the rest old, for k = 1, nop/2 and nop - 1 (a write cut short);
 *   3. with "old" allowed and nop >= 2: the first nop/2 touched sectors old,
 *      the rest new (the end reached the disk first);
 *   4. for zeros, then garbage, where allowed: the first touched sector
 *      damaged; the last touched sector damaged;
 *   5. with zeros allowed: every touched sector zeros;
 *   6. an append that reaches sectors starting at or past the old size:
 *      those sectors old, the size kept (the size without the bytes: the
 *      file reads zeros there);
 *   7. with --block, garbage allowed and clean sectors in the block range:
 *      every clean sector garbage, the written ones new (a copy-on-write
 *      file system rewrote the whole block).
 * A variant with no damaged sector and its size kept is the whole write,
 * and not a tear.
 */
#ifndef FL_TEAR_H
#define FL_TEAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"

/* The device options tears depend on. */
struct tear_geom {
	uint32_t sector; /* --sector, bytes */
	uint32_t block;  /* --block, bytes, 0 for none */
	uint32_t atomic; /* --atomic, bytes, 0 for none */
	char kinds[4];   /* damaged kinds allowed: subset of "ozg", NUL-terminated */
};

/* The sectors a write's patterns cover. */
struct tear_range {
	uint64_t start; /* first byte of the range */
	uint64_t nsect; /* sectors in the range */
	uint64_t first; /* first sector the write touches */
	uint64_t last;  /* last sector the write touches */
};

struct tear_variant {
	char *rle;        /* sector kinds, run-length coded (state.h); NULL = all new; owned */
	bool size_lost;   /* the bytes persist, the new size does not */
	uint64_t dmg_end; /* end offset of the last damaged sector, 0 if none */
};

struct tear_set {
	struct tear_variant *v; /* the variants, in family order; owned */
	size_t n;               /* entries in v */
};

/* The range of a write of len bytes at off (len > 0). */
void tear_range(const struct tear_geom *g, uint64_t off, uint64_t len, struct tear_range *r);

/*
 * The family of write op (see above) into *out (emptied first).  Returns
 * 0, or -ENOMEM (out is then empty).  An op that is not a write with
 * bytes has no variants.
 */
int tear_family(const struct tear_geom *g, const struct ops_op *op, struct tear_set *out);

void tear_set_free(struct tear_set *s);

#endif
