package identity

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// denyHook fails reads of the DMI files given, as the kernel does for a
// user other than root: product_serial, board_serial and product_uuid are
// mode 0400. The tests run as root, which reads them anyway, so the error
// is injected.
func denyHook(fields ...string) func(string) error {
	return func(name string) error {
		for _, f := range fields {
			if strings.HasSuffix(name, "/dmi/id/"+f) {
				return fs.ErrPermission
			}
		}
		return nil
	}
}

func TestProbeDMIRootOnly(t *testing.T) {
	board := boardsDir + "/server-bond"
	tests := []struct {
		name    string
		denied  []string
		id      string
		source  Source
		skipped []Skip
	}{
		{name: "serial-denied", denied: []string{"product_serial"},
			id: "__CN7475163A0123_", source: SourceDMI},
		{name: "all-denied",
			denied: []string{"product_serial", "board_serial", "product_uuid"},
			id:     fixedGenerated, source: SourceGenerated,
			skipped: []Skip{{Source: SourceDMI, Reason: "" +
				"read /sys/class/dmi/id/product_serial: permission denied; " +
				"read /sys/class/dmi/id/board_serial: permission denied; " +
				"read /sys/class/dmi/id/product_uuid: permission denied"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Prober{Root: board, Rand: fixedRand(),
				Sources:  []Source{SourceDMI, SourceGenerated},
				readHook: denyHook(tt.denied...)}

			got, err := p.Probe()
			if err != nil {
				t.Fatalf("Probe() failed: %v", err)
			}
			want := Result{ID: tt.id, Source: tt.source, Skipped: tt.skipped}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Probe() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProbeDeviceTreePaths(t *testing.T) {
	t.Run("sys-preferred", func(t *testing.T) {
		r := newRoot(t)
		r.file("sys/firmware/devicetree/base/serial-number", "from-sys\x00")
		r.file("proc/device-tree/serial-number", "from-proc\x00")
		got := probeOne(t, r, SourceDeviceTree)
		if got != "from-sys" {
			t.Errorf("Probe() = %q; want %q", got, "from-sys")
		}
	})
	t.Run("proc-directory", func(t *testing.T) {
		r := newRoot(t)
		r.file("proc/device-tree/serial-number", "from-proc\x00")
		got := probeOne(t, r, SourceDeviceTree)
		if got != "from-proc" {
			t.Errorf("Probe() = %q; want %q", got, "from-proc")
		}
	})
	t.Run("proc-link-absolute", func(t *testing.T) {
		// The direct read fails once, so the value can only come through
		// the absolute /proc/device-tree link, resolved inside the root.
		r := newRoot(t)
		r.file("sys/firmware/devicetree/base/serial-number", "linked\x00")
		r.link("proc/device-tree", "/sys/firmware/devicetree/base")
		var reads []string
		p := &Prober{Root: r.dir, Sources: []Source{SourceDeviceTree},
			readHook: func(name string) error {
				reads = append(reads, name)
				if len(reads) == 1 {
					return fs.ErrNotExist
				}
				return nil
			}}

		got, err := p.Probe()
		if err != nil || got.ID != "linked" {
			t.Errorf("Probe() = %q, %v; want %q read through the link",
				got.ID, err, "linked")
		}
		want := []string{"sys/firmware/devicetree/base/serial-number",
			"sys/firmware/devicetree/base/serial-number"}
		if diff := cmp.Diff(want, reads); diff != "" {
			t.Errorf("files read (-want +got):\n%s", diff)
		}
	})
}

func probeOne(t *testing.T, r *root, s Source) string {
	t.Helper()
	got, err := (&Prober{Root: r.dir, Sources: []Source{s}}).Probe()
	if err != nil {
		t.Fatalf("Probe(%s) failed: %v", s, err)
	}
	return got.ID
}

func TestProbeFileSource(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" leaves the file out
		id      string
		source  Source
	}{
		{name: "factory-serial", content: "FAB-2024-000117\n",
			id: "FAB-2024-000117", source: SourceFile},
		{name: "missing", id: "dca6324b7e10", source: SourceMAC},
		{name: "placeholder", content: "To be filled by O.E.M.\n",
			id: "dca6324b7e10", source: SourceMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := copyBoard(t, "raspberry-pi-4")
			if tt.content != "" {
				r.file("etc/device-serial", tt.content)
			}
			p := &Prober{Root: r.dir, DeviceIDFile: "/etc/device-serial",
				Sources: []Source{SourceFile, SourceMAC}}

			got, err := p.Probe()
			if err != nil {
				t.Fatalf("Probe() failed: %v", err)
			}
			if got.ID != tt.id || got.Source != tt.source {
				t.Errorf("Probe() = %q from %s; want %q from %s", got.ID,
					got.Source, tt.id, tt.source)
			}
		})
	}
}

// The device ID file and an absolute link in its path resolve below Root,
// like the files under sys/ and proc/.
func TestProbeFileBelowRoot(t *testing.T) {
	r := newRoot(t)
	r.file("factory/serial", "FAB-9\n")
	r.link("etc/device-serial", "/factory/serial")
	p := &Prober{Root: r.dir, DeviceIDFile: "/etc/device-serial",
		Sources: []Source{SourceFile}}

	got, err := p.Probe()
	if err != nil {
		t.Fatalf("Probe() failed: %v", err)
	}
	if got.ID != "FAB-9" {
		t.Errorf("Probe() = %q; want %q", got.ID, "FAB-9")
	}
}

func TestProbeConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		p    Prober
		want string
	}{
		{name: "unknown-source", p: Prober{Sources: []Source{"serial"}},
			want: `unknown device ID source "serial"`},
		{name: "file-without-path", p: Prober{Sources: []Source{SourceFile}},
			want: "needs an absolute device ID file path"},
		{name: "file-relative", p: Prober{Sources: []Source{SourceFile},
			DeviceIDFile: "etc/serial"},
			want: `got "etc/serial"`},
		{name: "missing-root", p: Prober{Root: "/nonexistent/root"},
			want: `open system root "/nonexistent/root"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Probe()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Probe() = %q, %v; want error containing %q",
					got.ID, err, tt.want)
			}
		})
	}
}

// An ID is never empty: without the generated source, no usable value is an
// error, not an empty ID.
func TestProbeNoUsableSource(t *testing.T) {
	p := &Prober{Root: boardsDir + "/random-mac-board",
		Sources: []Source{SourceMAC, SourceCPUSerial, SourceDMI}}

	got, err := p.Probe()
	if err == nil {
		t.Fatalf("Probe() = %q; want an error", got.ID)
	}
	if got.ID != "" {
		t.Errorf("Probe() ID = %q with error; want empty", got.ID)
	}
	for _, want := range []string{"mac: no physical interface",
		"cpu-serial: \"0000000000000000\" is all zeros", `add "generated"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Probe() error = %q; want it to contain %q", err, want)
		}
	}
}

func TestProbeEmptyRoot(t *testing.T) {
	r := newRoot(t)
	got, err := (&Prober{Root: r.dir}).Probe()
	if err != nil {
		t.Fatalf("Probe() failed: %v", err)
	}
	if got.Source != SourceGenerated || len(got.ID) != 32 {
		t.Errorf("Probe() = %q from %s; want 32 hex digits from %s",
			got.ID, got.Source, SourceGenerated)
	}
	again, err := (&Prober{Root: r.dir}).Probe()
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == got.ID {
		t.Errorf("two generated IDs are both %q; want random values", got.ID)
	}
}

func TestProbeRandFails(t *testing.T) {
	r := newRoot(t)
	p := &Prober{Root: r.dir, Sources: []Source{SourceGenerated},
		Rand: iotest.ErrReader(errors.New("entropy pool closed"))}

	got, err := p.Probe()
	if err == nil || !strings.Contains(err.Error(), "entropy pool closed") {
		t.Errorf("Probe() = %q, %v; want the random source's error", got.ID,
			err)
	}
}

func TestProbeLogsSkips(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	p := &Prober{Root: boardsDir + "/rockchip", Logger: zap.New(core)}

	if _, err := p.Probe(); err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, e := range logs.FilterMessage("device id source skipped").All() {
		if e.Level != zapcore.DebugLevel {
			t.Errorf("skip logged at %s; want debug", e.Level)
		}
		fields := e.ContextMap()
		if fields["reason"] == "" {
			t.Errorf("skip of %v logged without a reason", fields)
		}
		got = append(got, fields["device-id-source"].(string))
	}
	want := []string{"mac", "cpu-serial"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logged skips (-want +got):\n%s", diff)
	}
}

func TestProbeWarnsOnLoop(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	r := newRoot(t)
	r.link("proc/cpuinfo", "/proc/cpuinfo")
	p := &Prober{Root: r.dir, Logger: zap.New(core),
		Sources: []Source{SourceCPUSerial, SourceGenerated}}

	if _, err := p.Probe(); err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessage("device id source failed").Len(); n != 1 {
		t.Errorf("%d warnings for a link loop; want 1", n)
	}
}

// The serials "SN-12/34" and "SN-12 34" give the same ID, and each warning
// shows the value read, so the collision can be traced.
func TestProbeWarnsOnReplacedCharacters(t *testing.T) {
	tests := []struct {
		name    string
		file    string // content of /etc/device-serial; "" leaves it out
		sources []Source
		id      string
		warn    map[string]any // nil means no warning
	}{
		{name: "slash", file: "SN-12/34\n", sources: []Source{SourceFile},
			id: "SN-12_34", warn: map[string]any{
				"device-id-source": "file",
				"source-value":     `"SN-12/34"`,
				"device-id":        "SN-12_34"}},
		{name: "space-after-byte-order-mark",
			file: "\xef\xbb\xbf SN-12 34 \r\n", sources: []Source{SourceFile},
			id: "SN-12_34", warn: map[string]any{
				"device-id-source": "file",
				"source-value":     `"SN-12 34"`,
				"device-id":        "SN-12_34"}},
		{name: "non-ascii", file: "Seri\u00e41\n", sources: []Source{SourceFile},
			id: "Seri_1", warn: map[string]any{
				"device-id-source": "file",
				"source-value":     `"Seriä1"`,
				"device-id":        "Seri_1"}},
		{name: "clean-file", file: "\xef\xbb\xbfFAB-1:a_b\n",
			sources: []Source{SourceFile}, id: "FAB-1:a_b"},
		{name: "mac", sources: []Source{SourceMAC}, id: "dca6324b7e10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			r := copyBoard(t, "raspberry-pi-4")
			if tt.file != "" {
				r.file("etc/device-serial", tt.file)
			}
			p := &Prober{Root: r.dir, DeviceIDFile: "/etc/device-serial",
				Sources: tt.sources, Logger: zap.New(core)}

			got, err := p.Probe()
			if err != nil {
				t.Fatalf("Probe() failed: %v", err)
			}
			if got.ID != tt.id {
				t.Errorf("Probe() = %q; want %q", got.ID, tt.id)
			}
			checkReplacedWarning(t, logs, tt.warn)
		})
	}
}

