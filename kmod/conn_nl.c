// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: direct-connection checks, generic netlink side: conn-request-ntf
 * and conn-expire-ntf on the "approvals" group, and the conn-get,
 * conn-verdict, conn-del and conn-flush handlers, and the approver probe
 * (approver-probe, approver-probe-reply); device resolved and config mutex
 * held by netlink.c.
 */
#include <linux/jiffies.h>
#include <linux/random.h>
#include <linux/ktime.h>
#include <net/genetlink.h>
#include <jazz.h>
#include "device.h"
#include "peer.h"
#include "netlink.h"
#include "conn.h"

/* ifindex and one conn nest with every attribute, rounded up. */
#define JAZZ_CONN_MSG_SIZE	512

static u64 jazz_ms_since(unsigned long then)
{
	long d = (long)(jiffies - then);

	return d > 0 ? jiffies_to_msecs(d) : 0;
}

/* One conn nest; @end 0 leaves the end attribute out. */
int jazz_conn_fill(struct sk_buff *msg, struct jazz_conn *c, u8 end)
{
	int alen = c->key.family == AF_INET ? 4 : 16;
	u8 state = READ_ONCE(c->state);
	struct nlattr *nest;

	if (state == JAZZ_CONN_STATE_RELEASING)
		state = JAZZ_CONN_STATE_APPROVED;
	nest = nla_nest_start(msg, JAZZ_A_CONN);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(msg, JAZZ_A_CONN_COOKIE, c->cookie,
			      JAZZ_A_CONN_PAD) ||
	    nla_put_u32(msg, JAZZ_A_CONN_PEER_ID, c->peer_id) ||
	    nla_put_string(msg, JAZZ_A_CONN_PEER_NAME, c->peer->name) ||
	    nla_put_u8(msg, JAZZ_A_CONN_DIRECTION, c->direction) ||
	    nla_put_u8(msg, JAZZ_A_CONN_PROTO, c->key.proto) ||
	    nla_put_u16(msg, JAZZ_A_CONN_FAMILY, c->key.family) ||
	    nla_put(msg, JAZZ_A_CONN_SRC_ADDR, alen, &c->origin) ||
	    nla_put_be16(msg, JAZZ_A_CONN_SRC_PORT, c->oport) ||
	    nla_put(msg, JAZZ_A_CONN_DST_ADDR, alen, &c->resp) ||
	    nla_put_be16(msg, JAZZ_A_CONN_DST_PORT, c->rport) ||
	    nla_put_u8(msg, JAZZ_A_CONN_STATE, state) ||
	    (c->lifetime_s &&
	     nla_put_u32(msg, JAZZ_A_CONN_LIFETIME_S, c->lifetime_s)) ||
	    nla_put_u64_64bit(msg, JAZZ_A_CONN_AGE_MS,
			      jazz_ms_since(c->created), JAZZ_A_CONN_PAD) ||
	    nla_put_u64_64bit(msg, JAZZ_A_CONN_IDLE_MS,
			      jazz_ms_since(READ_ONCE(c->last_used)),
			      JAZZ_A_CONN_PAD) ||
	    nla_put_u64_64bit(msg, JAZZ_A_CONN_PACKETS,
			      atomic64_read(&c->packets), JAZZ_A_CONN_PAD) ||
	    nla_put_u64_64bit(msg, JAZZ_A_CONN_BYTES,
			      atomic64_read(&c->bytes), JAZZ_A_CONN_PAD) ||
	    nla_put_u32(msg, JAZZ_A_CONN_HELD, skb_queue_len_lockless(&c->held)) ||
	    (end && nla_put_u8(msg, JAZZ_A_CONN_END, end)) ||
	    (READ_ONCE(c->wait_ns) &&
	     nla_put_u64_64bit(msg, JAZZ_A_CONN_WAIT_NS, READ_ONCE(c->wait_ns),
			       JAZZ_A_CONN_PAD)) ||
	    (READ_ONCE(c->verdict_ns) &&
	     nla_put_u64_64bit(msg, JAZZ_A_CONN_VERDICT_NS,
			       READ_ONCE(c->verdict_ns), JAZZ_A_CONN_PAD))) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

