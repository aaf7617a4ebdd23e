/*
 * show.c - `faultline show TRACE [--json] [--data]`: the trace, one op a line.
 *
 * The text form is for people: seq, pid, op, the path the file had at
 * that moment, and the op's arguments.  The JSON form is a contract that
 * tests and later commands rely on: fields are added, never renamed.
 *
 *   {"faultline": VERSION, "trace": PATH, "format": 3,
 *    "records": [{"seq", "op", "pid", "result", "errno"?, "time_ns",
 *                 ...op fields...}, ...],   (a base entry: "size" and
 *                                            "content_hash" since format 3)
 *    "valid_records": N, "error": null | "why reading stopped",
 *    "recording": null | {"status", "kept", "last_promise"}}
 *
 * "recording" is there when meta.json says the recording did not finish
 * (the recorder or `faultline record` was killed, or the recorder died):
 * "kept" records survived, and "last_promise" is the seq of the last
 * barrier, mark or synchronous write among them (0: none).  The recorder
 * answers those only once the trace file holds them, so everything up to
 * it is here; what may be missing is a tail of records after it.  The
 * text form says the same on stderr.
 *
 * Records are streamed, so memory does not grow with the trace.  A trace
 * with an invalid record is shown up to it; the reason goes to stderr and
 * the exit code is 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "calls.h"
#include "cli.h"
#include "fl_error.h"
#include "trace_meta.h"
#include "names.h"
#include "trace.h"

#define PATH_BUF 4096

struct flag_name {
	unsigned flag;
	const char *name;
};

static const struct flag_name write_flags[] = {
	{TRACE_WF_WRITEPAGE, "writepage"}, {TRACE_WF_DIRECT, "direct"},
	{TRACE_WF_SYNC, "sync"},           {TRACE_WF_DSYNC, "dsync"},
	{TRACE_WF_APPEND, "append"},       {TRACE_WF_EARLY, "early"},
	{0, NULL},
};

static const struct flag_name open_flags[] = {
	{O_CREAT, "creat"},   {O_EXCL, "excl"},     {O_TRUNC, "trunc"},
	{O_APPEND, "append"}, {O_DIRECT, "direct"}, {O_SYNC & ~O_DSYNC, "sync"},
	{O_DSYNC, "dsync"},   {O_NOATIME, "noatime"}, {0, NULL},
};

static const struct flag_name falloc_flags[] = {
	{0x01, "keep_size"},     {0x02, "punch_hole"}, {0x08, "collapse_range"},
	{0x10, "zero_range"},    {0x20, "insert_range"}, {0x40, "unshare_range"},
	{0, NULL},
};

static const struct flag_name rename_flags[] = {
	{1, "noreplace"}, {2, "exchange"}, {4, "whiteout"}, {0, NULL},
};

static const struct flag_name setattr_flags[] = {
	{TRACE_SA_MODE, "mode"},   {TRACE_SA_UID, "uid"},
	{TRACE_SA_GID, "gid"},     {TRACE_SA_ATIME, "atime"},
	{TRACE_SA_MTIME, "mtime"}, {TRACE_SA_ATIME_NOW, "atime_now"},
	{TRACE_SA_MTIME_NOW, "mtime_now"}, {0, NULL},
};

static const char *truncate_cause(unsigned flags)
{
	if (flags & TRACE_TF_FTRUNCATE)
		return "ftruncate";
	if (flags & TRACE_TF_OTRUNC)
		return "o_trunc";
	return "truncate";
}

/* Appends "a,b,c" for the set flags to buf; the access mode for open flags. */
static void flags_text(const struct flag_name *t, unsigned flags, char *buf,
		       size_t len)
{
	size_t pos = strlen(buf);

	for (; t->name; t++) {
		if ((flags & t->flag) != t->flag)
			continue;
		pos += (size_t)snprintf(buf + pos, pos < len ? len - pos : 0,
					"%s%s", pos ? "," : "", t->name);
	}
}

static json_object *flags_json(const struct flag_name *t, unsigned flags)
{
	json_object *a = json_object_new_array();

	for (; t->name; t++)
		if ((flags & t->flag) == t->flag)
			json_object_array_add(a, json_object_new_string(t->name));
	return a;
}

