// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile guests and hosts against vhnet ($VHNET_DEV, default /dev/vhnet),
 * driven by the fake guest:
 *
 *   overlap.*    the used ring 2 bytes after the avail ring, so the
 *                device's own VRING_USED_F_NO_NOTIFY writes move
 *                avail->idx; one TX frame posted or one RX frame queued.
 *                packed_*: both event areas at one place, so the
 *                device's kick suppression is its own interrupt
 *                suppression.
 *   oversize.*   an RX frame that can never fit the guest's buffers,
 *                then one that fits, on tap, macvtap and AF_PACKET
 *                (packed_*: on packed rings).
 *   attach.set_backend_fault_keeps_old
 *                a VHOST_NET_SET_BACKEND that fails reading used->idx
 *                must leave the old backend attached.
 *
 * A wedged worker blocks close() in the kernel for good (D state, not
 * even SIGKILL helps): overlap.* run the device in a child process and
 * give up on it after a deadline, so that they fail instead of hanging.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "kselftest_harness.h"
#include "fakeguest.h"

/* The harness's own functions trip these with -Wextra. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wclobbered"

#define HOSTILE_TIMEOUT	180
/* close() of a device must return within this. */
#define CLOSE_LIMIT_MS	10000
/* The whole child of an overlap case, close() aside. */
#define CHILD_LIMIT_MS	90000
/* An idle worker must use less than 5% of a CPU over the window. */
#define IDLE_WINDOW_MS	1000
#define IDLE_MAX_NS	(IDLE_WINDOW_MS * 1000000LL / 20)
#define SHORT_FRAMES	64UL
#define F_NO(bit)	(FG_FEATURES_DEFAULT & ~FG_F(bit))
#define PACKED		FG_F(VIRTIO_F_RING_PACKED)

static const char *dev_path(void)
{
	const char *env = getenv("VHNET_DEV");

	return env && *env ? env : "/dev/vhnet";
}

/* Interface names must be unique among concurrently live rigs. */
static unsigned int rig_id(unsigned int n)
{
	return (getpid() % 100000) * 10 + n;
}

