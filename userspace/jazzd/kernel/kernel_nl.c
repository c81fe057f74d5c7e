// SPDX-License-Identifier: GPL-2.0
/*
 * The real kernel backend: the jazz generic netlink family (libmnl) for
 * peers, keys and verdicts, the "approvals" multicast group for requests,
 * key-rotate and peer-roam notifications from the "notify" group, and rtnetlink
 * (libnl-route-3) for the device's addresses. Requests are synchronous
 * (the kernel answers at once); notifications arrive on a second socket
 * watched by the event loop.
 *
 * Must not decide policy (verdicts come from the server).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include <jazz.h>

#include "kernel.h"
#include "kernel_int.h"
#include "log.h"

struct knl {
	struct jz_kernel k;
	char ifname[IFNAMSIZ];
	uint32_t ifindex;
	uint16_t family;
	uint32_t approvals_grp;
	struct mnl_socket *req, *mc;
	struct knl_stun *stun;	/* kernel_stun.c; NULL: no stun group */
	bool from_kernel;	/* the message being read came from the kernel */
	/* notifications refused, by kind (each logged sparsely) */
	unsigned int rotate_refused, conn_refused, roam_refused;
	uint32_t portid;
	unsigned int seq;
	struct event *ev;
	struct nl_sock *rt;
	char *buf;
	/* addresses we set, to replace them on a new lease */
	char cur4[64], cur6[64];
};

#define K(k) ((struct knl *)(k))
#define BUFSZ (MNL_SOCKET_BUFFER_SIZE * 2)

static struct nlmsghdr *msg_start(struct knl *n, uint16_t type, uint8_t cmd,
				  uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(n->buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++n->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = type == GENL_ID_CTRL ? 1 : JAZZ_GENL_VERSION;
	return nlh;
}

/*
 * libmnl's mnl_nlmsg_ok() casts nlmsg_len to int: a length of 2^31 or more
 * passes as negative and mnl_cb_run() walks off the buffer. Any local
 * process can send to our port id, so every buffer is checked first.
 */
static bool msgs_sane(const void *buf, size_t len)
{
	const struct nlmsghdr *nlh;
	size_t step;

	while (len >= sizeof(*nlh)) {
		nlh = buf;
		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
			return false;
		step = NLMSG_ALIGN(nlh->nlmsg_len);
		if (step >= len)
			break;
		buf = (const char *)buf + step;
		len -= step;
	}
	return true;
}

/* Sends nlh and reads until the ack (or the end of a dump). */
static int transact(struct knl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	unsigned int seq = nlh->nlmsg_seq;
	int r;

	if (mnl_socket_sendto(n->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(n->req, n->buf, BUFSZ);

		if (len < 0)
			return -errno;
		if (!msgs_sane(n->buf, len))
			return -EBADMSG;
		r = mnl_cb_run(n->buf, len, seq, n->portid, cb, data);
		if (r <= MNL_CB_STOP)
			return r < 0 ? -errno : 0;
	}
}

static struct nlmsghdr *jazz_msg(struct knl *n, uint8_t cmd)
{
	struct nlmsghdr *nlh = msg_start(n, n->family, cmd, NLM_F_ACK);

	mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, n->ifindex);
	return nlh;
}

/* ---- family resolution ---- */

struct famq {
	uint16_t id;
	uint32_t grp, notify_grp, stun_grp;
};

static int grp_cb(const struct nlattr *a, void *data)
{
	struct famq *q = data;
	const struct nlattr *g;
	const char *name = NULL;
	uint32_t id = 0;

	mnl_attr_for_each_nested(g, a) {
		if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_NAME)
			name = mnl_attr_get_str(g);
		else if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_ID)
			id = mnl_attr_get_u32(g);
	}
	if (name && !strcmp(name, JAZZ_MCGRP_APPROVALS))
		q->grp = id;
	else if (name && !strcmp(name, JAZZ_MCGRP_NOTIFY))
		q->notify_grp = id;
	else if (name && !strcmp(name, JAZZ_MCGRP_STUN))
		q->stun_grp = id;
	return MNL_CB_OK;
}

static int fam_cb(const struct nlmsghdr *nlh, void *data)
{
	struct famq *q = data;
	const struct nlattr *a, *g;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			q->id = mnl_attr_get_u16(a);
		else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GROUPS)
			mnl_attr_for_each_nested(g, a)
				grp_cb(g, q);
	}
	return MNL_CB_OK;
}

