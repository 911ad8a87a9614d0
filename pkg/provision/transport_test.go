package provision

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

func TestRunALPN(t *testing.T) {
	env := startFake(t, fakeiot.Config{ALPN: true})
	_, port, err := net.SplitHostPort(env.srv.ALPNAddr())
	if err != nil {
		t.Fatalf("ALPNAddr() = %q: %v", env.srv.ALPNAddr(), err)
	}
	o := env.options()
	o.Port = mustAtoi(t, port)
	o.ALPN = true

	res, err := env.run(t, o)
	if err != nil {
		t.Fatalf("Run() over the ALPN listener error = %v", err)
	}
	assertResult(t, env, res)
}

func TestRunALPNListenerWithoutALPN(t *testing.T) {
	env := startFake(t, fakeiot.Config{ALPN: true})
	_, port, _ := net.SplitHostPort(env.srv.ALPNAddr())
	o := env.options()
	o.Port = mustAtoi(t, port)
	o.Retry.MaxAttempts = 1

	_, err := env.run(t, o)
	if err == nil {
		t.Fatal("Run() without ALPN against the ALPN listener succeeded; want an error")
	}
	if got := env.srv.Stats().Connects; got != 0 {
		t.Errorf("fake accepted %d connects; want 0", got)
	}
}

func TestRunThroughProxy(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	proxy := startProxy(t, env.srv.Addr(), "fleet", "s3cret-proxy-pass")
	o := env.options()
	o.ProxyURL = "http://fleet:s3cret-proxy-pass@" + proxy.addr

	res, err := env.run(t, o)
	if err != nil {
		t.Fatalf("Run() through the proxy error = %v", err)
	}
	assertResult(t, env, res)

	want := "localhost:" + itoa(env.fix.Port)
	if got := proxy.targets(); len(got) != 2 || got[0] != want || got[1] != want {
		t.Errorf("proxy CONNECT targets = %q; want two of %q (claim and new certificate)",
			got, want)
	}
	env.assertNoSecretsLogged(t, "s3cret-proxy-pass")
}

func TestRunProxyFromEnvironment(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	proxy := startProxy(t, env.srv.Addr(), "", "")
	t.Setenv("https_proxy", "http://"+proxy.addr)

	if _, err := env.run(t, env.options()); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if got := len(proxy.targets()); got != 2 {
		t.Errorf("proxy saw %d CONNECTs; want 2", got)
	}
}

func TestRunNoProxyBypass(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	proxy := startProxy(t, env.srv.Addr(), "", "")
	t.Setenv("HTTPS_PROXY", "http://"+proxy.addr)
	t.Setenv("NO_PROXY", "example.com,localhost")

	if _, err := env.run(t, env.options()); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if got := len(proxy.targets()); got != 0 {
		t.Errorf("proxy saw %d CONNECTs; want 0 (localhost is in NO_PROXY)", got)
	}
}

func TestRunProxyAuthRejected(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	proxy := startProxy(t, env.srv.Addr(), "fleet", "right")
	o := env.options()
	o.ProxyURL = "http://fleet:wrong-pass@" + proxy.addr
	o.Retry.MaxAttempts = 1

	_, err := env.run(t, o)
	if classOf(err) != Rejected {
		t.Errorf("class = %s; want %s (error %v)", classOf(err), Rejected, err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-pass") {
		t.Errorf("error %q contains the proxy password", err)
	}
	env.assertNoSecretsLogged(t, "wrong-pass")
}

// connectProxy is an HTTP CONNECT proxy on 127.0.0.1 that sends every tunnel
// to one upstream address and records the requested targets.
type connectProxy struct {
	addr     string
	upstream string
	auth     string // expected Proxy-Authorization, "" for none

	mu   sync.Mutex
	seen []string
}

func startProxy(t *testing.T, upstream, user, password string) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &connectProxy{addr: ln.Addr().String(), upstream: upstream}
	if user != "" {
		p.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	}

	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.serve(conn)
			}()
		}
	}()
	return p
}

func (p *connectProxy) serve(conn net.Conn) {
	defer conn.Close()
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	p.mu.Lock()
	p.seen = append(p.seen, req.Host)
	p.mu.Unlock()

	if p.auth != "" && req.Header.Get("Proxy-Authorization") != p.auth {
		io.WriteString(conn, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		io.WriteString(conn, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer up.Close()
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")

	done := make(chan struct{}, 2)
	go func() { io.Copy(up, conn); done <- struct{}{} }()
	go func() { io.Copy(conn, up); done <- struct{}{} }()
	<-done
}

func (p *connectProxy) targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func TestRunCancelStopsPromptly(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	env.srv.Inject(fakeiot.OpCreateFromCSR, fakeiot.NoAnswer())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := env.options()
	o.ResponseTimeout = time.Hour
	o.Progress = func(e Event) {
		if e.Step == StepCreateCSR {
			cancel()
		}
	}

	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, o)
		done <- err
	}()

	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run() error = %v; want it to wrap context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run() did not return after cancel")
	}
}

func TestRunCancelDuringBackoff(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	env.srv.Inject(fakeiot.OpRegister, fakeiot.Reject(500, "InternalFailure", "x"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := env.options()
	o.Retry.Base = time.Hour
	o.Retry.TransientMax = time.Hour
	o.Retry.Rand = topRand{}
	o.Progress = func(e Event) {
		if e.Step == StepWaiting {
			cancel()
		}
	}

	_, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run() error = %v; want it to wrap context.Canceled", err)
	}
}

// topRand draws the top of every range, so delays equal their ceiling.
type topRand struct{}

func (topRand) Int64N(n int64) int64 { return n - 1 }

func TestRunAliveDuringWait(t *testing.T) {
	env := startFake(t, fakeiot.Config{})
	env.srv.Inject(fakeiot.OpCreateFromCSR, fakeiot.Delay(500*time.Millisecond))

	if _, err := env.run(t, env.options()); err != nil {
		t.Fatalf("Run() error = %v", err)
	}

	// alives records how many events had been reported at each call; count
	// the calls made while the CreateCertificateFromCsr response was awaited.
	events := env.rec.snapshot()
	waitIndex := -1
	for i, e := range events {
		if e.Step == StepCreateCSR {
			waitIndex = i + 1
		}
	}
	calls := 0
	env.rec.mu.Lock()
	for _, n := range env.rec.alives {
		if n == waitIndex {
			calls++
		}
	}
	env.rec.mu.Unlock()
	// One call comes with the step's own report; the ticker (every 10 ms
	// here) must add more during the 500 ms wait.
	if calls < 2 {
		t.Errorf("Alive calls while waiting for the response = %d; want at least 2", calls)
	}
}
