package notify

import (
	"slices"
	"strings"
)

// scrubbed lists the variables through which systemd addresses this service.
var scrubbed = []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}

// ScrubEnv returns a copy of env, in "KEY=value" form as os.Environ returns
// it, without NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. Pass the result
// to every child process: a child that inherits them can send READY=1 or
// WATCHDOG=1 on behalf of this service, or stop it with a wrong status.
func ScrubEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(scrubbed, key) {
			out = append(out, kv)
		}
	}
	return out
}
