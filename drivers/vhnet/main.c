// SPDX-License-Identifier: GPL-2.0
/*
 * vhnet: an in-kernel virtio-net backend.  /dev/vhnet speaks the vhost
 * ioctl UAPI; each open file is one device with an RX and a TX queue.
 */
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/eventfd.h>
#include <linux/nospec.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>
#include <linux/virtio_net.h>
#include <linux/vhnet.h>

#include "vhnet.h"

static unsigned short max_mem_regions = 64;
module_param(max_mem_regions, ushort, 0644);
MODULE_PARM_DESC(max_mem_regions, "Maximum memory table regions (default 64)");

#ifdef VHOST_SET_FORK_FROM_OWNER
/* As the in-tree vhost's: which worker a device gets unless it chooses. */
static bool fork_from_owner_default = VHOST_FORK_OWNER_TASK;
module_param(fork_from_owner_default, bool, 0444);
MODULE_PARM_DESC(fork_from_owner_default,
		 "Workers are vhost_tasks of the owner unless a device asks (VHOST_SET_FORK_FROM_OWNER); N: kthreads (default Y)");
#else
static const bool fork_from_owner_default = true;
#endif

static bool vhost_net_node;
module_param(vhost_net_node, bool, 0444);
MODULE_PARM_DESC(vhost_net_node,
		 "Also serve /dev/vhost-net (misc minor 238) in place of the in-tree vhost_net, which must not be loaded (default N)");

static struct vhnet_vq *vhnet_vq_get(struct vhnet_dev *dev, u32 index)
{
	if (index >= VHNET_NVQS)
		return NULL;
	return &dev->vqs[array_index_nospec(index, VHNET_NVQS)];
}

static void vhnet_vq_set_features(struct vhnet_vq *vq, u64 features)
{
	size_t hdr = sizeof(struct virtio_net_hdr);

	if (features & ((1ULL << VIRTIO_NET_F_MRG_RXBUF) |
			(1ULL << VIRTIO_F_VERSION_1)))
		hdr = sizeof(struct virtio_net_hdr_mrg_rxbuf);
	vq->features = features;
	/* IOVAs or not, the rings are mapped anew. */
	vq->rings_ready = false;
	/* Either vhnet handles the header or the socket does. */
	if (features & (1ULL << VHOST_NET_F_VIRTIO_NET_HDR)) {
		vq->vhost_hlen = hdr;
		vq->sock_hlen = 0;
	} else {
		vq->vhost_hlen = 0;
		vq->sock_hlen = hdr;
	}
}

/* Detach the backend; the caller holds vq->mutex and fputs the result. */
static struct file *vhnet_vq_detach(struct vhnet_vq *vq)
{
	struct file *file = vq->sock_file;

	vhnet_poll_stop(&vq->sock_poll);
	vhnet_rxq_return(vq);
	vq->rx_ring = NULL;
	vq->tx_xdp = false;
	vq->sock_file = NULL;
	vq->sock = NULL;
	vq->tx_blocked = false;
	return file;
}

static void vhnet_vq_clear_eventfds(struct vhnet_vq *vq)
{
	vhnet_poll_stop(&vq->kick_poll);
	if (vq->kick)
		fput(vq->kick);
	if (vq->call)
		eventfd_ctx_put(vq->call);
	if (vq->err)
		eventfd_ctx_put(vq->err);
	vq->kick = NULL;
	vq->call = NULL;
	vq->err = NULL;
}

static void vhnet_vq_reset(struct vhnet_vq *vq)
{
	vq->num = 0;
	vq->addr_set = false;
	vq->rings_ready = false;
	vq->desc_addr = 0;
	vq->avail_addr = 0;
	vq->used_addr = 0;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->pdesc = NULL;
	vq->drv_event = NULL;
	vq->dev_event = NULL;
	vq->used_gpa = VHNET_NO_GPA;
	vq->used_idx_pending = false;
	vq->last_avail_idx = 0;
	vq->avail_idx = 0;
	vq->last_used_idx = 0;
	vq->signalled_used_valid = false;
	vq->broken = false;
	vq->nheads = 0;
	vq->busyloop_us = 0;
	vq->log_used = false;
	vq->log_addr = 0;
	vq->log_pending = false;
	vhnet_vq_set_features(vq, 0);
	memset(&vq->stats, 0, sizeof(vq->stats));
}

