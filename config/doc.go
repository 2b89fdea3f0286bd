// Package config owns the engine's one YAML file: it decodes it over the embedded
// default (default.yaml beside this file, the 12345 demo), rejects unknown keys, and
// validates every section, reporting each problem with the file, the line, the key
// and what is wrong. Files are read in cmd/hotline only; this package takes bytes.
//
// It sits above the floors of DESIGN.md (it imports the config types of sip, call,
// queue and ivr) and below cmd/hotline, which alone uses it.
package config
