package provision

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

// fakeEnv is a running fake AWS IoT endpoint with its fixture files.
type fakeEnv struct {
	srv  *fakeiot.Server
	fix  fakeiot.Fixture
	logs *observer.ObservedLogs
	rec  *recorder
}

// startFake starts the fake endpoint for one test and clears the proxy
// environment so that only the test decides about proxies.
func startFake(t *testing.T, cfg fakeiot.Config) *fakeEnv {
	t.Helper()
	for _, name := range []string{"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(name, "")
	}

	srv, err := fakeiot.Start(cfg)
	if err != nil {
		t.Fatalf("fakeiot.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })

	fix, err := srv.WriteFixture(t.TempDir())
	if err != nil {
		t.Fatalf("WriteFixture: %v", err)
	}
	core, logs := observer.New(zap.DebugLevel)
	return &fakeEnv{srv: srv, fix: fix, logs: logs, rec: &recorder{logger: zap.New(core)}}
}

// options returns Options for the fake with retry waits of a few
// milliseconds, so that tests of retries run fast.
func (e *fakeEnv) options() Options {
	return Options{
		Endpoint:        e.fix.Endpoint,
		Port:            e.fix.Port,
		RootCAPath:      e.fix.RootCAPath,
		ClaimCertPath:   e.fix.ClaimCertPath,
		ClaimKeyPath:    e.fix.ClaimKeyPath,
		ClientID:        "device-0001",
		TemplateName:    e.srv.TemplateName(),
		Params:          map[string]string{"SerialNumber": "0001"},
		ResponseTimeout: 5 * time.Second,
		DialTimeout:     5 * time.Second,
		Retry: RetryPolicy{
			Base:         time.Millisecond,
			RejectedBase: time.Millisecond,
			TransientMax: 5 * time.Millisecond,
			RejectedMax:  5 * time.Millisecond,
			MinReconnect: time.Millisecond,
			ThrottleBase: time.Millisecond,
			ThrottleMax:  5 * time.Millisecond,
			MaxAttempts:  5,
		},
		Logger:        e.rec.logger,
		Progress:      e.rec.progress,
		Alive:         e.rec.alive,
		AliveInterval: 10 * time.Millisecond,
	}
}

// run calls Run with a timeout that only catches hangs.
func (e *fakeEnv) run(t *testing.T, o Options) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return Run(ctx, o)
}

// assertNoSecretsLogged fails if a log line contains a private key, a
// certificate body or one of the given secrets.
func (e *fakeEnv) assertNoSecretsLogged(t *testing.T, secrets ...string) {
	t.Helper()
	forbidden := append([]string{"PRIVATE KEY", "CERTIFICATE-----", "CERTIFICATE REQUEST"},
		secrets...)
	for _, entry := range e.logs.All() {
		line := fmt.Sprintf("%s %v", entry.Message, entry.ContextMap())
		for _, s := range forbidden {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("log line %q contains %q", line, s)
			}
		}
	}
}

// logContains reports whether a log line at level or above contains s in
// its message or fields.
func (e *fakeEnv) logContains(s string) bool {
	for _, entry := range e.logs.All() {
		if strings.Contains(fmt.Sprintf("%s %v", entry.Message, entry.ContextMap()), s) {
			return true
		}
	}
	return false
}

// recorder collects Progress events and Alive calls.
type recorder struct {
	logger *zap.Logger

	mu     sync.Mutex
	events []Event
	alives []int // len(events) at each Alive call
}

func (r *recorder) progress(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) alive() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alives = append(r.alives, len(r.events))
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// attempts returns the highest attempt number reported.
func (r *recorder) attempts() int {
	n := 0
	for _, e := range r.snapshot() {
		n = max(n, e.Attempt)
	}
	return n
}

// steps returns the steps of attempt in order.
func (r *recorder) steps(attempt int) []string {
	var steps []string
	for _, e := range r.snapshot() {
		if e.Attempt == attempt {
			steps = append(steps, e.Step)
		}
	}
	return steps
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("Atoi(%q): %v", s, err)
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newTestCert returns a self-signed ECDSA P-256 certificate valid from
// notBefore to notAfter, and its PKCS#8 key, both PEM.
func newTestCert(t *testing.T, notBefore, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err = marshalKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM
}
