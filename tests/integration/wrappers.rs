//! End-to-end: dcd behind the CI wrappers people run today (docs/ci.md). For each wrapper —
//! the GitHub Action, the Bitrise step, the EAS workflow, the Bitbucket pipe — dcd runs the
//! command line that wrapper builds, against the fake cloud, and its output is read the way
//! that wrapper reads it: the upload id from the first console link (`upload=` for Bitrise),
//! the exit code (1: the CLI failed; 2: tests failed, go on), then `dcd status --json` parsed
//! from its first line starting with `{` (Bitrise greps it line by line). Each wrapper meets a
//! passing, a failing, an `--async`, a superseded run and a CLI error, and must conclude what
//! happened. Then: the console link in every output mode as soon as the run exists, the
//! identity header and the notices' context, and `status --json` passing every field through.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "wrapper-test-key-123456";
const LIMIT: Duration = Duration::from_secs(60);
const NEWER: &str = "99999999-8888-7777-6666-555555555555";

// ---------------------------------------------------------------------------
// The runs the fake cloud plays
// ---------------------------------------------------------------------------

/// What happens in the cloud, and what a wrapper must conclude from it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Case {
    Passing,
    Failing,
    /// `--async`: the wrapper returns once the run is submitted.
    Async,
    Superseded,
    /// The CLI itself fails (here: a rejected API key).
    CliError,
}

const CASES: [Case; 5] = [
    Case::Passing,
    Case::Failing,
    Case::Async,
    Case::Superseded,
    Case::CliError,
];

/// What a wrapper reports.
#[derive(Clone, Debug, PartialEq)]
enum Conclusion {
    Passed {
        tests: Vec<(String, String)>,
    },
    Failed {
        tests: Vec<(String, String)>,
    },
    /// Submitted and still running (`--async`).
    Running,
    Superseded {
        by: String,
    },
    CliFailed,
}

fn rows(status: &str) -> Vec<Value> {
    vec![
        duration(row(1, "./login.yaml", status), 12.0),
        duration(row(2, "./checkout.yaml", status), 30.0),
    ]
}

fn scenario(case: Case) -> Scenario {
    let done = match case {
        Case::Failing => vec![
            duration(row(1, "./login.yaml", "PASSED"), 12.0),
            failed(row(2, "./checkout.yaml", "FAILED"), "Element not found"),
        ],
        Case::Superseded => rows("RUNNING")
            .into_iter()
            .map(|r| superseded(r, NEWER))
            .collect(),
        _ => rows("PASSED"),
    };
    Scenario::new(vec![rows("RUNNING"), done]).api_key(KEY)
}

/// The truth a wrapper must arrive at.
fn expected(case: Case) -> Conclusion {
    let t = |a: &str, b: &str| {
        vec![
            ("./login.yaml".to_string(), a.to_string()),
            ("./checkout.yaml".to_string(), b.to_string()),
        ]
    };
    match case {
        Case::Passing => Conclusion::Passed {
            tests: t("PASSED", "PASSED"),
        },
        Case::Failing => Conclusion::Failed {
            tests: t("PASSED", "FAILED"),
        },
        Case::Async => Conclusion::Running,
        Case::Superseded => Conclusion::Superseded { by: NEWER.into() },
        Case::CliError => Conclusion::CliFailed,
    }
}

/// A workspace `.maestro/` with two tagged flows, in a directory of its own (the wrappers
/// run dcd there; `--json-file` writes there).
fn workspace() -> TempDir {
    let dir = TempDir::new();
    let ws = dir.path().join(".maestro");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(
        ws.join("login.yaml"),
        "appId: com.example\nname: Login\ntags: [smoke]\n---\n- launchApp\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("checkout.yaml"),
        "appId: com.example\nname: Checkout\ntags: [checkout]\n---\n- launchApp\n",
    )
    .unwrap();
    dir
}

