/*
 * workload_ops.c - a workload that performs every file operation faultline
 * records, one step at a time, each step preceded by a mark "step NAME".
 *
 * Run in the current directory.  Under `faultline record` ($FAULTLINE_MNT
 * set) the marks go to .faultline-ctl; run natively they are skipped, so
 * the same program yields the reference tree the recorded one must equal.
 * Every call is checked; the first unexpected result prints its step and
 * errno and exits 1.  tests/record_ops.sh asserts on the trace it leaves.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *step = "start"; /* current step, for error messages */

static void die(const char *what)
{
	fprintf(stderr, "workload_ops: step %s: %s: %s\n", step, what, strerror(errno));
	exit(1);
}

/* Checks a call that returns -1 on failure. */
#define OK(call)                                                               \
	do {                                                                   \
		if ((call) < 0)                                                \
			die(#call);                                            \
	} while (0)

static void mark(const char *name)
{
	char line[128];
	int fd, n;

	step = name;
	if (!getenv("FAULTLINE_MNT"))
		return;
	n = snprintf(line, sizeof(line), "step %s\n", name);
	OK(fd = open(".faultline-ctl", O_WRONLY));
	if (write(fd, line, (size_t)n) != n)
		die("write mark");
	OK(close(fd));
}

static void write_all(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die("write");
}

static void put_file(const char *name, const char *text)
{
	int fd;

	OK(fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0644));
	write_all(fd, text, strlen(text));
	OK(close(fd));
}

static void step_create_write(void)
{
	int fd;

	mark("create");
	OK(fd = open("a", O_CREAT | O_WRONLY | O_EXCL, 0644));
	write_all(fd, "hello", 5);
	if (pwrite(fd, "XY", 2, 10) != 2)
		die("pwrite");
	OK(close(fd));
}

static void step_append(void)
{
	int fd;

	mark("append");
	OK(fd = open("log", O_CREAT | O_WRONLY | O_APPEND, 0644));
	write_all(fd, "rec1\n", 5);
	write_all(fd, "rec2\n", 5);
	OK(fdatasync(fd));
	OK(close(fd));
}

static void step_dsync(void)
{
	char buf[512];
	int fd;

	mark("dsync");
	memset(buf, 'D', sizeof(buf));
	OK(fd = open("dsync", O_CREAT | O_WRONLY | O_DSYNC, 0644));
	write_all(fd, buf, sizeof(buf));
	OK(close(fd));
}

static void step_mmap(void)
{
	char *p;
	int fd;

	mark("mmap");
	OK(fd = open("map", O_CREAT | O_RDWR, 0644));
	OK(ftruncate(fd, 16384));
	p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p + 4096, 'M', 4096);
	OK(msync(p, 16384, MS_SYNC));
	OK(munmap(p, 16384));
	OK(close(fd));
}

static void step_rename_over(void)
{
	mark("rename");
	put_file("f", "old");
	put_file("f.tmp", "new");
	OK(rename("f.tmp", "f"));
}

static void step_fsync_dir(void)
{
	int fd;

	mark("fsyncdir");
	OK(mkdir("d", 0755));
	put_file("d/inner", "x");
	OK(fd = open("d", O_RDONLY | O_DIRECTORY));
	OK(fsync(fd));
	OK(close(fd));
}

static void step_fallocate(void)
{
	char buf[8192];
	int fd;

	mark("fallocate");
	memset(buf, 'F', sizeof(buf));
	OK(fd = open("fa", O_CREAT | O_RDWR, 0644));
	write_all(fd, buf, sizeof(buf));
	OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	OK(fallocate(fd, FALLOC_FL_ZERO_RANGE, 4096, 100));
	OK(fallocate(fd, 0, 8192, 4096));
	OK(close(fd));
}

static void step_truncate(void)
{
	mark("truncate");
	OK(truncate("a", 3));
	put_file("log", "over"); /* O_TRUNC of an existing file */
}

static void step_links(void)
{
	mark("links");
	OK(link("a", "a.link"));
	OK(symlink("a", "a.sym"));
	OK(unlink("a.link"));
	OK(mkdir("e", 0700));
	OK(rmdir("e"));
	if (rmdir("d") == 0 || errno != ENOTEMPTY) /* fails: recorded as such */
		die("rmdir of a non-empty directory");
}

static void step_attrs(void)
{
	struct timespec ts[2] = {{1000000000, 5}, {1000000001, 7}};

	mark("attrs");
	OK(setxattr("a", "user.k", "v1", 2, 0));
	OK(setxattr("fa", "user.gone", "x", 1, 0));
	OK(removexattr("fa", "user.gone"));
	OK(chmod("a", 0600));
	OK(utimensat(AT_FDCWD, "a", ts, 0));
}

static void step_exchange(void)
{
	mark("exchange");
	OK(renameat2(AT_FDCWD, "f", AT_FDCWD, "dsync", RENAME_EXCHANGE));
}

int main(void)
{
	step_create_write();
	step_append();
	step_dsync();
	step_mmap();
	step_rename_over();
	step_fsync_dir();
	step_fallocate();
	step_truncate();
	step_links();
	step_attrs();
	step_exchange();
	mark("end");
	return 0;
}
