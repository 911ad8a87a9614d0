#!/bin/sh
# Boot systemd as PID 1 of new PID, mount, cgroup, UTS and IPC namespaces, on
# a throw-away copy of the host root, for tests of unit files against a real
# service manager. Needs root and a cgroup2 hierarchy; the network namespace
# is the host's, so services inside reach servers on the host's 127.0.0.1.
#
# usage: systemd-sandbox.sh CGROUP BASE STAGE
#   CGROUP  an empty cgroup2 directory (for example
#           /sys/fs/cgroup/unified/NAME on a hybrid host) that becomes the
#           sandbox's cgroup root; the caller removes it afterwards
#   BASE    an empty directory on which the sandbox's tmpfs is mounted
#   STAGE   a directory whose contents are copied over the new root before
#           boot (unit files, binaries, /etc files)
#
# The script execs systemd, so its PID's only child is the sandbox's PID 1.
# Stop the sandbox with
#   nsenter -t PID1 -a systemctl poweroff --no-block
# Host units that would fail or do work in the sandbox are masked.
set -eu

if [ "${1:-}" != --inner ]; then
	[ $# -eq 3 ] || { echo "usage: $0 CGROUP BASE STAGE" >&2; exit 2; }
	# Move into the cgroup first, so the cgroup namespace made by unshare
	# has that cgroup as its root.
	echo $$ >"$1/cgroup.procs"
	exec unshare --pid --fork --mount --cgroup --uts --ipc \
		--propagation private "$0" --inner "$2" "$3"
fi
base=$2
stage=$3

# The new root: the host root, read-only below a writable tmpfs layer.
mount -t tmpfs -o mode=0755 sandbox "$base"
mkdir "$base/upper" "$base/work" "$base/root"
mount -t overlay overlay \
	-o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root"
root=$base/root

mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys"
mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"

# A minimal /dev: the pseudo devices, a private devpts, shared memory.
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for dev in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	name=${dev%%:*}
	numbers=${dev#*:}
	mknod -m 0666 "$root/dev/$name" c "${numbers%:*}" "${numbers#*:}"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"

# Host units that must not run here: servers, terminals, periodic jobs, and
# services that fail in a container without devices or a private network.
mask() {
	for unit in "$@"; do
		ln -sf /dev/null "$root/etc/systemd/system/$unit"
	done
}
mask mosquitto.service postgresql.service 'postgresql@.service' \
	getty@tty1.service getty.target console-getty.service \
	e2scrub_reap.service systemd-timesyncd.service \
	systemd-networkd-wait-online.service
for timer in /lib/systemd/system/*.timer /etc/systemd/system/*.timer; do
	[ -e "$timer" ] && mask "$(basename "$timer")"
done

cp -a "$stage/." "$root/"

cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot

export container=ggl-fleetd-test
exec /lib/systemd/systemd --system --unit=multi-user.target --show-status=no
