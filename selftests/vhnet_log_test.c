// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty-page logging (VHOST_F_LOG_ALL, live migration): after a known RX
 * or TX sequence the bitmap holds exactly the pages the device wrote (RX
 * buffers up to the bytes written, used ring), nothing when logging is
 * off, and a log that cannot take a bit breaks the queue instead of being
 * written past. The in-tree vhost-net runs the same checks as a reference
 * where its contract is the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/if_ether.h>

#include "kselftest_harness.h"
#include "fg_dev.h"
#include "fg_mem.h"
#include "fg_net.h"
#include "fg_sys.h"
#include "fg_vring.h"

#define REF_DEV		"/dev/vhost-net"
#define GUEST_MEM	(4ULL << 20)
#define RING_NUM	256
#define HDR_LEN		12	/* VERSION_1 / MRG_RXBUF header */
#define NBUF		6
#define BUF_LEN		8192
#define CANARY		0x5a
#define WAIT_MS		5000

/* Frame lengths, and where each buffer starts within its 3-page slot. */
static const unsigned int frame_len[NBUF] = { 60, 4000, 1514, 100, 3000, 60 };
static const unsigned int buf_off[NBUF] = { 0, 100, 4000, 4090, 2048, 4095 };

FIXTURE(log) {
	struct fg_mem mem;
	struct fg_dev dev;
	char ifname[IFNAMSIZ];
	int tap, pkt;
	long pg;
	__u8 *map;		/* canary, log, canary */
	size_t map_len;
	__u8 *log;
	size_t log_bytes;
	__u64 buf_gpa[NBUF];
	bool opened;
};

FIXTURE_VARIANT(log) {
	const char *dev;	/* NULL: vhnet */
	bool event_idx;
	bool packed;		/* packed rings (vhnet only) */
};

FIXTURE_VARIANT_ADD(log, vhost_net) { REF_DEV, true };
FIXTURE_VARIANT_ADD(log, vhnet) { NULL, true };
FIXTURE_VARIANT_ADD(log, vhnet_no_event_idx) { NULL, false };
FIXTURE_VARIANT_ADD(log, vhnet_packed) { NULL, true, true };
FIXTURE_VARIANT_ADD(log, vhnet_packed_no_event_idx) { NULL, false, true };

static const char *dev_path(const char *dev)
{
	const char *env = getenv("VHNET_DEV");

	if (dev)
		return dev;
	return env && *env ? env : "/dev/vhnet";
}

FIXTURE_SETUP(log)
{
	__u64 size = GUEST_MEM, want = FG_FEATURES_DEFAULT;
	unsigned int i;
	int ret;

	self->tap = -1;
	self->pkt = -1;
	self->pg = sysconf(_SC_PAGESIZE);
	ASSERT_EQ(0, fg_mem_init(&self->mem, FG_DEFAULT_GPA_BASE, &size, 1));
	snprintf(self->ifname, sizeof(self->ifname), "vhlog%d", getpid() % 100000);
	self->tap = fg_tap_open(self->ifname, FG_TAP_VNET_HDR, HDR_LEN, 0);
	ASSERT_LE(0, self->tap) TH_LOG("tap: %s", strerror(-self->tap));
	ASSERT_EQ(0, fg_if_set_mtu(self->ifname, 9000));
	self->pkt = fg_packet_open(self->ifname, false, 0);
	ASSERT_LE(0, self->pkt) TH_LOG("packet socket: %s", strerror(-self->pkt));

	if (!variant->event_idx)
		want &= ~FG_F(VIRTIO_RING_F_EVENT_IDX);
	if (variant->packed)
		want |= FG_F(VIRTIO_F_RING_PACKED);
	ret = fg_dev_setup(&self->dev, dev_path(variant->dev), want, &self->mem,
			   RING_NUM, self->tap);
	if (ret == -ENOENT && variant->dev)
		SKIP(return, "%s: no such device", variant->dev);
	ASSERT_EQ(0, ret) TH_LOG("device setup: %s", strerror(-ret));
	self->opened = true;
	ASSERT_EQ(variant->packed, self->dev.packed);

	/* RX buffers, each in its own 3 pages, starting at buf_off[]. */
	for (i = 0; i < NBUF; i++) {
		__u64 gpa;

		ASSERT_EQ(0, fg_mem_alloc(&self->mem, 3 * FG_LOG_PAGE, FG_LOG_PAGE,
					  FG_ALLOC_CONTIG, &gpa));
		self->buf_gpa[i] = gpa + buf_off[i];
	}

	/* The log, right before a page boundary, between canary bytes. */
	self->log_bytes = fg_log_bytes(&self->mem);
	self->map_len = 2 * self->pg + ((self->log_bytes + self->pg - 1) & ~(self->pg - 1));
	self->map = mmap(NULL, self->map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	memset(self->map, CANARY, self->map_len);
	self->log = self->map + self->map_len - self->pg - self->log_bytes;
	memset(self->log, 0, self->log_bytes);
}

FIXTURE_TEARDOWN(log)
{
	if (self->opened)
		fg_dev_close(&self->dev);
	if (self->pkt >= 0)
		close(self->pkt);
	if (self->tap >= 0)
		close(self->tap);
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, self->map_len);
	fg_mem_fini(&self->mem);
}

