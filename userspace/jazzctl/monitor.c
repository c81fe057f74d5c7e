// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl monitor [--json] [--count N] [--group notify|approvals|all]
 *                 [--rcvbuf BYTES]
 *
 * Joins the "notify" and "approvals" multicast groups and prints each
 * event as one line (text, or a JSON object per line), flushed at once so
 * that a pipe sees it immediately. The socket gets a large receive buffer
 * (8 MiB by default); events lost to an overflow all the same are reported
 * on stderr with a count, and monitoring goes on.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "jazzctl.h"

int event_parse(const struct nlmsghdr *nlh, struct jz_event *ev)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a;

	memset(ev, 0, sizeof(*ev));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*g))
		return -1;
	ev->cmd = g->cmd;
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_IFINDEX:
			if (!mnl_attr_validate(a, MNL_TYPE_U32))
				ev->ifindex = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_PEER:
			if (!ev->has_peer)
				peer_parse(a, &ev->peer);
			ev->has_peer = true;
			break;
		case JAZZ_A_KEY:
			keyinfo_parse(a, &ev->key, &ev->key_peer);
			ev->has_key = true;
			break;
		case JAZZ_A_CONN:
			conn_parse(a, &ev->conn, &ev->conn_x);
			ev->has_conn = true;
			break;
		case JAZZ_A_PROBE:
			ev->has_probe = !probe_parse(a, &ev->probe);
			break;
		}
	}
	ev->conn.ifindex = ev->ifindex;
	ifname_of(ev->ifindex, ev->ifname);
	return 0;
}

void event_free(struct jz_event *ev)
{
	peer_free(&ev->peer);
}

static const char *event_name(uint8_t cmd)
{
	switch (cmd) {
	case JAZZ_CMD_PEER_ROAM_NTF: return "peer-roam";
	case JAZZ_CMD_KEY_ROTATE_NTF: return "key-rotate";
	case JAZZ_CMD_PEER_DEL_NTF: return "peer-del";
	case JAZZ_CMD_CONN_REQUEST_NTF: return "conn-request";
	case JAZZ_CMD_CONN_EXPIRE_NTF: return "conn-expire";
	case JAZZ_CMD_APPROVER_PROBE_NTF: return "approver-probe";
	}
	return "unknown";
}

static void print_text(const struct jz_event *ev)
{
	const struct jz_peer *p = &ev->peer;
	char b[64];

	switch (ev->cmd) {
	case JAZZ_CMD_PEER_ROAM_NTF:
		printf("peer-roam %s peer %u%s%s%s endpoint %s\n", ev->ifname, p->id,
		       p->name[0] ? " (" : "", p->name, p->name[0] ? ")" : "",
		       fmt_endpoint(&p->endpoint, true, b, sizeof(b)));
		break;
	case JAZZ_CMD_PEER_DEL_NTF:
		printf("peer-del %s peer %u%s%s%s reason %s\n", ev->ifname, p->id,
		       p->name[0] ? " (" : "", p->name, p->name[0] ? ")" : "",
		       del_reason_name(p->del_reason));
		break;
	case JAZZ_CMD_KEY_ROTATE_NTF:
		printf("key-rotate %s peer %u key %s id %u %s tx counter %" PRIu64 "\n",
		       ev->ifname, ev->key_peer, slot_name(ev->key.slot), ev->key.key_id,
		       cipher_name(ev->key.cipher), ev->key.tx_counter);
		break;
	case JAZZ_CMD_CONN_REQUEST_NTF:
	case JAZZ_CMD_CONN_EXPIRE_NTF:
		printf("%s ", event_name(ev->cmd));
		print_conn_text(ev->ifname, &ev->conn, &ev->conn_x);
		break;
	case JAZZ_CMD_APPROVER_PROBE_NTF:
		printf("approver-probe %s cookie %" PRIu64 "\n", ev->ifname, ev->probe.cookie);
		break;
	default:
		printf("unknown %s command %u\n", ev->ifname, ev->cmd);
	}
}

