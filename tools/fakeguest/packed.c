// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: the driver side of a packed virtqueue, written from the
 * virtio 1.1 specification, section 2.8. One descriptor ring: the driver
 * writes a chain into consecutive slots, the head's flags last; the
 * device writes a used descriptor (buffer id, length) into the first slot
 * of each chain it is done with. Positions are free-running u16 slot
 * counts: slot pos & (num - 1), wrap counter !(pos & num), 1 on the first
 * lap. A packed ring is little-endian (it needs VIRTIO_F_VERSION_1).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fg_vring.h"

#define FG_F_AVAIL	(1U << VRING_PACKED_DESC_F_AVAIL)
#define FG_F_USED	(1U << VRING_PACKED_DESC_F_USED)
#define FG_WRAP		(1U << VRING_PACKED_EVENT_F_WRAP_CTR)

size_t fg_pvq_desc_size(unsigned int num)
{
	return sizeof(struct vring_packed_desc) * (size_t)num;
}

static unsigned int fg_slot(const struct fg_vq *vq, __u16 pos)
{
	return pos & (vq->num - 1);
}

static bool fg_wrap(const struct fg_vq *vq, __u16 pos)
{
	return !(pos & vq->num);
}

/* slot | wrap << 15, as SET_VRING_BASE and the event areas take it. */
static __u16 fg_pos_encode(const struct fg_vq *vq, __u16 pos)
{
	return fg_slot(vq, pos) | (fg_wrap(vq, pos) ? FG_WRAP : 0);
}

/*
 * The position of an encoded off_wrap in [@ref - num, @ref + num): the
 * device's event slot is at most a ring behind what we made available (a
 * whole ring posted before the kick) and never ahead of it.
 */
static __u16 fg_pos_near(const struct fg_vq *vq, __u16 off_wrap, __u16 ref)
{
	unsigned int lap2 = 2 * vq->num;
	__u16 pos = (ref & ~(lap2 - 1)) + (off_wrap & (vq->num - 1)) +
		    (off_wrap & FG_WRAP ? 0 : vq->num);
	int d = (__s16)(__u16)(pos - ref);

	if (d >= (int)vq->num)
		pos -= lap2;
	else if (d < -(int)vq->num)
		pos += lap2;
	return pos;
}

/* An available descriptor's flags at @pos: AVAIL = wrap, USED = !wrap. */
static __u16 fg_avail_flags(const struct fg_vq *vq, __u16 pos)
{
	return fg_wrap(vq, pos) ? FG_F_AVAIL : FG_F_USED;
}

int fg_pvq_alloc(struct fg_vq *vq)
{
	unsigned int num = vq->num;
	int ret;

	/* desc: 16-byte aligned, event areas: 4 (spec 2.8.10). */
	ret = fg_mem_alloc(vq->mem, fg_pvq_desc_size(num), 16, FG_ALLOC_CONTIG,
			   &vq->desc_gpa);
	if (!ret)
		ret = fg_mem_alloc(vq->mem, 4, 4, FG_ALLOC_CONTIG,
				   &vq->avail_gpa);
	if (!ret)
		ret = fg_mem_alloc(vq->mem, 4, 4, FG_ALLOC_CONTIG,
				   &vq->used_gpa);
	if (ret)
		return ret;
	vq->pdesc = fg_mem_hva(vq->mem, vq->desc_gpa, fg_pvq_desc_size(num));
	/* The split pointers carry the addresses SET_VRING_ADDR gives. */
	vq->desc = (struct vring_desc *)vq->pdesc;
	vq->avail = fg_mem_hva(vq->mem, vq->avail_gpa, 4);
	vq->used = fg_mem_hva(vq->mem, vq->used_gpa, 4);
	vq->pend_slot = calloc(num, sizeof(*vq->pend_slot));
	vq->pend_flags = calloc(num, sizeof(*vq->pend_flags));
	if (!vq->pend_slot || !vq->pend_flags)
		return -ENOMEM;
	return 0;
}

static __u32 *fg_drv_event(struct fg_vq *vq)
{
	return (__u32 *)vq->avail;
}

static const __u32 *fg_dev_event(const struct fg_vq *vq)
{
	return (const __u32 *)vq->used;
}

