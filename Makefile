# SPDX-License-Identifier: GPL-2.0
#
# vhnet: out-of-tree in-kernel virtio-net backend.
#
#   make [KDIR=...]        build vhnet.ko against KDIR
#   make install           modules_install + depmod, <linux/vhnet.h>,
#                          vhnetstat and its man page, the udev rule and
#                          the modprobe.d example (DESTDIR, PREFIX, UDEVDIR)
#   make tools             vhnetstat and tools/examples/minimal-vmm, into
#                          $(BUILD)/tools
#   make deb               the vhnet-dkms Debian package, into $(BUILD)/deb
#   make lint              checkpatch --strict, sparse and shellcheck
#   make check             full VM test run on every supported kernel
#   make check-quick       one kernel, for fast iteration
#   make check-debug       the tests on a KASAN/lockdep/kmemleak/UBSAN kernel
#   make check-libvirt     unmodified libvirt runs a guest on vhnet, per kernel
#   make demo              the main job end to end
#   make fuzz              ioctl and ring fuzzers, 10^6 each per kernel

KDIR ?= /lib/modules/$(shell uname -r)/build
PWD := $(CURDIR)
BUILD ?= $(CURDIR)/build
PREFIX ?= /usr/local
UDEVDIR ?= /etc/udev/rules.d
CFLAGS ?= -O2 -g -Wall -Wextra

.PHONY: all modules install clean deps lint sparse check check-quick check-debug check-libvirt demo bench fuzz tools deb

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(PWD) modules

tools: $(BUILD)/tools/vhnetstat $(BUILD)/tools/minimal-vmm

# Built against the header in this tree, as users build against the
# installed one.
$(BUILD)/tools/vhnetstat: tools/vhnetstat/vhnetstat.c include/uapi/linux/vhnet.h
	mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -D_GNU_SOURCE -Iinclude/uapi -o $@ $<

# The example VMM (Documentation/vmm-guide.rst); not installed.
$(BUILD)/tools/minimal-vmm: tools/examples/minimal-vmm.c include/uapi/linux/vhnet.h
	mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iinclude/uapi -o $@ $<

install: modules tools
	$(MAKE) -C $(KDIR) M=$(PWD) modules_install
	depmod -a $(notdir $(patsubst %/build,%,$(KDIR)))
	install -D -m 0644 include/uapi/linux/vhnet.h $(DESTDIR)$(PREFIX)/include/linux/vhnet.h
	install -D -m 0755 $(BUILD)/tools/vhnetstat $(DESTDIR)$(PREFIX)/sbin/vhnetstat
	install -D -m 0644 tools/vhnetstat/vhnetstat.8 $(DESTDIR)$(PREFIX)/share/man/man8/vhnetstat.8
	install -D -m 0644 dist/udev/60-vhnet.rules $(DESTDIR)$(UDEVDIR)/60-vhnet.rules
	install -D -m 0644 dist/modprobe.d/vhnet-vhost-net.conf \
		$(DESTDIR)$(PREFIX)/share/doc/vhnet/examples/vhnet-vhost-net.conf

# DKMS builds the module where the package is installed (dkms.conf).
deb:
	@VHNET_BUILD=$(BUILD) tools/vm/deps.sh --quiet --deb && \
		VHNET_BUILD=$(BUILD) tools/deb.sh

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean 2>/dev/null || true
	rm -rf $(BUILD)

deps:
	tools/vm/deps.sh

lint: deps
	tools/lint.sh

# Quiet deps: the first line of these names the VM accelerator.
check:
	@tools/vm/deps.sh --quiet && tools/vm/check.sh --all

check-quick:
	@tools/vm/deps.sh --quiet && tools/vm/check.sh --quick

# Builds the debug kernel first (once, ~30 min; tools/vm/debug-kernel.sh).
check-debug:
	@tools/vm/deps.sh --quiet --debug && tools/vm/check.sh --debug

# libvirtd in the test VM starts a KVM guest with <driver name='vhost'/>
# on vhnet's /dev/vhost-net (selftests/vhnet_libvirt_test.sh), on both
# kernels; a few minutes, apart from make check, which skips that test.
check-libvirt:
	@tools/vm/deps.sh --quiet --libvirt && \
		VHNET_ONLY=vhnet_libvirt_test VHNET_LIBVIRT=1 tools/vm/check.sh --all

demo:
	@tools/vm/deps.sh --quiet && tools/vm/demo.sh

bench:
	@tools/vm/deps.sh --quiet && tools/vm/bench.sh

# The ioctl and ring fuzzers alone, long, on both kernels
# (VHNET_FUZZ_IOCTLS calls, VHNET_FUZZ_RINGS rings, seed VHNET_FUZZ_SEED).
fuzz:
	@tools/vm/deps.sh --quiet && \
		VHNET_ONLY="vhnet_fuzz_test vhnet_ringfuzz_test" \
		VHNET_FUZZ_IOCTLS=$${VHNET_FUZZ_IOCTLS:-1000000} \
		VHNET_FUZZ_RINGS=$${VHNET_FUZZ_RINGS:-1000000} \
		VHNET_TEST_TIMEOUT=$${VHNET_TEST_TIMEOUT:-3000} \
		VHNET_VM_TIMEOUT=$${VHNET_VM_TIMEOUT:-7200} tools/vm/check.sh --all
