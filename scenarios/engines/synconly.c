/*
 * synconly.c - an engine whose only barrier is sync() or syncfs(): the
 * workload and checker of scenarios/synconly*.ini and tests/record_calls.sh.  FUSE never sees either
 * call, so only record --calls can tell its commits are durable.  Built
 * twice, dynamically and static (synconly-static), with nothing but libc
 * and pthreads; the barrier is issued as a raw syscall.
 *
 *     synconly run MODE N
 *         for i in 1..N: creates f<i> with 4096 bytes of (i & 0xff), makes
 *         it durable by MODE, then marks "commit i".  MODE:
 *           sync            syscall(SYS_sync) in this thread
 *           syncfs          syscall(SYS_syncfs) on f<i>'s descriptor
 *           thread          sync() from a second thread
 *           fork            sync() from a child process
 *           syncfs-outside  syncfs() on a descriptor of "/" (not the mount:
 *                           no barrier for it)
 *           none            no barrier at all
 *     synconly check
 *         every "commit i" of $FAULTLINE_MARKS must have f<i>, whole.
 *
 * Exit codes: 0 fine, 1 a commit is lost, 2 usage, 3 I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYNCONLY_SIZE 4096

static void *sync_thread(void *arg)
{
	(void)arg;
	syscall(SYS_sync);
	return NULL;
}

/* Makes f<i> durable by mode; 0, or -1 for an unknown mode. */
static int barrier(const char *mode, int fd)
{
	pthread_t t;
	pid_t pid;
	int dfd;

	if (!strcmp(mode, "sync"))
		return (int)syscall(SYS_sync);
	if (!strcmp(mode, "syncfs"))
		return (int)syscall(SYS_syncfs, fd);
	if (!strcmp(mode, "thread"))
		return pthread_create(&t, NULL, sync_thread, NULL) || pthread_join(t, NULL) ? -1 : 0;
	if (!strcmp(mode, "fork")) {
		if ((pid = fork()) == 0) {
			syscall(SYS_sync);
			_exit(0);
		}
		return pid > 0 && waitpid(pid, NULL, 0) == pid ? 0 : -1;
	}
	if (!strcmp(mode, "syncfs-outside")) {
		dfd = open("/", O_RDONLY | O_DIRECTORY);
		if (dfd < 0 || syscall(SYS_syncfs, dfd) < 0)
			return -1;
		return close(dfd);
	}
	return strcmp(mode, "none") ? -1 : 0;
}

static int mark(const char *text)
{
	char path[4096];
	const char *mnt = getenv("FAULTLINE_MNT");
	FILE *f;

	snprintf(path, sizeof(path), "%s/.faultline-ctl", mnt ? mnt : ".");
	if (!(f = fopen(path, "w")))
		return -1;
	fprintf(f, "%s\n", text);
	return fclose(f);
}

static int run(const char *mode, int n)
{
	char buf[SYNCONLY_SIZE], name[32];
	int i, fd;

	for (i = 1; i <= n; i++) {
		memset(buf, i & 0xff, sizeof(buf));
		snprintf(name, sizeof(name), "f%d", i);
		fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			perror(name);
			return 3;
		}
		if (barrier(mode, fd) < 0) {
			fprintf(stderr, "synconly: barrier %s failed: %s\n", mode, strerror(errno));
			return 2;
		}
		close(fd);
		snprintf(name, sizeof(name), "commit %d", i);
		if (mark(name) < 0)
			return 3;
	}
	return 0;
}

/* 0 when f<i> holds its 4096 bytes of (i & 0xff). */
static int whole(int i)
{
	unsigned char buf[SYNCONLY_SIZE + 1];
	char name[32];
	ssize_t got;
	int fd, k;

	snprintf(name, sizeof(name), "f%d", i);
	if ((fd = open(name, O_RDONLY)) < 0)
		return -1;
	got = read(fd, buf, sizeof(buf));
	close(fd);
	if (got != SYNCONLY_SIZE)
		return -1;
	for (k = 0; k < SYNCONLY_SIZE; k++)
		if (buf[k] != (unsigned char)(i & 0xff))
			return -1;
	return 0;
}

static int check(void)
{
	const char *marks = getenv("FAULTLINE_MARKS");
	char line[256];
	FILE *f;
	int i, bad = 0;

	if (!marks || !(f = fopen(marks, "r")))
		return 0; /* no marks: nothing was promised */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "commit %d", &i) == 1 && whole(i) < 0) {
			printf("commit %d lost: f%d is missing or not whole\n", i, i);
			bad = 1;
		}
	fclose(f);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "run"))
		return run(argv[2], atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "check"))
		return check();
	fprintf(stderr, "usage: synconly run MODE N | synconly check\n");
	return 2;
}
