// SPDX-License-Identifier: GPL-2.0
/*
 * Device IOTLB (VIRTIO_F_ACCESS_PLATFORM, VHOST_BACKEND_F_IOTLB_MSG_V2):
 * the test plays a VMM with a vIOMMU whose IOVAs are the fake guest's
 * guest-physical addresses. A queue that meets an address with no
 * translation sends a MISS and waits, without spinning, until an UPDATE
 * covers it; INVALIDATE makes the next access miss again; a mapping's
 * permission is enforced; malformed messages get EINVAL and change
 * nothing; what read() hands out is fully initialised. The in-tree
 * vhost-net runs the checks whose contract it shares, as a reference.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/if_ether.h>

#include "kselftest_harness.h"
#include "fg_dev.h"
#include "fg_iotlb.h"
#include "fg_mem.h"
#include "fg_net.h"
#include "fg_sys.h"
#include "fg_vring.h"

#define REF_DEV		"/dev/vhost-net"
#define GUEST_MEM	(4ULL << 20)
#define RING_NUM	256
#define HDR_LEN		12
#define FRAME_LEN	200
#define BUF_LEN		4096
#define WAIT_MS		5000
#define CANARY		0x5a

FIXTURE(iotlb) {
	struct fg_mem mem;
	struct fg_dev dev;
	char ifname[IFNAMSIZ];
	int tap, pkt;
	__u64 buf;		/* one page for TX and RX, its own */
	bool opened;
};

FIXTURE_VARIANT(iotlb) {
	const char *dev;	/* NULL: vhnet */
	bool packed;		/* packed rings (vhnet only) */
};

FIXTURE_VARIANT_ADD(iotlb, vhost_net) { REF_DEV };
FIXTURE_VARIANT_ADD(iotlb, vhnet) { NULL };
FIXTURE_VARIANT_ADD(iotlb, vhnet_packed) { NULL, true };

static const char *dev_path(const char *dev)
{
	const char *env = getenv("VHNET_DEV");

	if (dev)
		return dev;
	return env && *env ? env : "/dev/vhnet";
}

static int map_range(struct fg_dev *d, __u64 start, __u64 len)
{
	__u64 a = start & ~(FG_IOTLB_PAGE - 1);
	int ret = 0;

	for (; a < start + len && !ret; a += FG_IOTLB_PAGE)
		ret = fg_iotlb_send(d, VHOST_IOTLB_UPDATE, a, FG_IOTLB_PAGE,
				    VHOST_ACCESS_RW);
	return ret;
}

/*
 * Map what the device writes of the rings before the attach, as QEMU
 * does: the used rings, and a packed ring's descriptors.
 */
static int map_used_rings(struct fg_dev *d)
{
	unsigned int q;
	int ret = 0;

	for (q = 0; q < 2 && !ret; q++) {
		ret = map_range(d, d->vq[q].used_gpa,
				fg_vring_used_size(RING_NUM));
		if (!ret && d->packed)
			ret = map_range(d, d->vq[q].desc_gpa,
					fg_pvq_desc_size(RING_NUM));
	}
	return ret;
}

FIXTURE_SETUP(iotlb)
{
	__u64 size = GUEST_MEM;
	__u64 want = FG_FEATURES_DEFAULT | FG_F(VIRTIO_F_ACCESS_PLATFORM) |
		     (variant->packed ? FG_F(VIRTIO_F_RING_PACKED) : 0);
	unsigned int q;
	int ret;

	self->tap = -1;
	self->pkt = -1;
	ASSERT_EQ(0, fg_mem_init(&self->mem, FG_DEFAULT_GPA_BASE, &size, 1));
	snprintf(self->ifname, sizeof(self->ifname), "vhtlb%d", getpid() % 100000);
	self->tap = fg_tap_open(self->ifname, FG_TAP_VNET_HDR, HDR_LEN, 0);
	ASSERT_LE(0, self->tap) TH_LOG("tap: %s", strerror(-self->tap));
	self->pkt = fg_packet_open(self->ifname, false, 0);
	ASSERT_LE(0, self->pkt) TH_LOG("packet socket: %s", strerror(-self->pkt));

	ret = fg_dev_setup(&self->dev, dev_path(variant->dev), want, &self->mem,
			   RING_NUM, -1);
	if (ret == -ENOENT && variant->dev)
		SKIP(return, "%s: no such device", variant->dev);
	ASSERT_EQ(0, ret) TH_LOG("device setup: %s", strerror(-ret));
	self->opened = true;
	ASSERT_TRUE(self->dev.iotlb) TH_LOG("VIRTIO_F_ACCESS_PLATFORM not offered");
	ASSERT_TRUE(self->dev.iotlb_v2);
	ASSERT_EQ(variant->packed, self->dev.packed);
	ASSERT_EQ(0, map_used_rings(&self->dev));
	for (q = 0; q < 2; q++)
		ASSERT_EQ(0, fg_dev_set_backend(&self->dev, q, self->tap));
	ASSERT_EQ(0, fg_mem_alloc(&self->mem, FG_IOTLB_PAGE, FG_IOTLB_PAGE,
				  FG_ALLOC_CONTIG, &self->buf));
}

