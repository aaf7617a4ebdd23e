/*
 * ops.c - loads a trace's records into struct ops_trace (see ops.h).
 *
 * Each record is classified once (enum ops_kind) so the model and the
 * explorer never look at op codes for that again.  Failed ops (result < 0)
 * change nothing and get OPS_NONE; a failed fsync is no barrier.  The
 * size a file had before each write/truncate/fallocate, in recorded order,
 * is computed here too: models use it to tell appends from overwrites.
 *
 * Synchronous writes: the kernel follows a buffered O_SYNC/O_DSYNC WRITE
 * with an FSYNC (datasync for O_DSYNC) from the same thread, and that
 * FSYNC is where the write call completes: it is an ordinary barrier
 * record.  An O_DIRECT|O_DSYNC write reaches FUSE with no FSYNC after it;
 * such a write (the next record of its thread is not an FSYNC of the same
 * file, or there is none) gets OPS_F_SYNC_SELF: it is its own barrier.  A
 * call the kernel split into contiguous WRITEs of one thread (max_write,
 * a write starting mid-page) completes as one: the FSYNC or the last
 * WRITE ends it.  (Two separate O_DIRECT|O_DSYNC calls writing one after
 * the other look the same, and are taken as one: a weaker reading, never
 * a stronger one.)
 *
 * Before anything is built from it, a trace is held to its promises:
 * meta.json's status and digest of the records file (trace_meta.c), and
 * the BASE records' sizes and hashes against TRACE/base (verify.c).  A
 * BASE record's len is the entry's recorded size, used as is.
 */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fl_error.h"
#include "names.h"
#include "calls.h"
#include "ops.h"
#include "trace_meta.h"
#include "verify.h"

static const uint8_t op_kinds[TRACE_OP_COUNT] = {
	[TRACE_OP_WRITE] = OPS_DATA,     [TRACE_OP_TRUNCATE] = OPS_DATA,
	[TRACE_OP_FALLOCATE] = OPS_DATA, [TRACE_OP_SETATTR] = OPS_DATA,
	[TRACE_OP_SETXATTR] = OPS_DATA,  [TRACE_OP_REMOVEXATTR] = OPS_DATA,
	[TRACE_OP_CREATE] = OPS_NS,      [TRACE_OP_MKNOD] = OPS_NS,
	[TRACE_OP_MKDIR] = OPS_NS,       [TRACE_OP_SYMLINK] = OPS_NS,
	[TRACE_OP_LINK] = OPS_NS,        [TRACE_OP_UNLINK] = OPS_NS,
	[TRACE_OP_RMDIR] = OPS_NS,       [TRACE_OP_RENAME] = OPS_NS,
	[TRACE_OP_FSYNC] = OPS_BARRIER,  [TRACE_OP_FSYNCDIR] = OPS_BARRIER,
	[TRACE_OP_SYNCFS] = OPS_BARRIER, [TRACE_OP_MARK] = OPS_MARK,
};

/* Growable arrays and the size tracker used while loading. */
struct loader {
	struct ops_trace *t;
	size_t cap;        /* allocated entries of t->v */
	size_t bcap;       /* allocated entries of t->base */
	size_t ncap;       /* allocated bytes of t->names */
	void *sizes;       /* tsearch tree of struct size_ent: id -> size */
	char stop[200];    /* why reading stopped early, "" if it did not */
};

struct size_ent {
	uint64_t id;   /* file id */
	uint64_t size; /* its size so far, in recorded order */
};

