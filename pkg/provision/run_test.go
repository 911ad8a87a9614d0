package provision

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

func TestRunHappyPath(t *testing.T) {
	tests := []struct {
		name    string
		keyType KeyType
		check   func(t *testing.T, res *Result)
	}{
		{"ec-p256-default", "", wantECDSA(elliptic.P256())},
		{"ec-p384", KeyECP384, wantECDSA(elliptic.P384())},
		{"rsa-2048", KeyRSA2048, wantRSA(2048)},
		{"aws-generated", KeyAWSGenerated, func(*testing.T, *Result) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startFake(t, fakeiot.Config{RequireThingClientID: true})
			o := env.options()
			o.KeyType = tt.keyType

			res, err := env.run(t, o)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}

			assertResult(t, env, res)
			tt.check(t, res)
			wantCreate := fakeiot.OpCreateFromCSR
			if tt.keyType == KeyAWSGenerated {
				wantCreate = fakeiot.OpCreateKeys
			}
			stats := env.srv.Stats()
			if got := stats.Requests[wantCreate]; got != 1 {
				t.Errorf("%s requests = %d; want 1", wantCreate, got)
			}
			if got := stats.Requests[fakeiot.OpRegister]; got != 1 {
				t.Errorf("RegisterThing requests = %d; want 1", got)
			}
			if stats.Connects != 2 {
				t.Errorf("connects = %d; want 2 (claim, then the new certificate)", stats.Connects)
			}
			env.assertNoSecretsLogged(t)
		})
	}
}

// assertResult checks res against the fake's record of the registration.
func assertResult(t *testing.T, env *fakeEnv, res *Result) {
	t.Helper()
	things := env.srv.Things()
	if len(things) != 1 {
		t.Fatalf("fake has %d things; want 1", len(things))
	}
	thing := things[0]
	if res.ThingName != thing.Name {
		t.Errorf("ThingName = %q; want %q", res.ThingName, thing.Name)
	}
	if res.CertificateID != thing.CertificateID {
		t.Errorf("CertificateID = %q; want %q", res.CertificateID, thing.CertificateID)
	}
	if diff := cmp.Diff(map[string]string{"SerialNumber": "0001"}, thing.Params); diff != "" {
		t.Errorf("RegisterThing parameters (-want +got):\n%s", diff)
	}

	cert, err := parseCertificatePEM(res.CertificatePEM)
	if err != nil {
		t.Fatalf("CertificatePEM does not parse: %v", err)
	}
	if !PublicKeysMatch(cert, res.Key) {
		t.Error("certificate does not match Key")
	}
	if !strings.HasPrefix(string(res.KeyPEM), "-----BEGIN PRIVATE KEY-----") {
		t.Error("KeyPEM is not PKCS#8 PEM")
	}
	key, err := ParseKeyPEM(res.KeyPEM)
	if err != nil {
		t.Fatalf("ParseKeyPEM(KeyPEM) error = %v", err)
	}
	if !PublicKeysMatch(cert, key) {
		t.Error("certificate does not match KeyPEM")
	}
	if res.DeviceConfiguration == nil {
		t.Error("DeviceConfiguration is nil; want a map")
	}
}

func wantECDSA(curve elliptic.Curve) func(*testing.T, *Result) {
	return func(t *testing.T, res *Result) {
		key, ok := res.Key.(*ecdsa.PrivateKey)
		if !ok {
			t.Fatalf("Key is %T; want *ecdsa.PrivateKey", res.Key)
		}
		if key.Curve != curve {
			t.Errorf("curve = %s; want %s", key.Curve.Params().Name, curve.Params().Name)
		}
	}
}

func wantRSA(bits int) func(*testing.T, *Result) {
	return func(t *testing.T, res *Result) {
		key, ok := res.Key.(*rsa.PrivateKey)
		if !ok {
			t.Fatalf("Key is %T; want *rsa.PrivateKey", res.Key)
		}
		if key.N.BitLen() != bits {
			t.Errorf("RSA key bits = %d; want %d", key.N.BitLen(), bits)
		}
	}
}

