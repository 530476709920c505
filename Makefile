# The two commands of the README: `make demo` and `make test`.
# Both install what is missing (scripts/install-deps.sh), configure and build.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo bench clean format

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	@scripts/demo.sh $(BUILD)/bin

bench: deps
	@CLS_WITH_EXTRAS=1 scripts/install-deps.sh
	@cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCLS_BUILD_TESTS=OFF -DCLS_BUILD_BENCH=ON >/dev/null
	@cmake --build build-release -j $(JOBS)
	@mkdir -p $(BUILD)
	@bash -o pipefail -c 'scripts/bench.sh build-release/bin | tee $(BUILD)/bench.jsonl'

clean:
	rm -rf $(BUILD) build-release

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i
