// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest, for the benchmark: host-side helpers (pktgen control, ICMP
 * echo frames, tap address, thread placement, memcpy bandwidth).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "bench_host.h"

#define PG_DIR		"/proc/net/pktgen"
#define PG_CTRL		PG_DIR "/pgctrl"
/* Skbs carry at most this many page fragments (MAX_SKB_FRAGS). */
#define PG_FRAGS	17
#define PG_LINEAR_MAX	4096

double fg_bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fg_pg_write(const char *path, const char *fmt, ...)
{
	char cmd[128];
	va_list ap;
	ssize_t n;
	int fd, len;

	va_start(ap, fmt);
	len = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	/* pgctrl cuts the last byte off, whatever it is. */
	cmd[len++] = '\n';
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, cmd, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : 0;
}

int fg_pktgen_setup(struct fg_pktgen *p, const char *dev, int cpu,
		    unsigned int len, const __u8 dst_mac[6],
		    unsigned long count)
{
	const __u8 *m = dst_mac;
	int ret;

	memset(p, 0, sizeof(*p));
	snprintf(p->dev, sizeof(p->dev), "%s", dev);
	snprintf(p->dev_path, sizeof(p->dev_path), PG_DIR "/%s", dev);
	snprintf(p->thr_path, sizeof(p->thr_path), PG_DIR "/kpktgend_%d",
		 cpu < 0 ? 0 : cpu);
	/* The module may not be loaded yet. */
	if (access(PG_CTRL, W_OK) &&
	    (system("modprobe pktgen >/dev/null 2>&1") ||
	     access(PG_CTRL, W_OK))) {
		snprintf(p->err, sizeof(p->err), "no %s (modprobe pktgen)",
			 PG_CTRL);
		return -ENOENT;
	}
	ret = fg_pg_write(p->thr_path, "add_device %s", dev);
	if (ret) {
		snprintf(p->err, sizeof(p->err), "%s: add_device %s: %s",
			 p->thr_path, dev, strerror(-ret));
		return ret;
	}
	/* pktgen writes the frame as given; tun never segments or checks. */
	ret = fg_pg_write(p->dev_path, "pkt_size %u", len);
	if (!ret)
		ret = fg_pg_write(p->dev_path, "frags %d",
				  len > PG_LINEAR_MAX ? PG_FRAGS : 0);
	if (!ret)
		ret = fg_pg_write(p->dev_path, "count %lu", count);
	if (!ret)
		ret = fg_pg_write(p->dev_path, "delay 0");
	if (!ret)
		ret = fg_pg_write(p->dev_path, "clone_skb 0");
	if (!ret)
		ret = fg_pg_write(p->dev_path, "flag NO_TIMESTAMP");
	if (!ret)
		ret = fg_pg_write(p->dev_path,
				  "dst_mac %02x:%02x:%02x:%02x:%02x:%02x",
				  m[0], m[1], m[2], m[3], m[4], m[5]);
	if (!ret)
		ret = fg_pg_write(p->dev_path, "dst 198.18.0.2");
	if (!ret)
		ret = fg_pg_write(p->dev_path, "src_min 198.18.0.1");
	if (!ret)
		ret = fg_pg_write(p->dev_path, "src_max 198.18.0.1");
	if (ret)
		snprintf(p->err, sizeof(p->err), "configuring %s: %s",
			 p->dev_path, strerror(-ret));
	return ret;
}

static void *fg_pktgen_runner(void *arg)
{
	struct fg_pktgen *p = arg;

	/* Returns when every pktgen thread has stopped. */
	p->start_ret = fg_pg_write(PG_CTRL, "start");
	return NULL;
}

int fg_pktgen_start(struct fg_pktgen *p)
{
	int ret;

	ret = pthread_create(&p->runner, NULL, fg_pktgen_runner, p);
	if (ret) {
		snprintf(p->err, sizeof(p->err), "pthread_create: %s",
			 strerror(ret));
		return -ret;
	}
	p->running = true;
	return 0;
}

