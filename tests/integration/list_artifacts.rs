//! End-to-end: `dcd list` and `dcd artifacts` (docs/commands.md, "`dcd list`" and "`dcd
//! artifacts …`"; docs/http-api.md, "Endpoints used by this build") — the real
//! binary against the loopback fake cloud: filters sent as given, output as the TS CLI
//! prints it, bundle downloads with their fallbacks, files streamed to the right place, and
//! credentials never sent to a bundle URL.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "test-api-key-0123456789";
const LIMIT: Duration = Duration::from_secs(30);

/// `dcd <args> --api-key KEY --api-url <fake>`, run in the command's temp dir (also $HOME).
fn dcd_at(cloud: &FakeCloud, args: &[&str]) -> (Command, TempDir) {
    let (mut c, dir) = dcd();
    c.args(args)
        .args(["--api-key", KEY, "--api-url", &cloud.url()])
        .current_dir(dir.path());
    (c, dir)
}

fn run_at(cloud: &FakeCloud, args: &[&str]) -> (Output, TempDir) {
    let (c, dir) = dcd_at(cloud, args);
    let o = run(c, LIMIT);
    o.assert_no_panic();
    (o, dir)
}

fn uploads() -> Vec<Value> {
    vec![
        listed(
            "aaaaaaaa-0000-0000-0000-000000000001",
            Some("nightly-1"),
            "2025-03-01T09:15:00.000Z",
        ),
        listed(
            "aaaaaaaa-0000-0000-0000-000000000002",
            Some("nightly-2"),
            "2025-03-02T21:40:00.000Z",
        ),
        listed(
            "aaaaaaaa-0000-0000-0000-000000000003",
            None,
            "2025-03-03T00:05:00.000Z",
        ),
    ]
}

fn list_cloud() -> FakeCloud {
    FakeCloud::start(Scenario::default().api_key(KEY).uploads(uploads()))
}

fn list_requests(cloud: &FakeCloud) -> Vec<Recorded> {
    cloud
        .requests()
        .into_iter()
        .filter(|r| r.path == "/uploads/list")
        .collect()
}

// ---------------------------------------------------------------------------
// dcd list
// ---------------------------------------------------------------------------

#[test]
fn list_json_is_the_api_body_verbatim() {
    let cloud = list_cloud();
    let (o, _d) = run_at(&cloud, &["list", "--json"]);
    o.assert_code(0);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    let mut newest_first = uploads();
    newest_first.reverse();
    assert_eq!(
        v,
        json!({"uploads": newest_first, "total": 3, "limit": 20, "offset": 0})
    );
    // Key order kept, two-space indent.
    assert!(
        o.stdout
            .starts_with("{\n  \"uploads\": [\n    {\n      \"id\""),
        "{o}"
    );
    assert_eq!(o.stderr, "");
    let reqs = list_requests(&cloud);
    assert_eq!(reqs.len(), 1);
    let q: Vec<(&str, &str)> = reqs[0]
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(q, [("limit", "20"), ("offset", "0")], "only what was given");
    assert_eq!(reqs[0].header("x-app-api-key"), Some(KEY));
}

