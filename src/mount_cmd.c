/*
 * mount_cmd.c - `faultline mount`: a recorder that stays up under a
 * server, and the power cut that `faultline crash` (crash_cmd.c) asks for.
 *
 *   faultline mount DIR --backing DIR [--trace TRACE] [--model M]
 *                   [--daemon] [--pid-file FILE] [--trace-keep N] [--fold-size MIB]
 *                   [--allow-other]
 *
 * `mount` serves BACKING at DIR through faultline-fs, in EPOCHS: epoch N
 * is an ordinary trace directory, TRACE/epoch-N (base/, records,
 * meta.json), that show, explore, explain and replay read as they read
 * any recording.  Its base is the backing directory as the epoch began.
 * The supervisor (this process) listens on an abstract unix socket named
 * after DIR, "faultline-mount-" and a hash of DIR's real path.
 *
 * `crash` asks it for a power cut.  The supervisor, in this order:
 *   1. with --kill, sends SIGKILL to every process that uses the mount
 *      (cwd, root, an open file or a mapping under DIR) and waits for them;
 *   2. stops faultline-fs (SIGTERM, epoch_end): from this instant it
 *      takes no request; one being served finishes, recorded and then
 *      answered; every other fails (ENOTCONN or ECONNABORTED) once its
 *      /dev/fuse closes.  Before it exits it appends its --end-mark after
 *      every other record: the crash point, after all that happened (a
 *      barrier answered before the cut counts as completed);
 *   3. (with --when) that was preceded by the trigger firing: the fsync
 *      or write that fired is held, never answered (fs_trigger.c);
 *   4. seals the epoch's meta.json, chooses the crash state at the end
 *      mark (crash.h: what the model allows there, drawn with the seed),
 *      builds it as TRACE/epoch-N+1/base and copies it over BACKING;
 *   5. appends "epoch N id ID how HOW seed S model M" to TRACE/crashes
 *      (fsynced) and mounts DIR again as epoch N+1; then answers "ok" with
 *      the id, so `crash` returns once the server can be restarted.
 * `faultline replay TRACE/epoch-N ID` rebuilds the state byte for byte.
 *
 * SIGTERM, SIGINT or SIGHUP end `mount`: DIR is unmounted (detached if
 * busy), the epoch sealed, the socket closed.  No mount outlives it:
 * faultline-fs gets SIGTERM if this process dies (parent-death signal).
 *
 * A program inside the mount may ask for a crash too: a line "\001crash
 * [HOW [SEED]]" to the control file (fs_trigger.c); faultline-fs holds
 * that write and says so on the trigger pipe, and the loop crashes as
 * above, without --kill (ctl_crash).
 *
 * Several DIRs crash together: `crash` sends every request before it
 * reads any answer, so the cuts are microseconds apart, and each mount
 * draws its own state (legal for its own trace) with the one seed.
 *
 * --trace-keep N keeps the epochs of the last N crashes and the one being
 * recorded (each crash starts one, and an epoch's base is a copy of the
 * backing directory); by default every epoch stays, so every crash
 * replays.
 *
 * Only root and the mount's own user may crash it (SO_PEERCRED: the
 * socket is abstract, anyone can reach it); --kill spares the client.
 * A crash that fails part way still serves again: from the crash state
 * if it was written over the backing directory, else from the directory
 * as it was (the backing is replaced through a copy beside it, so a
 * failed copy leaves it whole); the answer says which.
 *
 * --when arms faultline-fs's trigger through the control file and waits
 * (up to the client's --timeout) for its byte on the epoch's trigger
 * pipe; then the crash goes on as above.  Between the cut and serving
 * again DIR is not mounted: a path opened then reaches the mount point's
 * own directory.
 *
 * A crash costs the files the epoch wrote: the state is built with the
 * base's untouched files hard-linked (mat_new_shared), and the backing
 * keeps its own copies of them (mount_backing.c).
 *
 * A mount that is not crashed does not grow without bound: once the
 * epoch's records pass --fold-size, what no crash can lose any more is
 * folded into a new base and recording goes on as the next epoch
 * (mount_fold.c, fold.h).
 *
 * Exit (mount): 0 stopped by a signal with the trace sealed; 2 bad usage;
 * 3 environment (no /dev/fuse, the mount or a crash failed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "cli.h"
#include "crash.h"
#include "mat.h"
#include "mount_i.h"
#include "model.h"
#include "ops.h"
#include "record_i.h"
#include "state.h"
#include "trace.h"
#include "trace_meta.h"

#define MOUNT_END_MARK "faultline: power cut"
#define MOUNT_READY_TIMEOUT_MS 15000
#define MOUNT_KILL_TIMEOUT_MS 10000
#define MOUNT_FOLD_MIB 64ull  /* --fold-size's default */
#define MOUNT_FOLD_POLL_MS 1000 /* how often the records' size is looked at */

