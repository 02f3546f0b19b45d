//! One Phoenix channel on one connection: the session the reader thread runs each time it
//! connects.
//!
//! It joins `realtime:results-cli-<uploadId>` with the postgres_changes binding and the
//! user's access token, and pokes the wait loop when the subscription is confirmed
//! (SUBSCRIBED, and again on the "Subscribed to PostgreSQL" system message: changes before it
//! were never sent) and on every change row of this upload. It heartbeats every 25 s and
//! tears down a socket whose heartbeat went unanswered until the next one is due; a refreshed
//! access token is pushed to the joined channel. How the session ended ([`End`]) is the
//! reconnect loop's business (`client`).

use super::frame::{Frame, Vsn};
use super::socket::{self, Stream};
use crate::clock::Timings;
use crossbeam_channel::Sender;
use serde_json::{Value, json};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// What the thread needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    pub vsn: Vsn,
    pub access_token: String,
    pub org_id: String,
    pub upload_id: String,
    pub timings: Timings,
}

impl Config {
    pub fn topic(&self) -> String {
        format!("realtime:results-cli-{}", self.upload_id)
    }

    fn binding(&self) -> Value {
        json!({"event": "*", "schema": "public", "table": "results",
               "filter": format!("org_id=eq.{}", self.org_id)})
    }

    fn join_payload(&self, token: &str) -> Value {
        json!({
            "config": {
                "broadcast": {"ack": false, "self": false},
                "presence": {"key": "", "enabled": false},
                "postgres_changes": [self.binding()],
                "private": false
            },
            "access_token": token
        })
    }
}

/// State shared with the gateway.
#[derive(Debug, Default)]
pub struct Shared {
    pub stop: AtomicBool,
    pub connected: Arc<AtomicBool>,
    /// Message refs, one counter across reconnects (so a re-join has a fresh join_ref).
    pub refs: std::sync::atomic::AtomicU64,
}

/// The channel's scaled timers (realtime-js defaults).
pub(super) struct Timers {
    heartbeat: Duration,
    join_timeout: Duration,
}

impl Timers {
    pub(super) fn new(t: &Timings) -> Timers {
        let s = |secs: f64| Duration::from_secs_f64(secs * t.scale);
        Timers {
            heartbeat: s(25.0),
            join_timeout: s(10.0),
        }
    }
}

/// How a connection ended.
pub(super) enum End {
    Stopped,
    /// `healthy`: it reached SUBSCRIBED, so the failure streak starts over.
    Failed {
        why: String,
        healthy: bool,
    },
}

struct Conn<'a> {
    ws: WebSocket<Stream>,
    vsn: Vsn,
    shared: &'a Shared,
    cfg: &'a Config,
}

impl Conn<'_> {
    fn fresh_ref(&mut self) -> String {
        (self.shared.refs.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }

    fn send(&mut self, f: Frame) -> Result<(), String> {
        self.ws
            .send(Message::text(f.encode(self.vsn)))
            .map_err(|e| format!("send failed: {e}"))
    }

    fn push(
        &mut self,
        join_ref: Option<&str>,
        event: &str,
        payload: Value,
    ) -> Result<String, String> {
        let r = self.fresh_ref();
        let topic = if event == "heartbeat" {
            "phoenix".into()
        } else {
            self.cfg.topic()
        };
        self.send(Frame {
            join_ref: join_ref.map(str::to_string),
            ref_: Some(r.clone()),
            topic,
            event: event.into(),
            payload,
        })?;
        Ok(r)
    }

    /// Leaves the channel (if joined) and closes the socket cleanly, briefly draining replies.
    fn goodbye(&mut self, join_ref: Option<&str>, code: u16, reason: &str) {
        if let Some(j) = join_ref {
            let _ = self.push(Some(j), "phx_leave", json!({}));
        }
        let _ = self.ws.close(Some(tungstenite::protocol::CloseFrame {
            code: code.into(),
            reason: reason.to_string().into(),
        }));
        let deadline = Instant::now() + Duration::from_millis(300);
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
    }
}

