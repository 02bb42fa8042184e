// SPDX-License-Identifier: GPL-2.0
/*
 * Device IOTLB (VIRTIO_F_ACCESS_PLATFORM): with a vIOMMU, ring and buffer
 * addresses are I/O virtual addresses. The owner feeds translations to
 * IOVA ranges of its own memory through write() of struct vhost_msg(_v2)
 * (UPDATE, INVALIDATE); an address with no translation makes the queue
 * report a MISS through read() and poll(), and wait: its handler does
 * nothing until an UPDATE covers the address, which queues it again.
 * Every access is checked against the mapping's permission.
 */
#include <linux/interval_tree.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "vhnet.h"
#include "vhnet_trace.h"

/* Entries a device may hold; an UPDATE beyond it evicts the oldest. */
static unsigned int iotlb_entries = 2048;
module_param(iotlb_entries, uint, 0444);
MODULE_PARM_DESC(iotlb_entries,
		 "IOTLB entries per device; more evict the oldest (default 2048)");

struct vhnet_iotlb_map {
	struct interval_tree_node it;	/* [iova, iova + size - 1] */
	struct list_head link;		/* oldest first */
	u64 uaddr;
	u8 perm;
};

void vhnet_iotlb_init(struct vhnet_dev *dev)
{
	spin_lock_init(&dev->iotlb_lock);
	dev->iotlb = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&dev->iotlb_list);
	dev->iotlb_count = 0;
	init_waitqueue_head(&dev->iotlb_wait);
}

static void vhnet_iotlb_del(struct vhnet_dev *dev, struct vhnet_iotlb_map *m)
{
	interval_tree_remove(&m->it, &dev->iotlb);
	list_del(&m->link);
	dev->iotlb_count--;
	kfree(m);
}

/* Remove what overlaps [start, last]; true if anything was. */
static bool vhnet_iotlb_del_range(struct vhnet_dev *dev, u64 start, u64 last)
{
	struct interval_tree_node *node;
	bool any = false;

	while ((node = interval_tree_iter_first(&dev->iotlb, start, last))) {
		vhnet_iotlb_del(dev, container_of(node, struct vhnet_iotlb_map, it));
		any = true;
	}
	return any;
}

/* Every translation and miss goes; the caller holds dev->mutex. */
void vhnet_iotlb_clear(struct vhnet_dev *dev)
{
	int i;

	spin_lock(&dev->iotlb_lock);
	vhnet_iotlb_del_range(dev, 0, U64_MAX);
	for (i = 0; i < VHNET_NVQS; i++)
		dev->vqs[i].miss_state = VHNET_MISS_NONE;
	spin_unlock(&dev->iotlb_lock);
}

/* Record a miss for the owner to answer; the caller holds iotlb_lock. */
static void vhnet_iotlb_miss(struct vhnet_vq *vq, u64 iova, u8 perm)
{
	/* One outstanding miss per queue: a retry does not flood the owner. */
	if (vq->miss_state != VHNET_MISS_NONE && vq->miss_iova == iova &&
	    vq->miss_perm == perm)
		return;
	vq->miss_iova = iova;
	vq->miss_perm = perm;
	vq->miss_state = VHNET_MISS_QUEUED;
	vq->stats.iotlb_misses++;
	trace_vhnet_iotlb_miss(vq, iova, perm);
	wake_up_interruptible_poll(&vq->dev->iotlb_wait, EPOLLIN | EPOLLRDNORM);
}

/*
 * The translation holding @iova, or NULL after reporting a miss for an
 * access of @perm. The caller holds iotlb_lock.
 */
static struct vhnet_iotlb_map *vhnet_iotlb_find(struct vhnet_vq *vq, u64 iova,
						u8 perm)
{
	struct interval_tree_node *node;

	node = interval_tree_iter_first(&vq->dev->iotlb, iova, iova);
	if (!node) {
		vhnet_iotlb_miss(vq, iova, perm);
		return NULL;
	}
	return container_of(node, struct vhnet_iotlb_map, it);
}

/*
 * Translate IOVA [iova, iova + len) for an access of @perm into at most
 * @max_iov iovecs, with each segment's guest-physical address (for the
 * dirty log; VHNET_NO_GPA outside the memory table) into @seg_gpa
 * unless NULL. Returns the count; -ENOENT on a miss, reported to the
 * owner; -EACCES if the mapping does not permit the access; -EFAULT if
 * the range wraps; -ENOBUFS if it needs more than @max_iov.
 */
