/*
 * check_check.c - unit tests for src/check.c: the checker runner.
 *
 * Runs real shell checkers: exit codes, output capture and its bound
 * (head and tail kept, the middle counted), the checker's environment,
 * cwd and stdin, signal deaths with the parent's signal state reset,
 * timeouts, floods, daemons that escape the process group or session and
 * hold the output pipe (they must not delay the result nor outlive it),
 * daemons of a checker that is still running (they must be spared), many
 * checkers in parallel, -EBUSY, and a checker that deletes its own cwd.
 * Each test gets its own directory from check_tmpdir(); "st" in it is the
 * state directory, and checkers leave pid files next to it.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "check_suites.h"

static char base[PATH_MAX];   /* this test's directory, realpath'd */
static char st[PATH_MAX + 8]; /* base/st: the state directory */

static void setup(void)
{
	ck_assert_ptr_nonnull(realpath(check_tmpdir(), base));
	snprintf(st, sizeof(st), "%s/st", base);
	ck_assert_int_eq(mkdir(st, 0755), 0);
	ck_assert_int_eq(chdir(base), 0); /* for system() below */
}

/* base/name, in a static buffer (one at a time). */
static const char *in_base(const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%.60s", base, name);
	return path;
}

/* Runs cmd once in st; returns check_wait()'s result in *res. */
static void run_one(const char *cmd, double timeout_s, size_t max_output,
		    struct check_result *res)
{
	struct check_runner *r;
	int token = 7;
	void *got = NULL;

	ck_assert_int_eq(check_runner_new(cmd, 1, timeout_s, max_output, &r),
			 0);
	ck_assert_int_eq(check_start(r, st, "id-1", "/dev/null", &token), 0);
	ck_assert_uint_eq(check_running(r), 1);
	ck_assert_int_eq(check_wait(r, &got, res), 1);
	ck_assert_ptr_eq(got, &token);
	ck_assert_uint_eq(check_running(r), 0);
	ck_assert_int_eq(check_wait(r, &got, res), 0);
	check_runner_free(r);
}

/* Waits up to 10 s for path to exist. */
static void wait_file(const char *path)
{
	struct timespec nap = {0, 2000000};
	int i;

	struct stat sb;

	/* Not just there: written (a shell creates the file, then writes). */
	for (i = 0; i < 5000 && (stat(path, &sb) < 0 || sb.st_size == 0); i++)
		nanosleep(&nap, NULL);
	ck_assert_msg(!stat(path, &sb) && sb.st_size > 0, "%s never appeared", path);
}

/* The pid a checker wrote to base/name. */
static pid_t read_pid(const char *name)
{
	FILE *f = fopen(in_base(name), "r");
	int pid = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	ck_assert_int_gt(pid, 1);
	return pid;
}

/* Asserts that pid no longer exists (it was killed and reaped). */
static void assert_gone(pid_t pid)
{
	ck_assert_msg(kill(pid, 0) < 0 && errno == ESRCH,
		      "process %d survived its checker", (int)pid);
}

/* Counts processes named comm whose parent is this process. */
static int count_children(const char *comm)
{
	char path[300], buf[512], name[64];
	struct dirent *de;
	int n = 0, ppid;
	DIR *d = opendir("/proc");
	FILE *f;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) &&
		    sscanf(buf, "%*d (%63[^)]) %*c %d", name, &ppid) == 2 &&
		    ppid == getpid() && !strcmp(name, comm))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

START_TEST(test_pass)
{
	struct check_result res;

	run_one("echo hello", 0, 4096, &res);
	ck_assert(res.passed);
	ck_assert_int_eq(res.exit_status, 0);
	ck_assert_int_eq(res.signal, 0);
	ck_assert(!res.timed_out);
	ck_assert_str_eq(res.output, "hello\n");
	ck_assert_uint_eq(res.output_len, 6);
	ck_assert_uint_eq(res.output_lost, 0);
	ck_assert(res.elapsed_s >= 0);
	check_result_free(&res);
	ck_assert_ptr_null(res.output);
}
END_TEST

