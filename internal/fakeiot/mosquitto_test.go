package fakeiot

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const mosquittoPath = "/usr/sbin/mosquitto"

// startMosquitto runs Debian's mosquitto with TLS on a free loopback port,
// client certificates required, and the fake's certificates. It returns the
// broker's address; the process is killed by PID at the end of the test.
func startMosquitto(t *testing.T, s *Server) string {
	t.Helper()
	if _, err := os.Stat(mosquittoPath); err != nil {
		t.Skipf("mosquitto not installed at %s (apt-get install -y mosquitto): %v", mosquittoPath, err)
	}

	dir := t.TempDir()
	files, err := s.WriteBrokerFiles(dir)
	if err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	conf := []string{
		fmt.Sprintf("listener %d 127.0.0.1", port),
		"cafile " + files.ClientCAPath,
		"certfile " + files.CertPath,
		"keyfile " + files.KeyPath,
		"require_certificate true",
		"allow_anonymous true",
		"persistence false",
		"log_dest stderr",
	}
	if os.Geteuid() == 0 {
		// As root, mosquitto drops to user mosquitto before it reads the key,
		// which is readable by its owner only.
		conf = append(conf, "user root")
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	cmd := exec.Command(mosquittoPath, "-c", confPath)
	cmd.Stdout = &logs
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", logs.String())
		}
	})

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(t, addr, exited)
	return addr
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("mosquitto exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s", addr)
		}
	}
}

// TestRespondThroughMosquitto runs CreateCertificateFromCsr and
// RegisterThing through a broker that nobody here wrote.
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
