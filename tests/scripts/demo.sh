#!/usr/bin/env bash
# make demo: the whole product on loopback, no account needed. Starts the fake devicecloud API
# and a fake Supabase (Realtime and storage), writes a demo login session to a temporary
# DCD_CONFIG_DIR, and runs the real `dcd cloud` on the sample workspace fixtures/demo/: the
# plan, the flow zip, the upload, the submission, the live wait (every update arrives through
# realtime; the backstop poll is 60 s), the verdict and the console link. The run takes about
# 20 seconds. Then `dcd status` re-attaches to the finished run. Works on a terminal (the live
# frame) and in a pipe or CI (the append-only log).
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "Building dcd and the fake cloud (release build; the first one takes a few minutes)…"
cargo build --quiet --release --locked --bin dcd --example fake-cloud

tmp=$(mktemp -d)
fake=""
cleanup() {
	if [ -n "$fake" ]; then
		kill "$fake" 2>/dev/null || true
		wait "$fake" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

target/release/examples/fake-cloud --realtime --port-file "$tmp/urls" 2>"$tmp/fake.log" &
fake=$!
# The port file is renamed into place, complete, once every fake listens: wait for it (and
# stop early if the fake died) instead of reading a file that may not exist yet.
for _ in $(seq 200); do
	[ -s "$tmp/urls" ] && break
	if ! kill -0 "$fake" 2>/dev/null; then
		echo "demo: the fake cloud did not start:" >&2
		cat "$tmp/fake.log" >&2
		exit 1
	fi
	sleep 0.05
done
if [ ! -s "$tmp/urls" ]; then
	echo "demo: the fake cloud did not start within 10 s" >&2
	cat "$tmp/fake.log" >&2
	exit 1
fi
{
	read -r api
	read -r supabase
} <"$tmp/urls"

mkdir -p "$tmp/config"
cat >"$tmp/config/config.json" <<JSON
{
  "version": 1,
  "env": "prod",
  "api_url": "$api",
  "supabase_url": "$supabase",
  "session": {
    "access_token": "demo-access-token",
    "refresh_token": "demo-refresh-token",
    "expires_at": $(($(date +%s) + 3600)),
    "user_email": "demo@example.com",
    "user_id": "demo-user"
  },
  "current_org_id": "1",
  "current_org_name": "Demo org"
}
JSON

# A sample app: a real (if empty) APK whose compiled manifest names com.example.shop.
python3 - "$tmp/demo-app.apk" fixtures/apps/AndroidManifest.xml <<'PY'
import os, sys, zipfile
out, manifest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(manifest, "AndroidManifest.xml")
    z.writestr("classes.dex", os.urandom(3 << 20))
PY

export DCD_CONFIG_DIR="$tmp/config" DCD_SUPABASE_URL="$supabase" DCD_NO_UPDATE_CHECK=1
echo "Fake devicecloud API on $api, fake Supabase (Realtime, storage) on $supabase"
echo "Logged in as demo@example.com (Demo org). Running:"
echo "  dcd cloud demo-app.apk fixtures/demo/"
echo
set +e
target/release/dcd cloud "$tmp/demo-app.apk" fixtures/demo/
code=$?
echo
echo "dcd exited with $code. Re-attaching to the finished run: dcd status --name demo-run"
echo
target/release/dcd status --name demo-run
