/*
 * cmdword.c - commands given relative to where faultline was started (see
 * cmdword.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmdword.h"

/* A character a word may hold to be rewritten: nothing the shell expands. */
static bool plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("._/+-,:@%", c));
}

/* True when word (len bytes) is a relative path with a slash naming a file
 * under dir. */
static bool names_file_under(const char *word, size_t len, const char *dir)
{
	char path[8192];

	if (!len || word[0] == '/' || !memchr(word, '/', len))
		return false;
	if ((size_t)snprintf(path, sizeof(path), "%s/%.*s", dir, (int)len, word) >= sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

static int copy(const char *s, char *out, size_t cap)
{
	return (size_t)snprintf(out, cap, "%s", s) < cap ? 0 : -ENAMETOOLONG;
}

int cmdword_resolve_first(const char *cmd, const char *dir, char *out, size_t cap)
{
	size_t lead = strspn(cmd, " \t"), w = 0, i;
	const char *p = cmd + lead;
	bool quote = false;
	int n;

	while (plain(p[w]))
		w++;
	if ((p[w] && p[w] != ' ' && p[w] != '\t') || !names_file_under(p, w, dir))
		return copy(cmd, out, cap);
	for (i = 0; dir[i]; i++)
		if (!plain(dir[i])) {
			quote = true;
			if (dir[i] == '\'')
				return copy(cmd, out, cap); /* not worth the escaping */
		}
	n = snprintf(out, cap, "%.*s%s%s%s/%s", (int)lead, cmd, quote ? "'" : "", dir,
		     quote ? "'" : "", p + (strncmp(p, "./", 2) ? 0 : 2));
	if (n < 0 || (size_t)n >= cap)
		return copy(cmd, out, cap);
	return 1;
}

int cmdword_resolve_arg(const char *arg, const char *dir, char *out, size_t cap)
{
	if (!names_file_under(arg, strlen(arg), dir))
		return copy(arg, out, cap);
	if ((size_t)snprintf(out, cap, "%s/%s", dir, arg + (strncmp(arg, "./", 2) ? 0 : 2)) >= cap)
		return copy(arg, out, cap);
	return 1;
}
