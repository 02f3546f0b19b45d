//! End-to-end: the real `dcd status --watch` against the loopback fake cloud. Every terminal
//! state, every injected fault, the retry collapse, the ETag path, giving up, `--timeout`,
//! the CI line sequence, the TTY frame, `--json`, and Ctrl-C.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::Value;
use std::time::Duration;

const KEY: &str = "test-api-key-0123456789";
const LIMIT: Duration = Duration::from_secs(30);

fn rows(list: &[(i64, &str, &str)]) -> Vec<Value> {
    list.iter().map(|(id, f, s)| row(*id, f, s)).collect()
}

/// A run of two flows: pending → running → the given final rows.
fn two_flow_run(last: Vec<Value>) -> Scenario {
    Scenario::new(vec![
        rows(&[(1, "./a.yaml", "PENDING"), (2, "./b.yaml", "PENDING")]),
        rows(&[(1, "./a.yaml", "RUNNING"), (2, "./b.yaml", "QUEUED")]),
        last,
    ])
    .api_key(KEY)
    .name("nightly")
}

/// `dcd status --watch` of the cloud's upload with the test key, not yet run.
fn watch_cmd(cloud: &FakeCloud) -> (std::process::Command, TempDir) {
    let (mut c, dir) = dcd();
    c.args(["status", "--watch", "--upload-id", cloud.upload_id()])
        .args(["--api-url", &cloud.url(), "--api-key", KEY]);
    (c, dir)
}

fn watch(cloud: &FakeCloud, extra: &[&str]) -> Output {
    let (mut c, _dir) = watch_cmd(cloud);
    c.args(extra);
    run(c, LIMIT)
}

fn json_of(o: &Output) -> Value {
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON doc: {e}\n{o}"))
}

#[test]
fn passed_run_exits_0_with_table_and_verdict() {
    let cloud = FakeCloud::start(two_flow_run(vec![
        duration(row(1, "./a.yaml", "PASSED"), 12.0),
        duration(row(2, "./b.yaml", "PASSED"), 75.0),
    ]));
    let o = watch(&cloud, &[]);
    o.assert_code(0).assert_no_panic();
    assert!(
        o.stdout.contains("✓ Run completed: all 2 tests passed"),
        "{o}"
    );
    assert!(o.stdout.contains("1m 15s"), "{o}");
    assert_eq!(cloud.results_requests().len(), 3);
}

#[test]
fn every_terminal_state_maps_to_its_exit_code_and_json_status() {
    let cases: Vec<(Vec<Value>, i32, &str)> = vec![
        (
            rows(&[(1, "./a.yaml", "PASSED"), (2, "./b.yaml", "PASSED")]),
            0,
            "PASSED",
        ),
        (
            vec![
                row(1, "./a.yaml", "PASSED"),
                failed(row(2, "./b.yaml", "FAILED"), "boom"),
            ],
            2,
            "FAILED",
        ),
        (
            rows(&[(1, "./a.yaml", "PASSED"), (2, "./b.yaml", "CANCELLED")]),
            2,
            "FAILED",
        ),
        (
            rows(&[(1, "./a.yaml", "ERROR"), (2, "./b.yaml", "PASSED")]),
            2,
            "FAILED",
        ),
        (
            rows(&[(1, "./a.yaml", "TELEPORTED"), (2, "./b.yaml", "PASSED")]),
            2,
            "FAILED",
        ),
        (
            vec![
                failed(row(1, "./a.yaml", "FAILED"), "real failure"),
                superseded(row(2, "./b.yaml", "CANCELLED"), "newer-upload"),
            ],
            0,
            "SUPERSEDED",
        ),
    ];
    for (last, code, status) in cases {
        let cloud = FakeCloud::start(two_flow_run(last));
        let o = watch(&cloud, &["--json"]);
        o.assert_code(code).assert_no_panic();
        let v = json_of(&o);
        assert_eq!(v["status"], status, "{o}");
        assert_eq!(v["uploadId"], cloud.upload_id());
        // The FAILED document is the bare polling result: no notices key (docs/json.md,
        // "Completed run").
        assert_eq!(v.get("notices").is_some(), status != "FAILED", "{o}");
    }
}

