/*
 * html.h - what the HTML pages (explain, audit) write the same way: text
 * escaped for HTML, and a command line quoted for sh and then escaped.
 */
#ifndef FL_HTML_H
#define FL_HTML_H

#include <stdio.h>

/* Writes s with < > & " escaped. */
void html_escape(FILE *out, const char *s);

/* Writes s as one sh word (bare when it holds only safe characters,
 * otherwise in single quotes, a ' written as '\''), HTML-escaped. */
void html_sh_word(FILE *out, const char *s);

#endif
