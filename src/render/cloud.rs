//! The blocks `dcd cloud` prints before the wait, as pure functions of plain data: the job
//! block, server notices, the dry-run listing, the device-matrix estimate and the submitted
//! block. Snapshot-tested below, so a change to what users see is a reviewed change.

use super::Style;
use super::status::{fields, section};
use crate::sanitize::{clean, link};
use serde_json::{Value, json};

/// What the "Submitting new job" block shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Flows that will run (parallel + sequential) and flow files found.
    pub flows: usize,
    pub total_flow_files: usize,
    /// `binary id <id>`, or the app file.
    pub app: String,
    /// Every flag given, secrets left out.
    pub options: Vec<String>,
    /// Flow path (shown relative to the working directory) → its `DEVICECLOUD_OVERRIDE_*`.
    pub overrides: Vec<(String, Vec<(String, String)>)>,
}

/// The "Submitting new job" block.
pub fn job_block(job: &Job, s: Style) -> Vec<String> {
    let mut out = section("Submitting new job", s);
    let mut rows: Vec<(&str, String)> = vec![
        (
            "flow(s)",
            format!("{} of {} flow file(s)", job.flows, job.total_flow_files),
        ),
        ("app", clean(&job.app)),
    ];
    if !job.options.is_empty() {
        rows.push(("options", clean(&job.options.join(" "))));
    }
    out.extend(fields(&rows, s));
    if !job.overrides.is_empty() {
        out.extend(section("Overrides", s));
        for (path, o) in &job.overrides {
            let kv: Vec<String> = o.iter().map(|(k, v)| format!("{k}={}", clean(v))).collect();
            out.push(format!("    {} {}", clean(path), kv.join(" ")));
        }
    }
    out
}

/// A notice as the JSON output reports it: `slug`, `level`, `title`, `body`, `learnMoreUrl`.
pub fn notice_json(n: &Value) -> Value {
    json!({
        "slug": n.get("slug").cloned().unwrap_or(Value::Null),
        "level": n.get("level").cloned().unwrap_or(json!("info")),
        "title": n.get("title").cloned().unwrap_or(json!("")),
        "body": n.get("body").cloned().unwrap_or(json!("")),
        "learnMoreUrl": n.get("learnMoreUrl").cloned().unwrap_or(Value::Null),
    })
}

/// Server notices: the level picks the glyph (`deprecation` red, `warn` yellow, `marketing`
/// a section, anything else `ℹ`), then the body and the link.
pub fn notices(list: &[Value], s: Style) -> Vec<String> {
    let mut out = Vec::new();
    for n in list {
        let text = |k: &str| clean(n.get(k).and_then(Value::as_str).unwrap_or(""));
        let title = text("title");
        match n.get("level").and_then(Value::as_str) {
            Some("deprecation") => out.push(format!("{} {}", s.red("⚠"), s.bold(&title))),
            Some("warn") => out.push(format!("{} {}", s.yellow("⚠"), s.bold(&title))),
            Some("marketing") => out.extend(section(&title, s)),
            _ => out.push(format!("ℹ {}", s.bold(&title))),
        }
        let body = text("body");
        if !body.is_empty() {
            out.push(format!("{}{body}", s.dim("  ⎿ ")));
        }
        let url = text("learnMoreUrl");
        if !url.is_empty() {
            out.push(format!("    See: {url}"));
        }
    }
    out
}

/// What a dry run would have run and uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanListing {
    /// Portable keys (`./login.yaml`) of the flows that run in parallel.
    pub flows: Vec<String>,
    /// Portable keys of the flows that run one after another, in order.
    pub sequential: Vec<String>,
    /// Every entry of the flow zip (zip entry names), flows first, then their dependencies.
    pub files: Vec<String>,
}

/// The human dry-run listing (after the "Dry run mode" warning): the flows that would run,
/// the sequence, and every file the flow zip would hold, so a user sees what leaves the
/// machine.
pub fn dry_run(p: &PlanListing, s: Style) -> Vec<String> {
    let mut out = section("The following tests would have been run", s);
    out.extend(p.flows.iter().map(|k| format!("  {}", clean(k))));
    if !p.sequential.is_empty() {
        out.extend(section("Sequential flows", s));
        out.extend(p.sequential.iter().map(|k| format!("  {}", clean(k))));
    }
    out.extend(section(
        &format!("Files that would be uploaded ({})", p.files.len()),
        s,
    ));
    out.extend(p.files.iter().map(|f| format!("  {}", clean(f))));
    out
}