FIXTURE_TEARDOWN(iotlb)
{
	if (self->opened)
		fg_dev_close(&self->dev);
	if (self->pkt >= 0)
		close(self->pkt);
	if (self->tap >= 0)
		close(self->tap);
	fg_mem_fini(&self->mem);
}

/* Queue one TX frame in the buffer page and kick. */
static void post_tx(struct __test_metadata *_metadata,
		    struct _test_data_iotlb *self, unsigned int cookie)
{
	struct fg_vq *vq = &self->dev.vq[FG_TXQ];
	struct fg_seg seg = { self->buf, HDR_LEN + FRAME_LEN };
	__u8 *p = fg_mem_hva(&self->mem, seg.gpa, seg.len);

	ASSERT_NE(NULL, p);
	memset(p, 0, HDR_LEN);
	memset(p + HDR_LEN, 0xff, ETH_ALEN);
	memset(p + HDR_LEN + ETH_ALEN, 0x02, ETH_ALEN);
	p[HDR_LEN + 12] = 0x88;
	p[HDR_LEN + 13] = 0xb5;
	memset(p + HDR_LEN + ETH_HLEN, cookie, FRAME_LEN - ETH_HLEN);
	ASSERT_LE(0, fg_vq_add(vq, &seg, 1, 0, 0, cookie));
	fg_vq_publish(vq);
	fg_vq_kick_force(vq);
}

struct used_wait {
	struct fg_vq *vq;
	__u32 cookie, len;
	int got;
};

static int used_came(void *arg)
{
	struct used_wait *w = arg;

	if (!w->got)
		w->got = fg_vq_get_used(w->vq, &w->cookie, &w->len);
	return w->got;
}

/* Serve misses (@perm) until queue @q returns a used entry. */
static int serve_until_used(struct _test_data_iotlb *self, unsigned int q,
			    __u8 perm, struct used_wait *w)
{
	memset(w, 0, sizeof(*w));
	w->vq = &self->dev.vq[q];
	return fg_iotlb_serve(&self->dev, perm, WAIT_MS, used_came, w);
}

static bool in_range(__u64 a, __u64 start, __u64 len)
{
	return a >= start && a - start < len;
}

/* Whether @iova is in a ring of either queue or in the buffer page. */
static bool expected_iova(struct _test_data_iotlb *self, __u64 iova)
{
	unsigned int q;

	for (q = 0; q < 2; q++) {
		const struct fg_vq *vq = &self->dev.vq[q];

		if (in_range(iova, vq->desc_gpa, fg_vring_desc_size(RING_NUM)) ||
		    in_range(iova, vq->avail_gpa, fg_vring_avail_size(RING_NUM)) ||
		    in_range(iova, vq->used_gpa, fg_vring_used_size(RING_NUM)))
			return true;
	}
	return in_range(iova, self->buf, BUF_LEN);
}

/* Answer misses until none comes for 200 ms; how many, or -errno. */
static int drain_misses(struct _test_data_iotlb *self)
{
	struct vhost_msg_v2 m;
	int n = 0, ret;

	while (!(ret = fg_iotlb_read(&self->dev, &m, 200))) {
		ret = fg_iotlb_send(&self->dev, VHOST_IOTLB_UPDATE,
				    m.iotlb.iova & ~(FG_IOTLB_PAGE - 1),
				    FG_IOTLB_PAGE, VHOST_ACCESS_RW);
		if (ret)
			return ret;
		if (++n > 64)
			return -ELOOP;
	}
	return ret == -ETIMEDOUT ? n : ret;
}

