// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle under traffic and fairness tests for /dev/vhnet.
 *
 * The fake guest moves verified frames both ways through a vhnet device
 * with a tap backend while the test changes the device underneath it (the
 * traffic engine's hook runs between its steps): backend swaps, detach and
 * re-attach, kick eventfd replacement, close(), RESET_OWNER, and the owner
 * killed with SIGKILL (also while its worker waits on a userfaultfd that
 * nobody answers). Every frame that gets through is checked byte for
 * byte; frames of a run that was cut short come back as "stale" and are
 * ignored by the next run (its epoch). Then many repetitions with Slab
 * back near its baseline, and the module unloads.
 *
 * Fairness (CVE-2019-3900 class): a guest that keeps its TX ring full and
 * kicks continuously must not starve its own RX, nor another device; a
 * host flooding RX must not starve TX. Only progress counts are asserted,
 * never rates.
 *
 * Every fixture runs on split and on packed rings (VIRTIO_F_RING_PACKED).
 *
 * Environment: VHNET_DEV (default /dev/vhnet), VHNET_KO (for the unload
 * and reload at the end), VHNET_LIFE_CYCLES (repetitions of the leak
 * test, default 100). Must run as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <linux/vhnet.h>

#include "kselftest_harness.h"
#include "fakeguest.h"

/* The harness's own functions trip these with -Wextra. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wclobbered"

#define RING		256
#define WAIT_MS		5000	/* for things that go away asynchronously */
#define FLOOD_RX	3000UL	/* RX frames that must get through a flood */
#define FLOOD_TX	3000UL
#define FLOOD_RING	32768U	/* VHNET_RING_MAX */
#define LEAK_WARMUP	8
#define LEAK_CYCLES	100
/* Slab growth allowed over the cycles; see vhnet_ctl_test.c. */
#define LEAK_SLACK_KB	1024L
/* The ring layouts every fixture runs on: split, and this. */
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

static void guest_cfg(struct fg_guest_cfg *c, __u64 features, bool gso,
		      unsigned int seed)
{
	memset(c, 0, sizeof(*c));
	c->dev_path = dev_path();
	c->features = features;
	c->ring_num = RING;
	c->nregions = 1;
	c->max_frame = gso ? FG_GSO_FRAME_MAX : FG_FRAME_MAX;
	c->seed = seed;
}

static int rig_up_ring(struct fg_rig *rig, __u64 features, bool gso,
		       unsigned int id, unsigned int ring)
{
	struct fg_rig_cfg c;

	memset(&c, 0, sizeof(c));
	guest_cfg(&c.guest, features, gso, id);
	if (ring)
		c.guest.ring_num = ring;
	c.backend = FG_BK_TAP;
	c.id = id;
	return fg_rig_up(rig, &c);
}

static int rig_up(struct fg_rig *rig, __u64 features, bool gso,
		  unsigned int id)
{
	return rig_up_ring(rig, features, gso, id, 0);
}

/* A second tap for the same guest (same header size and MAC). */
static int alt_up(struct fg_env *e, const struct fg_guest *g, unsigned int id,
		  char *err, size_t errlen)
{
	return fg_env_up(e, FG_BK_TAP, id, g->dev.hdr_len, g->mac, err, errlen);
}

static void traffic_cfg(struct fg_traffic_cfg *t, unsigned long frames,
			bool gso, __u16 epoch)
{
	fg_traffic_defaults(t);
	t->tx_frames = frames;
	t->rx_frames = frames;
	t->plan.gso_every = gso ? 64 : 0;
	t->epoch = epoch;
}

static unsigned long delivered(const struct fg_traffic_result *r)
{
	return r->tx_recv + r->rx_recv + r->rx_stranded;
}

static void log_result(struct __test_metadata *_metadata, const char *what,
		       const struct fg_traffic_result *res)
{
	TH_LOG("%s: tx %lu/%lu, rx %lu/%lu (dropped %lu, stranded %lu)",
	       what, res->tx_recv, res->tx_sent, res->rx_recv, res->rx_sent,
	       res->rx_dropped, res->rx_stranded);
	TH_LOG("%s: stale %lu, foreign %lu, %.1f s%s%s", what, res->stale,
	       res->foreign, res->seconds, res->err[0] ? ": " : "", res->err);
}

/* Hooks report problems through the engine: message, then -1. */
static int hook_fail(struct fg_traffic_ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->err, ctl->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static __u16 used_idx(const struct fg_guest *g, unsigned int q)
{
	return fg_vq_used_end(&g->dev.vq[q]);
}

static int set_both(struct fg_guest *g, int fd)
{
	int ret = fg_dev_set_backend(&g->dev, FG_RXQ, fd);

	return ret ? ret : fg_dev_set_backend(&g->dev, FG_TXQ, fd);
}

/*
 * A thread that keeps the device busy from outside the traffic engine:
 * junk frames into the backend's host side and kicks on both queues, so
 * that wakeups keep arriving while the device is closed or reset.
 */
struct agitator {
	pthread_t thread;
	int host_fd;
	int kick_fd[2];
	bool stop;		/* __atomic */
	bool running;
	unsigned long frames, kicks;
};

static void *agitator_fn(void *arg)
{
	struct agitator *a = arg;
	struct fg_frame_plan plan = { .min_len = 200, .max_len = 200, .flows = 1 };
	static const __u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const __u8 src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct fg_frame_desc d;
	__u8 buf[512];
	__u64 one = 1;
	size_t len;
	int i;

	memset(buf, 0, sizeof(buf));
	fg_frame_describe(&plan, FG_JUNK_STREAM, 0, &d);
	len = fg_frame_build(buf + sizeof(struct virtio_net_hdr), &d, bcast,
			     src);
	len += sizeof(struct virtio_net_hdr);
	while (!__atomic_load_n(&a->stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < 8; i++)
			if (send(a->host_fd, buf, len, MSG_DONTWAIT) > 0)
				a->frames++;
		for (i = 0; i < 2; i++)
			if (write(a->kick_fd[i], &one, sizeof(one)) > 0)
				a->kicks++;
		fg_sleep_ms(1);
	}
	return NULL;
}

static int agitator_start(struct agitator *a, struct fg_rig *rig)
{
	memset(a, 0, sizeof(*a));
	a->host_fd = rig->env.host.fd;
	a->kick_fd[0] = rig->g[0].dev.vq[FG_RXQ].kick_fd;
	a->kick_fd[1] = rig->g[0].dev.vq[FG_TXQ].kick_fd;
	if (pthread_create(&a->thread, NULL, agitator_fn, a))
		return -1;
	a->running = true;
	return 0;
}

static void agitator_stop(struct agitator *a)
{
	if (!a->running)
		return;
	__atomic_store_n(&a->stop, true, __ATOMIC_RELAXED);
	pthread_join(a->thread, NULL);
	a->running = false;
}

/* ---------------------------------------------------------------------
 * Backend swap, detach and re-attach, kick replacement
 */

FIXTURE(life) {
	struct fg_rig rig;	/* guest + tap A */
	struct fg_env alt;	/* tap B */
	bool alt_is_up;
	char err[256];
};

FIXTURE_VARIANT(life) {
	__u64 ring;		/* 0 or PACKED */
};

FIXTURE_VARIANT_ADD(life, split) { 0 };
FIXTURE_VARIANT_ADD(life, packed) { PACKED };

FIXTURE_SETUP(life)
{
	memset(self, 0, sizeof(*self));
	ASSERT_EQ(0, rig_up(&self->rig, FG_FEATURES_DEFAULT | variant->ring,
			    true, rig_id(1)))
		TH_LOG("rig: %s", self->rig.err);
	ASSERT_EQ(0, alt_up(&self->alt, &self->rig.g[0], rig_id(2), self->err,
			    sizeof(self->err)))
		TH_LOG("tap B: %s", self->err);
	self->alt_is_up = true;
}

FIXTURE_TEARDOWN(life)
{
	fg_rig_down(&self->rig);
	if (self->alt_is_up)
		fg_env_down(&self->alt);
}

enum swap_step {
	SWAP_TO_B,	/* both queues to tap B */
	SWAP_TO_A,	/* and back */
	DETACH,		/* fd -1 on both */
	REATTACH,	/* tap A again, after a number of rounds */
	SWAP_STEPS
};

struct swap_hook {
	struct fg_guest *g;
	int fd[2];		/* tap A, tap B */
	unsigned int hlen;
	unsigned long gap;	/* delivered frames between steps */
	unsigned long next_at;
	unsigned int step, cycles, want_cycles;
	unsigned int detached_rounds;
	__u16 used_at_detach[2];
	unsigned int swaps, detaches;
};

static int swap_hook_fn(void *arg, struct fg_traffic_ctl *ctl)
{
	struct swap_hook *h = arg;
	int ret;

	if (h->cycles == h->want_cycles)
		return 0;
	if (h->step == REATTACH) {
		/* Let the guest and host queue more while nothing is attached. */
		if (++h->detached_rounds < 20)
			return 0;
		/* With no backend the device must not touch either ring. */
		if (used_idx(h->g, FG_RXQ) != h->used_at_detach[FG_RXQ] ||
		    used_idx(h->g, FG_TXQ) != h->used_at_detach[FG_TXQ])
			return hook_fail(ctl, "used idx moved while detached: rx %u-%u tx %u-%u",
					 h->used_at_detach[FG_RXQ],
					 used_idx(h->g, FG_RXQ),
					 h->used_at_detach[FG_TXQ],
					 used_idx(h->g, FG_TXQ));
	} else if (delivered(ctl->res) < h->next_at) {
		return 0;
	}

	switch (h->step) {
	case SWAP_TO_B:
		ret = set_both(h->g, h->fd[1]);
		ctl->inject = 1;
		/* Whatever tap A still holds, the engine reads itself. */
		ctl->drain_fd[0] = h->fd[0];
		ctl->drain_hlen[0] = h->hlen;
		ctl->drain_fd[1] = -1;
		h->swaps++;
		break;
	case SWAP_TO_A:
		ret = set_both(h->g, h->fd[0]);
		ctl->inject = 0;
		ctl->drain_fd[0] = -1;
		ctl->drain_fd[1] = h->fd[1];
		ctl->drain_hlen[1] = h->hlen;
		h->swaps++;
		break;
	case DETACH:
		ret = set_both(h->g, -1);
		/* Frames for tap A wait in its queue for the re-attach. */
		ctl->drain_fd[0] = -1;
		h->used_at_detach[FG_RXQ] = used_idx(h->g, FG_RXQ);
		h->used_at_detach[FG_TXQ] = used_idx(h->g, FG_TXQ);
		h->detached_rounds = 0;
		h->detaches++;
		break;
	default:
		ret = set_both(h->g, h->fd[0]);
		h->cycles++;
		break;
	}
	if (ret)
		return hook_fail(ctl, "step %u of cycle %u: VHOST_NET_SET_BACKEND: %s",
				 h->step, h->cycles, strerror(-ret));
	h->step = (h->step + 1) % SWAP_STEPS;
	h->next_at = delivered(ctl->res) + h->gap;
	return 0;
}

/*
 * (a) VHOST_NET_SET_BACKEND to another tap and back, and to -1 and back,
 * while frames flow both ways (64 KB GSO frames mixed in). Every frame
 * is accounted for exactly once: delivered through either tap, or (RX)
 * read back from the queue of a tap no longer attached; none dropped.
 */
TEST_F_TIMEOUT(life, backend_swap_under_traffic, 300)
{
	struct fg_host *hosts[2] = { &self->rig.env.host, &self->alt.host };
	struct fg_guest *g = &self->rig.g[0];
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct swap_hook h = {
		.g = g, .fd = { self->rig.env.fd[0], self->alt.fd[0] },
		.hlen = g->dev.hdr_len, .gap = 400, .want_cycles = 4,
	};
	int ret;

	h.next_at = h.gap;
	traffic_cfg(&t, 5000, true, 0);
	t.hook = swap_hook_fn;
	t.hook_arg = &h;
	ret = fg_traffic_run_hosts(&g, 1, hosts, 2, &t, &res);
	log_result(_metadata, "swapping", &res);
	TH_LOG("cycles %u: swaps %u, detaches %u; tx via A %lu, via B %lu; rx via A %lu, via B %lu",
	       h.cycles, h.swaps, h.detaches, res.tx_per_host[0],
	       res.tx_per_host[1], res.rx_recv_per_host[0],
	       res.rx_recv_per_host[1]);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(h.want_cycles, h.cycles);
	/* Traffic really went through the other tap, both ways. */
	EXPECT_LT(0, res.tx_per_host[1]);
	EXPECT_LT(0, res.rx_recv_per_host[1]);
	EXPECT_LT(0, res.rx_recv_per_host[0]);
	EXPECT_EQ(0, res.rx_dropped);

	/* And the device keeps working afterwards. */
	traffic_cfg(&t, 2000, true, 1);
	ret = fg_rig_run(&self->rig, &t, &res);
	log_result(_metadata, "after", &res);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(0, res.rx_dropped);
}

struct kick_hook {
	struct fg_guest *g;
	unsigned long gap, next_at;
	unsigned int replaced, want;
	unsigned long kicks_at[2];
	unsigned int kicked_after;	/* replacements followed by a kick */
};

static int kick_hook_fn(void *arg, struct fg_traffic_ctl *ctl)
{
	struct kick_hook *h = arg;
	unsigned int q;
	int ret;

	if (h->replaced == h->want || delivered(ctl->res) < h->next_at)
		return 0;
	/* Did the guest use the eventfd we gave it last time? */
	if (h->replaced && (h->g->dev.vq[FG_TXQ].kicks > h->kicks_at[FG_TXQ] ||
			    h->g->dev.vq[FG_RXQ].kicks > h->kicks_at[FG_RXQ]))
		h->kicked_after++;
	for (q = 0; q < 2; q++) {
		/* Every other time, a kick is already pending on the new one. */
		ret = fg_dev_replace_kick(&h->g->dev, q, h->replaced & 1);
		if (ret)
			return hook_fail(ctl, "replace kick %u of vq %u: %s",
					 h->replaced, q, strerror(-ret));
		h->kicks_at[q] = h->g->dev.vq[q].kicks;
	}
	h->replaced++;
	h->next_at = delivered(ctl->res) + h->gap;
	return 0;
}

/*
 * (b) VHOST_SET_VRING_KICK with a new eventfd on both queues, again and
 * again, while frames flow; the old eventfd is closed at once. The guest
 * only kicks when the device asks (EVENT_IDX, or the NO_NOTIFY flag), so
 * a kick the device misses stalls the traffic and fails the run.
 */
TEST_F_TIMEOUT(life, kick_replaced_under_traffic, 300)
{
	static const __u64 features[] = {
		FG_FEATURES_DEFAULT,
		FG_FEATURES_DEFAULT & ~FG_F(VIRTIO_RING_F_EVENT_IDX),
	};
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct kick_hook h;
	unsigned int i;
	int ret;

	for (i = 0; i < 2; i++) {
		if (i) {
			fg_rig_down(&self->rig);
			ASSERT_EQ(0, rig_up(&self->rig,
					    features[i] | variant->ring, false,
					    rig_id(3)))
				TH_LOG("rig: %s", self->rig.err);
		}
		memset(&h, 0, sizeof(h));
		h.g = &self->rig.g[0];
		/*
		 * A replacement needs a hook call after h.gap more frames;
		 * one engine step can deliver hundreds (RX batches), so
		 * leave room for 12 well inside the run.
		 */
		h.gap = 100;
		h.next_at = h.gap;
		h.want = 12;
		traffic_cfg(&t, 6000, false, 0);
		t.hook = kick_hook_fn;
		t.hook_arg = &h;
		ret = fg_rig_run(&self->rig, &t, &res);
		log_result(_metadata, i ? "no EVENT_IDX" : "EVENT_IDX", &res);
		TH_LOG("replaced %u times; the new eventfd was kicked after %u of them",
		       h.replaced, h.kicked_after);
		ASSERT_EQ(0, ret);
		EXPECT_EQ(h.want, h.replaced);
		/* The guest did kick the new eventfds (and was heard). */
		EXPECT_LT(0, h.kicked_after);
		EXPECT_EQ(0, res.rx_dropped);
	}
}

/* ---------------------------------------------------------------------
 * close(), RESET_OWNER, SIGKILL of the owner, mid-traffic
 */

struct cut_hook {
	struct fg_guest *g;
	unsigned long at;
	bool reset;		/* RESET_OWNER and set up again, else close() */
	bool done;
	pid_t old_worker;
	int old_debugfs;
};

static int cut_hook_fn(void *arg, struct fg_traffic_ctl *ctl)
{
	struct cut_hook *h = arg;
	int ret;

	if (delivered(ctl->res) < h->at)
		return 0;
	if (fg_worker_count(getpid(), &h->old_worker) != 1 ||
	    fg_debugfs_count(getpid(), &h->old_debugfs) != 1)
		return hook_fail(ctl, "want 1 worker and 1 debugfs entry before the cut");
	if (h->reset) {
		ret = fg_guest_reset_owner(h->g);
		if (ret)
			return hook_fail(ctl, "%s", h->g->err);
	} else {
		ret = close(h->g->dev.fd);
		h->g->dev.fd = -1;
		if (ret)
			return hook_fail(ctl, "close: %s", strerror(errno));
	}
	h->done = true;
	ctl->stop = true;
	return 0;
}

/* Is thread @tid of this process gone? */
static bool wait_thread_gone(pid_t tid)
{
	char path[64];
	int waited;

	snprintf(path, sizeof(path), "/proc/%d/comm", tid);
	for (waited = 0; waited <= WAIT_MS; waited += 10) {
		if (access(path, F_OK))
			return true;
		fg_sleep_ms(10);
	}
	return false;
}

#define CUT_REPS	12

/*
 * (c) close() of the device while frames flow both ways and another
 * thread keeps injecting frames and kicking: the worker and the debugfs
 * entry go, and a new device on the same tap works.
 */
TEST_F_TIMEOUT(life, close_under_traffic, 300)
{
	struct fg_guest_cfg gc = self->rig.g[0].cfg;
	struct fg_guest *g = &self->rig.g[0];
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct agitator a;
	struct cut_hook h;
	unsigned int rep;
	int ret;

	for (rep = 0; rep < CUT_REPS; rep++) {
		memset(&h, 0, sizeof(h));
		h.g = g;
		/* Cut at a different point each time. */
		h.at = 100 + rep * 37;
		traffic_cfg(&t, 100000, false, rep);
		t.hook = cut_hook_fn;
		t.hook_arg = &h;
		ASSERT_EQ(0, agitator_start(&a, &self->rig));
		ret = fg_rig_run(&self->rig, &t, &res);
		agitator_stop(&a);
		if (ret || !h.done)
			log_result(_metadata, "until close", &res);
		ASSERT_EQ(0, ret);
		ASSERT_TRUE(h.done);
		EXPECT_EQ(0, fg_debugfs_count(getpid(), NULL))
			TH_LOG("rep %u: debugfs entry outlived close()", rep);
		EXPECT_EQ(0, fg_wait_workers(getpid(), 0, WAIT_MS))
			TH_LOG("rep %u: worker outlived close()", rep);

		/* A new device on the same tap. */
		fg_guest_fini(g);
		ASSERT_EQ(0, fg_guest_init(g, &gc, -1)) TH_LOG("%s", g->err);
		ASSERT_EQ(0, fg_env_attach(&self->rig.env, 0, g))
			TH_LOG("%s", g->err);
	}
	traffic_cfg(&t, 2000, false, CUT_REPS);
	ret = fg_rig_run(&self->rig, &t, &res);
	log_result(_metadata, "new device", &res);
	ASSERT_EQ(0, ret);
}

/*
 * (d) VHOST_RESET_OWNER while frames flow (and another thread injects
 * and kicks), then SET_OWNER and the full setup again on the same fd:
 * the old worker and debugfs entry go, new ones come, and the frames of
 * the next run all get through verified.
 */
TEST_F_TIMEOUT(life, reset_owner_under_traffic, 300)
{
	struct fg_guest *g = &self->rig.g[0];
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct agitator a;
	struct cut_hook h;
	pid_t tid = 0;
	unsigned int rep;
	int ret, id = -1;

	for (rep = 0; rep < CUT_REPS; rep++) {
		memset(&h, 0, sizeof(h));
		h.g = g;
		h.reset = true;
		h.at = 100 + rep * 37;
		traffic_cfg(&t, 100000, false, 2 * rep);
		t.hook = cut_hook_fn;
		t.hook_arg = &h;
		ASSERT_EQ(0, agitator_start(&a, &self->rig));
		ret = fg_rig_run(&self->rig, &t, &res);
		agitator_stop(&a);
		if (ret || !h.done)
			log_result(_metadata, "until reset", &res);
		ASSERT_EQ(0, ret);
		ASSERT_TRUE(h.done);

		EXPECT_TRUE(wait_thread_gone(h.old_worker))
			TH_LOG("rep %u: worker %d outlived RESET_OWNER", rep,
			       h.old_worker);
		EXPECT_EQ(1, fg_wait_workers(getpid(), 1, WAIT_MS));
		EXPECT_EQ(1, fg_worker_count(getpid(), &tid));
		EXPECT_NE(h.old_worker, tid);
		EXPECT_EQ(1, fg_debugfs_count(getpid(), &id));
		EXPECT_NE(h.old_debugfs, id) TH_LOG("debugfs entry not replaced");

		/* The same fd, set up from scratch, carries verified traffic. */
		traffic_cfg(&t, 500, false, 2 * rep + 1);
		ret = fg_rig_run(&self->rig, &t, &res);
		if (ret)
			log_result(_metadata, "after reset", &res);
		ASSERT_EQ(0, ret) TH_LOG("rep %u", rep);
	}
}

/* The child: owns a device, signals once traffic flows, pumps forever. */
struct kill_hook {
	int pipe_fd;
	const char *ifname;
	bool told;
};

static int kill_hook_fn(void *arg, struct fg_traffic_ctl *ctl)
{
	struct kill_hook *h = arg;
	size_t len = strlen(h->ifname) + 1;

	if (h->told || delivered(ctl->res) < 300)
		return 0;
	if (write(h->pipe_fd, h->ifname, len) != (ssize_t)len)
		return hook_fail(ctl, "pipe: %s", strerror(errno));
	h->told = true;
	return 0;
}

static void kill_child(int pipe_fd, __u64 ring, unsigned int seed)
{
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct kill_hook h = { .pipe_fd = pipe_fd };
	struct fg_rig rig;

	if (rig_up(&rig, FG_FEATURES_DEFAULT | ring, false,
		   rig_id(5 + seed % 3))) {
		fprintf(stderr, "child rig: %s\n", rig.err);
		_exit(2);
	}
	h.ifname = rig.env.ifname;
	traffic_cfg(&t, 100000000UL, false, 0);
	t.hook = kill_hook_fn;
	t.hook_arg = &h;
	fg_rig_run(&rig, &t, &res);
	fprintf(stderr, "child traffic ended: %s\n", res.err);
	_exit(3);
}

/* Fork an owner, let it pump, SIGKILL it; 0 or a message in @err. */
static int kill_one(__u64 ring, unsigned int seed, char *err, size_t errlen)
{
	char ifname[IFNAMSIZ + 1] = "";
	struct pollfd p;
	int fds[2], status, n, ret = -1;
	pid_t child;

	if (pipe(fds))
		return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
	child = fork();
	if (child < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (!child) {
		close(fds[0]);
		kill_child(fds[1], ring, seed);
	}
	close(fds[1]);
	p.fd = fds[0];
	p.events = POLLIN;
	n = poll(&p, 1, 120000) == 1 ? read(fds[0], ifname, IFNAMSIZ) : -1;
	if (n <= 0) {
		snprintf(err, errlen, "child %d never got traffic going", child);
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		goto out;
	}
	ifname[IFNAMSIZ] = 0;
	/* Its worker and debugfs entry are there while it pumps. */
	if (fg_worker_count(child, NULL) != 1 ||
	    fg_debugfs_count(child, NULL) != 1) {
		snprintf(err, errlen, "child %d: %d workers, %d debugfs entries",
			 child, fg_worker_count(child, NULL),
			 fg_debugfs_count(child, NULL));
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		goto out;
	}
	kill(child, SIGKILL);
	if (waitpid(child, &status, 0) != child || !WIFSIGNALED(status)) {
		snprintf(err, errlen, "child %d did not die of SIGKILL", child);
		goto out;
	}
	if (fg_wait_workers(child, 0, WAIT_MS)) {
		snprintf(err, errlen, "worker vhnet-%d outlived its owner", child);
		goto out;
	}
	if (fg_wait_debugfs(child, 0, WAIT_MS)) {
		snprintf(err, errlen, "debugfs entry of %d outlived it", child);
		goto out;
	}
	/* The child held the only other reference to its tap: ours is gone. */
	if (!fg_wait_netdev_gone(ifname, WAIT_MS)) {
		snprintf(err, errlen, "tap %s of %d outlived it", ifname, child);
		goto out;
	}
	ret = 0;
out:
	close(fds[0]);
	return ret;
}

#define KILL_REPS	6

/*
 * (e) The owner, pumping frames both ways, is SIGKILLed: its worker
 * vhnet-<pid> and debugfs entry disappear, and so does its tap (the
 * device dropped its reference).
 */
TEST_F_TIMEOUT(life, owner_killed_under_traffic, 300)
{
	unsigned int rep;

	/* Braces: ASSERT_*() is more than one statement. */
	for (rep = 0; rep < KILL_REPS; rep++) {
		ASSERT_EQ(0, kill_one(variant->ring, rep, self->err,
				      sizeof(self->err)))
			TH_LOG("rep %u: %s", rep, self->err);
	}
	/* Our own device is untouched by all of that. */
	ASSERT_EQ(1, fg_worker_count(getpid(), NULL));
}

/*
 * The child of owner_killed_in_userfault: its TX avail ring page becomes a
 * userfaultfd hole that nobody will fill, then it kicks TX so that the
 * worker faults there, tells the parent its uffd and tap, and waits.
 */
struct uffd_note {
	unsigned long page;
	int uffd;
	char ifname[IFNAMSIZ];
};

static void uffd_child(int pipe_fd, __u64 ring)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	long psz = sysconf(_SC_PAGESIZE);
	struct uffd_note note;
	struct fg_rig rig;
	struct fg_vq *vq;
	__u64 one = 1;
	void *page;

	if (rig_up(&rig, FG_FEATURES_DEFAULT | ring, false, rig_id(9))) {
		fprintf(stderr, "child rig: %s\n", rig.err);
		_exit(2);
	}
	memset(&note, 0, sizeof(note));
	snprintf(note.ifname, sizeof(note.ifname), "%s", rig.env.ifname);
	/* What a kick makes the worker read first: avail->idx, a descriptor. */
	vq = &rig.g[0].dev.vq[FG_TXQ];
	page = vq->packed ? (void *)vq->pdesc : (void *)vq->avail;
	page = (void *)((unsigned long)page & ~(psz - 1));
	note.page = (unsigned long)page;
	note.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	reg.range.start = (unsigned long)page;
	reg.range.len = psz;
	/*
	 * Register, then zap: the worker's pass from SET_BACKEND may touch
	 * the page at any time, and between a zap and the registration it
	 * would fault it back in unseen.
	 */
	if (note.uffd < 0 || ioctl(note.uffd, UFFDIO_API, &api) ||
	    ioctl(note.uffd, UFFDIO_REGISTER, &reg) ||
	    madvise(page, psz, MADV_DONTNEED)) {
		perror("child: userfaultfd");
		_exit(2);
	}
	if (write(rig.g[0].dev.vq[FG_TXQ].kick_fd, &one, sizeof(one)) != sizeof(one) ||
	    write(pipe_fd, &note, sizeof(note)) != sizeof(note))
		_exit(3);
	for (;;)
		pause();
}

/*
 * (f) The worker is blocked in a fault on a ring page that the owner's
 * userfaultfd will never resolve (another process holds that uffd open),
 * and the owner gets SIGKILL: it must exit and its device go away within
 * a bound. On 6.12 the worker is a vhost_task, killed with the owner; on
 * 6.1 a kthread, whose fault vhnet_worker_halt() interrupts on release.
 */
TEST_F_TIMEOUT(life, owner_killed_in_userfault, 120)
{
	struct uffd_msg msg;
	struct uffd_note note;
	struct pollfd p;
	int fds[2], pidfd, uffd = -1, status, ms;
	unsigned long page;
	pid_t child, got = 0;

	ASSERT_EQ(0, pipe(fds));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		close(fds[0]);
		uffd_child(fds[1], variant->ring);
	}
	close(fds[1]);
	p.fd = fds[0];
	p.events = POLLIN;
	if (poll(&p, 1, 60000) != 1 ||
	    read(fds[0], &note, sizeof(note)) != sizeof(note)) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		ASSERT_TRUE(false) TH_LOG("child %d set nothing up (status %#x)",
					  child, status);
	}
	close(fds[0]);
	/* Hold its uffd: the fault stays unanswered after it is gone. */
	pidfd = syscall(SYS_pidfd_open, child, 0);
	if (pidfd >= 0)
		uffd = syscall(SYS_pidfd_getfd, pidfd, note.uffd, 0);
	if (uffd < 0) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		ASSERT_LE(0, uffd) TH_LOG("pidfd_getfd: %s", strerror(errno));
	}
	close(pidfd);

	/* The worker (no one else touches that page) faults there. */
	p.fd = uffd;
	p.events = POLLIN;
	EXPECT_EQ(1, poll(&p, 1, 10000)) TH_LOG("the worker never faulted");
	if (read(uffd, &msg, sizeof(msg)) == sizeof(msg)) {
		page = msg.arg.pagefault.address & ~(sysconf(_SC_PAGESIZE) - 1);
		EXPECT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
		EXPECT_EQ(note.page, page) TH_LOG("fault at %#llx",
						  msg.arg.pagefault.address);
	}
	EXPECT_EQ(1, fg_worker_count(child, NULL));

	kill(child, SIGKILL);
	for (ms = 0; ms < 10000 && !got; ms += 10) {
		got = waitpid(child, &status, WNOHANG);
		if (!got)
			fg_sleep_ms(10);
	}
	EXPECT_EQ(child, got) TH_LOG("owner still there 10 s after SIGKILL");
	if (got != child) {
		close(uffd);	/* the fault fails; the owner can go now */
		waitpid(child, &status, 0);
		return;
	}
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT_EQ(0, fg_wait_workers(child, 0, WAIT_MS))
		TH_LOG("worker vhnet-%d outlived its owner", child);
	EXPECT_EQ(0, fg_wait_debugfs(child, 0, WAIT_MS));
	EXPECT_TRUE(fg_wait_netdev_gone(note.ifname, WAIT_MS))
		TH_LOG("tap %s outlived its owner", note.ifname);
	close(uffd);
	TH_LOG("owner reaped %d ms after SIGKILL", ms);
}

