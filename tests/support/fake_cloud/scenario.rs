//! The script a [`FakeCloud`](super::FakeCloud) plays: the results timeline, injected
//! faults, auth, storage and download switches; and the result-row builders.

use std::time::Duration;

use serde_json::{Value, json};

use super::compat::default_compat;
use super::iso_now;

/// The upload id every scenario uses unless told otherwise.
pub const DEFAULT_UPLOAD_ID: &str = "11111111-2222-3333-4444-555555555555";

// ---------------------------------------------------------------------------
// Scenario
// ---------------------------------------------------------------------------

/// How the `results` timeline moves from one snapshot to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Advance {
    /// Each normally answered `GET /results` (200 or 304) moves to the next snapshot.
    PerRequest,
    /// Snapshot index = elapsed time since start / this period (capped at the last).
    Every(Duration),
    /// Only [`FakeCloud::advance`] and [`FakeCloud::set_snapshot`] move it.
    Manual,
}

/// Misbehaviour injected instead of a normal answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// That status with a Nest-style JSON body `{"statusCode","message","error"}`.
    Status(u16),
    /// 429 with an optional `Retry-After` header (seconds).
    TooManyRequests { retry_after_secs: Option<u64> },
    /// Read the request, then close with a TCP RST (SO_LINGER 0) without answering.
    Reset,
    /// Wait this long, then answer normally (this answer counts for the timeline).
    Slow(Duration),
    /// Never answer; hold the connection until the client goes away (at most 60 s).
    Hang,
    /// 200 with an HTML body.
    InvalidJson,
    /// 200 `{"statusCode":200,"results":[]}`.
    EmptyResults,
    /// HTTP 200 whose body is an error envelope `{"statusCode":N,"message":...}`.
    ErrorEnvelope(u16),
    /// 304 with no body, even to an unconditional request.
    NotModified,
}

/// A scripted upload: what the fake serves and how it misbehaves.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub upload_id: String,
    /// Upload name, for `/uploads/status?name=`.
    pub name: Option<String>,
    /// Successive `results` arrays (rows).
    pub snapshots: Vec<Vec<Value>>,
    pub advance: Advance,
    /// `(n, fault)`: the n-th (0-based) `GET /results/...` request gets this fault.
    pub faults: Vec<(usize, Fault)>,
    /// Same for `GET /uploads/status`.
    pub status_faults: Vec<(usize, Fault)>,
    /// Send a strong ETag on results and answer a matching `If-None-Match` with 304.
    pub etag: bool,
    /// `Some(k)`: require `x-app-api-key: k`.
    pub api_key: Option<String>,
    /// `Some((token, org))`: require `authorization: Bearer <token>` and `x-dcd-org: <org>`.
    pub bearer: Option<(String, String)>,
    /// ISO time for `/uploads/status` `createdAt`.
    pub created_at: String,
    /// `(path_prefix, n, fault)`: the n-th (0-based) request whose path starts with the prefix
    /// gets this fault. Counted per prefix, over every method, before auth.
    pub endpoint_faults: Vec<(String, usize, Fault)>,
    /// `(path_prefix, fault)`: every streamed download under the prefix breaks this way.
    pub stream_faults: Vec<(String, StreamFault)>,
    /// The `data` of `GET /results/compatibility/data` (default: [`default_compat`]).
    pub compat: Value,
    /// Which Backblaze strategy the upload-URL answers offer.
    pub b2: B2Mode,
    /// `Some(404|405)`: `POST /uploads/submitFlowTest` answers that (the API predates it), so
    /// the CLI must fall back to the multipart `POST /uploads/flow`.
    pub submit_json_status: Option<u16>,
    /// The `message` of a submission answer.
    pub submit_message: String,
    /// How `POST /uploads/estimateMatrix` answers.
    pub estimate: Estimate,
    /// `false`: the bundle endpoints answer 501 (feature not deployed), forcing the fallbacks.
    pub bundles_deployed: bool,
    /// `true`: no artifacts for this upload (bundle manifest and inline download say 404).
    pub artifacts_missing: bool,
    /// `true`: no reports for this upload (every report endpoint says 404).
    pub reports_missing: bool,
    /// Size of the generated artifacts zip (bundle and inline), streamed in chunks.
    pub artifacts_bytes: u64,
    /// Size of the generated HTML report zip (bundle and inline).
    pub html_report_bytes: u64,
    /// What `GET /uploads/list` filters and pages (rows as [`listed`] builds them).
    pub uploads: Vec<Value>,
    /// `(sha, binary id)` pairs `checkForExistingUpload` already knows.
    pub known_binaries: Vec<(String, String)>,
    /// `Some(t)`: TUS requests must carry `authorization: Bearer <t>` (else any bearer).
    pub tus_bearer: Option<String>,
    /// A hostile storage host: each TUS `PATCH` is answered 204, but only its first byte is
    /// kept (`Upload-Offset` moves by one).
    pub tus_one_byte_per_patch: bool,
    /// A hostile Backblaze: native uploads and parts are answered 200, saying one byte was
    /// taken, and nothing is stored.
    pub b2_takes_one_byte: bool,
    /// Logins, orgs and the token endpoint; minted tokens are accepted by the API.
    pub accounts: Option<super::Accounts>,
    /// Members appended to the `GET /uploads/status` body: fields an API newer than the CLI
    /// sends (an object; `null` adds nothing).
    pub status_extra: Value,
    /// Members appended to every `tests[]` entry of that body (e.g. a `device`).
    pub status_test_extra: Value,
    /// `(name, bytes)` served as they are at `GET /files/<name>` (an Expo build's URL).
    pub files: Vec<(String, Vec<u8>)>,
}

