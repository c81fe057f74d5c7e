// SPDX-License-Identifier: GPL-2.0
/*
 * The client's data-path metrics: one reading of the kernel device's
 * counters (jz_kstats, taken by the client from the loop once a second),
 * copied here under a lock and rendered by the listener's thread.
 *
 * Owns that copy and its rendering; must not call the kernel backend (the
 * client reads it and hands the result over). Cardinality is bounded: at
 * most JZ_METRICS_MAX_PEERS peers, one series set per distinct peer name,
 * per-peer drops only for reasons that have counted.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "metrics_int.h"

static struct {
	pthread_mutex_t lock;
	bool have;		/* a reading arrived (client with a kernel) */
	struct jz_kstats st;
	struct jz_kpeer_stats peers[JZ_METRICS_MAX_PEERS];
	uint64_t read_errors;
} ks = { .lock = PTHREAD_MUTEX_INITIALIZER };

void jz_metrics_set_kernel(const struct jz_kstats *st)
{
	size_t n = st->n_peers < JZ_METRICS_MAX_PEERS ? st->n_peers : JZ_METRICS_MAX_PEERS;

	pthread_mutex_lock(&ks.lock);
	ks.have = true;
	ks.st = *st;
	ks.st.peers = ks.peers;
	ks.st.n_peers = n;
	memcpy(ks.peers, st->peers, n * sizeof(ks.peers[0]));
	pthread_mutex_unlock(&ks.lock);
}

void jz_metrics_kernel_error(void)
{
	pthread_mutex_lock(&ks.lock);
	ks.read_errors++;
	pthread_mutex_unlock(&ks.lock);
}

/* A label value in the text format: backslash, quote and newline escaped;
 * other bytes kept (peer names are checked UTF-8 without controls). */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Peer i's name was already exported by an earlier peer (names are unique
 * on a healthy server; a duplicate would make an invalid page). */
static bool dup_name(size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (!strcmp(ks.peers[j].name, ks.peers[i].name))
			return true;
	return false;
}

enum pfield { P_RXB, P_RXP, P_TXB, P_TXP };

static uint64_t pfield(const struct jz_kcounters *c, enum pfield w)
{
	switch (w) {
	case P_RXB: return c->rx_bytes;
	case P_RXP: return c->rx_packets;
	case P_TXB: return c->tx_bytes;
	default: return c->tx_packets;
	}
}

static const struct {
	const char *suffix, *help;
} pnames[] = {
	[P_RXB] = { "receive_bytes_total", "Inner bytes received (authenticated)." },
	[P_RXP] = { "receive_packets_total", "Packets received (authenticated)." },
	[P_TXB] = { "transmit_bytes_total", "Inner bytes sent." },
	[P_TXP] = { "transmit_packets_total", "Packets sent." },
};

static void render_device(FILE *f)
{
	char name[64];
	int w, r;

	for (w = P_RXB; w <= P_TXP; w++) {
		snprintf(name, sizeof(name), "jazz_device_%s", pnames[w].suffix);
		head(f, name, "counter", pnames[w].help);
		fprintf(f, "%s %llu\n", name, (unsigned long long)pfield(&ks.st.dev, w));
	}
	head(f, "jazz_device_drops_total", "counter",
	     "Packets the device dropped, by reason (all peers and none).");
	for (r = 0; r < JZ_KDROP_N; r++)
		fprintf(f, "jazz_device_drops_total{reason=\"%s\"} %llu\n", jz_kdrop_names[r],
			(unsigned long long)ks.st.dev.drops[r]);
	/* whether the underlay's GRO hands jazz.ko batches (issue 19) */
	head(f, "jazz_device_receive_batches_total", "counter",
	     "Batches of received datagrams coalesced by GRO that jazz.ko took whole.");
	fprintf(f, "jazz_device_receive_batches_total %llu\n",
		(unsigned long long)ks.st.dev.rx_gro_batches);
	head(f, "jazz_device_receive_batched_datagrams_total", "counter",
	     "Datagrams that arrived inside those batches (also counted as received or dropped).");
	fprintf(f, "jazz_device_receive_batched_datagrams_total %llu\n",
		(unsigned long long)ks.st.dev.rx_gro_datagrams);
	head(f, "jazz_device_held_packets", "gauge", "Packets held now, waiting for a verdict.");
	fprintf(f, "jazz_device_held_packets %llu\n", (unsigned long long)ks.st.dev.held);
	head(f, "jazz_peers", "gauge", "Peers installed on the device.");
	fprintf(f, "jazz_peers %zu\n", ks.st.peers_total);
	head(f, "jazz_peers_not_exported", "gauge",
	     "Peers left out of the per-peer metrics (over the limit of "
	     "JZ_METRICS_MAX_PEERS, or a repeated name).");
}

