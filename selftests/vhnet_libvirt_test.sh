#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vhnet_libvirt_test: unmodified libvirt (Debian 12's libvirtd and virsh)
# runs a KVM guest with <driver name='vhost'/> on vhnet (TAP).
#
# Runs in the test VM (tools/vm/guest-run.sh), as root, with vhnet.ko
# loaded, only when VHNET_LIBVIRT=1 (make check-libvirt sets it; the
# packages come from tools/vm/deps.sh --libvirt); otherwise one skipped
# case. libvirtd starts as root in a private mount namespace: the host's
# root is read-only here, so tmpfs over /var/lib and /var/cache, the
# results directory as /var/log, a copy of /etc/libvirt with a qemu.conf
# for this VM, and copies of /etc/passwd and /etc/group that add the
# libvirt-qemu user and group the QEMU driver looks up at start (Debian's
# libvirt-daemon-system would create them, with polkit, firewalld and
# more). Then two transient domains, one after the other, each made
# with virsh create: type kvm (libvirt opens a vhost device for KVM
# domains only; without nested KVM, found as nested_accel_init finds it,
# the domain is type qemu and the vhost cases fail), direct kernel boot
# of the nested guest (tools/vm/nested.sh, nested-init.sh:
# "nsteps=ping"), 128 MiB, serial console to a file, <interface
# type='ethernet'> on a tap made here (managed='no', the host address on
# it), <model type='virtio'/>, <driver name='vhost'/>:
#   dropin   the in-tree vhost_net unloaded and vhnet reloaded with
#            vhost_net_node=1: libvirt opens /dev/vhost-net (10:238), as
#            it does by default, and gets vhnet
#   backend  vhnet reloaded without the parameter and vhost_net loaded
#            again, side by side; <backend vhost='/dev/vhnet'/> makes
#            libvirt open vhnet's own node instead
# For each: QEMU got vhost on and a vhostfd that is that node,
# vhnet-<QEMU pid> serves it (and no in-tree vhost-<QEMU pid>), the guest
# gets 10 of 10 ping replies, vhnet's debugfs counters moved, virsh
# destroy leaves no QEMU, worker or debugfs entry, QEMU's log has no vhost
# failure. At the end libvirtd is stopped and vhost_net stays loaded.
# Logs (libvirtd's and QEMU's output under var-log/, the domain XML, the
# guest consoles): OUT/results/vhnet_libvirt_test/. Every case is
# reported, even after an early failure, before guest-run.sh's time
# limit (VHNET_TEST_TIMEOUT).
# selftests/Makefile installs this as OUT/selftests/vhnet_libvirt_test
# with the work tree's path filled in below.
set -uo pipefail

if [ "${VHNET_LIBVIRT:-}" != 1 ]; then
	echo "TAP version 13"
	echo "1..1"
	echo "ok 1 # SKIP run by make check-libvirt"
	exit 0
fi
# The mounts below are this test's (and libvirtd's) alone, and end with
# it: unshare(1) execs this script again in a new mount namespace.
if [ -z "${VHNET_LV_NS:-}" ] &&
   unshare -m --propagation private true 2>/dev/null; then
	VHNET_LV_NS=1 exec unshare -m --propagation private "$0" "$@"
fi

top=@VHNET_TOP@
case $top in @*) top=$(cd "$(dirname "$0")/.." && pwd -P) ;; esac
# shellcheck source=tools/vm/lib.sh
. "$top/tools/vm/lib.sh"
# shellcheck source=tools/vm/nested.sh
. "$top/tools/vm/nested.sh"

NESTED_OUT=$(cd "$(dirname "$0")/.." && pwd -P)
NESTED_LOGS=$NESTED_OUT/results/vhnet_libvirt_test
NESTED_TMP=$(mktemp -d)
uri=qemu:///system
# Per guest: its tap (tap6: host 10.0.8.1, guest .2) and the vhost node
# libvirt opens.
declare -A g_idx=([dropin]=6 [backend]=7) g_dev=([dropin]=/dev/vhost-net [backend]=/dev/vhnet)
deadline=$((SECONDS + ${VHNET_TEST_TIMEOUT:-900} - 60))