static const char *access_mode(unsigned flags)
{
	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		return "wronly";
	case O_RDWR:
		return "rdwr";
	default:
		return "rdonly";
	}
}

/*
 * Paths a record is shown with.  A namespace op names the entry it acts
 * on (parent's path + name, so a hard link shows its own name); other
 * ops name their file by its path at that moment.
 */
struct show_paths {
	char file[PATH_BUF];  /* path of rec->id before the op */
	char entry[PATH_BUF]; /* namespace ops: parent path + "/" + name */
	char entry2[PATH_BUF];/* RENAME: parent2 path + "/" + name2 */
};

static bool is_namespace_op(unsigned op)
{
	return op == TRACE_OP_BASE || (op >= TRACE_OP_CREATE && op <= TRACE_OP_RENAME);
}

static const char *main_path(const struct trace_rec *rec,
			     const struct show_paths *p)
{
	return is_namespace_op(rec->op) ? p->entry : p->file;
}

/* ---- text form ---- */

static void text_args(const struct trace_rec *rec, const struct show_paths *p,
		      char *a, size_t n)
{
	char f[256] = "";

	switch (rec->op) {
	case TRACE_OP_BASE: /* format 2 traces have no size or hash (id2 0) */
		snprintf(a, n,
			 rec->id2 ? "mode=%o size=%" PRIu64 " hash=%016" PRIx64
				  : "mode=%o",
			 rec->mode, rec->len, rec->id2);
		break;
	case TRACE_OP_MKDIR:
		snprintf(a, n, "mode=%o", rec->mode);
		break;
	case TRACE_OP_CREATE:
		snprintf(f, sizeof(f), "%s", access_mode(rec->flags));
		flags_text(open_flags, rec->flags, f, sizeof(f));
		snprintf(a, n, "mode=%o %s", rec->mode, f);
		break;
	case TRACE_OP_MKNOD:
		snprintf(a, n, "mode=%o rdev=%u", rec->mode, rec->flags);
		break;
	case TRACE_OP_WRITE:
		flags_text(write_flags, rec->flags, f, sizeof(f));
		snprintf(a, n, "@%" PRIu64 "+%" PRIu64 "%s%s%s", rec->off, rec->len,
			 f[0] ? " [" : "", f, f[0] ? "]" : "");
		break;
	case TRACE_OP_TRUNCATE:
		snprintf(a, n, "size %" PRIu64 " -> %" PRIu64 " (%s)", rec->len,
			 rec->off, truncate_cause(rec->flags));
		break;
	case TRACE_OP_FALLOCATE:
		flags_text(falloc_flags, rec->mode, f, sizeof(f));
		snprintf(a, n, "@%" PRIu64 "+%" PRIu64 " [%s]", rec->off, rec->len,
			 f[0] ? f : "allocate");
		break;
	case TRACE_OP_SYMLINK:
		snprintf(a, n, "-> %.*s", (int)rec->name2_len, rec->name2);
		break;
	case TRACE_OP_RENAME:
		flags_text(rename_flags, rec->flags, f, sizeof(f));
		snprintf(a, n, "-> %s%s%s%s", p->entry2,
			 rec->id2 ? " (replaces an existing entry)" : "",
			 f[0] ? " " : "", f);
		break;
	case TRACE_OP_SETATTR:
		flags_text(setattr_flags, rec->flags, f, sizeof(f));
		snprintf(a, n, "%s mode=%o uid=%u gid=%u", f, rec->mode, rec->uid,
			 rec->gid);
		break;
	case TRACE_OP_SETXATTR:
	case TRACE_OP_REMOVEXATTR:
		snprintf(a, n, "%.*s (%u bytes)", (int)rec->name_len, rec->name,
			 rec->data_len);
		break;
	case TRACE_OP_FSYNC:
	case TRACE_OP_FSYNCDIR:
		snprintf(a, n, "%s", rec->flags ? "datasync" : "");
		break;
	case TRACE_OP_OPEN:
		snprintf(f, sizeof(f), "%s", access_mode(rec->flags));
		flags_text(open_flags, rec->flags, f, sizeof(f));
		snprintf(a, n, "%s", f);
		break;
	case TRACE_OP_MARK:
		snprintf(a, n, "\"%.*s\"", (int)rec->name_len, rec->name);
		break;
	default:
		a[0] = 0;
	}
}

