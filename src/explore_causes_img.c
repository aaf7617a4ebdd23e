/*
 * explore_causes_img.c - the cause search's image: a candidate state
 * costs its own ops, not the trace.
 *
 * Every state the cause search checks for one failure is that failure's
 * state with some of its lost or torn ops persisted whole instead
 * (explore_causes.c: ddmin, projections onto known causes, the no-marks
 * severity test).  Its choices are a subset of the failure's, at the same
 * crash point.  So every op up to the crash point that no failure still
 * to be minimized drops or tears is, in every such state, applied whole:
 * it is SETTLED and may enter a shared image (explore_keys.c's rule, with
 * settled as the eligibility).  A candidate is then built as the
 * explorer builds its states: the image, plus the PENDING ops (up to the
 * crash point, not in the image) in recorded order, as the candidate
 * chooses.
 *
 * Settled, precisely: op i at a failure with crash point x is settled
 * when i <= x, no failure from this one on (in crash order) chooses i,
 * and either i is durable at the crash (no later failure can choose it:
 * durability only grows) or every failure still to come is known (the
 * search after the sweep; during the sweep, --max-causes, later failures
 * are not known yet), but for a page captured from a mapping
 * (ops_is_early): kept by a failure, it is still dropped to see whether
 * the failure needs it (cz_early), so it settles only once durable.
 * Failures arrive in crash order; one that does not
 * (or whose choices the image holds) resets the image to the bare base.
 *
 * Invariant: a candidate's choices are all pending; cz_img_build checks
 * it and refuses a build otherwise.  With FAULTLINE_VERIFY_CAUSES=1 in the
 * environment, every candidate is also built from the bare base (as
 * `faultline replay` builds it) and the two trees' content keys, read
 * back from disk (fskey_dir: every byte, name, mode, owner, mtime and
 * xattr), must agree; tests use it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore_causes_i.h"
#include "fskey.h"

int cz_img_new(struct cz_img *ci, const struct ops_trace *t, const char *wd,
	       enum mat_scratch how, uint64_t mem_budget, char *err, size_t errlen)
{
	const char *v = getenv("FAULTLINE_VERIFY_CAUSES");
	int rc;

	memset(ci, 0, sizeof(*ci));
	ci->t = t;
	snprintf(ci->wd, sizeof(ci->wd), "%s", wd);
	ci->verify = v && *v && strcmp(v, "0");
	if (!(ci->chosen = calloc(t->n + 1, sizeof(*ci->chosen))) ||
	    !(ci->pend = malloc((t->n + 1) * sizeof(*ci->pend))))
		return -ENOMEM;
	if ((rc = mat_new_budget(t, wd, how, mem_budget, &ci->m, err, errlen)) < 0)
		return rc;
	if ((rc = ex_keys_new(&ci->k, t)) < 0)
		return rc;
	snprintf(ci->bare_wd, sizeof(ci->bare_wd), "%s-bare", wd);
	if (ci->verify &&
	    (rc = mat_new(t, ci->bare_wd, MAT_SCRATCH_DIR, &ci->bare, err, errlen)) < 0)
		return rc;
	return 0;
}

void cz_img_free(struct cz_img *ci)
{
	if (ci->verify && ci->bare)
		fprintf(stderr, "faultline: explore: cause search: %zu candidate states "
			"verified against a build from the base\n", ci->verified);
	mat_free(ci->m);
	mat_free(ci->bare);
	if (ci->bare)
		mat_remove(ci->bare_wd);
	ex_keys_free(&ci->k);
	free(ci->chosen);
	free(ci->pend);
	memset(ci, 0, sizeof(*ci));
}

void cz_img_count(struct cz_img *ci, const struct state *s, int delta)
{
	size_t i;
	long idx;

	for (i = 0; i < s->n; i++)
		if ((idx = ops_index(ci->t, s->ch[i].seq)) >= 0)
			ci->chosen[idx] += (uint32_t)delta;
}

/* Back to the bare base: the image reloaded and empty queues.  0 or negative. */
static int img_reset(struct cz_img *ci)
{
	char err[512];
	int rc;

	ex_keys_free(&ci->k);
	memset(&ci->k, 0, sizeof(ci->k));
	ci->x = 0;
	ci->resets++;
	if ((rc = mat_image_reset(ci->m, err, sizeof(err))) < 0) {
		fprintf(stderr, "faultline: explore: cause search: %s\n", err);
		return rc;
	}
	return ex_keys_new(&ci->k, ci->t);
}

