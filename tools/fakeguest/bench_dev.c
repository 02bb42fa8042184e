// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest, for the benchmark: the device side of the split rings in a
 * userspace thread, moving frames with read()/writev() on a tap (what a
 * VMM does without vhost). Written from the virtio 1.x specification,
 * section 2.7 (device side) and 5.1.6 (virtio-net).
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vhost.h>

#include "bench_dev.h"

#define FG_UDEV_BUF	(128 * 1024)

static int fg_udev_fail(struct fg_udev *u, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!u->err[0]) {
		va_start(ap, fmt);
		vsnprintf(u->err, sizeof(u->err), fmt, ap);
		va_end(ap);
	}
	return ret;
}

static __u64 fg_udev_v64(const struct fg_vq *vq, __u64 v)
{
	return vq->legacy ? v : le64toh(v);
}

static __u16 fg_udev_avail_idx(const struct fg_vq *vq)
{
	return fg_v16_to_cpu(vq, __atomic_load_n(&vq->avail->idx,
						 __ATOMIC_ACQUIRE));
}

/* Stop the driver from kicking while we work through the ring. */
static void fg_udev_notify_off(struct fg_vq *vq)
{
	/* With event index, an avail_event left behind does that. */
	if (!vq->event_idx)
		vq->used->flags |= fg_cpu_to_v16(vq, VRING_USED_F_NO_NOTIFY);
}

/*
 * Ask for a kick once the driver makes entry @idx available, then look
 * again: true if it already has (spec 2.7.10).
 */
static bool fg_udev_notify_on(struct fg_vq *vq, __u16 idx)
{
	if (vq->event_idx)
		__atomic_store_n(vq->avail_event, fg_cpu_to_v16(vq, idx),
				 __ATOMIC_RELAXED);
	else
		vq->used->flags &= ~fg_cpu_to_v16(vq, VRING_USED_F_NO_NOTIFY);
	fg_mb();
	return fg_udev_avail_idx(vq) != idx;
}

/*
 * Map the buffer chain at @head into u->iov[*niov...], all device-readable
 * (@write false) or all device-writable. Adds its size to *len.
 */
static int fg_udev_chain(struct fg_udev *u, struct fg_vq *vq, __u16 head,
			 bool write, unsigned int *niov, size_t *len)
{
	const struct vring_desc *tbl = vq->desc;
	unsigned int max = vq->num, i = head, steps = 0;
	__u32 dlen;
	__u64 addr;
	__u16 flags;
	void *p;

	if (head >= vq->num)
		return fg_udev_fail(u, -EIO, "head %u >= %u", head, vq->num);
	flags = fg_v16_to_cpu(vq, vq->desc[head].flags);
	if (flags & VRING_DESC_F_INDIRECT) {
		dlen = fg_v32_to_cpu(vq, vq->desc[head].len);
		addr = fg_udev_v64(vq, vq->desc[head].addr);
		tbl = dlen ? fg_mem_hva(&u->g->mem, addr, dlen) : NULL;
		if (!tbl || dlen % sizeof(*tbl))
			return fg_udev_fail(u, -EIO, "bad indirect table");
		max = dlen / sizeof(*tbl);
		i = 0;
	}
	for (;;) {
		const struct vring_desc *d = &tbl[i];

		if (i >= max || ++steps > max)
			return fg_udev_fail(u, -EIO, "chain out of range");
		flags = fg_v16_to_cpu(vq, d->flags);
		if (flags & VRING_DESC_F_INDIRECT)
			return fg_udev_fail(u, -EIO, "nested indirect");
		if (!!(flags & VRING_DESC_F_WRITE) != write)
			return fg_udev_fail(u, -EIO, "wrong direction");
		if (*niov == FG_UDEV_MAX_IOV)
			return fg_udev_fail(u, -EIO, "chain too long");
		dlen = fg_v32_to_cpu(vq, d->len);
		addr = fg_udev_v64(vq, d->addr);
		p = fg_mem_hva(&u->g->mem, addr, dlen);
		if (!p && dlen)
			return fg_udev_fail(u, -EIO, "buffer 0x%llx+%u unmapped",
					    (unsigned long long)addr, dlen);
		u->iov[*niov].iov_base = p;
		u->iov[*niov].iov_len = dlen;
		(*niov)++;
		*len += dlen;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = fg_v16_to_cpu(vq, d->next);
	}
}

static void fg_udev_push_used(struct fg_vq *vq, struct fg_udev_q *q,
			      __u32 id, __u32 len)
{
	struct vring_used_elem *e = &vq->used->ring[q->used_idx &
						     (vq->num - 1)];

	e->id = fg_cpu_to_v32(vq, id);
	e->len = fg_cpu_to_v32(vq, len);
	q->used_idx++;
}

/* Publish the used entries and interrupt the driver if it asked for it. */
static void fg_udev_flush(struct fg_udev *u, struct fg_vq *vq,
			  struct fg_udev_q *q)
{
	__u16 old = q->signalled, new = q->used_idx, ev;
	bool need, valid = q->signalled_valid;
	__u64 one = 1;

