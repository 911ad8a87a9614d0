// Package systemdtest checks ggl-fleetd's unit file and the Greengrass Lite
// drop-ins against a real systemd, booted as PID 1 of new namespaces by
// scripts/systemd-sandbox.sh. The tests need root and skip otherwise.
package systemdtest
