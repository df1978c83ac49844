# pgfleet: the two commands a new user needs are `make run` and `make test`.
# Every target runs scripts/bootstrap.sh first, which installs what is missing.

BUILD      ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build run stop test unit bench lint format clean fuzz

all: build

deps:
	@scripts/bootstrap.sh

build: deps
	@scripts/build.sh $(BUILD)

run: build
	@scripts/run.sh $(BUILD)/pgfleet

stop:
	@scripts/run.sh --stop

test: deps
	@scripts/test.sh

unit: deps
	@scripts/build.sh $(ASAN_BUILD) -Dsanitize=true && meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs

bench: build
	@bench/http/run.sh $(BUILD)/pgfleet
	@bench/discover/run.sh $(BUILD)
	@bench/migrate/run.sh $(BUILD)
	@bench/alerts/run.sh $(BUILD)
	@bench/ui/run.sh $(BUILD)/pgfleet

# libFuzzer targets (clang), each for FUZZ_SECONDS (default 60)
fuzz: deps
	@scripts/fuzz.sh

lint: deps
	@scripts/lint.sh

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
