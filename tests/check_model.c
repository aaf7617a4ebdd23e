/*
 * check_model.c - unit tests for src/model.c: one small hand-built trace
 * per rule, asking each model which ops are in flight, which combinations
 * are legal and how writes may tear.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "check_util.h"
#include "model.h"
#include "ops.h"
#include "reference.h"

/* Microseconds build waits between records: their time_ns, which the
 * writer stamps, then differ (a test that writes a calls log needs it). */
static unsigned build_gap_us;

/* Builds a trace directory (empty base) from recs; returns it loaded. */
static struct ops_trace *build(struct trace_rec *recs, size_t n)
{
	static char dir[512];
	char path[600];
	struct trace_writer *w;
	struct ops_trace *t;
	char err[256];
	size_t i;

	snprintf(dir, sizeof(dir), "%s/t", check_tmpdir());
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/base", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/records", dir);
	ck_assert_int_eq(trace_writer_open(path, &w), 0);
	for (i = 0; i < n; i++) {
		if (recs[i].op == TRACE_OP_WRITE && recs[i].result == 0)
			recs[i].result = (int32_t)recs[i].data_len;
		if (build_gap_us)
			usleep(build_gap_us);
		ck_assert_int_eq(trace_append(w, &recs[i]), 0);
	}
	ck_assert_int_eq(trace_writer_close(w), 0);
	tb_meta(dir);
	ck_assert_int_eq(ops_load(dir, 0, &t, err, sizeof(err)), 0);
	return t;
}

/*
 * As build, records 2 ms apart, with TRACE/calls holding calls (record
 * --calls's log), where "@N" stands for the time_ns of record N (seq),
 * "@N+D" for D ns after it.
 */
static struct ops_trace *build_with_calls(struct trace_rec *recs, size_t n, const char *calls)
{
	char path[600], *dir, *end;
	struct ops_trace *t;
	char err[256];
	FILE *f;

	build_gap_us = 2000;
	t = build(recs, n);
	build_gap_us = 0;
	dir = strdup(t->dir);
	snprintf(path, sizeof(path), "%s/calls", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	for (; *calls; calls++)
		if (*calls == '@') {
			unsigned long k = strtoul(calls + 1, &end, 10), plus = 0;

			if (*end == '+')
				plus = strtoul(end + 1, &end, 10);
			ck_assert(k >= 1 && k <= t->n);
			fprintf(f, "%llu", (unsigned long long)(t->v[k - 1].time_ns + plus));
			calls = end - 1;
		} else {
			fputc(*calls, f);
		}
	ck_assert_int_eq(fclose(f), 0);
	ops_free(t);
	ck_assert_int_eq(ops_load(dir, 0, &t, err, sizeof(err)), 0);
	free(dir);
	return t;
}

static struct model_plan *plan(const char *model, struct ops_trace *t)
{
	struct model_plan *p;

	ck_assert_ptr_nonnull(model_find(model));
	ck_assert_int_eq(model_plan_new(model_find(model), t, &p), 0);
	return p;
}

#define CREATE(par, i, nm) {.op = TRACE_OP_CREATE, .parent = par, .id = i, \
			    .mode = 0100644, .name = nm, .name_len = sizeof(nm) - 1}
#define WRITE(i, o, d) {.op = TRACE_OP_WRITE, .id = i, .off = o, .len = sizeof(d) - 1, \
			.data = d, .data_len = sizeof(d) - 1}
#define FSYNC(i) {.op = TRACE_OP_FSYNC, .id = i}
#define FSYNCDIR(i) {.op = TRACE_OP_FSYNCDIR, .id = i}

/*
 * Records get seq 1, 2, ... and op index seq - 1.  A crash point c is a
 * crash DURING op c (model.h): model_in_flight(p, idx, c).  A crash point
 * one past the last record is "after everything completed".
 */

/* create + write + fsync(file), no fsync(dir) */
static struct trace_rec create_write_fsync[] = {
	CREATE(1, 2, "f"), WRITE(2, 0, "data"), FSYNC(2),
};

