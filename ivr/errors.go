package ivr

import (
	"errors"
	"strings"
)

// Errors returned by Run.
var (
	// ErrUnknownNode means the menu jumped to a node that does not exist: the config was
	// not validated.
	ErrUnknownNode = errors.New("ivr: unknown node")
	// ErrLoop means the menu visited more nodes than it has without waiting for input:
	// the config has a loop without input and was not validated.
	ErrLoop = errors.New("ivr: loop without input")
	// ErrNoStart means the config names no start node.
	ErrNoStart = errors.New("ivr: no start node")
)

// FieldError is one problem in a menu config.
type FieldError struct {
	// Path locates the offending key: map keys and sequence indexes joined by dots,
	// relative to the menu config, e.g. "nodes.main.options.9.goto" or
	// "calendars.city.weekly.mon.0". The config loader maps it to file:line.
	Path string
	// Msg says what is wrong, for a human.
	Msg string
}

// Error returns "path: msg".
func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// ValidationError holds every problem found by [Config.Validate], in a stable order.
type ValidationError struct {
	Errors []FieldError
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("ivr: invalid menu config:")
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}
