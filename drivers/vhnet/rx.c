// SPDX-License-Identifier: GPL-2.0
/* Backend socket to guest RX ring. */
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/virtio_net.h>

#include "vhnet.h"
#include "vhnet_trace.h"

static void vhnet_rx_complete(struct vhnet_vq *vq)
{
	if (vq->nheads && !vhnet_vq_flush_used(vq))
		vhnet_vq_signal(vq);
}

/*
 * Drop the next frame; it can never fit the guest's ring. One taken off
 * a tap's ring is freed. AF_PACKET's is received into a scratch buffer
 * with MSG_TRUNC, which consumes it, copying what fits. Returns false if
 * the socket refused, the frame maybe still queued.
 */
static bool vhnet_rx_discard(struct vhnet_vq *vq)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_TRUNC };
	u8 scratch[VHNET_DISCARD_LEN];
	struct kvec kv = { .iov_base = scratch, .iov_len = sizeof(scratch) };
	int ret;

	if (vq->rx_ring) {
		/* Taken off the ring already: freed, never copied. */
		vhnet_rxq_drop(vq);
		vq->stats.errors++;
		vq->stats.last_error = -EMSGSIZE;
		trace_vhnet_drop(vq, -EMSGSIZE, "never fits the guest's buffers");
		return true;
	}
	iov_iter_kvec(&msg.msg_iter, ITER_DEST, &kv, 1, sizeof(scratch));
	ret = vq->sock->ops->recvmsg(vq->sock, &msg, sizeof(scratch),
				     MSG_DONTWAIT | MSG_TRUNC);
	if (ret == -EAGAIN)
		return true;	/* gone meanwhile: nothing to count */
	vq->stats.errors++;
	vq->stats.last_error = ret < 0 ? ret : -EMSGSIZE;
	trace_vhnet_drop(vq, vq->stats.last_error,
			 "never fits the guest's buffers");
	return ret >= 0;
}

/*
 * Collect guest buffers for @need bytes into vq->iov and the used heads
 * after vq->nheads (capacities recorded as lengths).  Returns the number
 * of heads, -EAGAIN if the guest has not posted enough yet, -EMSGSIZE if
 * the frame can never fit, or -EIO if the ring is broken.
 */
/* Ring slots the heads [from, to) after vq->nheads took. */
static unsigned int vhnet_rx_slots(const struct vhnet_vq *vq,
				   unsigned int from, unsigned int to)
{
	unsigned int i, n = 0;

	for (i = from; i < to; i++)
		n += vq->slots[vq->nheads + i];
	return n;
}

static int vhnet_rx_gather(struct vhnet_vq *vq, size_t need, bool mergeable,
			   unsigned int *niov)
{
	struct vring_used_elem *heads = vq->heads + vq->nheads;
	u16 *slots = vq->slots + vq->nheads;
	unsigned int room = UIO_MAXIOV - vq->nheads;
	u16 start = vq->last_avail_idx;
	struct vhnet_chain chain;
	unsigned int n = 0;
	size_t got = 0;
	int ret;

	*niov = 0;
	while (got < need) {
		if (n == room || n == vq->num) {
			ret = -EMSGSIZE;
			goto undo;
		}
		chain.iov = vq->iov + *niov;
		chain.gpa = vq->iov_gpa + *niov;
		chain.max_iov = UIO_MAXIOV - *niov;
		ret = vhnet_vq_next_chain(vq, true, &chain);
		if (ret == -ENOSPC)
			ret = -EMSGSIZE;
		/* Every slot taken and more needed: the ring is too small. */
		if (ret == -EAGAIN && (u16)(vq->last_avail_idx - start) >= vq->num)
			ret = -EMSGSIZE;
		if (ret)
			goto undo;
		heads[n].id = cpu_vq32(vq, chain.head);
		heads[n].len = cpu_vq32(vq, min_t(size_t, chain.len, U32_MAX));
		slots[n] = chain.slots;
		n++;
		*niov += chain.niov;
		got += chain.len;
		if (!mergeable && got < need) {
			ret = -EMSGSIZE;
			goto undo;
		}
	}
	return n;
undo:
	if (ret != -EIO)
		vhnet_vq_unget(vq, (u16)(vq->last_avail_idx - start));
	return ret;
}

/* Fill in the header fields vhnet owns once the frame is in place. */
static int vhnet_rx_header(struct vhnet_vq *vq, const struct iov_iter *start,
			   u16 nbufs)
{
	struct virtio_net_hdr_mrg_rxbuf hdr = {
		.hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE,
	};
	size_t hlen = vq->vhost_hlen + vq->sock_hlen;
	struct iov_iter it = *start;
	size_t off = 0, len = vq->vhost_hlen;

	hdr.num_buffers = cpu_vq16(vq, nbufs);
	if (!vq->vhost_hlen) {
		/* The socket wrote the header; only num_buffers is ours. */
		if (hlen < sizeof(hdr))
			return 0;
		off = offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers);
		len = sizeof(hdr.num_buffers);
		iov_iter_advance(&it, off);
	}
	if (copy_to_iter((u8 *)&hdr + off, len, &it) != len)
		return -EFAULT;
	return 0;
}

