//! The library's realtime client thread run in-process against the fake Realtime server
//! (`realtime_client.rs`, `realtime_proxy.rs`): a config, start, stop.

use super::lib::realtime::client::{self, Config, Shared};
use super::lib::realtime::{Timings, Vsn, websocket_url};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The channel of upload `u1` in org 42 on the server at `url`, token `first-token-123`,
/// timers scaled by `scale`.
pub fn config(url: &str, scale: f64) -> Config {
    Config {
        url: websocket_url(url, "anon-key", "2.0.0").unwrap(),
        vsn: Vsn::V2,
        access_token: "first-token-123".into(),
        org_id: "42".into(),
        upload_id: "u1".into(),
        timings: Timings::scaled(scale),
    }
}

/// A running client thread and its ends of the channels.
pub struct Running {
    pub shared: Arc<Shared>,
    /// Refreshed access tokens for the client.
    pub tokens: std::sync::mpsc::Sender<String>,
    /// The client's pokes (a change, or SUBSCRIBED).
    pub pokes: crossbeam_channel::Receiver<()>,
    pub thread: std::thread::JoinHandle<()>,
}

pub fn start(cfg: Config) -> Running {
    let shared = Arc::new(Shared::default());
    let (tokens, tokens_rx) = std::sync::mpsc::channel();
    let (poke_tx, pokes) = crossbeam_channel::bounded(1);
    let s = shared.clone();
    let thread = std::thread::spawn(move || client::run(cfg, s, poke_tx, tokens_rx));
    Running {
        shared,
        tokens,
        pokes,
        thread,
    }
}

impl Running {
    pub fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    pub fn stop(self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
    }
}
