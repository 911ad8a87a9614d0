// Command ggl-fleetd gives an AWS IoT Greengrass Lite device its own identity on
// first boot through fleet provisioning by claim. See README.md.
package main

import (
	"os"

	"github.com/ggl-fleetd/ggl-fleetd/internal/command"
)

func main() {
	os.Exit(command.Main(os.Args[1:], os.Stdout, os.Stderr))
}
