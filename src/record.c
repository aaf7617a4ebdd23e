/*
 * record.c - `faultline record`: run a program on faultline-fs, keep its trace.
 *
 *   faultline record [-o TRACE] [--setup CMD] [--from DIR] [--real-fsync]
 *                    [--keep-final] [--allow-other] [--backing DIR] [--calls]
 *                    -- CMD [ARG...]
 *
 * Steps, each undone on every path out (no mount may outlive this command):
 *   1. TRACE/ is made (a previous faultline trace there is replaced, any
 *      other non-empty directory is refused) and meta.json says
 *      "recording".
 *   2. TRACE/base/ is filled from --from DIR, then --setup runs in it
 *      (sh -c, unrecorded).  base/ is the snapshot every crash state
 *      starts from.
 *   3. base/ is copied to a private backing directory (TRACE/.backing, or
 *      a fresh directory inside --backing DIR);
 *      faultline-fs mounts it on a fresh temporary mount point and
 *      appends records to TRACE/records.
 *   4. CMD runs in its own process group, cwd at the mount, with
 *      FAULTLINE_MNT set.  This process is a child subreaper, so daemons
 *      the workload leaves behind are ours to stop.
 *   5. When CMD exits, or on SIGINT/SIGTERM/SIGHUP: what is left of the
 *      workload is stopped, the mount is unmounted (lazily if it stays
 *      busy), faultline-fs closes the trace, and meta.json records how it
 *      ended, how many records are valid and a digest of the records file
 *      (trace_meta.h), which every later reader holds the trace to.
 *
 * faultline-fs runs in a process group of its own (a terminal's ^C must
 * reach us first, not unmount under the workload) and with a parent-death
 * signal, so it unmounts itself if this process is killed.
 *
 * Exit: 0 recorded and the workload succeeded; 1 the workload failed (trace
 * kept); 2 bad usage, setup failed or TRACE is not ours; 3 environment:
 * no /dev/fuse, mount failed, the recorder died, or interrupted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "cli.h"
#include "cmdword.h"
#include "fl_error.h"
#include "record_i.h"
#include "trace.h"
#include "trace_meta.h"

#define RECORD_READY_TIMEOUT_MS 15000
#define RECORD_FS_EXIT_TIMEOUT_MS 20000
#define RECORD_GRACE_MS 1000

struct record_opts {
	const char *trace;     /* -o: trace directory */
	const char *setup;     /* --setup: shell command run in base/ */
	const char *from;      /* --from: directory copied into base/ */
	bool real_fsync;       /* --real-fsync: pass barriers to the backing dir */
	bool keep_final;       /* --keep-final: keep the backing dir as TRACE/final */
	const char *backing;   /* --backing: where to make the backing dir, or NULL */
	bool allow_other;      /* --allow-other: let other users enter the mount */
	bool calls;            /* --calls: watch CMD's calls (calls.h) */
	char **cmd;            /* the workload, NULL-terminated */
	char cmd0[2 * PATH_MAX];  /* cmd[0] made absolute (cmdword.h) */
	char setup_buf[16384];    /* setup, its command word made absolute */
};

/* Everything record acquires, so one function can release it on any path. */
struct record_run {
	char trace[PATH_MAX];   /* absolute trace directory */
	char backing[PATH_MAX + 32]; /* TRACE/.backing or BACKING/faultline-backing.XXXXXX */
	char mnt[PATH_MAX];     /* temporary mount point, "" until made */
	pid_t fs_pid;           /* faultline-fs, 0 when not running */
	pid_t wl_pid;           /* workload (its pgid too), 0 when reaped */
	bool mounted;           /* mount is (or may still be) up */
	int fs_status;          /* wait status of faultline-fs, -1 while unknown */
	int wl_status;          /* wait status of the workload, -1 while unknown */
	int stop_signal;        /* SIGINT/SIGTERM/SIGHUP received, or 0 */
	sigset_t oldmask;       /* signal mask to restore, and to give children */
	struct timespec t0;     /* when recording began */
	uint64_t fs_t0;         /* CLOCK_MONOTONIC ns records' time_ns counts from */
	int64_t start_ns;       /* wall clock (ns since the epoch) as faultline-fs starts:
				   the origin of the records' time_ns, for crash states' mtimes */
};

