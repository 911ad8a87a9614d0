package install

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestInstallFreshUnderUmask(t *testing.T) {
	for _, umask := range []int{0, 0o077} {
		dir := filepath.Join(privateTempDir(t), "greengrass", "credentials")
		opts := testOptions(dir)
		creds := validCredentials(t)
		ca := validCredentials(t).certPEM

		old := syscall.Umask(umask)
		p, err := Prepare(opts, creds.keyPEM, creds.certPEM, ca)
		if err == nil {
			err = p.WriteKey()
		}
		if err == nil {
			err = p.WriteCertificate()
		}
		if err == nil {
			err = p.WriteRootCA()
		}
		syscall.Umask(old)
		if err != nil {
			t.Fatalf("install under umask %#o: %v", umask, err)
		}

		key, cert, rootCA := p.Paths()
		got := []string{key, cert, rootCA}
		want := []string{opts.KeyPath, opts.CertPath, opts.RootCAPath}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Paths() differ (-want +got):\n%s", diff)
		}
		for name, mode := range map[string]os.FileMode{
			key: 0o600, cert: 0o644, rootCA: 0o644,
			dir: 0o750, filepath.Dir(dir): 0o755,
		} {
			if got := modeOf(t, name); got != mode {
				t.Errorf("mode of %q under umask %#o = %v; want %v", name, umask, got, mode)
			}
		}
		if got := readFile(t, key); got != string(creds.keyPEM) {
			t.Errorf("content of %q is not the new key", key)
		}
		if got := readFile(t, cert); got != string(creds.certPEM) {
			t.Errorf("content of %q is not the new certificate", cert)
		}
		if got := readFile(t, rootCA); got != string(ca) {
			t.Errorf("content of %q is not the root CA", rootCA)
		}
		if s := p.Superseded(); len(s) != 0 {
			t.Errorf("Superseded() = %q; want none", s)
		}
		assertEntries(t, dir, "priv_key", "certificate.pem", "AmazonRootCA.pem")
	}
}

func TestInstallSeparateDirectories(t *testing.T) {
	root := privateTempDir(t)
	opts := testOptions(root)
	opts.KeyPath = filepath.Join(root, "private", "priv_key")
	opts.CertPath = filepath.Join(root, "public", "certificate.pem")
	opts.RootCAPath = filepath.Join(root, "ca", "AmazonRootCA.pem")
	creds := validCredentials(t)

	p, err := Prepare(opts, creds.keyPEM, creds.certPEM, creds.certPEM)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)

	for name, mode := range map[string]os.FileMode{
		filepath.Join(root, "private"): 0o750,
		filepath.Join(root, "public"):  0o755,
		filepath.Join(root, "ca"):      0o755,
	} {
		if got := modeOf(t, name); got != mode {
			t.Errorf("mode of %q = %v; want %v", name, got, mode)
		}
	}
}

func TestInstallOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	tests := []struct {
		name     string
		users    map[string]string
		groups   map[string]string
		uid, gid uint32
	}{
		{"user-and-group", map[string]string{"ggcore": "65534"},
			map[string]string{"ggcore": "65533"}, 65534, 65533},
		{"user-only", map[string]string{"ggcore": "65534"}, nil, 65534, 0},
		{"neither", nil, nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(privateTempDir(t), "credentials")
			opts := testOptions(dir)
			opts.LookupUser, opts.LookupGroup = lookups(tt.users, tt.groups)
			creds := validCredentials(t)

			p, err := Prepare(opts, creds.keyPEM, creds.certPEM, creds.certPEM)
			if err != nil {
				t.Fatalf("Prepare() = %v", err)
			}
			installAll(t, p)

			for _, name := range []string{opts.KeyPath, opts.CertPath, opts.RootCAPath} {
				uid, gid := ownerOf(t, name)
				if uid != tt.uid || gid != tt.gid {
					t.Errorf("owner of %q = %d:%d; want %d:%d", name, uid, gid, tt.uid, tt.gid)
				}
			}
			// The folder stays the daemon's, so it can write there without
			// CAP_DAC_OVERRIDE, and the group gives Greengrass Lite access.
			uid, gid := ownerOf(t, dir)
			if uid != uint32(os.Geteuid()) || gid != tt.gid {
				t.Errorf("owner of folder %q = %d:%d; want %d:%d", dir, uid, gid, os.Geteuid(), tt.gid)
			}
		})
	}
}

