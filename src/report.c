/*
 * report.c - the results of an exploration: summary, JSON, JUnit, progress.
 *
 * A struct report is filled by the explorer (or read back from JSON by
 * `faultline merge`) and written here in three forms:
 *
 *   - the human summary: one line of counts, one block per failing state;
 *   - JSON, the contract of DESIGN.md ("--json schema"), plus the fields
 *     added since: "mechanism", "note", "shard" and per failure
 *     "content_key" (16 hex digits).  Fields are added, never renamed;
 *   - JUnit XML, the shape GitHub/GitLab/Jenkins test reporters render: one
 *     testcase per failing state, one for all passing states, one skipped
 *     testcase for the states the budget left unchecked.
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

struct report_syscalls report_sys = {
	.write = write,
	.fsync = fsync,
	.rename = rename,
};

/* The "states" counters, in schema order; JSON writer and reader share it. */
static const struct {
	const char *key; /* JSON key inside "states" */
	size_t off;	 /* offset of the uint64_t in struct report */
} report_counts[] = {
	{"generated", offsetof(struct report, generated)},
	{"unique", offsetof(struct report, unique)},
	{"checked", offsetof(struct report, checked)},
	{"passed", offsetof(struct report, passed)},
	{"failed", offsetof(struct report, failed)},
	{"skipped", offsetof(struct report, skipped)},
};

#define NCOUNTS (sizeof(report_counts) / sizeof(report_counts[0]))

static uint64_t *count_field(struct report *r, size_t i)
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

static void failure_free(struct report_failure *f)
{
	free(f->id);
	free(f->explanation);
	free(f->output);
	free(f->cause);
	free(f->cause_words);
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
	if (r->nfailures > 1)
		qsort(r->failures, r->nfailures, sizeof(*r->failures),
		      failure_cmp);
}

void report_free(struct report *r)
{
	size_t i;

	for (i = 0; i < r->nfailures; i++)
		failure_free(&r->failures[i]);
	free(r->failures);
	free(r->trace);
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
static int utf8_seq(const unsigned char *s, size_t n)
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
static int write_durably(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX], real[PATH_MAX];
	struct stat st;
	int fd, err;

	if (!strcmp(path, "-") ||
	    (stat(path, &st) == 0 && !S_ISREG(st.st_mode)))
		return write_in_place(path, buf, len);
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && realpath(path, real))
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

/* A JSON number printed with the fewest digits that read back as d. */
static json_object *jdouble(double d)
{
	char buf[40];
	int prec;

	if (!isfinite(d))
		d = 0;
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*g", prec, d);
	if (!strpbrk(buf, ".eE"))
		strcat(buf, ".0");
	return json_object_new_double_s(d, buf);
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
	return o;
}

/* ---- causes ---- */

static const char *cause_id(const struct report_failure *f)
{
	return f->cause ? f->cause : f->id;
}

static int cause_cmp(const void *a, const void *b)
{
	const struct report_cause *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->id, y->id);
}

