# zpoline in Rust: build, run, test, benchmark.
#
#   make              build everything (release): libzpoline.so, the example hook, the benchmark
#   make run          run CMD (default: ls -la /) under libzpoline.so with the example hook
#   make test         build, then run the integration tests
#   make bench        build, then run the benchmark (apps/bench)
#   make lint         cargo fmt --check and clippy -D warnings
#   make install      install the two libraries under $(DESTDIR)$(PREFIX)/lib/zpoline
#   make clean        cargo clean
#
# `make run`, `make test` and `make bench` first make sure vm.mmap_min_addr is 0
# (scripts/mmap-min-addr.sh): as root they set it; otherwise they print how and stop.

CARGO ?= cargo
CARGOFLAGS ?=
TARGET_DIR ?= $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR),$(CURDIR)/target)
RELEASE_DIR := $(TARGET_DIR)/release

ZPOLINE := $(RELEASE_DIR)/libzpoline.so
HOOK ?= $(RELEASE_DIR)/libzphook_basic.so
BENCH := $(RELEASE_DIR)/zpoline-bench
CMD ?= ls -la /
BENCH_ARGS ?=

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
DESTDIR ?=

.PHONY: all build run test bench lint fmt clean install uninstall mmap-min-addr help

all: build

build:
	$(CARGO) build --release --workspace $(CARGOFLAGS)

# Needs vm.mmap_min_addr=0: sets it as root, explains how otherwise.
mmap-min-addr:
	@$(CURDIR)/scripts/mmap-min-addr.sh

run: build mmap-min-addr
	LIBZPHOOK=$(HOOK) LD_PRELOAD=$(ZPOLINE) $(CMD)

# The integration tests (tests/) load the release .so files, which `cargo test` does not build
# for cdylib-only packages: build the workspace first.
test: mmap-min-addr
	$(CARGO) build --release --workspace $(CARGOFLAGS)
	@$(CURDIR)/scripts/test-summary.sh $(CARGO) test --release --workspace --no-fail-fast $(CARGOFLAGS)

bench: build mmap-min-addr
	$(BENCH) $(BENCH_ARGS)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets $(CARGOFLAGS) -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace $(CARGOFLAGS)

fmt:
	$(CARGO) fmt --all

install: build
	install -d $(DESTDIR)$(LIBDIR)/zpoline
	install -m 0755 $(ZPOLINE) $(DESTDIR)$(LIBDIR)/zpoline/libzpoline.so
	install -m 0755 $(RELEASE_DIR)/libzphook_basic.so $(DESTDIR)$(LIBDIR)/zpoline/libzphook_basic.so

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/zpoline/libzpoline.so $(DESTDIR)$(LIBDIR)/zpoline/libzphook_basic.so
	-rmdir $(DESTDIR)$(LIBDIR)/zpoline

clean:
	$(CARGO) clean

help:
	@sed -n '1,13p' Makefile | sed 's/^# \{0,1\}//'
