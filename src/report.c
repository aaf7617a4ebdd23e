/*
 * report.c - the results of an exploration: summary, JSON, JUnit, progress.
 *
 * A struct report is filled by the explorer (or read back from JSON by
 * `faultline merge`, report_read.c) and written in three forms: JSON here,
 * the summary in report_summary.c, JUnit in report_junit.c:
 *
 *   - the human summary: one line of counts, one block per failing state;
 *   - JSON, the contract of DESIGN.md ("--json schema"), plus the fields
 *     added since: "mechanism", "note", "shard", "trace_status",
 *     "cause_search" (checker runs, seconds, whether it was cut) and per
 *     failure "content_key" (16 hex digits).  Fields are added, never
 *     renamed ("trace" stays the path; what was read of it is
 *     "trace_status");
 *   - JUnit XML, the shape GitHub/GitLab/Jenkins test reporters render: one
 *     testcase per failing state, one for all passing states, one skipped
 *     testcase for the states the budget left unchecked, and one skipped
 *     testcase for the records a partial trace never read.
 *
 * Invariants of the output: every string is valid UTF-8 (checker output
 * is arbitrary bytes: each maximal invalid subsequence becomes U+FFFD, as
 * Unicode recommends), JSON and XML escape what they must, and XML never
 * holds a character XML 1.0 forbids (those are dropped).  Failures are
 * written in the order the report holds them: callers report_sort() first.
 *
 * Files are replaced durably, temp -> fsync -> rename -> fsync dir, so a
 * crash never leaves a CI system half a report.  Numbers are formatted in
 * the C locale (faultline never calls setlocale).
 *
 * This module does not decide what failed or why; it only writes it down.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "report_i.h"

struct report_syscalls report_sys = {
    .write = write,
    .fsync = fsync,
    .rename = rename,
};

/* The "states" counters, in schema order; JSON writer and reader share it. */
const struct report_count report_counts[] = {
    {"generated", offsetof(struct report, generated)},
    {"unique", offsetof(struct report, unique)},
    {"checked", offsetof(struct report, checked)},
    {"passed", offsetof(struct report, passed)},
    {"failed", offsetof(struct report, failed)},
    {"skipped", offsetof(struct report, skipped)},
};

uint64_t *count_field(struct report *r, size_t i)
{
	return (uint64_t *)((char *)r + report_counts[i].off);
}

/* ---- failures ---- */

/* strdup that keeps NULL; *oom is set when a copy fails. */
static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

void failure_free(struct report_failure *f)
{
	free(f->id);
	free(f->explanation);
	free(f->output);
	free(f->cause);
	free(f->cause_words);
	free(f->cause_kind);
	free(f->cause_sig);
}

int report_add_failure(struct report *r, const struct report_failure *f)
{
	struct report_failure *slot;
	bool oom = false;

	if (r->nfailures == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		void *p = realloc(r->failures, cap * sizeof(*r->failures));

		if (!p)
			return -ENOMEM;
		r->failures = p;
		r->cap = cap;
	}
	slot = &r->failures[r->nfailures];
	*slot = *f;
	slot->id = dup_or_null(f->id, &oom);
	slot->explanation = dup_or_null(f->explanation, &oom);
	slot->output = dup_or_null(f->output, &oom);
	slot->cause = dup_or_null(f->cause, &oom);
	slot->cause_words = dup_or_null(f->cause_words, &oom);
	slot->cause_kind = dup_or_null(f->cause_kind, &oom);
	slot->cause_sig = dup_or_null(f->cause_sig, &oom);
	if (oom) {
		failure_free(slot);
		return -ENOMEM;
	}
	r->nfailures++;
	return 0;
}

