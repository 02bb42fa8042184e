/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: the ring fuzzer. A hostile guest that, round after round,
 * writes random and adversarial ring content (descriptors, avail rings,
 * flags, lengths, indirect tables, index jumps, overlapping ring areas,
 * addresses in memory-table holes, kick storms) into a live device while
 * valid traffic flows both ways in between, and checks after every round:
 *
 *   - a queue is flagged (err eventfd) exactly when the device's "broken"
 *     counter says so, and always for input that must break it;
 *   - valid traffic still arrives byte-exact, and the counters match it;
 *   - guard pages ("canaries") mapped next to every memory region, outside
 *     the memory table, are never touched;
 *   - per device: no handler pass went round its loop more than the
 *     budget allows (debugfs turns_max, measured by the driver), and
 *     close() returns within a bound.
 *
 * Seeded and reproducible: a finding names the seed, device and round.
 */
#ifndef FG_RINGFUZZ_H
#define FG_RINGFUZZ_H

#include <stdbool.h>
#include <linux/types.h>

enum fg_rf_kind {
	FG_RF_RANDOM,		/* random descriptors and avail entries */
	FG_RF_INDIRECT,		/* random indirect tables */
	FG_RF_OVERLAP,		/* ring areas over each other, then frames */
	FG_RF_HOLE,		/* a buffer in a hole of the memory table */
	FG_RF_MALFORMED,	/* one of enum fg_hostile */
	FG_RF_IDX_JUMP,		/* avail->idx jumps more than num ahead */
	FG_RF_KICKS,		/* kick storms, a kick fd swapped, no buffers */
	FG_RF_TRAFFIC,		/* valid frames both ways, verified */
	FG_RF_COUNT
};

struct fg_rf_result;

struct fg_rf_cfg {
	const char *dev_path;
	__u32 seed;
	unsigned long rings;		/* hostile ring states to inject */
	unsigned int rings_per_dev;	/* then the device is closed, anew */
	unsigned int close_limit_ms;	/* close() must return within */
	unsigned int turns_limit;	/* most loop turns in one pass */
	unsigned int id;		/* unique interface-name base */
	/* Called every @progress_every rings, if set. */
	unsigned long progress_every;
	void (*progress)(const struct fg_rf_result *res, void *arg);
	void *progress_arg;
};

struct fg_rf_result {
	unsigned long rings;		/* ring states injected */
	unsigned long devices;
	unsigned long kinds[FG_RF_COUNT];
	unsigned long flagged[FG_RF_COUNT];	/* rounds that broke a queue */
	unsigned long tx_frames, rx_frames;	/* valid traffic verified */
	/* Hostile rounds' frames left on the host socket, drained. */
	unsigned long drained, drained_max;
	unsigned int turns_max;			/* worst pass over all devices */
	unsigned long long pass_us_max;
	unsigned int close_ms_max;
	unsigned long findings;
	char finding[1024];			/* the first one */
};

const char *fg_rf_kind_name(enum fg_rf_kind kind);

/*
 * Run the fuzzer (needs root: it creates interfaces and reads debugfs).
 * Returns 0 if there were no findings, -1 otherwise (res->finding), or
 * -errno if the setup failed (res->finding says what).
 */
int fg_rf_run(const struct fg_rf_cfg *cfg, struct fg_rf_result *res);

#endif /* FG_RINGFUZZ_H */
