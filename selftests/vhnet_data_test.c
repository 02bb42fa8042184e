// SPDX-License-Identifier: GPL-2.0
/*
 * Data-path integrity tests for vhost-net style devices.
 *
 * Every test runs twice: against the in-tree /dev/vhost-net, the reference
 * that proves the fake guest right, and against vhnet ($VHNET_DEV, default
 * /dev/vhnet). Frames carry a stream, a sequence number and a byte
 * pattern; receivers check every byte, and that nothing is lost (TX),
 * duplicated or reordered, and that RX frames not delivered were counted as
 * drops by the backend. VHNET_FRAMES sets the frames per direction
 * (default 100000).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "fakeguest.h"
#include <linux/vhnet.h>

/* The harness's own functions trip these with -Wextra. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wclobbered"

#define REF_DEV		"/dev/vhost-net"
#define DEF_FRAMES	100000UL
#define GSO_EVERY	64
#define SHORT_FRAMES	64UL
#define NCONC		8

/*
 * Per-test limits. The traffic engine fails by itself after 20 s without
 * progress; these catch a hang inside a syscall. 100k frames each way take
 * 5-15 s under TCG, 30-60 s with a 1-entry ring.
 */
#define DATA_TIMEOUT	600
#define HOSTILE_TIMEOUT	60

#define F_NO(bit)	(FG_FEATURES_DEFAULT & ~FG_F(bit))

static const char *dev_path(const char *dev)
{
	const char *env;

	if (dev)
		return dev;
	env = getenv("VHNET_DEV");
	return env && *env ? env : "/dev/vhnet";
}

static bool is_ref(const char *dev)
{
	return dev && !strcmp(dev, REF_DEV);
}

/* Interface names must be unique among concurrently live rigs. */
static unsigned int rig_id(unsigned int n)
{
	return (getpid() % 100000) * 10 + n;
}

static void rig_cfg(struct fg_rig_cfg *c, const char *dev,
		    enum fg_backend bk, __u64 features, unsigned int ring,
		    bool gso, unsigned int id)
{
	memset(c, 0, sizeof(*c));
	c->guest.dev_path = dev_path(dev);
	c->guest.features = features;
	c->guest.ring_num = ring;
	c->guest.nregions = 1;
	c->guest.max_frame = gso ? FG_GSO_FRAME_MAX : FG_FRAME_MAX;
	c->guest.seed = id;
	c->guest.rx_poison = true;
	c->backend = bk;
	c->id = id;
}

static void traffic_cfg(struct fg_traffic_cfg *t, unsigned long tx,
			unsigned long rx, bool gso)
{
	fg_traffic_defaults(t);
	t->tx_frames = tx;
	t->rx_frames = rx;
	t->plan.gso_every = gso ? GSO_EVERY : 0;
}

/* vhnet's per-device debugfs counters, for failure reports. */
static void log_vhnet_stats(struct __test_metadata *_metadata)
{
	char pat[64], line[512];
	glob_t gl;
	size_t i;

	snprintf(pat, sizeof(pat), "/sys/kernel/debug/vhnet/%d-*/stats",
		 getpid());
	if (glob(pat, 0, NULL, &gl))
		return;
	for (i = 0; i < gl.gl_pathc; i++) {
		FILE *f = fopen(gl.gl_pathv[i], "re");

		while (f && fgets(line, sizeof(line), f))
			TH_LOG("%s: %s", gl.gl_pathv[i], line);
		if (f)
			fclose(f);
	}
	globfree(&gl);
}

/*
 * Counter @key on the line of queue @q ("rx", "tx") of this process's
 * vhnet device, summed over its devices; -1 if there is none.
 */
static long long vhnet_counter(const char *q, const char *key)
{
	char pat[64], word[64], line[512], *p;
	long long sum = -1;
	glob_t gl;
	size_t i;

	snprintf(word, sizeof(word), " %s ", key);
	snprintf(pat, sizeof(pat), "/sys/kernel/debug/vhnet/%d-*/stats",
		 getpid());
	if (glob(pat, 0, NULL, &gl))
		return -1;
	for (i = 0; i < gl.gl_pathc; i++) {
		FILE *f = fopen(gl.gl_pathv[i], "re");

		while (f && fgets(line, sizeof(line), f)) {
			if (strncmp(line, q, strlen(q)) || line[strlen(q)] != ' ')
				continue;
			p = strstr(line, word);
			if (p)
				sum = (sum < 0 ? 0 : sum) + atoll(p + strlen(word));
		}
		if (f)
			fclose(f);
	}
	globfree(&gl);
	return sum;
}

static void log_result(struct __test_metadata *_metadata, const char *what,
		       const struct fg_traffic_result *res, struct fg_rig *rig)
{
	unsigned long n = res->tx_recv + res->rx_recv;
	char buf[600];

	TH_LOG("%s: tx %lu/%lu (gso %lu), rx %lu/%lu (gso %lu, dropped %lu)",
	       what, res->tx_recv, res->tx_sent, res->tx_gso, res->rx_recv,
	       res->rx_sent, res->rx_gso, res->rx_dropped);
	TH_LOG("%s: foreign %lu, reordered %lu, %.1f s, %.0f frames/s", what,
	       res->foreign, res->reordered, res->seconds,
	       res->seconds > 0 ? n / res->seconds : 0.0);
	if (res->err[0]) {
		fg_env_dump(&rig->env, buf, sizeof(buf));
		TH_LOG("%s: %s", what, buf);
		log_vhnet_stats(_metadata);
	}
}

/* What the fake guest exercised: layouts, notifications. */
static void log_guest(struct __test_metadata *_metadata,
		      const struct fg_guest *g)
{
	const struct fg_vq *tx = &g->dev.vq[FG_TXQ], *rx = &g->dev.vq[FG_RXQ];

	TH_LOG("features 0x%llx, header %u bytes",
	       (unsigned long long)g->dev.features, g->dev.hdr_len);
	TH_LOG("TX layouts: one %lu hdr %lu split %lu indirect %lu chain %lu",
	       g->layouts[0], g->layouts[1], g->layouts[2], g->layouts[3],
	       g->layouts[4]);
	TH_LOG("kicks: tx %lu (%lu suppressed), rx %lu (%lu suppressed)",
	       tx->kicks, tx->kicks_suppressed, rx->kicks,
	       rx->kicks_suppressed);
	TH_LOG("calls: tx %lu, rx %lu; straddling buffers %u", tx->calls,
	       rx->calls, g->straddling);
}

/* ---------------------------------------------------------------------
 * Integrity matrix: one configuration flipped at a time from QEMU's
 * default, over every backend.
 */

FIXTURE(data) {
	struct fg_rig rig;
	unsigned long frames;
	bool gso;
	char tx_batch[8];	/* the parameter's value before the test */
};

