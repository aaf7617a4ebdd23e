/*
 * check_trace_meta.c - unit tests for src/trace_meta.c: reading
 * meta.json, sealing it with the records' digest, and holding what a
 * reader read to it (complete, damaged, unfinished, --partial).
 */
#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "check_util.h"
#include "fl_error.h"
#include "trace_meta.h"

/* A trace directory with three records and a sealed, complete meta.json. */
static const char *sealed_trace(void)
{
	static struct tb b;
	struct ops_trace *t;

	tb_start(&b, "t");
	tb_rec(&b, TB_MARK("one"));
	tb_rec(&b, TB_MARK("two"));
	tb_rec(&b, TB_MARK("three"));
	t = tb_finish(&b);
	ops_free(t);
	return b.dir;
}

/* Writes text as dir/meta.json. */
static void put_meta(const char *dir, const char *text)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/meta.json", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(seal_reads_back)
{
	const char *dir = sealed_trace();
	struct trace_meta m;
	char err[256];

	ck_assert_int_eq(trace_meta_read(dir, &m, err, sizeof(err)), 0);
	ck_assert_str_eq(m.status, "complete");
	ck_assert(m.sealed);
	ck_assert_uint_eq(m.digest.records, 3);
	ck_assert_uint_gt(m.digest.bytes, 16);
	ck_assert_int_eq(m.start_ns, 1700000000000000000);
}
END_TEST

START_TEST(read_refuses_what_it_cannot_trust)
{
	const char *dir = sealed_trace();
	struct trace_meta m;
	char err[256];

	put_meta(dir, "{\"status\": \"complete\", \"records\": 3, "
		      "\"records_bytes\": 99}");
	ck_assert_int_eq(trace_meta_read(dir, &m, err, sizeof(err)),
			 -FL_EBADTRACE);
	ck_assert_ptr_nonnull(
	    strstr(err, "records_bytes without records_xxh3"));
	put_meta(dir, "{\"records_bytes\": 99, \"records_xxh3\": \"12345\"}");
	ck_assert_int_eq(trace_meta_read(dir, &m, err, sizeof(err)),
			 -FL_EBADTRACE);
	ck_assert_ptr_nonnull(strstr(err, "16 hex digits"));
	put_meta(dir, "{\"status\": 7}");
	ck_assert_int_eq(trace_meta_read(dir, &m, err, sizeof(err)),
			 -FL_EBADTRACE);
	ck_assert_ptr_nonnull(strstr(err, "\"status\" is not a string"));
	put_meta(dir, "{\"status\": \"compl");
	ck_assert_int_eq(trace_meta_read(dir, &m, err, sizeof(err)),
			 -FL_EBADTRACE);
	ck_assert_ptr_nonnull(strstr(err, "not valid JSON"));
	put_meta(dir, "[1, 2]");
	ck_assert_int_eq(trace_meta_read(dir, &m, err, sizeof(err)),
			 -FL_EBADTRACE);
	ck_assert_int_eq(trace_meta_read("/nonexistent", &m, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "cannot read meta.json"));
}
END_TEST

/* A meta with status st, sealed with digest d unless d is NULL. */
static struct trace_meta meta_of(const char *st, const struct trace_digest *d)
{
	struct trace_meta m = {0};

	snprintf(m.status, sizeof(m.status), "%s", st);
	if (d) {
		m.digest = *d;
		m.sealed = true;
	}
	return m;
}

START_TEST(complete_must_read_whole_and_match)
{
	struct trace_digest d = {.records = 27, .bytes = 2000, .xxh3 = 0x1234},
			    got = d;
	struct trace_meta m = meta_of("complete", &d);
	char why[400];

	ck_assert_int_eq(
	    trace_meta_check(&m, &got, NULL, false, why, sizeof(why)), 0);
	/* Damaged: reading stopped early. --partial does not help. */
	got.records = 3;
	ck_assert_int_eq(
	    trace_meta_check(&m, &got,
			     "record 4 at byte 200: impossible record length",
			     true, why, sizeof(why)),
	    -FL_EBADTRACE);
	ck_assert_str_eq(
	    why,
	    "meta.json says the recording is complete, but only 3 of its 27 "
	    "records read: record 4 at byte 200: impossible record length");
	/* Cut at a record boundary. */
	ck_assert_int_eq(
	    trace_meta_check(&m, &got, NULL, true, why, sizeof(why)),
	    -FL_EBADTRACE);
	ck_assert_ptr_nonnull(
	    strstr(why, "promises 27 records, the records file holds 3"));
	/* Same count, other bytes. */
	got = d;
	got.xxh3 = 0x4321;
	ck_assert_int_eq(
	    trace_meta_check(&m, &got, NULL, false, why, sizeof(why)),
	    -FL_EBADTRACE);
	ck_assert_ptr_nonnull(strstr(why, "does not match the checksum"));
	got = d;
	got.bytes = 2001;
	ck_assert_int_eq(
	    trace_meta_check(&m, &got, NULL, false, why, sizeof(why)),
	    -FL_EBADTRACE);
	ck_assert_ptr_nonnull(strstr(why, "2000 bytes of records"));
	/* A complete trace without a digest: refused, with what to do. */
	m = meta_of("complete", NULL);
	ck_assert_int_eq(trace_meta_check(&m, &d, NULL, true, why, sizeof(why)),
			 -FL_EBADTRACE);
	ck_assert_ptr_nonnull(strstr(why, "record the trace again"));
}
END_TEST

