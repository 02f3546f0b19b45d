//! End-to-end: `dcd upgrade` against a loopback download host serving a release tree built
//! here from small stand-in binaries (docs/install.md). The dcd under test is a copy of the
//! real binary in a directory of the test's own, so it can replace itself: the happy path
//! (replaced, and the new one runs), up to date, `--check`, a pin, a channel without a
//! release, a checksum mismatch, a missing checksum line, a download cut midway, a directory
//! it cannot write, a package manager's install, and a signal mid-download — every failure
//! leaving the old binary byte for byte, and no temporary file beside it.

use crate::support::download_host::*;
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
/// Newer than any version this tree will carry, on either channel.
const NEWER: &str = "99.0.0-test.1";
const CURRENT: &str = env!("CARGO_PKG_VERSION");
/// Every platform's asset: the dcd under test may be another platform's build (under an
/// emulator, `DCD_TEST_BIN`), and asks for its own.
const ASSETS: [&str; 5] = [
    "dcd-darwin-arm64",
    "dcd-darwin-x64",
    "dcd-linux-arm64",
    "dcd-linux-x64",
    "dcd-windows-x64.exe",
];

/// A download host whose both channels name `latest`, with releases `NEWER` and 5.9.0.
struct Site {
    root: TempDir,
    host: DownloadHost,
}

fn site(latest_version: &str) -> Site {
    let root = TempDir::new();
    for v in [NEWER, "5.9.0"] {
        let bytes = stand_in(v);
        let assets: Vec<(&str, &[u8])> = ASSETS.iter().map(|a| (*a, bytes.as_slice())).collect();
        release(root.path(), v, &assets);
    }
    latest(root.path(), false, Some(latest_version));
    latest(root.path(), true, Some(latest_version));
    let host = DownloadHost::start(root.path());
    Site { root, host }
}

/// The asset the dcd under test asks for: its own platform's (`file` tells an arm64 build).
fn tested_asset() -> String {
    let described = Command::new("file")
        .arg("-b")
        .arg(dcd_bin())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if described.contains("aarch64") {
        "dcd-linux-arm64".into()
    } else {
        native_asset()
    }
}

/// A copy of the real dcd in `dir/<sub>/dcd`, which the upgrade may replace.
fn installed_copy(dir: &Path, sub: &str) -> PathBuf {
    let bin = dir.join(sub);
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("dcd");
    std::fs::copy(dcd_bin(), &exe).unwrap();
    exe
}

fn upgrade_cmd(exe: &Path, home: &Path, base: &str, args: &[&str]) -> Command {
    // The hermetic environment of dcd_in, for the copy.
    let c = dcd_in(home);
    let mut u = start(exe);
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => u.env(k, v),
            None => u.env_remove(k),
        };
    }
    u.env("DCD_DOWNLOAD_BASE", base)
        .env_remove("DCD_MANIFEST_URL")
        .arg("upgrade")
        .args(args)
        .stdin(Stdio::null());
    u
}

fn upgrade(exe: &Path, home: &Path, base: &str, args: &[&str]) -> Output {
    run(upgrade_cmd(exe, home, base, args), LIMIT)
}

/// The directory holds only `dcd`, byte for byte `before`.
fn assert_untouched(exe: &Path, before: &[u8], o: &Output) {
    assert!(
        std::fs::read(exe).unwrap() == before,
        "the binary changed\n{o}"
    );
    assert_eq!(entries(exe.parent().unwrap()), ["dcd"], "{o}");
    assert!(o.stderr.contains("dcd was not changed"), "{o}");
}