int fg_pktgen_finish(struct fg_pktgen *p, bool stop)
{
	int ret = 0;

	if (!p->running)
		return 0;
	if (stop)
		ret = fg_pg_write(PG_CTRL, "stop");
	pthread_join(p->runner, NULL);
	p->running = false;
	if (!ret)
		ret = p->start_ret;
	if (ret)
		snprintf(p->err, sizeof(p->err), "pktgen start/stop: %s",
			 strerror(-ret));
	return ret;
}

int fg_pktgen_counts(struct fg_pktgen *p, unsigned long long *sofar,
		     unsigned long long *errors)
{
	char buf[4096], *s;
	ssize_t n;
	int fd;

	fd = open(p->dev_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	s = strstr(buf, "pkts-sofar:");
	if (!s || sscanf(s, "pkts-sofar: %llu errors: %llu", sofar,
			 errors) != 2)
		return -EPROTO;
	return 0;
}

void fg_pktgen_release(struct fg_pktgen *p)
{
	fg_pktgen_finish(p, true);
	/* Unregistering the tap takes it off the thread as well. */
	if (p->thr_path[0] && !access(p->dev_path, F_OK))
		fg_pg_write(p->thr_path, "rem_device_all");
}

static void fg_sin(struct sockaddr *sa, __u32 ip)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(ip),
	};

	memcpy(sa, &sin, sizeof(sin));
}

int fg_bench_tap_addr(const char *ifname, const __u8 guest_mac[6])
{
	struct arpreq ar;
	struct ifreq ifr;
	int s, ret = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	fg_sin(&ifr.ifr_addr, FG_BENCH_HOST_IP);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		ret = -errno;
	fg_sin(&ifr.ifr_netmask, ~0U << (32 - FG_BENCH_PREFIX));
	if (!ret && ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		ret = -errno;
	memset(&ar, 0, sizeof(ar));
	fg_sin(&ar.arp_pa, FG_BENCH_GUEST_IP);
	ar.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(ar.arp_ha.sa_data, guest_mac, 6);
	ar.arp_flags = ATF_PERM | ATF_COM;
	snprintf(ar.arp_dev, sizeof(ar.arp_dev), "%s", ifname);
	if (!ret && ioctl(s, SIOCSARP, &ar) < 0)
		ret = -errno;
	close(s);
	return ret;
}

static __u16 fg_csum(const __u8 *p, size_t len)
{
	__u32 sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static void fg_be16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void fg_be32(__u8 *p, __u32 v)
{
	fg_be16(p, v >> 16);
	fg_be16(p + 2, v);
}

size_t fg_bench_icmp_request(__u8 *buf, size_t len, const __u8 dst[6],
			     const __u8 src[6], __u16 id, __u16 seq)
{
	__u8 *ip = buf + 14, *icmp = ip + 20;
	size_t i;

	if (len < 60 || len > 1514)
		return 0;
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	fg_be16(buf + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	fg_be16(ip + 2, len - 14);
	fg_be16(ip + 6, 0x4000);	/* DF */
	ip[8] = 64;
	ip[9] = 1;			/* ICMP */
	fg_be32(ip + 12, FG_BENCH_GUEST_IP);
	fg_be32(ip + 16, FG_BENCH_HOST_IP);
	fg_be16(ip + 10, fg_csum(ip, 20));
	icmp[0] = 8;			/* echo request */
	icmp[1] = 0;
	fg_be16(icmp + 2, 0);
	fg_be16(icmp + 4, id);
	fg_be16(icmp + 6, seq);
	for (i = 8; icmp + i < buf + len; i++)
		icmp[i] = (__u8)(i ^ seq);
	fg_be16(icmp + 2, fg_csum(icmp, buf + len - icmp));
	return len;
}

int fg_bench_icmp_reply_seq(const __u8 *frame, size_t len, __u16 id)
{
	const __u8 *ip = frame + 14, *icmp;

	if (len < 14 + 20 + 8 || frame[12] != 0x08 || frame[13] != 0x00 ||
	    (ip[0] >> 4) != 4 || ip[9] != 1)
		return -1;
	icmp = ip + (ip[0] & 0xf) * 4;
	if (icmp + 8 > frame + len || icmp[0] != 0 ||
	    ((icmp[4] << 8) | icmp[5]) != id)
		return -1;
	return (icmp[6] << 8) | icmp[7];
}

int fg_bench_pin(pid_t tid, int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set) ? -errno : 0;
}

static pid_t fg_find_in(const char *dir, const char *comm)
{
	char path[300], buf[64];
	struct dirent *de;
	pid_t found = 0;
	ssize_t n;
	DIR *d;
	int fd;

	d = opendir(dir);
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/%s/comm", dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		if (!strcmp(buf, comm))
			found = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

static void *fg_sender_main(void *arg)
{
	struct fg_sender *s = arg;

	fg_bench_pin(0, s->cpu);
	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		if (send(s->fd, s->frame, s->len, 0) == (ssize_t)s->len) {
			__atomic_add_fetch(&s->sent, 1, __ATOMIC_RELAXED);
		} else if (errno == ENOBUFS || errno == EAGAIN) {
			sched_yield();
		} else {
			s->error = errno;
			break;
		}
	}
	return NULL;
}

int fg_sender_start(struct fg_sender *s, const char *ifname, int cpu,
		    unsigned int len, const __u8 dst[6], const __u8 src[6])
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int ret;

	memset(s, 0, sizeof(*s));
	s->cpu = cpu;
	s->len = len;
	s->frame = calloc(1, len < ETH_HLEN ? ETH_HLEN : len);
	if (!s->frame)
		return -ENOMEM;
	memcpy(s->frame, dst, ETH_ALEN);
	memcpy(s->frame + ETH_ALEN, src, ETH_ALEN);
	s->frame[12] = ETH_P_IP >> 8;
	s->frame[13] = ETH_P_IP & 0xff;
	/* Protocol 0: this socket sends only, it never queues a copy. */
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	sll.sll_ifindex = if_nametoindex(ifname);
	if (s->fd < 0 || !sll.sll_ifindex ||
	    bind(s->fd, (struct sockaddr *)&sll, sizeof(sll))) {
		ret = -errno;
		goto fail;
	}
	ret = -pthread_create(&s->thread, NULL, fg_sender_main, s);
	if (ret)
		goto fail;
	s->running = true;
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->frame);
	s->frame = NULL;
	return ret ? ret : -EINVAL;
}