/* The socket address of the mount at real path mnt. */
socklen_t mount_addr(const char *mnt, struct sockaddr_un *a)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1,
		     "faultline-mount-%016" PRIx64,
		     trace_content_hash(mnt, strlen(mnt)));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			   (size_t)n);
}

/* ---- faultline-fs, one epoch at a time ---- */

int mount_epoch_meta(const struct mount_run *run, const char *status, bool sealed)
{
	json_object *m = trace_meta_new(status);
	char why[256];
	int err;

	json_object_object_add(m, "mount", json_object_new_string(run->mnt));
	json_object_object_add(m, "backing",
			       json_object_new_string(run->backing));
	json_object_object_add(m, "epoch",
			       json_object_new_int((int)run->epoch));
	if (run->start_ns)
		json_object_object_add(m, "start_ns", json_object_new_int64(run->start_ns));
	json_object_object_add(m, "model",
			       json_object_new_string(run->m->name));
	if (sealed &&
	    trace_meta_seal(run->epoch_dir, m, NULL, why, sizeof(why)) < 0) {
		json_object_put(m);
		return -EIO;
	}
	err = write_file_durably(
	    run->epoch_dir, TRACE_META_FILE,
	    json_object_to_json_string_ext(
		m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(m);
	return err;
}

static _Noreturn void fs_exec(const struct mount_run *run, int wfd, int tfd)
{
	char fs[PATH_MAX], records[PATH_MAX + 48], fdarg[16], tfdarg[16];
	char *argv[16];
	int i = 0;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigprocmask(SIG_SETMASK, &run->oldmask, NULL);
	find_fs(fs, sizeof(fs));
	snprintf(records, sizeof(records), "%s/%s", run->epoch_dir,
		 TRACE_RECORDS_FILE);
	snprintf(fdarg, sizeof(fdarg), "%d", wfd);
	argv[i++] = fs;
	argv[i++] = "--trace";
	argv[i++] = records;
	argv[i++] = "--ready-fd";
	argv[i++] = fdarg;
	argv[i++] = "--end-mark";
	argv[i++] = MOUNT_END_MARK;
	snprintf(tfdarg, sizeof(tfdarg), "%d", tfd);
	argv[i++] = "--trigger-fd";
	argv[i++] = tfdarg;
	if (run->allow_other)
		argv[i++] = "--allow-other";
	argv[i++] = (char *)run->backing;
	argv[i++] = (char *)run->mnt;
	argv[i] = NULL;
	execvp(fs, argv);
	fprintf(stderr, "faultline: mount: cannot run %s: %s\n", fs,
		strerror(errno));
	_exit(3);
}

/*
 * Starts epoch run->epoch: its directory (base/ copied from the backing
 * directory unless have_base), meta.json, faultline-fs; waits until the
 * mount is up.  0 or -errno.
 */
static int epoch_start(struct mount_run *run, bool have_base)
{
	char base[PATH_MAX + 64], msg[9];
	struct timespec now;
	struct pollfd pfd;
	int p[2], tp[2], rc;

	snprintf(run->epoch_dir, sizeof(run->epoch_dir), "%s/epoch-%u",
		 run->trace, run->epoch);
	snprintf(base, sizeof(base), "%s/%s", run->epoch_dir, TRACE_BASE_DIR);
	if (!have_base &&
	    ((mkdir(run->epoch_dir, 0755) < 0 && errno != EEXIST) ||
	     mkdir(base, 0755) < 0 ||
	     copy_tree(run->backing, base, &run->oldmask) < 0))
		return -EIO;
	if ((rc = mount_epoch_meta(run, "recording", false)) < 0)
		return rc;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	clock_gettime(CLOCK_REALTIME, &now);
	run->start_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	tp[0] = tp[1] = -1;
	if (pipe2(tp, O_CLOEXEC) < 0 || (run->fs_pid = fork()) < 0) {
		rc = -errno;
		run->fs_pid = 0;
		close(p[0]);
		close(p[1]);
		if (tp[0] >= 0) {
			close(tp[0]);
			close(tp[1]);
		}
		return rc;
	}
	if (run->fs_pid == 0) {
		close(p[0]);
		close(tp[0]);
		fcntl(p[1], F_SETFD, 0);  /* the ready fd must survive exec */
		fcntl(tp[1], F_SETFD, 0); /* and the trigger's */
		fs_exec(run, p[1], tp[1]);
	}
	close(p[1]);
	close(tp[1]);
	if (run->trig >= 0)
		close(run->trig);
	run->trig = tp[0];
	pfd = (struct pollfd){.fd = p[0], .events = POLLIN};
	rc = poll(&pfd, 1, MOUNT_READY_TIMEOUT_MS) == 1 &&
		     read(p[0], msg, sizeof(msg)) == (ssize_t)sizeof(msg)
		 ? 0
		 : -EIO;
	close(p[0]);
	return rc;
}

/* Waits (up to ms) for faultline-fs to exit; kills it past that.  Its status.
 */
static int fs_wait(struct mount_run *run, int ms)
{
	int st = -1, waited = 0;

	while (run->fs_pid) {
		pid_t r = waitpid(run->fs_pid, &st, WNOHANG);

		if (r == run->fs_pid || (r < 0 && errno == ECHILD)) {
			run->fs_pid = 0;
			break;
		}
		if (waited == ms)
			kill(run->fs_pid, SIGKILL);
		usleep(10000);
		waited += waited < ms ? 10 : 0;
	}
	run->fs_status = st;
	return st;
}

/*
 * Ends the epoch, for a crash and a stop alike: SIGTERM to faultline-fs.
 * Its session loop then stops taking requests; a request being served
 * finishes (recorded, then answered), a held trigger request fails; the
 * loop ends, the end mark goes after every record, and closing /dev/fuse
 * fails every request still queued or sent since: from the signal on,
 * nothing else succeeds.  It unmounts itself (detached when files are
 * open).  Then meta.json is sealed: "complete", or "recorder-failed" when
 * faultline-fs did not exit 0 (died, or could not write the whole trace).
 * Returns 0, -EIO for a recorder that failed (its trace holds a valid
 * prefix, but not the instant of the cut), or -errno.
 */
static int epoch_end(struct mount_run *run)
{
	bool ok;
	int st, rc;

	if (run->fs_pid)
		kill(run->fs_pid, SIGTERM);
	st = run->fs_pid ? fs_wait(run, 20000) : run->fs_status;
	ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok)
		fprintf(stderr, "faultline: mount: faultline-fs ended badly; "
				"the trace's valid "
				"prefix is kept\n");
	if (is_mounted(run->mnt))
		unmount_once(run->mnt, true, &run->oldmask);
	rc = mount_epoch_meta(run, ok ? "complete" : "recorder-failed", true);
	return rc ? rc : ok ? 0 : -EIO;
}

/* ---- the power cut ---- */

/* True when /proc/PID/LINK (a symlink) names mnt or a path under it. */
static bool link_under(const char *pid, const char *link, const char *mnt)
{
	char path[PATH_MAX];

	return snprintf(path, sizeof(path), "/proc/%s/%s", pid, link) < (int)sizeof(path) &&
	       calls_link_under(path, mnt, NULL, 0);
}

/* True when process pid has its cwd, root, an fd or a mapping under mnt. */
static bool uses_mount(const char *pid, const char *mnt)
{
	char path[PATH_MAX], line[PATH_MAX + 128];
	struct dirent *e;
	bool found =
	    link_under(pid, "cwd", mnt) || link_under(pid, "root", mnt);
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	if (!found && (d = opendir(path))) {
		while (!found && (e = readdir(d)))
			if (e->d_name[0] != '.') {
				snprintf(line, sizeof(line), "fd/%s",
					 e->d_name);
				found = link_under(pid, line, mnt);
			}
		closedir(d);
	}
	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	if (!found && (f = fopen(path, "re"))) {
		while (!found && fgets(line, sizeof(line), f)) {
			char *p = strchr(line, '/');

			if (p)
				p[strcspn(p, "\n")] = 0;
			found = p && calls_path_under(p, mnt);
		}
		fclose(f);
	}
	return found;
}

/* SIGKILLs every process using mnt but us, faultline-fs and spare (the
 * crash client); their pids go to pids (cap entries).  The number killed. */
static int kill_users(const struct mount_run *run, pid_t spare, pid_t *pids,
		      int cap)
{
	pid_t self = getpid();
	struct dirent *e;
	int n = 0;
	DIR *d = opendir("/proc");

	while (d && (e = readdir(d)) && n < cap) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid > 0 && pid != self && pid != run->fs_pid &&
		    pid != spare && uses_mount(e->d_name, run->mnt) &&
		    kill(pid, SIGKILL) == 0)
			pids[n++] = pid;
	}
	if (d)
		closedir(d);
	return n;
}

