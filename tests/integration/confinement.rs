//! End-to-end through the real binary against the fake cloud: nothing from outside the
//! workspace goes into the flow zip (a symlink escape, an absolute `addMedia`, a `../`
//! `runScript`, a symlinked directory under `includedPaths`, a `flows:` glob leaving the
//! workspace), a directory dependency is an error, `--config` is read bounded (a FIFO, a huge
//! sparse file) — each exits 1 with nothing uploaded; the dry run lists the files that would
//! be uploaded; and a results row that cannot be read never turns a failing run green.
//! Workspaces are built in each test's own temp dir.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::{Value, json};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

const KEY: &str = "confinement-test-key-123456";
const LIMIT: Duration = Duration::from_secs(30);
const FLOW: &str = "appId: com.example\n---\n- launchApp\n";

fn fake() -> FakeCloud {
    FakeCloud::start(Scenario::new(vec![]).api_key(KEY))
}

/// A temp dir holding `ws/` (the workspace) and `outside/secret.txt`, plus `files` (paths
/// relative to the temp dir).
fn layout(files: &[(&str, &str)]) -> TempDir {
    let t = TempDir::new();
    for (rel, text) in [("outside/secret.txt", "secret")].iter().chain(files) {
        let p = t.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::create_dir_all(t.path().join("ws")).unwrap();
    t
}

fn cloud(fc: &FakeCloud, flows: &Path, extra: &[&str]) -> Output {
    let (mut c, _dir) = dcd();
    c.current_dir(flows.parent().unwrap())
        .env("DCD_SUPABASE_URL", fc.url())
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .args(["cloud", "--api-url", &fc.url(), "--app-binary-id", "bin-1"])
        .arg(flows)
        .args(extra);
    run(c, LIMIT)
}

/// Exit 1, nothing uploaded or submitted, and stderr holds every one of `lines`.
fn refused(fc: &FakeCloud, o: &Output, lines: &[String]) {
    o.assert_code(1).assert_no_panic();
    for l in lines {
        assert!(o.stderr.contains(l.as_str()), "missing {l:?}\n{o}");
    }
    assert!(fc.submissions().is_empty(), "{o}");
    assert!(fc.tus_uploads().is_empty(), "{o}");
    assert!(
        fc.requests()
            .iter()
            .all(|r| !r.path.starts_with("/uploads/")),
        "{o}"
    );
}

fn real(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

#[test]
fn a_symlink_leading_outside_the_workspace_is_refused() {
    let t = layout(&[("ws/a.yaml", "- runScript: evil.js\n- launchApp\n")]);
    symlink(
        t.path().join("outside/secret.txt"),
        t.path().join("ws/evil.js"),
    )
    .unwrap();
    let fc = fake();
    let ws = t.path().join("ws");
    let o = cloud(&fc, &ws, &[]);
    refused(
        &fc,
        &o,
        &[
            format!(
                "The following files cannot go into the flow zip: every file must be a regular \
                 file inside the workspace ({}):",
                ws.display()
            ),
            format!(
                "Flow file \"{}\" has a command \"runScript\" that references a file outside the \
                 workspace: {} (a link to {})",
                ws.join("a.yaml").display(),
                ws.join("evil.js").display(),
                real(&t.path().join("outside/secret.txt")).display()
            ),
        ],
    );
}

#[test]
fn an_absolute_add_media_and_a_parent_dir_run_script_are_refused_together() {
    let t = layout(&[
        ("ws/a.yaml", "- addMedia: /etc/passwd\n"),
        ("ws/flows/b.yaml", "- runScript: ../../outside/secret.txt\n"),
    ]);
    let ws = t.path().join("ws");
    std::fs::write(
        ws.join("config.yaml"),
        "flows: ['*.yaml', 'flows/*.yaml']\n",
    )
    .unwrap();
    let fc = fake();
    let o = cloud(&fc, &ws, &[]);
    refused(
        &fc,
        &o,
        &[
            format!(
                "Flow file \"{}\" has a command \"addMedia\" that references a file outside the \
                 workspace: /etc/passwd",
                ws.join("a.yaml").display()
            ),
            format!(
                "Flow file \"{}\" has a command \"runScript\" that references a file outside the \
                 workspace: {}",
                ws.join("flows/b.yaml").display(),
                t.path().join("outside/secret.txt").display()
            ),
        ],
    );
    assert!(!o.stderr.contains("secret\n"), "{o}");
}

#[test]
fn a_directory_dependency_is_an_error_not_skipped() {
    let t = layout(&[
        ("ws/a.yaml", "- addMedia: media\n"),
        ("ws/media/a.png", "png"),
    ]);
    let ws = t.path().join("ws");
    let fc = fake();
    let o = cloud(&fc, &ws, &[]);
    refused(
        &fc,
        &o,
        &[format!(
            "Flow file \"{}\" has a command \"addMedia\" that references a directory, not a file: \
             {}",
            ws.join("a.yaml").display(),
            ws.join("media").display()
        )],
    );
}

#[test]
fn a_symlinked_directory_under_included_paths_and_an_escaping_flows_glob_are_refused() {
    let t = layout(&[
        ("ws/a.yaml", FLOW),
        ("ws/config.yaml", "includedPaths: ['assets/shared/*']\n"),
        ("elsewhere/x.yaml", FLOW),
    ]);
    let ws = t.path().join("ws");
    std::fs::create_dir_all(ws.join("assets")).unwrap();
    symlink(t.path().join("outside"), ws.join("assets/shared")).unwrap();
    let fc = fake();
    let o = cloud(&fc, &ws, &[]);
    refused(
        &fc,
        &o,
        &[format!(
            "includedPaths pattern \"assets/shared/*\" matches a file outside the workspace: {} \
             (a link to {})",
            ws.join("assets/shared/secret.txt").display(),
            real(&t.path().join("outside/secret.txt")).display()
        )],
    );

    std::fs::write(
        ws.join("config.yaml"),
        "flows: ['*.yaml', '../elsewhere/*.yaml']\n",
    )
    .unwrap();
    let fc = fake();
    let o = cloud(&fc, &ws, &[]);
    refused(
        &fc,
        &o,
        &[format!(
            "flows pattern \"../elsewhere/*.yaml\" resolves outside the workspace ({})",
            ws.display()
        )],
    );
}

#[test]
fn a_config_that_is_a_fifo_or_huge_is_a_one_line_error() {
    let t = layout(&[("ws/a.yaml", FLOW)]);
    let ws = t.path().join("ws");
    let fifo = t.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let fc = fake();
    let o = cloud(&fc, &ws, &["--config", fifo.to_str().unwrap()]);
    refused(
        &fc,
        &o,
        &[format!(
            "Error reading YAML file {}: not a regular file",
            fifo.display()
        )],
    );

    let huge = t.path().join("huge.yaml");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let fc = fake();
    let o = cloud(&fc, &ws, &["--config", huge.to_str().unwrap()]);
    refused(
        &fc,
        &o,
        &[format!(
            "Error reading YAML file {}: larger than 4 MiB, the most dcd reads from a flow or \
             config file",
            huge.display()
        )],
    );
}

/// A workspace with two flows, a sub-flow, a script and an included file.
fn listed_workspace() -> TempDir {
    layout(&[
        (
            "ws/a.yaml",
            "appId: x\n---\n- runFlow: sub/login.yaml\n- runScript: scripts/x.js\n",
        ),
        ("ws/z.yaml", FLOW),
        ("ws/sub/login.yaml", FLOW),
        ("ws/scripts/x.js", "output.x = 1;\n"),
        ("ws/assets/font.ttf", "ttf"),
        ("ws/config.yaml", "includedPaths: ['assets/*']\n"),
    ])
}

const LISTED: [&str; 5] = [
    "a.yaml",
    "z.yaml",
    "assets/font.ttf",
    "scripts/x.js",
    "sub/login.yaml",
];

#[test]
fn the_dry_run_lists_the_files_that_would_be_uploaded_flows_first() {
    let t = listed_workspace();
    let ws = t.path().join("ws");
    let fc = fake();
    let o = cloud(&fc, &ws, &["--dry-run"]);
    o.assert_code(0).assert_no_panic();
    let lines: Vec<&str> = o.stdout.lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with("Files that would be uploaded (5)"))
        .unwrap_or_else(|| panic!("no file section\n{o}"));
    assert_eq!(lines[at + 1..at + 6], LISTED, "{o}");
    assert!(fc.submissions().is_empty() && fc.tus_uploads().is_empty());

    let fc = fake();
    let o = cloud(&fc, &ws, &["--dry-run", "--json"]);
    o.assert_code(0);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(v["files"], json!(LISTED), "{o}");
    assert_eq!(v["flows"], json!(["./a.yaml", "./z.yaml"]));
}

/// A row with a null id beside a passed one: the poll fails (not a green verdict over the
/// other row) and is retried; the next snapshot's FAILED decides.
#[test]
fn an_unreadable_running_row_never_turns_the_run_green() {
    let mut unreadable = row(2, "./checkout.yml", "RUNNING");
    unreadable["id"] = Value::Null;
    let fc = FakeCloud::start(
        Scenario::new(vec![
            vec![row(1, "./login.yaml", "PASSED"), unreadable],
            vec![
                row(1, "./login.yaml", "PASSED"),
                failed(row(2, "./checkout.yml", "FAILED"), "boom"),
            ],
        ])
        .api_key(KEY),
    );
    let basic = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic");
    let o = cloud(&fc, &basic, &[]);
    o.assert_code(2).assert_no_panic();
    assert!(
        o.stderr.contains(
            "unable to fetch results, trying again in 10s (1/30): Fetching results: unexpected \
             API response: 1 row could not be read: row 2 has an \"id\" that is null"
        ),
        "{o}"
    );
    assert!(
        o.stdout.contains("Run completed: 1 of 2 tests failed"),
        "{o}"
    );
    assert!(fc.results_requests().len() >= 2, "{o}");
    assert_eq!(fc.submissions().len(), 1);
}