/* True when some choice of s is in the image or on its way there. */
static bool img_holds_choice(const struct cz_img *ci, const struct state *s)
{
	size_t i;
	long idx;

	for (i = 0; i < s->n; i++)
		if ((idx = ops_index(ci->t, s->ch[i].seq)) >= 0 &&
		    (ci->k.eligible[idx] || ci->k.admitted[idx]))
			return true;
	return false;
}

int cz_img_at(struct cz_img *ci, const struct model_plan *plan, const struct state *full,
	      bool final)
{
	long cx = ops_index(ci->t, full->crash);
	size_t x, i;
	int rc = 0;

	if (!ci->m || !ci->k.eligible) /* a reset that failed */
		return -EIO;
	if (cx < 0)
		return -EINVAL;
	x = (size_t)cx;
	if ((x < ci->x || img_holds_choice(ci, full)) && (rc = img_reset(ci)) < 0)
		return rc;
	ci->x = x;
	for (i = 0; !rc && i <= x; i++) /* what has settled since the last failure */
		if (!ci->k.eligible[i] && !ci->chosen[i] && ops_changes_state(&ci->t->v[i]) &&
		    (model_durable(plan, i, full->crash) || (final && !ops_is_early(&ci->t->v[i]))))
			rc = ex_keys_admit(&ci->k, ci->m, i);
	for (ci->npend = 0, i = 0; i <= x; i++)
		if (ops_changes_state(&ci->t->v[i]) && !ci->k.admitted[i])
			ci->pend[ci->npend++] = i;
	return rc;
}

/* Builds s from the bare base too and compares the two trees read from disk. */
static int img_verify(struct cz_img *ci, const struct state *s, const char *dir, char *err,
		      size_t errlen)
{
	char vdir[4400], e2[512];
	uint64_t k1, k2, kb;
	int rc;

	snprintf(vdir, sizeof(vdir), "%s/verify", mat_root(ci->bare));
	mat_remove(vdir);
	if ((rc = mat_build_all(ci->bare, s, vdir, &kb, err, errlen)) < 0)
		return rc;
	if ((rc = fskey_dir(dir, &k1, err, errlen)) < 0 ||
	    (rc = fskey_dir(vdir, &k2, e2, sizeof(e2))) < 0) {
		mat_remove(vdir);
		return rc;
	}
	mat_remove(vdir);
	if (k1 != k2 || k2 != kb) {
		char *id = state_id_new(s);

		snprintf(err, errlen, "internal error: cause candidate %.200s built from the "
			 "crash point's image (%016" PRIx64 ") differs from its build from the "
			 "base (%016" PRIx64 ")", id ? id : "?", k1, k2);
		free(id);
		return -EPROTO;
	}
	ci->verified++;
	return 0;
}

int cz_img_build(struct cz_img *ci, const struct state *s, const char *dir, uint64_t *content,
		 char *err, size_t errlen)
{
	uint64_t key;
	size_t i;
	long idx;
	int rc;

	for (i = 0; i < s->n; i++)
		if ((idx = ops_index(ci->t, s->ch[i].seq)) < 0 || ci->k.admitted[idx] ||
		    (size_t)idx > ci->x) {
			snprintf(err, errlen, "internal error: cause candidate chooses op %" PRIu64
				 " the image holds", s->ch[i].seq);
			return -EPROTO;
		}
	if ((rc = mat_build(ci->m, s, ci->pend, ci->npend, dir, &key, err, errlen)) < 0)
		return rc;
	if (content)
		*content = key;
	return ci->verify ? img_verify(ci, s, dir, err, errlen) : 0;
}
