/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fake guest: a userspace VMM + virtio-net guest driver for exercising
 * vhost-net style devices (/dev/vhost-net, /dev/vhnet).
 *
 *   fg_mem.h      guest memory regions and the vhost memory table
 *   fg_vring.h    split virtqueue, driver side
 *   fg_dev.h      vhost device control (ioctls)
 *   fg_iotlb.h    the VMM's side of the device IOTLB (vIOMMU)
 *   fg_guest.h    virtio-net driver: TX layouts, RX buffers, reassembly
 *   fg_frame.h    self-checking test frames
 *   fg_net.h      tap, macvtap, veth, dummy, AF_PACKET helpers
 *   fg_traffic.h  the verified traffic engine
 *   fg_hostile.h  malformed rings
 *   fg_env.h      ready-made backends with host endpoints
 *   fg_sys.h      worker threads, debugfs, Slab, netdevs, module unload
 */
#ifndef FAKEGUEST_H
#define FAKEGUEST_H

#include "fg_mem.h"
#include "fg_vring.h"
#include "fg_dev.h"
#include "fg_iotlb.h"
#include "fg_guest.h"
#include "fg_frame.h"
#include "fg_net.h"
#include "fg_traffic.h"
#include "fg_hostile.h"
#include "fg_ringfuzz.h"
#include "fg_env.h"
#include "fg_sys.h"

#endif /* FAKEGUEST_H */
