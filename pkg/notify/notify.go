// Package notify sends service state to systemd over the sd_notify protocol:
// readiness, status text, shutdown and watchdog keep-alives.
//
// Outside systemd (NOTIFY_SOCKET unset) every method does nothing. The
// variables that name the socket stay set in this process because go-systemd
// reads NOTIFY_SOCKET on every send. Child processes must instead get an
// environment filtered by ScrubEnv, so they cannot report as this service.
package notify

import (
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// warnEvery is the minimum time between two Warn lines about failed sends.
const warnEvery = time.Minute

// Notifier sends notifications to the service manager. Its methods are safe
// for concurrent use and return no error: a failed send is logged at Warn
// level, at most once per minute.
type Notifier struct {
	log      *zap.Logger
	enabled  bool
	interval time.Duration // time between WATCHDOG=1 sends; 0 = no watchdog
	now      func() time.Time

	mu         sync.Mutex
	lastAlive  time.Time
	lastWarn   time.Time
	suppressed int // send errors not logged since lastWarn
}

// New returns a Notifier configured from NOTIFY_SOCKET, WATCHDOG_USEC and
// WATCHDOG_PID. The watchdog is honoured only when WATCHDOG_PID is unset or
// equals this process's PID. A malformed WATCHDOG_USEC or WATCHDOG_PID is
// logged at Warn level and disables the watchdog.
func New(log *zap.Logger) *Notifier {
	n := &Notifier{log: log, now: time.Now}
	n.enabled = os.Getenv("NOTIFY_SOCKET") != ""
	if !n.enabled {
		log.Debug("NOTIFY_SOCKET not set, systemd notifications disabled")
		return n
	}

	// unsetEnvironment=false keeps WATCHDOG_USEC for AliveInterval callers
	// and for any later Notifier.
	timeout, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("invalid watchdog settings, watchdog disabled", zap.Error(err))
		return n
	}

	n.interval = timeout / 2
	return n
}

// Enabled reports whether NOTIFY_SOCKET was set when the Notifier was created.
func (n *Notifier) Enabled() bool {
	return n.enabled
}

// Ready sends READY=1: start-up is finished.
func (n *Notifier) Ready() {
	n.send(daemon.SdNotifyReady)
}

// Status sends STATUS=s, the one-line text shown by systemctl status. Newlines
// in s are replaced with spaces because a newline ends the assignment.
func (n *Notifier) Status(s string) {
	s = strings.ReplaceAll(s, "\n", " ")
	n.send("STATUS=" + s)
}

// Stopping sends STOPPING=1: the service is beginning its shutdown.
func (n *Notifier) Stopping() {
	n.send(daemon.SdNotifyStopping)
}

// AliveInterval returns half of WATCHDOG_USEC, the longest time a caller may
// let pass between two calls of Alive. It is 0 when the watchdog is off.
func (n *Notifier) AliveInterval() time.Duration {
	return n.interval
}

// Alive sends WATCHDOG=1 when the watchdog is on and no WATCHDOG=1 was sent
// in the last quarter of WATCHDOG_USEC, so it is cheap to call often.
//
// The limit is half of AliveInterval, not AliveInterval itself: a caller
// that calls Alive at least every AliveInterval then leaves at most three
// quarters of WATCHDOG_USEC between two sends. With a limit of a full
// AliveInterval, a call just before the limit would be skipped and the next
// send could come only at WATCHDOG_USEC, when systemd already kills the unit.
func (n *Notifier) Alive() {
	if n.interval == 0 {
		return
	}

	n.mu.Lock()
	now := n.now()
	due := n.lastAlive.IsZero() || now.Sub(n.lastAlive) >= n.interval/2
	if due {
		n.lastAlive = now
	}
	n.mu.Unlock()

	if due {
		n.send(daemon.SdNotifyWatchdog)
	}
}

func (n *Notifier) send(state string) {
	if !n.enabled {
		return
	}

	// unsetEnvironment must stay false: with true, go-systemd unsets
	// NOTIFY_SOCKET and every later send silently does nothing.
	_, err := daemon.SdNotify(false, state)
	if err != nil {
		n.warn(state, err)
	}
}

// warn logs a failed send, at most once per warnEvery, with the number of
// failures not logged since the last line.
func (n *Notifier) warn(state string, err error) {
	n.mu.Lock()
	now := n.now()
	if !n.lastWarn.IsZero() && now.Sub(n.lastWarn) < warnEvery {
		n.suppressed++
		n.mu.Unlock()
		return
	}
	suppressed := n.suppressed
	n.lastWarn = now
	n.suppressed = 0
	n.mu.Unlock()

	name, _, _ := strings.Cut(state, "=")
	n.log.Warn("failed to send notification to systemd",
		zap.String("notification", name),
		zap.Int("suppressed", suppressed),
		zap.Error(err))
}