/* ---- operations ---- */

static int put_addr(struct nlmsghdr *nlh, uint16_t type, const char *ip, int *family)
{
	unsigned char b[16];

	if (inet_pton(AF_INET, ip, b) == 1) {
		mnl_attr_put(nlh, type, 4, b);
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, b) == 1) {
		mnl_attr_put(nlh, type, 16, b);
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static void put_allowed(struct nlmsghdr *nlh, const char *ip, int cidr)
{
	struct nlattr *nest;
	int fam;

	if (!ip[0])
		return;
	nest = mnl_attr_nest_start(nlh, JAZZ_A_PEER_ALLOWED_IP);
	if (put_addr(nlh, JAZZ_A_ALLOWED_IP_ADDR, ip, &fam)) {
		mnl_attr_nest_cancel(nlh, nest);
		return;
	}
	mnl_attr_put_u16(nlh, JAZZ_A_ALLOWED_IP_FAMILY, fam);
	mnl_attr_put_u8(nlh, JAZZ_A_ALLOWED_IP_CIDR, cidr);
	mnl_attr_nest_end(nlh, nest);
}

static int n_peer_set(struct jz_kernel *k, const struct jz_kpeer *p, bool create)
{
	struct knl *n = K(k);
	struct nlmsghdr *nlh = jazz_msg(n, create ? JAZZ_CMD_PEER_NEW : JAZZ_CMD_PEER_SET);
	struct nlattr *nest = mnl_attr_nest_start(nlh, JAZZ_A_PEER);
	unsigned char b[16];
	int r;

	mnl_attr_put_u32(nlh, JAZZ_A_PEER_ID, p->id);
	mnl_attr_put_u32(nlh, JAZZ_A_PEER_REMOTE_ID, p->remote_id);
	mnl_attr_put_strz(nlh, JAZZ_A_PEER_NAME, p->name);
	mnl_attr_put_u32(nlh, JAZZ_A_PEER_FLAGS, JAZZ_PEER_FLAGS_REPLACE_ALLOWED_IPS);
	if (p->endpoint_ip[0] && p->endpoint_port) {
		if (inet_pton(AF_INET, p->endpoint_ip, b) == 1)
			mnl_attr_put(nlh, JAZZ_A_PEER_ENDPOINT_IP4, 4, b);
		else if (inet_pton(AF_INET6, p->endpoint_ip, b) == 1)
			mnl_attr_put(nlh, JAZZ_A_PEER_ENDPOINT_IP6, 16, b);
		mnl_attr_put_u16(nlh, JAZZ_A_PEER_ENDPOINT_PORT, htons(p->endpoint_port));
	}
	if (p->keepalive_s)
		mnl_attr_put_u16(nlh, JAZZ_A_PEER_KEEPALIVE_S, p->keepalive_s);
	put_allowed(nlh, p->vip4, 32);
	put_allowed(nlh, p->vip6, 128);
	mnl_attr_nest_end(nlh, nest);
	r = transact(n, nlh, NULL, NULL);
	if (r == -EEXIST && create)
		return n_peer_set(k, p, false);
	if (r)
		jz_err("netlink: peer %s %s: %s", create ? "new" : "set", p->name, strerror(-r));
	return r;
}

/* peer-set with only the id and the path record (the kernel stamps it). */
static int n_path_set(struct jz_kernel *k, uint32_t peer_id, int kind, const char *reason)
{
	struct knl *n = K(k);
	struct nlmsghdr *nlh = jazz_msg(n, JAZZ_CMD_PEER_SET);
	struct nlattr *nest = mnl_attr_nest_start(nlh, JAZZ_A_PEER), *path;
	char buf[JAZZ_PATH_REASON_MAX + 1];
	int r;

	snprintf(buf, sizeof(buf), "%s", reason);
	mnl_attr_put_u32(nlh, JAZZ_A_PEER_ID, peer_id);
	path = mnl_attr_nest_start(nlh, JAZZ_A_PEER_PATH);
	mnl_attr_put_u32(nlh, JAZZ_A_PATH_KIND, (uint32_t)kind);
	mnl_attr_put_strz(nlh, JAZZ_A_PATH_REASON, buf);
	mnl_attr_nest_end(nlh, path);
	mnl_attr_nest_end(nlh, nest);
	r = transact(n, nlh, NULL, NULL);
	if (r)
		jz_err("netlink: path record of peer %u: %s", peer_id, strerror(-r));
	return r;
}

static int n_peer_del(struct jz_kernel *k, uint32_t id)
{
	struct knl *n = K(k);
	struct nlmsghdr *nlh = jazz_msg(n, JAZZ_CMD_PEER_DEL);
	struct nlattr *nest = mnl_attr_nest_start(nlh, JAZZ_A_PEER);
	int r;

	mnl_attr_put_u32(nlh, JAZZ_A_PEER_ID, id);
	mnl_attr_nest_end(nlh, nest);
	r = transact(n, nlh, NULL, NULL);
	if (r && r != -ENOENT)
		jz_err("netlink: peer-del %u: %s", id, strerror(-r));
	return r == -ENOENT ? 0 : r;
}

static void put_keydir(struct nlmsghdr *nlh, uint16_t type, const uint8_t *key,
		       const uint8_t *salt)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);

	mnl_attr_put(nlh, JAZZ_A_KEYDIR_KEY, JAZZ_KEY_LEN, key);
	mnl_attr_put(nlh, JAZZ_A_KEYDIR_SALT, JAZZ_SALT_LEN, salt);
	mnl_attr_nest_end(nlh, nest);
}

