// SPDX-License-Identifier: GPL-2.0
/* The control channel's frame reader (core/proto.c jz_frame_read), as both
 * ends run it: any bytes in a bufferevent's input, read frame by frame. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "core/proto.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	static struct bufferevent *bev;	/* one for all inputs, emptied each time */
	struct evbuffer *in;
	char err[256];
	json_t *m;
	int r;

	if (!base) {
		fuzz_quiet();
		base = event_base_new();
		bev = bufferevent_socket_new(base, -1, 0);
		/* a socket bufferevent's input only takes what libevent reads */
		evbuffer_unfreeze(bufferevent_get_input(bev), 0);
	}
	in = bufferevent_get_input(bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add(in, data, size);
	while ((r = jz_frame_read(bev, 65536, &m, err, sizeof(err))) > 0) {
		(void)jz_msg_type(m);
		json_decref(m);
	}
	return 0;
}
