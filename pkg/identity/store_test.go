package identity

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	in := Result{ID: "dca6324b7e10", Source: SourceMAC,
		Skipped: []Skip{{Source: SourceFile, Reason: "x"}}}

	if err := Store(dir, in); err != nil {
		t.Fatalf("Store() failed: %v", err)
	}
	got, ok, err := LoadStored(dir)
	if err != nil || !ok {
		t.Fatalf("LoadStored() = %v, %v; want the stored ID", ok, err)
	}

	want := Result{ID: "dca6324b7e10", Source: SourceMAC, Stored: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadStored() (-want +got):\n%s", diff)
	}
	name := filepath.Join(dir, "device-id")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"id":"dca6324b7e10","source":"mac"}`+"\n" {
		t.Errorf("device-id file = %q; want the ID and source as JSON", data)
	}
	info, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("device-id mode = %v; want 0644", info.Mode().Perm())
	}
}

func TestLoadStoredMissing(t *testing.T) {
	got, ok, err := LoadStored(t.TempDir())
	if err != nil || ok || got.ID != "" {
		t.Errorf("LoadStored(empty dir) = %+v, %v, %v; want nothing, no error",
			got, ok, err)
	}
}

func TestLoadStoredInvalid(t *testing.T) {
	tests := []struct {
		name, content, reason string
	}{
		{name: "empty", content: "", reason: "file is empty"},
		{name: "blank", content: " \n", reason: "file is empty"},
		{name: "truncated", content: `{"id":"dca63`, reason: "decode JSON"},
		{name: "not-json", content: "dca6324b7e10\n", reason: "decode JSON"},
		{name: "no-id", content: `{"source":"mac"}`,
			reason: "device ID is empty"},
		{name: "bad-char", content: `{"id":"a/etc","source":"mac"}`,
			reason: `contains '/'`},
		{name: "too-long", content: `{"id":"` + strings.Repeat("a", 129) +
			`","source":"mac"}`, reason: "more than 128"},
		{name: "unknown-source", content: `{"id":"ab12","source":"bios"}`,
			reason: `unknown device ID source "bios"`},
		{name: "trailing-data", content: `{"id":"ab12","source":"mac"}{}`,
			reason: "data after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "device-id")
			if err := os.WriteFile(name, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}

			got, ok, err := LoadStored(dir)
			if err == nil {
				t.Fatalf("LoadStored(%q) = %+v, %v; want an error",
					tt.content, got, ok)
			}
			for _, want := range []string{tt.reason, name,
				"ggl-fleetd reprovision --new-identity"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("LoadStored(%q) error = %q; want it to contain %q",
						tt.content, err, want)
				}
			}
		})
	}
}

func TestStoreRejectsInvalid(t *testing.T) {
	tests := []struct {
		name string
		r    Result
	}{
		{name: "empty-id", r: Result{Source: SourceMAC}},
		{name: "bad-char", r: Result{ID: "a b", Source: SourceMAC}},
		{name: "no-source", r: Result{ID: "ab12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Store(dir, tt.r); err == nil {
				t.Errorf("Store(%+v) succeeded; want an error", tt.r)
			}
			if _, err := os.Stat(filepath.Join(dir, "device-id")); err == nil {
				t.Errorf("Store(%+v) wrote device-id; want no file", tt.r)
			}
		})
	}
}

// A generated ID is generated once: later calls return the stored one, not
// a new random value.
func TestResolveGeneratesOnce(t *testing.T) {
	root := newRoot(t)
	state := t.TempDir()

	first, err := Resolve(&Prober{Root: root.dir, Rand: fixedRand()}, state)
	if err != nil {
		t.Fatalf("Resolve() failed: %v", err)
	}
	if first.ID != fixedGenerated || first.Stored {
		t.Errorf("first Resolve() = %q, stored %v; want %q, not stored",
			first.ID, first.Stored, fixedGenerated)
	}

	other := bytes.NewReader(bytes.Repeat([]byte{0xab}, 16))
	second, err := Resolve(&Prober{Root: root.dir, Rand: other}, state)
	if err != nil {
		t.Fatalf("Resolve() failed: %v", err)
	}
	want := Result{ID: fixedGenerated, Source: SourceGenerated, Stored: true}
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("second Resolve() (-want +got):\n%s", diff)
	}
	if other.Len() != 16 {
		t.Errorf("second Resolve() read %d random bytes; want 0",
			16-other.Len())
	}
}

// Once stored, the ID survives a renamed interface and a replaced NIC.
func TestResolveKeepsIDAfterHardwareChange(t *testing.T) {
	r := copyBoard(t, "imx8")
	state := t.TempDir()
	before, err := Resolve(&Prober{Root: r.dir}, state)
	if err != nil {
		t.Fatal(err)
	}

	r.rename("end0", "eth0")
	r.file("sys/devices/platform/soc@0/30800000.bus/30be0000.ethernet/net/"+
		"eth0/address", "00:04:9f:99:99:99\n")
	probed, err := (&Prober{Root: r.dir}).Probe()
	if err != nil {
		t.Fatal(err)
	}
	if probed.ID == before.ID {
		t.Fatalf("Probe() after the NIC change = %q; want a different MAC",
			probed.ID)
	}

	after, err := Resolve(&Prober{Root: r.dir}, state)
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != before.ID || !after.Stored {
		t.Errorf("Resolve() after the NIC change = %q, stored %v; want %q, "+
			"stored", after.ID, after.Stored, before.ID)
	}
}

func TestResolveCorruptFileKept(t *testing.T) {
	state := t.TempDir()
	name := filepath.Join(state, "device-id")
	if err := os.WriteFile(name, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	got, err := Resolve(&Prober{Root: newRoot(t).dir}, state)
	if err == nil {
		t.Fatalf("Resolve() = %q; want an error for the empty file", got.ID)
	}
	data, err := os.ReadFile(name)
	if err != nil || len(data) != 0 {
		t.Errorf("device-id after Resolve() = %q, %v; want it left empty",
			data, err)
	}
}

func TestResolveProbeFails(t *testing.T) {
	state := t.TempDir()
	p := &Prober{Root: newRoot(t).dir, Sources: []Source{SourceDMI}}

	if _, err := Resolve(p, state); err == nil {
		t.Fatal("Resolve() succeeded without a usable source; want an error")
	}
	if _, ok, _ := LoadStored(state); ok {
		t.Error("Resolve() stored an ID although the probe failed")
	}
}

func TestResolveConcurrent(t *testing.T) {
	root := newRoot(t).dir
	state := filepath.Join(t.TempDir(), "state")
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := Resolve(&Prober{Root: root}, state)
			ids[i], errs[i] = r.ID, err
		}()
	}
	wg.Wait()

	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Resolve() #%d failed: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("Resolve() #%d = %q; want %q like #0", i, ids[i], ids[0])
		}
	}
}

func TestDiscard(t *testing.T) {
	state := t.TempDir()
	root := newRoot(t).dir
	first, err := Resolve(&Prober{Root: root}, state)
	if err != nil {
		t.Fatal(err)
	}

	if err := Discard(state); err != nil {
		t.Fatalf("Discard() failed: %v", err)
	}
	if _, ok, err := LoadStored(state); ok || err != nil {
		t.Errorf("LoadStored() after Discard() = %v, %v; want nothing", ok, err)
	}
	if err := Discard(state); err != nil {
		t.Errorf("Discard() of a missing file failed: %v", err)
	}

	second, err := Resolve(&Prober{Root: root}, state)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID || second.Stored {
		t.Errorf("Resolve() after Discard() = %q, stored %v; want a new ID",
			second.ID, second.Stored)
	}
}
