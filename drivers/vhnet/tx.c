// SPDX-License-Identifier: GPL-2.0
/* Guest TX ring to backend socket. */
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>

#include "vhnet.h"

/* Publish used entries and interrupt the guest if it wants that. */
static void vhnet_tx_complete(struct vhnet_vq *vq)
{
	if (vq->nheads && !vhnet_vq_flush_used(vq))
		vhnet_vq_signal(vq);
}

void vhnet_handle_tx(struct vhnet_work *work)
{
	struct vhnet_vq *vq = container_of(work, struct vhnet_vq, work);
	struct vhnet_chain chain = { .iov = vq->iov, .max_iov = UIO_MAXIOV };
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	unsigned int pkts = 0, turns = 0;
	size_t bytes = 0;
	u64 start;
	int ret;

	mutex_lock(&vq->mutex);
	start = ktime_get_ns();
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
			ret = vq->sock->ops->sendmsg(vq->sock, &msg,
						     iov_iter_count(&msg.msg_iter));
		}
		if (ret == -EAGAIN || ret == -ENOBUFS) {
			/* No room: keep the chain and wait for socket space. */
			vhnet_vq_unget(vq, 1);
			vq->tx_blocked = true;
			vhnet_poll_start(&vq->sock_poll, vq->sock_file);
			break;
		}
		if (ret < 0) {
			vq->stats.errors++;
			vq->stats.last_error = ret;
		} else {
			vq->stats.packets++;
			vq->stats.bytes += ret;
		}
		if (vhnet_vq_push_used(vq, chain.head, 0))
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
	vhnet_pass_done(vq, turns, start);
	mutex_unlock(&vq->mutex);
}