struct data_cfg {
	enum fg_backend backend;
	__u64 features;
	unsigned int ring;
	unsigned int nregions;
	unsigned int rx_buf_len;	/* mergeable buffer size, 0: default */
	unsigned int layouts;		/* FG_TX_*, 0: all */
	unsigned int window;		/* frames in flight, 0: default */
	bool any_layout;		/* legacy guest lays buffers out freely */
	bool gso;			/* 64 KB TCPv4 GSO frames mixed in */
	unsigned int busyloop_us;	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT */
	bool dirty_log;			/* VHOST_F_LOG_ALL, used rings logged */
	bool no_tx_batch;		/* vhnet's tx_batch=N: a sendmsg per frame */
	bool scramble;			/* descriptors (ids) out of ring order */
};

/* QEMU's default: VERSION_1, INDIRECT, EVENT_IDX, MRG_RXBUF; header 12. */
static const struct data_cfg cfg_default = {
	.backend = FG_BK_TAP, .features = FG_FEATURES_DEFAULT, .ring = 256, .gso = true
};

/*
 * Legacy: native endian (LE here), header 12 because of MRG_RXBUF, header
 * in its own descriptor.
 */
static const struct data_cfg cfg_legacy = {
	.backend = FG_BK_TAP,
	.features = F_NO(VIRTIO_F_VERSION_1),
	.ring = 256, .gso = true
};

/*
 * Legacy, and the guest uses ANY_LAYOUT (which never reaches vhost: bit 27
 * is VHOST_NET_F_VIRTIO_NET_HDR there): header split anywhere.
 */
static const struct data_cfg cfg_legacy_anylayout = {
	.backend = FG_BK_TAP, .features = F_NO(VIRTIO_F_VERSION_1), .ring = 256,
	.any_layout = true, .gso = true
};

/* Legacy without MRG_RXBUF: the 10-byte header, big RX chains. */
static const struct data_cfg cfg_legacy_no_mrg = {
	.backend = FG_BK_TAP,
	.features = F_NO(VIRTIO_F_VERSION_1) & ~FG_F(VIRTIO_NET_F_MRG_RXBUF),
	.ring = 256, .gso = true
};

static const struct data_cfg cfg_no_indirect = {
	.backend = FG_BK_TAP, .features = F_NO(VIRTIO_RING_F_INDIRECT_DESC),
	.ring = 256, .gso = true
};

static const struct data_cfg cfg_no_event_idx = {
	.backend = FG_BK_TAP, .features = F_NO(VIRTIO_RING_F_EVENT_IDX),
	.ring = 256, .gso = true
};

/*
 * The host injects far more than the tap queue (500) holds: frames the
 * guest does not get must show up in the tap's tx_dropped.
 */
static const struct data_cfg cfg_rx_overrun = {
	.backend = FG_BK_TAP, .features = FG_FEATURES_DEFAULT, .ring = 256,
	.window = 4096
};

/* VERSION_1 without MRG_RXBUF: header 12, one big chain per frame. */
static const struct data_cfg cfg_no_mrg = {
	.backend = FG_BK_TAP, .features = F_NO(VIRTIO_NET_F_MRG_RXBUF),
	.ring = 256, .gso = true
};

/* Small mergeable buffers: many num_buffers per frame. */
static const struct data_cfg cfg_mrg_small_bufs = {
	.backend = FG_BK_TAP, .features = FG_FEATURES_DEFAULT, .ring = 256,
	.rx_buf_len = 256, .gso = true
};

/*
 * VHOST_NET_F_VIRTIO_NET_HDR: vhost adds and strips the header, the tap
 * has none.
 */
static const struct data_cfg cfg_vhost_hdr_tap = {
	.backend = FG_BK_TAP_NOHDR, .features = FG_FEATURES_DEFAULT,
	.ring = 256
};

static const struct data_cfg cfg_ring_1 = {
	.backend = FG_BK_TAP, .features = FG_FEATURES_DEFAULT, .ring = 1, .gso = true
};

static const struct data_cfg cfg_ring_1_noindirect = {
	.backend = FG_BK_TAP, .features = F_NO(VIRTIO_RING_F_INDIRECT_DESC),
	.ring = 1
};

static const struct data_cfg cfg_ring_32768 = {
	.backend = FG_BK_TAP, .features = FG_FEATURES_DEFAULT, .ring = 32768,
	.gso = true
};

/* Guest memory in 4 GPA-adjacent regions: buffers straddle them. */
static const struct data_cfg cfg_mem_regions = {
	.backend = FG_BK_TAP, .features = FG_FEATURES_DEFAULT, .ring = 256,
	.nregions = 4, .gso = true
};

/* macvtap on a dummy; the host reads and injects on a macvlan peer. */
static const struct data_cfg cfg_macvtap = {
	.backend = FG_BK_MACVTAP, .features = FG_FEATURES_DEFAULT, .ring = 256,
	.gso = true
};

/* AF_PACKET on a veth end; VHOST_NET_F_VIRTIO_NET_HDR. */
static const struct data_cfg cfg_packet = {
	.backend = FG_BK_PACKET, .features = FG_FEATURES_DEFAULT, .ring = 256
};

/* 2-queue tap, one device per queue. */
static const struct data_cfg cfg_tap_mq = {
	.backend = FG_BK_TAP_MQ, .features = FG_FEATURES_DEFAULT, .ring = 256,
	.gso = true
};

/* Busy polling: the worker watches the TX ring before it sleeps. */
static const struct data_cfg cfg_busyloop = {
	.backend = FG_BK_TAP, .features = FG_FEATURES_DEFAULT, .ring = 256,
	.gso = true, .busyloop_us = 1000
};

/* Live migration: every page the device writes is logged. */
static const struct data_cfg cfg_dirty_log = {
	.backend = FG_BK_TAP, .features = FG_FEATURES_DEFAULT, .ring = 256,
	.gso = true, .dirty_log = true
};

/*
 * VIRTIO_F_IN_ORDER: the guest takes a used entry for a later buffer as
 * completing all before it; vhnet sends TX buffers back so, in batches.
 */
static const struct data_cfg cfg_in_order = {
	.backend = FG_BK_TAP,
	.features = FG_FEATURES_DEFAULT | FG_F(VIRTIO_F_IN_ORDER),
	.ring = 256, .gso = true
};

/*
 * In order negotiated, and a guest that breaks it: descriptors (packed:
 * buffer ids) out of ring order. Nothing in vhnet depends on the order.
 */
static const struct data_cfg cfg_in_order_broken = {
	.backend = FG_BK_TAP,
	.features = FG_FEATURES_DEFAULT | FG_F(VIRTIO_F_IN_ORDER),
	.ring = 256, .gso = true, .scramble = true
};

/* The tap without TX batches: every frame through its own sendmsg(). */
static const struct data_cfg cfg_tx_unbatched = {
	.backend = FG_BK_TAP, .features = FG_FEATURES_DEFAULT, .ring = 256,
	.gso = true, .no_tx_batch = true
};

FIXTURE_VARIANT(data) {
	const char *dev;		/* NULL: vhnet */
	const struct data_cfg *cfg;
	bool packed;			/* and VIRTIO_F_RING_PACKED (vhnet only) */
};

