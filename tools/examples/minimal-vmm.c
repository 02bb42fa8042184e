// SPDX-License-Identifier: GPL-2.0
/*
 * minimal-vmm: the smallest complete user of /dev/vhnet, for VMM authors;
 * Documentation/vmm-guide.rst walks through it.
 *
 *   minimal-vmm [-d DEVICE] [-n FRAMES] [-t TAPNAME]
 *
 * One device (DEVICE, default /dev/vhnet), guest memory from a memfd, a
 * tap as the backend. It then plays the guest's virtio-net driver: FRAMES
 * frames (default 64, at most 256) leave through the TX ring and FRAMES
 * arrive through the RX ring, each checked byte for byte on the host side
 * of the tap. Then it stops the queues and closes everything. Needs
 * CAP_NET_ADMIN (the tap) and CAP_NET_RAW (the host side's socket). Exit
 * status 0 with the last line "minimal-vmm: ok: N frames TX, N frames RX",
 * or 1 with a line naming what failed and the errno.
 *
 * Only libc and the kernel's UAPI headers are needed; with vhnet's own
 * (-Iinclude/uapi) it also checks the counters of VHNET_GET_STATS.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* memfd_create() */
#endif
#include <arpa/inet.h>
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#if __has_include("linux/vhnet.h")
#include <linux/vhnet.h>	/* VHNET_GET_STATS */
#endif

#define RX		0	/* vhnet's queue 0 is RX (host to guest) */
#define TX		1	/* queue 1 is TX */
#define RING_SIZE	256	/* entries per ring: a power of two */
#define BUF_SIZE	2048	/* one buffer per frame, either way */
#define HDR_LEN		sizeof(struct virtio_net_hdr_mrg_rxbuf)	/* 12 */
#define WAIT_MS		10000	/* for anything the device or host does */

/*
 * Guest memory: 2 MiB at guest-physical address 0, so that an offset in
 * our mapping is a guest-physical address. Each queue's ring parts get a
 * page each; their sizes are the virtio spec's for a split ring:
 *   descriptors  16 * 256          = 4096 bytes, 16-byte aligned
 *   avail ring   2 + 2 + 2*256 + 2 =  518 bytes, 2-byte aligned
 *                (flags, idx, ring[256], used_event)
 *   used ring    2 + 2 + 8*256 + 2 = 2054 bytes, 4-byte aligned
 *                (flags, idx, ring[256] of {id, len}, avail_event)
 * The frame buffers follow from 64 KiB on, RING_SIZE per queue.
 */
#define MEM_SIZE	(2 << 20)
#define RING_GPA(q)	((uint64_t)(q) * 0x4000)
#define DESC_OFF	0x0000
#define AVAIL_OFF	0x1000
#define USED_OFF	0x2000
#define BUF_GPA(q, i)	(0x10000 + ((uint64_t)(q) * RING_SIZE + (i)) * BUF_SIZE)
static_assert(BUF_GPA(2, 0) <= MEM_SIZE, "buffers beyond guest memory");

struct queue {
	unsigned int index;		/* RX or TX */
	struct vring_desc *desc;	/* the ring, in our mapping */
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;		/* the next avail->idx to publish */
	uint16_t used_idx;		/* used entries taken so far */
	int kick, call, err;		/* eventfds */
};

static const char *prog = "minimal-vmm";
static uint8_t *guest;			/* guest memory */
static int vhost_fd = -1, tap_fd = -1, host_fd = -1;
static struct queue vq[2];

/*
 * Print and exit 1 (%m is strerror(errno)). Exiting closes every fd, and
 * closing the device file releases all the device holds.
 */
static void die(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	errno = err;
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* An ioctl of the device; the message names it, "VHOST_SET_OWNER: ..." */
#define vhost(req, arg)		vhost_ioctl(req, #req, arg)

static void vhost_ioctl(unsigned long req, const char *name, void *arg)
{
	if (ioctl(vhost_fd, req, arg) < 0)
		die("%s: %m", name);
}

static void guest_memory_create(void)
{
	int fd = memfd_create("minimal-vmm guest", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, MEM_SIZE) < 0)
		die("guest memory: %m");
	guest = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (guest == MAP_FAILED)
		die("mmap: %m");
	close(fd);		/* the mapping keeps the memory */
}