# --- TAP --------------------------------------------------------------------
# shellcheck source=tools/vm/tap.sh
. "$top/tools/vm/tap.sh"
per_guest=(
	"virsh create: the transient KVM domain with <interface type='ethernet'> (virtio, <driver name='vhost'/>) runs"
	"QEMU's -netdev is tap with vhost on and a vhostfd libvirt opened: @DEV@"
	"worker thread vhnet-<QEMU pid> runs, no in-tree vhost-<QEMU pid>"
	"guest up, ping 10 of 10 replies"
	"vhnet's debugfs counters moved (rx and tx packets, nothing broken)"
	"virsh destroy: domain gone, QEMU exited, its worker and debugfs entry gone"
	"no vhost failure in QEMU's log, no kernel problems in the guest's console"
)
guest_cases() {	# GUEST
	local c
	for c in "${per_guest[@]}"; do
		echo "$1: ${c/@DEV@/${g_dev[$1]}}"
	done
}
# All of them, up front: after an early failure each is reported as not
# run. (No process substitution: the VM's /dev has no /dev/fd.)
mapfile -t cases <<<"$(
	echo "setup: in-tree vhost_net unloaded, vhnet reloaded with vhost_net_node=1, /dev/vhost-net is 10:238"
	echo "libvirtd (Debian's, unchanged) runs as root and answers virsh on $uri"
	echo "libvirt offers KVM domains (nested KVM; libvirt opens vhost devices for KVM domains only)"
	guest_cases dropin
	echo "vhnet reloaded without vhost_net_node, in-tree vhost_net loaded again beside it"
	guest_cases backend
	echo "cleanup: libvirtd stopped, exit status 0"
)"
case_ok() { result "$1" "${cases[$n]}"; }
# Fail the cases up to (not including) number $1, as not run.
not_run_until() {	# N WHY
	while [ $((n + 1)) -lt "$1" ]; do
		result 1 "${cases[$n]} (not run: $2)"
	done
}

lvd_pid='' qemu_pid='' dom='' removed='' node_loaded=0 run_made=0
lv() {	# virsh ARGS..., 120 s at most
	timeout -k 5 "${LV_SECS:-120}" virsh -q -c "$uri" "$@"
}

lvd_stop() {
	[ -n "$lvd_pid" ] || return 0
	kill "$lvd_pid" 2>/dev/null
	for _ in $(seq 60); do
		kill -0 "$lvd_pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -9 "$lvd_pid" 2>/dev/null
	wait "$lvd_pid"
	lvd_rc=$?
	lvd_pid=''
}

node_unload() {
	node_loaded=0
	rmmod vhnet 2>/dev/null
	insmod "$VHNET_KO" || diag "cannot load $VHNET_KO again"
}

cleanup() {
	local m
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		lv destroy "$dom" >/dev/null 2>&1
		kill -9 "$qemu_pid" 2>/dev/null
	fi
	lvd_stop
	nested_cleanup
	[ $node_loaded = 1 ] && node_unload
	[ $run_made = 1 ] && rm -rf /run/libvirt
	rm -rf "$NESTED_TMP"
	for m in $removed; do
		modprobe "$m"
	done
}
trap cleanup EXIT
# timeout(1) ends the test with SIGTERM: clean up then too.
trap 'exit 143' TERM INT

echo "TAP version 13"
echo "1..${#cases[@]}"
t_all=$SECONDS
mkdir -p "$NESTED_LOGS"
diag "$(uname -r); $(libvirtd --version 2>&1 | head -1); $(virsh --version 2>&1 | head -1) (virsh)"
[ "${VHNET_LV_NS:-}" = 1 ] || diag "no private mount namespace (unshare -m failed): mounts are global"

# --- 1: vhnet as /dev/vhost-net ---------------------------------------------
removed=$(nested_unload_vhost_net)
st=$?
[ -n "$removed" ] && diag "removed: $(xargs <<<"$removed")"
if [ $st = 0 ] && [ -n "${VHNET_KO:-}" ] && rmmod vhnet; then
	node_loaded=1
	insmod "$VHNET_KO" vhost_net_node=1 || diag "insmod $VHNET_KO vhost_net_node=1 failed"