FIXTURE_VARIANT_ADD(data, vhost_net_default) { REF_DEV, &cfg_default };
FIXTURE_VARIANT_ADD(data, vhnet_default) { NULL, &cfg_default };
FIXTURE_VARIANT_ADD(data, vhost_net_legacy) { REF_DEV, &cfg_legacy };
FIXTURE_VARIANT_ADD(data, vhnet_legacy) { NULL, &cfg_legacy };
FIXTURE_VARIANT_ADD(data, vhost_net_legacy_anylayout) { REF_DEV, &cfg_legacy_anylayout };
FIXTURE_VARIANT_ADD(data, vhnet_legacy_anylayout) { NULL, &cfg_legacy_anylayout };
FIXTURE_VARIANT_ADD(data, vhost_net_legacy_no_mrg) { REF_DEV, &cfg_legacy_no_mrg };
FIXTURE_VARIANT_ADD(data, vhnet_legacy_no_mrg) { NULL, &cfg_legacy_no_mrg };
FIXTURE_VARIANT_ADD(data, vhost_net_no_indirect) { REF_DEV, &cfg_no_indirect };
FIXTURE_VARIANT_ADD(data, vhnet_no_indirect) { NULL, &cfg_no_indirect };
FIXTURE_VARIANT_ADD(data, vhost_net_no_event_idx) { REF_DEV, &cfg_no_event_idx };
FIXTURE_VARIANT_ADD(data, vhnet_no_event_idx) { NULL, &cfg_no_event_idx };
FIXTURE_VARIANT_ADD(data, vhost_net_no_mrg) { REF_DEV, &cfg_no_mrg };
FIXTURE_VARIANT_ADD(data, vhnet_no_mrg) { NULL, &cfg_no_mrg };
FIXTURE_VARIANT_ADD(data, vhost_net_mrg_small_bufs) { REF_DEV, &cfg_mrg_small_bufs };
FIXTURE_VARIANT_ADD(data, vhnet_mrg_small_bufs) { NULL, &cfg_mrg_small_bufs };
FIXTURE_VARIANT_ADD(data, vhost_net_rx_overrun) { REF_DEV, &cfg_rx_overrun };
FIXTURE_VARIANT_ADD(data, vhnet_rx_overrun) { NULL, &cfg_rx_overrun };
FIXTURE_VARIANT_ADD(data, vhost_net_vhost_hdr_tap) { REF_DEV, &cfg_vhost_hdr_tap };
FIXTURE_VARIANT_ADD(data, vhnet_vhost_hdr_tap) { NULL, &cfg_vhost_hdr_tap };
FIXTURE_VARIANT_ADD(data, vhost_net_ring_1) { REF_DEV, &cfg_ring_1 };
FIXTURE_VARIANT_ADD(data, vhnet_ring_1) { NULL, &cfg_ring_1 };
FIXTURE_VARIANT_ADD(data, vhost_net_ring_1_noindirect) { REF_DEV, &cfg_ring_1_noindirect };
FIXTURE_VARIANT_ADD(data, vhnet_ring_1_noindirect) { NULL, &cfg_ring_1_noindirect };
FIXTURE_VARIANT_ADD(data, vhost_net_ring_32768) { REF_DEV, &cfg_ring_32768 };
FIXTURE_VARIANT_ADD(data, vhnet_ring_32768) { NULL, &cfg_ring_32768 };
FIXTURE_VARIANT_ADD(data, vhost_net_mem_regions) { REF_DEV, &cfg_mem_regions };
FIXTURE_VARIANT_ADD(data, vhnet_mem_regions) { NULL, &cfg_mem_regions };
FIXTURE_VARIANT_ADD(data, vhost_net_macvtap) { REF_DEV, &cfg_macvtap };
FIXTURE_VARIANT_ADD(data, vhnet_macvtap) { NULL, &cfg_macvtap };
FIXTURE_VARIANT_ADD(data, vhost_net_packet) { REF_DEV, &cfg_packet };
FIXTURE_VARIANT_ADD(data, vhnet_packet) { NULL, &cfg_packet };
FIXTURE_VARIANT_ADD(data, vhost_net_tap_mq) { REF_DEV, &cfg_tap_mq };
FIXTURE_VARIANT_ADD(data, vhnet_tap_mq) { NULL, &cfg_tap_mq };
FIXTURE_VARIANT_ADD(data, vhost_net_busyloop) { REF_DEV, &cfg_busyloop };
FIXTURE_VARIANT_ADD(data, vhnet_busyloop) { NULL, &cfg_busyloop };
FIXTURE_VARIANT_ADD(data, vhost_net_dirty_log) { REF_DEV, &cfg_dirty_log };
FIXTURE_VARIANT_ADD(data, vhnet_dirty_log) { NULL, &cfg_dirty_log };
FIXTURE_VARIANT_ADD(data, vhnet_tx_unbatched) { NULL, &cfg_tx_unbatched };
FIXTURE_VARIANT_ADD(data, vhnet_in_order) { NULL, &cfg_in_order };
FIXTURE_VARIANT_ADD(data, vhnet_in_order_broken) { NULL, &cfg_in_order_broken };
/* Every vhnet case but the legacy ones again on packed rings. */
FIXTURE_VARIANT_ADD(data, packed_default) { NULL, &cfg_default, true };
FIXTURE_VARIANT_ADD(data, packed_no_indirect) { NULL, &cfg_no_indirect, true };
FIXTURE_VARIANT_ADD(data, packed_no_event_idx) { NULL, &cfg_no_event_idx, true };
FIXTURE_VARIANT_ADD(data, packed_no_mrg) { NULL, &cfg_no_mrg, true };
FIXTURE_VARIANT_ADD(data, packed_mrg_small_bufs) { NULL, &cfg_mrg_small_bufs, true };
FIXTURE_VARIANT_ADD(data, packed_rx_overrun) { NULL, &cfg_rx_overrun, true };
FIXTURE_VARIANT_ADD(data, packed_vhost_hdr_tap) { NULL, &cfg_vhost_hdr_tap, true };
FIXTURE_VARIANT_ADD(data, packed_ring_1) { NULL, &cfg_ring_1, true };
FIXTURE_VARIANT_ADD(data, packed_ring_1_noindirect) { NULL, &cfg_ring_1_noindirect, true };
FIXTURE_VARIANT_ADD(data, packed_ring_32768) { NULL, &cfg_ring_32768, true };
FIXTURE_VARIANT_ADD(data, packed_mem_regions) { NULL, &cfg_mem_regions, true };
FIXTURE_VARIANT_ADD(data, packed_macvtap) { NULL, &cfg_macvtap, true };
FIXTURE_VARIANT_ADD(data, packed_packet) { NULL, &cfg_packet, true };
FIXTURE_VARIANT_ADD(data, packed_tap_mq) { NULL, &cfg_tap_mq, true };
FIXTURE_VARIANT_ADD(data, packed_busyloop) { NULL, &cfg_busyloop, true };
FIXTURE_VARIANT_ADD(data, packed_dirty_log) { NULL, &cfg_dirty_log, true };
FIXTURE_VARIANT_ADD(data, packed_tx_unbatched) { NULL, &cfg_tx_unbatched, true };
FIXTURE_VARIANT_ADD(data, packed_in_order) { NULL, &cfg_in_order, true };
FIXTURE_VARIANT_ADD(data, packed_in_order_broken) { NULL, &cfg_in_order_broken, true };

