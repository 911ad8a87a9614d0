package ggconfig

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// splice replaces the bytes data[start:end] with text.
type splice struct {
	start, end int
	text       string
}

// offset returns the byte offset of the 1-based line and column in data.
// yaml.v3 counts columns in characters, so the column is walked rune by rune.
func offset(data []byte, line, column int) (int, error) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return 0, fmt.Errorf("line %d is past the end of the file", line)
		}
		off += i + 1
	}

	for c := 1; c < column; c++ {
		if off >= len(data) || data[off] == '\n' {
			return 0, fmt.Errorf("column %d is past the end of line %d", column, line)
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}

	return off, nil
}

// valueSpan returns the byte range of the value node v in data, and
// whether an empty value sits right after its key's colon, so that the new
// text needs a leading space.
func valueSpan(data []byte, v *yaml.Node) (start, end int, empty bool, err error) {
	start, err = offset(data, v.Line, v.Column)
	if err != nil {
		return 0, 0, false, err
	}

	if v.Kind == yaml.AliasNode {
		return aliasSpan(data, v, start)
	}
	if v.Anchor != "" {
		return 0, 0, false, errors.New("the value has an anchor that other " +
			"keys may refer to: change it by hand")
	}
	if v.Kind != yaml.ScalarNode {
		return 0, 0, false, fmt.Errorf("the value is %s, not a single value",
			kindName(v))
	}

	start = skipTag(data, start)
	if isNull(v) && v.Value == "" {
		if start == 0 || data[start-1] != ':' {
			return 0, 0, false, errors.New("the empty value has an unexpected " +
				"layout: change it by hand")
		}
		return start, start, true, nil
	}

	end, err = scalarEnd(data, start, v)

	return start, end, false, err
}

// aliasSpan returns the range of the alias "*name" that starts at start.
func aliasSpan(data []byte, v *yaml.Node, start int) (int, int, bool, error) {
	text := "*" + v.Value
	if !bytes.HasPrefix(data[start:], []byte(text)) {
		return 0, 0, false, fmt.Errorf("alias %q not found where the parser "+
			"put it: change it by hand", text)
	}

	return start, start + len(text), false, nil
}

// skipTag skips an explicit tag such as "!!str " at start.
func skipTag(data []byte, start int) int {
	if start >= len(data) || data[start] != '!' {
		return start
	}

	for start < len(data) && data[start] != ' ' && data[start] != '\t' {
		start++
	}
	for start < len(data) && (data[start] == ' ' || data[start] == '\t') {
		start++
	}

	return start
}

// scalarEnd returns the offset just past the scalar v that starts at start.
func scalarEnd(data []byte, start int, v *yaml.Node) (int, error) {
	switch v.Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle |
		yaml.LiteralStyle | yaml.FoldedStyle) {
	case yaml.DoubleQuotedStyle:
		return quotedEnd(data, start, '"')
	case yaml.SingleQuotedStyle:
		return quotedEnd(data, start, '\'')
	case 0:
		// A plain scalar on one line is its own text; one that folds over
		// several lines is not.
		if !bytes.HasPrefix(data[start:], []byte(v.Value)) ||
			strings.ContainsAny(v.Value, "\n") {
			return 0, errors.New("the value spans several lines, which ggl-fleetd does not rewrite: write it on one line, for example \"\"")
		}
		return start + len(v.Value), nil
	}

	return 0, errors.New("the value is a block scalar (| or >), which ggl-fleetd does not rewrite: write it on one line, for example \"\"")
}

// quotedEnd returns the offset just past the quoted scalar at start. In a
// double-quoted scalar a backslash escapes the next byte; in a
// single-quoted one a quote is escaped by doubling it.
func quotedEnd(data []byte, start int, quote byte) (int, error) {
	if start >= len(data) || data[start] != quote {
		return 0, errors.New("the quoted value is not where the parser put it: " +
			"change it by hand")
	}

	for i := start + 1; i < len(data); i++ {
		switch {
		case quote == '"' && data[i] == '\\':
			i++
		case data[i] == quote && quote == '\'' && i+1 < len(data) &&
			data[i+1] == '\'':
			i++
		case data[i] == quote:
			return i + 1, nil
		}
	}

	return 0, errors.New("the quoted value has no closing quote")
}

// render writes value for a place that used style: double-quoted stays
// double-quoted, single-quoted stays single-quoted unless value cannot be
// written so, and plain stays plain when that reads back as the same
// string, else it becomes double-quoted. flow is true inside { } or [ ].
func render(value string, style yaml.Style, flow bool) string {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return strconv.Quote(value)
	case style&yaml.SingleQuotedStyle != 0 && singleSafe(value):
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	case style&yaml.SingleQuotedStyle == 0 && plainSafe(value, flow):
		return value
	}

	return strconv.Quote(value)
}

// singleSafe reports whether value can be single-quoted on one line.
func singleSafe(value string) bool {
	return strings.IndexFunc(value, func(c rune) bool { return !unicode.IsPrint(c) }) < 0
}

// plainSafe reports whether value can be written unquoted and read back as
// the same string: no indicator at the start, no ": " or " #", no flow
// indicators inside { } or [ ], and no text that YAML reads as a number,
// boolean or null.
func plainSafe(value string, flow bool) bool {
	if value == "" || value != strings.TrimSpace(value) || !singleSafe(value) ||
		strings.ContainsAny(value[:1], "-?:,[]{}#&*!|>'\"%@`") ||
		strings.Contains(value, ": ") || strings.Contains(value, " #") ||
		strings.HasSuffix(value, ":") || flow && strings.ContainsAny(value, ",[]{}") {
		return false
	}

	var n yaml.Node
	err := yaml.Unmarshal([]byte("k: "+value), &n)
	if err != nil || len(n.Content) == 0 || len(n.Content[0].Content) != 2 {
		return false
	}
	v := n.Content[0].Content[1]

	return v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == value
}
