/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhnet: in-kernel virtio-net backend driven through the vhost UAPI.
 *
 * Locking: dev->mutex serialises the control plane.  Each virtqueue's
 * mutex protects its ring and backend state; the worker holds it while
 * it processes that queue.  Order: dev->mutex, then vqs[0], then vqs[1].
 */
#ifndef _VHNET_H
#define _VHNET_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/llist.h>
#include <linux/poll.h>
#include <linux/uio.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_config.h>
#include <linux/vhost_types.h>
#include <linux/u64_stats_sync.h>
#include <linux/timekeeping.h>
#include <linux/sched/signal.h>
#include <linux/spinlock.h>
#include <linux/rbtree.h>
#include <linux/wait.h>

#include "compat.h"

#define VHNET_VQ_RX		0
#define VHNET_VQ_TX		1
#define VHNET_NVQS		2
#define VHNET_RING_MAX		32768
/*
 * Per handler pass; then the handler requeues itself (fairness). Every
 * pass ends with a used-ring flush and a possible guest interrupt, and
 * the worker may give up the CPU between passes: 64 frames per pass made
 * an RX stream interrupt the guest 3-4 times as often as the in-tree
 * vhost-net, whose weight is 256 (Documentation/performance.rst).
 */
#define VHNET_BUDGET_PKTS	256
#define VHNET_BUDGET_BYTES	(512 * 1024)
/* Scratch an undeliverable RX frame is received into to drop it. */
#define VHNET_DISCARD_LEN	128
/* Used entries collected before they are published. */
#define VHNET_USED_BATCH	64
/* RX frames taken off a tap's ring at once (one ring lock for all). */
#define VHNET_RX_BATCH		64
/* TX frames handed to a tap or macvtap in one sendmsg(). */
#define VHNET_TX_BATCH		64
/* Largest VHOST_SET_VRING_BUSYLOOP_TIMEOUT, in microseconds. */
#define VHNET_BUSYLOOP_MAX_US	1000000
/* No guest-physical address: outside the memory table (dirty log). */
#define VHNET_NO_GPA		U64_MAX
/* Misc minor from the range devices.txt reserves for local use. */
#define VHNET_MINOR		250
/* MODULE_VERSION; the Debian package's version (dkms.conf) follows it. */
#define VHNET_VERSION		"0.9.0"

struct vhnet_dev;

/* One guest-physical to userspace mapping; the table is sorted by gpa. */
struct vhnet_region {
	u64 gpa;
	u64 size;
	u64 uaddr;
};

struct vhnet_mem {
	u64 last;		/* highest guest-physical address in it */
	u32 nregions;
	struct vhnet_region regions[];
};

#define VHNET_WORK_QUEUED	0

struct vhnet_work {
	struct llist_node node;
	unsigned long flags;
	void (*fn)(struct vhnet_work *work);
};

/* A wait-queue hook that turns a wakeup on a file into queued work. */
struct vhnet_poll {
	poll_table table;
	wait_queue_head_t *wqh;
	wait_queue_entry_t wait;
	__poll_t mask;
	struct vhnet_dev *dev;
	struct vhnet_work *work;
	atomic64_t wakeups;	/* matching wakeups (kicks, for kick_poll) */
};

struct vhnet_vq_stats {
	u64 packets;
	u64 bytes;
	u64 errors;	/* frames the socket refused, or too big to fit */
	u64 signals;
	u64 batches;	/* TX: batched sendmsg() calls; RX: ring refills */
	u64 broken;	/* times this queue was flagged broken */
	int last_error;	/* errno of the last counted error */
	/* Worst handler pass: loop turns, and time with the mutex held. */
	u32 turns_max;
	u64 pass_ns_max;
	/* Busy polling (TX): periods, and those that found new buffers. */
	u64 polls;
	u64 poll_hits;
	/* Dirty log: ranges logged, and failed log writes. */
	u64 log_writes;
	u64 log_errors;
	/* IOTLB misses reported to the owner. */
	u64 iotlb_misses;
};