static void render_peers(FILE *f, double now_s)
{
	size_t i, skipped = ks.st.peers_total - ks.st.n_peers;
	char name[64];
	int w, r;

	for (i = 0; i < ks.st.n_peers; i++)
		skipped += dup_name(i);
	fprintf(f, "jazz_peers_not_exported %zu\n", skipped);
	for (w = P_RXB; w <= P_TXP; w++) {
		snprintf(name, sizeof(name), "jazz_peer_%s", pnames[w].suffix);
		head(f, name, "counter", pnames[w].help);
		for (i = 0; i < ks.st.n_peers; i++) {
			if (dup_name(i))
				continue;
			fprintf(f, "%s{peer=\"", name);
			label_value(f, ks.peers[i].name);
			fprintf(f, "\"} %llu\n", (unsigned long long)pfield(&ks.peers[i].c, w));
		}
	}
	head(f, "jazz_peer_drops_total", "counter",
	     "Packets dropped for a peer, by reason (reasons that have counted).");
	for (i = 0; i < ks.st.n_peers; i++)
		for (r = 0; r < JZ_KDROP_N; r++) {
			if (!ks.peers[i].c.drops[r] || dup_name(i))
				continue;
			fprintf(f, "jazz_peer_drops_total{peer=\"");
			label_value(f, ks.peers[i].name);
			fprintf(f, "\",reason=\"%s\"} %llu\n", jz_kdrop_names[r],
				(unsigned long long)ks.peers[i].c.drops[r]);
		}
	head(f, "jazz_peer_last_receive_timestamp_seconds", "gauge",
	     "Wall-clock time of the peer's last authenticated packet (absent: none yet).");
	for (i = 0; i < ks.st.n_peers; i++) {
		if (!ks.peers[i].last_rx_ns || dup_name(i))
			continue;
		fprintf(f, "jazz_peer_last_receive_timestamp_seconds{peer=\"");
		label_value(f, ks.peers[i].name);
		fprintf(f, "\"} %.3f\n", (double)ks.peers[i].last_rx_ns / 1e9);
	}
	head(f, "jazz_peer_last_receive_age_seconds", "gauge",
	     "Seconds since the peer's last authenticated packet (absent: none yet).");
	for (i = 0; i < ks.st.n_peers; i++) {
		double age;

		if (!ks.peers[i].last_rx_ns || dup_name(i))
			continue;
		age = now_s - (double)ks.peers[i].last_rx_ns / 1e9;
		fprintf(f, "jazz_peer_last_receive_age_seconds{peer=\"");
		label_value(f, ks.peers[i].name);
		fprintf(f, "\"} %.3f\n", age > 0 ? age : 0);	/* clock stepped back: 0 */
	}
}

void jz_metrics_render_kernel(FILE *f)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&ks.lock);
	if (ks.have || ks.read_errors) {
		head(f, "jazz_kernel_read_errors_total", "counter",
		     "Failed readings of the kernel device's counters.");
		fprintf(f, "jazz_kernel_read_errors_total %llu\n",
			(unsigned long long)ks.read_errors);
	}
	if (ks.have) {
		render_device(f);
		render_peers(f, (double)now.tv_sec + (double)now.tv_nsec / 1e9);
	}
	pthread_mutex_unlock(&ks.lock);
}