START_TEST(test_exit_code)
{
	struct check_result res;

	run_one("echo bad >&2; exit 3", 0, 4096, &res);
	ck_assert(!res.passed);
	ck_assert_int_eq(res.exit_status, 3);
	ck_assert_int_eq(res.signal, 0);
	ck_assert(!res.timed_out);
	ck_assert_str_eq(res.output, "bad\n"); /* stderr is captured too */
	check_result_free(&res);
}
END_TEST

START_TEST(test_env)
{
	char want[3 * PATH_MAX];
	struct check_result res;

	setenv("FL_TEST_INHERITED", "kept", 1);
	setenv("FAULTLINE_STATE_ID", "stale", 1);
	run_one("printf '%s|%s|%s|%s|%s|' \"$FAULTLINE_STATE_ID\" "
		"\"$FAULTLINE_STATE_DIR\" \"$FAULTLINE_MARKS\" \"$(pwd -P)\" "
		"\"$FL_TEST_INHERITED\"; env | grep -c '^FAULTLINE_STATE_ID='; "
		"if read x; then echo input; else echo eof; fi",
		0, 4096, &res);
	snprintf(want, sizeof(want), "id-1|%s|/dev/null|%s|kept|1\neof\n", st,
		 st);
	ck_assert(res.passed);
	ck_assert_str_eq(res.output, want);
	check_result_free(&res);
}
END_TEST

START_TEST(test_marks_file)
{
	struct check_runner *r;
	struct check_result res;
	void *got;
	FILE *f = fopen(in_base("marks"), "w");

	ck_assert_ptr_nonnull(f);
	fputs("commit 1\ncommit 2\n", f);
	fclose(f);
	ck_assert_int_eq(
	    check_runner_new("cat \"$FAULTLINE_MARKS\"", 1, 0, 4096, &r), 0);
	ck_assert_int_eq(check_start(r, st, "x", in_base("marks"), NULL), 0);
	ck_assert_int_eq(check_wait(r, &got, &res), 1);
	ck_assert_str_eq(res.output, "commit 1\ncommit 2\n");
	check_result_free(&res);
	check_runner_free(r);
}
END_TEST

/*
 * Descriptors the caller leaked (no O_CLOEXEC) do not reach the checker,
 * whichever way check.c closes them.  The probe also looks at its stdout,
 * which must be open, so it is known to see an open descriptor.
 */
START_TEST(test_fds_closed)
{
	struct check_result res;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(dup2(p[1], 20), 20); /* dup2: no FD_CLOEXEC on 20 */
	run_one("for fd in 1 20; do "
		"[ -e /proc/self/fd/$fd ] && echo $fd open || echo $fd closed; "
		"done",
		0, 4096, &res);
	ck_assert_str_eq(res.output, "1 open\n20 closed\n");
	ck_assert(res.passed);
	check_result_free(&res);
}
END_TEST

START_TEST(test_signal)
{
	struct check_result res;

	run_one("echo before; kill -SEGV $$; echo after", 0, 4096, &res);
	ck_assert(!res.passed);
	ck_assert_int_eq(res.signal, SIGSEGV);
	ck_assert_int_eq(res.exit_status, -1);
	ck_assert(!res.timed_out);
	ck_assert_str_eq(res.output, "before\n");
	check_result_free(&res);
}
END_TEST

/* Signals the parent ignores or blocks: default and unblocked in the checker.
 */
