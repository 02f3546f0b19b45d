//! Smoke tests of the fake Realtime server itself (tests/support/fake_realtime/), driven by
//! a plain tungstenite client over loopback `ws://`.
//!
//! The realtime end-to-end tests run dcd against the fake, and `realtime_conformance.rs`
//! runs the real `@supabase/realtime-js` client against it: together they prove the joins,
//! both serializer versions, heartbeats, refused upgrades, closes, token expiry, channel
//! errors and mismatched bindings. What stays here is one happy path at the wire level and
//! what neither uses: a delayed join reply, the API-key check of the upgrade, `phx_error`
//! with a payload, a duplicate join, garbage from a client, the idle timeout, `push_raw`
//! and closing on drop.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::fake_realtime::{FakeRealtime, JoinBehaviour, RtScript, binding_id};
use serde_json::{Value, json};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

/// Generous: how long a reply, a close or a recorded event may take on a loaded machine.
const WAIT: Duration = Duration::from_secs(5);
const TOPIC: &str = "realtime:results-cli-42";

fn b0() -> Value {
    json!({"event": "*", "schema": "public", "table": "results", "filter": "org_id=eq.42"})
}
fn b1() -> Value {
    json!({"event": "INSERT", "schema": "public", "table": "results"})
}

/// The join payload realtime-js sends (s.4.2).
fn join_payload(bindings: Vec<Value>, token: Option<&str>) -> Value {
    let mut p = json!({"config": {
        "broadcast": {"ack": false, "self": false},
        "presence": {"key": "", "enabled": false},
        "postgres_changes": bindings,
        "private": false,
    }});
    if let Some(t) = token {
        p["access_token"] = json!(t);
    }
    p
}

fn join_v2(jr: &str, topic: &str, token: Option<&str>) -> Value {
    json!([
        jr,
        jr,
        topic,
        "phx_join",
        join_payload(vec![b0(), b1()], token)
    ])
}

struct Client {
    ws: WebSocket<TcpStream>,
}

impl Client {
    /// Connect to `/realtime/v1/websocket?<query>`; panics when refused.
    fn connect(fake: &FakeRealtime, query: &str) -> Client {
        match Client::try_connect(fake, "/realtime/v1/websocket", query) {
            Ok(c) => c,
            Err((status, body)) => panic!("upgrade refused: {status} {body}"),
        }
    }

    fn v2(fake: &FakeRealtime) -> Client {
        Client::connect(fake, "apikey=test-anon-key&vsn=2.0.0")
    }

