/*
 * help_bash.c - a bash completion script from a program's description
 * (help.h), so the shell offers exactly what --help describes.
 *
 * What it reads: the command names; each command's option flags ("-o
 * TRACE, --output TRACE": two names that take an argument; "--keep-final":
 * one that takes none); the page's args table for the words an argument
 * may be (--model: the models), and failing that the argument's
 * placeholder: "sweep|spread" lists its words, one ending in FILE or CMD
 * is a file name, in DIR or TRACE a directory, anything else (N, SEC) has
 * nothing to offer.  Any other word is a file name (TRACE, SCENARIO,
 * RESULT.json), and after `--` the words of a command where the usage
 * says "-- CMD" (record's workload).
 *
 * The script needs bash 4 (mapfile, compgen) and nothing else; where
 * bash-completion is loaded, a recorded command's own arguments complete
 * as that command's.  Its functions are named after the program
 * (_faultline, _faultline_words ...), so two programs' scripts coexist.
 * It does not complete option values glued to a short option (-j4).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "help.h"

#define BASH_NAMES 4	/* names of one flag, at most: "-o", "--output" */
#define BASH_WORD 48	/* bytes of a name or a placeholder */
#define BASH_ACTION 512 /* bytes of the bash that completes one argument */
#define BASH_WORDS 64	/* words of one argument, at most */

/* One flag split up. */
struct bash_flag {
	char name[BASH_NAMES][BASH_WORD]; /* "-o", "--output" */
	size_t n;			  /* names used */
	char arg[BASH_WORD];		  /* "TRACE"; "" when it takes none */
};

/* An option name that takes an argument, and how to complete it. */
struct bash_arg {
	const char *cmd;	  /* command name, NULL for the program's own */
	char name[BASH_WORD];	  /* "--model" */
	char action[BASH_ACTION]; /* bash for the argument, "" for nothing */
};

/* Placeholders that name files: the suffix, and compgen's flag. */
static const struct {
	const char *suffix;
	const char *gen;
} bash_paths[] = {
    {"FILE", "-f"},
    {"CMD", "-f"},
    {"DIR", "-d"},
    {"TRACE", "-d"},
};

/* Splits "-o TRACE, --output TRACE" into fl. */
static void flag_parse(const char *flag, struct bash_flag *fl)
{
	const char *p = flag;
	size_t w;

	memset(fl, 0, sizeof(*fl));
	while (*p && fl->n < BASH_NAMES) {
		w = strcspn(p, " ,");
		snprintf(fl->name[fl->n++], BASH_WORD, "%.*s", (int)w, p);
		p += w;
		if (*p == ' ') {
			w = strcspn(++p, ",");
			snprintf(fl->arg, BASH_WORD, "%.*s", (int)w, p);
			p += w;
		}
		p += strspn(p, ", ");
	}
}

/* Appends s to the string in buf (len bytes in all), cut short if need be. */
static void bash_cat(char *buf, size_t len, const char *s)
{
	size_t at = strlen(buf);

	snprintf(buf + at, len - at, "%s", s);
}

/* The page's args entry for fl (any of its names) of command cmd, or NULL. */
static const struct help_arg *arg_entry(const struct help_page *p,
					const char *cmd,
					const struct bash_flag *fl)
{
	const struct help_arg *a;
	size_t i;

	for (a = p->args; a && a->opt; a++)
		for (i = 0; i < fl->n; i++)
			if (!strcmp(a->opt, fl->name[i]) &&
			    (!a->cmd || (cmd && !strcmp(a->cmd, cmd))))
				return a;
	return NULL;
}

/* Appends to buf the words of fl's argument: a's, or its "a|b" alternatives. */
static void arg_words(const struct help_arg *a, const struct bash_flag *fl,
		      char *buf, size_t len)
{
	const char *words[BASH_WORDS];
	char alt[BASH_WORD], *bar;
	size_t n, i;

	if (!a) {
		snprintf(alt, sizeof(alt), "%s", fl->arg);
		for (bar = alt; (bar = strchr(bar, '|'));)
			*bar = ' ';
		bash_cat(buf, len, alt);
		return;
	}
	n = a->words(words, BASH_WORDS);
	for (i = 0; i < n; i++) {
		bash_cat(buf, len, i ? " " : "");
		bash_cat(buf, len, words[i]);
	}
}

/*
 * Writes to buf the bash that completes the argument of flag fl of
 * command cmd: a call of fn's helpers, or "" when there is nothing to offer.
 */
static void arg_action(const struct help_page *p, const char *fn,
		       const char *cmd, const struct bash_flag *fl, char *buf,
		       size_t len)
{
	const struct help_arg *a = arg_entry(p, cmd, fl);
	size_t i, sl, al = strlen(fl->arg);

	buf[0] = 0;
	if (a || strchr(fl->arg, '|')) {
		snprintf(buf, len, "%s_%s '", fn,
			 a && a->list ? "list" : "words");
		arg_words(a, fl, buf, len);
		bash_cat(buf, len, "'");
		return;
	}
	for (i = 0; i < sizeof(bash_paths) / sizeof(bash_paths[0]); i++) {
		sl = strlen(bash_paths[i].suffix);
		if (al >= sl &&
		    !strcmp(fl->arg + al - sl, bash_paths[i].suffix)) {
			snprintf(buf, len, "%s_compgen %s", fn,
				 bash_paths[i].gen);
			return;
		}
	}
}

