package ivr

import (
	"strconv"
	"strings"
)

// numPrompt names the prompt that speaks n ("num_7", "num_100").
func numPrompt(n int64) string { return "num_" + strconv.FormatInt(n, 10) }

// SayDigits returns the prompts that read the decimal digits of s one by one (num_0 ...
// num_9), the way a work-order or phone number is read. Other characters are skipped.
func SayDigits(s string) []string {
	out := make([]string, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			out = append(out, numPrompt(int64(c-'0')))
		}
	}
	return out
}

// SayNumber returns the prompts that speak the non-negative integer n in lang.
//
// Mandarin ("zh", "zh-..."), from num_0..num_9 and the units num_10 (十), num_100 (百),
// num_1000 (千), num_10000 (万): 10 is 十, 15 十五, 20 二十, 105 一百零五, 1010 一千零一十,
// 10005 一万零五; one 零 stands for a run of inner zeros and trailing zeros are silent.
// Numbers from 10^8 up (亿, for which there is no prompt) are read digit by digit.
//
// English ("en", "en-..."), from num_0..num_19, num_20..num_90 by tens, num_100
// (hundred) and num_1000 (thousand): 342 is "three hundred forty two", 1005 "one
// thousand five". Numbers from 10^6 up are read digit by digit.
//
// Any other language, and a negative n, is read digit by digit.
func SayNumber(lang string, n int64) []string {
	switch {
	case n < 0:
		return SayDigits(strconv.FormatInt(n, 10))
	case isLang(lang, "zh") && n < 100_000_000:
		return sayZh(n)
	case isLang(lang, "en") && n < 1_000_000:
		return sayEn(n)
	default:
		return SayDigits(strconv.FormatInt(n, 10))
	}
}

func isLang(lang, base string) bool {
	return lang == base || strings.HasPrefix(lang, base+"-") || strings.HasPrefix(lang, base+"_")
}

// sayZh reads 0 <= n < 10^8 in Mandarin.
func sayZh(n int64) []string {
	if n == 0 {
		return []string{numPrompt(0)}
	}
	var out []string
	high, low := n/10000, n%10000
	if high > 0 {
		out = zhGroup(out, high, true)
		out = append(out, "num_10000")
		if low > 0 && low < 1000 {
			out = append(out, numPrompt(0)) // 一万零五十
		}
	}
	if low > 0 {
		out = zhGroup(out, low, high == 0)
	}
	return out
}

// zhGroup appends the reading of 1 <= g <= 9999. When leading is true the group starts
// the number, so a leading 一十 is said 十.
func zhGroup(out []string, g int64, leading bool) []string {
	digits := [4]int64{g / 1000, g / 100 % 10, g / 10 % 10, g % 10}
	units := [4]string{"num_1000", "num_100", "num_10", ""}
	started, zero := false, false
	for i, d := range digits {
		if d == 0 {
			// A run of zeros after the first digit is said once, as 零, and only if a
			// non-zero digit follows; trailing zeros are silent.
			zero = started
			continue
		}
		if zero {
			out = append(out, numPrompt(0))
			zero = false
		}
		if !(i == 2 && d == 1 && !started && leading) {
			out = append(out, numPrompt(d))
		}
		if units[i] != "" {
			out = append(out, units[i])
		}
		started = true
	}
	return out
}

// sayEn reads 0 <= n < 10^6 in English.
func sayEn(n int64) []string {
	if n == 0 {
		return []string{numPrompt(0)}
	}
	var out []string
	if th := n / 1000; th > 0 {
		out = enBelow1000(out, th)
		out = append(out, "num_1000")
	}
	if r := n % 1000; r > 0 {
		out = enBelow1000(out, r)
	}
	return out
}

// enBelow1000 appends the reading of 1 <= n <= 999.
func enBelow1000(out []string, n int64) []string {
	if h := n / 100; h > 0 {
		out = append(out, numPrompt(h), "num_100")
	}
	r := n % 100
	switch {
	case r == 0:
	case r < 20:
		out = append(out, numPrompt(r))
	default:
		out = append(out, numPrompt(r/10*10))
		if r%10 > 0 {
			out = append(out, numPrompt(r%10))
		}
	}
	return out
}
