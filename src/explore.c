/*
 * explore.c - the crash-state explorer (see explore.h).
 *
 * The sweep visits every crash point (each record that changes state, is
 * a barrier or is a mark; open/flush/release change nothing) in order and
 * keeps two things current:
 *   - the IMAGE in the materializer: in prefix mode every op before the
 *     crash point, otherwise every op the model says is durable there;
 *   - the IN-FLIGHT list: state-changing ops completed but not durable.
 * Each state is the image plus the in-flight ops (or, in prefix mode, the
 * op at the crash point) minus the ones the state drops, torn as it says.
 *
 * Dedup key: the state's content key (mat.c) combined with the number of
 * marks acknowledged before the crash.  Two states with the same bytes
 * but different acknowledged commits are different questions for a
 * checker, so both are asked.
 *
 * Sharding: a unique state belongs to shard (key mod N) + 1.  Every shard
 * builds every state (to know which are unique) and checks its own, so
 * merging the shards' reports gives exactly the unsharded report.
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

#include "check.h"
#include "explore.h"
#include "fl_error.h"
#include "mat.h"
#include "names.h"
#include "state.h"

#define EX_MAX_VARIANTS 16
#define EX_OUTPUT_MAX (64u * 1024)

struct ex_variant {
	char rle[256];  /* sector kinds, run-length coded ("" = all new) */
	bool size_lost; /* bytes persist, the size update does not */
};

struct ex_slot {
	bool busy;              /* a checker runs on this state */
	char dir[4200];         /* state directory */
	char id[STATE_ID_MAX];  /* state id */
	uint64_t crash;         /* crash seq */
	uint64_t key;           /* dedup key */
	char *why;              /* explanation, computed at build time; owned */
};

struct ex {
	const struct explore_opts *o;
	struct report *rep;
	struct ops_trace *t;
	struct model_plan *plan;
	struct mat *mat;
	struct check_runner *run;
	struct report_progress *prog;
	char workdir[4096];       /* ours, removed at the end */
	struct ex_slot *slots;    /* jobs + 1 */
	size_t *inflight;         /* op indices, ascending */
	size_t ninf, capinf;
	size_t *bydur;            /* state-changing ops by (durable_at, index) */
	size_t ndur, durnext;     /* entries / next to put in the image */
	size_t imgnext;           /* prefix mode: next op index for the image */
	void *seen;               /* tsearch of dedup keys (uint64_t *) */
	struct names *names;      /* paths at the sweep position */
	uint64_t nmarks;          /* marks at or before the crash point */
	size_t lastmark;          /* op index of the last of them */
	uint64_t rng;             /* random mode */
	struct timespec t0;
	bool out_of_time;         /* --budget ran out */
	size_t fallbacks;         /* exhaustive windows that fell back */
	uint64_t fallback_max;    /* largest in-flight set that did */
};

static double ex_elapsed(const struct ex *ex)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - ex->t0.tv_sec) +
	       (double)(now.tv_nsec - ex->t0.tv_nsec) / 1e9;
}

static uint64_t ex_rand(uint64_t *s)
{
	/* splitmix64: small, fast, and the same on every machine */
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* ---- options ---- */

int explore_parse_mode(const char *text, struct explore_opts *o)
{
	char *end;
	unsigned long v;

	snprintf(o->mode_text, sizeof(o->mode_text), "%s", text);
	if (!strcmp(text, "prefix"))
		o->mode = EXPLORE_PREFIX;
	else if (!strcmp(text, "omit-one"))
		o->mode = EXPLORE_OMIT_ONE;
	else if (!strcmp(text, "exhaustive"))
		o->mode = EXPLORE_EXHAUSTIVE;
	else if (!strncmp(text, "bounded:", 8) || !strncmp(text, "random:", 7)) {
		const char *num = strchr(text, ':') + 1;

		errno = 0;
		v = strtoul(num, &end, 10);
		if (!*num || *end || errno || v < 1 || v > 100000000)
			return -EINVAL;
		o->mode = text[0] == 'b' ? EXPLORE_BOUNDED : EXPLORE_RANDOM;
		o->k = (unsigned)v;
		if (o->mode == EXPLORE_BOUNDED && v > 8)
			return -EINVAL;
	} else
		return -EINVAL;
	return 0;
}

int explore_parse_tear(const char *text, struct explore_opts *o)
{
	static const struct { const char *word; char kind; } words[] = {
		{"old", 'o'}, {"new", 0}, {"zero", 'z'}, {"zeros", 'z'}, {"garbage", 'g'},
	};
	char buf[128], *tok, *save = NULL;
	size_t n = 0, i;

	snprintf(buf, sizeof(buf), "%s", text);
	memset(o->kinds, 0, sizeof(o->kinds));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (!strcmp(tok, words[i].word))
				break;
		if (i == sizeof(words) / sizeof(words[0]))
			return -EINVAL;
		if (words[i].kind && !strchr(o->kinds, words[i].kind) && n < 3)
			o->kinds[n++] = words[i].kind;
	}
	return 0;
}

static bool kind_ok(const struct ex *ex, char k)
{
	return k == 'n' || strchr(ex->o->kinds, k);
}

/* ---- tear variants of one write ---- */

struct ex_range {
	uint64_t start;  /* first byte of the pattern's range */
	size_t nsect;    /* sectors in the range */
	size_t first;    /* first sector the write touches */
	size_t last;     /* last sector the write touches */
};

