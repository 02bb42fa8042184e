// SPDX-License-Identifier: GPL-2.0
/*
 * Control-path tests for /dev/vhnet.
 *
 * Covers the vhost ioctl UAPI as implemented by vhnet: ownership, feature
 * negotiation, the memory table, vring setup, kick/call/err eventfds and
 * backends, plus resource release on RESET_OWNER and close().  The last
 * test cycles the device many times, checks slab usage and that the module
 * can be unloaded, then loads it again.
 *
 * Environment: VHNET_DEV (default /dev/vhnet), VHNET_KO (path of vhnet.ko,
 * needed by the unload/reload step).  Must run as root.
 */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

/*
 * kselftest_harness.h has unused parameters in its own helpers and in the
 * functions TEST()/TEST_F() expand to; this file is built with -Wextra.
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wclobbered"
#include "kselftest_harness.h"
#include "fakeguest.h"

#define VQ_RX		0U
#define VQ_TX		1U
#define NR_VQS		2U
#define MAX_QUEUE	32768U
#define TEST_QUEUE	256U

/* Anonymous memory playing the part of guest RAM. */
#define GUEST_SIZE	(4UL << 20)
/* Per-vq ring area, large enough for a MAX_QUEUE split ring. */
#define RING_AREA	0x100000UL

/* Start of the x86-64 direct map: never accepted by access_ok(). */
#define KERNEL_ADDR	0xffff888000000000ULL

#define WAIT_MS		2000
#define PF_KTHREAD_BIT	0x00200000UL

#define BIT64(n)	(1ULL << (n))

/* The only legacy bits in the set; pin their values as the contract does. */
static_assert(VIRTIO_F_ANY_LAYOUT == 27, "VIRTIO_F_ANY_LAYOUT");
static_assert(VIRTIO_F_NOTIFY_ON_EMPTY == 24, "VIRTIO_F_NOTIFY_ON_EMPTY");

#define VHNET_FEATURES	(BIT64(VIRTIO_F_VERSION_1) |			\
			 BIT64(VIRTIO_RING_F_INDIRECT_DESC) |		\
			 BIT64(VIRTIO_RING_F_EVENT_IDX) |		\
			 BIT64(VIRTIO_F_ANY_LAYOUT) |			\
			 BIT64(VIRTIO_F_NOTIFY_ON_EMPTY) |		\
			 BIT64(VIRTIO_NET_F_MRG_RXBUF) |		\
			 BIT64(VHOST_NET_F_VIRTIO_NET_HDR) |		\
			 BIT64(VHOST_F_LOG_ALL) |			\
			 BIT64(VIRTIO_F_ACCESS_PLATFORM) |		\
			 BIT64(VIRTIO_F_RING_RESET) |			\
			 BIT64(VIRTIO_F_RING_PACKED) |			\
			 BIT64(VIRTIO_F_IN_ORDER))
/* The tests' rings are split, and read one used entry per buffer. */
#define SPLIT_FEATURES	(VHNET_FEATURES & ~BIT64(VIRTIO_F_RING_PACKED) & \
			 ~BIT64(VIRTIO_F_IN_ORDER))
#define VHNET_BACKEND_FEATURES	BIT64(VHOST_BACKEND_F_IOTLB_MSG_V2)

/* ---------------------------------------------------------------------- */
/* Small utilities                                                          */
/* ---------------------------------------------------------------------- */

/* Read a small file into @buf (NUL terminated); returns length or -1. */
static ssize_t read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 0);
}

static int write_text(const char *path, const char *text)
{
	ssize_t n, len = strlen(text);
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, text, len);
	close(fd);
	return n == len ? 0 : -1;
}

/* Run a shell command built from @fmt; returns its exit status or -1. */
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Poll until @path exists (want == true) or is gone; true on success. */
static bool wait_path(const char *path, bool want)
{
	int waited;

	for (waited = 0; waited <= WAIT_MS; waited += 10) {
		if (path_exists(path) == want)
			return true;
		fg_sleep_ms(10);
	}
	return false;
}

static bool netdev_exists(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return path_exists(path);
}

static char *map_area(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * End of the user address range accepted by access_ok(): 1 << 47 with
 * 4-level paging, 1 << 56 with 5-level paging.  An address above 47 bits
 * can only be mapped (with an explicit hint) when 5-level paging is on.
 */
static __u64 user_va_end(void)
{
	void *hint = (void *)(1UL << 50);
	void *p;

	p = mmap(hint, 4096, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return 1ULL << 47;
	munmap(p, 4096);
	return p == hint ? 1ULL << 56 : 1ULL << 47;
}

/* ---------------------------------------------------------------------- */
/* ioctl wrappers: all return 0 or the errno of the failed call             */
/* ---------------------------------------------------------------------- */

static const char *vh_path(void)
{
	const char *p = getenv("VHNET_DEV");

	return p && *p ? p : "/dev/vhnet";
}

static int vh_open(void)
{
	return open(vh_path(), O_RDWR | O_CLOEXEC);
}

static int xioctl(int fd, unsigned long req, const void *arg)
{
	int ret = ioctl(fd, req, arg);

	if (ret < 0)
		return errno;
	/* None of these ioctls returns a positive value: flag it. */
	return ret ? -ret : 0;
}

static int set_u64(int fd, unsigned long req, __u64 val)
{
	return xioctl(fd, req, &val);
}

static int get_u64(int fd, unsigned long req, __u64 *val)
{
	return xioctl(fd, req, val);
}

static int vq_state(int fd, unsigned long req, unsigned int idx,
		    unsigned int num)
{
	struct vhost_vring_state s = { .index = idx, .num = num };

	return xioctl(fd, req, &s);
}

static int vq_get(int fd, unsigned long req, unsigned int idx,
		  unsigned int *num)
{
	struct vhost_vring_state s = { .index = idx, .num = 0xa5a5a5a5 };
	int err;

	err = xioctl(fd, req, &s);
	*num = s.num;
	return err;
}

static int vq_get_base(int fd, unsigned int idx, unsigned int *num)
{
	return vq_get(fd, VHOST_GET_VRING_BASE, idx, num);
}

static int vq_file(int fd, unsigned long req, unsigned int idx, int file)
{
	struct vhost_vring_file f = { .index = idx, .fd = file };

	return xioctl(fd, req, &f);
}

static int vq_addr(int fd, unsigned int idx, __u64 desc, __u64 avail,
		   __u64 used, unsigned int flags)
{
	struct vhost_vring_addr a = {
		.index = idx,
		.flags = flags,
		.desc_user_addr = desc,
		.avail_user_addr = avail,
		.used_user_addr = used,
	};

	return xioctl(fd, VHOST_SET_VRING_ADDR, &a);
}

/* Addresses of a split ring of @num entries laid out from @base. */
struct ring_addrs {
	__u64 desc;
	__u64 avail;
	__u64 used;
};

static struct ring_addrs ring_layout(const void *base, unsigned int num)
{
	struct ring_addrs r;

	r.desc = (uintptr_t)base;
	r.avail = r.desc + 16ULL * num;
	r.used = (r.avail + 6 + 2ULL * num + 4095) & ~4095ULL;
	return r;
}

static char *vq_ring(char *rings, unsigned int idx)
{
	return rings + idx * RING_AREA;
}

static int vq_set_addr(int fd, unsigned int idx, const void *ring,
		       unsigned int num)
{
	struct ring_addrs r = ring_layout(ring, num);

	return vq_addr(fd, idx, r.desc, r.avail, r.used, 0);
}

/* SET_VRING_NUM then SET_VRING_ADDR: what a backend needs. */
static int vq_setup(int fd, unsigned int idx, const void *ring,
		    unsigned int num)
{
	int err = vq_state(fd, VHOST_SET_VRING_NUM, idx, num);

	return err ? err : vq_set_addr(fd, idx, ring, num);
}

static int backend(int fd, unsigned int idx, int file)
{
	return vq_file(fd, VHOST_NET_SET_BACKEND, idx, file);
}

/* SET_MEM_TABLE from an array of regions and a header padding value. */
static int mem_set_pad(int fd, const struct vhost_memory_region *r,
		       unsigned int n, __u32 padding)
{
	struct vhost_memory *m;
	int err;

	m = calloc(1, sizeof(*m) + (n + 1) * sizeof(m->regions[0]));
	if (!m)
		return errno;
	m->nregions = n;
	m->padding = padding;
	if (n)
		memcpy(m->regions, r, n * sizeof(*r));
	err = xioctl(fd, VHOST_SET_MEM_TABLE, m);
	free(m);
	return err;
}

static int mem_set(int fd, const struct vhost_memory_region *r, unsigned int n)
{
	return mem_set_pad(fd, r, n, 0);
}

static int mem_set_one(int fd, __u64 gpa, __u64 size, __u64 uaddr)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = uaddr,
	};

	return mem_set(fd, &r, 1);
}

static struct vhost_memory_region region(__u64 gpa, __u64 size, const void *p)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)p,
	};

	return r;
}

/* A table of @n one-chunk regions covering [guest, guest + len). */
static struct vhost_memory *mem_table_split(char *guest, size_t len,
					    unsigned int n)
{
	size_t chunk = len / n;
	struct vhost_memory *m;
	unsigned int i;

	m = calloc(1, sizeof(*m) + n * sizeof(m->regions[0]));
	if (!m)
		return NULL;
	m->nregions = n;
	for (i = 0; i < n; i++)
		m->regions[i] = region(i * chunk, chunk, guest + i * chunk);
	return m;
}

static long mem_regions_param(void)
{
	return read_long("/sys/module/vhnet/parameters/max_mem_regions");
}

/* ---------------------------------------------------------------------- */
/* Worker thread lookup                                                     */
/* ---------------------------------------------------------------------- */

static bool is_kthread(pid_t tid)
{
	char path[64], buf[1024], *p;
	unsigned long flags;

	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return false;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return flags & PF_KTHREAD_BIT;
}

/* The thread group @tid belongs to, or -1. */
static pid_t thread_tgid(pid_t tid)
{
	char path[64], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "\nTgid:");
	return p ? atoi(p + 6) : -1;
}

/* Whether the running kernel has vhost_task (6.4+): the worker is one. */
static bool kernel_has_vhost_task(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 4);
}

/* ---------------------------------------------------------------------- */
/* Backends                                                                 */
/* ---------------------------------------------------------------------- */

/* A non-persistent tap with a vnet header; @name receives its name. */
static int tap_create(char name[IFNAMSIZ])
{
	struct ifreq ifr;
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, "vhnt%d", sizeof("vhnt%d"));
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		close(fd);
		return -1;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	return fd;
}

static int packet_socket(void)
{
	return socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
}

static int udp_socket(void)
{
	return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

/* Some regular file: the test binary itself. */
static int regular_file(void)
{
	return open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
}

/* An fd number that is certainly not open. */
static int closed_fd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

/*
 * The "eventfd-id" of an eventfd (from its fdinfo).  Ids come from an IDA
 * and are only given back when the eventfd_ctx is freed, i.e. when its
 * last reference, ours or the module's, is dropped.
 */
static int eventfd_id(int fd)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "eventfd-id:");
	return p ? atoi(p + strlen("eventfd-id:")) : -1;
}

/*
 * Is eventfd id @id free?  The IDA hands out the lowest free id, so create
 * eventfds until one gets @id (free) or a higher id (still in use).
 */
static bool eventfd_id_free(int id)
{
	int fds[256], n = 0, got = -1;

	while (n < 256) {
		fds[n] = eventfd(0, EFD_CLOEXEC);
		if (fds[n] < 0)
			break;
		got = eventfd_id(fds[n++]);
		if (got < 0 || got >= id)
			break;
	}
	while (n)
		close(fds[--n]);
	return got == id;
}

static bool wait_eventfd_id_free(int id)
{
	int waited;

	for (waited = 0; waited <= WAIT_MS; waited += 20) {
		if (eventfd_id_free(id))
			return true;
		fg_sleep_ms(20);
	}
	return false;
}

/* ---------------------------------------------------------------------- */
/* Device set-up shared by the fixtures                                     */
/* ---------------------------------------------------------------------- */

static void dev_setup(struct __test_metadata *_metadata, int *fd,
		      char **guest, char **rings, bool own)
{
	*fd = -1;
	*guest = map_area(GUEST_SIZE);
	ASSERT_NE(NULL, *guest);
	*rings = map_area(NR_VQS * RING_AREA);
	ASSERT_NE(NULL, *rings);
	*fd = vh_open();
	ASSERT_LE(0, *fd) TH_LOG("open %s: %s", vh_path(), strerror(errno));
	if (own)
		ASSERT_EQ(0, xioctl(*fd, VHOST_SET_OWNER, NULL));
}

static void dev_teardown(int fd, char *guest, char *rings)
{
	if (fd >= 0)
		close(fd);
	if (guest)
		munmap(guest, GUEST_SIZE);
	if (rings)
		munmap(rings, NR_VQS * RING_AREA);
}

/*
 * Everything a VMM sets up on an owned device: features, @mem, for each
 * vq num/addr/base, kick/call/err from @efd[vq * 3 + 0..2], then @backend_fd
 * as backend of both vqs.
 */
