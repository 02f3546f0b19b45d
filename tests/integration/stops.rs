//! End-to-end: the one exit path. SIGINT, SIGTERM and SIGHUP in every phase of `dcd cloud`
//! (compatibility data, planning, upload, submission, wait, download) give 130/143/129
//! promptly, the re-attach hint once a run exists, and no partial file; a submission in
//! flight is finished first. A closed stdout ends quietly (141), a failed stdout write
//! exits 1, and values that used to panic or slip through are refused up front.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "stops-test-key-123456";
const LIMIT: Duration = Duration::from_secs(30);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `dcd cloud` against `fc` at real speed (so no timer races the signal).
fn cloud_cmd(fc: &FakeCloud, args: &[&str]) -> (Command, TempDir) {
    let (mut c, dir) = dcd();
    c.current_dir(repo())
        .env("DCD_TIME_SCALE", "1")
        .env("DCD_SUPABASE_URL", fc.url())
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .args(["cloud", "--api-url", &fc.url()])
        .args(args);
    (c, dir)
}

fn spawn(mut c: Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dcd")
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < LIMIT, "never saw {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `sig` and collects the output; the process must end within 5 s of the signal.
fn signal_and_collect(child: Child, sig: i32) -> Output {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, sig) };
    collect(child, Duration::from_secs(5))
}

fn fake(s: Scenario) -> FakeCloud {
    FakeCloud::start(s.api_key(KEY))
}

const FLOWS: &[&str] = &["--app-binary-id", "bin-1", "fixtures/basic"];

#[test]
fn sigint_while_fetching_compatibility_data_exits_130_without_a_hint() {
    let fc = fake(Scenario::new(vec![]).endpoint_fault("/results/compatibility", 0, Fault::Hang));
    let (c, _dir) = cloud_cmd(&fc, FLOWS);
    let child = spawn(c);
    wait_for("the compatibility request", || {
        fc.count("/results/compatibility") > 0
    });
    let o = signal_and_collect(child, libc::SIGINT);
    o.assert_code(130).assert_no_panic();
    assert!(o.stderr.contains("Interrupted (SIGINT)"), "{o}");
    assert!(!o.stderr.contains("Re-attach"), "no run exists yet\n{o}");
    assert_eq!(fc.submissions().len(), 0);
}

#[test]
fn sigterm_while_planning_exits_143() {
    let fc = fake(Scenario::new(vec![]));
    // A workspace large enough that planning is still going when the signal lands.
    let ws = TempDir::new();
    for i in 0..20_000 {
        std::fs::write(
            ws.path().join(format!("flow-{i:05}.yaml")),
            format!("appId: x\nname: f{i}\n---\n- launchApp\n"),
        )
        .unwrap();
    }
    let flows = ws.path().to_str().unwrap().to_string();
    let (c, _cfg) = cloud_cmd(&fc, &[FLOWS[0], FLOWS[1], &flows]);
    let child = spawn(c);
    wait_for("the compatibility request", || {
        fc.count("/results/compatibility") > 0
    });
    std::thread::sleep(Duration::from_millis(100));
    let o = signal_and_collect(child, libc::SIGTERM);
    o.assert_code(143).assert_no_panic();
    assert!(o.stderr.contains("Interrupted (SIGTERM)"), "{o}");
    assert_eq!(fc.submissions().len(), 0);
}

#[test]
fn sighup_while_uploading_the_flows_exits_129_and_submits_nothing() {
    let fc =
        fake(Scenario::new(vec![]).endpoint_fault("/uploads/getFlowUploadUrl", 0, Fault::Hang));
    let (c, _dir) = cloud_cmd(&fc, FLOWS);
    let child = spawn(c);
    wait_for("the upload slot request", || {
        fc.count("/uploads/getFlowUploadUrl") > 0
    });
    let o = signal_and_collect(child, libc::SIGHUP);
    o.assert_code(129).assert_no_panic();
    assert!(o.stderr.contains("Interrupted (SIGHUP)"), "{o}");
    assert_eq!(fc.submissions().len(), 0);
}

