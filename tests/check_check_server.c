/*
 * check_check_server.c - the warm checker runner (src/check_server.c):
 * each reply of the protocol maps to the result check.h promises, fields
 * that cannot travel are refused, a server serves many states and is
 * replaced after a state it failed, and stderr becomes the output.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "check_suites.h"

static char st[PATH_MAX + 8]; /* the state directory */

static void setup(void)
{
	char base[PATH_MAX];

	ck_assert_ptr_nonnull(realpath(check_tmpdir(), base));
	snprintf(st, sizeof(st), "%s/st", base);
	ck_assert_int_eq(mkdir(st, 0755), 0);
}

/*
 * A server (sh) that answers the request for state id "i<N>" with the
 * N-th word of replies ("_" for a space), after writing "err <id>" to
 * stderr.  Runs ids i1..i<n> through it, one at a time, into res[].
 */
static void serve(const char *replies, unsigned n, struct check_result *res)
{
	struct check_runner *r;
	char cmd[1024], id[16];
	void *tok;
	unsigned i;

	snprintf(cmd, sizeof(cmd),
		 "set -- %s; while IFS=$(printf '\\t') read -r d id m; do "
		 "echo \"err $id\" >&2; k=${id#i}; eval \"w=\\${$k}\"; "
		 "[ \"$w\" = die ] && exit 5; "
		 "printf '%%s\\n' \"$w\" | tr _ ' '; done",
		 replies);
	ck_assert_int_eq(check_runner_new_server(cmd, 1, 10, 4096, &r), 0);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "i%u", i + 1);
		ck_assert_int_eq(check_start(r, st, id, NULL, NULL), 0);
		ck_assert_int_eq(check_wait(r, &tok, &res[i]), 1);
	}
	ck_assert_uint_eq(check_running(r), 0);
	check_runner_free(r);
}

START_TEST(test_replies)
{
	struct check_result res[7];
	unsigned i;

	serve("ok fail fail_exit_3 fail_signal_11 fail_disk_on_fire garbage ok",
	      7, res);
	ck_assert(res[0].passed && res[0].exit_status == 0);
	ck_assert(!res[1].passed && res[1].exit_status == 1 && !res[1].signal);
	ck_assert(!res[2].passed && res[2].exit_status == 3);
	ck_assert(!res[3].passed && res[3].exit_status == -1 &&
		  res[3].signal == 11);
	ck_assert(!res[4].passed && res[4].exit_status == 1);
	ck_assert_ptr_nonnull(strstr(res[4].output, "disk on fire"));
	ck_assert(!res[5].passed && res[5].exit_status == -1 && !res[5].signal);
	ck_assert_ptr_nonnull(strstr(res[5].output, "replied \"garbage\""));
	ck_assert(res[6].passed); /* a fresh server */
	for (i = 0; i < 7; i++) {
		ck_assert(!res[i].timed_out);
		ck_assert_ptr_nonnull(strstr(res[i].output, "err i"));
		check_result_free(&res[i]);
	}
}
END_TEST

START_TEST(test_died)
{
	struct check_result res[3];
	unsigned i;

	serve("ok die ok", 3, res);
	ck_assert(res[0].passed);
	ck_assert(!res[1].passed && res[1].exit_status == 5);
	ck_assert_ptr_nonnull(strstr(res[1].output, "died (exit 5)"));
	ck_assert(res[2].passed);
	for (i = 0; i < 3; i++)
		check_result_free(&res[i]);
}
END_TEST

START_TEST(test_timeout)
{
	struct check_runner *r;
	struct check_result res;
	void *tok;

	ck_assert_int_eq(check_runner_new_server("read -r l; exec sleep 30", 1,
						 0.2, 4096, &r),
			 0);
	ck_assert_int_eq(check_start(r, st, "x", NULL, NULL), 0);
	ck_assert_int_eq(check_wait(r, &tok, &res), 1);
	ck_assert(!res.passed && res.timed_out && res.exit_status == -1 &&
		  !res.signal);
	check_result_free(&res);
	check_runner_free(r);
}
END_TEST

START_TEST(test_refused)
{
	struct check_runner *r;

	ck_assert_int_eq(check_runner_new_server("cat", 1, 0, 4096, &r), 0);
	ck_assert_int_eq(check_start(r, st, "a\tb", NULL, NULL), -EINVAL);
	ck_assert_int_eq(check_start(r, st, "a\nb", NULL, NULL), -EINVAL);
	ck_assert_int_eq(check_start(r, st, "a", "m\r", NULL), -EINVAL);
	ck_assert_uint_eq(check_running(r), 0);
	check_runner_free(r);
}
END_TEST

Suite *make_check_server_suite(void)
{
	Suite *s = suite_create("check_server");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_replies);
	tcase_add_test(tc, test_died);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}