else
	diag "cannot unload vhost_net or vhnet (VHNET_KO=${VHNET_KO:-unset})"
fi
for _ in $(seq 10); do [ -c /dev/vhost-net ] && break; sleep 0.2; done
node=$(cat /sys/class/misc/vhost-net/dev 2>/dev/null)
diag "/sys/class/misc/vhost-net/dev ${node:-missing}, $(ls -l /dev/vhost-net 2>&1)"
[ $node_loaded = 1 ] && [ "$node" = 10:238 ] && [ -c /dev/vhost-net ] &&
	[ "$(stat -c %t:%T /dev/vhost-net)" = a:ee ] && [ -c /dev/vhnet ] &&
	! grep -q '^vhost_net ' /proc/modules &&
	[ "$(cat /sys/module/vhnet/parameters/vhost_net_node 2>/dev/null)" = Y ]
case_ok $?

# --- 2: libvirtd ------------------------------------------------------------
# What the read-only root needs (see the top); the rest of the
# configuration is Debian's defaults.
lv_setup() {
	local etc=$NESTED_TMP/etc d
	for d in /var/lib /var/cache; do
		mount -t tmpfs -o mode=755 tmpfs "$d" || return 1
	done
	# Its logs (QEMU's output among them) straight to the results, where
	# they outlast even a test VM that dies.
	rm -rf "$NESTED_LOGS/var-log"
	mkdir -p "$NESTED_LOGS/var-log" && mount --bind "$NESTED_LOGS/var-log" /var/log || return 1
	mkdir -p "$etc/libvirt" || return 1
	cp -a /etc/libvirt/. "$etc/libvirt/" 2>/dev/null
	# QEMU runs as root and libvirt leaves the files it is given alone
	# (it could not chown them on this root); no security driver, no
	# cgroups (none mounted here), no private /dev, no virtlogd.
	cat >"$etc/libvirt/qemu.conf" <<-EOF
	user = "root"
	group = "root"
	dynamic_ownership = 0
	remember_owner = 0
	security_driver = "none"
	cgroup_controllers = [ ]
	namespaces = [ ]
	stdio_handler = "file"
	EOF
	# Root's virsh without polkit (no D-Bus here); messages to stderr.
	cat >"$etc/libvirt/libvirtd.conf" <<-EOF
	auth_unix_ro = "none"
	auth_unix_rw = "none"
	log_outputs = "3:stderr"
	EOF
	cp /etc/passwd "$etc/passwd" && cp /etc/group "$etc/group" || return 1
	getent passwd libvirt-qemu >/dev/null ||
		echo "libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin" >>"$etc/passwd"
	getent group libvirt-qemu >/dev/null ||
		echo "libvirt-qemu:x:64055:" >>"$etc/group"
	mount --bind "$etc/libvirt" /etc/libvirt &&
		mount --bind "$etc/passwd" /etc/passwd &&
		mount --bind "$etc/group" /etc/group
}

lv_start() {
	local t0=$SECONDS out rc
	[ -e /run/libvirt ] || run_made=1
	libvirtd </dev/null >"$NESTED_LOGS/libvirtd.log" 2>&1 &
	lvd_pid=$!
	until [ -S /run/libvirt/libvirt-sock ]; do
		if ! kill -0 "$lvd_pid" 2>/dev/null || [ $((SECONDS - t0)) -ge 60 ]; then
			kill -0 "$lvd_pid" 2>/dev/null || { wait "$lvd_pid"; diag "libvirtd exited with status $?"; lvd_pid=''; }
			diag "no /run/libvirt/libvirt-sock after $((SECONDS - t0)) s"
			return 1
		fi
		sleep 0.5
	done
	diag "libvirtd pid $lvd_pid, its socket after $((SECONDS - t0)) s"
	# The first call waits for libvirt's probe of QEMU's capabilities.
	out=$(LV_SECS=300 lv version 2>&1)
	rc=$?
	diag "virsh version: status $rc after $((SECONDS - t0)) s: $(grep -i 'hypervisor\|error' <<<"$out" | xargs)"
	return $rc
}