static int vhnet_iotlb_translate(struct vhnet_vq *vq, u64 iova, u64 len,
				 u8 perm, struct iovec *iov, u64 *seg_gpa,
				 unsigned int max_iov)
{
	struct vhnet_dev *dev = vq->dev;
	unsigned int n = 0;
	int ret = 0;

	if (len && iova + len - 1 < iova)
		return -EFAULT;
	spin_lock(&dev->iotlb_lock);
	while (len) {
		struct vhnet_iotlb_map *m = vhnet_iotlb_find(vq, iova, perm);
		u64 chunk, uaddr;

		if (!m) {
			ret = -ENOENT;
			break;
		}
		if ((m->perm & perm) != perm) {
			ret = -EACCES;
			break;
		}
		if (n == max_iov) {
			ret = -ENOBUFS;
			break;
		}
		/* (last - iova) + 1 would wrap for a map ending at U64_MAX. */
		chunk = m->it.last - iova < len - 1 ? m->it.last - iova + 1 : len;
		uaddr = m->uaddr + (iova - m->it.start);
		iov[n].iov_base = (void __user *)(uintptr_t)uaddr;
		iov[n].iov_len = chunk;
		if (seg_gpa)
			seg_gpa[n] = vhnet_mem_gpa_of(dev->mem, uaddr, chunk);
		n++;
		iova += chunk;
		len -= chunk;
	}
	spin_unlock(&dev->iotlb_lock);
	return ret ? ret : n;
}

/*
 * Translate a buffer of the guest's: through the IOTLB when it is in use,
 * else through the memory table (where -ENOENT and -EACCES never come).
 * The caller holds vq->mutex.
 */
int vhnet_translate(struct vhnet_vq *vq, u64 addr, u64 len, u8 perm,
		    struct iovec *iov, u64 *seg_gpa, unsigned int max_iov)
{
	if (vhnet_iotlb_on(vq))
		return vhnet_iotlb_translate(vq, addr, len, perm, iov, seg_gpa,
					     max_iov);
	return vhnet_mem_translate(vq->dev->mem, addr, len, iov, seg_gpa,
				   max_iov);
}

/* Copy a small guest object (an indirect descriptor) into @dst. */
int vhnet_copy_from_guest(struct vhnet_vq *vq, void *dst, u64 addr,
			  size_t len)
{
	struct iovec iov[2];
	int n, i;

	n = vhnet_translate(vq, addr, len, VHOST_ACCESS_RO, iov, NULL,
			    ARRAY_SIZE(iov));
	if (n == -ENOBUFS)
		return -EFAULT;
	for (i = 0; i < n; i++) {
		if (copy_from_user(dst, iov[i].iov_base, iov[i].iov_len))
			return -EFAULT;
		dst += iov[i].iov_len;
	}
	return n < 0 ? n : 0;
}

/*
 * A ring part of @size bytes at IOVA @iova as one pointer of the owner's:
 * its translations must be contiguous in the owner's memory. 0, -ENOENT
 * (a miss), or -EIO with the queue flagged broken.
 */
static int vhnet_iotlb_map_part(struct vhnet_vq *vq, u64 iova, u64 size,
				u8 perm, void __user **ptr)
{
	struct vhnet_dev *dev = vq->dev;
	u64 done = 0, first = 0, next = 0;
	const char *why = NULL;
	int ret = 0;

	if (iova + size - 1 < iova) {
		vhnet_vq_break(vq, "ring wraps the IOVA space");
		return -EIO;
	}
	spin_lock(&dev->iotlb_lock);
	/* Each turn takes a different translation: at most iotlb_entries. */
	while (done < size) {
		u64 at = iova + done, u, chunk;
		struct vhnet_iotlb_map *m = vhnet_iotlb_find(vq, at, perm);

		if (!m) {
			ret = -ENOENT;
			break;
		}
		u = m->uaddr + (at - m->it.start);
		if ((m->perm & perm) != perm) {
			why = "ring mapping lacks the access it needs";
			break;
		}
		if (done && u != next) {
			why = "ring not contiguous in the owner's memory";
			break;
		}
		if (!done)
			first = u;
		chunk = min(m->it.last - at, size - done - 1) + 1;
		done += chunk;
		next = u + chunk;
	}
	spin_unlock(&dev->iotlb_lock);
	if (ret)
		return ret;
	if (!why && !access_ok((void __user *)(uintptr_t)first, size))
		why = "ring outside the owner's address space";
	if (why) {
		vhnet_vq_break(vq, why);
		return -EIO;
	}
	*ptr = (void __user *)(uintptr_t)first;
	return 0;
}

/*
 * Make the ring pointers usable for a handler pass: the addresses as
 * given, or their IOTLB translations. Under the IOTLB a backend attach
 * defers reading used->idx to here. 0, -ENOENT (the queue waits for the
 * owner's answer) or -EIO. The caller holds vq->mutex.
 */
