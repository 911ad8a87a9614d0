package identity

import (
	"strings"
)

// maxCPUInfoLen bounds the read of /proc/cpuinfo. The Serial line comes last
// on ARM, after one block per core. An ARM block is under 300 bytes and an
// x86 one, with its long flags line, about 1.5 KiB, so 4 MiB covers well
// over two thousand cores.
const maxCPUInfoLen = 4 << 20

func probeCPUSerial(t *tree) (candidate, error) {
	data, err := t.readFile("proc/cpuinfo", maxCPUInfoLen)
	if err != nil {
		return candidate{}, err
	}
	return cpuSerial(data)
}

// cpuSerial returns the lower-cased value of the first non-empty Serial line
// of /proc/cpuinfo content. The line may sit anywhere, and its key may be
// followed by tabs or spaces before the colon.
func cpuSerial(cpuinfo []byte) (candidate, error) {
	found := false
	for line := range strings.Lines(string(cpuinfo)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(key) != "Serial" {
			continue
		}

		found = true
		value = strings.TrimSpace(value)
		if value != "" {
			return finishLower(value)
		}
	}

	if found {
		return candidate{}, absentf("Serial line in /proc/cpuinfo is empty")
	}
	return candidate{}, absentf("no Serial line in /proc/cpuinfo")
}
