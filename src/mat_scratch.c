/*
 * mat_scratch.c - where the materializer's image and states live.
 *
 * As root, when four times the trace's bytes (the base plus every byte
 * written: more than the image and a few states at once can hold) fit
 * the memory budget, a private tmpfs of the budget's size mounted in the
 * work directory: a state of many small files is built there without a
 * disk file system's inode allocation, which dominates on ext4 (2.5 x
 * faster per state for walkv; see docs/PERFORMANCE.md).  Otherwise the
 * work directory itself, when its file system can share blocks (FICLONE:
 * XFS with reflink, btrfs) or the trace is small; otherwise, as root and
 * for traces of 64 MiB or more, a sparse XFS image formatted with
 * reflink and loop-mounted inside the work directory, so a state costs
 * the bytes it changes rather than a copy of every file.  Where neither
 * works, files are copied.  mat_mechanism() says which, and why not
 * memory when memory was asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mat_i.h"

/* Can files in dir share blocks (FICLONE)? */
static bool dir_can_clone(const char *dir)
{
	char a[4200], b[4200];
	int fa, fb;
	bool ok = false;

	snprintf(a, sizeof(a), "%s/.clone-probe-a", dir);
	snprintf(b, sizeof(b), "%s/.clone-probe-b", dir);
	fa = open(a, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fb = open(b, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fa >= 0 && fb >= 0 && write(fa, "probe", 5) == 5)
		ok = ioctl(fb, FICLONE, fa) == 0;
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	unlink(a);
	unlink(b);
	return ok;
}

static int run_quiet(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int mat_copy_tree(const char *src, const char *dst)
{
	char *cp[] = {"cp", "-a", "--", (char *)src, (char *)dst, NULL};

	return run_quiet(cp);
}

/*
 * Makes WORKDIR/scratch.xfs (sparse, room for bytes several times over),
 * formats it with reflink on, and loop-mounts it on WORKDIR/x.
 */
static int scratch_xfs(struct mat *m, uint64_t bytes)
{
	char img[4200];
	uint64_t size = 4 * bytes + (UINT64_C(2) << 30);
	char *mkfs[] = {"mkfs.xfs", "-q", "-f", "-m", "reflink=1", img, NULL};
	char *mnt[] = {"mount", "-o", "loop", img, m->root, NULL};
	int fd;

	snprintf(img, sizeof(img), "%s/scratch.xfs", m->workdir);
	snprintf(m->root, sizeof(m->root), "%s/x", m->workdir);
	fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	if (run_quiet(mkfs) < 0 || mkdir(m->root, 0700) < 0 || run_quiet(mnt) < 0) {
		unlink(img);
		return -EIO;
	}
	m->loop = true;
	return 0;
}

/* Mounts a private tmpfs of budget bytes on WORKDIR/m. */
static int scratch_tmpfs(struct mat *m, uint64_t budget)
{
	char opts[64];

	snprintf(m->root, sizeof(m->root), "%s/m", m->workdir);
	snprintf(opts, sizeof(opts), "size=%llu,mode=0700", (unsigned long long)budget);
	if (mkdir(m->root, 0700) < 0)
		return -errno;
	if (mount("faultline-scratch", m->root, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
		int err = -errno;

		rmdir(m->root);
		return err;
	}
	m->loop = m->tmpfs = true;
	return 0;
}

/* Bytes the image may come to hold: the base plus every byte written. */
static uint64_t trace_bytes(const struct ops_trace *t)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < t->nbase; i++)
		n += t->base[i].len;
	for (i = 0; i < t->n; i++)
		n += t->v[i].data_len;
	return n;
}

/* Picks where the image and states live (see enum mat_scratch), and probes cloning there. */
int mat_scratch(struct mat *m, enum mat_scratch how, uint64_t mem_budget, char *err,
		size_t errlen)
{
	uint64_t bytes = trace_bytes(m->t);
	bool fits = bytes <= mem_budget / 4, want;
	int rc = 0;

	m->why_not_mem = "";
	snprintf(m->root, sizeof(m->root), "%s", m->workdir);
	if (how == MAT_SCRATCH_MEM || (how == MAT_SCRATCH_AUTO && geteuid() == 0 && fits)) {
		rc = scratch_tmpfs(m, mem_budget);
		if (rc == 0) {
			m->reflink = false;
			if (!fits)
				m->why_not_mem = "; the trace's bytes exceed a quarter of the memory budget";
			return 0;
		}
		if (how == MAT_SCRATCH_MEM) {
			snprintf(err, errlen, "cannot mount a tmpfs scratch file system: %s "
				 "(needs root)", strerror(-rc));
			return rc;
		}
		m->why_not_mem = "; no tmpfs scratch (cannot mount one)";
		snprintf(m->root, sizeof(m->root), "%s", m->workdir);
		rc = 0;
	} else if (how == MAT_SCRATCH_AUTO) {
		m->why_not_mem = geteuid() != 0 ? "; no tmpfs scratch (not root)"
						: "; no tmpfs scratch (trace larger than a quarter of "
						  "the memory budget)";
	}
	want = how == MAT_SCRATCH_XFS ||
	       (how == MAT_SCRATCH_AUTO && geteuid() == 0 &&
		bytes >= (UINT64_C(64) << 20) && !dir_can_clone(m->workdir));
	if (want)
		rc = scratch_xfs(m, bytes);
	if (rc < 0 && how == MAT_SCRATCH_XFS) {
		snprintf(err, errlen, "cannot make a loop-mounted XFS scratch file system "
			 "(needs root, loop devices and mkfs.xfs)");
		return rc;
	}
	if (rc < 0) /* fall back to copies, and say so through mat_mechanism() */
		snprintf(m->root, sizeof(m->root), "%s", m->workdir);
	m->reflink = dir_can_clone(m->root);
	return 0;
}

void mat_scratch_free(struct mat *m)
{
	char img[4300];

	if (!m->loop)
		return;
	/* Lazily if a checker's leftover still holds it: never leave it mounted. */
	if (umount2(m->root, 0) < 0)
		umount2(m->root, MNT_DETACH);
	rmdir(m->root);
	snprintf(img, sizeof(img), "%s/scratch.xfs", m->workdir);
	unlink(img);
	m->loop = m->tmpfs = false;
}

