// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl fuzzer for /dev/vhnet.
 *
 * Seeded, reproducible random sequences of every vhost ioctl (and unknown
 * ones) with edge and random arguments on several device fds at once,
 * mixed with close() of busy devices, fork()ed children calling on the
 * inherited fds, kicks, garbage written over the rings, and backend fds of
 * every kind: tap, AF_PACKET, UDP socket, pipe, regular file, eventfd, a
 * closed fd and a tap deleted while attached.
 *
 * Findings (each one fails the run):
 *   - a result the contract forbids: an unknown ioctl that does not fail
 *     with ENOTTY, a call on an unowned or foreign device that does not
 *     fail with EPERM, an invalid ring size, feature set or backend that
 *     is accepted, an errno outside the documented set;
 *   - a close() that takes longer than CLOSE_MS;
 *   - afterwards: a worker or debugfs entry left behind, a fresh device
 *     that does not move frames, Slab grown by more than 1 MiB, a module
 *     that does not unload.
 * It prints the iterations and, per ioctl, how often each errno was seen.
 *
 * Environment: VHNET_FUZZ_SEED (default 1), VHNET_FUZZ_IOCTLS (calls,
 * default 20000), VHNET_DEV, VHNET_KO (for the unload). Must run as root.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/vhost.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wclobbered"
#include "kselftest_harness.h"
#include "fakeguest.h"

#define NSLOTS		4
#define NEVENTS		6
#define CLOSE_MS	2000
#define MEM_SIZE	(1UL << 20)
#define LOG_SIZE	(1UL << 20)	/* bits for 32 GiB of guest */
#define MEM_GPA		0x100000ULL
#define RING_NUM	256U
/* Start of the x86-64 direct map: never a valid user address. */
#define KERNEL_ADDR	0xffff888000000000ULL
#define MAX_ERRNO	134
#define SLAB_SLACK_KB	1024L

enum arg_kind { A_U64, A_STATE, A_ADDR, A_FILE, A_MEM, A_NONE, A_BACKEND,
		A_LOG, A_FD };

struct op {
	const char *name;
	unsigned long cmd;
	enum arg_kind kind;
	bool before_owner;	/* allowed before VHOST_SET_OWNER */
	bool known;		/* vhnet implements it */
};

/* Every vhost ioctl a VMM may send, and a few that vhnet does not know. */
static const struct op ops[] = {
	{ "GET_FEATURES", VHOST_GET_FEATURES, A_U64, true, true },
	{ "SET_FEATURES", VHOST_SET_FEATURES, A_U64, false, true },
	{ "GET_BACKEND_FEATURES", VHOST_GET_BACKEND_FEATURES, A_U64, true, true },
	{ "SET_BACKEND_FEATURES", VHOST_SET_BACKEND_FEATURES, A_U64, true, true },
	{ "SET_OWNER", VHOST_SET_OWNER, A_NONE, true, true },
	{ "RESET_OWNER", VHOST_RESET_OWNER, A_NONE, false, true },
	{ "SET_MEM_TABLE", VHOST_SET_MEM_TABLE, A_MEM, false, true },
	{ "SET_VRING_NUM", VHOST_SET_VRING_NUM, A_STATE, false, true },
	{ "SET_VRING_BASE", VHOST_SET_VRING_BASE, A_STATE, false, true },
	{ "GET_VRING_BASE", VHOST_GET_VRING_BASE, A_STATE, false, true },
	{ "SET_VRING_ADDR", VHOST_SET_VRING_ADDR, A_ADDR, false, true },
	{ "SET_VRING_KICK", VHOST_SET_VRING_KICK, A_FILE, false, true },
	{ "SET_VRING_CALL", VHOST_SET_VRING_CALL, A_FILE, false, true },
	{ "SET_VRING_ERR", VHOST_SET_VRING_ERR, A_FILE, false, true },
	{ "NET_SET_BACKEND", VHOST_NET_SET_BACKEND, A_BACKEND, false, true },
	{ "SET_LOG_BASE", VHOST_SET_LOG_BASE, A_LOG, false, true },
	{ "SET_LOG_FD", VHOST_SET_LOG_FD, A_FD, false, true },
	{ "SET_VRING_ENDIAN", VHOST_SET_VRING_ENDIAN, A_STATE, false, false },
	{ "GET_VRING_ENDIAN", VHOST_GET_VRING_ENDIAN, A_STATE, false, false },
	{ "SET_VRING_BUSYLOOP_TIMEOUT", VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
	  A_STATE, false, true },
	{ "GET_VRING_BUSYLOOP_TIMEOUT", VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
	  A_STATE, false, true },
	{ "RANDOM", 0, A_U64, false, false },
};