START_TEST(test_signal_state_reset)
{
	struct check_result res;
	sigset_t set;

	signal(SIGTERM, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	run_one("kill -TERM $$; exit 0", 0, 4096, &res);
	ck_assert_int_eq(res.signal, SIGTERM);
	check_result_free(&res);
	run_one("kill -USR1 $$; exit 0", 0, 4096, &res);
	ck_assert_int_eq(res.signal, SIGUSR1);
	check_result_free(&res);
}
END_TEST

START_TEST(test_timeout)
{
	struct check_result res;

	run_one("echo $$ > ../pid; exec sleep 30", 0.3, 4096, &res);
	ck_assert(res.timed_out);
	ck_assert(!res.passed);
	ck_assert_int_eq(res.signal, 0); /* our SIGKILL is not its signal */
	ck_assert_int_eq(res.exit_status, -1);
	ck_assert(res.elapsed_s >= 0.25); /* not killed before its timeout */
	assert_gone(read_pid("pid"));
	check_result_free(&res);
}
END_TEST

START_TEST(test_flood)
{
	struct check_result res;
	size_t i;

	run_one("yes", 0.5, 4096, &res);
	ck_assert(res.timed_out);
	ck_assert(!res.passed);
	ck_assert_uint_eq(res.output_len, 4096);
	ck_assert_uint_gt(res.output_lost, 0);
	ck_assert_uint_eq(strlen(res.output), 4096);
	for (i = 0; i < 2048; i++) /* the head, whole lines of "y" */
		ck_assert_int_eq(res.output[i], i % 2 ? '\n' : 'y');
	for (i = 2048; i < 4096; i++)
		ck_assert(res.output[i] == 'y' || res.output[i] == '\n');
	check_result_free(&res);
}
END_TEST

/* Builds what `seq 1 n` prints. */
static char *seq_text(int n, size_t *len)
{
	char *s = malloc((size_t)n * 8 + 1), *p = s;
	int i;

	ck_assert_ptr_nonnull(s);
	for (i = 1; i <= n; i++)
		p += sprintf(p, "%d\n", i);
	*len = p - s;
	return s;
}

/* Output beyond the bound: the first and last halves are kept, in order. */
START_TEST(test_head_tail)
{
	static const size_t maxes[] = {64, 65, 1, 0, 100000};
	struct check_result res;
	size_t len, max, head, tail, i;
	char *want = seq_text(20000, &len);

	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		max = maxes[i];
		tail = max < len ? max / 2 : 0;
		head = max < len ? max - tail : len;
		run_one("seq 1 20000", 0, max, &res);
		ck_assert(res.passed);
		ck_assert_uint_eq(res.output_len, head + tail);
		ck_assert_uint_eq(res.output_lost, len - head - tail);
		ck_assert_int_eq(memcmp(res.output, want, head), 0);
		ck_assert_int_eq(
		    memcmp(res.output + head, want + len - tail, tail), 0);
		ck_assert_int_eq(res.output[res.output_len], '\0');
		check_result_free(&res);
	}
	free(want);
}
END_TEST

/*
 * Runs a checker that leaves a daemon (its pid in base/pid): the result
 * must come promptly although the daemon may hold the pipe, and the
 * daemon must be gone (killed and reaped) when it comes.
 */
static void check_daemon(const char *cmd)
{
	struct check_runner *r;
	struct check_result res;
	void *got;

	ck_assert_int_eq(check_runner_new(cmd, 1, 0, 4096, &r), 0);
	ck_assert_int_eq(check_start(r, st, "d", NULL, NULL), 0);
	ck_assert_int_eq(check_wait(r, &got, &res), 1);
	ck_assert(res.passed);
	ck_assert_int_eq(res.exit_status, 0);
	ck_assert(!res.timed_out);
	/* gone when check_wait() returns, not only once the runner is freed */
	assert_gone(read_pid("pid"));
	ck_assert_int_eq(count_children("sleep"), 0);
	check_result_free(&res);
	check_runner_free(r);
}

START_TEST(test_daemon_subshell)
{
	check_daemon("(sleep 60 & echo $! > ../pid); echo done; exit 0");
}
END_TEST

START_TEST(test_daemon_setsid)
{
	check_daemon("setsid sleep 60 & echo $! > ../pid; exit 0");
}
END_TEST

/* Double fork, new session, stdio closed: found only through the subreaper. */
START_TEST(test_daemon_double_fork)
{
	check_daemon("(setsid sh -c 'sleep 60 >/dev/null 2>&1 <&- & "
		     "echo $! > ../pid.tmp; mv ../pid.tmp ../pid' &); "
		     "while [ ! -e ../pid ]; do sleep 0.01; done; exit 0");
}
END_TEST

/* A check longer than the pid window's limit: found by a scan of /proc. */
START_TEST(test_daemon_slow_check)
{
	check_daemon("setsid sleep 60 & echo $! > ../pid; sleep 0.7; exit 0");
}
END_TEST

/*
 * A's daemons (one in its group, one in its own session, both orphaned)
 * appear while B runs; B finishing must spare them, A finishing must not.
 */
