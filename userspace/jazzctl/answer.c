// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl answer DEV|all approve-all|deny-all|rules FILE
 *                [--lifetime S] [--count N] [--json]
 *
 * Listens on the "approvals" group and answers each connection request of
 * DEV with conn-verdict by cookie: for tests and simple setups. Verdicts go
 * out on a second socket so their acks never mix with the event stream.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include "jazzctl.h"

struct answer {
	struct nl cmd;
	uint16_t family;
	uint32_t ifindex;	/* 0: all devices */
	int mode;		/* 0 rules, else JAZZ_VERDICT_* for everything */
	struct jz_rule *rules;
	int n_rules;
	uint32_t lifetime;
	bool has_lifetime, json;
	long count, done;
};

static int answer_cb(const struct nlmsghdr *nlh, void *data)
{
	struct answer *a = data;
	const struct jz_rule *r = NULL;
	const uint32_t *lt = a->has_lifetime ? &a->lifetime : NULL;
	struct jz_event ev;
	struct jw w;
	int verdict, rc;

	if (nlh->nlmsg_type != a->family || event_parse(nlh, &ev))
		return MNL_CB_OK;
	if (ev.cmd != JAZZ_CMD_CONN_REQUEST_NTF || !ev.has_conn || !ev.conn.has_cookie ||
	    (a->ifindex && ev.ifindex != a->ifindex)) {
		event_free(&ev);
		return MNL_CB_OK;
	}
	verdict = a->mode;
	if (!verdict) {
		r = rules_match(a->rules, a->n_rules, &ev.conn);
		verdict = r ? r->verdict : JAZZ_VERDICT_DENY;
		if (r && r->has_lifetime)
			lt = &r->lifetime;
	}
	rc = conn_request(&a->cmd, ev.ifname, JAZZ_CMD_CONN_VERDICT, &ev.conn, false, verdict, lt);
	if (a->json) {
		jw_init(&w, stdout);
		jw_obj(&w, NULL);
		jw_str(&w, "verdict", verdict_name((uint8_t)verdict));
		jw_bool(&w, "ok", rc == 0);
		if (!a->mode)
			jw_u64(&w, "rule", r ? (uint64_t)(r - a->rules) + 1 : 0);
		print_conn_json(&w, ev.ifname, &ev.conn, &ev.conn_x);
		jw_obj_end(&w);
		putchar('\n');
	} else {
		printf("%s%s ", verdict_name((uint8_t)verdict), rc ? " (failed)" : "");
		print_conn_text(ev.ifname, &ev.conn, &ev.conn_x);
	}
	fflush(stdout);
	event_free(&ev);
	if (a->count && ++a->done >= a->count)
		return MNL_CB_STOP;
	return MNL_CB_OK;
}

static int usage(void)
{
	fprintf(stderr, "Usage: %s answer DEV|all approve-all|deny-all|rules FILE "
		"[--lifetime S] [--count N] [--json]\n", PROG);
	return EXIT_USAGE;
}

int cmd_answer(int argc, char **argv)
{
	struct answer a = { 0 };
	struct nl ev;
	char err[512];
	uint32_t u;
	FILE *f;
	int i, rc;

	if (argc < 3)
		return usage();
	if (strcmp(argv[1], "all")) {
		a.ifindex = if_nametoindex(argv[1]);
		if (!a.ifindex) {
			fprintf(stderr, "%s: answer: no device '%s'\n", PROG, argv[1]);
			return EXIT_FAIL;
		}
	}
	i = 3;
	if (!strcmp(argv[2], "approve-all")) {
		a.mode = JAZZ_VERDICT_APPROVE;
	} else if (!strcmp(argv[2], "deny-all")) {
		a.mode = JAZZ_VERDICT_DENY;
	} else if (!strcmp(argv[2], "rules") && argc > 3) {
		f = fopen(argv[3], "r");
		if (!f) {
			fprintf(stderr, "%s: answer: cannot open '%s': %s\n", PROG, argv[3],
				strerror(errno));
			return EXIT_USAGE;
		}
		rc = rules_parse(f, argv[3], &a.rules, &a.n_rules, err, sizeof(err));
		fclose(f);
		if (rc) {
			fprintf(stderr, "%s: %s\n", PROG, err);
			return EXIT_USAGE;
		}
		i = 4;
	} else {
		return usage();
	}
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			a.json = true;
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			if (parse_u32(argv[++i], INT32_MAX, &u) || !u) {
				fprintf(stderr, "%s: answer: invalid count '%s'\n", PROG, argv[i]);
				return EXIT_USAGE;
			}
			a.count = u;
		} else if (!strcmp(argv[i], "--lifetime") && i + 1 < argc) {
			if (parse_duration(argv[++i], false, UINT32_MAX, &a.lifetime)) {
				fprintf(stderr, "%s: answer: invalid lifetime '%s'\n", PROG, argv[i]);
				return EXIT_USAGE;
			}
			a.has_lifetime = true;
		} else {
			fprintf(stderr, "%s: answer: unexpected argument '%s'\n", PROG, argv[i]);
			return EXIT_USAGE;
		}
	}
	if (nl_open(&ev))
		return EXIT_FAIL;
	if (nl_open(&a.cmd)) {
		nl_close(&ev);
		return EXIT_FAIL;
	}
	a.family = ev.family;
	rc = join_group(&ev, JAZZ_MCGRP_APPROVALS);
	if (!rc)
		rc = event_loop(&ev, answer_cb, &a);
	nl_close(&a.cmd);
	nl_close(&ev);
	free(a.rules);
	return rc;
}
