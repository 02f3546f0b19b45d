//! `realtime-bench`: the realtime figures of `make bench`, measured against the loopback fakes
//! with the real dcd binary (a logged-in `status --watch`):
//!
//! 1. event → GET latency: a change pushed on the Realtime socket until the fake API sees the
//!    GET, over 200 events spaced beyond the fetch floor (so the floor is not counted);
//! 2. GETs under a storm of 1,000 events, beside the 1,000 a poll-per-event client makes;
//! 3. recovery: the Realtime server drops every socket; time until the channel is joined
//!    again (the client waits a jittered ~1 s first, as realtime-js does).
//!
//! Usage: `realtime-bench <path to dcd>`. Prints a report; exits 1 if a run fails.

// The fakes of the test support tree, with the sibling modules they share, laid out
// as in `tests/support/mod.rs`. An example uses only part of what they export.
#[path = "fake_cloud/mod.rs"]
#[allow(unused_imports)]
mod fake_cloud;
#[path = "fake_realtime/mod.rs"]
#[allow(unused_imports)]
mod fake_realtime;
#[path = "iso.rs"]
mod iso;
#[path = "url.rs"]
mod url;

use fake_cloud::{FakeCloud, Scenario, row};
use fake_realtime::{FakeRealtime, RtScript};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-access-token-123";