/* ---------------------------------------------------------------------
 * (g) RX frames vhnet has taken from the backend but not yet delivered
 * (from a tap or macvtap it takes up to 64 at a time off the ring) while
 * the guest has no buffers left: on VHOST_NET_SET_BACKEND -1 they go back
 * to the backend, not lost and (tap) in order, so that the next reader, a
 * re-attached vhnet or anyone reading the fd, gets every frame once.
 */
#define HELD_RING	8
#define HELD_FRAMES	100
#define HELD_LEN	200

struct held_seen {
	unsigned int n, dup, other, late;
	int last;
	__u8 seen[HELD_FRAMES];
};

static void held_note(struct held_seen *h, const __u8 *frame, size_t len)
{
	__u32 stream, seq, tlen;

	if (fg_frame_parse(frame, len, &stream, &seq, &tlen) ||
	    stream != FG_JUNK_STREAM || seq >= HELD_FRAMES) {
		h->other++;
		return;
	}
	if (h->seen[seq]++) {
		h->dup++;
		return;
	}
	if ((int)seq < h->last)
		h->late++;
	else
		h->last = seq;
	h->n++;
}

static int held_cb(void *arg, const struct virtio_net_hdr_mrg_rxbuf *h,
		   unsigned int nbufs, const __u8 *frame, size_t len)
{
	held_note(arg, frame, len);
	return 0;
}

