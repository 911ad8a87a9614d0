package identity

// dmiFields are the SMBIOS fields tried in order, as named in
// /sys/class/dmi/id. The kernel makes the serials and the UUID readable by
// root only.
var dmiFields = []string{"product_serial", "board_serial", "product_uuid"}

func probeDMI(t *tree) (candidate, error) {
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
	return candidate{}, failures
}

// dmiValue returns the ID in the content of a DMI field file. The UUID is
// lower-cased because firmware and tools disagree on its case.
func dmiValue(field string, data []byte) (candidate, error) {
	if field == "product_uuid" {
		return finishLower(string(data))
	}
	return finishValue(string(data))
}
