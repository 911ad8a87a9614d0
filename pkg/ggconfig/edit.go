package ggconfig

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Change is one value that a Plan changes in one file.
type Change struct {
	File string // path of the file, as in Config.Files
	Key  string // dotted key path
	Old  string // text of the value before, "" when the key is new or empty
	New  string // text of the value after
}

// FileEdit is the new content of one file.
type FileEdit struct {
	// Path is the file to write, named as in Config.Files, or the path of
	// a new drop-in.
	Path string
	// Data is the whole new YAML content of the file.
	Data []byte

	// Mode is the permission of the file it replaces, or 0644 for a new
	// file. UID and GID are the owner of the file it replaces, or -1 for a
	// new file. A write through a temporary file makes the writer the
	// owner, so pass them to atomicfile.WriteFileOwned to keep the owner.
	Mode     fs.FileMode
	UID, GID int
	// Create reports that the file does not exist yet and the write creates
	// it. Only a new drop-in has it set.
	Create bool
}

// Plan is a set of configuration edits, computed without writing.
type Plan struct {
	Files   []FileEdit // in merge order, the drop-in last when it is new
	Changes []Change   // sorted by key, then by file in merge order
}

// DefaultDropIn is the drop-in file, relative to the folder of config.yaml,
// that receives keys no file sets. "zz-" sorts it after other drop-ins.
const DefaultDropIn = "config.d/zz-ggl-fleetd.yaml"

// newFileMode is the permission of a new drop-in file: readable by all,
// because the Greengrass Lite services need not run as root.
const newFileMode fs.FileMode = 0o644

// Plan computes the file contents that set each dotted key path in values
// to its string value, without writing. It reads the files again, so it
// includes edits made since Load. Each key changes in every file that sets
// it, by replacing only the bytes of the value in the text, keeping its
// quoting style where the new value allows. Keys that no file sets are added to
// dropIn (DefaultDropIn when empty), a *.yaml file in config.d given as a
// path relative to the folder of config.yaml or as an absolute path; it is
// created when missing. A key already at its value changes nothing.
//
// Plan fails, as an *Error with file and line where one applies, when a
// file does not parse, when a key to set holds a map, a list or a block
// scalar, or when the merged result would not read back as the values set
// or would not pass Load's checks.
func (c *Config) Plan(values map[string]string, dropIn string) (*Plan, error) {
	dropIn, err := c.dropInPath(dropIn)
	if err != nil {
		return nil, err
	}

	err = checkValues(values)
	if err != nil {
		return nil, err
	}

	sources, err := readAll(c.Path)
	if err != nil {
		return nil, err
	}

	p, edited, err := planEdits(c.Path, sources, values, dropIn)
	if err != nil {
		return nil, err
	}

	_, err = build(c.Path, edited)
	if err != nil {
		return nil, fmt.Errorf("the edited configuration would be invalid: %w", err)
	}

	return p, fillOwners(p)
}

// Apply writes every file of p through write, for example
// atomicfile.WriteFile, and stops at the first error.
func (p *Plan) Apply(write func(path string, data []byte, perm fs.FileMode) error) error {
	for _, f := range p.Files {
		err := write(f.Path, f.Data, f.Mode)
		if err != nil {
			return fmt.Errorf("write configuration %q: %w", f.Path, err)
		}
	}

	return nil
}

// Set is Plan followed by Apply. It writes nothing when Plan fails.
func (c *Config) Set(values map[string]string, dropIn string,
	write func(path string, data []byte, perm fs.FileMode) error) ([]Change, error) {
	p, err := c.Plan(values, dropIn)
	if err != nil {
		return nil, err
	}

	return p.Changes, p.Apply(write)
}