/* Owner, features, memory table: the device-wide part of the setup. */
static void device_setup(const char *path)
{
	struct vhost_memory *mem;
	uint64_t features;

	vhost_fd = open(path, O_RDWR | O_CLOEXEC);
	if (vhost_fd < 0)
		die("%s: %m", path);
	/* First: binds the device to this process, starts its worker. */
	vhost(VHOST_SET_OWNER, NULL);

	/*
	 * A VMM offers its guest what the device offers, and sets what the
	 * guest's driver accepted. Ours accepts VIRTIO_F_VERSION_1 alone:
	 * little-endian rings, a 12-byte header, no offloads, no mergeable
	 * RX buffers.
	 */
	vhost(VHOST_GET_FEATURES, &features);
	if (!(features & (1ULL << VIRTIO_F_VERSION_1)))
		die("VHOST_GET_FEATURES: no VIRTIO_F_VERSION_1 in %#llx",
		    (unsigned long long)features);
	features = 1ULL << VIRTIO_F_VERSION_1;
	vhost(VHOST_SET_FEATURES, &features);

	/* One region: guest-physical 0 is the first byte of our mapping. */
	mem = calloc(1, sizeof(*mem) + sizeof(mem->regions[0]));
	if (!mem)
		die("calloc: %m");
	mem->nregions = 1;
	mem->regions[0].guest_phys_addr = 0;
	mem->regions[0].memory_size = MEM_SIZE;
	mem->regions[0].userspace_addr = (uintptr_t)guest;
	vhost(VHOST_SET_MEM_TABLE, mem);
	free(mem);
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		die("eventfd: %m");
	return fd;
}

/* Size, first index, ring addresses and eventfds of one queue. */
static void vring_setup(struct queue *q, unsigned int index)
{
	struct vhost_vring_state num = { .index = index, .num = RING_SIZE };
	struct vhost_vring_state base = { .index = index, .num = 0 };
	struct vhost_vring_addr addr = { .index = index };
	struct vhost_vring_file file = { .index = index };
	uint8_t *ring = guest + RING_GPA(index);

	/* The memfd's pages start zeroed: both rings' flags and idx are 0. */
	q->index = index;
	q->desc = (struct vring_desc *)(ring + DESC_OFF);
	q->avail = (struct vring_avail *)(ring + AVAIL_OFF);
	q->used = (struct vring_used *)(ring + USED_OFF);

	vhost(VHOST_SET_VRING_NUM, &num);
	vhost(VHOST_SET_VRING_BASE, &base);
	/* Our own (user) addresses of the rings, not guest-physical ones. */
	addr.desc_user_addr = (uintptr_t)q->desc;
	addr.avail_user_addr = (uintptr_t)q->avail;
	addr.used_user_addr = (uintptr_t)q->used;
	vhost(VHOST_SET_VRING_ADDR, &addr);

	/* Kick: the guest's notify. Call: its interrupt. Err: ring broken. */
	q->kick = new_eventfd();
	file.fd = q->kick;
	vhost(VHOST_SET_VRING_KICK, &file);
	q->call = new_eventfd();
	file.fd = q->call;
	vhost(VHOST_SET_VRING_CALL, &file);
	q->err = new_eventfd();
	file.fd = q->err;
	vhost(VHOST_SET_VRING_ERR, &file);
}

/* A tap whose frames carry the device's header; @ifname gets its name. */
static void tap_create(const char *name, char *ifname)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr_len = HDR_LEN, le = 1, s;

	if (strlen(name) >= IFNAMSIZ)
		die("tap name %s: too long", name);
	memcpy(ifr.ifr_name, name, strlen(name) + 1);	/* "%d": any number */
	tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap_fd < 0)
		die("/dev/net/tun: %m");
	if (ioctl(tap_fd, TUNSETIFF, &ifr) < 0)
		die("TUNSETIFF %s: %m", name);
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	/* VIRTIO_F_VERSION_1: the header is 12 bytes and little-endian. */
	if (ioctl(tap_fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
		die("TUNSETVNETHDRSZ: %m");
	if (ioctl(tap_fd, TUNSETVNETLE, &le) < 0)
		die("TUNSETVNETLE: %m");

	/* A tap that is down drops every frame: bring it up. */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS %s: %m", ifname);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS %s: %m", ifname);
	close(s);
}