/* A notification about @c, or NULL (no memory). Any context. */
struct sk_buff *jazz_conn_msg(struct jazz_conn_table *t, struct jazz_conn *c,
			      u8 cmd, u8 end)
{
	struct sk_buff *msg;
	void *hdr;

	/* Sized to the message: listeners' buffers hold more requests. */
	msg = genlmsg_new(JAZZ_CONN_MSG_SIZE, GFP_ATOMIC);
	if (!msg)
		return NULL;
	hdr = genlmsg_put(msg, 0, 0, &jazz_genl_family, 0, cmd);
	if (!hdr || nla_put_u32(msg, JAZZ_A_IFINDEX, t->jd->dev->ifindex) ||
	    jazz_conn_fill(msg, c, end)) {
		nlmsg_free(msg);
		return NULL;
	}
	genlmsg_end(msg, hdr);
	return msg;
}

/*
 * Multicast a notification about @c if anyone listens; returns -ESRCH when
 * no listener of the device's namespace got it. RCU or lock held.
 */
int jazz_conn_notify(struct jazz_conn_table *t, struct jazz_conn *c, u8 cmd,
		     u8 end)
{
	struct net *net = dev_net(t->jd->dev);
	struct sk_buff *msg;

	if (!jazz_approvals_listening(net))
		return -ESRCH;
	msg = jazz_conn_msg(t, c, cmd, end);
	if (!msg)
		return -ENOMEM;
	return jazz_approvals_multicast(net, msg);
}

/* ---- requests ---- */

static struct jazz_conn_table *jazz_nl_table(struct jazz_device *jd,
					     struct netlink_ext_ack *extack)
{
	struct jazz_conn_table *t = jd->conn;

	if (!t)
		NL_SET_ERR_MSG(extack, "device is going away");
	return t;
}

static int jazz_nl_conn_parse(struct genl_info *info, struct nlattr **tb,
			      bool required)
{
	struct nlattr *nest = info->attrs[JAZZ_A_CONN];

	memset(tb, 0, sizeof(*tb) * (JAZZ_A_CONN_ATTR_MAX + 1));
	if (!nest) {
		if (!required)
			return 0;
		NL_SET_ERR_MSG(info->extack, "the conn attribute is required");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, JAZZ_A_CONN);
		return -EINVAL;
	}
	/* Validated against the conn policy when the request was parsed. */
	return nla_parse_nested_deprecated(tb, JAZZ_A_CONN_ATTR_MAX, nest, NULL,
					   info->extack);
}

/* The connection's addresses from a request into @tu. */
static int jazz_nl_conn_tuple(struct nlattr **tb, struct jazz_conn_tuple *tu,
			      struct netlink_ext_ack *extack)
{
	static const int need[] = { JAZZ_A_CONN_PROTO, JAZZ_A_CONN_FAMILY,
				    JAZZ_A_CONN_SRC_ADDR, JAZZ_A_CONN_DST_ADDR };
	int i, alen;
	u16 family;
	u8 proto;

