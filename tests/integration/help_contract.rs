//! What `--help` promises, through the real binary: every command's help has examples and
//! exit codes, colour can be forced by `FORCE_COLOR`, and the update check it documents runs
//! on an interactive terminal only, honours `DCD_NO_UPDATE_CHECK` and `DCD_MANIFEST_URL`, and
//! never delays the command.

use crate::support::fake_cloud::*;
use crate::support::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const KEY: &str = "help-test-key-123456";
const LIMIT: Duration = Duration::from_secs(30);
const COMMANDS: [&str; 9] = [
    "cloud",
    "upload",
    "status",
    "list",
    "artifacts",
    "login",
    "logout",
    "whoami",
    "switch-org",
];

/// A loopback release manifest: answers every GET with `body`, or holds the connection
/// without answering when `body` is `None`. Counts the requests.
struct Manifest {
    url: String,
    hits: Arc<AtomicUsize>,
}

fn manifest(body: Option<&'static str>) -> Manifest {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/latest.json", l.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in l.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            match body {
                Some(body) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
                None => held.push(s),
            }
        }
    });
    Manifest { url, hits }
}

/// `dcd cloud --dry-run` on `fixtures/basic` against a fake cloud, with the update check on
/// (not opted out) and reading `m`.
fn dry_run(fc: &FakeCloud, m: &Manifest) -> (std::process::Command, TempDir) {
    let (mut c, dir) = dcd();
    c.current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .env_remove("DCD_NO_UPDATE_CHECK")
        .env("DCD_MANIFEST_URL", &m.url)
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .args(["cloud", "--api-url", &fc.url()])
        .args(["--app-binary-id", "bin-1", "fixtures/basic", "--dry-run"]);
    (c, dir)
}

fn fake() -> FakeCloud {
    FakeCloud::start(Scenario::new(vec![]).api_key(KEY))
}

#[test]
fn every_command_help_has_examples_and_exit_codes() {
    for cmd in COMMANDS {
        let (mut c, _dir) = dcd();
        c.args([cmd, "--help"]);
        let o = run(c, LIMIT);
        o.assert_code(0);
        let examples = o.stdout.split("\nEXAMPLES:\n").nth(1).unwrap_or("");
        assert!(examples.contains(&format!("\n    dcd {cmd}")), "{cmd}\n{o}");
        assert!(o.stdout.contains("\nEXIT CODES:\n  0 "), "{cmd}\n{o}");
    }
    let (mut c, _dir) = dcd();
    c.args(["list", "--help"]);
    let o = run(c, LIMIT);
    assert!(o.stdout.contains("ISO 8601: 2024-01-31"), "{o}");
    let (mut c, _dir) = dcd();
    c.arg("--help");
    let o = run(c, LIMIT);
    for v in ["DCD_NO_UPDATE_CHECK", "DCD_MANIFEST_URL", "FORCE_COLOR"] {
        assert!(o.stdout.contains(v), "{v}\n{o}");
    }
}

#[test]
fn force_color_paints_a_pipe_and_zero_does_not() {
    let (mut c, _dir) = dcd();
    c.args(["list", "--from", "yesterday"])
        .env("FORCE_COLOR", "1");
    let o = run(c, LIMIT);
    o.assert_code(1);
    assert!(o.stderr.contains("\x1b[31m"), "{o:?}");
    let (mut c, _dir) = dcd();
    c.args(["list", "--from", "yesterday"])
        .env("FORCE_COLOR", "0");
    let o = run(c, LIMIT);
    assert!(!o.stderr.contains('\x1b'), "{o:?}");
}

#[test]
fn a_newer_release_is_announced_on_a_terminal() {
    // The check never waits: a slow compatibility answer gives the manifest time to arrive.
    let fc = FakeCloud::start(Scenario::new(vec![]).api_key(KEY).endpoint_fault(
        "/results/compatibility",
        0,
        Fault::Slow(Duration::from_millis(200)),
    ));
    let m = manifest(Some(r#"{"version":"99.1.0"}"#));
    let (c, _dir) = dry_run(&fc, &m);
    let (code, screen) = run_pty(c, 200, 40, LIMIT);
    assert_eq!(code, 0, "{screen}");
    let current = env!("CARGO_PKG_VERSION");
    assert!(
        screen.contains(&format!("Update available: {current} → 99.1.0")),
        "{screen}"
    );
    assert!(
        screen.contains("Run `dcd upgrade` to install it."),
        "{screen}"
    );
    assert_eq!(screen.matches("Update available").count(), 1, "{screen}");
    assert_eq!(m.hits.load(Ordering::SeqCst), 1);
}

#[test]
fn the_same_or_an_older_release_says_nothing() {
    // 5.x is the TypeScript series this CLI succeeds: never offered as an upgrade.
    for older in [r#"{"version":"0.0.1"}"#, r#"{"version":"5.99.0"}"#] {
        let fc = fake();
        let m = manifest(Some(older));
        let (c, _dir) = dry_run(&fc, &m);
        let (code, screen) = run_pty(c, 200, 40, LIMIT);
        assert_eq!(code, 0, "{screen}");
        assert!(!screen.contains("Update available"), "{older}\n{screen}");
        assert_eq!(m.hits.load(Ordering::SeqCst), 1, "the check ran");
    }
}

#[test]
fn no_check_in_ci_in_a_pipe_with_json_or_when_opted_out() {
    let fc = fake();
    let m = manifest(Some(r#"{"version":"99.1.0"}"#));
    let (c, _dir) = dry_run(&fc, &m);
    let o = run(c, LIMIT);
    o.assert_code(0);
    let (mut c, _dir) = dry_run(&fc, &m);
    c.env("DCD_NO_UPDATE_CHECK", "1");
    let (code, screen) = run_pty(c, 200, 40, LIMIT);
    assert_eq!(code, 0, "{screen}");
    let (mut c, _dir) = dry_run(&fc, &m);
    c.env("CI", "true");
    let (code, screen) = run_pty(c, 200, 40, LIMIT);
    assert_eq!(code, 0, "{screen}");
    let (mut c, _dir) = dry_run(&fc, &m);
    c.arg("--json");
    let (code, screen) = run_pty(c, 200, 40, LIMIT);
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("Update available"), "{screen}");
    assert_eq!(m.hits.load(Ordering::SeqCst), 0, "no request at all");
}

#[test]
fn a_manifest_that_never_answers_does_not_delay_the_command() {
    // A slow compatibility answer: the check has certainly connected before the command ends.
    let fc = FakeCloud::start(Scenario::new(vec![]).api_key(KEY).endpoint_fault(
        "/results/compatibility",
        0,
        Fault::Slow(Duration::from_millis(300)),
    ));
    let m = manifest(None);
    let (mut c, _dir) = dry_run(&fc, &m);
    // Timers × 4: the check's deadline is 6 s; the dry run takes a fraction of that.
    c.env("DCD_TIME_SCALE", "4");
    let started = Instant::now();
    let (code, screen) = run_pty(c, 200, 40, LIMIT);
    assert_eq!(code, 0, "{screen}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(!screen.contains("Update available"), "{screen}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while m.hits.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(m.hits.load(Ordering::SeqCst), 1, "the check was started");
}
