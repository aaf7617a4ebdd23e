/*
 * explore.c - the crash-state explorer (see explore.h): the sweep over
 * crash points, building each state, deduplicating, checking.
 *
 * The sweep visits every crash point (each record that changes state, is
 * a barrier or is a mark; open/flush/release change nothing) in order
 * (--order spread: in three passes, each from the start of the trace and
 * each visiting its own points; see ex_spread).  A
 * crash at record c is a crash during op c (model.h).  At each point it
 * keeps three things current:
 *   - the IMAGE in the materializer: ops every state here shares, whole;
 *   - PENDING: the ops up to c not in the image, applied by every state
 *     in recorded order (mat_build's extra ops);
 *   - IN FLIGHT: the pending ops a state may drop or tear (the others are
 *     durable and only wait for the image to be able to take them).
 * Which states a point has is explore_choose.c's business.
 *
 * THE IMAGE RULE (explore_keys.c).  An op may enter the image once it is
 * ELIGIBLE (durable at the point, or - in prefix mode - simply before it)
 * and every earlier op it conflicts with is in the image already, so a
 * state is exactly what `faultline replay` of its id builds.
 *
 * Dedup key: the state's content key (fskey.h) combined with the number
 * of marks acknowledged at the crash point.  Two states with the same
 * bytes but different acknowledged commits are different questions for a
 * checker, so both are asked.
 *
 * Sharding: a unique state belongs to shard (key mod N) + 1.  Every shard
 * builds every state (to know which are unique) and checks its own, so
 * merging the shards' reports gives exactly the unsharded report.
 *
 * Coverage: the states generated over the states the mode would generate
 * (counted per crash point by explore_choose.c, also where --budget
 * stopped the sweep); for random:N, the distinct states drawn over every
 * legal state.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "explore_i.h"
#include "fl_error.h"
#include "fskey.h"
#include "verdicts.h"

double ex_elapsed(const struct ex *ex)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - ex->t0.tv_sec) +
	       (double)(now.tv_nsec - ex->t0.tv_nsec) / 1e9;
}

uint64_t ex_rand(uint64_t *s)
{
	/* splitmix64: small, fast, and the same on every machine */
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* ---- options ---- */

/* The --mode words, in the order --help gives them; one ending in ':' takes a number. */
static const struct {
	const char *word;
	enum explore_mode mode;
} ex_modes[] = {
	{"prefix", EXPLORE_PREFIX},   {"omit-one", EXPLORE_OMIT_ONE},
	{"bounded:", EXPLORE_BOUNDED}, {"random:", EXPLORE_RANDOM},
	{"exhaustive", EXPLORE_EXHAUSTIVE},
};

/* The --tear words and the damaged-sector kind each allows (0: new, always allowed). */
static const struct {
	const char *word;
	char kind;
} ex_tears[] = {
	{"old", 'o'}, {"new", 0}, {"zero", 'z'}, {"zeros", 'z'}, {"garbage", 'g'},
};

const char *explore_mode_word(size_t i, enum explore_mode *mode)
{
	if (i >= sizeof(ex_modes) / sizeof(ex_modes[0]))
		return NULL;
	if (mode)
		*mode = ex_modes[i].mode;
	return ex_modes[i].word;
}

const char *explore_tear_word(size_t i)
{
	return i < sizeof(ex_tears) / sizeof(ex_tears[0]) ? ex_tears[i].word : NULL;
}

int explore_parse_mode(const char *text, struct explore_opts *o)
{
	enum explore_mode mode;
	const char *w, *num;
	char *end;
	unsigned long v;
	size_t i, len;

	snprintf(o->mode_text, sizeof(o->mode_text), "%s", text);
	for (i = 0; (w = explore_mode_word(i, &mode)); i++) {
		len = strlen(w);
		if (w[len - 1] != ':' ? !strcmp(text, w) : !strncmp(text, w, len))
			break;
	}
	if (!w)
		return -EINVAL;
	if (w[len - 1] != ':') {
		o->mode = mode;
		return 0;
	}
	num = text + len;
	errno = 0;
	v = strtoul(num, &end, 10);
	if (!*num || *end || errno || v < 1 || v > 100000000)
		return -EINVAL;
	if (mode == EXPLORE_BOUNDED && v > 8)
		return -EINVAL;
	o->mode = mode;
	o->k = (unsigned)v;
	return 0;
}

