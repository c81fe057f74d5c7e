// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile or broken plugin's answers (any bytes in the reply structs)
 * through the dispatcher's check (jz_cb_reply_valid, policy/callbacks.c),
 * and every answer it takes through what the server builds from it: the
 * challenge and reject messages must come out (a NULL there was a session
 * left without an answer), as text a client can parse.
 *
 * Input: byte 0 picks the callback (bits 0-1) and the mode (bit 2): raw,
 * the rest copied over the reply struct as a plugin could write it; or
 * structured, bytes 1-3 status, prompt count and secret flags, then
 * newline-separated message, code, text, code, text ...
 */
#include <jazz/events.h>

#include "policy/callbacks.h"
#include "server/smsg.h"
#include "fuzz.h"

/* Next newline-separated field of [*p, end) into dst (truncated, so a
 * long one fills the buffer without its NUL: unterminated text). */
static void field(const uint8_t **p, const uint8_t *end, char *dst, size_t size)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl ? nl : end) - *p);

	memset(dst, 0, size);
	memcpy(dst, *p, n < size ? n : size);
	*p = nl ? nl + 1 : end;
}

static void structured(struct jz_cb_call *c, const uint8_t *d, size_t size)
{
	const uint8_t *p = d + 4, *end = d + size;

	if (size < 4)
		return;
	if (c->kind == JZ_CB_VALIDATE_USER) {
		struct jazz_validate_reply *r = &c->u.validate.reply;

		r->status = (enum jazz_validate_status)(d[1] % 4);
		r->n_prompts = d[2] % (JAZZ_PROMPTS_MAX + 2);
		field(&p, end, r->message, sizeof(r->message));
		for (size_t i = 0; i < JAZZ_PROMPTS_MAX; i++) {
			field(&p, end, r->prompts[i].code, sizeof(r->prompts[i].code));
			field(&p, end, r->prompts[i].text, sizeof(r->prompts[i].text));
			r->prompts[i].secret = (d[3] >> (i % 8)) & 1;
		}
	} else if (c->kind == JZ_CB_USER_KEY) {
		struct jazz_user_key_reply *r = &c->u.user_key.reply;

		r->kind = (enum jazz_user_key_kind)(d[1] % 4);
		r->key_len = d[2];
		field(&p, end, r->password, sizeof(r->password));
		memcpy(r->key, d, size < sizeof(r->key) ? size : sizeof(r->key));
	} else {
		c->u.conn.reply.approve = (signed char)d[1];
		memcpy(&c->u.conn.reply.lifetime_s, d, 4);
	}
}

/* What login.c and approval.c make of an answer the check took. */
static void consume(const struct jz_cb_call *c)
{
	const struct jazz_validate_reply *r = &c->u.validate.reply;
	json_t *m;
	char *s;

	if (c->kind == JZ_CB_VALIDATE_USER) {
		if (r->status == JAZZ_VALIDATE_USER_STATUS_MORE_DATA) {
			m = jz_sm_challenge_msg(r, 3);
			if (!m || json_array_size(json_object_get(m, "prompts")) != r->n_prompts)
				abort();
		} else {
			m = json_pack("{s:s,s:s,s:s}", "type", "reject", "reason", "rejected",
				      "message", r->message);
			if (!m)
				abort();
		}
		s = json_dumps(m, JSON_COMPACT);
		if (!s)
			abort();
		free(s);
		json_decref(m);
	} else if (c->kind == JZ_CB_USER_KEY) {
		const struct jazz_user_key_reply *u = &c->u.user_key.reply;

		if (u->kind == JAZZ_USER_KEY_PASSWORD && strlen(u->password) >= JAZZ_PASSWORD_MAX)
			abort();
		if (u->kind == JAZZ_USER_KEY_RAW && (!u->key_len || u->key_len > JAZZ_RAW_KEY_MAX))
			abort();
	} else if (c->u.conn.reply.approve != 0 && c->u.conn.reply.approve != 1) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum jz_cb_kind kinds[4] = {
		JZ_CB_USER_KEY, JZ_CB_VALIDATE_USER, JZ_CB_PEER_CONNECTION, JZ_CB_VALIDATE_USER,
	};
	struct jz_cb_call *c;

	if (!size)
		return 0;
	c = calloc(1, sizeof(*c));
	c->kind = kinds[data[0] & 3];
	if (data[0] & 4) {
		size_t n = size - 1, max = c->kind == JZ_CB_USER_KEY ?
			sizeof(c->u.user_key.reply) : c->kind == JZ_CB_VALIDATE_USER ?
			sizeof(c->u.validate.reply) : sizeof(c->u.conn.reply);
		void *dst = c->kind == JZ_CB_USER_KEY ? (void *)&c->u.user_key.reply :
			    c->kind == JZ_CB_VALIDATE_USER ? (void *)&c->u.validate.reply :
			    (void *)&c->u.conn.reply;

		memcpy(dst, data + 1, n < max ? n : max);
	} else {
		structured(c, data, size);
	}
	if (jz_cb_reply_valid(c))
		consume(c);
	free(c);
	return 0;
}