static void ex_range_of(const struct ex *ex, const struct ops_op *op, struct ex_range *r)
{
	uint64_t unit = ex->o->block ? ex->o->block : ex->o->sector;
	uint64_t end = op->off + op->data_len;
	uint64_t stop = (end + unit - 1) / unit * unit;

	r->start = op->off / unit * unit;
	r->nsect = (size_t)((stop - r->start) / ex->o->sector);
	r->first = (size_t)((op->off - r->start) / ex->o->sector);
	r->last = (size_t)((end - 1 - r->start) / ex->o->sector);
}

/* Adds kinds as a variant unless it is all new, too long or a duplicate. */
static size_t add_variant(struct ex_variant *v, size_t n, const char *kinds,
			  size_t nsect, bool size_lost)
{
	struct ex_variant nv = {.size_lost = size_lost};
	size_t i;

	if (n >= EX_MAX_VARIANTS || (!size_lost && !memchr(kinds, 'o', nsect) &&
				     !memchr(kinds, 'z', nsect) && !memchr(kinds, 'g', nsect)))
		return n;
	if (memchr(kinds, 'o', nsect) || memchr(kinds, 'z', nsect) || memchr(kinds, 'g', nsect))
		if (state_rle_encode(kinds, nsect, nv.rle, sizeof(nv.rle)) < 0)
			return n;
	for (i = 0; i < n; i++)
		if (!strcmp(v[i].rle, nv.rle) && v[i].size_lost == nv.size_lost)
			return n;
	v[n] = nv;
	return n + 1;
}

/* Sectors [a, b] of the write become kind k where the model lets them tear. */
static void paint(char *kinds, const struct ex_range *r, size_t a, size_t b, char k,
		  uint64_t sector, uint64_t below)
{
	size_t i;

	for (i = a; i <= b && i < r->nsect; i++)
		if (r->start + (i + 1) * sector <= below)
			kinds[i] = k;
}

static bool ex_atomic(const struct ex *ex, const struct ops_op *op)
{
	uint32_t a = ex->o->atomic;

	return a && op->data_len <= a && op->off / a == (op->off + op->data_len - 1) / a;
}

/*
 * The tear variants of write idx at crash point crash: a fixed, small
 * family (partial persistence in order and out of order, one damaged
 * sector at either end, all zeros, collateral damage to clean sectors of
 * the same block, bytes without size), each restricted by the model.
 */
static size_t ex_tears(const struct ex *ex, size_t idx, uint64_t crash,
		       struct ex_variant *v)
{
	const struct ops_op *op = &ex->t->v[idx];
	struct model_tear_rules mr;
	struct ex_range r;
	char kinds[4096];
	size_t n = 0, nop, ks[3], j;
	uint64_t sec = ex->o->sector, below;
	const char dmg[] = {'z', 'g'};

	model_tear_rules(ex->plan, idx, crash, &mr);
	if (!mr.may_tear)
		return 0;
	ex_range_of(ex, op, &r);
	if (r.nsect > sizeof(kinds))
		return 0;
	memset(kinds, 'n', r.nsect);
	if (mr.size_lost_ok)
		n = add_variant(v, n, kinds, r.nsect, true);
	if (ex_atomic(ex, op))
		return n;
	below = mr.tear_below;
	nop = r.last - r.first + 1;
	ks[0] = 1, ks[1] = nop / 2, ks[2] = nop - 1;
	for (j = 0; kind_ok(ex, 'o') && nop >= 2 && j < 3; j++) {
		memset(kinds, 'n', r.nsect);
		paint(kinds, &r, r.first + ks[j], r.last, 'o', sec, below);
		n = add_variant(v, n, kinds, r.nsect, false);
	}
	if (kind_ok(ex, 'o') && nop >= 2) {
		memset(kinds, 'n', r.nsect);
		paint(kinds, &r, r.first, r.first + nop / 2 - 1, 'o', sec, below);
		n = add_variant(v, n, kinds, r.nsect, false);
	}
	for (j = 0; j < 2; j++) {
		if (!kind_ok(ex, dmg[j]))
			continue;
		memset(kinds, 'n', r.nsect);
		paint(kinds, &r, r.first, r.first, dmg[j], sec, below);
		n = add_variant(v, n, kinds, r.nsect, false);
		memset(kinds, 'n', r.nsect);
		paint(kinds, &r, r.last, r.last, dmg[j], sec, below);
		n = add_variant(v, n, kinds, r.nsect, false);
	}
	if (kind_ok(ex, 'z') || mr.size_only_ok) {
		memset(kinds, 'n', r.nsect);
		paint(kinds, &r, r.first, r.last, 'z', sec,
		      mr.size_only_ok ? UINT64_MAX : below);
		n = add_variant(v, n, kinds, r.nsect, false);
	}
	if (ex->o->block && kind_ok(ex, 'g') && nop < r.nsect) {
		memset(kinds, 'n', r.nsect);
		paint(kinds, &r, 0, r.nsect - 1, 'g', sec, below);
		memset(kinds + r.first, 'n', nop);
		n = add_variant(v, n, kinds, r.nsect, false);
	}
	return n;
}

/* A random tear of write idx: each sector new or one of the allowed kinds. */
static bool ex_random_tear(struct ex *ex, size_t idx, uint64_t crash,
			   uint64_t *rng, struct ex_variant *v)
{
	const struct ops_op *op = &ex->t->v[idx];
	struct model_tear_rules mr;
	struct ex_range r;
	char kinds[4096], pool[4] = {'n'};
	size_t np = 1, i;

	model_tear_rules(ex->plan, idx, crash, &mr);
	if (!mr.may_tear)
		return false;
	ex_range_of(ex, op, &r);
	if (r.nsect > sizeof(kinds))
		return false;
	for (i = 0; ex->o->kinds[i]; i++)
		pool[np++] = ex->o->kinds[i];
	memset(kinds, 'n', r.nsect);
	for (i = 0; !ex_atomic(ex, op) && i < r.nsect; i++) {
		bool clean = i < r.first || i > r.last;
		char k = pool[ex_rand(rng) % np];

		if (!(clean && k == 'o'))
			paint(kinds, &r, i, i, k, ex->o->sector, mr.tear_below);
	}
	memset(v, 0, sizeof(*v));
	v->size_lost = mr.size_lost_ok && ex_rand(rng) % 2;
	if (add_variant(v, 0, kinds, r.nsect, v->size_lost) == 0)
		return false;
	return true;
}

