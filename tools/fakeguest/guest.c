// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: virtio-net driver logic (buffer pools, TX layouts, RX
 * buffers and mergeable reassembly) on top of the split ring.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fg_guest.h"

#define FG_PAGE		4096U
#define FG_MB		0x100000ULL
#define FG_DEF_INFLIGHT	256U
#define FG_MRG_BUFS	512U

static unsigned int fg_min(unsigned int a, unsigned int b)
{
	return a < b ? a : b;
}

static __u64 fg_round_up(__u64 v, __u64 a)
{
	return (v + a - 1) / a * a;
}

static int fg_pool_init(struct fg_guest *g, struct fg_pool *p,
			unsigned int nslots, unsigned int slot_len)
{
	unsigned int i;
	int ret;

	p->nslots = nslots;
	p->slot_len = slot_len;
	p->stride = fg_round_up(slot_len, 64);
	p->free = calloc(nslots, sizeof(*p->free));
	if (!p->free)
		return -ENOMEM;
	ret = fg_mem_alloc(&g->mem, (__u64)nslots * FG_MAX_SEGS * 16, 16,
			   FG_ALLOC_CONTIG, &p->ind_gpa);
	if (!ret)
		ret = fg_mem_alloc(&g->mem, (__u64)nslots * p->stride, 64, 0,
				   &p->gpa);
	if (ret)
		return ret;
	for (i = 0; i < nslots; i++) {
		__u64 s = p->gpa + (__u64)i * p->stride;

		if (!fg_mem_hva(&g->mem, s, slot_len))
			g->straddling++;
		p->free[i] = nslots - 1 - i;
	}
	p->nfree = nslots;
	return 0;
}

static void fg_pool_reset(struct fg_pool *p)
{
	unsigned int i;

	for (i = 0; i < p->nslots; i++)
		p->free[i] = p->nslots - 1 - i;
	p->nfree = p->nslots;
}

static __u64 fg_slot_gpa(const struct fg_pool *p, unsigned int slot)
{
	return p->gpa + (__u64)slot * p->stride;
}

static __u64 fg_slot_ind(const struct fg_pool *p, unsigned int slot)
{
	return p->ind_gpa + (__u64)slot * FG_MAX_SEGS * 16;
}

/* How many RX buffers, and how large, for the negotiated features. */
static void fg_guest_rx_geometry(struct fg_guest *g, unsigned int *nslots,
				 unsigned int *len)
{
	unsigned int num = g->cfg.ring_num, need;
	unsigned int frame = g->dev.hdr_len + g->cfg.max_frame;

	if (g->dev.mrg_rxbuf) {
		*nslots = fg_min(num, FG_MRG_BUFS);
		*len = g->cfg.rx_buf_len ? g->cfg.rx_buf_len : 1536;
		/* A tiny ring must still hold the largest frame. */
		need = (frame + *len - 1) / *len;
		if (need > *nslots)
			*len = (frame + *nslots - 1) / *nslots;
	} else {
		*nslots = fg_min(num, g->cfg.max_inflight);
		*len = frame;
	}
}

