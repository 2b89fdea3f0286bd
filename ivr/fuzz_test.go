package ivr

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzConfigYAML decodes arbitrary bytes as a menu config and validates it: neither may
// panic, and a config that validates must run (on a leg whose caller hangs up at once)
// without panicking.
func FuzzConfigYAML(f *testing.F) {
	// The default menu is covered by TestDefaultValidates; as a seed it is so large that
	// the fuzzer spends its time minimizing it.
	f.Add([]byte(baseYAML))
	for _, s := range []string{
		"",
		"languages: [zh]\nstart: a\nnodes: {a: ~}",
		"languages: [zh]\nstart: a\nnodes: {a: {goto: b}, b: {next: a}}",
		"languages: [zh]\nstart: a\nnodes: {a: {play: [x], collect: {max: -1, retries: -5}, options: {'': {repeat: true}}}}",
		"calendars: {c: {weekly: {mon: ['24:00-24:00', '9-5']}, holidays: [x], timezone: '../../etc'}}",
		"start: [1, 2]",
		"nodes: {a: {say: {number: -9223372036854775808}}}",
		"nodes: {a: {route: {queue: q, play: [p]}, options: {x: {route: {}}}}}",
		"nodes: &a {b: *a}",
	} {
		f.Add([]byte(s))
	}
	cat := testCatalog(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_ = c.Validate(nil, nil)
		if err := c.Validate(cat, knownQueues); err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("Validate returned %v, want a non-empty *ValidationError", err)
			}
			return
		}
		for _, cal := range c.Calendars {
			if _, err := cal.Open(time.Unix(0, 0)); err != nil {
				t.Fatalf("a validated calendar fails: %v", err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Run(ctx, newFakeLeg(), c, Options{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run on a hung-up call: %v", err)
		}
	})
}