static int n_key_new(struct jz_kernel *k, const struct jz_kkey *key)
{
	struct knl *n = K(k);
	struct nlmsghdr *nlh = jazz_msg(n, JAZZ_CMD_KEY_NEW);
	struct nlattr *nest = mnl_attr_nest_start(nlh, JAZZ_A_KEY);
	int r;

	mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_PEER_ID, key->peer_id);
	mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_SLOT, key->slot);
	mnl_attr_put_u8(nlh, JAZZ_A_KEYCONF_KEY_ID, key->key_id);
	mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_CIPHER, key->cipher);
	put_keydir(nlh, JAZZ_A_KEYCONF_ENCRYPT, key->tx_key, key->tx_salt);
	put_keydir(nlh, JAZZ_A_KEYCONF_DECRYPT, key->rx_key, key->rx_salt);
	mnl_attr_nest_end(nlh, nest);
	r = transact(n, nlh, NULL, NULL);
	/* the request held key material: wipe the buffer */
	memset(n->buf, 0, BUFSZ);
	if (r)
		jz_err("netlink: key-new peer %u: %s", key->peer_id, strerror(-r));
	return r;
}

static int n_key_swap(struct jz_kernel *k, uint32_t peer_id)
{
	struct knl *n = K(k);
	struct nlmsghdr *nlh = jazz_msg(n, JAZZ_CMD_KEY_SWAP);
	struct nlattr *nest = mnl_attr_nest_start(nlh, JAZZ_A_KEY);
	int r;

	mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_PEER_ID, peer_id);
	mnl_attr_nest_end(nlh, nest);
	r = transact(n, nlh, NULL, NULL);
	if (r)
		jz_err("netlink: key-swap peer %u: %s", peer_id, strerror(-r));
	return r;
}

static int n_key_del(struct jz_kernel *k, uint32_t peer_id, int slot)
{
	struct knl *n = K(k);
	struct nlmsghdr *nlh = jazz_msg(n, JAZZ_CMD_KEY_DEL);
	struct nlattr *nest = mnl_attr_nest_start(nlh, JAZZ_A_KEY);
	int r;

	mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_PEER_ID, peer_id);
	mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_SLOT, slot);
	mnl_attr_nest_end(nlh, nest);
	r = transact(n, nlh, NULL, NULL);
	if (r)
		jz_err("netlink: key-del peer %u: %s", peer_id, strerror(-r));
	return r;
}

static int n_conn_flush(struct jz_kernel *k, uint32_t peer_id)
{
	struct knl *n = K(k);
	struct nlmsghdr *nlh = jazz_msg(n, JAZZ_CMD_CONN_FLUSH);
	struct nlattr *nest = mnl_attr_nest_start(nlh, JAZZ_A_CONN);
	int r;

	mnl_attr_put_u32(nlh, JAZZ_A_CONN_PEER_ID, peer_id);
	mnl_attr_nest_end(nlh, nest);
	r = transact(n, nlh, NULL, NULL);
	if (r && r != -ENODEV)
		jz_err("netlink: conn-flush peer %u: %s", peer_id, strerror(-r));
	return r;
}

