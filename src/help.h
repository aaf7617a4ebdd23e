/*
 * help.h - one source for --help and the manual pages.
 *
 * A program describes itself once, as a struct help_page: its commands,
 * each with a usage, a paragraph and its options, then sections (exit
 * codes, environment, examples ...).  help_print_cmd() writes one
 * command's --help, help_print_page() the whole page as text (the
 * program's --help), help_print_man() the same page as a roff manual
 * page, help_print_bash() a bash completion script.  So `faultline
 * explore --help`, `faultline --help`, faultline(1) and what the shell
 * completes cannot drift apart.
 */
#ifndef FL_HELP_H
#define FL_HELP_H

#include <stdbool.h>
#include <stddef.h>
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

/*
 * The words an option's argument may be, for shell completion, where its
 * flag does not show them (help_bash.c reads the flags: "--order
 * sweep|spread" gives its words, "--json FILE" file names).
 */
struct help_arg {
	const char *cmd; /* the command it is for; NULL: every command with opt */
	const char *opt; /* "--model" */
	size_t (*words)(const char **out, size_t cap); /* fills out[] with up to cap
							  static words; returns how many */
	bool list;       /* the argument is a comma-separated list of the words */
};

struct help_page {
	const char *program;  /* "faultline" */
	int man_section;      /* 1, 8 */
	const char *summary;  /* NAME line: "crash-consistency test harness" */
	const char *about;    /* DESCRIPTION */
	const struct help_cmd *cmds; /* ends with a {NULL...} entry whose usage is NULL */
	const struct help_section *sections; /* ends with {NULL, NULL} */
	const char *see_also; /* "faultline-fs(8)" */
	/* for shell completion only: */
	const struct help_arg *args;     /* ends with {.opt = NULL}; the first match counts;
					    NULL for none */
	const char *const *shared_opts;  /* pairs: a command, then the command whose options
					    it takes too ("run", "explore"); ends with NULL */
};

/* Command name of p (NULL: the program's own entry), or NULL if it has none. */
const struct help_cmd *help_find(const struct help_page *p, const char *name);
/* Prints the usage lines of command name (NULL: the program's own). */
void help_print_usage(FILE *f, const struct help_page *p, const char *name);
/* Prints command name's full --help.  0, or -1 for an unknown name. */
int help_print_cmd(FILE *f, const struct help_page *p, const char *name);
/* Prints the whole page as text (the program's --help). */
void help_print_page(FILE *f, const struct help_page *p);
/* Prints the whole page as a roff (man(7)) manual page; date "YYYY-MM-DD". */
void help_print_man(FILE *f, const struct help_page *p, const char *version);
/*
 * Prints a bash completion script for the program (help_bash.c): its
 * subcommands, each command's options, the words or file names their
 * arguments take.  Sourced, it defines _PROGRAM and registers it.
 * Returns 0, or -ENOMEM (nothing printed).
 */
int help_print_bash(FILE *f, const struct help_page *p);

#endif
