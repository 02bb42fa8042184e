/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: self-checking test frames.
 *
 * Every frame is Ethernet + IPv4 + UDP (or TCP for 64 KB GSO frames) +
 * a 16-byte tag {magic, stream, seq, len} + a byte pattern derived from
 * (stream, seq, offset). A receiver rebuilds the expected frame from the
 * tag and compares every byte.
 */
#ifndef FG_FRAME_H
#define FG_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/virtio_net.h>

#define FG_FRAME_MAGIC		0x46674e74	/* "FgNt" */
#define FG_FRAME_MIN		60
#define FG_FRAME_MAX		1514
/*
 * Largest GSO frame: the stack segments skbs of gso_max_size (64 KiB) or
 * more on transmit, so a frame that crosses a netdev stays below that.
 */
#define FG_GSO_FRAME_MAX	65535
#define FG_GSO_MSS		1448
#define FG_FRAME_BUF		(FG_GSO_FRAME_MAX + 64)
/* Frames of this stream are ours but belong to no check. */
#define FG_JUNK_STREAM		0xffff

/* Which frames a stream carries. */
struct fg_frame_plan {
	unsigned int min_len, max_len;	/* non-GSO sizes, inclusive */
	unsigned int gso_every;		/* every Nth frame is GSO; 0: none */
	unsigned int flows;		/* distinct UDP ports to cycle, >= 1 */
	__u32 seed;
};

struct fg_frame_desc {
	__u32 stream;
	__u32 seq;
	__u32 len;		/* frame bytes, no virtio-net header */
	bool gso;
	__u16 flow;
};

void fg_frame_describe(const struct fg_frame_plan *p, __u32 stream, __u32 seq,
		       struct fg_frame_desc *d);
/* Write the frame into @buf (FG_FRAME_BUF bytes). Returns its length. */
size_t fg_frame_build(__u8 *buf, const struct fg_frame_desc *d,
		      const __u8 dst[6], const __u8 src[6]);
/* The virtio-net header the sender attaches (zeroed unless GSO). */
void fg_frame_vnet_hdr(struct virtio_net_hdr *h, const struct fg_frame_desc *d);
/* Read the tag. 0 if the frame is one of ours, else -ENOENT. */
int fg_frame_parse(const __u8 *buf, size_t len, __u32 *stream, __u32 *seq,
		   __u32 *tag_len);
/*
 * Compare a received frame with what @d describes, MACs taken from the
 * received frame. Returns 0, or -EBADMSG with a description in @err.
 */
int fg_frame_verify(const __u8 *buf, size_t len, const struct fg_frame_desc *d,
		    char *err, size_t errlen);

/* Small deterministic PRNG (xorshift64*). */
struct fg_rng {
	__u64 s;
};

void fg_rng_seed(struct fg_rng *r, __u64 seed);
__u32 fg_rng_next(struct fg_rng *r);
/* Uniform in [0, n). */
__u32 fg_rng_below(struct fg_rng *r, __u32 n);

#endif /* FG_FRAME_H */
