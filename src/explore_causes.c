/*
 * explore_causes.c - causes, not hundreds of states: one cause per defect.
 *
 * Each failing state, in crash order, is first tried against the causes
 * found so far, most severe first: the part of it that loses or tears
 * what a cause's minimal state does (same items, explore_defects.c) is
 * built and checked, and if it still fails the state is that cause's.
 * Otherwise it is minimized (ddmin over its lost and torn ops, starting
 * from "everything in flight persisted") and its minimal state's
 * signature names its cause, new or known.  A new cause's minimal state
 * is checked once more with no marks: if the checker then accepts it, the
 * state is consistent and only acknowledged data is missing (severity
 * "acknowledged data lost"); if not, it is "corrupt or unopenable".
 *
 * Every state tried here is a legal state of the model (a dropped journal
 * suffix stays a suffix), built from the bare base as replay builds it,
 * so a cause's id replays to the state that failed (explore_causes_img.c
 * builds them on a shared image, each costing its own ops).  Checker runs
 * are bounded (cz_allowed: a number that grows with the failures, or
 * --budget; the report's "cause_search" says how many were made and
 * whether the bound cut the search); past the bound a failure goes,
 * untested, to the most severe cause whose items it holds, or is its own
 * cause of severity "unconfirmed".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore_causes_i.h"
#include "fskey.h"
#include "verdicts.h"

/* Without --budget, checker runs the cause search may spend: this many ... */
#define EX_CAUSE_TESTS 2000
/* ... plus this many per failure handed to it (ddmin on n ops: O(n log n) mostly) */
#define EX_CAUSE_TESTS_PER_FAILURE 64

struct ex_cz {
	struct cz_img img;   /* what test states are built on (explore_causes_img.c) */
	bool final;          /* every failure still to come is known (after the sweep) */
	char dir[4300];      /* where test states are built */
	char **seen_id;      /* ids tested, and ... */
	int *seen_fail;      /* ... whether they failed, ... */
	char **seen_line;    /* ... and the checker's first line */
	size_t nseen;
	size_t tests;        /* checker runs so far */
	size_t answered;     /* candidates answered from verdicts (verdicts.h) instead */
	int cut;             /* REPORT_CUT_*: a test was refused, and why */
	char line[256];      /* first output line of the last failing test */
	uint64_t marks_n;    /* marks in the marks file written last ... */
	bool marks_ok;       /* ... if one was */
	bool no_marks;       /* test with an empty marks file */
	struct cz d;         /* defects: regions and paths */
};

/* Remembers that state id failed (or not) with the checker's first line. */
static int cz_remember(struct ex_cz *z, char *id, int failed)
{
	char **ids = realloc(z->seen_id, (z->nseen + 1) * sizeof(*ids)), **lines;
	int *fails;

	if (ids)
		z->seen_id = ids;
	lines = realloc(z->seen_line, (z->nseen + 1) * sizeof(*lines));
	if (lines)
		z->seen_line = lines;
	fails = realloc(z->seen_fail, (z->nseen + 1) * sizeof(*fails));
	if (fails)
		z->seen_fail = fails;
	if (!ids || !lines || !fails || !(z->seen_line[z->nseen] = strdup(z->line)))
		return -ENOMEM;
	z->seen_id[z->nseen] = id;
	z->seen_fail[z->nseen++] = failed;
	return 0;
}

/*
 * The marks file for a crash at seq crash (0: none), written only when it
 * changes: failures come in crash order, and a minimization tests many
 * states of one crash point.
 */
static int cz_marks(struct ex *ex, struct ex_cz *z, uint64_t crash, const char *path)
{
	size_t last;
	uint64_t n = crash ? ops_marks_before(ex->t, crash, &last) : 0;
	int rc;

	if (z->marks_ok && z->marks_n == n)
		return 0;
	z->marks_ok = false;
	if ((rc = ops_write_marks(ex->t, crash, path)) < 0)
		return rc;
	z->marks_n = n;
	z->marks_ok = true;
	return 0;
}

/*
 * 0 when one more checker run is allowed, else -EAGAIN (and z->cut says
 * why).  Without --budget the bound is a number of runs that grows with
 * the failures, so where it cuts depends on nothing but the trace and the
 * options; --budget lifts it and lets time alone decide (the report says
 * when that cut the search).
 */
