// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl key DEV new peer ID slot primary|secondary id KEYID cipher CIPHER
 *                     (tx KEY:SALT | tx-file PATH) (rx KEY:SALT | rx-file PATH)
 * jazzctl key DEV swap peer ID
 * jazzctl key DEV del peer ID slot primary|secondary
 *
 * Key material is wiped from our memory once sent; it is never read back.
 */
#include <ctype.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include "jazzctl.h"

struct keyargs {
	uint32_t peer, slot, cipher, key_id;
	bool has_peer, has_slot, has_cipher, has_id, has_tx, has_rx;
	uint8_t tx_key[JAZZ_KEY_LEN], tx_salt[JAZZ_SALT_LEN];
	uint8_t rx_key[JAZZ_KEY_LEN], rx_salt[JAZZ_SALT_LEN];
};

/* A key file holds "KEYHEX:SALTHEX" and optional surrounding whitespace. */
static int read_keyfile(const char *path, uint8_t *key, uint8_t *salt)
{
	char buf[256], *s, *e;
	FILE *f = fopen(path, "r");
	size_t n;
	int rc;

	if (!f) {
		fprintf(stderr, "%s: key: cannot open '%s': %m\n", PROG, path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	for (s = buf; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); )
		*--e = 0;
	rc = parse_keydir(s, key, salt);
	explicit_bzero(buf, sizeof(buf));
	if (rc)
		fprintf(stderr, "%s: key: '%s' does not hold KEY:SALT (%d and %d hex digits)\n",
			PROG, path, JAZZ_KEY_LEN * 2, JAZZ_SALT_LEN * 2);
	return rc;
}

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "%s: key: invalid %s '%s'\n", PROG, what, val);
	return EXIT_USAGE;
}

static int key_parse(int argc, char **argv, struct keyargs *k)
{
	const char *o, *v;
	int i;

	for (i = 0; i < argc; i += 2) {
		o = argv[i];
		v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "%s: key: '%s' needs a value\n", PROG, o);
			return EXIT_USAGE;
		}
		if (!strcmp(o, "peer")) {
			if (parse_u32(v, UINT32_MAX, &k->peer) || !k->peer)
				return bad("peer id", v);
			k->has_peer = true;
		} else if (!strcmp(o, "slot")) {
			if (parse_slot(v, &k->slot))
				return bad("slot", v);
			k->has_slot = true;
		} else if (!strcmp(o, "id")) {
			if (parse_u32(v, 255, &k->key_id))
				return bad("key id", v);
			k->has_id = true;
		} else if (!strcmp(o, "cipher")) {
			if (parse_cipher(v, &k->cipher))
				return bad("cipher", v);
			k->has_cipher = true;
		} else if (!strcmp(o, "tx")) {
			/* Do not echo key material back in the error. */
			if (parse_keydir(v, k->tx_key, k->tx_salt))
				return bad("tx key", "(hidden)");
			k->has_tx = true;
		} else if (!strcmp(o, "rx")) {
			if (parse_keydir(v, k->rx_key, k->rx_salt))
				return bad("rx key", "(hidden)");
			k->has_rx = true;
		} else if (!strcmp(o, "tx-file")) {
			if (read_keyfile(v, k->tx_key, k->tx_salt))
				return EXIT_USAGE;
			k->has_tx = true;
		} else if (!strcmp(o, "rx-file")) {
			if (read_keyfile(v, k->rx_key, k->rx_salt))
				return EXIT_USAGE;
			k->has_rx = true;
		} else {
			fprintf(stderr, "%s: key: unknown option '%s'\n", PROG, o);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int need(bool have, const char *what)
{
	if (!have)
		fprintf(stderr, "%s: key: missing '%s'\n", PROG, what);
	return have ? 0 : EXIT_USAGE;
}

static void put_keydir(struct nlmsghdr *nlh, int type, const uint8_t *key, const uint8_t *salt)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	mnl_attr_put(nlh, JAZZ_A_KEYDIR_KEY, JAZZ_KEY_LEN, key);
	mnl_attr_put(nlh, JAZZ_A_KEYDIR_SALT, JAZZ_SALT_LEN, salt);
	mnl_attr_nest_end(nlh, n);
}

int cmd_key(int argc, char **argv)
{
	char buf[NL_SMALL], ctx[64];
	struct keyargs k = { 0 };
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	struct nl_err e;
	struct nl nl;
	const char *dev, *op;
	uint8_t cmd;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "Usage: %s key DEV new|swap|del peer ID [...]\n", PROG);
		return EXIT_USAGE;
	}
	dev = argv[1];
	op = argv[2];
	rc = key_parse(argc - 3, argv + 3, &k);
	if (rc)
		goto out;
	rc = need(k.has_peer, "peer");
	if (!strcmp(op, "new")) {
		cmd = JAZZ_CMD_KEY_NEW;
		rc = rc ?: need(k.has_slot, "slot");
		rc = rc ?: need(k.has_id, "id");
		rc = rc ?: need(k.has_cipher, "cipher");
		rc = rc ?: need(k.has_tx, "tx");
		rc = rc ?: need(k.has_rx, "rx");
	} else if (!strcmp(op, "swap")) {
		cmd = JAZZ_CMD_KEY_SWAP;
	} else if (!strcmp(op, "del")) {
		cmd = JAZZ_CMD_KEY_DEL;
		rc = rc ?: need(k.has_slot, "slot");
	} else {
		fprintf(stderr, "%s: key: unknown operation '%s' (new, swap or del)\n", PROG, op);
		rc = EXIT_USAGE;
	}
	if (rc)
		goto out;
	if (nl_open(&nl)) {
		rc = EXIT_FAIL;
		goto out;
	}
	nlh = nl_msg(&nl, buf, cmd, 0);
	nl_put_dev(nlh, dev);
	nest = mnl_attr_nest_start(nlh, JAZZ_A_KEY);
	mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_PEER_ID, k.peer);
	if (k.has_slot)
		mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_SLOT, k.slot);
	if (cmd == JAZZ_CMD_KEY_NEW) {
		mnl_attr_put_u8(nlh, JAZZ_A_KEYCONF_KEY_ID, (uint8_t)k.key_id);
		mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_CIPHER, k.cipher);
		put_keydir(nlh, JAZZ_A_KEYCONF_ENCRYPT, k.tx_key, k.tx_salt);
		put_keydir(nlh, JAZZ_A_KEYCONF_DECRYPT, k.rx_key, k.rx_salt);
	}
	mnl_attr_nest_end(nlh, nest);
	rc = nl_run(&nl, nlh, NULL, NULL, &e);
	explicit_bzero(buf, sizeof(buf));
	if (rc) {
		snprintf(ctx, sizeof(ctx), "%s: peer %u", dev, k.peer);
		rc = nl_fail(ctx, rc, &e);
	}
	nl_close(&nl);
out:
	explicit_bzero(&k, sizeof(k));
	return rc;
}
