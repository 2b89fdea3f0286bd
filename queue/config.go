package queue

import "fmt"

// Config describes one queue.
type Config struct {
	// Name is how menus, the API and reports name the queue.
	Name string `yaml:"name"`
	// Skill is the agent skill the queue needs.
	Skill string `yaml:"skill"`
	// Hold are the prompts a waiting caller hears, in order; the last one loops
	// (typically an announcement of the desk, then music).
	Hold []string `yaml:"hold"`
}

// FieldError is one problem in the queue configuration, at a key path.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Validate checks a list of queues: names present and unique, hold audio given.
// hasPrompt tells whether a prompt exists (in every language).
func Validate(qs []Config, hasPrompt func(name string) bool) []FieldError {
	var errs []FieldError
	seen := map[string]bool{}
	for i, q := range qs {
		p := fmt.Sprintf("queues.%d", i)
		switch {
		case q.Name == "":
			errs = append(errs, FieldError{p + ".name", "missing"})
		case seen[q.Name]:
			errs = append(errs, FieldError{p + ".name", fmt.Sprintf("duplicate queue %q", q.Name)})
		}
		seen[q.Name] = true
		if len(q.Hold) == 0 {
			errs = append(errs, FieldError{p + ".hold", "no hold audio: give at least one prompt"})
		}
		for j, h := range q.Hold {
			if !hasPrompt(h) {
				errs = append(errs, FieldError{fmt.Sprintf("%s.hold.%d", p, j), fmt.Sprintf("unknown prompt %q", h)})
			}
		}
	}
	return errs
}