static void rig_cfg(struct fg_rig_cfg *c, enum fg_backend bk,
		    __u64 features, unsigned int ring, unsigned int max_frame,
		    unsigned int rx_buf_len, unsigned int id)
{
	memset(c, 0, sizeof(*c));
	c->guest.dev_path = dev_path();
	c->guest.features = features;
	c->guest.ring_num = ring;
	c->guest.nregions = 1;
	c->guest.max_frame = max_frame;
	c->guest.rx_buf_len = rx_buf_len;
	c->guest.seed = id;
	c->backend = bk;
	c->id = id;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 64 verified frames each way; "" or what went wrong in @err. */
static int short_run(struct fg_rig *rig, char *err, size_t len)
{
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;

	fg_traffic_defaults(&t);
	t.tx_frames = SHORT_FRAMES;
	t.rx_frames = SHORT_FRAMES;
	t.timeout_ms = 5000;
	if (fg_rig_run(rig, &t, &res)) {
		snprintf(err, len, "%s", res.err);
		return -1;
	}
	if (res.tx_recv != SHORT_FRAMES ||
	    res.rx_recv + res.rx_dropped != SHORT_FRAMES) {
		snprintf(err, len, "tx %lu/%lu rx %lu+%lu dropped/%lu",
			 res.tx_recv, SHORT_FRAMES, res.rx_recv,
			 res.rx_dropped, SHORT_FRAMES);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Overlapping rings. Without EVENT_IDX: each pass the device's
 * disable-notify writes 1 to avail->idx, the ring looks empty,
 * enable-notify writes 0 and reads back 0, which is not the 1 it
 * cached. The ring is broken (avail->idx went more than num ahead): the
 * queue must be flagged (err eventfd), the worker must go idle, close()
 * must return, and a new device on the same tap must work. With
 * EVENT_IDX the device writes no flags; the same must hold, except that
 * the queue need not be flagged. On a packed ring whose event areas are
 * one, nothing is broken: the buffer must be used, the rest as above.
 */

enum {
	P_START, P_UP, P_POSTED, P_MEASURED, P_CLOSING, P_CLOSED, P_REUSED,
	P_DONE
};

static const char * const phase_names[] = {
	"start", "rig up", "posted", "measured", "closing", "closed",
	"reused", "done"
};

/* Shared with the child that owns the device. */
struct probe {
	int phase;
	int failed;
	char err[768];
	int err_signalled;
	long long busy_ns;	/* the hostile device's worker, idle window */
	long long close_ns;
	int workers_left;	/* vhnet-<child> threads 5 s after close() */
	long long reuse_busy_ns;	/* the new device's worker */
	int used;		/* used buffers waiting for the driver */
};

/*
 * Set once a case left a worker wedged (its child stuck in close()): it
 * holds a CPU for good, and a second one would take the test VM's last
 * CPU, so later overlap cases fail without running. One per harness run.
 */
static pid_t harness_pid;

static void __attribute__((constructor)) note_harness_pid(void)
{
	harness_pid = getpid();
}

static void wedge_marker(char *path, size_t len)
{
	snprintf(path, len, "/tmp/vhnet_hostile_wedged.%d", (int)harness_pid);
}

static void probe_phase(struct probe *p, int phase)
{
	/* The parent polls the phase; everything before it is written. */
	__atomic_store_n(&p->phase, phase, __ATOMIC_RELEASE);
}

static int probe_fail(struct probe *p, const char *what, const char *msg)
{
	snprintf(p->err, sizeof(p->err), "%s: %s", what, msg);
	p->failed = 1;
	return -1;
}

static int overlap_post(struct probe *p, struct fg_rig *rig, unsigned int q)
{
	struct fg_guest *g = &rig->g[0];
	struct fg_frame_desc d = { .stream = FG_JUNK_STREAM, .len = 128 };
	__u8 hdr[sizeof(struct virtio_net_hdr_mrg_rxbuf)] = { 0 };
	__u8 frame[FG_FRAME_BUF];
	size_t len;
	int ret;

	ret = fg_hostile_overlap_rings(g, q, 1);
	if (ret)
		return probe_fail(p, "overlap rings", g->err[0] ? g->err :
				  strerror(-ret));
	if (q == FG_RXQ) {
		/* RX looks at the ring only when a frame waits. */
		ret = fg_host_send(&rig->env.host, FG_JUNK_STREAM, 0, 128);
		if (ret)
			return probe_fail(p, "inject", strerror(-ret));
		return 0;
	}
	len = fg_frame_build(frame, &d, rig->env.host.mac, g->mac);
	ret = fg_guest_tx(g, hdr, frame, len);
	if (ret)
		return probe_fail(p, "tx", strerror(-ret));
	fg_vq_publish(&g->dev.vq[FG_TXQ]);
	fg_vq_kick_force(&g->dev.vq[FG_TXQ]);
	return 0;
}

static void overlap_child(struct probe *p, unsigned int q, __u64 features)
{
	struct fg_guest *g;
	struct fg_guest_cfg gc;
	struct fg_rig_cfg c;
	struct fg_rig rig;
	char err[512];
	long long t0;

	rig_cfg(&c, FG_BK_TAP, features, 256, FG_FRAME_MAX, 0, rig_id(q));
	if (fg_rig_up(&rig, &c)) {
		probe_fail(p, "rig", rig.err);
		return;
	}
	g = &rig.g[0];
	probe_phase(p, P_UP);
	if (overlap_post(p, &rig, q))
		goto out;
	probe_phase(p, P_POSTED);

	p->err_signalled = !fg_vq_wait_err(&g->dev.vq[q], 1000);
	p->used = fg_vq_pending(&g->dev.vq[q]);
	p->busy_ns = fg_worker_busy_ns(getpid(), IDLE_WINDOW_MS);
	probe_phase(p, P_MEASURED);

	probe_phase(p, P_CLOSING);
	t0 = now_ns();
	close(g->dev.fd);
	g->dev.fd = -1;
	p->close_ns = now_ns() - t0;
	probe_phase(p, P_CLOSED);
	p->workers_left = fg_wait_workers(getpid(), 0, 5000);

	/* A new device on the same tap. */
	gc = g->cfg;
	fg_guest_fini(g);
	if (fg_guest_init(g, &gc, rig.env.fd[0])) {
		probe_fail(p, "new device", g->err);
		goto out;
	}
	if (short_run(&rig, err, sizeof(err))) {
		probe_fail(p, "traffic on the new device", err);
		goto out;
	}
	p->reuse_busy_ns = fg_worker_busy_ns(getpid(), IDLE_WINDOW_MS);
	probe_phase(p, P_REUSED);
out:
	fg_rig_down(&rig);
}

FIXTURE(overlap) {
	struct probe *p;
};

FIXTURE_VARIANT(overlap) {
	unsigned int q;
	__u64 features;
};

FIXTURE_VARIANT_ADD(overlap, tx) { FG_TXQ, F_NO(VIRTIO_RING_F_EVENT_IDX) };
FIXTURE_VARIANT_ADD(overlap, tx_event_idx) { FG_TXQ, FG_FEATURES_DEFAULT };
FIXTURE_VARIANT_ADD(overlap, rx) { FG_RXQ, F_NO(VIRTIO_RING_F_EVENT_IDX) };
FIXTURE_VARIANT_ADD(overlap, rx_event_idx) { FG_RXQ, FG_FEATURES_DEFAULT };
FIXTURE_VARIANT_ADD(overlap, packed_tx) { FG_TXQ, F_NO(VIRTIO_RING_F_EVENT_IDX) | PACKED };
FIXTURE_VARIANT_ADD(overlap, packed_tx_event_idx) { FG_TXQ, FG_FEATURES_DEFAULT | PACKED };
FIXTURE_VARIANT_ADD(overlap, packed_rx) { FG_RXQ, F_NO(VIRTIO_RING_F_EVENT_IDX) | PACKED };
FIXTURE_VARIANT_ADD(overlap, packed_rx_event_idx) { FG_RXQ, FG_FEATURES_DEFAULT | PACKED };

FIXTURE_SETUP(overlap)
{
	self->p = mmap(NULL, sizeof(*self->p), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->p);
	memset(self->p, 0, sizeof(*self->p));
}

FIXTURE_TEARDOWN(overlap)
{
	munmap(self->p, sizeof(*self->p));
}

TEST_F_TIMEOUT(overlap, close_bounded_then_reuse, HOSTILE_TIMEOUT)
{
	struct probe *p = self->p;
	long long start = now_ns(), closing = 0, t;
	bool exited = false, stuck = false;
	char marker[64];
	int phase, status;
	pid_t pid;

	wedge_marker(marker, sizeof(marker));
	ASSERT_NE(0, access(marker, F_OK))
		TH_LOG("not run: an earlier case left a wedged worker");
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		overlap_child(p, variant->q, variant->features);
		probe_phase(p, P_DONE);
		_exit(0);
	}
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			break;
		}
		phase = __atomic_load_n(&p->phase, __ATOMIC_ACQUIRE);
		t = now_ns();
		if (phase == P_CLOSING && !closing)
			closing = t;
		if (closing && phase == P_CLOSING &&
		    t - closing > CLOSE_LIMIT_MS * 1000000LL) {
			stuck = true;
			break;
		}
		if (t - start > CHILD_LIMIT_MS * 1000000LL)
			break;
		fg_sleep_ms(20);
	}
	phase = __atomic_load_n(&p->phase, __ATOMIC_ACQUIRE);
	TH_LOG("child reached \"%s\"", phase_names[phase]);
	if (phase >= P_MEASURED)
		TH_LOG("err eventfd %s; worker used %lld us of CPU in %d ms idle",
		       p->err_signalled ? "signalled" : "not signalled",
		       p->busy_ns / 1000, IDLE_WINDOW_MS);
	if (!exited) {
		/* Nothing more can be done for it: leave it to init. */
		kill(pid, SIGKILL);
		if (stuck)
			close(open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
		ASSERT_FALSE(stuck)
			TH_LOG("close() still blocked after %d ms: worker wedged",
			       CLOSE_LIMIT_MS);
		ASSERT_TRUE(exited) TH_LOG("child did not finish in %d ms",
					   CHILD_LIMIT_MS);
	}
	ASSERT_FALSE(p->failed) TH_LOG("%s", p->err);
	TH_LOG("close() took %lld ms; new device's worker used %lld us in %d ms idle",
	       p->close_ns / 1000000, p->reuse_busy_ns / 1000, IDLE_WINDOW_MS);
	ASSERT_EQ(P_DONE, phase);
	if (!(variant->features & (FG_F(VIRTIO_RING_F_EVENT_IDX) | PACKED)))
		EXPECT_TRUE(p->err_signalled)
			TH_LOG("the broken ring was not flagged");
	/* Packed: the descriptors are intact, the one frame's buffer used. */
	if (variant->features & PACKED)
		EXPECT_EQ(1, p->used);
	EXPECT_LE(0, p->busy_ns);
	EXPECT_GT(IDLE_MAX_NS, p->busy_ns);
	EXPECT_GT(CLOSE_LIMIT_MS * 1000000LL, p->close_ns);
	EXPECT_EQ(0, p->workers_left);
	EXPECT_LE(0, p->reuse_busy_ns);
	EXPECT_GT(IDLE_MAX_NS, p->reuse_busy_ns);
}

/* ---------------------------------------------------------------------
 * RX frames that can never fit: non-mergeable buffers of header + 1000
 * bytes, or a mergeable ring of 4 buffers of 128 bytes. A 1514-byte frame
 * must be dropped (counted in vhnet's rx errors), the 200-byte frame
 * after it delivered, and the worker must go idle.
 */

#define BIG_LEN		1514
#define SMALL_LEN	200

struct seen {
	unsigned int big, small, other;
};

static int oversize_cb(void *arg, const struct virtio_net_hdr_mrg_rxbuf *h,
		       unsigned int nbufs, const __u8 *frame, size_t len)
{
	struct seen *s = arg;
	__u32 stream, seq, tlen;

	if (fg_frame_parse(frame, len, &stream, &seq, &tlen) ||
	    stream != FG_JUNK_STREAM)
		s->other++;
	else if (tlen == BIG_LEN)
		s->big++;
	else if (tlen == SMALL_LEN && len == SMALL_LEN)
		s->small++;
	else
		s->other++;
	return 0;
}

FIXTURE(oversize) {
	struct fg_rig rig;
};

FIXTURE_VARIANT(oversize) {
	enum fg_backend bk;
	bool mergeable;
	__u64 ring;		/* 0 or PACKED */
};

FIXTURE_VARIANT_ADD(oversize, tap_mergeable) { FG_BK_TAP, true };
FIXTURE_VARIANT_ADD(oversize, tap_big) { FG_BK_TAP, false };
FIXTURE_VARIANT_ADD(oversize, macvtap_mergeable) { FG_BK_MACVTAP, true };
FIXTURE_VARIANT_ADD(oversize, macvtap_big) { FG_BK_MACVTAP, false };
FIXTURE_VARIANT_ADD(oversize, packet_mergeable) { FG_BK_PACKET, true };
FIXTURE_VARIANT_ADD(oversize, packet_big) { FG_BK_PACKET, false };
FIXTURE_VARIANT_ADD(oversize, packed_tap_mergeable) { FG_BK_TAP, true, PACKED };
FIXTURE_VARIANT_ADD(oversize, packed_tap_big) { FG_BK_TAP, false, PACKED };
FIXTURE_VARIANT_ADD(oversize, packed_macvtap_mergeable) { FG_BK_MACVTAP, true, PACKED };
FIXTURE_VARIANT_ADD(oversize, packed_packet_big) { FG_BK_PACKET, false, PACKED };

FIXTURE_SETUP(oversize)
{
	struct fg_rig_cfg c;

	if (variant->mergeable)
		rig_cfg(&c, variant->bk, FG_FEATURES_DEFAULT | variant->ring,
			4, 500, 128, rig_id(0));
	else
		rig_cfg(&c, variant->bk,
			F_NO(VIRTIO_NET_F_MRG_RXBUF) | variant->ring, 256,
			1000, 0, rig_id(0));
	ASSERT_EQ(0, fg_rig_up(&self->rig, &c))
		TH_LOG("%s", self->rig.err);
}

FIXTURE_TEARDOWN(oversize)
{
	fg_rig_down(&self->rig);
}

TEST_F_TIMEOUT(oversize, dropped_next_delivered, HOSTILE_TIMEOUT)
{
	struct fg_guest *g = &self->rig.g[0];
	struct seen s = { 0 };
	long long errors, busy;
	unsigned int round;
	int waited, ret;

	TH_LOG("RX buffers: %u of %u bytes", g->rx.nslots, g->rx.slot_len);
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, fg_host_send(&self->rig.env.host, FG_JUNK_STREAM,
					  2 * round, BIG_LEN));
		ASSERT_EQ(0, fg_host_send(&self->rig.env.host, FG_JUNK_STREAM,
					  2 * round + 1, SMALL_LEN));
		for (waited = 0; s.small <= round && waited < 5000;
		     waited += 10) {
			ret = fg_guest_rx_poll(g, oversize_cb, &s);
			ASSERT_LE(0, ret) TH_LOG("%s", g->err);
			if (s.small <= round)
				fg_sleep_ms(10);
		}
		errors = fg_debugfs_stat(getpid(), "rx", "errors");
		busy = fg_worker_busy_ns(getpid(), IDLE_WINDOW_MS);
		TH_LOG("round %u: small %u big %u other %u; rx errors %lld",
		       round, s.small, s.big, s.other, errors);
		TH_LOG("round %u: worker used %lld us in %d ms idle", round,
		       busy / 1000, IDLE_WINDOW_MS);
		ASSERT_EQ(round + 1, s.small)
			TH_LOG("the frame after the oversize one never came");
		EXPECT_EQ(0, s.big);
		EXPECT_LE(round + 1, errors);
		EXPECT_LE(0, busy);
		EXPECT_GT(IDLE_MAX_NS, busy);
	}
}

