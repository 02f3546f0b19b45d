#!/bin/sh
# Installs dcd, the devicecloud.dev CLI: curl -fsSL https://get.devicecloud.dev/install.sh | sh
#
#   DCD_VERSION=<version>  install that version (a pin), instead of the latest release
#   DCD_BETA=1             install the latest pre-release (the beta channel)
#   DCD_INSTALL_DIR=<dir>  where to put the binary (default ~/.dcd/bin)
#   DCD_NO_MODIFY_PATH=1   do not touch the shell's rc file
#   DCD_DOWNLOAD_BASE=<url>  the download host (default https://get.devicecloud.dev)
#
# The binary is checked against the release's SHA256SUMS before it is put in place, and put
# in place in one rename: an interrupted or refused install leaves nothing behind. Proxies:
# HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY, as dcd itself reads them (docs/install.md).
#
# Everything runs from main(), called on the last line: a download cut short defines a
# function that is never called, and does nothing.

set -u

say() {
    printf '%s\n' "$*"
}

warn() {
    printf 'warning: %s\n' "$*" >&2
}

fail() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# The asset name for this machine: dcd-<os>-<arch>.
detect_asset() {
    os=$(uname -s 2>/dev/null || echo unknown)
    arch=$(uname -m 2>/dev/null || echo unknown)
    case "$os" in
        Linux) os=linux ;;
        Darwin) os=darwin ;;
        MINGW* | MSYS* | CYGWIN* | Windows_NT)
            fail "this installer is for Linux and macOS. On Windows, download dcd-windows-x64.exe from ${BASE}/download/<version>/ (see ${BASE}/latest.json for the version) and check it against SHA256SUMS, as docs/install.md shows."
            ;;
        *) fail "unsupported operating system: $os (dcd is built for Linux, macOS and Windows)" ;;
    esac
    case "$arch" in
        x86_64 | amd64) arch=x64 ;;
        arm64 | aarch64 | armv8*) arch=arm64 ;;
        *) fail "unsupported processor: $arch (dcd is built for x86-64 and arm64)" ;;
    esac
    # An x86-64 shell under Rosetta on an Apple-silicon Mac: the native build is the better one.
    if [ "$os" = darwin ] && [ "$arch" = x64 ] &&
        [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
        arch=arm64
    fi
    ASSET="dcd-$os-$arch"
}

# curl and wget read lower-case http_proxy for http:// URLs (curl ignores HTTP_PROXY), and
# wget reads only lower-case names: give them what dcd would use.
export_proxies() {
    for pair in "HTTPS_PROXY https_proxy" "HTTP_PROXY http_proxy" "ALL_PROXY all_proxy" "NO_PROXY no_proxy"; do
        upper=${pair% *}
        lower=${pair#* }
        eval "uval=\${$upper:-}"
        eval "lval=\${$lower:-}"
        if [ -z "$lval" ] && [ -n "$uval" ]; then
            eval "$lower=\$uval"
            export "${lower?}"
        fi
    done
}

# fetch URL FILE: the body of URL into FILE, or a non-zero status.
fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -T 20 -t 3 -O "$2" "$1"
    else
        fail "neither curl nor wget is installed: install one of them and run this again"
    fi
}

# The version to install: DCD_VERSION, else the beta or stable channel's latest.json.
pick_version() {
    if [ -n "${DCD_VERSION:-}" ]; then
        VERSION=${DCD_VERSION#v}
        return
    fi
    url="$BASE/latest.json"
    channel=stable
    if [ "${DCD_BETA:-}" = 1 ]; then
        url="$url?channel=beta"
        channel=beta
    fi
    fetch "$url" "$TMP/latest.json" || fail "could not read $url (is the host reachable? a proxy: HTTPS_PROXY)"
    # {"version": "6.0.0"} or {"version": null}; one line or several.
    VERSION=$(tr -d '\n\r' <"$TMP/latest.json" |
        sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
    if [ -z "$VERSION" ]; then
        if [ "$channel" = beta ]; then
            fail "the beta channel has no release yet. Install the stable release (without DCD_BETA), or pin a version with DCD_VERSION=<version>."
        fi
        fail "there is no stable release yet. Install the latest pre-release with DCD_BETA=1, or pin a version with DCD_VERSION=<version>."
    fi
    case "$VERSION" in
        *[!A-Za-z0-9.+-]*) fail "$url names an unusable version: $VERSION" ;;
    esac
}

# sha256 FILE: its SHA-256 in hex.
sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    else
        fail "neither sha256sum nor shasum is installed: the download cannot be verified"
    fi
}

