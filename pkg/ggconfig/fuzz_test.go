package ggconfig

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// addSeeds adds every YAML file under testdata to f's seed corpus, followed
// by the arguments extra.
func addSeeds(f *testing.F, extra ...any) {
	err := filepath.WalkDir(testdata, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}

		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f.Add(append([]any{data}, extra...)...)

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

// scalarKeys returns the dotted paths of the single values below e whose
// keys contain no dots, so that each path names one key only.
func scalarKeys(e *entry, path []string) []string {
	if e.children == nil {
		if e.value.Kind == yaml.ScalarNode {
			return []string{dotted(path)}
		}
		return nil
	}

	var keys []string
	for _, k := range e.keys {
		if k == "" || strings.Contains(k, ".") {
			continue
		}
		keys = append(keys, scalarKeys(e.children[k], at(path, k))...)
	}

	return keys
}

func FuzzEdit(f *testing.F) {
	addSeeds(f, "new-value", uint8(0))
	addSeeds(f, "a: b", uint8(3))
	for i, v := range []string{"x", "a: b", "c #d", "", "true", "two\nlines",
		"it's", "é", "[x]", "-1"} {
		f.Add([]byte(minimalFleet+"      user: 'u'\n      group: \"g\"\n"), v, uint8(i))
	}

	f.Fuzz(func(t *testing.T, data []byte, value string, pick uint8) {
		if !utf8.ValidString(value) {
			return
		}
		dir := t.TempDir()
		main := filepath.Join(dir, "config.yaml")
		path := filepath.Join(dir, "config.d", "a.yaml")
		src, err := parseSource(main, path, data)
		if err != nil {
			return
		}
		before, err := mergeAll([]*source{src})
		if err != nil {
			return
		}

		// One pick past the existing keys adds a new key instead.
		keys := scalarKeys(before.root, nil)
		key := "fuzz.added.key"
		if int(pick) < len(keys) {
			key = keys[pick]
		}
		values := map[string]string{key: value}

		p, edited, err := planEdits(main, []*source{src}, values, path)
		if err != nil {
			if strings.Contains(err.Error(), "produced invalid YAML") ||
				strings.Contains(err.Error(), "would change") {
				t.Fatalf("Plan(%q = %q) on %q: %v", key, value, data, err)
			}
			return
		}

		checkEdit(t, data, p, edited[0], before, key, value)
	})
}

// checkEdit checks that the edited file sets key to value and leaves every
// other value as it was.
func checkEdit(t *testing.T, data []byte, p *Plan, edited *source,
	before *merger, key, value string) {
	t.Helper()

	if len(p.Files) > 1 {
		t.Fatalf("Plan(%q = %q) edits %d files; want at most 1", key, value,
			len(p.Files))
	}
	if len(p.Files) == 1 {
		src, err := parseSource(edited.path, edited.path, p.Files[0].Data)
		if err != nil {
			t.Fatalf("Plan(%q = %q) on %q produced invalid YAML: %v", key, value,
				data, err)
		}
		edited = src
	}

	after, err := mergeAll([]*source{edited})
	if err != nil {
		t.Fatalf("edited file does not merge: %v", err)
	}

	old, now := flatten(before.root), flatten(after.root)
	if got := now[key]; got != "!!str "+value && oldText(lookupEntry(
		after.root, strings.Split(key, ".")).value) != value {
		t.Errorf("after Plan(%q = %q), the value is %q", key, value, got)
	}
	delete(old, key)
	delete(now, key)
	if diff := cmp.Diff(old, now); diff != "" {
		t.Errorf("Plan(%q = %q) on %q changed other values (-before +after):\n%s",
			key, value, data, diff)
	}
}
