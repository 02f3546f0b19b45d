#!/bin/sh
# Runs a Windows program of dcd's under Wine for the tests (docs/building.md, "Testing the
# other platforms"): `tests/scripts/wine.sh <program.exe> [args...]`, and the cargo runner of
# the x86_64-pc-windows-gnu target (CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER).
#
# A Wine prefix of the project's own (target/wine-prefix, made once, quietly), with the
# stand-in bcryptprimitives.dll Wine 8 lacks (tests/support/wine/), a fresh temporary directory
# per run (Wine gives every process the same pid, so names made from it would collide across
# runs), and Wine's own chatter off. The program's exit code is Wine's.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
wine=/usr/lib/wine/wine64
[ -x "$wine" ] || wine=$(command -v wine64 || command -v wine)
export WINEPREFIX="${DCD_WINEPREFIX:-$root/target/wine-prefix}"
export WINEDEBUG=-all
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$dll" ]; then
    mkdir -p "$WINEPREFIX"
    "$wine" wineboot -i >/dev/null 2>&1 || true
    x86_64-w64-mingw32-gcc -O2 -shared -o "$dll" \
        "$root/tests/support/wine/bcryptprimitives.c" \
        "$root/tests/support/wine/bcryptprimitives.def" -ladvapi32
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dcd-wine-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Windows reads its temporary directory from TMP; Wine's Z: drive is the Unix root.
TMP="Z:$(printf '%s' "$tmp" | sed 's|/|\\|g')"
TEMP=$TMP
export TMP TEMP
"$wine" "$@"
