//! Releases, as pure rules: whether the update check runs, which manifest it and `dcd upgrade`
//! read, what of the manifest is believed, whether a version is newer than ours, which asset
//! is this platform's, its line in `SHA256SUMS`, and whether this binary may replace itself.
//!
//! One download host serves everything (docs/install.md): `DCD_DOWNLOAD_BASE` (default
//! `https://get.devicecloud.dev`) has `latest.json` (`?channel=beta` for pre-releases),
//! `download/<version>/<asset>` and `download/<version>/SHA256SUMS`, the TypeScript CLI's
//! layout, so either CLI can be served by the same host. `DCD_MANIFEST_URL` overrides the
//! manifest alone.
//!
//! The update check runs only on an interactive terminal (never in CI, never with `--json`)
//! and never when `DCD_NO_UPDATE_CHECK` is set to anything non-empty. Prerelease builds (a
//! version with a `-`) read the beta channel. The comparison is SemVer precedence.

use super::compat::semver_cmp;
use serde_json::Value;

/// The download host of the releases.
pub const DEFAULT_DOWNLOAD_BASE: &str = "https://get.devicecloud.dev";

/// The longest version string taken from a manifest.
const MAX_VERSION_LEN: usize = 64;

/// The download host: the non-blank `DCD_DOWNLOAD_BASE`, else the default; no trailing `/`.
pub fn download_base(from_env: Option<&str>) -> String {
    from_env
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or(DEFAULT_DOWNLOAD_BASE)
        .trim_end_matches('/')
        .to_string()
}

/// Whether to check: an interactive terminal and no `DCD_NO_UPDATE_CHECK` (any non-empty
/// value turns it off).
pub fn enabled(interactive: bool, no_update_check: Option<&str>) -> bool {
    interactive && no_update_check.is_none_or(str::is_empty)
}

/// The manifest to read: the non-blank `DCD_MANIFEST_URL`, else `<base>/latest.json`; a
/// prerelease `current` adds `channel=beta` to the query.
pub fn manifest_url(override_url: Option<&str>, base: &str, current: &str) -> String {
    let url = override_url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map_or_else(|| format!("{base}/latest.json"), str::to_string);
    if current.contains('-') {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}channel=beta")
    } else {
        url
    }
}

/// Where a release's files are: `<base>/download/<version>/<file>`.
pub fn download_url(base: &str, version: &str, file: &str) -> String {
    format!("{base}/download/{version}/{file}")
}

/// The manifest's `version`, when it looks like one: non-empty, at most 64 characters, only
/// ASCII letters, digits, `.`, `-` and `+` (it is printed on the terminal and put in a URL),
/// starting with a digit or a `v` and a digit.
pub fn latest_version(manifest: &Value) -> Option<String> {
    let v = manifest.get("version")?.as_str()?.trim();
    plausible_version(v).then(|| v.to_string())
}

/// The rule of [`latest_version`] for one string: non-empty, at most 64 characters, only
/// ASCII letters, digits, `.`, `-` and `+`, starting with a digit or a `v` and a digit.
pub fn plausible_version(v: &str) -> bool {
    let digits = v.strip_prefix(['v', 'V']).unwrap_or(v);
    !v.is_empty()
        && v.len() <= MAX_VERSION_LEN
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
}

/// `Some(latest)` when it has higher precedence than `current`.
pub fn newer(current: &str, latest: &str) -> Option<String> {
    semver_cmp(current, latest)
        .is_lt()
        .then(|| latest.to_string())
}

/// The release asset of this platform (`dcd-linux-x64`), if there is one.
pub fn asset(os: &str, arch: &str) -> Option<String> {
    let arch = match arch {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        _ => return None,
    };
    match os {
        "linux" | "macos" => Some(format!(
            "dcd-{}-{arch}",
            if os == "macos" { "darwin" } else { os }
        )),
        "windows" if arch == "x64" => Some("dcd-windows-x64.exe".to_string()),
        _ => None,
    }
}

