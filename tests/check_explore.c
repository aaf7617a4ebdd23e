/*
 * check_explore.c - unit tests for the explorer (src/explore*.c): which
 * states each mode generates on small hand-made traces, compared with
 * the reference enumerator and with replay.  Each test names the bug it
 * guards against.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "check_util.h"
#include "explore.h"
#include "fskey.h"
#include "mat.h"
#include "reference.h"
#include "state.h"

#define MAXS 8192

/* The states one exploration (or the reference) produced. */
struct coll {
	size_t n;
	char id[MAXS][128];
	uint64_t key[MAXS];
	uint64_t crash[MAXS];
	bool disk_differs;  /* some built state's disk key differed from its key */
};

static struct coll ca, cb; /* static: too big for a test's stack */
static bool keys_only;     /* explore() trusts in-memory keys: duplicates are not built */

static void collect(void *arg, const struct explore_state *st)
{
	struct coll *c = arg;
	uint64_t disk;
	char err[256];

	ck_assert_uint_lt(c->n, MAXS);
	snprintf(c->id[c->n], sizeof(c->id[0]), "%s", st->id);
	c->key[c->n] = st->key;
	c->crash[c->n++] = st->crash;
	if (!st->dir) /* a duplicate known by its in-memory key */
		ck_assert_msg(keys_only && !strcmp(st->status, "duplicate"), "%s not built", st->id);
	else if (fskey_dir(st->dir, &disk, err, sizeof(err)) < 0 || disk != st->content)
		c->disk_differs = true;
}

/* Explores dir under model/mode (tear kinds "ozg" unless given) into c; returns the report's coverage. */
static double explore(const char *dir, const char *model, const char *mode, const char *kinds,
		      struct coll *c)
{
	struct explore_opts o = {
		.trace = dir, .model = model_find(model), .sector = STATE_SECTOR_DEFAULT,
		.jobs = 1, .timeout = 10, .window = 8, .seed = 3, .scratch = MAT_SCRATCH_DIR,
		.on_state = collect, .on_state_arg = c,
		.build_every = !keys_only,
	};
	struct report rep = {0};
	char err[512];
	double cov;

	snprintf(o.kinds, sizeof(o.kinds), "%s", kinds ? kinds : "ozg");
	ck_assert_int_eq(explore_parse_mode(mode, &o), 0);
	memset(c, 0, sizeof(*c));
	ck_assert_msg(explore_run(&o, &rep, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(!c->disk_differs, "a built state is not what its key says");
	ck_assert_uint_eq(rep.generated, c->n);
	cov = rep.coverage;
	report_free(&rep);
	return cov;
}

static int ref_collect(void *arg, const struct ref_state *s)
{
	struct coll *c = arg;

	ck_assert_uint_lt(c->n, MAXS);
	snprintf(c->id[c->n], sizeof(c->id[0]), "%s", s->id);
	c->key[c->n] = s->key;
	c->crash[c->n++] = s->crash;
	return 0;
}

/* Every legal state of t under model (reference enumerator) into c. */
static void reference(const struct ops_trace *t, const char *model, struct coll *c)
{
	struct tear_geom g = {.sector = STATE_SECTOR_DEFAULT, .kinds = "ozg"};
	struct ref *r;
	char err[256];
	size_t i;

	memset(c, 0, sizeof(*c));
	ck_assert_msg(ref_new(t, &r, err, sizeof(err)) == 0, "%s", err);
	for (i = 0; i < t->n; i++)
		if (t->v[i].kind != OPS_NONE)
			ck_assert_int_eq(ref_states(r, model_find(model), &g, t->v[i].seq, 1000000,
						    ref_collect, c), 0);
	ref_free(r);
}

static long find(const struct coll *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->id[i], id))
			return (long)i;
	return -1;
}

/* Every state of a is in b, with the same key. */
static void subset(const struct coll *a, const struct coll *b)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		long j = find(b, a->id[i]);

		ck_assert_msg(j >= 0, "%s is missing", a->id[i]);
		ck_assert_msg(b->key[j] == a->key[i], "%s: keys differ", a->id[i]);
	}
}

static size_t at_crash(const struct coll *c, uint64_t crash)
{
	size_t i, n = 0;

	for (i = 0; i < c->n; i++)
		n += c->crash[i] == crash;
	return n;
}

