// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: malformed buffers, one kind at a time.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fg_hostile.h"

static const char * const fg_hostile_names[FG_BAD_COUNT] = {
	[FG_BAD_LOOP] = "chain loop",
	[FG_BAD_LONG_CHAIN] = "chain longer than the ring",
	[FG_BAD_NEXT] = "next index out of range",
	[FG_BAD_NESTED_INDIRECT] = "nested indirect table",
	[FG_BAD_INDIRECT_LEN0] = "indirect length 0",
	[FG_BAD_INDIRECT_LEN] = "indirect length not a multiple of 16",
	[FG_BAD_INDIRECT_LOOP] = "loop inside an indirect table",
	[FG_BAD_ADDR] = "address outside the memory table",
	[FG_BAD_ADDR_WRAP] = "address + length wraps",
	[FG_BAD_DIRECTION] = "wrong descriptor direction",
	[FG_BAD_HEAD] = "head index >= num",
	[FG_BAD_AVAIL_IDX] = "avail index more than num ahead",
	[FG_BAD_INDIRECT_NEXT] = "indirect descriptor with NEXT",
};

const char *fg_hostile_name(enum fg_hostile kind)
{
	return kind < FG_BAD_COUNT ? fg_hostile_names[kind] : "?";
}

static void fg_bad_desc(struct fg_vq *vq, struct vring_desc *d, __u64 addr,
			__u32 len, __u16 flags, __u16 next)
{
	d->addr = fg_cpu_to_v64(vq, addr);
	d->len = fg_cpu_to_v32(vq, len);
	d->flags = fg_cpu_to_v16(vq, flags);
	d->next = fg_cpu_to_v16(vq, next);
}

/* Write the malformed descriptors; returns the head to make available. */
static unsigned int fg_hostile_write(struct fg_guest *g, struct fg_vq *vq,
				     enum fg_hostile kind, __u16 dir)
{
	struct fg_pool *p = vq == &g->dev.vq[FG_RXQ] ? &g->rx : &g->tx;
	unsigned int num = vq->num, i;
	struct vring_desc tbl[4];
	__u64 buf = p->gpa, ind = p->ind_gpa;
	__u32 len = 64;