static int n_verdict(struct jz_kernel *k, const struct jz_kconn *c, bool approve,
		     uint32_t lifetime)
{
	struct knl *n = K(k);
	struct nlmsghdr *nlh = jazz_msg(n, JAZZ_CMD_CONN_VERDICT);
	struct nlattr *nest = mnl_attr_nest_start(nlh, JAZZ_A_CONN);
	int fam = 0, fam2 = 0, r;

	if (c->cookie)
		mnl_attr_put_u64(nlh, JAZZ_A_CONN_COOKIE, c->cookie);
	if (c->peer_id)
		mnl_attr_put_u32(nlh, JAZZ_A_CONN_PEER_ID, c->peer_id);
	mnl_attr_put_u8(nlh, JAZZ_A_CONN_DIRECTION, c->direction);
	mnl_attr_put_u8(nlh, JAZZ_A_CONN_PROTO, c->proto);
	if (put_addr(nlh, JAZZ_A_CONN_SRC_ADDR, c->src, &fam) ||
	    put_addr(nlh, JAZZ_A_CONN_DST_ADDR, c->dst, &fam2) || fam != fam2) {
		mnl_attr_nest_cancel(nlh, nest);
		jz_err("netlink: verdict with bad addresses %s -> %s", c->src, c->dst);
		return -EINVAL;
	}
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_FAMILY, fam);
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_SRC_PORT, htons(c->sport));
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_DST_PORT, htons(c->dport));
	mnl_attr_put_u8(nlh, JAZZ_A_CONN_VERDICT, approve ? JAZZ_VERDICT_APPROVE
							   : JAZZ_VERDICT_DENY);
	mnl_attr_put_u32(nlh, JAZZ_A_CONN_LIFETIME_S, lifetime);
	mnl_attr_nest_end(nlh, nest);
	r = transact(n, nlh, NULL, NULL);
	if (r && c->cookie && r == -ENOENT) {
		/* the held packet is gone (timed out): install by addresses */
		struct jz_kconn c2 = *c;

		c2.cookie = 0;
		return n_verdict(k, &c2, approve, lifetime);
	}
	if (r)
		jz_err("netlink: conn-verdict: %s", strerror(-r));
	return r;
}

static int port_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == JAZZ_A_LISTEN_PORT)
			*(int *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

static void link_up(struct knl *n);

/* The port the device's UDP socket is bound to. jazz.ko opens that socket
 * when the link goes up, and a device made without a port gets a random
 * one then: read before, it is 0, and the peers would be told no port. */
static int n_port(struct jz_kernel *k)
{
	struct knl *n = K(k);
	struct nlmsghdr *nlh;
	int port = 0;

	link_up(n);
	nlh = jazz_msg(n, JAZZ_CMD_DEV_GET);
	if (transact(n, nlh, port_cb, &port))
		return 0;
	if (!port)
		jz_warn("kernel: %s has no listen port (is it down?): peers get no endpoint "
			"for this device until it sends to them", n->ifname);
	return port;
}

/* ---- counters: DEV_GET and a PEER_GET dump (parsed in kernel_parse.c) ---- */

int jz_knl_parse_stats(const void *buf, size_t len, struct jz_kstats *st)
{
	struct jz_knl_peers_q q = { .st = st };

	st->n_peers = st->peers_total = 0;
	if (!msgs_sane(buf, len))
		return -1;
	return mnl_cb_run(buf, len, 0, 0, jz_knl_stats_any_cb, &q);
}

static int n_stats(struct jz_kernel *k, struct jz_kstats *st)
{
	struct knl *n = K(k);
	struct jz_knl_peers_q q = { .st = st };
	struct nlmsghdr *nlh;
	int r, tries = 0;

	memset(&st->dev, 0, sizeof(st->dev));
	r = transact(n, jazz_msg(n, JAZZ_CMD_DEV_GET), jz_knl_stats_dev_cb, &st->dev);
	if (r)
		return r;
	do {	/* a dump that spans a peer change is marked: read it again */
		st->n_peers = st->peers_total = 0;
		q.last_id = 0;
		q.intr = false;
		nlh = msg_start(n, n->family, JAZZ_CMD_PEER_GET, NLM_F_DUMP);
		mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, n->ifindex);
		r = transact(n, nlh, jz_knl_stats_peers_cb, &q);
	} while (!r && q.intr && ++tries < 3);
	return r;
}