	for (i = 0; i < ARRAY_SIZE(need); i++) {
		if (!tb[need[i]]) {
			NL_SET_ERR_MSG(extack,
				       "give a cookie, or proto, family, src-addr and dst-addr");
			NL_SET_ERR_ATTR_MISS(extack, NULL, need[i]);
			return -EINVAL;
		}
	}
	family = nla_get_u16(tb[JAZZ_A_CONN_FAMILY]);
	proto = nla_get_u8(tb[JAZZ_A_CONN_PROTO]);
	if (family != AF_INET && family != AF_INET6) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_CONN_FAMILY],
				    "family must be AF_INET or AF_INET6");
		return -EAFNOSUPPORT;
	}
	alen = family == AF_INET ? 4 : 16;
	if (nla_len(tb[JAZZ_A_CONN_SRC_ADDR]) != alen) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_CONN_SRC_ADDR],
				    "src-addr length does not match family");
		return -EINVAL;
	}
	if (nla_len(tb[JAZZ_A_CONN_DST_ADDR]) != alen) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_CONN_DST_ADDR],
				    "dst-addr length does not match family");
		return -EINVAL;
	}
	memset(tu, 0, sizeof(*tu));
	nla_memcpy(&tu->src, tb[JAZZ_A_CONN_SRC_ADDR], alen);
	nla_memcpy(&tu->dst, tb[JAZZ_A_CONN_DST_ADDR], alen);
	if (tb[JAZZ_A_CONN_SRC_PORT])
		tu->sport = nla_get_be16(tb[JAZZ_A_CONN_SRC_PORT]);
	if (tb[JAZZ_A_CONN_DST_PORT])
		tu->dport = nla_get_be16(tb[JAZZ_A_CONN_DST_PORT]);
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		/* Both "ports" are the echo identifier. */
		if (!tu->sport)
			tu->sport = tu->dport;
		tu->dport = tu->sport;
	}
	jazz_conn_key_make(&tu->key, family, proto, &tu->src, tu->sport,
			   &tu->dst, tu->dport);
	return 0;
}

/*
 * The entry a request names, by cookie or by addresses. Returns NULL with
 * *err set; with addresses and no entry, *err is -ENOENT and @tu is filled
 * (for a verdict ahead of traffic). The caller holds rcu_read_lock() for
 * as long as it uses the entry: the GC may unlink it at any time (it does
 * not take the config mutex), and entries are freed after RCU; the
 * functions it calls check c->unlinked under the table lock.
 */
static struct jazz_conn *jazz_nl_conn_find(struct jazz_conn_table *t,
					   struct nlattr **tb,
					   struct jazz_conn_tuple *tu,
					   struct netlink_ext_ack *extack,
					   int *err)
{
	struct jazz_conn *c;

	*err = 0;
	if (tb[JAZZ_A_CONN_COOKIE]) {
		spin_lock_bh(&t->lock);
		c = jazz_conn_by_cookie(t, nla_get_u64(tb[JAZZ_A_CONN_COOKIE]));
		spin_unlock_bh(&t->lock);
		if (!c) {
			NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_CONN_COOKIE],
					    "no connection with this cookie (unknown, or expired)");
			*err = -ENOENT;
		}
		return c;
	}
	*err = jazz_nl_conn_tuple(tb, tu, extack);
	if (*err)
		return NULL;
	spin_lock_bh(&t->lock);
	c = jazz_conn_lookup(t, &tu->key);
	spin_unlock_bh(&t->lock);
	if (!c) {
		NL_SET_ERR_MSG(extack, "no connection with these addresses");
		*err = -ENOENT;
	}
	return c;
}

int jazz_nl_conn_get(struct jazz_device *jd, struct sk_buff *skb,
		     struct genl_info *info)
{
	struct nlattr *tb[JAZZ_A_CONN_ATTR_MAX + 1];
	struct jazz_conn_table *t;
	struct jazz_conn_tuple tu;
	struct jazz_conn *c;
	struct sk_buff *msg;
	void *hdr;
	int err;

	t = jazz_nl_table(jd, info->extack);
	if (!t)
		return -ENODEV;
	err = jazz_nl_conn_parse(info, tb, true);
	if (err)
		return err;
	/* Allocated first: no sleeping between the lookup and the use. */
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &jazz_genl_family, 0,
				JAZZ_CMD_CONN_GET);
	rcu_read_lock();
	c = jazz_nl_conn_find(t, tb, &tu, info->extack, &err);
	if (c)
		err = !hdr || nla_put_u32(msg, JAZZ_A_IFINDEX, jd->dev->ifindex) ||
		      jazz_conn_fill(msg, c, 0) ? -EMSGSIZE : 0;
	rcu_read_unlock();
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/*
 * Dump: one message per batch of entries, the position in cb->args[0].
 * Entries come and go between messages (an unlink shifts the positions):
 * cb->seq is the table's generation, so a dump that spans a link or an
 * unlink carries NLM_F_DUMP_INTR and the reader starts over, as with
 * WireGuard's peer dump.
 */
