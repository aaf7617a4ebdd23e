/*
 * bench_io.c - the load generator behind scripts/bench: one workload, timed
 * by itself, so that a run in a plain directory, under libfuse's
 * passthrough_ll and under `faultline record` measures the same thing.
 *
 *   bench_io rand [-n OPS] [-s SIZE] [-b BS] [-S SEED] [-r RESULT] FILE
 *	OPS pwrites of BS bytes (4096) at BS-aligned offsets drawn from a
 *	fixed-seed generator inside a SIZE-byte file (64 MiB), each followed
 *	by fsync.  FILE must already be SIZE bytes (see `fill`); filling is
 *	not part of the timed loop.
 *   bench_io seq [-t TOTAL] [-b BS] [-N] [-r RESULT] FILE
 *	Creates (or truncates) FILE, writes TOTAL bytes (256 MiB) in BS-byte
 *	(64 KiB) writes, then one fsync (none with -N: the `small` workload,
 *	many small writes that nothing syncs).  The create and the fsync are
 *	timed.
 *   bench_io fill [-s SIZE] FILE
 *	Writes FILE to SIZE bytes of non-zero data and fsyncs it (untimed
 *	preparation for `rand`; prints nothing).
 *   bench_io time [-r RESULT] -- CMD [ARG...]
 *	Runs CMD (stdin, stdout and stderr inherited) and times it from fork
 *	to exit.  Fails if CMD does not exit 0.
 *
 * Each timed mode prints one line of key=value pairs:
 *   bench_io mode=rand ops=2000 bytes=8192000 elapsed_s=1.234567
 *            ops_per_s=1620.1 mib_per_s=6.33
 * to stdout, or appends it to RESULT with -r (so a workload whose cwd is a
 * recorded mount can write its result outside the mount, unrecorded).
 * Sizes accept a K, M or G suffix (powers of 1024).
 *
 * Exit: 0 done; 1 an I/O call failed or CMD failed (message on stderr);
 * 2 bad usage.  It never judges the time it measured.
 *
 * Not a general benchmark: no direct I/O, no threads, no read workloads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2

struct bench_opts {
	const char *mode;   /* rand, seq, fill or time */
	const char *file;   /* target file; NULL for time */
	char **cmd;	    /* time: the command, NULL-terminated */
	const char *result; /* -r: file the result line is appended to */
	uint64_t ops;	    /* rand: number of pwrite+fsync pairs */
	uint64_t size;	    /* rand, fill: file size in bytes */
	uint64_t total;	    /* seq: bytes written in all */
	uint64_t bs;	    /* bytes per write call */
	uint64_t seed;	    /* rand: generator seed */
	int nosync;	    /* seq -N: no fsync at the end */
};

struct bench_result {
	uint64_t ops;	/* completed operations (writes; 1 for time) */
	uint64_t bytes; /* bytes written */
	double elapsed; /* seconds, CLOCK_MONOTONIC */
};

static void usage(void)
{
	fputs("usage: bench_io rand [-n OPS] [-s SIZE] [-b BS] [-S SEED] "
	      "[-r RESULT] FILE\n"
	      "       bench_io seq [-t TOTAL] [-b BS] [-N] [-r RESULT] FILE\n"
	      "       bench_io fill [-s SIZE] FILE\n"
	      "       bench_io time [-r RESULT] -- CMD [ARG...]\n",
	      stderr);
}