fn start(
    dcd: &str,
    cloud: &FakeCloud,
    rt: &FakeRealtime,
    scale: &str,
    dir: &std::path::Path,
) -> Child {
    let cfg = json!({
        "version": 1, "env": "prod", "api_url": cloud.url(), "supabase_url": rt.url(),
        "session": {"access_token": TOKEN, "expires_at": 4_000_000_000u64, "user_email": "b@example.com"},
        "current_org_id": "1"
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    Command::new(dcd)
        .args([
            "status",
            "--watch",
            "--upload-id",
            cloud.upload_id(),
            "--json",
        ])
        .env("DCD_CONFIG_DIR", dir)
        .env("DCD_TIME_SCALE", scale)
        .env_remove("DEVICE_CLOUD_API_KEY")
        .env_remove("DCD_NO_REALTIME")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dcd")
}

fn gets(c: &FakeCloud) -> usize {
    c.results_requests().len()
}

fn wait_for(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        if t.elapsed() > limit {
            eprintln!("realtime-bench: timed out waiting for {what}");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn settle(c: &FakeCloud) {
    let mut n = gets(c);
    let mut quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(5));
        if gets(c) != n {
            n = gets(c);
            quiet = Instant::now();
        }
    }
}

fn subscribed(rt: &FakeRealtime) -> bool {
    !rt.joined().is_empty()
        && rt
            .sent_events("system")
            .iter()
            .any(|f| f.payload["message"] == "Subscribed to PostgreSQL")
}

fn finish(mut child: Child, cloud: &FakeCloud, rt: &FakeRealtime) {
    cloud.advance();
    rt.push_change(json!({"test_upload_id": cloud.upload_id()}));
    let status = child.wait().unwrap();
    if !status.success() {
        eprintln!("realtime-bench: dcd exited {status}");
        std::process::exit(1);
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let dcd = std::env::args()
        .nth(1)
        .expect("usage: realtime-bench <dcd>");
    let tmp = std::env::temp_dir().join(format!("dcd-rtbench-{}", std::process::id()));
    let rows = || {
        vec![
            vec![row(1, "./a.yaml", "RUNNING")],
            vec![row(1, "./a.yaml", "PASSED")],
        ]
    };
    let change = |c: &FakeCloud| -> Value { json!({"id": 1, "test_upload_id": c.upload_id()}) };

    // 1. Latency. Scale 0.02: floor 20 ms, backstop 1.2 s; events every 60 ms.
    let cloud = FakeCloud::start(Scenario::new(rows()).manual());
    let rt = FakeRealtime::start(RtScript::default());
    let child = start(&dcd, &cloud, &rt, "0.02", &tmp.join("a"));
    wait_for("SUBSCRIBED", Duration::from_secs(10), || subscribed(&rt));
    settle(&cloud);
    let mut lat = Vec::new();
    let mut missed = 0;
    for _ in 0..200 {
        let n = gets(&cloud);
        let t0 = Instant::now();
        rt.push_change(change(&cloud));
        while gets(&cloud) == n && t0.elapsed() < Duration::from_millis(1000) {
            std::thread::sleep(Duration::from_micros(200));
        }
        let reqs = cloud.results_requests();
        let sent = rt.sent_events("postgres_changes");
        match (reqs.get(n), sent.last()) {
            // From the frame leaving the fake Realtime to the GET reaching the fake API,
            // both stamped by the fakes themselves (the test harness's own delays excluded).
            (Some(get), Some(push)) => {
                let get_at = cloud.origin() + get.at;
                let push_at = rt.origin() + push.at;
                lat.push(get_at.saturating_duration_since(push_at).as_secs_f64() * 1000.0);
            }
            _ => missed += 1,
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    finish(child, &cloud, &rt);
    lat.sort_by(f64::total_cmp);
    println!(
        "== realtime event → GET latency (200 events, 60 ms apart; floor 20 ms, backstop 1.2 s at scale 0.02)"
    );
    println!(
        "   p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms   ({} of 200 fell back to the backstop)",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN),
        missed
    );

    // 2. Storm at scale 1: floor 1 s, backstop 60 s.
    let cloud = FakeCloud::start(Scenario::new(rows()).manual());
    let rt = FakeRealtime::start(RtScript::default());
    let child = start(&dcd, &cloud, &rt, "1", &tmp.join("b"));
    wait_for("SUBSCRIBED", Duration::from_secs(10), || subscribed(&rt));
    settle(&cloud);
    std::thread::sleep(Duration::from_millis(1100)); // past the floor of the last fetch
    let before = gets(&cloud);
    let t0 = Instant::now();
    for _ in 0..1000 {
        rt.push_change_nowait(change(&cloud));
    }
    let storm = t0.elapsed();
    std::thread::sleep(Duration::from_millis(1200));
    let during = gets(&cloud) - before;
    let floors = (storm + Duration::from_millis(1200)).as_secs_f64().ceil();
    finish(child, &cloud, &rt);
    println!(
        "== storm: 1,000 change events in {:.0} ms (floor 1 s, backstop 60 s)",
        storm.as_secs_f64() * 1000.0
    );
    println!(
        "   GETs: {during}   (a poll-per-event client: 1000; the floor allows ≤ {floors:.0} in the {:.1} s observed)",
        (storm + Duration::from_millis(1200)).as_secs_f64()
    );

    // 3. Recovery at scale 1: drop every socket, time until joined again.
    let cloud = FakeCloud::start(Scenario::new(rows()).manual());
    let rt = FakeRealtime::start(RtScript::default());
    let child = start(&dcd, &cloud, &rt, "1", &tmp.join("c"));
    wait_for("SUBSCRIBED", Duration::from_secs(10), || subscribed(&rt));
    let mut back = Vec::new();
    for i in 0..5 {
        let joins = rt.events("phx_join").len();
        rt.close_all(1012, "restart");
        let t0 = Instant::now();
        wait_for("re-join", Duration::from_secs(10), || {
            rt.events("phx_join").len() > joins && !rt.joined().is_empty()
        });
        back.push(t0.elapsed().as_secs_f64() * 1000.0);
        if i < 4 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    finish(child, &cloud, &rt);
    back.sort_by(f64::total_cmp);
    println!(
        "== realtime server back → SUBSCRIBED again (5 server closes; reconnect waits a jittered 1 s ± 25 %)"
    );
    println!(
        "   min {:.0} ms   median {:.0} ms   max {:.0} ms",
        back[0],
        pct(&back, 0.5),
        back[back.len() - 1]
    );
    let p99 = pct(&lat, 0.99);
    let ok = |b: bool| if b { "ok" } else { "MISSED" };
    println!();
    println!(
        "{:<34}{:<26}{:<26}{:<12}ok?",
        "figure", "measured", "baseline", "target"
    );
    println!(
        "{:<34}{:<26}{:<26}{:<12}{}",
        "event → GET p99 (loopback)",
        format!("{p99:.2} ms"),
        "backstop: 60 s (bearer)",
        "<= 100 ms",
        ok(p99 <= 100.0)
    );
    println!(
        "{:<34}{:<26}{:<26}{:<12}{}",
        "GETs in a 1,000-event storm",
        format!(
            "{during} in {:.1} s",
            (storm + Duration::from_millis(1200)).as_secs_f64()
        ),
        "poll-per-event: 1000",
        format!("<= {floors:.0}"),
        ok(during as f64 <= floors)
    );
    println!(
        "{:<34}{:<26}{:<26}{:<12}-",
        "server back → SUBSCRIBED",
        format!("{:.0} ms median", pct(&back, 0.5)),
        "realtime-js: ~1.15 s",
        "-"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
