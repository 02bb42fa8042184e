// SPDX-License-Identifier: GPL-2.0
/*
 * Packed virtqueue access (virtio 1.1+, 2.8): one descriptor ring that
 * the driver fills and the device writes back, and two event areas.
 * Positions are free-running u16 slot counts (vhnet.h); a packed ring
 * needs VIRTIO_F_VERSION_1, so every field is little-endian.
 */
#include <linux/uaccess.h>

#include "vhnet.h"
#include "vhnet_trace.h"

#define VHNET_F_AVAIL	BIT(VRING_PACKED_DESC_F_AVAIL)
#define VHNET_F_USED	BIT(VRING_PACKED_DESC_F_USED)
#define VHNET_WRAP_BIT	BIT(VRING_PACKED_EVENT_F_WRAP_CTR)

/* A position as the UAPI and the event areas give it: slot | wrap << 15. */
static u16 vhnet_pos_encode(const struct vhnet_vq *vq, u16 pos)
{
	return vhnet_slot(vq, pos) | (vhnet_wrap(vq, pos) ? VHNET_WRAP_BIT : 0);
}

static int vhnet_pos_decode(const struct vhnet_vq *vq, u16 v, u16 *pos)
{
	u16 slot = v & ~VHNET_WRAP_BIT;

	if (!vq->num || slot >= vq->num)
		return -EINVAL;
	*pos = slot + (v & VHNET_WRAP_BIT ? 0 : vq->num);
	return 0;
}

/*
 * VHOST_GET/SET_VRING_BASE of a packed ring, QEMU's encoding: bits 0-15
 * the next slot to take and its wrap counter, bits 16-31 the next used
 * slot and its wrap counter.
 */
u32 vhnet_packed_get_base(const struct vhnet_vq *vq)
{
	return vhnet_pos_encode(vq, vq->last_avail_idx) |
	       (u32)vhnet_pos_encode(vq, vq->last_used_idx) << 16;
}

int vhnet_packed_set_base(struct vhnet_vq *vq, u32 base)
{
	u16 avail, used;

	if (vhnet_pos_decode(vq, base & U16_MAX, &avail) ||
	    vhnet_pos_decode(vq, base >> 16, &used))
		return -EINVAL;
	vq->last_avail_idx = avail;
	vq->avail_idx = avail;
	vq->last_used_idx = used;
	return 0;
}

/*
 * Whether the driver made the slot at last_avail_idx available: its
 * AVAIL flag equals our wrap counter and its USED flag does not.
 */
bool vhnet_packed_avail(struct vhnet_vq *vq, int *err)
{
	u16 pos = vq->last_avail_idx;
	bool wrap = vhnet_wrap(vq, pos);
	__le16 v;
	u16 flags;

	if (get_user(v, &vq->pdesc[vhnet_slot(vq, pos)].flags)) {
		*err = -EFAULT;
		return false;
	}
	flags = le16_to_cpu(v);
	return !!(flags & VHNET_F_AVAIL) == wrap &&
	       !!(flags & VHNET_F_USED) != wrap;
}

