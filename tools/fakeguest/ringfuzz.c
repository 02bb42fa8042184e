// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: the ring fuzzer (see fg_ringfuzz.h).
 *
 * Each round settles the queue it picks first: detach the backend (the
 * device finishes what it was doing) and count the err eventfd's signals.
 * Then it injects one kind of content: hostile kinds into a ring reset in
 * place (SET_VRING_BASE 0, few ioctls: the fuzzer's speed is its reach),
 * valid ones into a rebuilt and refilled ring. Input that must break the
 * queue is waited for at once. The device's "broken" counter must match
 * the signals at every traffic round and when the device is closed.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "fg_env.h"
#include "fg_hostile.h"
#include "fg_net.h"
#include "fg_ringfuzz.h"
#include "fg_sys.h"

#define RF_CANARY_LEN	0x4000UL
#define RF_CANARY_EVERY	16	/* rounds */
#define RF_CANARY_BYTE	0xc5
#define RF_ERR_WAIT_MS	5000
#define RF_MAX_NEW	8	/* avail entries per random round */
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char * const rf_kind_names[FG_RF_COUNT] = {
	[FG_RF_RANDOM] = "random",
	[FG_RF_INDIRECT] = "indirect",
	[FG_RF_OVERLAP] = "overlap",
	[FG_RF_HOLE] = "hole",
	[FG_RF_MALFORMED] = "malformed",
	[FG_RF_IDX_JUMP] = "idx_jump",
	[FG_RF_KICKS] = "kicks",
	[FG_RF_TRAFFIC] = "traffic",
};

/* Relative weights of the kinds. */
static const unsigned int rf_weight[FG_RF_COUNT] = {
	[FG_RF_RANDOM] = 30, [FG_RF_INDIRECT] = 12, [FG_RF_OVERLAP] = 10,
	[FG_RF_HOLE] = 10, [FG_RF_MALFORMED] = 14, [FG_RF_IDX_JUMP] = 6,
	[FG_RF_KICKS] = 8, [FG_RF_TRAFFIC] = 6,
};

static const unsigned int rf_ring_nums[] = { 2, 8, 64, 256 };
static const enum fg_backend rf_backends[] = {
	FG_BK_TAP, FG_BK_TAP, FG_BK_MACVTAP, FG_BK_PACKET,
};

struct rf {
	const struct fg_rf_cfg *cfg;
	struct fg_rf_result *res;
	struct fg_rng rng;
	struct fg_rig rig;
	struct fg_guest *g;
	enum fg_backend backend;
	char stats[300];
	long long broken0[2];	/* "broken" counter when the device opened */
	__u64 signals[2];	/* err eventfd signals since then */
	bool clean[2];		/* the last round must not have broken it */
	enum fg_rf_kind last[2];	/* what the last round put there */
	__u64 avail0[2], used0[2];
	bool moved[2];
	__u64 scratch;		/* room for overlapping ring layouts */
	__u8 *canary[2 * FG_MAX_REGIONS];
	unsigned int ncanary;
	unsigned long dev_no, round;
	__u16 epoch;
	__u32 seq;
};

const char *fg_rf_kind_name(enum fg_rf_kind kind)
{
	return kind < FG_RF_COUNT ? rf_kind_names[kind] : "?";
}

static int rf_finding(struct rf *rf, const char *fmt, ...)
{
	struct fg_rf_result *res = rf->res;
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!res->findings++)
		snprintf(res->finding, sizeof(res->finding),
			 "seed %u device %lu round %lu (%s backend, ring %u, features %#llx): %s",
			 rf->cfg->seed, rf->dev_no, rf->round,
			 fg_env_name(rf->backend), rf->g ? rf->g->dev.vq[0].num : 0,
			 rf->g ? (unsigned long long)rf->g->dev.features : 0ULL,
			 msg);
	return -1;
}

static __u32 rf_below(struct rf *rf, __u32 n)
{
	return n ? fg_rng_below(&rf->rng, n) : 0;
}

static bool rf_chance(struct rf *rf, unsigned int one_in)
{
	return !rf_below(rf, one_in);
}

/* One counter of queue @q from the device's debugfs stats; -1 if none. */
static long long rf_stat(struct rf *rf, unsigned int q, const char *name)
{
	const char *queue = q == FG_RXQ ? "rx " : "tx ";
	char buf[1024], want[40], *line, *p;
	long long v;
	FILE *f;
	size_t n;

	f = fopen(rf->stats, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	snprintf(want, sizeof(want), " %s ", name);
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, queue, 3))
			continue;
		p = strstr(line, want);
		if (p && sscanf(p + strlen(want), "%lld", &v) == 1)
			return v;
	}
	return -1;
}

/* ------------------------------------------------------------------
 * Canaries: pages mapped right before and after every region, in the
 * guard gaps, so that an access just outside a region lands in memory
 * that exists but that no memory-table entry covers.
 */