START_TEST(posix_create_without_dirsync_may_vanish)
{
	struct ops_trace *t = build(create_write_fsync, 3);
	struct model_plan *p = plan("posix", t);

	ck_assert(model_in_flight(p, 0, 4));  /* the create: a state without f exists */
	ck_assert(!model_in_flight(p, 1, 4)); /* the write is durable once the fsync completed */
	ck_assert(model_in_flight(p, 1, 3));  /* ... not during it */
	ck_assert(model_in_flight(p, 1, 2));  /* ... nor before it */
	model_plan_free(p);
	ops_free(t);
}
END_TEST

START_TEST(ext4_fsync_commits_the_create)
{
	struct ops_trace *t = build(create_write_fsync, 3);
	struct model_plan *p = plan("ext4-ordered", t);

	ck_assert(!model_in_flight(p, 0, 4)); /* no state without f after the fsync */
	ck_assert(!model_in_flight(p, 1, 4));
	ck_assert(model_in_flight(p, 0, 3));  /* during the fsync: the journal is not committed */
	ck_assert(model_in_flight(p, 0, 2));
	model_plan_free(p);
	ops_free(t);
}
END_TEST

START_TEST(strict_keeps_everything_completed)
{
	struct ops_trace *t = build(create_write_fsync, 3);
	struct model_plan *p = plan("strict", t);

	ck_assert(!model_in_flight(p, 0, 2)); /* completed before the crash point */
	ck_assert(model_in_flight(p, 1, 2));  /* the op in progress is in doubt */
	ck_assert(!model_in_flight(p, 1, 3));
	ck_assert(model_may_tear(p, 1, 2));
	ck_assert(!model_may_tear(p, 1, 3));
	model_plan_free(p);
	ops_free(t);
}
END_TEST

START_TEST(posix_dirsync_makes_the_create_durable)
{
	struct trace_rec r[] = {CREATE(1, 2, "f"), FSYNCDIR(1), CREATE(1, 3, "g")};
	struct ops_trace *t = build(r, 3);
	struct model_plan *p = plan("posix", t);

	ck_assert(model_in_flight(p, 0, 2));  /* during the fsyncdir */
	ck_assert(!model_in_flight(p, 0, 3));
	ck_assert(model_in_flight(p, 2, 3));
	model_plan_free(p);
	ops_free(t);
}
END_TEST

START_TEST(posix_rename_needs_both_dirs_synced)
{
	struct trace_rec r[] = {
		{.op = TRACE_OP_RENAME, .id = 5, .parent = 2, .name = "a", .name_len = 1,
		 .parent2 = 3, .name2 = "b", .name2_len = 1},
		FSYNCDIR(3), FSYNCDIR(2),
	};
	struct ops_trace *t = build(r, 3);
	struct model_plan *p = plan("posix", t);

	ck_assert(model_in_flight(p, 0, 3));  /* only the target dir synced */
	ck_assert(!model_in_flight(p, 0, 4)); /* both */
	model_plan_free(p);
	ops_free(t);
}
END_TEST

/*
 * io_uring: two submissions of a write and an fdatasync, each made by
 * worker threads (pids no call of the log explains) after the program's
 * io_uring_enter (the record times are the writer's: build_with_calls
 * puts them in the log).  Recorded write first, both times; the calls log says
 * whether the write was linked before its sync (flags %s).
 */
static struct trace_rec uring_recs[] = {
	{.op = TRACE_OP_CREATE, .parent = 1, .id = 2, .mode = 0100644, .name = "f", .name_len = 1,
	 .pid = 100, .time_ns = 10},
	{.op = TRACE_OP_FSYNCDIR, .id = 1, .pid = 100, .time_ns = 20},
	{.op = TRACE_OP_WRITE, .id = 2, .off = 0, .len = 4, .data = "data", .data_len = 4,
	 .pid = 201, .time_ns = 40},
	{.op = TRACE_OP_FSYNC, .id = 2, .flags = 1, .pid = 202, .time_ns = 50},
	{.op = TRACE_OP_WRITE, .id = 2, .off = 4, .len = 4, .data = "more", .data_len = 4,
	 .pid = 202, .time_ns = 70},
	{.op = TRACE_OP_FSYNC, .id = 2, .flags = 1, .pid = 201, .time_ns = 80},
	{.op = TRACE_OP_MARK, .name = "done", .name_len = 4, .pid = 100, .time_ns = 90},
};

