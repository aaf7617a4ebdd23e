/*
 * check_trace.c - unit tests for src/trace.c: the records file format.
 *
 * Round trip of every record type through the writer and the reader, and
 * the reader's refusals: bad checksum, truncated file, wrong version, bad
 * magic, seq gaps, impossible lengths, names that are not one path
 * component, lengths that overflow.  The expected field sets below are
 * written from the format comment in trace.c, independently of its table.
 * Also the reader's digest of what it read, format 2's BASE records, and
 * the content hash BASE records carry (holes and zeros alike).
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "check_suites.h"
#include "fl_error.h"
#include "trace.h"

enum { U_ID = 1, U_PARENT = 2, U_ID2 = 4, U_PARENT2 = 8, U_OFF = 16, U_LEN = 32,
       U_TIMES = 64, U_MODE = 128, U_FLAGS = 256, U_IDS = 512, U_NAME = 1024,
       U_NAME2 = 2048, U_DATA = 4096 };

/* Which fields each op keeps, per the format specification. */
static const unsigned expect_fields[TRACE_OP_COUNT] = {
	[TRACE_OP_BASE] = U_ID | U_PARENT | U_ID2 | U_LEN | U_MODE | U_NAME,
	[TRACE_OP_WRITE] = U_ID | U_OFF | U_LEN | U_FLAGS | U_DATA,
	[TRACE_OP_TRUNCATE] = U_ID | U_OFF | U_LEN | U_FLAGS,
	[TRACE_OP_FALLOCATE] = U_ID | U_ID2 | U_OFF | U_LEN | U_MODE,
	[TRACE_OP_CREATE] = U_PARENT | U_ID | U_MODE | U_FLAGS | U_IDS | U_NAME,
	[TRACE_OP_MKNOD] = U_PARENT | U_ID | U_MODE | U_FLAGS | U_IDS | U_NAME,
	[TRACE_OP_MKDIR] = U_PARENT | U_ID | U_MODE | U_IDS | U_NAME,
	[TRACE_OP_SYMLINK] = U_PARENT | U_ID | U_IDS | U_NAME | U_NAME2,
	[TRACE_OP_LINK] = U_ID | U_PARENT | U_NAME,
	[TRACE_OP_UNLINK] = U_PARENT | U_ID | U_NAME,
	[TRACE_OP_RMDIR] = U_PARENT | U_ID | U_NAME,
	[TRACE_OP_RENAME] = U_ID | U_PARENT | U_ID2 | U_PARENT2 | U_FLAGS | U_NAME | U_NAME2,
	[TRACE_OP_SETATTR] = U_ID | U_TIMES | U_MODE | U_FLAGS | U_IDS,
	[TRACE_OP_SETXATTR] = U_ID | U_FLAGS | U_NAME | U_DATA,
	[TRACE_OP_REMOVEXATTR] = U_ID | U_NAME,
	[TRACE_OP_FSYNC] = U_ID | U_FLAGS,
	[TRACE_OP_FSYNCDIR] = U_ID | U_FLAGS,
	[TRACE_OP_SYNCFS] = 0,
	[TRACE_OP_OPEN] = U_ID | U_FLAGS,
	[TRACE_OP_FLUSH] = U_ID,
	[TRACE_OP_RELEASE] = U_ID,
	[TRACE_OP_MARK] = U_NAME,
};

static char payload[5000];

/* A record of op with every field set to something recognisable. */
static struct trace_rec full_rec(unsigned op)
{
	struct trace_rec r = {
		.op = (uint16_t)op, .pid = 4242 + op, .result = 0,
		.id = 100 + op, .parent = 200 + op, .id2 = 300 + op,
		.parent2 = 400 + op, .off = 8192 + op, .len = 4096,
		.atime_ns = 1700000000123456789LL, .mtime_ns = -5,
		.mode = 0100644, .flags = 0x5a5a, .uid = 1000, .gid = 1001,
		.name = "entry-name", .name_len = 10,
		.name2 = "other-name", .name2_len = 10,
	};

