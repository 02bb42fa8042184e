// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: the traffic engine (see fg_traffic.h).
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fg_net.h"
#include "fg_traffic.h"

#define FG_MAX_GUESTS	8
#define FG_IDLE_MS	50
#define FG_IDLE_DROPS	200	/* idle ms before trusting drop counters */
#define FG_HOST_DRAIN_MAX	(1L << 20)	/* frames fg_host_drain() reads */

struct fg_run {
	struct fg_guest **g;
	unsigned int ng;
	struct fg_host **h;
	unsigned int nh;
	const struct fg_traffic_cfg *cfg;
	struct fg_traffic_result *res;
	struct fg_traffic_ctl ctl;
	unsigned long tx_next[FG_MAX_GUESTS];	/* next seq to post */
	unsigned long tx_expect[FG_MAX_GUESTS];	/* next seq the host wants */
	/* Last TX seq of each guest seen on each host, for per-host order. */
	long long tx_last[FG_MAX_GUESTS][FG_TRAFFIC_MAX_HOSTS];
	long long rx_last[FG_MAX_GUESTS];	/* last seq each guest got */
	__u8 *rx_seen;				/* bitmap of RX seqs */
	__u8 *rx_host;				/* host each RX seq went to */
	__u8 *tx_seen[FG_MAX_GUESTS];		/* bitmaps, reorder_ok or nh > 1 */
	unsigned int cur;			/* guest in fg_guest_rx_poll */
	__u8 *buf;
	__u8 *frame;
	bool failed;
};

void fg_traffic_defaults(struct fg_traffic_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->plan.min_len = FG_FRAME_MIN;
	cfg->plan.max_len = FG_FRAME_MAX;
	cfg->plan.flows = 1;
	cfg->plan.seed = 1;
	cfg->window = 128;
	cfg->timeout_ms = 20000;
}

unsigned long fg_env_frames(unsigned long def)
{
	const char *s = getenv("VHNET_FRAMES");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	v = strtoul(s, &end, 0);
	return *end ? def : v;
}

void fg_host_count_drops(struct fg_host *h, const char *ifname,
			 const char *stat)
{
	if (h->ndrops >= FG_HOST_MAX_DROPS)
		return;
	snprintf(h->drop[h->ndrops].ifname, IFNAMSIZ, "%s", ifname);
	snprintf(h->drop[h->ndrops].stat, sizeof(h->drop[0].stat), "%s", stat);
	h->ndrops++;
}

void fg_host_arm_drops(struct fg_host *h)
{
	unsigned int i;

	for (i = 0; i < h->ndrops; i++) {
		long long v = fg_if_stat(h->drop[i].ifname, h->drop[i].stat);

		h->drop[i].base = v > 0 ? v : 0;
	}
	h->pkt_drops = 0;
	if (h->drop_pkt_fd >= 0)
		fg_packet_drops(h->drop_pkt_fd);	/* reading clears it */
}

long long fg_host_drops(struct fg_host *h)
{
	long long sum = 0, v;
	unsigned int i;

	for (i = 0; i < h->ndrops; i++) {
		v = fg_if_stat(h->drop[i].ifname, h->drop[i].stat);
		if (v > h->drop[i].base)
			sum += v - h->drop[i].base;
	}
	if (h->drop_pkt_fd >= 0) {
		v = fg_packet_drops(h->drop_pkt_fd);
		if (v > 0)
			h->pkt_drops += v;
	}
	return sum + h->pkt_drops;
}

long fg_host_drain(const struct fg_host *h)
{
	__u8 buf[64];	/* MSG_TRUNC: the rest of each frame goes too */
	long n;

	/* Bounded: a frame arriving as fast as it is read would keep it. */
	for (n = 0; n < FG_HOST_DRAIN_MAX; n++) {
		if (recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC) >= 0)
			continue;
		/* A frame the vnet header cannot describe: gone all the same. */
		if (errno == EINVAL)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return n;
		return -errno;
	}
	return n;
}

int fg_host_send(const struct fg_host *h, __u32 stream, __u32 seq,
		 size_t len)
{
	struct fg_frame_desc d = { .stream = stream, .seq = seq, .len = len };
	size_t off = h->vnet_hdr ? sizeof(struct virtio_net_hdr) : 0, n;
	ssize_t sent;
	__u8 *buf;
	int ret = 0;

	if (len < FG_FRAME_MIN || len > FG_FRAME_MAX)
		return -EINVAL;
	buf = calloc(1, off + FG_FRAME_BUF);
	if (!buf)
		return -ENOMEM;
	n = off + fg_frame_build(buf + off, &d, h->guest_mac, h->mac);
	sent = send(h->fd, buf, n, 0);
	if (sent < 0)
		ret = -errno;
	else if ((size_t)sent != n)
		ret = -EIO;
	free(buf);
	return ret;
}

