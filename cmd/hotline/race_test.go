//go:build race

package main

// raceEnabled says the tests run with -race: the engine under test is built with it too.
const raceEnabled = true
