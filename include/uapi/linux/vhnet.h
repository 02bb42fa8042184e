/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhnet's own UAPI, beside the standard vhost one (<linux/vhost.h>).
 * Documentation/tracing.rst describes the counters.
 */
#ifndef _UAPI_LINUX_VHNET_H
#define _UAPI_LINUX_VHNET_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vhost.h>

#define VHNET_QUEUES		2	/* 0 RX, 1 TX */

/* What a queue's backend is. */
#define VHNET_BACKEND_NONE	0
#define VHNET_BACKEND_TAP	1	/* a tun/tap file (IFF_TAP) */
#define VHNET_BACKEND_MACVTAP	2	/* a macvtap (or ipvtap) char device */
#define VHNET_BACKEND_PACKET	3	/* an AF_PACKET raw socket */

struct vhnet_queue_stats {
	__u64 packets;		/* frames moved: TX to the socket, RX to the guest */
	__u64 bytes;		/* their bytes, without vhnet's own header */
	__u64 errors;		/* frames refused by the socket or never fitting */
	__u64 kicks;		/* wakeups through the kick eventfd */
	__u64 signals;		/* call eventfd signals */
	__u64 batches;		/* TX: batched sendmsg() calls; RX: ring batches */
	__u64 broken;		/* times the queue was flagged broken */
	__u64 backend_ino;	/* inode number of the backend's file, 0: none */
	__u32 backend;		/* VHNET_BACKEND_* */
	__s32 last_error;	/* errno of the last counted error, 0: none */
};

struct vhnet_stats {
	__s32 owner_pid;	/* pid that issued VHOST_SET_OWNER, 0: none */
	__u32 nqueues;		/* VHNET_QUEUES */
	__u64 features;		/* negotiated (VHOST_SET_FEATURES) */
	struct vhnet_queue_stats queue[VHNET_QUEUES];
};

/*
 * The device's counters. Before VHOST_SET_OWNER anyone holding the fd may
 * ask; afterwards only the owner, like every other ioctl.
 */
#define VHNET_GET_STATS		_IOR(VHOST_VIRTIO, 0xe0, struct vhnet_stats)

#endif /* _UAPI_LINUX_VHNET_H */
