/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: guest memory.
 *
 * Guest-physical memory is a set of regions, contiguous in guest-physical
 * address (GPA) space but mapped at deliberately non-adjacent (reversed,
 * guard-separated) userspace addresses, so that a buffer crossing a region
 * boundary is contiguous for the guest and split for the VMM.
 */
#ifndef FG_MEM_H
#define FG_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/vhost.h>

#define FG_MAX_REGIONS		8
#define FG_DEFAULT_GPA_BASE	0x100000ULL

struct fg_region {
	__u64 gpa;
	__u64 size;
	__u8 *hva;
};

struct fg_mem {
	unsigned int nregions;
	struct fg_region region[FG_MAX_REGIONS];
	void *reserve;		/* PROT_NONE reservation holding all regions */
	size_t reserve_len;
	__u64 brk;		/* next free GPA for fg_mem_alloc() */
};

/* fg_mem_alloc() flags */
#define FG_ALLOC_CONTIG		0x1	/* must not cross a region boundary */
#define FG_ALLOC_STRADDLE	0x2	/* must cross a region boundary */

/*
 * Map @n regions of @sizes bytes (multiples of the page size), the first at
 * guest-physical @gpa_base, each following one adjacent in GPA space.
 */
int fg_mem_init(struct fg_mem *m, __u64 gpa_base, const __u64 *sizes,
		unsigned int n);
void fg_mem_fini(struct fg_mem *m);

/* Total bytes mapped, and the first GPA past the end of the last region. */
__u64 fg_mem_size(const struct fg_mem *m);
__u64 fg_mem_end(const struct fg_mem *m);

/*
 * Userspace address of [gpa, gpa + len), or NULL unless the whole range lies
 * in one region.
 */
void *fg_mem_hva(const struct fg_mem *m, __u64 gpa, __u64 len);

/* Reverse lookup for addresses inside a region. Returns 0 if not mapped. */
__u64 fg_mem_gpa(const struct fg_mem *m, const void *hva);

/* True if [gpa, gpa + len) is fully covered by regions. */
bool fg_mem_valid(const struct fg_mem *m, __u64 gpa, __u64 len);

/*
 * Bump allocator over GPA space. Returns 0 and sets *gpa, or -ENOMEM.
 * Memory is zeroed on mapping and never freed individually.
 */
int fg_mem_alloc(struct fg_mem *m, __u64 size, __u64 align,
		 unsigned int flags, __u64 *gpa);

/* Copy to/from guest memory, following region boundaries. */
int fg_mem_write(const struct fg_mem *m, __u64 gpa, const void *src,
		 size_t len);
int fg_mem_read(const struct fg_mem *m, __u64 gpa, void *dst, size_t len);
int fg_mem_fill(const struct fg_mem *m, __u64 gpa, int c, size_t len);

/* Build the VHOST_SET_MEM_TABLE argument. Free with free(). */
struct vhost_memory *fg_mem_table(const struct fg_mem *m);

#endif /* FG_MEM_H */