static double fg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fg_fail(struct fg_run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return -1;
	r->failed = true;
	va_start(ap, fmt);
	vsnprintf(r->res->err, sizeof(r->res->err), fmt, ap);
	va_end(ap);
	return -1;
}

static bool fg_bit_test(const __u8 *map, unsigned long bit)
{
	return map[bit / 8] & (1 << (bit % 8));
}

static bool fg_bit_test_set(__u8 *map, unsigned long bit)
{
	bool was = map[bit / 8] & (1 << (bit % 8));

	map[bit / 8] |= 1 << (bit % 8);
	return was;
}

static __u32 fg_run_stream(const struct fg_run *r, __u32 local)
{
	return ((__u32)r->cfg->epoch << FG_EPOCH_SHIFT) | local;
}

/*
 * Sort out a parsed frame's stream: 1 if it is not for this run (junk,
 * or left over from an earlier epoch: counted), 0 with *local set if it
 * is, -1 (failed) if it comes from a later epoch.
 */
static int fg_run_epoch(struct fg_run *r, const char *dir, __u32 stream,
			__u32 seq, __u32 *local)
{
	__u32 epoch = stream >> FG_EPOCH_SHIFT;

	*local = stream & ((1U << FG_EPOCH_SHIFT) - 1);
	if (*local == FG_JUNK_STREAM) {
		r->res->foreign++;
		return 1;
	}
	if (epoch < r->cfg->epoch) {
		r->res->stale++;
		return 1;
	}
	if (epoch > r->cfg->epoch)
		return fg_fail(r, "%s: stream 0x%x seq %u from epoch %u, run is epoch %u",
			       dir, stream, seq, epoch, r->cfg->epoch);
	return 0;
}

/* An RX frame of this run, seen by guest @gi or drained from a backend. */
static int fg_run_rx_frame(struct fg_run *r, int gi, __u32 stream, __u32 seq,
			   const __u8 *frame, size_t len,
			   struct fg_frame_desc *d)
{
	char err[256];

	if (stream != FG_RX_STREAM || seq >= r->cfg->rx_frames)
		return fg_fail(r, "RX guest %d: unexpected stream %u seq %u",
			       gi, stream, seq);
	if (fg_bit_test_set(r->rx_seen, seq))
		return fg_fail(r, "RX guest %d: duplicate seq %u", gi, seq);
	fg_frame_describe(&r->cfg->plan, fg_run_stream(r, stream), seq, d);
	if (fg_frame_verify(frame, len, d, err, sizeof(err)))
		return fg_fail(r, "RX guest %d: %s", gi, err);
	return 0;
}

/* A frame reached a guest (RX). */
static int fg_run_rx_cb(void *arg, const struct virtio_net_hdr_mrg_rxbuf *h,
			unsigned int nbufs, const __u8 *frame, size_t len)
{
	struct fg_run *r = arg;
	unsigned int gi = r->cur;
	struct fg_frame_desc d;
	__u32 stream, seq, tlen;
	int ret;

	(void)nbufs;
	if (fg_frame_parse(frame, len, &stream, &seq, &tlen)) {
		r->res->foreign++;
		return 0;
	}
	ret = fg_run_epoch(r, "RX", stream, seq, &stream);
	if (ret)
		return ret < 0 ? ret : 0;
	if (fg_run_rx_frame(r, gi, stream, seq, frame, len, &d))
		return -1;
	if ((long long)seq <= r->rx_last[gi]) {
		/* With several hosts, a detached backend's queue waits. */
		if (!r->cfg->reorder_ok && r->nh == 1)
			return fg_fail(r,
				       "RX guest %u: seq %u after %lld (reordered)",
				       gi, seq, r->rx_last[gi]);
		r->res->reordered++;
	} else {
		r->rx_last[gi] = seq;
	}
	if (h->hdr.gso_type != (d.gso ? VIRTIO_NET_HDR_GSO_TCPV4 :
				    VIRTIO_NET_HDR_GSO_NONE))
		return fg_fail(r, "RX guest %u seq %u: gso_type %u, frame %s",
			       gi, seq, h->hdr.gso_type,
			       d.gso ? "GSO" : "not GSO");
	if (d.gso && le16toh(h->hdr.gso_size) != FG_GSO_MSS)
		return fg_fail(r, "RX guest %u seq %u: gso_size %u", gi, seq,
			       le16toh(h->hdr.gso_size));
	if (d.gso)
		r->res->rx_gso++;
	r->res->rx_recv++;
	r->res->rx_recv_per_host[r->rx_host[seq]]++;
	/* A drop counter may have counted someone else's frame. */
	if (r->res->rx_recv + r->res->rx_stranded + r->res->rx_dropped >
	    r->res->rx_sent)
		r->res->rx_dropped = r->res->rx_sent - r->res->rx_recv -
				     r->res->rx_stranded;
	if (gi < 8)
		r->res->rx_per_guest[gi]++;
	return 0;
}

