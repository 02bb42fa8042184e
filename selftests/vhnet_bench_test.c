// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke test of the benchmark (make bench, tools/bench/vhnet_bench): every
 * implementation it compares -- vhnet (split rings, packed rings, split
 * rings in order), the in-tree vhost-net, the userspace device loop and
 * the bare tap ("limit") -- runs every path of the benchmark in its
 * count-bounded mode and must move exactly the
 * frames it was given: TX frames counted by the tap, pktgen's RX frames
 * by the guest, every echo request answered. The scale mode (many
 * devices at once) must have every device move frames. No timing is
 * asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "bench_run.h"

/* The harness's own functions trip these with -Wextra. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wclobbered"

#define SMOKE_TIMEOUT	120
#define GSO_LEN		65535
/* The bare tap's queue holds 500 frames; bench_run.c reads back 256. */
#define LIMIT_RX_MAX	256

FIXTURE(bench) {
};

FIXTURE_VARIANT(bench) {
	enum fg_bench_impl impl;
	enum fg_bench_test test;
	unsigned int len;
	bool gso;
	unsigned long frames;
};

/* impl, test, frame length, GSO, frames */
FIXTURE_VARIANT_ADD(bench, vhnet_tx64) { FG_BENCH_VHNET, FG_BENCH_TX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, vhnet_rx64) { FG_BENCH_VHNET, FG_BENCH_RX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, vhnet_tx1514) { FG_BENCH_VHNET, FG_BENCH_TX, 1514, false, 1000 };
FIXTURE_VARIANT_ADD(bench, vhnet_rx1514) { FG_BENCH_VHNET, FG_BENCH_RX, 1514, false, 1000 };
FIXTURE_VARIANT_ADD(bench, vhnet_txgso) { FG_BENCH_VHNET, FG_BENCH_TX, GSO_LEN, true, 200 };
FIXTURE_VARIANT_ADD(bench, vhnet_rxgso) { FG_BENCH_VHNET, FG_BENCH_RX, GSO_LEN, false, 200 };
FIXTURE_VARIANT_ADD(bench, vhnet_ping) { FG_BENCH_VHNET, FG_BENCH_PING, 64, false, 300 };
/* vhnet's ring options: packed rings, split rings in order. */
#define PACKED		FG_BENCH_VHNET_PACKED
#define IN_ORDER	FG_BENCH_VHNET_IN_ORDER
FIXTURE_VARIANT_ADD(bench, vhnet_packed_tx64) { PACKED, FG_BENCH_TX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, vhnet_packed_rx64) { PACKED, FG_BENCH_RX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, vhnet_packed_txgso) { PACKED, FG_BENCH_TX, GSO_LEN, true, 200 };
FIXTURE_VARIANT_ADD(bench, vhnet_packed_rxgso) { PACKED, FG_BENCH_RX, GSO_LEN, false, 200 };
FIXTURE_VARIANT_ADD(bench, vhnet_packed_ping) { PACKED, FG_BENCH_PING, 64, false, 300 };
FIXTURE_VARIANT_ADD(bench, vhnet_in_order_tx64) { IN_ORDER, FG_BENCH_TX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, vhnet_in_order_rx64) { IN_ORDER, FG_BENCH_RX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, vhnet_in_order_ping) { IN_ORDER, FG_BENCH_PING, 64, false, 300 };
FIXTURE_VARIANT_ADD(bench, vhost_net_tx64) { FG_BENCH_VHOST, FG_BENCH_TX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, vhost_net_rx64) { FG_BENCH_VHOST, FG_BENCH_RX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, vhost_net_tx1514) { FG_BENCH_VHOST, FG_BENCH_TX, 1514, false, 1000 };
FIXTURE_VARIANT_ADD(bench, vhost_net_rx1514) { FG_BENCH_VHOST, FG_BENCH_RX, 1514, false, 1000 };
FIXTURE_VARIANT_ADD(bench, vhost_net_txgso) { FG_BENCH_VHOST, FG_BENCH_TX, GSO_LEN, true, 200 };
FIXTURE_VARIANT_ADD(bench, vhost_net_rxgso) { FG_BENCH_VHOST, FG_BENCH_RX, GSO_LEN, false, 200 };
FIXTURE_VARIANT_ADD(bench, vhost_net_ping) { FG_BENCH_VHOST, FG_BENCH_PING, 64, false, 300 };
FIXTURE_VARIANT_ADD(bench, userspace_tx64) { FG_BENCH_USER, FG_BENCH_TX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, userspace_rx64) { FG_BENCH_USER, FG_BENCH_RX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, userspace_tx1514) { FG_BENCH_USER, FG_BENCH_TX, 1514, false, 1000 };
FIXTURE_VARIANT_ADD(bench, userspace_rx1514) { FG_BENCH_USER, FG_BENCH_RX, 1514, false, 1000 };
FIXTURE_VARIANT_ADD(bench, userspace_txgso) { FG_BENCH_USER, FG_BENCH_TX, GSO_LEN, true, 200 };
FIXTURE_VARIANT_ADD(bench, userspace_rxgso) { FG_BENCH_USER, FG_BENCH_RX, GSO_LEN, false, 200 };
FIXTURE_VARIANT_ADD(bench, userspace_ping) { FG_BENCH_USER, FG_BENCH_PING, 64, false, 300 };
FIXTURE_VARIANT_ADD(bench, limit_tx64) { FG_BENCH_LIMIT, FG_BENCH_TX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, limit_rx64) { FG_BENCH_LIMIT, FG_BENCH_RX, 64, false, 3000 };
FIXTURE_VARIANT_ADD(bench, limit_tx1514) { FG_BENCH_LIMIT, FG_BENCH_TX, 1514, false, 1000 };
FIXTURE_VARIANT_ADD(bench, limit_rx1514) { FG_BENCH_LIMIT, FG_BENCH_RX, 1514, false, 1000 };
FIXTURE_VARIANT_ADD(bench, limit_txgso) { FG_BENCH_LIMIT, FG_BENCH_TX, GSO_LEN, true, 200 };
FIXTURE_VARIANT_ADD(bench, limit_rxgso) { FG_BENCH_LIMIT, FG_BENCH_RX, GSO_LEN, false, 200 };
FIXTURE_VARIANT_ADD(bench, limit_ping) { FG_BENCH_LIMIT, FG_BENCH_PING, 64, false, 300 };
FIXTURE_VARIANT_ADD(bench, limit_memcpy) { FG_BENCH_LIMIT, FG_BENCH_MEMCPY, 65536, false, 1 };

