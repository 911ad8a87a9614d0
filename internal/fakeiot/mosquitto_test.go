package fakeiot

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ggl-fleetd/ggl-fleetd/internal/mosquittotest"
)

// startMosquitto runs mosquitto with the fake's server certificate and
// client CA and returns its address.
func startMosquitto(t *testing.T, s *Server) string {
	t.Helper()
	files, err := s.WriteBrokerFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return mosquittotest.Start(t, mosquittotest.TLSFiles{
		CertPath: files.CertPath, KeyPath: files.KeyPath, ClientCAPath: files.ClientCAPath,
	})
}

// TestRespondThroughMosquitto runs CreateCertificateFromCsr and
// RegisterThing through a broker that this project did not write.
func TestRespondThroughMosquitto(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl", ThingPrefix: "mq-"})
	addr := startMosquitto(t, s)

	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	r, err := s.Respond(ctx, addr, nil)
	if err != nil {
		t.Fatalf("Respond() error = %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })

	device := mustDial(t, addr, claimTLS(t, s), "device-mq")
	codes := device.subscribe(t, csrTopic, provisionTopic("Tmpl"))
	if diff := cmp.Diff([]byte{1, 1, 1, 1}, codes); diff != "" {
		t.Fatalf("SUBACK reason codes from mosquitto (-want +got):\n%s", diff)
	}

	created, key := createFromCSR(t, device)
	if !publicKeyMatches(t, parseCertPEM(t, created.CertificatePEM), key) {
		t.Errorf("issued certificate is not for the CSR's key")
	}

	params := map[string]string{"SerialNumber": "42"}
	topic, reg := registerThing(t, device, "Tmpl", created.Token, params)
	if topic != provisionTopic("Tmpl")+"/accepted" || reg.ThingName != "mq-42" {
		t.Fatalf("RegisterThing responded on %q with %+v; want accepted mq-42", topic, reg)
	}

	want := []Thing{{Name: "mq-42", CertificateID: created.CertificateID, Params: params, Registrations: 1}}
	if diff := cmp.Diff(want, s.Things()); diff != "" {
		t.Errorf("Things() (-want +got):\n%s", diff)
	}

	// The issued certificate is valid for a TLS client login to mosquitto.
	deviceTLS := clientTLS(t, s, []byte(created.CertificatePEM), key)
	mustDial(t, addr, deviceTLS, "mq-42")

	if err := r.Close(); err != nil {
		t.Errorf("Responder.Close() error = %v", err)
	}
	if err := r.Err(); err != nil {
		t.Errorf("Responder.Err() after Close = %v; want nil", err)
	}
}
