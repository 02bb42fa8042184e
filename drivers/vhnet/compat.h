/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences between the supported kernels (6.1 and 6.12).
 * Kbuild detects each one from the target's headers.
 */
#ifndef _VHNET_COMPAT_H
#define _VHNET_COMPAT_H

#include <linux/eventfd.h>

/* eventfd_signal() lost its count argument in 6.8. */
static inline void vhnet_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef VHNET_EVENTFD_SIGNAL_NO_COUNT
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

#endif /* _VHNET_COMPAT_H */
