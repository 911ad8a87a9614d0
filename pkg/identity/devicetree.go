package identity

import (
	"strings"
	"unicode"
)

// deviceTreeSerialPaths are tried in order. /sys/firmware/devicetree/base is
// the kernel's own view; /proc/device-tree is a link to it on current
// kernels and a directory of its own only on old ones.
var deviceTreeSerialPaths = []string{
	"sys/firmware/devicetree/base/serial-number",
	"proc/device-tree/serial-number",
}

func probeDeviceTree(t *tree) (candidate, error) {
	var failures reasons
	for _, name := range deviceTreeSerialPaths {
		data, err := t.readFile(name, maxAttrLen)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		return deviceTreeSerial(data)
	}
	return candidate{}, failures
}

// deviceTreeSerial returns the ID in the content of a serial-number property:
// a string that ends in NUL, sometimes padded with more NULs or white space.
func deviceTreeSerial(property []byte) (candidate, error) {
	s := strings.TrimRightFunc(string(property), func(c rune) bool {
		return c == 0 || unicode.IsSpace(c)
	})
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	return finishValue(s)
}