static int cz_allowed(struct ex *ex, struct ex_cz *z)
{
	size_t cap = EX_CAUSE_TESTS + EX_CAUSE_TESTS_PER_FAILURE * ex->rep->nfailures;

	if (ex->o->budget <= 0 && z->tests >= cap)
		z->cut = REPORT_CUT_RUNS;
	else if (ex->o->budget > 0 && ex_elapsed(ex) > ex->o->budget)
		z->cut = REPORT_CUT_BUDGET;
	else
		return 0;
	return -EAGAIN;
}

/*
 * Builds and checks s (with an empty marks file when z->no_marks); 1
 * fails, 0 passes, < 0 error or out of budget (--budget, or
 * EX_CAUSE_TESTS checker runs).  Results are cached.
 */
static int cz_test(struct ex *ex, struct ex_cz *z, const struct state *s)
{
	char err[512], marks[4300], *id = state_id_new(s), *key = NULL;
	const struct check_result *cached;
	struct check_result res = {0};
	uint64_t content = 0, skey;
	size_t i, last;
	void *tok;
	int rc;

	if (id && (key = malloc(strlen(id) + 16)))
		sprintf(key, "%s%s", id, z->no_marks ? "#no-marks" : "");
	if (!id || !key) {
		free(id);
		free(key);
		return -ENOMEM;
	}
	for (i = 0; i < z->nseen; i++)
		if (!strcmp(z->seen_id[i], key)) {
			snprintf(z->line, sizeof(z->line), "%s", z->seen_line[i]);
			free(id);
			free(key);
			return z->seen_fail[i];
		}
	mat_remove(z->dir);
	snprintf(marks, sizeof(marks), "%s/cause-marks", ex->workdir);
	if ((rc = cz_img_build(&z->img, s, z->dir, &content, err, sizeof(err))) < 0)
		fprintf(stderr, "faultline: explore: cause search: %s\n", err);
	/* The marks file holds the marks up to the crash (none with no_marks):
	 * with the content, the same key the explorer gives a state. */
	skey = fskey_state(content, z->no_marks ? 0 : ops_marks_before(ex->t, s->crash, &last));
	if (rc == 0 && (cached = verdicts_find(ex->verdicts, skey))) {
		verdicts_reused(ex->verdicts);
		z->answered++;
		res = *cached;
		res.output = strdup(cached->output ? cached->output : "");
		if (!res.output)
			rc = -ENOMEM;
	} else if (rc == 0 && (rc = cz_allowed(ex, z)) == 0) {
		z->tests++;
		if ((rc = cz_marks(ex, z, z->no_marks ? 0 : s->crash, marks)) == 0 &&
		    (rc = check_start(ex->run, z->dir, id, marks, NULL)) == 0 &&
		    (rc = check_wait(ex->run, &tok, &res)) >= 0 && ex->verdicts)
			rc = verdicts_add(ex->verdicts, skey, &res) < 0 ? -ENOMEM : 1;
		if (rc == -ENOMEM)
			check_result_free(&res);
	}
	if (rc < 0) {
		free(id);
		free(key);
		return rc;
	}
	free(id);
	rc = !res.passed;
	snprintf(z->line, sizeof(z->line), "%.*s", (int)strcspn(res.output, "\n"), res.output);
	if (rc && !z->line[0])
		snprintf(z->line, sizeof(z->line), "%s", res.timed_out ? "checker timed out"
			 : res.signal ? "checker killed by a signal" : "checker failed");
	check_result_free(&res);
	mat_remove(z->dir);
	if (cz_remember(z, key, rc) < 0) {
		free(key);
		return -ENOMEM;
	}
	return rc;
}

/* True when choice c of a state drops a metadata op of a journal_in_order model. */
static bool cz_journal_drop(const struct ex *ex, const struct state_choice *c)
{
	long idx = ops_index(ex->t, c->seq);

	return c->how == STATE_DROP && idx >= 0 && model_is_journal_op(ex->plan, (size_t)idx);
}

/*
 * The state of crash with the choices of full selected by keep[], made
 * legal again: once a journal op is dropped, the later journal ops full
 * drops stay dropped (the journal persists a prefix).
 */
static void cz_subset(const struct ex *ex, const struct state *full, const bool *keep,
		      struct state *out)
{
	bool journal_dropped = false;
	size_t i;