int explore_parse_tear(const char *text, struct explore_opts *o)
{
	char buf[128], *tok, *save = NULL;
	size_t n = 0, i;

	snprintf(buf, sizeof(buf), "%s", text);
	memset(o->kinds, 0, sizeof(o->kinds));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; explore_tear_word(i) && strcmp(tok, explore_tear_word(i)); i++)
			;
		if (!explore_tear_word(i))
			return -EINVAL;
		if (ex_tears[i].kind && !strchr(o->kinds, ex_tears[i].kind) && n < 3)
			o->kinds[n++] = ex_tears[i].kind;
	}
	return 0;
}

/* Path of the marks file for the current crash point (written on first use). */
static int ex_marks_file(struct ex *ex, char *path, size_t cap)
{
	snprintf(path, cap, "%s/marks.%" PRIu64, ex->workdir, ex->nmarks);
	if (access(path, F_OK) == 0)
		return 0;
	return ops_write_marks(ex->t, ex->nmarks ? ex->t->v[ex->lastmark].seq : 0, path);
}

/* Frees what a slot held for its state. */
static void ex_slot_clear(struct ex_slot *sl)
{
	free(sl->why);
	free(sl->id);
	sl->why = sl->id = NULL;
	sl->busy = false;
}

/*
 * Keeps a failing state, named by its id (or "state-KEY" for an id too
 * long for a file name), and a script that rebuilds and re-checks it.
 * The state moves there, or is copied when the scratch is another file
 * system (a tmpfs scratch); the script rebuilds it if even that failed.
 */
static void ex_keep(struct ex *ex, struct ex_slot *sl)
{
	char name[256], dst[4400], script[4400];
	FILE *f;

	if (strlen(sl->id) < 200)
		snprintf(name, sizeof(name), "%s", sl->id);
	else
		snprintf(name, sizeof(name), "state-%016" PRIx64, sl->key);
	mkdir(ex->o->keep_failures, 0755);
	snprintf(dst, sizeof(dst), "%s/%s", ex->o->keep_failures, name);
	mat_remove(dst);
	if (rename(sl->dir, dst) < 0 && errno == EXDEV)
		mat_copy_tree(sl->dir, dst);
	snprintf(script, sizeof(script), "%s/%s.sh", ex->o->keep_failures, name);
	f = fopen(script, "we");
	if (!f)
		return;
	fprintf(f, "#!/bin/sh\n# Rebuilds crash state %s of %s and runs the checker on it.\n"
		   "exec faultline replay '%s' '%s'%s --into \"${1:-./%s.replayed}\" %s '%s'\n",
		sl->id, ex->o->trace, ex->o->trace, sl->id, ex->o->partial ? " --partial" : "",
		name, ex->o->check_server ? "--check-server" : "--check", ex->o->check);
	fclose(f);
	chmod(script, 0755);
}

/* Counts the verdict res on slot sl's state (a failure goes to the
 * report, and to --keep-failures); frees the slot.  0 or negative. */
static int ex_record(struct ex *ex, struct ex_slot *sl, const struct check_result *res)
{
	int rc = 0;

	ex->rep->checked++;
	if (res->passed) {
		ex->rep->passed++;
	} else {
		struct report_failure f = {
			.id = sl->id, .crash_after = sl->crash, .explanation = sl->why,
			.exit_status = res->exit_status, .signal = res->signal,
			.timed_out = res->timed_out, .output = res->output, .content_key = sl->key,
		};

		ex->rep->failed++;
		rc = report_add_failure(ex->rep, &f);
		if (ex->o->keep_failures)
			ex_keep(ex, sl);
	}
	mat_remove(sl->dir);
	ex_slot_clear(sl);
	report_progress_update(ex->prog, ex->rep->checked, ex->rep->unique, ex->rep->failed);
	return rc;
}

