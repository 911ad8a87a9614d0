package identity

import (
	"strings"
)

func probeFile(t *tree, name string) (candidate, error) {
	data, err := t.readFile(strings.TrimPrefix(name, "/"), maxAttrLen)
	if err != nil {
		return candidate{}, err
	}
	return fileValue(data)
}

// fileValue returns the ID on the first line of a device ID file. The line
// may start with a byte order mark and end in CR LF.
func fileValue(data []byte) (candidate, error) {
	line, _, _ := strings.Cut(string(data), "\n")
	return finishValue(line)
}
