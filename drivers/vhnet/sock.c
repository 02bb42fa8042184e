// SPDX-License-Identifier: GPL-2.0
/* Backend sockets: tap, macvtap and AF_PACKET raw sockets. */
#include <linux/file.h>
#include <linux/net.h>
#include <linux/if_tun.h>
#include <linux/if_tap.h>
#include <linux/if_packet.h>
#include <linux/if_vlan.h>
#include <linux/skbuff.h>
#include <net/sock.h>

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