static struct ops_trace *uring_trace(unsigned write_flags)
{
	char calls[512];

	snprintf(calls, sizeof(calls),
		 "100 426 0 @2+1 0 4 2 0 0\n" /* entered after the fsyncdir */
		 "sqe 100 @2+1 WRITE 3 %x 0 0\n"
		 "sqe 100 @2+1 FSYNC 3 0 0 1\n"
		 "100 426 0 @4+1 0 4 2 0 0\n" /* after the first sync */
		 "sqe 100 @4+1 WRITE 3 %x 4 0\n"
		 "sqe 100 @4+1 FSYNC 3 0 0 1\n"
		 "100 1 0 @6+1 0 5 0 5 0\n",
		 write_flags, write_flags);
	return build_with_calls(uring_recs, sizeof(uring_recs) / sizeof(uring_recs[0]), calls);
}

/* The model's in-flight ops at every crash point, counted, against the reference's. */
static void same_as_reference(struct ops_trace *t, struct model_plan *p)
{
	struct ref *r;
	char err[256];
	uint64_t c;
	size_t i, n;

	ck_assert_int_eq(ref_new(t, &r, err, sizeof(err)), 0);
	for (c = 1; c <= t->n + 1; c++) {
		for (i = n = 0; i < t->n; i++)
			n += model_in_flight(p, i, c);
		ck_assert_uint_eq(n, ref_in_flight(r, p->m, c));
	}
	ref_free(r);
}

START_TEST(uring_unlinked_sync_does_not_cover_its_write)
{
	struct ops_trace *t = uring_trace(0);
	const char *models[] = {"posix", "ext4-ordered"};
	struct model_plan *p;
	size_t k;

	ck_assert_ptr_nonnull(t->sqe_of);
	ck_assert_uint_eq(t->sqe_of[2], 1); /* the first WRITE SQE */
	ck_assert_uint_eq(t->sqe_of[3], 2);
	ck_assert_uint_eq(t->sqe_of[4], 3);
	ck_assert(ops_concurrent(t, 2, 3));
	ck_assert(!ops_concurrent(t, 2, 5)); /* another submission: in recorded order */
	for (k = 0; k < 2; k++) {
		p = plan(models[k], t);
		ck_assert(model_in_flight(p, 2, 5));  /* after its own sync: still in flight */
		ck_assert(!model_in_flight(p, 2, 7)); /* the next submission's sync covers it */
		ck_assert(model_in_flight(p, 4, 8));  /* the last write: never covered */
		same_as_reference(t, p);
		model_plan_free(p);
	}
	p = plan("strict", t); /* everything completed is durable: no change */
	ck_assert(!model_in_flight(p, 2, 5));
	same_as_reference(t, p);
	model_plan_free(p);
	ops_free(t);
}
END_TEST