#[test]
fn list_human_output_with_the_pagination_hint() {
    let cloud = list_cloud();
    let (o, _d) = run_at(&cloud, &["list", "--limit", "2"]);
    o.assert_code(0);
    insta::assert_snapshot!(o.stdout, @r"

    ⏺ Recent Uploads
       Showing 2 of 3 uploads

       (unnamed)
          ID: aaaaaaaa-0000-0000-0000-000000000003
          Created: Mar 3, 2025, 12:05 AM
          Console: https://console.devicecloud.dev/results?upload=aaaaaaaa-0000-0000-0000-000000000003

       nightly-2
          ID: aaaaaaaa-0000-0000-0000-000000000002
          Created: Mar 2, 2025, 09:40 PM
          Console: https://console.devicecloud.dev/results?upload=aaaaaaaa-0000-0000-0000-000000000002

       Use --offset 2 to see the next 1 uploads

       ℹ Use dcd status --upload-id <id> for detailed test results
    ");
    assert_eq!(o.stderr, "");

    let (o, _d) = run_at(&cloud, &["list", "--limit", "2", "--offset", "2"]);
    o.assert_code(0);
    assert!(
        o.stdout
            .contains("Showing 1 of 3 uploads\n   (offset: 2)\n"),
        "{o}"
    );
    assert!(!o.stdout.contains("--offset"), "last page: no hint\n{o}");
    assert!(o.stdout.contains("nightly-1"));
}

#[test]
fn list_sends_the_filters_as_given() {
    let cloud = list_cloud();
    let (o, _d) = run_at(
        &cloud,
        &[
            "list",
            "--name",
            "nightly-*",
            "--from",
            "2025-03-02",
            "--to=2025-03-03T23:00:00Z",
            "--limit",
            "5",
            "--offset",
            "0",
        ],
    );
    o.assert_code(0);
    assert_eq!(o.stderr, "", "a quoted wildcard is fine");
    assert!(o.stdout.contains("Showing 1 of 1 uploads"), "{o}");
    assert!(o.stdout.contains("nightly-2") && !o.stdout.contains("nightly-1"));
    let r = &list_requests(&cloud)[0];
    let q: Vec<(&str, &str)> = r
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        q,
        [
            ("name", "nightly-*"),
            ("from", "2025-03-02"),
            ("to", "2025-03-03T23:00:00Z"),
            ("limit", "5"),
            ("offset", "0"),
        ]
    );
}

#[test]
fn list_with_nothing_found() {
    let cloud = list_cloud();
    let (o, _d) = run_at(&cloud, &["list", "--name", "nope"]);
    o.assert_code(0);
    assert_eq!(o.stdout, "\nℹ No uploads found matching your criteria.\n\n");
}

#[test]
fn list_warns_when_the_shell_expanded_the_name() {
    let cloud = list_cloud();
    let (o, _d) = run_at(&cloud, &["list", "--name", "flows/nightly.yaml"]);
    o.assert_code(0);
    assert!(
        o.stderr.starts_with(
            "⚠ The --name parameter appears to have been expanded by your shell: \
             \"flows/nightly.yaml\"\nWildcards like * should be quoted"
        ),
        "{o}"
    );
    assert!(
        o.stderr
            .contains("✓ Correct:   dcd list --name \"nightly-*\"")
    );
    assert!(
        o.stdout.contains("No uploads found"),
        "the request still goes out"
    );
    let (o, _d) = run_at(&cloud, &["list", "--name", "nightly-2", "--json"]);
    assert_eq!(o.stderr, "", "{o}");
}

#[test]
fn list_refuses_bad_dates_before_any_request() {
    let cloud = list_cloud();
    for (flag, example) in [("--from", "2024-01-01"), ("--to", "2024-01-31")] {
        let (o, _d) = run_at(&cloud, &["list", flag, "last tuesday"]);
        o.assert_code(1);
        assert_eq!(
            o.stderr.trim_end(),
            format!(
                "✗ Error: Invalid {flag} date format. Please use ISO 8601 format (e.g., {example})."
            ),
            "{o}"
        );
    }
    let (o, _d) = run_at(&cloud, &["list", "--limit", "ten"]);
    o.assert_code(1);
    assert!(o.stderr.contains("--limit"), "{o}");
    assert!(list_requests(&cloud).is_empty());
}

#[test]
fn list_api_errors_are_wrapped_and_exit_1() {
    let cloud = FakeCloud::start(
        Scenario::default()
            .api_key(KEY)
            .endpoint_fault("/uploads/list", 0, Fault::Status(500))
            .endpoint_fault("/uploads/list", 1, Fault::Status(500)),
    );
    let (o, _d) = run_at(&cloud, &["list"]);
    o.assert_code(1);
    assert_eq!(
        o.stderr.trim_end(),
        "✗ Error: Failed to list uploads: Server error occurred. Please try again or contact \
         support. (Listing uploads)"
    );
    assert_eq!(o.stdout, "");
    let (o, _d) = run_at(&cloud, &["list", "--json"]);
    o.assert_code(1);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(v["status"], "FAILED");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("Failed to list uploads: Server error")
    );

    // A bad key: the 401 text, and still exit 1.
    let (mut c, _d) = dcd();
    c.args([
        "list",
        "--api-key",
        "wrong-key-000000",
        "--api-url",
        &cloud.url(),
    ]);
    let o = run(c, LIMIT);
    o.assert_code(1);
    assert!(
        o.stderr
            .contains("Failed to list uploads: Authentication failed"),
        "{o}"
    );
    assert!(!o.stderr.contains("wrong-key-000000"));
}

