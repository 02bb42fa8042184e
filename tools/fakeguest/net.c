// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: host-side network helpers (tap, macvtap, veth, dummy,
 * AF_PACKET) using plain ioctls and a minimal rtnetlink client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "fg_net.h"
#include "fg_sys.h"

static int fg_ifreq(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (s < 0)
		return -errno;
	if (ioctl(s, req, ifr) < 0)
		ret = -errno;
	close(s);
	return ret;
}

static void fg_ifr_name(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

int fg_if_index(const char *name)
{
	unsigned int i = if_nametoindex(name);

	return i ? (int)i : -errno;
}

int fg_if_up(const char *name)
{
	struct ifreq ifr;
	int ret;

	fg_ifr_name(&ifr, name);
	ret = fg_ifreq(SIOCGIFFLAGS, &ifr);
	if (ret)
		return ret;
	ifr.ifr_flags |= IFF_UP;
	return fg_ifreq(SIOCSIFFLAGS, &ifr);
}

int fg_if_get_mac(const char *name, __u8 mac[6])
{
	struct ifreq ifr;
	int ret;

	fg_ifr_name(&ifr, name);
	ret = fg_ifreq(SIOCGIFHWADDR, &ifr);
	if (!ret)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return ret;
}

int fg_if_set_mac(const char *name, const __u8 mac[6])
{
	struct ifreq ifr;

	fg_ifr_name(&ifr, name);
	ifr.ifr_hwaddr.sa_family = 1;	/* ARPHRD_ETHER */
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return fg_ifreq(SIOCSIFHWADDR, &ifr);
}

int fg_if_set_mtu(const char *name, int mtu)
{
	struct ifreq ifr;

	fg_ifr_name(&ifr, name);
	ifr.ifr_mtu = mtu;
	return fg_ifreq(SIOCSIFMTU, &ifr);
}

static int fg_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

void fg_if_no_ipv6(const char *name)
{
	char path[128];

	/* Keep router solicitations and DAD out of the test streams. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 name);
	fg_write_file(path, "1");
}

/* /sys/class/net/<name>/<file> into @buf, NUL-terminated; 0 or -errno. */
static int fg_if_read(const char *name, const char *file, char *buf,
		      size_t len)
{
	char path[160];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	return 0;
}

long long fg_if_stat(const char *name, const char *stat)
{
	char file[96], buf[32];
	int ret;

	snprintf(file, sizeof(file), "statistics/%s", stat);
	ret = fg_if_read(name, file, buf, sizeof(buf));
	return ret ? ret : strtoll(buf, NULL, 10);
}

int fg_if_wait_up(const char *name, unsigned int ms)
{
	unsigned int waited;
	char buf[16];

	for (waited = 0; ; waited += 10) {
		/*
		 * The kernel's linkwatch sets "up" and gives the device its
		 * qdisc in one go under RTNL; SIOCSIFFLAGS takes RTNL too,
		 * so once it returns the qdisc is there.
		 */
		if (!fg_if_read(name, "operstate", buf, sizeof(buf)) &&
		    !strcmp(buf, "up\n"))
			return fg_if_up(name);
		if (waited >= ms)
			return -ETIMEDOUT;
		fg_sleep_ms(10);
	}
}

int fg_tap_set_vnet(int fd, int hdr_len, unsigned int offloads)
{
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
		return -errno;
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0)
		return -errno;
	return 0;
}

int fg_tap_open(const char *name, unsigned int flags, int hdr_len,
		unsigned int offloads)
{
	struct ifreq ifr;
	int fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fg_ifr_name(&ifr, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (flags & FG_TAP_VNET_HDR)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (flags & FG_TAP_MULTI_QUEUE)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		goto err;
	}
	if (flags & FG_TAP_VNET_HDR) {
		ret = fg_tap_set_vnet(fd, hdr_len, offloads);
		if (ret)
			goto err;
	}
	fg_if_no_ipv6(name);
	ret = fg_if_up(name);
	if (ret)
		goto err;
	return fd;
err:
	close(fd);
	return ret;
}

/* --- minimal rtnetlink --- */

struct fg_nlmsg {
	struct nlmsghdr *nh;
	char buf[1024];
};

static struct rtattr *fg_nla_put(struct fg_nlmsg *m, int type,
				 const void *data, int len)
{
	struct rtattr *rta = (void *)((char *)m->nh +
				      NLMSG_ALIGN(m->nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	m->nh->nlmsg_len = NLMSG_ALIGN(m->nh->nlmsg_len) +
			   RTA_ALIGN(rta->rta_len);
	return rta;
}

static struct rtattr *fg_nla_nest(struct fg_nlmsg *m, int type)
{
	return fg_nla_put(m, type, NULL, 0);
}

static void fg_nla_end(struct fg_nlmsg *m, struct rtattr *nest)
{
	nest->rta_len = (char *)m->nh + m->nh->nlmsg_len - (char *)nest;
}

static struct ifinfomsg *fg_nl_link_msg(struct fg_nlmsg *m, int type,
					int flags)
{
	struct ifinfomsg *ifi;

	memset(m->buf, 0, sizeof(m->buf));
	m->nh = (struct nlmsghdr *)m->buf;
	m->nh->nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	m->nh->nlmsg_type = type;
	m->nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	ifi = NLMSG_DATA(m->nh);
	ifi->ifi_family = AF_UNSPEC;
	return ifi;
}

static int fg_nl_talk(struct fg_nlmsg *m)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	struct nlmsghdr *nh;
	int s, ret;
	ssize_t n;

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	if (sendto(s, m->nh, m->nh->nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	n = recv(s, buf, sizeof(buf), 0);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	nh = (struct nlmsghdr *)buf;
	ret = -EPROTO;
	if (NLMSG_OK(nh, n) && nh->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(nh);

		ret = e->error;
	}
out:
	close(s);
	return ret;
}

static int fg_link_add(const char *name, const char *kind, int link,
		       const char *peer, int macvlan_mode)
{
	struct rtattr *li, *data, *pinfo;
	struct fg_nlmsg m;
	struct ifinfomsg *ifi;
	int ret;

	fg_nl_link_msg(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	fg_nla_put(&m, IFLA_IFNAME, name, strlen(name) + 1);
	if (link > 0)
		fg_nla_put(&m, IFLA_LINK, &link, sizeof(link));
	li = fg_nla_nest(&m, IFLA_LINKINFO);
	fg_nla_put(&m, IFLA_INFO_KIND, kind, strlen(kind));
	if (peer) {
		data = fg_nla_nest(&m, IFLA_INFO_DATA);
		pinfo = fg_nla_nest(&m, VETH_INFO_PEER);
		ifi = (struct ifinfomsg *)RTA_DATA(pinfo);
		memset(ifi, 0, sizeof(*ifi));
		m.nh->nlmsg_len += NLMSG_ALIGN(sizeof(*ifi));
		fg_nla_put(&m, IFLA_IFNAME, peer, strlen(peer) + 1);
		fg_nla_end(&m, pinfo);
		fg_nla_end(&m, data);
	} else if (macvlan_mode) {
		__u32 mode = macvlan_mode;

		data = fg_nla_nest(&m, IFLA_INFO_DATA);
		fg_nla_put(&m, IFLA_MACVLAN_MODE, &mode, sizeof(mode));
		fg_nla_end(&m, data);
	}
	fg_nla_end(&m, li);
	ret = fg_nl_talk(&m);
	if (ret)
		return ret;
	fg_if_no_ipv6(name);
	if (peer)
		fg_if_no_ipv6(peer);
	return 0;
}

int fg_link_add_dummy(const char *name)
{
	return fg_link_add(name, "dummy", 0, NULL, 0);
}

int fg_link_add_veth(const char *name, const char *peer)
{
	return fg_link_add(name, "veth", 0, peer, 0);
}

int fg_link_add_macvtap(const char *name, const char *lower, bool macvlan)
{
	int link = fg_if_index(lower);

	if (link < 0)
		return link;
	return fg_link_add(name, macvlan ? "macvlan" : "macvtap", link, NULL,
			   MACVLAN_MODE_BRIDGE);
}

int fg_link_del(const char *name)
{
	struct fg_nlmsg m;

	fg_nl_link_msg(&m, RTM_DELLINK, 0);
	fg_nla_put(&m, IFLA_IFNAME, name, strlen(name) + 1);
	return fg_nl_talk(&m);
}

int fg_macvtap_open(const char *name)
{
	char path[128], buf[32];
	unsigned int maj, min;
	int idx, fd;
	ssize_t n;

	idx = fg_if_index(name);
	if (idx < 0)
		return idx;
	snprintf(path, sizeof(path), "/dev/tap%d", idx);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;

	/* No devtmpfs node (e.g. in a chroot): make one from sysfs. */
	snprintf(path, sizeof(path), "/sys/class/net/%s/macvtap/tap%d/dev",
		 name, idx);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	if (sscanf(buf, "%u:%u", &maj, &min) != 2)
		return -EIO;
	snprintf(path, sizeof(path), "/tmp/fg-tap%d-%d", idx, getpid());
	unlink(path);
	if (mknod(path, S_IFCHR | 0600, makedev(maj, min)) < 0)
		return -errno;
	fd = open(path, O_RDWR | O_CLOEXEC);
	unlink(path);
	return fd >= 0 ? fd : -errno;
}

int fg_packet_open(const char *ifname, bool vnet_hdr, int bufsz)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
	};
	int one = 1, fd, ret;

	sll.sll_ifindex = fg_if_index(ifname);
	if (sll.sll_ifindex < 0)
		return sll.sll_ifindex;
	/*
	 * Protocol 0 until bind(): a socket made with ETH_P_ALL receives
	 * from every interface until it is bound, frames of other tests
	 * (or fuzzing processes) included.
	 */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (vnet_hdr &&
	    setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		goto err;
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
		       sizeof(one)) < 0)
		goto err;
	if (bufsz) {
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
			       sizeof(bufsz)) < 0 &&
		    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz,
			       sizeof(bufsz)) < 0)
			goto err;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz,
			       sizeof(bufsz)) < 0 &&
		    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz,
			       sizeof(bufsz)) < 0)
			goto err;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto err;
	return fd;
err:
	ret = -errno;
	close(fd);
	return ret;
}

long long fg_packet_drops(int fd)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return -errno;
	return st.tp_drops;
}