/* A descriptor chain translated into iovecs of the owner's mm. */
struct vhnet_chain {
	u16 head;		/* split: head index; packed: buffer id */
	u16 slots;		/* ring slots taken: 1 split, descriptors packed */
	struct iovec *iov;	/* in: where to put the segments */
	u64 *gpa;		/* in: each segment's guest address */
	unsigned int max_iov;	/* in: room at @iov */
	unsigned int niov;
	size_t len;
};

struct vhnet_vq {
	struct vhnet_dev *dev;
	struct mutex mutex; /* ring + backend state; see top of file */
	unsigned int index;

	/*
	 * Ring layout: the addresses as given (IOVAs under the IOTLB), and
	 * the owner's pointers they stand for once rings_ready.
	 */
	unsigned int num;
	bool addr_set;
	bool rings_ready;
	u64 desc_addr, avail_addr, used_addr;
	struct vring_desc __user *desc;
	struct vring_avail __user *avail;
	struct vring_used __user *used;
	/* Packed (VIRTIO_F_RING_PACKED): the same three addresses. */
	struct vring_packed_desc __user *pdesc;
	struct vring_packed_desc_event __user *drv_event;
	struct vring_packed_desc_event __user *dev_event;
	u64 used_gpa;		/* the used ring's, for the log under the IOTLB */
	bool used_idx_pending;	/* attach under the IOTLB: read it once mapped */

	/*
	 * Ring progress. Packed rings count slots the same free-running way:
	 * position p is slot p & (num - 1) with wrap counter !(p & num),
	 * which holds across the u16 wrap as num is a power of two.
	 */
	u16 last_avail_idx;
	u16 avail_idx;		/* last value read from avail->idx */
	u16 last_used_idx;
	u16 signalled_used;
	bool signalled_used_valid;
	bool broken;
	u32 busyloop_us;	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT */
	bool log_used;		/* VHOST_VRING_F_LOG: log used-ring writes */
	u64 log_addr;		/* the used ring's guest address */
	bool log_pending;	/* bits set since the last log signal */

	/* Negotiated features, copied under the vq mutex. */
	u64 features;
	size_t vhost_hlen;	/* header vhnet adds/strips itself */
	size_t sock_hlen;	/* header the socket handles */

	struct file *kick;
	struct eventfd_ctx *call;
	struct eventfd_ctx *err;
	struct vhnet_poll kick_poll;
	struct vhnet_work work;

	/* Backend. */
	struct file *sock_file;
	struct socket *sock;
	struct vhnet_poll sock_poll;
	bool tx_blocked;	/* TX waits for socket space */
	/*
	 * RX from a tap or macvtap: its frame ring, and the frames taken
	 * off it, rxb[rxb_head..rxb_tail), owned by vhnet until received,
	 * dropped or put back (vq->mutex).
	 */
	struct ptr_ring *rx_ring;
	void **rxb;
	unsigned int rxb_head, rxb_tail;
	/*
	 * TX to a tap or macvtap: small frames, copied into page fragments,
	 * wait in txb[0..txb_n) for one sendmsg(); sent before the pass ends.
	 */
	bool tx_xdp;
	struct xdp_buff *txb;
	unsigned int txb_n;
	struct page_frag_cache tx_frags;	/* the fragments' pages */

	/* Scratch for the worker, allocated with the device. */
	struct iovec *iov;
	u64 *iov_gpa;		/* guest address of each vq->iov segment */
	struct vring_used_elem *heads;
	u16 *slots;		/* packed: each head's ring slots */
	unsigned int nheads;

	/* The IOTLB miss this queue waits for (dev->iotlb_lock). */
	u64 miss_iova;
	u8 miss_perm;
	u8 miss_state;

	struct vhnet_vq_stats stats;
};

#define VHNET_MISS_NONE		0
#define VHNET_MISS_QUEUED	1	/* for read() */
#define VHNET_MISS_SENT		2	/* read; waiting for an UPDATE */

