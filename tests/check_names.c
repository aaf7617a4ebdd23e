/*
 * check_names.c - unit tests for src/names.c: paths replayed from records.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_suites.h"
#include "names.h"

static void apply(struct names *n, unsigned op, uint64_t parent, uint64_t id,
		  const char *name)
{
	struct trace_rec r = {.op = (uint16_t)op, .parent = parent, .id = id,
			      .name = name, .name_len = (uint32_t)strlen(name)};

	ck_assert_int_eq(names_apply(n, &r), 0);
}

static const char *path_of(struct names *n, uint64_t id)
{
	static char buf[256];

	names_path(n, id, buf, sizeof(buf));
	return buf;
}

START_TEST(paths_follow_namespace_ops)
{
	struct names *n = names_new();
	struct trace_rec ren = {.op = TRACE_OP_RENAME, .id = 4, .parent = 2,
				.name = "f.tmp", .name_len = 5, .parent2 = 1,
				.name2 = "f", .name2_len = 1, .id2 = 3};

	apply(n, TRACE_OP_BASE, 1, 2, "dir");
	apply(n, TRACE_OP_BASE, 1, 3, "f");
	apply(n, TRACE_OP_CREATE, 2, 4, "f.tmp");
	ck_assert_str_eq(path_of(n, 1), "/");
	ck_assert_str_eq(path_of(n, 4), "/dir/f.tmp");
	ck_assert_int_eq(names_apply(n, &ren), 0);
	ck_assert_str_eq(path_of(n, 4), "/f");
	ck_assert_str_eq(path_of(n, 3), "<deleted id 3>");
	apply(n, TRACE_OP_UNLINK, 1, 4, "f");
	ck_assert_int_eq(names_path(n, 4, (char[64]){0}, 64), -ENOENT);
	ck_assert_str_eq(path_of(n, 99), "<id 99>");
	names_free(n);
}
END_TEST

START_TEST(failed_ops_change_nothing)
{
	struct names *n = names_new();
	struct trace_rec r = {.op = TRACE_OP_CREATE, .parent = 1, .id = 5,
			      .name = "x", .name_len = 1, .result = -EEXIST};

	ck_assert_int_eq(names_apply(n, &r), 0);
	ck_assert_str_eq(path_of(n, 5), "<id 5>");
	names_free(n);
}
END_TEST

START_TEST(parent_cycle_terminates)
{
	struct names *n = names_new();
	char buf[64];

	apply(n, TRACE_OP_MKDIR, 3, 2, "a");
	apply(n, TRACE_OP_MKDIR, 2, 3, "b");
	ck_assert_int_eq(names_path(n, 2, buf, sizeof(buf)), -ENAMETOOLONG);
	names_free(n);
}
END_TEST

Suite *make_names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("paths");

	tcase_add_test(tc, paths_follow_namespace_ops);
	tcase_add_test(tc, failed_ops_change_nothing);
	tcase_add_test(tc, parent_cycle_terminates);
	suite_add_tcase(s, tc);
	return s;
}
