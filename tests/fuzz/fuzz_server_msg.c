// SPDX-License-Identifier: GPL-2.0
/* Every message a client sends a server, through the server's parsers
 * (server/smsg.c): the input is one JSON message; each parser runs on it,
 * and the answers it carries are merged twice into a login's answers (as
 * a login and an answer round would), whose invariants are checked. */
#include <arpa/inet.h>
#include "server/smsg.h"
#include "fuzz.h"

/* @merged: a login's answers, where each code is there once */
static void check_data(const struct jz_sm_data *d, bool merged)
{
	if (d->n > JZ_SM_ITEMS)
		abort();
	for (size_t i = 0; i < d->n; i++) {
		if (!d->it[i].code[0] || !d->it[i].value ||
		    strlen(d->it[i].value) > JZ_SM_VALUE_MAX)
			abort();
		for (size_t j = 0; merged && j < i; j++)
			if (!strcmp(d->it[i].code, d->it[j].code))
				abort();	/* a code answered twice */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *m = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct jz_sm_data acc = { 0 }, d;
	struct jz_sm_login l;
	struct jz_sm_conn_req r;
	struct jz_sm_conn_expired e;
	struct jz_sm_key_ack k;
	struct jz_sm_pair pr;
	struct jz_sm_cands cd;
	uint32_t rpeer;
	struct jz_sm_path ph;
	uint64_t vid;
	char err[256];

	if (!m)
		return 0;
	if (!jz_sm_login(m, &l, err, sizeof(err))) {
		if (!l.token || !l.token_len || strlen(l.device) >= JZ_SM_DEV ||
		    (l.has_pub && l.pub_bad))
			abort();
		check_data(&l.data, false);
		jz_sm_data_merge(&acc, &l.data);
		check_data(&acc, true);
		jz_sm_login_free(&l);
	}
	for (int round = 0; round < 2; round++) {
		if (!jz_sm_answer(m, &d, err, sizeof(err))) {
			check_data(&d, false);
			jz_sm_data_merge(&acc, &d);
			check_data(&acc, true);
			if (d.n)
				abort();	/* merge empties its source */
		}
	}
	jz_sm_data_free(&acc);
	if (!jz_sm_conn_request(m, &r, err, sizeof(err)) &&
	    (r.proto < 0 || r.proto > 255 || !r.pname[0] || !r.src[0] || !r.dst[0] ||
	     r.cookie < 0))
		abort();
	if (!jz_sm_conn_expired(m, &e, err, sizeof(err)) && (e.end < 0 || e.end > 255 || !e.reason))
		abort();
	jz_sm_key_ack(m, &k, err, sizeof(err));
	if (!jz_sm_verdict_ack(m, &vid, err, sizeof(err)) && !vid)
		abort();
	if (!jz_sm_pair(m, &pr, err, sizeof(err)) &&
	    (pr.peer < 1 || pr.peer > UINT32_MAX || !pr.msg[0]))
		abort();
	/* candidates (issue 20): at most 8, each a canonical address a peer
	 * can reach and a port */
	if (!jz_sm_candidates(m, &cd, err, sizeof(err))) {
		if (cd.n > JZ_SM_CANDS)
			abort();
		for (size_t i = 0; i < cd.n; i++) {
			unsigned char b[16];

			if (!cd.c[i].port || (inet_pton(AF_INET, cd.c[i].ip, b) != 1 &&
					      inet_pton(AF_INET6, cd.c[i].ip, b) != 1) ||
			    !strcmp(cd.c[i].ip, "127.0.0.1") || !strcmp(cd.c[i].ip, "::"))
				abort();
		}
	}
	if (!jz_sm_relay_request(m, &rpeer, err, sizeof(err)) && !rpeer)
		abort();
	/* path reports (issue 20): a peer, relayed iff via the relay, a
	 * printable reason that fits jazz.ko's record */
	if (!jz_sm_path(m, &ph, err, sizeof(err))) {
		size_t rl = strlen(ph.reason);

		if (!ph.peer || ph.relayed != (ph.how == JZ_PH_RELAY) || !rl ||
		    rl > JZ_SM_PATH_REASON)
			abort();
		for (size_t i = 0; i < rl; i++)
			if (ph.reason[i] < 0x20 || ph.reason[i] > 0x7e)
				abort();
	}
	json_decref(m);
	return 0;
}
