/*
 * fuzz_trace.c - libFuzzer target: the trace reader on arbitrary bytes.
 *
 * The input is a records file.  Every record the reader accepts is fed to
 * the namespace replayer and decoded fields are touched, so a reader that
 * accepts something its users cannot handle shows up here too.  Build and
 * run: tests/fuzz_smoke.sh (a short fixed run in make check), or by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_trace.c src/trace.c src/names.c src/fl_error.c -lxxhash
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "names.h"
#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_reader *r;
	struct trace_rec rec;
	struct names *nm = names_new();
	char path[64], buf[512];
	int fd = memfd_create("trace", 0);
	volatile uint64_t sink = 0;

	if (fd < 0 || !nm || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (trace_reader_open(path, &r, buf, sizeof(buf)) == 0) {
		while (trace_next(r, &rec) == 1) {
			names_apply(nm, &rec);
			names_path(nm, rec.id, buf, sizeof(buf));
			if (rec.data_len)
				sink += ((const uint8_t *)rec.data)[rec.data_len - 1];
			if (rec.name_len)
				sink += (uint8_t)rec.name[rec.name_len - 1];
		}
		trace_reader_close(r);
	}
	names_free(nm);
	close(fd);
	return 0;
}
