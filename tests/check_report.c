/*
 * check_report.c - unit tests for src/report.c: JSON round trip, JUnit,
 * the summary, failure order, durable writes and the progress line.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "report.h"

/* ---- fixtures ---- */

static void add(struct report *r, const char *id, uint64_t crash_after,
		const char *expl, int status, int sig, const char *output)
{
	struct report_failure f = {
	    .id = (char *)id,
	    .crash_after = crash_after,
	    .explanation = (char *)expl,
	    .exit_status = status,
	    .signal = sig,
	    .timed_out = sig == 9,
	    .output = (char *)output,
	    .content_key = crash_after * 0x9e3779b97f4a7c15ull,
	};

	ck_assert_int_eq(report_add_failure(r, &f), 0);
}

/* A shard report with failures that need escaping, nulls and bad UTF-8. */
static void sample(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->trace = strdup("/tmp/t \"q\"/faultline.trace");
	r->model = strdup("posix");
	r->mode = strdup("omit-one");
	r->mechanism = strdup("reflink (xfs)");
	r->shard_k = 2;
	r->shard_n = 4;
	r->generated = 1234;
	r->unique = 310;
	r->checked = 77;
	r->passed = 74;
	r->failed = 3;
	r->skipped = 1;
	r->coverage = 77.0 / 78.0;
	r->elapsed_s = 2.1;
	add(r, "c812-d790", 812, "crash during op 812 fsync(wal)\nop 790 torn",
	    1, 0, "wal: bad <crc> & \"more\"\n\ttab\x01\x1f end\n");
	add(r, "c3", 3, "dropped \\ backslash", -1, 9, "");
	add(r, "c900-t1", 900, "torn", 2, 0, "bytes \xff\xfe ok \xe2\x82 x");
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(getdelim(&buf, &cap, '\0', f), 0);
	fclose(f);
	return buf;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static const char *dir; /* this test's temporary directory */

static void make_dir(void)
{
	dir = check_tmpdir();
}

/* dir/name, in a static buffer. */
static char *tmp_path(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* Parses path strictly (STRICT, UTF-8 validated) or fails the test. */
static json_object *parse_strict(const char *path)
{
	char *text = slurp(path);
	json_tokener *tok = json_tokener_new();
	json_object *o;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	ck_assert_msg(o, "not strict JSON: %s",
		      json_tokener_error_desc(json_tokener_get_error(tok)));
	json_tokener_free(tok);
	free(text);
	return o;
}

static json_object *jpath(json_object *o, const char *k1, const char *k2)
{
	json_object *v;

	ck_assert(json_object_object_get_ex(o, k1, &v));
	if (k2)
		ck_assert(json_object_object_get_ex(v, k2, &v));
	return v;
}

/* ---- JSON ---- */

static void assert_same(const struct report *a, const struct report *b)
{
	size_t i;

	ck_assert_str_eq(a->trace, b->trace);
	ck_assert_str_eq(a->model, b->model);
	ck_assert_str_eq(a->mode, b->mode);
	ck_assert_str_eq(a->mechanism, b->mechanism);
	ck_assert_ptr_null(b->note);
	ck_assert_uint_eq(a->shard_k, b->shard_k);
	ck_assert_uint_eq(a->shard_n, b->shard_n);
	ck_assert_uint_eq(a->generated, b->generated);
	ck_assert_uint_eq(a->unique, b->unique);
	ck_assert_uint_eq(a->checked, b->checked);
	ck_assert_uint_eq(a->passed, b->passed);
	ck_assert_uint_eq(a->failed, b->failed);
	ck_assert_uint_eq(a->skipped, b->skipped);
	/* a share prints to six significant digits */
	ck_assert(fabs(a->coverage - b->coverage) <= 5e-6 * a->coverage);
	ck_assert(a->elapsed_s == b->elapsed_s);
	ck_assert_int_eq(a->tstatus.known, b->tstatus.known);
	ck_assert_int_eq(a->tstatus.partial, b->tstatus.partial);
	ck_assert_uint_eq(a->tstatus.records_valid, b->tstatus.records_valid);
	ck_assert_str_eq(a->tstatus.reason ? a->tstatus.reason : "(null)",
			 b->tstatus.reason ? b->tstatus.reason : "(null)");
	ck_assert_uint_eq(a->nfailures, b->nfailures);
	for (i = 0; i < a->nfailures; i++) {
		const struct report_failure *x = &a->failures[i],
					    *y = &b->failures[i];

		ck_assert_str_eq(x->id, y->id);
		ck_assert_uint_eq(x->crash_after, y->crash_after);
		ck_assert_str_eq(x->explanation, y->explanation);
		ck_assert_int_eq(x->exit_status, y->exit_status);
		ck_assert_int_eq(x->signal, y->signal);
		ck_assert_int_eq(x->timed_out, y->timed_out);
		ck_assert_uint_eq(x->content_key, y->content_key);
		if (i < 2) /* the third's output had invalid UTF-8 */
			ck_assert_str_eq(x->output, y->output);
	}
}

START_TEST(json_round_trip)
{
	const char *path = tmp_path("r.json");
	struct report r, back;
	char err[256] = "";

	sample(&r);
	report_sort(&r);
	ck_assert_int_eq(report_write_json(&r, path), 0);
	ck_assert_int_eq(report_read_json(path, &back, err, sizeof(err)), 0);
	assert_same(&r, &back);
	ck_assert_str_eq(back.failures[2].output,
			 "bytes \xEF\xBF\xBD\xEF\xBF\xBD ok \xEF\xBF\xBD x");
	report_free(&r);
	report_free(&back);
	ck_assert_ptr_null(back.failures); /* report_free leaves it empty */
}
END_TEST

START_TEST(json_schema_and_nulls)
{
	const char *path = tmp_path("r.json");
	json_object *o, *f0, *f1;
	struct report r;
	char *text;

	sample(&r);
	report_sort(&r);
	ck_assert_int_eq(report_write_json(&r, path), 0);
	o = parse_strict(path);
	ck_assert_str_eq(json_object_get_string(jpath(o, "faultline", NULL)),
			 PACKAGE_VERSION);
	ck_assert_int_eq(json_object_get_int(jpath(o, "states", "unique")),
			 310);
	ck_assert_int_eq(json_object_get_int(jpath(o, "shard", "k")), 2);
	ck_assert(json_object_is_type(jpath(o, "note", NULL), json_type_null));
	ck_assert(
	    json_object_is_type(jpath(o, "elapsed_s", NULL), json_type_double));
	f0 = json_object_array_get_idx(jpath(o, "failures", NULL), 0);
	f1 = json_object_array_get_idx(jpath(o, "failures", NULL), 1);
	ck_assert_str_eq(json_object_get_string(jpath(f0, "id", NULL)), "c3");
	ck_assert(json_object_is_type(jpath(f0, "exit_status", NULL),
				      json_type_null));
	ck_assert_int_eq(json_object_get_int(jpath(f0, "signal", NULL)), 9);
	ck_assert(json_object_get_boolean(jpath(f0, "timed_out", NULL)));
	ck_assert(
	    json_object_is_type(jpath(f1, "signal", NULL), json_type_null));
	ck_assert_int_eq(json_object_get_int(jpath(f1, "exit_status", NULL)),
			 1);
	ck_assert_str_eq(json_object_get_string(jpath(f1, "content_key", NULL)),
			 "d7f6185fc041929c" /* 812 * 0x9e3779b97f4a7c15 */);
	json_object_put(o);
	report_free(&r);

	/* Unsharded, no failures: shard null, coverage printed as a double. */
	memset(&r, 0, sizeof(r));
	r.coverage = 1.0;
	r.note = strdup("exhaustive: window 14 > 10, fell back to bounded:2");
	ck_assert_int_eq(report_write_json(&r, path), 0);
	o = parse_strict(path);
	ck_assert(json_object_is_type(jpath(o, "shard", NULL), json_type_null));
	ck_assert_str_eq(json_object_get_string(jpath(o, "trace", NULL)), "");
	ck_assert_int_eq(json_object_array_length(jpath(o, "failures", NULL)),
			 0);
	text = slurp(path);
	ck_assert_ptr_nonnull(strstr(text, "\"coverage\": 1.0,"));
	free(text);
	json_object_put(o);
	report_free(&r);

	/* Figures print as what they mean: seconds to the millisecond, a
	 * share to six digits, and a share below 1 never as 1. */
	memset(&r, 0, sizeof(r));
	r.coverage = 0.0010694493955990536;
	r.elapsed_s = 0.092999999999999999;
	ck_assert_int_eq(report_write_json(&r, path), 0);
	text = slurp(path);
	ck_assert_ptr_nonnull(strstr(text, "\"coverage\": 0.00106945,"));
	ck_assert_ptr_nonnull(strstr(text, "\"elapsed_s\": 0.093,"));
	free(text);
	r.coverage = 0.99999997;
	r.elapsed_s = 2;
	ck_assert_int_eq(report_write_json(&r, path), 0);
	text = slurp(path);
	ck_assert_ptr_nonnull(strstr(text, "\"coverage\": 0.999999,"));
	ck_assert_ptr_nonnull(strstr(text, "\"elapsed_s\": 2.0,"));
	free(text);
	report_free(&r);
}
END_TEST

/* Invalid UTF-8 becomes U+FFFD per maximal subpart; valid text is kept. */
START_TEST(json_invalid_utf8_becomes_fffd)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"a\xff"
	     "b",
	     "a\xEF\xBF\xBD"
	     "b"},
	    {"\xe2\x82", "\xEF\xBF\xBD"}, /* cut short */
	    {"\xed\xa0\x80",
	     "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
	    {"\xc0\xaf", "\xEF\xBF\xBD\xEF\xBF\xBD"}, /* overlong */
	    {"\xf4\x90\x80\x80",
	     "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
	    {"\xf0\x9f\x98\x80 \xc3\xa9", "\xf0\x9f\x98\x80 \xc3\xa9"},
	    {"\xf0\x9f\x98", "\xEF\xBF\xBD"},
	};
	const char *path = tmp_path("u.json");
	struct report r = {0}, back;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		add(&r, "s", i, "x", 1, 0, cases[i].in);
	ck_assert_int_eq(report_write_json(&r, path), 0);
	json_object_put(parse_strict(path));
	ck_assert_int_eq(report_read_json(path, &back, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(back.failures[i].output, cases[i].out);
	report_free(&r);
	report_free(&back);
}
END_TEST

START_TEST(json_reads_the_design_schema)
{
	const char *path = tmp_path("d.json");
	struct report r;
	char err[256];

	/* No added fields, an unknown one, integers where doubles go. */
	spit(path,
	     "{\"faultline\": \"0.0.9\", \"trace\": \"t\", \"model\": "
	     "\"strict\","
	     " \"mode\": \"prefix\", \"future\": [1, {\"x\": null}],"
	     " \"states\": {\"generated\": 5, \"unique\": 4, \"checked\": 4,"
	     " \"passed\": 3, \"failed\": 1, \"skipped\": 0},"
	     " \"coverage\": 1, \"elapsed_s\": 0,"
	     " \"failures\": [{\"id\": \"c4\", \"crash_after\": 4,"
	     " \"explanation\": \"e\", \"exit_status\": null, \"signal\": 11,"
	     " \"timed_out\": false, \"output\": \"\\u00e9\\n\"}]}\n");
	ck_assert_int_eq(report_read_json(path, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.model, "strict");
	ck_assert_uint_eq(r.generated, 5);
	ck_assert(r.coverage == 1.0);
	ck_assert_ptr_null(r.mechanism);
	ck_assert_ptr_null(r.note);
	ck_assert_uint_eq(r.shard_n, 0);
	ck_assert_uint_eq(r.nfailures, 1);
	ck_assert_int_eq(r.failures[0].exit_status, -1);
	ck_assert_int_eq(r.failures[0].signal, 11);
	ck_assert_str_eq(r.failures[0].output, "\xc3\xa9\n");
	ck_assert_uint_eq(r.failures[0].content_key, 0);
	report_free(&r);
}
END_TEST

#define GOOD_HEAD                                                              \
	"{\"faultline\": \"0.1.0\", \"trace\": \"t\", \"model\": \"posix\", "  \
	"\"mode\": \"prefix\", "
#define GOOD_STATES                                                            \
	"\"states\": {\"generated\": 1, \"unique\": 1, \"checked\": 1, "       \
	"\"passed\": 1, \"failed\": 0, \"skipped\": 0}, "
#define GOOD_TAIL "\"coverage\": 1.0, \"elapsed_s\": 0.5"
#define FAIL1(fields)                                                          \
	"\"failures\": [{\"id\": \"c1\", \"crash_after\": 1, "                 \
	"\"explanation\": \"e\", " fields "}]"
#define FAIL_OK                                                                \
	"\"exit_status\": 1, \"signal\": null, \"timed_out\": false, "         \
	"\"output\": \"\""

START_TEST(read_rejects_bad_reports)
{
	static const struct {
		const char *text, *reason;
	} cases[] = {
	    {"", "empty file"},
	    {"SQLite format 3\n\x01\x02", "not JSON"},
	    {"{\"faultline\": \"0.1.0\",", "ends early"},
	    {"[1, 2]", "not a JSON object"},
	    {"{} {}", "extra data"},
	    {"{}", "missing field \"faultline\""},
	    {GOOD_HEAD "\"failures\": []}", "missing field \"states\""},
	    {GOOD_HEAD "\"states\": {\"generated\": 1}, " GOOD_TAIL
		       ", \"failures\": []}",
	     "missing field \"states.unique\""},
	    {"{\"faultline\": \"x\", \"trace\": \"t\", \"model\": 7}",
	     "field \"model\" is not a string"},
	    {GOOD_HEAD "\"states\": {\"generated\": -1}}",
	     "\"states.generated\" is not a non-negative integer"},
	    {GOOD_HEAD GOOD_STATES "\"coverage\": \"all\"}",
	     "\"coverage\" is not a number"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL ", \"failures\": {}}",
	     "\"failures\" is not an array"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL ", \"failures\": [3]}",
	     "\"failures[0]\" is not an object"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL
	     ", " FAIL1("\"exit_status\": 1") "}",
	     "missing field \"failures[0].signal\""},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL
	     ", " FAIL1("\"exit_status\": 1, \"signal\": null, \"timed_out\": "
			"\"no\", \"output\": \"\"") "}",
	     "\"failures[0].timed_out\" is not true or false"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL
	     ", " FAIL1(FAIL_OK ", \"content_key\": \"12\"") "}",
	     "content_key\" is not a string of 16 hex digits"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL
	     ", \"failures\": [], \"shard\": {\"k\": 0, \"n\": 2}}",
	     "shard 0/2 is out of range"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL
	     ", \"failures\": [], \"shard\": {\"k\": 3, \"n\": 2}}",
	     "shard 3/2 is out of range"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL
	     ", \"failures\": [], \"shard\": 2}",
	     "\"shard\" is not an object or null"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL ", \"failures\": [], \"note\": 5}",
	     "\"note\" is not a string or null"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL
	     ", \"failures\": [], \"trace_status\": 5}",
	     "\"trace_status\" is not an object or null"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL
	     ", \"failures\": [], \"trace_status\": "
	     "{\"partial\": true, \"records_valid\": 3, \"reason\": null}}",
	     "\"trace_status.reason\" is not a string (the trace is partial)"},
	    {GOOD_HEAD GOOD_STATES GOOD_TAIL
	     ", \"failures\": [], \"trace_status\": "
	     "{\"partial\": false, \"reason\": null}}",
	     "missing field \"trace_status.records_valid\""},
	};
	const char *path = tmp_path("bad.json");
	struct report r;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		spit(path, cases[i].text);
		strcpy(err, "");
		ck_assert_msg(report_read_json(path, &r, err, sizeof(err)) < 0,
			      "case %zu accepted", i);
		ck_assert_msg(strstr(err, cases[i].reason),
			      "case %zu: '%s' lacks '%s'", i, err,
			      cases[i].reason);
		ck_assert_ptr_null(strchr(err, '\n'));
		ck_assert_ptr_null(r.trace); /* left empty */
		ck_assert_uint_eq(r.nfailures, 0);
	}
	/* The good skeleton itself is accepted. */
	spit(path, GOOD_HEAD GOOD_STATES GOOD_TAIL ", " FAIL1(FAIL_OK) "}");
	ck_assert_int_eq(report_read_json(path, &r, err, sizeof(err)), 0);
	report_free(&r);
	ck_assert_int_eq(
	    report_read_json(tmp_path("missing.json"), &r, err, sizeof(err)),
	    -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	ck_assert_int_lt(report_read_json(dir, &r, err, sizeof(err)), 0);
}
END_TEST

START_TEST(failures_sort_by_crash_point_then_id)
{
	static const char *const want[] = {"a", "b", "a", "z", "b"};
	static const uint64_t at[] = {2, 2, 10, 10, 11};
	struct report r = {0};
	size_t i;

	add(&r, "b", 11, "", 1, 0, "");
	add(&r, "z", 10, "", 1, 0, "");
	add(&r, "b", 2, "", 1, 0, "");
	add(&r, "a", 10, "", 1, 0, "");
	add(&r, "a", 2, "", 1, 0, "");
	for (i = 0; i < 40; i++) /* grows past the first allocation */
		add(&r, "zz", 1000 + i, "", 1, 0, "");
	report_sort(&r);
	for (i = 0; i < 5; i++) {
		ck_assert_str_eq(r.failures[i].id, want[i]);
		ck_assert_uint_eq(r.failures[i].crash_after, at[i]);
	}
	ck_assert_uint_eq(r.failures[44].crash_after, 1039);
	report_free(&r);
}
END_TEST

/* failure id at crash, under cause cid of kind and severity sev. */
static void add_caused(struct report *r, const char *id, uint64_t crash, const char *cid,
		       const char *kind, int sev)
{
	struct report_failure f = {
	    .id = (char *)id, .crash_after = crash, .explanation = "e", .exit_status = 1,
	    .output = "", .cause = (char *)cid, .cause_words = (char *)kind,
	    .cause_kind = (char *)kind, .cause_sig = "lost write /db append",
	    .cause_severity = sev,
	};

	ck_assert_int_eq(report_add_failure(r, &f), 0);
}

START_TEST(causes_by_severity_then_crash_point)
{
	struct report r = {0}, back;
	struct report_cause *c;
	size_t n;
	char err[256];
	const char *path = tmp_path("causes.json");

	r.trace = strdup("t");
	r.model = strdup("posix");
	r.mode = strdup("omit-one");
	r.mechanism = strdup("copy");
	/* the corrupt cause has more states and an earlier crash point */
	add_caused(&r, "c3-t2", 3, "c3-t2", "torn-write", REPORT_SEV_CORRUPT);
	add_caused(&r, "c4-t2", 4, "c3-t2", "torn-write", REPORT_SEV_CORRUPT);
	add_caused(&r, "c9-d8", 9, "c9-d8", "acknowledged-commit-lost", REPORT_SEV_ACKED);
	add_caused(&r, "c7-d6", 7, "c7-d6", "unsynced-write-breaks-recovery",
		   REPORT_SEV_CORRUPT);
	add_caused(&r, "c5-d1", 5, NULL, NULL, 0); /* no cause: its own, last */
	r.failed = r.checked = r.unique = r.generated = 5;
	report_sort(&r);
	ck_assert_int_eq(report_causes(&r, &c, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(c[0].id, "c9-d8");
	ck_assert_str_eq(c[0].kind, "acknowledged-commit-lost");
	ck_assert_str_eq(c[1].id, "c3-t2");
	ck_assert_uint_eq(c[1].n, 2);
	ck_assert_uint_eq(c[1].crash, 3);
	ck_assert_str_eq(c[2].id, "c7-d6");
	ck_assert_str_eq(c[3].id, "c5-d1");
	ck_assert_ptr_null(c[3].kind);
	report_causes_free(c, n);
	/* what a cause is survives the JSON (merge reads it back) */
	ck_assert_int_eq(report_write_json(&r, path), 0);
	ck_assert_int_eq(report_read_json(path, &back, err, sizeof(err)), 0);
	ck_assert_int_eq(report_causes(&back, &c, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(c[0].kind, "acknowledged-commit-lost");
	ck_assert_int_eq(c[0].severity, REPORT_SEV_ACKED);
	ck_assert_str_eq(c[1].sig, "lost write /db append");
	ck_assert_int_eq(c[1].severity, REPORT_SEV_CORRUPT);
	report_causes_free(c, n);
	report_free(&back);
	report_free(&r);
	ck_assert_str_eq(report_severity_name(REPORT_SEV_ACKED), "acknowledged data lost");
	ck_assert_int_eq(report_severity_of("corrupt or unopenable"), REPORT_SEV_CORRUPT);
	ck_assert_int_eq(report_severity_of("bad"), 0);
}
END_TEST

/* ---- JUnit ---- */

/*
 * A tiny XML well-formedness check: balanced tags, quoted attributes, no
 * raw '<' or '&' outside markup and entities, no forbidden control bytes.
 */
static void assert_well_formed(const char *x)
{
	const char *stack[16];
	size_t len[16];
	int depth = 0;

	for (; *x; x++) {
		ck_assert_msg((unsigned char)*x >= 0x20 || strchr("\t\n\r", *x),
			      "control byte %#x in XML", *x);
		if (*x == '&') {
			ck_assert_msg(!strncmp(x, "&amp;", 5) ||
					  !strncmp(x, "&lt;", 4) ||
					  !strncmp(x, "&gt;", 4) ||
					  !strncmp(x, "&quot;", 6) ||
					  !strncmp(x, "&#", 2),
				      "bare & at: %.20s", x);
		} else if (*x == '<' && x[1] == '?') {
			x = strstr(x, "?>") + 1;
		} else if (*x == '<' && x[1] == '/') {
			ck_assert_int_gt(depth, 0);
			depth--;
			ck_assert(!strncmp(x + 2, stack[depth], len[depth]) &&
				  x[2 + len[depth]] == '>');
			x += 2 + len[depth];
		} else if (*x == '<') {
			const char *name = x + 1, *q;
			size_t n = strcspn(name, " />");
			bool quoted = false;

			for (q = name + n; *q && (quoted || *q != '>'); q++) {
				ck_assert_msg(*q != '<',
					      "< inside a tag: %.30s", name);
				if (*q == '"')
					quoted = !quoted;
			}
			ck_assert(*q == '>');
			if (q[-1] != '/') {
				ck_assert_int_lt(depth, 16);
				stack[depth] = name;
				len[depth++] = n;
			}
			x = q;
		}
	}
	ck_assert_int_eq(depth, 0);
}

START_TEST(junit_is_well_formed_and_escaped)
{
	const char *path = tmp_path("r.xml");
	char cmd[600];
	struct report r;
	char *x;

	sample(&r);
	report_sort(&r);
	ck_assert_int_eq(report_write_junit(&r, path), 0);
	x = slurp(path);
	assert_well_formed(x);
	ck_assert_ptr_nonnull(
	    strstr(x, "<testsuite name=\"faultline posix omit-one shard 2/4\" "
		      "tests=\"8\" failures=\"6\" errors=\"0\" skipped=\"1\""));
	/* Causes come first: here each failure is its own cause. */
	ck_assert_ptr_nonnull(strstr(x, "name=\"cause c812-d790 (1 state)\""));
	ck_assert(strstr(x, "classname=\"faultline.posix.causes\"") <
		  strstr(x, "name=\"state c812-d790\""));
	ck_assert_ptr_nonnull(strstr(x,
				     "<testcase classname=\"faultline.posix\" "
				     "name=\"state c812-d790\""));
	ck_assert_ptr_nonnull(
	    strstr(x, "<failure message=\"crash during op 812 fsync(wal)\" "
		      "type=\"checker exit 1\">"));
	ck_assert_ptr_nonnull(strstr(x, "type=\"checker timed out\""));
	ck_assert_ptr_nonnull(
	    strstr(x, "wal: bad &lt;crc&gt; &amp; \"more\"\n\ttab end"));
	ck_assert_ptr_nonnull(
	    strstr(x, "bytes \xEF\xBF\xBD\xEF\xBF\xBD ok \xEF\xBF\xBD x"));
	ck_assert_ptr_nonnull(strstr(x, "name=\"74 passing states\""));
	ck_assert_ptr_nonnull(strstr(x, "name=\"1 unchecked state\""));
	ck_assert_ptr_nonnull(
	    strstr(x, "<skipped message=\"budget ran out: 1 of 310 unique"));
	ck_assert_ptr_nonnull(
	    strstr(x, "value=\"/tmp/t &quot;q&quot;/faultline.trace\""));
	ck_assert_ptr_null(strstr(x, "<crc>"));
	/* A second opinion on well-formedness; scripts/deps --test installs
	 * xmllint, so its absence fails rather than skips the check. */
	ck_assert_msg(system("command -v xmllint >/dev/null 2>&1") == 0,
		      "xmllint is not installed (package libxml2-utils)");
	snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	free(x);
	report_free(&r);
}
END_TEST

START_TEST(junit_all_passing)
{
	const char *path = tmp_path("p.xml");
	struct report r = {.model = "strict",
			   .mode = "prefix",
			   .trace = "t",
			   .unique = 9,
			   .checked = 9,
			   .passed = 9,
			   .coverage = 1};
	char *x;

	ck_assert_int_eq(report_write_junit(&r, path), 0);
	x = slurp(path);
	assert_well_formed(x);
	ck_assert_ptr_nonnull(
	    strstr(x, "tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\""));
	ck_assert_ptr_nonnull(strstr(x, "name=\"9 passing states\""));
	ck_assert_ptr_null(strstr(x, "<failure"));
	ck_assert_ptr_null(strstr(x, "<skipped"));
	free(x);
}
END_TEST

/* A partial trace: in the JSON and back, a skipped JUnit case, the summary. */
START_TEST(partial_trace_in_every_form)
{
	const char *path = tmp_path("r.json"), *xml = tmp_path("r.xml");
	struct report r = {.model = strdup("posix"),
			   .mode = strdup("prefix"),
			   .trace = strdup("t"),
			   .mechanism = strdup("copy"),
			   .unique = 4,
			   .checked = 4,
			   .passed = 4,
			   .coverage = 1},
		      back;
	char err[256], *text = NULL, *x;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_object *o;

	r.tstatus = (struct report_trace_status){
	    .known = true,
	    .partial = true,
	    .records_valid = 41,
	    .reason = strdup("the recorder died while recording (meta.json "
			     "status \"recorder-failed\")")};
	ck_assert_int_eq(report_write_json(&r, path), 0);
	o = parse_strict(path);
	ck_assert(json_object_get_boolean(jpath(o, "trace_status", "partial")));
	ck_assert_int_eq(
	    json_object_get_int(jpath(o, "trace_status", "records_valid")), 41);
	ck_assert_str_eq(json_object_get_string(jpath(o, "trace", NULL)), "t");
	json_object_put(o);
	ck_assert_int_eq(report_read_json(path, &back, err, sizeof(err)), 0);
	assert_same(&r, &back);
	report_free(&back);
	ck_assert_int_eq(report_write_junit(&r, xml), 0);
	x = slurp(xml);
	assert_well_formed(x);
	ck_assert_ptr_nonnull(
	    strstr(x, "tests=\"2\" failures=\"0\" errors=\"0\" skipped=\"1\""));
	ck_assert_ptr_nonnull(
	    strstr(x, "<skipped message=\"partial trace: only its 41 valid "
		      "records were explored (--partial): the recorder died"));
	ck_assert_ptr_nonnull(
	    strstr(x, "<property name=\"trace.partial\" value=\"true\"/>"));
	free(x);
	report_print_summary(&r, f);
	fclose(f);
	ck_assert_ptr_nonnull(
	    strstr(text, "\nPARTIAL TRACE: only its 41 valid records were "
			 "explored (--partial): the recorder died"));
	free(text);
	report_free(&r);
}
END_TEST

/* ---- summary ---- */

START_TEST(summary_lines)
{
	struct report r;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	sample(&r);
	free(r.failures[0].output);
	r.failures[0].output = strdup("l1\r\nl2\nl3\nl4\nl5\nl6\nl7\n");
	r.note = strdup("exhaustive: window 14 > 10, fell back to bounded:2");
	report_sort(&r);
	report_print_summary(&r, f);
	fclose(f);
	ck_assert_ptr_nonnull(
	    strstr(text, "faultline: posix/omit-one shard 2/4 on /tmp/t "
			 "\"q\"/faultline.trace: "
			 "1234 states generated, 310 unique, 77 checked: 74 "
			 "passed, 3 failed, "
			 "1 skipped (coverage 98.7%, 2.1 s: 588 generated/s, "
			 "37 checked/s, reflink (xfs))\n"));
	ck_assert_ptr_nonnull(
	    strstr(text, "FAIL c3  crash during op 3: dropped \\ backslash\n"
			 "    checker timed out, no output\n"));
	ck_assert_ptr_nonnull(
	    strstr(text, "FAIL c812-d790  crash during op 812 fsync(wal)\n"
			 "    op 790 torn\n"
			 "    checker exit 1: l1\n        l2\n        l3\n     "
			 "   l4\n        l5\n"
			 "        ... (2 more lines)\n"));
	ck_assert_ptr_nonnull(
	    strstr(text, "    checker exit 2: bytes \xEF\xBF\xBD"));
	ck_assert_ptr_nonnull(strstr(text, "\nnote: exhaustive: window 14"));
	ck_assert_ptr_null(strchr(text, '\r'));
	free(text);
	report_free(&r);
}
END_TEST

START_TEST(summary_complete_run)
{
	struct report r = {.model = "posix",
			   .mode = "prefix",
			   .trace = "t",
			   .generated = 3,
			   .unique = 2,
			   .checked = 2,
			   .passed = 2,
			   .coverage = 1,
			   .elapsed_s = 0.04};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	report_print_summary(&r, f);
	fclose(f);
	ck_assert_str_eq(text,
			 "faultline: posix/prefix on t: 3 states generated, "
			 "2 unique, 2 checked: 2 passed, 0 failed "
			 "(coverage 100%, 0.0 s)\n");
	free(text);
}
END_TEST

/* ---- durable writes ---- */

static int fail_errno; /* errno the injected syscall fails with */

static ssize_t write_fails(int fd, const void *buf, size_t n)
{
	errno = fail_errno;
	return -1;
}

static ssize_t write_short(int fd, const void *buf, size_t n)
{
	return write(fd, buf, n > 7 ? 7 : n); /* short writes are retried */
}

static int fsync_fails(int fd)
{
	errno = fail_errno;
	return -1;
}

static int rename_fails(const char *a, const char *b)
{
	errno = fail_errno;
	return -1;
}

/* Only "r.json" is in the test's directory: no temp file was left. */
static void assert_only_report(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		ck_assert_msg(!strcmp(e->d_name, ".") ||
				  !strcmp(e->d_name, "..") ||
				  !strcmp(e->d_name, "r.json"),
			      "left behind: %s", e->d_name);
	closedir(d);
}

START_TEST(failed_write_keeps_the_old_report)
{
	struct report_syscalls saved = report_sys;
	const char *path = tmp_path("r.json");
	struct report r, back;
	char err[256];

	sample(&r);
	ck_assert_int_eq(report_write_json(&r, path), 0);
	r.failed = 99;
	fail_errno = ENOSPC;
	report_sys.write = write_fails;
	ck_assert_int_eq(report_write_json(&r, path), -ENOSPC);
	report_sys = saved;
	fail_errno = EIO;
	report_sys.fsync = fsync_fails;
	ck_assert_int_eq(report_write_junit(&r, path), -EIO);
	report_sys = saved;
	report_sys.rename = rename_fails;
	ck_assert_int_eq(report_write_json(&r, path), -EIO);
	report_sys = saved;
	assert_only_report();
	ck_assert_int_eq(report_read_json(path, &back, err, sizeof(err)), 0);
	ck_assert_uint_eq(back.failed, 3); /* the first report, whole */
	report_free(&back);

	report_sys.write = write_short;
	ck_assert_int_eq(report_write_json(&r, path), 0);
	report_sys = saved;
	ck_assert_int_eq(report_read_json(path, &back, err, sizeof(err)), 0);
	ck_assert_uint_eq(back.failed, 99);
	assert_only_report();
	report_free(&back);
	report_free(&r);
}
END_TEST

START_TEST(writes_in_place_to_non_regular_files)
{
	struct report r, back;
	char link[64], err[256];

	sample(&r);
	ck_assert_int_eq(report_write_json(&r, "/dev/null"), 0);
	/* A symlinked report: the target is replaced, the link stays. */
	ck_assert_int_eq(report_write_junit(&r, tmp_path("r.json")), 0);
	ck_assert_int_eq(symlink("r.json", tmp_path("latest.json")), 0);
	ck_assert_int_eq(report_write_json(&r, tmp_path("latest.json")), 0);
	ck_assert_int_eq(readlink(tmp_path("latest.json"), link, sizeof(link)),
			 6);
	ck_assert_int_eq(
	    report_read_json(tmp_path("r.json"), &back, err, sizeof(err)), 0);
	report_free(&back);
	ck_assert_int_eq(report_write_junit(&r, "/dev/null"), 0);
	ck_assert_int_eq(report_write_json(&r, tmp_path("no/such/dir.json")),
			 -ENOENT);
	report_free(&r);
}
END_TEST

/* ---- progress ---- */

START_TEST(progress_is_a_no_op_off_a_tty)
{
	FILE *f = tmpfile();
	struct report_progress *p = report_progress_new(f);

	ck_assert_ptr_null(p);
	report_progress_update(p, 1, 2, 0);
	report_progress_end(p);
	report_progress_end(report_progress_new(NULL));
	ck_assert_int_eq(ftell(f), 0);
	fclose(f);
}
END_TEST

START_TEST(progress_draws_on_a_tty)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	char buf[512];
	size_t len;
	ssize_t n;
	FILE *tty;
	struct report_progress *p;

	/* Not a skip: CI always has /dev/ptmx, so no pty is a broken setup. */
	if (master < 0)
		ck_abort_msg("cannot open a pty (posix_openpt): %s",
			     strerror(errno));
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	ck_assert_ptr_nonnull(ptsname(master));
	tty = fopen(ptsname(master), "w");
	ck_assert_msg(tty != NULL, "cannot open %s: %s", ptsname(master),
		      strerror(errno));
	/* The test's own clock: a run slowed by valgrind draws the same. */
	p = report_progress_new_at(tty, 1000000000LL);
	ck_assert_ptr_nonnull(p);
	/* 0.5 s in: 2468 states/s, 3766 left: ETA 1.5 s, shown as 0:02 */
	report_progress_update_at(p, 1234, 5000, 3, 1500000000LL);
	/* 50 ms after the last redraw: not drawn */
	report_progress_update_at(p, 1235, 5000, 3, 1550000000LL);
	/* the last one always is, even within 100 ms */
	report_progress_update_at(p, 5000, 5000, 3, 1560000000LL);
	report_progress_end(p);
	fclose(tty);
	for (len = 0; len < sizeof(buf) - 1; len += (size_t)n) {
		struct pollfd pfd = {.fd = master, .events = POLLIN};

		if (poll(&pfd, 1, 200) <= 0)
			break;
		n = read(master, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
	}
	buf[len] = 0;
	ck_assert_ptr_nonnull(strstr(
		buf, "\r  1234/5000 states  3 failed  2468/s  ETA 0:02\033[K"));
	ck_assert_ptr_null(strstr(buf, "1235/"));
	/* 5000 in 0.56 s: 8929/s */
	ck_assert_ptr_nonnull(strstr(
		buf, "\r  5000/5000 states  3 failed  8929/s  ETA 0:00\033[K\r\033[K"));
	close(master);
}
END_TEST

Suite *make_report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");

	tcase_add_checked_fixture(tc, make_dir, NULL);

	tcase_add_test(tc, json_round_trip);
	tcase_add_test(tc, json_schema_and_nulls);
	tcase_add_test(tc, json_invalid_utf8_becomes_fffd);
	tcase_add_test(tc, json_reads_the_design_schema);
	tcase_add_test(tc, read_rejects_bad_reports);
	tcase_add_test(tc, failures_sort_by_crash_point_then_id);
	tcase_add_test(tc, causes_by_severity_then_crash_point);
	tcase_add_test(tc, junit_is_well_formed_and_escaped);
	tcase_add_test(tc, junit_all_passing);
	tcase_add_test(tc, partial_trace_in_every_form);
	tcase_add_test(tc, summary_lines);
	tcase_add_test(tc, summary_complete_run);
	tcase_add_test(tc, failed_write_keeps_the_old_report);
	tcase_add_test(tc, writes_in_place_to_non_regular_files);
	tcase_add_test(tc, progress_is_a_no_op_off_a_tty);
	tcase_add_test(tc, progress_draws_on_a_tty);
	suite_add_tcase(s, tc);
	return s;
}
