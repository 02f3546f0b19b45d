#!/usr/bin/env bash
# Smoke test of a built dcd binary (the static ones and the Windows one in CI): --version,
# one real `status --watch` against the fake cloud on loopback, which must end PASSED with
# exit 0; `cloud --async` of a generated 600-flow workspace (the parse threads, the zip, the
# upload and the submission: the shipped allocator under the planner's load), which must
# submit every flow; the plan of a workspace named with backslashes (a Windows user's path),
# whose zip keys must be `/`-separated; and `dcd upload` of an app, by its JSON.
#
#   tests/scripts/smoke.sh path/to/dcd                      # a Linux binary, run natively
#   DCD_TEST_RUNNER=tests/scripts/wine.sh tests/scripts/smoke.sh dist/dcd-windows-x64.exe
#   DCD_TEST_RUNNER=qemu-aarch64 tests/scripts/smoke.sh dist/dcd-linux-arm64
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: tests/scripts/smoke.sh path/to/dcd}
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
runner=${DCD_TEST_RUNNER:-}
case "$runner" in */*) runner="$(cd "$(dirname "$runner")" && pwd)/$(basename "$runner")" ;; esac
dcd() {
	if [ -n "$runner" ]; then "$runner" "$bin" "$@"; else "$bin" "$@"; fi
}
case "$(file -b "$bin")" in
	ELF*) file "$bin" | grep -q 'static' || { echo "smoke: $bin is not statically linked"; file "$bin"; exit 1; } ;;
esac
version=$(dcd --version | tr -d '\r')
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
DCD_CONFIG_DIR="$tmp/cfg" DCD_TIME_SCALE=0.05 dcd status --watch --name demo-run \
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
DCD_CONFIG_DIR="$tmp/cfg" DCD_SUPABASE_URL="$url" dcd cloud --api-key smoke-key --api-url "$url" \
	--app-binary-id smoke-bin "$tmp/ws" --async --json >"$tmp/async.json" 2>"$tmp/err"
code=$?
set -e
flows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["tests"]))' "$tmp/async.json" 2>/dev/null || echo none)
if [ "$code" != 0 ] || [ "$flows" != 600 ]; then
	echo "smoke: cloud --async exited $code with $flows tests"; head -c 2000 "$tmp/async.json"; cat "$tmp/err"; exit 1
fi
echo "smoke: cloud --async of 600 flows against the fake cloud → 600 tests submitted, exit 0"

# A Windows user's path: backslashes (a plain character on Unix, so only a Windows binary is
# given one). The plan's zip keys are `/`-separated on every platform.
sep=/
case "$(file -b "$bin")" in PE32*) sep='\' ;; esac
set +e
(cd "$tmp" && DCD_CONFIG_DIR="$tmp/cfg" dcd cloud --api-key smoke-key --api-url "$url" \
	--app-binary-id smoke-bin "ws${sep}sub" --dry-run --json >"$tmp/dry.json" 2>"$tmp/err")
code=$?
set -e
keys=$(python3 - "$tmp/dry.json" <<'PY' 2>/dev/null || echo none
import json, sys
doc = json.load(open(sys.argv[1]))
found = []
def walk(v):
    if isinstance(v, dict):
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
    elif isinstance(v, str) and v.endswith(".yaml"):
        found.append(v)
walk(doc)
bad = [k for k in found if "\\" in k]
print(f"{len(found)} paths" if found and not bad else f"backslashes in {bad[:3]}" if bad else "no paths")
PY
)
if [ "$code" != 0 ] || [ "${keys% paths}" = "$keys" ]; then
	echo "smoke: cloud --dry-run of ws${sep}sub exited $code: $keys"; head -c 2000 "$tmp/dry.json"; cat "$tmp/err"; exit 1
fi
echo "smoke: cloud --dry-run of ws${sep}sub → $keys, every one /-separated"

python3 - "$tmp/app.apk" fixtures/apps/AndroidManifest.xml <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.write(sys.argv[2], "AndroidManifest.xml")
    z.writestr("classes.dex", b"dex\n035\0" * 100)
PY
set +e
(cd "$tmp" && DCD_CONFIG_DIR="$tmp/cfg" DCD_SUPABASE_URL="$url" dcd upload app.apk --api-key smoke-key \
	--api-url "$url" --json >"$tmp/upload.json" 2>"$tmp/err")
code=$?
set -e
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["appBinaryId"])' "$tmp/upload.json" 2>/dev/null || echo none)
if [ "$code" != 0 ] || [ "$id" = none ]; then
	echo "smoke: upload exited $code"; cat "$tmp/upload.json" "$tmp/err"; exit 1
fi
echo "smoke: upload of an .apk → binary id $id, exit 0"
