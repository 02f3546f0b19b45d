//! End-to-end: `install.sh` against a loopback download host serving a release tree built
//! here from small stand-in binaries (docs/install.md). Under `sh` (dash, where it is the
//! system shell) and `bash`: a fresh install, a second one (no second PATH block), a pinned
//! version, the beta channel, a channel without a release, a checksum mismatch or a missing
//! checksum line (nothing installed), a missing asset, an unreachable host, wget instead of
//! curl, a proxy, a shadowing `dcd`, a truncated script; and `shellcheck`.

use crate::support::download_host::*;
use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);
const MARK: &str = "# >>> dcd installer >>>";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh")
}

/// A download host with a stable 6.0.0, a beta 6.1.0-beta.1 and an older 5.9.0.
struct Site {
    root: TempDir,
    host: DownloadHost,
}

fn site() -> Site {
    let root = TempDir::new();
    let asset = native_asset();
    for v in ["6.0.0", "6.1.0-beta.1", "5.9.0"] {
        release(
            root.path(),
            v,
            &[(&asset, &stand_in(v)), ("dcd-other-x64", b"other")],
        );
    }
    latest(root.path(), false, Some("6.0.0"));
    latest(root.path(), true, Some("6.1.0-beta.1"));
    let host = DownloadHost::start(root.path());
    Site { root, host }
}

/// The shells to run the installer under: `sh` and `bash`.
fn shells() -> Vec<&'static str> {
    ["sh", "bash"]
        .into_iter()
        .filter(|s| Command::new(s).arg("-c").arg("true").status().is_ok())
        .collect()
}

/// `shell install.sh` with a private HOME, bash as the login shell, `base` as the host and
/// nothing else from this machine's environment but its PATH.
fn install_cmd(shell: &str, home: &Path, base: &str, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(shell);
    c.arg(script())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home)
        .env("SHELL", "/bin/bash")
        .env("DCD_DOWNLOAD_BASE", base);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn install(shell: &str, home: &Path, base: &str, env: &[(&str, &str)]) -> Output {
    run(install_cmd(shell, home, base, env), LIMIT)
}

fn installed(home: &Path) -> PathBuf {
    home.join(".dcd/bin/dcd")
}

/// The install directory holds nothing: no binary, no staged file.
fn assert_nothing_installed(home: &Path, o: &Output) {
    let dir = home.join(".dcd/bin");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?} left in {}\n{o}", dir.display());
}

#[test]
fn a_fresh_install_verifies_places_and_adds_to_path_once() {
    let s = site();
    for shell in shells() {
        let home = TempDir::new();
        let o = install(shell, home.path(), &s.host.url(), &[]);
        o.assert_code(0);
        assert!(o.stdout.contains("Installed dcd 6.0.0"), "{shell}: {o}");
        let bin = installed(home.path());
        assert_eq!(std::fs::read(&bin).unwrap(), stand_in("6.0.0"), "{shell}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert!(
            o.stdout.contains("(6.0.0)"),
            "the installed binary ran: {o}"
        );
        let rc = std::fs::read_to_string(home.path().join(".bashrc")).unwrap();
        assert_eq!(rc.matches(MARK).count(), 1, "{rc}");
        assert!(rc.contains(&format!(
            "export PATH=\"{}:$PATH\"",
            bin.parent().unwrap().display()
        )));
        // Again: the binary is replaced, the rc file gains nothing.
        let o = install(shell, home.path(), &s.host.url(), &[]);
        o.assert_code(0);
        let again = std::fs::read_to_string(home.path().join(".bashrc")).unwrap();
        assert_eq!(again, rc, "{shell}: a second install adds nothing\n{o}");
        assert!(!o.stdout.contains("Added"), "{o}");
    }
}

