/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: the driver side of a split virtqueue (virtio 1.x, 2.7) or a
 * packed one (VIRTIO_F_RING_PACKED, virtio 1.1, 2.8; packed.c).
 *
 * The ring lives in guest memory. Descriptor addresses are guest-physical;
 * the ring addresses given to vhost are userspace addresses, as for
 * VHOST_SET_VRING_ADDR. Legacy rings use native endianness (little endian
 * on the hosts we run on), modern rings little endian.
 */
#ifndef FG_VRING_H
#define FG_VRING_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/virtio_ring.h>

#include "fg_mem.h"

#define FG_VQ_MAX_NUM	32768
#define FG_MAX_SEGS	64	/* longest chain or indirect table we build */

/* Memory barriers between the driver and the device. */
#define fg_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define fg_rmb()	__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define fg_wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)

/* One guest-physical segment of a buffer. */
struct fg_seg {
	__u64 gpa;
	__u32 len;
};

struct fg_vq_head {
	__u32 cookie;		/* caller's token for this buffer */
	__u16 ndesc;		/* descriptors used in the ring table */
	bool busy;
};

struct fg_vq {
	struct fg_mem *mem;
	unsigned int num;
	bool event_idx;
	bool legacy;
	bool packed;
	/*
	 * VIRTIO_F_IN_ORDER: buffers in flight in the order they were made
	 * available (ids), so that a used entry for a later buffer completes
	 * all before it (batch_end: that entry's id while its batch is being
	 * handed out, -1 otherwise); batched counts such entries.
	 */
	bool in_order;
	bool scramble;		/* hand out descriptors (ids) out of order */
	__u16 *order;
	unsigned int order_head;
	int batch_end;
	__u32 batch_len;
	unsigned long batched;

	/*
	 * Ring parts: guest-physical and our addresses. A packed ring's
	 * avail and used parts are the driver's and the device's event
	 * suppression areas (as VHOST_SET_VRING_ADDR takes them).
	 */
	__u64 desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	__u16 *used_event;	/* in avail, after ring[num] */
	__u16 *avail_event;	/* in used, after ring[num] */

	__u16 avail_idx;	/* shadow of avail->idx */
	__u16 kicked_idx;	/* avail->idx at the last kick decision */
	__u16 last_used;	/* next used entry to consume */

	/*
	 * Packed: the descriptors, free-running positions (slot pos &
	 * (num - 1), wrap counter !(pos & num)) and the head flags that
	 * fg_vq_publish() writes.
	 */
	struct vring_packed_desc *pdesc;
	__u16 avail_pos, used_pos, kicked_pos;
	__u16 *pend_slot, *pend_flags;
	unsigned int npend;

	/*
	 * Free descriptors (packed: free buffer ids), FIFO so that every
	 * index gets used in turn. Packed: nfree counts free slots.
	 */
	__u16 *free_fifo;
	unsigned int free_head, nfree;
	struct fg_vq_head *heads;
	unsigned int inflight;

	int kick_fd, call_fd, err_fd;

	/* statistics */
	unsigned long kicks, kicks_suppressed, calls;
};

/* Ring sizes in bytes per the spec. */
size_t fg_vring_desc_size(unsigned int num);
size_t fg_vring_avail_size(unsigned int num);
size_t fg_vring_used_size(unsigned int num);

/*
 * Allocate a ring of @num entries (power of two, 1..32768) from @mem, and
 * three eventfds (kick, call, err).
 */
int fg_vq_init(struct fg_vq *vq, struct fg_mem *mem, unsigned int num,
	       bool event_idx, bool legacy, bool packed);
void fg_vq_fini(struct fg_vq *vq);
/* Zero the ring and forget every buffer: the state after SET_VRING_BASE 0. */
void fg_vq_reset(struct fg_vq *vq);
/* Every descriptor (packed: buffer id) free, none in flight. */
void fg_vq_reset_lists(struct fg_vq *vq);
/* VHOST_SET_VRING_BASE's value for where the ring stands. */
unsigned int fg_vq_base(const struct fg_vq *vq);
/* Buffers made available and used ones consumed (packed: slots), mod 2^16. */
__u16 fg_vq_avail_pos(const struct fg_vq *vq);
__u16 fg_vq_used_pos(const struct fg_vq *vq);

/*
 * In order: which buffer a used entry for @id (of length @len) completes
 * now -- the oldest in flight, and FG_VQ_NO_LEN if the device wrote no
 * length for it (a buffer before the entry's own); -EPROTO if @id is not
 * in flight. @id only counts when no batch is being handed out.
 */
