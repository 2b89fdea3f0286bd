#!/usr/bin/env bash
# bench/pprof-build.sh OUTPUT: build the engine with net/http/pprof served on the address
# in $HOTLINE_PPROF (e.g. 127.0.0.1:6060), for heap and CPU profiles under load. The
# engine has no pprof endpoint; this copies cmd/hotline's Go files into a temporary
# folder of bench/ (named _pprof*, which ./... ignores), adds one file, builds, and
# removes the folder. The binary is otherwise the same engine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: bench/pprof-build.sh OUTPUT}
tmp=$(mktemp -d "$ROOT/bench/_pprof.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Every non-test Go file of the command (main.go alone no longer builds: demo.go,
# report.go, webrtc.go ... are part of it).
for f in "$ROOT"/cmd/hotline/*.go; do
	case "$f" in *_test.go) ;; *) cp "$f" "$tmp/" ;; esac
done
cat >"$tmp/pprof.go" <<'GO'
package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("HOTLINE_PPROF"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
GO
(cd "$ROOT" && go build -o "$out" "./bench/$(basename "$tmp")")
