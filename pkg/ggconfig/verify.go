package ggconfig

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// verify checks that edited, merged, gives every key of values its value and
// leaves every other value as it was in before. It catches a later file
// that overrides an edited key, and any editing mistake.
func verify(before *merger, edited []*source, values map[string]string) error {
	after, err := mergeAll(edited)
	if err != nil {
		return fmt.Errorf("the edited configuration does not merge: %w", err)
	}

	for _, key := range slices.Sorted(maps.Keys(values)) {
		e := lookupEntry(after.root, strings.Split(key, "."))
		if e != nil && e.value.Kind == yaml.ScalarNode &&
			oldText(e.value) == values[key] {
			continue
		}

		return overrideError(after.root, key, values[key])
	}

	old, now := flatten(before.root), flatten(after.root)
	for _, key := range slices.Sorted(maps.Keys(values)) {
		delete(old, key)
		delete(now, key)
	}
	for _, key := range slices.Sorted(maps.Keys(old)) {
		if old[key] != now[key] {
			return fmt.Errorf("editing the configuration would change %q from "+
				"%q to %q, so nothing was written", key, old[key], now[key])
		}
	}

	return nil
}

// overrideError reports the merged value that hides the new value of key:
// the value of key itself, or a value in place of a map on its path.
func overrideError(root *entry, key, value string) error {
	e, path := deepest(root, strings.Split(key, "."), nil)
	if e == nil {
		return fmt.Errorf("key %q is not set after the edit", key)
	}

	return &Error{File: e.src.name, Line: e.key.Line, Key: dotted(path),
		Err: fmt.Errorf("overrides the new value %q of %s with %s: remove it "+
			"or set it here", value, key, describe(e.value))}
}

// deepest returns the deepest merged entry on the dotted path segs below
// e, with its key path, or nil.
func deepest(e *entry, segs, path []string) (*entry, []string) {
	for j := len(segs); j >= 1; j-- {
		name := strings.Join(segs[:j], ".")
		child := e.children[name]
		if child == nil {
			continue
		}
		if j == len(segs) || child.children == nil {
			return child, at(path, name)
		}
		if found, p := deepest(child, segs[j:], at(path, name)); found != nil {
			return found, p
		}
		return child, at(path, name)
	}

	return nil, nil
}

// describe names a value for messages: its text, or its kind.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return fmt.Sprintf("%q", n.Value)
	}

	return kindName(n)
}

// lookupEntry returns the merged entry at the dotted path segs, trying the
// longest run of segments first at each level, or nil.
func lookupEntry(e *entry, segs []string) *entry {
	for j := len(segs); j >= 1; j-- {
		child := e.children[strings.Join(segs[:j], ".")]
		switch {
		case child == nil:
			continue
		case j == len(segs):
			return child
		case child.children != nil:
			if found := lookupEntry(child, segs[j:]); found != nil {
				return found
			}
		}
	}

	return nil
}

// flatten returns every value below e by dotted key path, as text that
// differs whenever the value differs.
func flatten(e *entry) map[string]string {
	out := map[string]string{}
	flattenInto(out, e, nil)

	return out
}

// flattenInto adds the values below e, at path, to out.
func flattenInto(out map[string]string, e *entry, path []string) {
	if e.children == nil {
		out[dotted(path)] = canonical(e.value)
		return
	}
	if len(e.keys) == 0 && e.value != nil {
		out[dotted(path)] = "{}"
	}

	for _, k := range e.keys {
		flattenInto(out, e.children[k], at(path, k))
	}
}

// canonical returns the tag and text of a scalar, or the YAML encoding of a
// list, so that two equal values give equal text.
func canonical(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Tag + " " + n.Value
	}

	data, err := yaml.Marshal(n)
	if err != nil {
		return "unencodable " + err.Error()
	}

	return string(data)
}
