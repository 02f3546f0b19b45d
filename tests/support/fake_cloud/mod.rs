//! A loopback fake of the devicecloud.dev HTTP API (docs/http-api.md) plus the
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
//! upload URLs (`/b2/...`), bundle URLs (`POST /bundle/{token}`, which refuse auth headers), and
//! the scenario's files as they are (`GET /files/{name}`: an Expo build by URL).
//! Anything else is a Nest-style 404. Every request is recorded, body included, with the
//! status we answered. Downloads are generated on the fly in chunks, so a 1 GiB artifacts zip
//! costs no memory.
//!
//! The code, by file: this one has the server ([`FakeCloud`]), its request log and shared
//! state, and what sits in front of every route (fault injection, then the API's auth
//! check). `scenario.rs` is the script ([`Scenario`], [`Fault`]) and the row builders,
//! `http.rs` the HTTP/1.1 plumbing, `routes.rs` the map from method and path to handler.
//! Then one file per route group: `results.rs` (`GET /results/{id}` with ETags and
//! `GET /uploads/status`, what a wait polls), `compat.rs` (compatibility data), `uploads.rs`
//! (dedup, upload URLs, finalise), `submit.rs` (submission, the matrix estimate, multipart),
//! `storage.rs` (TUS and Backblaze B2), `artifacts.rs` (artifacts, reports, bundle URLs) and
//! `list.rs` (`GET /uploads/list`).

#![allow(dead_code)]

mod account;
mod artifacts;
mod compat;
mod http;
mod list;
mod results;
mod routes;
mod scenario;
mod storage;
mod submit;
mod uploads;

pub use account::{Accounts, TokenAnswer, org};
pub use artifacts::Download;
pub use compat::default_compat;
pub use list::listed;
pub use results::latest_rows;
pub use scenario::{
    Advance, B2Mode, DEFAULT_UPLOAD_ID, Estimate, Fault, Scenario, StreamFault, demo_scenario,
    duration, failed, retry, row, superseded,
};
pub use storage::{TusUpload, base64_encode};
pub use submit::Submission;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

// Sibling modules in the test support tree and in the examples that load the fakes.
use super::iso::iso_now;
pub use super::url::{parse_query, percent_decode};
use artifacts::{Body, download_body};
use http::{Action, Request, Response, reason, serve_connection};
use routes::{Route, dispatch, route};

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
    /// Sessions the fake's login and token endpoints minted.
    auth: account::AuthState,
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
                auth: account::AuthState::default(),
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

    /// The body bytes of every TUS `PATCH` received, whatever was kept of them.
    pub fn tus_patch_bytes(&self) -> u64 {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.starts_with(storage::TUS_PATH))
            .map(|r| r.body.len() as u64)
            .sum()
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
// In front of every route: faults, then auth
// ---------------------------------------------------------------------------

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
        check_auth(shared, req)
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
fn check_auth(shared: &Shared, req: &Request) -> Option<Response> {
    let s = &shared.scenario;
    if s.api_key.is_none() && s.bearer.is_none() && s.accounts.is_none() {
        return None;
    }
    let sent_bearer = req
        .header("authorization")
        .and_then(|a| a.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    if let (Some(accounts), Some(token)) = (&s.accounts, &sent_bearer)
        && let Some(valid) = shared.lock().auth.valid(token)
    {
        if !valid {
            return Some(Response::json(
                401,
                &json!({"statusCode": 401, "message": "JWT expired"}),
            ));
        }
        let org = req.header("x-dcd-org").unwrap_or("");
        let member = accounts
            .orgs
            .iter()
            .any(|o| o.get("id").and_then(Value::as_str) == Some(org));
        return (!member).then(|| Response::json(403, &json!({"message": "Access denied to org"})));
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

// ---------------------------------------------------------------------------
// Small helpers for the route handlers in the files beside this one
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
