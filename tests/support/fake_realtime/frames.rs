//! Frames: parsing per serializer (vsn 1.0.0 objects, 2.0.0 arrays), the server's binding
//! ids, and small helpers for building replies.

use std::collections::BTreeMap;

use serde_json::Value;

use super::records::Vsn;

/// A parsed inbound frame.
pub(super) struct Inbound {
    pub(super) join_ref: Option<String>,
    pub(super) ref_: Option<String>,
    pub(super) topic: String,
    pub(super) event: String,
    pub(super) payload: Value,
}

/// Parse per the socket's serializer; `None` = malformed (logged and dropped, like
/// Phoenix's `MalformedWebSocketMessage`).
pub(super) fn parse_inbound(vsn: Vsn, raw: &str) -> Option<Inbound> {
    let v: Value = serde_json::from_str(raw).ok()?;
    match vsn {
        Vsn::V2 => parse_array(&v),
        Vsn::V1 => parse_object(&v),
    }
}

/// Either format (for recording what we send, which may be `push_raw` text).
pub(super) fn parse_lenient(raw: &str) -> Option<Inbound> {
    let v: Value = serde_json::from_str(raw).ok()?;
    parse_array(&v).or_else(|| parse_object(&v))
}

fn parse_array(v: &Value) -> Option<Inbound> {
    let a = v.as_array()?;
    if a.len() < 5 {
        return None;
    }
    Some(Inbound {
        join_ref: opt_ref(&a[0])?,
        ref_: opt_ref(&a[1])?,
        topic: a[2].as_str()?.to_string(),
        event: a[3].as_str()?.to_string(),
        payload: a[4].clone(),
    })
}

fn parse_object(v: &Value) -> Option<Inbound> {
    let o = v.as_object()?;
    Some(Inbound {
        join_ref: opt_ref(o.get("join_ref").unwrap_or(&Value::Null))?,
        ref_: opt_ref(o.get("ref").unwrap_or(&Value::Null))?,
        topic: o.get("topic")?.as_str()?.to_string(),
        event: o.get("event")?.as_str()?.to_string(),
        payload: o.get("payload")?.clone(),
    })
}

/// A ref slot: string or null (numbers tolerated); anything else is malformed.
fn opt_ref(v: &Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        Value::Number(n) => Some(Some(n.to_string())),
        _ => None,
    }
}

/// `realtime:foo` -> `foo`.
pub(super) fn sub_topic(topic: &str) -> &str {
    topic.strip_prefix("realtime:").unwrap_or(topic)
}

/// The server's id for a binding: deterministic, below 2^27 like Erlang's `phash2`
/// (FNV-1a over the entry with keys sorted, so key order does not matter).
pub fn binding_id(entry: &Value) -> u64 {
    let mut canon = String::new();
    canonical(entry, &mut canon);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canon.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 27) ^ (h >> 54)) & ((1 << 27) - 1)
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(o) => {
            let sorted: BTreeMap<&String, &Value> = o.iter().filter(|(k, _)| *k != "id").collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// For `JoinBehaviour::Mismatch`: a filter the client did not ask for.
pub(super) fn mangle_filter(entry: &mut Value) {
    if let Some(o) = entry.as_object_mut() {
        let new = match o.get("filter").and_then(Value::as_str) {
            Some(f) => format!("{f}-mismatch"),
            None => "id=eq.mismatch".to_string(),
        };
        o.insert("filter".into(), Value::String(new));
    }
}

/// Postgres type name for a JSON value (for `columns`).
pub(super) fn pg_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float8",
        Value::Number(_) => "int8",
        Value::Object(_) | Value::Array(_) => "jsonb",
        Value::String(_) | Value::Null => "text",
    }
}

pub(super) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