FIXTURE_SETUP(bench)
{
}

FIXTURE_TEARDOWN(bench)
{
}

TEST_F_TIMEOUT(bench, run, SMOKE_TIMEOUT)
{
	const char *dev = getenv("VHNET_DEV");
	unsigned long want = variant->frames;
	struct fg_bench_result r;
	struct fg_bench_cfg c;

	fg_bench_defaults(&c);
	c.impl = variant->impl;
	c.test = variant->test;
	c.len = variant->len;
	c.gso = variant->gso;
	c.frames = variant->frames;
	c.busy_poll = true;
	if (dev && *dev)
		c.vhnet_dev = dev;
	fg_bench_pick_cpus(&c);
	if (c.impl == FG_BENCH_LIMIT && c.test == FG_BENCH_RX &&
	    want > LIMIT_RX_MAX)
		want = LIMIT_RX_MAX;

	ASSERT_EQ(0, fg_bench_run(&c, &r)) {
		TH_LOG("%s %s %u: %s", fg_bench_impl_name(c.impl),
		       fg_bench_test_name(c.test), c.len, r.err);
	}
	TH_LOG("%s %s %u: %lu frames, %llu bytes in %.2f s",
	       fg_bench_impl_name(c.impl), fg_bench_test_name(c.test), c.len,
	       r.frames, r.bytes, r.seconds);
	TH_LOG("offered %llu, dropped %llu, foreign %lu", r.offered,
	       r.dropped, r.foreign);
	if (r.note[0])
		TH_LOG("%s", r.note);
	if (c.test == FG_BENCH_MEMCPY) {
		ASSERT_GT(r.bytes, 0);
		return;
	}
	ASSERT_EQ(want, r.frames);
	ASSERT_EQ(0, r.foreign);
	/* CPU per frame: of the device's thread; the limits have none. */
	TH_LOG("device thread %d: %.0f ns per frame", r.worker, r.dev_ns);
	ASSERT_TRUE(c.impl == FG_BENCH_LIMIT ? r.dev_ns < 0 : r.dev_ns > 0);
}

/* impl, test: four devices at once, each in a process of its own */
FIXTURE(scale) {
};

FIXTURE_VARIANT(scale) {
	enum fg_bench_impl impl;
	enum fg_bench_test test;
};

FIXTURE_VARIANT_ADD(scale, vhnet_tx) { FG_BENCH_VHNET, FG_BENCH_TX };
FIXTURE_VARIANT_ADD(scale, vhnet_rx) { FG_BENCH_VHNET, FG_BENCH_RX };
FIXTURE_VARIANT_ADD(scale, vhost_net_tx) { FG_BENCH_VHOST, FG_BENCH_TX };
FIXTURE_VARIANT_ADD(scale, vhost_net_rx) { FG_BENCH_VHOST, FG_BENCH_RX };

FIXTURE_SETUP(scale)
{
}

FIXTURE_TEARDOWN(scale)
{
}

/* Every device moves frames, and the memory per device is measured. */
TEST_F_TIMEOUT(scale, four, SMOKE_TIMEOUT)
{
	const char *dev = getenv("VHNET_DEV");
	struct fg_bench_scale sc;
	struct fg_bench_cfg c;

	fg_bench_defaults(&c);
	c.impl = variant->impl;
	c.test = variant->test;
	c.warmup = 0.2;
	c.seconds = 0.5;
	c.sock_src = c.test == FG_BENCH_RX;
	if (dev && *dev)
		c.vhnet_dev = dev;
	fg_bench_pick_cpus(&c);
	ASSERT_EQ(0, fg_bench_scale(&c, 4, &sc)) {
		TH_LOG("%s", sc.sum.err);
	}
	TH_LOG("%s %s x4: %lu frames, %.0f pps (%.0f-%.0f per device)",
	       fg_bench_impl_name(c.impl), fg_bench_test_name(c.test),
	       sc.sum.frames, sc.sum.pps, sc.min_pps, sc.max_pps);
	TH_LOG("%.0f ns per frame, %.1f kB per device", sc.sum.dev_ns,
	       sc.mem_kb);
	ASSERT_GT(sc.min_pps, 0);
	ASSERT_GE(sc.max_pps, sc.min_pps);
	ASSERT_GT(sc.sum.dev_ns, 0);
	ASSERT_NE(-1, sc.mem_kb);
	ASSERT_TRUE(c.test != FG_BENCH_RX || sc.sum.offered > 0);
	/* Not a scale run: a count, the bare tap. */
	c.frames = 10;
	ASSERT_EQ(-1, fg_bench_scale(&c, 2, &sc));
	c.frames = 0;
	c.impl = FG_BENCH_LIMIT;
	ASSERT_EQ(-1, fg_bench_scale(&c, 2, &sc));
}

TEST_HARNESS_MAIN