func TestRunProgressSteps(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	if _, err := env.run(t, env.options()); err != nil {
		t.Fatalf("Run() error = %v", err)
	}

	want := []string{StepLoadingClaim, StepGeneratingKey, StepConnecting,
		StepSubscribing, StepCreateCSR, StepRegistering, StepVerifying}
	if diff := cmp.Diff(want, env.rec.steps(1)); diff != "" {
		t.Errorf("steps of attempt 1 (-want +got):\n%s", diff)
	}
}

// injection is a fault for the next request of an operation.
type injection struct {
	op    fakeiot.Op
	fault fakeiot.Fault
}

func TestRunRecoversFromFault(t *testing.T) {
	tests := []struct {
		name      string
		inject    []injection
		wantClass Class // class of the failed first attempt
		// wantCreates is the number of create requests: 2 when the failed
		// attempt must start over with a new key and CSR.
		wantCreates int
	}{
		{"no-response-create", []injection{{fakeiot.OpCreateFromCSR, fakeiot.NoAnswer()}},
			Transient, 2},
		{"no-response-register", []injection{{fakeiot.OpRegister, fakeiot.NoAnswer()}},
			Transient, 2},
		{"slow-response-past-timeout",
			[]injection{{fakeiot.OpCreateFromCSR, fakeiot.Delay(2 * time.Second)}},
			Transient, 2},
		{"disconnect-create", []injection{{fakeiot.OpCreateFromCSR, fakeiot.Disconnect()}},
			Transient, 2},
		{"disconnect-register", []injection{{fakeiot.OpRegister, fakeiot.Disconnect()}},
			Transient, 2},
		{"token-rejected", []injection{{fakeiot.OpRegister, fakeiot.Reject(400,
			"InvalidCertificateOwnershipToken", "Certificate ownership token cannot be empty.")}},
			StartOver, 2},
		{"token-expired", []injection{{fakeiot.OpCreateFromCSR, fakeiot.ExpiredToken()}},
			StartOver, 2},
		{"empty-token", []injection{{fakeiot.OpCreateFromCSR, fakeiot.Token("")}},
			StartOver, 2},
		{"internal-500", []injection{{fakeiot.OpCreateFromCSR,
			fakeiot.Reject(500, "InternalFailure", "Internal error")}}, Transient, 2},
		{"service-unavailable-503", []injection{{fakeiot.OpRegister,
			fakeiot.Reject(503, "ServiceUnavailable", "try later")}}, Transient, 2},
		{"malformed-create", []injection{{fakeiot.OpCreateFromCSR, fakeiot.Malformed()}},
			StartOver, 2},
		{"malformed-register", []injection{{fakeiot.OpRegister, fakeiot.Malformed()}},
			StartOver, 2},
		{"oversized-create", []injection{{fakeiot.OpCreateFromCSR, fakeiot.Oversized()}},
			StartOver, 2},
		{"certificate-for-other-key",
			[]injection{{fakeiot.OpCreateFromCSR, fakeiot.WrongKey()}}, StartOver, 2},
		{"invalid-thing-name",
			[]injection{{fakeiot.OpRegister, fakeiot.ThingName("bad/name")}}, StartOver, 2},
		{"connack-server-unavailable", []injection{{fakeiot.OpConnect,
			fakeiot.Reject(0x88, "", "server unavailable")}}, Transient, 1},
		{"connect-dropped", []injection{{fakeiot.OpConnect, fakeiot.Disconnect()}},
			Transient, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startFake(t, fakeiot.Config{})
			for _, in := range tt.inject {
				env.srv.Inject(in.op, in.fault)
			}
			o := env.options()
			o.ResponseTimeout = time.Second

			res, err := env.run(t, o)
			if err != nil {
				t.Fatalf("Run() error = %v; want success after a retry", err)
			}

			if got := env.rec.attempts(); got != 2 {
				t.Errorf("attempts = %d; want 2", got)
			}
			if got := firstRetryClass(t, env); got != tt.wantClass {
				t.Errorf("class of the failed attempt = %s; want %s", got, tt.wantClass)
			}
			creates := env.srv.Stats().Requests[fakeiot.OpCreateFromCSR]
			if creates != tt.wantCreates {
				t.Errorf("CreateCertificateFromCsr requests = %d; want %d",
					creates, tt.wantCreates)
			}
			if got := env.srv.Things(); len(got) != 1 || got[0].Name != res.ThingName {
				t.Errorf("fake things = %+v; want one named %q", got, res.ThingName)
			}
			env.assertNoSecretsLogged(t)
		})
	}
}