struct vhnet_dev {
	struct mutex mutex; /* control plane; see top of file */
	struct mm_struct *mm;
	pid_t owner_pid;
	struct vhnet_task *worker;
	struct llist_head work_list;
	bool worker_stop;	/* teardown: run no more handlers */
	bool worker_dead;	/* killed with the owner (vhost_task) */
	bool worker_polled;	/* the worker's own: polled since work */
	bool fork_owner;	/* the worker is a vhost_task (compat.h) */
	struct vhnet_mem *mem;
	/* Dirty log; the worker reads these under a vq mutex, like mem. */
	void __user *log_base;
	struct eventfd_ctx *log_ctx;
	u64 features;
	u64 backend_features;
	/* IOTLB: translations (interval tree, list oldest first), misses. */
	spinlock_t iotlb_lock;	/* the tree, list, count and vqs' miss_* */
	struct rb_root_cached iotlb;
	struct list_head iotlb_list;
	unsigned int iotlb_count;
	wait_queue_head_t iotlb_wait;	/* read() and poll() wait for a miss */
	struct dentry *debugfs;
	struct vhnet_vq vqs[VHNET_NVQS];
};

#define VHNET_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | \
			(1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
			(1ULL << VIRTIO_RING_F_EVENT_IDX) | \
			(1ULL << VIRTIO_F_ANY_LAYOUT) | \
			(1ULL << VIRTIO_F_NOTIFY_ON_EMPTY) | \
			(1ULL << VIRTIO_NET_F_MRG_RXBUF) | \
			(1ULL << VHOST_NET_F_VIRTIO_NET_HDR) | \
			(1ULL << VHOST_F_LOG_ALL) | \
			(1ULL << VIRTIO_F_ACCESS_PLATFORM) | \
			(1ULL << VIRTIO_F_RING_RESET) | \
			(1ULL << VIRTIO_F_RING_PACKED) | \
			(1ULL << VIRTIO_F_IN_ORDER))
#define VHNET_BACKEND_FEATURES BIT_ULL(VHOST_BACKEND_F_IOTLB_MSG_V2)

/* In the worker: whether to stop running handlers (teardown, owner killed). */
static inline bool vhnet_worker_stopping(struct vhnet_dev *dev)
{
	return READ_ONCE(dev->worker_stop) || fatal_signal_pending(current);
}

/*
 * Charge one turn of a handler loop (a frame moved or dropped, or a new
 * look at a ring that changed under us) against the pass's budget. True
 * when the pass must end: the handler requeues itself and returns, and
 * the worker may reschedule or stop before the next pass.
 */
static inline bool vhnet_budget_spent(unsigned int *pkts, size_t bytes)
{
	return ++*pkts >= VHNET_BUDGET_PKTS || bytes >= VHNET_BUDGET_BYTES;
}

/*
 * Record a handler pass that went round its loop @turns times since
 * @start_ns (counted apart from the budget, so that a path that skips the
 * budget shows up in the stats).
 */
static inline void vhnet_pass_done(struct vhnet_vq *vq, unsigned int turns,
				   u64 start_ns)
{
	u64 ns = ktime_get_ns() - start_ns;

	if (turns > vq->stats.turns_max)
		vq->stats.turns_max = turns;
	if (ns > vq->stats.pass_ns_max)
		vq->stats.pass_ns_max = ns;
}

/*
 * Whether [addr, addr + size) of a 64-bit UAPI user address fits in an
 * unsigned long (always on 64-bit; not so on a 32-bit kernel).
 */
static inline bool vhnet_uaddr_fits(u64 addr, u64 size)
{
	u64 last = size ? addr + size - 1 : addr;

	return (u64)(unsigned long)addr == addr &&
	       (u64)(unsigned long)last == last;
}

static inline bool vhnet_has(const struct vhnet_vq *vq, unsigned int bit)
{
	return vq->features & (1ULL << bit);
}

static inline bool vhnet_packed(const struct vhnet_vq *vq)
{
	return vhnet_has(vq, VIRTIO_F_RING_PACKED);
}

static inline bool vhnet_vq_le(const struct vhnet_vq *vq)
{
	return vhnet_has(vq, VIRTIO_F_VERSION_1) ||
	       virtio_legacy_is_little_endian();
}

