package identity

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func skippedSources(r Result) []Source {
	var got []Source
	for _, s := range r.Skipped {
		got = append(got, s.Source)
	}
	return got
}

func TestProbeBoards(t *testing.T) {
	all := DefaultSources()
	tests := []struct {
		name    string
		board   string
		sources []Source
		id      string
		source  Source
		skipped []Source
		// reasons maps a skipped source to a fragment of its reason.
		reasons map[Source]string
	}{
		{name: "pi4", board: "raspberry-pi-4", sources: all,
			id: "dca6324b7e10", source: SourceMAC},
		{name: "pi4-cpu", board: "raspberry-pi-4",
			sources: []Source{SourceCPUSerial},
			id:      "10000000e3a4b5c6", source: SourceCPUSerial},
		{name: "pi4-dt", board: "raspberry-pi-4",
			sources: []Source{SourceDeviceTree},
			id:      "10000000e3a4b5c6", source: SourceDeviceTree},
		{name: "pi4-dmi", board: "raspberry-pi-4",
			sources: []Source{SourceDMI, SourceGenerated},
			id:      fixedGenerated, source: SourceGenerated,
			skipped: []Source{SourceDMI},
			reasons: map[Source]string{
				SourceDMI: "product_serial: no such file"}},
		{name: "rockchip", board: "rockchip", sources: all,
			id: "c3d9b8674f4b94f6", source: SourceDeviceTree,
			skipped: []Source{SourceMAC, SourceCPUSerial},
			reasons: map[Source]string{
				SourceMAC:       `eth0: address is not permanent (addr_assign_type "1", random)`,
				SourceCPUSerial: `"0000000000000000" is all zeros`}},
		{name: "imx8", board: "imx8", sources: all,
			id: "00049f07a13c", source: SourceMAC},
		{name: "imx8-dt", board: "imx8",
			sources: []Source{SourceCPUSerial, SourceDeviceTree},
			id:      "0a1b2c3d4e5f6071", source: SourceDeviceTree,
			skipped: []Source{SourceCPUSerial},
			reasons: map[Source]string{
				SourceCPUSerial: "no Serial line"}},
		{name: "x86", board: "x86-pc", sources: all,
			id: "1c697a0abcde", source: SourceMAC},
		{name: "x86-dmi", board: "x86-pc",
			sources: []Source{SourceDMI, SourceGenerated},
			id:      fixedGenerated, source: SourceGenerated,
			skipped: []Source{SourceDMI},
			reasons: map[Source]string{
				SourceDMI: `product_serial: "To be filled by O.E.M." is a firmware placeholder; ` +
					`board_serial: "Default string" is a firmware placeholder; ` +
					`product_uuid: "03000200-0400-0500-0006-000700080009" is a firmware placeholder`}},
		// QEMU's 52:54:00 prefix has the locally administered bit set.
		{name: "vm", board: "vm-virtio", sources: all,
			id:      "6f1e3c52-8a4b-4f2e-9b1d-2c5e7a9f0b13",
			source:  SourceDMI,
			skipped: []Source{SourceMAC, SourceCPUSerial, SourceDeviceTree},
			reasons: map[Source]string{
				SourceMAC: "ens3: address 52:54:00:12:34:56 is locally administered"}},
		{name: "vm-dmi", board: "vm-virtio", sources: []Source{SourceDMI},
			id:     "6f1e3c52-8a4b-4f2e-9b1d-2c5e7a9f0b13",
			source: SourceDMI},
		{name: "bond", board: "server-bond", sources: all,
			id: "1418775a0bc1", source: SourceMAC},
		{name: "bond-dmi", board: "server-bond", sources: []Source{SourceDMI},
			id: "7XK2B13", source: SourceDMI},
		{name: "random-mac", board: "random-mac-board", sources: all,
			id: fixedGenerated, source: SourceGenerated,
			skipped: []Source{SourceMAC, SourceCPUSerial, SourceDeviceTree,
				SourceDMI},
			reasons: map[Source]string{
				SourceMAC:        `eth0: address is not permanent (addr_assign_type "1", random)`,
				SourceCPUSerial:  "all zeros",
				SourceDeviceTree: "serial-number: no such file",
				SourceDMI:        "/sys/class/dmi/id/product_serial: no such file"}},
		{name: "no-ethernet", board: "no-ethernet", sources: all,
			id: "GW2402A0193", source: SourceDMI,
			skipped: []Source{SourceMAC, SourceCPUSerial, SourceDeviceTree},
			reasons: map[Source]string{
				SourceMAC: `lo: virtual interface; ` +
					`wlp0s20f3: address is not permanent (addr_assign_type "3", set by software); ` +
					`wwan0: type "65534" is not Ethernet (1)`}},
		{name: "wlan-only", board: "wlan-only", sources: all,
			id: "b827eb5c117a", source: SourceMAC},
		{name: "dual-gmac", board: "rk3568-dual-gmac", sources: all,
			id: "c0742bfe0100", source: SourceMAC},
	}

	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.board] = true
		t.Run(tt.name, func(t *testing.T) {
			p := &Prober{Root: boardsDir + "/" + tt.board, Sources: tt.sources,
				Rand: fixedRand()}
			got, err := p.Probe()
			if err != nil {
				t.Fatalf("Probe(%q) failed: %v", tt.board, err)
			}
			if got.ID != tt.id {
				t.Errorf("Probe(%q).ID = %q; want %q", tt.board, got.ID, tt.id)
			}
			if got.Source != tt.source {
				t.Errorf("Probe(%q).Source = %q; want %q", tt.board,
					got.Source, tt.source)
			}
			if diff := cmp.Diff(tt.skipped, skippedSources(got)); diff != "" {
				t.Errorf("Probe(%q) skipped sources (-want +got):\n%s",
					tt.board, diff)
			}
			for _, s := range got.Skipped {
				if !strings.Contains(s.Reason, tt.reasons[s.Source]) ||
					s.Reason == "" {
					t.Errorf("Probe(%q) skip reason for %s = %q; want it to contain %q",
						tt.board, s.Source, s.Reason, tt.reasons[s.Source])
				}
			}
		})
	}

	entries, err := os.ReadDir(boardsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !covered[e.Name()] {
			t.Errorf("board tree %q has no row in this table", e.Name())
		}
	}
}