/* True while pid runs (a zombie has ended). */
static bool alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	bool run = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return false;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		run = p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return run;
}

/* Waits (bounded) until the killed processes are gone.  They are waited for
 * after the cut, not before: one blocked in a held request dies only once
 * faultline-fs lets the request go. */
static void killed_gone(const pid_t *pids, int n)
{
	int i, waited;

	for (waited = 0; waited < MOUNT_KILL_TIMEOUT_MS; waited += 10) {
		for (i = 0; i < n && !alive(pids[i]); i++)
			;
		if (i == n)
			return;
		usleep(10000);
	}
}

/* Appends one line to TRACE/crashes and fsyncs it: a crash nobody can replay
 * would be worse than none.  0 or -errno. */
static int crashes_log(const struct mount_run *run, const char *line)
{
	char path[PATH_MAX + 16];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/crashes", run->trace);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) <
	    0)
		return -errno;
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) ||
	    fsync(fd) < 0)
		rc = -EIO;
	close(fd);
	return rc;
}

/* True when t ends with faultline-fs's end mark: the cut came after all
 * that the trace holds, and nothing the program was told is missing. */
static bool ends_with_cut(const struct ops_trace *t)
{
	const struct ops_op *op = t->n ? &t->v[t->n - 1] : NULL;

	return op && op->op == TRACE_OP_MARK &&
	       op->name_len == strlen(MOUNT_END_MARK) &&
	       !memcmp(ops_name(t, op), MOUNT_END_MARK, op->name_len);
}

