package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
	"github.com/ggl-fleetd/ggl-fleetd/internal/mosquittotest"
)

// TestProvisionOverALPN provisions over the listener that requires ALPN
// x-amzn-mqtt-ca. It listens on port 443 where it can, so that the port
// alone turns ALPN on, as on AWS IoT; elsewhere mqttAlpn does.
func TestProvisionOverALPN(t *testing.T) {
	cfg := fakeiot.Config{ALPN: true, ALPNAddress: "127.0.0.1:443"}
	settings := []string{"mqttPort: 443"}
	if l, err := net.Listen("tcp", cfg.ALPNAddress); err != nil {
		t.Logf("port 443 not available (%v); using a free port with mqttAlpn: true", err)
		cfg.ALPNAddress = ""
		settings = nil
	} else {
		l.Close()
	}

	d := newDevice(t, cfg)
	if settings == nil {
		_, port, _ := net.SplitHostPort(d.fake.ALPNAddr())
		settings = []string{"mqttPort: " + port, "mqttAlpn: true"}
	}
	d.writeDropIn("zz-alpn.yaml", settings...)
	connects := d.fake.Stats().Connects

	d.mustProvision()
	d.identityInForce()
	if d.fake.Stats().Connects-connects != 2 {
		t.Errorf("fake saw %d connections; want 2 (claim and check)", d.fake.Stats().Connects-connects)
	}
}

// TestProvisionThroughProxy provisions through an HTTP CONNECT proxy on
// loopback, named by https_proxy or by NucleusLite's networkProxy, as on a
// device behind a corporate proxy.
func TestProvisionThroughProxy(t *testing.T) {
	for _, from := range []string{"environment", "configuration"} {
		t.Run(from, func(t *testing.T) {
			d := newDevice(t, fakeiot.Config{})
			proxy, tunnels := startConnectProxy(t)
			env := []string{"https_proxy=", "HTTPS_PROXY=", "no_proxy=", "NO_PROXY="}
			if from == "environment" {
				env[0] = "https_proxy=http://" + proxy
			} else {
				writeProxyDropIn(t, d, "http://"+proxy)
			}

			r := d.run(env, "run")
			if r.code != 0 {
				t.Fatalf("run through the proxy exited %d:\n%s", r.code, r.output)
			}
			if got := tunnels.Load(); got != 2 {
				t.Errorf("proxy opened %d tunnels; want 2 (claim and check)", got)
			}
			d.identityInForce()
		})
	}
}

// writeProxyDropIn sets NucleusLite's networkProxy.proxy.url.
func writeProxyDropIn(t *testing.T, d *device, url string) {
	t.Helper()
	text := "services:\n  aws.greengrass.NucleusLite:\n    configuration:\n" +
		"      networkProxy:\n        proxy:\n          url: \"" + url + "\"\n"
	path := filepath.Join(d.fix.Dir, "config.d", "zz-proxy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startConnectProxy runs a minimal HTTP CONNECT proxy on loopback that
// only tunnels to loopback addresses. It returns its address and a counter
// of the tunnels it opened.
func startConnectProxy(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var tunnels atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go tunnel(conn, &tunnels)
		}
	}()
	return l.Addr().String(), &tunnels
}

func tunnel(client net.Conn, tunnels *atomic.Int32) {
	defer client.Close()
	req, err := http.ReadRequest(bufio.NewReader(client))
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	host, port, err := net.SplitHostPort(req.Host)
	if err != nil || (host != "localhost" && !net.ParseIP(host).IsLoopback()) {
		fmt.Fprint(client, "HTTP/1.1 403 Forbidden\r\n\r\n")
		return
	}
	upstream, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second)
	if err != nil {
		fmt.Fprint(client, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer upstream.Close()
	tunnels.Add(1)
	fmt.Fprint(client, "HTTP/1.1 200 Connection established\r\n\r\n")
	go io.Copy(upstream, client)
	io.Copy(client, upstream)
}

// TestProvisionThroughMosquitto provisions through Debian's mosquitto, with
// the fake's AWS logic attached to it as an ordinary MQTT client.
func TestProvisionThroughMosquitto(t *testing.T) {
	d := newDevice(t, fakeiot.Config{})
	files, err := d.fake.WriteBrokerFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	addr := mosquittotest.Start(t, mosquittotest.TLSFiles{
		CertPath: files.CertPath, KeyPath: files.KeyPath, ClientCAPath: files.ClientCAPath,
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	responder, err := d.fake.Respond(ctx, addr, nil)
	if err != nil {
		t.Fatalf("attach the fake to mosquitto: %v", err)
	}
	t.Cleanup(func() { responder.Close() })

	_, port, _ := net.SplitHostPort(addr)
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	d.writeDropIn("zz-mosquitto.yaml", "mqttPort: "+port)

	d.mustProvision()
	d.identityInForce()
	if things := d.fake.Things(); len(things) != 1 || things[0].Name != d.stamp().ThingName {
		t.Errorf("fake things = %+v; want the stamp's thing %q", things, d.stamp().ThingName)
	}
}