FIXTURE(held) {
	struct fg_rig rig;
	struct fg_guest *g;
	int fd;
	unsigned int hlen;
};

FIXTURE_VARIANT(held) {
	enum fg_backend bk;
	__u64 ring;
};

FIXTURE_VARIANT_ADD(held, tap) { FG_BK_TAP, 0 };
FIXTURE_VARIANT_ADD(held, macvtap) { FG_BK_MACVTAP, 0 };
FIXTURE_VARIANT_ADD(held, packet) { FG_BK_PACKET, 0 };
FIXTURE_VARIANT_ADD(held, packed_tap) { FG_BK_TAP, PACKED };
FIXTURE_VARIANT_ADD(held, packed_macvtap) { FG_BK_MACVTAP, PACKED };
FIXTURE_VARIANT_ADD(held, packed_packet) { FG_BK_PACKET, PACKED };

FIXTURE_SETUP(held)
{
	struct fg_rig_cfg c;
	unsigned int i;
	int ms;

	memset(&c, 0, sizeof(c));
	guest_cfg(&c.guest, FG_FEATURES_DEFAULT | variant->ring, false,
		  rig_id(4));
	c.guest.ring_num = HELD_RING;
	c.backend = variant->bk;
	c.id = rig_id(4);
	ASSERT_EQ(0, fg_rig_up(&self->rig, &c)) TH_LOG("%s", self->rig.err);
	self->g = &self->rig.g[0];
	self->fd = self->rig.env.fd[0];
	self->hlen = fg_env_has_vnet_hdr(variant->bk) ? self->g->dev.hdr_len : 0;

	/* Far more frames than the guest has buffers for; it never reaps. */
	for (i = 0; i < HELD_FRAMES; i++)
		ASSERT_EQ(0, fg_host_send(&self->rig.env.host, FG_JUNK_STREAM,
					  i, HELD_LEN));
	for (ms = 0; ms < WAIT_MS && used_idx(self->g, FG_RXQ) < HELD_RING;
	     ms += 10)
		fg_sleep_ms(10);
	ASSERT_EQ(HELD_RING, used_idx(self->g, FG_RXQ))
		TH_LOG("the guest's %u buffers were never filled", HELD_RING);
	/* Let the worker park with whatever it holds. */
	fg_sleep_ms(200);
	ASSERT_EQ(0, fg_dev_set_backend(&self->g->dev, FG_RXQ, -1));
}

