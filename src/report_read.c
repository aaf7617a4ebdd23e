/*
 * report_read.c - reads a JSON report back (for `faultline merge`), refusing
 * what the writer would not have written.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "report_i.h"

/* ---- reading JSON back ---- */

#define REPORT_READ_MAX (1u << 30) /* larger files are refused */

/* Where a field is, for messages: "states.unique", "failures[3].id". */
struct jfield {
	json_object *parent; /* object holding the field */
	const char *prefix;  /* "" or e.g. "failures[3]." */
	char *err;	     /* OUT: reason */
	size_t errlen;
};

/* Looks up key: 1 found (*v NULL for JSON null), 0 optional and absent. */
static int jget(struct jfield *jf, const char *key, bool optional,
		json_object **v)
{
	if (json_object_object_get_ex(jf->parent, key, v))
		return 1;
	*v = NULL;
	if (optional)
		return 0;
	snprintf(jf->err, jf->errlen, "missing field \"%s%s\"", jf->prefix,
		 key);
	return -EBADMSG;
}

static int jbad(struct jfield *jf, const char *key, const char *what)
{
	snprintf(jf->err, jf->errlen, "field \"%s%s\" is not %s", jf->prefix,
		 key, what);
	return -EBADMSG;
}

/* A string field (JSON null allowed when nullable: *out NULL). */
static int jget_str(struct jfield *jf, const char *key, bool optional,
		    bool nullable, char **out)
{
	json_object *v;
	int rc = jget(jf, key, optional, &v);

	if (rc <= 0)
		return rc;
	if (!v && nullable)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return jbad(jf, key,
			    nullable ? "a string or null" : "a string");
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : -ENOMEM;
}

static int jget_u64(struct jfield *jf, const char *key, uint64_t *out)
{
	json_object *v;
	int rc = jget(jf, key, false, &v);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return jbad(jf, key, "a non-negative integer");
	*out = json_object_get_uint64(v);
	return 0;
}

/* An int field; JSON null reads as null_value. */
static int jget_int(struct jfield *jf, const char *key, int null_value,
		    int *out)
{
	json_object *v;
	int rc = jget(jf, key, false, &v);
	int64_t i;

	if (rc < 0)
		return rc;
	if (!v) {
		*out = null_value;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return jbad(jf, key, "an integer or null");
	i = json_object_get_int64(v);
	if (i < INT_MIN || i > INT_MAX)
		return jbad(jf, key, "an integer or null");
	*out = (int)i;
	return 0;
}

static int jget_num(struct jfield *jf, const char *key, double *out)
{
	json_object *v;
	int rc = jget(jf, key, false, &v);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int))
		return jbad(jf, key, "a number");
	*out = json_object_get_double(v);
	if (!isfinite(*out) || *out < 0)
		return jbad(jf, key, "a non-negative number");
	return 0;
}

static int jget_bool(struct jfield *jf, const char *key, bool *out)
{
	json_object *v;
	int rc = jget(jf, key, false, &v);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(v, json_type_boolean))
		return jbad(jf, key, "true or false");
	*out = json_object_get_boolean(v);
	return 0;
}

/* Optional "content_key": exactly 16 hex digits. */
static int jget_key(struct jfield *jf, uint64_t *out)
{
	json_object *v;
	const char *s;
	int rc = jget(jf, "content_key", true, &v);

	*out = 0;
	if (rc <= 0 || !v)
		return rc < 0 ? rc : 0;
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
						     : "";
	if (strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
		return jbad(jf, "content_key", "a string of 16 hex digits");
	*out = strtoull(s, NULL, 16);
	return 0;
}

static int read_failure(json_object *o, size_t idx, struct report *r, char *err,
			size_t errlen)
{
	char prefix[48];
	struct jfield jf = {o, prefix, err, errlen};
	struct report_failure f = {0};
	char *sev = NULL;
	int rc;

	snprintf(prefix, sizeof(prefix), "failures[%zu].", idx);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "\"failures[%zu]\" is not an object",
			 idx);
		return -EBADMSG;
	}
	if ((rc = jget_str(&jf, "id", false, false, &f.id)) < 0 ||
	    (rc = jget_u64(&jf, "crash_after", &f.crash_after)) < 0 ||
	    (rc = jget_str(&jf, "explanation", false, false, &f.explanation)) <
		0 ||
	    (rc = jget_int(&jf, "exit_status", -1, &f.exit_status)) < 0 ||
	    (rc = jget_int(&jf, "signal", 0, &f.signal)) < 0 ||
	    (rc = jget_bool(&jf, "timed_out", &f.timed_out)) < 0 ||
	    (rc = jget_str(&jf, "output", false, false, &f.output)) < 0 ||
	    (rc = jget_key(&jf, &f.content_key)) < 0 ||
	    (rc = jget_str(&jf, "cause", true, true, &f.cause)) < 0 ||
	    (rc = jget_str(&jf, "cause_words", true, true, &f.cause_words)) < 0 ||
	    (rc = jget_str(&jf, "cause_kind", true, true, &f.cause_kind)) < 0 ||
	    (rc = jget_str(&jf, "cause_signature", true, true, &f.cause_sig)) < 0 ||
	    (rc = jget_str(&jf, "cause_severity", true, true, &sev)) < 0)
		goto out;
	if (sev && !(f.cause_severity = report_severity_of(sev))) {
		rc = jbad(&jf, "cause_severity", "a known severity");
		goto out;
	}
	rc = report_add_failure(r, &f);
