/*
 * help.c - --help text and manual pages from one description (help.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "help.h"

#define HELP_WIDTH 78

const struct help_cmd *help_find(const struct help_page *p, const char *name)
{
	const struct help_cmd *c;

	for (c = p->cmds; c->usage; c++)
		if ((!name && !c->name) || (name && c->name && !strcmp(name, c->name)))
			return c;
	return NULL;
}

/*
 * Prints text wrapped at HELP_WIDTH with indent spaces before each line.
 * Blank lines separate paragraphs; a line starting with two spaces is
 * printed as it is (examples, tables).
 */
static void wrap(FILE *f, const char *text, int indent)
{
	const char *p = text;
	int col = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len == 0 || (len >= 2 && p[0] == ' ' && p[1] == ' ')) {
			if (col)
				fputc('\n', f);
			col = 0;
			if (len)
				fprintf(f, "%*s%.*s\n", indent, "", (int)len, p);
			else
				fputc('\n', f);
		} else {
			const char *w = p, *end = p + len;

			while (w < end) {
				size_t wl;

				while (w < end && *w == ' ')
					w++;
				wl = strcspn(w, " \n");
				if (w + wl > end)
					wl = (size_t)(end - w);
				if (!wl)
					break;
				if (col && col + 1 + (int)wl > HELP_WIDTH) {
					fputc('\n', f);
					col = 0;
				}
				if (!col)
					col = fprintf(f, "%*s%.*s", indent, "", (int)wl, w);
				else
					col += fprintf(f, " %.*s", (int)wl, w);
				w += wl;
			}
		}
		p += len + (eol ? 1 : 0);
	}
	if (col)
		fputc('\n', f);
}

void help_print_usage(FILE *f, const struct help_page *p, const char *name)
{
	const struct help_cmd *c = help_find(p, name);
	const char *u, *nl;
	int indent = 0;

	if (!c)
		return;
	for (u = c->usage; *u; u = nl ? nl + 1 : u + strlen(u)) {
		nl = strchr(u, '\n');
		if (!indent) { /* continuation lines line up under the first's arguments */
			indent = fprintf(f, "usage: %s%s%s ", p->program, c->name ? " " : "",
					 c->name ? c->name : "");
		} else {
			while (*u == ' ')
				u++;
			fprintf(f, "%*s", indent, "");
		}
		fprintf(f, "%.*s\n", (int)(nl ? (size_t)(nl - u) : strlen(u)), u);
	}
}

/* Each option of c: its flag, then its description indented below. */
static void print_opts(FILE *f, const struct help_cmd *c)
{
	const struct help_opt *o;

	for (o = c->opts; o && o->flag; o++) {
		fprintf(f, "  %s\n", o->flag);
		wrap(f, o->desc, 6);
	}
}

static void print_cmd(FILE *f, const struct help_page *p, const struct help_cmd *c)
{
	help_print_usage(f, p, c->name);
	if (c->about) {
		fputc('\n', f);
		wrap(f, c->about, 2);
	}
	if (c->opts && c->opts[0].flag) {
		fprintf(f, "\noptions:\n");
		print_opts(f, c);
	}
}

int help_print_cmd(FILE *f, const struct help_page *p, const char *name)
{
	const struct help_cmd *c = help_find(p, name);

	if (!c)
		return -1;
	print_cmd(f, p, c);
	return 0;
}

void help_print_page(FILE *f, const struct help_page *p)
{
	const struct help_cmd *c;
	const struct help_section *s;

	fprintf(f, "%s - %s\n\n", p->program, p->summary);
	for (c = p->cmds; c->usage; c++)
		help_print_usage(f, p, c->name);
	if (p->about) {
		fputc('\n', f);
		wrap(f, p->about, 0);
	}
	for (c = p->cmds; c->usage; c++) {
		fprintf(f, "\n%s%s%s\n", p->program, c->name ? " " : "", c->name ? c->name : "");
		if (c->about)
			wrap(f, c->about, 2);
		print_opts(f, c);
	}
	for (s = p->sections; s->title; s++) {
		fprintf(f, "\n%s\n", s->title);
		wrap(f, s->text, 2);
	}
	if (p->see_also)
		fprintf(f, "\nSEE ALSO\n  %s\n", p->see_also);
}

