// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: vhost device control through the <linux/vhost.h> ioctls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fg_dev.h"

static int fg_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

unsigned int fg_net_hdr_len(__u64 features)
{
	if (features & (FG_F(VIRTIO_F_VERSION_1) |
			FG_F(VIRTIO_NET_F_MRG_RXBUF)))
		return sizeof(struct virtio_net_hdr_mrg_rxbuf);
	return sizeof(struct virtio_net_hdr);
}

int fg_dev_open(struct fg_dev *d, const char *path)
{
	int i, ret;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < 2; i++) {
		d->vq[i].kick_fd = -1;
		d->vq[i].call_fd = -1;
		d->vq[i].err_fd = -1;
	}
	d->backend[0] = -1;
	d->backend[1] = -1;
	d->path = path;
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		return -errno;
	ret = fg_ioctl(d->fd, VHOST_SET_OWNER, NULL);
	if (ret) {
		close(d->fd);
		d->fd = -1;
	}
	return ret;
}

void fg_dev_close(struct fg_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->vq[0].num)
		fg_vq_fini(&d->vq[0]);
	if (d->vq[1].num)
		fg_vq_fini(&d->vq[1]);
}

int fg_dev_negotiate(struct fg_dev *d, __u64 want)
{
	__u64 f;
	int ret;

	ret = fg_ioctl(d->fd, VHOST_GET_FEATURES, &d->offered);
	if (ret)
		return ret;
	f = d->offered & want;
	ret = fg_ioctl(d->fd, VHOST_SET_FEATURES, &f);
	if (ret)
		return ret;
	d->features = f;
	d->iotlb = !!(f & FG_F(VIRTIO_F_ACCESS_PLATFORM));
	if (d->iotlb) {
		__u64 bf;

		/* The v2 message layout where offered, as QEMU does. */
		ret = fg_ioctl(d->fd, VHOST_GET_BACKEND_FEATURES, &bf);
		if (ret)
			return ret;
		bf &= FG_F(VHOST_BACKEND_F_IOTLB_MSG_V2);
		ret = fg_ioctl(d->fd, VHOST_SET_BACKEND_FEATURES, &bf);
		if (ret)
			return ret;
		d->iotlb_v2 = !!bf;
	}
	d->legacy = !(f & FG_F(VIRTIO_F_VERSION_1));
	d->mrg_rxbuf = !!(f & FG_F(VIRTIO_NET_F_MRG_RXBUF));
	d->indirect = !!(f & FG_F(VIRTIO_RING_F_INDIRECT_DESC));
	d->event_idx = !!(f & FG_F(VIRTIO_RING_F_EVENT_IDX));
	d->packed = !!(f & FG_F(VIRTIO_F_RING_PACKED));
	d->in_order = !!(f & FG_F(VIRTIO_F_IN_ORDER));
	d->any_layout = !d->legacy;
	d->vhost_hdr = !!(f & FG_F(VHOST_NET_F_VIRTIO_NET_HDR));
	d->hdr_len = fg_net_hdr_len(f);
	return 0;
}

/* SET_VRING_ADDR of ring @idx, logged to its used ring's GPA if d->log_on. */
static int fg_dev_set_vring_addr(struct fg_dev *d, unsigned int idx)
{
	const struct fg_vq *vq = &d->vq[idx];
	struct vhost_vring_addr a = {
		.index = idx,
		.desc_user_addr = (__u64)(unsigned long)vq->desc,
		.avail_user_addr = (__u64)(unsigned long)vq->avail,
		.used_user_addr = (__u64)(unsigned long)vq->used,
	};

	/* Under the IOTLB the rings are given as IOVAs (= GPAs here). */
	if (d->iotlb) {
		a.desc_user_addr = vq->desc_gpa;
		a.avail_user_addr = vq->avail_gpa;
		a.used_user_addr = vq->used_gpa;
	}

	if (d->log_on) {
		a.flags = 1U << VHOST_VRING_F_LOG;
		a.log_guest_addr = vq->used_gpa;
	}
	return fg_ioctl(d->fd, VHOST_SET_VRING_ADDR, &a);
}

size_t fg_log_bytes(const struct fg_mem *mem)
{
	__u64 pages = (fg_mem_end(mem) + FG_LOG_PAGE - 1) / FG_LOG_PAGE;

	return (pages + 7) / 8;
}

bool fg_log_test(const void *log, __u64 pfn)
{
	return ((const __u8 *)log)[pfn / 8] & (1U << (pfn % 8));
}

int fg_dev_set_log(struct fg_dev *d, void *log, bool on)
{
	__u64 base = (__u64)(unsigned long)log;
	__u64 f = on ? d->features | FG_F(VHOST_F_LOG_ALL) :
		       d->features & ~FG_F(VHOST_F_LOG_ALL);
	unsigned int i;
	int ret;

	ret = fg_ioctl(d->fd, VHOST_SET_LOG_BASE, &base);
	if (!ret)
		ret = fg_ioctl(d->fd, VHOST_SET_FEATURES, &f);
	if (ret)
		return ret;
	d->features = f;
	d->log = log;
	d->log_on = on;
	for (i = 0; i < 2 && !ret; i++)
		ret = fg_dev_set_vring_addr(d, i);
	return ret;
}

