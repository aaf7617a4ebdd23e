/*
 * engine.h - what every bundled engine shares: CRC32C, acknowledging a
 * commit to faultline (a mark), and reading back which commits were
 * acknowledged before a crash (the checker's side of the contract).
 *
 * Header-only (static functions), so each engine stays one program that
 * can be read, copied and built on its own: cc -o walkv walkv.c.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CRC32C (Castagnoli), bitwise table, no hardware needed. */
static inline uint32_t crc32c(const void *buf, size_t n)
{
	static uint32_t table[256];
	const uint8_t *p = buf;
	uint32_t c = ~0u;
	size_t i;

	if (!table[1])
		for (i = 0; i < 256; i++) {
			uint32_t x = (uint32_t)i;
			int k;

			for (k = 0; k < 8; k++)
				x = x & 1 ? (x >> 1) ^ 0x82f63b78u : x >> 1;
			table[i] = x;
		}
	while (n--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* Prints "ENGINE: what: strerror" and exits 2 (the engine itself failed). */
static inline void engine_die(const char *engine, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", engine, what, strerror(errno));
	exit(2);
}

/*
 * Acknowledges commit i to faultline: one line on the control file at the
 * mount's root.  Call it only once the commit is durable by the engine's
 * own rules.  Without $FAULTLINE_MNT (not recording) it does nothing.
 */
static inline void engine_mark(uint32_t i)
{
	const char *mnt = getenv("FAULTLINE_MNT");
	char path[4096], line[32];
	int fd, n;

	if (!mnt)
		return;
	snprintf(path, sizeof(path), "%s/.faultline-ctl", mnt);
	n = snprintf(line, sizeof(line), "commit %u\n", i);
	if ((fd = open(path, O_WRONLY)) < 0 || write(fd, line, (size_t)n) != n)
		engine_die("engine", "mark");
	close(fd);
}

/* The highest commit acknowledged before the crash ($FAULTLINE_MARKS), 0 if none. */
static inline uint32_t engine_acknowledged(void)
{
	const char *path = getenv("FAULTLINE_MARKS");
	FILE *f = path ? fopen(path, "r") : NULL;
	unsigned v, top = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "commit %u", &v) == 1 && v > top)
			top = v;
	if (f)
		fclose(f);
	return top;
}

#endif
