/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: a hostile driver that makes malformed buffers available.
 */
#ifndef FG_HOSTILE_H
#define FG_HOSTILE_H

#include "fg_guest.h"

enum fg_hostile {
	FG_BAD_LOOP,		/* chain whose last descriptor links back */
	FG_BAD_LONG_CHAIN,	/* chain through every descriptor, and round */
	FG_BAD_NEXT,		/* next index >= num */
	FG_BAD_NESTED_INDIRECT,	/* indirect table inside an indirect table */
	FG_BAD_INDIRECT_LEN0,	/* indirect descriptor of length 0 */
	FG_BAD_INDIRECT_LEN,	/* indirect length not a multiple of 16 */
	FG_BAD_INDIRECT_LOOP,	/* loop inside an indirect table */
	FG_BAD_ADDR,		/* buffer outside the memory table */
	FG_BAD_ADDR_WRAP,	/* addr + len wraps around 2^64 */
	FG_BAD_DIRECTION,	/* write-only on TX, read-only on RX */
	FG_BAD_HEAD,		/* head index >= num */
	FG_BAD_AVAIL_IDX,	/* avail->idx more than num ahead */
	FG_BAD_INDIRECT_NEXT,	/* indirect descriptor that also has NEXT */
	FG_BAD_COUNT
};

const char *fg_hostile_name(enum fg_hostile kind);

/*
 * Detach the backend from queue @q, empty its ring, make one malformed
 * buffer of @kind available as the first entry, reattach the backend and
 * kick. On a packed ring (no next, head or avail index there) NEXT,
 * INDIRECT_LOOP, HEAD and AVAIL_IDX give -EOPNOTSUPP, and LOOP is a chain
 * whose every descriptor has NEXT, round the ring. The ring is unusable
 * until fg_guest_reinit_vq() or fg_guest_reset_owner(). For RX, the
 * device only looks at the ring when a frame is waiting: inject one
 * (stream FG_JUNK_STREAM) afterwards.
 */
int fg_hostile_post(struct fg_guest *g, unsigned int q, enum fg_hostile kind);

/*
 * Move queue @q's used ring to 2 bytes after its avail ring (legal
 * alignment; the vhost UAPI does not forbid the overlap), starting at
 * avail index @base: used->flags is then avail->idx and used->idx is
 * avail->ring[0], so a device that writes VRING_USED_F_NO_NOTIFY moves
 * the guest's avail index. Buffers already posted are forgotten; RX is
 * refilled. Post TX buffers with fg_guest_tx() + fg_vq_publish() as
 * usual; fg_guest_reinit_vq() does not undo the move. On a packed ring
 * both event areas go to one place (@base unused): the device's own
 * notification flags become the driver's event suppression.
 */
int fg_hostile_overlap_rings(struct fg_guest *g, unsigned int q, __u16 base);

#endif /* FG_HOSTILE_H */