static void full_setup(struct __test_metadata *_metadata, int fd,
		       const struct vhost_memory *mem, char *rings,
		       const int efd[NR_VQS * 3], int backend_fd)
{
	static const unsigned long file_req[3] = {
		VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
	};
	unsigned int vq, k;

	ASSERT_EQ(0, set_u64(fd, VHOST_SET_FEATURES, SPLIT_FEATURES));
	ASSERT_EQ(0, xioctl(fd, VHOST_SET_MEM_TABLE, mem));
	for (vq = 0; vq < NR_VQS; vq++) {
		ASSERT_EQ(0, vq_setup(fd, vq, vq_ring(rings, vq), TEST_QUEUE));
		ASSERT_EQ(0, vq_state(fd, VHOST_SET_VRING_BASE, vq, 0));
		for (k = 0; k < 3; k++)
			ASSERT_EQ(0, vq_file(fd, file_req[k], vq, efd[vq * 3 + k]));
	}
	for (vq = 0; vq < NR_VQS; vq++)
		ASSERT_EQ(0, backend(fd, vq, backend_fd));
}

/*
 * Every ioctl of the UAPI with a valid argument, for the ownership tests.
 * The first four are allowed on an unowned device.
 */
enum vh_op {
	OP_GET_FEATURES,
	OP_GET_BACKEND_FEATURES,
	OP_SET_BACKEND_FEATURES,
	OP_SET_OWNER,
	OP_SET_FEATURES,
	OP_SET_MEM_TABLE,
	OP_SET_VRING_NUM,
	OP_SET_VRING_BASE,
	OP_GET_VRING_BASE,
	OP_SET_VRING_ADDR,
	OP_SET_VRING_KICK,
	OP_SET_VRING_CALL,
	OP_SET_VRING_ERR,
	OP_NET_SET_BACKEND,
	OP_SET_VRING_BUSYLOOP,
	OP_GET_VRING_BUSYLOOP,
	OP_SET_LOG_BASE,
	OP_SET_LOG_FD,
	OP_RESET_OWNER,
	NR_OPS,
	OP_FIRST_OWNER_ONLY = OP_SET_FEATURES,
};

static const char * const op_names[NR_OPS] = {
	[OP_GET_FEATURES] = "GET_FEATURES",
	[OP_GET_BACKEND_FEATURES] = "GET_BACKEND_FEATURES",
	[OP_SET_BACKEND_FEATURES] = "SET_BACKEND_FEATURES",
	[OP_SET_OWNER] = "SET_OWNER",
	[OP_SET_FEATURES] = "SET_FEATURES",
	[OP_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[OP_SET_VRING_NUM] = "SET_VRING_NUM",
	[OP_SET_VRING_BASE] = "SET_VRING_BASE",
	[OP_GET_VRING_BASE] = "GET_VRING_BASE",
	[OP_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[OP_SET_VRING_KICK] = "SET_VRING_KICK",
	[OP_SET_VRING_CALL] = "SET_VRING_CALL",
	[OP_SET_VRING_ERR] = "SET_VRING_ERR",
	[OP_NET_SET_BACKEND] = "NET_SET_BACKEND",
	[OP_SET_VRING_BUSYLOOP] = "SET_VRING_BUSYLOOP_TIMEOUT",
	[OP_GET_VRING_BUSYLOOP] = "GET_VRING_BUSYLOOP_TIMEOUT",
	[OP_SET_LOG_BASE] = "SET_LOG_BASE",
	[OP_SET_LOG_FD] = "SET_LOG_FD",
	[OP_RESET_OWNER] = "RESET_OWNER",
};

static const char *op_name(int op)
{
	const char *name = op >= 0 && op < NR_OPS ? op_names[op] : NULL;

	return name ? name : "?";
}

static int do_op(int fd, enum vh_op op, char *guest, char *ring, int efd)
{
	unsigned int num;
	__u64 val;

	switch (op) {
	case OP_GET_FEATURES:
		return get_u64(fd, VHOST_GET_FEATURES, &val);
	case OP_GET_BACKEND_FEATURES:
		return get_u64(fd, VHOST_GET_BACKEND_FEATURES, &val);
	case OP_SET_BACKEND_FEATURES:
		return set_u64(fd, VHOST_SET_BACKEND_FEATURES, 0);
	case OP_SET_OWNER:
		return xioctl(fd, VHOST_SET_OWNER, NULL);
	case OP_SET_FEATURES:
		return set_u64(fd, VHOST_SET_FEATURES, 0);
	case OP_SET_MEM_TABLE:
		return mem_set_one(fd, 0, GUEST_SIZE, (uintptr_t)guest);
	case OP_SET_VRING_NUM:
		return vq_state(fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE);
	case OP_SET_VRING_BASE:
		return vq_state(fd, VHOST_SET_VRING_BASE, VQ_RX, 0);
	case OP_GET_VRING_BASE:
		return vq_get_base(fd, VQ_RX, &num);
	case OP_SET_VRING_ADDR:
		return vq_set_addr(fd, VQ_RX, ring, TEST_QUEUE);
	case OP_SET_VRING_KICK:
		return vq_file(fd, VHOST_SET_VRING_KICK, VQ_RX, efd);
	case OP_SET_VRING_CALL:
		return vq_file(fd, VHOST_SET_VRING_CALL, VQ_RX, efd);
	case OP_SET_VRING_ERR:
		return vq_file(fd, VHOST_SET_VRING_ERR, VQ_RX, efd);
	case OP_NET_SET_BACKEND:
		return backend(fd, VQ_RX, -1);
	case OP_SET_VRING_BUSYLOOP:
		return vq_state(fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, VQ_RX, 50);
	case OP_GET_VRING_BUSYLOOP:
		return vq_get(fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, VQ_RX, &num);
	case OP_SET_LOG_BASE:
		return set_u64(fd, VHOST_SET_LOG_BASE, (uintptr_t)ring);
	case OP_SET_LOG_FD:
		return xioctl(fd, VHOST_SET_LOG_FD, &efd);
	case OP_RESET_OWNER:
		return xioctl(fd, VHOST_RESET_OWNER, NULL);
	default:
		return -1;
	}
}

/* ---------------------------------------------------------------------- */
/* Unowned devices, device identity and the worker thread                   */
/* ---------------------------------------------------------------------- */

TEST(unowned_allowed_ioctls)
{
	__u64 val;
	int fd, bit;

	fd = vh_open();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", vh_path(), strerror(errno));

	val = ~0ULL;
	ASSERT_EQ(0, get_u64(fd, VHOST_GET_FEATURES, &val));
	EXPECT_EQ(VHNET_FEATURES, val);
	val = ~0ULL;
	ASSERT_EQ(0, get_u64(fd, VHOST_GET_BACKEND_FEATURES, &val));
	EXPECT_EQ(VHNET_BACKEND_FEATURES, val);
	EXPECT_EQ(0, set_u64(fd, VHOST_SET_BACKEND_FEATURES, 0));
	for (bit = 0; bit < 64; bit++)
		EXPECT_EQ(VHNET_BACKEND_FEATURES & BIT64(bit) ? 0 : EOPNOTSUPP,
			  set_u64(fd, VHOST_SET_BACKEND_FEATURES, BIT64(bit)))
			TH_LOG("backend feature bit %d", bit);
	/* None of this must have created a worker or taken ownership. */
	EXPECT_EQ(0, fg_worker_count(getpid(), NULL));
	EXPECT_EQ(0, xioctl(fd, VHOST_SET_OWNER, NULL));
	close(fd);
}

TEST(unowned_other_ioctls_eperm)
{
	char *guest = map_area(GUEST_SIZE), *ring = map_area(RING_AREA);
	int fd, efd, op;

	ASSERT_NE(NULL, guest);
	ASSERT_NE(NULL, ring);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	fd = vh_open();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", vh_path(), strerror(errno));

	for (op = OP_FIRST_OWNER_ONLY; op < NR_OPS; op++)
		EXPECT_EQ(EPERM, do_op(fd, op, guest, ring, efd))
			TH_LOG("%s on an unowned device", op_name(op));
	EXPECT_EQ(0, fg_worker_count(getpid(), NULL));

	/* Once owned the very same calls work. */
	ASSERT_EQ(0, xioctl(fd, VHOST_SET_OWNER, NULL));
	for (op = OP_FIRST_OWNER_ONLY; op < NR_OPS; op++)
		EXPECT_EQ(0, do_op(fd, op, guest, ring, efd))
			TH_LOG("%s on an owned device", op_name(op));
	close(fd);
	close(efd);
	munmap(guest, GUEST_SIZE);
	munmap(ring, RING_AREA);
}

TEST(unowned_bad_pointer_efault)
{
	int fd = vh_open();

	ASSERT_LE(0, fd) TH_LOG("open %s: %s", vh_path(), strerror(errno));
	EXPECT_EQ(EFAULT, xioctl(fd, VHOST_GET_FEATURES, NULL));
	EXPECT_EQ(EFAULT, xioctl(fd, VHOST_GET_BACKEND_FEATURES, NULL));
	EXPECT_EQ(EFAULT, xioctl(fd, VHOST_SET_BACKEND_FEATURES, NULL));
	EXPECT_EQ(EFAULT, xioctl(fd, VHOST_GET_FEATURES,
				 (void *)(uintptr_t)KERNEL_ADDR));
	close(fd);
}

TEST(each_open_is_a_device)
{
	unsigned int a, b;
	pid_t me = getpid();
	int fd1, fd2;

	fd1 = vh_open();
	ASSERT_LE(0, fd1) TH_LOG("open %s: %s", vh_path(), strerror(errno));
	fd2 = vh_open();
	ASSERT_LE(0, fd2);

	ASSERT_EQ(0, xioctl(fd1, VHOST_SET_OWNER, NULL));
	/* Owning the first one neither owns nor blocks the second. */
	EXPECT_EQ(EPERM, vq_state(fd2, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	ASSERT_EQ(0, xioctl(fd2, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(2, fg_worker_count(me, NULL));

	/* Separate vring state. */
	ASSERT_EQ(0, vq_state(fd1, VHOST_SET_VRING_BASE, VQ_RX, 11));
	ASSERT_EQ(0, vq_state(fd2, VHOST_SET_VRING_BASE, VQ_RX, 22));
	ASSERT_EQ(0, vq_get_base(fd1, VQ_RX, &a));
	ASSERT_EQ(0, vq_get_base(fd2, VQ_RX, &b));
	EXPECT_EQ(11U, a);
	EXPECT_EQ(22U, b);

	/* Each device has its own worker. */
	close(fd1);
	EXPECT_EQ(1, fg_wait_workers(me, 1, WAIT_MS));
	close(fd2);
	EXPECT_EQ(0, fg_wait_workers(me, 0, WAIT_MS));
}

TEST(worker_lifecycle)
{
	pid_t me = getpid(), tid = 0;
	int fd;

	fd = vh_open();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", vh_path(), strerror(errno));
	EXPECT_EQ(0, fg_worker_count(me, NULL));

	ASSERT_EQ(0, xioctl(fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(1, fg_worker_count(me, &tid))
		TH_LOG("no thread named vhnet-%d after SET_OWNER", me);
	if (kernel_has_vhost_task()) {
		/* A thread of ours: it dies with us (vhnet_owner_test). */
		EXPECT_FALSE(is_kthread(tid)) TH_LOG("vhnet-%d is a kthread", me);
		EXPECT_EQ(me, thread_tgid(tid))
			TH_LOG("vhnet-%d (tid %d) is not in our thread group", me, tid);
	} else {
		EXPECT_TRUE(is_kthread(tid)) TH_LOG("vhnet-%d is not a kthread", me);
		EXPECT_NE(me, thread_tgid(tid));
	}

	ASSERT_EQ(0, xioctl(fd, VHOST_RESET_OWNER, NULL));
	EXPECT_EQ(0, fg_wait_workers(me, 0, WAIT_MS))
		TH_LOG("worker survived RESET_OWNER");

	ASSERT_EQ(0, xioctl(fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(1, fg_worker_count(me, NULL));

	close(fd);
	EXPECT_EQ(0, fg_wait_workers(me, 0, WAIT_MS)) TH_LOG("worker survived close");
}

/* In <linux/vhost.h> since 6.12.y; 6.1's headers (and the host's) lack it. */
#ifndef VHOST_SET_FORK_FROM_OWNER
#define VHOST_FORK_OWNER_KTHREAD	0
#define VHOST_FORK_OWNER_TASK		1
#define VHOST_SET_FORK_FROM_OWNER	_IOW(VHOST_VIRTIO, 0x84, __u8)
#define VHOST_GET_FORK_FROM_OWNER	_IOR(VHOST_VIRTIO, 0x85, __u8)
#endif

/*
 * VHOST_SET/GET_FORK_FROM_OWNER, with the in-tree meaning: before
 * SET_OWNER a device may ask for a kthread worker instead of a vhost_task;
 * RESET_OWNER restores the default. Kernels without vhost_task lack both
 * the ioctls and the choice.
 */
TEST(fork_from_owner)
{
	pid_t me = getpid(), tid = 0;
	__u8 v = 0xff;
	int fd;

	fd = vh_open();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", vh_path(), strerror(errno));
	if (!kernel_has_vhost_task()) {
		EXPECT_EQ(ENOTTY, xioctl(fd, VHOST_GET_FORK_FROM_OWNER, &v));
		EXPECT_EQ(ENOTTY, xioctl(fd, VHOST_SET_FORK_FROM_OWNER, &v));
		close(fd);
		return;
	}
	ASSERT_EQ(0, xioctl(fd, VHOST_GET_FORK_FROM_OWNER, &v));
	EXPECT_EQ(VHOST_FORK_OWNER_TASK, v);
	v = 2;
	EXPECT_EQ(EINVAL, xioctl(fd, VHOST_SET_FORK_FROM_OWNER, &v));
	EXPECT_EQ(EFAULT, xioctl(fd, VHOST_SET_FORK_FROM_OWNER, NULL));
	EXPECT_EQ(EFAULT, xioctl(fd, VHOST_GET_FORK_FROM_OWNER, NULL));
	v = VHOST_FORK_OWNER_KTHREAD;
	ASSERT_EQ(0, xioctl(fd, VHOST_SET_FORK_FROM_OWNER, &v));
	v = 0xff;
	ASSERT_EQ(0, xioctl(fd, VHOST_GET_FORK_FROM_OWNER, &v));
	EXPECT_EQ(VHOST_FORK_OWNER_KTHREAD, v);

	ASSERT_EQ(0, xioctl(fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(1, fg_worker_count(me, &tid));
	EXPECT_TRUE(is_kthread(tid)) TH_LOG("asked for a kthread, got tid %d", tid);
	v = VHOST_FORK_OWNER_TASK;
	EXPECT_EQ(EBUSY, xioctl(fd, VHOST_SET_FORK_FROM_OWNER, &v));

	ASSERT_EQ(0, xioctl(fd, VHOST_RESET_OWNER, NULL));
	EXPECT_EQ(0, fg_wait_workers(me, 0, WAIT_MS));
	v = 0xff;
	ASSERT_EQ(0, xioctl(fd, VHOST_GET_FORK_FROM_OWNER, &v));
	EXPECT_EQ(VHOST_FORK_OWNER_TASK, v) TH_LOG("RESET_OWNER keeps %u", v);
	ASSERT_EQ(0, xioctl(fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(1, fg_worker_count(me, &tid));
	EXPECT_FALSE(is_kthread(tid));
	EXPECT_EQ(me, thread_tgid(tid));
	close(fd);
	EXPECT_EQ(0, fg_wait_workers(me, 0, WAIT_MS));
}

/*
 * A vhost_task worker counts in the owner's RLIMIT_NPROC: an unprivileged
 * owner at its limit gets EAGAIN from SET_OWNER, and succeeds one task
 * higher. A kthread (6.1) is not counted: the first SET_OWNER works.
 */
TEST(worker_counts_in_nproc)
{
	int fds[2], res[2] = { -1, -1 }, status;
	pid_t child;

	ASSERT_EQ(0, pipe(fds));
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		struct rlimit rl = { .rlim_cur = 1, .rlim_max = 2 };
		int fd = vh_open();

		/* nobody: no capability, and no other task of that user. */
		if (fd < 0 || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534) ||
		    setrlimit(RLIMIT_NPROC, &rl))
			_exit(10);
		res[0] = xioctl(fd, VHOST_SET_OWNER, NULL);
		rl.rlim_cur = 2;
		if (setrlimit(RLIMIT_NPROC, &rl))
			_exit(11);
		res[1] = xioctl(fd, VHOST_SET_OWNER, NULL);
		if (write(fds[1], res, sizeof(res)) != sizeof(res))
			_exit(12);
		_exit(0);
	}
	close(fds[1]);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %#x", status);
	ASSERT_EQ(sizeof(res), read(fds[0], res, sizeof(res)));
	close(fds[0]);
	if (kernel_has_vhost_task()) {
		EXPECT_EQ(EAGAIN, res[0]) TH_LOG("at RLIMIT_NPROC: %s", strerror(res[0]));
		EXPECT_EQ(0, res[1]) TH_LOG("one higher: %s", strerror(res[1]));
	} else {
		EXPECT_EQ(0, res[0]);
		EXPECT_EQ(EBUSY, res[1]);
	}
}

/* ---------------------------------------------------------------------- */
/* Owned device                                                             */
/* ---------------------------------------------------------------------- */

FIXTURE(owned) {
	int fd;
	char *guest;
	char *rings;
};

FIXTURE_SETUP(owned)
{
	dev_setup(_metadata, &self->fd, &self->guest, &self->rings, true);
}

FIXTURE_TEARDOWN(owned)
{
	dev_teardown(self->fd, self->guest, self->rings);
}

TEST_F(owned, set_owner_twice_ebusy)
{
	EXPECT_EQ(EBUSY, xioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EBUSY, xioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(1, fg_worker_count(getpid(), NULL));
	/* Still fully usable. */
	EXPECT_EQ(0, vq_setup(self->fd, VQ_RX, vq_ring(self->rings, VQ_RX),
			      TEST_QUEUE));
}

TEST_F(owned, unknown_ioctl_enotty)
{
	static const unsigned long reqs[] = {
		_IO(VHOST_VIRTIO, 0xff),
		_IOR(VHOST_VIRTIO, 0xfe, __u64),
		_IOWR(VHOST_VIRTIO, 0xfd, struct vhost_vring_state),
		_IOW('Z', 0x01, int),
		VHOST_VDPA_GET_DEVICE_ID,
		VHOST_SCSI_GET_ABI_VERSION,
		VHOST_VSOCK_SET_GUEST_CID,
	};
	char buf[512];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(ENOTTY, xioctl(self->fd, reqs[i], buf))
			TH_LOG("ioctl 0x%lx", reqs[i]);
		EXPECT_EQ(ENOTTY, xioctl(self->fd, reqs[i], NULL))
			TH_LOG("ioctl 0x%lx with NULL", reqs[i]);
	}
}

TEST_F(owned, bad_pointer_efault)
{
	static const unsigned long reqs[] = {
		VHOST_GET_FEATURES, VHOST_SET_FEATURES,
		VHOST_GET_BACKEND_FEATURES, VHOST_SET_BACKEND_FEATURES,
		VHOST_SET_MEM_TABLE, VHOST_SET_VRING_NUM,
		VHOST_SET_VRING_BASE, VHOST_GET_VRING_BASE,
		VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK,
		VHOST_SET_VRING_CALL, VHOST_SET_VRING_ERR,
		VHOST_NET_SET_BACKEND, VHOST_SET_LOG_BASE, VHOST_SET_LOG_FD,
	};
	long pg = sysconf(_SC_PAGESIZE);
	struct vhost_vring_state *ro_state;
	char *rw, *none, *ro;
	unsigned int i;

	/* A read-write page followed by an inaccessible one. */
	rw = map_area(2 * pg);
	ASSERT_NE(NULL, rw);
	none = rw + pg;
	ASSERT_EQ(0, mprotect(none, pg, PROT_NONE));
	ro = map_area(pg);
	ASSERT_NE(NULL, ro);
	ro_state = (struct vhost_vring_state *)ro;
	ro_state->index = VQ_RX;
	ASSERT_EQ(0, mprotect(ro, pg, PROT_READ));

	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		EXPECT_EQ(EFAULT, xioctl(self->fd, reqs[i], NULL))
			TH_LOG("ioctl 0x%lx, NULL", reqs[i]);
		EXPECT_EQ(EFAULT, xioctl(self->fd, reqs[i], none))
			TH_LOG("ioctl 0x%lx, PROT_NONE page", reqs[i]);
		EXPECT_EQ(EFAULT, xioctl(self->fd, reqs[i],
					 (void *)(uintptr_t)KERNEL_ADDR))
			TH_LOG("ioctl 0x%lx, kernel address", reqs[i]);
	}

	/* Readable but not writable result buffers. */
	EXPECT_EQ(EFAULT, xioctl(self->fd, VHOST_GET_FEATURES, ro));
	EXPECT_EQ(EFAULT, xioctl(self->fd, VHOST_GET_BACKEND_FEATURES, ro));
	EXPECT_EQ(EFAULT, xioctl(self->fd, VHOST_GET_VRING_BASE, ro));

	/* A vhost_vring_addr whose tail lies in the PROT_NONE page. */
	EXPECT_EQ(EFAULT, xioctl(self->fd, VHOST_SET_VRING_ADDR,
				 none - sizeof(struct vhost_vring_addr) / 2));

	munmap(rw, 2 * pg);
	munmap(ro, pg);
}

TEST_F(owned, get_features_exact_no_garbage)
{
	__u64 buf[2];

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, get_u64(self->fd, VHOST_GET_FEATURES, buf));
	EXPECT_EQ(VHNET_FEATURES, buf[0])
		TH_LOG("features 0x%llx", (unsigned long long)buf[0]);
	EXPECT_NE(0ULL, buf[0] & BIT64(VHOST_F_LOG_ALL));
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, buf[1]) TH_LOG("wrote past a __u64");

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, get_u64(self->fd, VHOST_GET_BACKEND_FEATURES, buf));
	EXPECT_EQ(VHNET_BACKEND_FEATURES, buf[0]);
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, buf[1]) TH_LOG("wrote past a __u64");
}

TEST_F(owned, set_features_mask)
{
	int bit;

	for (bit = 0; bit < 64; bit++) {
		int want = VHNET_FEATURES & BIT64(bit) ? 0 : EOPNOTSUPP;
		/* The packed layout alone lacks the VERSION_1 it needs. */
		int alone = bit == VIRTIO_F_RING_PACKED ? EINVAL : want;

		EXPECT_EQ(alone, set_u64(self->fd, VHOST_SET_FEATURES, BIT64(bit)))
			TH_LOG("feature bit %d alone", bit);
		EXPECT_EQ(want, set_u64(self->fd, VHOST_SET_FEATURES,
					VHNET_FEATURES | BIT64(bit)))
			TH_LOG("all features plus bit %d", bit);
	}
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_FEATURES, 0));
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_FEATURES, VHNET_FEATURES));
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_FEATURES,
			     BIT64(VIRTIO_F_VERSION_1) |
			     BIT64(VIRTIO_NET_F_MRG_RXBUF)));
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_FEATURES,
			     BIT64(VHOST_F_LOG_ALL)));
	EXPECT_EQ(EOPNOTSUPP, set_u64(self->fd, VHOST_SET_FEATURES, ~0ULL));
}