/* ---- roff ---- */

/* Writes n bytes of s escaped for roff text (not at a line start). */
static void roff_text(FILE *f, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\e", f);
		else if (s[i] == '-')
			fputs("\\-", f);
		else
			fputc(s[i], f);
	}
}

/* One line of roff text: guarded against a leading . or '. */
static void roff_line(FILE *f, const char *s, size_t n)
{
	if (n && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", f);
	roff_text(f, s, n);
	fputc('\n', f);
}

/* Paragraphs: blank line -> .PP; example lines (two leading spaces) in .nf/.fi. */
static void roff_paras(FILE *f, const char *text)
{
	const char *p = text;
	bool in_ex = false;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		bool ex = len >= 2 && p[0] == ' ' && p[1] == ' ';

		if (ex && !in_ex)
			fputs(".PP\n.nf\n.RS 4\n", f);
		if (!ex && in_ex)
			fputs(".RE\n.fi\n", f);
		in_ex = ex;
		if (!len)
			fputs(".PP\n", f);
		else
			roff_line(f, ex ? p + 2 : p, ex ? len - 2 : len);
		p += len + (eol ? 1 : 0);
	}
	if (in_ex)
		fputs(".RE\n.fi\n", f);
}

static void roff_usage(FILE *f, const struct help_page *p, const struct help_cmd *c)
{
	const char *u, *nl;

	fprintf(f, ".B %s%s%s\n", p->program, c->name ? " " : "", c->name ? c->name : "");
	for (u = c->usage; *u; u = nl ? nl + 1 : u + strlen(u)) {
		nl = strchr(u, '\n');
		while (*u == ' ')
			u++;
		roff_line(f, u, nl ? (size_t)(nl - u) : strlen(u));
	}
	fputs(".br\n", f);
}

void help_print_man(FILE *f, const struct help_page *p, const char *version)
{
	const struct help_cmd *c;
	const struct help_section *s;
	char up[64];
	size_t i;

	for (i = 0; p->program[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)(p->program[i] >= 'a' && p->program[i] <= 'z' ? p->program[i] - 32
									       : p->program[i]);
	up[i] = 0;
	fprintf(f, ".\\\" Generated by `%s --man` from the same text as --help.\n", p->program);
	fprintf(f, ".TH %s %d \"\" \"%s %s\" \"faultline\"\n", up, p->man_section, p->program,
		version);
	fputs(".SH NAME\n", f);
	roff_text(f, p->program, strlen(p->program));
	fputs(" \\- ", f);
	roff_line(f, p->summary, strlen(p->summary));
	fputs(".SH SYNOPSIS\n", f);
	for (c = p->cmds; c->usage; c++)
		roff_usage(f, p, c);
	if (p->about) {
		fputs(".SH DESCRIPTION\n", f);
		roff_paras(f, p->about);
	}
	fputs(p->cmds[0].name ? ".SH COMMANDS\n" : ".SH OPTIONS\n", f);
	for (c = p->cmds; c->usage; c++) {
		const struct help_opt *o;

		if (c->name) {
			fputs(".SS ", f);
			roff_line(f, c->name, strlen(c->name));
			roff_usage(f, p, c);
		}
		if (c->about) {
			fputs(".PP\n", f);
			roff_paras(f, c->about);
		}
		for (o = c->opts; o && o->flag; o++) {
			fputs(".TP\n.B ", f);
			roff_line(f, o->flag, strlen(o->flag));
			roff_line(f, o->desc, strlen(o->desc));
		}
	}
	for (s = p->sections; s->title; s++) {
		fputs(".SH ", f);
		roff_line(f, s->title, strlen(s->title));
		roff_paras(f, s->text);
	}
	if (p->see_also) {
		fputs(".SH SEE ALSO\n", f);
		roff_line(f, p->see_also, strlen(p->see_also));
	}
}
