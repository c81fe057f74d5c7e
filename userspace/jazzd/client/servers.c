// SPDX-License-Identifier: GPL-2.0
/*
 * The servers a client may use ([client] server, or servers: one or more
 * host:port, space or comma separated; issue 21) and when to try the next
 * one. A connection that fails or ends moves the client to the next server
 * of the list after a short random delay (so the devices of a server that
 * died spread over the others instead of arriving together); once every
 * server failed in a row, it waits the exponential backoff
 * (reconnect_min .. reconnect_max) with jitter before the next round.
 * With one server that is the backoff it always had.
 *
 * Must not connect or parse messages (client.c does).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/rand.h>

#include "client_int.h"
#include "log.h"

/* The @i-th entry of the list (modulo its length) into @out; the count. */
static unsigned int pick(const char *list, unsigned int i, char *out, size_t outlen)
{
	char buf[1024], *save = NULL, *t;
	unsigned int n = 0;

	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	for (t = strtok_r(buf, " ,\t", &save); t; t = strtok_r(NULL, " ,\t", &save))
		n++;
	out[0] = 0;
	if (!n)
		return 0;
	i %= n;
	snprintf(buf, sizeof(buf), "%s", list);
	for (t = strtok_r(buf, " ,\t", &save); i; t = strtok_r(NULL, " ,\t", &save))
		i--;
	snprintf(out, outlen, "%s", t);
	return n;
}

const char *client_server(struct jz_client *c)
{
	pick(cfg(c)->server, c->srv_i, c->srv_cur, sizeof(c->srv_cur));
	return c->srv_cur;
}

static unsigned int rnd(unsigned int mod)
{
	unsigned int x = 0;

	RAND_bytes((unsigned char *)&x, sizeof(x));
	return mod ? x % mod : 0;
}

void client_server_next(struct jz_client *c, struct timeval *tv)
{
	char next[300];
	unsigned int n = pick(cfg(c)->server, c->srv_i + 1, next, sizeof(next));

	c->srv_fails++;
	if (n > 1 && c->srv_fails < n) {
		/* another server at once, 100-600 ms later */
		unsigned int ms = 100 + rnd(500);

		c->srv_i++;
		tv->tv_sec = 0;
		tv->tv_usec = ms * 1000;
		jz_info("trying server %s in %u ms", next, ms);
		return;
	}
	/* every server failed in a row: back off, then a new round */
	c->srv_fails = 0;
	if (n > 1)
		c->srv_i++;
	if (!c->backoff_s)
		c->backoff_s = cfg(c)->reconnect_min_s > 0 ? cfg(c)->reconnect_min_s : 1;
	else
		c->backoff_s *= 2;
	if (c->backoff_s > cfg(c)->reconnect_max_s)
		c->backoff_s = cfg(c)->reconnect_max_s;
	tv->tv_sec = c->backoff_s;
	tv->tv_usec = rnd(250000);	/* spread a crowd of clients */
	jz_info("reconnecting in %d s", c->backoff_s);
}

void client_server_ok(struct jz_client *c)
{
	c->backoff_s = 0;
	c->srv_fails = 0;
}