/* An indirect table: packed descriptors, only their WRITE flag counts. */
static int vhnet_packed_indirect(struct vhnet_vq *vq, struct vhnet_chain *chain,
				 const struct vring_packed_desc *ind,
				 bool writable)
{
	u32 len = le32_to_cpu(ind->len);
	u64 base = le64_to_cpu(ind->addr);
	unsigned int count = len / sizeof(struct vring_packed_desc), i;
	struct vring_packed_desc d;
	u16 flags;
	int ret;

	if (!vhnet_has(vq, VIRTIO_RING_F_INDIRECT_DESC)) {
		vhnet_vq_break(vq, "indirect descriptor not negotiated");
		return -EIO;
	}
	if (!len || len % sizeof(d) || count > VHNET_RING_MAX) {
		vhnet_vq_break(vq, "bad indirect table length");
		return -EIO;
	}
	for (i = 0; i < count; i++) {
		ret = vhnet_indirect_entry(vq, &d, sizeof(d), base, i);
		if (ret)
			return ret;
		flags = le16_to_cpu(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			vhnet_vq_break(vq, "nested indirect table");
			return -EIO;
		}
		ret = vhnet_chain_add(vq, chain, le64_to_cpu(d.addr),
				      le32_to_cpu(d.len),
				      flags & VRING_DESC_F_WRITE, writable);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * vhnet_vq_next_chain() for a packed ring: the chain starts at
 * last_avail_idx and runs over consecutive slots while NEXT is set; its
 * last descriptor carries the buffer id. The head's flags make the
 * whole chain available, so only the head's are checked.
 */
int vhnet_packed_next_chain(struct vhnet_vq *vq, bool writable,
			    struct vhnet_chain *chain)
{
	u16 pos = vq->last_avail_idx, flags;
	struct vring_packed_desc d;
	unsigned int n = 0;
	int err = 0, ret;

	if (!vhnet_packed_avail(vq, &err)) {
		if (!err)
			return -EAGAIN;
		vhnet_vq_break(vq, "descriptor ring unreadable");
		return -EIO;
	}
	/* Read the head's flags before the descriptors they publish. */
	smp_rmb();
	chain->niov = 0;
	chain->len = 0;
	do {
		if (n == vq->num) {
			vhnet_vq_break(vq, "chain longer than the ring");
			return -EIO;
		}
		if (copy_from_user(&d, vq->pdesc + vhnet_slot(vq, pos + n),
				   sizeof(d))) {
			vhnet_vq_break(vq, "descriptor ring unreadable");
			return -EIO;
		}
		n++;
		flags = le16_to_cpu(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (flags & VRING_DESC_F_NEXT) {
				vhnet_vq_break(vq, "indirect descriptor with NEXT");
				return -EIO;
			}
			ret = vhnet_packed_indirect(vq, chain, &d, writable);
		} else {
			ret = vhnet_chain_add(vq, chain, le64_to_cpu(d.addr),
					      le32_to_cpu(d.len),
					      flags & VRING_DESC_F_WRITE,
					      writable);
		}
		if (ret)
			return ret;
	} while (flags & VRING_DESC_F_NEXT);
	chain->head = le16_to_cpu(d.id);
	chain->slots = n;
	vq->last_avail_idx += n;
	return 0;
}

/* The flags that hand the used descriptor at @pos back to the driver. */
static u16 vhnet_used_flags(const struct vhnet_vq *vq, u16 pos, u32 len)
{
	u16 flags = vhnet_wrap(vq, pos) ? VHNET_F_AVAIL | VHNET_F_USED : 0;

	return len ? flags | VRING_DESC_F_WRITE : flags;
}

/*
 * Hand the descriptor at @pos back as used entry @e: its len, id and
 * flags are the descriptor's last 8 bytes, written in one store, so a
 * driver that sees the flags also sees the id and length.
 */
static int vhnet_packed_put_used(struct vhnet_vq *vq, u16 pos,
				 const struct vring_used_elem *e)
{
	u32 len = vq32(vq, e->len);
	u64 v = len | (u64)vq32(vq, e->id) << 32 |
		(u64)vhnet_used_flags(vq, pos, len) << 48;

	BUILD_BUG_ON(offsetof(struct vring_packed_desc, len) != 8 ||
		     offsetof(struct vring_packed_desc, id) != 12 ||
		     offsetof(struct vring_packed_desc, flags) != 14);
	if (put_user(cpu_to_le64(v),
		     (__le64 __user *)&vq->pdesc[vhnet_slot(vq, pos)].len)) {
		vhnet_vq_break(vq, "descriptor ring unwritable");
		return -EIO;
	}
	return 0;
}

/*
 * Publish the collected used entries, each in the first slot of its
 * chain, the batch's first entry last, so that the driver sees the batch
 * at once. The caller then signals.
 */
int vhnet_packed_flush_used(struct vhnet_vq *vq)
{
	const struct vring_used_elem *h = vq->heads;
	unsigned int i, n = vq->nheads, end = vq->last_used_idx;
	u16 pos;

	if (!vq->nheads)
		return 0;
	for (i = 0; i < vq->nheads; i++)
		end += vq->slots[i];
	/* In order: one descriptor, in the batch's first slot, the last id. */
	if (vhnet_vq_inorder_batch(vq)) {
		h = &vq->heads[vq->nheads - 1];
		n = 1;
	}
	pos = vq->last_used_idx + vq->slots[0];
	for (i = 1; i < n; i++) {
		if (vhnet_packed_put_used(vq, pos, &h[i]))
			return -EIO;
		pos += vq->slots[i];
	}
	/* The rest of the batch before its first entry. */
	smp_wmb();
	if (vhnet_packed_put_used(vq, vq->last_used_idx, &h[0]))
		return -EIO;
	pos = vq->last_used_idx;
	for (i = 0; i < n; i++) {
		if (vhnet_log_desc(vq, vhnet_slot(vq, pos) *
				   sizeof(struct vring_packed_desc),
				   sizeof(struct vring_packed_desc)))
			return -EIO;
		pos += vq->slots[i];
	}
	vq->last_used_idx = end;
	vq->nheads = 0;
	vhnet_log_signal(vq);
	return 0;
}

/* Write the device event area: @flags and, for DESC, the position. */
static int vhnet_packed_set_event(struct vhnet_vq *vq, u16 flags, u16 off_wrap)
{
	/* One 32-bit store: the driver reads both fields at once. */
	u32 v = off_wrap | (u32)flags << 16;

	if (put_user(cpu_to_le32(v), (__le32 __user *)vq->dev_event)) {
		vhnet_vq_break(vq, "device event area unwritable");
		return -EIO;
	}
	return vhnet_log_used(vq, 0, sizeof(*vq->dev_event));
}

void vhnet_packed_disable_notify(struct vhnet_vq *vq)
{
	vhnet_packed_set_event(vq, VRING_PACKED_EVENT_FLAG_DISABLE, 0);
}

/*
 * Ask for kicks again, with EVENT_IDX for the slot we take next; true if
 * that slot is available already (go on polling).
 */
bool vhnet_packed_enable_notify(struct vhnet_vq *vq)
{
	bool avail;
	int err = 0;

	if (vhnet_has(vq, VIRTIO_RING_F_EVENT_IDX))
		err = vhnet_packed_set_event(vq, VRING_PACKED_EVENT_FLAG_DESC,
					     vhnet_pos_encode(vq, vq->last_avail_idx));
	else
		err = vhnet_packed_set_event(vq, VRING_PACKED_EVENT_FLAG_ENABLE, 0);
	if (err)
		return false;
	/* Publish the wish before looking at the ring again: no lost kicks. */
	smp_mb();
	avail = vhnet_packed_avail(vq, &err);
	if (err) {
		vhnet_vq_break(vq, "descriptor ring unreadable");
		return false;
	}
	return avail;
}

/*
 * The free-running position the driver's off_wrap stands for: the one
 * with that slot and wrap counter in [@ref - num, @ref + num), which is
 * where the driver's event lies (at most a ring behind the device's used
 * position, less than a ring ahead of it). A slot out of range (a
 * driver's lie) only changes when the guest is interrupted.
 */
static u16 vhnet_packed_event_pos(const struct vhnet_vq *vq, u16 off_wrap,
				  u16 ref)
{
	u16 period = 2 * vq->num - 1;	/* 65535 for num 32768: all of u16 */
	u16 pos = (ref & ~period) + vhnet_slot(vq, off_wrap) +
		  (off_wrap & VHNET_WRAP_BIT ? 0 : vq->num);
	s16 d = pos - ref;

	if (d >= (int)vq->num)
		pos -= 2 * vq->num;
	else if (d < -(int)vq->num)
		pos += 2 * vq->num;
	return pos;
}

bool vhnet_packed_need_signal(struct vhnet_vq *vq)
{
	u16 old = vq->signalled_used, now = vq->last_used_idx, flags;
	bool valid = vq->signalled_used_valid;
	__le32 snap;
	u32 v;

	/* The used descriptors must be visible before we read the wish. */
	smp_mb();
	vq->signalled_used = now;
	vq->signalled_used_valid = true;
	if (get_user(snap, (__le32 __user *)vq->drv_event))
		return true;
	v = le32_to_cpu(snap);
	flags = v >> 16;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC ||
	    !vhnet_has(vq, VIRTIO_RING_F_EVENT_IDX) || !valid)
		return true;
	return vring_need_event(vhnet_packed_event_pos(vq, v & U16_MAX, now),
				now, old);
}