/* ---------------------------------------------------------------------
 * VHOST_NET_SET_BACKEND reads used->idx of the ring; when that faults the
 * ioctl fails, and (ioctl-api.rst) a failing ioctl changes nothing: the
 * old backend stays attached and traffic keeps flowing through it.
 */
FIXTURE(attach) {
	int unused;
};

FIXTURE_SETUP(attach)
{
}

FIXTURE_TEARDOWN(attach)
{
}

TEST_F_TIMEOUT(attach, set_backend_fault_keeps_old, HOSTILE_TIMEOUT)
{
	struct fg_rig_cfg c;
	struct fg_rig rig;
	struct fg_vq *vq;
	char err[512], name[IFNAMSIZ];
	unsigned long pg = sysconf(_SC_PAGESIZE), start, end;
	int tap2, ret;

	rig_cfg(&c, FG_BK_TAP, FG_FEATURES_DEFAULT, 256, FG_FRAME_MAX, 0,
		rig_id(5));
	ASSERT_EQ(0, fg_rig_up(&rig, &c)) TH_LOG("%s", rig.err);
	ASSERT_EQ(0, short_run(&rig, err, sizeof(err))) TH_LOG("before: %s", err);

	snprintf(name, sizeof(name), "fgtb%u", rig_id(5));
	tap2 = fg_tap_open(name, FG_TAP_VNET_HDR, rig.g[0].dev.hdr_len,
			   FG_TAP_OFFLOADS);
	ASSERT_LE(0, tap2) TH_LOG("tap %s: %s", name, strerror(-tap2));

	vq = &rig.g[0].dev.vq[FG_TXQ];
	start = (unsigned long)vq->used & ~(pg - 1);
	end = ((unsigned long)vq->used + fg_vring_used_size(vq->num) + pg - 1) &
	      ~(pg - 1);
	ASSERT_EQ(0, mprotect((void *)start, end - start, PROT_NONE));
	ret = fg_dev_set_backend(&rig.g[0].dev, FG_TXQ, tap2);
	ASSERT_EQ(0, mprotect((void *)start, end - start,
			      PROT_READ | PROT_WRITE));
	EXPECT_EQ(-EFAULT, ret);

	ret = short_run(&rig, err, sizeof(err));
	EXPECT_EQ(0, ret) TH_LOG("old backend after the failed attach: %s",
				 err);
	close(tap2);
	fg_rig_down(&rig);
}

TEST_HARNESS_MAIN
