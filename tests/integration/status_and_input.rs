//! End-to-end: one-shot `dcd status`, and bad input of every kind — each a clear message,
//! exit 1, never a panic.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::Value;
use std::time::Duration;

const KEY: &str = "test-api-key-0123456789";
const LIMIT: Duration = Duration::from_secs(30);

fn done_run() -> Scenario {
    Scenario::new(vec![vec![
        duration(row(1, "./a.yaml", "PASSED"), 32.0),
        duration(
            failed(row(2, "./b.yaml", "FAILED"), "Element not found"),
            61.0,
        ),
    ]])
    .api_key(KEY)
    .name("nightly")
    .created_at("2026-11-24T08:00:00.000Z")
}

fn status(args: &[&str]) -> Output {
    let (mut c, _dir) = dcd();
    c.arg("status").args(args);
    run(c, LIMIT)
}

#[test]
fn status_prints_the_upload_and_exits_0_whatever_the_run_status() {
    let cloud = FakeCloud::start(done_run());
    let o = status(&[
        "--name",
        "nightly",
        "--api-key",
        KEY,
        "--api-url",
        &cloud.url(),
    ]);
    o.assert_code(0);
    let out = o.stdout.replace(cloud.upload_id(), "<upload>");
    insta::assert_snapshot!(out, @r"

    ⏺ Upload Status
      ⎿ ✗ failed
        name        nightly
        upload id   <upload>
        binary id   bin-123
        created     2026-11-24 08:00:00 UTC
        console     https://console.devicecloud.dev/results?upload=<upload>&result=1

    ⏺ Test Results
      ⎿ ✓ ./a.yaml · 32s · 2026-11-24 08:00:00 UTC
        ✗ ./b.yaml · 1m 1s · 2026-11-24 08:00:00 UTC · Element not found
    ");
    assert_eq!(cloud.requests()[0].query_param("name"), Some("nightly"));
}

#[test]
fn status_json_moves_tests_last_and_retry_notes_go_to_stderr() {
    let cloud = FakeCloud::start(
        done_run()
            .status_fault(0, Fault::Status(502))
            .status_fault(1, Fault::Reset),
    );
    let o = status(&[
        "--upload-id",
        cloud.upload_id(),
        "--api-key",
        KEY,
        "--api-url",
        &cloud.url(),
        "--json",
    ]);
    o.assert_code(0);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(v.as_object().unwrap().keys().next_back().unwrap(), "tests");
    assert_eq!(v["status"], "FAILED");
    assert!(o.stderr.contains("on attempt 1/5. Retrying..."), "{o}");
    assert!(o.stderr.contains("Network error on attempt 2/5"), "{o}");
}

#[test]
fn status_of_an_unknown_upload_is_one_request_and_exit_1() {
    let cloud = FakeCloud::start(done_run());
    let o = status(&[
        "--upload-id",
        "nope",
        "--api-key",
        KEY,
        "--api-url",
        &cloud.url(),
    ]);
    o.assert_code(1).assert_no_panic();
    assert!(o.stderr.contains("✗ Error: Resource not found."), "{o}");
    assert_eq!(cloud.count("/uploads/status"), 1);
    let o = status(&[
        "--upload-id",
        "nope",
        "--api-key",
        KEY,
        "--api-url",
        &cloud.url(),
        "--json",
    ]);
    o.assert_code(1);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["attempts"], 1);
    assert_eq!(v["tests"], serde_json::json!([]));
}

#[test]
fn an_unreachable_api_is_retried_5_times_then_diagnosed() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let o = status(&[
        "--upload-id",
        "u1",
        "--api-key",
        KEY,
        "--api-url",
        &url,
        "--json",
    ]);
    o.assert_code(1).assert_no_panic();
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(v["attempts"], 5);
    assert_eq!(v["connectivityCheck"]["connected"], false);
    assert!(v["error"].as_str().unwrap().contains("TCP connect"), "{o}");
    assert_eq!(o.stderr.matches("Retrying...").count(), 4, "{o}");
}

