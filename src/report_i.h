/*
 * report_i.h - what the report modules share and nothing else includes.
 */
#ifndef FAULTLINE_REPORT_I_H
#define FAULTLINE_REPORT_I_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

/* The "states" counters, in schema order; JSON writer and reader share it. */
struct report_count {
	const char *key; /* JSON key inside "states" */
	size_t off;	 /* offset of the uint64_t in struct report */
};
extern const struct report_count report_counts[6];
#define NCOUNTS (sizeof(report_counts) / sizeof(report_counts[0]))

/* The counter report_counts[i] names, inside r. */
uint64_t *count_field(struct report *r, size_t i);

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or minus
 * the length of the invalid subpart that becomes one U+FFFD. */
int utf8_seq(const unsigned char *s, size_t n);

/* Replaces path with buf durably (temp, fsync, rename, fsync dir); 0 or -errno.
 */
int write_durably(const char *path, const char *buf, size_t len);

/* Frees what a failure slot owns (not the slot). */
void failure_free(struct report_failure *f);


#endif