#define NOPS	ARRAY_SIZE(ops)
#define OP_RANDOM	(NOPS - 1)

/* What the contract (Documentation/ioctl-api.rst) lets an ioctl fail with. */
static const int allowed_errnos[] = {
	EPERM, EBUSY, EINVAL, EFAULT, ENOTTY, EBADF, EOPNOTSUPP, ENOTSOCK,
	ENOBUFS, ENOMEM, E2BIG,
};

struct fuzz {
	struct fg_rng rng;
	int dev[NSLOTS];
	pid_t owner[NSLOTS];	/* 0: none; -1: another process */
	int ev[NEVENTS];
	int tap[2];
	char tapname[2][IFNAMSIZ];
	int packet, udp, pipefd[2], regfile, closed;
	__u8 *mem;
	__u8 *guard;		/* an unmapped page */
	__u8 *log;		/* a dirty log for any table near MEM_GPA */
	__u64 offered;
	unsigned long calls, iter, closes, forks, tap_deletes, findings;
	unsigned long iotlb_msgs, iotlb_ok, iotlb_misses;
	unsigned int max_close_ms;
	long slab_before;	/* after the warm-up */
	struct fg_slab_use *caches;
	int ncaches;
	unsigned long hist[NOPS][MAX_ERRNO + 1];
	union {
		struct vhost_memory m;
		__u8 raw[sizeof(struct vhost_memory) +
			 70 * sizeof(struct vhost_memory_region)];
	} table;
};

static void finding(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	f->findings++;
	if (f->findings > 20)
		return;
	printf("# FINDING (iteration %lu): ", f->iter);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static __u32 pick(struct fuzz *f, __u32 n)
{
	return fg_rng_below(&f->rng, n);
}

static __u64 rnd64(struct fuzz *f)
{
	return (__u64)fg_rng_next(&f->rng) << 32 | fg_rng_next(&f->rng);
}

static unsigned long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000UL + ts.tv_nsec / 1000000;
}

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

/* A ring or table address: mostly inside guest memory, sometimes not. */
static __u64 some_addr(struct fuzz *f, unsigned int align)
{
	__u64 base = (uintptr_t)f->mem;

	switch (pick(f, 10)) {
	case 0:
		return 0;
	case 1:
		return KERNEL_ADDR + pick(f, 4096);
	case 2:
		return (uintptr_t)f->guard;
	case 3:
		return rnd64(f);
	case 4:
		return base + MEM_SIZE - pick(f, 64);
	default:
		return base + ((__u64)pick(f, MEM_SIZE / align) * align) +
			(pick(f, 8) ? 0 : 1);
	}
}

static unsigned int some_index(struct fuzz *f)
{
	switch (pick(f, 12)) {
	case 0:
		return 2;
	case 1:
		return fg_rng_next(&f->rng);
	default:
		return pick(f, 2);
	}
}

static unsigned int some_num(struct fuzz *f)
{
	static const unsigned int edge[] = {
		0, 1, 2, 3, 255, 256, 1024, 32768, 32769, 65535, 65536, UINT_MAX,
	};

	if (pick(f, 3))
		return edge[pick(f, ARRAY_SIZE(edge))];
	return pick(f, 4) ? 1U << pick(f, 17) : fg_rng_next(&f->rng);
}

/* An fd for a *_KICK/_CALL/_ERR or SET_BACKEND; *kind says what it is. */
static int some_fd(struct fuzz *f, bool backend, const char **kind)
{
	switch (pick(f, backend ? 11 : 6)) {
	case 0:
		*kind = "-1";
		return -1;
	case 1:
		*kind = "closed";
		return f->closed;
	case 2:
		*kind = "pipe";
		return f->pipefd[pick(f, 2)];
	case 3:
		*kind = "file";
		return f->regfile;
	case 4:
		*kind = "random";
		return (int)pick(f, 1 << 16) - 2;
	case 6:
		*kind = "udp";
		return f->udp;
	case 7:
		*kind = "packet";
		return f->packet;
	case 8:
		*kind = "eventfd";
		return f->ev[pick(f, NEVENTS)];
	case 9:
		*kind = "tap0";
		return f->tap[0];
	case 10:
		*kind = "tap1";
		return f->tap[1];
	default:
		*kind = backend ? "tap0" : "eventfd";
		return backend ? f->tap[0] : f->ev[pick(f, NEVENTS)];
	}
}

