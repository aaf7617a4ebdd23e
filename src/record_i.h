/*
 * record_i.h - the parts of `faultline record` (record.c) that `faultline
 * mount` (mount_cmd.c) runs too: trees, faultline-fs, unmounting.
 */
#ifndef FL_RECORD_I_H
#define FL_RECORD_I_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Removes a tree without following symlinks; returns 0 or -errno. */
int rm_tree(const char *path);

/* Runs argv (or "sh -c cmd" when argv is NULL) in dir, signals as mask
 * says, and waits.  Returns its wait status, or -errno if it did not start. */
int run_wait(const char *dir, char *const argv[], const char *cmd,
	     const sigset_t *mask);

/* Copies the contents of src into the existing directory dst (cp -a,
 * reflinks where the file system has them).  0 or -EIO. */
int copy_tree(const char *src, const char *dst, const sigset_t *mask);

/* dir/name holds text, written temp -> fsync -> rename -> fsync dir.  0 or
 * -errno. */
int write_file_durably(const char *dir, const char *name, const char *text);

/* faultline-fs's path: $FAULTLINE_FS, beside this program, the build tree,
 * PATH. */
void find_fs(char *buf, size_t len);

/* One unmount of mnt (lazy: detached); 0 or -errno. */
int unmount_once(const char *mnt, bool lazy, const sigset_t *mask);

/* Is mnt a mount point right now (per /proc/self/mountinfo)? */
bool is_mounted(const char *mnt);

#endif
