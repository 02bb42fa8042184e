/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest, for the benchmark: a userspace virtio-net device, the
 * "full emulation" path that QEMU takes with vhost=off. One thread of the
 * fake guest's process plays the device side of both split rings (avail
 * in, used out, event-index notification suppression) and moves frames
 * with plain read() and writev() on a tap fd. Received frames go through
 * a bounce buffer into the guest's buffers, as in QEMU.
 *
 * The guest is set up as usual with fg_guest_init() on any vhost device,
 * with no backend; fg_udev_start() unhooks the kick and call eventfds from
 * that device, so it never runs, and serves the rings itself.
 */
#ifndef FG_BENCH_DEV_H
#define FG_BENCH_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <linux/types.h>

#include "fg_guest.h"

#define FG_UDEV_MAX_IOV		1024
#define FG_UDEV_TX_BURST	256	/* QEMU's default tx_burst */
#define FG_UDEV_RX_BURST	50	/* frames per tap wakeup, as QEMU */

struct fg_udev_q {
	__u16 last_avail;	/* next avail entry to take */
	__u16 used_idx;		/* next used entry to fill */
	__u16 signalled;	/* used_idx at the last call decision */
	bool signalled_valid;
};

struct fg_udev {
	struct fg_guest *g;
	int tap;		/* IFF_VNET_HDR tap, header size g->dev.hdr_len */
	int stop_fd;
	int cpu;		/* pinned to this CPU if >= 0 */
	pthread_t thread;
	bool running;
	struct fg_udev_q q[2];

	/* RX: a frame read from the tap, waiting for guest buffers */
	__u8 *buf;
	size_t buf_cap, pending;
	bool rx_wait_kick;
	struct iovec iov[FG_UDEV_MAX_IOV];
	__u32 *rx_id, *rx_len;	/* buffers of the frame being delivered */
	unsigned int *rx_iov_end;

	/* statistics, stable after fg_udev_stop() */
	unsigned long tx_frames, tx_errors, rx_frames, rx_waits, calls;
	unsigned long polls, tx_kicks, rx_kicks, tap_wakeups;
	char err[256];
};

/*
 * Serve @g's rings on @tap (set O_NONBLOCK here) from a new thread, pinned
 * to @cpu if >= 0. Returns 0 or -errno with a message in @u->err.
 */
int fg_udev_start(struct fg_udev *u, struct fg_guest *g, int tap, int cpu);
/* Stop the thread. Returns 0, or -1 if the device hit an error (u->err). */
int fg_udev_stop(struct fg_udev *u);

#endif /* FG_BENCH_DEV_H */