// ---------------------------------------------------------------------------
// dcd artifacts: the artifacts zip
// ---------------------------------------------------------------------------

fn art_cloud(s: Scenario) -> FakeCloud {
    FakeCloud::start(s.api_key(KEY))
}

fn artifacts(cloud: &FakeCloud, extra: &[&str]) -> (Output, TempDir) {
    let mut args = vec![
        "artifacts",
        "--upload-id",
        DEFAULT_UPLOAD_ID,
        "--download-artifacts",
    ];
    args.extend_from_slice(extra);
    run_at(cloud, &args)
}

/// The requests of the bundle and inline routes, as `METHOD path` strings.
fn download_route(cloud: &FakeCloud) -> Vec<String> {
    cloud
        .requests()
        .into_iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

fn assert_no_credentials_sent_to_bundles(cloud: &FakeCloud) {
    for r in cloud.requests() {
        if r.path.starts_with("/bundle/") {
            for h in [
                "authorization",
                "x-app-api-key",
                "x-dcd-org",
                "apikey",
                "cookie",
            ] {
                assert_eq!(r.header(h), None, "{h} sent to {}", r.path);
            }
        }
    }
}

/// Nothing of the one file writer's temporary files (`.<name>.<pid>-<n>-<nanos>.tmp` beside
/// the target) is left anywhere under `dir`.
fn no_temporary_files(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !(name.starts_with('.') && name.ends_with(".tmp")),
                "left behind: {}",
                p.display()
            );
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
}

#[test]
fn artifacts_come_from_the_bundle_without_credentials() {
    let cloud = art_cloud(Scenario::default());
    let (o, dir) = artifacts(&cloud, &["ALL"]);
    o.assert_code(0);
    assert_eq!(
        o.stdout,
        "\nTest artifacts have been downloaded to ./artifacts.zip\n"
    );
    assert_eq!(o.stderr, "");
    let got = std::fs::read(dir.path().join("artifacts.zip")).unwrap();
    assert!(got == cloud.expected(&Download::ArtifactsBundle("ALL".into())));
    let id = DEFAULT_UPLOAD_ID;
    assert_eq!(
        download_route(&cloud),
        [
            format!("GET /results/{id}/artifacts-bundle 200"),
            "POST /bundle/artifacts-ALL 200".to_string(),
        ]
    );
    let manifest = &cloud.requests()[0];
    assert_eq!(manifest.query_param("results"), Some("ALL"));
    assert_eq!(manifest.header("x-app-api-key"), Some(KEY));
    let post = &cloud.requests()[1];
    assert_eq!(post.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["manifest"]["results"], "ALL");
    assert!(body["sig"].as_str().unwrap().starts_with("sig-"));
    assert_no_credentials_sent_to_bundles(&cloud);
    no_temporary_files(dir.path());
}

#[test]
fn artifacts_fall_back_inline_when_bundles_are_not_deployed() {
    let cloud = art_cloud(Scenario::default().bundles(false));
    let (o, dir) = artifacts(&cloud, &["FAILED"]);
    o.assert_code(0);
    assert!(o.stdout.ends_with("downloaded to ./artifacts.zip\n"), "{o}");
    assert_eq!(o.stderr, "", "a fallback is silent outside --debug");
    let got = std::fs::read(dir.path().join("artifacts.zip")).unwrap();
    assert!(got == cloud.expected(&Download::ArtifactsInline("FAILED".into())));
    let id = DEFAULT_UPLOAD_ID;
    assert_eq!(
        download_route(&cloud),
        [
            format!("GET /results/{id}/artifacts-bundle 501"),
            format!("POST /results/{id}/download 200"),
        ]
    );
    let inline = &cloud.requests()[1];
    assert_eq!(inline.header("x-app-api-key"), Some(KEY));
    let body: Value = serde_json::from_slice(&inline.body).unwrap();
    assert_eq!(body, json!({"results": "FAILED"}));
}