FIXTURE_TEARDOWN(held)
{
	fg_rig_down(&self->rig);
}

/* Reap what the guest got, then wait (up to 2 s of quiet) for the rest. */
static int held_collect(struct fg_guest *g, int fd, unsigned int hlen,
			struct held_seen *s)
{
	__u8 buf[FG_FRAME_MAX + 64];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ret, quiet;
	ssize_t n;

	for (quiet = 0; quiet < 200 && s->n < HELD_FRAMES; quiet++) {
		ret = fg_guest_rx_poll(g, held_cb, s);
		if (ret < 0)
			return ret;
		if (ret)
			quiet = 0;
		while (fd >= 0 && poll(&p, 1, 0) == 1) {
			n = read(fd, buf, sizeof(buf));
			if (n < (ssize_t)hlen)
				return n < 0 ? -errno : -EPROTO;
			held_note(s, buf + hlen, n - hlen);
			quiet = 0;
		}
		fg_sleep_ms(10);
	}
	return 0;
}

static void held_check(struct __test_metadata *_metadata,
		       const struct held_seen *s, enum fg_backend bk)
{
	TH_LOG("%u of %u frames, %u duplicated, %u out of order, %u foreign",
	       s->n, HELD_FRAMES, s->dup, s->late, s->other);
	EXPECT_EQ(HELD_FRAMES, s->n);
	EXPECT_EQ(0, s->dup);
	/* The other backends' host paths may reorder on their own. */
	if (fg_env_keeps_order(bk))
		EXPECT_EQ(0, s->late);
}