/* Ring fields are little-endian for VERSION_1, native for legacy. */
static inline u16 vq16(const struct vhnet_vq *vq, __virtio16 v)
{
	return __virtio16_to_cpu(vhnet_vq_le(vq), v);
}

static inline u32 vq32(const struct vhnet_vq *vq, __virtio32 v)
{
	return __virtio32_to_cpu(vhnet_vq_le(vq), v);
}

static inline u64 vq64(const struct vhnet_vq *vq, __virtio64 v)
{
	return __virtio64_to_cpu(vhnet_vq_le(vq), v);
}

static inline __virtio16 cpu_vq16(const struct vhnet_vq *vq, u16 v)
{
	return __cpu_to_virtio16(vhnet_vq_le(vq), v);
}

static inline __virtio32 cpu_vq32(const struct vhnet_vq *vq, u32 v)
{
	return __cpu_to_virtio32(vhnet_vq_le(vq), v);
}

/* mem.c */
struct vhnet_mem *vhnet_mem_from_user(const void __user *argp,
				      unsigned int max_regions);
int vhnet_mem_translate(const struct vhnet_mem *mem, u64 gpa, u64 len,
			struct iovec *iov, u64 *seg_gpa, unsigned int max_iov);
u64 vhnet_mem_gpa_of(const struct vhnet_mem *mem, u64 uaddr, u64 len);

/* iotlb.c */
static inline bool vhnet_iotlb_on(const struct vhnet_vq *vq)
{
	return vhnet_has(vq, VIRTIO_F_ACCESS_PLATFORM);
}

void vhnet_iotlb_init(struct vhnet_dev *dev);
void vhnet_iotlb_clear(struct vhnet_dev *dev);
int vhnet_translate(struct vhnet_vq *vq, u64 addr, u64 len, u8 perm,
		    struct iovec *iov, u64 *seg_gpa, unsigned int max_iov);
int vhnet_copy_from_guest(struct vhnet_vq *vq, void *dst, u64 addr,
			  size_t len);
int vhnet_vq_map_rings(struct vhnet_vq *vq);
ssize_t vhnet_iotlb_write(struct vhnet_dev *dev, const char __user *buf,
			  size_t len);
ssize_t vhnet_iotlb_read(struct vhnet_dev *dev, char __user *buf, size_t len,
			 bool nonblock);
__poll_t vhnet_iotlb_poll(struct vhnet_dev *dev, struct file *f,
			  poll_table *wait);

/* vring.c */
enum vhnet_ring_part { VHNET_DESC, VHNET_AVAIL, VHNET_USED };
u64 vhnet_ring_size(unsigned int num, bool packed, enum vhnet_ring_part part);
int vhnet_vq_check_addr(unsigned int num, bool packed, u64 desc, u64 avail,
			u64 used, bool iova);
int vhnet_vq_read_used_idx(struct vhnet_vq *vq, u16 *used_idx);
void vhnet_vq_start(struct vhnet_vq *vq, u16 used_idx);
int vhnet_vq_next_chain(struct vhnet_vq *vq, bool writable,
			struct vhnet_chain *chain);
void vhnet_vq_unget(struct vhnet_vq *vq, unsigned int slots);
int vhnet_vq_push_used(struct vhnet_vq *vq, const struct vhnet_chain *chain,
		       u32 len);
int vhnet_vq_flush_used(struct vhnet_vq *vq);
bool vhnet_vq_inorder_batch(const struct vhnet_vq *vq);
bool vhnet_vq_enable_notify(struct vhnet_vq *vq);
int vhnet_vq_avail_mark(struct vhnet_vq *vq, u16 *mark);
void vhnet_vq_disable_notify(struct vhnet_vq *vq);
void vhnet_vq_signal(struct vhnet_vq *vq);
void vhnet_vq_break(struct vhnet_vq *vq, const char *why);
int vhnet_chain_add(struct vhnet_vq *vq, struct vhnet_chain *chain,
		    u64 addr, u32 len, bool dev_writes, bool writable);