static long long misses(void)
{
	return fg_debugfs_stat(getpid(), "rx", "iotlb_misses") +
	       fg_debugfs_stat(getpid(), "tx", "iotlb_misses");
}

TEST_F(iotlb, tx_waits_for_miss_answer_then_sends)
{
	struct fg_vq *vq = &self->dev.vq[FG_TXQ];
	struct vhost_msg_v2 m;
	struct used_wait w;
	unsigned int i = 0;
	int n;

	post_tx(_metadata, self, 1);
	ASSERT_EQ(0, fg_iotlb_read(&self->dev, &m, WAIT_MS));
	EXPECT_EQ(VHOST_IOTLB_MSG_V2, m.type);
	EXPECT_EQ(VHOST_IOTLB_MISS, m.iotlb.type);
	EXPECT_EQ(VHOST_ACCESS_RO, m.iotlb.perm);
	EXPECT_TRUE(expected_iova(self, m.iotlb.iova))
		TH_LOG("miss at 0x%llx", (unsigned long long)m.iotlb.iova);
	/* Unanswered, the queue makes no progress. */
	fg_sleep_ms(200);
	EXPECT_EQ(0, used_came(&(struct used_wait){ .vq = vq }));
	ASSERT_EQ(0, fg_iotlb_send(&self->dev, VHOST_IOTLB_UPDATE,
				   m.iotlb.iova & ~(FG_IOTLB_PAGE - 1),
				   FG_IOTLB_PAGE, VHOST_ACCESS_RO));
	n = serve_until_used(self, FG_TXQ, VHOST_ACCESS_RO, &w);
	ASSERT_LE(0, n) TH_LOG("serving misses: %s", strerror(-n));
	EXPECT_EQ(1U, w.cookie);
	TH_LOG("%d more misses answered", n);
	/* Mapped now: the next frame goes without a miss. */
	post_tx(_metadata, self, 2);
	memset(&w, 0, sizeof(w));
	w.vq = vq;
	for (i = 0; i < WAIT_MS / 10 && !used_came(&w); i++)
		fg_sleep_ms(10);
	EXPECT_EQ(1, w.got);
	EXPECT_EQ(2U, w.cookie);
	EXPECT_EQ(-ETIMEDOUT, fg_iotlb_read(&self->dev, &m, 0));
}

TEST_F(iotlb, rx_buffer_misses_for_write)
{
	__u8 *p = fg_mem_hva(&self->mem, self->buf, BUF_LEN);
	struct fg_seg seg = { self->buf, BUF_LEN };
	struct fg_vq *vq = &self->dev.vq[FG_RXQ];
	bool saw_wo = false;
	struct vhost_msg_v2 m;
	__u8 f[FRAME_LEN];
	struct used_wait w = { .vq = vq };
	int i;

	ASSERT_NE(NULL, p);
	memset(p, CANARY, BUF_LEN);
	ASSERT_LE(0, fg_vq_add(vq, &seg, 0, 1, 0, 7));
	fg_vq_publish(vq);
	fg_vq_kick_force(vq);
	memset(f, 0xff, ETH_ALEN);
	memset(f + ETH_ALEN, 0x02, ETH_ALEN);
	f[12] = 0x88;
	f[13] = 0xb5;
	memset(f + ETH_HLEN, 0x3c, sizeof(f) - ETH_HLEN);
	ASSERT_EQ((ssize_t)sizeof(f), send(self->pkt, f, sizeof(f), 0));
	for (i = 0; i < 64 && !used_came(&w); i++) {
		if (fg_iotlb_read(&self->dev, &m, WAIT_MS))
			break;
		ASSERT_EQ(VHOST_IOTLB_MISS, m.iotlb.type);
		if (in_range(m.iotlb.iova, self->buf, BUF_LEN))
			saw_wo |= m.iotlb.perm == VHOST_ACCESS_WO;
		ASSERT_EQ(0, fg_iotlb_send(&self->dev, VHOST_IOTLB_UPDATE,
					   m.iotlb.iova & ~(FG_IOTLB_PAGE - 1),
					   FG_IOTLB_PAGE, VHOST_ACCESS_RW));
	}
	for (i = 0; i < WAIT_MS / 10 && !used_came(&w); i++)
		fg_sleep_ms(10);
	ASSERT_EQ(1, w.got);
	EXPECT_TRUE(saw_wo) TH_LOG("no write miss on the RX buffer");
	EXPECT_EQ(7U, w.cookie);
	EXPECT_EQ(HDR_LEN + FRAME_LEN, w.len);
	EXPECT_EQ(0, memcmp(p + HDR_LEN, f, sizeof(f)));
	EXPECT_EQ(CANARY, p[HDR_LEN + FRAME_LEN]);
}

