// SPDX-License-Identifier: GPL-2.0
/*
 * Fake guest: host-side views of vhnet devices and of the machine (see
 * fg_sys.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fg_sys.h"

void fg_sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static ssize_t fg_read_text(const char *path, char *buf, size_t len)
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

/* Call @fn for each thread whose comm is @name; returns the count. */
static int fg_for_threads(const char *name, int (*fn)(pid_t tid, void *arg),
			  void *arg)
{
	char want[32], path[600], comm[64];
	struct dirent *de, *te;
	DIR *dir, *tdir;
	int n = 0, ret = 0;

	snprintf(want, sizeof(want), "%s\n", name);
	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while (ret >= 0 && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", de->d_name);
		tdir = opendir(path);
		if (!tdir)
			continue;	/* gone meanwhile */
		while (ret >= 0 && (te = readdir(tdir)) != NULL) {
			if (te->d_name[0] < '1' || te->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/comm",
				 de->d_name, te->d_name);
			if (fg_read_text(path, comm, sizeof(comm)) <= 0 ||
			    strcmp(comm, want))
				continue;
			ret = fn(atoi(te->d_name), arg);
			n++;
		}
		closedir(tdir);
	}
	closedir(dir);
	return ret < 0 ? ret : n;
}

/*
 * Call @fn for each thread named vhnet-<@owner>: a kthread, or a thread
 * of the owner on kernels whose worker is a vhost_task. Returns the count.
 */
static int fg_for_workers(pid_t owner, int (*fn)(pid_t tid, void *arg),
			  void *arg)
{
	char name[32];

	snprintf(name, sizeof(name), "vhnet-%d", (int)owner);
	return fg_for_threads(name, fn, arg);
}

static int fg_pin_one(pid_t tid, void *arg)
{
	const cpu_set_t *set = arg;

	return sched_setaffinity(tid, sizeof(*set), set) ? -errno : 0;
}

int fg_pin_workers(pid_t owner, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return fg_for_workers(owner, fg_pin_one, &set);
}

static int fg_lowest_tid(pid_t tid, void *arg)
{
	pid_t *low = arg;

	if (!*low || tid < *low)
		*low = tid;
	return 0;
}

int fg_worker_count(pid_t owner, pid_t *tid)
{
	pid_t low = 0;
	int n;

	n = fg_for_workers(owner, fg_lowest_tid, &low);
	if (tid)
		*tid = low;
	return n < 0 ? -1 : n;
}

int fg_wait_workers(pid_t owner, int want, int ms)
{
	int waited, n = -1;

	for (waited = 0; waited <= ms; waited += 10) {
		n = fg_worker_count(owner, NULL);
		if (n == want)
			break;
		fg_sleep_ms(10);
	}
	return n;
}

int fg_debugfs_count(pid_t owner, int *id)
{
	struct dirent *de;
	int n = 0, pid, i, high = -1;
	char dash;
	DIR *dir;

	dir = opendir(FG_VHNET_DEBUGFS);
	if (!dir)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (sscanf(de->d_name, "%d%c%d", &pid, &dash, &i) != 3 ||
		    dash != '-' || pid != owner)
			continue;
		n++;
		if (i > high)
			high = i;
	}
	closedir(dir);
	if (id)
		*id = high;
	return n;
}

int fg_wait_debugfs(pid_t owner, int want, int ms)
{
	int waited, n = -1;

	for (waited = 0; waited <= ms; waited += 10) {
		n = fg_debugfs_count(owner, NULL);
		if (n == want)
			break;
		fg_sleep_ms(10);
	}
	return n;
}

long long fg_debugfs_stat(pid_t owner, const char *queue, const char *name)
{
	char path[300], buf[1024], want[40], *line, *p;
	size_t qlen = strlen(queue);
	long long v;
	int id;

	if (fg_debugfs_count(owner, &id) < 1)
		return -1;
	snprintf(path, sizeof(path), FG_VHNET_DEBUGFS "/%d-%d/stats",
		 (int)owner, id);
	if (fg_read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	snprintf(want, sizeof(want), " %s ", name);
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, queue, qlen) || line[qlen] != ' ')
			continue;
		p = strstr(line, want);
		if (p && sscanf(p + strlen(want), "%lld", &v) == 1)
			return v;
	}
	return -1;
}