/// The Backblaze strategy offered by `getBinaryUploadUrl` / `getFlowUploadUrl` (docs/http-api.md, "Flow zip upload and submission").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum B2Mode {
    /// No `b2` member: the CLI uploads through TUS only.
    None,
    /// `simple` with a B2-native URL and token: `POST` + `Authorization` + `X-Bz-File-Name`.
    Simple,
    /// `simple` with an empty token: an S3 pre-signed URL, `PUT`.
    S3,
    /// `large` with this many part URLs, then `POST /uploads/finishLargeFile`.
    Large { parts: usize },
}

/// How `POST /uploads/estimateMatrix` answers.
#[derive(Clone, Debug)]
pub enum Estimate {
    /// Computed from the submitted `deviceMatrix` and flows, `$0.25` per flow and device.
    Computed,
    /// This body, as is.
    Fixed(Value),
    /// This status (404/405: an API without the endpoint).
    Unsupported(u16),
}

/// A streamed download that breaks part-way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFault {
    /// Announce the full length, send this many bytes, then reset the connection.
    CutAfter(u64),
    /// Announce the full length, send this many bytes, then say nothing more (at most 60 s).
    StallAfter(u64),
    /// Announce the full length, send `after` bytes, then one more byte every `every` — always
    /// within any read timeout, never finishing (at most 60 s).
    Drip { after: u64, every: Duration },
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            upload_id: DEFAULT_UPLOAD_ID.to_string(),
            name: None,
            snapshots: Vec::new(),
            advance: Advance::PerRequest,
            faults: Vec::new(),
            status_faults: Vec::new(),
            etag: true,
            api_key: None,
            bearer: None,
            created_at: "2025-01-01T12:00:00.000Z".to_string(),
            endpoint_faults: Vec::new(),
            stream_faults: Vec::new(),
            compat: default_compat(),
            b2: B2Mode::None,
            submit_json_status: None,
            submit_message: "Flows uploaded successfully".to_string(),
            estimate: Estimate::Computed,
            bundles_deployed: true,
            artifacts_missing: false,
            reports_missing: false,
            artifacts_bytes: 48 * 1024,
            html_report_bytes: 24 * 1024,
            uploads: Vec::new(),
            known_binaries: Vec::new(),
            tus_bearer: None,
            tus_one_byte_per_patch: false,
            b2_takes_one_byte: false,
            accounts: None,
            status_extra: Value::Null,
            status_test_extra: Value::Null,
            files: Vec::new(),
        }
    }
}

