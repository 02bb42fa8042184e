/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhnet's tracepoints (events/vhnet/ in tracefs). Every event names the
 * device by its owner's pid and the queue by its index (0 RX, 1 TX).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vhnet

#if !defined(_VHNET_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VHNET_TRACE_H

#include <linux/string.h>
#include <linux/tracepoint.h>

#include "vhnet.h"

/* Room for the reason strings of vhnet_vq_break(), the longest 41. */
#define VHNET_TRACE_WHY	48

DECLARE_EVENT_CLASS(vhnet_vq_class,
	TP_PROTO(const struct vhnet_vq *vq),
	TP_ARGS(vq),
	TP_STRUCT__entry(
		__field(pid_t, owner)
		__field(unsigned int, vq)
	),
	TP_fast_assign(
		__entry->owner = vq->dev->owner_pid;
		__entry->vq = vq->index;
	),
	TP_printk("owner=%d vq=%u", __entry->owner, __entry->vq)
);

/* The guest's notify (kick eventfd) woke the queue. */
DEFINE_EVENT(vhnet_vq_class, vhnet_kick,
	TP_PROTO(const struct vhnet_vq *vq),
	TP_ARGS(vq)
);

/* vhnet signalled the call eventfd. */
DEFINE_EVENT(vhnet_vq_class, vhnet_signal,
	TP_PROTO(const struct vhnet_vq *vq),
	TP_ARGS(vq)
);

/* Frames and bytes one worker pass moved (TX: to the socket, RX: in). */
DECLARE_EVENT_CLASS(vhnet_batch_class,
	TP_PROTO(const struct vhnet_vq *vq, u64 frames, u64 bytes),
	TP_ARGS(vq, frames, bytes),
	TP_STRUCT__entry(
		__field(pid_t, owner)
		__field(unsigned int, vq)
		__field(u64, frames)
		__field(u64, bytes)
	),
	TP_fast_assign(
		__entry->owner = vq->dev->owner_pid;
		__entry->vq = vq->index;
		__entry->frames = frames;
		__entry->bytes = bytes;
	),
	TP_printk("owner=%d vq=%u frames=%llu bytes=%llu", __entry->owner,
		  __entry->vq, __entry->frames, __entry->bytes)
);

DEFINE_EVENT(vhnet_batch_class, vhnet_tx_batch,
	TP_PROTO(const struct vhnet_vq *vq, u64 frames, u64 bytes),
	TP_ARGS(vq, frames, bytes)
);

DEFINE_EVENT(vhnet_batch_class, vhnet_rx_batch,
	TP_PROTO(const struct vhnet_vq *vq, u64 frames, u64 bytes),
	TP_ARGS(vq, frames, bytes)
);

/* A frame lost, with the errno it is counted under and why. */
TRACE_EVENT(vhnet_drop,
	TP_PROTO(const struct vhnet_vq *vq, int err, const char *why),
	TP_ARGS(vq, err, why),
	TP_STRUCT__entry(
		__field(pid_t, owner)
		__field(unsigned int, vq)
		__field(int, err)
		__array(char, why, VHNET_TRACE_WHY)
	),
	TP_fast_assign(
		__entry->owner = vq->dev->owner_pid;
		__entry->vq = vq->index;
		__entry->err = err;
		strscpy(__entry->why, why, VHNET_TRACE_WHY);
	),
	TP_printk("owner=%d vq=%u err=%d why=%s", __entry->owner,
		  __entry->vq, __entry->err, __entry->why)
);

/* The queue was flagged broken (err eventfd). */
TRACE_EVENT(vhnet_vq_broken,
	TP_PROTO(const struct vhnet_vq *vq, const char *why),
	TP_ARGS(vq, why),
	TP_STRUCT__entry(
		__field(pid_t, owner)
		__field(unsigned int, vq)
		__array(char, why, VHNET_TRACE_WHY)
	),
	TP_fast_assign(
		__entry->owner = vq->dev->owner_pid;
		__entry->vq = vq->index;
		strscpy(__entry->why, why, VHNET_TRACE_WHY);
	),
	TP_printk("owner=%d vq=%u why=%s", __entry->owner, __entry->vq,
		  __entry->why)
);

/* An IOTLB miss reported to the owner. */
TRACE_EVENT(vhnet_iotlb_miss,
	TP_PROTO(const struct vhnet_vq *vq, u64 iova, u8 perm),
	TP_ARGS(vq, iova, perm),
	TP_STRUCT__entry(
		__field(pid_t, owner)
		__field(unsigned int, vq)
		__field(u64, iova)
		__field(u8, perm)
	),
	TP_fast_assign(
		__entry->owner = vq->dev->owner_pid;
		__entry->vq = vq->index;
		__entry->iova = iova;
		__entry->perm = perm;
	),
	TP_printk("owner=%d vq=%u iova=0x%llx perm=%u", __entry->owner,
		  __entry->vq, __entry->iova, __entry->perm)
);

/* A device write of [gpa, gpa + len) logged in the dirty bitmap. */
TRACE_EVENT(vhnet_log,
	TP_PROTO(const struct vhnet_vq *vq, u64 gpa, u64 len),
	TP_ARGS(vq, gpa, len),
	TP_STRUCT__entry(
		__field(pid_t, owner)
		__field(unsigned int, vq)
		__field(u64, gpa)
		__field(u64, len)
	),
	TP_fast_assign(
		__entry->owner = vq->dev->owner_pid;
		__entry->vq = vq->index;
		__entry->gpa = gpa;
		__entry->len = len;
	),
	TP_printk("owner=%d vq=%u gpa=0x%llx len=%llu", __entry->owner,
		  __entry->vq, __entry->gpa, __entry->len)
);

#endif /* _VHNET_TRACE_H */

/* For define_trace.h: this file, found through Kbuild's -I. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE vhnet_trace
#include <trace/define_trace.h>
