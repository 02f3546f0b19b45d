#!/usr/bin/env bash
# make demo: start the fake devicecloud API on loopback and run the real `dcd status --watch`
# against a run that takes about 20 seconds, so a newcomer sees the live wait without an
# account. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release --locked --bin dcd --example fake-cloud
tmp=$(mktemp -d)
trap 'kill "$fake" 2>/dev/null || true; rm -rf "$tmp"' EXIT
target/release/examples/fake-cloud --port-file "$tmp/url" 2>/dev/null &
fake=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.05; done
url=$(cat "$tmp/url")
echo "Fake devicecloud API on $url — watching upload 'demo-run' (API-key mode, 20 s polls sped up 5×)"
echo
set +e
DCD_CONFIG_DIR="$tmp/config" DCD_TIME_SCALE="${DCD_TIME_SCALE:-0.2}" \
	target/release/dcd status --watch --name demo-run --api-key demo-key --api-url "$url"
code=$?
echo
echo "dcd exited with $code"
