//! Typed views of the API's JSON, parsed leniently.
//!
//! The server adds fields and statuses over time; a CLI that refuses a response because of a
//! field it does not know (or a number sent as a string) stops working on the day the server
//! changes. So rows are read field by field from a `serde_json::Value`: unknown fields are
//! ignored, unknown status strings are kept as [`Status::Other`], and a field of the wrong type
//! is treated as absent.

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

    /// Reads a row leniently. `None` only when the value is not an object or has no usable id.
    pub fn from_value(v: &Value) -> Option<ResultRow> {
        let o = v.as_object()?;
        let id = int_field(o.get("id")?)?;
        let config = o
            .get("config")
            .and_then(Value::as_object)
            .map(|c| RowConfig {
                device_name: str_field(c.get("deviceName")),
                os_version: str_field(c.get("osVersion")),
            });
        Some(ResultRow {
            id,
            test_file_name: str_field(o.get("test_file_name")).unwrap_or_default(),
            status: o
                .get("status")
                .and_then(Value::as_str)
                .map(Status::parse)
                .unwrap_or(Status::Other(String::new())),
            retry_of: o.get("retry_of").and_then(int_field),
            fail_reason: str_field(o.get("fail_reason")),
            duration_seconds: o.get("duration_seconds").and_then(num_field),
            simulator_name: str_field(o.get("simulator_name")),
            config,
            cancellation_reason: str_field(o.get("cancellation_reason")),
        })
    }
}

/// Parses the body of `GET /results/{id}`: `{statusCode?, results: [...]}`.
///
/// Errors are short reasons for a failed poll: an error envelope delivered with HTTP 200
/// (`statusCode` not 2xx), or no `results` array. Rows that cannot be read are skipped.
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
    Ok(rows.iter().filter_map(ResultRow::from_value).collect())
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
            {"no_id": true},
            "garbage"
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
}