#[test]
fn sigint_during_the_submission_finishes_it_then_prints_the_upload_id() {
    let fc = fake(Scenario::new(vec![]).endpoint_fault(
        "/uploads/submitFlowTest",
        0,
        Fault::Slow(Duration::from_millis(1500)),
    ));
    let (c, _dir) = cloud_cmd(&fc, FLOWS);
    let child = spawn(c);
    wait_for("the submission", || fc.count("/uploads/submitFlowTest") > 0);
    let o = signal_and_collect(child, libc::SIGINT);
    o.assert_code(130).assert_no_panic();
    assert!(o.stderr.contains("Finishing the submission"), "{o}");
    let id = fc.upload_id().to_string();
    assert!(o.stdout.contains(&id), "the upload id is shown\n{o}");
    assert!(
        o.stderr
            .contains(&format!("dcd status --upload-id {id} --watch")),
        "{o}"
    );
    assert_eq!(fc.submissions().len(), 1, "submitted exactly once");
}

#[test]
fn sigterm_while_waiting_exits_143_with_the_reattach_hint() {
    let fc = FakeCloud::start(Scenario::new(vec![]).api_key(KEY));
    let poll = format!("/results/{}", fc.upload_id());
    drop(fc);
    let fc = fake(Scenario::new(vec![]).endpoint_fault(&poll, 0, Fault::Hang));
    let (c, _dir) = cloud_cmd(&fc, FLOWS);
    let child = spawn(c);
    wait_for("the first poll", || fc.count(&poll) > 0);
    let o = signal_and_collect(child, libc::SIGTERM);
    o.assert_code(143).assert_no_panic();
    assert!(
        o.stderr.contains("Interrupted (SIGTERM)")
            && o.stderr.contains("Re-attach with: dcd status --upload-id"),
        "{o}"
    );
}

fn no_file_like(dir: &Path, stem: &str) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .all(|e| !e.file_name().to_string_lossy().starts_with(stem))
}

#[test]
fn sigint_during_a_download_leaves_no_file_behind() {
    let fc = fake(
        Scenario::default()
            .artifacts_bytes(2_000_000)
            .stream_fault("/bundle/", StreamFault::StallAfter(1_500_000)),
    );
    let (mut c, dir) = dcd();
    c.current_dir(dir.path())
        .env("DCD_TIME_SCALE", "1")
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .args([
            "artifacts",
            "--api-url",
            &fc.url(),
            "--upload-id",
            DEFAULT_UPLOAD_ID,
            "--download-artifacts",
            "ALL",
            "--artifacts-path",
            "out.zip",
        ]);
    let child = spawn(c);
    // The download goes to a temporary `.out.zip.<unique>.tmp` beside the target.
    let partial = || {
        std::fs::read_dir(dir.path()).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with(".out.zip")
                && e.metadata().is_ok_and(|m| m.len() > 0)
        })
    };
    wait_for("the partial download", partial);
    let o = signal_and_collect(child, libc::SIGINT);
    o.assert_code(130).assert_no_panic();
    assert!(
        no_file_like(dir.path(), "out.zip"),
        "a file was left behind\n{o}"
    );
}

#[test]
fn a_closed_stdout_ends_the_wait_quietly() {
    let fc = fake(Scenario::new(vec![vec![row(1, "./a.yaml", "RUNNING")]]));
    let (mut c, _dir) = dcd();
    c.env("DEVICE_CLOUD_API_KEY", KEY).args([
        "status",
        "--api-url",
        &fc.url(),
        "--upload-id",
        fc.upload_id(),
        "--watch",
    ]);
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let start = Instant::now();
    let status = child.wait().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(141), "{err}");
    assert!(!err.contains("Error"), "quietly: {err}");
}

#[test]
fn a_failed_stdout_write_exits_1() {
    let fc = fake(Scenario::new(vec![vec![row(1, "./a.yaml", "PASSED")]]));
    let (mut c, dir) = dcd();
    let path = dir.path().join("stdout.txt");
    let file = std::fs::File::create(&path).unwrap();
    // A file size limit of 16 bytes: the JSON document does not fit, and the write fails
    // the way it does on a full disk.
    limit_file_size(&mut c, 16);
    c.env("DEVICE_CLOUD_API_KEY", KEY)
        .args([
            "status",
            "--api-url",
            &fc.url(),
            "--upload-id",
            fc.upload_id(),
            "--json",
        ])
        .stdout(Stdio::from(file))
        .stderr(Stdio::piped());
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write to stdout"), "{err}");
}