static void *some_table(struct fuzz *f)
{
	struct vhost_memory *m = &f->table.m;
	unsigned int i, n, max = 70;
	__u64 gpa;

	memset(&f->table, 0, sizeof(f->table));
	switch (pick(f, 6)) {
	case 0:
		n = 0;
		break;
	case 1:
		n = 64;
		break;
	case 2:
		n = 65;
		break;
	case 3:
		n = pick(f, max + 1);
		break;
	default:
		n = 1;
		break;
	}
	m->nregions = n;
	for (i = 0; i < n; i++) {
		struct vhost_memory_region *r = &m->regions[i];

		gpa = MEM_GPA + (__u64)i * MEM_SIZE;
		r->guest_phys_addr = gpa;
		r->memory_size = MEM_SIZE;
		r->userspace_addr = (uintptr_t)f->mem;
		switch (pick(f, 10)) {
		case 0:
			r->memory_size = 0;
			break;
		case 1:
			r->guest_phys_addr = ~0ULL - pick(f, 4096);
			break;
		case 2:
			r->userspace_addr = KERNEL_ADDR;
			break;
		case 3:
			r->userspace_addr = ~0ULL - pick(f, 8192);
			break;
		case 4:
			r->guest_phys_addr = MEM_GPA;
			break;
			/* overlap */;
		case 5:
			r->memory_size = rnd64(f);
			break;
		default:
			break;
		}
	}
	switch (pick(f, 20)) {
	case 0:
		return NULL;
	case 1:
		return (void *)KERNEL_ADDR;
	case 2:
		m->nregions = UINT_MAX;
		return m;
	default:
		return m;
	}
}

/* Build the argument of @op; *detail describes it for the oracle. */
static void *make_arg(struct fuzz *f, const struct op *op, void *buf,
		      bool *must_fail, const char **detail)
{
	struct vhost_vring_state *s = buf;
	struct vhost_vring_addr *a = buf;
	struct vhost_vring_file *v = buf;
	__u64 *u = buf;
	int *fd = buf;

	*must_fail = false;
	*detail = "";
	if (!pick(f, 40))
		return pick(f, 2) ? NULL : (void *)f->guard;
	switch (op->kind) {
	case A_NONE:
		return (void *)(uintptr_t)(pick(f, 2) ? 0 : rnd64(f));
	case A_U64:
		switch (pick(f, 4)) {
		case 0:
			*u = f->offered;
			break;
		case 1:
			*u = f->offered & rnd64(f);
			break;
		case 2:
			*u = 0;
			break;
		default:
			*u = rnd64(f);
			break;
		}
		if (op->cmd == VHOST_SET_FEATURES && (*u & ~f->offered)) {
			*must_fail = true;
			*detail = "features not offered";
		}
		if (op->cmd == VHOST_SET_BACKEND_FEATURES && *u) {
			*must_fail = true;
			*detail = "backend features";
		}
		return u;
	case A_STATE:
		s->index = some_index(f);
		s->num = some_num(f);
		if (s->index >= 2) {
			*must_fail = true;
			*detail = "queue index >= 2";
		} else if (op->cmd == VHOST_SET_VRING_NUM &&
			   (!s->num || s->num > 32768 ||
			    (s->num & (s->num - 1)))) {
			*must_fail = true;
			*detail = "ring size";
		} else if (op->cmd == VHOST_SET_VRING_BASE && s->num > 0xffff) {
			*must_fail = true;
			*detail = "ring base";
		} else if (op->cmd == VHOST_SET_VRING_BUSYLOOP_TIMEOUT &&
			   s->num > 1000000) {
			*must_fail = true;
			*detail = "busy-loop timeout over 1 s";
		}
		return s;
	case A_ADDR:
		memset(a, 0, sizeof(*a));
		a->index = some_index(f);
		a->desc_user_addr = some_addr(f, 16);
		a->avail_user_addr = pick(f, 8) ? a->desc_user_addr +
			16 * RING_NUM : some_addr(f, 2);
		/* Sometimes the used ring right over avail->idx. */
		a->used_user_addr = pick(f, 6) ? a->avail_user_addr + 4096 :
			a->avail_user_addr + 2 * pick(f, 3);
		a->flags = pick(f, 8) ? 0 : fg_rng_next(&f->rng) & 3;
		a->log_guest_addr = rnd64(f);
		if (a->index >= 2) {
			*must_fail = true;
			*detail = "queue index >= 2";
		}
		return a;
	case A_FILE:
	case A_BACKEND:
		v->index = some_index(f);
		v->fd = some_fd(f, op->kind == A_BACKEND, detail);
		if (v->index >= 2) {
			*must_fail = true;
			*detail = "queue index >= 2";
		} else if (op->kind == A_BACKEND &&
			   (!strcmp(*detail, "pipe") || !strcmp(*detail, "file") ||
			    !strcmp(*detail, "eventfd") ||
			    !strcmp(*detail, "udp") ||
			    !strcmp(*detail, "closed"))) {
			*must_fail = true;
		}
		return v;
	case A_MEM:
		return some_table(f);
	case A_LOG: {
		const __u64 base[] = {
			KERNEL_ADDR, (uintptr_t)f->guard, rnd64(f), (uintptr_t)f->log,
		};

		*u = base[pick(f, ARRAY_SIZE(base))];
		if (*u == KERNEL_ADDR) {
			*must_fail = true;
			*detail = "kernel address";
		}
		return u;
	}
	case A_FD:
		*fd = some_fd(f, false, detail);
		if (!strcmp(*detail, "pipe") || !strcmp(*detail, "file") ||
		    !strcmp(*detail, "closed"))
			*must_fail = true;
		return fd;
	}
	return NULL;
}

