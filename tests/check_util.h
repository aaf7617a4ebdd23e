/*
 * check_util.h - small traces built by hand for the unit tests: a base
 * snapshot with its BASE records, then records, written with the real
 * trace writer and loaded with the real loader.
 */
#ifndef FL_CHECK_UTIL_H
#define FL_CHECK_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ops.h"
#include "trace.h"

struct tb {
	char dir[512];            /* the trace directory */
	struct trace_writer *w;   /* its records file */
};

/* Starts trace NAME in this test's temporary directory (empty base). */
void tb_start(struct tb *b, const char *name);

/* A base directory (data NULL) or regular file at path (below base/), with its BASE record. */
void tb_base(struct tb *b, uint64_t id, uint64_t parent, const char *name, const char *path,
	     const void *data, size_t len, mode_t mode);

/* Appends r (a WRITE's result is its data length). */
void tb_rec(struct tb *b, struct trace_rec r);

/* Writes dir/meta.json of a complete trace: status, start_ns, records digest. */
void tb_meta(const char *dir);

/* Closes the trace, writes meta.json, and loads it. */
struct ops_trace *tb_finish(struct tb *b);

#define TB_CREATE(par, i, nm) ((struct trace_rec){.op = TRACE_OP_CREATE, .parent = par, .id = i, \
	.mode = 0100644, .name = nm, .name_len = sizeof(nm) - 1, .pid = 9})
#define TB_WRITE(i, o, d, n) ((struct trace_rec){.op = TRACE_OP_WRITE, .id = i, .off = o, \
	.len = n, .data = d, .data_len = n, .pid = 9})
#define TB_FSYNC(i, ds) ((struct trace_rec){.op = TRACE_OP_FSYNC, .id = i, .flags = ds, .pid = 9})
#define TB_FSYNCDIR(i) ((struct trace_rec){.op = TRACE_OP_FSYNCDIR, .id = i, .pid = 9})
#define TB_MARK(txt) ((struct trace_rec){.op = TRACE_OP_MARK, .name = txt, \
	.name_len = sizeof(txt) - 1, .pid = 9})

#endif
