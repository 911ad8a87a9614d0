package install

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSweepKeepsPairInForce(t *testing.T) {
	dir := privateTempDir(t)
	opts := testOptions(dir)
	inForceKey := generationName(opts.KeyPath, "0123456789ab")
	inForceCert := generationName(opts.CertPath, "0123456789ab")
	files := map[string]bool{
		opts.KeyPath:  false, // superseded pair at the configured names
		opts.CertPath: false,
		generationName(opts.KeyPath, "ba9876543210"):  false, // an interrupted run's pair
		generationName(opts.CertPath, "ba9876543210"): false,
		inForceKey:  true,
		inForceCert: true,
		filepath.Join(dir, ".priv_key.tmp-123456"):          false, // a write cut short
		filepath.Join(dir, ".priv_key.ba9876543210.tmp-42"): false,
		filepath.Join(dir, "AmazonRootCA.pem"):              true, // not a credential pair
		filepath.Join(dir, ".AmazonRootCA.pem.tmp-7"):       true,
		filepath.Join(dir, "priv_key.backup"):               true, // not a generation name
	}
	for name := range files {
		if err := os.WriteFile(name, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	removed, err := Sweep(opts, inForceKey, inForceCert)
	if err != nil {
		t.Fatalf("Sweep() = %v", err)
	}

	// Certificates before keys; within each, in the folder's name order.
	want := []string{generationName(opts.CertPath, "ba9876543210"), opts.CertPath,
		filepath.Join(dir, ".priv_key.ba9876543210.tmp-42"), filepath.Join(dir, ".priv_key.tmp-123456"),
		opts.KeyPath, generationName(opts.KeyPath, "ba9876543210")}
	if diff := cmp.Diff(want, removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	for name, kept := range files {
		if _, err := os.Stat(name); (err == nil) != kept {
			t.Errorf("%q present = %v; want %v", name, err == nil, kept)
		}
	}
}
