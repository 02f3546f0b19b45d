//! End-to-end: the real `dcd status --watch` as a logged-in user, with the fake cloud and the
//! fake Realtime server. A pushed change fetches at once; pokes are latched and coalesced;
//! every realtime failure still ends with the right verdict by polling, and the client
//! reconnects; API-key runs never open a socket; the token never reaches the output.

use crate::support::fake_cloud::*;
use crate::support::fake_realtime::*;
use crate::support::*;
use serde_json::{Value, json};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.realtime-user-token.sig";
const ORG: &str = "42";
const LIMIT: Duration = Duration::from_secs(30);

fn running() -> Vec<Value> {
    vec![row(1, "./a.yaml", "RUNNING"), row(2, "./b.yaml", "QUEUED")]
}

fn passed() -> Vec<Value> {
    vec![row(1, "./a.yaml", "PASSED"), row(2, "./b.yaml", "PASSED")]
}

/// A cloud that only moves when the test says so.
fn manual_cloud() -> FakeCloud {
    FakeCloud::start(
        Scenario::new(vec![running(), passed()])
            .manual()
            .bearer(TOKEN, ORG),
    )
}

/// `dcd status --watch --json` logged in against both fakes, at `scale`.
fn logged_in(
    cloud: &FakeCloud,
    rt_url: &str,
    scale: &str,
    extra: &[&str],
) -> (std::process::Command, TempDir) {
    let (mut c, dir) = status_watch_json(cloud.upload_id(), scale);
    write_config(
        &dir,
        &realtime_session_config(&cloud.url(), rt_url, TOKEN, ORG),
    );
    c.args(extra);
    (c, dir)
}

fn spawn(mut c: std::process::Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Output {
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

fn change(cloud: &FakeCloud) -> Value {
    json!({"id": 1, "test_upload_id": cloud.upload_id(), "status": "PASSED", "org_id": 42})
}

fn gets(cloud: &FakeCloud) -> usize {
    cloud.results_requests().len()
}

/// Waits until the count of GETs stops moving for `quiet`.
fn settle(cloud: &FakeCloud, quiet: Duration) -> usize {
    let mut n = gets(cloud);
    let mut since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    while since.elapsed() < quiet && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        let m = gets(cloud);
        if m != n {
            n = m;
            since = Instant::now();
        }
    }
    n
}

fn subscribed(rt: &FakeRealtime) {
    assert!(
        rt.wait_until("a joined channel", Duration::from_secs(10), |r| !r
            .joined()
            .is_empty())
    );
    assert!(
        rt.wait_until("the system message", Duration::from_secs(10), |r| {
            r.sent_events("system")
                .iter()
                .any(|f| f.payload["message"] == "Subscribed to PostgreSQL")
        })
    );
}

/// Generous: no loaded machine takes this long from a push to the fetch it causes.
const FETCH_DEADLINE: Duration = Duration::from_secs(10);

/// Waits (up to [`FETCH_DEADLINE`]) for a GET after the `before` first ones.
fn fetched_after(cloud: &FakeCloud, before: usize) -> bool {
    let deadline = Instant::now() + FETCH_DEADLINE;
    while gets(cloud) == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    gets(cloud) > before
}

/// The client read a change of this upload from the channel (`--debug`): realtime works.
fn saw_the_change(o: &Output, cloud: &FakeCloud) -> bool {
    let line = format!("[DEBUG] [realtime] change for upload {}", cloud.upload_id());
    o.stderr.lines().any(|l| l == line)
}

fn assert_passed(o: &Output) {
    o.assert_code(0).assert_no_panic();
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(v["status"], "PASSED", "{o}");
}

#[test]
fn a_pushed_change_fetches_long_before_the_backstop() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript::default());
    // Backstop 60 s × 0.5 = 30 s, fetch floor 0.5 s: after a quiet second, a GET within
    // FETCH_DEADLINE of the push can only be the poke's.
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.5", &[]);
    let child = spawn(c);
    subscribed(&rt);
    let before = settle(&cloud, Duration::from_secs(1));
    cloud.advance();
    rt.push_change(change(&cloud));
    let fetched = fetched_after(&cloud, before);
    let o = finish(child);
    assert!(
        fetched,
        "no GET within {FETCH_DEADLINE:?} of the push (backstop 30 s)\n{o}"
    );
    assert_passed(&o);
    // The join carried the binding and the token; the topic names the upload.
    let join = &rt.events("phx_join")[0];
    assert_eq!(
        join.topic,
        format!("realtime:results-cli-{}", cloud.upload_id())
    );
    assert_eq!(join.payload["access_token"], TOKEN);
    assert_eq!(
        join.payload["config"]["postgres_changes"],
        json!([{"event": "*", "schema": "public", "table": "results", "filter": "org_id=eq.42"}])
    );
    let up = &rt.upgrades()[0];
    assert_eq!(up.query_param("vsn"), Some("2.0.0"));
    assert!(up.query_param("apikey").is_some());
    // A clean goodbye at the end.
    assert!(rt.wait_until("phx_leave", Duration::from_secs(2), |r| {
        !r.events("phx_leave").is_empty()
    }));
}