static volatile sig_atomic_t record_signal; /* set by the handler only */

static void record_on_signal(int sig)
{
	record_signal = sig;
}

/* ---- small helpers ---- */

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes a tree without following symlinks; returns 0 or -errno. */
int rm_tree(const char *path)
{
	if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/*
 * Runs argv (or "sh -c cmd" when argv is NULL) in dir and waits.  Returns
 * its wait status, or -errno if it could not be started.
 */
int run_wait(const char *dir, char *const argv[], const char *cmd,
		    const sigset_t *mask)
{
	char *sh[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, mask, NULL);
		if (dir && chdir(dir) < 0)
			_exit(127);
		execvp(argv ? argv[0] : sh[0], argv ? argv : sh);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status;
}

/* Copies the contents of src into the existing directory dst (cp -a). */
int copy_tree(const char *src, const char *dst, const sigset_t *mask)
{
	char from[PATH_MAX + 2];
	char *argv[] = {"cp", "-a", "--reflink=auto", "--", from, (char *)dst, NULL};
	int st;

	snprintf(from, sizeof(from), "%s/.", src);
	st = run_wait(NULL, argv, NULL, mask);
	return st == 0 ? 0 : -EIO;
}

static const char *status_text(int status, char *buf, size_t len)
{
	if (status < 0)
		snprintf(buf, len, "did not run");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status %d", status);
	return buf;
}

/* ---- meta.json: written temp -> fsync -> rename -> fsync dir ---- */

int write_file_durably(const char *dir, const char *name, const char *text)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	size_t len = strlen(text), done = 0;
	int fd, dfd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (done < len && !err) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	/* fsync before rename: else a crash could leave an empty meta.json. */
	if (!err && fsync(fd) < 0)
		err = -errno;
	close(fd);
	/* rename: readers see the old meta.json or the new one, never half. */
	if (!err && rename(tmp, dst) < 0)
		err = -errno;
	/* fsync the directory: else the rename itself may not survive a crash. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (!err && fsync(dfd) < 0)
			err = -errno;
		close(dfd);
	}
	if (err)
		unlink(tmp);
	return err;
}

/* Milliseconds as a JSON number of seconds, to the millisecond ("0.093"). */
static json_object *seconds_json(long ms)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld.%03ld", ms / 1000, ms % 1000);
	return json_object_new_double_s((double)ms / 1000.0, buf);
}

static json_object *status_json(int status)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "exit_status",
			       status >= 0 && WIFEXITED(status)
				       ? json_object_new_int(WEXITSTATUS(status)) : NULL);
	json_object_object_add(o, "signal",
			       status >= 0 && WIFSIGNALED(status)
				       ? json_object_new_int(WTERMSIG(status)) : NULL);
	return o;
}

/*
 * Writes meta.json.  Once the recording has ended (sealed), the records
 * file's digest goes in too (trace_meta_seal: records, records_bytes,
 * records_xxh3, records_error), and *n and error (errlen bytes) get its
 * valid records and why reading stopped early ("" if it did not).
 * Returns 0 or -errno.
 */