/* Release everything the owner set up; the device becomes unowned. */
static void vhnet_dev_cleanup(struct vhnet_dev *dev)
{
	struct file *files[VHNET_NVQS];
	int i;

	/* A worker blocked in a fault would hold a queue mutex forever. */
	vhnet_worker_halt(dev);
	/* No wakeup may reach the worker once it is gone. */
	for (i = 0; i < VHNET_NVQS; i++) {
		struct vhnet_vq *vq = &dev->vqs[i];

		mutex_lock(&vq->mutex);
		files[i] = vhnet_vq_detach(vq);
		vhnet_poll_stop(&vq->kick_poll);
		mutex_unlock(&vq->mutex);
	}
	vhnet_worker_stop(dev);
	vhnet_debugfs_remove(dev);
	for (i = 0; i < VHNET_NVQS; i++) {
		if (files[i])
			fput(files[i]);
		vhnet_vq_clear_eventfds(&dev->vqs[i]);
		vhnet_vq_reset(&dev->vqs[i]);
	}
	kvfree(dev->mem);
	dev->mem = NULL;
	vhnet_iotlb_clear(dev);
	if (dev->log_ctx)
		eventfd_ctx_put(dev->log_ctx);
	dev->log_ctx = NULL;
	dev->log_base = NULL;
	dev->features = 0;
	dev->backend_features = 0;
	if (dev->mm)
		mmput(dev->mm);
	dev->mm = NULL;
	dev->owner_pid = 0;
	dev->fork_owner = fork_from_owner_default && vhnet_have_vhost_task();
}

static void vhnet_free_scratch(struct vhnet_dev *dev)
{
	int i;

	for (i = 0; i < VHNET_NVQS; i++) {
		kvfree(dev->vqs[i].iov);
		kvfree(dev->vqs[i].heads);
		kvfree(dev->vqs[i].slots);
		kvfree(dev->vqs[i].iov_gpa);
		kfree(dev->vqs[i].rxb);
		kfree(dev->vqs[i].txb);
		vhnet_frag_cache_drain(&dev->vqs[i].tx_frags);
	}
}

static int vhnet_open(struct inode *inode, struct file *f)
{
	struct vhnet_dev *dev;
	int i;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL_ACCOUNT);
	if (!dev)
		return -ENOMEM;
	mutex_init(&dev->mutex);
	vhnet_iotlb_init(dev);
	dev->fork_owner = fork_from_owner_default && vhnet_have_vhost_task();
	for (i = 0; i < VHNET_NVQS; i++) {
		struct vhnet_vq *vq = &dev->vqs[i];

		vq->dev = dev;
		vq->index = i;
		mutex_init(&vq->mutex);
		vq->iov = kvmalloc_array(UIO_MAXIOV, sizeof(*vq->iov),
					 GFP_KERNEL_ACCOUNT);
		vq->heads = kvmalloc_array(UIO_MAXIOV, sizeof(*vq->heads),
					   GFP_KERNEL_ACCOUNT);
		vq->slots = kvmalloc_array(UIO_MAXIOV, sizeof(*vq->slots),
					   GFP_KERNEL_ACCOUNT);
		vq->iov_gpa = kvmalloc_array(UIO_MAXIOV, sizeof(*vq->iov_gpa),
					     GFP_KERNEL_ACCOUNT);
		if (i == VHNET_VQ_RX)
			vq->rxb = kmalloc_array(VHNET_RX_BATCH, sizeof(*vq->rxb),
						GFP_KERNEL_ACCOUNT);
		else
			vq->txb = vhnet_tx_batch_alloc();
		if (!vq->iov || !vq->heads || !vq->slots || !vq->iov_gpa ||
		    (i == VHNET_VQ_RX ? !vq->rxb : !vq->txb))
			goto err;
		vhnet_work_init(&vq->work, i == VHNET_VQ_RX ? vhnet_handle_rx :
							       vhnet_handle_tx);
		vhnet_poll_init(&vq->kick_poll, dev, &vq->work, EPOLLIN);
		vhnet_poll_init(&vq->sock_poll, dev, &vq->work,
				i == VHNET_VQ_RX ? EPOLLIN : EPOLLOUT);
		vhnet_vq_reset(vq);
	}
	f->private_data = dev;
	return 0;