static char bufA[8192], bufB[1024];

/* base f: 4096 x 'A'; five unsynced one-sector overwrites, at 0, 512, ... 2048 (seq 2..6). */
static struct ops_trace *five_writes(struct tb *b)
{
	size_t k;

	memset(bufA, 'A', sizeof(bufA));
	memset(bufB, 'B', sizeof(bufB));
	tb_start(b, "t");
	tb_base(b, 2, 1, "f", "f", bufA, 4096, 0644);
	for (k = 0; k < 5; k++)
		tb_rec(b, TB_WRITE(2, 512 * k, bufB, 512));
	return tb_finish(b);
}

/*
 * bounded:2 once cleared its caller's choices inside the recursion: only
 * adjacent drops survived and "drop one, tear another" was never built.
 * Each one-sector overwrite has W, D and two tears (zeros, garbage): at
 * the last crash point 1 + 5 * 3 + 10 * 9 = 106 states.
 */
START_TEST(bounded_keeps_every_combination)
{
	struct tb b;
	struct ops_trace *t = five_writes(&b);

	explore(b.dir, "posix", "bounded:2", NULL, &ca);
	ck_assert_uint_eq(at_crash(&ca, 6), 106);
	ck_assert_int_ge(find(&ca, "c6-d2-t4:1z"), 0);
	ck_assert_int_ge(find(&ca, "c6-d3-d5"), 0);
	ck_assert_int_ge(find(&ca, "c6-t2:1g-t6:1z"), 0);
	reference(t, "posix", &cb);
	subset(&ca, &cb);
	explore(b.dir, "posix", "exhaustive", NULL, &ca);
	ck_assert_uint_eq(at_crash(&ca, 6), 4 * 4 * 4 * 4 * 4); /* every choice of five ops */
	ck_assert_int_ge(find(&ca, "c6-t2:1z-t3:1g-t4:1z-t5:1g-t6:1z"), 0);
	ops_free(t);
}
END_TEST

/*
 * A 1 KiB O_DSYNC overwrite (WRITE [dsync], then its FSYNC) was durable at
 * its own record: only prefix tore it.  Every mode must tear it, during
 * the write and during its fsync; --tear old,new keeps sectors whole.
 */
START_TEST(dsync_write_tears_in_every_mode)
{
	static const char *const modes[] = {"prefix", "omit-one", "bounded:2", "exhaustive"};
	struct trace_rec w, f = TB_FSYNC(2, 1);
	struct tb b;
	struct ops_trace *t;
	size_t m, i;

	memset(bufA, 'A', sizeof(bufA));
	memset(bufB, 'B', sizeof(bufB));
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "meta", "meta", bufA, 4096, 0644);
	w = TB_WRITE(2, 512, bufB, 1024);
	w.flags = TRACE_WF_DSYNC;
	tb_rec(&b, w);
	tb_rec(&b, f);
	t = tb_finish(&b);
	for (m = 0; m < 4; m++) {
		explore(b.dir, "posix", modes[m], NULL, &ca);
		ck_assert_msg(find(&ca, "c2-t2:1z1n") >= 0, "%s: not torn during the write", modes[m]);
		if (m)
			ck_assert_msg(find(&ca, "c3-t2:1n1g") >= 0, "%s: not torn during its fsync",
				      modes[m]);
	}
	explore(b.dir, "posix", "prefix", NULL, &ca);
	ck_assert_uint_eq(at_crash(&ca, 2), 9); /* whole, lost, 7 tears */
	explore(b.dir, "posix", "exhaustive", "o", &ca);
	for (i = 0; i < ca.n; i++)
		ck_assert_msg(!strchr(ca.id[i], 'z') && !strchr(ca.id[i], 'g'), "%s", ca.id[i]);
	ck_assert_int_ge(find(&ca, "c3-t2:1o1n"), 0);
	ops_free(t);
}
END_TEST

