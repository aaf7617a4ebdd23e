/*
 * check_main.c - runs every unit-test suite (tests/check_<module>.c).
 *
 * Each test gets its own temporary directory from check_tmpdir(), removed
 * by the test's fork when it ends.  Exit 0 when every test passed.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"

static char tmpdir[256]; /* this test's directory, "" until made */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

static void rm_tmpdir(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Each test runs in its own fork (Check's default), so atexit cleans up per test. */
const char *check_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	rm_tmpdir();
	snprintf(tmpdir, sizeof(tmpdir), "%s/faultline-check.XXXXXX",
		 t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		ck_abort_msg("mkdtemp failed");
	atexit(rm_tmpdir);
	return tmpdir;
}

int main(void)
{
	Suite *(*const suites[])(void) = {
		make_trace_suite,
		make_trace_meta_suite,
		make_verify_suite,
		make_names_suite,
		make_check_suite,
		make_check_server_suite,
		make_report_suite,
		make_state_suite,
		make_model_suite,
		make_mat_suite,
		make_explore_suite,
		make_cmdword_suite,
		make_calls_suite,
	};
	SRunner *sr = srunner_create(NULL);
	size_t i;
	int failed;

	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