static bool errno_allowed(int e)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(allowed_errnos); i++)
		if (allowed_errnos[i] == e)
			return true;
	return false;
}

/* One random ioctl on slot @i; @child: the caller is a fork()ed child. */
static void one_ioctl(struct fuzz *f, unsigned int i)
{
	pid_t me = getpid();
	unsigned int k = pick(f, NOPS);
	const struct op *op = &ops[k];
	__u64 buf[8];
	unsigned long cmd = op->cmd;
	const char *detail;
	bool must_fail;
	void *arg;
	int ret, e;

	/* (Never a type the VFS handles itself, such as 0 or 'T'.) */
	if (k == OP_RANDOM)
		cmd = _IOC(pick(f, 4), pick(f, 2) ? VHOST_VIRTIO : 0xAE,
			   pick(f, 256), pick(f, 1 << 14));
	arg = make_arg(f, op, buf, &must_fail, &detail);
	ret = ioctl(f->dev[i], cmd, arg);
	e = ret ? errno : 0;
	f->calls++;
	f->hist[k][e > MAX_ERRNO ? MAX_ERRNO : e]++;

	if (ret && ret != -1) {
		finding(f, "%s returned %d", op->name, ret);
		return;
	}
	if (e && !errno_allowed(e)) {
		finding(f, "%s failed with %s, not in the contract", op->name,
			strerror(e));
		return;
	}
	if (k == OP_RANDOM) {
		bool vhost_cmd = false;
		unsigned int j;

		for (j = 0; j < OP_RANDOM; j++)
			vhost_cmd |= ops[j].cmd == cmd;
		/* VHOST_SET/GET_FORK_FROM_OWNER: implemented on 6.12 only. */
		vhost_cmd |= cmd == _IOW(VHOST_VIRTIO, 0x84, __u8) ||
			     cmd == _IOR(VHOST_VIRTIO, 0x85, __u8);
		if (!vhost_cmd && e != ENOTTY)
			finding(f, "unknown ioctl %#lx: %s, not ENOTTY", cmd,
				e ? strerror(e) : "success");
		return;
	}
	if (!op->known) {
		if (e != ENOTTY)
			finding(f, "%s (not implemented): %s, not ENOTTY",
				op->name, e ? strerror(e) : "success");
		return;
	}
	/* Ownership is checked before the arguments. */
	if ((f->owner[i] && f->owner[i] != me) ||
	    (!f->owner[i] && !op->before_owner)) {
		if (e != EPERM)
			finding(f, "%s on a%s device: %s, not EPERM", op->name,
				f->owner[i] ? " foreign" : "n unowned",
				e ? strerror(e) : "success");
		return;
	}
	if (must_fail && !e && arg == buf)
		finding(f, "%s accepted: %s", op->name, detail);
	if (e)
		return;
	if (cmd == VHOST_SET_OWNER)
		f->owner[i] = me;
	if (cmd == VHOST_RESET_OWNER)
		f->owner[i] = 0;
}

/*
 * One IOTLB message written to slot @i, mostly well formed, mapping parts
 * of the fuzz memory (whose addresses the rings and buffers use); and, if
 * one is pending, a MISS read back. A write succeeds whole (72 bytes) or
 * fails with an errno of the contract, EPERM whenever the caller is not
 * the owner; a MISS is a MISS.
 */
