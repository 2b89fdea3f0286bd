package sip

import (
	"errors"
	"testing"
	"time"
)

func TestParseDTMFInfo(t *testing.T) {
	tests := []struct {
		name, ct, body string
		want           Digit
		err            error
	}{
		{"relay", "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", Digit{'5', 160 * time.Millisecond}, nil},
		{"relay LF only", "application/dtmf-relay", "Signal=#\nDuration=250\n", Digit{'#', 250 * time.Millisecond}, nil},
		{"relay spaces and case", "Application/DTMF-Relay; charset=x", "signal = *\r\nduration= 100", Digit{'*', 100 * time.Millisecond}, nil},
		{"relay 10 is star", "application/dtmf-relay", "Signal=10\r\n", Digit{'*', 0}, nil},
		{"relay 11 is pound", "application/dtmf-relay", "Signal=11\r\n", Digit{'#', 0}, nil},
		{"relay lower abcd", "application/dtmf-relay", "Signal=b\r\n", Digit{'B', 0}, nil},
		{"dtmf", "application/dtmf", "7", Digit{'7', 0}, nil},
		{"dtmf crlf", "application/dtmf", "0\r\n", Digit{'0', 0}, nil},
		{"relay no signal", "application/dtmf-relay", "Duration=160\r\n", Digit{}, ErrMalformedInfo},
		{"relay bad signal", "application/dtmf-relay", "Signal=55\r\n", Digit{}, ErrMalformedInfo},
		{"relay bad duration", "application/dtmf-relay", "Signal=5\r\nDuration=-3\r\n", Digit{}, ErrMalformedInfo},
		{"dtmf empty", "application/dtmf", "", Digit{}, ErrMalformedInfo},
		{"dtmf two keys", "application/dtmf", "12", Digit{}, ErrMalformedInfo},
		{"other type", "application/media_control+xml", "<x/>", Digit{}, ErrUnsupportedInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDTMFInfo(tt.ct, []byte(tt.body))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseDTMFInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Add("application/dtmf-relay", []byte("Signal=\r\n=\n\n\x00"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		d, err := ParseDTMFInfo(ct, body)
		if err == nil && !validKey(d.Key) {
			t.Fatalf("accepted key %q", d.Key)
		}
	})
}

func validKey(k byte) bool {
	return (k >= '0' && k <= '9') || k == '*' || k == '#' || (k >= 'A' && k <= 'D')
}
