//! Conformance: the real `@supabase/realtime-js` client (pinned in
//! tests/conformance/package.json) against the Rust fake Realtime server.
//!
//! The `dcd` realtime client is tested end to end against `tests/support/fake_realtime/`;
//! those tests prove nothing if the fake drifts from the real server. The reference client is the
//! best available oracle short of a live project: if realtime-js reaches SUBSCRIBED,
//! decodes our `postgres_changes` frames, and reacts to our errors, closes and withheld
//! replies exactly as it did against the real server (protocol doc s.12), the fake is
//! honest. Each test starts the fake in-process with a scenario script, runs
//! `node tests/conformance/driver.js ws://127.0.0.1:PORT/realtime/v1 <scenario>`, reads
//! its JSON lines and drives the fake between them.
//!
//! Without `node` (or when the npm modules cannot be installed) every test prints a
//! `SKIPPED:` line and passes, so `cargo test` works on machines without Node.

use std::io::{BufRead, BufReader, Read};

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::fake_realtime::{
    FakeRealtime, JOIN_ERROR_REASON, JoinBehaviour, RtScript, TOKEN_EXPIRED_MESSAGE,
};
use crossbeam_channel::Receiver;
use serde_json::{Value, json};

const UPLOAD_ID: &str = "11111111-2222-3333-4444-555555555555";
/// How long any single expectation may take (the driver gives up after 5 s itself).
const WAIT: Duration = Duration::from_secs(5);

fn channel_name() -> String {
    format!("results-cli-{UPLOAD_ID}")
}

fn binding() -> Value {
    json!({"event": "*", "schema": "public", "table": "results", "filter": "org_id=eq.42"})
}

/// Node is on PATH and this test's pinned modules are installed.
fn node_ready() -> bool {
    crate::support::node_ready("realtime-js conformance", &["@supabase/realtime-js", "ws"])
}

/// A running `driver.js` and the JSON lines it printed so far.
struct Driver {
    scenario: String,
    child: Child,
    lines: Receiver<Value>,
    seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
}

