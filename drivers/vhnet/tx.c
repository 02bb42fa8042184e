// SPDX-License-Identifier: GPL-2.0
/* Guest TX ring to backend socket. */
#include <linux/if_tun.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/skbuff.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <net/xdp.h>

#include "vhnet.h"
#include "vhnet_trace.h"

static bool tx_batch = true;
module_param(tx_batch, bool, 0644);
MODULE_PARM_DESC(tx_batch,
		 "Hand small TX frames to a tap or macvtap in batches, one sendmsg() each; read at SET_BACKEND (default Y)");

/*
 * A batched frame's page fragment: struct tun_xdp_hdr at the start (the
 * headroom holds it), the frame at @pad, skb_shared_info after. An XDP
 * program on the tap gets the headroom it may expect.
 */
#define VHNET_TX_PAD		(NET_SKB_PAD + NET_IP_ALIGN)
#define VHNET_TX_PAD_XDP	(XDP_PACKET_HEADROOM + NET_IP_ALIGN)
/*
 * Frames up to this length are batched. Measured under TCG (6.12,
 * performance.rst): batches won at 64 bytes, lost at 1514 against one
 * sendmsg() per frame.
 */
#define VHNET_TX_BATCH_LEN	256
#define VHNET_TX_ROOM(pad, len) \
	(SKB_DATA_ALIGN((pad) + (len)) + \
	 SKB_DATA_ALIGN(sizeof(struct skb_shared_info)))

bool vhnet_tx_can_batch(struct file *file)
{
	return READ_ONCE(tx_batch) && vhnet_sock_rx_ring(file);
}

struct xdp_buff *vhnet_tx_batch_alloc(void)
{
	return kmalloc_array(VHNET_TX_BATCH, sizeof(struct xdp_buff),
			     GFP_KERNEL_ACCOUNT);
}

/* Hand the batched frames to the socket, which owns them from then on. */
static void vhnet_tx_send_batch(struct vhnet_vq *vq)
{
	struct tun_msg_ctl ctl = {
		.type = TUN_MSG_PTR, .num = vq->txb_n, .ptr = vq->txb,
	};
	struct msghdr msg = {
		.msg_control = &ctl, .msg_controllen = sizeof(ctl),
		.msg_flags = MSG_DONTWAIT,
	};

	if (!vq->txb_n)
		return;
	/* tun and tap take each frame, whatever becomes of it: no errno. */
	vq->sock->ops->sendmsg(vq->sock, &msg, 0);
	vq->stats.batches++;
	vq->txb_n = 0;
}

/*
 * Copy the frame at @from (the socket's header, then the frame) into a
 * batch entry. 1: batched; 0: not for a batch (longer than
 * VHNET_TX_BATCH_LEN, too short, no memory), @from untouched; -EFAULT: the
 * guest's buffer faulted.
 */
static int vhnet_tx_batch_add(struct vhnet_vq *vq, struct iov_iter *from)
{
	unsigned int pad = sock_flag(vq->sock->sk, SOCK_XDP) ?
			   VHNET_TX_PAD_XDP : VHNET_TX_PAD;
	size_t len = iov_iter_count(from);
	struct tun_xdp_hdr *hdr;
	void *buf;

	BUILD_BUG_ON(sizeof(*hdr) > VHNET_TX_PAD);
	BUILD_BUG_ON(VHNET_TX_ROOM(VHNET_TX_PAD_XDP, VHNET_TX_BATCH_LEN) >
		     PAGE_SIZE);
	/* Short frames take the socket's own path, which counts the error. */
	if (len < vq->sock_hlen + ETH_HLEN ||
	    len > vq->sock_hlen + VHNET_TX_BATCH_LEN)
		return 0;
	len -= vq->sock_hlen;
	/* The worker alone uses the cache (vq->mutex): no per-CPU state. */
	buf = page_frag_alloc(&vq->tx_frags, VHNET_TX_ROOM(pad, len),
			      GFP_KERNEL | __GFP_NOWARN);
	if (!buf)
		return 0;
	hdr = buf;
	hdr->buflen = VHNET_TX_ROOM(pad, len);
	memset(&hdr->gso, 0, sizeof(hdr->gso));
	/* The guest's header (tun and tap validate it), without num_buffers. */
	if (vq->sock_hlen) {
		if (copy_from_iter(&hdr->gso, sizeof(hdr->gso), from) !=
		    sizeof(hdr->gso))
			goto fault;
		iov_iter_advance(from, vq->sock_hlen - sizeof(hdr->gso));
	}
	if (copy_from_iter(buf + pad, len, from) != len)
		goto fault;
	xdp_init_buff(&vq->txb[vq->txb_n], hdr->buflen, NULL);
	xdp_prepare_buff(&vq->txb[vq->txb_n], buf, pad, len, true);
	if (++vq->txb_n == VHNET_TX_BATCH)
		vhnet_tx_send_batch(vq);
	return 1;
fault:
	page_frag_free(buf);
	return -EFAULT;
}

