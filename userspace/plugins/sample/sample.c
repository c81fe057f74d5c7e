// SPDX-License-Identifier: MIT
/*
 * sample.c - a jazz policy plugin showing the five callbacks of
 * <jazz/events.h>. Build: cc -shared -fPIC -o sample.so sample.c
 * Load: jazzd.conf [callbacks] plugin = /usr/lib/jazz/sample.so
 *
 * Its policy comes from environment variables of jazzd, so the same .so
 * serves the examples and the tests (unset: accept / approve everything):
 *
 *   JAZZ_SAMPLE_REFUSE_IP=1.2.3.4      accept_conn refuses this source
 *   JAZZ_SAMPLE_PASSWORDS=bob:pw,...   user_key: passwords by user
 *   JAZZ_SAMPLE_OTP=bob:123456,...     validate_user asks these users for
 *                                      the one-time code "otp"
 *   JAZZ_SAMPLE_REJECT=mallory,...     validate_user rejects these users
 *   JAZZ_SAMPLE_SLOW=slow:5000,...     validate_user sleeps (ms) for these
 *   JAZZ_SAMPLE_HIDE=bob:carol-pc,...  peer_filter hides device carol-pc
 *                                      from viewer bob
 *   JAZZ_SAMPLE_FILTER_SLOW=bob:900    peer_filter sleeps (ms) per call when
 *                                      the viewer is one of these users
 *   JAZZ_SAMPLE_FILTER_FAIL=bob        peer_filter_many fails (an error) for
 *                                      a call of many viewers, one of them
 *                                      bob's (alone, he is answered)
 *
 * peer_filter_many answers many viewers at once with the same policy:
 * viewers of the same user get the same answer, worked out once.
 *   JAZZ_SAMPLE_DENY=bob:carol-pc,...  peer_connection denies bob's devices
 *                                      connecting to device carol-pc
 *   JAZZ_SAMPLE_LIFETIME=600           lifetime of approvals (seconds)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jazz/events.h>

const int jazz_events_abi = JAZZ_EVENTS_ABI_VERSION;
const int jazz_events_concurrent = 1;	/* no shared mutable state */

static const struct jazz_host_api *host;

int jazz_events_init(const struct jazz_host_api *api)
{
	host = api;
	host->log(JAZZ_LOG_INFO, "sample plugin loaded");
	return 0;
}

/* Looks up "key" in a "k1:v1,k2:v2" list; copies the value. */
static int lookup(const char *env, const char *key, char *val, size_t len)
{
	const char *list = getenv(env), *p;
	size_t kl = strlen(key);

	if (!list)
		return 0;
	for (p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (!strncmp(p, key, kl) && (p[kl] == ':' || p[kl] == ',' || !p[kl])) {
			const char *v = p[kl] == ':' ? p + kl + 1 : "";
			size_t vl = strcspn(v, ",");

			if (val) {
				snprintf(val, len, "%.*s", (int)vl, v);
			}
			return 1;
		}
	}
	return 0;
}

int accept_conn(const struct jazz_accept_info *info, int *accept)
{
	const char *refuse = getenv("JAZZ_SAMPLE_REFUSE_IP");

	*accept = !(refuse && !strcmp(refuse, info->source.ip));
	if (!*accept)
		host->log(JAZZ_LOG_INFO, "accept_conn: refusing %s:%u", info->source.ip,
			  info->source.port);
	return JAZZ_CB_OK;
}

int user_key(const struct jazz_user_key_request *req, struct jazz_user_key_reply *reply)
{
	char pw[JAZZ_PASSWORD_MAX];

	if (!lookup("JAZZ_SAMPLE_PASSWORDS", req->username, pw, sizeof(pw))) {
		reply->kind = JAZZ_USER_KEY_UNKNOWN_USER;
		return JAZZ_CB_OK;
	}
	reply->kind = JAZZ_USER_KEY_PASSWORD;
	snprintf(reply->password, sizeof(reply->password), "%s", pw);
	return JAZZ_CB_OK;
}