impl Driver {
    fn spawn(fake: &FakeRealtime, scenario: &str) -> Driver {
        let dir = crate::support::conformance_dir();
        let mut child = Command::new("node")
            .arg(dir.join("driver.js"))
            .arg(fake.ws_url())
            .arg(scenario)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn node driver.js");
        let (tx, rx) = crossbeam_channel::unbounded();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line).unwrap_or_else(|_| json!({"raw": line}));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            *sink.lock().unwrap() = s;
        });
        Driver {
            scenario: scenario.to_string(),
            child,
            lines: rx,
            seen: Vec::new(),
            stderr,
        }
    }

    /// The first line (already seen or arriving within [`WAIT`]) matching `pred`.
    fn wait_for(
        &mut self,
        fake: &FakeRealtime,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_from(fake, 0, what, pred).1
    }

    /// Like [`Driver::wait_for`], only looking at lines from index `from` on; returns
    /// the line's index too.
    fn wait_from(
        &mut self,
        fake: &FakeRealtime,
        from: usize,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> (usize, Value) {
        let deadline = Instant::now() + WAIT;
        let mut i = from;
        loop {
            while i < self.seen.len() {
                if pred(&self.seen[i]) {
                    return (i, self.seen[i].clone());
                }
                i += 1;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => self.seen.push(v),
                Err(_) => self.fail(fake, &format!("waiting for {what}")),
            }
        }
    }

    /// Index of the first `status` line with this status at or after `from`.
    fn status(&mut self, fake: &FakeRealtime, from: usize, status: &str) -> (usize, Value) {
        self.wait_from(fake, from, &format!("status {status}"), |l| {
            l["kind"] == "status" && l["status"] == status
        })
    }

    /// The driver says its expectation is met and exits 0.
    fn done(&mut self, fake: &FakeRealtime) {
        self.wait_for(fake, "done", |l| l["kind"] == "done");
        let deadline = Instant::now() + WAIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) if s.success() => return,
                Ok(Some(s)) => self.fail(fake, &format!("driver exited with {s}")),
                _ if Instant::now() >= deadline => self.fail(fake, "driver exit"),
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    fn statuses(&self) -> Vec<String> {
        self.seen
            .iter()
            .filter(|l| l["kind"] == "status")
            .map(|l| l["status"].as_str().unwrap_or("").to_string())
            .collect()
    }

    fn fail(&mut self, fake: &FakeRealtime, what: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        while let Ok(v) = self.lines.try_recv() {
            self.seen.push(v);
        }
        let mut report = format!("scenario {}: {what}\n--- driver lines ---\n", self.scenario);
        for l in &self.seen {
            report.push_str(&format!("{l}\n"));
        }
        report.push_str("--- driver stderr ---\n");
        report.push_str(&self.stderr.lock().unwrap());
        report.push_str("\n--- fake: upgrades ---\n");
        for u in fake.upgrades() {
            report.push_str(&format!("{} {}?{:?}\n", u.status, u.path, u.query));
        }
        report.push_str("--- fake: frames in (<) and out (>) ---\n");
        let mut all: Vec<(Duration, char, String)> = fake
            .frames()
            .into_iter()
            .map(|f| (f.at, '<', format!("conn {} {}", f.conn, f.raw)))
            .chain(
                fake.sent()
                    .into_iter()
                    .map(|f| (f.at, '>', format!("conn {} {}", f.conn, f.raw))),
            )
            .collect();
        all.sort_by_key(|(at, ..)| *at);
        for (at, dir, text) in all {
            report.push_str(&format!("{:>6} {dir} {text}\n", at.as_millis()));
        }
        report.push_str(&format!("closes: {:?}\n", fake.closes()));
        panic!("{report}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// realtime-js's join: our binding, the token from `setAuth`.
fn assert_join_frame(fake: &FakeRealtime) {
    let join = &fake.events("phx_join")[0];
    assert_eq!(join.topic, format!("realtime:{}", channel_name()));
    assert_eq!(join.join_ref, join.ref_, "join_ref == ref on a join");
    assert_eq!(
        join.payload["config"]["postgres_changes"],
        json!([binding()])
    );
    assert_eq!(join.payload["access_token"], "user-jwt-1");
}

#[test]
fn subscribe() {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript::default());
    let mut d = Driver::spawn(&fake, "subscribe");
    d.status(&fake, 0, "SUBSCRIBED");
    let system = d.wait_for(&fake, "system message", |l| l["kind"] == "system");
    assert_eq!(
        system["payload"],
        json!({"extension": "postgres_changes", "status": "ok",
               "message": "Subscribed to PostgreSQL", "channel": channel_name()})
    );
    d.done(&fake);

    assert_join_frame(&fake);
    assert_eq!(fake.tokens(), vec!["user-jwt-1"]);
    let up = &fake.upgrades()[0];
    assert_eq!(up.path, "/realtime/v1/websocket");
    assert_eq!(up.query_param("apikey"), Some("test-anon-key"));
    assert_eq!(
        up.query.last(),
        Some(&("vsn".to_string(), "2.0.0".to_string()))
    );
    assert!(up.header("sec-websocket-protocol").is_none());
    // disconnect(): a close frame without a status (1005 on the wire).
    assert!(fake.wait_until("client close", WAIT, |f| !f.closes().is_empty()));
    assert_eq!(fake.closes()[0].1, None);
}

fn change_scenario(scenario: &str, vsn: &str) {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript::default());
    let mut d = Driver::spawn(&fake, scenario);
    d.status(&fake, 0, "SUBSCRIBED");
    let record = json!({"id": 7, "status": "PASSED", "org_id": 42,
                        "test_file_name": "./flows/login.yaml", "duration_seconds": 12.5});
    fake.push_change(record.clone());
    let change = d.wait_for(&fake, "postgres_changes callback", |l| {
        l["kind"] == "change"
    });
    let p = &change["payload"];
    assert_eq!(p["new"], record);
    assert_eq!(p["old"], json!({"id": 7}));
    assert_eq!(p["eventType"], "UPDATE");
    assert_eq!(p["schema"], "public");
    assert_eq!(p["table"], "results");
    assert_eq!(p["errors"], Value::Null);
    assert!(p["commit_timestamp"].is_string());
    d.done(&fake);
    assert_join_frame(&fake);
    assert_eq!(fake.upgrades()[0].query_param("vsn"), Some(vsn));
}

#[test]
fn change() {
    change_scenario("change", "2.0.0");
}

#[test]
fn change_vsn1() {
    change_scenario("change-v1", "1.0.0");
}

#[test]
fn join_error_then_rejoin() {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript {
        join_errors_first: 1,
        ..RtScript::default()
    });
    let mut d = Driver::spawn(&fake, "join-error");
    let (i, err) = d.status(&fake, 0, "CHANNEL_ERROR");
    assert_eq!(err["error"], JOIN_ERROR_REASON);
    d.status(&fake, i, "SUBSCRIBED");
    d.done(&fake);
    let joins = fake.events("phx_join");
    assert_eq!(joins.len(), 2);
    assert_ne!(
        joins[0].join_ref, joins[1].join_ref,
        "a re-join has a fresh ref"
    );
    assert_eq!(joins[1].payload["access_token"], "user-jwt-1");
}

