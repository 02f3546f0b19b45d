//! The poll loop of the wait: fetch the results until every test is done.
//!
//! The HTTP poll is the truth; realtime only *pokes*. Pokes arrive on a crossbeam
//! `bounded(1)` channel fed with `try_send`, so any number of them before a fetch coalesce
//! into one. The channel is drained just before each fetch starts (that fetch covers them);
//! a poke that lands *during* a fetch stays in the channel and makes the next wait return at
//! once, after the fetch floor. Without pokes the loop fetches every backstop period. Failed
//! polls back off `10 s × n` (capped at 30 s; pokes stay in the channel meanwhile) and the
//! counter resets on success; 30 failures in a row give up. Between fetches the loop sleeps
//! in one [`Clock::wait`]: a `select!` over the poke channel and the stop channel with the
//! next deadline as its timeout, which says what woke it ([`Wake`]); a recorded stop (a
//! signal, a closed stdout) closes the stop channel and ends the wait at once. Time comes
//! from a [`Clock`], so the unit tests below run a whole loop in microseconds. See
//! `docs/wait.md`.

use crate::clock::{Clock, MAX_SEQUENTIAL_FAILURES, Timings, Wake};
use crate::domain::results::ResultRow;
use crate::exit::Stop;
use crate::output::{Event, Sink};
use crossbeam_channel::Receiver;
use std::convert::Infallible;
use std::fmt;
use std::time::Duration;

/// What the loop needs to know about a failed poll.
pub trait PollError: fmt::Display {
    /// Worth retrying (network trouble, 5xx, 429, a 404 shortly after the start).
    fn is_transient(&self) -> bool;
    /// The HTTP status, when the server answered.
    fn status(&self) -> Option<u16>;
    /// The server's `Retry-After`, if any.
    fn retry_after(&self) -> Option<Duration>;
}

/// One poll of the results.
pub trait Fetch {
    type Error: PollError;
    fn fetch(&mut self) -> Result<Vec<ResultRow>, Self::Error>;
}

/// A failed poll: the fetch failed, or it answered with no results at all (never read as
/// "all passed").
#[derive(Debug, Clone)]
pub enum Failed<E> {
    Fetch(E),
    NoResults,
}

impl<E: PollError> Failed<E> {
    fn is_transient(&self) -> bool {
        match self {
            Failed::Fetch(e) => e.is_transient(),
            Failed::NoResults => true,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Failed::Fetch(e) => e.status(),
            Failed::NoResults => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Failed::Fetch(e) => e.retry_after(),
            Failed::NoResults => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Failed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failed::Fetch(e) => e.fmt(f),
            Failed::NoResults => f.write_str("Fetching results: the API returned no results"),
        }
    }
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
pub enum WaitError<E> {
    /// 30 consecutive failed polls.
    GaveUp { last: Failed<E>, failures: u32 },
    /// `--timeout` expired.
    TimedOut { after: Duration },
    /// An error that retrying cannot fix (e.g. 401, 403, 404 long after the run began).
    Fatal(E),
    /// A signal, or stdout closed.
    Stopped(Stop),
}

/// Where the loop gets its inputs: the fetch, time, pokes and stops.
pub struct Inputs<'a, F> {
    pub fetcher: &'a mut F,
    pub clock: &'a dyn Clock,
    /// Realtime's pokes.
    pub pokes: &'a Receiver<()>,
    /// The stop channel (`exit::signal::stops`): it closes when a stop is recorded.
    pub stops: &'a Receiver<Infallible>,
    /// The recorded stop, if any: checked before each fetch, and read when `stops` closes.
    pub stopped: &'a dyn Fn() -> Option<Stop>,
}

/// Polls until every row is terminal and returns that snapshot (all rows, retries included).
pub fn until_done<F: Fetch>(
    pace: &Pace,
    input: Inputs<'_, F>,
    sink: &mut dyn Sink,
) -> Result<Vec<ResultRow>, WaitError<F::Error>> {
    let clock = input.clock;
    let start = clock.now();
    let deadline = pace.timeout.map(|d| start + d);
    let mut failures = 0u32;
    loop {
        check(&input, deadline, start)?;
        // This fetch covers every poke that came before it.
        while input.pokes.try_recv().is_ok() {}
        let fetch_start = clock.now();
        sink.event(&Event::Fetching, fetch_start);
        let next = match poll_once(pace, input.fetcher, clock, start, &mut failures, sink)? {
            Polled::Done(rows) => return Ok(rows),
            Polled::Next(next) => next,
        };
        sleep(pace, &input, deadline, start, fetch_start, next, sink)?;
    }
}

/// What one poll decided.
enum Polled {
    Done(Vec<ResultRow>),
    /// The next fetch is at `.0`; `.1`: a poke may bring it forward (not while backing off).
    Next((Duration, bool)),
}

