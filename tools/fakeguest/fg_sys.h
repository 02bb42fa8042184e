/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: what the host kernel shows of a vhnet device and of the
 * machine, for lifecycle checks: worker threads (vhnet-<owner pid>),
 * per-device debugfs directories, Slab usage, netdevs, module unload.
 */
#ifndef FG_SYS_H
#define FG_SYS_H

#include <stdbool.h>
#include <sys/types.h>

#define FG_VHNET_DEBUGFS	"/sys/kernel/debug/vhnet"

void fg_sleep_ms(unsigned int ms);
/*
 * Threads named vhnet-<@owner>; *tid (if not NULL) gets the lowest tid
 * among them. -1 if /proc cannot be read.
 */
int fg_worker_count(pid_t owner, pid_t *tid);
/* Poll up to @ms until exactly @want such threads exist; last count. */
int fg_wait_workers(pid_t owner, int want, int ms);
/*
 * Pin every vhnet-<@owner> thread, and the calling thread, to @cpu (as a
 * VMM may do). Returns how many workers were pinned, or -errno.
 */
int fg_pin_workers(pid_t owner, int cpu);
/*
 * Directories <@owner>-<n> under FG_VHNET_DEBUGFS; *id (if not NULL) gets
 * the highest n. -1 if debugfs is not there.
 */
int fg_debugfs_count(pid_t owner, int *id);
int fg_wait_debugfs(pid_t owner, int want, int ms);
/*
 * Counter @name ("errors", "broken", ...) of queue @queue ("rx" or "tx")
 * in the stats file of @owner's newest device; -1 if not found.
 */
long long fg_debugfs_stat(pid_t owner, const char *queue, const char *name);
/*
 * Set vhnet's module parameter @name to @value; its old value goes to
 * @old (if not NULL, @len bytes). 0, or -errno.
 */
int fg_vhnet_param(const char *name, const char *value, char *old, size_t len);
/* Poll up to @ms until /sys/class/net/@name is gone. */
bool fg_wait_netdev_gone(const char *name, int ms);

/*
 * CPU time thread @tid has used, in ns (/proc/<tid>/schedstat, else
 * utime + stime from /proc/<tid>/stat); -1 if it cannot be read.
 */
long long fg_task_cpu_ns(pid_t tid);
/*
 * CPU time the (lowest-tid) worker vhnet-<@owner> uses during the next
 * @ms milliseconds, in ns; -1 if there is no such worker.
 */
long long fg_worker_busy_ns(pid_t owner, unsigned int ms);
/* The same for the lowest-tid thread whose comm is @name. */
long long fg_thread_busy_ns(const char *name, unsigned int ms);

/* One field of /proc/meminfo in kB, or -1. */
long fg_meminfo_kb(const char *key);
/*
 * Slab in kB once RCU-deferred frees had time to run and the caches were
 * dropped: the lowest of a few reads. -1 on error.
 */
long fg_settled_slab_kb(void);

/* Memory in use per slab cache (/proc/slabinfo). */
#define FG_NSLABS	512
struct fg_slab_use {
	char name[32];
	long kb;
};

/* Up to @max caches into @s; the count, or -1. */
int fg_slab_snapshot(struct fg_slab_use *s, int max);
/*
 * The (up to) @ntop caches that grew most since the snapshot @before
 * (@nb entries), largest first, with their growth in @top; the count.
 */
int fg_slab_growth(const struct fg_slab_use *before, int nb,
		   struct fg_slab_use *top, int ntop);

/*
 * Unload module @name, retrying up to @ms while it is still busy (a
 * deferred release); 0 or an errno.
 */
int fg_module_unload(const char *name, int ms);
/* Load the module file @path; 0 or an errno. */
int fg_module_load(const char *path);
/* The same with module parameters @args ("name=value ..."). */
int fg_module_load_args(const char *path, const char *args);

#endif /* FG_SYS_H */
