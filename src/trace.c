/*
 * trace.c - the trace's records file: format, encoding and reader.
 *
 * FORMAT (version 3; version 2 lacked the size and content hash on BASE
 * records, version 1 also the owner on create-type records).  All
 * integers are little-endian.
 *
 * The file starts with a 16-byte header:
 *   0   8  magic "FLTRACE\0"
 *   8   4  format version (3)
 *   12  4  header size in bytes (16)
 *
 * Records follow back to back, each:
 *   0   4  L: length of the whole record in bytes, 36 <= L <= 64 MiB
 *   4   4  checksum: low 32 bits of XXH3-64 (seed 0) over bytes [8, L)
 *   8   8  seq: 1 for the first record, then +1 each record
 *   16  2  op (enum trace_op)
 *   18  2  rflags, 0
 *   20  4  pid
 *   24  4  result (signed): 0, bytes written for WRITE, or -errno
 *   28  8  time_ns since recording began
 *   36  .. body: the fields the op uses (trace_fields[] below), in order:
 *          8-byte fields  id, parent, id2, parent2, off, len, atime_ns, mtime_ns
 *          4-byte fields  mode, flags, uid, gid
 *          strings        name, name2: each a 4-byte length and its bytes
 *          data           the rest of the record (WRITE bytes, xattr value)
 *
 * A WRITE of n bytes therefore costs 64 + n bytes; its payload is stored
 * once, right in the record.  A BASE record carries the entry's size in
 * len and trace_content_hash() of its bytes in id2, so a reader can tell
 * whether TRACE/base still holds what was recorded.
 *
 * A record is VALID when: its length field is in range and the whole
 * record is in the file, its checksum matches, its seq is one more than
 * the previous record's, its op is known, rflags is 0, its body holds
 * exactly the op's fields (only ops with data may have bytes left over),
 * a WRITE's data length equals its non-negative result, offset + length
 * does not overflow 2^63, and every name of a namespace op is a single
 * path component (1..255 bytes, no '/', no NUL, not "." or "..").  A
 * reader stops at the first invalid record and reports how many were
 * valid: the valid records always form a prefix of what was recorded, so
 * a recorder killed at any instant leaves a usable trace.  The reader
 * also keeps an XXH3-64 of every byte it accepted (trace_reader_digest),
 * which meta.json keeps for the whole file when recording ends.
 *
 * The reader decodes version 2 too (its BASE records have no len or
 * id2), so `show` still prints old traces; commands that build states
 * refuse them (ops.c).
 *
 * The writer (trace_writer.c) assigns seq in the order of appends and
 * writes records in that order, whole; what it promises about when a
 * record reaches the file is said there.  This module does not know
 * about files, paths or directories; the trace directory is record.c's
 * business.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "fl_error.h"
#include "trace.h"
#include "trace_i.h"

#define TRACE_MAGIC "FLTRACE"   /* 7 chars + its NUL = 8 bytes */
#define TRACE_REC_HDR 36
#define TRACE_NAME_MAX 255

/* Fields a record body may carry; the order of the bits is the order on disk. */
enum {
	F_ID = 1 << 0,
	F_PARENT = 1 << 1,
	F_ID2 = 1 << 2,
	F_PARENT2 = 1 << 3,
	F_OFF = 1 << 4,
	F_LEN = 1 << 5,
	F_ATIME = 1 << 6,
	F_MTIME = 1 << 7,
	F_MODE = 1 << 8,
	F_FLAGS = 1 << 9,
	F_UID = 1 << 10,
	F_GID = 1 << 11,
	F_NAME = 1 << 12,
	F_NAME2 = 1 << 13,
	F_DATA = 1 << 14,
	F_NSNAME = 1 << 15, /* names are path components (checked on read) */
};