	state_clear(out);
	out->crash = full->crash;
	out->sector = full->sector;
	out->block = full->block;
	for (i = 0; i < full->n; i++) {
		bool journal = cz_journal_drop(ex, &full->ch[i]);

		if (keep[i] || (journal && journal_dropped))
			state_add(out, full->ch[i].seq, full->ch[i].how, full->ch[i].rle,
				  full->ch[i].size_lost);
		journal_dropped |= journal && keep[i];
	}
}

/*
 * ddmin over the choices of a failing state, starting from "everything
 * in flight persisted": keep[] ends as a 1-minimal set that still fails
 * (or as it was if the budget runs out).
 */
static void cz_ddmin(struct ex *ex, struct ex_cz *z, const struct state *full, bool *keep)
{
	size_t n = 2, i, j, cnt;
	struct state t = {0};
	bool *trial = calloc(full->n + 1, 1);

	if (!trial)
		return; /* no memory: the failure stays as it is */
	cz_subset(ex, full, trial, &t);
	if (cz_test(ex, z, &t) == 1) /* nothing lost or torn is needed at all */
		memset(keep, 0, full->n);
	for (;;) {
		bool reduced = false;

		for (cnt = 0, i = 0; i < full->n; i++)
			cnt += keep[i];
		if (cnt < 2 || n > cnt)
			break;
		for (j = 0; j < n && !reduced; j++) {
			size_t k = 0, c;

			/* complement of chunk j: drop the chunk's choices */
			for (i = 0; i < full->n; i++) {
				trial[i] = keep[i];
				if (keep[i] && (c = k++ * n / cnt) == j)
					trial[i] = false;
			}
			cz_subset(ex, full, trial, &t);
			if (cz_test(ex, z, &t) == 1) {
				memcpy(keep, trial, full->n);
				n = n > 2 ? n - 1 : 2;
				reduced = true;
			}
		}
		if (!reduced) {
			if (n >= cnt)
				break;
			n = 2 * n < cnt ? 2 * n : cnt;
		}
	}
	state_free(&t);
	free(trial);
}

/* The paths of every id just after the record with seq crash; NULL without memory. */
static struct names *names_at(struct ex *ex, uint64_t crash)
{
	struct names *at = ex_names_base(ex->t);
	size_t i;

	if (!at)
		return NULL;
	for (i = 0; i < ex->t->n && ex->t->v[i].seq <= crash; i++)
		ops_names_apply(at, ex->t, &ex->t->v[i]);
	return at;
}

struct ex_group {
	char sig[8192];          /* cz_signature */
	struct cz_items items;   /* its minimal state's items */
	char *id;                /* the minimal state */
	char *words;             /* the cause in words */
	const char *kind;        /* cz_kind */
	int severity;            /* CZ_SEV_* */
};

/*
 * The state of full keeping only the choices whose items are want's
 * (legalized); false when some item of want is not in full.  acked: the
 * items are compared as cz_items(acked) makes them.
 */
static bool cz_project(struct ex *ex, struct ex_cz *z, const struct state *full,
		       const struct cz_items *want, bool acked, bool *keep, struct state *out)
{
	size_t i, k, hit = 0;
	bool *seen = calloc(want->n + 1, 1);

	if (!seen)
		return false;
	for (i = 0; i < full->n; i++) {
		struct cz_item it;

		keep[i] = false;
		if (cz_item(ex, &z->d, &full->ch[i], &it) < 0)
			continue;
		for (k = 0; k < want->n; k++)
			if (!strcmp(want->v[k].text, acked ? it.alt : it.text)) {
				keep[i] = true;
				hit += !seen[k];
				seen[k] = true;
			}
	}
	free(seen);
	if (hit != want->n)
		return false;
	cz_subset(ex, full, keep, out);
	return true;
}

/* How severe minimal state min is: consistent without its marks, or not. */
static int cz_severity(struct ex *ex, struct ex_cz *z, const struct state *min)
{
	size_t last;
	int rc;

	if (!min->n || !ops_marks_before(ex->t, min->crash, &last))
		return CZ_SEV_CORRUPT; /* fails with nothing lost, or with nothing acknowledged */
	z->no_marks = true;
	rc = cz_test(ex, z, min);
	z->no_marks = false;
	return rc == 0 ? CZ_SEV_ACKED : rc == 1 ? CZ_SEV_CORRUPT : CZ_SEV_UNCONFIRMED;
}

