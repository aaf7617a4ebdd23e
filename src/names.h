/*
 * names.h - which path a file id had at a point in a trace.
 *
 * Feed every record in order to names_apply(); names_path() then tells
 * the path an id has at that point.  For display and explanations: with
 * hard links, the path is built from the oldest name still linked.
 */
#ifndef FL_NAMES_H
#define FL_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct names;

/* Returns a new, empty map holding only the root (id 1, path "/"), or NULL. */
struct names *names_new(void);
void names_free(struct names *n);

/* Updates the map for a namespace record; other records and failed ops
 * are ignored.  Returns 0 or -ENOMEM. */
int names_apply(struct names *n, const struct trace_rec *rec);

/*
 * Writes the path of id (e.g. "/dir/file") into buf (len bytes, always
 * NUL-terminated).  Returns 0, -ENOENT when the id is unknown or no
 * longer has a name (buf then says "<id N>" or "<deleted id N>"), or
 * -ENAMETOOLONG when the path did not fit (buf holds its tail).
 */
int names_path(const struct names *n, uint64_t id, char *buf, size_t len);

#endif
