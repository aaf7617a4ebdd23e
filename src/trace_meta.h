/*
 * trace_meta.h - TRACE/meta.json: what a trace promises about itself, and
 * the check of what was read against it.
 *
 * The recorder (record.c) writes meta.json when recording begins
 * ("status": "recording") and again when it ends, with how it ended and,
 * from then on, a digest of the whole records file: "records" (valid
 * records), "records_bytes" and "records_xxh3" (the bytes they fill and
 * their XXH3-64, 16 hex digits) and "records_error" (why reading stopped
 * early, or null).  Every program that writes traces (record, the test
 * generators) adds these with trace_meta_seal(), and every command that
 * builds states compares them with what it read (trace_meta_check)
 * before building anything.
 */
#ifndef FL_TRACE_META_H
#define FL_TRACE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct json_object;

/* The fields of meta.json a reader checks. */
struct trace_meta {
	char status[32]; /* "complete", "recording", "interrupted",
			    "recorder-failed"; "" if absent */
	bool sealed;	 /* records_bytes and records_xxh3 are present */
	struct trace_digest digest; /* records, records_bytes, records_xxh3
				       (records alone if not sealed) */
	int64_t start_ns; /* wall clock when recording began, 0 if absent */
};

/*
 * Reads TRACE/meta.json of trace directory dir into *m.  Returns 0, or
 * -errno / -FL_EBADTRACE (missing, not JSON, a field of the wrong type)
 * with a one-line reason in err.
 */
int trace_meta_read(const char *dir, struct trace_meta *m, char *err,
		    size_t errlen);

/*
 * A new meta.json object with its head: "faultline" (the version),
 * "format" (TRACE_FORMAT_VERSION) and "status".  NULL without memory.
 * Writers add their own fields, then trace_meta_seal().
 */
struct json_object *trace_meta_new(const char *status);

/*
 * Reads the records file of trace directory dir to its end and adds
 * "records", "records_bytes", "records_xxh3" and "records_error" to meta
 * (replacing any there).  *d (when not NULL) gets the digest, and
 * stop (when not NULL, stoplen bytes) why reading stopped before the end
 * of the file, "" when it did not.  Returns 0, or -errno / -FL_E* when
 * the records file cannot be opened or has a bad header (meta is then
 * unchanged; stop gets the reason).
 */
int trace_meta_seal(const char *dir, struct json_object *meta,
		    struct trace_digest *d, char *stop, size_t stoplen);

/*
 * Compares what a reader read (d; stop is why it stopped before the end
 * of the file, or NULL at a clean end) with what m promises:
 *   - "complete": the file must read to its end and match the digest;
 *   - any other status (the recorder did not finish): the trace is the
 *     valid prefix of a recording, accepted only when partial_ok; a
 *     digest kept at the end of such a recording must still match.
 * Returns 0 for a whole trace, 1 for an accepted partial one (why then
 * says why it is partial), or -FL_EBADTRACE with the reason in why.
 */
int trace_meta_check(const struct trace_meta *m, const struct trace_digest *d,
		     const char *stop, bool partial_ok, char *why,
		     size_t whylen);

#endif