#[test]
fn every_bundle_failure_falls_back_inline() {
    let id = DEFAULT_UPLOAD_ID;
    let manifest = format!("/results/{id}/artifacts-bundle");
    let cases: Vec<(&str, Scenario)> = vec![
        (
            "manifest not JSON",
            Scenario::default().endpoint_fault(&manifest, 0, Fault::InvalidJson),
        ),
        (
            "manifest without fields",
            Scenario::default().endpoint_fault(&manifest, 0, Fault::EmptyResults),
        ),
        (
            "manifest 500",
            Scenario::default().endpoint_fault(&manifest, 0, Fault::Status(500)),
        ),
        (
            "manifest connection reset",
            Scenario::default().endpoint_fault(&manifest, 0, Fault::Reset),
        ),
        (
            "bundle POST 500",
            Scenario::default().endpoint_fault("/bundle/", 0, Fault::Status(500)),
        ),
        (
            "bundle cut mid-stream",
            Scenario::default()
                .artifacts_bytes(300_000)
                .stream_fault("/bundle/", StreamFault::CutAfter(70_000)),
        ),
        (
            "bundle stalled mid-stream",
            Scenario::default().stream_fault("/bundle/", StreamFault::StallAfter(5_000)),
        ),
    ];
    for (what, s) in cases {
        let cloud = art_cloud(s);
        let (c, dir) = dcd_at(
            &cloud,
            &[
                "artifacts",
                "--upload-id",
                id,
                "--download-artifacts",
                "ALL",
                "--artifacts-path",
                "out.zip",
            ],
        );
        // A previous download is replaced, never appended to.
        std::fs::write(dir.path().join("out.zip"), b"stale previous download").unwrap();
        let start = Instant::now();
        let o = run(c, LIMIT);
        o.assert_code(0).assert_no_panic();
        assert_eq!(o.stderr, "", "{what}\n{o}");
        let got = std::fs::read(dir.path().join("out.zip")).unwrap();
        assert!(
            got == cloud.expected(&Download::ArtifactsInline("ALL".into())),
            "{what}: the inline download rewrote the file ({} bytes)",
            got.len()
        );
        assert_eq!(cloud.count(&format!("/results/{id}/download")), 1, "{what}");
        no_temporary_files(dir.path());
        assert!(start.elapsed() < Duration::from_secs(10), "{what}");
        assert_no_credentials_sent_to_bundles(&cloud);
    }
}

#[test]
fn artifacts_paths_parent_dirs_and_home() {
    let cloud = art_cloud(Scenario::default());
    let (o, dir) = artifacts(&cloud, &["ALL", "--artifacts-path", "out/deep/er/a.zip"]);
    o.assert_code(0);
    assert!(
        o.stdout
            .ends_with("Test artifacts have been downloaded to out/deep/er/a.zip\n")
    );
    assert!(dir.path().join("out/deep/er/a.zip").is_file());

    // `~` is $HOME (the test's temp dir); the message shows the path as given.
    let (mut c, dir) = dcd_at(
        &cloud,
        &[
            "artifacts",
            "--upload-id",
            DEFAULT_UPLOAD_ID,
            "--download-artifacts",
            "ALL",
            "--artifacts-path",
            "~/downloads/run.zip",
        ],
    );
    let elsewhere = TempDir::new();
    c.current_dir(elsewhere.path());
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(
        o.stdout
            .ends_with("Test artifacts have been downloaded to ~/downloads/run.zip\n"),
        "{o}"
    );
    assert!(dir.path().join("downloads/run.zip").is_file());
    assert!(!elsewhere.path().join("~").exists());
}