fn poke(pokes: &Sender<()>) {
    // A full slot already means "fetch soon": pokes coalesce.
    let _ = pokes.try_send(());
}

/// True when the join reply echoes our one binding (same event, schema, table and filter; null
/// and absent alike), or carries no binding list at all. realtime-js treats a mismatch as a
/// channel error, and so do we.
fn bindings_match(reply: &Value, binding: &Value) -> bool {
    let Some(list) = reply.pointer("/response/postgres_changes") else {
        return true;
    };
    let Some(first) = list.as_array().and_then(|a| a.first()) else {
        return false;
    };
    ["event", "schema", "table", "filter"]
        .iter()
        .all(|k| first.get(*k).filter(|v| !v.is_null()) == binding.get(*k).filter(|v| !v.is_null()))
}

/// One connection, from connect to its end.
pub(super) fn session(
    cfg: &Config,
    timers: &Timers,
    shared: &Shared,
    pokes: &Sender<()>,
    tokens: &Receiver<String>,
    token: &mut String,
) -> End {
    rt_debug!(
        "connecting to {}",
        crate::debug::redact_url(cfg.url.split('?').next().unwrap_or(&cfg.url))
    );
    let ws = match socket::connect(&cfg.url, &cfg.timings) {
        Ok(ws) => ws,
        Err(why) => {
            return End::Failed {
                why,
                healthy: false,
            };
        }
    };
    let c = Conn {
        ws,
        vsn: cfg.vsn,
        shared,
        cfg,
    };
    let mut s = match Session::join(c, timers, pokes, tokens, token) {
        Ok(s) => s,
        Err(why) => {
            return End::Failed {
                why,
                healthy: false,
            };
        }
    };
    loop {
        if let ControlFlow::Break(end) = s.step() {
            return end;
        }
    }
}

/// A joined (or joining) channel on one connection: the state its loop shares.
struct Session<'a> {
    c: Conn<'a>,
    timers: &'a Timers,
    pokes: &'a Sender<()>,
    /// Refreshed access tokens from the gateway.
    tokens: &'a Receiver<String>,
    /// The current access token, kept across sessions for later re-joins.
    token: &'a mut String,
    topic: String,
    /// The join frame's ref, which every frame of this channel incarnation carries.
    join_ref: String,
    /// The join was confirmed.
    joined: bool,
    /// The session reached SUBSCRIBED (reported with a failure, to reset the streak).
    healthy: bool,
    /// When an unanswered join gives up; `None` once answered.
    join_deadline: Option<Instant>,
    next_heartbeat: Instant,
    /// The ref of the heartbeat awaiting its reply.
    pending_heartbeat: Option<String>,
}