static int write_meta(const struct record_opts *o, const struct record_run *run,
		      const char *status, bool sealed, uint64_t *n, char *error,
		      size_t errlen)
{
	json_object *m = trace_meta_new(status), *cmd = json_object_new_array();
	struct trace_digest d = {0};
	char why[256] = "";
	int i, err;

	for (i = 0; o->cmd[i]; i++)
		json_object_array_add(cmd, json_object_new_string(o->cmd[i]));
	json_object_object_add(m, "command", cmd);
	json_object_object_add(m, "setup", o->setup ? json_object_new_string(o->setup) : NULL);
	json_object_object_add(m, "calls", json_object_new_boolean(o->calls));
	json_object_object_add(m, "from", o->from ? json_object_new_string(o->from) : NULL);
	json_object_object_add(m, "real_fsync", json_object_new_boolean(o->real_fsync));
	if (sealed &&
	    (err = trace_meta_seal(run->trace, m, &d, why, sizeof(why))) < 0 &&
	    err == -ENOENT)
		why[0] = 0; /* never got as far as recording */
	if (!json_object_object_get_ex(m, "records", NULL)) {
		json_object_object_add(m, "records", json_object_new_uint64(0));
		json_object_object_add(m, "records_error",
				       why[0] ? json_object_new_string(why)
					      : NULL);
	}
	if (run->start_ns)
		json_object_object_add(m, "start_ns",
				       json_object_new_int64(run->start_ns));
	json_object_object_add(m, "workload", status_json(run->wl_status));
	json_object_object_add(m, "recorder", status_json(run->fs_status));
	json_object_object_add(m, "elapsed_s", seconds_json(ms_since(&run->t0)));
	err = write_file_durably(run->trace, TRACE_META_FILE,
				 json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY |
									   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(m);
	if (n)
		*n = d.records;
	if (error)
		snprintf(error, errlen, "%s", why);
	return err;
}

/* ---- the trace directory ---- */

/* Makes TRACE empty and ours: replaces an old trace, refuses anything else. */
static int prepare_trace_dir(const char *path, char *abs)
{
	char probe[PATH_MAX + 32];
	struct stat st;

	if (mkdir(path, 0755) < 0) {
		if (errno != EEXIST)
			return -errno;
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			return -ENOTDIR;
		snprintf(probe, sizeof(probe), "%s/%s", path, TRACE_RECORDS_FILE);
		if (access(probe, F_OK) < 0) {
			snprintf(probe, sizeof(probe), "%s/%s", path, TRACE_META_FILE);
			if (access(probe, F_OK) < 0 && rmdir(path) < 0)
				return -ENOTEMPTY;
		}
		if (rm_tree(path) < 0 || mkdir(path, 0755) < 0)
			return -errno;
	}
	if (!realpath(path, abs))
		return -errno;
	return 0;
}

static int make_base(const struct record_opts *o, struct record_run *run)
{
	char base[PATH_MAX + 8];
	int st;

	snprintf(base, sizeof(base), "%s/%s", run->trace, TRACE_BASE_DIR);
	if (mkdir(base, 0755) < 0)
		return -errno;
	if (o->from && copy_tree(o->from, base, &run->oldmask) < 0) {
		cli_err("record", "cannot copy --from %s", o->from);
		return -FL_EUSAGE;
	}
	if (o->setup) {
		char why[64];

		st = run_wait(base, NULL, o->setup, &run->oldmask);
		if (st != 0) {
			cli_err("record", "--setup '%s' failed (%s)", o->setup,
				status_text(st, why, sizeof(why)));
			return -FL_EUSAGE;
		}
	}
	if (o->backing) {
		/* Elsewhere, e.g. a small or failing file system the workload must meet. */
		snprintf(run->backing, sizeof(run->backing), "%s/faultline-backing.XXXXXX",
			 o->backing);
		if (!mkdtemp(run->backing)) {
			run->backing[0] = 0;
			return -errno;
		}
	} else {
		snprintf(run->backing, sizeof(run->backing), "%s/.backing", run->trace);
		if (mkdir(run->backing, 0755) < 0)
			return -errno;
	}
	return copy_tree(base, run->backing, &run->oldmask);
}

/* ---- faultline-fs ---- */

/* Finds faultline-fs: $FAULTLINE_FS, beside this program, the build tree, PATH. */
void find_fs(char *buf, size_t len)
{
	static const char *const rel[] = {"faultline-fs", "../fusefs/faultline-fs"};
	const char *env = getenv("FAULTLINE_FS");
	char self[PATH_MAX - 64];
	ssize_t n;
	size_t i;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		*strrchr(self, '/') = 0;
		for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(buf, len, "%s/%s", self, rel[i]);
			if (access(buf, X_OK) == 0)
				return;
		}
	}
	snprintf(buf, len, "faultline-fs");
}

