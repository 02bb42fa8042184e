/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest, for the benchmark: one measurement. The same lean guest
 * driver (prefilled TX buffers, no byte checks, interrupt-driven like a
 * Linux guest) and the same tap, served by vhnet, by the in-tree
 * vhost-net, by a userspace device loop (bench_dev.h), or by nothing at
 * all (the limits: a plain write()/read() loop on the tap, pktgen into an
 * unread tap, memcpy).
 *
 * Time-bounded (warmup, then seconds) or count-bounded (frames > 0: move
 * exactly that many and check that they all arrived, for smoke tests).
 */
#ifndef FG_BENCH_RUN_H
#define FG_BENCH_RUN_H

#include <stdbool.h>
#include <linux/types.h>

enum fg_bench_impl {
	FG_BENCH_VHNET,		/* /dev/vhnet */
	FG_BENCH_VHOST,		/* in-tree /dev/vhost-net */
	FG_BENCH_USER,		/* userspace device loop, read()/writev() */
	FG_BENCH_LIMIT,		/* no virtqueues at all */
	FG_BENCH_VHNET_PACKED,	/* /dev/vhnet, packed virtqueues */
	FG_BENCH_VHNET_IN_ORDER,	/* /dev/vhnet, VIRTIO_F_IN_ORDER */
	FG_BENCH_NIMPL
};

enum fg_bench_test {
	FG_BENCH_TX,		/* guest -> tap, host stack drops the frames */
	FG_BENCH_RX,		/* pktgen -> tap -> guest */
	FG_BENCH_PING,		/* guest ICMP echo, host kernel replies */
	FG_BENCH_MEMCPY,	/* single-thread memcpy (FG_BENCH_LIMIT only) */
	FG_BENCH_NTEST
};

struct fg_bench_cfg {
	enum fg_bench_impl impl;
	enum fg_bench_test test;
	unsigned int len;	/* Ethernet frame bytes, no FCS */
	bool gso;		/* TX: TCP frames with a GSO header */
	double warmup, seconds;
	unsigned long frames;	/* > 0: count-bounded */
	unsigned int ring_num;
	unsigned int rx_buf_len;	/* mergeable RX buffer size */
	const char *vhnet_dev, *vhost_dev;
	unsigned int id;	/* tap "vhb<id>" */
	int guest_cpu, dev_cpu, src_cpu;	/* -1: not pinned */
	int stall_ms;		/* longest time without progress */
	bool busy_poll;		/* PING: spin on the used ring, no calls */
	unsigned int busyloop_us;	/* device busy polling, 0: off */
	bool sock_src;		/* RX: an fg_sender, not pktgen (time-bounded) */
	/* If set, called once the device is set up, before the test. */
	void (*ready)(void *arg);
	void *ready_arg;
};

struct fg_bench_result {
	double seconds;		/* measured interval */
	unsigned long frames;	/* frames (round trips for PING) in it */
	unsigned long long bytes;	/* Ethernet frame bytes */
	double pps, gbps;
	double p50_us, p99_us, min_us, max_us;	/* PING */
	unsigned long long offered;	/* RX: frames the source offered */
	unsigned long long dropped;	/* RX: of those, dropped by the tap */
	unsigned long kicks, calls;	/* guest-side notifications */
	unsigned long foreign;	/* received frames of another size */
	int worker;		/* device thread id, 0 if none */
	double dev_ns;		/* device thread CPU ns per frame, -1: none */
	char note[256];		/* device-side counters, for humans */
	char err[256];
};

/* 64-byte frames, 256-entry rings, 0.5 s warmup + 2 s, CPUs picked. */
void fg_bench_defaults(struct fg_bench_cfg *c);
/* Where the guest, the device and the source run for @c->test. */
void fg_bench_pick_cpus(struct fg_bench_cfg *c);
/* One measurement. 0, or -1 with the reason in @r->err. */
int fg_bench_run(const struct fg_bench_cfg *c, struct fg_bench_result *r);

/* Many devices at once (bench_scale.c). */
struct fg_bench_scale {
	struct fg_bench_result sum;	/* sums; seconds: the longest run */
	double min_pps, max_pps;	/* per device */
	double mem_kb;		/* kernel memory per device, -1 if unknown */
};

/*
 * @n devices at once (@c->test TX or RX, time-bounded, not LIMIT), each
 * with its own tap and fake guest in a process of its own; RX from an
 * fg_sender per tap. Kernel memory (settled Slab + VmallocUsed +
 * PageTables, the processes' own included) is measured once all are set
 * up; then all start together. 0, or -1 with the reason in @s->sum.err.
 */
int fg_bench_scale(const struct fg_bench_cfg *c, unsigned int n,
		   struct fg_bench_scale *s);

const char *fg_bench_impl_name(enum fg_bench_impl i);
const char *fg_bench_test_name(enum fg_bench_test t);
/* By name; -1 if unknown. */
int fg_bench_impl_parse(const char *s);
int fg_bench_test_parse(const char *s);

#endif /* FG_BENCH_RUN_H */