static int rf_canary_arm(struct rf *rf)
{
	struct fg_mem *m = &rf->g->mem;
	unsigned int i, side;

	rf->ncanary = 0;
	for (i = 0; i < m->nregions; i++) {
		for (side = 0; side < 2; side++) {
			__u8 *at = side ? m->region[i].hva + m->region[i].size :
					  m->region[i].hva - RF_CANARY_LEN;
			void *p = mmap(at, RF_CANARY_LEN, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				       -1, 0);

			if (p == MAP_FAILED)
				return -errno;
			memset(p, RF_CANARY_BYTE, RF_CANARY_LEN);
			rf->canary[rf->ncanary++] = p;
		}
	}
	return 0;
}

static int rf_canary_check(struct rf *rf)
{
	static __u8 pattern[RF_CANARY_LEN];
	unsigned int i;
	size_t k;

	if (pattern[0] != RF_CANARY_BYTE)
		memset(pattern, RF_CANARY_BYTE, sizeof(pattern));
	for (i = 0; i < rf->ncanary; i++) {
		if (!memcmp(rf->canary[i], pattern, RF_CANARY_LEN))
			continue;
		for (k = 0; k < RF_CANARY_LEN; k++)
			if (rf->canary[i][k] != RF_CANARY_BYTE)
				return rf_finding(rf, "canary %u (%s region %u) hit at +%zu: %#x",
						  i, i % 2 ? "after" : "before",
						  i / 2, k, rf->canary[i][k]);
	}
	return 0;
}

/* ------------------------------------------------------------------
 * Settling a queue, and the device's word against the err eventfd.
 */
static int rf_settle(struct rf *rf, unsigned int q)
{
	struct fg_guest *g = rf->g;
	__u64 n = 0;
	int ret;

	/* Detaching waits for the worker: the device is done with the ring. */
	ret = fg_dev_set_backend(&g->dev, q, -1);
	if (ret)
		return rf_finding(rf, "detach %u: %s", q, strerror(-ret));
	if (read(g->dev.vq[q].err_fd, &n, sizeof(n)) != sizeof(n))
		n = 0;
	if (n && rf->clean[q])
		return rf_finding(rf, "queue %u flagged after valid input (%s)",
				  q, fg_rf_kind_name(rf->last[q]));
	if (n)
		rf->res->flagged[rf->last[q]]++;
	rf->signals[q] += n;
	rf->clean[q] = false;
	return 0;
}

/* The device's broken counters against the err eventfd signals. */
static int rf_agree(struct rf *rf)
{
	unsigned int q;
	long long b;

	for (q = 0; q < 2; q++) {
		b = rf_stat(rf, q, "broken");
		if (b < 0)
			return rf_finding(rf, "no broken counter in %s",
					  rf->stats);
		if ((__u64)(b - rf->broken0[q]) != rf->signals[q])
			return rf_finding(rf, "queue %u: err eventfd %llu times, broken +%lld",
					  q, (unsigned long long)rf->signals[q],
					  b - rf->broken0[q]);
	}
	return 0;
}

/* A settled queue rebuilt in its normal place, refilled and attached. */
static int rf_restore(struct rf *rf, unsigned int q)
{
	struct fg_guest *g = rf->g;
	int ret;

	if (rf->moved[q]) {
		rf->moved[q] = false;
		ret = fg_guest_relocate_vq(g, q, rf->avail0[q], rf->used0[q], 0);
	} else {
		ret = fg_guest_reinit_vq(g, q);
	}
	if (ret)
		return rf_finding(rf, "rebuilding queue %u: %s", q, g->err);
	return 0;
}

/*
 * A settled queue's ring emptied in place, with no descriptor left to the
 * driver; the backend stays detached until rf_go().
 */
static int rf_blank(struct rf *rf, unsigned int q)
{
	struct fg_vq *vq = &rf->g->dev.vq[q];
	struct vhost_vring_state st = { .index = q };

	fg_vq_reset(vq);
	st.num = fg_vq_base(vq);
	if (ioctl(rf->g->dev.fd, VHOST_SET_VRING_BASE, &st))
		return rf_finding(rf, "SET_VRING_BASE %u: %s", q,
				  strerror(errno));
	vq->nfree = 0;
	return 0;
}

static int rf_go(struct rf *rf, unsigned int q)
{
	struct fg_vq *vq = &rf->g->dev.vq[q];
	unsigned int kicks = 1 + rf_below(rf, 3);
	int ret;

	fg_vq_publish(vq);
	ret = fg_dev_set_backend(&rf->g->dev, q, rf->g->backend_fd);
	if (ret)
		return rf_finding(rf, "attach %u: %s", q, strerror(-ret));
	while (kicks--)
		fg_vq_kick_force(vq);
	return 0;
}

/* A frame from the host, so that the device looks at the RX ring. */
static void rf_host_frame(struct rf *rf)
{
	size_t len = FG_FRAME_MIN + rf_below(rf, FG_FRAME_MAX - FG_FRAME_MIN + 1);

	/* A full socket buffer only means fewer frames; not a finding. */
	fg_host_send(&rf->rig.env.host, FG_JUNK_STREAM, rf->seq++, len);
}

