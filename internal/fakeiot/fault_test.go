package fakeiot

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// requestCSR publishes a CreateCertificateFromCsr request and returns the
// CSR's key.
func requestCSR(t *testing.T, tc *testClient) []byte {
	t.Helper()
	csr, key := newCSR(t)
	if code := tc.publish(t, csrTopic, map[string]string{"certificateSigningRequest": string(csr)}); code != 0 {
		t.Fatalf("PUBACK = %#x; want 0", code)
	}
	return key
}

func TestFaultAnswers(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, m *paho.Publish, key []byte)
	}{
		{"delay", Delay(20 * time.Millisecond), func(t *testing.T, m *paho.Publish, key []byte) {
			ans := decodeAccepted(t, m)
			if !publicKeyMatches(t, parseCertPEM(t, ans.CertificatePEM), key) {
				t.Errorf("delayed response is not for the CSR's key")
			}
		}},
		{"reject", Reject(503, "ServiceUnavailable", "try later"), func(t *testing.T, m *paho.Publish, _ []byte) {
			if m.Topic != csrTopic+"/rejected" {
				t.Fatalf("response on %q; want rejected", m.Topic)
			}
			var got rejection
			if err := json.Unmarshal(m.Payload, &got); err != nil {
				t.Fatal(err)
			}
			want := rejection{StatusCode: 503, ErrorCode: "ServiceUnavailable", ErrorMessage: "try later"}
			if got != want {
				t.Errorf("rejection = %+v; want %+v", got, want)
			}
		}},
		{"malformed", Malformed(), func(t *testing.T, m *paho.Publish, _ []byte) {
			if m.Topic != csrTopic+"/accepted" || json.Valid(m.Payload) {
				t.Errorf("response on %q with payload %q; want invalid JSON on accepted", m.Topic, m.Payload)
			}
		}},
		{"oversized", Oversized(), func(t *testing.T, m *paho.Publish, _ []byte) {
			if len(m.Payload) != 1<<20 || !json.Valid(m.Payload) {
				t.Errorf("payload of %d bytes, valid JSON %v; want 1 MiB of valid JSON", len(m.Payload), json.Valid(m.Payload))
			}
		}},
		{"wrong-key", WrongKey(), func(t *testing.T, m *paho.Publish, key []byte) {
			ans := decodeAccepted(t, m)
			if publicKeyMatches(t, parseCertPEM(t, ans.CertificatePEM), key) {
				t.Errorf("certificate matches the CSR's key; want another key")
			}
		}},
		{"empty-token", Token(""), func(t *testing.T, m *paho.Publish, _ []byte) {
			if ans := decodeAccepted(t, m); ans.Token != "" || ans.CertificateID == "" {
				t.Errorf("response = %+v; want a certificate with an empty token", ans)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, Config{TemplateName: "Tmpl"})
			tc := provisioner(t, s)
			s.Inject(OpCreateFromCSR, tt.fault)

			key := requestCSR(t, tc)
			tt.check(t, tc.await(t), key)

			// The fault applied once, so the next request gets a normal response.
			createFromCSR(t, tc)
		})
	}
}

func decodeAccepted(t *testing.T, m *paho.Publish) csrResult {
	t.Helper()
	if m.Topic != csrTopic+"/accepted" {
		t.Fatalf("response on %q (%d bytes); want accepted", m.Topic, len(m.Payload))
	}
	var ans csrResult
	if err := json.Unmarshal(m.Payload, &ans); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return ans
}

func TestFaultNoAnswer(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := provisioner(t, s)
	s.Inject(OpCreateFromCSR, NoAnswer())

	requestCSR(t, tc)
	waitFor(t, "the first request", func() bool { return s.Stats().Requests[OpCreateFromCSR] == 1 })

	// The first message must be the response to the second request.
	key := requestCSR(t, tc)
	ans := decodeAccepted(t, tc.await(t))
	if !publicKeyMatches(t, parseCertPEM(t, ans.CertificatePEM), key) {
		t.Errorf("received an answer to the request that had NoAnswer")
	}
}

func TestFaultLongDelay(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	slow := provisioner(t, s)
	fast := mustDial(t, s.Addr(), claimTLS(t, s), "fast")
	fast.subscribe(t, csrTopic)
	s.Inject(OpCreateFromCSR, Delay(time.Hour))

	requestCSR(t, slow)
	waitFor(t, "the delayed request", func() bool { return s.Stats().Requests[OpCreateFromCSR] == 1 })
	createFromCSR(t, fast)
	slow.expectNoMessage(t)
}

