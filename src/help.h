/*
 * help.h - one source for --help and the manual pages.
 *
 * A program describes itself once, as a struct help_page: its commands,
 * each with a usage, a paragraph and its options, then sections (exit
 * codes, environment, examples ...).  help_print_cmd() writes one
 * command's --help, help_print_page() the whole page as text (the
 * program's --help), help_print_man() the same page as a roff manual
 * page.  So `faultline explore --help`, `faultline --help` and
 * faultline(1) cannot drift apart.
 */
#ifndef FL_HELP_H
#define FL_HELP_H

#include <stdio.h>

struct help_opt {
	const char *flag; /* "--model M", "-j N, --jobs N" */
	const char *desc; /* one paragraph, no newlines needed */
};

struct help_cmd {
	const char *name;  /* "explore"; NULL for a program without subcommands */
	const char *usage; /* after "PROGRAM NAME ": may hold newlines */
	const char *about; /* paragraphs separated by blank lines */
	const struct help_opt *opts; /* ends with a {NULL, NULL} entry; NULL for none */
};

struct help_section {
	const char *title; /* "EXIT STATUS" */
	const char *text;  /* paragraphs separated by blank lines; a line starting
			      with two spaces is kept as is (an example) */
};

struct help_page {
	const char *program;  /* "faultline" */
	int man_section;      /* 1, 8 */
	const char *summary;  /* NAME line: "crash-consistency test harness" */
	const char *about;    /* DESCRIPTION */
	const struct help_cmd *cmds; /* ends with a {NULL...} entry whose usage is NULL */
	const struct help_section *sections; /* ends with {NULL, NULL} */
	const char *see_also; /* "faultline-fs(8)" */
};

/* Prints the usage lines of command name (NULL: the program's own). */
void help_print_usage(FILE *f, const struct help_page *p, const char *name);
/* Prints command name's full --help.  0, or -1 for an unknown name. */
int help_print_cmd(FILE *f, const struct help_page *p, const char *name);
/* Prints the whole page as text (the program's --help). */
void help_print_page(FILE *f, const struct help_page *p);
/* Prints the whole page as a roff (man(7)) manual page; date "YYYY-MM-DD". */
void help_print_man(FILE *f, const struct help_page *p, const char *version);

#endif