int fg_vhnet_param(const char *name, const char *value, char *old, size_t len)
{
	char path[128];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/sys/module/vhnet/parameters/%s", name);
	if (old && fg_read_text(path, old, len) < 0)
		return -errno;
	if (old)
		old[strcspn(old, "\n")] = '\0';
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

bool fg_wait_netdev_gone(const char *name, int ms)
{
	char path[64];
	struct stat st;
	int waited;

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	for (waited = 0; waited <= ms; waited += 10) {
		if (stat(path, &st) && errno == ENOENT)
			return true;
		fg_sleep_ms(10);
	}
	return false;
}

long long fg_task_cpu_ns(pid_t tid)
{
	unsigned long long ns, ut, st;
	char path[64], buf[1024], *p;
	long hz;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)tid);
	if (fg_read_text(path, buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%llu", &ns) == 1)
		return ns;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	if (fg_read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	/* comm may hold spaces: fields 14 and 15 count from its ')'. */
	p = strrchr(buf, ')');
	hz = sysconf(_SC_CLK_TCK);
	if (!p || hz <= 0 ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &ut, &st) != 2)
		return -1;
	return (long long)((ut + st) * (1000000000ULL / hz));
}

long long fg_thread_busy_ns(const char *name, unsigned int ms)
{
	long long a, b;
	pid_t tid = 0;

	if (fg_for_threads(name, fg_lowest_tid, &tid) < 1)
		return -1;
	a = fg_task_cpu_ns(tid);
	fg_sleep_ms(ms);
	b = fg_task_cpu_ns(tid);
	if (a < 0 || b < 0)
		return -1;
	return b - a;
}

long long fg_worker_busy_ns(pid_t owner, unsigned int ms)
{
	char name[32];

	snprintf(name, sizeof(name), "vhnet-%d", (int)owner);
	return fg_thread_busy_ns(name, ms);
}

long fg_meminfo_kb(const char *key)
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

long fg_settled_slab_kb(void)
{
	long v, best = LONG_MAX;
	int fd, i;

	fg_sleep_ms(1000);
	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	i = write(fd, "3\n", 2);
	close(fd);
	if (i != 2)
		return -1;
	fg_sleep_ms(200);
	for (i = 0; i < 3; i++) {
		v = fg_meminfo_kb("Slab");
		if (v >= 0 && v < best)
			best = v;
		fg_sleep_ms(100);
	}
	return best == LONG_MAX ? -1 : best;
}

int fg_module_unload(const char *name, int ms)
{
	int waited;

	for (waited = 0; ; waited += 50) {
		if (!syscall(SYS_delete_module, name, O_NONBLOCK))
			return 0;
		if ((errno != EAGAIN && errno != EWOULDBLOCK &&
		     errno != EBUSY) || waited >= ms)
			return errno;
		fg_sleep_ms(50);
	}
}

int fg_module_load(const char *path)
{
	return fg_module_load_args(path, "");
}

int fg_module_load_args(const char *path, const char *args)
{
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (syscall(SYS_finit_module, fd, args, 0))
		ret = errno;
	close(fd);
	return ret;
}

int fg_slab_snapshot(struct fg_slab_use *s, int max)
{
	unsigned long active, size;
	char line[512];
	FILE *fp;
	int n = 0;

	fp = fopen("/proc/slabinfo", "re");
	if (!fp)
		return -1;
	while (n < max && fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%31s %lu %*u %lu", s[n].name, &active,
			   &size) != 3)
			continue;
		s[n++].kb = (long)(active * size / 1024);
	}
	fclose(fp);
	return n;
}

int fg_slab_growth(const struct fg_slab_use *before, int nb,
		   struct fg_slab_use *top, int ntop)
{
	struct fg_slab_use *now = calloc(FG_NSLABS, sizeof(*now));
	int n, i, j, k, found = 0;
	long d, best;

	if (!now)
		return 0;
	n = fg_slab_snapshot(now, FG_NSLABS);
	while (found < ntop) {
		best = 0;
		k = -1;
		for (i = 0; i < n; i++) {
			d = now[i].kb;
			for (j = 0; j < nb; j++)
				if (!strcmp(before[j].name, now[i].name))
					d -= before[j].kb;
			if (d > best) {
				best = d;
				k = i;
			}
		}
		if (k < 0)
			break;
		top[found] = now[k];
		top[found++].kb = best;
		now[k].kb -= best;	/* not again */
	}
	free(now);
	return found;
}
