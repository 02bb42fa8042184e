// SPDX-License-Identifier: GPL-2.0
/* Guest TX ring to backend socket. */
#include "vhnet.h"

void vhnet_handle_tx(struct vhnet_work *work)
{
}
