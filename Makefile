# hookflow's build, test and benchmark entry points.
GO      ?= go
PKGS    := ./...
BIN     := bin/hookflow
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build serve test lint unit bench reliability demo clean

all: build

## build: the hookflow binary in bin/
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/hookflow

## serve: the server on the quickstart workflows, with the embedded SQLite store
serve:
	$(GO) run ./cmd/hookflow serve --workflows examples/quickstart/workflows

## test: formatting, vet, staticcheck and every test with the race detector
test: lint unit

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## bench: every Go benchmark, with the figures they report
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s $(PKGS)

## reliability: the fault and load suite at full size (its small form runs in make test)
reliability:
	$(GO) test -count=1 -v -timeout 60m ./reliability -trials 10 -events 1000 -overload 60s -soak 10m

## demo: run the quickstart workflow on its sample push, locally
demo:
	$(GO) run ./cmd/hookflow run hello-push --workflows examples/quickstart/workflows \
		--event examples/quickstart/push.json --header X-GitHub-Event=push

clean:
	rm -rf bin
