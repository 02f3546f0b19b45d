# dcd — the devicecloud.dev CLI in Rust.
#   make demo    dcd cloud on a sample workspace against a local fake cloud (no account needed)
#   make test    the whole test suite
#   make static  a fully static, stripped x86_64 musl binary
#   make dist    the five platform binaries, SHA256SUMS, latest.json and install.sh in dist/
#   make bench   start-up, memory, CPU and size figures beside a baseline
#   make lint    rustfmt + clippy -D warnings

MUSL_TARGET := x86_64-unknown-linux-musl
STATIC_BIN  := target/$(MUSL_TARGET)/release/dcd

# Link flags of the shipped binary (docs/building.md): a non-PIE static executable (no
# self-relocation at start, ~100 KB of relocations less); the toolchain's own lld, which
# folds identical functions (--icf=all: generic code instantiated for types of one layout);
# no .eh_frame_hdr (the binary is stripped and aborts on panic, so a backtrace would be bare
# addresses; the panic message and its location are still printed); and source paths
# without the builder's home directory (shorter panic locations, nothing of the build
# machine in the binary). Without the toolchain's lld, the default linker is used.
comma       := ,
CARGO_HOME  ?= $(HOME)/.cargo
GCC_LD      := $(shell rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld
STATIC_RUSTFLAGS := -C relocation-model=static \
	$(if $(wildcard $(GCC_LD)/ld.lld),-C link-arg=-B$(GCC_LD) -C link-arg=-fuse-ld=lld -C link-arg=-Wl$(comma)--icf=all) \
	-C link-arg=-Wl$(comma)--no-eh-frame-hdr \
	$(foreach d,$(wildcard $(CARGO_HOME)/registry/src/*),--remap-path-prefix=$(d)/=) \
	--remap-path-prefix=$(CURDIR)/=

# The other four platforms (docs/building.md, "Every platform"): arm64 Linux (static musl) and
# both macOS builds are linked by Zig through cargo-zigbuild (Zig's linker takes no --icf);
# Windows by Debian's mingw-w64. The macOS builds promise what their deployment target says.
VERSION     := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
REMAP_FLAGS := $(foreach d,$(wildcard $(CARGO_HOME)/registry/src/*),--remap-path-prefix=$(d)/=) \
	--remap-path-prefix=$(CURDIR)/=

.PHONY: build test static musl-toolchain dist cross-tools demo bench lint clean

build:
	cargo build --release --locked

# nextest's summary line counts every test that ran; plain cargo test is the fallback.
# The realtime-js conformance test needs its pinned npm packages: installed here when Node is
# present (into the ignored tests/conformance/node_modules), skipped visibly when not.
test:
	-@tests/conformance/install.sh
	-@tests/scripts/test-tools.sh
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --locked --no-fail-fast --cargo-quiet; \
	else \
		cargo test --locked --no-fail-fast; \
	fi

# Without .eh_frame_hdr no unwinder finds a frame, so the unwind tables rustc emits for every
# function on x86-64 Linux whatever the panic strategy (.eh_frame, ~320 KB) are never read:
# they are removed after the link (docs/building.md, "What keeps it small").
static: musl-toolchain
	CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="$(STATIC_RUSTFLAGS)" \
		cargo build --release --locked --target $(MUSL_TARGET)
	@objcopy --remove-section=.eh_frame $(STATIC_BIN)
	@file $(STATIC_BIN)
	@ls -l $(STATIC_BIN)

# ring's C code needs a musl C compiler; install the target and musl-tools when missing.
musl-toolchain:
	@rustup target list --installed | grep -qx $(MUSL_TARGET) || rustup target add $(MUSL_TARGET)
	@command -v x86_64-linux-musl-gcc >/dev/null 2>&1 || command -v musl-gcc >/dev/null 2>&1 || { \
		echo "installing musl-tools"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq musl-tools; }

cross-tools:
	@tests/scripts/cross-tools.sh build

dist: static cross-tools
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C relocation-model=static -C link-arg=-Wl$(comma)--no-eh-frame-hdr $(REMAP_FLAGS)" \
		cargo zigbuild --release --locked --target aarch64-unknown-linux-musl
	MACOSX_DEPLOYMENT_TARGET=11.0 CARGO_TARGET_AARCH64_APPLE_DARWIN_RUSTFLAGS="$(REMAP_FLAGS)" \
		cargo zigbuild --release --locked --target aarch64-apple-darwin
	MACOSX_DEPLOYMENT_TARGET=10.12 CARGO_TARGET_X86_64_APPLE_DARWIN_RUSTFLAGS="$(REMAP_FLAGS)" \
		cargo zigbuild --release --locked --target x86_64-apple-darwin
	CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="$(REMAP_FLAGS)" \
		cargo build --release --locked --target x86_64-pc-windows-gnu
	@tests/scripts/dist.sh $(VERSION)

demo:
	@tests/scripts/demo.sh

bench: static
	@tests/scripts/bench.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings

clean:
	cargo clean
	rm -rf dist