static int ex_finish_one(struct ex *ex)
{
	struct check_result res;
	void *token;
	int rc = check_wait(ex->run, &token, &res);
	struct ex_slot *sl = token;

	if (rc <= 0)
		return rc;
	if (ex->verdicts)
		rc = verdicts_add(ex->verdicts, sl->key, &res);
	if (rc >= 0)
		rc = ex_record(ex, sl, &res);
	check_result_free(&res);
	return rc < 0 ? rc : 1;
}

static struct ex_slot *ex_free_slot(struct ex *ex, int *err)
{
	size_t i;

	for (;;) {
		for (i = 0; i <= ex->o->jobs; i++)
			if (!ex->slots[i].busy)
				return &ex->slots[i];
		if (!ex->run) { /* no checker: slots are never busy */
			*err = -EIO;
			return NULL;
		}
		if ((*err = ex_finish_one(ex)) < 0)
			return NULL;
	}
}

static int key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* 1 if key is in the set *tree already, else 0 and remembers it; or -ENOMEM. */
static int ex_seen(void **tree, uint64_t key)
{
	uint64_t *k = malloc(sizeof(*k));
	void **p;

	if (!k)
		return -ENOMEM;
	*k = key;
	p = tsearch(k, tree, key_cmp);
	if (!p) {
		free(k);
		return -ENOMEM;
	}
	if (*p != k) {
		free(k);
		return 1;
	}
	return 0;
}

/* True when key was seen (without adding it). */
static bool ex_known(void *tree, uint64_t key)
{
	return tfind(&key, &tree, key_cmp) != NULL;
}

/* One line of --list-states, and the caller's hook. */
static void ex_tell(struct ex *ex, const struct state *s, const char *id, const char *dir,
		    uint64_t content, uint64_t key, const char *status)
{
	if (ex->list)
		fprintf(ex->list, "%s\t%016" PRIx64 "\t%" PRIu64 "\t%s\n", id, key, ex->nmarks,
			status);
	if (ex->o->on_state) {
		struct explore_state st = {.id = id, .crash = s->crash, .content = content,
					   .key = key, .nmarks = ex->nmarks, .dir = dir,
					   .status = status};

		ex->o->on_state(ex->o->on_state_arg, &st);
	}
}

/* Counts a random draw once per distinct state. */
static int ex_count_draw(struct ex *ex, const char *id)
{
	int rc = ex_seen(&ex->drawn, XXH3_64bits(id, strlen(id)));

	if (rc == 0)
		ex->ndrawn++;
	return rc < 0 ? rc : 0;
}

/*
 * Builds state s (crash point op index x): the image plus the pending
 * ops, as s chooses; then checks it unless it is a duplicate or another
 * shard's.
 */