START_TEST(uring_linked_or_drained_sync_covers_its_write)
{
	unsigned flags[] = {0x4 /* IOSQE_IO_LINK */, 0x8 /* IOSQE_IO_HARDLINK */};
	struct model_plan *p;
	struct ops_trace *t;
	size_t k;

	for (k = 0; k < 2; k++) {
		t = uring_trace(flags[k]);
		ck_assert(!ops_concurrent(t, 2, 3));
		p = plan("posix", t);
		ck_assert(!model_in_flight(p, 2, 5));
		ck_assert(!model_in_flight(p, 4, 8));
		same_as_reference(t, p);
		model_plan_free(p);
		ops_free(t);
	}
	t = build_with_calls(uring_recs, sizeof(uring_recs) / sizeof(uring_recs[0]),
			     "100 426 0 @2+1 0 4 2 0 0\nsqe 100 @2+1 WRITE 3 0 0 0\n"
			     "sqe 100 @2+1 FSYNC 3 2 0 1\n"); /* IOSQE_IO_DRAIN on the sync */
	ck_assert(!ops_concurrent(t, 2, 3));
	p = plan("posix", t);
	ck_assert(!model_in_flight(p, 2, 5));
	same_as_reference(t, p);
	model_plan_free(p);
	ops_free(t);
}
END_TEST

/*
 * A buffered O_DSYNC write completes with the FSYNC its thread sends
 * next: a crash during that FSYNC finds it in flight (it may tear).
 */
START_TEST(sync_write_completes_with_its_fsync)
{
	struct trace_rec r[] = {CREATE(1, 2, "f"), WRITE(2, 0, "aa"), WRITE(2, 2, "bb"),
				{.op = TRACE_OP_FSYNC, .id = 2, .flags = 1}, WRITE(2, 4, "cc")};
	struct ops_trace *t;
	struct model_plan *p;
	size_t i;

	for (i = 0; i < 5; i++)
		r[i].pid = 7;
	r[2].flags = TRACE_WF_DSYNC;
	t = build(r, 5);
	ck_assert(!(t->v[2].oflags & OPS_F_SYNC_SELF));
	p = plan("posix", t);
	ck_assert(model_in_flight(p, 2, 3));  /* during the write */
	ck_assert(model_may_tear(p, 2, 3));
	ck_assert(model_in_flight(p, 2, 4));  /* during its fsync */
	ck_assert(model_may_tear(p, 2, 4));
	ck_assert(!model_in_flight(p, 2, 5)); /* durable once the fsync completed */
	ck_assert(!model_in_flight(p, 1, 5)); /* with the file's write before it */
	ck_assert(model_in_flight(p, 4, 5));  /* not the one after */
	model_plan_free(p);
	ops_free(t);
}
END_TEST

/* O_DIRECT|O_DSYNC reaches FUSE with no FSYNC: the write is its own barrier. */
START_TEST(direct_sync_write_is_its_own_barrier)
{
	struct trace_rec r[] = {CREATE(1, 2, "f"), WRITE(2, 0, "aa"), WRITE(2, 2, "bb"),
				WRITE(2, 4, "cc")};
	struct ops_trace *t;
	struct model_plan *p;
	size_t i;

	for (i = 0; i < 4; i++)
		r[i].pid = 7;
	r[2].flags = TRACE_WF_DSYNC | TRACE_WF_DIRECT;
	t = build(r, 4);
	ck_assert(t->v[2].oflags & OPS_F_SYNC_SELF);
	p = plan("posix", t);
	ck_assert(model_in_flight(p, 2, 3));  /* a crash during it may tear it */
	ck_assert(model_may_tear(p, 2, 3));
	ck_assert(!model_in_flight(p, 2, 4)); /* durable once it completed */
	ck_assert(!model_in_flight(p, 1, 4)); /* and the file's write before it */
	ck_assert(model_in_flight(p, 3, 4));  /* not the one after */
	model_plan_free(p);
	ops_free(t);
}
END_TEST

/* mmap writeback through an O_DSYNC handle is not synchronous. */
START_TEST(writeback_is_never_a_sync_write)
{
	struct trace_rec r[] = {CREATE(1, 2, "f"), WRITE(2, 0, "aa")};
	struct ops_trace *t;
	struct model_plan *p;

	r[1].flags = TRACE_WF_DSYNC | TRACE_WF_WRITEPAGE;
	t = build(r, 2);
	p = plan("posix", t);
	ck_assert(!ops_is_sync_write(&t->v[1]));
	ck_assert(model_in_flight(p, 1, 3));
	model_plan_free(p);
	ops_free(t);
}
END_TEST