static int set_one_addr(struct knl *n, const char *cidr, char *cur, size_t curlen)
{
	struct rtnl_addr *a;
	struct nl_addr *local;
	int r;

	if (!strcmp(cur, cidr))
		return 0;
	if (cur[0] && nl_addr_parse(cur, AF_UNSPEC, &local) == 0) {
		a = rtnl_addr_alloc();
		rtnl_addr_set_ifindex(a, (int)n->ifindex);
		rtnl_addr_set_local(a, local);
		rtnl_addr_delete(n->rt, a, 0);
		rtnl_addr_put(a);
		nl_addr_put(local);
	}
	if (nl_addr_parse(cidr, AF_UNSPEC, &local))
		return -EINVAL;
	a = rtnl_addr_alloc();
	rtnl_addr_set_ifindex(a, (int)n->ifindex);
	rtnl_addr_set_local(a, local);
	/* the prefix length makes the kernel add the route on the device */
	r = rtnl_addr_add(n->rt, a, NLM_F_REPLACE);
	rtnl_addr_put(a);
	nl_addr_put(local);
	if (r && r != -NLE_EXIST) {
		jz_err("rtnetlink: address %s on %s: %s", cidr, n->ifname, nl_geterror(r));
		return -1;
	}
	snprintf(cur, curlen, "%s", cidr);
	return 0;
}

/* Sets the device up (a no-op when it is). */
static void link_up(struct knl *n)
{
	struct rtnl_link *link = NULL, *change;

	if (rtnl_link_get_kernel(n->rt, (int)n->ifindex, NULL, &link))
		return;
	if (!(rtnl_link_get_flags(link) & IFF_UP)) {
		change = rtnl_link_alloc();
		rtnl_link_set_flags(change, IFF_UP);
		if (rtnl_link_change(n->rt, link, change, 0))
			jz_err("rtnetlink: cannot bring %s up", n->ifname);
		rtnl_link_put(change);
	}
	rtnl_link_put(link);
}

static int n_addr(struct jz_kernel *k, const char *v4, int p4, const char *v6, int p6)
{
	struct knl *n = K(k);
	char c4[64], c6[64];
	int r = 0;

	snprintf(c4, sizeof(c4), "%s/%d", v4, p4);
	snprintf(c6, sizeof(c6), "%s/%d", v6, p6);
	if (v4[0])
		r |= set_one_addr(n, c4, n->cur4, sizeof(n->cur4));
	if (v6[0])
		r |= set_one_addr(n, c6, n->cur6, sizeof(n->cur6));
	link_up(n);
	return r;
}

/* ---- notifications ---- */

/*
 * Answer an approver probe of our device (jazzctl probe): the health check
 * of this listener. Synchronous like every request here; ENOENT means
 * another listener (jazzctl answer, a second daemon) answered first.
 */
static void probe_reply(struct knl *n, const struct nlattr *probe)
{
	const struct nlattr *a;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	uint64_t cookie = 0;
	int r;

	mnl_attr_for_each_nested(a, probe)
		if (mnl_attr_get_type(a) == JAZZ_A_PROBE_COOKIE &&
		    !mnl_attr_validate(a, MNL_TYPE_U64))
			cookie = mnl_attr_get_u64(a);
	if (!cookie)
		return;
	nlh = jazz_msg(n, JAZZ_CMD_APPROVER_PROBE_REPLY);
	nest = mnl_attr_nest_start(nlh, JAZZ_A_PROBE);
	mnl_attr_put_u64(nlh, JAZZ_A_PROBE_COOKIE, cookie);
	mnl_attr_nest_end(nlh, nest);
	r = transact(n, nlh, NULL, NULL);
	if (r == -ENOENT)
		jz_debug("netlink: approver probe %llu answered by another listener",
			 (unsigned long long)cookie);
	else if (r)
		jz_warn("approver probe %llu: reply failed: %s", (unsigned long long)cookie,
			strerror(-r));
}

/*
 * Only the kernel sends notifications (any local process could write to our
 * port id); a refused one is logged the first time and then every 1000th,
 * so a flood cannot fill the log.
 */
static void refuse(const struct knl *n, const char *what, unsigned int *count)
{
	if ((*count)++ % 1000 == 0)
		jz_warn("netlink: %s %s: ignored (%u so far)", what,
			n->from_kernel ? "malformed" : "not from the kernel", *count);
}

