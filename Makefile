# zpoline in Rust: build, run, test, benchmark.
#
#   make              build everything (release): libzpoline.so, the example hook, the benchmark
#   make run          run CMD (default: ls -la /) under libzpoline.so with the example hook
#   make test         build, then run the integration tests
#   make bench        build, then run the benchmark (apps/bench)
#   make lint         cargo fmt --check and clippy -D warnings
#   make install      install zpoline (bin), the libraries (lib/zpoline), zpoline.h and
#                     zpoline.pc under $(DESTDIR)$(PREFIX)
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
BINDIR ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=
VERSION := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)

.PHONY: all build run test bench lint fmt clean install install-files uninstall mmap-min-addr help

all: build

build:
	$(CARGO) build --release --workspace $(CARGOFLAGS)
	$(CARGO) build --release -p hook-sdk --examples $(CARGOFLAGS)

# Needs vm.mmap_min_addr=0: sets it as root, explains how otherwise.
mmap-min-addr:
	@$(CURDIR)/scripts/mmap-min-addr.sh

run: build mmap-min-addr
	LIBZPHOOK=$(HOOK) LD_PRELOAD=$(ZPOLINE) $(CMD)

# The integration tests (tests/) load the release .so files, which `cargo test` does not build
# for cdylib-only packages: build the workspace first.
test: mmap-min-addr
	$(CARGO) build --release --workspace $(CARGOFLAGS)
	$(CARGO) build --release -p hook-sdk --examples $(CARGOFLAGS)
	@$(CURDIR)/scripts/test-summary.sh $(CARGO) test --release --workspace --no-fail-fast $(CARGOFLAGS)

bench: build mmap-min-addr
	$(BENCH) $(BENCH_ARGS)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets $(CARGOFLAGS) -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace $(CARGOFLAGS)

fmt:
	$(CARGO) fmt --all

install: build install-files

# The files only (what `install` copies after building); the tests call it.
install-files:
	install -d $(DESTDIR)$(LIBDIR)/zpoline $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(ZPOLINE) $(DESTDIR)$(LIBDIR)/zpoline/libzpoline.so
	install -m 0755 $(RELEASE_DIR)/libzphook_basic.so $(DESTDIR)$(LIBDIR)/zpoline/libzphook_basic.so
	install -m 0755 $(RELEASE_DIR)/libzphook_count.so $(DESTDIR)$(LIBDIR)/zpoline/libzphook_count.so
	install -m 0755 $(RELEASE_DIR)/libzphook_trace.so $(DESTDIR)$(LIBDIR)/zpoline/libzphook_trace.so
	install -m 0755 $(RELEASE_DIR)/libzphook_rules.so $(DESTDIR)$(LIBDIR)/zpoline/libzphook_rules.so
	install -m 0755 $(RELEASE_DIR)/zpoline $(DESTDIR)$(BINDIR)/zpoline
	install -m 0644 hook-sdk/include/zpoline.h $(DESTDIR)$(INCLUDEDIR)/zpoline.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@BINDIR@|$(BINDIR)|' -e 's|@VERSION@|$(VERSION)|' hook-sdk/zpoline.pc.in \
		> $(DESTDIR)$(PKGCONFIGDIR)/zpoline.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/zpoline.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/zpoline/libzpoline.so $(DESTDIR)$(LIBDIR)/zpoline/libzphook_basic.so \
		$(DESTDIR)$(LIBDIR)/zpoline/libzphook_count.so $(DESTDIR)$(LIBDIR)/zpoline/libzphook_trace.so \
		$(DESTDIR)$(LIBDIR)/zpoline/libzphook_rules.so
	-rmdir $(DESTDIR)$(LIBDIR)/zpoline
	rm -f $(DESTDIR)$(BINDIR)/zpoline $(DESTDIR)$(INCLUDEDIR)/zpoline.h $(DESTDIR)$(PKGCONFIGDIR)/zpoline.pc

clean:
	$(CARGO) clean

help:
	@sed -n '1,14p' Makefile | sed 's/^# \{0,1\}//'
