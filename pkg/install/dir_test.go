package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExistingDirectoryNoMorePermissive(t *testing.T) {
	tests := []struct {
		name     string
		keyMode  os.FileMode
		certMode os.FileMode
		wantErr  string // "" when accepted
	}{
		{"strict-0700-both", 0o700, 0o700, ""},
		{"key-0750-cert-0755", 0o750, 0o755, ""},
		{"key-0711-cert-0711", 0o711, 0o711, ""},
		{"key-0500-cert-0555", 0o500, 0o555, ""},
		{"key-0755-world-readable", 0o755, 0o755, ""},
		{"key-0770-group-writable", 0o770, 0o755, "chmod g-w"},
		{"key-0777", 0o777, 0o755, "chmod g-w,o-w"},
		{"cert-0775-group-writable", 0o700, 0o775, "chmod g-w"},
		{"cert-0757-world-writable", 0o700, 0o757, "chmod o-w"},
		{"cert-1777-sticky-world-writable", 0o700, 0o777 | os.ModeSticky, "chmod g-w,o-w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			keyDir := filepath.Join(root, "private")
			certDir := filepath.Join(root, "public")
			modes := map[string]os.FileMode{keyDir: tt.keyMode, certDir: tt.certMode}
			for dir, mode := range modes {
				err := os.Mkdir(dir, 0o700)
				if err == nil {
					err = os.Chmod(dir, mode)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			opts := testOptions(root)
			opts.KeyPath = filepath.Join(keyDir, "priv_key")
			opts.CertPath = filepath.Join(certDir, "certificate.pem")
			opts.RootCAPath = filepath.Join(certDir, "AmazonRootCA.pem")
			creds := validCredentials(t)

			_, err := Prepare(opts, creds.keyPEM, creds.certPEM, creds.certPEM)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Prepare() with key dir %v, cert dir %v = %v; want nil",
						tt.keyMode, tt.certMode, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Prepare() with key dir %v, cert dir %v = nil; want an error",
					tt.keyMode, tt.certMode)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Prepare() = %q; want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestExistingDirectoryModeUnchanged(t *testing.T) {
	dir := privateTempDir(t)
	err := os.Chmod(dir, 0o750)
	if err != nil {
		t.Fatal(err)
	}
	creds := validCredentials(t)

	p, err := Prepare(testOptions(dir), creds.keyPEM, creds.certPEM, nil)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)

	if got := modeOf(t, dir); got != 0o750 {
		t.Errorf("mode of existing %q = %v; want it left at 0750", dir, got)
	}
}

func TestDirectoryOfAnotherUserRejected(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	dir := privateTempDir(t)
	err := os.Chown(dir, 65534, 65534)
	if err != nil {
		t.Fatal(err)
	}
	opts := testOptions(dir)
	creds := validCredentials(t)

	_, err = Prepare(opts, creds.keyPEM, creds.certPEM, nil)
	if err == nil || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("Prepare() in a directory of uid 65534 = %v; want an error naming it", err)
	}

	opts.LookupUser, _ = lookups(map[string]string{"ggcore": "65534"}, nil)
	_, err = Prepare(opts, creds.keyPEM, creds.certPEM, nil)
	if err != nil {
		t.Errorf("Prepare() in a directory of the Greengrass user = %v; want nil", err)
	}
}

func TestDirectoryPathIsFile(t *testing.T) {
	root := privateTempDir(t)
	notDir := filepath.Join(root, "credentials")
	mustWriteFile(t, notDir, []byte("x"))
	creds := validCredentials(t)

	_, err := Prepare(testOptions(notDir), creds.keyPEM, creds.certPEM, nil)
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Prepare() under a file = %v; want a not-a-directory error", err)
	}
}
