// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: the net_device and its rtnl_link_ops ("ip link add X type jazz").
 */
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <net/rtnetlink.h>
#include <net/ip.h>
#include <net/addrconf.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include "compat.h"
#include "device.h"
#include "peer.h"
#include "socket.h"
#include "send.h"
#include "conn.h"
#include "stun.h"
#include "messages.h"

atomic_t jazz_devices_live = ATOMIC_INIT(0);
/* All jazz devices, for namespace teardown; under rtnl. */
static LIST_HEAD(jazz_dev_list);

/*
 * A pure L3 tunnel has no link: no IPv6 link-local address, so no DAD, MLD
 * reports or router solicitations sent to no peer. The kernel would give
 * an ARPHRD_NONE device a random one at NETDEV_UP, which follows ndo_open;
 * the default mode (eui64) is turned into "none" here, every time, as a
 * namespace move makes a new inet6_dev. An explicit random or
 * stable-privacy mode (ip link set DEV addrgenmode ...) is kept, and
 * addresses can always be added by hand.
 */
static void jazz_no_ipv6_autoconf(struct net_device *dev)
{
#if IS_ENABLED(CONFIG_IPV6)
	struct inet6_dev *idev = __in6_dev_get(dev);

	if (idev && READ_ONCE(idev->cnf.addr_gen_mode) ==
		    IN6_ADDR_GEN_MODE_EUI64)
		WRITE_ONCE(idev->cnf.addr_gen_mode, IN6_ADDR_GEN_MODE_NONE);
#endif
}

static int jazz_open(struct net_device *dev)
{
	struct jazz_device *jd = netdev_priv(dev);
	int err;

	jazz_no_ipv6_autoconf(dev);

	mutex_lock(&jd->lock);
	err = jazz_socket_open(jd, jd->listen_port);
	mutex_unlock(&jd->lock);
	return err;
}

static int jazz_stop(struct net_device *dev)
{
	struct jazz_device *jd = netdev_priv(dev);

	mutex_lock(&jd->lock);
	jazz_socket_close(jd);
	mutex_unlock(&jd->lock);
	return 0;
}

static int jazz_dev_init(struct net_device *dev)
{
	struct jazz_device *jd = netdev_priv(dev);
	int err;

	if (jazz_compat_tstats_alloc(dev))
		return -ENOMEM;
	jd->stats = netdev_alloc_pcpu_stats(struct jazz_stats);
	if (!jd->stats)
		goto err_tstats;
	err = gro_cells_init(&jd->gro, dev);
	if (err)
		goto err_stats;
	err = jazz_crypt_queue_init(&jd->encrypt_q, jazz_tx_crypt,
				    jazz_tx_crypted);
	if (err)
		goto err_gro;
	err = jazz_crypt_queue_init(&jd->decrypt_q, jazz_rx_crypt,
				    jazz_rx_crypted);
	if (err)
		goto err_encrypt;
	err = jazz_conn_dev_init(jd);
	if (err)
		goto err_decrypt;
	return 0;

err_decrypt:
	jazz_crypt_queue_free(&jd->decrypt_q);
err_encrypt:
	jazz_crypt_queue_free(&jd->encrypt_q);
err_gro:
	gro_cells_destroy(&jd->gro);
err_stats:
	free_percpu(jd->stats);
	jd->stats = NULL;
err_tstats:
	jazz_compat_tstats_free(dev);
	return -ENOMEM;
}

static void jazz_dev_uninit(struct net_device *dev)
{
	struct jazz_device *jd = netdev_priv(dev);

	jazz_conn_dev_uninit(jd);	/* no-op after dellink; else a failed register */
	/*
	 * No producer is left (unregister waited for RCU readers): empty the
	 * crypt rings, then wait for the peers' ordered-queue works they
	 * queued, which still count into this device and deliver to its GRO
	 * cells.
	 */
	jazz_crypt_queue_free(&jd->encrypt_q);
	jazz_crypt_queue_free(&jd->decrypt_q);
	jazz_queueing_flush();
	gro_cells_destroy(&jd->gro);
}

static const struct net_device_ops jazz_netdev_ops = {
	.ndo_init = jazz_dev_init,
	.ndo_uninit = jazz_dev_uninit,
	.ndo_open = jazz_open,
	.ndo_stop = jazz_stop,
	.ndo_start_xmit = jazz_xmit,
	.ndo_get_stats64 = dev_get_tstats64,
};

static void jazz_destruct(struct net_device *dev)
{
	struct jazz_device *jd = netdev_priv(dev);

	free_percpu(jd->stats);
	jazz_compat_tstats_free(dev);
	mutex_destroy(&jd->lock);
	/* A failed register_netdevice also ends here: it was never counted. */
	if (jd->registered)
		atomic_dec(&jazz_devices_live);
	pr_debug("jazz: device destroyed\n");
}

