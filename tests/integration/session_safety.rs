//! End-to-end: the session store under hostile conditions. The lock (a lock path that is a
//! directory, a holder that keeps it, a slow auth server, a lock another process took over),
//! which answers of the auth server are definitive, a new session that cannot be saved (a
//! full disk, a read-only directory), logout and login racing a refresh, stops on every
//! blocking step of login and refresh (a slow refresh, a hanging claim, the questions on a
//! terminal), a FIFO in place of `config.json`, the mode of an existing config directory,
//! and hostile answers (a captive portal's claim answer, 20,000 orgs, a line break in the
//! stored org id, a refresh answered with another user's session, without a refresh token,
//! or with an absurd lifetime).

use crate::account::{
    accounts_cloud, config, logged_in, one_org, passed_run, read_url, spawn_login, status,
    stub_opener, two_orgs, url_params,
};
use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);
/// How soon after a signal a blocking step must have ended (generous: a loaded CI machine).
const AFTER_STOP: Duration = Duration::from_secs(5);

fn lock_path(dir: &TempDir) -> PathBuf {
    dir.path().join("config/config.json.lock")
}

fn spawn(mut c: std::process::Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dcd")
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a child this test started.
    unsafe { libc::kill(pid as i32, sig) };
}

/// How long the slow auth server takes over the first refresh: longer than the (scaled) 10 s
/// after which a waiting dcd used to take the lock over, shorter than the (scaled) request
/// timeout.
const SLOW: Duration = Duration::from_secs(3);

/// `c` at a time scale where [`SLOW`] fits its refresh request (timeout 6 s) and its lock
/// wait (12 s).
fn scaled(mut c: std::process::Command) -> std::process::Command {
    c.env("DCD_TIME_SCALE", "0.2");
    c
}

/// A fake whose token endpoint answers the first refresh after `delay`.
fn slow_auth(delay: Duration) -> FakeCloud {
    FakeCloud::start(
        Scenario::new(passed_run())
            .accounts(Accounts::new(one_org()))
            .endpoint_fault("/auth/v1/token", 0, Fault::Slow(delay)),
    )
}

#[test]
fn a_lock_path_that_is_a_directory_is_a_clear_error_at_once() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::ZERO);
    std::fs::create_dir(lock_path(&dir)).unwrap();
    // It used to spin at 100 % CPU, forever.
    let o = run(status(&dir, &fc, &[]), LIMIT);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr.contains(&format!(
            "the session lock {} is a directory, not a lock file",
            lock_path(&dir).display()
        )),
        "{o}"
    );
    assert!(fc.token_grants().is_empty(), "no refresh without the lock");
    assert!(lock_path(&dir).is_dir(), "left alone");

    // A token still valid goes on being used, and the user is told why it was not refreshed.
    logged_in(&fc, &dir, Duration::from_secs(30));
    let mut c = status(&dir, &fc, &[]);
    c.env("DCD_TIME_SCALE", "1");
    let o = run(c, LIMIT);
    o.assert_code(0).assert_no_panic();
    assert!(
        o.stderr
            .contains("Could not refresh the session: the session lock")
            && o.stderr.contains("is a directory"),
        "{o}"
    );
    assert!(fc.token_grants().is_empty());
}