int report_causes(const struct report *r, struct report_cause **out, size_t *n)
{
	struct report_cause *c = calloc(r->nfailures + 1, sizeof(*c));
	size_t i, k;

	*out = c;
	*n = 0;
	if (!c)
		return -ENOMEM;
	for (i = 0; i < r->nfailures; i++) {
		const struct report_failure *f = &r->failures[i];

		for (k = 0; k < *n && strcmp(c[k].id, cause_id(f)); k++)
			;
		if (k == *n) {
			c[k].id = cause_id(f);
			c[k].words = f->cause_words ? f->cause_words : f->explanation;
			c[k].members = malloc(r->nfailures * sizeof(size_t));
			if (!c[k].members)
				return -ENOMEM;
			(*n)++;
		}
		c[k].members[c[k].n++] = i;
	}
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
		json_object *o = json_object_new_object(), *st = json_object_new_array();

		jadd(o, "id", jtext(c[i].id, false, oom));
		jadd(o, "words", jtext(c[i].words, false, oom));
		for (k = 0; k < c[i].n; k++)
			json_object_array_add(st, jtext(r->failures[c[i].members[k]].id, false, oom));
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
	jadd(o, "coverage", jdouble(r->coverage));
	jadd(o, "elapsed_s", jdouble(r->elapsed_s));
	for (i = 0; i < r->nfailures; i++)
		json_object_array_add(fa, failure_json(&r->failures[i], oom));
	jadd(o, "failures", fa);
	jadd(o, "causes", causes_json(r, oom));
	jadd(o, "mechanism", jtext(r->mechanism, false, oom));
	jadd(o, "note", jtext(r->note, true, oom));
	jadd(o, "shard", shard_json(r));
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

/* ---- JUnit XML ---- */

/*
 * Writes s (NULL: "") escaped for XML text or, with attr, for a
 * double-quoted attribute.  Invalid UTF-8 becomes U+FFFD; characters XML
 * 1.0 forbids (C0 controls but tab/LF/CR, U+FFFE, U+FFFF) are dropped.
 * Stops after max bytes of s (the rest of the first line for a message).
 */
static void xml_escape(FILE *f, const char *s, bool attr, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strnlen((const char *)p, max), i = 0;

	while (i < n) {
		int len = utf8_seq(p + i, n - i);
		unsigned char c = p[i];

		if (len < 0) {
			fputs("\xEF\xBF\xBD", f);
			i += (size_t)-len;
			continue;
		}
		if (c == '&')
			fputs("&amp;", f);
		else if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '"' && attr)
			fputs("&quot;", f);
		else if (c == '\r' || ((c == '\t' || c == '\n') && attr))
			fprintf(f, "&#%d;", c); /* kept through normalization */
		else if ((c < 0x20 && c != '\t' && c != '\n') ||
			 (len == 3 && c == 0xEF && p[i + 1] == 0xBF &&
			  p[i + 2] >= 0xBE))
			; /* not an XML 1.0 character */
		else
			fwrite(p + i, 1, (size_t)len, f);
		i += (size_t)len;
	}
}

/* How the checker failed: "checker exit 1", "checker killed by SIGKILL"... */
static void checker_verdict(const struct report_failure *fl, char *buf,
			    size_t len)
{
	const char *sig = fl->signal ? sigabbrev_np(fl->signal) : NULL;

	if (fl->timed_out)
		snprintf(buf, len, "checker timed out");
	else if (fl->signal && sig)
		snprintf(buf, len, "checker killed by SIG%s", sig);
	else if (fl->signal)
		snprintf(buf, len, "checker killed by signal %d", fl->signal);
	else if (fl->exit_status >= 0)
		snprintf(buf, len, "checker exit %d", fl->exit_status);
	else
		snprintf(buf, len, "checker did not run to completion");
}

static void junit_failure(FILE *f, const struct report *r,
			  const struct report_failure *fl)
{
	const char *ex = fl->explanation ? fl->explanation : "";
	char verdict[96];

	checker_verdict(fl, verdict, sizeof(verdict));
	fputs("    <testcase classname=\"faultline.", f);
	xml_escape(f, r->model, true, SIZE_MAX);
	fputs("\" name=\"state ", f);
	xml_escape(f, fl->id, true, SIZE_MAX);
	fputs("\" time=\"0\">\n      <failure message=\"", f);
	xml_escape(f, ex, true, strcspn(ex, "\n"));
	fprintf(f, "\" type=\"%s\">", verdict);
	xml_escape(f, ex, false, SIZE_MAX);
	fprintf(f, "\n\ncrash after op %" PRIu64 "; %s", fl->crash_after,
		verdict);
	if (fl->output && fl->output[0]) {
		fputs(", output:\n", f);
		xml_escape(f, fl->output, false, SIZE_MAX);
	}
	fputs("</failure>\n    </testcase>\n", f);
}

