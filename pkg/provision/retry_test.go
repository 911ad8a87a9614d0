package provision

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// fakeClock is a Clock whose After returns at once and moves the time
// forward, recording each wait.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// advance moves the time forward by d without recording a wait, as a slow
// network operation does.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// nextDelays returns NextDelay of every StepWaiting event.
func nextDelays(r *recorder) []time.Duration {
	var delays []time.Duration
	for _, e := range r.snapshot() {
		if e.Step == StepWaiting {
			delays = append(delays, e.NextDelay)
		}
	}
	return delays
}

// zeroRand draws the bottom of every range, so every delay is zero.
type zeroRand struct{}

func (zeroRand) Int64N(int64) int64 { return 0 }

func TestRunBackoffSchedule(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name       string
		fault      fakeiot.Fault
		rand       interface{ Int64N(int64) int64 }
		failures   int
		wantDelays []time.Duration
		// wantSleeps are the clock waits: each backoff delay, then what is
		// left of the 10 s reconnect spacing of the claim client ID.
		wantSleeps []time.Duration
	}{
		{"transient-doubles-to-cap", fakeiot.Reject(500, "InternalFailure", "x"),
			topRand{}, 4,
			[]time.Duration{1 * s, 2 * s, 4 * s, 5 * s},
			[]time.Duration{1 * s, 9 * s, 2 * s, 8 * s, 4 * s, 6 * s, 5 * s, 5 * s}},
		{"rejected-uses-long-cap", fakeiot.Reject(403, "AccessDenied", "x"),
			topRand{}, 3,
			[]time.Duration{30 * s, 60 * s, 60 * s},
			[]time.Duration{30 * s, 60 * s, 60 * s}},
		{"zero-jitter-keeps-reconnect-spacing",
			fakeiot.Reject(503, "ServiceUnavailable", "x"),
			zeroRand{}, 2,
			[]time.Duration{0, 0},
			[]time.Duration{10 * s, 10 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startFake(t, fakeiot.Config{})
			for range tt.failures {
				env.srv.Inject(fakeiot.OpRegister, tt.fault)
			}
			clock := newFakeClock(time.Now())
			o := env.options()
			o.Retry = RetryPolicy{
				Base: s, TransientMax: 5 * s,
				RejectedBase: 30 * s, RejectedMax: 60 * s,
				MinReconnect: 10 * s, MaxAttempts: tt.failures + 1,
				Rand: tt.rand, Clock: clock,
			}

			if _, err := env.run(t, o); err != nil {
				t.Fatalf("Run() error = %v", err)
			}

			if diff := cmp.Diff(tt.wantDelays, nextDelays(env.rec)); diff != "" {
				t.Errorf("retry delays (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSleeps, clock.waits()); diff != "" {
				t.Errorf("clock waits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunReconnectSpacingAgainstBroker(t *testing.T) {
	// The fake refuses a second CONNECT of one client ID within 300 ms with
	// CONNACK 0x9F; MinReconnect must keep the retry out of that window.
	env := startFake(t, fakeiot.Config{ConnectInterval: 300 * time.Millisecond})
	env.srv.Inject(fakeiot.OpCreateFromCSR, fakeiot.Reject(500, "InternalFailure", "x"))
	o := env.options()
	o.Retry.MinReconnect = 600 * time.Millisecond
	o.Retry.MaxAttempts = 2

	if _, err := env.run(t, o); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if got := env.srv.Stats().ConnectRejections; got != 0 {
		t.Errorf("CONNECTs rejected for rate = %d; want 0", got)
	}
}

func TestRunRetriesOnlyVerification(t *testing.T) {
	env := startFake(t, fakeiot.Config{RequireThingClientID: true})
	env.srv.Inject(fakeiot.OpConnect, fakeiot.Delay(0)) // the claim connect
	env.srv.Inject(fakeiot.OpConnect, fakeiot.Reject(0x88, "", "server unavailable"))

	res, err := env.run(t, env.options())
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}

	if diff := cmp.Diff([]string{StepVerifying}, env.rec.steps(2)); diff != "" {
		t.Errorf("steps of attempt 2 (-want +got):\n%s", diff)
	}
	if got := env.srv.Stats().Requests[fakeiot.OpRegister]; got != 1 {
		t.Errorf("RegisterThing requests = %d; want 1", got)
	}
	things := env.srv.Things()
	if len(things) != 1 || things[0].CertificateID != res.CertificateID {
		t.Errorf("fake things = %+v; want one with certificate %q", things, res.CertificateID)
	}
}

func TestRunLocalConfigStops(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, env *fakeEnv, o *Options)
	}{
		{"claim-key-missing", func(t *testing.T, env *fakeEnv, o *Options) {
			if err := os.Remove(env.fix.ClaimKeyPath); err != nil {
				t.Fatal(err)
			}
		}},
		{"claim-cert-garbage", func(t *testing.T, env *fakeEnv, o *Options) {
			writeTestFile(t, env.fix.ClaimCertPath, "not a certificate")
		}},
		{"claim-key-mismatch", func(t *testing.T, env *fakeEnv, o *Options) {
			_, keyPEM := newTestCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
			writeTestFile(t, env.fix.ClaimKeyPath, string(keyPEM))
		}},
		{"claim-expired", func(t *testing.T, env *fakeEnv, o *Options) {
			o.Retry.Clock = newFakeClock(time.Now().AddDate(20, 0, 0))
		}},
		{"root-ca-missing", func(t *testing.T, env *fakeEnv, o *Options) {
			o.RootCAPath = env.fix.RootCAPath + ".missing"
		}},
		{"root-ca-empty", func(t *testing.T, env *fakeEnv, o *Options) {
			writeTestFile(t, env.fix.RootCAPath, "")
		}},
		{"proxy-url-invalid", func(t *testing.T, env *fakeEnv, o *Options) {
			o.ProxyURL = "socks5://127.0.0.1:1080"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startFake(t, fakeiot.Config{})
			o := env.options()
			tt.setup(t, env, &o)

			_, err := env.run(t, o)
			if !IsLocalConfig(err) {
				t.Fatalf("IsLocalConfig(%v) = false; want true", err)
			}
			if got := env.rec.attempts(); got != 1 {
				t.Errorf("attempts = %d; want 1", got)
			}
			if got := env.srv.Stats().Connects; got != 0 {
				t.Errorf("connects = %d; want 0", got)
			}
		})
	}
}

func TestRunClaimNotYetValidRetries(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	o := env.options()
	o.Retry.Clock = newFakeClock(time.Now().AddDate(-5, 0, 0))
	o.Retry.MaxAttempts = 2

	_, err := env.run(t, o)
	if classOf(err) != Transient {
		t.Errorf("class = %s; want %s (error %v)", classOf(err), Transient, err)
	}
	if got := env.rec.attempts(); got != 2 {
		t.Errorf("attempts = %d; want 2", got)
	}
}

// TestRunCheckSpacingSameClientID registers a thing named like the device
// ID. The check with the new certificate then reuses the claim connection's
// client ID, and must wait out the broker's one-second limit, but not the
// spacing that follows a failed attempt.
func TestRunCheckSpacingSameClientID(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	clock := newFakeClock(time.Now())
	o := env.options()
	o.Params = map[string]string{"SerialNumber": o.ClientID}
	o.Retry.MinReconnect = 10 * time.Second
	o.Retry.Clock = clock

	res, err := env.run(t, o)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}

	if res.ThingName != o.ClientID {
		t.Fatalf("thing name = %q; want the client ID %q", res.ThingName, o.ClientID)
	}
	if diff := cmp.Diff([]time.Duration{time.Second}, clock.waits()); diff != "" {
		t.Errorf("clock waits (-want +got):\n%s", diff)
	}
}

// TestRunReconnectSpacingFromConnack makes each connect take 3 s on the
// retry clock, as a slow TLS handshake does. The spacing after a failed
// attempt counts from the end of the claim connect, when the broker has
// seen the CONNECT, not from the start of the dial.
func TestRunReconnectSpacingFromConnack(t *testing.T) {
	const s = time.Second
	env := startFake(t, fakeiot.Config{})
	env.srv.Inject(fakeiot.OpCreateFromCSR, fakeiot.Reject(500, "InternalFailure", "x"))
	clock := newFakeClock(time.Now())
	o := env.options()
	o.Retry = RetryPolicy{
		Base: s, TransientMax: 5 * s, MinReconnect: 10 * s, MaxAttempts: 2,
		Rand: topRand{}, Clock: clock,
	}
	slow := func(ctx context.Context, cfg sessionConfig) (session, error) {
		clock.advance(3 * s)
		return connectPaho(ctx, cfg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := run(ctx, o, slow); err != nil {
		t.Fatalf("run() error = %v", err)
	}

	// The backoff waits 1 s, then the reconnect waits what is left of the
	// 10 s after the first CONNACK: 9 s (6 s if counted from the dial).
	want := []time.Duration{1 * s, 9 * s}
	if diff := cmp.Diff(want, clock.waits()); diff != "" {
		t.Errorf("clock waits (-want +got):\n%s", diff)
	}
}
