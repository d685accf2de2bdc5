# hookflow's build, test and benchmark entry points.
GO      ?= go
PKGS    := ./...
BIN     := bin/hookflow
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# kustomize's loader of Go plugins, which hookflow never turns on, imports
# package plugin, and that makes the linker export every symbol: a binary a
# quarter larger and some 20 MiB more resident at start. The tag leaves it out.
export GOFLAGS := $(strip $(GOFLAGS) -tags=kustomize_disable_go_plugin_support)

.PHONY: all build serve test lint unit deps bench reliability demo clean

all: build

## build: the hookflow binary in bin/
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/hookflow

## serve: the server on the quickstart workflows, with the embedded SQLite
## store; built first (go run would stamp no version)
serve: build
	$(BIN) serve --workflows examples/quickstart/workflows

## test: formatting, vet, staticcheck and every test with the race detector
test: lint unit

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

## unit: every test with the race detector, against the real servers the
## scripts install and start (bubblewrap, Chromium, PostgreSQL, and etcd,
## kube-apiserver and Gitea built from the Go module proxy and cached under
## ~/.cache)
unit: deps
	@dir=$$(mktemp -d); trap 'scripts/kube-testenv.sh stop "$$dir"; scripts/gitea-testenv.sh stop "$$dir/gitea"; rm -rf "$$dir"' EXIT; trap 'exit 130' INT TERM; \
	scripts/kube-testenv.sh start "$$dir" >/dev/null && \
	scripts/gitea-testenv.sh start "$$dir/gitea" >/dev/null && \
	pg=$$(scripts/setup-postgres.sh) && \
	HOOKFLOW_TEST_KUBECONFIG="$$dir/kubeconfig" HOOKFLOW_TEST_POSTGRES="$$pg" HOOKFLOW_TEST_GITEA="$$dir/gitea" \
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

## deps: install and build what the tests need (idempotent; apt-get needs root)
deps:
	scripts/setup-sandbox.sh
	scripts/setup-ui.sh
	scripts/setup-shells.sh
	scripts/kube-testenv.sh build
	scripts/gitea-testenv.sh build

## bench: every Go benchmark, with the figures they report, then the goals
## table (internal/benchtab: real servers under wrk), which also rewrites the
## README's performance table; BENCH_BASE=REV measures that revision beside
bench: deps
	@scripts/setup-bench.sh
	@echo "hookflow benchmarks on $$(nproc) cores, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $$($(GO) version)"
	@pg=$$(scripts/setup-postgres.sh) && \
	HOOKFLOW_TEST_POSTGRES="$$pg" $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s $(PKGS) && \
	HOOKFLOW_TEST_POSTGRES="$$pg" $(GO) run ./internal/benchtab -readme README.md $(if $(BENCH_BASE),-base $(BENCH_BASE))

## reliability: the fault and load suite at full size (its small form runs in make test)
reliability:
	$(GO) test -count=1 -v -timeout 60m ./reliability -trials 10 -events 1000 -overload 60s -soak 10m

## demo: run the quickstart workflow on its sample push, locally
demo:
	$(GO) run ./cmd/hookflow run hello-push --workflows examples/quickstart/workflows \
		--event examples/quickstart/push.json --header X-GitHub-Event=push

clean:
	rm -rf bin