/// The expected SHA-256 of `asset` in a `SHA256SUMS` text: the hex of the line
/// `<64 hex digits><spaces>[*]<asset>`, in lower case. `None` when no line names it.
pub fn checksum_for(sums: &str, asset: &str) -> Option<String> {
    sums.lines().find_map(|line| {
        let (hex, name) = line.trim_end().split_once(char::is_whitespace)?;
        let name = name.trim_start();
        let name = name.strip_prefix('*').unwrap_or(name);
        (name == asset && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| hex.to_ascii_lowercase())
    })
}

/// Who put this binary where it is, judged by its (resolved) path: a package manager owns
/// the file and upgrades it its own way; anything else is the standalone binary, which
/// `dcd upgrade` replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    Standalone,
    /// How to upgrade instead.
    Managed(&'static str),
}

/// [`Installed`] for the executable at `path` (`/` or `\\` separated).
pub fn installed(path: &str) -> Installed {
    let p = path.replace('\\', "/");
    let has = |part: &str| p.contains(part);
    if has("/node_modules/") {
        Installed::Managed("npm install -g @devicecloud.dev/dcd@latest")
    } else if has("/Cellar/") || has("/homebrew/") || has("/linuxbrew/") {
        Installed::Managed("brew upgrade dcd")
    } else if has("/nix/store/") {
        Installed::Managed("upgrade it through Nix, which installed it")
    } else if p.starts_with("/usr/bin/") || p.starts_with("/bin/") || p.starts_with("/usr/sbin/") {
        Installed::Managed("upgrade it with the system's package manager, which installed it")
    } else {
        Installed::Standalone
    }
}