/* ---- explanations ---- */

/* Appends "op 790 (write /db @8192+4096)" for op idx to buf. */
static void describe_op(const struct ex *ex, size_t idx, char *buf, size_t cap)
{
	const struct ops_op *op = &ex->t->v[idx];
	char path[1024];
	size_t len = strlen(buf);

	if (op->kind == OPS_MARK) {
		snprintf(buf + len, cap - len, "op %" PRIu64 " (mark \"%.*s\")", op->seq,
			 (int)op->name_len, ops_name(ex->t, op));
		return;
	}
	names_path(ex->names, op->kind == OPS_NS ? op->parent : op->id, path, sizeof(path));
	if (op->op == TRACE_OP_RENAME) {
		char to[1024];

		names_path(ex->names, op->parent2, to, sizeof(to));
		snprintf(buf + len, cap - len, "op %" PRIu64 " (rename %s%s%.*s -> %s%s%.*s)",
			 op->seq, path, strcmp(path, "/") ? "/" : "", (int)op->name_len,
			 ops_name(ex->t, op), to, strcmp(to, "/") ? "/" : "",
			 (int)op->name2_len, ops_name2(ex->t, op));
	} else if (op->kind == OPS_NS)
		snprintf(buf + len, cap - len, "op %" PRIu64 " (%s %s%s%.*s)", op->seq,
			 trace_op_name(op->op), path, strcmp(path, "/") ? "/" : "",
			 (int)op->name_len, ops_name(ex->t, op));
	else if (op->op == TRACE_OP_WRITE || op->op == TRACE_OP_FALLOCATE)
		snprintf(buf + len, cap - len, "op %" PRIu64 " (%s %s @%" PRIu64 "+%" PRIu64 ")",
			 op->seq, trace_op_name(op->op), path, op->off,
			 op->op == TRACE_OP_WRITE ? (uint64_t)op->data_len : op->len);
	else if (op->op == TRACE_OP_TRUNCATE)
		snprintf(buf + len, cap - len, "op %" PRIu64 " (truncate %s to %" PRIu64 ")",
			 op->seq, path, op->off);
	else
		snprintf(buf + len, cap - len, "op %" PRIu64 " (%s %s)", op->seq,
			 trace_op_name(op->op), path);
}

/* "sectors 0-3 new, 4-7 old" from a run-length pattern. */
static void describe_rle(const char *rle, char *buf, size_t cap)
{
	static const struct { char k; const char *w; } words[] = {
		{'n', "new"}, {'o', "old"}, {'z', "zeros"}, {'g', "garbage"},
	};
	size_t at = 0, len = strlen(buf);
	const char *p = rle;

	while (*p && len < cap) {
		unsigned long count = strtoul(p, (char **)&p, 10);
		const char *w = "?";
		size_t i;

		for (i = 0; i < 4; i++)
			if (words[i].k == *p)
				w = words[i].w;
		p++;
		len += (size_t)snprintf(buf + len, cap - len, "%s%zu-%zu %s",
					at ? ", " : "sectors ", at, at + count - 1, w);
		at += count;
	}
}

/* The explanation of state s (crash point op index x), for reports. */
static char *ex_explain_at(const struct ex *ex, const struct state *s, size_t x,
			   uint64_t nmarks, size_t lastmark)
{
	char buf[4096] = "crash after ";
	size_t i;

	describe_op(ex, x, buf, sizeof(buf));
	for (i = 0; i < s->n; i++) {
		const struct state_choice *c = &s->ch[i];
		long idx = ops_index(ex->t, c->seq);
		size_t len = strlen(buf);

		snprintf(buf + len, sizeof(buf) - len, "; %s ",
			 c->how == STATE_DROP ? "lost" : "torn");
		if (idx >= 0)
			describe_op(ex, (size_t)idx, buf, sizeof(buf));
		len = strlen(buf);
		if (c->how == STATE_TEAR && c->rle) {
			snprintf(buf + len, sizeof(buf) - len, ": ");
			describe_rle(c->rle, buf, sizeof(buf));
		}
		len = strlen(buf);
		if (c->how == STATE_TEAR && c->size_lost)
			snprintf(buf + len, sizeof(buf) - len, "%s", ", its new size lost");
	}
	i = strlen(buf);
	if (nmarks)
		snprintf(buf + i, sizeof(buf) - i, "; %" PRIu64 " marks acknowledged, last \"%.*s\"",
			 nmarks, (int)ex->t->v[lastmark].name_len,
			 ops_name(ex->t, &ex->t->v[lastmark]));
	else
		snprintf(buf + i, sizeof(buf) - i, "; no marks acknowledged");
	return strdup(buf);
}

static char *ex_explain(const struct ex *ex, const struct state *s, size_t x)
{
	return ex_explain_at(ex, s, x, ex->nmarks, ex->lastmark);
}

/* ---- checking ---- */

/* Path of the marks file for the current crash point (written on first use). */
static int ex_marks_file(struct ex *ex, char *path, size_t cap)
{
	snprintf(path, cap, "%s/marks.%" PRIu64, ex->workdir, ex->nmarks);
	if (access(path, F_OK) == 0)
		return 0;
	return ops_write_marks(ex->t, ex->nmarks ? ex->t->v[ex->lastmark].seq : 0, path);
}

