/*
 * fs_trigger.c - faultline-fs's crash triggers: `faultline crash --when`
 * aims a power cut at a window (mount_cmd.c).
 *
 * `faultline mount` arms a trigger through the control file, one line:
 *   "\001arm fsync GLOB"      the next FSYNC of a file matching GLOB fires,
 *                             as it begins: it is neither performed nor
 *                             recorded;
 *   "\001arm writes N GLOB"   the Nth WRITE to a file matching GLOB fires
 *                             once recorded, before it is answered;
 *   "\001disarm"              no trigger;
 *   "\001crash [HOW [SEED]]"   a crash now, asked from inside the mount
 *                             (fs_trig_crash): root and the mount's user
 *                             only, as for `faultline crash`.
 * GLOB is matched (fnmatch) against the file's path below the mount, or
 * its last component when GLOB has no '/'.  Firing writes one byte to
 * --trigger-fd and holds the request that fired until the session ends
 * (the supervisor stops it at once); then the request fails with EIO, so
 * the program never sees that fsync or write succeed.  One trigger at a
 * time; it fires once.  A disarm that comes after it fired is refused
 * (EALREADY on the control file's write): the supervisor then crashes.
 */
#define FUSE_USE_VERSION 312
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fnmatch.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calls.h"
#include "fs_i.h"

#define TRIG_CTL_ARM "\001arm "
#define TRIG_CTL_DISARM "\001disarm"
#define TRIG_CTL_CRASH "\001crash"

static int trig_disarm(struct fs_trigger *tg)
{
	int rc;

	pthread_mutex_lock(&tg->lock);
	__atomic_store_n(&tg->kind, FS_TRIG_NONE, __ATOMIC_RELAXED);
	rc = tg->fired
		 ? -EALREADY
		 : 1; /* too late: a request is held, the crash must go on */
	pthread_mutex_unlock(&tg->lock);
	return rc;
}

int fs_trig_ctl(struct fs *fs, const char *p, size_t n)
{
	struct fs_trigger *tg = &fs->trig;
	size_t k = sizeof(TRIG_CTL_ARM) - 1;
	char line[PATH_MAX + 64], glob[PATH_MAX] = "";
	enum fs_trig_kind kind = FS_TRIG_NONE;
	unsigned long long count = 0;
	int used = 0, rc = 1;

	if (n == sizeof(TRIG_CTL_DISARM) - 1 && !memcmp(p, TRIG_CTL_DISARM, n))
		return trig_disarm(tg);
	if (n <= k || n >= sizeof(line) || memcmp(p, TRIG_CTL_ARM, k))
		return 0;
	memcpy(line, p + k, n - k);
	line[n - k] = 0;
	if (sscanf(line, "fsync %4095s%n", glob, &used) == 1 && !line[used])
		kind = FS_TRIG_FSYNC;
	else if (sscanf(line, "writes %llu %4095s%n", &count, glob, &used) ==
		     2 &&
		 !line[used] && count > 0)
		kind = FS_TRIG_WRITES;
	else
		rc = -EINVAL;
	pthread_mutex_lock(&tg->lock);
	snprintf(tg->glob, sizeof(tg->glob), "%s", glob);
	tg->left = count;
	tg->fired = false;
	__atomic_store_n(&tg->kind, kind, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&tg->lock);
	return rc;
}

/* True when the file open as backing fd matches glob. */
static bool trig_matches(const struct fs *fs, int fd, const char *glob)
{
	char link[64], rel[PATH_MAX];
	const char *base;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (!calls_link_under(link, fs->backing, rel, sizeof(rel)) || !rel[0])
		return false; /* a file below the backing directory */
	base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	return fnmatch(glob, strchr(glob, '/') ? rel : base, 0) == 0;
}

/* Fires: msg to --trigger-fd, then req is held until the session ends,
 * and fails (EIO): the program never sees it succeed. */
static void trig_send(struct fs *fs, fuse_req_t req, const char *msg)
{
	if (write(fs->trig.fd, msg, strlen(msg)) != (ssize_t)strlen(msg))
		fprintf(stderr, "faultline-fs: --trigger-fd: %s\n",
			strerror(errno));
	while (!fuse_session_exited(fs->se))
		usleep(5000);
	fuse_reply_err(req, EIO);
}

static void trig_fire(struct fs *fs, fuse_req_t req)
{
	trig_send(fs, req, "T");
}

int fs_trig_crash(struct fs *fs, fuse_req_t req, const char *p, size_t n)
{
	size_t k = sizeof(TRIG_CTL_CRASH) - 1;
	char line[128], how[32] = "lose-unsynced", num[32] = "", extra[2],
			msg[160];
	unsigned long long seed;
	struct timespec ts;
	uid_t uid = fuse_req_ctx(req)->uid;
	char *end;

	if (n < k || memcmp(p, TRIG_CTL_CRASH, k) || (n > k && p[k] != ' '))
		return 0;
	if (n - k >= sizeof(line))
		return -EINVAL;
	memcpy(line, p + k, n - k);
	line[n - k] = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	seed = (unsigned long long)ts.tv_sec * 1000000007ull +
	       (unsigned long long)ts.tv_nsec;
	if (sscanf(line, "%31s %31s %1s", how, num, extra) == 3 ||
	    (strcmp(how, "lose-unsynced") && strcmp(how, "model") &&
	     strcmp(how, "torn")))
		return -EINVAL;
	if (num[0] && (seed = strtoull(num, &end, 10), *end || num[0] == '-'))
		return -EINVAL;
	if (fs->trig.fd < 0)
		return -EOPNOTSUPP; /* no faultline mount to cut the power */
	if (uid != 0 && uid != getuid())
		return -EPERM; /* as faultline crash: root and the mount's user
				*/
	snprintf(msg, sizeof(msg), "C %s %llu\n", how, seed);
	trig_send(fs, req, msg);
	return 1;
}

/* Does an op of kind on backing fd fire the trigger?  Counts writes. */
static bool trig_due(struct fs *fs, enum fs_trig_kind kind, int fd)
{
	struct fs_trigger *tg = &fs->trig;
	bool due = false;

	if (tg->fd < 0 || __atomic_load_n(&tg->kind, __ATOMIC_RELAXED) != kind)
		return false; /* the common case: nothing armed, no lock */
	pthread_mutex_lock(&tg->lock);
	if (tg->kind == kind && trig_matches(fs, fd, tg->glob))
		due = kind == FS_TRIG_FSYNC || --tg->left == 0;
	if (due) {
		__atomic_store_n(&tg->kind, FS_TRIG_NONE, __ATOMIC_RELAXED);
		tg->fired = true;
	}
	pthread_mutex_unlock(&tg->lock);
	return due;
}

bool fs_trig_fsync(struct fs *fs, fuse_req_t req, int fd)
{
	if (!trig_due(fs, FS_TRIG_FSYNC, fd))
		return false;
	trig_fire(fs, req);
	return true;
}

bool fs_trig_write(struct fs *fs, fuse_req_t req, int fd)
{
	if (!trig_due(fs, FS_TRIG_WRITES, fd))
		return false;
	trig_fire(fs, req);
	return true;
}
