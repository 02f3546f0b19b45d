//! The submission (`POST /uploads/submitFlowTest`, or the multipart `POST /uploads/flow`
//! fallback), which also derives a passing timeline when the scenario has none; the matrix
//! estimate; and the multipart/form-data parser.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::http::{Request, Response};
use super::iso_now;
use super::scenario::{Estimate, duration, row};
use super::{Shared, State, created, field_str, json_body, json_field, string_list};

/// A submission as the fake parsed it (`submitFlowTest` JSON or the multipart fallback).
#[derive(Clone, Debug)]
pub struct Submission {
    /// `"json"` (`POST /uploads/submitFlowTest`) or `"multipart"` (`POST /uploads/flow`).
    pub via: &'static str,
    /// JSON: the body's members. Multipart: every string part, as a JSON string.
    pub fields: Map<String, Value>,
    /// The flow zip: the multipart `file` part, or (JSON) the object the upload stored at
    /// `path` over TUS or, failing that, at `organizations/<finalPath>` on B2.
    pub zip: Option<Vec<u8>>,
    /// Multipart only: part names in order (`file` must come first).
    pub parts: Vec<String>,
    /// Multipart only: the `file` part's filename and content type.
    pub file_name: Option<String>,
    pub file_type: Option<String>,
}

impl Submission {
    /// A field as a string (`None` when absent or not a string).
    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
    /// A field that carries JSON: a string is parsed (H.3 sends JSON-encoded strings), any
    /// other value is returned as is.
    pub fn json(&self, key: &str) -> Option<Value> {
        match self.fields.get(key)? {
            Value::String(s) => serde_json::from_str(s).ok(),
            other => Some(other.clone()),
        }
    }
}

pub(super) fn submit_json(shared: &Shared, req: &Request) -> Response {
    if let Some(code) = shared.scenario.submit_json_status {
        return Response::nest(code, &format!("Cannot POST {}", req.path));
    }
    let fields = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut st = shared.lock();
    let slot = field_str(&fields, "id")
        .and_then(|id| st.slots.get(id))
        .cloned();
    let zip = field_str(&fields, "path")
        .and_then(|p| st.objects.get(p).cloned())
        .or_else(|| {
            slot.and_then(|s| {
                st.b2_objects
                    .get(&format!("organizations/{}", s.final_path))
                    .cloned()
            })
        });
    let sub = Submission {
        via: "json",
        fields,
        zip,
        parts: Vec::new(),
        file_name: None,
        file_type: None,
    };
    accept_submission(shared, &mut st, sub)
}

pub(super) fn submit_multipart(shared: &Shared, req: &Request) -> Response {
    let parts = match parse_multipart(req.header("content-type").unwrap_or(""), &req.body) {
        Ok(p) => p,
        Err(why) => return Response::nest(400, &format!("Malformed multipart body: {why}")),
    };
    let mut sub = Submission {
        via: "multipart",
        fields: Map::new(),
        zip: None,
        parts: parts.iter().map(|p| p.name.clone()).collect(),
        file_name: None,
        file_type: None,
    };
    for p in parts {
        if p.name == "file" {
            sub.file_name = p.filename;
            sub.file_type = p.content_type;
            sub.zip = Some(p.data);
        } else {
            let text = String::from_utf8_lossy(&p.data).into_owned();
            sub.fields.insert(p.name, Value::String(text));
        }
    }
    if sub.zip.is_none() {
        return Response::nest(400, "file is required");
    }
    let mut st = shared.lock();
    accept_submission(shared, &mut st, sub)
}

/// Records the submission, answers with one PENDING row per flow, and (when the scenario has
/// no timeline of its own) derives PENDING → RUNNING → PASSED from it.
fn accept_submission(shared: &Shared, st: &mut State, sub: Submission) -> Response {
    let s = &shared.scenario;
    let mut flows = string_list(sub.fields.get("testFileNames"));
    flows.extend(string_list(sub.fields.get("sequentialFlows")));
    let binary = field_str(&sub.fields, "appBinaryId")
        .unwrap_or("")
        .to_string();
    let ios = ["iOSDevice", "iOSVersion"]
        .iter()
        .any(|k| field_str(&sub.fields, k).is_some());
    let platform = st
        .slots
        .get(&binary)
        .and_then(|b| b.platform.clone())
        .unwrap_or_else(|| if ios { "ios" } else { "android" }.to_string());
    let simulator = if platform == "ios" {
        format!(
            "{}-{}",
            field_str(&sub.fields, "iOSDevice").unwrap_or("iphone-16"),
            field_str(&sub.fields, "iOSVersion").unwrap_or("18")
        )
    } else {
        format!(
            "{}-{}",
            field_str(&sub.fields, "androidDevice").unwrap_or("pixel-7"),
            field_str(&sub.fields, "androidApiLevel").unwrap_or("34")
        )
    };
    let first_id = st.submissions.len() as i64 * 1000 + 1;
    let now = iso_now();
    let rows: Vec<Value> = flows
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({
                "id": first_id + i as i64,
                "test_file_name": f,
                "status": "PENDING",
                "binary_upload_id": binary,
                "test_upload_id": s.upload_id,
                "simulator_name": simulator,
                "cost": 1,
                "created_at": now,
                "env": "dev",
                "org_id": 1,
                "platform": platform,
            })
        })
        .collect();
    if s.snapshots.is_empty() && !flows.is_empty() {
        let timeline = |status: &str| -> Vec<Value> {
            flows
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let r = row(first_id + i as i64, f, status);
                    if status == "PASSED" {
                        duration(r, 12.0)
                    } else {
                        r
                    }
                })
                .collect()
        };
        st.derived = Some(vec![
            timeline("PENDING"),
            timeline("RUNNING"),
            timeline("PASSED"),
        ]);
    }
    st.timeline_start = Some(Instant::now());
    st.index = 0;
    st.pinned = None;
    if let Some(n) = field_str(&sub.fields, "name") {
        st.submitted_name = Some(n.to_string());
    }
    st.submissions.push(sub);
    created(&json!({"message": s.submit_message, "results": rows}))
}

