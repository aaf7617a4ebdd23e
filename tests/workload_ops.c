/*
 * workload_ops.c - a workload that performs every file operation faultline
 * records, one step at a time, each step preceded by a mark "step NAME".
 *
 * Run in the current directory.  Under `faultline record` ($FAULTLINE_MNT
 * set) the marks go to .faultline-ctl; run natively they are skipped, so
 * the same program yields the reference tree the recorded one must equal.
 * Every call is checked; the first unexpected result prints its step and
 * errno and exits 1.  tests/record_ops.sh asserts on the trace it leaves.
 *
 * `workload_ops calls` runs other steps instead, for record --calls
 * (tests/record_calls.sh): one write() of 3 MiB, more than one FUSE
 * request carries; stores into a shared mapping that an fsync() (not an
 * msync) writes back; a write() of 12345 bytes to /dev/null, outside the
 * mount.
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

/* Creates name (open flags beyond O_CREAT | O_WRONLY) holding len bytes
 * of c, written by one write(). */
static void write_file(const char *name, int flags, char *buf, size_t len, char c)
{
	int fd;

	memset(buf, c, len);
	OK(fd = open(name, O_CREAT | O_WRONLY | flags, 0644));
	write_all(fd, buf, len);
	OK(close(fd));
}

static void step_dsync(void)
{
	char buf[512];

	mark("dsync");
	write_file("dsync", O_DSYNC, buf, sizeof(buf), 'D');
}

/* A new 16 KiB file name, mapped shared; the page at off filled with c,
 * then written back by msync(MS_SYNC), or by fsync of the file. */
static void map_store(const char *name, size_t off, char c, int by_fsync)
{
	char *p;
	int fd;

	OK(fd = open(name, O_CREAT | O_RDWR, 0644));
	OK(ftruncate(fd, 16384));
	p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	memset(p + off, c, 4096);
	if (by_fsync)
		OK(fsync(fd));
	else
		OK(msync(p, 16384, MS_SYNC));
	OK(munmap(p, 16384));
	OK(close(fd));
}

static void step_mmap(void)
{
	mark("mmap");
	map_store("map", 4096, 'M', 0);
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

static void step_bigwrite(void)
{
	static char big[3 << 20];

	mark("bigwrite");
	write_file("big", O_TRUNC, big, sizeof(big), 'B');
}

static void step_mapfsync(void)
{
	mark("mapfsync");
	map_store("mf", 8192, 'F', 1);
}

static void step_outside(void)
{
	static char buf[12345];
	int fd;

	mark("outside");
	OK(fd = open("/dev/null", O_WRONLY));
	write_all(fd, buf, sizeof(buf));
	OK(close(fd));
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "calls")) {
		step_bigwrite();
		step_mapfsync();
		step_outside();
		mark("two\nlines");
		mark("end");
		return 0;
	}
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
