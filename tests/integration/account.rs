//! End-to-end: logging in and staying logged in. `dcd login` (URL printed or handed to an
//! opener, the claim rendezvous with its statuses, org choice on a terminal and without one,
//! an existing session), `logout`, `whoami`, `switch-org`, and session refresh — at start,
//! in the middle of a long wait (the next poll and the realtime channel get the new token),
//! two processes at once (one refresh in total), a stale lock, definitive and transient
//! failures — never printing a token.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

pub(crate) fn one_org() -> Vec<Value> {
    vec![org("42", "Acme", "acme")]
}

pub(crate) fn two_orgs() -> Vec<Value> {
    vec![org("42", "Acme", "acme"), org("7", "Beta Labs", "beta")]
}

pub(crate) fn accounts_cloud(
    orgs: Vec<Value>,
    lifetime: Duration,
    snapshots: Vec<Vec<Value>>,
) -> FakeCloud {
    FakeCloud::start(
        Scenario::new(snapshots).accounts(Accounts::new(orgs).token_lifetime(lifetime)),
    )
}

pub(crate) fn config(dir: &TempDir) -> Option<Value> {
    let text = std::fs::read_to_string(dir.path().join("config/config.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// A stored login at the fake, with a freshly minted session living `lifetime`.
pub(crate) fn logged_in(fc: &FakeCloud, dir: &TempDir, lifetime: Duration) -> (String, String) {
    let (access, refresh, expires_at) = fc.mint_session(lifetime);
    write_config(
        dir,
        &json!({
            "version": 1, "env": "dev", "api_url": fc.url(), "supabase_url": fc.url(),
            "session": {"access_token": access, "refresh_token": refresh,
                        "expires_at": expires_at, "user_email": "dev@example.com", "user_id": "user-1"},
            "current_org_id": "42", "current_org_name": "Acme"
        })
        .to_string(),
    );
    (access, refresh)
}

/// `dcd login` against `fc`, stdout piped so the test can read the URL.
pub(crate) fn spawn_login(fc: &FakeCloud, extra: &[&str]) -> (Child, TempDir) {
    let (mut c, dir) = dcd();
    c.env("DCD_SUPABASE_URL", fc.url())
        .args(["login", "--api-url", &fc.url()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    (c.spawn().unwrap(), dir)
}

/// `state` and `code_challenge` of a login URL.
pub(crate) fn url_params(url: &str) -> (String, String) {
    let q = url.split_once('?').unwrap().1;
    let get = |k: &str| {
        q.split('&')
            .find_map(|p| p.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    (get("state"), get("code_challenge"))
}

/// Reads stdout up to the line with the login URL; returns the URL and the reader.
pub(crate) fn read_url(child: &mut Child) -> (String, BufReader<std::process::ChildStdout>) {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "no URL printed");
        if let Some(i) = line.find("http") {
            return (line[i..].trim().to_string(), out);
        }
    }
}

pub(crate) fn finish(mut child: Child, mut out: BufReader<std::process::ChildStdout>) -> Output {
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    let status = child.wait().unwrap();
    Output {
        code: status.code().unwrap_or(-1),
        stdout: rest,
        stderr: err,
        elapsed: Duration::ZERO,
    }
}

#[test]
fn login_with_no_browser_prints_the_url_and_stores_the_session_privately() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), vec![]);
    let (mut child, dir) = spawn_login(&fc, &["--no-browser"]);
    let (url, out) = read_url(&mut child);
    assert!(
        url.starts_with("https://") || url.starts_with("http://"),
        "{url}"
    );
    assert!(url.contains("/cli-login?state="), "{url}");
    let (state, challenge) = url_params(&url);
    assert_eq!(state.len(), 64);
    fc.handoff(&state, &challenge);
    let o = finish(child, out);
    o.assert_code(0).assert_no_panic();
    assert!(
        o.stdout.contains("Logged in as dev@example.com")
            && o.stdout.contains("Organization: Acme"),
        "{o}"
    );
    let cfg = config(&dir).expect("config.json written");
    assert_eq!(cfg["version"], 1);
    assert_eq!(cfg["current_org_id"], "42");
    assert_eq!(cfg["api_url"], fc.url());
    let token = cfg["session"]["access_token"].as_str().unwrap();
    assert!(!o.stdout.contains(token) && !o.stderr.contains(token));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("config/config.json")), 0o600);
    assert_eq!(mode(&dir.path().join("config")), 0o700);
}

