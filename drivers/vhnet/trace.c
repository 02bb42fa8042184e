// SPDX-License-Identifier: GPL-2.0
/* The tracepoints' definitions; the events are in vhnet_trace.h. */
#define CREATE_TRACE_POINTS
#include "vhnet_trace.h"
