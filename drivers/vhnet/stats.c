// SPDX-License-Identifier: GPL-2.0
/*
 * Counters for userspace without debugfs: VHNET_GET_STATS for the owner,
 * and the device file's fdinfo (/proc/<pid>/fdinfo/<fd>) for tools.
 */
#include <linux/fs.h>
#include <linux/if_tap.h>
#include <linux/if_tun.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/vhnet.h>

#include "vhnet.h"

static u32 vhnet_backend_kind(struct file *file)
{
	if (!file)
		return VHNET_BACKEND_NONE;
	if (!IS_ERR(tun_get_socket(file)))
		return VHNET_BACKEND_TAP;
	if (!IS_ERR(tap_get_socket(file)))
		return VHNET_BACKEND_MACVTAP;
	return VHNET_BACKEND_PACKET;
}

/*
 * A snapshot; the caller holds dev->mutex (owner, features). -EINTR if a
 * fatal signal came while a queue's worker pass held its mutex.
 */
static int vhnet_stats_fill(struct vhnet_dev *dev, struct vhnet_stats *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	st->owner_pid = dev->owner_pid;
	st->nqueues = VHNET_QUEUES;
	st->features = dev->features;
	for (i = 0; i < VHNET_QUEUES; i++) {
		struct vhnet_vq *vq = &dev->vqs[i];
		struct vhnet_queue_stats *q = &st->queue[i];

		/* The worker counts under vq->mutex: one pass's worth at once. */
		if (mutex_lock_killable(&vq->mutex))
			return -EINTR;
		q->packets = vq->stats.packets;
		q->bytes = vq->stats.bytes;
		q->errors = vq->stats.errors;
		q->signals = vq->stats.signals;
		q->batches = vq->stats.batches;
		q->broken = vq->stats.broken;
		q->last_error = vq->stats.last_error;
		q->backend = vhnet_backend_kind(vq->sock_file);
		if (vq->sock_file)
			q->backend_ino = file_inode(vq->sock_file)->i_ino;
		mutex_unlock(&vq->mutex);
		q->kicks = atomic64_read(&vq->kick_poll.wakeups);
	}
	return 0;
}

long vhnet_get_stats(struct vhnet_dev *dev, unsigned int cmd,
		     void __user *argp)
{
	struct vhnet_stats st;
	int ret;

	ret = vhnet_stats_fill(dev, &st);
	if (ret)
		return ret;
	return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
}

void vhnet_show_fdinfo(struct seq_file *m, struct file *f)
{
	static const char * const kinds[] = {
		[VHNET_BACKEND_NONE] = "none", [VHNET_BACKEND_TAP] = "tap",
		[VHNET_BACKEND_MACVTAP] = "macvtap",
		[VHNET_BACKEND_PACKET] = "packet",
	};
	static const char * const names[VHNET_QUEUES] = { "rx", "tx" };
	struct vhnet_dev *dev = f->private_data;
	struct vhnet_stats st;
	int i, ret;

	/* A reader stuck behind a wedged owner can at least be killed. */
	if (mutex_lock_killable(&dev->mutex))
		return;
	ret = vhnet_stats_fill(dev, &st);
	mutex_unlock(&dev->mutex);
	if (ret)
		return;
	seq_printf(m, "vhnet-owner:\t%d\nvhnet-features:\t%#llx\n",
		   st.owner_pid, st.features);
	for (i = 0; i < VHNET_QUEUES; i++) {
		const struct vhnet_queue_stats *q = &st.queue[i];
		const char *n = names[i];

		seq_printf(m, "vhnet-%s-backend:\t%s\nvhnet-%s-backend-ino:\t%llu\n",
			   n, kinds[q->backend], n, q->backend_ino);
		seq_printf(m, "vhnet-%s-packets:\t%llu\nvhnet-%s-bytes:\t%llu\n",
			   n, q->packets, n, q->bytes);
		seq_printf(m, "vhnet-%s-errors:\t%llu\nvhnet-%s-last-error:\t%d\n",
			   n, q->errors, n, q->last_error);
		seq_printf(m, "vhnet-%s-kicks:\t%llu\nvhnet-%s-signals:\t%llu\n",
			   n, q->kicks, n, q->signals);
		seq_printf(m, "vhnet-%s-batches:\t%llu\nvhnet-%s-broken:\t%llu\n",
			   n, q->batches, n, q->broken);
	}
}