/* rf_go(), then for RX one to three frames from the host. */
static int rf_go_frames(struct rf *rf, unsigned int q)
{
	unsigned int i;

	if (rf_go(rf, q))
		return -1;
	if (q == FG_RXQ)
		for (i = rf_below(rf, 3) + 1; i; i--)
			rf_host_frame(rf);
	return 0;
}

/* ------------------------------------------------------------------
 * Random content.
 */
static __u64 rf_addr(struct rf *rf, const struct fg_vq *vq)
{
	const struct fg_mem *m = &rf->g->mem;
	const struct fg_pool *p = vq == &rf->g->dev.vq[FG_RXQ] ? &rf->g->rx :
								  &rf->g->tx;
	const struct fg_region *r = &m->region[rf_below(rf, m->nregions)];

	switch (rf_below(rf, 10)) {
	case 0:
	case 1:
		return p->gpa + rf_below(rf, p->stride * p->nslots);
	case 2:		/* across a region boundary (valid but for the last) */
		return r->gpa + r->size - rf_below(rf, 64);
	case 3:		/* the hole below the first region */
		return rf_below(rf, FG_DEFAULT_GPA_BASE);
	case 4:		/* past the end, or straddling it */
		return fg_mem_end(m) - 256 + rf_below(rf, 1 << 20);
	case 5:		/* the ring itself */
		return (rf_chance(rf, 2) ? vq->desc_gpa : vq->used_gpa) +
		       rf_below(rf, 64);
	case 6:
		return ((__u64)fg_rng_next(&rf->rng) << 32) | fg_rng_next(&rf->rng);
	case 7:		/* wraps */
		return 0 - (__u64)rf_below(rf, 8192);
	case 8:
		return 0;
	default:
		return p->ind_gpa + rf_below(rf, 1024);
	}
}

static __u32 rf_len(struct rf *rf)
{
	unsigned int hlen = rf->g->dev.hdr_len;

	const __u32 edge[] = {
		0, 1, hlen - 1, hlen, hlen + FG_FRAME_MIN, hlen + FG_FRAME_MAX,
		65536, 0xffffffff,
	};
	__u32 i = rf_below(rf, 10);

	return i < ARRAY_SIZE(edge) ? edge[i] : rf_below(rf, 70000);
}

static void rf_desc(struct rf *rf, const struct fg_vq *vq,
		    struct vring_desc *d, __u16 dir, __u16 self)
{
	__u16 flags = dir, next = rf_below(rf, vq->num);

	if (rf_chance(rf, 3))
		flags |= VRING_DESC_F_NEXT;
	if (rf_chance(rf, 8))
		flags ^= VRING_DESC_F_WRITE;
	if (rf_chance(rf, 16))
		flags = fg_rng_next(&rf->rng);
	switch (rf_below(rf, 16)) {
	case 0:
		next = vq->num;
		break;
	case 1:
		next = 0xffff;
		break;
	case 2:
		next = self;
		break;
	default:
		break;
	}
	d->addr = fg_cpu_to_v64(vq, rf_addr(rf, vq));
	d->len = fg_cpu_to_v32(vq, rf_len(rf));
	d->flags = fg_cpu_to_v16(vq, flags);
	d->next = fg_cpu_to_v16(vq, next);
}

/* A random indirect table at the pool's first table; its length. */
static __u32 rf_indirect_table(struct rf *rf, struct fg_vq *vq,
			       const struct fg_pool *p, __u16 dir)
{
	struct vring_desc tbl[16];
	unsigned int n = 1 + rf_below(rf, 16), i;

	for (i = 0; i < n; i++) {
		rf_desc(rf, vq, &tbl[i], dir, i);
		if (rf_chance(rf, 4)) {
			/* A sane entry, chained to the next one. */
			tbl[i].addr = fg_cpu_to_v64(vq, p->gpa);
			tbl[i].len = fg_cpu_to_v32(vq, 64 + rf_below(rf, 1500));
			tbl[i].flags = fg_cpu_to_v16(vq, i + 1 < n ?
						     dir | VRING_DESC_F_NEXT : dir);
			tbl[i].next = fg_cpu_to_v16(vq, i + 1);
		}
	}
	fg_mem_write(&rf->g->mem, p->ind_gpa, tbl, n * sizeof(tbl[0]));
	if (rf_chance(rf, 4))
		return rf_below(rf, 20 * sizeof(tbl[0]));
	return n * sizeof(tbl[0]);
}

