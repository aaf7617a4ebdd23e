/*
 * explore_i.h - the explorer's private parts, shared by explore.c (the
 * sweep, building and checking), explore_keys.c (which ops an image may
 * take), explore_choose.c (which states a crash point has),
 * explore_causes.c (minimal failing states) and explore_words.c
 * (explanations).
 */
#ifndef FL_EXPLORE_I_H
#define FL_EXPLORE_I_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "check.h"
#include "explore.h"
#include "mat.h"
#include "model.h"
#include "names.h"
#include "state.h"
#include "tear.h"

#define EX_OUTPUT_MAX (64u * 1024)
/* exhaustive enumerates a crash point with at most this many states, else bounded:2 */
#define EX_EXHAUSTIVE_MAX 65536

struct ex_slot {
	bool busy;              /* a checker runs on this state */
	char dir[4200];         /* state directory */
	char *id;               /* state id; owned */
	uint64_t crash;         /* crash seq */
	uint64_t key;           /* dedup key */
	char *why;              /* explanation, computed at build time; owned */
};

/* What the image may take next: per-key queues of the ops not in it (explore_keys.c). */
struct ex_keys {
	uint32_t (*of)[2];      /* per op: its keys (UINT32_MAX = none) */
	size_t *q;              /* every key's ops, ascending, key after key */
	size_t *qstart;         /* per key: where its ops start in q; qstart[nkeys] = end */
	size_t *head;           /* per key: its first op not in the image */
	size_t nkeys;
	uint8_t *eligible;      /* per op: may enter the image (durable, or before c in prefix mode) */
	uint8_t *admitted;      /* per op: in the image */
	size_t *stack;          /* worklist */
};

struct ex {
	const struct explore_opts *o;
	struct report *rep;
	struct ops_trace *t;
	struct model_plan *plan;
	struct mat *mat;
	struct check_runner *run;
	struct report_progress *prog;
	char workdir[4096];       /* ours, removed at the end */
	struct ex_slot *slots;    /* jobs + 1 */
	struct tear_geom geom;    /* tear options */
	struct tear_set *fam;     /* per op: the tear variants the model allows (lazily) */
	uint8_t *fam_done;        /* per op: fam[] computed */
	struct ex_keys k;         /* image admission */
	size_t *pending;          /* ops up to the crash point not in the image, ascending */
	size_t npend;
	size_t *inflight;         /* of those, the ones a state may drop or tear, ascending */
	size_t ninf;
	size_t *bydur;            /* state-changing ops by (durable_at, index) */
	size_t ndur, durnext;     /* entries / next to make eligible */
	size_t prefnext;          /* prefix mode: next op to make eligible */
	void *seen;               /* tsearch of dedup keys (uint64_t *) */
	void *drawn;              /* random mode: tsearch of state id hashes drawn */
	uint64_t ndrawn;          /* distinct states drawn */
	struct names *names;      /* paths at the sweep position */
	uint64_t nmarks;          /* marks at or before the crash point */
	size_t lastmark;          /* op index of the last of them */
	FILE *list;               /* --list-states, or NULL */
	double total;             /* states the mode would generate over all crash points */
	struct timespec t0;
	bool out_of_time;         /* --budget ran out */
	size_t fallbacks;         /* exhaustive crash points that fell back */
	uint64_t fallback_max;    /* most ops in flight at one of them */
	uint64_t keyed;           /* states keyed in memory before (or instead of) building */
	struct ex_causes *causes; /* the cause search, once started (explore_causes.c) */
	bool enough_causes;       /* --max-causes reached: the sweep only counts */
	bool spread;              /* --order spread: three passes (explore.c) */
	struct verdicts *verdicts; /* o->verdicts, or our own: the sweep's verdicts answer the
				      cause search's questions about the same states */
	struct verdicts *own_verdicts; /* ours to free, or NULL */
	size_t causes_seen;       /* failures when causes were last looked for */
};

/* ---- explore.c ---- */
double ex_elapsed(const struct ex *ex);
uint64_t ex_rand(uint64_t *s);
/* The paths of t's base, before any op (for explanations); NULL without memory. */
struct names *ex_names_base(const struct ops_trace *t);
/* Builds state s (crash point op index x) and checks it unless seen before. */
int ex_try(struct ex *ex, const struct state *s, size_t x);

/* ---- explore_keys.c: the image rule ---- */
/* Fills k's keys and queues for trace t (nothing admitted).  0 or -ENOMEM. */
int ex_keys_new(struct ex_keys *k, const struct ops_trace *t);
void ex_keys_free(struct ex_keys *k);
/*
 * Op i became eligible: admits it and every op it unblocks, applying each
 * to m's image in turn (m NULL: only counts, no image kept).  0 or the
 * first negative code of mat_image_apply.
 */
int ex_keys_admit(struct ex_keys *k, struct mat *m, size_t i);

/* ---- explore_choose.c ---- */
/* Generates the states of crash point x (ex->inflight is current).  draws: random seeds. */
int ex_crash_point(struct ex *ex, size_t x, const uint64_t *draws, size_t ndraws);
/* The number of states the mode generates at crash point x (ex->inflight current). */
double ex_count(struct ex *ex, size_t x);
void ex_choose_free(struct ex *ex);

/* ---- explore_words.c ---- */
/* The explanation of state s (crash point op index x), for reports; malloc'ed. */
char *ex_explain_at(const struct ex *ex, const struct state *s, size_t x,
		    uint64_t nmarks, size_t lastmark);

/* ---- explore_causes.c ---- */
/* Minimizes and groups the failures (after every state was checked). */
void ex_causes(struct ex *ex);
/* Gives a cause to each failure that has none yet (no checker may be running); returns the causes found and confirmed. */
size_t ex_causes_add(struct ex *ex);
/* Frees the cause search (ex_causes does). */
void ex_causes_free(struct ex *ex);

#endif