static void on_rotate_msg(struct knl *n, const struct nlmsghdr *nlh)
{
	struct jz_krotate r;
	int rc = n->from_kernel ? jz_knl_parse_rotate(nlh, n->ifindex, &r) : -1;

	if (rc == -2)
		return;		/* another jazz device's */
	if (rc) {
		refuse(n, "key-rotate", &n->rotate_refused);
		return;
	}
	if (n->k.on_rotate)
		n->k.on_rotate(n->k.arg, &r);
}

static void on_roam_msg(struct knl *n, const struct nlmsghdr *nlh)
{
	struct jz_kroam r;
	int rc = n->from_kernel ? jz_knl_parse_roam(nlh, n->ifindex, &r) : -1;

	if (rc == -1)
		refuse(n, "peer-roam", &n->roam_refused);
	else if (!rc && n->k.on_roam)
		n->k.on_roam(n->k.arg, &r);
}

static void on_conn_msg(struct knl *n, const struct nlmsghdr *nlh, bool expire)
{
	struct jz_kconn kc;
	int rc = n->from_kernel ? jz_knl_parse_conn(nlh, n->ifindex, &kc) : -1;

	if (rc == -2)
		return;
	if (rc) {
		refuse(n, expire ? "conn-expire" : "conn-request", &n->conn_refused);
		return;
	}
	if (n->k.on_conn)
		n->k.on_conn(n->k.arg, &kc, expire);
}

static void on_probe_msg(struct knl *n, const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *probe = NULL;
	bool mine = false;

	if (!n->from_kernel)
		return;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == JAZZ_A_IFINDEX)
			mine = !mnl_attr_validate(a, MNL_TYPE_U32) &&
			       mnl_attr_get_u32(a) == n->ifindex;
		else if (mnl_attr_get_type(a) == JAZZ_A_PROBE &&
			 !mnl_attr_validate(a, MNL_TYPE_NESTED))
			probe = a;
	}
	if (mine && probe)
		probe_reply(n, probe);
}

static int ntf_cb(const struct nlmsghdr *nlh, void *data)
{
	struct knl *n = data;
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != n->family ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*g))
		return MNL_CB_OK;
	switch (g->cmd) {
	case JAZZ_CMD_KEY_ROTATE_NTF:
		on_rotate_msg(n, nlh);
		break;
	case JAZZ_CMD_PEER_ROAM_NTF:
		on_roam_msg(n, nlh);
		break;
	case JAZZ_CMD_CONN_REQUEST_NTF:
	case JAZZ_CMD_CONN_EXPIRE_NTF:
		on_conn_msg(n, nlh, g->cmd == JAZZ_CMD_CONN_EXPIRE_NTF);
		break;
	case JAZZ_CMD_APPROVER_PROBE_NTF:
		on_probe_msg(n, nlh);
		break;
	}
	return MNL_CB_OK;
}

static void on_mc(evutil_socket_t fd, short what, void *arg)
{
	struct knl *n = arg;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct sockaddr_nl from;
	socklen_t flen = sizeof(from);
	ssize_t len;

	while ((len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			       (struct sockaddr *)&from, &flen)) > 0) {
		n->from_kernel = flen >= sizeof(from) && from.nl_pid == 0;
		if (msgs_sane(buf, len))
			mnl_cb_run(buf, len, 0, 0, ntf_cb, n);
		flen = sizeof(from);
	}
	if (len < 0 && errno == ENOBUFS)
		jz_warn("netlink: approval requests or key-rotate notifications lost "
			"(receive buffer overrun); the kernel repeats pending requests "
			"every second, and keys rotate by time anyway");
}

/*
 * A burst of new connections must not overrun the approvals socket: a big
 * receive buffer, and NETLINK_BROADCAST_ERROR so that an overrun is
 * reported to the kernel (which keeps the connections pending and repeats
 * their requests) instead of being taken for "nobody listens" (which
 * resolves every pending connection at once, closed).
 */
#define MC_RCVBUF (8 << 20)

static void mc_socket_tune(struct knl *n)
{
	int fd = mnl_socket_get_fd(n->mc), size = MC_RCVBUF, one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)))
		jz_warn("netlink: cannot enlarge the approvals receive buffer: %s",
			strerror(errno));
	if (mnl_socket_setsockopt(n->mc, NETLINK_BROADCAST_ERROR, &one, sizeof(one)))
		jz_warn("netlink: NETLINK_BROADCAST_ERROR: %s", strerror(errno));
}

