//! The CI / pipe sink: append-only lines, never a redraw. During the wait, one line per test
//! whose status changed (or the summary line with `--quiet`), failed polls on stderr, and a
//! still-waiting line after 5 silent minutes so watchdogs that kill quiet jobs do not fire.

use super::event::Event;
use super::{Sink, human};
use crate::clock::Timings;
use crate::domain::results::ResultRow;
use crate::render::progress::{CiLog, still_waiting_line};
use crate::render::upload::{Milestones, log_line};
use crate::term::{Caps, out_line};
use std::time::Duration;

pub struct Log {
    quiet: bool,
    caps: Caps,
    timings: Timings,
    ci_log: CiLog,
    rows: Option<Vec<ResultRow>>,
    /// While waiting: when the wait started and when the log last said anything.
    waiting: Option<(Duration, Duration)>,
    /// The transfer being logged, and the lines it has printed.
    upload: Option<(String, Milestones)>,
}

impl Log {
    pub fn new(quiet: bool, caps: Caps, timings: Timings) -> Log {
        Log {
            quiet,
            caps,
            timings,
            ci_log: CiLog::default(),
            rows: None,
            waiting: None,
            upload: None,
        }
    }

    fn said_something(&mut self, now: Duration) {
        if let Some((_, last)) = self.waiting.as_mut() {
            *last = now;
        }
    }
}

impl Sink for Log {
    fn event(&mut self, ev: &Event<'_>, now: Duration) {
        if human::print(ev, &self.caps) {
            return;
        }
        let s = self.caps.out;
        match ev {
            Event::WaitStarted { .. } => {
                out_line(&s.bold("Waiting for results"));
                out_line(&s.dim("You can safely close this terminal and the tests will continue"));
                self.waiting = Some((now, now));
            }
            Event::Polled { rows, .. } => {
                let lines = self.ci_log.update(rows, self.quiet, s);
                if !lines.is_empty() {
                    self.said_something(now);
                }
                lines.iter().for_each(|l| out_line(l));
                self.rows = Some(rows.to_vec());
            }
            Event::PollFailed {
                error,
                failures,
                retry_at,
            } => {
                let secs = self
                    .timings
                    .unscale(retry_at.saturating_sub(now))
                    .as_secs_f64();
                human::poll_failed(&self.caps, error, *failures, secs);
                self.said_something(now);
            }
            Event::Finished(f) => {
                for l in self.ci_log.update(f.rows, self.quiet, s) {
                    out_line(&l);
                }
                self.waiting = None;
                human::finished(f, &self.caps);
            }
            Event::WaitAborted => self.waiting = None,
            Event::Transfer {
                direction,
                what,
                done,
                total,
            } => {
                if self.upload.as_ref().is_none_or(|(w, _)| w != what) {
                    self.upload = Some((what.to_string(), Milestones::default()));
                }
                if let Some((_, m)) = self.upload.as_mut()
                    && let Some(pct) = m.crossed(*done, *total)
                {
                    out_line(&log_line(*direction, what, pct, *total));
                }
            }
            _ => {}
        }
    }

    fn next_tick(&self) -> Option<Duration> {
        self.waiting
            .map(|(_, last)| last + self.timings.still_waiting)
    }

    fn tick(&mut self, now: Duration) {
        let Some((started, last)) = self.waiting else {
            return;
        };
        if now >= last + self.timings.still_waiting {
            let elapsed = self.timings.unscale(now - started);
            out_line(&still_waiting_line(
                self.rows.as_deref(),
                elapsed,
                self.caps.out,
            ));
            self.said_something(now);
        }
    }
}