#define CHMOD(i, m) {.op = TRACE_OP_SETATTR, .id = i, .flags = TRACE_SA_MODE, .mode = m}
#define MARKR {.op = TRACE_OP_MARK, .name = "m", .name_len = 1}

/* fdatasync persists bytes and size, not mode, owner, times or xattrs; fsync all. */
START_TEST(fdatasync_leaves_attributes_in_flight)
{
	struct trace_rec r[] = {CREATE(1, 2, "f"), WRITE(2, 0, "x"), CHMOD(2, 0100600),
				{.op = TRACE_OP_FSYNC, .id = 2, .flags = 1}, FSYNC(2)};
	struct ops_trace *t = build(r, 5);
	struct model_plan *p = plan("posix", t);

	ck_assert(!model_in_flight(p, 1, 5)); /* the write, after the fdatasync */
	ck_assert(model_in_flight(p, 2, 5));  /* the chmod is not covered by it */
	ck_assert(!model_in_flight(p, 2, 6)); /* the fsync covers it */
	model_plan_free(p);
	p = plan("ext4-ordered", t);
	ck_assert(!model_in_flight(p, 2, 5)); /* ext4: any barrier commits the journal */
	model_plan_free(p);
	ops_free(t);
}
END_TEST

/* fsync of a directory covers its own attributes too; fdatasync of it does not. */
START_TEST(fsyncdir_covers_the_directory_attributes)
{
	struct trace_rec r[] = {CHMOD(1, 040700), {.op = TRACE_OP_FSYNCDIR, .id = 1, .flags = 1},
				FSYNCDIR(1)};
	struct ops_trace *t = build(r, 3);
	struct model_plan *p = plan("posix", t);

	ck_assert(model_in_flight(p, 0, 3));
	ck_assert(!model_in_flight(p, 0, 4));
	model_plan_free(p);
	ops_free(t);
}
END_TEST

START_TEST(failed_fsync_is_no_barrier)
{
	struct trace_rec r[] = {CREATE(1, 2, "f"), WRITE(2, 0, "x"), FSYNC(2)};
	struct ops_trace *t;
	struct model_plan *p;

	r[2].result = -EIO;
	t = build(r, 3);
	p = plan("posix", t);
	ck_assert(model_in_flight(p, 1, 4));
	model_plan_free(p);
	ops_free(t);
}
END_TEST

/* syncfs (not recorded by faultline-fs today: FUSE never sees it) covers everything. */
START_TEST(syncfs_covers_everything)
{
	struct trace_rec r[] = {CREATE(1, 2, "f"), WRITE(2, 0, "x"), {.op = TRACE_OP_SYNCFS}};
	struct ops_trace *t = build(r, 3);
	struct model_plan *p = plan("posix", t);

	ck_assert(model_in_flight(p, 0, 3));
	ck_assert(!model_in_flight(p, 0, 4));
	ck_assert(!model_in_flight(p, 1, 4));
	model_plan_free(p);
	ops_free(t);
}
END_TEST

START_TEST(ext4_metadata_is_the_journal)
{
	struct trace_rec r[] = {CREATE(1, 2, "a"), WRITE(2, 0, "x"), CHMOD(2, 0100600),
				{.op = TRACE_OP_TRUNCATE, .id = 2, .off = 0, .len = 1}};
	struct ops_trace *t = build(r, 4);
	struct model_plan *p = plan("ext4-ordered", t);

	ck_assert(model_is_journal_op(p, 0));  /* namespace */
	ck_assert(!model_is_journal_op(p, 1)); /* a write: data */
	ck_assert(model_is_journal_op(p, 2) && model_is_journal_op(p, 3));
	model_plan_free(p);
	p = plan("posix", t);
	ck_assert(!model_is_journal_op(p, 0)); /* posix keeps no journal */
	ck_assert(ops_is_metadata(&t->v[0]) && !ops_is_metadata(&t->v[1]));
	model_plan_free(p);
	ops_free(t);
}
END_TEST

