/*
 * explore_causes.c - causes, not hundreds of states: each failing state
 * is minimized (ddmin over its lost and torn ops, starting from
 * "everything in flight persisted"), and failures whose minimal states
 * lose or tear the same kinds of op on the same files are one cause.
 *
 * Every state tried here is a legal state of the model (a dropped journal
 * suffix stays a suffix), built from the bare base as replay builds it,
 * so a cause's id replays to the state that failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore_i.h"

#define EX_CAUSE_MAX 64      /* failures minimized; the rest are grouped as they are */
#define EX_CAUSE_TESTS 2000  /* checker runs the minimization may spend in all */

struct ex_cz {
	struct mat *m;       /* a materializer whose image is the bare base */
	char dir[4300];      /* where test states are built */
	char **seen_id;      /* ids tested, and ... */
	int *seen_fail;      /* ... whether they failed, ... */
	char **seen_line;    /* ... and the checker's first line */
	size_t nseen;
	size_t tests;        /* checker runs so far */
	char line[256];      /* first output line of the last failing test */
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
 * Builds and checks s; 1 fails, 0 passes, < 0 error or out of budget
 * (--budget, or EX_CAUSE_TESTS checker runs).  Results are cached by id.
 */
static int cz_test(struct ex *ex, struct ex_cz *z, const struct state *s)
{
	char err[512], marks[4300], *id = state_id_new(s);
	struct check_result res;
	uint64_t key;
	size_t i;
	void *tok;
	int rc;

	if (!id)
		return -ENOMEM;
	for (i = 0; i < z->nseen; i++)
		if (!strcmp(z->seen_id[i], id)) {
			snprintf(z->line, sizeof(z->line), "%s", z->seen_line[i]);
			free(id);
			return z->seen_fail[i];
		}
	rc = z->tests++ >= EX_CAUSE_TESTS ||
	     (ex->o->budget > 0 && ex_elapsed(ex) > ex->o->budget) ? -EAGAIN : 0;
	mat_remove(z->dir);
	snprintf(marks, sizeof(marks), "%s/cause-marks", ex->workdir);
	if (rc < 0 || (rc = mat_build_all(z->m, s, z->dir, &key, err, sizeof(err))) < 0 ||
	    (rc = ops_write_marks(ex->t, s->crash, marks)) < 0 ||
	    (rc = check_start(ex->run, z->dir, id, marks, NULL)) < 0 ||
	    (rc = check_wait(ex->run, &tok, &res)) < 0) {
		free(id);
		return rc;
	}
	rc = !res.passed;
	snprintf(z->line, sizeof(z->line), "%.*s", (int)strcspn(res.output, "\n"), res.output);
	if (rc && !z->line[0])
		snprintf(z->line, sizeof(z->line), "%s", res.timed_out ? "checker timed out"
			 : res.signal ? "checker killed by a signal" : "checker failed");
	check_result_free(&res);
	mat_remove(z->dir);
	if (cz_remember(z, id, rc) < 0) {
		free(id);
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

/*
 * A cause's grouping key: which kinds of op on which files did not fully
 * persist (lost or torn), regardless of when: one missing barrier makes
 * many states fail, at every crash point, and they are one cause.
 */
static void cz_signature(const struct ex *ex, const struct state *s, const char *line,
			 char *buf, size_t cap)
{
	size_t i, len;

	buf[0] = 0;
	for (i = 0; i < s->n; i++) {
		long idx = ops_index(ex->t, s->ch[i].seq);
		const struct ops_op *op = idx >= 0 ? &ex->t->v[idx] : NULL;
		char path[512] = "?";

		if (op)
			names_path(ex->names, op->kind == OPS_NS ? op->parent : op->id, path,
				   sizeof(path));
		char item[600];

		/* Lost or torn alike: the op did not fully persist.  Each kind once. */
		snprintf(item, sizeof(item), "%s %s;", op ? trace_op_name(op->op) : "?", path);
		if (!strstr(buf, item)) {
			len = strlen(buf);
			snprintf(buf + len, cap - len, "%s", item);
		}
	}
	if (!s->n) { /* nothing lost: the checker's complaint, numbers left out */
		len = strlen(buf);
		snprintf(buf + len, cap - len, "persisted:");
		len = strlen(buf);
		for (; *line && len + 1 < cap; line++)
			if (*line < '0' || *line > '9')
				buf[len++] = *line;
		buf[len] = 0;
	}
}

/* The paths of every id just after the record with seq crash; NULL without memory. */
static struct names *names_at(struct ex *ex, uint64_t crash)
{
	struct names *at = names_new();
	size_t i;

	if (!at)
		return NULL;
	for (i = 0; i < ex->t->nbase; i++)
		ops_names_apply(at, ex->t, &ex->t->base[i]);
	for (i = 0; i < ex->t->n && ex->t->v[i].seq <= crash; i++)
		ops_names_apply(at, ex->t, &ex->t->v[i]);
	return at;
}

struct ex_group {
	char sig[1024];  /* cz_signature */
	char *id;        /* representative minimal state */
	char *words;     /* its explanation */
};

/* A new group for minimal state min, named in words with the checker's line.  0 or -ENOMEM. */
static int cz_new_group(struct ex *ex, const struct state *min, const char *sig,
			const char *line, struct ex_group **g, size_t *ng)
{
	struct ex_group *v = realloc(*g, (*ng + 1) * sizeof(**g)), *n;
	struct names *end = ex->names, *at = names_at(ex, min->crash);
	size_t last;
	uint64_t nm = ops_marks_before(ex->t, min->crash, &last);
	long x = ops_index(ex->t, min->crash);
	char *why;

	if (!v || !at) {
		names_free(at);
		if (v)
			*g = v;
		return -ENOMEM;
	}
	*g = v;
	n = &v[*ng];
	snprintf(n->sig, sizeof(n->sig), "%s", sig);
	ex->names = at; /* paths as they were at the crash, as the state lines say them */
	why = ex_explain_at(ex, min, x >= 0 ? (size_t)x : 0, nm, last);
	ex->names = end;
	names_free(at);
	n->id = state_id_new(min);
	n->words = why ? malloc(strlen(why) + strlen(line) + 64) : NULL;
	if (n->words)
		sprintf(n->words, "%s%s%s; %s", line, line[0] ? ": " : "", why,
			min->n ? "nothing else needed" : "with everything in flight persisted");
	free(why);
	if (!n->id || !n->words) {
		free(n->id);
		free(n->words);
		return -ENOMEM;
	}
	(*ng)++;
	return 0;
}

/* The cause of failure f: minimized (the first EX_CAUSE_MAX), then named. */
static int cz_one(struct ex *ex, struct ex_cz *z, struct report_failure *f, bool minimize,
		  struct ex_group **g, size_t *ng)
{
	struct state full = {0}, min = {0};
	char err[256], sig[1024], line[256];
	bool *keep = NULL;
	size_t i;
	int rc = state_parse(f->id, &full, err, sizeof(err));

	if (rc < 0 || !(keep = malloc(full.n + 1))) {
		rc = rc < 0 ? rc : -ENOMEM;
		goto out;
	}
	memset(keep, 1, full.n + 1);
	if (minimize)
		cz_ddmin(ex, z, &full, keep);
	cz_subset(ex, &full, keep, &min);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(f->output ? f->output : "", "\n"),
		 f->output ? f->output : "");
	if (min.n < full.n && cz_test(ex, z, &min) == 1)
		snprintf(line, sizeof(line), "%s", z->line);
	cz_signature(ex, &min, line, sig, sizeof(sig));
	for (i = 0; i < *ng && strcmp((*g)[i].sig, sig); i++)
		;
	if (i == *ng && (rc = cz_new_group(ex, &min, sig, line, g, ng)) < 0)
		goto out;
	f->cause = strdup((*g)[i].id);
	f->cause_words = strdup((*g)[i].words);
out:
	free(keep);
	state_free(&full);
	state_free(&min);
	return rc;
}

/*
 * Finds each failure's cause: the smallest set of its lost and torn ops
 * that still fails (ddmin, from "everything in flight persisted"), then
 * groups failures whose causes lose or tear the same kind of op on the
 * same file.  Runs after every state has been checked.
 */
void ex_causes(struct ex *ex)
{
	struct ex_cz z = {0};
	struct ex_group *g = NULL;
	char err[512], wd[4200];
	size_t i, ng = 0;

	if (!ex->rep->nfailures)
		return;
	report_sort(ex->rep);
	snprintf(wd, sizeof(wd), "%s/causes", ex->workdir);
	if (mat_new(ex->t, wd, MAT_SCRATCH_DIR, &z.m, err, sizeof(err)) < 0)
		return;
	snprintf(z.dir, sizeof(z.dir), "%s/state", wd);
	for (i = 0; i < ex->rep->nfailures; i++)
		cz_one(ex, &z, &ex->rep->failures[i], i < EX_CAUSE_MAX, &g, &ng);
	for (i = 0; i < ng; i++) {
		free(g[i].id);
		free(g[i].words);
	}
	for (i = 0; i < z.nseen; i++) {
		free(z.seen_id[i]);
		free(z.seen_line[i]);
	}
	free(g);
	free(z.seen_id);
	free(z.seen_line);
	free(z.seen_fail);
	mat_free(z.m);
	mat_remove(wd);
}

