/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: the VMM side of a vhost-net style device (/dev/vhost-net,
 * /dev/vhnet), driven through the standard <linux/vhost.h> ioctls.
 */
#ifndef FG_DEV_H
#define FG_DEV_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "fg_mem.h"
#include "fg_vring.h"

#define FG_RXQ	0
#define FG_TXQ	1

#define FG_F(bit)	(1ULL << (bit))

/*
 * What QEMU negotiates with vhost-net by default. Note: bit 27 is
 * VIRTIO_F_ANY_LAYOUT for a virtio device but VHOST_NET_F_VIRTIO_NET_HDR
 * for vhost-net ("vhost adds and strips the header"), so ANY_LAYOUT is never
 * passed to the device: it is a guest-side choice (fg_guest_cfg.any_layout),
 * and vhost-net accepts any layout anyway.
 */
#define FG_FEATURES_DEFAULT (FG_F(VIRTIO_F_VERSION_1) |			\
			     FG_F(VIRTIO_RING_F_INDIRECT_DESC) |	\
			     FG_F(VIRTIO_RING_F_EVENT_IDX) |		\
			     FG_F(VIRTIO_NET_F_MRG_RXBUF))

struct fg_dev {
	int fd;
	const char *path;
	__u64 offered;		/* VHOST_GET_FEATURES */
	__u64 features;		/* negotiated */
	bool legacy;		/* !VIRTIO_F_VERSION_1 */
	bool mrg_rxbuf;
	bool indirect;
	bool event_idx;
	bool packed;		/* VIRTIO_F_RING_PACKED */
	bool in_order;		/* VIRTIO_F_IN_ORDER */
	bool any_layout;	/* VERSION_1, or the guest's legacy choice */
	bool vhost_hdr;		/* VHOST_NET_F_VIRTIO_NET_HDR */
	unsigned int hdr_len;	/* virtio-net header size the guest sees */
	bool iotlb;		/* VIRTIO_F_ACCESS_PLATFORM: addresses are IOVAs */
	bool iotlb_v2;		/* VHOST_BACKEND_F_IOTLB_MSG_V2 */
	unsigned int busyloop_us;	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT, 0: off */
	void *log;		/* dirty log bitmap (VHOST_SET_LOG_BASE) */
	bool log_on;		/* VHOST_F_LOG_ALL and VHOST_VRING_F_LOG */
	struct fg_mem *mem;
	struct fg_vq vq[2];	/* FG_RXQ, FG_TXQ */
	int backend[2];		/* fd given to VHOST_NET_SET_BACKEND, or -1 */
};

/* open() the device and VHOST_SET_OWNER. */
int fg_dev_open(struct fg_dev *d, const char *path);
void fg_dev_close(struct fg_dev *d);
/* VHOST_GET_FEATURES, then VHOST_SET_FEATURES of (offered & @want). */
int fg_dev_negotiate(struct fg_dev *d, __u64 want);
/* VHOST_SET_MEM_TABLE from @mem. */
int fg_dev_set_mem(struct fg_dev *d, struct fg_mem *mem);
/* Allocate both rings of @num entries in the device's memory. */
int fg_dev_alloc_rings(struct fg_dev *d, unsigned int num);
/*
 * Program one ring into the device: SET_VRING_NUM, SET_VRING_BASE (the
 * ring's current avail index, 0 after fg_vq_reset()), SET_VRING_ADDR,
 * SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR, and with busyloop_us
 * SET_VRING_BUSYLOOP_TIMEOUT.
 */
int fg_dev_setup_vq(struct fg_dev *d, unsigned int idx);
/* Dirty log page size (VHOST_PAGE_SIZE): a bit per 4 KiB guest page. */
#define FG_LOG_PAGE	0x1000ULL

/* Bytes of dirty log covering guest memory up to fg_mem_end(@mem). */
size_t fg_log_bytes(const struct fg_mem *mem);
/* Whether the log at @log has the bit of guest page @pfn (GPA / 4 KiB). */
bool fg_log_test(const void *log, __u64 pfn);

/*
 * Switch dirty logging on or off the way QEMU does at migration start and
 * cancel, also while the rings run: VHOST_SET_LOG_BASE @log (fg_log_bytes()
 * long, kept zeroed by the caller), VHOST_SET_FEATURES with or without
 * VHOST_F_LOG_ALL, and VHOST_SET_VRING_ADDR of both rings with or without
 * VHOST_VRING_F_LOG (log_guest_addr: the used ring's GPA).
 */
int fg_dev_set_log(struct fg_dev *d, void *log, bool on);

/* VHOST_NET_SET_BACKEND; @fd -1 detaches. */
int fg_dev_set_backend(struct fg_dev *d, unsigned int idx, int fd);
/*
 * Give ring @idx a new kick eventfd (VHOST_SET_VRING_KICK) and close the
 * old one. With @pending, the new eventfd is signalled before the device
 * gets it: a kick that happened "during" the switch.
 */
int fg_dev_replace_kick(struct fg_dev *d, unsigned int idx, bool pending);
/* VHOST_GET_VRING_BASE. */
int fg_dev_get_vring_base(struct fg_dev *d, unsigned int idx,
			  unsigned int *base);
/*
 * Detach the backend from one ring, zero the ring and the driver state,
 * program it again from scratch and reattach @fd.
 */
int fg_dev_reinit_vq(struct fg_dev *d, unsigned int idx, int fd);
/*
 * VHOST_RESET_OWNER, then SET_OWNER, features, memory table and both rings
 * again from scratch, reattaching @fd.
 */
int fg_dev_reset_owner(struct fg_dev *d, int fd);

/*
 * Everything a test usually wants: open @path, negotiate @want, map
 * @mem, allocate rings of @num and program them, attach @backend_fd to
 * both queues. @mem must be initialised and stays owned by the caller.
 */
int fg_dev_setup(struct fg_dev *d, const char *path, __u64 want,
		 struct fg_mem *mem, unsigned int num, int backend_fd);

/* Header size rule: 12 with VERSION_1 or MRG_RXBUF, else 10. */
unsigned int fg_net_hdr_len(__u64 features);

#endif /* FG_DEV_H */