impl<'a> Session<'a> {
    /// Sends the `phx_join` on a fresh connection and starts the join and heartbeat timers.
    fn join(
        mut c: Conn<'a>,
        timers: &'a Timers,
        pokes: &'a Sender<()>,
        tokens: &'a Receiver<String>,
        token: &'a mut String,
    ) -> Result<Session<'a>, String> {
        let topic = c.cfg.topic();
        // Phoenix convention: the join frame's `ref` is also the channel's `join_ref`, which
        // every later frame of this channel incarnation carries.
        let join_ref = c.fresh_ref();
        let join = Frame {
            join_ref: Some(join_ref.clone()),
            ref_: Some(join_ref.clone()),
            topic: topic.clone(),
            event: "phx_join".into(),
            payload: c.cfg.join_payload(token),
        };
        c.send(join)?;
        rt_debug!("joining {topic}");
        Ok(Session {
            c,
            timers,
            pokes,
            tokens,
            token,
            topic,
            join_ref,
            joined: false,
            healthy: false,
            join_deadline: Some(Instant::now() + timers.join_timeout),
            next_heartbeat: Instant::now() + timers.heartbeat,
            pending_heartbeat: None,
        })
    }

    /// Ends the session with a failure (healthy if it got as far as SUBSCRIBED).
    fn fail<T>(&self, why: String) -> ControlFlow<End, T> {
        ControlFlow::Break(End::Failed {
            why,
            healthy: self.healthy,
        })
    }

    /// One turn of the loop: stop, token refresh, timers, then at most one incoming frame.
    fn step(&mut self) -> ControlFlow<End> {
        if self.c.shared.stop.load(Ordering::Relaxed) {
            rt_debug!("leaving {}", self.topic);
            self.c
                .goodbye(self.joined.then_some(self.join_ref.as_str()), 1000, "");
            return ControlFlow::Break(End::Stopped);
        }
        self.refresh_token()?;
        let now = Instant::now();
        if self.join_deadline.is_some_and(|d| now >= d) {
            self.c.goodbye(Some(&self.join_ref), 1000, "");
            return self.fail("join timed out".into());
        }
        if now >= self.next_heartbeat {
            self.heartbeat(now)?;
        }
        let Some(text) = self.read_text()? else {
            return ControlFlow::Continue(());
        };
        let Some(f) = Frame::decode(&text) else {
            rt_debug!("ignoring a malformed frame");
            return ControlFlow::Continue(());
        };
        self.handle_frame(&f)
    }

    /// Takes refreshed tokens from the gateway; a new one is pushed to the joined channel,
    /// and goes into later re-joins.
    fn refresh_token(&mut self) -> ControlFlow<End> {
        while let Ok(t) = self.tokens.try_recv() {
            if t != *self.token {
                *self.token = t;
                if self.joined {
                    rt_debug!("pushing a refreshed access token");
                    if let Err(e) = self.c.push(
                        Some(&self.join_ref),
                        "access_token",
                        json!({"access_token": *self.token}),
                    ) {
                        return self.fail(e);
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// The heartbeat is due: fails if the previous one went unanswered, else sends the next.
    fn heartbeat(&mut self, now: Instant) -> ControlFlow<End> {
        if self.pending_heartbeat.is_some() {
            self.c.goodbye(None, 1000, "heartbeat timeout");
            return self.fail("heartbeat timeout".into());
        }
        match self.c.push(None, "heartbeat", json!({})) {
            Ok(r) => self.pending_heartbeat = Some(r),
            Err(e) => return self.fail(e),
        }
        self.next_heartbeat = now + self.timers.heartbeat;
        ControlFlow::Continue(())
    }

    /// Reads one message: its text, `None` when nothing arrived or it is not a text frame, a
    /// failure when the socket closed or broke.
    fn read_text(&mut self) -> ControlFlow<End, Option<String>> {
        let msg = match self.c.ws.read() {
            Ok(m) => m,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return ControlFlow::Continue(None);
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return self.fail("socket closed".into());
            }
            Err(e) => return self.fail(format!("socket error: {e}")),
        };
        match msg {
            Message::Text(t) => ControlFlow::Continue(Some(t.to_string())),
            Message::Close(f) => {
                let why = f.map_or_else(
                    || "server closed the socket".to_string(),
                    |f| {
                        format!(
                            "server closed the socket: {} {}",
                            u16::from(f.code),
                            f.reason
                        )
                    },
                );
                self.fail(why)
            }
            // pings are answered by tungstenite; binary frames are broadcast only
            _ => ControlFlow::Continue(None),
        }
    }

    /// Dispatches a decoded frame: heartbeat replies, then this channel incarnation's join
    /// reply, system messages, changes, and close/error.
    fn handle_frame(&mut self, f: &Frame) -> ControlFlow<End> {
        if f.topic == "phoenix" {
            if f.event == "phx_reply" && f.ref_.is_some() && f.ref_ == self.pending_heartbeat {
                self.pending_heartbeat = None;
            }
            return ControlFlow::Continue(());
        }
        if f.topic != self.topic {
            return ControlFlow::Continue(());
        }
        if f.join_ref.as_ref().is_some_and(|j| *j != self.join_ref) {
            return ControlFlow::Continue(()); // a stale incarnation of the channel
        }
        match f.event.as_str() {
            "phx_reply" if f.ref_.as_deref() == Some(self.join_ref.as_str()) => self.join_reply(f),
            "system" => {
                self.system(f);
                ControlFlow::Continue(())
            }
            "postgres_changes" => {
                self.change(f);
                ControlFlow::Continue(())
            }
            "phx_close" => {
                self.c.goodbye(None, 1000, "");
                self.fail("channel CLOSED by the server".into())
            }
            "phx_error" => {
                self.c.goodbye(None, 1000, "");
                self.fail("channel CHANNEL_ERROR: transport failure".into())
            }
            _ => ControlFlow::Continue(()),
        }
    }

    /// The join reply: SUBSCRIBED (connected, poke) when ok with matching bindings, else the
    /// session fails.
    fn join_reply(&mut self, f: &Frame) -> ControlFlow<End> {
        self.join_deadline = None;
        match f.payload.get("status").and_then(Value::as_str) {
            Some("ok") if bindings_match(&f.payload, &self.c.cfg.binding()) => {
                self.joined = true;
                self.healthy = true;
                self.c.shared.connected.store(true, Ordering::Relaxed);
                rt_debug!("subscribed");
                poke(self.pokes);
                ControlFlow::Continue(())
            }
            Some("ok") => {
                self.c.goodbye(Some(&self.join_ref), 1000, "");
                self.fail("mismatch between server and client bindings".into())
            }
            _ => {
                let reason = f
                    .payload
                    .pointer("/response/reason")
                    .and_then(Value::as_str)
                    .unwrap_or("join refused");
                self.c.goodbye(None, 1000, "");
                self.fail(format!(
                    "channel CHANNEL_ERROR: {}",
                    crate::sanitize::one_line(reason, 200)
                ))
            }
        }
    }

    /// A system message: logged; "Subscribed to PostgreSQL" (postgres_changes ok) pokes.
    fn system(&self, f: &Frame) {
        let ext = f.payload.get("extension").and_then(Value::as_str);
        let status = f.payload.get("status").and_then(Value::as_str);
        let message = f
            .payload
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("");
        rt_debug!(
            "system {}/{}: {}",
            ext.unwrap_or("?"),
            status.unwrap_or("?"),
            crate::sanitize::one_line(message, 200)
        );
        if ext == Some("postgres_changes") && status == Some("ok") {
            poke(self.pokes);
        }
    }

    /// A change row: pokes when it belongs to this upload.
    fn change(&self, f: &Frame) {
        let id = f
            .payload
            .pointer("/data/record/test_upload_id")
            .and_then(Value::as_str);
        if id == Some(self.c.cfg.upload_id.as_str()) {
            rt_debug!("change for upload {}", self.c.cfg.upload_id);
            poke(self.pokes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_payload_matches_realtime_js() {
        let cfg = Config {
            url: String::new(),
            vsn: Vsn::V2,
            access_token: "jwt".into(),
            org_id: "42".into(),
            upload_id: "u1".into(),
            timings: Timings::scaled(1.0),
        };
        assert_eq!(cfg.topic(), "realtime:results-cli-u1");
        assert_eq!(
            cfg.join_payload("jwt").to_string(),
            r#"{"config":{"broadcast":{"ack":false,"self":false},"presence":{"key":"","enabled":false},"postgres_changes":[{"event":"*","schema":"public","table":"results","filter":"org_id=eq.42"}],"private":false},"access_token":"jwt"}"#
        );
    }

    #[test]
    fn binding_check_follows_realtime_js() {
        let b =
            json!({"event": "*", "schema": "public", "table": "results", "filter": "org_id=eq.42"});
        let ok = json!({"status": "ok", "response": {"postgres_changes": [
            {"event": "*", "schema": "public", "table": "results", "filter": "org_id=eq.42", "id": 7}]}});
        assert!(bindings_match(&ok, &b));
        assert!(bindings_match(&json!({"status": "ok", "response": {}}), &b));
        let other = json!({"status": "ok", "response": {"postgres_changes": [
            {"event": "*", "schema": "public", "table": "results", "filter": "org_id=eq.43", "id": 7}]}});
        assert!(!bindings_match(&other, &b));
        assert!(!bindings_match(
            &json!({"response": {"postgres_changes": []}}),
            &b
        ));
    }
}
