/*
 * state.c - crash state descriptions and their ids (grammar in state.h).
 *
 * Parsing is strict: an id is user input (typed, pasted from CI logs), so
 * every malformed one gets a reason, never a crash or a guess.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "state.h"

#define STATE_SECTOR_MAX (1u << 20)
#define STATE_BLOCK_MAX (1u << 24)
#define STATE_RANGE_MAX (1u << 22) /* ops in one dFIRST:LAST range */

int state_add(struct state *s, uint64_t seq, uint8_t how, const char *rle,
	      bool size_lost)
{
	struct state_choice c = {.seq = seq, .how = how, .size_lost = size_lost};
	size_t i;

	if (rle && *rle && !(c.rle = strdup(rle)))
		return -ENOMEM;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct state_choice *v = realloc(s->ch, cap * sizeof(*v));

		if (!v) {
			free(c.rle);
			return -ENOMEM;
		}
		s->ch = v;
		s->cap = cap;
	}
	for (i = s->n; i > 0 && s->ch[i - 1].seq > seq; i--)
		s->ch[i] = s->ch[i - 1];
	s->ch[i] = c;
	s->n++;
	return 0;
}

void state_clear(struct state *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->ch[i].rle);
	s->n = 0;
}

void state_free(struct state *s)
{
	state_clear(s);
	free(s->ch);
	s->ch = NULL;
	s->cap = 0;
}

int state_copy(struct state *dst, const struct state *src)
{
	size_t i;

	state_clear(dst);
	dst->crash = src->crash;
	dst->sector = src->sector;
	dst->block = src->block;
	for (i = 0; i < src->n; i++) {
		const struct state_choice *c = &src->ch[i];

		if (state_add(dst, c->seq, c->how, c->rle, c->size_lost) < 0)
			return -ENOMEM;
	}
	return 0;
}

const struct state_choice *state_find(const struct state *s, uint64_t seq)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ch[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->ch[lo].seq == seq ? &s->ch[lo] : NULL;
}

/* Appends printf output at *pos; returns false when it did not fit. */
static bool put(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool put(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *pos)
		return false;
	*pos += (size_t)n;
	return true;
}

int state_id(const struct state *s, char *buf, size_t cap)
{
	size_t pos = 0, i;
	bool ok = put(buf, cap, &pos, "c%" PRIu64, s->crash);

	if (ok && s->sector != STATE_SECTOR_DEFAULT)
		ok = put(buf, cap, &pos, "s%u", s->sector);
	if (ok && s->block)
		ok = put(buf, cap, &pos, "b%u", s->block);
	for (i = 0; ok && i < s->n; i++) {
		const struct state_choice *c = &s->ch[i];
		size_t j = i;

		/* a run of dropped ops with consecutive seqs is one range */
		while (c->how == STATE_DROP && j + 1 < s->n && s->ch[j + 1].how == STATE_DROP &&
		       s->ch[j + 1].seq == s->ch[j].seq + 1)
			j++;
		if (c->how == STATE_DROP && j > i)
			ok = put(buf, cap, &pos, "-d%" PRIu64 ":%" PRIu64, c->seq, s->ch[j].seq);
		else if (c->how == STATE_DROP)
			ok = put(buf, cap, &pos, "-d%" PRIu64, c->seq);
		else
			ok = put(buf, cap, &pos, "-t%" PRIu64 ":%s%s", c->seq,
				 c->rle ? c->rle : "", c->size_lost ? "S" : "");
		i = j;
	}
	return ok ? (int)pos : -ENAMETOOLONG;
}

char *state_id_new(const struct state *s)
{
	size_t cap = 64, i;
	char *buf;

	for (i = 0; i < s->n; i++) /* "-t<20 digits>:<rle>S" at most */
		cap += 26 + (s->ch[i].rle ? strlen(s->ch[i].rle) : 0);
	if (!(buf = malloc(cap)))
		return NULL;
	if (state_id(s, buf, cap) < 0) { /* cannot happen: cap is an upper bound */
		free(buf);
		return NULL;
	}
	return buf;
}