	memset(tbl, 0, sizeof(tbl));
	switch (kind) {
	case FG_BAD_LOOP:
		if (num == 1) {
			fg_bad_desc(vq, &vq->desc[0], buf, len,
				    dir | VRING_DESC_F_NEXT, 0);
			break;
		}
		fg_bad_desc(vq, &vq->desc[0], buf, len,
			    dir | VRING_DESC_F_NEXT, 1);
		fg_bad_desc(vq, &vq->desc[1], buf + len, len,
			    dir | VRING_DESC_F_NEXT, 0);
		break;
	case FG_BAD_LONG_CHAIN:
		for (i = 0; i < num; i++)
			fg_bad_desc(vq, &vq->desc[i], buf, 16,
				    dir | VRING_DESC_F_NEXT, (i + 1) % num);
		break;
	case FG_BAD_NEXT:
		fg_bad_desc(vq, &vq->desc[0], buf, len,
			    dir | VRING_DESC_F_NEXT, num);
		break;
	case FG_BAD_NESTED_INDIRECT:
		/* tbl[0] points at a valid one-entry table at ind + 64. */
		fg_bad_desc(vq, &tbl[0], ind + 64, 16, VRING_DESC_F_INDIRECT, 0);
		fg_bad_desc(vq, &tbl[1], buf, len, dir, 0);
		fg_mem_write(&g->mem, ind, &tbl[0], 16);
		fg_mem_write(&g->mem, ind + 64, &tbl[1], 16);
		fg_bad_desc(vq, &vq->desc[0], ind, 16, VRING_DESC_F_INDIRECT, 0);
		break;
	case FG_BAD_INDIRECT_LEN0:
		fg_bad_desc(vq, &tbl[0], buf, len, dir, 0);
		fg_mem_write(&g->mem, ind, tbl, 16);
		fg_bad_desc(vq, &vq->desc[0], ind, 0, VRING_DESC_F_INDIRECT, 0);
		break;
	case FG_BAD_INDIRECT_LEN:
		fg_bad_desc(vq, &tbl[0], buf, len, dir | VRING_DESC_F_NEXT, 1);
		fg_bad_desc(vq, &tbl[1], buf + len, len, dir, 0);
		fg_mem_write(&g->mem, ind, tbl, 32);
		fg_bad_desc(vq, &vq->desc[0], ind, 24, VRING_DESC_F_INDIRECT, 0);
		break;
	case FG_BAD_INDIRECT_LOOP:
		fg_bad_desc(vq, &tbl[0], buf, len, dir | VRING_DESC_F_NEXT, 1);
		fg_bad_desc(vq, &tbl[1], buf + len, len,
			    dir | VRING_DESC_F_NEXT, 0);
		fg_mem_write(&g->mem, ind, tbl, 32);
		fg_bad_desc(vq, &vq->desc[0], ind, 32, VRING_DESC_F_INDIRECT, 0);
		break;
	case FG_BAD_ADDR:
		fg_bad_desc(vq, &vq->desc[0], fg_mem_end(&g->mem) + (1 << 20),
			    len, dir, 0);
		break;
	case FG_BAD_ADDR_WRAP:
		fg_bad_desc(vq, &vq->desc[0], 0xfffffffffffff000ULL, 0x2000,
			    dir, 0);
		break;
	case FG_BAD_DIRECTION:
		fg_bad_desc(vq, &vq->desc[0], buf, 1514,
			    dir ^ VRING_DESC_F_WRITE, 0);
		break;
	case FG_BAD_HEAD:
		fg_bad_desc(vq, &vq->desc[0], buf, 1514, dir, 0);
		return num;
	case FG_BAD_INDIRECT_NEXT:
		fg_bad_desc(vq, &tbl[0], buf, len, dir, 0);
		fg_mem_write(&g->mem, ind, tbl, 16);
		fg_bad_desc(vq, &vq->desc[0], ind, 16,
			    VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1 % num);
		break;
	case FG_BAD_AVAIL_IDX:
	default:
		fg_bad_desc(vq, &vq->desc[0], buf, 1514, dir, 0);
		break;
	}
	return 0;
}

static void fg_bad_pdesc(struct vring_packed_desc *d, __u64 addr, __u32 len,
			 __u16 flags)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->id = 0;
	d->flags = htole16(flags);
}

/*
 * The packed form of @kind from slot 0, every descriptor but the head
 * marked available for the first lap; returns the head's flags, or
 * -EOPNOTSUPP for a kind a packed ring cannot express.
 */
static int fg_hostile_write_packed(struct fg_guest *g, struct fg_vq *vq,
				   enum fg_hostile kind, __u16 dir)
{
	struct fg_pool *p = vq == &g->dev.vq[FG_RXQ] ? &g->rx : &g->tx;
	const __u16 avail = 1U << VRING_PACKED_DESC_F_AVAIL;
	struct vring_packed_desc *d = vq->pdesc, tbl[2];
	__u64 buf = p->gpa, ind = p->ind_gpa;
	unsigned int num = vq->num, i;
	__u32 len = 64;

