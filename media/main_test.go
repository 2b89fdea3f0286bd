package media

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests (internal and external) if any goroutine is
// left running after them: session readers, pacer workers, test peers.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
