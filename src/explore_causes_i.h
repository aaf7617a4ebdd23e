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
	CZ_TORN = 0, /* a write reached the disk in part */
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

/* The signature: the items' texts; with none, the checker's line without numbers. */
void cz_signature(const struct cz_items *v, const char *line, char *buf, size_t cap);

/* The cause's kind, e.g. "torn-write", "acknowledged-commit-lost". */
const char *cz_kind(const struct cz_items *v, int severity);

/* The cause in one line: "torn write trusted: a 120-byte overwrite at @4128 ...". */
void cz_headline(struct ex *ex, struct cz *z, const struct cz_items *v, uint64_t crash,
		 int severity, char *buf, size_t cap);

#endif
