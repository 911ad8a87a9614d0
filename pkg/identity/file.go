package identity

import (
	"strings"
)

func probeFile(t *tree, name string) (string, error) {
	data, err := t.readFile(strings.TrimPrefix(name, "/"), maxAttrLen)
	if err != nil {
		return "", err
	}
	return fileValue(data)
}

// fileValue returns the ID on the first line of a device ID file.
func fileValue(data []byte) (string, error) {
	line, _, _ := strings.Cut(string(data), "\n")
	return finishValue(strings.TrimSpace(line))
}
