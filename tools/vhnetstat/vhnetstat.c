// SPDX-License-Identifier: GPL-2.0
/*
 * vhnetstat: every vhnet device on the host, with its counters, read from
 * the device files' fdinfo (/proc/<pid>/fdinfo/<fd>; see vhnetstat(8) and
 * Documentation/tracing.rst). Needs the right to read other processes'
 * fdinfo (root, or the same user) for devices it should see.
 *
 *   vhnetstat [--json] [-i SECONDS [-c COUNT]]
 *
 * -i: after the listing, every SECONDS the same with per-second rates of
 * the first five counters (COUNT times, default until interrupted).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/vhnet.h>

#define MAX_DEVS	4096

static const char *const qname[VHNET_QUEUES] = { "rx", "tx" };
static const char *const counter[] = {
	"packets", "bytes", "errors", "kicks", "signals", "batches", "broken",
};

#define NCOUNTERS	(sizeof(counter) / sizeof(*counter))

struct dev {
	int pid, fd;			/* the holder of the device file */
	long long owner;
	unsigned long long features;
	char backend[VHNET_QUEUES][16];
	char ifname[VHNET_QUEUES][IF_NAMESIZE + 2];
	unsigned long long ino[VHNET_QUEUES];
	unsigned long long c[VHNET_QUEUES][NCOUNTERS];
};

static bool is_num(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Parse the vhnet lines of one fdinfo file; false if it is not vhnet's. */
static bool read_fdinfo(const char *path, struct dev *d)
{
	char line[256], key[64];
	bool ours = false;
	unsigned int q, k;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, ':');

		if (!v || strncmp(line, "vhnet-", 6))
			continue;
		*v++ = '\0';
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = '\0';
		if (!strcmp(line, "vhnet-owner")) {
			d->owner = strtoll(v, NULL, 10);
			ours = true;
			continue;
		}
		if (!strcmp(line, "vhnet-features")) {
			d->features = strtoull(v, NULL, 0);
			continue;
		}
		for (q = 0; q < VHNET_QUEUES; q++) {
			snprintf(key, sizeof(key), "vhnet-%s-backend", qname[q]);
			if (!strcmp(line, key))
				snprintf(d->backend[q], sizeof(d->backend[q]), "%s", v);
			snprintf(key, sizeof(key), "vhnet-%s-backend-ino", qname[q]);
			if (!strcmp(line, key))
				d->ino[q] = strtoull(v, NULL, 10);
			for (k = 0; k < NCOUNTERS; k++) {
				snprintf(key, sizeof(key), "vhnet-%s-%s", qname[q],
					 counter[k]);
				if (!strcmp(line, key))
					d->c[q][k] = strtoull(v, NULL, 10);
			}
		}
	}
	fclose(f);
	return ours;
}