/* The testcases that stand for the passing and the unchecked states. */
static void junit_rest(FILE *f, const struct report *r)
{
	if (r->passed) {
		fputs("    <testcase classname=\"faultline.", f);
		xml_escape(f, r->model, true, SIZE_MAX);
		fprintf(f,
			"\" name=\"%" PRIu64
			" passing state%s\" time=\"%.3f\"/>\n",
			r->passed, r->passed == 1 ? "" : "s", r->elapsed_s);
	}
	if (r->skipped) {
		fputs("    <testcase classname=\"faultline.", f);
		xml_escape(f, r->model, true, SIZE_MAX);
		fprintf(f,
			"\" name=\"%" PRIu64
			" unchecked state%s\" time=\"0\">\n"
			"      <skipped message=\"budget ran out: %" PRIu64
			" of %" PRIu64 " unique states not checked\"/>\n"
			"    </testcase>\n",
			r->skipped, r->skipped == 1 ? "" : "s", r->skipped,
			r->unique);
	}
}

static void junit_property(FILE *f, const char *name, const char *value)
{
	fprintf(f, "      <property name=\"%s\" value=\"", name);
	xml_escape(f, value, true, SIZE_MAX);
	fputs("\"/>\n", f);
}

static void junit_properties(FILE *f, const struct report *r)
{
	char buf[64];
	size_t i;

	fputs("    <properties>\n", f);
	junit_property(f, "trace", r->trace);
	junit_property(f, "mechanism", r->mechanism);
	if (r->note)
		junit_property(f, "note", r->note);
	for (i = 0; i < NCOUNTS; i++) {
		snprintf(buf, sizeof(buf), "%" PRIu64,
			 *count_field((struct report *)r, i));
		fprintf(f,
			"      <property name=\"states.%s\" value=\"%s\"/>\n",
			report_counts[i].key, buf);
	}
	snprintf(buf, sizeof(buf), "%.4f", r->coverage);
	junit_property(f, "coverage", buf);
	if (r->shard_n) {
		snprintf(buf, sizeof(buf), "%u/%u", r->shard_k, r->shard_n);
		junit_property(f, "shard", buf);
	}
	fputs("    </properties>\n", f);
}

/* One testcase per cause, before the states: CI shows what went wrong first. */
static void junit_causes(FILE *f, const struct report *r, const struct report_cause *c,
			 size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		const char *w = c[i].words ? c[i].words : "";

		fputs("    <testcase classname=\"faultline.", f);
		xml_escape(f, r->model, true, SIZE_MAX);
		fputs(".causes\" name=\"cause ", f);
		xml_escape(f, c[i].id, true, SIZE_MAX);
		fprintf(f, " (%zu state%s)\" time=\"0\">\n      <failure message=\"", c[i].n,
			c[i].n == 1 ? "" : "s");
		xml_escape(f, w, true, strcspn(w, "\n"));
		fputs("\" type=\"cause\">", f);
		xml_escape(f, w, false, SIZE_MAX);
		fputs("\n\nstates:", f);
		for (k = 0; k < c[i].n; k++) {
			fputc(' ', f);
			xml_escape(f, r->failures[c[i].members[k]].id, false, SIZE_MAX);
		}
		fputs("</failure>\n    </testcase>\n", f);
	}
}

/* The whole document; the counts are those of the testcases written. */
static void junit_doc(FILE *f, const struct report *r)
{
	struct report_cause *c = NULL;
	size_t nc = 0;
	size_t tests, fails;
	size_t skipped = r->skipped > 0, i;

	if (report_causes(r, &c, &nc) < 0)
		nc = 0;
	tests = nc + r->nfailures + (r->passed > 0) + (r->skipped > 0);
	fails = nc + r->nfailures;

	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"faultline\" tests=\"%zu\" failures=\"%zu\" "
		"errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n"
		"  <testsuite name=\"faultline ",
		tests, fails, skipped, r->elapsed_s);
	xml_escape(f, r->model, true, SIZE_MAX);
	fputc(' ', f);
	xml_escape(f, r->mode, true, SIZE_MAX);
	if (r->shard_n)
		fprintf(f, " shard %u/%u", r->shard_k, r->shard_n);
	fprintf(f,
		"\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
		"skipped=\"%zu\" time=\"%.3f\">\n",
		tests, fails, skipped, r->elapsed_s);
	junit_properties(f, r);
	junit_causes(f, r, c, nc);
	report_causes_free(c, nc);
	for (i = 0; i < r->nfailures; i++)
		junit_failure(f, r, &r->failures[i]);
	junit_rest(f, r);
	fputs("  </testsuite>\n</testsuites>\n", f);
}

