// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl show [DEV|all] [peers|endpoints|allowed-ips|keys] [--json]
 *
 * Key material is never read back from the kernel; only slot, key id,
 * cipher, send counter and the kernel's crypto driver are shown.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "jazzctl.h"

static const char *const stat_names[N_STATS] = {
	[JAZZ_A_STATS_RX_PACKETS] = "rx_packets",
	[JAZZ_A_STATS_RX_BYTES] = "rx_bytes",
	[JAZZ_A_STATS_TX_PACKETS] = "tx_packets",
	[JAZZ_A_STATS_TX_BYTES] = "tx_bytes",
	[JAZZ_A_STATS_DROP_MALFORMED] = "drop_malformed",
	[JAZZ_A_STATS_DROP_NO_PEER] = "drop_no_peer",
	[JAZZ_A_STATS_DROP_NO_KEY] = "drop_no_key",
	[JAZZ_A_STATS_DROP_AUTH] = "drop_auth",
	[JAZZ_A_STATS_DROP_REPLAY] = "drop_replay",
	[JAZZ_A_STATS_DROP_SOURCE] = "drop_source",
	[JAZZ_A_STATS_DROP_NO_ENDPOINT] = "drop_no_endpoint",
	[JAZZ_A_STATS_DROP_KEY_EXHAUSTED] = "drop_key_exhausted",
	[JAZZ_A_STATS_DROP_LOOP] = "drop_loop",
	[JAZZ_A_STATS_DROP_CONNCHECK] = "drop_conncheck",
	[JAZZ_A_STATS_DROP_HOLD_OVERFLOW] = "drop_hold_overflow",
	[JAZZ_A_STATS_DROP_CONN_FULL] = "drop_conn_full",
	[JAZZ_A_STATS_DROP_TIMEOUT] = "drop_timeout",
	[JAZZ_A_STATS_DROP_TX_ERROR] = "drop_tx_error",
	[JAZZ_A_STATS_HELD] = "held",
	[JAZZ_A_STATS_DROP_QUEUE_FULL] = "drop_queue_full",
	[JAZZ_A_STATS_TX_DROP_NO_PEER] = "tx_drop_no_peer",
	[JAZZ_A_STATS_TX_DROP_NO_KEY] = "tx_drop_no_key",
	[JAZZ_A_STATS_TX_DROP_MALFORMED] = "tx_drop_malformed",
	[JAZZ_A_STATS_TX_DROP_QUEUE_FULL] = "tx_drop_queue_full",
	[JAZZ_A_STATS_RX_STUN] = "rx_stun",
	[JAZZ_A_STATS_DROP_STUN_MALFORMED] = "drop_stun_malformed",
	[JAZZ_A_STATS_DROP_STUN_RATE] = "drop_stun_rate",
	[JAZZ_A_STATS_DROP_STUN_NO_LISTENER] = "drop_stun_no_listener",
	[JAZZ_A_STATS_TX_STUN] = "tx_stun",
	[JAZZ_A_STATS_RX_GRO_BATCHES] = "rx_gro_batches",
	[JAZZ_A_STATS_RX_GRO_DATAGRAMS] = "rx_gro_datagrams",
};

/* The STUN datagrams of the tunnel socket (issue 20): a line of their own. */
static bool stat_is_stun(int i)
{
	return i >= JAZZ_A_STATS_RX_STUN && i <= JAZZ_A_STATS_TX_STUN;
}

static void print_stun_text(const char *indent, const struct jz_stats *s)
{
	if (!s->v[JAZZ_A_STATS_RX_STUN] && !s->v[JAZZ_A_STATS_TX_STUN] &&
	    !s->v[JAZZ_A_STATS_DROP_STUN_MALFORMED] &&
	    !s->v[JAZZ_A_STATS_DROP_STUN_RATE] &&
	    !s->v[JAZZ_A_STATS_DROP_STUN_NO_LISTENER])
		return;
	printf("%sstun: %" PRIu64 " received, %" PRIu64 " sent; dropped %" PRIu64
	       " malformed, %" PRIu64 " over rate, %" PRIu64 " no listener\n",
	       indent, s->v[JAZZ_A_STATS_RX_STUN], s->v[JAZZ_A_STATS_TX_STUN],
	       s->v[JAZZ_A_STATS_DROP_STUN_MALFORMED],
	       s->v[JAZZ_A_STATS_DROP_STUN_RATE],
	       s->v[JAZZ_A_STATS_DROP_STUN_NO_LISTENER]);
}

