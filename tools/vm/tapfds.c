// SPDX-License-Identifier: GPL-2.0
/*
 * tapfds TAP N FD -- PROGRAM [ARG...]
 *
 * Attach N queues of the multi-queue tap TAP (IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR | IFF_MULTI_QUEUE) as fds FD, FD+1, ... and exec PROGRAM
 * with them, as a VMM's manager (libvirt) does for QEMU's
 * "-netdev tap,fds=FD:FD+1,vhostfds=..." (QEMU takes vhostfds= only with
 * fds=). Used by tools/vm/nested.sh for multiqueue guests.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#define MAX_QUEUES	16

int main(int argc, char **argv)
{
	int fds[MAX_QUEUES], n, base, i;
	struct ifreq ifr;

	if (argc < 6 || strcmp(argv[4], "--")) {
		fprintf(stderr, "usage: tapfds TAP N FD -- PROGRAM [ARG...]\n");
		return 2;
	}
	n = atoi(argv[2]);
	base = atoi(argv[3]);
	if (n < 1 || n > MAX_QUEUES || base < 3) {
		fprintf(stderr, "tapfds: bad N %s or FD %s\n", argv[2], argv[3]);
		return 2;
	}
	for (i = 0; i < n; i++) {
		fds[i] = open("/dev/net/tun", O_RDWR);
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
		if (fds[i] < 0 || ioctl(fds[i], TUNSETIFF, &ifr)) {
			fprintf(stderr, "tapfds: queue %d of %s: %s\n", i, argv[1],
				strerror(errno));
			return 1;
		}
	}
	/* Out of the way first, so that no dup2() below clobbers one. */
	for (i = 0; i < n; i++) {
		int fd = fcntl(fds[i], F_DUPFD, base + n);

		if (fd < 0) {
			perror("tapfds: F_DUPFD");
			return 1;
		}
		close(fds[i]);
		fds[i] = fd;
	}
	for (i = 0; i < n; i++) {
		if (dup2(fds[i], base + i) < 0) {
			perror("tapfds: dup2");
			return 1;
		}
		close(fds[i]);
	}
	execvp(argv[5], argv + 5);
	fprintf(stderr, "tapfds: %s: %s\n", argv[5], strerror(errno));
	return 127;
}