/* Prints "bench_io: WHAT: strerror(-err)"; returns err unchanged. */
static int report_err(int err, const char *fmt, ...)
{
	va_list ap;

	fputs("bench_io: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(-err));
	return err;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: a fixed, portable sequence for a given seed. */
static uint64_t next_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Fills buf with bytes from the generator (never all zero). */
static void fill_buf(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t st = seed, r = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			r = next_rand(&st);
		buf[i] = (unsigned char)(r >> (8 * (i % 8))) | 1;
	}
}

/* Writes all of buf at off.  0 or -errno (-EIO for a zero-length write). */
static int pwrite_all(int fd, const unsigned char *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Parses "123", "4K", "64M", "1G".  0 or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'K':
	case 'k':
		v <<= 10;
		end++;
		break;
	case 'M':
	case 'm':
		v <<= 20;
		end++;
		break;
	case 'G':
	case 'g':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* ---- workloads: each returns 0 or -errno and fills *res ---- */

/* `fill`: FILE becomes opt->size bytes of non-zero data, fsynced. */
static int run_fill(const struct bench_opts *o, struct bench_result *res)
{
	unsigned char *buf = malloc(o->bs);
	uint64_t off;
	int fd = -1, err = -ENOMEM;

	if (!buf)
		goto out;
	fill_buf(buf, o->bs, o->seed ^ 0xf111);
	fd = open(o->file, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = report_err(-errno, "open %s", o->file);
		goto out_free;
	}
	for (off = 0; off < o->size; off += o->bs) {
		size_t len = o->size - off < o->bs ? o->size - off : o->bs;

		err = pwrite_all(fd, buf, len, (off_t)off);
		if (err)
			goto out_io;
	}
	err = fsync(fd) < 0 ? -errno : 0;
out_io:
	if (err)
		report_err(err, "fill %s", o->file);
	res->bytes = o->size;
	close(fd);
out_free:
	free(buf);
out:
	return err;
}

/* `rand`: opt->ops × (pwrite of bs at a random aligned offset, fsync). */
static int run_rand(const struct bench_opts *o, struct bench_result *res)
{
	unsigned char *buf = malloc(o->bs);
	uint64_t st = o->seed, slots = o->size / o->bs, i;
	struct stat sb;
	double t0;
	int fd = -1, err = -ENOMEM;

	if (!buf)
		goto out;
	fill_buf(buf, o->bs, o->seed);
	fd = open(o->file, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		err = report_err(-errno, "open %s", o->file);
		goto out_close;
	}
	if ((uint64_t)sb.st_size < o->size) {
		err = -EINVAL;
		fprintf(stderr,
			"bench_io: %s is %jd bytes, not %" PRIu64
			" (run `bench_io fill` first)\n",
			o->file, (intmax_t)sb.st_size, o->size);
		goto out_close;
	}
	t0 = now();
	for (i = 0; i < o->ops; i++) {
		uint64_t off = (next_rand(&st) % slots) * o->bs;

		memcpy(buf, &i, sizeof(i)); /* every write differs */
		err = pwrite_all(fd, buf, o->bs, (off_t)off);
		if (!err && fsync(fd) < 0)
			err = -errno;
		if (err) {
			report_err(err, "rand op %" PRIu64 " on %s", i,
				   o->file);
			goto out_close;
		}
	}
	res->elapsed = now() - t0;
	res->ops = o->ops;
	res->bytes = o->ops * o->bs;
out_close:
	if (fd >= 0)
		close(fd);
	free(buf);
out:
	return err;
}

/* `seq`: opt->total bytes in bs-byte writes to a fresh FILE, one fsync (-N: none). */
static int run_seq(const struct bench_opts *o, struct bench_result *res)
{
	unsigned char *buf = malloc(o->bs);
	uint64_t off, n = 0;
	double t0;
	int fd = -1, err = -ENOMEM;

	if (!buf)
		goto out;
	fill_buf(buf, o->bs, o->seed);
	t0 = now();
	fd = open(o->file, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = report_err(-errno, "open %s", o->file);
		goto out_free;
	}
	for (off = 0; off < o->total; off += o->bs, n++) {
		size_t len = o->total - off < o->bs ? o->total - off : o->bs;

		memcpy(buf, &n, sizeof(n));
		err = pwrite_all(fd, buf, len, (off_t)off);
		if (err)
			goto out_io;
	}
	err = !o->nosync && fsync(fd) < 0 ? -errno : 0;
	res->elapsed = now() - t0;
	res->ops = n;
	res->bytes = o->total;
out_io:
	if (err)
		report_err(err, "seq write to %s", o->file);
	close(fd);
out_free:
	free(buf);
out:
	return err;
}

/* `time`: runs o->cmd and times it.  0, -ECHILD if it did not exit 0. */
static int run_time(const struct bench_opts *o, struct bench_result *res)
{
	double t0 = now();
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return report_err(-errno, "fork");
	if (pid == 0) {
		execvp(o->cmd[0], o->cmd);
		fprintf(stderr, "bench_io: exec %s: %s\n", o->cmd[0],
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return report_err(-errno, "waitpid");
	res->elapsed = now() - t0;
	res->ops = 1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_io: %s %s %d\n", o->cmd[0],
			WIFEXITED(status) ? "exited" : "killed by signal",
			WIFEXITED(status) ? WEXITSTATUS(status)
					  : WTERMSIG(status));
		return -ECHILD;
	}
	return 0;
}

/* ---- command line and output ---- */

/* Prints (or appends to o->result) the result line.  0 or -errno. */
static int emit(const struct bench_opts *o, const struct bench_result *r)
{
	double el = r->elapsed > 0 ? r->elapsed : 1e-9;
	FILE *f = stdout;
	int err = 0;

	if (o->result && !(f = fopen(o->result, "ae")))
		return report_err(-errno, "open %s", o->result);
	fprintf(f,
		"bench_io mode=%s ops=%" PRIu64 " bytes=%" PRIu64
		" elapsed_s=%.6f ops_per_s=%.1f mib_per_s=%.2f\n",
		o->mode, r->ops, r->bytes, r->elapsed, (double)r->ops / el,
		(double)r->bytes / el / 1048576.0);
	if (fflush(f) != 0 || ferror(f))
		err = report_err(-EIO, "write result");
	if (f != stdout && fclose(f) != 0 && !err)
		err = report_err(-errno, "close %s", o->result);
	return err;
}

/* The modes, dispatched by name; emit is false for untimed preparation. */
static const struct bench_mode {
	const char *name; /* argv[1] */
	int (*run)(const struct bench_opts *o, struct bench_result *res);
	uint64_t bs; /* default bytes per write */
	int emit;    /* 1: print a result line */
} bench_modes[] = {
    {"rand", run_rand, 4096, 1},
    {"seq", run_seq, 64 << 10, 1},
    {"fill", run_fill, 1 << 20, 0},
    {"time", run_time, 4096, 1},
};

/* Parses argv into *o.  Returns its mode, or NULL (usage printed). */
static const struct bench_mode *parse_args(int argc, char **argv,
					   struct bench_opts *o)
{
	static const char num_opts[] = "nstbS"; /* same order as dst[] */
	uint64_t *dst[] = {&o->ops, &o->size, &o->total, &o->bs, &o->seed};
	const struct bench_mode *m = NULL;
	const char *p;
	size_t i;
	int c;

	for (i = 0; argc >= 2 && i < sizeof(bench_modes) / sizeof(*m); i++)
		if (!strcmp(argv[1], bench_modes[i].name))
			m = &bench_modes[i];
	if (!m)
		goto bad;
	o->mode = m->name;
	o->bs = m->bs;
	optind = 2;
	while ((c = getopt(argc, argv, "+n:s:t:b:S:r:N")) != -1) {
		if (c == 'r') {
			o->result = optarg;
			continue;
		}
		if (c == 'N' && m->run == run_seq) {
			o->nosync = 1;
			continue;
		}
		p = c != '?' && c != ':' ? strchr(num_opts, c) : NULL;
		if (!p)
			goto bad;
		if (parse_size(optarg, dst[p - num_opts]) < 0) {
			fprintf(stderr, "bench_io: -%c %s: not a size\n", c,
				optarg);
			goto bad;
		}
	}
	if (m->run == run_time && optind < argc) {
		o->cmd = argv + optind;
		return m;
	}
	if (m->run == run_time || optind != argc - 1 || o->bs == 0 ||
	    (m->run == run_rand && o->size < o->bs))
		goto bad;
	o->file = argv[optind];
	return m;
bad:
	usage();
	return NULL;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {
	    .ops = 2000,
	    .size = 64ULL << 20,
	    .total = 256ULL << 20,
	    .seed = 42,
	};
	struct bench_result r = {0};
	const struct bench_mode *m = parse_args(argc, argv, &o);

	if (!m)
		return BENCH_EXIT_USAGE;
	if (m->run(&o, &r) < 0)
		return BENCH_EXIT_FAIL;
	if (m->emit && emit(&o, &r) < 0)
		return BENCH_EXIT_FAIL;
	return 0;
}