/*
 * Test only, no part of a VMM: the host's end of the tap. What the device
 * sends (a write to the tap) the host receives on the tap's interface;
 * what the host sends out of that interface is what the device reads. A
 * packet socket bound to the interface does both, for our EtherType.
 */
static void host_socket_open(const char *ifname)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_802_EX1),
		.sll_ifindex = if_nametoindex(ifname),
	};
	int size = 4 << 20;

	if (!sll.sll_ifindex)	/* 0 would bind to every interface */
		die("%s: %m", ifname);
	/* Protocol 0 until bound, or it sees every interface's frames. */
	host_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (host_fd < 0)
		die("socket(AF_PACKET): %m");
	/* Room for a whole ring of frames, if we may. */
	setsockopt(host_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	if (bind(host_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("bind(AF_PACKET) %s: %m", ifname);
}

static void set_backend(unsigned int index, int fd)
{
	struct vhost_vring_file backend = { .index = index, .fd = fd };

	vhost(VHOST_NET_SET_BACKEND, &backend);
}

/*
 * Frame @seq of direction @dir, 'T' (guest to host, broadcast) or 'R'
 * (host to guest): a local experimental EtherType, @dir, @seq, then a
 * pattern. Lengths differ too. Returns the length.
 */
static size_t make_frame(uint8_t *p, char dir, unsigned int seq)
{
	static const uint8_t guest_mac[6] = { 2, 0, 0, 0, 0, 1 };
	static const uint8_t host_mac[6] = { 2, 0, 0, 0, 0, 2 };
	size_t len = ETH_HLEN + 64 + seq % 64, i;

	if (dir == 'T')
		memset(p, 0xff, 6);
	else
		memcpy(p, guest_mac, 6);
	memcpy(p + 6, dir == 'T' ? guest_mac : host_mac, 6);
	p[12] = ETH_P_802_EX1 >> 8;
	p[13] = ETH_P_802_EX1 & 0xff;
	p[14] = dir;
	p[15] = seq >> 8;
	p[16] = seq & 0xff;
	for (i = 17; i < len; i++)
		p[i] = seq * 7 + i;
	return len;
}

static bool is_ours(const uint8_t *p, size_t len, char dir)
{
	return len > 16 && p[12] == ETH_P_802_EX1 >> 8 &&
	       p[13] == (ETH_P_802_EX1 & 0xff) && p[14] == dir;
}

/* Exactly as sent, and the first frame with its number. */
static void check_frame(const uint8_t *p, size_t len, char dir,
			unsigned int n, bool *seen)
{
	uint8_t want[BUF_SIZE];
	unsigned int seq;

	if (!is_ours(p, len, dir))
		die("%c: a frame not ours, %zu bytes", dir, len);
	seq = p[15] << 8 | p[16];
	if (seq >= n || seen[seq])
		die("%c frame %u: unexpected, or twice", dir, seq);
	if (make_frame(want, dir, seq) != len || memcmp(want, p, len))
		die("%c frame %u: %zu bytes, not those sent", dir, seq, len);
	seen[seq] = true;
}

/*
 * The guest driver's side of a split ring. post() fills descriptor @id
 * with one buffer and puts @id in the next avail slot; the device sees
 * neither until publish().
 */
static void post(struct queue *q, uint16_t id, uint64_t gpa, uint32_t len,
		 uint16_t flags)
{
	q->desc[id].addr = htole64(gpa);	/* guest-physical */
	q->desc[id].len = htole32(len);
	q->desc[id].flags = htole16(flags);
	q->desc[id].next = 0;
	q->avail->ring[q->avail_idx % RING_SIZE] = htole16(id);
	q->avail_idx++;
}

static void publish(struct queue *q)
{
	uint64_t one = 1;

	/* Release: descriptors and slots are visible before the index. */
	__atomic_store_n(&q->avail->idx, htole16(q->avail_idx),
			 __ATOMIC_RELEASE);
	/*
	 * Kick. A guest may skip it while used->flags has
	 * VRING_USED_F_NO_NOTIFY (read after a full barrier); one kick too
	 * many is harmless, one too few stalls the queue.
	 */
	if (write(q->kick, &one, sizeof(one)) != sizeof(one))
		die("kick: %m");
}

/* Take the next used entry, if the device has published one. */
static bool reap(struct queue *q, uint16_t *id, uint32_t *len)
{
	/* Acquire: the entry, and RX data, are read after the index. */
	uint16_t idx = le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE));
	struct vring_used_elem *e = &q->used->ring[q->used_idx % RING_SIZE];

	if (idx == q->used_idx)
		return false;
	*id = le32toh(e->id);
	*len = le32toh(e->len);
	if (*id >= RING_SIZE)
		die("queue %u: used id %u", q->index, *id);
	q->used_idx++;
	return true;
}