static int size_cmp(const void *a, const void *b)
{
	const struct size_ent *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Returns the size entry for id (created at 0), or NULL without memory. */
static struct size_ent *size_of(struct loader *l, uint64_t id)
{
	struct size_ent key = {.id = id}, *e;
	void *p = tfind(&key, &l->sizes, size_cmp);

	if (p)
		return *(struct size_ent **)p;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->id = id;
	if (!tsearch(e, &l->sizes, size_cmp)) {
		free(e);
		return NULL;
	}
	return e;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static int add_name(struct loader *l, const char *s, uint32_t len, uint32_t *off)
{
	struct ops_trace *t = l->t;

	if (t->names_len + len > UINT32_MAX)
		return -E2BIG;
	if (grow((void **)&t->names, &l->ncap, t->names_len + len + 1, 1))
		return -ENOMEM;
	if (len) /* s may be NULL for an op without that name */
		memcpy(t->names + t->names_len, s, len);
	*off = (uint32_t)t->names_len;
	t->names_len += len;
	return 0;
}

/* Tracks file sizes in recorded order; fills op->old_size. */
static int track_size(struct loader *l, struct ops_op *op)
{
	struct size_ent *e;

	if (op->kind != OPS_DATA &&
	    !(op->op == TRACE_OP_BASE && S_ISREG(op->mode) && op->len))
		return 0;
	e = size_of(l, op->id);
	if (!e)
		return -ENOMEM;
	op->old_size = e->size;
	if (op->op == TRACE_OP_BASE)
		e->size = op->len;
	else if (op->op == TRACE_OP_WRITE && op->off + op->data_len > e->size)
		e->size = op->off + op->data_len;
	else if (op->op == TRACE_OP_TRUNCATE)
		e->size = op->off;
	else if (op->op == TRACE_OP_FALLOCATE && !(op->mode & 0x01 /* KEEP_SIZE */) &&
		 op->off + op->len > e->size)
		e->size = op->off + op->len;
	return 0;
}

static int add_record(struct loader *l, const struct trace_rec *r)
{
	struct ops_trace *t = l->t;
	struct ops_op op = {
		.seq = r->seq, .time_ns = r->time_ns, .id = r->id, .parent = r->parent,
		.id2 = r->id2, .parent2 = r->parent2, .off = r->off, .len = r->len,
		.data_off = r->data_off, .data_len = r->data_len, .mode = r->mode,
		.flags = r->flags, .atime_ns = r->atime_ns, .mtime_ns = r->mtime_ns,
		.uid = r->uid, .gid = r->gid, .pid = r->pid, .result = r->result,
		.op = r->op,
	};
	int err;

	op.kind = r->result < 0 ? OPS_NONE : op_kinds[r->op];
	if (op.kind == OPS_DATA && (r->op == TRACE_OP_SETATTR || r->op == TRACE_OP_SETXATTR ||
				    r->op == TRACE_OP_REMOVEXATTR))
		op.oflags |= OPS_F_ATTR;
	err = add_name(l, r->name, r->name_len, &op.name);
	if (!err)
		err = add_name(l, r->name2, r->name2_len, &op.name2);
	if (err)
		return err;
	op.name_len = r->name_len;
	op.name2_len = r->name2_len;
	if (r->op == TRACE_OP_BASE) { /* len: its recorded size (verify.c) */
		if ((err = track_size(l, &op)) < 0)
			return err;
		if (grow((void **)&t->base, &l->bcap, t->nbase + 1, sizeof(op)))
			return -ENOMEM;
		t->base[t->nbase++] = op;
		return 0;
	}
	if ((err = track_size(l, &op)) < 0)
		return err;
	if (grow((void **)&t->v, &l->cap, t->n + 1, sizeof(op)))
		return -ENOMEM;
	t->v[t->n++] = op;
	return 0;
}

/* Reads every valid record; l->stop gets why reading stopped early. */
static int read_all(struct loader *l, struct trace_reader *r, char *err,
		    size_t errlen)
{
	struct trace_rec rec;
	int rc;

	while ((rc = trace_next(r, &rec)) == 1) {
		rc = add_record(l, &rec);
		if (rc < 0) {
			snprintf(err, errlen, "loading record %llu: %s",
				 (unsigned long long)rec.seq, faultline_strerror(rc));
			return rc;
		}
	}
	if (rc < 0)
		snprintf(l->stop, sizeof(l->stop), "%s", trace_reader_error(r));
	return 0;
}

/* True when sync write b continues sync write a: one call the kernel split (max_write, pages). */
static bool sync_continues(const struct ops_op *a, const struct ops_op *b)
{
	return ops_is_sync_write(b) && b->id == a->id && b->off == a->off + a->data_len &&
	       (b->flags & (TRACE_WF_SYNC | TRACE_WF_DSYNC | TRACE_WF_DIRECT)) ==
	       (a->flags & (TRACE_WF_SYNC | TRACE_WF_DSYNC | TRACE_WF_DIRECT));
}

/*
 * Sets OPS_F_SYNC_SELF on every sync write that ends its call with no
 * FSYNC of its own (see the header).  A call the kernel split arrives as
 * several contiguous WRITEs of the thread, then (buffered) one FSYNC:
 * only the last WRITE of such a run can be its own barrier, and it covers
 * the run's earlier WRITEs (earlier ops of the file).  pend[] holds, per
 * thread, the sync write whose call is still open.
 */
static int mark_sync_self(struct ops_trace *t)
{
	struct { uint32_t pid; size_t idx; } *pend = NULL;
	size_t npend = 0, i, k;

	for (i = 0; i < t->n; i++) {
		struct ops_op *op = &t->v[i];
		bool next = false;

		for (k = 0; op->pid && k < npend && pend[k].pid != op->pid; k++)
			;
		if (op->pid && k < npend) { /* this thread's call is open: does op end it? */
			struct ops_op *w = &t->v[pend[k].idx];

			next = sync_continues(w, op);
			if (!next && (op->op != TRACE_OP_FSYNC || op->id != w->id))
				w->oflags |= OPS_F_SYNC_SELF;
			if (next)
				pend[k].idx = i; /* the call goes on with op */
			else
				pend[k] = pend[--npend];
		}
		if (!next && op->pid && ops_is_sync_write(op)) {
			void *np = realloc(pend, (npend + 1) * sizeof(*pend));

			if (!np) {
				free(pend);
				return -ENOMEM;
			}
			pend = np;
			pend[npend].pid = op->pid;
			pend[npend++].idx = i;
		} else if (!op->pid && ops_is_sync_write(op)) {
			op->oflags |= OPS_F_SYNC_SELF; /* no thread to follow it up */
		}
	}
	for (k = 0; k < npend; k++)
		t->v[pend[k].idx].oflags |= OPS_F_SYNC_SELF;
	free(pend);
	return 0;
}

/*
 * Gives a SETATTR's "now" timestamps recorded without a value (older
 * recorders) the record's own wall-clock time (t->start_ns, from
 * meta.json, is the origin).
 */
static void fill_now_times(struct ops_trace *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct ops_op *op = &t->v[i];

		if (op->op != TRACE_OP_SETATTR)
			continue;
		if ((op->flags & TRACE_SA_MTIME_NOW) && !op->mtime_ns)
			op->mtime_ns = ops_wall_ns(t, op);
		if ((op->flags & TRACE_SA_ATIME_NOW) && !op->atime_ns)
			op->atime_ns = ops_wall_ns(t, op);
	}
}

/*
 * Holds what was read to what meta.json promises (trace_meta_check), then
 * the base snapshot to the BASE records (verify_base).  0 or a negative
 * code with the reason in err.
 */
static int check_trace(struct loader *l, struct trace_reader *r,
		       const struct trace_meta *m, unsigned flags, char *err,
		       size_t errlen)
{
	struct ops_trace *t = l->t;
	struct trace_digest d;
	int rc;

	trace_reader_digest(r, &d);
	t->records_valid = d.records;
	rc = trace_meta_check(m, &d, l->stop[0] ? l->stop : NULL,
			      flags & OPS_LOAD_PARTIAL, t->partial_reason,
			      sizeof(t->partial_reason));
	if (rc < 0) {
		snprintf(err, errlen, "%s", t->partial_reason);
		return rc;
	}
	t->partial = rc == 1;
	if (!t->partial)
		t->partial_reason[0] = 0;
	return verify_base(t, err, errlen);
}

/* Opens the records of dir and its meta.json; refuses a format older than 3. */
static int open_trace(const char *dir, struct trace_reader **r,
		      struct trace_meta *m, char *err, size_t errlen)
{
	int rc = trace_reader_open(dir, r, err, errlen);

	if (rc < 0)
		return rc;
	if (trace_reader_version(*r) < 3) {
		snprintf(err, errlen,
			 "trace format version %u was recorded before faultline "
			 "kept hashes of the base and the records; record it "
			 "again (faultline show still reads it)",
			 trace_reader_version(*r));
		rc = -FL_EVERSION;
	}
	if (!rc)
		rc = trace_meta_read(dir, m, err, errlen);
	if (rc < 0) {
		trace_reader_close(*r);
		*r = NULL;
	}
	return rc < 0 && rc != -ENOMEM ? -FL_EBADTRACE : rc;
}

bool ops_concurrent(const struct ops_trace *t, size_t a, size_t b)
{
	const struct calls_sqe *x, *y;

	if (!t->sqe_of || !t->sqe_of[a] || !t->sqe_of[b] || a == b)
		return false;
	x = &t->calls->sqe[t->sqe_of[a] - 1];
	y = &t->calls->sqe[t->sqe_of[b] - 1];
	if (x->call != y->call)
		return false;
	return x->k < y->k ? !calls_sqe_ordered(x, y) : !calls_sqe_ordered(y, x);
}

/*
 * With a calls log (record --calls): each op that changes a state, or is a
 * barrier or a mark, is joined to the call that made it (calls_join); a
 * kernel write no flushing call explains is background writeback.  Every
 * record, OPS_NONE ones too, is then offered to calls_join_sqe with that
 * call, in seq order, as show offers them, so both give each io_uring SQE
 * to the same record; an op an SQE made joins the io_uring_enter that
 * submitted it.  Words are made when asked for (ops_call_words): 4 bytes
 * per op here, and 4 more with SQEs.
 */
static int join_calls(struct ops_trace *t)
{
	const struct calls_call *c;
	const struct calls_sqe *q;
	bool *taken = NULL;
	size_t i;
	int rc;

	if (!(t->calls = calloc(1, sizeof(*t->calls))))
		return -ENOMEM;
	rc = calls_load(t->dir, t->calls);
	if (rc < 0 || t->calls->n >= OPS_CALL_WRITEBACK - 1) {
		free(t->calls);
		t->calls = NULL;
		return rc == -ENOENT || rc == 0 ? 0 : rc;
	}
	if (!(t->call_of = calloc(t->n + 1, sizeof(*t->call_of))) ||
	    (t->calls->nsqe && (!(t->sqe_of = calloc(t->n + 1, sizeof(*t->sqe_of))) ||
				!(taken = calloc(t->calls->nsqe, sizeof(*taken))))))
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		const struct ops_op *op = &t->v[i];

		c = calls_join(t->calls, op->pid, op->time_ns);
		if (taken && (q = calls_join_sqe(t->calls, taken, c, op->pid, op->time_ns, op->op,
						 op->off, op->flags))) {
			t->sqe_of[i] = (uint32_t)(q - t->calls->sqe) + 1;
			c = &t->calls->v[q->call];
		}
		if (op->kind == OPS_NONE)
			continue;
		if (c)
			t->call_of[i] = (uint32_t)(c - t->calls->v) + 1;
		else if (!ops_is_early(op) &&
			 calls_unforced_writeback(op->pid, op->op == TRACE_OP_WRITE, c))
			t->call_of[i] = OPS_CALL_WRITEBACK;
	}
	free(taken);
	return 0;
}