/* Read RX frames left in the queues of backends no device reads from. */
static int fg_run_drain(struct fg_run *r, bool *progress)
{
	struct fg_traffic_result *res = r->res;
	struct fg_frame_desc d;
	__u32 stream, seq, tlen;
	unsigned int i, hl;
	struct pollfd p;
	ssize_t n;

	for (i = 0; i < r->nh; i++) {
		p.fd = r->ctl.drain_fd[i];
		p.events = POLLIN;
		hl = r->ctl.drain_hlen[i];
		while (p.fd >= 0 && poll(&p, 1, 0) == 1) {
			n = read(p.fd, r->buf, FG_FRAME_BUF + 64);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n < (ssize_t)hl)
				return fg_fail(r, "drain host %u: %s", i,
					       n < 0 ? strerror(errno) :
					       "short read");
			*progress = true;
			if (fg_frame_parse(r->buf + hl, n - hl, &stream, &seq,
					   &tlen)) {
				res->foreign++;
				continue;
			}
			if (fg_run_epoch(r, "RX drain", stream, seq, &stream))
				continue;
			if (fg_run_rx_frame(r, -1, stream, seq, r->buf + hl,
					    n - hl, &d))
				return -1;
			res->rx_stranded++;
			if (res->rx_recv + res->rx_stranded + res->rx_dropped >
			    res->rx_sent)
				res->rx_dropped = res->rx_sent - res->rx_recv -
						  res->rx_stranded;
		}
		if (r->failed)
			return -1;
	}
	return 0;
}

/* A frame reached host @hi (TX). */
static int fg_run_host_frame(struct fg_run *r, unsigned int hi,
			     const __u8 *buf, size_t n)
{
	const struct virtio_net_hdr *vh = NULL;
	struct fg_frame_desc d;
	__u32 stream, seq, tlen;
	unsigned int gi;
	char err[256];
	int ret;

	if (r->h[hi]->vnet_hdr) {
		if (n < sizeof(*vh))
			return fg_fail(r, "TX: short read %zu", n);
		vh = (const void *)buf;
		buf += sizeof(*vh);
		n -= sizeof(*vh);
	}
	if (fg_frame_parse(buf, n, &stream, &seq, &tlen)) {
		r->res->foreign++;
		return 0;
	}
	ret = fg_run_epoch(r, "TX", stream, seq, &stream);
	if (ret)
		return ret < 0 ? ret : 0;
	if (stream < 1 || stream > r->ng)
		return fg_fail(r, "TX: unexpected stream %u seq %u", stream,
			       seq);
	gi = stream - 1;
	if (seq >= r->cfg->tx_frames)
		return fg_fail(r, "TX guest %u: unexpected seq %u", gi, seq);
	if (r->tx_seen[gi]) {
		if (seq < r->tx_expect[gi] || fg_bit_test_set(r->tx_seen[gi], seq))
			return fg_fail(r, "TX guest %u: duplicate seq %u", gi,
				       seq);
		/* Each backend passes a guest's frames on in order. */
		if (!r->cfg->reorder_ok && (long long)seq < r->tx_last[gi][hi])
			return fg_fail(r, "TX guest %u host %u: seq %u after %lld (reordered)",
				       gi, hi, seq, r->tx_last[gi][hi]);
		if (!r->cfg->reorder_ok)
			r->tx_last[gi][hi] = seq;
		else if (seq != r->tx_expect[gi])
			r->res->reordered++;
	} else if (seq != r->tx_expect[gi]) {
		return fg_fail(r, "TX guest %u: got seq %u, want %lu (%s)", gi,
			       seq, r->tx_expect[gi],
			       seq > r->tx_expect[gi] ? "lost" :
			       "duplicate or reordered");
	}
	fg_frame_describe(&r->cfg->plan, fg_run_stream(r, stream), seq, &d);
	if (fg_frame_verify(buf, n, &d, err, sizeof(err)))
		return fg_fail(r, "TX guest %u: %s", gi, err);
	if (vh && d.gso && (vh->gso_type != VIRTIO_NET_HDR_GSO_TCPV4 ||
			    le16toh(vh->gso_size) != FG_GSO_MSS))
		return fg_fail(r, "TX guest %u seq %u: gso_type %u size %u",
			       gi, seq, vh->gso_type, le16toh(vh->gso_size));
	if (d.gso)
		r->res->tx_gso++;
	r->res->tx_recv++;
	r->res->tx_per_host[hi]++;
	/* Next wanted: the lowest seq not seen yet. */
	if (seq == r->tx_expect[gi])
		r->tx_expect[gi]++;
	while (r->tx_seen[gi] && r->tx_expect[gi] < r->cfg->tx_frames &&
	       fg_bit_test(r->tx_seen[gi], r->tx_expect[gi]))
		r->tx_expect[gi]++;
	return 0;
}

