package ggconfig

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds every YAML file under testdata to f's seed corpus.
func addSeeds(f *testing.F) {
	err := filepath.WalkDir(testdata, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}

		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f.Add(data)

		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
}

func FuzzLoad(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(minimalFleet))

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "config.yaml")
		err := os.WriteFile(path, data, 0o644)
		if err != nil {
			t.Fatal(err)
		}

		c, err := Load(path)
		if err == nil {
			if c.DataEndpoint() == "" || c.Fleet.TemplateName == "" {
				t.Errorf("Load(%q) succeeded without endpoint or template", data)
			}
			return
		}

		for _, e := range configErrors(t, err) {
			if e.File != "config.yaml" {
				t.Errorf("Load(%q) error %q names file %q; want config.yaml",
					data, e, e.File)
			}
			if e.Line <= 0 && !errors.Is(e, ErrMissing) {
				t.Errorf("Load(%q) error %q has no line", data, e)
			}
		}
	})
}
