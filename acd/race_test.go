//go:build race

package acd

// raceEnabled says the tests run with -race (the property test runs fewer sequences).
const raceEnabled = true