#[test]
fn heartbeat_timeout_reconnects() {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript {
        heartbeat_replies: false,
        ..RtScript::default()
    });
    let mut d = Driver::spawn(&fake, "heartbeat");
    let (i, _) = d.status(&fake, 0, "SUBSCRIBED");
    if !fake.wait_until("heartbeat-timeout close", WAIT, |f| !f.closes().is_empty()) {
        d.fail(&fake, "the client never closed the socket");
    }
    fake.set(|s| s.heartbeat_replies = true);
    assert_eq!(
        fake.closes()[0],
        (0, Some(1000), "heartbeat timeout".to_string())
    );
    let (j, err) = d.status(&fake, i, "CHANNEL_ERROR");
    assert_eq!(err["error"], "heartbeat timeout");
    d.status(&fake, j, "SUBSCRIBED");
    d.done(&fake);
    assert!(fake.connections() >= 2, "reconnected on a new socket");
    let heartbeat = &fake.events("heartbeat")[0];
    assert_eq!(heartbeat.topic, "phoenix");
    assert_eq!(heartbeat.join_ref, None);
    assert!(fake.events("phx_join").iter().any(|j| j.conn >= 1));
}

#[test]
fn join_timeout_then_rejoin() {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript {
        join: JoinBehaviour::Withhold,
        ..RtScript::default()
    });
    let mut d = Driver::spawn(&fake, "join-timeout");
    let (i, _) = d.status(&fake, 0, "TIMED_OUT");
    fake.set(|s| s.join = JoinBehaviour::Ok);
    d.status(&fake, i, "SUBSCRIBED");
    d.done(&fake);
    // After the timeout the client leaves with the old join_ref, then re-joins.
    let first = fake.events("phx_join")[0].join_ref.clone();
    let leave = &fake.events("phx_leave")[0];
    assert_eq!(leave.join_ref, first);
    assert_eq!(fake.events("phx_join").len(), 2);
}

#[test]
fn phx_error_then_rejoin() {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript::default());
    let mut d = Driver::spawn(&fake, "phx-error");
    let (i, _) = d.status(&fake, 0, "SUBSCRIBED");
    fake.phx_error();
    let (j, err) = d.status(&fake, i, "CHANNEL_ERROR");
    assert_eq!(err["error"], "channel error: transport failure");
    d.status(&fake, j, "SUBSCRIBED");
    d.done(&fake);
    assert_eq!(fake.connections(), 1, "same socket");
    assert_eq!(fake.events("phx_join").len(), 2);
}

#[test]
fn server_close_then_reconnect() {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript::default());
    let mut d = Driver::spawn(&fake, "server-close");
    let (i, _) = d.status(&fake, 0, "SUBSCRIBED");
    fake.close_all(1011, "boom");
    let (j, err) = d.status(&fake, i, "CHANNEL_ERROR");
    assert_eq!(err["error"], "socket closed: 1011 (boom)");
    d.status(&fake, j, "SUBSCRIBED");
    d.done(&fake);
    assert_eq!(fake.connections(), 2);
}

#[test]
fn rejected_upgrades_then_subscribe() {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript {
        reject_upgrades: 2,
        ..RtScript::default()
    });
    let mut d = Driver::spawn(&fake, "reject");
    d.status(&fake, 0, "SUBSCRIBED");
    d.done(&fake);
    let statuses: Vec<u16> = fake.upgrades().iter().map(|u| u.status).collect();
    assert_eq!(statuses[..3], [401, 401, 101]);
    // The first refusal errors the joining channel (a transport error, as against the
    // real server); later refusals fire nothing until the join succeeds.
    assert_eq!(d.statuses(), ["CHANNEL_ERROR", "SUBSCRIBED"]);
}

#[test]
fn binding_mismatch() {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript {
        join: JoinBehaviour::Mismatch,
        ..RtScript::default()
    });
    let mut d = Driver::spawn(&fake, "mismatch");
    let (i, _) = d.status(&fake, 0, "CLOSED");
    let (_, err) = d.status(&fake, i, "CHANNEL_ERROR");
    assert_eq!(
        err["error"],
        "mismatch between server and client bindings for postgres changes"
    );
    d.done(&fake);
    assert!(!d.statuses().iter().any(|s| s == "SUBSCRIBED"));
    assert!(fake.wait_until("phx_leave", WAIT, |f| !f.events("phx_leave").is_empty()));
}

#[test]
fn token_expiry_closes_the_channel() {
    if !node_ready() {
        return;
    }
    let fake = FakeRealtime::start(RtScript {
        system_delay: None,
        ..RtScript::default()
    });
    let mut d = Driver::spawn(&fake, "expire");
    let (i, _) = d.status(&fake, 0, "SUBSCRIBED");
    fake.expire_token();
    let system = d.wait_for(&fake, "system error", |l| l["kind"] == "system");
    assert_eq!(
        system["payload"],
        json!({"extension": "system", "status": "error",
               "message": TOKEN_EXPIRED_MESSAGE, "channel": channel_name()})
    );
    d.status(&fake, i, "CLOSED");
    d.done(&fake);
    assert_eq!(fake.events("phx_join").len(), 1, "no re-join after CLOSED");
}