/// The two lines of the notice: what is new, and how to get it.
pub fn notice(current: &str, latest: &str) -> String {
    format!("Update available: {current} → {latest}\n  Run `dcd upgrade` to install it.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn it_runs_only_on_a_terminal_without_the_opt_out() {
        assert!(enabled(true, None));
        assert!(enabled(true, Some("")), "an empty value is unset");
        assert!(!enabled(true, Some("1")));
        assert!(!enabled(true, Some("0")), "any non-empty value opts out");
        assert!(!enabled(false, None), "CI, a pipe, --json");
    }

    #[test]
    fn the_manifest_url_follows_the_host_the_override_and_the_channel() {
        let base = download_base(None);
        assert_eq!(base, "https://get.devicecloud.dev");
        assert_eq!(
            download_base(Some(" http://127.0.0.1:9/ ")),
            "http://127.0.0.1:9"
        );
        assert_eq!(download_base(Some("  ")), base);
        assert_eq!(
            manifest_url(None, &base, "1.2.3"),
            "https://get.devicecloud.dev/latest.json"
        );
        assert_eq!(
            manifest_url(Some("  "), "http://m", "1.2.3"),
            "http://m/latest.json"
        );
        assert_eq!(
            manifest_url(None, &base, "1.3.0-beta.2"),
            "https://get.devicecloud.dev/latest.json?channel=beta"
        );
        assert_eq!(
            manifest_url(Some("http://127.0.0.1:1/m.json"), &base, "1.2.3"),
            "http://127.0.0.1:1/m.json"
        );
        assert_eq!(
            manifest_url(Some("http://h/m?x=1"), &base, "2.0.0-rc.1"),
            "http://h/m?x=1&channel=beta"
        );
        assert_eq!(
            download_url("http://h", "6.0.1", "SHA256SUMS"),
            "http://h/download/6.0.1/SHA256SUMS"
        );
    }

    #[test]
    fn a_checksum_is_the_line_that_names_the_asset_exactly() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let sums = format!("{a}  dcd-linux-x64\n{b} *dcd-darwin-arm64\r\n{a}  dcd-linux-x64.sig\n");
        assert_eq!(checksum_for(&sums, "dcd-linux-x64"), Some(a.clone()));
        assert_eq!(
            checksum_for(&sums, "dcd-darwin-arm64"),
            Some("b".repeat(64)),
            "binary-mode marker, CRLF, upper case"
        );
        assert_eq!(checksum_for(&sums, "dcd-linux"), None, "no prefix match");
        assert_eq!(checksum_for(&sums, "dcd-windows-x64.exe"), None);
        assert_eq!(checksum_for("abc  dcd-linux-x64\n", "dcd-linux-x64"), None);
        assert_eq!(checksum_for(&format!("{}  x\n", "g".repeat(64)), "x"), None);
    }

    #[test]
    fn a_binary_a_package_manager_installed_is_not_replaced() {
        assert_eq!(installed("/home/me/.dcd/bin/dcd"), Installed::Standalone);
        assert_eq!(
            installed("C:\\Users\\me\\.dcd\\bin\\dcd.exe"),
            Installed::Standalone
        );
        assert_eq!(installed("/usr/local/bin/dcd"), Installed::Standalone);
        for managed in [
            "/usr/lib/node_modules/@devicecloud.dev/dcd/bin/dcd",
            "/opt/homebrew/bin/dcd",
            "/usr/local/Cellar/dcd/6.0.0/bin/dcd",
            "/nix/store/abc-dcd/bin/dcd",
            "/usr/bin/dcd",
        ] {
            assert!(
                matches!(installed(managed), Installed::Managed(_)),
                "{managed}"
            );
        }
    }

    #[test]
    fn only_a_plausible_version_is_believed() {
        assert_eq!(
            latest_version(&json!({"version": "5.2.0"})),
            Some("5.2.0".into())
        );
        assert_eq!(
            latest_version(&json!({"version": " v5.2.0-beta.1+b7 ", "notes": "x"})),
            Some("v5.2.0-beta.1+b7".into())
        );
        for bad in [
            json!({}),
            json!({"version": null}),
            json!({"version": 5}),
            json!({"version": ""}),
            json!({"version": "latest"}),
            json!({"version": "5.2.0\u{1b}[2J"}),
            json!({"version": "5.2.0/../../x"}),
            json!({"version": "5 .2"}),
            json!({"version": format!("1.{}", "0".repeat(80))}),
            json!([1, 2]),
        ] {
            assert_eq!(latest_version(&bad), None, "{bad}");
        }
    }

    #[test]
    fn newer_is_semver_precedence() {
        let cases = [
            ("5.0.0", "5.0.1", true),
            ("4.9.0", "5.0.0", true),
            ("5.0.0-beta.0", "5.0.0-beta.1", true),
            ("5.0.0-beta.2", "5.0.0-beta.10", true),
            ("5.0.0-beta.1", "5.0.0", true),
            ("5.0.0", "5.0.0", false),
            ("v5.0.0", "v5.0.1", true),
            ("5.0", "5.0.1", true),
            ("5.0.1", "5.0.0", false),
            ("5.0.0", "5.0.0-beta.9", false),
            ("0.1.0", "0.1.0+build.7", false),
            // This CLI succeeds the TypeScript 5.x series as 6.0.0-alpha.N.
            ("6.0.0-alpha.1", "5.99.0", false),
            ("6.0.0-alpha.1", "5.3.0-beta.4", false),
            ("6.0.0-alpha.1", "6.0.0-alpha.2", true),
            ("6.0.0-alpha.1", "6.0.0-beta.1", true),
            ("6.0.0-alpha.1", "6.0.0", true),
            ("6.0.0-alpha.1", "6.0.0-alpha.1", false),
        ];
        for (current, latest, is_newer) in cases {
            assert_eq!(
                newer(current, latest).is_some(),
                is_newer,
                "{current} vs {latest}"
            );
        }
    }

    #[test]
    fn the_notice_says_what_and_how_in_two_lines() {
        assert_eq!(asset("linux", "x86_64").as_deref(), Some("dcd-linux-x64"));
        assert_eq!(
            asset("macos", "aarch64").as_deref(),
            Some("dcd-darwin-arm64")
        );
        assert_eq!(
            asset("windows", "x86_64").as_deref(),
            Some("dcd-windows-x64.exe")
        );
        assert_eq!(asset("freebsd", "x86_64"), None);
        assert_eq!(asset("linux", "riscv64"), None);
        let text = notice("0.1.0", "0.2.0");
        assert_eq!(
            text,
            "Update available: 0.1.0 → 0.2.0\n  Run `dcd upgrade` to install it."
        );
        assert_eq!(text.lines().count(), 2);
    }
}
