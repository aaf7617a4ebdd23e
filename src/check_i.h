/*
 * check_i.h - what check.c shares with check_server.c (private).
 *
 * check.c owns the public runner (check.h); a runner made by
 * check_runner_new_server() hands every call to the check_srv_* functions
 * below, which live in check_server.c.
 */
#ifndef FL_CHECK_I_H
#define FL_CHECK_I_H

#include <spawn.h>
#include <stddef.h>
#include <sys/types.h>

#include "check.h"

struct check_srv;

/* From check.c: the spawn attributes every checker shares (new process
 * group, empty mask, default dispositions).  0 or -errno. */
int check_attr_init(posix_spawnattr_t *attr);

/* From check.c: adds to fa the closing of every descriptor >= 3 the child
 * must not inherit.  0 or -errno. */
int check_fa_close_rest(posix_spawn_file_actions_t *fa);

/* From check.c: a pidfd for pid, or -1 where the kernel has none. */
int check_pidfd_open(pid_t pid);

/* From check.c: CLOCK_MONOTONIC seconds. */
double check_now(void);

/* check_server.c: the same contracts as check_runner_new(), check_start(),
 * check_running(), check_wait() and check_runner_free() in check.h. */
int check_srv_new(const char *cmd, unsigned jobs, double timeout_s,
		  size_t max_output, struct check_srv **out);
int check_srv_start(struct check_srv *s, const char *dir, const char *id,
		    const char *marks_file, void *token);
unsigned check_srv_running(const struct check_srv *s);
int check_srv_wait(struct check_srv *s, void **token, struct check_result *res);
void check_srv_free(struct check_srv *s);

#endif
