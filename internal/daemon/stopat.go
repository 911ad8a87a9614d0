package daemon

import (
	"os"
	"syscall"
)

// stopAtEnv names an installation step after which the process kills itself
// with SIGKILL. The crash-safety test uses it to cut power, in effect, at
// every step; unset, as in production, it does nothing.
const stopAtEnv = "GGL_FLEETD_STOP_AT"

// Installation steps, in the order they run.
const (
	StepKey            = "key"
	StepCertificate    = "certificate"
	StepRootCA         = "root-ca"
	StepConfig         = "config"
	StepRestartPending = "restart-pending"
	StepStamp          = "stamp"
	StepCleanup        = "cleanup"
	StepClaimRemoval   = "claim-removal"
)

// Steps lists the installation steps in order.
var Steps = []string{
	StepKey, StepCertificate, StepRootCA, StepConfig,
	StepRestartPending, StepStamp, StepCleanup, StepClaimRemoval,
}

// reached is called after each installation step.
func reached(step string) {
	if os.Getenv(stopAtEnv) == step {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}
