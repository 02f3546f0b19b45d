//! `dcd status` without `--watch`: the upload's state as it is now, whatever it is.

use super::{Style, glyph, pad, time, visible_width, word};
use crate::domain::results::{Status, UploadStatus};
use crate::sanitize::{clean, link};

/// `⏺ Title`: a section header, preceded by a blank line.
pub fn section(title: &str, style: Style) -> Vec<String> {
    vec![
        String::new(),
        format!("{} {}", style.dim("⏺"), style.bold(title)),
    ]
}

/// Key/value rows: dim labels padded to the widest plus three spaces, under a branch.
pub fn fields(rows: &[(&str, String)], style: Style) -> Vec<String> {
    let w = rows
        .iter()
        .map(|(k, _)| visible_width(k))
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("    {}   {v}", style.dim(&pad(k, w))))
        .collect()
}

/// The whole human output of a one-shot `dcd status`.
pub fn upload_status(s: &UploadStatus, style: Style) -> Vec<String> {
    let mut out = section("Upload Status", style);
    out.push(format!(
        "{}{}",
        style.dim("  ⎿ "),
        style.status(
            &s.status,
            &format!("{} {}", glyph(&s.status), word(&s.status))
        )
    ));
    let mut kv: Vec<(&str, String)> = Vec::new();
    if let Some(n) = &s.name {
        kv.push(("name", clean(n)));
    }
    kv.push(("upload id", clean(&s.upload_id)));
    if let Some(b) = &s.app_binary_id {
        kv.push(("binary id", clean(b)));
    }
    if let Some(c) = &s.created_at {
        kv.push(("created", clean(&time::iso_utc(c))));
    }
    if let Some(u) = &s.console_url {
        kv.push(("console", link(u)));
    }
    if let Some(by) = &s.superseded_by {
        kv.push(("superseded by", clean(by)));
    }
    out.extend(fields(&kv, style));
    out.extend(section("Test Results", style));
    if s.tests.is_empty() {
        out.push(format!(
            "{}{}",
            style.dim("  ⎿ "),
            style.dim("no tests yet")
        ));
    }
    for (i, t) in s.tests.iter().enumerate() {
        let lead = if i == 0 {
            style.dim("  ⎿ ")
        } else {
            "    ".into()
        };
        let mut line = format!(
            "{lead}{} {}",
            style.status(&t.status, glyph(&t.status)),
            clean(&t.name)
        );
        if let Some(d) = t.duration_seconds.filter(|d| *d > 0.0) {
            line.push_str(&format!(" · {}", time::duration(d)));
        }
        if let Some(c) = &t.created_at {
            line.push_str(&style.dim(&format!(" · {}", clean(&time::iso_utc(c)))));
        }
        if t.status == Status::Failed
            && let Some(r) = &t.fail_reason
        {
            line.push_str(&style.red(&format!(" · {}", clean(r))));
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_output_snapshot() {
        let v = json!({"uploadId": "u1", "status": "FAILED", "name": "nightly",
            "createdAt": "2026-11-24T08:00:00Z", "appBinaryId": "bin-1",
            "consoleUrl": "https://c/results?upload=u1", "supersededBy": "u2",
            "tests": [
                {"name": "./a.yaml", "status": "PASSED", "durationSeconds": 32},
                {"name": "./b.yaml", "status": "FAILED", "durationSeconds": 75,
                 "failReason": "Element\nnot found", "createdAt": "2026-11-24T08:01:00Z"}]});
        let s = UploadStatus::from_value(&v).unwrap();
        insta::assert_snapshot!(upload_status(&s, Style::PLAIN).join("\n"), @r"

        ⏺ Upload Status
          ⎿ ✗ failed
            name            nightly
            upload id       u1
            binary id       bin-1
            created         2026-11-24 08:00:00 UTC
            console         https://c/results?upload=u1
            superseded by   u2

        ⏺ Test Results
          ⎿ ✓ ./a.yaml · 32s
            ✗ ./b.yaml · 1m 15s · 2026-11-24 08:01:00 UTC · Element not found
        ");
    }
}