void vhnet_handle_rx(struct vhnet_work *work)
{
	struct vhnet_vq *vq = container_of(work, struct vhnet_vq, work);
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_TRUNC };
	struct vring_used_elem *heads;
	struct iov_iter start;
	unsigned int pkts = 0, turns = 0, niov, used;
	size_t bytes = 0, total, left, cap;
	u64 t0, frames0, bytes0;
	bool mergeable;
	int len, n, ret;

	mutex_lock(&vq->mutex);
	t0 = ktime_get_ns();
	frames0 = vq->stats.packets;
	bytes0 = vq->stats.bytes;
	if (!vq->sock || vq->broken)
		goto out;
	/* Rings not mapped yet (IOTLB): nothing to map them for until a frame. */
	if (!vq->rings_ready && vhnet_rxq_peek(vq) <= 0)
		goto out;
	if (vhnet_vq_map_rings(vq))
		goto out;
	/* vq->features may change under SET_FEATURES: read it locked. */
	mergeable = vhnet_has(vq, VIRTIO_NET_F_MRG_RXBUF);

	vhnet_vq_disable_notify(vq);
	while ((len = vhnet_rxq_peek(vq)) > 0) {
		turns++;
		if (vq->nheads >= VHNET_USED_BATCH)
			vhnet_rx_complete(vq);
		n = vhnet_rx_gather(vq, len + vq->vhost_hlen + vq->sock_hlen,
				    mergeable, &niov);
		if (n == -EAGAIN) {
			/* Leave the frame queued; wait for the guest's kick. */
			if (!vhnet_vq_enable_notify(vq))
				break;
			/* Buffers came meanwhile: look again, on the budget. */
			vhnet_vq_disable_notify(vq);
			goto next;
		}
		if (n == -EMSGSIZE) {
			if (!vhnet_rx_discard(vq))
				break;	/* wait for the next socket wakeup */
			goto next;
		}
		if (n < 0)
			break;

		heads = vq->heads + vq->nheads;
		cap = iov_length(vq->iov, niov);
		iov_iter_init(&start, ITER_DEST, vq->iov, niov, cap);
		msg.msg_iter = start;
		iov_iter_advance(&msg.msg_iter, vq->vhost_hlen);
		msg.msg_control = vhnet_rxq_take(vq);
		ret = vq->sock->ops->recvmsg(vq->sock, &msg,
					     iov_iter_count(&msg.msg_iter),
					     MSG_DONTWAIT | MSG_TRUNC);
		if (ret < 0 || ret > cap - vq->vhost_hlen) {
			/* Gone meanwhile, or truncated: the guest gets nothing. */
			vhnet_vq_unget(vq, vhnet_rx_slots(vq, 0, n));
			if (ret == -EAGAIN)
				break;
			/* The buffers may have been written to all the same. */
			if (vhnet_log_iov(vq, niov, cap))
				break;
			vq->stats.errors++;
			vq->stats.last_error = ret < 0 ? ret : -EMSGSIZE;
			trace_vhnet_drop(vq, vq->stats.last_error,
					 "receive failed or truncated");
			goto next;
		}

		/* Hand back buffers the frame did not need. */
		total = ret + vq->vhost_hlen;
		left = total;
		for (used = 0; used < n && (left || !used); used++) {
			u32 take = min_t(size_t, vq32(vq, heads[used].len), left);

			heads[used].len = cpu_vq32(vq, take);
			left -= take;
		}
		vhnet_vq_unget(vq, vhnet_rx_slots(vq, used, n));
		if (vhnet_rx_header(vq, &start, used)) {
			vhnet_vq_break(vq, "RX header unwritable");
			break;
		}
		/* Exactly the bytes written, header included. */
		if (vhnet_log_iov(vq, niov, total))
			break;
		vq->nheads += used;
		vq->stats.packets++;
		vq->stats.bytes += ret;

		bytes += total;
next:
		/*
		 * Frames dropped on the way count too, and so does a new look
		 * at a ring that changed under us: neither a host flooding
		 * frames the guest cannot take nor a guest moving avail->idx
		 * must keep the worker here.
		 */
		if (vhnet_budget_spent(&pkts, bytes)) {
			vhnet_work_queue(vq->dev, work);
			break;
		}
	}
	vhnet_rx_complete(vq);
out:
	if (vq->stats.packets != frames0)
		trace_vhnet_rx_batch(vq, vq->stats.packets - frames0,
				     vq->stats.bytes - bytes0);
	vhnet_pass_done(vq, turns, t0);
	mutex_unlock(&vq->mutex);
}