err:
	vhnet_free_scratch(dev);
	kfree(dev);
	return -ENOMEM;
}

static int vhnet_release(struct inode *inode, struct file *f)
{
	struct vhnet_dev *dev = f->private_data;

	vhnet_dev_cleanup(dev);
	vhnet_free_scratch(dev);
	kfree(dev);
	return 0;
}

static long vhnet_set_owner(struct vhnet_dev *dev, unsigned int cmd,
			    void __user *argp)
{
	int ret;

	if (dev->mm)
		return -EBUSY;
	if (!current->mm)
		return -EINVAL;
	mmget(current->mm);
	dev->mm = current->mm;
	dev->owner_pid = task_tgid_nr(current);
	ret = vhnet_worker_start(dev);
	if (ret) {
		mmput(dev->mm);
		dev->mm = NULL;
		dev->owner_pid = 0;
		return ret;
	}
	vhnet_debugfs_add(dev);
	return 0;
}

static long vhnet_reset_owner(struct vhnet_dev *dev, unsigned int cmd,
			      void __user *argp)
{
	vhnet_dev_cleanup(dev);
	return 0;
}

#ifdef VHOST_SET_FORK_FROM_OWNER
/* Which worker SET_OWNER starts: a vhost_task (1) or a kthread (0). */
static long vhnet_fork_owner(struct vhnet_dev *dev, unsigned int cmd,
			     void __user *argp)
{
	u8 val = dev->fork_owner;

	if (cmd == VHOST_GET_FORK_FROM_OWNER)
		return put_user(val, (u8 __user *)argp);
	if (dev->mm)
		return -EBUSY;
	if (get_user(val, (u8 __user *)argp))
		return -EFAULT;
	if (val != VHOST_FORK_OWNER_TASK && val != VHOST_FORK_OWNER_KTHREAD)
		return -EINVAL;
	dev->fork_owner = val == VHOST_FORK_OWNER_TASK;
	return 0;
}
#endif

static long vhnet_get_features(struct vhnet_dev *dev, unsigned int cmd,
			       void __user *argp)
{
	u64 features = cmd == VHOST_GET_FEATURES ? VHNET_FEATURES :
					      VHNET_BACKEND_FEATURES;

	return copy_to_user(argp, &features, sizeof(features)) ? -EFAULT : 0;
}

static long vhnet_set_features(struct vhnet_dev *dev, unsigned int cmd,
			       void __user *argp)
{
	u64 features;
	int i;

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (cmd == VHOST_SET_BACKEND_FEATURES) {
		if (features & ~VHNET_BACKEND_FEATURES)
			return -EOPNOTSUPP;
		WRITE_ONCE(dev->backend_features, features);
		return 0;
	}
	if (features & ~VHNET_FEATURES)
		return -EOPNOTSUPP;
	/* The packed layout is virtio 1.1's: no legacy, native-endian form. */
	if (features & BIT_ULL(VIRTIO_F_RING_PACKED) &&
	    !(features & BIT_ULL(VIRTIO_F_VERSION_1)))
		return -EINVAL;
	dev->features = features;
	for (i = 0; i < VHNET_NVQS; i++) {
		mutex_lock(&dev->vqs[i].mutex);
		vhnet_vq_set_features(&dev->vqs[i], features);
		mutex_unlock(&dev->vqs[i].mutex);
	}
	return 0;
}

/* The worker reads dev->mem and the log only under a vq mutex: hold both. */
static void vhnet_lock_vqs(struct vhnet_dev *dev)
{
	mutex_lock(&dev->vqs[VHNET_VQ_RX].mutex);
	mutex_lock_nested(&dev->vqs[VHNET_VQ_TX].mutex, 1);
}