#[test]
fn waiting_for_a_held_lock_ends_on_a_stop_and_starts_no_refresh() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::ZERO);
    // Another process holds the lock: it has it locked and keeps touching it.
    let held = std::fs::File::create(lock_path(&dir)).unwrap();
    held.lock().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let toucher = {
        let (file, done) = (held.try_clone().unwrap(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                file.set_modified(std::time::SystemTime::now()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let mut c = status(&dir, &fc, &[]);
    c.env("DCD_TIME_SCALE", "1");
    let child = spawn(c);
    let pid = child.id();
    // Waiting for the lock: nothing to observe but time.
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    signal(pid, libc::SIGTERM);
    let o = collect(child, AFTER_STOP + LIMIT);
    let took = sent.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    toucher.join().unwrap();
    o.assert_code(143).assert_no_panic();
    assert!(took < AFTER_STOP, "ended {took:?} after SIGTERM\n{o}");
    assert!(o.stderr.contains("Interrupted (SIGTERM)"), "{o}");
    assert!(
        fc.token_grants().is_empty(),
        "a stopped dcd starts no refresh"
    );
    assert!(lock_path(&dir).exists(), "the holder's lock stays");
}

#[test]
fn a_slow_auth_server_gets_each_refresh_token_once() {
    // The second dcd used to take the lock over after a (scaled) 2 s of waiting, while the
    // first one's refresh was still in flight, and spend the same token.
    let fc = slow_auth(SLOW);
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::ZERO);
    let first = spawn(scaled(status(&dir, &fc, &[])));
    wait_for("the first refresh", || fc.count("/auth/v1/token") >= 1);
    let second = spawn(scaled(status(&dir, &fc, &[])));
    let (a, b) = (collect(first, LIMIT), collect(second, LIMIT));
    a.assert_code(0).assert_no_panic();
    b.assert_code(0).assert_no_panic();
    let grants = fc.token_grants();
    assert_eq!(grants.len(), 1, "one refresh in all: {grants:?}\n{a}\n{b}");
    assert_eq!(grants[0].1, 200);
}

#[test]
fn only_the_owner_removes_the_lock() {
    let fc = slow_auth(SLOW);
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::ZERO);
    let child = spawn(scaled(status(&dir, &fc, &[])));
    wait_for("the refresh", || fc.count("/auth/v1/token") >= 1);
    // Meanwhile another process has put its own lock there (as a takeover would).
    let lock = lock_path(&dir);
    std::fs::rename(&lock, dir.path().join("moved-away.lock")).unwrap();
    std::fs::write(&lock, "4242 another-holder\n").unwrap();
    let o = collect(child, LIMIT);
    o.assert_code(0).assert_no_panic();
    assert_eq!(
        std::fs::read_to_string(&lock).ok().as_deref(),
        Some("4242 another-holder\n"),
        "another holder's lock is not removed\n{o}"
    );
}

#[test]
fn only_the_auth_servers_refusals_of_the_token_remove_the_session() {
    // A wrong DCD_SUPABASE_URL (404), a proxy's page (403), a wrong anon key (401), a 405.
    for status_code in [404, 403, 401, 405] {
        let fc = FakeCloud::start(
            Scenario::new(passed_run())
                .accounts(Accounts::new(one_org()))
                .endpoint_fault("/auth/v1/token", 0, Fault::Status(status_code)),
        );
        let (_, dir) = dcd();
        // Valid for 30 s: inside the refresh window (60 s at real speed), still usable.
        let (access, _) = logged_in(&fc, &dir, Duration::from_secs(30));
        let mut c = status(&dir, &fc, &[]);
        c.env("DCD_TIME_SCALE", "1");
        let o = run(c, LIMIT);
        o.assert_code(0).assert_no_panic();
        assert_eq!(fc.count("/auth/v1/token"), 1, "{status_code}");
        let cfg = config(&dir).expect("config.json stays");
        assert_eq!(
            cfg["session"]["access_token"], access,
            "{status_code}: the still-valid session is kept\n{o}"
        );
    }
}

#[test]
fn a_refreshed_session_that_cannot_be_saved_is_a_warning_naming_the_file() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    let (old, _) = logged_in(&fc, &dir, Duration::ZERO);
    // A full disk: the lock (a few bytes) is written, config.json (~400 bytes) is not.
    let mut c = status(&dir, &fc, &[]);
    limit_file_size(&mut c, 200);
    let o = run(c, LIMIT);
    o.assert_code(0).assert_no_panic();
    assert_eq!(fc.token_grants().len(), 1);
    let file = dir.path().join("config/config.json");
    assert!(
        o.stderr.contains(&format!(
            "The refreshed session could not be saved to {}",
            file.display()
        )) && o.stderr.contains("run `dcd login`"),
        "{o}"
    );
    assert_eq!(config(&dir).unwrap()["session"]["access_token"], old);
}

/// Runs `c` so that `dir` (which it may not write) is read-only to it: as another user when
/// the tests run as root (for whom modes do not stop writes). False (with a visible SKIPPED)
/// when that cannot be arranged.
fn read_only_for(c: &mut std::process::Command, dir: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        const NOBODY: u32 = 65534;
        let mut probe = start(&dcd_bin());
        probe.arg("--version").uid(NOBODY).gid(NOBODY);
        let runs = probe.output().is_ok_and(|o| o.status.success());
        if !runs || std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).is_err() {
            eprintln!("SKIPPED: read-only config directory (cannot run dcd as nobody)");
            return false;
        }
        c.uid(NOBODY).gid(NOBODY);
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    true
}

