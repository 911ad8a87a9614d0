package install

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// installed sets up a working pair at the configured paths of dir, as an
// earlier provisioning leaves it.
func installed(t *testing.T, dir string) credentials {
	t.Helper()
	creds := validCredentials(t)
	p, err := Prepare(testOptions(dir), creds.keyPEM, creds.certPEM, creds.certPEM)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)
	return creds
}

func TestReprovisionUsesUniqueNames(t *testing.T) {
	dir := privateTempDir(t)
	oldCreds := installed(t, dir)
	opts := testOptions(dir)
	creds := validCredentials(t)

	p, err := Prepare(opts, creds.keyPEM, creds.certPEM, creds.certPEM)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)

	key, cert, _ := p.Paths()
	if key == opts.KeyPath || cert == opts.CertPath {
		t.Fatalf("Paths() = %q, %q; want names other than the pair in force", key, cert)
	}
	if got := readFile(t, opts.KeyPath); got != string(oldCreds.keyPEM) {
		t.Errorf("old key %q was changed before the commit", opts.KeyPath)
	}
	if got := readFile(t, opts.CertPath); got != string(oldCreds.certPEM) {
		t.Errorf("old certificate %q was changed before the commit", opts.CertPath)
	}
	if _, err := Match(cert, key); err != nil {
		t.Errorf("Match(new pair) = %v", err)
	}
	want := []string{opts.CertPath, opts.KeyPath}
	if diff := cmp.Diff(want, p.Superseded()); diff != "" {
		t.Errorf("Superseded() differ (-want +got):\n%s", diff)
	}

	err = p.Cleanup()
	if err != nil {
		t.Fatalf("Cleanup() = %v", err)
	}
	assertEntries(t, dir, filepath.Base(key), filepath.Base(cert), "AmazonRootCA.pem")
}

// TestReprovisionEveryCrashPointLeavesPair stops the installation after each
// step and checks that the pair the configuration names still belongs
// together, before and after the configuration switch.
func TestReprovisionEveryCrashPointLeavesPair(t *testing.T) {
	for stop := 0; stop <= 3; stop++ {
		dir := privateTempDir(t)
		installed(t, dir)
		opts := testOptions(dir)
		creds := validCredentials(t)
		p, err := Prepare(opts, creds.keyPEM, creds.certPEM, creds.certPEM)
		if err != nil {
			t.Fatalf("Prepare() = %v", err)
		}

		steps := []func() error{p.WriteKey, p.WriteCertificate, p.WriteRootCA}
		for _, step := range steps[:stop] {
			err = step()
			if err != nil {
				t.Fatalf("step before stop %d: %v", stop, err)
			}
		}

		// Before the configuration switch Greengrass uses the old pair.
		_, err = Verify(opts.CertPath, opts.KeyPath)
		if err != nil {
			t.Errorf("stop after %d steps: old pair = %v; want it intact", stop, err)
		}
		// Once the certificate is written the new pair may be committed.
		if stop >= 2 {
			key, cert, _ := p.Paths()
			_, err = Verify(cert, key)
			if err != nil {
				t.Errorf("stop after %d steps: new pair = %v; want it complete", stop, err)
			}
		}
	}
}

func TestReprovisionTwiceAlternatesPaths(t *testing.T) {
	dir := privateTempDir(t)
	installed(t, dir)
	opts := testOptions(dir)

	first := validCredentials(t)
	p1, err := Prepare(opts, first.keyPEM, first.certPEM, first.certPEM)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p1)
	err = p1.Cleanup()
	if err != nil {
		t.Fatalf("Cleanup() = %v", err)
	}
	key1, cert1, _ := p1.Paths()

	// The configuration now names the first new pair.
	opts.CurrentKeyPath, opts.CurrentCertPath = key1, cert1
	second := validCredentials(t)
	p2, err := Prepare(opts, second.keyPEM, second.certPEM, second.certPEM)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p2)

	key2, cert2, _ := p2.Paths()
	if key2 != opts.KeyPath || cert2 != opts.CertPath {
		t.Errorf("Paths() = %q, %q; want the free configured paths %q, %q",
			key2, cert2, opts.KeyPath, opts.CertPath)
	}
	if _, err := Verify(cert1, key1); err != nil {
		t.Errorf("pair in force %q was damaged before the commit: %v", cert1, err)
	}

	err = p2.Cleanup()
	if err != nil {
		t.Fatalf("Cleanup() = %v", err)
	}
	assertEntries(t, dir, "priv_key", "certificate.pem", "AmazonRootCA.pem")
}

func TestZeroByteCertificateNotInForce(t *testing.T) {
	dir := privateTempDir(t)
	opts := testOptions(dir)
	mustWriteFile(t, opts.KeyPath, validCredentials(t).keyPEM)
	mustWriteFile(t, opts.CertPath, nil)
	creds := validCredentials(t)

	p, err := Prepare(opts, creds.keyPEM, creds.certPEM, nil)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)

	key, cert, _ := p.Paths()
	if key != opts.KeyPath || cert != opts.CertPath {
		t.Errorf("Paths() = %q, %q; want the configured paths over a partial pair",
			key, cert)
	}
	if _, err := Verify(opts.CertPath, opts.KeyPath); err != nil {
		t.Errorf("Verify() after replacing a zero-byte certificate = %v", err)
	}
}