/*
 * Builds the crash state of the ended epoch at its end mark as the next
 * epoch's base, and makes the backing directory hold it; *id gets its id
 * (malloc'ed).  0 or a negative code with the reason in err (the backing
 * directory is then as it was).
 */
static int crash_build(struct mount_run *run, enum crash_how how, uint64_t seed,
		       char **id, char *err, size_t errlen)
{
	char work[PATH_MAX + 32], into[PATH_MAX + 64];
	struct ops_trace *t = NULL;
	struct state s = {0};
	uint64_t copied = 0;
	int rc;

	snprintf(work, sizeof(work), "%s/.crash-work", run->trace);
	snprintf(into, sizeof(into), "%s/epoch-%u", run->trace, run->epoch + 1);
	if ((rc = ops_load(run->epoch_dir, 0, &t, err, errlen)) < 0)
		return rc;
	if (!ends_with_cut(t)) {
		snprintf(err, errlen,
			 "%s does not end with the cut: no state of it is sure",
			 run->epoch_dir);
		rc = -EIO;
	}
	if (rc == 0)
		rc = crash_choose(t, run->m, t->n - 1, how, seed, &s);
	if (rc == 0 && !(*id = state_id_new(&s)))
		rc = -ENOMEM;
	if (rc == 0 && mkdir(into, 0755) < 0)
		rc = -errno;
	strcat(into, "/" TRACE_BASE_DIR);
	if (rc == 0)
		rc = mat_build_shared(t, &s, work, into, err, errlen);
	if (rc == 0 && (rc = mount_backing_replace(run->backing, t, into, &copied)) < 0)
		snprintf(err, errlen, "cannot rewrite %s (left as it was): %s", run->backing,
			 strerror(-rc));
	if (rc && !err[0])
		snprintf(err, errlen, "cannot build the crash state: %s",
			 strerror(-rc));
	state_free(&s);
	ops_free(t);
	return rc;
}