	memset(tbl, 0, sizeof(tbl));
	switch (kind) {
	case FG_BAD_LOOP:
	case FG_BAD_LONG_CHAIN:
		for (i = 1; i < num; i++)
			fg_bad_pdesc(&d[i], buf, 16,
				     dir | VRING_DESC_F_NEXT | avail);
		fg_bad_pdesc(&d[0], buf, 16, 0);
		return dir | VRING_DESC_F_NEXT | avail;
	case FG_BAD_NESTED_INDIRECT:
		fg_bad_pdesc(&tbl[0], ind + 64, 16, VRING_DESC_F_INDIRECT);
		fg_bad_pdesc(&tbl[1], buf, len, dir);
		fg_mem_write(&g->mem, ind, &tbl[0], 16);
		fg_mem_write(&g->mem, ind + 64, &tbl[1], 16);
		fg_bad_pdesc(&d[0], ind, 16, 0);
		return VRING_DESC_F_INDIRECT | avail;
	case FG_BAD_INDIRECT_LEN0:
	case FG_BAD_INDIRECT_LEN:
	case FG_BAD_INDIRECT_NEXT:
		fg_bad_pdesc(&tbl[0], buf, len, dir);
		fg_bad_pdesc(&tbl[1], buf + len, len, dir);
		fg_mem_write(&g->mem, ind, tbl, 32);
		fg_bad_pdesc(&d[0], ind, kind == FG_BAD_INDIRECT_LEN0 ? 0 :
				 kind == FG_BAD_INDIRECT_LEN ? 24 : 32, 0);
		return VRING_DESC_F_INDIRECT | avail |
		       (kind == FG_BAD_INDIRECT_NEXT ? VRING_DESC_F_NEXT : 0);
	case FG_BAD_ADDR:
		fg_bad_pdesc(&d[0], fg_mem_end(&g->mem) + (1 << 20), len, 0);
		return dir | avail;
	case FG_BAD_ADDR_WRAP:
		fg_bad_pdesc(&d[0], 0xfffffffffffff000ULL, 0x2000, 0);
		return dir | avail;
	case FG_BAD_DIRECTION:
		fg_bad_pdesc(&d[0], buf, 1514, 0);
		return (dir ^ VRING_DESC_F_WRITE) | avail;
	default:
		return -EOPNOTSUPP;
	}
}

int fg_hostile_post(struct fg_guest *g, unsigned int q, enum fg_hostile kind)
{
	struct fg_vq *vq = &g->dev.vq[q];
	__u16 dir = q == FG_RXQ ? VRING_DESC_F_WRITE : 0;
	unsigned int head, i;
	int ret;

	if (kind >= FG_BAD_COUNT)
		return -EINVAL;
	ret = fg_dev_set_backend(&g->dev, q, -1);
	if (ret)
		return ret;
	fg_vq_reset(vq);
	ret = fg_dev_setup_vq(&g->dev, q);
	if (ret)
		return ret;
	/* Take every descriptor away from the normal driver path. */
	vq->nfree = 0;
	if (vq->packed) {
		ret = fg_hostile_write_packed(g, vq, kind, dir);
		if (ret < 0)
			return ret;
		vq->pend_slot[0] = 0;
		vq->pend_flags[0] = ret;
		vq->npend = 1;
		goto publish;
	}
	head = fg_hostile_write(g, vq, kind, dir);
	if (kind == FG_BAD_AVAIL_IDX) {
		/* Entries look fine; the index claims num + 1 of them. */
		for (i = 0; i < vq->num; i++)
			vq->avail->ring[i] = fg_cpu_to_v16(vq, 0);
		vq->avail_idx = vq->num + 1;
	} else {
		vq->avail->ring[0] = fg_cpu_to_v16(vq, head);
		vq->avail_idx = 1;
	}
publish:
	fg_vq_publish(vq);
	ret = fg_dev_set_backend(&g->dev, q, g->backend_fd);
	if (ret)
		return ret;
	fg_vq_kick_force(vq);
	return 0;
}

int fg_hostile_overlap_rings(struct fg_guest *g, unsigned int q, __u16 base)
{
	unsigned int num = g->dev.vq[q].num;
	__u64 gpa;
	int ret;

	if (g->dev.vq[q].packed) {
		ret = fg_mem_alloc(&g->mem, 4, 4, FG_ALLOC_CONTIG, &gpa);
		return ret ? ret : fg_guest_relocate_vq(g, q, gpa, gpa, 0);
	}
	/* avail at 2 mod 4 so that used = avail + 2 is 4-byte aligned. */
	ret = fg_mem_alloc(&g->mem, 4 + fg_vring_used_size(num), 4,
			   FG_ALLOC_CONTIG, &gpa);
	if (ret)
		return ret;
	return fg_guest_relocate_vq(g, q, gpa + 2, gpa + 4, base);
}