impl Scenario {
    /// Defaults plus these snapshots, advancing per request.
    pub fn new(snapshots: Vec<Vec<Value>>) -> Self {
        Scenario {
            snapshots,
            ..Scenario::default()
        }
    }
    pub fn per_request(mut self) -> Self {
        self.advance = Advance::PerRequest;
        self
    }
    pub fn every(mut self, period: Duration) -> Self {
        self.advance = Advance::Every(period);
        self
    }
    pub fn manual(mut self) -> Self {
        self.advance = Advance::Manual;
        self
    }
    pub fn fault(mut self, n: usize, fault: Fault) -> Self {
        self.faults.push((n, fault));
        self
    }
    pub fn status_fault(mut self, n: usize, fault: Fault) -> Self {
        self.status_faults.push((n, fault));
        self
    }
    pub fn etag(mut self, on: bool) -> Self {
        self.etag = on;
        self
    }
    pub fn upload_id(mut self, id: &str) -> Self {
        self.upload_id = id.to_string();
        self
    }
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
    pub fn api_key(mut self, key: &str) -> Self {
        self.api_key = Some(key.to_string());
        self
    }
    pub fn bearer(mut self, token: &str, org: &str) -> Self {
        self.bearer = Some((token.to_string(), org.to_string()));
        self
    }
    pub fn created_at(mut self, iso: &str) -> Self {
        self.created_at = iso.to_string();
        self
    }
    /// The n-th (0-based) request whose path starts with `path_prefix` gets `fault`.
    pub fn endpoint_fault(mut self, path_prefix: &str, n: usize, fault: Fault) -> Self {
        self.endpoint_faults
            .push((path_prefix.to_string(), n, fault));
        self
    }
    /// Every streamed download under `path_prefix` breaks this way.
    pub fn stream_fault(mut self, path_prefix: &str, fault: StreamFault) -> Self {
        self.stream_faults.push((path_prefix.to_string(), fault));
        self
    }
    pub fn compat(mut self, data: Value) -> Self {
        self.compat = data;
        self
    }
    pub fn b2(mut self, mode: B2Mode) -> Self {
        self.b2 = mode;
        self
    }
    pub fn submit_json_status(mut self, status: u16) -> Self {
        self.submit_json_status = Some(status);
        self
    }
    pub fn estimate(mut self, e: Estimate) -> Self {
        self.estimate = e;
        self
    }
    /// `false`: bundle endpoints answer 501.
    pub fn bundles(mut self, deployed: bool) -> Self {
        self.bundles_deployed = deployed;
        self
    }
    pub fn artifacts_missing(mut self) -> Self {
        self.artifacts_missing = true;
        self
    }
    pub fn reports_missing(mut self) -> Self {
        self.reports_missing = true;
        self
    }
    pub fn artifacts_bytes(mut self, n: u64) -> Self {
        self.artifacts_bytes = n;
        self
    }
    pub fn html_report_bytes(mut self, n: u64) -> Self {
        self.html_report_bytes = n;
        self
    }
    pub fn uploads(mut self, rows: Vec<Value>) -> Self {
        self.uploads = rows;
        self
    }
    pub fn known_binary(mut self, sha: &str, id: &str) -> Self {
        self.known_binaries.push((sha.to_string(), id.to_string()));
        self
    }
    pub fn tus_bearer(mut self, token: &str) -> Self {
        self.tus_bearer = Some(token.to_string());
        self
    }
    /// Backblaze-native uploads and parts answer 200 with `contentLength: 1`, storing nothing.
    pub fn b2_takes_one_byte(mut self) -> Self {
        self.b2_takes_one_byte = true;
        self
    }
    /// Each TUS `PATCH` keeps only its first byte, and says so in `Upload-Offset`.
    pub fn tus_one_byte_per_patch(mut self) -> Self {
        self.tus_one_byte_per_patch = true;
        self
    }
    pub fn accounts(mut self, a: super::Accounts) -> Self {
        self.accounts = Some(a);
        self
    }
    /// Fields appended to the upload-status body (an object).
    pub fn status_extra(mut self, fields: Value) -> Self {
        self.status_extra = fields;
        self
    }
    /// Fields appended to every test of the upload-status body (an object).
    pub fn status_test_extra(mut self, fields: Value) -> Self {
        self.status_test_extra = fields;
        self
    }
    /// Serves `bytes` at `GET /files/<name>`.
    pub fn file(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.files.push((name.to_string(), bytes));
        self
    }
}

// ---------------------------------------------------------------------------
// Row builders
// ---------------------------------------------------------------------------