#[test]
fn artifacts_not_found_is_a_warning_and_exit_0() {
    let cloud = art_cloud(Scenario::default().artifacts_missing());
    let (o, dir) = artifacts(&cloud, &["ALL"]);
    o.assert_code(0);
    assert_eq!(o.stdout, "");
    let id = DEFAULT_UPLOAD_ID;
    assert_eq!(
        o.stderr,
        format!(
            "⚠ Failed to download artifacts: Resource not found. No artifacts found for upload {id}\n\
             ⚠ No artifacts found for this upload. Make sure your tests generated results.\n"
        )
    );
    assert!(!dir.path().join("artifacts.zip").exists());
    no_temporary_files(dir.path());
}

#[test]
fn artifacts_that_cannot_be_written_warn_with_a_hint() {
    let cloud = art_cloud(Scenario::default());
    // The parent "directory" is a file.
    let (c, dir) = dcd_at(
        &cloud,
        &[
            "artifacts",
            "--upload-id",
            DEFAULT_UPLOAD_ID,
            "--download-artifacts",
            "ALL",
            "--artifacts-path",
            "blocker/a.zip",
        ],
    );
    std::fs::write(dir.path().join("blocker"), b"").unwrap();
    let o = run(c, LIMIT);
    o.assert_code(0);
    assert!(
        o.stderr
            .starts_with("⚠ Failed to download artifacts: cannot write blocker"),
        "{o}"
    );
    assert_eq!(
        cloud.count(&format!("/results/{DEFAULT_UPLOAD_ID}/download")),
        0,
        "a local failure is not retried inline"
    );
}

#[test]
fn artifacts_usage_and_auth_errors_exit_1() {
    let cloud = art_cloud(Scenario::default());
    let id = DEFAULT_UPLOAD_ID;
    let cases: [(&[&str], &str); 3] = [
        (
            &["--download-artifacts", "ALL", "--report", "junit"],
            "--download-artifacts cannot also be provided when using --report (flags are \
             mutually exclusive).",
        ),
        (
            &[],
            "Either --download-artifacts or --report must be specified.",
        ),
        (
            &["--download-artifacts", "SOME"],
            "Invalid value for --download-artifacts",
        ),
    ];
    for (extra, msg) in cases {
        let mut args = vec!["artifacts", "--upload-id", id];
        args.extend_from_slice(extra);
        let (o, _d) = run_at(&cloud, &args);
        o.assert_code(1);
        assert!(o.stderr.contains(msg), "{extra:?}\n{o}");
    }
    let (o, _d) = run_at(&cloud, &["artifacts", "--download-artifacts", "ALL"]);
    o.assert_code(1);
    assert!(o.stderr.contains("--upload-id"), "{o}");
    // No credentials at all.
    let (mut c, _d) = dcd();
    c.args([
        "artifacts",
        "--upload-id",
        id,
        "--download-artifacts",
        "ALL",
        "--api-url",
        &cloud.url(),
    ]);
    let o = run(c, LIMIT);
    o.assert_code(1).assert_no_panic();
    assert!(o.stderr.contains("API key"), "{o}");
    assert!(cloud.requests().is_empty(), "nothing was sent");
}

// ---------------------------------------------------------------------------
// dcd artifacts: reports
// ---------------------------------------------------------------------------

fn report(cloud: &FakeCloud, extra: &[&str]) -> (Output, TempDir) {
    let mut args = vec!["artifacts", "--upload-id", DEFAULT_UPLOAD_ID, "--report"];
    args.extend_from_slice(extra);
    run_at(cloud, &args)
}

/// The test's temp dir as the binary sees it (macOS-style /private prefixes aside).
fn abs(dir: &TempDir, rel: &str) -> String {
    dir.path().join(rel).to_string_lossy().into_owned()
}