/* The calls log (record --calls) and the SQEs its records took so far. */
struct show_calls {
	struct calls_log log;
	bool *taken; /* per log.sqe (calls_join_sqe) */
};

/*
 * The call that made rec (record --calls), in words, into buf: "" when
 * the trace has no calls log or rec is a BASE, FLUSH or RELEASE record; "background
 * writeback" for a kernel write no flushing call explains; "" for a
 * record no watched call made (a close's flush, say).  A record an
 * io_uring SQE made is "WRITE(fd 3, @0) submitted by io_uring_enter(...)",
 * and *sqe is that SQE (NULL otherwise).  Call it for every record, in
 * seq order: the SQEs are taken as ops.c takes them.
 */
static const struct calls_call *rec_call(struct show_calls *sc, const struct trace_rec *rec,
					 char *buf, size_t len, const struct calls_sqe **sqe)
{
	const struct calls_call *c;
	bool early = rec->op == TRACE_OP_WRITE && (rec->flags & TRACE_WF_EARLY);

	buf[0] = 0;
	*sqe = NULL;
	if (!sc || rec->op == TRACE_OP_BASE)
		return NULL;
	c = calls_join(&sc->log, rec->pid, rec->time_ns); /* a captured page: the call it was captured at */
	if (sc->taken && (*sqe = calls_join_sqe(&sc->log, sc->taken, c, rec->pid, rec->time_ns,
						rec->op, rec->off, rec->flags)))
		c = &sc->log.v[(*sqe)->call];
	if (rec->op == TRACE_OP_FLUSH || rec->op == TRACE_OP_RELEASE)
		return NULL; /* close is not watched */
	calls_words(c, *sqe, early,
		    !early && calls_unforced_writeback(rec->pid, rec->op == TRACE_OP_WRITE, c), buf, len);
	return c;
}

static void show_text(const struct trace_rec *rec, const struct show_paths *p,
		      struct show_calls *sc)
{
	const struct calls_sqe *sqe;
	char call[240];

	char args[PATH_BUF + 300];
	const char *path = rec->op == TRACE_OP_MARK || rec->op == TRACE_OP_SYNCFS
				   ? "" : main_path(rec, p);

	text_args(rec, p, args, sizeof(args));
	printf("%6" PRIu64 " %7u %-11s %-28s %s", rec->seq, rec->pid,
	       trace_op_name(rec->op), path, args);
	if (rec->result < 0)
		printf(" = -%s", strerrorname_np(-rec->result) ?: "?");
	rec_call(sc, rec, call, sizeof(call), &sqe);
	if (call[0])
		printf("  <- %s", call);
	putchar('\n');
}

/* ---- JSON form ---- */

