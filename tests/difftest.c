/*
 * difftest.c - the explorer proven against the reference enumerator,
 * state set by state set.
 *
 *   difftest [--quiet] [--no-replay] [--replay-every N] [--max N] [--fold-points N] TRACE...
 *
 * For each trace, each model (strict, ext4-ordered, posix) and each mode
 * (prefix, omit-one, bounded:2, bounded:3, exhaustive, random:40), it runs
 * the explorer without a checker and asserts:
 *   1. the states it generates are exactly the reference enumerator's
 *      states of that mode's cost bound (random: a subset of them), id for
 *      id, with the same key (content and acknowledged marks);
 *   2. every state it builds in exhaustive and random modes (the others'
 *      are among them, id for id, key for key) has on disk the key it was
 *      given (fskey_dir on the built directory);
 *   3. `faultline replay` of every (--replay-every N: every Nth) exhaustive
 *      posix state's id (a fresh
 *      image, every op in recorded order) builds the same tree, metadata
 *      included (posix's states include the other models': an id names
 *      the same state under every model);
 *   4. prefix ⊆ omit-one ⊆ bounded:2 ⊆ bounded:3 ⊆ exhaustive, and
 *      strict ⊆ ext4-ordered ⊆ posix for every mode;
 *   5. the state `faultline crash` would leave (crash_choose) at every crash
 *      point, for every --how and three seeds, is a reference state, and
 *      the same seed draws the same state;
 *   6. folding the trace's settled history into a new base (fold.h) at
 *      --fold-points N points spread over it (default 5; 0: every op)
 *      leaves every later crash point exactly the reference states it had
 *      (keys compared with tears of old bytes and zeros: garbage is drawn
 *      from ids, which folding renumbers).
 * Runs alternate between --order sweep and --order spread (random:N is
 * always a sweep), so both visiting orders are held to the same sets;
 * spread with passes of 2 and 5 crash points, so that short traces go
 * through all three of its passes.
 * A crash point where exhaustive fell back to bounded:2 is compared with
 * the reference's cost <= 2 states and counted.  A model whose reference
 * set has more than --max states (default 20000) is left out for that
 * trace, and counted as too big.  Each violation is one
 * line on stdout; the exit status is 0 with none, 1 with some, 2 when a
 * trace could not be explored at all.  The last line is a summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"
#include "explore.h"
#include "fold.h"
#include "fskey.h"
#include "mat.h"
#include "model.h"
#include "ops.h"
#include "reference.h"
#include "report.h"
#include "state.h"
#include "trace_meta.h"

#include <json-c/json.h>

#define NMODES 6
static unsigned long ref_max = 20000; /* --max: reference states per trace and model */
static unsigned long replay_every = 1; /* --replay-every */
static unsigned long fold_pts = 5;     /* --fold-points: per trace and model, 0 every one */

static const char *const mode_names[NMODES] = {
	"prefix", "omit-one", "bounded:2", "bounded:3", "exhaustive", "random:40",
};

/* One state of a set: its id, key and (for the reference) cost. */
struct st {
	char *id;
	uint64_t key;
	uint64_t crash;
	unsigned cost;
	bool prefix;
};

struct set {
	struct st *v;
	size_t n, cap;
	void *index; /* tsearch by id */
};

struct run {
	const char *trace;
	const char *model;
	const char *mode;
	struct set *out;        /* where the explorer's states go */
	unsigned long *violations;
	bool quiet;
	bool spread;            /* this run visits in --order spread */
	unsigned long nruns;    /* explore_into calls so far (they alternate orders) */
};

static int st_cmp(const void *a, const void *b)
{
	return strcmp(((const struct st *)a)->id, ((const struct st *)b)->id);
}

static const struct st *set_find(const struct set *s, const char *id)
{
	struct st k = {.id = (char *)id};
	void *p = tfind(&k, &s->index, st_cmp);

	return p ? *(struct st **)p : NULL;
}

/* Adds a state (the id is copied); a second one with the same id is ignored. */
static void set_add(struct set *s, const char *id, uint64_t key, uint64_t crash,
		    unsigned cost, bool prefix)
{
	struct st *e;

	if (s->n == s->cap) { /* the index points into v: rebuild it after growing */
		size_t i;

		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
		tdestroy(s->index, free);
		s->index = NULL;
		for (i = 0; i < s->n; i++) {
			struct st *k = malloc(sizeof(*k));

			*k = s->v[i];
			tsearch(k, &s->index, st_cmp);
		}
	}
	if (set_find(s, id))
		return;
	e = &s->v[s->n++];
	*e = (struct st){.id = strdup(id), .key = key, .crash = crash, .cost = cost,
			 .prefix = prefix};
	{
		struct st *k = malloc(sizeof(*k));

		*k = *e;
		tsearch(k, &s->index, st_cmp);
	}
}

