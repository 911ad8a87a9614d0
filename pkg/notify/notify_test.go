package notify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// listen opens a unixgram socket standing in for systemd's notification
// socket and points NOTIFY_SOCKET at it.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("ListenUnixgram(%q): %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return conn
}

func socketPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "notify.sock")
}

// receive returns the next datagram; the deadline only catches a hang.
func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no datagram on the notification socket: %v", err)
	}
	return string(buf[:n])
}

// receiveUntil returns every datagram up to and including last.
func receiveUntil(t *testing.T, conn *net.UnixConn, last string) []string {
	t.Helper()
	var got []string
	for {
		d := receive(t, conn)
		got = append(got, d)
		if d == last {
			return got
		}
	}
}

func clearWatchdog(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv("WATCHDOG_PID", "")
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = time.Unix(1700000000, 0).Add(d)
}

func TestNotifierDatagrams(t *testing.T) {
	tests := []struct {
		name string
		call func(n *Notifier)
		want string
	}{
		{"ready", (*Notifier).Ready, "READY=1"},
		{"stopping", (*Notifier).Stopping, "STOPPING=1"},
		{"status", func(n *Notifier) { n.Status("waiting for response, attempt 3") },
			"STATUS=waiting for response, attempt 3"},
		{"status-newline", func(n *Notifier) { n.Status("line one\nline two") },
			"STATUS=line one line two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearWatchdog(t)
			conn := listen(t, socketPath(t))
			n := New(zap.NewNop())

			tt.call(n)

			if got := receive(t, conn); got != tt.want {
				t.Errorf("datagram = %q; want %q", got, tt.want)
			}
			if !n.Enabled() {
				t.Errorf("Enabled() = false; want true")
			}
		})
	}
}

func TestNotifierKeepsEnvironment(t *testing.T) {
	clearWatchdog(t)
	path := socketPath(t)
	conn := listen(t, path)
	n := New(zap.NewNop())

	n.Ready()
	n.Status("second")

	want := []string{"READY=1", "STATUS=second"}
	if diff := cmp.Diff(want, receiveUntil(t, conn, "STATUS=second")); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
	if got := os.Getenv("NOTIFY_SOCKET"); got != path {
		t.Errorf("NOTIFY_SOCKET after sends = %q; want %q", got, path)
	}
}

func TestWatchdogPID(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		name         string
		pid          string
		wantInterval time.Duration
		want         []string
	}{
		{"pid-unset", "", 1500 * time.Millisecond, []string{"WATCHDOG=1", "READY=1"}},
		{"pid-self", self, 1500 * time.Millisecond, []string{"WATCHDOG=1", "READY=1"}},
		{"pid-other", "1", 0, []string{"READY=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", "3000000")
			t.Setenv("WATCHDOG_PID", tt.pid)
			conn := listen(t, socketPath(t))
			n := New(zap.NewNop())

			n.Alive()
			n.Ready()

			if got := n.AliveInterval(); got != tt.wantInterval {
				t.Errorf("AliveInterval() = %v; want %v", got, tt.wantInterval)
			}
			got := receiveUntil(t, conn, "READY=1")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("datagrams (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAliveRateLimit(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "4000000")
	t.Setenv("WATCHDOG_PID", "")
	conn := listen(t, socketPath(t))
	clock := &fakeClock{}
	n := New(zap.NewNop())
	n.now = clock.now

	// With WATCHDOG_USEC = 4 s, AliveInterval is 2 s and Alive sends at most
	// once per second. Each call is followed by a STATUS marker so the
	// datagrams show which calls sent WATCHDOG=1.
	calls := []time.Duration{0, 500 * time.Millisecond, 999 * time.Millisecond,
		time.Second, 1500 * time.Millisecond, 3500 * time.Millisecond}
	for i, at := range calls {
		clock.set(at)
		n.Alive()
		n.Status(strconv.Itoa(i))
	}

	want := []string{
		"WATCHDOG=1", "STATUS=0", "STATUS=1", "STATUS=2",
		"WATCHDOG=1", "STATUS=3", "STATUS=4",
		"WATCHDOG=1", "STATUS=5",
	}
	if diff := cmp.Diff(want, receiveUntil(t, conn, "STATUS=5")); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
	if got := n.AliveInterval(); got != 2*time.Second {
		t.Errorf("AliveInterval() = %v; want 2s", got)
	}
}

func TestWatchdogMalformed(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "three seconds")
	t.Setenv("WATCHDOG_PID", "")
	listen(t, socketPath(t))
	core, logs := observer.New(zapcore.DebugLevel)

	n := New(zap.New(core))

	if got := n.AliveInterval(); got != 0 {
		t.Errorf("AliveInterval() = %v; want 0", got)
	}
	if got := logs.FilterLevelExact(zapcore.WarnLevel).Len(); got != 1 {
		t.Errorf("Warn lines = %d; want 1", got)
	}
}

func TestNoSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", "")
	core, logs := observer.New(zapcore.DebugLevel)

	n := New(zap.New(core))
	n.Ready()
	n.Status("idle")
	n.Alive()
	n.Stopping()

	if n.Enabled() {
		t.Errorf("Enabled() = true; want false")
	}
	if got := n.AliveInterval(); got != 0 {
		t.Errorf("AliveInterval() = %v; want 0", got)
	}
	entries := logs.AllUntimed()
	if len(entries) != 1 || entries[0].Level != zapcore.DebugLevel {
		t.Errorf("log entries = %v; want one Debug line", entries)
	}
}

