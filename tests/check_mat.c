/*
 * check_mat.c - unit tests for the materializer (src/mat*.c): each test
 * builds crash states of a small hand-made trace and reads them back from
 * disk: torn sectors, sizes, collateral damage, attributes, names in
 * recorded order, and content keys that match what is on disk.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include "check_suites.h"
#include "check_util.h"
#include "fskey.h"
#include "mat.h"
#include "state.h"

static char bufA[4096], bufB[1024];

static void fill_bufs(void)
{
	memset(bufA, 'A', sizeof(bufA));
	memset(bufB, 'B', sizeof(bufB));
}

/* Builds state id (every state-changing op up to its crash point applied as it says) into dir. */
static uint64_t build(const struct ops_trace *t, const char *id, const char *dir)
{
	char err[512], work[700];
	struct state s = {0};
	struct mat *m;
	uint64_t key, disk;

	ck_assert_msg(state_parse(id, &s, err, sizeof(err)) == 0, "%s", err);
	snprintf(work, sizeof(work), "%s.work", dir);
	ck_assert_msg(mat_new(t, work, MAT_SCRATCH_DIR, &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(mat_build_all(m, &s, dir, &key, err, sizeof(err)) == 0, "%s", err);
	mat_free(m);
	mat_remove(work);
	state_free(&s);
	ck_assert_int_eq(fskey_dir(dir, &disk, err, sizeof(err)), 0);
	ck_assert_msg(disk == key, "%s: the key does not describe what is on disk", id);
	return key;
}

/* The bytes of dir/name into buf (cap bytes); returns the file's size. */
static size_t slurp(const char *dir, const char *name, char *buf, size_t cap)
{
	char path[1400];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, cap);
	close(fd);
	ck_assert_int_ge(n, 0);
	return (size_t)n;
}

static void garbage(const char *id, uint64_t seq, uint64_t sector, char *buf, size_t len)
{
	state_garbage(XXH3_64bits(id, strlen(id)), seq, sector, buf, len);
}

/* base: f = 2048 x 'A'; op 2: write 1024 x 'B' at 512 */
static struct ops_trace *overwrite_trace(struct tb *b)
{
	fill_bufs();
	tb_start(b, "t");
	tb_base(b, 2, 1, "f", "f", bufA, 2048, 0644);
	tb_rec(b, TB_WRITE(2, 512, bufB, 1024));
	return tb_finish(b);
}

START_TEST(torn_write_sector_by_sector)
{
	struct tb b;
	struct ops_trace *t = overwrite_trace(&b);
	char dir[700], got[4096], want[2048], g[512];

	snprintf(dir, sizeof(dir), "%s/s1", b.dir);
	build(t, "c2-t2:1n1z", dir);
	ck_assert_uint_eq(slurp(dir, "f", got, sizeof(got)), 2048);
	memset(want, 'A', 2048);
	memset(want + 512, 'B', 512);
	memset(want + 1024, 0, 512);
	ck_assert(!memcmp(got, want, 2048));
	snprintf(dir, sizeof(dir), "%s/s2", b.dir);
	build(t, "c2-t2:1o1g", dir);
	slurp(dir, "f", got, sizeof(got));
	memset(want, 'A', 2048);
	garbage("c2-t2:1o1g", 2, 2, g, 512);
	memcpy(want + 1024, g, 512);
	ck_assert(!memcmp(got, want, 2048)); /* garbage is the id's, sector by sector */
	ops_free(t);
}
END_TEST

START_TEST(same_state_same_bytes_and_key)
{
	struct tb b;
	struct ops_trace *t = overwrite_trace(&b);
	char d1[700], d2[700], d3[700], g1[4096], g2[4096];
	uint64_t k1, k2, k3;

	snprintf(d1, sizeof(d1), "%s/a", b.dir);
	snprintf(d2, sizeof(d2), "%s/b", b.dir);
	snprintf(d3, sizeof(d3), "%s/c", b.dir);
	k1 = build(t, "c2-t2:1g1n", d1);
	k2 = build(t, "c2-t2:1g1n", d2);
	k3 = build(t, "c2-t2:1n1g", d3);
	ck_assert(k1 == k2);
	ck_assert(k1 != k3); /* other sectors torn: other bytes, another key */
	slurp(d1, "f", g1, sizeof(g1));
	slurp(d2, "f", g2, sizeof(g2));
	ck_assert(!memcmp(g1, g2, 2048));
	ops_free(t);
}
END_TEST

/* base: f = "hello"; op 2: write 600 bytes at 1000 (a hole, then an append) */
START_TEST(append_loses_its_size_or_its_bytes)
{
	struct tb b;
	struct ops_trace *t;
	char dir[700], got[4096], zero[600] = {0};
	static char x[600];

	memset(x, 'x', sizeof(x));
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "f", "f", "hello", 5, 0644);
	tb_rec(&b, TB_WRITE(2, 1000, x, 600));
	t = tb_finish(&b);
	snprintf(dir, sizeof(dir), "%s/lost", b.dir);
	build(t, "c2-t2:S", dir); /* the bytes persisted, the size did not */
	ck_assert_uint_eq(slurp(dir, "f", got, sizeof(got)), 5);
	ck_assert(!memcmp(got, "hello", 5));
	snprintf(dir, sizeof(dir), "%s/only", b.dir);
	build(t, "c2-t2:3o", dir); /* the size persisted, the bytes did not: zeros */
	ck_assert_uint_eq(slurp(dir, "f", got, sizeof(got)), 1600);
	ck_assert(!memcmp(got + 1000, zero, 600));
	snprintf(dir, sizeof(dir), "%s/whole", b.dir);
	build(t, "c2", dir);
	ck_assert_uint_eq(slurp(dir, "f", got, sizeof(got)), 1600);
	ck_assert(!memcmp(got + 1000, x, 600));
	ops_free(t);
}
END_TEST

