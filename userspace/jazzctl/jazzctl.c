// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl: configure jazz tunnel devices over the "jazz" generic netlink
 * family. One file per subcommand, as in wireguard-tools.
 */
#include <string.h>
#include "jazzctl.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "show", cmd_show, "show [DEV|all] [peers|endpoints|allowed-ips|keys] [--json]" },
	{ "set", cmd_set, "set DEV [OPTION VALUE]... [peer ID [PEER-OPTION]...]..." },
	{ "key", cmd_key, "key DEV new|swap|del peer ID [slot S] [id N] [cipher C] [tx K:S] [rx K:S]" },
	{ "setconf", cmd_setconf, "setconf DEV FILE" },
	{ "addconf", cmd_addconf, "addconf DEV FILE" },
	{ "showconf", cmd_showconf, "showconf DEV" },
	{ "monitor", cmd_monitor, "monitor [--json] [--count N] [--group notify|approvals|all] [--rcvbuf BYTES]" },
	{ "conns", cmd_conns, "conns [DEV|all] [--json]" },
	{ "conn", cmd_conn, "conn DEV approve|deny|del|flush ..." },
	{ "answer", cmd_answer, "answer DEV|all approve-all|deny-all|rules FILE [--count N] [--lifetime S] [--json] [--quiet] [--rcvbuf BYTES]" },
	{ "rtt", cmd_rtt, "rtt DEV [--count N]" },
	{ "probe", cmd_probe, "probe DEV [--count N] [--timeout MS] [--each]" },
	{ "stun", cmd_stun, "stun DEV HOST:PORT [--timeout MS] [--json]" },
};

static int usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: %s COMMAND [ARGS]...\n\nCommands:\n", PROG);
	for (i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		fprintf(f, "  %s %s\n", PROG, cmds[i].help);
	fprintf(f, "\nSee jazzctl(8).\n");
	return f == stdout ? EXIT_OK : EXIT_USAGE;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return cmd_show(1, (char *[]){ "show", NULL });
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return usage(stdout);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("%s netlink family %s version %d, wire version %d\n", PROG,
		       JAZZ_GENL_NAME, JAZZ_GENL_VERSION, JAZZ_WIRE_VERSION);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s' (see %s --help)\n", PROG, argv[1], PROG);
	return EXIT_USAGE;
}
