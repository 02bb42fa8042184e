/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: ready-made backend environments. Each creates the host-side
 * interfaces, the fd(s) for VHOST_NET_SET_BACKEND and the matching host
 * endpoint (struct fg_host) for the traffic engine.
 */
#ifndef FG_ENV_H
#define FG_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include <linux/types.h>

#include "fg_traffic.h"

enum fg_backend {
	FG_BK_TAP,		/* tap, IFF_VNET_HDR */
	FG_BK_TAP_NOHDR,	/* tap without IFF_VNET_HDR */
	FG_BK_MACVTAP,		/* macvtap on a dummy, macvlan peer for host */
	FG_BK_PACKET,		/* AF_PACKET on one end of a veth pair */
	FG_BK_TAP_MQ,		/* 2-queue IFF_MULTI_QUEUE tap */
};

#define FG_ENV_MAX_Q	2

struct fg_env {
	enum fg_backend kind;
	char ifname[IFNAMSIZ];	/* backend interface */
	char peer[IFNAMSIZ];	/* host-side interface, if not ifname */
	char lower[IFNAMSIZ];	/* macvtap lower device */
	unsigned int nq;
	int fd[FG_ENV_MAX_Q];	/* backend fds */
	struct fg_host host;
};

/* Feature bits the backend needs on top of the caller's choice. */
__u64 fg_env_features(enum fg_backend kind);
/* Whether the backend carries virtio-net headers (and so GSO frames). */
bool fg_env_has_vnet_hdr(enum fg_backend kind);
/*
 * Whether the host path keeps each guest's frames in order: not when it
 * goes through per-CPU netif_rx() backlogs (veth, macvlan bridging).
 */
bool fg_env_keeps_order(enum fg_backend kind);
/* Queues (guests) the backend wants. */
unsigned int fg_env_queues(enum fg_backend kind);
const char *fg_env_name(enum fg_backend kind);

/*
 * Create the environment. @id makes interface names unique; @hdr_len is
 * the guests' virtio-net header size; @guest_mac the guests' address.
 * Returns 0 or -errno with a message in @err.
 */
int fg_env_up(struct fg_env *e, enum fg_backend kind, unsigned int id,
	      unsigned int hdr_len, const __u8 guest_mac[6], char *err,
	      size_t errlen);
void fg_env_down(struct fg_env *e);

/* Interface counters, for failure reports. */
void fg_env_dump(const struct fg_env *e, char *buf, size_t len);

/*
 * Attach backend queue @q of @e to both rings of @g (which was set up with
 * backend_fd -1).
 */
int fg_env_attach(struct fg_env *e, unsigned int q, struct fg_guest *g);

/* A backend environment with its guest(s): one per backend queue. */
struct fg_rig_cfg {
	struct fg_guest_cfg guest;	/* backend feature bits are added */
	enum fg_backend backend;
	unsigned int id;		/* unique per live rig */
};

struct fg_rig {
	struct fg_env env;
	struct fg_guest g[FG_ENV_MAX_Q];
	struct fg_guest *gp[FG_ENV_MAX_Q];
	unsigned int ng;
	bool up;
	char err[256];
};

/* Guests first (for the header size and MAC), then the backend. */
int fg_rig_up(struct fg_rig *r, const struct fg_rig_cfg *cfg);
void fg_rig_down(struct fg_rig *r);
/* fg_traffic_run() over all of the rig's guests. */
int fg_rig_run(struct fg_rig *r, const struct fg_traffic_cfg *cfg,
	       struct fg_traffic_result *res);

#endif /* FG_ENV_H */
