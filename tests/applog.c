/*
 * applog.c - a tiny append-only log engine, the workload and checker of
 * tests/explore_log.sh.  It needs nothing but libc: it is a test engine,
 * not part of libfaultline.
 *
 * The guarantee it claims: once "commit i" has been acknowledged (the
 * mark written to $FAULTLINE_MNT/.faultline-ctl), records 1..i survive any
 * crash, and recovery never hands back a record that was not written.
 * A correct engine keeps it under every model faultline knows, tears
 * included; the two flags break it on purpose so the harness must notice.
 *
 * log.dat is a sequence of records, little-endian:
 *
 *     u32 length    payload bytes, 1..APPLOG_MAX_LEN
 *     u32 crc       CRC-32C (Castagnoli) of the payload; 0 with --no-crc
 *     payload       "commit i", then deterministic filler up to
 *                   100 + (i * 37) % 900 bytes (see applog_payload())
 *
 * A record is valid when it is complete, its length is in range, and its
 * CRC matches.  Recovery stops at the first record that is not and
 * truncates the file there.
 *
 *     applog append N [--late-sync] [--no-crc]
 *         creates log.dat (and fsyncs its directory once), then for i in
 *         1..N: one write(2) of record i, fdatasync, mark "commit i".
 *         --late-sync marks before the fdatasync (acknowledges a commit
 *         that is not yet durable); --no-crc writes 0 as every CRC.
 *     applog check [--no-crc]
 *         recovers log.dat (a missing file is an empty log), then checks
 *         that every "commit i" line of $FAULTLINE_MARKS is present
 *         ("commit i lost" otherwise) and that every record recovery kept
 *         holds exactly the payload of its position (else "garbage").
 *         --no-crc trusts every complete record, as the engine without
 *         CRCs must.
 *
 * Exit codes: 0 fine, 1 the guarantee is broken (check), 2 usage,
 * 3 I/O error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APPLOG_FILE "log.dat"
#define APPLOG_HDR 8u		  /* bytes: length + crc */
#define APPLOG_MAX_LEN (1u << 20) /* bytes: longest payload accepted */
#define APPLOG_MAX_COMMIT 100000  /* records an append may write */

static uint32_t crc_table[256]; /* CRC-32C, reflected, built on first use */

