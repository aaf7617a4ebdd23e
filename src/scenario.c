/*
 * scenario.c - reads scenario files (format in scenario.h) with inih.
 *
 * Strict on purpose: an unknown key or section, a repeated key, a bad
 * value or a missing command is an error naming the file and line, so a
 * typo never silently changes what CI checks.
 */
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "explore.h"
#include "model.h"
#include "scenario.h"

const char *const scenario_opt_names[SCENARIO_NOPTS] = {SCENARIO_OPTS};

struct parse {
	struct scenario *s;
	char why[256];  /* reason for the first error */
	int expect_set; /* expect was given */
	int calls_set;  /* calls was given */
};

/* A number in [lo, hi] (integer unless frac). */
static int num_ok(const char *v, double lo, double hi, int frac)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	return *v && !*end && !errno && d >= lo && d <= hi && (frac || d == (long long)d);
}

/* Checks an optional explore key's value; NULL when fine, else the reason. */
static const char *opt_check(int i, const char *v)
{
	struct explore_opts o;
	static const struct { double lo, hi; int frac; } lim[SCENARIO_NOPTS] = {
		{1, 1 << 20, 0}, {0, 0, 0}, {0, 1 << 24, 0}, {0, 1 << 24, 0},
		{0, 24, 0}, {0, 1.8e19, 0}, {1, 1024, 0}, {0, 1e6, 1}, {0, 1e7, 1},
	};

	if (i == 1)
		return explore_parse_tear(v, &o) ? "tear must list old,new,zero,garbage" : NULL;
	return num_ok(v, lim[i].lo, lim[i].hi, lim[i].frac) ? NULL : "value out of range";
}

/* Stores value in *slot unless it was set before. */
static int set_once(struct parse *p, char **slot, const char *name, const char *value)
{
	if (*slot) {
		snprintf(p->why, sizeof(p->why), "'%s' given twice", name);
		return 0;
	}
	*slot = strdup(value);
	return *slot != NULL;
}

static int kind_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *scenario_kinds_join(const char **v, size_t n)
{
	size_t i, k, len = 1;
	char *out;

	if (n)
		qsort(v, n, sizeof(*v), kind_cmp);
	for (i = 0; i < n; i++)
		len += strlen(v[i]) + 2;
	if (!(out = malloc(len)))
		return NULL;
	out[0] = 0;
	for (i = k = 0; i < n; i++)
		if (!i || strcmp(v[i], v[i - 1]))
			strcat(strcat(out, k++ ? ", " : ""), v[i]);
	return out;
}

/*
 * The kinds of a causes value (separated by commas or blanks), each
 * known, sorted, each once, joined by ", ".  NULL with why set.
 */
static char *causes_value(struct parse *p, const char *value)
{
	char *copy = strdup(value), *tok, *save = NULL, *out;
	const char *w[32];
	size_t n = 0;

	if (!copy)
		return NULL;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (!explore_cause_kind_known(tok)) {
			snprintf(p->why, sizeof(p->why), "unknown cause kind '%s' (%s)", tok,
				 explore_cause_kinds());
			free(copy);
			return NULL;
		}
		if (n == 32) {
			snprintf(p->why, sizeof(p->why), "'causes' names more than 32 kinds");
			free(copy);
			return NULL;
		}
		w[n++] = tok;
	}
	if (!n) {
		snprintf(p->why, sizeof(p->why), "'causes' names no kind (%s)", explore_cause_kinds());
		free(copy);
		return NULL;
	}
	out = scenario_kinds_join(w, n);
	free(copy);
	return out;
}

static int check_value(struct parse *p, const char *name, const char *value)
{
	struct explore_opts o;

	if (!strcmp(name, "model") && !model_find(value))
		snprintf(p->why, sizeof(p->why), "unknown model '%s' (%s)", value, model_list());
	else if (!strcmp(name, "mode") && explore_parse_mode(value, &o))
		snprintf(p->why, sizeof(p->why), "bad mode '%s'", value);
	else if (!strcmp(name, "expect") && strcmp(value, "pass") && strcmp(value, "fail"))
		snprintf(p->why, sizeof(p->why), "expect must be pass or fail, not '%s'", value);
	else if (!strcmp(name, "calls") && strcmp(value, "yes") && strcmp(value, "no"))
		snprintf(p->why, sizeof(p->why), "calls must be yes or no, not '%s'", value);
	else if (!*value && strcmp(name, "description"))
		snprintf(p->why, sizeof(p->why), "'%s' is empty", name);
	return !p->why[0];
}