out:
	free(sev);
	failure_free(&f);
	return rc;
}

static int read_failures(json_object *top, struct report *r, char *err,
			 size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	json_object *a;
	size_t i, n;
	int rc = jget(&jf, "failures", false, &a);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(a, json_type_array))
		return jbad(&jf, "failures", "an array");
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		rc = read_failure(json_object_array_get_idx(a, i), i, r, err,
				  errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int read_counts(json_object *top, struct report *r, char *err,
		       size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	json_object *st;
	size_t i;
	int rc = jget(&jf, "states", false, &st);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(st, json_type_object))
		return jbad(&jf, "states", "an object");
	jf.parent = st;
	jf.prefix = "states.";
	for (i = 0; i < NCOUNTS; i++) {
		rc = jget_u64(&jf, report_counts[i].key, count_field(r, i));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Optional object field key of jf's parent: 1 with jf moved into it (its
 * fields named prefix...), 0 when absent or null, or -EBADMSG (err says
 * why) when it is not an object.
 */
static int jenter(struct jfield *jf, const char *key, const char *prefix)
{
	json_object *s;
	int rc = jget(jf, key, true, &s);

	if (rc <= 0 || !s)
		return rc < 0 ? rc : 0;
	if (!json_object_is_type(s, json_type_object))
		return jbad(jf, key, "an object or null");
	jf->parent = s;
	jf->prefix = prefix;
	return 1;
}

/* Optional "shard": null, or {"k": K, "n": N} with 1 <= K <= N. */
static int read_shard(json_object *top, struct report *r, char *err,
		      size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	uint64_t k, n;
	int rc = jenter(&jf, "shard", "shard.");

	if (rc <= 0)
		return rc;
	if ((rc = jget_u64(&jf, "k", &k)) < 0 ||
	    (rc = jget_u64(&jf, "n", &n)) < 0)
		return rc;
	if (k < 1 || k > n || n > UINT_MAX) {
		snprintf(err, errlen,
			 "shard %" PRIu64 "/%" PRIu64
			 " is out of range (want 1 <= K <= N)",
			 k, n);
		return -EBADMSG;
	}
	r->shard_k = (unsigned)k;
	r->shard_n = (unsigned)n;
	return 0;
}

/*
 * Optional "cause_search": null, or {"runs": N, "seconds": S, "capped":
 * bool, "cut_by": "runs" | "budget" | null}, and "answered": N since it
 * was added (0 when absent).
 */
static int read_cause_search(json_object *top, struct report *r, char *err, size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	struct report_cause_search *c = &r->causes_search;
	json_object *cs, *v;
	char *by = NULL;
	bool capped;
	int rc = jenter(&jf, "cause_search", "cause_search.");

	if (rc <= 0)
		return rc;
	if ((rc = jget_u64(&jf, "runs", &c->runs)) < 0 ||
	    (rc = jget_num(&jf, "seconds", &c->seconds)) < 0 ||
	    (rc = jget_bool(&jf, "capped", &capped)) < 0 ||
	    (rc = jget_str(&jf, "cut_by", false, true, &by)) < 0)
		return rc;
	if (json_object_object_get_ex(top, "cause_search", &cs) &&
	    json_object_object_get_ex(cs, "answered", &v) &&
	    json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
		c->answered = json_object_get_uint64(v);
	c->ran = true;
	c->cut = !capped ? REPORT_CUT_NONE
		 : by && !strcmp(by, "budget") ? REPORT_CUT_BUDGET : REPORT_CUT_RUNS;
	free(by);
	return 0;
}

/*
 * Optional "trace_status": null, or {"partial": bool, "records_valid": N,
 * "reason": string or null}, a reason exactly when partial.
 */
static int read_trace_status(json_object *top, struct report *r, char *err,
			     size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	struct report_trace_status *ts = &r->tstatus;
	int rc = jenter(&jf, "trace_status", "trace_status.");

	if (rc <= 0)
		return rc;
	if ((rc = jget_bool(&jf, "partial", &ts->partial)) < 0 ||
	    (rc = jget_u64(&jf, "records_valid", &ts->records_valid)) < 0 ||
	    (rc = jget_str(&jf, "reason", false, true, &ts->reason)) < 0)
		return rc;
	if (ts->partial != (ts->reason != NULL))
		return jbad(&jf, "reason",
			    ts->partial ? "a string (the trace is partial)"
					: "null (the trace is not partial)");
	ts->known = true;
	return 0;
}

static int read_top(json_object *top, struct report *r, char *err,
		    size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	char *version = NULL;
	int rc;

	if (!json_object_is_type(top, json_type_object)) {
		snprintf(err, errlen, "not a JSON object");
		return -EBADMSG;
	}
	/* The first missing or mistyped field stops the chain; err says it. */
	if ((rc = jget_str(&jf, "faultline", false, false, &version)) < 0 ||
	    (rc = jget_str(&jf, "trace", false, false, &r->trace)) < 0 ||
	    (rc = jget_str(&jf, "model", false, false, &r->model)) < 0 ||
	    (rc = jget_str(&jf, "mode", false, false, &r->mode)) < 0 ||
	    (rc = read_counts(top, r, err, errlen)) < 0 ||
	    (rc = jget_num(&jf, "coverage", &r->coverage)) < 0 ||
	    (rc = jget_num(&jf, "elapsed_s", &r->elapsed_s)) < 0 ||
	    (rc = read_failures(top, r, err, errlen)) < 0 ||
	    (rc = jget_str(&jf, "mechanism", true, true, &r->mechanism)) < 0 ||
	    (rc = jget_str(&jf, "note", true, true, &r->note)) < 0 ||
	    (rc = read_shard(top, r, err, errlen)) < 0 ||
	    (rc = read_trace_status(top, r, err, errlen)) < 0 ||
	    (rc = read_cause_search(top, r, err, errlen)) < 0) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
	}
	free(version);
	return rc;
}

/* Reads the whole file at path into *buf (NUL-terminated) and *len. */
static int slurp(const char *path, char **buf, size_t *len, char *err,
		 size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0, n = 0, got;
	char *b = NULL, *nb;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot open: %s", strerror(-rc));
		return rc;
	}
	do {
		if (cap - n < 2 && cap >= REPORT_READ_MAX) {
			rc = -EFBIG;
			snprintf(err, errlen, "too large for a report");
			break;
		}
		if (cap - n < 2) {
			cap = cap ? 2 * cap : 1 << 16;
			nb = realloc(b, cap);
			if (!nb) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				break;
			}
			b = nb;
		}
		got = fread(b + n, 1, cap - n - 1, f);
		n += got;
	} while (got);
	if (!rc && ferror(f)) {
		rc = -(errno ? errno : EIO);
		snprintf(err, errlen, "cannot read: %s", strerror(-rc));
	}
	fclose(f);
	if (rc < 0) {
		free(b);
		return rc;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

/* Line number (1-based) of byte off in buf. */
static unsigned line_of(const char *buf, size_t off)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		line += buf[i] == '\n';
	return line;
}

