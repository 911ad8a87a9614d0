package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxIDLen is the longest device ID, the limit AWS IoT sets on a thing name,
// which templates usually build from the ID.
const maxIDLen = 128

// errAbsent marks a value that was read but is unusable: a placeholder, all
// zeros, a random MAC.
var errAbsent = errors.New("no usable value")

type absentError struct{ msg string }

func (e *absentError) Error() string        { return e.msg }
func (e *absentError) Is(target error) bool { return target == errAbsent }

func absentf(format string, args ...any) error {
	return &absentError{msg: fmt.Sprintf(format, args...)}
}

// placeholders are values that firmware vendors leave in unprogrammed
// SMBIOS fields and boot loaders leave in serial numbers, compared after
// lower-casing and collapsing white space. Every unit of a model carries
// the same one, so none identifies a device.
var placeholders = map[string]bool{
	"to be filled by o.e.m.":   true,
	"to be filled by oem":      true,
	"default string":           true,
	"default":                  true,
	"system serial number":     true,
	"chassis serial number":    true,
	"base board serial number": true,
	"serial number":            true,
	"serialnumber":             true,
	"not specified":            true,
	"not applicable":           true,
	"not available":            true,
	"not present":              true,
	"not settable":             true,
	"none":                     true,
	"n/a":                      true,
	"na":                       true,
	"unknown":                  true,
	"empty":                    true,
	"invalid":                  true,
	"oem":                      true,
	"o.e.m.":                   true,
	"0123456789":               true,
	"123456789":                true,
	"1234567890":               true,
	"12345678":                 true,
	"0123456789abcdef":         true,
	// SMBIOS UUIDs that AMI firmware ships unchanged on many boards, and the
	// byte sequence 00 01 02 ... 0f used as a test value.
	"03000200-0400-0500-0006-000700080009": true,
	"00010203-0405-0607-0809-0a0b0c0d0e0f": true,
}

// checkPlaceholder returns an absent error for a blank value, a known
// placeholder, or one character repeated (ignoring the separators of UUIDs
// and serials), which covers all-zero and all-F values.
func checkPlaceholder(s string) error {
	normal := strings.ToLower(strings.Join(strings.Fields(s), " "))
	if normal == "" {
		return absentf("blank")
	}
	if placeholders[normal] {
		return absentf("%q is a firmware placeholder", s)
	}

	c, ok := repeatedChar(normal)
	if ok && c == '0' {
		return absentf("%q is all zeros", s)
	}
	if ok {
		return absentf("%q repeats one character", s)
	}
	return nil
}

// repeatedChar reports whether s, without separators, is one character
// repeated, and which.
func repeatedChar(s string) (rune, bool) {
	var first rune
	for _, c := range s {
		if isSeparator(c) {
			continue
		}
		if first == 0 {
			first = c
		}
		if c != first {
			return 0, false
		}
	}
	return first, true
}

func isSeparator(c rune) bool {
	return c == '-' || c == ':' || c == '.' || c == ' ' || c == '_'
}

// checkPrintable rejects a byte that is a control byte or not valid UTF-8,
// and a character that is not graphic, such as U+200B or a C1 control. No
// serial number contains one, and they show a binary or multi-string
// property read as text. It runs before checkPlaceholder, which would see
// two invalid bytes such as "\xff\xfe" as one repeated character.
func checkPrintable(s string) error {
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 || c < utf8.RuneSelf &&
			!unicode.IsGraphic(c) {
			return absentf("contains a non-printable byte 0x%02x", s[i])
		}
		if !unicode.IsGraphic(c) {
			return absentf("contains a non-printable character %U", c)
		}
		i += size
	}
	return nil
}

// byteOrderMark is U+FEFF encoded in UTF-8 (EF BB BF), which editors on
// Windows write at the start of a text file.
const byteOrderMark = "\uFEFF"

// trimText removes surrounding white space and a leading byte order mark.
func trimText(s string) string {
	s = strings.TrimSpace(s)
	return strings.TrimSpace(strings.TrimPrefix(s, byteOrderMark))
}

// candidate is a device ID and the text it was made from.
type candidate struct {
	id string
	// text is the value read from the source, after trimming and, for
	// some sources, lower-casing.
	text string
}

// replaced reports whether sanitize replaced characters of the text, which
// can give two different serials the same ID.
func (c candidate) replaced() bool {
	return strings.ContainsFunc(c.text, func(r rune) bool {
		return !validIDChar(r)
	})
}

// finishValue turns a value from the hardware or a file into an ID: it
// trims it, rejects non-printable bytes and placeholders, then sanitizes.
func finishValue(s string) (candidate, error) {
	s = trimText(s)
	if err := checkPrintable(s); err != nil {
		return candidate{}, err
	}
	if err := checkPlaceholder(s); err != nil {
		return candidate{}, err
	}

	id := sanitize(s)
	if !strings.ContainsFunc(id, isAlphanumeric) {
		return candidate{}, absentf("%q has no ASCII letters or digits", s)
	}
	return candidate{id: id, text: s}, nil
}

// finishLower is finishValue for a value whose case carries no meaning. It
// checks the bytes before lower-casing, because strings.ToLower turns an
// invalid byte into U+FFFD, which is printable.
func finishLower(s string) (candidate, error) {
	if err := checkPrintable(trimText(s)); err != nil {
		return candidate{}, err
	}
	return finishValue(strings.ToLower(s))
}

// sanitize replaces each character outside [A-Za-z0-9:_-] with "_", so the
// ID fits an MQTT client ID and an AWS IoT thing name. A value longer than
// 128 characters keeps its first 111 characters, "-" and 16 hex digits of
// the SHA-256 of the whole value, so long values that share a prefix stay
// distinct.
func sanitize(s string) string {
	var b strings.Builder
	for _, c := range s {
		if validIDChar(c) {
			b.WriteRune(c)
			continue
		}
		b.WriteByte('_')
	}

	id := b.String()
	if len(id) <= maxIDLen {
		return id
	}
	sum := sha256.Sum256([]byte(s))
	return id[:maxIDLen-17] + "-" + hex.EncodeToString(sum[:8])
}

func validIDChar(c rune) bool {
	return isAlphanumeric(c) || c == ':' || c == '_' || c == '-'
}

func isAlphanumeric(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkID validates an ID read back from storage: 1 to 128 characters of
// [A-Za-z0-9:_-].
func checkID(id string) error {
	if id == "" {
		return errors.New("device ID is empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("device ID has %d characters, more than %d",
			len(id), maxIDLen)
	}
	for _, c := range id {
		if !validIDChar(c) {
			return fmt.Errorf("device ID %q contains %q, outside "+
				"[A-Za-z0-9:_-]", id, c)
		}
	}
	return nil
}

// reasons combines the failures of several candidates of one source.
type reasons []error

func (r reasons) Error() string {
	parts := make([]string, len(r))
	for i, err := range r {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (r reasons) Unwrap() []error { return r }