/* The command whose options c takes too (the page's shared_opts), or NULL. */
static const struct help_cmd *shared_with(const struct help_page *p,
					  const struct help_cmd *c)
{
	const char *const *s;

	for (s = p->shared_opts; c->name && s && s[0] && s[1]; s += 2)
		if (!strcmp(s[0], c->name))
			return help_find(p, s[1]);
	return NULL;
}

typedef int bash_flag_fn(void *ctx, const struct help_cmd *c,
			 const struct bash_flag *fl);

/*
 * Calls fn for each option c takes, its own then those it shares.  Returns
 * the first non-0 that fn returns (and stops there), else 0.
 */
static int each_flag(const struct help_page *p, const struct help_cmd *c,
		     bash_flag_fn *fn, void *ctx)
{
	const struct help_cmd *from[2] = {c, shared_with(p, c)};
	const struct help_opt *o;
	struct bash_flag fl;
	size_t i;
	int err;

	for (i = 0; i < 2 && from[i]; i++)
		for (o = from[i]->opts; o && o->flag; o++) {
			flag_parse(o->flag, &fl);
			if ((err = fn(ctx, c, &fl)))
				return err;
		}
	return 0;
}

/* Every option name that takes an argument, with its action (malloc'd v). */
struct bash_args {
	const struct help_page *p;
	const char *fn;	    /* the script's function: "_faultline" */
	struct bash_arg *v; /* n used, cap allocated; the caller frees */
	size_t n, cap;
};

/* bash_flag_fn: adds fl's names to ctx (a struct bash_args).  0 or -ENOMEM. */
static int collect(void *ctx, const struct help_cmd *c,
		   const struct bash_flag *fl)
{
	struct bash_args *as = ctx;
	struct bash_arg *a;
	size_t i;

	for (i = 0; fl->arg[0] && i < fl->n; i++) {
		if (as->n == as->cap) {
			size_t cap = as->cap ? 2 * as->cap : 64;

			a = realloc(as->v, cap * sizeof(*a));
			if (!a)
				return -ENOMEM;
			as->v = a;
			as->cap = cap;
		}
		a = &as->v[as->n++];
		a->cmd = c->name;
		snprintf(a->name, sizeof(a->name), "%s", fl->name[i]);
		arg_action(as->p, as->fn, c->name, fl, a->action,
			   sizeof(a->action));
	}
	return 0;
}

/* bash_flag_fn: prints fl's names to ctx (a FILE), each followed by a space. */
static int print_names(void *ctx, const struct help_cmd *c,
		       const struct bash_flag *fl)
{
	size_t i;

	for (i = 0; i < fl->n; i++)
		fprintf(ctx, "%s ", fl->name[i]);
	return 0;
}

/* The helpers the completion function calls, named after it. */
static void print_helpers(FILE *f, const struct help_page *p, const char *fn)
{
	fprintf(f,
		"# bash completion for %2$s, written by\n"
		"# `%2$s --bash-completion` from the description that also\n"
		"# writes its --help and manual page.\n"
		"\n"
		"# WORDS: those that start with $cur (no space after one\n"
		"# ending in ':', which takes a number: bounded:K).\n"
		"%1$s_words()\n{\n"
		"\tmapfile -t COMPREPLY < <(compgen -W \"$1\" -- \"$cur\")\n"
		"\t[[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]] &&\n"
		"\t\tcompopt -o nospace 2>/dev/null\n"
		"\treturn 0\n}\n\n"
		"# WORDS: the next item of a comma-separated list of them,\n"
		"# one not listed yet.\n"
		"%1$s_list()\n{\n"
		"\tlocal head='' w left=''\n"
		"\t[[ $cur == *,* ]] && head=${cur%%,*},\n"
		"\tfor w in $1; do\n"
		"\t\t[[ ,$head == *,$w,* ]] || left+=\" $w\"\n"
		"\tdone\n"
		"\tmapfile -t COMPREPLY < <(compgen -P \"$head\" \\\n"
		"\t\t-W \"$left\" -- \"${cur##*,}\")\n"
		"\tcompopt -o nospace 2>/dev/null\n"
		"\treturn 0\n}\n\n"
		"# -f, -d or -c: file, directory or command names.\n"
		"%1$s_compgen()\n{\n"
		"\tcompopt -o filenames 2>/dev/null\n"
		"\tmapfile -t COMPREPLY < <(compgen \"$1\" -- \"$cur\")\n"
		"\treturn 0\n}\n\n",
		fn, p->program);
}