int report_write_junit(const struct report *r, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return -errno;
	junit_doc(f, r);
	if (ferror(f) || fclose(f) == EOF) {
		free(buf);
		return -ENOMEM;
	}
	err = write_durably(path, buf, len);
	free(buf);
	return err;
}

/* ---- human summary ---- */

#define SUMMARY_OUTPUT_LINES 5 /* checker output lines shown per failure */
#define SUMMARY_LINE_MAX 200   /* bytes of one output line shown */

/* Writes n bytes of s for a terminal: valid UTF-8, controls as '?'. */
static void put_printable(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		int len = utf8_seq(p + i, n - i);

		if (len < 0) {
			fputs("\xEF\xBF\xBD", f);
			i += (size_t)-len;
			continue;
		}
		if (p[i] == '\r')
			; /* CRLF output: the LF ends the line */
		else if (len == 1 &&
			 ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f))
			fputc('?', f);
		else
			fwrite(p + i, 1, (size_t)len, f);
		i += (size_t)len;
	}
}

/* Prints s with each line after the first indented by indent. */
static void put_indented(FILE *f, const char *s, const char *indent)
{
	const char *nl;

	while ((nl = strchr(s, '\n'))) {
		put_printable(f, s, (size_t)(nl - s));
		fprintf(f, "\n%s", indent);
		s = nl + 1;
	}
	put_printable(f, s, strlen(s));
}

/*
 * The first SUMMARY_OUTPUT_LINES lines of the checker's output: the first
 * continues the verdict line, the rest are indented under it.
 */
static void summary_output(FILE *f, const char *out)
{
	size_t shown = 0, more = 0;
	const char *p = out;

	while (*p) {
		size_t len = strcspn(p, "\n");

		if (shown < SUMMARY_OUTPUT_LINES) {
			fputs(shown ? "        " : " ", f);
			put_printable(
			    f, p,
			    len < SUMMARY_LINE_MAX ? len : SUMMARY_LINE_MAX);
			fputs(len > SUMMARY_LINE_MAX ? " ...\n" : "\n", f);
			shown++;
		} else {
			more++;
		}
		p += len + (p[len] == '\n');
	}
	if (more)
		fprintf(f, "        ... (%zu more line%s)\n", more,
			more == 1 ? "" : "s");
}

/*
 * "FAIL ID  crash during op N: EXPLANATION", then the checker's verdict and
 * output.  An explanation that already says where the crash was ("crash
 * during op", or "crash after op" in reports of older versions) is not
 * prefixed twice.
 */
static void summary_failure(FILE *f, const struct report_failure *fl)
{
	const char *out = fl->output ? fl->output : "";
	const char *ex = fl->explanation ? fl->explanation : "";
	char verdict[96];

	fputs("FAIL ", f);
	put_printable(f, fl->id ? fl->id : "", strlen(fl->id ? fl->id : ""));
	if (strncmp(ex, "crash during op ", 16) && strncmp(ex, "crash after op ", 15))
		fprintf(f, "  crash during op %" PRIu64 ": ", fl->crash_after);
	else
		fputs("  ", f);
	put_indented(f, ex, "    ");
	checker_verdict(fl, verdict, sizeof(verdict));
	fprintf(f, "\n    %s%s", verdict, out[0] ? ":" : ", no output\n");
	if (out[0])
		summary_output(f, out);
}