#[test]
fn superseded_run_prints_the_notice_and_the_newer_run() {
    let cloud = FakeCloud::start(two_flow_run(vec![
        row(1, "./a.yaml", "PASSED"),
        superseded(row(2, "./b.yaml", "CANCELLED"), "newer-upload"),
    ]));
    let o = watch(&cloud, &[]);
    o.assert_code(0);
    assert!(
        o.stdout
            .contains("⚠ Run superseded by a newer run from the same CI context — exiting 0"),
        "{o}"
    );
    assert!(o.stdout.contains("upload=newer-upload"), "{o}");
}

#[test]
fn a_failed_flow_retried_to_pass_is_a_passed_run() {
    let scn = Scenario::new(vec![
        rows(&[(1, "./a.yaml", "RUNNING"), (2, "./b.yaml", "RUNNING")]),
        // The server creates the retry row as it fails the first try.
        vec![
            row(1, "./a.yaml", "PASSED"),
            failed(row(2, "./b.yaml", "FAILED"), "flaky"),
            retry(row(3, "./b.yaml", "RUNNING"), 2),
        ],
        vec![
            row(1, "./a.yaml", "PASSED"),
            failed(row(2, "./b.yaml", "FAILED"), "flaky"),
            retry(row(3, "./b.yaml", "PASSED"), 2),
        ],
    ])
    .api_key(KEY);
    let cloud = FakeCloud::start(scn);
    let o = watch(&cloud, &["--json"]);
    o.assert_code(0);
    let v = json_of(&o);
    assert_eq!(v["status"], "PASSED");
    let tests = v["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "newest try of each chain only: {o}");
    assert!(tests.iter().all(|t| t["status"] == "PASSED"));
    // The human table lists every try, the retry marked.
    let cloud = FakeCloud::start(
        Scenario::new(vec![vec![
            row(1, "./a.yaml", "PASSED"),
            failed(row(2, "./b.yaml", "FAILED"), "flaky"),
            retry(row(3, "./b.yaml", "PASSED"), 2),
        ]])
        .api_key(KEY),
    );
    let o = watch(&cloud, &[]);
    o.assert_code(0);
    assert!(
        o.stdout.contains("./b.yaml (retry)") && o.stdout.contains("flaky"),
        "{o}"
    );
}

#[test]
fn etag_revalidation_reuses_the_cached_rows_on_304() {
    // Manual timeline: the fake answers the same snapshot (→ 304) until advanced.
    let cloud = FakeCloud::start(
        Scenario::new(vec![
            rows(&[(1, "./a.yaml", "RUNNING")]),
            rows(&[(1, "./a.yaml", "PASSED")]),
        ])
        .manual()
        .api_key(KEY),
    );
    let handle = {
        let url = cloud.url();
        let id = cloud.upload_id().to_string();
        std::thread::spawn(move || {
            let (mut c, _dir) = dcd();
            c.args([
                "status",
                "--watch",
                "--upload-id",
                &id,
                "--api-url",
                &url,
                "--api-key",
                KEY,
            ]);
            run(c, LIMIT)
        })
    };
    while cloud.results_requests().len() < 4 {
        std::thread::sleep(Duration::from_millis(10));
    }
    cloud.advance();
    let o = handle.join().unwrap();
    o.assert_code(0);
    let reqs = cloud.results_requests();
    assert!(
        reqs[0].header("if-none-match").is_none(),
        "first request is unconditional"
    );
    for r in &reqs[1..] {
        assert!(
            r.header("if-none-match").is_some(),
            "later requests revalidate"
        );
        assert_eq!(r.header("cache-control"), Some("max-age=0"));
    }
    assert!(
        reqs.iter().filter(|r| r.status == 304).count() >= 3,
        "{reqs:?}"
    );
    assert_eq!(reqs.last().unwrap().status, 200);
}

#[test]
fn every_fault_is_survived_and_the_verdict_is_right() {
    let faults = [
        Fault::Status(502),
        Fault::Status(500),
        Fault::Status(503),
        Fault::TooManyRequests {
            retry_after_secs: Some(1),
        },
        Fault::Reset,
        Fault::Slow(Duration::from_millis(100)),
        Fault::Hang,
        Fault::InvalidJson,
        Fault::EmptyResults,
        Fault::ErrorEnvelope(500),
        Fault::NotModified,
        Fault::Status(404),
    ];
    for fault in faults {
        let scn = two_flow_run(vec![
            row(1, "./a.yaml", "PASSED"),
            failed(row(2, "./b.yaml", "FAILED"), "boom"),
        ])
        .fault(0, fault.clone())
        .fault(2, fault.clone());
        let cloud = FakeCloud::start(scn);
        let o = watch(&cloud, &["--json"]);
        o.assert_code(2).assert_no_panic();
        assert_eq!(json_of(&o)["status"], "FAILED", "{fault:?}\n{o}");
        // Three snapshots, plus the two faulted requests (a slow answer is not a fault);
        // a reset connection may be retried once by the HTTP client itself.
        let n = cloud.results_requests().len();
        let expected = if matches!(fault, Fault::Slow(_)) {
            3
        } else {
            5
        };
        assert!(
            (expected..=expected + 2).contains(&n),
            "{fault:?}: {n} requests\n{o}"
        );
        if !matches!(fault, Fault::Slow(_)) {
            assert!(
                o.stderr.contains("unable to fetch results"),
                "{fault:?}\n{o}"
            );
        }
    }
}

#[test]
fn thirty_failures_give_up_with_a_diagnosis_and_the_reattach_hint() {
    let mut scn = two_flow_run(rows(&[(1, "./a.yaml", "PASSED")]));
    for n in 0..40 {
        scn = scn.fault(n, Fault::Status(502));
    }
    let cloud = FakeCloud::start(scn);
    let (mut c, _dir) = watch_cmd(&cloud);
    c.env("DCD_TIME_SCALE", "0.001");
    let o = run(c, LIMIT);
    o.assert_code(1).assert_no_panic();
    assert_eq!(cloud.results_requests().len(), 30, "{o}");
    assert!(
        o.stderr
            .contains("Unable to fetch results after 30 attempts"),
        "{o}"
    );
    assert!(
        o.stderr.contains("✓ TCP connect"),
        "diagnosis of the API host: {o}"
    );
    assert!(
        o.stderr.contains(&format!(
            "dcd status --upload-id {} --watch",
            cloud.upload_id()
        )),
        "{o}"
    );
}

#[test]
fn auth_failure_mid_run_ends_at_once() {
    let scn = two_flow_run(rows(&[(1, "./a.yaml", "PASSED")])).fault(1, Fault::Status(401));
    let cloud = FakeCloud::start(scn);
    let o = watch(&cloud, &[]);
    o.assert_code(1);
    assert!(o.stderr.contains("Authentication failed"), "{o}");
    assert_eq!(cloud.results_requests().len(), 2);
}

#[test]
fn timeout_exits_1_with_the_hint_and_leaves_the_run_alone() {
    let cloud = FakeCloud::start(
        Scenario::new(vec![rows(&[(1, "./a.yaml", "RUNNING")])])
            .manual()
            .api_key(KEY),
    );
    // 0.5 minutes at scale 0.01 = 0.3 s of real time.
    let o = watch(&cloud, &["--timeout", "0.5"]);
    o.assert_code(1).assert_no_panic();
    assert!(o.stderr.contains("Timed out after 30s"), "{o}");
    assert!(o.stderr.contains("--watch"), "{o}");
    assert!(o.elapsed < Duration::from_secs(5), "{o}");
    assert!(
        cloud.requests().iter().all(|r| r.method == "GET"),
        "nothing cancelled"
    );
}

#[test]
fn ci_log_is_one_line_per_change_without_escapes() {
    let scn = Scenario::new(vec![
        rows(&[(1, "./a.yaml", "PENDING"), (2, "./b.yaml", "PENDING")]),
        rows(&[(1, "./a.yaml", "PENDING"), (2, "./b.yaml", "PENDING")]),
        rows(&[(1, "./a.yaml", "RUNNING"), (2, "./b.yaml", "QUEUED")]),
        rows(&[(1, "./a.yaml", "RUNNING"), (2, "./b.yaml", "QUEUED")]),
        vec![
            duration(row(1, "./a.yaml", "PASSED"), 12.0),
            duration(
                failed(row(2, "./b.yaml", "FAILED"), "Element not found"),
                61.0,
            ),
        ],
    ])
    .api_key(KEY);
    let cloud = FakeCloud::start(scn);
    let (mut c, _dir) = watch_cmd(&cloud);
    c.env("CI", "true").env("CLICOLOR", "1");
    let o = run(c, LIMIT);
    o.assert_code(2);
    assert!(
        !o.stdout.contains('\x1b') && !o.stdout.contains('\r'),
        "{o}"
    );
    let stdout = o.stdout.replace(cloud.upload_id(), "<upload>");
    insta::assert_snapshot!(stdout, @r"
    Waiting for results
    You can safely close this terminal and the tests will continue
    [0/2] ⏸ pending  ./a.yaml
    [0/2] ⏸ pending  ./b.yaml
    [0/2] ▶ running  ./a.yaml
    [0/2] ⏳ queued  ./b.yaml
    [2/2] ✓ passed   ./a.yaml · 12s
    [2/2] ✗ failed   ./b.yaml · 1m 1s — Element not found

    duration  status  test      fail_reason
    ────────  ──────  ────────  ─────────────────
    12s       passed  ./a.yaml
    1m 1s     failed  ./b.yaml  Element not found

    ✗ Run completed: 1 of 2 tests failed
      ⎿ results  https://console.devicecloud.dev/results?upload=<upload>&result=1
    ");
}

#[test]
fn quiet_ci_log_prints_the_summary_line_when_it_changes() {
    let cloud = FakeCloud::start(two_flow_run(rows(&[
        (1, "./a.yaml", "PASSED"),
        (2, "./b.yaml", "PASSED"),
    ])));
    let o = watch(&cloud, &["--quiet"]);
    o.assert_code(0);
    let lines: Vec<&str> = o.stdout.lines().filter(|l| l.contains(" │ ✓ ")).collect();
    assert_eq!(
        lines,
        vec![
            "0/2 │ ✓ 0 │ ✗ 0 │ ▶ 0 │ ⏸ 2 │ ⏳ 0",
            "0/2 │ ✓ 0 │ ✗ 0 │ ▶ 1 │ ⏸ 0 │ ⏳ 1",
            "2/2 │ ✓ 2 │ ✗ 0 │ ▶ 0 │ ⏸ 0 │ ⏳ 0",
        ],
        "{o}"
    );
}

#[test]
fn a_silent_ci_log_gets_a_still_waiting_line() {
    let cloud = FakeCloud::start(
        Scenario::new(vec![rows(&[(1, "./a.yaml", "RUNNING")])])
            .manual()
            .api_key(KEY),
    );
    // 5 minutes at scale 0.002 is 0.6 s; wait ~12 virtual minutes.
    let (mut c, _dir) = dcd();
    c.env("DCD_TIME_SCALE", "0.002").args([
        "status",
        "--watch",
        "--upload-id",
        cloud.upload_id(),
        "--api-url",
        &cloud.url(),
        "--api-key",
        KEY,
        "--timeout",
        "12",
    ]);
    let o = run(c, LIMIT);
    o.assert_code(1);
    let waits: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("still waiting"))
        .collect();
    assert_eq!(
        waits,
        vec![
            "⏳ still waiting: 0/1 done, 5m elapsed",
            "⏳ still waiting: 0/1 done, 10m elapsed"
        ],
        "{o}"
    );
}

#[test]
fn json_mode_keeps_stdout_to_one_document() {
    let scn = two_flow_run(rows(&[
        (1, "./a.yaml", "PASSED"),
        (2, "./b.yaml", "PASSED"),
    ]))
    .fault(1, Fault::Status(502));
    let cloud = FakeCloud::start(scn);
    let o = watch(&cloud, &["--json", "--debug"]);
    o.assert_code(0);
    let v = json_of(&o);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        ["consoleUrl", "status", "tests", "uploadId", "notices"]
    );
    let t = &v["tests"][0];
    assert_eq!(t["fileName"], "./a.yaml");
    assert_eq!(t["flowName"], "a");
    assert_eq!(t["device"]["name"], "pixel-7");
    assert!(o.stderr.contains("unable to fetch results"), "{o}");
    assert!(o.stderr.contains("[DEBUG]"), "{o}");
}