static __u64 pfn(__u64 gpa)
{
	return gpa / FG_LOG_PAGE;
}

/* Pages [gpa, gpa + len) into @want. */
static void want_range(bool *want, __u64 gpa, __u64 len)
{
	__u64 p;

	for (p = pfn(gpa); len && p <= pfn(gpa + len - 1); p++)
		want[p] = true;
}

/*
 * Compare the log with the pages in @want (must be set) and @may (may be
 * set: used-ring fields a pass may or may not write); every other bit,
 * up to the last bit of the last byte, must be clear. The canary around
 * the log must be intact. Returns the number of bits set.
 */
static unsigned int check_log(struct __test_metadata *_metadata,
			      struct _test_data_log *self, const bool *want,
			      const bool *may)
{
	__u64 p, nbits = self->log_bytes * 8;
	unsigned int set = 0, bad = 0;
	size_t i;

	for (p = 0; p < nbits; p++) {
		bool got = fg_log_test(self->log, p);
		bool w = want && want[p], m = may && may[p];

		set += got;
		if (got == w || (got && m))
			continue;
		if (bad++ < 8)
			TH_LOG("page 0x%llx (gpa 0x%llx): bit %s", (unsigned long long)p,
			       (unsigned long long)(p * FG_LOG_PAGE),
			       got ? "set, not written" : "clear, written");
	}
	EXPECT_EQ(0U, bad);
	for (i = 0; i < self->map_len; i++) {
		if (self->map + i >= self->log && self->map + i < self->log + self->log_bytes)
			continue;
		if (self->map[i] != CANARY) {
			TH_LOG("byte %zd from the log's start changed: 0x%02x",
			       self->map + i - self->log, self->map[i]);
			EXPECT_EQ(CANARY, self->map[i]);
			break;
		}
	}
	return set;
}

static bool *page_set(struct _test_data_log *self)
{
	return calloc(self->log_bytes * 8, sizeof(bool));
}

/*
 * What logging the ring part the device writes may touch on queue @q:
 * the used ring; a packed ring's descriptors and device event area.
 */
static void may_used(struct _test_data_log *self, bool *may, unsigned int q)
{
	const struct fg_vq *vq = &self->dev.vq[q];

	if (!vq->packed) {
		want_range(may, vq->used_gpa, fg_vring_used_size(RING_NUM));
		return;
	}
	want_range(may, vq->desc_gpa, fg_pvq_desc_size(RING_NUM));
	want_range(may, vq->used_gpa, 4);
}

/*
 * What it must log for @n buffers used from a fresh ring: used->idx and
 * the entries; a packed ring's first @n descriptors.
 */
static void want_used(struct _test_data_log *self, bool *want, unsigned int q,
		      unsigned int n)
{
	const struct fg_vq *vq = &self->dev.vq[q];

	if (vq->packed)
		want_range(want, vq->desc_gpa, 16 * n);
	else
		want_range(want, vq->used_gpa, 4 + 8 * n);
}

/* Wait for @n used entries on queue @q; their lengths into @len. */
static int wait_used(struct fg_vq *vq, unsigned int n, __u32 *cookie, __u32 *len)
{
	unsigned int got = 0, waited = 0;

	while (got < n) {
		int ret = fg_vq_get_used(vq, &cookie[got], &len[got]);

		if (ret < 0)
			return ret;
		if (ret) {
			got++;
			continue;
		}
		if (waited >= WAIT_MS)
			return -ETIMEDOUT;
		fg_sleep_ms(10);
		waited += 10;
	}
	return 0;
}