/* --block 4096: a 512-byte write may damage the block's clean sectors. */
START_TEST(block_tear_damages_clean_sectors)
{
	struct tb b;
	struct ops_trace *t;
	char dir[700], got[4096], g[512];
	size_t k;

	fill_bufs();
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "f", "f", bufA, 4096, 0644);
	tb_rec(&b, TB_WRITE(2, 0, bufB, 512));
	t = tb_finish(&b);
	snprintf(dir, sizeof(dir), "%s/s", b.dir);
	build(t, "c2b4096-t2:1n7g", dir);
	ck_assert_uint_eq(slurp(dir, "f", got, sizeof(got)), 4096);
	ck_assert(!memcmp(got, bufB, 512));
	for (k = 1; k < 8; k++) {
		garbage("c2b4096-t2:1n7g", 2, k, g, 512);
		ck_assert_msg(!memcmp(got + k * 512, g, 512), "sector %zu", k);
	}
	ops_free(t);
}
END_TEST

/* Mode, owner, mtime and xattrs are materialized, and lost with their ops. */
START_TEST(attributes_follow_their_ops)
{
	struct tb b;
	struct ops_trace *t;
	char dir[700], path[800], v[16];
	struct stat st;

	tb_start(&b, "t");
	tb_base(&b, 2, 1, "f", "f", "data", 4, 0644);
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_SETATTR, .id = 2, .flags = TRACE_SA_MODE,
				      .mode = 0100600});
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_SETATTR, .id = 2,
				      .flags = TRACE_SA_UID | TRACE_SA_GID, .uid = 1234, .gid = 5678});
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_SETATTR, .id = 2, .flags = TRACE_SA_MTIME,
				      .mtime_ns = 1000000000LL * 86400 + 5});
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_SETXATTR, .id = 2, .name = "user.k",
				      .name_len = 6, .data = "v", .data_len = 1});
	t = tb_finish(&b);
	snprintf(dir, sizeof(dir), "%s/all", b.dir);
	build(t, "c5", dir);
	snprintf(path, sizeof(path), "%s/f", dir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	if (geteuid() == 0) /* owners are given as root only */
		ck_assert(st.st_uid == 1234 && st.st_gid == 5678);
	ck_assert_int_eq(st.st_mtim.tv_sec, 86400);
	ck_assert_int_eq(st.st_mtim.tv_nsec, 5);
	ck_assert_int_eq(getxattr(path, "user.k", v, sizeof(v)), 1);
	snprintf(dir, sizeof(dir), "%s/none", b.dir);
	build(t, "c5-d2-d3-d4-d5", dir);
	snprintf(path, sizeof(path), "%s/f", dir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_ne(st.st_mtim.tv_sec, 86400);
	ck_assert_int_lt(getxattr(path, "user.k", v, sizeof(v)), 0);
	ops_free(t);
}
END_TEST

/* A state built on a shared image (mat_new_shared), its key on disk, the base's key before and after. */
static uint64_t build_shared(const struct ops_trace *t, const char *id, const char *dir)
{
	char err[512], work[720], base[720];
	struct state s = {0};
	struct mat *m;
	uint64_t before, after, disk;

	snprintf(base, sizeof(base), "%s/base", t->dir);
	ck_assert_int_eq(fskey_dir(base, &before, err, sizeof(err)), 0);
	ck_assert_msg(state_parse(id, &s, err, sizeof(err)) == 0, "%s", err);
	snprintf(work, sizeof(work), "%s.work", dir);
	ck_assert_msg(mat_new_shared(t, work, &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(mat_build_all(m, &s, dir, NULL, err, sizeof(err)) == 0, "%s", err);
	mat_free(m);
	mat_remove(work);
	state_free(&s);
	ck_assert_int_eq(fskey_dir(base, &after, err, sizeof(err)), 0);
	ck_assert_msg(before == after, "%s: building it changed the base", id);
	ck_assert_int_eq(fskey_dir(dir, &disk, err, sizeof(err)), 0);
	return disk;
}

/*
 * mat_new_shared builds what mat_new builds, state for state, and never
 * writes the base it links: bytes written, a mode changed, an xattr set,
 * a second name, each to a base file, whole or dropped; a file no op
 * touches stays a link of the base's.
 */
START_TEST(shared_image_builds_the_same_states)
{
	/* seqs: 1-5 the base, 6 write w, 7 chmod a, 8 xattr x, 9 link l, 10 write l, 11 mark */
	static const char *const ids[] = {"c11",	     "c11-d6",	  "c11-d7:8", "c11-d9:10",
					  "c11-d6:10", "c11-t6:1z", "c6",	      "c10-d9"};
	struct tb b;
	struct ops_trace *t;
	char dir[700], plain[700], p1[800], p2[800];
	struct stat st1, st2;
	size_t k;

	fill_bufs();
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "w", "w", bufA, 2048, 0644);
	tb_base(&b, 3, 1, "a", "a", "attrs", 5, 0644);
	tb_base(&b, 4, 1, "x", "x", "xattr", 5, 0644);
	tb_base(&b, 5, 1, "l", "l", "linked", 6, 0644);
	tb_base(&b, 6, 1, "u", "u", "untouched", 9, 0640);
	tb_rec(&b, TB_WRITE(2, 512, bufB, 1024));
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_SETATTR, .id = 3, .flags = TRACE_SA_MODE,
				      .mode = 0100600});
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_SETXATTR, .id = 4, .name = "user.k",
				      .name_len = 6, .data = "v", .data_len = 1});
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_LINK, .id = 5, .parent = 1, .name = "l2",
				      .name_len = 2});
	tb_rec(&b, TB_WRITE(5, 0, "L", 1));
	tb_rec(&b, TB_MARK("end"));
	t = tb_finish(&b);
	for (k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		snprintf(dir, sizeof(dir), "%s/shared%zu", b.dir, k);
		snprintf(plain, sizeof(plain), "%s/plain%zu", b.dir, k);
		ck_assert_msg(build_shared(t, ids[k], dir) == build(t, ids[k], plain),
			      "%s: the shared build differs from the plain one", ids[k]);
		snprintf(p1, sizeof(p1), "%s/u", dir);
		snprintf(p2, sizeof(p2), "%s/base/u", t->dir);
		ck_assert(stat(p1, &st1) == 0 && stat(p2, &st2) == 0);
		ck_assert_msg(st1.st_ino == st2.st_ino, "%s: an untouched file was copied", ids[k]);
		snprintf(p1, sizeof(p1), "%s/w", dir);
		snprintf(p2, sizeof(p2), "%s/base/w", t->dir);
		ck_assert(stat(p1, &st1) == 0 && stat(p2, &st2) == 0);
		ck_assert_msg(strcmp(ids[k], "c11-d6") && strcmp(ids[k], "c11-d6:10")
				      ? st1.st_ino != st2.st_ino : st1.st_ino == st2.st_ino,
			      "%s: w is shared when written, or copied when not", ids[k]);
	}
	ops_free(t);
}
END_TEST

