package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/install"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/stamp"
)

// configFiles returns the bytes of config.yaml and every config.d file.
func (d *device) configFiles() map[string][]byte {
	d.t.Helper()
	files := map[string][]byte{}
	names, _ := filepath.Glob(filepath.Join(d.fix.Dir, "config.d", "*.yaml"))
	for _, name := range append(names, d.fix.ConfigPath) {
		data, err := os.ReadFile(name)
		if err != nil {
			d.t.Fatal(err)
		}
		files[name] = data
	}
	return files
}

func sameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			return false
		}
	}
	return true
}

// config loads the device's merged configuration.
func (d *device) config() *ggconfig.Config {
	d.t.Helper()
	cfg, err := ggconfig.Load(d.fix.ConfigPath)
	if err != nil {
		d.t.Fatalf("load configuration after the run: %v", err)
	}
	return cfg
}

// identityInForce checks that the configuration names a complete identity:
// a thing name, and a certificate that parses and matches its key. It
// returns the certificate.
func (d *device) identityInForce() *x509.Certificate {
	d.t.Helper()
	cfg := d.config()
	if cfg.System.ThingName == "" {
		d.t.Fatal("system.thingName is empty; want the registered thing")
	}
	cert, err := install.Verify(cfg.System.CertificateFilePath, cfg.System.PrivateKeyPath)
	if err != nil {
		d.t.Fatalf("identity in force: %v", err)
	}
	if _, err := os.Stat(cfg.System.RootCAPath); err != nil {
		d.t.Fatalf("system.rootCaPath: %v", err)
	}
	return cert
}

// emptyByDesign are the state files whose presence, not content, matters.
var emptyByDesign = map[string]bool{"restart-pending": true, stamp.MarkerName: true, "run.lock": true}

// checkFilesWhole fails on a zero-byte file, a temporary file left behind,
// or a certificate without the key it belongs to in the credentials folder.
func (d *device) checkFilesWhole() {
	d.t.Helper()
	for _, dir := range []string{filepath.Dir(d.fix.CertPath), d.stateDir, filepath.Join(d.fix.Dir, "config.d")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				d.t.Fatal(err)
			}
			name := filepath.Join(dir, e.Name())
			if strings.HasPrefix(e.Name(), ".") {
				d.t.Errorf("temporary file %q left behind", name)
			}
			if info.Size() == 0 && !emptyByDesign[e.Name()] {
				d.t.Errorf("zero-byte file %q", name)
			}
		}
	}
	d.checkCertificatesHaveKeys()
}

// checkCertificatesHaveKeys fails when a certificate in the credentials
// folder has no private key beside it that matches it.
func (d *device) checkCertificatesHaveKeys() {
	d.t.Helper()
	dir := filepath.Dir(d.fix.CertPath)
	certs, _ := filepath.Glob(filepath.Join(dir, "certificate*.pem"))
	keys, _ := filepath.Glob(filepath.Join(dir, "priv_key*"))
	for _, cert := range certs {
		matched := false
		for _, key := range keys {
			if _, err := install.Match(cert, key); err == nil {
				matched = true
			}
		}
		if !matched {
			d.t.Errorf("certificate %q has no matching private key in %q", cert, dir)
		}
	}
}

// stamp returns the stamp, failing the test unless it is valid.
func (d *device) stamp() stamp.Stamp {
	d.t.Helper()
	st, err := stamp.Check(d.stateDir)
	if err != nil {
		d.t.Fatalf("stamp: %v", err)
	}
	return st
}

// storedID returns the device ID kept in the state directory, "" if none.
func (d *device) storedID() string {
	d.t.Helper()
	data, err := os.ReadFile(filepath.Join(d.stateDir, "device-id"))
	if err != nil {
		return ""
	}
	var v struct{ ID string }
	if err := json.Unmarshal(data, &v); err != nil {
		d.t.Fatalf("stored device ID: %v", err)
	}
	return v.ID
}

func certificateOf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%q holds no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