/* --trace-keep N: the crashed epochs before the last N go (TRACE/crashes
 * keeps every line); ended is the epoch just crashed.  (Folded epochs are
 * gone already, so the crashed ones are counted, not numbered.) */
static void epochs_drop(struct mount_run *run, unsigned ended)
{
	char dir[PATH_MAX + 32];
	unsigned *v = realloc(run->crashed, (run->ncrashed + 1) * sizeof(*v));

	if (!v)
		return;
	run->crashed = v;
	v[run->ncrashed++] = ended;
	if (!run->keep || run->ncrashed <= run->keep)
		return;
	snprintf(dir, sizeof(dir), "%s/epoch-%u", run->trace,
		 v[run->ncrashed - run->keep - 1]);
	if (rm_tree(dir) < 0)
		fprintf(stderr, "faultline: mount: cannot remove %s: %s\n", dir,
			strerror(errno));
}

/* The crash is done (rc 0) or failed: either way the mount serves again,
 * as epoch ended + 1, from the crash state when it was written, else from
 * the backing directory as it is.  0 or -errno (err says why). */
static int serve_again(struct mount_run *run, unsigned ended, int rc, char *err,
		       size_t errlen)
{
	char dir[PATH_MAX + 32];
	int again;

	run->epoch = ended + 1;
	run->fold_at = run->fold_size;
	if (rc) { /* a state half built is no base */
		snprintf(dir, sizeof(dir), "%s/epoch-%u", run->trace,
			 run->epoch);
		rm_tree(dir);
	}
	if ((again = epoch_start(run, rc == 0)) < 0 && !err[0])
		snprintf(err, errlen, "cannot mount %s again: %s", run->mnt,
			 strerror(-again));
	return rc ? rc : again;
}

/* One crash, as the header says; client is the crash command's pid (not
 * killed).  Returns the answer line (malloc'ed; an id has no length
 * limit), or NULL without memory. */
static char *crash_serve(struct mount_run *run, enum crash_how how,
			 uint64_t seed, bool kill, pid_t client)
{
	char err[PATH_MAX + 512] = "";
	char *id = NULL, *line = NULL, *reply = NULL;
	unsigned ended = run->epoch;
	pid_t pids[4096];
	int killed = kill ? kill_users(run, client, pids, 4096) : 0, rc;

	rc = epoch_end(run);
	killed_gone(pids, killed);
	if (rc == -EIO)
		snprintf(err, sizeof(err),
			 "faultline-fs failed: %s/epoch-%u holds a valid "
			 "prefix only",
			 run->trace, ended);
	if (rc == 0)
		rc = crash_build(run, how, seed, &id, err, sizeof(err));
	if (rc == 0 && asprintf(&line,
				"epoch %u id %s how %s seed %" PRIu64
				" model %s killed %d\n",
				ended, id, crash_how_name(how), seed,
				run->m->name, killed) < 0)
		rc = -ENOMEM;
	if (rc == 0 && (rc = crashes_log(run, line)) < 0)
		snprintf(err, sizeof(err),
			 "state %s written, but TRACE/crashes not: %s", id,
			 strerror(-rc));
	if (rc == 0)
		epochs_drop(run, ended);
	rc = serve_again(run, ended, rc, err, sizeof(err));
	if ((rc == 0 ? asprintf(&reply, "ok %s %s/epoch-%u %d\n", id,
				run->trace, ended, killed)
		     : asprintf(&reply, "error %s\n",
				err[0] ? err : strerror(-rc))) < 0)
		reply = NULL;
	free(line);
	free(id);
	return reply;
}

/* ---- the supervisor's loop ---- */

/* Writes one line to the mount's control file (faultline-fs reads it
 * there: a trigger to arm or disarm).  0 or -errno (EALREADY: a disarm
 * after the trigger fired). */