/* The function's start: its words, --opt=VALUE, the subcommand itself. */
static void print_prologue(FILE *f, const struct help_page *p, const char *fn)
{
	const struct help_cmd *c;
	bool sub = p->cmds[0].name != NULL; /* the page has subcommands */

	fprintf(f,
		"%s()\n{\n"
		"\tlocal cur=${COMP_WORDS[COMP_CWORD]}\n"
		"\tlocal prev=${COMP_WORDS[COMP_CWORD-1]}\n"
		"\tlocal cmd=%s i\n"
		"\tCOMPREPLY=()\n"
		"\t# --opt=VALUE: bash splits it at the = (COMP_WORDBREAKS)\n"
		"\tif [[ $cur == = ]]; then\n"
		"\t\tcur=\n"
		"\telif [[ $prev == = ]]; then\n"
		"\t\tprev=${COMP_WORDS[COMP_CWORD-2]}\n"
		"\tfi\n",
		fn, sub ? "${COMP_WORDS[1]}" : "''");
	if (!sub)
		return;
	fprintf(f, "\tif ((COMP_CWORD == 1)); then\n\t\t%s_words '", fn);
	for (c = p->cmds; c->usage; c++)
		fprintf(f, "%s ", c->name);
	fputs("--help'\n\t\treturn\n\tfi\n", f);
}

/* After `--`: a command's words where the usage says "-- CMD", else files. */
static void print_dashdash(FILE *f, const struct help_page *p, const char *fn)
{
	const struct help_cmd *c;

	fprintf(f,
		"\tfor ((i = %d; i < COMP_CWORD; i++)); do\n"
		"\t\t[[ ${COMP_WORDS[i]} == -- ]] || continue\n"
		"\t\tcase $cmd in\n",
		p->cmds[0].name ? 2 : 1);
	for (c = p->cmds; c->usage; c++) {
		if (!strstr(c->usage, "-- CMD"))
			continue;
		fprintf(f,
			"\t\t'%s')\n"
			"\t\t\tif declare -F _command_offset >/dev/null; then\n"
			"\t\t\t\t_command_offset $((i + 1))\n"
			"\t\t\telif ((i + 1 == COMP_CWORD)); then\n"
			"\t\t\t\t%s_compgen -c\n"
			"\t\t\telse\n"
			"\t\t\t\t%s_compgen -f\n"
			"\t\t\tfi ;;\n",
			c->name ? c->name : "", fn, fn);
	}
	fprintf(f, "\t\t*) %s_compgen -f ;;\n\t\tesac\n\t\treturn\n\tdone\n",
		fn);
}

/* Option arguments: a case arm per distinct action, its patterns joined. */
static void print_arg_arms(FILE *f, const struct bash_args *as)
{
	const struct bash_arg *v = as->v;
	size_t i, j;

	fputs("\tcase \"$cmd $prev\" in\n", f);
	for (i = 0; i < as->n; i++) {
		for (j = 0; j < i && strcmp(v[j].action, v[i].action); j++)
			;
		if (j < i)
			continue; /* its arm is written already */
		for (j = i; j < as->n; j++)
			if (!strcmp(v[j].action, v[i].action))
				fprintf(f, "%s'%s %s'",
					j > i ? " |\\\n\t" : "\t",
					v[j].cmd ? v[j].cmd : "", v[j].name);
		fprintf(f, ")\n\t\t%s%sreturn ;;\n", v[i].action,
			v[i].action[0] ? "\n\t\t" : "");
	}
	fputs("\tesac\n", f);
}

/* A word starting with '-': the command's options, and --help (every one's). */
static void print_opt_arms(FILE *f, const struct help_page *p, const char *fn)
{
	const struct help_cmd *c;

	fputs("\tif [[ $cur == -* ]]; then\n\t\tcase $cmd in\n", f);
	for (c = p->cmds; c->usage; c++) {
		fprintf(f, "\t\t'%s') %s_words '", c->name ? c->name : "", fn);
		each_flag(p, c, print_names, f);
		fputs("--help' ;;\n", f);
	}
	fputs("\t\tesac\n\t\treturn\n\tfi\n", f);
}

int help_print_bash(FILE *f, const struct help_page *p)
{
	struct bash_args as = {.p = p};
	const struct help_cmd *c;
	char fn[64];
	size_t i;
	int err = 0;

	/* _PROGRAM, with what a bash name may not hold ('-') made '_' */
	snprintf(fn, sizeof(fn), "_%s", p->program);
	for (i = 1; fn[i]; i++)
		if (!isalnum((unsigned char)fn[i]))
			fn[i] = '_';
	as.fn = fn;
	for (c = p->cmds; !err && c->usage; c++)
		err = each_flag(p, c, collect, &as);
	if (err)
		goto out_free;
	print_helpers(f, p, fn);
	print_prologue(f, p, fn);
	print_dashdash(f, p, fn);
	print_arg_arms(f, &as);
	print_opt_arms(f, p, fn);
	fprintf(f, "\t%s_compgen -f\n}\n\ncomplete -F %s %s\n", fn, fn,
		p->program);
out_free:
	free(as.v);
	return err;
}