static const struct {
	const char *name; /* as shown by `faultline show` */
	unsigned fields;  /* F_* */
} trace_ops[TRACE_OP_COUNT] = {
	[TRACE_OP_BASE] = {"base", F_ID | F_PARENT | F_ID2 | F_LEN | F_MODE | F_NAME | F_NSNAME},
	[TRACE_OP_WRITE] = {"write", F_ID | F_OFF | F_LEN | F_FLAGS | F_DATA},
	[TRACE_OP_TRUNCATE] = {"truncate", F_ID | F_OFF | F_LEN | F_FLAGS},
	[TRACE_OP_FALLOCATE] = {"fallocate", F_ID | F_ID2 | F_OFF | F_LEN | F_MODE},
	[TRACE_OP_CREATE] = {"create", F_PARENT | F_ID | F_MODE | F_FLAGS | F_UID | F_GID |
					       F_NAME | F_NSNAME},
	[TRACE_OP_MKNOD] = {"mknod", F_PARENT | F_ID | F_MODE | F_FLAGS | F_UID | F_GID |
					     F_NAME | F_NSNAME},
	[TRACE_OP_MKDIR] = {"mkdir", F_PARENT | F_ID | F_MODE | F_UID | F_GID | F_NAME | F_NSNAME},
	[TRACE_OP_SYMLINK] = {"symlink", F_PARENT | F_ID | F_UID | F_GID | F_NAME | F_NAME2 |
						 F_NSNAME},
	[TRACE_OP_LINK] = {"link", F_ID | F_PARENT | F_NAME | F_NSNAME},
	[TRACE_OP_UNLINK] = {"unlink", F_PARENT | F_ID | F_NAME | F_NSNAME},
	[TRACE_OP_RMDIR] = {"rmdir", F_PARENT | F_ID | F_NAME | F_NSNAME},
	[TRACE_OP_RENAME] = {"rename", F_ID | F_PARENT | F_ID2 | F_PARENT2 | F_FLAGS |
					 F_NAME | F_NAME2 | F_NSNAME},
	[TRACE_OP_SETATTR] = {"setattr", F_ID | F_ATIME | F_MTIME | F_MODE | F_FLAGS |
					   F_UID | F_GID},
	[TRACE_OP_SETXATTR] = {"setxattr", F_ID | F_FLAGS | F_NAME | F_DATA},
	[TRACE_OP_REMOVEXATTR] = {"removexattr", F_ID | F_NAME},
	[TRACE_OP_FSYNC] = {"fsync", F_ID | F_FLAGS},
	[TRACE_OP_FSYNCDIR] = {"fsyncdir", F_ID | F_FLAGS},
	[TRACE_OP_SYNCFS] = {"syncfs", 0},
	[TRACE_OP_OPEN] = {"open", F_ID | F_FLAGS},
	[TRACE_OP_FLUSH] = {"flush", F_ID},
	[TRACE_OP_RELEASE] = {"release", F_ID},
	[TRACE_OP_MARK] = {"mark", F_NAME},
};

/* The fields op's body holds in format version: BASE grew len and id2 in 3. */
static unsigned op_fields(unsigned op, uint32_t version)
{
	unsigned f = trace_ops[op].fields;

	if (op == TRACE_OP_BASE && version < 3)
		f &= ~(unsigned)(F_ID2 | F_LEN);
	return f;
}

const char *trace_op_name(unsigned op)
{
	if (op == 0 || op >= TRACE_OP_COUNT)
		return NULL;
	return trace_ops[op].name;
}

/* ---- little-endian helpers ---- */

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* The 8-byte fields of a record in on-disk order, as pointers into rec. */
static void rec_u64_fields(struct trace_rec *rec, uint64_t *f[8])
{
	f[0] = &rec->id;
	f[1] = &rec->parent;
	f[2] = &rec->id2;
	f[3] = &rec->parent2;
	f[4] = &rec->off;
	f[5] = &rec->len;
	f[6] = (uint64_t *)&rec->atime_ns;
	f[7] = (uint64_t *)&rec->mtime_ns;
}

static void rec_u32_fields(struct trace_rec *rec, uint32_t *f[4])
{
	f[0] = &rec->mode;
	f[1] = &rec->flags;
	f[2] = &rec->uid;
	f[3] = &rec->gid;
}