/* Random packed descriptors from slot 0 on, the head's flags published. */
static int rf_random_packed(struct rf *rf, unsigned int q, bool indirect)
{
	struct fg_vq *vq = &rf->g->dev.vq[q];
	const struct fg_pool *p = q == FG_RXQ ? &rf->g->rx : &rf->g->tx;
	__u16 dir = q == FG_RXQ ? VRING_DESC_F_WRITE : 0, flags;
	unsigned int n = 1 + rf_below(rf, vq->num < RF_MAX_NEW ? vq->num :
				      RF_MAX_NEW), i;
	struct vring_packed_desc tbl[16];

	if (rf_blank(rf, q))
		return -1;
	for (i = 0; i < n; i++) {
		struct vring_packed_desc *d = &vq->pdesc[i];

		/* Mostly available in this lap (AVAIL), now and then a lie. */
		flags = dir | 1U << VRING_PACKED_DESC_F_AVAIL;
		if (rf_chance(rf, 3))
			flags |= VRING_DESC_F_NEXT;
		if (rf_chance(rf, 8))
			flags ^= VRING_DESC_F_WRITE;
		if (rf_chance(rf, 8))
			flags ^= 1U << VRING_PACKED_DESC_F_USED;
		if (rf_chance(rf, 16))
			flags ^= 1U << VRING_PACKED_DESC_F_AVAIL;
		if (rf_chance(rf, 16))
			flags = fg_rng_next(&rf->rng);
		d->addr = htole64(rf_addr(rf, vq));
		d->len = htole32(rf_len(rf));
		d->id = htole16(rf_chance(rf, 8) ? fg_rng_next(&rf->rng) :
				rf_below(rf, vq->num));
		if (indirect && rf_chance(rf, 2)) {
			unsigned int k, nt = 1 + rf_below(rf, 16);

			for (k = 0; k < nt; k++) {
				tbl[k].addr = htole64(rf_chance(rf, 4) ? p->gpa :
						      rf_addr(rf, vq));
				tbl[k].len = htole32(rf_len(rf));
				tbl[k].id = 0;
				tbl[k].flags = htole16(rf_chance(rf, 8) ?
						       fg_rng_next(&rf->rng) : dir);
			}
			fg_mem_write(&rf->g->mem, p->ind_gpa, tbl,
				     nt * sizeof(tbl[0]));
			d->addr = htole64(p->ind_gpa);
			d->len = htole32(rf_chance(rf, 4) ?
					 rf_below(rf, 20 * sizeof(tbl[0])) :
					 nt * sizeof(tbl[0]));
			flags = (flags & ~VRING_DESC_F_NEXT) |
				VRING_DESC_F_INDIRECT;
			if (rf_chance(rf, 8))
				flags |= VRING_DESC_F_NEXT;
		}
		if (i)
			d->flags = htole16(flags);
		else
			vq->pend_flags[0] = flags;
	}
	vq->pend_slot[0] = 0;
	vq->npend = 1;
	if (rf_chance(rf, 4))
		*(__u32 *)vq->avail = fg_rng_next(&rf->rng);
	return rf_go_frames(rf, q);
}

static int rf_random(struct rf *rf, unsigned int q, bool indirect)
{
	struct fg_vq *vq = &rf->g->dev.vq[q];
	const struct fg_pool *p = q == FG_RXQ ? &rf->g->rx : &rf->g->tx;
	__u16 dir = q == FG_RXQ ? VRING_DESC_F_WRITE : 0;
	unsigned int n, i, slot;

	if (vq->packed)
		return rf_random_packed(rf, q, indirect);
	if (rf_blank(rf, q))
		return -1;
	n = 1 + rf_below(rf, vq->num < RF_MAX_NEW ? vq->num : RF_MAX_NEW);
	for (i = 0; i < n; i++) {
		slot = rf_below(rf, vq->num);
		rf_desc(rf, vq, &vq->desc[slot], dir, slot);
		if (indirect) {
			__u32 tlen = rf_indirect_table(rf, vq, p, dir);
			__u16 f = VRING_DESC_F_INDIRECT;

			if (rf_chance(rf, 8))
				f |= VRING_DESC_F_NEXT;
			vq->desc[slot].addr = fg_cpu_to_v64(vq, p->ind_gpa);
			vq->desc[slot].len = fg_cpu_to_v32(vq, tlen);
			vq->desc[slot].flags = fg_cpu_to_v16(vq, f);
		}
		vq->avail->ring[(vq->avail_idx + i) % vq->num] =
			fg_cpu_to_v16(vq, rf_chance(rf, 10) ?
				      fg_rng_next(&rf->rng) : slot);
	}
	vq->avail_idx += rf_chance(rf, 16) ? fg_rng_next(&rf->rng) : n;
	if (rf_chance(rf, 4))
		vq->avail->flags = fg_cpu_to_v16(vq, fg_rng_next(&rf->rng));
	if (rf_chance(rf, 4))
		*vq->used_event = fg_cpu_to_v16(vq, fg_rng_next(&rf->rng));
	return rf_go_frames(rf, q);
}

/* Wait for input that must break queue @q to do so, and account it. */
static int rf_must_break(struct rf *rf, unsigned int q, const char *what)
{
	struct pollfd p = { .fd = rf->g->dev.vq[q].err_fd, .events = POLLIN };
	__u64 n = 0;

	if (poll(&p, 1, RF_ERR_WAIT_MS) != 1 ||
	    read(p.fd, &n, sizeof(n)) != sizeof(n) || !n)
		return rf_finding(rf, "queue %u not flagged within %d ms for %s",
				  q, RF_ERR_WAIT_MS, what);
	rf->signals[q] += n;
	rf->res->flagged[rf->last[q]]++;
	return 0;
}

