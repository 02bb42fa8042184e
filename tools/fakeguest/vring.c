// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: the driver side of a split virtqueue, written from the
 * virtio 1.x specification, section 2.7.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fg_vring.h"

size_t fg_vring_desc_size(unsigned int num)
{
	return 16UL * num;
}

/* flags, idx, ring[num], used_event */
size_t fg_vring_avail_size(unsigned int num)
{
	return 6 + 2UL * num;
}

/* flags, idx, ring[num] of {id, len}, avail_event */
size_t fg_vring_used_size(unsigned int num)
{
	return 6 + 8UL * num;
}

__u16 fg_cpu_to_v16(const struct fg_vq *vq, __u16 v)
{
	return vq->legacy ? v : htole16(v);
}

__u32 fg_cpu_to_v32(const struct fg_vq *vq, __u32 v)
{
	return vq->legacy ? v : htole32(v);
}

__u64 fg_cpu_to_v64(const struct fg_vq *vq, __u64 v)
{
	return vq->legacy ? v : htole64(v);
}

__u16 fg_v16_to_cpu(const struct fg_vq *vq, __u16 v)
{
	return vq->legacy ? v : le16toh(v);
}

__u32 fg_v32_to_cpu(const struct fg_vq *vq, __u32 v)
{
	return vq->legacy ? v : le32toh(v);
}

static bool fg_eventfd_drain(int fd)
{
	__u64 v;

	return read(fd, &v, sizeof(v)) == sizeof(v) && v;
}

void fg_vq_reset_lists(struct fg_vq *vq)
{
	unsigned int i;

	vq->order_head = 0;
	vq->batch_end = -1;
	/* An odd stride through a power of two: every index, not in turn. */
	for (i = 0; i < vq->num; i++) {
		vq->free_fifo[i] = vq->scramble ? (i * 5 + 3) & (vq->num - 1) : i;
		vq->heads[i].busy = false;
	}
	vq->free_head = 0;
	vq->nfree = vq->num;
	vq->inflight = 0;
}

void fg_vq_reset(struct fg_vq *vq)
{
	if (vq->packed) {
		fg_pvq_reset(vq);
		goto events;
	}
	memset(vq->desc, 0, fg_vring_desc_size(vq->num));
	memset(vq->avail, 0, fg_vring_avail_size(vq->num));
	memset(vq->used, 0, fg_vring_used_size(vq->num));
	vq->avail_idx = 0;
	vq->kicked_idx = 0;
	vq->last_used = 0;
	fg_vq_reset_lists(vq);
events:
	if (vq->call_fd >= 0)
		fg_vq_ack_call(vq);
	if (vq->err_fd >= 0)
		fg_eventfd_drain(vq->err_fd);
}

unsigned int fg_vq_base(const struct fg_vq *vq)
{
	return vq->packed ? fg_pvq_base(vq) : vq->avail_idx;
}

__u16 fg_vq_avail_pos(const struct fg_vq *vq)
{
	return vq->packed ? vq->avail_pos : vq->avail_idx;
}

__u16 fg_vq_used_pos(const struct fg_vq *vq)
{
	return vq->packed ? vq->used_pos : vq->last_used;
}

