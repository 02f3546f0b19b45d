//! The realtime reader thread: a Phoenix channel on `public.results`, kept alive.
//!
//! Each connection is one channel session (`channel`: join, heartbeats, pokes). When it
//! fails the thread reconnects and re-joins after a jittered 1, 2, 5, 10 s backoff, and
//! after a long streak of failures it gives up for the rest of the run. None of this is ever
//! an error for the user: the HTTP poll carries the run. Everything is logged under
//! `--debug` as `[DEBUG] [realtime] …`.

use super::channel::{self, Config, End, Shared, Timers};
use super::socket;
use crate::clock::Timings;
use crossbeam_channel::Sender;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Connection attempts in a row without reaching SUBSCRIBED before realtime is abandoned.
pub const MAX_FAILURE_STREAK: u32 = 12;

/// The scaled reconnect delays (realtime-js defaults): the n-th failure in a row waits the
/// n-th, the fourth and later the last.
fn backoff(t: &Timings) -> [Duration; 4] {
    let s = |secs: f64| Duration::from_secs_f64(secs * t.scale);
    [s(1.0), s(2.0), s(5.0), s(10.0)]
}

/// The thread body. Returns when stopped or after giving up.
pub fn run(cfg: Config, shared: Arc<Shared>, pokes: Sender<()>, tokens: Receiver<String>) {
    let timers = Timers::new(&cfg.timings);
    let backoff = backoff(&cfg.timings);
    let mut token = cfg.access_token.clone();
    let mut streak = 0u32;
    let mut rng = Jitter::new();
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        match channel::session(&cfg, &timers, &shared, &pokes, &tokens, &mut token) {
            End::Stopped => break,
            End::Failed { why, healthy } => {
                shared.connected.store(false, Ordering::Relaxed);
                streak = if healthy { 1 } else { streak + 1 };
                if streak >= MAX_FAILURE_STREAK {
                    rt_debug!(
                        "{why}; {streak} failures in a row, giving up realtime for this run (polling continues)"
                    );
                    break;
                }
                let base = backoff[(streak as usize - 1).min(3)];
                let delay = rng.jitter(base);
                rt_debug!(
                    "{why}; relying on the backstop poll, reconnecting in {:.2}s",
                    delay.as_secs_f64()
                );
                if sleep_unless_stopped(&shared, delay) {
                    break;
                }
            }
        }
    }
    shared.connected.store(false, Ordering::Relaxed);
}

/// Sleeps `d`, waking early when stopped. True if stopped.
fn sleep_unless_stopped(shared: &Shared, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if shared.stop.load(Ordering::Relaxed) {
            return true;
        }
        std::thread::sleep((until - Instant::now()).min(socket::POLL_INTERVAL));
    }
    shared.stop.load(Ordering::Relaxed)
}

/// A small xorshift for backoff jitter (±25 %), seeded from the clock and process id.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Jitter(t ^ (u64::from(std::process::id()) << 32) | 1)
    }

    fn jitter(&mut self, base: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let f = 0.75 + (self.0 % 1000) as f64 / 2000.0;
        base.mul_f64(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter() {
        let mut j = Jitter::new();
        for _ in 0..1000 {
            let d = j.jitter(Duration::from_secs(4));
            assert!(
                d >= Duration::from_secs(3) && d <= Duration::from_secs(5),
                "{d:?}"
            );
        }
    }
}