/* One device-visible buffer in a hole of the memory table. */
static int rf_hole(struct rf *rf, unsigned int q)
{
	struct fg_vq *vq = &rf->g->dev.vq[q];
	const struct fg_mem *m = &rf->g->mem;
	__u32 len = rf->g->dev.hdr_len + FG_FRAME_MAX;
	__u64 base = m->region[0].gpa, end = fg_mem_end(m), addr;

	if (rf_blank(rf, q))
		return -1;
	switch (rf_below(rf, 4)) {
	case 0:		/* below the first region */
		addr = rf_below(rf, base - len);
		break;
	case 1:		/* straddling its start */
		addr = base - 1 - rf_below(rf, len - 1);
		break;
	case 2:		/* straddling the end */
		addr = end - 1 - rf_below(rf, len - 1);
		break;
	default:	/* past the end */
		addr = end + rf_below(rf, 1 << 20);
		break;
	}
	if (vq->packed) {
		vq->pdesc[0].addr = htole64(addr);
		vq->pdesc[0].len = htole32(len);
		vq->pend_slot[0] = 0;
		vq->pend_flags[0] = (q == FG_RXQ ? VRING_DESC_F_WRITE : 0) |
				    1U << VRING_PACKED_DESC_F_AVAIL;
		vq->npend = 1;
	} else {
		vq->desc[0].addr = fg_cpu_to_v64(vq, addr);
		vq->desc[0].len = fg_cpu_to_v32(vq, len);
		vq->desc[0].flags = fg_cpu_to_v16(vq, q == FG_RXQ ?
						  VRING_DESC_F_WRITE : 0);
		vq->avail->ring[0] = 0;
		vq->avail_idx = 1;
	}
	if (rf_go(rf, q))
		return -1;
	if (q == FG_RXQ)
		rf_host_frame(rf);
	return rf_must_break(rf, q, "a buffer in a memory-table hole");
}

/*
 * The packed form: a chain round the whole ring, NEXT on every slot, the
 * slots after the head marked with random wrap bits (lies the head's
 * flags cover: the device must not trust them, and must stop at num).
 */
static int rf_chain_round(struct rf *rf, unsigned int q)
{
	struct fg_vq *vq = &rf->g->dev.vq[q];
	__u16 dir = q == FG_RXQ ? VRING_DESC_F_WRITE : 0;
	unsigned int i;

	for (i = 0; i < vq->num; i++) {
		vq->pdesc[i].addr = htole64(q == FG_RXQ ? rf->g->rx.gpa :
					    rf->g->tx.gpa);
		vq->pdesc[i].len = htole32(16);
		vq->pdesc[i].id = 0;
		vq->pdesc[i].flags = htole16(dir | VRING_DESC_F_NEXT |
					     (fg_rng_next(&rf->rng) & 0x8080));
	}
	vq->pend_slot[0] = 0;
	vq->pend_flags[0] = dir | VRING_DESC_F_NEXT |
			    1U << VRING_PACKED_DESC_F_AVAIL;
	vq->npend = 1;
	if (rf_go(rf, q))
		return -1;
	if (q == FG_RXQ)
		rf_host_frame(rf);
	return rf_must_break(rf, q, "a packed chain round the ring");
}

static int rf_idx_jump(struct rf *rf, unsigned int q)
{
	struct fg_vq *vq = &rf->g->dev.vq[q];
	unsigned int i;

	if (rf_blank(rf, q))
		return -1;
	if (vq->packed)
		return rf_chain_round(rf, q);
	vq->desc[0].addr = fg_cpu_to_v64(vq, q == FG_RXQ ? rf->g->rx.gpa :
					 rf->g->tx.gpa);
	vq->desc[0].len = fg_cpu_to_v32(vq, rf->g->dev.hdr_len + FG_FRAME_MIN);
	vq->desc[0].flags = fg_cpu_to_v16(vq, q == FG_RXQ ?
					  VRING_DESC_F_WRITE : 0);
	for (i = 0; i < vq->num; i++)
		vq->avail->ring[i] = 0;
	vq->avail_idx = vq->num + 1 + rf_below(rf, 0x10000 - vq->num - 1);
	if (rf_go(rf, q))
		return -1;
	if (q == FG_RXQ)
		rf_host_frame(rf);
	return rf_must_break(rf, q, "an avail index jump");
}

static int rf_malformed(struct rf *rf, unsigned int q)
{
	enum fg_hostile kind = rf_below(rf, FG_BAD_COUNT);
	int ret;

	ret = fg_hostile_post(rf->g, q, kind);
	/* A kind a packed ring cannot express: the one it always can. */
	if (ret == -EOPNOTSUPP && rf->g->dev.vq[q].packed) {
		kind = FG_BAD_LONG_CHAIN;
		ret = fg_hostile_post(rf->g, q, kind);
	}
	if (ret)
		return rf_finding(rf, "posting %s: %s", fg_hostile_name(kind),
				  strerror(-ret));
	if (q == FG_RXQ)
		rf_host_frame(rf);
	return rf_must_break(rf, q, fg_hostile_name(kind));
}

