/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: a virtio-net driver on top of a vhost device. Owns the guest
 * memory, the TX and RX buffer pools and the buffer layouts.
 */
#ifndef FG_GUEST_H
#define FG_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "fg_dev.h"
#include "fg_frame.h"
#include "fg_mem.h"

/* TX buffer layouts (mask in fg_guest_cfg.tx_layouts). */
#define FG_TX_ONE	0x1	/* header + frame in one descriptor */
#define FG_TX_HDR	0x2	/* header, then frame: the legacy layout */
#define FG_TX_SPLIT	0x4	/* cut at random points, even inside the header */
#define FG_TX_INDIRECT	0x8	/* any of the above, via an indirect table */
#define FG_TX_ALL	0xf

struct fg_guest_cfg {
	const char *dev_path;
	__u64 features;		/* wanted; ANDed with what the device offers */
	unsigned int ring_num;
	unsigned int nregions;	/* > 1: guest memory in GPA-adjacent pieces */
	unsigned int max_frame;	/* largest frame, without header */
	unsigned int rx_buf_len;	/* mergeable RX buffer size */
	unsigned int tx_layouts;	/* FG_TX_*; 0 means all */
	unsigned int max_inflight;	/* buffers per queue, 0: default */
	bool any_layout;		/* legacy: lay buffers out freely */
	bool rx_poison;		/* check that RX writes stop at the used len */
	unsigned int busyloop_us;	/* per-queue busy polling, 0: off */
	bool dirty_log;		/* log dirty pages into fg_guest.log */
	bool scramble;		/* descriptors (packed: ids) out of order */
	__u32 seed;
};

typedef int (*fg_rx_cb)(void *arg, const struct virtio_net_hdr_mrg_rxbuf *h,
			unsigned int nbufs, const __u8 *frame, size_t len);

struct fg_pool {
	__u64 gpa;		/* first slot */
	__u64 ind_gpa;		/* indirect tables, one per slot */
	unsigned int slot_len;	/* usable bytes per slot */
	unsigned int stride;
	unsigned int nslots;
	unsigned int *free;	/* LIFO of free slot numbers */
	unsigned int nfree;
	bool *poisoned;		/* RX, cfg.rx_poison: slot filled on post */
};

struct fg_guest {
	struct fg_guest_cfg cfg;
	struct fg_mem mem;
	struct fg_dev dev;
	int backend_fd;
	__u8 mac[6];
	struct fg_rng rng;
	struct fg_pool tx, rx;
	unsigned int straddling;	/* slots crossing a region boundary */

	/* RX reassembly of mergeable buffers */
	struct virtio_net_hdr_mrg_rxbuf rx_hdr;
	__u8 *rx_frame;
	size_t rx_len;
	unsigned int rx_nbufs, rx_want;
	unsigned long rx_poison_posts;
	__u8 *log;		/* cfg.dirty_log: fg_log_bytes(&mem) bytes */

	/* statistics */
	unsigned long tx_posted, tx_done, rx_posted, rx_done, rx_frames;
	unsigned long layouts[5];	/* one, hdr, split, indirect, chains */
	char err[256];
};

/*
 * Map memory, open and program the device, attach @backend_fd (may be -1:
 * then call fg_dev_set_backend() later) and post the RX buffers.
 */
int fg_guest_init(struct fg_guest *g, const struct fg_guest_cfg *cfg,
		  int backend_fd);
void fg_guest_fini(struct fg_guest *g);

/*
 * Queue one frame for TX: @hdr (dev.hdr_len bytes) then @frame. Returns 0,
 * or -EAGAIN if out of descriptors or slots. Call fg_guest_tx_kick() after
 * a batch.
 */
int fg_guest_tx(struct fg_guest *g, const void *hdr, const void *frame,
		size_t len);
void fg_guest_tx_kick(struct fg_guest *g);
/* Reap completed TX buffers. Returns how many, or -errno (g->err). */
int fg_guest_tx_reap(struct fg_guest *g);

/* Post every free RX buffer and kick if the device wants it. */
int fg_guest_rx_fill(struct fg_guest *g);
/*
 * Reap used RX buffers, reassemble frames and hand each to @cb, then refill.
 * Returns the number of frames, or -errno (g->err, or what @cb returned).
 */
int fg_guest_rx_poll(struct fg_guest *g, fg_rx_cb cb, void *arg);

/* Forget every buffer and rebuild the ring @idx from scratch. */
int fg_guest_reinit_vq(struct fg_guest *g, unsigned int idx);
/*
 * As fg_guest_reinit_vq(), but the ring's avail and used parts move to
 * @avail_gpa and @used_gpa first (they may overlap each other: hostile
 * layouts, see fg_hostile.h) and the ring starts at avail index @base.
 * Both must lie in one region. On a packed ring they are the driver's
 * and the device's event areas, and @base is not used (a fresh ring).
 * The RX ring is refilled; the device gets a kick either way.
 */
int fg_guest_relocate_vq(struct fg_guest *g, unsigned int idx,
			 __u64 avail_gpa, __u64 used_gpa, __u16 base);
/* VHOST_RESET_OWNER and full reprogramming, reattaching the backend. */
int fg_guest_reset_owner(struct fg_guest *g);

/* Arm calls on both queues; true if work is already pending. */
bool fg_guest_arm(struct fg_guest *g);

#endif /* FG_GUEST_H */