// dropInPath resolves dropIn and checks that ggconfigd will read it.
func (c *Config) dropInPath(dropIn string) (string, error) {
	if dropIn == "" {
		dropIn = DefaultDropIn
	}
	if !filepath.IsAbs(dropIn) {
		dropIn = filepath.Join(filepath.Dir(c.Path), dropIn)
	}

	dir := dropInDir(c.Path)
	if filepath.Dir(dropIn) != dir || !strings.HasSuffix(dropIn, ".yaml") {
		return "", fmt.Errorf("drop-in %q is invalid: it must be a *.yaml file "+
			"directly in %q, where ggconfigd reads it", dropIn, dir)
	}

	return dropIn, nil
}

// checkValues rejects empty key paths and values that are not UTF-8.
func checkValues(values map[string]string) error {
	for key, v := range values {
		if key == "" || slices.Contains(strings.Split(key, "."), "") {
			return fmt.Errorf("key %q is invalid: it must be a dotted path "+
				"without empty parts", key)
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("value of %q is invalid: it must be UTF-8", key)
		}
	}

	return nil
}

// fillOwners sets the mode and owner of every edited file that exists.
func fillOwners(p *Plan) error {
	for i := range p.Files {
		f := &p.Files[i]
		if f.Create {
			continue
		}

		info, err := os.Stat(f.Path)
		if err != nil {
			return fmt.Errorf("read configuration %q: %w", f.Path, err)
		}
		f.Mode = info.Mode().Perm()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			f.UID, f.GID = int(st.Uid), int(st.Gid)
		}
	}

	return nil
}

// planEdits computes the edits of sources that set values, and returns the
// plan with the edited sources in merge order. It checks that the merged
// result reads back as values and that no other value changed.
func planEdits(main string, sources []*source, values map[string]string,
	dropIn string) (*Plan, []*source, error) {
	before, err := mergeAll(sources)
	if err != nil {
		return nil, nil, err
	}

	p := &Plan{}
	splices := map[*source][]splice{}
	var missing []string
	for _, key := range slices.Sorted(maps.Keys(values)) {
		found, err := planKey(p, splices, sources, key, values[key])
		if err != nil {
			return nil, nil, err
		}
		if !found {
			missing = append(missing, key)
		}
	}

	edited, err := applyEdits(main, p, sources, splices, missing, values, dropIn)
	if err != nil {
		return nil, nil, err
	}

	err = verify(before, edited, values)
	if err != nil {
		return nil, nil, err
	}

	slices.SortStableFunc(p.Changes, func(a, b Change) int {
		return cmp.Compare(a.Key, b.Key)
	})

	return p, edited, nil
}

// planKey adds a splice to every source that sets key, and reports whether
// any does.
func planKey(p *Plan, splices map[*source][]splice, sources []*source,
	key, value string) (bool, error) {
	found := false
	for _, src := range sources {
		_, v, parent := find(src.root, strings.Split(key, "."))
		if v == nil {
			continue
		}
		found = true

		start, end, empty, err := valueSpan(src.data, v)
		if err != nil {
			return false, &Error{File: src.name, Line: v.Line, Key: key,
				Err: fmt.Errorf("cannot set %q: %w", value, err)}
		}

		old := resolve(v)
		if !isNull(old) && old.Value == value {
			continue
		}

		text := render(value, v.Style, parent.Style&yaml.FlowStyle != 0)
		if empty {
			text = " " + text
		}
		splices[src] = append(splices[src], splice{start: start, end: end, text: text})
		p.Changes = append(p.Changes, Change{File: src.path, Key: key,
			Old: oldText(old), New: value})
	}

	return found, nil
}

// oldText returns the text of a scalar, "" for an empty value.
func oldText(n *yaml.Node) string {
	if isNull(n) {
		return ""
	}

	return n.Value
}

