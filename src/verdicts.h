/*
 * verdicts.h - checker verdicts remembered by state key, across runs.
 *
 * A state's key (fskey_state: its content and the marks acknowledged at
 * its crash point) names nothing model-, mode- or tear-specific, so one
 * checker verdict serves every exploration of the same trace with the
 * same checker that meets the same state: faultline audit explores one
 * recording under many assumptions and checks each state once.
 */
#ifndef FL_VERDICTS_H
#define FL_VERDICTS_H

#include <stdint.h>

#include "check.h"

struct verdicts;

struct verdicts *verdicts_new(void);
void verdicts_free(struct verdicts *v);

/* The verdict remembered for key, or NULL.  Owned by v. */
const struct check_result *verdicts_find(const struct verdicts *v, uint64_t key);

/* Remembers a copy of res for key (a key remembered already keeps its
 * first verdict; a pass is kept without its output).  0 or -ENOMEM. */
int verdicts_add(struct verdicts *v, uint64_t key, const struct check_result *res);

/* How many checker runs were answered from v instead (verdicts_find hits
 * that the caller counted with verdicts_reused). */
void verdicts_reused(struct verdicts *v);
uint64_t verdicts_reuse_count(const struct verdicts *v);
/* Verdicts given to verdicts_add: the checker runs made. */
uint64_t verdicts_run_count(const struct verdicts *v);

#endif
