/*
 * tear.c - the tear family of a write (the family is specified in tear.h).
 *
 * Each variant is built as at most a handful of runs over the write's
 * sector range, never as one byte per sector, so a write of any length
 * gets its whole family (a 64 MiB write is 131072 sectors, and still
 * about ten short patterns).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tear.h"

void tear_range(const struct tear_geom *g, uint64_t off, uint64_t len, struct tear_range *r)
{
	uint64_t unit = g->block ? g->block : g->sector;
	uint64_t end = off + len;
	uint64_t stop = (end + unit - 1) / unit * unit;

	r->start = off / unit * unit;
	r->nsect = (stop - r->start) / g->sector;
	r->first = (off - r->start) / g->sector;
	r->last = (end - 1 - r->start) / g->sector;
}

/* One variant under construction: up to TEAR_SEGS runs of sectors. */
#define TEAR_SEGS 8

struct pattern {
	uint64_t from[TEAR_SEGS]; /* first sector of each run */
	char kind[TEAR_SEGS];     /* its kind */
	size_t n;                 /* runs */
};

/* Starts a pattern that is all new over nsect sectors. */
static void pat_init(struct pattern *p)
{
	p->n = 1;
	p->from[0] = 0;
	p->kind[0] = 'n';
}

/* Kind of sector k in p. */
static char pat_kind(const struct pattern *p, uint64_t k)
{
	size_t i = p->n;

	while (i > 1 && p->from[i - 1] > k)
		i--;
	return p->kind[i - 1];
}

/* Paints sectors [a, b) of p with kind k (a < b <= nsect). */
static void pat_paint(struct pattern *p, uint64_t a, uint64_t b, char k, uint64_t nsect)
{
	struct pattern q = {0};
	uint64_t bounds[2 * TEAR_SEGS + 2];
	size_t nb = 0, i, j;

	for (i = 0; i < p->n; i++)
		bounds[nb++] = p->from[i];
	bounds[nb++] = a;
	if (b < nsect)
		bounds[nb++] = b;
	for (i = 0; i < nb; i++) /* sort (tiny) */
		for (j = i + 1; j < nb; j++)
			if (bounds[j] < bounds[i]) {
				uint64_t x = bounds[i];

				bounds[i] = bounds[j];
				bounds[j] = x;
			}
	for (i = 0; i < nb; i++) {
		uint64_t s = bounds[i];
		char kind = s >= a && s < b ? k : pat_kind(p, s);

		if (i + 1 < nb && bounds[i + 1] == s)
			continue;
		if (q.n && q.kind[q.n - 1] == kind)
			continue;
		q.from[q.n] = s;
		q.kind[q.n++] = kind;
	}
	*p = q;
}

/* Writes p's run-length code; NULL when every sector is new. */
static char *pat_rle(const struct pattern *p, uint64_t nsect)
{
	char buf[TEAR_SEGS * 24 + 1];
	size_t pos = 0, i;

	if (p->n == 1 && p->kind[0] == 'n')
		return NULL;
	for (i = 0; i < p->n; i++) {
		uint64_t to = i + 1 < p->n ? p->from[i + 1] : nsect;

		pos += (size_t)snprintf(buf + pos, sizeof(buf) - pos, "%" PRIu64 "%c",
					to - p->from[i], p->kind[i]);
	}
	return strdup(buf);
}

/*
 * End offset of the last byte p damages (a sector of kind other than 'n'),
 * 0 if none.  Damage stops where the materializer stops it: a sector the
 * write touches is damaged up to the write's end at most, a clean one up
 * to the larger of the write's end and the old size (state.h).
 */
static uint64_t pat_dmg_end(const struct pattern *p, const struct tear_range *r,
			    uint32_t sector, uint64_t cap)
{
	size_t i;

	for (i = p->n; i-- > 0;)
		if (p->kind[i] != 'n') {
			uint64_t to = r->start + (i + 1 < p->n ? p->from[i + 1] : r->nsect) * sector;

			return to < cap ? to : cap;
		}
	return 0;
}

/*
 * Adds p (with size_lost) to s unless it is the whole write or already
 * there.  cap: the larger of the write's end and the file's old size.
 */