/* "100%" only when complete; otherwise rounded down, so 99.96% shows 99.9%. */
static void coverage_text(double c, char *buf, size_t len)
{
	if (c >= 1.0)
		snprintf(buf, len, "100%%");
	else
		snprintf(buf, len, "%.1f%%",
			 c > 0 ? (double)(uint64_t)(c * 1000.0) / 10.0 : 0.0);
}

#define REPORT_SUMMARY_FAILURES 10

/* "2 causes:" and one line each, most states first. */
static void summary_causes(FILE *f, const struct report *r)
{
	struct report_cause *c;
	size_t n, i;

	if (!r->nfailures || report_causes(r, &c, &n) < 0)
		return;
	fprintf(f, "%zu cause%s:\n", n, n == 1 ? "" : "s");
	for (i = 0; i < n && i < REPORT_SUMMARY_FAILURES; i++) {
		fprintf(f, "CAUSE %s  (%zu state%s)  ", c[i].id, c[i].n, c[i].n == 1 ? "" : "s");
		put_indented(f, c[i].words ? c[i].words : "", "    ");
		fputc('\n', f);
	}
	if (n > REPORT_SUMMARY_FAILURES)
		fprintf(f, "... and %zu more causes\n", n - REPORT_SUMMARY_FAILURES);
	report_causes_free(c, n);
}

void report_print_summary(const struct report *r, FILE *f)
{
	char cov[16];
	size_t i;

	coverage_text(r->coverage, cov, sizeof(cov));
	fprintf(f, "faultline: %s/%s", r->model ? r->model : "?",
		r->mode ? r->mode : "?");
	if (r->shard_n)
		fprintf(f, " shard %u/%u", r->shard_k, r->shard_n);
	fprintf(f,
		" on %s: %" PRIu64 " states generated, %" PRIu64
		" unique, %" PRIu64 " checked: %" PRIu64 " passed, %" PRIu64
		" failed",
		r->trace ? r->trace : "?", r->generated, r->unique, r->checked,
		r->passed, r->failed);
	if (r->skipped)
		fprintf(f, ", %" PRIu64 " skipped", r->skipped);
	fprintf(f, " (coverage %s, %.1f s%s%s)\n", cov, r->elapsed_s,
		r->mechanism && r->mechanism[0] ? ", " : "",
		r->mechanism ? r->mechanism : "");
	summary_causes(f, r);
	/* The first few failures; every one is in the JSON and JUnit reports. */
	for (i = 0; i < r->nfailures && i < REPORT_SUMMARY_FAILURES; i++)
		summary_failure(f, &r->failures[i]);
	if (r->nfailures > REPORT_SUMMARY_FAILURES)
		fprintf(f, "... and %zu more failing states (all of them in --json / --junit)\n",
			r->nfailures - REPORT_SUMMARY_FAILURES);
	if (r->note) {
		fputs("note: ", f);
		put_indented(f, r->note, "      ");
		fputc('\n', f);
	}
}

/* ---- reading JSON back ---- */

#define REPORT_READ_MAX (1u << 30) /* larger files are refused */

/* Where a field is, for messages: "states.unique", "failures[3].id". */
struct jfield {
	json_object *parent; /* object holding the field */
	const char *prefix;  /* "" or e.g. "failures[3]." */
	char *err;	     /* OUT: reason */
	size_t errlen;
};

/* Looks up key: 1 found (*v NULL for JSON null), 0 optional and absent. */
static int jget(struct jfield *jf, const char *key, bool optional,
		json_object **v)
{
	if (json_object_object_get_ex(jf->parent, key, v))
		return 1;
	*v = NULL;
	if (optional)
		return 0;
	snprintf(jf->err, jf->errlen, "missing field \"%s%s\"", jf->prefix,
		 key);
	return -EBADMSG;
}

static int jbad(struct jfield *jf, const char *key, const char *what)
{
	snprintf(jf->err, jf->errlen, "field \"%s%s\" is not %s", jf->prefix,
		 key, what);
	return -EBADMSG;
}