unsigned long long fg_sender_sent(struct fg_sender *s)
{
	return __atomic_load_n(&s->sent, __ATOMIC_RELAXED);
}

int fg_sender_stop(struct fg_sender *s)
{
	if (!s->running)
		return 0;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	pthread_join(s->thread, NULL);
	s->running = false;
	close(s->fd);
	s->fd = -1;
	free(s->frame);
	s->frame = NULL;
	return s->error;
}

pid_t fg_bench_find_thread(const char *comm)
{
	pid_t t = fg_find_in("/proc/self/task", comm);

	return t ? t : fg_find_in("/proc", comm);
}

double fg_bench_memcpy(double seconds, size_t block, size_t span)
{
	unsigned long long bytes = 0;
	__u8 *src, *dst;
	double t0, t;
	size_t off = 0;
	int i;

	if (!block || span < block)
		return -EINVAL;
	src = malloc(span);
	dst = malloc(span);
	if (!src || !dst) {
		free(src);
		free(dst);
		return -ENOMEM;
	}
	memset(src, 0x5a, span);
	memset(dst, 0xa5, span);
	t0 = fg_bench_now();
	do {
		for (i = 0; i < 64; i++) {
			memcpy(dst + off, src + off, block);
			/* Keep the compiler from dropping the copies. */
			__asm__ __volatile__("" : : "r"(dst) : "memory");
			bytes += block;
			off += block;
			if (off + block > span)
				off = 0;
		}
		t = fg_bench_now();
	} while (t - t0 < seconds);
	free(src);
	free(dst);
	return bytes / (t - t0);
}