int jazz_nl_conn_dump(struct jazz_device *jd, struct sk_buff *skb,
		      struct netlink_callback *cb)
{
	struct jazz_conn_table *t = jd->conn;
	long idx = 0, sent = 0;
	struct jazz_conn *c;
	bool done = true;
	void *hdr;

	if (!t || cb->args[1])
		return 0;
	spin_lock_bh(&t->lock);
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &jazz_genl_family, NLM_F_MULTI, JAZZ_CMD_CONN_GET);
	if (!hdr || nla_put_u32(skb, JAZZ_A_IFINDEX, jd->dev->ifindex)) {
		spin_unlock_bh(&t->lock);
		if (hdr)
			genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	cb->seq = t->gen ?: 1;
	genl_dump_check_consistent(cb, hdr);
	list_for_each_entry(c, &t->all, node) {
		if (idx++ < cb->args[0])
			continue;
		if (jazz_conn_fill(skb, c, 0)) {
			done = false;
			break;
		}
		sent++;
	}
	spin_unlock_bh(&t->lock);
	if (done)
		cb->args[1] = 1;
	if (!sent && !done) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	cb->args[0] += sent;
	genlmsg_end(skb, hdr);
	return skb->len;
}

/*
 * A verdict applies only to the connection it was asked about (issue 15):
 * a peer-id given with it must be the entry's peer, and addresses given
 * with a cookie must be the entry's. Verdicts with the cookie alone are
 * still taken (older clients).
 */
static int jazz_nl_conn_match(struct jazz_conn *c, struct nlattr **tb,
			      struct netlink_ext_ack *extack)
{
	struct jazz_conn_tuple tu;
	int err;

	if (tb[JAZZ_A_CONN_PEER_ID] &&
	    nla_get_u32(tb[JAZZ_A_CONN_PEER_ID]) != c->peer_id) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_CONN_PEER_ID],
				    "peer-id is not the connection's peer");
		return -EINVAL;
	}
	if (!tb[JAZZ_A_CONN_COOKIE] ||
	    (!tb[JAZZ_A_CONN_FAMILY] && !tb[JAZZ_A_CONN_PROTO] &&
	     !tb[JAZZ_A_CONN_SRC_ADDR] && !tb[JAZZ_A_CONN_DST_ADDR]))
		return 0;
	err = jazz_nl_conn_tuple(tb, &tu, extack);
	if (err)
		return err;
	if (!jazz_conn_key_eq(&tu.key, &c->key)) {
		NL_SET_ERR_MSG(extack, "addresses are not the connection's");
		return -EINVAL;
	}
	return 0;
}

/* A verdict with no entry yet: install it ahead of traffic. */
static int jazz_nl_conn_preinstall(struct jazz_conn_table *t,
				   struct nlattr **tb,
				   struct jazz_conn_tuple *tu, u8 verdict,
				   u32 lifetime_s,
				   struct netlink_ext_ack *extack)
{
	struct jazz_device *jd = t->jd;
	struct jazz_peer *peer = NULL, *pd, *ps;
	struct jazz_conn *c;
	u8 bits = tu->key.family == AF_INET ? 32 : 128;
	u8 dir = 0;