#[test]
fn login_hands_the_url_to_the_opener() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), vec![]);
    let bin = TempDir::new();
    let (path, seen) = stub_opener(&bin);
    let (mut c, dir) = dcd();
    c.env("PATH", path)
        .env("DCD_SUPABASE_URL", fc.url())
        .args(["login", "--api-url", &fc.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    wait_for("the opener", || {
        std::fs::read_to_string(&seen).is_ok_and(|s| s.contains("code_challenge="))
    });
    let (state, challenge) = url_params(&std::fs::read_to_string(&seen).unwrap());
    fc.handoff(&state, &challenge);
    let o = run_child(child);
    o.assert_code(0);
    assert!(o.stdout.contains("Opening your browser"), "{o}");
    assert!(config(&dir).is_some());
}

fn run_child(child: Child) -> Output {
    collect(child, LIMIT)
}

#[test]
fn the_claim_keeps_polling_on_404_and_429_and_stops_on_other_statuses() {
    let fc = FakeCloud::start(
        Scenario::new(vec![])
            .accounts(Accounts::new(one_org()))
            .endpoint_fault(
                "/cli-login/claim",
                1,
                Fault::TooManyRequests {
                    retry_after_secs: None,
                },
            ),
    );
    let (mut child, _dir) = spawn_login(&fc, &["--no-browser"]);
    let (url, out) = read_url(&mut child);
    wait_for("three claims", || fc.count("/cli-login/claim") >= 3);
    let (state, challenge) = url_params(&url);
    fc.handoff(&state, &challenge);
    finish(child, out).assert_code(0);

    let fc = FakeCloud::start(
        Scenario::new(vec![])
            .accounts(Accounts::new(one_org()))
            .endpoint_fault("/cli-login/claim", 0, Fault::Status(500)),
    );
    let (mut child, dir) = spawn_login(&fc, &["--no-browser"]);
    let (_url, out) = read_url(&mut child);
    let o = finish(child, out);
    o.assert_code(1);
    assert!(o.stderr.contains("Login failed: 500"), "{o}");
    assert!(config(&dir).is_none(), "nothing written");
}

#[test]
fn a_login_nobody_completes_times_out() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), vec![]);
    let (mut c, dir) = dcd();
    c.env("DCD_TIME_SCALE", "0.0005")
        .args(["login", "--no-browser", "--api-url", &fc.url()]);
    let o = run(c, LIMIT);
    o.assert_code(1);
    assert!(o.stderr.contains("Login timed out"), "{o}");
    assert!(config(&dir).is_none());
}

#[test]
fn a_wrong_verifier_is_refused_by_the_fake() {
    // The fake checks the verifier against the challenge the console got: a login that
    // handed off a different challenge must not succeed.
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), vec![]);
    let (mut child, dir) = spawn_login(&fc, &["--no-browser"]);
    let (url, out) = read_url(&mut child);
    let (state, _) = url_params(&url);
    fc.handoff(&state, "not-the-challenge");
    let o = finish(child, out);
    o.assert_code(1);
    assert!(o.stderr.contains("Login failed: 400"), "{o}");
    assert!(config(&dir).is_none());
}

#[test]
fn several_orgs_without_a_terminal_fail_listing_them() {
    let fc = accounts_cloud(two_orgs(), Duration::from_secs(3600), vec![]);
    let (mut child, dir) = spawn_login(&fc, &["--no-browser"]);
    let (url, out) = read_url(&mut child);
    let (state, challenge) = url_params(&url);
    fc.handoff(&state, &challenge);
    let o = finish(child, out);
    o.assert_code(1);
    assert!(
        o.stderr.contains("Acme, Beta Labs") && o.stderr.contains("dcd switch-org <name>"),
        "{o}"
    );
    let cfg = config(&dir).expect("the session is kept for switch-org");
    assert!(cfg.get("current_org_id").is_none());
}