int ex_try(struct ex *ex, const struct state *s, size_t x)
{
	char err[512], marks[4200], *id;
	const struct check_result *cached;
	const char *status;
	struct ex_slot *sl;
	uint64_t content, key, mkey;
	bool keyed;
	int rc;

	if (ex->o->stop && *ex->o->stop)
		return -EINTR;
	if (ex->o->budget > 0 && ex_elapsed(ex) > ex->o->budget)
		ex->out_of_time = true;
	if (ex->out_of_time)
		return 0;
	ex->rep->generated++;
	if (!(id = state_id_new(s)))
		return -ENOMEM;
	if (ex->o->mode == EXPLORE_RANDOM && (rc = ex_count_draw(ex, id)) < 0)
		goto out;
	/* The key first, in memory: a duplicate is never built (a state that
	 * cannot be keyed in memory, too large or no memory, is built). */
	keyed = mat_key(ex->mat, s, ex->pending, ex->npend, &mkey, err, sizeof(err)) == 0;
	ex->keyed += keyed;
	if (keyed && !ex->o->build_every && ex_known(ex->seen, fskey_state(mkey, ex->nmarks))) {
		ex_tell(ex, s, id, NULL, mkey, fskey_state(mkey, ex->nmarks), "duplicate");
		rc = 0;
		goto out;
	}
	if (!(sl = ex_free_slot(ex, &rc)))
		goto out;
	rc = mat_build(ex->mat, s, ex->pending, ex->npend, sl->dir, &content, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "faultline: explore: %s\n", err);
	else if (keyed && content != mkey) {
		fprintf(stderr, "faultline: explore: internal error: state %s keys as %016" PRIx64
			" in memory and %016" PRIx64 " on disk\n", id, mkey, content);
		rc = -EPROTO;
	}
	key = fskey_state(content, ex->nmarks);
	if (rc < 0 || (rc = ex_seen(&ex->seen, key)) < 0)
		goto out_remove;
	if (rc == 0)
		ex->rep->unique++;
	status = rc ? "duplicate"
		 : ex->o->shard_n && key % ex->o->shard_n != ex->o->shard_k - 1 ? "shard"
		 : ex->o->check ? "checked" : "unique";
	ex_tell(ex, s, id, sl->dir, content, key, status);
	rc = 0;
	if (strcmp(status, "checked"))
		goto out_remove;
	sl->id = id;
	id = NULL;
	sl->crash = s->crash;
	sl->key = key;
	sl->why = ex_explain_at(ex, s, x, ex->nmarks, ex->lastmark);
	if ((cached = verdicts_find(ex->verdicts, key))) { /* checked in another run */
		verdicts_reused(ex->verdicts);
		return ex_record(ex, sl, cached);
	}
	while (check_running(ex->run) >= ex->o->jobs && (rc = ex_finish_one(ex)) > 0)
		;
	if (rc < 0 || (rc = ex_marks_file(ex, marks, sizeof(marks))) < 0 ||
	    (rc = check_start(ex->run, sl->dir, sl->id, marks, sl)) < 0) {
		ex_slot_clear(sl);
		goto out_remove;
	}
	sl->busy = true;
	return 0;
out_remove:
	mat_remove(sl->dir);
out:
	free(id);
	return rc;
}

/* ---- the sweep ---- */

static bool ex_prefix_mode(const struct ex *ex)
{
	return ex->o->mode == EXPLORE_PREFIX;
}

/* Drops admitted ops from pending and recomputes the in-flight ops at crash point x. */
static void ex_refresh(struct ex *ex, size_t x)
{
	uint64_t crash = ex->t->v[x].seq;
	size_t i, n = 0;

	ex->ninf = 0;
	for (i = 0; i < ex->npend; i++) {
		size_t idx = ex->pending[i];

		if (ex->k.admitted[idx])
			continue;
		ex->pending[n++] = idx;
		if (ex_prefix_mode(ex) ? idx == x : model_in_flight(ex->plan, idx, crash))
			ex->inflight[ex->ninf++] = idx;
	}
	ex->npend = n;
}

/* Moves the sweep to crash point x: names, marks, pending, image, in flight. */
static int ex_advance(struct ex *ex, size_t from, size_t x)
{
	uint64_t crash = ex->t->v[x].seq;
	size_t i;
	int rc = 0;

	for (i = from; i <= x; i++) {
		const struct ops_op *op = &ex->t->v[i];

		ops_names_apply(ex->names, ex->t, op);
		if (op->kind == OPS_MARK) {
			ex->nmarks++;
			ex->lastmark = i;
		}
		if (ops_changes_state(op))
			ex->pending[ex->npend++] = i;
	}
	if (ex_prefix_mode(ex)) {
		for (; !rc && ex->prefnext < x; ex->prefnext++)
			if (ops_changes_state(&ex->t->v[ex->prefnext]))
				rc = ex_keys_admit(&ex->k, ex->out_of_time ? NULL : ex->mat, ex->prefnext);
	} else {
		for (; !rc && ex->durnext < ex->ndur &&
		       ex->plan->durable_at[ex->bydur[ex->durnext]] < crash; ex->durnext++)
			rc = ex_keys_admit(&ex->k, ex->out_of_time ? NULL : ex->mat,
					   ex->bydur[ex->durnext]);
	}
	ex_refresh(ex, x);
	return rc;
}

static const struct model_plan *sort_plan; /* for bydur_cmp only */

static int bydur_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	uint64_t dx = sort_plan->durable_at[x], dy = sort_plan->durable_at[y];

	if (dx != dy)
		return dx < dy ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* State-changing ops that ever become durable, by (durable_at, index). */