	fg_wmb();
	__atomic_store_n(&vq->used->idx, fg_cpu_to_v16(vq, new),
			 __ATOMIC_RELEASE);
	/* The index must be visible before we read the driver's wishes. */
	fg_mb();
	if (vq->event_idx) {
		ev = fg_v16_to_cpu(vq, __atomic_load_n(vq->used_event,
						       __ATOMIC_RELAXED));
		need = !valid || (__u16)(new - ev - 1) < (__u16)(new - old);
		q->signalled = new;
		q->signalled_valid = true;
	} else {
		need = !(fg_v16_to_cpu(vq, vq->avail->flags) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (need && write(vq->call_fd, &one, sizeof(one)) == sizeof(one))
		u->calls++;
}

static __u16 fg_udev_head(const struct fg_vq *vq, __u16 idx)
{
	return fg_v16_to_cpu(vq, vq->avail->ring[idx & (vq->num - 1)]);
}

/* Guest TX: one writev() per frame. 1 if the burst ran out, 0 if idle. */
static int fg_udev_tx(struct fg_udev *u)
{
	struct fg_vq *vq = &u->g->dev.vq[FG_TXQ];
	struct fg_udev_q *q = &u->q[FG_TXQ];
	unsigned int done, niov;
	size_t len;
	__u16 head;
	int ret;

	for (;;) {
		fg_udev_notify_off(vq);
		for (done = 0; done < FG_UDEV_TX_BURST &&
		     q->last_avail != fg_udev_avail_idx(vq); done++) {
			head = fg_udev_head(vq, q->last_avail);
			niov = 0;
			len = 0;
			ret = fg_udev_chain(u, vq, head, false, &niov, &len);
			if (ret)
				return ret;
			q->last_avail++;
			if (writev(u->tap, u->iov, niov) < 0)
				u->tx_errors++;
			else
				u->tx_frames++;
			fg_udev_push_used(vq, q, head, 0);
		}
		if (done)
			fg_udev_flush(u, vq, q);
		if (done == FG_UDEV_TX_BURST)
			return 1;
		if (!fg_udev_notify_on(vq, q->last_avail))
			return 0;
	}
}

/*
 * Copy the pending frame into as many guest RX buffers as it needs.
 * -EAGAIN if the guest has not posted enough (a kick is then requested).
 */
static int fg_udev_rx_deliver(struct fg_udev *u)
{
	struct fg_vq *vq = &u->g->dev.vq[FG_RXQ];
	struct fg_udev_q *q = &u->q[FG_RXQ];
	unsigned int niov = 0, nbufs = 0, i, b;
	__u16 start = q->last_avail, head, seen;
	size_t cap = 0, need = u->pending, off, n, chain;
	const __u8 *src = u->buf;
	int ret;

	while (cap < need) {
		if (q->last_avail == fg_udev_avail_idx(vq)) {
			/* Put them back; wait for more than we have seen. */
			seen = q->last_avail;
			q->last_avail = start;
			if (fg_udev_notify_on(vq, seen)) {
				niov = 0;
				nbufs = 0;
				cap = 0;
				continue;
			}
			return -EAGAIN;
		}
		if (nbufs && !u->g->dev.mrg_rxbuf)
			return fg_udev_fail(u, -EIO, "RX buffer of %zu < %zu",
					    cap, need);
		head = fg_udev_head(vq, q->last_avail);
		chain = 0;
		ret = fg_udev_chain(u, vq, head, true, &niov, &chain);
		if (ret)
			return ret;
		q->last_avail++;
		u->rx_id[nbufs] = head;
		u->rx_len[nbufs] = 0;
		u->rx_iov_end[nbufs] = niov;
		nbufs++;
		cap += chain;
	}
	fg_udev_notify_off(vq);

	/* The tap left num_buffers alone; it is ours to fill in. */
	if (u->g->dev.hdr_len >= sizeof(struct virtio_net_hdr_mrg_rxbuf)) {
		__u16 nb = fg_cpu_to_v16(vq, nbufs);

		memcpy(u->buf + offsetof(struct virtio_net_hdr_mrg_rxbuf,
					 num_buffers), &nb, sizeof(nb));
	}
	off = 0;
	for (i = 0, b = 0; off < need; i++) {
		while (i >= u->rx_iov_end[b])
			b++;
		n = u->iov[i].iov_len;
		if (n > need - off)
			n = need - off;
		memcpy(u->iov[i].iov_base, src + off, n);
		u->rx_len[b] += n;
		off += n;
	}
	for (b = 0; b < nbufs; b++)
		fg_udev_push_used(vq, q, u->rx_id[b], u->rx_len[b]);
	fg_udev_flush(u, vq, q);
	u->rx_frames++;
	return 0;
}

/* Tap to guest, one read() per frame. 1 if the burst ran out, else 0. */
static int fg_udev_rx(struct fg_udev *u)
{
	unsigned int n;
	ssize_t r;
	int ret;

	for (n = 0; n < FG_UDEV_RX_BURST; n++) {
		if (!u->pending) {
			r = read(u->tap, u->buf, u->buf_cap);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (r <= 0)
				return fg_udev_fail(u, -EIO, "tap read: %s",
						    strerror(errno));
			u->pending = r;
		}
		ret = fg_udev_rx_deliver(u);
		if (ret == -EAGAIN) {
			u->rx_wait_kick = true;
			u->rx_waits++;
			return 0;
		}
		if (ret)
			return ret;
		u->pending = 0;
	}
	return 1;
}

static void fg_udev_drain(int fd)
{
	__u64 v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
}

static void *fg_udev_main(void *arg)
{
	struct fg_udev *u = arg;
	struct fg_vq *tx = &u->g->dev.vq[FG_TXQ], *rx = &u->g->dev.vq[FG_RXQ];
	int more_tx = 1, more_rx = 1, r;
	struct pollfd p[4];
	cpu_set_t set;

	if (u->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(u->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	for (;;) {
		p[0].fd = u->stop_fd;
		p[1].fd = tx->kick_fd;
		p[2].fd = rx->kick_fd;
		p[3].fd = u->rx_wait_kick ? -1 : u->tap;
		for (r = 0; r < 4; r++)
			p[r].events = POLLIN;
		r = poll(p, 4, more_tx > 0 || more_rx > 0 ? 0 : -1);
		u->polls++;
		if (r < 0 && errno != EINTR) {
			fg_udev_fail(u, -EIO, "poll: %s", strerror(errno));
			break;
		}
		if (r < 0)
			continue;
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN) {
			fg_udev_drain(tx->kick_fd);
			u->tx_kicks++;
			more_tx = 1;
		}
		if (p[2].revents & POLLIN) {
			fg_udev_drain(rx->kick_fd);
			u->rx_kicks++;
			if (u->rx_wait_kick) {
				u->rx_wait_kick = false;
				more_rx = 1;
			}
		}
		if (p[3].revents & POLLIN) {
			u->tap_wakeups++;
			more_rx = 1;
		}
		if (more_tx > 0)
			more_tx = fg_udev_tx(u);
		if (more_rx > 0 && !u->rx_wait_kick)
			more_rx = fg_udev_rx(u);
		else
			more_rx = 0;
		if (more_tx < 0 || more_rx < 0)
			break;
	}
	return NULL;
}

int fg_udev_start(struct fg_udev *u, struct fg_guest *g, int tap, int cpu)
{
	unsigned int i, num = g->dev.vq[FG_RXQ].num;
	int fl, ret;

	memset(u, 0, sizeof(*u));
	u->g = g;
	u->tap = tap;
	u->cpu = cpu;
	u->stop_fd = -1;
	/* The kernel device keeps the rings programmed but never runs. */
	for (i = 0; i < 2; i++) {
		struct vhost_vring_file f = { .index = i, .fd = -1 };

		if (ioctl(g->dev.fd, VHOST_SET_VRING_KICK, &f) < 0 ||
		    ioctl(g->dev.fd, VHOST_SET_VRING_CALL, &f) < 0)
			return fg_udev_fail(u, -errno, "unhook eventfds: %s",
					    strerror(errno));
		u->q[i].used_idx = fg_v16_to_cpu(&g->dev.vq[i],
						 g->dev.vq[i].used->idx);
		u->q[i].last_avail = u->q[i].used_idx;
	}
	fl = fcntl(tap, F_GETFL);
	if (fl < 0 || fcntl(tap, F_SETFL, fl | O_NONBLOCK) < 0)
		return fg_udev_fail(u, -errno, "tap O_NONBLOCK: %s",
				    strerror(errno));
	u->buf_cap = FG_UDEV_BUF;
	u->buf = malloc(u->buf_cap);
	u->rx_id = calloc(num, sizeof(*u->rx_id));
	u->rx_len = calloc(num, sizeof(*u->rx_len));
	u->rx_iov_end = calloc(num, sizeof(*u->rx_iov_end));
	u->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!u->buf || !u->rx_id || !u->rx_len || !u->rx_iov_end ||
	    u->stop_fd < 0) {
		fg_udev_stop(u);
		return fg_udev_fail(u, -ENOMEM, "out of memory");
	}
	ret = pthread_create(&u->thread, NULL, fg_udev_main, u);
	if (ret) {
		fg_udev_stop(u);
		return fg_udev_fail(u, -ret, "pthread_create: %s",
				    strerror(ret));
	}
	u->running = true;
	return 0;
}

int fg_udev_stop(struct fg_udev *u)
{
	__u64 one = 1;

	if (u->running) {
		if (write(u->stop_fd, &one, sizeof(one)) != sizeof(one))
			fg_udev_fail(u, -EIO, "cannot stop the device thread");
		pthread_join(u->thread, NULL);
		u->running = false;
	}
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	u->stop_fd = -1;
	free(u->buf);
	free(u->rx_id);
	free(u->rx_len);
	free(u->rx_iov_end);
	u->buf = NULL;
	u->rx_id = NULL;
	u->rx_len = NULL;
	u->rx_iov_end = NULL;
	return u->err[0] ? -1 : 0;
}