int fg_dev_set_mem(struct fg_dev *d, struct fg_mem *mem)
{
	struct vhost_memory *t = fg_mem_table(mem);
	int ret;

	if (!t)
		return -ENOMEM;
	ret = fg_ioctl(d->fd, VHOST_SET_MEM_TABLE, t);
	free(t);
	if (!ret)
		d->mem = mem;
	return ret;
}

int fg_dev_alloc_rings(struct fg_dev *d, unsigned int num)
{
	int i, ret;

	for (i = 0; i < 2; i++) {
		ret = fg_vq_init(&d->vq[i], d->mem, num, d->event_idx,
				 d->legacy, d->packed);
		if (ret)
			return ret;
		d->vq[i].in_order = d->in_order;
	}
	return 0;
}

int fg_dev_setup_vq(struct fg_dev *d, unsigned int idx)
{
	struct fg_vq *vq = &d->vq[idx];
	struct vhost_vring_state st = { .index = idx };
	struct vhost_vring_file f = { .index = idx };
	int ret;

	st.num = vq->num;
	ret = fg_ioctl(d->fd, VHOST_SET_VRING_NUM, &st);
	if (ret)
		return ret;
	st.num = fg_vq_base(vq);
	ret = fg_ioctl(d->fd, VHOST_SET_VRING_BASE, &st);
	if (ret)
		return ret;
	ret = fg_dev_set_vring_addr(d, idx);
	if (ret)
		return ret;
	f.fd = vq->kick_fd;
	ret = fg_ioctl(d->fd, VHOST_SET_VRING_KICK, &f);
	if (ret)
		return ret;
	f.fd = vq->call_fd;
	ret = fg_ioctl(d->fd, VHOST_SET_VRING_CALL, &f);
	if (ret)
		return ret;
	f.fd = vq->err_fd;
	ret = fg_ioctl(d->fd, VHOST_SET_VRING_ERR, &f);
	if (ret || !d->busyloop_us)
		return ret;
	st.num = d->busyloop_us;
	return fg_ioctl(d->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st);
}

int fg_dev_set_backend(struct fg_dev *d, unsigned int idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };
	int ret;

	ret = fg_ioctl(d->fd, VHOST_NET_SET_BACKEND, &f);
	if (!ret)
		d->backend[idx] = fd;
	return ret;
}

int fg_dev_replace_kick(struct fg_dev *d, unsigned int idx, bool pending)
{
	struct vhost_vring_file f = { .index = idx };
	struct fg_vq *vq = &d->vq[idx];
	__u64 one = 1;
	int ret;

	f.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f.fd < 0)
		return -errno;
	if (pending && write(f.fd, &one, sizeof(one)) != sizeof(one)) {
		ret = -errno;
		close(f.fd);
		return ret;
	}
	ret = fg_ioctl(d->fd, VHOST_SET_VRING_KICK, &f);
	if (ret) {
		close(f.fd);
		return ret;
	}
	close(vq->kick_fd);
	vq->kick_fd = f.fd;
	return 0;
}

int fg_dev_get_vring_base(struct fg_dev *d, unsigned int idx,
			  unsigned int *base)
{
	struct vhost_vring_state st = { .index = idx };
	int ret;

	ret = fg_ioctl(d->fd, VHOST_GET_VRING_BASE, &st);
	if (!ret)
		*base = st.num;
	return ret;
}

int fg_dev_reinit_vq(struct fg_dev *d, unsigned int idx, int fd)
{
	int ret;

	ret = fg_dev_set_backend(d, idx, -1);
	if (ret)
		return ret;
	fg_vq_reset(&d->vq[idx]);
	ret = fg_dev_setup_vq(d, idx);
	if (ret)
		return ret;
	return fg_dev_set_backend(d, idx, fd);
}

int fg_dev_reset_owner(struct fg_dev *d, int fd)
{
	__u64 want = d->features;
	unsigned int i;
	int ret;

	ret = fg_ioctl(d->fd, VHOST_RESET_OWNER, NULL);
	if (ret)
		return ret;
	d->backend[0] = -1;
	d->backend[1] = -1;
	ret = fg_ioctl(d->fd, VHOST_SET_OWNER, NULL);
	if (!ret)
		ret = fg_dev_negotiate(d, want);
	if (!ret)
		ret = fg_dev_set_mem(d, d->mem);
	for (i = 0; !ret && i < 2; i++) {
		fg_vq_reset(&d->vq[i]);
		ret = fg_dev_setup_vq(d, i);
		if (!ret && fd >= 0)
			ret = fg_dev_set_backend(d, i, fd);
	}
	return ret;
}

int fg_dev_setup(struct fg_dev *d, const char *path, __u64 want,
		 struct fg_mem *mem, unsigned int num, int backend_fd)
{
	unsigned int i;
	int ret;

	ret = fg_dev_open(d, path);
	if (ret)
		return ret;
	ret = fg_dev_negotiate(d, want);
	if (!ret)
		ret = fg_dev_set_mem(d, mem);
	if (!ret)
		ret = fg_dev_alloc_rings(d, num);
	for (i = 0; !ret && i < 2; i++)
		ret = fg_dev_setup_vq(d, i);
	for (i = 0; !ret && backend_fd >= 0 && i < 2; i++)
		ret = fg_dev_set_backend(d, i, backend_fd);
	return ret;
}