/* Keeps a failing state and a script that replays and re-checks it. */
static void ex_keep(struct ex *ex, struct ex_slot *sl)
{
	char dst[4400], script[4400];
	FILE *f;

	mkdir(ex->o->keep_failures, 0755);
	snprintf(dst, sizeof(dst), "%s/%s", ex->o->keep_failures, sl->id);
	mat_remove(dst);
	if (rename(sl->dir, dst) < 0)
		return; /* another file system: the script can rebuild it */
	snprintf(script, sizeof(script), "%s/%s.sh", ex->o->keep_failures, sl->id);
	f = fopen(script, "we");
	if (!f)
		return;
	fprintf(f, "#!/bin/sh\n# Rebuilds crash state %s of %s and runs the checker on it.\n"
		   "exec faultline replay '%s' '%s' --into \"${1:-./%s.replayed}\" --check '%s'\n",
		sl->id, ex->o->trace, ex->o->trace, sl->id, sl->id, ex->o->check);
	fclose(f);
	chmod(script, 0755);
}

static int ex_finish_one(struct ex *ex)
{
	struct check_result res;
	void *token;
	int rc = check_wait(ex->run, &token, &res);
	struct ex_slot *sl = token;

	if (rc <= 0)
		return rc;
	ex->rep->checked++;
	if (res.passed) {
		ex->rep->passed++;
	} else {
		struct report_failure f = {
			.id = sl->id, .crash_after = sl->crash, .explanation = sl->why,
			.exit_status = res.exit_status, .signal = res.signal,
			.timed_out = res.timed_out, .output = res.output, .content_key = sl->key,
		};

		ex->rep->failed++;
		rc = report_add_failure(ex->rep, &f);
		if (ex->o->keep_failures)
			ex_keep(ex, sl);
	}
	check_result_free(&res);
	mat_remove(sl->dir);
	free(sl->why);
	sl->why = NULL;
	sl->busy = false;
	report_progress_update(ex->prog, ex->rep->checked, ex->rep->unique, ex->rep->failed);
	return rc < 0 ? rc : 1;
}

static struct ex_slot *ex_free_slot(struct ex *ex, int *err)
{
	size_t i;

	for (;;) {
		for (i = 0; i <= ex->o->jobs; i++)
			if (!ex->slots[i].busy)
				return &ex->slots[i];
		if ((*err = ex_finish_one(ex)) < 0)
			return NULL;
	}
}

static int key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* True if key was seen before; remembers it.  -ENOMEM as "seen" is never returned. */
static int ex_seen(struct ex *ex, uint64_t key)
{
	uint64_t *k = malloc(sizeof(*k));
	void **p;

	if (!k)
		return -ENOMEM;
	*k = key;
	p = tsearch(k, &ex->seen, key_cmp);
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

/*
 * Builds state s (crash point op index x) from the image plus extra ops,
 * and starts its check unless it is a duplicate or another shard's.
 */
static int ex_try(struct ex *ex, const struct state *s, size_t x,
		  const size_t *extra, size_t n)
{
	char err[512], marks[4200];
	struct ex_slot *sl;
	uint64_t key;
	int rc;

	if (ex->o->budget > 0 && ex_elapsed(ex) > ex->o->budget)
		ex->out_of_time = true;
	if (ex->out_of_time)
		return 0;
	ex->rep->generated++;
	if (!(sl = ex_free_slot(ex, &rc)))
		return rc;
	rc = mat_build(ex->mat, s, extra, n, sl->dir, &key, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "faultline: explore: %s\n", err);
		mat_remove(sl->dir);
		return rc;
	}
	key = XXH3_64bits_withSeed(&key, sizeof(key), ex->nmarks);
	rc = ex_seen(ex, key);
	if (rc == 0)
		ex->rep->unique++;
	if (rc != 0 || (ex->o->shard_n && key % ex->o->shard_n != ex->o->shard_k - 1)) {
		mat_remove(sl->dir);
		return rc < 0 ? rc : 0;
	}
	state_id(s, sl->id, sizeof(sl->id));
	sl->crash = s->crash;
	sl->key = key;
	sl->why = ex_explain(ex, s, x);
	while (check_running(ex->run) >= ex->o->jobs && (rc = ex_finish_one(ex)) > 0)
		;
	if (rc < 0 || (rc = ex_marks_file(ex, marks, sizeof(marks))) < 0 ||
	    (rc = check_start(ex->run, sl->dir, sl->id, marks, sl)) < 0) {
		free(sl->why);
		sl->why = NULL;
		mat_remove(sl->dir);
		return rc;
	}
	sl->busy = true;
	return 0;
}

/* ---- the modes ---- */

/*
 * Prefix sweep: the image holds every op before the crash point and only
 * the op at the crash point is in flight (whole or torn).  Used by prefix
 * mode and by models that only allow ordered prefixes.
 */
static bool ex_prefix_sweep(const struct ex *ex)
{
	return ex->o->mode == EXPLORE_PREFIX || ex->plan->m->prefix_only;
}

/* Builds the state: in-flight ops, drop[] (fixed up) and tear[] choices. */
static int ex_choice(struct ex *ex, uint64_t crash, size_t x, bool *drop,
		     const struct ex_variant *const *tear)
{
	struct state s = {.crash = crash, .sector = ex->o->sector, .block = ex->o->block};
	size_t i;
	int rc = 0;

	model_fixup(ex->plan, ex->inflight, ex->ninf, drop);
	for (i = 0; !rc && i < ex->ninf; i++) {
		uint64_t seq = ex->t->v[ex->inflight[i]].seq;

		if (drop[i])
			rc = state_add(&s, seq, STATE_DROP, NULL, false);
		else if (tear[i])
			rc = state_add(&s, seq, STATE_TEAR, tear[i]->rle, tear[i]->size_lost);
	}
	if (!rc)
		rc = ex_try(ex, &s, x, ex->inflight, ex->ninf);
	state_free(&s);
	return rc;
}