	if (expect_fields[op] & U_DATA) {
		r.data = payload;
		r.data_len = sizeof(payload);
		if (op == TRACE_OP_WRITE)
			r.result = sizeof(payload);
	}
	return r;
}

static void expect_same(const struct trace_rec *a, const struct trace_rec *b)
{
	unsigned f = expect_fields[a->op];

	ck_assert_uint_eq(a->op, b->op);
	ck_assert_uint_eq(a->pid, b->pid);
	ck_assert_int_eq(a->result, b->result);
	ck_assert_uint_eq(b->id, f & U_ID ? a->id : 0);
	ck_assert_uint_eq(b->parent, f & U_PARENT ? a->parent : 0);
	ck_assert_uint_eq(b->id2, f & U_ID2 ? a->id2 : 0);
	ck_assert_uint_eq(b->parent2, f & U_PARENT2 ? a->parent2 : 0);
	ck_assert_uint_eq(b->off, f & U_OFF ? a->off : 0);
	ck_assert_uint_eq(b->len, f & U_LEN ? a->len : 0);
	ck_assert_int_eq(b->atime_ns, f & U_TIMES ? a->atime_ns : 0);
	ck_assert_int_eq(b->mtime_ns, f & U_TIMES ? a->mtime_ns : 0);
	ck_assert_uint_eq(b->mode, f & U_MODE ? a->mode : 0);
	ck_assert_uint_eq(b->flags, f & U_FLAGS ? a->flags : 0);
	ck_assert_uint_eq(b->uid, f & U_IDS ? a->uid : 0);
	ck_assert_uint_eq(b->gid, f & U_IDS ? a->gid : 0);
	ck_assert_uint_eq(b->name_len, f & U_NAME ? a->name_len : 0);
	if (f & U_NAME)
		ck_assert_mem_eq(b->name, a->name, a->name_len);
	ck_assert_uint_eq(b->name2_len, f & U_NAME2 ? a->name2_len : 0);
	if (f & U_NAME2)
		ck_assert_mem_eq(b->name2, a->name2, a->name2_len);
	ck_assert_uint_eq(b->data_len, f & U_DATA ? a->data_len : 0);
	if (f & U_DATA)
		ck_assert_mem_eq(b->data, a->data, a->data_len);
}

static char *records_path(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/records", check_tmpdir());
	return path;
}

/* Writes one full record of every op to a fresh file; returns its path. */
static char *write_all_ops(void)
{
	struct trace_writer *w;
	char *path = records_path();
	unsigned op;

	for (op = 0; op < sizeof(payload); op++)
		payload[op] = (char)(op * 7 + 1);
	ck_assert_int_eq(trace_writer_open(path, &w), 0);
	for (op = 1; op < TRACE_OP_COUNT; op++) {
		struct trace_rec r = full_rec(op);

		ck_assert_int_eq(trace_append(w, &r), 0);
		ck_assert_uint_eq(r.seq, op);
	}
	ck_assert_uint_eq(trace_writer_count(w), TRACE_OP_COUNT - 1);
	ck_assert_int_eq(trace_writer_close(w), 0);
	return path;
}

START_TEST(roundtrip_every_op)
{
	struct trace_reader *r;
	struct trace_rec got;
	char *path = write_all_ops();
	unsigned op;

	ck_assert_int_eq(trace_reader_open(path, &r, NULL, 0), 0);
	ck_assert_uint_eq(trace_reader_version(r), TRACE_FORMAT_VERSION);
	for (op = 1; op < TRACE_OP_COUNT; op++) {
		struct trace_rec want = full_rec(op);

		ck_assert_int_eq(trace_next(r, &got), 1);
		ck_assert_uint_eq(got.seq, op);
		ck_assert_str_eq(trace_op_name(got.op), trace_op_name(op));
		expect_same(&want, &got);
	}
	ck_assert_int_eq(trace_next(r, &got), 0);
	ck_assert_ptr_null(trace_reader_error(r));
	ck_assert_uint_eq(trace_reader_valid(r), TRACE_OP_COUNT - 1);
	trace_reader_close(r);
}
END_TEST

