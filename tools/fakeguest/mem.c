// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: guest memory regions and the vhost memory table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fg_mem.h"

#define FG_GUARD	0x100000UL

int fg_mem_init(struct fg_mem *m, __u64 gpa_base, const __u64 *sizes,
		unsigned int n)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t total = 0, off;
	unsigned int i;
	__u64 gpa;
	__u8 *base;

	memset(m, 0, sizeof(*m));
	if (!n || n > FG_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!sizes[i] || sizes[i] % page)
			return -EINVAL;
		total += sizes[i] + FG_GUARD;
	}
	total += FG_GUARD;

	base = mmap(NULL, total, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	m->reserve = base;
	m->reserve_len = total;

	/*
	 * Place the regions in reverse order, each after a guard gap, so that
	 * regions adjacent in GPA space are never adjacent in our address
	 * space.
	 */
	off = FG_GUARD;
	gpa = gpa_base;
	for (i = 0; i < n; i++)
		gpa += sizes[i];
	for (i = n; i-- > 0;) {
		void *p;

		gpa -= sizes[i];
		p = mmap(base + off, sizes[i], PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED) {
			int err = -errno;

			munmap(base, total);
			memset(m, 0, sizeof(*m));
			return err;
		}
		m->region[i].gpa = gpa;
		m->region[i].size = sizes[i];
		m->region[i].hva = p;
		off += sizes[i] + FG_GUARD;
	}
	m->nregions = n;
	m->brk = gpa_base;
	return 0;
}

void fg_mem_fini(struct fg_mem *m)
{
	if (m->reserve)
		munmap(m->reserve, m->reserve_len);
	memset(m, 0, sizeof(*m));
}

__u64 fg_mem_size(const struct fg_mem *m)
{
	__u64 s = 0;
	unsigned int i;

	for (i = 0; i < m->nregions; i++)
		s += m->region[i].size;
	return s;
}

__u64 fg_mem_end(const struct fg_mem *m)
{
	const struct fg_region *r;

	if (!m->nregions)
		return 0;
	r = &m->region[m->nregions - 1];
	return r->gpa + r->size;
}

static const struct fg_region *fg_mem_find(const struct fg_mem *m, __u64 gpa)
{
	unsigned int i;

	for (i = 0; i < m->nregions; i++) {
		const struct fg_region *r = &m->region[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

void *fg_mem_hva(const struct fg_mem *m, __u64 gpa, __u64 len)
{
	const struct fg_region *r = fg_mem_find(m, gpa);

	if (!r || len > r->size - (gpa - r->gpa))
		return NULL;
	return r->hva + (gpa - r->gpa);
}

__u64 fg_mem_gpa(const struct fg_mem *m, const void *hva)
{
	const __u8 *p = hva;
	unsigned int i;

	for (i = 0; i < m->nregions; i++) {
		const struct fg_region *r = &m->region[i];

		if (p >= r->hva && p < r->hva + r->size)
			return r->gpa + (__u64)(p - r->hva);
	}
	return 0;
}

bool fg_mem_valid(const struct fg_mem *m, __u64 gpa, __u64 len)
{
	while (len) {
		const struct fg_region *r = fg_mem_find(m, gpa);
		__u64 chunk;

		if (!r)
			return false;
		chunk = r->size - (gpa - r->gpa);
		if (chunk >= len)
			return true;
		gpa += chunk;
		len -= chunk;
	}
	return true;
}

int fg_mem_alloc(struct fg_mem *m, __u64 size, __u64 align,
		 unsigned int flags, __u64 *gpa)
{
	__u64 start, mask = align ? align - 1 : 0;
	unsigned int i;

	if (!size || (align & mask))
		return -EINVAL;
	start = (m->brk + mask) & ~mask;
	for (i = 0; i < m->nregions; i++) {
		const struct fg_region *r = &m->region[i];
		__u64 end = r->gpa + r->size;

		if (start >= end)
			continue;
		if (start < r->gpa)
			start = (r->gpa + mask) & ~mask;
		if (flags & FG_ALLOC_STRADDLE) {
			/* Put the middle of the buffer on the boundary. */
			if (i + 1 >= m->nregions ||
			    m->region[i + 1].gpa != end)
				return -ENOMEM;
			if (size < 2)
				return -EINVAL;
			start = (end - size / 2) & ~mask;
			if (start < m->brk || start + size <= end)
				return -ENOMEM;
		} else if ((flags & FG_ALLOC_CONTIG) && start + size > end) {
			continue;
		}
		if (!fg_mem_valid(m, start, size))
			return -ENOMEM;
		*gpa = start;
		m->brk = start + size;
		return 0;
	}
	return -ENOMEM;
}

static int fg_mem_copy(const struct fg_mem *m, __u64 gpa, void *buf,
		       size_t len, bool to_guest, int fill)
{
	__u8 *p = buf;

	while (len) {
		const struct fg_region *r = fg_mem_find(m, gpa);
		size_t off, chunk;

		if (!r)
			return -EFAULT;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		if (!p)
			memset(r->hva + off, fill, chunk);
		else if (to_guest)
			memcpy(r->hva + off, p, chunk);
		else
			memcpy(p, r->hva + off, chunk);
		if (p)
			p += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

int fg_mem_write(const struct fg_mem *m, __u64 gpa, const void *src,
		 size_t len)
{
	return fg_mem_copy(m, gpa, (void *)src, len, true, 0);
}

int fg_mem_read(const struct fg_mem *m, __u64 gpa, void *dst, size_t len)
{
	return fg_mem_copy(m, gpa, dst, len, false, 0);
}

int fg_mem_fill(const struct fg_mem *m, __u64 gpa, int c, size_t len)
{
	return fg_mem_copy(m, gpa, NULL, len, true, c);
}

struct vhost_memory *fg_mem_table(const struct fg_mem *m)
{
	struct vhost_memory *t;
	unsigned int i;

	t = calloc(1, sizeof(*t) + m->nregions * sizeof(t->regions[0]));
	if (!t)
		return NULL;
	t->nregions = m->nregions;
	for (i = 0; i < m->nregions; i++) {
		t->regions[i].guest_phys_addr = m->region[i].gpa;
		t->regions[i].memory_size = m->region[i].size;
		t->regions[i].userspace_addr =
			(__u64)(unsigned long)m->region[i].hva;
	}
	return t;
}
