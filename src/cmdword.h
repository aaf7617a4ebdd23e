/*
 * cmdword.h - commands given relative to where faultline was started.
 *
 * A command runs somewhere else than where the user typed it: a workload
 * in the mount, a checker in each state's directory.  Like every wrapper
 * (strace, valgrind, time), faultline runs `./prog` from the caller's
 * directory: a command word that is a relative path containing a slash,
 * and names an existing file there, is made absolute before the change of
 * directory.  A word that names nothing there is left alone (it may mean
 * a file in the mount or the state).
 */
#ifndef FL_CMDWORD_H
#define FL_CMDWORD_H

#include <stddef.h>

/*
 * Writes to out (cap bytes) the shell command cmd with its first word made
 * absolute against dir when that word is a relative path with a slash,
 * made of plain characters (letters, digits, . _ / + - , : @ %) and ended
 * by a blank or the end, and dir/word exists; else cmd unchanged.  dir is
 * single-quoted when it holds other characters.  Returns 1 when it
 * rewrote, 0 when it copied cmd (also when the rewritten command would not
 * fit), -ENAMETOOLONG when even cmd does not fit.
 */
int cmdword_resolve_first(const char *cmd, const char *dir, char *out, size_t cap);

/*
 * The same for an argv[0] (no shell): out gets dir/arg when arg is a
 * relative path with a slash naming an existing file under dir, else arg.
 * Returns 1, 0 or -ENAMETOOLONG as above.
 */
int cmdword_resolve_arg(const char *arg, const char *dir, char *out, size_t cap);

#endif