const struct calls_call *ops_call(const struct ops_trace *t, size_t idx)
{
	uint32_t k = t->call_of ? t->call_of[idx] : 0;

	return k && k != OPS_CALL_WRITEBACK ? &t->calls->v[k - 1] : NULL;
}

bool ops_call_words(const struct ops_trace *t, size_t idx, char *buf, size_t len)
{
	return calls_words(ops_call(t, idx),
			   t->sqe_of && t->sqe_of[idx] ? &t->calls->sqe[t->sqe_of[idx] - 1] : NULL,
			   ops_is_early(&t->v[idx]),
			   t->call_of && t->call_of[idx] == OPS_CALL_WRITEBACK, buf, len);
}

int ops_load(const char *dir, unsigned flags, struct ops_trace **out, char *err,
	     size_t errlen)
{
	struct loader l = {0};
	struct trace_reader *r;
	struct trace_meta m;
	char path[4096];
	int rc;

	*out = NULL;
	rc = open_trace(dir, &r, &m, err, errlen);
	if (rc < 0)
		return rc;
	l.t = calloc(1, sizeof(*l.t));
	if (!l.t) {
		trace_reader_close(r);
		return -ENOMEM;
	}
	l.t->dir = strdup(dir);
	l.t->start_ns = m.start_ns;
	snprintf(path, sizeof(path), "%s/%s", dir, TRACE_RECORDS_FILE);
	l.t->data_fd = open(path, O_RDONLY | O_CLOEXEC);
	rc = l.t->data_fd < 0 ? -errno
	     : !l.t->dir ? -ENOMEM
	     : read_all(&l, r, err, errlen);
	if (rc == -ENOENT || (rc < 0 && l.t->data_fd < 0))
		snprintf(err, errlen, "cannot open %s", path);
	if (rc == 0)
		rc = check_trace(&l, r, &m, flags, err, errlen);
	if (rc == 0 && (rc = mark_sync_self(l.t)) < 0)
		snprintf(err, errlen, "loading the trace: out of memory");
	if (rc == 0)
		fill_now_times(l.t);
	if (rc == 0 && (rc = join_calls(l.t)) < 0)
		snprintf(err, errlen, "loading the calls log: %s", strerror(-rc));
	trace_reader_close(r);
	tdestroy(l.sizes, free);
	if (rc < 0) {
		ops_free(l.t);
		return rc;
	}
	*out = l.t;
	return 0;
}

