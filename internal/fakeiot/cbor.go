package fakeiot

import "encoding/binary"

// CBOR major types (RFC 8949, section 3.1).
const (
	cborUnsigned = 0
	cborText     = 3
	cborMap      = 5
)

// encodeCBORRejection encodes rej as a CBOR map with the same keys as the
// JSON rejection. It covers only what a rejection needs: a map of text
// strings and one unsigned integer.
func encodeCBORRejection(rej *rejection) []byte {
	out := cborHead(nil, cborMap, 3)
	out = cborString(out, "statusCode")
	out = cborHead(out, cborUnsigned, uint64(max(rej.StatusCode, 0)))
	out = cborString(out, "errorCode")
	out = cborString(out, rej.ErrorCode)
	out = cborString(out, "errorMessage")
	return cborString(out, rej.ErrorMessage)
}

func cborString(out []byte, s string) []byte {
	out = cborHead(out, cborText, uint64(len(s)))
	return append(out, s...)
}

// cborHead appends the initial byte and argument of a data item.
func cborHead(out []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(out, m|byte(n))
	case n <= 0xff:
		return append(out, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(out, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(out, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(out, m|27), n)
}