#[test]
fn a_pin_installs_that_version_and_beta_reads_the_beta_channel() {
    let s = site();
    let home = TempDir::new();
    let o = install(
        "sh",
        home.path(),
        &s.host.url(),
        &[("DCD_VERSION", "v5.9.0")],
    );
    o.assert_code(0);
    assert_eq!(
        std::fs::read(installed(home.path())).unwrap(),
        stand_in("5.9.0")
    );
    assert!(
        !s.host
            .requests()
            .iter()
            .any(|r| r.starts_with("/latest.json")),
        "a pin reads no channel: {:?}",
        s.host.requests()
    );
    let o = install("sh", home.path(), &s.host.url(), &[("DCD_BETA", "1")]);
    o.assert_code(0);
    assert_eq!(
        std::fs::read(installed(home.path())).unwrap(),
        stand_in("6.1.0-beta.1")
    );
    assert!(
        s.host
            .requests()
            .iter()
            .any(|r| r == "/latest.json?channel=beta")
    );
}

#[test]
fn a_channel_without_a_release_names_both_ways_out() {
    let s = site();
    latest(s.root.path(), false, None);
    let home = TempDir::new();
    let o = install("sh", home.path(), &s.host.url(), &[]);
    o.assert_code(1);
    assert!(
        o.stderr.contains("no stable release")
            && o.stderr.contains("DCD_BETA=1")
            && o.stderr.contains("DCD_VERSION="),
        "{o}"
    );
    assert_nothing_installed(home.path(), &o);
}

#[test]
fn a_checksum_mismatch_or_a_missing_line_installs_nothing() {
    let s = site();
    let sums = s.root.path().join("download/6.0.0/SHA256SUMS");
    let asset = native_asset();
    let good = std::fs::read_to_string(&sums).unwrap();
    // The asset's bytes changed after the sums were made.
    std::fs::write(
        s.root.path().join("download/6.0.0").join(&asset),
        b"tampered",
    )
    .unwrap();
    let home = TempDir::new();
    let o = install("sh", home.path(), &s.host.url(), &[]);
    o.assert_code(1);
    assert!(o.stderr.contains("does not match SHA256SUMS"), "{o}");
    assert!(o.stderr.contains("nothing was installed"), "{o}");
    assert_nothing_installed(home.path(), &o);
    assert!(!home.path().join(".bashrc").exists(), "PATH untouched: {o}");
    // No line for this platform's asset.
    let other_only: String = good
        .lines()
        .filter(|l| !l.ends_with(&asset))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&sums, other_only).unwrap();
    let o = install("bash", home.path(), &s.host.url(), &[]);
    o.assert_code(1);
    assert!(
        o.stderr.contains(&format!("has no line for {asset}")),
        "{o}"
    );
    assert_nothing_installed(home.path(), &o);
}

#[test]
fn a_missing_asset_and_an_unreachable_host_are_clear_errors() {
    let s = site();
    let home = TempDir::new();
    std::fs::remove_file(s.root.path().join("download/6.0.0").join(native_asset())).unwrap();
    let o = install("sh", home.path(), &s.host.url(), &[]);
    o.assert_code(1);
    assert!(o.stderr.contains("could not download"), "{o}");
    assert_nothing_installed(home.path(), &o);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = install(
        "sh",
        home.path(),
        &format!("http://127.0.0.1:{closed}"),
        &[],
    );
    o.assert_code(1);
    assert!(o.stderr.contains("could not read"), "{o}");
    assert_nothing_installed(home.path(), &o);
}

/// A PATH directory holding links to the tools the installer may use, without `leave_out`.
fn tools_without(dir: &Path, leave_out: &str) -> String {
    let tools = [
        "sh",
        "bash",
        "curl",
        "wget",
        "uname",
        "mktemp",
        "rm",
        "mkdir",
        "cp",
        "chmod",
        "mv",
        "tr",
        "sed",
        "awk",
        "cut",
        "grep",
        "dirname",
        "basename",
        "sha256sum",
        "shasum",
        "cat",
        "env",
        "perl",
    ];
    for t in tools.iter().filter(|t| **t != leave_out) {
        if let Ok(o) = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t}"))
            .output()
        {
            let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if p.starts_with('/') {
                let _ = std::os::unix::fs::symlink(&p, dir.join(t));
            }
        }
    }
    dir.display().to_string()
}

#[test]
fn wget_serves_when_curl_is_missing() {
    if Command::new("wget").arg("--version").output().is_err() {
        eprintln!("SKIPPED: wget is not installed");
        return;
    }
    let s = site();
    let home = TempDir::new();
    let bin = TempDir::new();
    let path = tools_without(bin.path(), "curl");
    let mut c = install_cmd("sh", home.path(), &s.host.url(), &[]);
    c.env("PATH", path);
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert_eq!(
        std::fs::read(installed(home.path())).unwrap(),
        stand_in("6.0.0")
    );
}