void fg_pvq_reset(struct fg_vq *vq)
{
	memset(vq->pdesc, 0, fg_pvq_desc_size(vq->num));
	memset(vq->avail, 0, 4);
	memset(vq->used, 0, 4);
	vq->avail_pos = 0;
	vq->used_pos = 0;
	vq->kicked_pos = 0;
	vq->npend = 0;
	fg_vq_reset_lists(vq);
}

unsigned int fg_pvq_base(const struct fg_vq *vq)
{
	return fg_pos_encode(vq, vq->avail_pos) |
	       (unsigned int)fg_pos_encode(vq, vq->used_pos) << 16;
}

static __u16 fg_pvq_pop_id(struct fg_vq *vq)
{
	__u16 id = vq->free_fifo[vq->free_head];

	vq->free_head = (vq->free_head + 1) & (vq->num - 1);
	return id;
}

static void fg_pvq_push_id(struct fg_vq *vq, __u16 id)
{
	unsigned int tail = (vq->free_head + vq->num - vq->inflight) &
			    (vq->num - 1);

	vq->free_fifo[tail] = id;
}

static void fg_pvq_set(struct vring_packed_desc *d, __u64 addr, __u32 len,
		       __u16 id)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->id = htole16(id);
}

int fg_pvq_add(struct fg_vq *vq, const struct fg_seg *segs, unsigned int nout,
	       unsigned int nin, __u64 indirect_gpa, __u32 cookie)
{
	unsigned int n = nout + nin, ndesc = indirect_gpa ? 1 : n, i;
	__u16 head = vq->avail_pos, id, flags = 0;

	if (!n || n > FG_MAX_SEGS || (!indirect_gpa && n > vq->num))
		return -EINVAL;
	if (vq->nfree < ndesc || vq->inflight == vq->num)
		return -ENOSPC;
	id = fg_pvq_pop_id(vq);
	if (indirect_gpa) {
		struct vring_packed_desc tbl[FG_MAX_SEGS];

		memset(tbl, 0, sizeof(tbl));
		for (i = 0; i < n; i++) {
			fg_pvq_set(&tbl[i], segs[i].gpa, segs[i].len, 0);
			tbl[i].flags = htole16(i >= nout ? VRING_DESC_F_WRITE : 0);
		}
		if (fg_mem_write(vq->mem, indirect_gpa, tbl, n * sizeof(tbl[0]))) {
			/* Put the id back where it came from. */
			vq->free_head = (vq->free_head + vq->num - 1) &
					(vq->num - 1);
			return -EFAULT;
		}
		fg_pvq_set(&vq->pdesc[fg_slot(vq, head)], indirect_gpa,
			   n * sizeof(tbl[0]), id);
		flags = VRING_DESC_F_INDIRECT;
	} else {
		/* The rest of the chain now; the head's flags publish it. */
		for (i = n; i-- > 0;) {
			__u16 pos = head + i;

			fg_pvq_set(&vq->pdesc[fg_slot(vq, pos)], segs[i].gpa,
				   segs[i].len, id);
			flags = (i + 1 < n ? VRING_DESC_F_NEXT : 0) |
				(i >= nout ? VRING_DESC_F_WRITE : 0);
			if (i)
				vq->pdesc[fg_slot(vq, pos)].flags =
					htole16(flags | fg_avail_flags(vq, pos));
		}
	}
	vq->pend_slot[vq->npend] = fg_slot(vq, head);
	vq->pend_flags[vq->npend++] = flags | fg_avail_flags(vq, head);
	vq->heads[id].cookie = cookie;
	vq->heads[id].ndesc = ndesc;
	vq->heads[id].busy = true;
	fg_vq_order_add(vq, id);
	vq->inflight++;
	vq->nfree -= ndesc;
	vq->avail_pos += ndesc;
	return id;
}

void fg_pvq_publish(struct fg_vq *vq)
{
	unsigned int i;

	/* Whole chains before the head flags that make them available. */
	fg_wmb();
	for (i = 0; i < vq->npend; i++)
		__atomic_store_n(&vq->pdesc[vq->pend_slot[i]].flags,
				 htole16(vq->pend_flags[i]), __ATOMIC_RELEASE);
	vq->npend = 0;
}