TEST_F(iotlb, invalidate_makes_the_next_access_miss)
{
	struct vhost_msg_v2 m;
	struct used_wait w;
	bool buf_missed = false;
	int i, n;

	post_tx(_metadata, self, 1);
	n = serve_until_used(self, FG_TXQ, VHOST_ACCESS_RO, &w);
	ASSERT_LE(1, n);
	ASSERT_EQ(0, fg_iotlb_send(&self->dev, VHOST_IOTLB_INVALIDATE,
				   self->buf, FG_IOTLB_PAGE, 0));
	post_tx(_metadata, self, 2);
	memset(&w, 0, sizeof(w));
	w.vq = &self->dev.vq[FG_TXQ];
	for (i = 0; i < 16 && !buf_missed; i++) {
		ASSERT_EQ(0, fg_iotlb_read(&self->dev, &m, WAIT_MS));
		buf_missed = in_range(m.iotlb.iova, self->buf, BUF_LEN);
		if (!buf_missed)
			ASSERT_EQ(0, fg_iotlb_send(&self->dev, VHOST_IOTLB_UPDATE,
						   m.iotlb.iova & ~(FG_IOTLB_PAGE - 1),
						   FG_IOTLB_PAGE, VHOST_ACCESS_RW));
	}
	ASSERT_TRUE(buf_missed);
	EXPECT_EQ(0, used_came(&w)) TH_LOG("sent through an invalidated mapping");
	ASSERT_EQ(0, fg_iotlb_send(&self->dev, VHOST_IOTLB_UPDATE, self->buf,
				   FG_IOTLB_PAGE, VHOST_ACCESS_RO));
	for (i = 0; i < WAIT_MS / 10 && !used_came(&w); i++)
		fg_sleep_ms(10);
	EXPECT_EQ(1, w.got);
	EXPECT_EQ(2U, w.cookie);
}

TEST_F(iotlb, readonly_mapping_is_never_written)
{
	__u8 *p = fg_mem_hva(&self->mem, self->buf, BUF_LEN);
	struct fg_seg seg = { self->buf, BUF_LEN };
	struct fg_vq *vq = &self->dev.vq[FG_RXQ];
	struct vhost_msg_v2 m;
	bool errored = false;
	__u8 f[FRAME_LEN];
	int i;

	ASSERT_NE(NULL, p);
	memset(p, CANARY, BUF_LEN);
	/* The guest maps its RX buffer read-only for the device. */
	ASSERT_EQ(0, fg_iotlb_send(&self->dev, VHOST_IOTLB_UPDATE, self->buf,
				   FG_IOTLB_PAGE, VHOST_ACCESS_RO));
	ASSERT_LE(0, fg_vq_add(vq, &seg, 0, 1, 0, 7));
	fg_vq_publish(vq);
	fg_vq_kick_force(vq);
	memset(f, 0xff, sizeof(f));
	ASSERT_EQ((ssize_t)sizeof(f), send(self->pkt, f, sizeof(f), 0));
	/* Rings are served; the err eventfd must fire. */
	for (i = 0; i < 16 && !errored; i++) {
		errored = !fg_vq_wait_err(vq, 0);
		if (errored || fg_iotlb_read(&self->dev, &m, 500))
			continue;
		ASSERT_FALSE(in_range(m.iotlb.iova, self->buf, BUF_LEN));
		ASSERT_EQ(0, fg_iotlb_send(&self->dev, VHOST_IOTLB_UPDATE,
					   m.iotlb.iova & ~(FG_IOTLB_PAGE - 1),
					   FG_IOTLB_PAGE, VHOST_ACCESS_RW));
	}
	if (!errored)
		errored = !fg_vq_wait_err(vq, WAIT_MS);
	EXPECT_TRUE(errored) TH_LOG("queue not flagged");
	for (i = 0; i < BUF_LEN; i++) {
		if (p[i] != CANARY) {
			TH_LOG("byte %d written through a read-only mapping", i);
			EXPECT_EQ(CANARY, p[i]);
			break;
		}
	}
	EXPECT_EQ(0, used_came(&(struct used_wait){ .vq = vq }));
}