static void send_frame(struct __test_metadata *_metadata, int fd,
		       unsigned int len, unsigned int seq)
{
	__u8 f[9000];
	unsigned int i;

	memset(f, 0xff, ETH_ALEN);
	memcpy(f + ETH_ALEN, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	f[12] = 0x88;	/* local experimental ethertype 0x88b5 */
	f[13] = 0xb5;
	for (i = ETH_HLEN; i < len; i++)
		f[i] = (__u8)(seq + i);
	ASSERT_EQ((ssize_t)len, send(fd, f, len, 0)) TH_LOG("send: %s", strerror(errno));
}

/* Post the RX buffers, send the frames, and check the used lengths. */
static void rx_sequence(struct __test_metadata *_metadata, struct _test_data_log *self)
{
	struct fg_vq *vq = &self->dev.vq[FG_RXQ];
	__u32 cookie[NBUF], len[NBUF];
	unsigned int i;

	for (i = 0; i < NBUF; i++) {
		struct fg_seg seg = { self->buf_gpa[i], BUF_LEN };

		ASSERT_LE(0, fg_vq_add(vq, &seg, 0, 1, 0, i));
	}
	fg_vq_publish(vq);
	fg_vq_kick_force(vq);
	for (i = 0; i < NBUF; i++)
		send_frame(_metadata, self->pkt, frame_len[i], i);
	ASSERT_EQ(0, wait_used(vq, NBUF, cookie, len));
	for (i = 0; i < NBUF; i++) {
		EXPECT_EQ(i, cookie[i]);
		EXPECT_EQ(HDR_LEN + frame_len[i], len[i]);
	}
}

/* Queue NBUF frames for TX from the RX buffer slots and wait for them. */
static void tx_sequence(struct __test_metadata *_metadata, struct _test_data_log *self)
{
	struct fg_vq *vq = &self->dev.vq[FG_TXQ];
	__u32 cookie[NBUF], len[NBUF];
	unsigned int i;

	for (i = 0; i < NBUF; i++) {
		struct fg_seg seg = { self->buf_gpa[i], HDR_LEN + frame_len[i] };
		__u8 *p = fg_mem_hva(&self->mem, seg.gpa, seg.len);

		ASSERT_NE(NULL, p);
		memset(p, 0, HDR_LEN);
		memset(p + HDR_LEN, 0xff, ETH_ALEN);
		memset(p + HDR_LEN + ETH_ALEN, 0x02, ETH_ALEN);
		p[HDR_LEN + 12] = 0x88;
		p[HDR_LEN + 13] = 0xb5;
		ASSERT_LE(0, fg_vq_add(vq, &seg, 1, 0, 0, i));
	}
	fg_vq_publish(vq);
	fg_vq_kick_force(vq);
	ASSERT_EQ(0, wait_used(vq, NBUF, cookie, len));
}

TEST_F(log, rx_sets_written_bytes_and_used_ring)
{
	bool *want = page_set(self), *may = page_set(self);
	unsigned int i;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, may);
	/* Switched on while the rings run, as QEMU does at migration start. */
	ASSERT_EQ(0, fg_dev_set_log(&self->dev, self->log, true));
	rx_sequence(_metadata, self);
	for (i = 0; i < NBUF; i++)
		want_range(want, self->buf_gpa[i], HDR_LEN + frame_len[i]);
	/* used->idx and the entries are always written; flags may be. */
	want_used(self, want, FG_RXQ, NBUF);
	may_used(self, may, FG_RXQ);
	may_used(self, may, FG_TXQ);
	TH_LOG("%u bits set", check_log(_metadata, self, want, may));
	free(want);
	free(may);
}

/* After tx_sequence() with logging on: the TX used ring's bits only. */
static void check_tx_log(struct __test_metadata *_metadata,
			 struct _test_data_log *self)
{
	bool *want = page_set(self), *may = page_set(self);

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, may);
	want_used(self, want, FG_TXQ, NBUF);
	may_used(self, may, FG_TXQ);
	may_used(self, may, FG_RXQ);
	check_log(_metadata, self, want, may);
	free(want);
	free(may);
}

TEST_F(log, tx_sets_used_ring_only)
{
	ASSERT_EQ(0, fg_dev_set_log(&self->dev, self->log, true));
	tx_sequence(_metadata, self);
	check_tx_log(_metadata, self);
}

TEST_F(log, off_sets_nothing)
{
	/* A log base, but no VHOST_F_LOG_ALL: nothing is logged. */
	ASSERT_EQ(0, fg_dev_set_log(&self->dev, self->log, false));
	rx_sequence(_metadata, self);
	tx_sequence(_metadata, self);
	EXPECT_EQ(0U, check_log(_metadata, self, NULL, NULL));
}

