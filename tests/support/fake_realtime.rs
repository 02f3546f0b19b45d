//! A loopback fake of the Supabase Realtime server (Phoenix channels over WebSocket),
//! just enough of it for `postgres_changes` subscriptions
//! (/work/shared/reference/realtime-protocol.md, s.13.3).
//!
//! The end-to-end tests need a server that accepts the `dcd` realtime client's socket,
//! answers joins and heartbeats the way the real server does (vsn 1.0.0 object frames and
//! 2.0.0 array frames), and misbehaves on cue: join errors, withheld replies, token
//! expiry, channel crashes, server-side closes, rejected upgrades, idle timeouts. It
//! records everything it saw and sent so tests can assert on the wire. The conformance
//! test (`tests/realtime_conformance.rs`) runs the real `@supabase/realtime-js` client
//! against it, which keeps this fake honest.
//!
//! Like `fake_cloud.rs` it is std threads only: a `TcpListener`, one thread per
//! connection doing the tungstenite handshake and then a poll loop (a short read timeout
//! on the socket) that also drains the connection's control queue and fires its timers.
//! Live controls (`push_change`, `phx_error`, `close_all`, ...) are applied by every open
//! connection before they return. Loopback (`127.0.0.1`, ephemeral port) only.

#![allow(dead_code)]

use std::cell::Cell;

// Each fake also compiles alone (its own tests, the examples), so both load this file.
#[allow(clippy::duplicate_mod)]
#[path = "iso.rs"]
mod iso;
use iso::iso_now;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use serde_json::{Value, json};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{HandshakeError, Message, WebSocket};

/// Reason used for the joins failed by [`RtScript::join_errors_first`].
pub const JOIN_ERROR_REASON: &str = "InvalidJWTToken: Token has expired 42 seconds ago";
/// The `system` message text sent by [`FakeRealtime::expire_token`].
pub const TOKEN_EXPIRED_MESSAGE: &str = "Token has expired 0 seconds ago";

/// How long a connection thread blocks in a socket read before looking at its control
/// queue, timers and the stop flag again.
const POLL: Duration = Duration::from_millis(5);
/// The whole upgrade request must arrive within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// A client that stops reading makes our writes fail after this instead of hanging.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// After we send a close frame, wait this long for the client's answer, then hang up.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Live controls wait at most this long for the connections to apply them.
const CONTROL_WAIT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------
// Script
// ---------------------------------------------------------------------------

/// How `phx_join` is answered (after [`RtScript::join_errors_first`] is used up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinBehaviour {
    /// `{"status":"ok","response":{"postgres_changes":[...entries with ids...]}}`.
    Ok,
    /// `{"status":"error","response":{"reason":<this>}}`.
    Error(String),
    /// No reply at all (the client times the join out).
    Withhold,
    /// An ok reply whose entries have a different `filter` (realtime-js reports a
    /// binding mismatch).
    Mismatch,
}

/// What the fake does. Change it at runtime with [`FakeRealtime::set`].
#[derive(Clone, Debug)]
pub struct RtScript {
    pub join: JoinBehaviour,
    /// Answer the next N joins with an error ([`JOIN_ERROR_REASON`]), then behave per
    /// `join`. Counts down as joins arrive; `set` re-arms it.
    pub join_errors_first: usize,
    /// Delay before any join reply (the real server waits ~5 s before error replies).
    pub join_reply_delay: Duration,
    /// After an ok join, send `system` "Subscribed to PostgreSQL" after this delay;
    /// `None` = never.
    pub system_delay: Option<Duration>,
    /// `false` = withhold heartbeat replies.
    pub heartbeat_replies: bool,
    /// Reject the next N upgrade attempts with HTTP 401 `{"error":"Token has expired"}`.
    /// Counts down; `set` re-arms it.
    pub reject_upgrades: usize,
    /// `Some(status)`: reject every upgrade with that status and a JSON error body.
    pub reject_all_upgrades: Option<u16>,
    /// Close with 1000 after this long without inbound data (the real server: 60 s).
    pub idle_timeout: Option<Duration>,
    /// After each ok join, emulate token expiry (system error + `phx_close`) after this.
    pub expire_token_after: Option<Duration>,
    /// `Some(k)`: reject (401) upgrades whose `apikey` differs.
    pub require_apikey: Option<String>,
}

impl Default for RtScript {
    fn default() -> Self {
        RtScript {
            join: JoinBehaviour::Ok,
            join_errors_first: 0,
            join_reply_delay: Duration::ZERO,
            system_delay: Some(Duration::from_millis(50)),
            heartbeat_replies: true,
            reject_upgrades: 0,
            reject_all_upgrades: None,
            idle_timeout: None,
            expire_token_after: None,
            require_apikey: None,
        }
    }
}

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