/* A string field (JSON null allowed when nullable: *out NULL). */
static int jget_str(struct jfield *jf, const char *key, bool optional,
		    bool nullable, char **out)
{
	json_object *v;
	int rc = jget(jf, key, optional, &v);

	if (rc <= 0)
		return rc;
	if (!v && nullable)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return jbad(jf, key,
			    nullable ? "a string or null" : "a string");
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : -ENOMEM;
}

static int jget_u64(struct jfield *jf, const char *key, uint64_t *out)
{
	json_object *v;
	int rc = jget(jf, key, false, &v);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return jbad(jf, key, "a non-negative integer");
	*out = json_object_get_uint64(v);
	return 0;
}

/* An int field; JSON null reads as null_value. */
static int jget_int(struct jfield *jf, const char *key, int null_value,
		    int *out)
{
	json_object *v;
	int rc = jget(jf, key, false, &v);
	int64_t i;

	if (rc < 0)
		return rc;
	if (!v) {
		*out = null_value;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return jbad(jf, key, "an integer or null");
	i = json_object_get_int64(v);
	if (i < INT_MIN || i > INT_MAX)
		return jbad(jf, key, "an integer or null");
	*out = (int)i;
	return 0;
}

static int jget_num(struct jfield *jf, const char *key, double *out)
{
	json_object *v;
	int rc = jget(jf, key, false, &v);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int))
		return jbad(jf, key, "a number");
	*out = json_object_get_double(v);
	if (!isfinite(*out) || *out < 0)
		return jbad(jf, key, "a non-negative number");
	return 0;
}

static int jget_bool(struct jfield *jf, const char *key, bool *out)
{
	json_object *v;
	int rc = jget(jf, key, false, &v);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(v, json_type_boolean))
		return jbad(jf, key, "true or false");
	*out = json_object_get_boolean(v);
	return 0;
}

/* Optional "content_key": exactly 16 hex digits. */
static int jget_key(struct jfield *jf, uint64_t *out)
{
	json_object *v;
	const char *s;
	int rc = jget(jf, "content_key", true, &v);

	*out = 0;
	if (rc <= 0 || !v)
		return rc < 0 ? rc : 0;
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
						     : "";
	if (strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
		return jbad(jf, "content_key", "a string of 16 hex digits");
	*out = strtoull(s, NULL, 16);
	return 0;
}

static int read_failure(json_object *o, size_t idx, struct report *r, char *err,
			size_t errlen)
{
	char prefix[48];
	struct jfield jf = {o, prefix, err, errlen};
	struct report_failure f = {0};
	int rc;

	snprintf(prefix, sizeof(prefix), "failures[%zu].", idx);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "\"failures[%zu]\" is not an object",
			 idx);
		return -EBADMSG;
	}
	if ((rc = jget_str(&jf, "id", false, false, &f.id)) < 0 ||
	    (rc = jget_u64(&jf, "crash_after", &f.crash_after)) < 0 ||
	    (rc = jget_str(&jf, "explanation", false, false, &f.explanation)) <
		0 ||
	    (rc = jget_int(&jf, "exit_status", -1, &f.exit_status)) < 0 ||
	    (rc = jget_int(&jf, "signal", 0, &f.signal)) < 0 ||
	    (rc = jget_bool(&jf, "timed_out", &f.timed_out)) < 0 ||
	    (rc = jget_str(&jf, "output", false, false, &f.output)) < 0 ||
	    (rc = jget_key(&jf, &f.content_key)) < 0 ||
	    (rc = jget_str(&jf, "cause", true, true, &f.cause)) < 0 ||
	    (rc = jget_str(&jf, "cause_words", true, true, &f.cause_words)) < 0)
		goto out;
	rc = report_add_failure(r, &f);
out:
	failure_free(&f);
	return rc;
}

