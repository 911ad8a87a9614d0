package restart

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	target   = "greengrass-lite.target"
	iotcored = "ggl.core.iotcored.service"
	tesd     = "ggl.core.tesd.service"
)

// connect starts a bus with the stand-in systemd on it and returns a
// go-systemd connection to that bus.
func connect(t *testing.T, units map[string]*fakeUnit) (*sd.Conn, *fakeSystemd) {
	t.Helper()
	addr := startBus(t)
	fake := startFakeSystemd(t, addr, units)

	conn, err := Connect(t.Context(), addr)
	if err != nil {
		t.Fatalf("Connect(%q): %v", addr, err)
	}
	t.Cleanup(conn.Close)
	return conn, fake
}

// restartCalls are the calls Units makes for one unit whose ConsistsOf
// lists members.
func restartCalls(unit string, members ...string) []string {
	calls := []string{"Get " + unit + " org.freedesktop.systemd1.Unit.ConsistsOf"}
	for _, m := range append(members, unit) {
		calls = append(calls, "ResetFailedUnit "+m)
	}
	return append(calls, "RestartUnit "+unit+" replace")
}

func TestUnits(t *testing.T) {
	tests := []struct {
		name       string
		units      map[string]*fakeUnit
		restart    []string
		wantCalls  []string
		wantResult string // job result in the *JobError; "" = no job error
		wantErr    string // text the error contains; "" = no error
	}{
		{
			name: "target-with-part-of",
			units: map[string]*fakeUnit{
				target:   {consistsOf: []string{iotcored, tesd}},
				iotcored: {startLimitHit: true},
				tesd:     {},
			},
			restart:   []string{target},
			wantCalls: restartCalls(target, iotcored, tesd),
		},
		{
			// Without the reset before the restart, the job would fail.
			name:      "start-limit-cleared",
			units:     map[string]*fakeUnit{iotcored: {startLimitHit: true}},
			restart:   []string{iotcored},
			wantCalls: restartCalls(iotcored),
		},
		{
			// When the reset is rejected, the start limit stays and real
			// systemd fails the start job with result "failed"; RestartUnit
			// itself succeeds.
			name:       "start-limit-hit",
			units:      map[string]*fakeUnit{iotcored: {startLimitHit: true, resetDenied: true}},
			restart:    []string{iotcored},
			wantCalls:  restartCalls(iotcored),
			wantResult: "failed",
			wantErr:    "journalctl -u " + iotcored,
		},
		{
			name:       "result-failed",
			units:      map[string]*fakeUnit{tesd: {result: "failed"}},
			restart:    []string{tesd},
			wantCalls:  restartCalls(tesd),
			wantResult: "failed",
			wantErr:    `restart of unit "ggl.core.tesd.service" finished with result "failed"`,
		},
		{
			name:       "result-timeout",
			units:      map[string]*fakeUnit{tesd: {result: "timeout"}},
			restart:    []string{tesd},
			wantCalls:  restartCalls(tesd),
			wantResult: "timeout",
			wantErr:    "did not start within its timeout",
		},
		{
			name:       "result-canceled",
			units:      map[string]*fakeUnit{tesd: {result: "canceled"}},
			restart:    []string{tesd},
			wantCalls:  restartCalls(tesd),
			wantResult: "canceled",
			wantErr:    "another job replaced the restart",
		},
		{
			name:       "result-dependency",
			units:      map[string]*fakeUnit{tesd: {result: "dependency"}},
			restart:    []string{tesd},
			wantCalls:  restartCalls(tesd),
			wantResult: "dependency",
			wantErr:    "journalctl -u " + tesd,
		},
		{
			name:      "unit-not-found",
			units:     map[string]*fakeUnit{},
			restart:   []string{"ggl.core.missing.service"},
			wantCalls: restartCalls("ggl.core.missing.service"),
			wantErr:   `unit "ggl.core.missing.service" not found`,
		},
		{
			name: "failure-does-not-stop-others",
			units: map[string]*fakeUnit{
				iotcored: {result: "failed"},
				tesd:     {},
			},
			restart:    []string{iotcored, tesd},
			wantCalls:  append(restartCalls(iotcored), restartCalls(tesd)...),
			wantResult: "failed",
			wantErr:    iotcored,
		},
		{
			name:      "invalid-name",
			units:     map[string]*fakeUnit{},
			restart:   []string{"greengrass-lite"},
			wantCalls: nil,
			wantErr:   `invalid unit name "greengrass-lite"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, fake := connect(t, tt.units)

			err := Units(t.Context(), conn, tt.restart, zap.NewNop())

			if diff := cmp.Diff(tt.wantCalls, fake.Calls()); diff != "" {
				t.Errorf("calls to systemd (-want +got):\n%s", diff)
			}
			checkError(t, err, tt.wantErr, tt.wantResult)
		})
	}
}

func checkError(t *testing.T, err error, wantErr, wantResult string) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("Units() = %v; want nil", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("Units() = %v; want an error containing %q", err, wantErr)
	}

	var jobErr *JobError
	gotResult := ""
	if errors.As(err, &jobErr) {
		gotResult = jobErr.Result
	}
	if gotResult != wantResult {
		t.Errorf("JobError result = %q; want %q", gotResult, wantResult)
	}
}

func TestUnitsJoinsErrors(t *testing.T) {
	conn, _ := connect(t, map[string]*fakeUnit{
		iotcored: {result: "failed"},
		tesd:     {result: "timeout"},
	})

	err := Units(t.Context(), conn, []string{iotcored, tesd}, zap.NewNop())

	for _, unit := range []string{iotcored, tesd} {
		if err == nil || !strings.Contains(err.Error(), unit) {
			t.Errorf("Units() = %v; want an error naming %q", err, unit)
		}
	}
}

func TestUnitsResetDeniedLogged(t *testing.T) {
	conn, _ := connect(t, map[string]*fakeUnit{tesd: {resetDenied: true}})
	core, logs := observer.New(zapcore.DebugLevel)

	err := Units(t.Context(), conn, []string{tesd}, zap.New(core))

	if err != nil {
		t.Fatalf("Units() = %v; want nil", err)
	}
	warns := logs.FilterLevelExact(zapcore.WarnLevel).AllUntimed()
	if len(warns) != 1 {
		t.Fatalf("Warn lines = %d; want 1", len(warns))
	}
	if got := warns[0].ContextMap()["reset-unit"]; got != tesd {
		t.Errorf("Warn reset-unit = %v; want %q", got, tesd)
	}
}

func TestUnitsContextCanceled(t *testing.T) {
	conn, fake := connect(t, map[string]*fakeUnit{
		target: {hang: true},
		tesd:   {},
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	done := make(chan error, 1)
	go func() { done <- Units(ctx, conn, []string{target, tesd}, zap.NewNop()) }()

	waitFor(t, fake.restarted, target)
	cancel()

	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Units did not return within 30s after cancel")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Units() = %v; want context.Canceled", err)
	}
	// The second unit is not restarted once ctx is done.
	if diff := cmp.Diff(restartCalls(target), fake.Calls()); diff != "" {
		t.Errorf("calls to systemd (-want +got):\n%s", diff)
	}
}

func waitFor(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("restarted %q; want %q", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no RestartUnit for %q within 30s", want)
	}
}

func TestConnectFailure(t *testing.T) {
	addr := "unix:path=" + t.TempDir() + "/no-bus.sock"

	_, err := Connect(t.Context(), addr)

	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("Connect(%q) = %v; want an error naming the address", addr, err)
	}
}

func TestConnectSystemBusFromEnv(t *testing.T) {
	addr := startBus(t)
	startFakeSystemd(t, addr, map[string]*fakeUnit{tesd: {}})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", addr)

	conn, err := Connect(t.Context(), "")
	if err != nil {
		t.Fatalf("Connect(%q) with DBUS_SYSTEM_BUS_ADDRESS: %v", "", err)
	}
	defer conn.Close()

	if err := Units(t.Context(), conn, []string{tesd}, zap.NewNop()); err != nil {
		t.Errorf("Units() = %v; want nil", err)
	}
}

func TestValidateUnitName(t *testing.T) {
	tests := []struct {
		name, unit string
		valid      bool
	}{
		{"target", "greengrass-lite.target", true},
		{"service-dots", "ggl.core.gg-fleet-statusd.service", true},
		{"template-instance", "getty@tty1.service", true},
		{"escaped", `dev-disk-by\x2dlabel.device`, true},
		{"no-type", "greengrass-lite", false},
		{"unknown-type", "greengrass-lite.unit", false},
		{"empty-prefix", ".service", false},
		{"empty", "", false},
		{"slash", "../etc.service", false},
		{"space", "ggl core.service", false},
		{"too-long", strings.Repeat("a", 250) + ".service", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateUnitName(tt.unit)
			if (err == nil) != tt.valid {
				t.Errorf("validateUnitName(%q) = %v; want valid %v", tt.unit, err, tt.valid)
			}
		})
	}
}