fn check<F: Fetch>(
    input: &Inputs<'_, F>,
    deadline: Option<Duration>,
    start: Duration,
) -> Result<(), WaitError<F::Error>> {
    if let Some(stop) = (input.stopped)() {
        return Err(WaitError::Stopped(stop));
    }
    match deadline {
        Some(d) if input.clock.now() >= d => Err(WaitError::TimedOut { after: d - start }),
        _ => Ok(()),
    }
}

/// One fetch: done, or when to fetch next (the backstop after a success, the backoff after
/// a failure); an error that retrying cannot fix, or the 30th failure in a row, ends the wait.
fn poll_once<F: Fetch>(
    pace: &Pace,
    fetcher: &mut F,
    clock: &dyn Clock,
    start: Duration,
    failures: &mut u32,
    sink: &mut dyn Sink,
) -> Result<Polled, WaitError<F::Error>> {
    let t = &pace.timings;
    let result = match fetcher.fetch() {
        Ok(rows) if rows.is_empty() => Err(Failed::NoResults),
        Ok(rows) => Ok(rows),
        Err(e) => Err(Failed::Fetch(e)),
    };
    let now = clock.now();
    match result {
        Ok(rows) => {
            *failures = 0;
            if crate::domain::verdict::all_complete(&rows) {
                return Ok(Polled::Done(rows));
            }
            let next_at = now + pace.interval;
            crate::debug!(
                "Poll ok: {} result(s); next backstop poll in {:.1}s",
                rows.len(),
                pace.interval.as_secs_f64()
            );
            sink.event(
                &Event::Polled {
                    rows: &rows,
                    next_at,
                },
                now,
            );
            Ok(Polled::Next((next_at, true)))
        }
        Err(e) => {
            let not_created_yet =
                e.status() == Some(404) && now.saturating_sub(start) < t.not_found_grace;
            if !e.is_transient() && !not_created_yet {
                return Err(match e {
                    Failed::Fetch(e) => WaitError::Fatal(e),
                    no_results => WaitError::GaveUp {
                        last: no_results,
                        failures: *failures + 1,
                    },
                });
            }
            *failures += 1;
            if *failures >= MAX_SEQUENTIAL_FAILURES {
                return Err(WaitError::GaveUp {
                    last: e,
                    failures: *failures,
                });
            }
            let mut backoff = t.backoff(*failures);
            if let Some(ra) = e.retry_after() {
                // Honour Retry-After, within reason.
                backoff = backoff.max(ra.min(t.backoff_cap * 2));
            }
            crate::debug!(
                "Poll failed ({failures} in a row): {e}; retrying in {:.1}s",
                backoff.as_secs_f64()
            );
            let error = e.to_string();
            let retry_at = now + backoff;
            sink.event(
                &Event::PollFailed {
                    error: &error,
                    failures: *failures,
                    retry_at,
                },
                now,
            );
            Ok(Polled::Next((retry_at, false)))
        }
    }
}

/// Waits for the next fetch time, a poke (after the fetch floor), the deadline, a stop, or
/// the sink's next tick (which it then runs). While pokes are not welcome (backing off, or
/// one already brought the fetch forward) the poke channel is left alone: what arrives waits
/// there for the next fetch to drain it.
fn sleep<F: Fetch>(
    pace: &Pace,
    input: &Inputs<'_, F>,
    deadline: Option<Duration>,
    start: Duration,
    fetch_start: Duration,
    (mut next_at, mut pokes_welcome): (Duration, bool),
    sink: &mut dyn Sink,
) -> Result<(), WaitError<F::Error>> {
    let clock = input.clock;
    let no_pokes = crossbeam_channel::never();
    loop {
        let now = clock.now();
        if now >= next_at {
            return Ok(());
        }
        check(input, deadline, start)?;
        let until = [Some(next_at), deadline, sink.next_tick()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_at)
            .max(now);
        let pokes = if pokes_welcome {
            input.pokes
        } else {
            &no_pokes
        };
        match clock.wait(pokes, input.stops, until) {
            Wake::Stop => {
                return Err(WaitError::Stopped(
                    (input.stopped)().unwrap_or(Stop::Interrupt),
                ));
            }
            Wake::Poke => {
                // Fetch now, but never sooner than the floor after the last fetch started;
                // later pokes coalesce in the channel until then.
                next_at = next_at.min((fetch_start + pace.timings.fetch_floor).max(clock.now()));
                pokes_welcome = false;
                crate::debug!("Poked: fetching now");
            }
            Wake::Deadline => {
                let now = clock.now();
                if sink.next_tick().is_some_and(|tk| tk <= now) {
                    sink.tick(now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
