// SPDX-License-Identifier: GPL-2.0
/* Backend sockets: tap, macvtap and AF_PACKET raw sockets. */
#include <linux/file.h>
#include <linux/net.h>
#include <linux/if_tun.h>
#include <linux/if_tap.h>
#include <linux/if_packet.h>
#include <linux/if_vlan.h>
#include <linux/ptr_ring.h>
#include <linux/skbuff.h>
#include <net/sock.h>
#include <net/xdp.h>

#include "vhnet.h"

static struct socket *vhnet_raw_socket(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	if (!sock)
		return ERR_PTR(-ENOTSOCK);
	if (sock->sk->sk_family != AF_PACKET || sock->sk->sk_type != SOCK_RAW)
		return ERR_PTR(-ENOTSOCK);
	return sock;
}

/* The socket behind @file if it is a supported backend, else ERR_PTR. */
struct socket *vhnet_sock_from_file(struct file *file)
{
	struct socket *sock;

	sock = tun_get_socket(file);
	if (!IS_ERR(sock))
		return sock;
	sock = tap_get_socket(file);
	if (!IS_ERR(sock))
		return sock;
	return vhnet_raw_socket(file);
}

/* Length of the next frame waiting on @sock, 0 if none. */
int vhnet_sock_peek_len(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct sk_buff *skb;
	unsigned long flags;
	int len = 0;

	if (sock->ops->peek_len)
		return sock->ops->peek_len(sock);

	/* AF_PACKET: look at the head of the receive queue. */
	spin_lock_irqsave(&sk->sk_receive_queue.lock, flags);
	skb = skb_peek(&sk->sk_receive_queue);
	if (skb) {
		len = skb->len;
		if (skb_vlan_tag_present(skb))
			len += VLAN_HLEN;
	}
	spin_unlock_irqrestore(&sk->sk_receive_queue.lock, flags);
	return len;
}

/* The frame ring behind a tap or macvtap file, NULL for AF_PACKET. */
struct ptr_ring *vhnet_sock_rx_ring(struct file *file)
{
	struct ptr_ring *ring = tun_get_tx_ring(file);

	if (!IS_ERR(ring))
		return ring;
	ring = tap_get_ptr_ring(file);
	return IS_ERR(ring) ? NULL : ring;
}

/* What recvmsg() would write for a ring entry, vnet header aside. */
static int vhnet_ring_frame_len(void *ptr)
{
	struct sk_buff *skb = ptr;

	if (tun_is_xdp_frame(ptr))
		return tun_ptr_to_xdp(ptr)->len;
	return skb->len + (skb_vlan_tag_present(skb) ? VLAN_HLEN : 0);
}

/*
 * Length of the next frame for @vq's guest, 0 if none. From a tap or
 * macvtap, frames are taken off its ring VHNET_RX_BATCH at a time, so
 * that the ring's lock is taken once per batch, not twice per frame.
 */
int vhnet_rxq_peek(struct vhnet_vq *vq)
{
	if (!vq->rx_ring)
		return vhnet_sock_peek_len(vq->sock);
	if (vq->rxb_head == vq->rxb_tail) {
		vq->rxb_head = 0;
		vq->rxb_tail = ptr_ring_consume_batched(vq->rx_ring, vq->rxb,
							VHNET_RX_BATCH);
		if (!vq->rxb_tail)
			return 0;
		vq->stats.batches++;
	}
	return vhnet_ring_frame_len(vq->rxb[vq->rxb_head]);
}

/*
 * The frame vhnet_rxq_peek() reported, as recvmsg()'s msg_control: tap
 * and macvtap then receive exactly that frame and free it, whatever the
 * outcome. NULL (the socket's own next frame) for AF_PACKET.
 */
void *vhnet_rxq_take(struct vhnet_vq *vq)
{
	return vq->rx_ring ? vq->rxb[vq->rxb_head++] : NULL;
}

/* Free the frame vhnet_rxq_peek() reported (taken from a ring). */
void vhnet_rxq_drop(struct vhnet_vq *vq)
{
	tun_ptr_free(vq->rxb[vq->rxb_head++]);
}

/*
 * Give the frames taken but not received back to the head of the ring,
 * in their order, before the backend goes: the next reader gets them.
 * The ring frees what no longer fits (its producer ran meanwhile).
 */
void vhnet_rxq_return(struct vhnet_vq *vq)
{
	if (vq->rx_ring && vq->rxb_head != vq->rxb_tail)
		ptr_ring_unconsume(vq->rx_ring, vq->rxb + vq->rxb_head,
				   vq->rxb_tail - vq->rxb_head, tun_ptr_free);
	vq->rxb_head = 0;
	vq->rxb_tail = 0;
}