static const char *const feature_names[] = {
	"chacha20-poly1305", "aes-256-gcm", "ipv6", "conncheck", "roaming", "keepalive",
};

/* "drop_auth" shows as "auth"; "tx_drop_no_key" and "held" as they are. */
static const char *stat_label(int i)
{
	const char *n = stat_names[i];

	if (!n)
		return "?";
	return strncmp(n, "drop_", 5) ? n : n + 5;
}

void print_stats_text(const char *indent, const struct jz_stats *s)
{
	int i, n = 0;

	printf("%stransfer: %" PRIu64 " packets, %" PRIu64 " bytes received; %"
	       PRIu64 " packets, %" PRIu64 " bytes sent\n", indent,
	       s->v[JAZZ_A_STATS_RX_PACKETS], s->v[JAZZ_A_STATS_RX_BYTES],
	       s->v[JAZZ_A_STATS_TX_PACKETS], s->v[JAZZ_A_STATS_TX_BYTES]);
	for (i = JAZZ_A_STATS_DROP_MALFORMED; i < N_STATS; i++) {
		if (!s->v[i] || stat_is_stun(i))
			continue;
		if (!n++)
			printf("%sdrops:", indent);
		else
			putchar(',');
		printf(" %s %" PRIu64, stat_label(i),
		       s->v[i]);
	}
	if (n)
		putchar('\n');
	print_stun_text(indent, s);
}

void print_stats_json(struct jw *w, const struct jz_stats *s)
{
	int i;

	jw_obj(w, "stats");
	for (i = 0; i < N_STATS; i++)
		if (s->present[i] && stat_names[i])
			jw_u64(w, stat_names[i], s->v[i]);
	jw_obj_end(w);
}