/* Ring areas over each other, then frames on the moved ring. */
static int rf_overlap(struct rf *rf, unsigned int q)
{
	struct fg_guest *g = rf->g;
	struct fg_vq *vq = &g->dev.vq[q];
	__u64 avail = rf->avail0[q], used = rf->used0[q];
	__u8 frame[FG_FRAME_BUF], hdr[16] = { 0 };
	struct fg_frame_desc d = { .stream = FG_JUNK_STREAM };
	unsigned int i, n;
	size_t len;
	int ret;

	if (vq->packed) {
		/* The 4-byte event areas over each other and the descriptors. */
		switch (rf_below(rf, 4)) {
		case 0:		/* both at one place */
			avail = rf->scratch;
			used = rf->scratch;
			break;
		case 1:		/* the device's over slot 0's id and flags */
			used = vq->desc_gpa + 12;
			break;
		case 2:		/* the driver's over slot 1's flags */
			avail = vq->desc_gpa + 16 + 12;
			break;
		default:	/* the device's over the last slot's address */
			used = vq->desc_gpa + 16 * (vq->num - 1);
			break;
		}
		goto move;
	}
	switch (rf_below(rf, 5)) {
	case 0:		/* used->flags over avail->idx */
		avail = rf->scratch + 2;
		used = rf->scratch + 4;
		break;
	case 1:		/* the used ring over the descriptors */
		used = vq->desc_gpa;
		break;
	case 2:		/* both at one place */
		avail = rf->scratch;
		used = rf->scratch;
		break;
	case 3:		/* the avail ring over the descriptors */
		avail = vq->desc_gpa;
		break;
	default:	/* the used ring over the avail entries */
		used = (rf->avail0[q] + 4 + 3) & ~3ULL;
		break;
	}
move:
	rf->moved[q] = true;
	ret = fg_guest_relocate_vq(g, q, avail, used, rf_below(rf, 0x10000));
	if (ret)
		return rf_finding(rf, "moving queue %u: %s", q, g->err);
	n = 1 + rf_below(rf, 4);
	if (q == FG_RXQ) {
		for (i = 0; i < n; i++)
			rf_host_frame(rf);
		return 0;
	}
	for (i = 0; i < n; i++) {
		d.seq = rf->seq++;
		d.len = FG_FRAME_MIN + rf_below(rf, 200);
		len = fg_frame_build(frame, &d, g->mac, g->mac);
		if (fg_guest_tx(g, hdr, frame, len))
			break;
	}
	fg_guest_tx_kick(g);
	return 0;
}

/*
 * Kick storms with nothing posted, a kick eventfd swapped, the call
 * eventfd taken away and given back.
 */
static int rf_kicks(struct rf *rf, unsigned int q)
{
	struct fg_vq *vq = &rf->g->dev.vq[q];
	struct vhost_vring_file call = { .index = q, .fd = -1 };
	unsigned int n = 1 + rf_below(rf, 32);
	int ret;

	if (rf_restore(rf, q))
		return -1;
	while (n--)
		fg_vq_kick_force(vq);
	if (rf_chance(rf, 4)) {
		ret = fg_dev_replace_kick(&rf->g->dev, q, rf_chance(rf, 2));
		if (ret)
			return rf_finding(rf, "replacing the kick fd: %s",
					  strerror(-ret));
	}
	if (rf_chance(rf, 4)) {
		if (ioctl(rf->g->dev.fd, VHOST_SET_VRING_CALL, &call))
			return rf_finding(rf, "no call fd: %s", strerror(errno));
		fg_vq_kick_force(vq);
		call.fd = vq->call_fd;
		if (ioctl(rf->g->dev.fd, VHOST_SET_VRING_CALL, &call))
			return rf_finding(rf, "call fd back: %s",
					  strerror(errno));
	}
	rf->clean[q] = true;
	return 0;
}