#[test]
fn a_config_directory_that_cannot_be_written_keeps_the_refresh_token_unspent() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    let (access, refresh) = logged_in(&fc, &dir, Duration::from_secs(30));
    let cfg_dir = dir.path().join("config");
    let mut c = status(&dir, &fc, &[]);
    c.env("DCD_TIME_SCALE", "1");
    if !read_only_for(&mut c, &cfg_dir) {
        return;
    }
    let o = run(c, LIMIT);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cfg_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    o.assert_code(0).assert_no_panic();
    assert!(
        o.stderr.contains("Could not refresh the session")
            && o.stderr.contains(&cfg_dir.display().to_string()),
        "said before spending the token\n{o}"
    );
    assert!(
        fc.token_grants().is_empty(),
        "the refresh token is not spent"
    );
    let cfg = config(&dir).unwrap();
    assert_eq!(
        (
            &cfg["session"]["access_token"],
            &cfg["session"]["refresh_token"]
        ),
        (&json!(access), &json!(refresh))
    );
}

#[test]
fn a_refresh_finishing_during_logout_does_not_log_back_in() {
    let fc = slow_auth(SLOW);
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::ZERO);
    let refreshing = spawn(scaled(status(&dir, &fc, &[])));
    wait_for("the refresh", || fc.count("/auth/v1/token") >= 1);
    let mut logout = dcd_in(dir.path());
    logout.arg("logout");
    let logout = scaled(logout);
    let out = run(logout, LIMIT);
    let refreshed = collect(refreshing, LIMIT);
    out.assert_code(0).assert_no_panic();
    assert!(out.stdout.contains("Logged out (dev@example.com)"), "{out}");
    refreshed.assert_no_panic();
    assert!(
        config(&dir).is_none(),
        "logged out stays logged out: {:?}\n{refreshed}",
        config(&dir)
    );
}

#[test]
fn a_login_during_another_processes_refresh_keeps_the_new_login() {
    let fc = slow_auth(SLOW);
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::ZERO);
    let refreshing = spawn(scaled(status(&dir, &fc, &[])));
    wait_for("the refresh", || fc.count("/auth/v1/token") >= 1);
    // Meanwhile the user logs in again on a terminal, and the console hands a new session over
    // as soon as the browser "opens".
    let mut login = dcd_in(dir.path());
    login.env("DCD_TIME_SCALE", "0.1");
    let (code, screen) = crate::account::login_on_a_terminal(&fc, login, &[("[y/N]", "y\n")]);
    assert_eq!(code, 0, "{screen}");
    let refreshed = collect(refreshing, LIMIT);
    refreshed.assert_code(0).assert_no_panic();
    let claimed = fc.claimed_tokens();
    let cfg = config(&dir).unwrap();
    assert_eq!(
        cfg["session"]["access_token"].as_str(),
        claimed.first().map(String::as_str),
        "the new login's session, not the refreshed old one\n{screen}\n{refreshed}"
    );
    assert_eq!(cfg["current_org_id"], "42");
    assert_eq!(cfg["api_url"], fc.url());
}

#[test]
fn a_slow_refresh_ends_on_a_stop_at_once() {
    let fc = FakeCloud::start(
        Scenario::new(passed_run())
            .accounts(Accounts::new(one_org()))
            .endpoint_fault("/auth/v1/token", 0, Fault::Hang),
    );
    let (_, dir) = dcd();
    let (access, _) = logged_in(&fc, &dir, Duration::ZERO);
    let mut c = status(&dir, &fc, &[]);
    c.env("DCD_TIME_SCALE", "1");
    let child = spawn(c);
    wait_for("the refresh", || fc.count("/auth/v1/token") >= 1);
    let sent = Instant::now();
    signal(child.id(), libc::SIGINT);
    let o = collect(child, LIMIT);
    let took = sent.elapsed();
    o.assert_code(130).assert_no_panic();
    assert!(took < AFTER_STOP, "ended {took:?} after SIGINT\n{o}");
    assert_eq!(config(&dir).unwrap()["session"]["access_token"], access);
    assert!(!lock_path(&dir).exists(), "the lock is released");
}

#[test]
fn a_hanging_claim_ends_on_a_stop_at_once() {
    let fc = FakeCloud::start(
        Scenario::new(vec![])
            .accounts(Accounts::new(one_org()))
            .endpoint_fault("/cli-login/claim", 0, Fault::Hang),
    );
    let (mut c, _dir) = dcd();
    c.env("DCD_TIME_SCALE", "1")
        .args(["login", "--no-browser", "--api-url", &fc.url()]);
    let child = spawn(c);
    wait_for("the claim", || fc.count("/cli-login/claim") >= 1);
    let sent = Instant::now();
    signal(child.id(), libc::SIGTERM);
    let o = collect(child, LIMIT);
    let took = sent.elapsed();
    o.assert_code(143).assert_no_panic();
    assert!(took < AFTER_STOP, "ended {took:?} after SIGTERM\n{o}");
}