pub(super) fn estimate_matrix(shared: &Shared, req: &Request) -> Response {
    match &shared.scenario.estimate {
        Estimate::Unsupported(code) => {
            return Response::nest(*code, &format!("Cannot POST {}", req.path));
        }
        Estimate::Fixed(v) => return created(v),
        Estimate::Computed => {}
    }
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(Value::Array(cells)) = json_field(body.get("deviceMatrix")) else {
        return Response::nest(400, "deviceMatrix must be a JSON array of cells");
    };
    let mut flows = string_list(body.get("testFileNames"));
    flows.extend(string_list(body.get("sequentialFlows")));
    // Flows that name their own device are left out of the matrix.
    let overrides = json_field(body.get("testFileOverrides")).unwrap_or(Value::Null);
    let (excluded, included): (Vec<String>, Vec<String>) = flows.into_iter().partition(|f| {
        overrides
            .get(f)
            .and_then(Value::as_object)
            .is_some_and(|o| o.keys().any(|k| k == "IOS_DEVICE" || k == "ANDROID_DEVICE"))
    });
    let per_run = 0.25;
    let mut total = 0.0;
    let mut columns = Vec::new();
    for c in &cells {
        let pick = |a: &str, b: &str| {
            c.get(a)
                .or_else(|| c.get(b))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let cost = per_run * included.len() as f64;
        total += cost;
        columns.push(json!({
            "deviceName": pick("iOSDevice", "androidDevice"),
            "osVersion": pick("iOSVersion", "androidApiLevel"),
            "googlePlay": c.get("googlePlay") == Some(&json!(true)),
            "flowCount": included.len(),
            "cost": cost,
        }));
    }
    created(&json!({
        "cellCount": cells.len(),
        "totalCost": total,
        "excludedFlows": excluded,
        "columns": columns,
    }))
}

// ---------------------------------------------------------------------------
// multipart/form-data (the `POST /uploads/flow` fallback)
// ---------------------------------------------------------------------------

/// One part of a multipart/form-data body.
#[derive(Clone, Debug)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Parses a multipart/form-data body (RFC 7578) given its `Content-Type` header.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let mut params = content_type.split(';').map(str::trim);
    if !params
        .next()
        .is_some_and(|t| t.eq_ignore_ascii_case("multipart/form-data"))
    {
        return Err(format!("content-type is {content_type:?}"));
    }
    let boundary = params
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or("no boundary")?;
    let delim = format!("--{boundary}").into_bytes();
    let mut close = b"\r\n".to_vec();
    close.extend_from_slice(&delim);
    let mut pos = find(body, &delim, 0).ok_or("no opening boundary")? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("boundary not followed by CRLF".into());
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos).ok_or("unterminated part headers")?;
        let head = String::from_utf8_lossy(&body[pos..head_end]).into_owned();
        let data_start = head_end + 4;
        let data_end = find(body, &close, data_start).ok_or("unterminated part")?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data: body[data_start..data_end].to_vec(),
        };
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                return Err(format!("bad part header {line:?}"));
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    let mut it = v.split(';').map(str::trim);
                    if it.next() != Some("form-data") {
                        return Err(format!("bad content-disposition {v:?}"));
                    }
                    for p in it {
                        let (pk, pv) = p.split_once('=').unwrap_or((p, ""));
                        let pv = pv.trim().trim_matches('"').replace("\\\"", "\"");
                        match pk.trim() {
                            "name" => part.name = pv,
                            "filename" => part.filename = Some(pv),
                            _ => {}
                        }
                    }
                }
                "content-type" => part.content_type = Some(v.trim().to_string()),
                _ => {}
            }
        }
        if part.name.is_empty() {
            return Err("part without a name".into());
        }
        parts.push(part);
        pos = data_end + close.len();
    }
}
