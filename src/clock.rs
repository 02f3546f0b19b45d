//! Time, injected and scaled.
//!
//! Every timer in dcd (backstop poll, error backoff, fetch floor, ticker, still-waiting line,
//! retry sleeps, HTTP timeouts) goes through [`Timings`], built once from `DCD_TIME_SCALE`,
//! and every wait goes through a [`Clock`]. Production uses [`RealClock`]; unit tests use a
//! fake clock that jumps straight to the next deadline, so a 30-minute loop runs in
//! microseconds; end-to-end tests set `DCD_TIME_SCALE=0.01` so the real binary runs 100×
//! faster.

use crossbeam_channel::{Receiver, select};
use std::convert::Infallible;
use std::time::{Duration, Instant};

/// What ended a [`Clock::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A poke arrived on the poke channel (it has been taken off the channel).
    Poke,
    /// The stop channel closed: a stop was recorded.
    Stop,
    /// The time waited for came.
    Deadline,
}

/// The loop's view of time. `now` is monotonic, measured from an arbitrary origin.
pub trait Clock {
    fn now(&self) -> Duration;
    /// Waits until `until`, a poke on `pokes` or the closing of `stops`, whichever comes
    /// first, and says which it was. A poke channel with no sender left never pokes.
    fn wait(&self, pokes: &Receiver<()>, stops: &Receiver<Infallible>, until: Duration) -> Wake;
}

/// Wall-clock time.
pub struct RealClock {
    origin: Instant,
}

impl RealClock {
    pub fn new() -> RealClock {
        RealClock {
            origin: Instant::now(),
        }
    }
}

impl Default for RealClock {
    fn default() -> Self {
        RealClock::new()
    }
}

impl Clock for RealClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// One `select!` over both channels, with the time left as its timeout.
    fn wait(&self, pokes: &Receiver<()>, stops: &Receiver<Infallible>, until: Duration) -> Wake {
        select! {
            recv(pokes) -> poke => match poke {
                Ok(()) => Wake::Poke,
                Err(_) => self.wait(&crossbeam_channel::never(), stops, until),
            },
            recv(stops) -> _ => Wake::Stop,
            default(until.saturating_sub(self.now())) => Wake::Deadline,
        }
    }
}

/// The range `DCD_TIME_SCALE` may take: fast enough for tests, slow enough for a demo, and
/// small enough that every scaled timer still fits a `Duration`.
pub const SCALE_RANGE: std::ops::RangeInclusive<f64> = 0.0001..=1000.0;

/// Reads a `DCD_TIME_SCALE` value: a number in [`SCALE_RANGE`], default 1. Anything else is
/// ignored, with the warning to show.
pub fn parse_scale(raw: Option<&str>) -> (f64, Option<String>) {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return (1.0, None);
    };
    match raw.parse::<f64>() {
        Ok(f) if SCALE_RANGE.contains(&f) => (f, None),
        _ => (
            1.0,
            Some(format!(
                "Ignoring DCD_TIME_SCALE={raw:?}: expected a number from {} to {}; timers run at normal speed.",
                SCALE_RANGE.start(),
                SCALE_RANGE.end()
            )),
        ),
    }
}

/// Every timer dcd uses, already multiplied by the time scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    pub scale: f64,
    /// Backstop poll period for logged-in users, 60 s (realtime pokes wake it early).
    pub backstop_bearer: Duration,
    /// Poll period for API-key users, 20 s (they get no realtime).
    pub backstop_api_key: Duration,
    /// Error backoff after the n-th consecutive failed poll: `10 s × n`, at most 30 s.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Minimum time between the starts of two fetches (~1 s), so a burst of realtime pokes
    /// never becomes a burst of GETs.
    pub fetch_floor: Duration,
    /// How often the interactive frame is redrawn.
    pub tick: Duration,
    /// The longest a CI log stays silent while waiting (5 min) before a still-waiting line,
    /// so watchdogs that kill silent jobs leave the step alone.
    pub still_waiting: Duration,
    /// 404s this soon after the wait starts are "not created yet", hence retried.
    pub not_found_grace: Duration,
    /// `dcd status` one-shot retry sleep: `1 s × attempt`.
    pub status_retry_base: Duration,
    /// HTTP: connect timeout and whole-request timeout for API calls.
    pub http_connect: Duration,
    pub http_request: Duration,
    /// The whole update check of `dcd cloud` (connect, request, body), 1.5 s.
    pub update_check: Duration,
    /// Between two attempts to download an Expo build, 2 s.
    pub expo_retry: Duration,
    /// A streamed transfer that moves fewer than `net::stall::MIN_BYTES` in this long
    /// (60 s) has stalled and fails (docs/http-api.md, "Transfers must make progress").
    pub transfer_window: Duration,
}