#[test]
fn changes_of_other_uploads_do_not_fetch() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript::default());
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.05", &[]);
    let child = spawn(c);
    subscribed(&rt);
    let before = settle(&cloud, Duration::from_millis(300));
    for _ in 0..20 {
        rt.push_change(json!({"id": 9, "test_upload_id": "someone-elses-upload"}));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(gets(&cloud), before, "foreign changes must not poke");
    cloud.advance();
    rt.push_change(change(&cloud));
    assert_passed(&finish(child));
}

#[test]
fn a_poke_during_a_slow_get_causes_exactly_one_more_get() {
    // The first GET takes 800 ms; SUBSCRIBED and "Subscribed to PostgreSQL" both poke
    // during it. Backstop 60 s × 0.05 = 3 s: nothing else may fetch for 3 s after it.
    let cloud = FakeCloud::start(
        Scenario::new(vec![running(), running(), passed()])
            .manual()
            .bearer(TOKEN, ORG)
            .fault(0, Fault::Slow(Duration::from_millis(800))),
    );
    let rt = FakeRealtime::start(RtScript::default());
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.05", &[]);
    let child = spawn(c);
    subscribed(&rt);
    assert!(
        rt.wait_until("first GET done", Duration::from_secs(5), |_| gets(&cloud)
            >= 1)
    );
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(
        gets(&cloud),
        2,
        "the latched poke fetched once, then the loop waited"
    );
    cloud.set_snapshot(2);
    rt.push_change(change(&cloud));
    assert_passed(&finish(child));
}

#[test]
fn a_storm_of_pushes_is_held_to_the_fetch_floor() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript::default());
    // Floor 1 s × 0.1 = 100 ms; backstop 6 s.
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.1", &[]);
    let child = spawn(c);
    subscribed(&rt);
    let before = settle(&cloud, Duration::from_millis(300));
    let t0 = Instant::now();
    for _ in 0..1000 {
        rt.push_change(change(&cloud));
    }
    let storm = t0.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let during = gets(&cloud) - before;
    let allowed = (storm.as_secs_f64() + 0.3) / 0.1 + 2.0;
    assert!(
        (during as f64) <= allowed,
        "{during} GETs for 1,000 pushes over {storm:?} (floor 100 ms allows {allowed:.0})"
    );
    assert!(during >= 1, "the storm must fetch at least once");
    cloud.advance();
    rt.push_change(change(&cloud));
    assert_passed(&finish(child));
}

/// A run that ends by polling alone: the cloud advances by itself, realtime misbehaves.
fn polled_to_the_end(rt_url: &str) -> Output {
    let cloud =
        FakeCloud::start(Scenario::new(vec![running(), running(), passed()]).bearer(TOKEN, ORG));
    let (c, _dir) = logged_in(&cloud, rt_url, "0.01", &[]);
    run(c, LIMIT)
}