	if (tb[JAZZ_A_CONN_DIRECTION])
		dir = nla_get_u8(tb[JAZZ_A_CONN_DIRECTION]);
	if (tb[JAZZ_A_CONN_PEER_ID]) {
		peer = jazz_peer_lookup_locked(jd,
					       nla_get_u32(tb[JAZZ_A_CONN_PEER_ID]));
		if (!peer) {
			NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_CONN_PEER_ID],
					    "no such peer");
			return -ENOENT;
		}
	}
	/* The peer's end is the one its allowed-ips cover. */
	rcu_read_lock();
	pd = jazz_aip_lookup(&jd->aip, (u8 *)&tu->dst, bits);
	ps = jazz_aip_lookup(&jd->aip, (u8 *)&tu->src, bits);
	rcu_read_unlock();
	if (!dir)
		dir = pd && (!peer || pd == peer) ? JAZZ_DIRECTION_EGRESS :
						    JAZZ_DIRECTION_INGRESS;
	/* The config mutex keeps these peers alive. */
	if (!peer)
		peer = dir == JAZZ_DIRECTION_EGRESS ? pd : ps;
	if (!peer) {
		NL_SET_ERR_MSG(extack,
			       "no peer's allowed-ips cover these addresses (give peer-id)");
		return -ENOENT;
	}
	spin_lock_bh(&t->lock);
	if (jazz_conn_lookup(t, &tu->key)) {
		spin_unlock_bh(&t->lock);
		NL_SET_ERR_MSG(extack, "connection appeared meanwhile, retry");
		return -EAGAIN;
	}
	if (t->count >= READ_ONCE(jd->conn_max)) {
		spin_unlock_bh(&t->lock);
		jazz_stats_add(jd->stats, JAZZ_STAT_DROP_CONN_FULL, 1);
		NL_SET_ERR_MSG(extack, "connection table is full (conn-max)");
		return -ENOSPC;
	}
	c = jazz_conn_new(t, tu, peer, dir, verdict == JAZZ_VERDICT_APPROVE ?
			  JAZZ_CONN_STATE_APPROVED : JAZZ_CONN_STATE_DENIED);
	if (!c) {
		spin_unlock_bh(&t->lock);
		return -ENOMEM;
	}
	mod_delayed_work(system_wq, &t->gc, HZ);
	spin_unlock_bh(&t->lock);
	return jazz_conn_decide(t, c, verdict, lifetime_s);
}

int jazz_nl_conn_verdict(struct jazz_device *jd, struct genl_info *info)
{
	struct nlattr *tb[JAZZ_A_CONN_ATTR_MAX + 1];
	struct jazz_conn_table *t;
	struct jazz_conn_tuple tu;
	struct jazz_conn *c;
	u32 lifetime_s = 0;
	u8 verdict;
	int err;

	t = jazz_nl_table(jd, info->extack);
	if (!t)
		return -ENODEV;
	err = jazz_nl_conn_parse(info, tb, true);
	if (err)
		return err;
	if (!tb[JAZZ_A_CONN_VERDICT]) {
		NL_SET_ERR_MSG(info->extack, "conn verdict (approve or deny) is required");
		NL_SET_ERR_ATTR_MISS(info->extack, info->attrs[JAZZ_A_CONN],
				     JAZZ_A_CONN_VERDICT);
		return -EINVAL;
	}
	verdict = nla_get_u8(tb[JAZZ_A_CONN_VERDICT]);
	if (tb[JAZZ_A_CONN_LIFETIME_S])
		lifetime_s = nla_get_u32(tb[JAZZ_A_CONN_LIFETIME_S]);
	rcu_read_lock();
	c = jazz_nl_conn_find(t, tb, &tu, info->extack, &err);
	if (c) {
		err = jazz_nl_conn_match(c, tb, info->extack);
		if (!err) {
			err = jazz_conn_decide(t, c, verdict, lifetime_s);
			if (err)
				NL_SET_ERR_MSG(info->extack,
					       "connection expired before the verdict");
		}
		rcu_read_unlock();
		return err;
	}
	rcu_read_unlock();
	if (err != -ENOENT || tb[JAZZ_A_CONN_COOKIE])
		return err;
	return jazz_nl_conn_preinstall(t, tb, &tu, verdict, lifetime_s,
				       info->extack);
}

