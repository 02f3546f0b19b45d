//! A loopback fake of the Supabase Realtime server (Phoenix channels over WebSocket),
//! just enough of it for `postgres_changes` subscriptions
//! (/work/shared/reference/realtime-protocol.md, s.13.3).
//!
//! The end-to-end tests need a server that accepts the `dcd` realtime client's socket,
//! answers joins and heartbeats the way the real server does (vsn 1.0.0 object frames and
//! 2.0.0 array frames), and misbehaves on cue: join errors, withheld replies, token
//! expiry, channel crashes, server-side closes, rejected upgrades, idle timeouts. It
//! records everything it saw and sent so tests can assert on the wire. The conformance
//! test (`tests/integration/realtime_conformance.rs`) runs the real `@supabase/realtime-js`
//! client against it, which keeps this fake honest.
//!
//! Like the fake cloud it is std threads only: a `TcpListener`, one thread per
//! connection doing the tungstenite handshake and then a poll loop (a short read timeout
//! on the socket) that also drains the connection's control queue and fires its timers.
//! Live controls (`push_change`, `phx_error`, `close_all`, ...) are applied by every open
//! connection before they return. Loopback (`127.0.0.1`, ephemeral port) only.
//!
//! The code, by file: this one has the server ([`FakeRealtime`]: its records and live
//! controls) and the state its connections share; `script.rs` is what it does
//! ([`RtScript`]), `records.rs` what it saw and sent, `upgrade.rs` the HTTP upgrade (accepted
//! or rejected), `conn.rs` one connection's Phoenix channel protocol (joins, heartbeats,
//! timers, live commands) and `frames.rs` frame parsing and the binding ids.

#![allow(dead_code)]

mod conn;
mod frames;
mod records;
mod script;
mod upgrade;

pub use frames::binding_id;
pub use records::{RtChannel, RtFrame, Upgrade};
pub use script::{JoinBehaviour, RtScript};

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use serde_json::{Value, json};

// Sibling modules in the test support tree and in the examples that load the fakes.
use super::iso::iso_now;
use conn::serve;
use frames::pg_type;

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
