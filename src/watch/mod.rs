//! The wait: poll the results until every test is done (spec E.2, DESIGN.md).
//!
//! The HTTP poll is the truth; realtime only *pokes*. Pokes arrive on a
//! `crossbeam_channel::bounded(1)` fed with `try_send`, so any number of them before a fetch
//! coalesce into one. The channel is drained just before each fetch starts (that fetch covers
//! them); a poke that lands *during* a fetch stays in the channel and makes the next wait
//! return at once, after the fetch floor. Without pokes the loop fetches every backstop
//! period. Failed polls back off `10 s × n` (capped at 30 s, pokes ignored meanwhile) and the
//! counter resets on success; 30 failures in a row give up. Time comes from a [`Clock`], so
//! the unit tests below run a whole loop in microseconds.

pub mod display;

use crate::api::ApiError;
use crate::domain::results::ResultRow;
use crate::clock::{Clock, MAX_SEQUENTIAL_FAILURES, Timings, Wake};
use crossbeam_channel::Receiver;
use std::time::Duration;

/// One poll of the results.
pub trait Fetch {
    fn fetch(&mut self) -> Result<Vec<ResultRow>, ApiError>;
}

/// What the loop tells the display. `now` values are [`Clock::now`] readings.
pub trait View {
    /// A fetch is starting.
    fn fetching(&mut self, now: Duration);
    /// A poll succeeded and not everything is done; the next backstop fetch is at `next_at`.
    fn fetched(&mut self, rows: &[ResultRow], now: Duration, next_at: Duration);
    /// A poll failed (the `failures`-th in a row); the next try is at `retry_at`.
    fn failed(&mut self, err: &ApiError, failures: u32, now: Duration, retry_at: Duration);
    /// When the display next wants [`View::tick`] (a redraw, a still-waiting line), if ever.
    fn next_tick(&self, now: Duration) -> Option<Duration>;
    fn tick(&mut self, now: Duration);
}

/// How one wait is paced.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// The backstop period: 60 s logged in, 20 s with an API key (already scaled).
    pub interval: Duration,
    pub timings: Timings,
    /// `--timeout`: give up waiting (the run goes on in the cloud).
    pub timeout: Option<Duration>,
}

/// Why a wait ended without a completed run.
#[derive(Debug, Clone)]
pub enum WaitError {
    /// 30 consecutive failed polls.
    GaveUp { last: ApiError, failures: u32 },
    /// `--timeout` expired.
    TimedOut { after: Duration },
    /// An error that retrying cannot fix (e.g. 401, 403, 404 long after the run began).
    Fatal(ApiError),
}

/// Polls until every row is terminal and returns that snapshot (all rows, retries included).
pub fn wait(
    pace: &Pace,
    fetcher: &mut dyn Fetch,
    clock: &dyn Clock,
    pokes: &Receiver<()>,
    view: &mut dyn View,
) -> Result<Vec<ResultRow>, WaitError> {
    let t = &pace.timings;
    let start = clock.now();
    let deadline = pace.timeout.map(|d| start + d);
    let mut failures = 0u32;
    loop {
        if let Some(d) = deadline
            && clock.now() >= d
        {
            return Err(WaitError::TimedOut { after: d - start });
        }
        // This fetch covers every poke that came before it.
        while pokes.try_recv().is_ok() {}
        let fetch_start = clock.now();
        view.fetching(fetch_start);
        let result = fetcher.fetch().and_then(|rows| {
            if rows.is_empty() {
                // Never "all passed": no results is a failed poll (spec D.3).
                Err(ApiError::Empty {
                    op: "Fetching results".into(),
                })
            } else {
                Ok(rows)
            }
        });
        let now = clock.now();
        let (mut next_at, mut pokes_welcome) = match result {
            Ok(rows) => {
                failures = 0;
                if crate::domain::verdict::all_complete(&rows) {
                    return Ok(rows);
                }
                let next_at = now + pace.interval;
                crate::debug!(
                    "Poll ok: {} result(s); next backstop poll in {:.1}s",
                    rows.len(),
                    pace.interval.as_secs_f64()
                );
                view.fetched(&rows, now, next_at);
                (next_at, true)
            }
            Err(e) => {
                let not_created_yet =
                    e.status() == Some(404) && now.saturating_sub(start) < t.not_found_grace;
                if !e.is_transient() && !not_created_yet {
                    return Err(WaitError::Fatal(e));
                }
                failures += 1;
                if failures >= MAX_SEQUENTIAL_FAILURES {
                    return Err(WaitError::GaveUp { last: e, failures });
                }
                let mut backoff = t.backoff(failures);
                if let Some(ra) = e.retry_after() {
                    // Honour Retry-After, within reason.
                    backoff = backoff.max(ra.min(t.backoff_cap * 2));
                }
                crate::debug!(
                    "Poll failed ({failures} in a row): {e}; retrying in {:.1}s",
                    backoff.as_secs_f64()
                );
                view.failed(&e, failures, now, now + backoff);
                (now + backoff, false)
            }
        };
        // Wait for the backstop, a poke (after the floor), the deadline, or a display tick.
        loop {
            let now = clock.now();
            if now >= next_at {
                break;
            }
            if let Some(d) = deadline
                && now >= d
            {
                return Err(WaitError::TimedOut { after: d - start });
            }
            let until = [Some(next_at), deadline, view.next_tick(now)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(next_at)
                .max(now);
            if pokes_welcome {
                if clock.wait_poke(pokes, until) == Wake::Poke {
                    // Fetch now, but never sooner than the floor after the last fetch started;
                    // later pokes coalesce in the channel until then.
                    next_at = next_at.min((fetch_start + t.fetch_floor).max(clock.now()));
                    pokes_welcome = false;
                    crate::debug!("Poked: fetching now");
                    continue;
                }
            } else {
                clock.sleep_until(until);
            }
            let now = clock.now();
            if view.next_tick(now).is_some_and(|tk| tk <= now) {
                view.tick(now);
            }
        }
    }
}

#[cfg(test)]
mod tests;