/* Read from the backend's fd: the guest's frames first, then the rest. */
TEST_F_TIMEOUT(held, detach_gives_back_to_reader, 60)
{
	struct held_seen s = { .last = -1 };

	ASSERT_EQ(0, held_collect(self->g, -1, 0, &s)) TH_LOG("%s", self->g->err);
	EXPECT_EQ(HELD_RING, s.n);
	ASSERT_EQ(0, held_collect(self->g, self->fd, self->hlen, &s));
	held_check(_metadata, &s, variant->bk);
}

/* Attached again: the guest gets every frame, through vhnet alone. */
TEST_F_TIMEOUT(held, detach_then_reattach, 60)
{
	struct held_seen s = { .last = -1 };

	ASSERT_EQ(0, fg_dev_set_backend(&self->g->dev, FG_RXQ, self->fd));
	ASSERT_EQ(0, held_collect(self->g, -1, 0, &s)) TH_LOG("%s", self->g->err);
	held_check(_metadata, &s, variant->bk);
}

/* ---------------------------------------------------------------------
 * Fairness
 */

/* Keeps a guest's TX ring full and kicks after every refill. */
struct flood {
	pthread_t thread;
	struct fg_guest *g;
	bool stop;			/* __atomic */
	bool running;
	unsigned long done;		/* __atomic: TX buffers used */
	unsigned long full;		/* refills that found the ring full */
	int err;			/* __atomic */
	char msg[256];
};

