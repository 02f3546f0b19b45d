//! A loopback fake of the devicecloud.dev HTTP API (spec D.0–D.7, E.3, E.10, H.4) plus the
//! storage services the CLI talks to next to it (Supabase TUS, Backblaze B2, the bundle CDN).
//!
//! The end-to-end tests and `make demo` need a server that plays a scripted run
//! (`PENDING` → `RUNNING` → `PASSED`, retries, superseded runs), answers with ETags and
//! 304s the way the real API does, accepts uploads and submissions the way `dcd cloud` sends
//! them, serves artifacts and reports, and misbehaves on cue (5xx, 429, resets, hangs, bad
//! JSON, errors wrapped in a 200, bodies cut or stalled mid-stream). It is std-only on
//! purpose: a `TcpListener`, a thread per connection, hand-written HTTP/1.1 with keep-alive
//! (the client pools connections), so tests need no async runtime and start in microseconds.
//!
//! API endpoints (auth-checked when the scenario sets a key or a bearer token):
//! `GET /results/{uploadId}`, `GET /uploads/status?uploadId=|name=`,
//! `GET /results/compatibility/data`, `POST /uploads/checkForExistingUpload`,
//! `POST /uploads/getBinaryUploadUrl`, `POST /uploads/getFlowUploadUrl`,
//! `POST /uploads/finaliseUpload`, `POST /uploads/finishLargeFile`,
//! `POST /uploads/submitFlowTest` (JSON), `POST /uploads/flow` (multipart),
//! `POST /uploads/estimateMatrix`, `GET /uploads/list`,
//! `GET /results/{id}/artifacts-bundle`, `POST /results/{id}/download`,
//! `GET /results/{id}/report`, `GET /results/{id}/report-bundle`,
//! `GET /results/{id}/html-report`, `GET /allure/{id}/download`.
//!
//! Served on the same host, with their own rules: the TUS resumable-upload endpoint
//! (`/storage/v1/upload/resumable`, point `DCD_SUPABASE_URL` at [`FakeCloud::url`]), B2-style
//! upload URLs (`/b2/...`), and bundle URLs (`POST /bundle/{token}`, which refuse auth headers).
//! Anything else is a Nest-style 404. Every request is recorded, body included, with the
//! status we answered. Downloads are generated on the fly in chunks, so a 1 GiB artifacts zip
//! costs no memory.

#![allow(dead_code)]

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hasher;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

// Each fake also compiles alone (its own tests, the examples), so both load this file.
#[allow(clippy::duplicate_mod)]
#[path = "iso.rs"]
mod iso;
pub use iso::iso_now;

/// The upload id every scenario uses unless told otherwise.
pub const DEFAULT_UPLOAD_ID: &str = "11111111-2222-3333-4444-555555555555";

/// Longest a `Fault::Hang` holds a connection, so its thread always ends.
const HANG_CAP: Duration = Duration::from_secs(60);
/// How often idle connection threads look at the shutdown flag.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// Once the first byte of a request is in, the rest must arrive within this.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 128;
const MAX_BODY: usize = 32 * 1024 * 1024;

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
}

/// The Backblaze strategy offered by `getBinaryUploadUrl` / `getFlowUploadUrl` (spec D.1).
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
}

/// The compatibility data of spec D.2 the fake serves unless told otherwise.
pub fn default_compat() -> Value {
    json!({
        "android": {
            "pixel-7": ["33", "34", "35"],
            "pixel-6": ["34"],
            "pixel-8": ["34", "35"],
            "generic-tablet": ["34"]
        },
        "androidPlay": {"pixel-7": ["34"]},
        "ios": {
            "iphone-14": ["17", "18"],
            "iphone-16": ["18", "26"],
            "ipad-pro-6th-gen": ["18"]
        },
        "maestro": {
            "defaultVersion": "1.39.13",
            "latestVersion": "2.0.2",
            "supportedVersions": ["1.39.13", "1.40.3", "1.41.0", "2.0.0", "2.0.2"]
        },
        "notices": [],
        "encryption": {"defaultOn": false}
    })
}

/// One row of `GET /uploads/list`.
pub fn listed(id: &str, name: Option<&str>, created_at: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "created_at": created_at,
        "consoleUrl": format!("https://console.devicecloud.dev/results?upload={id}"),
    })
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

// ---------------------------------------------------------------------------
// Recorded requests
// ---------------------------------------------------------------------------

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path as sent (not percent-decoded), without the query.
    pub path: String,
    /// Percent-decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Arrival time since the fake started.
    pub at: Duration,
    /// What we answered; 0 = no answer (reset, hang).
    pub status: u16,
    /// Which TCP connection carried it (0, 1, ... in accept order): shows keep-alive reuse.
    pub conn: usize,
}

impl Recorded {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// First query parameter with this name.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

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

/// One TUS upload (spec H.4 step 9) as the fake holds it.
#[derive(Clone, Debug)]
pub struct TusUpload {
    pub id: String,
    pub length: u64,
    pub offset: u64,
    /// Decoded `Upload-Metadata` pairs, in order.
    pub metadata: Vec<(String, String)>,
    /// Headers of the creation request (lower-case names).
    pub headers: Vec<(String, String)>,
    pub data: Vec<u8>,
}

impl TusUpload {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A B2 large file being assembled.
#[derive(Clone, Debug)]
struct LargeFile {
    name: String,
    parts: BTreeMap<u32, Vec<u8>>,
}

/// What an upload URL was handed out for.
#[derive(Clone, Debug)]
struct UploadSlot {
    temp_path: String,
    final_path: String,
    platform: Option<String>,
}

struct State {
    requests: Vec<Recorded>,
    /// Snapshot counter for PerRequest/Manual (uncapped for PerRequest; capped on read).
    index: usize,
    /// Every mode: an index pinned by advance()/set_snapshot().
    pinned: Option<usize>,
    results_seen: usize,
    status_seen: usize,
    /// Requests seen per endpoint-fault prefix.
    endpoint_seen: HashMap<String, usize>,
    /// The timeline a submission derived when the scenario has no snapshots.
    derived: Option<Vec<Vec<Value>>>,
    /// When `Every` timelines start: the last submission, else the fake's start.
    timeline_start: Option<Instant>,
    submitted_name: Option<String>,
    submissions: Vec<Submission>,
    tus: Vec<TusUpload>,
    /// Completed TUS uploads by objectName.
    objects: HashMap<String, Vec<u8>>,
    /// B2 uploads by file name.
    b2_objects: HashMap<String, Vec<u8>>,
    b2_large: HashMap<String, LargeFile>,
    slots: HashMap<String, UploadSlot>,
    /// `(sha, binary id)`: the scenario's plus every finalised upload.
    binaries: Vec<(String, String)>,
    finalised: Vec<Value>,
    next_id: u64,
}

struct Shared {
    scenario: Scenario,
    /// `http://127.0.0.1:PORT`, for URLs the fake hands out (TUS, B2, bundles).
    base: String,
    start: Instant,
    stop: AtomicBool,
    next_conn: AtomicUsize,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not wedge the fake for everyone else.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The timeline: the scenario's snapshots, else the one a submission derived.
    fn snapshots<'a>(&'a self, st: &'a State) -> &'a [Vec<Value>] {
        if self.scenario.snapshots.is_empty() {
            st.derived.as_deref().unwrap_or_default()
        } else {
            &self.scenario.snapshots
        }
    }

    fn last_index(&self, st: &State) -> usize {
        self.snapshots(st).len().saturating_sub(1)
    }

