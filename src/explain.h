/*
 * explain.h - which pages a crash may damage, per file and moment, from
 * the model alone (no crash state is built).
 *
 * explain_build() finds the moments (crash points that matter) and the
 * files, then classifies every page of every file at every moment.  A
 * file's classification is kept as snapshots: one per moment at which it
 * differs from the moment before, each a list of runs of equal class, so
 * memory follows what changes, not files x moments x pages.
 * explain_report.c turns the result into text, JSON or HTML.
 */
#ifndef FL_EXPLAIN_H
#define FL_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "ops.h"

/* Page classes, in the order "worse wins" uses (collateral aside). */
enum explain_class {
	EXPLAIN_DURABLE,    /* the same bytes in every state */
	EXPLAIN_OLD_NEW,    /* an in-flight write covers it, whole */
	EXPLAIN_TEAR,       /* an in-flight write may persist partly */
	EXPLAIN_VANISH,     /* may not exist after the crash: it lies between the
			       durable size and the size the program saw */
	EXPLAIN_COLLATERAL, /* only an in-flight write in the same --block covers it */
	EXPLAIN_NCLASS,
};

/* What a crash may do to a file's name (its existence at its path). */
enum explain_name {
	EXPLAIN_NAME_DURABLE, /* it exists at its path in every state */
	EXPLAIN_NAME_VANISH,  /* a create, link, rename or unlink naming it is in flight: it
				 may be missing, or not at this path */
	EXPLAIN_NAME_ABSENT,  /* it has no name in any state: not created yet, or its last
				 name's removal is durable */
	EXPLAIN_NNAME,
};

/* Pages [start, the next run's start or the snapshot's np) share cls. */
struct explain_run {
	uint64_t start; /* first page */
	uint8_t cls;    /* enum explain_class */
};

/*
 * A file's pages from moment `from` until the next snapshot's.  The pages'
 * classes hold for the states in which the file exists; whether it does
 * is the name's own answer (name).
 */
struct explain_snap {
	size_t from;             /* first moment index it holds for */
	uint8_t name;            /* enum explain_name */
	uint64_t np;             /* pages the file has then */
	struct explain_run *run; /* runs over [0, np), neighbours differ; owned */
	size_t nrun;             /* entries in run (0 when np is 0) */
};

struct explain_file {
	uint64_t id;               /* file id */
	char path[512];            /* last known path */
	uint64_t npages;           /* most pages it ever had */
	struct explain_snap *snap; /* in moment order; the first has from 0 */
	size_t nsnap, capsnap;     /* entries used / allocated */
};

struct explain {
	const struct ops_trace *t; /* not owned */
	struct model_plan *plan;   /* owned */
	uint32_t page;             /* bytes per page (--page) */
	uint32_t block;            /* --block bytes, 0 none */
	struct explain_file *f;    /* files with bytes ops, by first such op */
	size_t nf;
	void *byid;       /* tsearch of struct explain_fid: file id -> index in f */
	uint64_t *moment; /* per moment: the last op begun (seq) */
	bool *after;      /* per moment: that op completed (else the crash is during it) */
	char **label;     /* per moment: what it is ("before op 7 fsync /x completes", ...) */
	size_t nm;        /* moments */
};

/* explain_build flags */
#define EXPLAIN_REFERENCE 0x1u /* rescan the trace per file and moment (the old
				  algorithm, kept to test the sweep against) */

/*
 * Classifies trace t under model m with the given page and block sizes
 * (page >= 1; block 0 for none).  Returns 0 with *x filled (free it with
 * explain_free), or -ENOMEM (*x then freed).
 */
int explain_build(struct explain *x, const struct ops_trace *t, const struct model *m,
		  uint32_t page, uint32_t block, unsigned flags);
void explain_free(struct explain *x);

/* The class's name, as printed and in JSON ("durable", "may-tear", ...). */
const char *explain_class_name(int cls);
/* A name class as printed and in JSON: "durable", "may-vanish", "absent". */
const char *explain_name_name(int name);

/* The per-file table as text, to out. */
void explain_write_text(const struct explain *x, FILE *out);

/* The JSON document to path.  0 or -1 (cannot write). */
int explain_write_json(const struct explain *x, const char *path);

/* The self-contained HTML heat map to path.  0 or -errno. */
int explain_write_html(const struct explain *x, const char *path);

#endif