int fg_vq_init(struct fg_vq *vq, struct fg_mem *mem, unsigned int num,
	       bool event_idx, bool legacy, bool packed)
{
	__u64 gpa;
	int ret;

	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
	if (!num || num > FG_VQ_MAX_NUM || (num & (num - 1)))
		return -EINVAL;
	vq->mem = mem;
	vq->num = num;
	vq->event_idx = event_idx;
	vq->legacy = legacy;
	vq->packed = packed;

	if (packed) {
		ret = fg_pvq_alloc(vq);
		if (ret)
			return ret;
		goto lists;
	}
	/* desc: 16-byte aligned, avail: 2, used: 4 (spec 2.7). */
	ret = fg_mem_alloc(mem, fg_vring_desc_size(num), 16, FG_ALLOC_CONTIG,
			   &vq->desc_gpa);
	if (!ret)
		ret = fg_mem_alloc(mem, fg_vring_avail_size(num), 2,
				   FG_ALLOC_CONTIG, &vq->avail_gpa);
	if (!ret)
		ret = fg_mem_alloc(mem, fg_vring_used_size(num), 4,
				   FG_ALLOC_CONTIG, &gpa);
	if (ret)
		return ret;
	vq->used_gpa = gpa;
	vq->desc = fg_mem_hva(mem, vq->desc_gpa, fg_vring_desc_size(num));
	vq->avail = fg_mem_hva(mem, vq->avail_gpa, fg_vring_avail_size(num));
	vq->used = fg_mem_hva(mem, vq->used_gpa, fg_vring_used_size(num));
	vq->used_event = &vq->avail->ring[num];
	vq->avail_event = (__u16 *)&vq->used->ring[num];

lists:
	vq->free_fifo = calloc(num, sizeof(*vq->free_fifo));
	vq->heads = calloc(num, sizeof(*vq->heads));
	vq->order = calloc(num, sizeof(*vq->order));
	if (!vq->free_fifo || !vq->heads || !vq->order) {
		fg_vq_fini(vq);
		return -ENOMEM;
	}
	vq->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->kick_fd < 0 || vq->call_fd < 0 || vq->err_fd < 0) {
		ret = -errno;
		fg_vq_fini(vq);
		return ret;
	}
	fg_vq_reset(vq);
	return 0;
}

void fg_vq_fini(struct fg_vq *vq)
{
	if (vq->kick_fd >= 0)
		close(vq->kick_fd);
	if (vq->call_fd >= 0)
		close(vq->call_fd);
	if (vq->err_fd >= 0)
		close(vq->err_fd);
	free(vq->free_fifo);
	free(vq->heads);
	free(vq->order);
	free(vq->pend_slot);
	free(vq->pend_flags);
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->err_fd = -1;
}

unsigned int fg_vq_free_descs(const struct fg_vq *vq)
{
	return vq->nfree;
}

static __u16 fg_vq_pop_desc(struct fg_vq *vq)
{
	__u16 d = vq->free_fifo[vq->free_head];

	vq->free_head = (vq->free_head + 1) & (vq->num - 1);
	vq->nfree--;
	return d;
}

static void fg_vq_push_desc(struct fg_vq *vq, __u16 d)
{
	unsigned int tail = (vq->free_head + vq->nfree) & (vq->num - 1);

	vq->free_fifo[tail] = d;
	vq->nfree++;
}

static void fg_vq_set_desc(struct fg_vq *vq, struct vring_desc *d, __u64 addr,
			   __u32 len, __u16 flags, __u16 next)
{
	d->addr = fg_cpu_to_v64(vq, addr);
	d->len = fg_cpu_to_v32(vq, len);
	d->flags = fg_cpu_to_v16(vq, flags);
	d->next = fg_cpu_to_v16(vq, next);
}

int fg_vq_add(struct fg_vq *vq, const struct fg_seg *segs, unsigned int nout,
	      unsigned int nin, __u64 indirect_gpa, __u32 cookie)
{
	unsigned int n = nout + nin, i;
	__u16 head, prev = 0;

	if (vq->packed)
		return fg_pvq_add(vq, segs, nout, nin, indirect_gpa, cookie);
	if (!n || n > FG_MAX_SEGS || (!indirect_gpa && n > vq->num))
		return -EINVAL;
	if (vq->nfree < (indirect_gpa ? 1 : n))
		return -ENOSPC;

	if (indirect_gpa) {
		struct vring_desc tbl[FG_MAX_SEGS];

		for (i = 0; i < n; i++) {
			__u16 flags = 0;

			if (i >= nout)
				flags |= VRING_DESC_F_WRITE;
			if (i + 1 < n)
				flags |= VRING_DESC_F_NEXT;
			fg_vq_set_desc(vq, &tbl[i], segs[i].gpa, segs[i].len,
				       flags, i + 1 < n ? i + 1 : 0);
		}
		if (fg_mem_write(vq->mem, indirect_gpa, tbl, n * sizeof(tbl[0])))
			return -EFAULT;
		head = fg_vq_pop_desc(vq);
		fg_vq_set_desc(vq, &vq->desc[head], indirect_gpa,
			       n * sizeof(tbl[0]), VRING_DESC_F_INDIRECT, 0);
		vq->heads[head].ndesc = 1;
	} else {
		head = fg_vq_pop_desc(vq);
		prev = head;
		for (i = 0; i < n; i++) {
			__u16 cur = i ? fg_vq_pop_desc(vq) : head;
			__u16 flags = i >= nout ? VRING_DESC_F_WRITE : 0;

			if (i) {
				/* Link the previous descriptor to this one. */
				vq->desc[prev].flags |=
					fg_cpu_to_v16(vq, VRING_DESC_F_NEXT);
				vq->desc[prev].next = fg_cpu_to_v16(vq, cur);
			}
			fg_vq_set_desc(vq, &vq->desc[cur], segs[i].gpa,
				       segs[i].len, flags, 0);
			prev = cur;
		}
		vq->heads[head].ndesc = n;
	}
	vq->heads[head].cookie = cookie;
	vq->heads[head].busy = true;
	fg_vq_order_add(vq, head);
	vq->inflight++;
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] =
		fg_cpu_to_v16(vq, head);
	vq->avail_idx++;
	return head;
}