// find returns the key and raw value node at the dotted path segs in the
// mapping m of one file, and the mapping that contains them. Keys may
// contain dots, so each level tries the longest run of segments first. It
// does not descend through aliases, since a change there would also change
// every other user of the anchor.
func find(m *yaml.Node, segs []string) (k, v, parent *yaml.Node) {
	if !isMap(m) {
		return nil, nil, nil
	}

	for j := len(segs); j >= 1; j-- {
		name := strings.Join(segs[:j], ".")
		for i := 0; i+1 < len(m.Content); i += 2 {
			if resolve(m.Content[i]).Value != name {
				continue
			}

			raw := m.Content[i+1]
			if j == len(segs) {
				return m.Content[i], raw, m
			}
			if raw.Kind == yaml.AliasNode {
				continue
			}
			if k, v, parent := find(raw, segs[j:]); v != nil {
				return k, v, parent
			}
		}
	}

	return nil, nil, nil
}

// applyEdits applies splices and the drop-in keys, records the changed
// files in p and returns all sources after the edit, parsed again.
func applyEdits(main string, p *Plan, sources []*source,
	splices map[*source][]splice, missing []string, values map[string]string,
	dropIn string) ([]*source, error) {
	edited := slices.Clone(sources)
	for i, src := range sources {
		list := splices[src]
		if len(list) == 0 && (src.path != dropIn || len(missing) == 0) {
			continue
		}

		data, err := spliceAll(src.data, list)
		if err != nil {
			return nil, &Error{File: src.name, Err: err}
		}
		if src.path == dropIn {
			data, err = insertKeys(p, src.name, dropIn, data, missing, values)
			if err != nil {
				return nil, err
			}
		}

		edited[i], err = reparse(main, src.path, data)
		if err != nil {
			return nil, err
		}
		p.Files = append(p.Files, FileEdit{Path: src.path, Data: data})
	}

	return addNewDropIn(main, p, edited, missing, values, dropIn)
}

// addNewDropIn creates dropIn with the missing keys when no source is
// dropIn, and returns the sources with it in its merge position.
func addNewDropIn(main string, p *Plan, edited []*source, missing []string,
	values map[string]string, dropIn string) ([]*source, error) {
	if len(missing) == 0 || slices.ContainsFunc(edited, func(s *source) bool {
		return s.path == dropIn
	}) {
		return edited, nil
	}

	header := []byte("# Settings written by ggl-fleetd after provisioning.\n")
	name := displayName(main, dropIn)
	data, err := insertKeys(p, name, dropIn, header, missing, values)
	if err != nil {
		return nil, err
	}

	src, err := reparse(main, dropIn, data)
	if err != nil {
		return nil, err
	}
	p.Files = append(p.Files, FileEdit{Path: dropIn, Data: data,
		Mode: newFileMode, UID: -1, GID: -1, Create: true})

	edited = append(edited, src)
	slices.SortStableFunc(edited, func(a, b *source) int {
		return cmp.Or(cmp.Compare(boolRank(a.path != main), boolRank(b.path != main)),
			cmp.Compare(filepath.Base(a.path), filepath.Base(b.path)))
	})

	return edited, nil
}

// boolRank orders false before true.
func boolRank(b bool) int {
	if b {
		return 1
	}

	return 0
}

// reparse parses edited data; a failure is a bug in the editor.
func reparse(main, path string, data []byte) (*source, error) {
	src, err := parseSource(main, path, data)
	if err != nil {
		return nil, fmt.Errorf("editing %q produced invalid YAML, so nothing "+
			"was written: %w", path, err)
	}

	return src, nil
}

// spliceAll applies non-overlapping splices to data.
func spliceAll(data []byte, list []splice) ([]byte, error) {
	list = slices.Clone(list)
	slices.SortFunc(list, func(a, b splice) int { return a.start - b.start })

	var out []byte
	prev := 0
	for _, s := range list {
		if s.start < prev {
			return nil, errors.New("two edits overlap: set the keys one at a time")
		}
		out = append(out, data[prev:s.start]...)
		out = append(out, s.text...)
		prev = s.end
	}

	return append(out, data[prev:]...), nil
}
