//! Typed views of the API's JSON, parsed leniently.
//!
//! The server adds fields and statuses over time; a CLI that refuses a response because of a
//! field it does not know (or a number sent as a string) stops working on the day the server
//! changes. So rows are read field by field from a `serde_json::Value`: unknown fields are
//! ignored, unknown status strings are kept as [`Status::Other`], and a descriptive field of
//! the wrong type is treated as absent.
//!
//! Leniency stops where the verdict starts: a result row whose `id`, `status`,
//! `test_file_name` or `retry_of` cannot be read, or an element of `results` that is not an
//! object, is never dropped — it makes the whole poll fail ([`parse_results`]), because a
//! verdict over the rows that remain could be green while the unread one is still running or
//! failed.

use serde_json::Value;

/// The status of one test result row, as the API spells it. Unknown strings are kept, not
/// rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Queued,
    Running,
    Passed,
    Failed,
    Cancelled,
    Error,
    /// A status string this build does not know. Treated as terminal and as not passed.
    Other(String),
}

impl Status {
    pub fn parse(s: &str) -> Status {
        match s.trim().to_ascii_uppercase().as_str() {
            "PENDING" => Status::Pending,
            "QUEUED" => Status::Queued,
            "RUNNING" => Status::Running,
            "PASSED" => Status::Passed,
            "FAILED" => Status::Failed,
            "CANCELLED" | "CANCELED" => Status::Cancelled,
            "ERROR" => Status::Error,
            _ => Status::Other(s.to_string()),
        }
    }

    /// The wire spelling (upper case), as the API sends it and `--json` re-emits it.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Pending => "PENDING",
            Status::Queued => "QUEUED",
            Status::Running => "RUNNING",
            Status::Passed => "PASSED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
            Status::Error => "ERROR",
            Status::Other(s) => s,
        }
    }

    /// PENDING, QUEUED and RUNNING are the only non-terminal states; any other status,
    /// unknown ones included, is terminal.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Status::Pending | Status::Queued | Status::Running)
    }
}

/// Device details the summary view carries in `config`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowConfig {
    pub device_name: Option<String>,
    pub os_version: Option<String>,
}

/// One row of `GET /results/{uploadId}?view=summary` (fields in docs/http-api.md).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub id: i64,
    pub test_file_name: String,
    pub status: Status,
    pub retry_of: Option<i64>,
    pub fail_reason: Option<String>,
    pub duration_seconds: Option<f64>,
    pub simulator_name: Option<String>,
    pub config: Option<RowConfig>,
    pub cancellation_reason: Option<String>,
}

impl ResultRow {
    /// A row with only the essentials set (the rest absent), for tests and fakes.
    pub fn new(id: i64, test_file_name: &str, status: Status) -> ResultRow {
        ResultRow {
            id,
            test_file_name: test_file_name.to_string(),
            status,
            retry_of: None,
            fail_reason: None,
            duration_seconds: None,
            simulator_name: None,
            config: None,
            cancellation_reason: None,
        }
    }

