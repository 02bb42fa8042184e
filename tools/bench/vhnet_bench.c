// SPDX-License-Identifier: GPL-2.0
/*
 * vhnet_bench: one benchmark measurement, printed as a CSV line.
 *
 *   vhnet_bench [-H] -i IMPL -t TEST [-s SIZE] [-w WARMUP] [-d SECONDS]
 *               [-n FRAMES] [-r RING] [-b RXBUF] [-D DEV] [-p] [-P US]
 *
 *   IMPL   vhnet | vhost-net | userspace | limit | vhnet-packed |
 *          vhnet-in-order (vhnet, the fake guest driving packed rings, or
 *          split ones with VIRTIO_F_IN_ORDER)
 *   TEST   tx | rx | ping | memcpy (memcpy: IMPL limit)
 *   SIZE   Ethernet frame bytes (64, 1514, ...) or "gso": 65535-byte
 *          frames, TCP with a GSO header on TX (pktgen sends them as
 *          plain 64 KB frames on RX)
 *   -n     move exactly FRAMES and fail unless all arrived (smoke mode)
 *   -p     PING: the guest spins on its used ring instead of sleeping
 *   -P     the device busy-polls up to BUSYLOOP_US after work
 *          (VHOST_SET_VRING_BUSYLOOP_TIMEOUT; vhnet and vhost-net)
 *   -H     print the CSV header first
 *   -D     vhnet's device node (default $VHNET_DEV or /dev/vhnet)
 *   -N     DEVICES at once (1-99; TX or RX, time-bounded, not limit),
 *          each with its own tap and fake guest in a process of its own;
 *          RX from a sender thread per tap (pktgen's threads are shared).
 *          Prints the sums, min_pps/max_pps per device and mem_kb: kernel
 *          memory (settled Slab + VmallocUsed + PageTables) per device,
 *          the processes' own included, measured once all are set up
 *
 * dev_ns: CPU time of the device's thread (vhnet-PID, vhost-PID, the
 * userspace loop's thread) per frame moved (per round trip for PING) in
 * the measured interval; empty for the limits.
 *
 * Exit status 0, or 1 with the reason on stderr. Must run as root, in a
 * VM where the modules can be loaded (see tools/bench/run-guest.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_run.h"

#define GSO_LEN		65535
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char * const csv_cols[] = {
	"impl", "test", "len", "gso", "seconds", "frames", "bytes", "pps",
	"gbps", "p50_us", "p99_us", "min_us", "max_us", "offered", "dropped",
	"kicks", "calls", "foreign", "worker", "dev_ns", "devices",
	"min_pps", "max_pps", "mem_kb",
};

static void bad_args(void)
{
	fprintf(stderr,
		"usage: vhnet_bench [-H] -i vhnet|vhost-net|userspace|limit|vhnet-packed|vhnet-in-order\n"
		"         -t tx|rx|ping|memcpy [-s 64|1514|gso] [-w WARMUP]\n"
		"         [-d SECONDS] [-n FRAMES] [-r RING] [-b RXBUF] [-D DEV] [-p]\n"
		"         [-P BUSYLOOP_US] [-N DEVICES]\n");
	exit(2);
}

/* -N: the sums over the devices, min/max pps per device, memory. */
static int scale_print(struct fg_bench_cfg *c, unsigned int n)
{
	struct fg_bench_scale sc;
	struct fg_bench_result *r = &sc.sum;

	if (fg_bench_scale(c, n, &sc)) {
		fprintf(stderr, "vhnet_bench: %s %s %u x%u: %s\n",
			fg_bench_impl_name(c->impl), fg_bench_test_name(c->test),
			c->len, n, r->err);
		return 1;
	}
	printf("%s,%s,%u,%d,%.4f,%lu,%llu,%.1f,%.4f,0,0,0,0,%llu,%llu,%lu,%lu,0,0,",
	       fg_bench_impl_name(c->impl), fg_bench_test_name(c->test), c->len,
	       c->gso, r->seconds, r->frames, r->bytes, r->pps, r->gbps,
	       r->offered, r->dropped, r->kicks, r->calls);
	if (r->dev_ns >= 0)
		printf("%.0f", r->dev_ns);
	printf(",%u,%.1f,%.1f,", n, sc.min_pps, sc.max_pps);
	if (sc.mem_kb >= 0)
		printf("%.1f", sc.mem_kb);
	printf("\n");
	return 0;
}