static void n_free(struct jz_kernel *k)
{
	struct knl *n = K(k);

	if (n->ev)
		event_free(n->ev);
	jz_knl_stun_free(n->stun);
	if (n->mc)
		mnl_socket_close(n->mc);
	if (n->req)
		mnl_socket_close(n->req);
	if (n->rt)
		nl_socket_free(n->rt);
	free(n->buf);
	free(n);
}

static int n_stun_send(struct jz_kernel *k, const struct sockaddr_storage *to,
		       const void *msg, size_t len)
{
	return jz_knl_stun_send(K(k)->stun, to, msg, len);
}

static const struct jz_kernel_ops nl_ops = {
	.set_addresses = n_addr,
	.peer_set = n_peer_set,
	.path_set = n_path_set,
	.peer_del = n_peer_del,
	.key_new = n_key_new,
	.key_swap = n_key_swap,
	.key_del = n_key_del,
	.conn_flush = n_conn_flush,
	.conn_verdict = n_verdict,
	.listen_port = n_port,
	.stats = n_stats,
	.stun_send = n_stun_send,
	.free = n_free,
};

struct jz_kernel *jz_kernel_nl_new(struct event_base *base, const struct jz_config *c,
				   char *err, size_t errlen)
{
	struct knl *n = calloc(1, sizeof(*n));
	struct famq q = { 0 };
	struct nlmsghdr *nlh;
	int grp, ngrp;

	n->k.ops = &nl_ops;
	n->k.base = base;
	n->buf = calloc(1, BUFSZ);
	n->seq = (unsigned int)time(NULL);
	snprintf(n->ifname, sizeof(n->ifname), "%s", c->ifname);
	n->ifindex = if_nametoindex(c->ifname);
	if (!n->ifindex) {
		snprintf(err, errlen, "no device %s (ip link add %s type jazz)", c->ifname,
			 c->ifname);
		goto fail;
	}
	n->req = mnl_socket_open(NETLINK_GENERIC);
	n->mc = mnl_socket_open(NETLINK_GENERIC);
	if (!n->req || !n->mc || mnl_socket_bind(n->req, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_bind(n->mc, 0, MNL_SOCKET_AUTOPID)) {
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		goto fail;
	}
	n->portid = mnl_socket_get_portid(n->req);
	nlh = msg_start(n, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_ACK);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, JAZZ_GENL_NAME);
	if (transact(n, nlh, fam_cb, &q) || !q.id) {
		snprintf(err, errlen, "generic netlink family %s not found (modprobe jazz)",
			 JAZZ_GENL_NAME);
		goto fail;
	}
	n->family = q.id;
	grp = (int)q.grp;
	if (!grp || mnl_socket_setsockopt(n->mc, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp))) {
		snprintf(err, errlen, "cannot join the %s group: %s", JAZZ_MCGRP_APPROVALS,
			 strerror(errno));
		goto fail;
	}
	/* key-rotate-ntf (device keys rekey by packet count); without it
	 * keys still rotate by time */
	ngrp = (int)q.notify_grp;
	if (!ngrp || mnl_socket_setsockopt(n->mc, NETLINK_ADD_MEMBERSHIP, &ngrp, sizeof(ngrp)))
		jz_warn("netlink: cannot join the %s group (%s): no rotation by packet count",
			JAZZ_MCGRP_NOTIFY, ngrp ? strerror(errno) : "no such group");
	mc_socket_tune(n);
	n->stun = jz_knl_stun_new(&n->k, n->family, q.stun_grp, n->ifindex, n->ifname);
	n->rt = nl_socket_alloc();
	if (nl_connect(n->rt, NETLINK_ROUTE)) {
		snprintf(err, errlen, "rtnetlink: cannot connect");
		goto fail;
	}
	n->ev = event_new(base, mnl_socket_get_fd(n->mc), EV_READ | EV_PERSIST, on_mc, n);
	event_add(n->ev, NULL);
	jz_info("kernel: %s (ifindex %u), family %s id %u, approvals group %d", n->ifname,
		n->ifindex, JAZZ_GENL_NAME, n->family, grp);
	return &n->k;
fail:
	n_free(&n->k);
	return NULL;
}
