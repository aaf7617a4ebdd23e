/*
 * fuzz_scenario.c - libFuzzer target: the scenario parser on arbitrary
 * bytes.  A scenario is user input; every file must load or be refused
 * with a reason, never crash.  Run by tests/fuzz_smoke.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct scenario s;
	char err[512];
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz-scenario-%d.ini", (int)getpid());
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (scenario_load(path, &s, err, sizeof(err)) != 0 && !err[0])
		abort(); /* a refusal must say why */
	scenario_free(&s);
	return 0;
}