TEST_F(owned, backend_features)
{
	__u64 val = ~0ULL;
	int bit;

	ASSERT_EQ(0, get_u64(self->fd, VHOST_GET_BACKEND_FEATURES, &val));
	EXPECT_EQ(VHNET_BACKEND_FEATURES, val);
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_BACKEND_FEATURES, 0));
	for (bit = 0; bit < 64; bit++)
		EXPECT_EQ(VHNET_BACKEND_FEATURES & BIT64(bit) ? 0 : EOPNOTSUPP,
			  set_u64(self->fd, VHOST_SET_BACKEND_FEATURES, BIT64(bit)))
			TH_LOG("backend feature bit %d", bit);
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_BACKEND_FEATURES,
			     VHNET_BACKEND_FEATURES));
	EXPECT_EQ(EOPNOTSUPP, set_u64(self->fd, VHOST_SET_BACKEND_FEATURES, ~0ULL));
}

TEST_F(owned, get_vring_base_no_garbage)
{
	static const unsigned int value[NR_VQS] = { 1234, 0xffff };
	struct vhost_vring_state s;
	unsigned char buf[sizeof(s) + 16];
	unsigned int vq, i;

	for (vq = 0; vq < NR_VQS; vq++)
		ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BASE, vq, value[vq]));

	for (vq = 0; vq < NR_VQS; vq++) {
		memset(buf, 0xa5, sizeof(buf));
		s.index = vq;
		memcpy(buf, &s.index, sizeof(s.index));
		ASSERT_EQ(0, xioctl(self->fd, VHOST_GET_VRING_BASE, buf));
		memcpy(&s, buf, sizeof(s));
		EXPECT_EQ(vq, s.index);
		EXPECT_EQ(value[vq], s.num);
		for (i = sizeof(s); i < sizeof(buf); i++)
			EXPECT_EQ(0xa5, buf[i]) TH_LOG("byte %u clobbered", i);
	}
}

/*
 * Packed rings (VIRTIO_F_RING_PACKED) need VERSION_1; their base is QEMU's
 * encoding: next avail slot | wrap << 15, next used slot | wrap << 31.
 */
TEST_F(owned, packed_negotiation_and_base)
{
	__u64 packed = BIT64(VIRTIO_F_RING_PACKED) | BIT64(VIRTIO_F_VERSION_1);
	unsigned int base;

	EXPECT_EQ(EINVAL, set_u64(self->fd, VHOST_SET_FEATURES,
				  BIT64(VIRTIO_F_RING_PACKED)));
	ASSERT_EQ(0, set_u64(self->fd, VHOST_SET_FEATURES, packed));
	/* No size yet: no slot is in range. */
	EXPECT_EQ(EINVAL, vq_state(self->fd, VHOST_SET_VRING_BASE, 0, 0x80008000));
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, 0, 256));
	/* Slots 5 (wrap 1) and 250 (wrap 0) come back as they went in. */
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BASE, 0,
			      0x8005 | 250U << 16));
	ASSERT_EQ(0, vq_get_base(self->fd, 0, &base));
	EXPECT_EQ(0x8005U | 250U << 16, base);
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BASE, 0, 0x80ff80ffU));
	ASSERT_EQ(0, vq_get_base(self->fd, 0, &base));
	EXPECT_EQ(0x80ff80ffU, base);
	/* A slot at or past num, on either side. */
	EXPECT_EQ(EINVAL, vq_state(self->fd, VHOST_SET_VRING_BASE, 0, 0x8100));
	EXPECT_EQ(EINVAL, vq_state(self->fd, VHOST_SET_VRING_BASE, 0,
				   0x8000 | 256U << 16));
	ASSERT_EQ(0, vq_get_base(self->fd, 0, &base));
	EXPECT_EQ(0x80ff80ffU, base);
	/* Event areas are 4-byte aligned, the descriptors 16. */
	EXPECT_EQ(EINVAL, vq_addr(self->fd, 0, 0x10000, 0x20002, 0x30000, 0));
	EXPECT_EQ(EINVAL, vq_addr(self->fd, 0, 0x10008, 0x20000, 0x30000, 0));
	/* Back to split: the base is 16 bits again. */
	ASSERT_EQ(0, set_u64(self->fd, VHOST_SET_FEATURES, BIT64(VIRTIO_F_VERSION_1)));
	EXPECT_EQ(EINVAL, vq_state(self->fd, VHOST_SET_VRING_BASE, 0, 0x10000));
}