/* A new cause for minimal state min of severity sev; 0 or -ENOMEM.  Takes items. */
static int cz_new_group(struct ex *ex, struct ex_cz *z, const struct state *min,
			struct cz_items *items, const char *sig, const char *line, int sev,
			bool confirmed, struct ex_group **g, size_t *ng)
{
	struct ex_group *v = realloc(*g, (*ng + 1) * sizeof(**g)), *n;
	struct names *end = ex->names, *at = names_at(ex, min->crash);
	size_t last;
	uint64_t nm = ops_marks_before(ex->t, min->crash, &last);
	long x = ops_index(ex->t, min->crash);
	char head[2600], *why;

	if (!v || !at) {
		names_free(at);
		if (v)
			*g = v;
		return -ENOMEM;
	}
	*g = v;
	n = &v[*ng];
	memset(n, 0, sizeof(*n));
	snprintf(n->sig, sizeof(n->sig), "%s", sig);
	n->severity = sev;
	n->kind = cz_kind(items, n->severity);
	cz_headline(ex, &z->d, items, min->crash, n->severity, head, sizeof(head));
	ex->names = at; /* paths as they were at the crash, as the state lines say them */
	why = ex_explain_at(ex, min, x >= 0 ? (size_t)x : 0, nm, last);
	ex->names = end;
	names_free(at);
	n->id = state_id_new(min);
	n->words = why ? malloc(strlen(head) + strlen(why) + strlen(line) + 128) : NULL;
	if (n->words)
		sprintf(n->words, "%s%s%s%s; minimal state: %s; %s", head, line[0] ? " (checker: " : "",
			line, line[0] ? ")" : "", why,
			!confirmed ? "not minimized (no checker runs left)"
			: sev == CZ_SEV_UNCONFIRMED ? "severity not told (no checker runs left)"
			: min->n ? "nothing else needed" : "with everything in flight persisted");
	free(why);
	if (!n->id || !n->words) {
		free(n->id);
		free(n->words);
		return -ENOMEM;
	}
	n->items = *items;
	items->v = NULL;
	items->n = 0;
	(*ng)++;
	return 0;
}

/* Puts failure f under cause g. */
static void cz_assign(struct report_failure *f, const struct ex_group *g)
{
	f->cause = strdup(g->id);
	f->cause_words = strdup(g->words);
	f->cause_kind = strdup(g->kind);
	f->cause_sig = strdup(g->sig);
	f->cause_severity = g->severity;
}

/* The groups' indices, most severe first (then oldest). */
static void cz_order(const struct ex_group *g, size_t ng, size_t *ord)
{
	size_t i, j, t;

	for (i = 0; i < ng; i++)
		ord[i] = i;
	for (i = 1; i < ng; i++) /* insertion sort: stable, few groups */
		for (j = i; j > 0 && g[ord[j - 1]].severity > g[ord[j]].severity; j--) {
			t = ord[j];
			ord[j] = ord[j - 1];
			ord[j - 1] = t;
		}
}

/* Early pages a minimal state's failure is tried without, the latest first. */
#define EX_CAUSE_EARLY_TRIES 8

/*
 * The pages captured from shared mappings (ops_is_early) that minimal
 * state min keeps in flight, and that its failure needs: min with one of
 * them dropped passes.  Each is an item of the cause ("early write ..."),
 * for a defect no lost op shows: a page that reached the disk too soon.
 * 0, or -ENOMEM.
 */
static int cz_early(struct ex *ex, struct ex_cz *z, const struct state *min, struct cz_items *mi)
{
	struct state t = {0};
	size_t i, tries = 0;
	int rc = 0;

	for (i = ex->t->n; i-- > 0 && tries < EX_CAUSE_EARLY_TRIES && rc == 0;) {
		const struct ops_op *op = &ex->t->v[i];

		if (!ops_is_early(op) || op->seq > min->crash ||
		    !model_in_flight(ex->plan, i, min->crash) || state_find(min, op->seq))
			continue;
		tries++;
		if ((rc = state_copy(&t, min)) < 0 ||
		    (rc = state_add(&t, op->seq, STATE_DROP, NULL, false)) < 0)
			break;
		if (cz_test(ex, z, &t) == 0)
			rc = cz_items_add_early(ex, &z->d, i, mi);
		state_free(&t);
	}
	state_free(&t);
	return rc;
}

