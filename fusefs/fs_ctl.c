/*
 * fs_ctl.c - faultline-fs's control file ".faultline-ctl": a virtual
 * regular file at the root of the mount, never in the backing directory.
 * What is written to it is recorded, not stored:
 *   - each non-empty line: a MARK record of its text;
 *   - "\001syncfs PID": a SYNCFS record for PID (record --calls saw a
 *     sync() or syncfs() on this mount return);
 *   - "\001page TID OFF LEN PATH" and a newline, then LEN bytes, in one
 *     write: a page of a shared mapping record --calls captured at a call
 *     boundary of TID, recorded as a WRITE flagged TRACE_WF_EARLY (a
 *     write-back that may happen from here on);
 *   - "\001arm ...", "\001disarm" and "\001crash ...": faultline
 *     mount's crash trigger, and a crash asked from inside (fs_trigger.c);
 *   - "\001fold ...": faultline mount moving the trace to a folded one
 *     (fs_fold.c).
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calls.h"
#include "fs_req.h"
#include "trace.h"

void fs_ctl_entry(struct fs *fs, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = (uintptr_t)&fs->ctl;
	e->attr = fs->ctl_attr;
	e->attr_timeout = 0; /* always size 0, whatever the kernel saw written */
	e->entry_timeout = FS_TIMEOUT;
}

void fs_ctl_open(struct fuse_file_info *fi)
{
	fi->fh = FS_CTL_FH;
	fi->direct_io = 1; /* every write reaches us, none is cached */
}

/*
 * A line "\001syncfs PID" (calls.h: record --calls saw PID's sync() or
 * syncfs() on this mount return) is a SYNCFS record for PID; false when
 * the line is not one.
 */
static bool fs_ctl_syncfs(struct fs *fs, fuse_req_t req, const char *p, size_t n)
{
	size_t k = sizeof(CALLS_CTL_SYNCFS) - 1;
	char num[16];
	struct trace_rec r;
	char *end;
	long pid;

	if (n <= k + 1 || n - k - 1 >= sizeof(num) || memcmp(p, CALLS_CTL_SYNCFS " ", k + 1))
		return false;
	memcpy(num, p + k + 1, n - k - 1);
	num[n - k - 1] = 0;
	pid = strtol(num, &end, 10);
	if (*end || pid <= 0)
		return false;
	rec_start(&r, TRACE_OP_SYNCFS, req);
	r.pid = (uint32_t)pid;
	rec_append(fs, &r, 0);
	return true;
}

/*
 * A write "\001page TID OFF LEN PATH\n" + LEN bytes (calls.h: record
 * --calls captured a changed page of a shared mapping of PATH, at TID's
 * call) is a WRITE record TRACE_WF_EARLY of those bytes, kept to the
 * file's size; the backing file is not written.  False when buf is not
 * one; true (and nothing recorded) for one whose file is gone or not
 * known, or whose offset is past its end.
 */
static bool fs_ctl_page(struct fs *fs, const char *buf, size_t size)
{
	size_t k = sizeof(CALLS_CTL_PAGE) - 1;
	char head[PATH_MAX + 80], path[PATH_MAX];
	unsigned long long off;
	unsigned tid, len;
	const char *nl;
	struct trace_rec r;
	struct stat st;
	uint64_t id;
	int used = 0;

	if (size <= k + 1 || memcmp(buf, CALLS_CTL_PAGE " ", k + 1) ||
	    !(nl = memchr(buf, '\n', size < sizeof(head) ? size : sizeof(head) - 1)))
		return false;
	memcpy(head, buf, (size_t)(nl - buf));
	head[nl - buf] = 0;
	if (sscanf(head + k + 1, "%u %llu %u %n", &tid, &off, &len, &used) != 3 || !used ||
	    (size_t)(nl + 1 - buf) + len != size)
		return false;
	snprintf(path, sizeof(path), "%s", head + k + 1 + used);
	if (!path[0] || fstatat(fs->root.fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || !(id = fs_id_of(fs, &st)) || off >= (uint64_t)st.st_size)
		return true;
	if (off + len > (uint64_t)st.st_size)
		len = (unsigned)((uint64_t)st.st_size - off);
	rec_start(&r, TRACE_OP_WRITE, NULL);
	r.id = id;
	r.pid = tid;
	r.off = off;
	r.len = len;
	r.flags = TRACE_WF_WRITEPAGE | TRACE_WF_EARLY;
	r.data = nl + 1;
	r.data_len = len;
	rec_append(fs, &r, (int)len);
	return true;
}

/* Each non-empty line of buf (without its '\n') becomes one MARK record,
 * but for a SYNCFS line of record --calls; a captured page is one WRITE. */
void fs_ctl_write(struct fs *fs, fuse_req_t req, const char *buf, size_t size)
{
	const char *p = buf, *end = buf + size, *nl;
	struct trace_rec r;
	int err = 0, t;

	if (fs_ctl_page(fs, buf, size)) {
		fuse_reply_write(req, size);
		return;
	}

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (nl == p || fs_ctl_syncfs(fs, req, p, (size_t)(nl - p)))
			continue;
		if ((t = fs_trig_crash(fs, req, p, (size_t)(nl - p))) == 1)
			return; /* the power is cut: req failed, the rest is moot */
		if (t != 0 || (t = fs_trig_ctl(fs, p, (size_t)(nl - p))) != 0 ||
		    (t = fs_fold_ctl(fs, p, (size_t)(nl - p))) != 0) {
			err = t < 0 ? t : err;
			continue;
		}
		rec_start(&r, TRACE_OP_MARK, req);
		r.name = p;
		r.name_len = (uint32_t)(nl - p);
		if (rec_append(fs, &r, 0) < 0)
			err = -EIO; /* a mark the trace does not hold acknowledges nothing */
	}
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, size);
}
