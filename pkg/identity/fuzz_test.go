package identity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addBoardSeeds adds the file at rel in every board tree that has one.
func addBoardSeeds(f *testing.F, rel string) {
	f.Helper()
	boards, err := filepath.Glob(filepath.Join(boardsDir, "*", rel))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range boards {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkFuzzID fails unless id is a valid device ID with a letter or digit.
func checkFuzzID(t *testing.T, fn string, in []byte, id string) {
	t.Helper()
	if err := checkID(id); err != nil {
		t.Fatalf("%s(%q) = %q: %v", fn, in, id, err)
	}
	if !strings.ContainsFunc(id, isAlphanumeric) {
		t.Fatalf("%s(%q) = %q; want a letter or digit", fn, in, id)
	}
}

func FuzzCPUInfo(f *testing.F) {
	addBoardSeeds(f, "proc/cpuinfo")
	for _, s := range []string{"", "Serial\t\t: 0000000000000000\n",
		"Serial : 10000000ABCDEF01", "Serial\t:\nSerial: x\r\n",
		"processor: 0\nSerial    :   a b c  \n", "Serial: \x00\x01",
		"Serial:" + strings.Repeat("z", 300)} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, cpuinfo []byte) {
		c, err := cpuSerial(cpuinfo)
		id := c.id
		if err != nil {
			if id != "" {
				t.Fatalf("cpuSerial(%q) = %q with error %v", cpuinfo, id, err)
			}
			return
		}
		checkFuzzID(t, "cpuSerial", cpuinfo, id)
		if id != strings.ToLower(id) {
			t.Fatalf("cpuSerial(%q) = %q; want lower case", cpuinfo, id)
		}
		if !strings.Contains(string(cpuinfo), "Serial") {
			t.Fatalf("cpuSerial(%q) = %q without a Serial line", cpuinfo, id)
		}
	})
}

func FuzzDeviceTree(f *testing.F) {
	addBoardSeeds(f, "sys/firmware/devicetree/base/serial-number")
	for _, s := range []string{"", "\x00", "abc\x00def\x00", " 1a2b \n\x00",
		"0000\x00\x00", "\xff\xfe", "ab\x7fcd"} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, property []byte) {
		c, err := deviceTreeSerial(property)
		id := c.id
		if err != nil {
			if id != "" {
				t.Fatalf("deviceTreeSerial(%q) = %q with error %v", property,
					id, err)
			}
			return
		}
		checkFuzzID(t, "deviceTreeSerial", property, id)

		// Padding with NULs and white space must not change the value.
		padded := append([]byte(" \t"), property...)
		padded = append(padded, "\n\x00\x00"...)
		again, err := deviceTreeSerial(padded)
		if err != nil || again.id != id {
			t.Fatalf("deviceTreeSerial(%q) = %q, %v; want %q as for %q",
				padded, again.id, err, id, property)
		}
	})
}

func FuzzDMI(f *testing.F) {
	for _, field := range dmiFields {
		addBoardSeeds(f, "sys/class/dmi/id/"+field)
	}
	for _, s := range []string{"", "To be filled by O.E.M.\n",
		"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "N/A", "--------",
		"SN 12/34", "\x1b[0m"} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, field := range dmiFields {
			c, err := dmiValue(field, data)
			id := c.id
			if err != nil {
				if id != "" {
					t.Fatalf("dmiValue(%s, %q) = %q with error %v", field,
						data, id, err)
				}
				continue
			}
			checkFuzzID(t, "dmiValue", data, id)
			if field == "product_uuid" && id != strings.ToLower(id) {
				t.Fatalf("dmiValue(%s, %q) = %q; want lower case", field,
					data, id)
			}
			if err := checkPlaceholder(string(data)); err != nil {
				t.Fatalf("dmiValue(%s, %q) = %q although %v", field, data,
					id, err)
			}
		}
	})
}
