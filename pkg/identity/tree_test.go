package identity

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestResolveStaysInRoot(t *testing.T) {
	r := newRoot(t)
	r.file("sys/firmware/devicetree/base/serial-number", "inside\x00")
	r.link("proc/device-tree", "/sys/firmware/devicetree/base")
	r.link("sys/class/up", "../../../../../../../../sys/firmware")
	r.link("sys/class/abs-parent", "/../../sys/firmware")
	tr, err := openTree(r.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()

	tests := []struct {
		name, path, want string
	}{
		{name: "absolute-link", path: "proc/device-tree/serial-number",
			want: "sys/firmware/devicetree/base/serial-number"},
		{name: "climb-above-root", path: "sys/class/up/devicetree",
			want: "sys/firmware/devicetree"},
		{name: "absolute-with-dotdot", path: "sys/class/abs-parent",
			want: "sys/firmware"},
		{name: "dotdot-after-link", path: "proc/device-tree/../..",
			want: "sys/firmware"},
		{name: "root", path: "/", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tr.resolve(tt.path, true)
			if err != nil || got != tt.want {
				t.Errorf("resolve(%q) = %q, %v; want %q", tt.path, got, err,
					tt.want)
			}
		})
	}
}

func TestResolveDoesNotReadHost(t *testing.T) {
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Skip("no /etc/passwd on this host to try to escape to")
	}
	r := newRoot(t)
	r.link("sys/class/dmi/id/product_serial", "/etc/passwd")
	r.link("sys/class/dmi/id/board_serial",
		"../../../../../../../../../../etc/passwd")
	tr, err := openTree(r.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()

	for _, name := range []string{"product_serial", "board_serial"} {
		path := "sys/class/dmi/id/" + name
		data, err := tr.readFile(path, maxAttrLen)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("readFile(%q) = %d bytes, %v; want not found in the root",
				path, len(data), err)
		}
	}
}

func TestResolveLoop(t *testing.T) {
	r := newRoot(t)
	r.link("sys/a", "b")
	r.link("sys/b", "/sys/a")
	tr, err := openTree(r.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()

	_, err = tr.resolve("sys/a/x", true)
	if !errors.Is(err, syscall.ELOOP) {
		t.Errorf("resolve(%q) error = %v; want ELOOP", "sys/a/x", err)
	}
}

func TestReadFileRejectsFIFO(t *testing.T) {
	r := newRoot(t)
	r.mkdir("proc")
	if err := syscall.Mkfifo(r.dir+"/proc/cpuinfo", 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := openTree(r.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()

	_, err = tr.readFile("proc/cpuinfo", maxCPUInfoLen)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("readFile(FIFO) error = %v; want %q", err,
			"not a regular file")
	}
}

func TestReadFileTooLarge(t *testing.T) {
	r := newRoot(t)
	r.file("sys/class/dmi/id/product_serial", strings.Repeat("7", 5000))
	tr, err := openTree(r.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()

	_, err = tr.readFile("sys/class/dmi/id/product_serial", maxAttrLen)
	if err == nil || !strings.Contains(err.Error(), "larger than 4096 bytes") {
		t.Errorf("readFile(5000 bytes) error = %v; want %q", err,
			"larger than 4096 bytes")
	}
}
