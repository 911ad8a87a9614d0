package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPreflight(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, opts Options)
		want  string // substring of the error; "" for success
	}{
		{"fresh", func(*testing.T, Options) {}, ""},
		{"certificate-is-directory", func(t *testing.T, o Options) {
			mustMkdir(t, filepath.Dir(o.CertPath), 0o755)
			mustMkdir(t, o.CertPath, 0o755)
		}, "is a directory, not a regular file"},
		{"key-is-symlink", func(t *testing.T, o Options) {
			mustMkdir(t, filepath.Dir(o.KeyPath), 0o700)
			if err := os.Symlink("/etc/hostname", o.KeyPath); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"world-writable-directory", func(t *testing.T, o Options) {
			mustMkdir(t, filepath.Dir(o.KeyPath), 0o777)
		}, "run chmod"},
		{"directory-is-file", func(t *testing.T, o Options) {
			if err := os.WriteFile(filepath.Dir(o.KeyPath), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := privateTempDir(t)
			opts := testOptions(filepath.Join(root, "credentials"))
			tt.setup(t, opts)

			err := Preflight(opts)
			if tt.want == "" && err != nil {
				t.Fatalf("Preflight() = %v; want nil", err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Preflight() = %v; want an error containing %q", err, tt.want)
			}
			checkNoPreflightFiles(t, root)
		})
	}
}

func mustMkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// checkNoPreflightFiles fails when a preflight file is left anywhere in root.
func checkNoPreflightFiles(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".ggl-fleetd-preflight-") {
			t.Errorf("preflight file %q left behind", path)
		}
		return nil
	})
}

// TestCheckWritableDanglingLink puts a symbolic link to a missing target
// where a folder goes, as a config.d on a volume not mounted yet.
func TestCheckWritableDanglingLink(t *testing.T) {
	root := t.TempDir()
	link := filepath.Join(root, "config.d")
	if err := os.Symlink(filepath.Join(root, "not-mounted"), link); err != nil {
		t.Fatal(err)
	}

	err := CheckWritable(link)
	if err == nil || !strings.Contains(err.Error(), "does not resolve") {
		t.Errorf("CheckWritable(%q) = %v; want an error saying it does not resolve", link, err)
	}
}