/* ---- ownership across processes and threads ---- */

TEST_F(owned, other_process_eperm)
{
	int *res, efd, status, op;
	unsigned int base;
	pid_t child;

	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BASE, VQ_RX, 77));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	res = mmap(NULL, NR_OPS * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		/* RESET_OWNER is last: if it wrongly worked, the rest is moot. */
		for (op = 0; op < NR_OPS; op++)
			res[op] = do_op(self->fd, op, self->guest,
					vq_ring(self->rings, VQ_RX), efd);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));

	for (op = 0; op < NR_OPS; op++)
		EXPECT_EQ(EPERM, res[op]) TH_LOG("%s from a forked child", op_name(op));

	/* The owner's device is untouched. */
	EXPECT_EQ(0, fg_worker_count(child, NULL));
	EXPECT_EQ(1, fg_worker_count(getpid(), NULL));
	ASSERT_EQ(0, vq_get_base(self->fd, VQ_RX, &base));
	EXPECT_EQ(77U, base);
	EXPECT_EQ(0, vq_setup(self->fd, VQ_RX, vq_ring(self->rings, VQ_RX),
			      TEST_QUEUE));
	munmap(res, NR_OPS * sizeof(*res));
	close(efd);
}

struct thread_args {
	int fd;
	char *ring;
	int err[5];
};

static void *owner_thread(void *arg)
{
	struct thread_args *t = arg;
	unsigned int num;
	__u64 val;

	t->err[0] = get_u64(t->fd, VHOST_GET_FEATURES, &val);
	t->err[1] = vq_setup(t->fd, VQ_TX, t->ring, TEST_QUEUE);
	t->err[2] = vq_state(t->fd, VHOST_SET_VRING_BASE, VQ_TX, 5);
	t->err[3] = vq_get_base(t->fd, VQ_TX, &num);
	t->err[4] = xioctl(t->fd, VHOST_SET_OWNER, NULL);
	return NULL;
}

TEST_F(owned, same_process_thread_is_owner)
{
	struct thread_args t = {
		.fd = self->fd,
		.ring = vq_ring(self->rings, VQ_TX),
	};
	unsigned int base;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, owner_thread, &t));
	ASSERT_EQ(0, pthread_join(th, NULL));
	EXPECT_EQ(0, t.err[0]);
	EXPECT_EQ(0, t.err[1]);
	EXPECT_EQ(0, t.err[2]);
	EXPECT_EQ(0, t.err[3]);
	EXPECT_EQ(EBUSY, t.err[4]);
	ASSERT_EQ(0, vq_get_base(self->fd, VQ_TX, &base));
	EXPECT_EQ(5U, base);
}

TEST_F(owned, reset_owner_then_other_process_owns)
{
	int c2p[2], p2c[2], *res, status;
	pid_t me = getpid(), child;
	char c = 0;

	res = mmap(NULL, 4 * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	ASSERT_EQ(0, pipe(c2p));
	ASSERT_EQ(0, pipe(p2c));

	ASSERT_EQ(0, xioctl(self->fd, VHOST_RESET_OWNER, NULL));
	EXPECT_EQ(0, fg_wait_workers(me, 0, WAIT_MS));
	/* Unowned again: RESET_OWNER is owner-only. */
	EXPECT_EQ(EPERM, xioctl(self->fd, VHOST_RESET_OWNER, NULL));

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		res[0] = xioctl(self->fd, VHOST_SET_OWNER, NULL);
		res[1] = vq_setup(self->fd, VQ_RX, vq_ring(self->rings, VQ_RX),
				  TEST_QUEUE);
		res[2] = vq_state(self->fd, VHOST_SET_VRING_BASE, VQ_RX, 9);
		if (write(c2p[1], &c, 1) != 1 || read(p2c[0], &c, 1) != 1)
			_exit(1);
		res[3] = xioctl(self->fd, VHOST_RESET_OWNER, NULL);
		_exit(0);
	}
	ASSERT_EQ(1, read(c2p[0], &c, 1));
	EXPECT_EQ(0, res[0]) TH_LOG("SET_OWNER from another process");
	EXPECT_EQ(0, res[1]);
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(1, fg_worker_count(child, NULL)) TH_LOG("no vhnet-%d", child);
	EXPECT_EQ(0, fg_worker_count(me, NULL));
	/* Now the parent is the outsider. */
	EXPECT_EQ(EPERM, xioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(EPERM, do_op(self->fd, OP_GET_FEATURES, NULL, NULL, -1));
	EXPECT_EQ(EPERM, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_TX, 1));
	EXPECT_EQ(EPERM, xioctl(self->fd, VHOST_RESET_OWNER, NULL));

	ASSERT_EQ(1, write(p2c[1], &c, 1));
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0, res[3]) TH_LOG("RESET_OWNER by the new owner");
	EXPECT_EQ(0, fg_wait_workers(child, 0, WAIT_MS));

	/* And back to the parent. */
	EXPECT_EQ(0, xioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(1, fg_worker_count(me, NULL));
	close(c2p[0]);
	close(c2p[1]);
	close(p2c[0]);
	close(p2c[1]);
	munmap(res, 4 * sizeof(*res));
}

/* ---- memory table ---- */

TEST_F(owned, mem_table_valid)
{
	struct vhost_memory_region r[3];

	EXPECT_EQ(0, mem_set(self->fd, NULL, 0));
	EXPECT_EQ(0, mem_set_one(self->fd, 0, GUEST_SIZE, (uintptr_t)self->guest));
	/* Any GPA, up to the last byte of the address space. */
	EXPECT_EQ(0, mem_set_one(self->fd, 0xfffffffffff00000ULL, 1 << 20,
				 (uintptr_t)self->guest));
	/* Adjacent regions in and out of order. */
	r[0] = region(0, 1 << 20, self->guest);
	r[1] = region(1 << 20, 1 << 20, self->guest + (1 << 20));
	r[2] = region(2 << 20, 2 << 20, self->guest + (2 << 20));
	EXPECT_EQ(0, mem_set(self->fd, r, 3));
	r[0] = region(2 << 20, 2 << 20, self->guest + (2 << 20));
	r[2] = region(0, 1 << 20, self->guest);
	EXPECT_EQ(0, mem_set(self->fd, r, 3));
	/* Two GPA ranges may alias the same user memory. */
	r[0] = region(0, 1 << 20, self->guest);
	r[1] = region(1ULL << 32, 1 << 20, self->guest);
	EXPECT_EQ(0, mem_set(self->fd, r, 2));
	EXPECT_EQ(0, mem_set(self->fd, NULL, 0));
}

TEST_F(owned, mem_table_max_regions)
{
	long max = mem_regions_param();
	struct vhost_memory huge = { .nregions = 0xffffffff };
	struct vhost_memory *m;

	ASSERT_LT(0, max) TH_LOG("cannot read max_mem_regions");
	TH_LOG("max_mem_regions = %ld", max);

	m = mem_table_split(self->guest, GUEST_SIZE, max + 1);
	ASSERT_NE(NULL, m);
	m->nregions = max;
	EXPECT_EQ(0, xioctl(self->fd, VHOST_SET_MEM_TABLE, m));
	m->nregions = max + 1;
	EXPECT_EQ(E2BIG, xioctl(self->fd, VHOST_SET_MEM_TABLE, m));
	m->nregions = 1;
	EXPECT_EQ(0, xioctl(self->fd, VHOST_SET_MEM_TABLE, m));
	free(m);
	/* nregions must be checked before it is used to copy anything. */
	EXPECT_EQ(E2BIG, xioctl(self->fd, VHOST_SET_MEM_TABLE, &huge));
}

TEST_F(owned, mem_table_zero_size_einval)
{
	struct vhost_memory_region r[2];

	EXPECT_EQ(EINVAL, mem_set_one(self->fd, 0, 0, (uintptr_t)self->guest));
	/* Nothing wraps here: only the size check itself can refuse it. */
	EXPECT_EQ(EINVAL, mem_set_one(self->fd, 0, 0, 0));
	r[0] = region(0, 1 << 20, self->guest);
	r[1] = region(1 << 20, 0, self->guest + (1 << 20));
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 2));
}

TEST_F(owned, mem_table_wrap_einval)
{
	__u64 g = (uintptr_t)self->guest;

	/* guest_phys_addr + memory_size past 2^64 */
	EXPECT_EQ(EINVAL, mem_set_one(self->fd, 0xfffffffffffff000ULL, 0x2000, g));
	EXPECT_EQ(EINVAL, mem_set_one(self->fd, ~0ULL, 2, g));
	/* userspace_addr + memory_size past 2^64 */
	EXPECT_EQ(EINVAL, mem_set_one(self->fd, 0, 0x2000, 0xfffffffffffff000ULL));
	EXPECT_EQ(EINVAL, mem_set_one(self->fd, 0, ~g + 0x2000, g));
}

TEST_F(owned, mem_table_not_user_efault)
{
	__u64 top = user_va_end();

	EXPECT_EQ(EFAULT, mem_set_one(self->fd, 0, 0x1000, KERNEL_ADDR));
	EXPECT_EQ(EFAULT, mem_set_one(self->fd, 0, 1ULL << 30, KERNEL_ADDR));
	/* Starts in user space, ends in the non-canonical/kernel range. */
	EXPECT_EQ(EFAULT, mem_set_one(self->fd, 0, 1 << 20, top - 0x10000));
	/* Same start, fits: only access_ok matters at this point. */
	EXPECT_EQ(0, mem_set_one(self->fd, 0, 0x8000, top - 0x10000));
}

TEST_F(owned, mem_table_overlap_einval)
{
	struct vhost_memory_region r[3];
	char *g = self->guest;

	/* partial overlap */
	r[0] = region(0, 0x10000, g);
	r[1] = region(0x8000, 0x10000, g + 0x10000);
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 2));
	/* partial overlap, given out of order */
	r[0] = region(0x10000, 0x10000, g);
	r[1] = region(0, 0x10001, g + 0x10000);
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 2));
	/* identical ranges */
	r[0] = region(0, 0x10000, g);
	r[1] = region(0, 0x10000, g + 0x10000);
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 2));
	/* one contains the other, in both orders */
	r[0] = region(0, 0x100000, g);
	r[1] = region(0x1000, 0x1000, g + 0x100000);
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 2));
	r[0] = r[1];
	r[1] = region(0, 0x100000, g);
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 2));
	/* overlap between the first and last of three, unsorted */
	r[0] = region(0x200000, 0x10000, g);
	r[1] = region(0, 0x10000, g + 0x10000);
	r[2] = region(0x1ff000, 0x2000, g + 0x20000);
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 3));
	/* overlap by a single byte at the end */
	r[0] = region(0, 0x10000, g);
	r[1] = region(0xffff, 0x10000, g + 0x10000);
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 2));
	/* ...while touching is fine */
	r[1] = region(0x10000, 0x10000, g + 0x10000);
	EXPECT_EQ(0, mem_set(self->fd, r, 2));
}

TEST_F(owned, mem_table_padding_einval)
{
	struct vhost_memory_region r[3];

	EXPECT_EQ(EINVAL, mem_set_pad(self->fd, NULL, 0, 1));
	r[0] = region(0, 0x10000, self->guest);
	EXPECT_EQ(EINVAL, mem_set_pad(self->fd, r, 1, 0x80000000));
	r[0].flags_padding = 1;
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 1));
	r[0].flags_padding = 1ULL << 63;
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 1));
	r[0].flags_padding = 0;
	r[1] = region(0x10000, 0x10000, self->guest + 0x10000);
	r[2] = region(0x20000, 0x10000, self->guest + 0x20000);
	r[2].flags_padding = 4;
	EXPECT_EQ(EINVAL, mem_set(self->fd, r, 3));
	r[2].flags_padding = 0;
	EXPECT_EQ(0, mem_set(self->fd, r, 3));
}

TEST_F(owned, mem_table_bad_pointer_efault)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct vhost_memory *m;
	char *p;

	/* Header at the end of a page; the region array runs off it. */
	p = map_area(2 * pg);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, mprotect(p + pg, pg, PROT_NONE));
	m = (struct vhost_memory *)(p + pg - sizeof(*m));
	m->nregions = 1;
	m->padding = 0;
	EXPECT_EQ(EFAULT, xioctl(self->fd, VHOST_SET_MEM_TABLE, m));
	/* Half a region readable. */
	m = (struct vhost_memory *)(p + pg - sizeof(*m) - sizeof(m->regions[0]) / 2);
	m->nregions = 1;
	m->padding = 0;
	EXPECT_EQ(EFAULT, xioctl(self->fd, VHOST_SET_MEM_TABLE, m));
	EXPECT_EQ(EFAULT, xioctl(self->fd, VHOST_SET_MEM_TABLE, NULL));
	munmap(p, 2 * pg);
}