static int ex_sort_durable(struct ex *ex)
{
	size_t i;

	ex->bydur = malloc((ex->t->n + 1) * sizeof(*ex->bydur));
	if (!ex->bydur)
		return -ENOMEM;
	for (i = 0; i < ex->t->n; i++)
		if (ops_changes_state(&ex->t->v[i]) && ex->plan->durable_at[i] != MODEL_NEVER)
			ex->bydur[ex->ndur++] = i;
	sort_plan = ex->plan;
	qsort(ex->bydur, ex->ndur, sizeof(*ex->bydur), bydur_cmp);
	return 0;
}

struct ex_draw {
	size_t cp;     /* crash point number */
	uint64_t seed; /* for the state's choices */
};

static int draw_cmp(const void *a, const void *b)
{
	const struct ex_draw *x = a, *y = b;

	return x->cp < y->cp ? -1 : x->cp > y->cp;
}

/* random:N: which crash point each draw falls on, sorted; NULL without memory. */
static struct ex_draw *ex_draws(const struct ex *ex, size_t ncp)
{
	struct ex_draw *d = malloc((ex->o->k + 1) * sizeof(*d));
	uint64_t rng = ex->o->seed;
	size_t i;

	for (i = 0; d && i < ex->o->k; i++) {
		d[i].cp = (size_t)(ex_rand(&rng) % ncp);
		d[i].seed = ex_rand(&rng);
	}
	if (d)
		qsort(d, ex->o->k, sizeof(*d), draw_cmp);
	return d;
}

/*
 * --max-causes, after each crash point: lets its checkers finish (so where
 * the sweep stops does not depend on checker timing) and gives the new
 * failures their causes; true when enough causes are confirmed.
 */
static bool ex_enough_causes(struct ex *ex)
{
	if (ex->o->stop && *ex->o->stop)
		return false; /* the next ex_try returns -EINTR */
	while (ex->run && check_running(ex->run) > 0 && ex_finish_one(ex) > 0)
		;
	if (ex->rep->nfailures == ex->causes_seen)
		return false;
	ex->causes_seen = ex->rep->nfailures;
	return ex_causes_add(ex) >= ex->o->max_causes;
}

/*
 * Runs the sweep over the crash points cps[0..ncp) whose pass_of[] is
 * pass (every one when pass_of is NULL): at each, counts the states the
 * mode has there (for coverage), then generates them; once --budget runs
 * out or --max-causes is met it only counts.  The points it skips are
 * passed over (their ops still reach the image, names and marks).
 */
static int ex_sweep(struct ex *ex, const size_t *cps, size_t ncp, const uint8_t *pass_of,
		    uint8_t pass)
{
	struct ex_draw *draws = NULL;
	uint64_t *seeds = NULL;
	size_t i, d = 0, nd = ex->o->mode == EXPLORE_RANDOM ? ex->o->k : 0, prev = 0;
	int rc = 0;

	if (nd && ncp && (!(draws = ex_draws(ex, ncp)) || !(seeds = malloc(nd * sizeof(*seeds)))))
		rc = -ENOMEM;
	for (i = 0; !rc && i < ncp; i++) {
		size_t n = 0;

		if (pass_of && pass_of[i] != pass)
			continue;
		if ((rc = ex_advance(ex, prev, cps[i])) < 0)
			break;
		prev = cps[i] + 1;
		ex->total += ex_count(ex, cps[i]);
		for (; d < nd && draws[d].cp == i; d++)
			seeds[n++] = draws[d].seed;
		if (ex->out_of_time || (nd && !n))
			continue;
		rc = ex_crash_point(ex, cps[i], seeds, n);
		if (!rc && ex->o->max_causes && ex_enough_causes(ex))
			ex->out_of_time = ex->enough_causes = true; /* from here on, only count */
	}
	free(draws);
	free(seeds);
	return rc;
}

/* Takes the sweep back to the start of the trace, for another pass: the
 * image to the base (unless it is no longer kept), no names, marks or
 * pending ops.  What was generated, seen and checked stays. */