/// A stub `xdg-open` on `PATH` that writes the URL it is given to a file; returns the PATH
/// value and the file.
pub(crate) fn stub_opener(bin: &TempDir) -> (String, std::path::PathBuf) {
    let seen = bin.path().join("opened.txt");
    let opener = bin.path().join("xdg-open");
    std::fs::write(
        &opener,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", seen.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    (path, seen)
}

/// `c`, a `dcd login` in the browser, run on a terminal with a stand-in opener on its PATH;
/// the console hands the session off as soon as the browser "opens" (the URL reaches the
/// opener), and `answers` reply to the terminal's questions. The exit code and the screen.
pub(crate) fn login_on_a_terminal(
    fc: &FakeCloud,
    mut c: Command,
    answers: &[(&str, &str)],
) -> (i32, String) {
    let bin = TempDir::new();
    let (path, seen) = stub_opener(&bin);
    c.env("PATH", path)
        .env("DCD_SUPABASE_URL", fc.url())
        .args(["login", "--api-url", &fc.url()]);
    std::thread::scope(|s| {
        s.spawn(|| {
            wait_for("the opener", || {
                std::fs::read_to_string(&seen).is_ok_and(|u| u.contains("code_challenge="))
            });
            let (state, challenge) = url_params(&std::fs::read_to_string(&seen).unwrap());
            fc.handoff(&state, &challenge);
        });
        run_pty_answering(c, 120, 30, LIMIT, answers)
    })
}

#[test]
fn several_orgs_on_a_terminal_are_picked_from_a_list() {
    let fc = accounts_cloud(two_orgs(), Duration::from_secs(3600), vec![]);
    let (c, dir) = dcd();
    let (code, screen) = login_on_a_terminal(&fc, c, &[("Choose 1-2", "2\n")]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Organization: Beta Labs"), "{screen}");
    assert_eq!(config(&dir).unwrap()["current_org_id"], "7");
}

#[test]
fn an_existing_session_is_kept_without_a_terminal() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), vec![]);
    let (mut c, dir) = dcd();
    logged_in(&fc, &dir, Duration::from_secs(3600));
    c.args(["login", "--no-browser", "--api-url", &fc.url()]);
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(o.stdout.contains("Keeping existing session"), "{o}");
    assert_eq!(fc.count("/cli-login/claim"), 0);
}

#[test]
fn logout_removes_the_session_and_says_when_there_was_none() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), vec![]);
    let (mut c, dir) = dcd();
    logged_in(&fc, &dir, Duration::from_secs(3600));
    c.arg("logout");
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(o.stdout.contains("Logged out (dev@example.com)"), "{o}");
    assert!(config(&dir).is_none());
    let (mut c, _dir) = dcd();
    c.arg("logout");
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(o.stdout.contains("No active session found"), "{o}");
}

#[test]
fn whoami_reads_the_file_and_warns_about_api_keys() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), vec![]);
    let dir = TempDir::new();
    let who = |setup: &dyn Fn(&mut Command)| {
        let (mut c, cfg) = dcd();
        if let Ok(text) = std::fs::read_to_string(dir.path().join("config/config.json")) {
            write_config(&cfg, &text);
        }
        c.arg("whoami");
        setup(&mut c);
        run(c, LIMIT)
    };
    let o = who(&|_| {});
    assert!(
        o.stdout
            .contains("Not logged in. Run dcd login or set DEVICE_CLOUD_API_KEY."),
        "{o}"
    );
    let o = who(&|c| {
        c.env("DEVICE_CLOUD_API_KEY", "k-123456789");
    });
    assert!(
        o.stdout
            .contains("DEVICE_CLOUD_API_KEY is set, so dcd commands authenticate"),
        "{o}"
    );
    logged_in(&fc, &dir, Duration::from_secs(3600));
    let o = who(&|_| {});
    o.assert_code(0);
    assert!(
        o.stdout.contains("dev@example.com") && o.stdout.contains("Acme"),
        "{o}"
    );
    assert!(o.stdout.contains("dev"), "{o}");
    let o = who(&|c| {
        c.env("DEVICE_CLOUD_API_KEY", "k-123456789");
    });
    assert!(
        o.stderr
            .contains("other dcd commands authenticate with that API key"),
        "{o}"
    );
    let o = who(&|c| {
        c.args(["--api-key", "k-123456789"]);
    });
    assert!(
        o.stderr.contains("Commands given --api-key authenticate"),
        "{o}"
    );
    assert_eq!(fc.requests().len(), 0, "whoami never talks to the network");
}

