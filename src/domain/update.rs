//! The update check of `dcd cloud`, as pure rules: whether it runs, which manifest it reads,
//! what of the manifest is believed, and whether the version there is newer than ours.
//!
//! It runs only on an interactive terminal (never in CI, never with `--json`) and never when
//! `DCD_NO_UPDATE_CHECK` is set to anything non-empty. Prerelease builds (a version with a
//! `-`) ask for the beta channel. The comparison is SemVer precedence.

use super::compat::semver_cmp;
use serde_json::Value;

/// The release manifest, `{"version": "…", …}`.
pub const DEFAULT_MANIFEST_URL: &str = "https://get.devicecloud.dev/latest.json";

/// Where release binaries are downloaded from: `<base>/<version>/<asset>`.
pub const DOWNLOAD_BASE: &str = "https://get.devicecloud.dev/download";

/// The longest version string taken from a manifest.
const MAX_VERSION_LEN: usize = 64;

/// Whether to check: an interactive terminal and no `DCD_NO_UPDATE_CHECK` (any non-empty
/// value turns it off).
pub fn enabled(interactive: bool, no_update_check: Option<&str>) -> bool {
    interactive && no_update_check.is_none_or(str::is_empty)
}

/// The manifest to read: the non-blank override, else the default; a prerelease `current`
/// adds `channel=beta` to the query.
pub fn manifest_url(override_url: Option<&str>, current: &str) -> String {
    let base = override_url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(DEFAULT_MANIFEST_URL);
    if current.contains('-') {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}channel=beta")
    } else {
        base.to_string()
    }
}

/// The manifest's `version`, when it looks like one: non-empty, at most 64 characters, only
/// ASCII letters, digits, `.`, `-` and `+` (it is printed on the terminal and put in a URL),
/// starting with a digit or a `v` and a digit.
pub fn latest_version(manifest: &Value) -> Option<String> {
    let v = manifest.get("version")?.as_str()?.trim();
    let digits = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let ok = !v.is_empty()
        && v.len() <= MAX_VERSION_LEN
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'));
    ok.then(|| v.to_string())
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

/// The two lines of the notice: what is new, and how to get it.
pub fn notice(current: &str, latest: &str, asset: Option<&str>) -> String {
    let how = match asset {
        Some(a) => format!(
            "Download the release binary: {DOWNLOAD_BASE}/{latest}/{a} (SHA256SUMS beside it)"
        ),
        None => format!("Download the release binary from {DOWNLOAD_BASE}/{latest}/"),
    };
    format!("Update available: {current} → {latest}\n  {how}")
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
    fn the_manifest_url_follows_the_override_and_the_channel() {
        assert_eq!(manifest_url(None, "1.2.3"), DEFAULT_MANIFEST_URL);
        assert_eq!(manifest_url(Some("  "), "1.2.3"), DEFAULT_MANIFEST_URL);
        assert_eq!(
            manifest_url(None, "1.3.0-beta.2"),
            "https://get.devicecloud.dev/latest.json?channel=beta"
        );
        assert_eq!(
            manifest_url(Some("http://127.0.0.1:1/m.json"), "1.2.3"),
            "http://127.0.0.1:1/m.json"
        );
        assert_eq!(
            manifest_url(Some("http://h/m?x=1"), "2.0.0-rc.1"),
            "http://h/m?x=1&channel=beta"
        );
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
        let text = notice("0.1.0", "0.2.0", Some("dcd-linux-x64"));
        assert_eq!(
            text,
            "Update available: 0.1.0 → 0.2.0\n  Download the release binary: \
             https://get.devicecloud.dev/download/0.2.0/dcd-linux-x64 (SHA256SUMS beside it)"
        );
        assert_eq!(text.lines().count(), 2);
        assert!(notice("0.1.0", "0.2.0", None).ends_with("/download/0.2.0/"));
    }
}
