# Ferry: the two commands of the README, and a few more for developers.
#
#   make test    set up, build (release, asan, fuzz) and run the whole suite
#   make bench   run the benchmarks (release build)
#   make fuzz    run every fuzz target for FUZZ_SECONDS (default 600) each
#   make demo    set up, build (release), run ferryd between namespaces and QEMU guests

FUZZ_SECONDS ?= 600
CTEST_JOBS ?= 2

.PHONY: test setup release asan fuzz-build bench fuzz format clean demo

test: setup
	cmake --preset release
	cmake --build --preset release
	ctest --preset release -j $(CTEST_JOBS)
	cmake --preset asan
	cmake --build --preset asan
	ctest --preset asan -j $(CTEST_JOBS)
	cmake --preset fuzz
	cmake --build --preset fuzz
	ctest --test-dir build/fuzz -L fuzz -j $(CTEST_JOBS) --output-on-failure

setup:
	scripts/setup

release: setup
	cmake --preset release
	cmake --build --preset release

bench: release
	scripts/bench

# setup (via release), the release build, then the demo.
demo: release
	scripts/demo

fuzz: setup
	cmake --preset fuzz -DFERRY_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build --preset fuzz
	ctest --test-dir build/fuzz -L fuzz --output-on-failure --timeout 0

format:
	find src apps tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf build