#[test]
fn a_newer_release_replaces_the_binary_and_the_new_one_runs() {
    let s = site(NEWER);
    let home = TempDir::new();
    let exe = installed_copy(home.path(), "bin");
    let o = upgrade(&exe, home.path(), &s.host.url(), &[]);
    o.assert_code(0).assert_no_panic();
    assert!(
        o.stdout
            .contains(&format!("Upgrading dcd {CURRENT} → {NEWER}")),
        "{o}"
    );
    assert!(o.stdout.contains(&format!("Upgraded to {NEWER}")), "{o}");
    assert!(
        o.stdout.contains("Downloading"),
        "the CI log shows the download: {o}"
    );
    assert_eq!(std::fs::read(&exe).unwrap(), stand_in(NEWER));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&exe).unwrap().permissions().mode() & 0o111,
        0o111
    );
    let ran = Command::new(&exe).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout).trim(), NEWER);
    assert_eq!(
        entries(exe.parent().unwrap()),
        ["dcd"],
        "nothing left beside it"
    );
    let channel = if CURRENT.contains('-') {
        "/latest.json?channel=beta"
    } else {
        "/latest.json"
    };
    assert!(
        s.host.requests().iter().any(|r| r == channel),
        "{:?}",
        s.host.requests()
    );
}

#[test]
fn up_to_date_says_so_and_check_only_reports() {
    let s = site(CURRENT);
    let home = TempDir::new();
    let exe = installed_copy(home.path(), "bin");
    let before = std::fs::read(&exe).unwrap();
    let o = upgrade(&exe, home.path(), &s.host.url(), &[]);
    o.assert_code(0);
    assert!(
        o.stdout
            .contains(&format!("Already on the latest version ({CURRENT}).")),
        "{o}"
    );
    assert_eq!(std::fs::read(&exe).unwrap(), before);
    // A newer release, but only a check.
    latest(s.root.path(), true, Some(NEWER));
    latest(s.root.path(), false, Some(NEWER));
    let o = upgrade(&exe, home.path(), &s.host.url(), &["--check"]);
    o.assert_code(0);
    assert!(
        o.stdout
            .contains(&format!("Update available: {CURRENT} → {NEWER}")),
        "{o}"
    );
    let o = upgrade(&exe, home.path(), &s.host.url(), &["--check", "--json"]);
    o.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["updateAvailable"], true, "{o}");
    assert_eq!(doc["latest"], NEWER);
    assert_eq!(
        std::fs::read(&exe).unwrap(),
        before,
        "a check changes nothing"
    );
    assert!(!s.host.requests().iter().any(|r| r.contains("/download/")));
}

#[test]
fn a_pin_installs_that_version_even_an_older_one() {
    let s = site(NEWER);
    let home = TempDir::new();
    let exe = installed_copy(home.path(), "bin");
    let o = upgrade(
        &exe,
        home.path(),
        &s.host.url(),
        &["--version", "not a version"],
    );
    o.assert_code(1);
    assert!(
        o.stderr.contains("--version takes a release version"),
        "{o}"
    );
    let o = upgrade(&exe, home.path(), &s.host.url(), &["--version", "v5.9.0"]);
    o.assert_code(0);
    assert_eq!(std::fs::read(&exe).unwrap(), stand_in("5.9.0"));
    assert!(
        !s.host
            .requests()
            .iter()
            .any(|r| r.starts_with("/latest.json")),
        "a pin reads no channel"
    );
}

#[test]
fn a_channel_without_a_release_names_the_pin() {
    let s = site(NEWER);
    latest(s.root.path(), true, None);
    latest(s.root.path(), false, None);
    let home = TempDir::new();
    let exe = installed_copy(home.path(), "bin");
    let o = upgrade(&exe, home.path(), &s.host.url(), &[]);
    o.assert_code(1);
    assert!(
        o.stderr.contains("has no release yet") && o.stderr.contains("--version"),
        "{o}"
    );
}

