/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences between the supported kernels (6.1 and 6.12).
 * Kbuild detects each one from the target's headers.
 */
#ifndef _VHNET_COMPAT_H
#define _VHNET_COMPAT_H

#include <linux/eventfd.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/slab.h>

/* eventfd_signal() lost its count argument in 6.8. */
static inline void vhnet_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef VHNET_EVENTFD_SIGNAL_NO_COUNT
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * The worker task: fn runs with the task state TASK_INTERRUPTIBLE and
 * returns false to sleep; killed runs in the task if the owner dies first.
 */
#ifdef VHNET_HAVE_VHOST_TASK
#include <linux/sched/vhost_task.h>

/*
 * 6.4+: a vhost_task, a thread of the owner: its mm, cgroups and
 * RLIMIT_NPROC, and it dies with the owner, even in a fault that the
 * owner's own userfaultfd will never answer.
 */
struct vhnet_task {
	struct vhost_task *vtsk;
};

static inline struct vhnet_task *
vhnet_task_create(bool (*fn)(void *), void (*killed)(void *), void *data,
		  const char *name)
{
	struct vhnet_task *t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);

	if (!t)
		return ERR_PTR(-ENOMEM);
	t->vtsk = vhost_task_create(fn, killed, data, name);
	if (IS_ERR(t->vtsk)) {
		long err = PTR_ERR(t->vtsk);

		kfree(t);
		return ERR_PTR(err);
	}
	vhost_task_start(t->vtsk);
	return t;
}

static inline void vhnet_task_wake(struct vhnet_task *t)
{
	vhost_task_wake(t->vtsk);
}

/* Nothing to do: a blocked fault ends when the owner is killed. */
static inline void vhnet_task_interrupt(struct vhnet_task *t)
{
}

static inline void vhnet_task_stop(struct vhnet_task *t)
{
	vhost_task_stop(t->vtsk);
	kfree(t);
}
#else
#include <linux/kthread.h>
#include <linux/cgroup.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>

/*
 * 6.1: a kthread in the owner's mm and cgroups. It outlives the owner
 * until the device is released, and vhnet_task_interrupt() ends a fault
 * it is blocked in (a userfaultfd nobody answers) with a kernel SIGKILL.
 */
struct vhnet_task {
	struct task_struct *task;
	bool (*fn)(void *data);
	void *data;
	struct mm_struct *mm;
};

static inline int vhnet_task_fn(void *arg)
{
	struct vhnet_task *t = arg;

	allow_kernel_signal(SIGKILL);
	kthread_use_mm(t->mm);
	for (;;) {
		/* vhnet_task_interrupt()'s SIGKILL has ended any fault by now. */
		if (signal_pending(current))
			flush_signals(current);
		/* Set the state before looking for work: no lost wakeups. */
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		if (!t->fn(t->data))
			schedule();
	}
	kthread_unuse_mm(t->mm);
	return 0;
}

static inline struct vhnet_task *
vhnet_task_create(bool (*fn)(void *), void (*killed)(void *), void *data,
		  const char *name)
{
	struct vhnet_task *t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	int ret;

	if (!t)
		return ERR_PTR(-ENOMEM);
	t->fn = fn;
	t->data = data;
	t->mm = current->mm;
	t->task = kthread_create(vhnet_task_fn, t, "%s", name);
	if (IS_ERR(t->task)) {
		ret = PTR_ERR(t->task);
		goto err;
	}
	/* The owner's CPU and I/O limits apply to the work done for it. */
	ret = cgroup_attach_task_all(current, t->task);
	if (ret) {
		kthread_stop(t->task);
		goto err;
	}
	wake_up_process(t->task);
	return t;
err:
	kfree(t);
	return ERR_PTR(ret);
}

static inline void vhnet_task_wake(struct vhnet_task *t)
{
	wake_up_process(t->task);
}

static inline void vhnet_task_interrupt(struct vhnet_task *t)
{
	send_sig(SIGKILL, t->task, 1);
}

static inline void vhnet_task_stop(struct vhnet_task *t)
{
	kthread_stop(t->task);
	kfree(t);
}
#endif

#endif /* _VHNET_COMPAT_H */
