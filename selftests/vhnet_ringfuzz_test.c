// SPDX-License-Identifier: GPL-2.0
/*
 * Ring fuzzer for /dev/vhnet: the fake guest's hostile mode
 * (tools/fakeguest/fg_ringfuzz.h) writes random and adversarial ring
 * content into live devices, with verified traffic both ways in between,
 * on tap, macvtap and AF_PACKET, with random ring sizes and features.
 *
 * Findings (each one fails the run): a queue flagged without its err
 * eventfd or the other way round, input that must break a queue and did
 * not, valid traffic lost or broken, counters that disagree with it, a
 * canary page outside the memory table changed, a handler pass longer
 * than the budget, a slow close(); afterwards a worker or debugfs entry
 * left behind, a fresh device that does not move frames, Slab grown by
 * more than 1 MiB, a module that does not unload.
 *
 * Environment: VHNET_FUZZ_SEED (default 1), VHNET_FUZZ_RINGS (hostile
 * ring states, default 3000), VHNET_FUZZ_PROCS (processes fuzzing at once,
 * each its own devices and seed, default 2: most of a round is waiting
 * for the worker), VHNET_DEV, VHNET_KO (for the unload).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wclobbered"
#include "kselftest_harness.h"
#include "fakeguest.h"

#define CLOSE_MS	2000
#define SLAB_SLACK_KB	1024L
/* The driver's budget per pass (VHNET_BUDGET_PKTS), plus the last look. */
#define TURNS_LIMIT	257
#define WARMUP_RINGS	300
#define SHORT_FRAMES	64UL
#define MAX_PROCS	16
#define PROGRESS_RINGS	50000

static const char *dev_path(void)
{
	const char *p = getenv("VHNET_DEV");

	return p && *p ? p : "/dev/vhnet";
}

static unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rf_cfg(struct fg_rf_cfg *c, __u32 seed, unsigned long rings)
{
	memset(c, 0, sizeof(*c));
	c->dev_path = dev_path();
	c->seed = seed;
	c->rings = rings;
	c->rings_per_dev = 500;
	c->close_limit_ms = CLOSE_MS;
	c->turns_limit = TURNS_LIMIT;
	c->id = (getpid() % 100000) * 10;
}

static void progress(const struct fg_rf_result *r, void *arg)
{
	ksft_print_msg("process %ld: %lu rings, %lu devices, %lu findings\n",
		       (long)(size_t)arg, r->rings, r->devices, r->findings);
	fflush(stdout);
}

/*
 * @procs processes, each fuzzing its own devices with its own seed
 * (derived from @seed; a finding names it) and a share of @rings; the
 * results summed into @sum. 0, or -1 if any process failed.
 */
static int run_procs(__u32 seed, unsigned long rings, unsigned int procs,
		     struct fg_rf_result *sum)
{
	struct fg_rf_result *res;
	unsigned int i, k;
	pid_t pid[MAX_PROCS];
	int ret = 0, st;

	res = mmap(NULL, procs * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return -1;
	fflush(stdout);		/* not once per child */
	for (i = 0; i < procs; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			struct fg_rf_cfg c;

			rf_cfg(&c, seed + i * 0x9e3779b9U,
			       rings / procs + (i < rings % procs));
			c.progress_every = PROGRESS_RINGS;
			c.progress = progress;
			c.progress_arg = (void *)(size_t)i;
			_exit(fg_rf_run(&c, &res[i]) ? 1 : 0);
		}
		if (pid[i] < 0)
			ret = -1;
	}
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < procs; i++) {
		if (pid[i] < 0 || waitpid(pid[i], &st, 0) != pid[i] ||
		    !WIFEXITED(st) || WEXITSTATUS(st))
			ret = -1;
		sum->rings += res[i].rings;
		sum->devices += res[i].devices;
		for (k = 0; k < FG_RF_COUNT; k++) {
			sum->kinds[k] += res[i].kinds[k];
			sum->flagged[k] += res[i].flagged[k];
		}
		sum->tx_frames += res[i].tx_frames;
		sum->rx_frames += res[i].rx_frames;
		sum->drained += res[i].drained;
		if (res[i].drained_max > sum->drained_max)
			sum->drained_max = res[i].drained_max;
		if (res[i].turns_max > sum->turns_max)
			sum->turns_max = res[i].turns_max;
		if (res[i].pass_us_max > sum->pass_us_max)
			sum->pass_us_max = res[i].pass_us_max;
		if (res[i].close_ms_max > sum->close_ms_max)
			sum->close_ms_max = res[i].close_ms_max;
		if (res[i].findings && !sum->findings)
			memcpy(sum->finding, res[i].finding,
			       sizeof(sum->finding));
		sum->findings += res[i].findings;
	}
	if (ret && !sum->findings)
		snprintf(sum->finding, sizeof(sum->finding),
			 "a fuzzing process failed without a finding (setup?)");
	munmap(res, procs * sizeof(*res));
	return ret;
}