/* The owner's pointers to the three ring parts, typed by layout. */
static void vhnet_vq_set_rings(struct vhnet_vq *vq, void __user *desc,
			       void __user *avail, void __user *used)
{
	if (vhnet_packed(vq)) {
		vq->pdesc = desc;
		vq->drv_event = avail;
		vq->dev_event = used;
	} else {
		vq->desc = desc;
		vq->avail = avail;
		vq->used = used;
	}
}

int vhnet_vq_map_rings(struct vhnet_vq *vq)
{
	bool packed = vhnet_packed(vq);
	void __user *desc, *avail, *used;
	u16 used_idx;
	int ret;

	if (vq->rings_ready)
		return 0;
	if (!vq->addr_set)
		return -EIO;
	if (!vhnet_iotlb_on(vq)) {
		vhnet_vq_set_rings(vq, (void __user *)(uintptr_t)vq->desc_addr,
				   (void __user *)(uintptr_t)vq->avail_addr,
				   (void __user *)(uintptr_t)vq->used_addr);
		vq->rings_ready = true;
		return 0;
	}
	/* A packed ring's descriptors are written back as used. */
	ret = vhnet_iotlb_map_part(vq, vq->desc_addr,
				   vhnet_ring_size(vq->num, packed, VHNET_DESC),
				   packed ? VHOST_ACCESS_RW : VHOST_ACCESS_RO,
				   &desc);
	if (!ret)
		ret = vhnet_iotlb_map_part(vq, vq->avail_addr,
					   vhnet_ring_size(vq->num, packed,
							   VHNET_AVAIL),
					   VHOST_ACCESS_RO, &avail);
	/* vhnet reads used->idx once, at attach: writes are what it does. */
	if (!ret)
		ret = vhnet_iotlb_map_part(vq, vq->used_addr,
					   vhnet_ring_size(vq->num, packed,
							   VHNET_USED),
					   VHOST_ACCESS_WO, &used);
	if (ret)
		return ret;
	vhnet_vq_set_rings(vq, desc, avail, used);
	/* The log takes guest-physical addresses: the used ring's own. */
	vq->used_gpa = vhnet_mem_gpa_of(vq->dev->mem, (uintptr_t)used,
					vhnet_ring_size(vq->num, packed,
							VHNET_USED));
	if (vq->used_idx_pending) {
		if (vhnet_vq_read_used_idx(vq, &used_idx)) {
			vhnet_vq_break(vq, "used ring unreadable");
			return -EIO;
		}
		vq->last_used_idx = used_idx;
		vq->used_idx_pending = false;
	}
	vq->rings_ready = true;
	return 0;
}

/* Ring translations may be gone: every queue maps its rings again. */
static void vhnet_iotlb_unmap_rings(struct vhnet_dev *dev)
{
	int i;

	for (i = 0; i < VHNET_NVQS; i++) {
		struct vhnet_vq *vq = &dev->vqs[i];

		/* A pass holds the mutex: none uses an old translation after. */
		mutex_lock(&vq->mutex);
		if (vhnet_iotlb_on(vq))
			vq->rings_ready = false;
		mutex_unlock(&vq->mutex);
	}
}

static int vhnet_iotlb_update(struct vhnet_dev *dev,
			      const struct vhost_iotlb_msg *msg)
{
	u64 last = msg->iova + msg->size - 1;
	struct vhnet_iotlb_map *m;
	bool replaced;
	int i;

	if (!msg->size || last < msg->iova ||
	    msg->uaddr + msg->size - 1 < msg->uaddr ||
	    !vhnet_uaddr_fits(msg->uaddr, msg->size) ||
	    !msg->perm || msg->perm & ~VHOST_ACCESS_RW)
		return -EINVAL;
	if (!access_ok((void __user *)(uintptr_t)msg->uaddr, msg->size))
		return -EFAULT;
	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m)
		return -ENOMEM;
	m->it.start = msg->iova;
	m->it.last = last;
	m->uaddr = msg->uaddr;
	m->perm = msg->perm;

	spin_lock(&dev->iotlb_lock);
	/* A new translation replaces what it overlaps. */
	replaced = vhnet_iotlb_del_range(dev, m->it.start, m->it.last);
	if (dev->iotlb_count >= max(iotlb_entries, 1U)) {
		vhnet_iotlb_del(dev, list_first_entry(&dev->iotlb_list,
						      struct vhnet_iotlb_map,
						      link));
		replaced = true;
	}
	interval_tree_insert(&m->it, &dev->iotlb);
	list_add_tail(&m->link, &dev->iotlb_list);
	dev->iotlb_count++;
	/* Queues waiting for this range go on. */
	for (i = 0; i < VHNET_NVQS; i++) {
		struct vhnet_vq *vq = &dev->vqs[i];

		if (vq->miss_state != VHNET_MISS_NONE &&
		    vq->miss_iova >= m->it.start && vq->miss_iova <= m->it.last) {
			vq->miss_state = VHNET_MISS_NONE;
			vhnet_work_queue(dev, &vq->work);
		}
	}
	spin_unlock(&dev->iotlb_lock);
	if (replaced)
		vhnet_iotlb_unmap_rings(dev);
	return 0;
}