struct ex_combo {
	bool *drop;                          /* per in-flight op */
	const struct ex_variant **tear;      /* per in-flight op, NULL = whole */
	struct ex_variant (*var)[EX_MAX_VARIANTS]; /* tear variants per op */
	size_t *nvar;                        /* count per op */
};

/* Every choice of up to k ops from position from on, each dropped or torn. */
static int ex_bounded(struct ex *ex, struct ex_combo *c, uint64_t crash, size_t x,
		      size_t from, unsigned k)
{
	size_t i, v;
	int rc = 0;

	for (i = from; !rc && k && i < ex->ninf && !ex->out_of_time; i++) {
		if (!ex_prefix_sweep(ex)) {
			c->drop[i] = true;
			rc = ex_choice(ex, crash, x, c->drop, c->tear);
			memset(c->drop, 0, ex->ninf * sizeof(*c->drop));
			if (!rc && k > 1) {
				c->drop[i] = true;
				rc = ex_bounded(ex, c, crash, x, i + 1, k - 1);
				c->drop[i] = false;
			}
		}
		for (v = 0; !rc && v < c->nvar[i]; v++) {
			c->tear[i] = &c->var[i][v];
			rc = ex_choice(ex, crash, x, c->drop, c->tear);
			if (!rc && k > 1)
				rc = ex_bounded(ex, c, crash, x, i + 1, k - 1);
			c->tear[i] = NULL;
		}
	}
	return rc;
}

/*
 * Every subset of in-flight ops dropped, each with nothing or one kept
 * write torn (from its tear family); past the window, bounded:2.
 */
static int ex_exhaustive(struct ex *ex, struct ex_combo *c, uint64_t crash, size_t x)
{
	uint64_t mask, i;
	int rc = 0;

	if (ex_prefix_sweep(ex) || ex->ninf > ex->o->window) {
		if (ex->ninf > ex->o->window) {
			ex->fallbacks++;
			if (ex->ninf > ex->fallback_max)
				ex->fallback_max = ex->ninf;
		}
		return ex_bounded(ex, c, crash, x, 0, 2);
	}
	/* mask 0 (nothing dropped, nothing torn) was built by the caller */
	for (mask = 0; !rc && mask < (UINT64_C(1) << ex->ninf) && !ex->out_of_time; mask++) {
		for (i = 0; i < ex->ninf; i++)
			c->drop[i] = (mask >> i) & 1;
		if (mask)
			rc = ex_choice(ex, crash, x, c->drop, c->tear);
		for (i = 0; !rc && i < ex->ninf; i++) {
			size_t v;

			for (v = 0; !rc && !c->drop[i] && v < c->nvar[i]; v++) {
				c->tear[i] = &c->var[i][v];
				rc = ex_choice(ex, crash, x, c->drop, c->tear);
			}
			c->tear[i] = NULL;
		}
	}
	memset(c->drop, 0, ex->ninf * sizeof(*c->drop));
	return rc;
}

/* One random state: each in-flight op kept, dropped or torn (a third each). */
static int ex_random_one(struct ex *ex, struct ex_combo *c, uint64_t crash,
			 size_t x, uint64_t seed)
{
	uint64_t rng = seed;
	size_t i;
	int rc;

	for (i = 0; i < ex->ninf; i++) {
		unsigned r = (unsigned)(ex_rand(&rng) % 3);

		c->drop[i] = r == 1 && !ex_prefix_sweep(ex);
		c->tear[i] = NULL;
		if (r == 2 && ex_random_tear(ex, ex->inflight[i], crash, &rng, &c->var[i][0]))
			c->tear[i] = &c->var[i][0];
	}
	rc = ex_choice(ex, crash, x, c->drop, c->tear);
	memset(c->drop, 0, ex->ninf * sizeof(*c->drop));
	memset(c->tear, 0, ex->ninf * sizeof(*c->tear));
	return rc;
}

/* Sizes c for the current in-flight list and computes its tear variants. */
static int ex_combo_prepare(struct ex *ex, struct ex_combo *c, uint64_t crash)
{
	size_t i, n = ex->ninf ? ex->ninf : 1;

	free(c->drop);
	free(c->tear);
	free(c->var);
	free(c->nvar);
	c->drop = calloc(n, sizeof(*c->drop));
	c->tear = calloc(n, sizeof(*c->tear));
	c->var = calloc(n, sizeof(*c->var));
	c->nvar = calloc(n, sizeof(*c->nvar));
	if (!c->drop || !c->tear || !c->var || !c->nvar)
		return -ENOMEM;
	for (i = 0; ex->o->mode != EXPLORE_RANDOM && i < ex->ninf; i++)
		c->nvar[i] = ex_tears(ex, ex->inflight[i], crash, c->var[i]);
	return 0;
}

static void ex_combo_free(struct ex_combo *c)
{
	free(c->drop);
	free(c->tear);
	free(c->var);
	free(c->nvar);
}

/*
 * The states of crash point x.  draws: random mode's seeds for this
 * crash point (ndraws of them).
 */