int mount_ctl_line(const struct mount_run *run, const char *line)
{
	char path[PATH_MAX + 32];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/.faultline-ctl", run->mnt);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}

/* Sends text to the client on c (best effort: a client gone is said once). */
static void tell(int c, const char *text)
{
	size_t done = 0, len = strlen(text);
	ssize_t n;

	for (; done < len; done += (size_t)n)
		if ((n = send(c, text + done, len - done, MSG_NOSIGNAL)) <= 0) {
			fprintf(
			    stderr,
			    "faultline: mount: the crash client went away\n");
			return;
		}
}

/*
 * --when WHEN ("fsync:GLOB" or "writes:N:GLOB"): arms faultline-fs's
 * trigger (fs_trigger.c), tells the client on c "armed", and waits up to
 * secs for it to fire.  0 when it fired (the request that fired is held:
 * the crash comes before it could succeed), or -1 with the reason in err.
 * A window that comes as the wait ends still crashes: the disarm is
 * refused then, and the trigger's byte is read.
 */
static int await_trigger(struct mount_run *run, int c, const char *when,
			 unsigned secs, char *err, size_t errlen)
{
	char line[PATH_MAX + 64], glob[PATH_MAX], b;
	unsigned long long n;
	struct pollfd pfd[2] = {{.fd = run->trig, .events = POLLIN},
				{.fd = run->sigfd, .events = POLLIN}};
	int used = 0, r;

	if (sscanf(when, "fsync:%4095s%n", glob, &used) == 1 && !when[used])
		snprintf(line, sizeof(line), "\001arm fsync %s\n", glob);
	else if (sscanf(when, "writes:%llu:%4095s%n", &n, glob, &used) == 2 &&
		 !when[used] && n)
		snprintf(line, sizeof(line), "\001arm writes %llu %s\n", n,
			 glob);
	else {
		snprintf(err, errlen,
			 "--when %s: not fsync:GLOB or writes:N:GLOB", when);
		return -1;
	}
	while (poll(pfd, 1, 0) == 1 && read(run->trig, &b, 1) == 1)
		; /* nothing stale: the byte read below is this arming's */
	if (run->trig < 0 || mount_ctl_line(run, line) < 0) {
		snprintf(err, errlen, "cannot arm the trigger");
		return -1;
	}
	tell(c, "armed\n");
	r = poll(pfd, 2, (int)(secs > 2000000 ? 2000000 : secs) * 1000);
	if (r > 0 && (pfd[0].revents & POLLIN) && read(run->trig, &b, 1) == 1)
		return 0;
	if (mount_ctl_line(run, "\001disarm\n") == -EALREADY &&
	    read(run->trig, &b, 1) == 1)
		return 0; /* it fired as the wait ended */
	snprintf(err, errlen,
		 r == 0
		     ? "--when %s: did not happen within %u s; nothing crashed"
		     : "--when %s: the mount is stopping; nothing crashed",
		 when, secs);
	return -1;
}

/* The crash client's pid, or -1 when it may not crash this mount: only
 * root and the mount's own user may (the socket is abstract: anyone can
 * reach it). */
static pid_t peer_allowed(int c)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    (cr.uid != 0 && cr.uid != geteuid()))
		return -1;
	return cr.pid;
}

/* One request on connection c: "crash HOW SEED KILL WHEN SECS\n" (WHEN "-"
 * for at once). */
static void serve_one(struct mount_run *run, int c)
{
	char req[PATH_MAX + 128] = "", how_s[32], when[PATH_MAX + 32],
			    err[PATH_MAX + 128];
	const char *answer = "error bad request\n";
	char *reply = NULL;
	unsigned long long seed;
	unsigned secs;
	enum crash_how how;
	int kill_flag;
	pid_t client = peer_allowed(c);
	/* read whatever the answer: a client whose request is left unread may
	 * see its send fail (the connection reset) instead of the answer */
	ssize_t n = recv(c, req, sizeof(req) - 1, 0);

	if (client < 0) {
		answer = "error permission denied: only root and the mount's "
			 "user may crash it\n";
		n = 0;
	}
	if (n > 0 &&
	    sscanf(req, "crash %31s %llu %d %4127s %u", how_s, &seed,
		   &kill_flag, when, &secs) == 5 &&
	    crash_how_parse(how_s, &how) == 0) {
		if (strcmp(when, "-") &&
		    await_trigger(run, c, when, secs, err, sizeof(err)) < 0) {
			if (asprintf(&reply, "error %s\n", err) < 0)
				reply = NULL;
		} else {
			reply = crash_serve(run, how, (uint64_t)seed,
					    kill_flag != 0, client);
		}
		answer = reply ? reply : "error out of memory\n";
	}
	tell(c, answer);
	free(reply);
}