static void print_ago(uint64_t ns)
{
	struct timespec ts;
	int64_t now, d;

	if (!ns) {
		printf("never\n");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	d = (now - (int64_t)ns) / 1000000000;
	if (d < 0)
		d = 0;
	printf("%" PRId64 " second%s ago\n", d, d == 1 ? "" : "s");
}

/* "2026-12-07 05:10:03" (local time) of a wall-clock time in ns */
static const char *fmt_time(uint64_t ns, char *b, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	if (!localtime_r(&t, &tm) || !strftime(b, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(b, len, "%" PRIu64, ns);
	return b;
}

static const char *path_kind_name(uint32_t k)
{
	return k == JAZZ_PATH_KIND_RELAYED ? "relayed" : "direct";
}

/* "path: relayed since 2026-12-07 05:10:03 (no direct path found in 10 s)" */
static void print_path_text(const struct jz_peer *p)
{
	char b[64];

	if (!p->path_kind)
		return;
	printf("  path: %s since %s", path_kind_name(p->path_kind),
	       fmt_time(p->path_since_ns, b, sizeof(b)));
	if (p->path_reason[0])
		printf(" (%s)", p->path_reason);
	putchar('\n');
}

static void print_path_json(struct jw *w, const struct jz_peer *p)
{
	char b[64];

	if (!p->path_kind) {
		jw_null(w, "path");
		return;
	}
	jw_obj(w, "path");
	jw_str(w, "kind", path_kind_name(p->path_kind));
	jw_u64(w, "since_ns", p->path_since_ns);
	jw_str(w, "since", fmt_time(p->path_since_ns, b, sizeof(b)));
	jw_str(w, "reason", p->path_reason);
	jw_obj_end(w);
}

static void print_keys_text(const struct jz_peer *p)
{
	int i;

	for (i = 0; i < p->n_keys; i++) {
		const struct jz_keyinfo *k = &p->keys[i];

		printf("  key: %s id %u %s", slot_name(k->slot), k->key_id, cipher_name(k->cipher));
		if (k->has_tx_counter)
			printf(" tx counter %" PRIu64, k->tx_counter);
		if (k->driver[0])
			printf(" driver %s", k->driver);
		putchar('\n');
	}
}

static void print_peer_text(const struct jz_peer *p)
{
	char b[64];
	int i;

	printf("\npeer: %u\n", p->id);
	if (p->name[0])
		printf("  name: %s\n", p->name);
	if (p->remote_id)
		printf("  remote id: %u\n", p->remote_id);
	if (p->endpoint.ss_family)
		printf("  endpoint: %s\n", fmt_endpoint(&p->endpoint, true, b, sizeof(b)));
	print_path_text(p);
	printf("  allowed ips: ");
	for (i = 0; i < p->n_ips; i++)
		printf("%s%s", i ? ", " : "", fmt_prefix(&p->ips[i], b, sizeof(b)));
	printf("%s\n", p->n_ips ? "" : "(none)");
	if (p->keepalive)
		printf("  persistent keepalive: every %u seconds\n", p->keepalive);
	printf("  last rx: ");
	print_ago(p->last_rx_ns);
	print_keys_text(p);
	if (p->has_stats)
		print_stats_text("  ", &p->stats);
}

void print_peer_json(struct jw *w, const char *key, const struct jz_peer *p)
{
	char b[64];
	int i;

	jw_obj(w, key);
	jw_u64(w, "id", p->id);
	if (p->remote_id)
		jw_u64(w, "remote_id", p->remote_id);
	jw_str(w, "name", p->name);
	if (p->endpoint.ss_family)
		jw_str(w, "endpoint", fmt_endpoint(&p->endpoint, true, b, sizeof(b)));
	else
		jw_null(w, "endpoint");
	print_path_json(w, p);
	jw_arr(w, "allowed_ips");
	for (i = 0; i < p->n_ips; i++)
		jw_str(w, NULL, fmt_prefix(&p->ips[i], b, sizeof(b)));
	jw_arr_end(w);
	jw_u64(w, "persistent_keepalive", p->keepalive);
	jw_u64(w, "last_rx_ns", p->last_rx_ns);
	jw_arr(w, "keys");
	for (i = 0; i < p->n_keys; i++) {
		jw_obj(w, NULL);
		jw_str(w, "slot", slot_name(p->keys[i].slot));
		jw_u64(w, "key_id", p->keys[i].key_id);
		jw_str(w, "cipher", cipher_name(p->keys[i].cipher));
		if (p->keys[i].has_tx_counter)
			jw_u64(w, "tx_counter", p->keys[i].tx_counter);
		if (p->keys[i].driver[0])
			jw_str(w, "driver", p->keys[i].driver);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	if (p->has_stats)
		print_stats_json(w, &p->stats);
	if (p->del_reason)
		jw_str(w, "del_reason", del_reason_name(p->del_reason));
	jw_obj_end(w);
}

static void print_opt_text(const struct devopt *o, uint32_t v)
{
	switch (o->kind) {
	case DO_BOOL:
		printf("  %s: %s\n", o->arg, v ? "on" : "off");
		break;
	case DO_HEX:
		printf("  %s: 0x%x\n", o->arg, v);
		break;
	case DO_MS:
		printf("  %s: %u ms\n", o->arg, v);
		break;
	case DO_SEC:
		printf("  %s: %u s\n", o->arg, v);
		break;
	default:
		printf("  %s: %u\n", o->arg, v);
	}
}

static void print_dev_text(const struct jz_dev *d)
{
	size_t i;
	int n = 0;

	printf("device: %s\n", d->ifname);
	printf("  ifindex: %u\n  wire version: %u\n  features:", d->ifindex, d->wire_version);
	for (i = 0; i < sizeof(feature_names) / sizeof(*feature_names); i++)
		if (d->features & (1ULL << i))
			printf("%s %s", n++ ? "," : "", feature_names[i]);
	putchar('\n');
	for (i = 0; i < n_devopts; i++)
		if (d->has_opt[i])
			print_opt_text(&devopts[i], d->opt[i]);
	printf("  connections: %u\n", d->conn_count);
	if (d->has_stats)
		print_stats_text("  ", &d->stats);
	for (n = 0; n < d->n_peers; n++)
		print_peer_text(&d->peers[n]);
}

static void print_dev_json(struct jw *w, const struct jz_dev *d)
{
	size_t i;
	int n;

	jw_obj(w, NULL);
	jw_str(w, "ifname", d->ifname);
	jw_u64(w, "ifindex", d->ifindex);
	jw_u64(w, "wire_version", d->wire_version);
	jw_arr(w, "features");
	for (i = 0; i < sizeof(feature_names) / sizeof(*feature_names); i++)
		if (d->features & (1ULL << i))
			jw_str(w, NULL, feature_names[i]);
	jw_arr_end(w);
	for (i = 0; i < n_devopts; i++) {
		if (!d->has_opt[i])
			continue;
		if (devopts[i].kind == DO_BOOL)
			jw_bool(w, devopts[i].json, d->opt[i]);
		else
			jw_u64(w, devopts[i].json, d->opt[i]);
	}
	jw_u64(w, "conn_count", d->conn_count);
	if (d->has_stats)
		print_stats_json(w, &d->stats);
	jw_arr(w, "peers");
	for (n = 0; n < d->n_peers; n++)
		print_peer_json(w, NULL, &d->peers[n]);
	jw_arr_end(w);
	jw_obj_end(w);
}

/* "peers", "endpoints", "allowed-ips", "keys": one line per peer, tab separated, like wg. */
static int print_field(const struct jz_dev *d, const char *what, bool prefix)
{
	char b[64];
	int i, j;

	for (i = 0; i < d->n_peers; i++) {
		const struct jz_peer *p = &d->peers[i];

		if (prefix)
			printf("%s\t", d->ifname);
		if (!strcmp(what, "peers")) {
			printf("%u\t%s\n", p->id, p->name);
		} else if (!strcmp(what, "endpoints")) {
			printf("%u\t%s\n", p->id, p->endpoint.ss_family ?
			       fmt_endpoint(&p->endpoint, true, b, sizeof(b)) : "(none)");
		} else if (!strcmp(what, "allowed-ips")) {
			printf("%u\t", p->id);
			for (j = 0; j < p->n_ips; j++)
				printf("%s%s", j ? " " : "", fmt_prefix(&p->ips[j], b, sizeof(b)));
			printf("%s\n", p->n_ips ? "" : "(none)");
		} else if (!strcmp(what, "keys")) {
			printf("%u", p->id);
			for (j = 0; j < p->n_keys; j++)
				printf("\t%s:%u:%s", slot_name(p->keys[j].slot), p->keys[j].key_id,
				       cipher_name(p->keys[j].cipher));
			putchar('\n');
		} else {
			fprintf(stderr, "%s: show: unknown field '%s'\n", PROG, what);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static bool is_field(const char *s)
{
	return !strcmp(s, "peers") || !strcmp(s, "endpoints") ||
	       !strcmp(s, "allowed-ips") || !strcmp(s, "keys");
}

int cmd_show(int argc, char **argv)
{
	const char *dev = NULL, *field = NULL;
	struct jz_dev *devs = NULL, one;
	struct nl_err e;
	struct jw w;
	struct nl nl;
	bool json = false, all;
	int i, n = 0, rc = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!dev)
			dev = argv[i];
		else if (!field && is_field(argv[i]))
			field = argv[i];
		else {
			fprintf(stderr, "%s: show: unexpected argument '%s'\n", PROG, argv[i]);
			return EXIT_USAGE;
		}
	}
	all = !dev || !strcmp(dev, "all");
	if (field && json) {
		fprintf(stderr, "%s: show: '%s' and --json do not go together\n", PROG, field);
		return EXIT_USAGE;
	}
	if (nl_open(&nl))
		return EXIT_FAIL;
	if (all) {
		rc = fetch_devs(&nl, &devs, &n, &e);
		if (rc) {
			rc = nl_fail("dev-get dump", rc, &e);
			goto out;
		}
	} else {
		rc = fetch_dev(&nl, dev, &one, &e);
		if (rc) {
			rc = nl_fail(dev, rc, &e);
			goto out;
		}
		devs = malloc(sizeof(*devs));
		if (!devs) {
			dev_free(&one);
			rc = EXIT_FAIL;
			goto out;
		}
		devs[0] = one;
		n = 1;
	}
	for (i = 0; i < n; i++) {
		rc = fetch_peers(&nl, &devs[i], &e);
		if (rc) {
			rc = nl_fail(devs[i].ifname, rc, &e);
			goto out;
		}
	}
	jw_init(&w, stdout);
	if (json && all)
		jw_arr(&w, NULL);
	for (i = 0; i < n; i++) {
		if (field)
			rc = print_field(&devs[i], field, all);
		else if (json)
			print_dev_json(&w, &devs[i]);
		else {
			if (i)
				putchar('\n');
			print_dev_text(&devs[i]);
		}
		if (rc)
			break;
	}
	if (json && all)
		jw_arr_end(&w);
	if (json)
		putchar('\n');
out:
	for (i = 0; i < n; i++)
		dev_free(&devs[i]);
	free(devs);
	nl_close(&nl);
	return rc;
}
