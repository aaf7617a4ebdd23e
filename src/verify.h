/*
 * verify.h - does TRACE/base still hold the tree the trace recorded?
 *
 * Every crash state starts from TRACE/base, so a snapshot edited after
 * recording would silently change every state.  The BASE records name
 * each entry the recording began with, its type, its size and a hash of
 * its bytes (trace_content_hash); verify_base() holds the snapshot to
 * them.  ops_load() calls it before any state can be built.
 */
#ifndef FL_VERIFY_H
#define FL_VERIFY_H

#include <stddef.h>

#include "ops.h"

/*
 * Compares t->dir/base with t's BASE records: every recorded entry is
 * there with its type (reached through no symlink), a regular file with
 * its size and content hash, a symlink with its target; and nothing else
 * is.  Each file's bytes are read once (hard links once per id), holes
 * skipped.  Returns 0; -FL_EBADTRACE with the first difference in why
 * ("base/PATH ..."); or -errno when the snapshot cannot be read (why says
 * which path).
 */
int verify_base(const struct ops_trace *t, char *why, size_t whylen);

#endif
