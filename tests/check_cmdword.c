/*
 * check_cmdword.c - which command words are made absolute (cmdword.h), on
 * a directory of our own that holds some files and not others.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "cmdword.h"

static char dir[256], spaced[300];

static void touch(const char *d, const char *rel)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", d, rel);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

static void setup(void)
{
	char p[400];

	snprintf(dir, sizeof(dir), "/tmp/faultline-cmdword.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/bin", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	touch(dir, "wl.sh");
	touch(dir, "bin/ck");
	snprintf(spaced, sizeof(spaced), "%s/a b", dir);
	ck_assert_int_eq(mkdir(spaced, 0755), 0);
	touch(spaced, "x.sh");
}

static void teardown(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The result of cmdword_resolve_first(cmd, d), and its return in *rc. */
static const char *first(const char *cmd, const char *d, int *rc)
{
	static char out[1024];

	*rc = cmdword_resolve_first(cmd, d, out, sizeof(out));
	return out;
}

START_TEST(first_word_is_resolved)
{
	char want[600];
	int rc;

	snprintf(want, sizeof(want), "%s/wl.sh run 20", dir);
	ck_assert_str_eq(first("./wl.sh run 20", dir, &rc), want);
	ck_assert_int_eq(rc, 1);
	snprintf(want, sizeof(want), "  %s/bin/ck --x ./wl.sh", dir);
	ck_assert_str_eq(first("  bin/ck --x ./wl.sh", dir, &rc), want); /* only the first */
	ck_assert_int_eq(rc, 1);
	snprintf(want, sizeof(want), "'%s'/x.sh", spaced); /* quoted directory */
	ck_assert_str_eq(first("./x.sh", spaced, &rc), want);
}
END_TEST

START_TEST(other_words_are_left_alone)
{
	static const char *const same[] = {
		"wl.sh run",         /* no slash: looked up in PATH */
		"/bin/true",         /* absolute */
		"./missing.sh",      /* names nothing here: the mount's or the state's */
		"./wl.sh;true",      /* shell syntax right after it */
		"\"./wl.sh\" x",     /* quoted */
		"FOO=1 ./wl.sh",     /* an assignment first */
		"sh ./wl.sh",        /* not the command word */
		"",
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		ck_assert_str_eq(first(same[i], dir, &rc), same[i]);
		ck_assert_int_eq(rc, 0);
	}
}
END_TEST

START_TEST(argv0_and_limits)
{
	char out[600], want[600], small[8];

	snprintf(want, sizeof(want), "%s/bin/ck", dir);
	ck_assert_int_eq(cmdword_resolve_arg("./bin/ck", dir, out, sizeof(out)), 1);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(cmdword_resolve_arg("ck", dir, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "ck");
	/* does not fit rewritten: copied; does not fit at all: an error */
	ck_assert_int_eq(cmdword_resolve_arg("bin/ck", dir, small, sizeof(small)), 0);
	ck_assert_str_eq(small, "bin/ck");
	ck_assert_int_eq(cmdword_resolve_first("./wl.sh and more", dir, small, sizeof(small)),
			 -ENAMETOOLONG);
}
END_TEST

Suite *make_cmdword_suite(void)
{
	Suite *s = suite_create("cmdword");
	TCase *tc = tcase_create("cmdword");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, first_word_is_resolved);
	tcase_add_test(tc, other_words_are_left_alone);
	tcase_add_test(tc, argv0_and_limits);
	suite_add_tcase(s, tc);
	return s;
}
