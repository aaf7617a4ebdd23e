/*
 * mat_data.c - the bytes of crash states: writes (whole or torn),
 * truncates, fallocate, and the per-block hashes the content key is made
 * of.
 *
 * A torn write is applied sector by sector as state.h's id grammar says;
 * garbage bytes come from state_garbage(), keyed by the state id, so a
 * replay rebuilds them exactly.  Block hashes are kept per inode and
 * recomputed only for blocks an op changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mat_i.h"

/* Where an op's bytes go: a file, or (mat_key) a buffer in memory. */
struct mfile {
	int fd;              /* when mem is NULL */
	struct mat_mem *mem; /* in memory */
};

/* Makes mem hold at least len bytes (not zeroed).  0, -EFBIG or -ENOMEM. */
static int mem_reserve(struct mat_mem *mem, uint64_t len)
{
	uint64_t cap = mem->cap ? mem->cap : 4096;
	uint8_t *p;

	if (len <= mem->cap)
		return 0;
	if (len > MAT_KEY_FILE_MAX) /* too large to key in memory: the state gets built */
		return -EFBIG;
	while (cap < len)
		cap *= 2;
	if (!(p = realloc(mem->p, (size_t)cap)))
		return -ENOMEM;
	mem->p = p; /* bytes past size are never read: growing writes zero their gap */
	mem->cap = cap;
	return 0;
}

void mat_mem_free(struct mat_mem *mem)
{
	if (mem) {
		free(mem->p);
		free(mem);
	}
}