    /// `Err((status, body))` when the server answered with an HTTP error.
    fn try_connect(fake: &FakeRealtime, path: &str, query: &str) -> Result<Client, (u16, String)> {
        let stream = TcpStream::connect(fake.addr()).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let url = format!("ws://{}{path}?{query}", fake.addr());
        match tungstenite::client(url.as_str(), stream) {
            Ok((ws, _)) => Ok(Client { ws }),
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                let body = resp
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err((resp.status().as_u16(), body))
            }
            Err(e) => panic!("handshake: {e}"),
        }
    }

    fn send(&mut self, v: Value) {
        self.send_text(&v.to_string());
    }

    fn send_text(&mut self, s: &str) {
        self.ws.send(Message::text(s)).expect("send");
    }

    /// Next message of any kind within `timeout`.
    fn next(&mut self, timeout: Duration) -> Option<Message> {
        self.ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let deadline = Instant::now() + timeout;
        loop {
            match self.ws.read() {
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(m) => return Some(m),
                Err(tungstenite::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    if Instant::now() >= deadline {
                        return None;
                    }
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Next text frame, parsed.
    fn recv(&mut self) -> Value {
        match self.next(WAIT) {
            Some(Message::Text(t)) => serde_json::from_str(t.as_str()).expect("json frame"),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// No text frame arrives within `d`.
    fn silent_for(&mut self, d: Duration) -> bool {
        match self.next(d) {
            None => true,
            Some(m) => {
                eprintln!("unexpected: {m:?}");
                false
            }
        }
    }

    /// The server's close frame (code, reason), or None on a bare EOF.
    fn expect_close(&mut self) -> Option<(u16, String)> {
        self.ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            match self.ws.read() {
                Ok(Message::Close(f)) => {
                    // Send tungstenite's queued echo so the server can hang up now.
                    let _ = self.ws.flush();
                    return f.map(|f| (u16::from(f.code), f.reason.as_str().to_string()));
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    assert!(Instant::now() < deadline, "no close within {WAIT:?}");
                }
                Err(_) => return None,
            }
        }
    }

    /// Join `TOPIC` (vsn 2.0.0) with ref `jr` and return the binding ids from the ok reply.
    fn join_ok(&mut self, jr: &str) -> Vec<u64> {
        self.send(join_v2(jr, TOPIC, Some("user-jwt-1")));
        let reply = self.recv();
        assert_eq!(reply[3], "phx_reply", "{reply}");
        assert_eq!(reply[4]["status"], "ok", "{reply}");
        reply[4]["response"]["postgres_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_u64().unwrap())
            .collect()
    }
}

fn ids_of(b: &[Value]) -> Vec<u64> {
    b.iter().map(binding_id).collect()
}

#[test]
fn happy_path_vsn2() {
    let fake = FakeRealtime::start(RtScript::default());
    let mut c = Client::connect(&fake, "apikey=test-anon-key&log_level=info&vsn=2.0.0");

    let up = &fake.upgrades()[0];
    assert!(up.accepted);
    assert_eq!(up.status, 101);
    assert_eq!(up.path, "/realtime/v1/websocket");
    assert_eq!(up.query_param("apikey"), Some("test-anon-key"));
    assert_eq!(up.query_param("vsn"), Some("2.0.0"));
    assert!(up.header("sec-websocket-key").is_some());
    assert_eq!(fake.connections(), 1);
    assert_eq!(fake.open_connections(), 1);

    // Join: ok reply echoing the bindings with integer ids, then the system message.
    c.send(join_v2("6", TOPIC, Some("user-jwt-1")));
    let reply = c.recv();
    let ids = ids_of(&[b0(), b1()]);
    let mut e0 = b0();
    e0["id"] = json!(ids[0]);
    let mut e1 = b1();
    e1["id"] = json!(ids[1]);
    assert_eq!(
        reply,
        json!(["6", "6", TOPIC, "phx_reply", {"status": "ok", "response": {"postgres_changes": [e0, e1]}}])
    );
    assert!(ids.iter().all(|id| *id < 1 << 27));
    assert_ne!(ids[0], ids[1]);
    // The id is added after the client's keys, like the real server's echo.
    assert!(
        reply
            .to_string()
            .contains(r#""filter":"org_id=eq.42","id":"#)
    );
    let system = c.recv();
    assert_eq!(
        system,
        json!(["6", null, TOPIC, "system", {"extension": "postgres_changes", "status": "ok",
               "message": "Subscribed to PostgreSQL", "channel": "results-cli-42"}])
    );
    assert_eq!(fake.joined(), vec![TOPIC.to_string()]);
    let ch = &fake.channels()[0];
    assert_eq!(ch.join_ref, "6");
    assert_eq!(ch.ids, ids);
    assert_eq!(ch.token.as_deref(), Some("user-jwt-1"));

    // Heartbeat.
    c.send(json!([null, "7", "phoenix", "heartbeat", {}]));
    assert_eq!(
        c.recv(),
        json!([null, "7", "phoenix", "phx_reply", {"status": "ok", "response": {}}])
    );

    // A change: every binding id, the record, a PK-only old record.
    fake.push_change(json!({"id": 7, "status": "PASSED", "org_id": 42}));
    let change = c.recv();
    assert_eq!(change[0], Value::Null);
    assert_eq!(change[1], Value::Null);
    assert_eq!(change[2], TOPIC);
    assert_eq!(change[3], "postgres_changes");
    assert_eq!(change[4]["ids"], json!(ids));
    let data = &change[4]["data"];
    assert_eq!(data["schema"], "public");
    assert_eq!(data["table"], "results");
    assert_eq!(data["type"], "UPDATE");
    assert_eq!(
        data["record"],
        json!({"id": 7, "status": "PASSED", "org_id": 42})
    );
    assert_eq!(data["old_record"], json!({"id": 7}));
    assert_eq!(data["errors"], Value::Null);
    assert_eq!(data["columns"][0], json!({"name": "id", "type": "int8"}));
    assert_eq!(
        data["columns"][1],
        json!({"name": "status", "type": "text"})
    );
    let ts = data["commit_timestamp"].as_str().unwrap();
    assert!(ts.len() == 24 && ts.ends_with('Z'), "{ts}");

    // access_token: recorded, never answered.
    c.send(json!(["6", "8", TOPIC, "access_token", {"access_token": "user-jwt-2"}]));
    assert!(c.silent_for(Duration::from_millis(60)));
    assert_eq!(fake.tokens(), vec!["user-jwt-1", "user-jwt-2"]);
    assert_eq!(fake.channels()[0].token.as_deref(), Some("user-jwt-2"));

    // Leave: ok reply, then phx_close with the join_ref in both slots.
    c.send(json!(["6", "9", TOPIC, "phx_leave", {}]));
    assert_eq!(
        c.recv(),
        json!(["6", "9", TOPIC, "phx_reply", {"status": "ok", "response": {}}])
    );
    assert_eq!(c.recv(), json!(["6", "6", TOPIC, "phx_close", {}]));
    assert!(fake.joined().is_empty());

    // Everything was recorded.
    let events: Vec<String> = fake.frames().iter().map(|f| f.event.clone()).collect();
    assert_eq!(
        events,
        ["phx_join", "heartbeat", "access_token", "phx_leave"]
    );
    let join = &fake.events("phx_join")[0];
    assert_eq!(join.join_ref.as_deref(), Some("6"));
    assert_eq!(join.ref_.as_deref(), Some("6"));
    assert_eq!(join.topic, TOPIC);
    assert_eq!(
        join.payload["config"]["postgres_changes"],
        json!([b0(), b1()])
    );
    let sent: Vec<String> = fake.sent().iter().map(|f| f.event.clone()).collect();
    assert_eq!(
        sent,
        [
            "phx_reply",
            "system",
            "phx_reply",
            "postgres_changes",
            "phx_reply",
            "phx_close"
        ]
    );

    // A client close is recorded.
    c.ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "heartbeat timeout".into(),
    }))
    .unwrap();
    assert!(fake.wait_until("client close", WAIT, |f| !f.closes().is_empty()));
    assert_eq!(
        fake.closes(),
        vec![(0, Some(1000), "heartbeat timeout".to_string())]
    );
    assert!(fake.wait_until("socket gone", WAIT, |f| f.open_connections() == 0));
}

#[test]
fn join_withheld_and_delayed() {
    let fake = FakeRealtime::start(RtScript {
        join: JoinBehaviour::Withhold,
        ..RtScript::default()
    });
    let mut c = Client::v2(&fake);
    c.send(join_v2("1", TOPIC, Some("t")));
    assert!(c.silent_for(Duration::from_millis(100)));
    assert!(fake.joined().is_empty());
    // Leaving an unjoined topic: ok reply, no phx_close.
    c.send(json!(["1", "2", TOPIC, "phx_leave", {}]));
    assert_eq!(c.recv()[4]["status"], "ok");
    assert!(c.silent_for(Duration::from_millis(60)));

    fake.set(|s| {
        s.join = JoinBehaviour::Ok;
        s.join_reply_delay = Duration::from_millis(150);
    });
    let t0 = Instant::now();
    c.send(join_v2("3", TOPIC, Some("t")));
    assert_eq!(c.recv()[4]["status"], "ok");
    assert!(
        t0.elapsed() >= Duration::from_millis(140),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn upgrades_rejected_with_http_errors() {
    let fake = FakeRealtime::start(RtScript {
        reject_all_upgrades: Some(401),
        require_apikey: Some("good".into()),
        ..RtScript::default()
    });
    let (status, body) = Client::try_connect(&fake, "/realtime/v1/websocket", "apikey=good")
        .err()
        .unwrap();
    assert_eq!(status, 401);
    assert_eq!(body, r#"{"error":"Token has expired"}"#);

    fake.set(|s| s.reject_all_upgrades = Some(429));
    let (status, body) = Client::try_connect(&fake, "/realtime/v1/websocket", "apikey=good")
        .err()
        .unwrap();
    assert_eq!(
        (status, body.as_str()),
        (429, r#"{"error":"Too many connected users"}"#)
    );

    fake.set(|s| s.reject_all_upgrades = None);
    let refused = |path: &str, query: &str| {
        Client::try_connect(&fake, path, query)
            .err()
            .expect("refused")
    };
    assert_eq!(
        refused("/realtime/v1/websocket", "vsn=2.0.0"),
        (401, r#"{"error":"API key is missing"}"#.to_string())
    );
    assert_eq!(refused("/realtime/v1/websocket", "apikey=bad").0, 401);
    assert_eq!(refused("/realtime/v1/other", "apikey=good").0, 404);
    assert_eq!(
        refused("/realtime/v1/websocket", "apikey=good&vsn=3.0.0").0,
        400
    );
    // Accepted: any prefix before /websocket; the x-api-key header is not needed here.
    let _c = Client::try_connect(&fake, "/socket/websocket", "apikey=good&vsn=2.0.0")
        .ok()
        .unwrap();

    let ups = fake.upgrades();
    let statuses: Vec<u16> = ups.iter().map(|u| u.status).collect();
    assert_eq!(statuses, [401, 429, 401, 401, 404, 400, 101]);
    assert_eq!(ups.iter().filter(|u| u.accepted).count(), 1);
    assert_eq!(ups[6].conn, Some(0));
    assert_eq!(fake.connections(), 1);
}

#[test]
fn phx_error_frame() {
    let fake = FakeRealtime::start(RtScript {
        system_delay: None,
        ..RtScript::default()
    });
    let mut c = Client::v2(&fake);
    c.join_ok("6");
    fake.phx_error();
    assert_eq!(
        c.recv(),
        json!(["6", "6", TOPIC, "phx_error", {"reason": "channel_crash"}])
    );
    assert!(fake.joined().is_empty());
    c.join_ok("8");
    fake.phx_error_with(json!({}));
    assert_eq!(c.recv(), json!(["8", "8", TOPIC, "phx_error", {}]));
}

#[test]
fn duplicate_join_closes_the_old_one() {
    let fake = FakeRealtime::start(RtScript {
        system_delay: Some(Duration::ZERO),
        ..RtScript::default()
    });
    let mut c = Client::v2(&fake);
    c.join_ok("1");
    assert_eq!(c.recv()[3], "system", "zero delay: right after the reply");
    c.send(join_v2("3", TOPIC, Some("user-jwt-2")));
    assert_eq!(c.recv(), json!(["1", "1", TOPIC, "phx_close", {}]));
    let reply = c.recv();
    assert_eq!((&reply[0], &reply[3]), (&json!("3"), &json!("phx_reply")));
    assert_eq!(c.recv()[0], "3");
    assert_eq!(fake.joined(), vec![TOPIC.to_string()]);
    assert_eq!(fake.channels()[0].join_ref, "3");
    // Identical bindings, identical ids, whatever the key order.
    let reordered =
        json!({"table": "results", "filter": "org_id=eq.42", "schema": "public", "event": "*"});
    assert_eq!(binding_id(&reordered), binding_id(&b0()));
    assert_eq!(fake.channels()[0].ids, ids_of(&[b0(), b1()]));
}

#[test]
fn garbage_is_tolerated() {
    let fake = FakeRealtime::start(RtScript::default());
    let mut c = Client::v2(&fake);
    for junk in [
        "not json",
        "[1,2]",
        "{}",
        r#"[null,"1","phoenix"]"#,
        r#"[{},"1","phoenix","heartbeat",{}]"#,
        r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}"#,
        r#"[null,"1",7,"heartbeat",{}]"#,
        "%%%\u{1F600}",
    ] {
        c.send_text(junk);
    }
    c.ws.send(Message::binary(vec![3u8, 0, 255, 9])).unwrap();
    c.send(json!([null, "2", "realtime:x", "some_unknown_event", {}]));
    c.send(json!([null, "3", "phoenix", "heartbeat", {}]));
    // Only the last heartbeat is answered.
    assert_eq!(c.recv()[1], "3");
    assert!(c.silent_for(Duration::from_millis(50)));
    let frames = fake.frames();
    assert_eq!(frames.iter().filter(|f| f.is_malformed()).count(), 8);
    assert_eq!(frames.len(), 10);

    // Garbage upgrade requests and query strings do not hurt either.
    let raw = TcpStream::connect(fake.addr()).unwrap();
    std::io::Write::write_all(&mut &raw, b"GARBAGE\r\n\r\n").unwrap();
    let _ = Client::try_connect(&fake, "/realtime/v1/websocket", "apikey=%zz%&vsn=2.0.0&&=");
    assert!(fake.wait_until("400 recorded", WAIT, |f| {
        f.upgrades().iter().any(|u| u.status == 400)
    }));
    c.send(json!([null, "4", "phoenix", "heartbeat", {}]));
    assert_eq!(c.recv()[1], "4");
}

#[test]
fn idle_timeout_closes_with_1000() {
    let idle = Duration::from_secs(1);
    let fake = FakeRealtime::start(RtScript {
        idle_timeout: Some(idle),
        ..RtScript::default()
    });
    let mut c = Client::v2(&fake);
    // Inbound traffic keeps it alive: two idle periods pass in all.
    let t0 = Instant::now();
    let mut i = 0;
    while t0.elapsed() < idle * 2 {
        std::thread::sleep(idle / 10);
        c.send(json!([null, i.to_string(), "phoenix", "heartbeat", {}]));
        c.recv();
        i += 1;
    }
    let t0 = Instant::now();
    assert_eq!(c.expect_close(), Some((1000, String::new())));
    assert!(t0.elapsed() >= idle / 2, "{:?}", t0.elapsed());
    assert!(fake.wait_until("closed", WAIT, |f| f.open_connections() == 0));
}

#[test]
fn push_raw_and_drop_closes_sockets() {
    let fake = FakeRealtime::start(RtScript::default());
    let mut c = Client::v2(&fake);
    fake.push_raw(r#"["999",null,"realtime:x","postgres_changes",{"ids":[1]}]"#);
    assert_eq!(c.recv()[0], "999");
    let sent = fake.sent();
    assert_eq!(sent[0].join_ref.as_deref(), Some("999"));
    assert_eq!(sent[0].event, "postgres_changes");
    drop(fake);
    assert_eq!(c.expect_close(), Some((1001, String::new())));
}