download_and_verify() {
    dir_url="$BASE/download/$VERSION"
    say "Downloading dcd $VERSION ($ASSET)"
    fetch "$dir_url/SHA256SUMS" "$TMP/SHA256SUMS" ||
        fail "could not download $dir_url/SHA256SUMS (is $VERSION a released version?)"
    fetch "$dir_url/$ASSET" "$TMP/$ASSET" ||
        fail "could not download $dir_url/$ASSET (is $VERSION a released version, built for this platform?)"
    expected=$(awk -v a="$ASSET" '($2 == a || $2 == "*" a) && $1 ~ /^[0-9a-fA-F]+$/ && length($1) == 64 { print tolower($1); exit }' "$TMP/SHA256SUMS")
    [ -n "$expected" ] || fail "SHA256SUMS of $VERSION has no line for $ASSET: nothing was installed"
    actual=$(sha256 "$TMP/$ASSET")
    if [ "$actual" != "$expected" ]; then
        fail "the download of $ASSET does not match SHA256SUMS (expected $expected, got $actual): nothing was installed"
    fi
}

# Puts the verified binary in place with one rename in its own directory.
place() {
    mkdir -p "$INSTALL_DIR" || fail "cannot create $INSTALL_DIR"
    STAGED="$INSTALL_DIR/.dcd.install.$$"
    cp "$TMP/$ASSET" "$STAGED" 2>/dev/null ||
        fail "cannot write to $INSTALL_DIR (set DCD_INSTALL_DIR to a directory you can write)"
    { chmod 755 "$STAGED" && mv -f "$STAGED" "$INSTALL_DIR/dcd"; } ||
        fail "cannot install into $INSTALL_DIR/dcd"
    STAGED=
    say "Installed dcd $VERSION to $INSTALL_DIR/dcd"
}

# The rc file of the user's login shell, and the line that puts INSTALL_DIR on its PATH.
rc_file() {
    case "$(basename "${SHELL:-sh}")" in
        zsh) RC="${ZDOTDIR:-$HOME}/.zshrc" ;;
        bash)
            RC="$HOME/.bashrc"
            [ "$(uname -s)" = Darwin ] && RC="$HOME/.bash_profile"
            ;;
        fish) RC="${XDG_CONFIG_HOME:-$HOME/.config}/fish/config.fish" ;;
        *) RC="$HOME/.profile" ;;
    esac
    case "$RC" in
        *.fish) LINE="fish_add_path \"$INSTALL_DIR\"" ;;
        *) LINE="export PATH=\"$INSTALL_DIR:\$PATH\"" ;;
    esac
}

# Adds INSTALL_DIR to PATH in the rc file, once: the block between the markers is written only
# when the file does not hold it yet.
add_to_path() {
    if [ "${DCD_NO_MODIFY_PATH:-}" = 1 ]; then
        return
    fi
    rc_file
    begin="# >>> dcd installer >>>"
    if [ -f "$RC" ] && grep -qF "$begin" "$RC"; then
        return
    fi
    mkdir -p "$(dirname "$RC")" 2>/dev/null
    if printf '\n%s\n%s\n%s\n' "$begin" "$LINE" "# <<< dcd installer <<<" >>"$RC" 2>/dev/null; then
        say "Added $INSTALL_DIR to PATH in $RC (open a new shell, or run: $LINE)"
    else
        warn "could not write $RC: add $INSTALL_DIR to your PATH yourself"
    fi
}

# Another dcd earlier on PATH (an npm install, say) would run instead of this one.
warn_shadowed() {
    old_ifs=$IFS
    IFS=:
    for d in $PATH; do
        [ -n "$d" ] || continue
        if [ "$d" = "$INSTALL_DIR" ]; then
            break
        fi
        if [ -x "$d/dcd" ] && [ ! -d "$d/dcd" ]; then
            warn "another dcd is at $d/dcd (an npm install?) and comes first on PATH: remove it (npm uninstall -g @devicecloud.dev/dcd) or put $INSTALL_DIR first"
            break
        fi
    done
    IFS=$old_ifs
}

# The temporary directory, and a staged binary not yet renamed into place.
cleanup() {
    rm -rf "$TMP"
    if [ -n "$STAGED" ]; then
        rm -f "$STAGED"
    fi
}

main() {
    BASE=${DCD_DOWNLOAD_BASE:-https://get.devicecloud.dev}
    BASE=${BASE%/}
    INSTALL_DIR=${DCD_INSTALL_DIR:-${HOME:?HOME is not set: set DCD_INSTALL_DIR}/.dcd/bin}
    detect_asset
    export_proxies
    STAGED=
    TMP=$(mktemp -d 2>/dev/null || mktemp -d -t dcd-install) || fail "cannot create a temporary directory"
    trap cleanup EXIT
    trap 'cleanup; exit 130' INT
    trap 'cleanup; exit 143' TERM
    pick_version
    download_and_verify
    place
    add_to_path
    warn_shadowed
    if version=$("$INSTALL_DIR/dcd" --version 2>/dev/null); then
        say "Run: dcd --help   ($version)"
    else
        warn "$INSTALL_DIR/dcd was installed but does not run on this machine"
    fi
}

main "$@"
