package call

import "log/slog"

// Masked is a phone number that logs with its middle digits hidden (13812345678 ->
// 138****5678): logs are read by more people than call records are.
type Masked string

// LogValue implements slog.LogValuer.
func (m Masked) LogValue() slog.Value {
	s := string(m)
	switch {
	case len(s) <= 4:
		return slog.StringValue(s)
	case len(s) <= 7:
		return slog.StringValue(s[:2] + "***" + s[len(s)-2:])
	}
	return slog.StringValue(s[:3] + "****" + s[len(s)-4:])
}