#[test]
fn switch_org_matches_name_slug_then_id_and_ignores_an_exported_key() {
    let fc = accounts_cloud(two_orgs(), Duration::from_secs(3600), vec![]);
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::from_secs(3600));
    let switch = |what: &str| {
        let (mut c, cfg) = dcd();
        write_config(
            &cfg,
            &std::fs::read_to_string(dir.path().join("config/config.json")).unwrap(),
        );
        c.env("DEVICE_CLOUD_API_KEY", "exported-key-1234")
            .args(["switch-org", what]);
        let o = run(c, LIMIT);
        (o, config(&cfg))
    };
    let (o, cfg) = switch("beta labs");
    o.assert_code(0);
    assert!(o.stdout.contains("Switched to Beta Labs"), "{o}");
    assert_eq!(cfg.unwrap()["current_org_id"], "7");
    assert_eq!(switch("acme").1.unwrap()["current_org_id"], "42");
    assert_eq!(switch("7").1.unwrap()["current_org_name"], "Beta Labs");
    let (o, _) = switch("gamma");
    o.assert_code(1);
    assert!(
        o.stderr
            .contains("No org named \"gamma\". Available: Acme, Beta Labs"),
        "{o}"
    );
    let (mut c, _d) = dcd();
    c.args(["switch-org", "acme"]);
    let o = run(c, LIMIT);
    o.assert_code(1);
    assert!(
        o.stderr.contains("Not logged in. Run `dcd login` first."),
        "{o}"
    );
}

pub(crate) fn passed_run() -> Vec<Vec<Value>> {
    vec![vec![row(1, "./a.yaml", "PASSED")]]
}

/// `dcd status` of the fake's upload, logged in with the session stored in `dir`.
pub(crate) fn status(dir: &TempDir, fc: &FakeCloud, extra: &[&str]) -> Command {
    let mut c = dcd_in(dir.path());
    c.env("DCD_SUPABASE_URL", fc.url())
        .args(["status", "--upload-id", fc.upload_id()])
        .args(extra);
    c
}

#[test]
fn an_expired_session_is_refreshed_at_start_and_saved() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    let (old_access, old_refresh) = logged_in(&fc, &dir, Duration::ZERO);
    let o = run(status(&dir, &fc, &["--debug"]), LIMIT);
    o.assert_code(0).assert_no_panic();
    assert_eq!(fc.token_grants(), vec![(old_refresh.clone(), 200)]);
    let cfg = config(&dir).unwrap();
    let new_access = cfg["session"]["access_token"].as_str().unwrap();
    assert_ne!(new_access, old_access);
    assert_eq!(cfg["current_org_id"], "42");
    for secret in [&old_access, &old_refresh, &new_access.to_string()] {
        assert!(!o.stdout.contains(secret.as_str()) && !o.stderr.contains(secret.as_str()));
    }
    let last = fc
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.starts_with("/uploads/status"))
        .unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {new_access}").as_str())
    );
}

#[test]
fn two_processes_refreshing_at_once_call_the_auth_server_once() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::ZERO);
    let a = status(&dir, &fc, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = status(&dir, &fc, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (run_child(a), run_child(b));
    a.assert_code(0);
    b.assert_code(0);
    assert_eq!(fc.token_grants().len(), 1, "{:?}", fc.token_grants());
}

#[test]
fn a_stale_lock_is_taken_over() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::ZERO);
    let lock = dir.path().join("config/config.json.lock");
    let f = std::fs::File::create(&lock).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(30))
        .unwrap();
    let o = run(status(&dir, &fc, &[]), LIMIT);
    o.assert_code(0);
    assert_eq!(fc.token_grants().len(), 1);
    assert!(!lock.exists(), "released");
}

