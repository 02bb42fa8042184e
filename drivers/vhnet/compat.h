/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel API differences between the supported kernels (6.1 and 6.12). */
#ifndef _VHNET_COMPAT_H
#define _VHNET_COMPAT_H

#include <linux/version.h>
#include <linux/eventfd.h>

/* eventfd_signal() lost its count argument in 6.8. */
static inline void vhnet_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

#endif /* _VHNET_COMPAT_H */