TEST_F(owned, mem_table_rejected_then_valid)
{
	__u64 g = (uintptr_t)self->guest;
	struct vhost_memory_region r[2];
	struct vhost_memory *m;
	unsigned int i;

	ASSERT_EQ(0, mem_set_one(self->fd, 0, GUEST_SIZE, g));
	r[0] = region(0, 0x10000, self->guest);
	r[1] = region(0x8000, 0x10000, self->guest + 0x10000);
	for (i = 0; i < 6; i++) {
		int err;

		switch (i) {
		case 0:
			err = mem_set(self->fd, r, 2);
			break;
		case 1:
			err = mem_set_one(self->fd, 0, 0, g);
			break;
		case 2:
			err = mem_set_one(self->fd, 0, 0x1000, KERNEL_ADDR);
			break;
		case 3:
			err = mem_set_one(self->fd, ~0ULL, 2, g);
			break;
		case 4:
			err = mem_set_pad(self->fd, r, 1, 1);
			break;
		default:
			m = mem_table_split(self->guest, GUEST_SIZE,
					    mem_regions_param() + 1);
			ASSERT_NE(NULL, m);
			err = xioctl(self->fd, VHOST_SET_MEM_TABLE, m);
			free(m);
			break;
		}
		EXPECT_NE(0, err) TH_LOG("bad table %u accepted", i);
		EXPECT_EQ(0, mem_set_one(self->fd, 0, GUEST_SIZE, g))
			TH_LOG("valid table after bad table %u", i);
		EXPECT_EQ(0, mem_set_one(self->fd, 0x100000, 0x10000, g))
			TH_LOG("other valid table after bad table %u", i);
	}
	/* Data path still configurable on top of it. */
	EXPECT_EQ(0, vq_setup(self->fd, VQ_RX, vq_ring(self->rings, VQ_RX),
			      TEST_QUEUE));
}

/* ---- SET_VRING_NUM / SET_VRING_BASE / GET_VRING_BASE ---- */

static const unsigned int bad_index[] = { NR_VQS, NR_VQS + 1, 256, 0x80000000, ~0U };
#define NR_BAD_INDEX (ARRAY_SIZE(bad_index))

TEST_F(owned, vring_index_enobufs)
{
	struct vhost_vring_state s;
	unsigned int i;

	for (i = 0; i < NR_BAD_INDEX; i++) {
		unsigned int idx = bad_index[i];

		EXPECT_EQ(ENOBUFS, vq_state(self->fd, VHOST_SET_VRING_NUM, idx,
					    TEST_QUEUE)) TH_LOG("index %u", idx);
		EXPECT_EQ(ENOBUFS, vq_state(self->fd, VHOST_SET_VRING_BASE, idx, 0))
			TH_LOG("index %u", idx);
		s.index = idx;
		s.num = 0;
		EXPECT_EQ(ENOBUFS, xioctl(self->fd, VHOST_GET_VRING_BASE, &s))
			TH_LOG("index %u", idx);
		EXPECT_EQ(ENOBUFS, vq_set_addr(self->fd, idx,
					       vq_ring(self->rings, VQ_RX),
					       TEST_QUEUE)) TH_LOG("index %u", idx);
	}
}

TEST_F(owned, vring_num_values)
{
	static const unsigned int bad[] = {
		0, 3, 255, 257, 1000, 32767, 32769, 65536, 0x80000000, ~0U,
	};
	unsigned int vq, num, i;

	for (vq = 0; vq < NR_VQS; vq++) {
		for (num = 1; num <= MAX_QUEUE; num <<= 1)
			EXPECT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, vq, num))
				TH_LOG("vq %u num %u", vq, num);
		for (i = 0; i < ARRAY_SIZE(bad); i++)
			EXPECT_EQ(EINVAL, vq_state(self->fd, VHOST_SET_VRING_NUM,
						   vq, bad[i]))
				TH_LOG("vq %u num %u", vq, bad[i]);
	}
}

TEST_F(owned, vring_base_values)
{
	static const unsigned int good[] = { 0, 1, 1234, 0x7fff, 0x8000, 0xffff };
	static const unsigned int bad[] = { 0x10000, 0x12345, 0x80000000, ~0U };
	unsigned int vq, i, got;

	for (vq = 0; vq < NR_VQS; vq++) {
		for (i = 0; i < ARRAY_SIZE(good); i++) {
			ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BASE, vq,
					      good[i]));
			ASSERT_EQ(0, vq_get_base(self->fd, vq, &got));
			EXPECT_EQ(good[i], got) TH_LOG("vq %u", vq);
		}
	}

	/* Independent per vq. */
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BASE, VQ_RX, 1234));
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BASE, VQ_TX, 4321));
	ASSERT_EQ(0, vq_get_base(self->fd, VQ_RX, &got));
	EXPECT_EQ(1234U, got);
	ASSERT_EQ(0, vq_get_base(self->fd, VQ_TX, &got));
	EXPECT_EQ(4321U, got);

	/* Out of range values are rejected and change nothing. */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(EINVAL, vq_state(self->fd, VHOST_SET_VRING_BASE, VQ_TX,
					   bad[i])) TH_LOG("base 0x%x", bad[i]);
		ASSERT_EQ(0, vq_get_base(self->fd, VQ_TX, &got));
		EXPECT_EQ(4321U, got) TH_LOG("after base 0x%x", bad[i]);
	}
}

/* ---- SET/GET_VRING_BUSYLOOP_TIMEOUT ---- */

TEST_F(owned, vring_busyloop_values)
{
	static const unsigned int good[] = { 0, 1, 50, 1000, 999999, 1000000 };
	static const unsigned int bad[] = { 1000001, 0x80000000, ~0U };
	unsigned int vq, i, got;

	/* Off until set, per vq. */
	for (vq = 0; vq < NR_VQS; vq++) {
		ASSERT_EQ(0, vq_get(self->fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
				    vq, &got));
		EXPECT_EQ(0U, got) TH_LOG("vq %u", vq);
		for (i = 0; i < ARRAY_SIZE(good); i++) {
			ASSERT_EQ(0, vq_state(self->fd,
					      VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
					      vq, good[i]));
			ASSERT_EQ(0, vq_get(self->fd,
					    VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
					    vq, &got));
			EXPECT_EQ(good[i], got) TH_LOG("vq %u", vq);
		}
	}
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
			      VQ_RX, 20));
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
			      VQ_TX, 70));
	ASSERT_EQ(0, vq_get(self->fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
			    VQ_RX, &got));
	EXPECT_EQ(20U, got);
	/* Over a second is rejected and changes nothing. */
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(EINVAL, vq_state(self->fd,
					   VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
					   VQ_TX, bad[i])) TH_LOG("0x%x", bad[i]);
		ASSERT_EQ(0, vq_get(self->fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
				    VQ_TX, &got));
		EXPECT_EQ(70U, got) TH_LOG("after 0x%x", bad[i]);
	}
	EXPECT_EQ(ENOBUFS, vq_state(self->fd, VHOST_SET_VRING_BUSYLOOP_TIMEOUT,
				    2, 50));
	EXPECT_EQ(ENOBUFS, vq_get(self->fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
				  2, &got));
	EXPECT_EQ(EFAULT, xioctl(self->fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
				 NULL));
	/* RESET_OWNER turns it off again. */
	ASSERT_EQ(0, xioctl(self->fd, VHOST_RESET_OWNER, NULL));
	ASSERT_EQ(0, xioctl(self->fd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vq_get(self->fd, VHOST_GET_VRING_BUSYLOOP_TIMEOUT,
			    VQ_TX, &got));
	EXPECT_EQ(0U, got);
}

/* ---- SET_VRING_ADDR ---- */

TEST_F(owned, vring_addr_flags)
{
	struct ring_addrs r = ring_layout(vq_ring(self->rings, VQ_RX), TEST_QUEUE);
	unsigned int bit;

	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	for (bit = 0; bit < 32; bit++)
		EXPECT_EQ(bit == VHOST_VRING_F_LOG ? 0 : EOPNOTSUPP,
			  vq_addr(self->fd, VQ_RX, r.desc, r.avail, r.used,
				  1U << bit))
			TH_LOG("flag bit %u", bit);
	EXPECT_EQ(EOPNOTSUPP, vq_addr(self->fd, VQ_RX, r.desc, r.avail, r.used,
				      1U << VHOST_VRING_F_LOG | 2));
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, r.desc, r.avail, r.used, 0));
}

TEST_F(owned, vring_addr_alignment)
{
	struct ring_addrs r = ring_layout(vq_ring(self->rings, VQ_RX), TEST_QUEUE);
	unsigned int off;

	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	for (off = 1; off < 16; off++)
		EXPECT_EQ(EINVAL, vq_addr(self->fd, VQ_RX, r.desc + off, r.avail,
					  r.used, 0)) TH_LOG("desc + %u", off);
	EXPECT_EQ(EINVAL, vq_addr(self->fd, VQ_RX, r.desc, r.avail + 1, r.used, 0));
	for (off = 1; off < 4; off++)
		EXPECT_EQ(EINVAL, vq_addr(self->fd, VQ_RX, r.desc, r.avail,
					  r.used + off, 0)) TH_LOG("used + %u", off);

	/* The required alignment and no more. */
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, r.desc + 16, r.avail, r.used, 0));
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, r.desc, r.avail + 2, r.used, 0));
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, r.desc, r.avail, r.used + 4, 0));
}

TEST_F(owned, vring_addr_not_user_efault)
{
	struct ring_addrs r = ring_layout(vq_ring(self->rings, VQ_RX), TEST_QUEUE);
	const __u64 k = KERNEL_ADDR;

	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, k, r.avail, r.used, 0));
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, r.desc, k, r.used, 0));
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, r.desc, r.avail, k, 0));
	/* Aligned starts whose ring wraps past 2^64. */
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, 0xffffffffffffff00ULL,
				  r.avail, r.used, 0));
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, r.desc,
				  0xfffffffffffffffeULL, r.used, 0));
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, r.desc, r.avail,
				  0xfffffffffffffffcULL, 0));
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, r.desc, r.avail, r.used, 0));
}

/*
 * A ring starting just below the end of user space is fine for a small
 * num and must be refused once num makes it cross the end.
 */
TEST_F(owned, vring_addr_size_follows_num)
{
	struct ring_addrs big = ring_layout(vq_ring(self->rings, VQ_RX), MAX_QUEUE);
	struct ring_addrs small = ring_layout(vq_ring(self->rings, VQ_RX), TEST_QUEUE);
	__u64 top = user_va_end();
	__u64 hi64 = top - 0x10000, hi32 = top - 0x8000;
	void *hi;

	/* desc: 16 * 32768 = 512 KiB; avail: 64 KiB + 6; used: 256 KiB + 6 */
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, MAX_QUEUE));
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, hi64, big.avail, big.used, 0));
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, big.desc, hi32, big.used, 0));
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, big.desc, big.avail, hi64, 0));
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, big.desc, big.avail, big.used, 0));

	/* Positive control, with real memory there if we can get it. */
	hi = mmap((void *)(uintptr_t)hi64, 0xf000, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (hi == MAP_FAILED || hi != (void *)(uintptr_t)hi64) {
		TH_LOG("cannot map below the end of user space, no control");
		return;
	}
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, hi64, small.avail, small.used, 0));
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, small.desc, hi32, small.used, 0));
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, small.desc, small.avail, hi64, 0));
	munmap(hi, 0xf000);
}

TEST_F(owned, vring_addr_outside_mem_table)
{
	unsigned int vq;
	char name[IFNAMSIZ];
	int tap;

	tap = tap_create(name);
	ASSERT_LE(0, tap) TH_LOG("tap: %s", strerror(errno));
	/* No memory table at all. */
	for (vq = 0; vq < NR_VQS; vq++)
		EXPECT_EQ(0, vq_setup(self->fd, vq, vq_ring(self->rings, vq),
				      TEST_QUEUE));
	/* A table that does not cover the rings. */
	ASSERT_EQ(0, mem_set_one(self->fd, 0, GUEST_SIZE, (uintptr_t)self->guest));
	for (vq = 0; vq < NR_VQS; vq++) {
		EXPECT_EQ(0, vq_set_addr(self->fd, vq, vq_ring(self->rings, vq),
					 TEST_QUEUE));
		EXPECT_EQ(0, backend(self->fd, vq, tap));
	}
	close(tap);
}

/* ---- Dirty log: SET_LOG_BASE, SET_LOG_FD, VHOST_VRING_F_LOG ---- */

static int vq_addr_log(int fd, unsigned int idx, const struct ring_addrs *r,
		       unsigned int flags, __u64 log)
{
	struct vhost_vring_addr a = {
		.index = idx,
		.flags = flags,
		.desc_user_addr = r->desc,
		.avail_user_addr = r->avail,
		.used_user_addr = r->used,
		.log_guest_addr = log,
	};

	return xioctl(fd, VHOST_SET_VRING_ADDR, &a);
}