// firstRetryClass returns the class of the error in the first
// StepWaiting event.
func firstRetryClass(t *testing.T, env *fakeEnv) Class {
	t.Helper()
	for _, e := range env.rec.snapshot() {
		if e.Step == StepWaiting {
			return classOf(e.Err)
		}
	}
	t.Fatal("no retry was reported")
	return 0
}

func TestRunSlowResponseWithinTimeout(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	env.srv.Inject(fakeiot.OpCreateFromCSR, fakeiot.Delay(300*time.Millisecond))
	env.srv.Inject(fakeiot.OpRegister, fakeiot.Delay(300*time.Millisecond))

	if _, err := env.run(t, env.options()); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if got := env.rec.attempts(); got != 1 {
		t.Errorf("attempts = %d; want 1", got)
	}
}

func TestRunStopsOnRejection(t *testing.T) {
	tests := []struct {
		name       string
		cfg        fakeiot.Config
		inject     []injection
		wantStatus int
		wantCode   string
		wantText   string
	}{
		{"access-denied-403", fakeiot.Config{}, []injection{{fakeiot.OpRegister,
			fakeiot.Reject(403, "AccessDenied", "denied")}}, 403, "AccessDenied", ""},
		{"invalid-parameters-400", fakeiot.Config{}, []injection{{fakeiot.OpRegister,
			fakeiot.Reject(400, "InvalidParameters", "missing SerialNumber")}},
			400, "InvalidParameters", ""},
		{"hook-denies", fakeiot.Config{Hook: func(map[string]string) error {
			return errors.New("serial not on the allow-list")
		}}, nil, 403, "", "serial not on the allow-list"},
		{"empty-thing-name", fakeiot.Config{}, []injection{{fakeiot.OpRegister,
			fakeiot.ThingName("")}}, 0, "", "has no thing resource"},
		{"claim-policy-denies-template", fakeiot.Config{DenyTemplateTopic: true}, nil,
			0, "", "the claim policy does not allow topic"},
		{"connack-not-authorized", fakeiot.Config{}, []injection{{fakeiot.OpConnect,
			fakeiot.Reject(0x87, "", "not authorized")}}, 0, "",
			"the claim certificate may be inactive or revoked"},
		{"untrusted-server", fakeiot.Config{UntrustedServer: true}, nil, 0, "",
			"server certificate not trusted by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := startFake(t, tt.cfg)
			o := env.options()
			o.Retry.MaxAttempts = 2
			for range o.Retry.MaxAttempts {
				for _, in := range tt.inject {
					env.srv.Inject(in.op, in.fault)
				}
			}

			_, err := env.run(t, o)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Run() error = %v; want an *Error", err)
			}
			if pe.Class != Rejected {
				t.Errorf("class = %s; want %s (error %v)", pe.Class, Rejected, err)
			}
			if pe.StatusCode != tt.wantStatus {
				t.Errorf("StatusCode = %d; want %d", pe.StatusCode, tt.wantStatus)
			}
			if tt.wantCode != "" && pe.ErrorCode != tt.wantCode {
				t.Errorf("ErrorCode = %q; want %q", pe.ErrorCode, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q; want it to contain %q", err, tt.wantText)
			}
			if got := env.rec.attempts(); got != 2 {
				t.Errorf("attempts = %d; want 2 (MaxAttempts)", got)
			}
			if IsLocalConfig(err) {
				t.Error("IsLocalConfig() = true; want false for a cloud-side rejection")
			}
			if !env.logContains(tt.wantText) {
				t.Errorf("no log line contains %q", tt.wantText)
			}
		})
	}
}
