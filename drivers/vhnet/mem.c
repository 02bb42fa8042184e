// SPDX-License-Identifier: GPL-2.0
/* Memory table: guest-physical ranges mapped to the owner's user memory. */
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/vhost.h>

#include "vhnet.h"

static int vhnet_region_cmp(const void *a, const void *b)
{
	const struct vhnet_region *ra = a, *rb = b;

	if (ra->gpa < rb->gpa)
		return -1;
	return ra->gpa > rb->gpa;
}

/* Copy in and validate a struct vhost_memory; returns a sorted table. */
struct vhnet_mem *vhnet_mem_from_user(const void __user *argp,
				      unsigned int max_regions)
{
	struct vhost_memory hdr;
	struct vhost_memory_region ur;
	const struct vhost_memory_region __user *uregions;
	struct vhnet_mem *mem;
	u32 i;
	int ret;

	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return ERR_PTR(-EFAULT);
	if (hdr.padding)
		return ERR_PTR(-EINVAL);
	/* Bound the allocation before making it. */
	if (hdr.nregions > max_regions)
		return ERR_PTR(-E2BIG);

	mem = kvzalloc(struct_size(mem, regions, hdr.nregions), GFP_KERNEL);
	if (!mem)
		return ERR_PTR(-ENOMEM);

	uregions = argp + offsetof(struct vhost_memory, regions);
	for (i = 0; i < hdr.nregions; i++) {
		struct vhnet_region *r = &mem->regions[i];

		ret = -EFAULT;
		if (copy_from_user(&ur, &uregions[i], sizeof(ur)))
			goto err;
		ret = -EINVAL;
		if (!ur.memory_size || ur.flags_padding)
			goto err;
		if (ur.guest_phys_addr + ur.memory_size - 1 < ur.guest_phys_addr)
			goto err;
		if (ur.userspace_addr + ur.memory_size - 1 < ur.userspace_addr)
			goto err;
		ret = -EFAULT;
		if (!vhnet_uaddr_fits(ur.userspace_addr, ur.memory_size) ||
		    !access_ok((void __user *)(uintptr_t)ur.userspace_addr,
			       ur.memory_size))
			goto err;
		r->gpa = ur.guest_phys_addr;
		r->size = ur.memory_size;
		r->uaddr = ur.userspace_addr;
	}
	mem->nregions = hdr.nregions;
	for (i = 0; i < mem->nregions; i++)
		mem->last = max(mem->last, mem->regions[i].gpa +
					   mem->regions[i].size - 1);

	sort(mem->regions, mem->nregions, sizeof(mem->regions[0]),
	     vhnet_region_cmp, NULL);
	for (i = 1; i < mem->nregions; i++) {
		const struct vhnet_region *prev = &mem->regions[i - 1];

		if (prev->gpa + prev->size - 1 >= mem->regions[i].gpa) {
			ret = -EINVAL;
			goto err;
		}
	}
	return mem;
err:
	kvfree(mem);
	return ERR_PTR(ret);
}

static const struct vhnet_region *vhnet_mem_find(const struct vhnet_mem *mem,
						 u64 gpa)
{
	u32 lo = 0, hi = mem->nregions;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		const struct vhnet_region *r = &mem->regions[mid];

		if (gpa < r->gpa)
			hi = mid;
		else if (gpa - r->gpa >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/*
 * Translate [gpa, gpa + len) into at most @max_iov iovecs, and the guest
 * address of each into @seg_gpa unless it is NULL.  Returns the
 * number used, -EFAULT if any byte lies outside the table or the range
 * wraps, or -ENOBUFS if it needs more than @max_iov entries.
 */
int vhnet_mem_translate(const struct vhnet_mem *mem, u64 gpa, u64 len,
			struct iovec *iov, u64 *seg_gpa, unsigned int max_iov)
{
	unsigned int n = 0;

	if (len && gpa + len - 1 < gpa)
		return -EFAULT;
	while (len) {
		const struct vhnet_region *r = mem ? vhnet_mem_find(mem, gpa) : NULL;
		u64 off, chunk;

		if (!r)
			return -EFAULT;
		if (n == max_iov)
			return -ENOBUFS;
		off = gpa - r->gpa;
		chunk = min(len, r->size - off);
		iov[n].iov_base = (void __user *)(uintptr_t)(r->uaddr + off);
		iov[n].iov_len = chunk;
		if (seg_gpa)
			seg_gpa[n] = gpa;
		n++;
		gpa += chunk;
		len -= chunk;
	}
	return n;
}

/* The guest-physical address of a uaddr range in one memory region. */
u64 vhnet_mem_gpa_of(const struct vhnet_mem *mem, u64 uaddr, u64 len)
{
	u32 i;

	for (i = 0; mem && i < mem->nregions; i++) {
		const struct vhnet_region *r = &mem->regions[i];

		if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size &&
		    len <= r->size - (uaddr - r->uaddr))
			return r->gpa + (uaddr - r->uaddr);
	}
	return VHNET_NO_GPA;
}
