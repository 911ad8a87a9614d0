package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestRunPrintsAddressAndSummary(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	outR, outW := io.Pipe()
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"--dir", dir, "--alpn"}, outW, io.Discard)
		outW.Close()
	}()

	lines := bufio.NewScanner(outR)
	first := nextLine(t, lines)
	pattern := regexp.MustCompile(`^listening on 127\.0\.0\.1:\d+ \(alpn 127\.0\.0\.1:\d+\)$`)
	if !pattern.MatchString(first) {
		t.Errorf("first line = %q; want a match of %s", first, pattern)
	}
	if got := nextLine(t, lines); got != "ready" {
		t.Errorf("second line = %q; want %q", got, "ready")
	}
	if _, err := os.Stat(filepath.Join(dir, "config.d", "fleetprovisioning.yaml")); err != nil {
		t.Errorf("fixture missing after ready: %v", err)
	}

	cancel()
	if got := nextLine(t, lines); got != "things registered: 0" {
		t.Errorf("summary = %q; want %q", got, "things registered: 0")
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("run() = %d; want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run() did not return after cancel")
	}
}

func nextLine(t *testing.T, s *bufio.Scanner) string {
	t.Helper()
	if !s.Scan() {
		t.Fatalf("output ended early: %v", s.Err())
	}
	return s.Text()
}

func TestRunRejectsUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no-dir", nil, "usage: fakeiot"},
		{"public-listen", []string{"--dir", "d", "--listen", "0.0.0.0:8883"}, "not a loopback address"},
		{"remote-alpn", []string{"--dir", "d", "--alpn-listen", "192.0.2.1:443"}, "not a loopback address"},
		{"extra-argument", []string{"--dir", "d", "extra"}, "usage: fakeiot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			code := run(context.Background(), tt.args, io.Discard, &stderr)
			if code != 2 {
				t.Errorf("run(%q) = %d; want 2", tt.args, code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("run(%q) stderr = %q; want it to contain %q", tt.args, stderr.String(), tt.want)
			}
		})
	}
}