static void fs_child(const struct record_opts *o, struct record_run *run, int wfd)
{
	char fs[PATH_MAX], records[PATH_MAX + 16], fdarg[16], calls[PATH_MAX + 16];
	char *argv[14];
	int i = 0;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigprocmask(SIG_SETMASK, &run->oldmask, NULL);
	find_fs(fs, sizeof(fs));
	snprintf(records, sizeof(records), "%s/%s", run->trace, TRACE_RECORDS_FILE);
	snprintf(fdarg, sizeof(fdarg), "%d", wfd);
	argv[i++] = fs;
	argv[i++] = "--trace";
	argv[i++] = records;
	argv[i++] = "--ready-fd";
	argv[i++] = fdarg;
	if (o->real_fsync)
		argv[i++] = "--real-fsync";
	if (o->allow_other)
		argv[i++] = "--allow-other";
	if (o->calls) { /* faultline-fs joins the calls that make requests (calls.h) */
		snprintf(calls, sizeof(calls), "%s/" CALLS_LOG, run->trace);
		argv[i++] = "--calls-log";
		argv[i++] = calls;
	}
	argv[i++] = run->backing;
	argv[i++] = run->mnt;
	argv[i] = NULL;
	execvp(fs, argv);
	fprintf(stderr, "faultline: record: cannot run %s: %s\n", fs, strerror(errno));
	_exit(3);
}

/* Starts faultline-fs and waits until its mount is up.  0 or -errno. */
static int start_fs(const struct record_opts *o, struct record_run *run)
{
	struct pollfd pfd;
	struct timespec now;
	char msg[9]; /* "R" and faultline-fs's t0 */
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	clock_gettime(CLOCK_REALTIME, &now);
	run->start_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	run->fs_pid = fork();
	if (run->fs_pid < 0) {
		run->fs_pid = 0;
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (run->fs_pid == 0) {
		close(p[0]);
		fcntl(p[1], F_SETFD, 0); /* the ready fd must survive exec */
		fs_child(o, run, p[1]);
	}
	close(p[1]);
	run->mounted = true; /* from here on, assume it may be up */
	pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
	rc = poll(&pfd, 1, RECORD_READY_TIMEOUT_MS);
	rc = rc == 1 && read(p[0], msg, sizeof(msg)) == (ssize_t)sizeof(msg) ? 0 : -EIO;
	memcpy(&run->fs_t0, msg + 1, sizeof(run->fs_t0));
	close(p[0]);
	return rc;
}

/* ---- the workload ---- */

/*
 * --calls: this child becomes the tracer of the workload (calls.h) and
 * ends as the workload ended, by the same exit code or signal, so record
 * sees one process whichever way it runs.
 */
static _Noreturn void traced_workload(const struct record_opts *o, const struct record_run *run)
{
	char ctl[PATH_MAX + 32], log[PATH_MAX + 16];
	struct calls_opts co = {.argv = o->cmd, .ctl = ctl, .mnt = run->mnt, .log = log,
				.t0_ns = run->fs_t0};
	int st;

	snprintf(ctl, sizeof(ctl), "%s/.faultline-ctl", run->mnt);
	snprintf(log, sizeof(log), "%s/" CALLS_LOG, run->trace);
	st = calls_trace(&co);
	if (st < 0) {
		fprintf(stderr, "faultline: record --calls: cannot trace %s: %s\n", o->cmd[0],
			strerror(-st));
		_exit(127);
	}
	if (WIFSIGNALED(st)) {
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, WTERMSIG(st));
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		signal(WTERMSIG(st), SIG_DFL);
		prctl(PR_SET_DUMPABLE, 0); /* the workload dumped core already, if it did */
		kill(getpid(), WTERMSIG(st));
	}
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 127);
}