/* ifindex of the AF_PACKET socket with inode @ino (/proc/net/packet). */
static int packet_ifindex(unsigned long long ino)
{
	char line[256];
	unsigned long long i;
	int ifindex, ret = 0;
	FILE *f = fopen("/proc/net/packet", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		/* sk RefCnt Type Proto Iface R Rmem User Inode */
		if (sscanf(line, "%*s %*s %*s %*s %d %*s %*s %*s %llu",
			   &ifindex, &i) == 2 && i == ino) {
			ret = ifindex;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * The interface behind queue @q: macvtap's /dev/tapN is the interface
 * with index N, AF_PACKET's from /proc/net/packet. A tap file does not
 * say which tun fd it is (they share /dev/net/tun's inode): the holder's
 * tun fds are looked at, and the name given only if they all agree.
 */
static void resolve_ifname(struct dev *d, unsigned int q)
{
	char path[PATH_MAX], link[PATH_MAX], line[128], name[IF_NAMESIZE + 1] = "";
	bool ambiguous = false;
	struct dirent *e;
	ssize_t n;
	DIR *dir;
	int idx;

	snprintf(d->ifname[q], sizeof(d->ifname[q]), "-");
	if (!strcmp(d->backend[q], "packet")) {
		idx = packet_ifindex(d->ino[q]);
		if (idx > 0 && if_indextoname(idx, name))
			snprintf(d->ifname[q], sizeof(d->ifname[q]), "%s", name);
		return;
	}
	if (strcmp(d->backend[q], "tap") && strcmp(d->backend[q], "macvtap"))
		return;
	snprintf(path, sizeof(path), "/proc/%d/fd", d->pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		struct stat st;
		FILE *f;

		if (!is_num(e->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", d->pid, e->d_name);
		if (stat(path, &st) || (unsigned long long)st.st_ino != d->ino[q])
			continue;
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(d->backend[q], "macvtap")) {
			if (sscanf(link, "/dev/tap%d", &idx) == 1 &&
			    if_indextoname(idx, name))
				snprintf(d->ifname[q], sizeof(d->ifname[q]), "%s",
					 name);
			break;
		}
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", d->pid,
			 e->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f)) {
			char iff[IF_NAMESIZE + 1];

			if (sscanf(line, "iff: %16s", iff) != 1)
				continue;
			if (name[0] && strcmp(name, iff))
				ambiguous = true;
			snprintf(name, sizeof(name), "%s", iff);
		}
		if (f)
			fclose(f);
	}
	closedir(dir);
	if (!strcmp(d->backend[q], "tap") && name[0])
		snprintf(d->ifname[q], sizeof(d->ifname[q]), "%s",
			 ambiguous ? "?" : name);
}

/* Every vhnet device file open on the host. */
static int scan(struct dev *devs, int max)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct dirent *p, *e;
	DIR *proc, *fds;
	int n = 0;
	ssize_t len;
	unsigned int q;

	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while ((p = readdir(proc)) && n < max) {
		if (!is_num(p->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((e = readdir(fds)) && n < max) {
			struct dev *d = &devs[n];

			if (!is_num(e->d_name))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name,
				 e->d_name);
			len = readlink(path, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			if (strncmp(link, "/dev/", 5))
				continue;
			memset(d, 0, sizeof(*d));
			d->pid = atoi(p->d_name);
			d->fd = atoi(e->d_name);
			snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s",
				 p->d_name, e->d_name);
			if (!read_fdinfo(path, d))
				continue;
			for (q = 0; q < VHNET_QUEUES; q++)
				resolve_ifname(d, q);
			n++;
		}
		closedir(fds);
	}
	closedir(proc);
	return n;
}

static const struct dev *find(const struct dev *devs, int n, const struct dev *d)
{
	int i;

	for (i = 0; i < n; i++)
		if (devs[i].pid == d->pid && devs[i].fd == d->fd)
			return &devs[i];
	return NULL;
}

static void print_table(const struct dev *devs, int n, const struct dev *old,
			int nold, double secs)
{
	unsigned int q, k;
	int i;

	printf("%7s %4s %7s %2s %-8s %-16s", "PID", "FD", "OWNER", "Q", "BACKEND",
	       "IFACE");
	for (k = 0; k < NCOUNTERS; k++)
		printf(secs > 0 && k < 5 ? " %12s/s" : " %12s", counter[k]);
	printf("\n");
	for (i = 0; i < n; i++) {
		const struct dev *d = &devs[i], *o = old ? find(old, nold, d) : NULL;

		for (q = 0; q < VHNET_QUEUES; q++) {
			printf("%7d %4d %7lld %2s %-8s %-16s", d->pid, d->fd,
			       d->owner, qname[q], d->backend[q], d->ifname[q]);
			for (k = 0; k < NCOUNTERS; k++) {
				unsigned long long v = d->c[q][k];

				if (secs > 0 && k < 5)
					printf(" %14.0f", o ? (v - o->c[q][k]) / secs : 0.0);
				else
					printf(" %12llu", v);
			}
			printf("\n");
		}
	}
}

static void print_json(const struct dev *devs, int n)
{
	unsigned int q, k;
	int i;

	printf("[");
	for (i = 0; i < n; i++) {
		const struct dev *d = &devs[i];

		printf("%s\n {\"pid\": %d, \"fd\": %d, ", i ? "," : "",
		       d->pid, d->fd);
		printf("\"owner\": %lld, \"features\": %llu, \"queues\": [",
		       d->owner, d->features);
		for (q = 0; q < VHNET_QUEUES; q++) {
			printf("%s{\"queue\": \"%s\", \"backend\": \"%s\", \"ifname\": \"%s\"",
			       q ? ", " : "", qname[q], d->backend[q], d->ifname[q]);
			for (k = 0; k < NCOUNTERS; k++)
				printf(", \"%s\": %llu", counter[k], d->c[q][k]);
			printf("}");
		}
		printf("]}");
	}
	printf("\n]\n");
}

static void print_usage(FILE *f)
{
	fputs("usage: vhnetstat [--json] [-i SECONDS [-c COUNT]]\n", f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct dev a[MAX_DEVS], b[MAX_DEVS];
	struct dev *cur = a, *old = b, *t;
	double interval = 0;
	long count = -1;
	bool json = false;
	int c, n, nold = 0;

	while ((c = getopt_long(argc, argv, "ji:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'i':
			interval = strtod(optarg, NULL);
			if (interval <= 0) {
				print_usage(stderr);
				return 2;
			}
			break;
		case 'c':
			count = strtol(optarg, NULL, 10);
			break;
		case 'h':
			print_usage(stdout);
			return 0;
		default:
			print_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (json && interval > 0)) {
		print_usage(stderr);
		return 2;
	}
	n = scan(cur, MAX_DEVS);
	if (n < 0) {
		fprintf(stderr, "vhnetstat: /proc: %s\n", strerror(-n));
		return 1;
	}
	if (json) {
		print_json(cur, n);
		return 0;
	}
	print_table(cur, n, NULL, 0, 0);
	while (interval > 0 && count != 0) {
		struct timespec ts = {
			.tv_sec = (time_t)interval,
			.tv_nsec = (long)((interval - (time_t)interval) * 1e9),
		};

		nanosleep(&ts, NULL);
		t = old, old = cur, cur = t;
		nold = n;
		n = scan(cur, MAX_DEVS);
		if (n < 0)
			return 1;
		printf("\n");
		print_table(cur, n, old, nold, interval);
		fflush(stdout);
		if (count > 0)
			count--;
	}
	return 0;
}