/*
 * A crash asked from inside the mount: a program wrote "\001crash [HOW
 * [SEED]]" to the control file, and faultline-fs, holding that write,
 * sent "C HOW SEED" on the trigger pipe.  The crash goes as `faultline
 * crash` would do it (no --kill); what it did is said on stderr and in
 * TRACE/crashes.  Anything else on the pipe (a --when byte nobody waits
 * for any more) is dropped.
 */
static void ctl_crash(struct mount_run *run)
{
	char buf[160], how_s[32];
	unsigned long long seed;
	enum crash_how how;
	ssize_t n = read(run->trig, buf, sizeof(buf) - 1);
	char *c, *reply;

	if (n <= 0)
		return;
	buf[n] = 0;
	if (!(c = strchr(buf, 'C')) || sscanf(c, "C %31s %llu", how_s, &seed) != 2 ||
	    crash_how_parse(how_s, &how) < 0)
		return;
	reply = crash_serve(run, how, (uint64_t)seed, false, -1);
	fprintf(stderr, "faultline: mount: crash asked through the control file (%s, seed %llu): %s",
		how_s, seed, reply ? reply : "out of memory\n");
	free(reply);
}

/* Serves until a stopping signal or faultline-fs ends.  An exit code. */
static int mount_loop(struct mount_run *run)
{
	struct pollfd pfd[3] = {{.fd = run->sigfd, .events = POLLIN},
				{.fd = run->sock, .events = POLLIN},
				{.events = POLLIN}};
	struct signalfd_siginfo si;
	int c;

	for (;;) {
		pfd[2].fd = run->trig; /* each epoch has its own */
		if (poll(pfd, 3, run->fold_size ? MOUNT_FOLD_POLL_MS : -1) < 0 && errno != EINTR)
			return FL_EXIT_ENV;
		mount_fold(run);
		if (pfd[0].revents && read(run->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGCHLD)
				return FL_EXIT_OK;
			if (run->fs_pid && waitpid(run->fs_pid, &run->fs_status, WNOHANG) == run->fs_pid) {
				run->fs_pid = 0;
				fprintf(stderr, "faultline: mount: faultline-fs ended on its own\n");
				return FL_EXIT_ENV;
			}
		}
		if (pfd[2].revents & POLLIN)
			ctl_crash(run);
		if (pfd[1].revents && (c = accept4(run->sock, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
			serve_one(run, c);
			close(c);
		}
		if (!run->fs_pid) /* a crash could not mount again */
			return FL_EXIT_ENV;
	}
}

static int mount_parse(int argc, char **argv, struct mount_opts *o)
{
	static const struct option longopts[] = {
	    {"backing", required_argument, NULL, 'b'},
	    {"trace", required_argument, NULL, 't'},
	    {"model", required_argument, NULL, 'm'},
	    {"daemon", no_argument, NULL, 'D'},
	    {"pid-file", required_argument, NULL, 'p'},
	    {"allow-other", no_argument, NULL, 'a'},
	    {"trace-keep", required_argument, NULL, 'k'},
	    {"fold-size", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	*o = (struct mount_opts){.model = "posix", .trace = "faultline.trace",
				 .fold_size = MOUNT_FOLD_MIB << 20};
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'b')
			o->backing = optarg;
		else if (c == 't')
			o->trace = optarg;
		else if (c == 'm')
			o->model = optarg;
		else if (c == 'D')
			o->daemon = true;
		else if (c == 'p')
			o->pid_file = optarg;
		else if (c == 'a')
			o->allow_other = true;
		else if (c == 'f' && *optarg != '-' &&
			 (o->fold_size = strtoull(optarg, &end, 10)) < (1ull << 40) && !*end &&
			 end != optarg)
			o->fold_size <<= 20;
		else if (c == 'k' &&
			 (o->keep = (unsigned)strtoul(optarg, &end, 10)) > 0 &&
			 !*end && *optarg != '-')
			continue;
		else if (c == 'h') {
			cli_help("mount", stdout);
			exit(0);
		} else
			goto usage;
	}
	if (argc - optind != 1 || !o->backing)
		goto usage;
	o->mnt = argv[optind];
	return 0;
usage:
	cli_help("mount", stderr);
	return -EINVAL;
}

/* Real paths, the model, an empty (or new) trace directory.  0 or -1 (said
 * why). */
static int mount_resolve(const struct mount_opts *o, struct mount_run *run)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (!(run->m = model_find(o->model))) {
		cli_err("mount", "unknown model %s (one of: %s)", o->model,
			model_list());
		return -1;
	}
	if (!realpath(o->mnt, run->mnt) ||
	    !realpath(o->backing, run->backing)) {
		cli_err("mount", "%s: %s",
			realpath(o->mnt, run->mnt) ? o->backing : o->mnt,
			strerror(errno));
		return -1;
	}
	if (mkdir(o->trace, 0755) < 0 && errno != EEXIST) {
		cli_err("mount", "%s: %s", o->trace, strerror(errno));
		return -1;
	}
	if (!realpath(o->trace, run->trace) || !(d = opendir(run->trace))) {
		cli_err("mount", "%s: %s", o->trace, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	if (n) {
		cli_err("mount",
			"%s is not empty; give --trace a new directory",
			o->trace);
		return -1;
	}
	return 0;
}

/* The listening socket; -1 when DIR is served already, or on error (said why).
 */
static int mount_listen(const struct mount_run *run)
{
	struct sockaddr_un a;
	socklen_t len = mount_addr(run->mnt, &a);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, len) < 0 ||
	    listen(s, 4) < 0) {
		cli_err("mount", "%s: %s", run->mnt,
			errno == EADDRINUSE
			    ? "already served by faultline mount"
			    : strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* --daemon: the parent returns once the mount is up (or failed); the child
 * goes on in its own session.  Returns in the child with the pipe's write
 * end in *ready; exits in the parent. */
static void daemonize(const struct mount_run *run, int *ready)
{
	char log[PATH_MAX + 16];
	int p[2], fd;
	char c = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		cli_err("mount", "cannot start the daemon: %s",
			strerror(errno));
		exit(FL_EXIT_ENV);
	}
	snprintf(log, sizeof(log), "%s/mount.log", run->trace);
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) == 1 && c == 'R')
			exit(FL_EXIT_OK);
		cli_err("mount", "the mount did not come up; %s says why", log);
		exit(FL_EXIT_ENV);
	}
	close(p[0]);
	setsid();
	/* Nothing of a caller's terminal or pipe is kept ($(...) and ssh
	 * return): what the daemon says goes to TRACE/mount.log. */
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) >=
	    0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	*ready = p[1];
}

