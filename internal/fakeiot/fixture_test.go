package fakeiot

import (
	"crypto/tls"
	"crypto/x509"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestWriteFixtureModes(t *testing.T) {
	s := startFake(t, Config{})
	f, err := s.WriteFixture(t.TempDir())
	if err != nil {
		t.Fatalf("WriteFixture() error = %v", err)
	}

	tests := []struct {
		name string
		path string
		mode fs.FileMode
	}{
		{"root-ca", f.RootCAPath, 0o644},
		{"claim-cert", f.ClaimCertPath, 0o644},
		{"claim-key", f.ClaimKeyPath, 0o600},
		{"config", f.ConfigPath, 0o644},
		{"fleet-config", f.FleetConfigPath, 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := os.Stat(tt.path)
			if err != nil {
				t.Fatalf("Stat(%q) error = %v", tt.path, err)
			}
			if got := info.Mode().Perm(); got != tt.mode {
				t.Errorf("mode of %q = %v; want %v", tt.path, got, tt.mode)
			}
		})
	}
}

// TestWriteFixtureConnects checks that the files and settings written are
// the ones that reach the fake: endpoint, port, root CA and claim files.
func TestWriteFixtureConnects(t *testing.T) {
	s := startFake(t, Config{TemplateName: "FixtureTemplate"})
	dir := t.TempDir()
	f, err := s.WriteFixture(dir)
	if err != nil {
		t.Fatalf("WriteFixture() error = %v", err)
	}

	var fleet struct {
		Services map[string]struct {
			Configuration map[string]any `yaml:"configuration"`
		} `yaml:"services"`
	}
	readYAML(t, f.FleetConfigPath, &fleet)
	got := fleet.Services["aws.greengrass.fleet_provisioning"].Configuration
	want := map[string]any{
		"iotDataEndpoint":  "localhost",
		"iotCredEndpoint":  "localhost",
		"claimCertPath":    f.ClaimCertPath,
		"claimKeyPath":     f.ClaimKeyPath,
		"rootCaPath":       f.RootCAPath,
		"templateName":     "FixtureTemplate",
		"templateParams":   map[string]any{"SerialNumber": "<unique>"},
		"certPath":         filepath.Join(dir, "credentials", "certificate.pem"),
		"keyPath":          filepath.Join(dir, "credentials", "priv_key"),
		"deviceRootCaPath": filepath.Join(dir, "credentials", "AmazonRootCA.pem"),
		"mqttPort":         s.Port(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fleet provisioning settings (-want +got):\n%s", diff)
	}

	var main struct {
		System struct {
			RootPath string `yaml:"rootpath"`
		} `yaml:"system"`
	}
	readYAML(t, f.ConfigPath, &main)
	if !strings.HasPrefix(main.System.RootPath, dir+string(filepath.Separator)) {
		t.Errorf("system.rootpath = %q; want a path under %q", main.System.RootPath, dir)
	}

	conf := fixtureTLS(t, f)
	mustDial(t, net.JoinHostPort("localhost", strconv.Itoa(f.Port)), conf, "fixture-device")
}

func fixtureTLS(t *testing.T, f Fixture) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(f.ClaimCertPath, f.ClaimKeyPath)
	if err != nil {
		t.Fatalf("LoadX509KeyPair() error = %v", err)
	}
	rootPEM, err := os.ReadFile(f.RootCAPath)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("%q holds no certificate", f.RootCAPath)
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, ServerName: f.Endpoint}
}

func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, out); err != nil {
		t.Fatalf("parse %q: %v", path, err)
	}
}