TEST_F(owned, log_base_values)
{
	/* A bit per 4 KiB page of the table: GUEST_SIZE from GPA 0. */
	__u64 need = GUEST_SIZE / 4096 / 8, top = user_va_end();
	struct vhost_memory_region far[2] = {
		region(0, GUEST_SIZE, self->guest),
		region(1ULL << 40, 4096, self->guest + GUEST_SIZE - 4096),
	};

	/* Without a table any user address will do; never a kernel one. */
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_LOG_BASE, (uintptr_t)self->rings));
	EXPECT_EQ(EFAULT, set_u64(self->fd, VHOST_SET_LOG_BASE, KERNEL_ADDR));
	EXPECT_EQ(EFAULT, set_u64(self->fd, VHOST_SET_LOG_BASE, ~0ULL));

	ASSERT_EQ(0, mem_set_one(self->fd, 0, GUEST_SIZE, (uintptr_t)self->guest));
	/* The bitmap (need bytes) must fit below the end of user space. */
	EXPECT_EQ(EFAULT, set_u64(self->fd, VHOST_SET_LOG_BASE, top - need / 2));
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_LOG_BASE, top - 0x10000));
	/* A table whose bitmap would not fit there (32 MiB) is refused... */
	EXPECT_EQ(EFAULT, mem_set(self->fd, far, 2));
	/* ...and the old one stays: the same bases are still judged by it. */
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_LOG_BASE, top - 0x10000));
	EXPECT_EQ(EFAULT, set_u64(self->fd, VHOST_SET_LOG_BASE, top - need / 2));
	/* With a base that can hold it, the table is taken. */
	EXPECT_EQ(0, set_u64(self->fd, VHOST_SET_LOG_BASE, (uintptr_t)self->rings));
	EXPECT_EQ(0, mem_set(self->fd, far, 2));
	EXPECT_EQ(EFAULT, set_u64(self->fd, VHOST_SET_LOG_BASE, top - 0x10000));
}

TEST_F(owned, log_fd_values)
{
	int efd = eventfd(0, EFD_CLOEXEC), file = regular_file(), bad = closed_fd();
	int unbind = VHOST_FILE_UNBIND, id;

	ASSERT_LE(0, efd);
	ASSERT_LE(0, file);
	EXPECT_EQ(0, xioctl(self->fd, VHOST_SET_LOG_FD, &unbind));
	EXPECT_EQ(EBADF, xioctl(self->fd, VHOST_SET_LOG_FD, &bad));
	EXPECT_EQ(EINVAL, xioctl(self->fd, VHOST_SET_LOG_FD, &file));
	EXPECT_EQ(0, xioctl(self->fd, VHOST_SET_LOG_FD, &efd));
	EXPECT_EQ(0, xioctl(self->fd, VHOST_SET_LOG_FD, &efd));
	/* The device holds the eventfd until RESET_OWNER. */
	id = eventfd_id(efd);
	ASSERT_LE(0, id);
	close(efd);
	EXPECT_FALSE(eventfd_id_free(id));
	EXPECT_EQ(0, xioctl(self->fd, VHOST_RESET_OWNER, NULL));
	EXPECT_TRUE(wait_eventfd_id_free(id));
	close(file);
}

TEST_F(owned, vring_addr_log_while_running)
{
	struct ring_addrs r = ring_layout(vq_ring(self->rings, VQ_RX), TEST_QUEUE);
	struct ring_addrs moved = r;
	const unsigned int log = 1U << VHOST_VRING_F_LOG;
	char name[IFNAMSIZ];
	int tap;

	tap = tap_create(name);
	ASSERT_LE(0, tap) TH_LOG("tap: %s", strerror(errno));
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	/* A used ring logged at an address that wraps. */
	EXPECT_EQ(EINVAL, vq_addr_log(self->fd, VQ_RX, &r, log, ~0ULL - 8));
	ASSERT_EQ(0, vq_addr_log(self->fd, VQ_RX, &r, log, 0x10000));
	ASSERT_EQ(0, mem_set_one(self->fd, 0, GUEST_SIZE, (uintptr_t)self->guest));
	ASSERT_EQ(0, backend(self->fd, VQ_RX, tap));

	/* Running: logging goes on and off, the ring stays where it is. */
	EXPECT_EQ(0, vq_addr_log(self->fd, VQ_RX, &r, 0, 0));
	EXPECT_EQ(0, vq_addr_log(self->fd, VQ_RX, &r, log, 0x20000));
	EXPECT_EQ(EINVAL, vq_addr_log(self->fd, VQ_RX, &r, log, ~0ULL - 8));
	moved.used += 4096;
	EXPECT_EQ(EBUSY, vq_addr_log(self->fd, VQ_RX, &moved, log, 0x20000));
	EXPECT_EQ(EBUSY, vq_addr_log(self->fd, VQ_RX, &moved, 0, 0));
	EXPECT_EQ(EOPNOTSUPP, vq_addr_log(self->fd, VQ_RX, &r, log | 2, 0));
	/* Detached: the ring may move again. */
	ASSERT_EQ(0, backend(self->fd, VQ_RX, -1));
	EXPECT_EQ(0, vq_addr_log(self->fd, VQ_RX, &moved, log, 0x20000));
	close(tap);
}

/* A rejected SET_VRING_ADDR must not leave a half-configured ring. */
TEST_F(owned, vring_addr_rejected_no_effect)
{
	struct ring_addrs r = ring_layout(vq_ring(self->rings, VQ_RX), TEST_QUEUE);
	char name[IFNAMSIZ];
	int tap;

	tap = tap_create(name);
	ASSERT_LE(0, tap) TH_LOG("tap: %s", strerror(errno));
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	EXPECT_EQ(EINVAL, vq_addr(self->fd, VQ_RX, r.desc + 8, r.avail, r.used, 0));
	EXPECT_EQ(EOPNOTSUPP, vq_addr(self->fd, VQ_RX, r.desc, r.avail, r.used, 2));
	EXPECT_EQ(EFAULT, vq_addr(self->fd, VQ_RX, r.desc, r.avail, KERNEL_ADDR, 0));
	EXPECT_EQ(EINVAL, backend(self->fd, VQ_RX, tap))
		TH_LOG("backend attached to a ring whose address was rejected");
	EXPECT_EQ(0, vq_addr(self->fd, VQ_RX, r.desc, r.avail, r.used, 0));
	EXPECT_EQ(0, backend(self->fd, VQ_RX, tap));
	close(tap);
}

/* ---- NET_SET_BACKEND ---- */

TEST_F(owned, backend_index_enobufs)
{
	char name[IFNAMSIZ];
	unsigned int i;
	int tap;

	tap = tap_create(name);
	ASSERT_LE(0, tap) TH_LOG("tap: %s", strerror(errno));
	for (i = 0; i < NR_BAD_INDEX; i++) {
		EXPECT_EQ(ENOBUFS, backend(self->fd, bad_index[i], tap))
			TH_LOG("index %u", bad_index[i]);
		EXPECT_EQ(ENOBUFS, backend(self->fd, bad_index[i], -1))
			TH_LOG("index %u, fd -1", bad_index[i]);
	}
	close(tap);
}

TEST_F(owned, backend_bad_fd)
{
	int udp, reg, efd, fd = self->fd;

	ASSERT_EQ(0, vq_setup(fd, VQ_RX, vq_ring(self->rings, VQ_RX), TEST_QUEUE));
	EXPECT_EQ(EBADF, backend(fd, VQ_RX, closed_fd()));
	EXPECT_EQ(EBADF, backend(fd, VQ_RX, INT_MAX));

	udp = udp_socket();
	reg = regular_file();
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, udp);
	ASSERT_LE(0, reg);
	ASSERT_LE(0, efd);
	EXPECT_EQ(ENOTSOCK, backend(fd, VQ_RX, udp)) TH_LOG("UDP socket");
	EXPECT_EQ(ENOTSOCK, backend(fd, VQ_RX, reg)) TH_LOG("regular file");
	EXPECT_EQ(ENOTSOCK, backend(fd, VQ_RX, efd)) TH_LOG("eventfd");
	/* Nothing got attached: the ring can still be changed. */
	EXPECT_EQ(0, vq_state(fd, VHOST_SET_VRING_BASE, VQ_RX, 0));
	close(udp);
	close(reg);
	close(efd);
}

TEST_F(owned, backend_tap)
{
	char name[IFNAMSIZ];
	unsigned int vq;
	int tap;

	tap = tap_create(name);
	ASSERT_LE(0, tap) TH_LOG("tap: %s", strerror(errno));
	for (vq = 0; vq < NR_VQS; vq++) {
		ASSERT_EQ(0, vq_setup(self->fd, vq, vq_ring(self->rings, vq),
				      TEST_QUEUE));
		/* Detaching when nothing is attached is fine. */
		EXPECT_EQ(0, backend(self->fd, vq, -1));
		EXPECT_EQ(0, backend(self->fd, vq, tap)) TH_LOG("vq %u", vq);
	}
	for (vq = 0; vq < NR_VQS; vq++) {
		EXPECT_EQ(0, backend(self->fd, vq, -1));
		EXPECT_EQ(0, backend(self->fd, vq, -1));
		EXPECT_EQ(0, backend(self->fd, vq, tap));
	}
	close(tap);
}

TEST_F(owned, backend_packet_socket)
{
	unsigned int vq;
	int sock;

	sock = packet_socket();
	ASSERT_LE(0, sock) TH_LOG("AF_PACKET: %s", strerror(errno));
	for (vq = 0; vq < NR_VQS; vq++) {
		ASSERT_EQ(0, vq_setup(self->fd, vq, vq_ring(self->rings, vq),
				      TEST_QUEUE));
		EXPECT_EQ(0, backend(self->fd, vq, sock)) TH_LOG("vq %u", vq);
	}
	EXPECT_EQ(EBUSY, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_TX, TEST_QUEUE));
	for (vq = 0; vq < NR_VQS; vq++)
		EXPECT_EQ(0, backend(self->fd, vq, -1));
	close(sock);
}

TEST_F(owned, backend_requires_configured_ring)
{
	struct ring_addrs r = ring_layout(vq_ring(self->rings, VQ_RX), TEST_QUEUE);
	char name[IFNAMSIZ];
	int tap, sock;

	tap = tap_create(name);
	ASSERT_LE(0, tap) TH_LOG("tap: %s", strerror(errno));
	sock = packet_socket();
	ASSERT_LE(0, sock);

	/* Nothing configured. */
	EXPECT_EQ(EINVAL, backend(self->fd, VQ_RX, tap));
	EXPECT_EQ(EINVAL, backend(self->fd, VQ_TX, sock));
	/* num only */
	ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	EXPECT_EQ(EINVAL, backend(self->fd, VQ_RX, tap));
	/* num and address */
	ASSERT_EQ(0, vq_addr(self->fd, VQ_RX, r.desc, r.avail, r.used, 0));
	EXPECT_EQ(0, backend(self->fd, VQ_RX, tap));
	/* Configuring RX did not configure TX. */
	EXPECT_EQ(EINVAL, backend(self->fd, VQ_TX, tap));
	EXPECT_EQ(EINVAL, backend(self->fd, VQ_TX, sock));
	close(tap);
	close(sock);
}

