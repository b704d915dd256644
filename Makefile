# The two commands of the README: `make demo` and `make test`. Everything else is for developers.
BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja
BATON      := $(BUILD)/src/cli/baton

.PHONY: demo test quick-test build deps deps-build bench clean

RELEASE    := -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG"

demo: deps-build
	cmake -S . -B build-release $(CMAKE_GEN) $(RELEASE) -DBATON_BUILD_TESTS=OFF \
	  -DBATON_BUILD_BENCH=OFF -DBATON_BUILD_FUZZ=OFF >/dev/null
	cmake --build build-release -j $(JOBS) --target baton
	./build-release/src/cli/baton run examples/quickstart.yaml -i topic="durable multi-agent workflows" --store .baton/demo.db

test: deps build
	scripts/run-tests $(BUILD)

build:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DBATON_BUILD_BENCH=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

deps:
	scripts/install-deps

deps-build:
	scripts/install-deps --build

# The regular suite only, without the sanitizer stages (quick local runs).
quick-test: deps build
	BATON_SANITIZERS=0 scripts/run-tests $(BUILD)

bench: deps-build
	cmake -S . -B build-bench $(CMAKE_GEN) $(RELEASE) -DBATON_BUILD_TESTS=OFF \
	  -DBATON_BUILD_FUZZ=OFF -DBATON_BUILD_BENCH=ON >/dev/null
	cmake --build build-bench -j $(JOBS) --target baton_bench
	bench/run build-bench

clean:
	rm -rf build build-release build-bench build-asan build-tsan