#[test]
fn the_tty_frame_redraws_in_place_and_restores_the_cursor() {
    let scn = Scenario::new(vec![
        rows(&[
            (1, "./flows/login.yaml", "RUNNING"),
            (2, "./flows/search.yaml", "PENDING"),
        ]),
        rows(&[
            (1, "./flows/login.yaml", "PASSED"),
            (2, "./flows/search.yaml", "RUNNING"),
        ]),
        rows(&[
            (1, "./flows/login.yaml", "PASSED"),
            (2, "./flows/search.yaml", "PASSED"),
        ]),
    ])
    .api_key(KEY);
    let cloud = FakeCloud::start(scn);
    let (mut c, _dir) = watch_cmd(&cloud);
    c.env("DCD_TIME_SCALE", "0.05");
    let (code, screen) = run_pty(c, 100, 30, LIMIT);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("\x1b[?25l") && screen.contains("\x1b[?25h"),
        "cursor hidden then shown"
    );
    assert!(screen.contains("Waiting for results"), "{screen}");
    assert!(screen.contains("next refresh in 20s"), "{screen}");
    assert!(
        screen.contains("\x1b[J"),
        "frames are erased, not appended: {screen:?}"
    );
    assert!(screen.contains("\x1b[32m"), "colour on a TTY");
    assert!(
        screen.contains("Run completed: all 2 tests passed"),
        "{screen}"
    );
}

