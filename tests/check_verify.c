/*
 * check_verify.c - unit tests for src/verify.c: TRACE/base held to the
 * BASE records.  Each test builds a small trace (check_util.h), edits its
 * base/ as a user might after recording, and expects the edit named.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "check_util.h"
#include "fl_error.h"
#include "verify.h"

static struct tb b;

/*
 * base/: a (3 bytes), d/ and d/big (8 KiB of zeros but one byte), l -> a,
 * and h (a hard link of a).
 */
static struct ops_trace *small_trace(void)
{
	static char big[8192];
	char path[700], rel[700];
	struct trace_rec r = {.op = TRACE_OP_BASE,
			      .id = 5,
			      .parent = 1,
			      .mode = 0120777,
			      .name = "l",
			      .name_len = 1,
			      .len = 1};

	big[6000] = 'z';
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "a", "a", "hi\n", 3, 0644);
	tb_base(&b, 3, 1, "d", "d", NULL, 0, 0755);
	tb_base(&b, 4, 3, "big", "d/big", big, sizeof(big), 0644);
	snprintf(path, sizeof(path), "%s/base/l", b.dir);
	ck_assert_int_eq(symlink("a", path), 0);
	r.id2 = trace_content_hash("a", 1);
	tb_rec(&b, r);
	snprintf(path, sizeof(path), "%s/base/a", b.dir);
	snprintf(rel, sizeof(rel), "%s/base/h", b.dir);
	ck_assert_int_eq(link(path, rel), 0);
	r = (struct trace_rec){.op = TRACE_OP_BASE,
			       .id = 2,
			       .parent = 1,
			       .mode = 0100644,
			       .name = "h",
			       .name_len = 1,
			       .len = 3,
			       .id2 = trace_content_hash("hi\n", 3)};
	tb_rec(&b, r);
	return tb_finish(&b);
}

/* Path of rel below the trace's base/. */
static const char *in_base(const char *rel)
{
	static char path[800];

	snprintf(path, sizeof(path), "%s/base/%s", b.dir, rel);
	return path;
}

static void put(const char *rel, const char *text)
{
	FILE *f = fopen(in_base(rel), "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* verify_base refuses t with a reason holding want. */
static void refused(struct ops_trace *t, const char *want)
{
	char why[400];

	ck_assert_int_eq(verify_base(t, why, sizeof(why)), -FL_EBADTRACE);
	ck_assert_msg(strstr(why, want), "'%s' not in '%s'", want, why);
	ops_free(t);
}

START_TEST(untouched_base_passes)
{
	struct ops_trace *t = small_trace();
	char why[400];
	int fd;

	ck_assert_int_eq(verify_base(t, why, sizeof(why)), 0);
	/* The same bytes with a hole where the zeros were: still the recorded
	 * file. */
	fd = open(in_base("d/big"), O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "z", 1, 6000), 1);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	close(fd);
	ck_assert_int_eq(verify_base(t, why, sizeof(why)), 0);
	ops_free(t);
}
END_TEST

START_TEST(added_entry_is_named)
{
	struct ops_trace *t = small_trace();

	put("d/new", "x");
	refused(t, "base/d/new was added after recording");
}
END_TEST

START_TEST(removed_entry_is_named)
{
	struct ops_trace *t = small_trace();

	ck_assert_int_eq(unlink(in_base("d/big")), 0);
	refused(t, "base/d/big was removed after recording");
}
END_TEST

START_TEST(rewritten_entry_is_named)
{
	struct ops_trace *t = small_trace();

	put("a", "HI\n"); /* same size, other bytes (h, its hard link, too) */
	refused(t, "base/a was rewritten after recording: its bytes differ");
}
END_TEST

START_TEST(resized_entry_is_named)
{
	struct ops_trace *t = small_trace();

	put("a", "hello\n");
	refused(t, "base/a was rewritten after recording: it holds 6 bytes, "
		   "the trace recorded 3");
}
END_TEST

START_TEST(retargeted_symlink_is_named)
{
	struct ops_trace *t = small_trace();

	ck_assert_int_eq(unlink(in_base("l")), 0);
	ck_assert_int_eq(symlink("d", in_base("l")), 0);
	refused(t, "base/l was rewritten after recording: the symlink points "
		   "elsewhere");
}
END_TEST

START_TEST(retyped_entry_is_named)
{
	struct ops_trace *t = small_trace();

	ck_assert_int_eq(unlink(in_base("d/big")), 0);
	ck_assert_int_eq(rmdir(in_base("d")), 0);
	ck_assert_int_eq(symlink("/", in_base("d")), 0);
	refused(t, "base/d is a symlink, the trace recorded a directory");
}
END_TEST

Suite *make_verify_suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc = tcase_create("base");

	tcase_add_test(tc, untouched_base_passes);
	tcase_add_test(tc, added_entry_is_named);
	tcase_add_test(tc, removed_entry_is_named);
	tcase_add_test(tc, rewritten_entry_is_named);
	tcase_add_test(tc, resized_entry_is_named);
	tcase_add_test(tc, retargeted_symlink_is_named);
	tcase_add_test(tc, retyped_entry_is_named);
	suite_add_tcase(s, tc);
	return s;
}