static int start_workload(const struct record_opts *o, struct record_run *run)
{
	run->wl_pid = fork();
	if (run->wl_pid < 0) {
		run->wl_pid = 0;
		return -errno;
	}
	if (run->wl_pid == 0) {
		setpgid(0, 0);
		sigprocmask(SIG_SETMASK, &run->oldmask, NULL);
		if (chdir(run->mnt) < 0 || setenv("FAULTLINE_MNT", run->mnt, 1) < 0)
			_exit(127);
		if (o->calls)
			traced_workload(o, run);
		execvp(o->cmd[0], o->cmd);
		fprintf(stderr, "faultline: record: cannot run %s: %s\n", o->cmd[0],
			strerror(errno));
		_exit(127);
	}
	setpgid(run->wl_pid, run->wl_pid); /* also here: no race with kill(-pgid) */
	return 0;
}

/* Reaps every exited child; notes the workload's and the recorder's status. */
static void reap(struct record_run *run)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == run->wl_pid) {
			run->wl_status = status;
			run->wl_pid = 0;
		} else if (pid == run->fs_pid) {
			run->fs_status = status;
			run->fs_pid = 0;
		}
	}
}

/* Waits up to ms for a signal or a child; returns after one arrives. */
static void wait_event(struct record_run *run, long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	sigset_t set;
	siginfo_t si;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sig = sigtimedwait(&set, &si, &ts);
	if ((sig == SIGINT || sig == SIGTERM || sig == SIGHUP) && !run->stop_signal)
		run->stop_signal = sig;
	if (record_signal && !run->stop_signal)
		run->stop_signal = record_signal;
	reap(run);
}

/* Runs until the workload exits, the recorder dies, or we are told to stop. */
static void wait_workload(struct record_run *run)
{
	while (run->wl_pid && run->fs_pid && !run->stop_signal)
		wait_event(run, 1000);
}

/* True if pid's parent is us (it was reparented to this subreaper). */
static bool is_our_orphan(pid_t pid, pid_t self)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %d", &ppid);
	fclose(f);
	return ppid == self;
}

/* Sends sig to every child of ours but faultline-fs; returns how many. */
static int signal_orphans(struct record_run *run, int sig)
{
	struct dirent **ents;
	pid_t self = getpid();
	int n, i, hit = 0;

	n = scandir("/proc", &ents, NULL, NULL);
	for (i = 0; i < n; i++) {
		pid_t pid = (pid_t)atoi(ents[i]->d_name);

		if (pid > 0 && pid != run->fs_pid && is_our_orphan(pid, self)) {
			kill(pid, sig);
			hit++;
		}
		free(ents[i]);
	}
	if (n > 0)
		free(ents);
	return hit;
}

/*
 * Stops the workload's process group and anything it left behind: SIGTERM,
 * a grace period, then SIGKILL.
 */
static void stop_workload(struct record_run *run, pid_t pgid)
{
	struct timespec t0;
	int sig = SIGTERM;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int left = 0;

		if (pgid > 0 && kill(-pgid, sig) == 0)
			left++;
		left += signal_orphans(run, sig);
		if (!left)
			return;
		if (sig == SIGKILL && ms_since(&t0) > 5 * RECORD_GRACE_MS)
			return; /* unkillable (D state): the lazy unmount copes */
		if (ms_since(&t0) > RECORD_GRACE_MS)
			sig = SIGKILL;
		wait_event(run, 50);
	}
}

/* ---- unmounting ---- */

int unmount_once(const char *mnt, bool lazy, const sigset_t *mask)
{
	char *argv[] = {"fusermount3", lazy ? "-uz" : "-u", "--", (char *)mnt, NULL};

	if (geteuid() == 0)
		return umount2(mnt, lazy ? MNT_DETACH : 0) == 0 ? 0 : -errno;
	return run_wait(NULL, argv, NULL, mask) == 0 ? 0 : -EBUSY;
}