TEST_F(log, on_then_off_while_running)
{
	ASSERT_EQ(0, fg_dev_set_log(&self->dev, self->log, true));
	tx_sequence(_metadata, self);
	check_tx_log(_metadata, self);
	/* Migration cancelled: off again, and the owner clears the log. */
	ASSERT_EQ(0, fg_dev_set_log(&self->dev, self->log, false));
	memset(self->log, 0, self->log_bytes);
	rx_sequence(_metadata, self);
	tx_sequence(_metadata, self);
	EXPECT_EQ(0U, check_log(_metadata, self, NULL, NULL));
}

TEST_F(log, log_fd_signalled)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), none = -1;
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	eventfd_t n = 0;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioctl(self->dev.fd, VHOST_SET_LOG_FD, &efd));
	ASSERT_EQ(0, fg_dev_set_log(&self->dev, self->log, true));
	rx_sequence(_metadata, self);
	/* The signal may follow the used index the guest already saw. */
	EXPECT_EQ(1, poll(&pfd, 1, WAIT_MS));
	EXPECT_EQ(0, eventfd_read(efd, &n));
	EXPECT_LT(0ULL, (unsigned long long)n);
	/* Unset (the worker is out of its pass then): no further signals. */
	ASSERT_EQ(0, ioctl(self->dev.fd, VHOST_SET_LOG_FD, &none));
	eventfd_read(efd, &n);
	tx_sequence(_metadata, self);
	EXPECT_EQ(-1, eventfd_read(efd, &n));
	close(efd);
}

/* vhnet's bounds: a used-ring log address outside the memory table. */
TEST_F(log, used_log_outside_table_breaks_queue)
{
	struct fg_vq *vq = &self->dev.vq[FG_TXQ];
	struct vhost_vring_addr a = {
		.index = FG_TXQ,
		.flags = 1U << VHOST_VRING_F_LOG,
		.desc_user_addr = (__u64)(unsigned long)vq->desc,
		.avail_user_addr = (__u64)(unsigned long)vq->avail,
		.used_user_addr = (__u64)(unsigned long)vq->used,
		.log_guest_addr = fg_mem_end(&self->mem),
	};
	struct fg_seg seg = { self->buf_gpa[0], HDR_LEN + 60 };
	bool *may;

	if (variant->dev)
		SKIP(return, "in-tree: the log is as large as its owner sized it");
	ASSERT_EQ(0, fg_dev_set_log(&self->dev, self->log, true));
	ASSERT_EQ(0, ioctl(self->dev.fd, VHOST_SET_VRING_ADDR, &a));
	ASSERT_LE(0, fg_vq_add(vq, &seg, 1, 0, 0, 0));
	fg_vq_publish(vq);
	fg_vq_kick_force(vq);
	EXPECT_EQ(0, fg_vq_wait_err(vq, WAIT_MS));
	/* Only the used rings' own bits, from passes before the change. */
	may = page_set(self);
	ASSERT_NE(NULL, may);
	may_used(self, may, FG_RXQ);
	may_used(self, may, FG_TXQ);
	check_log(_metadata, self, NULL, may);
	free(may);
	EXPECT_LE(1, fg_debugfs_stat(getpid(), "tx", "log_errors"));
	EXPECT_EQ(1, fg_debugfs_stat(getpid(), "tx", "broken"));
}

/* vhnet's bounds: the log's last bytes are not writable. */
TEST_F(log, unwritable_log_breaks_queue)
{
	struct fg_vq *vq = &self->dev.vq[FG_RXQ];
	struct fg_seg seg;
	__u64 top = fg_mem_end(&self->mem) - FG_LOG_PAGE;

	if (variant->dev)
		SKIP(return, "vhnet's contract");
	/* The page holding the log's last byte goes read-only. */
	ASSERT_EQ(0, mprotect(self->map + self->map_len - 2 * self->pg, self->pg,
			      PROT_READ));
	ASSERT_EQ(0, fg_dev_set_log(&self->dev, self->log, true));
	/* A buffer in the last page of guest memory: its bit is the last. */
	seg.gpa = top;
	seg.len = FG_LOG_PAGE;
	ASSERT_LE(0, fg_vq_add(vq, &seg, 0, 1, 0, 0));
	fg_vq_publish(vq);
	fg_vq_kick_force(vq);
	send_frame(_metadata, self->pkt, 60, 0);
	EXPECT_EQ(0, fg_vq_wait_err(vq, WAIT_MS));
	EXPECT_EQ(0U, fg_vq_pending(vq));
	EXPECT_LE(1, fg_debugfs_stat(getpid(), "rx", "log_errors"));
	ASSERT_EQ(0, mprotect(self->map + self->map_len - 2 * self->pg, self->pg,
			      PROT_READ | PROT_WRITE));
	EXPECT_EQ(0U, check_log(_metadata, self, NULL, NULL));
}

TEST_HARNESS_MAIN
