package fakeiot

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

func TestClaimPolicySubscribe(t *testing.T) {
	tests := []struct {
		name     string
		denyTmpl bool
		filter   string
		want     byte
	}{
		{"csr-accepted", false, csrTopic + "/accepted", 1},
		{"csr-rejected", false, csrTopic + "/rejected", 1},
		{"csr-plus", false, csrTopic + "/+", 1},
		{"keys-accepted", false, keysTopic + "/accepted", 1},
		{"cbor-accepted", false, "$aws/certificates/create-from-csr/cbor/accepted", 1},
		{"template-accepted", false, provisionTopic("Tmpl") + "/accepted", 1},
		{"request-topic", false, csrTopic, 0x87},
		{"other-template", false, provisionTopic("Other") + "/accepted", 0x87},
		{"shadow", false, "$aws/things/t1/shadow/get/accepted", 0x87},
		{"hash", false, "#", 0x87},
		{"aws-hash", false, "$aws/#", 0x87},
		{"plain", false, "devices/status", 0x87},
		{"denied-template", true, provisionTopic("Tmpl") + "/accepted", 0x87},
		{"denied-template-csr", true, csrTopic + "/accepted", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, Config{TemplateName: "Tmpl", DenyTemplateTopic: tt.denyTmpl})
			tc := mustDial(t, s.Addr(), claimTLS(t, s), "policy-sub")

			ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
			defer cancel()
			ack, _ := tc.c.Subscribe(ctx, &paho.Subscribe{
				Subscriptions: []paho.SubscribeOptions{{Topic: tt.filter, QoS: 1}},
			})
			if ack == nil || len(ack.Reasons) != 1 {
				t.Fatalf("Subscribe(%q) gave no SUBACK", tt.filter)
			}
			if got := ack.Reasons[0]; got != tt.want {
				t.Errorf("SUBACK of %q = %#x; want %#x", tt.filter, got, tt.want)
			}
		})
	}
}

func TestClaimPolicyPublish(t *testing.T) {
	tests := []struct {
		name     string
		denyTmpl bool
		topic    string
		want     byte
	}{
		{"csr-request", false, csrTopic, 0},
		{"template-request", false, provisionTopic("Tmpl"), 0},
		{"csr-accepted", false, csrTopic + "/accepted", 0x87},
		{"other-template", false, provisionTopic("Other"), 0x87},
		{"plain", false, "devices/status", 0x87},
		{"denied-template", true, provisionTopic("Tmpl"), 0x87},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, Config{TemplateName: "Tmpl", DenyTemplateTopic: tt.denyTmpl})
			tc := mustDial(t, s.Addr(), claimTLS(t, s), "policy-pub")

			if got := tc.publish(t, tt.topic, []byte("{}")); got != tt.want {
				t.Errorf("PUBACK of %q = %#x; want %#x", tt.topic, got, tt.want)
			}
		})
	}
}

func TestAnswerDroppedWithoutSubscription(t *testing.T) {
	s := startFake(t, Config{})
	tc := mustDial(t, s.Addr(), claimTLS(t, s), "no-sub")

	// Subscribed to rejected only: the accepted response must be lost.
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	if _, err := tc.c.Subscribe(ctx, &paho.Subscribe{
		Subscriptions: []paho.SubscribeOptions{{Topic: csrTopic + "/rejected", QoS: 1}},
	}); err != nil {
		t.Fatal(err)
	}

	csr, _ := newCSR(t)
	if code := tc.publish(t, csrTopic, map[string]string{"certificateSigningRequest": string(csr)}); code != 0 {
		t.Fatalf("PUBACK = %#x; want 0", code)
	}

	waitFor(t, "the dropped response", func() bool { return s.Stats().Dropped == 1 })
	tc.expectNoMessage(t)
}

// TestAnswerDroppedWhenSubscribedLate checks that a subscription made after
// the request does not receive the delayed response.
func TestAnswerDroppedWhenSubscribedLate(t *testing.T) {
	s := startFake(t, Config{})
	s.Inject(OpCreateFromCSR, Delay(100*time.Millisecond))
	tc := mustDial(t, s.Addr(), claimTLS(t, s), "late-sub")

	csr, _ := newCSR(t)
	tc.publish(t, csrTopic, map[string]string{"certificateSigningRequest": string(csr)})
	tc.subscribe(t, csrTopic)

	waitFor(t, "the dropped response", func() bool { return s.Stats().Dropped == 1 })
	tc.expectNoMessage(t)
}

func TestAnswerOnlyToRequester(t *testing.T) {
	s := startFake(t, Config{})
	requester := mustDial(t, s.Addr(), claimTLS(t, s), "requester")
	other := mustDial(t, s.Addr(), claimTLS(t, s), "bystander")
	requester.subscribe(t, csrTopic)
	other.subscribe(t, csrTopic)

	first, _ := createFromCSR(t, requester)

	// The bystander's first message must be the response to its own request.
	second, _ := createFromCSR(t, other)
	if second.CertificateID == first.CertificateID {
		t.Errorf("bystander received the requester's response (certificate %q)", first.CertificateID)
	}
	other.expectNoMessage(t)
	requester.expectNoMessage(t)
}