static int fg_run_guest(struct fg_run *r, unsigned int gi, bool *progress)
{
	struct fg_guest *g = r->g[gi];
	struct virtio_net_hdr_mrg_rxbuf hdr;
	struct fg_frame_desc d;
	unsigned int posted = 0;
	int n = 0, ret;

	if (!r->cfg->leave_tx)
		n = fg_guest_tx_reap(g);
	if (n < 0)
		return fg_fail(r, "guest %u: %s", gi, g->err);
	if (n)
		*progress = true;
	while (r->tx_next[gi] < r->cfg->tx_frames &&
	       r->tx_next[gi] - r->tx_expect[gi] < r->cfg->window) {
		size_t len;

		fg_frame_describe(&r->cfg->plan, fg_run_stream(r, gi + 1),
				  r->tx_next[gi], &d);
		len = fg_frame_build(r->frame, &d, r->h[0]->mac, g->mac);
		memset(&hdr, 0, sizeof(hdr));
		fg_frame_vnet_hdr(&hdr.hdr, &d);
		ret = fg_guest_tx(g, &hdr, r->frame, len);
		if (ret == -EAGAIN)
			break;
		if (ret)
			return fg_fail(r, "guest %u TX seq %lu: %s", gi,
				       r->tx_next[gi], strerror(-ret));
		r->tx_next[gi]++;
		r->res->tx_sent++;
		posted++;
	}
	if (posted) {
		fg_guest_tx_kick(g);
		*progress = true;
	}
	r->cur = gi;
	n = fg_guest_rx_poll(g, fg_run_rx_cb, r);
	if (n < 0)
		return fg_fail(r, "guest %u RX: %s", gi,
			       r->failed ? r->res->err : g->err);
	if (n)
		*progress = true;
	return 0;
}

static int fg_run_host(struct fg_run *r, bool *progress)
{
	struct fg_traffic_result *res = r->res;
	unsigned int hi = r->ctl.inject;
	struct fg_host *h = r->h[hi];
	struct fg_frame_desc d;
	ssize_t n;

	while (res->rx_sent < r->cfg->rx_frames &&
	       res->rx_sent - res->rx_recv - res->rx_dropped -
	       res->rx_stranded < r->cfg->window) {
		size_t off = 0, len;

		fg_frame_describe(&r->cfg->plan, fg_run_stream(r, FG_RX_STREAM),
				  res->rx_sent, &d);
		if (h->vnet_hdr) {
			fg_frame_vnet_hdr((void *)r->buf, &d);
			off = sizeof(struct virtio_net_hdr);
		}
		len = fg_frame_build(r->buf + off, &d, h->guest_mac, h->mac);
		n = send(h->fd, r->buf, off + len, 0);
		if (n < 0 && (errno == EAGAIN || errno == ENOBUFS))
			break;
		if (n != (ssize_t)(off + len))
			return fg_fail(r, "host inject seq %lu: %s",
				       res->rx_sent,
				       n < 0 ? strerror(errno) : "short");
		r->rx_host[res->rx_sent] = hi;
		res->rx_sent_per_host[hi]++;
		res->rx_sent++;
		*progress = true;
	}
	for (hi = 0; hi < r->nh; hi++) {
		for (;;) {
			n = recv(r->h[hi]->fd, r->buf, FG_FRAME_BUF + 16,
				 MSG_TRUNC);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				/*
				 * A GSO frame whose metadata the packet
				 * socket cannot put in a virtio-net header
				 * is dropped with EINVAL: a hostile guest's.
				 */
				if (errno == EINVAL && r->h[hi]->vnet_hdr) {
					res->foreign++;
					continue;
				}
				return fg_fail(r, "host %u recv: %s", hi,
					       strerror(errno));
			}
			*progress = true;
			/*
			 * Larger than any frame of ours: a hostile guest's
			 * (ours that went wrong show up as missing).
			 */
			if (n > FG_FRAME_BUF + 16) {
				res->foreign++;
				continue;
			}
			if (fg_run_host_frame(r, hi, r->buf, n))
				return -1;
		}
	}
	return 0;
}

