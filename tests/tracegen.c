/*
 * tracegen.c - seeded random synthetic traces, for differential testing
 * of the crash-state explorer; and the same ops performed for real.
 *
 *   tracegen SEED OUTDIR [--ops N] [--expect-final DIR] [--early] [--uring]
 *   tracegen SEED --setup [--ops N]
 *   tracegen SEED --run [--ops N]
 *
 * The first form writes OUTDIR (which must not exist) as `faultline
 * record` would have left it: base/ (the tree when "recording" began),
 * records and meta.json.  Nothing runs on a real mount: the generator
 * simulates a small file system in memory (tracegen_model.c) and writes
 * the records the recorder (fusefs/faultline-fs.c) would have appended
 * for the same syscalls (tracegen_ops.c).  The same SEED gives
 * byte-identical output; start_ns in meta.json is derived from the seed.
 * Records are encoded with trace_encode() and written here, not with
 * trace_append(), which stamps time_ns from the clock.
 *
 * --setup and --run perform the same seed FOR REAL, in the current
 * directory, so that
 *
 *   faultline record -o T --setup 'tracegen S --setup' -- tracegen S --run
 *
 * records a real trace of the ops the synthetic trace of S simulates:
 * --setup makes the base (below), --run drives the same generator, with
 * the same stream and choices, and performs each record as the syscalls
 * that make the recorder write it (tracegen_run.c says which, and what
 * it cannot do).  Give all three forms the same --ops: without it the op
 * count is drawn from the stream, which shifts everything after it.
 *
 * THE BASE is planned by tracegen_model.c and written by the walk here:
 * the recorder's walk, depth first, each directory's names in bytewise
 * order, ids 2, 3, ... in walk order (hard links share one), BASE records
 * with mode = the full st_mode, the size and trace_content_hash() of a
 * file's bytes or a symlink's target, pid 0.  meta.json gets the records
 * file's digest from trace_meta_seal(), as `faultline record` does.
 * Files get their bytes, modes and user.* xattrs; every entry, the root
 * included, the seed's mtime (set after a directory's children, which
 * change it).  --run retraces the walk without touching the disk, for the
 * ids and the stream.
 *
 * --expect-final DIR writes the tree the simulation ended with (names,
 * file bytes, symlink targets, hard links, permissions; the root 0755 as
 * the materializer makes it), to compare with what
 * `faultline replay OUTDIR c<last seq> --into DIR2` builds:
 * `diff -r --no-dereference` for names and bytes, `find -printf` for modes.
 * Owners, times and xattrs are modelled to keep records consistent but
 * --expect-final leaves them out, as the materializer does.  Output is
 * not fsynced: a lost trace is regenerated from its seed.
 *
 * Exit: 0 done; 1 (--run) a syscall's result disagreed with the model
 * (the record, the call and the errno are on stderr); 2 bad usage, OUTDIR
 * or DIR exists; 3 environment error (OUTDIR may then hold a partial
 * trace; --setup may have left part of the base).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "fl_error.h"
#include "trace.h"
#include "trace_meta.h"
#include "tracegen_i.h"

/* ---- the records file ---- */

/* Creates OUTDIR/records and writes its header into *out.  0 or -errno. */
static int tg_out_open(const char *outdir, FILE **out)
{
	uint8_t hdr[16] = "FLTRACE";
	uint32_t v = htole32(TRACE_FORMAT_VERSION), hl = htole32(sizeof(hdr));
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", outdir, TRACE_RECORDS_FILE);
	*out = fopen(path, "wbxe");
	if (!*out)
		return -errno;
	memcpy(hdr + 8, &v, 4);
	memcpy(hdr + 12, &hl, 4);
	return fwrite(hdr, 1, sizeof(hdr), *out) == sizeof(hdr) ? 0 : -EIO;
}