int jazz_nl_conn_del(struct jazz_device *jd, struct genl_info *info)
{
	struct nlattr *tb[JAZZ_A_CONN_ATTR_MAX + 1];
	struct jazz_conn_table *t;
	struct jazz_conn_tuple tu;
	struct jazz_conn *c;
	int err;

	t = jazz_nl_table(jd, info->extack);
	if (!t)
		return -ENODEV;
	err = jazz_nl_conn_parse(info, tb, true);
	if (err)
		return err;
	rcu_read_lock();
	c = jazz_nl_conn_find(t, tb, &tu, info->extack, &err);
	if (c)
		jazz_conn_remove(t, c, JAZZ_CONN_END_DELETED);
	rcu_read_unlock();
	return err;
}

int jazz_nl_conn_flush(struct jazz_device *jd, struct genl_info *info)
{
	struct nlattr *tb[JAZZ_A_CONN_ATTR_MAX + 1];
	struct jazz_peer *peer = NULL;
	struct jazz_conn_table *t;
	int err;

	t = jazz_nl_table(jd, info->extack);
	if (!t)
		return -ENODEV;
	err = jazz_nl_conn_parse(info, tb, false);
	if (err)
		return err;
	if (tb[JAZZ_A_CONN_PEER_ID]) {
		peer = jazz_peer_lookup_locked(jd,
					       nla_get_u32(tb[JAZZ_A_CONN_PEER_ID]));
		if (!peer) {
			NL_SET_ERR_MSG_ATTR(info->extack, tb[JAZZ_A_CONN_PEER_ID],
					    "no such peer");
			return -ENOENT;
		}
	}
	jazz_conn_flush(t, peer, JAZZ_CONN_END_DELETED);
	return 0;
}

/* ---- approver probe ---- */

/*
 * A probe takes the same path as a connection request: stamped with
 * ktime_get_ns() before its notification is built, multicast on approvals
 * from the kernel, answered by a listener's command, stamped again in that
 * command's handler. Its round trip is the floor of a connection's wait-ns
 * on the same machine, and a probe that nobody answers is a listener that
 * would let connections time out.
 */
static struct sk_buff *jazz_probe_msg(struct jazz_device *jd, u8 cmd,
				      const struct jazz_probe *p, u64 rtt_ns,
				      u32 listener, struct genl_info *reply_to)
{
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;

	msg = genlmsg_new(NLMSG_ALIGN(64), GFP_KERNEL);
	if (!msg)
		return NULL;
	if (reply_to)
		hdr = genlmsg_put_reply(msg, reply_to, &jazz_genl_family, 0, cmd);
	else
		hdr = genlmsg_put(msg, 0, 0, &jazz_genl_family, 0, cmd);
	if (!hdr || nla_put_u32(msg, JAZZ_A_IFINDEX, jd->dev->ifindex))
		goto fail;
	nest = nla_nest_start(msg, JAZZ_A_PROBE);
	if (!nest ||
	    nla_put_u64_64bit(msg, JAZZ_A_PROBE_COOKIE, p->cookie,
			      JAZZ_A_PROBE_PAD) ||
	    (rtt_ns && nla_put_u64_64bit(msg, JAZZ_A_PROBE_RTT_NS, rtt_ns,
					 JAZZ_A_PROBE_PAD)) ||
	    (listener && nla_put_u32(msg, JAZZ_A_PROBE_LISTENER_PORTID,
				     listener)))
		goto fail;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return msg;
fail:
	nlmsg_free(msg);
	return NULL;
}

/* A free slot, else the oldest (expired or not); jd->lock held. */
static struct jazz_probe *jazz_probe_slot(struct jazz_conn_table *t)
{
	struct jazz_probe *p, *best = &t->probes[0];

	for (p = t->probes; p < t->probes + JAZZ_PROBE_SLOTS; p++) {
		if (!p->cookie)
			return p;
		if (p->sent_ns < best->sent_ns)
			best = p;
	}
	return best;
}

