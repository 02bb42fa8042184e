// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest, for the benchmark: many devices at once. Each runs
 * fg_bench_run() in a process of its own (its own tap, guest memory and
 * device, as separate VMs would); a pipe barrier holds them all once set
 * up, for the memory reading, and starts them together.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "fakeguest.h"
#include "bench_run.h"

#define FG_SCALE_SETUP_MS	300000	/* all devices set up, under TCG */
#define FG_SCALE_MAX		99	/* tap names vhb<pid % 1000><2 digits> */

/* What a device's process reports; one write, below PIPE_BUF. */
struct fg_scale_res {
	int ok;
	struct fg_bench_result r;
};

struct fg_scale_sync {
	int ready_w, go_r;	/* this process's pipe ends */
	bool told;
};

/* In a device's process: set up; tell the parent, wait for its go. */
static void fg_scale_ready(void *arg)
{
	struct fg_scale_sync *s = arg;
	char ch = 'r';

	s->told = true;
	if (write(s->ready_w, &ch, 1) != 1 || read(s->go_r, &ch, 1) != 1)
		_exit(3);
}

/* Kernel memory in kB: settled Slab, vmalloc, page tables; -1 on error. */
static long fg_scale_kernel_kb(void)
{
	long slab = fg_settled_slab_kb();
	long vm = fg_meminfo_kb("VmallocUsed");
	long pt = fg_meminfo_kb("PageTables");

	return slab < 0 || vm < 0 || pt < 0 ? -1 : slab + vm + pt;
}

/* Up to @n bytes from @fd within @ms; how many; non-'r' ones in @bad. */
static unsigned int fg_scale_collect(int fd, unsigned int n, int ms,
				     unsigned int *bad)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	unsigned int got = 0;
	char ch;

	while (got < n && poll(&p, 1, ms) > 0 && read(fd, &ch, 1) == 1) {
		got++;
		if (ch != 'r')
			(*bad)++;
	}
	return got;
}

static int fg_scale_fail(struct fg_bench_scale *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->sum.err[0]) {
		va_start(ap, fmt);
		vsnprintf(s->sum.err, sizeof(s->sum.err), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void fg_scale_child(const struct fg_bench_cfg *c, unsigned int k,
			   int ready_w, int go_r, int res_w)
{
	struct fg_scale_sync sy = { ready_w, go_r, false };
	struct fg_bench_cfg cc = *c;
	struct fg_scale_res sr;

	/* Tap vhb<id>: distinct per device, within IFNAMSIZ. */
	cc.id = (getppid() % 1000) * 100 + k;
	cc.ready = fg_scale_ready;
	cc.ready_arg = &sy;
	memset(&sr, 0, sizeof(sr));
	sr.ok = !fg_bench_run(&cc, &sr.r);
	if (!sy.told && write(ready_w, "f", 1) != 1)
		_exit(3);
	_exit(write(res_w, &sr, sizeof(sr)) == sizeof(sr) ? 0 : 3);
}

/* Adds one device's result to @s. */
static void fg_scale_add(struct fg_bench_scale *s, const struct fg_bench_result *r,
			 double *cpu, unsigned long long *cpu_frames)
{
	struct fg_bench_result *t = &s->sum;

	t->frames += r->frames;
	t->bytes += r->bytes;
	t->pps += r->pps;
	t->gbps += r->gbps;
	t->offered += r->offered;
	t->dropped += r->dropped;
	t->kicks += r->kicks;
	t->calls += r->calls;
	if (r->seconds > t->seconds)
		t->seconds = r->seconds;
	if (s->min_pps < 0 || r->pps < s->min_pps)
		s->min_pps = r->pps;
	if (r->pps > s->max_pps)
		s->max_pps = r->pps;
	if (r->dev_ns >= 0) {
		*cpu += r->dev_ns * r->frames;
		*cpu_frames += r->frames;
	}
}

int fg_bench_scale(const struct fg_bench_cfg *c, unsigned int n,
		   struct fg_bench_scale *s)
{
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, res[2] = { -1, -1 };
	unsigned int k, started = 0, set_up, bad = 0, ok = 0;
	unsigned long long cpu_frames = 0;
	struct fg_scale_res sr;
	long mem0, mem1 = -1;
	double cpu = 0;
	char *gos;

	memset(s, 0, sizeof(*s));
	s->min_pps = -1;
	s->mem_kb = -1;
	s->sum.dev_ns = -1;
	if (!n || c->frames || c->impl == FG_BENCH_LIMIT ||
	    (c->test != FG_BENCH_TX && c->test != FG_BENCH_RX))
		return fg_scale_fail(s, "scale runs are time-bounded TX or RX of a device");
	if (n > FG_SCALE_MAX)
		return fg_scale_fail(s, "at most %d devices", FG_SCALE_MAX);
	if (pipe(ready) || pipe(go) || pipe(res)) {
		fg_scale_fail(s, "pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	mem0 = fg_scale_kernel_kb();
	for (k = 0; k < n; k++) {
		pid_t pid = fork();

		if (pid < 0) {
			fg_scale_fail(s, "fork: %s", strerror(errno));
			break;
		}
		if (!pid) {
			close(ready[0]);
			close(go[1]);
			close(res[0]);
			fg_scale_child(c, k, ready[1], go[0], res[1]);
		}
		started++;
	}
	close(ready[1]);
	close(go[0]);
	close(res[1]);
	ready[1] = -1;
	go[0] = -1;
	res[1] = -1;
	set_up = fg_scale_collect(ready[0], started, FG_SCALE_SETUP_MS, &bad);
	if (set_up == n && !bad)
		mem1 = fg_scale_kernel_kb();
	/* Go: one byte each; the processes that failed never read theirs. */
	gos = calloc(1, started + 1);
	if (!gos || write(go[1], gos, started) != (ssize_t)started)
		fg_scale_fail(s, "cannot start the devices");
	free(gos);
	close(go[1]);
	go[1] = -1;
	for (k = 0; k < started; k++) {
		if (read(res[0], &sr, sizeof(sr)) != sizeof(sr))
			break;
		if (!sr.ok) {
			fg_scale_fail(s, "a device: %s", sr.r.err);
			continue;
		}
		ok++;
		fg_scale_add(s, &sr.r, &cpu, &cpu_frames);
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
	if (ok != n)
		fg_scale_fail(s, "%u of %u devices ran (%u set up, %u failed first)",
			      ok, n, set_up, bad);
	if (cpu_frames)
		s->sum.dev_ns = cpu / cpu_frames;
	if (mem0 >= 0 && mem1 >= 0)
		s->mem_kb = (double)(mem1 - mem0) / n;
out:
	for (k = 0; k < 2; k++) {
		if (ready[k] >= 0)
			close(ready[k]);
		if (go[k] >= 0)
			close(go[k]);
		if (res[k] >= 0)
			close(res[k]);
	}
	return s->sum.err[0] ? -1 : 0;
}
