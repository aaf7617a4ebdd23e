/*
 * trace_meta.c - meta.json's promises about a trace, and their check (see
 * trace_meta.h).
 *
 * The digest covers the records file byte for byte (header and every
 * valid record), so a trace whose meta.json says "complete" reads
 * completely, with the same number of records and the same bytes, or it
 * is refused: a flipped byte inside a record fails that record's own
 * checksum, a cut at a record boundary changes the count, anything
 * edited consistently (records re-encoded with fresh checksums) changes
 * the digest.  A trace whose recorder did not finish is the valid prefix
 * of a recording: usable on purpose (--partial), never by accident.
 *
 * meta.json written before this check existed has no records_xxh3; such
 * a trace also has format version 2 records, which ops_load refuses
 * first.  This module does not read the base; ops.c and verify.c do.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fl_error.h"
#include "trace_meta.h"

/* What each status of an unfinished recording means, for the reason printed. */
static const struct {
	const char *status; /* meta.json "status" */
	const char *words;  /* why the trace is only a prefix */
} meta_unfinished[] = {
    {"recording", "the recording never finished (faultline record or its "
		  "recorder was killed)"},
    {"interrupted", "the recording was interrupted by a signal"},
    {"recorder-failed", "the recorder died while recording"},
};

/* Field key of top: 1 found with type t, 0 absent or null, -1 another type. */
static int meta_field(json_object *top, const char *key, json_type t,
		      json_object **v)
{
	if (!json_object_object_get_ex(top, key, v) || !*v)
		return 0;
	return json_object_is_type(*v, t) ? 1 : -1;
}

static int meta_bad(char *err, size_t errlen, const char *key, const char *what)
{
	snprintf(err, errlen, "meta.json: \"%s\" is not %s", key, what);
	return -FL_EBADTRACE;
}

/* records_bytes and records_xxh3, both or neither. */
static int meta_read_digest(json_object *top, struct trace_meta *m, char *err,
			    size_t errlen)
{
	json_object *b, *x;
	int hb = meta_field(top, "records_bytes", json_type_int, &b);
	int hx = meta_field(top, "records_xxh3", json_type_string, &x);
	const char *s;
	char *end;

	if (hb < 0)
		return meta_bad(err, errlen, "records_bytes", "a number");
	if (hx < 0)
		return meta_bad(err, errlen, "records_xxh3", "a string");
	if (hb != hx) {
		snprintf(err, errlen, "meta.json has %s without %s",
			 hb ? "records_bytes" : "records_xxh3",
			 hb ? "records_xxh3" : "records_bytes");
		return -FL_EBADTRACE;
	}
	if (!hb)
		return 0;
	s = json_object_get_string(x);
	errno = 0;
	m->digest.xxh3 = strtoull(s, &end, 16);
	if (strlen(s) != 16 || *end || errno ||
	    strspn(s, "0123456789abcdef") != 16)
		return meta_bad(err, errlen, "records_xxh3", "16 hex digits");
	m->digest.bytes = json_object_get_uint64(b);
	m->sealed = true;
	return 0;
}

int trace_meta_read(const char *dir, struct trace_meta *m, char *err,
		    size_t errlen)
{
	char path[4200];
	json_object *top, *v;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/%s", dir, TRACE_META_FILE);
	top = json_object_from_file(path);
	if (!top) {
		rc = access(path, F_OK) < 0 ? -errno : -FL_EBADTRACE;
		snprintf(err, errlen,
			 rc == -FL_EBADTRACE
			     ? "meta.json is not valid JSON"
			     : "cannot read meta.json (%s): faultline cannot "
			       "tell whether the trace is whole",
			 strerror(-rc));
		return rc;
	}
	if (!json_object_is_type(top, json_type_object))
		rc = meta_bad(err, errlen, "(top level)", "an object");
	else if (meta_field(top, "status", json_type_string, &v) < 0)
		rc = meta_bad(err, errlen, "status", "a string");
	else if (v && strlen(json_object_get_string(v)) >= sizeof(m->status))
		rc = meta_bad(err, errlen, "status", "a known status");
	if (!rc && v)
		snprintf(m->status, sizeof(m->status), "%s",
			 json_object_get_string(v));
	if (!rc && meta_field(top, "records", json_type_int, &v) < 0)
		rc = meta_bad(err, errlen, "records", "a number");
	if (!rc && v)
		m->digest.records = json_object_get_uint64(v);
	if (!rc && meta_field(top, "start_ns", json_type_int, &v) > 0)
		m->start_ns = json_object_get_int64(v);
	if (!rc)
		rc = meta_read_digest(top, m, err, errlen);
	json_object_put(top);
	return rc;
}