/// Starts `c` on a terminal, waits for `prompt`, sends `sig`; the exit code and the screen,
/// and how long the end took after the signal.
fn stop_at_prompt(c: std::process::Command, prompt: &str, sig: i32) -> (i32, String, Duration) {
    let pty = LivePty::spawn(c, 100, 30);
    assert!(
        pty.wait_for(prompt, LIMIT),
        "no prompt: {}",
        String::from_utf8_lossy(&pty.output())
    );
    let sent = Instant::now();
    signal(pty.pid(), sig);
    let (code, out) = pty.finish(LIMIT);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        sent.elapsed(),
    )
}

#[test]
fn a_stop_ends_the_questions_on_a_terminal() {
    // "Already logged in as …? [y/N]"
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), vec![]);
    let (mut c, dir) = dcd();
    logged_in(&fc, &dir, Duration::from_secs(3600));
    c.args(["login", "--no-browser", "--api-url", &fc.url()]);
    let (code, screen, took) = stop_at_prompt(c, "[y/N]", libc::SIGINT);
    assert_eq!(code, 130, "{screen}");
    assert!(took < AFTER_STOP, "ended {took:?} after SIGINT\n{screen}");
    assert!(screen.contains("Interrupted (SIGINT)"), "{screen}");
    assert!(!screen.contains("Keeping existing session"), "{screen}");
    assert_eq!(fc.count("/cli-login/claim"), 0);

    // "Choose 1-2:", after a login the console completed.
    let fc = accounts_cloud(two_orgs(), Duration::from_secs(3600), vec![]);
    let bin = TempDir::new();
    let (path, seen) = stub_opener(&bin);
    let (mut c, dir) = dcd();
    c.env("PATH", path)
        .env("DCD_SUPABASE_URL", fc.url())
        .args(["login", "--api-url", &fc.url()]);
    let (code, screen, took) = std::thread::scope(|s| {
        s.spawn(|| {
            wait_for("the opener", || {
                std::fs::read_to_string(&seen).is_ok_and(|u| u.contains("code_challenge="))
            });
            let (state, challenge) = url_params(&std::fs::read_to_string(&seen).unwrap());
            fc.handoff(&state, &challenge);
        });
        stop_at_prompt(c, "Choose 1-2", libc::SIGTERM)
    });
    assert_eq!(code, 143, "{screen}");
    assert!(took < AFTER_STOP, "ended {took:?} after SIGTERM\n{screen}");
    assert!(config(&dir).is_none(), "nothing saved");
}

#[test]
fn a_fifo_in_place_of_config_json_stops_the_login_before_the_browser_step() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), vec![]);
    let (mut c, dir) = dcd();
    let cfg = dir.path().join("config");
    std::fs::create_dir_all(&cfg).unwrap();
    let fifo = cfg.join("config.json");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    c.args(["login", "--no-browser", "--api-url", &fc.url()]);
    let child = spawn(c);
    // Were the URL printed, the test's console would hand a session over (and a FIFO would
    // swallow it).
    let o = collect(child, LIMIT);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr
            .contains(&format!("{} is a FIFO, not a regular file", fifo.display())),
        "{o}"
    );
    assert!(!o.stdout.contains("/cli-login?"), "no browser step\n{o}");
    assert_eq!(fc.count("/cli-login/claim"), 0);
}

#[test]
fn an_existing_config_directory_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    let cfg_dir = dir.path().join("config");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    // A shared directory: group-writable, setgid.
    std::fs::set_permissions(&cfg_dir, std::fs::Permissions::from_mode(0o2770)).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let before = mode(&cfg_dir);
    logged_in(&fc, &dir, Duration::ZERO);
    let o = run(status(&dir, &fc, &[]), LIMIT);
    o.assert_code(0).assert_no_panic();
    assert_eq!(fc.token_grants().len(), 1, "the session was saved");
    assert_eq!(mode(&cfg_dir), before, "{o}");
    assert_eq!(mode(&cfg_dir.join("config.json")), 0o600);
}

