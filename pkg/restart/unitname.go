package restart

import (
	"fmt"
	"strings"
)

// maxUnitName is the longest unit name systemd accepts (UNIT_NAME_MAX).
const maxUnitName = 255

// unitTypes are the unit type suffixes that systemd defines.
var unitTypes = []string{
	".service", ".socket", ".target", ".device", ".mount", ".automount",
	".swap", ".path", ".timer", ".slice", ".scope",
}

// validateUnitName checks that name is a full unit name such as
// "greengrass-lite.target": a prefix of the characters systemd allows
// ([A-Za-z0-9:_.\\-], with '@' for templates) and a known type suffix.
func validateUnitName(name string) error {
	if len(name) > maxUnitName {
		return fmt.Errorf("invalid unit name %q: longer than %d bytes",
			name, maxUnitName)
	}

	prefix, ok := cutTypeSuffix(name)
	if !ok || prefix == "" {
		return fmt.Errorf(
			"invalid unit name %q: want NAME.TYPE such as greengrass-lite.target",
			name)
	}

	for _, r := range prefix {
		if !isUnitNameChar(r) {
			return fmt.Errorf("invalid unit name %q: character %q is not allowed",
				name, r)
		}
	}
	return nil
}

func cutTypeSuffix(name string) (string, bool) {
	for _, t := range unitTypes {
		if prefix, ok := strings.CutSuffix(name, t); ok {
			return prefix, true
		}
	}
	return "", false
}

func isUnitNameChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	default:
		return strings.ContainsRune(":_.\\-@", r)
	}
}
