// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: ready-made backend environments (tap, macvtap, AF_PACKET,
 * multiqueue tap) with their host-side endpoints.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "fg_env.h"
#include "fg_net.h"

#define FG_HOST_BUF	(32 << 20)
#define FG_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define FG_BACKEND_BUF	(8 << 20)

__u64 fg_env_features(enum fg_backend kind)
{
	if (kind == FG_BK_TAP_NOHDR || kind == FG_BK_PACKET)
		return FG_F(VHOST_NET_F_VIRTIO_NET_HDR);
	return 0;
}

bool fg_env_has_vnet_hdr(enum fg_backend kind)
{
	return !fg_env_features(kind);
}

bool fg_env_keeps_order(enum fg_backend kind)
{
	return kind != FG_BK_MACVTAP && kind != FG_BK_PACKET;
}

unsigned int fg_env_queues(enum fg_backend kind)
{
	return kind == FG_BK_TAP_MQ ? 2 : 1;
}

const char *fg_env_name(enum fg_backend kind)
{
	switch (kind) {
	case FG_BK_TAP:
		return "tap";
	case FG_BK_TAP_NOHDR:
		return "tap without vnet header";
	case FG_BK_MACVTAP:
		return "macvtap";
	case FG_BK_PACKET:
		return "AF_PACKET on veth";
	case FG_BK_TAP_MQ:
		return "multiqueue tap";
	}
	return "?";
}

/* How long a veth may take to get its qdisc (linkwatch runs within 1 s). */
#define FG_IF_UP_MS	5000

static int fg_env_fail(char *err, size_t errlen, int ret, const char *what,
		       const char *name)
{
	snprintf(err, errlen, "%s %s: %s", what, name, strerror(-ret));
	return ret;
}

static int fg_env_host(struct fg_env *e, const char *ifname, char *err,
		       size_t errlen)
{
	int fd = fg_packet_open(ifname, true, FG_HOST_BUF);

	if (fd < 0)
		return fg_env_fail(err, errlen, fd, "AF_PACKET on", ifname);
	e->host.fd = fd;
	e->host.vnet_hdr = true;
	return fg_if_get_mac(ifname, e->host.mac);
}