/* A sync write the kernel split (mid-page start, or max_write) completes as one call. */
START_TEST(split_sync_write_completes_as_one)
{
	struct trace_rec r[] = {CREATE(1, 2, "f"), WRITE(2, 100, "aa"), WRITE(2, 102, "bb"),
				{.op = TRACE_OP_FSYNC, .id = 2, .flags = 1}, WRITE(2, 200, "cc"),
				WRITE(2, 202, "dd"), MARKR};
	struct ops_trace *t;
	struct model_plan *p;
	size_t i;

	for (i = 0; i < 7; i++)
		r[i].pid = 7;
	r[1].flags = r[2].flags = TRACE_WF_DSYNC;
	r[4].flags = r[5].flags = TRACE_WF_DSYNC | TRACE_WF_DIRECT;
	t = build(r, 7);
	ck_assert(!(t->v[1].oflags & OPS_F_SYNC_SELF) && !(t->v[2].oflags & OPS_F_SYNC_SELF));
	ck_assert(!(t->v[4].oflags & OPS_F_SYNC_SELF) && (t->v[5].oflags & OPS_F_SYNC_SELF));
	p = plan("posix", t);
	ck_assert(model_in_flight(p, 1, 4));  /* the first half, during the call's FSYNC */
	ck_assert(!model_in_flight(p, 1, 5));
	ck_assert(model_in_flight(p, 4, 6));  /* O_DIRECT: in flight until the last chunk is done */
	ck_assert(!model_in_flight(p, 4, 7));
	model_plan_free(p);
	ops_free(t);
}
END_TEST

/* How many of the family's variants a model allows; *size_lost gets whether one loses the size. */
static size_t allowed(struct model_plan *p, size_t idx, const struct tear_set *fam,
		      bool *size_lost, bool *past_eof)
{
	size_t n = 0, i;

	*size_lost = *past_eof = false;
	for (i = 0; i < fam->n; i++)
		if (model_tear_allows(p, idx, &fam->v[i])) {
			n++;
			*size_lost |= fam->v[i].size_lost;
			*past_eof |= fam->v[i].dmg_end > 1000;
		}
	return n;
}

START_TEST(tear_rules_per_model)
{
	/* a 1000-byte file (write 1), then an overwrite+append (write 2) */
	static char big[1000], over[1024];
	struct trace_rec r[] = {CREATE(1, 2, "f"),
				{.op = TRACE_OP_WRITE, .id = 2, .len = 1000, .data = big, .data_len = 1000},
				{.op = TRACE_OP_WRITE, .id = 2, .off = 512, .len = 1024, .data = over,
				 .data_len = 1024}};
	struct ops_trace *t = build(r, 3);
	struct tear_geom g = {.sector = 512, .kinds = "ozg"};
	struct tear_set fam = {0};
	struct model_plan *p = plan("posix", t);
	size_t nposix, next4, nstrict;
	bool lost, past;

	ck_assert_int_eq(tear_family(&g, &t->v[2], &fam), 0);
	nposix = allowed(p, 2, &fam, &lost, &past);
	ck_assert_uint_eq(nposix, fam.n); /* posix: the whole family */
	ck_assert(lost && past);
	ck_assert(model_may_tear(p, 1, 3) && model_may_tear(p, 2, 3));
	model_plan_free(p);
	p = plan("ext4-ordered", t);
	next4 = allowed(p, 2, &fam, &lost, &past);
	ck_assert(lost && !past);        /* bytes without size; damage below the old size only */
	ck_assert(next4 > 0 && next4 < nposix);
	model_plan_free(p);
	p = plan("strict", t);
	nstrict = allowed(p, 2, &fam, &lost, &past);
	ck_assert(!lost && !past);       /* size and bytes together */
	ck_assert_uint_eq(nstrict, next4 - 1);
	ck_assert(!model_may_tear(p, 1, 3)); /* not the write in progress */
	ck_assert(model_may_tear(p, 2, 3));
	model_plan_free(p);
	tear_set_free(&fam);
	ops_free(t);
}
END_TEST

