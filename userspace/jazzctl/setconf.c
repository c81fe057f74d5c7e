// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl setconf DEV FILE: make the device match FILE (peers not in it are
 * removed, each peer's allowed ips replaced). jazzctl addconf DEV FILE: add
 * and update only. FILE "-" is standard input.
 */
#include <errno.h>
#include <string.h>
#include "jazzctl.h"

static int conf(int argc, char **argv, bool replace)
{
	struct jz_devcfg c;
	char err[512];
	struct nl nl;
	FILE *f;
	int i, rc;

	if (argc != 3) {
		fprintf(stderr, "Usage: %s %s DEV FILE\n", PROG, argv[0]);
		return EXIT_USAGE;
	}
	f = strcmp(argv[2], "-") ? fopen(argv[2], "r") : stdin;
	if (!f) {
		fprintf(stderr, "%s: %s: cannot open '%s': %s\n", PROG, argv[0], argv[2], strerror(errno));
		return EXIT_USAGE;
	}
	rc = config_parse(f, argv[2], &c, err, sizeof(err));
	if (f != stdin)
		fclose(f);
	if (rc) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		return EXIT_USAGE;
	}
	if (replace) {
		/* The file is the whole truth: no prefixes listed means none. */
		for (i = 0; i < c.n_peers; i++)
			c.peers[i].replace_ips = true;
	}
	if (nl_open(&nl)) {
		devcfg_free(&c);
		return EXIT_FAIL;
	}
	rc = apply_config(&nl, argv[1], &c, replace);
	devcfg_free(&c);
	nl_close(&nl);
	return rc;
}

int cmd_setconf(int argc, char **argv)
{
	return conf(argc, argv, true);
}

int cmd_addconf(int argc, char **argv)
{
	return conf(argc, argv, false);
}
