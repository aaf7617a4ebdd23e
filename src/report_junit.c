/*
 * report_junit.c - the JUnit XML form of a report (see report.c for the
 * invariants).
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
void report_checker_verdict(const struct report_failure *fl, char *buf, size_t len)
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

	report_checker_verdict(fl, verdict, sizeof(verdict));
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

/*
 * A partial trace: one skipped testcase for the records never read, so a
 * CI page shows that the exploration covered a prefix only, without
 * turning a run the user asked for (--partial) red.
 */
static void junit_trace_status(FILE *f, const struct report *r)
{
	if (!r->tstatus.partial)
		return;
	fputs("    <testcase classname=\"faultline.", f);
	xml_escape(f, r->model, true, SIZE_MAX);
	fprintf(f,
		".trace\" name=\"records after the %" PRIu64
		" valid ones (partial trace)\" "
		"time=\"0\">\n      <skipped message=\"partial trace: only its "
		"%" PRIu64 " valid records were explored (--partial): ",
		r->tstatus.records_valid, r->tstatus.records_valid);
	xml_escape(f, r->tstatus.reason ? r->tstatus.reason : "", true,
		   SIZE_MAX);
	fputs("\"/>\n    </testcase>\n", f);
}

/* The trace's status as properties (none when the report does not know it). */
static void junit_trace_properties(FILE *f, const struct report *r)
{
	char buf[32];

	if (!r->tstatus.known)
		return;
	fprintf(f, "      <property name=\"trace.partial\" value=\"%s\"/>\n",
		r->tstatus.partial ? "true" : "false");
	snprintf(buf, sizeof(buf), "%" PRIu64, r->tstatus.records_valid);
	fprintf(f,
		"      <property name=\"trace.records_valid\" value=\"%s\"/>\n",
		buf);
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
	junit_trace_properties(f, r);
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
static void junit_causes(FILE *f, const struct report *r,
			 const struct report_cause *c, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		const char *w = c[i].words ? c[i].words : "";

		fputs("    <testcase classname=\"faultline.", f);
		xml_escape(f, r->model, true, SIZE_MAX);
		fputs(".causes\" name=\"cause ", f);
		if (c[i].kind) {
			xml_escape(f, c[i].kind, true, SIZE_MAX);
			fputc(' ', f);
		}
		xml_escape(f, c[i].id, true, SIZE_MAX);
		fprintf(
		    f,
		    " (%zu state%s)\" time=\"0\">\n      <failure message=\"",
		    c[i].n, c[i].n == 1 ? "" : "s");
		xml_escape(f, w, true, strcspn(w, "\n"));
		fputs("\" type=\"", f);
		xml_escape(f, c[i].kind ? c[i].kind : "cause", true, SIZE_MAX);
		fputs("\">", f);
		xml_escape(f, w, false, SIZE_MAX);
		if (c[i].severity) {
			fputs("\n\nseverity: ", f);
			xml_escape(f, report_severity_name(c[i].severity), false,
				   SIZE_MAX);
		}
		if (c[i].sig) {
			fputs("\nsignature: ", f);
			xml_escape(f, c[i].sig, false, SIZE_MAX);
		}
		fputs("\n\nstates:", f);
		for (k = 0; k < c[i].n; k++) {
			fputc(' ', f);
			xml_escape(f, r->failures[c[i].members[k]].id, false,
				   SIZE_MAX);
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
	size_t skipped = (r->skipped > 0) + r->tstatus.partial, i;

	if (report_causes(r, &c, &nc) < 0)
		nc = 0;
	tests = nc + r->nfailures + (r->passed > 0) + skipped;
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
	junit_trace_status(f, r);
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
