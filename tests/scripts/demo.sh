#!/usr/bin/env bash
# make demo: start the fake devicecloud API and a fake Supabase Realtime on loopback, write a
# demo login session to a temporary DCD_CONFIG_DIR, and run the real `dcd status --watch`
# against a run that takes about 20 seconds. The backstop poll is 60 s, so every update you
# see arrives through realtime. Everything stays on 127.0.0.1; no account needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --release --locked --bin dcd --example fake-cloud
tmp=$(mktemp -d)
trap 'kill "$fake" 2>/dev/null || true; rm -rf "$tmp"' EXIT
target/release/examples/fake-cloud --realtime --port-file "$tmp/urls" 2>/dev/null &
fake=$!
for _ in $(seq 100); do [ "$(wc -l < "$tmp/urls" 2>/dev/null || echo 0)" -ge 1 ] && break; sleep 0.05; done
api=$(sed -n 1p "$tmp/urls")
realtime=$(sed -n 2p "$tmp/urls")
mkdir -p "$tmp/config"
cat > "$tmp/config/config.json" <<JSON
{
  "version": 1,
  "env": "prod",
  "api_url": "$api",
  "supabase_url": "$realtime",
  "session": {
    "access_token": "demo-access-token",
    "refresh_token": "demo-refresh-token",
    "expires_at": $(( $(date +%s) + 3600 )),
    "user_email": "demo@example.com",
    "user_id": "demo-user"
  },
  "current_org_id": "1",
  "current_org_name": "Demo org"
}
JSON
echo "Fake devicecloud API on $api, fake Realtime on $realtime"
echo "Logged in as demo@example.com; watching upload 'demo-run' (backstop poll every 60 s, updates via realtime)"
echo
set +e
DCD_CONFIG_DIR="$tmp/config" target/release/dcd status --watch --name demo-run
code=$?
echo
echo "dcd exited with $code"
