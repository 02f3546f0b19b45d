//! Everything the user sees goes through one [`Output`] handle.
//!
//! The output mode is decided once per command ([`Mode::pick`]): an interactive terminal
//! (a frame redrawn in place), a CI log or a pipe (append-only lines), or `--json` (stdout
//! carries exactly one JSON document; nothing else is printed there). Commands describe
//! what happened as [`Event`]s; the sink of the mode turns each into text by calling the
//! pure renderers in [`crate::render`] and writes it through [`crate::term`]. A new kind of
//! output (JSON Lines, say) is one new sink file.
//!
//! - [`event`]: the events.
//! - [`human`]: the text both human sinks print for the events outside the wait.
//! - [`interactive`], [`log`], [`json`]: one sink per mode.

pub mod event;
pub mod human;
pub mod interactive;
pub mod json;
pub mod log;

pub use event::Event;

use crate::clock::{RealClock, Timings};
use crate::exit::CliError;
use crate::render::Style;
use crate::term::Caps;
use serde_json::Value;
use std::cell::RefCell;
use std::time::Duration;

/// How output is shaped, decided once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// stdout is a terminal and no CI marker is set: redraw in place.
    Interactive,
    /// CI, or stdout is a pipe or a file: append-only lines.
    Log,
    /// `--json`: one document on stdout, warnings on stderr.
    Json,
}

impl Mode {
    pub fn pick(caps: &Caps, json: bool) -> Mode {
        if json {
            Mode::Json
        } else if caps.interactive {
            Mode::Interactive
        } else {
            Mode::Log
        }
    }
}

/// What a sink does with events. `now` is a reading of the wait's clock.
pub trait Sink {
    fn event(&mut self, ev: &Event<'_>, now: Duration);
    /// When the sink next wants [`Sink::tick`] (a redraw, a still-waiting line), if ever.
    fn next_tick(&self) -> Option<Duration> {
        None
    }
    fn tick(&mut self, _now: Duration) {}
}

/// The one output handle of a command.
pub struct Output {
    mode: Mode,
    quiet: bool,
    caps: Caps,
    clock: RealClock,
    sink: RefCell<Box<dyn Sink>>,
}

impl Output {
    pub fn new(mode: Mode, quiet: bool, caps: Caps, timings: Timings) -> Output {
        let sink: Box<dyn Sink> = match mode {
            Mode::Interactive => Box::new(interactive::Interactive::new(quiet, caps, timings)),
            Mode::Log => Box::new(log::Log::new(quiet, caps, timings)),
            Mode::Json => Box::new(json::Json::new(caps, timings)),
        };
        Output {
            mode,
            quiet,
            caps,
            clock: RealClock::new(),
            sink: RefCell::new(sink),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Human output (not `--json`).
    pub fn human(&self) -> bool {
        self.mode != Mode::Json
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    pub fn caps(&self) -> &Caps {
        &self.caps
    }

    /// The style of stdout.
    pub fn style(&self) -> Style {
        self.caps.out
    }

    /// The clock the wait runs on, so that event times and the sink's ticks agree.
    pub fn clock(&self) -> &RealClock {
        &self.clock
    }

    /// Hands an event to the sink.
    pub fn emit(&self, ev: Event<'_>) {
        use crate::clock::Clock;
        let now = self.clock.now();
        self.sink.borrow_mut().event(&ev, now);
    }

    /// The sink itself, for the wait loop (which drives its ticks).
    pub fn sink(&self) -> std::cell::RefMut<'_, Box<dyn Sink>> {
        self.sink.borrow_mut()
    }

    /// `⚠ <msg>` on stderr, in every mode.
    pub fn warn(&self, msg: &str) {
        self.emit(Event::Warning(msg));
    }

    /// The one JSON document of `--json`, on stdout.
    pub fn json(&self, doc: &Value) {
        crate::term::out_line(&crate::render::json::pretty(doc));
    }

    /// Asks a yes/no question on the terminal (the caller checked that one can be asked).
    pub fn confirm(&self, question: &str) -> Option<bool> {
        crate::term::prompt::confirm(question)
    }

    /// Asks for one of `items` on the terminal; `None` when no valid answer comes.
    pub fn choose(&self, title: &str, items: &[String]) -> Option<usize> {
        crate::term::prompt::choose(title, items)
    }

    /// The error that ends the command, in this mode's form.
    pub fn error(&self, e: &CliError) {
        report_error(e, self.mode == Mode::Json, &self.caps);
    }
}

/// `✗ Error: <message>` on stderr, or under `--json` the error document on stdout; secrets
/// redacted. A closed stdout prints nothing.
pub fn report_error(e: &CliError, json: bool, caps: &Caps) {
    if e.is_silent() {
        return;
    }
    let message = crate::debug::redact(&e.message);
    if json {
        let doc = crate::render::json::error_doc(&message, e.json.as_ref());
        crate::term::out_line(&crate::render::json::pretty(&doc));
    } else {
        crate::term::err_line(&format!("{} {message}", caps.err.red("✗ Error:")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(interactive: bool) -> Caps {
        Caps {
            stdout_tty: interactive,
            ci: !interactive,
            interactive,
            out: Style { color: false },
            err: Style { color: false },
            width: 80,
            height: 24,
            github_actions: false,
        }
    }

    #[test]
    fn the_mode_is_json_first_then_the_terminal() {
        assert_eq!(Mode::pick(&caps(true), true), Mode::Json);
        assert_eq!(Mode::pick(&caps(true), false), Mode::Interactive);
        assert_eq!(Mode::pick(&caps(false), false), Mode::Log);
    }
}
