// SPDX-License-Identifier: GPL-2.0
/* Every message a server sends a client, through the client's parsers
 * (client/cmsg.c): the input is one JSON message; each parser runs on it,
 * and the server's text goes through the escaper. */
#include <sys/socket.h>
#include "client/cmsg.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *m = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct jz_cm_auth a;
	struct jz_cm_challenge ch;
	struct jz_cm_welcome w;
	struct jz_cm_peers p;
	struct jz_cm_key k;
	struct jz_cm_key_swap sw;
	struct jz_cm_verdict v;
	struct jz_cm_pair pr;
	struct jz_cm_relay rl;
	char err[256], esc[1024], *s;

	if (!m) {
		/* the escaper on raw bytes too */
		s = strndup((const char *)data, size);
		jz_cm_escape(s, esc, sizeof(esc));
		jz_cm_escape(s, esc, 7);
		free(s);
		return 0;
	}
	if (!jz_cm_auth(m, &a, err, sizeof(err)))
		jz_cm_auth_free(&a);
	if (!jz_cm_challenge(m, &ch, err, sizeof(err)))
		for (size_t i = 0; i < ch.n; i++)
			jz_cm_escape(ch.p[i].text, esc, sizeof(esc));
	jz_cm_welcome(m, &w, err, sizeof(err));
	/* relay / relay_refused (issue 20): a peer, and an address and port
	 * or an escaped reason */
	for (int refused = 0; refused < 2; refused++)
		if (!jz_cm_relay(m, refused, &rl, err, sizeof(err)) &&
		    (!rl.peer || (!refused && (!rl.port || (rl.family != AF_INET &&
							    rl.family != AF_INET6))) ||
		     strnlen(rl.reason, sizeof(rl.reason)) == sizeof(rl.reason)))
			abort();
	/* a latch token (issue 20) is the message's 24 hex digits, byte for byte */
	if (!jz_cm_relay(m, false, &rl, err, sizeof(err)) && rl.has_token) {
		const char *t = json_string_value(json_object_get(m, "token"));
		char hx[3];

		for (size_t i = 0; i < sizeof(rl.token); i++) {
			snprintf(hx, sizeof(hx), "%02x", rl.token[i]);
			if (!t || memcmp(t + 2 * i, hx, 2))
				abort();
		}
	}
	for (int delta = 0; delta < 2; delta++)
		if (!jz_cm_peers(m, delta, 64, &p, err, sizeof(err))) {
			/* candidates (issue 20): bounded, each a family and a port */
			for (size_t i = 0; i < p.n_set; i++) {
				if (p.set[i].ncands > JZ_CM_CANDS)
					abort();
				for (size_t j = 0; j < p.set[i].ncands; j++)
					if (!p.set[i].cands[j].port ||
					    (p.set[i].cands[j].family != AF_INET &&
					     p.set[i].cands[j].family != AF_INET6))
						abort();
			}
			jz_cm_peers_free(&p);
		}
	jz_cm_key(m, &k, err, sizeof(err));
	jz_cm_key_swap(m, &sw, err, sizeof(err));
	jz_cm_verdict(m, &v, err, sizeof(err));
	jz_cm_pair(m, false, &pr, err, sizeof(err));
	jz_cm_pair(m, true, &pr, err, sizeof(err));
	json_decref(m);
	return 0;
}
