package provision

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// throttleRetryLog is the message logged for each throttled retry on the
// same connection.
const throttleRetryLog = "request throttled, sending it again on the same connection"

func TestRunThrottledSameConnection(t *testing.T) {
	const ms = time.Millisecond
	throttled429 := fakeiot.Reject(429, "ThrottlingException", "Rate exceeded")
	throttled400 := fakeiot.Reject(400, "ThrottlingException", "Rate exceeded")
	tests := []struct {
		name     string
		keyType  KeyType
		op       fakeiot.Op
		faults   []fakeiot.Fault
		wantStep string
		// wantWaits are the throttle delays: ThrottleBase doubling to
		// ThrottleMax, at the top of each jitter range.
		wantWaits  []time.Duration
		wantCode   string
		wantStatus int
	}{
		{"register-429", KeyECP256, fakeiot.OpRegister,
			[]fakeiot.Fault{throttled429}, StepThrottledRegister,
			[]time.Duration{500 * ms}, "ThrottlingException", 429},
		{"register-400-code-three-times", KeyECP256, fakeiot.OpRegister,
			[]fakeiot.Fault{throttled400, throttled400, throttled400},
			StepThrottledRegister,
			[]time.Duration{500 * ms, 1000 * ms, 1500 * ms}, "ThrottlingException", 400},
		{"create-csr-429", KeyECP256, fakeiot.OpCreateFromCSR,
			[]fakeiot.Fault{throttled429, throttled429}, StepThrottledCreateCSR,
			[]time.Duration{500 * ms, 1000 * ms}, "ThrottlingException", 429},
		{"create-keys-429", KeyAWSGenerated, fakeiot.OpCreateKeys,
			[]fakeiot.Fault{throttled429}, StepThrottledCreateKeys,
			[]time.Duration{500 * ms}, "ThrottlingException", 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startFake(t, fakeiot.Config{})
			for _, f := range tt.faults {
				env.srv.Inject(tt.op, f)
			}
			clock := newFakeClock(time.Now())
			o := env.options()
			o.KeyType = tt.keyType
			o.Retry = RetryPolicy{
				ThrottleBase: 500 * ms, ThrottleMax: 1500 * ms, MaxAttempts: 1,
				Rand: topRand{}, Clock: clock,
			}

			if _, err := env.run(t, o); err != nil {
				t.Fatalf("Run() error = %v", err)
			}

			st := env.srv.Stats()
			// One claim connection, and one check with the new certificate.
			if st.Connects != 2 {
				t.Errorf("connects = %d; want 2", st.Connects)
			}
			if got, want := st.Requests[tt.op], len(tt.faults)+1; got != want {
				t.Errorf("%s requests = %d; want %d", tt.op, got, want)
			}
			if got := len(env.srv.Certificates()); got != 2 {
				t.Errorf("certificates = %d; want 2 (the claim and one issued)", got)
			}
			if diff := cmp.Diff(tt.wantWaits, clock.waits()); diff != "" {
				t.Errorf("clock waits (-want +got):\n%s", diff)
			}
			assertThrottleEvents(t, env.rec, tt.wantStep, tt.wantWaits)
			assertThrottleLogs(t, env, tt.wantCode, tt.wantStatus, tt.wantWaits)
		})
	}
}

// assertThrottleEvents checks that every throttled retry was reported to
// Progress with step and its delay, in attempt 1, and no attempt failed.
func assertThrottleEvents(t *testing.T, rec *recorder, step string,
	delays []time.Duration) {
	t.Helper()
	var got []time.Duration
	for _, e := range rec.snapshot() {
		if e.Step == StepWaiting {
			t.Errorf("attempt %d failed: %v; want retries on the same connection",
				e.Attempt, e.Err)
		}
		if e.Step != step {
			continue
		}
		got = append(got, e.NextDelay)
		if e.Attempt != 1 || !isThrottled(e.Err) {
			t.Errorf("event %+v; want attempt 1 with a throttled error", e)
		}
	}
	if diff := cmp.Diff(delays, got); diff != "" {
		t.Errorf("delays of %q events (-want +got):\n%s", step, diff)
	}
}

// assertThrottleLogs checks one Warn line per throttled retry with the
// codes of the response, the attempt and the delay.
func assertThrottleLogs(t *testing.T, env *fakeEnv, code string, status int,
	delays []time.Duration) {
	t.Helper()
	entries := env.logs.FilterMessage(throttleRetryLog).All()
	if len(entries) != len(delays) {
		t.Fatalf("%q logged %d times; want %d", throttleRetryLog, len(entries), len(delays))
	}
	for i, e := range entries {
		fields := e.ContextMap()
		want := map[string]any{
			"error-code": code, "status-code": int64(status), "attempt": int64(1),
			"delay": delays[i], "throttled-retry": int64(i + 1),
		}
		for k, v := range want {
			if fields[k] != v {
				t.Errorf("log line %d field %q = %v; want %v", i, k, fields[k], v)
			}
		}
		if e.Level.String() != "warn" {
			t.Errorf("log line %d level = %s; want warn", i, e.Level)
		}
	}
}