/* Sleep until the device signals the call eventfd (the interrupt). */
static void wait_call(struct queue *q)
{
	struct pollfd pfd[2] = {
		{ .fd = q->call, .events = POLLIN },
		{ .fd = q->err, .events = POLLIN },
	};
	uint64_t count;
	int ret = poll(pfd, 2, WAIT_MS);

	if (ret < 0)
		die("poll: %m");
	if (pfd[1].revents)
		die("queue %u broken (err eventfd; the kernel log says why)",
		    q->index);
	if (!ret)
		die("queue %u: no used buffer for %d ms", q->index, WAIT_MS);
	/* Reset the count: a signal after this read wakes the next poll. */
	if (read(q->call, &count, sizeof(count)) < 0 && errno != EAGAIN)
		die("call: %m");
}

/* N frames out through TX, read on the host side. */
static void tx_phase(unsigned int n)
{
	struct pollfd pfd = { .fd = host_fd, .events = POLLIN };
	bool seen[RING_SIZE] = { false };
	struct queue *q = &vq[TX];
	unsigned int i, used = 0;
	uint8_t frame[BUF_SIZE];
	uint32_t len;
	uint16_t id;
	ssize_t got;

	for (i = 0; i < n; i++) {
		uint8_t *buf = guest + BUF_GPA(TX, i);

		memset(buf, 0, HDR_LEN);	/* no checksum offload, GSO */
		len = make_frame(buf + HDR_LEN, 'T', i);
		post(q, i, BUF_GPA(TX, i), HDR_LEN + len, 0);
	}
	publish(q);
	/* A used TX buffer is free again: the frame has left. */
	while (used < n) {
		while (reap(q, &id, &len))
			used++;
		if (used < n)
			wait_call(q);
	}
	for (i = 0; i < n; i++) {
		if (poll(&pfd, 1, WAIT_MS) != 1)
			die("TX: %u of %u frames reached the host", i, n);
		got = recv(host_fd, frame, sizeof(frame), MSG_TRUNC);
		if (got < 0)
			die("recv(AF_PACKET): %m");
		check_frame(frame, got, 'T', n, seen);
	}
	printf("%s: TX: %u frames sent, %u buffers used, %u frames on the host\n",
	       prog, n, used, n);
}

/* N buffers posted on RX, N frames from the host; returns buffers used. */
static unsigned int rx_phase(unsigned int n)
{
	unsigned int i, done = 0, others = 0;
	bool seen[RING_SIZE] = { false };
	struct queue *q = &vq[RX];
	uint8_t frame[BUF_SIZE];
	uint32_t len;
	uint16_t id;

	for (i = 0; i < n; i++)
		post(q, i, BUF_GPA(RX, i), BUF_SIZE, VRING_DESC_F_WRITE);
	publish(q);
	for (i = 0; i < n; i++) {
		len = make_frame(frame, 'R', i);
		if (send(host_fd, frame, len, 0) != (ssize_t)len)
			die("send(AF_PACKET): %m");
	}
	while (done < n) {
		while (reap(q, &id, &len)) {
			uint8_t *buf = guest + BUF_GPA(RX, id);
			struct virtio_net_hdr_mrg_rxbuf *hdr = (void *)buf;

			/* The header the device wrote, then the frame. */
			if (len < HDR_LEN || len > BUF_SIZE)
				die("RX: used length %u", len);
			if (!is_ours(buf + HDR_LEN, len - HDR_LEN, 'R')) {
				/* The host's own (IPv6, ...): give it back. */
				others++;
				post(q, id, BUF_GPA(RX, id), BUF_SIZE,
				     VRING_DESC_F_WRITE);
				publish(q);
				continue;
			}
			if (hdr->hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE ||
			    le16toh(hdr->num_buffers) != 1)
				die("RX: header gso_type %u num_buffers %u",
				    hdr->hdr.gso_type, le16toh(hdr->num_buffers));
			check_frame(buf + HDR_LEN, len - HDR_LEN, 'R', n, seen);
			done++;
		}
		if (done < n)
			wait_call(q);
	}
	printf("%s: RX: %u buffers posted, %u frames from the host, %u received, %u others\n",
	       prog, n, n, done, others);
	return done + others;
}