/* Valid frames both ways, verified byte for byte, and counted. */
static int rf_traffic(struct rf *rf)
{
	struct fg_traffic_result tr;
	struct fg_traffic_cfg t;
	long long pkts, errs;
	long drained;
	int ret;

	if (rf_settle(rf, FG_TXQ) || rf_settle(rf, FG_RXQ) ||
	    rf_agree(rf) || rf_restore(rf, FG_TXQ) || rf_restore(rf, FG_RXQ))
		return -1;
	rf->last[FG_RXQ] = FG_RF_TRAFFIC;
	rf->last[FG_TXQ] = FG_RF_TRAFFIC;
	fg_traffic_defaults(&t);
	t.tx_frames = 1 + rf_below(rf, 32);
	t.rx_frames = 1 + rf_below(rf, 32);
	t.timeout_ms = 10000;
	t.epoch = ++rf->epoch;
	t.reorder_ok = !fg_env_keeps_order(rf->backend);
	t.plan.seed = rf->cfg->seed ^ rf->round;
	/*
	 * What hostile rounds sent out is still queued on the host socket:
	 * enough of it (up to a ring of 64 KiB frames per round) would fill
	 * its buffer and the stack would drop the valid frames on arrival.
	 */
	drained = fg_host_drain(&rf->rig.env.host);
	if (drained < 0)
		return rf_finding(rf, "draining the host socket: %s",
				  strerror(-drained));
	rf->res->drained += drained;
	if ((unsigned long)drained > rf->res->drained_max)
		rf->res->drained_max = drained;
	fg_packet_drops(rf->rig.env.host.fd);	/* reading clears it */
	pkts = rf_stat(rf, FG_TXQ, "packets");
	errs = rf_stat(rf, FG_TXQ, "errors");
	ret = fg_rig_run(&rf->rig, &t, &tr);
	if (ret || tr.tx_recv != t.tx_frames ||
	    tr.rx_recv + tr.rx_dropped != t.rx_frames) {
		char env[400], got[100];

		fg_env_dump(&rf->rig.env, env, sizeof(env));
		snprintf(got, sizeof(got), "tx %lu/%lu rx %lu+%lu/%lu",
			 tr.tx_recv, t.tx_frames, tr.rx_recv, tr.rx_dropped,
			 t.rx_frames);
		return rf_finding(rf, "valid traffic: %s %s; TX +%lld errors +%lld (%lld); %s",
				  ret ? tr.err : "", got,
				  rf_stat(rf, FG_TXQ, "packets") - pkts,
				  rf_stat(rf, FG_TXQ, "errors") - errs,
				  rf_stat(rf, FG_TXQ, "last_error"), env);
	}
	/* The counter moves after the frame left: let the worker finish. */
	rf->clean[FG_TXQ] = true;
	if (rf_settle(rf, FG_TXQ))
		return -1;
	if (rf_stat(rf, FG_TXQ, "packets") - pkts != (long long)t.tx_frames ||
	    rf_stat(rf, FG_TXQ, "errors") != errs)
		return rf_finding(rf, "TX packets +%lld errors +%lld for %lu frames",
				  rf_stat(rf, FG_TXQ, "packets") - pkts,
				  rf_stat(rf, FG_TXQ, "errors") - errs,
				  t.tx_frames);
	rf->res->tx_frames += tr.tx_recv;
	rf->res->rx_frames += tr.rx_recv;
	rf->clean[FG_RXQ] = true;
	rf->clean[FG_TXQ] = true;
	return 0;
}

static enum fg_rf_kind rf_pick(struct rf *rf)
{
	unsigned int total = 0, k, x;

	for (k = 0; k < FG_RF_COUNT; k++)
		total += rf_weight[k];
	x = rf_below(rf, total);
	for (k = 0; x >= rf_weight[k]; k++)
		x -= rf_weight[k];
	return k;
}

static int rf_round(struct rf *rf)
{
	enum fg_rf_kind kind = rf_pick(rf);
	unsigned int q = rf_below(rf, 2);
	int ret;

	rf->round++;
	rf->res->kinds[kind]++;
	if (kind == FG_RF_TRAFFIC)
		return rf_traffic(rf);
	if (rf_settle(rf, q))
		return -1;
	/* Back from an overlapping layout first, unless moving again. */
	if (rf->moved[q] && kind != FG_RF_OVERLAP &&
	    (rf_restore(rf, q) || rf_settle(rf, q)))
		return -1;
	rf->last[q] = kind;
	switch (kind) {
	case FG_RF_RANDOM:
	case FG_RF_INDIRECT:
		ret = rf_random(rf, q, kind == FG_RF_INDIRECT);
		break;
	case FG_RF_OVERLAP:
		ret = rf_overlap(rf, q);
		break;
	case FG_RF_HOLE:
		ret = rf_hole(rf, q);
		break;
	case FG_RF_MALFORMED:
		ret = rf_malformed(rf, q);
		break;
	case FG_RF_IDX_JUMP:
		ret = rf_idx_jump(rf, q);
		break;
	default:
		ret = rf_kicks(rf, q);
		break;
	}
	if (ret)
		return ret;
	rf->res->rings++;
	/* Canary hits stay: checking now and then finds them all. */
	return rf->round % RF_CANARY_EVERY ? 0 : rf_canary_check(rf);
}

/* ------------------------------------------------------------------
 * Devices.
 */