START_TEST(unfinished_needs_partial)
{
	struct trace_digest d = {.records = 41, .bytes = 5000, .xxh3 = 7},
			    got = d;
	struct trace_meta m = meta_of("recorder-failed", &d);
	char why[400];

	ck_assert_int_eq(
	    trace_meta_check(&m, &got, NULL, false, why, sizeof(why)),
	    -FL_EBADTRACE);
	ck_assert_str_eq(
	    why,
	    "the recorder died while recording (meta.json status "
	    "\"recorder-failed\"); --partial explores its 41 valid records");
	ck_assert_int_eq(
	    trace_meta_check(&m, &got,
			     "record 42 at byte 5000: file ends inside a "
			     "record",
			     true, why, sizeof(why)),
	    1);
	ck_assert_str_eq(
	    why,
	    "the recorder died while recording (meta.json status "
	    "\"recorder-failed\"); reading stopped at record 42 at byte 5000: "
	    "file ends inside a record");
	/* Its digest, kept when recording stopped, must still hold. */
	got.records = 40;
	ck_assert_int_eq(
	    trace_meta_check(&m, &got, NULL, true, why, sizeof(why)),
	    -FL_EBADTRACE);
	ck_assert_ptr_nonnull(strstr(why, "promises 41 records"));
	/* Killed before meta.json was rewritten: no digest to hold it to. */
	m = meta_of("recording", NULL);
	ck_assert_int_eq(
	    trace_meta_check(&m, &got, NULL, true, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "never finished"));
	m = meta_of("interrupted", NULL);
	ck_assert_int_eq(
	    trace_meta_check(&m, &got, NULL, true, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "interrupted by a signal"));
	m = meta_of("", NULL);
	ck_assert_int_eq(
	    trace_meta_check(&m, &got, NULL, false, why, sizeof(why)),
	    -FL_EBADTRACE);
	ck_assert_ptr_nonnull(strstr(why, "no status"));
}
END_TEST

START_TEST(load_holds_the_trace_to_meta)
{
	const char *dir = sealed_trace();
	struct ops_trace *t;
	char err[400], path[700];

	/* Cut one byte into the second record. */
	snprintf(path, sizeof(path), "%s/records", dir);
	ck_assert_int_eq(truncate(path, 16 + 44), 0);
	ck_assert_int_eq(ops_load(dir, 0, &t, err, sizeof(err)), -FL_EBADTRACE);
	ck_assert_ptr_null(t);
	ck_assert_ptr_nonnull(strstr(err, "only 1 of its 3 records read"));
	ck_assert_int_eq(ops_load(dir, OPS_LOAD_PARTIAL, &t, err, sizeof(err)),
			 -FL_EBADTRACE);
	/* The same bytes under an unfinished recording: a prefix, on request.
	 */
	put_meta(dir, "{\"status\": \"recording\", \"records\": 0}");
	ck_assert_int_eq(ops_load(dir, 0, &t, err, sizeof(err)), -FL_EBADTRACE);
	ck_assert_ptr_nonnull(
	    strstr(err, "--partial explores its 1 valid records"));
	ck_assert_int_eq(ops_load(dir, OPS_LOAD_PARTIAL, &t, err, sizeof(err)),
			 0);
	ck_assert(t->partial);
	ck_assert_uint_eq(t->records_valid, 1);
	ck_assert_uint_eq(t->n, 1);
	ck_assert_ptr_nonnull(
	    strstr(t->partial_reason, "file ends inside a record"));
	ops_free(t);
}
END_TEST

Suite *make_trace_meta_suite(void)
{
	Suite *s = suite_create("trace_meta");
	TCase *tc = tcase_create("meta");

	tcase_add_test(tc, seal_reads_back);
	tcase_add_test(tc, read_refuses_what_it_cannot_trust);
	tcase_add_test(tc, complete_must_read_whole_and_match);
	tcase_add_test(tc, unfinished_needs_partial);
	tcase_add_test(tc, load_holds_the_trace_to_meta);
	suite_add_tcase(s, tc);
	return s;
}