TEST_F(owned, backend_attached_busy)
{
	struct ring_addrs r = ring_layout(vq_ring(self->rings, VQ_RX), TEST_QUEUE);
	char name[IFNAMSIZ];
	unsigned int got;
	int tap, fd = self->fd;

	tap = tap_create(name);
	ASSERT_LE(0, tap) TH_LOG("tap: %s", strerror(errno));
	ASSERT_EQ(0, vq_setup(fd, VQ_RX, vq_ring(self->rings, VQ_RX), TEST_QUEUE));
	ASSERT_EQ(0, vq_setup(fd, VQ_TX, vq_ring(self->rings, VQ_TX), TEST_QUEUE));
	ASSERT_EQ(0, vq_state(fd, VHOST_SET_VRING_BASE, VQ_RX, 0));
	ASSERT_EQ(0, backend(fd, VQ_RX, tap));

	EXPECT_EQ(EBUSY, vq_state(fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	EXPECT_EQ(EBUSY, vq_state(fd, VHOST_SET_VRING_NUM, VQ_RX, 64));
	EXPECT_EQ(EBUSY, vq_state(fd, VHOST_SET_VRING_BASE, VQ_RX, 42));
	EXPECT_EQ(EBUSY, vq_addr(fd, VQ_RX, r.desc, r.avail, r.used + 4096, 0));
	/* The same addresses: only the logging may change (dirty log). */
	EXPECT_EQ(0, vq_addr(fd, VQ_RX, r.desc, r.avail, r.used, 0));

	/* The other vq is not affected. */
	EXPECT_EQ(0, vq_state(fd, VHOST_SET_VRING_NUM, VQ_TX, TEST_QUEUE));
	EXPECT_EQ(0, vq_state(fd, VHOST_SET_VRING_BASE, VQ_TX, 3));
	EXPECT_EQ(0, vq_set_addr(fd, VQ_TX, vq_ring(self->rings, VQ_TX), TEST_QUEUE));

	/* Detached: allowed again, and the refused base was not applied. */
	ASSERT_EQ(0, backend(fd, VQ_RX, -1));
	ASSERT_EQ(0, vq_get_base(fd, VQ_RX, &got));
	EXPECT_EQ(0U, got);
	EXPECT_EQ(0, vq_state(fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	EXPECT_EQ(0, vq_state(fd, VHOST_SET_VRING_BASE, VQ_RX, 42));
	EXPECT_EQ(0, vq_addr(fd, VQ_RX, r.desc, r.avail, r.used, 0));
	ASSERT_EQ(0, vq_get_base(fd, VQ_RX, &got));
	EXPECT_EQ(42U, got);
	close(tap);
}

/* Attach a fresh tap to both vqs and close our fd: the module holds it. */
static int attach_orphan_tap(struct __test_metadata *_metadata, int fd,
			     char *rings, char name[IFNAMSIZ])
{
	unsigned int vq;
	int tap;

	tap = tap_create(name);
	if (tap < 0)
		return -1;
	for (vq = 0; vq < NR_VQS; vq++) {
		EXPECT_EQ(0, vq_setup(fd, vq, vq_ring(rings, vq), TEST_QUEUE));
		EXPECT_EQ(0, backend(fd, vq, tap));
	}
	close(tap);
	return 0;
}

TEST_F(owned, backend_reference_close)
{
	char name[IFNAMSIZ];
	unsigned int got;

	ASSERT_EQ(0, attach_orphan_tap(_metadata, self->fd, self->rings, name));
	fg_sleep_ms(50);
	ASSERT_TRUE(netdev_exists(name))
		TH_LOG("%s vanished: no reference held by vhnet", name);

	/* Still attached and the device still works. */
	EXPECT_EQ(EBUSY, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));
	EXPECT_EQ(0, vq_get_base(self->fd, VQ_RX, &got));
	EXPECT_EQ(0, backend(self->fd, VQ_TX, -1));
	fg_sleep_ms(50);
	EXPECT_TRUE(netdev_exists(name)) TH_LOG("RX still holds %s", name);

	close(self->fd);
	self->fd = -1;
	EXPECT_TRUE(fg_wait_netdev_gone(name, WAIT_MS))
		TH_LOG("%s still exists after closing the device", name);
}

TEST_F(owned, backend_released_on_detach)
{
	char name[IFNAMSIZ];
	unsigned int vq;

	ASSERT_EQ(0, attach_orphan_tap(_metadata, self->fd, self->rings, name));
	for (vq = 0; vq < NR_VQS; vq++)
		EXPECT_EQ(0, backend(self->fd, vq, -1));
	EXPECT_TRUE(fg_wait_netdev_gone(name, WAIT_MS))
		TH_LOG("%s still exists after detaching it", name);
}

TEST_F(owned, reset_owner_releases_everything)
{
	unsigned int vq, got, dflt[NR_VQS];
	int efd[NR_VQS * 3], tap, fd2;
	unsigned int i;
	struct vhost_memory *mem;
	char name[IFNAMSIZ];

	/* Defaults of a fresh device, for comparison. */
	fd2 = vh_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, xioctl(fd2, VHOST_SET_OWNER, NULL));
	for (vq = 0; vq < NR_VQS; vq++)
		ASSERT_EQ(0, vq_get_base(fd2, vq, &dflt[vq]));
	close(fd2);

	mem = mem_table_split(self->guest, GUEST_SIZE, 4);
	ASSERT_NE(NULL, mem);
	for (i = 0; i < NR_VQS * 3; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_LE(0, efd[i]);
	}
	tap = tap_create(name);
	ASSERT_LE(0, tap) TH_LOG("tap: %s", strerror(errno));

	full_setup(_metadata, self->fd, mem, self->rings, efd, tap);
	/* Non-default bases, to see them reset. */
	for (vq = 0; vq < NR_VQS; vq++) {
		ASSERT_EQ(0, backend(self->fd, vq, -1));
		ASSERT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BASE, vq, 1234));
		ASSERT_EQ(0, backend(self->fd, vq, tap));
	}

	ASSERT_EQ(0, xioctl(self->fd, VHOST_RESET_OWNER, NULL));
	EXPECT_EQ(0, fg_wait_workers(getpid(), 0, WAIT_MS));
	/* Unowned now. */
	EXPECT_EQ(EPERM, vq_state(self->fd, VHOST_SET_VRING_NUM, VQ_RX, TEST_QUEUE));

	ASSERT_EQ(0, xioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(1, fg_worker_count(getpid(), NULL));
	for (vq = 0; vq < NR_VQS; vq++) {
		ASSERT_EQ(0, vq_get_base(self->fd, vq, &got));
		EXPECT_EQ(dflt[vq], got) TH_LOG("vq %u base not reset", vq);
		/* num/addr forgotten, so no backend can be attached... */
		EXPECT_EQ(EINVAL, backend(self->fd, vq, tap))
			TH_LOG("vq %u ring config survived RESET_OWNER", vq);
		/* ...and nothing is attached any more. */
		EXPECT_EQ(0, vq_state(self->fd, VHOST_SET_VRING_BASE, vq, 7))
			TH_LOG("vq %u still busy", vq);
	}

	/* Reusable from scratch. */
	full_setup(_metadata, self->fd, mem, self->rings, efd, tap);

	close(tap);
	for (i = 0; i < NR_VQS * 3; i++)
		close(efd[i]);
	free(mem);
}

TEST_F(owned, reset_owner_releases_backend)
{
	char name[IFNAMSIZ];

	ASSERT_EQ(0, attach_orphan_tap(_metadata, self->fd, self->rings, name));
	ASSERT_EQ(0, xioctl(self->fd, VHOST_RESET_OWNER, NULL));
	EXPECT_TRUE(fg_wait_netdev_gone(name, WAIT_MS))
		TH_LOG("%s still exists after RESET_OWNER", name);
	/* Device still open and reusable. */
	ASSERT_EQ(0, xioctl(self->fd, VHOST_SET_OWNER, NULL));
	EXPECT_EQ(0, vq_setup(self->fd, VQ_RX, vq_ring(self->rings, VQ_RX),
			      TEST_QUEUE));
}

/* ---------------------------------------------------------------------- */
/* SET_VRING_KICK / CALL / ERR                                              */
/* ---------------------------------------------------------------------- */

FIXTURE(vring_file) {
	int fd;
	char *guest;
	char *rings;
};

FIXTURE_VARIANT(vring_file) {
	unsigned long req;
};

FIXTURE_VARIANT_ADD(vring_file, kick) {
	.req = VHOST_SET_VRING_KICK,
};

FIXTURE_VARIANT_ADD(vring_file, call) {
	.req = VHOST_SET_VRING_CALL,
};

FIXTURE_VARIANT_ADD(vring_file, err) {
	.req = VHOST_SET_VRING_ERR,
};

FIXTURE_SETUP(vring_file)
{
	dev_setup(_metadata, &self->fd, &self->guest, &self->rings, true);
}

FIXTURE_TEARDOWN(vring_file)
{
	dev_teardown(self->fd, self->guest, self->rings);
}

TEST_F(vring_file, bad_index_enobufs)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	unsigned int i;

	ASSERT_LE(0, efd);
	for (i = 0; i < NR_BAD_INDEX; i++) {
		EXPECT_EQ(ENOBUFS, vq_file(self->fd, variant->req, bad_index[i], efd))
			TH_LOG("index %u", bad_index[i]);
		EXPECT_EQ(ENOBUFS, vq_file(self->fd, variant->req, bad_index[i], -1))
			TH_LOG("index %u, fd -1", bad_index[i]);
	}
	close(efd);
}

TEST_F(vring_file, clear_when_unset)
{
	unsigned int vq;

	for (vq = 0; vq < NR_VQS; vq++) {
		EXPECT_EQ(0, vq_file(self->fd, variant->req, vq, -1));
		EXPECT_EQ(0, vq_file(self->fd, variant->req, vq, -1));
	}
}

TEST_F(vring_file, bad_fd_ebadf)
{
	EXPECT_EQ(EBADF, vq_file(self->fd, variant->req, VQ_RX, closed_fd()));
	EXPECT_EQ(EBADF, vq_file(self->fd, variant->req, VQ_TX, closed_fd()));
	EXPECT_EQ(EBADF, vq_file(self->fd, variant->req, VQ_RX, INT_MAX));
}

TEST_F(vring_file, not_eventfd_einval)
{
	int pfd[2], reg, mfd, udp;

	ASSERT_EQ(0, pipe2(pfd, O_CLOEXEC));
	reg = regular_file();
	ASSERT_LE(0, reg);
	mfd = memfd_create("vhnet-test", MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	udp = udp_socket();
	ASSERT_LE(0, udp);

	EXPECT_EQ(EINVAL, vq_file(self->fd, variant->req, VQ_RX, pfd[0]))
		TH_LOG("pipe read end");
	EXPECT_EQ(EINVAL, vq_file(self->fd, variant->req, VQ_RX, pfd[1]))
		TH_LOG("pipe write end");
	EXPECT_EQ(EINVAL, vq_file(self->fd, variant->req, VQ_TX, reg))
		TH_LOG("regular file");
	EXPECT_EQ(EINVAL, vq_file(self->fd, variant->req, VQ_TX, mfd))
		TH_LOG("memfd");
	EXPECT_EQ(EINVAL, vq_file(self->fd, variant->req, VQ_RX, udp))
		TH_LOG("socket");
	EXPECT_EQ(EINVAL, vq_file(self->fd, variant->req, VQ_RX, self->fd))
		TH_LOG("the vhnet fd itself");
	close(pfd[0]);
	close(pfd[1]);
	close(reg);
	close(mfd);
	close(udp);
}

TEST_F(vring_file, eventfd_set_replace_clear)
{
	int e1 = eventfd(0, EFD_CLOEXEC), e2 = eventfd(0, EFD_CLOEXEC);
	unsigned int vq;

	ASSERT_LE(0, e1);
	ASSERT_LE(0, e2);
	for (vq = 0; vq < NR_VQS; vq++) {
		EXPECT_EQ(0, vq_file(self->fd, variant->req, vq, e1));
		EXPECT_EQ(0, vq_file(self->fd, variant->req, vq, e2));
		EXPECT_EQ(0, vq_file(self->fd, variant->req, vq, e2));
		EXPECT_EQ(0, vq_file(self->fd, variant->req, vq, -1));
		EXPECT_EQ(0, vq_file(self->fd, variant->req, vq, e1));
	}
	/* Our copies can go; the device keeps its own references. */
	close(e1);
	close(e2);
	for (vq = 0; vq < NR_VQS; vq++)
		EXPECT_EQ(0, vq_file(self->fd, variant->req, vq, -1));
}

/* The device holds the eventfd while it is set and lets go when replaced. */
TEST_F(vring_file, eventfd_reference_replace_clear)
{
	int e1, e2, id1, id2;

	e1 = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, e1);
	id1 = eventfd_id(e1);
	if (id1 < 0)
		SKIP(return, "no eventfd-id in fdinfo");
	ASSERT_EQ(0, vq_file(self->fd, variant->req, VQ_RX, e1));
	close(e1);
	EXPECT_FALSE(eventfd_id_free(id1)) TH_LOG("eventfd set but not held");

	e2 = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, e2);
	id2 = eventfd_id(e2);
	ASSERT_EQ(0, vq_file(self->fd, variant->req, VQ_RX, e2));
	EXPECT_TRUE(wait_eventfd_id_free(id1)) TH_LOG("replaced eventfd leaked");
	close(e2);
	EXPECT_FALSE(eventfd_id_free(id2)) TH_LOG("eventfd set but not held");
	ASSERT_EQ(0, vq_file(self->fd, variant->req, VQ_RX, -1));
	EXPECT_TRUE(wait_eventfd_id_free(id2)) TH_LOG("cleared eventfd leaked");
}

TEST_F(vring_file, eventfd_released_by_reset_owner_and_close)
{
	unsigned int vq;
	int e, id;

	e = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, e);
	id = eventfd_id(e);
	if (id < 0)
		SKIP(return, "no eventfd-id in fdinfo");
	for (vq = 0; vq < NR_VQS; vq++)
		ASSERT_EQ(0, vq_file(self->fd, variant->req, vq, e));
	close(e);
	ASSERT_EQ(0, xioctl(self->fd, VHOST_RESET_OWNER, NULL));
	EXPECT_TRUE(wait_eventfd_id_free(id)) TH_LOG("leaked by RESET_OWNER");

	ASSERT_EQ(0, xioctl(self->fd, VHOST_SET_OWNER, NULL));
	e = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, e);
	id = eventfd_id(e);
	for (vq = 0; vq < NR_VQS; vq++)
		ASSERT_EQ(0, vq_file(self->fd, variant->req, vq, e));
	close(e);
	close(self->fd);
	self->fd = -1;
	EXPECT_TRUE(wait_eventfd_id_free(id)) TH_LOG("leaked by close");
}

/* ---------------------------------------------------------------------- */
/* macvtap backend                                                          */
/* ---------------------------------------------------------------------- */

struct macvtap_link {
	char lower[IFNAMSIZ];	/* dummy */
	char upper[IFNAMSIZ];	/* macvtap on top of it */
	char node[64];		/* /dev/tapN */
	bool made_node;
	int tapfd;
};

static void macvtap_del(struct macvtap_link *self)
{
	if (self->tapfd >= 0)
		close(self->tapfd);
	self->tapfd = -1;
	if (self->made_node)
		unlink(self->node);
	self->made_node = false;
	sh("ip link del %s >/dev/null 2>&1", self->upper);
	sh("ip link del %s >/dev/null 2>&1", self->lower);
}

/* Create dummy + macvtap; returns 0 or a description of what failed. */
static const char *macvtap_add(struct macvtap_link *self)
{
	char path[128], dev[32];
	unsigned int maj, min;
	long ifindex;

	if (sh("ip link add %s type dummy", self->lower) ||
	    sh("ip link set %s up", self->lower))
		return "dummy link";
	if (sh("ip link add link %s name %s type macvtap mode bridge",
	       self->lower, self->upper) ||
	    sh("ip link set %s up", self->upper))
		return "macvtap link";
	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", self->upper);
	ifindex = read_long(path);
	if (ifindex <= 0)
		return "macvtap ifindex";
	snprintf(self->node, sizeof(self->node), "/dev/tap%ld", ifindex);
	if (!wait_path(self->node, true)) {
		/* No devtmpfs node: make one from sysfs. */
		snprintf(path, sizeof(path), "/sys/class/net/%s/macvtap/tap%ld/dev",
			 self->upper, ifindex);
		if (read_text(path, dev, sizeof(dev)) <= 0 ||
		    sscanf(dev, "%u:%u", &maj, &min) != 2 ||
		    mknod(self->node, S_IFCHR | 0600, makedev(maj, min)))
			return "macvtap device node";
		self->made_node = true;
	}
	self->tapfd = open(self->node, O_RDWR | O_CLOEXEC);
	return self->tapfd < 0 ? "open macvtap node" : NULL;
}