START_TEST(test_live_daemons_spared)
{
	char st2[PATH_MAX + 8];
	struct check_runner *r;
	struct check_result res;
	int a, b;
	void *got;

	ck_assert_int_eq(check_runner_new("sh ./run", 2, 20, 4096, &r), 0);
	snprintf(st2, sizeof(st2), "%s/st2", base);
	ck_assert_int_eq(mkdir(st2, 0755), 0);
	ck_assert_int_eq(
	    system("cd st && cat > run <<'E'\n"
		   "while [ ! -e ../b_started ]; do sleep 0.01; done\n"
		   "(setsid sleep 60 & echo $! > ../a_sid)\n"
		   "(sleep 60 & echo $! > ../a_bg)\n"
		   "touch ../a_ready\n"
		   "while [ ! -e ../go ]; do sleep 0.01; done\n"
		   "kill -0 $(cat ../a_sid) && kill -0 $(cat ../a_bg)\n"
		   "E\n"),
	    0);
	ck_assert_int_eq(
	    system("cd st2 && printf '%s\\n' 'touch ../b_started' "
		   "'while [ ! -e ../a_ready ]; do sleep 0.01; done' > run"),
	    0);
	ck_assert_int_eq(check_start(r, st, "a", NULL, &a), 0);
	ck_assert_int_eq(check_start(r, st2, "b", NULL, &b), 0);
	ck_assert_int_eq(check_wait(r, &got, &res), 1);
	ck_assert_ptr_eq(got, &b);
	ck_assert(res.passed);
	check_result_free(&res);
	ck_assert_int_eq(system("touch go"), 0);
	ck_assert_int_eq(check_wait(r, &got, &res), 1);
	ck_assert_ptr_eq(got, &a);
	ck_assert_msg(res.passed, "A's daemons were killed while A ran");
	check_result_free(&res);
	assert_gone(read_pid("a_sid"));
	assert_gone(read_pid("a_bg"));
	check_runner_free(r);
}
END_TEST

START_TEST(test_parallel)
{
	enum { N = 50 };
	int seen[N] = {0}, started = 0, done = 0, rc, k;
	struct check_runner *r;
	struct check_result res;
	char id[16], want[20];
	void *got;

	ck_assert_int_eq(
	    check_runner_new("echo $FAULTLINE_STATE_ID", 4, 10, 4096, &r), 0);
	while (done < N) {
		if (started < N) {
			snprintf(id, sizeof(id), "s%d", started);
			rc = check_start(r, st, id, NULL, &seen[started]);
			ck_assert(rc == 0 || rc == -EBUSY);
			ck_assert_uint_le(check_running(r), 4);
			if (rc == 0) {
				started++;
				continue;
			}
		}
		ck_assert_int_eq(check_wait(r, &got, &res), 1);
		k = (int *)got - seen;
		ck_assert(k >= 0 && k < N);
		ck_assert_int_eq(seen[k]++, 0);
		snprintf(want, sizeof(want), "s%d\n", k);
		ck_assert_str_eq(res.output, want);
		ck_assert(res.passed);
		check_result_free(&res);
		done++;
	}
	ck_assert_int_eq(check_wait(r, &got, &res), 0);
	for (k = 0; k < N; k++)
		ck_assert_int_eq(seen[k], 1);
	check_runner_free(r);
}
END_TEST

/*
 * Quick checkers are reaped promptly (no fixed sleeps per check): 200 of
 * them, two at a time, are all started, and each is reaped once, passing.
 */
START_TEST(test_many_quick)
{
	enum { N = 200 };
	struct check_runner *r;
	struct check_result res;
	int started = 0, reaped = 0, passed = 0, rc;
	void *got;

	ck_assert_int_eq(check_runner_new("true", 2, 10, 4096, &r), 0);
	while (reaped < N) {
		if (started < N) {
			rc = check_start(r, st, "q", NULL, NULL);
			ck_assert(rc == 0 || rc == -EBUSY);
			if (rc == 0) {
				started++;
				continue;
			}
		}
		ck_assert_int_eq(check_wait(r, &got, &res), 1);
		reaped++;
		passed += res.passed;
		check_result_free(&res);
	}
	ck_assert_int_eq(check_wait(r, &got, &res), 0); /* none left over */
	ck_assert_uint_eq(check_running(r), 0);
	check_runner_free(r);
	ck_assert_int_eq(started, N);
	ck_assert_int_eq(reaped, N);
	ck_assert_int_eq(passed, N);
}
END_TEST

