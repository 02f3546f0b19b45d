//! The wait as the user sees it: glue between the loop's events, the pure renderers and the
//! terminal.
//!
//! Three modes (spec E.6, E.9): **interactive** (stdout a TTY, not CI) redraws a frame in
//! place every second; **log** (CI or a pipe) appends one line per change and a
//! still-waiting line when silent for 5 minutes; **silent** (`--json`) renders nothing.
//! Failed polls are reported on stderr in log and silent modes, in the footer when
//! interactive.

use super::View;
use crate::api::ApiError;
use crate::domain::results::ResultRow;
use crate::clock::Timings;
use crate::render::progress::{CiLog, Frame, Next, still_waiting_line, tty_frame};
use crate::term::{Caps, Live, err_line, out_line};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Interactive,
    Log,
    Silent,
}

impl Mode {
    pub fn pick(caps: &Caps, json: bool) -> Mode {
        if json {
            Mode::Silent
        } else if caps.interactive {
            Mode::Interactive
        } else {
            Mode::Log
        }
    }
}

pub struct Display {
    mode: Mode,
    quiet: bool,
    caps: Caps,
    timings: Timings,
    live: Option<Live>,
    rows: Option<Vec<ResultRow>>,
    /// Absolute time of the next fetch; `None` while one is in flight.
    next_at: Option<Duration>,
    failures: u32,
    spinner: usize,
    ci_log: CiLog,
    started: Duration,
    last_output: Duration,
    next_redraw: Duration,
    /// Realtime connection state, when realtime is in use.
    realtime: Option<Arc<AtomicBool>>,
}

impl Display {
    pub fn new(
        mode: Mode,
        quiet: bool,
        caps: Caps,
        timings: Timings,
        realtime: Option<Arc<AtomicBool>>,
        now: Duration,
    ) -> Display {
        Display {
            mode,
            quiet,
            caps,
            timings,
            live: None,
            rows: None,
            next_at: None,
            failures: 0,
            spinner: 0,
            ci_log: CiLog::default(),
            started: now,
            last_output: now,
            next_redraw: now,
            realtime,
        }
    }

    /// Prints the opening lines and, when interactive, puts up the live frame.
    pub fn start(&mut self) {
        let s = self.caps.out;
        match self.mode {
            Mode::Silent => {}
            Mode::Log => {
                out_line(&s.bold("Waiting for results"));
                out_line(&s.dim("You can safely close this terminal and the tests will continue"));
            }
            Mode::Interactive => {
                out_line(&s.dim("You can safely close this terminal and the tests will continue"));
                self.live = Some(Live::start());
                self.redraw(self.started);
            }
        }
    }

    /// The run is complete: log the last changes and take the frame down.
    pub fn finish(&mut self, rows: &[ResultRow]) {
        if self.mode == Mode::Log {
            for l in self.ci_log.update(rows, self.quiet, self.caps.out) {
                out_line(&l);
            }
        }
        self.live = None;
    }

    /// Takes the frame down without a final update (errors, timeout).
    pub fn abort(&mut self) {
        self.live = None;
    }

    fn redraw(&mut self, now: Duration) {
        let next = match self.next_at {
            None => Next::Refreshing,
            Some(at) => {
                let left = self.timings.unscale(at.saturating_sub(now));
                if self.failures > 0 {
                    Next::RetryIn(left, self.failures)
                } else {
                    Next::In(left)
                }
            }
        };
        let frame = Frame {
            rows: self.rows.as_deref(),
            quiet: self.quiet,
            realtime: self.realtime.as_ref().map(|r| r.load(Ordering::Relaxed)),
            next,
            spinner: self.spinner,
        };
        let lines = tty_frame(&frame, self.caps.out, self.caps.width, self.caps.height);
        if let Some(live) = self.live.as_mut() {
            live.draw(lines);
        }
        self.next_redraw = now + self.timings.tick;
    }
}

impl View for Display {
    fn fetching(&mut self, now: Duration) {
        self.next_at = None;
        if self.mode == Mode::Interactive {
            self.redraw(now);
        }
    }

    fn fetched(&mut self, rows: &[ResultRow], now: Duration, next_at: Duration) {
        self.failures = 0;
        self.next_at = Some(next_at);
        match self.mode {
            Mode::Interactive => {
                self.rows = Some(rows.to_vec());
                self.redraw(now);
            }
            Mode::Log => {
                let lines = self.ci_log.update(rows, self.quiet, self.caps.out);
                if !lines.is_empty() {
                    self.last_output = now;
                }
                for l in lines {
                    out_line(&l);
                }
                self.rows = Some(rows.to_vec());
            }
            Mode::Silent => {}
        }
    }

    fn failed(&mut self, err: &ApiError, failures: u32, now: Duration, retry_at: Duration) {
        self.failures = failures;
        self.next_at = Some(retry_at);
        match self.mode {
            Mode::Interactive => self.redraw(now),
            Mode::Log | Mode::Silent => {
                let secs = self.timings.unscale(retry_at - now).as_secs_f64().ceil();
                err_line(&self.caps.err.yellow(&format!(
                    "⚠ unable to fetch results, trying again in {secs}s ({failures}/{}): {err}",
                    crate::clock::MAX_SEQUENTIAL_FAILURES
                )));
                self.last_output = now;
            }
        }
    }

    fn next_tick(&self, _now: Duration) -> Option<Duration> {
        match self.mode {
            Mode::Interactive => Some(self.next_redraw),
            Mode::Log => Some(self.last_output + self.timings.still_waiting),
            Mode::Silent => None,
        }
    }

    fn tick(&mut self, now: Duration) {
        match self.mode {
            Mode::Interactive => {
                self.spinner += 1;
                self.redraw(now);
            }
            Mode::Log => {
                if now >= self.last_output + self.timings.still_waiting {
                    let elapsed = self.timings.unscale(now - self.started);
                    out_line(&still_waiting_line(
                        self.rows.as_deref(),
                        elapsed,
                        self.caps.out,
                    ));
                    self.last_output = now;
                }
            }
            Mode::Silent => {}
        }
    }
}