#[test]
fn each_report_lands_at_its_default_path() {
    let cloud = art_cloud(Scenario::default());
    for (kind, file, label, d) in [
        ("junit", "report.xml", "JUNIT", Download::Junit),
        ("allure", "report.html", "ALLURE", Download::Allure),
        ("html", "report.zip", "HTML", Download::HtmlBundle),
        ("html-detailed", "report.zip", "HTML", Download::HtmlBundle),
    ] {
        let (o, dir) = report(&cloud, &[kind]);
        o.assert_code(0);
        assert_eq!(
            o.stdout,
            format!(
                "{label} test report has been downloaded to {}\n",
                abs(&dir, file)
            ),
            "{kind}"
        );
        assert_eq!(o.stderr, "", "{kind}");
        let got = std::fs::read(dir.path().join(file)).unwrap();
        assert!(got == cloud.expected(&d), "{kind}");
        no_temporary_files(dir.path());
    }
    let id = DEFAULT_UPLOAD_ID;
    let paths: Vec<String> = cloud.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            format!("/results/{id}/report"),
            format!("/allure/{id}/download"),
            format!("/results/{id}/report-bundle"),
            "/bundle/html".to_string(),
            format!("/results/{id}/report-bundle"),
            "/bundle/html".to_string(),
        ]
    );
    assert_no_credentials_sent_to_bundles(&cloud);
}

#[test]
fn each_report_lands_at_a_custom_path() {
    let cloud = art_cloud(Scenario::default().bundles(false));
    for (kind, flag, path, label, d) in [
        (
            "junit",
            "--junit-path",
            "r/junit.xml",
            "JUNIT",
            Download::Junit,
        ),
        (
            "allure",
            "--allure-path",
            "r/../allure.html",
            "ALLURE",
            Download::Allure,
        ),
        (
            "html",
            "--html-path",
            "./r/html/h.zip",
            "HTML",
            Download::HtmlInline,
        ),
        (
            "html-detailed",
            "--format",
            "html-detailed",
            "HTML",
            Download::HtmlInline,
        ),
    ] {
        // `--format` is the alias of `--report`: the html path then is the default.
        let (o, dir) = if flag == "--format" {
            run_at(
                &cloud,
                &["artifacts", "--upload-id", DEFAULT_UPLOAD_ID, flag, path],
            )
        } else {
            report(&cloud, &[kind, flag, path])
        };
        o.assert_code(0);
        let rel = match kind {
            "junit" => "r/junit.xml",
            "allure" => "allure.html",
            "html" => "r/html/h.zip",
            _ => "report.zip",
        };
        assert_eq!(
            o.stdout,
            format!(
                "{label} test report has been downloaded to {}\n",
                abs(&dir, rel)
            ),
            "{kind}"
        );
        let got = std::fs::read(dir.path().join(rel)).unwrap();
        assert!(got == cloud.expected(&d), "{kind}");
    }
    // HTML fell back to the inline endpoint after the 501.
    let id = DEFAULT_UPLOAD_ID;
    assert_eq!(cloud.count(&format!("/results/{id}/html-report")), 2);
    assert_eq!(cloud.count("/bundle/"), 0);
}

#[test]
fn missing_and_failing_reports_are_warnings() {
    let cloud = art_cloud(Scenario::default().reports_missing());
    let id = DEFAULT_UPLOAD_ID;
    for (kind, label, what) in [
        ("junit", "JUNIT", "results"),
        ("allure", "ALLURE", "Allure report"),
        ("html", "HTML", "HTML report"),
    ] {
        let (o, dir) = report(&cloud, &[kind]);
        o.assert_code(0);
        assert_eq!(o.stdout, "", "{kind}");
        assert_eq!(
            o.stderr,
            format!(
                "⚠ Failed to download {label} report: Upload ID '{id}' not found or no {what} \
                 available for this upload\n\
                 ⚠ No {label} reports found for this upload. Make sure your tests generated \
                 results.\n"
            )
        );
        no_temporary_files(dir.path());
    }
    let cloud = art_cloud(Scenario::default().endpoint_fault(
        &format!("/results/{id}/report"),
        0,
        Fault::Status(503),
    ));
    let (o, _d) = report(&cloud, &["junit"]);
    o.assert_code(0);
    assert_eq!(
        o.stderr,
        "⚠ Failed to download JUNIT report: Failed to download report: 503 \
         {\"statusCode\":503,\"message\":\"Service Unavailable\",\"error\":\"Service Unavailable\"}\n"
    );
}

// ---------------------------------------------------------------------------
// Credentials, secrets, memory
// ---------------------------------------------------------------------------