/*
 * One 64 KB GSO frame written once into the first TX slot; every TX
 * descriptor of a 32768-entry ring points at it. The ring starts full and
 * is refilled as the device uses it, with a kick after every refill. The
 * device needs tens of seconds of copying to drain it even if the guest
 * never refilled: longer than the traffic engine waits for progress, so
 * a device that stayed on its TX queue until it is empty fails the test
 * whatever the scheduling of this thread. (The TX buffer pool of the
 * guest is not used.)
 */
static void *flood_fn(void *arg)
{
	struct fg_frame_plan plan = { .min_len = 1000, .max_len = 1000,
				      .gso_every = 1, .flows = 1 };
	static const __u8 dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	struct virtio_net_hdr_mrg_rxbuf hdr;
	struct flood *f = arg;
	struct fg_guest *g = f->g;
	struct fg_vq *vq = &g->dev.vq[FG_TXQ];
	struct fg_seg seg = { .gpa = g->tx.gpa };
	struct fg_frame_desc d;
	__u32 cookie, len;
	__u8 *frame;
	int n;

	frame = malloc(FG_FRAME_BUF);
	if (!frame) {
		__atomic_store_n(&f->err, -ENOMEM, __ATOMIC_RELEASE);
		return NULL;
	}
	memset(&hdr, 0, sizeof(hdr));
	fg_frame_describe(&plan, FG_JUNK_STREAM, 0, &d);
	len = fg_frame_build(frame, &d, dst, g->mac);
	fg_frame_vnet_hdr(&hdr.hdr, &d);
	seg.len = g->dev.hdr_len + len;
	if (fg_mem_write(&g->mem, seg.gpa, &hdr, g->dev.hdr_len) ||
	    fg_mem_write(&g->mem, seg.gpa + g->dev.hdr_len, frame, len)) {
		__atomic_store_n(&f->err, -EFAULT, __ATOMIC_RELEASE);
		free(frame);
		return NULL;
	}
	free(frame);
	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		while ((n = fg_vq_get_used(vq, &cookie, &len)) > 0)
			__atomic_add_fetch(&f->done, 1, __ATOMIC_RELAXED);
		if (n < 0) {
			snprintf(f->msg, sizeof(f->msg), "TX used ring: %s",
				 strerror(-n));
			__atomic_store_n(&f->err, n, __ATOMIC_RELEASE);
			break;
		}
		while ((n = fg_vq_add(vq, &seg, 1, 0, 0, 0)) >= 0)
			;
		if (n != -ENOSPC) {
			snprintf(f->msg, sizeof(f->msg), "TX add: %s",
				 strerror(-n));
			__atomic_store_n(&f->err, n, __ATOMIC_RELEASE);
			break;
		}
		f->full++;
		fg_vq_publish(vq);
		fg_vq_kick_force(vq);
	}
	return NULL;
}

/*
 * With two CPUs or more, the flood gets CPU 1 to itself and the workers
 * and the rest of the test share CPU 0: the guest then refills the ring
 * while the device works on it, as a vCPU would, and without a TX budget
 * the worker never leaves the TX queue.
 */
static int flood_start(struct flood *f, struct fg_guest *g)
{
	pthread_attr_t attr;
	cpu_set_t one;
	int ret;

	memset(f, 0, sizeof(*f));
	f->g = g;
	if (pthread_attr_init(&attr))
		return -1;
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
		if (fg_pin_workers(getpid(), 0) < 1 ||
		    pthread_attr_setaffinity_np(&attr, sizeof(one), &one))
			return -1;
	}
	ret = pthread_create(&f->thread, &attr, flood_fn, f);
	pthread_attr_destroy(&attr);
	if (ret)
		return -1;
	f->running = true;
	return 0;
}

static unsigned long flood_done(struct flood *f)
{
	return __atomic_load_n(&f->done, __ATOMIC_RELAXED);
}

/* Wait until the flood has made @n more TX buffers used. */
static bool flood_wait(struct flood *f, unsigned long n)
{
	unsigned long start = flood_done(f);
	int waited;

	for (waited = 0; waited < 60000; waited += 10) {
		if (__atomic_load_n(&f->err, __ATOMIC_ACQUIRE))
			break;
		if (flood_done(f) - start >= n)
			return true;
		fg_sleep_ms(10);
	}
	return false;
}

static void flood_stop(struct flood *f)
{
	if (!f->running)
		return;
	__atomic_store_n(&f->stop, true, __ATOMIC_RELAXED);
	pthread_join(f->thread, NULL);
	f->running = false;
}

FIXTURE(fair) {
	struct fg_rig rig[2];
	bool up[2];
	struct flood flood;
};

FIXTURE_VARIANT(fair) {
	__u64 ring;
};

FIXTURE_VARIANT_ADD(fair, split) { 0 };
FIXTURE_VARIANT_ADD(fair, packed) { PACKED };

FIXTURE_SETUP(fair)
{
	unsigned int i;

	memset(self, 0, sizeof(*self));
	/* rig[0] floods: 64 KB frames, the largest ring. */
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, rig_up_ring(&self->rig[i],
					 FG_FEATURES_DEFAULT | variant->ring,
					 !i, rig_id(i + 1),
					 i ? 0 : FLOOD_RING))
			TH_LOG("rig %u: %s", i, self->rig[i].err);
		self->up[i] = true;
	}
}

FIXTURE_TEARDOWN(fair)
{
	flood_stop(&self->flood);
	if (self->up[0])
		fg_rig_down(&self->rig[0]);
	if (self->up[1])
		fg_rig_down(&self->rig[1]);
}

/*
 * A guest keeps its TX ring full and kicks without pause; meanwhile the
 * host injects RX frames for it. They must all be delivered (verified),
 * while the flood goes on: it flowed before, during (its TX buffers kept
 * being used) and after the RX run. Counts only, no rates: a starved RX
 * queue shows as the traffic engine's stall.
 */
TEST_F_TIMEOUT(fair, tx_flood_keeps_own_rx, 300)
{
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	unsigned long before, during;
	bool after;
	int ret;

	ASSERT_EQ(0, flood_start(&self->flood, &self->rig[0].g[0]));
	ASSERT_TRUE(flood_wait(&self->flood, 2 * RING))
		TH_LOG("the flood does not get going: %s", self->flood.msg);
	before = flood_done(&self->flood);
	traffic_cfg(&t, 0, false, 0);
	t.rx_frames = FLOOD_RX;
	t.leave_tx = true;
	ret = fg_rig_run(&self->rig[0], &t, &res);
	during = flood_done(&self->flood) - before;
	after = flood_wait(&self->flood, 2 * RING);
	flood_stop(&self->flood);
	log_result(_metadata, "RX under TX flood", &res);
	TH_LOG("flood: %lu TX buffers used during the RX run, ring full %lu times",
	       during, self->flood.full);
	ASSERT_EQ(0, self->flood.err) TH_LOG("flood: %s", self->flood.msg);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(FLOOD_RX, res.rx_recv);
	EXPECT_LT(0, during);
	EXPECT_TRUE(after) TH_LOG("the flood stopped flowing");
}

/*
 * One device floods TX as above; a second device of the same owner moves
 * verified frames both ways at the same time, all of them.
 */