func TestInstallCustomUserLookedUp(t *testing.T) {
	var lookedUp []string
	opts := testOptions(privateTempDir(t))
	opts.User, opts.Group = "gg_user", "gg_group"
	uid, gid := strconv.Itoa(os.Geteuid()), strconv.Itoa(os.Getegid())
	opts.LookupUser = func(name string) (*user.User, error) {
		lookedUp = append(lookedUp, "user:"+name)
		return &user.User{Username: name, Uid: uid, Gid: gid}, nil
	}
	opts.LookupGroup = func(name string) (*user.Group, error) {
		lookedUp = append(lookedUp, "group:"+name)
		return &user.Group{Name: name, Gid: gid}, nil
	}
	creds := validCredentials(t)

	_, err := Prepare(opts, creds.keyPEM, creds.certPEM, nil)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}

	want := []string{"user:gg_user", "group:gg_group"}
	if diff := cmp.Diff(want, lookedUp); diff != "" {
		t.Errorf("lookups differ (-want +got):\n%s", diff)
	}
}

func TestPrepareLookupFailure(t *testing.T) {
	opts := testOptions(privateTempDir(t))
	broken := errors.New("nss backend unreachable")
	opts.LookupUser = func(string) (*user.User, error) { return nil, broken }
	creds := validCredentials(t)

	_, err := Prepare(opts, creds.keyPEM, creds.certPEM, nil)
	if !errors.Is(err, broken) {
		t.Errorf("Prepare() = %v; want an error wrapping %v", err, broken)
	}
}

func TestPrepareRejectsInvalidInput(t *testing.T) {
	creds := validCredentials(t)
	other := validCredentials(t)
	expired := newCredentials(t, time.Now().Add(-time.Minute))
	relative := func(o *Options) { o.KeyPath = "credentials/priv_key" }
	samePaths := func(o *Options) { o.CertPath = o.KeyPath }
	tests := []struct {
		name              string
		key, cert, rootCA []byte
		edit              func(*Options)
		phrase            string
	}{
		{"key-of-another-pair", other.keyPEM, creds.certPEM, nil, nil, "does not match"},
		{"expired", expired.keyPEM, expired.certPEM, nil, nil, "expired"},
		{"empty-key", nil, creds.certPEM, nil, nil, "new private key"},
		{"empty-certificate", creds.keyPEM, nil, nil, nil, "new certificate"},
		{"key-as-certificate", creds.keyPEM, creds.keyPEM, nil, nil, "CERTIFICATE"},
		{"garbage-root-ca", creds.keyPEM, creds.certPEM, []byte("not pem"), nil, "root CA"},
		{"key-in-root-ca", creds.keyPEM, creds.certPEM,
			append(append([]byte{}, creds.certPEM...), creds.keyPEM...), nil, "PRIVATE KEY"},
		{"relative-path", creds.keyPEM, creds.certPEM, nil, relative, "absolute"},
		{"same-paths", creds.keyPEM, creds.certPEM, nil, samePaths, "must differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := privateTempDir(t)
			opts := testOptions(dir)
			if tt.edit != nil {
				tt.edit(&opts)
			}

			_, err := Prepare(opts, tt.key, tt.cert, tt.rootCA)
			if err == nil {
				t.Fatalf("Prepare() = nil; want an error containing %q", tt.phrase)
			}
			if !strings.Contains(err.Error(), tt.phrase) {
				t.Errorf("Prepare() = %q; want it to contain %q", err, tt.phrase)
			}
			assertEntries(t, dir)
		})
	}
}