FIXTURE_SETUP(data)
{
	struct fg_rig_cfg c;

	self->frames = fg_env_frames(DEF_FRAMES);
	self->gso = variant->cfg->gso &&
		    fg_env_has_vnet_hdr(variant->cfg->backend);
	rig_cfg(&c, variant->dev, variant->cfg->backend,
		variant->cfg->features |
		(variant->packed ? FG_F(VIRTIO_F_RING_PACKED) : 0),
		variant->cfg->ring, self->gso, rig_id(0));
	c.guest.nregions = variant->cfg->nregions ? variant->cfg->nregions : 1;
	c.guest.rx_buf_len = variant->cfg->rx_buf_len;
	c.guest.tx_layouts = variant->cfg->layouts;
	c.guest.any_layout = variant->cfg->any_layout;
	c.guest.busyloop_us = variant->cfg->busyloop_us;
	c.guest.dirty_log = variant->cfg->dirty_log;
	c.guest.scramble = variant->cfg->scramble;
	if (variant->cfg->no_tx_batch)
		ASSERT_EQ(0, fg_vhnet_param("tx_batch", "N", self->tx_batch,
					    sizeof(self->tx_batch)));
	ASSERT_EQ(0, fg_rig_up(&self->rig, &c))
		TH_LOG("%s, %s: %s", c.guest.dev_path,
		       fg_env_name(variant->cfg->backend), self->rig.err);
	if (variant->cfg->nregions > 1)
		ASSERT_LT(0U, self->rig.g[0].straddling)
			TH_LOG("no buffer straddles a region boundary");
	ASSERT_EQ(variant->packed, self->rig.g[0].dev.packed)
		TH_LOG("the ring layout negotiated is not the one asked for");
}

FIXTURE_TEARDOWN(data)
{
	fg_rig_down(&self->rig);
	if (self->tx_batch[0])
		fg_vhnet_param("tx_batch", self->tx_batch, NULL, 0);
}

/*
 * TX to a tap or macvtap went out in batches (one sendmsg() for many
 * frames) unless tx_batch=N; AF_PACKET never batches.
 */
static void check_tx_batches(struct __test_metadata *_metadata,
			     const struct data_cfg *cfg, unsigned long frames)
{
	long long batches = vhnet_counter("tx", "batches");
	bool batching = !cfg->no_tx_batch && cfg->backend != FG_BK_PACKET;

	TH_LOG("TX: %lld batched sendmsg() calls for %lu frames", batches,
	       frames);
	EXPECT_LE(0, batches);
	EXPECT_EQ(batching, batches > 0);
}

static void data_run(struct __test_metadata *_metadata, struct fg_rig *rig,
		     unsigned long n, bool gso, unsigned int window, bool tx)
{
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	unsigned int ng = rig->ng, i;
	int ret;

	traffic_cfg(&t, tx ? n / ng : 0, tx ? 0 : n, gso);
	if (window)
		t.window = window;
	t.reorder_ok = !fg_env_keeps_order(rig->env.kind);
	if (ng > 1) {
		/* Several flows so that the tap spreads them over queues. */
		t.plan.flows = 16;
	}
	ret = fg_rig_run(rig, &t, &res);
	log_result(_metadata, tx ? "TX" : "RX", &res, rig);
	log_guest(_metadata, &rig->g[0]);
	ASSERT_EQ(0, ret) TH_LOG("%s", res.err);
	if (tx) {
		ASSERT_EQ(n / ng * ng, res.tx_recv);
		if (gso)
			ASSERT_LT(0UL, res.tx_gso);
		return;
	}
	ASSERT_EQ(n, res.rx_recv + res.rx_dropped);
	if (gso)
		ASSERT_LT(0UL, res.rx_gso);
	for (i = 0; ng > 1 && i < ng; i++)
		EXPECT_LT(0UL, res.rx_per_guest[i])
			TH_LOG("queue %u received nothing", i);
}

/*
 * With dirty logging: bits were set, all of them for pages of the guest's
 * memory, and vhnet counted no failed log write.
 */
static void check_dirty_log(struct __test_metadata *_metadata,
			    const struct fg_guest *g, bool ref, unsigned int q)
{
	const struct fg_vq *vq = &g->dev.vq[q];
	__u64 gpa = vq->packed ? vq->desc_gpa : vq->used_gpa;
	__u64 p, first = FG_DEFAULT_GPA_BASE / FG_LOG_PAGE, outside = 0, set = 0;
	__u64 nbits = fg_log_bytes(&g->mem) * 8;

	for (p = 0; p < nbits; p++) {
		if (!fg_log_test(g->log, p))
			continue;
		set++;
		if (p < first || p * FG_LOG_PAGE >= fg_mem_end(&g->mem))
			outside++;
	}
	TH_LOG("dirty log: %llu of %llu pages set", (unsigned long long)set,
	       (unsigned long long)nbits);
	EXPECT_LT(0ULL, set);
	EXPECT_EQ(0ULL, outside);
	/* The queue's ring part the device wrote: used ring, packed descriptors. */
	EXPECT_TRUE(fg_log_test(g->log, gpa / FG_LOG_PAGE))
		TH_LOG("queue %u: the page of its %s ring is not logged",
		       q, vq->packed ? "descriptor" : "used");
	if (!ref)
		EXPECT_EQ(0, vhnet_counter("rx", "log_errors") +
			     vhnet_counter("tx", "log_errors"));
}

TEST_F_TIMEOUT(data, tx, DATA_TIMEOUT)
{
	long long polls, hits;

	data_run(_metadata, &self->rig, self->frames, self->gso,
		 variant->cfg->window, true);
	if (variant->cfg->dirty_log)
		check_dirty_log(_metadata, &self->rig.g[0], is_ref(variant->dev),
				FG_TXQ);
	if (!is_ref(variant->dev))
		check_tx_batches(_metadata, variant->cfg, self->frames);
	if (variant->cfg->features & FG_F(VIRTIO_F_IN_ORDER)) {
		const struct fg_vq *tx = &self->rig.g[0].dev.vq[FG_TXQ];

		/* One used entry stood for several buffers, in order. */
		TH_LOG("in order: %lu TX used entries stood for a batch",
		       tx->batched);
		EXPECT_TRUE(self->rig.g[0].dev.in_order);
		EXPECT_LT(0UL, tx->batched);
	}
	if (!variant->cfg->busyloop_us || is_ref(variant->dev))
		return;
	/* vhnet polled the TX ring, and found buffers that way. */
	polls = vhnet_counter("tx", "polls");
	hits = vhnet_counter("tx", "poll_hits");
	TH_LOG("busy polling: %lld periods, %lld found TX buffers", polls, hits);
	EXPECT_LT(0, polls);
	EXPECT_LT(0, hits);
}