/* The sink of a synthetic trace: appends r to the records FILE. */
static int tg_sink_records(struct tg *g, const struct trace_rec *r, bool soon)
{
	FILE *out = g->sink_arg;
	uint8_t buf[1024];
	int n;

	(void)soon;
	n = trace_encode(r, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (fwrite(buf, 1, (size_t)n, out) != (size_t)n ||
	    (r->data_len &&
	     fwrite(r->data, 1, r->data_len, out) != r->data_len))
		return -EIO;
	return 0;
}

/*
 * ---- writing a tree: base/ or --setup's (with BASE records),
 * --expect-final's, or none (--run retraces the base for its records) ----
 */

struct tg_tree {
	int fd;	   /* the directory the tree goes in; -1: none, walk only */
	bool base; /* a base: BASE records, xattrs and mtimes too */
	/* Per inode: where its first name was made, "" before; owned. */
	char (*first)[TG_PATH];
};

/* The base entries' mtime, for utimensat(). */
static void tg_base_times(const struct tg *g, struct timespec ts[2])
{
	ts[0].tv_sec = ts[1].tv_sec = g->base_ns / 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = g->base_ns % 1000000000;
}

/* dir's entries in bytewise name order: indices into idx; returns how many. */
static size_t tg_dir_list(const struct tg *g, size_t dir, size_t *idx)
{
	size_t n = 0, k, j;

	for (k = 0; k < g->nent; k++) {
		if (g->ent[k].dir != dir)
			continue;
		for (j = n++; j > 0 && strcmp(g->ent[idx[j - 1]].name,
					      g->ent[k].name) > 0;
		     j--)
			idx[j] = idx[j - 1];
		idx[j] = k;
	}
	return n;
}

/* Gives open file fd inode i's xattrs (if the file system cannot: a warning).
 */
static int tg_tree_xattrs(struct tg *g, int fd, const struct tg_inode *i)
{
	size_t k;

	for (k = 0; k < TG_XATTRS; k++) {
		if (!i->xa[k].name[0] ||
		    fsetxattr(fd, i->xa[k].name, i->xa[k].value, i->xa[k].len,
			      0) == 0)
			continue;
		if (errno != ENOTSUP)
			return -errno;
		if (!g->xattr_warned)
			fprintf(stderr,
				"tracegen: warning: no xattrs in base/\n");
		g->xattr_warned = true;
	}
	return 0;
}

/* Creates regular file rel holding inode k's bytes and permissions. */
static int tg_tree_file(struct tg *g, struct tg_tree *t, size_t k,
			const char *rel)
{
	const struct tg_inode *i = &g->ino[k];
	int fd, err = 0;
	ssize_t n;

	fd = openat(t->fd, rel,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	n = write(fd, i->data, i->size);
	if (n < 0 || (uint64_t)n != i->size)
		err = n < 0 ? -errno : -EIO;
	if (!err && fchmod(fd, i->mode & 07777) < 0)
		err = -errno;
	if (!err && t->base)
		err = tg_tree_xattrs(g, fd, i);
	if (close(fd) < 0 && !err)
		err = -errno;
	snprintf(t->first[k], TG_PATH, "%s", rel);
	return err;
}

/* Makes entry rel for inode k: a directory, symlink, hard link or file. */
static int tg_tree_make(struct tg *g, struct tg_tree *t, size_t k,
			const char *rel)
{
	const struct tg_inode *i = &g->ino[k];

	if (S_ISDIR(i->mode)) /* every directory mode keeps the owner's rwx */
		return mkdirat(t->fd, rel, i->mode & 07777) < 0 ? -errno : 0;
	if (S_ISLNK(i->mode))
		return symlinkat(i->target, t->fd, rel) < 0 ? -errno : 0;
	if (t->first[k][0])
		return linkat(t->fd, t->first[k], t->fd, rel, 0) < 0 ? -errno
								     : 0;
	return tg_tree_file(g, t, k, rel);
}

/* The BASE record of entry e, giving its inode an id at its first name. */
static void tg_tree_record(struct tg *g, const struct tg_entry *e)
{
	struct tg_inode *i = &g->ino[e->ino];
	struct trace_rec r;

	if (!i->id)
		i->id = g->next_id++;
	tg_rec(g, &r, TRACE_OP_BASE);
	r.pid = 0;
	r.id = i->id;
	r.parent = g->ino[e->dir].id;
	r.mode = i->mode;
	if (S_ISREG(i->mode)) { /* size and content hash, as the recorder's walk
				   gives them */
		r.len = i->size;
		r.id2 = trace_content_hash(i->data, i->size);
	} else if (S_ISLNK(i->mode)) {
		r.len = strlen(i->target);
		r.id2 = trace_content_hash(i->target, r.len);
	}
	tg_name(&r, e->name);
	tg_emit(g, &r, true);
}

static int tg_tree_walk(struct tg *g, struct tg_tree *t, size_t dir,
			const char *rel);

/* Writes entry e (below dirrel) and all below it; for base/ also its record. */
static int tg_tree_entry(struct tg *g, struct tg_tree *t,
			 const struct tg_entry *e, const char *dirrel)
{
	struct timespec ts[2];
	char rel[TG_PATH];
	int err;

	if (snprintf(rel, sizeof(rel), "%s%s%s", dirrel, *dirrel ? "/" : "",
		     e->name) >= (int)sizeof(rel))
		return -ENAMETOOLONG;
	if (t->base)
		tg_tree_record(g, e);
	if (t->fd < 0) /* retracing: the ids and records are all we want */
		return S_ISDIR(g->ino[e->ino].mode)
			   ? tg_tree_walk(g, t, e->ino, rel)
			   : 0;
	err = tg_tree_make(g, t, e->ino, rel);
	if (!err && S_ISDIR(g->ino[e->ino].mode))
		err = tg_tree_walk(g, t, e->ino, rel);
	if (err || !t->base)
		return err;
	/* After the children: making them changed the directory's mtime. */
	tg_base_times(g, ts);
	return utimensat(t->fd, rel, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* Writes directory dir's entries in the recorder's walk order. */
static int tg_tree_walk(struct tg *g, struct tg_tree *t, size_t dir,
			const char *rel)
{
	size_t idx[TG_MAX_ENTRIES], n = tg_dir_list(g, dir, idx), k;
	int err = 0;

	for (k = 0; k < n && !err; k++)
		err = tg_tree_entry(g, t, &g->ent[idx[k]], rel);
	return err;
}

/*
 * Writes the model's tree into the directory open as fd, which is empty
 * (fd -1: into nothing, for the walk's records only).  base: a base, with
 * BASE records, xattrs and mtimes, the root's permissions and mtime too;
 * else the expected final tree.  Returns 0 or -errno.
 */
static int tg_tree_fill(struct tg *g, int fd, bool base)
{
	struct tg_tree t = {.base = base, .fd = fd};
	struct timespec ts[2];
	int err;

	t.first = calloc(TG_MAX_INODES, sizeof(*t.first));
	if (!t.first)
		return -ENOMEM;
	err = tg_tree_walk(g, &t, TG_ROOT, "");
	free(t.first);
	if (err || !base || fd < 0)
		return err;
	tg_base_times(g, ts);
	if (fchmod(fd, g->ino[TG_ROOT].mode & 07777) < 0 ||
	    futimens(fd, ts) < 0)
		return -errno;
	return 0;
}

/* Writes the model's tree into the new directory path (see tg_tree_fill). */
static int tg_tree_write(struct tg *g, const char *path, bool base)
{
	int fd, err;

	if (mkdir(path, 0755) < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = tg_tree_fill(g, fd, base);
	close(fd);
	return err;
}

/* ---- meta.json ---- */

/* Writes OUTDIR/meta.json as `faultline record` would for a complete trace. */
static int tg_write_meta(const struct tg *g, const char *outdir, uint64_t seed)
{
	json_object *m = trace_meta_new("complete");
	char path[4096];
	FILE *f = NULL;
	int err;

	if (!m)
		return -ENOMEM;
	/* records and their digest, as `faultline record` keeps them */
	err = trace_meta_seal(outdir, m, NULL, NULL, 0);
	json_object_object_add(m, "start_ns",
			       json_object_new_int64(g->start_ns));
	json_object_object_add(m, "generator",
			       json_object_new_string("tracegen"));
	json_object_object_add(m, "seed", json_object_new_uint64(seed));
	snprintf(path, sizeof(path), "%s/%s", outdir, TRACE_META_FILE);
	if (!err && !(f = fopen(path, "wxe")))
		err = -errno;
	else if (!err && fputs(json_object_to_json_string_ext(
				   m, JSON_C_TO_STRING_PRETTY |
					  JSON_C_TO_STRING_NOSLASHESCAPE),
			       f) < 0)
		err = -EIO;
	if (f && fclose(f) != 0 && !err)
		err = -errno;
	json_object_put(m);
	return err;
}

/* ---- the three forms ---- */

enum tg_form {
	TG_TRACE, /* tracegen SEED OUTDIR */
	TG_SETUP, /* --setup */
	TG_RUN,	  /* --run */
};

struct tg_opts {
	uint64_t seed;	    /* SEED */
	enum tg_form form;  /* which of the three */
	const char *outdir; /* OUTDIR (TG_TRACE only) */
	unsigned ops;	    /* --ops, 0: drawn from 6..16 */
	const char *final;  /* --expect-final DIR, or NULL (TG_TRACE only) */
	bool early;         /* --early: pages captured from mappings too (TG_TRACE only) */
	bool uring;         /* --uring: io_uring submissions, with a calls log (TG_TRACE only) */
};

/* What every form starts with: the stream seeded, *nops, the base planned. */
static int tg_start(struct tg *g, const struct tg_opts *o, unsigned *nops)
{
	tg_init(g, o->seed);
	g->early = o->early;
	g->uring = o->uring;
	*nops = o->ops ? o->ops : (unsigned)tg_range(g, 6, 16);
	return tg_base_plan(g);
}

/* Generates the trace into o->outdir (already made).  0 or -errno. */
static int tg_generate(struct tg *g, const struct tg_opts *o)
{
	FILE *out = NULL;
	char path[4096];
	unsigned nops;
	int err;

	err = tg_start(g, o, &nops);
	if (!err)
		err = tg_out_open(o->outdir, &out);
	snprintf(path, sizeof(path), "%s/calls", o->outdir);
	if (!err && o->uring && !(g->calls = fopen(path, "we")))
		err = -errno;
	g->sink = tg_sink_records;
	g->sink_arg = out;
	snprintf(path, sizeof(path), "%s/%s", o->outdir, TRACE_BASE_DIR);
	if (!err)
		err = tg_tree_write(g, path, true);
	if (!err)
		err = g->err ? g->err : tg_run_ops(g, nops);
	if (out && fclose(out) != 0 && !err)
		err = -errno;
	if (g->calls && fclose(g->calls) != 0 && !err)
		err = -errno;
	g->calls = NULL;
	g->sink = NULL;
	if (!err)
		err = tg_write_meta(g, o->outdir, o->seed);
	if (!err && o->final)
		err = tg_tree_write(g, o->final, false);
	return err;
}

/* --setup: the base, made in the current directory.  0 or -errno. */
static int tg_setup(struct tg *g, const struct tg_opts *o)
{
	unsigned nops;
	int err, fd;

	err = tg_start(g, o, &nops);
	if (err)
		return err;
	fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = tg_tree_fill(g, fd, true);
	close(fd);
	return err;
}

/*
 * --run: the ops, performed in the current directory (which holds the
 * base).  Returns 0, -TG_EDIVERGED (reported) or -errno.
 */
static int tg_run(struct tg *g, const struct tg_opts *o)
{
	struct tg_run *x;
	unsigned nops;
	int err, end;

	err = tg_start(g, o, &nops);
	if (!err)
		err = tg_tree_fill(g, -1, true); /* ids and the stream only */
	if (!err)
		err = g->err ? g->err : tg_run_begin(o->seed, &x);
	if (err)
		return err;
	g->sink = tg_run_sink;
	g->sink_arg = x;
	err = tg_run_ops(g, nops);
	end = tg_run_end(x);
	g->sink = NULL;
	return err ? err : end;
}

static void tg_usage(FILE *f)
{
	fprintf(f,
		"usage: tracegen SEED OUTDIR [--ops N] [--expect-final DIR] [--early] [--uring]\n"
		"       tracegen SEED --setup|--run [--ops N]\n");
}

/* Checks the positional arguments against the form; 0 or -FL_EUSAGE. */
static int tg_parse_args(int argc, char **argv, struct tg_opts *o)
{
	int want = o->form == TG_TRACE ? 2 : 1;
	char *end;

	if (argc - optind != want || ((o->final || o->early || o->uring) && o->form != TG_TRACE))
		return -FL_EUSAGE;
	errno = 0;
	o->seed = strtoull(argv[optind], &end, 0);
	if (errno || *end || !*argv[optind])
		return -FL_EUSAGE;
	if (o->form == TG_TRACE)
		o->outdir = argv[optind + 1];
	return 0;
}

/* Parses the command line into o.  Returns 0 or -FL_EUSAGE. */
static int tg_parse(int argc, char **argv, struct tg_opts *o)
{
	static const struct option lopts[] = {
	    {"ops", 1, NULL, 'n'},   {"expect-final", 1, NULL, 'f'}, {"early", 0, NULL, 'e'},
	    {"uring", 0, NULL, 'u'},
	    {"setup", 0, NULL, 's'}, {"run", 0, NULL, 'r'},
	    {"help", 0, NULL, 'h'},  {NULL, 0, NULL, 0},
	};
	unsigned long long v;
	char *end;
	int c;

	*o = (struct tg_opts){0};
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		if (c == 'n' && (v = strtoull(optarg, &end, 10)) >= 1 &&
		    v <= 10000 && !*end)
			o->ops = (unsigned)v;
		else if (c == 'f')
			o->final = optarg;
		else if (c == 'e')
			o->early = true;
		else if (c == 'u')
			o->uring = true;
		else if ((c == 's' || c == 'r') && o->form == TG_TRACE)
			o->form = c == 's' ? TG_SETUP : TG_RUN;
		else if (c == 'h') {
			tg_usage(stdout);
			exit(FL_EXIT_OK);
		} else
			return -FL_EUSAGE;
	}
	return tg_parse_args(argc, argv, o);
}

/* Makes OUTDIR and checks DIR is free.  Returns 0 or an exit status. */
static int tg_prepare_trace(const struct tg_opts *o)
{
	int err;

	if (o->final && access(o->final, F_OK) == 0) {
		fprintf(stderr, "tracegen: %s exists\n", o->final);
		return FL_EXIT_USAGE;
	}
	if (mkdir(o->outdir, 0755) < 0) {
		err = -errno;
		fprintf(stderr, "tracegen: %s: %s\n", o->outdir,
			strerror(-err));
		return err == -EEXIST ? FL_EXIT_USAGE : FL_EXIT_ENV;
	}
	return FL_EXIT_OK;
}

int main(int argc, char **argv)
{
	static int (*const forms[])(struct tg *, const struct tg_opts *) = {
	    [TG_TRACE] = tg_generate,
	    [TG_SETUP] = tg_setup,
	    [TG_RUN] = tg_run,
	};
	struct tg_opts o;
	struct tg *g;
	int err;

	if (tg_parse(argc, argv, &o) < 0) {
		tg_usage(stderr);
		return FL_EXIT_USAGE;
	}
	umask(0); /* every mode below is meant exactly */
	if (o.form == TG_TRACE && (err = tg_prepare_trace(&o)) != FL_EXIT_OK)
		return err;
	g = calloc(1, sizeof(*g));
	err = g ? forms[o.form](g, &o) : -ENOMEM;
	if (g)
		tg_free(g);
	if (err == -TG_EDIVERGED)
		return FL_EXIT_FAIL;
	if (err) {
		fprintf(stderr, "tracegen: seed %" PRIu64 ": %s\n", o.seed,
			faultline_strerror(err));
		return FL_EXIT_ENV;
	}
	return FL_EXIT_OK;
}
