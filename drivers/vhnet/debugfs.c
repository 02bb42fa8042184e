// SPDX-License-Identifier: GPL-2.0
/* Read-only per-device counters: /sys/kernel/debug/vhnet/<pid>-<id>/stats */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/atomic.h>
#include <linux/math64.h>

#include "vhnet.h"

static struct dentry *vhnet_debugfs_root;
static atomic_t vhnet_dev_ids = ATOMIC_INIT(0);

static int vhnet_stats_show(struct seq_file *s, void *unused)
{
	struct vhnet_dev *dev = s->private;
	static const char * const names[VHNET_NVQS] = { "rx", "tx" };
	int i;

	for (i = 0; i < VHNET_NVQS; i++) {
		const struct vhnet_vq *vq = &dev->vqs[i];
		const struct vhnet_vq_stats *st = &vq->stats;

		/* The worker writes the stats alone (kicks is atomic): racy reads are fine. */
		seq_printf(s, "%s packets %llu bytes %llu errors %llu signals %llu batches %llu broken %llu last_error %d turns_max %u pass_us_max %llu kicks %lld busyloop_us %u polls %llu poll_hits %llu iotlb_misses %llu log_writes %llu log_errors %llu\n",
			   names[i], READ_ONCE(st->packets), READ_ONCE(st->bytes),
			   READ_ONCE(st->errors), READ_ONCE(st->signals),
			   READ_ONCE(st->batches),
			   READ_ONCE(st->broken), READ_ONCE(st->last_error),
			   READ_ONCE(st->turns_max),
			   div_u64(READ_ONCE(st->pass_ns_max), NSEC_PER_USEC),
			   (s64)atomic64_read(&vq->kick_poll.wakeups),
			   READ_ONCE(vq->busyloop_us), READ_ONCE(st->polls),
			   READ_ONCE(st->poll_hits), READ_ONCE(st->iotlb_misses),
			   READ_ONCE(st->log_writes),
			   READ_ONCE(st->log_errors));
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vhnet_stats);

void vhnet_debugfs_add(struct vhnet_dev *dev)
{
	char name[32];

	if (IS_ERR_OR_NULL(vhnet_debugfs_root))
		return;
	snprintf(name, sizeof(name), "%d-%d", dev->owner_pid,
		 atomic_inc_return(&vhnet_dev_ids));
	dev->debugfs = debugfs_create_dir(name, vhnet_debugfs_root);
	debugfs_create_file("stats", 0400, dev->debugfs, dev, &vhnet_stats_fops);
}

void vhnet_debugfs_remove(struct vhnet_dev *dev)
{
	debugfs_remove(dev->debugfs);
	dev->debugfs = NULL;
}

void vhnet_debugfs_init(void)
{
	vhnet_debugfs_root = debugfs_create_dir("vhnet", NULL);
}

void vhnet_debugfs_exit(void)
{
	debugfs_remove(vhnet_debugfs_root);
}