/* Send what is batched, publish used entries, interrupt if wanted. */
static void vhnet_tx_complete(struct vhnet_vq *vq)
{
	/* Frames leave before the guest learns their buffers are free. */
	vhnet_tx_send_batch(vq);
	if (vq->nheads && !vhnet_vq_flush_used(vq))
		vhnet_vq_signal(vq);
}

/* Send one frame, batched if it can be; bytes sent or -errno. */
static int vhnet_tx_one(struct vhnet_vq *vq, struct msghdr *msg)
{
	size_t len = iov_iter_count(&msg->msg_iter);
	int ret;

	if (vq->tx_xdp) {
		ret = vhnet_tx_batch_add(vq, &msg->msg_iter);
		if (ret)
			return ret < 0 ? ret : len;
		/* Keep the order: what is batched leaves first. */
		vhnet_tx_send_batch(vq);
	}
	return vq->sock->ops->sendmsg(vq->sock, msg, len);
}

void vhnet_handle_tx(struct vhnet_work *work)
{
	struct vhnet_vq *vq = container_of(work, struct vhnet_vq, work);
	struct vhnet_chain chain = { .iov = vq->iov, .max_iov = UIO_MAXIOV };
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	unsigned int pkts = 0, turns = 0;
	size_t bytes = 0;
	u64 start, frames0, bytes0;
	int ret;

	mutex_lock(&vq->mutex);
	start = ktime_get_ns();
	frames0 = vq->stats.packets;
	bytes0 = vq->stats.bytes;
	if (!vq->sock || vq->broken || vhnet_vq_map_rings(vq))
		goto out;
	if (vq->tx_blocked) {
		vhnet_poll_stop(&vq->sock_poll);
		vq->tx_blocked = false;
	}

	vhnet_vq_disable_notify(vq);
	for (;;) {
		turns++;
		ret = vhnet_vq_next_chain(vq, false, &chain);
		if (ret == -EAGAIN) {
			if (!vhnet_vq_enable_notify(vq))
				break;
			/* Buffers came meanwhile: look again, on the budget. */
			vhnet_vq_disable_notify(vq);
			goto charge;
		}
		if (ret)
			break;

		iov_iter_init(&msg.msg_iter, ITER_SOURCE, vq->iov, chain.niov,
			      chain.len);
		if (chain.len < vq->vhost_hlen) {
			ret = -EINVAL;
		} else {
			/* vhnet owns the header: the socket gets the frame. */
			iov_iter_advance(&msg.msg_iter, vq->vhost_hlen);
			ret = vhnet_tx_one(vq, &msg);
		}
		if (ret == -EAGAIN || ret == -ENOBUFS) {
			/* No room: keep the chain and wait for socket space. */
			vhnet_vq_unget(vq, chain.slots);
			vq->tx_blocked = true;
			vhnet_poll_start(&vq->sock_poll, vq->sock_file);
			break;
		}
		if (ret < 0) {
			vq->stats.errors++;
			vq->stats.last_error = ret;
			trace_vhnet_drop(vq, ret, "the socket refused the frame");
		} else {
			vq->stats.packets++;
			vq->stats.bytes += ret;
		}
		if (vhnet_vq_push_used(vq, &chain, 0))
			break;
		if (vq->nheads >= VHNET_USED_BATCH)
			vhnet_tx_complete(vq);

		bytes += chain.len;
charge:
		if (vhnet_budget_spent(&pkts, bytes)) {
			/* Let RX and other work run; come back later. */
			vhnet_work_queue(vq->dev, work);
			break;
		}
	}
	vhnet_tx_complete(vq);
out:
	if (vq->stats.packets != frames0)
		trace_vhnet_tx_batch(vq, vq->stats.packets - frames0,
				     vq->stats.bytes - bytes0);
	vhnet_pass_done(vq, turns, start);
	mutex_unlock(&vq->mutex);
}
