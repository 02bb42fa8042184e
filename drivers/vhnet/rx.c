// SPDX-License-Identifier: GPL-2.0
/* Backend socket to guest RX ring. */
#include "vhnet.h"

void vhnet_handle_rx(struct vhnet_work *work)
{
}