static double num(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || v < 0)
		bad_args();
	return v;
}

int main(int argc, char **argv)
{
	struct fg_bench_result r;
	struct fg_bench_cfg c;
	const char *dev = getenv("VHNET_DEV");
	int opt, v, devices = 0;

	fg_bench_defaults(&c);
	if (dev && *dev)
		c.vhnet_dev = dev;
	while ((opt = getopt(argc, argv, "Hpi:t:s:w:d:n:r:b:D:P:N:")) != -1) {
		switch (opt) {
		case 'H':
			for (v = 0; v < (int)ARRAY_SIZE(csv_cols); v++)
				printf("%s%s", v ? "," : "", csv_cols[v]);
			printf("\n");
			break;
		case 'i':
			v = fg_bench_impl_parse(optarg);
			if (v < 0)
				bad_args();
			c.impl = v;
			break;
		case 't':
			v = fg_bench_test_parse(optarg);
			if (v < 0)
				bad_args();
			c.test = v;
			break;
		case 's':
			if (!strcmp(optarg, "gso")) {
				c.len = GSO_LEN;
				c.gso = true;
			} else {
				c.len = num(optarg);
			}
			break;
		case 'w':
			c.warmup = num(optarg);
			break;
		case 'd':
			c.seconds = num(optarg);
			break;
		case 'n':
			c.frames = num(optarg);
			break;
		case 'r':
			c.ring_num = num(optarg);
			break;
		case 'b':
			c.rx_buf_len = num(optarg);
			break;
		case 'p':
			c.busy_poll = true;
			break;
		case 'P':
			c.busyloop_us = num(optarg);
			break;
		case 'D':
			c.vhnet_dev = optarg;
			break;
		case 'N':
			devices = num(optarg);
			if (devices < 1)
				bad_args();
			break;
		default:
			bad_args();
		}
	}
	if (optind != argc)
		bad_args();
	/* Only TX frames carry a GSO header; pktgen cannot make one. */
	if (c.test != FG_BENCH_TX)
		c.gso = false;
	fg_bench_pick_cpus(&c);
	fflush(stdout);
	if (devices) {
		/* pktgen's one thread per CPU cannot feed many taps. */
		c.sock_src = c.test == FG_BENCH_RX;
		return scale_print(&c, devices);
	}

	if (fg_bench_run(&c, &r)) {
		fprintf(stderr, "vhnet_bench: %s %s %u: %s\n",
			fg_bench_impl_name(c.impl), fg_bench_test_name(c.test),
			c.len, r.err);
		return 1;
	}
	if (r.note[0])
		fprintf(stderr, "vhnet_bench: note: %s\n", r.note);
	printf("%s,%s,%u,%d,%.4f,%lu,%llu,%.1f,%.4f,%.2f,%.2f,%.2f,%.2f,%llu,%llu,%lu,%lu,%lu,%d,",
	       fg_bench_impl_name(c.impl), fg_bench_test_name(c.test), c.len,
	       c.gso, r.seconds, r.frames, r.bytes, r.pps, r.gbps, r.p50_us,
	       r.p99_us, r.min_us, r.max_us, r.offered, r.dropped, r.kicks,
	       r.calls, r.foreign, r.worker);
	/* Empty where no device thread exists (the limits). */
	if (r.dev_ns >= 0)
		printf("%.0f", r.dev_ns);
	printf(",1,%.1f,%.1f,\n", r.pps, r.pps);
	return 0;
}