#[test]
fn a_logged_in_session_never_reaches_a_bundle_url_and_debug_hides_secrets() {
    let token = "session-access-token-abcdef123456";
    let cloud = FakeCloud::start(Scenario::default().bearer(token, "org-42"));
    for args in [
        &["--download-artifacts", "ALL"][..],
        &["--report", "html"][..],
    ] {
        let (mut c, dir) = dcd();
        write_config(
            &dir,
            &session_config(&cloud.url(), token, "org-42", unix_now() + 3600),
        );
        c.args(["artifacts", "--upload-id", DEFAULT_UPLOAD_ID, "--debug"])
            .args(args)
            .current_dir(dir.path());
        let o = run(c, LIMIT);
        o.assert_code(0).assert_no_panic();
        assert!(o.stdout.contains("been downloaded to"), "{o}");
        assert!(o.stderr.contains("[DEBUG]"), "{o}");
        assert!(!o.stderr.contains(token), "token leaked\n{o}");
        assert!(!o.stderr.contains("sig-"), "bundle signature leaked\n{o}");
    }
    assert_no_credentials_sent_to_bundles(&cloud);
    // The API calls did carry the session.
    let manifest = &cloud.requests()[0];
    assert_eq!(
        manifest.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(manifest.header("x-dcd-org"), Some("org-42"));
    assert!(cloud.requests().iter().all(|r| r.status == 200));
}

/// Runs to completion; returns the exit code, both streams and the peak RSS in KiB of the
/// largest child this test process has reaped so far (`RUSAGE_CHILDREN`): an upper bound
/// for this child. Only call it from a test running in a process of its own
/// ([`rerun_in_own_process`]): under `cargo test` the other tests' children (Node among them)
/// are reaped by the same process.
fn run_measured(mut c: Command) -> (i32, String, String, i64) {
    use std::io::Read;
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = child.wait().unwrap();
    // SAFETY: getrusage fills a plain struct we own.
    let rss = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru), 0);
        ru.ru_maxrss
    };
    (
        status.code().unwrap_or(-1),
        t_out.join().unwrap(),
        t_err.join().unwrap(),
        rss,
    )
}

fn big_download(bytes: u64) -> (Duration, i64) {
    let cloud = art_cloud(Scenario::default().artifacts_bytes(bytes));
    let (mut c, dir) = dcd_at(
        &cloud,
        &[
            "artifacts",
            "--upload-id",
            DEFAULT_UPLOAD_ID,
            "--download-artifacts",
            "ALL",
        ],
    );
    // Real timeouts: only the per-read one applies to the body.
    c.env("DCD_TIME_SCALE", "1");
    let start = Instant::now();
    let (code, out, err, rss_kib) = run_measured(c);
    let took = start.elapsed();
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(err, "");
    let len = std::fs::metadata(dir.path().join("artifacts.zip"))
        .unwrap()
        .len();
    assert_eq!(len, bytes);
    (took, rss_kib)
}

#[test]
fn a_large_download_is_streamed_not_buffered() {
    if !in_own_process() {
        return rerun_in_own_process(
            module_path!(),
            "a_large_download_is_streamed_not_buffered",
            &[],
        );
    }
    const SIZE: u64 = 96 << 20;
    let (_took, rss_kib) = big_download(SIZE);
    // Far below the file size: the body never sits in memory.
    assert!(
        rss_kib < 48 * 1024,
        "peak RSS {rss_kib} KiB for a {} MiB download",
        SIZE >> 20
    );
}

/// `cargo test --release --test integration -- --ignored --nocapture list_artifacts::bench`
/// prints the figures.
#[test]
#[ignore = "benchmark: a 1 GiB download"]
fn bench_one_gib_download() {
    if !in_own_process() {
        return rerun_in_own_process(module_path!(), "bench_one_gib_download", &[]);
    }
    const SIZE: u64 = 1 << 30;
    let (took, rss_kib) = big_download(SIZE);
    let mib_s = (SIZE as f64 / (1 << 20) as f64) / took.as_secs_f64();
    println!(
        "1 GiB artifacts download: {:.2} s, {mib_s:.0} MiB/s, peak RSS {} MiB",
        took.as_secs_f64(),
        rss_kib / 1024
    );
    assert!(rss_kib < 64 * 1024);
}