#[test]
fn a_refused_refresh_removes_the_session_and_names_login() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    let (_, refresh) = logged_in(&fc, &dir, Duration::ZERO);
    // Someone else already used this refresh token: reuse is refused, the family revoked.
    let mut used = config(&dir).unwrap();
    used["session"]["refresh_token"] = json!("refresh-unknown-token");
    write_config(&dir, &used.to_string());
    let o = run(status(&dir, &fc, &[]), LIMIT);
    o.assert_code(1);
    assert!(
        o.stderr.contains("could not be refreshed") && o.stderr.contains("dcd login"),
        "{o}"
    );
    let cfg = config(&dir).unwrap();
    assert!(cfg.get("session").is_none(), "the dead session is removed");
    assert_eq!(cfg["current_org_id"], "42", "the org fields stay");
    assert!(!o.stderr.contains(&refresh));
}

#[test]
fn an_unreachable_auth_server_with_a_valid_token_goes_on() {
    let fc = FakeCloud::start(
        Scenario::new(passed_run())
            .accounts(Accounts::new(one_org()))
            .endpoint_fault("/auth/v1/token", 0, Fault::Status(503)),
    );
    let (_, dir) = dcd();
    // Valid for 30 s: inside the refresh window (60 s at real speed), still usable.
    logged_in(&fc, &dir, Duration::from_secs(30));
    let mut c = status(&dir, &fc, &[]);
    c.env("DCD_TIME_SCALE", "1");
    let o = run(c, LIMIT);
    o.assert_code(0).assert_no_panic();
}

#[test]
fn a_token_expiring_mid_wait_is_refreshed_and_the_next_poll_carries_it() {
    // Minted tokens live 3 s and the refresh window is 0.6 s at this time scale: the wait
    // refreshes about two seconds in, and again later.
    let snapshots: Vec<Vec<Value>> = (0..12)
        .map(|_| vec![row(1, "./a.yaml", "RUNNING")])
        .chain([vec![row(1, "./a.yaml", "PASSED")]])
        .collect();
    let fc = FakeCloud::start(
        Scenario::new(snapshots)
            .every(Duration::from_millis(400))
            .accounts(Accounts::new(one_org()).token_lifetime(Duration::from_secs(3))),
    );
    let (_, dir) = dcd();
    let (first, _) = logged_in(&fc, &dir, Duration::from_secs(3));
    let o = run(
        status(&dir, &fc, &["--watch", "--no-realtime", "--debug"]),
        LIMIT,
    );
    o.assert_code(0).assert_no_panic();
    let grants = fc.token_grants();
    assert!(
        !grants.is_empty() && grants.iter().all(|(_, s)| *s == 200),
        "{grants:?}\n{o}"
    );
    let polls: Vec<String> = fc
        .results_requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_string))
        .collect();
    assert_eq!(
        polls.first().map(String::as_str),
        Some(format!("Bearer {first}").as_str())
    );
    assert_ne!(
        polls.last(),
        polls.first(),
        "later polls carry the refreshed token"
    );
    assert!(!o.stderr.contains(&first));
}

#[test]
fn a_session_refreshed_by_another_process_is_adopted_and_pushed_to_the_realtime_channel() {
    use crate::support::fake_realtime::{FakeRealtime, RtScript};
    let snapshots: Vec<Vec<Value>> = (0..12)
        .map(|_| vec![row(1, "./a.yaml", "RUNNING")])
        .chain([vec![row(1, "./a.yaml", "PASSED")]])
        .collect();
    let fc = FakeCloud::start(
        Scenario::new(snapshots)
            .every(Duration::from_millis(400))
            .accounts(Accounts::new(one_org())),
    );
    let rt = FakeRealtime::start(RtScript::default());
    let (_, dir) = dcd();
    // The token this process starts with is within the refresh window two seconds in.
    let (first, refresh, expires) = fc.mint_session(Duration::from_secs(3));
    let stored = |access: &str, refresh: &str, expires_at: i64| {
        json!({
            "version": 1, "env": "dev", "api_url": fc.url(), "supabase_url": rt.url(),
            "session": {"access_token": access, "refresh_token": refresh,
                        "expires_at": expires_at, "user_email": "dev@example.com"},
            "current_org_id": "42", "current_org_name": "Acme"
        })
        .to_string()
    };
    write_config(&dir, &stored(&first, &refresh, expires));
    let (mut c, home) = dcd();
    c.env("DCD_CONFIG_DIR", dir.path().join("config")).args([
        "status",
        "--watch",
        "--upload-id",
        fc.upload_id(),
    ]);
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the realtime join", || !rt.joined().is_empty());
    // Another dcd refreshes the session meanwhile and stores the result.
    let (second, refresh2, expires2) = fc.mint_session(Duration::from_secs(3600));
    write_config(&dir, &stored(&second, &refresh2, expires2));
    let o = run_child(child);
    drop(home);
    o.assert_code(0).assert_no_panic();
    assert!(
        fc.token_grants().is_empty(),
        "adopted without calling the auth server"
    );
    assert_eq!(rt.tokens().first(), Some(&first));
    assert!(
        rt.tokens().contains(&second),
        "pushed to the channel: {:?}",
        rt.tokens()
    );
    assert_eq!(rt.connections(), 1, "no re-subscribe");
    let last = fc
        .results_requests()
        .last()
        .and_then(|r| r.header("authorization").map(str::to_string));
    assert_eq!(last, Some(format!("Bearer {second}")));
}