static int read_failures(json_object *top, struct report *r, char *err,
			 size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	json_object *a;
	size_t i, n;
	int rc = jget(&jf, "failures", false, &a);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(a, json_type_array))
		return jbad(&jf, "failures", "an array");
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		rc = read_failure(json_object_array_get_idx(a, i), i, r, err,
				  errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int read_counts(json_object *top, struct report *r, char *err,
		       size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	json_object *st;
	size_t i;
	int rc = jget(&jf, "states", false, &st);

	if (rc < 0)
		return rc;
	if (!json_object_is_type(st, json_type_object))
		return jbad(&jf, "states", "an object");
	jf.parent = st;
	jf.prefix = "states.";
	for (i = 0; i < NCOUNTS; i++) {
		rc = jget_u64(&jf, report_counts[i].key, count_field(r, i));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Optional "shard": null, or {"k": K, "n": N} with 1 <= K <= N. */
static int read_shard(json_object *top, struct report *r, char *err,
		      size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	json_object *s;
	uint64_t k, n;
	int rc = jget(&jf, "shard", true, &s);

	if (rc <= 0 || !s)
		return rc < 0 ? rc : 0;
	if (!json_object_is_type(s, json_type_object))
		return jbad(&jf, "shard", "an object or null");
	jf.parent = s;
	jf.prefix = "shard.";
	if ((rc = jget_u64(&jf, "k", &k)) < 0 ||
	    (rc = jget_u64(&jf, "n", &n)) < 0)
		return rc;
	if (k < 1 || k > n || n > UINT_MAX) {
		snprintf(err, errlen,
			 "shard %" PRIu64 "/%" PRIu64
			 " is out of range (want 1 <= K <= N)",
			 k, n);
		return -EBADMSG;
	}
	r->shard_k = (unsigned)k;
	r->shard_n = (unsigned)n;
	return 0;
}

static int read_top(json_object *top, struct report *r, char *err,
		    size_t errlen)
{
	struct jfield jf = {top, "", err, errlen};
	char *version = NULL;
	int rc;

	if (!json_object_is_type(top, json_type_object)) {
		snprintf(err, errlen, "not a JSON object");
		return -EBADMSG;
	}
	/* The first missing or mistyped field stops the chain; err says it. */
	if ((rc = jget_str(&jf, "faultline", false, false, &version)) < 0 ||
	    (rc = jget_str(&jf, "trace", false, false, &r->trace)) < 0 ||
	    (rc = jget_str(&jf, "model", false, false, &r->model)) < 0 ||
	    (rc = jget_str(&jf, "mode", false, false, &r->mode)) < 0 ||
	    (rc = read_counts(top, r, err, errlen)) < 0 ||
	    (rc = jget_num(&jf, "coverage", &r->coverage)) < 0 ||
	    (rc = jget_num(&jf, "elapsed_s", &r->elapsed_s)) < 0 ||
	    (rc = read_failures(top, r, err, errlen)) < 0 ||
	    (rc = jget_str(&jf, "mechanism", true, true, &r->mechanism)) < 0 ||
	    (rc = jget_str(&jf, "note", true, true, &r->note)) < 0 ||
	    (rc = read_shard(top, r, err, errlen)) < 0) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
	}
	free(version);
	return rc;
}

/* Reads the whole file at path into *buf (NUL-terminated) and *len. */
static int slurp(const char *path, char **buf, size_t *len, char *err,
		 size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0, n = 0, got;
	char *b = NULL, *nb;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot open: %s", strerror(-rc));
		return rc;
	}
	do {
		if (cap - n < 2 && cap >= REPORT_READ_MAX) {
			rc = -EFBIG;
			snprintf(err, errlen, "too large for a report");
			break;
		}
		if (cap - n < 2) {
			cap = cap ? 2 * cap : 1 << 16;
			nb = realloc(b, cap);
			if (!nb) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				break;
			}
			b = nb;
		}
		got = fread(b + n, 1, cap - n - 1, f);
		n += got;
	} while (got);
	if (!rc && ferror(f)) {
		rc = -(errno ? errno : EIO);
		snprintf(err, errlen, "cannot read: %s", strerror(-rc));
	}
	fclose(f);
	if (rc < 0) {
		free(b);
		return rc;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

/* Line number (1-based) of byte off in buf. */
static unsigned line_of(const char *buf, size_t off)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		line += buf[i] == '\n';
	return line;
}

/* Parses buf as exactly one JSON value (whitespace around it allowed). */
static json_object *parse_one(const char *buf, size_t len, char *err,
			      size_t errlen)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL;
	enum json_tokener_error je;
	size_t end;

	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, buf, (int)len);
	je = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!o && (je == json_tokener_continue || je == json_tokener_success))
		snprintf(err, errlen,
			 len ? "not JSON: ends early (line %u)"
			     : "empty file, not a report",
			 line_of(buf, len));
	else if (!o)
		snprintf(err, errlen, "not JSON: %s at line %u",
			 json_tokener_error_desc(je), line_of(buf, end));
	else if (end + strspn(buf + end, " \t\r\n") != len) {
		snprintf(err, errlen,
			 "not JSON: extra data after the value at line %u",
			 line_of(buf, end));
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int report_read_json(const char *path, struct report *r, char *err,
		     size_t errlen)
{
	json_object *top;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = slurp(path, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	if (memchr(buf, 0, len)) {
		snprintf(err, errlen, "not JSON: holds a NUL byte");
		free(buf);
		return -EBADMSG;
	}
	top = parse_one(buf, len, err, errlen);
	free(buf);
	if (!top)
		return -EBADMSG;
	rc = read_top(top, r, err, errlen);
	json_object_put(top);
	if (rc < 0)
		report_free(r);
	return rc;
}

/* ---- progress line ---- */

#define PROGRESS_INTERVAL_NS 100000000LL /* at most 10 redraws a second */

/* Not thread-safe: one thread (the explorer's) calls update. */
struct report_progress {
	FILE *tty;     /* the terminal drawn on */
	int64_t start; /* CLOCK_MONOTONIC ns at report_progress_new */
	int64_t last;  /* ns of the last redraw, 0 before the first */
	bool drawn;    /* a line is on screen (end clears it) */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct report_progress *report_progress_new(FILE *tty)
{
	struct report_progress *p;

	if (!tty || !isatty(fileno(tty)))
		return NULL; /* every report_progress_* accepts NULL */
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tty = tty;
	p->start = now_ns();
	return p;
}

/* "0:05", "12:34", "1:02:03". */
static void eta_text(double s, char *buf, size_t len)
{
	unsigned long t = s > 359999 ? 359999 : (unsigned long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60,
			 t % 60);
	else
		snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

void report_progress_update(struct report_progress *p, uint64_t done,
			    uint64_t total, uint64_t failed)
{
	int64_t t;
	double secs, rate;
	char eta[24] = "?";

	if (!p)
		return;
	t = now_ns();
	if (p->last && t - p->last < PROGRESS_INTERVAL_NS && done != total)
		return;
	p->last = t;
	secs = (double)(t - p->start) / 1e9;
	rate = secs > 0 ? (double)done / secs : 0;
	if (rate > 0 && total >= done)
		eta_text((double)(total - done) / rate, eta, sizeof(eta));
	fprintf(p->tty, "\r  %" PRIu64, done);
	if (total)
		fprintf(p->tty, "/%" PRIu64, total);
	fprintf(p->tty, " states  %" PRIu64 " failed  %.0f/s", failed, rate);
	if (total)
		fprintf(p->tty, "  ETA %s", eta);
	fputs("\033[K", p->tty); /* erase what a longer line left */
	fflush(p->tty);
	p->drawn = true;
}

void report_progress_end(struct report_progress *p)
{
	if (!p)
		return;
	if (p->drawn) {
		fputs("\r\033[K", p->tty);
		fflush(p->tty);
	}
	free(p);
}