TEST_F_TIMEOUT(fair, tx_flood_keeps_other_device, 300)
{
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	unsigned long before, during;
	bool after;
	int ret;

	ASSERT_EQ(0, flood_start(&self->flood, &self->rig[0].g[0]));
	ASSERT_TRUE(flood_wait(&self->flood, 2 * RING))
		TH_LOG("the flood does not get going: %s", self->flood.msg);
	before = flood_done(&self->flood);
	traffic_cfg(&t, FLOOD_TX, false, 0);
	ret = fg_rig_run(&self->rig[1], &t, &res);
	during = flood_done(&self->flood) - before;
	after = flood_wait(&self->flood, 2 * RING);
	flood_stop(&self->flood);
	log_result(_metadata, "other device under TX flood", &res);
	TH_LOG("flood: %lu TX buffers used during the run, ring full %lu times",
	       during, self->flood.full);
	ASSERT_EQ(0, self->flood.err) TH_LOG("flood: %s", self->flood.msg);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(FLOOD_TX, res.tx_recv);
	EXPECT_EQ(FLOOD_TX, res.rx_recv);
	EXPECT_LT(0, during);
	EXPECT_TRUE(after) TH_LOG("the flood stopped flowing");
}

/* Injects junk frames for a guest without pause. */
struct rx_flood {
	pthread_t thread;
	int fd;
	bool stop;			/* __atomic */
	bool running;
	unsigned long sent;		/* __atomic */
};

static void *rx_flood_fn(void *arg)
{
	struct fg_frame_plan plan = { .min_len = 1000, .max_len = 1000, .flows = 1 };
	static const __u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const __u8 src[6] = { 0x02, 0, 0, 0, 0, 0x03 };
	struct rx_flood *f = arg;
	struct fg_frame_desc d;
	__u8 buf[1100];
	size_t len, h = sizeof(struct virtio_net_hdr);
	struct pollfd p = { .fd = f->fd, .events = POLLOUT };

	memset(buf, 0, sizeof(buf));
	fg_frame_describe(&plan, FG_JUNK_STREAM, 0, &d);
	len = h + fg_frame_build(buf + h, &d, bcast, src);
	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		if (send(f->fd, buf, len, MSG_DONTWAIT) > 0)
			__atomic_add_fetch(&f->sent, 1, __ATOMIC_RELAXED);
		else
			poll(&p, 1, 10);
	}
	return NULL;
}

/*
 * The reverse: the host floods a guest's RX queue without pause; the
 * guest's own TX frames all get through while it keeps receiving the
 * flood, and so do the frames of a second device.
 */
TEST_F_TIMEOUT(fair, rx_flood_keeps_tx, 300)
{
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct rx_flood f = { 0 };
	unsigned long before, during;
	int ret;

	f.fd = fg_packet_open(self->rig[0].env.ifname, true, 0);
	ASSERT_LE(0, f.fd) TH_LOG("AF_PACKET: %s", strerror(-f.fd));
	ASSERT_EQ(0, pthread_create(&f.thread, NULL, rx_flood_fn, &f));
	f.running = true;
	fg_sleep_ms(100);
	before = self->rig[0].g[0].rx_frames;
	traffic_cfg(&t, FLOOD_TX, false, 0);
	t.rx_frames = 0;
	ret = fg_rig_run(&self->rig[0], &t, &res);
	during = self->rig[0].g[0].rx_frames - before;
	log_result(_metadata, "TX under RX flood", &res);
	TH_LOG("flood: %lu frames injected, %lu received by the guest meanwhile",
	       __atomic_load_n(&f.sent, __ATOMIC_RELAXED), during);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(FLOOD_TX, res.tx_recv);
	EXPECT_LT(0, during);

	traffic_cfg(&t, FLOOD_TX, false, 0);
	ret = fg_rig_run(&self->rig[1], &t, &res);
	log_result(_metadata, "other device under RX flood", &res);
	__atomic_store_n(&f.stop, true, __ATOMIC_RELAXED);
	pthread_join(f.thread, NULL);
	close(f.fd);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(FLOOD_TX, res.rx_recv);
}

/* ---------------------------------------------------------------------
 * Many repetitions, four devices on split rings then four on packed in
 * turn: Slab back near its baseline, no references left, and the module
 * unloads. Keep this fixture LAST: it unloads the module.
 */

FIXTURE(leak) {
	struct fg_rig rig;
	struct fg_env alt;
	bool rig_is_up, alt_is_up;
	char err[256];
};

FIXTURE_SETUP(leak)
{
	memset(self, 0, sizeof(*self));
	ASSERT_EQ(0, rig_up(&self->rig, FG_FEATURES_DEFAULT, false, rig_id(1)))
		TH_LOG("rig: %s", self->rig.err);
	self->rig_is_up = true;
	ASSERT_EQ(0, alt_up(&self->alt, &self->rig.g[0], rig_id(2), self->err,
			    sizeof(self->err)))
		TH_LOG("tap B: %s", self->err);
	self->alt_is_up = true;
}

FIXTURE_TEARDOWN(leak)
{
	if (self->rig_is_up)
		fg_rig_down(&self->rig);
	if (self->alt_is_up)
		fg_env_down(&self->alt);
}

/* Empty everything that queues frames outside vhnet: taps, host sockets. */
static void drain_env(struct fg_env *e)
{
	__u8 buf[FG_FRAME_BUF + 64];
	struct pollfd p[2] = {
		{ .fd = e->fd[0], .events = POLLIN },
		{ .fd = e->host.fd, .events = POLLIN },
	};
	unsigned int i;

	for (i = 0; i < 2; i++)
		while (poll(&p[i], 1, 0) == 1 &&
		       read(p[i].fd, buf, sizeof(buf)) > 0)
			;
}

/* One cycle: a device, traffic, one lifecycle event, and it goes. */
static int leak_cycle(struct __test_metadata *_metadata, struct fg_rig *rig,
		      struct fg_env *alt, unsigned int i, __u16 epoch)
{
	struct fg_host *hosts[2] = { &rig->env.host, &alt->host };
	struct fg_guest_cfg gc = rig->g[0].cfg;
	struct fg_guest *g = &rig->g[0];
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct swap_hook sh;
	struct kick_hook kh;
	struct cut_hook ch;
	int ret, err;

	traffic_cfg(&t, 100000, false, epoch);
	memset(&ch, 0, sizeof(ch));
	ch.g = g;
	ch.at = 150;
	switch (i % 4) {
	case 0:		/* close */
		t.hook = cut_hook_fn;
		t.hook_arg = &ch;
		break;
	case 1:		/* RESET_OWNER, setup again, more traffic, close */
		ch.reset = true;
		t.hook = cut_hook_fn;
		t.hook_arg = &ch;
		break;
	case 2:		/* one swap cycle (B, A, detach, A), then close */
		memset(&sh, 0, sizeof(sh));
		sh.g = g;
		sh.fd[0] = rig->env.fd[0];
		sh.fd[1] = alt->fd[0];
		sh.hlen = g->dev.hdr_len;
		sh.gap = 50;
		sh.next_at = 50;
		sh.want_cycles = 1;
		t.tx_frames = 400;
		t.rx_frames = 400;
		t.hook = swap_hook_fn;
		t.hook_arg = &sh;
		break;
	default:	/* kicks replaced, then close */
		memset(&kh, 0, sizeof(kh));
		kh.g = g;
		kh.gap = 50;
		kh.next_at = 50;
		kh.want = 3;
		t.tx_frames = 200;
		t.rx_frames = 200;
		t.hook = kick_hook_fn;
		t.hook_arg = &kh;
		break;
	}
	if (i % 4 == 2)
		ret = fg_traffic_run_hosts(&g, 1, hosts, 2, &t, &res);
	else
		ret = fg_rig_run(rig, &t, &res);
	if (!ret && i % 4 == 1) {
		traffic_cfg(&t, 100, false, epoch + 1);
		ret = fg_rig_run(rig, &t, &res);
	}
	if (ret)
		log_result(_metadata, "cycle", &res);
	/* Always back in a state fg_rig_down() can take. */
	fg_guest_fini(g);
	/* Four cycles on split rings, four on packed, and so on. */
	gc.features &= ~PACKED;
	gc.features |= (i + 1) / 4 % 2 ? PACKED : 0;
	err = fg_guest_init(g, &gc, -1);
	if (!ret)
		ret = err;
	if (!ret)
		ret = fg_env_attach(&rig->env, 0, g);
	return ret;
}