FIXTURE(macvtap) {
	int fd;
	char *guest;
	char *rings;
	struct macvtap_link mvt;
};

FIXTURE_SETUP(macvtap)
{
	struct macvtap_link *mvt = &self->mvt;
	const char *failed;

	mvt->tapfd = -1;
	mvt->made_node = false;
	snprintf(mvt->lower, sizeof(mvt->lower), "vhd%d", getpid());
	snprintf(mvt->upper, sizeof(mvt->upper), "vhm%d", getpid());
	dev_setup(_metadata, &self->fd, &self->guest, &self->rings, true);
	failed = macvtap_add(mvt);
	if (failed)
		macvtap_del(mvt);
	ASSERT_EQ(NULL, failed) TH_LOG("setting up macvtap: %s", failed ? failed : "");
}

FIXTURE_TEARDOWN(macvtap)
{
	macvtap_del(&self->mvt);
	dev_teardown(self->fd, self->guest, self->rings);
}

/*
 * EXPECT only: a failed ASSERT in a TEST_F skips the teardown (the harness'
 * "child" is clobbered by longjmp at -O2), which would leak the links.
 */
TEST_F_TIMEOUT(macvtap, attach_detach, 120)
{
	unsigned int vq;

	for (vq = 0; vq < NR_VQS; vq++) {
		EXPECT_EQ(EINVAL, backend(self->fd, vq, self->mvt.tapfd));
		EXPECT_EQ(0, vq_setup(self->fd, vq, vq_ring(self->rings, vq),
				      TEST_QUEUE));
		EXPECT_EQ(0, backend(self->fd, vq, self->mvt.tapfd)) TH_LOG("vq %u", vq);
	}
	EXPECT_EQ(EBUSY, vq_state(self->fd, VHOST_SET_VRING_BASE, VQ_TX, 1));
	for (vq = 0; vq < NR_VQS; vq++) {
		EXPECT_EQ(0, backend(self->fd, vq, -1));
		EXPECT_EQ(0, backend(self->fd, vq, self->mvt.tapfd));
	}
}

/* ---------------------------------------------------------------------- */
/* A rejected memory table leaves the previous one in use                  */
/* ---------------------------------------------------------------------- */

/*
 * The table cannot be read back, but the data path uses it: run traffic
 * through a fake guest, send tables that are wrong in one respect each and
 * would, if installed, point the guest's GPAs at other memory, then check
 * that traffic still flows.  The control at the end installs such a table
 * for real and expects traffic to break, proving the check can fail.
 */
FIXTURE(datapath) {
	struct fg_rig rig;
	char *scratch;
	size_t scratch_len;
};

FIXTURE_SETUP(datapath)
{
	struct fg_rig_cfg c;

	memset(&c, 0, sizeof(c));
	c.guest.dev_path = vh_path();
	c.guest.features = FG_FEATURES_DEFAULT;
	c.guest.ring_num = TEST_QUEUE;
	c.guest.nregions = 2;
	c.guest.max_frame = FG_FRAME_MAX;
	c.guest.seed = getpid();
	c.backend = FG_BK_TAP;
	c.id = (getpid() % 100000) * 10 + 7;
	self->scratch = NULL;
	self->scratch_len = 0;
	ASSERT_EQ(0, fg_rig_up(&self->rig, &c)) TH_LOG("%s", self->rig.err);
}

FIXTURE_TEARDOWN(datapath)
{
	fg_rig_down(&self->rig);
	if (self->scratch)
		munmap(self->scratch, self->scratch_len);
}

static int run_traffic(struct fg_rig *rig, unsigned long frames,
		       int timeout_ms, struct fg_traffic_result *res)
{
	struct fg_traffic_cfg t;

	fg_traffic_defaults(&t);
	t.tx_frames = frames;
	t.rx_frames = frames;
	t.timeout_ms = timeout_ms;
	return fg_rig_run(rig, &t, res);
}

TEST_F_TIMEOUT(datapath, rejected_mem_table_keeps_previous, 300)
{
	struct fg_guest *g = &self->rig.g[0];
	struct fg_traffic_result res;
	struct vhost_memory *bad;
	unsigned int i, last, defect;
	size_t off = 0;
	int fd = g->dev.fd;

	ASSERT_LE(2, g->mem.nregions);
	memset(&res, 0, sizeof(res));
	ASSERT_EQ(0, run_traffic(&self->rig, 200, 20000, &res)) TH_LOG("%s", res.err);

	/* Same GPAs, backed by zeroed scratch memory instead. */
	for (i = 0; i < g->mem.nregions; i++)
		self->scratch_len += g->mem.region[i].size;
	self->scratch = map_area(self->scratch_len);
	ASSERT_NE(NULL, self->scratch);
	bad = fg_mem_table(&g->mem);
	ASSERT_NE(NULL, bad);
	for (i = 0; i < bad->nregions; i++) {
		bad->regions[i].userspace_addr = (uintptr_t)self->scratch + off;
		off += bad->regions[i].memory_size;
	}
	last = bad->nregions - 1;

	for (defect = 0; defect < 7; defect++) {
		struct vhost_memory_region keep = bad->regions[last];
		__u32 n = bad->nregions;
		int err;

		switch (defect) {
		case 0:
			bad->padding = 1;
			break;
		case 1:
			bad->regions[last].flags_padding = 1;
			break;
		case 2:
			bad->regions[last].memory_size = 0;
			break;
		case 3:
			bad->regions[last] = bad->regions[0];
			break;
		case 4:
			bad->regions[last].userspace_addr = KERNEL_ADDR;
			break;
		case 5:
			bad->regions[last].guest_phys_addr = ~0ULL - 0xfff;
			break;
		default:
			bad->nregions = mem_regions_param() + 1;
			break;
		}
		err = xioctl(fd, VHOST_SET_MEM_TABLE, bad);
		bad->padding = 0;
		bad->nregions = n;
		bad->regions[last] = keep;
		EXPECT_NE(0, err) TH_LOG("bad table %u accepted", defect);
		EXPECT_EQ(0, run_traffic(&self->rig, 100, 20000, &res))
			TH_LOG("after bad table %u: %s", defect, res.err);
	}

	/* Control: installed for real, the redirect must break traffic. */
	ASSERT_EQ(0, xioctl(fd, VHOST_SET_MEM_TABLE, bad));
	EXPECT_NE(0, run_traffic(&self->rig, 100, 2000, &res))
		TH_LOG("control: traffic unaffected by the table, test is blind");
	free(bad);
}

/* ---------------------------------------------------------------------- */
/* Open/close cycles, leak check, unload/reload.  Keep this fixture LAST:  */
/* it unloads the module.                                                   */
/* ---------------------------------------------------------------------- */

#define LEAK_WARMUP	50
#define LEAK_CYCLES	1000
/*
 * Allowed Slab growth over LEAK_CYCLES.  Noise after a warm-up and
 * drop_caches is well below this; leaking even ~1 KiB per cycle is not
 * (a cycle's memory table alone has 64 regions, > 2 KiB).
 */
#define LEAK_SLACK_KB	1024L

FIXTURE(lifecycle) {
	char *guest;
	char *rings;
	int tapfd;
	char tap[IFNAMSIZ];
	struct vhost_memory *mem;
};

FIXTURE_SETUP(lifecycle)
{
	long n = mem_regions_param();

	self->tapfd = -1;
	self->mem = NULL;
	self->guest = map_area(GUEST_SIZE);
	ASSERT_NE(NULL, self->guest);
	self->rings = map_area(NR_VQS * RING_AREA);
	ASSERT_NE(NULL, self->rings);
	self->tapfd = tap_create(self->tap);
	ASSERT_LE(0, self->tapfd) TH_LOG("tap: %s", strerror(errno));
	ASSERT_LT(0, n);
	self->mem = mem_table_split(self->guest, GUEST_SIZE, n);
	ASSERT_NE(NULL, self->mem);
}

FIXTURE_TEARDOWN(lifecycle)
{
	if (self->tapfd >= 0)
		close(self->tapfd);
	free(self->mem);
	munmap(self->guest, GUEST_SIZE);
	munmap(self->rings, NR_VQS * RING_AREA);
}

static void one_cycle(struct __test_metadata *_metadata,
		      const struct vhost_memory *mem, char *rings, int tapfd)
{
	int efd[NR_VQS * 3], fd;
	unsigned int i;

	fd = vh_open();
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", vh_path(), strerror(errno));
	for (i = 0; i < NR_VQS * 3; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_LE(0, efd[i]);
	}
	ASSERT_EQ(0, xioctl(fd, VHOST_SET_OWNER, NULL));
	full_setup(_metadata, fd, mem, rings, efd, tapfd);
	for (i = 0; i < NR_VQS * 3; i++)
		close(efd[i]);
	close(fd);
}

static long meminfo_kb(const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long val = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			val = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

/* Let RCU-deferred frees finish, drop caches, read Slab (lowest of 3). */
static long settled_slab_kb(void)
{
	long v, best = LONG_MAX;
	int i;

	fg_sleep_ms(1000);
	sync();
	if (write_text("/proc/sys/vm/drop_caches", "3\n"))
		return -1;
	fg_sleep_ms(200);
	for (i = 0; i < 3; i++) {
		v = meminfo_kb("Slab");
		if (v >= 0 && v < best)
			best = v;
		fg_sleep_ms(100);
	}
	return best == LONG_MAX ? -1 : best;
}

static int unload_vhnet(void)
{
	int waited;

	/* Allow a moment for deferred releases; a leaked ref never goes. */
	for (waited = 0; ; waited += 50) {
		if (!syscall(SYS_delete_module, "vhnet", O_NONBLOCK))
			return 0;
		if ((errno != EAGAIN && errno != EWOULDBLOCK && errno != EBUSY) ||
		    waited >= WAIT_MS)
			return errno;
		fg_sleep_ms(50);
	}
}

TEST_F_TIMEOUT(lifecycle, cycles_no_leak_then_unload, 600)
{
	long before, after, vm_before, vm_after, regions;
	const char *ko = getenv("VHNET_KO");
	pid_t me = getpid();
	int i, kofd, err, ins, fd;
	__u64 features = 0;

	for (i = 0; i < LEAK_WARMUP; i++)
		one_cycle(_metadata, self->mem, self->rings, self->tapfd);
	ASSERT_EQ(0, fg_wait_workers(me, 0, WAIT_MS));
	before = settled_slab_kb();
	vm_before = meminfo_kb("VmallocUsed");
	ASSERT_LT(0, before) TH_LOG("cannot read Slab / drop caches");

	for (i = 0; i < LEAK_CYCLES; i++)
		one_cycle(_metadata, self->mem, self->rings, self->tapfd);
	EXPECT_EQ(0, fg_wait_workers(me, 0, WAIT_MS)) TH_LOG("workers left behind");

	after = settled_slab_kb();
	vm_after = meminfo_kb("VmallocUsed");
	ASSERT_LT(0, after);
	ksft_print_msg("Slab before %ld kB, after %ld kB (%+ld kB over %d cycles, limit +%ld kB)\n",
		       before, after, after - before, LEAK_CYCLES, LEAK_SLACK_KB);
	ksft_print_msg("VmallocUsed before %ld kB, after %ld kB (%+ld kB, informational)\n",
		       vm_before, vm_after, vm_after - vm_before);
	EXPECT_LE(after - before, LEAK_SLACK_KB);

	/* The tap was attached 1000 times: no reference may be left. */
	close(self->tapfd);
	self->tapfd = -1;
	EXPECT_TRUE(fg_wait_netdev_gone(self->tap, WAIT_MS))
		TH_LOG("%s outlived its last fd: leaked file reference", self->tap);

	if (!ko || !*ko)
		SKIP(return, "VHNET_KO not set: not unloading the module");
	kofd = open(ko, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, kofd) TH_LOG("open %s: %s", ko, strerror(errno));

	ksft_print_msg("vhnet refcnt before unload: %ld\n",
		       read_long("/sys/module/vhnet/refcnt"));
	err = unload_vhnet();
	/* Put the module back before asserting anything. */
	ins = err ? 0 : (int)syscall(SYS_finit_module, kofd, "", 0);
	if (ins)
		ins = errno;
	close(kofd);
	ASSERT_EQ(0, err) TH_LOG("delete_module(vhnet): %s", strerror(err));
	ASSERT_EQ(0, ins) TH_LOG("finit_module(%s): %s", ko, strerror(ins));

	/* Back with default parameters and working. */
	regions = mem_regions_param();
	EXPECT_EQ(64, regions);
	/* The old node may linger a moment before devtmpfs replaces it. */
	for (i = 0, fd = -1; fd < 0 && i <= WAIT_MS; i += 10) {
		fd = vh_open();
		if (fd < 0)
			fg_sleep_ms(10);
	}
	ASSERT_LE(0, fd) TH_LOG("open %s after reload: %s", vh_path(), strerror(errno));
	EXPECT_EQ(0, get_u64(fd, VHOST_GET_FEATURES, &features));
	EXPECT_EQ(VHNET_FEATURES, features);
	close(fd);
}

TEST_HARNESS_MAIN