func TestAbstractSocket(t *testing.T) {
	clearWatchdog(t)
	name := fmt.Sprintf("@ggl-fleetd-notify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	conn := listen(t, name)
	n := New(zap.NewNop())

	n.Ready()

	if got := receive(t, conn); got != "READY=1" {
		t.Errorf("datagram = %q; want %q", got, "READY=1")
	}
}

func TestSendErrorWarnsRateLimited(t *testing.T) {
	clearWatchdog(t)
	// Nothing listens here, so every send fails with ENOENT.
	t.Setenv("NOTIFY_SOCKET", socketPath(t))
	core, logs := observer.New(zapcore.DebugLevel)
	clock := &fakeClock{}
	n := New(zap.New(core))
	n.now = clock.now

	clock.set(0)
	n.Ready()
	n.Status("a")
	clock.set(59 * time.Second)
	n.Status("b")
	clock.set(61 * time.Second)
	n.Stopping()

	warns := logs.FilterLevelExact(zapcore.WarnLevel).AllUntimed()
	if len(warns) != 2 {
		t.Fatalf("Warn lines = %d; want 2: %v", len(warns), warns)
	}
	got := []any{
		warns[0].ContextMap()["notification"], warns[0].ContextMap()["suppressed"],
		warns[1].ContextMap()["notification"], warns[1].ContextMap()["suppressed"],
	}
	want := []any{"READY", int64(0), "STOPPING", int64(2)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Warn fields (-want +got):\n%s", diff)
	}
}

func TestScrubEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"empty", nil, []string{}},
		{"systemd-vars", []string{
			"PATH=/usr/bin", "NOTIFY_SOCKET=/run/systemd/notify",
			"WATCHDOG_USEC=30000000", "HOME=/root", "WATCHDOG_PID=42",
		}, []string{"PATH=/usr/bin", "HOME=/root"}},
		{"prefix-kept", []string{"NOTIFY_SOCKET_X=1", "XWATCHDOG_PID=2"},
			[]string{"NOTIFY_SOCKET_X=1", "XWATCHDOG_PID=2"}},
		{"value-mentions-key", []string{"A=NOTIFY_SOCKET=x"}, []string{"A=NOTIFY_SOCKET=x"}},
		{"no-equals", []string{"NOTIFY_SOCKET", "JOURNAL_STREAM=8:9"},
			[]string{"JOURNAL_STREAM=8:9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ScrubEnv(tt.env)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ScrubEnv(%q) (-want +got):\n%s", tt.env, diff)
			}
		})
	}
}