void fg_vq_publish(struct fg_vq *vq)
{
	if (vq->packed) {
		fg_pvq_publish(vq);
		return;
	}
	/* Descriptors and ring entries before the index (spec 2.7.13). */
	fg_wmb();
	__atomic_store_n(&vq->avail->idx, fg_cpu_to_v16(vq, vq->avail_idx),
			 __ATOMIC_RELEASE);
}

void fg_vq_kick_force(struct fg_vq *vq)
{
	__u64 one = 1;

	if (write(vq->kick_fd, &one, sizeof(one)) == sizeof(one))
		vq->kicks++;
}

bool fg_vq_kick(struct fg_vq *vq)
{
	__u16 old = vq->kicked_idx, new = vq->avail_idx;
	bool need;

	/* The index must be visible before we read the device's wishes. */
	fg_mb();
	vq->kicked_idx = new;
	if (vq->packed) {
		need = fg_pvq_need_kick(vq);
	} else if (vq->event_idx) {
		__u16 ev = fg_v16_to_cpu(vq, __atomic_load_n(vq->avail_event,
							    __ATOMIC_RELAXED));

		/* Spec 2.7.10: notify if avail_event is in (old, new]. */
		need = (__u16)(new - ev - 1) < (__u16)(new - old);
	} else {
		__u16 fl = fg_v16_to_cpu(vq, __atomic_load_n(&vq->used->flags,
							    __ATOMIC_RELAXED));

		need = !(fl & VRING_USED_F_NO_NOTIFY) && old != new;
	}
	if (need)
		fg_vq_kick_force(vq);
	else
		vq->kicks_suppressed++;
	return need;
}

static __u16 fg_vq_used_idx(const struct fg_vq *vq)
{
	return fg_v16_to_cpu(vq, __atomic_load_n(&vq->used->idx,
						 __ATOMIC_ACQUIRE));
}

unsigned int fg_vq_pending(const struct fg_vq *vq)
{
	if (vq->packed)
		return fg_pvq_pending(vq);
	return (__u16)(fg_vq_used_idx(vq) - vq->last_used);
}

__u16 fg_vq_used_end(const struct fg_vq *vq)
{
	return vq->packed ? fg_pvq_used_end(vq) : fg_vq_used_idx(vq);
}

void fg_vq_order_add(struct fg_vq *vq, __u16 id)
{
	vq->order[(vq->order_head + vq->inflight) & (vq->num - 1)] = id;
}

int fg_vq_in_order(struct fg_vq *vq, __u32 id, __u32 len)
{
	__u16 oldest = vq->order[vq->order_head & (vq->num - 1)];

	if (vq->batch_end < 0) {
		if (id >= vq->num || !vq->heads[id].busy)
			return -EPROTO;
		vq->batch_end = id;
		vq->batch_len = len;
		if (id != oldest)
			vq->batched++;
	}
	vq->order_head++;
	if (oldest != vq->batch_end)
		return oldest | FG_VQ_NO_LEN;
	vq->batch_end = -1;
	return oldest;
}