void ops_free(struct ops_trace *t)
{
	if (!t)
		return;
	if (t->data_fd >= 0)
		close(t->data_fd);
	free(t->v);
	free(t->base);
	free(t->names);
	free(t->dir);
	if (t->calls)
		calls_log_free(t->calls);
	free(t->calls);
	free(t->call_of);
	free(t->sqe_of);
	free(t);
}

const char *ops_name(const struct ops_trace *t, const struct ops_op *op)
{
	return t->names + op->name;
}

const char *ops_name2(const struct ops_trace *t, const struct ops_op *op)
{
	return t->names + op->name2;
}

int ops_read_data(const struct ops_trace *t, const struct ops_op *op,
		  uint64_t skip, void *buf, size_t len)
{
	size_t done = 0;

	if (skip > op->data_len || len > op->data_len - skip)
		return -EINVAL;
	while (done < len) {
		ssize_t n = pread(t->data_fd, (char *)buf + done, len - done,
				  (off_t)(op->data_off + skip + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

long ops_index(const struct ops_trace *t, uint64_t seq)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->v[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && t->v[lo].seq == seq ? (long)lo : -1;
}

uint64_t ops_marks_before(const struct ops_trace *t, uint64_t crash, size_t *last)
{
	uint64_t n = 0;
	size_t i;

	*last = 0;
	for (i = 0; i < t->n && t->v[i].seq <= crash; i++)
		if (t->v[i].kind == OPS_MARK) {
			n++;
			*last = i;
		}
	return n;
}

int ops_write_marks(const struct ops_trace *t, uint64_t crash, const char *path)
{
	FILE *f = fopen(path, "we");
	size_t i;

	if (!f)
		return -errno;
	for (i = 0; i < t->n && t->v[i].seq <= crash; i++)
		if (t->v[i].kind == OPS_MARK)
			fprintf(f, "%.*s\n", (int)t->v[i].name_len, ops_name(t, &t->v[i]));
	return fclose(f) == 0 ? 0 : -errno;
}

int ops_names_apply(struct names *n, const struct ops_trace *t, const struct ops_op *op)
{
	struct trace_rec r = {
		.op = op->op, .result = op->result, .id = op->id, .parent = op->parent,
		.id2 = op->id2, .parent2 = op->parent2, .flags = op->flags,
		.name = ops_name(t, op), .name_len = op->name_len,
		.name2 = ops_name2(t, op), .name2_len = op->name2_len,
	};

	return names_apply(n, &r);
}

int ops_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

bool ops_is_sync_write(const struct ops_op *op)
{
	return op->op == TRACE_OP_WRITE && op->kind == OPS_DATA &&
	       (op->flags & (TRACE_WF_SYNC | TRACE_WF_DSYNC)) &&
	       !(op->flags & TRACE_WF_WRITEPAGE);
}

bool ops_is_early(const struct ops_op *op)
{
	return op->op == TRACE_OP_WRITE && op->kind == OPS_DATA && (op->flags & TRACE_WF_EARLY);
}

bool ops_changes_state(const struct ops_op *op)
{
	return op->kind == OPS_DATA || op->kind == OPS_NS;
}

bool ops_is_metadata(const struct ops_op *op)
{
	return op->kind == OPS_NS || (op->kind == OPS_DATA && op->op != TRACE_OP_WRITE);
}

bool ops_is_bytes(const struct ops_op *op)
{
	return op->kind == OPS_DATA && !(op->oflags & OPS_F_ATTR);
}

int64_t ops_wall_ns(const struct ops_trace *t, const struct ops_op *op)
{
	return t->start_ns + (int64_t)op->time_ns;
}

/*
 * The same walk without openat2 (kernels before 5.6, sandboxes and
 * valgrind refuse it): one component at a time, none of them a symlink;
 * BASE names are single components, never "." or "..", so the walk
 * cannot leave the snapshot.
 */
static int base_open_walk(int basefd, const char *rel, int flags)
{
	char comp[256];
	int dir = basefd, fd = -1;

	while (*rel == '/')
		rel++;
	for (;;) {
		size_t len = strcspn(rel, "/");
		bool last = rel[len] == 0;

		if (len == 0 || len >= sizeof(comp) || (len <= 2 && !strncmp(rel, "..", len))) {
			fd = -EXDEV;
			break;
		}
		memcpy(comp, rel, len);
		comp[len] = 0;
		fd = openat(dir, comp, last ? flags | O_NOFOLLOW | O_CLOEXEC
				       : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fd = errno == ENOTDIR && !last ? -ELOOP : -errno;
		if (dir != basefd)
			close(dir);
		if (fd < 0 || last)
			break;
		dir = fd;
		rel += len + 1;
	}
	return fd;
}

int ops_base_open(int basefd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, basefd, rel + (*rel == '/'), &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		return base_open_walk(basefd, rel, flags);
	return fd < 0 ? -errno : fd;
}