func TestWriteStepsInOrder(t *testing.T) {
	dir := privateTempDir(t)
	creds := validCredentials(t)
	p, err := Prepare(testOptions(dir), creds.keyPEM, creds.certPEM, creds.certPEM)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}

	err = p.WriteCertificate()
	if err == nil {
		t.Errorf("WriteCertificate() before WriteKey() = nil; want an error")
	}
	err = p.WriteRootCA()
	if err == nil {
		t.Errorf("WriteRootCA() before WriteKey() = nil; want an error")
	}
	err = p.Cleanup()
	if err == nil {
		t.Errorf("Cleanup() before the writes = nil; want an error")
	}
	assertEntries(t, dir)

	err = p.WriteKey()
	if err != nil {
		t.Fatalf("WriteKey() = %v", err)
	}
	err = p.WriteKey()
	if err == nil {
		t.Errorf("second WriteKey() = nil; want an error")
	}
	assertEntries(t, dir, "priv_key")
}

func TestWriteKeyRejectsSymlinkTarget(t *testing.T) {
	dir := privateTempDir(t)
	opts := testOptions(dir)
	elsewhere := filepath.Join(privateTempDir(t), "elsewhere")
	err := os.Symlink(elsewhere, opts.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	creds := validCredentials(t)
	p, err := Prepare(opts, creds.keyPEM, creds.certPEM, nil)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}

	err = p.WriteKey()
	if err == nil || !strings.Contains(err.Error(), opts.KeyPath) {
		t.Errorf("WriteKey() over a symbolic link = %v; want an error naming %q",
			err, opts.KeyPath)
	}
	if _, err := os.Lstat(elsewhere); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Lstat(%q) = %v; want the link target left uncreated", elsewhere, err)
	}
}

func TestInstallWithoutRootCA(t *testing.T) {
	dir := privateTempDir(t)
	creds := validCredentials(t)
	p, err := Prepare(testOptions(dir), creds.keyPEM, creds.certPEM, nil)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)

	_, _, rootCA := p.Paths()
	if rootCA != "" {
		t.Errorf("root CA path = %q; want empty", rootCA)
	}
	assertEntries(t, dir, "priv_key", "certificate.pem")
}

func TestRemoveClaim(t *testing.T) {
	dir := privateTempDir(t)
	cert := filepath.Join(dir, "claim.pem.crt")
	key := filepath.Join(dir, "claim.private.pem.key")
	keep := filepath.Join(dir, "AmazonRootCA1.pem")
	for _, name := range []string{cert, key, keep} {
		mustWriteFile(t, name, []byte("x"))
	}

	err := RemoveClaim(cert, key)
	if err != nil {
		t.Fatalf("RemoveClaim(%q, %q) = %v", cert, key, err)
	}
	assertEntries(t, dir, "AmazonRootCA1.pem")

	err = RemoveClaim(cert, key)
	if err != nil {
		t.Errorf("RemoveClaim() of missing files = %v; want nil", err)
	}
}

// TestInstallPrimaryGroup names a user without a group, as a posixUser of
// "gg" does: the files get that user's primary group, not ggcore's.
func TestInstallPrimaryGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	dir := filepath.Join(privateTempDir(t), "credentials")
	opts := testOptions(dir)
	opts.User, opts.Group = "gg", ""
	opts.LookupUser, opts.LookupGroup = lookups(map[string]string{"gg": "65532"},
		map[string]string{DefaultUser: "65533"})
	creds := validCredentials(t)

	p, err := Prepare(opts, creds.keyPEM, creds.certPEM, creds.certPEM)
	if err != nil {
		t.Fatalf("Prepare() = %v", err)
	}
	installAll(t, p)

	uid, gid := ownerOf(t, opts.KeyPath)
	if uid != 65532 || gid != 65532 {
		t.Errorf("owner of the key = %d:%d; want 65532:65532", uid, gid)
	}
}

// TestOwnersReportsMissing names a user and a group that do not exist: the
// files go to root, and Owners reports it, so the caller can warn.
func TestOwnersReportsMissing(t *testing.T) {
	opts := testOptions(privateTempDir(t))
	opts.User, opts.Group = "ghost", "ghosts"

	u, g, userFound, groupFound, err := Owners(opts)
	if err != nil {
		t.Fatalf("Owners() = %v", err)
	}
	if u != "ghost" || g != "ghosts" || userFound || groupFound {
		t.Errorf("Owners() = %q, %q, %v, %v; want ghost, ghosts, false, false", u, g, userFound, groupFound)
	}
	if err := Preflight(opts); err != nil {
		t.Errorf("Preflight() = %v; want nil, as missing owners fall back to root", err)
	}
}
