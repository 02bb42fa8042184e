/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMM's side of the device IOTLB (VIRTIO_F_ACCESS_PLATFORM, as QEMU
 * with a vIOMMU): read the device's MISS messages, write UPDATE and
 * INVALIDATE. The fake guest's IOVAs are its guest-physical addresses.
 */
#ifndef FG_IOTLB_H
#define FG_IOTLB_H

#include <linux/types.h>
#include <linux/vhost_types.h>

#include "fg_dev.h"

#define FG_IOTLB_PAGE	0x1000ULL

/* Write one message (UPDATE maps IOVA = GPA to its hva); 0 or -errno. */
int fg_iotlb_send(struct fg_dev *d, __u8 type, __u64 iova, __u64 size,
		  __u8 perm);
/* Write @len bytes of @msg as they are; the write's result or -errno. */
int fg_iotlb_write_raw(struct fg_dev *d, const void *msg, size_t len);
/*
 * Wait up to @timeout_ms for one message from the device and read it
 * into @msg (sizeof bytes); 0, -ETIMEDOUT, or -errno.
 */
int fg_iotlb_read(struct fg_dev *d, struct vhost_msg_v2 *msg, int timeout_ms);
/*
 * Answer MISS messages for up to @timeout_ms, each with an UPDATE of
 * the FG_IOTLB_PAGE-aligned page of @perm holding the address, until
 * @done(@arg) is true. Returns the number answered, or -errno.
 */
int fg_iotlb_serve(struct fg_dev *d, __u8 perm, int timeout_ms,
		   int (*done)(void *arg), void *arg);

#endif /* FG_IOTLB_H */