START_TEST(write_costs_64_bytes_plus_payload)
{
	struct trace_rec r = {.op = TRACE_OP_WRITE, .data_len = 4096, .result = 4096};

	ck_assert_uint_eq(trace_encoded_size(&r) + r.data_len, 64 + 4096);
}
END_TEST

/* Offset of record n (1-based) in the file written by write_all_ops(). */
static long record_offset(const char *path, unsigned n)
{
	FILE *f = fopen(path, "rb");
	long off = 16;
	uint32_t len;

	ck_assert_ptr_nonnull(f);
	while (--n) {
		fseek(f, off, SEEK_SET);
		ck_assert_int_eq(fread(&len, 4, 1, f), 1);
		off += (long)le32toh(len);
	}
	fclose(f);
	return off;
}

static void patch(const char *path, long off, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, bytes, n, off), (ssize_t)n);
	close(fd);
}

/* Reads path to the end; returns the error code and checks the valid count. */
static int read_until_stop(const char *path, uint64_t want_valid)
{
	struct trace_reader *r;
	struct trace_rec rec;
	int rc;

	ck_assert_int_eq(trace_reader_open(path, &r, NULL, 0), 0);
	while ((rc = trace_next(r, &rec)) == 1)
		;
	ck_assert_uint_eq(trace_reader_valid(r), want_valid);
	if (rc < 0)
		ck_assert_ptr_nonnull(trace_reader_error(r));
	/* The reader stays stopped. */
	ck_assert_int_ne(trace_next(r, &rec), 1);
	trace_reader_close(r);
	return rc;
}

START_TEST(corrupt_checksum_stops_at_record)
{
	char *path = write_all_ops();
	char byte = 0x7f;

	/* Flip a byte in the body of record 3: records 1-2 stay valid. */
	patch(path, record_offset(path, 3) + 40, &byte, 1);
	ck_assert_int_eq(read_until_stop(path, 2), -FL_ECHECKSUM);
}
END_TEST

START_TEST(truncated_file_keeps_prefix)
{
	char *path = write_all_ops();
	long end = record_offset(path, TRACE_OP_COUNT - 1);

	ck_assert_int_eq(truncate(path, end + 20), 0);
	ck_assert_int_eq(read_until_stop(path, TRACE_OP_COUNT - 2), -FL_ETRUNCATED);
	ck_assert_int_eq(truncate(path, end + 3), 0); /* inside the length field */
	ck_assert_int_eq(read_until_stop(path, TRACE_OP_COUNT - 2), -FL_ETRUNCATED);
	ck_assert_int_eq(truncate(path, end), 0);     /* on a boundary: clean */
	ck_assert_int_eq(read_until_stop(path, TRACE_OP_COUNT - 2), 0);
}
END_TEST

START_TEST(wrong_version_is_refused)
{
	struct trace_reader *r;
	char *path = write_all_ops(), why[128];
	uint32_t v = htole32(99);

	patch(path, 8, &v, 4);
	ck_assert_int_eq(trace_reader_open(path, &r, why, sizeof(why)), -FL_EVERSION);
	ck_assert_ptr_null(r);
	ck_assert_ptr_nonnull(strstr(why, "99"));
}
END_TEST

START_TEST(bad_magic_is_refused)
{
	struct trace_reader *r;
	char *path = write_all_ops(), why[128];

	patch(path, 0, "SQLite f", 8);
	ck_assert_int_eq(trace_reader_open(path, &r, why, sizeof(why)), -FL_EBADTRACE);
	ck_assert_ptr_nonnull(strstr(why, "not a faultline trace"));
	ck_assert_int_lt(trace_reader_open("/nonexistent/trace", &r, why, sizeof(why)), 0);
}
END_TEST

START_TEST(impossible_length_is_refused)
{
	char *path = write_all_ops();
	uint32_t huge = htole32(0xffffff00u), tiny = htole32(7);

	patch(path, record_offset(path, 5), &huge, 4);
	ck_assert_int_eq(read_until_stop(path, 4), -FL_EBADTRACE);
	patch(path, record_offset(path, 2), &tiny, 4);
	ck_assert_int_eq(read_until_stop(path, 1), -FL_EBADTRACE);
}
END_TEST

