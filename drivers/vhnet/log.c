// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty-page log for live migration (VHOST_F_LOG_ALL): a bitmap in the
 * owner's memory (VHOST_SET_LOG_BASE), bit n of byte b standing for the
 * 4 KiB guest page 8 * b + n.  It covers the memory table, and no bit is
 * ever set for an address outside it: the bitmap userspace must provide
 * is what the table implies, so a write never lands past it.
 */
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/highmem.h>
#include <linux/eventfd.h>
#include <linux/uaccess.h>

#include "vhnet.h"
#include "vhnet_trace.h"
#include "compat.h"

#define VHNET_LOG_SHIFT		12	/* VHOST_PAGE_SIZE */

/* Breaks migration on purpose: shows that the migration test catches it. */
static bool debug_skip_rx_log;
module_param(debug_skip_rx_log, bool, 0644);
MODULE_PARM_DESC(debug_skip_rx_log,
		 "Debug only, breaks live migration: do not log RX buffer writes");
#define VHNET_LOG_BITS_PER_PAGE	(PAGE_SIZE * BITS_PER_BYTE)

/* Bitmap bytes the memory table needs: a bit per page up to mem->last. */
size_t vhnet_log_bytes(const struct vhnet_mem *mem)
{
	if (!mem || !mem->nregions)
		return 0;
	return DIV_ROUND_UP((mem->last >> VHNET_LOG_SHIFT) + 1, BITS_PER_BYTE);
}

/* -EFAULT unless @base can hold the bitmap for @mem. */
int vhnet_log_check(const struct vhnet_mem *mem, void __user *base)
{
	size_t bytes = vhnet_log_bytes(mem);

	if (!vhnet_uaddr_fits((uintptr_t)base, bytes) || !access_ok(base, bytes))
		return -EFAULT;
	return 0;
}

static int vhnet_log_fail(struct vhnet_vq *vq, const char *why)
{
	vq->stats.log_errors++;
	vhnet_vq_break(vq, why);
	return -EIO;
}

/* Set the bits of @n pages from @pg, all in one page of the bitmap. */
static int vhnet_log_set(struct vhnet_vq *vq, u64 pg, u64 n)
{
	unsigned long uaddr = (uintptr_t)vq->dev->log_base + pg / BITS_PER_BYTE;
	unsigned long bit = offset_in_page(uaddr) * BITS_PER_BYTE +
			    pg % BITS_PER_BYTE;
	struct page *page;
	void *kaddr;

	if (pin_user_pages_fast(uaddr & PAGE_MASK, 1, FOLL_WRITE, &page) != 1)
		return vhnet_log_fail(vq, "dirty log unwritable");
	kaddr = kmap_local_page(page);
	/* Atomic: the owner clears bits while we set them. */
	while (n--)
		set_bit(bit++, kaddr);
	kunmap_local(kaddr);
	unpin_user_pages_dirty_lock(&page, 1, true);
	return 0;
}

/*
 * Log a device write of [gpa, gpa + len), made before the call. A range
 * outside the memory table, or a bitmap that cannot be written, breaks
 * the queue. The caller holds vq->mutex (dev->mem, dev->log_base).
 */
int vhnet_log_write(struct vhnet_vq *vq, u64 gpa, u64 len)
{
	const struct vhnet_mem *mem = vq->dev->mem;
	u64 pg, last;

	if (!len)
		return 0;
	if (gpa + len - 1 < gpa || !mem || !mem->nregions ||
	    gpa + len - 1 > mem->last)
		return vhnet_log_fail(vq, "dirty log write outside the memory table");
	if (!vq->dev->log_base)
		return vhnet_log_fail(vq, "dirty log base not set");
	/* The data must be visible before the bit that says it changed. */
	smp_wmb();
	pg = gpa >> VHNET_LOG_SHIFT;
	last = (gpa + len - 1) >> VHNET_LOG_SHIFT;
	while (pg <= last) {
		unsigned long uaddr = (uintptr_t)vq->dev->log_base +
				      pg / BITS_PER_BYTE;
		u64 room = VHNET_LOG_BITS_PER_PAGE -
			   offset_in_page(uaddr) * BITS_PER_BYTE -
			   pg % BITS_PER_BYTE;
		u64 n = min(last - pg + 1, room);

		if (vhnet_log_set(vq, pg, n))
			return -EIO;
		pg += n;
	}
	vq->stats.log_writes++;
	vq->log_pending = true;
	trace_vhnet_log(vq, gpa, len);
	return 0;
}

/* Log a write to the used ring at byte @off, if the ring is logged. */
int vhnet_log_used(struct vhnet_vq *vq, size_t off, size_t len)
{
	if (!vhnet_logging(vq) || !vq->log_used)
		return 0;
	/* Under the IOTLB log_guest_addr is an IOVA: use the translation. */
	if (vhnet_iotlb_on(vq))
		return vhnet_log_write(vq, vq->used_gpa + off, len);
	return vhnet_log_write(vq, vq->log_addr + off, len);
}

/* Log a write to a packed ring's descriptor at byte @off, if logged. */
int vhnet_log_desc(struct vhnet_vq *vq, size_t off, size_t len)
{
	u64 gpa;

	if (!vhnet_logging(vq) || !vq->log_used)
		return 0;
	/* Where the ring is now: the memory table may have changed. */
	gpa = vhnet_mem_gpa_of(vq->dev->mem, (uintptr_t)vq->pdesc + off, len);
	if (gpa == VHNET_NO_GPA)
		return vhnet_log_fail(vq, "descriptor ring outside the memory table");
	return vhnet_log_write(vq, gpa, len);
}

/* Log the first @len bytes of vq->iov[0..niov), just written to. */
int vhnet_log_iov(struct vhnet_vq *vq, unsigned int niov, size_t len)
{
	unsigned int i;

	if (!vhnet_logging(vq) || READ_ONCE(debug_skip_rx_log))
		return 0;
	for (i = 0; i < niov && len; i++) {
		size_t n = min(len, vq->iov[i].iov_len);

		if (vhnet_log_write(vq, vq->iov_gpa[i], n))
			return -EIO;
		len -= n;
	}
	return 0;
}

/* Tell the owner (VHOST_SET_LOG_FD) that bits were set since last time. */
void vhnet_log_signal(struct vhnet_vq *vq)
{
	if (!vq->log_pending)
		return;
	vq->log_pending = false;
	if (vq->dev->log_ctx)
		vhnet_eventfd_signal(vq->dev->log_ctx);
}
