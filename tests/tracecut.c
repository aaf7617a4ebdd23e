/*
 * tracecut.c - a window of a trace as a trace of its own, for tests.
 *
 *   tracecut TRACE FROM TO OUT
 *
 * Writes OUT (which must not exist): a trace whose base is TRACE's tree
 * just before record FROM (every op before it applied whole, as `faultline
 * replay` builds it) and whose records are TRACE's records FROM..TO, with
 * the same file ids, pids and payloads (seq and time renumbered by the
 * writer).  A long recording of a real engine thus becomes a trace small
 * enough for the reference enumerator, while keeping the engine's own
 * pattern of writes, syncs and renames.  Marks before FROM are not kept.
 *
 * Exit 0 when OUT was written, 2 for bad arguments or an unreadable trace,
 * 3 when writing failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mat.h"
#include "ops.h"
#include "state.h"
#include "trace.h"
#include "trace_meta.h"

struct entry {
	uint64_t parent, child;
	char *name;
};

struct entries {
	struct entry *e;
	size_t n;
};

static struct entry *find(struct entries *t, uint64_t parent, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->e[i].parent == parent && strlen(t->e[i].name) == len &&
		    !memcmp(t->e[i].name, name, len))
			return &t->e[i];
	return NULL;
}

static void set(struct entries *t, uint64_t parent, const char *name, size_t len, uint64_t child)
{
	struct entry *e = find(t, parent, name, len);

	if (!e) {
		t->e = realloc(t->e, (t->n + 1) * sizeof(*t->e));
		e = &t->e[t->n++];
		e->parent = parent;
		e->name = strndup(name, len);
	}
	e->child = child;
}

static void unset(struct entries *t, uint64_t parent, const char *name, size_t len)
{
	struct entry *e = find(t, parent, name, len);

	if (e) {
		free(e->name);
		*e = t->e[--t->n];
	}
}

static void entries_free(struct entries *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->e[i].name);
	free(t->e);
}

/* The entries as they stand before seq from (the materializer's rules). */
static void entries_at(const struct ops_trace *t, uint64_t from, struct entries *out)
{
	size_t i;

	for (i = 0; i < t->nbase; i++)
		set(out, t->base[i].parent, ops_name(t, &t->base[i]), t->base[i].name_len,
		    t->base[i].id);
	for (i = 0; i < t->n && t->v[i].seq < from; i++) {
		const struct ops_op *op = &t->v[i];
		const char *n1 = ops_name(t, op), *n2 = ops_name2(t, op);

		if (op->kind != OPS_NS)
			continue;
		if (op->op == TRACE_OP_UNLINK || op->op == TRACE_OP_RMDIR) {
			unset(out, op->parent, n1, op->name_len);
		} else if (op->op == TRACE_OP_RENAME && (op->flags & 2)) {
			struct entry *a = find(out, op->parent, n1, op->name_len);
			struct entry *b = find(out, op->parent2, n2, op->name2_len);

			if (a && b) {
				uint64_t c = a->child;

				a->child = b->child;
				b->child = c;
			} else {
				set(out, op->parent, n1, op->name_len, op->id2);
				set(out, op->parent2, n2, op->name2_len, op->id);
			}
		} else if (op->op == TRACE_OP_RENAME) {
			unset(out, op->parent, n1, op->name_len);
			set(out, op->parent2, n2, op->name2_len, op->id);
		} else {
			set(out, op->parent, n1, op->name_len, op->id);
		}
	}
}

/* A BASE record's size and content hash: the file at path's, or its target's. */
static int base_hash(const char *path, const struct stat *st,
		     struct trace_rec *r)
{
	char target[PATH_MAX];
	ssize_t n;
	int fd, rc;

	if (S_ISLNK(st->st_mode)) {
		if ((n = readlink(path, target, sizeof(target))) < 0)
			return -errno;
		r->len = (uint64_t)n;
		r->id2 = trace_content_hash(target, r->len);
		return 0;
	}
	if (!S_ISREG(st->st_mode))
		return 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	rc = trace_content_hash_fd(fd, &r->id2, &r->len);
	close(fd);
	return rc;
}

