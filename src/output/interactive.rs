//! The terminal sink: blocks as lines, and during the wait one frame redrawn in place every
//! second (spinner, a row per test or the summary line, realtime state, countdown). Failed
//! polls show in the footer. The terminal size is read again before every redraw, so a
//! resized terminal gets a frame cut to its new width (and the old one erased whole).

use super::event::{Direction, Event};
use super::{Sink, human};
use crate::clock::Timings;
use crate::domain::results::ResultRow;
use crate::render::progress::{self, Frame, Next};
use crate::render::upload;
use crate::term::{Caps, Live, out_line};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct Interactive {
    quiet: bool,
    caps: Caps,
    timings: Timings,
    live: Option<Live>,
    rows: Option<Vec<ResultRow>>,
    /// Absolute time of the next fetch; `None` while one is in flight.
    next_at: Option<Duration>,
    failures: u32,
    spinner: usize,
    next_redraw: Duration,
    realtime: Option<Arc<AtomicBool>>,
    upload: Option<Transfer>,
    /// The rows' lines of the frame and the terminal size they were cut to: rendered again
    /// for a new snapshot or size, while each tick redraws the title and footer around them.
    body: Option<((usize, usize), Vec<String>)>,
}

/// The transfer whose progress line is on screen.
struct Transfer {
    what: String,
    started: Duration,
    drawn_at: Duration,
    live: Live,
}

/// Least time between two redraws of the progress line.
const UPLOAD_REDRAW: Duration = Duration::from_millis(100);

impl Interactive {
    pub fn new(quiet: bool, caps: Caps, timings: Timings) -> Interactive {
        Interactive {
            quiet,
            caps,
            timings,
            live: None,
            rows: None,
            next_at: None,
            failures: 0,
            spinner: 0,
            next_redraw: Duration::ZERO,
            realtime: None,
            upload: None,
            body: None,
        }
    }

    /// The progress line, redrawn in place at most every [`UPLOAD_REDRAW`]; at the end it
    /// gives way to a done line that stays.
    fn transfer(&mut self, dir: Direction, what: &str, sent: u64, total: u64, now: Duration) {
        if self.upload.as_ref().is_none_or(|u| u.what != what) {
            self.upload = None;
            self.upload = Some(Transfer {
                what: what.to_string(),
                started: now,
                drawn_at: now,
                live: Live::start(),
            });
        }
        let Some(u) = self.upload.as_mut() else {
            return;
        };
        let elapsed = now.saturating_sub(u.started);
        if sent >= total {
            self.upload = None;
            out_line(&upload::done_line(dir, what, total, elapsed, self.caps.out));
            return;
        }
        if sent > 0 && now.saturating_sub(u.drawn_at) < UPLOAD_REDRAW {
            return;
        }
        u.drawn_at = now;
        let columns = crate::term::size(1).map_or(self.caps.width, |(w, _)| w);
        let line = upload::progress_line(dir, what, sent, total, elapsed, self.caps.out);
        u.live.draw(&[line], columns);
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
        // The frame is cut to at least 20 columns; the erase counts rows at the real width.
        let columns = match crate::term::size(1) {
            Some((width, height)) => {
                self.caps.width = width.max(20);
                self.caps.height = height.max(5);
                width
            }
            None => self.caps.width,
        };
        let size = (self.caps.width, self.caps.height);
        if self.body.as_ref().is_none_or(|(cut_to, _)| *cut_to != size) {
            let body = progress::tty_body(frame.rows, self.quiet, self.caps.out, size.0, size.1);
            self.body = Some((size, body));
        }
        let body = self.body.as_ref().map_or(&[][..], |(_, lines)| lines);
        let lines = progress::frame_around(body, &frame, self.caps.out, self.caps.width);
        if let Some(live) = self.live.as_mut() {
            live.draw(&lines, columns);
        }
        self.next_redraw = now + self.timings.tick;
    }
}

impl Sink for Interactive {
    fn event(&mut self, ev: &Event<'_>, now: Duration) {
        if human::print(ev, &self.caps) {
            return;
        }
        match ev {
            Event::WaitStarted { realtime } => {
                self.realtime = realtime.clone();
                out_line(
                    &self
                        .caps
                        .out
                        .dim("You can safely close this terminal and the tests will continue"),
                );
                self.live = Some(Live::start());
                self.redraw(now);
            }
            Event::Fetching => {
                self.next_at = None;
                self.redraw(now);
            }
            Event::Polled { rows, next_at } => {
                self.failures = 0;
                self.next_at = Some(*next_at);
                self.rows = Some(rows.to_vec());
                self.body = None;
                self.redraw(now);
            }
            Event::PollFailed {
                failures, retry_at, ..
            } => {
                self.failures = *failures;
                self.next_at = Some(*retry_at);
                self.redraw(now);
            }
            Event::Finished(f) => {
                self.live = None;
                human::finished(f, &self.caps);
            }
            Event::WaitAborted => self.live = None,
            Event::Transfer {
                direction,
                what,
                done,
                total,
            } => self.transfer(*direction, what, *done, *total, now),
            _ => {}
        }
    }

    fn next_tick(&self) -> Option<Duration> {
        self.live.as_ref().map(|_| self.next_redraw)
    }

    fn tick(&mut self, now: Duration) {
        self.spinner += 1;
        self.redraw(now);
    }
}