int vhnet_indirect_entry(struct vhnet_vq *vq, void *d, size_t size, u64 base,
			 unsigned int i);

/* packed.c */
static inline u16 vhnet_slot(const struct vhnet_vq *vq, u16 pos)
{
	return pos & (vq->num - 1);
}

/* The wrap counter of free-running position @pos (1 on the first lap). */
static inline bool vhnet_wrap(const struct vhnet_vq *vq, u16 pos)
{
	return !(pos & vq->num);
}

u32 vhnet_packed_get_base(const struct vhnet_vq *vq);
int vhnet_packed_set_base(struct vhnet_vq *vq, u32 base);
int vhnet_packed_next_chain(struct vhnet_vq *vq, bool writable,
			    struct vhnet_chain *chain);
int vhnet_packed_flush_used(struct vhnet_vq *vq);
bool vhnet_packed_avail(struct vhnet_vq *vq, int *err);
void vhnet_packed_disable_notify(struct vhnet_vq *vq);
bool vhnet_packed_enable_notify(struct vhnet_vq *vq);
bool vhnet_packed_need_signal(struct vhnet_vq *vq);

/* log.c */
static inline bool vhnet_logging(const struct vhnet_vq *vq)
{
	return vhnet_has(vq, VHOST_F_LOG_ALL);
}

size_t vhnet_log_bytes(const struct vhnet_mem *mem);
int vhnet_log_check(const struct vhnet_mem *mem, void __user *base);
int vhnet_log_write(struct vhnet_vq *vq, u64 gpa, u64 len);
int vhnet_log_used(struct vhnet_vq *vq, size_t off, size_t len);
int vhnet_log_desc(struct vhnet_vq *vq, size_t off, size_t len);
int vhnet_log_iov(struct vhnet_vq *vq, unsigned int niov, size_t len);
void vhnet_log_signal(struct vhnet_vq *vq);

/* worker.c */
int vhnet_worker_start(struct vhnet_dev *dev);
void vhnet_worker_halt(struct vhnet_dev *dev);
void vhnet_worker_stop(struct vhnet_dev *dev);
void vhnet_worker_flush(struct vhnet_dev *dev);
void vhnet_work_init(struct vhnet_work *work, void (*fn)(struct vhnet_work *));
void vhnet_work_queue(struct vhnet_dev *dev, struct vhnet_work *work);
void vhnet_poll_init(struct vhnet_poll *poll, struct vhnet_dev *dev,
		     struct vhnet_work *work, __poll_t mask);
void vhnet_poll_start(struct vhnet_poll *poll, struct file *file);
void vhnet_poll_stop(struct vhnet_poll *poll);

/* busypoll.c */
bool vhnet_busy_poll(struct vhnet_dev *dev);

/* sock.c */
struct socket *vhnet_sock_from_file(struct file *file);
int vhnet_sock_peek_len(struct socket *sock);
struct ptr_ring *vhnet_sock_rx_ring(struct file *file);
bool vhnet_tx_can_batch(struct file *file);
struct xdp_buff *vhnet_tx_batch_alloc(void);

/* stats.c */
struct seq_file;
long vhnet_get_stats(struct vhnet_dev *dev, unsigned int cmd,
		     void __user *argp);
void vhnet_show_fdinfo(struct seq_file *m, struct file *f);
int vhnet_rxq_peek(struct vhnet_vq *vq);
void *vhnet_rxq_take(struct vhnet_vq *vq);
void vhnet_rxq_drop(struct vhnet_vq *vq);
void vhnet_rxq_return(struct vhnet_vq *vq);

/* debugfs.c */
void vhnet_debugfs_add(struct vhnet_dev *dev);
void vhnet_debugfs_remove(struct vhnet_dev *dev);
void vhnet_debugfs_init(void);
void vhnet_debugfs_exit(void);

/* tx.c, rx.c */
void vhnet_handle_tx(struct vhnet_work *work);
void vhnet_handle_rx(struct vhnet_work *work);

#endif /* _VHNET_H */