int fg_env_up(struct fg_env *e, enum fg_backend kind, unsigned int id,
	      unsigned int hdr_len, const __u8 guest_mac[6], char *err,
	      size_t errlen)
{
	unsigned int i;
	int ret, fd;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->host.fd = -1;
	e->host.drop_pkt_fd = -1;
	for (i = 0; i < FG_ENV_MAX_Q; i++)
		e->fd[i] = -1;
	memcpy(e->host.guest_mac, guest_mac, 6);
	e->nq = fg_env_queues(kind);

	switch (kind) {
	case FG_BK_TAP:
	case FG_BK_TAP_NOHDR:
	case FG_BK_TAP_MQ:
		snprintf(e->ifname, IFNAMSIZ, "fgtap%u", id);
		for (i = 0; i < e->nq; i++) {
			unsigned int fl = kind == FG_BK_TAP_NOHDR ? 0 :
					  FG_TAP_VNET_HDR;

			if (kind == FG_BK_TAP_MQ)
				fl |= FG_TAP_MULTI_QUEUE;
			fd = fg_tap_open(e->ifname, fl, hdr_len,
					 FG_TAP_OFFLOADS);
			if (fd < 0) {
				ret = fg_env_fail(err, errlen, fd, "tap",
						  e->ifname);
				goto err;
			}
			e->fd[i] = fd;
		}
		ret = fg_env_host(e, e->ifname, err, errlen);
		if (ret)
			goto err;
		/* tun drops what its queue cannot hold as tx_dropped. */
		fg_host_count_drops(&e->host, e->ifname, "tx_dropped");
		break;
	case FG_BK_MACVTAP:
		snprintf(e->lower, IFNAMSIZ, "fgdum%u", id);
		snprintf(e->ifname, IFNAMSIZ, "fgmvt%u", id);
		snprintf(e->peer, IFNAMSIZ, "fgmvl%u", id);
		ret = fg_link_add_dummy(e->lower);
		if (ret) {
			fg_env_fail(err, errlen, ret, "dummy", e->lower);
			e->lower[0] = 0;
			goto err;
		}
		ret = fg_link_add_macvtap(e->ifname, e->lower, false);
		if (ret) {
			fg_env_fail(err, errlen, ret, "macvtap", e->ifname);
			e->ifname[0] = 0;
			goto err;
		}
		ret = fg_link_add_macvtap(e->peer, e->lower, true);
		if (ret) {
			fg_env_fail(err, errlen, ret, "macvlan", e->peer);
			e->peer[0] = 0;
			goto err;
		}
		/* The macvtap answers to the guest's address, like QEMU's. */
		ret = fg_if_set_mac(e->ifname, guest_mac);
		if (!ret)
			ret = fg_if_up(e->lower);
		if (!ret)
			ret = fg_if_up(e->ifname);
		if (!ret)
			ret = fg_if_up(e->peer);
		if (ret) {
			fg_env_fail(err, errlen, ret, "bring up", e->ifname);
			goto err;
		}
		fd = fg_macvtap_open(e->ifname);
		if (fd < 0) {
			ret = fg_env_fail(err, errlen, fd, "open macvtap",
					  e->ifname);
			goto err;
		}
		e->fd[0] = fd;
		ret = fg_tap_set_vnet(fd, hdr_len, FG_TAP_OFFLOADS);
		if (ret) {
			fg_env_fail(err, errlen, ret, "macvtap vnet hdr",
				    e->ifname);
			goto err;
		}
		ret = fg_env_host(e, e->peer, err, errlen);
		if (ret)
			goto err;
		fg_host_count_drops(&e->host, e->ifname, "rx_dropped");
		fg_host_count_drops(&e->host, e->ifname, "tx_dropped");
		fg_host_count_drops(&e->host, e->peer, "tx_dropped");
		break;
	case FG_BK_PACKET:
		snprintf(e->ifname, IFNAMSIZ, "fgvea%u", id);
		snprintf(e->peer, IFNAMSIZ, "fgveb%u", id);
		ret = fg_link_add_veth(e->ifname, e->peer);
		if (ret) {
			fg_env_fail(err, errlen, ret, "veth", e->ifname);
			e->ifname[0] = 0;
			e->peer[0] = 0;
			goto err;
		}
		ret = fg_if_up(e->ifname);
		if (!ret)
			ret = fg_if_up(e->peer);
		if (!ret)
			ret = fg_if_wait_up(e->ifname, FG_IF_UP_MS);
		if (!ret)
			ret = fg_if_wait_up(e->peer, FG_IF_UP_MS);
		if (ret) {
			fg_env_fail(err, errlen, ret, "bring up", e->ifname);
			goto err;
		}
		fd = fg_packet_open(e->ifname, false, FG_BACKEND_BUF);
		if (fd < 0) {
			ret = fg_env_fail(err, errlen, fd, "AF_PACKET on",
					  e->ifname);
			goto err;
		}
		e->fd[0] = fd;
		e->host.drop_pkt_fd = fd;
		ret = fg_env_host(e, e->peer, err, errlen);
		if (ret)
			goto err;
		fg_host_count_drops(&e->host, e->ifname, "rx_dropped");
		fg_host_count_drops(&e->host, e->peer, "tx_dropped");
		break;
	default:
		snprintf(err, errlen, "unknown backend %d", kind);
		return -EINVAL;
	}
	return 0;
err:
	fg_env_down(e);
	return ret;
}

void fg_env_down(struct fg_env *e)
{
	unsigned int i;

	if (e->host.fd >= 0)
		close(e->host.fd);
	e->host.fd = -1;
	for (i = 0; i < FG_ENV_MAX_Q; i++) {
		if (e->fd[i] >= 0)
			close(e->fd[i]);
		e->fd[i] = -1;
	}
	if (e->kind == FG_BK_MACVTAP) {
		if (e->peer[0])
			fg_link_del(e->peer);
		if (e->ifname[0])
			fg_link_del(e->ifname);
		if (e->lower[0])
			fg_link_del(e->lower);
	} else if (e->kind == FG_BK_PACKET && e->ifname[0]) {
		fg_link_del(e->ifname);
	}
	e->ifname[0] = 0;
	e->peer[0] = 0;
	e->lower[0] = 0;
}

