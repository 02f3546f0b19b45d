#!/bin/sh
# Installs what building and testing the five platform binaries needs, when it is missing
# (docs/building.md, "Every platform"): the Rust targets (rustup), Zig and cargo-zigbuild (PyPI,
# pinned: the linker of the arm64 Linux and both macOS builds), and from Debian mingw-w64 (the
# Windows build's linker), qemu-user (runs the arm64 build here) and wine64 (runs the Windows
# build here). Idempotent and quiet when everything is there.
#
#   cross-tools.sh build    what `make dist` needs
#   cross-tools.sh test     that, and the emulators the cross tests use
set -eu

ZIGLANG=0.17.1
CARGO_ZIGBUILD=0.24.1
TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-musl aarch64-apple-darwin x86_64-apple-darwin x86_64-pc-windows-gnu"

want=${1:-build}
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

installed=$(rustup target list --installed)
for t in $TARGETS; do
    printf '%s\n' "$installed" | grep -qx "$t" || rustup target add "$t"
done

py_version() {
    python3 -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'
}
if [ "$(py_version ziglang)" != "$ZIGLANG" ] || [ "$(py_version cargo-zigbuild)" != "$CARGO_ZIGBUILD" ]; then
    echo "cross tools: pip install ziglang==$ZIGLANG cargo-zigbuild==$CARGO_ZIGBUILD"
    python3 -m pip install -q --disable-pip-version-check "ziglang==$ZIGLANG" "cargo-zigbuild==$CARGO_ZIGBUILD"
fi

debs=
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || debs="$debs gcc-mingw-w64-x86-64"
command -v x86_64-linux-musl-gcc >/dev/null 2>&1 || command -v musl-gcc >/dev/null 2>&1 || debs="$debs musl-tools"
if [ "$want" = test ]; then
    command -v qemu-aarch64 >/dev/null 2>&1 || debs="$debs qemu-user"
    command -v wine >/dev/null 2>&1 || debs="$debs wine64"
fi
if [ -n "$debs" ]; then
    echo "cross tools: apt-get install$debs"
    # shellcheck disable=SC2086
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $debs >/dev/null
fi