uint32_t trace_checksum(const uint8_t *hdr, size_t hdr_len, const void *data,
			size_t data_len)
{
	XXH3_state_t st;

	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, hdr + 8, hdr_len - 8);
	if (data_len)
		XXH3_64bits_update(&st, data, data_len);
	return (uint32_t)XXH3_64bits_digest(&st);
}

/* ---- encoding ---- */

/* Bytes of header+body rec needs in format version; 0 for an unknown op. */
static size_t encoded_size(const struct trace_rec *rec, uint32_t version)
{
	unsigned f;
	size_t n = TRACE_REC_HDR;

	if (rec->op == 0 || rec->op >= TRACE_OP_COUNT)
		return 0;
	f = op_fields(rec->op, version);
	n += 8 * (size_t)__builtin_popcount(f & 0xff);
	n += 4 * (size_t)__builtin_popcount(f & 0xf00);
	if (f & F_NAME)
		n += 4 + rec->name_len;
	if (f & F_NAME2)
		n += 4 + rec->name2_len;
	return n;
}

size_t trace_encoded_size(const struct trace_rec *rec)
{
	return encoded_size(rec, TRACE_FORMAT_VERSION);
}

int trace_encode(const struct trace_rec *rec, uint8_t *buf, size_t cap)
{
	struct trace_rec tmp = *rec;
	uint64_t *u64[8];
	uint32_t *u32[4];
	size_t need = trace_encoded_size(rec), pos = TRACE_REC_HDR;
	unsigned f, i;

	if (need == 0)
		return -EINVAL;
	if (need > cap)
		return -ENOSPC;
	f = trace_ops[rec->op].fields;
	if (!(f & F_DATA) && rec->data_len)
		return -EINVAL;
	if (need + rec->data_len > TRACE_MAX_RECORD)
		return -E2BIG;
	put32(buf, (uint32_t)(need + rec->data_len));
	put64(buf + 8, rec->seq);
	buf[16] = rec->op & 0xff;
	buf[17] = rec->op >> 8;
	buf[18] = 0;
	buf[19] = 0;
	put32(buf + 20, rec->pid);
	put32(buf + 24, (uint32_t)rec->result);
	put64(buf + 28, rec->time_ns);
	rec_u64_fields(&tmp, u64);
	rec_u32_fields(&tmp, u32);
	for (i = 0; i < 8; i++)
		if (f & (1u << i)) {
			put64(buf + pos, *u64[i]);
			pos += 8;
		}
	for (i = 0; i < 4; i++)
		if (f & (1u << (8 + i))) {
			put32(buf + pos, *u32[i]);
			pos += 4;
		}
	if (f & F_NAME) {
		put32(buf + pos, rec->name_len);
		memcpy(buf + pos + 4, rec->name, rec->name_len);
		pos += 4 + rec->name_len;
	}
	if (f & F_NAME2) {
		put32(buf + pos, rec->name2_len);
		memcpy(buf + pos + 4, rec->name2, rec->name2_len);
		pos += 4 + rec->name2_len;
	}
	put32(buf + 4, trace_checksum(buf, pos, rec->data, rec->data_len));
	return (int)pos;
}

/* ---- decoding ---- */

