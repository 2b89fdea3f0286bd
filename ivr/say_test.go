package ivr

import (
	"slices"
	"strings"
	"testing"
)

// nums turns "1 100 0 5" into [num_1 num_100 num_0 num_5].
func nums(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		out = append(out, "num_"+f)
	}
	return out
}

func TestSayNumber(t *testing.T) {
	tests := []struct {
		lang string
		n    int64
		want string
	}{
		{"zh", 0, "0"},
		{"zh", 5, "5"},
		{"zh", 10, "10"},                // 十, not 一十
		{"zh", 15, "10 5"},              // 十五
		{"zh", 20, "2 10"},              // 二十
		{"zh", 99, "9 10 9"},            // 九十九
		{"zh", 100, "1 100"},            // 一百
		{"zh", 105, "1 100 0 5"},        // 一百零五
		{"zh", 110, "1 100 1 10"},       // 一百一十
		{"zh", 342, "3 100 4 10 2"},     // 三百四十二
		{"zh", 1001, "1 1000 0 1"},      // 一千零一
		{"zh", 1010, "1 1000 0 1 10"},   // 一千零一十
		{"zh", 1100, "1 1000 1 100"},    // 一千一百
		{"zh", 10000, "1 10000"},        // 一万
		{"zh", 10005, "1 10000 0 5"},    // 一万零五
		{"zh", 10050, "1 10000 0 5 10"}, // 一万零五十
		{"zh", 12345, "1 10000 2 1000 3 100 4 10 5"},
		{"zh", 20305, "2 10000 0 3 100 0 5"},  // 二万零三百零五
		{"zh", 100000, "10 10000"},            // 十万
		{"zh", 150000, "10 5 10000"},          // 十五万
		{"zh", 101000, "10 10000 1 1000"},     // 十万一千
		{"zh", 1000010, "1 100 10000 0 1 10"}, // 一百万零一十
		{"zh", 99999999, "9 1000 9 100 9 10 9 10000 9 1000 9 100 9 10 9"},
		{"zh", 100000000, "1 0 0 0 0 0 0 0 0"}, // 亿: digit by digit
		{"zh-CN", 20, "2 10"},
		{"en", 0, "0"},
		{"en", 7, "7"},
		{"en", 13, "13"},
		{"en", 19, "19"},
		{"en", 20, "20"},
		{"en", 21, "20 1"},
		{"en", 99, "90 9"},
		{"en", 100, "1 100"},
		{"en", 105, "1 100 5"},
		{"en", 342, "3 100 40 2"},
		{"en", 1000, "1 1000"},
		{"en", 1005, "1 1000 5"},
		{"en", 12345, "12 1000 3 100 40 5"},
		{"en", 999999, "9 100 90 9 1000 9 100 90 9"},
		{"en", 1000000, "1 0 0 0 0 0 0"},
		{"fr", 42, "4 2"},
		{"zh", -3, "3"},
	}
	for _, tt := range tests {
		if got, want := SayNumber(tt.lang, tt.n), nums(tt.want); !slices.Equal(got, want) {
			t.Errorf("SayNumber(%q, %d) = %v, want %v", tt.lang, tt.n, got, want)
		}
	}
}

func TestSayDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"2026100100042", "2 0 2 6 1 0 0 1 0 0 0 4 2"},
		{"0571-88*#", "0 5 7 1 8 8"},
	}
	for _, tt := range tests {
		if got, want := SayDigits(tt.in), nums(tt.want); !slices.Equal(got, want) {
			t.Errorf("SayDigits(%q) = %v, want %v", tt.in, got, want)
		}
	}
}