struct json_object *trace_meta_new(const char *status)
{
	json_object *m = json_object_new_object();

	if (!m)
		return NULL;
	json_object_object_add(m, "faultline", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(m, "format", json_object_new_int(TRACE_FORMAT_VERSION));
	json_object_object_add(m, "status", json_object_new_string(status));
	return m;
}

int trace_meta_seal(const char *dir, json_object *meta, struct trace_digest *d,
		    char *stop, size_t stoplen)
{
	struct trace_reader *r;
	struct trace_rec rec;
	struct trace_digest dg;
	char why[200] = "", hex[17];
	int rc = trace_reader_open(dir, &r, why, sizeof(why));

	if (rc == 0) {
		while ((rc = trace_next(r, &rec)) == 1)
			;
		if (rc < 0)
			snprintf(why, sizeof(why), "%s", trace_reader_error(r));
		trace_reader_digest(r, &dg);
		trace_reader_close(r);
		snprintf(hex, sizeof(hex), "%016" PRIx64, dg.xxh3);
		json_object_object_add(meta, "records",
				       json_object_new_uint64(dg.records));
		json_object_object_add(meta, "records_bytes",
				       json_object_new_uint64(dg.bytes));
		json_object_object_add(meta, "records_xxh3",
				       json_object_new_string(hex));
		json_object_object_add(meta, "records_error",
				       why[0] ? json_object_new_string(why)
					      : NULL);
		if (d)
			*d = dg;
		rc = 0;
	}
	if (stop)
		snprintf(stop, stoplen, "%s", why);
	return rc;
}

/* What was read against the digest meta.json keeps: 0, or what differs. */
static int meta_compare(const struct trace_meta *m,
			const struct trace_digest *d, char *why, size_t whylen)
{
	if (d->records != m->digest.records)
		snprintf(why, whylen,
			 "meta.json promises %" PRIu64
			 " records, the records file "
			 "holds %" PRIu64 ": it changed after recording",
			 m->digest.records, d->records);
	else if (d->bytes != m->digest.bytes)
		snprintf(why, whylen,
			 "meta.json promises %" PRIu64
			 " bytes of records, the records "
			 "file holds %" PRIu64 ": it changed after recording",
			 m->digest.bytes, d->bytes);
	else if (d->xxh3 != m->digest.xxh3)
		snprintf(
		    why, whylen,
		    "the records file does not match the checksum in meta.json "
		    "(records_xxh3): it changed after recording");
	else
		return 0;
	return -FL_EBADTRACE;
}

/* Why a trace whose recording did not finish is only a prefix, into why. */
static void meta_unfinished_words(const struct trace_meta *m, const char *stop,
				  char *why, size_t whylen)
{
	const char *words = NULL;
	size_t i;

	for (i = 0; i < sizeof(meta_unfinished) / sizeof(meta_unfinished[0]);
	     i++)
		if (!strcmp(m->status, meta_unfinished[i].status))
			words = meta_unfinished[i].words;
	if (words)
		snprintf(why, whylen, "%s (meta.json status \"%s\")", words,
			 m->status);
	else if (m->status[0])
		snprintf(why, whylen,
			 "meta.json status \"%s\" is not \"complete\"",
			 m->status);
	else
		snprintf(why, whylen,
			 "meta.json has no status: the recording may not have "
			 "finished");
	if (stop)
		snprintf(why + strlen(why), whylen - strlen(why),
			 "; reading stopped at %s", stop);
}

int trace_meta_check(const struct trace_meta *m, const struct trace_digest *d,
		     const char *stop, bool partial_ok, char *why,
		     size_t whylen)
{
	char words[400];

	if (!strcmp(m->status, "complete")) {
		if (stop) {
			snprintf(why, whylen,
				 "meta.json says the recording is complete, "
				 "but only %" PRIu64 " of its %" PRIu64
				 " records read: %s",
				 d->records, m->digest.records, stop);
			return -FL_EBADTRACE;
		}
		if (!m->sealed) {
			snprintf(why, whylen,
				 "meta.json says the recording is complete but "
				 "keeps no "
				 "checksum of the records (records_xxh3): "
				 "record the trace again");
			return -FL_EBADTRACE;
		}
		return meta_compare(m, d, why, whylen);
	}
	if (m->sealed && meta_compare(m, d, why, whylen) < 0)
		return -FL_EBADTRACE;
	meta_unfinished_words(m, stop, words, sizeof(words));
	if (!partial_ok) {
		snprintf(why, whylen,
			 "%s; --partial explores its %" PRIu64 " valid records",
			 words, d->records);
		return -FL_EBADTRACE;
	}
	snprintf(why, whylen, "%s", words);
	return 1;
}