TEST_F_TIMEOUT(data, rx, DATA_TIMEOUT)
{
	data_run(_metadata, &self->rig, self->frames, self->gso,
		 variant->cfg->window, false);
	if (variant->cfg->dirty_log)
		check_dirty_log(_metadata, &self->rig.g[0], is_ref(variant->dev),
				FG_RXQ);
}

/* ---------------------------------------------------------------------
 * Hostile rings: each malformation on each queue. vhnet must signal the
 * queue's err eventfd; for both devices nothing hangs, the other queue
 * keeps working, and the broken one works again after it is
 * re-initialised, and after VHOST_RESET_OWNER.
 */

FIXTURE(hostile) {
	struct fg_rig rig;
};

FIXTURE_VARIANT(hostile) {
	const char *dev;
	unsigned int q;
	enum fg_hostile kind;
	bool packed;		/* on a packed ring */
};

FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_loop) { REF_DEV, FG_TXQ, FG_BAD_LOOP };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_long_chain) { REF_DEV, FG_TXQ, FG_BAD_LONG_CHAIN };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_next) { REF_DEV, FG_TXQ, FG_BAD_NEXT };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_nested_ind) { REF_DEV, FG_TXQ, FG_BAD_NESTED_INDIRECT };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_indirect_len0) { REF_DEV, FG_TXQ, FG_BAD_INDIRECT_LEN0 };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_indirect_len) { REF_DEV, FG_TXQ, FG_BAD_INDIRECT_LEN };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_indirect_loop) { REF_DEV, FG_TXQ, FG_BAD_INDIRECT_LOOP };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_addr) { REF_DEV, FG_TXQ, FG_BAD_ADDR };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_addr_wrap) { REF_DEV, FG_TXQ, FG_BAD_ADDR_WRAP };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_dir) { REF_DEV, FG_TXQ, FG_BAD_DIRECTION };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_head) { REF_DEV, FG_TXQ, FG_BAD_HEAD };
FIXTURE_VARIANT_ADD(hostile, vhost_net_tx_avail_idx) { REF_DEV, FG_TXQ, FG_BAD_AVAIL_IDX };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_loop) { REF_DEV, FG_RXQ, FG_BAD_LOOP };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_long_chain) { REF_DEV, FG_RXQ, FG_BAD_LONG_CHAIN };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_next) { REF_DEV, FG_RXQ, FG_BAD_NEXT };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_nested_ind) { REF_DEV, FG_RXQ, FG_BAD_NESTED_INDIRECT };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_indirect_len0) { REF_DEV, FG_RXQ, FG_BAD_INDIRECT_LEN0 };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_indirect_len) { REF_DEV, FG_RXQ, FG_BAD_INDIRECT_LEN };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_indirect_loop) { REF_DEV, FG_RXQ, FG_BAD_INDIRECT_LOOP };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_addr) { REF_DEV, FG_RXQ, FG_BAD_ADDR };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_addr_wrap) { REF_DEV, FG_RXQ, FG_BAD_ADDR_WRAP };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_dir) { REF_DEV, FG_RXQ, FG_BAD_DIRECTION };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_head) { REF_DEV, FG_RXQ, FG_BAD_HEAD };
FIXTURE_VARIANT_ADD(hostile, vhost_net_rx_avail_idx) { REF_DEV, FG_RXQ, FG_BAD_AVAIL_IDX };

FIXTURE_VARIANT_ADD(hostile, vhnet_tx_loop) { NULL, FG_TXQ, FG_BAD_LOOP };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_long_chain) { NULL, FG_TXQ, FG_BAD_LONG_CHAIN };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_next) { NULL, FG_TXQ, FG_BAD_NEXT };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_nested_ind) { NULL, FG_TXQ, FG_BAD_NESTED_INDIRECT };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_indirect_len0) { NULL, FG_TXQ, FG_BAD_INDIRECT_LEN0 };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_indirect_len) { NULL, FG_TXQ, FG_BAD_INDIRECT_LEN };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_indirect_loop) { NULL, FG_TXQ, FG_BAD_INDIRECT_LOOP };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_addr) { NULL, FG_TXQ, FG_BAD_ADDR };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_addr_wrap) { NULL, FG_TXQ, FG_BAD_ADDR_WRAP };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_dir) { NULL, FG_TXQ, FG_BAD_DIRECTION };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_head) { NULL, FG_TXQ, FG_BAD_HEAD };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_avail_idx) { NULL, FG_TXQ, FG_BAD_AVAIL_IDX };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_loop) { NULL, FG_RXQ, FG_BAD_LOOP };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_long_chain) { NULL, FG_RXQ, FG_BAD_LONG_CHAIN };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_next) { NULL, FG_RXQ, FG_BAD_NEXT };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_nested_ind) { NULL, FG_RXQ, FG_BAD_NESTED_INDIRECT };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_indirect_len0) { NULL, FG_RXQ, FG_BAD_INDIRECT_LEN0 };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_indirect_len) { NULL, FG_RXQ, FG_BAD_INDIRECT_LEN };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_indirect_loop) { NULL, FG_RXQ, FG_BAD_INDIRECT_LOOP };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_addr) { NULL, FG_RXQ, FG_BAD_ADDR };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_addr_wrap) { NULL, FG_RXQ, FG_BAD_ADDR_WRAP };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_dir) { NULL, FG_RXQ, FG_BAD_DIRECTION };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_head) { NULL, FG_RXQ, FG_BAD_HEAD };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_avail_idx) { NULL, FG_RXQ, FG_BAD_AVAIL_IDX };
FIXTURE_VARIANT_ADD(hostile, vhnet_tx_indirect_next) { NULL, FG_TXQ, FG_BAD_INDIRECT_NEXT };
FIXTURE_VARIANT_ADD(hostile, vhnet_rx_indirect_next) { NULL, FG_RXQ, FG_BAD_INDIRECT_NEXT };

