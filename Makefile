# ggl-fleetd: provisioning daemon for AWS IoT Greengrass Lite devices.
# `make demo` runs the main job on loopback; `make test` runs the tests.

GO      ?= go
BIN     := bin
PKG     := github.com/ggl-fleetd/ggl-fleetd
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X $(PKG)/internal/command.version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'

# A hung test fails the run instead of blocking CI.
TEST_TIMEOUT ?= 12m
FUZZTIME     ?= 30s

.PHONY: all build test lint demo bench fuzz clean

all: build

# CGO_ENABLED=0 gives static binaries that run on any device libc.
build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ ./cmd/ggl-fleetd ./cmd/ggl-fleet-setup ./cmd/fakeiot

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: build
	scripts/demo.sh $(BIN)

bench: build
	scripts/bench.sh $(BIN)

# Runs every fuzz target for FUZZTIME; the seed corpora already run in `make test`.
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)
