package identity

import (
	"errors"
	"strings"
	"testing"
)

func TestCPUSerial(t *testing.T) {
	pi := "processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\n" +
		"Revision\t: c03114\nSerial\t\t: 10000000E3A4B5C6\nModel\t\t: Raspberry Pi 4\n"
	tests := []struct {
		name    string
		cpuinfo string
		want    string // "" means absent
		reason  string
	}{
		{name: "pi-with-model-after", cpuinfo: pi, want: "10000000e3a4b5c6"},
		{name: "last-line-no-newline",
			cpuinfo: "processor\t: 0\nSerial\t\t: 00000000abcd1234",
			want:    "00000000abcd1234"},
		{name: "first-line", cpuinfo: "Serial: 1234abcd\nprocessor: 0\n",
			want: "1234abcd"},
		{name: "spaces", cpuinfo: "Serial          : 5a5b5c5d\n",
			want: "5a5b5c5d"},
		{name: "tab-and-space", cpuinfo: "Serial \t : 5a5b5c5d \n",
			want: "5a5b5c5d"},
		{name: "crlf", cpuinfo: "Serial\t: 5a5b5c5d\r\n", want: "5a5b5c5d"},
		{name: "indented-key", cpuinfo: "  Serial : 77aa\n", want: "77aa"},
		{name: "empty-then-real", cpuinfo: "Serial\t:\nSerial\t: 88bb\n",
			want: "88bb"},
		{name: "missing", cpuinfo: "processor\t: 0\nmodel name\t: x\n",
			reason: "no Serial line"},
		{name: "empty-file", cpuinfo: "", reason: "no Serial line"},
		{name: "empty-value", cpuinfo: "Serial\t\t: \n",
			reason: "Serial line in /proc/cpuinfo is empty"},
		{name: "zeros", cpuinfo: "Serial\t\t: 0000000000000000\n",
			reason: "is all zeros"},
		{name: "ones-f", cpuinfo: "Serial\t\t: FFFFFFFFFFFFFFFF\n",
			reason: "repeats one character"},
		{name: "lower-case-key", cpuinfo: "serial\t: 1234\n",
			reason: "no Serial line"},
		{name: "longer-key", cpuinfo: "Serial Number\t: 1234\n",
			reason: "no Serial line"},
		{name: "no-colon", cpuinfo: "Serial 1234\n", reason: "no Serial line"},
		{name: "control-byte", cpuinfo: "Serial\t: 12\x0134\n",
			reason: "non-printable byte 0x01"},
		{name: "invalid-utf8", cpuinfo: "Serial\t: 12\xc034\n",
			reason: "non-printable byte 0xc0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cpuSerial([]byte(tt.cpuinfo))
			checkValue(t, "cpuSerial", tt.cpuinfo, got.id, err, tt.want, tt.reason)
		})
	}
}

func TestDeviceTreeSerial(t *testing.T) {
	tests := []struct {
		name     string
		property string
		want     string
		reason   string
	}{
		{name: "nul-terminated", property: "0a1b2c3d4e5f6071\x00",
			want: "0a1b2c3d4e5f6071"},
		{name: "nul-padded", property: "0a1b2c3d\x00\x00\x00\x00",
			want: "0a1b2c3d"},
		{name: "no-nul", property: "0a1b2c3d", want: "0a1b2c3d"},
		{name: "newline-then-nul", property: " 0a1b2c3d\n\x00",
			want: "0a1b2c3d"},
		{name: "upper-case-kept", property: "RKRN4MQ8XM\x00",
			want: "RKRN4MQ8XM"},
		{name: "string-list", property: "abc\x00def\x00",
			reason: "non-printable byte 0x00"},
		{name: "control-inside", property: "ab\x07cd\x00",
			reason: "non-printable byte 0x07"},
		{name: "only-nul", property: "\x00", reason: "blank"},
		{name: "empty", property: "", reason: "blank"},
		{name: "zeros", property: "0000000000000000\x00",
			reason: "all zeros"},
		{name: "placeholder", property: "0123456789\x00",
			reason: "firmware placeholder"},
		{name: "binary-cell", property: "\x12\x34\x56\x78",
			reason: "non-printable byte 0x12"},
		{name: "two-invalid-bytes", property: "\xff\xfe",
			reason: "contains a non-printable byte 0xff"},
		{name: "invalid-byte-inside", property: "AB\xffCD\x00",
			reason: "contains a non-printable byte 0xff"},
		{name: "del", property: "AB\x7fCD\x00",
			reason: "contains a non-printable byte 0x7f"},
		{name: "c1-control", property: "AB\u0085CD\x00",
			reason: "contains a non-printable character U+0085"},
		{name: "zero-width-space", property: "AB\u200bCD\x00",
			reason: "contains a non-printable character U+200B"},
		{name: "repeated-printable-non-ascii", property: "\u00ff\u00ff\x00",
			reason: "repeats one character"},
		{name: "byte-order-mark", property: "\ufeffRKRN4MQ8XM\x00",
			want: "RKRN4MQ8XM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := deviceTreeSerial([]byte(tt.property))
			checkValue(t, "deviceTreeSerial", tt.property, got.id, err, tt.want,
				tt.reason)
		})
	}
}