int validate_user(const struct jazz_validate_request *req, struct jazz_validate_reply *reply)
{
	char v[64];

	host->log(JAZZ_LOG_INFO, "validate_user %s@%s device %s method %s round %u",
		  req->username, req->realm, req->device, req->method, req->round);
	if (lookup("JAZZ_SAMPLE_SLOW", req->username, v, sizeof(v))) {
		struct timespec ts = { atoi(v) / 1000, (atoi(v) % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	if (lookup("JAZZ_SAMPLE_REJECT", req->username, NULL, 0)) {
		reply->status = JAZZ_VALIDATE_USER_STATUS_REJECTED;
		snprintf(reply->message, sizeof(reply->message), "account disabled");
		return JAZZ_CB_OK;
	}
	if (lookup("JAZZ_SAMPLE_OTP", req->username, v, sizeof(v))) {
		for (size_t i = 0; i < req->n_other_data; i++) {
			if (!strcmp(req->other_data[i].code, "otp") &&
			    !strcmp(req->other_data[i].value, v)) {
				reply->status = JAZZ_VALIDATE_USER_STATUS_ACCEPTED;
				return JAZZ_CB_OK;
			}
		}
		if (req->round >= 2) {
			reply->status = JAZZ_VALIDATE_USER_STATUS_REJECTED;
			snprintf(reply->message, sizeof(reply->message), "wrong one-time code");
			return JAZZ_CB_OK;
		}
		reply->status = JAZZ_VALIDATE_USER_STATUS_MORE_DATA;
		reply->n_prompts = 1;
		snprintf(reply->prompts[0].code, JAZZ_CODE_MAX, "otp");
		snprintf(reply->prompts[0].text, JAZZ_TEXT_MAX, "One-time code");
		reply->prompts[0].secret = 1;
		return JAZZ_CB_OK;
	}
	reply->status = JAZZ_VALIDATE_USER_STATUS_ACCEPTED;
	return JAZZ_CB_OK;
}

int peer_filter(const struct jazz_peer_review *review, unsigned char *keep_users,
		unsigned char *keep_peers)
{
	char dev[128], v[64];

	if (lookup("JAZZ_SAMPLE_FILTER_SLOW", review->username, v, sizeof(v))) {
		struct timespec ts = { atoi(v) / 1000, (atoi(v) % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < review->n_peers; i++) {
		snprintf(dev, sizeof(dev), "%s:%s", review->username, review->peers[i].device);
		if (lookup("JAZZ_SAMPLE_HIDE", dev, NULL, 0)) {
			keep_peers[i] = 0;
			host->log(JAZZ_LOG_INFO, "peer_filter: hiding %s from %s",
				  review->peers[i].device, review->username);
		}
	}
	return JAZZ_CB_OK;
}

/* Whether the JAZZ_SAMPLE_HIDE list names this viewer user at all. */
static int hides_for(const char *hide, const char *user)
{
	size_t ul = strlen(user);

	for (const char *p = hide; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, user, ul) && p[ul] == ':')
			return 1;
	return 0;
}

/* One answer per user among the viewers: a later viewer of a user
 * already answered takes a copy (peer_filter's per-peer work, once). */
int peer_filter_many(const struct jazz_peer_reviews *r, unsigned char *const *keep_users,
		     unsigned char *const *keep_peers)
{
	const char *hide = getenv("JAZZ_SAMPLE_HIDE");
	const char *fail = getenv("JAZZ_SAMPLE_FILTER_FAIL");
	char dev[128], v[64];

	for (size_t w = 0; w < r->n_viewers; w++) {
		const struct jazz_viewer *vw = &r->viewers[w];
		size_t first = w;

		if (fail && r->n_viewers > 1 && !strcmp(fail, vw->username)) {
			host->log(JAZZ_LOG_INFO, "peer_filter_many: failing a call of %zu viewers "
				  "(%s among them)", r->n_viewers, vw->username);
			return JAZZ_CB_ERROR;
		}
		if (lookup("JAZZ_SAMPLE_FILTER_SLOW", vw->username, v, sizeof(v))) {
			struct timespec ts = { atoi(v) / 1000, (atoi(v) % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		if (!hide || !hides_for(hide, vw->username))
			continue;	/* no rule for this viewer: all kept */
		for (size_t u = 0; u < w && first == w; u++)
			if (!strcmp(r->viewers[u].username, vw->username))
				first = u;
		if (first < w) {
			memcpy(keep_peers[w], keep_peers[first], r->n_peers);
			continue;
		}
		for (size_t i = 0; i < r->n_peers; i++) {
			snprintf(dev, sizeof(dev), "%s:%s", vw->username, r->peers[i].device);
			if (lookup("JAZZ_SAMPLE_HIDE", dev, NULL, 0)) {
				keep_peers[w][i] = 0;
				if (i != vw->self)
					host->log(JAZZ_LOG_INFO, "peer_filter: hiding %s from %s",
						  r->peers[i].device, vw->username);
			}
		}
	}
	return JAZZ_CB_OK;
}

int peer_connection(const struct jazz_connection_info *info,
		    struct jazz_connection_reply *reply)
{
	char key[128];
	const char *lt = getenv("JAZZ_SAMPLE_LIFETIME");

	snprintf(key, sizeof(key), "%s:%s", info->origin_username, info->destination_device);
	reply->approve = !lookup("JAZZ_SAMPLE_DENY", key, NULL, 0);
	reply->lifetime_s = lt ? (uint32_t)atoi(lt) : 0;
	host->log(JAZZ_LOG_INFO, "peer_connection %s@%s %s %s:%u -> %s %s:%u %s: %s",
		  info->origin_username, info->origin_realm, info->origin_device,
		  info->origin.ip, info->origin.port, info->destination_device,
		  info->destination.ip, info->destination.port, info->protocol,
		  reply->approve ? "approve" : "deny");
	return JAZZ_CB_OK;
}