TEST_F(iotlb, unanswered_miss_does_not_spin)
{
	struct vhost_msg_v2 m;
	long long busy;
	struct timespec t0, t1;
	char worker[32];
	int i;

	snprintf(worker, sizeof(worker), "%s-%d", variant->dev ? "vhost" : "vhnet",
		 getpid());
	post_tx(_metadata, self, 1);
	ASSERT_EQ(0, fg_iotlb_read(&self->dev, &m, WAIT_MS));
	/* Kicks keep coming; the miss stays unanswered. */
	for (i = 0; i < 100; i++)
		fg_vq_kick_force(&self->dev.vq[FG_TXQ]);
	busy = fg_thread_busy_ns(worker, 500);
	ASSERT_LE(0, busy);
	TH_LOG("worker busy %lld us of 500 ms", busy / 1000);
	EXPECT_GT(50LL * 1000 * 1000, busy);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fg_dev_close(&self->dev);
	self->opened = false;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_GT(2, t1.tv_sec - t0.tv_sec) TH_LOG("close() took %ld s",
						   (long)(t1.tv_sec - t0.tv_sec));
}

TEST_F(iotlb, miss_message_fully_initialised)
{
	struct vhost_msg_v2 m, want;
	struct used_wait w;
	__u64 bf = 0;

	memset(&m, 0xa5, sizeof(m));
	post_tx(_metadata, self, 1);
	ASSERT_EQ(0, fg_iotlb_read(&self->dev, &m, WAIT_MS));
	memset(&want, 0, sizeof(want));
	want.type = VHOST_IOTLB_MSG_V2;
	want.iotlb.iova = m.iotlb.iova;
	want.iotlb.perm = m.iotlb.perm;
	want.iotlb.type = VHOST_IOTLB_MISS;
	EXPECT_EQ(0, memcmp(&want, &m, sizeof(m)));

	/* Without MSG_V2, the v1 layout: the same bytes, type 1. */
	if (variant->dev)
		return;	/* in-tree may have queued more v2 misses meanwhile */
	ASSERT_EQ(0, ioctl(self->dev.fd, VHOST_SET_BACKEND_FEATURES, &bf));
	self->dev.iotlb_v2 = false;
	ASSERT_EQ(0, fg_iotlb_send(&self->dev, VHOST_IOTLB_UPDATE,
				   m.iotlb.iova & ~(FG_IOTLB_PAGE - 1),
				   FG_IOTLB_PAGE, VHOST_ACCESS_RW));
	ASSERT_LE(0, serve_until_used(self, FG_TXQ, VHOST_ACCESS_RO, &w));
	/* A fresh miss: the buffer's translation goes, the next frame needs it. */
	ASSERT_EQ(0, fg_iotlb_send(&self->dev, VHOST_IOTLB_INVALIDATE, self->buf,
				   FG_IOTLB_PAGE, 0));
	post_tx(_metadata, self, 2);
	memset(&m, 0xa5, sizeof(m));
	ASSERT_EQ(0, fg_iotlb_read(&self->dev, &m, WAIT_MS));
	want.type = VHOST_IOTLB_MSG;
	want.iotlb.iova = m.iotlb.iova;
	want.iotlb.perm = m.iotlb.perm;
	EXPECT_EQ(0, memcmp(&want, &m, sizeof(m)));
}