#[test]
fn missing_and_conflicting_arguments() {
    let o = status(&[]);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr.contains("Not authenticated") && o.stderr.contains("DEVICE_CLOUD_API_KEY"),
        "{o}"
    );
    let o = status(&["--api-key", KEY]);
    o.assert_code(1);
    assert!(
        o.stderr
            .contains("Either --name or --upload-id must be provided"),
        "{o}"
    );
    let o = status(&["--api-key", KEY, "--name", "a", "--upload-id", "b"]);
    o.assert_code(1);
    assert!(o.stderr.contains("mutually exclusive"), "{o}");
    let o = status(&["--api-key", KEY, "--upload-id"]);
    o.assert_code(1);
    assert!(o.stderr.contains("Missing value for --upload-id"), "{o}");
    let o = status(&["--api-key", KEY, "--upload-idd", "x"]);
    o.assert_code(1);
    assert!(o.stderr.contains("Did you mean --upload-id?"), "{o}");
    let o = status(&[
        "--api-key",
        KEY,
        "--upload-id",
        "x",
        "--watch",
        "--timeout",
        "soon",
    ]);
    o.assert_code(1);
    assert!(o.stderr.contains("Invalid value for --timeout"), "{o}");
    let o = status(&[
        "--api-key",
        KEY,
        "--upload-id",
        "x",
        "--api-url",
        "ftp://example.com",
    ]);
    o.assert_code(1);
    assert!(o.stderr.contains("Invalid API URL"), "{o}");
    let o = status(&[
        "--api-key",
        KEY,
        "--upload-id",
        "x",
        "--json",
        "--color",
        "pink",
    ]);
    o.assert_code(1);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("Expected one of: auto, always, never")
    );
}

#[test]
fn garbage_or_future_config_warns_and_counts_as_logged_out() {
    let cloud = FakeCloud::start(done_run());
    for (body, why) in [
        ("{not json", "not valid JSON"),
        (
            r#"{"version": 7, "session": {"access_token": "t"}}"#,
            "version is 7",
        ),
    ] {
        let (mut c, dir) = dcd();
        write_config(&dir, body);
        c.args([
            "status",
            "--upload-id",
            cloud.upload_id(),
            "--api-url",
            &cloud.url(),
        ]);
        let o = run(c, LIMIT);
        o.assert_code(1).assert_no_panic();
        assert!(
            o.stderr.contains(why) && o.stderr.contains("Not authenticated"),
            "{o}"
        );
        // With a key the command still works, after the warning.
        let (mut c, dir) = dcd();
        write_config(&dir, body);
        c.args([
            "status",
            "--upload-id",
            cloud.upload_id(),
            "--api-url",
            &cloud.url(),
        ])
        .env("DEVICE_CLOUD_API_KEY", KEY);
        let o = run(c, LIMIT);
        o.assert_code(0);
        assert!(o.stderr.contains("⚠ Ignoring"), "{o}");
    }
}

#[test]
fn an_expired_session_is_reported_clearly() {
    let (mut c, dir) = dcd();
    write_config(
        &dir,
        &session_config("http://127.0.0.1:9", "tok-abcdefgh", "42", 1_000),
    );
    c.args(["status", "--upload-id", "u1"]);
    let o = run(c, LIMIT);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr
            .contains("session for dev@example.com expired at 1970-01-01"),
        "{o}"
    );
    assert!(!o.stderr.contains("tok-abcdefgh"));
}

#[test]
fn commands_not_ported_yet_say_so_and_help_and_version_work() {
    // `upload` is available now: without an app it says how to give one.
    let cmd = "upload";
    let (mut c, _dir) = dcd();
    c.args([cmd, "--api-key", "k-0123456789"]);
    let o = run(c, LIMIT);
    o.assert_code(1).assert_no_panic();
    assert!(!o.stderr.contains("not available"), "{cmd}: {o}");
    assert!(
        o.stderr
            .contains("You must provide an app file path or a signed Expo URL via --app-url"),
        "{cmd}: {o}"
    );
    let (mut c, _dir) = dcd();
    c.args([cmd, "--help"]);
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(o.stdout.contains(&format!("dcd {cmd}")), "{cmd}: {o}");
    let (mut c, _dir) = dcd();
    c.arg("--version");
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert_eq!(o.stdout.trim(), env!("CARGO_PKG_VERSION"));
    let (mut c, _dir) = dcd();
    c.args(["list", "--limit", "ten"]);
    let o = run(c, LIMIT);
    o.assert_code(1);
    assert!(
        o.stderr
            .contains(r#"Invalid integer value for --limit: "ten""#),
        "{o}"
    );
}
