package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/ggl-fleetd/ggl-fleetd/bench/internal/testbed"
)

// nodeCommand returns the command that runs bench/node/provision.js, the
// same flow with the AWS IoT Device SDK v2 for JavaScript, against the fake
// of r with clientID, and the directory it writes into.
func nodeCommand(nodeDir string, r testbed.Run, template, clientID string) (*exec.Cmd, string, error) {
	out := filepath.Join(r.Dir, "node")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, "", err
	}

	f := r.Fixture
	cmd := exec.Command("node", filepath.Join(nodeDir, "provision.js"),
		"--endpoint", f.Endpoint, "--port", strconv.Itoa(f.Port),
		"--ca", f.RootCAPath, "--cert", f.ClaimCertPath, "--key", f.ClaimKeyPath,
		"--client-id", clientID, "--template", template, "--out", out)
	cmd.Env = testbed.Env()
	return cmd, out, nil
}
