/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences between the supported kernels (6.1 and 6.12).
 * Kbuild detects each one from the target's headers.
 */
#ifndef _VHNET_COMPAT_H
#define _VHNET_COMPAT_H

#include <linux/eventfd.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/mm.h>
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

/* Free a page fragment cache's page (6.12 has a helper for it). */
static inline void vhnet_frag_cache_drain(struct page_frag_cache *nc)
{
#ifdef VHNET_HAVE_FRAG_CACHE_DRAIN
	page_frag_cache_drain(nc);
#else
	if (nc->va)
		__page_frag_cache_drain(virt_to_head_page(nc->va),
					nc->pagecnt_bias);
	nc->va = NULL;
#endif
}

/*
 * The worker task: fn runs with the task state TASK_INTERRUPTIBLE and
 * returns false to sleep; killed runs in the task if the owner dies first.
 *
 * - A vhost_task (6.4+; here 6.12), the default where it exists: a thread
 *   of the owner, in its cgroups and RLIMIT_NPROC, that dies with it, even
 *   in a fault that the owner's own userfaultfd will never answer.
 * - A kthread (6.1, or VHOST_FORK_OWNER_KTHREAD) in the owner's mm and
 *   cgroups. It lives until the device is released, which first ends a
 *   fault it is blocked in with a kernel SIGKILL (vhnet_task_interrupt()).
 */
#include <linux/kthread.h>
#include <linux/cgroup.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#ifdef VHNET_HAVE_VHOST_TASK
#include <linux/sched/vhost_task.h>
#endif

struct vhnet_task {
	struct task_struct *kthread;
#ifdef VHNET_HAVE_VHOST_TASK
	struct vhost_task *vtsk;
#endif
	bool (*fn)(void *data);
	void *data;
	struct mm_struct *mm;
};

/* Whether this kernel can give a device a vhost_task worker. */
static inline bool vhnet_have_vhost_task(void)
{
#ifdef VHNET_HAVE_VHOST_TASK
	return true;
#else
	return false;
#endif
}

static inline int vhnet_kthread_fn(void *arg)
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

static inline int vhnet_kthread_start(struct vhnet_task *t, const char *name)
{
	int ret;

	t->mm = current->mm;
	t->kthread = kthread_create(vhnet_kthread_fn, t, "%s", name);
	if (IS_ERR(t->kthread))
		return PTR_ERR(t->kthread);
	/* The owner's CPU and I/O limits apply to the work done for it. */
	ret = cgroup_attach_task_all(current, t->kthread);
	if (ret) {
		kthread_stop(t->kthread);
		return ret;
	}
	wake_up_process(t->kthread);
	return 0;
}

static inline struct vhnet_task *
vhnet_task_create(bool (*fn)(void *), void (*killed)(void *), void *data,
		  const char *name, bool vhost_task)
{
	struct vhnet_task *t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	int ret = 0;

	if (!t)
		return ERR_PTR(-ENOMEM);
	t->fn = fn;
	t->data = data;
#ifdef VHNET_HAVE_VHOST_TASK
	if (vhost_task) {
		t->vtsk = vhost_task_create(fn, killed, data, name);
		if (IS_ERR(t->vtsk))
			ret = PTR_ERR(t->vtsk);
		else
			vhost_task_start(t->vtsk);
	} else {
		ret = vhnet_kthread_start(t, name);
	}
#else
	ret = vhnet_kthread_start(t, name);
#endif
	if (ret) {
		kfree(t);
		return ERR_PTR(ret);
	}
	return t;
}

static inline void vhnet_task_wake(struct vhnet_task *t)
{
	if (t->kthread)
		wake_up_process(t->kthread);
#ifdef VHNET_HAVE_VHOST_TASK
	else
		vhost_task_wake(t->vtsk);
#endif
}

/* End a fault the kthread waits in; a vhost_task's ends if the owner dies. */
static inline void vhnet_task_interrupt(struct vhnet_task *t)
{
	if (t->kthread)
		send_sig(SIGKILL, t->kthread, 1);
}

static inline void vhnet_task_stop(struct vhnet_task *t)
{
	if (t->kthread)
		kthread_stop(t->kthread);
#ifdef VHNET_HAVE_VHOST_TASK
	else
		vhost_task_stop(t->vtsk);
#endif
	kfree(t);
}

#endif /* _VHNET_COMPAT_H */