// Every source on every board yields either an error or a valid ID.
func TestProbeNeverInvalid(t *testing.T) {
	entries, err := os.ReadDir(boardsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		for _, s := range DefaultSources() {
			p := &Prober{Root: boardsDir + "/" + e.Name(),
				Sources: []Source{s}}
			got, err := p.Probe()
			if err != nil {
				if got.ID != "" {
					t.Errorf("Probe(%q, %s) = %q with error %v; want no ID",
						e.Name(), s, got.ID, err)
				}
				continue
			}
			if err := checkID(got.ID); err != nil {
				t.Errorf("Probe(%q, %s) = %q: %v", e.Name(), s, got.ID, err)
			}
		}
	}
}

func TestProbeRealRoot(t *testing.T) {
	got, err := (&Prober{}).Probe()
	if err != nil {
		t.Fatalf("Probe(%q) failed: %v", "/", err)
	}
	t.Logf("device ID of this machine: %q from %s (skipped %v)",
		got.ID, got.Source, got.Skipped)

	valid := regexp.MustCompile(`^[A-Za-z0-9:_-]{1,128}$`)
	if !valid.MatchString(got.ID) {
		t.Errorf("Probe(%q).ID = %q; want it to match %s", "/", got.ID, valid)
	}
	if !got.Source.known() {
		t.Errorf("Probe(%q).Source = %q; want a known source", "/", got.Source)
	}
}
