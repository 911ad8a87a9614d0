package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFileModeIgnoresUmask(t *testing.T) {
	for _, umask := range []int{0, 0o077} {
		for _, perm := range []fs.FileMode{0o600, 0o644, 0o640} {
			name := filepath.Join(t.TempDir(), "f")

			old := syscall.Umask(umask)
			err := WriteFile(name, []byte("x"), perm)
			syscall.Umask(old)
			if err != nil {
				t.Fatalf("WriteFile(%q, %v) under umask %#o: %v", name, perm, umask, err)
			}

			info, err := os.Stat(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode().Perm(); got != perm {
				t.Errorf("mode under umask %#o = %v; want %v", umask, got, perm)
			}
		}
	}
}

func TestWriteFileReplacesContent(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "certificate.pem")
	mustWrite(t, name, "old content that is longer than the new one")

	err := WriteFile(name, []byte("new"), 0o644)
	if err != nil {
		t.Fatalf("WriteFile(%q): %v", name, err)
	}

	got := readString(t, name)
	if got != "new" {
		t.Errorf("content of %q = %q; want %q", name, got, "new")
	}
	assertOnly(t, dir, "certificate.pem")
}

func TestWriteFileReplacesMode(t *testing.T) {
	name := filepath.Join(t.TempDir(), "priv_key")
	mustWrite(t, name, "old")
	err := os.Chmod(name, 0o666)
	if err != nil {
		t.Fatal(err)
	}

	err = WriteFile(name, []byte("new"), 0o600)
	if err != nil {
		t.Fatalf("WriteFile(%q): %v", name, err)
	}

	info, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("mode of %q = %v; want %v", name, got, fs.FileMode(0o600))
	}
}

func TestWriteFileEmptyData(t *testing.T) {
	name := filepath.Join(t.TempDir(), "empty")

	err := WriteFile(name, nil, 0o644)
	if err != nil {
		t.Fatalf("WriteFile(%q, nil): %v", name, err)
	}

	info, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != 0 {
		t.Errorf("size of %q = %d; want 0", name, info.Size())
	}
}

func TestWriteFileOwned(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "priv_key")
	mustWrite(t, name, "old")

	err := WriteFileOwned(name, []byte("new"), 0o600, 65534, 65533)
	if err != nil {
		t.Fatalf("WriteFileOwned(%q): %v", name, err)
	}

	info, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65533 {
		t.Errorf("owner of %q = %d:%d; want 65534:65533", name, st.Uid, st.Gid)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("mode of %q = %v; want %v", name, got, fs.FileMode(0o600))
	}
	assertOnly(t, dir, "priv_key")
}

func TestWriteFileOwnedNegativeOwner(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")

	err := WriteFileOwned(name, []byte("x"), 0o600, -1, 0)
	if err == nil {
		t.Fatalf("WriteFileOwned(%q, uid -1) = nil; want an error", name)
	}
	assertOnly(t, dir)
}

func TestWriteFileRejectsInvalidMode(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")

	err := WriteFile(name, []byte("x"), fs.ModeDir|0o755)
	if err == nil {
		t.Fatalf("WriteFile(%q, ModeDir) = nil; want an error", name)
	}
	assertOnly(t, dir)
}

func TestWriteFileRejectsNonRegularTarget(t *testing.T) {
	tests := []struct {
		name   string
		make   func(path string) error
		phrase string
	}{
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, "directory"},
		{"symlink", func(p string) error {
			return os.Symlink(filepath.Join(filepath.Dir(p), "real"), p)
		}, "symbolic link"},
		{"dangling-symlink", func(p string) error {
			return os.Symlink("/nonexistent/target", p)
		}, "symbolic link"},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "FIFO"},
		{"device", func(p string) error {
			if os.Geteuid() != 0 {
				return errSkip
			}
			// Character device 1:3 is /dev/null on Linux.
			return syscall.Mknod(p, syscall.S_IFCHR|0o600, 1<<8|3)
		}, "device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			real := filepath.Join(dir, "real")
			mustWrite(t, real, "kept")
			name := filepath.Join(dir, "target")
			err := tt.make(name)
			if errors.Is(err, errSkip) {
				t.Skip("making a device node needs root")
			}
			if err != nil {
				t.Fatal(err)
			}

			err = WriteFile(name, []byte("new"), 0o644)
			if err == nil {
				t.Fatalf("WriteFile(%q) on a %s = nil; want an error", name, tt.name)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("WriteFile(%q) error %q does not name the target", name, err)
			}
			if !strings.Contains(err.Error(), tt.phrase) {
				t.Errorf("WriteFile(%q) error %q; want it to contain %q",
					name, err, tt.phrase)
			}
			if got := readString(t, real); got != "kept" {
				t.Errorf("content of %q = %q; want %q", real, got, "kept")
			}
			assertOnly(t, dir, "real", "target")
		})
	}
}

var errSkip = errors.New("skip")

func TestWriteFileRemovesTempOnFailure(t *testing.T) {
	for _, failing := range []string{"chmod", "chown", "write", "sync", "close", "rename"} {
		t.Run(failing, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "certificate.pem")
			mustWrite(t, name, "old")
			injected := errors.New("injected " + failing + " failure")
			var reached []string
			failAt = func(step string) error {
				reached = append(reached, step)
				if step == failing {
					return injected
				}
				return nil
			}
			t.Cleanup(func() { failAt = nil })

			err := WriteFileOwned(name, []byte("new"), 0o644, os.Getuid(), os.Getgid())
			if !errors.Is(err, injected) {
				t.Fatalf("WriteFileOwned(%q) = %v; want %v", name, err, injected)
			}
			if reached[len(reached)-1] != failing {
				t.Fatalf("steps reached = %q; want the last to be %q", reached, failing)
			}
			if got := readString(t, name); got != "old" {
				t.Errorf("content of %q = %q; want %q", name, got, "old")
			}
			assertOnly(t, dir, "certificate.pem")
		})
	}
}

func TestWriteFileMissingDirectory(t *testing.T) {
	name := filepath.Join(t.TempDir(), "missing", "f")

	err := WriteFile(name, []byte("x"), 0o644)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile(%q) = %v; want an error wrapping %v", name, err, fs.ErrNotExist)
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "claim.key")
	mustWrite(t, name, "x")

	err := Remove(name)
	if err != nil {
		t.Fatalf("Remove(%q): %v", name, err)
	}
	assertOnly(t, dir)

	err = Remove(name)
	if err != nil {
		t.Errorf("Remove(%q) of a missing file = %v; want nil", name, err)
	}
}

func TestRemoveSymlinkRemovesLinkOnly(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	mustWrite(t, real, "kept")
	link := filepath.Join(dir, "link")
	err := os.Symlink(real, link)
	if err != nil {
		t.Fatal(err)
	}

	err = Remove(link)
	if err != nil {
		t.Fatalf("Remove(%q): %v", link, err)
	}
	assertOnly(t, dir, "real")
}

func TestRemoveRejectsDirectory(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	err := os.Mkdir(sub, 0o755)
	if err != nil {
		t.Fatal(err)
	}

	err = Remove(sub)
	if err == nil {
		t.Fatalf("Remove(%q) of a directory = nil; want an error", sub)
	}
	assertOnly(t, dir, "sub")
}

func mustWrite(t *testing.T, name, content string) {
	t.Helper()
	err := os.WriteFile(name, []byte(content), 0o644)
	if err != nil {
		t.Fatal(err)
	}
}

func readString(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// assertOnly fails the test unless dir contains exactly the given names, so
// a leftover temporary file shows up.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("entries of %q = %q; want %q", dir, got, names)
	}
}
