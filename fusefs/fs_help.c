/*
 * fs_help.c - what `faultline-fs --help` and faultline-fs(8) say (help.h
 * renders it).
 */
#include "fs_help.h"

static const struct help_opt opts[] = {
	{"--trace FILE", "Append the records to FILE (created; a trace's records file)."},
	{"--real-fsync",
	 "Perform fsync, fdatasync and fsyncdir on the backing files too.  By default "
	 "barriers are recorded, not performed: the backing directory is scratch."},
	{"--ready-fd N",
	 "Write one byte to file descriptor N once the mount is up (how faultline record "
	 "waits for it)."},
	{"--allow-other", "Let other users enter the mount (FUSE allow_other)."},
	{"--end-mark TEXT",
	 "Once serving ends (an unmount, a signal, or an aborted connection), append a last mark "
	 "TEXT after every other record: the crash point of faultline mount."},
	{"--trigger-fd N",
	 "Where a crash trigger armed through the control file says it fired (one byte; "
	 "faultline crash --when): faultline mount's pipe."},
	{"--calls-log FILE",
	 "Join each request to the system call that made it (the kernel's sample of the call's "
	 "entry, which faultline record --calls asks for, or what /proc/TID/syscall says while "
	 "the caller waits; with its site unwound from its stack) and append those calls to "
	 "FILE (created, emptied), the calls log of faultline record --calls, which stops the "
	 "calls that make no request of their own.  Also captures the pages of the shared "
	 "mappings faultline record --calls tells it of, at each call boundary."},
	{"-d", "FUSE debug output on stderr."},
	{NULL, NULL},
};

static const struct help_cmd cmds[] = {
	{NULL, "--trace FILE [--real-fsync] [--ready-fd N] [--allow-other]\n"
	       "    [--end-mark TEXT] [--trigger-fd N] [--calls-log FILE] [-d]\n"
	       "    BACKING MOUNTPOINT",
	 "Mounts a passthrough view of BACKING at MOUNTPOINT and appends every mutating "
	 "operation made through it (writes with their bytes, fsync, fdatasync, fsyncdir, "
	 "truncate, fallocate, create, link, rename, unlink, attribute and xattr changes), "
	 "failed ones included, to FILE.  Before mounting it records the backing tree as the "
	 "trace's base.  Lines written to MOUNTPOINT/.faultline-ctl, a file that exists only "
	 "in the mount, become marks.  It is started by faultline record, which is how it is "
	 "meant to be used.",
	 opts},
	{NULL, NULL, NULL, NULL},
};

static const struct help_section sections[] = {
	{"DURABILITY OF THE TRACE",
	 "Records reach FILE in the background, but a barrier, a mark or a synchronous write "
	 "is answered only once it and every record before it are in the file (and fsynced, "
	 "with --real-fsync).  A recorder killed at any instant loses nothing the program was "
	 "told is durable; it may lose a tail of records after the last such answer."},
	{"LIMITS",
	 "sync() and syncfs() never reach a FUSE file system, and sync_file_range is not a "
	 "barrier, so none is recorded.  Writes through a shared mapping arrive when the kernel "
	 "writes the pages back (at msync or later).  Writeback caching stays off, so writes "
	 "arrive in the order the program made them."},
	{"EXIT STATUS",
	 "0 after an unmount, or SIGTERM, SIGINT or SIGHUP, with the trace closed cleanly.\n"
	 "2 bad usage.\n"
	 "3 setup failed before the mount was up, or the trace could not be completed (one line "
	 "on stderr says why)."},
	{NULL, NULL},
};

const struct help_page help_fs = {
	.program = "faultline-fs",
	.man_section = 8,
	.summary = "the FUSE recorder of faultline",
	.cmds = cmds,
	.sections = sections,
	.see_also = "faultline(1)",
};
