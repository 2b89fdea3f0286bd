# hotline: build, test and maintenance targets. `make test` is what CI runs (.ci/run).
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all test build lint prompts bench fuzz clean help bench-cps bench-rss bench-concurrent bench-load bench-profile

all: build

help:
	@echo "make test      install missing test peers, go vet, go test -race (the CI entry point)"
	@echo "make build     build bin/hotline"
	@echo "make lint      gofmt check, go vet, staticcheck $(STATICCHECK_VERSION)"
	@echo "make prompts   regenerate ivr/prompts with espeak-ng and sox"
	@echo "make bench     run the Go benchmarks"
	@echo "make bench-load     SIPp load benchmarks beside the Kamailio anchor (~20 min; see BENCHMARKS.md)"
	@echo "make bench-profile  CPU/heap profiles of the engine under load"
	@echo "make fuzz      run every fuzz target for FUZZTIME (default 10s) each"
	@echo "variables:     PKGS=./media/... TESTFLAGS=-v FUZZTIME=30s SKIP_DEPS=1"

test:
	@PKGS='$(PKGS)' ./scripts/test.sh

build:
	$(GO) build -o bin/hotline ./cmd/hotline

lint:
	@echo "==> gofmt -l"
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files are not formatted:"; echo "$$unformatted" | sed 's/^/    /'; exit 1; fi
	@echo "==> go vet $(PKGS)"
	@$(GO) vet $(PKGS)
	@echo "==> staticcheck $(STATICCHECK_VERSION) $(PKGS)"
	@$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	@echo "lint: ok"

prompts:
	./scripts/gen-prompts.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

bench-cps:
	./bench/cps.sh

bench-rss:
	./bench/rss.sh

bench-concurrent:
	./bench/concurrent.sh

bench-load: bench-cps bench-rss bench-concurrent

bench-profile:
	./bench/profile.sh sig && ./bench/profile.sh media

fuzz:
	@PKGS='$(PKGS)' FUZZTIME='$(FUZZTIME)' ./scripts/fuzz.sh

clean:
	rm -rf bin
