// SPDX-License-Identifier: GPL-2.0
/* Split virtqueue access: avail ring, descriptor chains, used ring. */
#include <linux/uaccess.h>
#include <linux/ratelimit.h>

#include "vhnet.h"
#include "vhnet_trace.h"
#include "compat.h"

/* used_event lives after the avail ring, avail_event after the used ring. */
static inline __virtio16 __user *vhnet_used_event(struct vhnet_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static inline __virtio16 __user *vhnet_avail_event(struct vhnet_vq *vq)
{
	return (__virtio16 __user *)&vq->used->ring[vq->num];
}

static bool vhnet_range_ok(u64 addr, u64 size)
{
	if (size && addr + size - 1 < addr)
		return false;
	if (!vhnet_uaddr_fits(addr, size))
		return false;
	return access_ok((void __user *)(uintptr_t)addr, size);
}

/*
 * Bytes of each ring part for @num entries, event fields included. A
 * packed ring's avail and used parts are the driver's and the device's
 * event suppression areas.
 */
u64 vhnet_ring_size(unsigned int num, bool packed, enum vhnet_ring_part part)
{
	if (packed)
		return part == VHNET_DESC ?
		       (u64)sizeof(struct vring_packed_desc) * num :
		       sizeof(struct vring_packed_desc_event);
	switch (part) {
	case VHNET_DESC:
		return (u64)sizeof(struct vring_desc) * num;
	case VHNET_AVAIL:
		return sizeof(struct vring_avail) +
		       sizeof(__virtio16) * ((u64)num + 1);
	default:
		return sizeof(struct vring_used) +
		       sizeof(struct vring_used_elem) * (u64)num +
		       sizeof(__virtio16);
	}
}

/*
 * -EINVAL for misaligned rings, -EFAULT for inaccessible ones. IOVAs
 * (@iova) are checked when the IOTLB translates them.
 */
int vhnet_vq_check_addr(unsigned int num, bool packed, u64 desc, u64 avail,
			u64 used, bool iova)
{
	/* Packed (virtio 1.1, 2.8.10): descriptors 16, event areas 4. */
	u64 amask = packed ? 3 : VRING_AVAIL_ALIGN_SIZE - 1;

	if (desc & (VRING_DESC_ALIGN_SIZE - 1) || avail & amask ||
	    used & (VRING_USED_ALIGN_SIZE - 1))
		return -EINVAL;
	if (iova)
		return 0;
	if (!vhnet_range_ok(desc, vhnet_ring_size(num, packed, VHNET_DESC)) ||
	    !vhnet_range_ok(avail, vhnet_ring_size(num, packed, VHNET_AVAIL)) ||
	    !vhnet_range_ok(used, vhnet_ring_size(num, packed, VHNET_USED)))
		return -EFAULT;
	return 0;
}

void vhnet_vq_break(struct vhnet_vq *vq, const char *why)
{
	if (vq->broken)
		return;
	vq->broken = true;
	vq->stats.broken++;
	trace_vhnet_vq_broken(vq, why);
	pr_warn_ratelimited("vhnet: pid %d vq %u broken: %s\n",
			    vq->dev->owner_pid, vq->index, why);
	if (vq->err)
		vhnet_eventfd_signal(vq->err);
}

/*
 * The used index a backend attach starts from; the only step of an
 * attach that can fail, so it comes before the old backend is detached.
 */
int vhnet_vq_read_used_idx(struct vhnet_vq *vq, u16 *used_idx)
{
	__virtio16 idx;

	/*
	 * A packed ring keeps no index in memory: where SET_VRING_BASE put
	 * it, or where the last backend left it.
	 */
	if (vhnet_packed(vq)) {
		*used_idx = vq->last_used_idx;
		return 0;
	}
	if (get_user(idx, &vq->used->idx))
		return -EFAULT;
	*used_idx = vq16(vq, idx);
	return 0;
}

/* Called when a backend is attached: pick up where the ring stands. */
void vhnet_vq_start(struct vhnet_vq *vq, u16 used_idx)
{
	vq->last_used_idx = used_idx;
	vq->used_idx_pending = !vq->rings_ready;
	vq->avail_idx = vq->last_avail_idx;
	vq->signalled_used_valid = false;
	vq->broken = false;
	vq->nheads = 0;
}

/* The guest's avail->idx as it stands, without checks or caching. */
static int vhnet_vq_read_avail_idx(struct vhnet_vq *vq, u16 *idx)
{
	__virtio16 v;

	if (get_user(v, &vq->avail->idx))
		return -EFAULT;
	*idx = vq16(vq, v);
	return 0;
}

/*
 * Something that changes when the guest makes buffers available: for a
 * split ring avail->idx, for a packed one whether the next slot is.
 */
int vhnet_vq_avail_mark(struct vhnet_vq *vq, u16 *mark)
{
	int err = 0;

	if (!vhnet_packed(vq))
		return vhnet_vq_read_avail_idx(vq, mark);
	*mark = vq->last_avail_idx + vhnet_packed_avail(vq, &err);
	return err;
}

/*
 * Append one descriptor's buffer, @len bytes at guest address @addr, to
 * the chain's iovecs; @dev_writes: the descriptor's WRITE flag.
 */
int vhnet_chain_add(struct vhnet_vq *vq, struct vhnet_chain *chain,
		    u64 addr, u32 len, bool dev_writes, bool writable)
{
	int n;

	if (dev_writes != writable) {
		vhnet_vq_break(vq, writable ? "read-only descriptor on RX" :
				    "write-only descriptor on TX");
		return -EIO;
	}
	n = vhnet_translate(vq, addr, len,
			    writable ? VHOST_ACCESS_WO : VHOST_ACCESS_RO,
			    chain->iov + chain->niov,
			    chain->gpa ? chain->gpa + chain->niov : NULL,
			    chain->max_iov - chain->niov);
	/* An IOTLB miss: the owner was told; the queue waits for it. */
	if (n == -ENOENT)
		return n;
	if (n == -EACCES) {
		vhnet_vq_break(vq, writable ? "RX buffer mapped read-only" :
				    "TX buffer mapped write-only");
		return -EIO;
	}
	/* Out of room only because earlier chains took it: caller's call. */
	if (n == -ENOBUFS && chain->max_iov < UIO_MAXIOV)
		return -ENOSPC;
	if (n == -ENOBUFS) {
		vhnet_vq_break(vq, "chain needs more than UIO_MAXIOV segments");
		return -EIO;
	}
	if (n < 0) {
		vhnet_vq_break(vq, "buffer outside the memory table or wraps");
		return -EIO;
	}
	chain->niov += n;
	chain->len += len;
	return 0;
}

/*
 * Entry @i of the indirect table at guest address @base, @size bytes
 * (either layout's), into @d. 0; -ENOENT on an IOTLB miss (the owner was
 * told); -EIO with the queue broken.
 */
int vhnet_indirect_entry(struct vhnet_vq *vq, void *d, size_t size, u64 base,
			 unsigned int i)
{
	int ret = vhnet_copy_from_guest(vq, d, base + (u64)i * size, size);

	if (!ret || ret == -ENOENT)
		return ret;
	vhnet_vq_break(vq, ret == -EACCES ? "indirect table mapped write-only" :
			    "indirect table outside memory table");
	return -EIO;
}

static int vhnet_chain_indirect(struct vhnet_vq *vq, struct vhnet_chain *chain,
				const struct vring_desc *ind, bool writable)
{
	u32 len = vq32(vq, ind->len);
	u64 base = vq64(vq, ind->addr);
	unsigned int count = len / sizeof(struct vring_desc);
	unsigned int i = 0, seen = 0;
	struct vring_desc d;

	if (!vhnet_has(vq, VIRTIO_RING_F_INDIRECT_DESC)) {
		vhnet_vq_break(vq, "indirect descriptor not negotiated");
		return -EIO;
	}
	if (!len || len % sizeof(struct vring_desc) || count > VHNET_RING_MAX) {
		vhnet_vq_break(vq, "bad indirect table length");
		return -EIO;
	}
	for (;;) {
		u16 flags;
		int ret;

		if (++seen > count) {
			vhnet_vq_break(vq, "indirect chain loops");
			return -EIO;
		}
		ret = vhnet_indirect_entry(vq, &d, sizeof(d), base, i);
		if (ret)
			return ret;
		flags = vq16(vq, d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			vhnet_vq_break(vq, "nested indirect table");
			return -EIO;
		}
		ret = vhnet_chain_add(vq, chain, vq64(vq, d.addr),
				      vq32(vq, d.len),
				      flags & VRING_DESC_F_WRITE, writable);
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = vq16(vq, d.next);
		if (i >= count) {
			vhnet_vq_break(vq, "indirect next out of range");
			return -EIO;
		}
	}
}

/*
 * Take the next available chain and translate it into chain->iov.
 * Returns 0, -EAGAIN when the ring is empty, -ENOSPC when the chain does
 * not fit in chain->max_iov, -ENOENT on an IOTLB miss (nothing consumed
 * for either), or -EIO when the ring is broken (already flagged).
 */
int vhnet_vq_next_chain(struct vhnet_vq *vq, bool writable,
			struct vhnet_chain *chain)
{
	unsigned int seen = 0;
	__virtio16 vhead;
	struct vring_desc d;
	u16 i;
	int ret;

	if (vq->broken)
		return -EIO;
	if (vhnet_packed(vq))
		return vhnet_packed_next_chain(vq, writable, chain);
	if (vq->avail_idx == vq->last_avail_idx) {
		if (vhnet_vq_read_avail_idx(vq, &vq->avail_idx)) {
			vhnet_vq_break(vq, "avail ring unreadable");
			return -EIO;
		}
		if ((u16)(vq->avail_idx - vq->last_avail_idx) > vq->num) {
			vhnet_vq_break(vq, "avail index ran more than num ahead");
			return -EIO;
		}
		if (vq->avail_idx == vq->last_avail_idx)
			return -EAGAIN;
		/* Read avail->idx before the entries it publishes. */
		smp_rmb();
	}

	if (get_user(vhead, &vq->avail->ring[vq->last_avail_idx & (vq->num - 1)])) {
		vhnet_vq_break(vq, "avail ring unreadable");
		return -EIO;
	}
	chain->head = vq16(vq, vhead);
	chain->slots = 1;
	chain->niov = 0;
	chain->len = 0;
	if (chain->head >= vq->num) {
		vhnet_vq_break(vq, "head index out of range");
		return -EIO;
	}

	i = chain->head;
	for (;;) {
		u16 flags;

		if (++seen > vq->num) {
			vhnet_vq_break(vq, "chain loops or is longer than the ring");
			return -EIO;
		}
		if (copy_from_user(&d, vq->desc + i, sizeof(d))) {
			vhnet_vq_break(vq, "descriptor table unreadable");
			return -EIO;
		}
		flags = vq16(vq, d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (flags & VRING_DESC_F_NEXT) {
				vhnet_vq_break(vq, "indirect descriptor with NEXT");
				return -EIO;
			}
			ret = vhnet_chain_indirect(vq, chain, &d, writable);
		} else {
			ret = vhnet_chain_add(vq, chain, vq64(vq, d.addr),
					      vq32(vq, d.len),
					      flags & VRING_DESC_F_WRITE,
					      writable);
		}
		if (ret)
			return ret;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = vq16(vq, d.next);
		if (i >= vq->num) {
			vhnet_vq_break(vq, "next index out of range");
			return -EIO;
		}
	}
	vq->last_avail_idx++;
	return 0;
}

/*
 * Give back the last chains taken, @slots ring slots in all (their
 * vhnet_chain.slots), e.g. when a packet did not fit.
 */
void vhnet_vq_unget(struct vhnet_vq *vq, unsigned int slots)
{
	vq->last_avail_idx -= slots;
}

int vhnet_vq_push_used(struct vhnet_vq *vq, const struct vhnet_chain *chain,
		       u32 len)
{
	vq->heads[vq->nheads].id = cpu_vq32(vq, chain->head);
	vq->heads[vq->nheads].len = cpu_vq32(vq, len);
	vq->slots[vq->nheads] = chain->slots;
	if (++vq->nheads == UIO_MAXIOV)
		return vhnet_vq_flush_used(vq);
	return 0;
}

/*
 * VIRTIO_F_IN_ORDER: buffers the device wrote nothing to (TX) may go back
 * as one used entry with the last one's id (virtio 1.1, 2.7.8, 2.8.9);
 * the driver takes every buffer before it as used too.
 */
bool vhnet_vq_inorder_batch(const struct vhnet_vq *vq)
{
	unsigned int i;

	if (!vhnet_has(vq, VIRTIO_F_IN_ORDER) || vq->nheads < 2)
		return false;
	for (i = 0; i < vq->nheads; i++)
		if (vq->heads[i].len)
			return false;
	return true;
}

/* Publish the collected used entries; the caller then signals. */
int vhnet_vq_flush_used(struct vhnet_vq *vq)
{
	const struct vring_used_elem *src = vq->heads;
	unsigned int done = 0, count = vq->nheads;

	if (vhnet_packed(vq))
		return vhnet_packed_flush_used(vq);
	if (vhnet_vq_inorder_batch(vq)) {
		src = &vq->heads[vq->nheads - 1];
		count = 1;
	}
	while (done < count) {
		unsigned int start = (u16)(vq->last_used_idx + done) & (vq->num - 1);
		unsigned int n = min(count - done, vq->num - start);

		if (copy_to_user(&vq->used->ring[start], &src[done],
				 n * sizeof(vq->heads[0]))) {
			vhnet_vq_break(vq, "used ring unwritable");
			return -EIO;
		}
		if (vhnet_log_used(vq, offsetof(struct vring_used, ring[start]),
				   n * sizeof(vq->heads[0])))
			return -EIO;
		done += n;
	}
	/* The entries must be visible before the index that publishes them. */
	smp_wmb();
	if (put_user(cpu_vq16(vq, vq->last_used_idx + vq->nheads),
		     &vq->used->idx)) {
		vhnet_vq_break(vq, "used ring unwritable");
		return -EIO;
	}
	if (vhnet_log_used(vq, offsetof(struct vring_used, idx),
			   sizeof(vq->used->idx)))
		return -EIO;
	vq->last_used_idx += vq->nheads;
	vq->nheads = 0;
	vhnet_log_signal(vq);
	return 0;
}

void vhnet_vq_disable_notify(struct vhnet_vq *vq)
{
	if (vhnet_packed(vq)) {
		vhnet_packed_disable_notify(vq);
		return;
	}
	if (vhnet_has(vq, VIRTIO_RING_F_EVENT_IDX))
		return;
	if (put_user(cpu_vq16(vq, VRING_USED_F_NO_NOTIFY), &vq->used->flags))
		vhnet_vq_break(vq, "used ring unwritable");
	else
		vhnet_log_used(vq, offsetof(struct vring_used, flags),
			       sizeof(vq->used->flags));
}

/*
 * Ask for kicks again; true if buffers arrived meanwhile (go on polling).
 * The index read is checked like in vhnet_vq_next_chain() and cached: a
 * guest (or a ring laid over our own used->flags) that moves avail->idx
 * more than num ahead, or backwards past what we took, breaks the queue
 * instead of sending the caller round again.
 */
bool vhnet_vq_enable_notify(struct vhnet_vq *vq)
{
	bool event = vhnet_has(vq, VIRTIO_RING_F_EVENT_IDX);
	size_t off;
	u16 idx;
	int ret;

	if (vhnet_packed(vq))
		return vhnet_packed_enable_notify(vq);
	if (event)
		ret = put_user(cpu_vq16(vq, vq->avail_idx), vhnet_avail_event(vq));
	else
		ret = put_user(cpu_vq16(vq, 0), &vq->used->flags);
	if (ret) {
		vhnet_vq_break(vq, "used ring unwritable");
		return false;
	}
	off = event ? vhnet_ring_size(vq->num, false, VHNET_USED) - sizeof(u16) :
		      offsetof(struct vring_used, flags);
	if (vhnet_log_used(vq, off, sizeof(u16)))
		return false;
	/* Publish the flag before re-reading avail->idx: no lost kicks. */
	smp_mb();
	if (vhnet_vq_read_avail_idx(vq, &idx)) {
		vhnet_vq_break(vq, "avail ring unreadable");
		return false;
	}
	if ((u16)(idx - vq->last_avail_idx) > vq->num) {
		vhnet_vq_break(vq, "avail index ran more than num ahead");
		return false;
	}
	if (idx == vq->avail_idx)
		return false;
	vq->avail_idx = idx;
	/* Read avail->idx before the entries it publishes. */
	smp_rmb();
	return true;
}

static bool vhnet_vq_need_signal(struct vhnet_vq *vq)
{
	__virtio16 v;
	u16 old, event, idx;
	bool valid;

	if (vhnet_packed(vq))
		return vhnet_packed_need_signal(vq);
	/* used->idx must be visible before we read the guest's suppression. */
	smp_mb();
	if (vhnet_has(vq, VIRTIO_F_NOTIFY_ON_EMPTY) &&
	    !vhnet_vq_read_avail_idx(vq, &idx) && idx == vq->last_avail_idx)
		return true;

	if (!vhnet_has(vq, VIRTIO_RING_F_EVENT_IDX)) {
		if (get_user(v, &vq->avail->flags))
			return true;
		return !(vq16(vq, v) & VRING_AVAIL_F_NO_INTERRUPT);
	}

	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	vq->signalled_used = vq->last_used_idx;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	if (get_user(v, vhnet_used_event(vq)))
		return true;
	event = vq16(vq, v);
	return vring_need_event(event, vq->last_used_idx, old);
}

void vhnet_vq_signal(struct vhnet_vq *vq)
{
	if (vq->call && vhnet_vq_need_signal(vq)) {
		vhnet_eventfd_signal(vq->call);
		vq->stats.signals++;
		trace_vhnet_signal(vq);
	}
}