static uint32_t applog_crc32c(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;

	if (!crc_table[1]) {
		for (i = 0; i < 256; i++) {
			uint32_t v = (uint32_t)i;
			int k;

			for (k = 0; k < 8; k++)
				v = v & 1 ? (v >> 1) ^ 0x82f63b78u : v >> 1;
			crc_table[i] = v;
		}
	}
	for (i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint32_t get_u32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The payload of record i, into buf (>= 1000 bytes); returns its length. */
static size_t applog_payload(long i, unsigned char *buf)
{
	size_t len = 100 + (size_t)(i * 37) % 900, k;
	int n = snprintf((char *)buf, len, "commit %ld", i);

	for (k = (size_t)n; k < len; k++)
		buf[k] = (unsigned char)('a' + (i * 7 + (long)k) % 26);
	return len;
}

/* Writes "commit i\n" to the mount's control file; 0 or -errno. */
static int applog_mark(long i)
{
	const char *mnt = getenv("FAULTLINE_MNT");
	char path[4096], line[64];
	int fd, n, rc = 0;

	if (!mnt)
		return 0; /* not under faultline: nobody to tell */
	snprintf(path, sizeof(path), "%s/.faultline-ctl", mnt);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = snprintf(line, sizeof(line), "commit %ld\n", i);
	if (write(fd, line, (size_t)n) != n)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}

/* fsync of the current directory: makes the creation of log.dat durable. */
static int applog_sync_dir(void)
{
	int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Writes record i with one write(2); 0 or -errno. */
static int applog_write_record(int fd, long i, bool crc)
{
	unsigned char rec[APPLOG_HDR + 1000];
	size_t len = applog_payload(i, rec + APPLOG_HDR);
	ssize_t n;

	put_u32(rec, (uint32_t)len);
	put_u32(rec + 4, crc ? applog_crc32c(rec + APPLOG_HDR, len) : 0);
	n = write(fd, rec, APPLOG_HDR + len);
	if (n < 0)
		return -errno;
	return (size_t)n == APPLOG_HDR + len ? 0 : -EIO;
}

static int applog_append(long n, bool late_sync, bool crc)
{
	int fd =
	    open(APPLOG_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	int rc = 0;
	long i;

	if (fd < 0) {
		perror("applog: open " APPLOG_FILE);
		return 3;
	}
	/* Without this the file itself may vanish in a crash (posix). */
	if ((rc = applog_sync_dir()) < 0)
		goto io_error;
	for (i = 1; i <= n; i++) {
		if ((rc = applog_write_record(fd, i, crc)) < 0)
			goto io_error;
		/* --late-sync: acknowledged before durable. */
		if (late_sync && (rc = applog_mark(i)) < 0)
			goto io_error;
		if (fdatasync(fd) < 0) {
			rc = -errno;
			goto io_error;
		}
		if (!late_sync && (rc = applog_mark(i)) < 0)
			goto io_error;
	}
	close(fd);
	return 0;

io_error:
	fprintf(stderr, "applog: append: %s\n", strerror(-rc));
	close(fd);
	return 3;
}

/*
 * Reads log.dat into *buf (NULL and 0 when missing); returns 0 or -errno.
 * The caller frees *buf.
 */
static int applog_read(unsigned char **buf, size_t *len)
{
	int fd = open(APPLOG_FILE, O_RDONLY | O_CLOEXEC), rc = 0;
	struct stat st;
	ssize_t n;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !(*buf = malloc((size_t)st.st_size + 1))) {
		rc = -errno;
		goto out_close;
	}
	while (*len < (size_t)st.st_size &&
	       (n = read(fd, *buf + *len, (size_t)st.st_size - *len)) > 0)
		*len += (size_t)n;
	if (*len < (size_t)st.st_size)
		rc = -EIO;
out_close:
	close(fd);
	return rc;
}

/*
 * Recovery: scans buf, returns the byte length of the valid prefix and
 * the number of records in it (*count).  Sets *garbage to the position
 * of the first kept record whose payload is not the expected one, or 0.
 */
static size_t applog_scan(const unsigned char *buf, size_t len, bool crc,
			  long *count, long *garbage)
{
	unsigned char want[1000];
	size_t off = 0;

	*count = 0;
	*garbage = 0;
	while (len - off >= APPLOG_HDR) {
		uint32_t rlen = get_u32(buf + off),
			 rcrc = get_u32(buf + off + 4);
		const unsigned char *p = buf + off + APPLOG_HDR;

		if (rlen == 0 || rlen > APPLOG_MAX_LEN ||
		    rlen > len - off - APPLOG_HDR)
			break; /* torn or incomplete tail */
		if (crc && applog_crc32c(p, rlen) != rcrc)
			break;
		++*count;
		if (!*garbage && (*count > APPLOG_MAX_COMMIT ||
				  applog_payload(*count, want) != rlen ||
				  memcmp(want, p, rlen)))
			*garbage = *count;
		off += APPLOG_HDR + rlen;
	}
	return off;
}

/* First "commit i" of $FAULTLINE_MARKS with i > count, or 0 if none. */
static long applog_first_lost(long count)
{
	const char *path = getenv("FAULTLINE_MARKS");
	char line[256];
	long i, lost = 0;
	FILE *f;

	if (!path || !(f = fopen(path, "re")))
		return 0;
	while (!lost && fgets(line, sizeof(line), f))
		if (sscanf(line, "commit %ld", &i) == 1 && i > count)
			lost = i;
	fclose(f);
	return lost;
}

static int applog_check(bool crc)
{
	unsigned char *buf;
	size_t len, keep;
	long count, garbage, lost;
	int rc = applog_read(&buf, &len);

	if (rc < 0) {
		fprintf(stderr,
			"applog: check: cannot read " APPLOG_FILE ": %s\n",
			strerror(-rc));
		free(buf);
		return 3;
	}
	keep = applog_scan(buf, len, crc, &count, &garbage);
	free(buf);
	/* Recovery truncates the torn tail, as a real engine would. */
	if (keep < len && truncate(APPLOG_FILE, (off_t)keep) < 0) {
		perror("applog: check: truncate " APPLOG_FILE);
		return 3;
	}
	if (garbage) {
		printf("record %ld is garbage (never written)\n", garbage);
		return 1;
	}
	if ((lost = applog_first_lost(count))) {
		printf("commit %ld lost (log holds %ld records)\n", lost,
		       count);
		return 1;
	}
	return 0;
}

static int usage(void)
{
	fputs("usage: applog append N [--late-sync] [--no-crc]\n"
	      "       applog check [--no-crc]\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	bool late_sync = false, crc = true;
	char *end;
	long n;
	int i;

	if (argc < 2)
		return usage();
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--late-sync"))
			late_sync = true;
		else if (!strcmp(argv[i], "--no-crc"))
			crc = false;
		else if (strcmp(argv[1], "append") || i != 2)
			return usage();
	}
	if (!strcmp(argv[1], "check"))
		return late_sync ? usage() : applog_check(crc);
	if (strcmp(argv[1], "append") || argc < 3)
		return usage();
	n = strtol(argv[2], &end, 10);
	if (*end || end == argv[2] || n < 0 || n > APPLOG_MAX_COMMIT)
		return usage();
	return applog_append(n, late_sync, crc);
}