func TestRunThrottledFallsBack(t *testing.T) {
	tests := []struct {
		name  string
		retry RetryPolicy
		// wantRetries is the number of throttled retries on the first
		// connection before the attempt fails.
		wantRetries int
	}{
		// Three throttled responses, and two retries allowed.
		{"retry-limit", RetryPolicy{ThrottleRetries: 2}, 2},
		// Delays of 20 and 40 min reach 60 min, past the 55 min in which
		// the ownership token is used.
		{"token-age", RetryPolicy{ThrottleBase: 20 * time.Minute,
			ThrottleMax: time.Hour}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startFake(t, fakeiot.Config{})
			throttled := fakeiot.Reject(429, "ThrottlingException", "Rate exceeded")
			faults := tt.wantRetries + 1
			for range faults {
				env.srv.Inject(fakeiot.OpRegister, throttled)
			}
			o := env.options()
			o.Retry = tt.retry
			o.Retry.MaxAttempts = 2
			o.Retry.Base = time.Millisecond
			o.Retry.MinReconnect = time.Millisecond
			o.Retry.Rand = topRand{}
			o.Retry.Clock = newFakeClock(time.Now())

			if _, err := env.run(t, o); err != nil {
				t.Fatalf("Run() error = %v", err)
			}

			st := env.srv.Stats()
			if got, want := st.Requests[fakeiot.OpRegister], faults+1; got != want {
				t.Errorf("RegisterThing requests = %d; want %d", got, want)
			}
			if got := st.Requests[fakeiot.OpCreateFromCSR]; got != 2 {
				t.Errorf("CreateCertificateFromCsr requests = %d; want 2", got)
			}
			if got := env.rec.attempts(); got != 2 {
				t.Errorf("attempts = %d; want 2", got)
			}
			if got := firstRetryClass(t, env); got != Transient {
				t.Errorf("class of the failed attempt = %s; want %s", got, Transient)
			}
			retries := env.logs.FilterMessage(throttleRetryLog).Len()
			if retries != tt.wantRetries {
				t.Errorf("throttled retries logged = %d; want %d", retries, tt.wantRetries)
			}
			if !env.logContains("request still throttled, starting a new attempt") {
				t.Error("the end of the throttled retries was not logged")
			}
		})
	}
}

func TestRunCancelDuringThrottleWait(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	env.srv.Inject(fakeiot.OpRegister,
		fakeiot.Reject(429, "ThrottlingException", "Rate exceeded"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := env.options()
	o.Retry.ThrottleBase = 30 * time.Minute
	o.Retry.ThrottleMax = 30 * time.Minute
	o.Retry.Rand = topRand{}
	o.Progress = func(e Event) {
		if e.Step == StepThrottledRegister {
			cancel()
		}
	}

	_, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run() error = %v; want it to wrap context.Canceled", err)
	}
	if got := env.srv.Stats().Requests[fakeiot.OpRegister]; got != 1 {
		t.Errorf("RegisterThing requests = %d; want 1", got)
	}
}

// TestRunConnectionLostDuringThrottleWait closes the claim connection while
// Run waits 30 minutes to send a throttled RegisterThing again. The wait must
// end with the connection, and the next attempt must start.
func TestRunConnectionLostDuringThrottleWait(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	env.srv.Inject(fakeiot.OpRegister,
		fakeiot.Reject(429, "ThrottlingException", "Rate exceeded"))
	o := env.options()
	o.Retry.ThrottleBase = 30 * time.Minute
	o.Retry.ThrottleMax = 30 * time.Minute
	o.Retry.Rand = topRand{}

	var sessions []session
	connect := func(ctx context.Context, cfg sessionConfig) (session, error) {
		s, err := connectPaho(ctx, cfg)
		if err == nil {
			sessions = append(sessions, s)
		}
		return s, err
	}
	o.Progress = func(e Event) {
		env.rec.progress(e)
		if e.Step == StepThrottledRegister {
			sessions[0].Close()
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := run(ctx, o, connect); err != nil {
		t.Fatalf("run() error = %v", err)
	}

	if got := env.rec.attempts(); got != 2 {
		t.Errorf("attempts = %d; want 2", got)
	}
	var lost bool
	for _, e := range env.rec.snapshot() {
		if e.Step == StepWaiting && e.Err != nil {
			lost = strings.Contains(e.Err.Error(), "connection lost while waiting to retry")
		}
	}
	if !lost {
		t.Errorf("retry events %+v; want one after the lost connection", env.rec.snapshot())
	}
}

func TestIsThrottled(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"status-429", &Error{Op: "RegisterThing", StatusCode: 429}, true},
		{"code-400", &Error{StatusCode: 400, ErrorCode: "ThrottlingException"}, true},
		{"code-lower-case", &Error{StatusCode: 400, ErrorCode: "throttled"}, true},
		{"wrapped", errors.Join(errors.New("x"), &Error{StatusCode: 429}), true},
		{"service-unavailable", &Error{StatusCode: 503, ErrorCode: "ServiceUnavailable"},
			false},
		{"limit-exceeded", &Error{StatusCode: 400, ErrorCode: "LimitExceededException"},
			false},
		{"plain-error", errors.New("throttled"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isThrottled(tt.err); got != tt.want {
				t.Errorf("isThrottled(%v) = %v; want %v", tt.err, got, tt.want)
			}
		})
	}
}