/// The `--dry-run --json` document.
pub fn dry_run_json(p: &PlanListing) -> Value {
    json!({
        "status": "DRY_RUN",
        "flows": p.flows,
        "sequentialFlows": p.sequential,
        "files": p.files,
    })
}

/// `POST /uploads/estimateMatrix`'s answer: cells, cost, one row per column.
pub fn matrix_estimate(est: &Value, s: Style) -> Vec<String> {
    let money = |v: Option<&Value>| format!("${:.2}", v.and_then(Value::as_f64).unwrap_or(0.0));
    let mut out = section("Device matrix", s);
    out.push(format!(
        "{}{} cells · est. cost {}",
        s.dim("  ⎿ "),
        est.get("cellCount").and_then(Value::as_u64).unwrap_or(0),
        money(est.get("totalCost"))
    ));
    let columns = est.get("columns").and_then(Value::as_array);
    for c in columns.into_iter().flatten() {
        let name = clean(c.get("deviceName").and_then(Value::as_str).unwrap_or("?"));
        let os = crate::domain::results::str_field(c.get("osVersion")).unwrap_or_default();
        let is_ios = name.starts_with("iphone") || name.starts_with("ipad");
        let play = if c.get("googlePlay").and_then(Value::as_bool) == Some(true) {
            " · Play"
        } else {
            ""
        };
        out.push(format!(
            "    {name} · {} {}{play} → {} flow(s) · {}",
            if is_ios { "iOS" } else { "API" },
            clean(&os),
            c.get("flowCount").and_then(Value::as_u64).unwrap_or(0),
            money(c.get("cost"))
        ));
    }
    let excluded = est.get("excludedFlows").and_then(Value::as_array);
    if excluded.is_some_and(|a| !a.is_empty()) {
        out.push(s.dim("    Flows that name their own device run on it, outside the matrix."));
    }
    out
}

/// What the "Submitted" block shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    pub message: String,
    /// The created tests' file names.
    pub names: Vec<String>,
    pub console_url: String,
    pub upload_id: String,
}

/// `✓ Submitted …`, the created tests, the console link and how to poll.
pub fn submitted(sub: &Submitted, s: Style) -> Vec<String> {
    let mut out = vec![
        String::new(),
        format!(
            "{} {}",
            s.green("✓"),
            s.bold(format!("Submitted {}", clean(&sub.message)).trim_end())
        ),
    ];
    out.extend(section(&format!("Created {} test(s)", sub.names.len()), s));
    let mut names: Vec<String> = sub.names.iter().map(|n| clean(n)).collect();
    names.sort();
    out.push(format!("{}{}", s.dim("  ⎿ "), names.join(", ")));
    out.extend(fields(
        &[
            ("results", link(&sub.console_url)),
            ("upload id", clean(&sub.upload_id)),
            (
                "poll status",
                format!("dcd status --upload-id {}", clean(&sub.upload_id)),
            ),
        ],
        s,
    ));
    out
}

