// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest, for the benchmark: one measurement of one implementation
 * (see bench_run.h). The guest side is deliberately lean so that it is
 * not the bottleneck: TX buffers are written once and reposted as they
 * are, RX frames are counted by their headers and never copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "fakeguest.h"
#include "bench_dev.h"
#include "bench_host.h"
#include "bench_run.h"

#define FG_BENCH_RING		256
#define FG_BENCH_RXBUF		1536
#define FG_BENCH_RXBUF_BIG	4096
#define FG_BENCH_STALL_MS	10000
#define FG_BENCH_WAIT_MS	100
/* Frames pktgen may queue on an unread tap (its ring holds 500). */
#define FG_BENCH_TAPQ		256
#define FG_BENCH_MAX_RTT	(1U << 20)

static const char * const fg_impl_names[FG_BENCH_NIMPL] = {
	"vhnet", "vhost-net", "userspace", "limit", "vhnet-packed",
	"vhnet-in-order",
};

static bool fg_bench_vhnet(enum fg_bench_impl i)
{
	return i == FG_BENCH_VHNET || i == FG_BENCH_VHNET_PACKED ||
	       i == FG_BENCH_VHNET_IN_ORDER;
}

static const char * const fg_test_names[FG_BENCH_NTEST] = {
	"tx", "rx", "ping", "memcpy",
};

/* TX frames go to a unicast address that is not the tap's: dropped early. */
static const __u8 fg_bench_other_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
/* The "guest" of the limit runs, which have no fake guest. */
static const __u8 fg_bench_limit_mac[6] = { 0x52, 0x54, 0, 0, 0, 0x0f };

struct fg_bench {
	const struct fg_bench_cfg *c;
	struct fg_bench_result *r;
	char ifname[IFNAMSIZ];
	int tap;
	unsigned int hdr_len;
	__u8 tap_mac[6];
	struct fg_guest g;
	bool guest_up;
	struct fg_udev u;
	bool udev_up;
	struct fg_pktgen pg;
	bool pg_up;
	struct fg_sender snd;	/* cfg sock_src: the RX source */

	/* RX: the frame being reassembled, and totals */
	unsigned int rx_want, rx_got;
	unsigned long long rx_cur;
	unsigned long rx_frames;
	unsigned long long rx_bytes;
	/* PING: id of our echo requests, sequence of the last reply */
	__u16 ping_id;
	int ping_seq;
	/* device thread CPU time when the measured interval began */
	long long dev_ns_a;
};

const char *fg_bench_impl_name(enum fg_bench_impl i)
{
	return i < FG_BENCH_NIMPL ? fg_impl_names[i] : "?";
}

const char *fg_bench_test_name(enum fg_bench_test t)
{
	return t < FG_BENCH_NTEST ? fg_test_names[t] : "?";
}

int fg_bench_impl_parse(const char *s)
{
	int i;

	for (i = 0; i < FG_BENCH_NIMPL; i++)
		if (!strcmp(s, fg_impl_names[i]))
			return i;
	return -1;
}

int fg_bench_test_parse(const char *s)
{
	int i;

	for (i = 0; i < FG_BENCH_NTEST; i++)
		if (!strcmp(s, fg_test_names[i]))
			return i;
	return -1;
}

void fg_bench_defaults(struct fg_bench_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->impl = FG_BENCH_VHNET;
	c->test = FG_BENCH_TX;
	c->len = 64;
	c->warmup = 0.5;
	c->seconds = 2;
	c->ring_num = FG_BENCH_RING;
	c->vhnet_dev = "/dev/vhnet";
	c->vhost_dev = "/dev/vhost-net";
	c->id = getpid() % 100000;
	c->stall_ms = FG_BENCH_STALL_MS;
	fg_bench_pick_cpus(c);
}

void fg_bench_pick_cpus(struct fg_bench_cfg *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	/* pktgen's thread of CPU 0 is the RX source. */
	c->src_cpu = 0;
	if (n >= 3) {
		c->guest_cpu = 1;
		c->dev_cpu = 2;
	} else if (n == 2) {
		/* RX: the source has CPU 0 to itself; the rest share CPU 1. */
		c->guest_cpu = c->test == FG_BENCH_RX ? 1 : 0;
		c->dev_cpu = 1;
	} else {
		c->guest_cpu = -1;
		c->dev_cpu = -1;
	}
}