    /// Reads a row. The fields the verdict rests on must be readable: `id` (an integer or a
    /// numeric string), `status` (a string), `test_file_name` (absent, null, a string or a
    /// number) and `retry_of` (absent, null or an integer); the error says which one is not,
    /// by JSON type only (no server text). Other fields of the wrong type count as absent.
    pub fn from_value(v: &Value) -> Result<ResultRow, String> {
        let o = v
            .as_object()
            .ok_or_else(|| format!("is {}, not an object", json_type(v)))?;
        let id = match o.get("id") {
            None => return Err("has no \"id\"".to_string()),
            Some(v) => int_field(v).ok_or_else(|| format!("has an \"id\" that is {}", kind(v)))?,
        };
        let status = match o.get("status") {
            Some(Value::String(s)) => Status::parse(s),
            None => return Err(format!("(id {id}) has no \"status\"")),
            Some(v) => {
                return Err(format!(
                    "(id {id}) has a \"status\" that is {}",
                    json_type(v)
                ));
            }
        };
        let retry_of = match o.get("retry_of") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                int_field(v)
                    .ok_or_else(|| format!("(id {id}) has a \"retry_of\" that is {}", kind(v)))?,
            ),
        };
        let test_file_name = match o.get("test_file_name") {
            None | Some(Value::Null) => String::new(),
            Some(v @ (Value::String(_) | Value::Number(_))) => {
                str_field(Some(v)).unwrap_or_default()
            }
            Some(v) => {
                return Err(format!(
                    "(id {id}) has a \"test_file_name\" that is {}",
                    json_type(v)
                ));
            }
        };
        let config = o
            .get("config")
            .and_then(Value::as_object)
            .map(|c| RowConfig {
                device_name: str_field(c.get("deviceName")),
                os_version: str_field(c.get("osVersion")),
            });
        Ok(ResultRow {
            id,
            test_file_name,
            status,
            retry_of,
            fail_reason: str_field(o.get("fail_reason")),
            duration_seconds: o.get("duration_seconds").and_then(num_field),
            simulator_name: str_field(o.get("simulator_name")),
            config,
            cancellation_reason: str_field(o.get("cancellation_reason")),
        })
    }
}

/// Most reasons an unreadable-rows error spells out.
const MAX_REASONS: usize = 3;

/// Parses the body of `GET /results/{id}`: `{statusCode?, results: [...]}`.
///
/// Errors are short reasons for a failed poll: an error envelope delivered with HTTP 200
/// (`statusCode` not 2xx), no `results` array, or elements of `results` that cannot be read
/// as rows — `N rows could not be read: row 2 has no "id"; …` — which fail the whole poll
/// rather than leave a verdict over the rest.
pub fn parse_results(body: &Value) -> Result<Vec<ResultRow>, String> {
    if let Some(code) = body.get("statusCode").and_then(int_field)
        && !(200..300).contains(&code)
    {
        let msg = body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        return Err(format!("server reported status {code}: {msg}"));
    }
    let rows = body
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| "response has no results array".to_string())?;
    let mut out = Vec::with_capacity(rows.len());
    let mut bad: Vec<String> = Vec::new();
    let mut unread = 0usize;
    for (i, v) in rows.iter().enumerate() {
        match ResultRow::from_value(v) {
            Ok(r) => out.push(r),
            Err(why) => {
                unread += 1;
                if bad.len() < MAX_REASONS {
                    bad.push(format!("row {} {why}", i + 1));
                }
            }
        }
    }
    if unread == 0 {
        return Ok(out);
    }
    let more = if unread > bad.len() { "; …" } else { "" };
    Err(format!(
        "{unread} {} could not be read: {}{more}",
        if unread == 1 { "row" } else { "rows" },
        bad.join("; ")
    ))
}

/// "null", "a string", "an object", …: the JSON type of a value, for error text.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The JSON type of a field that could not be read ("a string that is not an integer" for a
/// string or number that is not one).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string that is not an integer",
        Value::Number(_) => "a number that is not an integer",
        other => json_type(other),
    }
}

/// One test of `GET /uploads/status`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusTest {
    pub name: String,
    pub status: Status,
    pub duration_seconds: Option<f64>,
    pub fail_reason: Option<String>,
    pub created_at: Option<String>,
}

/// The body of `GET /uploads/status`. `raw` keeps the whole object for `--json`.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadStatus {
    pub upload_id: String,
    pub status: Status,
    pub name: Option<String>,
    pub created_at: Option<String>,
    pub app_binary_id: Option<String>,
    pub console_url: Option<String>,
    pub superseded_by: Option<String>,
    pub tests: Vec<StatusTest>,
    pub raw: Value,
}

