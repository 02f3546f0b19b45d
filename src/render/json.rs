//! The `--json` documents (docs/json.md), keys in the TypeScript CLI's order so wrappers
//! that parse them keep working.

use crate::domain::results::{ResultRow, Status};
use crate::domain::verdict::Verdict;
use serde_json::{Map, Value, json};

/// Flow details the CLI knows from planning (`dcd cloud`); `dcd status --watch` has none and
/// falls back to the file stem and no tags.
pub trait FlowInfo {
    fn flow_name(&self, file: &str) -> Option<String>;
    fn tags(&self, file: &str) -> Vec<String>;
}

/// No planning information.
pub struct NoFlowInfo;

impl FlowInfo for NoFlowInfo {
    fn flow_name(&self, _: &str) -> Option<String> {
        None
    }
    fn tags(&self, _: &str) -> Vec<String> {
        Vec::new()
    }
}

/// `login` for `./flows/login.yaml`.
pub fn file_stem(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    base.strip_suffix(".yaml")
        .or_else(|| base.strip_suffix(".yml"))
        .unwrap_or(base)
        .to_string()
}

/// The `device` object of a test, or `None` when the row says nothing about its device.
fn device(r: &ResultRow) -> Option<Value> {
    let cfg = r.config.clone().unwrap_or_default();
    if cfg.device_name.is_none() && cfg.os_version.is_none() && r.simulator_name.is_none() {
        return None;
    }
    let mut d = Map::new();
    if let Some(name) = cfg.device_name.or_else(|| r.simulator_name.clone()) {
        d.insert("name".into(), name.into());
    }
    if let Some(v) = cfg.os_version {
        d.insert("osVersion".into(), v.into());
    }
    if let Some(sim) = &r.simulator_name {
        d.insert(
            "googlePlay".into(),
            (sim.ends_with("_PLAY") || sim.ends_with("-play")).into(),
        );
    }
    Some(Value::Object(d))
}

/// One entry of `tests`.
pub fn test_entry(r: &ResultRow, info: &dyn FlowInfo, completed: bool) -> Value {
    let mut t = Map::new();
    if let Some(d) = device(r) {
        t.insert("device".into(), d);
    }
    if completed {
        t.insert(
            "durationSeconds".into(),
            r.duration_seconds.map_or(Value::Null, number),
        );
        if r.status == Status::Failed {
            let reason = r
                .fail_reason
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "No reason provided".into());
            t.insert("failReason".into(), reason.into());
        }
    }
    let file = &r.test_file_name;
    t.insert("fileName".into(), file.clone().into());
    t.insert(
        "flowName".into(),
        info.flow_name(file)
            .unwrap_or_else(|| file_stem(file))
            .into(),
    );
    t.insert("name".into(), file.clone().into());
    t.insert("status".into(), r.status.as_str().into());
    t.insert("tags".into(), json!(info.tags(file)));
    Value::Object(t)
}

/// The completed-run document. `notices` is `None` for a FAILED verdict: that JSON is the
/// bare polling result in the TypeScript CLI and has no `notices` key.
pub fn completed_run(
    verdict: Verdict,
    latest: &[ResultRow],
    upload_id: &str,
    console_url: &str,
    info: &dyn FlowInfo,
    notices: Option<Vec<Value>>,
) -> Value {
    let mut o = Map::new();
    o.insert("consoleUrl".into(), console_url.into());
    o.insert("status".into(), verdict.as_str().into());
    o.insert(
        "tests".into(),
        Value::Array(latest.iter().map(|r| test_entry(r, info, true)).collect()),
    );
    o.insert("uploadId".into(), upload_id.into());
    if verdict != Verdict::Failed {
        o.insert("notices".into(), Value::Array(notices.unwrap_or_default()));
    }
    Value::Object(o)
}

/// `{"status":"FAILED","error":"<message>", ...extra}` for `--json` errors.
pub fn error_doc(message: &str, extra: Option<&Map<String, Value>>) -> Value {
    let mut o = Map::new();
    o.insert("status".into(), "FAILED".into());
    o.insert("error".into(), message.into());
    if let Some(extra) = extra {
        for (k, v) in extra {
            o.insert(k.clone(), v.clone());
        }
    }
    Value::Object(o)
}