/// `dcd` in `cwd` with a CI environment (`env`), the fake cloud's storage, and `args`.
fn dcd_at(cwd: &Path, fc: &FakeCloud, env: &[(&str, &str)], args: &[String]) -> Command {
    let mut c = dcd_in(cwd);
    c.current_dir(cwd)
        .env("DCD_SUPABASE_URL", fc.url())
        .env("CI", "true")
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------
// How the wrappers read dcd's output
// ---------------------------------------------------------------------------

/// Characters of an upload id as the wrappers' patterns take them.
fn id_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// The Action and EAS: the first `https://(dev.)?console.devicecloud.dev/results?upload=<id>`.
fn console_link_id(text: &str) -> Option<String> {
    const LINKS: [&str; 2] = [
        "https://console.devicecloud.dev/results?upload=",
        "https://dev.console.devicecloud.dev/results?upload=",
    ];
    LINKS
        .iter()
        .filter_map(|l| text.find(l).map(|at| (at, at + l.len())))
        .min()
        .map(|(_, id)| id_at(&text[id..]))
}

/// Bitrise: the first `upload=<id>`.
fn bitrise_id(text: &str) -> Option<String> {
    text.find("upload=").map(|at| id_at(&text[at + 7..]))
}

/// Wrappers read stdout and stderr together; the id must be the same whichever stream's
/// lines come first.
fn upload_id_from(o: &Output, pattern: fn(&str) -> Option<String>) -> Option<String> {
    let a = pattern(&format!("{}{}", o.stdout, o.stderr));
    let b = pattern(&format!("{}{}", o.stderr, o.stdout));
    assert_eq!(a, b, "the two streams disagree\n{o}");
    a
}

/// `dcd status --json` as the Action, EAS and the pipe read it: from the first line that
/// starts with `{` to the end, one document.
fn status_document(stdout: &str) -> Value {
    let at = stdout
        .lines()
        .position(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no line starts with {{:\n{stdout}"));
    let doc: Vec<&str> = stdout.lines().skip(at).collect();
    serde_json::from_str(&doc.join("\n")).unwrap_or_else(|e| panic!("{e}\n{stdout}"))
}

fn tests_of(doc: &Value) -> Vec<(String, String)> {
    doc["tests"]
        .as_array()
        .expect("tests[]")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The Action (2.6), EAS and the pipe: `status`, `tests[].name`/`status`, `supersededBy`.
fn conclude_from_document(doc: &Value) -> Conclusion {
    for k in ["consoleUrl", "appBinaryId"] {
        assert!(doc[k].is_string(), "{k} missing: {doc}");
    }
    if let Some(by) = doc.get("supersededBy").and_then(Value::as_str) {
        return Conclusion::Superseded { by: by.into() };
    }
    match doc["status"].as_str() {
        Some("PASSED") => Conclusion::Passed {
            tests: tests_of(doc),
        },
        Some("FAILED") => Conclusion::Failed {
            tests: tests_of(doc),
        },
        _ => Conclusion::Running,
    }
}

/// Bitrise: `status --json` grepped line by line — the run's fields come before the
/// `"tests": [` line, each test's after it; a `"supersededBy": "…"` line marks a superseded
/// run.
fn bitrise_conclusion(stdout: &str) -> Conclusion {
    let value = |line: &str, key: &str| {
        let rest = line.trim().strip_prefix(&format!("\"{key}\": \""))?;
        Some(rest.trim_end_matches(',').trim_end_matches('"').to_string())
    };
    let (run, tests) = stdout
        .split_once("\n  \"tests\": [")
        .unwrap_or_else(|| panic!("no tests line:\n{stdout}"));
    if let Some(by) = run.lines().find_map(|l| value(l, "supersededBy")) {
        return Conclusion::Superseded { by };
    }
    let names = tests.lines().filter_map(|l| value(l, "name"));
    let tests = names
        .zip(tests.lines().filter_map(|l| value(l, "status")))
        .collect();
    match run.lines().find_map(|l| value(l, "status")).as_deref() {
        Some("PASSED") => Conclusion::Passed { tests },
        Some("FAILED") => Conclusion::Failed { tests },
        _ => Conclusion::Running,
    }
}

/// What the wrapper runs after `dcd cloud`: `dcd status --json --upload-id <id> --api-key <k>
/// --api-url <u>`.
fn status_json(cwd: &Path, fc: &FakeCloud, env: &[(&str, &str)], id: &str) -> Output {
    let args = strings(&[
        "status",
        "--json",
        "--upload-id",
        id,
        "--api-key",
        KEY,
        "--api-url",
        &fc.url(),
    ]);
    let o = run(dcd_at(cwd, fc, env, &args), LIMIT);
    o.assert_code(0).assert_no_panic();
    o
}

/// A wrapper: how it builds the command line, which environment it sets, how it finds the
/// upload id, and how it reads `status --json`.
struct Wrapper {
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
    command: fn(fc: &FakeCloud, key: &str, case: Case) -> Vec<String>,
    upload_id: fn(&str) -> Option<String>,
    reads_status: fn(&str) -> Conclusion,
    /// `--json-file`: a FAILED run exits 0 and the verdict is in `<uploadId>_dcd.json`.
    json_file: bool,
}

/// dcd's exit code as every wrapper reads it, then the rest of the wrapper's reading.
fn conclude(w: &Wrapper, cwd: &Path, fc: &FakeCloud, case: Case, o: &Output) -> Conclusion {
    match o.code {
        0 | 2 => {}
        1 => {
            assert_eq!(upload_id_from(o, w.upload_id), None, "{}: {o}", w.name);
            return Conclusion::CliFailed;
        }
        other => panic!("{}: exit {other}\n{o}", w.name),
    }
    let id = upload_id_from(o, w.upload_id).unwrap_or_else(|| panic!("{}: no id\n{o}", w.name));
    assert_eq!(id, fc.upload_id(), "{}: the wrong upload id\n{o}", w.name);
    if case == Case::Async {
        return Conclusion::Running;
    }
    let status = status_json(cwd, fc, w.env, &id);
    (w.reads_status)(&status.stdout)
}

/// Runs every case through the wrapper and checks what it concludes, its exit codes, and
/// the `--json-file` it reads when it asks for one.
fn drive(w: &Wrapper) {
    for case in CASES {
        let ws = workspace();
        let fc = FakeCloud::start(scenario(case));
        let key = if case == Case::CliError {
            "not-the-key-000000"
        } else {
            KEY
        };
        let args = (w.command)(&fc, key, case);
        let o = run(dcd_at(ws.path(), &fc, w.env, &args), LIMIT);
        o.assert_no_panic();
        let want_code = match case {
            Case::CliError => 1,
            Case::Failing if !w.json_file => 2,
            _ => 0,
        };
        assert_eq!(o.code, want_code, "{} {case:?}\n{o}", w.name);
        let got = conclude(w, ws.path(), &fc, case, &o);
        assert_eq!(got, expected(case), "{} {case:?}\n{o}", w.name);
        let file = ws.path().join(format!("{}_dcd.json", fc.upload_id()));
        let wrote = w.json_file && case != Case::CliError;
        assert_eq!(file.is_file(), wrote, "{} {case:?}", w.name);
        if wrote {
            let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
            let verdict = match case {
                Case::Passing => "PASSED",
                Case::Failing => "FAILED",
                Case::Async => "PENDING",
                _ => "SUPERSEDED",
            };
            assert_eq!(v["status"], verdict, "{} {case:?}", w.name);
        }
    }
}

// ---------------------------------------------------------------------------
// The wrappers
// ---------------------------------------------------------------------------

/// The GitHub Action (v2): every boolean input rendered `--x true|false` (eight here),
/// `--apiKey`, `--flows`, `--metadata` once per pair, `-e`, comma-joined tags, a raw
/// `--retry`, `--runner-type default` always, the PR title as `--name`, `--json-file true`.
fn action_command(fc: &FakeCloud, key: &str, case: Case) -> Vec<String> {
    let is_async = if case == Case::Async { "true" } else { "false" };
    strings(&[
        "cloud",
        "--apiKey",
        key,
        "--api-url",
        &fc.url(),
        "--app-binary-id",
        "bin-action",
        "--flows",
        ".maestro",
        "--name",
        "feat(checkout): allow upload=true for guests (#412)",
        "--metadata",
        "gh_sha=0a1b2c3d",
        "--metadata",
        "gh_run_id=987654",
        "-e",
        "API_HOST=https://staging.example",
        "--include-tags",
        "smoke,checkout",
        "--retry",
        "1",
        "--android-device",
        "pixel-7",
        "--android-api-level",
        "34",
        "--runner-type",
        "default",
        "--async",
        is_async,
        "--json-file",
        "true",
        "--debug",
        "true",
        "--disable-animations",
        "true",
        "--google-play",
        "false",
        "--android-no-snapshot",
        "false",
        "--show-crosshairs",
        "false",
        "--maestro-chrome-onboarding",
        "false",
    ])
}

const ACTION: Wrapper = Wrapper {
    name: "GitHub Action",
    env: &[
        ("GITHUB_ACTIONS", "true"),
        ("DCD_CI_PROVIDER", "github"),
        ("DCD_CI_WRAPPER_VERSION", "2.6.0"),
    ],
    command: action_command,
    upload_id: console_link_id,
    reads_status: |s| conclude_from_document(&status_document(s)),
    json_file: true,
};

/// The Bitrise step: flags, then `"$app_file" "$workspace"` always, empty when unset — with
/// an app binary id the line ends `"" ./.maestro`.
fn bitrise_command(fc: &FakeCloud, key: &str, case: Case) -> Vec<String> {
    let mut v = strings(&[
        "cloud",
        "--api-key",
        key,
        "--api-url",
        &fc.url(),
        "--app-binary-id",
        "bin-bitrise",
        "--runner-type",
        "default",
    ]);
    if case == Case::Async {
        v.push("--async".into());
    }
    v.extend(strings(&["", "./.maestro"]));
    v
}

const BITRISE: Wrapper = Wrapper {
    name: "Bitrise",
    env: &[("BITRISE_IO", "true")],
    command: bitrise_command,
    upload_id: bitrise_id,
    reads_status: bitrise_conclusion,
    json_file: false,
};

/// The EAS workflow: the commit message (several lines) as the name, the flows as a flag.
fn eas_command(fc: &FakeCloud, key: &str, case: Case) -> Vec<String> {
    let mut v = strings(&[
        "cloud",
        "--api-key",
        key,
        "--api-url",
        &fc.url(),
        "--app-binary-id",
        "bin-eas",
        "--flows",
        "./.maestro",
        "--name",
        "Fix the checkout button\n\nThe button was hidden behind the keyboard.\nCloses #77",
        "-e",
        "EAS_PROFILE=preview",
        "--runner-type",
        "default",
    ]);
    if case == Case::Async {
        v.extend(strings(&["--async", "true"]));
    }
    v
}

const EAS: Wrapper = Wrapper {
    name: "EAS",
    env: &[
        ("EAS_BUILD", "true"),
        ("DCD_CI_PROVIDER", "eas"),
        ("DCD_CI_WRAPPER_VERSION", "1.4.2"),
    ],
    command: eas_command,
    upload_id: console_link_id,
    reads_status: |s| conclude_from_document(&status_document(s)),
    json_file: false,
};

/// The Bitbucket pipe: the flows as the one positional, `-m`, comma-joined tags, a raw retry.
fn pipe_command(fc: &FakeCloud, key: &str, case: Case) -> Vec<String> {
    let mut v = strings(&[
        "cloud",
        "--apiKey",
        key,
        "--api-url",
        &fc.url(),
        "--app-binary-id",
        "bin-pipe",
        "-m",
        "bitbucket_branch=main",
        "--include-tags",
        "smoke,checkout",
        "--retry",
        "1",
        "--runner-type",
        "default",
        ".maestro",
    ]);
    if case == Case::Async {
        v.push("--async".into());
    }
    v
}

const PIPE: Wrapper = Wrapper {
    name: "Bitbucket pipe",
    env: &[("BITBUCKET_BUILD_NUMBER", "77")],
    command: pipe_command,
    upload_id: console_link_id,
    reads_status: |s| conclude_from_document(&status_document(s)),
    json_file: false,
};

#[test]
fn the_github_action_reads_every_kind_of_run_right() {
    drive(&ACTION);
}

#[test]
fn the_bitrise_step_reads_every_kind_of_run_right() {
    drive(&BITRISE);
}

#[test]
fn the_eas_workflow_reads_every_kind_of_run_right() {
    drive(&EAS);
}

#[test]
fn the_bitbucket_pipe_reads_every_kind_of_run_right() {
    drive(&PIPE);
}

#[test]
fn the_command_lines_reach_the_submission_as_meant() {
    let ws = workspace();
    let fc = FakeCloud::start(scenario(Case::Passing));
    let args = action_command(&fc, KEY, Case::Passing);
    let o = run(dcd_at(ws.path(), &fc, ACTION.env, &args), LIMIT);
    o.assert_code(0);
    let sub = &fc.submissions()[0];
    assert_eq!(sub.str("appBinaryId"), Some("bin-action"));
    assert_eq!(
        sub.str("name"),
        Some("feat(checkout): allow upload=true for guests (#412)")
    );
    assert_eq!(
        sub.json("metadata").unwrap(),
        json!({"userMetadata": {"gh_sha": "0a1b2c3d", "gh_run_id": "987654"}})
    );
    assert_eq!(
        sub.json("env").unwrap(),
        json!({"API_HOST": "https://staging.example"})
    );
    let config = sub.json("config").unwrap();
    assert_eq!(config["autoRetriesRemaining"], 1);
    assert_eq!(config["disableAnimations"], true, "{config}");
    assert_eq!(sub.str("runnerType"), Some("default"));
    assert_eq!(sub.str("androidDevice"), Some("pixel-7"));
    // `--async false` waited; `--debug true` printed debug lines.
    assert!(fc.count(&format!("/results/{}", fc.upload_id())) > 0, "{o}");
    assert!(o.stderr.contains("[DEBUG]"), "{o}");
    // Bitrise with an app binary id: `"" ./.maestro` runs the workspace.
    let fc = FakeCloud::start(scenario(Case::Passing));
    let args = bitrise_command(&fc, KEY, Case::Passing);
    let o = run(dcd_at(ws.path(), &fc, BITRISE.env, &args), LIMIT);
    o.assert_code(0);
    let names = fc.submissions()[0].json("testFileNames").unwrap();
    assert_eq!(names, json!(["./checkout.yaml", "./login.yaml"]), "{o}");
}

// ---------------------------------------------------------------------------
// The console link: every mode, as soon as the run exists, the first upload= of all
// ---------------------------------------------------------------------------

/// Everything a running dcd writes to both streams, as it arrives.
struct Streams {
    child: Child,
    text: Arc<Mutex<String>>,
}

impl Streams {
    fn spawn(mut c: Command) -> Streams {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let text = Arc::new(Mutex::new(String::new()));
        for mut r in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sink = text.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = r.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Streams { child, text }
    }

    fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }

    /// Waits for the exit (killing it after [`LIMIT`]) and for the last of its output.
    fn finish(mut self) -> (i32, String) {
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > LIMIT {
                let _ = self.child.kill();
                panic!("dcd did not finish\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // The readers end at the pipes' end of file.
        wait_for("the last output", || Arc::strong_count(&self.text) == 1);
        (status.code().unwrap_or(-1), self.text())
    }
}

/// A run that stays RUNNING until the test moves it on.
fn held_run() -> FakeCloud {
    FakeCloud::start(
        Scenario::new(vec![rows("RUNNING"), rows("PASSED")])
            .manual()
            .api_key(KEY),
    )
}

fn link_args(fc: &FakeCloud, extra: &[&str]) -> Vec<String> {
    let mut v = strings(&[
        "cloud",
        "--api-key",
        KEY,
        "--api-url",
        &fc.url(),
        "--app-binary-id",
        "b",
        "--name",
        "Allow upload=yes in https://console.devicecloud.dev/results?upload=nope",
        ".maestro",
    ]);
    v.extend(strings(extra));
    v
}

#[test]
fn the_console_link_comes_first_in_every_mode_while_the_run_is_still_going() {
    for mode in [
        &[][..],
        &["--quiet"],
        &["--json"],
        &["--json-file"],
        &["--debug", "--quiet"],
    ] {
        let ws = workspace();
        let fc = held_run();
        let s = Streams::spawn(dcd_at(ws.path(), &fc, &[], &link_args(&fc, mode)));
        wait_for(&format!("the link under {mode:?}"), || {
            console_link_id(&s.text()).is_some()
        });
        // The run has not moved: the link came right after submission.
        assert_eq!(fc.snapshot_index(), 0);
        fc.advance();
        let (code, text) = s.finish();
        assert_eq!(code, 0, "{mode:?}\n{text}");
        assert_eq!(
            console_link_id(&text).as_deref(),
            Some(fc.upload_id()),
            "{mode:?}\n{text}"
        );
        assert_eq!(
            bitrise_id(&text).as_deref(),
            Some(fc.upload_id()),
            "{mode:?}\n{text}"
        );
    }
    // --async, in the log and as JSON.
    for mode in [&["--async"][..], &["--async", "--json"]] {
        let ws = workspace();
        let fc = held_run();
        let o = run(dcd_at(ws.path(), &fc, &[], &link_args(&fc, mode)), LIMIT);
        o.assert_code(0);
        assert_eq!(
            upload_id_from(&o, bitrise_id).as_deref(),
            Some(fc.upload_id())
        );
        assert_eq!(
            upload_id_from(&o, console_link_id).as_deref(),
            Some(fc.upload_id())
        );
        if mode.contains(&"--json") {
            assert!(o.stderr.contains("results?upload="), "on stderr\n{o}");
        }
    }
}

#[test]
fn the_console_link_comes_first_on_an_interactive_terminal() {
    let ws = workspace();
    let fc = held_run();
    let mut c = dcd_at(ws.path(), &fc, &[], &link_args(&fc, &[]));
    c.env_remove("CI");
    let pty = LivePty::spawn(c, 160, 40);
    let seen = pty.wait_for("results?upload=", LIMIT);
    let screen = String::from_utf8_lossy(&pty.output()).into_owned();
    assert!(seen, "{screen}");
    assert_eq!(fc.snapshot_index(), 0);
    fc.advance();
    let (code, out) = pty.finish(LIMIT);
    let out = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(code, 0, "{out}");
    // The live frame's footer, whichever state it was drawn in (a slow machine or an
    // emulator may never reach the countdown before the run ends).
    assert!(
        out.contains("next refresh in") || out.contains("refreshing…"),
        "the live frame: {out}"
    );
    assert_eq!(
        console_link_id(&out).as_deref(),
        Some(fc.upload_id()),
        "{out}"
    );
    assert_eq!(bitrise_id(&out).as_deref(), Some(fc.upload_id()), "{out}");
}

// ---------------------------------------------------------------------------
// Wrapper identity
// ---------------------------------------------------------------------------

fn compat_request(fc: &FakeCloud) -> Recorded {
    fc.requests()
        .into_iter()
        .find(|r| r.path == "/results/compatibility/data")
        .expect("the compatibility request")
}

#[test]
fn the_wrapper_identity_goes_with_the_compatibility_request() {
    let ws = workspace();
    for (env, provider, version) in [
        (ACTION.env, Some("github"), Some("2.6.0")),
        (EAS.env, Some("eas"), Some("1.4.2")),
        // No wrapper word: the provider from the CI markers, no version header.
        (BITRISE.env, Some("bitrise"), None),
        (PIPE.env, Some("bitbucket"), None),
        (&[][..], None, None),
    ] {
        let fc = FakeCloud::start(scenario(Case::Passing));
        let args = link_args(&fc, &["--async"]);
        run(dcd_at(ws.path(), &fc, env, &args), LIMIT).assert_code(0);
        let r = compat_request(&fc);
        assert_eq!(r.header("x-dcd-ci-provider"), provider, "{env:?}");
        assert_eq!(r.header("x-dcd-ci-wrapper-version"), version, "{env:?}");
        assert_eq!(
            r.header("x-dcd-cli-version"),
            Some(env!("CARGO_PKG_VERSION"))
        );
    }
    // A value that cannot be a header is not sent, and the run goes on.
    let fc = FakeCloud::start(scenario(Case::Passing));
    let args = link_args(&fc, &["--async"]);
    let env = [
        ("DCD_CI_PROVIDER", "github"),
        ("DCD_CI_WRAPPER_VERSION", "2.6.0\nx-evil: 1"),
    ];
    let o = run(dcd_at(ws.path(), &fc, &env, &args), LIMIT);
    o.assert_code(0);
    assert!(
        o.stderr.contains("DCD_CI_WRAPPER_VERSION is not usable"),
        "{o}"
    );
    let r = compat_request(&fc);
    assert_eq!(r.header("x-dcd-ci-wrapper-version"), None);
    assert_eq!(r.header("x-evil"), None);
    assert_eq!(r.header("x-dcd-ci-provider"), Some("github"));
}

#[test]
fn the_notices_match_on_the_wrapper_and_the_version() {
    let notice = |slug: &str, rules: Value| {
        json!({"id": slug, "slug": slug, "level": "info", "title": slug, "body": "",
               "learnMoreUrl": null, "dismissible": true, "match": {"rules": rules}})
    };
    let mut compat = default_compat();
    compat["notices"] = json!([
        notice(
            "old-action",
            json!([
            {"field": "ci_provider", "op": "equals", "value": "github"},
            {"field": "ci_wrapper_version", "op": "lt", "value": "2.6.0"}])
        ),
        notice(
            "action-2-6",
            json!([
            {"field": "ci_provider", "op": "equals", "value": "github"},
            {"field": "ci_wrapper_version", "op": "equals", "value": "2.6.0"}])
        ),
        notice(
            "any-wrapper",
            json!([{"field": "ci_wrapper_version", "op": "present"}])
        ),
        notice(
            "no-wrapper",
            json!([{"field": "ci_wrapper_version", "op": "absent"}])
        ),
        notice(
            "older-than-5",
            json!([{"field": "cli_version", "op": "lt", "value": "5.0.0"}])
        ),
        notice(
            "older-than-5-99",
            json!([{"field": "cli_version", "op": "lt", "value": "5.99.0"}])
        ),
        notice(
            "after-5-x",
            json!([{"field": "cli_version", "op": "gt", "value": "5.99.0"}])
        ),
    ]);
    let slugs = |env: &[(&str, &str)]| {
        let ws = workspace();
        let fc = FakeCloud::start(scenario(Case::Passing).compat(compat.clone()));
        let args = link_args(&fc, &["--async", "--json"]);
        let o = run(dcd_at(ws.path(), &fc, env, &args), LIMIT);
        o.assert_code(0);
        let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
        v["notices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["slug"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        slugs(ACTION.env),
        ["action-2-6", "any-wrapper", "after-5-x"]
    );
    let older = [
        ("DCD_CI_PROVIDER", "github"),
        ("DCD_CI_WRAPPER_VERSION", "2.5.1"),
    ];
    assert_eq!(slugs(&older), ["old-action", "any-wrapper", "after-5-x"]);
    assert_eq!(slugs(BITRISE.env), ["no-wrapper", "after-5-x"]);
}

// ---------------------------------------------------------------------------
// status --json: every field the API gives, pretty-printed
// ---------------------------------------------------------------------------

#[test]
fn status_json_passes_every_field_through_pretty_printed() {
    let mut done: Vec<Value> = rows("RUNNING")
        .into_iter()
        .map(|r| superseded(r, NEWER))
        .collect();
    done[0]["duration_seconds"] = json!(14);
    let fc = FakeCloud::start(
        Scenario::new(vec![done])
            .api_key(KEY)
            .status_extra(json!({"retryCount": 2, "region": {"name": "eu-west", "zone": 3}}))
            .status_test_extra(json!({
                "device": {"name": "pixel-7", "osVersion": "34"}, "attempt": 1})),
    );
    let ws = workspace();
    let o = status_json(ws.path(), &fc, &[], fc.upload_id());
    let doc = status_document(&o.stdout);
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "uploadId",
            "status",
            "name",
            "createdAt",
            "appBinaryId",
            "consoleUrl",
            "supersededBy",
            "retryCount",
            "region",
            "tests"
        ],
        "the API's order, tests last, unknown fields kept"
    );
    assert_eq!(doc["supersededBy"], NEWER);
    assert_eq!(doc["region"], json!({"name": "eu-west", "zone": 3}));
    assert!(doc["retryCount"].is_u64());
    let first = &doc["tests"][0];
    assert_eq!(
        first["device"],
        json!({"name": "pixel-7", "osVersion": "34"})
    );
    assert_eq!(first["attempt"], 1);
    assert!(
        first["durationSeconds"].is_u64(),
        "an integer stays one: {first}"
    );
    // Pretty-printed, two spaces, one member a line: Bitrise greps it line by line.
    assert!(o.stdout.starts_with("{\n  \"uploadId\": "), "{o}");
    assert!(o.stdout.contains("\n  \"supersededBy\": \""), "{o}");
    assert!(
        o.stdout.contains("\n      \"durationSeconds\": 14,\n"),
        "{o}"
    );
    assert_eq!(
        bitrise_conclusion(&o.stdout),
        Conclusion::Superseded { by: NEWER.into() }
    );
}