impl UploadStatus {
    pub fn from_value(v: &Value) -> Result<UploadStatus, String> {
        let o = v
            .as_object()
            .ok_or_else(|| "upload status is not a JSON object".to_string())?;
        let upload_id = str_field(o.get("uploadId"))
            .ok_or_else(|| "upload status has no uploadId".to_string())?;
        let tests = o
            .get("tests")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_object)
                    .map(|t| StatusTest {
                        name: str_field(t.get("name")).unwrap_or_default(),
                        status: t
                            .get("status")
                            .and_then(Value::as_str)
                            .map(Status::parse)
                            .unwrap_or(Status::Other(String::new())),
                        duration_seconds: t.get("durationSeconds").and_then(num_field),
                        fail_reason: str_field(t.get("failReason")),
                        created_at: str_field(t.get("createdAt")),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(UploadStatus {
            upload_id,
            status: o
                .get("status")
                .and_then(Value::as_str)
                .map(Status::parse)
                .unwrap_or(Status::Other(String::new())),
            name: str_field(o.get("name")),
            created_at: str_field(o.get("createdAt")),
            app_binary_id: str_field(o.get("appBinaryId")),
            console_url: str_field(o.get("consoleUrl")),
            superseded_by: str_field(o.get("supersededBy")),
            tests,
            raw: v.clone(),
        })
    }
}

/// A string field; numbers are accepted and printed, empty strings count as absent.
pub fn str_field(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer, from a JSON number or a numeric string.
pub fn int_field(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A finite number, from a JSON number or a numeric string.
pub fn num_field(v: &Value) -> Option<f64> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

/// The answer to a submission (`submitFlowTest`, `/uploads/flow`): its `message` (when a
/// string), the first result's `test_upload_id`, and the `results` that read as rows (the
/// others are skipped: the wait's polls judge them). It is read element by element, each
/// element's value dropped once its row is taken, so a run of thousands of flows never exists
/// as one value tree. An answer that is not an object, or whose `results` is not a list,
/// creates no rows.
#[derive(Debug, Default, PartialEq)]
pub struct Created {
    pub message: Option<String>,
    pub upload_id: Option<String>,
    pub rows: Vec<ResultRow>,
}

impl<'de> serde::Deserialize<'de> for Created {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Created, D::Error> {
        d.deserialize_any(Lenient(AnswerVisitor))
    }
}

/// The `results` member of [`Created`]: rows and the first element's upload id.
#[derive(Default)]
struct CreatedRows {
    upload_id: Option<String>,
    rows: Vec<ResultRow>,
}

impl<'de> serde::Deserialize<'de> for CreatedRows {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CreatedRows, D::Error> {
        d.deserialize_any(Lenient(RowsVisitor))
    }
}

/// What a [`Lenient`] visitor reads from the one shape it wants.
trait Shaped<'de>: Sized {
    type Out: Default;
    fn map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Self::Out, A::Error>;
    fn seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Self::Out, A::Error>;
}

/// A visitor for which every other JSON shape is the empty answer (the rest of a map or a
/// list it does not want is skipped).
struct Lenient<V>(V);

impl<'de, V: Shaped<'de>> serde::de::Visitor<'de> for Lenient<V> {
    type Value = V::Out;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, a: A) -> Result<V::Out, A::Error> {
        self.0.map(a)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, a: A) -> Result<V::Out, A::Error> {
        self.0.seq(a)
    }
    fn visit_bool<E>(self, _: bool) -> Result<V::Out, E> {
        Ok(V::Out::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<V::Out, E> {
        Ok(V::Out::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<V::Out, E> {
        Ok(V::Out::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<V::Out, E> {
        Ok(V::Out::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<V::Out, E> {
        Ok(V::Out::default())
    }
    fn visit_unit<E>(self) -> Result<V::Out, E> {
        Ok(V::Out::default())
    }
}

/// Skips what is left of a list.
fn drain<'de, A: serde::de::SeqAccess<'de>>(mut a: A) -> Result<(), A::Error> {
    while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
    Ok(())
}

struct AnswerVisitor;

impl<'de> Shaped<'de> for AnswerVisitor {
    type Out = Created;
    fn map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Created, A::Error> {
        let mut out = Created::default();
        while let Some(key) = a.next_key::<String>()? {
            match key.as_str() {
                "message" => out.message = a.next_value::<Value>()?.as_str().map(str::to_string),
                "results" => {
                    let r: CreatedRows = a.next_value()?;
                    (out.upload_id, out.rows) = (r.upload_id, r.rows);
                }
                _ => {
                    a.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
    fn seq<A: serde::de::SeqAccess<'de>>(self, a: A) -> Result<Created, A::Error> {
        drain(a).map(|()| Created::default())
    }
}

struct RowsVisitor;

impl<'de> Shaped<'de> for RowsVisitor {
    type Out = CreatedRows;
    fn map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<CreatedRows, A::Error> {
        while a
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(CreatedRows::default())
    }
    fn seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<CreatedRows, A::Error> {
        let mut out = CreatedRows::default();
        let mut first = true;
        while let Some(v) = a.next_element::<Value>()? {
            if std::mem::take(&mut first) {
                out.upload_id = str_field(v.get("test_upload_id"));
            }
            if let Ok(row) = ResultRow::from_value(&v) {
                out.rows.push(row);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// [`Created`] as it was read from a whole value tree.
    fn created_from_tree(v: &Value) -> Created {
        let rows: Vec<ResultRow> = v
            .get("results")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| ResultRow::from_value(r).ok())
                    .collect()
            })
            .unwrap_or_default();
        Created {
            message: v.get("message").and_then(Value::as_str).map(str::to_string),
            // (Only a list's first element: `results` as a map creates no rows, so its
            // `"0"` member's id was never used.)
            upload_id: v
                .get("results")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|r| str_field(r.get("test_upload_id"))),
            rows,
        }
    }

    #[test]
    fn a_submission_answer_read_row_by_row_is_what_the_tree_gives() {
        let row = |id: i64| json!({"id": id, "status": "PENDING", "test_file_name": format!("./f{id}.yaml"), "test_upload_id": "up-1", "extra": {"deep": [1, {"x": null}]}});
        let answers = [
            json!({"message": "ok", "results": [row(1), row(2)]}),
            json!({"results": [{"id": "x"}, row(2)], "message": 5}),
            json!({"results": [{"test_upload_id": 7}, "junk", row(3)]}),
            json!({"results": {"0": row(1)}, "message": "no list"}),
            json!({"results": "none", "message": ["not", "text"]}),
            json!({"results": null}),
            json!({"results": []}),
            json!({}),
            json!([row(1)]),
            json!("text"),
            json!(null),
            json!(12.5),
            json!({"statusCode": 201, "nested": {"results": [row(9)]}, "results": [row(4)]}),
        ];
        for a in &answers {
            let text = a.to_string();
            let streamed: Created = serde_json::from_str(&text).unwrap();
            assert_eq!(streamed, created_from_tree(a), "{text}");
        }
        let first = serde_json::from_str::<Created>(&answers[0].to_string()).unwrap();
        assert_eq!(first.upload_id.as_deref(), Some("up-1"));
        assert_eq!(first.rows.len(), 2);
        // A later duplicate key wins, as in a value tree.
        let dup = r#"{"message": "a", "message": "b", "results": [], "results": [{"id": 1, "status": "PASSED"}]}"#;
        let tree: Value = serde_json::from_str(dup).unwrap();
        assert_eq!(
            serde_json::from_str::<Created>(dup).unwrap(),
            created_from_tree(&tree)
        );
        // Broken JSON is still an error.
        assert!(serde_json::from_str::<Created>(r#"{"results": [1,"#).is_err());
    }

    #[test]
    fn rows_tolerate_unknown_fields_statuses_and_types() {
        let body = json!({"results": [
            {"id": 1, "test_file_name": "./a.yaml", "status": "PASSED", "duration_seconds": 12,
             "new_field": {"x": 1}, "config": {"deviceName": "pixel-7"}},
            {"id": "2", "test_file_name": "./b.yaml", "status": "WARP_SPEED", "retry_of": 1,
             "duration_seconds": "nope", "config": "weird"},
        ]});
        let rows = parse_results(&body).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].status, Status::Passed);
        assert_eq!(rows[0].duration_seconds, Some(12.0));
        assert_eq!(
            rows[0].config.as_ref().unwrap().device_name.as_deref(),
            Some("pixel-7")
        );
        assert_eq!(rows[1].id, 2);
        assert_eq!(rows[1].status, Status::Other("WARP_SPEED".into()));
        assert!(rows[1].status.is_terminal());
        assert_eq!(rows[1].retry_of, Some(1));
        assert_eq!(rows[1].duration_seconds, None);
        assert_eq!(rows[1].config, None);
    }

    #[test]
    fn error_envelope_with_http_200_is_an_error() {
        let body = json!({"statusCode": 500, "message": "boom"});
        assert!(parse_results(&body).unwrap_err().contains("boom"));
        assert!(parse_results(&json!({})).is_err());
        assert_eq!(
            parse_results(&json!({"statusCode": 200, "results": []})),
            Ok(vec![])
        );
    }

    #[test]
    fn upload_status_reads_the_documented_fields() {
        let v = json!({"uploadId": "u1", "status": "FAILED", "name": "nightly",
            "supersededBy": "u2", "tests": [{"name": "./a.yaml", "status": "FAILED",
            "failReason": "boom", "durationSeconds": 3}]});
        let s = UploadStatus::from_value(&v).unwrap();
        assert_eq!(s.upload_id, "u1");
        assert_eq!(s.superseded_by.as_deref(), Some("u2"));
        assert_eq!(s.tests[0].fail_reason.as_deref(), Some("boom"));
        assert!(UploadStatus::from_value(&json!([])).is_err());
    }

    #[test]
    fn a_row_that_cannot_be_read_fails_the_whole_poll() {
        let ok = json!({"id": 1, "test_file_name": "./a.yaml", "status": "PASSED"});
        let err = |bad: Value| parse_results(&json!({"results": [ok.clone(), bad]})).unwrap_err();
        assert_eq!(
            err(json!({"id": null, "test_file_name": "./b.yaml", "status": "RUNNING"})),
            "1 row could not be read: row 2 has an \"id\" that is null"
        );
        assert_eq!(
            err(json!({"test_file_name": "./b.yaml", "status": "RUNNING"})),
            "1 row could not be read: row 2 has no \"id\""
        );
        assert_eq!(
            err(json!("garbage")),
            "1 row could not be read: row 2 is a string, not an object"
        );
        assert_eq!(
            err(json!({"id": {"x": 1}, "status": "PASSED"})),
            "1 row could not be read: row 2 has an \"id\" that is an object"
        );
        assert_eq!(
            err(json!({"id": 2, "status": 7})),
            "1 row could not be read: row 2 (id 2) has a \"status\" that is a number"
        );
        assert_eq!(
            err(json!({"id": 2})),
            "1 row could not be read: row 2 (id 2) has no \"status\""
        );
        assert_eq!(
            err(json!({"id": 2, "status": "PASSED", "retry_of": "one"})),
            "1 row could not be read: row 2 (id 2) has a \"retry_of\" that is a string that is \
             not an integer"
        );
        assert_eq!(
            err(json!({"id": 2, "status": "PASSED", "test_file_name": ["x"]})),
            "1 row could not be read: row 2 (id 2) has a \"test_file_name\" that is a list"
        );
        // Every row unreadable: said so, not "no results"; at most three reasons spelled out.
        let all_bad = json!({"results": [null, 1, [], {"id": true, "status": "PASSED"}]});
        assert_eq!(
            parse_results(&all_bad).unwrap_err(),
            "4 rows could not be read: row 1 is null, not an object; row 2 is a number, not an \
             object; row 3 is a list, not an object; …"
        );
        // A null retry_of and a numeric file name are fine.
        let fine = json!({"results": [{"id": 3, "status": "FAILED", "retry_of": null,
            "test_file_name": 12}]});
        assert_eq!(parse_results(&fine).unwrap()[0].test_file_name, "12");
    }
}
