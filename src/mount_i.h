/*
 * mount_i.h - the parts of `faultline mount` (mount_cmd.c) in files of
 * their own.
 */
#ifndef FL_MOUNT_I_H
#define FL_MOUNT_I_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "model.h"
#include "ops.h"

struct mount_opts {
	const char *mnt, *backing, *trace; /* as given */
	const char *model;		   /* --model, default posix */
	const char *pid_file;		   /* --pid-file, or NULL */
	unsigned keep;	  /* --trace-keep N: epochs kept, 0 for all */
	uint64_t fold_size; /* --fold-size: fold an epoch whose records pass it, 0 never */
	bool daemon;	  /* --daemon */
	bool allow_other; /* --allow-other */
};

struct mount_run {
	char mnt[PATH_MAX], backing[PATH_MAX], trace[PATH_MAX]; /* real paths */
	char epoch_dir[PATH_MAX + 32]; /* TRACE/epoch-N */
	const struct model *m;
	unsigned epoch;	  /* the epoch being recorded, from 1 */
	pid_t fs_pid;	  /* faultline-fs, 0 when not running */
	int fs_status;	  /* its wait status once it ended */
	int sock;	  /* the listening socket */
	int trig;	  /* the epoch's trigger pipe (read end), or -1 */
	int sigfd;	  /* SIGINT, SIGTERM, SIGHUP, SIGCHLD */
	sigset_t oldmask; /* the mask children get back */
	bool allow_other;
	unsigned keep; /* --trace-keep, 0 for every epoch */
	int64_t start_ns; /* wall clock as the epoch's faultline-fs starts: what the
			     records' times count from (a create's mtime in a state) */
	uint64_t fold_size; /* --fold-size, 0 never */
	uint64_t fold_at;   /* records' size at which the next fold is tried */
	unsigned *crashed;  /* the epochs crashed, in order (--trace-keep) */
	size_t ncrashed;
};

/* Writes run's epoch's meta.json (mount_cmd.c); sealed: with the records'
 * digest.  0 or -errno. */
int mount_epoch_meta(const struct mount_run *run, const char *status, bool sealed);

/* Writes one line to the mount's control file (mount_cmd.c: faultline-fs
 * reads it there).  0 or -errno (EALREADY: a disarm after the trigger
 * fired). */
int mount_ctl_line(const struct mount_run *run, const char *line);

/*
 * Folds the epoch being recorded when its records have passed
 * run->fold_at (mount_fold.c): its settled history goes into a new base,
 * recording goes on as epoch N+1, and epoch N goes.  Nothing to do, or
 * a fold that did not happen (said on stderr), leaves everything as it
 * was.  Never fails the mount.
 */
void mount_fold(struct mount_run *run);

/*
 * Makes the backing directory hold exactly the tree at state, the crash
 * state of the epoch whose trace is t (mount_backing.c): files the epoch
 * left alone are kept, the rest copied.  *copied gets the bytes copied.
 * 0, or -errno with the backing directory as it was.
 */
int mount_backing_replace(const char *backing, const struct ops_trace *t,
			  const char *state, uint64_t *copied);

/* The abstract socket address of the mount served at real path mnt
 * (mount_cmd.c): "faultline-mount-" and a hash of the path.  Its length. */
socklen_t mount_addr(const char *mnt, struct sockaddr_un *a);

#endif
