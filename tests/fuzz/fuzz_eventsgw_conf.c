// SPDX-License-Identifier: GPL-2.0
/* eventsgw.conf (events/eventsgw.c): load, then match a few channels. */
#include "events/eventsgw.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *chans[] = { "module/jazz1/event/user-logged-in", "", "*", "a/b" };
	struct jz_eventsgw gw = { 0 };
	char err[512];

	if (jz_eventsgw_load(fuzz_as_file(data, size), &gw, err, sizeof(err)))
		return 0;
	for (size_t i = 0; i < sizeof(chans) / sizeof(chans[0]); i++)
		for (int at = jz_eventsgw_match(&gw, 0, chans[i]); at >= 0;
		     at = jz_eventsgw_match(&gw, (size_t)at + 1, chans[i]))
			;
	jz_eventsgw_free(&gw);
	return 0;
}
