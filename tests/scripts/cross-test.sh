#!/usr/bin/env bash
# The other platforms' builds tested on this Linux machine (docs/building.md, "Testing the other
# platforms"), after `make dist`:
#
#   linux-arm64 under qemu-user: the unit tests (built by cargo-zigbuild, run by qemu-aarch64),
#     every end-to-end test that starts dcd, with dist/dcd-linux-arm64 as that dcd
#     (DCD_TEST_BIN, DCD_TEST_RUNNER), and the smoke run;
#   windows-x64 under Wine: the unit tests (one Wine process each), the smoke run of
#     dist/dcd-windows-x64.exe (fakes native on 127.0.0.1: Wine shares the host's network), a
#     Ctrl-C during a wait (exit 130 and the re-attach hint) and `dcd upgrade` replacing the
#     running dcd.exe.
#
# The macOS builds cannot run here: `make dist` checks their architecture and minimum macOS.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tests/scripts/cross-tools.sh test
for f in dist/dcd-linux-arm64 dist/dcd-windows-x64.exe; do
	[ -f "$f" ] || { echo "cross-test: $f is missing: run make dist first"; exit 1; }
done

tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

echo "== linux-arm64: unit tests under qemu-aarch64"
# The stop signal is process-wide: its own test runs apart from the rest (cargo test threads).
arm() {
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER=qemu-aarch64 \
		cargo-zigbuild test --locked --quiet --lib --target aarch64-unknown-linux-musl -- "$@" \
		>"$tmp/arm.log" 2>&1 || { tail -40 "$tmp/arm.log"; echo "cross-test: arm64 unit tests failed"; exit 1; }
	grep -E '^test result' "$tmp/arm.log"
}
arm --skip exit::signal::
arm exit::signal::

echo "== linux-arm64: end-to-end tests with dist/dcd-linux-arm64 under qemu-aarch64"
# Left out: the modules that start no dcd (they test the tree, the fakes, or library code
# in-process, which the unit tests above already ran under qemu).
DCD_TEST_BIN=$root/dist/dcd-linux-arm64 DCD_TEST_RUNNER=qemu-aarch64 \
	cargo nextest run --locked --no-fail-fast --cargo-quiet --status-level fail \
	-E 'binary(integration) - test(/^(architecture|workflows|install|fake_cloud|fake_realtime|realtime_conformance|realtime_client|tus_conformance|parsers_never_panic)::/)'
DCD_TEST_RUNNER=qemu-aarch64 tests/scripts/smoke.sh dist/dcd-linux-arm64

echo "== windows-x64: unit tests under Wine"
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$root/tests/scripts/wine.sh \
	cargo nextest run --locked --no-fail-fast --cargo-quiet --status-level fail \
	--lib --target x86_64-pc-windows-gnu
echo "== windows-x64: dist/dcd-windows-x64.exe under Wine"
DCD_TEST_RUNNER=tests/scripts/wine.sh tests/scripts/smoke.sh dist/dcd-windows-x64.exe

cargo build --quiet --locked --example fake-cloud
# Ctrl-C during a wait: Wine turns SIGINT into the console's CTRL_C_EVENT.
target/debug/examples/fake-cloud --step-ms 600000 --port-file "$tmp/url" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.05; done
DCD_CONFIG_DIR="$tmp/cfg" tests/scripts/wine.sh dist/dcd-windows-x64.exe status --watch \
	--name demo-run --api-key smoke-key --api-url "$(head -n1 "$tmp/url")" >"$tmp/out" 2>"$tmp/err" &
waiter=$!
for _ in $(seq 200); do grep -q 'pending' "$tmp/out" 2>/dev/null && break; sleep 0.05; done
pkill -INT -f '^dist/dcd-windows-x64.exe status --watch' || true
set +e
wait "$waiter"
code=$?
set -e
if [ "$code" != 130 ] || ! grep -q 'Re-attach with: dcd status --upload-id' "$tmp/err"; then
	echo "cross-test: Ctrl-C under Wine exited $code"; cat "$tmp/err"; exit 1
fi
echo "windows: Ctrl-C during status --watch → exit 130 with the re-attach hint"

# dcd upgrade replacing the running dcd.exe: a release tree with a stand-in binary.
new=99.0.0-test.1
mkdir -p "$tmp/host/download/$new" "$tmp/bin"
x86_64-w64-mingw32-gcc -O2 -DVERSION="\"$new\"" -o "$tmp/host/download/$new/dcd-windows-x64.exe" \
	tests/support/wine/stand-in.c
(cd "$tmp/host/download/$new" && sha256sum dcd-windows-x64.exe >SHA256SUMS)
printf '{"version": "%s"}\n' "$new" >"$tmp/host/latest.json"
python3 -m http.server --bind 127.0.0.1 --directory "$tmp/host" 0 >"$tmp/http.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q 'port' "$tmp/http.log" && break; sleep 0.05; done
port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$tmp/http.log" | head -n1)
cp dist/dcd-windows-x64.exe "$tmp/bin/dcd.exe"
set +e
DCD_CONFIG_DIR="$tmp/cfg" DCD_DOWNLOAD_BASE="http://127.0.0.1:$port" \
	tests/scripts/wine.sh "$tmp/bin/dcd.exe" upgrade >"$tmp/up.out" 2>"$tmp/up.err"
code=$?
set -e
ran=$(tests/scripts/wine.sh "$tmp/bin/dcd.exe" | tr -d '\r')
if [ "$code" != 0 ] || [ "$ran" != "$new" ] || ! cmp -s dist/dcd-windows-x64.exe "$tmp/bin/dcd.exe.old"; then
	echo "cross-test: upgrade under Wine exited $code; the new dcd.exe says '$ran'"
	cat "$tmp/up.out" "$tmp/up.err"; ls -la "$tmp/bin"; exit 1
fi
echo "windows: dcd upgrade → the running dcd.exe moved aside to dcd.exe.old, the new one in place and running ($ran)"