int fg_guest_init(struct fg_guest *g, const struct fg_guest_cfg *cfg,
		  int backend_fd)
{
	__u64 sizes[FG_MAX_REGIONS], total, per;
	unsigned int i, nreg, tx_n, rx_n, rx_len, tx_len;
	int ret;

	memset(g, 0, sizeof(*g));
	g->dev.fd = -1;
	g->cfg = *cfg;
	g->backend_fd = backend_fd;
	if (!g->cfg.max_frame)
		g->cfg.max_frame = FG_FRAME_MAX;
	if (!g->cfg.max_inflight)
		g->cfg.max_inflight = FG_DEF_INFLIGHT;
	if (!g->cfg.tx_layouts)
		g->cfg.tx_layouts = FG_TX_ALL;
	fg_rng_seed(&g->rng, cfg->seed * 2654435761ULL + 1);
	g->mac[0] = 0x52;
	g->mac[1] = 0x54;
	g->mac[5] = 0x10 + (cfg->seed & 0x7f);
	g->rx_frame = malloc(FG_FRAME_BUF);
	if (!g->rx_frame)
		return -ENOMEM;

	ret = fg_dev_open(&g->dev, cfg->dev_path);
	if (ret) {
		snprintf(g->err, sizeof(g->err), "open %s: %s", cfg->dev_path,
			 strerror(-ret));
		return ret;
	}
	g->dev.busyloop_us = cfg->busyloop_us;
	ret = fg_dev_negotiate(&g->dev, cfg->features);
	if (ret) {
		snprintf(g->err, sizeof(g->err), "features: %s",
			 strerror(-ret));
		return ret;
	}
	if (cfg->any_layout)
		g->dev.any_layout = true;

	tx_n = fg_min(g->cfg.ring_num, g->cfg.max_inflight);
	tx_len = g->dev.hdr_len + g->cfg.max_frame;
	fg_guest_rx_geometry(g, &rx_n, &rx_len);
	total = 2 * (fg_vring_desc_size(g->cfg.ring_num) +
		     fg_vring_avail_size(g->cfg.ring_num) +
		     fg_vring_used_size(g->cfg.ring_num) + 64);
	total += (__u64)(tx_n + rx_n) * FG_MAX_SEGS * 16;
	total += (__u64)tx_n * fg_round_up(tx_len, 64);
	total += (__u64)rx_n * fg_round_up(rx_len, 64);
	total += FG_MB;
	nreg = cfg->nregions ? fg_min(cfg->nregions, FG_MAX_REGIONS) : 1;
	per = fg_round_up(total / nreg + 1, FG_PAGE);
	/* The rings of one queue pair must fit in the first region. */
	if (per < 2 * FG_MB)
		per = 2 * FG_MB - (nreg > 1 ? 3 * FG_PAGE : 0);
	for (i = 0; i < nreg; i++)
		sizes[i] = per;
	ret = fg_mem_init(&g->mem, FG_DEFAULT_GPA_BASE, sizes, nreg);
	if (!ret)
		ret = fg_dev_set_mem(&g->dev, &g->mem);
	if (!ret)
		ret = fg_dev_alloc_rings(&g->dev, g->cfg.ring_num);
	for (i = 0; !ret && i < 2; i++) {
		g->dev.vq[i].scramble = cfg->scramble;
		fg_vq_reset_lists(&g->dev.vq[i]);
		ret = fg_dev_setup_vq(&g->dev, i);
	}
	if (!ret)
		ret = fg_pool_init(g, &g->tx, tx_n, tx_len);
	if (!ret)
		ret = fg_pool_init(g, &g->rx, rx_n, rx_len);
	if (!ret && cfg->rx_poison) {
		g->rx.poisoned = calloc(rx_n, sizeof(bool));
		if (!g->rx.poisoned)
			ret = -ENOMEM;
	}
	if (ret) {
		snprintf(g->err, sizeof(g->err), "memory/rings: %s",
			 strerror(-ret));
		return ret;
	}
	ret = fg_guest_rx_fill(g);
	if (ret)
		return ret;
	if (cfg->dirty_log) {
		g->log = calloc(1, fg_log_bytes(&g->mem));
		ret = g->log ? fg_dev_set_log(&g->dev, g->log, true) : -ENOMEM;
		if (ret) {
			snprintf(g->err, sizeof(g->err), "dirty log: %s",
				 strerror(-ret));
			return ret;
		}
	}
	for (i = 0; backend_fd >= 0 && i < 2; i++) {
		ret = fg_dev_set_backend(&g->dev, i, backend_fd);
		if (ret) {
			snprintf(g->err, sizeof(g->err),
				 "VHOST_NET_SET_BACKEND: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void fg_guest_fini(struct fg_guest *g)
{
	fg_dev_close(&g->dev);
	fg_mem_fini(&g->mem);
	free(g->tx.free);
	free(g->rx.free);
	free(g->rx.poisoned);
	free(g->rx_frame);
	free(g->log);
	g->log = NULL;
	g->tx.free = NULL;
	g->rx.free = NULL;
	g->rx.poisoned = NULL;
	g->rx_frame = NULL;
}

/* Cut [0, total) into segments per the chosen layout. Returns the count. */
static unsigned int fg_guest_tx_layout(struct fg_guest *g, __u64 gpa,
				       unsigned int total, bool *indirect,
				       struct fg_seg *segs)
{
	unsigned int allowed = g->cfg.tx_layouts, hdr = g->dev.hdr_len;
	unsigned int base[3], nbase = 0, layout, n, i, k, maxseg;
	unsigned int cuts[FG_MAX_SEGS];

	if (!g->dev.any_layout)
		allowed &= ~FG_TX_ONE;
	if (!g->dev.indirect)
		allowed &= ~FG_TX_INDIRECT;
	*indirect = (allowed & FG_TX_INDIRECT) &&
		    (!(allowed & ~FG_TX_INDIRECT) || (fg_rng_next(&g->rng) & 1));
	maxseg = *indirect ? 8 : fg_min(8, g->cfg.ring_num);
	if (allowed & FG_TX_ONE)
		base[nbase++] = FG_TX_ONE;
	if ((allowed & FG_TX_HDR) && maxseg >= 2)
		base[nbase++] = FG_TX_HDR;
	if ((allowed & FG_TX_SPLIT) && maxseg >= 2)
		base[nbase++] = FG_TX_SPLIT;
	if (!nbase)
		base[nbase++] = g->dev.any_layout || maxseg < 2 ?
				FG_TX_ONE : FG_TX_HDR;
	layout = base[fg_rng_below(&g->rng, nbase)];

	n = 0;
	if (layout == FG_TX_HDR || (layout == FG_TX_SPLIT && !g->dev.any_layout))
		cuts[n++] = hdr;
	if (layout == FG_TX_SPLIT) {
		unsigned int lo = g->dev.any_layout ? 1 : hdr + 1;

		k = 1 + fg_rng_below(&g->rng, maxseg - 1);
		k = fg_min(k, total - lo);
		while (n < k && total > lo) {
			unsigned int c = lo + fg_rng_below(&g->rng, total - lo);

			for (i = 0; i < n && cuts[i] != c; i++)
				;
			if (i == n)
				cuts[n++] = c;
		}
	}
	/* insertion sort of the cut points */
	for (i = 1; i < n; i++) {
		unsigned int c = cuts[i], j = i;

		for (; j > 0 && cuts[j - 1] > c; j--)
			cuts[j] = cuts[j - 1];
		cuts[j] = c;
	}
	segs[0].gpa = gpa;
	for (i = 0; i < n; i++) {
		segs[i].len = cuts[i] - (segs[i].gpa - gpa);
		segs[i + 1].gpa = gpa + cuts[i];
	}
	segs[n].len = total - (segs[n].gpa - gpa);

	g->layouts[layout == FG_TX_ONE ? 0 : layout == FG_TX_HDR ? 1 : 2]++;
	if (*indirect)
		g->layouts[3]++;
	else if (n)
		g->layouts[4]++;
	return n + 1;
}

int fg_guest_tx(struct fg_guest *g, const void *hdr, const void *frame,
		size_t len)
{
	struct fg_vq *vq = &g->dev.vq[FG_TXQ];
	unsigned int total = g->dev.hdr_len + len, slot, n;
	struct fg_seg segs[FG_MAX_SEGS];
	bool indirect;
	__u64 gpa;
	int ret;

	if (total > g->tx.slot_len)
		return -EMSGSIZE;
	if (!g->tx.nfree || !fg_vq_free_descs(vq))
		return -EAGAIN;
	slot = g->tx.free[g->tx.nfree - 1];
	gpa = fg_slot_gpa(&g->tx, slot);
	n = fg_guest_tx_layout(g, gpa, total, &indirect, segs);
	if (!indirect && fg_vq_free_descs(vq) < n)
		return -EAGAIN;
	if (fg_mem_write(&g->mem, gpa, hdr, g->dev.hdr_len) ||
	    fg_mem_write(&g->mem, gpa + g->dev.hdr_len, frame, len))
		return -EFAULT;
	ret = fg_vq_add(vq, segs, n, 0, indirect ? fg_slot_ind(&g->tx, slot) : 0,
			slot);
	if (ret < 0)
		return ret;
	g->tx.nfree--;
	g->tx_posted++;
	return 0;
}

void fg_guest_tx_kick(struct fg_guest *g)
{
	fg_vq_publish(&g->dev.vq[FG_TXQ]);
	fg_vq_kick(&g->dev.vq[FG_TXQ]);
}

int fg_guest_tx_reap(struct fg_guest *g)
{
	struct fg_vq *vq = &g->dev.vq[FG_TXQ];
	__u32 slot, len;
	int n = 0, r;

	while ((r = fg_vq_get_used(vq, &slot, &len)) > 0) {
		g->tx.free[g->tx.nfree++] = slot;
		g->tx_done++;
		n++;
		/* Nothing was written to a device-readable buffer. */
		if (len) {
			snprintf(g->err, sizeof(g->err),
				 "TX used len %u, want 0", len);
			return -EPROTO;
		}
	}
	if (r < 0) {
		snprintf(g->err, sizeof(g->err),
			 "TX used ring: bad entry at used idx %u",
			 vq->last_used);
		return r;
	}
	return n;
}

static unsigned int fg_guest_rx_layout(struct fg_guest *g, __u64 gpa,
				       bool *indirect, struct fg_seg *segs)
{
	unsigned int len = g->rx.slot_len, hdr = g->dev.hdr_len, n = 0, off;
	unsigned int num = g->cfg.ring_num, want;

	*indirect = false;
	if (g->dev.mrg_rxbuf) {
		segs[0].gpa = gpa;
		segs[0].len = len;
		return 1;
	}
	/* Like a "big packets" driver: header, then page-sized pieces. */
	want = 1 + (len - hdr + FG_PAGE - 1) / FG_PAGE;
	if (want <= FG_MAX_SEGS && (g->dev.indirect || want <= num)) {
		*indirect = g->dev.indirect;
		segs[n].gpa = gpa;
		segs[n++].len = hdr;
		for (off = hdr; off < len; off += FG_PAGE) {
			segs[n].gpa = gpa + off;
			segs[n++].len = fg_min(FG_PAGE, len - off);
		}
		return n;
	}
	if (g->dev.any_layout || num < 2) {
		segs[0].gpa = gpa;
		segs[0].len = len;
		return 1;
	}
	segs[0].gpa = gpa;
	segs[0].len = hdr;
	segs[1].gpa = gpa + hdr;
	segs[1].len = len - hdr;
	return 2;
}

#define FG_RX_POISON		0xa5
/* Slots larger than a page are poisoned one post in this many (cost). */
#define FG_RX_POISON_EVERY	16

/*
 * With cfg.rx_poison, RX slots are filled with FG_RX_POISON when they are
 * posted (every one up to a page, one in FG_RX_POISON_EVERY above): the
 * device may write only the bytes its used entry reports.
 */
static void fg_guest_rx_poison(struct fg_guest *g, unsigned int slot)
{
	bool on = g->rx.stride <= FG_PAGE ||
		  !(g->rx_poison_posts++ % FG_RX_POISON_EVERY);

	g->rx.poisoned[slot] = on;
	if (on)
		fg_mem_fill(&g->mem, fg_slot_gpa(&g->rx, slot), FG_RX_POISON,
			    g->rx.stride);
}

static int fg_guest_rx_overrun(struct fg_guest *g, unsigned int slot,
			       __u32 len)
{
	static __u8 poison[256];
	__u64 gpa = fg_slot_gpa(&g->rx, slot);
	unsigned int off, n, i;
	__u8 buf[sizeof(poison)];

	if (!g->rx.poisoned[slot])
		return 0;
	if (!poison[0])
		memset(poison, FG_RX_POISON, sizeof(poison));
	for (off = len; off < g->rx.stride; off += n) {
		n = fg_min(sizeof(buf), g->rx.stride - off);
		fg_mem_read(&g->mem, gpa + off, buf, n);
		if (!memcmp(buf, poison, n))
			continue;
		for (i = 0; buf[i] == FG_RX_POISON; i++)
			;
		snprintf(g->err, sizeof(g->err),
			 "RX slot %u: byte %u of %u written, used len %u",
			 slot, off + i, g->rx.stride, len);
		return -EPROTO;
	}
	return 0;
}

int fg_guest_rx_fill(struct fg_guest *g)
{
	struct fg_vq *vq = &g->dev.vq[FG_RXQ];
	struct fg_seg segs[FG_MAX_SEGS];
	unsigned int added = 0, n, slot;
	bool indirect;
	int ret;

	while (g->rx.nfree) {
		slot = g->rx.free[g->rx.nfree - 1];
		if (g->rx.poisoned)
			fg_guest_rx_poison(g, slot);
		n = fg_guest_rx_layout(g, fg_slot_gpa(&g->rx, slot), &indirect,
				       segs);
		ret = fg_vq_add(vq, segs, 0, n,
				indirect ? fg_slot_ind(&g->rx, slot) : 0, slot);
		if (ret == -ENOSPC)
			break;
		if (ret < 0) {
			snprintf(g->err, sizeof(g->err), "RX add: %s",
				 strerror(-ret));
			return ret;
		}
		g->rx.nfree--;
		g->rx_posted++;
		added++;
	}
	if (added) {
		fg_vq_publish(vq);
		fg_vq_kick(vq);
	}
	return 0;
}

static int fg_guest_rx_buf(struct fg_guest *g, unsigned int slot, __u32 len,
			   fg_rx_cb cb, void *arg)
{
	struct fg_vq *vq = &g->dev.vq[FG_RXQ];
	unsigned int hdr = g->dev.hdr_len, off = 0;
	__u64 gpa = fg_slot_gpa(&g->rx, slot);
	int ret = 0;

	if (len > g->rx.slot_len) {
		snprintf(g->err, sizeof(g->err),
			 "RX used len %u > buffer size %u", len,
			 g->rx.slot_len);
		return -EPROTO;
	}
	if (g->rx.poisoned) {
		ret = fg_guest_rx_overrun(g, slot, len);
		if (ret)
			return ret;
	}
	if (!g->rx_nbufs) {
		if (len < hdr) {
			snprintf(g->err, sizeof(g->err),
				 "RX used len %u < header %u", len, hdr);
			return -EPROTO;
		}
		memset(&g->rx_hdr, 0, sizeof(g->rx_hdr));
		fg_mem_read(&g->mem, gpa, &g->rx_hdr, hdr);
		g->rx_want = 1;
		if (g->dev.mrg_rxbuf) {
			g->rx_want = fg_v16_to_cpu(vq, g->rx_hdr.num_buffers);
			g->rx_hdr.num_buffers = g->rx_want;
			if (!g->rx_want) {
				snprintf(g->err, sizeof(g->err),
					 "RX num_buffers is 0");
				return -EPROTO;
			}
		}
		g->rx_len = 0;
		off = hdr;
	}
	if (g->rx_len + len - off > FG_FRAME_BUF) {
		snprintf(g->err, sizeof(g->err), "RX frame longer than %u",
			 FG_FRAME_BUF);
		return -EPROTO;
	}
	fg_mem_read(&g->mem, gpa + off, g->rx_frame + g->rx_len, len - off);
	g->rx_len += len - off;
	g->rx_nbufs++;
	if (g->rx_nbufs == g->rx_want) {
		g->rx_frames++;
		ret = cb(arg, &g->rx_hdr, g->rx_nbufs, g->rx_frame, g->rx_len);
		g->rx_nbufs = 0;
	}
	return ret;
}

int fg_guest_rx_poll(struct fg_guest *g, fg_rx_cb cb, void *arg)
{
	struct fg_vq *vq = &g->dev.vq[FG_RXQ];
	unsigned long before = g->rx_frames;
	__u32 slot, len;
	int r, ret;

	while ((r = fg_vq_get_used(vq, &slot, &len)) > 0) {
		g->rx.free[g->rx.nfree++] = slot;
		g->rx_done++;
		ret = fg_guest_rx_buf(g, slot, len, cb, arg);
		if (ret)
			return ret;
	}
	if (r < 0) {
		snprintf(g->err, sizeof(g->err),
			 "RX used ring: bad entry at used idx %u",
			 vq->last_used);
		return r;
	}
	ret = fg_guest_rx_fill(g);
	if (ret)
		return ret;
	return g->rx_frames - before;
}

int fg_guest_reinit_vq(struct fg_guest *g, unsigned int idx)
{
	int ret;

	ret = fg_dev_reinit_vq(&g->dev, idx, g->backend_fd);
	if (ret) {
		snprintf(g->err, sizeof(g->err), "reinit vq %u: %s", idx,
			 strerror(-ret));
		return ret;
	}
	if (idx == FG_TXQ) {
		fg_pool_reset(&g->tx);
		return 0;
	}
	fg_pool_reset(&g->rx);
	g->rx_nbufs = 0;
	return fg_guest_rx_fill(g);
}

int fg_guest_relocate_vq(struct fg_guest *g, unsigned int idx,
			 __u64 avail_gpa, __u64 used_gpa, __u16 base)
{
	struct fg_vq *vq = &g->dev.vq[idx];
	unsigned int num = vq->num;
	/* A packed ring's two parts are its 4-byte event areas. */
	size_t asize = vq->packed ? 4 : fg_vring_avail_size(num);
	size_t usize = vq->packed ? 4 : fg_vring_used_size(num);
	int ret;

	ret = fg_dev_set_backend(&g->dev, idx, -1);
	if (ret)
		goto err;
	vq->avail = fg_mem_hva(&g->mem, avail_gpa, asize);
	vq->used = fg_mem_hva(&g->mem, used_gpa, usize);
	if (!vq->avail || !vq->used) {
		ret = -EFAULT;
		goto err;
	}
	vq->avail_gpa = avail_gpa;
	vq->used_gpa = used_gpa;
	if (!vq->packed) {
		vq->used_event = &vq->avail->ring[num];
		vq->avail_event = (__u16 *)&vq->used->ring[num];
	}
	fg_vq_reset(vq);
	if (!vq->packed) {
		vq->avail_idx = base;
		vq->kicked_idx = base;
	}
	ret = fg_dev_setup_vq(&g->dev, idx);
	if (ret)
		goto err;
	if (idx == FG_TXQ) {
		fg_pool_reset(&g->tx);
	} else {
		fg_pool_reset(&g->rx);
		g->rx_nbufs = 0;
		ret = fg_guest_rx_fill(g);
		if (ret)
			return ret;
	}
	ret = fg_dev_set_backend(&g->dev, idx, g->backend_fd);
	if (ret)
		goto err;
	fg_vq_kick_force(vq);
	return 0;
err:
	snprintf(g->err, sizeof(g->err), "relocate vq %u: %s", idx,
		 strerror(-ret));
	return ret;
}

int fg_guest_reset_owner(struct fg_guest *g)
{
	int ret;

	ret = fg_dev_reset_owner(&g->dev, -1);
	if (ret) {
		snprintf(g->err, sizeof(g->err), "reset owner: %s",
			 strerror(-ret));
		return ret;
	}
	fg_pool_reset(&g->tx);
	fg_pool_reset(&g->rx);
	g->rx_nbufs = 0;
	ret = fg_guest_rx_fill(g);
	if (!ret)
		ret = fg_dev_set_backend(&g->dev, FG_RXQ, g->backend_fd);
	if (!ret)
		ret = fg_dev_set_backend(&g->dev, FG_TXQ, g->backend_fd);
	if (ret)
		snprintf(g->err, sizeof(g->err), "reset owner: backend: %s",
			 strerror(-ret));
	return ret;
}

bool fg_guest_arm(struct fg_guest *g)
{
	bool tx = fg_vq_enable_cb(&g->dev.vq[FG_TXQ]);
	bool rx = fg_vq_enable_cb(&g->dev.vq[FG_RXQ]);

	return tx || rx;
}