/* BASE records for the tree in base/, breadth first from the root, by name. */
static int write_base(struct trace_writer *w, struct entries *en, const char *base)
{
	uint64_t *dirs = malloc((en->n + 2) * sizeof(*dirs));
	char **paths = malloc((en->n + 2) * sizeof(*paths));
	size_t nd = 0, i, k;
	int rc = 0;

	dirs[nd] = TRACE_ROOT_ID;
	paths[nd++] = strdup("");
	for (i = 0; !rc && i < nd; i++) {
		for (k = 0; !rc && k < en->n; k++) {
			struct entry *e = &en->e[k];
			struct trace_rec r = {.op = TRACE_OP_BASE, .id = e->child, .parent = dirs[i],
					      .name = e->name, .name_len = (uint32_t)strlen(e->name)};
			char path[8192];
			struct stat st;

			if (e->parent != dirs[i])
				continue;
			snprintf(path, sizeof(path), "%s%s/%s", base, paths[i], e->name);
			if (lstat(path, &st) < 0)
				continue; /* not placed (a directory's second name) */
			r.mode = st.st_mode;
			rc = base_hash(path, &st, &r);
			if (!rc)
				rc = trace_append(w, &r);
			if (!rc && S_ISDIR(st.st_mode)) {
				dirs[nd] = e->child;
				snprintf(path, sizeof(path), "%s/%s", paths[i], e->name);
				paths[nd++] = strdup(path);
			}
		}
	}
	for (i = 0; i < nd; i++)
		free(paths[i]);
	free(paths);
	free(dirs);
	return rc;
}

/* The tree before seq from, built by the materializer into OUT/base. */
static int build_base(const struct ops_trace *t, uint64_t from, const char *out)
{
	char work[4200], base[4200], err[512];
	struct state s = {.crash = from - 1, .sector = STATE_SECTOR_DEFAULT}; /* ops before from */
	struct mat *m;
	uint64_t key;
	int rc;

	snprintf(work, sizeof(work), "%s/.work", out);
	snprintf(base, sizeof(base), "%s/%s", out, TRACE_BASE_DIR);
	rc = mat_new(t, work, MAT_SCRATCH_DIR, &m, err, sizeof(err));
	if (!rc) {
		rc = mat_build_all(m, &s, base, &key, err, sizeof(err));
		mat_free(m);
	}
	if (rc)
		fprintf(stderr, "tracecut: %s\n", err);
	mat_remove(work);
	return rc;
}

/* Copies records from..to of trace into w. */
static int copy_records(const char *trace, uint64_t from, uint64_t to, struct trace_writer *w)
{
	struct trace_reader *r;
	struct trace_rec rec;
	char err[256];
	int rc = trace_reader_open(trace, &r, err, sizeof(err));

	if (rc < 0)
		return rc;
	while ((rc = trace_next(r, &rec)) == 1)
		if (rec.op != TRACE_OP_BASE && rec.seq >= from && rec.seq <= to &&
		    (rc = trace_append(w, &rec)) < 0)
			break;
	trace_reader_close(r);
	return rc < 0 ? rc : 0;
}

/* OUT/meta.json: complete, with the records' digest, as `record` writes it. */
static int write_meta(const char *out, int64_t start_ns)
{
	json_object *m = trace_meta_new("complete");
	char path[4200];
	int rc;

	if (!m)
		return -ENOMEM;
	json_object_object_add(m, "start_ns", json_object_new_int64(start_ns));
	rc = trace_meta_seal(out, m, NULL, NULL, 0);
	snprintf(path, sizeof(path), "%s/%s", out, TRACE_META_FILE);
	if (!rc &&
	    json_object_to_file_ext(path, m, JSON_C_TO_STRING_PRETTY) < 0)
		rc = -EIO;
	json_object_put(m);
	return rc;
}

int main(int argc, char **argv)
{
	struct ops_trace *t;
	struct entries en = {0};
	struct trace_writer *w;
	char err[512], path[4200], base[4200];
	uint64_t from, to;
	int rc;

	if (argc != 5 || !(from = strtoull(argv[2], NULL, 10)) ||
	    (to = strtoull(argv[3], NULL, 10)) < from) {
		fprintf(stderr, "usage: tracecut TRACE FROM TO OUT\n");
		return 2;
	}
	if (ops_load(argv[1], 0, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "tracecut: %s: %s\n", argv[1], err);
		return 2;
	}
	if (mkdir(argv[4], 0755) < 0 || build_base(t, from, argv[4]) < 0)
		return 3;
	entries_at(t, from, &en);
	snprintf(path, sizeof(path), "%s/%s", argv[4], TRACE_RECORDS_FILE);
	snprintf(base, sizeof(base), "%s/%s", argv[4], TRACE_BASE_DIR);
	rc = trace_writer_open(path, &w);
	if (!rc) {
		int crc;

		if (!(rc = write_base(w, &en, base)))
			rc = copy_records(argv[1], from, to, w);
		crc = trace_writer_close(w);
		rc = rc ? rc : crc;
		if (!rc)
			rc = write_meta(argv[4], t->start_ns);
	}
	entries_free(&en);
	ops_free(t);
	if (rc)
		fprintf(stderr, "tracecut: %s\n", strerror(-rc));
	return rc ? 3 : 0;
}
