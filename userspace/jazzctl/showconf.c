// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl showconf DEV: the device in the setconf file format, so that
 * "jazzctl showconf a > f; jazzctl setconf b f" copies a device (keys are
 * not included: the kernel never gives them back).
 */
#include <string.h>
#include "jazzctl.h"

static void print_peer(const struct jz_peer *p)
{
	char b[64];
	int i;

	printf("\n[Peer]\nId = %u\n", p->id);
	if (p->remote_id)
		printf("RemoteId = %u\n", p->remote_id);
	if (p->name[0])
		printf("Name = %s\n", p->name);
	if (p->endpoint.ss_family)
		printf("Endpoint = %s\n", fmt_endpoint(&p->endpoint, true, b, sizeof(b)));
	if (p->n_ips) {
		printf("AllowedIPs = ");
		for (i = 0; i < p->n_ips; i++)
			printf("%s%s", i ? ", " : "", fmt_prefix(&p->ips[i], b, sizeof(b)));
		putchar('\n');
	}
	if (p->keepalive)
		printf("PersistentKeepalive = %u\n", p->keepalive);
}

int cmd_showconf(int argc, char **argv)
{
	struct jz_dev d;
	struct nl_err e;
	struct nl nl;
	size_t i;
	int n, rc;

	if (argc != 2) {
		fprintf(stderr, "Usage: %s showconf DEV\n", PROG);
		return EXIT_USAGE;
	}
	if (nl_open(&nl))
		return EXIT_FAIL;
	rc = fetch_dev(&nl, argv[1], &d, &e);
	if (!rc)
		rc = fetch_peers(&nl, &d, &e);
	if (rc) {
		rc = nl_fail(argv[1], rc, &e);
		goto out;
	}
	printf("[Device]\n");
	for (i = 0; i < n_devopts; i++) {
		const struct devopt *o = &devopts[i];

		if (!d.has_opt[i])
			continue;
		if (o->kind == DO_BOOL)
			printf("%s = %s\n", o->conf, d.opt[i] ? "on" : "off");
		else if (o->kind == DO_HEX)
			printf("%s = 0x%x\n", o->conf, d.opt[i]);
		else
			printf("%s = %u\n", o->conf, d.opt[i]);
	}
	for (n = 0; n < d.n_peers; n++)
		print_peer(&d.peers[n]);
out:
	dev_free(&d);
	nl_close(&nl);
	return rc;
}
