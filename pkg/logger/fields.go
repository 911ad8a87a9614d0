package logger

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
)

// pair is one flattened field: the key path (more than one element for
// fields inside a zap.Object, zap.Namespace or zap.Dict) and the value as text.
type pair struct {
	path  []string
	value string
}

// flatten turns zap fields into pairs, in field order. ns is the namespace
// opened by earlier fields (zap.Namespace), and the namespace open after
// the last field is returned with the pairs.
func flatten(ns []string, fields []zapcore.Field) ([]pair, []string) {
	var out []pair
	for _, f := range fields {
		if f.Type == zapcore.NamespaceType {
			ns = append(ns[:len(ns):len(ns)], f.Key)
			continue
		}

		enc := zapcore.NewMapObjectEncoder()
		f.AddTo(enc)
		out = appendMap(out, ns, enc.Fields)
	}
	return out, ns
}

// appendMap appends the entries of m in key order, because one zap field
// can add several keys (zap.Error adds "error" and sometimes
// "errorVerbose") and map order is random.
func appendMap(out []pair, prefix []string, m map[string]any) []pair {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	for _, k := range keys {
		path := append(prefix[:len(prefix):len(prefix)], k)
		if sub, ok := m[k].(map[string]any); ok {
			out = appendMap(out, path, sub)
			continue
		}
		out = append(out, pair{path: path, value: formatValue(m[k])})
	}
	return out
}

// formatValue renders one value stored by zapcore.MapObjectEncoder.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case time.Duration:
		return v.String()
	case []any:
		return formatArray(v)
	case map[string]any:
		return formatObject(v)
	default:
		return fmt.Sprint(v)
	}
}

func formatArray(a []any) string {
	parts := make([]string, len(a))
	for i, v := range a {
		parts[i] = formatValue(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func formatObject(m map[string]any) string {
	var parts []string
	for _, p := range appendMap(nil, nil, m) {
		parts = append(parts, strings.Join(p.path, ".")+"="+p.value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
