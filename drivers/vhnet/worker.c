// SPDX-License-Identifier: GPL-2.0
/* Per-device worker thread and the wakeups that feed it. */
#include <linux/kthread.h>
#include <linux/cgroup.h>
#include <linux/sched/mm.h>
#include <linux/completion.h>
#include <linux/file.h>

#include "vhnet.h"

void vhnet_work_init(struct vhnet_work *work, void (*fn)(struct vhnet_work *))
{
	clear_bit(VHNET_WORK_QUEUED, &work->flags);
	work->fn = fn;
}

/* Safe from atomic context (wait-queue callbacks). */
void vhnet_work_queue(struct vhnet_dev *dev, struct vhnet_work *work)
{
	if (!dev->worker)
		return;
	if (test_and_set_bit(VHNET_WORK_QUEUED, &work->flags))
		return;
	llist_add(&work->node, &dev->work_list);
	wake_up_process(dev->worker);
}

static int vhnet_worker_fn(void *data)
{
	struct vhnet_dev *dev = data;
	struct vhnet_work *work, *next;
	struct llist_node *list;
	bool polled = false;

	kthread_use_mm(dev->mm);
	for (;;) {
		/* Set the state before checking for work: no lost wakeups. */
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		list = llist_del_all(&dev->work_list);
		if (!list && !polled) {
			/* One busy-polling period after work, then sleep. */
			__set_current_state(TASK_RUNNING);
			polled = true;
			vhnet_busy_poll(dev);
			continue;
		}
		if (!list) {
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);
		polled = false;
		list = llist_reverse_order(list);
		llist_for_each_entry_safe(work, next, list, node) {
			/*
			 * Between passes: a handler that requeues itself must
			 * not keep a stopping worker here.  Work not run stays
			 * queueable (vhnet_worker_stop() does the same for the
			 * list); no flush can be pending while stopping.
			 */
			if (kthread_should_stop()) {
				clear_bit(VHNET_WORK_QUEUED, &work->flags);
				continue;
			}
			/* Clear before running, so a wakeup meanwhile requeues. */
			clear_bit_unlock(VHNET_WORK_QUEUED, &work->flags);
			work->fn(work);
			cond_resched();
		}
	}
	kthread_unuse_mm(dev->mm);
	return 0;
}

int vhnet_worker_start(struct vhnet_dev *dev)
{
	struct task_struct *task;
	int ret;

	init_llist_head(&dev->work_list);
	task = kthread_create(vhnet_worker_fn, dev, "vhnet-%d", dev->owner_pid);
	if (IS_ERR(task))
		return PTR_ERR(task);
	/* The owner's CPU and I/O limits apply to the work done for it. */
	ret = cgroup_attach_task_all(current, task);
	if (ret) {
		kthread_stop(task);
		return ret;
	}
	dev->worker = task;
	wake_up_process(task);
	return 0;
}

void vhnet_worker_stop(struct vhnet_dev *dev)
{
	struct vhnet_work *work, *next;

	if (!dev->worker)
		return;
	kthread_stop(dev->worker);
	dev->worker = NULL;
	/* Work that never ran must be queueable again by a new worker. */
	llist_for_each_entry_safe(work, next, llist_del_all(&dev->work_list), node)
		clear_bit(VHNET_WORK_QUEUED, &work->flags);
}

struct vhnet_flush {
	struct vhnet_work work;
	struct completion done;
};

static void vhnet_flush_fn(struct vhnet_work *work)
{
	struct vhnet_flush *f = container_of(work, struct vhnet_flush, work);

	complete(&f->done);
}

/* Wait until everything queued before this call has run. */
void vhnet_worker_flush(struct vhnet_dev *dev)
{
	struct vhnet_flush f;

	if (!dev->worker)
		return;
	vhnet_work_init(&f.work, vhnet_flush_fn);
	init_completion(&f.done);
	vhnet_work_queue(dev, &f.work);
	wait_for_completion(&f.done);
}

static int vhnet_poll_wake(wait_queue_entry_t *wait, unsigned int mode,
			   int sync, void *key)
{
	struct vhnet_poll *poll = container_of(wait, struct vhnet_poll, wait);

	if (!(key_to_poll(key) & poll->mask))
		return 0;
	atomic64_inc(&poll->wakeups);
	vhnet_work_queue(poll->dev, poll->work);
	return 0;
}

static void vhnet_poll_queue_proc(struct file *file, wait_queue_head_t *wqh,
				  poll_table *pt)
{
	struct vhnet_poll *poll = container_of(pt, struct vhnet_poll, table);

	/* A file registers at most one queue with us. */
	if (poll->wqh)
		return;
	poll->wqh = wqh;
	add_wait_queue(wqh, &poll->wait);
}

void vhnet_poll_init(struct vhnet_poll *poll, struct vhnet_dev *dev,
		     struct vhnet_work *work, __poll_t mask)
{
	init_poll_funcptr(&poll->table, vhnet_poll_queue_proc);
	init_waitqueue_func_entry(&poll->wait, vhnet_poll_wake);
	poll->table._key = mask;
	poll->mask = mask;
	poll->dev = dev;
	poll->work = work;
	poll->wqh = NULL;
	atomic64_set(&poll->wakeups, 0);
}

/* Hook @file's wait queue; queue the work now if it is already ready. */
void vhnet_poll_start(struct vhnet_poll *poll, struct file *file)
{
	__poll_t mask;

	if (poll->wqh)
		return;
	mask = vfs_poll(file, &poll->table);
	if (mask & poll->mask)
		vhnet_work_queue(poll->dev, poll->work);
}

void vhnet_poll_stop(struct vhnet_poll *poll)
{
	if (!poll->wqh)
		return;
	remove_wait_queue(poll->wqh, &poll->wait);
	poll->wqh = NULL;
}