/// Consecutive failed polls before the wait gives up (and diagnoses the API host).
pub const MAX_SEQUENTIAL_FAILURES: u32 = 30;
/// Attempts of the one-shot `dcd status` request before it gives up.
pub const STATUS_ATTEMPTS: u32 = 5;

impl Timings {
    pub fn scaled(scale: f64) -> Timings {
        let s = |secs: f64| Duration::from_secs_f64(secs * scale);
        // HTTP timeouts scale too (so fault tests of slow servers stay fast) but never drop
        // below what a loopback round trip needs.
        let http = |secs: f64| Duration::from_secs_f64((secs * scale).max(0.25));
        Timings {
            scale,
            backstop_bearer: s(60.0),
            backstop_api_key: s(20.0),
            backoff_base: s(10.0),
            backoff_cap: s(30.0),
            fetch_floor: s(1.0),
            tick: s(1.0),
            still_waiting: s(300.0),
            not_found_grace: s(120.0),
            status_retry_base: s(1.0),
            http_connect: http(10.0),
            http_request: http(30.0),
            update_check: http(1.5),
            expo_retry: s(2.0),
            transfer_window: s(60.0),
        }
    }

    /// The timings for a `DCD_TIME_SCALE` value, and the warning when it is ignored.
    pub fn from_scale(raw: Option<String>) -> (Timings, Option<String>) {
        let (scale, warning) = parse_scale(raw.as_deref());
        (Timings::scaled(scale), warning)
    }

    /// The sleep after the `n`-th consecutive failure: `min(base × n, cap)`.
    pub fn backoff(&self, n: u32) -> Duration {
        (self.backoff_base * n.max(1)).min(self.backoff_cap)
    }

    /// A real duration as the user would have experienced it unscaled ("5m elapsed").
    pub fn unscale(&self, d: Duration) -> Duration {
        Duration::from_secs_f64(d.as_secs_f64() / self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_ten_seconds_times_n_capped_at_thirty() {
        let t = Timings::scaled(1.0);
        let secs: Vec<u64> = (1..=5).map(|n| t.backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![10, 20, 30, 30, 30]);
    }

    #[test]
    fn scale_multiplies_every_timer() {
        let t = Timings::scaled(0.01);
        assert_eq!(t.backstop_bearer, Duration::from_millis(600));
        assert_eq!(t.backstop_api_key, Duration::from_millis(200));
        assert_eq!(t.fetch_floor, Duration::from_millis(10));
        assert_eq!(t.unscale(Duration::from_secs(3)), Duration::from_secs(300));
        assert_eq!(t.http_request, Duration::from_millis(300));
        assert_eq!(t.update_check, Duration::from_millis(250));
        assert_eq!(
            Timings::scaled(1.0).update_check,
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn a_bad_scale_is_ignored_with_a_warning_never_a_panic() {
        assert_eq!(parse_scale(None), (1.0, None));
        assert_eq!(parse_scale(Some(" 0.01 ")), (0.01, None));
        for bad in ["1e308", "0", "-1", "NaN", "inf", "fast", "1e-9"] {
            let (scale, warning) = parse_scale(Some(bad));
            assert_eq!(scale, 1.0, "{bad}");
            assert!(warning.unwrap().contains("DCD_TIME_SCALE"), "{bad}");
        }
        let (t, _) = Timings::from_scale(Some("1000".into()));
        assert_eq!(t.still_waiting, Duration::from_secs(300_000));
    }

    #[test]
    fn real_clock_wait_says_what_woke_it() {
        let c = RealClock::new();
        let (poke_tx, pokes) = crossbeam_channel::bounded(1);
        let (stop_tx, stops) = crossbeam_channel::bounded::<Infallible>(0);
        let later = |ms| c.now() + Duration::from_millis(ms);
        poke_tx.try_send(()).unwrap();
        assert!(poke_tx.try_send(()).is_err(), "a second poke coalesces");
        assert_eq!(c.wait(&pokes, &stops, later(60_000)), Wake::Poke);
        let until = later(20);
        assert_eq!(c.wait(&pokes, &stops, until), Wake::Deadline);
        assert!(c.now() >= until);
        // With no poker left the wait goes on to its deadline.
        drop(poke_tx);
        let until = later(20);
        assert_eq!(c.wait(&pokes, &stops, until), Wake::Deadline);
        assert!(c.now() >= until);
        // A stop closes the stop channel, from another thread, long before the deadline.
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(stop_tx);
        });
        assert_eq!(c.wait(&pokes, &stops, later(60_000)), Wake::Stop);
        stopper.join().unwrap();
        assert_eq!(
            c.wait(&pokes, &stops, later(60_000)),
            Wake::Stop,
            "and stays closed"
        );
    }
}