static int ex_restart(struct ex *ex, char *err, size_t errlen)
{
	int rc;

	ex_keys_free(&ex->k);
	names_free(ex->names);
	ex->names = ex_names_base(ex->t);
	if ((rc = ex_keys_new(&ex->k, ex->t)) < 0 || !ex->names)
		return rc < 0 ? rc : -ENOMEM;
	ex->nmarks = ex->lastmark = 0;
	ex->npend = ex->ninf = ex->durnext = ex->prefnext = 0;
	return ex->out_of_time ? 0 : mat_image_reset(ex->mat, err, errlen);
}

#define EX_SPREAD_1 16u  /* crash points of the first spread pass */
#define EX_SPREAD_2 256u /* ... of the first two */

/* Marks pass p on n crash points of ncp evenly spread (each the last of
 * its stretch of the trace), where no earlier pass has one. */
static void ex_spread_pass(uint8_t *pass_of, size_t ncp, size_t n, uint8_t p)
{
	size_t j, at;

	for (j = 0; j < n; j++) {
		at = (size_t)(((uint64_t)(j + 1) * ncp + n - 1) / n);
		if (at && pass_of[at - 1] > p)
			pass_of[at - 1] = p;
	}
}

/*
 * --order spread: which pass visits each of the ncp crash points: 0 for
 * EX_SPREAD_1 of them evenly spread, 1 for EX_SPREAD_2 likewise less
 * those, 2 for the rest.  Each point is visited, and counted, exactly
 * once.  NULL without memory.
 */
static uint8_t *ex_spread(const struct explore_opts *o, size_t ncp)
{
	uint8_t *pass_of = malloc(ncp ? ncp : 1);

	if (!pass_of)
		return NULL;
	memset(pass_of, 2, ncp);
	ex_spread_pass(pass_of, ncp, o->spread[0] ? o->spread[0] : EX_SPREAD_1, 0);
	ex_spread_pass(pass_of, ncp, o->spread[1] ? o->spread[1] : EX_SPREAD_2, 1);
	return pass_of;
}

/* Visits the crash points in the order --order asks. */
static int ex_visit(struct ex *ex, const size_t *cps, size_t ncp, char *err, size_t errlen)
{
	uint8_t *pass_of, pass;
	int rc = 0;

	if (!ex->spread)
		return ex_sweep(ex, cps, ncp, NULL, 0);
	if (!(pass_of = ex_spread(ex->o, ncp)))
		return -ENOMEM;
	for (pass = 0; !rc && pass < 3; pass++) {
		if (!memchr(pass_of, pass, ncp))
			continue;
		if (pass && (rc = ex_restart(ex, err, errlen)) < 0)
			break;
		rc = ex_sweep(ex, cps, ncp, pass_of, pass);
	}
	free(pass_of);
	return rc;
}

/* ---- setup and teardown ---- */

struct names *ex_names_base(const struct ops_trace *t)
{
	struct names *n = names_new();
	size_t i;

	for (i = 0; n && i < t->nbase; i++)
		ops_names_apply(n, t, &t->base[i]);
	return n;
}

static int ex_open_list(struct ex *ex, char *err, size_t errlen)
{
	if (!ex->o->list_states)
		return 0;
	ex->list = strcmp(ex->o->list_states, "-") ? fopen(ex->o->list_states, "we") : stdout;
	if (!ex->list) {
		snprintf(err, errlen, "cannot write %s: %s", ex->o->list_states, strerror(errno));
		return -errno;
	}
	fprintf(ex->list, "# faultline states: id, key (content and marks), marks, status\n");
	return 0;
}