nested_accel_init
diag "nested accelerator: $NESTED_ACCEL ($NESTED_ACCEL_WHY)"
t0=$SECONDS
if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
	diag "no libvirtd or virsh (tools/vm/deps.sh --libvirt installs them)"
	case_ok 1
elif ! lv_setup; then
	diag "cannot set up libvirt's directories and configuration"
	case_ok 1
else
	lv_start
	case_ok $?
fi
# Its errors: expected ones (no dnsmasq, no D-Bus, no DMI) included.
grep -a ': error : ' "$NESTED_LOGS/libvirtd.log" 2>/dev/null | head -10 |
	sed 's/^[^ ]* [^ ]* [0-9]*: /libvirtd: /' | while IFS= read -r l; do diag "$l"; done
if [ -z "$lvd_pid" ]; then
	not_run_until ${#cases[@]} "libvirtd is not running"
fi

# --- the guests -------------------------------------------------------------
domain_xml() {	# GUEST TYPE
	local g=$1 kernel=$NESTED_OUT/nested/vmlinux kver backend='' net port
	kver=$(cat "$NESTED_OUT/nested/kver" 2>/dev/null) || kver=$(uname -r)
	[ -f "$kernel" ] || kernel=/boot/vmlinuz-$kver
	[ "${g_dev[$g]}" = /dev/vhost-net ] || backend="<backend vhost='${g_dev[$g]}'/>"
	net=10.0.$((g_idx[$g] + 2)) port=$((NESTED_PORT0 + 10 * g_idx[$g]))
	cat <<-EOF
	<domain type='$2'>
	  <name>vhnet-$g</name>
	  <memory unit='MiB'>$NESTED_MEM</memory>
	  <vcpu>1</vcpu>
	  <os>
	    <type arch='x86_64'>hvm</type>
	    <kernel>$kernel</kernel>
	    <initrd>$NESTED_OUT/nested/initramfs.img</initrd>
	    <cmdline>$NESTED_CMDLINE nsteps=ping nip=$net.2/24 nhost=$net.1 nport=$port</cmdline>
	  </os>
	  <features><acpi/></features>
	  <on_poweroff>destroy</on_poweroff>
	  <on_reboot>destroy</on_reboot>
	  <on_crash>destroy</on_crash>
	  <devices>
	    <emulator>/usr/bin/qemu-system-x86_64</emulator>
	    <controller type='usb' model='none'/>
	    <interface type='ethernet'>
	      <target dev='tap${g_idx[$g]}' managed='no'/>
	      <model type='virtio'/>
	      <driver name='vhost'/>
	      $backend
	      <rom enabled='no'/>
	    </interface>
	    <serial type='file'>
	      <source path='$NESTED_LOGS/$g.console'/>
	      <target port='0'/>
	    </serial>
	    <memballoon model='none'/>
	  </devices>
	</domain>
	EOF
}

# The node's "major:minor" as stat(1)'s %t:%T gives it (hex).
node_hex() {	# /sys/class/misc/NAME/dev
	local d
	d=$(cat "$1" 2>/dev/null) || return 1
	printf '%x:%x\n' "${d%:*}" "${d#*:}"
}

# The cases of one guest; after a failure to start, the rest as not run.
run_guest() {	# GUEST TYPE
	local g=$1 type=$2 xml tap out rc state ok pid qargs netdev vfd vdev want
	local tids old line left stats log t0 last=$((n + ${#per_guest[@]} + 1))
	dom=vhnet-$g tap=tap${g_idx[$g]}
	xml=$NESTED_LOGS/$dom.xml
	domain_xml "$g" "$type" >"$xml"
	rm -f "$NESTED_LOGS/$g.console"
	ok=1
	if ! nested_tap "$tap" "10.0.$((g_idx[$g] + 2)).1/24"; then
		diag "$g: cannot make $tap"
	else
		diag "$g: $tap tun_flags $(cat "/sys/class/net/$tap/tun_flags"), $(ip -br addr show dev "$tap" | xargs)"
		t0=$SECONDS
		out=$(LV_SECS=300 lv create "$xml" 2>&1)
		rc=$?
		diag "$g: virsh create: status $rc after $((SECONDS - t0)) s${out:+: $(xargs <<<"$out")}"
		for _ in $(seq 20); do
			qemu_pid=$(cat "/run/libvirt/qemu/$dom.pid" 2>/dev/null)
			[ -n "$qemu_pid" ] && break
			sleep 0.5
		done
		state=$(lv domstate "$dom" 2>&1)
		diag "$g: domain $dom: $state, QEMU pid ${qemu_pid:-none}"
		[ $rc = 0 ] && [ "$state" = running ] && [ -n "$qemu_pid" ] &&
			kill -0 "$qemu_pid" 2>/dev/null && ok=0
	fi
	case_ok $ok
	if [ $ok != 0 ]; then
		not_run_until $last "$dom did not start"
		return
	fi
	pid=$qemu_pid
	NESTED_PID[$g]=$pid
	NESTED_ACCEL_OF[$g]=$type

	# libvirt 9 gives QEMU 7.2 its -netdev as JSON; the key=value form
	# counts too.
	qargs=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
	netdev=$(grep -o -- '-netdev [^ ]*' <<<"$qargs")
	diag "$g: qemu: $netdev $(grep -o -- '-device [^ ]*virtio-net[^ ]*' <<<"$qargs")"
	vfd=$(sed -n 's/.*"vhostfd":"\([0-9]*\)".*/\1/p; s/.*vhostfd=\([0-9]*\).*/\1/p' <<<"$netdev" | head -1)
	vdev='' want=$(node_hex "/sys/class/misc/${g_dev[$g]#/dev/}/dev")
	[ -n "$vfd" ] && vdev=$(stat -L -c %t:%T "/proc/$pid/fd/$vfd" 2>/dev/null)
	diag "$g: vhostfd ${vfd:-none}: $(readlink "/proc/$pid/fd/${vfd:-none}" 2>/dev/null || echo none) (${vdev:-?}; vhnet's ${g_dev[$g]}: ${want:-none}); vhnet refcnt $(cat /sys/module/vhnet/refcnt 2>/dev/null)"
	grep -Eq -- '-netdev (\{"type":"tap".*"vhost":true|tap,.*vhost=on)' <<<"$qargs" &&
		[ -n "$vfd" ] && [ "$(readlink "/proc/$pid/fd/$vfd")" = "${g_dev[$g]}" ] &&
		[ -n "$want" ] && [ "$vdev" = "$want" ] && nested_holds_vhnet "$pid" "${g_dev[$g]}"
	case_ok $?

	tids=$(nested_worker "$pid" | xargs)
	old=$(nested_worker "$pid" vhost | xargs)
	diag "$g: vhnet-$pid: thread ${tids:-none}; vhost-$pid: ${old:-none}"
	[ -n "$tids" ] && [ -z "$old" ]
	case_ok $?

	t0=$SECONDS
	left=$((deadline - SECONDS - 240))
	[ $left -gt 0 ] || left=1
	nested_wait "$g" up "$left"
	diag "$g: guest up after $((SECONDS - t0)) s: $(nested_result "$g" up || echo "no (${NESTED_WHY[$g]:-timed out})")"
	nested_path_mark "$g"
	left=$((deadline - SECONDS - 180))
	[ $left -le 120 ] || left=120
	[ $left -gt 0 ] || left=1
	nested_wait "$g" ping "$left"
	line=$(nested_result "$g" ping)
	diag "$g: ping at $((SECONDS - t0)) s: ${line:-none}"
	[ "$(nested_value "$line" received)" = 10 ]
	case_ok $?

	stats=$(nested_stats "$pid")
	diag "$g: vhnet debugfs: $(paste -sd';' <<<"$stats")"
	# (nested_path also ends the tracing nested_path_mark began.)
	line=$(nested_path "$g")
	[ "$type" = kvm ] && diag "$g: KVM path: $line"
	awk '
		{ for (i = 1; i < NF; i++) { if ($i == "packets") p[$1] += $(i + 1); if ($i == "broken") b += $(i + 1) } }
		END { exit !(p["rx"] >= 10 && p["tx"] >= 10 && b == 0) }' <<<"$stats"
	case_ok $?

	t0=$SECONDS
	out=$(lv destroy "$dom" 2>&1)
	rc=$?
	for _ in $(seq 40); do
		! kill -0 "$pid" 2>/dev/null && [ -z "$(nested_worker "$pid")" ] &&
			[ -z "$(nested_stats "$pid")" ] && break
		sleep 0.5
	done
	line=$(lv list --all --name 2>&1 | xargs)
	diag "$g: virsh destroy: status $rc after $((SECONDS - t0)) s${out:+: $(xargs <<<"$out")}; domains left: ${line:-none}"
	[ $rc = 0 ] && ! grep -qw "$dom" <<<"$line" && ! kill -0 "$pid" 2>/dev/null &&
		[ -z "$(nested_worker "$pid")" ] && [ -z "$(nested_stats "$pid")" ]
	case_ok $?
	qemu_pid=''

	log=$NESTED_LOGS/var-log/libvirt/qemu/$dom.log
	ok=0
	if [ ! -s "$log" ]; then
		diag "$g: no QEMU log from libvirt ($log)"
		ok=1
	elif grep -aE 'qemu-system-[a-z0-9_]*: .*(vhost|falling back|[Ee]rror|fail)' "$log" |
			grep -v 'terminating on signal' | head -20 | sed "s/^/# $g: qemu: /" | grep .; then
		ok=1
	fi
	vm_log_problems "$NESTED_LOGS/$g.console" | head -20 | sed 's/^/#/'
	[ "${PIPESTATUS[0]}" = 0 ] && [ -s "$NESTED_LOGS/$g.console" ] || ok=1
	case_ok $ok
}

type=qemu
if [ -n "$lvd_pid" ]; then
	caps=$(LV_SECS=300 lv capabilities 2>&1)
	kvm=0
	grep -q "<domain type='kvm'/>" <<<"$caps" && kvm=1
	diag "libvirt capabilities: $(grep -o "<domain type='[a-z]*'/>" <<<"$caps" | sort -u | xargs)"
	[ "$NESTED_ACCEL" = kvm ] && [ $kvm = 1 ]
	case_ok $?
	[ $kvm = 1 ] && [ "$NESTED_ACCEL" = kvm ] && type=kvm
	[ $type = kvm ] || diag "type qemu (TCG): libvirt will not open a vhost device, the vhost cases fail"
	run_guest dropin $type
fi

# vhnet as itself again, the in-tree vhost_net beside it.
if [ $n -lt $((${#cases[@]} - 1)) ]; then
	ok=0
	if [ $node_loaded = 1 ]; then
		node_unload
		[ "$(cat /sys/module/vhnet/parameters/vhost_net_node 2>/dev/null)" = N ] || ok=1
	fi
	for m in $removed; do
		modprobe "$m" || ok=1
	done
	removed=''
	for _ in $(seq 10); do [ -c /dev/vhnet ] && [ -c /dev/vhost-net ] && break; sleep 0.2; done
	diag "modules: $(grep -oE '^(vhnet|vhost_net) ' /proc/modules | xargs); /dev/vhost-net $(cat /sys/class/misc/vhost-net/dev 2>/dev/null || echo none), /dev/vhnet $(cat /sys/class/misc/vhnet/dev 2>/dev/null || echo none)"
	grep -q '^vhost_net ' /proc/modules && grep -q '^vhnet ' /proc/modules &&
		[ -c /dev/vhnet ] && [ -c /dev/vhost-net ] || ok=1
	case_ok $ok
	run_guest backend $type
fi

# --- cleanup ----------------------------------------------------------------
not_run_until ${#cases[@]} "an earlier case failed"
lvd_rc=none
lvd_stop
diag "libvirtd exited with status $lvd_rc"
[ "$lvd_rc" = 0 ]
case_ok $?
diag "total $((SECONDS - t_all)) s"
[ "$n" = ${#cases[@]} ] || diag "ran $n of ${#cases[@]} planned cases"
[ $failed = 0 ]