int fg_vq_take(struct fg_vq *vq, __u32 *id, __u32 *len, __u32 *cookie)
{
	int r;

	if (vq->in_order) {
		r = fg_vq_in_order(vq, vq->batch_end < 0 ? *id : 0, *len);
		if (r < 0)
			return r;
		*id = r & 0xffff;
		*len = r & FG_VQ_NO_LEN ? 0 : vq->batch_len;
	}
	if (*id >= vq->num || !vq->heads[*id].busy)
		return -EPROTO;
	*cookie = vq->heads[*id].cookie;
	vq->heads[*id].busy = false;
	return 0;
}

int fg_vq_get_used(struct fg_vq *vq, __u32 *cookie, __u32 *len)
{
	struct vring_used_elem *e;
	unsigned int i, n;
	__u32 id;
	__u16 d, idx;
	int r;

	if (vq->packed)
		return fg_pvq_get_used(vq, cookie, len);
	idx = fg_vq_used_idx(vq);
	if (idx == vq->last_used)
		return 0;
	if ((__u16)(idx - vq->last_used) > vq->num)
		return -EPROTO;
	/* Read the index before the entries it covers. */
	fg_rmb();
	e = &vq->used->ring[vq->last_used & (vq->num - 1)];
	id = fg_v32_to_cpu(vq, e->id);
	*len = fg_v32_to_cpu(vq, e->len);
	/* In order: the entry stands for a batch, read once (spec 2.7.8). */
	r = fg_vq_take(vq, &id, len, cookie);
	if (r)
		return r;
	vq->inflight--;
	vq->last_used++;

	/* Return the chain to the free list. */
	d = id;
	n = vq->heads[id].ndesc;
	for (i = 0; i < n; i++) {
		__u16 next = fg_v16_to_cpu(vq, vq->desc[d].next);

		fg_vq_push_desc(vq, d);
		d = next;
	}
	return 1;
}

bool fg_vq_enable_cb(struct fg_vq *vq)
{
	if (vq->packed)
		fg_pvq_set_cb(vq, true, vq->used_pos);
	else if (vq->event_idx)
		__atomic_store_n(vq->used_event,
				 fg_cpu_to_v16(vq, vq->last_used),
				 __ATOMIC_RELAXED);
	else
		vq->avail->flags &= ~fg_cpu_to_v16(vq,
						   VRING_AVAIL_F_NO_INTERRUPT);
	/* Publish our wish before re-checking used->idx (spec 2.7.10). */
	fg_mb();
	return fg_vq_pending(vq) != 0;
}

bool fg_vq_enable_cb_delayed(struct fg_vq *vq)
{
	__u16 bufs = vq->inflight * 3 / 4;

	if (!vq->event_idx)
		return fg_vq_enable_cb(vq);
	/* Packed: 3/4 of the slots in flight, as positions count slots. */
	if (vq->packed)
		fg_pvq_set_cb(vq, true, vq->used_pos +
			      (vq->num - vq->nfree) * 3 / 4);
	else
		__atomic_store_n(vq->used_event,
				 fg_cpu_to_v16(vq, (__u16)(vq->last_used + bufs)),
				 __ATOMIC_RELAXED);
	fg_mb();
	return fg_vq_pending(vq) > bufs;
}

void fg_vq_disable_cb(struct fg_vq *vq)
{
	if (vq->packed)
		fg_pvq_set_cb(vq, false, 0);
	else if (!vq->event_idx)
		vq->avail->flags |= fg_cpu_to_v16(vq,
						  VRING_AVAIL_F_NO_INTERRUPT);
}

bool fg_vq_ack_call(struct fg_vq *vq)
{
	bool r = fg_eventfd_drain(vq->call_fd);

	if (r)
		vq->calls++;
	return r;
}

static int fg_eventfd_wait(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -ETIMEDOUT;
	return fg_eventfd_drain(fd) ? 0 : -ETIMEDOUT;
}

int fg_vq_wait_call(struct fg_vq *vq, int timeout_ms)
{
	int r = fg_eventfd_wait(vq->call_fd, timeout_ms);

	if (!r)
		vq->calls++;
	return r;
}

int fg_vq_wait_err(struct fg_vq *vq, int timeout_ms)
{
	return fg_eventfd_wait(vq->err_fd, timeout_ms);
}
