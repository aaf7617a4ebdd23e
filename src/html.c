/*
 * html.c - escaping for the self-contained HTML pages faultline writes
 * (see html.h).  Nothing here knows about explain or audit.
 */
#include <string.h>

#include "html.h"

static void put_char(FILE *out, char c)
{
	switch (c) {
	case '<': fputs("&lt;", out); break;
	case '>': fputs("&gt;", out); break;
	case '&': fputs("&amp;", out); break;
	case '"': fputs("&quot;", out); break;
	default: fputc(c, out);
	}
}

void html_escape(FILE *out, const char *s)
{
	for (; *s; s++)
		put_char(out, *s);
}

void html_sh_word(FILE *out, const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_-+=./:,@%";

	if (*s && strspn(s, safe) == strlen(s)) {
		html_escape(out, s);
		return;
	}
	fputc('\'', out);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", out);
		else
			put_char(out, *s);
	fputc('\'', out);
}
