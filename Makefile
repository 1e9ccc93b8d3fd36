# plinth's build. `make run` builds plinth and runs its main job on this
# machine; `make test` runs every test (what CI runs).
GO       ?= go
BIN      := bin/plinth
# -buildvcs=true records the git revision for `plinth version` (some
# machines set GOFLAGS=-buildvcs=false); -trimpath keeps paths out of the binary.
GOBUILD  := $(GO) build -trimpath -buildvcs=true

.PHONY: all build run test fuzz interop lint generate clean FORCE
all: build

build: $(BIN)

$(BIN): FORCE
	$(GOBUILD) -o $@ ./cmd/plinth

# The main job: Microkit's hello built from pinned sources (the network, or
# PLINTH_MIRRORS), booted in QEMU, signed with a throw-away key and
# verified; without the sources, the checks that need none, and a failure.
run: build
	PLINTH=$(BIN) ./scripts/main-job.sh

test: lint
	$(GO) test -race -timeout 30m ./...
	$(MAKE) fuzz

# Every fuzz target, for a bounded time each, from its seeds and the
# regression inputs committed under testdata/fuzz/ (a crash writes its input
# there: commit it with the fix). Go 1.26's fuzz coordinator can report a bare
# "context deadline exceeded" as -fuzztime ends (golang/go#75804, fixed in
# 1.27) with no input failing: that alone, when no failing input was written
# and the corpus replays clean, is not a failure.
FUZZTIME ?= 15s
FUZZ_TARGETS := ./sdf:FuzzParse ./boards:FuzzLoad ./internal/strictyaml:FuzzDecode \
	./recipe:FuzzRecipe ./recipe:FuzzLock ./builder:FuzzMirrors ./builder:FuzzExtract \
	./internal/cargolock:FuzzParse ./diode:FuzzWire
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; log=$$(mktemp); \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		if ! $(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s >$$log 2>&1; then \
			if grep -qx '    context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log \
				&& $(GO) test $$pkg -run "^$$name\$$" >/dev/null 2>&1; then \
				echo "  $$name: Go's fuzz-coordinator race at -fuzztime's end (golang/go#75804); no input failed, the corpus replays clean"; \
			else \
				cat $$log; rm -f $$log; exit 1; \
			fi; \
		fi; \
		grep -E '^fuzz: elapsed' $$log | tail -1; rm -f $$log; \
	done

# The interop test alone: plinth's signatures checked by cosign (built once
# into ~/.cache/plinth-ci, as .ci/run does).
interop:
	@test -x $(HOME)/.cache/plinth-ci/cosign || GOBIN=$(HOME)/.cache/plinth-ci $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
	PLINTH_COSIGN=$(HOME)/.cache/plinth-ci/cosign $(GO) test ./internal/cli -run Cosign -v

lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	$(GO) vet ./...

# Files derived from the Go types and board data; a test fails when they are stale.
generate:
	@mkdir -p schema
	$(GO) run ./cmd/plinth schema board > schema/board.schema.json.tmp && mv schema/board.schema.json.tmp schema/board.schema.json
	$(GO) run ./cmd/plinth schema recipe > schema/recipe.schema.json.tmp && mv schema/recipe.schema.json.tmp schema/recipe.schema.json
	$(GO) run ./cmd/plinth schema deployment > schema/deployment.schema.json.tmp && mv schema/deployment.schema.json.tmp schema/deployment.schema.json
	$(GO) run ./cmd/plinth schema release > schema/release.schema.json.tmp && mv schema/release.schema.json.tmp schema/release.schema.json
	$(GO) run ./cmd/plinth boards --markdown > docs/boards-table.md.tmp && mv docs/boards-table.md.tmp docs/boards-table.md
	rm -rf docs/cli && $(GO) run ./cmd/plinth __docs docs/cli

clean:
	rm -rf bin
