/*
 * state.h - a crash state: what it is made of, and its id.
 *
 * A state is the base, plus every state-changing op with seq <= crash,
 * in recorded order, except the ops it drops, with the ops it tears torn.
 * That description does not depend on the model that produced it, so an
 * id alone rebuilds the state (faultline replay TRACE ID).
 *
 * ID GRAMMAR (shell-safe: letters, digits, '-', ':'):
 *   id     := "c" SEQ [ "s" SECTOR ] [ "b" BLOCK ] { "-" choice }
 *   choice := "d" SEQ                      the op is dropped
 *           | "d" SEQ ":" SEQ              every op from the first to the last
 *                                          is dropped (written for a run of
 *                                          consecutive seqs: d5:8 = d5-d6-d7-d8)
 *           | "t" SEQ ":" [ RLE ] [ "S" ]  the write is torn
 *   RLE    := { COUNT KIND }  KIND: n new, o old, z zeros, g garbage
 * The RLE covers, in order, the sectors of the write's byte range; with a
 * block size, the range is widened to whole blocks, so clean sectors of
 * those blocks may be damaged too (a 'n' there leaves them as they were).
 * In a sector the write touches, 'z' and 'g' replace the bytes the write
 * covers; the sector's other bytes keep what they held.
 * An empty RLE keeps every sector new; "S" loses the size the write would
 * have given the file (its bytes past the old end vanish).
 * Example: c812-d790-t801:4n4o   crash during 812, op 790 lost, op 801 torn.
 * Choices are sorted by seq; garbage bytes derive from the id itself.
 * state_id writes each run of two or more dropped ops with consecutive
 * seqs as one range, so that a crash that loses thousands of writes still
 * has an id a command line takes; both forms parse to the same state.
 */
#ifndef FL_STATE_H
#define FL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_SECTOR_DEFAULT 512u
#define STATE_ID_MAX 4096 /* ids in fixed buffers (tests); state_id_new has no limit */

enum state_how {
	STATE_DROP = 1, /* the op never reached the disk */
	STATE_TEAR = 2, /* a write reached it partly (see rle / size_lost) */
};

struct state_choice {
	uint64_t seq;    /* the op */
	uint8_t how;     /* enum state_how */
	bool size_lost;  /* TEAR: the size update was lost */
	char *rle;       /* TEAR: sector kinds, run-length coded, or NULL (all new); owned */
};

struct state {
	uint64_t crash;   /* seq of the record in progress at the crash (those before it completed) */
	uint32_t sector;  /* sector size in bytes */
	uint32_t block;   /* block size for collateral damage, 0 for none */
	struct state_choice *ch; /* sorted by seq; owned */
	size_t n;         /* entries in ch */
	size_t cap;       /* allocated entries of ch */
};

/* Adds a choice (rle is copied).  Keeps ch sorted.  0 or -ENOMEM. */
int state_add(struct state *s, uint64_t seq, uint8_t how, const char *rle,
	      bool size_lost);

/* Empties s for reuse (keeps crash/sector/block). */
void state_clear(struct state *s);
void state_free(struct state *s);

/* Deep copy.  0 or -ENOMEM. */
int state_copy(struct state *dst, const struct state *src);

/* The choice for seq, or NULL. */
const struct state_choice *state_find(const struct state *s, uint64_t seq);

/* Writes the id into buf (cap bytes).  Returns its length, or -ENAMETOOLONG. */
int state_id(const struct state *s, char *buf, size_t cap);

/* The id in a new string of its own length (ids have no length limit), or NULL. */
char *state_id_new(const struct state *s);

/* Parses an id.  Returns 0, or -EINVAL with a one-line reason in err. */
int state_parse(const char *id, struct state *s, char *err, size_t errlen);

/*
 * Expands rle into kinds[0..nsect) ('n','o','z','g').  Missing sectors at
 * the end are 'n'; returns -EINVAL if the rle describes more than nsect
 * sectors or is malformed.
 */
int state_rle_expand(const char *rle, char *kinds, size_t nsect);

/* Run-length codes kinds[0..n) into buf; returns length or -ENAMETOOLONG. */
int state_rle_encode(const char *kinds, size_t n, char *buf, size_t cap);

/* Fills buf with the garbage a sector of this state holds (deterministic). */
void state_garbage(uint64_t state_key, uint64_t seq, uint64_t sector_no,
		   void *buf, size_t len);

#endif