static int ex_crash_point(struct ex *ex, size_t x, const uint64_t *draws, size_t ndraws)
{
	struct ex_combo c = {0};
	uint64_t crash = ex->t->v[x].seq;
	size_t i;
	int rc = ex_combo_prepare(ex, &c, crash);

	if (!rc && ex->o->mode != EXPLORE_RANDOM)
		rc = ex_choice(ex, crash, x, c.drop, c.tear); /* everything in flight kept */
	switch (ex->o->mode) {
	case EXPLORE_PREFIX:
	case EXPLORE_OMIT_ONE:
		if (!rc)
			rc = ex_bounded(ex, &c, crash, x, 0, 1);
		break;
	case EXPLORE_BOUNDED:
		if (!rc)
			rc = ex_bounded(ex, &c, crash, x, 0, ex->o->k);
		break;
	case EXPLORE_EXHAUSTIVE:
		if (!rc)
			rc = ex_exhaustive(ex, &c, crash, x);
		break;
	case EXPLORE_RANDOM:
		for (i = 0; !rc && i < ndraws; i++)
			rc = ex_random_one(ex, &c, crash, x, draws[i]);
		break;
	}
	ex_combo_free(&c);
	return rc;
}

/* ---- the sweep ---- */

static void ex_names(struct ex *ex, const struct ops_op *op)
{
	ops_names_apply(ex->names, ex->t, op);
}

static bool changes_state(const struct ops_op *op)
{
	return op->kind == OPS_DATA || op->kind == OPS_NS;
}

