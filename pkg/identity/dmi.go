package identity

import (
	"strings"
)

// dmiFields are the SMBIOS fields tried in order, as named in
// /sys/class/dmi/id. The kernel makes the serials and the UUID readable by
// root only.
var dmiFields = []string{"product_serial", "board_serial", "product_uuid"}

func probeDMI(t *tree) (string, error) {
	var failures reasons
	for _, field := range dmiFields {
		data, err := t.readFile("sys/class/dmi/id/"+field, maxAttrLen)
		if err != nil {
			failures = append(failures, err)
			continue
		}

		id, err := dmiValue(field, data)
		if err != nil {
			failures = append(failures, &absentError{msg: field + ": " +
				err.Error()})
			continue
		}
		return id, nil
	}
	return "", failures
}

// dmiValue returns the ID in the content of a DMI field file. The UUID is
// lower-cased because firmware and tools disagree on its case.
func dmiValue(field string, data []byte) (string, error) {
	s := strings.TrimSpace(string(data))
	if field == "product_uuid" {
		s = strings.ToLower(s)
	}
	return finishValue(s)
}