/* A name of a namespace op must be one path component. */
static bool name_is_component(const char *s, uint32_t n)
{
	if (n == 0 || n > TRACE_NAME_MAX || memchr(s, '/', n) || memchr(s, 0, n))
		return false;
	return !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

/* Reads a length-prefixed string at *pos; returns false if it does not fit. */
static bool get_string(const uint8_t *buf, size_t len, size_t *pos,
		       const char **s, uint32_t *n)
{
	if (len - *pos < 4)
		return false;
	*n = get32(buf + *pos);
	if (len - *pos - 4 < *n)
		return false;
	*s = (const char *)buf + *pos + 4;
	*pos += 4 + *n;
	return true;
}

/* Checks the op-specific rules a checksum cannot: see the format comment. */
static bool rec_is_sane(const struct trace_rec *rec, unsigned f)
{
	const uint64_t lim = UINT64_C(1) << 63;

	if (f & F_NSNAME) {
		if (!name_is_component(rec->name, rec->name_len))
			return false;
		if ((f & F_NAME2) && rec->op == TRACE_OP_RENAME &&
		    !name_is_component(rec->name2, rec->name2_len))
			return false;
	}
	if (rec->op == TRACE_OP_WRITE &&
	    rec->data_len != (rec->result > 0 ? (uint32_t)rec->result : 0))
		return false;
	if ((f & F_OFF) && (f & F_LEN) && rec->op != TRACE_OP_TRUNCATE &&
	    (rec->off >= lim || rec->len >= lim || rec->off + rec->len >= lim))
		return false;
	if (rec->op == TRACE_OP_BASE && rec->len >= lim)
		return false;
	return rec->op != TRACE_OP_TRUNCATE || (rec->off < lim && rec->len < lim);
}

/* trace_decode for a record of format version. */
static int decode(const uint8_t *buf, size_t len, struct trace_rec *rec,
		  uint32_t version)
{
	uint64_t *u64[8];
	uint32_t *u32[4];
	size_t pos = TRACE_REC_HDR;
	unsigned f, i, op;

	if (len < TRACE_REC_HDR || get32(buf) != len)
		return -FL_EBADTRACE;
	if (get32(buf + 4) != trace_checksum(buf, len, NULL, 0))
		return -FL_ECHECKSUM;
	memset(rec, 0, sizeof(*rec));
	op = buf[16] | (unsigned)buf[17] << 8;
	if (op == 0 || op >= TRACE_OP_COUNT || buf[18] || buf[19])
		return -FL_EBADTRACE;
	rec->op = (uint16_t)op;
	rec->seq = get64(buf + 8);
	rec->pid = get32(buf + 20);
	rec->result = (int32_t)get32(buf + 24);
	rec->time_ns = get64(buf + 28);
	f = op_fields(op, version);
	if (len < encoded_size(rec, version))
		return -FL_EBADTRACE;
	rec_u64_fields(rec, u64);
	rec_u32_fields(rec, u32);
	for (i = 0; i < 8; i++)
		if (f & (1u << i)) {
			*u64[i] = get64(buf + pos);
			pos += 8;
		}
	for (i = 0; i < 4; i++)
		if (f & (1u << (8 + i))) {
			*u32[i] = get32(buf + pos);
			pos += 4;
		}
	if ((f & F_NAME) && !get_string(buf, len, &pos, &rec->name, &rec->name_len))
		return -FL_EBADTRACE;
	if ((f & F_NAME2) &&
	    !get_string(buf, len, &pos, &rec->name2, &rec->name2_len))
		return -FL_EBADTRACE;
	if (pos != len && !(f & F_DATA))
		return -FL_EBADTRACE;
	rec->data = buf + pos;
	rec->data_len = (uint32_t)(len - pos);
	return rec_is_sane(rec, f) ? 0 : -FL_EBADTRACE;
}

int trace_decode(const uint8_t *buf, size_t len, struct trace_rec *rec)
{
	return decode(buf, len, rec, TRACE_FORMAT_VERSION);
}

bool trace_rec_is_promise(const struct trace_rec *rec)
{
	switch (rec->op) {
	case TRACE_OP_FSYNC:
	case TRACE_OP_FSYNCDIR:
	case TRACE_OP_SYNCFS:
	case TRACE_OP_MARK:
		return true;
	case TRACE_OP_WRITE:
		return (rec->flags & (TRACE_WF_SYNC | TRACE_WF_DSYNC)) != 0;
	default:
		return false;
	}
}

/* ---- the file header, for the writer (trace_writer.c) ---- */

void trace_file_header(uint8_t hdr[TRACE_FILE_HDR])
{
	memset(hdr, 0, TRACE_FILE_HDR);
	memcpy(hdr, TRACE_MAGIC, 8);
	put32(hdr + 8, TRACE_FORMAT_VERSION);
	put32(hdr + 12, TRACE_FILE_HDR);
}

/* ---- reader ---- */

#define READ_CHUNK (1u << 20)

struct trace_reader {
	int fd;            /* the records file */
	uint32_t version;  /* from the file header */
	uint8_t *buf;      /* window of the file: buf[0..fill) is file [base, base+fill) */
	size_t cap;        /* allocated bytes of buf */
	size_t fill;       /* valid bytes in buf */
	size_t pos;        /* next record starts at buf[pos] */
	uint64_t base;     /* file offset of buf[0] */
	uint64_t valid;    /* records returned so far */
	uint64_t done; /* bytes accepted: the header and the valid records */
	XXH3_state_t *sum; /* XXH3-64 of those bytes (trace_reader_digest) */
	char err[160];     /* why reading stopped, "" while it has not */
};

/* Makes buf[pos, pos+n) hold file data if the file has it; returns bytes available. */
static ssize_t reader_fill(struct trace_reader *r, size_t n)
{
	if (r->pos > 0 && r->fill - r->pos < n) {
		memmove(r->buf, r->buf + r->pos, r->fill - r->pos);
		r->base += r->pos;
		r->fill -= r->pos;
		r->pos = 0;
	}
	if (n > r->cap) {
		size_t cap = n > READ_CHUNK ? n : READ_CHUNK;
		uint8_t *nb = realloc(r->buf, cap);

		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = cap;
	}
	while (r->fill - r->pos < n) {
		ssize_t got = pread(r->fd, r->buf + r->fill, r->cap - r->fill,
				    (off_t)(r->base + r->fill));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		r->fill += (size_t)got;
	}
	return (ssize_t)(r->fill - r->pos);
}

static int reader_header(struct trace_reader *r, char *errbuf, size_t errlen)
{
	ssize_t got = reader_fill(r, TRACE_FILE_HDR);

	if (got < 0) {
		snprintf(errbuf, errlen, "cannot read: %s", faultline_strerror((int)got));
		return (int)got;
	}
	if (got < TRACE_FILE_HDR || memcmp(r->buf, TRACE_MAGIC, 8) != 0) {
		snprintf(errbuf, errlen, "not a faultline trace (bad header)");
		return -FL_EBADTRACE;
	}
	r->version = get32(r->buf + 8);
	if (r->version < TRACE_FORMAT_OLDEST ||
	    r->version > TRACE_FORMAT_VERSION) {
		snprintf(errbuf, errlen,
			 "trace format version %u; this faultline reads "
			 "versions %u to %u",
			 r->version, TRACE_FORMAT_OLDEST, TRACE_FORMAT_VERSION);
		return -FL_EVERSION;
	}
	if (get32(r->buf + 12) != TRACE_FILE_HDR) {
		snprintf(errbuf, errlen, "bad trace header size %u", get32(r->buf + 12));
		return -FL_EBADTRACE;
	}
	XXH3_64bits_update(r->sum, r->buf, TRACE_FILE_HDR);
	r->done = TRACE_FILE_HDR;
	r->pos = TRACE_FILE_HDR;
	return 0;
}

int trace_reader_open(const char *path, struct trace_reader **out,
		      char *errbuf, size_t errlen)
{
	char tmp[1], file[4096];
	struct trace_reader *r;
	struct stat st;
	bool isdir;
	int err;

	if (!errbuf) {
		errbuf = tmp;
		errlen = sizeof(tmp);
	}
	*out = NULL;
	isdir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	snprintf(file, sizeof(file), isdir ? "%s/" TRACE_RECORDS_FILE : "%s", path);
	r = calloc(1, sizeof(*r));
	if (!r || !(r->sum = XXH3_createState())) {
		free(r);
		return -ENOMEM;
	}
	XXH3_64bits_reset(r->sum);
	r->fd = open(file, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		err = -errno;
		snprintf(errbuf, errlen, "cannot open %s: %s",
			 isdir ? TRACE_RECORDS_FILE : "it", strerror(errno));
		goto out_free;
	}
	err = reader_header(r, errbuf, errlen);
	if (err)
		goto out_close;
	*out = r;
	return 0;

out_close:
	close(r->fd);
out_free:
	XXH3_freeState(r->sum);
	free(r->buf);
	free(r);
	return err;
}

/* Records why reading stopped and returns err. */
static int reader_stop(struct trace_reader *r, int err, const char *why)
{
	snprintf(r->err, sizeof(r->err), "record %llu at byte %llu: %s",
		 (unsigned long long)r->valid + 1,
		 (unsigned long long)(r->base + r->pos), why);
	return err;
}

int trace_next(struct trace_reader *r, struct trace_rec *rec)
{
	ssize_t got;
	uint32_t len;
	int err;

	if (r->err[0])
		return -FL_EBADTRACE;
	got = reader_fill(r, 8);
	if (got < 0)
		return reader_stop(r, (int)got, faultline_strerror((int)got));
	if (got == 0)
		return 0;
	if (got < 8)
		return reader_stop(r, -FL_ETRUNCATED, "file ends inside a record header");
	len = get32(r->buf + r->pos);
	if (len < TRACE_REC_HDR || len > TRACE_MAX_RECORD)
		return reader_stop(r, -FL_EBADTRACE, "impossible record length");
	got = reader_fill(r, len);
	if (got < 0)
		return reader_stop(r, (int)got, faultline_strerror((int)got));
	if ((size_t)got < len)
		return reader_stop(r, -FL_ETRUNCATED, "file ends inside a record");
	err = decode(r->buf + r->pos, len, rec, r->version);
	if (err == -FL_ECHECKSUM)
		return reader_stop(r, err, "checksum mismatch");
	if (err)
		return reader_stop(r, err, "malformed record");
	if (rec->seq != r->valid + 1)
		return reader_stop(r, -FL_EBADTRACE, "sequence number out of order");
	rec->data_off = r->base + r->pos + len - rec->data_len;
	XXH3_64bits_update(r->sum, r->buf + r->pos, len);
	r->done += len;
	r->pos += len;
	r->valid++;
	return 1;
}

void trace_reader_resume(struct trace_reader *r)
{
	r->err[0] = 0;
	r->fill = r->pos; /* bytes past the last whole record are read again */
}

uint64_t trace_reader_valid(const struct trace_reader *r)
{
	return r->valid;
}

const char *trace_reader_error(const struct trace_reader *r)
{
	return r->err[0] ? r->err : NULL;
}

uint32_t trace_reader_version(const struct trace_reader *r)
{
	return r->version;
}

void trace_reader_digest(const struct trace_reader *r, struct trace_digest *d)
{
	d->records = r->valid;
	d->bytes = r->done;
	d->xxh3 = XXH3_64bits_digest(r->sum);
}

void trace_reader_close(struct trace_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	XXH3_freeState(r->sum);
	free(r->buf);
	free(r);
}

/* ---- content hash ---- */

#define HASH_BLOCK 4096u
#define HASH_CHUNK (64u * HASH_BLOCK) /* bytes read at a time */

/* Feeds the n-byte block at offset off to the hash, unless it is all zeros. */
static void hash_block(XXH3_state_t *st, uint64_t off, const uint8_t *p,
		       size_t n)
{
	uint8_t le[8];

	if (n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1)))
		return;
	put64(le, off);
	XXH3_64bits_update(st, le, 8);
	XXH3_64bits_update(st, p, n);
}

