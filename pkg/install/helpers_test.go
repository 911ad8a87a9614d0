package install

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// credentials is a key and a self-signed certificate made at test time.
type credentials struct {
	keyPEM, certPEM []byte
}

func newCredentials(t *testing.T, notAfter time.Time) credentials {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "test-device"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		IsCA:         true,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return credentials{
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

func validCredentials(t *testing.T) credentials {
	return newCredentials(t, time.Now().Add(24*time.Hour))
}

// lookups returns user and group lookups that know only the given names.
func lookups(users map[string]string, groups map[string]string) (
	func(string) (*user.User, error), func(string) (*user.Group, error)) {
	lookupUser := func(name string) (*user.User, error) {
		uid, ok := users[name]
		if !ok {
			return nil, user.UnknownUserError(name)
		}
		return &user.User{Username: name, Uid: uid, Gid: uid}, nil
	}
	lookupGroup := func(name string) (*user.Group, error) {
		gid, ok := groups[name]
		if !ok {
			return nil, user.UnknownGroupError(name)
		}
		return &user.Group{Name: name, Gid: gid}, nil
	}
	return lookupUser, lookupGroup
}

// testOptions returns options for credentials in dir, with the Greengrass
// user and group mapped to the user running the test, so the tests also run
// without root.
func testOptions(dir string) Options {
	lookupUser, lookupGroup := lookups(
		map[string]string{DefaultUser: strconv.Itoa(os.Geteuid())},
		map[string]string{DefaultUser: strconv.Itoa(os.Getegid())})
	return Options{
		KeyPath:     filepath.Join(dir, "priv_key"),
		CertPath:    filepath.Join(dir, "certificate.pem"),
		RootCAPath:  filepath.Join(dir, "AmazonRootCA.pem"),
		LookupUser:  lookupUser,
		LookupGroup: lookupGroup,
	}
}

func installAll(t *testing.T, p *Plan) {
	t.Helper()
	for _, step := range []struct {
		name string
		do   func() error
	}{{"WriteKey", p.WriteKey}, {"WriteCertificate", p.WriteCertificate},
		{"WriteRootCA", p.WriteRootCA}} {
		err := step.do()
		if err != nil {
			t.Fatalf("%s() = %v", step.name, err)
		}
	}
}

func mustWriteFile(t *testing.T, name string, data []byte) {
	t.Helper()
	err := os.WriteFile(name, data, 0o600)
	if err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func modeOf(t *testing.T, name string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func ownerOf(t *testing.T, name string) (uint32, uint32) {
	t.Helper()
	info, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// assertEntries fails unless dir contains exactly names, so leftover
// temporary files and forgotten old credentials show up.
func assertEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := append([]string{}, names...)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries of %q differ (-want +got):\n%s", dir, diff)
	}
}

// privateTempDir returns a temporary directory with mode 0700, as a
// credentials directory holding a key must not be readable by everyone.
func privateTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := os.Chmod(dir, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