/* Is mnt a mount point right now (per /proc/self/mountinfo)? */
bool is_mounted(const char *mnt)
{
	char line[PATH_MAX * 2], point[PATH_MAX];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return true;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 &&
			strcmp(point, mnt) == 0;
	fclose(f);
	return found;
}

/*
 * Unmounts, waits for faultline-fs to finish the trace and exit.  A busy
 * mount is retried for a while, then detached lazily; a recorder that
 * does not exit is killed.
 */
static void unmount_and_wait(struct record_run *run)
{
	struct timespec t0;
	int err = -EBUSY;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (run->mounted && is_mounted(run->mnt)) {
		err = unmount_once(run->mnt, false, &run->oldmask);
		if (err == 0 || !is_mounted(run->mnt))
			break;
		if (ms_since(&t0) > 2 * RECORD_GRACE_MS) {
			unmount_once(run->mnt, true, &run->oldmask);
			break;
		}
		signal_orphans(run, SIGKILL);
		wait_event(run, 100);
	}
	run->mounted = false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (run->fs_pid) {
		long ms = ms_since(&t0);

		if (ms > RECORD_FS_EXIT_TIMEOUT_MS)
			kill(run->fs_pid, SIGKILL);
		else if (ms > RECORD_FS_EXIT_TIMEOUT_MS / 2)
			kill(run->fs_pid, SIGTERM);
		wait_event(run, 200);
	}
}

/* ---- the command ---- */

/* The workload and --setup run in the mount and base/: a ./prog given by
 * the user means the one in the directory record was started in. */
static int record_resolve(struct record_opts *o)
{
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd)))
		return 0; /* nothing to resolve against: as given */
	if (cmdword_resolve_arg(o->cmd[0], cwd, o->cmd0, sizeof(o->cmd0)) > 0)
		o->cmd[0] = o->cmd0;
	if (o->setup && cmdword_resolve_first(o->setup, cwd, o->setup_buf,
					      sizeof(o->setup_buf)) > 0)
		o->setup = o->setup_buf;
	return 0;
}