/* Names in recorded order: rename across directories, then unlink of the new name. */
START_TEST(names_apply_in_recorded_order)
{
	struct tb b;
	struct ops_trace *t;
	char dir[700], path[800];

	tb_start(&b, "t");
	tb_base(&b, 2, 1, "d1", "d1", NULL, 0, 0755);
	tb_base(&b, 3, 1, "d2", "d2", NULL, 0, 0755);
	tb_base(&b, 4, 2, "x", "d1/x", "x", 1, 0644);
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_RENAME, .id = 4, .parent = 2, .name = "x",
				      .name_len = 1, .parent2 = 3, .name2 = "x", .name2_len = 1});
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_UNLINK, .id = 4, .parent = 3, .name = "x",
				      .name_len = 1});
	t = tb_finish(&b);
	snprintf(dir, sizeof(dir), "%s/both", b.dir);
	build(t, "c5", dir);
	snprintf(path, sizeof(path), "%s/d1/x", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/d2/x", dir);
	ck_assert_int_ne(access(path, F_OK), 0); /* renamed, then unlinked: gone */
	snprintf(dir, sizeof(dir), "%s/norename", b.dir);
	build(t, "c5-d4", dir);
	snprintf(path, sizeof(path), "%s/d1/x", dir);
	ck_assert_int_eq(access(path, F_OK), 0); /* the unlink of d2/x removed nothing */
	ops_free(t);
}
END_TEST