static uint64_t hash_end(XXH3_state_t *st, uint64_t len)
{
	uint8_t le[8];

	put64(le, len);
	XXH3_64bits_update(st, le, 8);
	return XXH3_64bits_digest(st);
}

uint64_t trace_content_hash(const void *buf, uint64_t len)
{
	XXH3_state_t st;
	uint64_t off;

	XXH3_64bits_reset(&st);
	for (off = 0; off < len; off += HASH_BLOCK)
		hash_block(
		    &st, off, (const uint8_t *)buf + off,
		    (size_t)(len - off < HASH_BLOCK ? len - off : HASH_BLOCK));
	return hash_end(&st, len);
}

/* Hashes fd's bytes [from, to) (from block-aligned) into st; 0 or -errno. */
static int hash_range(XXH3_state_t *st, int fd, uint8_t *buf, uint64_t from,
		      uint64_t to)
{
	while (from < to) {
		size_t want = to - from < HASH_CHUNK ? (size_t)(to - from)
						     : HASH_CHUNK,
		       i;
		ssize_t got = pread(fd, buf, want, (off_t)from);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO; /* the file shrank under us */
		for (i = 0; i < (size_t)got; i += HASH_BLOCK)
			hash_block(st, from + i, buf + i,
				   (size_t)got - i < HASH_BLOCK
				       ? (size_t)got - i
				       : HASH_BLOCK);
		from += (uint64_t)got;
	}
	return 0;
}

