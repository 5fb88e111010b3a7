#!/usr/bin/env bash
# Ensures vm.mmap_min_addr is 0, which libzpoline.so needs to map its trampoline at address 0.
#
# - Already 0: prints nothing and exits 0.
# - Not 0 and we are root: sets it with `sysctl -w vm.mmap_min_addr=0` (until the next boot).
# - Not 0 and we are not root: prints how to set it (now and permanently) and exits 1.
#
# Usage: scripts/mmap-min-addr.sh [--check]
#   --check  only report; never change the setting (exit 1 if it is not 0).
set -euo pipefail

proc=/proc/sys/vm/mmap_min_addr
check_only=0
case "${1:-}" in
	--check) check_only=1 ;;
	"") ;;
	-h | --help)
		sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "$0: unknown argument '$1' (try --help)" >&2
		exit 2
		;;
esac

if [ ! -r "$proc" ]; then
	echo "$0: cannot read $proc: is this Linux with /proc mounted?" >&2
	exit 1
fi

value=$(cat "$proc")
if [ "$value" = 0 ]; then
	exit 0
fi

how() {
	cat >&2 <<EOM
libzpoline.so maps its trampoline at address 0, which needs vm.mmap_min_addr=0
(it is $value now). As root, set it until the next boot with:

    sudo sysctl -w vm.mmap_min_addr=0

and to keep it across reboots:

    echo 'vm.mmap_min_addr = 0' | sudo tee /etc/sysctl.d/60-zpoline.conf
    sudo sysctl --system

Note: this lets any process map page 0, which weakens the protection against
kernel NULL-pointer dereference exploits; prefer a test machine or VM.
EOM
}

if [ "$check_only" = 1 ]; then
	how
	exit 1
fi

if [ "$(id -u)" != 0 ]; then
	echo "$0: vm.mmap_min_addr is $value, not 0, and we are not root." >&2
	how
	exit 1
fi

echo "$0: vm.mmap_min_addr is $value; setting it to 0 (until the next boot)" >&2
if ! sysctl -w vm.mmap_min_addr=0 >&2; then
	echo "$0: 'sysctl -w vm.mmap_min_addr=0' failed (read-only /proc/sys in a container?)" >&2
	exit 1
fi
value=$(cat "$proc")
if [ "$value" != 0 ]; then
	echo "$0: vm.mmap_min_addr is still $value after sysctl -w" >&2
	exit 1
fi