func TestDMIValue(t *testing.T) {
	tests := []struct {
		name   string
		field  string
		value  string
		want   string
		reason string
	}{
		{name: "serial", field: "product_serial", value: "7XK2B13\n",
			want: "7XK2B13"},
		{name: "serial-spaces-inside", field: "product_serial",
			value: "SN 1234 AB\n", want: "SN_1234_AB"},
		{name: "uuid-lower-cased", field: "product_uuid",
			value: "6F1E3C52-8A4B-4F2E-9B1D-2C5E7A9F0B13\n",
			want:  "6f1e3c52-8a4b-4f2e-9b1d-2c5e7a9f0b13"},
		{name: "serial-case-kept", field: "board_serial", value: "Ab12Cd",
			want: "Ab12Cd"},
		{name: "byte-order-mark", field: "product_serial",
			value: "\ufeff 7XK2B13 \n", want: "7XK2B13"},
		{name: "uuid-invalid-utf8", field: "product_uuid",
			value:  "6F1E3C52-8A4B-4F2E-9B1D-2C5E7A9F0B1\xc0\n",
			reason: "non-printable byte 0xc0"},
		{name: "uuid-byte-order-mark", field: "product_uuid",
			value: "\ufeff6F1E3C52-8A4B-4F2E-9B1D-2C5E7A9F0B13\n",
			want:  "6f1e3c52-8a4b-4f2e-9b1d-2c5e7a9f0b13"},
		{name: "uuid-zero", field: "product_uuid",
			value:  "00000000-0000-0000-0000-000000000000\n",
			reason: "all zeros"},
		{name: "uuid-all-f", field: "product_uuid",
			value:  "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF\n",
			reason: "repeats one character"},
		{name: "uuid-ami", field: "product_uuid",
			value:  "03000200-0400-0500-0006-000700080009\n",
			reason: "firmware placeholder"},
		{name: "uuid-sequence", field: "product_uuid",
			value:  "00010203-0405-0607-0809-0A0B0C0D0E0F\n",
			reason: "firmware placeholder"},
		{name: "blank", field: "product_serial", value: "   \n",
			reason: "blank"},
		{name: "empty", field: "product_serial", value: "", reason: "blank"},
		{name: "repeated-x", field: "board_serial", value: "XXXXXXXXXX",
			reason: "repeats one character"},
		{name: "repeated-dots", field: "board_serial", value: "........",
			reason: "repeats one character"},
		{name: "control", field: "board_serial", value: "AB\x1bCD",
			reason: "non-printable byte 0x1b"},
		{name: "non-ascii-only", field: "product_serial", value: "äöü",
			reason: "no ASCII letters or digits"},
	}
	for _, p := range []string{
		"To be filled by O.E.M.", "To Be Filled By O.E.M.", "Default string",
		"DEFAULT STRING", "System Serial Number", "Not Specified",
		"Not Applicable", "None", "N/A", "Unknown", "0123456789", "123456789",
		"1234567890", "Not Present", "Not Settable", "  not   specified  ",
		"Chassis Serial Number", "Base Board Serial Number",
	} {
		tests = append(tests, struct {
			name   string
			field  string
			value  string
			want   string
			reason string
		}{name: "placeholder-" + strings.ReplaceAll(strings.TrimSpace(p), " ", "-"),
			field: "product_serial", value: p + "\n",
			reason: "is a firmware placeholder"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dmiValue(tt.field, []byte(tt.value))
			checkValue(t, "dmiValue", tt.value, got.id, err, tt.want, tt.reason)
		})
	}
}

