/*
 * check_calls.c - the calls log read back and joined to records
 * (calls.h): whole lines only, each record to the call of its thread whose
 * window holds it, a kernel write to the narrowest flushing call around
 * it, and the call in words.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "calls.h"
#include "check_suites.h"

/* Writes text as TRACE/calls in a fresh directory and loads it. */
static void load(const char *text, struct calls_log *log)
{
	const char *dir = check_tmpdir();
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/" CALLS_LOG, dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(calls_load(dir, log), 0);
}

START_TEST(join_by_thread_and_window)
{
	struct calls_log log;
	char text[512];
	const struct calls_call *c;

	/* tid 7: write over [100, 200], fsync over [300, 400]; tid 9: msync over
	 * [150, 500], sync over [180, 260]; a cut last line. */
	snprintf(text, sizeof(text),
		 "7 %d 4096 100 200 3 0 1000 0\n7 %d 0 300 400 3 0 0 0\n"
		 "9 %d 0 150 500 7f00 1000 4 0\n9 %d 0 180 260 0 0 0 0\n7 %d 5 600 7",
		 SYS_write, SYS_fsync, SYS_msync, SYS_sync, SYS_write);
	load(text, &log);
	ck_assert_uint_eq(log.n, 4);
	c = calls_join(&log, 7, 150);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->nr, SYS_write);
	ck_assert_ptr_null(calls_join(&log, 7, 250)); /* between its calls */
	ck_assert_int_eq(calls_join(&log, 7, 400)->nr, SYS_fsync);
	ck_assert_ptr_null(calls_join(&log, 8, 150)); /* another thread */
	ck_assert_ptr_null(calls_join(&log, 7, 600)); /* the cut line is not read */
	/* pid 0: the narrowest flushing call of any thread whose window holds it. */
	ck_assert_int_eq(calls_join(&log, 0, 200)->nr, SYS_sync);
	ck_assert_int_eq(calls_join(&log, 0, 450)->nr, SYS_msync);
	ck_assert_int_eq(calls_join(&log, 0, 350)->nr, SYS_fsync); /* narrower than the msync */
	calls_log_free(&log);
}
END_TEST

/* A call logged at its entry only (exit 0) holds the thread's records up to its next call. */
START_TEST(open_window)
{
	struct calls_log log;
	char text[256];

	snprintf(text, sizeof(text),
		 "7 %d 0 100 0 3 0 1000 0\n7 %d 0 300 0 3 0 10 0\tput() kv.c:9 <- main() kv.c:30\n",
		 SYS_write, SYS_pwrite64);
	load(text, &log);
	ck_assert_ptr_null(calls_join(&log, 7, 50));
	ck_assert_int_eq(calls_join(&log, 7, 299)->nr, SYS_write);
	ck_assert_int_eq(calls_join(&log, 7, 5000)->nr, SYS_pwrite64);
	ck_assert_str_eq(calls_join(&log, 7, 5000)->site, "put() kv.c:9 <- main() kv.c:30");
	ck_assert_ptr_null(calls_join(&log, 7, 299)->site);
	ck_assert_ptr_null(calls_join(&log, 0, 150)); /* not a flushing call */
	calls_log_free(&log);
	/* A flushing call's open window ends at its thread's next call. */
	snprintf(text, sizeof(text), "7 %d 0 300 0 3 0 0 0\n7 %d 0 500 0 3 0 10 0\n",
		 SYS_fdatasync, SYS_write);
	load(text, &log);
	ck_assert_int_eq(calls_join(&log, 0, 400)->nr, SYS_fdatasync);
	ck_assert_ptr_null(calls_join(&log, 0, 600));
	calls_log_free(&log);
}
END_TEST

START_TEST(flusher_prefers_narrowest)
{
	struct calls_log log;
	char text[256];

	snprintf(text, sizeof(text), "7 %d 0 300 400 3 0 0 0\n9 %d 0 150 500 7f00 1000 4 0\n",
		 SYS_fsync, SYS_msync);
	load(text, &log);
	ck_assert_int_eq(calls_join(&log, 0, 350)->nr, SYS_fsync);
	ck_assert_ptr_null(calls_join(&log, 0, 600)); /* background writeback */
	calls_log_free(&log);
}
END_TEST

START_TEST(describe)
{
	struct calls_call c = {.tid = 1, .nr = SYS_pwrite64, .arg = {3, 0x7f00, 724, 8192}};
	char buf[128];

	calls_describe(&c, buf, sizeof(buf)); /* not stopped at its return: no result */
	ck_assert_str_eq(buf, "pwrite64(3, ..., 724, 8192)");
	c = (struct calls_call){.nr = SYS_fsync, .result = -5, .entry_ns = 1, .exit_ns = 2,
				.arg = {(uint64_t)-100}};
	calls_describe(&c, buf, sizeof(buf));
	ck_assert_str_eq(buf, "fsync(-100) = -5");
	c = (struct calls_call){.nr = SYS_sync, .entry_ns = 1, .exit_ns = 2};
	calls_describe(&c, buf, sizeof(buf));
	ck_assert_str_eq(buf, "sync() = 0");
	c.site = "flush() log.c:12 <- main() log.c:40";
	calls_describe(&c, buf, sizeof(buf));
	ck_assert_str_eq(buf, "sync() = 0 in flush() log.c:12 <- main() log.c:40");
	ck_assert_ptr_null(calls_name(SYS_getpid));
}
END_TEST

START_TEST(no_log)
{
	struct calls_log log;

	ck_assert_int_eq(calls_load(check_tmpdir(), &log), -ENOENT);
}
END_TEST

Suite *make_calls_suite(void)
{
	Suite *s = suite_create("calls");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, join_by_thread_and_window);
	tcase_add_test(tc, open_window);
	tcase_add_test(tc, flusher_prefers_narrowest);
	tcase_add_test(tc, describe);
	tcase_add_test(tc, no_log);
	suite_add_tcase(s, tc);
	return s;
}
