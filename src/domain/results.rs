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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