static void vhnet_unlock_vqs(struct vhnet_dev *dev)
{
	mutex_unlock(&dev->vqs[VHNET_VQ_TX].mutex);
	mutex_unlock(&dev->vqs[VHNET_VQ_RX].mutex);
}

static long vhnet_set_mem_table(struct vhnet_dev *dev, unsigned int cmd,
				void __user *argp)
{
	struct vhnet_mem *mem, *old;

	mem = vhnet_mem_from_user(argp, READ_ONCE(max_mem_regions));
	if (IS_ERR(mem))
		return PTR_ERR(mem);
	/* A log already set must hold the bits of the new table too. */
	if (dev->log_base && vhnet_log_check(mem, dev->log_base)) {
		kvfree(mem);
		return -EFAULT;
	}
	vhnet_lock_vqs(dev);
	old = dev->mem;
	dev->mem = mem;
	vhnet_unlock_vqs(dev);
	kvfree(old);
	return 0;
}

static long vhnet_set_log_base(struct vhnet_dev *dev, unsigned int cmd,
			       void __user *argp)
{
	u64 base;

	if (copy_from_user(&base, argp, sizeof(base)))
		return -EFAULT;
	if (vhnet_log_check(dev->mem, (void __user *)(uintptr_t)base))
		return -EFAULT;
	vhnet_lock_vqs(dev);
	dev->log_base = (void __user *)(uintptr_t)base;
	vhnet_unlock_vqs(dev);
	return 0;
}