/* Every state the explorer builds is what replaying its id from a fresh image builds. */
static void replays_match(const struct ops_trace *t, const struct coll *c, const char *work)
{
	char err[512], dir[800];
	struct mat *m;
	size_t i, lastmark;

	ck_assert_int_eq(mat_new(t, work, MAT_SCRATCH_DIR, &m, err, sizeof(err)), 0);
	snprintf(dir, sizeof(dir), "%s/r", work);
	for (i = 0; i < c->n; i++) {
		struct state s = {0};
		uint64_t key;

		ck_assert_int_eq(state_parse(c->id[i], &s, err, sizeof(err)), 0);
		ck_assert_int_eq(mat_build_all(m, &s, dir, &key, err, sizeof(err)), 0);
		ck_assert_msg(fskey_state(key, ops_marks_before(t, s.crash, &lastmark)) == c->key[i],
			      "%s replays to another state", c->id[i]);
		mat_remove(dir);
		state_free(&s);
	}
	mat_free(m);
}

/*
 * The image once applied ops in durable order: under posix, a rename
 * across directories (one dir synced) then an unlink of its new name
 * (synced), so explore and replay built different trees for one id.
 */
START_TEST(ids_replay_to_the_state_explored)
{
	struct tb b;
	struct ops_trace *t;
	char work[700];

	tb_start(&b, "t");
	tb_base(&b, 2, 1, "d1", "d1", NULL, 0, 0755);
	tb_base(&b, 3, 1, "d2", "d2", NULL, 0, 0755);
	tb_base(&b, 4, 2, "x", "d1/x", "x", 1, 0644);
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_RENAME, .id = 4, .parent = 2, .name = "x",
				      .name_len = 1, .parent2 = 3, .name2 = "x", .name2_len = 1});
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_UNLINK, .id = 4, .parent = 3, .name = "x",
				      .name_len = 1});
	tb_rec(&b, TB_FSYNCDIR(3));
	tb_rec(&b, TB_MARK("done"));
	t = tb_finish(&b);
	snprintf(work, sizeof(work), "%s/w", b.dir);
	explore(b.dir, "posix", "exhaustive", NULL, &ca);
	replays_match(t, &ca, work);
	reference(t, "posix", &cb);
	subset(&cb, &ca); /* and the explorer has every legal state */
	subset(&ca, &cb);
	ops_free(t);
}
END_TEST

/*
 * A state's key is computed in memory first and a duplicate is never
 * built: the states, their keys and which are duplicates must be those
 * of building every state, on bytes (tears, truncates) and names alike.
 */
START_TEST(keys_in_memory_are_the_built_keys)
{
	static const char *const modes[] = {"omit-one", "bounded:2", "exhaustive"};
	struct tb b;
	struct ops_trace *t;
	size_t m, i;

	memset(bufA, 'A', sizeof(bufA));
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "d", "d", NULL, 0, 0755);
	tb_base(&b, 3, 2, "f", "d/f", bufA, 6000, 0644);
	tb_rec(&b, TB_WRITE(3, 1000, "new bytes", 9));
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_TRUNCATE, .id = 3, .off = 4000, .len = 6000});
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_CREATE, .id = 4, .parent = 1, .name = "g",
				      .name_len = 1, .mode = S_IFREG | 0600});
	tb_rec(&b, TB_WRITE(4, 0, bufA, 1500));
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_RENAME, .id = 4, .parent = 1, .name = "g",
				      .name_len = 1, .parent2 = 2, .name2 = "f", .name2_len = 1,
				      .id2 = 3});
	tb_rec(&b, TB_FSYNC(4, 0));
	tb_rec(&b, TB_WRITE(4, 3000, "tail", 4));
	t = tb_finish(&b);
	for (m = 0; m < 3; m++) {
		keys_only = false;
		explore(b.dir, "posix", modes[m], NULL, &ca);
		keys_only = true;
		explore(b.dir, "posix", modes[m], NULL, &cb);
		keys_only = false;
		ck_assert_uint_eq(ca.n, cb.n);
		for (i = 0; i < ca.n; i++) {
			ck_assert_str_eq(ca.id[i], cb.id[i]);
			ck_assert_uint_eq(ca.key[i], cb.key[i]);
		}
	}
	ops_free(t);
}
END_TEST

