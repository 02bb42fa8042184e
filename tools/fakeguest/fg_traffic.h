/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: the traffic engine. Moves self-checking frames guest -> host
 * (TX) and host -> guest (RX) through one or more fake guests and one
 * host-side AF_PACKET endpoint, verifying every byte, and ordering, and
 * accounting for every frame.
 */
#ifndef FG_TRAFFIC_H
#define FG_TRAFFIC_H

#include <stdbool.h>
#include <net/if.h>
#include <linux/types.h>

#include "fg_frame.h"
#include "fg_guest.h"

#define FG_HOST_MAX_DROPS	4
#define FG_RX_STREAM		0x100

/* The host side of a backend. */
struct fg_host {
	int fd;			/* AF_PACKET socket, see fg_packet_open() */
	bool vnet_hdr;		/* it has PACKET_VNET_HDR */
	__u8 mac[6];		/* source of injected frames */
	__u8 guest_mac[6];	/* destination of injected frames */
	/* Where RX frames that never reach the guest are counted. */
	unsigned int ndrops;
	struct {
		char ifname[IFNAMSIZ];
		char stat[24];
		long long base;
	} drop[FG_HOST_MAX_DROPS];
	int drop_pkt_fd;	/* AF_PACKET backend socket, or -1 */
	long long pkt_drops;
};

/* Count drops in /sys/class/net/@ifname/statistics/@stat. */
void fg_host_count_drops(struct fg_host *h, const char *ifname,
			 const char *stat);
/* Sum of counted drops since the counters were armed. */
long long fg_host_drops(struct fg_host *h);
void fg_host_arm_drops(struct fg_host *h);

struct fg_traffic_cfg {
	unsigned long tx_frames;	/* per guest */
	unsigned long rx_frames;	/* in total, spread over the guests */
	struct fg_frame_plan plan;	/* sizes; plan.seed ^ stream */
	unsigned int window;		/* frames in flight per direction */
	int timeout_ms;			/* longest time without progress */
	/*
	 * Accept frames out of order (still each exactly once): for paths
	 * through per-CPU netif_rx() backlogs (veth, macvlan bridging), where
	 * the host stack itself may reorder when the sender migrates CPUs.
	 * Otherwise each guest's frames must arrive in order.
	 */
	bool reorder_ok;
};

struct fg_traffic_result {
	unsigned long tx_sent, tx_recv, tx_gso;
	unsigned long rx_sent, rx_recv, rx_gso, rx_dropped;
	unsigned long rx_per_guest[8];
	unsigned long foreign;		/* frames that were not ours */
	unsigned long reordered;	/* arrivals out of order (reorder_ok) */
	double seconds;
	char err[512];
};

/* Defaults: 60..1514 B frames, window 128, 20 s timeout. */
void fg_traffic_defaults(struct fg_traffic_cfg *cfg);

/*
 * Run TX and RX concurrently until every frame is accounted for. Returns 0,
 * or -1 with the first problem described in @res->err.
 */
int fg_traffic_run(struct fg_guest **g, unsigned int ng, struct fg_host *h,
		   const struct fg_traffic_cfg *cfg,
		   struct fg_traffic_result *res);

/* Frames to use from the environment (VHNET_FRAMES), or @def. */
unsigned long fg_env_frames(unsigned long def);

#endif /* FG_TRAFFIC_H */
