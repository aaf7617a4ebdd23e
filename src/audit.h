/*
 * audit.h - one recording against a matrix of assumptions (faultline audit).
 *
 * Rows are file-system orderings, columns device write atomicity and
 * neighbour damage, each from the strongest assumption to the weakest,
 * so that a cell's states include those of every cell above and left of
 * it (the models nest, and so do the tear families).  Every cell is an
 * exploration of the same trace with the same checker; a state already
 * checked in one cell is not checked again in another (verdicts.h), so
 * the matrix costs about what its weakest cell costs.
 */
#ifndef FL_AUDIT_H
#define FL_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "explore.h"
#include "report.h"

#define AUDIT_ROWS 3
#define AUDIT_COLS 6

/* A column: the device assumption, as explore options. */
struct audit_col {
	const char *name;  /* "sector-atomic": the --claims word */
	const char *what;  /* "sector-atomic writes (each sector old or new)" */
	const char *needs; /* the verdict when this is the weakest column that holds */
	const char *tear;  /* --tear */
	uint32_t atomic;   /* --atomic, 0 for none */
	uint32_t block;    /* --block, 0 for none */
};

extern const char *const audit_rows[AUDIT_ROWS]; /* model names, strongest first */
extern const struct audit_col audit_cols[AUDIT_COLS];

struct audit_cell {
	struct report rep; /* the exploration's report */
	int rc;            /* explore_run's return: 0, or negative */
};

struct audit {
	struct audit_cell cell[AUDIT_ROWS][AUDIT_COLS];
	uint64_t checks_run;    /* checker runs made, by the explorations and their cause searches */
	uint64_t checks_reused; /* states whose verdict came from an earlier run instead */
	double elapsed_s;
};

/*
 * Explores base's trace with base's checker and mode in every cell (base's
 * model, tear, atomic and block options are replaced by the cell's).
 * progress, when given, is called after each cell.  Returns 0, or the
 * first negative code of a cell that could not run (err says why).
 */
int audit_run(const struct explore_opts *base, struct audit *a,
	      void (*progress)(void *arg, int row, int col, const struct audit_cell *c),
	      void *arg, char *err, size_t errlen);
void audit_free(struct audit *a);

/* True when every checked state of the cell passed. */
bool audit_cell_holds(const struct audit_cell *c);

/* Row and column of a --claims list such as "posix,sector-atomic" (either
 * word may be left out: strict, whole).  0 or -EINVAL. */
int audit_parse_claims(const char *text, int *row, int *col);

/*
 * What the engine relies on, in words: the weakest ordering it survives
 * with whole writes, then the weakest device assumption it survives under
 * that ordering, each "needs X" naming the first cause of the cell that
 * fails just past it.  *row and *col get that cell (-1, -1 when even
 * strict ordering with whole writes fails).  malloc'ed, NULL without memory.
 */
char *audit_words(const struct audit *a, int *row, int *col);

/* What the HTML page says beside the matrix. */
struct audit_page {
	const char *target;  /* TRACE or SCENARIO as given */
	const char *trace;   /* the recording replay commands name; NULL when not kept */
	const char *check;   /* the checker command */
	bool check_server;   /* check is a --check-server command */
	bool partial;        /* the trace was read with --partial */
	const char *mode;    /* the exploration mode, as given */
	const char *words;   /* audit_words() */
	int nrow, ncol;      /* the cell audit_words() returned */
	int crow, ccol;      /* the claimed cell */
	bool holds;          /* the claimed cell holds */
};

/*
 * Writes the matrix as one self-contained HTML page to path: each failing
 * cell links to its causes, each with a representative state, its
 * explanation, the checker's output and the replay command.  0 or -errno.
 */
int audit_write_html(const struct audit *a, const struct audit_page *pg, const char *path);

#endif