#define JAZZ_FEATURES (NETIF_F_HW_CSUM | NETIF_F_RXCSUM | NETIF_F_SG | \
		       NETIF_F_GSO | NETIF_F_GSO_SOFTWARE | NETIF_F_HIGHDMA)

static void jazz_setup(struct net_device *dev)
{
	struct jazz_device *jd = netdev_priv(dev);

	dev->netdev_ops = &jazz_netdev_ops;
	dev->header_ops = NULL;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->needed_headroom = JAZZ_MAX_OUTER_OVERHEAD + LL_MAX_HEADER;
	dev->needed_tailroom = JAZZ_TAG_LEN;
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	dev->features |= JAZZ_FEATURES;
	dev->hw_features |= JAZZ_FEATURES;
	dev->hw_enc_features |= JAZZ_FEATURES;
	jazz_compat_set_lltx(dev);
	jazz_compat_tstats_setup(dev);
	dev->mtu = JAZZ_DEFAULT_MTU;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = IP_MAX_MTU - JAZZ_MAX_OUTER_OVERHEAD;
	dev->needs_free_netdev = true;
	dev->priv_destructor = jazz_destruct;
	netif_keep_dst(dev);

	memset(jd, 0, sizeof(*jd));
	jd->dev = dev;
	mutex_init(&jd->lock);
	hash_init(jd->peer_hash);
	INIT_LIST_HEAD(&jd->peer_list);
	INIT_LIST_HEAD(&jd->dev_list);
	jazz_aip_init(&jd->aip);
	jd->conncheck = 1;
	jd->approval_timeout_ms = 3000;
	jd->deny_backoff_ms = 5000;
	jd->tcp_idle_s = 7200;
	jd->udp_idle_s = 180;
	jd->other_idle_s = 30;
	jd->conn_max = 65536;
	jd->hold_max = 1024;
	jd->gen = 1;
	jd->aip.max = &jazz_max_allowedips;
	jazz_stun_dev_init(jd);
}

static int jazz_newlink(struct net *src_net, struct net_device *dev,
			struct nlattr *tb[], struct nlattr *data[],
			struct netlink_ext_ack *extack)
{
	struct jazz_device *jd = netdev_priv(dev);
	int err;

	jd->creating_net = src_net;
	err = register_netdevice(dev);
	if (err)
		return err;
	list_add(&jd->dev_list, &jazz_dev_list);
	jd->registered = true;
	atomic_inc(&jazz_devices_live);
	pr_debug("jazz: device %s created\n", dev->name);
	return 0;
}

static void jazz_dellink(struct net_device *dev, struct list_head *head)
{
	struct jazz_device *jd = netdev_priv(dev);

	list_del_init(&jd->dev_list);
	mutex_lock(&jd->lock);
	/* From here every netlink handler refuses the device (device.h). */
	WRITE_ONCE(jd->dead, true);
	jd->gen++;
	jazz_socket_close(jd);
	/*
	 * The connection table first, in batches (conn.c): its dead flag
	 * stops new entries, so removing the peers has none left to walk.
	 */
	jazz_conn_dev_uninit(jd);
	jazz_peer_remove_all(jd, JAZZ_PEER_DEL_REASON_DEVICE_REMOVED);
	jazz_aip_free(&jd->aip, &jd->lock);
	mutex_unlock(&jd->lock);
	unregister_netdevice_queue(dev, head);
}

struct rtnl_link_ops jazz_link_ops __read_mostly = {
	.kind = "jazz",
	.priv_size = sizeof(struct jazz_device),
	.setup = jazz_setup,
	.newlink = jazz_newlink,
	.dellink = jazz_dellink,
};

/* The creating namespace is going away: its sockets go with it. */
static void __net_exit jazz_netns_pre_exit(struct net *net)
{
	struct jazz_device *jd;

	rtnl_lock();
	list_for_each_entry(jd, &jazz_dev_list, dev_list) {
		if (jd->creating_net != net)
			continue;
		mutex_lock(&jd->lock);
		jazz_socket_close(jd);
		jd->creating_net = NULL;
		mutex_unlock(&jd->lock);
	}
	rtnl_unlock();
}

static struct pernet_operations jazz_netns_ops = {
	.pre_exit = jazz_netns_pre_exit,
};

int jazz_device_init(void)
{
	int err;

	err = register_pernet_device(&jazz_netns_ops);
	if (err)
		return err;
	err = rtnl_link_register(&jazz_link_ops);
	if (err)
		unregister_pernet_device(&jazz_netns_ops);
	return err;
}

void jazz_device_exit(void)
{
	rtnl_link_unregister(&jazz_link_ops);
	unregister_pernet_device(&jazz_netns_ops);
}
