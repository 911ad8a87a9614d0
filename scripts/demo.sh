#!/usr/bin/env bash
# Runs the whole provisioning job on this machine against the fake AWS IoT
# endpoint on loopback: real /sys and /proc, real TLS, real keys. Needs no
# root and touches no system file; everything lives in a temporary folder.
set -euo pipefail
bin=${1:-bin}
work=$(mktemp -d /tmp/ggl-fleetd-demo.XXXXXX)
fake_pid=

cleanup() {
	if [ -n "$fake_pid" ]; then
		kill "$fake_pid" 2>/dev/null || true
		wait "$fake_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "device ID of this machine"
"$bin/ggl-fleetd" identity --state-dir "$work/state" --config /nonexistent

step "starting the fake AWS IoT endpoint on loopback"
mkfifo "$work/fake.out"
"$bin/fakeiot" --dir "$work/gg" --thing-prefix demo- >"$work/fake.out" 2>"$work/fake.log" &
fake_pid=$!
exec 3<"$work/fake.out"
while read -r line <&3; do
	echo "$line"
	[ "$line" = ready ] && break
done

# The demo has no system bus, so no unit is restarted.
cat >"$work/gg/config.d/zz-demo.yaml" <<'YAML'
services:
  aws.greengrass.fleet_provisioning:
    configuration:
      restartUnits: []
YAML
cp -r "$work/gg" "$work/gg.before"

step "ggl-fleetd check"
"$bin/ggl-fleetd" check --config "$work/gg/config.yaml"

step "ggl-fleetd run"
"$bin/ggl-fleetd" run --config "$work/gg/config.yaml" --state-dir "$work/state"

step "ggl-fleetd status"
"$bin/ggl-fleetd" status --state-dir "$work/state"

step "files written"
ls -l "$work/gg/credentials" "$work/state"

step "configuration changes"
diff -ru "$work/gg.before" "$work/gg" | grep -v '^Only in' || true

step "certificate check with openssl"
cert=$("$bin/ggl-fleetd" status --state-dir "$work/state" --json | sed -n 's/.*"certificatePath": "\(.*\)".*/\1/p')
key=$("$bin/ggl-fleetd" status --state-dir "$work/state" --json | sed -n 's/.*"privateKeyPath": "\(.*\)".*/\1/p')
openssl verify -CAfile "$work/gg/certs/issuer-ca.pem" "$cert"
if [ "$(openssl x509 -in "$cert" -noout -pubkey)" = "$(openssl pkey -in "$key" -pubout)" ]; then
	echo "certificate matches the private key"
else
	echo "certificate does NOT match the private key" >&2
	exit 1
fi

step "second run: already provisioned, no network traffic"
"$bin/ggl-fleetd" run --config "$work/gg/config.yaml" --state-dir "$work/state"

step "done; files are in $work"