/* ext4-ordered: a write, a truncate of the same file, an fsync of another file. */
START_TEST(ext4_write_truncate_replay)
{
	struct tb b;
	struct ops_trace *t;
	char work[700];

	memset(bufA, 'A', sizeof(bufA));
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "f", "f", bufA, 2048, 0644);
	tb_base(&b, 3, 1, "g", "g", "g", 1, 0644);
	tb_rec(&b, TB_WRITE(2, 1024, "new", 3));
	tb_rec(&b, (struct trace_rec){.op = TRACE_OP_TRUNCATE, .id = 2, .off = 512, .len = 2048});
	tb_rec(&b, TB_FSYNC(3, 0));
	tb_rec(&b, TB_WRITE(3, 0, "h", 1));
	t = tb_finish(&b);
	snprintf(work, sizeof(work), "%s/w", b.dir);
	explore(b.dir, "ext4-ordered", "exhaustive", NULL, &ca);
	replays_match(t, &ca, work);
	reference(t, "ext4-ordered", &cb);
	subset(&cb, &ca);
	subset(&ca, &cb);
	ops_free(t);
}
END_TEST

/* The untouched base is a state: the first op may be lost, even when it is durable at once. */
START_TEST(the_base_is_a_state)
{
	static const char *const models[] = {"strict", "ext4-ordered", "posix"};
	struct tb b;
	struct ops_trace *t;
	char base[700];
	uint64_t want;
	size_t m;

	tb_start(&b, "t");
	tb_base(&b, 2, 1, "f", "f", "old", 3, 0644);
	tb_rec(&b, TB_WRITE(2, 0, "new", 3));
	tb_rec(&b, TB_FSYNC(2, 0));
	t = tb_finish(&b);
	snprintf(base, sizeof(base), "%s/base", b.dir);
	ck_assert_int_eq(fskey_dir(base, &want, base, sizeof(base)), 0);
	want = fskey_state(want, 0);
	for (m = 0; m < 3; m++) {
		size_t i;
		bool seen = false;

		explore(b.dir, models[m], "prefix", NULL, &ca);
		for (i = 0; i < ca.n; i++)
			seen |= ca.key[i] == want;
		ck_assert_msg(seen, "%s/prefix never builds the base", models[m]);
	}
	ops_free(t);
}
END_TEST

/* random:N draws only legal states, and its coverage is the share drawn. */
START_TEST(random_draws_legal_states)
{
	struct tb b;
	struct ops_trace *t = five_writes(&b);
	double cov = explore(b.dir, "posix", "random:30", NULL, &ca);

	reference(t, "posix", &cb);
	subset(&ca, &cb);
	ck_assert(cov > 0 && cov < 0.1); /* 30 draws of 1000-odd states */
	ops_free(t);
}
END_TEST

/* strict ⊆ ext4-ordered ⊆ posix: a write straddling the end of the file. */
START_TEST(models_nest_on_a_straddling_write)
{
	static const char *const modes[] = {"prefix", "omit-one", "bounded:2", "exhaustive"};
	static struct coll cc;
	struct tb b;
	struct ops_trace *t;
	size_t m;

	memset(bufA, 'A', sizeof(bufA));
	memset(bufB, 'B', sizeof(bufB));
	tb_start(&b, "t");
	tb_base(&b, 2, 1, "f", "f", bufA, 1000, 0644);
	tb_rec(&b, TB_WRITE(2, 512, bufB, 1024));
	tb_rec(&b, TB_CREATE(1, 3, "g"));
	tb_rec(&b, TB_WRITE(2, 0, bufB, 100));
	t = tb_finish(&b);
	for (m = 0; m < 4; m++) {
		explore(b.dir, "strict", modes[m], NULL, &ca);
		explore(b.dir, "ext4-ordered", modes[m], NULL, &cb);
		subset(&ca, &cb);
		explore(b.dir, "posix", modes[m], NULL, &cc);
		subset(&cb, &cc);
	}
	ops_free(t);
}
END_TEST

Suite *make_explore_suite(void)
{
	Suite *s = suite_create("explore");
	TCase *tc = tcase_create("states");

	tcase_add_test(tc, bounded_keeps_every_combination);
	tcase_add_test(tc, dsync_write_tears_in_every_mode);
	tcase_add_test(tc, ids_replay_to_the_state_explored);
	tcase_add_test(tc, keys_in_memory_are_the_built_keys);
	tcase_add_test(tc, ext4_write_truncate_replay);
	tcase_add_test(tc, the_base_is_a_state);
	tcase_add_test(tc, random_draws_legal_states);
	tcase_add_test(tc, models_nest_on_a_straddling_write);
	suite_add_tcase(s, tc);
	return s;
}