static int rf_dev_up(struct rf *rf)
{
	struct fg_rig_cfg c;
	unsigned int q;
	int id, ret;

	memset(&c, 0, sizeof(c));
	c.guest.dev_path = rf->cfg->dev_path;
	c.guest.features = FG_FEATURES_DEFAULT;
	if (rf_chance(rf, 2))
		c.guest.features &= ~FG_F(VIRTIO_RING_F_EVENT_IDX);
	if (rf_chance(rf, 3))
		c.guest.features &= ~FG_F(VIRTIO_RING_F_INDIRECT_DESC);
	if (rf_chance(rf, 3))
		c.guest.features &= ~FG_F(VIRTIO_NET_F_MRG_RXBUF);
	if (rf_chance(rf, 4))
		c.guest.features &= ~FG_F(VIRTIO_F_VERSION_1);
	else if (rf_chance(rf, 3))
		c.guest.features |= FG_F(VIRTIO_F_RING_PACKED);
	if (rf_chance(rf, 4))
		c.guest.features |= FG_F(VIRTIO_F_IN_ORDER);
	c.guest.ring_num = rf_ring_nums[rf_below(rf, 4)];
	c.guest.nregions = 2;
	c.guest.max_frame = FG_FRAME_MAX;
	c.guest.rx_buf_len = rf_chance(rf, 2) ? 1536 : 256;
	c.guest.seed = rf->cfg->seed + rf->dev_no;
	rf->backend = rf_backends[rf_below(rf, 4)];
	c.backend = rf->backend;
	c.id = rf->cfg->id;
	rf->g = NULL;
	ret = fg_rig_up(&rf->rig, &c);
	if (ret) {
		snprintf(rf->res->finding, sizeof(rf->res->finding),
			 "device %lu (%s): %s", rf->dev_no,
			 fg_env_name(rf->backend), rf->rig.err);
		return ret;
	}
	rf->g = &rf->rig.g[0];
	rf->res->devices++;
	rf->epoch = 0;
	if (fg_debugfs_count(getpid(), &id) < 1) {
		snprintf(rf->res->finding, sizeof(rf->res->finding),
			 "no debugfs directory for the device");
		return -ENOENT;
	}
	snprintf(rf->stats, sizeof(rf->stats), FG_VHNET_DEBUGFS "/%d-%d/stats",
		 (int)getpid(), id);
	for (q = 0; q < 2; q++) {
		rf->broken0[q] = rf_stat(rf, q, "broken");
		rf->signals[q] = 0;
		rf->clean[q] = false;
		rf->moved[q] = false;
		rf->avail0[q] = rf->g->dev.vq[q].avail_gpa;
		rf->used0[q] = rf->g->dev.vq[q].used_gpa;
	}
	ret = fg_mem_alloc(&rf->g->mem,
			   8 + fg_vring_used_size(rf->g->dev.vq[0].num), 4,
			   FG_ALLOC_CONTIG, &rf->scratch);
	if (!ret)
		ret = rf_canary_arm(rf);
	if (ret)
		snprintf(rf->res->finding, sizeof(rf->res->finding),
			 "device %lu: scratch or canaries: %s", rf->dev_no,
			 strerror(-ret));
	return ret;
}

static long long rf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Settle both queues, check the worst pass, and time close(). */
static int rf_dev_down(struct rf *rf)
{
	struct fg_rf_result *res = rf->res;
	int ret = 0, q;
	long long t0, turns, us;
	unsigned int ms;

	for (q = 0; q < 2 && !ret; q++)
		ret = rf_settle(rf, q);
	if (!ret)
		ret = rf_agree(rf) ?: rf_canary_check(rf);
	for (q = 0; q < 2 && !ret; q++) {
		turns = rf_stat(rf, q, "turns_max");
		us = rf_stat(rf, q, "pass_us_max");
		if (turns < 0 || us < 0) {
			ret = rf_finding(rf, "no turns_max/pass_us_max in %s",
					 rf->stats);
			break;
		}
		if (turns > res->turns_max)
			res->turns_max = turns;
		if ((unsigned long long)us > res->pass_us_max)
			res->pass_us_max = us;
		if (turns > rf->cfg->turns_limit)
			ret = rf_finding(rf, "queue %d: a pass took %lld turns (budget %u)",
					 q, turns, rf->cfg->turns_limit);
	}
	t0 = rf_now_ms();
	close(rf->g->dev.fd);
	rf->g->dev.fd = -1;
	ms = rf_now_ms() - t0;
	if (ms > res->close_ms_max)
		res->close_ms_max = ms;
	if (!ret && ms > rf->cfg->close_limit_ms)
		ret = rf_finding(rf, "close() took %u ms", ms);
	fg_rig_down(&rf->rig);
	rf->g = NULL;
	return ret;
}

int fg_rf_run(const struct fg_rf_cfg *cfg, struct fg_rf_result *res)
{
	struct rf *rf = calloc(1, sizeof(*rf));
	unsigned long left = cfg->rings;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	if (!rf)
		return -ENOMEM;
	rf->cfg = cfg;
	rf->res = res;
	fg_rng_seed(&rf->rng, cfg->seed);
	while (left && !ret) {
		unsigned long start = res->rings;

		ret = rf_dev_up(rf);
		if (ret) {
			if (rf->g)
				fg_rig_down(&rf->rig);
			break;
		}
		while (!ret && res->rings - start < cfg->rings_per_dev &&
		       res->rings - start < left) {
			unsigned long before = res->rings;

			ret = rf_round(rf);
			if (cfg->progress && res->rings != before &&
			    !(res->rings % cfg->progress_every))
				cfg->progress(res, cfg->progress_arg);
		}
		if (rf_dev_down(rf))
			ret = -1;
		left -= res->rings - start < left ? res->rings - start : left;
		rf->dev_no++;
	}
	free(rf);
	return ret;
}
