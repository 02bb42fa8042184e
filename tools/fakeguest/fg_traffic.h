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
/* Host endpoints one run may use (fg_traffic_run_hosts()). */
#define FG_TRAFFIC_MAX_HOSTS	4
/*
 * A frame's stream is (epoch << FG_EPOCH_SHIFT) | stream within the run
 * (guest + 1 for TX, FG_RX_STREAM for RX, FG_JUNK_STREAM).
 */
#define FG_EPOCH_SHIFT		16

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
/* Discard what is queued on the host socket; the count, or -errno. */
long fg_host_drain(const struct fg_host *h);

/*
 * Send one self-checking frame of @len bytes (stream @stream, seq @seq)
 * from host endpoint @h to the guest. 0 or -errno.
 */
int fg_host_send(const struct fg_host *h, __u32 stream, __u32 seq,
		 size_t len);

struct fg_traffic_ctl;

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
	/*
	 * Frames of earlier epochs (left over from a run that was cut short)
	 * are counted as stale and otherwise ignored; later ones fail.
	 */
	__u16 epoch;
	/*
	 * Someone else drives the guests' TX queues (tx_frames must be 0):
	 * the engine never touches them.
	 */
	bool leave_tx;
	/*
	 * Called once per round, between the engine's steps: may change the
	 * device under traffic (see struct fg_traffic_ctl). Returns 0, or -1
	 * with a message in ctl->err to fail the run.
	 */
	int (*hook)(void *arg, struct fg_traffic_ctl *ctl);
	void *hook_arg;
};

struct fg_traffic_result {
	unsigned long tx_sent, tx_recv, tx_gso;
	unsigned long rx_sent, rx_recv, rx_gso, rx_dropped;
	unsigned long rx_per_guest[8];
	unsigned long foreign;		/* frames that were not ours */
	unsigned long reordered;	/* arrivals out of order (reorder_ok) */
	unsigned long stale;		/* frames of earlier epochs */
	unsigned long rx_stranded;	/* RX frames drained from a backend */
	unsigned long tx_per_host[FG_TRAFFIC_MAX_HOSTS];
	unsigned long rx_sent_per_host[FG_TRAFFIC_MAX_HOSTS];
	unsigned long rx_recv_per_host[FG_TRAFFIC_MAX_HOSTS];	/* by a guest */
	bool stopped;			/* the hook ended the run early */
	double seconds;
	char err[512];
};

/*
 * What a hook sees and may change. Between two hook calls the engine only
 * moves frames, so the hook may issue any ioctl on the guests' devices.
 */
struct fg_traffic_ctl {
	const struct fg_traffic_result *res;	/* progress so far */
	unsigned int nhosts;
	unsigned int inject;		/* host RX frames are injected into */
	/*
	 * A backend fd no device reads from (e.g. a tap just detached): the
	 * engine drains RX frames left in its queue with read() and accounts
	 * them as rx_stranded, stripping drain_hlen header bytes. -1: none.
	 */
	int drain_fd[FG_TRAFFIC_MAX_HOSTS];
	unsigned int drain_hlen[FG_TRAFFIC_MAX_HOSTS];
	bool stop;			/* end the run now, successfully */
	char *err;
	size_t errlen;
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
/*
 * The same with several host endpoints (one per backend the guests may be
 * switched between): TX frames are taken from all of them, each exactly
 * once and in order per endpoint; RX frames go to hosts[ctl->inject] and
 * may arrive out of order (a backend's queue waits while detached).
 */
int fg_traffic_run_hosts(struct fg_guest **g, unsigned int ng,
			 struct fg_host **hosts, unsigned int nh,
			 const struct fg_traffic_cfg *cfg,
			 struct fg_traffic_result *res);

/* Frames to use from the environment (VHNET_FRAMES), or @def. */
unsigned long fg_env_frames(unsigned long def);

#endif /* FG_TRAFFIC_H */
