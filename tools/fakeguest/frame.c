// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: self-checking test frames.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fg_frame.h"

#define FG_ETH_HLEN	14
#define FG_IP_HLEN	20
#define FG_UDP_HLEN	8
#define FG_TCP_HLEN	20
#define FG_TAG_LEN	16

/* TEST-NET-1 documentation addresses; these frames never leave the host. */
#define FG_IP_SRC	0xc0000201	/* 192.0.2.1 */
#define FG_IP_DST	0xc0000202	/* 192.0.2.2 */

void fg_rng_seed(struct fg_rng *r, __u64 seed)
{
	r->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

__u32 fg_rng_next(struct fg_rng *r)
{
	__u64 x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return (__u32)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

__u32 fg_rng_below(struct fg_rng *r, __u32 n)
{
	return n ? fg_rng_next(r) % n : 0;
}

static __u32 fg_hash(__u32 a, __u32 b, __u32 c)
{
	__u64 x = ((__u64)a << 32 | b) ^ ((__u64)c * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (__u32)x;
}

void fg_frame_describe(const struct fg_frame_plan *p, __u32 stream, __u32 seq,
		       struct fg_frame_desc *d)
{
	__u32 h = fg_hash(p->seed, stream, seq);
	unsigned int span = p->max_len - p->min_len + 1;

	d->stream = stream;
	d->seq = seq;
	d->gso = p->gso_every && seq % p->gso_every == p->gso_every - 1;
	d->flow = p->flows > 1 ? seq % p->flows : 0;
	if (d->gso)
		/* 64 KB TCP frames, at or just below the limit. */
		d->len = FG_GSO_FRAME_MAX - h % 2048;
	else if (seq % 97 == 0)
		d->len = p->min_len;
	else if (seq % 97 == 1)
		d->len = p->max_len;
	else
		d->len = p->min_len + h % span;
}

static __u16 fg_csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

static __u32 fg_csum_add(__u32 sum, const __u8 *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static void fg_put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void fg_put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static __u32 fg_get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static size_t fg_frame_l4_off(bool gso)
{
	return FG_ETH_HLEN + FG_IP_HLEN + (gso ? FG_TCP_HLEN : FG_UDP_HLEN);
}

size_t fg_frame_build(__u8 *buf, const struct fg_frame_desc *d,
		      const __u8 dst[6], const __u8 src[6])
{
	__u8 *ip = buf + FG_ETH_HLEN, *l4 = ip + FG_IP_HLEN;
	size_t tag = fg_frame_l4_off(d->gso), i;
	__u32 key = fg_hash(d->stream, d->seq, 0x5eed), sum;
	__u16 sport = 1024 + d->flow;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	fg_put16(buf + 12, 0x0800);

	memset(ip, 0, FG_IP_HLEN);
	ip[0] = 0x45;
	fg_put16(ip + 2, d->len - FG_ETH_HLEN);
	fg_put16(ip + 4, d->seq);
	fg_put16(ip + 6, 0x4000);	/* DF */
	ip[8] = 64;
	ip[9] = d->gso ? 6 : 17;
	fg_put32(ip + 12, FG_IP_SRC);
	fg_put32(ip + 16, FG_IP_DST);
	fg_put16(ip + 10, ~fg_csum_fold(fg_csum_add(0, ip, FG_IP_HLEN)));

	if (d->gso) {
		__u16 l4len = d->len - FG_ETH_HLEN - FG_IP_HLEN;

		memset(l4, 0, FG_TCP_HLEN);
		fg_put16(l4, sport);
		fg_put16(l4 + 2, 5001);
		fg_put32(l4 + 4, d->seq * 65536);
		l4[12] = 5 << 4;
		l4[13] = 0x18;		/* PSH | ACK */
		fg_put16(l4 + 14, 65535);
		/* Pseudo-header sum, as for CHECKSUM_PARTIAL. */
		sum = fg_csum_add(0, ip + 12, 8) + 6 + l4len;
		fg_put16(l4 + 16, fg_csum_fold(sum));
	} else {
		fg_put16(l4, sport);
		fg_put16(l4 + 2, 9);
		fg_put16(l4 + 4, d->len - FG_ETH_HLEN - FG_IP_HLEN);
		fg_put16(l4 + 6, 0);
	}

	fg_put32(buf + tag, FG_FRAME_MAGIC);
	fg_put32(buf + tag + 4, d->stream);
	fg_put32(buf + tag + 8, d->seq);
	fg_put32(buf + tag + 12, d->len);
	for (i = tag + FG_TAG_LEN; i + 4 <= d->len; i += 4) {
		__u32 v = (__u32)i * 0x01000193u ^ key;

		memcpy(buf + i, &v, 4);
	}
	for (; i < d->len; i++)
		buf[i] = (__u8)(i ^ key);
	return d->len;
}

void fg_frame_vnet_hdr(struct virtio_net_hdr *h, const struct fg_frame_desc *d)
{
	memset(h, 0, sizeof(*h));
	if (!d->gso)
		return;
	/* Little endian: VERSION_1, or legacy on a little-endian host. */
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr_len = htole16(fg_frame_l4_off(true));
	h->gso_size = htole16(FG_GSO_MSS);
	h->csum_start = htole16(FG_ETH_HLEN + FG_IP_HLEN);
	h->csum_offset = htole16(16);
}

int fg_frame_parse(const __u8 *buf, size_t len, __u32 *stream, __u32 *seq,
		   __u32 *tag_len)
{
	size_t tag;

	if (len < FG_FRAME_MIN || buf[12] != 0x08 || buf[13] != 0x00 ||
	    buf[14] != 0x45)
		return -ENOENT;
	if (buf[FG_ETH_HLEN + 9] == 17)
		tag = fg_frame_l4_off(false);
	else if (buf[FG_ETH_HLEN + 9] == 6)
		tag = fg_frame_l4_off(true);
	else
		return -ENOENT;
	if (len < tag + FG_TAG_LEN || fg_get32(buf + tag) != FG_FRAME_MAGIC)
		return -ENOENT;
	*stream = fg_get32(buf + tag + 4);
	*seq = fg_get32(buf + tag + 8);
	*tag_len = fg_get32(buf + tag + 12);
	return 0;
}

int fg_frame_verify(const __u8 *buf, size_t len, const struct fg_frame_desc *d,
		    char *err, size_t errlen)
{
	static __thread __u8 want[FG_FRAME_BUF];
	size_t i, csum_off = FG_ETH_HLEN + FG_IP_HLEN + 16;

	if (len != d->len) {
		snprintf(err, errlen, "stream %u seq %u: length %zu, want %u",
			 d->stream, d->seq, len, d->len);
		return -EBADMSG;
	}
	fg_frame_build(want, d, buf, buf + 6);
	if (d->gso) {
		/* A device without checksum offload may fill the TCP sum. */
		want[csum_off] = buf[csum_off];
		want[csum_off + 1] = buf[csum_off + 1];
	}
	if (!memcmp(want, buf, len))
		return 0;
	for (i = 0; i < len && want[i] == buf[i]; i++)
		;
	snprintf(err, errlen,
		 "stream %u seq %u len %zu: byte %zu is 0x%02x, want 0x%02x",
		 d->stream, d->seq, len, i, buf[i], want[i]);
	return -EBADMSG;
}