START_TEST(test_busy_and_free)
{
	struct check_runner *r;

	ck_assert_int_eq(check_runner_new("(setsid sleep 60 & echo $! > "
					  "../pid2); echo $$ > ../pid; "
					  "exec sleep 30",
					  1, 0, 4096, &r),
			 0);
	ck_assert_int_eq(check_start(r, st, "a", NULL, NULL), 0);
	ck_assert_int_eq(check_start(r, st, "b", NULL, NULL), -EBUSY);
	ck_assert_uint_eq(check_running(r), 1);
	wait_file(in_base("pid"));
	wait_file(in_base("pid2"));
	check_runner_free(r);
	assert_gone(read_pid("pid"));
	assert_gone(read_pid("pid2"));
	ck_assert_int_eq(count_children("sleep"), 0);
}
END_TEST

START_TEST(test_rm_own_cwd)
{
	struct check_result res;

	run_one("rm -rf \"$PWD\"; exit 0", 0, 4096, &res);
	ck_assert(res.passed);
	ck_assert_int_eq(access(st, F_OK), -1);
	check_result_free(&res);
	ck_assert_int_eq(mkdir(st, 0755), 0);
	run_one("rm -rf \"$FAULTLINE_STATE_DIR\"; echo gone; exit 5", 0, 4096,
		&res);
	ck_assert(!res.passed);
	ck_assert_int_eq(res.exit_status, 5);
	ck_assert_str_eq(res.output, "gone\n");
	check_result_free(&res);
}
END_TEST

START_TEST(test_start_errors)
{
	struct check_runner *r;
	struct check_result res;
	void *got;
	int rc;

	ck_assert_int_eq(check_runner_new(NULL, 1, 0, 10, &r), -EINVAL);
	ck_assert_int_eq(check_runner_new("true", 0, 0, 10, &r), -EINVAL);
	ck_assert_int_eq(check_runner_new("true", 1, -1, 10, &r), -EINVAL);
	ck_assert_int_eq(check_runner_new("echo ok", 1, 0, 10, &r), 0);
	ck_assert_int_eq(check_wait(r, &got, &res), 0);
	rc = check_start(r, in_base("nonexistent"), "x", NULL, NULL);
	if (rc == 0) { /* valgrind's posix_spawn forks: chdir fails later */
		ck_assert_int_eq(check_wait(r, &got, &res), 1);
		ck_assert(!res.passed && res.exit_status == 127);
		check_result_free(&res);
	} else {
		ck_assert_int_eq(rc, -ENOENT);
	}
	ck_assert_uint_eq(check_running(r), 0);
	ck_assert_int_eq(check_start(r, st, "x", NULL, NULL), 0);
	ck_assert_int_eq(check_wait(r, &got, &res), 1);
	ck_assert_str_eq(res.output, "ok\n");
	check_result_free(&res);
	check_runner_free(r);
}
END_TEST

Suite *make_check_suite(void)
{
	Suite *s = suite_create("check");
	TCase *tc = tcase_create("runner");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pass);
	tcase_add_test(tc, test_exit_code);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_marks_file);
	tcase_add_test(tc, test_fds_closed);
	tcase_add_test(tc, test_signal);
	tcase_add_test(tc, test_signal_state_reset);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_flood);
	tcase_add_test(tc, test_head_tail);
	tcase_add_test(tc, test_daemon_subshell);
	tcase_add_test(tc, test_daemon_setsid);
	tcase_add_test(tc, test_daemon_double_fork);
	tcase_add_test(tc, test_daemon_slow_check);
	tcase_add_test(tc, test_live_daemons_spared);
	tcase_add_test(tc, test_parallel);
	tcase_add_test(tc, test_many_quick);
	tcase_add_test(tc, test_busy_and_free);
	tcase_add_test(tc, test_rm_own_cwd);
	tcase_add_test(tc, test_start_errors);
	suite_add_tcase(s, tc);
	return s;
}