#define FG_VQ_NO_LEN	0x10000
void fg_vq_order_add(struct fg_vq *vq, __u16 id);
int fg_vq_in_order(struct fg_vq *vq, __u32 id, __u32 len);
/*
 * The buffer a used entry (*@id, *@len) completes, marked done, its
 * cookie in *@cookie; in order, *@id and *@len become the oldest buffer's
 * (and, within a batch, the entry read is not used). 0, or -EPROTO.
 */
int fg_vq_take(struct fg_vq *vq, __u32 *id, __u32 *len, __u32 *cookie);

/* packed.c: the same operations on a packed ring (vring.c dispatches). */
size_t fg_pvq_desc_size(unsigned int num);
int fg_pvq_alloc(struct fg_vq *vq);
void fg_pvq_reset(struct fg_vq *vq);
unsigned int fg_pvq_base(const struct fg_vq *vq);
int fg_pvq_add(struct fg_vq *vq, const struct fg_seg *segs, unsigned int nout,
	       unsigned int nin, __u64 indirect_gpa, __u32 cookie);
void fg_pvq_publish(struct fg_vq *vq);
bool fg_pvq_need_kick(struct fg_vq *vq);
int fg_pvq_get_used(struct fg_vq *vq, __u32 *cookie, __u32 *len);
unsigned int fg_pvq_pending(const struct fg_vq *vq);
__u16 fg_pvq_used_end(const struct fg_vq *vq);
void fg_pvq_set_cb(struct fg_vq *vq, bool on, __u16 at);

/* Endian helpers for ring and header fields. */
__u16 fg_cpu_to_v16(const struct fg_vq *vq, __u16 v);
__u32 fg_cpu_to_v32(const struct fg_vq *vq, __u32 v);
__u64 fg_cpu_to_v64(const struct fg_vq *vq, __u64 v);
__u16 fg_v16_to_cpu(const struct fg_vq *vq, __u16 v);
__u32 fg_v32_to_cpu(const struct fg_vq *vq, __u32 v);

/*
 * Make a buffer available: @nout device-readable then @nin device-writable
 * segments. With @indirect_gpa != 0 they go into an indirect table written
 * there (room for nout + nin descriptors), taking one ring descriptor.
 * Returns the head index, or -ENOSPC if the ring has too few free
 * descriptors. Not visible to the device until fg_vq_publish().
 */
int fg_vq_add(struct fg_vq *vq, const struct fg_seg *segs, unsigned int nout,
	      unsigned int nin, __u64 indirect_gpa, __u32 cookie);
unsigned int fg_vq_free_descs(const struct fg_vq *vq);
/* Publish added buffers: barrier, then avail->idx. */
void fg_vq_publish(struct fg_vq *vq);
/*
 * Notify the device if it asked for it (VRING_USED_F_NO_NOTIFY or
 * avail_event). Returns true if the kick eventfd was written.
 */
bool fg_vq_kick(struct fg_vq *vq);
/* Write the kick eventfd unconditionally. */
void fg_vq_kick_force(struct fg_vq *vq);

/*
 * Consume one used entry. Returns 1 and fills *cookie and *len, 0 if none,
 * or -EPROTO if the device returned an id that is not in flight.
 */
int fg_vq_get_used(struct fg_vq *vq, __u32 *cookie, __u32 *len);
/* Number of used entries published and not yet consumed. */
unsigned int fg_vq_pending(const struct fg_vq *vq);
/*
 * Where the device's used entries end, mod 2^16: used->idx, or (packed)
 * the slot after the last used chain.
 */
__u16 fg_vq_used_end(const struct fg_vq *vq);
/*
 * Ask for a call on the next used entry (used_event or clearing
 * VRING_AVAIL_F_NO_INTERRUPT). Returns true if entries are already pending,
 * in which case the caller should not sleep.
 */
bool fg_vq_enable_cb(struct fg_vq *vq);
/*
 * With EVENT_IDX, ask for a call only once 3/4 of the buffers in flight
 * are used, as Linux's virtqueue_enable_cb_delayed(); true if that many
 * are used already. Without EVENT_IDX, fg_vq_enable_cb().
 */
bool fg_vq_enable_cb_delayed(struct fg_vq *vq);
void fg_vq_disable_cb(struct fg_vq *vq);
/* Drain the call eventfd; returns true if it had been signalled. */
bool fg_vq_ack_call(struct fg_vq *vq);
/* Wait for the call eventfd. 0, or -ETIMEDOUT. */
int fg_vq_wait_call(struct fg_vq *vq, int timeout_ms);
/* Wait for / test the err eventfd. 0, or -ETIMEDOUT. */
int fg_vq_wait_err(struct fg_vq *vq, int timeout_ms);

#endif /* FG_VRING_H */
