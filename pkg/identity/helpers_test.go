package identity

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// boardsDir contains one system tree per kind of board.
const boardsDir = "../../testdata/sysfs"

// fixedRand returns a reader whose 16 bytes make the generated ID
// 000102030405060708090a0b0c0d0e0f.
func fixedRand() *bytes.Reader {
	return bytes.NewReader([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
		13, 14, 15})
}

const fixedGenerated = "000102030405060708090a0b0c0d0e0f"

// root is a system tree built in a temporary directory.
type root struct {
	t   *testing.T
	dir string
}

func newRoot(t *testing.T) *root {
	t.Helper()
	return &root{t: t, dir: t.TempDir()}
}

func (r *root) file(name, content string) {
	r.t.Helper()
	host := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(host, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *root) link(name, target string) {
	r.t.Helper()
	host := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, host); err != nil {
		r.t.Fatal(err)
	}
}

func (r *root) mkdir(name string) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Join(r.dir, name), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

// iface describes a network interface to add to a root.
type iface struct {
	name   string
	dev    string // parent device below sys/devices; "" means virtual
	typ    string
	assign string // addr_assign_type; "" leaves the file out
	addr   string
	wlan   string // "wireless" or "phy80211" marks a Wi-Fi interface
}

// nic lays out an interface as the kernel does: its directory below its
// parent device, a device link for physical interfaces, and a link in
// sys/class/net.
func (r *root) nic(n iface) {
	r.t.Helper()
	devDir := "sys/devices/virtual"
	if n.dev != "" {
		devDir = "sys/devices/" + n.dev
	}
	dir := devDir + "/net/" + n.name
	r.file(dir+"/type", n.typ+"\n")
	r.file(dir+"/address", n.addr+"\n")
	if n.assign != "" {
		r.file(dir+"/addr_assign_type", n.assign+"\n")
	}
	if n.dev != "" {
		r.link(dir+"/device", "../../../"+filepath.Base(n.dev))
	}
	switch n.wlan {
	case "wireless":
		r.mkdir(dir + "/wireless")
	case "phy80211":
		r.link(dir+"/phy80211", "../../ieee80211/phy0")
	}
	r.link("sys/class/net/"+n.name, "../../"+dir[len("sys/"):])
}

// copyBoard copies a board tree, links included, to a temporary directory.
func copyBoard(t *testing.T, board string) *root {
	t.Helper()
	r := newRoot(t)
	src := filepath.Join(boardsDir, board)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(r.dir, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rename renames interface old to new, moving its directory and its class
// link, as the kernel does when udev renames an interface.
func (r *root) rename(old, new string) {
	r.t.Helper()
	classLink := filepath.Join(r.dir, "sys/class/net", old)
	target, err := os.Readlink(classLink)
	if err != nil {
		r.t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(classLink), target)
	if err := os.Rename(dir, filepath.Join(filepath.Dir(dir), new)); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Remove(classLink); err != nil {
		r.t.Fatal(err)
	}
	newTarget := filepath.Join(filepath.Dir(target), new)
	r.link("sys/class/net/"+new, newTarget)
}

func removeLink(t *testing.T, r *root, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(r.dir, name)); err != nil {
		t.Fatal(err)
	}
}