/*
 * The next data region at or after off (block-aligned): [*start, *end),
 * both block-aligned or *end = size.  0, 1 when only holes remain, or -errno.
 */
static int next_data(int fd, uint64_t off, uint64_t size, uint64_t *start,
		     uint64_t *end)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA), h;

	if (d < 0 && errno == ENXIO)
		return 1;
	if (d < 0 && errno != EINVAL)
		return -errno;
	*start = d < 0 ? off : (uint64_t)d / HASH_BLOCK * HASH_BLOCK;
	if (*start < off)
		*start = off;
	h = d < 0 ? (off_t)size : lseek(fd, d, SEEK_HOLE);
	if (h < 0)
		return -errno;
	*end = ((uint64_t)h + HASH_BLOCK - 1) / HASH_BLOCK * HASH_BLOCK;
	if (*end > size)
		*end = size;
	return 0;
}

int trace_content_hash_fd(int fd, uint64_t *hash, uint64_t *size)
{
	XXH3_state_t *st = XXH3_createState();
	uint8_t *buf = malloc(HASH_CHUNK);
	uint64_t off = 0, start = 0, end = 0;
	struct stat sb;
	int err = st && buf ? 0 : -ENOMEM;

	if (!err && fstat(fd, &sb) < 0)
		err = -errno;
	if (!err) {
		*size = (uint64_t)sb.st_size;
		XXH3_64bits_reset(st);
	}
	/* Only data regions are read: a hole hashes as the zeros it reads as. */
	while (!err && off < *size &&
	       (err = next_data(fd, off, *size, &start, &end)) == 0) {
		err = hash_range(st, fd, buf, start, end);
		off = end > start ? end : *size;
	}
	if (err >= 0) {
		*hash = hash_end(st, *size);
		err = 0;
	}
	free(buf);
	XXH3_freeState(st);
	return err;
}