static void jadd(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *jstr(const char *s, uint32_t n)
{
	return json_object_new_string_len(s, (int)n);
}

static void json_data(json_object *o, const struct trace_rec *rec, bool with_data)
{
	char hex[17];

	snprintf(hex, sizeof(hex), "%016llx",
		 (unsigned long long)XXH3_64bits(rec->data, rec->data_len));
	jadd(o, "data_xxh3", json_object_new_string(hex));
	if (with_data) {
		const uint8_t *d = rec->data;
		char *h = malloc(2 * (size_t)rec->data_len + 1);
		uint32_t i;

		if (!h)
			return;
		for (i = 0; i < rec->data_len; i++)
			sprintf(h + 2 * i, "%02x", d[i]);
		h[2 * (size_t)rec->data_len] = 0;
		jadd(o, "data_hex", json_object_new_string(h));
		free(h);
	}
}

static void json_ns(json_object *o, const struct trace_rec *rec,
		    const struct show_paths *p)
{
	jadd(o, "parent", json_object_new_uint64(rec->parent));
	jadd(o, "name", jstr(rec->name, rec->name_len));
	switch (rec->op) {
	case TRACE_OP_RENAME:
		jadd(o, "new_path", json_object_new_string(p->entry2));
		jadd(o, "parent2", json_object_new_uint64(rec->parent2));
		jadd(o, "name2", jstr(rec->name2, rec->name2_len));
		jadd(o, "replaced", json_object_new_uint64(rec->id2));
		jadd(o, "flags", flags_json(rename_flags, rec->flags));
		break;
	case TRACE_OP_SYMLINK:
		jadd(o, "target", jstr(rec->name2, rec->name2_len));
		jadd(o, "uid", json_object_new_int64(rec->uid));
		jadd(o, "gid", json_object_new_int64(rec->gid));
		break;
	case TRACE_OP_CREATE:
		jadd(o, "open_flags", json_object_new_int64(rec->flags));
		/* fall through */
	case TRACE_OP_BASE:
	case TRACE_OP_MKDIR:
	case TRACE_OP_MKNOD:
		jadd(o, "mode", json_object_new_int64(rec->mode));
		if (rec->op != TRACE_OP_BASE) {
			jadd(o, "uid", json_object_new_int64(rec->uid));
			jadd(o, "gid", json_object_new_int64(rec->gid));
		} else if (rec->id2) { /* format 3: size and content hash */
			char hex[17];

			snprintf(hex, sizeof(hex), "%016" PRIx64, rec->id2);
			jadd(o, "size", json_object_new_uint64(rec->len));
			jadd(o, "content_hash", json_object_new_string(hex));
		}
		break;
	default:
		break;
	}
}

static void json_args(json_object *o, const struct trace_rec *rec,
		      const struct show_paths *p, bool with_data)
{
	switch (rec->op) {
	case TRACE_OP_WRITE:
		jadd(o, "off", json_object_new_uint64(rec->off));
		jadd(o, "len", json_object_new_uint64(rec->len));
		jadd(o, "flags", flags_json(write_flags, rec->flags));
		json_data(o, rec, with_data);
		break;
	case TRACE_OP_TRUNCATE:
		jadd(o, "size", json_object_new_uint64(rec->off));
		jadd(o, "old_size", json_object_new_uint64(rec->len));
		jadd(o, "cause", json_object_new_string(truncate_cause(rec->flags)));
		break;
	case TRACE_OP_FALLOCATE:
		jadd(o, "off", json_object_new_uint64(rec->off));
		jadd(o, "len", json_object_new_uint64(rec->len));
		jadd(o, "mode", json_object_new_int64(rec->mode));
		jadd(o, "flags", flags_json(falloc_flags, rec->mode));
		jadd(o, "old_size", json_object_new_uint64(rec->id2));
		break;
	case TRACE_OP_SETATTR:
		jadd(o, "set", flags_json(setattr_flags, rec->flags));
		jadd(o, "mode", json_object_new_int64(rec->mode));
		jadd(o, "uid", json_object_new_int64(rec->uid));
		jadd(o, "gid", json_object_new_int64(rec->gid));
		jadd(o, "atime_ns", json_object_new_int64(rec->atime_ns));
		jadd(o, "mtime_ns", json_object_new_int64(rec->mtime_ns));
		break;
	case TRACE_OP_SETXATTR:
		jadd(o, "value_len", json_object_new_int64(rec->data_len));
		jadd(o, "flags", json_object_new_int64(rec->flags));
		/* fall through */
	case TRACE_OP_REMOVEXATTR:
		jadd(o, "name", jstr(rec->name, rec->name_len));
		break;
	case TRACE_OP_FSYNC:
	case TRACE_OP_FSYNCDIR:
		jadd(o, "datasync", json_object_new_boolean(rec->flags != 0));
		break;
	case TRACE_OP_OPEN:
		jadd(o, "flags", json_object_new_int64(rec->flags));
		jadd(o, "access", json_object_new_string(access_mode(rec->flags)));
		jadd(o, "flag_names", flags_json(open_flags, rec->flags));
		break;
	case TRACE_OP_MARK:
		jadd(o, "text", jstr(rec->name, rec->name_len));
		break;
	case TRACE_OP_BASE:
	case TRACE_OP_CREATE:
	case TRACE_OP_MKNOD:
	case TRACE_OP_MKDIR:
	case TRACE_OP_SYMLINK:
	case TRACE_OP_LINK:
	case TRACE_OP_UNLINK:
	case TRACE_OP_RMDIR:
	case TRACE_OP_RENAME:
		json_ns(o, rec, p);
		break;
	default:
		break;
	}
}

/* "call": the call that made rec, as rec_call finds it (only with a calls
 * log), with "sqe" for a record an io_uring SQE made. */
static void json_call(json_object *o, struct show_calls *sc, const struct trace_rec *rec)
{
	json_object *j, *q;
	const struct calls_call *c;
	const struct calls_sqe *sqe;
	char text[240];

	if (!sc)
		return;
	c = rec_call(sc, rec, text, sizeof(text), &sqe);
	if (!text[0]) {
		jadd(o, "call", NULL);
		return;
	}
	j = json_object_new_object();
	jadd(j, "syscall", c ? json_object_new_string(calls_name(c->nr)) : NULL);
	jadd(j, "text", json_object_new_string(text));
	if (c) {
		jadd(j, "tid", json_object_new_int64(c->tid));
		jadd(j, "result", json_object_new_int64(c->result));
		jadd(j, "entry_ns", json_object_new_uint64(c->entry_ns));
		jadd(j, "exit_ns", json_object_new_uint64(c->exit_ns));
	}
	if (sqe) {
		q = json_object_new_object();
		jadd(q, "opcode", json_object_new_string(sqe->op));
		jadd(q, "fd", json_object_new_int(sqe->fd));
		jadd(q, "flags", json_object_new_int64(sqe->flags));
		jadd(q, "off", json_object_new_uint64(sqe->off));
		jadd(q, "rw_flags", json_object_new_int64(sqe->rw_flags));
		jadd(q, "index", json_object_new_int64(sqe->k));
		jadd(q, "chain", json_object_new_int64(sqe->chain));
		jadd(j, "sqe", q);
	}
	jadd(o, "call", j);
}

static void show_json(const struct trace_rec *rec, const struct show_paths *p,
		      struct show_calls *sc, bool with_data, bool first)
{
	json_object *o = json_object_new_object();

	jadd(o, "seq", json_object_new_uint64(rec->seq));
	jadd(o, "op", json_object_new_string(trace_op_name(rec->op)));
	jadd(o, "pid", json_object_new_int64(rec->pid));
	jadd(o, "result", json_object_new_int64(rec->result));
	if (rec->result < 0)
		jadd(o, "errno", json_object_new_string(
					 strerrorname_np(-rec->result) ?: "?"));
	jadd(o, "time_ns", json_object_new_uint64(rec->time_ns));
	if (rec->op != TRACE_OP_MARK && rec->op != TRACE_OP_SYNCFS) {
		jadd(o, "id", json_object_new_uint64(rec->id));
		jadd(o, "path", json_object_new_string(main_path(rec, p)));
	}
	json_args(o, rec, p, with_data);
	json_call(o, sc, rec);
	printf("%s\n  %s", first ? "" : ",",
	       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/* ---- the command ---- */

struct show_opts {
	const char *trace; /* trace directory or records file */
	bool json;         /* --json */
	bool data;         /* --data: write payloads as hex in JSON */
};

static int show_parse(int argc, char **argv, struct show_opts *o)
{
	static const struct option lopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"data", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'D':
			o->data = true;
			break;
		case 'h':
			cli_help("show", stdout);
			exit(0);
		default:
			return -FL_EUSAGE;
		}
	}
	if (optind != argc - 1) {
		cli_err("show", "need one TRACE (see faultline show --help)");
		return -FL_EUSAGE;
	}
	o->trace = argv[optind];
	return 0;
}

/* Writes dir's path + "/" + name into buf. */
static void entry_path(const struct names *nm, uint64_t dir, const char *name,
		       uint32_t len, char *buf, size_t cap)
{
	size_t used;

	names_path(nm, dir, buf, cap);
	used = strlen(buf);
	if (used == 1 && buf[0] == '/')
		used = 0;
	snprintf(buf + used, cap - used, "/%.*s", (int)len, name);
}

/* Computes the paths a record is shown with, then applies it to names. */
static int show_step(struct names *nm, const struct trace_rec *rec,
		     struct show_paths *p)
{
	names_path(nm, rec->id, p->file, sizeof(p->file));
	p->entry[0] = p->entry2[0] = 0;
	if (is_namespace_op(rec->op))
		entry_path(nm, rec->parent, rec->name, rec->name_len, p->entry,
			   sizeof(p->entry));
	if (rec->op == TRACE_OP_RENAME)
		entry_path(nm, rec->parent2, rec->name2, rec->name2_len, p->entry2,
			   sizeof(p->entry2));
	return names_apply(nm, rec);
}

int cmd_show(int argc, char **argv)
{
	struct show_opts o = {0};
	struct trace_reader *r = NULL;
	struct show_paths *p = NULL;
	struct names *nm = NULL;
	struct trace_meta meta;
	struct show_calls calls = {0};
	bool have_calls = false;
	uint64_t promise = 0;
	struct trace_rec rec;
	bool unfinished;
	char why[256];
	int rc = FL_EXIT_ENV, n;

	if (show_parse(argc, argv, &o) < 0)
		return FL_EXIT_USAGE;
	if (trace_reader_open(o.trace, &r, why, sizeof(why)) < 0) {
		cli_err("show", "%s: %s", o.trace, why);
		return FL_EXIT_USAGE;
	}
	nm = names_new();
	p = malloc(sizeof(*p));
	if (!nm || !p)
		goto out;
	if (o.json) {
		json_object *t = json_object_new_string(o.trace);

		printf("{\"faultline\": \"%s\", \"trace\": %s, \"format\": %u,\n"
		       "\"records\": [", PACKAGE_VERSION,
		       json_object_to_json_string(t), trace_reader_version(r));
		json_object_put(t);
	}
	have_calls = calls_load(o.trace, &calls.log) == 0;
	if (have_calls && calls.log.nsqe && !(calls.taken = calloc(calls.log.nsqe, sizeof(bool))))
		goto out;
	memset(&meta, 0, sizeof(meta));
	unfinished = trace_meta_read(o.trace, &meta, why, sizeof(why)) == 0 &&
		     strcmp(meta.status, "complete") != 0 && meta.status[0];
	while ((n = trace_next(r, &rec)) == 1) {
		if (show_step(nm, &rec, p) < 0)
			goto out;
		if (trace_rec_is_promise(&rec))
			promise = rec.seq;
		if (o.json)
			show_json(&rec, p, have_calls ? &calls : NULL, o.data, rec.seq == 1);
		else
			show_text(&rec, p, have_calls ? &calls : NULL);
	}
	if (o.json) {
		json_object *e = trace_reader_error(r)
				 ? json_object_new_string(trace_reader_error(r))
				 : NULL;

		printf("\n],\n\"valid_records\": %" PRIu64 ", \"error\": %s",
		       trace_reader_valid(r),
		       e ? json_object_to_json_string(e) : "null");
		json_object_put(e);
		if (unfinished)
			printf(",\n\"recording\": {\"status\": \"%s\", \"kept\": %" PRIu64
			       ", \"last_promise\": %" PRIu64 "}}\n",
			       meta.status, trace_reader_valid(r), promise);
		else
			printf(",\n\"recording\": null}\n");
	}
	if (unfinished)
		fprintf(stderr, "faultline: show: %s: the recording did not finish (%s): "
			"%" PRIu64 " records kept; every barrier and mark the program "
			"was answered is among them (the last is record %" PRIu64 "), "
			"records after it may be missing\n",
			o.trace, meta.status, trace_reader_valid(r), promise);
	rc = FL_EXIT_OK;
	if (n < 0) {
		cli_err("show", "%s: %" PRIu64 " valid records, then %s", o.trace,
			trace_reader_valid(r), trace_reader_error(r));
		rc = FL_EXIT_USAGE;
	}
out:
	fflush(stdout);
	if (have_calls)
		calls_log_free(&calls.log);
	free(calls.taken);
	free(p);
	names_free(nm);
	trace_reader_close(r);
	return rc;
}