func TestFaultDisconnect(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := provisioner(t, s)
	s.Inject(OpRegister, Disconnect())

	created, _ := createFromCSR(t, tc)
	req := map[string]any{"certificateOwnershipToken": created.Token, "parameters": map[string]string{"SerialNumber": "s1"}}
	payload, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	// QoS 0: the connection may close before a PUBACK could arrive.
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	if _, err := tc.c.Publish(ctx, &paho.Publish{Topic: provisionTopic("Tmpl"), Payload: payload}); err != nil {
		t.Fatalf("publish RegisterThing: %v", err)
	}

	select {
	case <-tc.c.Done():
	case <-time.After(hangTimeout):
		t.Fatal("connection still open after the Disconnect fault")
	}
	tc.expectNoMessage(t)
}

func TestFaultRegister(t *testing.T) {
	tests := []struct {
		name       string
		createWith Fault
		registerOn Fault
		wantTopic  string
		wantName   string
	}{
		{"expired-token", ExpiredToken(), Fault{}, "/rejected", ""},
		{"invalid-thing-name", Fault{}, ThingName("bad/name"), "/accepted", "bad/name"},
		{"empty-thing-name", Fault{}, ThingName(""), "/accepted", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, Config{TemplateName: "Tmpl"})
			tc := provisioner(t, s)
			s.Inject(OpCreateFromCSR, tt.createWith)
			s.Inject(OpRegister, tt.registerOn)

			created, _ := createFromCSR(t, tc)
			topic, ans := registerThing(t, tc, "Tmpl", created.Token, map[string]string{"SerialNumber": "s1"})
			if !strings.HasSuffix(topic, tt.wantTopic) {
				t.Fatalf("RegisterThing responded on %q with %+v; want %s", topic, ans, tt.wantTopic)
			}
			if ans.ThingName != tt.wantName {
				t.Errorf("thingName = %q; want %q", ans.ThingName, tt.wantName)
			}
			if tt.wantTopic == "/accepted" && (len(s.Things()) != 1 || s.Things()[0].Name != "s1") {
				t.Errorf("Things() = %+v; want the thing recorded as s1", s.Things())
			}
		})
	}
}

func TestFaultConnect(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		want  int
	}{
		{"delay", Delay(20 * time.Millisecond), 0},
		{"reject", Reject(0x88, "", "server unavailable"), 0x88},
		{"disconnect", Disconnect(), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, Config{})
			s.Inject(OpConnect, tt.fault)
			if got := connectCode(t, s.Addr(), claimTLS(t, s), "faulty"); got != tt.want {
				t.Errorf("CONNACK with fault %s = %#x; want %#x", tt.fault, got, tt.want)
			}
			if got := connectCode(t, s.Addr(), claimTLS(t, s), "faulty-2"); got != 0 {
				t.Errorf("CONNACK after the fault = %#x; want 0", got)
			}
		})
	}
}

func TestFaultConnectNoAnswer(t *testing.T) {
	s := startFake(t, Config{})
	s.Inject(OpConnect, NoAnswer())

	conn, err := tls.Dial("tcp", s.Addr(), claimTLS(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: "waiting", KeepAlive: 60, CleanStart: true})
	if ack != nil || err == nil {
		t.Errorf("Connect() = %+v, %v; want no CONNACK", ack, err)
	}

	// The held connection must not keep the next client out.
	if got := connectCode(t, s.Addr(), claimTLS(t, s), "after"); got != 0 {
		t.Errorf("CONNACK after the held connection = %#x; want 0", got)
	}
}

// TestFaultOversizedMaxPacketSize checks that a client that limits the
// packet size in CONNECT does not receive the oversized response.
func TestFaultOversizedMaxPacketSize(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	maxSize := uint32(64 * 1024)
	tc, _, err := dialWith(t, s.Addr(), claimTLS(t, s), &paho.Connect{
		ClientID: "small", KeepAlive: 60, CleanStart: true,
		Properties: &paho.ConnectProperties{MaximumPacketSize: &maxSize},
	})
	if err != nil {
		t.Fatal(err)
	}
	tc.subscribe(t, csrTopic)
	s.Inject(OpCreateFromCSR, Oversized())

	requestCSR(t, tc)
	waitFor(t, "the oversized response", func() bool { return s.Stats().Requests[OpCreateFromCSR] == 1 })

	// The first message must be the response to the second request.
	key := requestCSR(t, tc)
	ans := decodeAccepted(t, tc.await(t))
	if !publicKeyMatches(t, parseCertPEM(t, ans.CertificatePEM), key) {
		t.Errorf("received the oversized response despite Maximum Packet Size %d", maxSize)
	}
}