/// `dcd status --json`: the upload-status body re-emitted in its own key order, except that
/// `tests` is moved last (and is `[]` when absent).
pub fn status_doc(raw: &Value) -> Value {
    let Some(o) = raw.as_object() else {
        return raw.clone();
    };
    let mut out: Map<String, Value> = o
        .iter()
        .filter(|(k, _)| *k != "tests")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.insert(
        "tests".into(),
        o.get("tests").cloned().unwrap_or_else(|| json!([])),
    );
    Value::Object(out)
}

/// Pretty JSON, two-space indent, as `JSON.stringify(obj, null, 2)`, with every character a
/// terminal could act on written as a `\uXXXX` escape (the same document).
pub fn pretty(v: &Value) -> String {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    crate::sanitize::for_json(&text).into_owned()
}

/// A number as JSON: a whole number stays an integer (`3`, not `3.0`), as the API sent it —
/// strictly typed consumers reject a float where they expect an integer.
pub fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        json!(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::results::RowConfig;

    fn row(id: i64, status: Status) -> ResultRow {
        ResultRow {
            id,
            test_file_name: "./flows/login.yaml".into(),
            status,
            retry_of: None,
            fail_reason: None,
            duration_seconds: Some(32.0),
            simulator_name: Some("pixel-7-34-play".into()),
            config: Some(RowConfig {
                device_name: Some("pixel-7".into()),
                os_version: Some("34".into()),
            }),
            cancellation_reason: None,
        }
    }

    #[test]
    fn whole_numbers_stay_integers() {
        assert_eq!(pretty(&number(3.0)), "3");
        assert_eq!(pretty(&number(2.5)), "2.5");
        assert_eq!(pretty(&number(-0.0)), "0");
    }

    #[test]
    fn failed_run_json_has_fail_reason_and_no_notices() {
        let v = completed_run(
            Verdict::Failed,
            &[row(1, Status::Failed)],
            "u1",
            "https://c/results?upload=u1&result=1",
            &NoFlowInfo,
            Some(vec![]),
        );
        insta::assert_snapshot!(pretty(&v), @r#"
        {
          "consoleUrl": "https://c/results?upload=u1&result=1",
          "status": "FAILED",
          "tests": [
            {
              "device": {
                "name": "pixel-7",
                "osVersion": "34",
                "googlePlay": true
              },
              "durationSeconds": 32,
              "failReason": "No reason provided",
              "fileName": "./flows/login.yaml",
              "flowName": "login",
              "name": "./flows/login.yaml",
              "status": "FAILED",
              "tags": []
            }
          ],
          "uploadId": "u1"
        }
        "#);
    }

    #[test]
    fn passed_run_json_has_notices_and_no_device_when_unknown() {
        let mut r = row(1, Status::Passed);
        r.config = None;
        r.simulator_name = None;
        r.duration_seconds = None;
        let v = completed_run(Verdict::Passed, &[r], "u1", "c", &NoFlowInfo, None);
        let t = &v["tests"][0];
        assert!(t.get("device").is_none() && t.get("failReason").is_none());
        assert_eq!(t["durationSeconds"], Value::Null);
        assert_eq!(v["notices"], json!([]));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            ["consoleUrl", "status", "tests", "uploadId", "notices"]
        );
    }

    #[test]
    fn status_doc_moves_tests_last_and_errors_carry_extras() {
        let raw = json!({"tests": [], "uploadId": "u", "status": "PASSED"});
        let keys: Vec<String> = status_doc(&raw)
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["uploadId", "status", "tests"]);
        let mut extra = Map::new();
        extra.insert("attempts".into(), json!(5));
        assert_eq!(
            error_doc("boom", Some(&extra)),
            json!({"status": "FAILED", "error": "boom", "attempts": 5})
        );
        assert_eq!(file_stem("./a/b.yml"), "b");
    }
}