static int mf_size(struct mfile *f, uint64_t *size)
{
	struct stat st;

	if (f->mem) {
		*size = f->mem->size;
		return 0;
	}
	if (fstat(f->fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int mf_truncate(struct mfile *f, uint64_t len)
{
	struct mat_mem *m = f->mem;

	if (!m)
		return ftruncate(f->fd, (off_t)len) < 0 ? -errno : 0;
	if (len > m->size) {
		int err = mem_reserve(m, len);

		if (err)
			return err;
		memset(m->p + m->size, 0, (size_t)(len - m->size));
	}
	m->size = len;
	return 0;
}

/* Reads exactly len bytes at off (short of the end: -EIO). */
static int mf_read(struct mfile *f, void *buf, size_t len, uint64_t off)
{
	ssize_t got;

	if (f->mem) {
		if (off + len > f->mem->size)
			return -EIO;
		memcpy(buf, f->mem->p + off, len);
		return 0;
	}
	got = pread(f->fd, buf, len, (off_t)off);
	return got == (ssize_t)len ? 0 : got < 0 ? -errno : -EIO;
}

/* Marks [start, end) of inode i stale in the block hash array (grows it). */
int mat_blocks_dirty(struct mat_inode *i, uint64_t start, uint64_t end, uint64_t size)
{
	size_t need = (size_t)((size + MAT_BLOCK - 1) / MAT_BLOCK), b;

	if (need > i->nbh) {
		uint64_t *bh = realloc(i->bh, need * sizeof(*bh));
		uint8_t *d = realloc(i->dirty, need);

		if (bh)
			i->bh = bh;
		if (d)
			i->dirty = d;
		if (!bh || !d)
			return -ENOMEM;
		memset(i->dirty + i->nbh, 1, need - i->nbh);
		if (i->nbh) /* the old last block may have been short: it is full now */
			i->dirty[i->nbh - 1] = 1;
	}
	i->nbh = need;
	i->size = size;
	for (b = (size_t)(start / MAT_BLOCK); b < need && (uint64_t)b * MAT_BLOCK < end; b++)
		i->dirty[b] = 1;
	if (need)
		i->dirty[need - 1] = 1; /* the last block's length may have changed */
	i->any_dirty = true;
	return 0;
}

/* Recomputes the stale block hashes of i from f. */
static int blocks_rehash(struct mat *m, struct mat_inode *i, struct mfile *f)
{
	size_t b;

	for (b = 0; i->any_dirty && b < i->nbh; b++) {
		uint64_t off = (uint64_t)b * MAT_BLOCK;
		size_t len = i->size - off < MAT_BLOCK ? (size_t)(i->size - off) : MAT_BLOCK;
		const void *at = m->buf;
		int err;

		if (!i->dirty[b])
			continue;
		if (f->mem && off + len <= f->mem->size)
			at = f->mem->p + off; /* no copy */
		else if ((err = mf_read(f, m->buf, len, off)) < 0)
			return err;
		i->bh[b] = fskey_block(at, len);
		i->dirty[b] = 0;
	}
	i->any_dirty = false;
	return 0;
}

int mat_blocks_rehash(struct mat *m, struct mat_inode *i, int fd)
{
	struct mfile f = {.fd = fd};

	return blocks_rehash(m, i, &f);
}

int mat_blocks_rehash_mem(struct mat *m, struct mat_inode *i, struct mat_mem *mem)
{
	struct mfile f = {.fd = -1, .mem = mem};

	return blocks_rehash(m, i, &f);
}

static int write_full(struct mfile *f, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (f->mem) {
		int err = mem_reserve(f->mem, off + len);

		if (err)
			return err;
		if (off > f->mem->size) /* a hole reads as zeros */
			memset(f->mem->p + f->mem->size, 0, (size_t)(off - f->mem->size));
		memcpy(f->mem->p + off, buf, len);
		if (off + len > f->mem->size)
			f->mem->size = off + len;
		return 0;
	}
	while (done < len) {
		ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Writes bytes [from, to) of op's payload (file offsets) into f. */
static int copy_payload(struct mat *m, struct mfile *f, const struct ops_op *op,
			uint64_t from, uint64_t to)
{
	while (from < to) {
		size_t len = to - from < MAT_IO ? (size_t)(to - from) : MAT_IO;
		int err = ops_read_data(m->t, op, from - op->off, m->buf, len);

		if (!err)
			err = write_full(f, m->buf, len, from);
		if (err)
			return err;
		from += len;
	}
	return 0;
}

static int fill(struct mat *m, struct mfile *f, uint64_t from, uint64_t to, char kind,
		uint64_t key, uint64_t seq, uint64_t sector_no)
{
	size_t len = (size_t)(to - from);

	if (kind == 'z')
		memset(m->buf, 0, len);
	else
		state_garbage(key, seq, sector_no, m->buf, len);
	return write_full(f, m->buf, len, from);
}

/*
 * Applies a torn write sector by sector (kinds per state.h).  A damaged
 * sector the write touches gets zeros or garbage where the write's bytes
 * go; its other bytes keep what they held (they were not being written).
 * A clean sector of the block range (--block) is damaged whole.
 */
static int write_torn(struct mat *m, struct mfile *f, const struct ops_op *op,
		      const struct state *s, const char *rle, uint64_t key,
		      uint64_t cur, uint64_t *lo, uint64_t *hi)
{
	uint64_t unit = s->block ? s->block : s->sector, end = op->off + op->data_len;
	uint64_t start = op->off / unit * unit, stop = (end + unit - 1) / unit * unit;
	uint64_t limit = cur > end ? cur : end, k, nsect = (stop - start) / s->sector;
	char *kinds = malloc(nsect ? nsect : 1);
	int err = kinds ? state_rle_expand(rle, kinds, nsect) : -ENOMEM;

	for (k = 0; !err && k < nsect; k++) {
		uint64_t s0 = start + k * s->sector, s1 = s0 + s->sector;

		bool touched = s1 > op->off && s0 < end;
		uint64_t a = touched && s0 < op->off ? op->off : s0;
		uint64_t z = touched ? (s1 < end ? s1 : end) : (s1 < limit ? s1 : limit);

		if (kinds[k] == 'n' && touched)
			err = copy_payload(m, f, op, a, z);
		else if ((kinds[k] == 'z' || kinds[k] == 'g') && a < z)
			err = fill(m, f, a, z, kinds[k], key, op->seq, s0 / s->sector);
	}
	free(kinds);
	*lo = start;
	*hi = stop > end ? stop : end;
	return err;
}

/*
 * Applies a write, whole or as choice c says.  [*lo, *hi) gets the bytes
 * it may have changed.
 */
static int apply_write(struct mat *m, struct mfile *f, const struct ops_op *op,
		       const struct state *s, const struct state_choice *c,
		       uint64_t key, uint64_t *lo, uint64_t *hi)
{
	uint64_t end = op->off + op->data_len, cur, now;
	int err;

	*lo = op->off;
	*hi = end;
	if (!c || (!c->rle && !c->size_lost))
		return copy_payload(m, f, op, op->off, end);
	if ((err = mf_size(f, &cur)) < 0)
		return err;
	err = c->rle ? write_torn(m, f, op, s, c->rle, key, cur, lo, hi)
		     : copy_payload(m, f, op, op->off, end);
	if (!err && !c->size_lost && end > cur && mf_size(f, &now) == 0 && now < end)
		err = mf_truncate(f, end);
	if (!err && c->size_lost)
		err = mf_truncate(f, cur);
	return err;
}

/* Moves bytes [from, from + len) of f to offset to (overlap allowed). */
static int move_bytes(struct mat *m, struct mfile *f, uint64_t from, uint64_t to, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		size_t n = len - done < MAT_IO ? (size_t)(len - done) : MAT_IO;
		/* forwards when moving down, backwards when moving up */
		uint64_t at = to < from ? done : len - done - n;
		int err = mf_read(f, m->buf, n, from + at);

		if (err < 0 || (err = write_full(f, m->buf, n, to + at)) < 0)
			return err;
		done += n;
	}
	return 0;
}

/* COLLAPSE_RANGE and INSERT_RANGE where the file system lacks them (tmpfs). */
static int shift_range(struct mat *m, struct mfile *f, const struct ops_op *op, uint64_t size)
{
	uint64_t end = op->off + op->len;
	int err;

	if (op->mode & FALLOC_FL_COLLAPSE_RANGE) {
		if (end > size)
			return 0; /* the recorded call could not have succeeded */
		err = move_bytes(m, f, end, op->off, size - end);
		return err ? err : mf_truncate(f, size - op->len);
	}
	if (op->off > size)
		return 0;
	if ((err = mf_truncate(f, size + op->len)) < 0)
		return err;
	if ((err = move_bytes(m, f, op->off, end, size - op->off)) < 0)
		return err;
	memset(m->buf, 0, op->len < MAT_IO ? (size_t)op->len : MAT_IO);
	for (size = op->off; !err && size < end; size += MAT_IO)
		err = write_full(f, m->buf, end - size < MAT_IO ? (size_t)(end - size) : MAT_IO, size);
	return err;
}

/* fallocate, or what it means for the bytes where the file system lacks it. */
static int apply_fallocate(struct mat *m, struct mfile *f, const struct ops_op *op)
{
	uint64_t end = op->off + op->len, size;
	int err;

	/* in memory, every mode is emulated: as a file system without it would */
	if (!f->mem && fallocate(f->fd, (int)op->mode, (off_t)op->off, (off_t)op->len) == 0)
		return 0;
	if (!f->mem && errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
		return -errno;
	if ((err = mf_size(f, &size)) < 0)
		return err;
	if (op->mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE))
		return shift_range(m, f, op, size);
	if (op->mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		uint64_t lim = op->mode & FALLOC_FL_KEEP_SIZE && size < end ? size : end;
		uint64_t p;

		memset(m->buf, 0, MAT_IO);
		for (p = op->off; !err && p < lim; p += MAT_IO)
			err = write_full(f, m->buf, lim - p < MAT_IO ? lim - p : MAT_IO, p);
		if (err || lim == end)
			return err;
	}
	if (!(op->mode & FALLOC_FL_KEEP_SIZE) && size < end)
		return mf_truncate(f, end);
	return 0;
}

/* Applies data op (choice c, possibly NULL) to f of inode i. */
static int data_apply(struct mat *m, struct mfile *f, struct mat_inode *i, const struct ops_op *op,
		      const struct state *s, const struct state_choice *c, uint64_t key)
{
	uint64_t lo = 0, hi = 0, size;
	int err = 0;

	switch (op->op) {
	case TRACE_OP_WRITE:
		err = apply_write(m, f, op, s, c, key, &lo, &hi);
		break;
	case TRACE_OP_TRUNCATE:
		err = mf_truncate(f, op->off);
		lo = hi = op->off;
		break;
	case TRACE_OP_FALLOCATE:
		err = apply_fallocate(m, f, op);
		lo = op->off;
		hi = op->mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)
			     ? UINT64_MAX /* the whole tail moved */
			     : op->off + op->len;
		break;
	default:
		return 0;
	}
	if (err || (err = mf_size(f, &size)) < 0)
		return err;
	if (lo > size)
		lo = size;
	return mat_blocks_dirty(i, lo, hi > lo ? hi : lo + 1, size);
}

int mat_data_apply(struct mat *m, int fd, struct mat_inode *i, const struct ops_op *op,
		   const struct state *s, const struct state_choice *c, uint64_t key)
{
	struct mfile f = {.fd = fd};

	return data_apply(m, &f, i, op, s, c, key);
}

int mat_data_apply_mem(struct mat *m, struct mat_mem *mem, struct mat_inode *i,
		       const struct ops_op *op, const struct state *s,
		       const struct state_choice *c, uint64_t key)
{
	struct mfile f = {.fd = -1, .mem = mem};

	return data_apply(m, &f, i, op, s, c, key);
}

static int copy_plain(struct mat *m, int src, int dst, uint64_t from, uint64_t size)
{
	struct mfile out = {.fd = dst};

	while (from < size) {
		ssize_t n = pread(src, m->buf, size - from < MAT_IO ? size - from : MAT_IO,
				  (off_t)from);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		if (write_full(&out, m->buf, (size_t)n, from) < 0)
			return -EIO;
		from += (uint64_t)n;
	}
	return 0;
}

/* Copies src into the new file dst (clone if possible).  0 or -errno. */
int mat_clone_or_copy(struct mat *m, int src, int dst, uint64_t size)
{
	off_t in = 0, out = 0;

	if (m->reflink && ioctl(dst, FICLONE, src) == 0)
		return 0;
	while ((uint64_t)in < size) {
		ssize_t n = copy_file_range(src, &in, dst, &out, (size_t)(size - (uint64_t)in), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			      errno == EOPNOTSUPP))
			return copy_plain(m, src, dst, (uint64_t)in, size);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
	}
	return 0;
}
