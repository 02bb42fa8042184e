/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: host-side network helpers. Backends for VHOST_NET_SET_BACKEND
 * (tap, macvtap, AF_PACKET) and AF_PACKET endpoints that read and inject
 * frames on the host side of the backend.
 */
#ifndef FG_NET_H
#define FG_NET_H

#include <stdbool.h>
#include <net/if.h>
#include <linux/types.h>

/* Tap creation flags for fg_tap_open(). */
#define FG_TAP_VNET_HDR		0x1	/* IFF_VNET_HDR */
#define FG_TAP_MULTI_QUEUE	0x2	/* IFF_MULTI_QUEUE */

/* TUNSETOFFLOAD mask that lets the tap hand us 64 KB TCP GSO frames. */
#define FG_TAP_OFFLOADS	(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

/*
 * Create (or for @flags & FG_TAP_MULTI_QUEUE, attach one more queue to) tap
 * @name. With FG_TAP_VNET_HDR, set the vnet header size to @hdr_len and the
 * offloads to @offloads. Returns the fd or -errno. IPv6 is disabled on it and
 * it is brought up.
 */
int fg_tap_open(const char *name, unsigned int flags, int hdr_len,
		unsigned int offloads);

/* Set vnet header size and offloads on a tap or macvtap fd. */
int fg_tap_set_vnet(int fd, int hdr_len, unsigned int offloads);

/* Interface helpers; all return 0 or -errno unless noted. */
int fg_if_index(const char *name);	/* > 0, or -errno */
int fg_if_up(const char *name);
/*
 * Wait up to @ms for @name's operstate "up" (a veth once both ends are
 * up): before it the device has no qdisc yet, and what is sent through
 * it is dropped without a trace in its counters. 0 or -ETIMEDOUT.
 */
int fg_if_wait_up(const char *name, unsigned int ms);
int fg_if_get_mac(const char *name, __u8 mac[6]);
int fg_if_set_mac(const char *name, const __u8 mac[6]);
int fg_if_set_mtu(const char *name, int mtu);
void fg_if_no_ipv6(const char *name);
/* One counter from /sys/class/net/<name>/statistics/, or -errno. */
long long fg_if_stat(const char *name, const char *stat);

/* rtnetlink link creation and deletion. */
int fg_link_add_dummy(const char *name);
int fg_link_add_veth(const char *name, const char *peer);
/* macvtap (or macvlan) in bridge mode on @lower. */
int fg_link_add_macvtap(const char *name, const char *lower, bool macvlan);
int fg_link_del(const char *name);

/* Open the /dev/tapN character device of macvtap @name. */
int fg_macvtap_open(const char *name);

/*
 * An AF_PACKET SOCK_RAW socket bound to @ifname for all protocols; with
 * @vnet_hdr, frames carry a leading struct virtio_net_hdr
 * (PACKET_VNET_HDR). Frames leaving the interface, including those this
 * socket sends, are not read (PACKET_IGNORE_OUTGOING). Receive and send
 * buffers are enlarged to @bufsz if nonzero. Nonblocking.
 */
int fg_packet_open(const char *ifname, bool vnet_hdr, int bufsz);
/* PACKET_STATISTICS drops since the last call, or -errno. */
long long fg_packet_drops(int fd);

#endif /* FG_NET_H */
