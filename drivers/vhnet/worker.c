// SPDX-License-Identifier: GPL-2.0
/* Per-device worker thread and the wakeups that feed it. */
#include <linux/completion.h>
#include <linux/file.h>
#include <linux/sched/signal.h>

#include "vhnet.h"
#include "vhnet_trace.h"

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
	vhnet_task_wake(dev->worker);
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

/*
 * Take @work off without running it, so that it can be queued again (by a
 * new worker); a waiting flush is told that nothing more will run.
 */
static void vhnet_work_drop(struct vhnet_work *work)
{
	clear_bit(VHNET_WORK_QUEUED, &work->flags);
	if (work->fn == vhnet_flush_fn)
		work->fn(work);
}

static void vhnet_worker_drain(struct vhnet_dev *dev)
{
	struct vhnet_work *work, *next;

	llist_for_each_entry_safe(work, next, llist_del_all(&dev->work_list), node)
		vhnet_work_drop(work);
}

/*
 * One pass of the worker: run what is queued, or after work one busy-
 * polling period. False: nothing to do, sleep (the state is already
 * TASK_INTERRUPTIBLE, so a wakeup since the last look is not lost).
 */
static bool vhnet_worker_pass(void *data)
{
	struct vhnet_dev *dev = data;
	struct vhnet_work *work, *next;
	struct llist_node *list;

	if (vhnet_worker_stopping(dev)) {
		vhnet_worker_drain(dev);
		return false;
	}
	list = llist_del_all(&dev->work_list);
	if (!list && dev->worker_polled)
		return false;
	__set_current_state(TASK_RUNNING);
	if (!list) {
		/* One busy-polling period after work, then sleep. */
		dev->worker_polled = true;
		vhnet_busy_poll(dev);
		return true;
	}
	dev->worker_polled = false;
	list = llist_reverse_order(list);
	llist_for_each_entry_safe(work, next, list, node) {
		/*
		 * Between handlers: a handler that requeues itself must not
		 * keep a stopping worker here.  Work not run stays queueable.
		 */
		if (vhnet_worker_stopping(dev)) {
			vhnet_work_drop(work);
			continue;
		}
		/* Clear before running, so a wakeup meanwhile requeues. */
		clear_bit_unlock(VHNET_WORK_QUEUED, &work->flags);
		work->fn(work);
		cond_resched();
	}
	return true;
}

/* The owner died (vhost_task only): this worker runs nothing more. */
static void vhnet_worker_killed(void *data)
{
	struct vhnet_dev *dev = data;

	WRITE_ONCE(dev->worker_dead, true);
	/* Pairs with vhnet_worker_flush(): a flush queued now is drained. */
	smp_mb();
	vhnet_worker_drain(dev);
}

int vhnet_worker_start(struct vhnet_dev *dev)
{
	struct vhnet_task *task;
	char name[TASK_COMM_LEN];

	init_llist_head(&dev->work_list);
	dev->worker_stop = false;
	dev->worker_dead = false;
	dev->worker_polled = false;
	snprintf(name, sizeof(name), "vhnet-%d", dev->owner_pid);
	task = vhnet_task_create(vhnet_worker_pass, vhnet_worker_killed, dev,
				 name, dev->fork_owner);
	if (IS_ERR(task))
		return PTR_ERR(task);
	dev->worker = task;
	return 0;
}

/*
 * First step of a teardown: the worker runs no more handlers, and one
 * blocked in a fault returns (6.1; a vhost_task dies with its owner), so
 * that the queue mutexes it holds can be taken.
 */
void vhnet_worker_halt(struct vhnet_dev *dev)
{
	if (!dev->worker)
		return;
	WRITE_ONCE(dev->worker_stop, true);
	vhnet_task_interrupt(dev->worker);
}

void vhnet_worker_stop(struct vhnet_dev *dev)
{
	if (!dev->worker)
		return;
	vhnet_worker_halt(dev);
	vhnet_task_stop(dev->worker);
	dev->worker = NULL;
	/* Work that never ran must be queueable again by a new worker. */
	vhnet_worker_drain(dev);
}

/* Wait until everything queued before this call has run (or never will). */
void vhnet_worker_flush(struct vhnet_dev *dev)
{
	struct vhnet_flush f;

	if (!dev->worker || READ_ONCE(dev->worker_dead))
		return;
	vhnet_work_init(&f.work, vhnet_flush_fn);
	init_completion(&f.done);
	vhnet_work_queue(dev, &f.work);
	/* Pairs with vhnet_worker_killed(): one of us drains this flush. */
	smp_mb();
	if (READ_ONCE(dev->worker_dead))
		vhnet_worker_drain(dev);
	wait_for_completion(&f.done);
}

static int vhnet_poll_wake(wait_queue_entry_t *wait, unsigned int mode,
			   int sync, void *key)
{
	struct vhnet_poll *poll = container_of(wait, struct vhnet_poll, wait);

	struct vhnet_vq *vq = container_of(poll->work, struct vhnet_vq, work);

	if (!(key_to_poll(key) & poll->mask))
		return 0;
	if (poll == &vq->kick_poll)
		trace_vhnet_kick(vq);
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