/// A summary-view result row.
pub fn row(id: i64, file: &str, status: &str) -> Value {
    json!({
        "id": id,
        "test_file_name": file,
        "status": status,
        "retry_of": null,
        "fail_reason": null,
        "duration_seconds": null,
        "simulator_name": "pixel-7-34",
        "config": {"deviceName": "pixel-7", "osVersion": "34"},
        "cancellation_reason": null,
    })
}

fn set(mut v: Value, key: &str, value: Value) -> Value {
    if let Some(obj) = v.as_object_mut() {
        obj.insert(key.to_string(), value);
    }
    v
}

/// Mark `v` as a retry of row `of`.
pub fn retry(v: Value, of: i64) -> Value {
    set(v, "retry_of", json!(of))
}

/// Status FAILED with this reason.
pub fn failed(v: Value, reason: &str) -> Value {
    set(
        set(v, "status", json!("FAILED")),
        "fail_reason",
        json!(reason),
    )
}

pub fn duration(v: Value, secs: f64) -> Value {
    set(v, "duration_seconds", json!(secs))
}

/// Status CANCELLED, `cancellation_reason: "superseded_by:<by>"`.
pub fn superseded(v: Value, by: &str) -> Value {
    set(
        set(v, "status", json!("CANCELLED")),
        "cancellation_reason",
        json!(format!("superseded_by:{by}")),
    )
}

/// A believable ~20 s run for `make demo`: four flows, one fails and its retry passes.
pub fn demo_scenario() -> Scenario {
    const LOGIN: &str = "./flows/login.yaml";
    const SEARCH: &str = "./flows/search.yaml";
    const CHECKOUT: &str = "./flows/checkout.yaml";
    const PROFILE: &str = "./flows/profile.yaml";
    let r = |id, file, status| row(id, file, status);
    let done = |id, file, secs| duration(row(id, file, "PASSED"), secs);
    let checkout_failed = || {
        duration(
            failed(row(103, CHECKOUT, "FAILED"), "Element not found: 'Pay now'"),
            31.4,
        )
    };
    let snapshots = vec![
        vec![
            r(101, LOGIN, "PENDING"),
            r(102, SEARCH, "PENDING"),
            r(103, CHECKOUT, "PENDING"),
            r(104, PROFILE, "PENDING"),
        ],
        vec![
            r(101, LOGIN, "QUEUED"),
            r(102, SEARCH, "QUEUED"),
            r(103, CHECKOUT, "PENDING"),
            r(104, PROFILE, "PENDING"),
        ],
        vec![
            r(101, LOGIN, "RUNNING"),
            r(102, SEARCH, "RUNNING"),
            r(103, CHECKOUT, "QUEUED"),
            r(104, PROFILE, "QUEUED"),
        ],
        vec![
            done(101, LOGIN, 14.2),
            r(102, SEARCH, "RUNNING"),
            r(103, CHECKOUT, "RUNNING"),
            r(104, PROFILE, "QUEUED"),
        ],
        vec![
            done(101, LOGIN, 14.2),
            done(102, SEARCH, 21.7),
            r(103, CHECKOUT, "RUNNING"),
            r(104, PROFILE, "RUNNING"),
        ],
        vec![
            done(101, LOGIN, 14.2),
            done(102, SEARCH, 21.7),
            checkout_failed(),
            r(104, PROFILE, "RUNNING"),
            retry(r(105, CHECKOUT, "PENDING"), 103),
        ],
        vec![
            done(101, LOGIN, 14.2),
            done(102, SEARCH, 21.7),
            checkout_failed(),
            done(104, PROFILE, 18.9),
            retry(r(105, CHECKOUT, "QUEUED"), 103),
        ],
        vec![
            done(101, LOGIN, 14.2),
            done(102, SEARCH, 21.7),
            checkout_failed(),
            done(104, PROFILE, 18.9),
            retry(r(105, CHECKOUT, "RUNNING"), 103),
        ],
        vec![
            done(101, LOGIN, 14.2),
            done(102, SEARCH, 21.7),
            checkout_failed(),
            done(104, PROFILE, 18.9),
            retry(done(105, CHECKOUT, 27.3), 103),
        ],
    ];
    Scenario::new(snapshots)
        .every(Duration::from_millis(2500))
        .name("demo-run")
        .created_at(&iso_now())
}
