/*
 * fs_ctl.c - faultline-fs's control file ".faultline-ctl": a virtual
 * regular file at the root of the mount, never in the backing directory.
 * What is written to it is recorded, not stored:
 *   - each non-empty line: a MARK record of its text;
 *   - "\001syncfs PID": a SYNCFS record for PID (record --calls saw a
 *     sync() or syncfs() on this mount return);
 *   - "\001map ...", "\001capture ...", "\001unmap ..." and "\001forget
 *     ...": record --calls telling of the workload's shared mappings, and
 *     asking for their changed pages at a call boundary (fs_calls.c);
 *   - "\001arm ...", "\001disarm" and "\001crash ...": faultline
 *     mount's crash trigger, and a crash asked from inside (fs_trigger.c);
 *   - "\001fold ...": faultline mount moving the trace to a folded one
 *     (fs_fold.c).
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Each non-empty line of buf (without its '\n') becomes one MARK record,
 * but for the control lines of record --calls and faultline mount. */
void fs_ctl_write(struct fs *fs, fuse_req_t req, const char *buf, size_t size)
{
	const char *p = buf, *end = buf + size, *nl;
	struct trace_rec r;
	int err = 0, t;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (nl == p || fs_ctl_syncfs(fs, req, p, (size_t)(nl - p)))
			continue;
		if ((t = fs_trig_crash(fs, req, p, (size_t)(nl - p))) == 1)
			return; /* the power is cut: req failed, the rest is moot */
		if (t != 0 || (t = fs_trig_ctl(fs, p, (size_t)(nl - p))) != 0 ||
		    (t = fs_calls_ctl(fs, req, p, (size_t)(nl - p))) != 0 ||
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