/* A key whose value is a flag (checked already): once only.  1, or 0 with why. */
static int set_flag(struct parse *p, int *seen, const char *name, int *flag, int value)
{
	if ((*seen)++) {
		snprintf(p->why, sizeof(p->why), "'%s' given twice", name);
		return 0;
	}
	*flag = value;
	return 1;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse *p = user;
	struct scenario *s = p->s;
	int i;

	if (strcmp(section, "scenario")) {
		snprintf(p->why, sizeof(p->why), "unknown section [%s] (only [scenario])", section);
		return 0;
	}
	if (!check_value(p, name, value))
		return 0;
	if (!strcmp(name, "description")) return set_once(p, &s->description, name, value);
	if (!strcmp(name, "setup")) return set_once(p, &s->setup, name, value);
	if (!strcmp(name, "workload")) return set_once(p, &s->workload, name, value);
	if (!strcmp(name, "check") || !strcmp(name, "check-server")) {
		if (s->check) {
			snprintf(p->why, sizeof(p->why), "'check' or 'check-server' given twice");
			return 0;
		}
		s->check_server = name[5] != '\0'; /* a warm checker (README) */
		return set_once(p, &s->check, name, value);
	}
	if (!strcmp(name, "model")) return set_once(p, &s->model, name, value);
	if (!strcmp(name, "mode")) return set_once(p, &s->mode, name, value);
	if (!strcmp(name, "causes")) {
		char *v = causes_value(p, value);
		int ok = v && set_once(p, &s->causes, name, v);

		free(v);
		if (!v && !p->why[0])
			snprintf(p->why, sizeof(p->why), "out of memory");
		return ok;
	}
	if (!strcmp(name, "calls"))
		return set_flag(p, &p->calls_set, name, &s->calls, !strcmp(value, "yes"));
	if (!strcmp(name, "expect"))
		return set_flag(p, &p->expect_set, name, &s->expect_fail, !strcmp(value, "fail"));
	for (i = 0; i < SCENARIO_NOPTS; i++)
		if (!strcmp(name, scenario_opt_names[i])) {
			const char *why = opt_check(i, value);

			if (why) {
				snprintf(p->why, sizeof(p->why), "%s: %s", name, why);
				return 0;
			}
			return set_once(p, &s->opt[i], name, value);
		}
	snprintf(p->why, sizeof(p->why), "unknown key '%s'", name);
	return 0;
}

/*
 * Makes each word of cmd that starts with ./ or ../ absolute against dir
 * (or, if it is not there, against $FAULTLINE_SCENARIO_BUILDDIR, where a
 * separate build directory keeps the engines).  Returns a new string.
 */
static char *resolve(const char *cmd, const char *dir)
{
	const char *bdir = getenv("FAULTLINE_SCENARIO_BUILDDIR");
	size_t cap = strlen(cmd) * 2 + 8 * PATH_MAX, len = 0;
	char *out = malloc(cap);
	const char *p = cmd;

	while (out && *p) {
		int start = p == cmd || p[-1] == ' ' || p[-1] == '\t';

		if (start && (!strncmp(p, "./", 2) || !strncmp(p, "../", 3))) {
			size_t w = strcspn(p, " \t");
			size_t dot = strncmp(p, "./", 2) ? 0 : 2; /* dir/x, not dir/./x */
			char path[PATH_MAX * 2];

			snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(w - dot), p + dot);
			if (access(path, F_OK) && bdir)
				snprintf(path, sizeof(path), "%s/%.*s", bdir, (int)(w - dot), p + dot);
			len += (size_t)snprintf(out + len, cap - len, "%s", path);
			p += w;
			continue;
		}
		out[len++] = *p++;
		out[len] = 0;
	}
	if (out)
		out[len] = 0;
	return out;
}

/* Fills defaults and resolves commands once the file has been read. */
static int finish(struct scenario *s, char *err, size_t errlen)
{
	char *cmds[] = {s->setup, s->workload, s->check};
	char **dst[] = {&s->setup, &s->workload, &s->check};
	size_t i;

	if (!s->workload || !s->check) {
		snprintf(err, errlen, "%s: missing '%s' (a scenario needs workload and check "
			 "or check-server)",
			 s->path, s->workload ? "check" : "workload");
		return -EINVAL;
	}
	if (s->causes && !s->expect_fail) {
		snprintf(err, errlen, "%s: 'causes' needs expect = fail", s->path);
		return -EINVAL;
	}
	if ((!s->model && !(s->model = strdup("posix"))) ||
	    (!s->mode && !(s->mode = strdup("omit-one"))))
		return -ENOMEM;
	for (i = 0; i < 3; i++) {
		if (!cmds[i])
			continue;
		*dst[i] = resolve(cmds[i], s->dir);
		free(cmds[i]);
		if (!*dst[i])
			return -ENOMEM;
	}
	return 0;
}

static int set_names(struct scenario *s, const char *path)
{
	char abs[PATH_MAX], *base, *dot;

	if (!realpath(path, abs))
		return -errno;
	s->path = strdup(path);
	s->dir = strdup(dirname(strcpy((char[PATH_MAX]){0}, abs)));
	base = basename(abs);
	dot = strrchr(base, '.');
	if (dot && !strcmp(dot, ".ini"))
		*dot = 0;
	s->name = strdup(base);
	return s->path && s->dir && s->name ? 0 : -ENOMEM;
}

int scenario_load(const char *path, struct scenario *s, char *err, size_t errlen)
{
	struct parse p = {.s = s};
	FILE *f;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = set_names(s, path)) < 0 || !(f = fopen(path, "re"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(rc < 0 ? -rc : errno));
		return rc < 0 ? rc : -errno;
	}
	rc = ini_parse_file(f, handler, &p);
	fclose(f);
	if (rc > 0 || p.why[0]) {
		snprintf(err, errlen, "%s:%d: %s", path, rc > 0 ? rc : 0,
			 p.why[0] ? p.why : "not an INI line (key = value expected)");
		return -EINVAL;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot read it", path);
		return -EIO;
	}
	rc = finish(s, err, errlen);
	return rc;
}

void scenario_free(struct scenario *s)
{
	int i;

	free(s->path);
	free(s->name);
	free(s->dir);
	free(s->description);
	free(s->setup);
	free(s->workload);
	free(s->check);
	free(s->model);
	free(s->mode);
	free(s->causes);
	for (i = 0; i < SCENARIO_NOPTS; i++)
		free(s->opt[i]);
	memset(s, 0, sizeof(*s));
}
