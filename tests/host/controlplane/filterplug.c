// SPDX-License-Identifier: GPL-2.0
/*
 * filterplug: a test plugin for tests/host/controlplane-peers.sh.
 *
 *   user_key       the password of user U is "Upw"
 *   peer_filter    rules are read from the file $JZT_RULES on every call,
 *                  one per line: "dev VIEWER DEVICE" hides that device
 *                  from the viewer (a user name), "user VIEWER USER" hides
 *                  every device of USER from the viewer. Each call is
 *                  logged: "filter VIEWER peers=N users=M: dev1 dev2 ...".
 *                  Built with -DFILTERPLUG_MANY it exports peer_filter_many
 *                  instead (jazz/events.h 4b): the same rules and, for
 *                  each viewer, the same line as the seed's review would
 *                  log (its own device and a user owning only that left
 *                  out), after "filter_many viewers=V peers=N users=M"
 *                  per call.
 *   validate_user  for the user named in $JZT_PROMPT: two prompts, "pin"
 *                  (secret, "PIN") and "color" (not secret, "Favourite
 *                  colour"); accepted when pin=2468 and color=blue, asked
 *                  again after a wrong answer, rejected after three.
 *                  Every other user is accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jazz/events.h>

const int jazz_events_abi = JAZZ_EVENTS_ABI_VERSION;
const int jazz_events_concurrent = 1;

static const struct jazz_host_api *host;

int jazz_events_init(const struct jazz_host_api *api)
{
	host = api;
	return 0;
}

int user_key(const struct jazz_user_key_request *req, struct jazz_user_key_reply *reply)
{
	reply->kind = JAZZ_USER_KEY_PASSWORD;
	snprintf(reply->password, sizeof(reply->password), "%spw", req->username);
	return JAZZ_CB_OK;
}

static const char *item(const struct jazz_validate_request *req, const char *code)
{
	for (size_t i = 0; i < req->n_other_data; i++)
		if (!strcmp(req->other_data[i].code, code))
			return req->other_data[i].value;
	return NULL;
}

int validate_user(const struct jazz_validate_request *req, struct jazz_validate_reply *reply)
{
	const char *who = getenv("JZT_PROMPT"), *pin, *color;

	if (!who || strcmp(who, req->username)) {
		reply->status = JAZZ_VALIDATE_USER_STATUS_ACCEPTED;
		return JAZZ_CB_OK;
	}
	pin = item(req, "pin");
	color = item(req, "color");
	host->log(JAZZ_LOG_INFO, "validate_user %s round %u: pin %s, color %s",
		  req->username, req->round, pin ? (strcmp(pin, "2468") ? "wrong" : "right")
		  : "none", color ? color : "none");
	if (pin && color && !strcmp(pin, "2468") && !strcmp(color, "blue")) {
		reply->status = JAZZ_VALIDATE_USER_STATUS_ACCEPTED;
		return JAZZ_CB_OK;
	}
	if (req->round >= 2) {
		reply->status = JAZZ_VALIDATE_USER_STATUS_REJECTED;
		snprintf(reply->message, sizeof(reply->message), "wrong PIN or colour");
		return JAZZ_CB_OK;
	}
	reply->status = JAZZ_VALIDATE_USER_STATUS_MORE_DATA;
	reply->n_prompts = 2;
	snprintf(reply->prompts[0].code, JAZZ_CODE_MAX, "pin");
	snprintf(reply->prompts[0].text, JAZZ_TEXT_MAX, "PIN");
	reply->prompts[0].secret = 1;
	snprintf(reply->prompts[1].code, JAZZ_CODE_MAX, "color");
	snprintf(reply->prompts[1].text, JAZZ_TEXT_MAX, "Favourite colour");
	reply->prompts[1].secret = 0;
	if (req->round > 0)
		snprintf(reply->message, sizeof(reply->message), "wrong, try again");
	return JAZZ_CB_OK;
}

/* Is "KIND VIEWER NAME" a line of the rules file? */
static int rule(const char *kind, const char *viewer, const char *name)
{
	const char *path = getenv("JZT_RULES");
	char line[512], want[512];
	FILE *f = path ? fopen(path, "r") : NULL;
	int hit = 0;

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "%s %s %s", kind, viewer, name);
	while (!hit && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		hit = !strcmp(line, want);
	}
	fclose(f);
	return hit;
}

#ifndef FILTERPLUG_MANY
int peer_filter(const struct jazz_peer_review *r, unsigned char *keep_users,
		unsigned char *keep_peers)
{
	char list[4096] = "";
	size_t len = 0;

	for (size_t i = 0; i < r->n_peers; i++) {
		if (rule("dev", r->username, r->peers[i].device))
			keep_peers[i] = 0;
		if (len < sizeof(list) - 1)
			len += snprintf(list + len, sizeof(list) - len, " %s",
					r->peers[i].device);
	}
	for (size_t j = 0; j < r->n_users; j++)
		if (rule("user", r->username, r->users[j].username))
			keep_users[j] = 0;
	host->log(JAZZ_LOG_INFO, "filter %s peers=%zu users=%zu:%s", r->username,
		  r->n_peers, r->n_users, list);
	return JAZZ_CB_OK;
}
#else
/* Peers of users[j] in the call's set. */
static size_t user_peers(const struct jazz_peer_reviews *r, size_t j)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_peers; i++)
		n += !strcmp(r->peers[i].username, r->users[j].username) &&
		     !strcmp(r->peers[i].realm, r->users[j].realm);
	return n;
}

int peer_filter_many(const struct jazz_peer_reviews *r, unsigned char *const *keep_users,
		     unsigned char *const *keep_peers)
{
	host->log(JAZZ_LOG_INFO, "filter_many viewers=%zu peers=%zu users=%zu", r->n_viewers,
		  r->n_peers, r->n_users);
	for (size_t v = 0; v < r->n_viewers; v++) {
		const struct jazz_viewer *w = &r->viewers[v];
		const struct jazz_peer_entry *me = w->self < r->n_peers ? &r->peers[w->self] : NULL;
		char list[4096] = "";
		size_t len = 0, np = 0, nu = 0;

		for (size_t i = 0; i < r->n_peers; i++) {
			if (rule("dev", w->username, r->peers[i].device))
				keep_peers[v][i] = 0;
			if (i == w->self)
				continue;
			np++;
			if (len < sizeof(list) - 1)
				len += snprintf(list + len, sizeof(list) - len, " %s",
						r->peers[i].device);
		}
		for (size_t j = 0; j < r->n_users; j++) {
			if (rule("user", w->username, r->users[j].username))
				keep_users[v][j] = 0;
			nu += !(me && !strcmp(me->username, r->users[j].username) &&
				!strcmp(me->realm, r->users[j].realm) && user_peers(r, j) == 1);
		}
		host->log(JAZZ_LOG_INFO, "filter %s peers=%zu users=%zu:%s", w->username, np,
			  nu, list);
	}
	return JAZZ_CB_OK;
}
#endif