static int inflight_add(struct ex *ex, size_t idx)
{
	if (ex->ninf == ex->capinf) {
		size_t cap = ex->capinf ? 2 * ex->capinf : 64;
		size_t *v = realloc(ex->inflight, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ex->inflight = v;
		ex->capinf = cap;
	}
	ex->inflight[ex->ninf++] = idx;
	return 0;
}

static void inflight_remove(struct ex *ex, size_t idx)
{
	size_t i;

	for (i = 0; i < ex->ninf; i++)
		if (ex->inflight[i] == idx) {
			memmove(&ex->inflight[i], &ex->inflight[i + 1],
				(ex->ninf - i - 1) * sizeof(*ex->inflight));
			ex->ninf--;
			return;
		}
}

/* Moves the sweep to crash point x: names, marks, image, in-flight ops. */
static int ex_advance(struct ex *ex, size_t from, size_t x)
{
	uint64_t crash = ex->t->v[x].seq;
	size_t i;
	int rc = 0;

	for (i = from; i <= x; i++) {
		ex_names(ex, &ex->t->v[i]);
		if (ex->t->v[i].kind == OPS_MARK) {
			ex->nmarks++;
			ex->lastmark = i;
		}
	}
	if (ex_prefix_sweep(ex)) {
		for (; !rc && ex->imgnext < x; ex->imgnext++)
			if (changes_state(&ex->t->v[ex->imgnext]))
				rc = mat_image_apply(ex->mat, ex->imgnext);
		ex->ninf = 0;
		return rc ? rc : changes_state(&ex->t->v[x]) ? inflight_add(ex, x) : 0;
	}
	for (i = from; !rc && i <= x; i++)
		if (changes_state(&ex->t->v[i]))
			rc = inflight_add(ex, i);
	for (; !rc && ex->durnext < ex->ndur &&
	       ex->plan->durable_at[ex->bydur[ex->durnext]] <= crash; ex->durnext++) {
		rc = mat_image_apply(ex->mat, ex->bydur[ex->durnext]);
		inflight_remove(ex, ex->bydur[ex->durnext]);
	}
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
		if (changes_state(&ex->t->v[i]) && ex->plan->durable_at[i] != MODEL_NEVER)
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

/* Runs the sweep over the crash points cps[0..ncp). */
static int ex_sweep(struct ex *ex, const size_t *cps, size_t ncp, size_t *done)
{
	struct ex_draw *draws = NULL;
	uint64_t *seeds = NULL, rng = ex->o->seed;
	size_t i, d = 0, nd = ex->o->mode == EXPLORE_RANDOM ? ex->o->k : 0, prev = 0;
	int rc = 0;

	if (nd && ncp) {
		draws = malloc(nd * sizeof(*draws));
		seeds = malloc(nd * sizeof(*seeds));
		if (!draws || !seeds)
			rc = -ENOMEM;
		for (i = 0; !rc && i < nd; i++) {
			draws[i].cp = (size_t)(ex_rand(&rng) % ncp);
			draws[i].seed = ex_rand(&rng);
		}
		if (!rc)
			qsort(draws, nd, sizeof(*draws), draw_cmp);
	}
	for (i = 0; !rc && i < ncp && !ex->out_of_time; i++) {
		size_t n = 0;

		if ((rc = ex_advance(ex, prev, cps[i])) < 0)
			break;
		prev = cps[i] + 1;
		for (; d < nd && draws[d].cp == i; d++)
			seeds[n++] = draws[d].seed;
		if (nd && !n)
			continue;
		rc = ex_crash_point(ex, cps[i], seeds, n);
		if (!rc && !ex->out_of_time)
			(*done)++;
	}
	if (nd && ncp && !ex->out_of_time)
		*done = ncp;
	free(draws);
	free(seeds);
	return rc;
}

/* ---- causes: minimal failing states, grouped ---- */

#define EX_CAUSE_MAX 64      /* failures minimized; the rest are grouped as they are */
#define EX_CAUSE_TESTS 2000  /* checker runs the minimization may spend in all */

struct ex_cz {
	struct mat *m;       /* a materializer whose image is the bare base */
	size_t *extra;       /* state-changing op indices, ascending */
	size_t nextra;
	char dir[4300];      /* where test states are built */
	char **seen_id;      /* ids tested, and ... */
	int *seen_fail;      /* ... whether they failed, ... */
	char **seen_line;    /* ... and the checker's first line */
	size_t nseen;
	size_t tests;        /* checker runs so far */
	char line[256];      /* first output line of the last failing test */
};

/* Builds and checks s; 1 fails, 0 passes, < 0 error.  Results are cached by id. */
static int cz_test(struct ex *ex, struct ex_cz *z, const struct state *s)
{
	char id[STATE_ID_MAX], err[512], marks[4300];
	struct check_result res;
	size_t n = 0, i;
	uint64_t key;
	void *tok;
	int rc;

	state_id(s, id, sizeof(id));
	for (i = 0; i < z->nseen; i++)
		if (!strcmp(z->seen_id[i], id)) {
			snprintf(z->line, sizeof(z->line), "%s", z->seen_line[i]);
			return z->seen_fail[i];
		}
	if (z->tests++ >= EX_CAUSE_TESTS)
		return -EAGAIN;
	while (n < z->nextra && ex->t->v[z->extra[n]].seq <= s->crash)
		n++;
	mat_remove(z->dir);
	if ((rc = mat_build(z->m, s, z->extra, n, z->dir, &key, err, sizeof(err))) < 0)
		return rc;
	snprintf(marks, sizeof(marks), "%s/cause-marks", ex->workdir);
	if ((rc = ops_write_marks(ex->t, s->crash, marks)) < 0 ||
	    (rc = check_start(ex->run, z->dir, id, marks, NULL)) < 0 ||
	    (rc = check_wait(ex->run, &tok, &res)) < 0)
		return rc;
	rc = !res.passed;
	snprintf(z->line, sizeof(z->line), "%.*s", (int)strcspn(res.output, "\n"), res.output);
	if (rc && !z->line[0])
		snprintf(z->line, sizeof(z->line), "%s", res.timed_out ? "checker timed out"
			 : res.signal ? "checker killed by a signal" : "checker failed");
	check_result_free(&res);
	mat_remove(z->dir);
	z->seen_id = realloc(z->seen_id, (z->nseen + 1) * sizeof(*z->seen_id));
	z->seen_fail = realloc(z->seen_fail, (z->nseen + 1) * sizeof(*z->seen_fail));
	z->seen_line = realloc(z->seen_line, (z->nseen + 1) * sizeof(*z->seen_line));
	z->seen_id[z->nseen] = strdup(id);
	z->seen_line[z->nseen] = strdup(z->line);
	z->seen_fail[z->nseen++] = rc;
	return rc;
}

/* The state of crash with the choices of full selected by keep[]. */
static void cz_subset(const struct state *full, const bool *keep, struct state *out)
{
	size_t i;

	state_clear(out);
	out->crash = full->crash;
	out->sector = full->sector;
	out->block = full->block;
	for (i = 0; i < full->n; i++)
		if (keep[i])
			state_add(out, full->ch[i].seq, full->ch[i].how, full->ch[i].rle,
				  full->ch[i].size_lost);
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

	memset(trial, 0, full->n + 1);
	cz_subset(full, trial, &t);
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
			cz_subset(full, trial, &t);
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
	struct names *end = ex->names, *at = names_new();
	size_t i;

	if (!at)
		return NULL;
	ex->names = at;
	for (i = 0; i < ex->t->nbase; i++)
		ex_names(ex, &ex->t->base[i]);
	for (i = 0; i < ex->t->n && ex->t->v[i].seq <= crash; i++)
		ex_names(ex, &ex->t->v[i]);
	ex->names = end;
	return at;
}

struct ex_group {
	char sig[1024];  /* cz_signature */
	char *id;        /* representative minimal state */
	char *words;     /* its explanation */
};

/* The cause of failure f: minimized (the first EX_CAUSE_MAX), then named. */
static int cz_one(struct ex *ex, struct ex_cz *z, struct report_failure *f, bool minimize,
		  struct ex_group **g, size_t *ng)
{
	struct state full = {0}, min = {0};
	char err[256], sig[1024], id[STATE_ID_MAX], line[256];
	bool *keep;
	size_t i;
	long x;
	int rc = state_parse(f->id, &full, err, sizeof(err));

	if (rc < 0 || !(keep = malloc(full.n + 1))) {
		state_free(&full);
		return rc < 0 ? rc : -ENOMEM;
	}
	memset(keep, 1, full.n + 1);
	if (minimize)
		cz_ddmin(ex, z, &full, keep);
	cz_subset(&full, keep, &min);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(f->output ? f->output : "", "\n"),
		 f->output ? f->output : "");
	if (min.n < full.n && cz_test(ex, z, &min) == 1)
		snprintf(line, sizeof(line), "%s", z->line);
	cz_signature(ex, &min, line, sig, sizeof(sig));
	for (i = 0; i < *ng && strcmp((*g)[i].sig, sig); i++)
		;
	if (i == *ng) {
		char *why;
		size_t last;

		*g = realloc(*g, (*ng + 1) * sizeof(**g));
		snprintf((*g)[i].sig, sizeof((*g)[i].sig), "%s", sig);
		state_id(&min, id, sizeof(id));
		(*g)[i].id = strdup(id);
		uint64_t nm = ops_marks_before(ex->t, min.crash, &last);

		struct names *end = ex->names, *at = names_at(ex, min.crash);

		x = ops_index(ex->t, min.crash);
		/* Paths as they were at the crash, as the state lines say them. */
		if (at)
			ex->names = at;
		why = ex_explain_at(ex, &min, x >= 0 ? (size_t)x : 0, nm, last);
		ex->names = end;
		names_free(at);
		(*g)[i].words = malloc(strlen(why) + strlen(line) + 64);
		sprintf((*g)[i].words, "%s%s%s; %s", line, line[0] ? ": " : "", why,
			min.n ? "nothing else needed" : "with everything in flight persisted");
		free(why);
		(*ng)++;
	}
	f->cause = strdup((*g)[i].id);
	f->cause_words = strdup((*g)[i].words);
	free(keep);
	state_free(&full);
	state_free(&min);
	return 0;
}

/*
 * Finds each failure's cause: the smallest set of its lost and torn ops
 * that still fails (ddmin, from "everything in flight persisted"), then
 * groups failures whose causes lose or tear the same kind of op on the
 * same file.  Runs after every state has been checked.
 */
static void ex_causes(struct ex *ex)
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
	z.extra = malloc((ex->t->n + 1) * sizeof(*z.extra));
	for (i = 0; z.extra && i < ex->t->n; i++)
		if (changes_state(&ex->t->v[i]))
			z.extra[z.nextra++] = i;
	for (i = 0; z.extra && i < ex->rep->nfailures; i++)
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
	free(z.extra);
	mat_free(z.m);
	mat_remove(wd);
}