/*
 * The cause of failure f: a known cause it reproduces, else its minimal
 * state's (new or known); past the checker-run bound, a known cause whose
 * items it holds, else itself unminimized.
 */
static int cz_one(struct ex *ex, struct ex_cz *z, struct report_failure *f,
		  struct ex_group **g, size_t *ng)
{
	struct state full = {0}, min = {0};
	struct cz_items fi = {0}, fa = {0}, mi = {0};
	char err[256], sig[8192], line[256];
	size_t i, *ord = NULL;
	bool *keep = NULL, confirmed = true;
	int sev = CZ_SEV_UNCONFIRMED, rc = state_parse(f->id, &full, err, sizeof(err));

	if (rc < 0 || (rc = cz_img_at(&z->img, ex->plan, &full, z->final)) < 0 ||
	    !(keep = malloc(full.n + 1)) || !(ord = malloc((*ng + 1) * sizeof(*ord))) ||
	    (rc = cz_items(ex, &z->d, &full, false, &fi)) < 0 ||
	    (rc = cz_items(ex, &z->d, &full, true, &fa)) < 0) {
		rc = rc < 0 ? rc : -ENOMEM;
		goto out;
	}
	/* a known cause, most severe first, reproduced by the matching part of f */
	cz_order(*g, *ng, ord);
	for (i = 0; i < *ng; i++) {
		struct ex_group *k = &(*g)[ord[i]];

		if (!k->items.n || k->severity == CZ_SEV_UNCONFIRMED ||
		    !cz_project(ex, z, &full, &k->items, k->severity == CZ_SEV_ACKED, keep, &min))
			continue;
		rc = cz_test(ex, z, &min);
		/* a tear counted as lost must leave a consistent state, as the cause's did */
		if (rc == 1 && k->severity == CZ_SEV_ACKED && cz_severity(ex, z, &min) != CZ_SEV_ACKED)
			rc = z->cut ? -EAGAIN : 0;
		if (rc == 1) {
			cz_assign(f, k);
			rc = 0;
			goto out;
		}
		if (rc < 0)
			break; /* out of checker runs */
	}
	if (rc >= 0) {
		memset(keep, 1, full.n + 1);
		cz_ddmin(ex, z, &full, keep);
		cz_subset(ex, &full, keep, &min);
		rc = cz_test(ex, z, &min);
	}
	if (rc != 1) { /* out of runs: a known cause whose items f holds, else f itself */
		confirmed = false;
		for (i = 0; i < *ng; i++) {
			struct ex_group *k = &(*g)[ord[i]];
			size_t j;

			for (j = 0; j < k->items.n &&
				    cz_items_has(k->severity == CZ_SEV_ACKED ? &fa : &fi,
						 k->items.v[j].text);
			     j++)
				;
			if (k->items.n && j == k->items.n) {
				cz_assign(f, k);
				rc = 0;
				goto out;
			}
		}
		state_free(&min);
		memset(keep, 1, full.n + 1);
		cz_subset(ex, &full, keep, &min);
		snprintf(z->line, sizeof(z->line), "%.*s",
			 (int)strcspn(f->output ? f->output : "", "\n"), f->output ? f->output : "");
	}
	snprintf(line, sizeof(line), "%s", z->line);
	if (confirmed)
		sev = cz_severity(ex, z, &min);
	if ((rc = cz_items(ex, &z->d, &min, sev == CZ_SEV_ACKED, &mi)) < 0 ||
	    (confirmed && (rc = cz_early(ex, z, &min, &mi)) < 0))
		goto out;
	cz_signature(&mi, line, sig, sizeof(sig));
	for (i = 0; i < *ng && (strcmp((*g)[i].sig, sig) || (*g)[i].severity != sev); i++)
		;
	if (i == *ng && (rc = cz_new_group(ex, z, &min, &mi, sig, line, sev, confirmed, g, ng)) < 0)
		goto out;
	cz_assign(f, &(*g)[i]);
	rc = 0;
out:
	free(keep);
	free(ord);
	free(fi.v);
	free(fa.v);
	free(mi.v);
	state_free(&full);
	state_free(&min);
	return rc;
}

/* The cause search across calls: ex_causes_add as failures come in. */
struct ex_causes {
	struct ex_cz z;
	struct ex_group *g;
	size_t ng;
	size_t done;     /* failures given a cause so far */
	double seconds;  /* wall time spent in ex_causes_add */
	bool broken;     /* could not start: failures keep no cause */
	char wd[4200];
};