static void one_iotlb(struct fuzz *f, unsigned int i)
{
	struct pollfd p = { .fd = f->dev[i], .events = POLLIN };
	static const __u64 sizes[] = { 1, 0x1000, 0x10000, MEM_SIZE, 0 };
	struct vhost_msg_v2 m;
	size_t len = sizeof(m);
	ssize_t n;
	pid_t me = getpid();

	memset(&m, 0, sizeof(m));
	m.type = pick(f, 8) ? VHOST_IOTLB_MSG_V2 : pick(f, 4);
	m.asid = pick(f, 16) ? 0 : pick(f, 4);
	m.iotlb.type = pick(f, 4) ? VHOST_IOTLB_UPDATE + pick(f, 2) : pick(f, 8);
	m.iotlb.iova = pick(f, 4) ? some_addr(f, 0x1000) : rnd64(f);
	m.iotlb.size = pick(f, 8) ? sizes[pick(f, ARRAY_SIZE(sizes))] : rnd64(f);
	m.iotlb.uaddr = pick(f, 4) ? some_addr(f, 0x1000) : rnd64(f);
	m.iotlb.perm = pick(f, 8) ? 1 + pick(f, 3) : pick(f, 256);
	if (!pick(f, 32))
		len = pick(f, sizeof(m) + 8);
	n = write(f->dev[i], &m, len);
	f->iotlb_msgs++;
	if (n >= 0) {
		f->iotlb_ok++;
		if (n != (ssize_t)sizeof(m))
			finding(f, "IOTLB write of %zu bytes returned %zd", len, n);
		else if (f->owner[i] != me)
			finding(f, "IOTLB write accepted from a non-owner");
	} else if (!errno_allowed(errno) || errno == ENOTTY) {
		finding(f, "IOTLB write failed with %s", strerror(errno));
	} else if (f->owner[i] != me && errno != EPERM && errno != EINVAL) {
		finding(f, "IOTLB write from a non-owner: %s, not EPERM",
			strerror(errno));
	}
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
		return;
	memset(&m, 0xa5, sizeof(m));
	n = read(f->dev[i], &m, sizeof(m));
	if (n < 0 && errno == EAGAIN)
		return;	/* answered meanwhile */
	if (n != (ssize_t)sizeof(m) || m.iotlb.type != VHOST_IOTLB_MISS ||
	    (m.type != VHOST_IOTLB_MSG && m.type != VHOST_IOTLB_MSG_V2) ||
	    m.asid || m.iotlb.size || m.iotlb.uaddr)
		finding(f, "IOTLB read: %zd bytes, type %u, IOTLB type %u", n,
			m.type, m.iotlb.type);
	else
		f->iotlb_misses++;
}

static void close_slot(struct fuzz *f, unsigned int i)
{
	unsigned long t0 = now_ms(), ms;

	close(f->dev[i]);
	ms = now_ms() - t0;
	f->closes++;
	if (ms > f->max_close_ms)
		f->max_close_ms = ms;
	if (ms > CLOSE_MS)
		finding(f, "close() took %lu ms", ms);
	f->dev[i] = open(dev_path(), O_RDWR | O_CLOEXEC);
	f->owner[i] = 0;
	if (f->dev[i] < 0)
		finding(f, "open %s: %s", dev_path(), strerror(errno));
}

/* A coherent setup, so that the random calls also meet a running device. */
static void valid_setup(struct fuzz *f, unsigned int i)
{
	struct vhost_vring_state s = { .num = RING_NUM };
	struct vhost_vring_file v;
	struct vhost_vring_addr a;
	__u64 feat = f->offered & fg_rng_next(&f->rng);
	unsigned int q;
	int fd = f->dev[i];

	memset(&f->table, 0, sizeof(f->table));
	f->table.m.nregions = 1;
	f->table.m.regions[0].guest_phys_addr = MEM_GPA;
	f->table.m.regions[0].memory_size = MEM_SIZE;
	f->table.m.regions[0].userspace_addr = (uintptr_t)f->mem;
	if (!f->owner[i] && !ioctl(fd, VHOST_SET_OWNER))
		f->owner[i] = getpid();
	ioctl(fd, VHOST_SET_FEATURES, &feat);
	ioctl(fd, VHOST_SET_MEM_TABLE, &f->table.m);
	for (q = 0; q < 2; q++) {
		__u64 base = (uintptr_t)f->mem + q * (MEM_SIZE / 2);

		s.index = q;
		s.num = RING_NUM;
		ioctl(fd, VHOST_SET_VRING_NUM, &s);
		s.num = 0;
		ioctl(fd, VHOST_SET_VRING_BASE, &s);
		memset(&a, 0, sizeof(a));
		a.index = q;
		a.desc_user_addr = base;
		a.avail_user_addr = base + 16 * RING_NUM;
		a.used_user_addr = base + 8192;
		ioctl(fd, VHOST_SET_VRING_ADDR, &a);
		v.index = q;
		v.fd = f->ev[pick(f, NEVENTS)];
		ioctl(fd, VHOST_SET_VRING_KICK, &v);
		v.fd = f->ev[pick(f, NEVENTS)];
		ioctl(fd, VHOST_SET_VRING_CALL, &v);
		v.fd = f->ev[pick(f, NEVENTS)];
		ioctl(fd, VHOST_SET_VRING_ERR, &v);
		v.fd = f->tap[pick(f, 2)];
		ioctl(fd, VHOST_NET_SET_BACKEND, &v);
	}
	f->calls += 16;
}