#[test]
fn a_claim_answered_by_a_captive_portal_names_it() {
    let fc = FakeCloud::start(
        Scenario::new(vec![])
            .accounts(Accounts::new(one_org()))
            .endpoint_fault("/cli-login/claim", 0, Fault::InvalidJson),
    );
    let (mut c, dir) = dcd();
    c.args(["login", "--no-browser", "--api-url", &fc.url()]);
    let o = run(c, LIMIT);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr.contains("Login failed") && o.stderr.contains("captive portal"),
        "{o}"
    );
    assert!(!o.stderr.contains("timed out"), "{o}");
    assert_eq!(fc.count("/cli-login/claim"), 1);
    assert!(config(&dir).is_none());
}

#[test]
fn twenty_thousand_orgs_make_a_short_message() {
    let many: Vec<Value> = (0..20_000)
        .map(|i| {
            org(
                &i.to_string(),
                &format!("Org number {i}"),
                &format!("org-{i}"),
            )
        })
        .collect();
    let fc = accounts_cloud(many, Duration::from_secs(3600), vec![]);
    let (mut child, dir) = spawn_login(&fc, &["--no-browser"]);
    let (url, out) = read_url(&mut child);
    let (state, challenge) = url_params(&url);
    fc.handoff(&state, &challenge);
    let o = crate::account::finish(child, out);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr.contains("Org number 9 … and 19990 more") && o.stderr.len() < 2_000,
        "{} bytes: {}",
        o.stderr.len(),
        &o.stderr[..o.stderr.len().min(500)]
    );
    // And switch-org's "No org named …".
    let mut c = dcd_in(dir.path());
    c.args(["switch-org", "nope"]);
    let o = run(c, LIMIT);
    o.assert_code(1);
    assert!(
        o.stderr.contains("Available: Org number 0") && o.stderr.len() < 2_000,
        "{} bytes",
        o.stderr.len()
    );
}

#[test]
fn a_line_break_in_the_stored_org_id_is_refused_before_any_request() {
    let fc = accounts_cloud(one_org(), Duration::from_secs(3600), passed_run());
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::from_secs(3600));
    let mut cfg = config(&dir).unwrap();
    cfg["current_org_id"] = json!("42\r\nx-evil: 1");
    write_config(&dir, &cfg.to_string());
    let o = run(status(&dir, &fc, &[]), LIMIT);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr
            .contains("The stored current_org_id contains a carriage return (CR)"),
        "{o}"
    );
    assert!(!o.stderr.contains("could not reach"), "{o}");
    assert!(fc.requests().is_empty(), "nothing sent");
}

#[test]
fn hostile_refresh_answers_are_refused_or_saturated() {
    for (answer, says) in [
        (TokenAnswer::OtherUser, "another user's session"),
        (TokenAnswer::NoRefreshToken, "it has no refresh_token"),
    ] {
        let fc = FakeCloud::start(
            Scenario::new(passed_run()).accounts(Accounts::new(one_org()).token_answer(answer)),
        );
        let (_, dir) = dcd();
        let (access, refresh) = logged_in(&fc, &dir, Duration::ZERO);
        // Expired a minute ago (not a rounding second away from now).
        let mut cfg = config(&dir).unwrap();
        cfg["session"]["expires_at"] = json!(unix_now() - 60);
        write_config(&dir, &cfg.to_string());
        let o = run(status(&dir, &fc, &[]), LIMIT);
        o.assert_code(1).assert_no_panic();
        assert!(
            o.stderr.contains("could not be refreshed") && o.stderr.contains(says),
            "{answer:?}\n{o}"
        );
        let cfg = config(&dir).unwrap();
        assert_eq!(
            (
                &cfg["session"]["access_token"],
                &cfg["session"]["refresh_token"]
            ),
            (&json!(access), &json!(refresh)),
            "{answer:?}: the answer is not stored"
        );
    }
    // `expires_in: 1e30` used to wrap `expires_at` (an overflow panic in a debug build).
    let fc = FakeCloud::start(
        Scenario::new(passed_run())
            .accounts(Accounts::new(one_org()).token_answer(TokenAnswer::HugeLifetime)),
    );
    let (_, dir) = dcd();
    logged_in(&fc, &dir, Duration::ZERO);
    let o = run(status(&dir, &fc, &[]), LIMIT);
    o.assert_code(0).assert_no_panic();
    let expires = config(&dir).unwrap()["session"]["expires_at"].as_i64();
    assert!(expires.is_some_and(|e| e > unix_now()), "{expires:?}");
    // And the session stored so is used as it is by the next command.
    run(status(&dir, &fc, &[]), LIMIT)
        .assert_code(0)
        .assert_no_panic();
    assert_eq!(fc.token_grants().len(), 1);
}
