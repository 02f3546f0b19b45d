//! One connection: the handshake, then a poll loop that reads frames, drains the live
//! control queue and fires timers; joins, leaves, heartbeats, access-token pushes, token
//! expiry and closes, answered per the negotiated serializer.

use std::cell::Cell;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_channel::Receiver;
use serde_json::{Value, json};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{HandshakeError, Message, WebSocket};

use super::frames::{Inbound, mangle_filter, parse_inbound, parse_lenient, sub_topic, truncate};
use super::records::{RtChannel, RtFrame, Upgrade, Vsn};
use super::script::JoinBehaviour;
use super::upgrade::{Decision, decide, error_response};
use super::{
    CLOSE_GRACE, Cmd, Envelope, HANDSHAKE_TIMEOUT, JOIN_ERROR_REASON, POLL, Shared,
    TOKEN_EXPIRED_MESSAGE, WRITE_TIMEOUT, binding_id,
};

pub(super) fn serve(stream: TcpStream, shared: Arc<Shared>) {
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
