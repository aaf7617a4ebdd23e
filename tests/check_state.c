/*
 * check_state.c - unit tests for src/state.c: ids, parsing, sector patterns.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "state.h"

START_TEST(id_round_trip)
{
	struct state s = {.crash = 812, .sector = 512}, p = {0};
	char id[256], id2[256], err[128];

	ck_assert_int_eq(state_add(&s, 801, STATE_TEAR, "4n4o", false), 0);
	ck_assert_int_eq(state_add(&s, 790, STATE_DROP, NULL, false), 0);
	ck_assert_int_eq(state_add(&s, 805, STATE_TEAR, NULL, true), 0);
	ck_assert_int_gt(state_id(&s, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "c812-d790-t801:4n4o-t805:S");
	ck_assert_int_eq(state_parse(id, &p, err, sizeof(err)), 0);
	ck_assert_int_gt(state_id(&p, id2, sizeof(id2)), 0);
	ck_assert_str_eq(id, id2);
	ck_assert_uint_eq(p.n, 3);
	ck_assert_ptr_nonnull(state_find(&p, 805));
	ck_assert(state_find(&p, 805)->size_lost);
	ck_assert_ptr_null(state_find(&p, 806));
	state_free(&s);
	state_free(&p);
}
END_TEST

/* Ids have no length limit: a random draw over a thousand ops tears hundreds. */
START_TEST(long_ids_are_whole)
{
	struct state s = {.crash = 5000, .sector = 512}, p = {0};
	char err[128], *id, *id2;
	uint64_t k;

	for (k = 1; k <= 1000; k++)
		ck_assert_int_eq(state_add(&s, k, k % 2 ? STATE_DROP : STATE_TEAR,
					   k % 2 ? NULL : "3n5o", false), 0);
	id = state_id_new(&s);
	ck_assert_ptr_nonnull(id);
	ck_assert_uint_gt(strlen(id), STATE_ID_MAX); /* past the old fixed buffers */
	ck_assert_int_eq(state_parse(id, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.n, 1000);
	id2 = state_id_new(&p);
	ck_assert_str_eq(id, id2);
	free(id);
	free(id2);
	state_free(&s);
	state_free(&p);
}
END_TEST

START_TEST(id_with_sector_and_block)
{
	struct state p = {0};
	char id[64], err[128];

	ck_assert_int_eq(state_parse("c9s4096b16384-t3:1g3n", &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.sector, 4096);
	ck_assert_uint_eq(p.block, 16384);
	ck_assert_int_gt(state_id(&p, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "c9s4096b16384-t3:1g3n");
	state_free(&p);
}
END_TEST

/* A run of consecutive dropped ops is written as one range, and parses back. */
START_TEST(drop_ranges_round_trip)
{
	struct state p = {0}, q = {0};
	char id[64], err[128];
	uint64_t seq;

	p.crash = 20;
	p.sector = STATE_SECTOR_DEFAULT;
	for (seq = 3; seq <= 6; seq++)
		ck_assert_int_eq(state_add(&p, seq, STATE_DROP, NULL, false), 0);
	ck_assert_int_eq(state_add(&p, 8, STATE_DROP, NULL, false), 0);
	ck_assert_int_eq(state_add(&p, 9, STATE_TEAR, "1n1z", false), 0);
	ck_assert_int_eq(state_add(&p, 10, STATE_DROP, NULL, false), 0);
	ck_assert_int_eq(state_add(&p, 11, STATE_DROP, NULL, false), 0);
	ck_assert_int_gt(state_id(&p, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "c20-d3:6-d8-t9:1n1z-d10:11");
	ck_assert_int_eq(state_parse(id, &q, err, sizeof(err)), 0);
	ck_assert_uint_eq(q.n, 8);
	ck_assert_uint_eq(q.ch[3].seq, 6);
	ck_assert_int_eq(q.ch[3].how, STATE_DROP);
	ck_assert_int_eq(q.ch[5].how, STATE_TEAR);
	/* the long form is the same state */
	ck_assert_int_eq(state_parse("c20-d3-d4-d5-d6-d8-t9:1n1z-d10-d11", &q, err, sizeof(err)), 0);
	ck_assert_int_gt(state_id(&q, id, sizeof(id)), 0);
	ck_assert_str_eq(id, "c20-d3:6-d8-t9:1n1z-d10:11");
	state_free(&p);
	state_free(&q);
}
END_TEST

static const char *const bad_ids[] = {
	"", "x12", "c", "c12-", "c12-q3", "c12-d", "c12-t3", "c12-t3:4x", "c12-t3:n",
	"c12-d3-d3", "c12 -d3", "c12;rm", "c99999999999999999999999", "c1s0", "c1s512b100",
	"c1-t2:4nS5", "c12-d5:3", "c12-d3:3", "c12-d3:5-d4", "c12-d3:", "c12-d3:x",
	"c12-d1:99999999999",
};

START_TEST(bad_ids_are_refused)
{
	struct state p = {0};
	char err[128] = "";

	ck_assert_int_eq(state_parse(bad_ids[_i], &p, err, sizeof(err)), -EINVAL);
	ck_assert_int_gt(strlen(err), 0);
	state_free(&p);
}
END_TEST

START_TEST(rle_expand_and_encode)
{
	char kinds[8], buf[32];

	ck_assert_int_eq(state_rle_expand("2n1z", kinds, 8), 0);
	ck_assert_mem_eq(kinds, "nnznnnnn", 8);
	ck_assert_int_eq(state_rle_expand("9n", kinds, 8), -EINVAL);
	ck_assert_int_gt(state_rle_encode("nnoooozg", 8, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "2n4o1z1g");
}
END_TEST

START_TEST(garbage_is_deterministic)
{
	char a[512], b[512], c[512];

	state_garbage(1, 2, 3, a, sizeof(a));
	state_garbage(1, 2, 3, b, sizeof(b));
	state_garbage(1, 2, 4, c, sizeof(c));
	ck_assert_mem_eq(a, b, sizeof(a));
	ck_assert(memcmp(a, c, sizeof(a)) != 0);
}
END_TEST

Suite *make_state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("ids");

	tcase_add_test(tc, id_round_trip);
	tcase_add_test(tc, id_with_sector_and_block);
	tcase_add_test(tc, long_ids_are_whole);
	tcase_add_test(tc, drop_ranges_round_trip);
	tcase_add_loop_test(tc, bad_ids_are_refused, 0, sizeof(bad_ids) / sizeof(bad_ids[0]));
	tcase_add_test(tc, rle_expand_and_encode);
	tcase_add_test(tc, garbage_is_deterministic);
	suite_add_tcase(s, tc);
	return s;
}
