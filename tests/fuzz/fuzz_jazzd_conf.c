// SPDX-License-Identifier: GPL-2.0
/* jazzd.conf (core/config.c with the [redis]/[events] part, inih). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct jz_config c;
	char err[512];

	if (!init) {
		fuzz_quiet();
		init = true;
	}
	jz_config_load(fuzz_as_file(data, size), &c, err, sizeof(err));
	jz_config_free(&c);
	return 0;
}