static int ex_open(struct ex *ex, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	size_t i, n;
	int rc;

	if ((rc = ops_load(ex->o->trace, ex->o->partial ? OPS_LOAD_PARTIAL : 0,
			   &ex->t, err, errlen)) < 0)
		return rc == -ENOMEM ? rc : -FL_EBADTRACE;
	n = ex->t->n + 1;
	ex->geom = (struct tear_geom){.sector = ex->o->sector, .block = ex->o->block,
				      .atomic = ex->o->atomic};
	memcpy(ex->geom.kinds, ex->o->kinds, sizeof(ex->geom.kinds) - 1);
	if ((rc = model_plan_new(ex->o->model, ex->t, &ex->plan)) < 0 ||
	    (rc = ex_sort_durable(ex)) < 0 || (rc = ex_keys_new(&ex->k, ex->t)) < 0 ||
	    !(ex->names = ex_names_base(ex->t)) || !(ex->pending = malloc(n * sizeof(size_t))) ||
	    !(ex->inflight = malloc(n * sizeof(size_t))) ||
	    !(ex->fam = calloc(n, sizeof(*ex->fam))) || !(ex->fam_done = calloc(n, 1)))
		return rc < 0 ? rc : -ENOMEM;
	if ((rc = ex_open_list(ex, err, errlen)) < 0)
		return rc;
	if (ex->o->workdir)
		snprintf(ex->workdir, sizeof(ex->workdir), "%s", ex->o->workdir);
	else
		snprintf(ex->workdir, sizeof(ex->workdir), "%s/faultline-explore.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
	if (!ex->o->workdir && !mkdtemp(ex->workdir)) {
		snprintf(err, errlen, "cannot make a work directory: %s", strerror(errno));
		ex->workdir[0] = 0;
		return -errno;
	}
	if ((rc = mat_new_budget(ex->t, ex->workdir, ex->o->scratch,
				 ex->o->mem_budget ? ex->o->mem_budget : MAT_MEM_BUDGET_DEFAULT,
				 &ex->mat, err, errlen)) < 0)
		return rc; /* -FL_EBADTRACE for a hostile base: exit 2 */
	ex->slots = calloc(ex->o->jobs + 1, sizeof(*ex->slots));
	if (!ex->slots)
		return -ENOMEM;
	for (i = 0; i <= ex->o->jobs; i++)
		snprintf(ex->slots[i].dir, sizeof(ex->slots[i].dir), "%s/s%zu",
			 mat_root(ex->mat), i);
	if (!ex->o->check)
		return 0;
	rc = (ex->o->check_server ? check_runner_new_server : check_runner_new)(
	    ex->o->check, ex->o->jobs, ex->o->timeout, EX_OUTPUT_MAX, &ex->run);
	if (rc < 0)
		snprintf(err, errlen, "cannot start the checker runner: %s", strerror(-rc));
	return rc;
}

static void ex_close(struct ex *ex)
{
	size_t i;

	ex_causes_free(ex);
	verdicts_free(ex->own_verdicts);
	check_runner_free(ex->run);
	for (i = 0; ex->slots && i <= ex->o->jobs; i++)
		ex_slot_clear(&ex->slots[i]);
	free(ex->slots);
	mat_free(ex->mat);
	if (ex->workdir[0] && !ex->o->workdir)
		mat_remove(ex->workdir);
	report_progress_end(ex->prog);
	if (ex->list && ex->list != stdout)
		fclose(ex->list);
	else if (ex->list)
		fflush(ex->list);
	names_free(ex->names);
	tdestroy(ex->seen, free);
	tdestroy(ex->drawn, free);
	ex_choose_free(ex);
	ex_keys_free(&ex->k);
	free(ex->pending);
	free(ex->inflight);
	free(ex->bydur);
	model_plan_free(ex->plan);
	ops_free(ex->t);
}

/* What ops_load found of the trace (nothing when it refused it). */
static void ex_fill_trace_status(struct ex *ex)
{
	struct report_trace_status *ts = &ex->rep->tstatus;

	if (!ex->t)
		return;
	ts->known = true;
	ts->partial = ex->t->partial;
	ts->records_valid = ex->t->records_valid;
	ts->reason = ex->t->partial ? strdup(ex->t->partial_reason) : NULL;
}

static void ex_fill_report(struct ex *ex)
{
	struct report *r = ex->rep;
	double got = ex->o->mode == EXPLORE_RANDOM ? (double)ex->ndrawn : (double)r->generated;
	char note[512] = "";

	r->trace = strdup(ex->o->trace);
	r->model = strdup(ex->o->model->name);
	r->mode = strdup(ex->o->mode_text);
	if (ex->mat && ex->keyed) {
		char mech[256];

		if (ex->keyed >= r->generated)
			snprintf(mech, sizeof(mech), "%s, keys in memory", mat_mechanism(ex->mat));
		else
			snprintf(mech, sizeof(mech), "%s, keys in memory for %" PRIu64 " of %" PRIu64
				 " states", mat_mechanism(ex->mat), ex->keyed, r->generated);
		r->mechanism = strdup(mech);
	} else
		r->mechanism = strdup(ex->mat ? mat_mechanism(ex->mat) : "none");
	r->shard_k = ex->o->shard_k;
	r->shard_n = ex->o->shard_n;
	r->coverage = ex->total > 0 ? (got < ex->total ? got / ex->total : 1.0) : 1.0;
	r->elapsed_s = ex_elapsed(ex);
	if (ex->fallbacks)
		snprintf(note, sizeof(note), "exhaustive: %zu crash points had more than %u ops "
			 "in flight or %d states (up to %" PRIu64 " ops); those fell back to bounded:2",
			 ex->fallbacks, ex->o->window, EX_EXHAUSTIVE_MAX, ex->fallback_max);
	if (ex->spread)
		snprintf(note + strlen(note), sizeof(note) - strlen(note),
			 "%scrash points in --order spread (%u, then %u spread over the trace, "
			 "then the rest)", note[0] ? "; " : "", EX_SPREAD_1, EX_SPREAD_2);
	if (ex->enough_causes)
		snprintf(note + strlen(note), sizeof(note) - strlen(note),
			 "%s--max-causes %u: stopped once %u cause%s found, after %" PRIu64
			 " of %.0f states", note[0] ? "; " : "", ex->o->max_causes,
			 ex->o->max_causes, ex->o->max_causes == 1 ? " was" : "s were",
			 r->generated, ex->total);
	else if (ex->out_of_time)
		snprintf(note + strlen(note), sizeof(note) - strlen(note),
			 "%s--budget %.0f s ran out after %" PRIu64 " of %.0f states",
			 note[0] ? "; " : "", ex->o->budget, r->generated, ex->total);
	if (r->causes_search.cut)
		snprintf(note + strlen(note), sizeof(note) - strlen(note),
			 "%scause search: %s after %" PRIu64 " checker runs; failures past it "
			 "keep an unminimized or matched cause", note[0] ? "; " : "",
			 r->causes_search.cut == REPORT_CUT_BUDGET ? "--budget ran out"
			 : "stopped at its cap", r->causes_search.runs);
	r->note = note[0] ? strdup(note) : NULL;
	ex_fill_trace_status(ex);
	report_sort(r);
}

int explore_run(const struct explore_opts *o, struct report *rep, char *err,
		size_t errlen)
{
	struct ex ex = {.o = o, .rep = rep};
	size_t *cps = NULL, ncp = 0, i;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &ex.t0);
	err[0] = 0;
	ex.verdicts = o->verdicts;
	ex.spread = o->mode != EXPLORE_RANDOM &&
		    (o->order == EXPLORE_ORDER_SPREAD ||
		     (o->order == EXPLORE_ORDER_AUTO && o->max_causes));
	rc = ex_open(&ex, err, errlen);
	if (!rc && !ex.verdicts && o->check && !(ex.verdicts = ex.own_verdicts = verdicts_new()))
		rc = -ENOMEM;
	if (!rc && !(cps = malloc((ex.t->n + 1) * sizeof(*cps))))
		rc = -ENOMEM;
	for (i = 0; !rc && i < ex.t->n; i++)
		if (ex.t->v[i].kind != OPS_NONE)
			cps[ncp++] = i;
	if (!rc) {
		ex.prog = o->progress && o->check ? report_progress_new(stderr) : NULL;
		rc = ex_visit(&ex, cps, ncp, err, errlen);
	}
	while (!rc && ex.run && check_running(ex.run) > 0) {
		int one = ex_finish_one(&ex);

		if (one <= 0) {
			rc = one;
			break;
		}
	}
	if (!rc && o->stop && *o->stop)
		rc = -EINTR;
	if (!rc && ex.run)
		ex_causes(&ex);
	if (!rc && o->stop && *o->stop)
		rc = -EINTR; /* during the cause search: its verdicts are not whole */
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "%s", strerror(-rc));
	ex_fill_report(&ex);
	free(cps);
	ex_close(&ex);
	return rc;
}
