// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: an L3 VPN tunnel device with AEAD-protected UDP encapsulation.
 * Module init/exit, parameters and object counters.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/kernel.h>
#include <jazz.h>
#include "device.h"
#include "peer.h"
#include "crypto.h"
#include "netlink.h"
#include "queueing.h"

/*
 * Send-counter limits of a key. At tx_soft_limit the module sends one
 * key-rotate-ntf; at tx_hard_limit it stops sending with the key (counted
 * as drop-key-exhausted) so a counter never wraps. Both can be lowered
 * (e.g. in tests) and take effect at once.
 */
u64 jazz_tx_hard_limit = U64_MAX - (1ULL << 16);
u64 jazz_tx_soft_limit = U64_MAX - (1ULL << 32);
module_param_named(tx_hard_limit, jazz_tx_hard_limit, ullong, 0644);
MODULE_PARM_DESC(tx_hard_limit, "Packets a key may send before it stops");
module_param_named(tx_soft_limit, jazz_tx_soft_limit, ullong, 0644);
MODULE_PARM_DESC(tx_soft_limit, "Packets a key sends before key-rotate-ntf");

/*
 * Per-device limits: PEER_NEW beyond max_peers and allowed-ips beyond
 * max_allowedips are refused with ENOSPC and an extack message. They
 * bound the memory (and the dump size) one user-namespace admin can pin.
 */
unsigned int jazz_max_peers = 65536;
unsigned int jazz_max_allowedips = 262144;
module_param_named(max_peers, jazz_max_peers, uint, 0644);
MODULE_PARM_DESC(max_peers, "Peers a device may have");
module_param_named(max_allowedips, jazz_max_allowedips, uint, 0644);
MODULE_PARM_DESC(max_allowedips, "Allowed-ips prefixes a device may have");

/* "objects": live devices, peers and keys, for leak checks in tests. */
static int jazz_objects_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "devices %d peers %d keys %d\n",
			  atomic_read(&jazz_devices_live),
			  atomic_read(&jazz_peers_live),
			  atomic_read(&jazz_keys_live));
}

static const struct kernel_param_ops jazz_objects_ops = {
	.get = jazz_objects_get,
};
module_param_cb(objects, &jazz_objects_ops, NULL, 0444);
MODULE_PARM_DESC(objects, "Live object counts (read only)");

static int __init jazz_init(void)
{
	int err;

	err = jazz_crypto_init();
	if (err)
		return err;
	err = jazz_queueing_init();
	if (err)
		goto err_crypto;
	err = jazz_device_init();
	if (err)
		goto err_queueing;
	err = jazz_genl_init();
	if (err)
		goto err_device;
	pr_info("jazz: wire version %d loaded\n", JAZZ_WIRE_VERSION);
	return 0;

err_device:
	jazz_device_exit();
err_queueing:
	jazz_queueing_exit();
err_crypto:
	jazz_crypto_exit();
	return err;
}

static void __exit jazz_exit(void)
{
	/* Devices first: their teardown still sends peer-del-ntf. */
	jazz_device_exit();
	jazz_genl_exit();
	jazz_queueing_exit();
	rcu_barrier();
	jazz_crypto_exit();
	pr_info("jazz: unloaded, objects left: devices %d peers %d keys %d\n",
		atomic_read(&jazz_devices_live), atomic_read(&jazz_peers_live),
		atomic_read(&jazz_keys_live));
}

module_init(jazz_init);
module_exit(jazz_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("jazz L3 VPN tunnel");
MODULE_AUTHOR("The jazz developers");
MODULE_ALIAS_RTNL_LINK("jazz");
MODULE_ALIAS_GENL_FAMILY(JAZZ_GENL_NAME);