#[test]
fn a_checksum_mismatch_or_a_missing_line_leaves_the_binary_as_it_was() {
    let s = site(NEWER);
    let dir = s.root.path().join("download").join(NEWER);
    for a in ASSETS {
        std::fs::write(dir.join(a), b"#!/bin/sh\necho tampered\n").unwrap();
    }
    let home = TempDir::new();
    let exe = installed_copy(home.path(), "bin");
    let before = std::fs::read(&exe).unwrap();
    let o = upgrade(&exe, home.path(), &s.host.url(), &[]);
    o.assert_code(1).assert_no_panic();
    assert!(o.stderr.contains("does not match SHA256SUMS"), "{o}");
    assert_untouched(&exe, &before, &o);
    std::fs::write(
        dir.join("SHA256SUMS"),
        format!("{}  dcd-other\n", "0".repeat(64)),
    )
    .unwrap();
    let o = upgrade(&exe, home.path(), &s.host.url(), &[]);
    o.assert_code(1);
    assert!(
        o.stderr
            .contains(&format!("has no line for {}", tested_asset())),
        "{o}"
    );
    assert_untouched(&exe, &before, &o);
}

#[test]
fn a_download_cut_midway_leaves_the_binary_and_no_temporary_file() {
    let s = site(NEWER);
    s.host.fault(
        &format!("/download/{NEWER}/{}", tested_asset()),
        HostFault::Cut(7),
    );
    let home = TempDir::new();
    let exe = installed_copy(home.path(), "bin");
    let before = std::fs::read(&exe).unwrap();
    let o = upgrade(&exe, home.path(), &s.host.url(), &[]);
    o.assert_code(1).assert_no_panic();
    assert_untouched(&exe, &before, &o);
}

#[test]
fn a_directory_it_cannot_write_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let s = site(NEWER);
    let home = TempDir::new();
    let exe = installed_copy(home.path(), "bin");
    let before = std::fs::read(&exe).unwrap();
    let bin = exe.parent().unwrap().to_path_buf();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut c = upgrade_cmd(&exe, home.path(), &s.host.url(), &[]);
    // Root writes anywhere: then run as nobody, who cannot.
    if Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
    {
        const NOBODY: u32 = 65534;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut probe = start(&exe);
        probe.arg("--version").uid(NOBODY).gid(NOBODY);
        if !probe.output().is_ok_and(|o| o.status.success()) {
            eprintln!("SKIPPED: a directory dcd cannot write (cannot run dcd as nobody)");
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
            return;
        }
        c.uid(NOBODY).gid(NOBODY);
    }
    let o = run(c, LIMIT);
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr
            .contains(&format!("Cannot replace {}", exe.display())),
        "{o}"
    );
    assert!(o.stderr.contains("install.sh"), "{o}");
    assert_untouched(&exe, &before, &o);
}

#[test]
fn a_package_managers_install_is_left_to_it() {
    let s = site(NEWER);
    let home = TempDir::new();
    let exe = installed_copy(home.path(), "lib/node_modules/@devicecloud.dev/dcd/bin");
    let before = std::fs::read(&exe).unwrap();
    let o = upgrade(&exe, home.path(), &s.host.url(), &[]);
    o.assert_code(1);
    assert!(
        o.stderr
            .contains("npm install -g @devicecloud.dev/dcd@latest"),
        "{o}"
    );
    assert_eq!(std::fs::read(&exe).unwrap(), before);
    assert!(!s.host.requests().iter().any(|r| r.contains("/download/")));
}

#[test]
fn a_signal_mid_download_leaves_the_binary_as_it_was() {
    let s = site(NEWER);
    let asset_path = format!("/download/{NEWER}/{}", tested_asset());
    s.host.fault(&asset_path, HostFault::Stall(5));
    let home = TempDir::new();
    let exe = installed_copy(home.path(), "bin");
    let before = std::fs::read(&exe).unwrap();
    let mut c = upgrade_cmd(&exe, home.path(), &s.host.url(), &[]);
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the stalled download", || {
        s.host.requests().contains(&asset_path)
    });
    std::thread::sleep(Duration::from_millis(100));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let o = collect(child, LIMIT);
    o.assert_code(130);
    assert_untouched(&exe, &before, &o);
}