static int record_parse(int argc, char **argv, struct record_opts *o)
{
	static const struct option lopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"setup", required_argument, NULL, 's'},
		{"from", required_argument, NULL, 'f'},
		{"real-fsync", no_argument, NULL, 'R'},
		{"keep-final", no_argument, NULL, 'K'},
		{"allow-other", no_argument, NULL, 'A'},
		{"backing", required_argument, NULL, 'b'},
		{"calls", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->trace = "faultline.trace";
	while ((c = getopt_long(argc, argv, "+o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->trace = optarg; break;
		case 's': o->setup = optarg; break;
		case 'f': o->from = optarg; break;
		case 'R': o->real_fsync = true; break;
		case 'K': o->keep_final = true; break;
		case 'A': o->allow_other = true; break;
		case 'b': o->backing = optarg; break;
		case 'C': o->calls = true; break;
		case 'h': cli_help("record", stdout); exit(0);
		default: cli_err("record", "see faultline record --help"); return -FL_EUSAGE;
		}
	}
	if (optind >= argc) {
		cli_err("record", "no command to record (put it after --)");
		return -FL_EUSAGE;
	}
	o->cmd = argv + optind;
	return record_resolve(o);
}

/* Blocks the signals we wait for; installs a handler so they interrupt. */
static void record_signals(struct record_run *run)
{
	struct sigaction sa = {.sa_handler = record_on_signal};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &run->oldmask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* Checks that FUSE can work here before touching anything. */
static int check_fuse(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		cli_err("record", "cannot open /dev/fuse: %s (FUSE is needed to record)",
			strerror(errno));
		return -ENODEV;
	}
	close(fd);
	return 0;
}

/* Runs the mounted part: workload, stop, unmount. Returns an exit code. */
static int record_mounted(const struct record_opts *o, struct record_run *run)
{
	pid_t pgid;
	int err;

	err = start_workload(o, run);
	if (err) {
		cli_err("record", "cannot start workload: %s", strerror(-err));
		return FL_EXIT_ENV;
	}
	pgid = run->wl_pid;
	wait_workload(run);
	stop_workload(run, pgid);
	unmount_and_wait(run);
	if (run->stop_signal) {
		cli_err("record", "interrupted by signal %d; trace kept", run->stop_signal);
		return FL_EXIT_ENV;
	}
	if (run->fs_status != 0) {
		char why[64];

		cli_err("record", "faultline-fs died (%s); the trace's valid prefix is kept",
			status_text(run->fs_status, why, sizeof(why)));
		return FL_EXIT_ENV;
	}
	return FL_EXIT_OK;
}

static const char *final_status(const struct record_run *run, int rc)
{
	if (run->stop_signal)
		return "interrupted";
	if (rc == FL_EXIT_ENV)
		return "recorder-failed";
	return "complete";
}

/* Final bookkeeping: meta.json, the backing dir, the mount point. */
static int record_finish(const struct record_opts *o, struct record_run *run, int rc)
{
	char error[256], final[PATH_MAX + 8], why[64];
	uint64_t n;

	if (write_meta(o, run, final_status(run, rc), true, &n, error,
		       sizeof(error)) < 0 &&
	    rc == FL_EXIT_OK)
		rc = FL_EXIT_ENV;
	if (run->mnt[0] && !is_mounted(run->mnt))
		rmdir(run->mnt);
	snprintf(final, sizeof(final), "%s/final", run->trace);
	if (run->backing[0]) {
		if (o->keep_final && rename(run->backing, final) < 0 &&
		    mkdir(final, 0755) == 0) /* another file system: copy it */
			copy_tree(run->backing, final, &run->oldmask);
		rm_tree(run->backing);
	}
	if (rc == FL_EXIT_OK && run->wl_status != 0) {
		cli_err("record", "workload %s; trace kept", status_text(run->wl_status, why, sizeof(why)));
		rc = FL_EXIT_FAIL;
	}
	if (run->fs_status >= 0 || n > 0)
		fprintf(stderr, "faultline: recorded %" PRIu64 " valid records in %s%s%s\n",
			n, run->trace, error[0] ? "; then: " : "", error);
	return rc;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts o = {0};
	struct record_run run = {.fs_status = -1, .wl_status = -1};
	const char *tmp = getenv("TMPDIR");
	int rc = FL_EXIT_ENV, err;

	if (record_parse(argc, argv, &o) < 0)
		return FL_EXIT_USAGE;
	if (check_fuse() < 0)
		return FL_EXIT_ENV;
	clock_gettime(CLOCK_MONOTONIC, &run.t0);
	record_signals(&run);
	err = prepare_trace_dir(o.trace, run.trace);
	if (err) {
		cli_err("record", "%s: %s", o.trace, err == -ENOTEMPTY
			? "exists and is not a faultline trace; refusing to replace it"
			: strerror(-err));
		return FL_EXIT_USAGE;
	}
	write_meta(&o, &run, "recording", false, NULL, NULL, 0);
	err = make_base(&o, &run);
	if (err) {
		if (err != -FL_EUSAGE)
			cli_err("record", "cannot prepare base: %s", faultline_strerror(err));
		rc = err == -FL_EUSAGE ? FL_EXIT_USAGE : FL_EXIT_ENV;
		goto out;
	}
	snprintf(run.mnt, sizeof(run.mnt), "%s/faultline-mnt.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(run.mnt)) {
		cli_err("record", "cannot make a mount point: %s", strerror(errno));
		run.mnt[0] = 0;
		goto out;
	}
	if (start_fs(&o, &run) < 0) {
		cli_err("record", "faultline-fs could not mount %s", run.mnt);
		unmount_and_wait(&run);
		goto out;
	}
	rc = record_mounted(&o, &run);
out:
	if (run.mounted || run.fs_pid)
		unmount_and_wait(&run);
	return record_finish(&o, &run, rc);
}
