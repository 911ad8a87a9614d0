package fakeiot

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncodeCBORRejection(t *testing.T) {
	long := strings.Repeat("x", 30)
	tests := []struct {
		name string
		rej  rejection
		want []byte
	}{
		{
			name: "short",
			rej:  rejection{StatusCode: 400, ErrorCode: "E", ErrorMessage: "m"},
			want: concat([]byte{0xa3, 0x6a}, "statusCode", []byte{0x19, 0x01, 0x90},
				[]byte{0x69}, "errorCode", []byte{0x61}, "E",
				[]byte{0x6c}, "errorMessage", []byte{0x61}, "m"),
		},
		{
			name: "long-message-small-status",
			rej:  rejection{StatusCode: 7, ErrorCode: "", ErrorMessage: long},
			want: concat([]byte{0xa3, 0x6a}, "statusCode", []byte{0x07},
				[]byte{0x69}, "errorCode", []byte{0x60},
				[]byte{0x6c}, "errorMessage", []byte{0x78, 30}, long),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodeCBORRejection(&tt.rej)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("encodeCBORRejection(%+v) (-want +got):\n%s", tt.rej, diff)
			}
		})
	}
}

func concat(parts ...any) []byte {
	var out []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v...)
		case []byte:
			out = append(out, v...)
		}
	}
	return out
}
