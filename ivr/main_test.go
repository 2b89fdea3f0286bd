package ivr

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind (a Play that was
// never cancelled, a Run that never returned).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
