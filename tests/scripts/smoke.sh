#!/usr/bin/env bash
# Smoke test of a built dcd binary (the static one in CI): --version, one real
# `status --watch` against the fake cloud on loopback, which must end PASSED with exit 0, and
# `cloud --async` of a generated 600-flow workspace (the parse threads, the zip, the upload
# and the submission: the shipped allocator under the planner's load), which must submit
# every flow.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: tests/scripts/smoke.sh path/to/dcd}
file "$bin" | grep -q 'static' || { echo "smoke: $bin is not statically linked"; file "$bin"; exit 1; }
version=$("$bin" --version)
echo "smoke: dcd --version → $version"
want=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[ "$version" = "$want" ] || { echo "smoke: --version says $version, Cargo.toml says $want"; exit 1; }
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

python3 - "$tmp/ws" <<'PY'
import os, sys
root = sys.argv[1]
os.makedirs(f"{root}/sub", exist_ok=True)
for i in range(20):
    open(f"{root}/sub/s{i}.yaml", "w").write(f"appId: x\n---\n- tapOn: 'S {i}'\n")
for i in range(600):
    open(f"{root}/f{i:03}.yaml", "w").write(
        f"appId: x\nname: Flow {i}\ntags: [t{i % 3}]\n---\n- runFlow: sub/s{i % 20}.yaml\n")
PY
url=$(head -n1 "$tmp/url")
set +e
DCD_CONFIG_DIR="$tmp/cfg" DCD_SUPABASE_URL="$url" "$bin" cloud --api-key smoke-key --api-url "$url" \
	--app-binary-id smoke-bin "$tmp/ws" --async --json >"$tmp/async.json" 2>"$tmp/err"
code=$?
set -e
flows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["tests"]))' "$tmp/async.json" 2>/dev/null || echo none)
if [ "$code" != 0 ] || [ "$flows" != 600 ]; then
	echo "smoke: cloud --async exited $code with $flows tests"; head -c 2000 "$tmp/async.json"; cat "$tmp/err"; exit 1
fi
echo "smoke: cloud --async of 600 flows against the fake cloud → 600 tests submitted, exit 0"
