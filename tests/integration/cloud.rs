//! End-to-end: `dcd cloud --app-binary-id … <fixture workspace>` against the fake cloud —
//! the zip and payload it submits, `--dry-run`, `--async`, the wait and the completed-run
//! JSON, the multipart fallback, a submit that fails is not retried, downloads, and the
//! validation errors of docs/commands.md, "Cross-flag errors".

use crate::support::fake_cloud::*;
use crate::support::lib;
use crate::support::*;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

const KEY: &str = "cloud-test-key-123456";
const LIMIT: Duration = Duration::from_secs(30);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cloud_cmd(fc: &FakeCloud, args: &[&str]) -> (std::process::Command, TempDir) {
    let (mut c, dir) = dcd();
    c.current_dir(repo())
        .env("DCD_SUPABASE_URL", fc.url())
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .args(["cloud", "--api-url", &fc.url()])
        .args(args);
    (c, dir)
}

fn cloud(fc: &FakeCloud, args: &[&str]) -> Output {
    let (c, _dir) = cloud_cmd(fc, args);
    run(c, LIMIT)
}

fn fake() -> FakeCloud {
    FakeCloud::start(Scenario::new(vec![]).api_key(KEY))
}

fn zip_entries(zip: &[u8]) -> Vec<String> {
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut names: Vec<String> = (0..a.len())
        .map(|i| a.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn zip_file(zip: &[u8], name: &str) -> String {
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut s = String::new();
    a.by_name(name).unwrap().read_to_string(&mut s).unwrap();
    s
}

#[test]
fn a_basic_workspace_is_zipped_submitted_and_waited_for() {
    let fc = fake();
    let o = cloud(
        &fc,
        &["--app-binary-id", "bin-42", "fixtures/basic", "--json"],
    );
    o.assert_code(0).assert_no_panic();
    let subs = fc.submissions();
    assert_eq!(subs.len(), 1, "{o}");
    let sub = &subs[0];
    assert_eq!(sub.via, "json");
    assert_eq!(sub.str("appBinaryId"), Some("bin-42"));
    assert_eq!(
        sub.json("testFileNames").unwrap(),
        serde_json::json!(["./checkout.yml", "./login.yaml"])
    );
    assert_eq!(sub.json("sequentialFlows").unwrap(), serde_json::json!([]));
    let config = sub.json("config").unwrap();
    assert_eq!(
        config["maestroVersion"], "1.39.13",
        "the compat data's default"
    );
    assert_eq!(config["continueOnFailure"], true);
    assert_eq!(config["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(sub.str("runnerType"), Some("default"));
    assert_eq!(sub.fields["useTus"], true);
    // The zip went through TUS; its sha is the payload's, its entries are the flows.
    let stored = fc
        .stored_object(sub.str("path").unwrap())
        .expect("TUS object");
    assert_eq!(zip_entries(&stored), ["checkout.yml", "login.yaml"]);
    assert_eq!(
        zip_file(&stored, "login.yaml"),
        std::fs::read_to_string(repo().join("fixtures/basic/login.yaml")).unwrap()
    );
    let sha = sub.str("sha").unwrap();
    assert_eq!(sha.len(), 64);
    // The completed-run JSON, keys in order, flow names from the YAML.
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        ["consoleUrl", "status", "tests", "uploadId", "notices"]
    );
    assert_eq!(v["status"], "PASSED");
    let names: Vec<&str> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["flowName"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Login"), "{o}");
    // The compat request carried the identity header.
    let compat = fc
        .requests()
        .into_iter()
        .find(|r| r.path == "/results/compatibility/data")
        .unwrap();
    assert_eq!(
        compat.header("x-dcd-cli-version"),
        Some(env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn dependencies_overrides_and_flags_reach_the_payload() {
    let fc = fake();
    let o = cloud(
        &fc,
        &[
            "--app-binary-id",
            "bin-1",
            "fixtures/dependencies",
            "--async",
            "--json",
            "-e",
            "USER=alice",
            "--env=PASS=a=b",
            "--metadata",
            "team=mobile",
            "--branch",
            "main",
            "--retry",
            "5",
            "--ios-device",
            "iphone-16",
            "--ios-version",
            "18",
            "--name",
            "nightly",
        ],
    );
    o.assert_code(0).assert_no_panic();
    assert!(o.stderr.contains("limited to 2"), "{o}");
    let sub = &fc.submissions()[0];
    assert_eq!(
        sub.json("env").unwrap(),
        serde_json::json!({"USER": "alice", "PASS": "a=b"})
    );
    assert_eq!(
        sub.json("metadata").unwrap(),
        serde_json::json!({"userMetadata": {"gh_branch": "main", "team": "mobile"}})
    );
    assert_eq!(sub.json("config").unwrap()["autoRetriesRemaining"], 2);
    assert_eq!(sub.str("iOSDevice"), Some("iphone-16"));
    assert_eq!(sub.str("name"), Some("nightly"));
    let stored = fc.stored_object(sub.str("path").unwrap()).unwrap();
    let entries = zip_entries(&stored);
    for must in [
        "main.yaml",
        "subflows/login.yaml",
        "scripts/setup.js",
        "media/a.png",
    ] {
        assert!(
            entries.iter().any(|e| e == must),
            "{must} missing from {entries:?}"
        );
    }
    assert!(
        !entries.iter().any(|e| e.contains("unreferenced")),
        "{entries:?}"
    );
    // --async --json: the PENDING document.
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["status"], "PENDING");
    assert!(
        v["tests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "PENDING" && t.get("durationSeconds").is_none())
    );
    assert_eq!(
        fc.count(&format!("/results/{}", fc.upload_id())),
        0,
        "--async does not wait"
    );
}

#[test]
fn dry_run_uploads_nothing() {
    let fc = fake();
    let o = cloud(
        &fc,
        &["--app-binary-id", "bin-1", "fixtures/basic", "--dry-run"],
    );
    o.assert_code(0);
    assert!(o.stderr.contains("Dry run mode"), "{o}");
    assert!(
        o.stdout.contains("The following tests would have been run"),
        "{o}"
    );
    assert!(o.stdout.contains("./login.yaml"), "{o}");
    assert!(fc.submissions().is_empty() && fc.tus_uploads().is_empty());
    assert_eq!(fc.count("/uploads/getFlowUploadUrl"), 0);
}

#[test]
fn the_multipart_fallback_is_used_when_the_api_lacks_the_direct_path() {
    let fc = FakeCloud::start(Scenario::new(vec![]).api_key(KEY).submit_json_status(404));
    let o = cloud(
        &fc,
        &["--app-binary-id", "bin-1", "fixtures/basic", "--json"],
    );
    o.assert_code(0);
    let subs = fc.submissions();
    let last = subs.last().unwrap();
    assert_eq!(last.via, "multipart", "{o}");
    assert_eq!(
        zip_entries(last.zip.as_ref().unwrap()),
        ["checkout.yml", "login.yaml"]
    );
    assert_eq!(last.str("appBinaryId"), Some("bin-1"));
}

#[test]
fn a_failed_submit_is_not_retried() {
    let fc = FakeCloud::start(Scenario::new(vec![]).api_key(KEY).endpoint_fault(
        "/uploads/submitFlowTest",
        0,
        Fault::Status(502),
    ));
    let o = cloud(&fc, &["--app-binary-id", "bin-1", "fixtures/basic"]);
    o.assert_code(1).assert_no_panic();
    assert_eq!(fc.count("/uploads/submitFlowTest"), 1, "{o}");
    assert_eq!(
        fc.count("/uploads/flow"),
        0,
        "a 502 is not a reason to use the fallback"
    );
}

#[test]
fn a_failed_run_exits_2_and_0_with_json_file() {
    let scn = || {
        Scenario::new(vec![
            vec![
                row(1, "./login.yaml", "RUNNING"),
                row(2, "./checkout.yml", "PENDING"),
            ],
            vec![
                row(1, "./login.yaml", "PASSED"),
                failed(row(2, "./checkout.yml", "FAILED"), "boom"),
            ],
        ])
        .api_key(KEY)
    };
    let fc = FakeCloud::start(scn());
    let o = cloud(
        &fc,
        &["--app-binary-id", "bin-1", "fixtures/basic", "--json"],
    );
    o.assert_code(2);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["status"], "FAILED");
    assert!(v.get("notices").is_none());
    let fc = FakeCloud::start(scn());
    let dir = TempDir::new();
    let out = dir.path().join("out/run.json");
    let o = cloud(
        &fc,
        &[
            "--app-binary-id",
            "bin-1",
            "fixtures/basic",
            "--json-file",
            "--json-file-name",
            out.to_str().unwrap(),
        ],
    );
    o.assert_code(0);
    let v: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["status"], "FAILED");
}

#[test]
fn downloads_land_where_the_flags_say() {
    let fc = fake();
    let dir = TempDir::new();
    let art = dir.path().join("deep/a/artifacts.zip");
    let junit = dir.path().join("r/report.xml");
    let o = cloud(
        &fc,
        &[
            "--app-binary-id",
            "bin-1",
            "fixtures/basic",
            "--download-artifacts",
            "ALL",
            "--artifacts-path",
            art.to_str().unwrap(),
            "--report",
            "junit",
            "--junit-path",
            junit.to_str().unwrap(),
        ],
    );
    o.assert_code(0);
    assert!(
        o.stdout.contains("Test artifacts have been downloaded to"),
        "{o}"
    );
    assert!(
        o.stdout
            .contains("JUNIT test report has been downloaded to"),
        "{o}"
    );
    assert!(std::fs::metadata(&art).unwrap().len() > 0);
    assert!(std::fs::metadata(&junit).unwrap().len() > 0);
    assert_eq!(
        fc.submissions()[0].json("config").unwrap()["report"],
        "junit"
    );
}

#[test]
fn validation_errors_exit_1_with_their_text() {
    let fc = fake();
    let cases: &[(&[&str], &str)] = &[
        (&["--app-binary-id", "b"], "You must provide a flow file"),
        (
            &["--app-binary-id", "b", "app.apk", "fixtures/basic"],
            "You cannot provide both an appBinaryId and a binary file",
        ),
        (
            &[
                "--app-binary-id",
                "b",
                "fixtures/basic",
                "--json-file-name",
                "x.json",
            ],
            "--json-file-name requires --json-file",
        ),
        (
            &[
                "--app-binary-id",
                "b",
                "fixtures/basic",
                "--artifacts-path",
                "a.zip",
            ],
            "--artifacts-path requires --download-artifacts",
        ),
        (
            &[
                "--app-binary-id",
                "b",
                "fixtures/basic",
                "--junit-path",
                "r.xml",
            ],
            "--junit-path requires --report",
        ),
        (
            &[
                "--app-file",
                "a.apk",
                "--app-url",
                "https://x",
                "fixtures/basic",
            ],
            "mutually exclusive",
        ),
        (
            &[
                "--app-binary-id",
                "b",
                "fixtures/basic",
                "--ios-device-matrix",
                "iphone-16:18",
                "--android-device-matrix",
                "pixel-7:34",
            ],
            "cannot mix platforms",
        ),
        (
            &[
                "--app-binary-id",
                "b",
                "fixtures/basic",
                "--ios-device-matrix",
                "iphone-16",
            ],
            "iphone-16",
        ),
        (
            &[
                "--app-binary-id",
                "b",
                "fixtures/basic",
                "--maestro-version",
                "0.0.1",
            ],
            "Maestro version 0.0.1 is not supported",
        ),
        (
            &[
                "--app-binary-id",
                "b",
                "fixtures/basic",
                "--ios-device",
                "iphone-99",
            ],
            "iOS device \"iphone-99\" is not supported",
        ),
        (
            &["--app-binary-id", "b", "fixtures/nope"],
            "Flow path does not exist",
        ),
        (
            &["--app-binary-id", "b", "fixtures/missing-deps"],
            "The following flow files are not present in the filesystem",
        ),
        (
            &["--app-binary-id", "b", "fixtures/basic", "--retry", "x"],
            "Invalid integer value for --retry: \"x\"",
        ),
        (
            &[
                "--app-binary-id",
                "b",
                "fixtures/basic",
                "--orientation",
                "45",
            ],
            "Expected one of: 0, 90",
        ),
        (
            &["app.apk", "fixtures/basic"],
            "App file does not exist: app.apk",
        ),
    ];
    for (args, text) in cases {
        let o = cloud(&fc, args);
        o.assert_code(1).assert_no_panic();
        assert!(o.stderr.contains(text), "{args:?} should say {text:?}\n{o}");
    }
    assert!(fc.submissions().is_empty());
}

#[test]
fn a_bad_key_fails_on_the_compat_data_with_the_status() {
    let fc = fake();
    let (mut c, _dir) = cloud_cmd(&fc, &["--app-binary-id", "b", "fixtures/basic"]);
    c.env("DEVICE_CLOUD_API_KEY", "wrong-key-000000");
    let o = run(c, LIMIT);
    o.assert_code(1);
    assert!(
        o.stderr
            .contains("Failed to fetch device compatibility data"),
        "{o}"
    );
    assert!(
        o.stderr.contains("401") || o.stderr.contains("Authentication failed"),
        "{o}"
    );
}

#[test]
fn every_fixture_that_plans_submits_exactly_the_planned_zip_and_names() {
    let fixtures = repo().join("fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let opts = lib::plan::PlanOptions {
            flows: dir.clone(),
            cwd: repo(),
            config: None,
            include_tags: vec![],
            exclude_tags: vec![],
            exclude_flows: vec![],
            per_flow_debug: false,
            // Re-read by the zip here; dcd zips the bytes it kept: the same zip either way.
            keep_sources: false,
        };
        let fc = fake();
        let rel = dir
            .strip_prefix(repo())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let o = cloud(
            &fc,
            &["--app-binary-id", "bin-1", &rel, "--async", "--json"],
        );
        let Ok(plan) = lib::plan::plan(&opts) else {
            // A fixture that must fail to plan fails the command the same way.
            o.assert_code(1).assert_no_panic();
            assert!(fc.submissions().is_empty(), "{rel}");
            continue;
        };
        o.assert_code(0).assert_no_panic();
        let bundle = lib::plan::bundle(&plan).unwrap();
        let sub = &fc.submissions()[0];
        assert_eq!(sub.str("sha"), Some(bundle.sha256.as_str()), "{rel}");
        let stored = fc.stored_object(sub.str("path").unwrap()).unwrap();
        assert_eq!(
            stored, bundle.zip,
            "{rel}: the submitted zip is the planned one"
        );
        let mut entries = bundle.entries.clone();
        entries.sort();
        assert_eq!(zip_entries(&stored), entries, "{rel}");
        assert_eq!(
            sub.json("testFileNames").unwrap(),
            serde_json::json!(plan.test_file_names(&bundle.root)),
            "{rel}"
        );
        assert_eq!(
            sub.json("sequentialFlows").unwrap(),
            serde_json::json!(plan.sequential_flows(&bundle.root)),
            "{rel}"
        );
        assert_eq!(
            sub.json("testFileOverrides").unwrap(),
            plan.overrides_json(&bundle.root),
            "{rel}"
        );
        assert_eq!(
            sub.json("flowMetadata").unwrap(),
            plan.flow_metadata_json(&bundle.root),
            "{rel}"
        );
        assert_eq!(
            sub.json("workspaceConfig"),
            plan.workspace_config.clone(),
            "{rel}"
        );
        // The async document, key for key.
        let v: Value = serde_json::from_str(&o.stdout).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            ["consoleUrl", "status", "tests", "uploadId", "notices"],
            "{rel}"
        );
        for t in v["tests"].as_array().unwrap() {
            let keys: Vec<&str> = t.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            assert_eq!(
                keys,
                ["device", "fileName", "flowName", "name", "status", "tags"],
                "{rel}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} fixtures planned");
}

#[test]
fn notices_that_apply_are_shown_and_in_the_json() {
    let mut compat = default_compat();
    compat["notices"] = serde_json::json!([
        {"id": "1", "slug": "gpu1-retired", "level": "deprecation", "title": "gpu1 is retired",
         "body": "Use cpu1.", "learnMoreUrl": "https://docs.example/gpu1", "dismissible": false,
         "match": {"rules": [{"field": "runner_type", "op": "equals", "value": "gpu1"}]}},
        {"id": "2", "slug": "everyone", "level": "info", "title": "Hello", "body": "Hi.",
         "learnMoreUrl": null, "dismissible": true, "match": null},
        {"id": "3", "slug": "ios-only", "level": "warn", "title": "iOS", "body": "x",
         "learnMoreUrl": null, "dismissible": true,
         "match": {"rules": [{"field": "ios_version", "op": "present"}]}}
    ]);
    let fc = FakeCloud::start(Scenario::new(vec![]).api_key(KEY).compat(compat));
    let o = cloud(
        &fc,
        &[
            "--app-binary-id",
            "b",
            "fixtures/basic",
            "--runner-type",
            "gpu1",
            "--async",
            "--json",
        ],
    );
    o.assert_code(0);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let slugs: Vec<&str> = v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["gpu1-retired", "everyone"]);
    let keys: Vec<&str> = v["notices"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["slug", "level", "title", "body", "learnMoreUrl"]);
    let o = cloud(
        &fc,
        &[
            "--app-binary-id",
            "b",
            "fixtures/basic",
            "--runner-type",
            "gpu1",
            "--async",
        ],
    );
    assert!(
        o.stdout.contains("⚠ gpu1 is retired")
            && o.stdout.contains("See: https://docs.example/gpu1"),
        "{o}"
    );
    assert!(!o.stdout.contains("iOS"), "{o}");
}

#[test]
fn backblaze_is_used_when_offered_and_tus_always() {
    for mode in [B2Mode::Simple, B2Mode::S3, B2Mode::Large { parts: 3 }] {
        let fc = FakeCloud::start(Scenario::new(vec![]).api_key(KEY).b2(mode.clone()));
        let o = cloud(
            &fc,
            &[
                "--app-binary-id",
                "b",
                "fixtures/dependencies",
                "--async",
                "--json",
            ],
        );
        o.assert_code(0).assert_no_panic();
        let sub = &fc.submissions()[0];
        assert_eq!(sub.fields["backblazeSuccess"], true, "{mode:?}\n{o}");
        assert_eq!(sub.fields["supabaseSuccess"], true, "{mode:?}");
        let tus = fc.stored_object(sub.str("path").unwrap()).unwrap();
        let b2: Vec<Vec<u8>> = fc
            .requests()
            .iter()
            .filter_map(|r| r.header("x-bz-file-name").map(|n| percent_decode(n, false)))
            .filter_map(|n| fc.b2_object(&n))
            .collect();
        if !matches!(mode, B2Mode::S3 | B2Mode::Large { .. }) {
            assert_eq!(b2, vec![tus.clone()], "{mode:?}: B2 got the same bytes");
        }
        if let B2Mode::Large { .. } = mode {
            assert_eq!(fc.count("/uploads/finishLargeFile"), 1, "{mode:?}");
        }
    }
}

#[test]
fn a_404_on_the_upload_url_also_falls_back_to_multipart() {
    let fc = FakeCloud::start(Scenario::new(vec![]).api_key(KEY).endpoint_fault(
        "/uploads/getFlowUploadUrl",
        0,
        Fault::Status(404),
    ));
    let o = cloud(
        &fc,
        &[
            "--app-binary-id",
            "b",
            "fixtures/basic",
            "--async",
            "--json",
        ],
    );
    o.assert_code(0);
    assert_eq!(fc.submissions().last().unwrap().via, "multipart", "{o}");
    assert_eq!(fc.count("/uploads/submitFlowTest"), 0);
}
