//! A loopback fake of the devicecloud.dev HTTP API (spec D.0, D.3, D.6, E.3).
//!
//! The end-to-end tests and `make demo` need a server that plays a scripted run
//! (`PENDING` → `RUNNING` → `PASSED`, retries, superseded runs), answers with ETags and
//! 304s the way the real API does, and misbehaves on cue (5xx, 429, resets, hangs, bad
//! JSON, errors wrapped in a 200). It is std-only on purpose: a `TcpListener`, a thread
//! per connection, hand-written HTTP/1.1 with keep-alive (the client pools connections),
//! so tests need no async runtime and start in microseconds.
//!
//! Endpoints: `GET /results/{uploadId}`, `GET /uploads/status?uploadId=|name=`; anything
//! else is a Nest-style 404. Every request is recorded with the status we answered.

#![allow(dead_code)]

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::Hasher;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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

    fn last_index(&self) -> usize {
        self.snapshots.len().saturating_sub(1)
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

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ` (no chrono in a std-only fake).
pub fn iso_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
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

struct State {
    requests: Vec<Recorded>,
    /// Snapshot counter for PerRequest/Manual (uncapped for PerRequest; capped on read).
    index: usize,
    /// Every mode: an index pinned by advance()/set_snapshot().
    pinned: Option<usize>,
    results_seen: usize,
    status_seen: usize,
}

struct Shared {
    scenario: Scenario,
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

    fn current_index(&self, st: &State) -> usize {
        let last = self.scenario.last_index();
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
                let k = self.start.elapsed().as_nanos() / nanos;
                usize::try_from(k).unwrap_or(usize::MAX).min(last)
            }
        }
    }

    fn snapshot(&self, index: usize) -> Vec<Value> {
        self.scenario
            .snapshots
            .get(index)
            .cloned()
            .unwrap_or_default()
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
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            scenario,
            start: Instant::now(),
            stop: AtomicBool::new(false),
            next_conn: AtomicUsize::new(0),
            state: Mutex::new(State {
                requests: Vec::new(),
                index: 0,
                pinned: None,
                results_seen: 0,
                status_seen: 0,
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
        let last = self.shared.scenario.last_index();
        self.place(&mut st, next.min(last));
    }

    /// Jump to snapshot `index` (capped). In `Every` mode this pins the timeline.
    pub fn set_snapshot(&self, index: usize) {
        let mut st = self.shared.lock();
        let last = self.shared.scenario.last_index();
        self.place(&mut st, index.min(last));
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

fn write_response(w: &mut TcpStream, resp: &Response, close: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    let _ = write!(out, "content-type: {}\r\n", resp.content_type);
    // 304 (and 1xx/204) never carry a body; don't announce one.
    let bodyless = resp.status == 304 || resp.status == 204 || resp.status < 200;
    if !bodyless {
        let _ = write!(out, "content-length: {}\r\n", resp.body.len());
    }
    for (k, v) in &resp.headers {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    out.extend_from_slice(if close {
        b"connection: close\r\n".as_slice()
    } else {
        b"connection: keep-alive\r\n".as_slice()
    });
    out.extend_from_slice(b"\r\n");
    if !bodyless {
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
        429 => "Too Many Requests",
        500 => "Internal Server Error",
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
    Other,
}

fn route(req: &Request) -> Route {
    if req.method == "GET" {
        if let Some(id) = req.path.strip_prefix("/results/") {
            let id = id.trim_end_matches('/');
            if !id.is_empty() && !id.contains('/') {
                return Route::Results(percent_decode(id, false));
            }
        } else if req.path.trim_end_matches('/') == "/uploads/status" {
            return Route::Status;
        }
    }
    Route::Other
}

fn handle(shared: &Shared, req: &Request, slot: usize) -> Action {
    let route = route(req);
    // Faults sit "in front of" the app (a proxy or load balancer), so they come first.
    let fault = {
        let mut st = shared.lock();
        match &route {
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
            Route::Other => None,
        }
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
    let resp = match check_auth(&shared.scenario, req) {
        Some(denied) => denied,
        None => match route {
            Route::Results(id) => results(shared, req, &id),
            Route::Status => upload_status(shared, req),
            Route::Other => Response::nest(404, &format!("Cannot {} {}", req.method, req.path)),
        },
    };
    shared.set_status(slot, resp.status);
    Action::Answer(resp)
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
    drop(st);
    let body = json!({"statusCode": 200, "results": shared.snapshot(index)});
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
    let found = match (param("uploadId"), param("name")) {
        (Some(id), _) => id == s.upload_id,
        (None, Some(name)) => s.name.as_deref() == Some(name),
        (None, None) => {
            return Response::nest(400, "Either uploadId or name must be provided");
        }
    };
    if !found {
        return Response::nest(404, "Upload not found");
    }
    let rows = {
        let st = shared.lock();
        shared.snapshot(shared.current_index(&st))
    };
    Response::json(200, &status_body(s, &rows))
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

fn status_body(s: &Scenario, rows: &[Value]) -> Value {
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
        "name": s.name,
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
