//! The realtime client thread on its own (the library, not the binary) against the fake
//! Realtime server: a refreshed access token is pushed to the joined channel and carried by
//! later re-joins; a long failure streak gives realtime up. (The proxy test, `realtime_proxy.rs`,
//! runs its client in a process of its own: it needs `HTTPS_PROXY` in the environment.)

use crate::support::client_thread::{config, start};
use crate::support::fake_realtime::*;
use crate::support::lib::realtime::client;
use crate::support::wait_for;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[test]
fn a_refreshed_token_is_pushed_and_carried_by_re_joins() {
    let rt = FakeRealtime::start(RtScript::default());
    let r = start(config(&rt.url(), 0.01));
    wait_for("joined", || !rt.joined().is_empty());
    // The fake counts the channel as joined when it sends the ok reply; the client flags
    // itself connected when it has read that reply, a moment later.
    wait_for("connected", || r.connected());
    assert!(
        r.pokes.recv_timeout(Duration::from_secs(2)).is_ok(),
        "SUBSCRIBED pokes"
    );
    r.tokens.send("first-token-123".into()).unwrap(); // unchanged: nothing sent
    r.tokens.send("second-token-456".into()).unwrap();
    wait_for("access_token push", || {
        !rt.events("access_token").is_empty()
    });
    let push = &rt.events("access_token")[0];
    assert_eq!(push.payload["access_token"], "second-token-456");
    assert_eq!(push.join_ref, rt.events("phx_join")[0].join_ref);
    assert_eq!(rt.events("access_token").len(), 1);
    rt.close_all(1012, "restart");
    wait_for("re-join", || {
        rt.events("phx_join").len() >= 2 && !rt.joined().is_empty()
    });
    assert_eq!(
        rt.events("phx_join")[1].payload["access_token"],
        "second-token-456"
    );
    r.stop();
    // A clean end: phx_leave, then a close frame.
    wait_for("leave", || !rt.events("phx_leave").is_empty());
}

#[test]
fn a_long_failure_streak_gives_realtime_up() {
    let rt = FakeRealtime::start(RtScript {
        reject_all_upgrades: Some(503),
        ..RtScript::default()
    });
    let r = start(config(&rt.url(), 0.005));
    // Backoffs of ~5, 10, 25, 50 ms … at scale 0.005: the streak ends well within seconds.
    let t = Instant::now();
    while !r.thread.is_finished() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "realtime never gave up"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rt.upgrades().len() as u32, client::MAX_FAILURE_STREAK);
    assert!(!r.shared.connected.load(Ordering::Relaxed));
    r.thread.join().unwrap();
}