static bool fg_run_done(struct fg_run *r)
{
	unsigned int i;

	for (i = 0; i < r->ng; i++)
		if (r->tx_expect[i] < r->cfg->tx_frames)
			return false;
	return r->res->rx_sent == r->cfg->rx_frames &&
	       r->res->rx_recv + r->res->rx_dropped + r->res->rx_stranded ==
	       r->res->rx_sent;
}

static void fg_run_state(struct fg_run *r, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int i;

	for (i = 0; i < r->ng && off < len; i++) {
		struct fg_guest *g = r->g[i];
		struct fg_vq *tx = &g->dev.vq[FG_TXQ], *rx = &g->dev.vq[FG_RXQ];

		off += snprintf(buf + off, len - off,
				"[g%u tx posted %lu seen %lu, avail %u used %u/%u%s; rx avail %u used %u/%u%s] ",
				i, r->tx_next[i], r->tx_expect[i],
				fg_vq_avail_pos(tx), fg_vq_used_pos(tx),
				fg_vq_used_pos(tx) + fg_vq_pending(tx),
				fg_vq_wait_err(tx, 0) ? "" : " ERR",
				fg_vq_avail_pos(rx), fg_vq_used_pos(rx),
				fg_vq_used_pos(rx) + fg_vq_pending(rx),
				fg_vq_wait_err(rx, 0) ? "" : " ERR");
	}
	if (off < len)
		snprintf(buf + off, len - off,
			 "rx sent %lu recv %lu dropped %lu stranded %lu",
			 r->res->rx_sent, r->res->rx_recv,
			 r->res->rx_dropped, r->res->rx_stranded);
}

static int fg_run_wait(struct fg_run *r)
{
	struct pollfd p[2 * FG_MAX_GUESTS + FG_TRAFFIC_MAX_HOSTS];
	unsigned int i, n = 0;
	bool pending = false;

	for (i = 0; i < r->ng; i++) {
		if (r->cfg->leave_tx)
			pending |= fg_vq_enable_cb(&r->g[i]->dev.vq[FG_RXQ]);
		else
			pending |= fg_guest_arm(r->g[i]);
	}
	if (pending)
		return 1;
	for (i = 0; i < r->ng; i++) {
		if (!r->cfg->leave_tx) {
			p[n].fd = r->g[i]->dev.vq[FG_TXQ].call_fd;
			p[n++].events = POLLIN;
		}
		p[n].fd = r->g[i]->dev.vq[FG_RXQ].call_fd;
		p[n++].events = POLLIN;
	}
	for (i = 0; i < r->nh; i++) {
		p[n].fd = r->h[i]->fd;
		p[n++].events = POLLIN;
	}
	if (poll(p, n, FG_IDLE_MS) <= 0)
		return 0;
	for (i = 0; i < r->ng; i++) {
		if (!r->cfg->leave_tx)
			fg_vq_ack_call(&r->g[i]->dev.vq[FG_TXQ]);
		fg_vq_ack_call(&r->g[i]->dev.vq[FG_RXQ]);
	}
	return 1;
}

