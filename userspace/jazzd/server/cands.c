// SPDX-License-Identifier: GPL-2.0
/*
 * A device's candidates (issue 20): the addresses and ports where its
 * tunnel socket may be reached (its own, and the public mapping a STUN
 * server saw), as it sends them after its welcome and whenever they
 * change ("candidates", parsed in smsg.c). Kept on the session and put in
 * its list entry for the devices linked to it (peers.c make_entries); a
 * change marks the entry to be re-sent to its viewers by the next peer
 * computation (peers_cands_changed()), so a burst of changes costs one
 * delta. At most 1 message a second (burst 5) is taken per session.
 * With [cluster], they also go into the device's record in Redis for the
 * other servers (cluster/ writes them, server/remote.c reads them back
 * through cands_parse(), checked like a device's message).
 * Must not decide who sees whom, nor send to anyone itself.
 */
#include "server_int.h"

#define CAND_RATE	1.0	/* messages a second ... */
#define CAND_BURST	5.0	/* ... after a burst of */

static bool same(const struct jz_sm_cands *a, const struct jz_sm_cands *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->c[i].port != b->c[i].port || a->c[i].srflx != b->c[i].srflx ||
		    strcmp(a->c[i].ip, b->c[i].ip))
			return false;
	return true;
}

/* The candidates as the cluster record keeps them: the "candidates"
 * message's own form, {"cands":[...],"direct_only":b}; malloc'd. */
static char *cands_record(const struct jz_sm_cands *c)
{
	json_t *arr = json_array(), *o;
	char *out;

	for (size_t i = 0; arr && i < c->n; i++)
		json_array_append_new(arr, json_pack("{s:s,s:i,s:s}", "ip", c->c[i].ip, "port",
						     c->c[i].port, "kind",
						     c->c[i].srflx ? "srflx" : "host"));
	o = arr ? json_pack("{s:o,s:b}", "cands", arr, "direct_only", c->direct_only) : NULL;
	out = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return out;
}

int cands_parse(const char *text, struct jz_sm_cands *c, char *err, size_t errlen)
{
	json_error_t je;
	json_t *m = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, &je);
	int rc;

	if (!json_is_object(m)) {
		json_decref(m);
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	rc = jz_sm_candidates(m, c, err, errlen);
	json_decref(m);
	return rc;
}

bool tokens_take(double *tok, double *at, double rate, double burst)
{
	double now = jz_now();

	if (!*at)
		*tok = burst;
	*tok += (now - *at) * rate;
	if (*tok > burst)
		*tok = burst;
	*at = now;
	if (*tok < 1.0)
		return false;
	*tok -= 1.0;
	return true;
}

void on_candidates(struct session *s, const struct jz_sm_cands *c)
{
	if (s->state != S_ONLINE || s->remote)
		return;
	if (!tokens_take(&s->cand_tok, &s->cand_at, CAND_RATE, CAND_BURST)) {
		if (s->cand_refused++ % 100 == 0)
			jz_warn("session %s: candidates more often than %.0f a second: "
				"ignored (%u so far)", s->device, CAND_RATE, s->cand_refused);
		return;
	}
	s->direct_only = c->direct_only;
	if (s->cands && same(s->cands, c))
		return;
	if (!s->cands)
		s->cands = jz_xrealloc(NULL, 1, sizeof(*s->cands));
	*s->cands = *c;
	jz_info("session %s@%s/%s: %zu candidate(s)%s%s%s", s->user, s->realm, s->device,
		c->n, c->n ? ", first " : "", c->n ? c->c[0].ip : "",
		c->n ? (c->c[0].srflx ? " (srflx)" : " (host)") : "");
	s->cands_dirty = true;
	s->srv->cands_dirty = true;
	schedule_recompute(s->srv);
	{
		char *rec = cands_record(c);

		if (rec && strlen(rec) <= JZ_STATE_CANDS_MAX)
			jz_state_cands(s->srv->state, s->lease, s->sid, rec);
		free(rec);
	}
}

/* ,"cands":[{"ip":..,"port":..,"kind":..},...] for its linked entry, or
 * "" when it said none; malloc'd (NULL: out of memory). */
char *cands_json(const struct session *p)
{
	json_t *arr;
	char *str, *out;

	if (!p->cands || !p->cands->n)
		return strdup("");
	arr = json_array();
	for (size_t i = 0; arr && i < p->cands->n; i++)
		json_array_append_new(arr, json_pack("{s:s,s:i,s:s}", "ip", p->cands->c[i].ip,
						     "port", p->cands->c[i].port, "kind",
						     p->cands->c[i].srflx ? "srflx" : "host"));
	str = arr ? json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(arr);
	if (!str || asprintf(&out, ",\"cands\":%s", str) < 0)
		out = NULL;
	free(str);
	return out;
}
