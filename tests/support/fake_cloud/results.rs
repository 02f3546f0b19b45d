//! What a wait polls: `GET /results/{uploadId}` (the timeline's current snapshot, strong
//! ETags and 304s) and `GET /uploads/status` (the summary derived from the same rows).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::Hasher;

use serde_json::{Value, json};

use super::Shared;
use super::http::{Request, Response};
use super::scenario::{Advance, Scenario};

fn etag_of(body: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    h.write(body);
    format!("\"{:016x}\"", h.finish())
}

fn if_none_match_hits(header: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t).trim_matches('"') == bare)
}

pub(super) fn results(shared: &Shared, req: &Request, id: &str) -> Response {
    let s = &shared.scenario;
    if id != s.upload_id {
        return Response::nest(404, &format!("Upload {id} not found"));
    }
    let mut st = shared.lock();
    let index = shared.current_index(&st);
    if s.advance == Advance::PerRequest {
        // Counter moves past the end too; reads cap it.
        st.index = index + 1;
    }
    let rows = shared.snapshot(&st, index);
    drop(st);
    let body = json!({"statusCode": 200, "results": rows});
    let mut resp = Response::json(200, &body);
    if s.etag {
        let tag = etag_of(&resp.body);
        if req
            .header("if-none-match")
            .is_some_and(|inm| if_none_match_hits(inm, &tag))
        {
            resp.status = 304;
            resp.body.clear();
        }
        resp = resp.header("etag", tag);
    }
    resp
}

pub(super) fn upload_status(shared: &Shared, req: &Request) -> Response {
    let s = &shared.scenario;
    let param = |n: &str| {
        req.query
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let st = shared.lock();
    let name = s.name.clone().or_else(|| st.submitted_name.clone());
    let found = match (param("uploadId"), param("name")) {
        (Some(id), _) => id == s.upload_id,
        (None, Some(n)) => name.as_deref() == Some(n),
        (None, None) => {
            return Response::nest(400, "Either uploadId or name must be provided");
        }
    };
    if !found {
        return Response::nest(404, "Upload not found");
    }
    let rows = shared.snapshot(&st, shared.current_index(&st));
    drop(st);
    Response::json(200, &status_body(s, name.as_deref(), &rows))
}

fn str_field<'a>(row: &'a Value, key: &str) -> Option<&'a str> {
    row.get(key).and_then(Value::as_str)
}

/// Spec E.3 `filterLatestResults`: newest row per retry chain, original order kept.
pub fn latest_rows(rows: &[Value]) -> Vec<Value> {
    let by_id: HashMap<i64, &Value> = rows
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_i64).map(|id| (id, r)))
        .collect();
    let root = |r: &Value| -> Option<i64> {
        let mut id = r.get("id").and_then(Value::as_i64)?;
        let mut cur = r;
        let mut seen = HashSet::new();
        while let Some(parent) = cur.get("retry_of").and_then(Value::as_i64) {
            if !seen.insert(id) {
                break;
            }
            id = parent;
            match by_id.get(&parent) {
                Some(p) => cur = p,
                None => break,
            }
        }
        Some(id)
    };
    let mut best: HashMap<i64, i64> = HashMap::new();
    for r in rows {
        if let (Some(root), Some(id)) = (root(r), r.get("id").and_then(Value::as_i64)) {
            let e = best.entry(root).or_insert(id);
            *e = (*e).max(id);
        }
    }
    rows.iter()
        .filter(|r| match (root(r), r.get("id").and_then(Value::as_i64)) {
            (Some(root), Some(id)) => best.get(&root) == Some(&id),
            _ => true,
        })
        .cloned()
        .collect()
}

fn status_body(s: &Scenario, name: Option<&str>, rows: &[Value]) -> Value {
    let status_of = |r: &Value| str_field(r, "status").unwrap_or("").to_string();
    let superseded_by = rows.iter().find_map(|r| {
        str_field(r, "cancellation_reason")
            .and_then(|c| c.strip_prefix("superseded_by:"))
            .filter(|id| !id.is_empty())
            .map(str::to_string)
    });
    let latest = latest_rows(rows);
    let active = rows
        .iter()
        .any(|r| matches!(status_of(r).as_str(), "PENDING" | "QUEUED" | "RUNNING"));
    let overall = if rows.is_empty() {
        "PENDING"
    } else if active {
        if rows.iter().any(|r| status_of(r) == "RUNNING") {
            "RUNNING"
        } else {
            "PENDING"
        }
    } else if superseded_by.is_some() {
        "FAILED"
    } else if latest.iter().all(|r| status_of(r) == "PASSED") {
        "PASSED"
    } else {
        "FAILED"
    };
    let console = match rows.first().and_then(|r| r.get("id")) {
        Some(first) => format!(
            "https://console.devicecloud.dev/results?upload={}&result={}",
            s.upload_id, first
        ),
        None => format!(
            "https://console.devicecloud.dev/results?upload={}",
            s.upload_id
        ),
    };
    let tests: Vec<Value> = latest
        .iter()
        .map(|r| {
            let mut t = json!({
                "name": r.get("test_file_name").cloned().unwrap_or(Value::Null),
                "status": r.get("status").cloned().unwrap_or(Value::Null),
                "durationSeconds": r.get("duration_seconds").cloned().unwrap_or(Value::Null),
                "failReason": r.get("fail_reason").cloned().unwrap_or(Value::Null),
                "createdAt": r.get("created_at").cloned().unwrap_or_else(|| json!(s.created_at)),
            });
            append(&mut t, &s.status_test_extra);
            t
        })
        .collect();
    let mut body = json!({
        "uploadId": s.upload_id,
        "status": overall,
        "name": name,
        "createdAt": s.created_at,
        "appBinaryId": "bin-123",
        "consoleUrl": console,
        "tests": tests,
    });
    if let (Some(by), Some(obj)) = (superseded_by, body.as_object_mut()) {
        obj.insert("supersededBy".to_string(), json!(by));
    }
    append(&mut body, &s.status_extra);
    body
}

/// The members of `extra` (an object) appended to `to`.
fn append(to: &mut Value, extra: &Value) {
    if let (Some(to), Some(extra)) = (to.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            to.insert(k.clone(), v.clone());
        }
    }
}
