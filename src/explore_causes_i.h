/*
 * explore_causes_i.h - shared by explore_causes.c (finding each failure's
 * minimal state and grouping) and explore_defects.c (what defect a
 * minimal state shows, and its words).
 */
#ifndef FL_EXPLORE_CAUSES_I_H
#define FL_EXPLORE_CAUSES_I_H

#include "explore_i.h"

/* Defect classes of one lost or torn op, most specific first. */
enum cz_class {
	CZ_EARLY = 0, /* a page of a shared mapping reached the disk early (kept, not lost) */
	CZ_TORN,     /* a write reached the disk in part */
	CZ_SIZE,     /* an append's new size persisted, its bytes did not */
	CZ_NAME,     /* a namespace op (create, rename, unlink...) lost */
	CZ_LOST,     /* a data op (write, truncate, fallocate), or an append's size, lost */
	CZ_ATTR,     /* an attribute op (mode, owner, times, xattr) lost */
};

/* Severities, in report order (report.h: REPORT_SEV_*). */
#define CZ_SEV_ACKED REPORT_SEV_ACKED
#define CZ_SEV_CORRUPT REPORT_SEV_CORRUPT
#define CZ_SEV_UNCONFIRMED REPORT_SEV_UNCONFIRMED

/* One lost or torn op of a state, as a cause sees it. */
struct cz_item {
	enum cz_class cls;
	size_t idx;      /* op index */
	char text[1200]; /* "torn write /db @4096", "lost write /wal append", "name create /a" */
	char alt[1200];  /* the same with a tear or a size without bytes as "lost" */
};

struct cz_items {
	struct cz_item *v; /* sorted by text, each text once */
	size_t n;
};

/* What the cause search keeps about the trace. */
struct cz {
	uint8_t *slot; /* per op: an overwrite of a repeatedly overwritten offset */
	char **path;   /* per op: its path when it ran (state-changing ops); owned */
};

/* The image candidates are built on (explore_causes_img.c). */
struct cz_img {
	const struct ops_trace *t; /* the trace (not owned) */
	struct mat *m;         /* image: the bare base plus the settled ops */
	struct ex_keys k;      /* which ops m's image holds (explore_keys.c) */
	char wd[4300];         /* m's work directory */
	size_t x;              /* op index of the crash point it was last made ready for */
	uint32_t *chosen;      /* per op: failures still to minimize that drop or tear it */
	size_t *pend;          /* ops up to x not in the image, ascending */
	size_t npend;
	size_t resets;         /* times it went back to the bare base */
	bool verify;           /* FAULTLINE_VERIFY_CAUSES: check each build against bare */
	struct mat *bare;      /* verify: a materializer whose image stays the bare base */
	char bare_wd[4310];    /* its work directory */
	size_t verified;       /* candidates verified */
};

/* Makes the image (the bare base) in work directory wd, on the scratch how
 * asks for (mat_new_budget).  0 or negative, err says why. */
int cz_img_new(struct cz_img *ci, const struct ops_trace *t, const char *wd,
	       enum mat_scratch how, uint64_t mem_budget, char *err, size_t errlen);
/* Frees it (and, when verifying, says how many candidates were verified). */
void cz_img_free(struct cz_img *ci);
/* Adds delta (+1: still to minimize, -1: done) to the counts of s's choices. */
void cz_img_count(struct cz_img *ci, const struct state *s, int delta);
/*
 * Makes the image ready for the candidates of failing state full: admits
 * what has settled (final: every failure still to come is counted).
 * 0 or negative.
 */
int cz_img_at(struct cz_img *ci, const struct model_plan *plan, const struct state *full,
	      bool final);
/*
 * Builds candidate s (choices a subset of the last cz_img_at's full) in
 * dir (which must not exist); *content (unless NULL) gets its content
 * key.  0, -EPROTO when s chooses an op the image
 * holds or (verifying) the build differs from the bare base's, or another
 * negative code; err says why.
 */
int cz_img_build(struct cz_img *ci, const struct state *s, const char *dir, uint64_t *content,
		 char *err, size_t errlen);

/* Fills z->slot and z->path.  0 or -ENOMEM. */
int cz_regions(struct cz *z, const struct ops_trace *t);

/* The item of choice c.  0, or -EINVAL for an op not in the trace. */
int cz_item(struct ex *ex, struct cz *z, const struct state_choice *c, struct cz_item *it);

/*
 * The items of state s (out->v malloc'ed).  With acked (the checker takes
 * the state once its marks are gone: recovery coped, only acknowledged
 * data is missing), a torn write and a size without its bytes are the
 * lost write they amount to.  0 or -ENOMEM.
 */
int cz_items(struct ex *ex, struct cz *z, const struct state *s, bool acked,
	     struct cz_items *out);
bool cz_items_has(const struct cz_items *v, const char *text);

/* Adds to v the item "early write ... PATH" of early op idx (ops_is_early),
 * which the failure needs persisted, and keeps v sorted.  0 or -ENOMEM. */
int cz_items_add_early(struct ex *ex, struct cz *z, size_t idx, struct cz_items *v);

/* The signature: the items' texts; with none, the checker's line without numbers. */
void cz_signature(const struct cz_items *v, const char *line, char *buf, size_t cap);

/* The cause's kind, e.g. "torn-write", "acknowledged-commit-lost". */
const char *cz_kind(const struct cz_items *v, int severity);

/* The cause in one line: "torn write trusted: a 120-byte overwrite at @4128 ...". */
void cz_headline(struct ex *ex, struct cz *z, const struct cz_items *v, uint64_t crash,
		 int severity, char *buf, size_t cap);

#endif
