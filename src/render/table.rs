//! The end of a wait: the final per-test table and the one verdict line (docs/wait.md,
//! "Completion and verdict"), plus the GitHub Actions extras: a foldable group, one
//! `::error` annotation per failed flow, and a Markdown job summary.

use super::{Style, pad, time, visible_width, word};
use crate::domain::results::{ResultRow, Status};
use crate::domain::verdict::Verdict;
use crate::sanitize::{clean, link};

/// Every row (retries included) with duration, status, test and — when any row failed — the
/// fail reason. Columns are two spaces apart, widths from the visible text.
pub fn final_table(rows: &[ResultRow], style: Style) -> Vec<String> {
    let any_failed = rows.iter().any(|r| r.status == Status::Failed);
    let mut header = vec!["duration", "status", "test"];
    if any_failed {
        header.push("fail_reason");
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let dur = r
                .duration_seconds
                .filter(|d| *d > 0.0)
                .map_or_else(|| "-".to_string(), time::duration);
            let mut test = clean(&r.test_file_name);
            if r.retry_of.is_some() {
                test.push_str(&style.dim(" (retry)"));
            }
            let mut cells = vec![
                style.dim(&dur),
                style.status(&r.status, &word(&r.status)),
                test,
            ];
            if any_failed {
                cells.push(if r.status == Status::Failed {
                    style.red(&clean(
                        r.fail_reason.as_deref().unwrap_or("No reason provided"),
                    ))
                } else {
                    String::new()
                });
            }
            cells
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            body.iter()
                .map(|c| visible_width(&c[i]))
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let join = |cells: Vec<String>| -> String {
        let last = cells.len() - 1;
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| if i == last { c } else { pad(&c, widths[i]) })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![
        join(header.iter().map(|h| style.bold(h)).collect()),
        join(widths.iter().map(|w| style.dim(&"─".repeat(*w))).collect()),
    ];
    out.extend(body.into_iter().map(join));
    out
}

/// The verdict line and its branch rows. `latest` holds the newest try of each retry chain.
pub fn verdict_lines(
    verdict: Verdict,
    latest: &[ResultRow],
    console_url: &str,
    superseded_by: Option<&str>,
    style: Style,
) -> Vec<String> {
    let total = latest.len();
    let failed = latest.iter().filter(|r| r.status != Status::Passed).count();
    let branch = style.dim("  ⎿ ");
    let mut out = match verdict {
        Verdict::Passed => vec![format!(
            "{} {}",
            style.green("✓"),
            style.bold(&format!(
                "Run completed: {} passed",
                plural(total, "test", "all ")
            ))
        )],
        Verdict::Failed => vec![format!(
            "{} {}",
            style.red("✗"),
            style.bold(&format!(
                "Run completed: {failed} of {} failed",
                plural(total, "test", "")
            ))
        )],
        Verdict::Superseded => {
            let mut v =
                vec![style.yellow(
                    "⚠ Run superseded by a newer run from the same CI context — exiting 0",
                )];
            if let Some(newer) = superseded_by {
                v.push(format!(
                    "{branch}{}  {}",
                    style.dim("superseded by"),
                    link(&crate::domain::verdict::superseded_url(console_url, newer))
                ));
            }
            v
        }
    };
    out.push(format!(
        "{branch}{}  {}",
        style.dim("results"),
        link(console_url)
    ));
    out
}

fn plural(n: usize, noun: &str, all: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{all}{n} {noun}s"),
    }
}

