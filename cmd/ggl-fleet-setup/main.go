// Command ggl-fleet-setup deploys the AWS IoT fleet provisioning stack for
// Greengrass Lite devices, mints the claim certificate and writes the files
// of the Yocto build. See "ggl-fleet-setup --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/setup"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := setup.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