int fg_traffic_run_hosts(struct fg_guest **g, unsigned int ng,
			 struct fg_host **hosts, unsigned int nh,
			 const struct fg_traffic_cfg *cfg,
			 struct fg_traffic_result *res)
{
	struct fg_run r = {
		.g = g, .ng = ng, .h = hosts, .nh = nh, .cfg = cfg, .res = res,
	};
	double start = fg_now(), last;
	cpu_set_t saved;
	unsigned int i, j;
	bool pinned = false;
	int idle;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	r.ctl.res = res;
	r.ctl.nhosts = nh;
	r.ctl.err = res->err;
	r.ctl.errlen = sizeof(res->err);
	for (i = 0; i < FG_TRAFFIC_MAX_HOSTS; i++)
		r.ctl.drain_fd[i] = -1;
	if (!ng || ng > FG_MAX_GUESTS)
		return fg_fail(&r, "bad guest count %u", ng);
	if (!nh || nh > FG_TRAFFIC_MAX_HOSTS)
		return fg_fail(&r, "bad host count %u", nh);
	if (cfg->leave_tx && cfg->tx_frames)
		return fg_fail(&r, "leave_tx with tx_frames");
	for (i = 0; i < ng; i++) {
		r.rx_last[i] = -1;
		for (j = 0; j < FG_TRAFFIC_MAX_HOSTS; j++)
			r.tx_last[i][j] = -1;
		if (cfg->reorder_ok || nh > 1) {
			r.tx_seen[i] = calloc(cfg->tx_frames / 8 + 1, 1);
			if (!r.tx_seen[i]) {
				fg_fail(&r, "out of memory");
				goto out;
			}
		}
	}
	r.rx_seen = calloc(cfg->rx_frames / 8 + 1, 1);
	r.rx_host = calloc(cfg->rx_frames + 1, 1);
	r.buf = malloc(FG_FRAME_BUF + 64);
	r.frame = malloc(FG_FRAME_BUF);
	if (!r.rx_seen || !r.rx_host || !r.buf || !r.frame) {
		fg_fail(&r, "out of memory");
		goto out;
	}
	/*
	 * Inject from one CPU: frames that cross veth or a macvlan bridge go
	 * through the per-CPU netif_rx() backlogs, and a sender that migrates
	 * between CPUs gets them reordered by the host stack itself.
	 */
	pinned = !sched_getaffinity(0, sizeof(saved), &saved);
	if (pinned) {
		cpu_set_t one;
		int cpu = sched_getcpu();

		CPU_ZERO(&one);
		CPU_SET(cpu < 0 ? 0 : cpu, &one);
		pinned = !sched_setaffinity(0, sizeof(one), &one);
	}
	for (i = 0; i < nh; i++)
		fg_host_arm_drops(hosts[i]);
	start = fg_now();
	last = start;
	while (!fg_run_done(&r)) {
		bool progress = false;
		int woken;

		if (cfg->hook) {
			if (cfg->hook(cfg->hook_arg, &r.ctl)) {
				r.failed = true;
				goto out;
			}
			if (r.ctl.stop) {
				res->stopped = true;
				break;
			}
			if (r.ctl.inject >= nh) {
				fg_fail(&r, "hook chose host %u of %u",
					r.ctl.inject, nh);
				goto out;
			}
		}
		for (i = 0; i < ng; i++)
			if (fg_run_guest(&r, i, &progress))
				goto out;
		if (fg_run_host(&r, &progress))
			goto out;
		if (progress) {
			last = fg_now();
			continue;
		}
		if (fg_run_drain(&r, &progress))
			goto out;
		if (progress) {
			last = fg_now();
			continue;
		}
		woken = fg_run_wait(&r);
		idle = (fg_now() - last) * 1000;
		if (!woken && idle >= FG_IDLE_DROPS &&
		    res->rx_sent > res->rx_recv + res->rx_stranded) {
			unsigned long out = res->rx_sent - res->rx_recv -
					    res->rx_stranded;
			long long d = 0;

			for (i = 0; i < nh; i++)
				d += fg_host_drops(hosts[i]);
			res->rx_dropped = d > (long long)out ? out :
					  (unsigned long)d;
		}
		if (idle > cfg->timeout_ms) {
			char st[400];

			fg_run_state(&r, st, sizeof(st));
			fg_fail(&r, "no progress for %d ms: %s",
				cfg->timeout_ms, st);
			goto out;
		}
	}
	ret = 0;
out:
	res->seconds = fg_now() - start;
	if (pinned)
		sched_setaffinity(0, sizeof(saved), &saved);
	for (i = 0; i < ng; i++)
		free(r.tx_seen[i]);
	free(r.rx_seen);
	free(r.rx_host);
	free(r.buf);
	free(r.frame);
	return ret;
}

int fg_traffic_run(struct fg_guest **g, unsigned int ng, struct fg_host *h,
		   const struct fg_traffic_cfg *cfg,
		   struct fg_traffic_result *res)
{
	return fg_traffic_run_hosts(g, ng, &h, 1, cfg, res);
}