#[test]
fn a_time_scale_out_of_range_warns_and_runs_at_normal_speed() {
    let fc = fake(Scenario::new(vec![vec![row(1, "./a.yaml", "PASSED")]]));
    for bad in ["1e308", "-1", "soon"] {
        let (mut c, _dir) = dcd();
        c.env("DEVICE_CLOUD_API_KEY", KEY)
            .env("DCD_TIME_SCALE", bad)
            .args([
                "status",
                "--api-url",
                &fc.url(),
                "--upload-id",
                fc.upload_id(),
            ]);
        let o = run(c, LIMIT);
        o.assert_code(0).assert_no_panic();
        assert!(o.stderr.contains("Ignoring DCD_TIME_SCALE"), "{bad}\n{o}");
    }
}

#[test]
fn values_that_used_to_panic_or_slip_through_are_refused_before_anything_is_sent() {
    let fc = fake(Scenario::new(vec![]));
    for (args, says) in [
        (
            vec![
                "--app-binary-id",
                "b",
                "--dry-run",
                "-e",
                "NOEQUALS",
                "fixtures/basic",
            ],
            "expected KEY=VALUE",
        ),
        (
            vec![
                "--app-binary-id",
                "b",
                "--dry-run",
                "-m",
                "=v",
                "fixtures/basic",
            ],
            "Invalid --metadata value",
        ),
        (
            vec!["--app-binary-id=", "--dry-run", "fixtures/basic"],
            "--app-binary-id needs a value",
        ),
        (
            vec![
                "--app-binary-id",
                "b",
                "--timeout",
                "99999999999999999999",
                "fixtures/basic",
            ],
            "more than a year",
        ),
    ] {
        let (c, _dir) = cloud_cmd(&fc, &args);
        let o = run(c, LIMIT);
        o.assert_code(1).assert_no_panic();
        assert!(o.stderr.contains(says), "{args:?}\n{o}");
    }
    assert!(fc.requests().is_empty(), "nothing reached the API");
}

#[test]
fn dry_run_json_prints_one_plan_document() {
    let fc = fake(Scenario::new(vec![]));
    let (c, _dir) = cloud_cmd(
        &fc,
        &[
            "--app-binary-id",
            "b",
            "--dry-run",
            "--json",
            "fixtures/basic",
        ],
    );
    let o = run(c, LIMIT);
    o.assert_code(0).assert_no_panic();
    let doc: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(doc["status"], "DRY_RUN");
    assert_eq!(
        doc["flows"],
        serde_json::json!(["./checkout.yml", "./login.yaml"])
    );
    assert!(
        doc["files"].as_array().is_some_and(|f| !f.is_empty()),
        "{o}"
    );
    assert_eq!(fc.submissions().len(), 0);
}

#[test]
fn whole_number_durations_stay_integers_in_the_json() {
    let fc = fake(Scenario::new(vec![vec![duration(
        row(1, "./a.yaml", "PASSED"),
        3.0,
    )]]));
    let (mut c, _dir) = dcd();
    c.env("DEVICE_CLOUD_API_KEY", KEY).args([
        "status",
        "--api-url",
        &fc.url(),
        "--upload-id",
        fc.upload_id(),
        "--watch",
        "--json",
    ]);
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(
        o.stdout.contains("\"durationSeconds\": 3\n")
            || o.stdout.contains("\"durationSeconds\": 3,"),
        "{o}"
    );
}

#[test]
fn sigint_while_status_waits_to_retry_exits_130_at_once() {
    // A 502 makes `dcd status` retry after 1 s × attempt: 30 s at this time scale.
    let fc = fake(Scenario::new(vec![]).status_fault(0, Fault::Status(502)));
    let (mut c, _dir) = dcd();
    c.env("DCD_TIME_SCALE", "30")
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .args([
            "status",
            "--upload-id",
            fc.upload_id(),
            "--api-url",
            &fc.url(),
        ]);
    let child = spawn(c);
    wait_for("the first attempt", || fc.count("/uploads/status") > 0);
    // Its answer, then the sleep before the retry (a signal during the request ends it too).
    std::thread::sleep(Duration::from_millis(300));
    let o = signal_and_collect(child, libc::SIGINT);
    o.assert_code(130).assert_no_panic();
    assert_eq!(fc.count("/uploads/status"), 1, "no second attempt: {o}");
}