#[test]
fn unreachable_realtime_falls_back_to_polling() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = polled_to_the_end(&format!("http://127.0.0.1:{port}"));
    assert_passed(&o);
    assert!(
        !o.stderr.contains("realtime"),
        "silent without --debug\n{o}"
    );
}

#[test]
fn a_401_upgrade_falls_back_to_polling_and_retries() {
    let rt = FakeRealtime::start(RtScript {
        reject_all_upgrades: Some(401),
        ..RtScript::default()
    });
    let o = polled_to_the_end(&rt.url());
    assert_passed(&o);
    assert!(!rt.upgrades().is_empty());
    assert!(rt.upgrades().iter().all(|u| !u.accepted));
}

#[test]
fn join_errors_and_withheld_joins_fall_back_to_polling() {
    for join in [
        JoinBehaviour::Error("InvalidJWTToken: Token has expired 42 seconds ago".into()),
        JoinBehaviour::Withhold,
        JoinBehaviour::Mismatch,
    ] {
        let rt = FakeRealtime::start(RtScript {
            join: join.clone(),
            ..RtScript::default()
        });
        let o = polled_to_the_end(&rt.url());
        assert_passed(&o);
        assert!(!rt.events("phx_join").is_empty(), "{join:?}");
    }
}

#[test]
fn a_silent_heartbeat_tears_the_socket_down_and_reconnects() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript {
        heartbeat_replies: false,
        ..RtScript::default()
    });
    // Heartbeat 25 s × 0.05 = 1.25 s: the unanswered one is noticed 1.25 s later.
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.05", &["--debug"]);
    let child = spawn(c);
    assert!(
        rt.wait_until("a heartbeat-timeout close", Duration::from_secs(10), |r| {
            r.closes()
                .iter()
                .any(|(_, code, reason)| *code == Some(1000) && reason == "heartbeat timeout")
        })
    );
    rt.set(|s| s.heartbeat_replies = true);
    assert!(
        rt.wait_until("a reconnect and re-join", Duration::from_secs(10), |r| {
            r.connections() >= 2 && r.events("phx_join").len() >= 2 && !r.joined().is_empty()
        })
    );
    // Realtime works again: the client reads the change pushed to the new channel.
    let before = settle(&cloud, Duration::from_millis(300));
    rt.push_change(change(&cloud));
    fetched_after(&cloud, before);
    cloud.advance();
    rt.push_change(change(&cloud));
    let o = finish(child);
    assert_passed(&o);
    assert!(saw_the_change(&o, &cloud), "{o}");
    assert!(
        o.stderr.contains("[DEBUG] [realtime] heartbeat timeout"),
        "{o}"
    );
}

#[test]
fn a_server_close_mid_run_reconnects_and_rejoins() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript::default());
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.05", &["--debug"]);
    let child = spawn(c);
    subscribed(&rt);
    rt.close_all(1011, "boom");
    assert!(rt.wait_until(
        "a second join",
        Duration::from_secs(10),
        |r| r.events("phx_join").len() >= 2 && !r.joined().is_empty()
    ));
    assert!(rt.connections() >= 2);
    // The re-join is a fresh incarnation: a new join_ref.
    let joins = rt.events("phx_join");
    assert_ne!(joins[0].join_ref, joins[1].join_ref);
    // Realtime works again: the client reads the change pushed to the new channel.
    let before = settle(&cloud, Duration::from_millis(300));
    rt.push_change(change(&cloud));
    fetched_after(&cloud, before);
    cloud.advance();
    rt.push_change(change(&cloud));
    let o = finish(child);
    assert_passed(&o);
    assert!(saw_the_change(&o, &cloud), "{o}");
}