/*
 * One message written by the owner; the caller holds dev->mutex. A
 * malformed message is -EINVAL and changes nothing.
 */
static int vhnet_iotlb_msg(struct vhnet_dev *dev, const struct vhost_msg_v2 *msg)
{
	const struct vhost_iotlb_msg *m = &msg->iotlb;
	bool gone;

	/* The two layouts differ only in v2's asid, where v1 pads. */
	if (msg->type == VHOST_IOTLB_MSG_V2 ? msg->asid : msg->type != VHOST_IOTLB_MSG)
		return -EINVAL;
	switch (m->type) {
	case VHOST_IOTLB_UPDATE:
		return vhnet_iotlb_update(dev, m);
	case VHOST_IOTLB_INVALIDATE:
		if (!m->size || m->iova + m->size - 1 < m->iova)
			return -EINVAL;
		spin_lock(&dev->iotlb_lock);
		gone = vhnet_iotlb_del_range(dev, m->iova, m->iova + m->size - 1);
		spin_unlock(&dev->iotlb_lock);
		if (gone)
			vhnet_iotlb_unmap_rings(dev);
		return 0;
	default:
		return -EINVAL;
	}
}

ssize_t vhnet_iotlb_write(struct vhnet_dev *dev, const char __user *buf,
			  size_t len)
{
	struct vhost_msg_v2 msg;
	int ret;

	if (len < sizeof(msg))
		return -EINVAL;
	if (copy_from_user(&msg, buf, sizeof(msg)))
		return -EFAULT;
	mutex_lock(&dev->mutex);
	/* Translations point into the owner's memory: only it may give them. */
	if (!dev->mm || dev->mm != current->mm)
		ret = -EPERM;
	else
		ret = vhnet_iotlb_msg(dev, &msg);
	mutex_unlock(&dev->mutex);
	return ret ? ret : sizeof(msg);
}

/* A queue with a miss not yet read; the caller holds iotlb_lock. */
static struct vhnet_vq *vhnet_iotlb_queued(struct vhnet_dev *dev)
{
	int i;

	for (i = 0; i < VHNET_NVQS; i++) {
		if (dev->vqs[i].miss_state == VHNET_MISS_QUEUED)
			return &dev->vqs[i];
	}
	return NULL;
}

static bool vhnet_iotlb_readable(struct vhnet_dev *dev)
{
	bool ret;

	spin_lock(&dev->iotlb_lock);
	ret = vhnet_iotlb_queued(dev);
	spin_unlock(&dev->iotlb_lock);
	return ret;
}

/* One MISS message per read(), in the layout the owner negotiated. */
ssize_t vhnet_iotlb_read(struct vhnet_dev *dev, char __user *buf, size_t len,
			 bool nonblock)
{
	struct vhost_msg_v2 msg;
	struct vhnet_vq *vq;
	int ret;

	if (len < sizeof(msg))
		return -EINVAL;
	for (;;) {
		spin_lock(&dev->iotlb_lock);
		vq = vhnet_iotlb_queued(dev);
		if (vq) {
			/* All of it, padding included, is copied out. */
			memset(&msg, 0, sizeof(msg));
			msg.type = READ_ONCE(dev->backend_features) &
				   (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) ?
				   VHOST_IOTLB_MSG_V2 : VHOST_IOTLB_MSG;
			msg.iotlb.iova = vq->miss_iova;
			msg.iotlb.perm = vq->miss_perm;
			msg.iotlb.type = VHOST_IOTLB_MISS;
			vq->miss_state = VHNET_MISS_SENT;
		}
		spin_unlock(&dev->iotlb_lock);
		if (vq)
			break;
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(dev->iotlb_wait,
					       vhnet_iotlb_readable(dev));
		if (ret)
			return ret;
	}
	if (copy_to_user(buf, &msg, sizeof(msg))) {
		spin_lock(&dev->iotlb_lock);
		if (vq->miss_state == VHNET_MISS_SENT)
			vq->miss_state = VHNET_MISS_QUEUED;
		spin_unlock(&dev->iotlb_lock);
		return -EFAULT;
	}
	return sizeof(msg);
}

__poll_t vhnet_iotlb_poll(struct vhnet_dev *dev, struct file *f,
			  poll_table *wait)
{
	poll_wait(f, &dev->iotlb_wait, wait);
	return EPOLLOUT | EPOLLWRNORM |
	       (vhnet_iotlb_readable(dev) ? EPOLLIN | EPOLLRDNORM : 0);
}