/* A created file's bytes and mode survive without its create, under a persisted rename. */
START_TEST(created_inode_without_its_name)
{
	struct tb b;
	struct ops_trace *t;
	char dir[700], got[16], path[800];
	struct stat st;
	struct trace_rec c = TB_CREATE(1, 5, "tmp");

	tb_start(&b, "t");
	c.mode = 0100640;
	tb_rec(&b, c);
	tb_rec(&b, TB_WRITE(5, 0, "new", 3));
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_RENAME, .id = 5, .parent = 1, .name = "tmp",
				      .name_len = 3, .parent2 = 1, .name2 = "f", .name2_len = 1});
	t = tb_finish(&b);
	snprintf(dir, sizeof(dir), "%s/s", b.dir);
	build(t, "c3-d1", dir);
	ck_assert_uint_eq(slurp(dir, "f", got, sizeof(got)), 3);
	snprintf(path, sizeof(path), "%s/f", dir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	ops_free(t);
}
END_TEST

/* A file growing past its old, short last block: that block's hash is redone. */
START_TEST(growth_rehashes_the_old_last_block)
{
	struct tb b;
	struct ops_trace *t;
	char dir[700];

	fill_bufs();
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "f", "f", bufA, 100, 0644);
	tb_rec(&b, TB_WRITE(2, 0, "zzzz", 4));
	tb_rec(&b, TB_WRITE(2, 70000, "tail", 4));
	t = tb_finish(&b);
	snprintf(dir, sizeof(dir), "%s/s", b.dir);
	build(t, "c3", dir); /* build() asserts the key is what the disk holds */
	snprintf(dir, sizeof(dir), "%s/s2", b.dir);
	build(t, "c3-d2", dir);
	ops_free(t);
}
END_TEST