/* ---- setup and teardown ---- */

static int ex_open(struct ex *ex, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	size_t i;
	int rc;

	if ((rc = ops_load(ex->o->trace, true, &ex->t, err, errlen)) < 0)
		return rc == -ENOMEM ? rc : -FL_EBADTRACE;
	if ((rc = model_plan_new(ex->o->model, ex->t, &ex->plan)) < 0 ||
	    (rc = ex_sort_durable(ex)) < 0 || !(ex->names = names_new()))
		return rc < 0 ? rc : -ENOMEM;
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
	if ((rc = mat_new(ex->t, ex->workdir, ex->o->scratch, &ex->mat, err, errlen)) < 0)
		return rc; /* -FL_EBADTRACE for a hostile base: exit 2 */
	for (i = 0; i < ex->t->nbase; i++) /* the base's names, for explanations */
		ex_names(ex, &ex->t->base[i]);
	ex->slots = calloc(ex->o->jobs + 1, sizeof(*ex->slots));
	if (!ex->slots)
		return -ENOMEM;
	for (i = 0; i <= ex->o->jobs; i++)
		snprintf(ex->slots[i].dir, sizeof(ex->slots[i].dir), "%s/s%zu",
			 mat_root(ex->mat), i);
	rc = check_runner_new(ex->o->check, ex->o->jobs, ex->o->timeout, EX_OUTPUT_MAX, &ex->run);
	if (rc < 0)
		snprintf(err, errlen, "cannot start the checker runner: %s", strerror(-rc));
	return rc;
}

static void ex_close(struct ex *ex)
{
	size_t i;

	check_runner_free(ex->run);
	for (i = 0; ex->slots && i <= ex->o->jobs; i++)
		free(ex->slots[i].why);
	free(ex->slots);
	mat_free(ex->mat);
	if (ex->workdir[0] && !ex->o->workdir)
		mat_remove(ex->workdir);
	report_progress_end(ex->prog);
	names_free(ex->names);
	tdestroy(ex->seen, free);
	free(ex->inflight);
	free(ex->bydur);
	model_plan_free(ex->plan);
	ops_free(ex->t);
}

static void ex_fill_report(struct ex *ex, size_t done, size_t ncp)
{
	struct report *r = ex->rep;
	char note[512] = "";

	r->trace = strdup(ex->o->trace);
	r->model = strdup(ex->o->model->name);
	r->mode = strdup(ex->o->mode_text);
	r->mechanism = strdup(ex->mat ? mat_mechanism(ex->mat) : "none");
	r->shard_k = ex->o->shard_k;
	r->shard_n = ex->o->shard_n;
	r->coverage = ncp ? (double)done / (double)ncp : 1.0;
	r->elapsed_s = ex_elapsed(ex);
	if (ex->fallbacks)
		snprintf(note, sizeof(note), "exhaustive: %zu crash points had more than "
			 "%u ops in flight (up to %" PRIu64 "); those fell back to bounded:2",
			 ex->fallbacks, ex->o->window, ex->fallback_max);
	if (ex->out_of_time)
		snprintf(note + strlen(note), sizeof(note) - strlen(note),
			 "%s--budget %.0f s ran out after %zu of %zu crash points",
			 note[0] ? "; " : "", ex->o->budget, done, ncp);
	if (ex->t && ex->t->truncated)
		snprintf(note + strlen(note), sizeof(note) - strlen(note),
			 "%sexplored the trace's valid prefix only (%s)", note[0] ? "; " : "",
			 ex->t->stop_reason);
	r->note = note[0] ? strdup(note) : NULL;
	report_sort(r);
}

int explore_run(const struct explore_opts *o, struct report *rep, char *err,
		size_t errlen)
{
	struct ex ex = {.o = o, .rep = rep};
	size_t *cps = NULL, ncp = 0, done = 0, i;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &ex.t0);
	err[0] = 0;
	rc = ex_open(&ex, err, errlen);
	if (!rc && !(cps = malloc((ex.t->n + 1) * sizeof(*cps))))
		rc = -ENOMEM;
	for (i = 0; !rc && i < ex.t->n; i++)
		if (ex.t->v[i].kind != OPS_NONE)
			cps[ncp++] = i;
	if (!rc) {
		ex.prog = o->progress ? report_progress_new(stderr) : NULL;
		rc = ex_sweep(&ex, cps, ncp, &done);
	}
	while (ex.run && check_running(ex.run) > 0 && ex_finish_one(&ex) > 0)
		;
	if (!rc && ex.run)
		ex_causes(&ex);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "%s", strerror(-rc));
	ex_fill_report(&ex, done, ncp);
	free(cps);
	ex_close(&ex);
	return rc;
}