static int add(struct tear_set *s, const struct pattern *p, bool size_lost,
	       const struct tear_range *r, uint32_t sector, uint64_t cap)
{
	struct tear_variant v = {.size_lost = size_lost}, *nv;
	size_t i;

	v.rle = pat_rle(p, r->nsect);
	if (!v.rle && !size_lost)
		return 0;
	if (!v.rle && !(p->n == 1 && p->kind[0] == 'n'))
		return -ENOMEM; /* strdup failed */
	for (i = 0; i < s->n; i++)
		if (s->v[i].size_lost == size_lost &&
		    !strcmp(s->v[i].rle ? s->v[i].rle : "", v.rle ? v.rle : "")) {
			free(v.rle);
			return 0;
		}
	v.dmg_end = pat_dmg_end(p, r, sector, cap);
	nv = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	if (!nv) {
		free(v.rle);
		return -ENOMEM; /* s stays as it was: the caller frees it */
	}
	s->v = nv;
	s->v[s->n++] = v;
	return 0;
}

static bool allowed(const struct tear_geom *g, char k)
{
	return strchr(g->kinds, k) != NULL;
}

static bool is_atomic(const struct tear_geom *g, const struct ops_op *op)
{
	uint32_t a = g->atomic;

	return a && op->data_len <= a && op->off / a == (op->off + op->data_len - 1) / a;
}

/* Variants 2-5 of the family: sector damage within the touched sectors. */
static int family_touched(const struct tear_geom *g, const struct tear_range *r,
			  uint64_t cap, struct tear_set *s)
{
	uint64_t nop = r->last - r->first + 1, ks[3] = {1, nop / 2, nop - 1};
	const char dmg[] = {'z', 'g'};
	struct pattern p;
	size_t j;
	int err = 0;

	for (j = 0; !err && allowed(g, 'o') && nop >= 2 && j < 3; j++) {
		pat_init(&p);
		pat_paint(&p, r->first + ks[j], r->last + 1, 'o', r->nsect);
		err = add(s, &p, false, r, g->sector, cap);
	}
	if (!err && allowed(g, 'o') && nop >= 2) {
		pat_init(&p);
		pat_paint(&p, r->first, r->first + nop / 2, 'o', r->nsect);
		err = add(s, &p, false, r, g->sector, cap);
	}
	for (j = 0; !err && j < 2; j++) {
		if (!allowed(g, dmg[j]))
			continue;
		pat_init(&p);
		pat_paint(&p, r->first, r->first + 1, dmg[j], r->nsect);
		err = add(s, &p, false, r, g->sector, cap);
		pat_init(&p);
		pat_paint(&p, r->last, r->last + 1, dmg[j], r->nsect);
		if (!err)
			err = add(s, &p, false, r, g->sector, cap);
	}
	if (!err && allowed(g, 'z')) {
		pat_init(&p);
		pat_paint(&p, r->first, r->last + 1, 'z', r->nsect);
		err = add(s, &p, false, r, g->sector, cap);
	}
	return err;
}

int tear_family(const struct tear_geom *g, const struct ops_op *op, struct tear_set *out)
{
	uint64_t end = op->off + op->data_len;
	uint64_t cap = end > op->old_size ? end : op->old_size;
	bool append = end > op->old_size;
	struct tear_range r;
	struct pattern p;
	bool atomic;
	int err = 0;

	tear_set_free(out);
	if (op->op != TRACE_OP_WRITE || op->kind != OPS_DATA || op->data_len == 0)
		return 0;
	tear_range(g, op->off, op->data_len, &r);
	pat_init(&p);
	if (append)
		err = add(out, &p, true, &r, g->sector, cap);
	atomic = is_atomic(g, op);
	if (!err && !atomic)
		err = family_touched(g, &r, cap, out);
	/* 6: touched sectors at or past the old size: the size only.  Like
	 * the bytes without the size above, this is the file system's order
	 * (the inode's size persisted before the data), not the device's, so
	 * neither --atomic nor --tear removes it; the models filter it. */
	if (!err && append) {
		uint64_t k = op->old_size > r.start ? (op->old_size - r.start + g->sector - 1) / g->sector : 0;

		if (k < r.first)
			k = r.first;
		if (k <= r.last) {
			pat_init(&p);
			pat_paint(&p, k, r.last + 1, 'o', r.nsect);
			err = add(out, &p, false, &r, g->sector, cap);
		}
	}
	if (err || atomic)
		goto out;
	if (!err && g->block && allowed(g, 'g') && r.last - r.first + 1 < r.nsect) {
		pat_init(&p);
		if (r.first > 0)
			pat_paint(&p, 0, r.first, 'g', r.nsect);
		if (r.last + 1 < r.nsect)
			pat_paint(&p, r.last + 1, r.nsect, 'g', r.nsect);
		err = add(out, &p, false, &r, g->sector, cap);
	}
out:
	if (err)
		tear_set_free(out);
	return err;
}

void tear_set_free(struct tear_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].rle);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
