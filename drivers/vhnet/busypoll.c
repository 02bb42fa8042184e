// SPDX-License-Identifier: GPL-2.0
/*
 * Busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT): before the worker
 * sleeps, it watches the TX avail ring for up to the TX queue's timeout
 * with guest kicks suppressed, so that a guest sending soon after does
 * not exit to notify. Anything else (an RX frame, a kick, a control
 * request) queues work, which ends the polling at once. A period ends at
 * its timeout, when the CPU is wanted or when the worker must stop.
 */
#include <linux/sched.h>
#include <linux/sched/clock.h>

#include "vhnet.h"

/* Whether a polling period is over: early, or at its end. */
static bool vhnet_busy_poll_stop(struct vhnet_dev *dev, u64 end)
{
	return need_resched() || vhnet_worker_stopping(dev) ||
	       !llist_empty(&dev->work_list) || local_clock() >= end;
}

/*
 * One polling period, called by the worker with nothing queued. Returns
 * false if busy polling is off (the worker sleeps), true after a period
 * (the worker looks for work again; it sleeps if none came).
 */
bool vhnet_busy_poll(struct vhnet_dev *dev)
{
	struct vhnet_vq *vq = &dev->vqs[VHNET_VQ_TX];
	bool hit = false, kick = false;
	u16 start, idx;
	u64 end;

	if (!READ_ONCE(vq->busyloop_us))
		return false;
	mutex_lock(&vq->mutex);
	/* Blocked TX waits for socket space, not for the guest. */
	if (!vq->busyloop_us || !vq->sock || vq->broken || vq->tx_blocked ||
	    !vq->rings_ready || vhnet_vq_avail_mark(vq, &start)) {
		mutex_unlock(&vq->mutex);
		return false;
	}
	end = local_clock() + (u64)vq->busyloop_us * NSEC_PER_USEC;
	/*
	 * Snapshot first, then suppress kicks: a buffer posted in between
	 * still kicks (and queues work); one posted after shows in idx.
	 */
	vhnet_vq_disable_notify(vq);
	vq->stats.polls++;
	mutex_unlock(&vq->mutex);

	while (!vhnet_busy_poll_stop(dev, end)) {
		mutex_lock(&vq->mutex);
		/* A detached or broken queue is not ours to poll any more. */
		if (!vq->sock || vq->broken || !vq->rings_ready) {
			mutex_unlock(&vq->mutex);
			return true;
		}
		hit = !vhnet_vq_avail_mark(vq, &idx) && idx != start;
		mutex_unlock(&vq->mutex);
		if (hit)
			break;
		cpu_relax();
	}

	mutex_lock(&vq->mutex);
	if (vq->sock && !vq->broken && vq->rings_ready) {
		if (hit)
			vq->stats.poll_hits++;
		/* Kicks back on; buffers that came meanwhile are taken now. */
		kick = hit || vhnet_vq_enable_notify(vq);
	}
	mutex_unlock(&vq->mutex);
	if (kick)
		vhnet_work_queue(dev, &vq->work);
	return true;
}