/* --block damage to clean sectors below the old end of file is an overwrite's: ext4 allows it. */
START_TEST(block_damage_below_the_old_size)
{
	static char big[2048];
	struct trace_rec r[] = {CREATE(1, 2, "f"),
				{.op = TRACE_OP_WRITE, .id = 2, .len = 2048, .data = big, .data_len = 2048},
				WRITE(2, 0, "x")};
	struct ops_trace *t = build(r, 3);
	struct tear_geom g = {.sector = 512, .block = 4096, .kinds = "ozg"};
	struct tear_set fam = {0};
	struct model_plan *p = plan("ext4-ordered", t);
	size_t i;
	bool collateral = false;

	ck_assert_int_eq(tear_family(&g, &t->v[2], &fam), 0);
	for (i = 0; i < fam.n; i++)
		if (fam.v[i].rle && !strcmp(fam.v[i].rle, "1n7g")) {
			ck_assert_uint_eq(fam.v[i].dmg_end, 2048); /* damage stops at the old size */
			ck_assert(model_tear_allows(p, 2, &fam.v[i]));
			collateral = true;
		}
	ck_assert(collateral);
	tear_set_free(&fam);
	model_plan_free(p);
	ops_free(t);
}
END_TEST

/* A write of more than 4096 sectors once got no tear variants at all. */
START_TEST(large_writes_tear_too)
{
	static char big[4 << 20];
	struct trace_rec r[] = {CREATE(1, 2, "f"),
				{.op = TRACE_OP_WRITE, .id = 2, .len = sizeof(big), .data = big,
				 .data_len = sizeof(big)},
				{.op = TRACE_OP_WRITE, .id = 2, .len = sizeof(big), .data = big,
				 .data_len = sizeof(big)}};
	struct ops_trace *t = build(r, 3);
	struct tear_geom g = {.sector = 512, .kinds = "ozg"};
	struct tear_set fam = {0};
	size_t i;
	bool cut = false;

	ck_assert_int_eq(tear_family(&g, &t->v[2], &fam), 0); /* 8192 sectors, an overwrite */
	ck_assert_uint_ge(fam.n, 8);
	for (i = 0; i < fam.n; i++)
		cut |= fam.v[i].rle && !strcmp(fam.v[i].rle, "4096n4096o");
	ck_assert(cut); /* the first half reached the disk, the rest did not */
	tear_set_free(&fam);
	ops_free(t);
}
END_TEST

Suite *make_model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, posix_create_without_dirsync_may_vanish);
	tcase_add_test(tc, ext4_fsync_commits_the_create);
	tcase_add_test(tc, strict_keeps_everything_completed);
	tcase_add_test(tc, posix_dirsync_makes_the_create_durable);
	tcase_add_test(tc, posix_rename_needs_both_dirs_synced);
	tcase_add_test(tc, sync_write_completes_with_its_fsync);
	tcase_add_test(tc, direct_sync_write_is_its_own_barrier);
	tcase_add_test(tc, writeback_is_never_a_sync_write);
	tcase_add_test(tc, fdatasync_leaves_attributes_in_flight);
	tcase_add_test(tc, fsyncdir_covers_the_directory_attributes);
	tcase_add_test(tc, failed_fsync_is_no_barrier);
	tcase_add_test(tc, syncfs_covers_everything);
	tcase_add_test(tc, ext4_metadata_is_the_journal);
	tcase_add_test(tc, split_sync_write_completes_as_one);
	tcase_add_test(tc, tear_rules_per_model);
	tcase_add_test(tc, block_damage_below_the_old_size);
	tcase_add_test(tc, large_writes_tear_too);
	tcase_add_test(tc, uring_unlinked_sync_does_not_cover_its_write);
	tcase_add_test(tc, uring_linked_or_drained_sync_covers_its_write);
	suite_add_tcase(s, tc);
	return s;
}
