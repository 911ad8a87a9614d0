// Package mosquittotest runs Debian's mosquitto broker for tests, so that
// the fleet provisioning flow is checked against a broker written elsewhere.
// It is imported by tests only.
package mosquittotest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Path is the broker's location as Debian's mosquitto package installs it.
const Path = "/usr/sbin/mosquitto"

// startTimeout bounds the wait for the broker's port; it only catches a hang.
const startTimeout = 20 * time.Second

// TLSFiles are the broker's certificate and key and the CA that client
// certificates must chain to.
type TLSFiles struct {
	CertPath, KeyPath, ClientCAPath string
}

// Start runs mosquitto with TLS on a free loopback port, client
// certificates required, and returns its address. The test is skipped with
// a message when mosquitto is not installed; the process is killed by PID
// when the test ends.
func Start(t testing.TB, files TLSFiles) string {
	t.Helper()
	if _, err := os.Stat(Path); err != nil {
		t.Skipf("mosquitto not installed at %s (apt-get install -y mosquitto): %v", Path, err)
	}

	port := freePort(t)
	confPath := writeConfig(t, port, files)

	var logs bytes.Buffer
	cmd := exec.Command(Path, "-c", confPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
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

func writeConfig(t testing.TB, port int, files TLSFiles) string {
	t.Helper()
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
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t testing.TB, addr string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
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
