# The two commands of the README: `make demo` and `make test`.
# Both install what is missing (scripts/install-deps.sh), configure and build.
# `make sanitize`: every test again under AddressSanitizer (with leak
# detection) and UndefinedBehaviorSanitizer, built in build-asan/.
# `make package`: the Debian packages cls-coordinator, cls-site-agent and
# cls-tools (docs/deployment.md), production binaries (no test or benchmark
# hooks), built in build-package/ and left there as .deb files. `make test`
# builds them first: PackageInstallTest checks them.
# `make tsan`: the daemons' unit and integration tests under
# ThreadSanitizer, built in build-tsan/ (tests/tsan.supp names the only
# reports it ignores, each with its reason).
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
TSAN_FLAGS = -fsanitize=thread -fno-omit-frame-pointer
# ccache when installed; never required. Not hashing the build folder lets
# build/ and build-package/ share compile results (RelWithDebInfo has -g, so
# ccache would otherwise key on the folder; only DW_AT_comp_dir differs).
export CCACHE_NOHASHDIR ?= 1
LAUNCHER = $(if $(shell command -v ccache),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
CMAKE_FLAGS ?=
# The tests `make tsan` runs: everything of the two daemons and the common
# layer they share (the console and the pure math libraries have no threads).
TSAN_TESTS ?= Integration|WalCheckpointer|Coordinator|Secure|Grouped|Malicious|Federation|Site|Round|Scheduler|Registry|Finalizer|Planner|Agent|Prediction|Serving|WorkerPool|Connection|Channel|Admin|Deployment

.PHONY: all deps configure build test package package-deps demo bench sanitize tsan clean format lint-openapi

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(LAUNCHER) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build package
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# Same build type as `make test`, so ccache serves most of it; CMAKE_FLAGS
# (e.g. -DCLS_WERROR=ON) apply, but the flags after them always win.
# (A prerequisite, not a first recipe line: LAUNCHER must be expanded after
# ccache is installed.)
package-deps: deps
	@CLS_WITH_PACKAGING=1 scripts/install-deps.sh

package: package-deps
	@cmake -S . -B build-package $(LAUNCHER) $(CMAKE_FLAGS) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLS_BUILD_TESTS=OFF -DCLS_BUILD_BENCH=OFF \
	  -DCLS_PACKAGE=ON >/dev/null
	@cmake --build build-package -j $(JOBS) --target cls_package_inputs
	@cd build-package && { cpack -G DEB >cpack.log 2>&1 || { cat cpack.log; exit 1; }; } && \
	  sed -n 's/^CPack: - package: \(.*\) generated\.$$/\1/p' cpack.log

demo: build
	@scripts/demo.sh $(BUILD)/bin

bench: deps
	@CLS_WITH_EXTRAS=1 scripts/install-deps.sh
	@cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DCLS_BUILD_TESTS=OFF -DCLS_BUILD_BENCH=ON >/dev/null
	@cmake --build build-release -j $(JOBS)
	@mkdir -p $(BUILD)
	@bash -o pipefail -c 'scripts/bench.sh build-release/bin | tee $(BUILD)/bench.jsonl'

# -g1 (line tables only) keeps the reports' file:line and builds much faster
# than full debug information.
sanitize: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug $(LAUNCHER) \
	  -DCMAKE_C_FLAGS_DEBUG=-g1 -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
	  -DCMAKE_C_FLAGS="$(SANITIZE_FLAGS)" -DCMAKE_CXX_FLAGS="$(SANITIZE_FLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE_FLAGS)" \
	  -DCMAKE_SHARED_LINKER_FLAGS="$(SANITIZE_FLAGS)" >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900 -E PackageInstallTest

# -O1: ThreadSanitizer at -O0 is several times slower and finds nothing more.
tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug $(LAUNCHER) \
	  -DCMAKE_C_FLAGS="$(TSAN_FLAGS) -O1" -DCMAKE_CXX_FLAGS="$(TSAN_FLAGS) -O1" \
	  -DCMAKE_EXE_LINKER_FLAGS="$(TSAN_FLAGS)" \
	  -DCMAKE_SHARED_LINKER_FLAGS="$(TSAN_FLAGS)" >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS) --timeout 900 \
	    -R '$(TSAN_TESTS)'

# `make lint-openapi`: Redocly CLI's recommended rules on both OpenAPI files
# (errors fail, warnings are shown). Optional and not part of `make test`: it
# installs @redocly/cli from the npm registry into $(BUILD)/redocly on first
# use, and CI may not reach the registry. OpenApiSpecTest (in `make test`)
# is what keeps docs/openapi.yaml equal to the served routes.
REDOCLY_VERSION ?= 2.77.0
REDOCLY = $(BUILD)/redocly/node_modules/.bin/redocly

$(REDOCLY):
	@command -v npm >/dev/null || { echo "lint-openapi needs npm (apt-get install npm)" >&2; exit 1; }
	@mkdir -p $(BUILD)/redocly
	@npm install --prefix $(BUILD)/redocly --no-audit --no-fund --loglevel=error @redocly/cli@$(REDOCLY_VERSION)

lint-openapi: $(REDOCLY)
	@REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	  $(REDOCLY) lint docs/openapi.yaml docs/openapi-metrics.yaml

clean:
	rm -rf $(BUILD) build-release build-asan build-tsan build-package

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i