static unsigned int leak_cycles(void)
{
	const char *s = getenv("VHNET_LIFE_CYCLES");

	return s && *s ? strtoul(s, NULL, 0) : LEAK_CYCLES;
}

TEST_F_TIMEOUT(leak, cycles_no_leak_then_unload, 600)
{
	unsigned int i, n = leak_cycles();
	const char *ko = getenv("VHNET_KO");
	char tap[2][IFNAMSIZ];
	long before, after;
	__u16 epoch = 0;
	int err, ins;

	for (i = 0; i < LEAK_WARMUP; i++, epoch += 2) {
		ASSERT_EQ(0, leak_cycle(_metadata, &self->rig, &self->alt, i,
					epoch)) TH_LOG("warm-up cycle %u", i);
	}
	ASSERT_EQ(0, kill_one(0, 0, self->err, sizeof(self->err)))
		TH_LOG("%s", self->err);
	drain_env(&self->rig.env);
	drain_env(&self->alt);
	before = fg_settled_slab_kb();
	ASSERT_LT(0, before) TH_LOG("cannot read Slab / drop caches");

	for (i = 0; i < n; i++, epoch += 2) {
		ASSERT_EQ(0, leak_cycle(_metadata, &self->rig, &self->alt, i,
					epoch)) TH_LOG("cycle %u", i);
		if (i % 10 == 9)
			ASSERT_EQ(0, kill_one(i / 10 % 2 ? PACKED : 0, i,
					      self->err, sizeof(self->err)))
				TH_LOG("cycle %u: %s", i, self->err);
	}
	drain_env(&self->rig.env);
	drain_env(&self->alt);
	after = fg_settled_slab_kb();
	ASSERT_LT(0, after);
	ksft_print_msg("Slab before %ld kB, after %ld kB (%+ld kB over %u cycles, limit +%ld kB)\n",
		       before, after, after - before, n, LEAK_SLACK_KB);
	EXPECT_LE(after - before, LEAK_SLACK_KB);

	/* Every device and tap closed: no reference may be left. */
	memcpy(tap[0], self->rig.env.ifname, IFNAMSIZ);
	memcpy(tap[1], self->alt.ifname, IFNAMSIZ);
	fg_rig_down(&self->rig);
	self->rig_is_up = false;
	fg_env_down(&self->alt);
	self->alt_is_up = false;
	EXPECT_EQ(0, fg_wait_workers(getpid(), 0, WAIT_MS));
	for (i = 0; i < 2; i++) {
		EXPECT_TRUE(fg_wait_netdev_gone(tap[i], WAIT_MS))
			TH_LOG("%s outlived its last fd: leaked reference", tap[i]);
	}

	if (!ko || !*ko)
		SKIP(return, "VHNET_KO not set: not unloading the module");
	err = fg_module_unload("vhnet", WAIT_MS);
	/* Put it back before asserting anything. */
	ins = err ? 0 : fg_module_load(ko);
	ASSERT_EQ(0, err) TH_LOG("delete_module(vhnet): %s", strerror(err));
	ASSERT_EQ(0, ins) TH_LOG("finit_module(%s): %s", ko, strerror(ins));
}

/*
 * The drop-in node (vhost_net_node=1): refused, with a message, while the
 * in-tree vhost_net holds minor 238; in its place, /dev/vhost-net is
 * vhnet's own device. The teardown puts both modules back as they were.
 */
FIXTURE(node) {
	const char *ko;
	bool reload;
};

FIXTURE_SETUP(node)
{
	self->ko = getenv("VHNET_KO");
	self->reload = false;
	if (!self->ko || !*self->ko)
		SKIP(return, "VHNET_KO not set: not reloading the module");
}

FIXTURE_TEARDOWN(node)
{
	if (!self->reload)
		return;
	fg_module_unload("vhnet", WAIT_MS);
	if (fg_module_load(self->ko))
		TH_LOG("cannot load %s again", self->ko);
	if (system("modprobe vhost_net"))
		TH_LOG("cannot load vhost_net again");
}

/* Whether the kernel log got a line with @what since @fd was opened. */
static bool kmsg_has(int fd, const char *what)
{
	char rec[1024];
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (n <= 0)
			return false;
		rec[n] = 0;
		if (strstr(rec, what))
			return true;
	}
}

static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

TEST_F_TIMEOUT(node, vhost_net_node, 120)
{
	struct vhnet_stats st;
	char dev[32] = "";
	int err, fd, kmsg;
	FILE *fp;

	err = fg_module_unload("vhnet", WAIT_MS);
	ASSERT_EQ(0, err) TH_LOG("delete_module(vhnet): %s", strerror(err));
	self->reload = true;
	if (access("/sys/module/vhost_net", F_OK) &&
	    system("modprobe vhost_net"))
		SKIP(return, "the in-tree vhost_net cannot be loaded");

	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);
	err = fg_module_load_args(self->ko, "vhost_net_node=1");
	EXPECT_EQ(EBUSY, err) TH_LOG("load beside vhost_net: %s", strerror(err));
	EXPECT_TRUE(kmsg_has(kmsg, "cannot serve /dev/vhost-net"));
	close(kmsg);
	EXPECT_NE(0, access("/sys/module/vhnet", F_OK))
		TH_LOG("vhnet stayed loaded after a failed init");
	if (!err)
		fg_module_unload("vhnet", WAIT_MS);

	err = fg_module_unload("vhost_net", WAIT_MS);
	ASSERT_EQ(0, err) TH_LOG("delete_module(vhost_net): %s", strerror(err));
	err = fg_module_load_args(self->ko, "vhost_net_node=1");
	ASSERT_EQ(0, err) TH_LOG("load with vhost_net_node=1: %s", strerror(err));

	fp = fopen("/sys/class/misc/vhost-net/dev", "re");
	ASSERT_NE(NULL, fp);
	EXPECT_NE(NULL, fgets(dev, sizeof(dev), fp));
	fclose(fp);
	EXPECT_STREQ("10:238\n", dev);
	EXPECT_EQ(0, access("/dev/vhnet", F_OK)) TH_LOG("/dev/vhnet gone");

	fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open /dev/vhost-net: %s", strerror(errno));
	EXPECT_EQ(0, ioctl(fd, VHOST_SET_OWNER, NULL));
	/* Only vhnet knows this ioctl: the in-tree device says ENOTTY. */
	memset(&st, 0, sizeof(st));
	EXPECT_EQ(0, ioctl(fd, VHNET_GET_STATS, &st))
		TH_LOG("VHNET_GET_STATS: %s", strerror(errno));
	EXPECT_EQ(getpid(), st.owner_pid);
	close(fd);
}

TEST_HARNESS_MAIN