/// Under `--json`, the one line on stderr once the run exists: the console link, which CI
/// wrappers read in every mode (docs/ci.md).
pub fn submitted_line(sub: &Submitted, s: Style) -> String {
    format!(
        "{} Submitted {} test(s): {}",
        s.green("✓"),
        sub.names.len(),
        link(&sub.console_url)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Style = Style { color: false };

    #[test]
    fn job_block_snapshot() {
        let job = Job {
            flows: 2,
            total_flow_files: 3,
            app: "binary id b-1".into(),
            options: vec!["app-binary-id=b-1".into(), "google-play".into()],
            overrides: vec![(
                "./flows/a.yaml".into(),
                vec![("IOS_DEVICE".into(), "iphone-16\x1b[2J".into())],
            )],
        };
        insta::assert_snapshot!(job_block(&job, PLAIN).join("\n"), @r"

        ⏺ Submitting new job
            flow(s)   2 of 3 flow file(s)
            app       binary id b-1
            options   app-binary-id=b-1 google-play

        ⏺ Overrides
            ./flows/a.yaml IOS_DEVICE=iphone-16\x1b[2J
        ");
    }

    #[test]
    fn notices_snapshot() {
        let list = vec![
            json!({"level": "deprecation", "title": "iOS 17 goes", "body": "Move to 18", "learnMoreUrl": "https://x"}),
            json!({"level": "warn", "title": "Slow"}),
            json!({"title": "FYI", "body": "b"}),
        ];
        insta::assert_snapshot!(notices(&list, PLAIN).join("\n"), @r"
        ⚠ iOS 17 goes
          ⎿ Move to 18
            See: https://x
        ⚠ Slow
        ℹ FYI
          ⎿ b
        ");
        assert_eq!(
            notice_json(&json!({"title": "t"})),
            json!({"slug": null, "level": "info", "title": "t", "body": "", "learnMoreUrl": null})
        );
    }

    fn listing() -> PlanListing {
        PlanListing {
            flows: vec!["./a.yaml".into(), "./b.yaml".into()],
            sequential: vec!["./login.yaml".into()],
            files: vec![
                "a.yaml".into(),
                "b.yaml".into(),
                "login.yaml".into(),
                "scripts/x.js".into(),
            ],
        }
    }

    #[test]
    fn dry_run_snapshot_and_json() {
        insta::assert_snapshot!(dry_run(&listing(), PLAIN).join("\n"), @r"
        ⏺ The following tests would have been run
          ./a.yaml
          ./b.yaml

        ⏺ Sequential flows
          ./login.yaml

        ⏺ Files that would be uploaded (4)
          a.yaml
          b.yaml
          login.yaml
          scripts/x.js
        ");
        let doc = dry_run_json(&listing());
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["status", "flows", "sequentialFlows", "files"]);
        assert_eq!(doc["files"][3], "scripts/x.js");
    }

    #[test]
    fn matrix_snapshot() {
        let est = json!({"cellCount": 2, "totalCost": 1.5, "excludedFlows": ["./x.yaml"],
        "columns": [
            {"deviceName": "iphone-16", "osVersion": "18", "flowCount": 3, "cost": 0.75},
            {"deviceName": "pixel-7", "osVersion": 34, "googlePlay": true, "flowCount": 3, "cost": 0.75}
        ]});
        insta::assert_snapshot!(matrix_estimate(&est, PLAIN).join("\n"), @r"
        ⏺ Device matrix
          ⎿ 2 cells · est. cost $1.50
            iphone-16 · iOS 18 → 3 flow(s) · $0.75
            pixel-7 · API 34 · Play → 3 flow(s) · $0.75
            Flows that name their own device run on it, outside the matrix.
        ");
    }

    #[test]
    fn submitted_snapshot() {
        let sub = Submitted {
            message: "2 tests".into(),
            names: vec!["./b.yaml".into(), "./a.yaml".into()],
            console_url: "https://console/results?upload=u".into(),
            upload_id: "u".into(),
        };
        insta::assert_snapshot!(submitted(&sub, PLAIN).join("\n"), @r"

        ✓ Submitted 2 tests

        ⏺ Created 2 test(s)
          ⎿ ./a.yaml, ./b.yaml
            results       https://console/results?upload=u
            upload id     u
            poll status   dcd status --upload-id u
        ");
        assert_eq!(
            submitted_line(&sub, PLAIN),
            "✓ Submitted 2 test(s): https://console/results?upload=u"
        );
    }

    #[test]
    fn text_before_the_link_cannot_carry_its_marker() {
        // A `--name` that is a PR title, a flow file name and a server message: the first
        // `upload=` in the output is the link's.
        let job = Job {
            flows: 1,
            total_flow_files: 1,
            app: "binary id b".into(),
            options: vec!["name=Allow upload=yes".into()],
            overrides: vec![],
        };
        let sub = Submitted {
            message: "upload=evil".into(),
            names: vec!["./upload=x.yaml".into()],
            console_url: "https://c/results?upload=u1&result=3".into(),
            upload_id: "u1".into(),
        };
        let mut text = job_block(&job, PLAIN).join("\n");
        text.push_str(&submitted(&sub, PLAIN).join("\n"));
        let first = text.find("upload=").map(|at| &text[at..at + 9]);
        assert_eq!(first, Some("upload=u1"), "{text}");
        assert!(text.contains("name=Allow upload =yes"), "{text}");
    }
}