static size_t fg_env_dump_if(const char *ifname, char *buf, size_t len)
{
	static const char * const st[] = {
		"rx_packets", "rx_dropped", "rx_errors", "rx_frame_errors",
		"tx_packets", "tx_dropped", "tx_errors",
	};
	size_t off;
	unsigned int i;

	if (!ifname[0] || !len)
		return 0;
	off = snprintf(buf, len, "%s:", ifname);
	for (i = 0; i < FG_ARRAY_SIZE(st) && off < len; i++)
		off += snprintf(buf + off, len - off, " %s %lld", st[i],
				fg_if_stat(ifname, st[i]));
	if (off < len)
		off += snprintf(buf + off, len - off, "; ");
	return off < len ? off : len;
}

/* Frames the stack dropped from full per-CPU backlogs (netif_rx). */
static long long fg_softnet_drops(void)
{
	FILE *f = fopen("/proc/net/softnet_stat", "re");
	unsigned int processed, dropped;
	long long sum = 0;
	char line[256];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%x %x", &processed, &dropped) == 2)
			sum += dropped;
	fclose(f);
	return sum;
}

void fg_env_dump(const struct fg_env *e, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	off += fg_env_dump_if(e->ifname, buf + off, len - off);
	off += fg_env_dump_if(e->peer, buf + off, len - off);
	off += fg_env_dump_if(e->lower, buf + off, len - off);
	if (e->host.fd >= 0 && off < len)
		off += snprintf(buf + off, len - off,
				"host socket drops %lld; ",
				fg_packet_drops(e->host.fd));
	if (off < len)
		snprintf(buf + off, len - off, "backlog drops %lld",
			 fg_softnet_drops());
}

int fg_env_attach(struct fg_env *e, unsigned int q, struct fg_guest *g)
{
	int ret;

	if (q >= e->nq)
		return -EINVAL;
	g->backend_fd = e->fd[q];
	ret = fg_dev_set_backend(&g->dev, FG_RXQ, e->fd[q]);
	if (!ret)
		ret = fg_dev_set_backend(&g->dev, FG_TXQ, e->fd[q]);
	if (ret)
		snprintf(g->err, sizeof(g->err), "VHOST_NET_SET_BACKEND: %s",
			 strerror(-ret));
	return ret;
}

int fg_rig_up(struct fg_rig *r, const struct fg_rig_cfg *cfg)
{
	struct fg_guest_cfg gc = cfg->guest;
	unsigned int i;
	int ret;

	memset(r, 0, sizeof(*r));
	r->env.host.fd = -1;
	r->env.host.drop_pkt_fd = -1;
	for (i = 0; i < FG_ENV_MAX_Q; i++)
		r->env.fd[i] = -1;
	r->ng = fg_env_queues(cfg->backend);
	gc.features |= fg_env_features(cfg->backend);
	for (i = 0; i < r->ng; i++) {
		r->gp[i] = &r->g[i];
		gc.seed = cfg->guest.seed + i;
		ret = fg_guest_init(&r->g[i], &gc, -1);
		if (ret) {
			snprintf(r->err, sizeof(r->err), "guest %u: %s", i,
				 r->g[i].err);
			r->ng = i + 1;
			goto err;
		}
		/* All queues of one NIC share its address. */
		memcpy(r->g[i].mac, r->g[0].mac, 6);
	}
	ret = fg_env_up(&r->env, cfg->backend, cfg->id, r->g[0].dev.hdr_len,
			r->g[0].mac, r->err, sizeof(r->err));
	if (ret)
		goto err;
	for (i = 0; i < r->ng; i++) {
		ret = fg_env_attach(&r->env, i, &r->g[i]);
		if (ret) {
			snprintf(r->err, sizeof(r->err), "guest %u: %s", i,
				 r->g[i].err);
			goto err;
		}
	}
	r->up = true;
	return 0;
err:
	r->up = true;
	fg_rig_down(r);
	return ret;
}

void fg_rig_down(struct fg_rig *r)
{
	unsigned int i;

	if (!r->up)
		return;
	/* Guests first: the device lets go of the backend on close. */
	for (i = 0; i < r->ng; i++)
		fg_guest_fini(&r->g[i]);
	fg_env_down(&r->env);
	r->up = false;
}

int fg_rig_run(struct fg_rig *r, const struct fg_traffic_cfg *cfg,
	       struct fg_traffic_result *res)
{
	return fg_traffic_run(r->gp, r->ng, &r->env.host, cfg, res);
}