static int fg_bench_fail(struct fg_bench *b, const char *fmt, ...)
{
	va_list ap;

	if (!b->r->err[0]) {
		va_start(ap, fmt);
		vsnprintf(b->r->err, sizeof(b->r->err), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static long long fg_bench_stat(struct fg_bench *b, const char *stat)
{
	return fg_if_stat(b->ifname, stat);
}

/* CPU time the device thread has used so far, ns; -1 if there is none. */
static long long fg_bench_dev_ns(struct fg_bench *b)
{
	struct timespec ts;
	clockid_t clk;

	if (b->udev_up) {
		if (pthread_getcpuclockid(b->u.thread, &clk) ||
		    clock_gettime(clk, &ts))
			return -1;
		return ts.tv_sec * 1000000000LL + ts.tv_nsec;
	}
	return b->r->worker > 0 ? fg_task_cpu_ns(b->r->worker) : -1;
}

static void fg_bench_wait(struct fg_vq *vq, int ms)
{
	struct pollfd p = { .fd = vq->call_fd, .events = POLLIN };

	if (poll(&p, 1, ms) > 0)
		fg_vq_ack_call(vq);
}

static __u64 fg_bench_slot(const struct fg_pool *p, unsigned int slot)
{
	return p->gpa + (__u64)slot * p->stride;
}

/* Post the next free TX slot, as it is, @total bytes. */
static int fg_bench_tx_post(struct fg_guest *g, unsigned int total)
{
	struct fg_seg seg;
	unsigned int slot;
	int ret;

	if (!g->tx.nfree)
		return -EAGAIN;
	slot = g->tx.free[g->tx.nfree - 1];
	seg.gpa = fg_bench_slot(&g->tx, slot);
	seg.len = total;
	ret = fg_vq_add(&g->dev.vq[FG_TXQ], &seg, 1, 0, 0, slot);
	if (ret < 0)
		return ret;
	g->tx.nfree--;
	g->tx_posted++;
	return 0;
}

/*
 * Reap used RX buffers and repost them. Counts whole frames of the
 * configured length (others are "foreign"); for PING, notes the sequence
 * of echo replies. Returns the frames counted, or -1.
 */
static int fg_bench_rx_reap(struct fg_bench *b)
{
	struct fg_guest *g = &b->g;
	struct fg_vq *vq = &g->dev.vq[FG_RXQ];
	const struct virtio_net_hdr_mrg_rxbuf *h;
	__u32 slot, len;
	const __u8 *p;
	int r, n = 0, seq;

	while ((r = fg_vq_get_used(vq, &slot, &len)) > 0) {
		g->rx.free[g->rx.nfree++] = slot;
		g->rx_done++;
		p = fg_mem_hva(&g->mem, fg_bench_slot(&g->rx, slot), len);
		if (!p || len > g->rx.slot_len)
			return fg_bench_fail(b, "RX used len %u", len);
		if (!b->rx_want) {
			h = (const void *)p;
			if (len < b->hdr_len)
				return fg_bench_fail(b, "RX used len %u", len);
			b->rx_want = g->dev.mrg_rxbuf ?
				     fg_v16_to_cpu(vq, h->num_buffers) : 1;
			if (!b->rx_want)
				return fg_bench_fail(b, "RX num_buffers 0");
			b->rx_got = 0;
			b->rx_cur = 0;
			p += b->hdr_len;
			len -= b->hdr_len;
			seq = fg_bench_icmp_reply_seq(p, len, b->ping_id);
			if (seq >= 0)
				b->ping_seq = seq;
		}
		b->rx_cur += len;
		if (++b->rx_got < b->rx_want)
			continue;
		b->rx_want = 0;
		if (b->rx_cur != b->c->len) {
			b->r->foreign++;
			continue;
		}
		b->rx_frames++;
		b->rx_bytes += b->rx_cur;
		n++;
	}
	if (r < 0)
		return fg_bench_fail(b, "RX used ring: bad entry");
	if (fg_guest_rx_fill(g))
		return fg_bench_fail(b, "%s", g->err);
	return n;
}

static int fg_bench_up(struct fg_bench *b)
{
	const struct fg_bench_cfg *c = b->c;
	bool packed = c->impl == FG_BENCH_VHNET_PACKED;
	bool in_order = c->impl == FG_BENCH_VHNET_IN_ORDER;
	struct fg_guest_cfg gc;
	char comm[32];
	pid_t w;
	int ret;

	snprintf(b->ifname, sizeof(b->ifname), "vhb%u", c->id);
	b->hdr_len = sizeof(struct virtio_net_hdr_mrg_rxbuf);
	b->tap = fg_tap_open(b->ifname, FG_TAP_VNET_HDR, b->hdr_len,
			     FG_TAP_OFFLOADS);
	if (b->tap < 0)
		return fg_bench_fail(b, "tap %s: %s", b->ifname,
				     strerror(-b->tap));
	fg_if_get_mac(b->ifname, b->tap_mac);
	if (fg_bench_pin(0, c->guest_cpu))
		return fg_bench_fail(b, "cannot pin to CPU %d", c->guest_cpu);
	if (c->impl == FG_BENCH_LIMIT)
		return 0;

	memset(&gc, 0, sizeof(gc));
	/* The userspace device only borrows a vhost device's setup. */
	gc.dev_path = fg_bench_vhnet(c->impl) ? c->vhnet_dev : c->vhost_dev;
	gc.features = FG_FEATURES_DEFAULT;
	if (packed)
		gc.features |= FG_F(VIRTIO_F_RING_PACKED);
	if (in_order)
		gc.features |= FG_F(VIRTIO_F_IN_ORDER);
	gc.ring_num = c->ring_num;
	gc.nregions = 1;
	gc.max_frame = c->len > FG_FRAME_MAX ? FG_GSO_FRAME_MAX : FG_FRAME_MAX;
	gc.rx_buf_len = c->rx_buf_len ? c->rx_buf_len :
			c->len > FG_FRAME_MAX ? FG_BENCH_RXBUF_BIG :
			FG_BENCH_RXBUF;
	gc.tx_layouts = FG_TX_ONE;
	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT: vhnet and the in-tree device. */
	gc.busyloop_us = c->impl == FG_BENCH_USER ? 0 : c->busyloop_us;
	gc.seed = c->id;
	b->guest_up = true;
	ret = fg_guest_init(&b->g, &gc,
			    c->impl == FG_BENCH_USER ? -1 : b->tap);
	if (ret)
		return fg_bench_fail(b, "guest on %s: %s", gc.dev_path,
				     b->g.err);
	if (b->g.dev.hdr_len != b->hdr_len)
		return fg_bench_fail(b, "guest header %u bytes, want %u",
				     b->g.dev.hdr_len, b->hdr_len);
	if (b->g.dev.packed != packed || b->g.dev.in_order != in_order)
		return fg_bench_fail(b, "the ring layout asked for was not negotiated");

	if (c->impl == FG_BENCH_USER) {
		b->udev_up = true;
		if (fg_udev_start(&b->u, &b->g, b->tap, c->dev_cpu))
			return fg_bench_fail(b, "userspace device: %s",
					     b->u.err);
		return 0;
	}
	snprintf(comm, sizeof(comm), "%s-%d",
		 fg_bench_vhnet(c->impl) ? "vhnet" : "vhost", getpid());
	w = fg_bench_find_thread(comm);
	if (w > 0 && fg_bench_pin(w, c->dev_cpu))
		return fg_bench_fail(b, "cannot pin %s to CPU %d", comm,
				     c->dev_cpu);
	b->r->worker = w;
	return 0;
}

/* vhnet's own per-queue counters (debugfs), on one line, into the note. */
static void fg_bench_vhnet_stats(struct fg_bench *b)
{
	char pat[64], line[160];
	size_t len = 0;
	glob_t gl;
	FILE *f;

	snprintf(pat, sizeof(pat), "/sys/kernel/debug/vhnet/%d-*/stats",
		 getpid());
	if (glob(pat, 0, NULL, &gl))
		return;
	f = fopen(gl.gl_pathv[gl.gl_pathc - 1], "r");
	globfree(&gl);
	if (!f)
		return;
	len = snprintf(b->r->note, sizeof(b->r->note), "vhnet:");
	while (fgets(line, sizeof(line), f) && len < sizeof(b->r->note)) {
		line[strcspn(line, "\n")] = 0;
		len += snprintf(b->r->note + len, sizeof(b->r->note) - len,
				" %s;", line);
	}
	fclose(f);
}

static void fg_bench_down(struct fg_bench *b)
{
	if (b->guest_up && fg_bench_vhnet(b->c->impl))
		fg_bench_vhnet_stats(b);
	if (b->pg_up)
		fg_pktgen_release(&b->pg);
	fg_sender_stop(&b->snd);
	if (b->udev_up) {
		if (fg_udev_stop(&b->u))
			fg_bench_fail(b, "userspace device: %s", b->u.err);
		snprintf(b->r->note, sizeof(b->r->note),
			 "udev: tx %lu rx %lu polls %lu tx-kicks %lu rx-kicks %lu tap-wakeups %lu rx-waits %lu calls %lu",
			 b->u.tx_frames, b->u.rx_frames, b->u.polls,
			 b->u.tx_kicks, b->u.rx_kicks, b->u.tap_wakeups,
			 b->u.rx_waits, b->u.calls);
	}
	if (b->guest_up) {
		b->r->kicks = b->g.dev.vq[FG_TXQ].kicks +
			      b->g.dev.vq[FG_RXQ].kicks;
		b->r->calls = b->g.dev.vq[FG_TXQ].calls +
			      b->g.dev.vq[FG_RXQ].calls;
		fg_guest_fini(&b->g);
	}
	if (b->tap >= 0)
		close(b->tap);
}

/* The TX frame: UDP, or TCP with a GSO header; the header in @hdr. */
static size_t fg_bench_frame(struct fg_bench *b, __u8 *buf,
			     struct virtio_net_hdr_mrg_rxbuf *hdr)
{
	struct fg_frame_desc d = {
		.stream = 1,
		.len = b->c->len,
		.gso = b->c->gso,
	};

	memset(hdr, 0, sizeof(*hdr));
	fg_frame_vnet_hdr(&hdr->hdr, &d);
	return fg_frame_build(buf, &d, fg_bench_other_mac,
			      b->guest_up ? b->g.mac : fg_bench_limit_mac);
}

/* Guest TX, time- or count-bounded; the tap's rx counters are the truth. */
static int fg_bench_tx(struct fg_bench *b, const __u8 *frame, size_t len,
		       const struct virtio_net_hdr_mrg_rxbuf *hdr)
{
	const struct fg_bench_cfg *c = b->c;
	struct fg_bench_result *r = b->r;
	struct fg_guest *g = &b->g;
	struct fg_vq *vq = &g->dev.vq[FG_TXQ];
	unsigned long posted = 0, done = 0, added;
	double t0, now, t_last, t_a = 0;
	long long pk_a, by_a;
	bool measuring = false;
	unsigned int i;
	int n;

	for (i = 0; i < g->tx.nslots; i++) {
		__u64 gpa = fg_bench_slot(&g->tx, i);

		if (fg_mem_write(&g->mem, gpa, hdr, b->hdr_len) ||
		    fg_mem_write(&g->mem, gpa + b->hdr_len, frame, len))
			return fg_bench_fail(b, "TX slot %u unwritable", i);
	}
	pk_a = fg_bench_stat(b, "rx_packets");
	by_a = fg_bench_stat(b, "rx_bytes");
	b->dev_ns_a = fg_bench_dev_ns(b);
	t0 = fg_bench_now();
	t_last = t0;
	for (;;) {
		n = fg_guest_tx_reap(g);
		if (n < 0)
			return fg_bench_fail(b, "%s", g->err);
		done += n;
		for (added = 0; !c->frames || posted < c->frames; added++) {
			if (fg_bench_tx_post(g, b->hdr_len + len))
				break;
			posted++;
		}
		if (added)
			fg_guest_tx_kick(g);
		now = fg_bench_now();
		if (n || added)
			t_last = now;
		else if ((now - t_last) * 1000 > c->stall_ms)
			return fg_bench_fail(b, "TX stalled: %lu of %lu done",
					     done, posted);
		if (c->frames) {
			if (done == c->frames)
				break;
		} else {
			if (!measuring && now - t0 >= c->warmup) {
				pk_a = fg_bench_stat(b, "rx_packets");
				by_a = fg_bench_stat(b, "rx_bytes");
				b->dev_ns_a = fg_bench_dev_ns(b);
				t_a = now;
				measuring = true;
			}
			if (measuring && now - t_a >= c->seconds)
				break;
		}
		if (!n && !added && !fg_vq_enable_cb_delayed(vq))
			fg_bench_wait(vq, FG_BENCH_WAIT_MS);
	}
	now = fg_bench_now();
	r->seconds = c->frames ? now - t0 : now - t_a;
	r->frames = fg_bench_stat(b, "rx_packets") - pk_a;
	r->bytes = fg_bench_stat(b, "rx_bytes") - by_a;
	if (c->frames && r->frames != c->frames)
		return fg_bench_fail(b, "the tap received %lu of %lu frames",
				     r->frames, c->frames);
	return 0;
}

/* No virtqueues: one thread write()s the frames into the tap. */
static int fg_bench_tx_limit(struct fg_bench *b, const __u8 *frame,
			     size_t len,
			     const struct virtio_net_hdr_mrg_rxbuf *hdr)
{
	const struct fg_bench_cfg *c = b->c;
	struct fg_bench_result *r = b->r;
	size_t total = b->hdr_len + len;
	unsigned long sent = 0;
	double t0, now, t_a = 0;
	long long pk_a, by_a;
	bool measuring = false;
	__u8 *buf;

	buf = malloc(total);
	if (!buf)
		return fg_bench_fail(b, "out of memory");
	memcpy(buf, hdr, b->hdr_len);
	memcpy(buf + b->hdr_len, frame, len);
	pk_a = fg_bench_stat(b, "rx_packets");
	by_a = fg_bench_stat(b, "rx_bytes");
	t0 = fg_bench_now();
	for (;;) {
		if (write(b->tap, buf, total) != (ssize_t)total) {
			free(buf);
			return fg_bench_fail(b, "tap write: %s",
					     strerror(errno));
		}
		sent++;
		if (c->frames) {
			if (sent == c->frames)
				break;
			continue;
		}
		if (sent % 16)
			continue;
		now = fg_bench_now();
		if (!measuring && now - t0 >= c->warmup) {
			pk_a = fg_bench_stat(b, "rx_packets");
			by_a = fg_bench_stat(b, "rx_bytes");
			t_a = now;
			measuring = true;
		}
		if (measuring && now - t_a >= c->seconds)
			break;
	}
	free(buf);
	now = fg_bench_now();
	r->seconds = c->frames ? now - t0 : now - t_a;
	r->frames = fg_bench_stat(b, "rx_packets") - pk_a;
	r->bytes = fg_bench_stat(b, "rx_bytes") - by_a;
	if (c->frames && r->frames != c->frames)
		return fg_bench_fail(b, "the tap received %lu of %lu frames",
				     r->frames, c->frames);
	return 0;
}

static int fg_bench_pg_counts(struct fg_bench *b, unsigned long long *all,
			      unsigned long long *errors)
{
	unsigned long long sofar;

	if (b->c->sock_src) {
		/* Frames the tap took, and of those dropped at its queue. */
		*all = fg_sender_sent(&b->snd);
		*errors = fg_bench_stat(b, "tx_dropped");
		return 0;
	}
	if (fg_pktgen_counts(&b->pg, &sofar, errors))
		return fg_bench_fail(b, "cannot read %s", b->pg.dev_path);
	*all = sofar + *errors;
	return 0;
}

static int fg_bench_pg_up(struct fg_bench *b, const __u8 *dst,
			  unsigned long count)
{
	int ret;

	if (b->c->sock_src) {
		if (count)
			return fg_bench_fail(b, "the socket source is time-bounded");
		ret = fg_sender_start(&b->snd, b->ifname, b->c->src_cpu,
				      b->c->len, dst, b->tap_mac);
		return ret ? fg_bench_fail(b, "sender: %s", strerror(-ret)) : 0;
	}
	b->pg_up = true;
	if (fg_pktgen_setup(&b->pg, b->ifname, b->c->src_cpu, b->c->len, dst,
			    count) ||
	    fg_pktgen_start(&b->pg))
		return fg_bench_fail(b, "pktgen: %s", b->pg.err);
	return 0;
}

/* pktgen into the tap, the guest receives. */
static int fg_bench_rx(struct fg_bench *b)
{
	const struct fg_bench_cfg *c = b->c;
	struct fg_bench_result *r = b->r;
	struct fg_vq *vq = &b->g.dev.vq[FG_RXQ];
	unsigned long long off_a = 0, err_a = 0, off_b = 0, err_b = 0;
	unsigned long long by_a = 0;
	unsigned long fr_a = 0;
	double t0, now, t_last, t_a = 0;
	bool measuring = false;
	int n;

	if (fg_bench_pg_up(b, b->g.mac, c->frames))
		return -1;
	b->dev_ns_a = fg_bench_dev_ns(b);
	t0 = fg_bench_now();
	t_last = t0;
	for (;;) {
		n = fg_bench_rx_reap(b);
		if (n < 0)
			return -1;
		now = fg_bench_now();
		if (n)
			t_last = now;
		else if ((now - t_last) * 1000 > c->stall_ms)
			return fg_bench_fail(b, "RX stalled after %lu frames",
					     b->rx_frames);
		if (c->frames) {
			if (b->rx_frames >= c->frames)
				break;
		} else {
			if (!measuring && now - t0 >= c->warmup) {
				if (fg_bench_pg_counts(b, &off_a, &err_a))
					return -1;
				fr_a = b->rx_frames;
				by_a = b->rx_bytes;
				b->dev_ns_a = fg_bench_dev_ns(b);
				t_a = now;
				measuring = true;
			}
			if (measuring && now - t_a >= c->seconds)
				break;
		}
		if (!n && !fg_vq_enable_cb(vq))
			fg_bench_wait(vq, FG_BENCH_WAIT_MS);
	}
	now = fg_bench_now();
	if (fg_bench_pg_counts(b, &off_b, &err_b))
		return -1;
	if (c->sock_src) {
		n = fg_sender_stop(&b->snd);
		if (n)
			return fg_bench_fail(b, "sender: %s", strerror(n));
	} else if (fg_pktgen_finish(&b->pg, !c->frames)) {
		return fg_bench_fail(b, "pktgen: %s", b->pg.err);
	}
	r->seconds = c->frames ? now - t0 : now - t_a;
	r->frames = b->rx_frames - fr_a;
	r->bytes = b->rx_bytes - by_a;
	r->offered = off_b - off_a;
	r->dropped = err_b - err_a;
	if (c->frames) {
		/* Anything beyond the count would be a duplicate. */
		usleep(100000);
		if (fg_bench_rx_reap(b) < 0)
			return -1;
		if (b->rx_frames != c->frames || r->foreign)
			return fg_bench_fail(b, "received %lu of %lu frames (%lu of another size)",
					     b->rx_frames, c->frames,
					     r->foreign);
	}
	return 0;
}

/*
 * Count-bounded limit RX: read the frames back from the tap while pktgen
 * sends them. pktgen only stops once its last skb has been freed, so the
 * tap must be drained before pktgen_finish() can return.
 */
static int fg_bench_rx_limit_count(struct fg_bench *b, unsigned long want)
{
	const struct fg_bench_cfg *c = b->c;
	struct fg_bench_result *r = b->r;
	struct pollfd p = { .fd = b->tap, .events = POLLIN };
	size_t cap = b->hdr_len + FG_FRAME_BUF;
	unsigned long got = 0;
	double t0 = fg_bench_now();
	__u8 *buf;
	ssize_t n;
	int ret = 0;

	buf = malloc(cap);
	if (!buf || fcntl(b->tap, F_SETFL, O_NONBLOCK)) {
		free(buf);
		return fg_bench_fail(b, "read back: %s", strerror(errno));
	}
	while (got < want) {
		n = read(b->tap, buf, cap);
		if (n > 0) {
			if (n == (ssize_t)(b->hdr_len + c->len))
				got++;
			else
				r->foreign++;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			ret = fg_bench_fail(b, "tap read: %s", strerror(errno));
			break;
		}
		if (poll(&p, 1, c->stall_ms) <= 0) {
			ret = fg_bench_fail(b, "read %lu of %lu frames back",
					    got, want);
			break;
		}
	}
	free(buf);
	r->seconds = fg_bench_now() - t0;
	r->frames = got;
	r->offered = got;
	r->bytes = (unsigned long long)got * c->len;
	if (ret) {
		/* Let pktgen go: its last skb dies with the tap. */
		fg_pktgen_finish(&b->pg, true);
		return ret;
	}
	if (fg_pktgen_finish(&b->pg, false))
		return fg_bench_fail(b, "pktgen: %s", b->pg.err);
	if (r->foreign)
		return fg_bench_fail(b, "%lu frames of another size",
				     r->foreign);
	return 0;
}

/*
 * pktgen into the tap with nobody reading: what the source offers (the
 * tap drops what does not fit its queue). Count-bounded: a queue's worth,
 * read back from the tap.
 */
static int fg_bench_rx_limit(struct fg_bench *b)
{
	const struct fg_bench_cfg *c = b->c;
	struct fg_bench_result *r = b->r;
	unsigned long long off_a = 0, err_a = 0, off_b = 0, err_b = 0;
	unsigned long want = c->frames;
	double t_a;

	if (want > FG_BENCH_TAPQ)
		want = FG_BENCH_TAPQ;
	if (fg_bench_pg_up(b, fg_bench_limit_mac, want))
		return -1;
	if (c->frames)
		return fg_bench_rx_limit_count(b, want);
	usleep(c->warmup * 1e6);
	if (fg_bench_pg_counts(b, &off_a, &err_a))
		return -1;
	t_a = fg_bench_now();
	usleep(c->seconds * 1e6);
	if (fg_bench_pg_counts(b, &off_b, &err_b))
		return -1;
	r->seconds = fg_bench_now() - t_a;
	if (fg_pktgen_finish(&b->pg, true))
		return fg_bench_fail(b, "pktgen: %s", b->pg.err);
	r->frames = off_b - off_a;
	r->bytes = r->frames * c->len;
	r->offered = r->frames;
	r->dropped = err_b - err_a;
	return 0;
}

static int fg_bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void fg_bench_rtt_stats(struct fg_bench_result *r, double *s,
			       unsigned long n)
{
	if (!n)
		return;
	qsort(s, n, sizeof(*s), fg_bench_cmp);
	r->min_us = s[0] * 1e6;
	r->p50_us = s[(n - 1) * 50 / 100] * 1e6;
	r->p99_us = s[(n - 1) * 99 / 100] * 1e6;
	r->max_us = s[n - 1] * 1e6;
}

/* One echo request through the guest's TX ring; wait for its reply. */
static int fg_bench_ping_one(struct fg_bench *b, __u8 *frame, __u16 seq,
			     double *rtt)
{
	const struct fg_bench_cfg *c = b->c;
	struct fg_guest *g = &b->g;
	struct fg_vq *rx = &g->dev.vq[FG_RXQ], *tx = &g->dev.vq[FG_TXQ];
	struct virtio_net_hdr_mrg_rxbuf hdr = { 0 };
	double t1, now;
	__u64 gpa;
	int n;

	while (!g->tx.nfree) {
		n = fg_guest_tx_reap(g);
		if (n < 0)
			return fg_bench_fail(b, "%s", g->err);
		if (!n && !fg_vq_enable_cb(tx))
			fg_bench_wait(tx, FG_BENCH_WAIT_MS);
	}
	fg_bench_icmp_request(frame, c->len, b->tap_mac, g->mac, b->ping_id,
			      seq);
	gpa = fg_bench_slot(&g->tx, g->tx.free[g->tx.nfree - 1]);
	if (fg_mem_write(&g->mem, gpa, &hdr, b->hdr_len) ||
	    fg_mem_write(&g->mem, gpa + b->hdr_len, frame, c->len))
		return fg_bench_fail(b, "TX slot unwritable");
	t1 = fg_bench_now();
	if (fg_bench_tx_post(g, b->hdr_len + c->len))
		return fg_bench_fail(b, "cannot post the echo request");
	fg_guest_tx_kick(g);
	for (;;) {
		if (fg_bench_rx_reap(b) < 0)
			return -1;
		now = fg_bench_now();
		if (b->ping_seq == seq)
			break;
		if ((now - t1) * 1000 > c->stall_ms)
			return fg_bench_fail(b, "no echo reply %u", seq);
		if (c->busy_poll)
			continue;
		if (!fg_vq_enable_cb(rx))
			fg_bench_wait(rx, FG_BENCH_WAIT_MS);
	}
	*rtt = now - t1;
	if (fg_guest_tx_reap(g) < 0)
		return fg_bench_fail(b, "%s", g->err);
	return 0;
}

/* One echo request written into the tap; read its reply from the tap. */
static int fg_bench_ping_limit_one(struct fg_bench *b, __u8 *buf, __u16 seq,
				   double *rtt)
{
	const struct fg_bench_cfg *c = b->c;
	struct pollfd p = { .fd = b->tap, .events = POLLIN };
	size_t total = b->hdr_len + c->len;
	double t1, now;
	ssize_t n;

	memset(buf, 0, b->hdr_len);
	fg_bench_icmp_request(buf + b->hdr_len, c->len, b->tap_mac,
			      fg_bench_limit_mac, b->ping_id, seq);
	t1 = fg_bench_now();
	if (write(b->tap, buf, total) != (ssize_t)total)
		return fg_bench_fail(b, "tap write: %s", strerror(errno));
	for (;;) {
		if (poll(&p, 1, c->stall_ms) <= 0)
			return fg_bench_fail(b, "no echo reply %u", seq);
		n = read(b->tap, buf, b->hdr_len + FG_FRAME_BUF);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return fg_bench_fail(b, "tap read: %s",
					     strerror(errno));
		if (n > (ssize_t)b->hdr_len &&
		    fg_bench_icmp_reply_seq(buf + b->hdr_len, n - b->hdr_len,
					    b->ping_id) == seq)
			break;
	}
	now = fg_bench_now();
	*rtt = now - t1;
	return 0;
}

static int fg_bench_ping(struct fg_bench *b)
{
	const struct fg_bench_cfg *c = b->c;
	struct fg_bench_result *r = b->r;
	bool limit = c->impl == FG_BENCH_LIMIT;
	unsigned long max = c->frames ? c->frames : FG_BENCH_MAX_RTT, n = 0;
	double t0, t_a = 0, now, rtt = 0, *s;
	bool measuring = !!c->frames;
	__u16 seq = 0;
	__u8 *buf;
	int ret;

	if (c->len < 60 || c->len > FG_FRAME_MAX)
		return fg_bench_fail(b, "ping frames are 60..%u bytes",
				     FG_FRAME_MAX);
	ret = fg_bench_tap_addr(b->ifname, limit ? fg_bench_limit_mac :
					   b->g.mac);
	if (ret)
		return fg_bench_fail(b, "tap address: %s", strerror(-ret));
	b->ping_id = getpid() & 0xffff;
	b->ping_seq = -1;
	s = calloc(max, sizeof(*s));
	buf = malloc(b->hdr_len + FG_FRAME_BUF);
	if (!s || !buf) {
		free(s);
		free(buf);
		return fg_bench_fail(b, "out of memory");
	}
	b->dev_ns_a = fg_bench_dev_ns(b);
	t0 = fg_bench_now();
	t_a = t0;
	ret = 0;
	while (!ret && n < max) {
		seq++;
		ret = limit ? fg_bench_ping_limit_one(b, buf, seq, &rtt) :
			      fg_bench_ping_one(b, buf, seq, &rtt);
		if (ret)
			break;
		now = fg_bench_now();
		if (!measuring && now - t0 >= c->warmup) {
			measuring = true;
			b->dev_ns_a = fg_bench_dev_ns(b);
			t_a = now;
			continue;
		}
		if (measuring)
			s[n++] = rtt;
		if (!c->frames && measuring && now - t_a >= c->seconds)
			break;
	}
	r->seconds = fg_bench_now() - t_a;
	r->frames = n;
	r->bytes = (unsigned long long)n * c->len;
	fg_bench_rtt_stats(r, s, n);
	free(s);
	free(buf);
	return ret;
}

int fg_bench_run(const struct fg_bench_cfg *c, struct fg_bench_result *r)
{
	struct virtio_net_hdr_mrg_rxbuf hdr;
	struct fg_bench b;
	__u8 *frame = NULL;
	size_t len;
	double bw;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	memset(&b, 0, sizeof(b));
	b.c = c;
	b.r = r;
	b.tap = -1;
	b.dev_ns_a = -1;
	r->dev_ns = -1;

	if (c->test == FG_BENCH_MEMCPY) {
		if (fg_bench_pin(0, c->guest_cpu))
			return fg_bench_fail(&b, "cannot pin to CPU %d",
					     c->guest_cpu);
		/* 64 KiB copies through 64 MiB, beyond any cache. */
		bw = fg_bench_memcpy(c->frames ? 0.05 : c->seconds, 65536,
				     64 << 20);
		if (bw < 0)
			return fg_bench_fail(&b, "memcpy: %s",
					     strerror((int)-bw));
		r->seconds = c->frames ? 0.05 : c->seconds;
		r->bytes = bw * r->seconds;
		r->gbps = bw * 8 / 1e9;
		return 0;
	}
	if (c->len < FG_FRAME_MIN || c->len > FG_GSO_FRAME_MAX ||
	    (c->len > FG_FRAME_MAX && !c->gso && c->test == FG_BENCH_TX))
		return fg_bench_fail(&b, "bad frame length %u%s", c->len,
				     c->gso ? " (GSO)" : "");
	if (fg_bench_up(&b))
		goto out;
	if (c->ready)
		c->ready(c->ready_arg);
	frame = malloc(FG_FRAME_BUF);
	if (!frame) {
		fg_bench_fail(&b, "out of memory");
		goto out;
	}
	switch (c->test) {
	case FG_BENCH_TX:
		len = fg_bench_frame(&b, frame, &hdr);
		ret = c->impl == FG_BENCH_LIMIT ?
		      fg_bench_tx_limit(&b, frame, len, &hdr) :
		      fg_bench_tx(&b, frame, len, &hdr);
		break;
	case FG_BENCH_RX:
		ret = c->impl == FG_BENCH_LIMIT ? fg_bench_rx_limit(&b) :
						  fg_bench_rx(&b);
		break;
	case FG_BENCH_PING:
		ret = fg_bench_ping(&b);
		break;
	default:
		ret = fg_bench_fail(&b, "unknown test %d", c->test);
	}
	if (!ret && r->frames && b.dev_ns_a >= 0) {
		long long ns = fg_bench_dev_ns(&b);

		if (ns >= b.dev_ns_a)
			r->dev_ns = (double)(ns - b.dev_ns_a) / r->frames;
	}
out:
	free(frame);
	fg_bench_down(&b);
	if (r->seconds > 0) {
		r->pps = r->frames / r->seconds;
		r->gbps = r->bytes * 8 / r->seconds / 1e9;
	}
	return r->err[0] ? -1 : ret;
}
