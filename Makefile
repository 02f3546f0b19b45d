# dcd — the devicecloud.dev CLI in Rust.
#   make demo    dcd cloud on a sample workspace against a local fake cloud (no account needed)
#   make test    the whole test suite
#   make static  a fully static, stripped x86_64 musl binary
#   make bench   start-up, memory, CPU and size figures beside a baseline
#   make lint    rustfmt + clippy -D warnings

MUSL_TARGET := x86_64-unknown-linux-musl
STATIC_BIN  := target/$(MUSL_TARGET)/release/dcd

.PHONY: build test static musl-toolchain demo bench lint clean

build:
	cargo build --release --locked

# nextest's summary line counts every test that ran; plain cargo test is the fallback.
# The realtime-js conformance test needs its pinned npm packages: installed here when Node is
# present (into the ignored tests/conformance/node_modules), skipped visibly when not.
test:
	-@tests/conformance/install.sh
	@if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --locked --no-fail-fast --cargo-quiet; \
	else \
		cargo test --locked --no-fail-fast; \
	fi

static: musl-toolchain
	cargo build --release --locked --target $(MUSL_TARGET)
	@file $(STATIC_BIN)
	@ls -l $(STATIC_BIN)

# ring's C code needs a musl C compiler; install the target and musl-tools when missing.
musl-toolchain:
	@rustup target list --installed | grep -qx $(MUSL_TARGET) || rustup target add $(MUSL_TARGET)
	@command -v x86_64-linux-musl-gcc >/dev/null 2>&1 || command -v musl-gcc >/dev/null 2>&1 || { \
		echo "installing musl-tools"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq musl-tools; }

demo:
	@tests/scripts/demo.sh

bench: static
	@tests/scripts/bench.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings

clean:
	cargo clean