/* Encodes rec by hand (any seq) and appends it to the file at path. */
static void append_raw(const char *path, const struct trace_rec *rec)
{
	uint8_t buf[8192];
	int n = trace_encode(rec, buf, sizeof(buf));
	int fd = open(path, O_WRONLY | O_APPEND);

	ck_assert_int_gt(n, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, (size_t)n), n);
	if (rec->data_len)
		ck_assert_int_eq(write(fd, rec->data, rec->data_len), (ssize_t)rec->data_len);
	close(fd);
}

static char *empty_trace(void)
{
	struct trace_writer *w;
	char *path = records_path();

	ck_assert_int_eq(trace_writer_open(path, &w), 0);
	ck_assert_int_eq(trace_writer_close(w), 0);
	return path;
}

START_TEST(empty_trace_is_clean)
{
	ck_assert_int_eq(read_until_stop(empty_trace(), 0), 0);
}
END_TEST

START_TEST(seq_gap_is_refused)
{
	char *path = empty_trace();
	struct trace_rec r = {.op = TRACE_OP_FSYNC, .id = 5, .seq = 1};

	append_raw(path, &r);
	r.seq = 3;
	append_raw(path, &r);
	ck_assert_int_eq(read_until_stop(path, 1), -FL_EBADTRACE);
}
END_TEST

/* Each of these names must make a namespace record invalid. */
static const char *const bad_names[] = {"a/b", "..", ".", "", "/etc"};

START_TEST(bad_names_are_refused)
{
	char *path = empty_trace();
	const char *name = bad_names[_i];
	struct trace_rec ok = {.op = TRACE_OP_CREATE, .seq = 1, .parent = 1, .id = 2,
			       .name = "fine", .name_len = 4};
	struct trace_rec bad = ok;

	append_raw(path, &ok);
	bad.seq = 2;
	bad.name = name;
	bad.name_len = (uint32_t)strlen(name);
	append_raw(path, &bad);
	ck_assert_int_eq(read_until_stop(path, 1), -FL_EBADTRACE);
}
END_TEST

START_TEST(nul_and_long_names_are_refused)
{
	char *path = empty_trace(), longname[300];
	struct trace_rec r = {.op = TRACE_OP_RENAME, .seq = 1, .parent = 1,
			      .parent2 = 1, .id = 2, .name = "a\0b", .name_len = 3,
			      .name2 = "c", .name2_len = 1};

	append_raw(path, &r);
	ck_assert_int_eq(read_until_stop(path, 0), -FL_EBADTRACE);
	path = empty_trace();
	memset(longname, 'x', sizeof(longname));
	r.name = "a";
	r.name_len = 1;
	r.name2 = longname;
	r.name2_len = sizeof(longname);
	append_raw(path, &r);
	ck_assert_int_eq(read_until_stop(path, 0), -FL_EBADTRACE);
}
END_TEST

START_TEST(overflowing_write_is_refused)
{
	char *path = empty_trace();
	struct trace_rec r = {.op = TRACE_OP_WRITE, .seq = 1, .id = 2,
			      .off = (UINT64_C(1) << 63) - 4, .len = 8,
			      .data = "abcdefgh", .data_len = 8, .result = 8};

	append_raw(path, &r);
	ck_assert_int_eq(read_until_stop(path, 0), -FL_EBADTRACE);
}
END_TEST

START_TEST(write_result_must_match_payload)
{
	char *path = empty_trace();
	struct trace_rec r = {.op = TRACE_OP_WRITE, .seq = 1, .id = 2, .len = 8,
			      .data = "abcdefgh", .data_len = 8, .result = 4};

	append_raw(path, &r);
	ck_assert_int_eq(read_until_stop(path, 0), -FL_EBADTRACE);
}
END_TEST