func TestCleanupRemovesInterruptedRun(t *testing.T) {
	dir := privateTempDir(t)
	installed(t, dir)
	opts := testOptions(dir)
	// An interrupted run wrote its key under a unique name and stopped.
	mustWriteFile(t, filepath.Join(dir, "priv_key.0123456789ab"), []byte("old key"))
	unrelated := []string{"priv_key.bak", "certificate.pem.orig", "claim.pem.crt",
		"priv_key.0123456789AB"}
	for _, name := range unrelated {
		mustWriteFile(t, filepath.Join(dir, name), []byte("x"))
	}
	creds := validCredentials(t)

	p, err := Prepare(opts, creds.keyPEM, creds.certPEM, creds.certPEM)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)
	err = p.Cleanup()
	if err != nil {
		t.Fatalf("Cleanup() = %v", err)
	}

	key, cert, _ := p.Paths()
	want := append([]string{filepath.Base(key), filepath.Base(cert),
		"AmazonRootCA.pem"}, unrelated...)
	assertEntries(t, dir, want...)
}

func TestCleanupRemovesCertificateBeforeKey(t *testing.T) {
	dir := privateTempDir(t)
	installed(t, dir)
	opts := testOptions(dir)
	creds := validCredentials(t)
	p, err := Prepare(opts, creds.keyPEM, creds.certPEM, nil)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)
	// A key that cannot be removed stops Cleanup after the certificate.
	err = os.Remove(opts.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	err = os.Mkdir(opts.KeyPath, 0o700)
	if err != nil {
		t.Fatal(err)
	}

	err = p.Cleanup()
	if err == nil {
		t.Fatalf("Cleanup() with a directory at %q = nil; want an error", opts.KeyPath)
	}
	if _, err := os.Lstat(opts.CertPath); !os.IsNotExist(err) {
		t.Errorf("Lstat(%q) = %v; want the certificate removed first", opts.CertPath, err)
	}
}

func TestGenerationName(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/c/priv_key", "/c/priv_key.0123456789ab"},
		{"/c/certificate.pem", "/c/certificate.0123456789ab.pem"},
		{"/c/device.pem.crt", "/c/device.pem.0123456789ab.crt"},
		{"/c/.key", "/c/.key.0123456789ab"},
	}
	for _, tt := range tests {
		got := generationName(tt.path, "0123456789ab")
		if got != tt.want {
			t.Errorf("generationName(%q) = %q; want %q", tt.path, got, tt.want)
		}
		if !generationPattern(tt.path).MatchString(filepath.Base(got)) {
			t.Errorf("generationPattern(%q) does not match %q", tt.path, got)
		}
		if generationPattern(tt.path).MatchString(filepath.Base(tt.path)) {
			t.Errorf("generationPattern(%q) matches the configured name", tt.path)
		}
	}
}

// TestClaimNeverSuperseded lets the configuration name the claim pair as
// the pair in force: installing a new identity must not remove it.
func TestClaimNeverSuperseded(t *testing.T) {
	root := privateTempDir(t)
	opts := testOptions(filepath.Join(root, "credentials"))
	claim := validCredentials(t)
	claimKey, claimCert := filepath.Join(root, "certs", "claim.key.pem"), filepath.Join(root, "certs", "claim.cert.pem")
	writeTestFile(t, claimKey, claim.keyPEM)
	writeTestFile(t, claimCert, claim.certPEM)
	opts.CurrentKeyPath, opts.CurrentCertPath = claimKey, claimCert
	opts.Keep = []string{claimKey, claimCert}

	creds := validCredentials(t)
	p, err := Prepare(opts, creds.keyPEM, creds.certPEM, nil)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)
	if err := p.Cleanup(); err != nil {
		t.Fatalf("Cleanup() = %v", err)
	}

	for _, name := range []string{claimKey, claimCert} {
		if _, err := os.Stat(name); err != nil {
			t.Errorf("claim file %q removed: %v", name, err)
		}
	}
}

// TestWholePairAtConfiguredPathsKept leaves a complete older pair at the
// configured paths while the configuration names a generation pair, as a
// reprovisioning cut short after its commit point does. The next pair must
// not overwrite the older one, because an older stamp may still name it.
func TestWholePairAtConfiguredPathsKept(t *testing.T) {
	dir := privateTempDir(t)
	opts := testOptions(dir)
	older, current := validCredentials(t), validCredentials(t)
	writeTestFile(t, opts.KeyPath, older.keyPEM)
	writeTestFile(t, opts.CertPath, older.certPEM)
	opts.CurrentKeyPath = generationName(opts.KeyPath, "0123456789ab")
	opts.CurrentCertPath = generationName(opts.CertPath, "0123456789ab")
	writeTestFile(t, opts.CurrentKeyPath, current.keyPEM)
	writeTestFile(t, opts.CurrentCertPath, current.certPEM)

	creds := validCredentials(t)
	p, err := Prepare(opts, creds.keyPEM, creds.certPEM, nil)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	if err := p.WriteKey(); err != nil {
		t.Fatalf("WriteKey() = %v", err)
	}

	if _, err := Match(opts.CertPath, opts.KeyPath); err != nil {
		t.Errorf("older pair at the configured paths broken by the new key: %v", err)
	}
	if key, _, _ := p.Paths(); key == opts.KeyPath {
		t.Errorf("new key path = %q; want a generation name", key)
	}
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