TEST_F(iotlb, idle_device_has_nothing_to_read)
{
	struct pollfd p = { .fd = self->dev.fd, .events = POLLIN | POLLOUT };
	struct vhost_msg_v2 m;

	/* What the attach itself looked up is answered first. */
	ASSERT_LE(0, drain_misses(self));
	ASSERT_LE(0, poll(&p, 1, 0));
	EXPECT_EQ(0, p.revents & POLLIN);
	/* vhnet: always writable (in-tree reports nothing). */
	if (!variant->dev)
		EXPECT_EQ(POLLOUT, p.revents & POLLOUT);
	ASSERT_EQ(0, fcntl(self->dev.fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(self->dev.fd, &m, sizeof(m)));
	EXPECT_EQ(EAGAIN, errno);
}

/* A valid UPDATE of the buffer's page, broken in way @kind (0..11). */
static const char *break_msg(struct vhost_msg_v2 *m, unsigned int kind,
			     int *err)
{
	*err = EINVAL;
	switch (kind) {
	case 0:
		m->type = 3;
		return "message type 3";
	case 1:
		m->asid = 1;
		return "asid 1";
	case 2:
		m->iotlb.size = 0;
		return "UPDATE of size 0";
	case 3:
		m->iotlb.perm = 0;
		return "UPDATE with perm 0";
	case 4:
		m->iotlb.perm = 4;
		return "UPDATE with perm 4";
	case 5:
		m->iotlb.type = VHOST_IOTLB_MISS;
		return "MISS from userspace";
	case 6:
		m->iotlb.type = VHOST_IOTLB_ACCESS_FAIL;
		return "ACCESS_FAIL from userspace";
	case 7:
		m->iotlb.type = VHOST_IOTLB_BATCH_BEGIN;
		return "BATCH_BEGIN, not negotiated";
	case 8:
		m->iotlb.iova = ~0ULL - 0xfff;
		m->iotlb.size = 0x2000;
		return "IOVA range that wraps";
	case 9:
		m->iotlb.uaddr = ~0ULL - 0xfff;
		m->iotlb.size = 0x2000;
		return "uaddr range that wraps";
	case 10:
		m->iotlb.type = VHOST_IOTLB_INVALIDATE;
		m->iotlb.size = 0;
		return "INVALIDATE of size 0";
	default:
		m->iotlb.uaddr = 0xffff888000000000ULL;
		*err = EFAULT;
		return "uaddr in the kernel";
	}
}

#define NR_BAD_MSGS	12

TEST_F(iotlb, malformed_messages_change_nothing)
{
	struct vhost_msg_v2 m;
	struct used_wait w;
	long long before;
	unsigned int i;
	int ret;

	if (variant->dev)
		SKIP(return, "vhnet's checks (in-tree takes some of these)");
	post_tx(_metadata, self, 1);
	ASSERT_LE(1, serve_until_used(self, FG_TXQ, VHOST_ACCESS_RO, &w));
	before = misses();
	ASSERT_LE(1, before);

	/* Each aims at the buffer's page: a change there would show. */
	for (i = 0; i < NR_BAD_MSGS; i++) {
		const char *what;
		int err;

		memset(&m, 0, sizeof(m));
		m.type = VHOST_IOTLB_MSG_V2;
		m.iotlb.type = VHOST_IOTLB_UPDATE;
		m.iotlb.iova = self->buf;
		m.iotlb.size = FG_IOTLB_PAGE;
		m.iotlb.uaddr = (__u64)(unsigned long)fg_mem_hva(&self->mem, self->buf,
								  FG_IOTLB_PAGE);
		m.iotlb.perm = VHOST_ACCESS_WO;
		what = break_msg(&m, i, &err);
		ret = fg_iotlb_write_raw(&self->dev, &m, sizeof(m));
		EXPECT_EQ(-err, ret) TH_LOG("%s: %d", what, ret);
	}
	memset(&m, 0, sizeof(m));
	EXPECT_EQ(-EINVAL, fg_iotlb_write_raw(&self->dev, &m, sizeof(m) - 1));

	/* The RO mapping of the buffer still stands: no miss, no break. */
	post_tx(_metadata, self, 2);
	memset(&w, 0, sizeof(w));
	w.vq = &self->dev.vq[FG_TXQ];
	for (i = 0; i < WAIT_MS / 10 && !used_came(&w); i++)
		fg_sleep_ms(10);
	EXPECT_EQ(1, w.got);
	EXPECT_EQ(2U, w.cookie);
	EXPECT_EQ(before, misses());
	EXPECT_EQ(-ETIMEDOUT, fg_iotlb_read(&self->dev, &m, 0));
	EXPECT_EQ(-ETIMEDOUT, fg_vq_wait_err(&self->dev.vq[FG_TXQ], 0));
}

TEST_F(iotlb, only_the_owner_writes)
{
	pid_t pid;
	int st;

	if (variant->dev)
		SKIP(return, "vhnet's rule");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int ret = fg_iotlb_send(&self->dev, VHOST_IOTLB_UPDATE, self->buf,
					FG_IOTLB_PAGE, VHOST_ACCESS_RW);

		_exit(ret == -EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST_HARNESS_MAIN