static long vhnet_set_log_fd(struct vhnet_dev *dev, unsigned int cmd,
			     void __user *argp)
{
	struct eventfd_ctx *ctx = NULL, *old;
	int fd;

	if (get_user(fd, (int __user *)argp))
		return -EFAULT;
	if (fd != VHOST_FILE_UNBIND) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	vhnet_lock_vqs(dev);
	old = dev->log_ctx;
	dev->log_ctx = ctx;
	vhnet_unlock_vqs(dev);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

static long vhnet_vring_state(struct vhnet_dev *dev, unsigned int cmd,
			      void __user *argp)
{
	struct vhost_vring_state s;
	struct vhnet_vq *vq;
	long ret = 0;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	vq = vhnet_vq_get(dev, s.index);
	if (!vq)
		return -ENOBUFS;

	mutex_lock(&vq->mutex);
	switch (cmd) {
	case VHOST_SET_VRING_NUM:
		if (vq->sock)
			ret = -EBUSY;
		else if (!s.num || s.num > VHNET_RING_MAX || !is_power_of_2(s.num))
			ret = -EINVAL;
		else
			vq->num = s.num;
		break;
	case VHOST_SET_VRING_BASE:
		if (vq->sock) {
			ret = -EBUSY;
		} else if (vhnet_packed(vq)) {
			ret = vhnet_packed_set_base(vq, s.num);
			if (!ret)
				vq->broken = false;
		} else if (s.num > U16_MAX) {
			ret = -EINVAL;
		} else {
			vq->last_avail_idx = s.num;
			vq->avail_idx = s.num;
			vq->broken = false;
		}
		break;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		if (s.num > VHNET_BUSYLOOP_MAX_US)
			ret = -EINVAL;
		else	/* the worker peeks at it unlocked first */
			WRITE_ONCE(vq->busyloop_us, s.num);
		break;
	case VHOST_GET_VRING_BASE:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		if (cmd == VHOST_GET_VRING_BUSYLOOP_TIMEOUT)
			s.num = vq->busyloop_us;
		else if (vhnet_packed(vq))
			s.num = vhnet_packed_get_base(vq);
		else
			s.num = vq->last_avail_idx;
		if (copy_to_user(argp, &s, sizeof(s)))
			ret = -EFAULT;
		break;
	}
	mutex_unlock(&vq->mutex);
	return ret;
}

static long vhnet_vring_addr(struct vhnet_dev *dev, unsigned int cmd,
			     void __user *argp)
{
	struct vhost_vring_addr a;
	struct vhnet_vq *vq;
	bool log;
	long ret;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	vq = vhnet_vq_get(dev, a.index);
	if (!vq)
		return -ENOBUFS;
	if (a.flags & ~(1U << VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	log = a.flags & (1U << VHOST_VRING_F_LOG);

	mutex_lock(&vq->mutex);
	ret = -EINVAL;
	if (log && a.log_guest_addr +
		   vhnet_ring_size(vq->num, vhnet_packed(vq), VHNET_USED) - 1 <
		   a.log_guest_addr)
		goto out;
	if (vq->sock) {
		/* Running: only the logging may change (migration start, cancel). */
		ret = -EBUSY;
		if (a.desc_user_addr != vq->desc_addr ||
		    a.avail_user_addr != vq->avail_addr ||
		    a.used_user_addr != vq->used_addr)
			goto out;
	} else {
		ret = vhnet_vq_check_addr(vq->num, vhnet_packed(vq),
					  a.desc_user_addr, a.avail_user_addr,
					  a.used_user_addr, vhnet_iotlb_on(vq));
		if (ret)
			goto out;
		vq->desc_addr = a.desc_user_addr;
		vq->avail_addr = a.avail_user_addr;
		vq->used_addr = a.used_user_addr;
		vq->rings_ready = false;
		vq->addr_set = true;
		vq->broken = false;
	}
	vq->log_used = log;
	vq->log_addr = log ? a.log_guest_addr : 0;
	ret = 0;
out:
	mutex_unlock(&vq->mutex);
	return ret;
}

static long vhnet_vring_file(struct vhnet_dev *dev, unsigned int cmd,
			     void __user *argp)
{
	struct vhost_vring_file vf;
	struct eventfd_ctx *ctx = NULL, *old_ctx = NULL;
	struct file *file = NULL, *old_file = NULL;
	struct vhnet_vq *vq;

	if (copy_from_user(&vf, argp, sizeof(vf)))
		return -EFAULT;
	vq = vhnet_vq_get(dev, vf.index);
	if (!vq)
		return -ENOBUFS;

	if (vf.fd != VHOST_FILE_UNBIND) {
		if (cmd == VHOST_SET_VRING_KICK) {
			file = fget(vf.fd);
			if (!file)
				return -EBADF;
			ctx = eventfd_ctx_fileget(file);
			if (IS_ERR(ctx)) {
				fput(file);
				return PTR_ERR(ctx);
			}
			eventfd_ctx_put(ctx);
			ctx = NULL;
		} else {
			ctx = eventfd_ctx_fdget(vf.fd);
			if (IS_ERR(ctx))
				return PTR_ERR(ctx);
		}
	}

	mutex_lock(&vq->mutex);
	switch (cmd) {
	case VHOST_SET_VRING_KICK:
		vhnet_poll_stop(&vq->kick_poll);
		old_file = vq->kick;
		vq->kick = file;
		if (file)
			vhnet_poll_start(&vq->kick_poll, file);
		break;
	case VHOST_SET_VRING_CALL:
		old_ctx = vq->call;
		vq->call = ctx;
		break;
	case VHOST_SET_VRING_ERR:
		old_ctx = vq->err;
		vq->err = ctx;
		break;
	}
	mutex_unlock(&vq->mutex);

	if (old_file)
		fput(old_file);
	if (old_ctx)
		eventfd_ctx_put(old_ctx);
	return 0;
}

static long vhnet_set_backend(struct vhnet_dev *dev, unsigned int cmd,
			      void __user *argp)
{
	struct vhost_vring_file vf;
	struct file *file = NULL, *old;
	struct socket *sock = NULL;
	struct vhnet_vq *vq;
	u16 used_idx = 0;
	long ret;

	if (copy_from_user(&vf, argp, sizeof(vf)))
		return -EFAULT;
	vq = vhnet_vq_get(dev, vf.index);
	if (!vq)
		return -ENOBUFS;

	if (vf.fd != VHOST_FILE_UNBIND) {
		file = fget(vf.fd);
		if (!file)
			return -EBADF;
		sock = vhnet_sock_from_file(file);
		if (IS_ERR(sock)) {
			fput(file);
			return PTR_ERR(sock);
		}
	}

	mutex_lock(&vq->mutex);
	if (file) {
		ret = -EINVAL;
		if (!vq->num || !vq->addr_set)
			goto err;
		ret = vhnet_vq_check_addr(vq->num, vhnet_packed(vq),
					  vq->desc_addr, vq->avail_addr,
					  vq->used_addr, vhnet_iotlb_on(vq));
		if (ret)
			goto err;
		/*
		 * All that can fail, before the old backend goes. Under the
		 * IOTLB the rings are mapped, and used->idx read, by the
		 * first pass (which may have to wait for a miss's answer).
		 */
		if (vhnet_iotlb_on(vq)) {
			vq->rings_ready = false;
		} else {
			ret = vhnet_vq_map_rings(vq);
			if (!ret)
				ret = vhnet_vq_read_used_idx(vq, &used_idx);
		}
		if (ret)
			goto err;
	}
	old = vhnet_vq_detach(vq);
	if (file) {
		vhnet_vq_start(vq, used_idx);
		vq->sock_file = file;
		vq->sock = sock;
		if (vq->index == VHNET_VQ_RX) {
			vq->rx_ring = vhnet_sock_rx_ring(file);
			vhnet_poll_start(&vq->sock_poll, file);
		} else {
			/* A tap or macvtap takes batches of prepared frames. */
			vq->tx_xdp = vhnet_tx_can_batch(file);
		}
		/* Pick up whatever the guest queued before the attach. */
		vhnet_work_queue(dev, &vq->work);
	}
	mutex_unlock(&vq->mutex);
	if (old) {
		vhnet_worker_flush(dev);
		fput(old);
	}
	return 0;
err:
	mutex_unlock(&vq->mutex);
	fput(file);
	return ret;
}

struct vhnet_ioctl {
	unsigned int cmd;
	bool before_owner;	/* allowed on an unowned device */
	long (*fn)(struct vhnet_dev *dev, unsigned int cmd, void __user *argp);
};

static const struct vhnet_ioctl vhnet_ioctls[] = {
	{ VHOST_GET_FEATURES,		true,  vhnet_get_features },
	{ VHOST_SET_FEATURES,		false, vhnet_set_features },
	{ VHOST_GET_BACKEND_FEATURES,	true,  vhnet_get_features },
	{ VHOST_SET_BACKEND_FEATURES,	true,  vhnet_set_features },
	{ VHOST_SET_OWNER,		true,  vhnet_set_owner },
	{ VHOST_RESET_OWNER,		false, vhnet_reset_owner },
#ifdef VHOST_SET_FORK_FROM_OWNER
	{ VHOST_SET_FORK_FROM_OWNER,	true,  vhnet_fork_owner },
	{ VHOST_GET_FORK_FROM_OWNER,	true,  vhnet_fork_owner },
#endif
	{ VHOST_SET_MEM_TABLE,		false, vhnet_set_mem_table },
	{ VHOST_SET_LOG_BASE,		false, vhnet_set_log_base },
	{ VHOST_SET_LOG_FD,		false, vhnet_set_log_fd },
	{ VHOST_SET_VRING_NUM,		false, vhnet_vring_state },
	{ VHOST_SET_VRING_BASE,		false, vhnet_vring_state },
	{ VHOST_GET_VRING_BASE,		false, vhnet_vring_state },
	{ VHOST_SET_VRING_BUSYLOOP_TIMEOUT, false, vhnet_vring_state },
	{ VHOST_GET_VRING_BUSYLOOP_TIMEOUT, false, vhnet_vring_state },
	{ VHOST_SET_VRING_ADDR,		false, vhnet_vring_addr },
	{ VHOST_SET_VRING_KICK,		false, vhnet_vring_file },
	{ VHOST_SET_VRING_CALL,		false, vhnet_vring_file },
	{ VHOST_SET_VRING_ERR,		false, vhnet_vring_file },
	{ VHOST_NET_SET_BACKEND,	false, vhnet_set_backend },
	{ VHNET_GET_STATS,		true,  vhnet_get_stats },
};

static long vhnet_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct vhnet_dev *dev = f->private_data;
	const struct vhnet_ioctl *op = NULL;
	long ret;
	int i;

	for (i = 0; i < ARRAY_SIZE(vhnet_ioctls); i++) {
		if (vhnet_ioctls[i].cmd == cmd) {
			op = &vhnet_ioctls[i];
			break;
		}
	}
	if (!op)
		return -ENOIOCTLCMD;

	mutex_lock(&dev->mutex);
	/* Only the owner's address space may drive an owned device. */
	if (dev->mm ? dev->mm != current->mm : !op->before_owner)
		ret = -EPERM;
	else
		ret = op->fn(dev, cmd, (void __user *)arg);
	mutex_unlock(&dev->mutex);
	return ret;
}

/* The IOTLB's messages (iotlb.c): MISS out, UPDATE and INVALIDATE in. */
static ssize_t vhnet_read(struct file *f, char __user *buf, size_t len,
			  loff_t *pos)
{
	return vhnet_iotlb_read(f->private_data, buf, len,
				f->f_flags & O_NONBLOCK);
}

static ssize_t vhnet_write(struct file *f, const char __user *buf,
			   size_t len, loff_t *pos)
{
	return vhnet_iotlb_write(f->private_data, buf, len);
}

static __poll_t vhnet_poll(struct file *f, poll_table *wait)
{
	return vhnet_iotlb_poll(f->private_data, f, wait);
}

static const struct file_operations vhnet_fops = {
	.owner		= THIS_MODULE,
	.open		= vhnet_open,
	.release	= vhnet_release,
	.read		= vhnet_read,
	.write		= vhnet_write,
	.poll		= vhnet_poll,
	.unlocked_ioctl	= vhnet_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
	.show_fdinfo	= vhnet_show_fdinfo,
};

static struct miscdevice vhnet_misc = {
	.minor	= VHNET_MINOR,
	.name	= "vhnet",
	.fops	= &vhnet_fops,
	.mode	= 0600,
};

/* The drop-in node: the same device under the in-tree module's name. */
static struct miscdevice vhnet_vhost_net_misc = {
	.minor	= VHOST_NET_MINOR,
	.name	= "vhost-net",
	.fops	= &vhnet_fops,
	.mode	= 0600,
};

static int __init vhnet_init(void)
{
	int ret;

	vhnet_debugfs_init();
	ret = misc_register(&vhnet_misc);
	if (ret == -EBUSY) {
		pr_warn("vhnet: misc minor %d taken, using a dynamic one\n",
			VHNET_MINOR);
		vhnet_misc.minor = MISC_DYNAMIC_MINOR;
		ret = misc_register(&vhnet_misc);
	}
	if (ret)
		goto err_debugfs;
	if (vhost_net_node) {
		ret = misc_register(&vhnet_vhost_net_misc);
		if (ret) {
			pr_err("vhnet: cannot serve /dev/vhost-net (misc minor %d): %pe; is the in-tree vhost_net loaded?\n",
			       VHOST_NET_MINOR, ERR_PTR(ret));
			goto err_misc;
		}
	}
	return 0;

err_misc:
	misc_deregister(&vhnet_misc);
err_debugfs:
	vhnet_debugfs_exit();
	return ret;
}

static void __exit vhnet_exit(void)
{
	if (vhost_net_node)
		misc_deregister(&vhnet_vhost_net_misc);
	misc_deregister(&vhnet_misc);
	vhnet_debugfs_exit();
}

module_init(vhnet_init);
module_exit(vhnet_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The vhnet developers");
MODULE_DESCRIPTION("In-kernel virtio-net backend (vhost UAPI)");
MODULE_VERSION(VHNET_VERSION);
MODULE_ALIAS_MISCDEV(VHNET_MINOR);
MODULE_ALIAS("devname:vhnet");