/* What a packed ring can express of them (fg_hostile_post()). */
FIXTURE_VARIANT_ADD(hostile, packed_tx_loop) { NULL, FG_TXQ, FG_BAD_LOOP, true };
FIXTURE_VARIANT_ADD(hostile, packed_tx_nested_ind) { NULL, FG_TXQ, FG_BAD_NESTED_INDIRECT, true };
FIXTURE_VARIANT_ADD(hostile, packed_tx_indirect_len0) { NULL, FG_TXQ, FG_BAD_INDIRECT_LEN0, true };
FIXTURE_VARIANT_ADD(hostile, packed_tx_indirect_len) { NULL, FG_TXQ, FG_BAD_INDIRECT_LEN, true };
FIXTURE_VARIANT_ADD(hostile, packed_tx_indirect_next) { NULL, FG_TXQ, FG_BAD_INDIRECT_NEXT, true };
FIXTURE_VARIANT_ADD(hostile, packed_tx_addr) { NULL, FG_TXQ, FG_BAD_ADDR, true };
FIXTURE_VARIANT_ADD(hostile, packed_tx_addr_wrap) { NULL, FG_TXQ, FG_BAD_ADDR_WRAP, true };
FIXTURE_VARIANT_ADD(hostile, packed_tx_dir) { NULL, FG_TXQ, FG_BAD_DIRECTION, true };
FIXTURE_VARIANT_ADD(hostile, packed_rx_loop) { NULL, FG_RXQ, FG_BAD_LOOP, true };
FIXTURE_VARIANT_ADD(hostile, packed_rx_nested_ind) { NULL, FG_RXQ, FG_BAD_NESTED_INDIRECT, true };
FIXTURE_VARIANT_ADD(hostile, packed_rx_indirect_len0) { NULL, FG_RXQ, FG_BAD_INDIRECT_LEN0, true };
FIXTURE_VARIANT_ADD(hostile, packed_rx_indirect_len) { NULL, FG_RXQ, FG_BAD_INDIRECT_LEN, true };
FIXTURE_VARIANT_ADD(hostile, packed_rx_indirect_next) { NULL, FG_RXQ, FG_BAD_INDIRECT_NEXT, true };
FIXTURE_VARIANT_ADD(hostile, packed_rx_addr) { NULL, FG_RXQ, FG_BAD_ADDR, true };
FIXTURE_VARIANT_ADD(hostile, packed_rx_addr_wrap) { NULL, FG_RXQ, FG_BAD_ADDR_WRAP, true };
FIXTURE_VARIANT_ADD(hostile, packed_rx_dir) { NULL, FG_RXQ, FG_BAD_DIRECTION, true };

FIXTURE_SETUP(hostile)
{
	struct fg_rig_cfg c;

	rig_cfg(&c, variant->dev, FG_BK_TAP, FG_FEATURES_DEFAULT |
		(variant->packed ? FG_F(VIRTIO_F_RING_PACKED) : 0), 256, false,
		rig_id(0));
	ASSERT_EQ(0, fg_rig_up(&self->rig, &c))
		TH_LOG("%s: %s", c.guest.dev_path, self->rig.err);
	ASSERT_EQ(variant->packed, self->rig.g[0].dev.packed);
}

FIXTURE_TEARDOWN(hostile)
{
	fg_rig_down(&self->rig);
}

static void short_run(struct __test_metadata *_metadata, struct fg_rig *rig,
		      bool tx, bool rx, const char *what)
{
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	int ret;

	traffic_cfg(&t, tx ? SHORT_FRAMES : 0, rx ? SHORT_FRAMES : 0, false);
	t.timeout_ms = 5000;
	ret = fg_rig_run(rig, &t, &res);
	if (ret)
		log_result(_metadata, what, &res, rig);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", what, res.err);
	ASSERT_EQ(rx ? SHORT_FRAMES : 0UL, res.rx_recv + res.rx_dropped);
}

/* RX is only looked at when a frame waits: give the device one. */
static void inject_junk(struct __test_metadata *_metadata, struct fg_rig *rig)
{
	struct fg_frame_desc d = {
		.stream = FG_JUNK_STREAM, .len = 128,
	};
	__u8 buf[256];
	size_t len;

	memset(buf, 0, sizeof(struct virtio_net_hdr));
	len = fg_frame_build(buf + sizeof(struct virtio_net_hdr), &d,
			     rig->env.host.guest_mac, rig->env.host.mac);
	ASSERT_EQ((ssize_t)(len + sizeof(struct virtio_net_hdr)),
		  send(rig->env.host.fd, buf,
		       len + sizeof(struct virtio_net_hdr), 0));
}

TEST_F_TIMEOUT(hostile, recover, HOSTILE_TIMEOUT)
{
	struct fg_guest *g = &self->rig.g[0];
	unsigned int q = variant->q, round;
	const char *name = fg_hostile_name(variant->kind);
	int err;

	short_run(_metadata, &self->rig, true, true, "before");
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, fg_hostile_post(g, q, variant->kind))
			TH_LOG("posting %s", name);
		if (q == FG_RXQ)
			inject_junk(_metadata, &self->rig);
		err = fg_vq_wait_err(&g->dev.vq[q], 2000);
		if (is_ref(variant->dev)) {
			TH_LOG("vhost-net %s the err eventfd for: %s",
			       err ? "did not signal" : "signalled", name);
		} else {
			ASSERT_EQ(0, err)
				TH_LOG("no err eventfd for: %s", name);
		}

		/* The other queue is unaffected. */
		short_run(_metadata, &self->rig, q == FG_RXQ, q == FG_TXQ,
			  "other queue after the malformed buffer");

		if (round == 0) {
			ASSERT_EQ(0, fg_guest_reinit_vq(g, q))
				TH_LOG("%s", g->err);
		} else {
			ASSERT_EQ(0, fg_guest_reset_owner(g))
				TH_LOG("%s", g->err);
		}
		short_run(_metadata, &self->rig, true, true,
			  round ? "after RESET_OWNER" : "after ring re-init");
	}
}

/* ---------------------------------------------------------------------
 * Concurrency: 8 devices, each on its own tap, traffic both ways at once.
 */

FIXTURE(concurrent) {
	struct fg_rig rig[NCONC];
	unsigned long frames;
};

FIXTURE_VARIANT(concurrent) {
	const char *dev;
};

FIXTURE_VARIANT_ADD(concurrent, vhost_net) {
	.dev = REF_DEV,
};

FIXTURE_VARIANT_ADD(concurrent, vhnet) {
	.dev = NULL,
};

FIXTURE_SETUP(concurrent)
{
	struct fg_rig_cfg c;
	unsigned int i;

	self->frames = fg_env_frames(DEF_FRAMES);
	for (i = 0; i < NCONC; i++) {
		rig_cfg(&c, variant->dev, FG_BK_TAP, FG_FEATURES_DEFAULT, 256,
			true, rig_id(i));
		if (fg_rig_up(&self->rig[i], &c)) {
			TH_LOG("rig %u: %s", i, self->rig[i].err);
			while (i--)
				fg_rig_down(&self->rig[i]);
			ASSERT_TRUE(false);
		}
	}
}

FIXTURE_TEARDOWN(concurrent)
{
	unsigned int i;

	for (i = 0; i < NCONC; i++)
		fg_rig_down(&self->rig[i]);
}

struct conc_job {
	struct fg_rig *rig;
	struct fg_traffic_cfg cfg;
	struct fg_traffic_result res;
	int ret;
};

static void *conc_thread(void *arg)
{
	struct conc_job *j = arg;

	j->ret = fg_rig_run(j->rig, &j->cfg, &j->res);
	return NULL;
}

TEST_F_TIMEOUT(concurrent, eight_devices, DATA_TIMEOUT)
{
	unsigned long per = self->frames / NCONC;
	struct conc_job job[NCONC];
	pthread_t th[NCONC];
	unsigned int i;

	for (i = 0; i < NCONC; i++) {
		job[i].rig = &self->rig[i];
		traffic_cfg(&job[i].cfg, per, per, true);
		job[i].cfg.plan.seed = i + 1;
		job[i].cfg.timeout_ms = 60000;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, conc_thread, &job[i]));
	}
	for (i = 0; i < NCONC; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NCONC; i++) {
		char what[16];

		snprintf(what, sizeof(what), "device %u", i);
		log_result(_metadata, what, &job[i].res, job[i].rig);
		EXPECT_EQ(0, job[i].ret)
			TH_LOG("device %u: %s", i, job[i].res.err);
		EXPECT_EQ(per, job[i].res.tx_recv);
		EXPECT_EQ(per, job[i].res.rx_recv + job[i].res.rx_dropped);
	}
}

