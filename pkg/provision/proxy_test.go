package provision

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestProxyFor(t *testing.T) {
	tests := []struct {
		name              string
		env               map[string]string
		proxyURL, noProxy string
		host              string
		want              string // "" for a direct connection
	}{
		{"none", nil, "", "", "iot.example.com", ""},
		{"option", nil, "http://proxy:3128", "", "iot.example.com", "http://proxy:3128"},
		{"option-without-scheme", nil, "proxy:3128", "", "iot.example.com",
			"http://proxy:3128"},
		{"env-upper", map[string]string{"HTTPS_PROXY": "http://up:1"}, "", "",
			"iot.example.com", "http://up:1"},
		{"env-lower", map[string]string{"https_proxy": "http://low:1"}, "", "",
			"iot.example.com", "http://low:1"},
		{"option-over-env", map[string]string{"HTTPS_PROXY": "http://env:1"},
			"http://opt:2", "", "iot.example.com", "http://opt:2"},
		{"no-proxy-domain", nil, "http://p:1", "example.com", "iot.example.com", ""},
		{"no-proxy-exact", nil, "http://p:1", "example.com", "example.com", ""},
		{"no-proxy-dot-suffix-only", nil, "http://p:1", ".example.com", "example.com",
			"http://p:1"},
		{"no-proxy-dot-subdomain", nil, "http://p:1", ".example.com", "a.example.com", ""},
		{"no-proxy-star-domain", nil, "http://p:1", "*.example.com", "a.example.com", ""},
		{"no-proxy-not-suffix-of-label", nil, "http://p:1", "example.com",
			"badexample.com", "http://p:1"},
		{"no-proxy-star", nil, "http://p:1", "*", "iot.example.com", ""},
		{"no-proxy-list-spaces", nil, "http://p:1", "a.org, example.com ",
			"iot.example.com", ""},
		{"no-proxy-case", nil, "http://p:1", "EXAMPLE.com", "IoT.Example.COM", ""},
		{"no-proxy-port-match", nil, "http://p:1", "example.com:8883", "iot.example.com", ""},
		{"no-proxy-port-other", nil, "http://p:1", "example.com:443", "iot.example.com",
			"http://p:1"},
		{"no-proxy-cidr", nil, "http://p:1", "10.0.0.0/8", "10.1.2.3", ""},
		{"no-proxy-cidr-miss", nil, "http://p:1", "10.0.0.0/8", "11.1.2.3", "http://p:1"},
		{"no-proxy-ip", nil, "http://p:1", "192.0.2.1", "192.0.2.1", ""},
		{"no-proxy-from-env", map[string]string{"no_proxy": "example.com"}, "http://p:1",
			"", "iot.example.com", ""},
		{"localhost-proxied-unless-listed", nil, "http://p:1", "", "localhost",
			"http://p:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"} {
				t.Setenv(name, tt.env[name])
			}
			got, err := proxyFor(tt.proxyURL, tt.noProxy, tt.host, 8883)
			if err != nil {
				t.Fatalf("proxyFor() error = %v", err)
			}
			gotString := ""
			if got != nil {
				gotString = got.String()
			}
			if gotString != tt.want {
				t.Errorf("proxyFor(%q, %q, %q) = %q; want %q",
					tt.proxyURL, tt.noProxy, tt.host, gotString, tt.want)
			}
		})
	}
}

func TestProxyForInvalid(t *testing.T) {
	for _, raw := range []string{"socks5://user:topsecret@p:1080", "https://p:443", "http://"} {
		t.Run(raw, func(t *testing.T) {
			_, err := proxyFor(raw, "", "iot.example.com", 8883)
			if err == nil {
				t.Fatalf("proxyFor(%q) error = nil; want an error", raw)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error %q contains the proxy password", err)
			}
		})
	}
}

func TestConnectTunnelRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	requests := make(chan *http.Request, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		requests <- req
		// The tunnel's first bytes follow the response at once; the client
		// must leave them unread.
		conn.Write([]byte("HTTP/1.1 200 OK\r\n\r\nTUNNEL"))
		time.Sleep(time.Second)
	}()

	proxy, _ := url.Parse("http://user:pa%3Ass@" + ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := dialTCP(ctx, proxy, "iot.example.com", 443)
	if err != nil {
		t.Fatalf("dialTCP() error = %v", err)
	}
	defer conn.Close()

	req := <-requests
	if req.Method != http.MethodConnect || req.Host != "iot.example.com:443" {
		t.Errorf("request = %s %s; want CONNECT iot.example.com:443", req.Method, req.Host)
	}
	user, password, ok := (&http.Request{Header: http.Header{
		"Authorization": req.Header["Proxy-Authorization"]}}).BasicAuth()
	if !ok || user != "user" || password != "pa:ss" {
		t.Errorf("Proxy-Authorization = %q/%q; want user/pa:ss", user, password)
	}
	buf := make([]byte, 6)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Read(buf); err != nil || string(buf) != "TUNNEL" {
		t.Errorf("first tunnel bytes = %q, %v; want %q", buf, err, "TUNNEL")
	}
}