/* 64 verified frames each way through a fresh device on a fresh tap. */
static int device_works(struct __test_metadata *_metadata)
{
	struct fg_traffic_result res;
	struct fg_traffic_cfg t;
	struct fg_rig_cfg c;
	struct fg_rig rig;
	int ret;

	memset(&c, 0, sizeof(c));
	c.guest.dev_path = dev_path();
	c.guest.features = FG_FEATURES_DEFAULT;
	c.guest.ring_num = 256;
	c.guest.nregions = 1;
	c.guest.max_frame = FG_FRAME_MAX;
	c.guest.rx_buf_len = 1536;
	c.guest.seed = 7;
	c.backend = FG_BK_TAP;
	c.id = (getpid() % 100000) * 10 + 9;
	if (fg_rig_up(&rig, &c)) {
		TH_LOG("fresh device: %s", rig.err);
		return -1;
	}
	fg_traffic_defaults(&t);
	t.tx_frames = SHORT_FRAMES;
	t.rx_frames = SHORT_FRAMES;
	t.timeout_ms = 10000;
	ret = fg_rig_run(&rig, &t, &res);
	if (ret)
		TH_LOG("fresh device: %s", res.err);
	else if (res.tx_recv != SHORT_FRAMES || res.rx_recv != SHORT_FRAMES)
		ret = -1;
	ksft_print_msg("fresh device: tx %lu/%lu rx %lu/%lu\n", res.tx_recv,
		       SHORT_FRAMES, res.rx_recv, SHORT_FRAMES);
	fg_rig_down(&rig);
	return ret;
}

static void report(const struct fg_rf_result *r, double secs)
{
	unsigned int k;

	ksft_print_msg("rings %lu on %lu devices in %.1f s (%.0f/s); findings %lu\n",
		       r->rings, r->devices, secs, secs > 0 ? r->rings / secs : 0,
		       r->findings);
	for (k = 0; k < FG_RF_COUNT; k++)
		ksft_print_msg("  %-10s %8lu rounds, %8lu flagged a queue\n",
			       fg_rf_kind_name(k), r->kinds[k], r->flagged[k]);
	ksft_print_msg("valid frames verified: tx %lu rx %lu\n", r->tx_frames,
		       r->rx_frames);
	ksft_print_msg("hostile frames drained from the host before traffic: %lu (most %lu)\n",
		       r->drained, r->drained_max);
	ksft_print_msg("worst pass: %u turns (limit %u), %llu us; slowest close %u ms\n",
		       r->turns_max, TURNS_LIMIT, r->pass_us_max, r->close_ms_max);
	if (r->findings)
		ksft_print_msg("first finding: %s\n", r->finding);
}

FIXTURE(rings) {
	long slab_before;
	struct fg_slab_use caches[FG_NSLABS];
	int ncaches;
};

FIXTURE_SETUP(rings)
{
	if (access(dev_path(), R_OK | W_OK))
		SKIP(return, "%s: %s", dev_path(), strerror(errno));
}

FIXTURE_TEARDOWN(rings)
{
}