/* vhnet's counters (another device says ENOTTY): what the rings say. */
static void check_stats(unsigned int tx, unsigned int rx)
{
#ifdef VHNET_GET_STATS
	/*
	 * Zeroed: the in-tree vhost-net reads a queue index from the start
	 * of an unknown ioctl's argument, and fails a bad one with ENOBUFS.
	 */
	struct vhnet_stats st = { 0 };

	if (ioctl(vhost_fd, VHNET_GET_STATS, &st) < 0) {
		if (errno != ENOTTY)
			die("VHNET_GET_STATS: %m");
		printf("%s: no VHNET_GET_STATS: not vhnet\n", prog);
		return;
	}
	printf("%s: VHNET_GET_STATS: tx packets %llu, rx packets %llu\n", prog,
	       (unsigned long long)st.queue[TX].packets,
	       (unsigned long long)st.queue[RX].packets);
	if (st.queue[TX].packets != tx || st.queue[RX].packets != rx)
		die("VHNET_GET_STATS: not the %u and %u frames used", tx, rx);
#else
	printf("%s: built without <linux/vhnet.h>: counters not read (%u, %u)\n",
	       prog, tx, rx);
#endif
}

/*
 * Stop both queues as a VMM does to stop or migrate a guest: detach the
 * backend (when that returns, the worker is done with the queue), then
 * read where the ring stands. Then close it all; closing the device alone
 * would release all it holds.
 */
static void teardown(unsigned int n, unsigned int rx_used)
{
	struct vhost_vring_state base;
	uint16_t used[2];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		set_backend(i, -1);
		base = (struct vhost_vring_state){ .index = i };
		vhost(VHOST_GET_VRING_BASE, &base);
		used[i] = le16toh(__atomic_load_n(&vq[i].used->idx,
						  __ATOMIC_ACQUIRE));
		printf("%s: queue %u stopped: next avail index %u, used index %u\n",
		       prog, i, base.num, used[i]);
		/* Without mergeable buffers, each one taken is used. */
		if (base.num != used[i])
			die("queue %u: %u buffers taken, %u used", i, base.num,
			    used[i]);
	}
	/* A frame of the host's may have taken a buffer given back since. */
	if (used[TX] != n || used[RX] < rx_used)
		die("used indexes TX %u RX %u, not %u and %u", used[TX],
		    used[RX], n, rx_used);
	check_stats(used[TX], used[RX]);

	for (i = 0; i < 2; i++) {
		close(vq[i].kick);
		close(vq[i].call);
		close(vq[i].err);
	}
	close(vhost_fd);	/* the device, its worker, its memory table */
	close(host_fd);
	close(tap_fd);		/* the tap goes with its last fd */
	munmap(guest, MEM_SIZE);
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/vhnet", *tap = "mvmm%d";
	char ifname[IFNAMSIZ], *end;
	unsigned int n = 64, rx_used;
	int opt;

	while ((opt = getopt(argc, argv, "d:n:t:")) != -1) {
		if (opt == 'd') {
			dev = optarg;
		} else if (opt == 't') {
			tap = optarg;
		} else if (opt == 'n') {
			n = strtoul(optarg, &end, 10);
			if (*end || !n || n > RING_SIZE)
				die("-n %s: 1 to %d frames", optarg, RING_SIZE);
		} else {
			die("usage: %s [-d DEVICE] [-n FRAMES] [-t TAPNAME]",
			    prog);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	guest_memory_create();
	device_setup(dev);
	vring_setup(&vq[RX], RX);
	vring_setup(&vq[TX], TX);
	tap_create(tap, ifname);
	host_socket_open(ifname);
	/* Last: from here on the queues run. */
	set_backend(RX, tap_fd);
	set_backend(TX, tap_fd);
	printf("%s: %s ready: tap %s, %u-entry rings, VIRTIO_F_VERSION_1\n",
	       prog, dev, ifname, RING_SIZE);

	tx_phase(n);
	rx_used = rx_phase(n);
	teardown(n, rx_used);
	printf("%s: ok: %u frames TX, %u frames RX\n", prog, n, n);
	return 0;
}