/* ---------------------------------------------------------------------
 * Observability. Tracepoints: in a tracefs instance of its own, filtered
 * to this process's devices, the events add up to what debugfs counted.
 * Counters: VHNET_GET_STATS and the device's fdinfo say what the fake
 * guest moved, and only the owner may ask by ioctl.
 */

#define TRACEFS		"/sys/kernel/tracing"
#define TRACE_FRAMES	3000UL

FIXTURE(observe) {
	struct fg_rig rig;
	char inst[96];
};

struct trace_sums {
	long long kicks[2], signals[2], frames[2], bytes[2];
	long long drops[2], broken[2], other;
	int drop_err;
	char why[64];
};

static int trace_write(const char *inst, const char *name, const char *val)
{
	char path[256];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", inst, name);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
	close(fd);
	return ret;
}

/* Sum up the instance's vhnet events (their text form) per queue. */
static int trace_collect(const char *inst, struct trace_sums *s)
{
	char path[256], line[512], name[32], *p, *why;
	long long a, b;
	unsigned int q;
	FILE *f;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "%s/trace", inst);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, ": vhnet_");
		if (!p || sscanf(p + 2, "%31[a-z_]: owner=%*d vq=%u", name, &q) != 2 ||
		    q > 1)
			continue;
		line[strcspn(line, "\n")] = '\0';
		why = strstr(p, " why=");
		if (!strcmp(name, "vhnet_kick")) {
			s->kicks[q]++;
		} else if (!strcmp(name, "vhnet_signal")) {
			s->signals[q]++;
		} else if (!strcmp(name, "vhnet_tx_batch") ||
			   !strcmp(name, "vhnet_rx_batch")) {
			p = strstr(p, "frames=");
			if (!p || sscanf(p, "frames=%lld bytes=%lld", &a, &b) != 2)
				continue;
			s->frames[q] += a;
			s->bytes[q] += b;
		} else if (!strcmp(name, "vhnet_drop")) {
			s->drops[q]++;
			p = strstr(p, "err=");
			if (p)
				s->drop_err = atoi(p + 4);
		} else if (!strcmp(name, "vhnet_vq_broken")) {
			s->broken[q]++;
			if (why)
				snprintf(s->why, sizeof(s->why), "%s", why + 5);
		} else {
			s->other++;
		}
	}
	fclose(f);
	return 0;
}

FIXTURE_SETUP(observe)
{
	struct fg_rig_cfg c;
	char filter[64];

	if (access(TRACEFS "/instances", F_OK))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	snprintf(self->inst, sizeof(self->inst), TRACEFS "/instances/vhnet-%d",
		 getpid());
	ASSERT_EQ(0, mkdir(self->inst, 0700))
		TH_LOG("%s: %s", self->inst, strerror(errno));
	ASSERT_EQ(0, trace_write(self->inst, "buffer_size_kb", "8192"));
	snprintf(filter, sizeof(filter), "owner == %d", getpid());
	ASSERT_EQ(0, trace_write(self->inst, "events/vhnet/filter", filter))
		TH_LOG("no vhnet events in %s", self->inst);
	ASSERT_EQ(0, trace_write(self->inst, "events/vhnet/enable", "1"));
	rig_cfg(&c, NULL, FG_BK_TAP, FG_FEATURES_DEFAULT, 256, false,
		rig_id(0));
	ASSERT_EQ(0, fg_rig_up(&self->rig, &c)) TH_LOG("%s", self->rig.err);
}

FIXTURE_TEARDOWN(observe)
{
	fg_rig_down(&self->rig);
	trace_write(self->inst, "events/vhnet/enable", "0");
	rmdir(self->inst);
}

TEST_F_TIMEOUT(observe, trace_events_add_up_to_counters, DATA_TIMEOUT)
{
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct trace_sums s;
	unsigned int q;
	const char *qn[2] = { "rx", "tx" };

	traffic_cfg(&t, TRACE_FRAMES, TRACE_FRAMES, false);
	ASSERT_EQ(0, fg_rig_run(&self->rig, &t, &res)) TH_LOG("%s", res.err);
	ASSERT_EQ(TRACE_FRAMES, res.tx_recv);
	/* The worker's last pass emits its batch event after the counts. */
	fg_sleep_ms(300);
	ASSERT_EQ(0, trace_write(self->inst, "tracing_on", "0"));
	ASSERT_EQ(0, trace_collect(self->inst, &s));
	for (q = 0; q < 2; q++) {
		TH_LOG("%s: kicks %lld signals %lld frames %lld bytes %lld drops %lld broken %lld",
		       qn[q], s.kicks[q], s.signals[q], s.frames[q],
		       s.bytes[q], s.drops[q], s.broken[q]);
		EXPECT_EQ(vhnet_counter(qn[q], "kicks"), s.kicks[q]);
		EXPECT_EQ(vhnet_counter(qn[q], "signals"), s.signals[q]);
		EXPECT_EQ(vhnet_counter(qn[q], "packets"), s.frames[q]);
		EXPECT_EQ(vhnet_counter(qn[q], "bytes"), s.bytes[q]);
		EXPECT_EQ(0, s.drops[q] + s.broken[q]);
		EXPECT_LT(0, s.signals[q]);
	}
	EXPECT_LT(0, s.kicks[FG_TXQ]);
	EXPECT_EQ((long long)TRACE_FRAMES, s.frames[FG_TXQ]);
	/* The guest may also get the host's own frames (IPv6 ND and such). */
	EXPECT_LE((long long)res.rx_recv, s.frames[FG_RXQ]);
	EXPECT_EQ(0, s.other);
}

TEST_F_TIMEOUT(observe, trace_drop_and_broken_say_why, HOSTILE_TIMEOUT)
{
	struct fg_guest *g = &self->rig.g[0];
	__u8 hdr[32] = { 0 }, frame[4] = { 0 };
	struct trace_sums s;
	int i;

	/* Shorter than an Ethernet header: the tap refuses it. */
	ASSERT_EQ(0, fg_guest_tx(g, hdr, frame, sizeof(frame)));
	fg_guest_tx_kick(g);
	for (i = 0; i < 200 && vhnet_counter("tx", "errors") < 1; i++)
		fg_sleep_ms(10);
	ASSERT_EQ(1, vhnet_counter("tx", "errors"));
	ASSERT_EQ(0, fg_hostile_post(g, FG_TXQ, FG_BAD_NEXT));
	ASSERT_EQ(0, fg_vq_wait_err(&g->dev.vq[FG_TXQ], 2000));
	ASSERT_EQ(0, trace_write(self->inst, "tracing_on", "0"));
	ASSERT_EQ(0, trace_collect(self->inst, &s));
	TH_LOG("tx: drops %lld (err %d), broken %lld (%s)", s.drops[FG_TXQ],
	       s.drop_err, s.broken[FG_TXQ], s.why);
	EXPECT_EQ(1, s.drops[FG_TXQ]);
	EXPECT_EQ(-EINVAL, s.drop_err);
	EXPECT_EQ(1, s.broken[FG_TXQ]);
	EXPECT_STREQ("next index out of range", s.why);
	EXPECT_EQ(0, s.drops[FG_RXQ] + s.broken[FG_RXQ]);
}

