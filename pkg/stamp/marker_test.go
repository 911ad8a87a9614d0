package stamp

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReprovisionMarker(t *testing.T) {
	stateDir, s := provisioned(t)
	err := Write(stateDir, s)
	if err != nil {
		t.Fatal(err)
	}

	assertPending(t, stateDir, false)

	err = MarkReprovision(stateDir)
	if err != nil {
		t.Fatalf("MarkReprovision() = %v", err)
	}
	assertPending(t, stateDir, true)

	// The old stamp still holds while the request is pending.
	_, err = Check(stateDir)
	if err != nil {
		t.Errorf("Check() with a pending request = %v; want the old stamp valid", err)
	}

	err = ClearReprovision(stateDir)
	if err != nil {
		t.Fatalf("ClearReprovision() = %v", err)
	}
	assertPending(t, stateDir, false)

	err = ClearReprovision(stateDir)
	if err != nil {
		t.Errorf("ClearReprovision() without a marker = %v; want nil", err)
	}
}

// TestReprovisionNewStampCommits checks that a crash between writing the new
// stamp and removing the marker does not provision the device again.
func TestReprovisionNewStampCommits(t *testing.T) {
	stateDir, old := provisioned(t)
	err := Write(stateDir, old)
	if err != nil {
		t.Fatal(err)
	}
	err = MarkReprovision(stateDir)
	if err != nil {
		t.Fatal(err)
	}

	_, s := provisioned(t)
	err = Write(stateDir, s)
	if err != nil {
		t.Fatal(err)
	}

	assertPending(t, stateDir, false)
}

func TestReprovisionWithoutStamp(t *testing.T) {
	stateDir := t.TempDir()

	err := MarkReprovision(stateDir)
	if err != nil {
		t.Fatalf("MarkReprovision() = %v", err)
	}
	assertPending(t, stateDir, true)

	_, s := provisioned(t)
	err = Write(stateDir, s)
	if err != nil {
		t.Fatal(err)
	}
	assertPending(t, stateDir, false)
}

func TestReprovisionTouchedMarker(t *testing.T) {
	stateDir, s := provisioned(t)
	err := Write(stateDir, s)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(stateDir, MarkerName), nil)

	assertPending(t, stateDir, true)
}

func TestMarkReprovisionMode(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")

	err := MarkReprovision(stateDir)
	if err != nil {
		t.Fatalf("MarkReprovision(%q) = %v", stateDir, err)
	}

	info, err := os.Stat(filepath.Join(stateDir, MarkerName))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o644 {
		t.Errorf("marker mode = %v; want 0644", got)
	}
}

func assertPending(t *testing.T, stateDir string, want bool) {
	t.Helper()
	got, err := Reprovision(stateDir)
	if err != nil {
		t.Fatalf("Reprovision() = %v", err)
	}
	if got != want {
		t.Errorf("Reprovision() = %v; want %v", got, want)
	}
}