/* Reads a decimal number at *p (no sign, no overflow); advances *p. */
static bool parse_num(const char **p, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *q = *p;

	if (!isdigit((unsigned char)*q))
		return false;
	for (; isdigit((unsigned char)*q); q++) {
		unsigned d = (unsigned)(*q - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*p = q;
	*out = v;
	return true;
}

static bool rle_valid(const char *rle, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t digits = 0;

		while (i < len && isdigit((unsigned char)rle[i]) && digits < 9) {
			i++;
			digits++;
		}
		if (!digits || i >= len || !strchr("nozg", rle[i]))
			return false;
		i++;
	}
	return true;
}

/* "dFIRST:LAST" (*p at the ':'): every op FIRST..LAST dropped.  The
 * canonical form only: LAST > FIRST, none of them chosen before. */
static int parse_range(const char **p, struct state *s, uint64_t first, char *err,
		       size_t errlen)
{
	uint64_t last, seq;
	int rc = 0;

	(*p)++;
	if (!parse_num(p, UINT64_MAX, &last) || last <= first || last - first > STATE_RANGE_MAX) {
		snprintf(err, errlen, "bad range of dropped ops after d%" PRIu64, first);
		return -EINVAL;
	}
	for (seq = first; !rc && seq <= last; seq++) {
		if (state_find(s, seq)) {
			snprintf(err, errlen, "op %" PRIu64 " chosen twice", seq);
			return -EINVAL;
		}
		rc = state_add(s, seq, STATE_DROP, NULL, false);
	}
	return rc;
}

static int parse_choice(const char **p, struct state *s, char *err, size_t errlen)
{
	char kind = *(*p)++;
	uint64_t seq;
	const char *rle;
	size_t len;
	bool lost;
	char buf[STATE_ID_MAX];

	if ((kind != 'd' && kind != 't') || !parse_num(p, UINT64_MAX, &seq)) {
		snprintf(err, errlen, "expected -dSEQ or -tSEQ:SECTORS");
		return -EINVAL;
	}
	if (state_find(s, seq)) {
		snprintf(err, errlen, "op %" PRIu64 " chosen twice", seq);
		return -EINVAL;
	}
	if (kind == 'd' && **p == ':')
		return parse_range(p, s, seq, err, errlen);
	if (kind == 'd')
		return state_add(s, seq, STATE_DROP, NULL, false);
	if (*(*p)++ != ':') {
		snprintf(err, errlen, "tear of op %" PRIu64 " lacks ':'", seq);
		return -EINVAL;
	}
	rle = *p;
	len = strcspn(rle, "S-");
	lost = rle[len] == 'S';
	*p = rle + len + lost;
	if (len >= sizeof(buf) || !rle_valid(rle, len) || (**p && **p != '-')) {
		snprintf(err, errlen, "bad sector pattern for op %" PRIu64, seq);
		return -EINVAL;
	}
	memcpy(buf, rle, len);
	buf[len] = 0;
	return state_add(s, seq, STATE_TEAR, buf, lost);
}

int state_parse(const char *id, struct state *s, char *err, size_t errlen)
{
	const char *p = id;
	uint64_t v;
	int rc;

	state_clear(s);
	s->sector = STATE_SECTOR_DEFAULT;
	s->block = 0;
	if (*p++ != 'c' || !parse_num(&p, UINT64_MAX, &s->crash)) {
		snprintf(err, errlen, "state id must start with c<crash seq>");
		return -EINVAL;
	}
	if (*p == 's') {
		p++;
		if (!parse_num(&p, STATE_SECTOR_MAX, &v) || v < 1) {
			snprintf(err, errlen, "bad sector size in state id");
			return -EINVAL;
		}
		s->sector = (uint32_t)v;
	}
	if (*p == 'b') {
		p++;
		if (!parse_num(&p, STATE_BLOCK_MAX, &v) || v < s->sector || v % s->sector) {
			snprintf(err, errlen, "bad block size in state id");
			return -EINVAL;
		}
		s->block = (uint32_t)v;
	}
	while (*p == '-') {
		p++;
		if ((rc = parse_choice(&p, s, err, errlen)) < 0)
			return rc;
	}
	if (*p) {
		snprintf(err, errlen, "unexpected '%c' in state id", *p);
		return -EINVAL;
	}
	return 0;
}

int state_rle_expand(const char *rle, char *kinds, size_t nsect)
{
	size_t i = 0;

	while (rle && *rle) {
		uint64_t count;

		if (!parse_num(&rle, nsect, &count) || !*rle || !strchr("nozg", *rle) ||
		    count > nsect - i)
			return -EINVAL;
		memset(kinds + i, *rle++, count);
		i += count;
	}
	memset(kinds + i, 'n', nsect - i);
	return 0;
}

int state_rle_encode(const char *kinds, size_t n, char *buf, size_t cap)
{
	size_t pos = 0, i = 0;

	buf[0] = 0;
	while (i < n) {
		size_t j = i;

		while (j < n && kinds[j] == kinds[i])
			j++;
		if (!put(buf, cap, &pos, "%zu%c", j - i, kinds[i]))
			return -ENAMETOOLONG;
		i = j;
	}
	return (int)pos;
}

void state_garbage(uint64_t state_key, uint64_t seq, uint64_t sector_no,
		   void *buf, size_t len)
{
	uint64_t seed = XXH3_64bits_withSeed(&seq, sizeof(seq), state_key ^ sector_no);
	uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t x = XXH3_64bits_withSeed(&i, sizeof(i), seed);
		size_t k = len - i < 8 ? len - i : 8;

		memcpy(b + i, &x, k);
	}
}