/*
 * A child calls on the inherited fds: the parent's devices must say EPERM.
 * It may take an unowned one: then the parent finds it foreign.
 */
static void fork_child(struct fuzz *f)
{
	unsigned int i;
	int status, n;
	__u64 feat;
	pid_t pid;

	f->forks++;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		finding(f, "fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		f->findings = 0;
		for (n = 0; n < 16; n++)
			one_ioctl(f, pick(f, NSLOTS));
		fflush(stdout);
		_exit(f->findings ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		finding(f, "fork()ed child: findings or abnormal exit (%#x)",
			status);
	/* The child used a copy of the generator: move ours on too. */
	for (n = 0; n < 64; n++)
		fg_rng_next(&f->rng);
	for (i = 0; i < NSLOTS; i++)
		if (!f->owner[i] && ioctl(f->dev[i], VHOST_GET_FEATURES, &feat) &&
		    errno == EPERM)
			f->owner[i] = -1;
}

/* Delete tap1 (attached or not) and make it again. */
static void cycle_tap(struct fuzz *f)
{
	f->tap_deletes++;
	fg_link_del(f->tapname[1]);
	close(f->tap[1]);
	f->tap[1] = fg_tap_open(f->tapname[1], FG_TAP_VNET_HDR, 12, 0);
	if (f->tap[1] < 0)
		finding(f, "cannot make %s again: %s", f->tapname[1],
			strerror(-f->tap[1]));
}

static void one_step(struct fuzz *f)
{
	unsigned int i = pick(f, NSLOTS), r = pick(f, 1000);
	__u64 one = 1;

	f->iter++;
	if (r < 8) {
		close_slot(f, i);
	} else if (r < 12) {
		fork_child(f);
	} else if (r < 13) {
		cycle_tap(f);
	} else if (r < 40) {
		valid_setup(f, i);
	} else if (r < 60) {
		if (write(f->ev[pick(f, NEVENTS)], &one, sizeof(one)) < 0)
			finding(f, "eventfd write: %s", strerror(errno));
	} else if (r < 70) {
		/* Garbage over part of a ring area: the worker reads it. */
		__u8 *p = f->mem + pick(f, MEM_SIZE - 256);
		unsigned int n;

		for (n = 0; n < 256; n++)
			p[n] = fg_rng_next(&f->rng);
	} else if (r < 75) {
		one_iotlb(f, i);
	} else if (r < 80) {
		/* A broadcast frame for the devices on tap0 to receive. */
		static const __u8 frame[64] = { 0xff, 0xff, 0xff, 0xff, 0xff,
						0xff, 0x02 };

		if (write(f->packet, frame, sizeof(frame)) < 0 && errno != EAGAIN)
			finding(f, "packet write: %s", strerror(errno));
	} else {
		one_ioctl(f, i);
	}
}

static void print_hist(struct fuzz *f)
{
	unsigned int k, e;
	char line[512];
	int len;

	for (k = 0; k < NOPS; k++) {
		len = snprintf(line, sizeof(line), "%s:", ops[k].name);
		for (e = 0; e <= MAX_ERRNO && len < (int)sizeof(line) - 32; e++) {
			if (!f->hist[k][e])
				continue;
			len += snprintf(line + len, sizeof(line) - len, " %s=%lu",
					e ? strerrorname_np(e) : "ok",
					f->hist[k][e]);
		}
		ksft_print_msg("%s\n", line);
	}
}

/* The caches that grew most since @before, for a Slab report. */
static void slab_report(const struct fg_slab_use *before, int nb)
{
	struct fg_slab_use top[8];
	int i, n;

	n = fg_slab_growth(before, nb, top, 8);
	for (i = 0; i < n; i++)
		ksft_print_msg("slab %s: %+ld kB\n", top[i].name, top[i].kb);
}

/* Read every frame queued on the taps and the packet socket. */
static void drain(struct fuzz *f)
{
	int fds[3] = { f->tap[0], f->tap[1], f->packet };
	__u8 buf[2048];
	unsigned int i, n;

	for (i = 0; i < 3; i++) {
		if (fds[i] < 0)
			continue;
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
		for (n = 0; n < 100000; n++)
			if (read(fds[i], buf, sizeof(buf)) < 0)
				break;
	}
}

FIXTURE(fuzz) {
	struct fuzz *f;
};

FIXTURE_SETUP(fuzz)
{
	char path[] = "/tmp/vhnet-fuzz-XXXXXX";
	struct fuzz *f;
	unsigned int i;
	int fd;

	f = calloc(1, sizeof(*f));
	ASSERT_NE(NULL, f);
	self->f = f;
	f->caches = calloc(FG_NSLABS, sizeof(*f->caches));
	ASSERT_NE(NULL, f->caches);
	f->ncaches = fg_slab_snapshot(f->caches, FG_NSLABS);
	fg_rng_seed(&f->rng, env_ulong("VHNET_FUZZ_SEED", 1));
	f->mem = mmap(NULL, MEM_SIZE + 4096, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->mem);
	f->guard = f->mem + MEM_SIZE;
	ASSERT_EQ(0, munmap(f->guard, 4096));
	f->log = mmap(NULL, LOG_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->log);
	for (i = 0; i < NEVENTS; i++) {
		f->ev[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, f->ev[i]);
	}
	for (i = 0; i < 2; i++) {
		snprintf(f->tapname[i], IFNAMSIZ, "fztap%d_%d", i, getpid() % 10000);
		f->tap[i] = fg_tap_open(f->tapname[i], FG_TAP_VNET_HDR, 12, 0);
		ASSERT_LE(0, f->tap[i]) TH_LOG("tap: %s", strerror(-f->tap[i]));
	}
	f->packet = fg_packet_open(f->tapname[0], false, 0);
	ASSERT_LE(0, f->packet);
	f->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, f->udp);
	ASSERT_EQ(0, pipe2(f->pipefd, O_CLOEXEC | O_NONBLOCK));
	f->regfile = mkstemp(path);
	ASSERT_LE(0, f->regfile);
	unlink(path);
	/* High enough that no later open() takes the number. */
	f->closed = fcntl(f->udp, F_DUPFD_CLOEXEC, 900);
	ASSERT_LE(900, f->closed);
	close(f->closed);
	for (i = 0; i < NSLOTS; i++) {
		f->dev[i] = open(dev_path(), O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, f->dev[i]) TH_LOG("open %s", dev_path());
	}
	fd = f->dev[0];
	ASSERT_EQ(0, ioctl(fd, VHOST_GET_FEATURES, &f->offered));
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Every fd the fixture holds (and so the frames queued on them). */
static void fuzz_release(struct fuzz *f)
{
	unsigned int i;

	for (i = 0; i < NSLOTS; i++)
		close_fd(&f->dev[i]);
	for (i = 0; i < 2; i++)
		close_fd(&f->tap[i]);
	for (i = 0; i < NEVENTS; i++)
		close_fd(&f->ev[i]);
	close_fd(&f->packet);
	close_fd(&f->udp);
	close_fd(&f->pipefd[0]);
	close_fd(&f->pipefd[1]);
	close_fd(&f->regfile);
}

FIXTURE_TEARDOWN(fuzz)
{
	struct fuzz *f = self->f;

	fuzz_release(f);
	munmap(f->mem, MEM_SIZE);
	munmap(f->log, LOG_SIZE);
	free(f->caches);
	free(f);
}

/* A fresh device on a fresh tap moves frames both ways. */
static int device_works(struct __test_metadata *_metadata)
{
	struct fg_guest_cfg cfg = {
		.dev_path = dev_path(), .features = FG_FEATURES_DEFAULT,
		.ring_num = 256, .max_frame = 1514, .seed = 7,
	};
	static const __u8 hdr[12];
	__u8 frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
	struct fg_guest *g = calloc(1, sizeof(*g));
	long long before, after = 0;
	int tap, i, sent = 0;

	if (!g)
		return -1;
	tap = fg_tap_open("fzcheck0", FG_TAP_VNET_HDR, 12, 0);
	if (tap < 0 || fg_guest_init(g, &cfg, tap)) {
		TH_LOG("fresh device: %s", g->err);
		free(g);
		return -1;
	}
	before = fg_if_stat("fzcheck0", "rx_packets");
	for (i = 0; i < 16; i++)
		sent += !fg_guest_tx(g, hdr, frame, sizeof(frame));
	fg_guest_tx_kick(g);
	for (i = 0; i < 200; i++) {
		after = fg_if_stat("fzcheck0", "rx_packets");
		if (after - before >= sent)
			break;
		fg_sleep_ms(10);
	}
	fg_guest_fini(g);
	free(g);
	close(tap);
	ksft_print_msg("fresh device: %d frames sent, %lld reached the tap\n",
		       sent, after - before);
	return sent == 16 && after - before == sent ? 0 : -1;
}

TEST_F_TIMEOUT(fuzz, ioctl_sequences, 3000)
{
	struct fuzz *f = self->f;
	unsigned long want = env_ulong("VHNET_FUZZ_IOCTLS", 20000);
	unsigned long t0 = now_ms();
	unsigned long warm = want / 10 > 2000 ? want / 10 : 2000;
	unsigned int i;
	long slab;

	ksft_print_msg("seed %lu, %lu ioctls, %d device fds\n",
		       env_ulong("VHNET_FUZZ_SEED", 1), want, NSLOTS);
	/*
	 * Slab is compared from after a warm-up (caches filled, every slot
	 * closed and opened again, queued frames read) to the end.
	 */
	while (f->calls < warm)
		one_step(f);
	for (i = 0; i < NSLOTS; i++)
		close_slot(f, i);
	drain(f);
	f->slab_before = fg_settled_slab_kb();
	f->ncaches = fg_slab_snapshot(f->caches, FG_NSLABS);
	ASSERT_LT(0, f->slab_before);
	while (f->calls < want)
		one_step(f);
	for (i = 0; i < NSLOTS; i++) {
		close_slot(f, i);
		close(f->dev[i]);
		f->dev[i] = -1;
	}
	ksft_print_msg("%lu iterations, %lu ioctls in %lu ms\n", f->iter,
		       f->calls, now_ms() - t0);
	ksft_print_msg("%lu closes (longest %u ms), %lu forks, %lu taps deleted\n",
		       f->closes, f->max_close_ms, f->forks, f->tap_deletes);
	ksft_print_msg("IOTLB: %lu messages written, %lu taken; %lu misses read\n",
		       f->iotlb_msgs, f->iotlb_ok, f->iotlb_misses);
	print_hist(f);
	ksft_print_msg("findings: %lu\n", f->findings);
	EXPECT_EQ(0, f->findings);
	EXPECT_EQ(0, fg_wait_workers(getpid(), 0, CLOSE_MS))
		TH_LOG("workers left after every fd was closed");
	EXPECT_EQ(0, fg_wait_debugfs(getpid(), 0, CLOSE_MS))
		TH_LOG("debugfs entries left after every fd was closed");
	drain(f);
	slab = fg_settled_slab_kb();
	ksft_print_msg("Slab after the warm-up %ld kB, at the end %ld kB (%+ld kB, limit +%ld)\n",
		       f->slab_before, slab, slab - f->slab_before, SLAB_SLACK_KB);
	slab_report(f->caches, f->ncaches);
	EXPECT_LE(slab - f->slab_before, SLAB_SLACK_KB);
	EXPECT_EQ(0, device_works(_metadata));
}

/*
 * Last (fixtures run in the order they are defined; plain TEST()s would
 * run first): after a fuzz run the module unloads, and loads again.
 */
FIXTURE(unload) {
};

FIXTURE_SETUP(unload)
{
}

FIXTURE_TEARDOWN(unload)
{
}

TEST_F(unload, after_fuzz)
{
	const char *ko = getenv("VHNET_KO");
	int err;

	ASSERT_EQ(0, fg_wait_workers(getpid(), 0, CLOSE_MS));
	if (!ko || !*ko)
		SKIP(return, "VHNET_KO not set: not unloading the module");
	err = fg_module_unload("vhnet", CLOSE_MS);
	ASSERT_EQ(0, err) TH_LOG("unload after the fuzz run: %s", strerror(err));
	err = fg_module_load(ko);
	ASSERT_EQ(0, err) TH_LOG("reload %s: %s", ko, strerror(err));
}

TEST_HARNESS_MAIN