/// The session figures of `make bench` (run with `--ignored --nocapture`; `DCD_BENCH_BIN`
/// names the binary to measure, the static one under `make bench`): the cost of a refresh
/// round trip against the fake (a one-shot `status` with an expired session beside the same
/// with a valid one), and a wait spanning three token lifetimes at a scaled refresh window.
#[test]
#[ignore = "benchmark: session refresh"]
fn bench_session_refresh() {
    let bin = std::env::var("DCD_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dcd").into());
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    let timed = |lifetime: Duration| {
        logged_in(&fc, &dir, lifetime);
        let mut c = status(&dir, &fc, &[]);
        c.env("DCD_TIME_SCALE", "1");
        let start = std::time::Instant::now();
        let o = run(retarget(c, &bin), LIMIT);
        o.assert_code(0);
        start.elapsed().as_secs_f64() * 1000.0
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let valid = median((0..11).map(|_| timed(Duration::from_secs(3600))).collect());
    let expired = median((0..11).map(|_| timed(Duration::ZERO)).collect());
    let grants = fc.token_grants().len();
    println!(
        "refresh round trip: status with an expired session {expired:.2} ms, with a valid one {valid:.2} ms → refresh {:.2} ms ({grants} refreshes for 11 runs)",
        expired - valid
    );

    // Tokens live 4 s; the window is 0.6 s at scale 0.01: a refresh about every 3.4 s. The
    // run takes 8 × 1.5 s = 12 s: three token lifetimes.
    let snapshots: Vec<Vec<Value>> = (0..8)
        .map(|_| vec![row(1, "./a.yaml", "RUNNING")])
        .chain([vec![row(1, "./a.yaml", "PASSED")]])
        .collect();
    let lifetime = Duration::from_secs(4);
    let fc = FakeCloud::start(
        Scenario::new(snapshots)
            .every(Duration::from_millis(1500))
            .accounts(Accounts::new(one_org()).token_lifetime(lifetime)),
    );
    let (_, dir) = dcd();
    logged_in(&fc, &dir, lifetime);
    let start = std::time::Instant::now();
    let c = status(&dir, &fc, &["--watch", "--no-realtime"]);
    run(retarget(c, &bin), LIMIT).assert_code(0);
    let took = start.elapsed().as_secs_f64();
    let refreshes = fc.token_grants().iter().filter(|(_, s)| *s == 200).count();
    let failed = fc
        .results_requests()
        .iter()
        .filter(|r| r.status >= 400 || r.status == 0)
        .count();
    println!(
        "three token lifetimes: a {took:.1} s wait with {}-s tokens → {refreshes} refreshes (expected 3), {failed} failed polls",
        lifetime.as_secs()
    );
}

/// The same command run with another binary.
fn retarget(c: Command, bin: &str) -> Command {
    let mut n = Command::new(bin);
    n.args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => n.env(k, v),
            None => n.env_remove(k),
        };
    }
    if let Some(d) = c.get_current_dir() {
        n.current_dir(d);
    }
    n.stdin(Stdio::null());
    n
}
