#!/bin/sh
# Installs the Debian tools some end-to-end tests use when they are missing: shellcheck (the
# installer's lint, tests/integration/install.rs) and dash (the installer run as `sh`). A
# test whose tool is still missing says SKIPPED. Idempotent; quiet when all is there.
set -u
missing=
command -v shellcheck >/dev/null 2>&1 || missing="$missing shellcheck"
command -v dash >/dev/null 2>&1 || missing="$missing dash"
[ -n "$missing" ] || exit 0
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "test tools: installing$missing"
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing; } >/dev/null 2>&1; then
    echo "test tools: could not install$missing; the tests that need them will say SKIPPED" >&2
fi
exit 0