/* After fg_mb(): whether the device's event area asks for a kick. */
bool fg_pvq_need_kick(struct fg_vq *vq)
{
	__u16 old = vq->kicked_pos, new = vq->avail_pos, flags, ev;
	__u32 v = le32toh(__atomic_load_n(fg_dev_event(vq), __ATOMIC_RELAXED));

	vq->kicked_pos = new;
	flags = v >> 16;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE || old == new)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx)
		return true;
	/* Notify if the device's slot is in [old, new) (spec 2.8.21). */
	ev = fg_pos_near(vq, v & 0xffff, new);
	return (__u16)(new - ev - 1) < (__u16)(new - old);
}

/* Whether the slot at @pos holds a used descriptor: AVAIL = USED = wrap. */
static bool fg_pvq_is_used(const struct fg_vq *vq, __u16 pos)
{
	__u16 f = le16toh(__atomic_load_n(&vq->pdesc[fg_slot(vq, pos)].flags,
					  __ATOMIC_ACQUIRE));
	bool w = fg_wrap(vq, pos);

	return !!(f & FG_F_AVAIL) == w && !!(f & FG_F_USED) == w;
}

int fg_pvq_get_used(struct fg_vq *vq, __u32 *cookie, __u32 *len)
{
	const struct vring_packed_desc *d;
	__u32 id = 0;
	int r;

	/* In order, within a batch: the next buffer, no descriptor to read. */
	if (vq->batch_end < 0) {
		if (!fg_pvq_is_used(vq, vq->used_pos))
			return 0;
		d = &vq->pdesc[fg_slot(vq, vq->used_pos)];
		id = le16toh(d->id);
		*len = le32toh(d->len);
	}
	r = fg_vq_take(vq, &id, len, cookie);
	if (r)
		return r;
	vq->used_pos += vq->heads[id].ndesc;
	vq->nfree += vq->heads[id].ndesc;
	fg_pvq_push_id(vq, id);
	vq->inflight--;
	return 1;
}

/* In order: the buffers a batch's descriptor covers count one by one. */
static unsigned int fg_pvq_walk_in_order(const struct fg_vq *vq, __u16 *endp)
{
	int end = vq->batch_end;
	__u16 pos = vq->used_pos, id, oid;
	unsigned int n = 0;

	while (n < vq->inflight) {
		oid = vq->order[(vq->order_head + n) & (vq->num - 1)];
		if (end < 0) {
			if (!fg_pvq_is_used(vq, pos))
				break;
			id = le16toh(vq->pdesc[fg_slot(vq, pos)].id);
			if (id >= vq->num || !vq->heads[id].busy)
				break;
			end = id;
		}
		pos += vq->heads[oid].ndesc;
		n++;
		if (oid == end)
			end = -1;
	}
	*endp = pos;
	return n;
}

/*
 * Used buffers waiting, found by walking the chains in flight; the slot
 * after the last of them in *@endp.
 */
static unsigned int fg_pvq_walk(const struct fg_vq *vq, __u16 *endp)
{
	__u16 pos = vq->used_pos, id;
	unsigned int n = 0;

	if (vq->in_order)
		return fg_pvq_walk_in_order(vq, endp);
	while (n < vq->inflight && fg_pvq_is_used(vq, pos)) {
		id = le16toh(vq->pdesc[fg_slot(vq, pos)].id);
		if (id >= vq->num || !vq->heads[id].busy)
			break;
		pos += vq->heads[id].ndesc;
		n++;
	}
	*endp = pos;
	return n;
}

unsigned int fg_pvq_pending(const struct fg_vq *vq)
{
	__u16 end;

	return fg_pvq_walk(vq, &end);
}

__u16 fg_pvq_used_end(const struct fg_vq *vq)
{
	__u16 end;

	fg_pvq_walk(vq, &end);
	return end;
}

/*
 * Interrupts on (with EVENT_IDX: once the device's used position passes
 * @at) or off.
 */
void fg_pvq_set_cb(struct fg_vq *vq, bool on, __u16 at)
{
	__u32 v = (__u32)VRING_PACKED_EVENT_FLAG_DISABLE << 16;

	if (on && vq->event_idx)
		v = fg_pos_encode(vq, at) |
		    (__u32)VRING_PACKED_EVENT_FLAG_DESC << 16;
	else if (on)
		v = (__u32)VRING_PACKED_EVENT_FLAG_ENABLE << 16;
	__atomic_store_n(fg_drv_event(vq), htole32(v), __ATOMIC_RELAXED);
}