// checkReplacedWarning fails unless logs hold exactly the warning want, or
// none when want is nil.
func checkReplacedWarning(t *testing.T, logs *observer.ObservedLogs,
	want map[string]any) {
	t.Helper()
	entries := logs.FilterMessage("device id characters replaced").All()
	if want == nil {
		if len(entries) != 0 {
			t.Errorf("logged %v; want no replaced-characters warning",
				entries[0].ContextMap())
		}
		return
	}
	if len(entries) != 1 {
		t.Fatalf("%d replaced-characters warnings; want 1", len(entries))
	}
	if entries[0].Level != zapcore.WarnLevel {
		t.Errorf("replaced characters logged at %s; want warn",
			entries[0].Level)
	}
	if diff := cmp.Diff(want, entries[0].ContextMap()); diff != "" {
		t.Errorf("warning fields (-want +got):\n%s", diff)
	}
}

// The board serial "..CN7475163A0123." of a real server loses its dots.
func TestProbeWarnsOnReplacedDMISerial(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	p := &Prober{Root: boardsDir + "/server-bond", Logger: zap.New(core),
		Sources:  []Source{SourceDMI},
		readHook: denyHook("product_serial")}

	got, err := p.Probe()
	if err != nil {
		t.Fatalf("Probe() failed: %v", err)
	}
	if got.ID != "__CN7475163A0123_" {
		t.Errorf("Probe() = %q; want %q", got.ID, "__CN7475163A0123_")
	}
	checkReplacedWarning(t, logs, map[string]any{
		"device-id-source": "dmi",
		"source-value":     `"..CN7475163A0123."`,
		"device-id":        "__CN7475163A0123_"})
}

func TestParseSources(t *testing.T) {
	tests := []struct {
		name  string
		in    []string
		want  []Source
		error string
	}{
		{name: "empty", in: nil, want: DefaultSources()},
		{name: "all", in: []string{"file", "mac", "cpu-serial", "device-tree",
			"dmi", "generated"},
			want: []Source{SourceFile, SourceMAC, SourceCPUSerial,
				SourceDeviceTree, SourceDMI, SourceGenerated}},
		{name: "trimmed", in: []string{" dmi "}, want: []Source{SourceDMI}},
		{name: "unknown", in: []string{"mac", "serial"},
			error: `unknown device ID source "serial": use mac, cpu-serial, ` +
				`device-tree, dmi, file, generated`},
		{name: "case", in: []string{"MAC"},
			error: `unknown device ID source "MAC"`},
		{name: "twice", in: []string{"mac", "dmi", "mac"},
			error: `device ID source "mac" is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSources(tt.in)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Errorf("ParseSources(%q) = %v, %v; want error %q",
						tt.in, got, err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSources(%q) failed: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseSources(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
