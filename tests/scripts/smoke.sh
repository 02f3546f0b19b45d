#!/usr/bin/env bash
# Smoke test of a built dcd binary (the static one in CI): --version, then one real
# `status --watch` against the fake cloud on loopback, which must end PASSED with exit 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: tests/scripts/smoke.sh path/to/dcd}
file "$bin" | grep -q 'static' || { echo "smoke: $bin is not statically linked"; file "$bin"; exit 1; }
version=$("$bin" --version)
echo "smoke: dcd --version → $version"
cargo build --quiet --locked --example fake-cloud
tmp=$(mktemp -d)
trap 'kill "$fake" 2>/dev/null || true; rm -rf "$tmp"' EXIT
target/debug/examples/fake-cloud --step-ms 200 --port-file "$tmp/url" 2>/dev/null &
fake=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.05; done
set +e
DCD_CONFIG_DIR="$tmp/cfg" DCD_TIME_SCALE=0.05 "$bin" status --watch --name demo-run \
	--api-key smoke-key --api-url "$(head -n1 "$tmp/url")" --json >"$tmp/out.json" 2>"$tmp/err"
code=$?
set -e
if [ "$code" != 0 ] || ! grep -q '"status": "PASSED"' "$tmp/out.json"; then
	echo "smoke: status --watch exited $code"; cat "$tmp/out.json" "$tmp/err"; exit 1
fi
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out.json"
echo "smoke: status --watch against the fake cloud → PASSED, exit 0"