static int failure_cmp(const void *a, const void *b)
{
	const struct report_failure *x = a, *y = b;

	if (x->crash_after != y->crash_after)
		return x->crash_after < y->crash_after ? -1 : 1;
	return strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

void report_sort(struct report *r)
{
	report_sort_from(r, 0);
}

void report_sort_from(struct report *r, size_t from)
{
	if (r->nfailures > from + 1)
		qsort(r->failures + from, r->nfailures - from,
		      sizeof(*r->failures), failure_cmp);
}

void report_free(struct report *r)
{
	size_t i;

	for (i = 0; i < r->nfailures; i++)
		failure_free(&r->failures[i]);
	free(r->failures);
	free(r->trace);
	free(r->tstatus.reason);
	free(r->model);
	free(r->mode);
	free(r->mechanism);
	free(r->note);
	memset(r, 0, sizeof(*r));
}

/* ---- UTF-8 ---- */

/*
 * Length of the well-formed UTF-8 sequence at s (n bytes available), or
 * minus the length of its maximal invalid subpart (Unicode 3.9, table
 * 3-7): that many bytes become one U+FFFD.
 */
int utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	int need, i;

	if (c < 0x80)
		return 1;
	if (c < 0xC2 || c > 0xF4)
		return -1;
	need = c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* beyond U+10FFFF */
	for (i = 1; i <= need; i++) {
		if ((size_t)i >= n || s[i] < lo || s[i] > hi)
			return -i;
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

/*
 * Returns a malloc'd copy of s (NULL: "") that is valid UTF-8, each
 * invalid subpart replaced by U+FFFD.  NULL when out of memory.
 */
static char *utf8_clean(const char *s)
{
	size_t n, i = 0, o = 0;
	char *d;

	s = s ? s : "";
	n = strlen(s);
	d = malloc(3 * n + 1);
	if (!d)
		return NULL;
	while (i < n) {
		int len = utf8_seq((const unsigned char *)s + i, n - i);

		if (len > 0) {
			memcpy(d + o, s + i, (size_t)len);
			o += (size_t)len;
			i += (size_t)len;
		} else {
			memcpy(d + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += (size_t)-len;
		}
	}
	d[o] = 0;
	return d;
}

/* ---- durable file replacement ---- */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = report_sys.write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes buf to stdout, or in place to a path that is not a regular file. */
static int write_in_place(const char *path, const char *buf, size_t len)
{
	int fd, err;

	if (!strcmp(path, "-")) {
		errno = 0;
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) == EOF)
			return -(errno ? errno : EIO);
		return 0;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = write_all(fd, buf, len);
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

/* fsyncs the directory that holds path. */
static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd, err = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* EINVAL: the file system cannot sync directories; nothing to do. */
	if (report_sys.fsync(fd) < 0 && errno != EINVAL)
		err = -errno;
	close(fd);
	return err;
}

/* Creates path's temp sibling ".NAME.PID.tmp" (a stale one is replaced). */
static int open_temp(const char *path, char *tmp, size_t cap)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	int n, fd;

	n = snprintf(tmp, cap, "%.*s.%s.%ld.tmp", dirlen, path,
		     slash ? slash + 1 : path, (long)getpid());
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	return fd < 0 ? -errno : fd;
}

/*
 * Replaces path with buf[0..len) so that after a crash at any instant it
 * holds either its old content or all of the new.  "-" is stdout; a
 * symlink's target is replaced, not the link.
 */
int write_durably(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX], real[PATH_MAX];
	struct stat st;
	int fd, err;

	if (!strcmp(path, "-") ||
	    (stat(path, &st) == 0 && !S_ISREG(st.st_mode)))
		return write_in_place(path, buf, len);
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) &&
	    realpath(path, real))
		path = real;
	/* A temp file, not path: a crash mid-write leaves the old report. */
	fd = open_temp(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	err = write_all(fd, buf, len);
	/* fsync before rename: else a crash could leave path empty or short. */
	if (!err && report_sys.fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	/* rename: readers see the old report or the new one, never a mix. */
	if (!err && report_sys.rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	/* fsync the directory: else the rename may not survive a crash. */
	return fsync_parent(path);
}

/* ---- JSON ---- */

/* A JSON string of s as valid UTF-8; NULL s is "" (null if nullable). */
static json_object *jtext(const char *s, bool nullable, bool *oom)
{
	json_object *o;
	char *c;

	if (!s && nullable)
		return NULL;
	c = utf8_clean(s);
	if (!c) {
		*oom = true;
		return NULL;
	}
	o = json_object_new_string(c);
	free(c);
	if (!o)
		*oom = true;
	return o;
}

/*
 * A JSON number printed as its meaning needs (fmt: "%.3f" for seconds, to
 * the millisecond; "%.6g" for a share), never as 0.092999999999999999.
 * A share below 1 never prints as 1: a run that missed states does not
 * claim full coverage.
 */
static json_object *jfigure(double d, const char *fmt)
{
	char buf[64];
	size_t n;

	if (!isfinite(d))
		d = 0;
	snprintf(buf, sizeof(buf), fmt, d);
	if (d < 1 && strtod(buf, NULL) >= 1)
		snprintf(buf, sizeof(buf), "0.999999");
	if (strchr(buf, '.') && !strpbrk(buf, "eE")) { /* 0.500 -> 0.5, 2.000 -> 2.0 */
		n = strlen(buf);
		while (n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.')
			buf[--n] = 0;
	}
	if (!strpbrk(buf, ".eE"))
		strcat(buf, ".0");
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

static void jadd(json_object *o, const char *key, json_object *v)
{
	json_object_object_add(o, key, v);
}

static json_object *failure_json(const struct report_failure *f, bool *oom)
{
	json_object *o = json_object_new_object();
	char key[17];

	if (!o) {
		*oom = true;
		return NULL;
	}
	snprintf(key, sizeof(key), "%016" PRIx64, f->content_key);
	jadd(o, "id", jtext(f->id, false, oom));
	jadd(o, "crash_after", json_object_new_uint64(f->crash_after));
	jadd(o, "explanation", jtext(f->explanation, false, oom));
	jadd(o, "exit_status",
	     f->exit_status == -1 ? NULL : json_object_new_int(f->exit_status));
	jadd(o, "signal", f->signal ? json_object_new_int(f->signal) : NULL);
	jadd(o, "timed_out", json_object_new_boolean(f->timed_out));
	jadd(o, "output", jtext(f->output, false, oom));
	jadd(o, "content_key", json_object_new_string(key));
	jadd(o, "cause", jtext(f->cause, true, oom));
	jadd(o, "cause_words", jtext(f->cause_words, true, oom));
	jadd(o, "cause_kind", jtext(f->cause_kind, true, oom));
	jadd(o, "cause_signature", jtext(f->cause_sig, true, oom));
	jadd(o, "cause_severity", jtext(report_severity_name(f->cause_severity), true, oom));
	return o;
}

/* ---- causes ---- */

static const char *cause_id(const struct report_failure *f)
{
	return f->cause ? f->cause : f->id;
}

static const char *const severity_names[] = {
	[REPORT_SEV_ACKED] = "acknowledged data lost",
	[REPORT_SEV_CORRUPT] = "corrupt or unopenable",
	[REPORT_SEV_UNCONFIRMED] = "unconfirmed",
};

const char *report_severity_name(int severity)
{
	return severity >= REPORT_SEV_ACKED && severity <= REPORT_SEV_UNCONFIRMED
		   ? severity_names[severity]
		   : NULL;
}

int report_severity_of(const char *name)
{
	int i;

	for (i = REPORT_SEV_ACKED; name && i <= REPORT_SEV_UNCONFIRMED; i++)
		if (!strcmp(name, severity_names[i]))
			return i;
	return 0;
}

/* Most severe first (unknown last), then earliest crash, most states, id. */
static int cause_cmp(const void *a, const void *b)
{
	const struct report_cause *x = a, *y = b;
	int sx = x->severity ? x->severity : 99, sy = y->severity ? y->severity : 99;

	if (sx != sy)
		return sx < sy ? -1 : 1;
	if (x->crash != y->crash)
		return x->crash < y->crash ? -1 : 1;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->id, y->id);
}

struct by_cause {
	const char *id; /* the failure's cause id */
	size_t i;       /* the failure */
};

static int by_cause_cmp(const void *a, const void *b)
{
	const struct by_cause *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* Groups by sorting the failures by cause id: n log n, however many causes. */
int report_causes(const struct report *r, struct report_cause **out, size_t *n)
{
	struct report_cause *c = calloc(r->nfailures + 1, sizeof(*c));
	struct by_cause *v = malloc((r->nfailures + 1) * sizeof(*v));
	size_t i, j, k;

	*out = c;
	*n = 0;
	if (!c || !v) {
		free(v);
		free(c);
		*out = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < r->nfailures; i++)
		v[i] = (struct by_cause){cause_id(&r->failures[i]), i};
	qsort(v, r->nfailures, sizeof(*v), by_cause_cmp);
	for (i = 0; i < r->nfailures; i = j) {
		/* v[i..j) share a cause; its words etc. are those of its first failure */
		const struct report_failure *f = &r->failures[v[i].i];
		struct report_cause *g = &c[(*n)++];

		for (j = i; j < r->nfailures && !strcmp(v[j].id, v[i].id); j++)
			;
		*g = (struct report_cause){
		    .id = v[i].id, .words = f->cause_words ? f->cause_words : f->explanation,
		    .kind = f->cause_kind, .sig = f->cause_sig,
		    .severity = f->cause_severity, .crash = f->crash_after,
		    .members = malloc((j - i) * sizeof(size_t)),
		};
		if (!g->members) {
			free(v);
			report_causes_free(c, *n);
			*out = NULL;
			*n = 0;
			return -ENOMEM;
		}
		for (k = i; k < j; k++) {
			g->members[g->n++] = v[k].i;
			if (r->failures[v[k].i].crash_after < g->crash)
				g->crash = r->failures[v[k].i].crash_after;
		}
	}
	free(v);
	qsort(c, *n, sizeof(*c), cause_cmp);
	return 0;
}

void report_causes_free(struct report_cause *c, size_t n)
{
	size_t i;

	for (i = 0; c && i < n; i++)
		free(c[i].members);
	free(c);
}

static json_object *causes_json(const struct report *r, bool *oom)
{
	json_object *a = json_object_new_array();
	struct report_cause *c;
	size_t n, i, k;

	if (!a || report_causes(r, &c, &n) < 0) {
		*oom = true;
		return a;
	}
	for (i = 0; i < n; i++) {
		json_object *o = json_object_new_object(),
			    *st = json_object_new_array();

		jadd(o, "id", jtext(c[i].id, false, oom));
		jadd(o, "kind", jtext(c[i].kind, true, oom));
		jadd(o, "severity",
		     jtext(report_severity_name(c[i].severity), true, oom));
		jadd(o, "signature", jtext(c[i].sig, true, oom));
		jadd(o, "words", jtext(c[i].words, false, oom));
		for (k = 0; k < c[i].n; k++)
			json_object_array_add(
			    st,
			    jtext(r->failures[c[i].members[k]].id, false, oom));
		jadd(o, "states", st);
		json_object_array_add(a, o);
	}
	report_causes_free(c, n);
	return a;
}

static json_object *shard_json(const struct report *r)
{
	json_object *o;

	if (!r->shard_n)
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	jadd(o, "k", json_object_new_uint64(r->shard_k));
	jadd(o, "n", json_object_new_uint64(r->shard_n));
	return o;
}

/* "trace_status": {"partial", "records_valid", "reason"}; null if unknown. */
static json_object *trace_status_json(const struct report *r, bool *oom)
{
	json_object *o;

	if (!r->tstatus.known)
		return NULL;
	o = json_object_new_object();
	if (!o) {
		*oom = true;
		return NULL;
	}
	jadd(o, "partial", json_object_new_boolean(r->tstatus.partial));
	jadd(o, "records_valid",
	     json_object_new_uint64(r->tstatus.records_valid));
	jadd(o, "reason", jtext(r->tstatus.reason, true, oom));
	return o;
}

/* {"runs", "answered", "seconds", "capped", "cut_by"}, or null when no cause search ran. */
static json_object *cause_search_json(const struct report *r)
{
	static const char *const cut[] = {[REPORT_CUT_RUNS] = "runs", [REPORT_CUT_BUDGET] = "budget"};
	const struct report_cause_search *c = &r->causes_search;
	json_object *o;

	if (!c->ran || !(o = json_object_new_object()))
		return NULL;
	jadd(o, "runs", json_object_new_uint64(c->runs));
	jadd(o, "answered", json_object_new_uint64(c->answered));
	jadd(o, "seconds", jfigure(c->seconds, "%.3f"));
	jadd(o, "capped", json_object_new_boolean(c->cut != REPORT_CUT_NONE));
	jadd(o, "cut_by", c->cut ? json_object_new_string(cut[c->cut]) : NULL);
	return o;
}

static json_object *report_json(const struct report *r, bool *oom)
{
	json_object *o = json_object_new_object();
	json_object *st = json_object_new_object();
	json_object *fa = json_object_new_array();
	size_t i;

	if (!o || !st || !fa) {
		json_object_put(o);
		json_object_put(st);
		json_object_put(fa);
		*oom = true;
		return NULL;
	}
	jadd(o, "faultline", json_object_new_string(PACKAGE_VERSION));
	jadd(o, "trace", jtext(r->trace, false, oom));
	jadd(o, "model", jtext(r->model, false, oom));
	jadd(o, "mode", jtext(r->mode, false, oom));
	for (i = 0; i < NCOUNTS; i++)
		jadd(st, report_counts[i].key,
		     json_object_new_uint64(
			 *count_field((struct report *)r, i)));
	jadd(o, "states", st);
	jadd(o, "coverage", jfigure(r->coverage, "%.6g"));
	jadd(o, "elapsed_s", jfigure(r->elapsed_s, "%.3f"));
	for (i = 0; i < r->nfailures; i++)
		json_object_array_add(fa, failure_json(&r->failures[i], oom));
	jadd(o, "failures", fa);
	jadd(o, "causes", causes_json(r, oom));
	jadd(o, "mechanism", jtext(r->mechanism, false, oom));
	jadd(o, "note", jtext(r->note, true, oom));
	jadd(o, "shard", shard_json(r));
	jadd(o, "trace_status", trace_status_json(r, oom));
	jadd(o, "cause_search", cause_search_json(r));
	return o;
}

int report_write_json(const struct report *r, const char *path)
{
	bool oom = false;
	json_object *o = report_json(r, &oom);
	const char *text = NULL;
	char *buf = NULL;
	size_t len;
	int err = -ENOMEM;

	if (!oom)
		text = json_object_to_json_string_ext(
		    o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text && asprintf(&buf, "%s\n", text) >= 0) {
		len = strlen(buf);
		err = write_durably(path, buf, len);
	}
	free(buf);
	json_object_put(o);
	return err;
}