func TestConnectClientID(t *testing.T) {
	tests := []struct {
		name     string
		clientID string
		want     int
	}{
		{"max-length", strings.Repeat("a", 128), 0},
		{"too-long", strings.Repeat("a", 129), 0x85},
		{"dollar", "$device", 0x85},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, Config{})
			if got := connectCode(t, s.Addr(), claimTLS(t, s), tt.clientID); got != tt.want {
				t.Errorf("CONNACK for client ID %q = %#x; want %#x", tt.clientID, got, tt.want)
			}
		})
	}
}

func TestConnectInterval(t *testing.T) {
	clock := newFakeClock()
	s := startFake(t, Config{ConnectInterval: time.Second, Clock: clock.Now})
	conf := claimTLS(t, s)

	if got := connectCode(t, s.Addr(), conf, "rate"); got != 0 {
		t.Fatalf("first CONNACK = %#x; want 0", got)
	}
	if got := connectCode(t, s.Addr(), conf, "rate"); got != 0x9f {
		t.Errorf("CONNACK within the interval = %#x; want 0x9f", got)
	}
	if got := connectCode(t, s.Addr(), conf, "other-id"); got != 0 {
		t.Errorf("CONNACK of another client ID = %#x; want 0", got)
	}

	clock.Advance(time.Second)
	if got := connectCode(t, s.Addr(), conf, "rate"); got != 0 {
		t.Errorf("CONNACK after the interval = %#x; want 0", got)
	}
	if got := s.Stats().ConnectRejections; got != 1 {
		t.Errorf("Stats().ConnectRejections = %d; want 1", got)
	}
}

// TestIssuedCertificateConnect checks that an issued certificate connects
// only after RegisterThing has activated it.
func TestIssuedCertificateConnect(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl", RequireThingClientID: true})
	tc := mustDial(t, s.Addr(), claimTLS(t, s), "claimer")
	tc.subscribe(t, csrTopic, provisionTopic("Tmpl"))

	created, key := createFromCSR(t, tc)
	device := clientTLS(t, s, []byte(created.CertificatePEM), key)
	if got := connectCode(t, s.Addr(), device, "thing-1"); got != 0x87 {
		t.Errorf("CONNACK with a PENDING_ACTIVATION certificate = %#x; want 0x87", got)
	}

	topic, reg := registerThing(t, tc, "Tmpl", created.Token, map[string]string{"SerialNumber": "thing-1"})
	if !strings.HasSuffix(topic, "/accepted") {
		t.Fatalf("RegisterThing responded on %q with %+v", topic, reg)
	}
	if got := connectCode(t, s.Addr(), device, "thing-1"); got != 0 {
		t.Errorf("CONNACK with the ACTIVE certificate = %#x; want 0", got)
	}
	if got := connectCode(t, s.Addr(), device, "someone-else"); got != 0x87 {
		t.Errorf("CONNACK with a client ID not starting with the thing name = %#x; want 0x87", got)
	}
}

func TestUnknownClientCertificate(t *testing.T) {
	s := startFake(t, Config{})
	other := startFake(t, Config{})

	// A certificate from another fake's issuer fails the TLS handshake.
	conf := clientTLS(t, s, other.ClaimCertPEM(), other.ClaimKeyPEM())
	if got := connectCode(t, s.Addr(), conf, "stranger"); got != -1 {
		t.Errorf("CONNACK with a foreign certificate = %#x; want a failed connection", got)
	}
}

func TestALPNListener(t *testing.T) {
	s := startFake(t, Config{ALPN: true})
	if s.ALPNAddr() == "" || s.ALPNAddr() == s.Addr() {
		t.Fatalf("ALPNAddr() = %q; want a second listener", s.ALPNAddr())
	}

	tests := []struct {
		name   string
		addr   string
		protos []string
		wantOK bool
	}{
		{"alpn-with-protocol", s.ALPNAddr(), []string{ALPNProtocol}, true},
		{"alpn-without-protocol", s.ALPNAddr(), nil, false},
		{"alpn-other-protocol", s.ALPNAddr(), []string{"mqtt"}, false},
		{"main-without-protocol", s.Addr(), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := claimTLS(t, s)
			conf.NextProtos = tt.protos
			conn, err := tls.Dial("tcp", tt.addr, conf)
			if err == nil {
				err = conn.Handshake()
				defer conn.Close()
			}
			if gotOK := err == nil; gotOK != tt.wantOK {
				t.Fatalf("handshake with ALPN %q on %s: error = %v; want success %v", tt.protos, tt.addr, err, tt.wantOK)
			}
			if err == nil && len(tt.protos) > 0 && conn.ConnectionState().NegotiatedProtocol != ALPNProtocol {
				t.Errorf("NegotiatedProtocol = %q; want %q", conn.ConnectionState().NegotiatedProtocol, ALPNProtocol)
			}
		})
	}
}

func TestUntrustedServer(t *testing.T) {
	s := startFake(t, Config{UntrustedServer: true})
	_, _, err := dial(t, s.Addr(), claimTLS(t, s), "wary")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("connect to an untrusted server: error = %v; want x509.UnknownAuthorityError", err)
	}
}