START_TEST(failed_write_has_no_payload)
{
	char *path = empty_trace();
	struct trace_rec r = {.op = TRACE_OP_WRITE, .seq = 1, .id = 2, .len = 8,
			      .result = -ENOSPC}, got;
	struct trace_reader *rd;

	append_raw(path, &r);
	ck_assert_int_eq(trace_reader_open(path, &rd, NULL, 0), 0);
	ck_assert_int_eq(trace_next(rd, &got), 1);
	ck_assert_int_eq(got.result, -ENOSPC);
	ck_assert_uint_eq(got.len, 8);
	ck_assert_uint_eq(got.data_len, 0);
	trace_reader_close(rd);
}
END_TEST

START_TEST(encode_refuses_data_on_dataless_op)
{
	uint8_t buf[256];
	struct trace_rec r = {.op = TRACE_OP_FSYNC, .data = "x", .data_len = 1};

	ck_assert_int_eq(trace_encode(&r, buf, sizeof(buf)), -EINVAL);
	r.op = TRACE_OP_COUNT;
	ck_assert_int_eq(trace_encode(&r, buf, sizeof(buf)), -EINVAL);
	r.op = TRACE_OP_MARK;
	r.data_len = 0;
	r.name = "m";
	r.name_len = 1;
	ck_assert_int_eq(trace_encode(&r, buf, 10), -ENOSPC);
}
END_TEST

struct appender {
	struct trace_writer *w; /* shared writer */
	unsigned tid;           /* which thread */
	const char *path;       /* the records file, to read back while writing */
};

static void *append_many(void *arg)
{
	struct appender *a = arg;
	char data[64];
	unsigned i;

	memset(data, (int)a->tid, sizeof(data));
	for (i = 0; i < 500; i++) {
		struct trace_rec r = {.op = TRACE_OP_WRITE, .id = a->tid, .off = i * 64,
				      .len = 64, .data = data, .data_len = 64,
				      .result = 64};

		ck_assert_int_eq(trace_append(a->w, &r), 0);
	}
	return NULL;
}

