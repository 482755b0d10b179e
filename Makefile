# The two commands of the README: `make demo` and `make test`. Both install the Debian packages
# they need first (scripts/install-deps, idempotent), then build into ./build.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DDUNNING_WERROR=ON

.PHONY: all deps build demo test test-later-days test-sanitize fuzz install clean

all: build

deps:
	bash scripts/install-deps

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	bash scripts/demo $(BUILD)/dunningd

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The integration tests again as if today were a later day, at another hour: libfaketime shifts
# the clock of every dunningd the tests start, and the tests date their data by the same shift.
# A test that passes today and fails on one of these days depends on the calendar. (The fault
# tests, which date everything relative to now and take a minute, run in the main pass only.)
LATER_DAYS ?= 40d 400d13h
test-later-days: build
	@for shift in $(LATER_DAYS); do \
	  echo "== integration tests as if it were $$shift later"; \
	  DUNNING_TEST_TIME_SHIFT=$$shift ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) \
	    -R '^integration\.' -E '^integration\.(test_faults|test_crash_soak)$$' || exit 1; \
	done

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer (CI runs it too).
test-sanitize: deps
	cmake -S . -B build-asan -DDUNNING_WERROR=ON -DDUNNING_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-asan -j $(JOBS)
	DUNNING_SANITIZED=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  ctest --test-dir build-asan --output-on-failure -j $(JOBS)

# Every libFuzzer target (clang, ASan+UBSan, build-fuzz/) for FUZZ_SECONDS each, from its seed
# corpus; fails on a crash, a hang or a broken invariant (the input lands in build-fuzz/artifacts).
FUZZ_SECONDS ?= 10
fuzz: deps
	JOBS=$(JOBS) bash fuzz/run $(FUZZ_SECONDS)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz _demo
