/*
 * report_summary.c - the human summary of a report and the progress line on a
 * terminal.
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
	if (strncmp(ex, "crash during op ", 16) &&
	    strncmp(ex, "crash after op ", 15))
		fprintf(f, "  crash during op %" PRIu64 ": ", fl->crash_after);
	else
		fputs("  ", f);
	put_indented(f, ex, "    ");
	report_checker_verdict(fl, verdict, sizeof(verdict));
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

/* "2 causes:" and one block each, in report_causes order. */
static void summary_causes(FILE *f, const struct report *r)
{
	struct report_cause *c;
	size_t n, i;

	if (!r->nfailures || report_causes(r, &c, &n) < 0)
		return;
	fprintf(f, "%zu cause%s:\n", n, n == 1 ? "" : "s");
	for (i = 0; i < n && i < REPORT_SUMMARY_FAILURES; i++) {
		fprintf(f, "CAUSE %s  ", c[i].id);
		if (c[i].kind)
			fprintf(f, "[%s%s%s] ", c[i].kind,
				c[i].severity ? ", " : "",
				c[i].severity ? report_severity_name(c[i].severity)
					      : "");
		fprintf(f, "(%zu state%s)  ", c[i].n, c[i].n == 1 ? "" : "s");
		put_indented(f, c[i].words ? c[i].words : "", "    ");
		fputc('\n', f);
	}
	if (n > REPORT_SUMMARY_FAILURES)
		fprintf(f, "... and %zu more causes\n",
			n - REPORT_SUMMARY_FAILURES);
	report_causes_free(c, n);
}

/* For a partial trace, a line saying so right under the counts. */
static void summary_trace_status(FILE *f, const struct report *r)
{
	if (!r->tstatus.partial)
		return;
	fprintf(f,
		"PARTIAL TRACE: only its %" PRIu64
		" valid records were explored "
		"(--partial): ",
		r->tstatus.records_valid);
	put_indented(f, r->tstatus.reason ? r->tstatus.reason : "", "    ");
	fputc('\n', f);
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
	fprintf(f, " (coverage %s, %.1f s", cov, r->elapsed_s);
	/* Two rates: generating (keying) states and checking them differ by
	 * orders of magnitude; a run too short to time gives none. */
	if (r->elapsed_s >= 0.5)
		fprintf(f, ": %.0f generated/s, %.0f checked/s", (double)r->generated / r->elapsed_s,
			(double)r->checked / r->elapsed_s);
	fprintf(f, "%s%s)\n", r->mechanism && r->mechanism[0] ? ", " : "",
		r->mechanism ? r->mechanism : "");
	summary_trace_status(f, r);
	summary_causes(f, r);
	/* The first few failures; every one is in the JSON and JUnit reports.
	 */
	for (i = 0; i < r->nfailures && i < REPORT_SUMMARY_FAILURES; i++)
		summary_failure(f, &r->failures[i]);
	if (r->nfailures > REPORT_SUMMARY_FAILURES)
		fprintf(f,
			"... and %zu more failing states (all of them in "
			"--json / --junit)\n",
			r->nfailures - REPORT_SUMMARY_FAILURES);
	if (r->note) {
		fputs("note: ", f);
		put_indented(f, r->note, "      ");
		fputc('\n', f);
	}
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
	return report_progress_new_at(tty, now_ns());
}

struct report_progress *report_progress_new_at(FILE *tty, int64_t start_ns)
{
	struct report_progress *p;

	if (!tty || !isatty(fileno(tty)))
		return NULL; /* every report_progress_* accepts NULL */
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tty = tty;
	p->start = start_ns;
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
	if (p)
		report_progress_update_at(p, done, total, failed, now_ns());
}

void report_progress_update_at(struct report_progress *p, uint64_t done,
			       uint64_t total, uint64_t failed, int64_t t)
{
	double secs, rate;
	char eta[24] = "?";

	if (!p)
		return;
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