#[test]
fn bearer_sessions_send_the_token_and_org_and_never_print_the_token() {
    let token = "eyJhbGciOiJIUzI1NiJ9.secret-access-token.sig";
    let scn = Scenario::new(vec![
        rows(&[(1, "./a.yaml", "RUNNING")]),
        rows(&[(1, "./a.yaml", "PASSED")]),
    ])
    .bearer(token, "42");
    let cloud = FakeCloud::start(scn);
    let (mut c, dir) = dcd();
    write_config(
        &dir,
        &session_config(&cloud.url(), token, "42", unix_now() + 3600),
    );
    c.args([
        "status",
        "--watch",
        "--upload-id",
        cloud.upload_id(),
        "--debug",
        "--no-realtime",
    ]);
    let o = run(c, LIMIT);
    o.assert_code(0);
    let r = &cloud.results_requests()[0];
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(r.header("x-dcd-org"), Some("42"));
    assert!(r.header("user-agent").unwrap().starts_with("dcd/"));
    assert!(
        !o.stdout.contains("secret-access-token") && !o.stderr.contains("secret-access-token"),
        "{o}"
    );
    assert!(!o.stderr.contains("refresh-secret-value"), "{o}");
}

#[test]
fn ctrl_c_while_waiting_exits_130_with_the_reattach_hint() {
    let cloud = FakeCloud::start(
        Scenario::new(vec![rows(&[(1, "./a.yaml", "RUNNING")])])
            .manual()
            .api_key(KEY),
    );
    let (mut c, _dir) = watch_cmd(&cloud);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    while cloud.results_requests().is_empty() {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Interrupted") && err.contains("--watch"),
        "{err}"
    );
}
