// SPDX-License-Identifier: GPL-2.0
/* The VMM's side of the device IOTLB: misses in, translations out. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fg_iotlb.h"

int fg_iotlb_write_raw(struct fg_dev *d, const void *msg, size_t len)
{
	ssize_t n = write(d->fd, msg, len);

	return n < 0 ? -errno : (int)n;
}

int fg_iotlb_send(struct fg_dev *d, __u8 type, __u64 iova, __u64 size,
		  __u8 perm)
{
	struct vhost_msg_v2 m;
	int ret;

	memset(&m, 0, sizeof(m));
	m.type = d->iotlb_v2 ? VHOST_IOTLB_MSG_V2 : VHOST_IOTLB_MSG;
	m.iotlb.type = type;
	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.perm = perm;
	if (type == VHOST_IOTLB_UPDATE) {
		void *hva = fg_mem_hva(d->mem, iova, size);

		if (!hva)
			return -EINVAL;
		m.iotlb.uaddr = (__u64)(unsigned long)hva;
	}
	ret = fg_iotlb_write_raw(d, &m, sizeof(m));
	if (ret < 0)
		return ret;
	return ret == (int)sizeof(m) ? 0 : -EIO;
}

int fg_iotlb_read(struct fg_dev *d, struct vhost_msg_v2 *msg, int timeout_ms)
{
	struct pollfd p = { .fd = d->fd, .events = POLLIN };
	ssize_t n;
	int ret;

	ret = poll(&p, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (!ret)
		return -ETIMEDOUT;
	n = read(d->fd, msg, sizeof(*msg));
	if (n < 0)
		return -errno;
	return n == sizeof(*msg) ? 0 : -EIO;
}

static long long fg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int fg_iotlb_serve(struct fg_dev *d, __u8 perm, int timeout_ms,
		   int (*done)(void *arg), void *arg)
{
	long long end = fg_now_ms() + timeout_ms;
	struct vhost_msg_v2 m;
	int n = 0, ret;

	while (!done(arg)) {
		long long left = end - fg_now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		/* Short polls: done() may come true without a message. */
		ret = fg_iotlb_read(d, &m, left < 20 ? (int)left : 20);
		if (ret == -ETIMEDOUT)
			continue;
		if (ret)
			return ret;
		if (m.iotlb.type != VHOST_IOTLB_MISS)
			return -EPROTO;
		ret = fg_iotlb_send(d, VHOST_IOTLB_UPDATE,
				    m.iotlb.iova & ~(FG_IOTLB_PAGE - 1),
				    FG_IOTLB_PAGE, perm);
		if (ret)
			return ret;
		n++;
	}
	return n;
}