int jazz_nl_probe(struct jazz_device *jd, struct genl_info *info)
{
	struct net *net = dev_net(jd->dev);
	struct jazz_conn_table *t;
	struct sk_buff *msg, *reply;
	struct jazz_probe *p;
	int err;

	t = jazz_nl_table(jd, info->extack);
	if (!t)
		return -ENODEV;
	if (!jazz_approvals_listening(net)) {
		NL_SET_ERR_MSG(info->extack, "nobody listens on approvals");
		return -ESRCH;
	}
	p = jazz_probe_slot(t);
	do {
		p->cookie = get_random_u64() & JAZZ_COOKIE_MASK;
	} while (!p->cookie);
	p->portid = info->snd_portid;
	p->net = genl_info_net(info);
	reply = jazz_probe_msg(jd, JAZZ_CMD_APPROVER_PROBE, p, 0, 0, info);
	p->sent_ns = ktime_get_ns();
	msg = jazz_probe_msg(jd, JAZZ_CMD_APPROVER_PROBE_NTF, p, 0, 0, NULL);
	if (!msg || !reply) {
		nlmsg_free(msg);
		nlmsg_free(reply);
		p->cookie = 0;
		return -ENOMEM;
	}
	err = jazz_approvals_multicast(net, msg);
	if (err == -ESRCH) {
		/* genl_has_listeners() counts every namespace. */
		NL_SET_ERR_MSG(info->extack, "nobody listens on approvals");
	} else if (err == -ENOBUFS) {
		NL_SET_ERR_MSG(info->extack,
			       "a listener on approvals has a full receive buffer");
	} else if (err) {
		NL_SET_ERR_MSG(info->extack, "cannot send the probe");
	}
	if (err) {
		p->cookie = 0;
		nlmsg_free(reply);
		return err;
	}
	return genlmsg_reply(reply, info);
}

int jazz_nl_probe_reply(struct jazz_device *jd, struct genl_info *info)
{
	struct nlattr *tb[JAZZ_A_PROBE_MAX + 1];
	u64 now = ktime_get_ns(), cookie, ttl;
	struct nlattr *nest = info->attrs[JAZZ_A_PROBE];
	struct jazz_conn_table *t;
	struct jazz_probe *p, done;
	struct sk_buff *msg;
	int err;

	t = jazz_nl_table(jd, info->extack);
	if (!t)
		return -ENODEV;
	if (GENL_REQ_ATTR_CHECK(info, JAZZ_A_PROBE))
		return -EINVAL;
	/* Validated against the probe policy when the request was parsed. */
	err = nla_parse_nested_deprecated(tb, JAZZ_A_PROBE_MAX, nest, NULL,
					  info->extack);
	if (err)
		return err;
	if (!tb[JAZZ_A_PROBE_COOKIE]) {
		NL_SET_ERR_MSG(info->extack, "probe cookie is required");
		NL_SET_ERR_ATTR_MISS(info->extack, nest, JAZZ_A_PROBE_COOKIE);
		return -EINVAL;
	}
	cookie = nla_get_u64(tb[JAZZ_A_PROBE_COOKIE]);
	ttl = (u64)READ_ONCE(jd->approval_timeout_ms) * NSEC_PER_MSEC;
	for (p = t->probes; p < t->probes + JAZZ_PROBE_SLOTS; p++)
		if (cookie && p->cookie == cookie)
			break;
	if (p == t->probes + JAZZ_PROBE_SLOTS || now - p->sent_ns > ttl) {
		if (p < t->probes + JAZZ_PROBE_SLOTS)
			p->cookie = 0;
		NL_SET_ERR_MSG_ATTR(info->extack, tb[JAZZ_A_PROBE_COOKIE],
				    "no probe with this cookie (unknown, answered, or expired)");
		return -ENOENT;
	}
	done = *p;
	p->cookie = 0;
	if (!net_eq(done.net, dev_net(jd->dev)))
		return 0;	/* the device moved: nobody to tell */
	msg = jazz_probe_msg(jd, JAZZ_CMD_APPROVER_PROBE_RESULT_NTF, &done,
			     max_t(u64, now - done.sent_ns, 1),
			     info->snd_portid, NULL);
	if (!msg)
		return -ENOMEM;
	/* A requester that went away is not the listener's fault. */
	genlmsg_unicast(dev_net(jd->dev), msg, done.portid);
	return 0;
}