/* A state of more files than the process may hold open at once. */
START_TEST(many_files_few_descriptors)
{
	struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
	struct tb b;
	struct ops_trace *t;
	char dir[700], name[32];
	uint64_t k;

	tb_start(&b, "t");
	for (k = 0; k < 300; k++) {
		snprintf(name, sizeof(name), "f%03u", (unsigned)k);
		tb_base(&b, 2 + k, 1, name, name, name, strlen(name), 0644);
	}
	tb_rec(&b, TB_WRITE(2, 0, "new", 3));
	t = tb_finish(&b);
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) { /* (this test's fork only) */
		int fd, n = 0; /* valgrind refuses: leave 40 descriptors free instead */

		ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
		ck_assert_uint_le(rl.rlim_cur, 65536);
		while ((fd = dup(0)) >= 0)
			n++;
		ck_assert_int_eq(errno, EMFILE);
		for (fd = 0; fd < 40 && n > 0; fd++, n--)
			close((int)rl.rlim_cur - 1 - fd);
	}
	snprintf(dir, sizeof(dir), "%s/s", b.dir);
	build(t, "c301", dir);
	ops_free(t);
}
END_TEST

/* COLLAPSE_RANGE and INSERT_RANGE where the scratch file system lacks them (tmpfs). */
START_TEST(collapse_and_insert_without_support)
{
	static char data[16384];
	struct tb b;
	struct ops_trace *t;
	char dir[700], got[16384], want[16384];
	size_t k;

	for (k = 0; k < sizeof(data); k++)
		data[k] = (char)('a' + k / 4096);
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "f", "f", data, 16384, 0644);
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_FALLOCATE, .id = 2, .off = 4096, .len = 4096,
				      .mode = 0x08 /* COLLAPSE_RANGE */, .id2 = 16384});
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_FALLOCATE, .id = 2, .off = 0, .len = 4096,
				      .mode = 0x20 /* INSERT_RANGE */, .id2 = 12288});
	t = tb_finish(&b);
	if (access("/dev/shm", W_OK) == 0) /* tmpfs refuses both: the emulation runs */
		snprintf(dir, sizeof(dir), "/dev/shm/check-mat-%d", (int)getpid());
	else
		snprintf(dir, sizeof(dir), "%s/s", b.dir);
	build(t, "c3", dir);
	ck_assert_uint_eq(slurp(dir, "f", got, sizeof(got)), 16384);
	memset(want, 0, 4096);                 /* inserted */
	memcpy(want + 4096, data, 4096);       /* a */
	memcpy(want + 8192, data + 8192, 8192); /* c, d: b was collapsed */
	mat_remove(dir);
	ck_assert(!memcmp(got, want, sizeof(want)));
	ops_free(t);
}
END_TEST

Suite *make_mat_suite(void)
{
	Suite *s = suite_create("mat");
	TCase *tc = tcase_create("build");

	tcase_add_test(tc, torn_write_sector_by_sector);
	tcase_add_test(tc, same_state_same_bytes_and_key);
	tcase_add_test(tc, append_loses_its_size_or_its_bytes);
	tcase_add_test(tc, block_tear_damages_clean_sectors);
	tcase_add_test(tc, attributes_follow_their_ops);
	tcase_add_test(tc, shared_image_builds_the_same_states);
	tcase_add_test(tc, names_apply_in_recorded_order);
	tcase_add_test(tc, created_inode_without_its_name);
	tcase_add_test(tc, growth_rehashes_the_old_last_block);
	tcase_add_test(tc, many_files_few_descriptors);
	tcase_add_test(tc, collapse_and_insert_without_support);
	suite_add_tcase(s, tc);
	return s;
}