/* The run's real limit is guest-run.sh's (VHNET_TEST_TIMEOUT). */
TEST_F_TIMEOUT(rings, hostile_rounds, 20000)
{
	__u32 seed = env_ulong("VHNET_FUZZ_SEED", 1);
	unsigned long rings = env_ulong("VHNET_FUZZ_RINGS", 3000);
	unsigned int procs = env_ulong("VHNET_FUZZ_PROCS", 2);
	struct fg_slab_use top[8];
	struct fg_rf_result res;
	struct fg_rf_cfg c;
	double t0;
	long slab;
	int ret, i, n;

	ASSERT_LE(1, procs);
	ASSERT_GE(MAX_PROCS, procs);
	/* Warm the caches first, as many processes at once: like for like. */
	rf_cfg(&c, seed ^ 0x5a5a5a5a, WARMUP_RINGS);
	ret = run_procs(seed ^ 0x5a5a5a5a, WARMUP_RINGS * procs, procs, &res);
	ASSERT_EQ(0, ret) TH_LOG("warm-up: %s", res.finding);
	self->slab_before = fg_settled_slab_kb();
	ASSERT_LT(0, self->slab_before);
	self->ncaches = fg_slab_snapshot(self->caches, FG_NSLABS);

	ksft_print_msg("seed %u, %lu hostile rings in %u processes, %u per device\n",
		       seed, rings, procs, c.rings_per_dev);
	t0 = now_s();
	ret = run_procs(seed, rings, procs, &res);
	report(&res, now_s() - t0);
	ASSERT_EQ(0, ret) TH_LOG("%s", res.finding);
	EXPECT_EQ(0, res.findings);
	EXPECT_EQ(rings, res.rings);
	EXPECT_LE(res.turns_max, TURNS_LIMIT);
	EXPECT_LE(res.close_ms_max, CLOSE_MS);
	/* Input that must break a queue did, every time; valid input never. */
	EXPECT_EQ(res.kinds[FG_RF_HOLE], res.flagged[FG_RF_HOLE]);
	EXPECT_EQ(res.kinds[FG_RF_MALFORMED], res.flagged[FG_RF_MALFORMED]);
	EXPECT_EQ(res.kinds[FG_RF_IDX_JUMP], res.flagged[FG_RF_IDX_JUMP]);
	EXPECT_EQ(0, res.flagged[FG_RF_KICKS]);
	EXPECT_EQ(0, res.flagged[FG_RF_TRAFFIC]);
	if (rings >= 1000) {
		/* Every kind ran, and valid traffic flowed. */
		EXPECT_LT(0, res.kinds[FG_RF_OVERLAP]);
		EXPECT_LT(0, res.kinds[FG_RF_TRAFFIC]);
		EXPECT_LT(0, res.tx_frames);
		EXPECT_LT(0, res.rx_frames);
	}

	/* Nothing left behind, and a new device works. */
	EXPECT_EQ(0, fg_wait_workers(getpid(), 0, CLOSE_MS));
	EXPECT_EQ(0, fg_wait_debugfs(getpid(), 0, CLOSE_MS));
	EXPECT_EQ(0, device_works(_metadata));

	slab = fg_settled_slab_kb();
	ksft_print_msg("Slab after the warm-up %ld kB, at the end %ld kB (%+ld kB, limit +%ld)\n",
		       self->slab_before, slab, slab - self->slab_before,
		       SLAB_SLACK_KB);
	n = fg_slab_growth(self->caches, self->ncaches, top, 8);
	for (i = 0; i < n; i++)
		ksft_print_msg("slab %s: %+ld kB\n", top[i].name, top[i].kb);
	EXPECT_LE(slab - self->slab_before, SLAB_SLACK_KB);
}

/* Last (fixtures run in definition order): the module unloads and loads. */
FIXTURE(unload) {
};

FIXTURE_SETUP(unload)
{
}

FIXTURE_TEARDOWN(unload)
{
}

TEST_F(unload, after_ring_fuzz)
{
	const char *ko = getenv("VHNET_KO");
	int err;

	ASSERT_EQ(0, fg_wait_workers(getpid(), 0, CLOSE_MS));
	if (!ko || !*ko)
		SKIP(return, "VHNET_KO not set: not unloading the module");
	err = fg_module_unload("vhnet", CLOSE_MS);
	ASSERT_EQ(0, err) TH_LOG("unload after the ring fuzz: %s", strerror(err));
	err = fg_module_load(ko);
	ASSERT_EQ(0, err) TH_LOG("reload %s: %s", ko, strerror(err));
}

TEST_HARNESS_MAIN