#[test]
fn the_download_goes_through_the_proxy_dcd_would_use() {
    let s = site();
    let home = TempDir::new();
    // The host also answers as a proxy: the base names a host that does not exist.
    let o = install(
        "sh",
        home.path(),
        "http://get.example.invalid",
        &[("HTTP_PROXY", &s.host.url())],
    );
    o.assert_code(0);
    let seen = s.host.requests();
    assert!(
        seen.iter()
            .any(|r| r == "http://get.example.invalid/latest.json"),
        "{seen:?}"
    );
    assert_eq!(
        std::fs::read(installed(home.path())).unwrap(),
        stand_in("6.0.0")
    );
}

#[test]
fn another_dcd_earlier_on_path_is_named() {
    let s = site();
    let home = TempDir::new();
    let npm = TempDir::new();
    std::fs::write(npm.path().join("dcd"), stand_in("5.1.0")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        npm.path().join("dcd"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        npm.path().display(),
        std::env::var("PATH").unwrap()
    );
    let mut c = install_cmd("sh", home.path(), &s.host.url(), &[]);
    c.env("PATH", path);
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(
        o.stderr
            .contains(&format!("another dcd is at {}/dcd", npm.path().display())),
        "{o}"
    );
}

#[test]
fn a_truncated_script_does_nothing() {
    let s = site();
    let home = TempDir::new();
    let text = std::fs::read_to_string(script()).unwrap();
    // Cut just before the last line (the call of main), as a broken-off download would.
    let cut = text.trim_end().rfind('\n').unwrap();
    let dir = TempDir::new();
    let partial = dir.path().join("install.sh");
    std::fs::write(&partial, &text[..cut]).unwrap();
    let mut c = Command::new("sh");
    c.arg(&partial)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", home.path())
        .env("DCD_DOWNLOAD_BASE", s.host.url());
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(s.host.requests().is_empty(), "{:?}", s.host.requests());
    assert!(!home.path().join(".dcd").exists());
}

#[test]
fn shellcheck_finds_nothing() {
    let Ok(o) = Command::new("shellcheck").arg("--version").output() else {
        eprintln!("SKIPPED: shellcheck is not installed (make test installs it where it can)");
        return;
    };
    assert!(o.status.success());
    let o = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style"])
        .arg(script())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_download_cut_short_or_refused_installs_nothing() {
    let s = site();
    let home = TempDir::new();
    let asset_path = format!("/download/6.0.0/{}", native_asset());
    s.host.fault(&asset_path, HostFault::Cut(10));
    let o = install("sh", home.path(), &s.host.url(), &[]);
    o.assert_code(1);
    assert!(o.stderr.contains("could not download"), "{o}");
    assert_nothing_installed(home.path(), &o);
    s.host.fault("/latest.json", HostFault::Status(503));
    let o = install("bash", home.path(), &s.host.url(), &[]);
    o.assert_code(1);
    assert!(o.stderr.contains("could not read"), "{o}");
    assert_nothing_installed(home.path(), &o);
}

#[test]
fn an_install_interrupted_mid_download_leaves_nothing_behind() {
    use std::os::unix::process::CommandExt;
    let s = site();
    let home = TempDir::new();
    let asset_path = format!("/download/6.0.0/{}", native_asset());
    s.host.fault(&asset_path, HostFault::Stall(5));
    let tmp = TempDir::new();
    let mut c = install_cmd(
        "sh",
        home.path(),
        &s.host.url(),
        &[("TMPDIR", tmp.path().to_str().unwrap())],
    );
    // Its own process group, as a terminal's Ctrl-C reaches the shell and its curl alike.
    c.process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    wait_for("the stalled download", || {
        s.host.requests().contains(&asset_path)
    });
    std::thread::sleep(Duration::from_millis(200));
    let group = format!("-{}", child.id());
    Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap();
    let o = collect(child, LIMIT);
    assert_ne!(o.code, 0, "{o}");
    assert_nothing_installed(home.path(), &o);
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}
