//! The `--json` sink: stdout is kept for the one document the command prints at the end, so
//! this sink prints nothing there. Warnings, failed polls, download lines and the console
//! link of a submitted run go to stderr.

use super::event::Event;
use super::{Sink, human};
use crate::clock::Timings;
use crate::render::cloud;
use crate::term::{Caps, err_line, warn};
use std::time::Duration;

pub struct Json {
    caps: Caps,
    timings: Timings,
}

impl Json {
    pub fn new(caps: Caps, timings: Timings) -> Json {
        Json { caps, timings }
    }
}

impl Sink for Json {
    fn event(&mut self, ev: &Event<'_>, now: Duration) {
        match ev {
            Event::Warning(msg) => warn(msg, self.caps.err),
            Event::PollFailed {
                error,
                failures,
                retry_at,
            } => {
                let secs = self.timings.unscale(retry_at.saturating_sub(now));
                human::poll_failed(&self.caps, error, *failures, secs.as_secs_f64());
            }
            Event::Submitted(sub) => err_line(&cloud::submitted_line(sub, self.caps.err)),
            Event::Downloaded { line, spaced } => {
                if *spaced {
                    err_line("");
                }
                err_line(line);
            }
            _ => {}
        }
    }
}