static int write_pid_file(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) == 0 ? 0 : -EIO;
}

int cmd_mount(int argc, char **argv)
{
	struct mount_opts o;
	struct mount_run run = {
	    .fs_status = -1, .sock = -1, .sigfd = -1, .trig = -1, .epoch = 1};
	sigset_t set;
	int rc = FL_EXIT_ENV, ready = -1, err;

	if (mount_parse(argc, argv, &o) < 0)
		return FL_EXIT_USAGE;
	if (mount_resolve(&o, &run) < 0)
		return FL_EXIT_USAGE;
	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		cli_err("mount", "cannot open /dev/fuse: %s", strerror(errno));
		return FL_EXIT_ENV;
	}
	run.allow_other = o.allow_other;
	run.keep = o.keep;
	run.fold_size = run.fold_at = o.fold_size;
	if ((run.sock = mount_listen(&run)) < 0)
		return FL_EXIT_ENV;
	if (o.daemon)
		daemonize(&run, &ready);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &run.oldmask);
	run.sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (run.sigfd < 0 || (err = epoch_start(&run, false)) < 0) {
		cli_err("mount", "cannot mount %s: %s", run.mnt,
			strerror(errno));
		goto out;
	}
	if (o.pid_file && (err = write_pid_file(o.pid_file)) < 0)
		cli_err("mount", "%s: %s", o.pid_file, strerror(-err));
	fprintf(stderr,
		"faultline: mount: serving %s at %s, recording into %s\n",
		run.backing, run.mnt, run.trace);
	if (ready >= 0 && write(ready, "R", 1) == 1)
		close(ready);
	ready = -1;
	rc = mount_loop(&run);
out:
	if (run.epoch_dir[0] &&
	    epoch_end(&run) < 0) /* also after faultline-fs died */
		rc = FL_EXIT_ENV;
	if (o.pid_file && rc != FL_EXIT_USAGE)
		unlink(o.pid_file);
	close(run.sock);
	if (run.sigfd >= 0)
		close(run.sigfd);
	free(run.crashed);
	return rc;
}