int trace_base_hash(int dfd, const char *name, const struct stat *st, uint64_t *len,
		    uint64_t *hash)
{
	char target[PATH_MAX];
	ssize_t n;
	int fd, err;

	*len = *hash = 0;
	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(dfd, name, target, sizeof(target));
		if (n < 0)
			return -errno;
		*len = (uint64_t)n;
		*hash = trace_content_hash(target, (uint64_t)n);
		return 0;
	}
	if (!S_ISREG(st->st_mode))
		return 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = trace_content_hash_fd(fd, hash, len);
	close(fd);
	return err;
}

/* ---- the base walk's order: a directory's names, bytewise ---- */

static int dir_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void trace_dir_names_free(char **names, size_t count)
{
	while (count)
		free(names[--count]);
	free(names);
}

int trace_dir_names(int dfd, char ***out, size_t *count)
{
	size_t n = 0, cap = 0;
	char **names = NULL, **nn;
	struct dirent *de;
	int fd, err = 0;
	DIR *dp;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dp = fdopendir(fd);
	if (!dp) {
		err = -errno;
		close(fd);
		return err;
	}
	while (!err && (errno = 0, de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				err = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		err = names[n] ? 0 : -ENOMEM;
		n += !err;
	}
	if (!err && errno)
		err = -errno;
	closedir(dp);
	if (err) {
		trace_dir_names_free(names, n);
		return err;
	}
	if (n)
		qsort(names, n, sizeof(*names), dir_name_cmp);
	*out = names;
	*count = n;
	return 0;
}