    fn current_index(&self, st: &State) -> usize {
        let last = self.last_index(st);
        match &self.scenario.advance {
            Advance::PerRequest | Advance::Manual => st.index.min(last),
            Advance::Every(period) => {
                if let Some(p) = st.pinned {
                    return p.min(last);
                }
                let nanos = period.as_nanos();
                if nanos == 0 {
                    return last;
                }
                let start = st.timeline_start.unwrap_or(self.start);
                let k = start.elapsed().as_nanos() / nanos;
                usize::try_from(k).unwrap_or(usize::MAX).min(last)
            }
        }
    }

    fn snapshot(&self, st: &State, index: usize) -> Vec<Value> {
        self.snapshots(st).get(index).cloned().unwrap_or_default()
    }

    fn set_status(&self, slot: usize, status: u16) {
        if let Some(r) = self.lock().requests.get_mut(slot) {
            r.status = status;
        }
    }
}

/// The running fake. Dropping it stops accepting connections.
pub struct FakeCloud {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeCloud {
    /// Start on an ephemeral loopback port. Panics if it cannot bind (tests only).
    pub fn start(scenario: Scenario) -> FakeCloud {
        FakeCloud::start_on(scenario, 0).expect("fake cloud: bind 127.0.0.1:0")
    }

    /// Start on a given loopback port (0 = ephemeral).
    pub fn start_on(scenario: Scenario, port: u16) -> io::Result<FakeCloud> {
        FakeCloud::start_at(scenario, SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// Start on a given address (`[::1]:0` for the IPv6 loopback). `url()` then carries
    /// the brackets.
    pub fn start_at(scenario: Scenario, at: SocketAddr) -> io::Result<FakeCloud> {
        let listener = TcpListener::bind(at)?;
        let addr = listener.local_addr()?;
        let binaries = scenario.known_binaries.clone();
        let shared = Arc::new(Shared {
            scenario,
            base: format!("http://{addr}"),
            start: Instant::now(),
            stop: AtomicBool::new(false),
            next_conn: AtomicUsize::new(0),
            state: Mutex::new(State {
                requests: Vec::new(),
                index: 0,
                pinned: None,
                results_seen: 0,
                status_seen: 0,
                endpoint_seen: HashMap::new(),
                derived: None,
                timeline_start: None,
                submitted_name: None,
                submissions: Vec::new(),
                tus: Vec::new(),
                objects: HashMap::new(),
                b2_objects: HashMap::new(),
                b2_large: HashMap::new(),
                slots: HashMap::new(),
                binaries,
                finalised: Vec::new(),
                next_id: 1,
            }),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("fake-cloud-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(FakeCloud {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`
    /// The instant every recorded `at` is measured from.
    pub fn origin(&self) -> Instant {
        self.shared.start
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn upload_id(&self) -> &str {
        &self.shared.scenario.upload_id
    }

    /// Every request, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Requests whose path (no query) starts with `path_prefix`.
    pub fn count(&self, path_prefix: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .count()
    }

    /// Only `GET /results/...`.
    pub fn results_requests(&self) -> Vec<Recorded> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method == "GET" && r.path.starts_with("/results/"))
            .cloned()
            .collect()
    }

    /// Move to the next snapshot (capped at the last). In `Every` mode this pins the
    /// timeline, which then stops following the clock.
    pub fn advance(&self) {
        let mut st = self.shared.lock();
        let next = self.shared.current_index(&st) + 1;
        let last = self.shared.last_index(&st);
        self.place(&mut st, next.min(last));
    }

    /// Jump to snapshot `index` (capped). In `Every` mode this pins the timeline.
    pub fn set_snapshot(&self, index: usize) {
        let mut st = self.shared.lock();
        let last = self.shared.last_index(&st);
        self.place(&mut st, index.min(last));
    }

    /// Every accepted submission (`submitFlowTest` or the multipart fallback), in order.
    pub fn submissions(&self) -> Vec<Submission> {
        self.shared.lock().submissions.clone()
    }

    /// A completed TUS upload, by its `objectName` metadata.
    pub fn stored_object(&self, object_name: &str) -> Option<Vec<u8>> {
        self.shared.lock().objects.get(object_name).cloned()
    }

    /// Every TUS upload created, complete or not, in creation order.
    pub fn tus_uploads(&self) -> Vec<TusUpload> {
        self.shared.lock().tus.clone()
    }

    /// A file stored through the B2 endpoints (simple, S3 or an assembled large file).
    pub fn b2_object(&self, file_name: &str) -> Option<Vec<u8>> {
        self.shared.lock().b2_objects.get(file_name).cloned()
    }

    /// The bodies of every accepted `POST /uploads/finaliseUpload`.
    pub fn finalised(&self) -> Vec<Value> {
        self.shared.lock().finalised.clone()
    }

    /// The exact bytes a download endpoint serves for this scenario (for comparisons; it
    /// materialises the whole body, so keep the sizes small).
    pub fn expected(&self, d: &Download) -> Vec<u8> {
        match download_body(&self.shared.scenario, d) {
            Body::Bytes(b) => b,
            Body::Generated(p) => p.to_vec(),
        }
    }

    /// The snapshot the next normal `GET /results` would serve.
    pub fn snapshot_index(&self) -> usize {
        let st = self.shared.lock();
        self.shared.current_index(&st)
    }

    fn place(&self, st: &mut State, index: usize) {
        match self.shared.scenario.advance {
            Advance::Every(_) => st.pinned = Some(index),
            Advance::PerRequest | Advance::Manual => st.index = index,
        }
    }
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Unblock accept(); only wait for the thread if the poke got through.
        let poked = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(handle) = self.accept.take()
            && poked
        {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // EMFILE and friends: back off a little instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let conn_shared = Arc::clone(&shared);
        let conn = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        // Detached: a connection thread never holds up the test process.
        let _ = std::thread::Builder::new()
            .name("fake-cloud-conn".into())
            .spawn(move || serve_connection(stream, conn_shared, conn));
    }
}

// ---------------------------------------------------------------------------
// HTTP/1.1 plumbing
// ---------------------------------------------------------------------------

struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

enum ReadError {
    /// Clean end of stream between requests, or a socket error: just go away.
    Gone,
    /// Not HTTP we understand: answer 400 and close.
    Malformed(&'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Gone
    }
}

struct Response {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(status: u16, body: &Value) -> Response {
        Response {
            status,
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }
    fn nest(status: u16, message: &str) -> Response {
        Response::json(
            status,
            &json!({"statusCode": status, "message": message, "error": reason(status)}),
        )
    }
    fn header(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }
}

/// What the handler decided to do with a request.
enum Action {
    Answer(Response),
    /// A download generated on the fly, possibly broken part-way.
    Stream {
        status: u16,
        content_type: &'static str,
        payload: Payload,
        fault: Option<StreamFault>,
    },
    Reset,
    Hang,
}

fn serve_connection(stream: TcpStream, shared: Arc<Shared>, conn: usize) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        if !wait_for_request(&mut reader, &shared) {
            return;
        }
        let _ = reader
            .get_ref()
            .set_read_timeout(Some(REQUEST_READ_TIMEOUT));
        let req = match read_request(&mut reader, &mut writer) {
            Ok(req) => req,
            Err(ReadError::Gone) => return,
            Err(ReadError::Malformed(why)) => {
                let resp = Response::nest(400, why);
                let _ = write_response(&mut writer, &resp, true);
                lingering_close(&writer, &mut reader);
                return;
            }
        };
        let slot = {
            let mut st = shared.lock();
            st.requests.push(Recorded {
                method: req.method.clone(),
                path: req.path.clone(),
                query: req.query.clone(),
                headers: req.headers.clone(),
                body: req.body.clone(),
                at: shared.start.elapsed(),
                status: 0,
                conn,
            });
            st.requests.len() - 1
        };
        match handle(&shared, &req, slot) {
            Action::Answer(resp) => {
                if write_response(&mut writer, &resp, req.close).is_err() {
                    return;
                }
                if req.close {
                    lingering_close(&writer, &mut reader);
                    return;
                }
            }
            Action::Stream {
                status,
                content_type,
                payload,
                fault,
            } => {
                let head = response_head(status, content_type, Some(payload.len()), &[], req.close);
                let sent = payload.len().min(match fault {
                    Some(StreamFault::CutAfter(n) | StreamFault::StallAfter(n)) => n,
                    None => u64::MAX,
                });
                let ok = writer
                    .write_all(&head)
                    .and_then(|_| payload.write_to(&mut writer, sent))
                    .and_then(|_| writer.flush());
                if ok.is_err() {
                    return;
                }
                match fault {
                    Some(StreamFault::CutAfter(_)) => {
                        reset(&writer);
                        return;
                    }
                    Some(StreamFault::StallAfter(_)) => {
                        hang(&mut reader, &shared);
                        return;
                    }
                    None if req.close => {
                        lingering_close(&writer, &mut reader);
                        return;
                    }
                    None => {}
                }
            }
            Action::Reset => {
                reset(&writer);
                return;
            }
            Action::Hang => {
                hang(&mut reader, &shared);
                return;
            }
        }
    }
}

/// Wait (checking the shutdown flag) until the next request's first byte is here.
/// False when the peer closed, the socket failed, or the fake is shutting down.
fn wait_for_request(reader: &mut BufReader<TcpStream>, shared: &Shared) -> bool {
    if !reader.buffer().is_empty() {
        return true;
    }
    let _ = reader.get_ref().set_read_timeout(Some(IDLE_POLL));
    let mut probe = [0u8; 1];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        match reader.get_ref().peek(&mut probe) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One line ending in LF (CR stripped), at most `MAX_LINE` bytes. `None` at EOF before
/// any byte.
fn read_line(reader: &mut impl BufRead) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(ReadError::Gone)
            };
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if line.len() > MAX_LINE {
            return Err(ReadError::Malformed("Header line too long"));
        }
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Result<Request, ReadError> {
    // Request line; tolerate stray blank lines between requests (RFC 9112 §2.2).
    let line = loop {
        match read_line(reader)? {
            None => return Err(ReadError::Gone),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let line = String::from_utf8(line).map_err(|_| ReadError::Malformed("Bad request line"))?;
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("Bad request line"));
    };
    if !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ReadError::Malformed("Bad method"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Malformed("Unsupported HTTP version")),
    };

    let mut headers = Vec::new();
    loop {
        let Some(h) = read_line(reader)? else {
            return Err(ReadError::Gone);
        };
        if h.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Malformed("Too many headers"));
        }
        let h = String::from_utf8_lossy(&h).into_owned();
        let Some((name, value)) = h.split_once(':') else {
            return Err(ReadError::Malformed("Bad header line"));
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ReadError::Malformed("Bad header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let has_token = |n: &str, token: &str| {
        headers
            .iter()
            .filter(|(k, _)| k == n)
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let close =
        has_token("connection", "close") || (http10 && !has_token("connection", "keep-alive"));

    if has_token("expect", "100-continue") && !http10 {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if has_token("transfer-encoding", "chunked") {
        read_chunked(reader)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Malformed("Bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(ReadError::Malformed("Body too large"));
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    } else {
        Vec::new()
    };

    // Origin-form, or absolute-form when the client thinks we are a proxy.
    let target = match target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        Some(rest) => match rest.find('/') {
            Some(i) => &rest[i..],
            None => "/",
        },
        None => target,
    };
    if !target.starts_with('/') {
        return Err(ReadError::Malformed("Bad request target"));
    }
    let target = target.split('#').next().unwrap_or(target);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, parse_query(q)),
        None => (target, Vec::new()),
    };
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query,
        headers,
        body,
        close,
    })
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let Some(line) = read_line(reader)? else {
            return Err(ReadError::Gone);
        };
        let line = String::from_utf8_lossy(&line);
        let size = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size, 16).map_err(|_| ReadError::Malformed("Bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                match read_line(reader)? {
                    None => return Err(ReadError::Gone),
                    Some(l) if l.is_empty() => return Ok(body),
                    Some(_) => {}
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::Malformed("Body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        match read_line(reader)? {
            Some(l) if l.is_empty() => {}
            Some(_) => return Err(ReadError::Malformed("Bad chunk terminator")),
            None => return Err(ReadError::Gone),
        }
    }
}

/// `a=1&b=x%20y+z` → pairs, percent- and plus-decoded.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Decode `%XX` (and `+` as space when `plus` is set); bad escapes stay as they are.
pub fn percent_decode(s: &str, plus: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Status line and headers; `len` is announced as `content-length` unless the status never
/// carries a body.
fn response_head(
    status: u16,
    content_type: &str,
    len: Option<u64>,
    headers: &[(&'static str, String)],
    close: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", status, reason(status));
    let _ = write!(out, "content-type: {content_type}\r\n");
    if let (false, Some(len)) = (bodyless(status), len) {
        let _ = write!(out, "content-length: {len}\r\n");
    }
    for (k, v) in headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    out.extend_from_slice(if close {
        b"connection: close\r\n".as_slice()
    } else {
        b"connection: keep-alive\r\n".as_slice()
    });
    out.extend_from_slice(b"\r\n");
    out
}

/// 304 (and 1xx/204) never carry a body; don't announce one.
fn bodyless(status: u16) -> bool {
    status == 304 || status == 204 || status < 200
}

fn write_response(w: &mut TcpStream, resp: &Response, close: bool) -> io::Result<()> {
    let mut out = response_head(
        resp.status,
        resp.content_type,
        Some(resp.body.len() as u64),
        &resp.headers,
        close,
    );
    if !bodyless(resp.status) {
        out.extend_from_slice(&resp.body);
    }
    w.write_all(&out)?;
    w.flush()
}

/// Close politely: FIN our side, then drain what the peer still sends so the kernel
/// doesn't turn unread bytes into an RST that eats our last response.
fn lingering_close(w: &TcpStream, reader: &mut BufReader<TcpStream>) {
    let _ = w.shutdown(Shutdown::Write);
    let _ = reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline {
        match reader.get_mut().read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Abort the connection: SO_LINGER {on, 0} then close sends an RST.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: valid fd owned by `stream` for the duration of the call; the option value
    // points at a live `linger` of the size we pass.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    // Both handles (reader clone and writer) share the socket; the RST goes out when the
    // last one closes, which is when serve_connection returns.
}

/// Hold the connection without answering until the peer leaves, we shut down, or the cap.
fn hang(reader: &mut BufReader<TcpStream>, shared: &Shared) {
    let until = Instant::now() + HANG_CAP;
    let _ = reader.get_ref().set_read_timeout(Some(IDLE_POLL));
    let mut sink = [0u8; 4096];
    while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
        match reader.get_mut().read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

enum Route {
    Results(String),
    Status,
    Compat,
    CheckExisting,
    UploadUrl(&'static str),
    Finalise,
    FinishLargeFile,
    SubmitJson,
    SubmitMultipart,
    Estimate,
    List,
    ArtifactsBundle(String),
    ArtifactsInline(String),
    Junit(String),
    HtmlBundle(String),
    HtmlInline(String),
    Allure(String),
    // Not the API: no API auth, rules of their own.
    BundlePost(String),
    TusCreate,
    TusUpload(String),
    B2Simple,
    B2S3(String),
    B2Part(String),
    Other,
}

impl Route {
    /// Served by the API (checked against the scenario's key or bearer token).
    fn is_api(&self) -> bool {
        !matches!(
            self,
            Route::BundlePost(_)
                | Route::TusCreate
                | Route::TusUpload(_)
                | Route::B2Simple
                | Route::B2S3(_)
                | Route::B2Part(_)
        )
    }
}

const TUS_PATH: &str = "/storage/v1/upload/resumable";

fn route(req: &Request) -> Route {
    let path = req.path.trim_end_matches('/');
    let m = req.method.as_str();
    // `/results/{id}/<what>` and `/allure/{id}/download`.
    let sub = |prefix: &str, what: &str| -> Option<String> {
        let rest = path.strip_prefix(prefix)?;
        let (id, tail) = rest.split_once('/')?;
        (tail == what && !id.is_empty()).then(|| percent_decode(id, false))
    };
    match (m, path) {
        ("GET", "/uploads/status") => return Route::Status,
        ("GET", "/results/compatibility/data") => return Route::Compat,
        ("GET", "/uploads/list") => return Route::List,
        ("POST", "/uploads/checkForExistingUpload") => return Route::CheckExisting,
        ("POST", "/uploads/getBinaryUploadUrl") => return Route::UploadUrl("binary"),
        ("POST", "/uploads/getFlowUploadUrl") => return Route::UploadUrl("flow"),
        ("POST", "/uploads/finaliseUpload") => return Route::Finalise,
        ("POST", "/uploads/finishLargeFile") => return Route::FinishLargeFile,
        ("POST", "/uploads/submitFlowTest") => return Route::SubmitJson,
        ("POST", "/uploads/flow") => return Route::SubmitMultipart,
        ("POST", "/uploads/estimateMatrix") => return Route::Estimate,
        ("POST", TUS_PATH) => return Route::TusCreate,
        ("POST", "/b2/upload/simple") => return Route::B2Simple,
        _ => {}
    }
    if let Some(id) = path
        .strip_prefix(TUS_PATH)
        .and_then(|r| r.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/') && matches!(m, "HEAD" | "PATCH"))
    {
        return Route::TusUpload(id.to_string());
    }
    if m == "PUT"
        && let Some(name) = path.strip_prefix("/b2/s3/").filter(|n| !n.is_empty())
    {
        return Route::B2S3(percent_decode(name, false));
    }
    if m == "POST" {
        if let Some(file_id) = path
            .strip_prefix("/b2/upload/part/")
            .filter(|f| !f.is_empty() && !f.contains('/'))
        {
            return Route::B2Part(percent_decode(file_id, false));
        }
        if let Some(token) = path
            .strip_prefix("/bundle/")
            .filter(|t| !t.is_empty() && !t.contains('/'))
        {
            return Route::BundlePost(token.to_string());
        }
        if let Some(id) = sub("/results/", "download") {
            return Route::ArtifactsInline(id);
        }
    }
    if m == "GET" {
        type Make = fn(String) -> Route;
        let subroutes: [(&str, &str, Make); 5] = [
            ("/results/", "artifacts-bundle", Route::ArtifactsBundle),
            ("/results/", "report", Route::Junit),
            ("/results/", "report-bundle", Route::HtmlBundle),
            ("/results/", "html-report", Route::HtmlInline),
            ("/allure/", "download", Route::Allure),
        ];
        for (prefix, what, make) in subroutes {
            if let Some(id) = sub(prefix, what) {
                return make(id);
            }
        }
        if let Some(id) = path.strip_prefix("/results/")
            && !id.is_empty()
            && !id.contains('/')
        {
            return Route::Results(percent_decode(id, false));
        }
    }
    Route::Other
}

fn handle(shared: &Shared, req: &Request, slot: usize) -> Action {
    let route = route(req);
    // Faults sit "in front of" the app (a proxy or load balancer), so they come first.
    let fault = {
        let mut st = shared.lock();
        let routed = match &route {
            Route::Results(_) => {
                let n = st.results_seen;
                st.results_seen += 1;
                find_fault(&shared.scenario.faults, n)
            }
            Route::Status => {
                let n = st.status_seen;
                st.status_seen += 1;
                find_fault(&shared.scenario.status_faults, n)
            }
            _ => None,
        };
        let mut prefixes: Vec<&str> = shared
            .scenario
            .endpoint_faults
            .iter()
            .map(|(p, _, _)| p.as_str())
            .filter(|p| req.path.starts_with(p))
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        let mut by_endpoint = None;
        for p in prefixes {
            let seen = st.endpoint_seen.entry(p.to_string()).or_insert(0);
            let n = *seen;
            *seen += 1;
            if by_endpoint.is_none() {
                by_endpoint = shared
                    .scenario
                    .endpoint_faults
                    .iter()
                    .find(|(q, i, _)| q == p && *i == n)
                    .map(|(_, _, f)| f.clone());
            }
        }
        routed.or(by_endpoint)
    };
    if let Some(fault) = fault {
        match fault {
            Fault::Slow(d) => std::thread::sleep(d),
            Fault::Reset => return Action::Reset,
            Fault::Hang => return Action::Hang,
            other => {
                let resp = fault_response(&other);
                shared.set_status(slot, resp.status);
                return Action::Answer(resp);
            }
        }
    }
    let denied = if route.is_api() {
        check_auth(&shared.scenario, req)
    } else {
        None
    };
    let action = match denied {
        Some(denied) => Action::Answer(denied),
        None => dispatch(shared, req, route),
    };
    match &action {
        Action::Answer(resp) => shared.set_status(slot, resp.status),
        Action::Stream { status, .. } => shared.set_status(slot, *status),
        Action::Reset | Action::Hang => {}
    }
    action
}

fn dispatch(shared: &Shared, req: &Request, route: Route) -> Action {
    let answer = Action::Answer;
    match route {
        Route::Results(id) => answer(results(shared, req, &id)),
        Route::Status => answer(upload_status(shared, req)),
        Route::Compat => answer(Response::json(
            200,
            &json!({"statusCode": 200, "data": shared.scenario.compat}),
        )),
        Route::CheckExisting => answer(check_existing(shared, req)),
        Route::UploadUrl(kind) => answer(upload_url(shared, req, kind)),
        Route::Finalise => answer(finalise(shared, req)),
        Route::FinishLargeFile => answer(finish_large_file(shared, req)),
        Route::SubmitJson => answer(submit_json(shared, req)),
        Route::SubmitMultipart => answer(submit_multipart(shared, req)),
        Route::Estimate => answer(estimate_matrix(shared, req)),
        Route::List => answer(list_uploads(shared, req)),
        Route::ArtifactsBundle(id) => answer(artifacts_manifest(shared, req, &id)),
        Route::ArtifactsInline(id) => artifacts_inline(shared, req, &id),
        Route::Junit(id) => report(shared, req, &id, Download::Junit),
        Route::HtmlBundle(id) => answer(html_manifest(shared, &id)),
        Route::HtmlInline(id) => report(shared, req, &id, Download::HtmlInline),
        Route::Allure(id) => report(shared, req, &id, Download::Allure),
        Route::BundlePost(token) => bundle_post(shared, req, &token),
        Route::TusCreate => answer(tus_create(shared, req)),
        Route::TusUpload(id) => answer(tus_upload(shared, req, &id)),
        Route::B2Simple => answer(b2_simple(shared, req)),
        Route::B2S3(name) => answer(b2_s3(shared, req, &name)),
        Route::B2Part(file_id) => answer(b2_part(shared, req, &file_id)),
        Route::Other => answer(Response::nest(
            404,
            &format!("Cannot {} {}", req.method, req.path),
        )),
    }
}

fn find_fault(faults: &[(usize, Fault)], n: usize) -> Option<Fault> {
    faults.iter().find(|(i, _)| *i == n).map(|(_, f)| f.clone())
}

fn fault_response(fault: &Fault) -> Response {
    match fault {
        Fault::Status(code) => Response::nest(*code, &fault_message(*code)),
        Fault::TooManyRequests { retry_after_secs } => {
            let resp = Response::json(
                429,
                &json!({"statusCode": 429, "message": "ThrottlerException: Too Many Requests"}),
            );
            match retry_after_secs {
                Some(s) => resp.header("retry-after", s.to_string()),
                None => resp,
            }
        }
        Fault::InvalidJson => Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            headers: Vec::new(),
            body: b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        },
        Fault::EmptyResults => Response::json(200, &json!({"statusCode": 200, "results": []})),
        Fault::ErrorEnvelope(code) => Response::json(
            200,
            &json!({"statusCode": code, "message": fault_message(*code)}),
        ),
        Fault::NotModified => Response {
            body: Vec::new(),
            ..Response::json(304, &Value::Null)
        },
        // Handled by the caller; never reached, but answer something sane.
        Fault::Reset | Fault::Hang | Fault::Slow(_) => Response::nest(500, "Internal server error"),
    }
}

fn fault_message(code: u16) -> String {
    match code {
        500 => "Internal server error".to_string(),
        _ => reason(code).to_string(),
    }
}

/// None = allowed; Some(response) = rejected.
fn check_auth(s: &Scenario, req: &Request) -> Option<Response> {
    if s.api_key.is_none() && s.bearer.is_none() {
        return None;
    }
    if let (Some(key), Some(sent)) = (&s.api_key, req.header("x-app-api-key"))
        && sent == key
    {
        return None;
    }
    if let Some((token, org)) = &s.bearer
        && let Some(auth) = req.header("authorization")
        && let Some((scheme, sent)) = auth.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
        && sent.trim() == token
    {
        return if req.header("x-dcd-org") == Some(org.as_str()) {
            None
        } else {
            Some(Response::json(
                403,
                &json!({"message": "Access denied to org"}),
            ))
        };
    }
    Some(Response::json(
        401,
        &json!({"statusCode": 401, "message": "Unauthorized"}),
    ))
}

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

fn results(shared: &Shared, req: &Request, id: &str) -> Response {
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

fn upload_status(shared: &Shared, req: &Request) -> Response {
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
            json!({
                "name": r.get("test_file_name").cloned().unwrap_or(Value::Null),
                "status": r.get("status").cloned().unwrap_or(Value::Null),
                "durationSeconds": r.get("duration_seconds").cloned().unwrap_or(Value::Null),
                "failReason": r.get("fail_reason").cloned().unwrap_or(Value::Null),
                "createdAt": r.get("created_at").cloned().unwrap_or_else(|| json!(s.created_at)),
            })
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
    body
}

// ---------------------------------------------------------------------------
// Small helpers for the handlers below
// ---------------------------------------------------------------------------

impl Shared {
    fn next_id(&self, st: &mut State) -> u64 {
        let n = st.next_id;
        st.next_id += 1;
        n
    }
}

/// The request body as a JSON object, or a Nest-style 400.
fn json_body(req: &Request) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Response::nest(400, "Body must be a JSON object")),
    }
}

fn created(body: &Value) -> Response {
    Response::json(201, body)
}

fn empty(status: u16) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// Lower-case hex SHA-1.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A list of strings sent either as a JSON array or as a JSON-encoded string (H.3).
fn string_list(v: Option<&Value>) -> Vec<String> {
    let parsed;
    let v = match v {
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            &parsed
        }
        Some(v) => v,
        None => return Vec::new(),
    };
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON value sent either as is or as a JSON-encoded string (H.3).
fn json_field(v: Option<&Value>) -> Option<Value> {
    match v? {
        Value::String(s) => serde_json::from_str(s).ok(),
        other => Some(other.clone()),
    }
}

fn field_str<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------
// Uploads: dedup, upload URLs, finalise (spec D.1 #1–#5, H.4)
// ---------------------------------------------------------------------------

fn check_existing(shared: &Shared, req: &Request) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let encrypted = body.get("encrypted") == Some(&json!(true));
    let sha = if encrypted {
        field_str(&body, "shaPlain")
    } else {
        field_str(&body, "sha")
    };
    let Some(sha) = sha else {
        return Response::nest(400, "sha is required");
    };
    let st = shared.lock();
    match st.binaries.iter().rev().find(|(s, _)| s == sha) {
        Some((_, id)) => {
            created(&json!({"exists": true, "appBinaryId": id, "encrypted": encrypted}))
        }
        None => created(&json!({"exists": false})),
    }
}

fn upload_url(shared: &Shared, req: &Request, kind: &str) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !body.get("fileSize").is_some_and(Value::is_u64) {
        return Response::nest(400, "fileSize must be a non-negative integer");
    }
    let platform = field_str(&body, "platform").map(str::to_string);
    if kind == "binary" && !matches!(platform.as_deref(), Some("android" | "ios")) {
        return Response::nest(400, "platform must be android or ios");
    }
    let mut st = shared.lock();
    let n = shared.next_id(&mut st);
    let (id, dir) = match kind {
        "binary" => (format!("bin-{n:04}"), "binaries"),
        _ => (format!("flows-{n:04}"), "flows"),
    };
    let temp_path = format!("org-1/{dir}/tmp/{id}.zip");
    let final_path = format!("org-1/{dir}/{id}.zip");
    st.slots.insert(
        id.clone(),
        UploadSlot {
            temp_path: temp_path.clone(),
            final_path: final_path.clone(),
            platform,
        },
    );
    let mut out = json!({
        "id": id,
        "tempPath": temp_path,
        "finalPath": final_path,
        "path": temp_path,
    });
    let base = &shared.base;
    let b2_name = format!("organizations/{final_path}");
    let b2 = match &shared.scenario.b2 {
        B2Mode::None => None,
        B2Mode::Simple => Some(json!({
            "strategy": "simple",
            "simple": {"uploadUrl": format!("{base}/b2/upload/simple"), "authorizationToken": "b2-simple-token"},
        })),
        B2Mode::S3 => Some(json!({
            "strategy": "simple",
            "simple": {
                "uploadUrl": format!("{base}/b2/s3/{b2_name}?X-Amz-Signature=fake-signature"),
                "authorizationToken": "",
            },
        })),
        B2Mode::Large { parts } => {
            let file_id = format!("b2-large-{id}");
            st.b2_large.insert(
                file_id.clone(),
                LargeFile {
                    name: b2_name.clone(),
                    parts: BTreeMap::new(),
                },
            );
            let urls: Vec<Value> = (0..(*parts).max(1))
                .map(|i| {
                    json!({
                        "uploadUrl": format!("{base}/b2/upload/part/{file_id}?slot={i}"),
                        "authorizationToken": format!("b2-part-token-{i}"),
                    })
                })
                .collect();
            Some(json!({
                "strategy": "large",
                "large": {"fileId": file_id, "fileName": b2_name, "uploadPartUrls": urls},
            }))
        }
    };
    if let (Some(b2), Some(o)) = (b2, out.as_object_mut()) {
        o.insert("b2".into(), b2);
    }
    created(&out)
}

fn finalise(shared: &Shared, req: &Request) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut st = shared.lock();
    let Some(slot) = field_str(&body, "id")
        .and_then(|id| st.slots.get(id))
        .cloned()
    else {
        return Response::nest(400, "Unknown upload id");
    };
    if field_str(&body, "path") != Some(slot.temp_path.as_str()) {
        return Response::nest(400, "path must be the tempPath of this upload");
    }
    let flag = |k: &str| body.get(k) == Some(&json!(true));
    let in_tus = flag("supabaseSuccess") && st.objects.contains_key(&slot.temp_path);
    let b2_name = format!("organizations/{}", slot.final_path);
    let in_b2 = flag("backblazeSuccess") && st.b2_objects.contains_key(&b2_name);
    if !in_tus && !in_b2 {
        return Response::nest(400, "Upload not found in storage");
    }
    let id = field_str(&body, "id").unwrap_or_default().to_string();
    if let Some(sha) = field_str(&body, "shaPlain").or_else(|| field_str(&body, "sha")) {
        st.binaries.push((sha.to_string(), id));
    }
    st.finalised.push(Value::Object(body));
    created(&json!({}))
}

fn finish_large_file(shared: &Shared, req: &Request) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let shas = string_list(body.get("partSha1Array"));
    let mut st = shared.lock();
    let Some(file_id) = field_str(&body, "fileId").map(str::to_string) else {
        return Response::nest(400, "fileId is required");
    };
    let Some(large) = st.b2_large.get(&file_id).cloned() else {
        return Response::nest(400, "Unknown fileId");
    };
    let numbers: Vec<u32> = large.parts.keys().copied().collect();
    let expected: Vec<u32> = (1..=shas.len() as u32).collect();
    if shas.is_empty() || numbers != expected {
        return Response::nest(400, "Parts missing or partSha1Array has the wrong length");
    }
    for (i, data) in large.parts.values().enumerate() {
        if !shas[i].eq_ignore_ascii_case(&sha1_hex(data)) {
            return Response::nest(400, &format!("Part {} sha1 mismatch", i + 1));
        }
    }
    let data: Vec<u8> = large.parts.values().flatten().copied().collect();
    let len = data.len();
    st.b2_objects.insert(large.name.clone(), data);
    st.b2_large.remove(&file_id);
    Response::json(
        200,
        &json!({"success": true, "result": {"fileId": file_id, "fileName": large.name, "contentLength": len}}),
    )
}

// ---------------------------------------------------------------------------
// Submission (spec D.1 #6–#8, H.3)
// ---------------------------------------------------------------------------

fn submit_json(shared: &Shared, req: &Request) -> Response {
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

fn submit_multipart(shared: &Shared, req: &Request) -> Response {
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

fn estimate_matrix(shared: &Shared, req: &Request) -> Response {
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
    // Flows that name their own device are left out of the matrix (spec H.7).
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
// List uploads (spec D.7)
// ---------------------------------------------------------------------------

fn list_uploads(shared: &Shared, req: &Request) -> Response {
    let param = |n: &str| {
        req.query
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let int = |n: &str, default: u64| -> Result<u64, Response> {
        match param(n) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| Response::nest(400, &format!("{n} must be a non-negative integer"))),
        }
    };
    let (limit, offset) = match (int("limit", 20), int("offset", 0)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let bound = |n: &str, end_of_day: bool| -> Result<Option<i64>, Response> {
        match param(n) {
            None => Ok(None),
            Some(v) => parse_date(v, end_of_day)
                .map(Some)
                .ok_or_else(|| Response::nest(400, &format!("Invalid {n} date"))),
        }
    };
    let (from, to) = match (bound("from", false), bound("to", true)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let name = param("name");
    let mut rows: Vec<&Value> = shared
        .scenario
        .uploads
        .iter()
        .filter(|u| match name {
            None => true,
            Some(pat) => u
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| wildcard_match(pat, n)),
        })
        .filter(|u| {
            let at = u
                .get("created_at")
                .and_then(Value::as_str)
                .and_then(|c| parse_date(c, false));
            match at {
                Some(t) => from.is_none_or(|f| t >= f) && to.is_none_or(|e| t <= e),
                None => from.is_none() && to.is_none(),
            }
        })
        .collect();
    // Newest first.
    rows.sort_by_key(|u| {
        std::cmp::Reverse(
            u.get("created_at")
                .and_then(Value::as_str)
                .and_then(|c| parse_date(c, false))
                .unwrap_or(i64::MIN),
        )
    });
    let total = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .cloned()
        .collect();
    Response::json(
        200,
        &json!({"uploads": page, "total": total, "limit": limit, "offset": offset}),
    )
}

/// Case-insensitive match where `*` is any run of characters (an SQL `ILIKE` with `%`).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Classic greedy match with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]` as unix seconds. A bare date is its first
/// second, or with `end_of_day` its last.
pub fn parse_date(s: &str, end_of_day: bool) -> Option<i64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if s.get(4..5) != Some("-") || s.get(7..8) != Some("-") {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if s.len() == 10 {
        return Some(days * 86_400 + if end_of_day { 86_399 } else { 0 });
    }
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) || s.get(13..14) != Some(":") {
        return None;
    }
    let (h, mi) = (num(11, 13)?, num(14, 16)?);
    let mut rest = &s[16..];
    let mut sec = 0;
    if let Some(r) = rest.strip_prefix(':') {
        sec = r.get(..2)?.parse::<i64>().ok()?;
        rest = &r[2..];
        if let Some(r) = rest.strip_prefix('.') {
            rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
        }
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if rest.starts_with('+') {
                1
            } else if rest.starts_with('-') {
                -1
            } else {
                return None;
            };
            let r = rest[1..].replace(':', "");
            if r.len() != 4 {
                return None;
            }
            sign * (r[..2].parse::<i64>().ok()? * 3600 + r[2..].parse::<i64>().ok()? * 60)
        }
    };
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------
// Artifacts and reports (spec D.4, E.10)
// ---------------------------------------------------------------------------

/// What a download endpoint serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Download {
    /// `POST <bundleUrl>` of the artifacts bundle, for `ALL` or `FAILED`.
    ArtifactsBundle(String),
    /// `POST /results/{id}/download` for `ALL` or `FAILED`.
    ArtifactsInline(String),
    /// `POST <bundleUrl>` of the HTML report bundle.
    HtmlBundle,
    /// `GET /results/{id}/html-report`.
    HtmlInline,
    /// `GET /results/{id}/report`.
    Junit,
    /// `GET /allure/{id}/download`.
    Allure,
}

enum Body {
    Bytes(Vec<u8>),
    Generated(Payload),
}

fn download_body(s: &Scenario, d: &Download) -> Body {
    let id = &s.upload_id;
    match d {
        Download::ArtifactsBundle(w) => Body::Generated(Payload::new(
            &format!("artifacts bundle results={w}"),
            id,
            s.artifacts_bytes,
        )),
        Download::ArtifactsInline(w) => Body::Generated(Payload::new(
            &format!("artifacts inline results={w}"),
            id,
            s.artifacts_bytes,
        )),
        Download::HtmlBundle => Body::Generated(Payload::new(
            "html report bundle",
            id,
            s.html_report_bytes,
        )),
        Download::HtmlInline => Body::Generated(Payload::new(
            "html report inline",
            id,
            s.html_report_bytes,
        )),
        Download::Junit => Body::Bytes(
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <testsuites name=\"{id}\" tests=\"2\" failures=\"0\">\n\
                 <testsuite name=\"devicecloud\" tests=\"2\" failures=\"0\" time=\"24.0\">\n\
                 <testcase name=\"login\" classname=\"flows\" time=\"12.0\"/>\n\
                 <testcase name=\"search\" classname=\"flows\" time=\"12.0\"/>\n\
                 </testsuite>\n</testsuites>\n"
            )
            .into_bytes(),
        ),
        Download::Allure => Body::Bytes(
            format!("<!DOCTYPE html><html><head><title>Allure {id}</title></head><body>allure</body></html>\n")
                .into_bytes(),
        ),
    }
}

/// A deterministic download body generated in chunks: a short text header (so a test can
/// tell which endpoint produced a file), then a repeating byte pattern seeded by the label.
#[derive(Clone, Debug)]
pub struct Payload {
    header: Vec<u8>,
    seed: u8,
    len: u64,
}

const PATTERN_CYCLE: usize = 251;
const STREAM_CHUNK: usize = 64 * 1024;

impl Payload {
    pub fn new(label: &str, upload_id: &str, len: u64) -> Payload {
        let mut h = DefaultHasher::new();
        h.write(label.as_bytes());
        Payload {
            header: format!("PK\u{3}\u{4} dcd fake {label} upload={upload_id}\n").into_bytes(),
            seed: h.finish() as u8,
            len,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Writes the first `limit` bytes (at most the whole payload), in 64 KiB chunks.
    pub fn write_to(&self, w: &mut impl Write, limit: u64) -> io::Result<()> {
        let end = limit.min(self.len);
        let head = (self.header.len() as u64).min(end);
        w.write_all(&self.header[..head as usize])?;
        let mut pos = head;
        if pos >= end {
            return Ok(());
        }
        let cycle: Vec<u8> = (0..PATTERN_CYCLE + STREAM_CHUNK)
            .map(|k| ((k % PATTERN_CYCLE) as u8).wrapping_add(self.seed))
            .collect();
        while pos < end {
            let n = usize::try_from(end - pos)
                .unwrap_or(STREAM_CHUNK)
                .min(STREAM_CHUNK);
            let start = (pos % PATTERN_CYCLE as u64) as usize;
            w.write_all(&cycle[start..start + n])?;
            pos += n as u64;
        }
        Ok(())
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        let _ = self.write_to(&mut v, u64::MAX);
        v
    }
}

fn stream(shared: &Shared, req: &Request, d: &Download, content_type: &'static str) -> Action {
    let fault = shared
        .scenario
        .stream_faults
        .iter()
        .find(|(p, _)| req.path.starts_with(p.as_str()))
        .map(|(_, f)| *f);
    match download_body(&shared.scenario, d) {
        Body::Generated(payload) => Action::Stream {
            status: 200,
            content_type,
            payload,
            fault,
        },
        Body::Bytes(body) => Action::Answer(Response {
            status: 200,
            content_type,
            headers: Vec::new(),
            body,
        }),
    }
}

/// The bundle signature: a keyed hash of the manifest in canonical (sorted-key) form.
fn sign(manifest: &Value) -> String {
    fn canonical(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let inner: Vec<String> = keys
                    .iter()
                    .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
            Value::Array(a) => format!(
                "[{}]",
                a.iter().map(canonical).collect::<Vec<_>>().join(",")
            ),
            other => other.to_string(),
        }
    }
    let mut h = DefaultHasher::new();
    h.write(b"fake-bundle-secret:");
    h.write(canonical(manifest).as_bytes());
    format!("sig-{:016x}", h.finish())
}

fn manifest_answer(shared: &Shared, token: &str, manifest: Value) -> Response {
    let sig = sign(&manifest);
    Response::json(
        200,
        &json!({
            "bundleUrl": format!("{}/bundle/{token}", shared.base),
            "manifest": manifest,
            "sig": sig,
        }),
    )
}

fn artifacts_manifest(shared: &Shared, req: &Request, id: &str) -> Response {
    let s = &shared.scenario;
    if !s.bundles_deployed {
        return Response::nest(501, "Not Implemented");
    }
    if id != s.upload_id || s.artifacts_missing {
        return Response::nest(404, &format!("No artifacts found for upload {id}"));
    }
    let which = req
        .query
        .iter()
        .find(|(k, _)| k == "results")
        .map(|(_, v)| v.as_str());
    let Some(which @ ("ALL" | "FAILED")) = which else {
        return Response::nest(400, "results must be ALL or FAILED");
    };
    manifest_answer(
        shared,
        &format!("artifacts-{which}"),
        json!({"uploadId": id, "kind": "artifacts", "results": which, "files": 3, "exp": 4_102_444_800_u64}),
    )
}

fn html_manifest(shared: &Shared, id: &str) -> Response {
    let s = &shared.scenario;
    if !s.bundles_deployed {
        return Response::nest(501, "Not Implemented");
    }
    if id != s.upload_id || s.reports_missing {
        return Response::nest(404, &format!("No HTML report for upload {id}"));
    }
    manifest_answer(
        shared,
        "html",
        json!({"uploadId": id, "kind": "html-report", "exp": 4_102_444_800_u64}),
    )
}

fn bundle_post(shared: &Shared, req: &Request, token: &str) -> Action {
    // Bundle URLs live on a CDN worker: credentials must never be sent there.
    if [
        "authorization",
        "x-app-api-key",
        "x-dcd-org",
        "apikey",
        "cookie",
    ]
    .iter()
    .any(|h| req.header(h).is_some())
    {
        return Action::Answer(Response::json(
            401,
            &json!({"message": "Bundle requests must not carry credentials"}),
        ));
    }
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return Action::Answer(r),
    };
    let (Some(manifest), Some(sig)) = (
        body.get("manifest"),
        body.get("sig").and_then(Value::as_str),
    ) else {
        return Action::Answer(Response::nest(400, "manifest and sig are required"));
    };
    if sign(manifest) != sig {
        return Action::Answer(Response::nest(403, "Bad signature"));
    }
    let d = match token {
        "artifacts-ALL" => Download::ArtifactsBundle("ALL".into()),
        "artifacts-FAILED" => Download::ArtifactsBundle("FAILED".into()),
        "html" => Download::HtmlBundle,
        _ => return Action::Answer(Response::nest(404, "Unknown bundle")),
    };
    stream(shared, req, &d, "application/zip")
}

fn artifacts_inline(shared: &Shared, req: &Request, id: &str) -> Action {
    let s = &shared.scenario;
    if id != s.upload_id || s.artifacts_missing {
        return Action::Answer(Response::nest(
            404,
            &format!("No artifacts found for upload {id}"),
        ));
    }
    let which = json_body(req)
        .ok()
        .and_then(|b| b.get("results").and_then(Value::as_str).map(str::to_string));
    match which.as_deref() {
        Some(w @ ("ALL" | "FAILED")) => stream(
            shared,
            req,
            &Download::ArtifactsInline(w.to_string()),
            "application/zip",
        ),
        _ => Action::Answer(Response::nest(400, "results must be ALL or FAILED")),
    }
}

fn report(shared: &Shared, req: &Request, id: &str, d: Download) -> Action {
    let s = &shared.scenario;
    if id != s.upload_id || s.reports_missing {
        return Action::Answer(Response::nest(404, &format!("No report for upload {id}")));
    }
    let content_type = match d {
        Download::Junit => "application/xml",
        Download::Allure => "text/html; charset=utf-8",
        _ => "application/zip",
    };
    stream(shared, req, &d, content_type)
}

// ---------------------------------------------------------------------------
// TUS resumable uploads (Supabase storage, spec H.4 step 9, L)
// ---------------------------------------------------------------------------

fn tus_response(status: u16) -> Response {
    empty(status).header("tus-resumable", "1.0.0".to_string())
}

fn tus_error(status: u16, message: &str) -> Response {
    Response::json(
        status,
        &json!({"statusCode": status.to_string(), "error": reason(status), "message": message}),
    )
    .header("tus-resumable", "1.0.0".to_string())
}

/// Common TUS request checks: protocol version and a bearer token.
fn tus_precheck(shared: &Shared, req: &Request) -> Option<Response> {
    if req.header("tus-resumable") != Some("1.0.0") {
        return Some(tus_error(412, "Tus-Resumable: 1.0.0 required"));
    }
    let bearer = req.header("authorization").and_then(|a| {
        a.strip_prefix("Bearer ")
            .or_else(|| a.strip_prefix("bearer "))
    });
    match (bearer, &shared.scenario.tus_bearer) {
        (None, _) => Some(tus_error(401, "Missing authorization header")),
        (Some(got), Some(want)) if got.trim() != want => Some(tus_error(401, "Invalid JWT")),
        _ => None,
    }
}

fn tus_create(shared: &Shared, req: &Request) -> Response {
    if let Some(r) = tus_precheck(shared, req) {
        return r;
    }
    let Some(length) = req
        .header("upload-length")
        .and_then(|l| l.parse::<u64>().ok())
    else {
        return tus_error(400, "Upload-Length required");
    };
    let mut metadata = Vec::new();
    for pair in req.header("upload-metadata").unwrap_or("").split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once(' ').unwrap_or((pair, ""));
        let Some(v) = base64_decode(v.trim()) else {
            return tus_error(400, "Upload-Metadata values must be base64");
        };
        metadata.push((k.to_string(), String::from_utf8_lossy(&v).into_owned()));
    }
    let meta = |k: &str| {
        metadata
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let (Some(_bucket), Some(object)) = (meta("bucketName"), meta("objectName")) else {
        return tus_error(400, "bucketName and objectName metadata required");
    };
    let mut st = shared.lock();
    if st.objects.contains_key(&object) && req.header("x-upsert") != Some("true") {
        return tus_error(409, "The resource already exists");
    }
    let mut data = Vec::new();
    if !req.body.is_empty() {
        if req.header("content-type") != Some("application/offset+octet-stream") {
            return tus_error(415, "Content-Type must be application/offset+octet-stream");
        }
        data = req.body.clone();
    }
    if data.len() as u64 > length {
        return tus_error(413, "Upload exceeds Upload-Length");
    }
    let n = shared.next_id(&mut st);
    let id = format!("tus-{n:04}");
    let offset = data.len() as u64;
    if offset == length {
        st.objects.insert(object, data.clone());
    }
    st.tus.push(TusUpload {
        id: id.clone(),
        length,
        offset,
        metadata,
        headers: req.headers.clone(),
        data,
    });
    tus_response(201)
        .header("location", format!("{}{TUS_PATH}/{id}", shared.base))
        .header("upload-offset", offset.to_string())
}

fn tus_upload(shared: &Shared, req: &Request, id: &str) -> Response {
    if let Some(r) = tus_precheck(shared, req) {
        return r;
    }
    let mut st = shared.lock();
    let Some(i) = st.tus.iter().position(|u| u.id == id) else {
        return tus_error(404, "Upload not found");
    };
    if req.method == "HEAD" {
        let u = &st.tus[i];
        return tus_response(200)
            .header("upload-offset", u.offset.to_string())
            .header("upload-length", u.length.to_string())
            .header("cache-control", "no-store".to_string());
    }
    if req.header("content-type") != Some("application/offset+octet-stream") {
        return tus_error(415, "Content-Type must be application/offset+octet-stream");
    }
    let offset = req
        .header("upload-offset")
        .and_then(|o| o.parse::<u64>().ok());
    let u = &mut st.tus[i];
    if offset != Some(u.offset) {
        return tus_error(409, "Upload-Offset does not match the upload's offset");
    }
    if u.offset + req.body.len() as u64 > u.length {
        return tus_error(413, "Upload exceeds Upload-Length");
    }
    u.data.extend_from_slice(&req.body);
    u.offset += req.body.len() as u64;
    let (offset, complete) = (u.offset, u.offset == u.length);
    if complete {
        let object = u.meta("objectName").unwrap_or_default().to_string();
        let data = u.data.clone();
        st.objects.insert(object, data);
    }
    tus_response(204).header("upload-offset", offset.to_string())
}

/// Standard base64 (padding optional); `None` on anything else.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Standard base64 with padding (what a TUS client sends in `Upload-Metadata`).
pub fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Backblaze B2 upload URLs (spec H.4 step 8)
// ---------------------------------------------------------------------------

fn b2_error(status: u16, code: &str, message: &str) -> Response {
    Response::json(
        status,
        &json!({"status": status, "code": code, "message": message}),
    )
}

/// `X-Bz-Content-Sha1` must match the body (when `required`, it must be there too).
fn b2_sha_check(req: &Request, required: bool) -> Result<String, Response> {
    let sha = sha1_hex(&req.body);
    match req.header("x-bz-content-sha1") {
        Some(h) if h.eq_ignore_ascii_case(&sha) => Ok(sha),
        None if !required => Ok(sha),
        None => Err(b2_error(
            400,
            "bad_request",
            "X-Bz-Content-Sha1 is required",
        )),
        Some(_) => Err(b2_error(
            400,
            "bad_request",
            "Sha1 did not match data received",
        )),
    }
}

fn b2_simple(shared: &Shared, req: &Request) -> Response {
    if req.header("authorization") != Some("b2-simple-token") {
        return b2_error(401, "bad_auth_token", "Invalid authorization token");
    }
    let Some(name) = req
        .header("x-bz-file-name")
        .map(|n| percent_decode(n, true))
    else {
        return b2_error(400, "bad_request", "X-Bz-File-Name is required");
    };
    let sha = match b2_sha_check(req, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let len = req.body.len();
    shared
        .lock()
        .b2_objects
        .insert(name.clone(), req.body.clone());
    Response::json(
        200,
        &json!({"fileId": format!("b2-file-{sha}"), "fileName": name, "contentLength": len, "contentSha1": sha}),
    )
}

fn b2_s3(shared: &Shared, req: &Request, name: &str) -> Response {
    if req.query.iter().all(|(k, _)| k != "X-Amz-Signature") {
        return b2_error(403, "access_denied", "Missing signature");
    }
    let sha = match b2_sha_check(req, false) {
        Ok(s) => s,
        Err(r) => return r,
    };
    shared
        .lock()
        .b2_objects
        .insert(name.to_string(), req.body.clone());
    empty(200).header("etag", format!("\"{sha}\""))
}

fn b2_part(shared: &Shared, req: &Request, file_id: &str) -> Response {
    if !req
        .header("authorization")
        .is_some_and(|a| a.starts_with("b2-part-token-"))
    {
        return b2_error(401, "bad_auth_token", "Invalid authorization token");
    }
    let Some(part) = req
        .header("x-bz-part-number")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| (1..=10_000).contains(p))
    else {
        return b2_error(400, "bad_request", "X-Bz-Part-Number must be 1..10000");
    };
    let sha = match b2_sha_check(req, true) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut st = shared.lock();
    let Some(large) = st.b2_large.get_mut(file_id) else {
        return b2_error(400, "bad_request", "Unknown fileId");
    };
    large.parts.insert(part, req.body.clone());
    Response::json(
        200,
        &json!({"fileId": file_id, "partNumber": part, "contentLength": req.body.len(), "contentSha1": sha}),
    )
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
