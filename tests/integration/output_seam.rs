//! End-to-end: text that came from a server never drives the terminal, wherever it lands —
//! a prompt, a list to choose from, an error, a note, a `--debug` line — because the output
//! seam cleans everything it writes (docs/architecture.md, "Server text"). Each test plants
//! escape sequences in what the fake cloud answers (org names, the user's email, a binary id)
//! or in a path, and checks that none reaches the screen or the log raw, while dcd's own
//! colours still do.

use crate::account::{finish, login_on_a_terminal, read_url, url_params};
use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);
/// An OSC title change, a screen clear, an 8-bit CSI, a bidi override.
const EVIL: &str = "Evil\x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202e}Corp";

/// Whether `text` holds any of EVIL's sequences raw.
fn raw_escape(text: &str) -> bool {
    ["\x1b]0;pwned", "\x07", "\x1b[2J", "\u{9b}", "\u{202e}"]
        .iter()
        .any(|s| text.contains(s))
}

/// How EVIL looks once cleaned.
const SHOWN: &str = "Evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m<U+202E>Corp";

fn evil_orgs() -> Vec<Value> {
    vec![org("42", EVIL, "evil"), org("7", "Beta Labs", "beta")]
}

fn cloud(orgs: Vec<Value>, email: &str) -> FakeCloud {
    let mut a = Accounts::new(orgs);
    a.email = email.to_string();
    FakeCloud::start(Scenario::new(vec![]).accounts(a))
}

/// A stored session at `fc` for `email`, in org 42.
fn logged_in(fc: &FakeCloud, dir: &TempDir, email: &str) {
    let (access, refresh, expires_at) = fc.mint_session(Duration::from_secs(3600));
    write_config(
        dir,
        &json!({
            "version": 1, "env": "dev", "api_url": fc.url(), "supabase_url": fc.url(),
            "session": {"access_token": access, "refresh_token": refresh,
                        "expires_at": expires_at, "user_email": email, "user_id": "user-1"},
            "current_org_id": "42", "current_org_name": EVIL
        })
        .to_string(),
    );
}

#[test]
fn org_names_in_the_several_orgs_login_error_are_cleaned() {
    let fc = cloud(evil_orgs(), "dev@example.com");
    let (mut c, _dir) = dcd();
    c.env("DCD_SUPABASE_URL", fc.url())
        .args(["login", "--no-browser", "--api-url", &fc.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let (url, out) = read_url(&mut child);
    let (state, challenge) = url_params(&url);
    fc.handoff(&state, &challenge);
    let o = finish(child, out);
    o.assert_code(1);
    assert!(o.stderr.contains("several organizations"), "{o}");
    assert!(o.stderr.contains(SHOWN), "{o}");
    assert!(!raw_escape(&o.stderr) && !raw_escape(&o.stdout), "{o}");
}

#[test]
fn the_org_picker_on_a_terminal_shows_server_names_cleaned() {
    let fc = cloud(evil_orgs(), "dev@example.com");
    let (c, dir) = dcd();
    let (code, screen) = login_on_a_terminal(&fc, c, &[("Choose 1-2", "1\n")]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains(&format!("1) {SHOWN} (evil)")), "{screen}");
    assert!(!raw_escape(&screen), "{screen}");
    let cfg = std::fs::read_to_string(dir.path().join("config/config.json")).unwrap();
    let cfg: Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(
        cfg["current_org_name"], EVIL,
        "the file keeps the name as data"
    );
}

#[test]
fn switch_org_lists_available_orgs_cleaned() {
    let fc = cloud(evil_orgs(), "dev@example.com");
    let (mut c, dir) = dcd();
    logged_in(&fc, &dir, "dev@example.com");
    c.args(["switch-org", "nope", "--api-url", &fc.url()]);
    let o = run(c, LIMIT);
    o.assert_code(1).assert_no_panic();
    assert!(o.stderr.contains("No org named"), "{o}");
    assert!(o.stderr.contains(SHOWN), "{o}");
    assert!(!raw_escape(&o.stderr), "{o}");
}

#[test]
fn keeping_an_existing_session_names_the_user_cleaned() {
    let fc = cloud(evil_orgs(), EVIL);
    let (mut c, dir) = dcd();
    logged_in(&fc, &dir, EVIL);
    c.args(["login", "--no-browser", "--api-url", &fc.url()]);
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(o.stdout.contains("Keeping existing session"), "{o}");
    assert!(o.stdout.contains(SHOWN), "{o}");
    assert!(!raw_escape(&o.stdout), "{o}");
}

#[test]
fn the_already_logged_in_prompt_on_a_terminal_is_cleaned() {
    let fc = cloud(evil_orgs(), EVIL);
    let (mut c, dir) = dcd();
    logged_in(&fc, &dir, EVIL);
    c.args(["login", "--no-browser", "--api-url", &fc.url()]);
    let (code, screen) = run_pty_answering(c, 120, 30, LIMIT, &[("[y/N]", "n\n")]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Already logged in as"), "{screen}");
    assert!(screen.contains(SHOWN), "{screen}");
    assert!(!raw_escape(&screen), "{screen}");
}

#[test]
fn a_binary_id_chosen_by_the_server_is_cleaned_in_upload_output() {
    use sha2::{Digest, Sha256};
    let dir = TempDir::new();
    let apk = dir.path().join("app.apk");
    let manifest = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/apps/AndroidManifest.xml"),
    )
    .unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "AndroidManifest.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, &manifest).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    std::fs::write(&apk, &bytes).unwrap();
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let fc = FakeCloud::start(
        Scenario::default()
            .api_key("key-123456")
            .known_binary(&sha, EVIL),
    );
    let (mut c, _home) = dcd();
    c.env("DEVICE_CLOUD_API_KEY", "key-123456").args([
        "upload",
        apk.to_str().unwrap(),
        "--api-url",
        &fc.url(),
    ]);
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(o.stdout.contains(SHOWN), "{o}");
    assert!(!raw_escape(&o.stdout) && !raw_escape(&o.stderr), "{o}");
    // The JSON form keeps the id as data, with the dangerous characters as \u escapes.
    let (mut c, _home) = dcd();
    c.env("DEVICE_CLOUD_API_KEY", "key-123456").args([
        "upload",
        apk.to_str().unwrap(),
        "--json",
        "--api-url",
        &fc.url(),
    ]);
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(!raw_escape(&o.stdout), "{o}");
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["appBinaryId"], EVIL, "the same data");
}

#[test]
fn debug_lines_are_cleaned_like_every_other_line() {
    // A workspace whose folder name carries EVIL: `--debug` names its config file.
    let fc = FakeCloud::start(Scenario::new(vec![]).api_key("key-123456"));
    let (mut c, dir) = dcd();
    let ws = dir.path().join(EVIL);
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("config.yaml"), "flows:\n  - '*'\n").unwrap();
    std::fs::write(ws.join("login.yaml"), "appId: x\n---\n- launchApp\n").unwrap();
    c.env("DEVICE_CLOUD_API_KEY", "key-123456").args([
        "cloud",
        "--api-url",
        &fc.url(),
        "--app-binary-id",
        "bin-1",
        "--dry-run",
        "--debug",
        ws.to_str().unwrap(),
    ]);
    let o = run(c, LIMIT);
    o.assert_code(0);
    let line = o
        .stderr
        .lines()
        .find(|l| l.starts_with("[DEBUG] Using workspace config: "))
        .unwrap_or_else(|| panic!("no debug line names the config\n{o}"));
    assert!(line.contains(SHOWN), "{o}");
    assert!(!raw_escape(&o.stderr), "{o}");
}
