package ggconfig

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Load reads the configuration the way ggconfigd does: the file path
// (DefaultPath when empty), then every *.yaml file in the config.d folder
// beside it in lexical order, and merges them as the package documentation
// describes. Either part may be missing, but not both.
//
// All invalid values are reported at once, joined with errors.Join. Each is
// an *Error naming the file, the line and the key. Read errors are returned
// as they are, wrapped.
func Load(path string) (*Config, error) {
	if path == "" {
		path = DefaultPath
	}

	sources, err := readAll(path)
	if err != nil {
		return nil, err
	}

	return build(path, sources)
}

// readAll reads and parses path and its drop-in files, reporting every file
// that fails.
func readAll(path string) ([]*source, error) {
	paths, err := findFiles(path)
	if err != nil {
		return nil, err
	}

	var sources []*source
	var errs []error
	for _, p := range paths {
		src, err := readSource(path, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sources = append(sources, src)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	return sources, nil
}

// findFiles lists path, when it exists, and the *.yaml files of config.d.
func findFiles(path string) ([]string, error) {
	var paths []string
	_, err := os.Stat(path)
	switch {
	case err == nil:
		paths = append(paths, path)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read configuration %q: %w", path, err)
	}

	dropIns, err := findDropIns(path)
	if err != nil {
		return nil, err
	}
	paths = append(paths, dropIns...)

	if len(paths) == 0 {
		return nil, fmt.Errorf("no configuration found: neither %q nor any *.yaml "+
			"file in %q exists: install the Greengrass Lite configuration",
			path, dropInDir(path))
	}

	return paths, nil
}

// dropInDir returns the config.d folder beside path.
func dropInDir(path string) string {
	return filepath.Join(filepath.Dir(path), "config.d")
}

// findDropIns lists the *.yaml files in config.d in lexical order. Other
// names, and folders whose name ends in .yaml, are left out.
func findDropIns(path string) ([]string, error) {
	dir := dropInDir(path)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read configuration folder %q: %w", dir, err)
	}

	var paths []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}

		p := filepath.Join(dir, e.Name())
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read configuration %q: %w", p, err)
		}
		if info.Mode().IsRegular() {
			paths = append(paths, p)
		}
	}
	slices.SortFunc(paths, func(a, b string) int {
		return cmp.Compare(filepath.Base(a), filepath.Base(b))
	})

	return paths, nil
}

// readSource reads and parses one file. File names in messages are relative
// to the folder of main, the config.yaml path.
func readSource(main, path string) (*source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration %q: %w", path, err)
	}

	return parseSource(main, path, data)
}

// parseSource parses data, the content of path.
func parseSource(main, path string, data []byte) (*source, error) {
	src := &source{path: path, name: displayName(main, path), data: data}
	root, err := parse(src.name, data)
	if err != nil {
		return nil, err
	}
	src.root = root

	return src, nil
}

// displayName returns path relative to the folder of main when it is inside
// that folder, else path unchanged.
func displayName(main, path string) string {
	rel, err := filepath.Rel(filepath.Dir(main), path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return path
	}

	return rel
}

// build merges the parsed sources and reads the settings from the result.
func build(path string, sources []*source) (*Config, error) {
	m, err := mergeAll(sources)
	if err != nil {
		return nil, err
	}

	c := &Config{Path: path, sources: sources, defs: m.defs}
	for _, src := range sources {
		c.Files = append(c.Files, src.path)
	}

	r := &reader{cfg: c, root: m.root, reported: map[string]bool{}}
	r.readSystem()
	r.readNucleus()
	r.readFleet()
	c.Unknown = unknownKeys(sources)
	if len(r.errs) > 0 {
		sortErrors(r.errs, sources)
		return nil, errors.Join(r.errs...)
	}

	return c, nil
}

// mergeAll merges sources in order, reporting every file that fails.
func mergeAll(sources []*source) (*merger, error) {
	m := newMerger()
	var errs []error
	for _, src := range sources {
		err := m.add(src)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	return m, nil
}

// sortErrors orders errs, all *Error, by file in merge order, then by line.
func sortErrors(errs []error, sources []*source) {
	order := map[string]int{}
	for i, src := range sources {
		order[src.name] = i
	}

	slices.SortStableFunc(errs, func(a, b error) int {
		ea, eb := a.(*Error), b.(*Error)
		return cmp.Or(cmp.Compare(order[ea.File], order[eb.File]),
			cmp.Compare(ea.Line, eb.Line))
	})
}