static struct ex_causes *cz_start(struct ex *ex)
{
	struct ex_causes *c = ex->causes;
	char err[512] = "";

	if (c)
		return c;
	if (!(c = ex->causes = calloc(1, sizeof(*c))))
		return NULL;
	snprintf(c->wd, sizeof(c->wd), "%s/causes", ex->workdir);
	if (cz_regions(&c->z.d, ex->t) < 0 ||
	    cz_img_new(&c->z.img, ex->t, c->wd, ex->o->scratch,
		       ex->o->mem_budget ? ex->o->mem_budget : MAT_MEM_BUDGET_DEFAULT, err,
		       sizeof(err)) < 0)
		c->broken = true;
	if (c->broken)
		fprintf(stderr, "faultline: explore: cause search: %s\n", err[0] ? err : "out of memory");
	/* on the image's file system: a tmpfs or XFS scratch is mounted below wd */
	snprintf(c->z.dir, sizeof(c->z.dir), "%s/state",
		 c->broken ? c->wd : mat_root(c->z.img.m));
	return c;
}

/* Adds delta to the image's counts of the choices of failures from..n (ids that parse). */
static void cz_count(struct ex *ex, struct ex_causes *c, size_t from, int delta)
{
	char err[256];
	size_t i;

	for (i = from; i < ex->rep->nfailures; i++) {
		struct state s = {0};

		if (state_parse(ex->rep->failures[i].id, &s, err, sizeof(err)) == 0)
			cz_img_count(&c->z.img, &s, delta);
		state_free(&s);
		if (delta < 0)
			break; /* one failure done */
	}
}

/* The search over the failures without a cause; final: no more will come. */
static size_t cz_add(struct ex *ex, bool final)
{
	struct ex_causes *c = cz_start(ex);
	double t0 = ex_elapsed(ex);
	size_t i, n = 0;

	if (!c)
		return 0;
	report_sort_from(ex->rep, c->done); /* in crash order, however checkers finished */
	c->z.final = final;
	if (!c->broken)
		cz_count(ex, c, c->done, 1);
	for (; !c->broken && c->done < ex->rep->nfailures; c->done++) {
		cz_one(ex, &c->z, &ex->rep->failures[c->done], &c->g, &c->ng);
		cz_count(ex, c, c->done, -1);
	}
	c->seconds += ex_elapsed(ex) - t0;
	for (i = 0; i < c->ng; i++) /* found and confirmed */
		n += c->g[i].severity != CZ_SEV_UNCONFIRMED;
	return n;
}

size_t ex_causes_add(struct ex *ex)
{
	return cz_add(ex, false);
}

void ex_causes_free(struct ex *ex)
{
	struct ex_causes *c = ex->causes;
	struct ex_cz *z;
	size_t i;

	if (!c)
		return;
	z = &c->z;
	for (i = 0; i < c->ng; i++) {
		free(c->g[i].id);
		free(c->g[i].words);
		free(c->g[i].items.v);
	}
	for (i = 0; i < z->nseen; i++) {
		free(z->seen_id[i]);
		free(z->seen_line[i]);
	}
	for (i = 0; z->d.path && i < ex->t->n; i++)
		free(z->d.path[i]);
	free(z->d.path);
	free(z->d.slot);
	free(c->g);
	free(z->seen_id);
	free(z->seen_line);
	free(z->seen_fail);
	cz_img_free(&z->img);
	mat_remove(c->wd);
	free(c);
	ex->causes = NULL;
}

/*
 * Finds each failure's cause (see the top of this file).  Runs after
 * every state has been checked, over the failures not yet given one
 * (ex_causes_add may have taken the first ones during the sweep), in
 * crash order.
 */
void ex_causes(struct ex *ex)
{
	struct report_cause_search *st = &ex->rep->causes_search;

	if (!ex->rep->nfailures)
		return;
	cz_add(ex, true);
	if (ex->causes && !ex->causes->broken)
		*st = (struct report_cause_search){.ran = true, .runs = ex->causes->z.tests,
						   .answered = ex->causes->z.answered,
						   .seconds = ex->causes->seconds,
						   .cut = ex->causes->z.cut};
	ex_causes_free(ex);
}