static void print_json(const struct jz_event *ev)
{
	struct jw w;

	jw_init(&w, stdout);
	jw_obj(&w, NULL);
	jw_str(&w, "event", event_name(ev->cmd));
	if (ev->has_conn) {
		print_conn_json(&w, ev->ifname, &ev->conn, &ev->conn_x);
	} else {
		jw_str(&w, "ifname", ev->ifname);
		jw_u64(&w, "ifindex", ev->ifindex);
	}
	if (ev->has_probe) {
		char b[24];

		/* A string, like connection cookies (doubles lose 64 bits). */
		snprintf(b, sizeof(b), "%" PRIu64, ev->probe.cookie);
		jw_str(&w, "cookie", b);
	}
	if (ev->has_peer) {
		print_peer_json(&w, "peer", &ev->peer);
	}
	if (ev->has_key) {
		jw_obj(&w, "key");
		jw_u64(&w, "peer_id", ev->key_peer);
		jw_str(&w, "slot", slot_name(ev->key.slot));
		jw_u64(&w, "key_id", ev->key.key_id);
		jw_str(&w, "cipher", cipher_name(ev->key.cipher));
		jw_u64(&w, "tx_counter", ev->key.tx_counter);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	putchar('\n');
}

void event_print(const struct jz_event *ev, bool json)
{
	if (json)
		print_json(ev);
	else
		print_text(ev);
	fflush(stdout);
}

int event_loop(struct nl *nl, nl_cb cb, void *data)
{
	static char buf[NL_BUF];
	unsigned long lost = 0;
	ssize_t n;
	int rc;

	for (;;) {
		n = mnl_socket_recvfrom(nl->sk, buf, sizeof(buf));
		if (n < 0 && errno == ENOBUFS) {
			/* We fell behind; say so and keep listening. */
			fprintf(stderr, "%s: events lost: receive buffer overflow (%lu so far; "
				"raise --rcvbuf)\n", PROG, ++lost);
			fflush(stderr);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: receiving events: %s\n", PROG, strerror(errno));
			return EXIT_FAIL;
		}
		rc = mnl_cb_run(buf, (size_t)n, 0, 0, cb, data);
		if (rc == MNL_CB_STOP)
			return 0;
		if (rc == MNL_CB_ERROR) {
			fprintf(stderr, "%s: bad event message: %s\n", PROG, strerror(errno));
			return EXIT_FAIL;
		}
	}
}

struct mon {
	bool json;
	long count, seen;
	uint16_t family;
};

static int mon_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mon *m = data;
	struct jz_event ev;

	if (nlh->nlmsg_type != m->family || event_parse(nlh, &ev))
		return MNL_CB_OK;
	event_print(&ev, m->json);
	event_free(&ev);
	if (m->count && ++m->seen >= m->count)
		return MNL_CB_STOP;
	return MNL_CB_OK;
}

int join_group(struct nl *nl, const char *name)
{
	uint32_t id = !strcmp(name, JAZZ_MCGRP_NOTIFY) ? nl->grp_notify : nl->grp_approvals;
	int rc = nl_join(nl, id);

	if (rc) {
		fprintf(stderr, "%s: cannot join multicast group '%s': %s\n", PROG, name,
			rc == -ENOENT ? "the module does not offer it" : strerror(-rc));
		return EXIT_FAIL;
	}
	return 0;
}

int cmd_monitor(int argc, char **argv)
{
	struct mon m = { 0 };
	const char *group = "all";
	int rcvbuf = NL_RCVBUF;
	uint32_t u;
	struct nl nl;
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			m.json = true;
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			if (parse_u32(argv[++i], INT32_MAX, &u) || !u) {
				fprintf(stderr, "%s: monitor: invalid count '%s'\n", PROG, argv[i]);
				return EXIT_USAGE;
			}
			m.count = u;
		} else if (!strcmp(argv[i], "--rcvbuf") && i + 1 < argc) {
			if (parse_u32(argv[++i], INT32_MAX / 2, &u) || u < 1024) {
				fprintf(stderr, "%s: monitor: invalid rcvbuf '%s'\n", PROG, argv[i]);
				return EXIT_USAGE;
			}
			rcvbuf = (int)u;
		} else if (!strcmp(argv[i], "--group") && i + 1 < argc) {
			group = argv[++i];
			if (strcmp(group, "all") && strcmp(group, JAZZ_MCGRP_NOTIFY) &&
			    strcmp(group, JAZZ_MCGRP_APPROVALS)) {
				fprintf(stderr, "%s: monitor: unknown group '%s'\n", PROG, group);
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "%s: monitor: unexpected argument '%s'\n", PROG, argv[i]);
			return EXIT_USAGE;
		}
	}
	if (nl_open(&nl))
		return EXIT_FAIL;
	m.family = nl.family;
	if (nl_rcvbuf(&nl, rcvbuf))
		rc = EXIT_FAIL;
	if (!rc && strcmp(group, JAZZ_MCGRP_APPROVALS))
		rc = join_group(&nl, JAZZ_MCGRP_NOTIFY);
	if (!rc && strcmp(group, JAZZ_MCGRP_NOTIFY))
		rc = join_group(&nl, JAZZ_MCGRP_APPROVALS);
	if (!rc)
		rc = event_loop(&nl, mon_cb, &m);
	nl_close(&nl);
	return rc;
}