/// Escapes a GitHub Actions workflow-command message (`%`, CR, LF).
pub fn gha_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a GitHub Actions workflow-command property (data escapes plus `:` and `,`).
pub fn gha_escape_property(s: &str) -> String {
    gha_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One `::error title=<flow>::<reason>` per failed newest try.
pub fn gha_annotations(latest: &[ResultRow]) -> Vec<String> {
    latest
        .iter()
        .filter(|r| !matches!(r.status, Status::Passed | Status::Cancelled))
        .map(|r| {
            let reason = r.fail_reason.as_deref().unwrap_or("No reason provided");
            format!(
                "::error title={}::{} {}",
                gha_escape_property(&clean(&r.test_file_name)),
                word(&r.status),
                gha_escape_data(&clean(reason))
            )
        })
        .collect()
}

/// The Markdown job summary appended to `$GITHUB_STEP_SUMMARY`.
pub fn step_summary(verdict: Verdict, latest: &[ResultRow], console_url: &str) -> String {
    let md = |s: &str| clean(s).replace('|', "\\|");
    let mut out = format!(
        "### devicecloud.dev: {}\n\n| status | test | duration | fail reason |\n|---|---|---|---|\n",
        verdict.as_str().to_ascii_lowercase()
    );
    for r in latest {
        out.push_str(&format!(
            "| {} {} | {} | {} | {} |\n",
            super::glyph(&r.status),
            word(&r.status),
            md(&r.test_file_name),
            r.duration_seconds
                .map_or_else(|| "-".into(), time::duration),
            r.fail_reason.as_deref().map(md).unwrap_or_default()
        ));
    }
    out.push_str(&format!("\n[Open in the console]({})\n", md(console_url)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, file: &str, status: Status, dur: Option<f64>) -> ResultRow {
        ResultRow {
            duration_seconds: dur,
            ..ResultRow::new(id, file, status)
        }
    }

    #[test]
    fn final_table_adds_fail_reason_only_when_something_failed() {
        let mut f = row(2, "./b.yaml", Status::Failed, Some(75.0));
        f.fail_reason = Some("Element not found".into());
        let mut retry = row(3, "./b.yaml", Status::Passed, Some(30.0));
        retry.retry_of = Some(2);
        let rows = vec![row(1, "./a.yaml", Status::Passed, Some(32.0)), f, retry];
        insta::assert_snapshot!(final_table(&rows, Style::PLAIN).join("\n"), @r"
        duration  status  test              fail_reason
        ────────  ──────  ────────────────  ─────────────────
        32s       passed  ./a.yaml
        1m 15s    failed  ./b.yaml          Element not found
        30s       passed  ./b.yaml (retry)
        ");
        let ok = vec![row(1, "./a.yaml", Status::Passed, None)];
        insta::assert_snapshot!(final_table(&ok, Style::PLAIN).join("\n"), @r"
        duration  status  test
        ────────  ──────  ────────
        -         passed  ./a.yaml
        ");
    }

    #[test]
    fn verdict_lines_for_each_verdict() {
        let rows = vec![
            row(1, "./a.yaml", Status::Passed, None),
            row(2, "./b.yaml", Status::Failed, None),
        ];
        let url = "https://c/results?upload=A&result=1";
        let v = |verdict, by| verdict_lines(verdict, &rows, url, by, Style::PLAIN).join("\n");
        insta::assert_snapshot!(v(Verdict::Passed, None), @r"
        ✓ Run completed: all 2 tests passed
          ⎿ results  https://c/results?upload=A&result=1
        ");
        insta::assert_snapshot!(v(Verdict::Failed, None), @r"
        ✗ Run completed: 1 of 2 tests failed
          ⎿ results  https://c/results?upload=A&result=1
        ");
        insta::assert_snapshot!(v(Verdict::Superseded, Some("B")), @r"
        ⚠ Run superseded by a newer run from the same CI context — exiting 0
          ⎿ superseded by  https://c/results?upload=B
          ⎿ results  https://c/results?upload=A&result=1
        ");
    }

    #[test]
    fn github_annotations_are_escaped() {
        let mut f = row(2, "./a,b:c.yaml", Status::Failed, None);
        f.fail_reason = Some("100% broken\nsecond line".into());
        assert_eq!(
            gha_annotations(&[f, row(3, "./ok.yaml", Status::Passed, None)]),
            vec!["::error title=./a%2Cb%3Ac.yaml::failed 100%25 broken second line"]
        );
    }

    #[test]
    fn step_summary_is_a_markdown_table() {
        let mut f = row(2, "./a|b.yaml", Status::Failed, Some(5.0));
        f.fail_reason = Some("boom".into());
        insta::assert_snapshot!(step_summary(Verdict::Failed, &[f], "https://c/x"), @r"
        ### devicecloud.dev: failed

        | status | test | duration | fail reason |
        |---|---|---|---|
        | ✗ failed | ./a\|b.yaml | 5s | boom |

        [Open in the console](https://c/x)
        ");
    }
}