#[test]
fn token_expiry_closes_the_channel_and_the_client_rejoins() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript::default());
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.05", &[]);
    let child = spawn(c);
    subscribed(&rt);
    rt.expire_token();
    assert!(rt.wait_until("a re-join", Duration::from_secs(10), |r| {
        r.events("phx_join").len() >= 2 && !r.joined().is_empty()
    }));
    settle(&cloud, Duration::from_millis(300));
    cloud.advance();
    rt.push_change(change(&cloud));
    assert_passed(&finish(child));
    assert!(
        rt.sent_events("system")
            .iter()
            .any(|f| f.payload["message"] == TOKEN_EXPIRED_MESSAGE)
    );
}

#[test]
fn the_server_coming_back_is_rejoined() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript {
        reject_all_upgrades: Some(503),
        ..RtScript::default()
    });
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.01", &[]);
    let child = spawn(c);
    assert!(rt.wait_until(
        "two rejected upgrades",
        Duration::from_secs(10),
        |r| r.upgrades().len() >= 2
    ));
    rt.set(|s| s.reject_all_upgrades = None);
    subscribed(&rt);
    cloud.advance();
    rt.push_change(change(&cloud));
    assert_passed(&finish(child));
}

#[test]
fn vsn_1_framing_works_too() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript::default());
    let (mut c, _dir) = logged_in(&cloud, &rt.url(), "0.05", &[]);
    c.env("DCD_REALTIME_VSN", "1.0.0");
    let child = spawn(c);
    subscribed(&rt);
    assert_eq!(rt.upgrades()[0].query_param("vsn"), Some("1.0.0"));
    assert!(rt.frames()[0].raw.starts_with('{'));
    settle(&cloud, Duration::from_millis(300));
    cloud.advance();
    rt.push_change(change(&cloud));
    assert_passed(&finish(child));
}

#[test]
fn api_key_runs_and_no_realtime_never_open_a_socket() {
    let rt = FakeRealtime::start(RtScript::default());
    let cloud = FakeCloud::start(Scenario::new(vec![running(), passed()]));
    let (mut c, _dir) = logged_in(&cloud, &rt.url(), "0.01", &[]);
    c.env("DEVICE_CLOUD_API_KEY", "an-api-key-123456");
    assert_passed(&run(c, LIMIT));
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.01", &["--no-realtime"]);
    assert_passed(&run(c, LIMIT));
    let (mut c, _dir) = logged_in(&cloud, &rt.url(), "0.01", &[]);
    c.env("DCD_NO_REALTIME", "1");
    assert_passed(&run(c, LIMIT));
    assert_eq!(rt.upgrades().len(), 0);
}

#[test]
fn the_access_token_never_appears_in_output() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript::default());
    let (c, _dir) = logged_in(&cloud, &rt.url(), "0.05", &["--debug"]);
    let child = spawn(c);
    subscribed(&rt);
    settle(&cloud, Duration::from_millis(200));
    cloud.advance();
    rt.push_change(change(&cloud));
    let o = finish(child);
    assert_passed(&o);
    assert!(o.stderr.contains("[DEBUG] [realtime] subscribed"), "{o}");
    assert!(o.stderr.contains("change for upload"), "{o}");
    for s in [&o.stdout, &o.stderr] {
        assert!(!s.contains("realtime-user-token"), "token leaked\n{o}");
    }
}

#[test]
fn the_tty_footer_shows_realtime_connected() {
    let cloud = manual_cloud();
    let rt = FakeRealtime::start(RtScript::default());
    let (mut c, dir) = logged_in(&cloud, &rt.url(), "0.05", &[]);
    c.args(["--no-json"]);
    let url = cloud.upload_id().to_string();
    let h = std::thread::spawn(move || {
        let r = run_pty(c, 100, 30, LIMIT);
        drop(dir);
        r
    });
    subscribed(&rt);
    std::thread::sleep(Duration::from_millis(300));
    cloud.advance();
    rt.push_change(json!({"test_upload_id": url}));
    let (code, screen) = h.join().unwrap();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("● realtime connected"), "{screen}");
    assert!(screen.contains("next refresh in"), "{screen}");
}
