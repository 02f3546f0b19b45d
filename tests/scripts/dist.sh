#!/bin/sh
# Assembles dist/ from the five release builds (`make dist` builds them first; docs/building.md,
# "Every platform"), checks each, and writes what a download host serves:
#
#   dist/dcd-linux-x64 dcd-linux-arm64 dcd-darwin-arm64 dcd-darwin-x64 dcd-windows-x64.exe
#   dist/SHA256SUMS            "<sha256 hex>  <asset>", sorted by name
#   dist/latest.json           {"version": "<version>"}
#   dist/install.sh
#   dist/download/<version>/   the assets and SHA256SUMS again (hard links), as the host lays them out
#
# so `dist/` served by any static file server is a complete download host (DCD_DOWNLOAD_BASE).
# Checks: each binary at most 3,000,000 bytes; the Linux ones static, for their architecture;
# the macOS ones Mach-O for theirs, with the minimum OS they promise; the Windows one a PE32+.
set -eu
cd "$(dirname "$0")/../.."

version=$1
out=dist
limit=3000000

rm -rf "$out"
mkdir -p "$out/download/$version"

# asset  cargo target  what `file` must say
set -- \
    "dcd-linux-x64 x86_64-unknown-linux-musl statically_linked x86-64" \
    "dcd-linux-arm64 aarch64-unknown-linux-musl statically_linked aarch64" \
    "dcd-darwin-arm64 aarch64-apple-darwin Mach-O arm64" \
    "dcd-darwin-x64 x86_64-apple-darwin Mach-O x86_64" \
    "dcd-windows-x64.exe x86_64-pc-windows-gnu PE32+ x86-64"

failed=0
for row in "$@"; do
    # shellcheck disable=SC2086
    set -- $row
    asset=$1 target=$2 kind=$3 arch=$4
    exe=dcd
    case "$target" in *windows*) exe=dcd.exe ;; esac
    bin="target/$target/release/$exe"
    if [ ! -f "$bin" ]; then
        echo "dist: $bin is missing (build it first: make dist)" >&2
        exit 1
    fi
    cp "$bin" "$out/$asset"
    size=$(wc -c <"$out/$asset" | tr -d ' ')
    desc=$(file -b "$out/$asset")
    want=$(printf '%s' "$kind" | tr _ ' ')
    status=ok
    case "$desc" in *"$want"*) ;; *) status="not $want" ;; esac
    case "$desc" in *"$arch"*) ;; *) status="not $arch" ;; esac
    [ "$size" -le "$limit" ] || status="larger than $limit bytes"
    case "$target" in
        *apple*)
            minos=$(python3 tests/scripts/macho-minos.py "$out/$asset")
            case "$target" in
                aarch64*) expect=11.0 ;;
                *) expect=10.12 ;;
            esac
            [ "$minos" = "$expect" ] || status="needs macOS $minos, not $expect"
            desc="$desc, macOS >= $minos"
            ;;
    esac
    printf '%-20s %8s bytes  %-4s %s\n' "$asset" "$size" "$([ "$status" = ok ] && echo ok || echo FAIL)" "$desc"
    if [ "$status" != ok ]; then
        echo "dist: $asset: $status" >&2
        failed=1
    fi
done
[ "$failed" = 0 ] || exit 1

(
    cd "$out"
    for f in dcd-*; do
        sha256sum "$f"
    done | LC_ALL=C sort -k 2 >SHA256SUMS
)
printf '{"version": "%s"}\n' "$version" >"$out/latest.json"
cp install.sh "$out/install.sh"
for f in "$out"/dcd-* "$out/SHA256SUMS"; do
    ln "$f" "$out/download/$version/"
done
echo "dist: version $version"
cat "$out/SHA256SUMS"