func TestFileValue(t *testing.T) {
	tests := []struct {
		name, data, want, reason string
	}{
		{name: "first-line", data: "FAB-2024-000117\nbatch 7\n",
			want: "FAB-2024-000117"},
		{name: "trimmed", data: "  FAB-1 \r\n", want: "FAB-1"},
		{name: "no-newline", data: "FAB-2", want: "FAB-2"},
		{name: "empty", data: "", reason: "blank"},
		{name: "empty-first-line", data: "\nFAB-3\n", reason: "blank"},
		{name: "placeholder", data: "Default string\n",
			reason: "firmware placeholder"},
		{name: "byte-order-mark", data: "\xef\xbb\xbfFAB-4\r\n",
			want: "FAB-4"},
		{name: "byte-order-mark-then-space", data: "\xef\xbb\xbf  FAB-5 \n",
			want: "FAB-5"},
		{name: "space-then-byte-order-mark", data: " \xef\xbb\xbfFAB-6\n",
			want: "FAB-6"},
		{name: "byte-order-mark-only", data: "\xef\xbb\xbf\r\nFAB-7\n",
			reason: "blank"},
		{name: "byte-order-mark-inside", data: "FAB\xef\xbb\xbf8\n",
			reason: "non-printable character U+FEFF"},
		{name: "utf16-le", data: "\xff\xfeF\x00A\x00B\x00",
			reason: "non-printable byte 0xff"},
		{name: "replaced", data: "SN-12/34\n", want: "SN-12_34"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fileValue([]byte(tt.data))
			checkValue(t, "fileValue", tt.data, got.id, err, tt.want, tt.reason)
		})
	}
}

func checkValue(t *testing.T, fn, in, got string, err error, want,
	reason string) {
	t.Helper()
	if want != "" {
		if err != nil || got != want {
			t.Errorf("%s(%q) = %q, %v; want %q", fn, in, got, err, want)
		}
		return
	}
	if err == nil {
		t.Fatalf("%s(%q) = %q; want absent (%s)", fn, in, got, reason)
	}
	if !errors.Is(err, errAbsent) {
		t.Errorf("%s(%q) error %v does not match errAbsent", fn, in, err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("%s(%q) error = %q; want it to contain %q", fn, in, err,
			reason)
	}
}

func TestSanitize(t *testing.T) {
	long := strings.Repeat("a", 200)
	otherLong := strings.Repeat("a", 199) + "b"
	tests := []struct {
		name, in, want string
	}{
		{name: "kept", in: "Ab-0:9_z", want: "Ab-0:9_z"},
		{name: "space-slash-dot", in: "S/N 12.3", want: "S_N_12_3"},
		{name: "non-ascii", in: "Seriä1", want: "Seri_1"},
		{name: "invalid-utf8", in: "a\xffb", want: "a_b"},
		{name: "exactly-128", in: strings.Repeat("x", 128),
			want: strings.Repeat("x", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitize(tt.in); got != tt.want {
				t.Errorf("sanitize(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}

	t.Run("long", func(t *testing.T) {
		a, b := sanitize(long), sanitize(otherLong)
		if len(a) != maxIDLen || len(b) != maxIDLen {
			t.Errorf("sanitize of 200 characters has %d and %d characters; "+
				"want %d", len(a), len(b), maxIDLen)
		}
		if a == b {
			t.Errorf("sanitize(%q) = sanitize(%q) = %q; want them distinct",
				long, otherLong, a)
		}
		if !strings.HasPrefix(a, strings.Repeat("a", 111)+"-") {
			t.Errorf("sanitize(%q) = %q; want the first 111 characters kept",
				long, a)
		}
		if err := checkID(a); err != nil {
			t.Errorf("sanitize(%q) = %q: %v", long, a, err)
		}
	})
}

func TestCheckID(t *testing.T) {
	tests := []struct {
		name, id string
		valid    bool
	}{
		{name: "mac", id: "dca6324b7e10", valid: true},
		{name: "max-length", id: strings.Repeat("a", 128), valid: true},
		{name: "empty", id: ""},
		{name: "too-long", id: strings.Repeat("a", 129)},
		{name: "slash", id: "a/b"},
		{name: "space", id: "a b"},
		{name: "newline", id: "ab\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkID(tt.id)
			if (err == nil) != tt.valid {
				t.Errorf("checkID(%q) = %v; want valid %v", tt.id, err, tt.valid)
			}
		})
	}
}