START_TEST(concurrent_appends_stay_whole)
{
	struct appender a[4];
	pthread_t t[4];
	struct trace_reader *r;
	struct trace_rec rec;
	char *path = records_path();
	unsigned i, j;

	ck_assert_int_eq(trace_writer_open(path, &a[0].w), 0);
	for (i = 0; i < 4; i++) {
		a[i] = (struct appender){a[0].w, i + 1, path};
		ck_assert_int_eq(
		    pthread_create(&t[i], NULL, append_many, &a[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(trace_writer_close(a[0].w), 0);
	ck_assert_int_eq(trace_reader_open(path, &r, NULL, 0), 0);
	for (i = 1; trace_next(r, &rec) == 1; i++) {
		ck_assert_uint_eq(rec.seq, i);
		/* a record without data would pass the loop below unchecked */
		ck_assert_uint_eq(rec.data_len, 64);
		for (j = 0; j < rec.data_len; j++)
			ck_assert_int_eq(((const char *)rec.data)[j], (char)rec.id);
	}
	ck_assert_uint_eq(trace_reader_valid(r), 2000);
	ck_assert_ptr_null(trace_reader_error(r));
	trace_reader_close(r);
}
END_TEST

/* Records of every size up to 48 KiB, a sync after every 25th, checked at once. */
static void *append_and_sync(void *arg)
{
	struct appender *a = arg;
	static char data[48 << 10];
	struct trace_reader *r;
	uint64_t st = a->tid;
	unsigned i;

	for (i = 0; i < 400; i++) {
		uint32_t n = (uint32_t)((st = st * 6364136223846793005u + 1442695040888963407u) >> 33) %
			     sizeof(data);
		struct trace_rec rec = {.op = TRACE_OP_WRITE, .id = a->tid, .off = i,
					.len = n, .data = data, .data_len = n,
					.result = (int32_t)n};

		ck_assert_int_eq(trace_append(a->w, &rec), 0);
		if (i % 25 != 24)
			continue;
		ck_assert_int_eq(trace_writer_sync(a->w, rec.seq), 0);
		/* The promise: the file now holds every record up to this one. */
		ck_assert_int_eq(trace_reader_open(a->path, &r, NULL, 0), 0);
		while (trace_next(r, &(struct trace_rec){0}) == 1 && trace_reader_valid(r) < rec.seq)
			;
		ck_assert_uint_ge(trace_reader_valid(r), rec.seq);
		trace_reader_close(r);
	}
	return NULL;
}

/* 4 threads write 4 x 400 records of up to 48 KiB (about 38 MiB): several
 * times the writer's memory, so appends wait for the file, and syncs race
 * with the background writes.  Run twice: without and with fsync on sync
 * (the recorder's --real-fsync). */
START_TEST(sync_puts_every_earlier_record_in_the_file)
{
	struct appender a[4];
	pthread_t t[4];
	struct trace_reader *r;
	struct trace_rec rec;
	char *path = records_path();
	unsigned i;

	ck_assert_int_eq(trace_writer_open(path, &a[0].w), 0);
	trace_writer_set_fsync(a[0].w, _i == 1);
	for (i = 0; i < 4; i++) {
		a[i] = (struct appender){a[0].w, i + 1, path};
		ck_assert_int_eq(pthread_create(&t[i], NULL, append_and_sync, &a[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(trace_writer_close(a[0].w), 0);
	ck_assert_int_eq(trace_reader_open(path, &r, NULL, 0), 0);
	for (i = 1; trace_next(r, &rec) == 1; i++)
		ck_assert_uint_eq(rec.seq, i);
	ck_assert_uint_eq(trace_reader_valid(r), 1600);
	ck_assert_ptr_null(trace_reader_error(r));
	trace_reader_close(r);
}
END_TEST

/* A record larger than the writer's chunks gets through whole, between small ones. */
START_TEST(record_larger_than_a_chunk)
{
	size_t big = 3u << 20;
	uint8_t *data = malloc(big);
	struct trace_rec small = {.op = TRACE_OP_FSYNC, .id = 2}, rec;
	struct trace_rec huge = {.op = TRACE_OP_WRITE, .id = 3, .len = big, .data = data,
				 .data_len = (uint32_t)big, .result = (int32_t)big};
	struct trace_writer *w;
	struct trace_reader *r;
	char *path = records_path();
	size_t i;

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < big; i++)
		data[i] = (uint8_t)(i * 7 + i / 4096);
	ck_assert_int_eq(trace_writer_open(path, &w), 0);
	ck_assert_int_eq(trace_append(w, &small), 0);
	ck_assert_int_eq(trace_append(w, &huge), 0);
	ck_assert_int_eq(trace_append(w, &small), 0);
	ck_assert_int_eq(trace_writer_sync(w, small.seq), 0);
	ck_assert_int_eq(trace_append(w, &huge), 0);
	ck_assert_int_eq(trace_writer_close(w), 0);
	ck_assert_int_eq(trace_reader_open(path, &r, NULL, 0), 0);
	for (i = 1; trace_next(r, &rec) == 1; i++)
		if (rec.op == TRACE_OP_WRITE) {
			ck_assert_uint_eq(rec.data_len, big);
			ck_assert_mem_eq(rec.data, data, big);
		}
	ck_assert_uint_eq(trace_reader_valid(r), 4);
	ck_assert_ptr_null(trace_reader_error(r));
	trace_reader_close(r);
	free(data);
}
END_TEST

START_TEST(failed_append_stops_the_writer)
{
	struct rlimit lim = {.rlim_cur = 4096, .rlim_max = 4096};
	static char big[8192];
	struct trace_writer *w;
	struct trace_reader *r;
	struct trace_rec ok = {.op = TRACE_OP_FSYNC, .id = 2}, got;
	struct trace_rec huge = {.op = TRACE_OP_WRITE, .id = 2, .len = sizeof(big),
				 .data = big, .data_len = sizeof(big), .result = sizeof(big)};
	char *path = records_path();

	/* The file may not grow past 4 KiB: the big record cannot fit. */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(trace_writer_open(path, &w), 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ck_assert_int_eq(trace_append(w, &ok), 0);
	ck_assert_int_eq(trace_writer_sync(w, ok.seq), 0);
	/* Appends only fill memory: the sync that needs the file reports it. */
	ck_assert_int_eq(trace_append(w, &huge), 0);
	ck_assert_int_lt(trace_writer_sync(w, huge.seq), 0);
	/* A small record would fit, but after a lost one nothing may follow. */
	ck_assert_int_lt(trace_append(w, &ok), 0);
	trace_writer_close(w);
	ck_assert_int_eq(trace_reader_open(path, &r, NULL, 0), 0);
	ck_assert_int_eq(trace_next(r, &got), 1);
	ck_assert_int_eq(trace_next(r, &got), 0);
	ck_assert_ptr_null(trace_reader_error(r));
	trace_reader_close(r);
}
END_TEST

START_TEST(strerror_covers_own_codes)
{
	ck_assert_str_eq(faultline_strerror(-FL_ECHECKSUM), "record checksum mismatch");
	ck_assert_str_eq(faultline_strerror(-ENOENT), strerror(ENOENT));
	ck_assert_str_eq(faultline_strerror(-99999), "unknown error");
}
END_TEST

/* ---- the reader's digest, format 2, content hashes ---- */

/* Reads the whole file at path into a malloc'd buffer; *len its size. */
static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

START_TEST(digest_covers_exactly_the_valid_bytes)
{
	char *path = write_all_ops();
	long cut = record_offset(path, 5);
	struct trace_digest d;
	struct trace_reader *r;
	struct trace_rec rec;
	size_t len;
	uint8_t *b = slurp(path, &len);

	ck_assert_int_eq(trace_reader_open(path, &r, NULL, 0), 0);
	while (trace_next(r, &rec) == 1)
		;
	trace_reader_digest(r, &d);
	trace_reader_close(r);
	ck_assert_uint_eq(d.records, TRACE_OP_COUNT - 1);
	ck_assert_uint_eq(d.bytes, len);
	ck_assert_uint_eq(d.xxh3, XXH3_64bits(b, len));
	/* Garbage inside record 5: the digest stops before it. */
	patch(path, cut + 40, "GARBAGE!", 8);
	ck_assert_int_eq(trace_reader_open(path, &r, NULL, 0), 0);
	while (trace_next(r, &rec) == 1)
		;
	trace_reader_digest(r, &d);
	trace_reader_close(r);
	ck_assert_uint_eq(d.records, 4);
	ck_assert_uint_eq(d.bytes, (uint64_t)cut);
	ck_assert_uint_eq(d.xxh3, XXH3_64bits(b, (size_t)cut));
	free(b);
}
END_TEST

/* Appends a format-2 BASE record (no len, no id2) to f. */
static void put_v2_base(FILE *f, uint64_t seq, uint64_t id, const char *name)
{
	uint8_t buf[128] = {0};
	uint32_t n = (uint32_t)strlen(name), len = 36 + 8 + 8 + 4 + 4 + n, v;
	uint64_t q;

	v = htole32(len), memcpy(buf, &v, 4);
	q = htole64(seq), memcpy(buf + 8, &q, 8);
	buf[16] = TRACE_OP_BASE;
	q = htole64(id), memcpy(buf + 36, &q, 8);
	q = htole64(TRACE_ROOT_ID), memcpy(buf + 44, &q, 8);
	v = htole32(0100644), memcpy(buf + 52, &v, 4);
	v = htole32(n), memcpy(buf + 56, &v, 4);
	memcpy(buf + 60, name, n);
	v = htole32(trace_checksum(buf, len, NULL, 0)), memcpy(buf + 4, &v, 4);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
}

START_TEST(format_2_base_records_still_read)
{
	uint8_t hdr[16] = "FLTRACE";
	uint32_t v = htole32(2), hl = htole32(16);
	struct trace_reader *r;
	struct trace_rec rec;
	char *path = records_path();
	FILE *f = fopen(path, "wb");

	memcpy(hdr + 8, &v, 4);
	memcpy(hdr + 12, &hl, 4);
	fwrite(hdr, 1, sizeof(hdr), f);
	put_v2_base(f, 1, 2, "old");
	fclose(f);
	ck_assert_int_eq(trace_reader_open(path, &r, NULL, 0), 0);
	ck_assert_uint_eq(trace_reader_version(r), 2);
	ck_assert_int_eq(trace_next(r, &rec), 1);
	ck_assert_uint_eq(rec.op, TRACE_OP_BASE);
	ck_assert_uint_eq(rec.id, 2);
	ck_assert_uint_eq(rec.len, 0);
	ck_assert_uint_eq(rec.id2, 0);
	ck_assert_mem_eq(rec.name, "old", 3);
	ck_assert_int_eq(trace_next(r, &rec), 0);
	trace_reader_close(r);
}
END_TEST

/* The content hash of the file at path, through trace_content_hash_fd. */
static uint64_t hash_file(const char *path, uint64_t want_size)
{
	uint64_t h, size;
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(trace_content_hash_fd(fd, &h, &size), 0);
	ck_assert_uint_eq(size, want_size);
	close(fd);
	return h;
}

START_TEST(content_hash_sees_bytes_not_holes)
{
	enum { SIZE = 3 * 1024 * 1024 + 100 };
	uint8_t *dense = calloc(1, SIZE);
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/f", check_tmpdir());
	dense[5000] = 'x';
	dense[SIZE - 1] = 'y';
	/* Sparse: holes everywhere but two bytes. */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(ftruncate(fd, SIZE), 0);
	ck_assert_int_eq(pwrite(fd, "x", 1, 5000), 1);
	ck_assert_int_eq(pwrite(fd, "y", 1, SIZE - 1), 1);
	close(fd);
	ck_assert_uint_eq(hash_file(path, SIZE),
			  trace_content_hash(dense, SIZE));
	/* Dense, written zeros and all: the same hash. */
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, dense, SIZE), SIZE);
	close(fd);
	ck_assert_uint_eq(hash_file(path, SIZE),
			  trace_content_hash(dense, SIZE));
	/* One byte changed, or the length: another hash. */
	dense[2000000] = 1;
	ck_assert_uint_ne(hash_file(path, SIZE),
			  trace_content_hash(dense, SIZE));
	dense[2000000] = 0;
	ck_assert_uint_ne(trace_content_hash(dense, SIZE - 1),
			  trace_content_hash(dense, SIZE));
	ck_assert_uint_ne(trace_content_hash("", 0),
			  trace_content_hash(dense, 1));
	/* An empty file. */
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	ck_assert_uint_eq(hash_file(path, 0), trace_content_hash("", 0));
	free(dense);
}
END_TEST

Suite *make_trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, roundtrip_every_op);
	tcase_add_test(tc, write_costs_64_bytes_plus_payload);
	tcase_add_test(tc, corrupt_checksum_stops_at_record);
	tcase_add_test(tc, truncated_file_keeps_prefix);
	tcase_add_test(tc, wrong_version_is_refused);
	tcase_add_test(tc, bad_magic_is_refused);
	tcase_add_test(tc, impossible_length_is_refused);
	tcase_add_test(tc, empty_trace_is_clean);
	tcase_add_test(tc, seq_gap_is_refused);
	tcase_add_loop_test(tc, bad_names_are_refused, 0,
			    sizeof(bad_names) / sizeof(bad_names[0]));
	tcase_add_test(tc, nul_and_long_names_are_refused);
	tcase_add_test(tc, overflowing_write_is_refused);
	tcase_add_test(tc, write_result_must_match_payload);
	tcase_add_test(tc, failed_write_has_no_payload);
	tcase_add_test(tc, encode_refuses_data_on_dataless_op);
	tcase_add_test(tc, concurrent_appends_stay_whole);
	tcase_add_test(tc, failed_append_stops_the_writer);
	tcase_add_loop_test(tc, sync_puts_every_earlier_record_in_the_file, 0, 2);
	tcase_add_test(tc, record_larger_than_a_chunk);
	tcase_add_test(tc, digest_covers_exactly_the_valid_bytes);
	tcase_add_test(tc, format_2_base_records_still_read);
	tcase_add_test(tc, content_hash_sees_bytes_not_holes);
	tcase_add_test(tc, strerror_covers_own_codes);
	suite_add_tcase(s, tc);
	return s;
}
