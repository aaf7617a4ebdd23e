/*
 * crash_cmd.c - `faultline crash`: the client of the supervisor that
 * `faultline mount` runs (mount_cmd.c, which says what a crash does).
 *
 *   faultline crash DIR... [--seed S] [--how lose-unsynced|model|torn]
 *                   [--kill] [--when fsync:GLOB|writes:N:GLOB] [--timeout SEC]
 *
 * One request per DIR, on the abstract socket mount_addr() names: "crash
 * HOW SEED KILL WHEN SECS".  Every request is sent before any answer is
 * read, so several mounts lose power together.  The answer is "armed"
 * first with --when, then "ok ID EPOCH_DIR KILLED" or "error REASON".
 *
 * Exit: 0 crashed and serving again; 2 bad usage; 3 a DIR is not served
 * by faultline mount, or its crash failed (one line says why).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "crash.h"
#include "mount_i.h"

#define CRASH_TIMEOUT_S 600 /* the wait for an answer, past --when's own */

/* Everything the peer sends until it closes, as a string (malloc'ed), or NULL.
 */
static char *recv_all(int s)
{
	size_t n = 0, cap = 4096;
	char *buf = malloc(cap), *v;
	ssize_t got;

	while (buf && (got = recv(s, buf + n, cap - n - 1, 0)) > 0) {
		n += (size_t)got;
		if (n + 1 < cap)
			continue;
		if (!(v = realloc(buf, cap * 2))) {
			free(buf);
			return NULL;
		}
		buf = v;
		cap *= 2;
	}
	if (!buf || !n) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* Sends the crash request to the mount at real path mnt; the connected
 * socket, or -1 when no faultline mount serves it. */
static int crash_ask(const char *mnt, const char *req, unsigned wait_s)
{
	struct timeval tv = {CRASH_TIMEOUT_S + wait_s, 0};
	struct sockaddr_un a;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&a, mount_addr(mnt, &a)) < 0) {
		close(s);
		return -1;
	}
	if (send(s, req, strlen(req), MSG_NOSIGNAL) < 0)
		shutdown(s, SHUT_WR); /* the answer, if any, says why */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* Reads mount mnt's answer on s and says it.  0, or -1 (said why). */
static int crash_told(const char *mnt, int s, enum crash_how how,
		      unsigned long long seed)
{
	char *reply, *id, *dir, *sp, armed[7];
	int killed;

	/* --when: "armed" first, as soon as the window is watched (a harness
	 * waits for it before it drives the program into the window). */
	if (recv(s, armed, 6, MSG_PEEK | MSG_WAITALL) == 6 &&
	    !memcmp(armed, "armed\n", 6) &&
	    recv(s, armed, 6, MSG_WAITALL) == 6) {
		printf("faultline: crash: %s: armed\n", mnt);
		fflush(stdout);
	}
	reply = recv_all(s);

	/* "ok ID EPOCH_DIR KILLED" */
	if (!reply || strncmp(reply, "ok ", 3) ||
	    !(sp = strchr(id = reply + 3, ' ')) || (*sp = 0, !(dir = sp + 1)) ||
	    !(sp = strrchr(dir, ' '))) {
		if (reply)
			reply[strcspn(reply, "\n")] = 0;
		cli_err("crash", "%s: %s", mnt,
			!reply ? "no answer from faultline mount"
			: strncmp(reply, "error ", 6) ? reply
						      : reply + 6);
		free(reply);
		return -1;
	}
	*sp = 0;
	killed = atoi(sp + 1);
	printf("faultline: crash: %s crashed (%s, seed %llu, %d killed): state "
	       "%s\n",
	       mnt, crash_how_name(how), seed, killed, id);
	printf("faultline: crash: replay with: faultline replay %s %s\n", dir,
	       id);
	free(reply);
	return 0;
}

int cmd_crash(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"seed", required_argument, NULL, 's'},
	    {"how", required_argument, NULL, 'H'},
	    {"kill", no_argument, NULL, 'k'},
	    {"when", required_argument, NULL, 'w'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned long long seed =
	    (unsigned long long)time(NULL) ^ (unsigned long long)getpid();
	enum crash_how how = CRASH_LOSE_UNSYNCED;
	char req[PATH_MAX + 128], (*mnt)[PATH_MAX];
	const char *when = "-";
	unsigned long secs = 600;
	bool kill_flag = false;
	int c, i, n, *s, rc = FL_EXIT_OK;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 's' &&
		    (seed = strtoull(optarg, &end, 0), *optarg && !*end))
			continue;
		if (c == 'H' && crash_how_parse(optarg, &how) == 0)
			continue;
		if (c == 'k') {
			kill_flag = true;
			continue;
		}
		if (c == 'w' && *optarg && strlen(optarg) < PATH_MAX &&
		    !strpbrk(optarg, " \t\n") && (when = optarg))
			continue;
		if (c == 't' && (secs = strtoul(optarg, &end, 10)) > 0 &&
		    !*end && secs < 86400 * 365)
			continue;
		cli_help("crash", c == 'h' ? stdout : stderr);
		return c == 'h' ? FL_EXIT_OK : FL_EXIT_USAGE;
	}
	if ((n = argc - optind) < 1) {
		cli_help("crash", stderr);
		return FL_EXIT_USAGE;
	}
	if (n > 1 && strcmp(when, "-")) {
		cli_err("crash",
			"--when aims at one mount's window: give one DIR");
		return FL_EXIT_USAGE;
	}
	if (!(mnt = calloc((size_t)n, sizeof(*mnt))) ||
	    !(s = calloc((size_t)n, sizeof(*s)))) {
		free(mnt);
		return FL_EXIT_ENV;
	}
	for (i = 0; i < n && rc == FL_EXIT_OK; i++)
		if (!realpath(argv[optind + i], mnt[i])) {
			cli_err("crash", "%s: %s", argv[optind + i],
				strerror(errno));
			rc = FL_EXIT_USAGE;
		}
	/* Every mount is asked before any answer is awaited: they lose power
	 * together, each cutting its connection as soon as it reads this. */
	snprintf(req, sizeof(req), "crash %s %llu %d %s %lu\n",
		 crash_how_name(how), seed, kill_flag, when, secs);
	for (i = 0; i < n && rc == FL_EXIT_OK; i++)
		if ((s[i] = crash_ask(mnt[i], req, (unsigned)secs)) < 0) {
			cli_err("crash", "%s is not served by faultline mount",
				mnt[i]);
			rc = FL_EXIT_ENV;
		}
	for (i = 0; i < n;
	     i++) /* a mount asked has crashed: say how, whatever else failed */
		if (s[i] > 0) {
			if (crash_told(mnt[i], s[i], how, seed) < 0)
				rc = FL_EXIT_ENV;
			close(s[i]);
		}
	free(mnt);
	free(s);
	return rc;
}
