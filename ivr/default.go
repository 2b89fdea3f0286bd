package ivr

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultQueues are the queues the default menu routes to.
var DefaultQueues = []string{"general", "business", "talent", "household", "followup", "foreign"}

// DefaultYAML returns the embedded default menu as YAML, for operators to copy.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Default returns a fresh copy of the embedded 12345 menu: welcome in Mandarin, an hours
// check (open around the clock), then 1 consultation, help and complaints (general), 2
// business environment, 3 talent policy, 4 household registration, 5 follow-up on a work
// order, 9 English service, 0 an agent, * repeat; after three failed attempts, the
// general desk. Follow-up (a lookup node): the caller keys the work order's digits and
// '#', hears its status from the leg ([StatusLeg]), and then the main menu again, where 0
// is the follow-up desk and silence says goodbye; after three numbers not found, or three
// attempts without input, the follow-up desk. The English menu offers the
// same desks in English; its 0 and fallback go to the foreign-language desk. Outside
// hours the caller may leave a message. It routes to [DefaultQueues].
func Default() *Config {
	c, err := Parse(defaultYAML)
	if err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return c
}

// Parse decodes a menu config from YAML, rejecting unknown keys. It does not validate.
func Parse(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // empty: Validate says what is missing
		return nil, fmt.Errorf("ivr: parsing menu: %w", err)
	}
	return &c, nil
}