/// Framing negotiated by the `vsn` query parameter (absent = 1.0.0, like Phoenix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vsn {
    /// `{"topic","event","payload","ref"[,"join_ref"]}` objects; the server never sends
    /// `join_ref`.
    V1,
    /// `[join_ref, ref, topic, event, payload]` arrays.
    V2,
}

/// One upgrade attempt (accepted or not).
#[derive(Clone, Debug)]
pub struct Upgrade {
    /// Path without the query (empty when the request was not a WebSocket upgrade at all).
    pub path: String,
    /// Percent-decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub accepted: bool,
    /// 101 when accepted, else the HTTP status we answered.
    pub status: u16,
    /// Since the fake started.
    pub at: Duration,
    /// The connection number when accepted.
    pub conn: Option<usize>,
}

impl Upgrade {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One text frame, received or sent. A received frame that could not be parsed has an
/// empty `topic` and `event` and a null `payload` (see `raw`).
#[derive(Clone, Debug, PartialEq)]
pub struct RtFrame {
    pub conn: usize,
    pub at: Duration,
    pub join_ref: Option<String>,
    pub ref_: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
    pub raw: String,
}

impl RtFrame {
    pub fn is_malformed(&self) -> bool {
        self.event.is_empty()
    }
}

/// A channel the fake has joined (ok reply sent) and not closed yet.
#[derive(Clone, Debug, PartialEq)]
pub struct RtChannel {
    pub conn: usize,
    /// `realtime:<name>`.
    pub topic: String,
    pub join_ref: String,
    /// The `id` of every binding, in order.
    pub ids: Vec<u64>,
    /// Latest token: from the join payload, then from `access_token` pushes.
    pub token: Option<String>,
}

// ---------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------

enum Cmd {
    Change(Value),
    Raw(String),
    PhxError(Value),
    Expire,
    Close(u16, String),
}

struct Envelope {
    cmd: Cmd,
    ack: Sender<()>,
}

struct ConnEntry {
    id: usize,
    open: bool,
    tx: Sender<Envelope>,
}

struct State {
    script: RtScript,
    upgrades: Vec<Upgrade>,
    frames: Vec<RtFrame>,
    sent: Vec<RtFrame>,
    closes: Vec<(usize, Option<u16>, String)>,
    tokens: Vec<String>,
    conns: Vec<ConnEntry>,
    channels: Vec<RtChannel>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    start: Instant,
    stop: AtomicBool,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not wedge the fake for everyone else.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// The running fake. Dropping it stops accepting and closes every socket (1001).
pub struct FakeRealtime {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeRealtime {
    /// Start on an ephemeral loopback port. Panics if it cannot bind (tests only).
    pub fn start(script: RtScript) -> FakeRealtime {
        FakeRealtime::start_at(script, SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("fake realtime: bind")
    }

    /// Start on a given address (`[::1]:0` for the IPv6 loopback).
    pub fn start_at(script: RtScript, at: SocketAddr) -> std::io::Result<FakeRealtime> {
        let listener = TcpListener::bind(at)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            start: Instant::now(),
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                script,
                upgrades: Vec::new(),
                frames: Vec::new(),
                sent: Vec::new(),
                closes: Vec::new(),
                tokens: Vec::new(),
                conns: Vec::new(),
                channels: Vec::new(),
                threads: Vec::new(),
            }),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("fake-realtime-accept".into())
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(FakeRealtime {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`: a Supabase base URL (the socket lives at
    /// `ws://127.0.0.1:PORT/realtime/v1/websocket`).
    /// The instant every recorded `at` is measured from.
    pub fn origin(&self) -> Instant {
        self.shared.start
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT/realtime/v1`: the Realtime endpoint as realtime-js takes it.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/realtime/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every upgrade attempt, in order.
    pub fn upgrades(&self) -> Vec<Upgrade> {
        self.shared.lock().upgrades.clone()
    }

    /// Every text frame received, in order (malformed ones included, see [`RtFrame`]).
    pub fn frames(&self) -> Vec<RtFrame> {
        self.shared.lock().frames.clone()
    }

    /// Every frame the fake sent, in order (as it went on the wire).
    pub fn sent(&self) -> Vec<RtFrame> {
        self.shared.lock().sent.clone()
    }

    /// Received frames with this event (`phx_join`, `heartbeat`, `access_token`, ...).
    pub fn events(&self, event: &str) -> Vec<RtFrame> {
        self.shared
            .lock()
            .frames
            .iter()
            .filter(|f| f.event == event)
            .cloned()
            .collect()
    }

    /// Sent frames with this event.
    pub fn sent_events(&self, event: &str) -> Vec<RtFrame> {
        self.shared
            .lock()
            .sent
            .iter()
            .filter(|f| f.event == event)
            .cloned()
            .collect()
    }

    /// Close frames the clients initiated: `(conn, code, reason)`. Clients' answers to a
    /// close the fake started are not listed.
    pub fn closes(&self) -> Vec<(usize, Option<u16>, String)> {
        self.shared.lock().closes.clone()
    }

    /// Access tokens seen in join payloads and `access_token` pushes, in order.
    pub fn tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.clone()
    }

    /// Accepted WebSocket connections so far.
    pub fn connections(&self) -> usize {
        self.shared.lock().conns.len()
    }

    pub fn open_connections(&self) -> usize {
        self.shared.lock().conns.iter().filter(|c| c.open).count()
    }

    /// Topics currently joined (ok reply sent, not closed), over all connections.
    pub fn joined(&self) -> Vec<String> {
        self.shared
            .lock()
            .channels
            .iter()
            .map(|c| c.topic.clone())
            .collect()
    }

    /// The currently joined channels with their ids and latest token.
    pub fn channels(&self) -> Vec<RtChannel> {
        self.shared.lock().channels.clone()
    }

    /// Poll `f` every 5 ms until it holds or `timeout` passes; says what it waited for
    /// on stderr when it gives up.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        f: impl Fn(&FakeRealtime) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if f(self) {
                return true;
            }
            if Instant::now() >= deadline {
                eprintln!("fake_realtime: gave up after {timeout:?} waiting for {what}");
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A `postgres_changes` UPDATE of `public.results` carrying `record` (and
    /// `old_record: {"id": record.id}`) to every joined channel, with all its binding ids.
    pub fn push_change(&self, record: Value) {
        let columns: Vec<Value> = record
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| json!({"name": k, "type": pg_type(v)}))
                    .collect()
            })
            .unwrap_or_default();
        let old = match record.get("id") {
            Some(id) => json!({"id": id}),
            None => json!({}),
        };
        self.push_change_data(json!({
            "schema": "public",
            "table": "results",
            "commit_timestamp": iso_now(),
            "type": "UPDATE",
            "columns": columns,
            "record": record,
            "old_record": old,
            "errors": null,
        }));
    }

    /// Like [`FakeRealtime::push_change`] but returns at once, without waiting for the
    /// connections to send it (for storms).
    pub fn push_change_nowait(&self, record: Value) {
        let data = json!({
            "schema": "public", "table": "results", "commit_timestamp": iso_now(),
            "type": "UPDATE", "columns": [], "record": record, "old_record": {}, "errors": null,
        });
        let st = self.shared.lock();
        for c in st.conns.iter().filter(|c| c.open) {
            let (ack, _) = crossbeam_channel::unbounded();
            let _ = c.tx.send(Envelope {
                cmd: Cmd::Change(data.clone()),
                ack,
            });
        }
    }

    /// A `postgres_changes` frame with this `data` object to every joined channel.
    pub fn push_change_data(&self, data: Value) {
        self.broadcast(|| Cmd::Change(data.clone()));
    }

    /// Send this text frame, verbatim, on every open connection.
    pub fn push_raw(&self, text: &str) {
        self.broadcast(|| Cmd::Raw(text.to_string()));
    }

    /// `[jr, jr, topic, "phx_error", {"reason":"channel_crash"}]` on every joined
    /// channel; the channels are gone afterwards (the client re-joins).
    pub fn phx_error(&self) {
        self.phx_error_with(json!({"reason": "channel_crash"}));
    }

    /// Same with another payload (older Phoenix sent `{}`).
    pub fn phx_error_with(&self, payload: Value) {
        self.broadcast(|| Cmd::PhxError(payload.clone()));
    }

    /// On every joined channel: `system` error "Token has expired 0 seconds ago", then
    /// `phx_close`. The channels are gone afterwards (the socket stays up).
    pub fn expire_token(&self) {
        self.broadcast(|| Cmd::Expire);
    }

    /// Server-side close of every connection. 1005, 1006 and 1015 cannot travel in a
    /// close frame: those drop the TCP connection without one.
    pub fn close_all(&self, code: u16, reason: &str) {
        self.broadcast(|| Cmd::Close(code, reason.to_string()));
    }

    /// Change the script at runtime.
    pub fn set(&self, f: impl FnOnce(&mut RtScript)) {
        f(&mut self.shared.lock().script);
    }

    /// Queue a command on every open connection and wait until each applied it.
    fn broadcast(&self, make: impl Fn() -> Cmd) {
        let (ack_tx, ack_rx) = crossbeam_channel::unbounded();
        let mut queued = 0;
        {
            // Under the lock: a connection marks itself closed and drains its queue under
            // the same lock, so nothing queued here can be left unanswered.
            let st = self.shared.lock();
            for c in st.conns.iter().filter(|c| c.open) {
                let env = Envelope {
                    cmd: make(),
                    ack: ack_tx.clone(),
                };
                if c.tx.send(env).is_ok() {
                    queued += 1;
                }
            }
        }
        drop(ack_tx);
        let deadline = Instant::now() + CONTROL_WAIT;
        for _ in 0..queued {
            if ack_rx.recv_deadline(deadline).is_err() {
                break;
            }
        }
    }
}

impl Drop for FakeRealtime {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Unblock accept(); only wait for the thread if the poke got through.
        let poked = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(handle) = self.accept.take()
            && poked
        {
            let _ = handle.join();
        }
        // Connection threads notice the flag within one poll and close their sockets.
        let threads = std::mem::take(&mut self.shared.lock().threads);
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let conn_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("fake-realtime-conn".into())
            .spawn(move || serve(stream, conn_shared));
        if let Ok(handle) = spawned {
            let mut st = shared.lock();
            st.threads.retain(|t| !t.is_finished());
            st.threads.push(handle);
        }
    }
}

// ---------------------------------------------------------------------------
// Upgrade
// ---------------------------------------------------------------------------

enum Decision {
    Accept(usize, Vsn, Receiver<Envelope>),
    Reject,
}

/// Decide on an upgrade request; records it. Runs inside tungstenite's handshake.
fn decide(shared: &Shared, req: &Request) -> (Decision, Result<(), (u16, String)>) {
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query().unwrap_or(""));
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let apikey = headers
        .iter()
        .find(|(k, _)| k == "x-api-key")
        .map(|(_, v)| v.clone())
        .or_else(|| param("apikey"));
    let vsn = match param("vsn").as_deref() {
        None | Some("1.0.0") => Some(Vsn::V1),
        Some("2.0.0") => Some(Vsn::V2),
        Some(_) => None,
    };

    let mut st = shared.lock();
    let verdict: Result<(), (u16, String)> = if let Some(status) = st.script.reject_all_upgrades {
        Err((status, rejection_text(status).to_string()))
    } else if st.script.reject_upgrades > 0 {
        st.script.reject_upgrades -= 1;
        Err((401, "Token has expired".to_string()))
    } else if !path.ends_with("/websocket") {
        Err((404, "Not found".to_string()))
    } else if apikey.as_deref().is_none_or(str::is_empty) {
        Err((401, "API key is missing".to_string()))
    } else if st
        .script
        .require_apikey
        .as_ref()
        .is_some_and(|k| Some(k) != apikey.as_ref())
    {
        Err((401, "The token provided is not a valid JWT".to_string()))
    } else if vsn.is_none() {
        Err((400, "Unsupported serializer version".to_string()))
    } else {
        Ok(())
    };
    let at = shared.now();
    match verdict {
        Ok(()) => {
            let id = st.conns.len();
            let (tx, rx) = crossbeam_channel::unbounded();
            st.conns.push(ConnEntry { id, open: true, tx });
            st.upgrades.push(Upgrade {
                path,
                query,
                headers,
                accepted: true,
                status: 101,
                at,
                conn: Some(id),
            });
            (Decision::Accept(id, vsn.unwrap_or(Vsn::V1), rx), Ok(()))
        }
        Err((status, text)) => {
            st.upgrades.push(Upgrade {
                path,
                query,
                headers,
                accepted: false,
                status,
                at,
                conn: None,
            });
            (Decision::Reject, Err((status, text)))
        }
    }
}

fn rejection_text(status: u16) -> &'static str {
    match status {
        401 => "Token has expired",
        403 => "Realtime was disabled for this tenant",
        404 => "Tenant not found",
        429 => "Too many connected users",
        500 => "Error connecting to Realtime",
        _ => "Error",
    }
}

fn error_response(status: u16, text: &str) -> ErrorResponse {
    let body = json!({ "error": text }).to_string();
    let status = tungstenite::http::StatusCode::from_u16(status)
        .unwrap_or(tungstenite::http::StatusCode::BAD_REQUEST);
    let mut resp = ErrorResponse::new(Some(body.clone()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        tungstenite::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Ok(v) = tungstenite::http::HeaderValue::from_str(&body.len().to_string()) {
        h.insert("content-length", v);
    }
    h.insert(
        "connection",
        tungstenite::http::HeaderValue::from_static("close"),
    );
    resp
}

fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let Ok(raw) = stream.try_clone() else {
        return;
    };
    let decision: Cell<Option<Decision>> = Cell::new(None);
    // The signature is tungstenite's `Callback`; the large error type is theirs.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let (d, verdict) = decide(&shared, req);
        decision.set(Some(d));
        match verdict {
            Ok(()) => Ok(resp),
            Err((status, text)) => Err(error_response(status, &text)),
        }
    };
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let mut attempt = tungstenite::accept_hdr(stream, callback);
    let ws = loop {
        match attempt {
            Ok(ws) => break Some(ws),
            Err(HandshakeError::Interrupted(mid)) => {
                if shared.stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
                    break None;
                }
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(_)) => break None,
        }
    };
    let decision = decision.take();
    let Some(ws) = ws else {
        match decision {
            // Rejected: tungstenite already wrote our error response.
            Some(Decision::Reject) => {}
            // Accepted but the 101 could not be written.
            Some(Decision::Accept(id, _, rx)) => mark_closed(&shared, id, &rx),
            // Not a WebSocket upgrade at all (or it never finished): answer 400 if we can.
            None => {
                if !shared.stop.load(Ordering::SeqCst) {
                    shared.lock().upgrades.push(Upgrade {
                        path: String::new(),
                        query: Vec::new(),
                        headers: Vec::new(),
                        accepted: false,
                        status: 400,
                        at: shared.now(),
                        conn: None,
                    });
                    let body = r#"{"error":"Bad WebSocket upgrade request"}"#;
                    let _ = write!(
                        &raw,
                        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            }
        }
        let _ = raw.shutdown(Shutdown::Both);
        return;
    };
    let Some(Decision::Accept(id, vsn, rx)) = decision else {
        return;
    };
    let mut conn = Conn {
        id,
        vsn,
        ws,
        raw,
        shared: Arc::clone(&shared),
        timers: Vec::new(),
        last_inbound: Instant::now(),
        closing_since: None,
        dead: false,
    };
    conn.run(&rx);
    mark_closed(&shared, id, &rx);
}

/// The connection is over: forget its channels, answer whatever is still queued.
fn mark_closed(shared: &Shared, id: usize, rx: &Receiver<Envelope>) {
    let mut st = shared.lock();
    if let Some(c) = st.conns.get_mut(id) {
        c.open = false;
    }
    st.channels.retain(|c| c.conn != id);
    for env in rx.try_iter() {
        let _ = env.ack.send(());
    }
}

// ---------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------

enum Timer {
    JoinReply {
        topic: String,
        join_ref: Option<String>,
        ref_: Option<String>,
        outcome: JoinBehaviour,
        entries: Vec<Value>,
        token: Option<String>,
    },
    System {
        topic: String,
        join_ref: String,
    },
    Expire {
        topic: String,
        join_ref: String,
    },
}

struct Conn {
    id: usize,
    vsn: Vsn,
    ws: WebSocket<TcpStream>,
    /// A clone of the socket, to hang up hard.
    raw: TcpStream,
    shared: Arc<Shared>,
    timers: Vec<(Instant, Timer)>,
    last_inbound: Instant,
    /// Set when we sent a close frame.
    closing_since: Option<Instant>,
    /// Stop serving (socket gone or hung up).
    dead: bool,
}

/// A parsed inbound frame.
struct Inbound {
    join_ref: Option<String>,
    ref_: Option<String>,
    topic: String,
    event: String,
    payload: Value,
}

impl Conn {
    fn run(&mut self, rx: &Receiver<Envelope>) {
        while !self.dead {
            if self.shared.stop.load(Ordering::SeqCst) {
                self.close(1001, "");
                self.hang_up();
                return;
            }
            if let Some(since) = self.closing_since {
                if since.elapsed() >= CLOSE_GRACE {
                    self.hang_up();
                    return;
                }
            } else {
                while let Ok(env) = rx.try_recv() {
                    self.command(env.cmd);
                    let _ = env.ack.send(());
                    if self.dead {
                        return;
                    }
                }
                self.fire_timers();
                let idle = self.shared.lock().script.idle_timeout;
                if idle.is_some_and(|d| self.last_inbound.elapsed() >= d) {
                    self.close(1000, "");
                }
            }
            if self.dead {
                return;
            }
            match self.ws.read() {
                Ok(msg) => {
                    self.last_inbound = Instant::now();
                    self.message(msg);
                }
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    self.hang_up();
                    return;
                }
            }
        }
    }

    fn hang_up(&mut self) {
        let _ = self.raw.shutdown(Shutdown::Both);
        self.dead = true;
    }

    fn message(&mut self, msg: Message) {
        match msg {
            Message::Text(text) => self.text(text.as_str()),
            // An echo of our own close is not a client close.
            Message::Close(frame) if self.closing_since.is_none() => {
                let (code, reason) = match frame {
                    Some(f) => (Some(u16::from(f.code)), f.reason.as_str().to_string()),
                    None => (None, String::new()),
                };
                self.shared.lock().closes.push((self.id, code, reason));
                // tungstenite queued the echo; the next read flushes it and ends.
                self.closing_since = Some(Instant::now());
            }
            // Binary frames (broadcast kinds), pings (tungstenite answers), pongs: ignored.
            _ => {}
        }
    }

    fn close(&mut self, code: u16, reason: &str) {
        if self.closing_since.is_some() {
            return;
        }
        if matches!(code, 1005 | 1006 | 1015) || code < 1000 {
            self.hang_up();
            return;
        }
        self.closing_since = Some(Instant::now());
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_string().into(),
        };
        if self.ws.close(Some(frame)).is_err() {
            self.hang_up();
        }
    }

    // -- inbound -------------------------------------------------------------

    fn text(&mut self, raw: &str) {
        let at = self.shared.now();
        let parsed = parse_inbound(self.vsn, raw);
        let record = match &parsed {
            Some(f) => RtFrame {
                conn: self.id,
                at,
                join_ref: f.join_ref.clone(),
                ref_: f.ref_.clone(),
                topic: f.topic.clone(),
                event: f.event.clone(),
                payload: f.payload.clone(),
                raw: raw.to_string(),
            },
            None => RtFrame {
                conn: self.id,
                at,
                join_ref: None,
                ref_: None,
                topic: String::new(),
                event: String::new(),
                payload: Value::Null,
                raw: raw.to_string(),
            },
        };
        self.shared.lock().frames.push(record);
        let Some(f) = parsed else {
            eprintln!(
                "fake_realtime: conn {}: malformed frame ignored: {}",
                self.id,
                truncate(raw, 200)
            );
            return;
        };
        match (f.topic.as_str(), f.event.as_str()) {
            ("phoenix", "heartbeat") => {
                let answer = self.shared.lock().script.heartbeat_replies;
                if answer {
                    self.reply(&f, "ok", json!({}));
                }
            }
            (_, "phx_join") => self.join(f),
            (_, "phx_leave") => self.leave(&f),
            (_, "access_token") => self.access_token(&f),
            _ => {}
        }
    }

    fn join(&mut self, f: Inbound) {
        if !f.topic.starts_with("realtime:") {
            // Phoenix answers unknown topics without a join_ref.
            let payload = json!({"status": "error", "response": {"reason": "unmatched topic"}});
            self.send(None, f.ref_.as_deref(), &f.topic, "phx_reply", payload);
            return;
        }
        let token = f
            .payload
            .get("access_token")
            .or_else(|| f.payload.get("user_token"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(t) = &token {
            self.shared.lock().tokens.push(t.clone());
        }
        // A re-join of the same topic replaces the previous incarnation.
        self.timers
            .retain(|(_, t)| !matches!(t, Timer::JoinReply { topic, .. } if *topic == f.topic));
        if let Some(old) = self.take_channel(&f.topic) {
            self.send(
                Some(&old.join_ref),
                Some(&old.join_ref),
                &old.topic,
                "phx_close",
                json!({}),
            );
        }
        let (outcome, delay) = {
            let mut st = self.shared.lock();
            let outcome = if f.topic == "realtime:" {
                JoinBehaviour::Error("TopicNameRequired: You must provide a topic name".into())
            } else if st.script.join_errors_first > 0 {
                st.script.join_errors_first -= 1;
                JoinBehaviour::Error(JOIN_ERROR_REASON.to_string())
            } else {
                st.script.join.clone()
            };
            (outcome, st.script.join_reply_delay)
        };
        if outcome == JoinBehaviour::Withhold {
            return;
        }
        let entries = f
            .payload
            .get("config")
            .and_then(|c| c.get("postgres_changes"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let timer = Timer::JoinReply {
            topic: f.topic,
            join_ref: f.join_ref,
            ref_: f.ref_,
            outcome,
            entries,
            token,
        };
        if delay.is_zero() {
            self.fire(timer);
        } else {
            self.timers.push((Instant::now() + delay, timer));
        }
    }

    fn leave(&mut self, f: &Inbound) {
        self.timers
            .retain(|(_, t)| !matches!(t, Timer::JoinReply { topic, .. } if *topic == f.topic));
        let old = self.take_channel(&f.topic);
        self.reply(f, "ok", json!({}));
        if let Some(old) = old {
            self.send(
                Some(&old.join_ref),
                Some(&old.join_ref),
                &old.topic,
                "phx_close",
                json!({}),
            );
        }
    }

    fn access_token(&mut self, f: &Inbound) {
        let Some(token) = f.payload.get("access_token").and_then(Value::as_str) else {
            return;
        };
        let mut st = self.shared.lock();
        st.tokens.push(token.to_string());
        let id = self.id;
        if let Some(c) = st
            .channels
            .iter_mut()
            .find(|c| c.conn == id && c.topic == f.topic)
        {
            c.token = Some(token.to_string());
        }
        // Never answered, like the real server on success.
    }

    // -- timers and commands ---------------------------------------------------

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(i) = self.timers.iter().position(|(due, _)| *due <= now) {
            let (_, timer) = self.timers.remove(i);
            self.fire(timer);
            if self.dead || self.closing_since.is_some() {
                return;
            }
        }
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::JoinReply {
                topic,
                join_ref,
                ref_,
                outcome,
                entries,
                token,
            } => {
                let request = Inbound {
                    join_ref: join_ref.clone(),
                    ref_: ref_.clone(),
                    topic: topic.clone(),
                    event: "phx_join".into(),
                    payload: Value::Null,
                };
                let reason = match outcome {
                    JoinBehaviour::Error(reason) => reason,
                    JoinBehaviour::Withhold => return,
                    JoinBehaviour::Ok | JoinBehaviour::Mismatch => {
                        let mismatch = outcome == JoinBehaviour::Mismatch;
                        let mut ids = Vec::new();
                        let echoed: Vec<Value> = entries
                            .iter()
                            .map(|e| {
                                let mut e = e.clone();
                                if mismatch {
                                    mangle_filter(&mut e);
                                }
                                let id = binding_id(&e);
                                ids.push(id);
                                if let Some(o) = e.as_object_mut() {
                                    o.insert("id".into(), json!(id));
                                }
                                e
                            })
                            .collect();
                        let join_ref = join_ref.or(ref_).unwrap_or_default();
                        // Joined before the reply leaves: a client that saw the reply
                        // also sees the channel in `joined()`.
                        let (system, expire) = {
                            let mut st = self.shared.lock();
                            st.channels.push(RtChannel {
                                conn: self.id,
                                topic: topic.clone(),
                                join_ref: join_ref.clone(),
                                ids,
                                token,
                            });
                            (st.script.system_delay, st.script.expire_token_after)
                        };
                        self.reply(&request, "ok", json!({"postgres_changes": echoed}));
                        let now = Instant::now();
                        if let Some(d) = expire {
                            let t = Timer::Expire {
                                topic: topic.clone(),
                                join_ref: join_ref.clone(),
                            };
                            self.timers.push((now + d, t));
                        }
                        if let Some(d) = system {
                            let t = Timer::System { topic, join_ref };
                            if d.is_zero() {
                                self.fire(t);
                            } else {
                                self.timers.push((now + d, t));
                            }
                        }
                        return;
                    }
                };
                self.reply(&request, "error", json!({ "reason": reason }));
            }
            Timer::System { topic, join_ref } => {
                if self.has_channel(&topic, &join_ref) {
                    let sub = sub_topic(&topic);
                    let payload = json!({
                        "extension": "postgres_changes",
                        "status": "ok",
                        "message": "Subscribed to PostgreSQL",
                        "channel": sub,
                    });
                    self.send(Some(&join_ref), None, &topic, "system", payload);
                }
            }
            Timer::Expire { topic, join_ref } => {
                if self.has_channel(&topic, &join_ref)
                    && let Some(ch) = self.take_channel(&topic)
                {
                    self.expire(&ch);
                }
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Change(data) => {
                for ch in self.my_channels() {
                    let payload = json!({"ids": ch.ids, "data": data});
                    self.send(None, None, &ch.topic, "postgres_changes", payload);
                }
            }
            Cmd::Raw(text) => self.send_raw(text),
            Cmd::PhxError(payload) => {
                for ch in self.take_all_channels() {
                    let jr = Some(ch.join_ref.as_str());
                    self.send(jr, jr, &ch.topic, "phx_error", payload.clone());
                }
            }
            Cmd::Expire => {
                for ch in self.take_all_channels() {
                    self.expire(&ch);
                }
            }
            Cmd::Close(code, reason) => self.close(code, &reason),
        }
    }

    fn expire(&mut self, ch: &RtChannel) {
        let payload = json!({
            "extension": "system",
            "status": "error",
            "message": TOKEN_EXPIRED_MESSAGE,
            "channel": sub_topic(&ch.topic),
        });
        let jr = Some(ch.join_ref.as_str());
        self.send(jr, None, &ch.topic, "system", payload);
        self.send(jr, jr, &ch.topic, "phx_close", json!({}));
    }

    // -- channel bookkeeping ---------------------------------------------------

    fn my_channels(&self) -> Vec<RtChannel> {
        let id = self.id;
        self.shared
            .lock()
            .channels
            .iter()
            .filter(|c| c.conn == id)
            .cloned()
            .collect()
    }

    fn has_channel(&self, topic: &str, join_ref: &str) -> bool {
        let id = self.id;
        self.shared
            .lock()
            .channels
            .iter()
            .any(|c| c.conn == id && c.topic == topic && c.join_ref == join_ref)
    }

    fn take_channel(&self, topic: &str) -> Option<RtChannel> {
        let id = self.id;
        let mut st = self.shared.lock();
        let i = st
            .channels
            .iter()
            .position(|c| c.conn == id && c.topic == topic)?;
        Some(st.channels.remove(i))
    }

    fn take_all_channels(&self) -> Vec<RtChannel> {
        let id = self.id;
        let mut st = self.shared.lock();
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut st.channels)
            .into_iter()
            .partition(|c| c.conn == id);
        st.channels = rest;
        mine
    }

    // -- outbound ----------------------------------------------------------------

    fn reply(&mut self, req: &Inbound, status: &str, response: Value) {
        let payload = json!({"status": status, "response": response});
        self.send(
            req.join_ref.as_deref(),
            req.ref_.as_deref(),
            &req.topic,
            "phx_reply",
            payload,
        );
    }

    fn send(
        &mut self,
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        event: &str,
        payload: Value,
    ) {
        let text = match self.vsn {
            Vsn::V2 => json!([join_ref, ref_, topic, event, payload]).to_string(),
            Vsn::V1 => {
                json!({"topic": topic, "event": event, "payload": payload, "ref": ref_}).to_string()
            }
        };
        self.send_raw(text);
    }

    fn send_raw(&mut self, text: String) {
        if self.dead || self.closing_since.is_some() {
            return;
        }
        let record = match parse_lenient(&text) {
            Some(f) => RtFrame {
                conn: self.id,
                at: self.shared.now(),
                join_ref: f.join_ref,
                ref_: f.ref_,
                topic: f.topic,
                event: f.event,
                payload: f.payload,
                raw: text.clone(),
            },
            None => RtFrame {
                conn: self.id,
                at: self.shared.now(),
                join_ref: None,
                ref_: None,
                topic: String::new(),
                event: String::new(),
                payload: Value::Null,
                raw: text.clone(),
            },
        };
        self.shared.lock().sent.push(record);
        if self.ws.send(Message::text(text)).is_err() {
            self.hang_up();
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Parse per the socket's serializer; `None` = malformed (logged and dropped, like
/// Phoenix's `MalformedWebSocketMessage`).
fn parse_inbound(vsn: Vsn, raw: &str) -> Option<Inbound> {
    let v: Value = serde_json::from_str(raw).ok()?;
    match vsn {
        Vsn::V2 => parse_array(&v),
        Vsn::V1 => parse_object(&v),
    }
}

/// Either format (for recording what we send, which may be `push_raw` text).
fn parse_lenient(raw: &str) -> Option<Inbound> {
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
fn sub_topic(topic: &str) -> &str {
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
fn mangle_filter(entry: &mut Value) {
    if let Some(o) = entry.as_object_mut() {
        let new = match o.get("filter").and_then(Value::as_str) {
            Some(f) => format!("{f}-mismatch"),
            None => "id=eq.mismatch".to_string(),
        };
        o.insert("filter".into(), Value::String(new));
    }
}

/// Postgres type name for a JSON value (for `columns`).
fn pg_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float8",
        Value::Number(_) => "int8",
        Value::Object(_) | Value::Array(_) => "jsonb",
        Value::String(_) | Value::Null => "text",
    }
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
