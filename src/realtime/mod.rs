//! Realtime: a Supabase Realtime subscription that pokes the wait loop.
//!
//! Logged-in users get near-instant status: a reader thread holds a Phoenix channel on
//! `public.results` (filtered to their org) and pokes the loop whenever a row of this upload
//! changes. It is only a latency optimisation: the HTTP poll stays the truth, an event's
//! payload is never used as state, and any failure falls back to polling without a word
//! outside `--debug`. Starting it never fails the command.

/// `rt_debug!("fmt", args…)`: a `[DEBUG] [realtime] …` line (the submodules below use it).
macro_rules! rt_debug {
    ($($arg:tt)*) => { $crate::debug!("[realtime] {}", format!($($arg)*)) };
}

pub mod channel;
pub mod client;
pub mod frame;
pub mod socket;

use crate::clock::Timings;
use crossbeam_channel::Sender as PokeSender;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

/// A running subscription. Dropping it without [`Realtime::stop`] just abandons the thread.
pub struct Realtime {
    shared: Arc<channel::Shared>,
    tokens: Sender<String>,
    done: Receiver<()>,
}

/// True when `DCD_NO_REALTIME` asks for polling only (set, and not empty/`0`/`false`).
pub fn disabled_by_env() -> bool {
    std::env::var("DCD_NO_REALTIME").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// What to subscribe with: the Supabase project (its base URL and anon key) and the
/// logged-in user's token and org.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub anon_key: String,
    pub access_token: String,
    pub org_id: String,
}

impl Realtime {
    /// Starts the subscription to the changes of `upload_id`'s rows. `None` when it cannot
    /// even begin (the poll carries the run then).
    pub fn start(
        target: Target,
        upload_id: &str,
        timings: Timings,
        pokes: PokeSender<()>,
    ) -> Option<Realtime> {
        let Target {
            url,
            anon_key: anon,
            access_token: token,
            org_id: org,
        } = target;
        let vsn = frame::Vsn::from_env();
        let ws_url = match socket::websocket_url(&url, &anon, vsn.as_str()) {
            Ok(u) => u,
            Err(e) => {
                crate::debug!("[realtime] failed to subscribe: {e}");
                return None;
            }
        };
        if let Some(p) = crate::net::proxy::env().for_url(&ws_url)
            && !crate::net::tunnel::carries(p.kind())
        {
            crate::debug!("[realtime] not started: {}", crate::net::tunnel::refusal(p));
            return None;
        }
        crate::debug::add_secret(&token);
        let cfg = channel::Config {
            url: ws_url,
            vsn,
            access_token: token,
            org_id: org,
            upload_id: upload_id.to_string(),
            timings,
        };
        let shared = Arc::new(channel::Shared::default());
        let (tokens_tx, tokens_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let thread_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("realtime".into())
            .spawn(move || {
                client::run(cfg, thread_shared, pokes, tokens_rx);
                let _ = done_tx.send(());
            });
        if let Err(e) = spawned {
            crate::debug!("[realtime] failed to subscribe: {e}");
            return None;
        }
        Some(Realtime {
            shared,
            tokens: tokens_tx,
            done: done_rx,
        })
    }

    /// The connection state the footer shows (`● realtime connected`).
    pub fn connected(&self) -> Arc<AtomicBool> {
        self.shared.connected.clone()
    }

    /// Hands a refreshed JWT to the joined channel (and to later re-joins).
    pub fn update_access_token(&self, token: &str) {
        crate::debug::add_secret(token);
        let _ = self.tokens.send(token.to_string());
    }

    /// Leaves the channel and closes the socket; waits at most a moment for it.
    pub fn stop(self) {
        crate::debug!("Closing realtime subscription");
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = self.done.recv_timeout(Duration::from_millis(1500));
    }
}