/* Value of @key in the fdinfo of this process's fd @fd; -1 if none. */
static long long fdinfo_value(int fd, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtoll(line + klen + 1, NULL, 0);
			break;
		}
	}
	fclose(f);
	return v;
}

/*
 * vhnetstat --json (built beside this test) lists this process's device
 * fd @fd with the tap's name and exactly the counters of @st.
 */
static void check_vhnetstat(struct __test_metadata *_metadata,
			    const char *tap, int fd, const struct vhnet_stats *st)
{
	char exe[PATH_MAX], cmd[PATH_MAX + 32], out[16384], key[64], *dev, *p;
	unsigned long long packets, bytes, kicks;
	const char *qn[VHNET_QUEUES] = { "rx", "tx" };
	ssize_t n, len = 0;
	unsigned int q;
	FILE *f;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = '\0';
	snprintf(cmd, sizeof(cmd), "%s/vhnetstat --json", dirname(exe));
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f) TH_LOG("%s: %s", cmd, strerror(errno));
	while (len < (ssize_t)sizeof(out) - 1 &&
	       (n = fread(out + len, 1, sizeof(out) - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	ASSERT_EQ(0, pclose(f)) TH_LOG("%s failed", cmd);
	snprintf(key, sizeof(key), "\"pid\": %d, \"fd\": %d,", getpid(), fd);
	dev = strstr(out, key);
	ASSERT_NE(NULL, dev) TH_LOG("not in vhnetstat's list: %s\n%s", key, out);
	for (q = 0; q < VHNET_QUEUES; q++) {
		snprintf(key, sizeof(key), "{\"queue\": \"%s\"", qn[q]);
		p = strstr(dev, key);
		ASSERT_NE(NULL, p);
		snprintf(key, sizeof(key), "\"ifname\": \"%s\"", tap);
		EXPECT_NE(NULL, strstr(p, key)) TH_LOG("%s: no %s", qn[q], key);
		p = strstr(p, "\"packets\": ");
		ASSERT_NE(NULL, p);
		n = sscanf(p, "\"packets\": %llu, \"bytes\": %llu", &packets,
			   &bytes);
		ASSERT_EQ(2, n) TH_LOG("%s", p);
		p = strstr(p, "\"kicks\": ");
		ASSERT_NE(NULL, p);
		n = sscanf(p, "\"kicks\": %llu", &kicks);
		ASSERT_EQ(1, n);
		EXPECT_EQ(st->queue[q].packets, packets);
		EXPECT_EQ(st->queue[q].bytes, bytes);
		EXPECT_EQ(st->queue[q].kicks, kicks);
	}
}

TEST_F_TIMEOUT(observe, stats_ioctl_and_fdinfo, DATA_TIMEOUT)
{
	const char *qn[VHNET_QUEUES] = { "rx", "tx" };
	struct fg_guest *g = &self->rig.g[0];
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct vhnet_stats st;
	struct stat tap;
	char key[64];
	unsigned int q;
	int status;
	pid_t pid;

	traffic_cfg(&t, TRACE_FRAMES, TRACE_FRAMES, false);
	ASSERT_EQ(0, fg_rig_run(&self->rig, &t, &res)) TH_LOG("%s", res.err);
	fg_sleep_ms(300);
	ASSERT_EQ(0, ioctl(g->dev.fd, VHNET_GET_STATS, &st))
		TH_LOG("VHNET_GET_STATS: %s", strerror(errno));
	ASSERT_EQ(0, fstat(self->rig.env.fd[0], &tap));
	EXPECT_EQ(getpid(), st.owner_pid);
	EXPECT_EQ(VHNET_QUEUES, st.nqueues);
	EXPECT_EQ(g->dev.features, st.features);
	EXPECT_EQ((__u64)getpid(), (__u64)fdinfo_value(g->dev.fd, "vhnet-owner"));
	EXPECT_EQ(st.features, (__u64)fdinfo_value(g->dev.fd, "vhnet-features"));
	/* The fake guest sent exactly these; RX may also carry the host's. */
	EXPECT_EQ(TRACE_FRAMES, st.queue[FG_TXQ].packets);
	EXPECT_LE(res.rx_recv, st.queue[FG_RXQ].packets);
	for (q = 0; q < VHNET_QUEUES; q++) {
		const struct vhnet_queue_stats *s = &st.queue[q];

		TH_LOG("%s: packets %llu bytes %llu errors %llu kicks %llu",
		       qn[q], s->packets, s->bytes, s->errors, s->kicks);
		TH_LOG("%s: signals %llu batches %llu broken %llu", qn[q],
		       s->signals, s->batches, s->broken);
		EXPECT_EQ(VHNET_BACKEND_TAP, s->backend);
		EXPECT_EQ((__u64)tap.st_ino, s->backend_ino);
		EXPECT_EQ(vhnet_counter(qn[q], "packets"), (long long)s->packets);
		EXPECT_EQ(vhnet_counter(qn[q], "bytes"), (long long)s->bytes);
		EXPECT_EQ(vhnet_counter(qn[q], "kicks"), (long long)s->kicks);
		EXPECT_EQ(vhnet_counter(qn[q], "signals"), (long long)s->signals);
		EXPECT_EQ(vhnet_counter(qn[q], "batches"), (long long)s->batches);
		EXPECT_EQ(0ULL, s->errors + s->broken);
		snprintf(key, sizeof(key), "vhnet-%s-packets", qn[q]);
		EXPECT_EQ((long long)s->packets, fdinfo_value(g->dev.fd, key));
		snprintf(key, sizeof(key), "vhnet-%s-bytes", qn[q]);
		EXPECT_EQ((long long)s->bytes, fdinfo_value(g->dev.fd, key));
		snprintf(key, sizeof(key), "vhnet-%s-backend-ino", qn[q]);
		EXPECT_EQ((long long)tap.st_ino, fdinfo_value(g->dev.fd, key));
	}
	EXPECT_LT(0ULL, st.queue[FG_TXQ].batches);
	EXPECT_LT(0ULL, st.queue[FG_RXQ].batches);

	check_vhnetstat(_metadata, self->rig.env.ifname, g->dev.fd, &st);

	/* Another process (another mm) holding the fd gets EPERM. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(ioctl(g->dev.fd, VHNET_GET_STATS, &st) == -1 &&
		      errno == EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("a non-owner's VHNET_GET_STATS did not fail with EPERM");
}

TEST_HARNESS_MAIN
