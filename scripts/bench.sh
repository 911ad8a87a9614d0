#!/usr/bin/env bash
# Runs the benchmarks of docs/BENCHMARKS.md on this machine and prints one
# table: name, median, target, met. Usage: scripts/bench.sh [BIN_DIR], after
# `make build` (`make bench` does both). BIN_DIR holds ggl-fleetd as the
# Makefile builds it.
#
# Environment: RUNS (runs per timed measurement, default 30), STORM_N
# (devices in the storm, default 1000), STORM_RATE (RegisterThing limit per
# second, default 100), BENCH_OUT (folder for the logs and tools, default a
# new temporary folder), BENCH_PROFILE=1 (also write CPU and heap profiles of
# the provisioning pass into BENCH_OUT/profiles and print their tops).
#
# Every server runs on 127.0.0.1. The Node.js comparison installs
# bench/node/node_modules with npm when it is missing, and is skipped when
# node or npm is not installed.
set -euo pipefail
bin=${1:-bin}
runs=${RUNS:-30}
storm_n=${STORM_N:-1000}
storm_rate=${STORM_RATE:-100}
out=${BENCH_OUT:-$(mktemp -d /tmp/ggl-fleetd-bench.XXXXXX)}
tools=$out/tools
mkdir -p "$tools"
status=0
logs=()

# The retry policy the storm is also run with, next to the defaults: a
# larger throttle backoff cap, which sends fewer throttled requests and
# finishes later. docs/BENCHMARKS.md compares the two.
large_cap_policy=(-throttle-max 8s)

section() { printf '\n== %s\n' "$*"; }

# run NAME CMD...: runs CMD with its output in $out/NAME.log, shown as it
# comes; the RESULT lines in it make up the table.
run() {
	local name=$1 rc
	shift
	set +o pipefail
	"$@" 2>&1 | tee "$out/$name.log" | grep -v '^RESULT'
	rc=${PIPESTATUS[0]}
	set -o pipefail
	if [ "$rc" -ne 0 ]; then
		echo "bench: $name failed with exit status $rc, see $out/$name.log" >&2
		status=1
	fi
	logs+=("$out/$name.log")
}

# result NAME VALUE TARGET MET: adds a line to the table.
result() {
	printf 'RESULT\t%s\t%s\t%s\t%s\n' "$@" >>"$out/size.log"
}

machine() {
	section "machine"
	echo "date:   $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "cores:  $(nproc)"
	echo "cpu:    $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "go:     $(go version)"
	echo "kernel: $(uname -sr)"
	echo "node:   $(node --version 2>/dev/null || echo missing)"
	echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
}

build_tools() {
	section "building the benchmark programs"
	go build -o "$tools/" ./bench/cmd/...
	ls "$tools"
}

ready_time() {
	section "1. time to READY=1"
	run readytime "$tools/readytime" --bin "$bin/ggl-fleetd" --runs "$runs"
}

# node_client prints the folder of the Node.js client, installing its
# packages first; it prints nothing when Node.js or npm is missing.
node_client() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "Node.js comparison skipped: node or npm is not installed" >&2
		return
	fi
	if [ ! -d bench/node/node_modules ]; then
		(cd bench/node && npm install --no-audit --no-fund) >&2
	fi
	echo bench/node
}

provisioning() {
	section "2, 3, 5, 7. provisioning, peak RSS, already provisioned boot, Node.js SDK"
	local node
	node=$(node_client)
	run provisiontime "$tools/provisiontime" --bin "$bin/ggl-fleetd" \
		--bare "$tools/bareclient" --runs "$runs" ${node:+--node "$node"}
}

size() {
	section "4. size of the stripped device binary"
	local target=$((10 * 1024 * 1024))
	: >"$out/size.log"
	logs+=("$out/size.log")
	for arch in amd64 arm64 arm; do
		local file=$out/size/ggl-fleetd-$arch
		CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=7 \
			go build -trimpath -ldflags='-s -w' -o "$file" ./cmd/ggl-fleetd
		local bytes met=no
		bytes=$(stat -c %s "$file")
		[ "$bytes" -le "$target" ] && met=yes
		echo "linux/$arch: $bytes bytes"
		result "stripped binary, linux/$arch" \
			"$(awk -v b="$bytes" 'BEGIN { printf "%.2f MiB", b / 1048576 }')" \
			"<= 10 MiB" "$met"
	done

	echo
	echo "largest dependencies of linux/amd64 (unstripped build):"
	CGO_ENABLED=0 go build -trimpath -o "$out/size/ggl-fleetd-amd64-symbols" ./cmd/ggl-fleetd
	"$tools/symsize" --top 20 "$out/size/ggl-fleetd-amd64-symbols"
	forbidden_dependencies "$out/size/ggl-fleetd-amd64"
}

# forbidden_dependencies fails the run when the device binary links the AWS
# SDK, the test broker, the fake endpoint or the testing package.
forbidden_dependencies() {
	local binary=$1 found
	found=$( {
		go list -deps ./cmd/ggl-fleetd
		go version -m "$binary" | awk '$1 == "dep" { print $2 }'
	} | grep -E '^(github\.com/aws/|github\.com/mochi-mqtt/|.*/internal/fakeiot($|/)|testing($|/))' |
		sort -u || true)
	if [ -n "$found" ]; then
		echo "the device binary contains test-only or host-only code:"
		echo "$found"
		result "no AWS SDK, mochi-mqtt, fakeiot, testing in the binary" \
			"found: $(echo "$found" | tr '\n' ' ')" "none" no
		status=1
		return
	fi
	echo "no AWS SDK, mochi-mqtt, internal/fakeiot or testing package in the binary"
	result "no AWS SDK, mochi-mqtt, fakeiot, testing in the binary" "none found" "none" yes
}

storm() {
	section "6. fleet storm, default retry policy"
	run storm-default "$tools/storm" -n "$storm_n" -rate "$storm_rate"
	section "6. fleet storm, throttle backoff cap 8 s (not the default)"
	run storm-cap8s "$tools/storm" -n "$storm_n" -rate "$storm_rate" \
		"${large_cap_policy[@]}"
}

profiles() {
	[ "${BENCH_PROFILE:-}" = 1 ] || return 0
	section "CPU and heap profile of the provisioning pass, in process"
	run profile "$tools/profile" --runs 200 --out "$out/profiles"
	go tool pprof -top -tagfocus side=device -nodecount 25 \
		"$tools/profile" "$out/profiles/cpu.pprof" 2>/dev/null | sed -n '5,40p'
	go tool pprof -top -sample_index alloc_space -nodecount 25 \
		"$tools/profile" "$out/profiles/heap.pprof" 2>/dev/null | sed -n '5,40p'
}

table() {
	section "results (median of repeated runs; logs in $out)"
	{
		printf 'benchmark\tmedian\ttarget\tmet\n'
		cat "${logs[@]}" | grep '^RESULT' | cut -f2-
	} | column -t -s "$(printf '\t')"
	echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}

machine
build_tools
ready_time
provisioning
size
storm
profiles
table
exit $status
