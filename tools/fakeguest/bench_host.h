/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest, for the benchmark: host-side helpers. The kernel's packet
 * generator (pktgen) as the RX source, ICMP echo frames for the ping-pong
 * test (the host kernel is the responder), tap addresses, finding and
 * pinning the device's worker thread, and a memcpy bandwidth probe.
 */
#ifndef FG_BENCH_HOST_H
#define FG_BENCH_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <net/if.h>
#include <linux/types.h>

/* RFC 2544 benchmarking addresses; the frames never leave the VM. */
#define FG_BENCH_HOST_IP	0xc6120001	/* 198.18.0.1, the tap */
#define FG_BENCH_GUEST_IP	0xc6120002	/* 198.18.0.2, the guest */
#define FG_BENCH_PREFIX		24

struct fg_pktgen {
	char dev[IFNAMSIZ];
	char dev_path[64];	/* /proc/net/pktgen/<dev> */
	char thr_path[64];	/* /proc/net/pktgen/kpktgend_<cpu> */
	pthread_t runner;	/* blocked in "start" until pktgen stops */
	bool running;
	int start_ret;
	char err[200];
};

/*
 * Put @dev on pktgen's thread of @cpu: UDP frames of @len bytes (no FCS;
 * up to 65535, larger ones in page fragments) to @dst_mac, @count frames
 * (0: until stopped). Loads the pktgen module if needed.
 */
int fg_pktgen_setup(struct fg_pktgen *p, const char *dev, int cpu,
		    unsigned int len, const __u8 dst_mac[6],
		    unsigned long count);
/* Start sending (in a helper thread, "start" blocks until done). */
int fg_pktgen_start(struct fg_pktgen *p);
/* Stop early (@stop), or wait for the count, and reap the helper. */
int fg_pktgen_finish(struct fg_pktgen *p, bool stop);
/* Frames handed to the device (sofar) and refused by it (errors). */
int fg_pktgen_counts(struct fg_pktgen *p, unsigned long long *sofar,
		     unsigned long long *errors);
/* Take @dev off pktgen's thread. */
void fg_pktgen_release(struct fg_pktgen *p);

/*
 * A userspace RX source for many taps at once (pktgen's threads are
 * shared): a thread that send()s one frame over and over through an
 * AF_PACKET socket bound to the tap, which queues it for the device.
 */
struct fg_sender {
	int fd;
	pthread_t thread;
	bool running;
	int cpu;
	__u8 *frame;
	size_t len;
	unsigned long long sent;	/* frames the tap took; atomic */
	int stop;			/* atomic */
	int error;			/* errno that ended the thread, or 0 */
};

/*
 * Start sending @len-byte frames (zero payload) from @src to @dst into
 * @ifname from a thread pinned to @cpu (if >= 0). 0 or -errno.
 */
int fg_sender_start(struct fg_sender *s, const char *ifname, int cpu,
		    unsigned int len, const __u8 dst[6], const __u8 src[6]);
unsigned long long fg_sender_sent(struct fg_sender *s);
/* Stop and reap the thread; the errno that stopped it early, or 0. */
int fg_sender_stop(struct fg_sender *s);

/*
 * Give tap @ifname FG_BENCH_HOST_IP/FG_BENCH_PREFIX and a permanent
 * neighbour entry FG_BENCH_GUEST_IP -> @guest_mac (no ARP needed).
 */
int fg_bench_tap_addr(const char *ifname, const __u8 guest_mac[6]);

/* An ICMP echo request of @len frame bytes (>= 60). Returns @len or 0. */
size_t fg_bench_icmp_request(__u8 *buf, size_t len, const __u8 dst[6],
			     const __u8 src[6], __u16 id, __u16 seq);
/* The sequence number if @frame is an echo reply with @id, else -1. */
int fg_bench_icmp_reply_seq(const __u8 *frame, size_t len, __u16 id);

/* Pin thread @tid (0: the caller) to @cpu; nothing if @cpu < 0. */
int fg_bench_pin(pid_t tid, int cpu);
/* The thread called @comm, searched in this process, then everywhere. */
pid_t fg_bench_find_thread(const char *comm);

/*
 * Single-thread memcpy bandwidth: @block-byte copies walking through two
 * @span-byte buffers for @seconds. Returns bytes per second, or < 0.
 */
double fg_bench_memcpy(double seconds, size_t block, size_t span);

/* CLOCK_MONOTONIC in seconds. */
double fg_bench_now(void);

#endif /* FG_BENCH_HOST_H */