/* Parses buf as exactly one JSON value (whitespace around it allowed). */
static json_object *parse_one(const char *buf, size_t len, char *err,
			      size_t errlen)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL;
	enum json_tokener_error je;
	size_t end;

	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, buf, (int)len);
	je = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!o && (je == json_tokener_continue || je == json_tokener_success))
		snprintf(err, errlen,
			 len ? "not JSON: ends early (line %u)"
			     : "empty file, not a report",
			 line_of(buf, len));
	else if (!o)
		snprintf(err, errlen, "not JSON: %s at line %u",
			 json_tokener_error_desc(je), line_of(buf, end));
	else if (end + strspn(buf + end, " \t\r\n") != len) {
		snprintf(err, errlen,
			 "not JSON: extra data after the value at line %u",
			 line_of(buf, end));
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int report_read_json(const char *path, struct report *r, char *err,
		     size_t errlen)
{
	json_object *top;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = slurp(path, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	if (memchr(buf, 0, len)) {
		snprintf(err, errlen, "not JSON: holds a NUL byte");
		free(buf);
		return -EBADMSG;
	}
	top = parse_one(buf, len, err, errlen);
	free(buf);
	if (!top)
		return -EBADMSG;
	rc = read_top(top, r, err, errlen);
	json_object_put(top);
	if (rc < 0)
		report_free(r);
	return rc;
}