static void set_free(struct set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].id);
	free(s->v);
	tdestroy(s->index, free);
	memset(s, 0, sizeof(*s));
}

static void violation(const struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void violation(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	(*r->violations)++;
	if (r->quiet && *r->violations > 20)
		return;
	printf("VIOLATION %s %s %s%s: ", r->trace, r->model, r->mode,
	       r->spread ? " (--order spread)" : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* ---- the explorer's side ---- */

static void on_state(void *arg, const struct explore_state *st)
{
	struct run *r = arg;
	char err[256];
	uint64_t disk;

	if (strcmp(r->mode, "exhaustive") && strncmp(r->mode, "random", 6))
		; /* a subset of exhaustive's states: compared by key below */
	else if (fskey_dir(st->dir, &disk, err, sizeof(err)) < 0)
		violation(r, "%s: cannot key the built state: %s", st->id, err);
	else if (disk != st->content)
		violation(r, "%s: built state differs from its key (disk %016" PRIx64
			  ", key %016" PRIx64 ")", st->id, disk, st->content);
	if (set_find(r->out, st->id) && strncmp(r->mode, "random", 6))
		violation(r, "%s generated twice", st->id); /* random draws may repeat */
	set_add(r->out, st->id, st->key, st->crash, 0, false);
}

/* Explores trace under model/mode; the states go to out.  0, or -1 if it could not run. */
static int explore_into(struct run *r, const struct model *m, const char *mode,
			struct set *out, bool *fell_back, const char *workdir)
{
	struct explore_opts o = {
		.trace = r->trace, .model = m, .sector = STATE_SECTOR_DEFAULT, .kinds = "ozg",
		.jobs = 1, .timeout = 10, .window = 8, .seed = 7, .workdir = workdir,
		.scratch = MAT_SCRATCH_DIR, .on_state = on_state, .on_state_arg = r,
		.build_every = true,
	};
	struct report rep = {0};
	char err[512];
	int rc;

	explore_parse_mode(mode, &o);
	r->spread = r->nruns++ % 2 && o.mode != EXPLORE_RANDOM;
	o.order = r->spread ? EXPLORE_ORDER_SPREAD : EXPLORE_ORDER_SWEEP;
	o.spread[0] = 2;
	o.spread[1] = 5;
	r->out = out;
	r->mode = mode;
	rc = explore_run(&o, &rep, err, sizeof(err));
	*fell_back = rep.note && strstr(rep.note, "fell back");
	if (rc < 0)
		printf("ERROR %s %s %s: %s\n", r->trace, m->name, mode, err);
	else if (rep.coverage != 1.0 && o.mode != EXPLORE_RANDOM)
		violation(r, "coverage %.6f after a complete run: the mode's count "
			  "disagrees with what it generated (%" PRIu64 ")", rep.coverage,
			  rep.generated);
	report_free(&rep);
	mat_remove(workdir);
	return rc < 0 ? -1 : 0;
}

/* ---- the reference's side ---- */

static int on_ref(void *arg, const struct ref_state *s)
{
	struct set *out = arg;

	set_add(out, s->id, s->key, s->crash, s->cost, s->prefix);
	return out->n > ref_max ? -E2BIG : 0;
}

/* The reference states of every crash point.  0, or -E2BIG when too many. */
static int reference_all(struct ref *ref, const struct ops_trace *t, const struct model *m,
			 struct set *out)
{
	struct tear_geom g = {.sector = STATE_SECTOR_DEFAULT, .kinds = "ozg"};
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < t->n; i++)
		if (t->v[i].kind != OPS_NONE)
			rc = ref_states(ref, m, &g, t->v[i].seq, ref_max, on_ref, out);
	return rc;
}

/* Is reference state s in mode k's set (k indexes mode_names)? */
static bool in_mode(const struct st *s, int k)
{
	static const unsigned bound[NMODES] = {1, 1, 2, 3, UINT32_MAX, UINT32_MAX};

	return k == 0 ? s->prefix : s->cost <= bound[k];
}

/* ---- comparisons ---- */

/* Every state of a is in b with the same key; what is not, is a violation named what. */
static void subset(struct run *r, const struct set *a, const struct set *b, const char *what)
{
	size_t i;

	for (i = 0; i < a->n; i++) {
		const struct st *o = set_find(b, a->v[i].id);

		if (!o)
			violation(r, "%s: %s", what, a->v[i].id);
		else if (o->key != a->v[i].key)
			violation(r, "%s: %s has key %016" PRIx64 " here, %016" PRIx64 " there",
				  what, a->v[i].id, a->v[i].key, o->key);
	}
}

/* The explorer's states of mode k against the reference (fell_back: exhaustive used bounded:2). */
static void against_reference(struct run *r, const struct set *ex, const struct set *ref,
			      int k, bool fell_back)
{
	struct set want = {0};
	size_t i;

	subset(r, ex, ref, "generated a state that is not legal");
	if (k == NMODES - 1) /* random: a subset is all it promises */
		return;
	for (i = 0; i < ref->n; i++)
		if (in_mode(&ref->v[i], k) && !(fell_back && ref->v[i].cost > 2))
			set_add(&want, ref->v[i].id, ref->v[i].key, ref->v[i].crash, 0, false);
	subset(r, &want, ex, "missed a legal state");
	set_free(&want);
}

/* Replays every (replay_every-th) state of s from a fresh image and keys the result. */
static void replay_all(struct run *r, const struct ops_trace *t, const struct set *s,
		       const char *workdir)
{
	char dir[4200], err[512];
	struct mat *m;
	size_t i;

	if (mat_new(t, workdir, MAT_SCRATCH_DIR, &m, err, sizeof(err)) < 0) {
		printf("ERROR %s: replay: %s\n", r->trace, err);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/replayed", workdir);
	for (i = 0; i < s->n; i += replay_every) {
		struct state st = {0};
		uint64_t key, disk;
		size_t last;

		if (state_parse(s->v[i].id, &st, err, sizeof(err)) < 0) {
			violation(r, "%s: does not parse: %s", s->v[i].id, err);
			continue;
		}
		if (mat_build_all(m, &st, dir, &key, err, sizeof(err)) < 0 ||
		    fskey_dir(dir, &disk, err, sizeof(err)) < 0)
			violation(r, "%s: replay fails: %s", s->v[i].id, err);
		else if (fskey_state(key, ops_marks_before(t, st.crash, &last)) != s->v[i].key ||
			 disk != key)
			violation(r, "%s: replay builds another state", s->v[i].id);
		mat_remove(dir);
		state_free(&st);
	}
	mat_free(m);
	mat_remove(workdir);
}

/* ---- one trace ---- */

struct totals {
	unsigned long traces, states, ref_states, fallbacks, too_big, violations;
	unsigned long crash_draws; /* crash_choose states compared */
	unsigned long fold_points; /* folded traces compared */
	unsigned long folded;      /* ops those folds folded into a base */
};

/* Point 5: every crash_choose state at every crash point is a reference state. */
static void crash_draws(struct run *r, const struct ops_trace *t, const struct model *m,
			const struct set *ref, struct totals *tot)
{
	static const enum crash_how hows[] = {CRASH_LOSE_UNSYNCED, CRASH_MODEL, CRASH_TORN};
	struct state s = {0}, again = {0};
	char *id, *id2;
	uint64_t seed;
	size_t i, h;

	r->mode = "faultline crash";
	for (i = 0; i < t->n; i++) {
		if (t->v[i].kind == OPS_NONE)
			continue;
		for (h = 0; h < 3; h++)
			for (seed = 1; seed <= 3; seed++) {
				if (crash_choose(t, m, i, hows[h], seed, &s) < 0 ||
				    crash_choose(t, m, i, hows[h], seed, &again) < 0)
					abort();
				id = state_id_new(&s);
				id2 = state_id_new(&again);
				if (!id || !id2)
					abort();
				tot->crash_draws++;
				if (!set_find(ref, id))
					violation(r, "--how %s seed %" PRIu64 " at %" PRIu64
						  ": %s is not a reference state", crash_how_name(hows[h]),
						  seed, t->v[i].seq, id);
				if (strcmp(id, id2))
					violation(r, "--how %s seed %" PRIu64 ": drew %s, then %s",
						  crash_how_name(hows[h]), seed, id, id2);
				free(id);
				free(id2);
			}
	}
	state_free(&s);
	state_free(&again);
}

/* ---- point 6: folding keeps every later crash point's states ---- */

struct keys {
	uint64_t *v;
	size_t n, cap;
};

static int on_key(void *arg, const struct ref_state *s)
{
	struct keys *k = arg;

	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 64;
		if (!(k->v = realloc(k->v, k->cap * sizeof(*k->v))))
			abort();
	}
	k->v[k->n++] = s->key;
	return k->n > ref_max ? -E2BIG : 0;
}

/*
 * The distinct keys of the reference states at crash, sorted, into k.
 * 0, or -E2BIG (too many to compare).  Tears leave old bytes or zeros
 * here, not garbage: garbage bytes are drawn from the state's id, and
 * folding renumbers the ops an id names.
 */
static int keys_at(struct ref *ref, const struct model *m, uint64_t crash, struct keys *k)
{
	struct tear_geom g = {.sector = STATE_SECTOR_DEFAULT, .kinds = "oz"};
	size_t i, n = 0;
	int rc;

	k->n = 0;
	if ((rc = ref_states(ref, m, &g, crash, ref_max, on_key, k)) < 0)
		return rc;
	if (k->n)
		qsort(k->v, k->n, sizeof(*k->v), ops_u64_cmp);
	for (i = 0; i < k->n; i++)
		if (!n || k->v[n - 1] != k->v[i])
			k->v[n++] = k->v[i];
	k->n = n;
	return 0;
}

/* meta.json of a folded trace: complete, sealed, t's start. */
static int fold_meta(const char *dir, const struct ops_trace *t)
{
	json_object *m = trace_meta_new("complete");
	char path[4400];
	int rc;

	json_object_object_add(m, "start_ns", json_object_new_int64(t->start_ns));
	rc = trace_meta_seal(dir, m, NULL, NULL, 0);
	snprintf(path, sizeof(path), "%s/%s", dir, TRACE_META_FILE);
	if (rc == 0 && json_object_to_file(path, m) < 0)
		rc = -EIO;
	json_object_put(m);
	return rc;
}

/* Every crash point of t from upto on against the folded trace's own. */
static void fold_compare(struct run *r, const struct ops_trace *t, struct ref *ref,
			 const struct model *m, size_t upto, const uint64_t *map,
			 struct ref *fref)
{
	struct keys a = {0}, b = {0};
	size_t j;

	for (j = upto; j < t->n; j++) {
		if (t->v[j].kind == OPS_NONE)
			continue;
		if (!map[j]) {
			violation(r, "fold at %zu: op %" PRIu64 " is missing", upto, t->v[j].seq);
			continue;
		}
		if (keys_at(ref, m, t->v[j].seq, &a) < 0 || keys_at(fref, m, map[j], &b) < 0)
			continue;
		if (a.n != b.n || memcmp(a.v, b.v, a.n * sizeof(*a.v)))
			violation(r, "fold at %zu: crash %" PRIu64 " has %zu states, %zu in the "
				  "folded trace (crash %" PRIu64 "), not the same",
				  upto, t->v[j].seq, a.n, b.n, map[j]);
	}
	free(a.v);
	free(b.v);
}

static void fold_points(struct run *r, const struct ops_trace *t, struct ref *ref,
			const struct model *m, const char *work, struct totals *tot)
{
	uint64_t *map = calloc(t->n + 1, sizeof(*map));
	char into[4300], scratch[4300], err[512];
	struct fold_stats st;
	size_t upto, step = fold_pts && t->n > fold_pts ? t->n / (fold_pts + 1) : 1;

	r->mode = "fold";
	snprintf(into, sizeof(into), "%s.fold", work);
	snprintf(scratch, sizeof(scratch), "%s.foldwork", work);
	for (upto = step; map && !t->calls && upto < t->n; upto += step) {
		struct ops_trace *f = NULL;
		struct ref *fref = NULL;

		if (fold_write(t, m, upto, t->n, into, scratch, map, &st, err, sizeof(err)) < 0 ||
		    fold_meta(into, t) < 0 || ops_load(into, 0, &f, err, sizeof(err)) < 0 ||
		    ref_new(f, &fref, err, sizeof(err)) < 0) {
			violation(r, "fold at %zu: %s", upto, err);
		} else {
			tot->fold_points++;
			tot->folded += st.folded;
			fold_compare(r, t, ref, m, upto, map, fref);
		}
		ref_free(fref);
		ops_free(f);
		mat_remove(into);
	}
	free(map);
}

static int one_model(struct run *r, const struct ops_trace *t, struct ref *ref,
		     const struct model *m, struct set ex[NMODES], bool fell[NMODES],
		     const char *work, bool replay, struct totals *tot)
{
	struct set refset = {0};
	bool fell_back;
	int k, rc = reference_all(ref, t, m, &refset);

	r->model = m->name;
	if (rc == -E2BIG) {
		tot->too_big++;
		set_free(&refset);
		return 0;
	}
	if (rc < 0) {
		printf("ERROR %s %s: reference: %s\n", r->trace, m->name, strerror(-rc));
		set_free(&refset);
		return -1;
	}
	tot->ref_states += refset.n;
	crash_draws(r, t, m, &refset, tot);
	fold_points(r, t, ref, m, work, tot);
	for (k = 0; k < NMODES; k++) {
		if (explore_into(r, m, mode_names[k], &ex[k], &fell_back, work) < 0) {
			set_free(&refset);
			return -1;
		}
		tot->states += ex[k].n;
		tot->fallbacks += fell_back;
		fell[k] = fell_back;
		against_reference(r, &ex[k], &refset, k, fell_back);
		if (k > 0 && k < NMODES - 1 && !fell_back) {
			r->mode = mode_names[k];
			subset(r, &ex[k - 1], &ex[k], "not in the next mode up");
		}
	}
	if (replay && !strcmp(m->name, "posix")) {
		r->mode = "exhaustive (replay)";
		replay_all(r, t, &ex[NMODES - 2], work);
	}
	set_free(&refset);
	return 0;
}

static int one_trace(const char *trace, bool quiet, bool replay, struct totals *tot)
{
	struct set ex[3][NMODES];
	bool fell[3][NMODES] = {{false}};
	struct run r = {.trace = trace, .violations = &tot->violations, .quiet = quiet};
	struct ops_trace *t = NULL;
	struct ref *ref = NULL;
	const struct model *models;
	char err[512], work[4096];
	const char *tmp = getenv("TMPDIR");
	size_t nm, i;
	int k, rc = 0;

	memset(ex, 0, sizeof(ex));
	models = model_all(&nm);
	snprintf(work, sizeof(work), "%s/difftest.%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
	if (ops_load(trace, 0, &t, err, sizeof(err)) < 0 ||
	    ref_new(t, &ref, err, sizeof(err)) < 0) {
		printf("ERROR %s: %s\n", trace, err);
		ops_free(t);
		return -1;
	}
	tot->traces++;
	for (i = 0; !rc && i < nm && i < 3; i++)
		rc = one_model(&r, t, ref, &models[i], ex[i], fell[i], work, replay, tot);
	for (k = 0; !rc && k < NMODES - 1; k++) { /* strict ⊆ ext4-ordered ⊆ posix */
		r.mode = mode_names[k];
		for (i = 1; i < nm && i < 3; i++) {
			char what[128];

			snprintf(what, sizeof(what), "%s state not in %s", models[i - 1].name,
				 models[i].name);
			r.model = models[i - 1].name;
			/* (not where the weaker model's exhaustive fell back to bounded:2) */
			if (ex[i - 1][k].n && ex[i][k].n && !fell[i][k])
				subset(&r, &ex[i - 1][k], &ex[i][k], what);
		}
	}
	for (i = 0; i < 3; i++)
		for (k = 0; k < NMODES; k++)
			set_free(&ex[i][k]);
	ref_free(ref);
	ops_free(t);
	return rc;
}

int main(int argc, char **argv)
{
	struct totals tot = {0};
	bool quiet = false, replay = true;
	int i, errors = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--quiet"))
			quiet = true;
		else if (!strcmp(argv[i], "--no-replay"))
			replay = false;
		else if (!strcmp(argv[i], "--max") && i + 1 < argc)
			ref_max = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--replay-every") && i + 1 < argc)
			replay_every = strtoul(argv[++i], NULL, 10) ?: 1;
		else if (!strcmp(argv[i], "--fold-points") && i + 1 < argc)
			fold_pts = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: difftest [--quiet] [--no-replay] [--replay-every N] [--max N] [--fold-points N] TRACE...\n");
			return 2;
		}
	}
	for (; i < argc; i++)
		errors += one_trace(argv[i], quiet, replay, &tot) < 0;
	printf("difftest: %lu traces, %lu explorer states, %lu reference states, "
	       "%lu exhaustive fallbacks, %lu model runs too big for the reference, "
	       "%lu crash draws, %lu fold points, %lu folded ops, %lu violations, %d errors\n",
	       tot.traces, tot.states, tot.ref_states, tot.fallbacks, tot.too_big,
	       tot.crash_draws, tot.fold_points, tot.folded, tot.violations, errors);
	return errors ? 2 : tot.violations ? 1 : 0;
}
